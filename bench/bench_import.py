"""Import cost: ``import nosana_nb.core`` against ``import httpx, solders`` (what it must load).

Each import runs in a fresh interpreter; the commands are interleaved round after round, and
each is reported as its median net of ``python -c pass`` (the interpreter's own start). Public
names load their modules on first use (PEP 562), so a second line, without a target, shows what
the first client costs: the import plus touching ``NosanaClient`` (httpx, solders, pydantic
models, routes).

Every command reads compiled bytecode, as an installed package does: the runs share a private
``PYTHONPYCACHEPREFIX`` filled by a warm-up round (with ``PYTHONDONTWRITEBYTECODE`` set, our
modules would otherwise be compiled from source at every run while the baseline's libraries
read their installed ``.pyc`` files).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import Result, ratio_at_most, seconds

TARGET = 1.5
COMMANDS = {
    "empty": "pass",
    "baseline": "import httpx, solders",
    "ours": "import nosana_nb.core",
    "first_use": "import nosana_nb.core; nosana_nb.core.NosanaClient",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--import-rounds", type=int, default=9)


def _run(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - started


def measure(args: argparse.Namespace) -> list[Result]:
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory(prefix="nosana-bench-pyc-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        for code in COMMANDS.values():  # warm-up: compile everything once, into the cache
            _run(code, env)
        for round_number in range(args.import_rounds):
            names = list(COMMANDS) if round_number % 2 == 0 else list(reversed(COMMANDS))
            for name in names:
                samples[name].append(_run(COMMANDS[name], env))
    empty = statistics.median(samples["empty"])
    ours = statistics.median(samples["ours"]) - empty
    baseline = statistics.median(samples["baseline"]) - empty
    first_use = statistics.median(samples["first_use"]) - empty
    size = f"net, median of {args.import_rounds}"
    return [
        ratio_at_most(
            "import nosana_nb.core vs import httpx, solders", size, ours, baseline, TARGET
        ),
        Result(
            "import + first use of NosanaClient (no target)",
            size,
            seconds(first_use),
            seconds(baseline),
            f"{first_use / baseline:.2f}×",
            "(shown)",
            None,
        ),
    ]


if __name__ == "__main__":
    from _common import run_alone

    run_alone(add_arguments, measure, __doc__.splitlines()[0])
