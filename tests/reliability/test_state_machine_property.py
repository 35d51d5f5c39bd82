"""Stateful property test: random client action sequences against a reference model.

The model is the API state machine of wire-contract §7.1 (which action is allowed
from which status, and which typed error a refusal raises), the worker's own moves of §7.2 (as a
reachability relation: after the worker ran, the observed status must be reachable from the last
one), the client's funds pre-check, and the vault's NOS: what was topped up, minus what the
sandbox's job documents say was escrowed, plus what they say was refunded.

One sandbox for the whole run (frozen clock, moved only by ``advance``); each example gets a
fresh wallet, so examples cannot see each other's deployments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import (
    ArchivedDeploymentError,
    InsufficientFundsError,
    InvalidStateError,
    NosanaError,
    ValidationError,
)
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.sandbox.worker.markets import MARKETS

NOS = 10**6
MARKET = MARKETS[0].address
TOPUP_NOS = Decimal("20")
WALLET_NOS = 90
MAX_DEPLOYMENTS = 3
EXAMPLES = 200

DRAFT, STARTING, RUNNING = "DRAFT", "STARTING", "RUNNING"
STOPPING, STOPPED, ERROR = "STOPPING", "STOPPED", "ERROR"
INSUFFICIENT_FUNDS, ARCHIVED = "INSUFFICIENT_FUNDS", "ARCHIVED"

# §7.1: what the API accepts. Anything else is refused with HTTP 500.
START_FROM = {DRAFT, STOPPED, ERROR, INSUFFICIENT_FUNDS}
STOP_FROM = {RUNNING, ERROR, INSUFFICIENT_FUNDS}
ARCHIVE_FROM = {STOPPED}
DELETE_FROM = {STOPPED}
# §7.2: single moves the worker may make on its own (DRAFT has no tasks, so it never moves).
WORKER_MOVES: dict[str, set[str]] = {
    DRAFT: set(),
    STARTING: {RUNNING, ERROR, STOPPED},
    RUNNING: {INSUFFICIENT_FUNDS, ERROR, STOPPED, STOPPING},
    INSUFFICIENT_FUNDS: {RUNNING, ERROR},
    STOPPING: {STOPPED, ERROR},
    STOPPED: {ERROR},
    ERROR: set(),
    ARCHIVED: set(),
}


OBSERVED: set[str] = set()  # statuses seen during the run, to show the model was exercised


def worker_reachable(status: str) -> set[str]:
    seen, todo = {status}, [status]
    while todo:
        for following in WORKER_MOVES[todo.pop()]:
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return seen


def _net_spent(jobs: list[dict[str, Any]]) -> int:
    """NOS that left the vault for these jobs: escrowed plus the network fees (never
    refunded), minus what came back as refunds."""
    return sum(
        int(j.get("escrowed") or 0) + int(j.get("fees_paid") or 0) - int(j.get("refunded") or 0)
        for j in jobs
    )


@dataclass
class ModelDeployment:
    handle: Deployment
    status: str
    replicas: int
    timeout: int  # minutes
    name: str


class DeploymentLifecycle(RuleBasedStateMachine):
    sandbox: SandboxHandle  # set by the test
    # One connection pool for every example's client: building a transport loads the CA bundle
    # (~0.1 s), which would otherwise dominate the run. The test closes it at the end.
    transport: httpx.HTTPTransport

    examples_started = 0

    def __init__(self) -> None:
        super().__init__()
        DeploymentLifecycle.examples_started += 1
        self.wallet = Wallet.generate()
        self.sandbox.faucet(self.wallet, sol="5", nos=str(WALLET_NOS))
        network = local_network(self.sandbox.api_url, nos_mint=self.sandbox.nos_mint)
        self.client = NosanaClient(network, self.wallet, env={}, transport=self.transport)
        self.vault = self.client.vaults.create()
        self.topped_up = 0  # NOS base units moved into the vault by this example
        self.spent_by_deleted = 0  # escrowed minus refunded, of jobs whose documents are gone
        self.deployments: dict[str, ModelDeployment] = {}
        self.serial = 0

    # -- observation --------------------------------------------------------------------
    def _settle(self) -> None:
        self.sandbox.worker.settle()

    def _stored(self, deployment_id: str) -> dict[str, Any] | None:
        return self.sandbox.store.find_one("deployments", id=deployment_id)

    def _observe(self, model: ModelDeployment) -> None:
        """Fold the worker's moves into the model, checking each one is legal."""
        doc = self._stored(model.handle.id)
        assert doc is not None, f"{model.handle.id} vanished"
        assert doc["status"] in worker_reachable(model.status), (
            f"the worker moved {model.handle.id} from {model.status} to {doc['status']}"
        )
        model.status = doc["status"]
        OBSERVED.add(model.status)
        assert (doc["replicas"], doc["timeout"], doc["name"]) == (
            model.replicas,
            model.timeout,
            model.name,
        )

    def _pick(self, index: int) -> ModelDeployment:
        self._settle()
        model = list(self.deployments.values())[index % len(self.deployments)]
        self._observe(model)
        return model

    def _jobs(self, deployment_id: str) -> list[dict[str, Any]]:
        return self.sandbox.store.find("jobs", deployment=deployment_id)

    def _funded(self) -> bool:
        return self.topped_up > 0

    # -- rules --------------------------------------------------------------------------
    @rule()
    def topup(self) -> None:
        if WALLET_NOS * NOS - self.topped_up < TOPUP_NOS * NOS:
            with pytest.raises(InsufficientFundsError):  # checked before signing anything
                self.vault.topup(sol="0.2", nos=TOPUP_NOS)
            return
        self.vault.topup(sol="0.2", nos=TOPUP_NOS)
        self.topped_up += int(TOPUP_NOS * NOS)
        assert self.sandbox.chain.nos_balance(self.wallet.address) == (
            WALLET_NOS * NOS - self.topped_up
        )

    @precondition(lambda self: len(self.deployments) < MAX_DEPLOYMENTS)
    @rule(
        replicas=st.integers(1, 3),
        hours=st.integers(1, 3),
        autostart=st.booleans(),
        check_funds=st.booleans(),
    )
    def create(self, replicas: int, hours: int, autostart: bool, check_funds: bool) -> None:
        self.serial += 1
        name = f"model-{self.serial}"
        arguments: dict[str, Any] = {
            "name": name,
            "market": MARKET,
            "replicas": replicas,
            "timeout": hours * 3600,
            "job_definition": container_job("alpine:3", ["sleep", "600"], gpu=False),
            "vault": self.vault.address,
            "autostart": autostart,
            "check_funds": check_funds,
        }
        if check_funds and not self._funded():
            with pytest.raises(InsufficientFundsError):
                self.client.deployments.create(**arguments)
            assert (
                self.sandbox.store.find("deployments", owner=self.wallet.address, name=name) == []
            )
            return
        handle = self.client.deployments.create(**arguments)
        assert handle.state.status == (STARTING if autostart else DRAFT)
        self.deployments[handle.id] = ModelDeployment(
            handle, str(handle.state.status), replicas, hours * 60, name
        )

    @precondition(lambda self: self.deployments)
    @rule(index=st.integers(0, MAX_DEPLOYMENTS - 1))
    def start(self, index: int) -> None:
        model = self._pick(index)
        if model.replicas >= 1 and not self._funded():
            with pytest.raises(InsufficientFundsError):
                model.handle.start()
            return
        if model.status in START_FROM:
            assert model.handle.start().status == STARTING
            model.status = STARTING
        else:
            with pytest.raises(InvalidStateError) as refused:
                model.handle.start()
            assert type(refused.value) is InvalidStateError  # even ARCHIVED: "incorrect state"

    @precondition(lambda self: self.deployments)
    @rule(index=st.integers(0, MAX_DEPLOYMENTS - 1))
    def start_without_funds_check(self, index: int) -> None:
        """The service's own answer; an empty vault then fails in the worker (§7.2)."""
        model = self._pick(index)
        if model.status in START_FROM:
            assert model.handle.start(check_funds=False).status == STARTING
            model.status = STARTING
        else:
            with pytest.raises(InvalidStateError) as refused:
                model.handle.start(check_funds=False)
            assert type(refused.value) is InvalidStateError

    @precondition(lambda self: self.deployments)
    @rule(index=st.integers(0, MAX_DEPLOYMENTS - 1))
    def stop(self, index: int) -> None:
        self._transition(self._pick(index), "stop", STOP_FROM, STOPPING)

    @precondition(lambda self: self.deployments)
    @rule(index=st.integers(0, MAX_DEPLOYMENTS - 1))
    def archive(self, index: int) -> None:
        self._transition(self._pick(index), "archive", ARCHIVE_FROM, ARCHIVED)

    def _transition(self, model: ModelDeployment, action: str, allowed: set[str], to: str) -> None:
        act = getattr(model.handle, action)
        if model.status in allowed:
            assert act().status == to
            model.status = to
        elif model.status == ARCHIVED:
            with pytest.raises(ArchivedDeploymentError):
                act()
        else:
            with pytest.raises(InvalidStateError) as refused:
                act()
            assert type(refused.value) is InvalidStateError
            assert refused.value.status == model.status  # the error names the current status

    @precondition(lambda self: self.deployments)
    @rule(index=st.integers(0, MAX_DEPLOYMENTS - 1))
    def delete(self, index: int) -> None:
        model = self._pick(index)
        if model.status in DELETE_FROM:
            # delete removes the job documents too; their money stays moved on chain
            self.spent_by_deleted += _net_spent(self._jobs(model.handle.id))
            model.handle.delete()
            del self.deployments[model.handle.id]
            assert self._stored(model.handle.id) is None
        else:
            with pytest.raises(InvalidStateError):
                model.handle.delete()

    @precondition(lambda self: self.deployments)
    @rule(index=st.integers(0, MAX_DEPLOYMENTS - 1), replicas=st.integers(-1, 3))
    def update_replicas(self, index: int, replicas: int) -> None:
        model = self._pick(index)
        if replicas < 0:
            with pytest.raises(ValidationError):
                model.handle.update_replicas(replicas)
        elif model.status == ARCHIVED:
            with pytest.raises(ArchivedDeploymentError):
                model.handle.update_replicas(replicas)
        else:
            assert model.handle.update_replicas(replicas).replicas == replicas
            model.replicas = replicas

    @precondition(lambda self: self.deployments)
    @rule(index=st.integers(0, MAX_DEPLOYMENTS - 1), minutes=st.sampled_from([30, 60, 120, 90]))
    def update_timeout(self, index: int, minutes: int) -> None:
        model = self._pick(index)
        if minutes < 60:  # the service's floor for updates, checked before sending
            with pytest.raises(ValidationError):
                model.handle.update_timeout(minutes * 60)
        elif model.status == ARCHIVED:
            with pytest.raises(ArchivedDeploymentError):
                model.handle.update_timeout(minutes * 60)
        else:
            assert model.handle.update_timeout(minutes * 60).timeout == minutes
            model.timeout = minutes

    @precondition(lambda self: self.deployments)
    @rule(index=st.integers(0, MAX_DEPLOYMENTS - 1), name=st.sampled_from(["", "renamed", "x\x00"]))
    def rename(self, index: int, name: str) -> None:
        model = self._pick(index)
        if not name or "\x00" in name:
            with pytest.raises(ValidationError):
                model.handle.rename(name)
        else:  # allowed in every status, ARCHIVED included
            assert model.handle.rename(name).name == name
            model.name = name

    @rule(seconds=st.sampled_from([60, 1800, 7200]))
    def advance(self, seconds: int) -> None:
        self.sandbox.advance(seconds)

    # -- invariants -----------------------------------------------------------------------
    @invariant()
    def statuses_follow_the_model(self) -> None:
        self._settle()
        for model in self.deployments.values():
            self._observe(model)
        owned = {d["id"] for d in self.sandbox.store.find("deployments", owner=self.wallet.address)}
        assert owned == set(self.deployments)

    @invariant()
    def vault_holds_what_the_jobs_left(self) -> None:
        self._settle()
        jobs = self.sandbox.store.find("jobs", vault=self.vault.address)
        expected = self.topped_up - _net_spent(jobs) - self.spent_by_deleted
        assert self.sandbox.chain.nos_balance(self.vault.address) == expected
        if self._funded():  # the model's "funded" must mean enough for any start it allows
            assert expected >= 5 * NOS


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with start(db=":memory:", speed=None, seed=21) as handle:
        yield handle


def test_client_follows_the_deployment_state_machine(sandbox: SandboxHandle) -> None:
    DeploymentLifecycle.sandbox = sandbox
    DeploymentLifecycle.transport = httpx.HTTPTransport()
    try:
        run_state_machine_as_test(
            DeploymentLifecycle,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=12,
                deadline=None,
                derandomize=True,
                database=None,
                # No shrinking: the shared sandbox's clock and worker do not replay exactly, so
                # shrinking would chase a moving target for minutes; the failing run's steps are
                # printed as they happened.
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    except NosanaError as error:  # keep the failing step's typed error readable
        raise AssertionError(f"unexpected {type(error).__name__}: {error}") from error
    finally:
        DeploymentLifecycle.transport.close()
    # the run must have driven deployments through the interesting corners of the model
    assert DeploymentLifecycle.examples_started >= EXAMPLES
    # (STOPPING only lasts until the worker's next pass, so settled observations rarely see it)
    assert {DRAFT, RUNNING, STOPPED, ARCHIVED, INSUFFICIENT_FUNDS} <= OBSERVED, OBSERVED
