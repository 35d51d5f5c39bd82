"""Tolerant reply models, malformed replies, markets, cost estimates and IPFS helpers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import APIResponseValidationError, ValidationError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.jobs import check_cid
from nosana_nb.core.markets import SOL_LAMPORTS_PER_JOB, estimate_cost, find_market
from nosana_nb.core.models import (
    Deployment,
    Event,
    Job,
    JobDetail,
    Market,
    Task,
)
from nosana_nb.core.routes import comma_list, rfc3339
from nosana_nb.core.validation import DeploymentStatus, JobState, Strategy, TaskType
from nosana_nb.core.wallet import Wallet
from tests.core.fake_api import MARKET_3060, FakeNosana, default_markets, new_address, sync_client

DEPLOYMENT = {
    "id": new_address(),
    "name": "x",
    "vault": new_address(),
    "market": MARKET_3060,
    "owner": new_address(),
    "status": "RUNNING",
    "replicas": 2,
    "timeout": 61,
    "endpoints": [{"opId": "run", "port": 8080, "url": "https://abc.node.k8s.dev.nos.ci"}],
    "confidential": True,
    "active_revision": 3,
    "active_jobs": 1,
    "created_at": "2025-01-02T03:04:05.678Z",
    "updated_at": "2025-01-02T03:04:05.678Z",
    "strategy": "SIMPLE-EXTEND",
}


def test_deployment_parses_every_field() -> None:
    model = Deployment.model_validate(DEPLOYMENT)
    assert model.status is DeploymentStatus.RUNNING
    assert model.strategy is Strategy.SIMPLE_EXTEND
    assert model.endpoints[0].op_id == "run"
    assert model.endpoints[0].port == 8080
    assert model.created_at == datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert model.timeout_timedelta == timedelta(minutes=61)
    assert model.timeout_seconds == 3660
    assert model.schedule is None
    assert model.rotation_time is None


def test_unknown_values_and_fields_are_kept() -> None:
    data = {
        **DEPLOYMENT,
        "status": "HIBERNATING",
        "strategy": "BURST",
        "schedule": "",
        "next_retry_at": "soon",
        "created_at": "2025-01-02T05:04:05.678+02:00",
    }
    model = Deployment.model_validate(data)
    assert model.status == "HIBERNATING"
    assert not isinstance(model.status, DeploymentStatus)
    assert model.strategy == "BURST"
    assert model.schedule is None  # the serializer's "" for null
    assert model.model_extra == {"next_retry_at": "soon"}
    assert model.created_at == datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    assert model.created_at.tzinfo is UTC


def test_job_and_job_detail_states() -> None:
    job = Job.model_validate(
        {"deployment": "d", "job": "j", "state": "QUEUED", "node": None, "time_start": 0}
    )
    assert job.state is JobState.QUEUED
    assert job.started_at is None
    assert job.node is None
    assert Job.model_validate({"deployment": "d", "job": "j", "state": "LOST"}).state == "LOST"
    detail = JobDetail.model_validate(
        {
            "state": 3,
            "node": "11111111111111111111111111111111",
            "jobStatus": None,
            "jobDefinition": {"version": "0.1"},
            "jobResult": None,
            "timeStart": 1767225600,
            "timeEnd": 1767229200,
            "listedAt": 1767225500,
        }
    )
    assert detail.state is JobState.STOPPED
    assert not detail.has_node
    assert detail.ended_at is not None
    assert detail.started_at is not None
    assert detail.ended_at - detail.started_at == timedelta(hours=1)
    assert JobDetail.model_validate({"state": 9}).state == 9


@pytest.mark.parametrize(
    ("wire", "expected"), [({}, None), ({"tx": ""}, None), ({"tx": "5sig"}, "5sig")]
)
def test_event_tx_forms(wire: dict[str, Any], expected: str | None) -> None:
    base = {"category": "Deployment", "deploymentId": "d", "type": "JOB_LIST_ERROR", "message": "m"}
    assert Event.model_validate({**base, **wire}).tx == expected


def test_task_quirk_blank_job() -> None:
    task = Task.model_validate(
        {
            "task": "LIST",
            "deploymentId": "d",
            "job": "",
            "limit": 0,
            "active_revision": 0,
            "due_at": "2026-01-01T00:00:00.000Z",
            "created_at": "2026-01-01T00:00:00.000Z",
        }
    )
    assert task.task is TaskType.LIST
    assert task.job is None
    assert task.deployment_id == "d"


def handler_returning(body: Any) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    return handle


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"deployments": [{"name": 1}], "pagination": {}}, r"items\.0\.id: Field required"),
        ("nope", "expected a JSON array, or an object"),
        ([{"name": 1}], r"items\.0\.id: Field required"),
        ({"deployments": "nope", "pagination": {}}, "items"),
    ],
)
def test_malformed_list_reply_is_a_clear_error(body: Any, match: str) -> None:
    transport = httpx.MockTransport(handler_returning(body))
    client = NosanaClient("local", Wallet.generate(), transport=transport, env={})
    with client, pytest.raises(APIResponseValidationError, match=match) as caught:
        client.deployments.list().to_list()
    assert "GET /deployments" in str(caught.value)
    assert caught.value.method == "GET"


def test_malformed_single_replies() -> None:
    transport = httpx.MockTransport(handler_returning({"status": 5}))
    with NosanaClient("local", Wallet.generate(), transport=transport, env={}) as client:
        with pytest.raises(APIResponseValidationError, match="Unexpected reply"):
            client.deployments.get(new_address())
        with pytest.raises(APIResponseValidationError, match="IpfsHash"):
            client.jobs.pin_job_definition(container_job("ubuntu", "true"))
        with pytest.raises(APIResponseValidationError, match="markets"):
            client.markets.list()
        with pytest.raises(APIResponseValidationError, match="vaults"):
            client.vaults.list()


# --- markets and estimates ------------------------------------------------------------------


def market(slug: str) -> Market:
    return find_market([Market.model_validate(m) for m in default_markets()], slug)


def test_market_prices_are_exact_decimals() -> None:
    m3060 = market("nvidia-3060")
    assert m3060.nos_job_price_per_second == Decimal("0.000043")
    assert m3060.usd_reward_per_hour == Decimal("0.0436")
    assert m3060.network_fee_percentage == Decimal(10)
    assert m3060.label == "NVIDIA 3060"
    assert market(MARKET_3060) == m3060
    with pytest.raises(ValidationError, match="unknown market 'nvidia-9999'"):
        market("nvidia-9999")


def test_estimate_cost_breakdown() -> None:
    estimate = estimate_cost(market("nvidia-3060"), replicas=2, timeout=timedelta(hours=2))
    assert estimate.timeout_seconds == 7200
    assert estimate.nos_base_units == 2 * 43 * 7200
    assert estimate.fee_base_units == 61920
    assert estimate.nos_base_units_with_fee == 681120
    assert estimate.nos == Decimal("0.6192")
    assert estimate.nos_with_fee == Decimal("0.68112")
    assert estimate.nos_per_hour == Decimal("0.309600")
    assert estimate.nos_per_hour_with_fee == Decimal("0.34056")
    assert estimate.usd_per_hour == Decimal("0.0872")
    assert estimate.usd_per_hour_with_fee == Decimal("0.09592")
    assert estimate.usd == Decimal("0.1744")
    assert estimate.usd_with_fee == Decimal("0.19184")
    assert estimate.sol_lamports == 2 * SOL_LAMPORTS_PER_JOB


def test_estimate_matches_the_reference_worked_example() -> None:
    # wire-contract §14.2: market 97G9… at 0.000115 NOS/s, 1 replica, 2 h -> 0.828 NOS (fee 0 here)
    estimate = estimate_cost(market("nvidia-4090"), replicas=1, timeout=7200)
    assert estimate.nos == Decimal("0.828")
    assert estimate.nos_with_fee == Decimal("0.828")


def test_estimate_rejects_what_it_cannot_price() -> None:
    with pytest.raises(ValidationError, match="publishes no nos_job_price_per_second"):
        estimate_cost(market("nvidia-4070"), replicas=1, timeout=3600)
    with pytest.raises(ValidationError) as caught:
        estimate_cost(market("nvidia-3060"), replicas=1, timeout=1800, strategy="INFINITE")
    assert caught.value.argument == "timeout"


def test_markets_estimate_validates_before_fetching() -> None:
    fake = FakeNosana()
    with sync_client(fake, None) as client:
        with pytest.raises(ValidationError):
            client.markets.estimate("nvidia-3060", replicas=0, timeout=3600)
        assert fake.requests == []
        estimate = client.markets.estimate("nvidia-3060", replicas=1, timeout=60)
        assert estimate.nos_base_units == 43 * 60
        assert len(fake.requests) == 1


# --- IPFS, filters --------------------------------------------------------------------------


def test_check_cid() -> None:
    v0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    v1 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
    assert check_cid(v0) == v0
    assert check_cid(f" {v1} ") == v1
    for bad in ("Qm123", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPb0l", "../etc", 12):
        with pytest.raises(ValidationError):
            check_cid(bad)


def test_jobs_validate_before_sending() -> None:
    fake = FakeNosana()
    with sync_client(fake, None) as client:
        with pytest.raises(ValidationError, match="cid"):
            client.jobs.get_job_definition("not-a-cid")
        with pytest.raises(ValidationError):
            client.jobs.pin_job_definition({"version": "0.1", "type": "container", "ops": []})
    assert fake.requests == []


def test_filter_helpers() -> None:
    assert comma_list([Strategy.SIMPLE, "INFINITE"], argument="strategy") == "SIMPLE,INFINITE"
    assert comma_list(None, argument="x") is None
    with pytest.raises(ValidationError, match="empty list"):
        comma_list([], argument="status")
    with pytest.raises(ValidationError, match="comma"):
        comma_list(["a,b"], argument="type")
    plus_one = timezone(timedelta(hours=1))
    assert rfc3339(datetime(2026, 3, 1, 1, 0, tzinfo=plus_one), argument="t") == (
        "2026-03-01T00:00:00.000Z"
    )
    with pytest.raises(ValidationError, match="timezone-aware"):
        rfc3339(datetime(2026, 3, 1), argument="created_after")
    with pytest.raises(ValidationError, match="must be a datetime"):
        rfc3339("2026-03-01", argument="created_after")  # type: ignore[arg-type]
