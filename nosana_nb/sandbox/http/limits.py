"""How much the sandbox's HTTP edge accepts from one client, and for how long it waits.

The defaults follow the service where it has a number (Fastify: 1 MiB bodies) and a Solana
validator for ``/rpc`` (50 KiB, its JSON-RPC limit); the body deadline is the sandbox's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB

RPC_PATH = "/rpc"


@dataclass(frozen=True)
class EdgeLimits:
    body_bytes: int = MIB
    """Largest request body on every route but ``/rpc`` (the service's 413 above it)."""
    rpc_body_bytes: int = 50 * KIB
    """Largest JSON-RPC request body."""
    body_timeout_s: float = 30.0
    """Time a client has, once its headers are in, to deliver the whole body (else 408)."""

    def __post_init__(self) -> None:
        for name in ("body_bytes", "rpc_body_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive number of bytes")
        for name in ("body_timeout_s",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a positive number of seconds")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")

    def body_limit(self, path: str) -> int:
        return self.rpc_body_bytes if path == RPC_PATH else self.body_bytes
