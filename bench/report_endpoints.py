"""Endpoint probes report: time-to-ready measured by probing, against the sandbox's own boot times.

Run: ``.venv/bin/python bench/report_endpoints.py`` (options: --deployments, --step, --seed).

An in-memory sandbox on a frozen clock; ``--deployments`` deployments each expose one port and
start together. The clock moves ``--step`` simulated seconds at a time and every step probes all
endpoints in one ``client.endpoints.probe`` call. For each deployment the first ready probe minus
its job's start is compared with the boot time the sandbox drew for that job: the error must lie
in [0, step). Also printed: the wall time of a probe round and of a probe of a server that never
answers (bounded by the probe timeout). Exit status 1 when a measurement is outside its bound.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.models import Endpoint
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import start
from nosana_nb.sandbox.api.endpoints import endpoint_boot_seconds

MARKET_3060 = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
BOOT_S = 60.0


def _silent_server() -> tuple[socket.socket, threading.Event]:
    """A listener that accepts and never answers (freed when the event is set)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        held = []
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue
        for conn in held:
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return listener, stop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=6)  # the 3060 market has 8 nodes
    parser.add_argument("--step", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()

    sandbox = start(db=":memory:", speed=None, seed=args.seed, endpoint_boot_s=BOOT_S)
    wallet = Wallet.generate()
    sandbox.faucet(wallet.address, sol="5", nos="1000")
    failures = 0
    try:
        client = NosanaClient(local_network(sandbox.api_url, nos_mint=sandbox.nos_mint), wallet)
        client.vaults.create().topup(sol=Decimal("1"), nos=Decimal("200"))
        handles = [
            client.deployments.create(
                name=f"web-{i}",
                market=MARKET_3060,
                replicas=1,
                timeout=timedelta(hours=1),
                strategy="SIMPLE",
                job_definition=container_job("docker.io/library/nginx:1.27", expose=80),
            )
            for i in range(args.deployments)
        ]
        for handle in handles:
            handle.start()
        first_ready: dict[str, float] = {}
        rounds: list[float] = []
        for _ in range(int(900 / args.step)):
            began = time.perf_counter()
            probes = client.endpoints.probe(handles, max_concurrency=8)
            rounds.append(time.perf_counter() - began)
            for probe in probes:
                if probe.ready and probe.deployment is not None:
                    first_ready.setdefault(probe.deployment, probe.probed_at.timestamp())
            if len(first_ready) == len(handles):
                break
            sandbox.advance(args.step)
        errors = []
        never = [h.id for h in handles if h.id not in first_ready]
        if never:
            print(f"never ready in 900 simulated seconds: {len(never)} deployment(s)")
            failures += 1
        for handle in (h for h in handles if h.id in first_ready):
            ready_at = first_ready[handle.id]
            started = [j for j in handle.get_jobs(limit=10).first_page().items if j.time_start]
            job = max((j for j in started if j.time_start <= ready_at), key=lambda j: j.time_start)
            drawn = endpoint_boot_seconds(job.job, BOOT_S)
            measured = ready_at - float(job.time_start)
            errors.append(measured - drawn)
        errors = errors or [float("nan")]
        print(f"deployments               {len(handles)}")
        print(f"clock step                {args.step:g} s (simulated)")
        print(f"boot drawn by the sandbox {BOOT_S:g}..{BOOT_S * 1.5:g} s per job")
        print(
            f"time-to-ready error       min {min(errors):.2f} s, max {max(errors):.2f} s "
            f"(bound: [0, {args.step:g}))"
        )
        print(
            f"probe round ({len(handles)} URLs) median {statistics.median(rounds) * 1000:.1f} ms, "
            f"max {max(rounds) * 1000:.1f} ms wall, over {len(rounds)} rounds"
        )
        if not all(0 <= e < args.step + 1 for e in errors):  # +1: start times are whole seconds
            failures += 1
        listener, stop = _silent_server()
        try:
            port = listener.getsockname()[1]
            silent = Endpoint.model_validate(
                {"opId": "api", "port": port, "url": f"http://127.0.0.1:{port}/"}
            )
            began = time.perf_counter()
            [hung] = client.endpoints.probe(silent, timeout=1.0)
            took = time.perf_counter() - began
        finally:
            stop.set()
            listener.close()
        print(f"silent server, timeout 1 s: {hung.summary} after {took:.2f} s wall")
        if hung.failure != "timeout" or took > 3.0:
            failures += 1
        client.close()
    finally:
        sandbox.stop()
    print("OK" if not failures else f"FAILED: {failures} measurement(s) out of bounds")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
