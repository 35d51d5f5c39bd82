"""What every request handler of the sandbox API can reach, and the interfaces it relies on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from solders.pubkey import Pubkey

from .clock import Clock
from .http.faults import FaultSettings
from .http.limits import EdgeLimits
from .store import Store

if TYPE_CHECKING:
    from .worker.credit_jobs import CreditJobs

DEFAULT_FRPS_DOMAIN = "node.k8s.dev.nos.ci"
DEFAULT_ENDPOINT_BOOT_S = 60.0

COUNTER_NAMES = (
    "unhandled_errors",
    "foreign_hosts",
    "foreign_origins",
    "bodies_too_large",
    "bodies_too_slow",
    "bodies_too_deep",
    "slow_heads_closed",
    "connections_evicted",
    "connections_refused",
)


class SandboxCounters:
    """Thread-safe counts of what the sandbox refused, and of what it failed to handle.

    ``unhandled_errors`` counts exceptions that no handler turned into an answer: a bug,
    whatever the client sent, so the hardening tests require it to stay 0. The others count
    refusals of hostile or broken clients (``GET /_sandbox/stats``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTER_NAMES, 0)

    def add(self, name: str, amount: int = 1) -> None:
        if name not in self._counts:
            raise KeyError(f"unknown sandbox counter {name!r}")
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class ChainLike(Protocol):
    """The part of ``sandbox.chain.Chain`` the API uses."""

    @property
    def nos_mint(self) -> Pubkey: ...

    def airdrop(self, pubkey: str, lamports: int) -> str: ...

    def public_airdrops(self) -> Any: ...

    def mint_nos(self, owner: str, base_units: int) -> str: ...

    def sol_balance(self, pubkey: str) -> int: ...

    def nos_balance(self, owner: str) -> int: ...

    def build_withdraw_tx(self, vault_secret: bytes, owner: str) -> str: ...


class WorkerLike(Protocol):
    """The part of ``sandbox.worker.Worker`` the API uses."""

    def stats(self) -> dict[str, Any]: ...

    def idle_nodes(self, market_address: str) -> int: ...

    @property
    def credit_jobs(self) -> CreditJobs: ...

    def market_nodes(self, market_address: str) -> tuple[str, ...]: ...

    def advance(self, seconds: float, *, step: float | None = None) -> None: ...

    @property
    def failed_passes(self) -> int: ...


@dataclass
class SandboxContext:
    store: Store
    clock: Clock
    chain: ChainLike
    worker: WorkerLike
    frps_domain: str = DEFAULT_FRPS_DOMAIN
    endpoint_boot_s: float = DEFAULT_ENDPOINT_BOOT_S
    """Shortest simulated boot of a job's container before its endpoints answer 200."""
    wall_time: Callable[[], float] = time.time
    keepalive_s: float = 25.0
    faults: FaultSettings = field(default_factory=FaultSettings)
    rpc_url: str = ""
    api_url: str = ""
    openapi: dict[str, Any] = field(default_factory=dict)
    counters: SandboxCounters = field(default_factory=SandboxCounters)
    limits: EdgeLimits = field(default_factory=EdgeLimits)
    """The HTTP edge's limits; the route pipeline reads its body cap from here too."""

    @property
    def unhandled_errors(self) -> int:
        """Exceptions no handler turned into an answer (a bug, whatever the client sent)."""
        return self.counters.get("unhandled_errors")
