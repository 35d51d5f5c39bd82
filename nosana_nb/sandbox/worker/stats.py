"""The worker's counters behind ``GET /stats``, persisted in the store's meta."""

from __future__ import annotations

import threading
from typing import Any

from nosana_nb.sandbox.clock import Clock, iso
from nosana_nb.sandbox.store import Store

META_KEY = "worker:stats"
_COUNTERS = ("listed", "extended", "stopped", "failed", "successful", "timed_out")


class WorkerStats:
    """Counters survive restarts (meta); ``started_at``/``running_ms`` are per worker process."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        saved = store.meta_get(META_KEY, {}) or {}
        self._counts: dict[str, int] = {name: int(saved.get(name, 0)) for name in _COUNTERS}
        self._timed_tasks = int(saved.get("timed_tasks", 0))
        self._total_task_ms = float(saved.get("total_task_ms", 0.0))
        self._in_progress = 0
        self._started_at = clock.now()

    def add(self, counter: str, amount: int = 1) -> None:
        if counter not in self._counts:
            raise KeyError(f"unknown counter {counter!r}")
        with self._lock:
            self._counts[counter] += amount

    def task_started(self) -> None:
        with self._lock:
            self._in_progress += 1

    def task_finished(self, elapsed_ms: float) -> None:
        with self._lock:
            self._in_progress = max(0, self._in_progress - 1)
            self._timed_tasks += 1
            self._total_task_ms += elapsed_ms

    def flush(self) -> None:
        with self._lock:
            saved: dict[str, Any] = dict(self._counts)
            saved["timed_tasks"] = self._timed_tasks
            saved["total_task_ms"] = self._total_task_ms
        self._store.meta_set(META_KEY, saved)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self._counts)
            average = self._total_task_ms / self._timed_tasks if self._timed_tasks else 0.0
            in_progress = self._in_progress
        return {
            "running_ms": max(0, int((self._clock.now() - self._started_at) * 1000)),
            "started_at": iso(self._started_at),
            "jobs": {
                "listed": counts["listed"],
                "extended": counts["extended"],
                "stopped": counts["stopped"],
            },
            "tasks": {
                "in_progress": in_progress,
                "failed": counts["failed"],
                "successful": counts["successful"],
                "timed_out": counts["timed_out"],
                "average_time_ms": round(average, 3),
            },
        }
