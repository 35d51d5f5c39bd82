"""How much the sandbox's HTTP edge accepts from one client, and for how long it waits.

The defaults follow the service where it has a number (Fastify: 1 MiB bodies; Node: 16 KiB of
headers, 5 s keep-alive) and a Solana validator for ``/rpc`` (50 KiB, its JSON-RPC limit).
The timeouts and the connection cap are the sandbox's own: without them a few hundred clients
that send half a request hold every file descriptor of the process.
"""

from __future__ import annotations

import math
import resource
from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB

RPC_PATH = "/rpc"
_FD_RESERVE = 64
"""Descriptors kept for the process itself: SQLite and its WAL, LiteSVM, logs, pipes."""


def default_max_connections() -> int:
    """Under half of what the descriptor limit leaves after the reserve: an in-process client
    (a notebook's ``connect()``) holds the other end of each connection in the same process,
    and connections being closed to make room still hold theirs for a moment."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 4096
    return max(8, min(1024, (soft - _FD_RESERVE) * 4 // 9))


@dataclass(frozen=True)
class EdgeLimits:
    """What the sandbox's HTTP edge accepts: body and header sizes, timeouts, connections."""

    body_bytes: int = MIB
    """Largest request body on every route but ``/rpc`` (the service's 413 above it)."""
    rpc_body_bytes: int = 50 * KIB
    """Largest JSON-RPC request body."""
    body_timeout_s: float = 30.0
    """Time a client has, once its headers are in, to deliver the whole body (else 408)."""
    head_timeout_s: float = 10.0
    """Time a connection may sit without completing a request's headers (then it is closed)."""
    keep_alive_s: int = 5
    """Idle time between requests before a kept-alive connection is closed."""
    max_header_bytes: int = 16 * KIB
    """Largest request line plus headers (h11 answers 400 above it)."""
    max_connections: int = 0
    """Open connections at most; 0 derives it from the descriptor limit. At the cap, the
    connection that has waited longest for its request headers is dropped for the new one."""

    def __post_init__(self) -> None:
        for name in ("body_bytes", "rpc_body_bytes", "max_header_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive number of bytes")
        for name in ("body_timeout_s", "head_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a positive number of seconds")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        if isinstance(self.keep_alive_s, bool) or not isinstance(self.keep_alive_s, int):
            raise ValueError("keep_alive_s must be a whole number of seconds >= 1")
        if self.keep_alive_s < 1:
            raise ValueError("keep_alive_s must be a whole number of seconds >= 1")
        if isinstance(self.max_connections, bool) or not isinstance(self.max_connections, int):
            raise ValueError("max_connections must be an integer (0 = from the descriptor limit)")
        if self.max_connections < 0:
            raise ValueError("max_connections must be >= 0 (0 = from the descriptor limit)")

    def body_limit(self, path: str) -> int:
        """The largest request body accepted on ``path``.

        Args:
            path: the request path.

        Returns:
            Bytes.
        """
        return self.rpc_body_bytes if path == RPC_PATH else self.body_bytes

    def connection_cap(self) -> int:
        """Open connections at most (``max_connections``, or derived from the fd limit).

        Returns:
            The cap.
        """
        return self.max_connections or default_max_connections()
