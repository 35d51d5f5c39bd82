"""``requestAirdrop`` for anyone who can reach ``/rpc``: capped per request, from its own pool.

The sandbox's own faucet (``/_sandbox/faucet``, ``SandboxHandle.faucet``, used by ``connect()``)
and the service's signers draw on LiteSVM's airdrop pool. Public airdrops used to draw on the same
pool without any limit, so 46 unauthenticated requests emptied it and every later faucet call,
and so ``connect()``, failed. Now each public airdrop is capped, like devnet's, and all of them
together can spend only :data:`PUBLIC_POOL_LAMPORTS` per sandbox run; the faucet's share stays.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from solders.pubkey import Pubkey

from .errors import ChainError
from .ledger import Ledger
from .values import check_amount

LAMPORTS_PER_SOL = 10**9
MAX_PUBLIC_AIRDROP_LAMPORTS = 5 * LAMPORTS_PER_SOL
PUBLIC_POOL_LAMPORTS = 1_000 * LAMPORTS_PER_SOL


class AirdropTooLarge(ChainError):
    """One request asked for more than the per-request cap."""


class AirdropPoolEmpty(ChainError):
    """The public airdrop pool is spent for this run of the sandbox."""


@dataclass(frozen=True)
class AirdropFigures:
    granted_lamports: int
    pool_left_lamports: int
    refused: int


class PublicAirdrops:
    def __init__(
        self,
        ledger: Ledger,
        *,
        max_lamports: int = MAX_PUBLIC_AIRDROP_LAMPORTS,
        pool_lamports: int = PUBLIC_POOL_LAMPORTS,
    ) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self.max_lamports = max_lamports
        self.pool_lamports = pool_lamports
        self._granted = 0
        self._refused = 0

    def request(self, pubkey: str | Pubkey, lamports: int) -> str:
        check_amount(lamports, what="lamports")
        with self._lock:
            if lamports > self.max_lamports:
                self._refused += 1
                raise AirdropTooLarge(
                    f"airdrop request too large: at most {self.max_lamports / LAMPORTS_PER_SOL:g}"
                    " SOL per request"
                )
            if self._granted + lamports > self.pool_lamports:
                self._refused += 1
                raise AirdropPoolEmpty(
                    "the sandbox's requestAirdrop pool "
                    f"({self.pool_lamports // LAMPORTS_PER_SOL} SOL per run) is spent; fund "
                    "wallets with the sandbox faucet (SandboxHandle.faucet, POST /_sandbox/faucet)"
                )
            signature = self._ledger.airdrop(pubkey, lamports)
            self._granted += lamports
            return signature

    def figures(self) -> AirdropFigures:
        with self._lock:
            return AirdropFigures(
                granted_lamports=self._granted,
                pool_left_lamports=self.pool_lamports - self._granted,
                refused=self._refused,
            )
