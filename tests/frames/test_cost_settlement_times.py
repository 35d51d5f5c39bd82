"""The times the sandbox serves for an ended job agree with what it paid, to the base unit.

A settlement is a chain transaction, and on a running clock simulated time passes while it
confirms (at speed 60, 25 ms of wall time is 1.5 s). Here the manual clock is moved by that much
inside every settlement, so the drift is deterministic: the jobs list's ``updated_at`` (the end
``jobs_dataframe`` reads, docs/wire-contract.md §3.3) must still be the instant the
node was paid up to, and ``cost_dataframe`` must bill exactly what the chain paid.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.jobdef import container_job
from nosana_nb.frames import cost_dataframe, jobs_dataframe, markets_dataframe
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.sandbox.clock import parse_iso

MARKET = "nvidia-3060"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a whole second
SETTLE_LATENCY_S = 1.5  # simulated seconds a settlement takes to confirm at speed 60


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    handle = sandbox_module.start(db=":memory:", speed=None, seed=3, start_time=START)
    yield handle
    handle.stop()


@pytest.fixture
def slow_settlements(sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every settlement on the sandbox chain confirms ``SETTLE_LATENCY_S`` (simulated) later."""
    settle = sandbox.chain.settle

    def settle_then_time_passes(vault: str, node: str, pay: int, refund: int) -> str:
        signature = settle(vault, node, pay, refund)
        sandbox.clock.advance(SETTLE_LATENCY_S)
        return signature

    monkeypatch.setattr(sandbox.chain, "settle", settle_then_time_passes)


@pytest.mark.usefixtures("slow_settlements")
def test_served_end_times_bill_what_the_chain_paid(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    deployment = client.deployments.create(
        name="settled",
        market=client.markets.get(MARKET).address,
        replicas=8,
        timeout=timedelta(minutes=10),
        strategy="SIMPLE",
        job_definition=container_job("docker.io/library/ubuntu:24.04", ["sleep", "inf"]),
        new_vault=True,
    )
    deployment.vault.topup(sol="0.05", nos="20")
    deployment.start()
    # fractional steps: jobs end (timeouts, early exits) and restart at uneven instants
    for _ in range(290):
        sandbox.advance(1.999)
    sandbox.advance(0.5)  # the stop is settled half-way through a second
    deployment.stop()
    for _ in range(20):
        sandbox.advance(0.5)
    assert deployment.refresh().status == "STOPPED"

    stored = sandbox.store.find("jobs", deployment=deployment.id)
    ended = [job for job in stored if job["state"] in ("COMPLETED", "STOPPED")]
    assert {job["state"] for job in ended} == {"COMPLETED", "STOPPED"}
    paid_jobs = [job for job in ended if job.get("time_start")]
    assert len(paid_jobs) >= 6
    for job in paid_jobs:  # the list's end falls in the second the chain paid up to
        assert int(parse_iso(job["updated_at"])) == job["time_end"], job["job"]

    now = datetime.fromtimestamp(sandbox.clock.now(), UTC)
    cost = cost_dataframe(jobs_dataframe(deployment), markets_dataframe(client), now=now)
    by_job = dict(zip(cost["job"], cost["cost_base_units"], strict=True))
    assert {job["job"]: int(by_job[job["job"]]) for job in ended} == {
        job["job"]: int(job["paid"]) for job in ended
    }
    assert int(cost["cost_base_units"].sum()) == sum(int(job["paid"]) for job in stored) > 0
