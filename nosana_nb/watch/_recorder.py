"""Thread-safe home of the rows: dedupe, journal, callbacks and connection statuses.

The watcher's event-loop thread writes; notebook code reads from the kernel's thread.
Callbacks run on the watcher thread, outside the lock, each with its own copy of the row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from nosana_nb.watch._history import HistoryState
from nosana_nb.watch._journal import Journal
from nosana_nb.watch._rows import Row

logger = logging.getLogger("nosana_nb.watch")

ConnectionState = Literal["idle", "connecting", "connected", "reconnecting", "failed", "stopped"]
RowCallback = Callable[[Row], None]


@dataclass(frozen=True)
class WatchStatus:
    """How the stream of one deployment is doing.

    ``connects`` counts completed (re)connections: stream open, snapshot seen, reconciled.
    ``last_error`` is the message of the latest failure, kept after recovery so a notebook can
    tell why the stream was reopened; failures are retried unless ``state`` is "failed".
    """

    deployment: str
    state: ConnectionState = "idle"
    connects: int = 0
    last_error: str | None = None
    last_message_at: datetime | None = None


class Recorder:
    def __init__(self, deployments: list[str], journal: Journal | None) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._journal = journal
        self._rows: list[Row] = journal.load() if journal is not None else []
        self._history = HistoryState()
        for row in self._rows:
            self._history.add(row)
        self._subscribers: list[RowCallback] = []
        self._status = {d: WatchStatus(d) for d in deployments}
        self._journal_failed = False

    # --- rows ---------------------------------------------------------------------------------

    def record(self, row: Row) -> bool:
        """Keep ``row`` unless it repeats a known state; True when it was new."""
        with self._cond:
            if not self._history.is_new(row):
                return False
            self._history.add(row)
            self._rows.append(row)
            self._write(row)
            subscribers = list(self._subscribers)
            self._cond.notify_all()
        for callback in subscribers:
            try:
                callback(dict(row))
            except Exception:
                logger.exception("a watcher callback failed; the watcher goes on")
        return True

    def _write(self, row: Row) -> None:
        if self._journal is None:
            return
        try:
            self._journal.append(row)
        except (OSError, TypeError) as err:
            if not self._journal_failed:  # say it once, keep recording in memory
                logger.error(
                    "cannot append to %s (%s); rows stay in memory", self._journal.path, err
                )
            self._journal_failed = True

    def rows(self) -> list[Row]:
        with self._cond:
            return [dict(r) for r in self._rows]

    def history(self) -> HistoryState:
        """The dedupe state; only the watcher thread may use it while the watcher runs."""
        return self._history

    def subscribe(self, callback: RowCallback) -> Callable[[], None]:
        with self._cond:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._cond:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def close(self) -> None:
        with self._cond:
            if self._journal is not None:
                self._journal.close()

    # --- connection statuses ------------------------------------------------------------------

    def set_status(self, deployment: str, **changes: Any) -> None:
        with self._cond:
            self._status[deployment] = replace(self._status[deployment], **changes)
            self._cond.notify_all()

    def bump_connects(self, deployment: str) -> None:
        with self._cond:
            current = self._status[deployment]
            self._status[deployment] = replace(
                current, state="connected", connects=current.connects + 1
            )
            self._cond.notify_all()

    def statuses(self) -> dict[str, WatchStatus]:
        with self._cond:
            return dict(self._status)

    # --- waiting ------------------------------------------------------------------------------

    def wait_for(self, ready: Callable[[], bool], timeout: float) -> bool:
        """Block until ``ready()`` (called under the lock) is true; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def rows_unlocked(self) -> list[Row]:
        """The live list, for ``wait_for`` predicates that already hold the lock."""
        return self._rows

    def statuses_unlocked(self) -> dict[str, WatchStatus]:
        return self._status
