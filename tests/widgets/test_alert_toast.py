"""The alert toast driven headless: cards newest first, the active count, the limit, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.watch import AlertEvent
from nosana_nb.widgets import AlertToast

AT = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
DEP = "Dep1oyment1111111111111111111111111111111111"


def event(
    kind: str, key: str, message: str = "deployment is ERROR", minutes: int = 0
) -> AlertEvent:
    return AlertEvent(
        kind="fired" if kind == "fired" else "resolved",
        rule="status ERROR",
        rule_kind="status",
        key=key,
        message=message,
        severity="critical",
        at=AT + timedelta(minutes=minutes),
        started_at=AT,
        deployment=DEP,
    )


def test_cards_are_newest_first_and_the_active_count_follows() -> None:
    toast = AlertToast(limit=2)
    assert "No alerts yet." in toast.cards.value
    toast.notify(event("fired", "a", "first <b>bold</b>"))
    toast(event("fired", "b", "second"))  # a toast is a callable notifier too
    assert toast.active == 2
    assert "2 active" in toast.header.value
    toast.notify(event("resolved", "a", "first cleared", minutes=5))
    assert toast.active == 1
    cards = toast.cards.value
    assert cards.index("first cleared") < cards.index("second")
    assert "first &lt;b&gt;bold&lt;/b&gt;" not in cards  # beyond the limit of two
    assert "and 1 earlier" in cards
    assert len(toast.events) == 3
    toast.notify(event("resolved", "b", minutes=6))
    assert "all clear" in toast.header.value
    toast.clear_button.click()
    assert "No alerts yet." in toast.cards.value
    assert len(toast.events) == 4


def test_markup_in_a_message_is_escaped() -> None:
    toast = AlertToast()
    toast.notify(event("fired", "a", "<script>alert(1)</script>"))
    assert "<script>" not in toast.cards.value
    assert "&lt;script&gt;" in toast.cards.value


def test_the_events_are_not_in_the_saved_widget_state() -> None:
    toast = AlertToast()
    toast.notify(event("fired", "a", "kept in the kernel"))
    state = json.dumps(toast.get_state(), default=str)
    assert "events" not in toast.get_state()
    assert "kept in the kernel" not in state  # only the rendered cards, in the child HTML


@pytest.mark.parametrize("limit", [0, -1, 51, 2.5, True, "5"])
def test_bad_limits_are_refused(limit: object) -> None:
    with pytest.raises(ValidationError, match="limit"):
        AlertToast(limit=limit)  # type: ignore[arg-type]


def test_only_alert_events_are_shown() -> None:
    toast = AlertToast()
    with pytest.raises(ValidationError, match="AlertEvent"):
        toast.notify({"kind": "fired"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="title"):
        AlertToast(title=None)  # type: ignore[arg-type]
