"""The webhook notifier against a local HTTP receiver: payload styles, retries on HTTP 500 and on
a timeout, and a URL (which carries a token) that never shows."""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime

import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.watch import AlertEvent, WebhookNotifier, webhook_payload
from tests.watch.alert_helpers import TOKEN, WAIT, webhook_receiver

AT = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def event(
    kind: str = "fired", severity: str = "critical", message: str = "deployment is ERROR"
) -> AlertEvent:
    return AlertEvent(
        kind="fired" if kind == "fired" else "resolved",
        rule="status ERROR or INSUFFICIENT_FUNDS",
        rule_kind="status",
        key="Dep1oyment1111111111111111111111111111111111",
        message=message,
        severity=severity,
        at=AT,
        started_at=AT,
        deployment="Dep1oyment1111111111111111111111111111111111",
        details={"status": "ERROR"},
    )


def test_json_payloads_arrive_in_order() -> None:
    with webhook_receiver() as receiver:
        hook = WebhookNotifier(receiver.url)
        hook.notify(event())
        hook.notify(event("resolved"))
        assert hook.flush(WAIT)
        bodies = receiver.payloads()
        paths = list(receiver.paths)
    assert [b["alert"]["kind"] for b in bodies] == ["fired", "resolved"]
    assert bodies[0]["alert"]["at"] == "2026-12-05T10:00:00+00:00"
    assert bodies[0]["alert"]["details"] == {"status": "ERROR"}
    assert paths == [f"/hooks/{TOKEN}"] * 2
    assert (hook.delivered, hook.failed, hook.attempts) == (2, 0, 2)


def test_extra_headers_are_sent() -> None:
    with webhook_receiver() as receiver:
        hook = WebhookNotifier(receiver.url, headers={"Authorization": "Bearer hidden-value"})
        hook.notify(event())
        assert hook.flush(WAIT)
        (headers,) = receiver.headers
    assert headers["authorization"] == "Bearer hidden-value"
    assert headers["content-type"] == "application/json"
    assert "hidden-value" not in repr(hook) + str(vars(hook))


def test_slack_and_discord_payloads() -> None:
    slack = webhook_payload(event(), "slack")
    assert slack["text"].startswith("🔴 alert: status ERROR or INSUFFICIENT_FUNDS")
    assert slack["attachments"][0]["color"] == "#d32f2f"
    discord = webhook_payload(event("resolved", message="x" * 5000), "discord")
    assert len(discord["content"]) <= 2000
    (embed,) = discord["embeds"]
    assert embed["color"] == 0x2E7D32
    assert len(embed["description"]) == 4096
    assert embed["timestamp"] == "2026-12-05T10:00:00+00:00"
    warning = webhook_payload(event(severity="warning"), "discord")
    assert warning["embeds"][0]["color"] == 0xF57C00
    assert warning["content"].startswith("🟠")


def test_http_500_is_retried_until_it_gets_through() -> None:
    with webhook_receiver() as receiver:
        receiver.fail_first = 2
        hook = WebhookNotifier(receiver.url, style="discord", backoff_factor=0)
        hook.notify(event())
        assert hook.flush(WAIT)
        bodies = receiver.payloads()
        requests = receiver.requests
    assert requests == 3
    assert len(bodies) == 1
    assert (hook.delivered, hook.failed, hook.attempts) == (1, 0, 3)


def test_a_timeout_is_retried() -> None:
    with webhook_receiver() as receiver:
        receiver.stall_first, receiver.stall_seconds = 1, 3.0
        hook = WebhookNotifier(receiver.url, timeout=1.0, backoff_factor=0)
        started = time.monotonic()
        hook.notify(event())
        assert hook.flush(WAIT)
        took = time.monotonic() - started
        bodies = receiver.payloads()
    assert len(bodies) == 1
    assert (hook.delivered, hook.attempts) == (1, 2)
    assert took >= 1.0  # the first attempt waited out its timeout


def test_giving_up_after_the_retries_is_counted_and_logged_without_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with webhook_receiver() as receiver:
        receiver.fail_first = 100
        hook = WebhookNotifier(receiver.url, max_retries=2, backoff_factor=0)
        hook.notify(event())
        assert hook.flush(WAIT)
        requests = receiver.requests
    assert requests == 3
    assert (hook.delivered, hook.failed) == (0, 1)
    assert hook.last_error is not None
    assert "HTTP 500" in hook.last_error
    assert "giving up" in caplog.text
    for text in (caplog.text, hook.last_error, repr(hook), str(hook.__dict__)):
        assert TOKEN not in text


def test_notify_returns_at_once_while_a_delivery_hangs() -> None:
    with webhook_receiver() as receiver:
        receiver.stall_first, receiver.stall_seconds = 1, 2.0
        hook = WebhookNotifier(receiver.url, timeout=5.0)
        started = time.monotonic()
        hook.notify(event())
        hook.notify(event("resolved"))
        assert time.monotonic() - started < 1.0  # queued; the 2 s reply is waited for elsewhere
        assert hook.flush(WAIT)
    assert hook.delivered == 2


def test_close_drops_what_was_not_sent() -> None:
    hook = WebhookNotifier("http://127.0.0.1:9/hook")
    hook.close()
    hook.notify(event())
    assert hook.flush(1.0)
    assert (hook.delivered, hook.failed, hook.attempts) == (0, 0, 0)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "example.com/hook",
        "http:///nohost",
        "https://hooks.example.com/a b",
        "",
        "https://example.com:99999/x",
        f"https://hooks.example.com/{'x' * 5000}",
    ],
)
def test_bad_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookNotifier(url)
    assert caught.value.argument == "url"
    if len(url) > 12:
        assert url not in str(caught.value)


@pytest.mark.parametrize("url", [None, 42, b"https://example.com", ["https://example.com"]])
def test_a_url_that_is_not_a_string_is_refused(url: object) -> None:
    with pytest.raises(ValidationError, match="url must be"):
        WebhookNotifier(url)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("style", "teams"),
        ("timeout", 0),
        ("timeout", -1),
        ("timeout", math.nan),
        ("timeout", math.inf),
        ("timeout", True),
        ("timeout", "5"),
        ("max_retries", -1),
        ("max_retries", 1.5),
        ("max_retries", 1000),
        ("backoff_factor", -0.5),
        ("backoff_factor", math.nan),
        ("headers", {"x": 1}),
        ("headers", "Authorization: x"),
    ],
)
def test_bad_options_are_refused(option: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        WebhookNotifier("https://hooks.example.com/T/B/secret", **{option: value})  # type: ignore[arg-type]
    assert caught.value.argument == option


def test_the_repr_shows_the_host_only() -> None:
    hook = WebhookNotifier(
        f"https://hooks.slack.com/services/{TOKEN}?key=abc",
        style="slack",
        headers={"Authorization": "Bearer hidden-header-value"},
    )
    text = repr(hook) + str(vars(hook))
    assert "hooks.slack.com" in text
    assert TOKEN not in text
    assert "key=abc" not in text
    assert "hidden-header-value" not in text
