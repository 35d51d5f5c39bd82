"""Every public client call once against a live sandbox, answers checked against its store.

The expected answer of each list filter is computed from the sandbox's own documents
(``sandbox.store.find``), so a client that sends a filter wrong, or parses a field wrong,
disagrees with the store and fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from nosana_nb.core.auth import WalletAuth
from nosana_nb.core.errors import BadRequestError, JobNotFoundError
from nosana_nb.core.jobdef import cid_v0, container_job
from nosana_nb.core.models import DeploymentMessage, JobMessage, Stats, TaskMessage
from nosana_nb.core.validation import DeploymentStatus, JobState, TaskType
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.sandbox.clock import parse_iso
from nosana_nb.sandbox.worker.markets import MARKETS
from tests.e2e.conftest import (
    JOB_DEFINITION,
    MARKET_3060,
    MARKET_3090,
    Account,
    settle,
    stored,
    wait_running,
)

Doc = dict[str, Any]


def _owned(sandbox: SandboxHandle, account: Account) -> list[Doc]:
    return sandbox.store.find("deployments", owner=account.wallet.address)


def _ids(docs: list[Doc]) -> set[str]:
    return {str(d["id"]) for d in docs}


def _at(doc: Doc) -> datetime:
    return datetime.fromtimestamp(parse_iso(str(doc["created_at"])), UTC)


def test_list_with_every_filter(sandbox: SandboxHandle, account: Account) -> None:
    alpha = account.deploy(name="Alpha run")
    sandbox.advance(60)
    beta = account.deploy(name="beta-ALPHA", strategy="SCHEDULED", schedule="0 * * * *")
    sandbox.advance(60)
    gamma = account.deploy(name="gamma", new_vault=True, check_funds=False)
    sandbox.advance(60)
    delta = account.deploy(name="delta", strategy="INFINITE", timeout=timedelta(hours=1))
    delta.start()
    wait_running(delta)
    deployments = account.client.deployments
    docs = _owned(sandbox, account)
    assert len(docs) == 4

    def listed(**filters: Any) -> set[str]:
        return {d.id for d in deployments.list(**filters)}

    def expect(keep: Callable[[Doc], bool]) -> set[str]:
        return _ids([d for d in docs if keep(d)])

    assert listed() == _ids(docs)
    assert listed(search="alpha") == expect(lambda d: "alpha" in d["name"].lower())
    assert listed(search="alpha") == {alpha.id, beta.id}
    assert listed(search=gamma.id[5:15]) == {gamma.id}  # id substrings match too
    assert listed(status=["DRAFT", "RUNNING"]) == _ids(docs)
    assert listed(status="RUNNING") == expect(lambda d: d["status"] == "RUNNING") == {delta.id}
    assert listed(strategy="SCHEDULED") == {beta.id}
    assert listed(strategy=["SIMPLE", "INFINITE"]) == {alpha.id, gamma.id, delta.id}
    assert listed(id=[alpha.id, gamma.id]) == {alpha.id, gamma.id}
    assert listed(id=delta.id) == {delta.id}
    assert listed(name="gamma") == {gamma.id}
    assert listed(name="Gamma") == set()  # exact match
    assert listed(vault=gamma.state.vault) == {gamma.id}
    assert gamma.state.vault != account.vault.address
    assert listed(vault=account.vault.address) == {alpha.id, beta.id, delta.id}
    beta_at = _at(next(d for d in docs if d["id"] == beta.id))
    assert listed(created_after=beta_at) == expect(lambda d: _at(d) >= beta_at)
    assert listed(created_after=beta_at) == {beta.id, gamma.id, delta.id}  # inclusive
    assert listed(created_before=beta_at) == {alpha.id, beta.id}
    assert listed(created_after=beta_at, created_before=beta_at) == {beta.id}
    # a list's deployment carries the same fields as get()
    first = next(iter(deployments.list(id=alpha.id)))
    assert first.state.model_dump(exclude={"events", "jobs"}) == deployments.get(
        alpha.id
    ).state.model_dump(exclude={"events", "jobs"})
    delta.stop()


def test_create_variants(sandbox: SandboxHandle, account: Account) -> None:
    cid = account.client.jobs.pin_job_definition(JOB_DEFINITION)
    from_hash = account.deploy(name="from-hash", ipfs_definition_hash=cid)
    from_definition = account.deploy(name="from-definition")
    for made in (from_hash, from_definition):
        (revision,) = sandbox.store.find("revisions", deployment=made.id)
        stored_definition = revision["job_definition"]
        assert stored_definition["ops"] == JOB_DEFINITION["ops"]
        assert stored_definition["deployment_id"] == made.id
        assert stored_definition["meta"]["trigger"] == "deployment-manager"

    explicit = account.deploy(name="explicit-vault", vault=account.vault.address)
    assert explicit.state.vault == account.vault.address
    fresh = account.deploy(name="fresh-vault", new_vault=True)
    assert fresh.state.vault not in (account.vault.address, account.wallet.address)
    assert stored(sandbox, "vaults", vault=fresh.state.vault)["owner"] == (account.wallet.address)

    auto = account.deploy(name="autostart", autostart=True, market=MARKET_3090)
    assert auto.state.status in (DeploymentStatus.STARTING, DeploymentStatus.RUNNING)
    wait_running(auto)
    settle(sandbox)
    assert sandbox.store.count("jobs", deployment=auto.id) == 1

    secret = account.deploy(name="confidential", confidential=True)
    assert secret.state.confidential is True
    assert stored(sandbox, "deployments", id=secret.id)["confidential"] is True

    scheduled = account.deploy(name="cron", strategy="SCHEDULED", schedule="15 3 * * 1")
    assert scheduled.state.schedule == "15 3 * * 1"
    assert scheduled.state.rotation_time is None
    infinite = account.deploy(
        name="forever",
        strategy="INFINITE",
        timeout=timedelta(hours=2),
        rotation_time=timedelta(minutes=15),
    )
    assert infinite.state.rotation_time == 15
    assert infinite.state.schedule is None
    infinite_doc = stored(sandbox, "deployments", id=infinite.id)
    assert (infinite_doc["timeout"], infinite_doc["rotation_time"]) == (120, 15)
    assert "rotation_time" not in stored(sandbox, "deployments", id=scheduled.id)
    auto.stop()


def test_revisions_updates_and_actions(sandbox: SandboxHandle, account: Account) -> None:
    deployment = account.deploy(name="revisions", strategy="SCHEDULED", schedule="0 0 * * *")
    second = container_job("docker.io/library/python:3.12", ["python", "-m", "http.server"])
    created = deployment.create_revision(second)
    assert created.active_revision == 2
    assert [r.revision for r in created.revisions] == [1, 2]
    stored_revisions = sandbox.store.find("revisions", deployment=deployment.id)
    assert [r["ipfs_definition_hash"] for r in stored_revisions] == [
        r.ipfs_definition_hash for r in created.revisions
    ]
    revisions = deployment.get_revisions(sort_order="asc").to_list()
    assert [r.revision for r in revisions] == [1, 2]
    assert revisions[1].job_definition["ops"] == second["ops"]
    assert deployment.set_active_revision(1).active_revision == 1
    assert stored(sandbox, "deployments", id=deployment.id)["active_revision"] == 1
    assert deployment.state.active_revision == 1

    assert deployment.update_replicas(4).replicas == 4
    assert deployment.update_timeout(timedelta(hours=3)).timeout == 180
    assert deployment.update_schedule("30 6 * * *").schedule == "30 6 * * *"
    assert deployment.rename("renamed").name == "renamed"
    doc = stored(sandbox, "deployments", id=deployment.id)
    assert (doc["replicas"], doc["timeout"], doc["schedule"], doc["name"]) == (
        4,
        180,
        "30 6 * * *",
        "renamed",
    )

    assert deployment.start(check_funds=False).status is DeploymentStatus.STARTING
    wait_running(deployment)
    assert deployment.stop().status is DeploymentStatus.STOPPING
    settle(sandbox)
    assert deployment.refresh().status is DeploymentStatus.STOPPED
    assert deployment.archive().status is DeploymentStatus.ARCHIVED
    assert deployment.rename("archived but renamed").name == "archived but renamed"
    assert stored(sandbox, "deployments", id=deployment.id)["name"] == ("archived but renamed")

    doomed = account.deploy(name="doomed")
    doomed.start()
    wait_running(doomed)
    doomed.stop()
    settle(sandbox)
    assert doomed.refresh().status is DeploymentStatus.STOPPED
    assert sandbox.store.count("jobs", deployment=doomed.id) == 1
    doomed.delete()
    for collection, key in (("deployments", "id"), ("jobs", "deployment")):
        assert sandbox.store.count(collection, **{key: doomed.id}) == 0
    assert sandbox.store.count("revisions", deployment=doomed.id) == 0
    assert sandbox.store.count("events", deploymentId=doomed.id) == 0
    assert doomed.id not in {d.id for d in account.client.deployments.list()}


def test_jobs_events_tasks_and_job_detail(own_sandbox: SandboxHandle, own_account: Account) -> None:
    sandbox, account = own_sandbox, own_account
    deployment = account.deploy(
        name="extend", strategy="SIMPLE-EXTEND", replicas=3, market=MARKET_3090
    )
    deployment.start()
    wait_running(deployment)
    sandbox.advance(61)  # claims come 5-60 s after listing
    stored_jobs = sandbox.store.find("jobs", deployment=deployment.id)
    assert len(stored_jobs) == 3
    assert {j["state"] for j in stored_jobs} == {"RUNNING"}

    jobs = deployment.get_jobs().to_list()
    assert {j.job for j in jobs} == {j["job"] for j in stored_jobs}
    by_job = {j["job"]: j for j in stored_jobs}
    for job in jobs:
        job_doc = by_job[job.job]
        assert (job.node, job.time_start, job.tx) == (
            job_doc["node"],
            job_doc["time_start"],
            job_doc["tx"],
        )
        assert job.state is JobState.RUNNING
    assert deployment.get_jobs(state=["QUEUED"]).to_list() == []
    assert len(deployment.get_jobs(state=["RUNNING", "COMPLETED"]).to_list()) == 3
    one = jobs[0].job
    assert [j.job for j in deployment.get_jobs(job=one)] == [one]
    with pytest.raises(BadRequestError, match="revision must be number"):
        deployment.get_jobs(revision=1).to_list()  # the service's quirk (wire-contract §5.4)

    detail = deployment.get_job(one)
    assert detail.state is JobState.RUNNING
    raw = httpx.get(
        f"{sandbox.api_url}/deployments/{deployment.id}/jobs/{one}",
        auth=WalletAuth(account.wallet),
        timeout=10,
    ).json()
    assert (raw["state"], raw["timeStart"]) == (1, detail.time_start)  # numeric on the wire
    assert (detail.node, detail.time_start) == (by_job[one]["node"], by_job[one]["time_start"])
    assert detail.job_definition is not None
    assert detail.job_definition["ops"] == JOB_DEFINITION["ops"]
    missing = str(Keypair().pubkey())
    with pytest.raises(JobNotFoundError):
        deployment.get_job(missing)

    stored_tasks = sandbox.store.find("tasks", deploymentId=deployment.id)
    assert {t["task"] for t in stored_tasks} == {"EXTEND"}
    tasks = deployment.get_tasks().to_list()
    assert sorted((t.job, t.task) for t in tasks) == sorted(
        (t["job"], TaskType(t["task"])) for t in stored_tasks
    )
    assert deployment.get_tasks(task="LIST").to_list() == []
    due_times = sorted(datetime.fromtimestamp(parse_iso(t["due_at"]), UTC) for t in stored_tasks)
    assert len(deployment.get_tasks(task=["EXTEND"], due_after=due_times[-1]).to_list()) == sum(
        1 for due in due_times if due >= due_times[-1]
    )
    assert len(deployment.get_tasks(due_before=due_times[0]).to_list()) == sum(
        1 for due in due_times if due <= due_times[0]
    )

    events = deployment.get_events(type="JOB_LIST_CONFIRMED").to_list()
    stored_events = sandbox.store.find("events", deploymentId=deployment.id)
    assert sorted(e.message for e in events) == sorted(
        e["message"] for e in stored_events if e["type"] == "JOB_LIST_CONFIRMED"
    )
    assert {e.tx for e in events} == {j["tx"] for j in stored_jobs}
    assert deployment.get_events(type="JOB_EXTEND_SUCCESSFUL").to_list() == []
    deployment.stop()
    settle(sandbox)


def test_header_is_signed_by_the_vault(sandbox: SandboxHandle, account: Account) -> None:
    deployment = account.deploy(name="header")
    vault = Pubkey.from_string(deployment.state.vault)
    message, signature = deployment.get_header().split(":")
    assert message == "DEPLOYMENT_HEADER"
    assert Signature.from_string(signature).verify(vault, message.encode())
    custom, signed, stamp = deployment.get_header(message="hello", include_time=True).split(":")
    assert custom == "hello"
    assert Signature.from_string(signed).verify(vault, b"hello")
    assert abs(int(stamp) - time.time() * 1000) < 60_000
    # not the owner's key: the wallet's signature over the same message differs
    assert not Signature.from_string(signed).verify(account.wallet.pubkey, b"hello")


def test_stream_starts_with_a_snapshot(sandbox: SandboxHandle, account: Account) -> None:
    deployment = account.deploy(name="stream", replicas=2, market=MARKET_3090)
    deployment.start()
    wait_running(deployment)
    settle(sandbox)
    active = sandbox.store.find("jobs", deployment=deployment.id)
    messages = deployment.stream(read_timeout=10)
    try:
        first = next(messages)
        assert isinstance(first, DeploymentMessage)
        assert (first.status, first.replicas) == (DeploymentStatus.RUNNING, 2)
        jobs = [next(messages), next(messages)]
    finally:
        messages.close()  # type: ignore[attr-defined]
    assert all(isinstance(m, JobMessage) for m in jobs)
    assert [m.job for m in jobs if isinstance(m, JobMessage)] == [j["job"] for j in active]
    assert not any(isinstance(m, TaskMessage) for m in jobs)
    deployment.stop()


def test_vaults_list_create_get(sandbox: SandboxHandle, account: Account) -> None:
    shared = account.client.vaults.create()
    assert shared.address == account.vault.address  # get-or-create: the same shared vault
    account.deploy(name="own vault", new_vault=True, check_funds=False)
    listed = account.client.vaults.list()
    vault_docs = sandbox.store.find("vaults", owner=account.wallet.address)
    assert {v.vault for v in listed} == {v["vault"] for v in vault_docs}
    assert len(listed) == 2
    assert all(v.owner == account.wallet.address and not v.is_api_key_vault for v in listed)
    balance = account.client.vaults.get(shared.address).get_balance()
    assert balance.lamports == sandbox.chain.sol_balance(shared.address)
    assert balance.nos == Decimal(sandbox.chain.nos_balance(shared.address)) / 10**6


def test_stats_markets_and_job_definitions(sandbox: SandboxHandle, account: Account) -> None:
    settle(sandbox)
    stats = account.client.stats()
    assert isinstance(stats, Stats)
    expected = sandbox.worker.stats()
    assert stats.jobs.listed == expected["jobs"]["listed"]
    assert stats.tasks.successful == expected["tasks"]["successful"]

    markets = account.client.markets.list()
    assert [m.address for m in markets] == [m.address for m in MARKETS]
    market = account.client.markets.get("nvidia-3060")
    assert market.address == MARKET_3060
    assert market.job_price_base_units_per_second == MARKETS[0].job_price
    estimate = account.client.markets.estimate(MARKET_3060, replicas=2, timeout=timedelta(hours=1))
    assert estimate.nos_base_units == MARKETS[0].job_price * 2 * 3600
    assert estimate.nos_base_units_with_fee == estimate.nos_base_units * 110 // 100

    definition = container_job("docker.io/library/alpine:3", ["echo", "pinned"], gpu=False)
    cid = account.client.jobs.pin_job_definition(definition)
    assert cid == cid_v0(definition)
    assert account.client.jobs.get_job_definition(cid) == definition
