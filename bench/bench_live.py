"""Live latency: a change in the sandbox until its row is in the Watcher's rows (its frame).

A job is inserted into the sandbox's store (a committed change, as the worker makes them); the
store's change feed reaches the SSE stream, the Watcher's thread parses the frame and records
the row, and its ``on_change`` callback notes the time. The baseline is the web dashboard's
10 s polling, modelled: a change lands at a uniformly random point of the poll cycle, so it
waits 0-10 s for the next poll, plus one measured GET round trip.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from typing import Any

from _common import Result, seconds
from _seed import seeded_sandbox
from solders.keypair import Keypair

from nosana_nb.watch import Watcher

TARGET_P95 = 0.250
DASHBOARD_POLL_S = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--changes", type=int, default=60)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(args: argparse.Namespace) -> list[Result]:
    with seeded_sandbox(1) as seeded:
        deployment_id = seeded.ids[0]
        store = seeded.sandbox.store
        template = store.find("jobs", deployment=deployment_id)[0]
        seen: dict[str, float] = {}
        arrived = threading.Condition()

        def on_change(row: Any) -> None:
            if row.get("type") == "job":
                with arrived:
                    seen[row["job"]] = time.perf_counter()
                    arrived.notify_all()

        latencies = []
        watcher = Watcher(seeded.client, deployment_id, on_change=on_change).start()
        try:
            if not watcher.wait_connected(timeout=30):
                raise RuntimeError("the watcher did not connect within 30 s")
            rng = random.Random(5)
            for _ in range(args.changes):
                time.sleep(rng.uniform(0.02, 0.1))  # changes at random moments
                job = str(Keypair().pubkey())
                doc = {k: v for k, v in template.items() if k != "_id"}
                changed_at = time.perf_counter()
                store.insert("jobs", {**doc, "job": job, "state": "QUEUED", "node": None})
                with arrived:
                    if not arrived.wait_for(lambda job=job: job in seen, timeout=15):
                        raise RuntimeError("a change never reached the watcher")
                latencies.append(seen[job] - changed_at)
        finally:
            watcher.stop()
        # the dashboard's poll: one GET of the deployment, timed here
        round_trips = []
        for _ in range(20):
            started = time.perf_counter()
            seeded.client.deployments.get(deployment_id)
            round_trips.append(time.perf_counter() - started)
    rtt = statistics.median(round_trips)
    p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
    poll_p50, poll_p95 = 0.5 * DASHBOARD_POLL_S + rtt, 0.95 * DASHBOARD_POLL_S + rtt
    size = f"{args.changes} changes"
    return [
        Result(
            "live row latency p50 vs 10 s polling",
            size,
            seconds(p50),
            seconds(poll_p50),
            f"{p50 / poll_p50:.3f}×",
            "(reported)",
            None,
        ),
        Result(
            "live row latency p95 vs 10 s polling",
            size,
            seconds(p95),
            seconds(poll_p95),
            f"{p95 / poll_p95:.3f}×",
            f"p95 ≤ {TARGET_P95 * 1000:.0f} ms",
            p95 <= TARGET_P95,
        ),
    ]


if __name__ == "__main__":
    from _common import run_alone

    run_alone(add_arguments, measure, __doc__.splitlines()[0])
