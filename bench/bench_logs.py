"""Benchmark: the logs of many ended jobs into one frame, against reading their results one
request after another.

Run: ``.venv/bin/python bench/bench_logs.py`` (options: --jobs, --latency-ms, --concurrency).

Workload: an in-memory sandbox (manual clock, seed 0) in its own process - like the hosted
service, its CPU is not the notebook's - runs ``--jobs`` one-minute jobs to their end across
every market; each job's node uploads its results (docs/wire-contract.md §5.25). Then the
sandbox answers every deployment-manager request ``--latency-ms`` late (its fault latency, the
round trip a notebook sees to the hosted service) and we time:

* ours: ``frames.logs_dataframe(jobs_frame, client)`` - job details fetched through the async
  twin at ``--concurrency`` requests at a time, parsed, built into the ``logs`` frame;
* baseline: the same job details read sequentially with the sync client
  (``deployment.job(address).results()`` for each job), no frame built at all.

Target: ours at least 8x faster than the baseline at the default concurrency. The sandbox
process runs with a 0.2 ms GIL switch interval (``--switch-interval``; Python's default is
5 ms) so its one process can serve concurrent requests the way the hosted service does.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pandas as pd

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.frames import jobs_dataframe, logs_dataframe, validate_schema
from nosana_nb.frames._logs import DEFAULT_CONCURRENCY

TARGET_RATIO = 8.0
JOBS_PER_DEPLOYMENT = 100
_SERVE = """
import sys
sys.setswitchinterval(float(sys.argv[1]))
from nosana_nb import sandbox
handle = sandbox.start(db=":memory:", speed=None, seed=0)
print(handle.api_url, handle.nos_mint, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
handle.stop()
"""


class RemoteSandbox:
    """A sandbox in a child process, driven through its ``/_sandbox`` admin routes."""

    def __init__(self, api_url: str, nos_mint: str) -> None:
        self.api_url = api_url
        self.nos_mint = nos_mint
        self._admin = httpx.Client(base_url=api_url, timeout=600)

    def _post(self, path: str, body: dict[str, object]) -> None:
        self._admin.post(path, json=body).raise_for_status()

    def faucet(self, wallet: Wallet, *, sol: int, nos: int) -> None:
        self._post("/_sandbox/faucet", {"wallet": wallet.address, "sol": sol, "nos": nos})

    def advance(self, seconds: float) -> None:
        self._post("/_sandbox/advance", {"seconds": seconds})

    def set_faults(self, **settings: object) -> None:
        self._post("/_sandbox/faults", dict(settings))


@contextmanager
def remote_sandbox(switch_interval_s: float) -> Iterator[RemoteSandbox]:
    child = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(switch_interval_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        api_url, nos_mint = child.stdout.readline().split()
        yield RemoteSandbox(api_url, nos_mint)
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


def ended_jobs(sandbox: RemoteSandbox, client: NosanaClient, count: int) -> pd.DataFrame:
    """Run ``count`` one-minute jobs to their end; returns their jobs frame."""
    markets = [m.address for m in client.markets.list()]
    vault = client.vaults.create()
    vault.topup(sol=str(max(1, count // 50)), nos="500")
    deployments = []
    for index in range(math.ceil(count / JOBS_PER_DEPLOYMENT)):
        replicas = min(JOBS_PER_DEPLOYMENT, count - index * JOBS_PER_DEPLOYMENT)
        deployment = client.deployments.create(
            name=f"bench-logs-{index}",
            market=markets[index % len(markets)],
            replicas=replicas,
            timeout=timedelta(minutes=1),
            strategy="SIMPLE",
            job_definition=container_job("docker.io/library/ubuntu:24.04", ["python", "job.py"]),
            vault=vault.address,
            check_funds=False,
        )
        deployment.start()
        deployments.append(deployment)
    frames = []
    for deployment in deployments:
        while True:
            sandbox.advance(600)
            jobs = jobs_dataframe(deployment)
            if len(jobs) and not jobs["state"].isin(["QUEUED", "RUNNING"]).any():
                break
        frames.append(jobs)
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    # The sandbox answers from one process, its handlers on threads: with Python's default 5 ms
    # GIL switch interval, concurrent requests queue behind each other's hand-offs, a limit of
    # the simulation that the horizontally scaled hosted service does not have.
    parser.add_argument("--switch-interval", type=float, default=0.0002, help="sandbox GIL (s)")
    args = parser.parse_args()

    with remote_sandbox(args.switch_interval) as sandbox:
        owner = Wallet.generate()
        sandbox.faucet(owner, sol=max(10, args.jobs // 20), nos=1000)
        network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
        with NosanaClient(network, owner, env={}) as client:
            setup = time.perf_counter()
            jobs = ended_jobs(sandbox, client, args.jobs)
            print(f"setup: {len(jobs)} jobs ended in {time.perf_counter() - setup:.1f} s")
            sandbox.set_faults(latency_ms=args.latency_ms)

            started = time.perf_counter()
            logs = logs_dataframe(jobs, client, max_concurrency=args.concurrency)
            ours = time.perf_counter() - started
            validate_schema(logs, "logs")

            handles = {d: client.deployments.get(d) for d in jobs["deployment"].unique()}
            started = time.perf_counter()
            sequential = [
                handles[d].job(j).results()
                for d, j in zip(jobs["deployment"], jobs["job"], strict=True)
            ]
            baseline = time.perf_counter() - started

    with_results = sum(r is not None for r in sequential)
    assert logs["job"].nunique() == with_results, "the frame and the baseline disagree"
    ratio = baseline / ours
    rows = [
        ("workload", "size", "ours (s)", "baseline (s)", "ratio", "target"),
        (
            f"logs of ended jobs -> frame, {args.latency_ms:g} ms latency, "
            f"concurrency {args.concurrency}",
            f"{with_results} jobs / {len(logs)} lines",
            f"{ours:.2f}",
            f"{baseline:.2f}",
            f"{ratio:.1f}x",
            f">= {TARGET_RATIO:g}x",
        ),
    ]
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    if ratio < TARGET_RATIO:
        raise SystemExit(f"below target: {ratio:.1f}x < {TARGET_RATIO:g}x")


if __name__ == "__main__":
    main()
