"""The jobs program's market account, decoded: price, timeouts and the queue of a market.

Layout (Anchor; docs/wire-contract.md §14.2): an 8-byte discriminator, then ``authority``
(pubkey, offset 8), ``job_expiration`` (i64 s, 40), ``job_price`` (u64 NOS base units per
second, 48), ``job_timeout`` (i64 s, 56), ``job_type`` (u8, 64), ``vault`` (pubkey, 65),
``vault_bump`` (u8, 97), ``node_access_key`` (pubkey, 98), ``node_xnos_minimum`` (u128, 130),
``queue_type`` (u8, 146: 0 jobs wait, 1 nodes wait, 255 empty) and ``queue`` (u32 count then
that many pubkeys, 147). A node queue lists the market's idle nodes: the dashboard's
"available nodes" is its length.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from solders.pubkey import Pubkey

MARKET_ACCOUNT_DISCRIMINATOR = bytes([201, 78, 187, 225, 240, 198, 201, 251])
QUEUE_TYPE_JOBS = 0
QUEUE_TYPE_NODES = 1
QUEUE_TYPE_EMPTY = 255
_HEADER = struct.Struct("<8s32sqQqB32sB32s16sBI")
_PUBKEY_LEN = 32


@dataclass(frozen=True)
class MarketAccount:
    address: str
    authority: str
    job_expiration_seconds: int
    job_price_base_units_per_second: int
    job_timeout_seconds: int
    job_type: int
    vault: str
    vault_bump: int
    node_access_key: str
    node_xnos_minimum: int
    queue_type: int
    queue: tuple[str, ...]

    @property
    def idle_nodes(self) -> int:
        """Nodes waiting for work (0 when jobs are waiting instead)."""
        return len(self.queue) if self.queue_type == QUEUE_TYPE_NODES else 0

    @property
    def queued_jobs(self) -> int:
        """Jobs waiting for a node (0 when nodes are waiting instead)."""
        return len(self.queue) if self.queue_type == QUEUE_TYPE_JOBS else 0


def decode_market_account(address: str, data: bytes) -> MarketAccount:
    """Decode a market account's data; ValueError when it is not one."""
    if len(data) < _HEADER.size:
        raise ValueError(
            f"{address}: {len(data)} bytes is too short for a market account ({_HEADER.size}+)"
        )
    (
        discriminator,
        authority,
        expiration,
        price,
        timeout,
        job_type,
        vault,
        vault_bump,
        access_key,
        xnos_minimum,
        queue_type,
        count,
    ) = _HEADER.unpack_from(data)
    if discriminator != MARKET_ACCOUNT_DISCRIMINATOR:
        raise ValueError(f"{address}: not a market account (discriminator mismatch)")
    end = _HEADER.size + count * _PUBKEY_LEN
    if end > len(data):
        raise ValueError(f"{address}: the queue claims {count} entries but the account holds fewer")
    queue = tuple(
        str(Pubkey.from_bytes(data[offset : offset + _PUBKEY_LEN]))
        for offset in range(_HEADER.size, end, _PUBKEY_LEN)
    )
    return MarketAccount(
        address=address,
        authority=str(Pubkey.from_bytes(authority)),
        job_expiration_seconds=expiration,
        job_price_base_units_per_second=price,
        job_timeout_seconds=timeout,
        job_type=job_type,
        vault=str(Pubkey.from_bytes(vault)),
        vault_bump=vault_bump,
        node_access_key=str(Pubkey.from_bytes(access_key)),
        node_xnos_minimum=int.from_bytes(xnos_minimum, "little"),
        queue_type=queue_type,
        queue=queue,
    )
