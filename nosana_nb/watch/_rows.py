"""The recorder's rows: one per deployment status change or job state change.

A row is a plain dict so it can go straight into ``status_history_dataframe``, a JSON line or a
user callback::

    {"time": datetime (UTC), "type": "deployment", "deployment": id, "status": "RUNNING",
     "replicas": 2, "active_revision": 1, "source": "stream"}
    {"time": datetime (UTC), "type": "job", "deployment": id, "job": address,
     "state": "RUNNING", "node": address | None, "source": "snapshot"}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from nosana_nb.core.errors import RowFormatError as RowFormatError
from nosana_nb.core.service_clock import last_seen_now

Row = dict[str, Any]
Source = Literal["stream", "snapshot", "reconcile"]

SOURCES: tuple[str, ...] = ("stream", "snapshot", "reconcile")
ROW_TYPES: tuple[str, ...] = ("deployment", "job")
ACTIVE_JOB_STATES = frozenset({"QUEUED", "RUNNING"})
FINAL_JOB_STATES = frozenset({"COMPLETED", "STOPPED"})
JOB_STATE_RANK = {"QUEUED": 0, "RUNNING": 1, "COMPLETED": 2, "STOPPED": 2}
"""Job states only move forward; a finished job never runs again (docs/wire-contract.md §10.2)."""


def utc_now() -> datetime:
    """The service's time as last heard (the watcher passes its client's own clock); the wall
    clock only before any service answered this process."""
    return last_seen_now() or datetime.now(UTC)


def from_unix(seconds: float | None) -> datetime | None:
    """Unix seconds -> UTC datetime; 0 (the service's "not yet") and None -> None."""
    if seconds is None or seconds <= 0 or not math.isfinite(seconds):
        return None
    return datetime.fromtimestamp(seconds, UTC)


def wire_text(value: Any) -> str:
    """A status or state as its wire string (enum members by value, unknown values as sent)."""
    raw = getattr(value, "value", value)
    return str(raw)


def deployment_row(
    deployment: str,
    status: Any,
    *,
    replicas: Any,
    active_revision: Any,
    source: Source,
    received: datetime,
) -> Row:
    return {
        "time": received,
        "type": "deployment",
        "deployment": deployment,
        "status": wire_text(status),
        "replicas": replicas,
        "active_revision": active_revision,
        "source": source,
    }


def job_time(
    state: str, *, time_start: float | None, time_end: float | None, fallback: datetime
) -> datetime:
    """When a job entered ``state``: the service's own start/end time when it has one."""
    if state == "RUNNING":
        return from_unix(time_start) or fallback
    if state in FINAL_JOB_STATES:
        return from_unix(time_end) or fallback
    return fallback


def job_row(
    deployment: str,
    job: str,
    state: Any,
    *,
    node: str | None,
    time: datetime,
    source: Source,
) -> Row:
    return {
        "time": time,
        "type": "job",
        "deployment": deployment,
        "job": job,
        "state": wire_text(state),
        "node": node,
        "source": source,
    }


def row_to_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy: the time as ISO 8601 with its UTC offset."""
    out = dict(row)
    out["time"] = row["time"].isoformat()
    return out


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise RowFormatError(f"time {value!r} is not ISO 8601") from None
    else:
        raise RowFormatError(f"time must be an ISO 8601 string, got {type(value).__name__}")
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _require_text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value:
        raise RowFormatError(f"{key!r} must be a non-empty string")
    return value


def row_from_json(record: Any) -> Row:
    """Check a stored row and turn its time back into a UTC datetime."""
    if not isinstance(record, dict):
        raise RowFormatError(f"a row must be a JSON object, got {type(record).__name__}")
    kind = record.get("type")
    if kind not in ROW_TYPES:
        raise RowFormatError(f"type must be one of {ROW_TYPES}, got {kind!r}")
    _require_text(record, "deployment")
    if kind == "deployment":
        _require_text(record, "status")
    else:
        _require_text(record, "job")
        _require_text(record, "state")
    if record.get("source") not in SOURCES:
        raise RowFormatError(f"source must be one of {SOURCES}, got {record.get('source')!r}")
    row = dict(record)
    row["time"] = _parse_time(record.get("time"))
    return row
