"""Live ``FigureWidget``s that redraw as a :class:`~nosana_nb.watch.Watcher` records rows.

    watcher = Watcher(client, deployment).start()
    live_status_history(watcher)        # a go.FigureWidget; display it in a cell
    live_job_timeline(watcher)

The figures are built by the pure builders of :mod:`nosana_nb.plots` and copied into the widget
inside ``batch_update`` (one message to the browser per redraw). Redraws are throttled to at
most one per ``min_interval`` seconds; the last change of a burst is always drawn. Redraws run
on a short-lived timer thread, never on the kernel's or the watcher's.
Nothing here runs at import: widgets exist only once a function is called.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nosana_nb.core.errors import ValidationError
from nosana_nb.watch import Watcher

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["DEFAULT_MIN_INTERVAL", "detach", "live_job_timeline", "live_status_history"]

logger = logging.getLogger("nosana_nb.widgets.live")

DEFAULT_MIN_INTERVAL = 0.5
"""Seconds between redraws: a burst of rows (a snapshot, a reconcile) becomes one redraw."""

_bindings: dict[int, _LiveBinding] = {}
_bindings_lock = threading.Lock()


def _check(watcher: Any, min_interval: Any) -> float:
    if not isinstance(watcher, Watcher):
        raise ValidationError(
            f"watcher must be a nosana_nb.watch.Watcher; got {type(watcher).__name__}",
            argument="watcher",
        )
    if isinstance(min_interval, bool) or not isinstance(min_interval, int | float):
        raise ValidationError("min_interval must be seconds (>= 0)", argument="min_interval")
    if not 0 <= min_interval < float("inf"):
        raise ValidationError("min_interval must be finite and >= 0", argument="min_interval")
    return float(min_interval)


def _same_traces(widget: go.FigureWidget, figure: go.Figure) -> bool:
    old, new = widget.data, figure.data
    return len(old) == len(new) and all(
        a.type == b.type and a.name == b.name for a, b in zip(old, new, strict=True)
    )


def copy_into(widget: go.FigureWidget, figure: go.Figure) -> None:
    """Make ``widget`` show ``figure``: traces updated in place when the set is unchanged."""
    with widget.batch_update():
        if _same_traces(widget, figure):
            for old, new in zip(widget.data, figure.data, strict=True):
                old.update(new.to_plotly_json(), overwrite=True)
        else:
            widget.data = []
            widget.add_traces(list(figure.data))
        widget.layout = figure.layout


class _LiveBinding:
    """Redraws one widget from the watcher's rows, throttled; ends when the widget is gone."""

    def __init__(
        self,
        widget: go.FigureWidget,
        build: Callable[[], go.Figure],
        min_interval: float,
    ) -> None:
        self._widget = weakref.ref(widget)
        self._build = build
        self._min_interval = min_interval
        self._lock = threading.Lock()
        self._draw_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._last_draw = 0.0
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False

    def attach(self, unsubscribe: Callable[[], None]) -> None:
        self._unsubscribe = unsubscribe

    def on_row(self, row: dict[str, Any]) -> None:
        with self._lock:
            if self._closed or self._timer is not None:
                return  # the pending redraw will include this row
            wait = self._last_draw + self._min_interval - time.monotonic()
            # drawn on a timer thread: building a figure must not hold up the watcher
            self._timer = threading.Timer(max(0.0, wait), self._fire)
            self._timer.name = "nosana-live-redraw"
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.redraw()
        except Exception:
            logger.exception("redrawing a live figure failed")

    def redraw(self) -> None:
        widget = self._widget()
        if widget is None:
            self.close()
            return
        with self._draw_lock:
            self._last_draw = time.monotonic()
            copy_into(widget, self._build())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if timer is not None:
            timer.cancel()
        if unsubscribe is not None:
            unsubscribe()


def _forget(key: int) -> None:
    with _bindings_lock:
        binding = _bindings.pop(key, None)
    if binding is not None:
        binding.close()


def _live(watcher: Watcher, build: Callable[[], go.Figure], min_interval: float) -> go.FigureWidget:
    import plotly.graph_objects as go  # anywidget/ipywidgets load only when a widget is made

    widget = go.FigureWidget(build())
    binding = _LiveBinding(widget, build, min_interval)
    key = id(widget)
    with _bindings_lock:
        _bindings[key] = binding
    weakref.finalize(widget, _forget, key)
    binding.attach(watcher.subscribe(binding.on_row))
    return widget


def detach(widget: go.FigureWidget) -> None:
    """Stop updating ``widget`` (it keeps what it shows). Unknown widgets are ignored.

    Args:
        widget: a figure from :func:`live_status_history` or :func:`live_job_timeline`.
    """
    _forget(id(widget))


def live_status_history(
    watcher: Watcher,
    *,
    min_interval: float = DEFAULT_MIN_INTERVAL,
    template: Any = None,
    title: str = "Deployment status over time",
) -> go.FigureWidget:
    """Status segments per deployment (``plots.plot_status_history``), kept up to date.

    Args:
        watcher: the running ``Watcher`` to follow.
        min_interval: seconds between redraws at most (changes in between are batched).
        template: a plotly template.
        title: the chart's title.

    Returns:
        A ``FigureWidget`` that redraws as the watcher records; ``detach`` stops it.
    """
    interval = _check(watcher, min_interval)
    from nosana_nb.plots import plot_status_history

    def build() -> go.Figure:
        return plot_status_history(watcher.to_dataframe(), template=template, title=title)

    return _live(watcher, build, interval)


def live_job_timeline(
    watcher: Watcher,
    *,
    min_interval: float = DEFAULT_MIN_INTERVAL,
    template: Any = None,
    title: str = "Jobs per replica slot",
) -> go.FigureWidget:
    """Jobs per replica slot coloured by state (``plots.plot_job_timeline``), kept up to date.

    Args:
        watcher: the running ``Watcher`` to follow.
        min_interval: seconds between redraws at most (changes in between are batched).
        template: a plotly template.
        title: the chart's title.

    Returns:
        A ``FigureWidget`` that redraws as the watcher records; ``detach`` stops it.
    """
    interval = _check(watcher, min_interval)
    from nosana_nb.plots import plot_job_timeline

    def build() -> go.Figure:
        return plot_job_timeline(watcher.job_records(), template=template, title=title)

    return _live(watcher, build, interval)
