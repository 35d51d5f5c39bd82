"""What every nosana_nb widget shares: background operations, a status area, theme-aware styles.

A widget never blocks the kernel: loading data and long operations run through
:class:`TaskRunner` on worker threads (a private event loop for coroutines), disable their buttons
while in flight, can be cancelled, and end as widget values (``last_result`` / ``last_error``)
shown in a :class:`StatusArea`. Those two traits are not synced to the browser, so a notebook
saved with widget state holds neither (nor anything else the client knows).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import html
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

import ipywidgets as widgets
import traitlets

from nosana_nb.core.errors import InsufficientCreditsError, OperationCancelled

__all__ = [
    "CancelToken",
    "NosanaWidget",
    "Operation",
    "OperationCancelled",
    "StatusArea",
    "TaskRunner",
    "badge_html",
    "status_color",
]

logger = logging.getLogger("nosana_nb.widgets")

T = TypeVar("T")

# the web dashboard's palette (same hexes as nosana_nb.plots), readable on light and dark themes
STATUS_COLORS = {
    "DRAFT": "#FFB800",
    "STARTING": "#0066FF",
    "RUNNING": "#0066FF",
    "STOPPING": "#363636",
    "STOPPED": "#363636",
    "INSUFFICIENT_FUNDS": "#FF4D4F",
    "ERROR": "#FF4D4F",
    "ARCHIVED": "#363636",
    "QUEUED": "#FFB800",
    "COMPLETED": "#04DE00",
}
_DARK_TEXT_ON = {"#FFB800", "#04DE00"}


def status_color(status: str) -> str:
    """The dashboard colour of a deployment status or job state (grey when unknown)."""
    return STATUS_COLORS.get(str(status).upper(), "#B5B5B5")


def badge_html(status: str) -> str:
    """A coloured status pill; the text colour keeps contrast on both Jupyter themes."""
    color = status_color(status)
    text = "#1a1a1a" if color in _DARK_TEXT_ON else "#ffffff"
    label = html.escape(str(status))
    return (
        f'<span class="nosana-badge" style="background:{color};color:{text};'
        "padding:1px 8px;border-radius:9px;font-size:var(--jp-ui-font-size1,12px);"
        f'font-weight:600;white-space:nowrap" title="{label}">{label}</span>'
    )


class CancelToken:
    """Cooperative cancellation for work running on a thread: long loops call
    :meth:`raise_if_cancelled` (or wait with :meth:`sleep`) between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        self._event.set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise OperationCancelled("cancelled")

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of wall time, returning early (by raising) when cancelled."""
        if self._event.wait(max(0.0, seconds)):
            raise OperationCancelled("cancelled")


class Operation:
    """One background operation: its label, its future, and how to cancel it."""

    def __init__(self, label: str, future: concurrent.futures.Future[Any], token: CancelToken):
        self.label = label
        self.future = future
        self.token = token
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # set once the widget has shown the outcome, not merely when the work returned
        self.settled = threading.Event()

    def done(self) -> bool:
        return self.settled.is_set()

    def cancel(self) -> None:
        """Ask the operation to stop: a coroutine is cancelled, a thread sees its token."""
        self.token.cancel()
        if self._loop is not None:
            # on the loop's thread: the task is bound there before its work starts
            self._loop.call_soon_threadsafe(self._cancel_task)

    def _cancel_task(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def result(self, timeout: float | None = None) -> Any:
        return self.future.result(timeout)

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"Operation({self.label!r}, {state})"


class _LoopThread:
    """One private asyncio loop on a daemon thread, shared by every widget of the process, so
    async work never touches (or needs) the kernel's loop and works under ``nest_asyncio``."""

    _lock = threading.Lock()
    _instance: _LoopThread | None = None

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="nosana-nb-widgets-loop", daemon=True
        )
        self.thread.start()

    @classmethod
    def get(cls) -> _LoopThread:
        with cls._lock:
            if cls._instance is None or not cls._instance.thread.is_alive():
                cls._instance = cls()
            return cls._instance


_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="nosana-nb-w")


class TaskRunner:
    """Runs callables on worker threads and coroutines on the private loop; keeps what is in
    flight so a widget (and a test) can wait for it or cancel it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: list[Operation] = []

    @property
    def running(self) -> list[Operation]:
        with self._lock:
            return [op for op in self._running if not op.done()]

    def submit(
        self,
        label: str,
        work: Callable[[CancelToken], T] | Callable[[CancelToken], Coroutine[Any, Any, T]],
        *,
        on_done: Callable[[Operation], None] | None = None,
    ) -> Operation:
        """Start ``work(token)``; ``on_done(operation)`` runs when it ends, however it ends."""
        token = CancelToken()
        if asyncio.iscoroutinefunction(work):
            runner = _LoopThread.get()
            holder: list[Operation] = []

            async def start() -> Any:
                operation = holder[0]
                operation._task = asyncio.current_task()
                token.raise_if_cancelled()
                return await work(token)

            operation = Operation(label, concurrent.futures.Future(), token)
            operation._loop = runner.loop
            holder.append(operation)
            operation.future = asyncio.run_coroutine_threadsafe(start(), runner.loop)
            future = operation.future
        else:
            future = _EXECUTOR.submit(work, token)
            operation = Operation(label, future, token)
        with self._lock:
            self._running = [op for op in self._running if not op.done()] + [operation]

        def settle(_future: concurrent.futures.Future[Any]) -> None:
            try:
                if on_done is not None:
                    _safe_call(on_done, operation)
            finally:
                operation.settled.set()

        future.add_done_callback(settle)
        return operation

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until everything in flight has finished (for scripts and tests)."""
        for operation in self.running:
            if not operation.settled.wait(timeout):
                raise TimeoutError(f"{operation.label} still running after {timeout} s")

    def cancel_all(self) -> None:
        for operation in self.running:
            operation.cancel()


def _safe_call(callback: Callable[[Operation], None], operation: Operation) -> None:
    try:
        callback(operation)
    except Exception:  # a display callback must never kill the worker thread silently
        logger.exception("widget callback for %s failed", operation.label)


def describe_error(error: BaseException) -> str:
    """One line for a status area: the typed error's class and its (secret-free) message."""
    if isinstance(error, OperationCancelled):
        return "Cancelled."
    if isinstance(error, concurrent.futures.CancelledError | asyncio.CancelledError):
        return "Cancelled."
    if isinstance(error, InsufficientCreditsError):
        return error.describe()  # the service's text names amounts but not what to do
    return f"{type(error).__name__}: {error}"


class StatusArea(widgets.HTML):
    """A one-line status under a form: busy, success or error, coloured for both themes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(value="", **kwargs)
        self.add_class("nosana-status")

    def busy(self, text: str) -> None:
        self.value = self._line("⏳", text, "var(--jp-ui-font-color2, #616161)")

    def ok(self, text: str) -> None:
        self.value = self._line("✓", text, "var(--jp-success-color1, #2e7d32)")

    def error(self, text: str) -> None:
        self.value = self._line("✗", text, "var(--jp-error-color1, #d32f2f)")

    def info(self, text: str) -> None:
        self.value = self._line("", text, "var(--jp-ui-font-color1, #212121)")

    def clear(self) -> None:
        self.value = ""

    @staticmethod
    def _line(mark: str, text: str, color: str) -> str:
        body = html.escape(text)
        prefix = f"{mark} " if mark else ""
        return f'<div role="status" style="color:{color};white-space:pre-wrap">{prefix}{body}</div>'


class NosanaWidget(widgets.VBox):
    """Base of every nosana_nb widget: takes a client, runs work in the background, reports.

    ``last_result`` / ``last_error`` hold the outcome of the latest operation (the typed
    exception, not a string); ``busy`` is True while something runs. None of them is synced
    to the browser.
    """

    last_result = traitlets.Any(None)
    last_error = traitlets.Any(None)
    busy = traitlets.Bool(False)

    def __init__(self, client: Any, children: Iterable[widgets.Widget] = (), **kwargs: Any):
        super().__init__(children=list(children), **kwargs)
        self.add_class("nosana-widget")
        self._client = client
        self._tasks = TaskRunner()
        self.status = StatusArea()

    @property
    def client(self) -> Any:
        """The client the widget talks to."""
        return self._client

    def run(
        self,
        label: str,
        work: Callable[[CancelToken], Any],
        *,
        disable: Iterable[widgets.Widget] = (),
        on_success: Callable[[Any], None] | None = None,
        success_text: Callable[[Any], str] | str | None = None,
    ) -> Operation:
        """Run ``work(token)`` in the background with ``disable`` greyed out meanwhile; the
        outcome lands in ``last_result`` / ``last_error`` and the status area.

        Args:
            label: what is running, shown in the status area.
            work: the work; it checks ``token`` to stop early when cancelled.
            disable: widgets greyed out while it runs.
            on_success: called with the result (on the worker thread).
            success_text: the status text after success (or a function of the result).

        Returns:
            The operation (its future, label and cancel token).
        """
        to_disable = [w for w in disable if not getattr(w, "disabled", False)]
        for widget in to_disable:
            widget.disabled = True
        self.busy = True
        self.status.busy(f"{label}…")

        def finished(operation: Operation) -> None:
            try:
                error = operation.future.exception()
            except concurrent.futures.CancelledError:
                error = OperationCancelled("cancelled")
            if isinstance(error, asyncio.CancelledError):
                error = OperationCancelled("cancelled")
            if error is None:
                result = operation.future.result()
                self.last_error = None
                self.last_result = result
                if on_success is not None:
                    on_success(result)
                text = success_text(result) if callable(success_text) else success_text
                self.status.ok(text or f"{label}: done.")
            else:
                self.last_error = error
                self.status.error(describe_error(error))
            for widget in to_disable:
                widget.disabled = False
            self.busy = any(op is not operation for op in self._tasks.running)
            self._after_operation()

        return self._tasks.submit(label, work, on_done=finished)

    def _after_operation(self) -> None:
        """Hook: re-evaluate what is enabled once an operation ends."""

    def wait(self, timeout: float | None = 30.0) -> Any:
        """Wait for every background operation (loading included); returns ``last_result``.

        For scripts and tests; a notebook never needs to call it.

        Args:
            timeout: seconds to wait at most; None waits as long as it takes.

        Returns:
            ``last_result``.
        """
        self._tasks.wait(timeout)
        return self.last_result

    def cancel(self) -> None:
        """Cancel whatever this widget is running."""
        self._tasks.cancel_all()

    def close(self) -> None:
        """Cancel what runs, stop background updates and close the widget and its children."""
        self.cancel()
        super().close()
