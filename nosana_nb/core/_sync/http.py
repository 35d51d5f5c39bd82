# generated from _async/http.py by scripts/unasync.py — do not edit
"""The blocking HTTP shell under every sync client (fine inside Jupyter's loop).

Generated from ``_async/http.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator, Mapping
from typing import Any

import httpx
from httpx_sse import connect_sse

from nosana_nb.core._shared.deadline_transport import own_transport
from nosana_nb.core._shared.http import (
    NOT_GIVEN,
    BodyReader,
    EventReader,
    Expect,
    HTTPBase,
    NotGiven,
    TimeoutArg,
    check_event_stream,
    check_injected,
    connection_failed,
    log_response,
    parse_response,
    stall,
    status_error,
    within_deadline,
)
from nosana_nb.core.retry_policy import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_STREAM_IDLE_TIMEOUT,
    DEFAULT_TIMEOUT,
    Deadline,
    RetryCounter,
    Sleeper,
)
from nosana_nb.core.service_clock import ServiceClock


class SyncHTTP(HTTPBase):
    """One client's HTTP: JSON requests and SSE streams, every one retried as the policy says."""

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
        retry_counter: RetryCounter | None = None,
        sleeper: Sleeper | None = None,
        service_clock: ServiceClock | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline: float | NotGiven | None = NOT_GIVEN,
        stream_idle_timeout: float | None = DEFAULT_STREAM_IDLE_TIMEOUT,
    ) -> None:
        check_injected(http_client, httpx.Client, transport, httpx.BaseTransport)
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
            max_response_bytes=max_response_bytes,
            deadline=deadline,
            stream_idle_timeout=stream_idle_timeout,
        )
        if http_client is None:
            http_client = httpx.Client(
                transport=transport or own_transport(), **self._client_options()
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
        """Send one request (retried as the policy says) and parse its reply.

        The whole call, retries included, ends by the shell's ``deadline``; a reply body above
        ``max_response_bytes`` raises ResponseTooLargeError.
        """
        method, url, expect = self._prepare(self._client, method, path, expect)
        deadline = Deadline(self.deadline)

        def attempt() -> Any:
            request = self._build(self._client, method, url, params, json, deadline)
            started = time.perf_counter()
            try:
                with within_deadline(deadline, method, url):
                    response = read_capped(
                        self._client,
                        request,
                        self._body_reader(method, url, deadline),
                        auth=self._auth_arg(),
                    )
            except httpx.HTTPError as err:
                raise connection_failed(method, url, err, started) from err
            log_response(method, url, response, started)
            self._observe_clock(url, response)
            return parse_response(response, expect, method, url)

        return self._retrier(method, url, deadline).call(attempt)

    @contextlib.contextmanager
    def stream_sse(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        read_timeout: float | None = 60.0,
        idle_timeout: float | NotGiven | None = NOT_GIVEN,
    ) -> Iterator[Iterator[str]]:
        """Open an SSE stream; the iterator yields each message's ``data``, skipping comments.

        Opening is retried like a GET; once the stream is open, a break or a stall raises
        StreamError (reconnecting is the caller's choice: the watcher does), no event for
        ``idle_timeout`` seconds (default: the shell's ``stream_idle_timeout``; heartbeats do
        not count) StreamIdleError, an event above ``max_response_bytes`` ResponseTooLargeError.
        """
        url, read_timeout, idle_timeout = self._prepare_stream(
            self._client, path, read_timeout, idle_timeout
        )
        kwargs = self._sse_kwargs(self._client, params, read_timeout, idle_timeout)
        with contextlib.ExitStack() as stack:

            def attempt() -> httpx.Response:
                started = time.perf_counter()
                with contextlib.ExitStack() as opening:
                    try:
                        source = opening.enter_context(
                            connect_sse(self._client, "GET", url, **kwargs)
                        )
                    except httpx.HTTPError as err:
                        raise connection_failed("GET", url, err, started) from err
                    response = source.response
                    log_response("GET", url, response, started)
                    self._observe_clock(url, response)
                    if not response.is_success:
                        # the error body, for the mapped error; bounded like any other body
                        reader = self._body_reader("GET", url, Deadline(self.deadline))
                        try:
                            reader.start(response)
                            for chunk in response.iter_bytes():
                                reader.add(chunk)
                        except httpx.HTTPError as err:
                            raise connection_failed("GET", url, err, started) from err
                        raise status_error(reader.response(response), "GET", url)
                    stack.push(opening.pop_all())
                    return response

            response = self._retrier("GET", url).call(attempt)
            check_event_stream(response, url)
            gap = kwargs["timeout"].read
            messages = _data_of(response, self._event_reader(url, idle_timeout), url, gap)
            stack.callback(messages.close)
            yield messages

    def close(self) -> None:
        """Close the shell's own httpx client (an injected one is left to its owner)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SyncHTTP:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def read_capped(
    client: httpx.Client,
    request: httpx.Request,
    reader: BodyReader,
    *,
    auth: httpx.Auth | httpx._client.UseClientDefault = httpx.USE_CLIENT_DEFAULT,
) -> httpx.Response:
    """Send ``request`` and read its body through ``reader`` (size and deadline bounded)."""
    response = client.send(request, auth=auth, stream=True)
    try:
        reader.start(response)
        for chunk in response.iter_bytes():
            reader.add(chunk)
    finally:
        response.close()
    return reader.response(response)


def _data_of(
    response: httpx.Response, reader: EventReader, url: str, read_timeout: float | None
) -> Generator[str, None]:
    try:
        for chunk in response.iter_bytes():
            events = reader.feed(chunk)  # (a list, so the generated twin has no `yield from`)
            while events:
                yield events.pop(0)
    except httpx.HTTPError as err:
        raise stall(url, read_timeout, err) from err
