"""Pure, unit-tested tidy frames that the figure builders draw; no plotly in here."""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import as_frame, events_dataframe, short_id, short_id_labels, utc_now
from nosana_nb.frames.schema import DEPLOYMENT_STATUSES, validate_schema

NOS_BASE_UNITS_PER_NOS = 10**6
_ADDRESS = re.compile(r"[0-9A-Za-z]{32,88}")  # an id in an event message (see short_id)
ACTIVE_STATUSES = frozenset({"STARTING", "RUNNING"})
"""Deployment statuses in which the deployment manager keeps listing and extending jobs."""

ROW_HEIGHT_PX = 32
"""Height of each of the first ``ROOMY_ROWS`` timeline rows."""
DENSE_ROW_HEIGHT_PX = 28
"""Height of every further row: never less, or bars and their labels collide."""
ROOMY_ROWS = 20
MIN_PLOT_HEIGHT_PX = 240
MAX_PLOT_HEIGHT_PX = 16_000
"""Browsers refuse WebGL canvases much taller than this; a taller timeline should be split."""


def plot_area_height(rows: int) -> int:
    """Pixels for the plot area of a chart with ``rows`` category rows (timelines, Gantts).

    Args:
        rows: how many category rows.

    Returns:
        The height in pixels (at least ``MIN_PLOT_HEIGHT_PX``).

    Raises:
        ValidationError: ``rows`` is not an int >= 0.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ValidationError("rows must be a non-negative integer", argument="rows")
    rows_px = ROW_HEIGHT_PX * min(rows, ROOMY_ROWS) + DENSE_ROW_HEIGHT_PX * max(
        0, rows - ROOMY_ROWS
    )
    return min(MAX_PLOT_HEIGHT_PX, max(MIN_PLOT_HEIGHT_PX, rows_px))


def format_duration(value: Any) -> str:
    """``2 d 4 h``, ``3 h 20 min``, ``12 min 5 s``, ``45 s``, ``0.3 s``; "—" when missing.

    Args:
        value: a timedelta, Timedelta or seconds.

    Returns:
        The text.
    """
    if value is None or value is pd.NaT or (not isinstance(value, timedelta) and pd.isna(value)):
        return "—"
    seconds = pd.Timedelta(value).total_seconds()
    if seconds < 0:
        return "-" + format_duration(timedelta(seconds=-seconds))
    if seconds < 10 and seconds != int(seconds):
        return f"{seconds:.1f} s"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    first = next((i for i, (amount, _) in enumerate(units) if amount), len(units) - 1)
    shown = [f"{amount} {unit}" for amount, unit in units[first : first + 2] if amount]
    return " ".join(shown) or "0 s"


def format_time(value: Any) -> str:
    """A UTC timestamp as ``2026-12-05 07:05:30 UTC`` (hover text); "—" when missing.

    Args:
        value: a datetime or Timestamp.

    Returns:
        The text.
    """
    if value is None or pd.isna(value):
        return "—"
    return f"{pd.Timestamp(value).tz_convert('UTC'):%Y-%m-%d %H:%M:%S} UTC"


def history_range(
    starts: pd.Series, ends: pd.Series, *, now: pd.Timestamp | None = None
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The x-range of recorded history: first start to last end (or ``now``), padded 2 %.

    Projections never widen it: a chart draws them inside this range or as an annotation.

    Args:
        starts: segment starts.
        ends: segment ends (NaT for open ones).
        now: the end of open segments.

    Returns:
        The (first, last) timestamps of the x-axis.

    Raises:
        ValidationError: no timestamps at all.
    """
    values = pd.concat([starts, ends], ignore_index=True).dropna()
    if values.empty:
        raise ValidationError("no timestamps to draw", argument="frame")
    first, last = values.min(), values.max()
    if now is not None:
        last = max(last, now)
    pad = max((last - first) * 0.02, pd.Timedelta(seconds=30))
    return first - pad, last + pad


def assign_slots(deployment: np.ndarray, start_ns: np.ndarray, end_ns: np.ndarray) -> np.ndarray:
    """Greedy replica slots: jobs in start order take the lowest slot free at their start.

    Inputs must already be sorted by (deployment, start). A slot is free again at its job's end.

    Args:
        deployment: each job's deployment.
        start_ns: each job's start, ns since the epoch.
        end_ns: each job's end, ns since the epoch.

    Returns:
        Each job's slot (0 is the first).
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
    """One row per job: ``row`` (deployment · slot), ``listed_at``, ``start``, ``end``,
    ``state``, ``open``.

    A job holds its replica slot from its listing: ``start`` is when it started running (its
    listing if it never ran), ``end`` its end or, while open, ``now``. Slots are assigned in
    listing order, the lowest free slot first.

    Args:
        jobs: the jobs frame (or what builds it).
        now: the end of open jobs (default: the service's clock).

    Returns:
        The tidy timeline.
    """
    df = as_frame(jobs, "jobs")
    now_ts = utc_now(now)
    start = df["started_at"].fillna(df["created_at"])
    keep = start.notna().to_numpy(dtype=bool)
    df, start = df[keep], start[keep]
    listed = df["created_at"].where(df["created_at"] <= start, start).fillna(start)
    is_open = df["ended_at"].isna()
    end = df["ended_at"].fillna(now_ts)
    end = end.where(end >= start, start)
    tidy = pd.DataFrame(
        {
            "deployment": df["deployment"].fillna("—"),
            "job": df["job"],
            "state": df["state"],
            "listed_at": listed,
            "start": start,
            "end": end,
            "open": is_open.astype("boolean"),
            "revision": df["revision"],
            "node": df["node"],
        }
    )
    tidy = tidy.sort_values(["deployment", "listed_at", "job"], kind="stable")
    tidy = tidy.reset_index(drop=True)
    tidy["slot"] = assign_slots(
        tidy["deployment"].to_numpy(dtype=object),
        tidy["listed_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
        tidy["end"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
    )
    first_listing = tidy.groupby("deployment", sort=False)["listed_at"].transform("min")
    tidy = tidy.assign(_first=first_listing).sort_values(
        ["_first", "deployment", "slot", "listed_at"], kind="stable"
    )
    labels = short_id_labels(tidy["deployment"])
    labels.setdefault("—", "—")
    tidy["row"] = [
        f"{labels[d]} · slot {s + 1}" for d, s in zip(tidy["deployment"], tidy["slot"], strict=True)
    ]
    return tidy.drop(columns="_first").reset_index(drop=True)


def _times_text(values: pd.Series) -> pd.Series:
    """``format_time`` for a whole column at once (the timelines format thousands of rows)."""
    text: pd.Series = values.dt.tz_convert("UTC").dt.strftime("%Y-%m-%d %H:%M:%S UTC")
    return text.astype(object).where(values.notna(), "—")


def _durations_text(durations: pd.Series, is_open: np.ndarray) -> list[str]:
    return [
        format_duration(d) + (" so far" if o else "")
        for d, o in zip(durations, is_open, strict=True)
    ]


def job_phases_frame(timeline: pd.DataFrame, *, min_wait: timedelta = timedelta(0)) -> pd.DataFrame:
    """The segments a job timeline draws: each job's wait in the queue, then its run.

    ``phase`` is ``QUEUED`` for the wait (listing to start) and the job's state for the run;
    ``label`` (the short job id) is set on the run only; ``hover`` says what, when and how
    long. Waits shorter than ``min_wait`` are left out (the chart passes what is below a
    pixel at its scale: a wait nobody can see or point at only weighs the figure down).

    Args:
        timeline: a :func:`job_timeline_frame`.
        min_wait: shorter waits are left out.

    Returns:
        One row per segment.
    """
    wait = timeline["start"] - timeline["listed_at"]
    waited = (wait > max(min_wait, timedelta(0))).to_numpy(dtype=bool)
    waits = timeline[waited].assign(
        phase="QUEUED",
        start=timeline["listed_at"][waited],
        end=timeline["start"][waited],
        open=False,
        label="",
        what="waited in the queue",
        tick=False,  # a brief wait is not worth a mark on every row
    )
    runs = timeline.assign(
        phase=timeline["state"].astype(object),
        label=[short_id(j) for j in timeline["job"]],
        what=[
            "listed, waiting for a node" if str(state) == "QUEUED" else f"{state} job"
            for state in timeline["state"]
        ],
        tick=True,
    )
    phases = pd.concat([waits, runs], ignore_index=True)
    phases["phase"] = phases["phase"].astype(object)
    is_open = phases["open"].fillna(False).astype(bool).to_numpy()
    labels = pd.Series([short_id(j) for j in phases["job"]], dtype=object)
    nodes = pd.Series([short_id(n) for n in phases["node"]], dtype=object)
    ends = _times_text(phases["end"]).where(~is_open, "now")
    durations = pd.Series(_durations_text(phases["end"] - phases["start"], is_open), dtype=object)
    revisions = phases["revision"].astype("string").fillna("—").astype(object)
    when = _times_text(phases["start"]) + " → " + ends + " (" + durations + ")"
    phases["hover"] = (
        "<b>" + phases["phase"] + "</b> · job " + labels + ": " + phases["what"]
        + "<br>" + when + "<br>revision " + revisions + " · node " + nodes
    )  # fmt: skip
    # thousands of segments (WebGL) carry hover text on both ends: keep it to what and when
    phases["hover_brief"] = "<b>" + phases["phase"] + "</b> " + labels + "<br>" + when
    return phases


def event_markers_frame(events: Any, timeline: pd.DataFrame) -> pd.DataFrame:
    """Events placed on the row of the job they name, else on their deployment's first row.

    The service names the job in the message ("Successfully listed job - <address>"), so a
    listing or a stop lands on that job's bar rather than piling up on one row.

    Args:
        events: the events frame (or what builds it).
        timeline: a :func:`job_timeline_frame`.

    Returns:
        One row per placed event: row, time, type, message, is_error.
    """
    df = events if isinstance(events, pd.DataFrame) else events_dataframe(events)
    validate_schema(df, "events")
    first_rows = timeline.drop_duplicates("deployment").set_index("deployment")["row"]
    rows = df["deployment"].map(first_rows).astype(object)
    job_rows = dict(zip(timeline["job"].astype(object), timeline["row"], strict=True))
    for position, message in enumerate(df["message"].fillna("").astype(str).tolist()):
        named = [job_rows[word] for word in _ADDRESS.findall(message) if word in job_rows]
        if named:
            rows.iloc[position] = named[0]
    keep = (rows.notna() & df["created_at"].notna()).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "row": rows[keep].astype(object),
            "time": df["created_at"][keep],
            "type": df["type"][keep],
            "message": df["message"][keep],
            "is_error": df["is_error"][keep].fillna(False),
        }
    ).reset_index(drop=True)


def status_segments_frame(history: pd.DataFrame, *, now: datetime | None = None) -> pd.DataFrame:
    """Every segment of the status history, open ones closed at ``now``, with hover texts.

    Segments of zero length (changes within one instant) are kept: the deployment did go
    through that status, and the chart marks it.

    Args:
        history: a ``status_history`` frame.
        now: the end of open segments (default: the service's clock).

    Returns:
        One row per segment, with hover texts.
    """
    validate_schema(history, "status_history")
    now_ts = utc_now(now)
    start = history["start"].reset_index(drop=True)
    end = history["end"].fillna(now_ts).reset_index(drop=True)
    end = end.where(end >= start, start)
    is_open = history["end"].isna().to_numpy(dtype=bool)
    labels = short_id_labels(history["deployment"])
    rows = pd.Series([labels.get(d, "—") for d in history["deployment"]], dtype=object)
    status = history["status"].astype(object).reset_index(drop=True)
    durations = pd.Series(_durations_text(end - start, is_open), dtype=object)
    ends = _times_text(end).where(~is_open, "now (current status)")
    segments = pd.DataFrame(
        {
            "row": rows,
            "deployment": history["deployment"].reset_index(drop=True),
            "status": history["status"].reset_index(drop=True),
            "start": start,
            "end": end,
            "open": is_open,
            "duration": end - start,
            "duration_text": durations,
            "hover": "<b>" + status + "</b> · deployment " + rows
            + "<br>" + _times_text(start) + " → " + ends + "<br>" + durations,
        }
    )  # fmt: skip
    segments["hover_brief"] = segments["hover"]
    return segments


def cumulative_cost_frame(cost: pd.DataFrame) -> pd.DataFrame:
    """Cumulative spend (NOS and USD, fee included) per deployment at every rate change.

    Each job accrues linearly from ``started_at`` to ``billed_until``; the sweep adds up the
    running rate between consecutive change points, so the last value equals the total.

    Args:
        cost: a ``cost`` frame.

    Returns:
        Columns deployment, time, spend_nos, spend_usd.
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
    """Burn rate over a recent window and the time until the NOS balance reaches zero.

    ``runway`` and ``empty_at`` are None when nothing will keep spending; ``note`` says why.
    """

    nos_balance: float
    burn_nos_per_day: float
    runway: timedelta | None
    empty_at: pd.Timestamp | None
    as_of: pd.Timestamp
    note: str = ""


def _spending_deployments(deployments: Any) -> tuple[int, int]:
    """(deployments given, deployments in a status that keeps spending)."""
    frame = as_frame(deployments, "deployments")
    active = frame["status"].astype(object).isin(ACTIVE_STATUSES).to_numpy(dtype=bool)
    return len(frame), int(active.sum())


def vault_runway(
    balance: pd.DataFrame,
    *,
    deployments: Any = None,
    now: datetime | None = None,
    window: timedelta = timedelta(days=7),
) -> Runway | None:
    """Runway at the current burn: NOS spent on jobs (escrow, fees, net of refunds) per day.

    ``deployments`` (the deployments paid from this vault: a deployments frame, records or
    Deployment objects) tells whether anything is still spending; when none of them is
    STARTING or RUNNING the past burn does not continue and there is no runway. Without
    them the recent burn is assumed to go on. None when the history has no timestamps.

    Args:
        balance: a ``vault_balance`` frame.
        deployments: the deployments this vault pays for.
        now: the service's now (default: its clock).
        window: the burn is measured over this much recent history.

    Returns:
        The runway (balance, burn per day, when it runs out, a note), or None.

    Raises:
        ValidationError: ``window`` is not a positive timedelta.
    """
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
    if nos_balance <= 0:  # nothing left to run out of: a duration of 0 s would mislead
        return Runway(0.0, burn_per_day, None, None, as_of, "no runway: the vault holds no NOS")
    if deployments is not None:
        given, active = _spending_deployments(deployments)
        if active == 0:
            stopped = "the deployment is not running" if given == 1 else "no deployment runs"
            return Runway(nos_balance, burn_per_day, None, None, as_of, f"no runway: {stopped}")
    if burn_per_day <= 0:
        return Runway(nos_balance, 0.0, None, None, as_of, "no runway: no recent spending")
    runway = timedelta(days=nos_balance / burn_per_day)
    return Runway(nos_balance, burn_per_day, runway, as_of + runway, as_of)


def status_counts_frame(deployments: Any) -> pd.DataFrame:
    """How many deployments are in each status, every status listed in the fixed order.

    Args:
        deployments: the deployments frame (or what builds it).

    Returns:
        Columns status and count.
    """
    df = as_frame(deployments, "deployments")
    counts = df["status"].value_counts().reindex(list(DEPLOYMENT_STATUSES), fill_value=0)
    return pd.DataFrame(
        {"status": list(DEPLOYMENT_STATUSES), "count": counts.to_numpy(dtype=np.int64)}
    )


def active_jobs_frame(jobs: Any, *, now: datetime | None = None) -> pd.DataFrame:
    """Number of running jobs across the fleet after every start and end (a step series).

    Args:
        jobs: the jobs frame (or what builds it).
        now: the end of open jobs (default: the service's clock).

    Returns:
        Columns time and running.
    """
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
