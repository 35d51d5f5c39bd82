"""A notebook toast for alerts: a stack of cards, newest first, that a watcher's alert rules feed.

    toast = AlertToast()
    watcher.alerts.add(StatusAlert(), notify=toast)
    toast                                 # display it; cards appear as alerts fire and resolve

``notify`` is called on the watcher's thread; updating a widget's value from there reaches the
browser (ipywidgets syncs from any thread). The cards hold only what the alert said.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as widgets
import traitlets

from nosana_nb.core.errors import ValidationError
from nosana_nb.watch import AlertEvent

__all__ = ["AlertToast"]

_COLORS = {
    "critical": "var(--jp-error-color1, #d32f2f)",
    "warning": "var(--jp-warn-color1, #f57c00)",
    "resolved": "var(--jp-success-color1, #2e7d32)",
}
_MARKS = {"critical": "●", "warning": "▲", "resolved": "✓"}
_MUTED = "var(--jp-ui-font-color2, #616161)"
_TEXT = "var(--jp-ui-font-color1, #212121)"
_CARD_BACKGROUND = "var(--jp-layout-color1, #ffffff)"


def _short(address: str | None) -> str:
    if not address:
        return ""
    return f"{address[:4]}…{address[-4:]}" if len(address) > 10 else address


def _card(event: AlertEvent) -> str:
    tone = "resolved" if event.kind == "resolved" else event.severity
    color = _COLORS.get(tone, _COLORS["warning"])
    state = (
        "Resolved" if event.kind == "resolved" else ("Alert" if tone == "critical" else "Warning")
    )
    where = " · ".join(
        part
        for part in (
            f"{event.at:%Y-%m-%d %H:%M:%S} UTC",
            f"deployment {_short(event.deployment)}" if event.deployment else "",
            f"job {_short(event.job)}" if event.job else "",
        )
        if part
    )
    return (
        f'<div class="nosana-toast nosana-toast-{tone}" role="status" '
        f'style="border:1px solid var(--jp-border-color2, #e0e0e0);border-left:5px solid {color};'
        f"border-radius:6px;background:{_CARD_BACKGROUND};padding:6px 10px;margin:0 0 6px 0;"
        'box-shadow:0 1px 3px rgba(0,0,0,0.12);line-height:1.35">'
        f'<div style="color:{color};font-weight:600">{_MARKS.get(tone, "●")} {state}: '
        f"{html.escape(event.rule)}</div>"
        f'<div style="color:{_TEXT};white-space:normal;overflow-wrap:anywhere">'
        f"{html.escape(event.message)}</div>"
        f'<div style="color:{_MUTED};font-size:var(--jp-ui-font-size0, 11px)">'
        f"{html.escape(where)}</div></div>"
    )


class AlertToast(widgets.VBox):
    """Alerts as toast cards in the notebook: newest on top, the latest ``limit`` shown.

    Pass it as a notifier: ``watcher.alerts.add(rule, notify=toast)``. ``events`` holds every
    event it was given (a widget value, not synced to the browser).

    Args:
        limit: how many cards to show at most (1 to 50).
        title: the heading above the cards.
        kwargs: passed on to ``ipywidgets.VBox`` (layout, ...).

    Raises:
        ValidationError: a limit that is not an int from 1 to 50, or a title that is not text.
    """

    events: traitlets.List[AlertEvent] = traitlets.List()
    active = traitlets.Int(0)
    """Alerts that fired and have not resolved, as far as this toast was told."""

    def __init__(self, *, limit: int = 5, title: str = "Alerts", **kwargs: Any) -> None:
        if type(limit) is not int or not 1 <= limit <= 50:
            raise ValidationError("limit must be an int from 1 to 50", argument="limit")
        if not isinstance(title, str):
            raise ValidationError("title must be a string", argument="title")
        self._limit = limit
        self._title = title
        self._lock = threading.Lock()
        self._open: set[tuple[str, str]] = set()
        self.header = widgets.HTML()
        self.clear_button = widgets.Button(
            description="Clear", tooltip="Remove the cards", layout=widgets.Layout(width="auto")
        )
        self.clear_button.on_click(lambda _button: self.clear())
        self.cards = widgets.HTML()
        top = widgets.HBox(
            [self.header, self.clear_button],
            layout=widgets.Layout(justify_content="space-between", align_items="center"),
        )
        super().__init__(
            [top, self.cards], layout=widgets.Layout(max_width="560px", width="100%"), **kwargs
        )
        self.add_class("nosana-alert-toast")
        self._render([])

    def notify(self, event: AlertEvent) -> None:
        """Show ``event`` as a card on top of the others.

        Args:
            event: the alert that fired or resolved.

        Raises:
            ValidationError: ``event`` is not an AlertEvent.
        """
        if not isinstance(event, AlertEvent):
            raise ValidationError(
                f"expected an AlertEvent, got {type(event).__name__}", argument="event"
            )
        with self._lock:
            key = (event.rule, event.key)
            if event.kind == "fired":
                self._open.add(key)
            else:
                self._open.discard(key)
            shown = [*self.events, event]
            self.events = shown
            self.active = len(self._open)
            self._render(shown)

    __call__ = notify

    def clear(self) -> None:
        """Remove the cards (the events stay in ``events``)."""
        with self._lock:
            self._render([])

    def _render(self, shown: list[AlertEvent]) -> None:
        latest = list(reversed(shown[-self._limit :]))
        hidden = len(shown) - len(latest)
        count = f"{self.active} active" if self.active else "all clear"
        self.header.value = (
            f'<span style="font-weight:600;color:{_TEXT}">{html.escape(self._title)}</span> '
            f'<span style="color:{_MUTED}">· {count}</span>'
        )
        if not latest:
            self.cards.value = f'<div style="color:{_MUTED};padding:4px 0">No alerts yet.</div>'
            return
        more = (
            f'<div style="color:{_MUTED};font-size:var(--jp-ui-font-size0, 11px)">'
            f"and {hidden} earlier</div>"
            if hidden
            else ""
        )
        self.cards.value = "".join(_card(e) for e in latest) + more

    def __repr__(self) -> str:
        return f"AlertToast(events={len(self.events)}, active={self.active})"
