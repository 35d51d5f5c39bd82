"""Notifiers: the logging module and a webhook (JSON POST, retried, with a timeout).

A plain callable is a notifier too, and ``nosana_nb.widgets.AlertToast`` shows alerts in the
notebook. A notifier that raises is logged and skipped; it never stops the watcher or the
other notifiers.

The webhook's URL carries its token (Slack, Discord): it lives in a :class:`_SecretURL` whose
repr shows the host only, every error raised about a delivery names that redacted form, and
httpx's own "HTTP Request: POST <url>" log line is rewritten by a filter on the ``httpx``
logger before any handler sees it.
"""

from __future__ import annotations

import logging
import math
import threading
import weakref
from collections import deque
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from nosana_nb.core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    NosanaError,
    ValidationError,
)
from nosana_nb.core.retry_policy import Backoff, Retrier, Sleeper
from nosana_nb.watch._alert_events import AlertEvent

__all__ = ["LogNotifier", "WebhookNotifier", "WebhookStyle"]

WebhookStyle = Literal["json", "slack", "discord"]
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
DISCORD_LIMIT = 2000
_COLORS = {"critical": 0xD32F2F, "warning": 0xF57C00, "resolved": 0x2E7D32}


class LogNotifier:
    """Writes each alert to a logger: fired at ``level``, resolved at INFO.

    Args:
        logger: a ``logging.Logger`` or a logger name (default "nosana_nb.alerts").
        level: the level of "fired" events (default WARNING; critical rules log at ERROR).

    Raises:
        ValidationError: a logger that is neither a Logger nor a name, or an unknown level.
    """

    def __init__(
        self, logger: logging.Logger | str = "nosana_nb.alerts", level: int = logging.WARNING
    ) -> None:
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        if not isinstance(logger, logging.Logger):
            raise ValidationError("logger must be a logging.Logger or a name", argument="logger")
        if type(level) is not int or logging.getLevelName(level).startswith("Level "):
            raise ValidationError(f"level must be a logging level; got {level!r}", argument="level")
        self.logger = logger
        self.level = level

    def notify(self, event: AlertEvent) -> None:
        """Log ``event``.

        Args:
            event: the alert that fired or resolved.
        """
        if event.kind == "resolved":
            level = logging.INFO
        else:
            level = max(self.level, logging.ERROR) if event.severity == "critical" else self.level
        self.logger.log(level, "%s", event.title, extra={"alert": event.to_json()})

    def __repr__(self) -> str:
        return f"LogNotifier({self.logger.name!r}, level={logging.getLevelName(self.level)})"


class _SecretURL:
    """A URL that never shows more than its scheme and host."""

    __slots__ = ("__weakref__", "_value", "redacted")

    def __init__(self, value: str) -> None:
        self._value = value
        parts = urlsplit(value)
        self.redacted = f"{parts.scheme}://{parts.hostname}/…"

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return self.redacted

    __str__ = __repr__


class _SecretHeaders:
    """Extra request headers (an authorization header, say) that never show."""

    __slots__ = ("_value",)

    def __init__(self, value: Mapping[str, str]) -> None:
        self._value = dict(value)

    def reveal(self) -> dict[str, str]:
        return self._value

    def __repr__(self) -> str:
        return f"<{len(self._value)} headers>"


class _RedactWebhookURLs(logging.Filter):
    """Rewrites log records of the ``httpx`` logger that carry a webhook URL."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: weakref.WeakSet[_SecretURL] = weakref.WeakSet()

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = list(self.secrets)
        if not secrets or not isinstance(record.args, tuple):
            return True  # httpx logs with positional arguments
        cleaned = []
        for arg in record.args:
            text = str(arg)
            for secret in secrets:
                if secret.reveal() in text:
                    text = text.replace(secret.reveal(), secret.redacted)
                    arg = text
            cleaned.append(arg)
        record.args = tuple(cleaned)
        return True


_REDACTOR = _RedactWebhookURLs()
logging.getLogger("httpx").addFilter(_REDACTOR)


def _check_url(url: Any) -> _SecretURL:
    if isinstance(url, _SecretURL):
        return url
    if not isinstance(url, str):
        raise ValidationError(
            f"url must be an http(s) URL string; got {type(url).__name__}", argument="url"
        )
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise ValidationError("url is not a valid URL", argument="url") from None
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # the text is not echoed: it may carry a token
        raise ValidationError(
            "url must be an absolute http:// or https:// URL with a host", argument="url"
        )
    if any(ch.isspace() for ch in url.strip()) or len(url) > 4096:
        raise ValidationError(
            "url must not contain spaces and be at most 4096 characters", argument="url"
        )
    return _SecretURL(url.strip())


def _positive(value: Any, argument: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{argument} must be seconds (int or float)", argument=argument)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero) or value > 3600:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValidationError(
            f"{argument} must be finite, {bound} and at most 3600 s", argument=argument
        )
    return float(value)


def webhook_payload(event: AlertEvent, style: WebhookStyle) -> dict[str, Any]:
    """The JSON body for ``event`` in ``style``.

    Args:
        event: the alert.
        style: "json" (the event's fields), "slack" (``text`` and a colored attachment) or
            "discord" (``content`` and an embed).

    Returns:
        A JSON-safe dict.
    """
    color = _COLORS["resolved" if event.kind == "resolved" else event.severity]
    if style == "slack":
        return {
            "text": event.title,
            "attachments": [
                {
                    "color": f"#{color:06x}",
                    "fields": [
                        {"title": "rule", "value": event.rule, "short": True},
                        {
                            "title": "at (UTC)",
                            "value": f"{event.at:%Y-%m-%d %H:%M:%S}",
                            "short": True,
                        },
                    ],
                }
            ],
        }
    if style == "discord":
        return {
            "content": event.title[:DISCORD_LIMIT],
            "embeds": [
                {
                    "title": event.rule[:256],
                    "description": event.message[:4096],
                    "color": color,
                    "timestamp": event.at.isoformat(),
                }
            ],
        }
    return {"alert": event.to_json()}


class WebhookNotifier:
    """POSTs each alert as JSON to a URL, from its own thread, with retries and a timeout.

    ``notify`` only queues the event and returns at once; a background thread delivers in
    order. Failures that may heal (a timeout, a refused or broken connection, HTTP 408, 425,
    429 or 5xx) are retried through the package's retry policy with exponential backoff
    (honouring ``Retry-After``); other answers are final. A delivery that still fails is
    counted in :attr:`failed` and logged with the URL's host only.

    Args:
        url: the endpoint; its path and query (which carry tokens) are never shown.
        style: "json", "slack" (Slack incoming webhooks) or "discord" (Discord webhooks).
        timeout: seconds for each attempt (connect, read, write).
        max_retries: retries after the first attempt.
        backoff_factor: retry n waits about ``backoff_factor * 2**n`` seconds.
        headers: extra request headers (e.g. an authorization header; never shown either).
        sleeper: how retries wait (tests pass one that does not sleep).

    Raises:
        ValidationError: a URL that is not absolute http(s), an unknown style, a timeout or
            backoff that is not a positive finite number, or a negative retry count.
    """

    def __init__(
        self,
        url: str,
        *,
        style: WebhookStyle = "json",
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff_factor: float = 0.5,
        headers: Mapping[str, str] | None = None,
        sleeper: Sleeper | None = None,
    ) -> None:
        self._url = _check_url(url)
        if style not in ("json", "slack", "discord"):
            raise ValidationError(
                f"style must be 'json', 'slack' or 'discord'; got {style!r}", argument="style"
            )
        if type(max_retries) is not int or not 0 <= max_retries <= 20:
            raise ValidationError("max_retries must be an int from 0 to 20", argument="max_retries")
        if headers is not None and not (
            isinstance(headers, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        ):
            raise ValidationError("headers must map strings to strings", argument="headers")
        self.style: WebhookStyle = style
        self.timeout = _positive(timeout, "timeout")
        self._backoff = Backoff(
            max_retries=max_retries,
            factor=_positive(backoff_factor, "backoff_factor", allow_zero=True),
            cap=30.0,
            total_cap=None,
            unreachable_retries=None,
        )
        self._headers = _SecretHeaders(headers or {})
        self._sleeper = sleeper
        _REDACTOR.secrets.add(self._url)
        self._cond = threading.Condition()
        self._queue: deque[AlertEvent] = deque()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._closed = False
        self.delivered = 0
        """Events delivered (a 2xx answer)."""
        self.failed = 0
        """Events given up on after the retries."""
        self.attempts = 0
        """POSTs sent, retries included."""
        self.last_error: str | None = None
        """The latest failure, with the URL redacted."""

    def notify(self, event: AlertEvent) -> None:
        """Queue ``event`` for delivery; returns at once.

        Args:
            event: the alert that fired or resolved.
        """
        with self._cond:
            if self._closed:
                return
            self._queue.append(event)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._deliver_all, name="nosana-webhook", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued event was delivered or given up on.

        Args:
            timeout: seconds to wait at most.

        Returns:
            True when nothing is left to send.
        """
        wait = _positive(timeout, "timeout")
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, wait)

    def close(self) -> None:
        """Stop delivering; queued events that were not sent yet are dropped."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()

    def _deliver_all(self) -> None:
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as http:
            while True:
                with self._cond:
                    if not self._cond.wait_for(lambda: self._queue or self._closed, 60.0):
                        self._thread = None  # idle: the next notify starts a new thread
                        return
                    if self._closed:
                        return
                    event = self._queue.popleft()
                    self._busy = True
                try:
                    self._deliver(http, event)
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()

    def _deliver(self, http: httpx.Client, event: AlertEvent) -> None:
        body = webhook_payload(event, self.style)
        retrier = Retrier(
            self._backoff, retry_on=_worth_retrying, sleeper=self._sleeper, what="a webhook POST"
        )
        try:
            retrier.call(lambda: self._post(http, body))
        except NosanaError as err:
            self.failed += 1
            self.last_error = str(err)
            logging.getLogger("nosana_nb.watch.alerts").error(
                "webhook %s: giving up on %r after %d retries: %s",
                self._url.redacted,
                event.rule,
                retrier.retries,
                err,
            )
            return
        except Exception as err:  # a bug must not kill the delivery thread
            self.failed += 1
            self.last_error = type(err).__name__
            logging.getLogger("nosana_nb.watch.alerts").error(
                "webhook %s: delivery failed (%s)", self._url.redacted, type(err).__name__
            )
            return
        self.delivered += 1

    def _post(self, http: httpx.Client, body: dict[str, Any]) -> None:
        self.attempts += 1
        where = self._url.redacted
        try:
            reply = http.post(self._url.reveal(), json=body, headers=self._headers.reveal())
        except httpx.TimeoutException:
            raise APITimeoutError(
                f"POST {where} timed out after {self.timeout:g} s", method="POST", url=where
            ) from None
        except httpx.TransportError as err:
            raise APIConnectionError(
                f"POST {where} failed: {type(err).__name__}", method="POST", url=where
            ) from None
        if reply.is_success:
            return
        raise APIStatusError(
            f"POST {where} answered HTTP {reply.status_code}",
            method="POST",
            url=where,
            status_code=reply.status_code,
            body=None,
            error_text="",
            retry_after=reply.headers.get("retry-after"),
        )

    def __repr__(self) -> str:
        return (
            f"WebhookNotifier({self._url.redacted!r}, style={self.style!r}, "
            f"delivered={self.delivered}, failed={self.failed})"
        )


def _worth_retrying(failure: BaseException) -> bool:
    if isinstance(failure, APIStatusError):
        return failure.status_code in RETRY_STATUSES
    return isinstance(failure, APIConnectionError)
