"""Sandbox scale: get and list throughput with 1,000 and 10,000 stored deployments (10 jobs
each: 100,000 at the larger size), and the worker's tick cost as running deployments grow.

Both sandboxes are seeded straight into their stores and serve from this process; the gets
and pages go through HTTP with raw httpx (a signed GET), interleaved between the two sizes
round after round, so load on the machine hits both alike. A tick is ``advance(1)``: one
simulated second of worker passes over everything running.
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import ExitStack
from typing import Any

import httpx
from _common import Result, interleaved_medians, ratio_at_most, seconds
from _seed import Seeded, clone_deployments, seeded_sandbox

from nosana_nb.core.auth import authorization_header

TARGET = 1.5
JOBS_EACH = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per round")
    parser.add_argument("--scale-rounds", type=int, default=9)
    parser.add_argument("--tick-sizes", default="1,10,100,1000")


def _requester(seeded: Seeded, paths: list[str]) -> Any:
    signature = authorization_header(seeded.wallet)
    http = httpx.Client(base_url=seeded.sandbox.api_url)

    def run() -> None:
        for path in paths:
            headers = {
                "x-user-id": seeded.wallet.address,
                "Authorization": f"{signature}:{int(time.time() * 1000)}",
            }
            response = http.get(path, headers=headers)
            response.raise_for_status()

    return run, http


def _scale(args: argparse.Namespace) -> list[Result]:
    functions = {}
    with ExitStack() as stack:
        for label, count in (("small", args.small), ("large", args.large)):
            seeded = stack.enter_context(seeded_sandbox(count, jobs_each=JOBS_EACH))
            step = max(1, count // args.requests)
            gets = [f"/deployments/{seeded.ids[i * step % count]}" for i in range(args.requests)]
            pages = ["/deployments?limit=100"] * args.requests
            for kind, paths in (("get", gets), ("list", pages)):
                run, http = _requester(seeded, paths)
                stack.callback(http.close)
                functions[f"{kind} {label}"] = run
        medians = interleaved_medians(functions, args.scale_rounds)
    results = []
    for kind, what in (("get", "GET /deployments/:id"), ("list", "GET /deployments?limit=100")):
        small, large = medians[f"{kind} small"], medians[f"{kind} large"]
        per_second = args.requests / large
        results.append(
            ratio_at_most(
                f"sandbox {what}: cost at {args.large:,} vs {args.small:,}",
                f"{args.large:,} deps, {args.large * JOBS_EACH:,} jobs; {per_second:,.0f} req/s",
                large / args.requests,
                small / args.requests,
                TARGET,
            )
        )
    return results


def _ticks(args: argparse.Namespace) -> list[Result]:
    sizes = [int(size) for size in args.tick_sizes.split(",")]
    results = []
    with seeded_sandbox(0) as seeded:
        sandbox = seeded.sandbox
        running = 0
        first: float | None = None
        for size in sizes:
            clone_deployments(sandbox, seeded.template_id, size - running, running=True)
            running = size
            sandbox.worker.settle()
            samples = []
            for _ in range(5):
                started = time.perf_counter()
                sandbox.advance(1)
                samples.append(time.perf_counter() - started)
            tick = statistics.median(samples)
            first = tick if first is None else first
            results.append(
                Result(
                    "worker tick (advance 1 s)",
                    f"{size:,} running deployments",
                    seconds(tick),
                    seconds(first),
                    f"{tick / first:.1f}× the 1-deployment tick",
                    "(curve)",
                    None,
                )
            )
    return results


def measure(args: argparse.Namespace) -> list[Result]:
    return _scale(args) + _ticks(args)


if __name__ == "__main__":
    from _common import run_alone

    run_alone(add_arguments, measure, __doc__.splitlines()[0])
