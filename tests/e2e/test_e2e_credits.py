"""Credits: API-key deployments reserve and settle credits; the client reads the balance and
refuses, before sending, a deployment the credits cannot cover.

Simulated time moves only through the sandbox's manual clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import InsufficientFundsError
from nosana_nb.core.validation import DeploymentStatus
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.sandbox.worker.credits import micro_usd
from tests.e2e.conftest import JOB_DEFINITION, MARKET_3060, network_of, settle, wait_running

API_KEY = "nos_e2e_credits_key_0001"


def assign(sandbox: SandboxHandle, api_key: str, usd: str) -> None:
    reply = httpx.post(f"{sandbox.api_url}/_sandbox/credits", json={"api_key": api_key, "usd": usd})
    reply.raise_for_status()


@pytest.fixture
def key_client(sandbox: SandboxHandle) -> Iterator[NosanaClient]:
    with NosanaClient(network_of(sandbox), Wallet.generate(), api_key=API_KEY, env={}) as client:
        yield client


def test_balance_reserve_and_settle(sandbox: SandboxHandle, key_client: NosanaClient) -> None:
    assign(sandbox, API_KEY, "5")
    start = key_client.credits.balance()
    assert (start.assigned_credits, start.available) == (Decimal(5), Decimal(5))

    deployment = key_client.deployments.create(
        name="paid-in-credits",
        market=MARKET_3060,
        replicas=2,
        timeout=timedelta(minutes=10),
        strategy="SIMPLE",
        job_definition=JOB_DEFINITION,
    )
    deployment.start()
    wait_running(deployment)
    settle(sandbox)
    listed = sandbox.store.find("jobs", deployment=deployment.id)
    assert len(listed) == 2
    reserved = sum(micro_usd(int(j["escrowed"]) + int(j["fees_paid"])) for j in listed)
    during = key_client.credits.balance()
    assert during.reserved_credits == Decimal(reserved) / 10**6
    assert during.available == Decimal(5) - Decimal(reserved) / 10**6

    sandbox.advance(60 * 12)  # past the timeout: both jobs ended, reservations released
    assert deployment.refresh().status is DeploymentStatus.STOPPED
    ended = sandbox.store.find("jobs", deployment=deployment.id)
    used = sum(micro_usd(int(j["paid"])) + micro_usd(int(j["fees_paid"])) for j in ended)
    after = key_client.credits.balance()
    assert after.reserved_credits == 0
    assert after.settled_credits == Decimal(used) / 10**6
    assert after.available == Decimal(5) - Decimal(used) / 10**6


def test_the_precheck_refuses_what_the_credits_cannot_cover(
    sandbox: SandboxHandle, replies_match_the_api_types: object
) -> None:
    key = "nos_e2e_credits_key_0002"
    assign(sandbox, key, "0.01")
    with NosanaClient(network_of(sandbox), Wallet.generate(), api_key=key, env={}) as client:
        with pytest.raises(InsufficientFundsError, match="credits") as caught:
            client.deployments.create(
                name="too-dear",
                market=MARKET_3060,
                replicas=4,
                timeout=timedelta(hours=2),
                strategy="SIMPLE",
                job_definition=JOB_DEFINITION,
            )
        assert caught.value.available_credits == Decimal("0.01")
        assert caught.value.required_credits is not None
        assert caught.value.required_credits > Decimal("0.01")
        assert client.deployments.list().to_list() == []  # nothing was created


def test_running_out_of_credits_is_insufficient_funds(sandbox: SandboxHandle) -> None:
    key = "nos_e2e_credits_key_0003"
    assign(sandbox, key, "0.01")
    with NosanaClient(network_of(sandbox), Wallet.generate(), api_key=key, env={}) as client:
        deployment = client.deployments.create(
            name="runs-dry",
            market=MARKET_3060,
            replicas=1,
            timeout=timedelta(hours=2),
            strategy="SIMPLE",
            job_definition=JOB_DEFINITION,
            check_funds=False,
        )
        deployment.start()
        settle(sandbox)  # the LIST fails for lack of credits at once
        assert deployment.refresh().status is DeploymentStatus.INSUFFICIENT_FUNDS
        (error,) = [e for e in deployment.get_events() if e.type == "JOB_LIST_ERROR"]
        assert error.message.startswith("Insufficient credits. Available: $0.01, Required: $")
