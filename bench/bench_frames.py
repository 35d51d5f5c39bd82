"""DataFrames and charts: the notebook data layer against pandas baselines.

Targets: jobs_dataframe ≤ 1.3× DataFrame.from_records and ≤ 0.5× json_normalize on the same
wire records (default 1,000,000 jobs; ``--jobs`` to change), with a peak memory ≤ 1.5×
from_records' (tracemalloc, each in a fresh interpreter so neither inherits the other's
arenas); plot_job_timeline at 10,000 jobs builds in ≤ 2 s with ≤ 5 MB of figure JSON.
Timings (json_normalize's too) are medians of interleaved rounds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from _common import Result, interleaved_medians, ratio_at_most, seconds

from nosana_nb.frames import jobs_dataframe
from nosana_nb.plots import plot_job_timeline

BUILDERS = {
    "jobs_dataframe": jobs_dataframe,
    "from_records": pd.DataFrame.from_records,
}

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--timeline-jobs", type=int, default=10_000)
    parser.add_argument("--frame-rounds", type=int, default=3)


def peak_memory(builder: str, count: int) -> int:
    """Peak bytes traced while ``builder`` turns ``count`` records into a frame."""
    records = job_records(count)
    tracemalloc.start()
    frame = BUILDERS[builder](records)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del frame
    return peak


def _peak_in_subprocess(builder: str, count: int) -> int:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-probe", builder, "--jobs", str(count)],
        capture_output=True,
        text=True,
        check=True,
    )
    peak: int = json.loads(out.stdout)
    return peak


def measure(args: argparse.Namespace) -> list[Result]:
    records = job_records(args.jobs)
    # json_normalize runs in the same interleaved rounds: one run of it swung 5 s to 12 s on
    # the shared machine
    times = interleaved_medians(
        {
            "from_records": lambda: pd.DataFrame.from_records(records),
            "jobs_dataframe": lambda: jobs_dataframe(records),
            "json_normalize": lambda: pd.json_normalize(records),
        },
        args.frame_rounds,
        warmup=0,
    )
    normalize = times["json_normalize"]
    peaks = {name: _peak_in_subprocess(name, args.jobs) for name in BUILDERS}

    timeline_jobs = jobs_dataframe(job_records(args.timeline_jobs, deployments=20))
    now = EPOCH + timedelta(days=30)
    figures: list[Any] = []
    build = interleaved_medians(
        {"plot": lambda: figures.append(plot_job_timeline(timeline_jobs, now=now))},
        args.frame_rounds,
        warmup=0,
    )["plot"]
    json_bytes = len(figures[-1].to_json())

    size = f"{args.jobs:,} jobs"
    ours = times["jobs_dataframe"]
    timeline_size = f"{args.timeline_jobs:,} jobs"
    return [
        ratio_at_most(
            "jobs_dataframe vs DataFrame.from_records", size, ours, times["from_records"], 1.3
        ),
        ratio_at_most("jobs_dataframe vs json_normalize", size, ours, normalize, 0.5),
        ratio_at_most(
            "jobs_dataframe peak memory vs from_records",
            size,
            peaks["jobs_dataframe"] / 1e6,
            peaks["from_records"] / 1e6,
            1.5,
            unit="MB",
        ),
        Result(
            "plot_job_timeline build", timeline_size, seconds(build), "", "", "≤ 2 s", build <= 2.0
        ),
        Result(
            "plot_job_timeline figure JSON",
            timeline_size,
            f"{json_bytes / 1e6:.2f} MB",
            "",
            "",
            "≤ 5 MB",
            json_bytes <= 5e6,
        ),
    ]


if __name__ == "__main__":
    if "--memory-probe" in sys.argv:
        probe = argparse.ArgumentParser()
        probe.add_argument("--memory-probe", choices=BUILDERS)
        probe.add_argument("--jobs", type=int)
        probe_args = probe.parse_args()
        print(json.dumps(peak_memory(probe_args.memory_probe, probe_args.jobs)))
    else:
        from _common import run_alone

        run_alone(add_arguments, measure, __doc__.splitlines()[0])
