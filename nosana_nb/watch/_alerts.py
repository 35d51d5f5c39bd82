"""``watcher.alerts``: rules evaluated on the watcher's live stream, one episode at a time.

    watcher = Watcher(client, deployment, path="history.jsonl")
    watcher.alerts.add(StatusAlert(), notify=[print, LogNotifier()])
    watcher.alerts.add(QueuedTooLong(timedelta(minutes=10)), notify=[toast])
    watcher.start()

Each rule is evaluated after every new row of the stream and every ``interval`` seconds (time
alone can make a job "queued too long"), always at the service's time. A key (a deployment, a
job, the credits) that a rule reports opens an *episode* and fires once; while it stays in
trouble nothing more is sent, however often the rule is evaluated, the stream reconnects or the
kernel restarts; when it is no longer reported the episode resolves, once. Rules, open
episodes and the latest events are kept in ``<journal>.alerts.json`` beside the watcher's
journal, so a new Watcher on the same path carries on where the last one stopped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nosana_nb.core.client import AsyncNosanaClient
from nosana_nb.core.errors import ValidationError
from nosana_nb.watch._alert_events import AlertEvent, NotifierLike
from nosana_nb.watch._alert_facts import FactReader, facts_from_rows
from nosana_nb.watch._alert_rules import (
    RULE_KINDS,
    AlertRule,
    FailedJobs,
    Needs,
    format_duration,
)
from nosana_nb.watch._alert_store import AlertsState, AlertStore, Episode
from nosana_nb.watch._notifiers import LogNotifier

__all__ = ["DEFAULT_ALERT_INTERVAL", "ActiveAlert", "Alerts"]

logger = logging.getLogger("nosana_nb.watch.alerts")

DEFAULT_ALERT_INTERVAL = 15.0
"""Wall seconds between evaluations when no row arrives."""


@dataclass(frozen=True)
class ActiveAlert:
    """An episode that fired and has not resolved.

    Attributes:
        rule: the rule's title.
        key: a deployment id, "<deployment>/<job>" or "credits".
        message: what the alert said when it fired.
        severity: "warning" or "critical".
        started_at: when it fired (service time, UTC).
        deployment: the deployment concerned, if any.
        job: the job concerned, if any.
    """

    rule: str
    key: str
    message: str
    severity: str
    started_at: datetime
    deployment: str | None
    job: str | None


def _notifiers(notify: Any) -> tuple[NotifierLike, ...]:
    if notify is None:
        return ()
    single = callable(notify) or hasattr(notify, "notify") or isinstance(notify, logging.Logger)
    items = [notify] if single else notify
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise ValidationError(
            "notify must be a notifier, a callable, a logger, or a list of them",
            argument="notify",
        )
    checked = tuple(LogNotifier(i) if isinstance(i, logging.Logger) else i for i in items)
    for item in checked:
        if not (callable(getattr(item, "notify", None)) or callable(item)):
            raise ValidationError(
                f"notify: {type(item).__name__} is neither callable nor has notify(event)",
                argument="notify",
            )
    return checked


def _deliver(notifier: NotifierLike, event: AlertEvent) -> bool:
    try:
        method = getattr(notifier, "notify", None)
        if callable(method):
            method(event)
        else:
            notifier(event)  # type: ignore[operator]
    except Exception as err:  # a notifier never breaks the watcher or the others
        logger.error(
            "alert notifier %s failed on %r (%s: %s); the others go on",
            type(notifier).__name__,
            event.rule,
            type(err).__name__,
            err,
        )
        return False
    return True


class Alerts:
    """The alert rules of one :class:`~nosana_nb.watch.Watcher` (``watcher.alerts``).

    Args:
        deployments: the watched deployment ids.
        path: the alerts file (beside the journal), or None to keep everything in memory.
        interval: wall seconds between evaluations when no row arrives.

    Raises:
        ValidationError: an unreadable alerts file or a bad interval.
    """

    def __init__(
        self,
        deployments: tuple[str, ...],
        *,
        path: Path | None = None,
        interval: float = DEFAULT_ALERT_INTERVAL,
    ) -> None:
        self._deployments = deployments
        self._store = AlertStore(path) if path is not None else None
        self._state = self._store.load() if self._store is not None else AlertsState()
        self._notify: dict[str, tuple[NotifierLike, ...]] = {}
        self._cond = threading.Condition(threading.RLock())
        self._interval = _interval(interval)
        self._reader = FactReader()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tick_lock: asyncio.Lock | None = None
        self._client: AsyncNosanaClient | None = None
        self._clock: Callable[[], datetime] | None = None
        self._rows: Callable[[], list[dict[str, Any]]] = list
        self._ready: Callable[[], bool] = lambda: True
        self.notifier_errors = 0
        """Notifier calls that raised (each was logged and skipped)."""

    # --- rules ------------------------------------------------------------------------------

    def add(self, rule: AlertRule, notify: Any = None) -> AlertRule:
        """Evaluate ``rule`` from now on and send its events to ``notify``.

        A rule with the same title (its ``name``, or the description of its parameters)
        replaces the earlier one and its notifiers but keeps its open episodes, so re-running
        a notebook cell, or adding the same rules after a kernel restart, fires nothing twice.

        Args:
            rule: a StatusAlert, RunwayBelow, FailedJobs, QueuedTooLong or NearTimeout.
            notify: a notifier (``notify(event)``), a callable ``f(event)``, a
                ``logging.Logger`` (wrapped in a LogNotifier), or a list of them.

        Returns:
            The rule.

        Raises:
            ValidationError: ``rule`` is not one of the five rules (a subclass is refused
                too: the alerts file could not read it back), or a notifier is not callable.
        """
        if type(rule) not in RULE_KINDS.values():  # only kinds the alerts file can store
            raise ValidationError(
                f"rule must be an alert rule (StatusAlert, RunwayBelow, ...); "
                f"got {type(rule).__name__}",
                argument="rule",
            )
        notifiers = _notifiers(notify)
        with self._cond:
            self._state.rules[rule.title] = rule
            self._notify[rule.title] = notifiers
            self._save()
        self.wake()
        return rule

    def remove(self, rule: AlertRule | str) -> bool:
        """Stop evaluating a rule (by the rule or its title); its open episodes are dropped.

        Args:
            rule: the rule or its title.

        Returns:
            True if it was there.
        """
        title = rule.title if isinstance(rule, AlertRule) else rule
        with self._cond:
            found = self._state.rules.pop(title, None) is not None
            self._notify.pop(title, None)
            self._state.episodes.pop(title, None)
            self._save()
        return found

    @property
    def rules(self) -> list[AlertRule]:
        """The rules, in the order they were added."""
        with self._cond:
            return list(self._state.rules.values())

    @property
    def interval(self) -> float:
        """Wall seconds between evaluations when no row arrives (settable)."""
        return self._interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self._interval = _interval(seconds)
        self.wake()

    # --- what happened ----------------------------------------------------------------------

    @property
    def events(self) -> list[AlertEvent]:
        """Every event so far (the latest 500 survive a restart), oldest first."""
        with self._cond:
            return list(self._state.events)

    @property
    def active(self) -> list[ActiveAlert]:
        """The episodes that fired and have not resolved."""
        with self._cond:
            return [
                ActiveAlert(
                    rule=name,
                    key=key,
                    message=episode.message,
                    severity=episode.severity,
                    started_at=episode.started_at,
                    deployment=episode.deployment,
                    job=episode.job,
                )
                for name, episodes in self._state.episodes.items()
                for key, episode in episodes.items()
            ]

    def wait_for_events(
        self,
        count: int = 1,
        *,
        kind: str | None = None,
        rule: AlertRule | str | None = None,
        timeout: float = 10.0,
    ) -> bool:
        """Block until at least ``count`` events (of ``kind``, of ``rule``) were recorded.

        Args:
            count: how many matching events to wait for.
            kind: "fired" or "resolved", or None for both.
            rule: a rule or its title, or None for every rule.
            timeout: wall seconds to wait at most.

        Returns:
            True when they are there, False on timeout.

        Raises:
            ValidationError: a bad count, kind or timeout.
        """
        if type(count) is not int or count < 0:
            raise ValidationError("count must be an int >= 0", argument="count")
        if kind not in (None, "fired", "resolved"):
            raise ValidationError("kind must be 'fired', 'resolved' or None", argument="kind")
        title = rule.title if isinstance(rule, AlertRule) else rule
        wait = _interval(timeout, "timeout")

        def enough() -> bool:
            matching = [
                e
                for e in self._state.events
                if (kind is None or e.kind == kind) and (title is None or e.rule == title)
            ]
            return len(matching) >= count

        with self._cond:
            return self._cond.wait_for(enough, wait)

    def check(self, timeout: float = 30.0) -> list[AlertEvent]:
        """Evaluate every rule now (on the watcher's thread) and wait for the outcome.

        Args:
            timeout: wall seconds to wait at most.

        Returns:
            The events this evaluation produced.

        Raises:
            RuntimeError: the watcher is not running.
            TimeoutError: the evaluation took longer than ``timeout``.
        """
        wait = _interval(timeout, "timeout")
        loop = self._loop
        if loop is None:
            raise RuntimeError("alerts are evaluated by a running watcher: call start() first")
        future = asyncio.run_coroutine_threadsafe(self._tick(), loop)
        return future.result(wait)

    # --- the watcher's side -----------------------------------------------------------------

    def wake(self) -> None:
        """Evaluate soon (a new row arrived, a rule was added); safe from any thread."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None:
            with suppress(RuntimeError):  # the loop just closed
                loop.call_soon_threadsafe(event.set)

    def on_row(self, row: Mapping[str, Any]) -> None:
        """The watcher's row callback: a status or job change is evaluated at once.

        Args:
            row: the new row (only its arrival matters).
        """
        del row
        self.wake()

    async def run(
        self,
        client: AsyncNosanaClient,
        clock: Callable[[], datetime],
        rows: Callable[[], list[dict[str, Any]]],
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        """Evaluate until cancelled (a task of the watcher's event loop).

        Args:
            client: the watcher's own asyncio client.
            clock: the service's time.
            rows: the watcher's rows so far.
            ready: whether the streams have caught up (snapshot seen, gap reconciled); until
                then the rows may be a previous session's and nothing is evaluated.
        """
        self._client, self._clock, self._rows, self._ready = client, clock, rows, ready
        self._wake = asyncio.Event()
        self._tick_lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                self._wake.clear()
                try:
                    await self._tick()
                except Exception:  # keep evaluating; a bug shows in the log
                    logger.exception("alert evaluation failed; trying again at the next tick")
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                # that meets a wake-up, and stop() would then wait for ever
                with suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):
                        await self._wake.wait()
        finally:
            self._loop = self._wake = None

    async def _tick(self) -> list[AlertEvent]:
        lock, client, clock = self._tick_lock, self._client, self._clock
        if lock is None or client is None or clock is None:
            raise RuntimeError("the alerts are not running")
        async with lock:
            with self._cond:
                rules = dict(self._state.rules)
            if not rules or not self._ready():
                return []
            always: frozenset[Needs] = frozenset({"deployments"})  # a reply moves the clock
            needs = always.union(*(r.needs for r in rules.values()))
            windows = [r.window for r in rules.values() if isinstance(r, FailedJobs)]
            facts = facts_from_rows(self._rows(), self._deployments, clock())
            window = max(windows) if windows else facts.now - facts.now
            await self._reader.fill(client, facts, needs, window)
            facts.now = clock()  # the replies just read moved the service's clock
            events = self._apply(rules, facts)
        self._dispatch(events)
        return events

    def _apply(self, rules: dict[str, AlertRule], facts: Any) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        with self._cond:
            for title, rule in rules.items():
                if self._state.rules.get(title) is not rule:
                    continue  # removed or replaced meanwhile
                try:
                    found, unknown = rule.evaluate(facts)
                except Exception:  # one broken rule must not silence the others
                    logger.exception("alert rule %r failed; its episodes stay as they are", title)
                    continue
                episodes = self._state.episodes.setdefault(title, {})
                for key, finding in found.items():
                    if key in episodes:
                        continue
                    episode = Episode(
                        started_at=facts.now,
                        message=finding.message,
                        severity=rule.severity,
                        deployment=finding.deployment,
                        job=finding.job,
                        details=dict(finding.details),
                    )
                    episodes[key] = episode
                    events.append(_event("fired", rule, key, episode, facts.now, finding.message))
                for key in [k for k in episodes if k not in found and k not in unknown]:
                    episode = episodes.pop(key)
                    lasted = format_duration(max(facts.now - episode.started_at, _ZERO))
                    message = f"{episode.message} · cleared after {lasted}"
                    events.append(_event("resolved", rule, key, episode, facts.now, message))
            if events:
                self._state.events.extend(events)
                del self._state.events[:-_KEPT_IN_MEMORY]
                self._save()
                self._cond.notify_all()
        return events

    def _dispatch(self, events: list[AlertEvent]) -> None:
        for event in events:
            with self._cond:
                notifiers = self._notify.get(event.rule, ())
            for notifier in notifiers:
                if not _deliver(notifier, event):
                    self.notifier_errors += 1

    def _save(self) -> None:
        if self._store is None:
            return
        try:
            self._store.save(self._state)
        except OSError as err:
            logger.error("cannot write %s (%s); alerts stay in memory", self._store.path, err)

    def __repr__(self) -> str:
        with self._cond:
            active = sum(map(len, self._state.episodes.values()))
            rules, events = len(self._state.rules), len(self._state.events)
        return f"Alerts(rules={rules}, active={active}, events={events})"


_KEPT_IN_MEMORY = 10_000
_ZERO = datetime.min - datetime.min


def _event(
    kind: str, rule: AlertRule, key: str, episode: Episode, at: datetime, message: str
) -> AlertEvent:
    return AlertEvent(
        kind="fired" if kind == "fired" else "resolved",
        rule=rule.title,
        rule_kind=rule.kind,
        key=key,
        message=message,
        severity=episode.severity,
        at=at,
        started_at=episode.started_at,
        deployment=episode.deployment,
        job=episode.job,
        details=dict(episode.details),
    )


def _interval(value: Any, argument: str = "interval") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{argument} must be seconds (int or float)", argument=argument)
    if not math.isfinite(value) or value <= 0 or value > 86_400:
        raise ValidationError(
            f"{argument} must be finite, > 0 and at most one day", argument=argument
        )
    return float(value)
