"""Fixtures of the end-to-end suite: the client against a running sandbox over real HTTP.

One sandbox per test module, on a manual clock (simulated time moves only through
``sandbox.advance``), so a module's tests share the chain, the node pools and the clock: every
test makes its own wallet and deployments and asserts only about those.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import NetworkConfig, local_network
from nosana_nb.core.deployments import AsyncDeployment, Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.vaults import AsyncVault, Vault
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle, start
from tests.wire_schema import ReplyChecker, watch_replies

SANDBOX_SEED = 11
MARKET_3060 = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
"""NVIDIA 3060, the seed document's market: 8 simulated nodes, 40 NOS base units a second."""
MARKET_4090 = "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf"
MARKET_3090 = "CA5pMpqkYFKtme7K31pNB1s62X2SdhEv1nN9RdxKCpuQ"
LAMPORTS_PER_SOL = 10**9
NOS_BASE_UNITS = 10**6
FEE_LAMPORTS = 5000
"""What one signature costs on the sandbox chain (LiteSVM's default)."""

JOB_DEFINITION: dict[str, Any] = container_job(
    "docker.io/nosana/pytorch-jupyter:latest",
    ["jupyter", "lab", "--ip=0.0.0.0"],
    expose=8888,
)


def network_of(sandbox: SandboxHandle) -> NetworkConfig:
    """The ``local`` preset pointed at this sandbox (its port and NOS mint)."""
    return local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)


def start_sandbox(db: str = ":memory:") -> SandboxHandle:
    return start(db=db, speed=None, seed=SANDBOX_SEED)


def stored(sandbox: SandboxHandle, collection: str, **equals: Any) -> dict[str, Any]:
    """The one document of ``collection`` matching ``equals`` in the sandbox's store."""
    found = sandbox.store.find(collection, **equals)
    assert len(found) == 1, f"{len(found)} {collection} documents match {equals}"
    return found[0]


def settle(sandbox: SandboxHandle) -> None:
    """Let the worker finish what is due at the current simulated instant (no time passes)."""
    sandbox.worker.settle()


@dataclass
class Account:
    """A funded wallet, its client and its funded shared vault."""

    wallet: Wallet
    client: NosanaClient
    vault: Vault
    created: list[Deployment] = field(default_factory=list)

    def deploy(self, **overrides: Any) -> Deployment:
        """A deployment with small defaults (SIMPLE, 1 replica, 10 min on the 3060 market)."""
        options: dict[str, Any] = {
            "name": "e2e",
            "market": MARKET_3060,
            "replicas": 1,
            "timeout": timedelta(minutes=10),
            "strategy": "SIMPLE",
        }
        options.update(overrides)
        if "ipfs_definition_hash" not in options:
            options.setdefault("job_definition", JOB_DEFINITION)
        deployment = self.client.deployments.create(**options)
        self.created.append(deployment)
        return deployment


@dataclass
class AsyncAccount:
    wallet: Wallet
    client: AsyncNosanaClient
    vault: AsyncVault


def fund_wallet(sandbox: SandboxHandle, wallet: Wallet, *, sol: str, nos: str) -> None:
    sandbox.faucet(wallet.address, sol=sol, nos=nos)


def open_account(
    sandbox: SandboxHandle,
    *,
    wallet_sol: str = "2",
    wallet_nos: str = "500",
    vault_sol: str | None = "0.5",
    vault_nos: str | None = "100",
) -> Account:
    """A fresh wallet from the faucet, a client, and its shared vault topped up by the client."""
    wallet = Wallet.generate()
    fund_wallet(sandbox, wallet, sol=wallet_sol, nos=wallet_nos)
    client = NosanaClient(network_of(sandbox), wallet, env={})
    vault = client.vaults.create()
    if vault_sol or vault_nos:
        vault.topup(
            sol=Decimal(vault_sol) if vault_sol else None,
            nos=Decimal(vault_nos) if vault_nos else None,
        )
    return Account(wallet=wallet, client=client, vault=vault)


async def open_async_account(
    sandbox: SandboxHandle,
    *,
    wallet_sol: str = "2",
    wallet_nos: str = "500",
    vault_sol: str | None = "0.5",
    vault_nos: str | None = "100",
) -> AsyncAccount:
    wallet = Wallet.generate()
    fund_wallet(sandbox, wallet, sol=wallet_sol, nos=wallet_nos)
    client = AsyncNosanaClient(network_of(sandbox), wallet, env={})
    vault = await client.vaults.create()
    if vault_sol or vault_nos:
        await vault.topup(
            sol=Decimal(vault_sol) if vault_sol else None,
            nos=Decimal(vault_nos) if vault_nos else None,
        )
    return AsyncAccount(wallet=wallet, client=client, vault=vault)


def wait_running(deployment: Deployment) -> None:
    """STARTING -> RUNNING is the worker's move, done within milliseconds of wall time."""
    deployment.wait_until("RUNNING", timeout=10, poll_interval=0.01, max_poll_interval=0.05)


async def async_wait_running(deployment: AsyncDeployment) -> None:
    await deployment.wait_until("RUNNING", timeout=10, poll_interval=0.01, max_poll_interval=0.05)


@pytest.fixture(autouse=True)
def replies_match_the_api_types(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplyChecker]:
    """Every reply a test's clients receive from the sandbox must fit the service's API types
    (tests/fixtures/nosana_api_2.1.8_responses.schema.json); a misfit fails the test."""
    checker = ReplyChecker()
    watch_replies(monkeypatch, checker)
    yield checker
    assert not checker.problems, "replies that do not fit the API types:\n" + "\n".join(
        checker.problems[:20]
    )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """One sandbox per test module, in memory, with a frozen clock."""
    handle = start_sandbox()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def own_sandbox() -> Iterator[SandboxHandle]:
    """A sandbox for one test alone.

    The simulated network's draws (claim delays, which containers exit early) are fixed by the
    seed and the order jobs are listed in, so a test that relies on them gets its own sandbox:
    its outcome then does not depend on which other tests ran before it.
    """
    handle = start_sandbox()
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def own_account(own_sandbox: SandboxHandle) -> Iterator[Account]:
    account = open_account(own_sandbox)
    try:
        yield account
    finally:
        account.client.close()


@pytest.fixture
def new_account(sandbox: SandboxHandle) -> Iterator[Callable[..., Account]]:
    """``new_account(**funding)`` -> Account; every client is closed after the test."""
    opened: list[Account] = []

    def make(**funding: Any) -> Account:
        account = open_account(sandbox, **funding)
        opened.append(account)
        return account

    yield make
    for account in opened:
        account.client.close()


@pytest.fixture
def account(new_account: Callable[..., Account]) -> Account:
    return new_account()


@pytest.fixture
async def new_async_account(
    sandbox: SandboxHandle,
) -> AsyncIterator[Callable[..., Awaitable[AsyncAccount]]]:
    opened: list[AsyncAccount] = []

    async def make(**funding: Any) -> AsyncAccount:
        account = await open_async_account(sandbox, **funding)
        opened.append(account)
        return account

    yield make
    for account in opened:
        await account.client.aclose()
