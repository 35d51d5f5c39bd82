"""Every retry decision nosana_nb makes, whatever the transport, and every default behind them.

One module answers, for the deployment manager's REST shell (default or injected httpx client),
the Solana JSON-RPC client, the watcher's stream session and the reconciliation of POSTs:

- **what failed, and could it have been applied?** (:func:`classify`)

  ``NOT_APPLIED``: nothing reached the service's handlers - the connection was refused, DNS
  failed, the connect timed out, or the service answered 408 or 429 (it gave up waiting for
  the request, or rate-limited it, before acting).
  Sending it again is safe for every method, POST included.

  ``TRANSIENT``: it may have been applied - the connection broke after the request left, the
  reply timed out or was cut off, the service or a proxy answered 502/503/504, or a 500
  whose text is one of the generic catch-alls in :data:`GENERIC_500_TEXTS`. Idempotent
  requests are sent again; a POST's outcome is *unknown* (:func:`outcome_unknown`) and the
  resources look for its effect before resending it.

  ``FINAL``: a definite answer - any other status, a domain error the service sends as 500
  (:data:`FINAL_500_ERRORS`: "Deployment is in the incorrect state.", "Cannot modify an
  archived deployment.", "Vault has no funds to withdraw."), a 500 naming a specific failure
  ("Failed to get deployment jobs": a bad cursor fails the same way every time), a reply that
  does not parse, a JSON-RPC error object, a refused argument.

- **how long to wait, and how often** (:class:`Backoff`): a refused connection or a name that
  does not resolve gets one quick retry (:data:`UNREACHABLE_RETRIES`), then fails at once;
  everything else exponential backoff with jitter from
  httpx-retries' ``Retry.backoff_strategy``, a server's ``Retry-After`` honoured (parsed by
  ``Retry.parse_retry_after``) up to a cap, and a cap on the total wait of one operation.

- **how long one request may take in all** (:class:`Deadline`): httpx's timeouts bound each
  read, so a server trickling a byte per read would hold a request for ever; every request
  (its retries and waits included) also has an overall deadline, by default
  :data:`DEADLINE_PER_TIMEOUT` times the longest of its timeouts.

- **the loop and the count** (:class:`Retrier`): one loop, sync and async, used by every
  shell; each retry it makes is added to the client's shared :class:`RetryCounter`, which is
  what ``client.retries_total`` reports (HTTP, RPC, stream reconnects, POST reconciliations).

Waiting goes through a :class:`Sleeper`, so tests drive retries with a manual clock instead of
sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeVar

import httpx
from httpx_retries import Retry

from nosana_nb.core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    DeadlineExceededError,
    InternalServerError,
    InvalidStateError,
    NosanaError,
    StreamError,
    ValidationError,
    VaultEmptyError,
)

__all__ = [
    "BACKOFF_JITTER",
    "DEADLINE_PER_TIMEOUT",
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_RPC_BACKOFF",
    "DEFAULT_RPC_RETRIES",
    "DEFAULT_RPC_TIMEOUT",
    "DEFAULT_STREAM_IDLE_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "FINAL_500_ERRORS",
    "GENERIC_500_TEXTS",
    "IDEMPOTENT_METHODS",
    "MAX_BACKOFF_SECONDS",
    "MAX_TOTAL_BACKOFF_SECONDS",
    "NOT_APPLIED_STATUSES",
    "POST_BACKOFF",
    "POST_RESENDS",
    "RETRY_STATUSES",
    "STREAM_RECONNECT_BACKOFF",
    "STREAM_TRANSPORT_RETRIES",
    "TRANSIENT_STATUSES",
    "UNREACHABLE_RETRIES",
    "UNREACHABLE_WAIT_S",
    "Backoff",
    "Deadline",
    "Retrier",
    "RetryCounter",
    "Sleeper",
    "Verdict",
    "check_backoff_factor",
    "check_deadline",
    "check_max_response_bytes",
    "check_max_retries",
    "check_stream_idle_timeout",
    "classify",
    "derive_deadline",
    "is_idempotent",
    "is_retryable",
    "outcome_unknown",
    "reconnect_backoff",
    "reconnectable",
    "request_was_sent",
]

logger = logging.getLogger("nosana_nb.retry")

T = TypeVar("T")

# -- defaults ---------------------------------------------------------------------------------

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_RETRIES: Final = 3
DEFAULT_BACKOFF_FACTOR: Final = 0.5
"""Retry n (1-based) waits ``backoff_factor * 2**n`` seconds, minus up to ``BACKOFF_JITTER``."""
BACKOFF_JITTER: Final = 0.5
MAX_BACKOFF_SECONDS: Final = 30.0
"""Caps one wait, a server's ``Retry-After`` included."""
MAX_TOTAL_BACKOFF_SECONDS: Final = 90.0
"""Caps all waits of one request together."""

DEADLINE_PER_TIMEOUT: Final = 4
"""A request's default overall deadline is this many times its longest timeout (30 s -> 120 s):
room for retries and backoff, and an end to a reply that trickles in a byte per read."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 64 * 2**20
"""The largest reply body (and stream event) a client reads: far above any real reply, far
below what hurts a kernel."""
DEFAULT_STREAM_IDLE_TIMEOUT: Final = 300.0
"""Seconds a stream may go without an event (heartbeat comments do not count) before the
watcher reopens it or a direct iterator raises StreamIdleError."""

DEFAULT_RPC_TIMEOUT: Final = DEFAULT_TIMEOUT
DEFAULT_RPC_RETRIES: Final = DEFAULT_MAX_RETRIES
DEFAULT_RPC_BACKOFF: Final = DEFAULT_BACKOFF_FACTOR

UNREACHABLE_RETRIES: Final = 1
"""Retries of one request after a refused connection or a name that does not resolve: one
quick try (a service restarting this instant), then the error - nothing listens there, and a
backoff ladder would only make the user wait seconds to learn it."""
UNREACHABLE_WAIT_S: Final = 0.1

POST_RESENDS: Final = 2
"""A POST whose outcome is unknown is looked for, then resent at most this many times."""

STREAM_RECONNECT_BACKOFF: Final = (0.5, 10.0)
"""The watcher's (first, longest) wait between reconnects; it resets after a good connection."""
STREAM_RECONNECT_JITTER: Final = 0.25
STREAM_TRANSPORT_RETRIES: Final = 1
"""Retries of the watcher's own requests: its reconnect loop handles longer outages."""

# -- what is retried --------------------------------------------------------------------------

IDEMPOTENT_METHODS: Final = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
NOT_APPLIED_STATUSES: Final = frozenset({408, 429})
"""Refused before any handler ran (request timeout, rate limiting): safe to send again, POST
included."""
TRANSIENT_STATUSES: Final = frozenset({502, 503, 504})
"""A proxy or an overloaded service: retried whatever the body (proxies send HTML)."""
RETRY_STATUSES: Final = tuple(sorted(NOT_APPLIED_STATUSES | TRANSIENT_STATUSES))
GENERIC_500_TEXTS: Final = frozenset(
    {
        "",
        "internal server error",
        "internal server error.",
        "ops something went wrong, please again.",
    }
)
"""A 500 with one of these texts (compared case-insensitively) names no specific failure: the
framework's catch-all, the service's generic handler, a proxy's, or an empty body."""
FINAL_500_ERRORS: Final[tuple[type[APIStatusError], ...]] = (InvalidStateError, VaultEmptyError)
"""Domain errors the service sends as HTTP 500: definite answers, never retried and never an
unknown outcome ("Deployment is in the incorrect state.", "Cannot modify an archived
deployment." - an ``InvalidStateError`` subclass - and "Vault has no funds to withdraw.")."""

# httpx failures raised before any byte of the request was written.
_NOT_SENT: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Verdict(Enum):
    """What a failure says about the request that caused it."""

    FINAL = "final"
    NOT_APPLIED = "not applied"
    TRANSIENT = "transient"


def request_was_sent(exc: BaseException) -> bool:
    """False for an httpx failure that came before the request left (connect, DNS, pool)."""
    return not isinstance(exc, _NOT_SENT)


def _is_generic_500(error: APIStatusError) -> bool:
    return (
        type(error) is InternalServerError
        and error.status_code == 500
        and error.error_text.casefold() in GENERIC_500_TEXTS
    )


def classify(failure: BaseException) -> Verdict:
    """Whether ``failure`` could have been applied, and whether trying again can help."""
    if isinstance(failure, APIConnectionError):
        return Verdict.TRANSIENT if failure.request_sent else Verdict.NOT_APPLIED
    if isinstance(failure, APIStatusError):
        if isinstance(failure, FINAL_500_ERRORS):
            return Verdict.FINAL
        if failure.status_code in NOT_APPLIED_STATUSES:
            return Verdict.NOT_APPLIED
        if failure.status_code in TRANSIENT_STATUSES or _is_generic_500(failure):
            return Verdict.TRANSIENT
    return Verdict.FINAL


def is_idempotent(method: str) -> bool:
    return method.upper() in IDEMPOTENT_METHODS


def is_retryable(failure: BaseException, *, idempotent: bool) -> bool:
    """Whether a request that failed with ``failure`` is sent again as it is."""
    verdict = classify(failure)
    return verdict is Verdict.NOT_APPLIED or (idempotent and verdict is Verdict.TRANSIENT)


def outcome_unknown(failure: BaseException) -> bool:
    """True when a POST may have been applied although it failed.

    Besides the transient failures, any 5xx without a domain meaning counts (even one naming
    a handler's failure): looking for the effect before resending costs a lookup, resending
    blind could create a deployment twice.
    """
    if isinstance(failure, APIConnectionError):
        return failure.request_sent
    return type(failure) is InternalServerError or classify(failure) is Verdict.TRANSIENT


def reconnectable(failure: BaseException) -> bool:
    """Whether the watcher opens a deployment's stream again after ``failure``.

    Everything an idempotent request would retry, plus a stream that broke, stalled, ended or
    sent garbage, and a reply that did not parse (a proxy's page in place of JSON).
    """
    if isinstance(failure, StreamError | APIResponseValidationError):
        return True
    return is_retryable(failure, idempotent=True)


# -- how long to wait -------------------------------------------------------------------------


def check_max_retries(max_retries: object) -> int:
    if type(max_retries) is not int or max_retries < 0:
        raise ValidationError(
            f"max_retries must be an int >= 0; got {max_retries!r}", argument="max_retries"
        )
    return max_retries


def check_backoff_factor(backoff_factor: object) -> float:
    if isinstance(backoff_factor, bool) or not isinstance(backoff_factor, int | float):
        raise ValidationError(
            "backoff_factor must be a number of seconds", argument="backoff_factor"
        )
    if not math.isfinite(backoff_factor) or backoff_factor < 0:
        raise ValidationError("backoff_factor must be finite and >= 0", argument="backoff_factor")
    return float(backoff_factor)


def _check_seconds(value: object, argument: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{argument} must be seconds > 0 or None", argument=argument)
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(f"{argument} must be finite seconds > 0, or None", argument=argument)
    return float(value)


def check_deadline(deadline: object) -> float | None:
    return _check_seconds(deadline, "deadline")


def check_stream_idle_timeout(idle_timeout: object) -> float | None:
    return _check_seconds(idle_timeout, "stream_idle_timeout")


def check_max_response_bytes(limit: object) -> int:
    if type(limit) is not int or limit <= 0:
        raise ValidationError(
            f"max_response_bytes must be an int > 0; got {limit!r}"[:120],
            argument="max_response_bytes",
        )
    return limit


def derive_deadline(timeout: httpx.Timeout) -> float | None:
    """The default overall deadline for ``timeout``; None when every part of it is None."""
    parts = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t]
    return DEADLINE_PER_TIMEOUT * max(parts) if parts else None


class Deadline:
    """The overall time limit of one request: every attempt, read and wait must end before it.

    ``seconds=None`` is no limit. Times come from ``clock`` (monotonic by default).
    """

    def __init__(
        self, seconds: float | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._clock = clock
        self._ends_at = None if seconds is None else clock() + seconds

    def remaining(self) -> float | None:
        """Seconds left (never below 0), or None without a limit."""
        if self._ends_at is None:
            return None
        return max(0.0, self._ends_at - self._clock())

    def expired(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def allows(self, wait: float) -> bool:
        """Whether waiting ``wait`` seconds still leaves time for another attempt."""
        remaining = self.remaining()
        return remaining is None or wait < remaining

    def clamp(self, timeout: httpx.Timeout) -> httpx.Timeout:
        """``timeout`` with no part longer than the time left (so no single read outlives it)."""
        remaining = self.remaining()
        if remaining is None:
            return timeout
        # httpx reads 0 as "no time at all"; a tiny positive value fails the read the same way.
        left = max(remaining, 0.001)

        def cap(part: float | None) -> float:
            return left if part is None else min(part, left)

        return httpx.Timeout(
            connect=cap(timeout.connect),
            read=cap(timeout.read),
            write=cap(timeout.write),
            pool=cap(timeout.pool),
        )

    def error(self, method: str, url: str) -> DeadlineExceededError:
        seconds = self.seconds or 0.0
        return DeadlineExceededError(
            f"{method} {url} did not complete within its deadline of {seconds:g} s "
            "(the client option deadline)",
            method=method,
            url=url,
            deadline=seconds,
        )

    def check(self, method: str, url: str) -> None:
        """Raise DeadlineExceededError once the time is up."""
        if self.expired():
            raise self.error(method, url)

    def __repr__(self) -> str:
        return f"Deadline(seconds={self.seconds!r}, remaining={self.remaining()!r})"


_RETRY_AFTER_PARSER: Final = Retry()


@dataclass(frozen=True)
class Backoff:
    """A retry budget and its waits. ``max_retries=None`` retries for as long as it is asked.

    Retry n (1-based) waits ``factor * 2**n`` seconds less up to ``jitter`` of it (httpx-retries'
    schedule), or what the server's ``Retry-After`` asks; each wait at most ``cap``, all waits of
    one operation together at most ``total_cap``.
    """

    max_retries: int | None = DEFAULT_MAX_RETRIES
    factor: float = DEFAULT_BACKOFF_FACTOR
    cap: float = MAX_BACKOFF_SECONDS
    total_cap: float | None = MAX_TOTAL_BACKOFF_SECONDS
    jitter: float = BACKOFF_JITTER
    unreachable_retries: int | None = UNREACHABLE_RETRIES
    """Retries after an unreachable service (None: as many as ``max_retries``)."""

    def __post_init__(self) -> None:
        if self.max_retries is not None:
            check_max_retries(self.max_retries)
        check_backoff_factor(self.factor)
        if not self.cap > 0 or not 0 <= self.jitter <= 1:
            raise ValidationError("a backoff needs cap > 0 and 0 <= jitter <= 1")

    def exhausted(self, retries: int, waited: float) -> bool:
        if self.max_retries is not None and retries >= self.max_retries:
            return True
        return self.total_cap is not None and waited >= self.total_cap

    def wait(self, retry: int, *, retry_after: str | None = None, waited: float = 0.0) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        delay = 0.0
        if retry_after:
            try:
                delay = min(_RETRY_AFTER_PARSER.parse_retry_after(retry_after), self.cap)
            except ValueError:
                logger.debug("ignoring an unreadable Retry-After header: %r", retry_after[:40])
        if delay <= 0:
            schedule = Retry(
                total=max(retry, 1),
                backoff_factor=self.factor,
                backoff_jitter=self.jitter,
                max_backoff_wait=self.cap,
                attempts_made=retry,
            )
            delay = schedule.backoff_strategy()
        if self.total_cap is not None:
            delay = min(delay, max(0.0, self.total_cap - waited))
        return delay


POST_BACKOFF: Final = Backoff(max_retries=POST_RESENDS, factor=0.25, cap=4.0, total_cap=None)
"""Waits between resends of a POST whose effect was looked for and not found."""


def reconnect_backoff(first: float, longest: float) -> Backoff:
    """The watcher's reconnect schedule: ``first`` seconds, doubling up to ``longest``, no end."""
    return Backoff(
        max_retries=None,
        factor=first / 2,
        cap=longest,
        total_cap=None,
        jitter=STREAM_RECONNECT_JITTER,
        unreachable_retries=None,  # the watcher outlasts a restarting service
    )


# -- waiting and counting ---------------------------------------------------------------------


class Sleeper:
    """How the retry loops wait. Tests pass one that moves a manual clock instead."""

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (a blocking retry's wait).

        Args:
            seconds: how long.
        """
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        """Await ``seconds`` (an asyncio retry's wait).

        Args:
            seconds: how long.
        """
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


DEFAULT_SLEEPER: Final = Sleeper()


class RetryCounter:
    """Retries made so far; thread-safe, shared by a client and the clients derived from it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0

    @property
    def total(self) -> int:
        """The retries counted so far."""
        with self._lock:
            return self._total

    def add(self, count: int = 1) -> int:
        """Count ``count`` more retries.

        Args:
            count: how many.

        Returns:
            The new total.
        """
        with self._lock:
            self._total += count
            return self._total

    def __repr__(self) -> str:
        return f"RetryCounter(total={self.total})"


def _retry_after(failure: BaseException) -> str | None:
    return failure.retry_after if isinstance(failure, APIStatusError) else None


class Retrier:
    """The retries of one operation: which failures to retry, how long to wait, the count.

    ``retry_on`` decides per failure (defaults to :func:`is_retryable` for an idempotent
    request); ``on_retry(failure, wait)`` is told about each retry before its wait; with a
    ``deadline``, no retry is made whose wait would reach it.
    :meth:`call` and :meth:`acall` are the one request loop of the package.
    """

    def __init__(
        self,
        backoff: Backoff,
        *,
        retry_on: Callable[[BaseException], bool] | None = None,
        counter: RetryCounter | None = None,
        sleeper: Sleeper | None = None,
        what: str = "request",
        on_retry: Callable[[BaseException, float], None] | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        self.backoff = backoff
        self.deadline = deadline
        self.retry_on = retry_on or (lambda failure: is_retryable(failure, idempotent=True))
        self.counter = counter
        self.sleeper = sleeper or DEFAULT_SLEEPER
        self.what = what
        self.on_retry = on_retry
        self.retries = 0
        self.unreachable = 0
        self.waited = 0.0

    def reset(self) -> None:
        """Start the schedule over (the watcher does after a connection that delivered)."""
        self.retries = 0
        self.unreachable = 0
        self.waited = 0.0

    def next_wait(self, failure: BaseException) -> float | None:
        """Seconds to wait before trying again, or None to give up; counts the retry."""
        if not self.retry_on(failure) or self.backoff.exhausted(self.retries, self.waited):
            return None
        cap = self.backoff.unreachable_retries
        unreachable = isinstance(failure, APIConnectionError) and failure.unreachable
        if unreachable and cap is not None and self.unreachable >= cap:
            return None
        if unreachable and cap is not None:
            wait = min(UNREACHABLE_WAIT_S, self.backoff.cap)
        else:
            wait = self.backoff.wait(
                self.retries + 1, retry_after=_retry_after(failure), waited=self.waited
            )
        if self.deadline is not None and not self.deadline.allows(wait):
            return None  # the next attempt could not finish in time: give up now
        if unreachable and cap is not None:
            self.unreachable += 1
        self.retries += 1
        self.waited += wait
        total = self.counter.add() if self.counter is not None else self.retries
        logger.debug(
            "%s failed (%s: %s); retry %d in %.2f s (%d retries in total)",
            self.what,
            type(failure).__name__,
            failure,
            self.retries,
            wait,
            total,
        )
        if self.on_retry is not None:
            self.on_retry(failure, wait)
        return wait

    def call(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` until it returns, or raises what is not retried (blocking)."""
        while True:
            try:
                return attempt()
            except NosanaError as failure:
                wait = self.next_wait(failure)
                if wait is None:
                    raise
            self.sleeper.sleep(wait)

    async def acall(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """:meth:`call` for asyncio code."""
        while True:
            try:
                return await attempt()
            except NosanaError as failure:
                wait = self.next_wait(failure)
                if wait is None:
                    raise
            await self.sleeper.asleep(wait)
