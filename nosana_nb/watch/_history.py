"""What the recorder already knows, so a repeated frame adds no row.

Dedupe key: (type, deployment, job, status/state). Job states only move forward
(QUEUED -> RUNNING -> COMPLETED/STOPPED), so a job's key is checked against every state seen.
A deployment may legitimately return to an earlier status (STOPPED -> STARTING -> RUNNING on a
restart), so its key is checked against the last known status only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nosana_nb.watch._rows import ACTIVE_JOB_STATES, FINAL_JOB_STATES, JOB_STATE_RANK


class HistoryState:
    """Last status per deployment and the states seen per job. Not thread-safe on its own."""

    def __init__(self) -> None:
        self._status: dict[str, str] = {}
        self._jobs: dict[str, dict[str, str]] = {}
        self._seen: set[tuple[str, str, str]] = set()

    def is_new(self, row: Mapping[str, Any]) -> bool:
        deployment = row["deployment"]
        if row["type"] == "deployment":
            return bool(self._status.get(deployment) != row["status"])
        return (deployment, row["job"], row["state"]) not in self._seen

    def add(self, row: Mapping[str, Any]) -> None:
        deployment = row["deployment"]
        if row["type"] == "deployment":
            self._status[deployment] = row["status"]
            return
        job, state = row["job"], row["state"]
        self._seen.add((deployment, job, state))
        jobs = self._jobs.setdefault(deployment, {})
        known = jobs.get(job)
        # a late frame must not move a finished job back to RUNNING
        if known is None or JOB_STATE_RANK.get(state, 0) >= JOB_STATE_RANK.get(known, 0):
            jobs[job] = state

    def last_status(self, deployment: str) -> str | None:
        return self._status.get(deployment)

    def job_states(self, deployment: str) -> dict[str, str]:
        """Job address -> furthest state seen, for one deployment (a copy)."""
        return dict(self._jobs.get(deployment, {}))

    def active_jobs(self, deployment: str) -> set[str]:
        return {j for j, s in self._jobs.get(deployment, {}).items() if s in ACTIVE_JOB_STATES}

    def has(self, deployment: str, job: str, state: str) -> bool:
        return (deployment, job, state) in self._seen

    def has_final(self, deployment: str, job: str) -> bool:
        return any(self.has(deployment, job, s) for s in FINAL_JOB_STATES)

    def knows(self, deployment: str) -> bool:
        """Whether anything was recorded for this deployment (then a connect is a reconnect)."""
        return deployment in self._status or deployment in self._jobs
