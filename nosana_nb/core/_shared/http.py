"""The I/O-free half of the HTTP shells: argument checks, request building, reply parsing.

``_async/http.py`` (and the ``_sync/http.py`` generated from it) only send what these build and
hand replies to these parsers; which failures are retried is ``retry_policy``'s business.
Logs name the method, URL, status and elapsed time, never a header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Final, Literal, cast

import httpx

from nosana_nb.core._shared.deadline_transport import deadline_for_this_thread
from nosana_nb.core._shared.sse import SSEParser
from nosana_nb.core._shared.tls import shared_ssl_context
from nosana_nb.core.config import refuse_credentials
from nosana_nb.core.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    ResponseTooLargeError,
    StreamError,
    StreamIdleError,
    ValidationError,
    status_error_from_response,
)
from nosana_nb.core.retry_policy import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_STREAM_IDLE_TIMEOUT,
    DEFAULT_TIMEOUT,
    IDEMPOTENT_METHODS,
    Backoff,
    Deadline,
    Retrier,
    RetryCounter,
    Sleeper,
    check_backoff_factor,
    check_deadline,
    check_max_response_bytes,
    check_max_retries,
    check_stream_idle_timeout,
    derive_deadline,
    is_idempotent,
    is_retryable,
    request_was_sent,
)
from nosana_nb.core.service_clock import ServiceClock

logger = logging.getLogger("nosana_nb.http")

_METHODS: Final = frozenset((*IDEMPOTENT_METHODS, "POST"))
_USER_AGENT: Final = "nosana_nb"

Expect = Literal["json", "empty", "text"]
TimeoutArg = float | httpx.Timeout | None

__all__ = [
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "NOT_GIVEN",
    "Expect",
    "HTTPBase",
    "NotGiven",
    "TimeoutArg",
]


class NotGiven:
    """Marks an argument that was not passed, where ``None`` would mean JSON null."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


def check_read_timeout(read_timeout: float | None) -> float | None:
    if read_timeout is None:
        return None
    if isinstance(read_timeout, bool) or not isinstance(read_timeout, int | float):
        raise ValidationError("read_timeout must be seconds or None", argument="read_timeout")
    if not math.isfinite(read_timeout) or read_timeout <= 0:
        raise ValidationError("read_timeout must be > 0 seconds, or None", argument="read_timeout")
    return float(read_timeout)


def check_timeout(timeout: TimeoutArg) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ValidationError(
            "timeout must be seconds > 0, an httpx.Timeout, or None (wait for ever)",
            argument="timeout",
        )
    return httpx.Timeout(timeout)


def check_injected(
    http_client: object, client_type: type, transport: object, transport_type: type
) -> None:
    # A wrong object here would only fail at the first request, far from the mistake.
    if http_client is not None and not isinstance(http_client, client_type):
        raise ValidationError(
            f"http_client must be an {client_type.__module__}.{client_type.__name__}; "
            f"got {type(http_client).__name__}",
            argument="http_client",
        )
    if transport is not None and not isinstance(transport, transport_type):
        raise ValidationError(
            f"transport must be an {transport_type.__module__}.{transport_type.__name__}; "
            f"got {type(transport).__name__}",
            argument="transport",
        )


def _check_method(method: str) -> str:
    upper = method.upper() if isinstance(method, str) else ""
    if upper not in _METHODS:
        raise ValidationError(
            f"unsupported HTTP method {method!r}; use one of {', '.join(sorted(_METHODS))}",
            argument="method",
        )
    return upper


def _join_url(base_url: str, path: str) -> str:
    if not isinstance(path, str):
        raise ValidationError(f"path must be a string; got {type(path).__name__}", argument="path")
    if path.startswith(("https://", "http://")):
        return path
    if not path:
        return base_url
    return f"{base_url}/{path.lstrip('/')}"


def query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop parameters that were not given; the service treats absent and empty differently."""
    if params is None:
        return None
    return {
        key: value for key, value in params.items() if value is not None and value is not NOT_GIVEN
    }


def _request_kwargs(params: Mapping[str, Any] | None, json: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    checked = query(params)
    if checked:
        kwargs["params"] = checked
    if json is not NOT_GIVEN:
        kwargs["json"] = json
    return kwargs


def _headers(extra: Mapping[str, str] | None) -> dict[str, str]:
    return {"User-Agent": _USER_AGENT, "Accept": "application/json", **(extra or {})}


_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_SANDBOX_HINT: Final = (
    "; nothing listens there: if this is the local sandbox, call nosana_nb.connect() "
    "(starts one in this process) or run `nosana-nb sandbox` in a terminal"
)


def _unreachable(err: BaseException) -> bool:
    """Connection refused or a name that does not resolve: nothing a short wait would fix."""
    if not isinstance(err, httpx.ConnectError):
        return False
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError | socket.gaierror):
            return True
        cause = cause.__cause__ or cause.__context__
    text = str(err).lower()
    return (
        "connection refused" in text
        or "name or service not known" in text
        or ("name resolution" in text)
    )


def transport_error(err: Exception, method: str, url: str) -> APIError:
    """The typed error for an httpx failure; says whether the request had left."""
    sent = request_was_sent(err)
    unreachable = _unreachable(err)
    hint = ""
    if unreachable and httpx.URL(url).host in _LOOPBACK_HOSTS:
        hint = _SANDBOX_HINT
    if isinstance(err, httpx.TimeoutException):
        return APITimeoutError(
            f"{method} {url} timed out ({type(err).__name__})",
            method=method,
            url=url,
            request_sent=sent,
        )
    if isinstance(err, httpx.DecodingError):
        return APIResponseValidationError(
            f"{method} {url} returned a body that could not be decoded ({err})",
            method=method,
            url=url,
        )
    return APIConnectionError(
        f"{method} {url} failed: could not reach the service ({type(err).__name__}: {err})" + hint,
        method=method,
        url=url,
        request_sent=sent,
        unreachable=unreachable,
    )


def status_error(response: httpx.Response, method: str, url: str) -> APIError:
    return status_error_from_response(
        response.status_code,
        response.content,
        response.headers.get("content-type"),
        method=method,
        url=url,
        retry_after=response.headers.get("retry-after"),
    )


def parse_response(response: httpx.Response, expect: Expect, method: str, url: str) -> Any:
    if not response.is_success:
        raise status_error(response, method, url)
    if expect == "empty":
        return None
    if expect == "text":
        return response.text
    if not response.content.strip():
        raise APIResponseValidationError(
            f"{method} {url} returned HTTP {response.status_code} with an empty body; "
            "expected JSON",
            method=method,
            url=url,
            body="",
        )
    try:
        return response.json()
    except ValueError as err:
        raise APIResponseValidationError(
            f"{method} {url} returned HTTP {response.status_code} with a body that is not "
            f"valid JSON ({err})",
            method=method,
            url=url,
            body=response.text[:1000],
        ) from err


def _check_expect(expect: str) -> Expect:
    if expect not in ("json", "empty", "text"):
        raise ValidationError("expect must be 'json', 'empty' or 'text'", argument="expect")
    return cast(Expect, expect)


def check_event_stream(response: httpx.Response, url: str) -> None:
    """Raise StreamError for a 2xx reply that is not an event stream."""
    content_type = response.headers.get("content-type", "")
    if "text/event-stream" not in content_type:
        raise StreamError(f"GET {url} did not answer with an event stream ({content_type!r})")


def _stream_timeout(
    base: httpx.Timeout, read_timeout: float | None, idle_timeout: float | None
) -> httpx.Timeout:
    # The read timeout bounds the gap between two chunks: heartbeats reset it, a stall trips it.
    # No gap may outlast the idle limit either, or a silent server would outlive it.
    gaps = [t for t in (read_timeout, idle_timeout) if t is not None]
    read = min(gaps) if gaps else None
    return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


def stall(url: str, read_timeout: float | None, err: Exception) -> StreamError:
    if isinstance(err, httpx.ReadTimeout):
        return StreamError(f"the event stream from {url} stalled: no data for {read_timeout} s")
    return StreamError(f"the event stream from {url} broke ({type(err).__name__}: {err})")


# -- limits: body size, overall deadline, stream idleness -------------------------------------


def too_large(method: str, url: str, limit: int, what: str) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"{method} {url}: {what} is larger than {limit} bytes; stopped reading "
        "(raise the client option max_response_bytes if this is expected)",
        method=method,
        url=url,
        limit=limit,
    )


class BodyReader:
    """Collects a reply body chunk by chunk, refusing it past ``limit`` bytes or the deadline.

    A ``Content-Length`` above the limit is refused before a byte is read; a chunked body that
    never ends is refused as soon as it passes the limit; a trickle ends at the deadline.
    """

    def __init__(self, method: str, url: str, *, limit: int, deadline: Deadline) -> None:
        self.method = method
        self.url = url
        self.limit = limit
        self.deadline = deadline
        self._chunks: list[bytes] = []
        self._size = 0

    def start(self, response: httpx.Response) -> None:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            raise too_large(self.method, self.url, self.limit, f"the declared body ({declared})")

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.limit:
            raise too_large(self.method, self.url, self.limit, "the reply body")
        self._chunks.append(chunk)
        self.deadline.check(self.method, self.url)

    def response(self, streamed: httpx.Response) -> httpx.Response:
        """A read response holding the body (already decoded: no Content-Encoding any more)."""
        headers = [
            (name, value)
            for name, value in streamed.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=b"".join(self._chunks),
            request=streamed.request,
            extensions=streamed.extensions,
        )


_DEADLINE_SLACK_S = 0.05
"""A read cut short to the time left may time out a hair before the deadline by the clock."""


@contextlib.asynccontextmanager
async def awithin_deadline(deadline: Deadline, method: str, url: str) -> AsyncIterator[None]:
    """End the enclosed await once the deadline passes: headers and body, however they trickle."""
    try:
        async with asyncio.timeout(deadline.remaining()):
            yield
    except TimeoutError:
        raise deadline.error(method, url) from None


@contextlib.contextmanager
def within_deadline(deadline: Deadline, method: str, url: str) -> Iterator[None]:
    """The blocking twin of :func:`awithin_deadline`, which cannot interrupt a blocking read:
    the shell's own transport gives each socket operation only the time left
    (``deadline_transport``), so trickled headers or body end with DeadlineExceededError."""
    try:
        with deadline_for_this_thread(deadline):
            yield
    except httpx.TimeoutException:
        remaining = deadline.remaining()
        if remaining is not None and remaining <= _DEADLINE_SLACK_S:
            raise deadline.error(method, url) from None
        raise


class EventReader:
    """The data of a stream's events, with the size of one event and the silence bounded.

    ``idle_timeout``: seconds without an event that carries data; heartbeat comments keep the
    connection open but do not count, so a server that only pings ends in StreamIdleError.
    """

    def __init__(
        self,
        url: str,
        *,
        max_event_bytes: int,
        idle_timeout: float | None,
        clock: Any = time.monotonic,
    ) -> None:
        self.url = url
        self.max_event_bytes = max_event_bytes
        self.idle_timeout = idle_timeout
        self._parser = SSEParser(max_event_bytes, url=url)
        self._clock = clock
        self._last_event = clock()

    def feed(self, chunk: bytes) -> list[str]:
        events = self._parser.feed(chunk)
        now = self._clock()
        if events:
            self._last_event = now
        elif self.idle_timeout is not None and now - self._last_event > self.idle_timeout:
            raise StreamIdleError(
                f"the event stream from {self.url} sent no event for {self.idle_timeout:g} s "
                "(only heartbeats or nothing)",
                idle_timeout=self.idle_timeout,
            )
        return events


def log_response(method: str, url: str, response: httpx.Response, started: float) -> None:
    logger.debug(
        "%s %s -> %d in %.3f s", method, url, response.status_code, time.perf_counter() - started
    )


def connection_failed(method: str, url: str, err: Exception, started: float) -> APIError:
    logger.debug(
        "%s %s failed (%s) after %.3f s",
        method,
        url,
        type(err).__name__,
        time.perf_counter() - started,
    )
    return transport_error(err, method, url)


def invalid_url(url: str, err: Exception) -> ValidationError:
    return ValidationError(f"invalid URL {url!r}: {err}", argument="path")


class HTTPBase:
    """State and checks shared by the sync and async shells."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None,
        timeout: TimeoutArg,
        max_retries: int,
        backoff_factor: float,
        has_client: bool,
        transport: object | None,
        headers: Mapping[str, str] | None,
        retry_counter: RetryCounter | None,
        sleeper: Sleeper | None,
        service_clock: ServiceClock | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline: float | NotGiven | None = NOT_GIVEN,
        stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValidationError("base_url must be an http(s) URL", argument="base_url")
        refuse_credentials(base_url, field="base_url")
        if has_client and transport is not None:
            raise ValidationError(
                "pass either http_client or transport, not both (the client has its transport)",
                argument="transport",
            )
        if auth is not None and not isinstance(auth, httpx.Auth):
            raise ValidationError("auth must be an httpx.Auth", argument="auth")
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self._timeout = check_timeout(timeout)
        self.max_response_bytes = check_max_response_bytes(max_response_bytes)
        self.deadline = (
            derive_deadline(self._timeout)
            if isinstance(deadline, NotGiven)
            else check_deadline(deadline)
        )
        self.stream_idle_timeout = check_stream_idle_timeout(stream_idle_timeout)
        self._backoff = Backoff(
            max_retries=check_max_retries(max_retries),
            factor=check_backoff_factor(backoff_factor),
        )
        self._counter = retry_counter if retry_counter is not None else RetryCounter()
        self._sleeper = sleeper
        self._service_clock = service_clock
        # Our own httpx client gets the default headers at construction; an injected one gets
        # them on every request. Either way every request goes through the same retry loop.
        self._owns_client = not has_client
        self._default_headers = _headers(headers)
        self._extra_headers = self._default_headers if has_client else {}

    @property
    def retries_total(self) -> int:
        """Retries counted so far (with a client's shared counter: the client's total)."""
        return self._counter.total

    def url(self, path: str) -> str:
        """The absolute URL for ``path`` (absolute URLs pass through unchanged)."""
        return _join_url(self.base_url, path)

    def _observe_clock(self, url: str, response: httpx.Response) -> None:
        """Read the service's time from a reply of this shell's service (not a gateway's)."""
        if self._service_clock is not None and url.startswith(self.base_url):
            self._service_clock.observe_headers(response.headers)

    def _retrier(self, method: str, url: str, deadline: Deadline | None = None) -> Retrier:
        idempotent = is_idempotent(method)
        return Retrier(
            self._backoff,
            retry_on=lambda failure: is_retryable(failure, idempotent=idempotent),
            counter=self._counter,
            sleeper=self._sleeper,
            what=f"{method} {url}",
            deadline=deadline,
        )

    def _body_reader(self, method: str, url: str, deadline: Deadline) -> BodyReader:
        return BodyReader(method, url, limit=self.max_response_bytes, deadline=deadline)

    def _check_open(self, client: httpx.Client | httpx.AsyncClient, method: str, url: str) -> None:
        if client.is_closed:
            raise APIConnectionError(
                f"{method} {url}: this {type(self).__name__} is closed; create a new client",
                method=method,
                url=url,
                request_sent=False,
            )

    def _auth_arg(self) -> httpx.Auth | httpx._client.UseClientDefault:
        return self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT

    def _client_options(self) -> dict[str, Any]:
        """Keyword arguments for the httpx client this shell creates itself."""
        return {
            "timeout": self._timeout,
            "headers": self._default_headers,
            "verify": shared_ssl_context(),
        }

    def _prepare(
        self, client: httpx.Client | httpx.AsyncClient, method: str, path: str, expect: str
    ) -> tuple[str, str, Expect]:
        """Check a request's arguments before anything is sent: (method, url, expect)."""
        method = _check_method(method)
        checked_expect = _check_expect(expect)
        url = self.url(path)
        self._check_open(client, method, url)
        return method, url, checked_expect

    def _prepare_stream(
        self,
        client: httpx.Client | httpx.AsyncClient,
        path: str,
        read_timeout: float | None,
        idle_timeout: float | NotGiven | None,
    ) -> tuple[str, float | None, float | None]:
        """Check a stream's arguments before connecting: (url, read_timeout, idle_timeout)."""
        checked_timeout = check_read_timeout(read_timeout)
        checked_idle = (
            self.stream_idle_timeout
            if isinstance(idle_timeout, NotGiven)
            else check_stream_idle_timeout(idle_timeout)
        )
        url = self.url(path)
        self._check_open(client, "GET", url)
        return url, checked_timeout, checked_idle

    def _build(
        self,
        client: httpx.Client | httpx.AsyncClient,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        deadline: Deadline,
    ) -> httpx.Request:
        """The request to send; no single read of it may outlast the deadline."""
        try:
            return client.build_request(
                method,
                url,
                headers=self._extra_headers,
                timeout=deadline.clamp(client.timeout),
                **_request_kwargs(params, json),
            )
        except httpx.InvalidURL as err:
            raise invalid_url(url, err) from err

    def _sse_kwargs(
        self,
        client: httpx.Client | httpx.AsyncClient,
        params: Mapping[str, Any] | None,
        read_timeout: float | None,
        idle_timeout: float | None,
    ) -> dict[str, Any]:
        return {
            "params": query(params),
            "auth": self._auth_arg(),
            "headers": dict(self._extra_headers),
            "timeout": _stream_timeout(client.timeout, read_timeout, idle_timeout),
        }

    def _event_reader(self, url: str, idle_timeout: float | None) -> EventReader:
        return EventReader(url, max_event_bytes=self.max_response_bytes, idle_timeout=idle_timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"
