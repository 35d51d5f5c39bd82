"""The HTTP layer under every client: retries, error mapping, JSON parsing and SSE streams.

Request building and response parsing are pure functions shared by SyncHTTP and AsyncHTTP.
Retries live in the transport (httpx-retries) and apply to idempotent methods only; POST is
never retried because a create or a withdraw must not happen twice. An idempotent request is
retried as a whole exchange: the transport also reads the reply's body, so a connection that
drops mid-body, or a 500 that names no specific failure, is retried within the same budget.
Logs name the method, URL, status and elapsed time, never a header.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from typing import Any, Final, Literal, cast

import httpx
from httpx_retries import Retry, RetryTransport
from httpx_sse import EventSource, SSEError, aconnect_sse, connect_sse

from nosana_nb.core.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    InternalServerError,
    StreamError,
    ValidationError,
    status_error_from_response,
)

__all__ = [
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "GENERIC_500_TEXTS",
    "NOT_GIVEN",
    "RETRY_METHODS",
    "RETRY_STATUSES",
    "AsyncHTTP",
    "NotGiven",
    "SyncHTTP",
]

logger = logging.getLogger("nosana_nb.http")

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_RETRIES: Final = 3
DEFAULT_BACKOFF_FACTOR: Final = 0.5
MAX_BACKOFF_SECONDS: Final = 30.0  # caps one wait, including a server's Retry-After
MAX_TOTAL_BACKOFF_SECONDS: Final = 90.0  # caps all waits of one request
RETRY_STATUSES: Final = (429, 502, 503, 504)  # retried whatever the body (proxies send HTML)
# A 500 is retried only when its text is one of these catch-alls (compared case-insensitively):
# the framework's, the service's generic handlers', a proxy's or an empty body. A handler's own
# text ("Failed to get deployment jobs", "Job revision not found", ...) is deterministic.
GENERIC_500_TEXTS: Final = frozenset(
    {
        "",
        "internal server error",
        "internal server error.",
        "ops something went wrong, please again.",
    }
)
RETRY_METHODS: Final = ("GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS")
_METHODS: Final = frozenset((*RETRY_METHODS, "POST"))
_USER_AGENT: Final = "nosana_nb"

Expect = Literal["json", "empty", "text"]
TimeoutArg = float | httpx.Timeout | None


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


class _CountingRetry(Retry):
    """A Retry that reports each retry it schedules (httpx-retries copies it per attempt)."""

    on_retry: Callable[[], None] | None = None

    def increment(self) -> Retry:
        following = super().increment()
        if isinstance(following, _CountingRetry):
            following.on_retry = self.on_retry
        if self.on_retry is not None:
            self.on_retry()
        return following


# -- shared, pure helpers -------------------------------------------------------------------


def _check_max_retries(max_retries: int) -> int:
    if type(max_retries) is not int or max_retries < 0:
        raise ValidationError(
            f"max_retries must be an int >= 0; got {max_retries!r}", argument="max_retries"
        )
    return max_retries


def _check_backoff(backoff_factor: float) -> float:
    if isinstance(backoff_factor, bool) or not isinstance(backoff_factor, int | float):
        raise ValidationError(
            "backoff_factor must be a number of seconds", argument="backoff_factor"
        )
    if not math.isfinite(backoff_factor) or backoff_factor < 0:
        raise ValidationError("backoff_factor must be finite and >= 0", argument="backoff_factor")
    return float(backoff_factor)


def _check_read_timeout(read_timeout: float | None) -> float | None:
    if read_timeout is None:
        return None
    if isinstance(read_timeout, bool) or not isinstance(read_timeout, int | float):
        raise ValidationError("read_timeout must be seconds or None", argument="read_timeout")
    if not math.isfinite(read_timeout) or read_timeout <= 0:
        raise ValidationError("read_timeout must be > 0 seconds, or None", argument="read_timeout")
    return float(read_timeout)


def _check_timeout(timeout: TimeoutArg) -> httpx.Timeout:
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


def _check_injected(
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


class _TransientReply(Exception):
    """Asks the retry transport for another attempt; it never leaves the transport, because
    the transport does not check replies on the last attempt (that one is returned as it is)."""


def _is_transient(response: httpx.Response) -> bool:
    """A 500 that names no specific failure: the same request may well succeed next time.

    errors.py's mapping decides first: a domain error (wrong state, archived, empty vault, ...)
    is a definite answer, and so is a handler's own text such as the list endpoints' "Failed to
    get ..." (an invalid cursor fails the same way every time).
    """
    if response.status_code != 500:
        return False  # 429/502/503/504 are retried by status; other codes are definite
    mapped = status_error_from_response(
        500,
        response.content,
        response.headers.get("content-type"),
        method=response.request.method,
        url=str(response.request.url),
    )
    return type(mapped) is InternalServerError and mapped.error_text.casefold() in GENERIC_500_TEXTS


def _must_buffer(response: httpx.Response) -> bool:
    # An event stream never ends; its errors are small bodies and are read like any other.
    return not (
        response.is_success and "text/event-stream" in response.headers.get("content-type", "")
    )


def _read_reply(response: httpx.Response) -> None:
    """Read the body inside the retry loop, so a drop mid-body or a generic 500 is retried."""
    if _must_buffer(response):
        response.read()
        if _is_transient(response):
            raise _TransientReply


async def _aread_reply(response: httpx.Response) -> None:
    if _must_buffer(response):
        await response.aread()
        if _is_transient(response):
            raise _TransientReply


def _make_retry(
    max_retries: int,
    backoff_factor: float,
    on_retry: Callable[[], None],
    read_reply: Callable[[httpx.Response], Awaitable[None] | None],
) -> Retry:
    retry = _CountingRetry(
        total=max_retries,
        allowed_methods=RETRY_METHODS,
        status_forcelist=RETRY_STATUSES,
        retry_on_exceptions=(*Retry.RETRYABLE_EXCEPTIONS, _TransientReply),
        backoff_factor=backoff_factor,
        backoff_jitter=0.5,
        max_backoff_wait=MAX_BACKOFF_SECONDS,
        total_timeout=MAX_TOTAL_BACKOFF_SECONDS,
        respect_retry_after_header=True,
        # called with each reply the loop would return while retries are left
        validate_response=read_reply,
    )
    retry.on_retry = on_retry
    return retry


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


def _query(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop parameters that were not given; the service treats absent and empty differently."""
    if params is None:
        return None
    return {
        key: value for key, value in params.items() if value is not None and value is not NOT_GIVEN
    }


def _request_kwargs(params: Mapping[str, Any] | None, json: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    query = _query(params)
    if query:
        kwargs["params"] = query
    if json is not NOT_GIVEN:
        kwargs["json"] = json
    return kwargs


def _headers(extra: Mapping[str, str] | None) -> dict[str, str]:
    return {"User-Agent": _USER_AGENT, "Accept": "application/json", **(extra or {})}


def _transport_error(err: Exception, method: str, url: str) -> APIError:
    if isinstance(err, httpx.TimeoutException):
        return APITimeoutError(
            f"{method} {url} timed out ({type(err).__name__})", method=method, url=url
        )
    return APIConnectionError(
        f"{method} {url} failed: could not reach the service ({type(err).__name__}: {err})",
        method=method,
        url=url,
    )


def _parse_response(response: httpx.Response, expect: Expect, method: str, url: str) -> Any:
    if not response.is_success:
        raise status_error_from_response(
            response.status_code,
            response.content,
            response.headers.get("content-type"),
            method=method,
            url=url,
        )
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


def _check_stream_response(response: httpx.Response, url: str) -> None:
    """Raise the mapped status error, or StreamError for a reply that is not an event stream."""
    if not response.is_success:
        _parse_response(response, "empty", "GET", url)
    content_type = response.headers.get("content-type", "")
    if "text/event-stream" not in content_type:
        raise StreamError(f"GET {url} did not answer with an event stream ({content_type!r})")


def _stream_timeout(base: httpx.Timeout, read_timeout: float | None) -> httpx.Timeout:
    # The read timeout bounds the gap between two chunks: heartbeats reset it, a stall trips it.
    return httpx.Timeout(connect=base.connect, read=read_timeout, write=base.write, pool=base.pool)


def _stall(url: str, read_timeout: float | None, err: Exception) -> StreamError:
    if isinstance(err, httpx.ReadTimeout):
        return StreamError(f"the event stream from {url} stalled: no data for {read_timeout} s")
    if isinstance(err, SSEError):
        return StreamError(f"the event stream from {url} sent malformed data: {err}")
    return StreamError(f"the event stream from {url} broke ({type(err).__name__}: {err})")


def _log_response(method: str, url: str, response: httpx.Response, started: float) -> None:
    logger.debug(
        "%s %s -> %d in %.3f s", method, url, response.status_code, time.perf_counter() - started
    )


def _connection_failed(method: str, url: str, err: Exception, started: float) -> APIError:
    logger.debug(
        "%s %s failed (%s) after %.3f s",
        method,
        url,
        type(err).__name__,
        time.perf_counter() - started,
    )
    return _transport_error(err, method, url)


@contextlib.contextmanager
def _mapped_transport_errors(method: str, url: str, started: float) -> Iterator[None]:
    """Turn httpx's exceptions into ours around one request (sync or awaited)."""
    try:
        yield
    except httpx.InvalidURL as err:
        raise ValidationError(f"invalid URL {url!r}: {err}", argument="path") from err
    except httpx.HTTPError as err:
        raise _connection_failed(method, url, err, started) from err


class _Base:
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
        read_reply: Callable[[httpx.Response], Awaitable[None] | None],
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValidationError("base_url must be an http(s) URL", argument="base_url")
        if has_client and transport is not None:
            raise ValidationError(
                "pass either http_client or transport, not both (the client has its transport)",
                argument="transport",
            )
        if auth is not None and not isinstance(auth, httpx.Auth):
            raise ValidationError("auth must be an httpx.Auth", argument="auth")
        self.base_url = base_url.rstrip("/")
        self.retries_total = 0
        self._auth = auth
        self._timeout = _check_timeout(timeout)
        self._retry = _make_retry(
            _check_max_retries(max_retries),
            _check_backoff(backoff_factor),
            self._count_retry,
            read_reply,
        )
        # An injected client keeps its own transport, timeouts and retries; ours gets the
        # default headers at construction, an injected one gets them on every request.
        self._owns_client = not has_client
        self._default_headers = _headers(headers)
        self._extra_headers = self._default_headers if has_client else {}

    def _count_retry(self) -> None:
        self.retries_total += 1
        logger.debug("retrying an idempotent request (retry #%d in total)", self.retries_total)

    def url(self, path: str) -> str:
        """The absolute URL for ``path`` (absolute URLs pass through unchanged)."""
        return _join_url(self.base_url, path)

    def _check_open(self, client: httpx.Client | httpx.AsyncClient, method: str, url: str) -> None:
        if client.is_closed:
            raise APIConnectionError(
                f"{method} {url}: this {type(self).__name__} is closed; create a new client",
                method=method,
                url=url,
            )

    def _auth_arg(self) -> httpx.Auth | httpx._client.UseClientDefault:
        return self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT

    def _client_options(self) -> dict[str, Any]:
        """Keyword arguments for the httpx client this shell creates itself."""
        return {"timeout": self._timeout, "headers": self._default_headers}

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
        self, client: httpx.Client | httpx.AsyncClient, path: str, read_timeout: float | None
    ) -> tuple[str, float | None]:
        """Check a stream's arguments before connecting: (url, read_timeout)."""
        checked_timeout = _check_read_timeout(read_timeout)
        url = self.url(path)
        self._check_open(client, "GET", url)
        return url, checked_timeout

    def _send_kwargs(self, params: Mapping[str, Any] | None, json: Any) -> dict[str, Any]:
        return {
            "auth": self._auth_arg(),
            "headers": self._extra_headers,
            **_request_kwargs(params, json),
        }

    def _sse_kwargs(
        self,
        client: httpx.Client | httpx.AsyncClient,
        params: Mapping[str, Any] | None,
        read_timeout: float | None,
    ) -> dict[str, Any]:
        return {
            "params": _query(params),
            "auth": self._auth_arg(),
            "headers": dict(self._extra_headers),
            "timeout": _stream_timeout(client.timeout, read_timeout),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"


class SyncHTTP(_Base):
    """Blocking HTTP for the sync client (works inside Jupyter's running event loop)."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: TimeoutArg = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
    ) -> None:
        _check_injected(http_client, httpx.Client, transport, httpx.BaseTransport)
        super().__init__(
            base_url,
            auth=auth,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            has_client=http_client is not None,
            transport=transport,
            headers=headers,
            read_reply=_read_reply,
        )
        if http_client is None:
            http_client = httpx.Client(
                transport=RetryTransport(transport or httpx.HTTPTransport(), retry=self._retry),
                **self._client_options(),
            )
        self._client = http_client

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = NOT_GIVEN,
        expect: Expect = "json",
    ) -> Any:
        method, url, expect = self._prepare(self._client, method, path, expect)
        started = time.perf_counter()
        with _mapped_transport_errors(method, url, started):
            response = self._client.request(method, url, **self._send_kwargs(params, json))
        _log_response(method, url, response, started)
        return _parse_response(response, expect, method, url)

    @contextlib.contextmanager
    def stream_sse(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        read_timeout: float | None = 60.0,
    ) -> Iterator[Iterator[str]]:
        """Open an SSE stream; the iterator yields each message's ``data``, skipping comments."""
        url, read_timeout = self._prepare_stream(self._client, path, read_timeout)
        started = time.perf_counter()
        with contextlib.ExitStack() as stack:
            try:
                source = stack.enter_context(
                    connect_sse(
                        self._client,
                        "GET",
                        url,
                        **self._sse_kwargs(self._client, params, read_timeout),
                    )
                )
            except httpx.HTTPError as err:
                raise _connection_failed("GET", url, err, started) from err
            response = source.response
            _log_response("GET", url, response, started)
            if not response.is_success:
                response.read()  # the error body, for the mapped error
            _check_stream_response(response, url)
            messages = _iter_data(source, url, read_timeout)
            stack.callback(messages.close)
            yield messages

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SyncHTTP:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _iter_data(
    source: EventSource, url: str, read_timeout: float | None
) -> Generator[str, None, None]:
    try:
        for event in source.iter_sse():
            if event.data:
                yield event.data
    except (httpx.HTTPError, SSEError) as err:
        raise _stall(url, read_timeout, err) from err


async def _aiter_data(
    source: EventSource, url: str, read_timeout: float | None
) -> AsyncGenerator[str, None]:
    try:
        async for event in source.aiter_sse():
            if event.data:
                yield event.data
    except (httpx.HTTPError, SSEError) as err:
        raise _stall(url, read_timeout, err) from err


class AsyncHTTP(_Base):
    """The asyncio twin of SyncHTTP: same names, awaitable."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        timeout: TimeoutArg = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        backoff_factor: float = DEFAULT_BACKOFF_FACTOR,
    ) -> None:
        _check_injected(http_client, httpx.AsyncClient, transport, httpx.AsyncBaseTransport)
        super().__init__(
            base_url,
            auth=auth,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            has_client=http_client is not None,
            transport=transport,
            headers=headers,
            read_reply=_aread_reply,
        )
        if http_client is None:
            http_client = httpx.AsyncClient(
                transport=RetryTransport(
                    transport or httpx.AsyncHTTPTransport(), retry=self._retry
                ),
                **self._client_options(),
            )
        self._client = http_client

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = NOT_GIVEN,
        expect: Expect = "json",
    ) -> Any:
        method, url, expect = self._prepare(self._client, method, path, expect)
        started = time.perf_counter()
        with _mapped_transport_errors(method, url, started):
            response = await self._client.request(method, url, **self._send_kwargs(params, json))
        _log_response(method, url, response, started)
        return _parse_response(response, expect, method, url)

    @contextlib.asynccontextmanager
    async def astream_sse(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        read_timeout: float | None = 60.0,
    ) -> AsyncIterator[AsyncIterator[str]]:
        """Open an SSE stream; the async iterator yields each message's ``data``."""
        url, read_timeout = self._prepare_stream(self._client, path, read_timeout)
        started = time.perf_counter()
        async with contextlib.AsyncExitStack() as stack:
            try:
                source = await stack.enter_async_context(
                    aconnect_sse(
                        self._client,
                        "GET",
                        url,
                        **self._sse_kwargs(self._client, params, read_timeout),
                    )
                )
            except httpx.HTTPError as err:
                raise _connection_failed("GET", url, err, started) from err
            response = source.response
            _log_response("GET", url, response, started)
            if not response.is_success:
                await response.aread()  # the error body, for the mapped error
            _check_stream_response(response, url)
            messages = _aiter_data(source, url, read_timeout)
            stack.push_async_callback(messages.aclose)
            yield messages

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncHTTP:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
