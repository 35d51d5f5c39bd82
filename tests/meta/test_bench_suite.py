"""``make bench`` merges every benchmark's flags into one parser: two benchmarks declaring the same
flag break the whole run before anything is measured. ``--help`` builds that parser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_benchmark_flag_fits_one_parser() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run_all.py"), "--help"],
        cwd=REPO / "bench",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scripts = sorted(path.stem for path in (REPO / "bench").glob("bench_*.py"))
    assert scripts  # the glob looks in the right place
    for flag in ("--only", "--deployments", "--bulk-deployments", "--jobs"):
        assert flag in result.stdout, flag
