"""Import cost: ``import nosana_nb.core`` against ``import httpx, solders`` (what it must load).

Each import runs in a fresh interpreter; the three commands are interleaved round after round,
and each is reported as its median net of ``python -c pass`` (the interpreter's own start).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _common import Result, ratio_at_most

TARGET = 1.5
COMMANDS = {
    "empty": "pass",
    "baseline": "import httpx, solders",
    "ours": "import nosana_nb.core",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--import-rounds", type=int, default=9)


def _run(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def measure(args: argparse.Namespace) -> list[Result]:
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for round_number in range(args.import_rounds):
        names = list(COMMANDS) if round_number % 2 == 0 else list(reversed(COMMANDS))
        for name in names:
            samples[name].append(_run(COMMANDS[name]))
    empty = statistics.median(samples["empty"])
    ours = statistics.median(samples["ours"]) - empty
    baseline = statistics.median(samples["baseline"]) - empty
    return [
        ratio_at_most(
            "import nosana_nb.core vs import httpx, solders",
            f"net, median of {args.import_rounds}",
            ours,
            baseline,
            TARGET,
        )
    ]


if __name__ == "__main__":
    from _common import run_alone

    run_alone(add_arguments, measure, __doc__.splitlines()[0])
