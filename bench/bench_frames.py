"""Benchmark the notebook data layer against pandas baselines; prints one table.

Run: ``.venv/bin/python bench/bench_frames.py`` (options: --jobs, --timeline-jobs, --repeat).

Targets: jobs_dataframe ≤ 1.3× DataFrame.from_records and ≤ 0.5× json_normalize on the same
wire records; plot_job_timeline at 10,000 jobs builds in ≤ 2 s with ≤ 5 MB of JSON.
Timings are best-of-N with time.perf_counter; the compared functions run interleaved so
background load hits both alike.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from nosana_nb.frames import jobs_dataframe
from nosana_nb.plots import plot_job_timeline

STATES = ("QUEUED", "RUNNING", "COMPLETED", "STOPPED")
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def job_records(count: int, *, deployments: int = 200) -> list[dict[str, Any]]:
    """Wire-shaped job dicts (wire-contract §3.3) with variety: states, nulls, distinct times."""
    records = []
    for index in range(count):
        state = STATES[index % 4]
        listed = EPOCH + timedelta(seconds=index * 7, milliseconds=index % 1000)
        started = 0 if state == "QUEUED" else int(listed.timestamp()) + 30 + index % 90
        records.append(
            {
                "tx": f"{index:0>88}",
                "deployment": f"Dep{index % deployments:0>41}",
                "job": f"Job{index:0>41}",
                "market": "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
                "node": None if state == "QUEUED" else f"Node{index % 997:0>40}",
                "revision": 1 + index % 3,
                "state": state,
                "time_start": started,
                "created_at": _iso(listed),
                "updated_at": _iso(listed + timedelta(seconds=45 + index % 600)),
            }
        )
    return records


def best_of(functions: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Best wall time of each function over ``repeat`` interleaved rounds."""
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeat):
        for name, function in functions.items():
            gc.collect()
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def measure_frames(count: int, repeat: int) -> dict[str, float]:
    records = job_records(count)
    times = best_of(
        {
            "from_records": lambda: pd.DataFrame.from_records(records),
            "jobs_dataframe": lambda: jobs_dataframe(records),
        },
        repeat,
    )
    # json_normalize is several times slower; one round is enough to compare against
    return times | best_of({"json_normalize": lambda: pd.json_normalize(records)}, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--timeline-jobs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    times = measure_frames(args.jobs, args.repeat)
    gc.collect()

    timeline_jobs = jobs_dataframe(job_records(args.timeline_jobs, deployments=20))
    now = EPOCH + timedelta(days=30)
    figure_holder: dict[str, Any] = {}

    def build() -> None:
        figure_holder["figure"] = plot_job_timeline(timeline_jobs, now=now)

    build_time = best_of({"plot": build}, args.repeat)["plot"]
    json_bytes = len(figure_holder["figure"].to_json())

    ours = times["jobs_dataframe"]
    rows = [
        ("jobs_dataframe", f"{args.jobs:,} jobs", f"{ours:.3f} s", "", ""),
        (
            "  vs DataFrame.from_records",
            f"{args.jobs:,} jobs",
            f"{times['from_records']:.3f} s",
            f"{ours / times['from_records']:.2f}×",
            "≤ 1.30×",
        ),
        (
            "  vs json_normalize",
            f"{args.jobs:,} jobs",
            f"{times['json_normalize']:.3f} s",
            f"{ours / times['json_normalize']:.2f}×",
            "≤ 0.50×",
        ),
        (
            "plot_job_timeline build",
            f"{args.timeline_jobs:,} jobs",
            f"{build_time:.3f} s",
            "",
            "≤ 2 s",
        ),
        (
            "plot_job_timeline to_json",
            f"{args.timeline_jobs:,} jobs",
            f"{json_bytes / 1e6:.2f} MB",
            "",
            "≤ 5 MB",
        ),
    ]
    header = ("measurement", "size", "time / size", "ratio", "target")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
