"""The sandbox worker end to end on Store + Chain + Worker with a manual clock (no HTTP).

The harness writes deployment documents the way the sandbox API does (create -> DRAFT,
start -> STARTING, stop -> STOPPING, update-* -> the field and ``updated_at``), and the worker
does the rest.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from nosana_nb.sandbox.chain.chain import Chain
from nosana_nb.sandbox.clock import Clock, iso, parse_iso
from nosana_nb.sandbox.store import Change, Store
from nosana_nb.sandbox.worker.credits import MICRO, CreditLedger, credit_account, micro_usd
from nosana_nb.sandbox.worker.markets import MARKETS
from nosana_nb.sandbox.worker.worker import Worker, WorkerConfig

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, on an hour boundary for cron tests
MARKET = next(m for m in MARKETS if m.slug == "nvidia-3060")
PRICE = MARKET.job_price
NOS = 10**6
SOL = 10**9
EXACT = WorkerConfig(early_exit_probability=0.0)
"""Every container runs to its timeout, so job end times are exact."""


class Sandbox:
    def __init__(
        self, path: str | Path = ":memory:", *, seed: int = 0, config: WorkerConfig = EXACT
    ) -> None:
        self.clock = Clock.manual(START)
        self.store = Store(path)
        self.chain = Chain(self.store, clock=self.clock)
        self.worker = Worker(self.store, self.chain, self.clock, seed=seed, config=config)
        self.owner = str(Keypair().pubkey())

    def close(self) -> None:
        self.worker.stop()
        self.store.close()

    # -- what the API would write ---------------------------------------------------------
    def vault(self, *, nos: int, sol: int = SOL) -> str:
        keypair = Keypair()
        address = str(keypair.pubkey())
        self.store.insert(
            "vaults",
            {
                "vault": address,
                "vault_key": bytes(keypair).hex(),
                "owner": self.owner,
                "created_at": self.clock.now_iso(),
            },
        )
        if sol:
            self.chain.airdrop(address, sol)
        if nos:
            self.chain.mint_nos(address, nos)
        return address

    def create(
        self,
        strategy: str,
        *,
        replicas: int = 1,
        timeout: int = 10,
        vault: str | None = None,
        market: str = MARKET.address,
        **extra: Any,
    ) -> str:
        now = self.clock.now_iso()
        deployment_id = str(Keypair().pubkey())
        self.store.insert(
            "deployments",
            {
                "id": deployment_id,
                "name": f"test {strategy}",
                "vault": vault or self.vault(nos=1_000 * NOS),
                "market": market,
                "owner": self.owner,
                "status": "DRAFT",
                "replicas": replicas,
                "timeout": timeout,
                "endpoints": [],
                "confidential": False,
                "active_revision": 1,
                "created_at": now,
                "updated_at": now,
                "strategy": strategy,
                **extra,
            },
        )
        return deployment_id

    def api_update(self, deployment_id: str, **fields: Any) -> None:
        doc = self.deployment(deployment_id)
        self.store.update("deployments", doc["_id"], {**fields, "updated_at": self.clock.now_iso()})

    def start(self, deployment_id: str) -> None:
        self.api_update(deployment_id, status="STARTING")

    def stop(self, deployment_id: str) -> None:
        self.api_update(deployment_id, status="STOPPING")

    # -- reads ------------------------------------------------------------------------------
    def deployment(self, deployment_id: str) -> dict[str, Any]:
        doc = self.store.find_one("deployments", id=deployment_id)
        assert doc is not None
        return doc

    def status(self, deployment_id: str) -> str:
        return str(self.deployment(deployment_id)["status"])

    def jobs(self, deployment_id: str, state: str | None = None) -> list[dict[str, Any]]:
        found = self.store.find("jobs", deployment=deployment_id)
        return [j for j in found if state is None or j["state"] == state]

    def tasks(self, deployment_id: str, task: str | None = None) -> list[dict[str, Any]]:
        found = self.store.find("tasks", deploymentId=deployment_id)
        return [t for t in found if task is None or t["task"] == task]

    def events(self, deployment_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        found = self.store.find("events", deploymentId=deployment_id)
        return [e for e in found if event_type is None or e["type"] == event_type]

    def elapsed(self) -> float:
        return self.clock.now() - START


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    yield box
    box.close()


def timeline(box: Sandbox, deployment_id: str) -> list[tuple[Any, ...]]:
    return [
        (j["job"], j["node"], j["state"], j["time_start"], j["time_end"], j["revision"])
        for j in box.jobs(deployment_id)
    ]


def assert_money_adds_up(box: Sandbox, vault: str, funded: int) -> None:
    """paid + refunded == escrowed for every ended job, every deposit paid its 10 % network
    fee (never refunded), and the chain agrees."""
    jobs = box.store.find("jobs", vault=vault)
    for job in jobs:
        assert 0 < job["fees_paid"] <= job["escrowed"] // 10, job  # Σ ⌊deposit / 10⌋
        if job["state"] in ("COMPLETED", "STOPPED"):
            assert job["paid"] + job["refunded"] == job["escrowed"], job
            assert job["paid"] == PRICE * min(
                max(0, job["time_end"] - job["time_start"]) if job["time_start"] else 0,
                job["timeout_s"],
            )
    held = sum(j["escrowed"] for j in jobs if j["state"] in ("QUEUED", "RUNNING"))
    paid = sum(j["paid"] for j in jobs if j["state"] in ("COMPLETED", "STOPPED"))
    fees = sum(j["fees_paid"] for j in jobs)
    assert box.chain.nos_balance(vault) == funded - paid - held - fees


# -- SIMPLE -----------------------------------------------------------------------------------
def test_simple_runs_to_completion_then_stops(sandbox: Sandbox) -> None:
    funded = 1_000 * NOS
    vault = sandbox.vault(nos=funded)
    dep = sandbox.create("SIMPLE", replicas=2, timeout=10, vault=vault)
    order: list[str] = []

    def watch(change: Change) -> None:
        if change.collection == "deployments" and "status" in change.changed:
            order.append(f"status:{change.after['status'] if change.after else None}")
        elif change.collection == "jobs" and change.op == "insert":
            order.append("job")

    sandbox.store.subscribe(watch)
    sandbox.start(dep)
    sandbox.worker.run_pending()

    assert order[:2] == ["status:STARTING", "status:RUNNING"]  # RUNNING before any job
    assert order.count("job") == 2
    queued = sandbox.jobs(dep, "QUEUED")
    assert len(queued) == 2
    for job in queued:
        assert job["node"] is None
        assert job["time_start"] == 0
        assert job["revision"] == 1
        assert job["escrowed"] == PRICE * 600
        assert job["timeout_s"] == 600
    confirmed = sandbox.events(dep, "JOB_LIST_CONFIRMED")
    assert [e["message"] for e in confirmed] == [
        f"Successfully listed job - {j['job']}" for j in queued
    ]
    assert [e["tx"] for e in confirmed] == [j["tx"] for j in queued]
    assert sandbox.tasks(dep) == []

    sandbox.worker.advance(61)  # claims come 5-60 s after listing
    running = sandbox.jobs(dep, "RUNNING")
    assert len(running) == 2
    assert {j["node"] for j in running} <= set(sandbox.worker.network.nodes(MARKET.address))
    assert sandbox.worker.idle_nodes(MARKET.address) == MARKET.nodes - 2

    sandbox.worker.advance(600)
    completed = sandbox.jobs(dep, "COMPLETED")
    assert len(completed) == 2
    for job in completed:
        assert job["time_end"] == job["time_start"] + 600
        assert (job["paid"], job["refunded"]) == (PRICE * 600, 0)
    assert sandbox.status(dep) == "STOPPED"
    assert sandbox.worker.idle_nodes(MARKET.address) == MARKET.nodes
    assert_money_adds_up(sandbox, vault, funded)
    types = {e["type"] for e in sandbox.events(dep)}
    assert types == {"JOB_LIST_CONFIRMED"}  # nothing for API actions or completions


def test_replicas_scale_up_and_down_while_running(sandbox: Sandbox) -> None:
    dep = sandbox.create("SIMPLE", replicas=2, timeout=60)
    sandbox.start(dep)
    sandbox.worker.advance(120)
    assert len(sandbox.jobs(dep, "RUNNING")) == 2

    sandbox.api_update(dep, replicas=4)
    sandbox.worker.run_pending()
    assert len(sandbox.jobs(dep, "QUEUED")) == 2
    assert len(sandbox.jobs(dep)) == 4

    oldest_running = min(sandbox.jobs(dep, "RUNNING"), key=lambda j: (j["updated_at"], j["_id"]))
    sandbox.api_update(dep, replicas=1)  # STOP {limit: 3}: both QUEUED, then the oldest RUNNING
    sandbox.worker.run_pending()
    stopped = sandbox.jobs(dep, "STOPPED")
    assert len(stopped) == 3
    assert oldest_running["job"] in {j["job"] for j in stopped}
    assert sum(1 for j in stopped if j["time_start"] == 0) == 2  # the delisted ones
    for job in stopped:
        if job["time_start"] == 0:
            assert (job["paid"], job["refunded"]) == (0, job["escrowed"])
    messages = [e["message"] for e in sandbox.events(dep, "JOB_STOPPED_CONFIRMED")]
    assert len(messages) == 3
    assert all(m.startswith("Successfully stopped job ") and ". TX " in m for m in messages)
    assert len(sandbox.jobs(dep, "RUNNING")) == 1
    assert sandbox.status(dep) == "RUNNING"

    sandbox.api_update(dep, replicas=0)  # scaling SIMPLE to zero ends the deployment
    sandbox.worker.run_pending()
    assert sandbox.jobs(dep, "RUNNING") == []
    assert sandbox.status(dep) == "STOPPED"


def test_stop_goes_through_stopping_to_stopped(sandbox: Sandbox) -> None:
    funded = 1_000 * NOS
    vault = sandbox.vault(nos=funded)
    dep = sandbox.create("SIMPLE", replicas=3, timeout=60, vault=vault)
    sandbox.start(dep)
    sandbox.worker.advance(300)
    sandbox.stop(dep)
    assert sandbox.status(dep) == "STOPPING"
    sandbox.worker.run_pending()
    assert sandbox.status(dep) == "STOPPED"
    assert {j["state"] for j in sandbox.jobs(dep)} == {"STOPPED"}
    for job in sandbox.jobs(dep):
        assert job["time_end"] == int(sandbox.clock.now())
        assert job["paid"] == PRICE * (job["time_end"] - job["time_start"])
    assert sandbox.tasks(dep) == []
    assert_money_adds_up(sandbox, vault, funded)


def test_stop_with_nothing_running_still_reaches_stopped(sandbox: Sandbox) -> None:
    dep = sandbox.create("SCHEDULED", replicas=1, timeout=10, schedule="0 0 * * *")
    sandbox.start(dep)
    sandbox.worker.run_pending()
    assert sandbox.status(dep) == "RUNNING"
    assert sandbox.jobs(dep) == []
    sandbox.stop(dep)
    sandbox.worker.run_pending()
    assert sandbox.status(dep) == "STOPPED"
    assert sandbox.tasks(dep) == []  # the full STOP dropped the pending firing
    assert sandbox.events(dep) == []


# -- SIMPLE-EXTEND ----------------------------------------------------------------------------
def test_simple_extend_extends_on_time_and_stops(sandbox: Sandbox) -> None:
    funded = 1_000 * NOS
    vault = sandbox.vault(nos=funded)
    dep = sandbox.create("SIMPLE-EXTEND", replicas=1, timeout=10, vault=vault)
    sandbox.start(dep)
    sandbox.worker.advance(61)
    (job,) = sandbox.jobs(dep, "RUNNING")
    started = job["time_start"]
    (extend,) = sandbox.tasks(dep, "EXTEND")
    assert parse_iso(extend["due_at"]) == started + 600 - 60  # T - clamp(0.1 T, 60, 300)

    sandbox.clock.set(started + 539)
    sandbox.worker.run_pending()
    assert sandbox.events(dep, "JOB_EXTEND_SUCCESSFUL") == []
    sandbox.worker.advance(1)
    (event,) = sandbox.events(dep, "JOB_EXTEND_SUCCESSFUL")
    assert event["message"] == f"Successfully extended job - TX {event['tx']}"
    assert event["created_at"] == iso(started + 540)
    job = sandbox.jobs(dep)[0]
    assert (job["timeout_s"], job["escrowed"]) == (1200, PRICE * 1200)
    (extend,) = sandbox.tasks(dep, "EXTEND")
    assert parse_iso(extend["due_at"]) == started + 540 + 600  # then every T

    sandbox.worker.advance(2 * 600)  # two more extensions; the job never reaches its timeout
    extensions = sandbox.events(dep, "JOB_EXTEND_SUCCESSFUL")
    assert [e["created_at"] for e in extensions] == [iso(started + 540 + k * 600) for k in range(3)]
    assert sandbox.jobs(dep)[0]["state"] == "RUNNING"
    assert sandbox.jobs(dep)[0]["timeout_s"] == 600 * 4

    sandbox.stop(dep)
    sandbox.worker.run_pending()
    job = sandbox.jobs(dep)[0]
    assert job["state"] == "STOPPED"
    assert sandbox.status(dep) == "STOPPED"
    assert job["paid"] == PRICE * (job["time_end"] - started)
    assert sandbox.tasks(dep) == []
    assert_money_adds_up(sandbox, vault, funded)


def test_simple_extend_timeout_increase_extends_running_jobs(sandbox: Sandbox) -> None:
    dep = sandbox.create("SIMPLE-EXTEND", replicas=1, timeout=60)
    sandbox.start(dep)
    sandbox.worker.advance(61)
    (job,) = sandbox.jobs(dep, "RUNNING")
    (extend,) = sandbox.tasks(dep, "EXTEND")
    first_due = parse_iso(extend["due_at"])
    assert first_due == job["time_start"] + 3600 - 300

    sandbox.api_update(dep, timeout=90)
    sandbox.worker.run_pending()
    job = sandbox.jobs(dep)[0]
    assert job["timeout_s"] == 90 * 60  # one-shot EXTEND by the delta of 1800 s
    assert len(sandbox.events(dep, "JOB_EXTEND_SUCCESSFUL")) == 1
    (extend,) = sandbox.tasks(dep, "EXTEND")
    assert parse_iso(extend["due_at"]) == first_due + 1800  # follow-up pushed by the delta

    sandbox.api_update(dep, timeout=60)  # on-chain timeouts never shrink
    sandbox.worker.run_pending()
    assert sandbox.jobs(dep)[0]["timeout_s"] == 90 * 60
    assert len(sandbox.events(dep, "JOB_EXTEND_SUCCESSFUL")) == 1


# -- SCHEDULED ---------------------------------------------------------------------------------
def test_scheduled_lists_on_each_firing_without_catch_up(sandbox: Sandbox) -> None:
    dep = sandbox.create("SCHEDULED", replicas=2, timeout=10, schedule="0 * * * *")
    sandbox.start(dep)
    sandbox.worker.run_pending()
    assert sandbox.status(dep) == "RUNNING"
    assert sandbox.jobs(dep) == []
    (task,) = sandbox.tasks(dep, "LIST")
    assert parse_iso(task["due_at"]) == START + 3600  # next firing, strictly after now

    sandbox.worker.advance(3600 - 1)
    assert sandbox.jobs(dep) == []
    sandbox.worker.advance(1)
    assert len(sandbox.jobs(dep)) == 2
    (task,) = sandbox.tasks(dep, "LIST")
    assert parse_iso(task["due_at"]) == START + 2 * 3600

    sandbox.worker.advance(1800)  # jobs run 10 min and finish; the deployment stays RUNNING
    assert {j["state"] for j in sandbox.jobs(dep)} == {"COMPLETED"}
    assert sandbox.status(dep) == "RUNNING"

    # A worker that was away for three firings lists once, then waits for the next one.
    sandbox.clock.set(START + 4.5 * 3600)
    sandbox.worker.run_pending()
    assert len(sandbox.jobs(dep)) == 4
    (task,) = sandbox.tasks(dep, "LIST")
    assert parse_iso(task["due_at"]) == START + 5 * 3600

    sandbox.api_update(dep, schedule="30 * * * *")  # schedule change moves pending tasks
    sandbox.worker.run_pending()
    (task,) = sandbox.tasks(dep, "LIST")
    assert parse_iso(task["due_at"]) == START + 4.5 * 3600 + 3600


def test_scheduled_with_unparsable_cron_stays_starting(sandbox: Sandbox) -> None:
    dep = sandbox.create("SCHEDULED", replicas=1, timeout=10, schedule="60 * * * *")
    sandbox.start(dep)
    sandbox.worker.advance(3600)
    assert sandbox.status(dep) == "STARTING"  # the §7.4 quirk, reproduced
    assert sandbox.tasks(dep) == []


# -- INFINITE ----------------------------------------------------------------------------------
def test_infinite_rotates_before_timeout_and_trims_the_old_job(sandbox: Sandbox) -> None:
    dep = sandbox.create("INFINITE", replicas=1, timeout=60, rotation_time=20)
    sandbox.start(dep)
    sandbox.worker.advance(61)
    (first,) = sandbox.jobs(dep, "RUNNING")
    (rotation,) = sandbox.tasks(dep, "LIST")
    assert rotation["job"] == first["job"]
    assert rotation["limit"] == 1
    assert parse_iso(rotation["due_at"]) == first["time_start"] + 40 * 60

    sandbox.clock.set(first["time_start"] + 40 * 60)
    sandbox.worker.run_pending()
    assert len(sandbox.jobs(dep, "QUEUED")) == 1  # the replacement overlaps the old job
    sandbox.worker.advance(61)
    first_now = next(j for j in sandbox.jobs(dep) if j["job"] == first["job"])
    assert first_now["state"] == "STOPPED"  # trimmed when the replacement started
    (second,) = sandbox.jobs(dep, "RUNNING")
    assert first_now["time_end"] == second["time_start"]
    (rotation,) = sandbox.tasks(dep, "LIST")
    assert rotation["job"] == second["job"]

    sandbox.worker.advance(24 * 3600)  # a day: never more than one running, never a gap
    jobs = sandbox.jobs(dep)
    assert len(jobs) >= 24
    assert len(sandbox.jobs(dep, "RUNNING")) == 1
    assert sandbox.status(dep) == "RUNNING"
    assert all(j["state"] == "STOPPED" for j in jobs if j["state"] != "RUNNING")


def test_infinite_self_heals_and_trims_on_replica_change() -> None:
    config = WorkerConfig(early_exit_probability=1.0, early_exit_span=(0.5, 0.5))
    box = Sandbox(config=config)
    try:
        dep = box.create("INFINITE", replicas=2, timeout=60, rotation_time=20)
        box.start(dep)
        box.worker.advance(61)
        assert len(box.jobs(dep, "RUNNING")) == 2
        box.worker.advance(30 * 60)  # both exit after 30 min (healthy) and are replaced at once
        completed = box.jobs(dep, "COMPLETED")
        assert len(completed) == 2
        assert len(box.jobs(dep, "QUEUED")) + len(box.jobs(dep, "RUNNING")) == 2
        assert box.deployment(dep).get("rapid_streak", 0) == 0
        assert box.events(dep, "RAPID_COMPLETION_THROTTLE") == []

        box.api_update(dep, replicas=3)
        box.worker.run_pending()
        assert len(box.jobs(dep, "QUEUED")) + len(box.jobs(dep, "RUNNING")) == 3
        box.api_update(dep, replicas=1)
        box.worker.run_pending()
        assert len(box.jobs(dep, "QUEUED")) + len(box.jobs(dep, "RUNNING")) == 1
        assert box.status(dep) == "RUNNING"
    finally:
        box.close()


def test_infinite_rapid_completion_throttles_then_fails_safe() -> None:
    config = WorkerConfig(
        early_exit_probability=1.0, early_exit_span=(0.01, 0.01), claim_delay_s=(5, 5)
    )
    box = Sandbox(config=config)
    try:
        dep = box.create("INFINITE", replicas=1, timeout=60, rotation_time=20)
        box.start(dep)
        box.worker.advance(3 * 24 * 3600)
        throttles = box.events(dep, "RAPID_COMPLETION_THROTTLE")
        expected = [min(60 * 2**n, 3600) for n in range(7)]
        assert [e["message"] for e in throttles] == [
            f"Jobs completing rapidly (round {n + 1}): next job throttled by {s}s."
            for n, s in enumerate(expected)
        ]
        (fail_safe,) = box.events(dep, "RAPID_COMPLETION_FAIL_SAFE")
        assert fail_safe["message"] == (
            "Deployment stopped to protect funds: 8 consecutive rounds of jobs completed "
            "in under 5 minutes."
        )
        assert box.status(dep) == "STOPPED"
        # Each throttled replacement is listed `delay` seconds after the rapid completion.
        jobs = box.jobs(dep)
        assert len(jobs) == 10  # 2 healthy-count rounds + 1 + 7 throttled replacements
        for previous, listed, delay in zip(jobs[2:-1], jobs[3:], expected, strict=True):
            assert parse_iso(listed["created_at"]) == previous["time_end"] + delay
        assert box.tasks(dep) == []
    finally:
        box.close()


# -- revisions -------------------------------------------------------------------------------
def test_revision_rollover_replaces_every_job(sandbox: Sandbox) -> None:
    dep = sandbox.create("SIMPLE", replicas=2, timeout=60)
    sandbox.start(dep)
    sandbox.worker.advance(120)
    old = {j["job"] for j in sandbox.jobs(dep, "RUNNING")}
    assert len(old) == 2

    sandbox.api_update(dep, active_revision=2)
    sandbox.worker.run_pending()
    assert {j["job"] for j in sandbox.jobs(dep, "STOPPED")} == old
    new = sandbox.jobs(dep, "QUEUED")
    assert len(new) == 2
    assert {j["revision"] for j in new} == {2}
    assert sandbox.status(dep) == "RUNNING"
    sandbox.worker.advance(120)
    assert len(sandbox.jobs(dep, "RUNNING")) == 2


def test_new_revision_on_stopped_deployment_posts_jobs(sandbox: Sandbox) -> None:
    dep = sandbox.create("SIMPLE", replicas=1, timeout=10)
    sandbox.start(dep)
    sandbox.worker.advance(700)
    assert sandbox.status(dep) == "STOPPED"
    sandbox.api_update(dep, active_revision=2)
    sandbox.worker.run_pending()
    assert sandbox.status(dep) == "STOPPED"  # §7.3 quirk: status stays, jobs are posted
    assert [j["revision"] for j in sandbox.jobs(dep, "QUEUED")] == [2]


# -- funds and retries ------------------------------------------------------------------------
def test_insufficient_funds_then_recovery_after_top_up(sandbox: Sandbox) -> None:
    deposit = PRICE * 600 + PRICE * 600 // 10  # with the network fee
    vault = sandbox.vault(nos=deposit)  # enough for one of the two jobs
    dep = sandbox.create("SIMPLE", replicas=2, timeout=10, vault=vault)
    sandbox.start(dep)
    sandbox.worker.run_pending()

    assert len(sandbox.jobs(dep)) == 1
    (error,) = sandbox.events(dep, "JOB_LIST_ERROR")
    assert "InsufficientFundsForRent" in error["message"]
    assert "tx" not in error
    assert sandbox.status(dep) == "INSUFFICIENT_FUNDS"
    (task,) = sandbox.tasks(dep, "LIST")
    assert (task["inflight_retries"], task["target_count"]) == (1, 2)
    assert parse_iso(task["due_at"]) == START + 600  # funds ladder: 10 min, then doubling
    assert sandbox.deployment(dep)["next_retry_at"] == task["due_at"]

    sandbox.worker.advance(600)
    (task,) = sandbox.tasks(dep, "LIST")
    assert parse_iso(task["due_at"]) == START + 600 + 1200
    assert len(sandbox.events(dep, "JOB_LIST_ERROR")) == 2
    sandbox.worker.advance(600)
    # The first job finished meanwhile; INSUFFICIENT_FUNDS keeps the deployment from STOPPED.
    assert sandbox.jobs(dep)[0]["state"] == "COMPLETED"
    assert sandbox.status(dep) == "INSUFFICIENT_FUNDS"

    sandbox.chain.mint_nos(vault, deposit)
    sandbox.worker.advance(600)
    assert sandbox.status(dep) == "RUNNING"
    assert len(sandbox.jobs(dep)) == 2  # only the missing job was listed: target fixed at 2
    assert "next_retry_at" not in sandbox.deployment(dep)
    sandbox.worker.advance(700)
    assert sandbox.status(dep) == "STOPPED"
    assert_money_adds_up(sandbox, vault, 2 * deposit)


def test_ordinary_errors_reach_error_after_the_retry_cap(sandbox: Sandbox) -> None:
    dep = sandbox.create("SIMPLE", replicas=1, timeout=10, market="not-a-market")
    sandbox.start(dep)
    sandbox.worker.run_pending()
    assert sandbox.status(dep) == "RUNNING"  # ordinary errors keep the status
    (task,) = sandbox.tasks(dep)
    assert parse_iso(task["due_at"]) == START + 30
    sandbox.worker.advance(60 + 120 + 240)
    (task,) = sandbox.tasks(dep)
    assert task["inflight_retries"] == 4
    assert parse_iso(task["due_at"]) == START + 30 + 60 + 120 + 240

    sandbox.worker.advance(24 * 3600)
    assert sandbox.status(dep) == "ERROR"
    assert sandbox.tasks(dep) == []
    errors = sandbox.events(dep, "JOB_LIST_ERROR")
    assert len(errors) == 60
    assert errors[0]["message"] == "Market not-a-market does not exist"
    assert sandbox.worker.stats()["tasks"]["failed"] == 60


# -- determinism and restarts ------------------------------------------------------------------
MIXED = WorkerConfig()  # default early exits and claim delays


def start_mixed(box: Sandbox) -> list[str]:
    """One INFINITE, one SIMPLE-EXTEND and one SIMPLE deployment, started."""
    deployments = [
        box.create("INFINITE", replicas=3, timeout=60, rotation_time=20),
        box.create("SIMPLE-EXTEND", replicas=2, timeout=30),
        box.create("SIMPLE", replicas=4, timeout=45),
    ]
    for dep in deployments:
        box.start(dep)
    return deployments


def run_mixed(box: Sandbox, *, hours: float) -> list[str]:
    deployments = start_mixed(box)
    box.worker.advance(hours * 3600)
    return deployments


def test_same_seed_same_history_and_money_adds_up() -> None:
    boxes = [
        Sandbox(seed=7, config=MIXED),
        Sandbox(seed=7, config=MIXED),
        Sandbox(seed=8, config=MIXED),
    ]
    try:
        histories = []
        for box in boxes:
            deployments = run_mixed(box, hours=6)
            histories.append([timeline(box, d) for d in deployments])
            for dep in deployments:
                assert_money_adds_up(box, box.deployment(dep)["vault"], 1_000 * NOS)
        assert histories[0] == histories[1]
        assert histories[0] != histories[2]
        assert any(j[2] == "COMPLETED" for j in histories[0][0])  # early exits happened
        stats = boxes[0].worker.stats()
        assert stats["jobs"]["listed"] == sum(len(h) for h in histories[0])
        assert stats["jobs"]["extended"] > 0
        assert stats["jobs"]["stopped"] > 0
    finally:
        for box in boxes:
            box.close()


def test_restart_from_sqlite_file_resumes(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sqlite"
    reference = Sandbox(seed=3, config=MIXED)
    try:
        reference_ids = run_mixed(reference, hours=4)
        expected = [timeline(reference, d) for d in reference_ids]
    finally:
        reference.close()

    box = Sandbox(path, seed=3, config=MIXED)
    deployments = start_mixed(box)
    box.worker.advance(1.5 * 3600)
    resumed_at = box.clock.now()
    listed = box.worker.stats()["jobs"]["listed"]
    pending = box.tasks(deployments[0]) + box.tasks(deployments[1])
    assert pending
    assert any(j["state"] == "RUNNING" for d in deployments for j in box.jobs(d))
    box.close()

    again = Sandbox(path, seed=3, config=MIXED)
    try:
        again.clock.set(resumed_at)
        assert again.worker.stats()["jobs"]["listed"] == listed  # counters survive
        again.worker.advance(4 * 3600 - (resumed_at - START))
        got = [timeline(again, d) for d in deployments]
        # Same seed, same history, though the deployments got other ids: compare shapes.
        assert [[row[1:] for row in t] for t in got] == [[row[1:] for row in t] for t in expected]
        for dep in deployments:
            assert_money_adds_up(again, again.deployment(dep)["vault"], 1_000 * NOS)
    finally:
        again.close()


def test_restart_recovers_a_task_that_was_processing(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    box = Sandbox(path)
    dep = box.create("SIMPLE", replicas=1, timeout=10)
    box.start(dep)
    box.worker.run_pending()
    (job,) = box.jobs(dep)
    # A STOP claimed by a worker that then died, five times over: the sixth worker gives up.
    box.store.insert(
        "tasks",
        {
            "task": "STOP",
            "deploymentId": dep,
            "tx": None,
            "job": job["job"],
            "limit": None,
            "active_revision": None,
            "due_at": box.clock.now_iso(),
            "created_at": box.clock.now_iso(),
            "status": "PROCESSING",
            "attempts": 5,
            "inflight_retries": 0,
            "extend_seconds": None,
            "target_count": None,
        },
    )
    box.close()
    again = Sandbox(path)
    try:
        again.worker.run_pending()
        assert again.status(dep) == "ERROR"
        assert again.tasks(dep) == []
        assert again.worker.stats()["tasks"]["timed_out"] == 1
    finally:
        again.close()


def test_a_starting_deployment_left_without_worker_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "late.sqlite"
    box = Sandbox(path)
    box.worker.stop()  # no worker listening: the API still writes STARTING
    dep = box.create("SIMPLE", replicas=1, timeout=10)
    box.start(dep)
    box.store.close()
    again = Sandbox(path)
    try:
        again.worker.run_pending()
        assert again.status(dep) == "RUNNING"
        assert len(again.jobs(dep)) == 1
    finally:
        again.close()


# -- API-key vaults and the background thread ------------------------------------------------
def test_api_key_vault_runs_on_credits(sandbox: Sandbox) -> None:
    owner_vault = sandbox.owner
    api_key = "nos_" + secrets.token_hex(8)
    sandbox.store.insert(
        "vaults",
        {
            "vault": owner_vault,
            "vault_key": "apikey:" + api_key,
            "owner": sandbox.owner,
            "created_at": sandbox.clock.now_iso(),
        },
    )
    credits = CreditLedger(sandbox.store)
    credits.assign(credit_account(api_key), 2 * MICRO)  # $2
    dep = sandbox.create("SIMPLE", replicas=1, timeout=10, vault=owner_vault)
    sandbox.start(dep)
    sandbox.worker.run_pending()
    (listed,) = sandbox.jobs(dep)
    reserved = micro_usd(listed["escrowed"] + listed["fees_paid"])
    assert credits.balance(credit_account(api_key))["reservedCredits"] == reserved / MICRO
    sandbox.worker.advance(700)
    (job,) = sandbox.jobs(dep)
    assert job["state"] == "COMPLETED"
    assert job["paid"] + job["refunded"] == job["escrowed"]
    assert sandbox.status(dep) == "STOPPED"
    assert sandbox.chain.nos_balance(owner_vault) == 0  # credits paid, not NOS
    balance = credits.balance(credit_account(api_key))
    used = micro_usd(job["paid"]) + micro_usd(job["fees_paid"])
    assert (balance["reservedCredits"], balance["settledCredits"]) == (0, used / MICRO)


def test_background_thread_reacts_to_changes() -> None:
    box = Sandbox()
    try:
        dep = box.create("SIMPLE", replicas=1, timeout=10)
        box.worker.start()
        box.start(dep)
        for _ in range(200):
            if box.jobs(dep):
                break
            box.worker.settle(timeout=1.0)
        assert box.status(dep) == "RUNNING"
        assert len(box.jobs(dep)) == 1
        box.worker.advance(700)
        assert box.status(dep) == "STOPPED"
        assert box.worker.stats()["tasks"]["in_progress"] == 0
    finally:
        box.close()


def test_advance_rejects_bad_arguments(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="seconds"):
        sandbox.worker.advance(-1)
    with pytest.raises(ValueError, match="step"):
        sandbox.worker.advance(10, step=0)
    sandbox.worker.advance(90, step=30)
    assert sandbox.elapsed() == 90


# -- the market queue ----------------------------------------------------------------------------
SINGLE_NODE = next(m for m in MARKETS if m.nodes == 1)


def test_busy_market_queues_fifo_and_expires_unclaimed_jobs(sandbox: Sandbox) -> None:
    first = sandbox.create("SIMPLE", replicas=1, timeout=25 * 60, market=SINGLE_NODE.address)
    second = sandbox.create("SIMPLE", replicas=1, timeout=10, market=SINGLE_NODE.address)
    third = sandbox.create("SIMPLE", replicas=1, timeout=10, market=SINGLE_NODE.address)
    for dep in (first, second, third):
        sandbox.start(dep)
    sandbox.worker.advance(3600)
    assert len(sandbox.jobs(first, "RUNNING")) == 1
    assert sandbox.worker.idle_nodes(SINGLE_NODE.address) == 0
    assert len(sandbox.jobs(second, "QUEUED")) == len(sandbox.jobs(third, "QUEUED")) == 1

    sandbox.worker.advance(SINGLE_NODE.job_expiration_s)
    for dep in (second, third):  # nobody was free within the market's job expiration
        (job,) = sandbox.jobs(dep)
        assert job["state"] == "STOPPED"
        assert job["time_start"] == 0
        assert (job["paid"], job["refunded"]) == (0, job["escrowed"])
        assert sandbox.status(dep) == "STOPPED"
        assert sandbox.events(dep, "JOB_STOPPED_CONFIRMED") == []

    late = sandbox.create("SIMPLE", replicas=1, timeout=10, market=SINGLE_NODE.address)
    later = sandbox.create("SIMPLE", replicas=1, timeout=10, market=SINGLE_NODE.address)
    sandbox.start(late)
    sandbox.worker.run_pending()
    sandbox.start(later)
    sandbox.worker.advance(2 * 3600)  # the long job ends at 25 h; then FIFO: late, later
    (long_job,) = sandbox.jobs(first)
    (late_job,) = sandbox.jobs(late)
    (later_job,) = sandbox.jobs(later)
    assert long_job["time_end"] <= late_job["time_start"]
    assert late_job["time_end"] <= later_job["time_start"]
    assert late_job["node"] == later_job["node"] == long_job["node"]


def test_missing_vault_is_an_ordinary_list_error(sandbox: Sandbox) -> None:
    dep = sandbox.create("SIMPLE", replicas=1, timeout=10, vault=str(Keypair().pubkey()))
    sandbox.start(dep)
    sandbox.worker.run_pending()
    (error,) = sandbox.events(dep, "JOB_LIST_ERROR")
    assert error["message"] == "Vault not found."
    assert sandbox.status(dep) == "RUNNING"
    (task,) = sandbox.tasks(dep)
    assert parse_iso(task["due_at"]) == START + 30


def test_deployment_inserted_as_starting_is_started(sandbox: Sandbox) -> None:
    dep = sandbox.create("SIMPLE", replicas=1, timeout=10, status="STARTING")
    sandbox.worker.run_pending()
    assert sandbox.status(dep) == "RUNNING"
    assert len(sandbox.jobs(dep)) == 1


def test_a_stopped_worker_catches_up_when_run_again(sandbox: Sandbox) -> None:
    sandbox.worker.stop()
    dep = sandbox.create("SIMPLE", replicas=1, timeout=10)
    sandbox.start(dep)
    sandbox.worker.run_pending()  # rejoins the change feed and resumes STARTING
    assert sandbox.status(dep) == "RUNNING"
    sandbox.stop(dep)
    sandbox.worker.run_pending()
    assert sandbox.status(dep) == "STOPPED"


def test_start_from_insufficient_funds_lists_at_once_after_top_up(sandbox: Sandbox) -> None:
    vault = sandbox.vault(nos=0)
    dep = sandbox.create("INFINITE", replicas=1, timeout=60, vault=vault, rotation_time=20)
    sandbox.start(dep)
    sandbox.worker.advance(3 * 3600)  # attempts at 0, 10, 30, 70, 150 min; next at 310 min
    assert sandbox.status(dep) == "INSUFFICIENT_FUNDS"
    assert len(sandbox.events(dep, "JOB_LIST_ERROR")) == 5
    (task,) = sandbox.tasks(dep, "LIST")
    assert parse_iso(task["due_at"]) == START + 310 * 60
    sandbox.chain.mint_nos(vault, 100 * NOS)
    sandbox.start(dep)  # start is allowed from INSUFFICIENT_FUNDS
    sandbox.worker.run_pending()
    assert sandbox.status(dep) == "RUNNING"
    assert len(sandbox.jobs(dep)) == 1
    assert sandbox.tasks(dep, "LIST") == []


def test_a_crashing_task_is_retried_then_gives_error(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> str:
        raise RuntimeError("simulated worker crash")

    monkeypatch.setattr(sandbox.worker.network, "new_job_address", broken)
    dep = sandbox.create("SIMPLE", replicas=1, timeout=10)
    sandbox.start(dep)
    sandbox.worker.run_pending()
    (task,) = sandbox.tasks(dep)
    assert (task["status"], task["attempts"]) == ("PENDING", 1)
    assert sandbox.events(dep) == []  # a crash is not a handled unit failure
    sandbox.worker.advance(10 * 60)
    assert sandbox.status(dep) == "ERROR"
    assert sandbox.tasks(dep) == []
    assert sandbox.worker.stats()["tasks"]["failed"] == 5


# -- fairness: bounded batches per task run ---------------------------------------------------
BATCH = WorkerConfig().units_per_task_run


def test_a_big_list_runs_in_batches_behind_other_deployments(sandbox: Sandbox) -> None:
    big = sandbox.create("SIMPLE", replicas=2 * BATCH + 5, timeout=60)
    small = sandbox.create("SIMPLE", replicas=1, timeout=60)
    sandbox.start(big)
    sandbox.start(small)
    sandbox.worker.run_pending()
    assert len(sandbox.jobs(big)) == BATCH  # one batch, then the others' due tasks
    assert len(sandbox.jobs(small)) == 1
    (task,) = sandbox.tasks(big, "LIST")
    assert (task["status"], task["attempts"], task["confirmed_count"]) == ("PENDING", 0, BATCH)
    assert parse_iso(task["due_at"]) == START + 1  # the next poll
    assert sandbox.worker.stats()["tasks"]["successful"] == 1  # the small LIST; big not yet

    sandbox.worker.advance(1)
    assert len(sandbox.jobs(big)) == 2 * BATCH
    sandbox.worker.advance(1)
    assert len(sandbox.jobs(big)) == 2 * BATCH + 5
    assert sandbox.tasks(big) == []
    assert sandbox.worker.stats()["tasks"]["successful"] == 2


def test_scaling_down_caps_a_list_still_under_way(sandbox: Sandbox) -> None:
    dep = sandbox.create("SIMPLE", replicas=1_000_000, timeout=60)
    sandbox.start(dep)
    sandbox.worker.run_pending()
    assert len(sandbox.jobs(dep)) == BATCH
    sandbox.api_update(dep, replicas=BATCH + 3)
    sandbox.worker.advance(5)
    assert len(sandbox.jobs(dep)) == BATCH + 3  # not a million
    assert sandbox.tasks(dep, "LIST") == []
    sandbox.api_update(dep, replicas=2)  # below what runs: nothing more listed, the rest trimmed
    sandbox.worker.advance(5)
    assert len(sandbox.jobs(dep, "QUEUED")) + len(sandbox.jobs(dep, "RUNNING")) == 2


def test_a_big_stop_ends_jobs_in_batches(sandbox: Sandbox) -> None:
    dep = sandbox.create("SIMPLE", replicas=2 * BATCH + 5, timeout=60)
    sandbox.start(dep)
    sandbox.worker.advance(3)
    assert len(sandbox.jobs(dep, "QUEUED")) == 2 * BATCH + 5
    sandbox.stop(dep)
    sandbox.worker.run_pending()
    assert len(sandbox.jobs(dep, "STOPPED")) == BATCH
    assert sandbox.status(dep) == "STOPPING"
    sandbox.worker.advance(2)
    assert len(sandbox.jobs(dep, "STOPPED")) == 2 * BATCH + 5
    assert sandbox.status(dep) == "STOPPED"
    assert sandbox.tasks(dep) == []


def test_a_batch_after_a_top_up_ends_insufficient_funds(sandbox: Sandbox) -> None:
    deposit = PRICE * 3600 + PRICE * 3600 // 10  # with the network fee
    vault = sandbox.vault(nos=deposit * 3)
    dep = sandbox.create("SIMPLE", replicas=3 * BATCH, timeout=60, vault=vault)
    sandbox.start(dep)
    sandbox.worker.run_pending()
    assert len(sandbox.jobs(dep)) == 3
    assert sandbox.status(dep) == "INSUFFICIENT_FUNDS"
    sandbox.chain.mint_nos(vault, deposit * 3 * BATCH)
    sandbox.worker.advance(600)  # the funds retry lists a batch: progress is recovery
    assert sandbox.status(dep) == "RUNNING"
    assert "next_retry_at" not in sandbox.deployment(dep)
    (task,) = sandbox.tasks(dep, "LIST")
    assert task["inflight_retries"] == 0


# -- statuses the worker must leave alone -------------------------------------------------------
def test_a_job_ending_under_error_leaves_the_deployment_in_error() -> None:
    box = Sandbox(config=WorkerConfig(early_exit_probability=0.0, max_inflight_retries=1))
    try:
        deposit = PRICE * 600 + PRICE * 600 // 10  # with the network fee
        vault = box.vault(nos=deposit)  # one job of two: the LIST's retry cap (1) gives ERROR
        dep = box.create("SIMPLE", replicas=2, timeout=10, vault=vault)
        box.start(dep)
        box.worker.run_pending()
        assert box.status(dep) == "ERROR"
        assert len(box.jobs(dep)) == 1
        box.worker.advance(61 + 600)  # the one job is claimed, runs its 10 minutes and ends
        assert box.jobs(dep)[0]["state"] == "COMPLETED"
        assert box.status(dep) == "ERROR"  # the last job ending does not make it STOPPED
    finally:
        box.close()


def test_a_task_abandoned_under_archived_leaves_the_deployment_archived() -> None:
    box = Sandbox(config=WorkerConfig(early_exit_probability=0.0, max_inflight_retries=2))
    try:
        dep = box.create("SIMPLE", replicas=1, timeout=10, market="not-a-market")
        box.start(dep)
        box.worker.run_pending()
        (task,) = box.tasks(dep, "LIST")
        assert task["inflight_retries"] == 1
        box.api_update(dep, status="ARCHIVED")  # as if archived while the LIST still retries
        box.worker.advance(60)  # the second failure reaches the cap: the task is abandoned
        assert box.tasks(dep) == []
        assert len(box.events(dep, "JOB_LIST_ERROR")) == 2
        assert box.status(dep) == "ARCHIVED"
    finally:
        box.close()


def test_a_failing_background_pass_is_counted_and_the_worker_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box = Sandbox()
    real_pass = box.worker._pass
    failures = iter([RuntimeError("a bug in one pass")])

    def pass_once_broken() -> int:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_pass()

    monkeypatch.setattr(box.worker, "_pass", pass_once_broken)
    try:
        dep = box.create("SIMPLE", replicas=1, timeout=10)
        box.worker.start()
        box.start(dep)
        deadline = time.monotonic() + 5
        while not box.jobs(dep) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert box.worker.failed_passes == 1
        assert len(box.jobs(dep)) == 1  # the next pass did the work
    finally:
        box.close()
