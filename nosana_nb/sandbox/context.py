"""What every request handler of the sandbox API can reach, and the interfaces it relies on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from solders.pubkey import Pubkey

from .clock import Clock
from .http.faults import FaultSettings
from .store import Store

DEFAULT_FRPS_DOMAIN = "node.k8s.dev.nos.ci"


class ChainLike(Protocol):
    """The part of ``sandbox.chain.Chain`` the API uses."""

    @property
    def nos_mint(self) -> Pubkey: ...

    def airdrop(self, pubkey: str, lamports: int) -> str: ...

    def mint_nos(self, owner: str, base_units: int) -> str: ...

    def sol_balance(self, pubkey: str) -> int: ...

    def nos_balance(self, owner: str) -> int: ...

    def build_withdraw_tx(self, vault_secret: bytes, owner: str) -> str: ...


class WorkerLike(Protocol):
    """The part of ``sandbox.worker.Worker`` the API uses."""

    def stats(self) -> dict[str, Any]: ...

    def idle_nodes(self, market_address: str) -> int: ...

    def market_nodes(self, market_address: str) -> tuple[str, ...]: ...

    def advance(self, seconds: float, *, step: float | None = None) -> None: ...


@dataclass
class SandboxContext:
    store: Store
    clock: Clock
    chain: ChainLike
    worker: WorkerLike
    frps_domain: str = DEFAULT_FRPS_DOMAIN
    wall_time: Callable[[], float] = time.time
    keepalive_s: float = 25.0
    faults: FaultSettings = field(default_factory=FaultSettings)
    rpc_url: str = ""
    api_url: str = ""
    openapi: dict[str, Any] = field(default_factory=dict)
    unhandled_errors: int = 0
    """Exceptions no handler turned into an answer (a bug, whatever the client sent)."""
