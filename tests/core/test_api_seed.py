"""The seed document's TypeScript surface, call by call, in Python idiom (mock transport).

The real vault code runs against the fake's small Solana JSON-RPC; the fake is not a chain, so
balances are set on it directly where a real network would move funds.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
from solders.system_program import ID as SYSTEM_PROGRAM_ID

import nosana_nb.core as nosana
from nosana_nb.core.config import local_network
from nosana_nb.core.errors import VaultEmptyError
from nosana_nb.core.jobdef import container_job
from tests.core.fake_api import DEVNET_NOS_MINT, MARKET_3060, FakeNosana

JOB_DEFINITION = container_job("ubuntu:24.04", ["/bin/bash", "-c", "echo hello"], gpu=True)
NETWORK = replace(local_network(), nos_mint=DEVNET_NOS_MINT)


def test_seed_configuration_keywords() -> None:
    wallet = nosana.Wallet.generate()
    client = nosana.Client(
        "devnet",
        wallet,
        solana={"network": "https://api.mainnet-beta.solana.com"},
        deployments={"endpoint": "https://deployment-manager.k8s.prd.nos.ci"},
        env={},
    )
    with client:
        assert client.network.rpc_url == "https://api.mainnet-beta.solana.com"
        assert client.network.api_url == "https://deployment-manager.k8s.prd.nos.ci"
        assert repr(client).startswith("NosanaClient(network='devnet'")
        assert wallet.address in repr(client)
    assert nosana.Client is nosana.NosanaClient


def test_seed_quick_start_and_api_reference() -> None:
    wallet = nosana.Wallet.generate()
    fake = FakeNosana(owner=wallet.address)
    client = nosana.Client(NETWORK, wallet, transport=httpx.MockTransport(fake), env={})

    # Quick Start: pin the job definition, then create (timeout in seconds, like the seed)
    ipfs_hash = client.jobs.pin_job_definition(JOB_DEFINITION)
    config: dict[str, Any] = {
        "name": "My Application",
        "market": MARKET_3060,
        "replicas": 3,
        "timeout": 300,
        "strategy": "SIMPLE",
        "ipfs_definition_hash": ipfs_hash,
    }

    # Error Handling: an empty vault is refused before anything is created
    with pytest.raises(nosana.NosanaError) as caught:
        client.deployments.create(**config)
    assert "Insufficient funds" in str(caught.value)  # the seed's error.message.includes(...)
    assert isinstance(caught.value, nosana.InsufficientFundsError)
    assert fake.calls("POST", "/deployments/create") == []

    shared = fake.shared_vault()["vault"]
    fake.lamports[shared] = 20_000_000  # 0.02 SOL
    fake.nos_units[shared] = 100_000  # 0.1 NOS >= 3 × 0.000043 × 300 × 1.1 = 0.04257
    deployment = client.deployments.create(**config)
    assert deployment.state.id == deployment.id
    assert deployment.state.timeout == 5  # minutes on the wire
    assert deployment.state.timeout_seconds == 300

    # Listing and getting
    deployments = client.deployments.list()
    assert [d.id for d in deployments] == [deployment.id]
    same = client.deployments.get(deployment.id)
    assert same.state.name == "My Application"

    # State management
    assert deployment.start().status is nosana.DeploymentStatus.STARTING
    fake.deployments[deployment.id]["status"] = "RUNNING"  # the worker's move

    # Configuration updates
    assert deployment.update_replicas(5).replicas == 5
    with pytest.raises(nosana.ValidationError, match="at least 60 minutes") as caught:
        deployment.update_timeout(600)  # 600 s = 10 min: the service needs >= 60 min
    assert caught.value.argument == "timeout"
    assert deployment.update_timeout(3600).timeout == 60

    # Monitoring
    fake.add_job(deployment.id, state="RUNNING")
    fake.add_event(deployment.id, "JOB_LIST_CONFIRMED", "Successfully listed job - x")
    tasks = deployment.get_tasks()
    assert tasks.to_list() == []
    deployment.refresh()
    assert deployment.state.status == "RUNNING"
    assert [e.type for e in deployment.state.events] == ["JOB_LIST_CONFIRMED"]
    assert [j.state for j in deployment.state.jobs] == [nosana.JobState.RUNNING]

    # Vault management (the real Vault, over the fake's JSON-RPC)
    balance = deployment.vault.get_balance()
    assert (balance.sol, balance.nos) == (Decimal("0.02"), Decimal("0.1"))
    fake.lamports[wallet.address] = 10**9
    signature = deployment.vault.topup(1000000)  # lamports, like the seed
    (sent,) = fake.sent_transactions
    assert str(sent.signatures[0]) == signature
    assert SYSTEM_PROGRAM_ID in sent.message.account_keys
    with pytest.raises(nosana.ValidationError, match="withdraw\\(\\) takes no amount"):
        deployment.vault.withdraw(500000)  # the service always drains the whole vault
    with pytest.raises(VaultEmptyError):
        deployment.vault.withdraw()  # this fake vault reports nothing to withdraw

    deployment.stop()
    fake.deployments[deployment.id]["status"] = "STOPPED"
    assert deployment.archive().status is nosana.DeploymentStatus.ARCHIVED
    client.close()


def test_seed_statuses_and_strategies_are_known() -> None:
    assert [s.value for s in nosana.DeploymentStatus] == [
        "DRAFT",
        "ERROR",
        "STARTING",
        "RUNNING",
        "STOPPING",
        "STOPPED",
        "INSUFFICIENT_FUNDS",
        "ARCHIVED",
    ]
    assert {s.value for s in nosana.Strategy} == {
        "SIMPLE",
        "SIMPLE-EXTEND",
        "SCHEDULED",
        "INFINITE",
    }
