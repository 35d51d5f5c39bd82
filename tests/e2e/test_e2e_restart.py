"""Stop a sandbox on a SQLite file and start another on it: nothing acknowledged is lost.

Deployments in several states, running jobs, outstanding tasks, events, revisions and vault
balances are read through the client before the restart and again after it (a new sandbox, a
new client), and must be identical; then the restarted worker carries on: the running jobs end
exactly when they were planned to, extensions and cron firings continue.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.sandbox.worker.network import job_end_time
from tests.e2e.conftest import (
    MARKET_3060,
    MARKET_3090,
    Account,
    network_of,
    open_account,
    settle,
    start_sandbox,
    wait_running,
)

Snapshot = dict[str, Any]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sandbox.db"


@pytest.fixture
def first_sandbox(db_path: Path) -> Iterator[SandboxHandle]:
    handle = start_sandbox(str(db_path))
    try:
        yield handle
    finally:
        handle.stop()  # idempotent: the test stops it itself


def _dump(items: Any) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in items]


def _snapshot(client: NosanaClient, wallet: Wallet, ids: list[str]) -> Snapshot:
    """Everything the client can see of this wallet's world."""
    seen: Snapshot = {
        "deployments": [d.id for d in client.deployments.list(sort_order="asc")],
        "vaults": sorted(v.vault for v in client.vaults.list()),
        "wallet_lamports": client.rpc.get_balance(wallet.address),
        "wallet_nos": client.rpc.get_token_balance(wallet.address, client.network.nos_mint),
    }
    for vault in seen["vaults"]:
        balance = client.vaults.get(vault).get_balance()
        seen[f"vault {vault}"] = (balance.lamports, balance.nos_base_units)
    for deployment_id in ids:
        deployment = client.deployments.get(deployment_id)
        seen[deployment_id] = {
            "state": deployment.state.model_dump(mode="json", exclude={"events", "jobs"}),
            "jobs": _dump(deployment.get_jobs(sort_order="asc")),
            "events": _dump(deployment.get_events(sort_order="asc")),
            "revisions": _dump(deployment.get_revisions(sort_order="asc")),
            "tasks": (
                _dump(deployment.get_tasks(sort_order="asc"))
                if deployment.state.status != "ARCHIVED"
                else None
            ),
        }
    return seen


def _running(account: Account, **options: Any) -> Deployment:
    deployment = account.deploy(**options)
    deployment.start()
    wait_running(deployment)
    return deployment


def test_restart_keeps_everything_and_the_worker_continues(
    first_sandbox: SandboxHandle, db_path: Path
) -> None:
    sandbox = first_sandbox
    account = open_account(sandbox)
    draft = account.deploy(name="draft")
    simple = _running(
        account, name="simple", replicas=2, timeout=timedelta(minutes=30), market=MARKET_3090
    )
    extend = _running(account, name="extend", strategy="SIMPLE-EXTEND", market=MARKET_3090)
    hourly = _running(
        account, name="hourly", strategy="SCHEDULED", schedule="0 * * * *", market=MARKET_3060
    )
    stopped = _running(account, name="stopped")
    archived = _running(account, name="archived")
    revised = account.deploy(name="revised")
    revised.create_revision(container_job("docker.io/library/busybox:1", ["true"], gpu=False))
    broke = account.deploy(name="broke", new_vault=True, check_funds=False)
    broke.start(check_funds=False)
    broke.wait_until("INSUFFICIENT_FUNDS", timeout=10, poll_interval=0.01)
    settle(sandbox)
    for deployment in (stopped, archived):
        deployment.stop()
    settle(sandbox)
    archived.archive()
    sandbox.advance(61)  # the running deployments' jobs are claimed
    ids = [d.id for d in (draft, simple, extend, hourly, stopped, archived, revised, broke)]

    running_jobs = sandbox.store.find("jobs", state="RUNNING")
    assert {j["deployment"] for j in running_jobs} == {simple.id, extend.id}
    planned_end = {j["job"]: job_end_time(j) for j in running_jobs}
    before = _snapshot(account.client, account.wallet, ids)
    statuses = {i: before[i]["state"]["status"] for i in ids}
    assert statuses == {
        draft.id: "DRAFT",
        simple.id: "RUNNING",
        extend.id: "RUNNING",
        hourly.id: "RUNNING",
        stopped.id: "STOPPED",
        archived.id: "ARCHIVED",
        revised.id: "DRAFT",
        broke.id: "INSUFFICIENT_FUNDS",
    }
    assert before[extend.id]["tasks"]
    assert before[hourly.id]["tasks"]
    assert len(before[revised.id]["revisions"]) == 2
    clock_at_stop = sandbox.clock.now()
    account.client.close()
    sandbox.stop()

    restarted = start_sandbox(str(db_path))
    try:
        assert restarted.nos_mint == sandbox.nos_mint
        assert restarted.clock.now() >= clock_at_stop
        with NosanaClient(network_of(restarted), account.wallet, env={}) as client:
            after = _snapshot(client, account.wallet, ids)
            assert after == before

            # the worker carries on from the file: the jobs end as planned
            last_end = max(planned_end.values())
            restarted.advance(last_end - restarted.clock.now() + 1)
            for job, end in planned_end.items():
                ended = restarted.store.find_one("jobs", job=job)
                assert ended is not None
                if ended["deployment"] == simple.id:
                    assert (ended["state"], ended["time_end"]) == ("COMPLETED", int(end))
            assert client.deployments.get(simple.id).state.status == "STOPPED"
            (extend_job,) = restarted.store.find("jobs", deployment=extend.id)
            extensions_before = sum(
                1 for e in before[extend.id]["events"] if e["type"] == "JOB_EXTEND_SUCCESSFUL"
            )
            extensions = client.deployments.get(extend.id).get_events(type="JOB_EXTEND_SUCCESSFUL")
            if extend_job["run_seconds"] is None:  # runs to its timeout: extended again
                assert extend_job["state"] == "RUNNING"
                assert extensions.total_items > extensions_before
            else:
                assert extend_job["time_end"] == int(planned_end[extend_job["job"]])

            # and the cron fires on time after the restart (once per firing, on the hour)
            hourly_after = client.deployments.get(hourly.id)
            fired_before = {j.job for j in hourly_after.get_jobs()}
            firing = (math.floor(restarted.clock.now() / 3600) + 1) * 3600
            restarted.advance(firing - restarted.clock.now() + 1)
            fired = [j for j in hourly_after.get_jobs() if j.job not in fired_before]
            assert len(fired) == 1
            assert fired[0].created_at is not None
            assert fired[0].created_at.timestamp() == firing
            for job in hourly_after.get_jobs():
                assert job.created_at is not None
                assert job.created_at.timestamp() % 3600 == 0
    finally:
        restarted.stop()
