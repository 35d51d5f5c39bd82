"""Pure, unit-tested tidy frames that the figure builders draw; no plotly in here."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import as_frame, events_dataframe, utc_now
from nosana_nb.frames.schema import DEPLOYMENT_STATUSES, validate_schema

NOS_BASE_UNITS_PER_NOS = 10**6


def short_id(value: Any) -> str:
    """``AbCd…WxYz`` for long addresses, the value itself otherwise; "—" for missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "—"
    text = str(value)
    # addresses are long and space-free; labels such as "other (3 deployments)" stay whole
    return f"{text[:4]}…{text[-4:]}" if len(text) > 12 and " " not in text else text


def assign_slots(deployment: np.ndarray, start_ns: np.ndarray, end_ns: np.ndarray) -> np.ndarray:
    """Greedy replica slots: jobs in start order take the lowest slot free at their start.

    Inputs must already be sorted by (deployment, start). A slot is free again at its job's end.
    """
    slots = np.zeros(len(start_ns), dtype=np.int64)
    current: Any = object()
    busy: list[tuple[int, int]] = []  # (end, slot) heap
    free: list[int] = []  # heap of released slots
    next_slot = 0
    for index in range(len(start_ns)):
        if deployment[index] != current:
            current, busy, free, next_slot = deployment[index], [], [], 0
        start = start_ns[index]
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        if free:
            slot = heapq.heappop(free)
        else:
            slot, next_slot = next_slot, next_slot + 1
        slots[index] = slot
        heapq.heappush(busy, (int(end_ns[index]), slot))
    return slots


def job_timeline_frame(jobs: Any, *, now: datetime | None = None) -> pd.DataFrame:
    """One bar per job: ``row`` (deployment · slot), ``start``, ``end``, ``state``, ``open``.

    A job's bar starts when it started running, or when it was listed if it never ran, and
    ends at its end or, while open, at ``now``.
    """
    df = as_frame(jobs, "jobs")
    now_ts = utc_now(now)
    start = df["started_at"].fillna(df["created_at"])
    keep = start.notna().to_numpy(dtype=bool)
    df, start = df[keep], start[keep]
    is_open = df["ended_at"].isna()
    end = df["ended_at"].fillna(now_ts)
    end = end.where(end >= start, start)
    tidy = pd.DataFrame(
        {
            "deployment": df["deployment"].fillna("—"),
            "job": df["job"],
            "state": df["state"],
            "start": start,
            "end": end,
            "open": is_open.astype("boolean"),
            "revision": df["revision"],
            "node": df["node"],
        }
    )
    tidy = tidy.sort_values(["deployment", "start", "job"], kind="stable").reset_index(drop=True)
    tidy["slot"] = assign_slots(
        tidy["deployment"].to_numpy(dtype=object),
        tidy["start"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
        tidy["end"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
    )
    first_start = tidy.groupby("deployment", sort=False)["start"].transform("min")
    tidy = tidy.assign(_first=first_start).sort_values(
        ["_first", "deployment", "slot", "start"], kind="stable"
    )
    labels = {d: short_id(d) for d in tidy["deployment"].unique()}
    tidy["row"] = [
        f"{labels[d]} · slot {s + 1}" for d, s in zip(tidy["deployment"], tidy["slot"], strict=True)
    ]
    return tidy.drop(columns="_first").reset_index(drop=True)


def event_markers_frame(events: Any, timeline: pd.DataFrame) -> pd.DataFrame:
    """Events placed on the first row of their deployment in ``timeline``."""
    df = events if isinstance(events, pd.DataFrame) else events_dataframe(events)
    validate_schema(df, "events")
    first_rows = timeline.drop_duplicates("deployment").set_index("deployment")["row"]
    rows = df["deployment"].map(first_rows)
    keep = (rows.notna() & df["created_at"].notna()).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "row": rows[keep],
            "time": df["created_at"][keep],
            "type": df["type"][keep],
            "message": df["message"][keep],
            "is_error": df["is_error"][keep].fillna(False),
        }
    ).reset_index(drop=True)


def status_segments_frame(history: pd.DataFrame, *, now: datetime | None = None) -> pd.DataFrame:
    """Status history with open segments closed at ``now`` and a row label per deployment."""
    validate_schema(history, "status_history")
    now_ts = utc_now(now)
    end = history["end"].fillna(now_ts)
    start = history["start"]
    return pd.DataFrame(
        {
            "row": [short_id(d) for d in history["deployment"]],
            "deployment": history["deployment"],
            "status": history["status"],
            "start": start,
            "end": end.where(end >= start, start),
            "open": history["end"].isna(),
        }
    )


def cumulative_cost_frame(cost: pd.DataFrame) -> pd.DataFrame:
    """Cumulative spend (NOS and USD, fee included) per deployment at every rate change.

    Each job accrues linearly from ``started_at`` to ``billed_until``; the sweep adds up the
    running rate between consecutive change points, so the last value equals the total.
    """
    validate_schema(cost, "cost")
    billed = cost[(cost["runtime_seconds"] > 0).fillna(False).to_numpy(dtype=bool)]
    if billed.empty:
        return pd.DataFrame(
            {
                "deployment": pd.Series([], dtype="string"),
                "time": pd.Series([], dtype="datetime64[ns, UTC]"),
                "spend_nos": pd.Series([], dtype="float64"),
                "spend_usd": pd.Series([], dtype="float64"),
            }
        )
    seconds = billed["runtime_seconds"].astype("float64").to_numpy()
    nos_rate = billed["total_nos"].astype("float64").fillna(0).to_numpy() / seconds
    usd_rate = billed["usd_with_fee"].astype("float64").fillna(0).to_numpy() / seconds
    deployment = billed["deployment"].fillna("—").to_numpy(dtype=object)
    changes = pd.DataFrame(
        {
            "deployment": np.concatenate([deployment, deployment]),
            "time": pd.concat([billed["started_at"], billed["billed_until"]], ignore_index=True),
            "nos_rate": np.concatenate([nos_rate, -nos_rate]),
            "usd_rate": np.concatenate([usd_rate, -usd_rate]),
        }
    ).sort_values(["deployment", "time"], kind="stable")
    changes = changes.groupby(["deployment", "time"], sort=False, as_index=False).sum()
    grouped = changes.groupby("deployment", sort=False)
    rate_before_nos = grouped["nos_rate"].cumsum() - changes["nos_rate"]
    rate_before_usd = grouped["usd_rate"].cumsum() - changes["usd_rate"]
    elapsed = grouped["time"].diff().dt.total_seconds().fillna(0)
    changes["spend_nos"] = (rate_before_nos * elapsed).groupby(changes["deployment"]).cumsum()
    changes["spend_usd"] = (rate_before_usd * elapsed).groupby(changes["deployment"]).cumsum()
    result = changes[["deployment", "time", "spend_nos", "spend_usd"]].reset_index(drop=True)
    result["deployment"] = result["deployment"].astype("string")
    return result


@dataclass(frozen=True)
class Runway:
    """Burn rate over a recent window and the time until the NOS balance reaches zero."""

    nos_balance: float
    burn_nos_per_day: float
    runway: timedelta | None
    empty_at: pd.Timestamp | None
    as_of: pd.Timestamp


def vault_runway(
    balance: pd.DataFrame, *, now: datetime | None = None, window: timedelta = timedelta(days=7)
) -> Runway | None:
    """Runway at the current burn: NOS spent on jobs (escrow, fees, net of refunds) per day."""
    validate_schema(balance, "vault_balance")
    if not isinstance(window, timedelta) or window <= timedelta(0):
        raise ValidationError("window must be a positive timedelta", argument="window")
    timed = balance[balance["time"].notna().to_numpy(dtype=bool)]
    if timed.empty:
        return None
    as_of = max(utc_now(now), timed["time"].max())
    recent = timed[(timed["time"] > as_of - window).to_numpy(dtype=bool)]
    spending = recent["kind"].isin(["escrow", "refund", "fee", "other"]).to_numpy(dtype=bool)
    net = int(recent["nos_delta"][spending].fillna(0).sum())
    burn_per_day = max(0.0, -net / NOS_BASE_UNITS_PER_NOS / (window / timedelta(days=1)))
    nos_balance = float(timed["nos"].iloc[-1]) if pd.notna(timed["nos"].iloc[-1]) else 0.0
    if burn_per_day <= 0:
        return Runway(nos_balance, 0.0, None, None, as_of)
    runway = timedelta(days=nos_balance / burn_per_day)
    return Runway(nos_balance, burn_per_day, runway, as_of + runway, as_of)


def status_counts_frame(deployments: Any) -> pd.DataFrame:
    """How many deployments are in each status, every status listed in the fixed order."""
    df = as_frame(deployments, "deployments")
    counts = df["status"].value_counts().reindex(list(DEPLOYMENT_STATUSES), fill_value=0)
    return pd.DataFrame(
        {"status": list(DEPLOYMENT_STATUSES), "count": counts.to_numpy(dtype=np.int64)}
    )


def active_jobs_frame(jobs: Any, *, now: datetime | None = None) -> pd.DataFrame:
    """Number of running jobs across the fleet after every start and end (a step series)."""
    df = as_frame(jobs, "jobs")
    started = df[df["started_at"].notna().to_numpy(dtype=bool)]
    if started.empty:
        return pd.DataFrame(
            {
                "time": pd.Series([], dtype="datetime64[ns, UTC]"),
                "active": pd.Series([], dtype="int64"),
            }
        )
    ends = started["ended_at"].fillna(utc_now(now))
    changes = pd.DataFrame(
        {
            "time": pd.concat([started["started_at"], ends], ignore_index=True),
            "delta": np.concatenate([np.ones(len(started)), -np.ones(len(started))]).astype(
                np.int64
            ),
        }
    )
    per_time = changes.groupby("time", sort=True)["delta"].sum()
    return pd.DataFrame(
        {"time": per_time.index, "active": per_time.cumsum().to_numpy(dtype=np.int64)}
    )
