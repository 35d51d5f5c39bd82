"""Deployment behaviour: invalid-state mapping, funds pre-check, validation, wait_until, auth."""

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
from tests.core.fake_api import (
    MARKET_3060,
    MARKET_UNPRICED,
    Balance,
    BalanceBook,
    FakeNosana,
    async_client,
    new_address,
    sync_client,
)

JD = container_job("ubuntu:24.04", "echo hello", gpu=False)
# 3 replicas × 43 base units/s × 3600 s = 464400, + 10 % fee = 510840 base units
NEEDED_UNITS = 510_840
ENOUGH = Balance(lamports=10**9, nos_base_units=NEEDED_UNITS)


@pytest.fixture
def book() -> BalanceBook:
    return BalanceBook()


@pytest.fixture
def client(fake: FakeNosana, wallet: Wallet, book: BalanceBook) -> Iterator[NosanaClient]:
    with sync_client(fake, wallet) as c:
        c._services.vault_factory = book
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


# --- invalid state ------------------------------------------------------------------------


def test_incorrect_state_names_current_status_and_allowed_actions(
    client: NosanaClient, fake: FakeNosana
) -> None:
    record = fake.add_deployment(status="STOPPED")
    deployment = client.deployments.get(record["id"])
    fake.deployments[record["id"]]["status"] = "RUNNING"  # changed behind our back
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


def test_archived_deployment_refuses_updates(client: NosanaClient, fake: FakeNosana) -> None:
    record = fake.add_deployment(status="ARCHIVED")
    deployment = client.deployments.get(record["id"])
    with pytest.raises(ArchivedDeploymentError) as caught:
        deployment.update_replicas(2)
    assert caught.value.status == "ARCHIVED"
    assert caught.value.allowed_actions == ("update-name",)
    assert "Cannot update-replica-count a deployment that is ARCHIVED" in str(caught.value)
    assert deployment.rename("still allowed").name == "still allowed"


async def test_async_incorrect_state(fake: FakeNosana, wallet: Wallet) -> None:
    record = fake.add_deployment(status="DRAFT")
    async with async_client(fake, wallet) as client:
        deployment = await client.deployments.get(record["id"])
        with pytest.raises(InvalidStateError) as caught:
            await deployment.stop()
    assert (caught.value.status, caught.value.action) == ("DRAFT", "stop")
    assert "start" in caught.value.allowed_actions


# --- funds pre-check ----------------------------------------------------------------------


def test_create_refuses_before_sending_when_vault_is_short(
    client: NosanaClient, fake: FakeNosana, book: BalanceBook
) -> None:
    shared = fake.shared_vault()["vault"]
    book.balances[shared] = Balance(lamports=10**9, nos_base_units=NEEDED_UNITS - 1)
    with pytest.raises(InsufficientFundsError) as caught:
        client.deployments.create(**create_args())
    message = str(caught.value)
    assert message.startswith("Insufficient funds: need 0.51084 NOS")
    assert "3 replicas × 0.000043 NOS/s × 3600 s + 10% fee" in message
    assert f"vault {shared} has 0.510839 NOS" in message
    assert caught.value.required_nos == Decimal("0.51084")
    assert caught.value.available_nos == Decimal("0.510839")
    assert fake.calls("POST", "/deployments/create") == []
    assert len(fake.calls("POST", "/deployments/vaults/create")) == 1
    assert book.asked == [shared]


def test_create_checks_sol_too(client: NosanaClient, fake: FakeNosana, book: BalanceBook) -> None:
    book.default = Balance(lamports=14_999_999, nos_base_units=10**9)
    with pytest.raises(InsufficientFundsError, match=r"need about 0\.015 SOL") as caught:
        client.deployments.create(**create_args())
    assert caught.value.required_sol == Decimal("0.015")
    assert fake.calls("POST", "/deployments/create") == []


def test_create_passes_with_enough_funds_or_check_disabled(
    client: NosanaClient, fake: FakeNosana, book: BalanceBook
) -> None:
    client.deployments.create(**create_args(check_funds=False))
    assert book.asked == []
    book.default = ENOUGH
    client.deployments.create(**create_args())
    assert len(fake.calls("POST", "/deployments/create")) == 2


def test_create_checks_the_given_vault(
    client: NosanaClient, fake: FakeNosana, book: BalanceBook
) -> None:
    own = new_address()
    fake.vaults.append({"vault": own, "owner": fake.owner, "created_at": "2026-01-01T00:00:00Z"})
    book.balances[own] = ENOUGH
    client.deployments.create(**create_args(vault=own))
    assert book.asked == [own]
    assert fake.calls("POST", "/deployments/vaults/create") == []


def test_new_vault_and_unpriced_market_skip_the_check(
    client: NosanaClient, fake: FakeNosana, book: BalanceBook, caplog: pytest.LogCaptureFixture
) -> None:
    client.deployments.create(**create_args(new_vault=True))
    with caplog.at_level(logging.WARNING, logger="nosana_nb.core.markets"):
        client.deployments.create(**create_args(market=MARKET_UNPRICED))
    assert "skipping the funds pre-check" in caplog.text
    assert MARKET_UNPRICED in caplog.text
    assert book.asked == []
    assert len(fake.calls("POST", "/deployments/create")) == 2


def test_start_checks_funds_before_sending(
    client: NosanaClient, fake: FakeNosana, book: BalanceBook
) -> None:
    record = fake.add_deployment(status="STOPPED", replicas=2, timeout=60)
    deployment = client.deployments.get(record["id"])
    with pytest.raises(InsufficientFundsError, match="Insufficient funds: need"):
        deployment.start()
    assert fake.calls("POST", f"/deployments/{record['id']}/start") == []
    assert book.asked == [record["vault"]]
    assert deployment.start(check_funds=False).status is DeploymentStatus.STARTING


async def test_async_create_funds_check(fake: FakeNosana, wallet: Wallet) -> None:
    book = BalanceBook()
    async with async_client(fake, wallet) as client:
        client._services.vault_factory = book.async_factory
        with pytest.raises(InsufficientFundsError):
            await client.deployments.create(**create_args())
        assert fake.calls("POST", "/deployments/create") == []
        book.default = ENOUGH
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
    client: NosanaClient, fake: FakeNosana, overrides: dict[str, Any], argument: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        client.deployments.create(**create_args(**overrides))
    if argument is not None:
        assert caught.value.argument == argument
    assert fake.requests == []


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
    client: NosanaClient, fake: FakeNosana, call: Any, argument: str
) -> None:
    record = fake.add_deployment(status="RUNNING")
    deployment = client.deployments.get(record["id"])
    fake.requests.clear()
    with pytest.raises(ValidationError) as caught:
        call(deployment)
    assert caught.value.argument == argument
    assert fake.requests == []


def test_get_rejects_a_bad_id(client: NosanaClient, fake: FakeNosana) -> None:
    with pytest.raises(ValidationError, match="deployment_id"):
        client.deployments.get("../vaults")
    assert fake.requests == []


# --- wallet -------------------------------------------------------------------------------


def test_unauthenticated_client_refuses_auth_routes_before_sending(fake: FakeNosana) -> None:
    with sync_client(fake, None) as client:
        assert client.wallet is None
        with pytest.raises(WalletError, match="needs a wallet"):
            client.deployments.list().to_list()
        with pytest.raises(WalletError):
            client.deployments.create(**create_args())
        with pytest.raises(WalletError):
            client.vaults.list()
        assert fake.requests == []
        assert client.markets.list()  # public data still works


def test_read_only_wallet_is_refused_clearly(fake: FakeNosana) -> None:
    watcher = Wallet.read_only(new_address())
    with sync_client(fake, watcher) as client, pytest.raises(WalletError, match="read-only"):
        client.vaults.list()
    assert fake.requests == []


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


def test_wait_until_polls_with_capped_backoff(client: NosanaClient, fake: FakeNosana) -> None:
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
    client: NosanaClient, fake: FakeNosana
) -> None:
    record = fake.add_deployment(status="STARTING")
    deployment = client.deployments.get(record["id"])
    clock = FakeTime()
    client._services.sleep, client._services.monotonic = clock.sleep, clock.monotonic
    with pytest.raises(WaitTimeoutError, match="last status seen: STARTING") as caught:
        deployment.wait_until("RUNNING", timeout=10)
    assert caught.value.status == "STARTING"
    assert isinstance(caught.value, TimeoutError)
    assert sum(clock.sleeps) == pytest.approx(10)


def test_wait_until_stops_early_on_error(client: NosanaClient, fake: FakeNosana) -> None:
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
    client: NosanaClient, fake: FakeNosana
) -> None:
    record = fake.add_deployment(status="STOPPED")
    deployment = client.deployments.get(record["id"])
    del fake.deployments[record["id"]]
    clock = FakeTime()
    client._services.sleep, client._services.monotonic = clock.sleep, clock.monotonic
    with pytest.raises(DeploymentNotFoundError):
        deployment.wait_until("RUNNING")
    assert clock.sleeps == []


def test_funds_message_formats_amounts_for_people(
    client: NosanaClient, fake: FakeNosana, book: BalanceBook
) -> None:
    shared = fake.shared_vault()["vault"]
    with pytest.raises(InsufficientFundsError) as caught:
        client.deployments.create(**create_args(replicas=1, timeout=timedelta(hours=1)))
    assert str(caught.value) == (
        "Insufficient funds: need 0.17028 NOS (1 replica × 0.000043 NOS/s × 3600 s + 10% fee), "
        f"vault {shared} has 0 NOS; need about 0.005 SOL for rent and fees (1 job × 0.005 SOL), "
        f"vault {shared} has 0 SOL; top up the vault first with "
        f"client.vaults.get({shared!r}).topup(sol=..., nos=...), or pass check_funds=False"
    )
    # no deployment exists yet: the message must not send the user to deployment.vault
    assert "deployment.vault" not in str(caught.value)


def test_funds_message_says_replicas_for_more_than_one(
    client: NosanaClient, fake: FakeNosana, book: BalanceBook
) -> None:
    with pytest.raises(InsufficientFundsError) as caught:
        client.deployments.create(**create_args(replicas=2, timeout=timedelta(hours=1)))
    assert "(2 replicas × " in str(caught.value)
    assert "(2 jobs × " in str(caught.value)
