"""Benchmark: one bulk action over many deployments, against the loop a user would write.

Run: ``.venv/bin/python bench/bench_bulk.py`` (options: --deployments, --latency-ms, --rounds).

Workload: an in-memory sandbox (manual clock) holds ``--deployments`` DRAFT deployments of one
wallet; every deployment-manager request is answered ``--latency-ms`` late (the sandbox's
fault latency: the round trip a notebook sees to the hosted service). Rounds alternate, and
each sets a replica count the deployments do not have yet, so every round changes all of them:

* ours: ``client.deployments.bulk("scale", ids, dry_run=False, replicas=n)`` - the targets
  read in one list request, then the updates sent at the default concurrency (8);
* baseline: ``for d in handles: d.update_replicas(n)`` with the same sync client.

Target: ours at least 4x faster. Also reported: the dry run alone (one list request and the
market prices), for how long a preview makes a user wait.
"""

from __future__ import annotations

import argparse
import itertools
import time
from datetime import timedelta

from _common import Result, interleaved_medians, ratio_at_most, run_alone, seconds

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet

TARGET_RATIO = 0.25
MARKET_3060 = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bulk-deployments", type=int, default=50)
    parser.add_argument("--bulk-latency-ms", type=float, default=50.0)
    parser.add_argument("--bulk-rounds", type=int, default=3)


def measure(args: argparse.Namespace) -> list[Result]:
    handle = sandbox_module.start(db=":memory:", speed=None, seed=0)
    try:
        wallet = Wallet.generate()
        handle.faucet(wallet, sol=5, nos=1000)
        network = local_network(handle.api_url, nos_mint=handle.nos_mint)
        with NosanaClient(network, wallet, env={}) as client:
            job = container_job("docker.io/library/nginx:1.27", expose=80)
            made = [
                client.deployments.create(
                    name=f"bench-{i}",
                    market=MARKET_3060,
                    replicas=1,
                    timeout=timedelta(hours=1),
                    job_definition=job,
                    check_funds=False,
                )
                for i in range(args.bulk_deployments)
            ]
            ids = [d.id for d in made]
            counts = itertools.count(2)
            handle.set_faults(latency_ms=args.bulk_latency_ms)

            def ours() -> None:
                result = client.deployments.bulk("scale", ids, dry_run=False, replicas=next(counts))
                assert result.counts()["ok"] == len(ids), result.describe()

            def loop() -> None:
                replicas = next(counts)
                for deployment in made:
                    deployment.update_replicas(replicas)

            medians = interleaved_medians({"ours": ours, "loop": loop}, args.bulk_rounds, warmup=0)
            started = time.perf_counter()
            client.deployments.bulk("scale", ids, replicas=1)
            preview = time.perf_counter() - started
    finally:
        handle.stop()
    size = f"{args.bulk_deployments} deployments, {args.bulk_latency_ms:g} ms latency"
    return [
        ratio_at_most("bulk scale vs a loop", size, medians["ours"], medians["loop"], TARGET_RATIO),
        Result("bulk dry run (preview)", size, seconds(preview), "-", "-", "-", None),
    ]


if __name__ == "__main__":
    run_alone(add_arguments, measure, __doc__.splitlines()[0])
