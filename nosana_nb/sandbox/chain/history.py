"""The chain's transaction history: one record per executed transaction, indexed by address.

The ledger writes a record in the same SQLite transaction as the accounts the transaction
changed; the JSON-RPC layer reads them back for ``getTransaction``, ``getSignatureStatuses``
and ``getSignaturesForAddress``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from nosana_nb.sandbox.store import Store

from .values import parse_pubkey

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS chain_transactions (seq INTEGER PRIMARY KEY,"
    " signature TEXT NOT NULL UNIQUE, slot INTEGER NOT NULL, block_time INTEGER NOT NULL,"
    " raw BLOB NOT NULL, meta TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chain_tx_accounts (pubkey TEXT NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY (pubkey, seq))",
)


@dataclass(frozen=True)
class TxRecord:
    """One executed transaction as the history keeps it."""

    seq: int
    signature: str
    slot: int
    block_time: int
    raw: bytes
    meta: dict[str, Any]

    @property
    def transaction(self) -> VersionedTransaction:
        return VersionedTransaction.from_bytes(self.raw)

    @property
    def err(self) -> Any:
        return self.meta.get("err")


class History:
    """Signature records in the store (tables ``chain_transactions`` and ``chain_tx_accounts``)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = store.lock
        with self._lock:
            for statement in _SCHEMA:
                store.conn.execute(statement)

    def record(
        self,
        *,
        signature: str,
        slot: int,
        block_time: int,
        raw: bytes,
        meta: dict[str, Any],
        accounts: Sequence[Pubkey],
    ) -> None:
        """Add one transaction; the caller holds ``store.transaction()`` for its account writes."""
        conn = self._store.conn
        cursor = conn.execute(
            "INSERT INTO chain_transactions (signature, slot, block_time, raw, meta)"
            " VALUES (?, ?, ?, ?, ?)",
            (signature, slot, block_time, raw, json.dumps(meta)),
        )
        seq = cursor.lastrowid
        conn.executemany(
            "INSERT OR IGNORE INTO chain_tx_accounts (pubkey, seq) VALUES (?, ?)",
            [(str(key), seq) for key in accounts],
        )

    def seq_of(self, signature: str) -> int | None:
        """The record's position in the history, or None for a signature never executed."""
        row = self._store.conn.execute(
            "SELECT seq FROM chain_transactions WHERE signature = ?", (signature,)
        ).fetchone()
        return int(row[0]) if row is not None else None

    def transaction(self, signature: str) -> TxRecord | None:
        with self._lock:
            row = self._store.conn.execute(
                "SELECT seq, signature, slot, block_time, raw, meta FROM chain_transactions"
                " WHERE signature = ?",
                (signature,),
            ).fetchone()
        return _record(row) if row is not None else None

    def signatures_for_address(
        self,
        address: str | Pubkey,
        *,
        limit: int = 1000,
        before: str | None = None,
        until: str | None = None,
    ) -> list[TxRecord]:
        """Transactions that reference ``address``, newest first."""
        key = str(parse_pubkey(address))
        with self._lock:
            upper = self.seq_of(before) if before is not None else None
            lower = self.seq_of(until) if until is not None else None
            rows = self._store.conn.execute(
                "SELECT t.seq, t.signature, t.slot, t.block_time, t.raw, t.meta"
                " FROM chain_tx_accounts a JOIN chain_transactions t ON t.seq = a.seq"
                " WHERE a.pubkey = ? AND a.seq < ? AND a.seq > ? ORDER BY a.seq DESC LIMIT ?",
                (
                    key,
                    upper if upper is not None else 2**62,
                    lower if lower is not None else -1,
                    limit,
                ),
            ).fetchall()
        return [_record(row) for row in rows]


def _record(row: tuple[Any, ...]) -> TxRecord:
    seq, signature, slot, block_time, raw, meta = row
    return TxRecord(int(seq), signature, int(slot), int(block_time), bytes(raw), json.loads(meta))
