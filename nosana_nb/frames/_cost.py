"""What each job cost, from its runtime and its market's price (docs/wire-contract.md §14.3).

runtime = min(end or now, start + timeout) − start, in whole seconds; cost = price (NOS base
units per second) × runtime, exact; USD = usd_reward_per_hour × hours.
The network fee is what the chain takes on each deposit: at listing the deposit (price ×
timeout) × network_fee_percentage / 100, rounded down to a base unit, never refunded — so a job
that never ran still cost its fee (as ``core.markets.estimate_cost`` counts it). Extensions are
not in the jobs list; a SIMPLE-EXTEND deployment's worker extends each running job by its
timeout T, first at T − clamp(T/10, 60 s, 300 s) after the start and then every T
(docs/wire-contract.md §8.2), so the extensions a job had follow from its start and end: each
raises the runtime cap by T and costs the listing's fee again on its own deposit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.service_clock import last_seen_now
from nosana_nb.core.validation import check_duration
from nosana_nb.frames import _convert as cv
from nosana_nb.frames._wire import deployments_dataframe, jobs_dataframe, markets_dataframe
from nosana_nb.frames.schema import empty_frame, schema_of, validate_schema

NOS_BASE_UNITS_PER_NOS = 10**6
_NS_PER_S = 1_000_000_000
_EXTEND_BUFFER_MIN_S = 60.0
_EXTEND_BUFFER_MAX_S = 300.0
"""SIMPLE-EXTEND extends a job this long (10 % of its timeout, clamped) before it times out."""


def as_frame(source: Any, name: str) -> pd.DataFrame:
    """``source`` if it is already the ``name`` frame, else the frame built from it.

    Args:
        source: a frame, or anything the ``name`` frame's builder accepts.
        name: the schema's name, e.g. ``"jobs"``.

    Returns:
        The ``name`` frame.
    """
    if isinstance(source, pd.DataFrame):
        validate_schema(source, name)
        return source
    builders = {
        "jobs": jobs_dataframe,
        "markets": markets_dataframe,
        "deployments": deployments_dataframe,
    }
    return builders[name](source)


ServiceNow = datetime | pd.Timestamp | NosanaClient | AsyncNosanaClient | None
"""A "now": a datetime, a client (its service's clock), or None (the service heard from last)."""


def utc_now(now: ServiceNow = None) -> pd.Timestamp:
    """``now`` as a UTC Timestamp (naive values are read as UTC), on the service's clock.

    The rule (DESIGN rule 10, ``core.service_clock``): a datetime is taken as it is; a client
    gives its service's time (``client.now()``); None gives the time of the service this process
    heard from last - the sandbox's simulated clock or the real server's - and only when no
    service has answered yet the wall clock, as there is nothing to ask.

    Args:
        now: a datetime, a client, or None.

    Returns:
        The time as a tz-aware UTC Timestamp.

    Raises:
        ValidationError: ``now`` is of another kind.
    """
    if isinstance(now, NosanaClient):
        return pd.Timestamp(now.now())
    if isinstance(now, AsyncNosanaClient):  # cannot await here: its last reading
        now = now.service_clock.now() or last_seen_now()
    elif now is None:
        now = last_seen_now()
    if now is None:
        return pd.Timestamp.now(tz="UTC")  # no service heard from: the only clock there is
    if not isinstance(now, datetime):
        raise ValidationError(
            f"now must be a datetime or a client, got {type(now).__name__}", argument="now"
        )
    stamp = pd.Timestamp(now)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _fee_fraction(percentage: Any) -> tuple[int, int]:
    """network_fee_percentage / 100 as an exact (numerator, denominator); NA counts as 0."""
    if percentage is None or pd.isna(percentage):
        return 0, 1
    try:
        exact = Decimal(str(percentage)) / 100
    except InvalidOperation:
        raise ValidationError(
            f"bad network_fee_percentage {percentage!r}", argument="markets"
        ) from None
    if not exact.is_finite() or exact < 0:
        raise ValidationError(f"bad network_fee_percentage {percentage!r}", argument="markets")
    numerator, denominator = exact.as_integer_ratio()
    return numerator, denominator


def cost_dataframe(
    jobs: Any,
    markets: Any,
    *,
    deployments: Any = None,
    timeout: float | timedelta | None = None,
    now: ServiceNow = None,
) -> pd.DataFrame:
    """Per-job runtime and cost in NOS base units (exact), NOS and USD, with and without fee.

    ``jobs``/``markets``/``deployments`` are frames from this module or anything their builders
    accept. The timeout cap comes from ``timeout`` (seconds or timedelta) or else from each job's
    deployment (``deployments``); without either, runtime is not capped and the fee (charged on
    the listing deposit, price × timeout) is unknown (NA). With ``deployments``, the jobs of a
    SIMPLE-EXTEND deployment also count the extensions its worker made (each one raises the cap
    by the timeout and pays the fee again on its deposit). Open jobs are billed until ``now`` (a
    datetime or a client; default: the service's clock, see :func:`utc_now`). Jobs never started
    cost 0 plus their listing fee. Any index is accepted; the result has a fresh 0..n-1 index.

    Args:
        jobs: Jobs frame (``jobs_dataframe``) or the job items it is built from.
        markets: Markets frame or market items: the price and fee of each job's market.
        deployments: Deployments frame or items: each job's timeout and strategy.
        timeout: One timeout for every job (seconds or timedelta), instead of ``deployments``'.
        now: The time open jobs are billed until.

    Returns:
        The ``cost`` frame: one row per job.

    Raises:
        ValidationError: A bad timeout, ``now`` or market fee, or a frame of the wrong schema.
    """
    # every Series below is built on 0..n-1: a caller's index (a slice, a filter) must not
    # misalign them
    jobs_df = as_frame(jobs, "jobs").reset_index(drop=True)
    markets_df = as_frame(markets, "markets")
    if jobs_df.empty:
        return empty_frame("cost")
    now_ts = utc_now(now)
    start = jobs_df["started_at"]
    started = start.notna().to_numpy()
    end = jobs_df["ended_at"]
    is_open = started & end.isna().to_numpy()
    billed_until = end.where(end.notna(), now_ts).where(started)
    listed_cap = _timeouts(jobs_df, deployments, timeout)
    extensions = _extensions(jobs_df, deployments, listed_cap, billed_until, is_open)
    deposits = extensions + 1  # the listing's and one per extension, each of price × timeout
    cap = listed_cap * deposits
    capped = start + cap
    billed_until = billed_until.where(~(capped < billed_until).fillna(False).to_numpy(), capped)
    billed_until = billed_until.where(~(billed_until < start).fillna(False).to_numpy(), start)
    elapsed_ns = (billed_until - start).to_numpy(dtype="timedelta64[ns]").astype(np.int64)
    runtime_s = np.where(started, elapsed_ns // _NS_PER_S, 0)

    prices = markets_df.drop_duplicates("address").set_index("address")
    market = jobs_df["market"]
    price = pd.Series(market.map(prices["price_base_units_per_second"]), dtype="Int64")
    fractions = {a: _fee_fraction(p) for a, p in prices["network_fee_percentage"].items()}
    fee_num = market.map({a: f[0] for a, f in fractions.items()}).fillna(0).astype(np.int64)
    fee_den = market.map({a: f[1] for a, f in fractions.items()}).fillna(1).astype(np.int64)
    fee_pct = pd.Series(market.map(prices["network_fee_percentage"]), dtype="Float64")
    usd_per_hour = pd.Series(market.map(prices["usd_per_hour"]), dtype="Float64")

    known = price.notna().to_numpy()
    price_np = price.fillna(0).to_numpy(dtype=np.int64)
    cost_np = price_np * runtime_s
    listed_s = listed_cap.dt.total_seconds().to_numpy()
    fee_known = known & ~np.isnan(listed_s)
    deposit_np = price_np * np.where(fee_known, listed_s, 0).astype(np.int64)
    fee_np = (deposit_np * fee_num.to_numpy()) // fee_den.to_numpy() * deposits
    cost = pd.Series(cost_np, dtype="Int64").where(known)
    fee = pd.Series(fee_np, dtype="Int64").where(fee_known)
    total = cost + fee
    usd = usd_per_hour * pd.Series(runtime_s, dtype="Float64") / 3600
    return cv.frame(
        {
            "deployment": jobs_df["deployment"],
            "job": jobs_df["job"],
            "market": market,
            "state": jobs_df["state"],
            "started_at": start,
            "billed_until": billed_until,
            "is_open": is_open,
            "runtime": pd.to_timedelta(runtime_s, unit="s"),
            "runtime_seconds": runtime_s,
            "price_base_units_per_second": price,
            "cost_base_units": cost,
            "fee_base_units": fee,
            "total_base_units": total,
            "cost_nos": cost.astype("Float64") / NOS_BASE_UNITS_PER_NOS,
            "total_nos": total.astype("Float64") / NOS_BASE_UNITS_PER_NOS,
            "usd": usd,
            "usd_with_fee": usd * (1 + fee_pct.fillna(0) / 100),
        },
        schema_of("cost"),
    )


def _extensions(
    jobs_df: pd.DataFrame,
    deployments: Any,
    listed_cap: pd.Series,
    billed_until: pd.Series,
    is_open: np.ndarray,
) -> np.ndarray:
    """How many times the worker extended each job (only SIMPLE-EXTEND jobs are extended).

    Extension k (k ≥ 1) runs at start + k·T − buffer while the job still runs: an ended job had
    every one due before its end (at the same instant the node's end wins), an open one every
    one due by now. Needs the deployments (their strategy); without them it is 0.
    """
    none = np.zeros(len(jobs_df), dtype=np.int64)
    if deployments is None:
        return none
    deployments_df = as_frame(deployments, "deployments")
    strategy = deployments_df.drop_duplicates("id").set_index("id")["strategy"].astype(object)
    extending = (jobs_df["deployment"].astype(object).map(strategy) == "SIMPLE-EXTEND").to_numpy(
        dtype=bool, na_value=False
    )
    period_s = listed_cap.dt.total_seconds().to_numpy()
    elapsed_s = (billed_until - jobs_df["started_at"]).dt.total_seconds().to_numpy()
    usable = extending & ~np.isnan(period_s) & ~np.isnan(elapsed_s) & (period_s > 0)
    if not usable.any():
        return none
    period = np.where(usable, period_s, 1.0)
    buffer = np.clip(period / 10, _EXTEND_BUFFER_MIN_S, _EXTEND_BUFFER_MAX_S)
    reach = (np.where(usable, elapsed_s, 0.0) + buffer) / period
    counted = np.where(is_open, np.floor(reach), np.ceil(reach) - 1)
    return np.where(usable, np.maximum(counted, 0), 0).astype(np.int64)


def _timeouts(jobs_df: pd.DataFrame, deployments: Any, timeout: Any) -> pd.Series:
    """Each job's timeout as a timedelta Series (NaT = no cap)."""
    if timeout is not None:
        cap = check_duration(timeout, argument="timeout")
        return pd.Series([cap] * len(jobs_df), dtype="timedelta64[ns]")
    if deployments is None:
        return pd.Series(pd.NaT, index=jobs_df.index, dtype="timedelta64[ns]")
    deployments_df = as_frame(deployments, "deployments")
    by_id = deployments_df.drop_duplicates("id").set_index("id")["timeout"]
    return pd.Series(jobs_df["deployment"].map(by_id), dtype="timedelta64[ns]")


def deployment_cost_totals(cost: pd.DataFrame) -> pd.DataFrame:
    """Per-deployment sums of a ``cost_dataframe`` (jobs, runtime, base units, NOS, USD).

    Args:
        cost: a ``cost`` frame.

    Returns:
        The ``deployment_costs`` frame.
    """
    validate_schema(cost, "cost")
    if cost.empty:
        return empty_frame("deployment_costs")
    grouped = cost.groupby("deployment", sort=True, dropna=False, observed=True)
    totals = grouped.agg(
        jobs=("job", "size"),
        open_jobs=("is_open", "sum"),
        runtime=("runtime", "sum"),
        cost_base_units=("cost_base_units", lambda s: s.sum(min_count=1)),
        fee_base_units=("fee_base_units", lambda s: s.sum(min_count=1)),
        total_base_units=("total_base_units", lambda s: s.sum(min_count=1)),
        usd_with_fee=("usd_with_fee", lambda s: s.sum(min_count=1)),
        first_start=("started_at", "min"),
        last_billed=("billed_until", "max"),
    ).reset_index()
    totals["total_nos"] = totals["total_base_units"].astype("Float64") / NOS_BASE_UNITS_PER_NOS
    return cv.frame(
        {name: totals[name] for name in schema_of("deployment_costs")},
        schema_of("deployment_costs"),
    )
