"""Every user route: method, path, query, body and headers on the wire, and the parsed reply."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import HistoryNotLoadedError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.models import JobDetail, Stats, VaultInfo
from nosana_nb.core.validation import DeploymentStatus, JobState, Strategy, TaskType
from nosana_nb.core.wallet import Wallet
from tests.core.fake_api import (
    MARKET_3060,
    FakeNosana,
    Recorded,
    async_client,
    new_address,
    sync_client,
)

JD = container_job("ubuntu:24.04", "echo hello", gpu=False)
AFTER = datetime(2026, 1, 1, tzinfo=UTC)
BEFORE = datetime(2026, 2, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def client(fake: FakeNosana, wallet: Wallet) -> Iterator[NosanaClient]:
    with sync_client(fake, wallet) as c:
        yield c


def last(fake: FakeNosana) -> Recorded:
    return fake.requests[-1]


def assert_signed(request: Recorded, wallet: Wallet) -> None:
    assert request.headers["x-user-id"] == wallet.address
    message, _signature, stamp = request.headers["authorization"].split(":")
    assert message == "NosanaApiAuthentication"
    assert stamp.isdigit()


def assert_no_credentials(request: Recorded) -> None:
    assert "authorization" not in request.headers
    assert "x-user-id" not in request.headers


def test_list_deployments_sends_every_filter(
    client: NosanaClient, fake: FakeNosana, wallet: Wallet
) -> None:
    mine = fake.add_deployment(status="RUNNING", name="alpha")
    vault = mine["vault"]
    pager = client.deployments.list(
        search="alp",
        status=["RUNNING", DeploymentStatus.STOPPED],
        strategy=Strategy.SIMPLE_EXTEND,
        id=[mine["id"]],
        name="alpha",
        vault=vault,
        created_after=AFTER,
        created_before=BEFORE.astimezone(timezone_plus_two()),
        limit=20,
        sort_order="asc",
    )
    assert fake.requests == []  # lazy: nothing sent until iterated
    pager.to_list()
    request = last(fake)
    assert (request.method, request.path) == ("GET", "/deployments")
    assert request.params == {
        "search": "alp",
        "status": "RUNNING,STOPPED",
        "strategy": "SIMPLE-EXTEND",
        "id": mine["id"],
        "name": "alpha",
        "vault": vault,
        "created_after": "2026-01-01T00:00:00.000Z",
        "created_before": "2026-02-01T12:30:00.000Z",
        "limit": "20",
        "sort_order": "asc",
    }
    assert_signed(request, wallet)


def timezone_plus_two() -> timezone:
    return timezone(timedelta(hours=2))


def test_get_is_one_request_and_history_loads_on_first_read(
    client: NosanaClient, fake: FakeNosana, wallet: Wallet
) -> None:
    record = fake.add_deployment(status="RUNNING", replicas=2, timeout=90)
    fake.add_job(record["id"], state="RUNNING")
    fake.add_event(record["id"], "JOB_LIST_CONFIRMED", "Successfully listed job - x", tx="")
    base = f"/deployments/{record['id']}"
    newest = {"limit": "100", "sort_order": "desc"}

    deployment = client.deployments.get(record["id"])
    assert [(r.method, r.path, r.params) for r in fake.requests] == [("GET", base, {})]
    state = deployment.state
    assert state.status is DeploymentStatus.RUNNING
    assert state.timeout == 90
    assert state.timeout_seconds == 5400
    assert state.timeout_timedelta == timedelta(minutes=90)
    assert state.created_at is not None
    assert state.created_at.tzinfo is UTC
    assert len(fake.requests) == 1  # deployment fields never fetch the history

    assert [j.state for j in state.jobs] == [JobState.RUNNING]
    assert state.jobs[0].started_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert state.events[0].type == "JOB_LIST_CONFIRMED"
    assert state.events[0].tx is None  # "" on the wire means no transaction
    assert deployment.state.jobs is state.jobs  # fetched once, shared by later reads
    assert [(r.method, r.path, r.params) for r in fake.requests] == [
        ("GET", base, {}),
        ("GET", f"{base}/jobs", newest),
        ("GET", f"{base}/events", newest),
    ]
    for request in fake.requests:
        assert_signed(request, wallet)


def test_history_survives_actions_and_refresh_reloads_it(
    client: NosanaClient, fake: FakeNosana
) -> None:
    record = fake.add_deployment(status="RUNNING", replicas=2, timeout=90)
    fake.add_job(record["id"], state="RUNNING")
    deployment = client.deployments.get(record["id"])
    assert len(deployment.state.jobs) == 1
    deployment.update_replicas(3)  # folds its reply into a new state
    fetched = len(fake.requests)
    assert len(deployment.state.jobs) == 1
    assert len(fake.requests) == fetched  # the new state kept the loaded jobs

    fake.add_job(record["id"], state="QUEUED")
    state = deployment.refresh()
    assert [r.path for r in fake.requests[fetched:]] == [
        f"/deployments/{record['id']}",
        f"/deployments/{record['id']}/events",
        f"/deployments/{record['id']}/jobs",
    ]
    assert len(state.jobs) == 2
    assert len(fake.requests) == fetched + 3  # refresh loaded both lists eagerly


async def test_async_get_is_one_request_and_refresh_loads_the_history(
    fake: FakeNosana, wallet: Wallet
) -> None:
    record = fake.add_deployment(status="RUNNING")
    fake.add_job(record["id"], state="RUNNING")
    async with async_client(fake, wallet) as client:
        deployment = await client.deployments.get(record["id"])
        assert len(fake.requests) == 1
        with pytest.raises(HistoryNotLoadedError, match=r"await deployment\.refresh"):
            deployment.state.jobs  # noqa: B018 (the read is what raises)
        state = await deployment.refresh()
        assert [j.state for j in state.jobs] == [JobState.RUNNING]
        assert len(fake.requests) == 4


def test_child_lists_send_their_filters(client: NosanaClient, fake: FakeNosana) -> None:
    record = fake.add_deployment(status="RUNNING")
    deployment = client.deployments.get(record["id"])
    did = record["id"]
    job_address = new_address()

    deployment.get_tasks(task=["LIST", TaskType.STOP], due_after=AFTER, due_before=BEFORE).to_list()
    assert (last(fake).path, last(fake).params) == (
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
    assert (last(fake).path, last(fake).params) == (
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
    assert (last(fake).path, last(fake).params) == (
        f"/deployments/{did}/events",
        {
            "category": "Deployment",
            "type": "JOB_LIST_ERROR,JOB_STOP_ERROR",
            "limit": "100",
            "sort_order": "desc",
        },
    )
    deployment.get_revisions(created_after=AFTER, sort_order="asc", limit=50).to_list()
    assert (last(fake).path, last(fake).params) == (
        f"/deployments/{did}/revisions",
        {"created_after": "2026-01-01T00:00:00.000Z", "limit": "50", "sort_order": "asc"},
    )


def test_job_detail_maps_numeric_state(client: NosanaClient, fake: FakeNosana) -> None:
    record = fake.add_deployment(status="RUNNING")
    job = fake.add_job(record["id"], state="COMPLETED")
    detail = client.deployments.get(record["id"]).get_job(job["job"])
    assert (last(fake).method, last(fake).path) == (
        "GET",
        f"/deployments/{record['id']}/jobs/{job['job']}",
    )
    assert isinstance(detail, JobDetail)
    assert detail.state is JobState.COMPLETED
    assert detail.has_node
    assert detail.listed_at_datetime == datetime.fromtimestamp(1767225500, UTC)


def test_header_query(client: NosanaClient, fake: FakeNosana) -> None:
    record = fake.add_deployment()
    deployment = client.deployments.get(record["id"])
    assert deployment.get_header().startswith("DEPLOYMENT_HEADER:")
    assert last(fake).params == {"message": "DEPLOYMENT_HEADER", "includeTime": "false"}
    header = deployment.get_header(message="hello", include_time=True)
    assert header.endswith(":1767225600000")
    assert (last(fake).path, last(fake).params) == (
        f"/deployments/{record['id']}/header",
        {"message": "hello", "includeTime": "true"},
    )


def test_create_body_on_the_wire(client: NosanaClient, fake: FakeNosana, wallet: Wallet) -> None:
    vault = fake.shared_vault()["vault"]
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
    (create,) = fake.calls("POST", "/deployments/create")
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
    assert [r.path for r in fake.requests[-2:]] == [
        f"/deployments/{deployment.id}/events",
        f"/deployments/{deployment.id}/jobs",
    ]


def test_create_scheduled_and_new_vault(client: NosanaClient, fake: FakeNosana) -> None:
    client.deployments.create(
        name="nightly",
        market=MARKET_3060,
        replicas=1,
        timeout=600,
        strategy=Strategy.SCHEDULED,
        schedule="0 3 * * *",
        job_definition=JD,
        new_vault=True,
    )
    (create,) = fake.calls("POST", "/deployments/create")
    assert create.json["schedule"] == "0 3 * * *"
    assert create.json["new_vault"] is True
    assert create.json["timeout"] == 10
    assert "vault" not in create.json
    assert "autostart" not in create.json


def test_actions_are_bodiless_posts(client: NosanaClient, fake: FakeNosana, wallet: Wallet) -> None:
    record = fake.add_deployment(status="STOPPED")
    deployment = client.deployments.get(record["id"])
    deployment.start(check_funds=False)
    fake.deployments[record["id"]]["status"] = "RUNNING"
    deployment.stop()
    fake.deployments[record["id"]]["status"] = "STOPPED"
    deployment.archive()
    posts = fake.calls("POST")
    assert [p.path.rsplit("/", 1)[1] for p in posts] == ["start", "stop", "archive"]
    for post in posts:
        assert post.body == b""
        assert "content-type" not in post.headers
        assert_signed(post, wallet)
    assert deployment.state.status is DeploymentStatus.ARCHIVED


def test_delete_is_204(client: NosanaClient, fake: FakeNosana) -> None:
    record = fake.add_deployment(status="STOPPED")
    deployment = client.deployments.get(record["id"])
    deployment.delete()
    assert (last(fake).method, last(fake).path, last(fake).body) == (
        "DELETE",
        f"/deployments/{record['id']}",
        b"",
    )
    assert record["id"] not in fake.deployments


def test_patch_updates(client: NosanaClient, fake: FakeNosana) -> None:
    record = fake.add_deployment(status="RUNNING", strategy="SCHEDULED", schedule="0 * * * *")
    fake.revisions[record["id"]].append(
        {"revision": 1, "deployment": record["id"], "job_definition": JD}
    )
    deployment = client.deployments.get(record["id"])
    base = f"/deployments/{record['id']}"

    assert deployment.update_replicas(0).replicas == 0
    assert (last(fake).method, last(fake).path, last(fake).json) == (
        "PATCH",
        f"{base}/update-replica-count",
        {"replicas": 0},
    )
    assert deployment.update_timeout(timedelta(hours=3)).timeout == 180
    assert (last(fake).path, last(fake).json) == (f"{base}/update-timeout", {"timeout": 180})
    assert deployment.update_schedule("*/5 * * * *").schedule == "*/5 * * * *"
    assert (last(fake).path, last(fake).json) == (
        f"{base}/update-schedule",
        {"schedule": "*/5 * * * *"},
    )
    assert deployment.rename("renamed").name == "renamed"
    assert (last(fake).path, last(fake).json) == (f"{base}/update-name", {"name": "renamed"})

    created = deployment.create_revision(JD)
    assert (last(fake).method, last(fake).path, last(fake).json) == (
        "POST",
        f"{base}/create-revision",
        JD,
    )
    assert created.active_revision == 2
    assert [r.revision for r in created.revisions] == [1, 2]
    assert deployment.state.active_revision == 2

    reply = deployment.set_active_revision(1)
    assert (last(fake).path, last(fake).json) == (
        f"{base}/update-active-revision",
        {"active_revision": 1},
    )
    assert reply.active_revision == 1
    assert deployment.state.active_revision == 1
    for request in fake.calls("PATCH"):
        assert request.headers["content-type"] == "application/json"


def test_vaults(client: NosanaClient, fake: FakeNosana, wallet: Wallet) -> None:
    shared = fake.shared_vault()
    infos = client.vaults.list()
    assert (last(fake).method, last(fake).path) == ("GET", "/deployments/vaults")
    assert infos == [VaultInfo.model_validate(shared)]
    assert infos[0].address == shared["vault"]
    assert not infos[0].is_api_key_vault
    vault = client.vaults.create()
    assert (last(fake).method, last(fake).path, last(fake).body) == (
        "POST",
        "/deployments/vaults/create",
        b"",
    )
    assert_signed(last(fake), wallet)
    assert vault.address == shared["vault"]


def test_stats_is_unauthenticated(client: NosanaClient, fake: FakeNosana) -> None:
    stats = client.stats()
    assert (last(fake).method, last(fake).path) == ("GET", "/stats")
    assert_no_credentials(last(fake))
    assert isinstance(stats, Stats)
    assert stats.jobs.listed == 3
    assert stats.tasks.average_time_ms == 12.5


def test_markets_carry_no_credentials(client: NosanaClient, fake: FakeNosana) -> None:
    markets = client.markets.list()
    assert (last(fake).method, last(fake).path) == ("GET", "/api/markets/")
    assert_no_credentials(last(fake))
    by_slug = client.markets.get("NVIDIA-3060")
    assert by_slug.address == MARKET_3060
    assert by_slug.nos_job_price_per_second == Decimal("0.000043")
    assert by_slug.job_price_base_units_per_second == Decimal("43")
    assert markets[1].model_extra == {"brand_new_field": {"kept": True}}


def test_markets_accepts_wrapped_list(client: NosanaClient, fake: FakeNosana) -> None:
    wrapped = {"markets": fake.markets}
    fake.markets = wrapped  # type: ignore[assignment]
    assert len(client.markets.list()) == 3


def test_pin_and_fetch_job_definition(fake: FakeNosana, wallet: Wallet) -> None:
    with sync_client(fake, wallet) as client:
        cid = client.jobs.pin_job_definition(JD)
        pin = last(fake)
        assert (pin.method, pin.path, pin.json) == (
            "POST",
            "/pinning/pinJSONToIPFS",
            {"pinataContent": JD},
        )
        assert_no_credentials(pin)  # no JWT configured: nothing sent, and never the wallet
        assert client.jobs.get_job_definition(cid) == JD
        assert (last(fake).method, last(fake).path) == ("GET", f"/ipfs/{cid}")
        assert_no_credentials(last(fake))


def test_pin_sends_the_jwt_only_to_the_pinning_service(fake: FakeNosana, wallet: Wallet) -> None:
    from dataclasses import replace

    import httpx

    from nosana_nb.core.config import local_network

    network = replace(local_network(), ipfs_jwt="pinata-jwt-value")
    with NosanaClient(network, wallet, transport=httpx.MockTransport(fake), env={}) as client:
        cid = client.jobs.pin_job_definition(JD)
        assert last(fake).headers["authorization"] == "Bearer pinata-jwt-value"
        client.jobs.get_job_definition(cid)
        assert_no_credentials(last(fake))
        client.markets.list()
        assert_no_credentials(last(fake))
        assert "pinata-jwt-value" not in repr(client)


def test_api_key_is_sent_on_create_only(fake: FakeNosana, wallet: Wallet) -> None:
    key = "nos_secret_key_123"
    with sync_client(fake, wallet, api_key=key) as client:
        deployment = client.deployments.create(
            name="credits", market=MARKET_3060, replicas=1, timeout=3600, job_definition=JD
        )  # credits pay: the pre-check reads the credits, not the (empty) vault
        deployment.refresh()
        client.vaults.list()
        (create,) = fake.calls("POST", "/deployments/create")
        assert create.headers["x-nosana-api"] == key
        assert_signed(create, wallet)
        others = [r for r in fake.requests if r is not create]
        assert others
        assert all("x-nosana-api" not in r.headers for r in others)
        # the market is checked to exist, and priced, from the public list (no credential); the
        # funds check reads the credits, never a vault over RPC
        market_lists = fake.calls("GET", "/api/markets/?")
        assert market_lists
        assert all("authorization" not in r.headers for r in market_lists)
        assert all(r.path != "/rpc" for r in fake.requests)
        (balance,) = fake.calls("GET", "/api/credits/balance")
        assert balance.headers["authorization"] == f"Bearer {key}"
        assert "x-user-id" not in balance.headers
        assert all(
            key not in r.headers.get("authorization", "") for r in others if r is not balance
        )
        assert key not in repr(client)
        assert key not in repr(client._dm)
