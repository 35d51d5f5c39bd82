"""The sandbox's front door: how much of a request body it reads, and for how long.

An ASGI middleware in front of every route (deployment API, ``/rpc``, pinning, admin):

* The body is read here, before routing and authentication, up to the route's limit and within
  a deadline (``limits.py``): a declared ``Content-Length`` over the limit is refused before a
  byte is read, a chunked body as soon as it passes the limit (413); a body that trickles in
  slower than the deadline gets 408. Routes see the buffered body.

Refusals answer in the route's format (Fastify's error object, or a JSON-RPC error on ``/rpc``)
and close the connection, since the rest of the body is never read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nosana_nb.sandbox.context import SandboxCounters

from .limits import RPC_PATH, EdgeLimits

log = logging.getLogger("nosana_nb.sandbox")


@dataclass(frozen=True)
class _Refusal:
    status: int
    phrase: str
    message: str
    counter: str
    code: str | None = None


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    found = None
    for key, value in headers:
        if key.lower() == name:
            found = value.decode("latin-1")
    return found


class _BodyTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class EdgeGuard:
    def __init__(self, app: ASGIApp, *, limits: EdgeLimits, counters: SandboxCounters) -> None:
        self.app = app
        self.limits = limits
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        refusal: _Refusal | None = None
        limit = self.limits.body_limit(path)
        declared = _header(scope["headers"], b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            refusal = _too_large(limit)
        if refusal is None:
            try:
                body = await self._read_body(receive, limit)
            except _BodyTooLarge:
                refusal = _too_large(limit)
            except _ClientGone:
                return
            except TimeoutError:
                refusal = _Refusal(
                    408,
                    "Request Timeout",
                    f"The request body did not arrive within {self.limits.body_timeout_s:g} s",
                    "bodies_too_slow",
                )
        if refusal is not None:
            self.counters.add(refusal.counter)
            log.info("refused %s %s: %s", scope["method"], path, refusal.message)
            await _send_refusal(send, path, refusal)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, receive: Receive, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        with anyio.fail_after(self.limits.body_timeout_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise _BodyTooLarge
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)


def _too_large(limit: int) -> _Refusal:
    return _Refusal(
        413,
        "Payload Too Large",
        "Request body is too large",
        "bodies_too_large",
        code="FST_ERR_CTP_BODY_TOO_LARGE",
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """The buffered body as one message, then the connection's own messages (disconnects)."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _send_refusal(send: Send, path: str, refusal: _Refusal) -> None:
    content: dict[str, Any]
    if path == RPC_PATH:
        content = {
            "jsonrpc": "2.0",
            "error": {"code": -32600, "message": refusal.message},
            "id": None,
        }
    else:
        content = {"statusCode": refusal.status}
        if refusal.code is not None:
            content["code"] = refusal.code
        content |= {"error": refusal.phrase, "message": refusal.message}
    payload = json.dumps(content, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
