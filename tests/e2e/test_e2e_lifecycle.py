"""Every strategy's lifecycle and every status transition and refusal, through the client.

The state machine (wire-contract §7.1) is written out here independently of the client's
own ``ALLOWED_ACTIONS``: for each status the sandbox can reach, every action is tried on a
deployment in that status and must either succeed (checked in the store) or be refused with an
``InvalidStateError`` naming the current status and the actions the spec allows.

STARTING and STOPPING are observed deterministically by pausing the sandbox worker (the
"stuck without a worker" case, wire-contract §7.4); ERROR comes from letting a LIST fail until the
worker's retry cap (60) with simulated time; INSUFFICIENT_FUNDS by starting on an empty vault.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from solders.keypair import Keypair

from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import (
    ArchivedDeploymentError,
    IncorrectStrategyError,
    InvalidStateError,
)
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.validation import DeploymentStatus, JobState
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.sandbox.clock import parse_iso
from tests.e2e.conftest import (
    MARKET_3060,
    MARKET_4090,
    Account,
    AsyncAccount,
    async_wait_running,
    settle,
    wait_running,
)

Doc = dict[str, Any]
SECOND_DEFINITION = container_job("docker.io/library/python:3.12", ["python", "-V"])
BOGUS_MARKET = str(Keypair.from_seed(bytes(32)).pubkey())
"""A valid address that is no market: every LIST fails with an ordinary (non-funds) error."""
RETRY_CAP = 60

UPDATES = frozenset({"update-replica-count", "update-timeout", "update-name", "create-revision"})
# wire-contract §7.1: status -> actions the deployment manager accepts
SPEC_ALLOWED: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"start"}) | UPDATES,
    "STARTING": UPDATES,
    "RUNNING": frozenset({"stop"}) | UPDATES,
    "STOPPING": UPDATES,
    "STOPPED": frozenset({"start", "archive", "delete"}) | UPDATES,
    "INSUFFICIENT_FUNDS": frozenset({"start", "stop"}) | UPDATES,
    "ERROR": frozenset({"start", "stop"}) | UPDATES,
    "ARCHIVED": frozenset({"update-name"}),
}
STATE_ACTIONS = ("start", "stop", "archive", "delete")
ACTIONS: dict[str, Callable[[Deployment], object]] = {
    "start": lambda d: d.start(check_funds=False),
    "stop": lambda d: d.stop(),
    "archive": lambda d: d.archive(),
    "delete": lambda d: d.delete(),
    "update-replica-count": lambda d: d.update_replicas(2),
    "update-timeout": lambda d: d.update_timeout(timedelta(hours=1)),
    "update-name": lambda d: d.rename("renamed"),
    "create-revision": lambda d: d.create_revision(SECOND_DEFINITION),
}


@contextmanager
def worker_paused(sandbox: SandboxHandle) -> Iterator[None]:
    """No worker: STARTING and STOPPING stay put; the restarted worker resumes them."""
    sandbox.worker.stop()
    try:
        yield
    finally:
        sandbox.worker.start()


def _doc(sandbox: SandboxHandle, deployment: Deployment) -> Doc | None:
    return sandbox.store.find_one("deployments", id=deployment.id)


def _status(sandbox: SandboxHandle, deployment: Deployment) -> str:
    doc = _doc(sandbox, deployment)
    assert doc is not None
    return str(doc["status"])


def _jobs(sandbox: SandboxHandle, deployment: Deployment, *states: str) -> list[Doc]:
    return sandbox.store.find(
        "jobs", lambda j: not states or j["state"] in states, deployment=deployment.id
    )


def _assert_refused(deployment: Deployment, action: str, status: str) -> None:
    with pytest.raises(InvalidStateError) as caught:
        ACTIONS[action](deployment)
    error = caught.value
    archived_guard = status == "ARCHIVED" and action not in ("start", "delete")
    assert type(error) is (ArchivedDeploymentError if archived_guard else InvalidStateError)
    assert error.status_code == 500
    assert (error.status, error.action) == (status, action)
    text = str(error)
    assert f"Cannot {action} a deployment that is {status}." in text
    named = set(text.split(f"Allowed in {status}: ", 1)[1].rstrip(".").split(", "))
    assert named == set(error.allowed_actions)
    assert named >= SPEC_ALLOWED[status]
    assert named & set(STATE_ACTIONS) == SPEC_ALLOWED[status] & set(STATE_ACTIONS)


def _assert_allowed(sandbox: SandboxHandle, deployment: Deployment, action: str) -> None:
    before = _doc(sandbox, deployment)
    assert before is not None
    reply = ACTIONS[action](deployment)
    after = _doc(sandbox, deployment)
    if action == "delete":
        assert reply is None
        assert after is None
        return
    assert after is not None
    expected_status = {"start": "STARTING", "stop": "STOPPING", "archive": "ARCHIVED"}
    if action in expected_status:
        assert getattr(reply, "status", None) == expected_status[action]
        # the worker may already have moved on (STARTING -> RUNNING, STOPPING -> STOPPED)
        assert (
            after["status"]
            in {
                "STARTING": ("STARTING", "RUNNING", "INSUFFICIENT_FUNDS"),
                "STOPPING": ("STOPPING", "STOPPED"),
                "ARCHIVED": ("ARCHIVED",),
            }[expected_status[action]]
        )
    elif action == "update-replica-count":
        assert after["replicas"] == 2
    elif action == "update-timeout":
        assert after["timeout"] == 60
    elif action == "update-name":
        assert after["name"] == "renamed"
    else:
        assert after["active_revision"] == before["active_revision"] + 1


def _check_status(sandbox: SandboxHandle, pool: list[Deployment], status: str) -> None:
    """Try every action on deployments in ``status``: one per allowed state change."""
    assert len(pool) == 1 + len(SPEC_ALLOWED[status] & set(STATE_ACTIONS))
    for deployment in pool:
        assert _status(sandbox, deployment) == status, deployment.id
    fresh = iter(pool[1:])
    probe = pool[0]
    for action in ACTIONS:
        if action in SPEC_ALLOWED[status] and action in STATE_ACTIONS:
            _assert_allowed(sandbox, next(fresh), action)
        elif action in SPEC_ALLOWED[status]:
            continue  # updates: tried on the probe after every refusal
        else:
            _assert_refused(probe, action, status)
        assert _status(sandbox, probe) == status
    for action in sorted(SPEC_ALLOWED[status] & UPDATES):
        _assert_allowed(sandbox, probe, action)
    assert _status(sandbox, probe) == status


def test_every_status_transition_and_refusal(sandbox: SandboxHandle, account: Account) -> None:
    def pool(status: str) -> int:
        return 1 + len(SPEC_ALLOWED[status] & set(STATE_ACTIONS))

    def running(n: int) -> list[Deployment]:
        made = [account.deploy(name="sm", market=MARKET_3060) for _ in range(n)]
        for deployment in made:
            deployment.start()
            wait_running(deployment)
        return made

    # ERROR first: it moves the shared clock ten hours on
    failing = [
        account.deploy(name="no market", market=BOGUS_MARKET, check_funds=False, check_market=False)
        for _ in range(pool("ERROR"))
    ]
    for deployment in failing:
        deployment.start(check_funds=False)
        wait_running(deployment)
    sandbox.advance(10 * 3600)
    for deployment in failing:
        assert deployment.refresh().status is DeploymentStatus.ERROR
        errors = deployment.get_events(type="JOB_LIST_ERROR")
        assert errors.total_items == RETRY_CAP
        assert next(iter(errors)).message == f"Market {BOGUS_MARKET} does not exist"
        assert sandbox.store.count("tasks", deploymentId=deployment.id) == 0
    _check_status(sandbox, failing, "ERROR")

    _check_status(sandbox, [account.deploy(name="sm") for _ in range(pool("DRAFT"))], "DRAFT")
    _check_status(sandbox, running(pool("RUNNING")), "RUNNING")

    stopped = running(pool("STOPPED") + pool("ARCHIVED"))
    for deployment in stopped:
        deployment.stop()
    settle(sandbox)
    archived = stopped[pool("STOPPED") :]
    for deployment in archived:
        deployment.archive()
    _check_status(sandbox, stopped[: pool("STOPPED")], "STOPPED")
    _check_status(sandbox, archived, "ARCHIVED")

    broke = [
        account.deploy(name="broke", new_vault=True, check_funds=False)
        for _ in range(pool("INSUFFICIENT_FUNDS"))
    ]
    for deployment in broke:
        deployment.start(check_funds=False)
        deployment.wait_until("INSUFFICIENT_FUNDS", timeout=10, poll_interval=0.01)
        (event,) = deployment.get_events(type="JOB_LIST_ERROR")
        assert "InsufficientFundsForRent" in event.message
    _check_status(sandbox, broke, "INSUFFICIENT_FUNDS")

    starting_pool = [account.deploy(name="sm", market=MARKET_3060) for _ in range(pool("STARTING"))]
    stopping_pool = running(pool("STOPPING"))
    with worker_paused(sandbox):
        for deployment in starting_pool:
            assert deployment.start().status is DeploymentStatus.STARTING
        for deployment in stopping_pool:
            assert deployment.stop().status is DeploymentStatus.STOPPING
        _check_status(sandbox, starting_pool, "STARTING")
        _check_status(sandbox, stopping_pool, "STOPPING")
    # the worker comes back and resumes both: STARTING -> RUNNING, STOPPING -> STOPPED
    wait_running(starting_pool[0])
    stopping_pool[0].wait_until("STOPPED", timeout=10, poll_interval=0.01)
    assert _jobs(sandbox, stopping_pool[0], "QUEUED", "RUNNING") == []


def test_schedule_updates_need_scheduled_and_not_archived(account: Account) -> None:
    simple = account.deploy(name="simple")
    with pytest.raises(IncorrectStrategyError):
        simple.update_schedule("0 * * * *")
    cron = account.deploy(name="cron", strategy="SCHEDULED", schedule="0 * * * *")
    cron.start()
    wait_running(cron)
    cron.stop()
    cron.wait_until("STOPPED", timeout=10, poll_interval=0.01)
    assert cron.update_schedule("5 * * * *").schedule == "5 * * * *"
    cron.archive()
    with pytest.raises(ArchivedDeploymentError) as caught:
        cron.update_schedule("10 * * * *")
    assert caught.value.status == "ARCHIVED"


def test_insufficient_funds_recovers_after_a_top_up(
    sandbox: SandboxHandle, account: Account
) -> None:
    deployment = account.deploy(name="broke", new_vault=True, check_funds=False, market=MARKET_4090)
    deployment.start(check_funds=False)
    deployment.wait_until("INSUFFICIENT_FUNDS", timeout=10, poll_interval=0.01)
    assert _jobs(sandbox, deployment) == []
    deployment.vault.topup(sol="0.05", nos="5")
    sandbox.advance(600)  # the first retry on the funds ladder
    assert deployment.refresh().status is DeploymentStatus.RUNNING
    assert len(_jobs(sandbox, deployment)) == 1
    deployment.stop()
    settle(sandbox)
    assert deployment.refresh().status is DeploymentStatus.STOPPED


def test_simple_stops_after_its_jobs_end(own_sandbox: SandboxHandle, own_account: Account) -> None:
    sandbox, account = own_sandbox, own_account
    deployment = account.deploy(name="simple", replicas=2, market=MARKET_4090)
    deployment.start()
    wait_running(deployment)
    settle(sandbox)
    listed = _jobs(sandbox, deployment)
    assert [j["state"] for j in listed] == ["QUEUED", "QUEUED"]
    sandbox.advance(61)  # nodes claim within 5-60 s
    assert {j.state for j in deployment.get_jobs()} == {JobState.RUNNING}
    assert deployment.refresh().status is DeploymentStatus.RUNNING
    sandbox.advance(10 * 60)  # the jobs' timeout
    assert deployment.refresh().status is DeploymentStatus.STOPPED
    ended = _jobs(sandbox, deployment)
    assert {j["state"] for j in ended} == {"COMPLETED"}
    for job in ended:
        assert 0 < job["time_end"] - job["time_start"] <= 600
    assert {j.state for j in deployment.get_jobs()} == {JobState.COMPLETED}
    assert deployment.state.active_jobs == 0


async def test_simple_lifecycle_async(
    sandbox: SandboxHandle, new_async_account: Callable[..., Any]
) -> None:
    account: AsyncAccount = await new_async_account()
    deployment = await account.client.deployments.create(
        name="async simple",
        market=MARKET_4090,
        replicas=1,
        timeout=timedelta(minutes=10),
        strategy="SIMPLE",
        job_definition=SECOND_DEFINITION,
    )
    assert (await deployment.start()).status is DeploymentStatus.STARTING
    await async_wait_running(deployment)
    sandbox.advance(61 + 600)
    state = await deployment.refresh()
    assert state.status is DeploymentStatus.STOPPED
    assert [j.state for j in state.jobs] == [JobState.COMPLETED]
    assert (await deployment.archive()).status is DeploymentStatus.ARCHIVED


def test_simple_extend_runs_past_its_timeout(
    own_sandbox: SandboxHandle, own_account: Account
) -> None:
    sandbox, account = own_sandbox, own_account
    deployment = account.deploy(
        name="extend", strategy="SIMPLE-EXTEND", replicas=3, market=MARKET_4090
    )
    deployment.start()
    wait_running(deployment)
    sandbox.advance(61)
    jobs = _jobs(sandbox, deployment)
    assert {j["state"] for j in jobs} == {"RUNNING"}
    steady = [j for j in jobs if j["run_seconds"] is None]
    assert steady, "the seeded network must give at least one job that runs to its timeout"
    sandbox.advance(30 * 60)
    now = sandbox.clock.now()
    extensions = 0
    for job in steady:
        current = sandbox.store.find_one("jobs", job=job["job"])
        assert current is not None
        assert current["state"] == "RUNNING"
        assert now - current["time_start"] > 600 * 2  # well past the 10-minute timeout
        # first extension at T - 60 s, then every T: each adds T = 600 s
        expected = 1 + math.floor((now - current["time_start"] - 540) / 600)
        assert current["timeout_s"] == 600 * (1 + expected)
        extensions += expected
    early = [j for j in jobs if j["run_seconds"] is not None]
    for job in early:  # a job that exits by itself is not replaced
        current = sandbox.store.find_one("jobs", job=job["job"])
        assert current is not None
        assert current["state"] == "COMPLETED"
    done = deployment.get_events(type="JOB_EXTEND_SUCCESSFUL").to_list()
    assert len(done) >= extensions
    assert deployment.refresh().status is DeploymentStatus.RUNNING
    assert len(deployment.get_jobs().to_list()) == 3
    deployment.stop()
    settle(sandbox)
    assert deployment.refresh().status is DeploymentStatus.STOPPED
    assert _jobs(sandbox, deployment, "RUNNING", "QUEUED") == []


def test_scheduled_fires_on_the_cron_and_runs_between(
    sandbox: SandboxHandle, account: Account
) -> None:
    deployment = account.deploy(
        name="hourly", strategy="SCHEDULED", schedule="0 * * * *", replicas=2, market=MARKET_4090
    )
    deployment.start()
    wait_running(deployment)  # RUNNING at once, before any job exists
    settle(sandbox)
    assert _jobs(sandbox, deployment) == []
    now = sandbox.clock.now()
    firing = (math.floor(now / 3600) + 1) * 3600
    (task,) = deployment.get_tasks().to_list()
    assert task.task == "LIST"
    assert task.due_at is not None
    assert task.due_at.timestamp() == firing

    sandbox.advance(firing - now + 1)
    first = _jobs(sandbox, deployment)
    assert len(first) == 2
    assert {parse_iso(j["created_at"]) for j in first} == {firing}
    sandbox.advance(30 * 60)  # the jobs (10 minutes) are over, the deployment keeps RUNNING
    assert {j["state"] for j in _jobs(sandbox, deployment)} == {"COMPLETED"}
    state = deployment.refresh()
    assert state.status is DeploymentStatus.RUNNING
    assert state.active_jobs == 0
    sandbox.advance(firing + 3600 - sandbox.clock.now() + 1)
    second = [j for j in _jobs(sandbox, deployment) if j["job"] not in {f["job"] for f in first}]
    assert len(second) == 2
    assert {parse_iso(j["created_at"]) for j in second} == {firing + 3600}
    assert deployment.get_events(type="JOB_LIST_CONFIRMED").total_items == 4
    deployment.stop()
    settle(sandbox)
    assert deployment.refresh().status is DeploymentStatus.STOPPED


def test_infinite_rotates_its_jobs(own_sandbox: SandboxHandle, own_account: Account) -> None:
    sandbox, account = own_sandbox, own_account
    deployment = account.deploy(
        name="forever",
        strategy="INFINITE",
        replicas=1,
        timeout=timedelta(hours=1),
        rotation_time=timedelta(minutes=20),
        market=MARKET_4090,
    )
    deployment.start()
    wait_running(deployment)
    sandbox.advance(61)
    (first,) = _jobs(sandbox, deployment)
    assert first["state"] == "RUNNING"
    assert first["run_seconds"] is None, "the seeded network must let this job run to timeout"
    rotation_due = first["time_start"] + 40 * 60  # timeout - rotation_time
    rotation = [t for t in deployment.get_tasks(task="LIST") if t.job == first["job"]]
    assert [t.due_at.timestamp() for t in rotation if t.due_at] == [rotation_due]

    sandbox.advance(rotation_due - sandbox.clock.now() + 1)
    jobs = _jobs(sandbox, deployment)
    assert len(jobs) == 2  # the replacement is listed while the first still runs
    sandbox.advance(61)  # the replacement is claimed; the surplus (the oldest) is stopped
    old = sandbox.store.find_one("jobs", job=first["job"])
    assert old is not None
    assert old["state"] == "STOPPED"
    assert old["time_end"] < first["time_start"] + 3600
    (replacement,) = _jobs(sandbox, deployment, "RUNNING")
    assert replacement["job"] != first["job"]
    assert deployment.refresh().status is DeploymentStatus.RUNNING
    stopped = deployment.get_events(type="JOB_STOPPED_CONFIRMED").to_list()
    assert [e.message.split(" ")[3].rstrip(".") for e in stopped] == [first["job"]]
    deployment.stop()
    settle(sandbox)
    assert deployment.refresh().status is DeploymentStatus.STOPPED
