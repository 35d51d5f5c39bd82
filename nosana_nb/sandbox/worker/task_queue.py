"""The worker's task collection: scheduling with de-duplication, due lookup, cron firings.

Task documents follow docs/contracts.md; besides those fields the worker keeps, never on the
wire: ``confirmed_count`` (LIST units confirmed so far) and ``stop_targets`` / ``stop_done``
(the jobs a STOP fixed on its first attempt, and those already handled).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from croniter import croniter

from nosana_nb.sandbox.clock import Clock, iso, parse_iso
from nosana_nb.sandbox.store import Doc, Store

TaskType = Literal["LIST", "EXTEND", "STOP"]
PENDING = "PENDING"
PROCESSING = "PROCESSING"
DUE_TOLERANCE_S = 1e-6
"""Float slack when comparing a stored due time with the clock."""


def next_firing(expression: str, after: float) -> float:
    """Unix time of the first firing of a 5-field cron strictly after ``after`` (UTC).

    Raises ValueError for anything croniter cannot parse.
    """
    if not isinstance(expression, str) or len(expression.split()) != 5:
        raise ValueError(f"not a 5-field cron expression: {expression!r}")
    start = datetime.fromtimestamp(after, tz=UTC)
    try:
        firing = croniter(expression, start).get_next(datetime)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from None
    return float(firing.timestamp())


def due_time(task: Doc) -> float:
    return parse_iso(str(task["due_at"]))


class TaskQueue:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def schedule(
        self,
        task: TaskType,
        deployment_id: str,
        *,
        due: float,
        job: str | None = None,
        limit: int | None = None,
        active_revision: int | None = None,
        extend_seconds: int | None = None,
    ) -> Doc:
        """Insert a PENDING task, unless an equivalent one is already pending.

        At most one PENDING task per (type, deployment, job) — STOPs also keyed by their
        revision, so a full STOP is never swallowed by a revision STOP. One-shot EXTENDs
        (``extend_seconds``) are never merged. A merged task takes the newer ``limit`` and
        ``active_revision`` (the newer reconciliation saw the more recent state) and the
        earlier due time (a start after a top-up does not wait for the old retry's cooldown).
        """
        if extend_seconds is None:
            existing = self._store.find_one(
                "tasks",
                lambda t: (
                    t.get("extend_seconds") is None
                    and (task != "STOP" or t.get("active_revision") == active_revision)
                ),
                task=task,
                deploymentId=deployment_id,
                job=job,
                status=PENDING,
            )
            if existing is not None:
                return self._store.update(
                    "tasks",
                    existing["_id"],
                    {
                        "limit": limit,
                        "active_revision": active_revision,
                        "due_at": iso(min(due, due_time(existing))),
                    },
                )
        now_iso = self._clock.now_iso()
        return self._store.insert(
            "tasks",
            {
                "task": task,
                "deploymentId": deployment_id,
                "tx": None,
                "job": job,
                "limit": limit,
                "active_revision": active_revision,
                "due_at": iso(due),
                "created_at": now_iso,
                "status": PENDING,
                "attempts": 0,
                "inflight_retries": 0,
                "extend_seconds": extend_seconds,
                "target_count": None,
            },
        )

    def next_due(self, now: float) -> Doc | None:
        """The earliest PENDING task due at ``now`` (ties by insertion order)."""
        due = self._store.find(
            "tasks",
            lambda t: t.get("status") == PENDING and due_time(t) <= now + DUE_TOLERANCE_S,
        )
        return min(due, key=lambda t: (due_time(t), t["_id"])) if due else None

    def next_due_time(self) -> float | None:
        pending = self._store.find("tasks", status=PENDING)
        return min((due_time(t) for t in pending), default=None)

    def pending_for_job(self, deployment_id: str, job: str) -> list[Doc]:
        return self._store.find("tasks", deploymentId=deployment_id, job=job, status=PENDING)

    def delete_for_job(self, deployment_id: str, job: str) -> int:
        tasks = self.pending_for_job(deployment_id, job)
        with self._store.transaction():
            for task in tasks:
                self._store.delete("tasks", task["_id"])
        return len(tasks)

    def shrink_started_lists(self, deployment_id: str, *, still_needed: int) -> None:
        """Replicas went down: a LIST already under way (its target fixed at its first attempt,
        perhaps a million jobs) lists only what the new replica count still needs."""
        for task in self._store.find(
            "tasks",
            lambda t: t.get("target_count") is not None,
            task="LIST",
            deploymentId=deployment_id,
            job=None,
            status=PENDING,
        ):
            confirmed = int(task.get("confirmed_count") or 0)
            if int(task["target_count"]) > confirmed + still_needed:
                self.update(task["_id"], {"target_count": confirmed + still_needed})

    def for_deployment(self, deployment_id: str) -> list[Doc]:
        return self._store.find("tasks", deploymentId=deployment_id)

    def update(self, task_id: str, fields: Doc) -> Doc | None:
        """Update a task that may have been deleted meanwhile (returns None then)."""
        with self._store.transaction():
            if self._store.get("tasks", task_id) is None:
                return None
            return self._store.update("tasks", task_id, fields)

    def delete(self, task_id: str) -> None:
        self._store.delete("tasks", task_id)
