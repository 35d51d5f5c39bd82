"""The deployment manager's worker for the sandbox: listeners, task consumer, simulated network.

One lock guards all processing, whether it runs in the background thread or in
:meth:`Worker.advance` / :meth:`Worker.run_pending`. A pass first applies the listener reactions
to committed changes (the store's change feed, like Mongo change streams), then runs whatever is
due at ``clock.now()`` — PENDING tasks and planned node events — one item at a time, earliest
first, reacting to the changes each item makes before the next one. Simulated time is never
slept through: :meth:`advance` jumps the clock from one due time to the next.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.store import Change, Store

from .config import WorkerConfig
from .credit_jobs import CreditJobs
from .market_accounts import MarketAccounts
from .network import Network
from .payments import Payments
from .stats import WorkerStats
from .strategies import Strategies, is_relevant
from .task_queue import DUE_TOLERANCE_S, TaskQueue, due_time
from .tasks import TaskRunner

if TYPE_CHECKING:
    from nosana_nb.sandbox.chain.chain import Chain

__all__ = ["Worker", "WorkerConfig"]

log = logging.getLogger(__name__)


class Worker:
    def __init__(
        self,
        store: Store,
        chain: Chain,
        clock: Clock,
        *,
        seed: int = 0,
        config: WorkerConfig | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.config = config or WorkerConfig()
        self.seed = seed
        self._lock = threading.RLock()
        self._changes: deque[Change] = deque()
        self._changes_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._recovered = False
        self.failed_passes = 0
        """Background passes that raised (logged, retried next poll): a bug when not 0."""

        payments = Payments(store, chain)
        self._stats = WorkerStats(store, clock)
        self._queue = TaskQueue(store, clock)
        self.network = Network(store, clock, payments, self.config, seed=seed)
        """The simulated nodes (``network.node_keypair(address)`` signs as a node)."""
        self._strategies = Strategies(store, clock, self._queue, self.config)
        self._runner = TaskRunner(
            store, clock, self._queue, self.network, payments, self.config, self._stats
        )
        self.credit_jobs = CreditJobs(store, clock, self.network, payments, self._lock, self._stats)
        """Single jobs paid with credits (the jobs API), run under the worker's lock."""
        self._market_accounts = MarketAccounts(store, chain, self.network)
        self._market_accounts.refresh()
        self._unsubscribe: Callable[[], None] | None = None
        self._attach()
        clock.subscribe(self._wake)

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "idle"
        return f"Worker(seed={self.seed}, {state})"

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Run in a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        with self._lock:
            self._attach()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._loop, name="nosana-sandbox-worker", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (if any) and leave the change feed.

        Any later :meth:`start`, :meth:`run_pending` or :meth:`advance` rejoins it and, like a
        freshly started worker, first resumes what was left meanwhile (STARTING, STOPPING,
        tasks caught mid-run).
        """
        self._stopping.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        with self._lock:
            if self._unsubscribe is not None:
                self._unsubscribe()
                self._unsubscribe = None

    # -- processing -----------------------------------------------------------------------
    def run_pending(self) -> int:
        """Process everything due at ``clock.now()``; returns the work units done."""
        with self._lock:
            return self._pass()

    def settle(self, timeout: float = 10.0) -> None:
        """Block until nothing is due at the current simulated time."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._pass()
                if not self._has_work():
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError("the sandbox worker still has due work")

    def advance(self, seconds: float, *, step: float | None = None) -> None:
        """Move the clock ``seconds`` forward, running everything due at each due time.

        The clock jumps from one due time (task, node claim, job end) to the next, so a day of
        simulated time takes milliseconds. ``step`` caps each jump (for callers that want to
        observe intermediate times).
        """
        if not (seconds >= 0) or seconds == float("inf"):
            raise ValueError("seconds must be a finite number >= 0")
        if step is not None and not (step > 0):
            raise ValueError("step must be a positive number")
        with self._lock:
            target = self._clock.now() + seconds
            while True:
                self._pass()
                now = self._clock.now()
                if now >= target:
                    return
                limit = target if step is None else min(target, now + step)
                upcoming = self._next_due_time()
                if upcoming is not None and upcoming < limit:
                    limit = upcoming
                if limit > now:
                    self._clock.set(limit)

    def stats(self) -> dict[str, Any]:
        """The ``GET /stats`` body (``worker/stats.py``)."""
        return self._stats.snapshot()

    def idle_nodes(self, market_address: str) -> int:
        return self.network.idle_nodes(market_address)

    def market_nodes(self, market_address: str) -> tuple[str, ...]:
        """Addresses of every simulated node of the market, busy or idle."""
        return self.network.nodes(market_address)

    # -- internals ------------------------------------------------------------------------
    def _attach(self) -> None:
        """Join the change feed; a (re)joining worker first resumes what it could have missed."""
        if self._unsubscribe is None:
            self._unsubscribe = self._store.subscribe(self._on_change)
            self._recovered = False

    def _on_change(self, change: Change) -> None:
        if is_relevant(change):
            with self._changes_lock:
                self._changes.append(change)
            self._wake.set()

    def _take_change(self) -> Change | None:
        with self._changes_lock:
            return self._changes.popleft() if self._changes else None

    def _recover(self) -> None:
        """Once per worker: resume what an earlier worker (or none) left in the store."""
        if self._recovered:
            return
        self._recovered = True
        self._runner.recover_abandoned()
        for deployment in self._store.find(
            "deployments", lambda d: d.get("status") in ("STARTING", "STOPPING")
        ):
            self._strategies.resume(deployment)

    def _pass(self) -> int:
        try:
            return self._run_pass()
        finally:
            self._market_accounts.refresh()

    def _run_pass(self) -> int:
        self._attach()
        self._recover()
        units = 0
        while units < self.config.max_units_per_pass:
            change = self._take_change()
            if change is not None:
                self._strategies.react(change)
                units += 1
                continue
            now = self._clock.now()
            self.network.plan_claims(now)
            if self._changes:
                continue
            if not self._run_one_due(now):
                return units
            units += 1
        log.warning("worker pass stopped after %d units at one instant", units)
        return units

    def _run_one_due(self, now: float) -> bool:
        """Run the earliest due item; node events win ties (the chain moves first)."""
        event = self.network.next_event()
        task = self._queue.next_due(now)
        event_due = event is not None and event.at <= now + DUE_TOLERANCE_S
        if event is not None and event_due:
            task_first = task is not None and due_time(task) < event.at
            if not task_first:
                self.network.run_event(event)
                return True
        if task is not None:
            self._runner.run(task)
            return True
        return False

    def _next_due_time(self) -> float | None:
        times = [t for t in (self._queue.next_due_time(), self._next_event_time()) if t is not None]
        return min(times) if times else None

    def _next_event_time(self) -> float | None:
        event = self.network.next_event()
        return event.at if event is not None else None

    def _has_work(self) -> bool:
        if self._changes:
            return True
        upcoming = self._next_due_time()
        return upcoming is not None and upcoming <= self._clock.now() + DUE_TOLERANCE_S

    def _loop(self) -> None:
        wait = 0.0
        while not self._stopping.is_set():
            self._wake.wait(wait)
            self._wake.clear()
            if self._stopping.is_set():
                return
            wait = self.config.poll_interval_s
            try:
                with self._lock:
                    self._pass()
                    upcoming = self._next_due_time()
                    if upcoming is not None:
                        # In speed mode, wake when the next item falls due, not a poll later.
                        wall = self._clock.wall_seconds_for(upcoming - self._clock.now())
                        if wall is not None:
                            wait = min(wait, wall)
            except Exception:  # keep the sandbox alive; the next pass retries
                self.failed_passes += 1
                log.exception("sandbox worker pass failed")
