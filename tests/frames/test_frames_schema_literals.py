"""Every frame's columns and dtypes, written out: a changed dtype or moved column must fail.

``test_frames_schema.py`` checks that frames follow ``nosana_nb.frames.SCHEMAS``; this file pins
``SCHEMAS`` itself, so turning ``replicas`` from Int64 into Float64, or swapping two columns,
fails here even though every frame still agrees with the (changed) schema.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from nosana_nb.frames import SCHEMAS, empty_frame

DEPLOYMENT_STATUS = (
    "category[DRAFT, STARTING, RUNNING, STOPPING, STOPPED, INSUFFICIENT_FUNDS, ERROR, ARCHIVED;"
    " ordered]"
)
STRATEGY = "category[SIMPLE, SIMPLE-EXTEND, SCHEDULED, INFINITE; ordered]"
JOB_STATE = "category[QUEUED, RUNNING, COMPLETED, STOPPED; ordered]"
TASK_TYPE = "category[LIST, EXTEND, STOP; ordered]"
VAULT_TX_KIND = "category[topup, escrow, refund, withdrawal, fee, other; ordered]"
STATUS_SOURCE = "category[stream, derived; ordered]"
BULK_ACTION = (
    "category[start, stop, archive, delete, scale, set_timeout, switch_revision, topup,"
    " withdraw; ordered]"
)

EXPECTED: dict[str, tuple[tuple[str, str], ...]] = {
    "deployments": (
        ("id", "string"),
        ("name", "string"),
        ("status", DEPLOYMENT_STATUS),
        ("strategy", STRATEGY),
        ("replicas", "Int64"),
        ("active_jobs", "Int64"),
        ("timeout", "timedelta64[ns]"),
        ("market", "string"),
        ("vault", "string"),
        ("owner", "string"),
        ("active_revision", "Int64"),
        ("confidential", "boolean"),
        ("schedule", "string"),
        ("rotation_time", "timedelta64[ns]"),
        ("endpoint_urls", "string"),
        ("created_at", "datetime64[ns, UTC]"),
        ("updated_at", "datetime64[ns, UTC]"),
        ("time_remaining", "timedelta64[ns]"),
        ("next_run_at", "datetime64[ns, UTC]"),
    ),
    "jobs": (
        ("job", "string"),
        ("deployment", "string"),
        ("market", "string"),
        ("node", "string"),
        ("revision", "Int64"),
        ("state", JOB_STATE),
        ("created_at", "datetime64[ns, UTC]"),
        ("started_at", "datetime64[ns, UTC]"),
        ("ended_at", "datetime64[ns, UTC]"),
        ("ended_at_estimated", "boolean"),
        ("updated_at", "datetime64[ns, UTC]"),
        ("queue_wait", "timedelta64[ns]"),
        ("duration", "timedelta64[ns]"),
        ("tx", "string"),
        ("time_remaining", "timedelta64[ns]"),
    ),
    "events": (
        ("deployment", "string"),
        ("category", "string"),
        ("type", "string"),
        ("message", "string"),
        ("tx", "string"),
        ("is_error", "boolean"),
        ("created_at", "datetime64[ns, UTC]"),
    ),
    "tasks": (
        ("deployment", "string"),
        ("task", TASK_TYPE),
        ("job", "string"),
        ("limit", "Int64"),
        ("active_revision", "Int64"),
        ("due_at", "datetime64[ns, UTC]"),
        ("created_at", "datetime64[ns, UTC]"),
    ),
    "revisions": (
        ("deployment", "string"),
        ("revision", "Int64"),
        ("ipfs_definition_hash", "string"),
        ("images", "string"),
        ("op_count", "Int64"),
        ("job_definition", "object"),
        ("created_at", "datetime64[ns, UTC]"),
    ),
    "markets": (
        ("address", "string"),
        ("slug", "string"),
        ("name", "string"),
        ("type", "string"),
        ("gpu_types", "string"),
        ("lowest_vram", "Int64"),
        ("price_base_units_per_second", "Int64"),
        ("nos_per_hour", "Float64"),
        ("network_fee_percentage", "Float64"),
        ("usd_per_hour", "Float64"),
        ("usd_per_hour_with_fee", "Float64"),
        ("nodes", "Int64"),
        ("idle_nodes", "Int64"),
    ),
    "vault_balance": (
        ("time", "datetime64[ns, UTC]"),
        ("signature", "string"),
        ("slot", "Int64"),
        ("kind", VAULT_TX_KIND),
        ("failed", "boolean"),
        ("sol_before", "Int64"),
        ("sol_after", "Int64"),
        ("sol_delta", "Int64"),
        ("nos_before", "Int64"),
        ("nos_after", "Int64"),
        ("nos_delta", "Int64"),
        ("sol", "Float64"),
        ("nos", "Float64"),
        ("sol_change", "Float64"),
        ("nos_change", "Float64"),
    ),
    "cost": (
        ("deployment", "string"),
        ("job", "string"),
        ("market", "string"),
        ("state", JOB_STATE),
        ("started_at", "datetime64[ns, UTC]"),
        ("billed_until", "datetime64[ns, UTC]"),
        ("is_open", "boolean"),
        ("runtime", "timedelta64[ns]"),
        ("runtime_seconds", "Int64"),
        ("price_base_units_per_second", "Int64"),
        ("cost_base_units", "Int64"),
        ("fee_base_units", "Int64"),
        ("total_base_units", "Int64"),
        ("cost_nos", "Float64"),
        ("total_nos", "Float64"),
        ("usd", "Float64"),
        ("usd_with_fee", "Float64"),
    ),
    "deployment_costs": (
        ("deployment", "string"),
        ("jobs", "Int64"),
        ("open_jobs", "Int64"),
        ("runtime", "timedelta64[ns]"),
        ("cost_base_units", "Int64"),
        ("fee_base_units", "Int64"),
        ("total_base_units", "Int64"),
        ("total_nos", "Float64"),
        ("usd_with_fee", "Float64"),
        ("first_start", "datetime64[ns, UTC]"),
        ("last_billed", "datetime64[ns, UTC]"),
    ),
    "logs": (
        ("deployment", "string"),
        ("job", "string"),
        ("revision", "Int64"),
        ("op", "string"),
        ("stream", "category[stdin, stdout, stderr, nodeerr; ordered]"),
        ("level", "category[info, error; ordered]"),
        ("timestamp", "datetime64[ns, UTC]"),
        ("text", "string"),
        ("exit_code", "Int64"),
    ),
    "results": (
        ("deployment", "string"),
        ("job", "string"),
        ("op", "string"),
        ("status", "string"),
        ("exit_code", "Int64"),
        ("started_at", "datetime64[ns, UTC]"),
        ("ended_at", "datetime64[ns, UTC]"),
        ("duration", "timedelta64[ns]"),
    ),
    "status_history": (
        ("deployment", "string"),
        ("status", DEPLOYMENT_STATUS),
        ("start", "datetime64[ns, UTC]"),
        ("end", "datetime64[ns, UTC]"),
        ("duration", "timedelta64[ns]"),
        ("source", STATUS_SOURCE),
    ),
    "bulk_preview": (
        ("deployment", "string"),
        ("name", "string"),
        ("vault", "string"),
        ("status", DEPLOYMENT_STATUS),
        ("strategy", STRATEGY),
        ("market", "string"),
        ("action", BULK_ACTION),
        ("allowed", "boolean"),
        ("reason", "string"),
        ("reason_type", "string"),
        ("cost_change_per_hour", "Float64"),
        ("sol_change", "Float64"),
        ("nos_change", "Float64"),
    ),
    "bulk_results": (
        ("deployment", "string"),
        ("name", "string"),
        ("vault", "string"),
        ("action", BULK_ACTION),
        ("outcome", "category[ok, refused, failed, unknown, cancelled; ordered]"),
        ("ok", "boolean"),
        ("previous_status", DEPLOYMENT_STATUS),
        ("new_status", DEPLOYMENT_STATUS),
        ("error_type", "string"),
        ("message", "string"),
        ("signature", "string"),
    ),
    "endpoint_probes": (
        ("deployment", "string"),
        ("op", "string"),
        ("port", "string"),
        ("url", "string"),
        ("state", "category[READY, BOOTING, DOWN, UNREACHABLE; ordered]"),
        ("status", "Int64"),
        ("failure", "category[timeout, connect_error, tls_error, protocol_error; ordered]"),
        ("ready", "boolean"),
        ("latency_ms", "Float64"),
        ("probed_at", "datetime64[ns, UTC]"),
        ("detail", "string"),
    ),
}


def dtype_text(dtype: Any) -> str:
    """A dtype as text; a categorical with its categories and order, which str() leaves out."""
    if isinstance(dtype, pd.CategoricalDtype):
        order = "; ordered" if dtype.ordered else ""
        return "category[" + ", ".join(str(c) for c in dtype.categories) + order + "]"
    return str(dtype)


def test_every_schema_is_pinned_here() -> None:
    assert list(SCHEMAS) == list(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_schema_columns_and_dtypes_are_exactly_these(name: str) -> None:
    actual = tuple((column, dtype_text(dtype)) for column, dtype in SCHEMAS[name].items())
    assert actual == EXPECTED[name]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_an_empty_frame_has_exactly_these_columns_and_dtypes(name: str) -> None:
    frame = empty_frame(name)
    actual = tuple((str(column), dtype_text(dtype)) for column, dtype in frame.dtypes.items())
    assert actual == EXPECTED[name]
