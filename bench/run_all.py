"""``make bench``: every benchmark in one process run, then one table.

Runs each ``bench_<area>.py`` that exposes ``measure(args)`` (its own flags are merged into one
parser, so ``--jobs 200000`` reaches the frames benchmark); a script without it (a benchmark
of another area) runs as a child process and its own output is printed before the table.
Exit status 1 when a target is missed, so CI notices.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
from pathlib import Path

from _common import Result, print_table

HERE = Path(__file__).resolve().parent
ORDER = ["client", "fleet", "live", "frames", "import", "sandbox"]


def _scripts() -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    rank = {name: index for index, name in enumerate(ORDER)}
    return sorted(found, key=lambda p: (rank.get(p.stem.removeprefix("bench_"), len(ORDER)), p))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated areas, e.g. client,fleet")
    modules = {}
    for script in _scripts():
        module = importlib.import_module(script.stem)
        modules[script] = module
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args()
    wanted = {area.strip() for area in args.only.split(",") if area.strip()}
    results: list[Result] = []
    for script, module in modules.items():
        area = script.stem.removeprefix("bench_")
        if wanted and area not in wanted:
            continue
        started = time.perf_counter()
        print(f"== {script.name}", file=sys.stderr, flush=True)
        if hasattr(module, "measure"):
            results += module.measure(args)
        else:
            subprocess.run([sys.executable, str(script)], check=True)
        print(f"   {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print()
    print_table(results)
    missed = [r.workload for r in results if r.met is False]
    if missed:
        print(f"\n{len(missed)} target(s) missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
