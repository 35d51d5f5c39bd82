"""A job's results as its node uploaded them (the official types' ``JobResults``): per-op state,
status, exit code, start/end and log lines. Pure parsing; the fetching is in ``_async/``.

Where results appear (docs/wire-contract.md §3.4, §5.25): the job detail's ``jobResult`` holds
the node's upload, else what the service fetched from IPFS, else null. A service that answers
an IPFS hash there instead of the document is followed through the network's gateway
(``NetworkConfig.ipfs_gateway``) by ``Deployment.get_job_results``.

Times: ``startTime``/``endTime`` are unix milliseconds (a node's ``Date.now()``); a value small
enough to be seconds is read as seconds, so either survives. Log ``timestamp`` is ISO 8601.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

LOG_STREAMS = ("stdin", "stdout", "stderr", "nodeerr")
"""The ``type`` of a log line in the official types."""
ERROR_STREAMS = frozenset({"stderr", "nodeerr"})

_MS_THRESHOLD = 100_000_000_000  # unix seconds reach this in the year 5138; ms passed it in 1973
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def _instant(value: Any, *, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be a unix time number or null, got {value!r}")
    if value <= 0:
        return None
    seconds = value / 1000 if value >= _MS_THRESHOLD else float(value)
    return datetime.fromtimestamp(seconds, UTC)


def _timestamp(value: Any) -> datetime | None:
    """An ISO 8601 stamp (``Z`` or an offset; nanoseconds cut to microseconds), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = _FRACTION.sub(r"\1", value.strip().replace("Z", "+00:00"), count=1)
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _optional_int(value: Any, *, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{field} must be an integer or null, got {value!r}")
    return int(value)


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class LogLine:
    """One line an op wrote: ``stream`` is stdin/stdout/stderr/nodeerr."""

    stream: str
    text: str
    timestamp: datetime | None

    @property
    def is_error(self) -> bool:
        return self.stream in ERROR_STREAMS


@dataclass(frozen=True)
class OpResult:
    """One op of the job's flow: its state when the node uploaded the results."""

    op: str | None
    group: str | None
    status: str | None
    exit_code: int | None
    started_at: datetime | None
    ended_at: datetime | None
    logs: tuple[LogLine, ...]
    error: str | None = None

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass(frozen=True)
class JobResults:
    """What the node of a job uploaded when the job ended."""

    status: str
    started_at: datetime | None
    ended_at: datetime | None
    ops: tuple[OpResult, ...]
    errors: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return self.status == "failed" or any(op.exit_code not in (None, 0) for op in self.ops)

    @property
    def logs(self) -> tuple[LogLine, ...]:
        return tuple(line for op in self.ops for line in op.logs)


def _parse_log(raw: Any) -> LogLine:
    if not isinstance(raw, Mapping):
        raise ValueError(f"a log line must be an object, got {type(raw).__name__}")
    stream = raw.get("type")
    if not isinstance(stream, str):
        raise ValueError("a log line needs a string 'type'")
    return LogLine(
        stream=stream, text=str(raw.get("log") or ""), timestamp=_timestamp(raw.get("timestamp"))
    )


def _parse_op(raw: Any) -> OpResult:
    if not isinstance(raw, Mapping):
        raise ValueError(f"an op state must be an object, got {type(raw).__name__}")
    logs = raw.get("logs") or []
    if not isinstance(logs, Sequence) or isinstance(logs, str):
        raise ValueError("an op state's 'logs' must be a list")
    error = raw.get("error")
    return OpResult(
        op=_optional_text(raw.get("operationId")),
        group=_optional_text(raw.get("group")),
        status=_optional_text(raw.get("status")),
        exit_code=_optional_int(raw.get("exitCode"), field="exitCode"),
        started_at=_instant(raw.get("startTime"), field="startTime"),
        ended_at=_instant(raw.get("endTime"), field="endTime"),
        logs=tuple(_parse_log(line) for line in logs),
        error=str(error.get("message")) if isinstance(error, Mapping) else None,
    )


def parse_job_results(data: Any) -> JobResults:
    """A ``JobResults`` document -> :class:`JobResults`; ValueError for another shape."""
    if not isinstance(data, Mapping):
        raise ValueError(f"job results must be a JSON object, got {type(data).__name__}")
    op_states = data.get("opStates")
    if not isinstance(op_states, Sequence) or isinstance(op_states, str):
        raise ValueError("job results need an 'opStates' list")
    errors = data.get("errors") or []
    return JobResults(
        status=str(data.get("status") or ""),
        started_at=_instant(data.get("startTime"), field="startTime"),
        ended_at=_instant(data.get("endTime"), field="endTime"),
        ops=tuple(_parse_op(op) for op in op_states),
        errors=tuple(str(e) for e in errors) if isinstance(errors, Sequence) else (),
    )
