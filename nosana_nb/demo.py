"""``make demo``: an end-to-end scenario on the embedded sandbox, narrated.

Create a deployment, fund its vault, start it, scale it, watch its jobs run and complete, then
withdraw what is left — and check that the vault's numbers reconcile to the base unit.
Runs offline in a few seconds: the sandbox clock is driven by hand, so an hour of GPU time
passes instantly. Then ``notebooks/01_quickstart.ipynb`` runs on a sandbox of its own and is
written as an HTML report (interactive charts, the widget views) under ``build/demo/``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TextIO

from nosana_nb._connect import connect, current_sandbox, stop_sandbox
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.markets import network_fee_base_units
from nosana_nb.core.wallet import Wallet
from nosana_nb.demo_report import DEFAULT_NOTEBOOK, DEFAULT_OUT, build_report, print_report

MARKET_SLUG = "nvidia-3060"
TOP_UP_SOL = Decimal("0.05")
TOP_UP_NOS = Decimal("25")


def _say(out: TextIO, text: str = "") -> None:
    print(text, file=out, flush=True)


def run(out: TextIO = sys.stdout) -> dict[str, Decimal | int | str]:
    """Run the scenario; returns the summary figures (also printed)."""
    wallet = Wallet.generate()
    client = connect(db=":memory:", speed=None, seed=7, wallet=wallet)
    sandbox = current_sandbox()
    if sandbox is None:  # connect() always starts one; this guards the type
        raise RuntimeError("the embedded sandbox did not start")
    try:
        _say(out, "== nosana_nb demo on the embedded local Nosana ==")
        _say(out, f"sandbox API {sandbox.api_url}   wallet {wallet.address}")

        market = client.markets.get(MARKET_SLUG)
        estimate = client.markets.estimate(market, replicas=2, timeout=timedelta(hours=1))
        _say(
            out,
            f"market {market.name} ({market.address[:8]}…): {market.nos_job_price_per_second} "
            f"NOS/s; 2 replicas × 1 h escrow {estimate.nos} NOS "
            f"({estimate.nos_with_fee} with the {estimate.network_fee_percentage} % fee, "
            f"≈ ${estimate.usd_with_fee})",
        )

        vault = client.vaults.create()
        before_topup = vault.get_balance()
        vault.topup(sol=TOP_UP_SOL, nos=TOP_UP_NOS)
        funded = vault.get_balance()
        _say(out, f"vault {vault.address}: topped up → {funded.sol} SOL, {funded.nos} NOS")

        job = container_job(
            "docker.io/nosana/pytorch-jupyter:latest",
            ["jupyter", "lab", "--ip=0.0.0.0"],
            expose=8888,
        )
        deployment = client.deployments.create(
            name="demo-notebook",
            market=market.address,
            replicas=2,
            timeout=timedelta(hours=1),
            strategy="SIMPLE",
            job_definition=job,
        )
        _say(out, f"created {deployment.id} [{deployment.state.status}]")
        for endpoint in deployment.state.endpoints:
            _say(out, f"  endpoint {endpoint.url} (op {endpoint.op_id}, port {endpoint.port})")

        deployment.start()
        deployment.wait_until("RUNNING", timeout=30)
        sandbox.advance(90)
        _say(out, f"started → {deployment.refresh().status}; jobs: {_job_states(deployment)}")

        deployment.update_replicas(3)
        sandbox.advance(120)
        _say(out, f"scaled to 3 replicas; jobs: {_job_states(deployment)}")

        sandbox.advance(75 * 60)
        state = deployment.refresh()
        _say(out, f"75 simulated minutes later: {state.status}; jobs: {_job_states(deployment)}")
        for event in deployment.get_events(sort_order="asc"):
            _say(out, f"  {event.created_at:%H:%M:%S} {event.type}: {event.message}")

        spent = vault.get_balance()
        price = market.job_price_base_units_per_second
        if price is None:
            raise RuntimeError(f"market {market.address} publishes no price")
        # SIMPLE jobs are listed once and never extended: one deposit of price × timeout each,
        # and the chain's network fee on that deposit, which no refund returns
        deposit_per_job = int(price * state.timeout_seconds)
        fee_per_job = network_fee_base_units(deposit_per_job, market.network_fee_percentage)
        paid_to_nodes = 0
        fees = 0
        for listed in deployment.get_jobs():
            detail = deployment.get_job(listed.job)
            runtime = Decimal(str(max(0, detail.time_end - detail.time_start)))
            paid_to_nodes += int(price * runtime)
            fees += fee_per_job
        withdrawn_sig = vault.withdraw()
        after = vault.get_balance()
        topped_nos = funded.nos_base_units - before_topup.nos_base_units
        spent_nos = funded.nos_base_units - spent.nos_base_units
        withdrawn_nos = spent.nos_base_units - after.nos_base_units
        summary: dict[str, Decimal | int | str] = {
            "deployment": deployment.id,
            "final_status": str(state.status),
            "jobs": sum(_job_states(deployment).values()),
            "topped_up_nos": Decimal(topped_nos).scaleb(-6),
            "spent_nos": Decimal(spent_nos).scaleb(-6),
            "paid_to_nodes_nos": Decimal(paid_to_nodes).scaleb(-6),
            "network_fees_nos": Decimal(fees).scaleb(-6),
            "withdrawn_nos": Decimal(withdrawn_nos).scaleb(-6),
            "vault_nos_left": after.nos,
            "withdraw_signature": withdrawn_sig,
        }
        # the vault's NOS drop must equal what the nodes earned (runtime × price) plus the
        # network fees, and the withdrawal must take the rest: both to the base unit
        reconciled = spent_nos == paid_to_nodes + fees and withdrawn_nos == topped_nos - spent_nos
        _say(out, "")
        _say(out, "== summary ==")
        for key, value in summary.items():
            _say(out, f"{key:>20}: {value}")
        _say(
            out,
            f"{'reconciled':>20}: vault spend = Σ job runtime × price + fees, "
            "withdrawal = the rest "
            f"({'yes' if reconciled and after.nos_base_units == 0 else 'NO'}, to the base unit)",
        )
        if not reconciled or after.nos_base_units != 0:
            raise RuntimeError("vault figures do not reconcile")
        return summary
    finally:
        client.close()
        stop_sandbox()


def _job_states(deployment: Deployment) -> Counter[str]:
    return Counter(str(job.state) for job in deployment.get_jobs())


def main(argv: Sequence[str] = ()) -> int:
    """``make demo``: the narrated scenario, then the quickstart notebook as an HTML report.

    Args:
        argv: ``--no-report`` skips the report; ``--out DIR`` puts it elsewhere (default: none,
            as ``nosana-nb demo`` calls it).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m nosana_nb.demo")
    parser.add_argument("--no-report", action="store_true", help="the terminal summary only")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the report's folder")
    args = parser.parse_args(argv)
    run()
    if args.no_report:
        return 0
    _say(sys.stdout, "")
    _say(sys.stdout, "== the quickstart notebook as a report ==")
    print_report(build_report(DEFAULT_NOTEBOOK, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
