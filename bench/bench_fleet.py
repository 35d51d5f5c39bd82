"""Fleet: 200 deployments × (get + jobs + events) at 50 ms of injected latency.

The fleet helper (``fleet_dataframes(["jobs", "events"], ...)`` at its default concurrency)
against a sequential loop doing the same requests with the sync client, and against the
critical-path bound: requests ÷ concurrency × latency. The sandbox runs in a child process so
its CPU never competes for this process's GIL; its latency injection awaits, so it delays every
request without serialising them.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
from _common import Result, ratio_at_most, seconds
from _seed import Served, served_sandbox

from nosana_nb.frames import DEFAULT_MAX_CONCURRENCY, fleet_dataframes

SPEEDUP_TARGET = 10.0
BOUND_TARGET = 1.3
REQUESTS_PER_DEPLOYMENT = 3  # get, jobs, events


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deployments", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--fleet-rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_MAX_CONCURRENCY)


def _set_latency(served: Served, latency_ms: float) -> None:
    reply = httpx.post(f"{served.api_url}/_sandbox/faults", json={"latency_ms": latency_ms})
    reply.raise_for_status()


def measure(args: argparse.Namespace) -> list[Result]:
    with served_sandbox(args.deployments) as served:
        client = served.client()
        ids = served.ids
        _set_latency(served, args.latency_ms)

        def fleet() -> None:
            frames = fleet_dataframes(
                ["jobs", "events"],
                client,
                ids,
                max_concurrency=args.concurrency,
                progress=False,
            )
            assert frames["jobs"]["deployment"].nunique() == len(ids)

        def sequential() -> None:
            for deployment_id in ids:
                deployment = client.deployments.get(deployment_id)
                deployment.get_jobs(limit=100).to_list()
                deployment.get_events(limit=100).to_list()

        samples: dict[str, list[float]] = {"fleet": [], "sequential": []}
        fleet()  # warm-up: connections, imports
        for round_number in range(args.fleet_rounds):
            order = [fleet, sequential] if round_number % 2 == 0 else [sequential, fleet]
            for function in order:
                started = time.perf_counter()
                function()
                samples[function.__name__].append(time.perf_counter() - started)
        client.close()
    ours = statistics.median(samples["fleet"])
    loop = statistics.median(samples["sequential"])
    requests = args.deployments * REQUESTS_PER_DEPLOYMENT
    bound = requests / args.concurrency * args.latency_ms / 1000
    size = f"{args.deployments} deps × 3 req, {args.latency_ms:g} ms, {args.concurrency} in flight"
    speedup = loop / ours
    return [
        Result(
            "fleet_dataframes vs sequential loop",
            size,
            seconds(ours),
            seconds(loop),
            f"{speedup:.1f}× faster",
            f"≥ {SPEEDUP_TARGET:g}× faster",
            speedup >= SPEEDUP_TARGET,
        ),
        ratio_at_most("fleet_dataframes vs critical-path bound", size, ours, bound, BOUND_TARGET),
    ]


if __name__ == "__main__":
    from _common import run_alone

    run_alone(add_arguments, measure, __doc__.splitlines()[0])
