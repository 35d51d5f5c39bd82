"""Run mutmut over the critical modules configured in pyproject.toml and print the kill rate.

    .venv/bin/python scripts/mutation_score.py [--max-children N] [--target 90]

Each mutant (a one-token change of retry_policy.py or validation.py, say) runs against the tests
that cover it; a mutant no test notices "survived". The rate is killed / (killed + survived +
timed out); mutants no test reaches count as survivors ("no tests"). Exit status 1 when the rate
is below ``--target``. Survivors are listed so each can be killed by a test or explained.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = [sys.executable, "-m", "mutmut"]
STATS = ROOT / "mutants" / "mutmut-cicd-stats.json"


def survivors() -> list[str]:
    done = subprocess.run(
        [*MUTMUT, "results"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--target", type=float, default=90.0)
    args = parser.parse_args(argv)

    run = subprocess.run([*MUTMUT, "run", "--max-children", str(args.max_children)], cwd=ROOT)
    if run.returncode != 0:
        print(f"mutmut run failed (exit {run.returncode})")
        return run.returncode
    subprocess.run([*MUTMUT, "export-cicd-stats"], cwd=ROOT, check=True, capture_output=True)
    stats = json.loads(STATS.read_text())
    killed = stats["killed"]
    missed = stats["survived"] + stats["no_tests"] + stats["timeout"] + stats["suspicious"]
    total = killed + missed
    rate = 100.0 * killed / total if total else 0.0
    print()
    print("mutation testing (pyproject.toml [tool.mutmut] only_mutate)")
    for key in ("total", "killed", "survived", "no_tests", "timeout", "suspicious", "skipped"):
        print(f"  {key:<12} {stats.get(key, 0):>6}")
    print(f"  kill rate    {rate:6.1f} %  (target {args.target:g} %)")
    left = survivors()
    if left:
        print("survivors (show one with: .venv/bin/python -m mutmut show NAME):")
        for line in left:
            print(f"  {line}")
    return 0 if rate >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
