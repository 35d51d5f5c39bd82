"""Every frame keeps its declared columns, order and dtypes for zero, one and many rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from nosana_nb.core.bulk import BulkPreview, BulkPreviewRow, BulkResult, BulkResultRow
from nosana_nb.core.endpoints import EndpointProbe
from nosana_nb.core.errors import ActionNotAllowedError, ValidationError
from nosana_nb.frames import (
    SCHEMAS,
    bulk_preview_dataframe,
    bulk_results_dataframe,
    cost_dataframe,
    deployment_cost_totals,
    deployments_dataframe,
    empty_frame,
    endpoints_dataframe,
    events_dataframe,
    jobs_dataframe,
    logs_dataframe,
    markets_dataframe,
    results_dataframe,
    revisions_dataframe,
    schema_of,
    status_history_dataframe,
    tasks_dataframe,
    validate_schema,
    vault_balance_dataframe,
)

DEP = "Dep1111111111111111111111111111111111111111"
MARKET = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
VAULT = "Vau1111111111111111111111111111111111111111"
MINT = "Nos1111111111111111111111111111111111111111"
OWNER = "Own1111111111111111111111111111111111111111"
NOW = datetime(2025, 1, 2, tzinfo=UTC)


def iso(seconds: int) -> str:
    moment = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def deployment(i: int) -> dict[str, Any]:
    return {
        "id": f"{DEP[:-3]}{i:03d}",
        "name": f"dep {i}",
        "vault": VAULT,
        "market": MARKET,
        "owner": OWNER,
        "status": ["RUNNING", "STOPPED", "DRAFT"][i % 3],
        "replicas": 1 + i % 3,
        "timeout": 60,
        "endpoints": [{"opId": "run", "port": 80, "url": "https://x.node.k8s.dev.nos.ci"}],
        "confidential": False,
        "active_revision": 1,
        "active_jobs": i % 2,
        "created_at": iso(i),
        "updated_at": iso(i + 5),
        "strategy": "SIMPLE",
    }


def job(i: int) -> dict[str, Any]:
    state = ["QUEUED", "RUNNING", "COMPLETED", "STOPPED"][i % 4]
    return {
        "tx": f"tx{i}",
        "deployment": f"{DEP[:-3]}{i % 3:03d}",
        "job": f"job{i}",
        "market": MARKET,
        "node": None if state == "QUEUED" else f"node{i}",
        "revision": 1,
        "state": state,
        "time_start": 0 if state == "QUEUED" else 1_735_689_600 + i * 60,
        "created_at": iso(i * 60 - 30),
        "updated_at": iso(i * 60 + 600),
    }


def event(i: int) -> dict[str, Any]:
    return {
        "category": "Deployment",
        "deploymentId": DEP,
        "type": "JOB_LIST_CONFIRMED" if i % 2 else "JOB_LIST_ERROR",
        "message": f"message {i}",
        "tx": "" if i % 2 else f"sig{i}",
        "created_at": iso(i),
    }


def task(i: int) -> dict[str, Any]:
    return {
        "task": ["LIST", "EXTEND", "STOP"][i % 3],
        "deploymentId": DEP,
        "job": "" if i % 2 else f"job{i}",
        "limit": 0 if i % 2 else 2,
        "active_revision": 0,
        "due_at": iso(i + 100),
        "created_at": iso(i),
    }


def revision(i: int) -> dict[str, Any]:
    return {
        "revision": i + 1,
        "deployment": DEP,
        "ipfs_definition_hash": f"Qm{i}",
        "job_definition": {
            "version": "0.1",
            "type": "container",
            "ops": [{"type": "container/run", "id": "run", "args": {"image": "ubuntu"}}],
        },
        "created_at": iso(i),
    }


def market(i: int) -> dict[str, Any]:
    return {
        "address": f"{MARKET[:-3]}{i:03d}",
        "slug": f"m{i}",
        "name": f"Market {i}",
        "type": "PREMIUM",
        "usd_reward_per_hour": 0.0436,
        "nos_job_price_per_second": 0.000043,
        "network_fee_percentage": 10,
        "gpu_types": ["RTX 3060"],
        "lowest_vram": 12,
        "nodes": 4,
        "idle_nodes": 2,
    }


def transaction(i: int) -> dict[str, Any]:
    """A SOL top-up of 1000 lamports from the owner (fee payer) to the vault."""
    before = 5_000 + i * 1_000
    return {
        "slot": 100 + i,
        "blockTime": 1_735_689_600 + i,
        "meta": {
            "err": None,
            "fee": 5000,
            "preBalances": [10**9, before],
            "postBalances": [10**9 - 6000, before + 1000],
            "preTokenBalances": [],
            "postTokenBalances": [],
        },
        "transaction": {"signatures": [f"sig{i}"], "message": {"accountKeys": [OWNER, VAULT]}},
    }


def status_row(i: int) -> dict[str, Any]:
    return {
        "deployment": DEP,
        "status": ["STARTING", "RUNNING", "STOPPING", "STOPPED"][i % 4],
        "time": iso(i * 10),
    }


def job_results(i: int, lines: int) -> dict[str, Any]:
    """One job's JobResults upload (one op, ``lines`` log lines, every third one on stderr)."""
    start_ms = 1_735_689_600_000 + i * 60_000
    return {
        "deployment": DEP,
        "job": f"Job{i:040d}",
        "revision": 1,
        "results": {
            "status": "success",
            "startTime": start_ms,
            "endTime": start_ms + 30_000,
            "opStates": [
                {
                    "operationId": "run",
                    "status": "success",
                    "startTime": start_ms,
                    "endTime": start_ms + 30_000,
                    "exitCode": 0,
                    "logs": [
                        {
                            "type": "stderr" if k % 3 == 2 else "stdout",
                            "log": f"line {k}",
                            "timestamp": iso(i * 60 + k),
                        }
                        for k in range(lines)
                    ],
                }
            ],
        },
    }


def bulk_preview(rows: int) -> BulkPreview:
    """``rows`` stop verdicts: every third one refused (a DRAFT), the others saving a job."""
    return BulkPreview(
        "stop",
        {},
        tuple(
            BulkPreviewRow(
                deployment=f"{DEP[:-3]}{i:03d}",
                action="stop",
                allowed=i % 3 != 0,
                name=f"dep {i}",
                vault=VAULT,
                status="DRAFT" if i % 3 == 0 else "RUNNING",
                strategy="SIMPLE",
                market=MARKET,
                reason="stop needs RUNNING; it is DRAFT" if i % 3 == 0 else None,
                reason_type="ActionNotAllowedError" if i % 3 == 0 else None,
                cost_change_per_hour=Decimal(0) if i % 3 == 0 else Decimal("-0.1584"),
            )
            for i in range(rows)
        ),
    )


def bulk_result(rows: int) -> BulkResult:
    preview = bulk_preview(rows)
    results = []
    for row in preview.rows:
        refused = None
        if not row.allowed:
            refused = ActionNotAllowedError(
                row.reason or "",
                deployment=row.deployment,
                action="stop",
                status="DRAFT",
                allowed_statuses=("RUNNING",),
            )
        results.append(
            BulkResultRow(
                deployment=row.deployment,
                action="stop",
                outcome="refused" if refused else "ok",
                name=row.name,
                vault=row.vault,
                previous_status=row.status,
                new_status="DRAFT" if refused else "STOPPING",
                error=refused,
            )
        )
    return BulkResult("stop", {}, tuple(results), preview)


def endpoint_probe(i: int) -> EndpointProbe:
    answered = i % 3 != 2
    return EndpointProbe(
        deployment=DEP,
        op=f"op{i}",
        port=8000 + i,
        url=f"https://host{i}.node.k8s.dev.nos.ci",
        status=(200, 503)[i % 3] if answered else None,
        failure=None if answered else "timeout",
        ready=i % 3 == 0,
        latency_ms=12.5 * i,
        probed_at=NOW,
    )


BUILDERS: dict[str, Any] = {
    "logs": lambda n: logs_dataframe([job_results(0, n)] if n else []),
    "results": lambda n: results_dataframe([job_results(i, 2) for i in range(n)]),
    "deployments": lambda n: deployments_dataframe([deployment(i) for i in range(n)]),
    "jobs": lambda n: jobs_dataframe([job(i) for i in range(n)]),
    "events": lambda n: events_dataframe([event(i) for i in range(n)]),
    "tasks": lambda n: tasks_dataframe([task(i) for i in range(n)]),
    "revisions": lambda n: revisions_dataframe([revision(i) for i in range(n)]),
    "markets": lambda n: markets_dataframe([market(i) for i in range(n)]),
    "vault_balance": lambda n: vault_balance_dataframe(
        [transaction(i) for i in range(n)], vault=VAULT, nos_mint=MINT
    ),
    "cost": lambda n: cost_dataframe(
        [job(i) | {"market": MARKET} for i in range(n)], [market(0) | {"address": MARKET}], now=NOW
    ),
    "deployment_costs": lambda n: deployment_cost_totals(
        cost_dataframe([job(i) for i in range(n)], [market(0) | {"address": MARKET}], now=NOW)
    ),
    "status_history": lambda n: status_history_dataframe([status_row(i) for i in range(n)]),
    "bulk_preview": lambda n: bulk_preview_dataframe(bulk_preview(n)),
    "bulk_results": lambda n: bulk_results_dataframe(bulk_result(n)),
    "endpoint_probes": lambda n: endpoints_dataframe([endpoint_probe(i) for i in range(n)]),
}


def test_every_schema_has_a_builder_under_test() -> None:
    assert set(BUILDERS) == set(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@pytest.mark.parametrize("rows", [0, 1, 25])
def test_frame_matches_schema(name: str, rows: int) -> None:
    frame = BUILDERS[name](rows)
    validate_schema(frame, name)
    assert list(frame.columns) == list(schema_of(name))
    assert len(frame) == rows or (name == "deployment_costs" and len(frame) <= 3)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_datetime_columns_are_utc_and_durations_are_timedeltas(name: str) -> None:
    frame = BUILDERS[name](5)
    for column, dtype in schema_of(name).items():
        actual = frame[column].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            assert isinstance(actual, pd.DatetimeTZDtype)
            assert str(actual.tz) == "UTC"
        elif getattr(dtype, "kind", None) == "m":
            assert actual.kind == "m"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_empty_frame_matches_schema(name: str) -> None:
    frame = empty_frame(name)
    validate_schema(frame, name)
    assert frame.empty


def test_status_categories_keep_their_fixed_order() -> None:
    frame = deployments_dataframe([deployment(0)])
    assert list(frame["status"].cat.categories) == [
        "DRAFT",
        "STARTING",
        "RUNNING",
        "STOPPING",
        "STOPPED",
        "INSUFFICIENT_FUNDS",
        "ERROR",
        "ARCHIVED",
    ]
    assert frame["status"].cat.ordered
    assert list(jobs_dataframe([job(0)])["state"].cat.categories) == [
        "QUEUED",
        "RUNNING",
        "COMPLETED",
        "STOPPED",
    ]


def test_validate_schema_rejects_reordered_missing_or_retyped_columns() -> None:
    frame = jobs_dataframe([job(1)])
    with pytest.raises(ValidationError, match="columns"):
        validate_schema(frame[list(reversed(frame.columns))], "jobs")
    with pytest.raises(ValidationError, match="columns"):
        validate_schema(frame.drop(columns="tx"), "jobs")
    with pytest.raises(ValidationError, match="revision"):
        validate_schema(frame.astype({"revision": "float64"}), "jobs")
    with pytest.raises(ValidationError, match="DataFrame"):
        validate_schema([1, 2], "jobs")  # type: ignore[arg-type]


def test_schema_of_unknown_name_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown frame"):
        schema_of("nope")


def test_schemas_are_read_only() -> None:
    with pytest.raises(TypeError):
        SCHEMAS["jobs"]["x"] = "string"  # type: ignore[index]
