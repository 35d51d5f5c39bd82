"""A sandbox with many deployments, seeded fast: one real deployment made through the API, then
cloned straight into the store (deployment, revision, jobs, events) inside one transaction."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from solders.keypair import Keypair

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.sandbox.clock import iso

MARKET_3060 = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
DEFINITION = container_job("docker.io/library/busybox:latest", ["sleep", "60"])


@dataclass
class Seeded:
    sandbox: SandboxHandle
    wallet: Wallet
    client: NosanaClient
    template_id: str
    ids: list[str]

    def network(self) -> Any:
        return local_network(self.sandbox.api_url, nos_mint=self.sandbox.nos_mint)


def _template(sandbox: SandboxHandle) -> tuple[Wallet, NosanaClient, str]:
    """One deployment made the real way, run to completion so it has jobs and events."""
    wallet = Wallet.generate()
    sandbox.faucet(wallet, sol="5", nos="1000")
    client = NosanaClient(local_network(sandbox.api_url, nos_mint=sandbox.nos_mint), wallet, env={})
    client.vaults.create().topup(sol=Decimal("0.5"), nos=Decimal("200"))
    deployment = client.deployments.create(
        name="bench",
        market=MARKET_3060,
        replicas=3,
        timeout=timedelta(hours=1),
        strategy="SIMPLE",
        job_definition=DEFINITION,
    )
    deployment.start()
    sandbox.advance(2 * 3600)
    sandbox.worker.settle()
    return wallet, client, deployment.id


def clone_deployments(
    sandbox: SandboxHandle,
    template_id: str,
    count: int,
    *,
    jobs_each: int | None = None,
    running: bool = False,
) -> list[str]:
    """``count`` copies of the template, each with the template's revision, events and
    ``jobs_each`` jobs (default: the template's own). STOPPED with COMPLETED jobs, so the worker
    ignores them, or with ``running`` RUNNING with RUNNING jobs (inserted, not started: the
    worker sees them on its next pass, as after a restart)."""
    store = sandbox.store
    deployment = store.find_one("deployments", id=template_id)
    assert deployment is not None
    revisions = store.find("revisions", deployment=template_id)
    jobs = store.find("jobs", deployment=template_id)
    events = store.find("events", deploymentId=template_id)
    if jobs_each is not None:
        jobs = [jobs[i % len(jobs)] for i in range(jobs_each)]
    base = sandbox.clock.now()
    ids = []
    with store.transaction():
        for index in range(count):
            new_id = str(Keypair().pubkey())
            ids.append(new_id)
            created = iso(base - (count - index))  # distinct, ascending creation times
            clone = {k: v for k, v in deployment.items() if k != "_id"}
            store.insert(
                "deployments",
                {
                    **clone,
                    "id": new_id,
                    "status": "RUNNING" if running else "STOPPED",
                    "created_at": created,
                },
            )
            for revision in revisions:
                store.insert("revisions", _child(revision, deployment=new_id))
            for job in jobs:
                address = str(Keypair().pubkey())
                if running:  # started now, so its end (and payment) lies an hour ahead
                    ended = {"state": "RUNNING", "time_start": int(base), "time_end": None}
                else:
                    ended = {"state": "COMPLETED"}
                store.insert("jobs", _child(job, deployment=new_id, job=address, **ended))
            for event in events:
                store.insert("events", _child(event, deploymentId=new_id))
    return ids


def _child(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy({k: v for k, v in doc.items() if k != "_id"})
    copied.update(changes)
    return copied


@dataclass
class Served:
    """A seeded sandbox served by a child process, so its CPU work never holds our GIL."""

    api_url: str
    wallet: Wallet
    template_id: str
    ids: list[str]

    def network(self) -> Any:
        return local_network(self.api_url)

    def client(self, **options: Any) -> NosanaClient:
        return NosanaClient(self.network(), self.wallet, env={}, **options)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served_sandbox(count: int, *, jobs_each: int | None = None) -> Iterator[Served]:
    """``count`` cloned deployments, seeded here into a file, then served by ``nosana-nb
    sandbox`` (manual clock) in a child process."""
    with tempfile.TemporaryDirectory(prefix="nosana-bench-") as folder:
        db = os.path.join(folder, "sandbox.db")
        sandbox = start(db=db, speed=None, seed=7)
        try:
            wallet, client, template_id = _template(sandbox)
            ids = clone_deployments(sandbox, template_id, count, jobs_each=jobs_each)
            client.close()
        finally:
            sandbox.stop()
        port = _free_port()
        command = [sys.executable, "-m", "nosana_nb.cli", "sandbox", "--port", str(port)]
        child = subprocess.Popen(
            [*command, "--speed", "0", "--db", db],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_listening(port, child)
            yield Served(f"http://127.0.0.1:{port}", wallet, template_id, ids)
        finally:
            child.terminate()
            child.wait(timeout=30)


def _wait_listening(port: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the sandbox process exited with {child.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the sandbox process did not start listening within 60 s")


@contextmanager
def seeded_sandbox(count: int, *, jobs_each: int | None = None) -> Iterator[Seeded]:
    """A frozen-clock in-memory sandbox holding ``count`` cloned deployments of one wallet."""
    sandbox = start(db=":memory:", speed=None, seed=7)
    try:
        wallet, client, template_id = _template(sandbox)
        ids = clone_deployments(sandbox, template_id, count, jobs_each=jobs_each)
        yield Seeded(sandbox, wallet, client, template_id, ids)
        client.close()
    finally:
        sandbox.stop()
