"""The client-fetching paths of the frames, against the embedded sandbox over real HTTP/RPC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.vaults import Vault
from nosana_nb.frames import (
    cost_dataframe,
    deployments_dataframe,
    events_dataframe,
    fleet_jobs_dataframe,
    jobs_dataframe,
    markets_dataframe,
    revisions_dataframe,
    tasks_dataframe,
    validate_schema,
    vault_balance_dataframe,
)
from nosana_nb.sandbox import SandboxHandle

MARKET = "nvidia-3060"


@pytest.fixture(scope="module")
def ran(sandbox: SandboxHandle, client: NosanaClient) -> tuple[Deployment, Vault]:
    """A SIMPLE deployment of two replicas that ran to the end of its one-hour timeout."""
    vault = client.vaults.create()
    vault.topup(sol="0.05", nos="50")
    deployment = client.deployments.create(
        name="framed",
        market=client.markets.get(MARKET).address,
        replicas=2,
        timeout=timedelta(hours=1),
        strategy="SIMPLE",
        job_definition=container_job("docker.io/library/ubuntu:24.04", ["echo", "hi"]),
        vault=vault.address,
    )
    deployment.start()
    sandbox.advance(90)
    sandbox.advance(3600)
    return deployment, vault


def test_deployment_children_frames_through_the_client(
    client: NosanaClient, ran: tuple[Deployment, Vault]
) -> None:
    deployment, _ = ran
    deployments = deployments_dataframe(client)
    validate_schema(deployments, "deployments")
    assert deployment.id in set(deployments["id"])
    jobs = jobs_dataframe(client, deployment=deployment.id)
    validate_schema(jobs, "jobs")
    assert len(jobs) == 2
    assert set(jobs["deployment"]) == {deployment.id}
    assert jobs["started_at"].notna().all()
    pd_equal = jobs_dataframe(deployment).sort_values("job").reset_index(drop=True)
    assert pd_equal["job"].tolist() == sorted(jobs["job"])
    events = events_dataframe(deployment)
    validate_schema(events, "events")
    assert "JOB_LIST_CONFIRMED" in set(events["type"])
    validate_schema(revisions_dataframe(deployment), "revisions")
    validate_schema(tasks_dataframe(client, deployment=deployment), "tasks")


def test_markets_and_cost_through_the_client(
    sandbox: SandboxHandle, client: NosanaClient, ran: tuple[Deployment, Vault]
) -> None:
    deployment, _ = ran
    markets = markets_dataframe(client)
    validate_schema(markets, "markets")
    market = markets.set_index("address").loc[client.markets.get(MARKET).address]
    assert market["price_base_units_per_second"] > 0
    # nodes counts the market's list of nodes; idle_nodes comes from its account's node queue
    pool = sandbox.worker.network.nodes(client.markets.get(MARKET).address)
    assert market["nodes"] == len(pool)
    assert market["idle_nodes"] == sandbox.worker.idle_nodes(client.markets.get(MARKET).address)
    now = datetime.fromtimestamp(sandbox.clock.now(), UTC)
    cost = cost_dataframe(
        jobs_dataframe(deployment), markets, deployments=deployments_dataframe(client), now=now
    )
    assert (cost["runtime_seconds"] <= 3600).all()
    expected = cost["price_base_units_per_second"] * cost["runtime_seconds"]
    assert (cost["cost_base_units"] == expected).all()


def test_vault_history_reconciles_with_the_chain(
    client: NosanaClient, ran: tuple[Deployment, Vault]
) -> None:
    _, vault = ran
    history = vault_balance_dataframe(client, vault=vault.address)
    validate_schema(history, "vault_balance")
    assert history["kind"].iloc[0] == "topup"
    assert "escrow" in set(history["kind"])
    balance = vault.get_balance()
    assert history["nos_after"].iloc[-1] == balance.nos_base_units
    assert history["sol_after"].iloc[-1] == balance.lamports
    assert int(history["nos_delta"].sum()) == balance.nos_base_units - history["nos_before"].iloc[0]


def test_fleet_jobs_through_a_private_async_client(
    client: NosanaClient, ran: tuple[Deployment, Vault]
) -> None:
    deployment, _ = ran
    fleet = fleet_jobs_dataframe(client, progress=False, max_concurrency=2)
    validate_schema(fleet, "jobs")
    assert set(fleet[fleet["deployment"] == deployment.id]["job"]) == set(
        jobs_dataframe(deployment)["job"]
    )


@pytest.mark.parametrize("stop_after", [None, 600])
def test_cost_totals_equal_escrow_minus_refunds_to_the_base_unit(
    sandbox: SandboxHandle, client: NosanaClient, stop_after: int | None
) -> None:
    """Cost from jobs × prices == NOS the vault escrowed minus what came back, to the unit."""
    deployment = client.deployments.create(
        name=f"costed-{stop_after}",
        market=client.markets.get(MARKET).address,
        replicas=3,
        timeout=timedelta(hours=1),
        strategy="SIMPLE",
        job_definition=container_job("docker.io/library/ubuntu:24.04", ["sleep", "inf"]),
        new_vault=True,
    )
    vault = deployment.vault
    vault.topup(sol="0.05", nos="20")
    deployment.start()
    sandbox.advance(90)
    if stop_after is not None:
        sandbox.advance(stop_after)
        deployment.stop()
    sandbox.advance(2 * 3600)
    assert deployment.refresh().status == "STOPPED"

    now = datetime.fromtimestamp(sandbox.clock.now(), UTC)
    cost = cost_dataframe(
        jobs_dataframe(deployment),
        markets_dataframe(client),
        deployments=deployments_dataframe(client),
        now=now,
    )
    total_cost = int(cost["cost_base_units"].sum())
    total_fees = int(cost["fee_base_units"].sum())
    history = vault_balance_dataframe(
        client, vault=vault.address, escrow_authority=str(sandbox.chain.escrow_authority)
    )
    # a listing moves the deposit and the network fee in one transaction
    escrowed_with_fees = -int(history.loc[history["kind"] == "escrow", "nos_delta"].sum())
    refunded = int(history.loc[history["kind"] == "refund", "nos_delta"].sum())
    assert escrowed_with_fees > 0
    if stop_after is not None:
        assert refunded > 0
    assert total_cost + total_fees == escrowed_with_fees - refunded
    # and both agree with what the sandbox paid its nodes, the fees it took, the vault's balance
    jobs = sandbox.store.find("jobs", deployment=deployment.id)
    assert total_cost == sum(job["paid"] for job in jobs)
    assert total_fees == sum(job["fees_paid"] for job in jobs) > 0
    assert int(cost["total_base_units"].sum()) == total_cost + total_fees
    assert vault.get_balance().nos_base_units == 20_000_000 - total_cost - total_fees
