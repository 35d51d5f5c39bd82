"""One clock (DESIGN rule 10): every "now" is the service's time, not this machine's.

Each sandbox here starts a day away from the wall clock, so anything that still reads the wall
clock is off by a day, not by a tolerance.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

import nosana_nb
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.frames import (
    cost_dataframe,
    events_dataframe,
    jobs_dataframe,
    markets_dataframe,
    status_history_dataframe,
    utc_now,
)
from nosana_nb.plots import job_timeline_frame, status_segments_frame
from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.watch import Watcher
from tests.frames.sandbox_helpers import funded_wallet, sandbox_client

DAY = 86_400.0
JOB = container_job("docker.io/library/ubuntu:24.04", ["sleep", "infinity"])
# at 60x, 1 wall second of HTTP and stream latency is a simulated minute
SPEED = 60.0
SPEED_TOLERANCE_S = 90.0


@pytest.fixture
def running() -> Iterator[tuple[SandboxHandle, NosanaClient]]:
    handle = start(db=":memory:", speed=SPEED, start_time=time.time() - DAY)
    client = sandbox_client(handle, funded_wallet(handle))
    try:
        yield handle, client
    finally:
        client.close()
        handle.stop()


@pytest.fixture
def frozen() -> Iterator[tuple[SandboxHandle, NosanaClient]]:
    handle = start(db=":memory:", speed=None, start_time=time.time() + DAY)
    client = sandbox_client(handle, funded_wallet(handle))
    try:
        yield handle, client
    finally:
        client.close()
        handle.stop()


def _deploy(client: NosanaClient, replicas: int = 2) -> Deployment:
    deployment = client.deployments.create(
        name="clock",
        market="nvidia-3060",
        replicas=replicas,
        timeout=timedelta(hours=1),
        job_definition=JOB,
        new_vault=True,
    )
    deployment.vault.topup(sol="0.05", nos="25")
    return deployment


def _running_jobs(jobs: pd.DataFrame) -> pd.DataFrame:
    return jobs[jobs["state"] == "RUNNING"]


def test_client_now_follows_the_sandbox_at_speed_60(
    running: tuple[SandboxHandle, NosanaClient],
) -> None:
    handle, client = running
    client.markets.list()
    for _ in range(3):
        time.sleep(0.3)  # wall time passes: the client extrapolates at the simulated rate
        seen = client.now().timestamp()
        truth = handle.clock.now()
        assert abs(seen - truth) < SPEED_TOLERANCE_S / 10, (seen, truth)
    assert abs(seen - time.time()) > DAY / 2  # not this machine's clock
    assert client.service_clock.rate == SPEED


def test_cost_timeline_and_watcher_rows_share_the_clock_at_speed_60(
    running: tuple[SandboxHandle, NosanaClient],
) -> None:
    handle, client = running
    deployment = _deploy(client)
    with Watcher(client, deployment) as watcher:
        assert watcher.wait_connected(timeout=30)
        deployment.start()
        deployment.wait_for_jobs(2, timeout=120)
        assert watcher.wait_until(
            lambda rows: sum(r["type"] == "job" and r["state"] == "RUNNING" for r in rows) >= 2,
            timeout=30,
        )
        jobs = jobs_dataframe(deployment)

        cost = cost_dataframe(jobs, markets_dataframe(client))  # no now=: the service's
        open_cost = cost[cost["state"] == "RUNNING"]
        assert len(open_cost) == 2
        assert (open_cost["cost_base_units"] > 0).all()
        assert abs(utc_now().timestamp() - handle.clock.now()) < SPEED_TOLERANCE_S

        timeline = job_timeline_frame(jobs)
        assert (timeline["end"] > timeline["start"]).all(), timeline[["start", "end"]]

        started = _running_jobs(jobs).set_index("job")["started_at"]
        history = watcher.jobs_history()
        seen_running = history[history["state"] == "RUNNING"].set_index("job")["time"]
        for job, at in started.items():
            gap = abs((seen_running[job] - at).total_seconds())
            assert gap < SPEED_TOLERANCE_S, (job, seen_running[job], at)
        # the watcher's deployment rows sit on the same clock as the service's events
        events = events_dataframe(deployment)
        first_event = events["created_at"].min()
        for row in watcher.rows:
            assert abs((row["time"] - first_event).total_seconds()) < 3600, row


def test_a_frozen_clock_bills_open_jobs_to_the_service_now(
    frozen: tuple[SandboxHandle, NosanaClient],
) -> None:
    handle, client = frozen
    deployment = _deploy(client)
    deployment.start()
    deployment.wait_until("RUNNING")
    nosana_nb.let_time_pass(client, timedelta(minutes=10))
    assert client.now() == datetime.fromtimestamp(handle.clock.now_ms() / 1000, UTC)
    jobs = jobs_dataframe(deployment)
    running_jobs = _running_jobs(jobs)
    assert len(running_jobs) == 2

    cost = cost_dataframe(jobs, markets_dataframe(client))
    billed = cost.set_index("job").loc[running_jobs["job"]]
    assert (billed["cost_base_units"] > 0).all()
    expected = pd.Timestamp(client.now()) - running_jobs.set_index("job")["started_at"]
    assert (billed["runtime"] - expected).abs().max() <= pd.Timedelta(seconds=1)

    timeline = job_timeline_frame(jobs)
    assert (timeline["end"] > timeline["start"]).all()
    history = status_history_dataframe(
        deployments=[deployment.refresh()], events=events_dataframe(deployment), jobs=jobs
    )
    segments = status_segments_frame(history)
    open_segment = segments[segments["open"]]
    assert len(open_segment) == 1
    assert (open_segment["end"] > open_segment["start"]).all()
    assert open_segment["end"].iloc[0] == pd.Timestamp(client.now())


def test_a_wait_on_a_frozen_clock_fails_at_once_and_says_how_to_move_it(
    frozen: tuple[SandboxHandle, NosanaClient],
) -> None:
    _, client = frozen
    deployment = _deploy(client, replicas=1)
    deployment.start()
    deployment.wait_until("RUNNING")  # a write: the frozen sandbox still reacts to it
    started = time.monotonic()
    with pytest.raises(nosana_nb.WaitTimeoutError) as caught:
        deployment.wait_until("STOPPED", timeout=3600)  # needs an hour of simulated time
    assert time.monotonic() - started < 10
    assert "frozen" in str(caught.value)
    assert "nosana_nb.let_time_pass(client" in str(caught.value)
    with pytest.raises(nosana_nb.WaitTimeoutError, match="frozen"):
        deployment.wait_for_jobs(1, timeout=3600)  # no node claims a job without time
    nosana_nb.let_time_pass(client, timedelta(minutes=2))
    assert len(deployment.wait_for_jobs(1, timeout=30)) == 1
    nosana_nb.let_time_pass(client, timedelta(hours=1))
    assert str(deployment.wait_until("STOPPED", timeout=30).status) == "STOPPED"
