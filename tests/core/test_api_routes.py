"""Every user route: method, path, query, body and headers on the wire, and the parsed reply.

Tests taking ``backend`` run on the fake and on the real sandbox (tests/core/backends.py): the
wire is read from the recording transport on both. Values only the fake can fix (canned stats,
a wrapped markets list, a market's unknown field) stay on the fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import DeploymentNotFoundError, HistoryNotLoadedError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.models import JobDetail, Stats, VaultInfo
from nosana_nb.core.validation import DeploymentStatus, JobState, Strategy, TaskType
from nosana_nb.core.wallet import Wallet
from tests.core.backends import Backend
from tests.core.fake_api import (
    MARKET_3060,
    FakeNosana,
    new_address,
    sync_client,
)

JD = container_job("ubuntu:24.04", "echo hello", gpu=False)
AFTER = datetime(2026, 1, 1, tzinfo=UTC)
BEFORE = datetime(2026, 2, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def client(backend: Backend, wallet: Wallet) -> Iterator[NosanaClient]:
    with backend.client(wallet) as c:
        yield c


@pytest.fixture
def fake_client(fake: FakeNosana, wallet: Wallet) -> Iterator[NosanaClient]:
    with sync_client(fake, wallet) as c:
        yield c


def last(backend: Backend) -> Any:
    return backend.requests()[-1]


def assert_signed(request: Any, wallet: Wallet) -> None:
    assert request.headers["x-user-id"] == wallet.address
    message, _signature, stamp = request.headers["authorization"].split(":")
    assert message == "NosanaApiAuthentication"
    assert stamp.isdigit()


def assert_no_credentials(request: Any) -> None:
    assert "authorization" not in request.headers
    assert "x-user-id" not in request.headers


def with_jobs(backend: Backend, client: NosanaClient, replicas: int = 2) -> Any:
    """A RUNNING deployment with listed jobs (fake: one RUNNING job and a listing event)."""
    deployment = backend.deployment(client, "RUNNING", replicas=replicas, timeout=5400)
    if backend.fake is not None:
        backend.fake.add_job(deployment.id, state="RUNNING")
        backend.fake.add_event(
            deployment.id, "JOB_LIST_CONFIRMED", "Successfully listed job - x", tx=""
        )
    return deployment


def test_list_deployments_sends_every_filter(
    client: NosanaClient, backend: Backend, wallet: Wallet
) -> None:
    mine = backend.deployment(client, "RUNNING", name="alpha")
    vault = mine.state.vault
    backend.forget()
    pager = client.deployments.list(
        search="alp",
        status=["RUNNING", DeploymentStatus.STOPPED],
        strategy=Strategy.SIMPLE_EXTEND,
        id=[mine.id],
        name="alpha",
        vault=vault,
        created_after=AFTER,
        created_before=BEFORE.astimezone(timezone_plus_two()),
        limit=20,
        sort_order="asc",
    )
    assert backend.requests() == []  # lazy: nothing sent until iterated
    assert pager.to_list() == []  # the deployment is SIMPLE: filtered out by the service
    request = last(backend)
    assert (request.method, request.path) == ("GET", "/deployments")
    assert request.params == {
        "search": "alp",
        "status": "RUNNING,STOPPED",
        "strategy": "SIMPLE-EXTEND",
        "id": mine.id,
        "name": "alpha",
        "vault": vault,
        "created_after": "2026-01-01T00:00:00.000Z",
        "created_before": "2026-02-01T12:30:00.000Z",
        "limit": "20",
        "sort_order": "asc",
    }
    assert_signed(request, wallet)
    assert [d.id for d in client.deployments.list(name="alpha", status="RUNNING")] == [mine.id]


def timezone_plus_two() -> timezone:
    return timezone(timedelta(hours=2))


def test_get_is_one_request_and_history_loads_on_first_read(
    client: NosanaClient, backend: Backend, wallet: Wallet
) -> None:
    seeded = with_jobs(backend, client)
    base = f"/deployments/{seeded.id}"
    newest = {"limit": "100", "sort_order": "desc"}
    backend.forget()

    deployment = client.deployments.get(seeded.id)
    wire = [(r.method, r.path, r.params) for r in backend.requests()]
    assert wire == [("GET", base, {})]
    state = deployment.state
    assert state.status is DeploymentStatus.RUNNING
    assert state.timeout == 90
    assert state.timeout_seconds == 5400
    assert state.timeout_timedelta == timedelta(minutes=90)
    assert state.created_at is not None
    assert state.created_at.tzinfo is UTC
    assert len(backend.requests()) == 1  # deployment fields never fetch the history

    assert state.jobs
    assert all(isinstance(j.state, JobState) for j in state.jobs)
    assert state.events[0].type == "JOB_LIST_CONFIRMED"
    if backend.fake is not None:
        assert [j.state for j in state.jobs] == [JobState.RUNNING]
        assert state.jobs[0].started_at == datetime(2026, 1, 1, tzinfo=UTC)
        assert state.events[0].tx is None  # "" on the wire means no transaction
    else:
        assert len(state.jobs) == 2
        assert state.events[0].tx  # the listing's signature
    assert deployment.state.jobs is state.jobs  # fetched once, shared by later reads
    assert [(r.method, r.path, r.params) for r in backend.requests()] == [
        ("GET", base, {}),
        ("GET", f"{base}/jobs", newest),
        ("GET", f"{base}/events", newest),
    ]
    for request in backend.requests():
        assert_signed(request, wallet)


def test_history_survives_actions_and_refresh_reloads_it(
    client: NosanaClient, backend: Backend
) -> None:
    seeded = with_jobs(backend, client)
    deployment = client.deployments.get(seeded.id)
    before = len(deployment.state.jobs)
    deployment.update_replicas(3)  # folds its reply into a new state
    fetched = len(backend.requests())
    assert len(deployment.state.jobs) == before
    assert len(backend.requests()) == fetched  # the new state kept the loaded jobs

    if backend.fake is not None:
        backend.fake.add_job(deployment.id, state="QUEUED")
    else:
        backend.settle()  # the worker lists the third replica
    state = deployment.refresh()
    assert [r.path for r in backend.requests()[fetched:]] == [
        f"/deployments/{deployment.id}",
        f"/deployments/{deployment.id}/events",
        f"/deployments/{deployment.id}/jobs",
    ]
    assert len(state.jobs) == before + 1
    assert len(backend.requests()) == fetched + 3  # refresh loaded both lists eagerly


async def test_async_get_is_one_request_and_refresh_loads_the_history(
    backend: Backend, wallet: Wallet
) -> None:
    with backend.client(wallet) as seeding:
        seeded = with_jobs(backend, seeding)
    backend.forget()
    async with backend.aclient(wallet) as client:
        deployment = await client.deployments.get(seeded.id)
        assert len(backend.requests()) == 1
        with pytest.raises(HistoryNotLoadedError, match=r"await deployment\.refresh"):
            deployment.state.jobs  # noqa: B018 (the read is what raises)
        state = await deployment.refresh()
        assert state.jobs
        assert all(isinstance(j.state, JobState) for j in state.jobs)
        assert len(backend.requests()) == 4


def test_child_lists_send_their_filters(client: NosanaClient, backend: Backend) -> None:
    deployment = backend.deployment(client, "RUNNING")
    did = deployment.id
    job_address = new_address()

    deployment.get_tasks(task=["LIST", TaskType.STOP], due_after=AFTER, due_before=BEFORE).to_list()
    assert (last(backend).path, last(backend).params) == (
        f"/deployments/{did}/tasks",
        {
            "task": "LIST,STOP",
            "due_after": "2026-01-01T00:00:00.000Z",
            "due_before": "2026-02-01T12:30:00.000Z",
            "limit": "100",
            "sort_order": "desc",
        },
    )
    deployment.get_jobs(
        state=[JobState.RUNNING, "queued"], job=job_address, created_before=BEFORE, limit=10
    ).to_list()
    assert (last(backend).path, last(backend).params) == (
        f"/deployments/{did}/jobs",
        {
            "state": "RUNNING,QUEUED",
            "job": job_address,
            "created_before": "2026-02-01T12:30:00.000Z",
            "limit": "10",
            "sort_order": "desc",
        },
    )
    deployment.get_events(
        category="Deployment", type=["JOB_LIST_ERROR", "JOB_STOP_ERROR"]
    ).to_list()
    assert (last(backend).path, last(backend).params) == (
        f"/deployments/{did}/events",
        {
            "category": "Deployment",
            "type": "JOB_LIST_ERROR,JOB_STOP_ERROR",
            "limit": "100",
            "sort_order": "desc",
        },
    )
    deployment.get_revisions(created_after=AFTER, sort_order="asc", limit=50).to_list()
    assert (last(backend).path, last(backend).params) == (
        f"/deployments/{did}/revisions",
        {"created_after": "2026-01-01T00:00:00.000Z", "limit": "50", "sort_order": "asc"},
    )


def test_job_detail_maps_numeric_state(client: NosanaClient, backend: Backend) -> None:
    deployment = backend.deployment(client, "RUNNING", timeout=600)
    if backend.fake is not None:
        address = backend.fake.add_job(deployment.id, state="COMPLETED")["job"]
    else:
        assert backend.sandbox is not None
        for _ in range(30):  # the module's other tests may hold the market's nodes a while
            backend.sandbox.advance(600)
            jobs = deployment.get_jobs().to_list()
            if jobs[0].state is not JobState.QUEUED:
                break
        backend.sandbox.advance(600)  # past its timeout: the job has completed
        (job,) = deployment.get_jobs().to_list()
        assert job.state is JobState.COMPLETED, job
        address = job.job
    detail = deployment.get_job(address)
    assert (last(backend).method, last(backend).path) == (
        "GET",
        f"/deployments/{deployment.id}/jobs/{address}",
    )
    assert isinstance(detail, JobDetail)
    assert detail.state is JobState.COMPLETED
    assert detail.has_node
    assert detail.listed_at_datetime is not None
    assert detail.listed_at_datetime.tzinfo is UTC
    if backend.fake is not None:
        assert detail.listed_at_datetime == datetime.fromtimestamp(1767225500, UTC)


def test_header_query(client: NosanaClient, backend: Backend) -> None:
    deployment = backend.deployment(client, "DRAFT")
    assert deployment.get_header().startswith("DEPLOYMENT_HEADER:")
    assert last(backend).params == {"message": "DEPLOYMENT_HEADER", "includeTime": "false"}
    header = deployment.get_header(message="hello", include_time=True)
    message, signature, stamp = header.split(":")
    assert (message, stamp.isdigit(), len(signature) > 80) == ("hello", True, True)
    if backend.fake is not None:
        assert stamp == "1767225600000"
    assert (last(backend).path, last(backend).params) == (
        f"/deployments/{deployment.id}/header",
        {"message": "hello", "includeTime": "true"},
    )


def test_create_body_on_the_wire(client: NosanaClient, backend: Backend, wallet: Wallet) -> None:
    vault = client.vaults.create().address
    deployment = client.deployments.create(
        name="infer",
        market=MARKET_3060,
        replicas=2,
        timeout=timedelta(hours=2),
        strategy="INFINITE",
        rotation_time=1800,
        job_definition=JD,
        confidential=True,
        autostart=True,
        vault=vault,
        check_funds=False,
    )
    (create,) = backend.requests("POST", "/deployments/create")
    assert create.headers["content-type"] == "application/json"
    assert_signed(create, wallet)
    assert create.json == {
        "name": "infer",
        "market": MARKET_3060,
        "replicas": 2,
        "timeout": 120,
        "strategy": "INFINITE",
        "job_definition": JD,
        "rotation_time": 30,
        "confidential": True,
        "autostart": True,
        "vault": vault,
    }
    assert deployment.state.status is DeploymentStatus.STARTING
    assert deployment.state.rotation_time == 30
    # create() loads the newest events and jobs into the state, like get() does
    assert [r.path for r in backend.requests()[-2:]] == [
        f"/deployments/{deployment.id}/events",
        f"/deployments/{deployment.id}/jobs",
    ]


def test_create_scheduled_and_new_vault(client: NosanaClient, backend: Backend) -> None:
    made = client.deployments.create(
        name="nightly",
        market=MARKET_3060,
        replicas=1,
        timeout=600,
        strategy=Strategy.SCHEDULED,
        schedule="0 3 * * *",
        job_definition=JD,
        new_vault=True,
    )
    (create,) = backend.requests("POST", "/deployments/create")
    assert create.json["schedule"] == "0 3 * * *"
    assert create.json["new_vault"] is True
    assert create.json["timeout"] == 10
    assert "vault" not in create.json
    assert "autostart" not in create.json
    assert made.state.schedule == "0 3 * * *"


def test_actions_are_bodiless_posts(client: NosanaClient, backend: Backend, wallet: Wallet) -> None:
    deployment = backend.deployment(client, "STOPPED")
    backend.forget()
    deployment.start(check_funds=False)
    if backend.fake is not None:
        backend.fake.deployments[deployment.id]["status"] = "RUNNING"
    backend.settle()
    deployment.stop()
    if backend.fake is not None:
        backend.fake.deployments[deployment.id]["status"] = "STOPPED"
    backend.settle()
    deployment.archive()
    posts = backend.requests("POST")
    assert [p.path.rsplit("/", 1)[1] for p in posts] == ["start", "stop", "archive"]
    for post in posts:
        assert post.body == b""
        assert "content-type" not in post.headers
        assert_signed(post, wallet)
    assert deployment.state.status is DeploymentStatus.ARCHIVED


def test_delete_is_204(client: NosanaClient, backend: Backend) -> None:
    deployment = backend.deployment(client, "STOPPED")
    deployment.delete()
    assert (last(backend).method, last(backend).path, last(backend).body) == (
        "DELETE",
        f"/deployments/{deployment.id}",
        b"",
    )
    with pytest.raises(DeploymentNotFoundError):
        client.deployments.get(deployment.id)


def test_patch_updates(client: NosanaClient, backend: Backend) -> None:
    deployment = backend.deployment(
        client, "RUNNING", strategy="SCHEDULED", schedule="0 * * * *", job_definition=JD
    )
    if backend.fake is not None:
        backend.fake.revisions[deployment.id].append(
            {"revision": 1, "deployment": deployment.id, "job_definition": JD}
        )
    base = f"/deployments/{deployment.id}"

    assert deployment.update_replicas(0).replicas == 0
    assert (last(backend).method, last(backend).path, last(backend).json) == (
        "PATCH",
        f"{base}/update-replica-count",
        {"replicas": 0},
    )
    assert deployment.update_timeout(timedelta(hours=3)).timeout == 180
    assert (last(backend).path, last(backend).json) == (f"{base}/update-timeout", {"timeout": 180})
    assert deployment.update_schedule("*/5 * * * *").schedule == "*/5 * * * *"
    assert (last(backend).path, last(backend).json) == (
        f"{base}/update-schedule",
        {"schedule": "*/5 * * * *"},
    )
    assert deployment.rename("renamed").name == "renamed"
    assert (last(backend).path, last(backend).json) == (f"{base}/update-name", {"name": "renamed"})

    created = deployment.create_revision(JD)
    assert (last(backend).method, last(backend).path) == ("POST", f"{base}/create-revision")
    assert last(backend).json == JD
    assert created.active_revision == 2
    assert [r.revision for r in created.revisions] == [1, 2]
    assert deployment.state.active_revision == 2

    reply = deployment.set_active_revision(1)
    assert (last(backend).path, last(backend).json) == (
        f"{base}/update-active-revision",
        {"active_revision": 1},
    )
    assert reply.active_revision == 1
    assert deployment.state.active_revision == 1
    for request in backend.requests("PATCH"):
        assert request.headers["content-type"] == "application/json"


def test_vaults(client: NosanaClient, backend: Backend, wallet: Wallet) -> None:
    vault = client.vaults.create()
    assert (last(backend).method, last(backend).path, last(backend).body) == (
        "POST",
        "/deployments/vaults/create",
        b"",
    )
    assert_signed(last(backend), wallet)
    infos = client.vaults.list()
    assert (last(backend).method, last(backend).path) == ("GET", "/deployments/vaults")
    assert [info.address for info in infos] == [vault.address]
    assert isinstance(infos[0], VaultInfo)
    assert not infos[0].is_api_key_vault
    assert client.vaults.create().address == vault.address  # get-or-create


def test_stats_is_unauthenticated(client: NosanaClient, backend: Backend) -> None:
    stats = client.stats()
    assert (last(backend).method, last(backend).path) == ("GET", "/stats")
    assert_no_credentials(last(backend))
    assert isinstance(stats, Stats)
    assert stats.jobs.listed >= 0
    if backend.fake is not None:
        assert stats.jobs.listed == 3
        assert stats.tasks.average_time_ms == 12.5


def test_markets_carry_no_credentials(client: NosanaClient, backend: Backend) -> None:
    markets = client.markets.list()
    assert (last(backend).method, last(backend).path) == ("GET", "/api/markets/")
    assert_no_credentials(last(backend))
    by_slug = client.markets.get("NVIDIA-3060")
    assert by_slug.address == MARKET_3060
    price = {"fake": "43", "sandbox": "40"}[backend.kind]
    assert by_slug.nos_job_price_per_second == Decimal(price) / 10**6
    assert by_slug.job_price_base_units_per_second == Decimal(price)
    if backend.fake is not None:
        assert markets[1].model_extra == {"brand_new_field": {"kept": True}}


def test_markets_accepts_wrapped_list(fake_client: NosanaClient, fake: FakeNosana) -> None:
    wrapped = {"markets": fake.markets}
    fake.markets = wrapped  # type: ignore[assignment]
    assert len(fake_client.markets.list()) == 3


def test_pin_and_fetch_job_definition(client: NosanaClient, backend: Backend) -> None:
    cid = client.jobs.pin_job_definition(JD)
    pin = last(backend)
    assert (pin.method, pin.path, pin.json) == (
        "POST",
        "/pinning/pinJSONToIPFS",
        {"pinataContent": JD},
    )
    assert_no_credentials(pin)  # no JWT configured: nothing sent, and never the wallet
    assert client.jobs.get_job_definition(cid) == JD
    assert (last(backend).method, last(backend).path) == ("GET", f"/ipfs/{cid}")
    assert_no_credentials(last(backend))


def test_pin_sends_the_jwt_only_to_the_pinning_service(backend: Backend, wallet: Wallet) -> None:
    network = replace(backend.network, ipfs_jwt="pinata-jwt-value")
    with NosanaClient(network, wallet, transport=backend.transport, env={}) as client:
        cid = client.jobs.pin_job_definition(JD)
        assert last(backend).headers["authorization"] == "Bearer pinata-jwt-value"
        client.jobs.get_job_definition(cid)
        assert_no_credentials(last(backend))
        client.markets.list()
        assert_no_credentials(last(backend))
        assert "pinata-jwt-value" not in repr(client)


def test_api_key_is_sent_on_create_only(backend: Backend, wallet: Wallet) -> None:
    key = f"nos_secret_key_{wallet.address[:8]}"
    if backend.sandbox is not None:  # the sandbox's credits for the key (the fake has none)
        assigned = httpx.post(
            f"{backend.sandbox.api_url}/_sandbox/credits", json={"api_key": key, "usd": "5"}
        )
        assigned.raise_for_status()
    with backend.client(wallet, api_key=key) as client:
        deployment = client.deployments.create(
            name="credits", market=MARKET_3060, replicas=1, timeout=3600, job_definition=JD
        )  # credits pay: the pre-check reads the credits, not the (empty) vault
        deployment.refresh()
        client.vaults.list()
        (create,) = backend.requests("POST", "/deployments/create")
        assert create.headers["x-nosana-api"] == key
        assert_signed(create, wallet)
        others = [r for r in backend.requests() if r is not create]
        assert others
        assert all("x-nosana-api" not in r.headers for r in others)
        # the market is checked to exist, and priced, from the public list (no credential); the
        # funds check reads the credits, never a vault over RPC
        market_lists = backend.requests("GET", "/api/markets/")
        assert market_lists
        assert all("authorization" not in r.headers for r in market_lists)
        assert all(r.path != "/rpc" for r in backend.requests())
        (balance,) = backend.requests("GET", "/api/credits/balance")
        assert balance.headers["authorization"] == f"Bearer {key}"
