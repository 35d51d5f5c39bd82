"""The asyncio HTTP shell under every client: the single source of its sync twin.

Every request - with the shell's own httpx client or an injected one - goes through the retry
loop of ``retry_policy``: the whole exchange (status, body, a drop mid-body) is one attempt,
and the policy decides whether it is sent again. Building and parsing live in
``_shared/http.py``. ``scripts/unasync.py`` turns this module into ``_sync/http.py``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError, aconnect_sse

from nosana_nb.core._shared.http import (
    NOT_GIVEN,
    Expect,
    HTTPBase,
    TimeoutArg,
    check_event_stream,
    check_injected,
    connection_failed,
    invalid_url,
    log_response,
    parse_response,
    stall,
    status_error,
)
from nosana_nb.core.retry_policy import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    RetryCounter,
    Sleeper,
)
from nosana_nb.core.service_clock import ServiceClock


class AsyncHTTP(HTTPBase):
    """One client's HTTP: JSON requests and SSE streams, every one retried as the policy says."""

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
        retry_counter: RetryCounter | None = None,
        sleeper: Sleeper | None = None,
        service_clock: ServiceClock | None = None,
    ) -> None:
        check_injected(http_client, httpx.AsyncClient, transport, httpx.AsyncBaseTransport)
        super().__init__(
            base_url,
            auth=auth,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            has_client=http_client is not None,
            transport=transport,
            headers=headers,
            retry_counter=retry_counter,
            sleeper=sleeper,
            service_clock=service_clock,
        )
        if http_client is None:
            http_client = httpx.AsyncClient(transport=transport, **self._client_options())
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
        """Send one request (retried as the policy says) and parse its reply."""
        method, url, expect = self._prepare(self._client, method, path, expect)
        kwargs = self._send_kwargs(params, json)

        async def attempt() -> Any:
            started = time.perf_counter()
            try:
                response = await self._client.request(method, url, **kwargs)
            except httpx.InvalidURL as err:
                raise invalid_url(url, err) from err
            except httpx.HTTPError as err:
                raise connection_failed(method, url, err, started) from err
            log_response(method, url, response, started)
            self._observe_clock(url, response)
            return parse_response(response, expect, method, url)

        return await self._retrier(method, url).acall(attempt)

    @contextlib.asynccontextmanager
    async def stream_sse(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        read_timeout: float | None = 60.0,
    ) -> AsyncIterator[AsyncIterator[str]]:
        """Open an SSE stream; the iterator yields each message's ``data``, skipping comments.

        Opening is retried like a GET; once the stream is open, a break or a stall raises
        StreamError (reconnecting is the caller's choice: the watcher does).
        """
        url, read_timeout = self._prepare_stream(self._client, path, read_timeout)
        kwargs = self._sse_kwargs(self._client, params, read_timeout)
        async with contextlib.AsyncExitStack() as stack:

            async def attempt() -> EventSource:
                started = time.perf_counter()
                async with contextlib.AsyncExitStack() as opening:
                    try:
                        source = await opening.enter_async_context(
                            aconnect_sse(self._client, "GET", url, **kwargs)
                        )
                    except httpx.HTTPError as err:
                        raise connection_failed("GET", url, err, started) from err
                    response = source.response
                    log_response("GET", url, response, started)
                    self._observe_clock(url, response)
                    if not response.is_success:
                        await response.aread()  # the error body, for the mapped error
                        raise status_error(response, "GET", url)
                    stack.push_async_exit(opening.pop_all())
                    return source

            source = await self._retrier("GET", url).acall(attempt)
            check_event_stream(source.response, url)
            messages = _data_of(source, url, read_timeout)
            stack.push_async_callback(messages.aclose)
            yield messages

    async def aclose(self) -> None:
        """Close the shell's own httpx client (an injected one is left to its owner)."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncHTTP:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def _data_of(
    source: EventSource, url: str, read_timeout: float | None
) -> AsyncGenerator[str, None]:
    try:
        async for event in source.aiter_sse():
            if event.data:
                yield event.data
    except (httpx.HTTPError, SSEError) as err:
        raise stall(url, read_timeout, err) from err
