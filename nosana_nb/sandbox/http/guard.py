"""The sandbox's front door: which requests it serves at all, and how much of a body it reads.

An ASGI middleware in front of every route (deployment API, ``/rpc``, pinning, admin):

* ``Host`` must name the bound address, a loopback address or ``localhost``. A web page on
  ``attacker.example`` whose DNS answer is switched to 127.0.0.1 (DNS rebinding) still sends
  its own name, and gets 421.
* ``Origin``, which browsers add to cross-site requests, must be local too (any port). A
  ``text/plain`` POST needs no CORS preflight, so without this check any web page the user
  opens could call the faucet, ``requestAirdrop`` or the API. 403.
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
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nosana_nb.sandbox.context import SandboxCounters

from .limits import RPC_PATH, EdgeLimits

log = logging.getLogger("nosana_nb.sandbox")

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def _normalized(name: str) -> str:
    return name.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP literal (127.0.0.0/8, ::1)."""
    name = _normalized(host)
    if name == "localhost":
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class LocalNames:
    """The host names this sandbox answers to (``Host``) and trusts as origins (``Origin``)."""

    bound_host: str
    allow_remote: bool = False

    def accepts(self, name: str | None) -> bool:
        if not name:
            return False
        wanted = _normalized(name)
        if wanted == _normalized(self.bound_host) or is_loopback_host(wanted):
            return True
        if self.allow_remote and _normalized(self.bound_host) in _WILDCARDS:
            # bound to every interface on purpose: any IP literal names this machine; a DNS
            # name still does not, since that is what a rebinding attack controls
            try:
                ip_address(wanted)
            except ValueError:
                return False
            return True
        return False


@dataclass(frozen=True)
class _Refusal:
    status: int
    phrase: str
    message: str
    counter: str
    code: str | None = None


def _host_name(value: str) -> str | None:
    try:
        return urlsplit("//" + value).hostname
    except ValueError:
        return None


def _origin_name(value: str) -> str | None:
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None  # "null" (sandboxed frames, file:) and anything exotic
    return parts.hostname


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
    def __init__(
        self, app: ASGIApp, *, limits: EdgeLimits, counters: SandboxCounters, names: LocalNames
    ) -> None:
        self.app = app
        self.limits = limits
        self.counters = counters
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        limit = self.limits.body_limit(path)
        refusal = self._check_names(scope["headers"]) or _declared_too_large(
            scope["headers"], limit
        )
        body = b""
        if refusal is None:
            try:
                body = await self._read_body(receive, limit)
            except _BodyTooLarge:
                refusal = _too_large()
            except TimeoutError:
                refusal = self._too_slow()
            except _ClientGone:
                return
        if refusal is not None:
            self.counters.add(refusal.counter)
            log.info("refused %s %s: %s", scope["method"], path, refusal.message)
            await _send_refusal(send, path, refusal)
            return
        await self.app(scope, _replay(body, receive), send)

    def _check_names(self, headers: Iterable[tuple[bytes, bytes]]) -> _Refusal | None:
        host = _header(headers, b"host")
        if host is not None and not self.names.accepts(_host_name(host)):
            return _Refusal(
                421,
                "Misdirected Request",
                "This sandbox only answers requests addressed to its own host or localhost",
                "foreign_hosts",
            )
        origin = _header(headers, b"origin")
        if origin is not None and not self.names.accepts(_origin_name(origin)):
            message = "Cross-site requests to the sandbox are refused"
            return _Refusal(403, "Forbidden", message, "foreign_origins")
        return None

    def _too_slow(self) -> _Refusal:
        message = f"The request body did not arrive within {self.limits.body_timeout_s:g} s"
        return _Refusal(408, "Request Timeout", message, "bodies_too_slow")

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


def _declared_too_large(headers: Iterable[tuple[bytes, bytes]], limit: int) -> _Refusal | None:
    declared = _header(headers, b"content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        return _too_large()
    return None


def _too_large() -> _Refusal:
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
