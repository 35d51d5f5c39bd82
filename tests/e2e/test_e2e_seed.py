"""The seed document (seeds/000_…txt), translated to Python and run against a live sandbox.

Section by section: Quick Start, the API Reference (create, list, get), State Management,
Configuration Updates, Monitoring, Vault Management, Error Handling, Configuration, and every
strategy name. The seed's ``archive()`` is permanent, so State Management runs on the Quick
Start deployment and the later sections on a second, running one. Every answer is checked
against the sandbox's own store or chain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

import nosana_nb
from nosana_nb.core.errors import ConfigError, InsufficientFundsError, ValidationError
from nosana_nb.core.jobdef import cid_v0
from nosana_nb.core.validation import DeploymentStatus, JobState, Strategy
from nosana_nb.sandbox import SandboxHandle
from tests.e2e.conftest import (
    JOB_DEFINITION,
    MARKET_3060,
    Account,
    AsyncAccount,
    async_wait_running,
    settle,
    wait_running,
)

SEED_CONFIG: dict[str, Any] = {
    "name": "My Application",
    "market": MARKET_3060,
    "replicas": 3,
    "timeout": 300,  # seconds, as in the seed; 5 minutes on the wire
    "strategy": "SIMPLE",
}
STRATEGY_EXTRAS: dict[str, dict[str, Any]] = {
    "SIMPLE": {},
    "SIMPLE-EXTEND": {},
    "SCHEDULED": {"schedule": "*/30 * * * *"},
    "INFINITE": {"timeout": 3600},
}


def _stored(sandbox: SandboxHandle, deployment_id: str) -> dict[str, object]:
    doc = sandbox.store.find_one("deployments", id=deployment_id)
    assert doc is not None, f"deployment {deployment_id} is not in the sandbox store"
    return doc


def _active_jobs(sandbox: SandboxHandle, deployment_id: str) -> list[dict[str, object]]:
    return sandbox.store.find(
        "jobs", lambda j: j["state"] in ("QUEUED", "RUNNING"), deployment=deployment_id
    )


def test_seed_document_sync(
    sandbox: SandboxHandle,
    new_account: Callable[..., Account],
    capsys: pytest.CaptureFixture[str],
) -> None:
    funded = new_account()
    wallet = funded.wallet
    # Quick Start: `new Client('devnet', wallet)`; here the local preset on this sandbox
    assert sandbox.nos_mint == nosana_nb.core.config.LOCAL_NOS_MINT
    client = nosana_nb.Client("local", wallet, deployments={"endpoint": sandbox.api_url}, env={})
    with client:
        ipfs_hash = client.jobs.pin_job_definition(JOB_DEFINITION)
        assert ipfs_hash == cid_v0(JOB_DEFINITION)
        assert sandbox.store.get("ipfs", ipfs_hash) is not None

        deployment = client.deployments.create(**SEED_CONFIG, ipfs_definition_hash=ipfs_hash)
        print("Deployment created:", deployment.state.id)
        assert capsys.readouterr().out == f"Deployment created: {deployment.id}\n"
        stored = _stored(sandbox, deployment.id)
        assert stored["owner"] == wallet.address
        assert stored["status"] == "DRAFT"
        assert (stored["replicas"], stored["timeout"], stored["strategy"]) == (3, 5, "SIMPLE")
        assert stored["vault"] == funded.vault.address  # the shared vault
        assert deployment.state.timeout_seconds == 300

        # Listing Deployments / Getting a Specific Deployment
        listed = client.deployments.list().to_list()
        assert [d.id for d in listed] == [deployment.id]
        fetched = client.deployments.get(deployment.id)
        assert fetched.state.name == "My Application"
        assert fetched.state.created_at == deployment.state.created_at

        # State Management: start -> (worker) RUNNING, stop -> STOPPED, archive
        assert deployment.start().status is DeploymentStatus.STARTING
        wait_running(deployment)
        settle(sandbox)
        assert len(_active_jobs(sandbox, deployment.id)) == 3
        assert deployment.stop().status is DeploymentStatus.STOPPING
        settle(sandbox)
        assert deployment.refresh().status is DeploymentStatus.STOPPED
        assert _active_jobs(sandbox, deployment.id) == []
        assert deployment.archive().status is DeploymentStatus.ARCHIVED
        assert _stored(sandbox, deployment.id)["status"] == "ARCHIVED"

        # Configuration Updates, on a running deployment
        running = client.deployments.create(**SEED_CONFIG, ipfs_definition_hash=ipfs_hash)
        running.start()
        wait_running(running)
        assert running.update_replicas(5).replicas == 5
        settle(sandbox)
        assert len(_active_jobs(sandbox, running.id)) == 5
        with pytest.raises(ValidationError, match="at least 60 minutes") as refused:
            running.update_timeout(600)  # 600 s = 10 min; the service needs >= 60 min
        assert refused.value.argument == "timeout"
        assert _stored(sandbox, running.id)["timeout"] == 5  # nothing was sent
        assert running.update_timeout(timedelta(hours=2)).timeout == 120
        assert _stored(sandbox, running.id)["timeout"] == 120

        # Monitoring
        tasks = running.get_tasks().to_list()
        assert len(tasks) == sandbox.store.count("tasks", deploymentId=running.id)
        state = running.refresh()
        assert state.status is DeploymentStatus.RUNNING
        assert [e.type for e in state.events] == ["JOB_LIST_CONFIRMED"] * 5
        assert sorted(j.job for j in state.jobs) == sorted(
            str(j["job"]) for j in _active_jobs(sandbox, running.id)
        )
        assert {j.state for j in state.jobs} == {JobState.QUEUED}

        # Vault Management
        vault = running.vault
        balance = vault.get_balance()
        assert balance.lamports == sandbox.chain.sol_balance(vault.address)
        assert balance.nos_base_units == sandbox.chain.nos_balance(vault.address)
        vault.topup(1000000)  # lamports, like the seed
        assert vault.get_balance().lamports == balance.lamports + 1_000_000
        with pytest.raises(ValidationError, match="always withdraws everything"):
            vault.withdraw(500000)  # the service always drains the whole vault
        assert vault.get_balance().lamports == balance.lamports + 1_000_000  # nothing was sent
        owner_nos = sandbox.chain.nos_balance(wallet.address)
        vault.withdraw()
        emptied = vault.get_balance()
        assert (emptied.lamports, emptied.nos_base_units) == (0, 0)
        assert sandbox.chain.nos_balance(wallet.address) == owner_nos + balance.nos_base_units

        # Deployment Strategies: every name is accepted
        for strategy, extras in STRATEGY_EXTRAS.items():
            options = {**SEED_CONFIG, "replicas": 1, **extras, "strategy": strategy}
            made = client.deployments.create(
                **options, ipfs_definition_hash=ipfs_hash, check_funds=False
            )
            assert made.state.strategy == Strategy(strategy)
            assert _stored(sandbox, made.id)["strategy"] == strategy


def test_seed_error_handling_insufficient_funds(
    sandbox: SandboxHandle, new_account: Callable[..., Account]
) -> None:
    unfunded = new_account(vault_sol=None, vault_nos=None)  # wallet has money, vault none
    # the seed: catch (error) { if (error.message.includes('Insufficient funds')) ... }
    with pytest.raises(Exception) as caught:  # noqa: PT011 (the seed catches anything)
        unfunded.client.deployments.create(**SEED_CONFIG, job_definition=JOB_DEFINITION)
    error = caught.value
    assert "Insufficient funds" in str(error)
    assert isinstance(error, InsufficientFundsError)
    assert error.available_nos == 0
    assert error.required_nos is not None
    assert error.required_nos > 0
    assert sandbox.store.count("deployments", owner=unfunded.wallet.address) == 0


def test_seed_configuration_points_at_custom_endpoints(
    sandbox: SandboxHandle, account: Account
) -> None:
    made = account.deploy(name="configured")
    client = nosana_nb.Client(
        "devnet",
        account.wallet,
        solana={"network": sandbox.rpc_url},
        deployments={"endpoint": sandbox.api_url},
        env={},
    )
    with client:
        assert client.network.name == "devnet"
        assert (client.network.api_url, client.network.rpc_url) == (
            sandbox.api_url,
            sandbox.rpc_url,
        )
        assert [d.id for d in client.deployments.list()] == [made.id]
        lamports = client.rpc.get_balance(account.wallet.address)
        assert lamports == sandbox.chain.sol_balance(account.wallet.address)
    # plain http to a non-loopback host needs an explicit opt-in (credentials in the clear)
    with pytest.raises(ConfigError, match="allow_insecure_http"):
        nosana_nb.Client(
            "devnet", account.wallet, deployments={"endpoint": "http://10.0.0.1:3001"}, env={}
        )
    insecure = nosana_nb.Client(
        "devnet",
        account.wallet,
        deployments={"endpoint": "http://10.0.0.1:3001"},
        allow_insecure_http=True,
        env={},
    )
    insecure.close()
    assert insecure.network.api_url == "http://10.0.0.1:3001"


async def test_seed_document_async(
    sandbox: SandboxHandle, new_async_account: Callable[..., Awaitable[AsyncAccount]]
) -> None:
    funded = await new_async_account()
    wallet = funded.wallet
    async with nosana_nb.AsyncNosanaClient(
        "local", wallet, deployments={"endpoint": sandbox.api_url}, env={}
    ) as client:
        ipfs_hash = await client.jobs.pin_job_definition(JOB_DEFINITION)
        assert ipfs_hash == cid_v0(JOB_DEFINITION)
        deployment = await client.deployments.create(**SEED_CONFIG, ipfs_definition_hash=ipfs_hash)
        assert _stored(sandbox, deployment.id)["timeout"] == 5
        assert deployment.state.vault == funded.vault.address

        listed = await client.deployments.list().to_list()
        assert [d.id for d in listed] == [deployment.id]
        fetched = await client.deployments.get(deployment.id)
        assert fetched.state.name == "My Application"

        assert (await deployment.start()).status is DeploymentStatus.STARTING
        await async_wait_running(deployment)
        settle(sandbox)
        assert len(_active_jobs(sandbox, deployment.id)) == 3
        assert (await deployment.stop()).status is DeploymentStatus.STOPPING
        settle(sandbox)
        assert (await deployment.refresh()).status is DeploymentStatus.STOPPED
        assert (await deployment.archive()).status is DeploymentStatus.ARCHIVED

        running = await client.deployments.create(**SEED_CONFIG, ipfs_definition_hash=ipfs_hash)
        await running.start()
        await async_wait_running(running)
        assert (await running.update_replicas(5)).replicas == 5
        settle(sandbox)
        assert len(_active_jobs(sandbox, running.id)) == 5
        with pytest.raises(ValidationError, match="at least 60 minutes"):
            await running.update_timeout(600)
        assert (await running.update_timeout(timedelta(hours=2))).timeout == 120
        assert _stored(sandbox, running.id)["timeout"] == 120

        tasks = await running.get_tasks().to_list()
        assert len(tasks) == sandbox.store.count("tasks", deploymentId=running.id)
        state = await running.refresh()
        assert state.status is DeploymentStatus.RUNNING
        assert [e.type for e in state.events] == ["JOB_LIST_CONFIRMED"] * 5
        assert len(state.jobs) == 5

        vault = running.vault
        balance = await vault.get_balance()
        assert balance.lamports == sandbox.chain.sol_balance(vault.address)
        await vault.topup(1000000)
        assert (await vault.get_balance()).lamports == balance.lamports + 1_000_000
        with pytest.raises(ValidationError, match="always withdraws everything"):
            await vault.withdraw(500000)
        await vault.withdraw()
        emptied = await vault.get_balance()
        assert (emptied.lamports, emptied.nos_base_units) == (0, 0)

        unfunded = await new_async_account(vault_sol=None, vault_nos=None)
        with pytest.raises(InsufficientFundsError, match=r"^Insufficient funds"):
            await unfunded.client.deployments.create(**SEED_CONFIG, job_definition=JOB_DEFINITION)
        assert sandbox.store.count("deployments", owner=unfunded.wallet.address) == 0

        for strategy, extras in STRATEGY_EXTRAS.items():
            options = {**SEED_CONFIG, "replicas": 1, **extras, "strategy": strategy}
            made = await client.deployments.create(
                **options, ipfs_definition_hash=ipfs_hash, check_funds=False
            )
            assert made.state.strategy == Strategy(strategy)
            assert _stored(sandbox, made.id)["strategy"] == strategy
