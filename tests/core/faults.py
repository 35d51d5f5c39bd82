"""A transport that injects scripted faults in front of a real one (sync and async at once).

    faults = FaultyTransport(httpx.MockTransport(fake))          # or the sandbox over HTTP
    faults.plan("POST", "/deployments/create", "drop_after")     # the next matching request
    client = NosanaClient(network, wallet, transport=faults)

Kinds: ``refuse`` (connection refused, nothing sent), ``dns`` (name resolution failed, nothing
sent), ``429``/``502``/``503``/``500`` (answered without reaching the handler), ``drop_after``
(the request is handled, then the connection drops before the reply), ``cut_stream`` (the
reply starts, then the connection breaks after its first chunk). Every request is recorded,
with the timeout httpx attached to it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

KINDS = ("refuse", "dns", "429", "500", "502", "503", "drop_after", "cut_stream")
_PHRASES = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}


@dataclass
class Planned:
    method: str
    path: str
    kind: str
    injected: bool = False


@dataclass
class Seen:
    method: str
    path: str
    headers: httpx.Headers
    timeout: dict[str, float | None]
    fault: str | None
    params: dict[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def body(self) -> bytes:
        return self.content

    @property
    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


@dataclass
class FaultyTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Injects each planned fault once, into the first request matching its method and path."""

    inner: httpx.BaseTransport | None = None
    inner_async: httpx.AsyncBaseTransport | None = None
    planned: list[Planned] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def over(cls, transport: httpx.MockTransport) -> FaultyTransport:
        return cls(inner=transport, inner_async=transport)

    @classmethod
    def over_http(cls) -> FaultyTransport:
        return cls(inner=httpx.HTTPTransport(), inner_async=httpx.AsyncHTTPTransport())

    def plan(self, method: str, path: str, kind: str) -> None:
        assert kind in KINDS, kind
        with self._lock:
            self.planned.append(Planned(method.upper(), path, kind))

    @property
    def injected(self) -> list[Planned]:
        with self._lock:
            return [p for p in self.planned if p.injected]

    def requests(self, method: str, path: str | None = None, *, exact: bool = False) -> list[Seen]:
        """Requests seen with ``method`` whose path starts with (or, ``exact``, is) ``path``."""
        with self._lock:
            return [
                s
                for s in self.seen
                if s.method == method
                and (path is None or s.path == path or (not exact and s.path.startswith(path)))
            ]

    def _take(self, request: httpx.Request) -> str | None:
        path = request.url.path
        with self._lock:
            fault = next(
                (
                    p
                    for p in self.planned
                    if not p.injected and p.method == request.method and path.startswith(p.path)
                ),
                None,
            )
            if fault is not None:
                fault.injected = True
            timeout = dict(request.extensions.get("timeout", {}))
            kind = None if fault is None else fault.kind
            try:
                content = request.content
            except httpx.RequestNotRead:  # a streamed body: not recorded
                content = b""
            params = dict(request.url.params)
            self.seen.append(
                Seen(request.method, path, request.headers, timeout, kind, params, content)
            )
            return kind

    @staticmethod
    def _before(kind: str | None, request: httpx.Request) -> httpx.Response | None:
        if kind == "refuse":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if kind == "dns":
            raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)
        if kind is not None and kind.isdigit():
            status = int(kind)
            body = json.dumps({"error": _PHRASES.get(status, "Service Unavailable")}).encode()
            return httpx.Response(
                status, content=body, headers={"content-type": "application/json"}
            )
        return None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert self.inner is not None
        kind = self._take(request)
        early = self._before(kind, request)
        if early is not None:
            return early
        response = self.inner.handle_request(request)
        if kind == "drop_after":
            response.read()
            response.close()
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            )
        if kind == "cut_stream":
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=_CutStream(response),
                request=request,
            )
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert self.inner_async is not None
        kind = self._take(request)
        early = self._before(kind, request)
        if early is not None:
            return early
        response = await self.inner_async.handle_async_request(request)
        if kind == "drop_after":
            await response.aread()
            await response.aclose()
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            )
        if kind == "cut_stream":
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=_CutStream(response),
                request=request,
            )
        return response

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()

    async def aclose(self) -> None:
        if self.inner_async is not None:
            await self.inner_async.aclose()


class _CutStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The first chunk of a reply, then a broken connection."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        chunks = self._response.iter_raw()
        try:
            yield next(chunks, b"")
        finally:
            chunks.close()
            self._response.close()
        raise httpx.ReadError("connection reset by peer")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._response.aiter_raw()
        try:
            yield await anext(chunks, b"")
        finally:
            await chunks.aclose()
            await self._response.aclose()
        raise httpx.ReadError("connection reset by peer")
