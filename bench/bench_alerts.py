"""Alerts: how soon a status change reaches a notifier, what one evaluation costs, no storm.

On a sandbox with a manual clock: a deployment with one vault and three replicas, six rules (the
five kinds, plus a status rule on RUNNING so that starting it makes an episode). Printed:
the wall time from ``start()`` to the notifier call, the median and worst time of one
``alerts.check()`` (every rule evaluated, what they need fetched), and the events after
repeated evaluations of an unchanged world (one: the episode fired once).

    .venv/bin/python bench/bench_alerts.py [--checks 50]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.watch import (
    FailedJobs,
    NearTimeout,
    QueuedTooLong,
    RunwayBelow,
    StatusAlert,
    Watcher,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=50)
    args = parser.parse_args()
    handle = sandbox_module.start(db=":memory:", speed=None, seed=0)
    owner = Wallet.generate()
    handle.faucet(owner, sol=5, nos=1000)
    network = local_network(handle.api_url, nos_mint=handle.nos_mint)
    try:
        with NosanaClient(network, owner, env={}) as client:
            vault = client.vaults.create()
            vault.topup(sol="0.05", nos="50")
            deployment = client.deployments.create(
                name="bench-alerts",
                market="nvidia-3060",
                replicas=3,
                timeout=timedelta(hours=1),
                strategy="SIMPLE",
                job_definition=container_job("docker.io/library/ubuntu:24.04", ["echo", "hi"]),
                vault=vault.address,
            )
            delivered: list[float] = []
            watcher = Watcher(client, deployment)
            for rule in (
                StatusAlert(),
                RunwayBelow(timedelta(hours=2)),
                FailedJobs(3, timedelta(hours=1)),
                QueuedTooLong(timedelta(minutes=10)),
                NearTimeout(timedelta(minutes=10)),
            ):
                watcher.alerts.add(rule)
            running = StatusAlert(["RUNNING"], name="running")
            watcher.alerts.add(running, notify=lambda _event: delivered.append(time.monotonic()))
            with watcher:
                watcher.wait_connected(30)
                started = time.monotonic()
                deployment.start()
                watcher.alerts.wait_for_events(1, rule=running, timeout=30)
                handle.advance(300)
                took = []
                for _ in range(args.checks):
                    begin = time.monotonic()
                    watcher.alerts.check()
                    took.append(time.monotonic() - begin)
                events = len(watcher.alerts.events)
    finally:
        handle.stop()
    print(f"status change -> notifier: {(delivered[0] - started) * 1000:.0f} ms after start()")
    print(
        f"one evaluation (6 rules, 1 deployment, 3 jobs): median "
        f"{statistics.median(took) * 1000:.1f} ms, worst {max(took) * 1000:.1f} ms "
        f"over {args.checks}"
    )
    print(f"events after {args.checks} evaluations of an unchanged world: {events}")


if __name__ == "__main__":
    main()
