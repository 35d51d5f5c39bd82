"""The fixed column schemas of every frame, and the helpers that create and check them.

A schema is an ordered mapping column -> dtype. Datetimes are tz-aware UTC, durations are
``timedelta64``, identifiers are the nullable ``string`` dtype, counts and base units are the
nullable ``Int64``, and statuses are ordered categoricals with a fixed category order, so a
frame looks the same with zero, one or a million rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

from nosana_nb.core import bulk as core_bulk
from nosana_nb.core.errors import ValidationError

DEPLOYMENT_STATUSES: tuple[str, ...] = (
    "DRAFT",
    "STARTING",
    "RUNNING",
    "STOPPING",
    "STOPPED",
    "INSUFFICIENT_FUNDS",
    "ERROR",
    "ARCHIVED",
)
JOB_STATES: tuple[str, ...] = ("QUEUED", "RUNNING", "COMPLETED", "STOPPED")
STRATEGIES: tuple[str, ...] = ("SIMPLE", "SIMPLE-EXTEND", "SCHEDULED", "INFINITE")
TASK_TYPES: tuple[str, ...] = ("LIST", "EXTEND", "STOP")
VAULT_TX_KINDS: tuple[str, ...] = ("topup", "escrow", "refund", "withdrawal", "fee", "other")
STATUS_SOURCES: tuple[str, ...] = ("stream", "derived")
LOG_STREAMS: tuple[str, ...] = ("stdin", "stdout", "stderr", "nodeerr")
LOG_LEVELS: tuple[str, ...] = ("info", "error")
BULK_ACTIONS: tuple[str, ...] = core_bulk.BULK_ACTIONS
BULK_OUTCOMES: tuple[str, ...] = core_bulk.BULK_OUTCOMES
ENDPOINT_STATES: tuple[str, ...] = ("READY", "BOOTING", "DOWN", "UNREACHABLE")
PROBE_FAILURES: tuple[str, ...] = ("timeout", "connect_error", "tls_error", "protocol_error")

DATETIME = pd.DatetimeTZDtype(unit="ns", tz="UTC")
DURATION = pd.api.types.pandas_dtype("timedelta64[ns]")
STRING = pd.StringDtype()
INT = pd.Int64Dtype()
FLOAT = pd.Float64Dtype()
BOOL = pd.BooleanDtype()
OBJECT = pd.api.types.pandas_dtype("object")


def ordered(categories: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(categories), ordered=True)


DEPLOYMENT_STATUS = ordered(DEPLOYMENT_STATUSES)
JOB_STATE = ordered(JOB_STATES)
STRATEGY = ordered(STRATEGIES)
TASK_TYPE = ordered(TASK_TYPES)
VAULT_TX_KIND = ordered(VAULT_TX_KINDS)
STATUS_SOURCE = ordered(STATUS_SOURCES)
LOG_STREAM = ordered(LOG_STREAMS)
LOG_LEVEL = ordered(LOG_LEVELS)
BULK_ACTION = ordered(BULK_ACTIONS)
BULK_OUTCOME = ordered(BULK_OUTCOMES)
ENDPOINT_STATE = ordered(ENDPOINT_STATES)
PROBE_FAILURE = ordered(PROBE_FAILURES)

Schema = Mapping[str, Any]


def _frozen(columns: dict[str, Any]) -> Schema:
    return MappingProxyType(columns)


SCHEMAS: Mapping[str, Schema] = MappingProxyType(
    {
        "deployments": _frozen(
            {
                "id": STRING,
                "name": STRING,
                "status": DEPLOYMENT_STATUS,
                "strategy": STRATEGY,
                "replicas": INT,
                "active_jobs": INT,
                "timeout": DURATION,
                "market": STRING,
                "vault": STRING,
                "owner": STRING,
                "active_revision": INT,
                "confidential": BOOL,
                "schedule": STRING,
                "rotation_time": DURATION,
                "endpoint_urls": STRING,
                "created_at": DATETIME,
                "updated_at": DATETIME,
                # countdowns (frames/_countdown.py), last so earlier positions never move
                "time_remaining": DURATION,
                "next_run_at": DATETIME,
            }
        ),
        "jobs": _frozen(
            {
                "job": STRING,
                "deployment": STRING,
                "market": STRING,
                "node": STRING,
                "revision": INT,
                "state": JOB_STATE,
                "created_at": DATETIME,
                "started_at": DATETIME,
                "ended_at": DATETIME,
                "ended_at_estimated": BOOL,
                "updated_at": DATETIME,
                "queue_wait": DURATION,
                "duration": DURATION,
                "tx": STRING,
                "time_remaining": DURATION,
            }
        ),
        "events": _frozen(
            {
                "deployment": STRING,
                "category": STRING,
                "type": STRING,
                "message": STRING,
                "tx": STRING,
                "is_error": BOOL,
                "created_at": DATETIME,
            }
        ),
        "tasks": _frozen(
            {
                "deployment": STRING,
                "task": TASK_TYPE,
                "job": STRING,
                "limit": INT,
                "active_revision": INT,
                "due_at": DATETIME,
                "created_at": DATETIME,
            }
        ),
        "revisions": _frozen(
            {
                "deployment": STRING,
                "revision": INT,
                "ipfs_definition_hash": STRING,
                "images": STRING,
                "op_count": INT,
                "job_definition": OBJECT,
                "created_at": DATETIME,
            }
        ),
        "markets": _frozen(
            {
                "address": STRING,
                "slug": STRING,
                "name": STRING,
                "type": STRING,
                "gpu_types": STRING,
                "lowest_vram": INT,
                "price_base_units_per_second": INT,
                "nos_per_hour": FLOAT,
                "network_fee_percentage": FLOAT,
                "usd_per_hour": FLOAT,
                "usd_per_hour_with_fee": FLOAT,
                "nodes": INT,
                "idle_nodes": INT,
            }
        ),
        "vault_balance": _frozen(
            {
                "time": DATETIME,
                "signature": STRING,
                "slot": INT,
                "kind": VAULT_TX_KIND,
                "failed": BOOL,
                "sol_before": INT,
                "sol_after": INT,
                "sol_delta": INT,
                "nos_before": INT,
                "nos_after": INT,
                "nos_delta": INT,
                "sol": FLOAT,
                "nos": FLOAT,
                "sol_change": FLOAT,
                "nos_change": FLOAT,
            }
        ),
        "cost": _frozen(
            {
                "deployment": STRING,
                "job": STRING,
                "market": STRING,
                "state": JOB_STATE,
                "started_at": DATETIME,
                "billed_until": DATETIME,
                "is_open": BOOL,
                "runtime": DURATION,
                "runtime_seconds": INT,
                "price_base_units_per_second": INT,
                "cost_base_units": INT,
                "fee_base_units": INT,
                "total_base_units": INT,
                "cost_nos": FLOAT,
                "total_nos": FLOAT,
                "usd": FLOAT,
                "usd_with_fee": FLOAT,
            }
        ),
        "deployment_costs": _frozen(
            {
                "deployment": STRING,
                "jobs": INT,
                "open_jobs": INT,
                "runtime": DURATION,
                "cost_base_units": INT,
                "fee_base_units": INT,
                "total_base_units": INT,
                "total_nos": FLOAT,
                "usd_with_fee": FLOAT,
                "first_start": DATETIME,
                "last_billed": DATETIME,
            }
        ),
        "logs": _frozen(
            {
                "deployment": STRING,
                "job": STRING,
                "revision": INT,
                "op": STRING,
                "stream": LOG_STREAM,
                "level": LOG_LEVEL,
                "timestamp": DATETIME,
                "text": STRING,
                "exit_code": INT,
            }
        ),
        "results": _frozen(
            {
                "deployment": STRING,
                "job": STRING,
                "op": STRING,
                "status": STRING,
                "exit_code": INT,
                "started_at": DATETIME,
                "ended_at": DATETIME,
                "duration": DURATION,
            }
        ),
        "status_history": _frozen(
            {
                "deployment": STRING,
                "status": DEPLOYMENT_STATUS,
                "start": DATETIME,
                "end": DATETIME,
                "duration": DURATION,
                "source": STATUS_SOURCE,
            }
        ),
        "bulk_preview": _frozen(
            {
                "deployment": STRING,
                "name": STRING,
                "vault": STRING,
                "status": DEPLOYMENT_STATUS,
                "strategy": STRATEGY,
                "market": STRING,
                "action": BULK_ACTION,
                "allowed": BOOL,
                "reason": STRING,
                "reason_type": STRING,
                "cost_change_per_hour": FLOAT,
                "sol_change": FLOAT,
                "nos_change": FLOAT,
            }
        ),
        "bulk_results": _frozen(
            {
                "deployment": STRING,
                "name": STRING,
                "vault": STRING,
                "action": BULK_ACTION,
                "outcome": BULK_OUTCOME,
                "ok": BOOL,
                "previous_status": DEPLOYMENT_STATUS,
                "new_status": DEPLOYMENT_STATUS,
                "error_type": STRING,
                "message": STRING,
                "signature": STRING,
            }
        ),
        "endpoint_probes": _frozen(
            {
                "deployment": STRING,
                "op": STRING,
                "port": STRING,
                "url": STRING,
                "state": ENDPOINT_STATE,
                "status": INT,
                "failure": PROBE_FAILURE,
                "ready": BOOL,
                "latency_ms": FLOAT,
                "probed_at": DATETIME,
                "detail": STRING,
            }
        ),
    }
)


def schema_of(name: str) -> Schema:
    """The ordered column -> dtype mapping of the frame called ``name`` (e.g. ``"jobs"``).

    Args:
        name: a schema's name (a key of ``SCHEMAS``).

    Returns:
        The schema.

    Raises:
        ValidationError: no schema has that name.
    """
    try:
        return SCHEMAS[name]
    except KeyError:
        known = ", ".join(SCHEMAS)
        raise ValidationError(f"unknown frame {name!r}; known: {known}", argument="name") from None


def empty_frame(name: str) -> pd.DataFrame:
    """A zero-row frame with exactly the columns and dtypes of ``name``.

    Args:
        name: a schema's name.

    Returns:
        The empty frame.
    """
    schema = schema_of(name)
    return pd.DataFrame({col: pd.Series([], dtype=dtype) for col, dtype in schema.items()})


def _dtype_matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, pd.DatetimeTZDtype):
        # pandas 3 may pick another unit (s, ms, us); kind and zone are what matter
        return isinstance(actual, pd.DatetimeTZDtype) and str(actual.tz) == str(expected.tz)
    if isinstance(expected, pd.CategoricalDtype):
        return (
            isinstance(actual, pd.CategoricalDtype)
            and bool(actual.ordered) == bool(expected.ordered)
            and list(actual.categories) == list(expected.categories)
        )
    if expected == DURATION:
        return getattr(actual, "kind", None) == "m"
    return bool(actual == expected)


def validate_schema(df: pd.DataFrame, name: str) -> None:
    """Check that ``df`` has the columns, order and dtypes of the schema ``name``.

    Args:
        df: the frame to check.
        name: a schema's name.

    Raises:
        ValidationError: a column missing, extra, out of order or of another dtype.
    """
    schema = schema_of(name)
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"expected a DataFrame, got {type(df).__name__}", argument="df")
    expected_columns = list(schema)
    actual_columns = [str(c) for c in df.columns]
    if actual_columns != expected_columns:
        raise ValidationError(
            f"{name} frame columns {actual_columns} differ from the schema {expected_columns}",
            argument="df",
        )
    wrong = [
        f"{col}: {df[col].dtype} (expected {dtype})"
        for col, dtype in schema.items()
        if not _dtype_matches(df[col].dtype, dtype)
    ]
    if wrong:
        raise ValidationError(f"{name} frame has wrong dtypes: {'; '.join(wrong)}", argument="df")
