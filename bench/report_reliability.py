"""Reliability report: the chaos run of tests/reliability/test_chaos.py at full size.

Run: ``.venv/bin/python bench/report_reliability.py`` (options: --operations, --threads,
--error-rate, --drop-rate, --latency-ms, --seed).

A sandbox injects errors (HTTP 500/502/503) and dropped connections, half the time after the
write committed, plus latency, while several threads drive mixed client operations (creates,
scaling, timeouts, renames, start/stop, reads, lists, balances, vault top-ups). Idempotent
operations are retried as whole exchanges and must all succeed; POST operations are sent once and
reconciled. With faults off, the sandbox's documents and chain are checked: duplicates and lost
writes must both be 0. Exit status 1 when either is not, when an idempotent operation failed, or
when an operation failed with anything but a typed client error.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType

from nosana_nb.sandbox import start

CHAOS_TEST = Path(__file__).resolve().parent.parent / "tests" / "reliability" / "test_chaos.py"


def _load_chaos() -> ModuleType:
    """The workload lives with its test, so the report and the CI check cannot drift apart."""
    spec = importlib.util.spec_from_file_location("reliability_chaos", CHAOS_TEST)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {CHAOS_TEST}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--error-rate", type=float, default=0.12)
    parser.add_argument("--drop-rate", type=float, default=0.08)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    chaos = _load_chaos()
    with start(db=":memory:", speed=None, seed=args.seed) as sandbox:
        # Every injected fault is logged (client retries, uvicorn's "returned without completing
        # response" for drops); the report is the summary. Set after start: uvicorn configures
        # its loggers when it starts.
        logging.getLogger("nosana_nb").setLevel(logging.ERROR)
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)
        report = chaos.run_chaos(
            sandbox,
            operations=args.operations,
            threads=args.threads,
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            latency_ms=args.latency_ms,
        )

    faults = report.faults
    rows = [
        ("operations", report.operations),
        ("  idempotent (GET/PATCH, RPC reads)", report.idempotent_operations),
        ("  POST (creates, start/stop, top-ups)", report.post_operations),
        ("  of which creates", report.creates),
        ("  succeeded", report.succeeded),
        ("  refused by the service (typed)", sum(report.refused.values())),
        (
            "faults injected",
            f"{faults['total']} ({faults['error']} errors, {faults['drop']} drops, "
            f"{faults['after_commit']} after the write committed)",
        ),
        ("retries (HTTP layers)", report.retries),
        ("failures surfaced (typed)", report.failures_surfaced),
        ("  idempotent (must be 0)", report.idempotent_failures),
        ("  POST, after reconciliation", report.post_failures),
        ("failures that were not typed", len(report.unexpected)),
        ("duplicates (must be 0)", report.duplicates),
        ("lost writes (must be 0)", len(report.lost_writes)),
        ("vault ledger problems", len(report.vault_problems)),
        ("unhandled server exceptions", report.unhandled_server_errors),
        ("wall time", f"{report.seconds:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    print(
        f"Chaos run: {args.threads} threads, {args.error_rate:.0%} errors + "
        f"{args.drop_rate:.0%} drops, {args.latency_ms:g} ms latency"
    )
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    for title, counts in (("surfaced", report.failed), ("refused", report.refused)):
        if counts:
            print(f"  {title} by kind:")
            for kind, count in sorted(counts.items()):
                print(f"    {kind}: {count}")
    for problem in [*report.unexpected, *report.lost_writes, *report.vault_problems]:
        print(f"  PROBLEM: {problem}")
    healthy = not (
        report.duplicates
        or report.lost_writes
        or report.unexpected
        or report.vault_problems
        or report.idempotent_failures
    )
    return 0 if healthy else 1


if __name__ == "__main__":
    raise SystemExit(main())
