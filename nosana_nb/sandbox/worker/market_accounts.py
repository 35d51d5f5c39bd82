"""Keeps each market's on-chain account current as simulated nodes go idle and busy.

After every worker pass the queue of each market account is recomputed from the jobs: the
nodes of the market's pool that run no job wait in a node queue (what the dashboard counts as
available nodes); with every node busy, the market's QUEUED jobs wait in a job queue instead.
Only accounts whose bytes change are written. A pass after which no job was written (most
passes of an idle sandbox) reads nothing, and one that moved no job's node or queue place writes
nothing; the busy nodes and the queues are read through the store's state index, without
copying a job.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from solders.pubkey import Pubkey

from nosana_nb.sandbox.chain.market_accounts import MarketState
from nosana_nb.sandbox.store import Store

from .markets import MARKETS, MarketSpec
from .network import Network


class MarketAccountChain(Protocol):
    def write_market_account(self, address: str, state: MarketState) -> bool: ...


def _derived(purpose: str, market: MarketSpec) -> Pubkey:
    digest = hashlib.sha256(f"nosana-sandbox-{purpose}:{market.address}".encode()).digest()
    return Pubkey.from_bytes(digest)


class MarketAccounts:
    def __init__(self, store: Store, chain: MarketAccountChain, network: Network) -> None:
        self._store = store
        self._chain = chain
        self._network = network
        self._last_seen: tuple[frozenset[str], dict[str, list[tuple[str, str]]]] | None = None
        self._jobs_generation: int | None = None

    def refresh(self) -> int:
        """Write every market account whose queue changed; returns how many were written."""
        busy: set[str] = set()
        queued: dict[str, list[tuple[str, str]]] = {}
        with self._store.lock:
            generation = self._store.generation("jobs")
            if generation == self._jobs_generation:
                return 0  # no job written since the last refresh
            for job in self._store.scan("jobs", state="RUNNING"):
                if job.get("node"):
                    busy.add(str(job["node"]))
            for job in self._store.scan("jobs", state="QUEUED"):
                waiting_in = str(job.get("market"))
                queued.setdefault(waiting_in, []).append((str(job["created_at"]), str(job["job"])))
        seen = (frozenset(busy), queued)
        if seen == self._last_seen:
            # only this worker writes market accounts: they still hold these queues
            self._jobs_generation = generation
            return 0
        written = 0
        for market in MARKETS:
            pool = self._network.nodes(market.address)
            state = MarketState(
                authority=_derived("market-authority", market),
                job_expiration_s=market.job_expiration_s,
                job_price=market.job_price,
                job_timeout_s=market.job_timeout_s,
                vault=_derived("market-vault", market),
                idle_nodes=[node for node in pool if node not in busy],
                queued_jobs=[job for _, job in sorted(queued.get(market.address, []))],
            )
            written += self._chain.write_market_account(market.address, state)
        # remembered once every account is written: a failed write is retried next pass
        self._last_seen, self._jobs_generation = seen, generation
        return written
