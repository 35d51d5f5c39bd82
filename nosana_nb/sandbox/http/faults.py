"""Fault injection for reliability tests: latency, error answers and dropped connections.

An ASGI middleware in front of the API. Faults apply to requests whose path starts with one of
``apply_to`` (default: the deployment-manager routes; add ``"/rpc"`` or ``"/api/markets"`` to
fault those too); ``/_sandbox/*`` is never faulted so tests can always switch faults off again.
With ``after_commit`` a faulted *write* runs its handler first and only then fails, which is the
"unknown outcome" case a client must survive.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_APPLY_TO = ("/deployments", "/api/deployments")
NEVER_FAULTED = "/_sandbox"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_ERROR_STATUSES = (500, 502, 503)
_PHRASES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}

FaultKind = Literal["error", "drop"]


class FaultConfigError(ValueError):
    """A fault setting is out of range."""


def _rate(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise FaultConfigError(f"{name} must be a number between 0 and 1")
    return float(value)


@dataclass(frozen=True)
class Decision:
    latency_s: float
    kind: FaultKind | None
    status: int
    after_commit: bool


class FaultSettings:
    """Thread-safe, seeded fault configuration shared by the middleware and the admin route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency_ms = 0.0
        self.error_rate = 0.0
        self.drop_rate = 0.0
        self.seed = 0
        self.after_commit = False
        self.apply_to: tuple[str, ...] = DEFAULT_APPLY_TO
        self._rng = random.Random(0)
        self._injected = {"error": 0, "drop": 0, "after_commit": 0}

    def configure(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the settings (missing keys take defaults); validates everything first."""
        known = {"latency_ms", "error_rate", "drop_rate", "seed", "apply_to", "after_commit"}
        unknown = set(options) - known
        if unknown:
            raise FaultConfigError(f"unknown fault settings: {sorted(unknown)}")
        latency = options.get("latency_ms", 0)
        if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0:
            raise FaultConfigError("latency_ms must be a number >= 0")
        error_rate = _rate("error_rate", options.get("error_rate", 0))
        drop_rate = _rate("drop_rate", options.get("drop_rate", 0))
        if error_rate + drop_rate > 1:
            raise FaultConfigError("error_rate + drop_rate must not exceed 1")
        seed = options.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise FaultConfigError("seed must be an integer")
        apply_to = options.get("apply_to", list(DEFAULT_APPLY_TO))
        if not (isinstance(apply_to, list | tuple) and all(isinstance(p, str) for p in apply_to)):
            raise FaultConfigError("apply_to must be a list of path prefixes")
        if any(not p.startswith("/") for p in apply_to):
            raise FaultConfigError("apply_to prefixes must start with '/'")
        after_commit = options.get("after_commit", False)
        if not isinstance(after_commit, bool):
            raise FaultConfigError("after_commit must be a boolean")
        with self._lock:
            self.latency_ms = float(latency)
            self.error_rate = error_rate
            self.drop_rate = drop_rate
            self.seed = seed
            self.after_commit = after_commit
            self.apply_to = tuple(apply_to)
            self._rng = random.Random(seed)
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency_ms": self.latency_ms,
                "error_rate": self.error_rate,
                "drop_rate": self.drop_rate,
                "seed": self.seed,
                "after_commit": self.after_commit,
                "apply_to": list(self.apply_to),
            }

    def injected(self) -> dict[str, int]:
        """Faults injected so far: errors, drops, and how many hit an already committed write."""
        with self._lock:
            return {**self._injected, "total": self._injected["error"] + self._injected["drop"]}

    def applies(self, path: str) -> bool:
        if path.startswith(NEVER_FAULTED):
            return False
        with self._lock:
            return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.apply_to)

    def decide(self, method: str) -> Decision:
        with self._lock:
            draw = self._rng.random()
            kind: FaultKind | None = None
            if draw < self.drop_rate:
                kind = "drop"
            elif draw < self.drop_rate + self.error_rate:
                kind = "error"
            status = self._rng.choice(_ERROR_STATUSES) if kind == "error" else 0
            after = kind is not None and self.after_commit and method in WRITE_METHODS
            if kind is not None:
                self._injected[kind] += 1
                self._injected["after_commit"] += after
            return Decision(self.latency_ms / 1000, kind, status, after)


class FaultMiddleware:
    def __init__(self, app: ASGIApp, settings: FaultSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.settings.applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        decision = self.settings.decide(scope["method"])
        if decision.latency_s > 0:
            await anyio.sleep(decision.latency_s)
        if decision.kind is None:
            await self.app(scope, receive, send)
            return
        if decision.after_commit:
            await self.app(scope, receive, _discard)
        if decision.kind == "drop":
            await _drop(send)
        else:
            await _error(send, decision.status)


async def _discard(message: Message) -> None:
    """Swallow the handler's real response (its effects are already committed)."""


async def _error(send: Send, status: int) -> None:
    body = json.dumps({"error": _PHRASES[status]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-sandbox-fault", b"error"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Send) -> None:
    """Promise a body and never send it: the server closes the connection mid-response, so
    the client sees a protocol error rather than any HTTP answer it could trust."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"1"), (b"x-sandbox-fault", b"drop")],
        }
    )
