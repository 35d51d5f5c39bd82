"""Frames of the deployment manager's objects: deployments, jobs, events, tasks, revisions, markets.

Each builder accepts wire-shaped dicts (docs/wire-contract.md §3 field names), pydantic models
(dumped by alias), a page/envelope, or a client (then it fetches). Records are read once into
column arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import _convert as cv
from nosana_nb.frames._countdown import next_runs, time_remaining
from nosana_nb.frames._fetch import (
    deployment_resource,
    fetch_children,
    fetch_deployments,
    fetch_markets,
)
from nosana_nb.frames.schema import (
    DATETIME,
    DEPLOYMENT_STATUSES,
    DURATION,
    JOB_STATES,
    STRATEGIES,
    TASK_TYPES,
    empty_frame,
    schema_of,
)

NO_NODE = "11111111111111111111111111111111"
NOS_BASE_UNITS_PER_NOS = 10**6
_JOB_STATE_NUMBERS = dict(enumerate(JOB_STATES))
_FINAL_JOB_STATES = ["COMPLETED", "STOPPED"]


def _records(source: Any, what: str, envelope: str, deployment: Any, method: str) -> list[Any]:
    if cv.is_client(source) or callable(getattr(source, method, None)):
        source = fetch_children(source, deployment, method)
    elif deployment is not None:
        raise ValidationError(
            "deployment= is only used when fetching through a client or Deployment",
            argument="deployment",
        )
    return cv.as_records(source, what=what, envelope=envelope)


def deployments_dataframe(source: Any, *, now: Any = None, jobs: Any = None) -> pd.DataFrame:
    """One row per deployment (docs/wire-contract.md §3.1).

    ``timeout``/``rotation_time`` become timedeltas. Countdowns on the service's clock (``now``:
    a datetime or a client; default the service heard from last, or ``source`` when it is a
    client): ``next_run_at`` is a SCHEDULED deployment's next cron firing; ``time_remaining``
    is the least time left among its running jobs, known when ``jobs`` (a jobs frame) is given.

    Args:
        source: a client (its deployments), handles, states, a pager or wire records.
        now: the service's now, a datetime or a client.
        jobs: a jobs frame, for ``time_remaining``.

    Returns:
        The ``deployments`` frame.
    """
    clock = now if now is not None or not cv.is_client(source) else source
    if cv.is_client(source):
        source = fetch_deployments(source)
    recs = cv.as_records(source, what="deployments", envelope="deployments")
    if not recs:
        return empty_frame("deployments")
    what = "deployments"
    c = cv.Columns(
        recs,
        [
            "id",
            "name",
            "status",
            "strategy",
            "replicas",
            "active_jobs",
            "timeout",
            "market",
            "vault",
            "owner",
            "active_revision",
            "confidential",
            "schedule",
            "rotation_time",
            "endpoints",
            "created_at",
            "updated_at",
        ],
    )
    endpoints = c.get("endpoints")
    unknown = pd.Series(pd.NaT, index=range(len(recs)), dtype=DURATION)
    frame = cv.frame(
        {
            "id": cv.strings(c.get("id"), what, "id", required=True),
            "name": cv.strings(c.get("name"), what, "name", blank_is_na=False),
            "status": cv.categories(c.get("status"), DEPLOYMENT_STATUSES, what, "status"),
            "strategy": cv.categories(c.get("strategy"), STRATEGIES, what, "strategy"),
            "replicas": cv.integers(c.get("replicas"), what, "replicas"),
            "active_jobs": cv.integers(c.get("active_jobs"), what, "active_jobs"),
            "timeout": cv.minutes_to_durations(c.get("timeout"), what, "timeout"),
            "market": cv.strings(c.get("market"), what, "market"),
            "vault": cv.strings(c.get("vault"), what, "vault"),
            "owner": cv.strings(c.get("owner"), what, "owner"),
            "active_revision": cv.integers(c.get("active_revision"), what, "active_revision"),
            "confidential": cv.booleans(c.get("confidential"), what, "confidential"),
            "schedule": cv.strings(c.get("schedule"), what, "schedule"),
            "rotation_time": cv.minutes_to_durations(c.get("rotation_time"), what, "rotation_time"),
            "endpoint_urls": cv.strings([_endpoint_urls(e) for e in endpoints], what, "endpoints"),
            "created_at": cv.iso_datetimes(c.get("created_at"), what, "created_at"),
            "updated_at": cv.iso_datetimes(c.get("updated_at"), what, "updated_at"),
            "time_remaining": unknown,
            "next_run_at": pd.Series(pd.NaT, index=range(len(recs)), dtype=DATETIME),
        },
        schema_of("deployments"),
    )
    return _with_deployment_countdowns(frame, _service_now(clock), jobs)


def _service_now(now: Any) -> pd.Timestamp:
    from nosana_nb.frames._cost import utc_now  # _cost builds on this module

    return utc_now(now)


def _with_deployment_countdowns(frame: pd.DataFrame, now: pd.Timestamp, jobs: Any) -> pd.DataFrame:
    frame["next_run_at"] = next_runs(frame["strategy"], frame["status"], frame["schedule"], now)
    if jobs is not None:
        if not isinstance(jobs, pd.DataFrame) or "time_remaining" not in jobs.columns:
            raise ValidationError("jobs must be a jobs frame (jobs_dataframe)", argument="jobs")
        least = jobs.groupby("deployment", observed=True)["time_remaining"].min()
        frame["time_remaining"] = frame["id"].map(least).astype(DURATION)
    return frame


def _is_missing(value: Any) -> bool:
    # a key absent from a record reads as None (or NaN from the row-major extractor)
    return value is None or (isinstance(value, float) and value != value)


def _endpoint_urls(endpoints: Any) -> str | None:
    if _is_missing(endpoints) or endpoints == []:
        return None
    if not isinstance(endpoints, list):
        raise ValidationError("deployments[].endpoints must be a list", argument="deployments")
    urls = [str(e["url"]) for e in endpoints if isinstance(e, dict) and e.get("url")]
    return " ".join(dict.fromkeys(urls)) or None


def jobs_dataframe(
    source: Any, *, deployment: Any = None, now: Any = None, timeout: Any = None
) -> pd.DataFrame:
    """One row per job (docs/wire-contract.md §3.3; job details §3.4 and stream frames too).

    The jobs list omits ``time_end``; for a finished job without one, ``ended_at`` falls back to
    ``updated_at`` (the write that finished it) and ``ended_at_estimated`` says so.
    ``time_remaining``: a RUNNING job's time left before its timeout on the service's clock
    (``now``: a datetime or a client; default the service heard from last, or ``source`` when it
    is a client). The jobs list carries no timeout: it is the deployment's (``timeout``: a
    timedelta, or a mapping deployment id -> timedelta; taken from the Deployment when fetching
    through one). SIMPLE-EXTEND extensions move the real deadline later.

    Args:
        source: a client, a Deployment handle, a pager or a list of wire records/models.
        deployment: the deployment id to set on records that do not carry one.
        now: the service's now, a datetime or a client.
        timeout: the deployment's job timeout, or a mapping deployment id -> timeout.

    Returns:
        The ``jobs`` frame.
    """
    clock = now if now is not None or not cv.is_client(source) else source
    if cv.is_client(source) and deployment is not None:
        # the Deployment itself: its jobs and the timeout the countdown needs
        source, deployment = deployment_resource(source, deployment), None
    timeouts = _job_timeouts(source, deployment, timeout)
    recs = _records(source, "jobs", "jobs", deployment, "get_jobs")
    if not recs:
        return empty_frame("jobs")
    what = "jobs"
    # timeEnd is read with the rest: the jobs list never has time_end, so it is always needed
    c = cv.Columns(
        recs,
        [
            "job",
            "deployment",
            "market",
            "node",
            "revision",
            "state",
            "created_at",
            "updated_at",
            "time_start",
            "time_end",
            "timeEnd",
            "tx",
        ],
    )
    # converted in the order that decides which error a record with several bad fields gets
    node = cv.strings(c.get("node"), what, "node", missing_marker=NO_NODE)
    state = cv.categories(c.get("state"), JOB_STATES, what, "state", numeric=_JOB_STATE_NUMBERS)
    created = cv.iso_datetimes(c.get("created_at"), what, "created_at")
    if created.isna().any():
        listed = cv.unix_datetimes(c.get("listedAt"), what, "listedAt")
        created = created.where(created.notna(), listed)
    updated = cv.iso_datetimes(c.get("updated_at"), what, "updated_at")
    started = cv.unix_datetimes(c.get("time_start", "timeStart"), what, "time_start")
    ended_raw = cv.unix_datetimes(c.get("time_end", "timeEnd"), what, "time_end")
    job = cv.strings(c.get("job"), what, "job", required=True)
    deployment = cv.strings(c.get("deployment"), what, "deployment")
    market = cv.strings(c.get("market"), what, "market")
    revision = cv.integers(c.get("revision"), what, "revision")
    tx = cv.strings(c.get("tx"), what, "tx")
    del c  # every column is read: the row table goes before the derived columns are made
    final = np.asarray(state.isin(_FINAL_JOB_STATES))
    estimated = final & np.asarray(ended_raw.isna()) & np.asarray(updated.notna())
    ended = ended_raw.where(~estimated, updated)
    frame = cv.frame(
        {
            "job": job,
            "deployment": deployment,
            "market": market,
            "node": node,
            "revision": revision,
            "state": state,
            "created_at": created,
            "started_at": started,
            "ended_at": ended,
            "ended_at_estimated": estimated,
            "updated_at": updated,
            "queue_wait": cv.elapsed(created, started, what, "queue_wait"),
            "duration": cv.elapsed(started, ended, what, "duration"),
            "tx": tx,
            "time_remaining": cv.unknown_durations(len(recs)),
        },
        schema_of("jobs"),
    )
    if timeouts is not None:
        per_job = (
            frame["deployment"].astype(object).map(timeouts)
            if isinstance(timeouts, dict)
            else pd.Series(timeouts, index=frame.index)
        )
        frame["time_remaining"] = time_remaining(
            frame["state"], frame["started_at"], per_job.astype(DURATION), _service_now(clock)
        )
    return frame


def _job_timeouts(source: Any, deployment: Any, timeout: Any) -> dict[str, Any] | Any | None:
    """One timedelta for every job, a deployment id -> timedelta map, or None (unknown)."""
    if timeout is not None:
        if isinstance(timeout, timedelta):
            return timeout
        if isinstance(timeout, Mapping) and all(isinstance(v, timedelta) for v in timeout.values()):
            return {str(k): v for k, v in timeout.items()}
        raise ValidationError(
            "timeout must be a timedelta or a mapping deployment id -> timedelta",
            argument="timeout",
        )
    for holder in (source, deployment):
        known = getattr(holder, "timeout", None)
        if isinstance(known, timedelta):
            return known
    return None


def events_dataframe(source: Any, *, deployment: Any = None) -> pd.DataFrame:
    """One row per event (docs/wire-contract.md §3.5); stream ``event`` frames are accepted too.

    Args:
        source: a client, a Deployment handle, a pager or a list of wire records/models.
        deployment: the deployment id to set on records that do not carry one.

    Returns:
        The ``events`` frame.
    """
    recs = _records(source, "events", "events", deployment, "get_events")
    if not recs:
        return empty_frame("events")
    what = "events"
    c = cv.Columns(
        recs,
        [
            "type",
            "event",
            "deploymentId",
            "deployment_id",
            "deployment",
            "category",
            "message",
            "tx",
            "created_at",
        ],
    )
    kind = cv.strings(c.get("type"), what, "type", required=True)
    if len(kind) and (kind == "event").any():
        # stream frames carry the event type in "event" and "type" == "event"
        stream_kind = cv.strings(c.get("event"), what, "event")
        kind = kind.where(~((kind == "event") & stream_kind.notna()), stream_kind)
    return cv.frame(
        {
            "deployment": cv.strings(
                c.get("deploymentId", "deployment_id", "deployment"), what, "deploymentId"
            ),
            "category": cv.strings(c.get("category"), what, "category"),
            "type": kind,
            "message": cv.strings(c.get("message"), what, "message", blank_is_na=False),
            "tx": cv.strings(c.get("tx"), what, "tx"),
            "is_error": pd.Series(kind).str.endswith("_ERROR").fillna(False),
            "created_at": cv.iso_datetimes(c.get("created_at"), what, "created_at"),
        },
        schema_of("events"),
    )


def tasks_dataframe(source: Any, *, deployment: Any = None) -> pd.DataFrame:
    """Outstanding tasks (docs/wire-contract.md §3.6); ``""``/``0`` placeholders become NA.

    Args:
        source: a client, a Deployment handle, a pager or a list of wire records/models.
        deployment: the deployment id to set on records that do not carry one.

    Returns:
        The ``tasks`` frame.
    """
    recs = _records(source, "tasks", "tasks", deployment, "get_tasks")
    if not recs:
        return empty_frame("tasks")
    what = "tasks"
    c = cv.Columns(
        recs,
        [
            "deploymentId",
            "deployment_id",
            "deployment",
            "task",
            "job",
            "limit",
            "active_revision",
            "due_at",
            "created_at",
        ],
    )

    def zero_is_na(field: str) -> Any:
        values = cv.integers(c.get(field), what, field)
        return values.where(values != 0, pd.NA)

    return cv.frame(
        {
            "deployment": cv.strings(
                c.get("deploymentId", "deployment_id", "deployment"), what, "deploymentId"
            ),
            "task": cv.categories(c.get("task"), TASK_TYPES, what, "task"),
            "job": cv.strings(c.get("job"), what, "job"),
            "limit": zero_is_na("limit"),
            "active_revision": zero_is_na("active_revision"),
            "due_at": cv.iso_datetimes(c.get("due_at"), what, "due_at"),
            "created_at": cv.iso_datetimes(c.get("created_at"), what, "created_at"),
        },
        schema_of("tasks"),
    )


def _ops(definition: Any) -> list[Any]:
    ops = definition.get("ops") if isinstance(definition, dict) else None
    return ops if isinstance(ops, list) else []


def _images(definition: Any) -> str | None:
    images = [
        op["args"]["image"]
        for op in _ops(definition)
        if isinstance(op, dict)
        and isinstance(op.get("args"), dict)
        and isinstance(op["args"].get("image"), str)
    ]
    return ", ".join(dict.fromkeys(images)) or None


def revisions_dataframe(source: Any, *, deployment: Any = None) -> pd.DataFrame:
    """One row per revision (docs/wire-contract.md §3.7) with the container images it runs.

    Args:
        source: a client, a Deployment handle, a pager or a list of wire records/models.
        deployment: the deployment id to set on records that do not carry one.

    Returns:
        The ``revisions`` frame.
    """
    recs = _records(source, "revisions", "revisions", deployment, "get_revisions")
    if not recs:
        return empty_frame("revisions")
    what = "revisions"
    c = cv.Columns(
        recs, ["deployment", "revision", "ipfs_definition_hash", "job_definition", "created_at"]
    )
    definitions = c.get("job_definition")
    return cv.frame(
        {
            "deployment": cv.strings(c.get("deployment"), what, "deployment"),
            "revision": cv.integers(c.get("revision"), what, "revision", required=True),
            "ipfs_definition_hash": cv.strings(
                c.get("ipfs_definition_hash"), what, "ipfs_definition_hash"
            ),
            "images": cv.strings([_images(d) for d in definitions], what, "job_definition"),
            "op_count": pd.array([len(_ops(d)) for d in definitions], dtype="Int64"),
            "job_definition": pd.Series(list(definitions), dtype=object),
            "created_at": cv.iso_datetimes(c.get("created_at"), what, "created_at"),
        },
        schema_of("revisions"),
    )


def price_base_units(job_price: Any, nos_per_second: Any, what: str, index: int) -> int | None:
    """The on-chain price (NOS base units per second), exact, from either market field."""
    if job_price is not None:
        value: Any = job_price
    elif nos_per_second is not None:
        try:
            value = Decimal(str(nos_per_second)) * NOS_BASE_UNITS_PER_NOS
        except InvalidOperation:
            raise ValidationError(
                f"{what}[{index}].nos_job_price_per_second is not a number: {nos_per_second!r}",
                argument=what,
            ) from None
    else:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationError(f"{what}[{index}] has a non-numeric price {value!r}", argument=what)
    exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not exact.is_finite() or exact < 0 or exact != exact.to_integral_value():
        raise ValidationError(
            f"{what}[{index}] price {value!r} is not a whole number of NOS base units per second",
            argument=what,
        )
    return int(exact)


def _node_counts(values: Any) -> list[Any]:
    """``nodes`` is the list of a market's nodes; the frame counts them (a count passes)."""
    return [len(v) if isinstance(v, list | tuple) else v for v in values]


def markets_dataframe(source: Any) -> pd.DataFrame:
    """One row per market with base and fee-included prices (docs/wire-contract.md §14.3).

    Args:
        source: a client (its markets API), a list of Markets or of wire records.

    Returns:
        The ``markets`` frame.
    """
    if cv.is_client(source):
        source = fetch_markets(source)
    recs = cv.as_records(source, what="markets", envelope="markets")
    if not recs:
        return empty_frame("markets")
    what = "markets"
    c = cv.Columns(
        recs,
        [
            "address",
            "slug",
            "name",
            "type",
            "gpu_types",
            "lowest_vram",
            "network_fee_percentage",
            "usd_reward_per_hour",
            "nodes",
            "idle_nodes",
        ],
    )
    prices = [
        price_base_units(r.get("job_price"), r.get("nos_job_price_per_second"), what, i)
        for i, r in enumerate(recs)
    ]
    price = pd.Series(prices, dtype="Int64")
    fee = cv.floats(c.get("network_fee_percentage"), what, "network_fee_percentage")
    usd = cv.floats(c.get("usd_reward_per_hour"), what, "usd_reward_per_hour")
    gpu_types = [
        ", ".join(str(g) for g in v) if isinstance(v, list) and v else None
        for v in c.get("gpu_types")
    ]
    return cv.frame(
        {
            "address": cv.strings(c.get("address"), what, "address", required=True),
            "slug": cv.strings(c.get("slug"), what, "slug"),
            "name": cv.strings(c.get("name"), what, "name"),
            "type": cv.strings(c.get("type"), what, "type"),
            "gpu_types": cv.strings(gpu_types, what, "gpu_types"),
            "lowest_vram": cv.integers(c.get("lowest_vram"), what, "lowest_vram"),
            "price_base_units_per_second": price,
            "nos_per_hour": price.astype("Float64") * 3600 / NOS_BASE_UNITS_PER_NOS,
            "network_fee_percentage": fee,
            "usd_per_hour": usd,
            "usd_per_hour_with_fee": usd * (1 + fee.fillna(0) / 100),
            "nodes": cv.integers(_node_counts(c.get("nodes")), what, "nodes"),
            "idle_nodes": cv.integers(c.get("idle_nodes"), what, "idle_nodes"),
        },
        schema_of("markets"),
    )
