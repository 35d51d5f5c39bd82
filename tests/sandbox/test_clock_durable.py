"""The sandbox's clock survives a SIGKILL: no timestamp ever goes backwards across restarts.

A real ``nosana-nb sandbox`` process is killed without warning (nothing graceful runs) and
restarted on the same database; a client attached over HTTP (``connect(url=...)``) compares
every time it saw before the kill with what the restarted sandbox says.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

import nosana_nb
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.jobdef import container_job
from nosana_nb.frames import events_dataframe, jobs_dataframe
from nosana_nb.sandbox import resume_time
from nosana_nb.sandbox.store import Store

JOB = container_job("docker.io/library/ubuntu:24.04", ["sleep", "infinity"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SandboxProcess:
    def __init__(self, db: Path, speed: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "nosana_nb.cli", "sandbox", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--db", str(db), "--speed", speed],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.url}/health", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError("the sandbox process did not start") from None
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no handler, no graceful stop, no final save."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


@pytest.fixture
def processes() -> Iterator[list[SandboxProcess]]:
    started: list[SandboxProcess] = []
    yield started
    for process in started:
        process.kill()


def _attach(url: str) -> NosanaClient:
    client = nosana_nb.connect(url=url, wallet=WALLET)
    assert nosana_nb.current_sandbox() is None  # attached, not started in this process
    return client


WALLET = nosana_nb.Wallet.generate()


def _times_seen(client: NosanaClient, deployment_ids: list[str]) -> list[datetime]:
    seen = [client.now()]
    for deployment_id in deployment_ids:
        deployment = client.deployments.get(deployment_id)
        jobs = jobs_dataframe(deployment)
        events = events_dataframe(deployment)
        for column in ("created_at", "started_at", "ended_at"):
            seen += [t.to_pydatetime() for t in jobs[column].dropna()]
        seen += [t.to_pydatetime() for t in events["created_at"].dropna()]
        seen += [t for t in (deployment.created_at, deployment.updated_at) if t is not None]
    return seen


def test_sigkill_and_restart_never_moves_time_backwards(
    tmp_path: Path, processes: list[SandboxProcess]
) -> None:
    db = tmp_path / "sandbox.db"
    ids: list[str] = []

    # run 1: frozen clock, moved by hand two hours on; jobs end; then SIGKILL
    processes.append(SandboxProcess(db, speed="0"))
    client = _attach(processes[-1].url)
    deployment = client.deployments.create(
        name="durable",
        market="nvidia-3060",
        replicas=2,
        timeout=timedelta(hours=1),
        job_definition=JOB,
        new_vault=True,
    )
    ids.append(deployment.id)
    deployment.vault.topup(sol="0.05", nos="25")
    deployment.start()
    nosana_nb.let_time_pass(client, timedelta(hours=2))
    assert str(deployment.wait_until("STOPPED", timeout=30).status) == "STOPPED"
    nosana_nb.let_time_pass(client, timedelta(hours=5))  # time with no write at all
    before_first_kill = max(_times_seen(client, ids))
    client.close()
    processes[-1].kill()

    # run 2: a running clock (60x) on the same file, then SIGKILL mid-run
    processes.append(SandboxProcess(db, speed="60"))
    client = _attach(processes[-1].url)
    resumed = client.now()
    assert resumed >= before_first_kill
    second = client.deployments.create(
        name="durable-2",
        market="nvidia-3060",
        replicas=1,
        timeout=timedelta(hours=1),
        job_definition=JOB,
        new_vault=True,
    )
    ids.append(second.id)
    assert second.created_at is not None
    assert second.created_at >= before_first_kill
    second.vault.topup(sol="0.05", nos="25")
    second.start()
    second.wait_for_jobs(1, timeout=60)
    time.sleep(1.0)  # a simulated minute runs by with no write
    before_second_kill = max(_times_seen(client, ids))
    client.close()
    processes[-1].kill()

    # run 3: frozen again; nothing the killed run showed lies in its future
    processes.append(SandboxProcess(db, speed="0"))
    client = _attach(processes[-1].url)
    assert client.now() >= before_second_kill
    assert max(_times_seen(client, ids)) <= client.now()
    client.close()
    processes[-1].kill()


def test_resume_time_is_the_latest_of_saved_clock_and_stored_times(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    try:
        store.insert("jobs", {"job": "j", "time_start": 2_000_000_000, "time_end": 2_000_000_500})
        store.insert("events", {"created_at": "2033-05-18T03:40:00.000Z"})
        assert resume_time(store, start_time=0.0) == 2_000_000_500.0
        store.save_clock("sandbox.clock", 2_100_000_000.0)
        assert resume_time(store, start_time=0.0) == 2_100_000_000.0
        assert resume_time(store, start_time=2_200_000_000.0) == 2_200_000_000.0
    finally:
        store.close()
