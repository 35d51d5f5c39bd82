"""The :class:`Watcher`: one background thread that streams deployments into rows."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.deployments import AsyncDeployment, Deployment
from nosana_nb.core.errors import ValidationError, WalletError
from nosana_nb.core.retry_policy import STREAM_TRANSPORT_RETRIES
from nosana_nb.core.service_clock import last_seen_now
from nosana_nb.core.validation import check_pubkey
from nosana_nb.watch._journal import Journal
from nosana_nb.watch._recorder import ConnectionState, Recorder, RowCallback, WatchStatus
from nosana_nb.watch._rows import Row
from nosana_nb.watch._session import DeploymentSession, SessionSettings

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ConnectionState", "WatchStatus", "Watcher", "stop_all"]

logger = logging.getLogger("nosana_nb.watch")

DeploymentRef = str | Deployment | AsyncDeployment
_running: weakref.WeakSet[Watcher] = weakref.WeakSet()


def stop_all() -> int:
    """Stop every running watcher (one left behind by a re-run notebook cell, say).

    Returns:
        How many were running.
    """
    watchers = [w for w in list(_running) if w.is_running]
    for watcher in watchers:
        watcher.stop()
    return len(watchers)


STOP_TIMEOUT_S = 10.0
TRANSPORT_RETRIES = STREAM_TRANSPORT_RETRIES


def _checked_client(client: Any) -> NosanaClient | AsyncNosanaClient:
    if not isinstance(client, NosanaClient | AsyncNosanaClient):
        raise ValidationError(
            f"client must be a NosanaClient or AsyncNosanaClient; got {type(client).__name__}",
            argument="client",
        )
    wallet = client.wallet
    if wallet is None or not wallet.can_sign:
        raise WalletError("watching a deployment's stream needs a client with a signing wallet")
    if client.options.http_client is not None:
        raise ValidationError(
            "the watcher runs its own event loop in a thread and cannot share an injected "
            "http_client; give the client a transport=... instead",
            argument="client",
        )
    AsyncNosanaClient.check_options(client.options)  # e.g. a transport asyncio cannot drive
    return client


def _service_time(client: AsyncNosanaClient) -> Callable[[], datetime]:
    """Rows are stamped on the service's clock, like the jobs and events they sit beside."""

    def now() -> datetime:
        return client.service_clock.now() or last_seen_now() or datetime.now(UTC)

    return now


def _watch_client(client: NosanaClient | AsyncNosanaClient) -> AsyncNosanaClient:
    """The watcher's own asyncio client: every setting of ``client``, few transport retries
    (the reconnect loop handles longer outages), retries counted on ``client``."""
    if isinstance(client, NosanaClient):
        return client.to_async(max_retries=TRANSPORT_RETRIES)
    return client.copy(max_retries=TRANSPORT_RETRIES)


def _deployment_ids(deployments: Any) -> tuple[str, ...]:
    items: list[Any]
    if isinstance(deployments, str | Deployment | AsyncDeployment):
        items = [deployments]
    elif isinstance(deployments, Iterable) and not isinstance(deployments, bytes | dict):
        items = list(deployments)
    else:
        raise ValidationError(
            "deployments must be a deployment id, a Deployment, or an iterable of them; "
            f"got {type(deployments).__name__}",
            argument="deployments",
        )
    ids: list[str] = []
    for item in items:
        raw = item.id if isinstance(item, Deployment | AsyncDeployment) else item
        ids.append(check_pubkey(raw, argument="deployments"))
    if not ids:
        raise ValidationError("deployments is empty: name at least one", argument="deployments")
    return tuple(dict.fromkeys(ids))


def _positive_seconds(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(
            f"{argument} must be seconds (int or float); got {type(value).__name__}",
            argument=argument,
        )
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(f"{argument} must be finite and > 0 seconds", argument=argument)
    return float(value)


def _settings(reconnect_backoff: Any, read_timeout: Any) -> SessionSettings:
    if not isinstance(reconnect_backoff, tuple | list) or len(reconnect_backoff) != 2:
        raise ValidationError(
            "reconnect_backoff must be (initial_seconds, max_seconds)",
            argument="reconnect_backoff",
        )
    initial = _positive_seconds(reconnect_backoff[0], "reconnect_backoff")
    cap = _positive_seconds(reconnect_backoff[1], "reconnect_backoff")
    if cap < initial:
        raise ValidationError(
            f"reconnect_backoff: the cap ({cap} s) is below the initial delay ({initial} s)",
            argument="reconnect_backoff",
        )
    return SessionSettings(
        read_timeout=_positive_seconds(read_timeout, "read_timeout"),
        backoff_initial=initial,
        backoff_max=cap,
    )


class Watcher:
    """Records status and job-state changes of deployments from their live streams.

    Args:
        client: a NosanaClient or AsyncNosanaClient with a signing wallet; the watcher opens its
            own asyncio client with the same options (it never uses yours, nor an injected
            http_client: pass a transport instead).
        deployments: a deployment id, a Deployment / AsyncDeployment, or an iterable of them.
        path: JSON-lines file to append rows to and to load earlier rows from. One watcher
            per file at a time.
        on_change: called with each new row (a copy), on the watcher's thread: keep it quick.
        reconnect_backoff: (initial, max) seconds between reconnect attempts; doubles per
            failed attempt, with jitter, and resets after a connection that delivered frames.
        read_timeout: seconds without any data (the service sends a heartbeat every 25 s)
            before the stream counts as stalled and is reopened.
        fsync: also fsync the file after every row (slower; survives power loss).

    Raises:
        ValidationError: a bad argument (no signing wallet, no deployment, a bad backoff,
            timeout, callback or flag), before anything starts.
    """

    def __init__(
        self,
        client: NosanaClient | AsyncNosanaClient,
        deployments: DeploymentRef | Iterable[DeploymentRef],
        *,
        path: str | os.PathLike[str] | None = None,
        on_change: Callable[[Row], None] | None = None,
        reconnect_backoff: tuple[float, float] = (0.5, 10.0),
        read_timeout: float = 60.0,
        fsync: bool = False,
    ) -> None:
        self._client = _checked_client(client)
        self._deployments = _deployment_ids(deployments)
        self._settings = _settings(reconnect_backoff, read_timeout)
        if on_change is not None and not callable(on_change):
            raise ValidationError("on_change must be callable or None", argument="on_change")
        if not isinstance(fsync, bool):
            raise ValidationError("fsync must be True or False", argument="fsync")
        journal = Journal(path, fsync=fsync) if path is not None else None
        self._path = None if journal is None else journal.path
        self._recorder = Recorder(list(self._deployments), journal)
        if on_change is not None:
            self._recorder.subscribe(on_change)
        self._control = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def deployments(self) -> tuple[str, ...]:
        """The ids of the watched deployments."""
        return self._deployments

    @property
    def path(self) -> Path | None:
        """The JSON-lines file rows are appended to, if any."""
        return self._path

    @property
    def is_running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> Watcher:
        """Start watching in a background thread; returns at once. No-op if already running.

        Returns:
            The watcher itself (``watcher = Watcher(...).start()``).
        """
        with self._control:
            if self.is_running:
                return self
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._main = loop.create_task(self._watch_all())
            for deployment in self._deployments:
                self._recorder.set_status(deployment, state="connecting")
            self._thread = threading.Thread(
                target=self._run_loop, args=(loop, self._main), name="nosana-watch", daemon=True
            )
            self._thread.start()
            _running.add(self)
        return self

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Close the streams and join the thread. Idempotent; safe before ``start()``.

        Args:
            timeout: seconds to wait for the thread to end.
        """
        with self._control:
            thread, loop, main = self._thread, self._loop, self._main
            if thread is None or loop is None or main is None:
                return
            with suppress(RuntimeError):  # the loop already finished and closed
                loop.call_soon_threadsafe(main.cancel)
            if thread is threading.current_thread():
                return  # stop() from an on_change callback: the loop winds down by itself
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"the watcher thread did not stop within {timeout} s")
            self._thread = self._loop = self._main = None
            _running.discard(self)
        for deployment in self._deployments:
            if self._recorder.statuses()[deployment].state != "failed":
                self._recorder.set_status(deployment, state="stopped")
        self._recorder.close()

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run_loop(self, loop: asyncio.AbstractEventLoop, main: asyncio.Task[None]) -> None:
        asyncio.set_event_loop(loop)
        try:
            with suppress(asyncio.CancelledError):
                loop.run_until_complete(main)
            loop.run_until_complete(loop.shutdown_asyncgens())
        except Exception as err:  # sessions catch their own errors; this is a last resort
            logger.exception("the watcher thread failed")
            for deployment in self._deployments:
                self._recorder.set_status(deployment, state="failed", last_error=str(err))
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    async def _watch_all(self) -> None:
        client = _watch_client(self._client)
        clock = _service_time(client)
        sessions = [
            DeploymentSession(
                d,
                self._recorder,
                self._settings,
                clock=clock,
                clock_floor=lambda when: client.service_clock.at_least(when.timestamp()),
            )
            for d in self._deployments
        ]
        try:
            async with asyncio.TaskGroup() as group:
                for session in sessions:
                    group.create_task(session.run(client), name=f"watch {session.deployment}")
        finally:
            await client.aclose()

    # --- reading ------------------------------------------------------------------------------

    @property
    def rows(self) -> list[Row]:
        """Every recorded row so far (copies), in the order they were recorded."""
        return self._recorder.rows()

    @property
    def status(self) -> dict[str, WatchStatus]:
        """Connection status per deployment."""
        return self._recorder.statuses()

    def subscribe(self, callback: RowCallback) -> Callable[[], None]:
        """Call ``callback(row)`` for every new row (on the watcher thread).

        Args:
            callback: called with each new row (a copy); keep it quick.

        Returns:
            A function that unsubscribes it.

        Raises:
            ValidationError: ``callback`` is not callable.
        """
        if not callable(callback):
            raise ValidationError("callback must be callable", argument="callback")
        return self._recorder.subscribe(callback)

    def wait_until(self, predicate: Callable[[list[Row]], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate(rows)`` holds (checked after each new row); False on timeout.

        Blocks the calling thread: in a notebook prefer ``on_change`` or the live figures.

        Args:
            predicate: called with every row recorded so far.
            timeout: seconds to wait at most.

        Returns:
            True once the predicate holds; False on timeout.
        """
        timeout = _positive_seconds(timeout, "timeout")
        recorder = self._recorder
        return recorder.wait_for(lambda: bool(predicate(recorder.rows_unlocked())), timeout)

    def wait_connected(self, timeout: float = 10.0, *, connects: int = 1) -> bool:
        """Block until every stream has (re)connected ``connects`` times or failed.

        Args:
            timeout: seconds to wait at most.
            connects: how many connections each stream must have made.

        Returns:
            True when all of them reached ``connects`` (snapshot seen, gap reconciled).
        """
        timeout = _positive_seconds(timeout, "timeout")
        statuses = self._recorder.statuses_unlocked

        def settled() -> bool:
            return all(s.connects >= connects or s.state == "failed" for s in statuses().values())

        self._recorder.wait_for(settled, timeout)
        return all(s.connects >= connects for s in self.status.values())

    def to_dataframe(self) -> pd.DataFrame:
        """The status history: segments per deployment.

        Returns:
            A ``status_history`` frame.
        """
        from nosana_nb.frames import status_history_dataframe

        return status_history_dataframe(self.rows)

    def jobs_history(self) -> pd.DataFrame:
        """Job state transitions, oldest first.

        Returns:
            A frame with columns time, deployment, job, state, node, source.
        """
        from nosana_nb.watch._frames import jobs_history_frame

        return jobs_history_frame(self.rows)

    def job_records(self) -> list[dict[str, Any]]:
        """One jobs-list-shaped record per job seen (for ``frames.jobs_dataframe``/``plots``).

        ``created_at`` is when the job was seen QUEUED, ``time_start``/``time_end`` (unix
        seconds) when it was seen RUNNING / finished; ``state`` is the furthest state seen.

        Returns:
            The records, one per job.
        """
        from nosana_nb.watch._frames import job_records

        return job_records(self.rows)

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        names = ", ".join(self._deployments)
        return f"Watcher([{names}], rows={len(self._recorder.rows())}, {state})"
