"""cost_dataframe counts the extensions of SIMPLE-EXTEND jobs, to the base unit the sandbox
chain charged, and accepts jobs frames with any index (docs/wire-contract.md §8.2, §14.3).

The sandbox's own books (each job's deposits, fees and pay) are the reference: what the frame
computes from the public jobs list, the deployment and the market must equal them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.jobdef import container_job
from nosana_nb.frames import (
    cost_dataframe,
    deployments_dataframe,
    jobs_dataframe,
    markets_dataframe,
)
from nosana_nb.sandbox import SandboxHandle

MARKET = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
PRICE = 145
START = datetime(2025, 1, 1, tzinfo=UTC)


def run_extended(sandbox: SandboxHandle, client: NosanaClient, *, minutes: int) -> str:
    """A SIMPLE-EXTEND deployment of 5 replicas left to run ``minutes``, then stopped."""
    vault = client.vaults.create()
    vault.topup(sol="0.05", nos="100")
    deployment = client.deployments.create(
        name="extended",
        market=MARKET,
        replicas=5,  # a seeded share of containers exits before its first extension
        timeout=timedelta(minutes=10),
        strategy="SIMPLE-EXTEND",
        job_definition=container_job("docker.io/library/ubuntu:24.04", ["sleep", "infinity"]),
        vault=vault.address,
    )
    deployment.start()
    sandbox.advance(minutes * 60)
    deployment.stop()
    sandbox.advance(5)
    return deployment.id


def test_extension_fees_and_runtime_match_the_chain(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    ident = run_extended(sandbox, client, minutes=35)
    books = {j["job"]: j for j in sandbox.store.find("jobs", deployment=ident)}
    jobs = jobs_dataframe(client, deployment=ident)
    assert len(jobs) == len(books) == 5
    cost = cost_dataframe(
        jobs,
        markets_dataframe(client),
        deployments=deployments_dataframe([client.deployments.get(ident)]),
        now=client,
    )
    extended = 0
    for row in cost.itertuples():
        job = books[row.job]
        fee_deposits = int(job["timeout_s"]) // 600  # the listing plus one per extension
        extended += fee_deposits - 1
        assert row.fee_base_units == int(job["fees_paid"]), row.job
        if int(job["time_start"] or 0):
            assert row.cost_base_units == int(job["paid"]), row.job
            assert row.runtime_seconds == int(job["time_end"]) - int(job["time_start"])
    assert extended > 0, "no job was extended: the test proves nothing"
    assert int(cost["total_base_units"].sum()) == sum(
        int(j["paid"]) + int(j["fees_paid"]) for j in books.values()
    )


def test_an_open_job_counts_the_extensions_due_by_now(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    timeout = timedelta(minutes=20)
    deployments = [_deployment("d", "SIMPLE-EXTEND", timeout)]
    buffer = 120  # clamp(1200 / 10, 60, 300)
    cases = {  # seconds since the start -> extensions made by then
        1200 - buffer - 1: 0,
        1200 - buffer: 1,
        2400 - buffer: 2,
        2400 + 600: 2,
    }
    for elapsed, expected in cases.items():
        row = cost_dataframe(
            [_job("a", "d", START)],
            [_market()],
            deployments=deployments,
            now=START + timedelta(seconds=elapsed),
        ).iloc[0]
        assert row.fee_base_units == (PRICE * 1200 // 10) * (1 + expected), elapsed
        assert row.runtime_seconds == elapsed  # never capped while extensions keep up


def test_an_ended_job_counts_only_extensions_before_its_end() -> None:
    deployments = [_deployment("d", "SIMPLE-EXTEND", timedelta(minutes=20))]
    for ran, expected in {1079: 0, 1080: 0, 1081: 1, 2280: 1, 2281: 2}.items():
        job = _job("a", "d", START, end=START + timedelta(seconds=ran))
        row = cost_dataframe([job], [_market()], deployments=deployments, now=START).iloc[0]
        assert row.fee_base_units == (PRICE * 1200 // 10) * (1 + expected), ran
        assert row.runtime_seconds == ran


@pytest.mark.parametrize("strategy", ["SIMPLE", "INFINITE", "SCHEDULED"])
def test_other_strategies_are_never_extended(strategy: str) -> None:
    deployments = [_deployment("d", strategy, timedelta(minutes=20))]
    row = cost_dataframe(
        [_job("a", "d", START)],
        [_market()],
        deployments=deployments,
        now=START + timedelta(hours=5),
    ).iloc[0]
    assert row.fee_base_units == PRICE * 1200 // 10
    assert row.runtime_seconds == 1200  # capped at the timeout


def test_any_index_gives_the_same_rows() -> None:
    jobs = jobs_dataframe(
        [_job(str(i), "d", START + timedelta(minutes=i)) for i in range(6)] + [_job("q", "d", None)]
    )
    deployments = [_deployment("d", "SIMPLE-EXTEND", timedelta(minutes=20))]
    now = START + timedelta(hours=1)
    plain = cost_dataframe(jobs, [_market()], deployments=deployments, now=now)
    for shuffled in (
        jobs.iloc[::-1],  # a reversed index
        jobs.set_axis([f"row{i}" for i in range(len(jobs))]),  # labels
        jobs.set_axis(range(100, 100 + len(jobs))),
        jobs[jobs["job"] != "2"],  # a gap
    ):
        got = cost_dataframe(shuffled, [_market()], deployments=deployments, now=now)
        assert list(got.index) == list(range(len(shuffled)))
        want = plain.set_index("job").loc[list(shuffled["job"])].reset_index()
        pd.testing.assert_frame_equal(got[want.columns], want, check_categorical=False)
        assert got["usd"].notna().sum() == len(shuffled)


def _market() -> dict[str, object]:
    return {
        "address": MARKET,
        "slug": "nvidia-3060",
        "name": "NVIDIA 3060",
        "sft": "SFT3060aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "type": "PREMIUM",
        "usd_reward_per_hour": 0.0436,
        "nos_reward_per_second": 0.000145,
        "nos_job_price_per_second": PRICE / 10**6,
        "network_fee_percentage": 10,
        "premium_community_relation": None,
        "required_images": [],
        "required_remote_resources": [],
        "gpu_types": ["RTX 3060"],
        "nodes": [],
        "client": False,
        "lowest_vram": 12,
    }


def _deployment(ident: str, strategy: str, timeout: timedelta) -> dict[str, object]:
    return {
        "id": ident,
        "name": ident,
        "status": "RUNNING",
        "strategy": strategy,
        "replicas": 1,
        "active_jobs": 1,
        "timeout": int(timeout.total_seconds() // 60),
        "market": MARKET,
        "vault": "v",
        "owner": "o",
        "active_revision": 1,
        "confidential": False,
        "endpoints": [],
        "created_at": "2025-01-01T00:00:00.000Z",
        "updated_at": "2025-01-01T00:00:00.000Z",
        **({"schedule": "0 * * * *"} if strategy == "SCHEDULED" else {}),
        **({"rotation_time": 20} if strategy == "INFINITE" else {}),
    }


def _job(
    ident: str, deployment: str, start: datetime | None, end: datetime | None = None
) -> dict[str, object]:
    return {
        "tx": "t",
        "deployment": deployment,
        "job": ident,
        "market": MARKET,
        "node": "n" if start else None,
        "revision": 1,
        "state": ("COMPLETED" if end else "RUNNING") if start else "QUEUED",
        "time_start": int(start.timestamp()) if start else 0,
        "time_end": int(end.timestamp()) if end else 0,
        "created_at": "2025-01-01T00:00:00.000Z",
        "updated_at": "2025-01-01T00:00:00.000Z",
    }
