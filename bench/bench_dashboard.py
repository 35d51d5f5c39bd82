"""Benchmark the deployment dashboard on the embedded sandbox; prints one table.

Run: ``.venv/bin/python bench/bench_dashboard.py`` (options: --deployments, --running,
--changes, --repeat).

Targets: first render of ``DeploymentDashboard`` with 1,000 deployments ≤ 1 s, and ≤ 3× the
time to build the same table's DataFrame without the widget (same requests: the deployments
list and the markets, then ``deployments_dataframe`` and the table's projection); a change made
in the sandbox by another client reaches the dashboard's table row (the widget state the
browser receives) with p95 ≤ 250 ms.

"First render" ends when the table widget holds every row. Costs load afterwards in the
background and are reported separately. Timings are best-of-N (render) or percentiles over
many changes (latency), measured with time.perf_counter on a sandbox with a frozen clock.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.frames import deployments_dataframe
from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.widgets import DeploymentDashboard
from nosana_nb.widgets._table import market_labels, short_id, table_frame

MARKET = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"


async def _create_fleet(client: AsyncNosanaClient, count: int, running: int) -> list[str]:
    job = container_job("docker.io/library/nginx:1.27", expose=80)
    semaphore = asyncio.Semaphore(16)

    async def one(index: int) -> str:
        async with semaphore:
            deployment = await client.deployments.create(
                name=f"bench-{index:04d}",
                market=MARKET,
                replicas=1,
                timeout=timedelta(hours=2),
                strategy="SIMPLE",
                job_definition=job,
                check_funds=False,
            )
            if index < running:
                await deployment.start(check_funds=False)
            return deployment.id

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def make_fleet(sandbox: SandboxHandle, wallet: Wallet, count: int, running: int) -> list[str]:
    async def work() -> list[str]:
        async with AsyncNosanaClient(
            local_network(sandbox.api_url, nos_mint=sandbox.nos_mint), wallet, env={}
        ) as client:
            vault = await client.vaults.create()
            await vault.topup(sol=Decimal("2"), nos=Decimal("500"))
            return await _create_fleet(client, count, running)

    return asyncio.run(work())


def baseline(client: NosanaClient) -> float:
    """The table's DataFrame without the widget: same requests, same projection."""
    started = time.perf_counter()
    markets = market_labels(client.markets.list())
    frame = deployments_dataframe(client)
    records = frame.to_dict("records")
    table_frame(records, market_names=markets, costs={})
    return time.perf_counter() - started


def first_render(client: NosanaClient, expected: int) -> tuple[float, DeploymentDashboard]:
    """Construction until the table widget holds every row (the loading state has ended)."""
    started = time.perf_counter()
    view = DeploymentDashboard(client)
    while not view.loaded:  # costs and streams start after this, in the background
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"no first render in 120 s: {view.status.value}")
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    assert len(view.table) == expected, (len(view.table), expected)
    assert view.table.widget._dt_args["data_json"].count("bench-") == expected
    return elapsed, view


def change_latencies(
    sandbox: SandboxHandle, wallet: Wallet, view: DeploymentDashboard, changes: int
) -> list[float]:
    """Another client scales a streamed deployment; time until the table's widget state
    (what the browser receives) shows the new replica count in that row."""
    deadline = time.monotonic() + 60
    while view.live_state != "live":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard never went live ({view.live_state})")
        time.sleep(0.05)
    target = next(i for i, s in view.streaming.items() if s == "connected")
    record = view.table.record(target)
    assert record is not None
    label = short_id(target)
    seen = threading.Event()
    wanted: dict[str, int] = {}
    shown_at: dict[str, float] = {}

    def on_state(change: dict[str, Any]) -> None:
        rows = json.loads(change["new"].get("data_json") or "[]")
        for row in rows:
            if label in str(row[-1]) and row[4] == wanted.get("replicas"):
                shown_at["t"] = time.perf_counter()
                seen.set()

    view.table.widget.observe(on_state, names="_dt_args")
    latencies: list[float] = []
    other = NosanaClient(local_network(sandbox.api_url, nos_mint=sandbox.nos_mint), wallet, env={})
    try:
        handle = other.deployments.get(target)
        replicas = int(record["replicas"])
        for _ in range(changes):
            replicas = 2 if replicas == 1 else 1
            wanted["replicas"] = replicas
            seen.clear()
            handle.update_replicas(replicas)
            changed = time.perf_counter()  # the change is in the sandbox from here
            if not seen.wait(10):
                raise RuntimeError("a change never reached the table")
            latencies.append(shown_at["t"] - changed if shown_at["t"] > changed else 0.0)
            time.sleep(0.15)  # let the worker's own follow-up frames settle
    finally:
        view.table.widget.unobserve(on_state, names="_dt_args")
        other.close()
    return latencies


def note(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--running", type=int, default=20)
    parser.add_argument("--changes", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    sandbox = start(db=":memory:", speed=None, seed=0)
    try:
        wallet = Wallet.generate()
        sandbox.faucet(wallet, sol=20, nos=5000)
        setup = time.perf_counter()
        make_fleet(sandbox, wallet, args.deployments, args.running)
        sandbox.advance(61)  # the running deployments' jobs get claimed
        setup_s = time.perf_counter() - setup
        client = NosanaClient(
            local_network(sandbox.api_url, nos_mint=sandbox.nos_mint), wallet, env={}
        )
        ours, base = float("inf"), float("inf")
        view: DeploymentDashboard | None = None
        note(f"fleet ready in {setup_s:.1f} s")
        for round_ in range(args.repeat):
            gc.collect()
            base = min(base, baseline(client))
            gc.collect()
            elapsed, candidate = first_render(client, args.deployments)
            ours = min(ours, elapsed)
            note(f"round {round_ + 1}: baseline {base:.3f} s, first render {elapsed:.3f} s")
            if round_ < args.repeat - 1:
                candidate.close()
            else:
                view = candidate
        assert view is not None
        costs_started = time.perf_counter()
        view.wait(300)  # the background cost load of the last dashboard
        deadline = time.monotonic() + 300
        while view.table.cost(view.table.ids()[-1]) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        costs_s = time.perf_counter() - costs_started
        note(f"costs in {costs_s:.3f} s; measuring change latency")
        latencies = change_latencies(sandbox, wallet, view, args.changes)
        note("closing")
        view.close()
        client.close()
    finally:
        sandbox.stop()

    p50 = statistics.median(latencies)
    p95 = percentile(latencies, 0.95)
    size = f"{args.deployments:,} deployments"
    rows = [
        ("dashboard first render", size, f"{ours:.3f} s", "", "", "≤ 1 s"),
        (
            "  vs the table's DataFrame alone",
            size,
            f"{ours:.3f} s",
            f"{base:.3f} s",
            f"{ours / base:.2f}×",
            "≤ 3.00×",
        ),
        (
            "costs filled in (background)",
            f"{args.running} running",
            f"{costs_s:.3f} s",
            "",
            "",
            "",
        ),
        (
            "sandbox change → table row, p50",
            f"{len(latencies)} changes",
            f"{p50 * 1000:.0f} ms",
            "",
            "",
            "",
        ),
        (
            "sandbox change → table row, p95",
            f"{len(latencies)} changes",
            f"{p95 * 1000:.0f} ms",
            "",
            "",
            "≤ 250 ms",
        ),
    ]
    print(
        f"workload: {size} ({args.running} running), created in {setup_s:.1f} s; "
        f"render best of {args.repeat}"
    )
    header = ("measurement", "size", "ours", "baseline", "ratio", "target")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
