"""Market accounts of the jobs program on the sandbox chain, in the program's layout.

The sandbox has no jobs program; it keeps each market's account at the market's address with
the bytes the real program would hold, so a client reads prices and queues with
``getAccountInfo``/``getMultipleAccounts`` as it would on devnet. Layout (Anchor): 8-byte
discriminator, authority, job_expiration (i64), job_price (u64), job_timeout (i64), job_type
(u8), vault, vault_bump (u8), node_access_key, node_xnos_minimum (u128), queue_type (u8:
0 jobs wait, 1 nodes wait, 255 empty) and the queue (u32 count, then pubkeys).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from solders.pubkey import Pubkey

JOBS_PROGRAM_ID = Pubkey.from_string("nosJhNRqr2bc9g1nfGDcXXTXvYUmxD4cVwy2pMWhrYM")
"""Owner of every market account (the Nosana jobs program)."""
MARKET_DISCRIMINATOR = bytes([201, 78, 187, 225, 240, 198, 201, 251])
JOB_TYPE_GPU = 4
QUEUE_JOBS, QUEUE_NODES, QUEUE_EMPTY = 0, 1, 255
_FIXED = struct.Struct("<8s32sqQqB32sB32s16sBI")


@dataclass(frozen=True)
class MarketState:
    """What a market account says: its terms, and who waits (nodes or jobs)."""

    authority: Pubkey
    job_expiration_s: int
    job_price: int
    job_timeout_s: int
    vault: Pubkey
    idle_nodes: Sequence[str]
    queued_jobs: Sequence[str]

    def queue(self) -> tuple[int, Sequence[str]]:
        """Idle nodes wait in a node queue; with none idle, listed jobs wait in a job queue."""
        if self.idle_nodes:
            return QUEUE_NODES, self.idle_nodes
        if self.queued_jobs:
            return QUEUE_JOBS, self.queued_jobs
        return QUEUE_EMPTY, ()


def encode_market_account(state: MarketState) -> bytes:
    queue_type, queue = state.queue()
    fixed = _FIXED.pack(
        MARKET_DISCRIMINATOR,
        bytes(state.authority),
        state.job_expiration_s,
        state.job_price,
        state.job_timeout_s,
        JOB_TYPE_GPU,
        bytes(state.vault),
        255,
        bytes(Pubkey.default()),
        (0).to_bytes(16, "little"),
        queue_type,
        len(queue),
    )
    return fixed + b"".join(bytes(Pubkey.from_string(entry)) for entry in queue)
