"""The job-transition frame of the watcher (pandas is imported only when it is asked for)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from nosana_nb.frames.schema import DATETIME, JOB_STATE, STRING, ordered
from nosana_nb.watch._rows import FINAL_JOB_STATES, JOB_STATE_RANK, SOURCES, Row

JOBS_HISTORY_SCHEMA: dict[str, Any] = {
    "time": DATETIME,
    "deployment": STRING,
    "job": STRING,
    "state": JOB_STATE,
    "node": STRING,
    "source": ordered(SOURCES),
}


def jobs_history_frame(rows: Sequence[Row]) -> pd.DataFrame:
    """One row per job state transition, oldest first; fixed columns even when empty."""
    jobs = [r for r in rows if r.get("type") == "job"]
    columns = {
        "time": pd.to_datetime([r["time"] for r in jobs], utc=True),
        "deployment": [r["deployment"] for r in jobs],
        "job": [r["job"] for r in jobs],
        "state": [r["state"] for r in jobs],
        "node": [r.get("node") for r in jobs],
        "source": [r.get("source") for r in jobs],
    }
    frame = pd.DataFrame(
        {
            name: pd.Series(values, dtype=JOBS_HISTORY_SCHEMA[name])
            for name, values in columns.items()
        }
    )
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def job_records(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """One jobs-list-shaped record per job from the transitions (for ``jobs_dataframe``).

    ``created_at`` is when the job was seen QUEUED, ``time_start``/``time_end`` (unix seconds)
    when it was seen RUNNING / finished; ``state`` is the furthest state seen.
    """
    jobs: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if row.get("type") != "job":
            continue
        key = (row["deployment"], row["job"])
        record = jobs.setdefault(
            key,
            {
                "job": row["job"],
                "deployment": row["deployment"],
                "node": None,
                "state": None,
                "created_at": None,
                "time_start": 0,
                "time_end": 0,
            },
        )
        state = row["state"]
        if row.get("node"):
            record["node"] = row["node"]
        if state == "QUEUED":
            record["created_at"] = row["time"].isoformat()
        elif state == "RUNNING":
            record["time_start"] = row["time"].timestamp()
        elif state in FINAL_JOB_STATES:
            record["time_end"] = row["time"].timestamp()
        if JOB_STATE_RANK.get(state, -1) >= JOB_STATE_RANK.get(record["state"], -1):
            record["state"] = state
    return list(jobs.values())
