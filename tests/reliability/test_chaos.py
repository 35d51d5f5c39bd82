"""Chaos run: mixed client operations from several threads against a faulty sandbox.

The sandbox answers ~20 % of deployment-manager requests with a 5xx or a dropped connection
(half the time *after* the write committed) and adds 200 ms of latency. Idempotent operations
(reads, lists, PATCH updates, balances) are retried as whole exchanges and must all succeed;
POST operations are never resent blindly, so they succeed, are refused, or raise a typed error
after reconciliation. Afterwards, with faults off, the sandbox's own documents and chain are the
ground truth: no logical create made two deployments, no acknowledged update was lost, and the
vault's NOS add up.

``run_chaos`` / ``verify`` are reused by ``bench/report_reliability.py`` for the 1,000-op run.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import (
    ArchivedDeploymentError,
    InvalidStateError,
    NosanaError,
)
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.vaults import Vault
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.sandbox.worker.markets import MARKETS

NOS = 10**6
MARKET = MARKETS[0].address
TOPUP_NOS = Decimal("0.5")
INITIAL_VAULT_NOS = Decimal("5000")
# Definite refusals by the service: the request was understood and rejected, not lost.
REFUSALS = (InvalidStateError, ArchivedDeploymentError)
FIELDS = ("replicas", "timeout", "name")
# GET / PATCH routes (and Solana RPC reads): retried by the HTTP layer, so they must succeed.
IDEMPOTENT_KINDS = frozenset({"replicas", "timeout", "name", "read", "list", "jobs", "balance"})
# POST routes (and the top-up transaction): sent once, then reconciled when the outcome is unknown.
POST_KINDS = frozenset({"create", "start", "stop", "topup"})
# what a thread does with one of its deployments (creates are drawn separately)
KINDS = ("replicas", "timeout", "name", "start", "stop", "read", "list", "jobs", "balance", "topup")
KIND_WEIGHTS = (4, 3, 2, 1, 1, 2, 1, 1, 1, 1)
# With ~20 % of requests faulted independently, an idempotent request fails only when all
# max_retries + 1 attempts do: 0.2**9 ~ 5e-7 per request, ~2e-4 for the ~400 of a 200-op run.
CHAOS_MAX_RETRIES = 8
# The sandbox is local, so waiting out a fault needs no 0.5 s base backoff (the default, whose
# schedule test_base_http checks); 0.05 s doubling keeps this run about as fast as without retries.
CHAOS_BACKOFF_FACTOR = 0.05


@dataclass
class Tracked:
    """One logical create and the writes acknowledged on its deployment."""

    marker: str
    handle: Deployment | None = None
    acked: dict[str, Any] = field(default_factory=dict)
    # values written after the last acknowledgement whose request failed: may or may not be in
    unconfirmed: dict[str, list[Any]] = field(default_factory=dict)

    def write(self, name: str, value: Any, ok: bool) -> None:
        if ok:
            self.acked[name] = value
            self.unconfirmed[name] = []
        else:
            self.unconfirmed.setdefault(name, []).append(value)


@dataclass
class Outcomes:
    lock: threading.Lock = field(default_factory=threading.Lock)
    operations: Counter[str] = field(default_factory=Counter)
    succeeded: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    topups_acked: int = 0
    tracked: list[Tracked] = field(default_factory=list)

    def record(self, kind: str, error: BaseException | None) -> None:
        with self.lock:
            self.operations[kind] += 1
            if error is None:
                self.succeeded += 1
            elif isinstance(error, REFUSALS):
                self.refused[f"{kind}: {type(error).__name__}"] += 1
            elif isinstance(error, NosanaError):
                self.failed[f"{kind}: {type(error).__name__}"] += 1
            else:
                self.unexpected.append(f"{kind}: {type(error).__name__}: {error}")


def _count_of(kinds: frozenset[str], counts: dict[str, int]) -> int:
    """Sum ``counts`` keyed ``"<kind>: <error>"`` over the given kinds."""
    return sum(n for key, n in counts.items() if key.split(":", 1)[0] in kinds)


@dataclass
class ChaosReport:
    operations: int
    operations_by_kind: dict[str, int]
    succeeded: int
    refused: dict[str, int]
    failed: dict[str, int]
    unexpected: list[str]
    faults: dict[str, int]
    retries: int
    duplicates: int
    lost_writes: list[str]
    vault_problems: list[str]
    creates: int
    unhandled_server_errors: int
    seconds: float

    @property
    def failures_surfaced(self) -> int:
        return sum(self.failed.values())

    @property
    def idempotent_operations(self) -> int:
        return sum(n for kind, n in self.operations_by_kind.items() if kind in IDEMPOTENT_KINDS)

    @property
    def post_operations(self) -> int:
        return sum(n for kind, n in self.operations_by_kind.items() if kind in POST_KINDS)

    @property
    def idempotent_failures(self) -> int:
        """Typed failures and refusals of idempotent operations: with retries, none."""
        return _count_of(IDEMPOTENT_KINDS, self.failed) + _count_of(IDEMPOTENT_KINDS, self.refused)

    @property
    def post_failures(self) -> int:
        """POST operations that raised a typed error other than a refusal by the service."""
        return _count_of(POST_KINDS, self.failed)


def _job(marker: str) -> dict[str, Any]:
    return container_job("alpine:3", ["sleep", "60"], gpu=False, env={"CREATE_ID": marker})


class _Driver:
    """One thread's share of the workload; each deployment is only touched by its creator."""

    def __init__(self, client: NosanaClient, vault: Vault, outcomes: Outcomes, thread: int):
        self.client = client
        self.vault = vault
        self.outcomes = outcomes
        self.thread = thread
        self.rng = random.Random(1000 + thread)
        self.mine: list[Tracked] = []

    def run(self, count: int) -> None:
        for step in range(count):
            live = [t for t in self.mine if t.handle is not None]
            if not live or self.rng.random() < 0.2:
                self._create(step)
                continue
            target = self.rng.choice(live)
            kind = self.rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
            self._act(kind, target, step)

    def _attempt(self, kind: str, action: Any) -> bool:
        try:
            action()
        except BaseException as error:  # every outcome is classified, none is swallowed
            self.outcomes.record(kind, error)
            if not isinstance(error, Exception):
                raise
            return False
        self.outcomes.record(kind, None)
        return True

    def _create(self, step: int) -> None:
        tracked = Tracked(marker=f"chaos-{self.thread}-{step}")
        with self.outcomes.lock:
            self.outcomes.tracked.append(tracked)

        def create() -> None:
            tracked.handle = self.client.deployments.create(
                name=tracked.marker,
                market=MARKET,
                replicas=1,
                timeout=3600,
                job_definition=_job(tracked.marker),
                vault=self.vault.address,
            )

        if self._attempt("create", create):
            tracked.acked = {"replicas": 1, "timeout": 60, "name": tracked.marker}
            self.mine.append(tracked)

    def _act(self, kind: str, tracked: Tracked, step: int) -> None:
        handle = tracked.handle
        assert handle is not None
        if kind == "replicas":
            replicas = self.rng.randint(1, 4)
            tracked.write(
                kind, replicas, self._attempt(kind, lambda: handle.update_replicas(replicas))
            )
        elif kind == "timeout":
            hours = self.rng.randint(1, 4)
            tracked.write(
                kind, hours * 60, self._attempt(kind, lambda: handle.update_timeout(hours * 3600))
            )
        elif kind == "name":
            name = f"{tracked.marker}-r{step}"
            tracked.write(kind, name, self._attempt(kind, lambda: handle.rename(name)))
        elif kind == "start":
            self._attempt(kind, lambda: handle.start(check_funds=False))
        elif kind == "stop":
            self._attempt(kind, handle.stop)
        elif kind == "read":
            self._attempt(kind, lambda: self.client.deployments.get(handle.id))
        elif kind == "list":
            self._attempt(kind, lambda: self.client.deployments.list(limit=10).first_page())
        elif kind == "jobs":
            self._attempt(kind, lambda: handle.get_jobs(limit=10).first_page())
        elif kind == "balance":
            self._attempt(kind, self.vault.get_balance)
        elif kind == "topup" and self._attempt(kind, lambda: self.vault.topup(nos=TOPUP_NOS)):
            with self.outcomes.lock:
                self.outcomes.topups_acked += int(TOPUP_NOS * NOS)


def _flip_after_commit(
    sandbox: SandboxHandle, settings: dict[str, Any], done: threading.Event
) -> None:
    """Alternate between faults before and after the handler ran, each with a fresh seed."""
    seed = 0
    while not done.wait(0.25):
        seed += 1
        sandbox.set_faults(**settings, seed=seed, after_commit=seed % 2 == 1)


def run_chaos(
    sandbox: SandboxHandle,
    *,
    operations: int,
    threads: int,
    error_rate: float = 0.12,
    drop_rate: float = 0.08,
    latency_ms: float = 200,
) -> ChaosReport:
    """Fund a wallet, run ``operations`` mixed calls under faults, then verify with faults off."""
    wallet = Wallet.generate()
    sandbox.faucet(wallet, sol="100", nos=str(INITIAL_VAULT_NOS * 2))
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    outcomes = Outcomes()
    injected_before = sandbox.faults.injected()["total"]
    with NosanaClient(
        network,
        wallet,
        env={},
        max_retries=CHAOS_MAX_RETRIES,
        backoff_factor=CHAOS_BACKOFF_FACTOR,
    ) as client:
        vault = client.vaults.create()
        vault.topup(sol="10", nos=INITIAL_VAULT_NOS)
        settings = {"latency_ms": latency_ms, "error_rate": error_rate, "drop_rate": drop_rate}
        sandbox.set_faults(**settings, seed=0)
        done = threading.Event()
        flipper = threading.Thread(target=_flip_after_commit, args=(sandbox, settings, done))
        started = time.perf_counter()
        flipper.start()
        try:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                shares = [
                    operations // threads + (i < operations % threads) for i in range(threads)
                ]
                drivers = [_Driver(client, vault, outcomes, i) for i in range(threads)]
                for future in [pool.submit(d.run, n) for d, n in zip(drivers, shares, strict=True)]:
                    future.result()
        finally:
            done.set()
            flipper.join()
            sandbox.set_faults()
        seconds = time.perf_counter() - started
        retries = client.retries_total
        duplicates, lost = _check_writes(sandbox, wallet.address, outcomes.tracked)
        vault_problems = _check_vault(sandbox, vault.address, outcomes.topups_acked)
    return ChaosReport(
        operations=sum(outcomes.operations.values()),
        operations_by_kind=dict(outcomes.operations),
        succeeded=outcomes.succeeded,
        refused=dict(outcomes.refused),
        failed=dict(outcomes.failed),
        unexpected=outcomes.unexpected,
        faults={
            **sandbox.faults.injected(),
            "total": sandbox.faults.injected()["total"] - injected_before,
        },
        retries=retries,
        duplicates=duplicates,
        lost_writes=lost,
        vault_problems=vault_problems,
        creates=outcomes.operations["create"],
        unhandled_server_errors=sandbox.unhandled_errors,
        seconds=seconds,
    )


def _create_marker(revision: dict[str, Any]) -> str:
    return str(revision["job_definition"]["ops"][0]["args"]["env"]["CREATE_ID"])


def _check_writes(
    sandbox: SandboxHandle, owner: str, tracked: list[Tracked]
) -> tuple[int, list[str]]:
    """Duplicates (extra deployments per logical create) and acknowledged writes not in place."""
    deployments = {d["id"]: d for d in sandbox.store.find("deployments", owner=owner)}
    made = Counter(
        _create_marker(r)
        for r in sandbox.store.find("revisions", revision=1)
        if r["deployment"] in deployments
    )
    duplicates = sum(max(0, made[t.marker] - 1) for t in tracked)
    strays = sum(made.values()) - sum(made[t.marker] for t in tracked)
    lost: list[str] = [f"{strays} deployments match no logical create"] if strays else []
    for t in tracked:
        if t.handle is None:
            continue  # the create surfaced an error: at most one deployment (counted above)
        doc = deployments.get(t.handle.id)
        if doc is None or made[t.marker] != 1:
            lost.append(f"{t.marker}: acknowledged create {t.handle.id} is missing")
            continue
        for name in FIELDS:
            allowed = [t.acked[name], *t.unconfirmed.get(name, [])]
            if doc[name] not in allowed:
                lost.append(f"{t.marker}.{name} = {doc[name]!r}, acknowledged {t.acked[name]!r}")
    return duplicates, lost


def _check_vault(sandbox: SandboxHandle, vault: str, topups_acked: int) -> list[str]:
    """NOS in the vault and in escrow must equal what was funded minus what jobs moved
    (deposits and their network fees)."""
    sandbox.worker.settle()
    jobs = sandbox.store.find("jobs", vault=vault)
    escrowed = sum(int(j.get("escrowed") or 0) for j in jobs)
    paid = sum(int(j.get("paid") or 0) for j in jobs)
    refunded = sum(int(j.get("refunded") or 0) for j in jobs)
    fees = sum(int(j.get("fees_paid") or 0) for j in jobs)  # the network's, never refunded
    funded = int(INITIAL_VAULT_NOS * NOS) + topups_acked
    problems = []
    in_vault = sandbox.chain.nos_balance(vault)
    if in_vault != funded - escrowed - fees + refunded:
        problems.append(
            f"vault holds {in_vault} NOS units; funded {funded} - escrowed {escrowed} "
            f"- fees {fees} + refunded {refunded} = {funded - escrowed - fees + refunded}"
        )
    in_escrow = sandbox.chain.nos_balance(str(sandbox.chain.escrow_authority))
    if in_escrow != escrowed - paid - refunded:
        problems.append(f"escrow holds {in_escrow}, jobs say {escrowed - paid - refunded}")
    return problems


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with start(db=":memory:", speed=None, seed=11) as handle:
        yield handle


def test_chaos_no_duplicates_no_lost_writes(sandbox: SandboxHandle) -> None:
    report = run_chaos(sandbox, operations=200, threads=6)

    assert report.unexpected == []  # every failure is one of our typed errors
    assert report.operations == 200
    assert report.faults["total"] >= 20
    assert report.faults["after_commit"] > 0
    assert report.retries > 0
    assert report.duplicates == 0
    assert report.lost_writes == []
    assert report.vault_problems == []
    assert report.unhandled_server_errors == 0
    # every idempotent operation succeeded: drops mid-body and generic 5xx were retried
    assert report.idempotent_operations >= 0.5 * report.operations
    assert report.idempotent_failures == 0, report.failed
    # POSTs were sent once and reconciled: nothing but typed errors, most of them succeeded
    assert report.post_operations + report.idempotent_operations == report.operations
    assert report.succeeded + sum(report.refused.values()) >= 0.9 * report.operations
    assert report.seconds < 90


# -- focused unknown-outcome cases: one fault, on one route, on purpose ------------------------


@pytest.fixture
def funded_client(sandbox: SandboxHandle) -> Iterator[tuple[NosanaClient, Vault]]:
    wallet = Wallet.generate()
    sandbox.faucet(wallet, sol="10", nos="100")
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    with NosanaClient(network, wallet, env={}) as client:
        vault = client.vaults.create()
        vault.topup(sol="1", nos="50")
        yield client, vault


def _create(client: NosanaClient, vault: Vault, name: str, **extra: Any) -> Deployment:
    return client.deployments.create(
        name=name,
        market=MARKET,
        replicas=1,
        timeout=3600,
        job_definition=_job("same"),
        vault=vault.address,
        **extra,
    )


def _named(sandbox: SandboxHandle, name: str) -> list[str]:
    return [d["id"] for d in sandbox.store.find("deployments", name=name)]


@pytest.mark.parametrize("fault", [{"error_rate": 1.0}, {"drop_rate": 1.0}])
def test_create_whose_reply_is_lost_returns_the_committed_deployment(
    sandbox: SandboxHandle, funded_client: tuple[NosanaClient, Vault], fault: dict[str, float]
) -> None:
    client, vault = funded_client
    before = sandbox.faults.injected()["after_commit"]
    sandbox.set_faults(**fault, after_commit=True, apply_to=["/deployments/create"])
    try:
        created = _create(client, vault, "lost reply")
    finally:
        sandbox.set_faults()
    assert _named(sandbox, "lost reply") == [created.id]
    assert sandbox.faults.injected()["after_commit"] == before + 1  # sent once, never resent


def test_create_refused_before_commit_is_resent_then_surfaces(
    sandbox: SandboxHandle, funded_client: tuple[NosanaClient, Vault]
) -> None:
    client, vault = funded_client
    before = sandbox.faults.injected()["total"]
    sandbox.set_faults(error_rate=1.0, apply_to=["/deployments/create"])
    try:
        with pytest.raises(NosanaError) as failed:
            _create(client, vault, "never made")
    finally:
        sandbox.set_faults()
    assert type(failed.value).__name__ == "InternalServerError"
    assert _named(sandbox, "never made") == []
    assert sandbox.faults.injected()["total"] == before + 3  # three attempts, then the error


def test_without_reconcile_a_lost_reply_leaves_an_unknown_deployment(
    sandbox: SandboxHandle, funded_client: tuple[NosanaClient, Vault]
) -> None:
    """Why reconciliation exists: the naive client raises although the create happened."""
    client, vault = funded_client
    sandbox.set_faults(error_rate=1.0, after_commit=True, apply_to=["/deployments/create"])
    try:
        with pytest.raises(NosanaError):
            _create(client, vault, "naive", reconcile=False)
    finally:
        sandbox.set_faults()
    assert len(_named(sandbox, "naive")) == 1


def test_reconcile_never_claims_a_deployment_already_returned(
    sandbox: SandboxHandle, funded_client: tuple[NosanaClient, Vault]
) -> None:
    client, vault = funded_client
    first = _create(client, vault, "twin")
    sandbox.set_faults(drop_rate=1.0, after_commit=True, apply_to=["/deployments/create"])
    try:
        second = _create(client, vault, "twin")
    finally:
        sandbox.set_faults()
    assert second.id != first.id
    assert sorted(_named(sandbox, "twin")) == sorted([first.id, second.id])


@pytest.mark.parametrize(
    ("action", "landed"), [("start", {"STARTING", "RUNNING"}), ("stop", {"STOPPING", "STOPPED"})]
)
def test_status_change_whose_reply_is_lost_is_not_resent(
    sandbox: SandboxHandle,
    funded_client: tuple[NosanaClient, Vault],
    action: str,
    landed: set[str],
) -> None:
    client, vault = funded_client
    deployment = _create(client, vault, f"lost {action}", autostart=action == "stop")
    sandbox.worker.settle()
    deployment.refresh()
    before = sandbox.faults.injected()["after_commit"]
    sandbox.set_faults(
        error_rate=1.0, after_commit=True, apply_to=[f"/deployments/{deployment.id}/{action}"]
    )
    try:
        state = getattr(deployment, action)()
    finally:
        sandbox.set_faults()
    assert str(state.status) in landed
    assert sandbox.faults.injected()["after_commit"] == before + 1


def test_revision_whose_reply_is_lost_is_created_once(
    sandbox: SandboxHandle, funded_client: tuple[NosanaClient, Vault]
) -> None:
    client, vault = funded_client
    deployment = _create(client, vault, "lost revision")
    sandbox.set_faults(
        drop_rate=1.0,
        after_commit=True,
        apply_to=[f"/deployments/{deployment.id}/create-revision"],
    )
    try:
        reply = deployment.create_revision(_job("second revision"))
    finally:
        sandbox.set_faults()
    assert reply.active_revision == 2
    assert [r.revision for r in reply.revisions] == [1, 2]
    assert len(sandbox.store.find("revisions", deployment=deployment.id)) == 2


async def test_async_create_whose_reply_is_lost_returns_the_committed_deployment(
    sandbox: SandboxHandle,
) -> None:
    from nosana_nb.core.client import AsyncNosanaClient

    wallet = Wallet.generate()
    sandbox.faucet(wallet, sol="10", nos="100")
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    async with AsyncNosanaClient(network, wallet, env={}) as client:
        vault = await client.vaults.create()
        await vault.topup(sol="1", nos="50")
        sandbox.set_faults(error_rate=1.0, after_commit=True, apply_to=["/deployments/create"])
        try:
            created = await client.deployments.create(
                name="async lost reply",
                market=MARKET,
                replicas=1,
                timeout=3600,
                job_definition=_job("async"),
                vault=vault.address,
            )
        finally:
            sandbox.set_faults()
    assert _named(sandbox, "async lost reply") == [created.id]
