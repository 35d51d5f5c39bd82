"""Deployment behaviour: invalid-state mapping, funds pre-check, validation, wait_until, auth.

Tests taking ``backend`` run on the fake and on the real sandbox (tests/core/backends.py); the
funds pre-check reads real vault balances over the RPC on both. The wait_until tests that need a
scripted sequence of statuses stay on the fake.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.deployments import DeploymentFailedError, WaitTimeoutError
from nosana_nb.core.errors import (
    ArchivedDeploymentError,
    DeploymentNotFoundError,
    InsufficientFundsError,
    InvalidStateError,
    ValidationError,
    WalletError,
)
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.validation import DeploymentStatus
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from tests.core.backends import Backend, make_backend
from tests.core.fake_api import (
    MARKET_3060,
    MARKET_UNPRICED,
    FakeNosana,
    async_client,
    new_address,
    sync_client,
)

JD = container_job("ubuntu:24.04", "echo hello", gpu=False)
PRICE = {"fake": 43, "sandbox": 40}
"""NOS base units per second of the 3060 market on each backend."""


def needed_units(backend: Backend, replicas: int = 3, seconds: int = 3600) -> int:
    """Deposit plus the 10 % network fee, per job, times the replicas (hand-computed rule)."""
    deposit = PRICE[backend.kind] * seconds
    return (deposit + deposit // 10) * replicas


def nos(units: int) -> str:
    """Base units as whole NOS, written the way people (and the client's messages) write them."""
    return format((Decimal(units) / 10**6).normalize(), "f")


@pytest.fixture
def client(backend: Backend, wallet: Wallet) -> Iterator[NosanaClient]:
    with backend.client(wallet) as c:
        yield c


@pytest.fixture
def fake_client(fake: FakeNosana, wallet: Wallet) -> Iterator[NosanaClient]:
    with sync_client(fake, wallet) as c:
        yield c


def create_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "name": "demo",
        "market": MARKET_3060,
        "replicas": 3,
        "timeout": 3600,
        "job_definition": JD,
    }
    args.update(overrides)
    return args


def balance_asked(backend: Backend, address: str) -> bool:
    """Whether the client read ``address``'s balance over the RPC."""
    return any(address in s.content.decode() for s in backend.requests("POST", "/rpc"))


# --- invalid state ------------------------------------------------------------------------


def test_incorrect_state_names_current_status_and_allowed_actions(
    client: NosanaClient, backend: Backend
) -> None:
    deployment = backend.deployment(client, "STOPPED")
    behind = client.deployments.get(deployment.id)  # changed behind the first handle's back
    if backend.fake is not None:
        backend.fake.deployments[deployment.id]["status"] = "RUNNING"
    else:
        behind.start(check_funds=False)
        backend.settle()
    with pytest.raises(InvalidStateError) as caught:
        deployment.archive()
    error = caught.value
    assert error.status == "RUNNING"
    assert error.action == "archive"
    assert error.status_code == 500
    assert "RUNNING" in str(error)
    assert "stop" in error.allowed_actions
    assert "Allowed in RUNNING: stop" in str(error)
    assert deployment.state.status is DeploymentStatus.RUNNING  # refreshed while mapping
    assert isinstance(error.__cause__, InvalidStateError)


def test_archived_deployment_refuses_updates(client: NosanaClient, backend: Backend) -> None:
    deployment = backend.deployment(client, "ARCHIVED")
    with pytest.raises(ArchivedDeploymentError) as caught:
        deployment.update_replicas(2)
    assert caught.value.status == "ARCHIVED"
    assert caught.value.allowed_actions == ("update-name",)
    assert "Cannot update-replica-count a deployment that is ARCHIVED" in str(caught.value)
    assert deployment.rename("still allowed").name == "still allowed"


async def test_async_incorrect_state(backend: Backend, wallet: Wallet) -> None:
    with backend.client(wallet) as seeding:
        draft = backend.deployment(seeding, "DRAFT")
    async with backend.aclient(wallet) as client:
        deployment = await client.deployments.get(draft.id)
        with pytest.raises(InvalidStateError) as caught:
            await deployment.stop()
    assert (caught.value.status, caught.value.action) == ("DRAFT", "stop")
    assert "start" in caught.value.allowed_actions


# --- funds pre-check ----------------------------------------------------------------------


def test_create_refuses_before_sending_when_vault_is_short(
    client: NosanaClient, backend: Backend
) -> None:
    shared = client.vaults.create().address
    needed = needed_units(backend)
    backend.fund(shared, sol="1", nos=nos(needed - 1))
    backend.forget()
    with pytest.raises(InsufficientFundsError) as caught:
        client.deployments.create(**create_args())
    message = str(caught.value)
    per_second = nos(PRICE[backend.kind])
    assert message.startswith(f"Insufficient funds: need {nos(needed)} NOS")
    assert f"3 replicas × {per_second} NOS/s × 3600 s + 10% fee" in message
    assert f"vault {shared} has {nos(needed - 1)} NOS" in message
    assert caught.value.required_nos * 10**6 == needed
    assert caught.value.available_nos * 10**6 == needed - 1
    assert backend.requests("POST", "/deployments/create") == []
    assert len(backend.requests("POST", "/deployments/vaults/create")) == 1
    assert balance_asked(backend, shared)


def test_create_checks_sol_too(client: NosanaClient, backend: Backend) -> None:
    shared = client.vaults.create().address
    backend.fund(shared, sol="0.014999999", nos="1000")
    with pytest.raises(InsufficientFundsError, match=r"need about 0\.015 SOL") as caught:
        client.deployments.create(**create_args())
    assert caught.value.required_sol == Decimal("0.015")
    assert backend.requests("POST", "/deployments/create") == []


def test_create_passes_with_enough_funds_or_check_disabled(
    client: NosanaClient, backend: Backend
) -> None:
    client.deployments.create(**create_args(check_funds=False))
    assert backend.requests("POST", "/rpc") == []
    shared = client.vaults.create().address
    backend.fund(shared, sol="1", nos=nos(needed_units(backend)))
    client.deployments.create(**create_args())
    assert balance_asked(backend, shared)
    assert len(backend.requests("POST", "/deployments/create")) == 2


def test_create_checks_the_given_vault(client: NosanaClient, backend: Backend) -> None:
    if backend.fake is not None:
        own = new_address()
        backend.fake.vaults.append(
            {"vault": own, "owner": backend.fake.owner, "created_at": "2026-01-01T00:00:00Z"}
        )
    else:  # a vault of the wallet's own that is not its shared one
        own = client.deployments.create(**create_args(new_vault=True)).state.vault
    backend.fund(own, sol="1", nos=nos(needed_units(backend)))
    backend.forget()
    client.deployments.create(**create_args(vault=own))
    assert balance_asked(backend, own)
    assert backend.requests("POST", "/deployments/vaults/create") == []


def test_a_new_vault_skips_the_check(client: NosanaClient, backend: Backend) -> None:
    client.deployments.create(**create_args(new_vault=True))
    assert backend.requests("POST", "/rpc") == []
    assert len(backend.requests("POST", "/deployments/create")) == 1


def test_an_unpriced_market_skips_the_check(
    fake_client: NosanaClient, fake: FakeNosana, caplog: pytest.LogCaptureFixture
) -> None:
    """Fake only: every sandbox market has a price."""
    with caplog.at_level(logging.WARNING, logger="nosana_nb.core.markets"):
        fake_client.deployments.create(**create_args(market=MARKET_UNPRICED))
    assert "skipping the funds pre-check" in caplog.text
    assert MARKET_UNPRICED in caplog.text
    assert fake.calls("POST", "/rpc") == []
    assert len(fake.calls("POST", "/deployments/create")) == 1


def test_start_checks_funds_before_sending(client: NosanaClient, backend: Backend) -> None:
    deployment = backend.deployment(client, "STOPPED", replicas=2, timeout=3600, new_vault=True)
    if backend.sandbox is not None:  # what the run left in its vault goes back to the wallet
        assert client.wallet is not None
        backend.fund(client.wallet.address, sol="0.01")  # the withdrawal's fee payer
        deployment.vault.withdraw()
    backend.forget()
    with pytest.raises(InsufficientFundsError, match="Insufficient funds: need"):
        deployment.start()
    assert backend.requests("POST", f"/deployments/{deployment.id}/start") == []
    assert balance_asked(backend, deployment.state.vault)
    assert deployment.start(check_funds=False).status is DeploymentStatus.STARTING


async def test_async_create_funds_check(backend: Backend, wallet: Wallet) -> None:
    async with backend.aclient(wallet) as client:
        with pytest.raises(InsufficientFundsError):
            await client.deployments.create(**create_args())
        assert backend.requests("POST", "/deployments/create") == []
        shared = (await client.vaults.create()).address
        backend.fund(shared, sol="1", nos=nos(needed_units(backend)))
        created = await client.deployments.create(**create_args())
    assert created.state.status is DeploymentStatus.DRAFT


# --- validation before the network --------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "argument"),
    [
        ({"market": "not a market!"}, "market"),
        ({"replicas": 0}, "replicas"),
        ({"replicas": True}, "replicas"),
        ({"replicas": 2.5}, "replicas"),
        ({"timeout": 90}, "timeout"),
        ({"timeout": -60}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"strategy": "FAST"}, "strategy"),
        ({"strategy": "INFINITE", "timeout": 1800}, "timeout"),
        ({"strategy": "SCHEDULED"}, "schedule"),
        ({"schedule": "0 * * * *"}, "schedule"),
        ({"strategy": "SCHEDULED", "schedule": "61 * * * *"}, "schedule"),
        ({"strategy": "SCHEDULED", "schedule": "@daily"}, "schedule"),
        ({"rotation_time": 600}, "rotation_time"),
        ({"strategy": "INFINITE", "rotation_time": 3000}, "rotation_time"),
        ({"vault": "bad"}, "vault"),
        ({"vault": MARKET_3060, "new_vault": True}, "vault"),
        ({"ipfs_definition_hash": "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"}, None),
        ({"job_definition": None}, "job_definition"),
        ({"job_definition": None, "ipfs_definition_hash": "Qm123"}, "ipfs_definition_hash"),
        ({"job_definition": {"version": "0.1", "type": "container", "ops": []}}, None),
        ({"name": "bad\nname"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"check_funds": "yes"}, "check_funds"),
        ({"autostart": 1}, "autostart"),
    ],
)
def test_create_rejects_bad_input_before_sending(
    client: NosanaClient, backend: Backend, overrides: dict[str, Any], argument: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        client.deployments.create(**create_args(**overrides))
    if argument is not None:
        assert caught.value.argument == argument
    assert backend.requests() == []


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda d: d.update_timeout(600), "timeout"),
        (lambda d: d.update_timeout(timedelta(minutes=59)), "timeout"),
        (lambda d: d.update_replicas(-1), "replicas"),
        (lambda d: d.update_replicas("2"), "replicas"),
        (lambda d: d.update_schedule("* * *"), "schedule"),
        (lambda d: d.rename(""), "name"),
        (lambda d: d.set_active_revision(0), "revision"),
        (lambda d: d.get_job("nope"), "job"),
        (lambda d: d.get_header(message="a:b"), "message"),
        (lambda d: d.get_jobs(created_after=datetime(2026, 1, 1)), "created_after"),
        (lambda d: d.get_jobs(state="DONE"), "state"),
        (lambda d: d.get_tasks(task=["LIST", 3]), "task"),
        (lambda d: d.get_events(limit=5), "limit"),
        (lambda d: d.create_revision({"version": "0.2"}), "job_definition"),
        (lambda d: d.wait_until("SLEEPING"), "status"),
        (lambda d: d.wait_until("RUNNING", timeout=0), "timeout"),
        (lambda d: d.start(check_funds=None), "check_funds"),
    ],
)
def test_deployment_methods_reject_bad_input_before_sending(
    client: NosanaClient, backend: Backend, call: Any, argument: str
) -> None:
    deployment = backend.deployment(client, "DRAFT")
    backend.forget()
    with pytest.raises(ValidationError) as caught:
        call(deployment)
    assert caught.value.argument == argument
    assert backend.requests() == []


def test_get_rejects_a_bad_id(client: NosanaClient, backend: Backend) -> None:
    with pytest.raises(ValidationError, match="deployment_id"):
        client.deployments.get("../vaults")
    assert backend.requests() == []


# --- wallet -------------------------------------------------------------------------------


def test_unauthenticated_client_refuses_auth_routes_before_sending(backend: Backend) -> None:
    with backend.client(None) as client:
        assert client.wallet is None
        with pytest.raises(WalletError, match="needs a wallet"):
            client.deployments.list().to_list()
        with pytest.raises(WalletError):
            client.deployments.create(**create_args())
        with pytest.raises(WalletError):
            client.vaults.list()
        assert backend.requests() == []
        assert client.markets.list()  # public data still works


def test_read_only_wallet_is_refused_clearly(backend: Backend) -> None:
    watcher = Wallet.read_only(new_address())
    with backend.client(watcher) as client, pytest.raises(WalletError, match="read-only"):
        client.vaults.list()
    assert backend.requests() == []


def test_wallet_from_environment(fake: FakeNosana, wallet: Wallet, tmp_path: Any) -> None:
    import json

    path = tmp_path / "id.json"
    path.write_text(json.dumps(list(bytes(wallet.keypair_for_signing()))))
    with NosanaClient("local", env={"NOSANA_WALLET": str(path)}) as client:
        assert client.wallet == wallet
        assert wallet.address in repr(client)


# --- wait_until ---------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def test_wait_until_polls_with_capped_backoff(fake_client: NosanaClient, fake: FakeNosana) -> None:
    client = fake_client
    record = fake.add_deployment(status="STARTING")
    deployment = client.deployments.get(record["id"])
    clock = FakeTime()
    client._services.sleep, client._services.monotonic = clock.sleep, clock.monotonic
    fake.status_script[record["id"]] = ["STARTING"] * 6 + ["RUNNING"]
    state = deployment.wait_until(
        ["RUNNING", DeploymentStatus.STOPPED], poll_interval=1.0, max_poll_interval=3.0
    )
    assert state.status is DeploymentStatus.RUNNING
    assert clock.sleeps == [1.0, 1.5, 2.25, 3.0, 3.0, 3.0]


def test_wait_until_times_out_naming_the_last_status(
    fake_client: NosanaClient, fake: FakeNosana
) -> None:
    client = fake_client
    record = fake.add_deployment(status="STARTING")
    deployment = client.deployments.get(record["id"])
    clock = FakeTime()
    client._services.sleep, client._services.monotonic = clock.sleep, clock.monotonic
    with pytest.raises(WaitTimeoutError, match="last status seen: STARTING") as caught:
        deployment.wait_until("RUNNING", timeout=10)
    assert caught.value.status == "STARTING"
    assert isinstance(caught.value, TimeoutError)
    assert sum(clock.sleeps) == pytest.approx(10)


def test_wait_until_stops_early_on_error(fake_client: NosanaClient, fake: FakeNosana) -> None:
    client = fake_client
    record = fake.add_deployment(status="STARTING")
    deployment = client.deployments.get(record["id"])
    fake.add_event(record["id"], "JOB_LIST_ERROR", "InsufficientFundsForRent")
    fake.status_script[record["id"]] = ["ERROR"]
    with pytest.raises(DeploymentFailedError, match="JOB_LIST_ERROR: InsufficientFundsForRent"):
        deployment.wait_until("RUNNING")
    assert deployment.wait_until("ERROR").status is DeploymentStatus.ERROR


async def test_async_wait_until(fake: FakeNosana, wallet: Wallet) -> None:
    record = fake.add_deployment(status="STARTING")
    clock = FakeTime()
    async with async_client(fake, wallet) as client:
        client._services.sleep, client._services.monotonic = clock.asleep, clock.monotonic
        deployment = await client.deployments.get(record["id"])
        fake.status_script[record["id"]] = ["STARTING", "RUNNING"]
        state = await deployment.wait_until("RUNNING")
        assert state.status is DeploymentStatus.RUNNING
        fake.status_script[record["id"]] = ["STOPPING"] * 100
        with pytest.raises(WaitTimeoutError, match="STOPPING"):
            await deployment.wait_until("STOPPED", timeout=5)
    assert clock.sleeps[0] == 1.0


def test_wait_until_surfaces_errors_instead_of_polling(
    client: NosanaClient, backend: Backend
) -> None:
    deployment = backend.deployment(client, "STOPPED")
    client.deployments.get(deployment.id).delete()  # gone behind the handle's back
    clock = FakeTime()
    client._services.sleep, client._services.monotonic = clock.sleep, clock.monotonic
    with pytest.raises(DeploymentNotFoundError):
        deployment.wait_until("RUNNING")
    assert clock.sleeps == []


def test_wait_until_follows_the_sandbox_clock(sandbox: SandboxHandle, wallet: Wallet) -> None:
    """Sandbox only: a SIMPLE deployment stops by itself once its job has ended (its timeout
    or the container's own exit); wait_until's sleeps move the sandbox's manual clock, so
    nothing waits for real, and it sees the end within one poll."""
    backend = make_backend("sandbox", wallet, sandbox)
    with backend.client(wallet) as client:
        deployment = backend.deployment(client, "RUNNING", timeout=timedelta(minutes=10))
        started = sandbox.clock.now()
        client._services.sleep = sandbox.advance
        client._services.monotonic = sandbox.clock.now
        state = deployment.wait_until(
            "STOPPED", timeout=3 * 3600, poll_interval=30, max_poll_interval=30
        )
    assert state.status is DeploymentStatus.STOPPED
    (job,) = sandbox.store.find("jobs", deployment=deployment.id)
    assert started < job["time_end"] <= sandbox.clock.now() <= job["time_end"] + 30 + 1


def test_funds_message_formats_amounts_for_people(client: NosanaClient, backend: Backend) -> None:
    need, per_second = {"fake": ("0.17028", "0.000043"), "sandbox": ("0.1584", "0.00004")}[
        backend.kind
    ]
    with pytest.raises(InsufficientFundsError) as caught:
        client.deployments.create(**create_args(replicas=1, timeout=timedelta(hours=1)))
    shared = client.vaults.create().address
    assert str(caught.value) == (
        f"Insufficient funds: need {need} NOS (1 replica × {per_second} NOS/s × 3600 s + 10% fee), "
        f"vault {shared} has 0 NOS; need about 0.005 SOL for rent and fees (1 job × 0.005 SOL), "
        f"vault {shared} has 0 SOL; top up the vault first with "
        f"client.vaults.get({shared!r}).topup(sol=..., nos=...), or pass check_funds=False"
    )
    # no deployment exists yet: the message must not send the user to deployment.vault
    assert "deployment.vault" not in str(caught.value)


def test_funds_message_says_replicas_for_more_than_one(
    client: NosanaClient, backend: Backend
) -> None:
    with pytest.raises(InsufficientFundsError) as caught:
        client.deployments.create(**create_args(replicas=2, timeout=timedelta(hours=1)))
    assert "(2 replicas × " in str(caught.value)
    assert "(2 jobs × " in str(caught.value)
