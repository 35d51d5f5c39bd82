"""The durable half of the ledger: ``chain_meta`` (service keys, blockhash seed, slot) and
``chain_accounts`` (every account LiteSVM would otherwise forget when the process ends)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from solders.account import Account
from solders.pubkey import Pubkey

from nosana_nb.sandbox.store import Store

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS chain_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chain_accounts (pubkey TEXT PRIMARY KEY, lamports INTEGER NOT NULL,"
    " data BLOB NOT NULL, owner TEXT NOT NULL, executable INTEGER NOT NULL,"
    " rent_epoch TEXT NOT NULL)",
)


class SavedState:
    """Reads and writes of the two tables; writers run inside the ledger's store transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store
        for statement in _SCHEMA:
            store.conn.execute(statement)

    def meta(self) -> dict[str, str]:
        """Everything ``chain_meta`` holds; empty for a chain that has no genesis yet."""
        return dict(self._store.conn.execute("SELECT key, value FROM chain_meta").fetchall())

    def write_meta(self, values: Mapping[str, str]) -> None:
        self._store.conn.executemany(
            "INSERT OR REPLACE INTO chain_meta (key, value) VALUES (?, ?)", values.items()
        )

    def save_slot(self, slot: int) -> None:
        self._store.conn.execute("UPDATE chain_meta SET value = ? WHERE key = 'slot'", (str(slot),))

    def accounts(self) -> Iterator[tuple[Pubkey, Account]]:
        rows = self._store.conn.execute(
            "SELECT pubkey, lamports, data, owner, executable, rent_epoch FROM chain_accounts"
        )
        for pubkey, lamports, data, owner, executable, rent_epoch in rows:
            yield (
                Pubkey.from_string(pubkey),
                Account(
                    lamports=lamports,
                    data=bytes(data),
                    owner=Pubkey.from_string(owner),
                    executable=bool(executable),
                    rent_epoch=int(rent_epoch),
                ),
            )

    def save_account(self, key: Pubkey, account: Account | None) -> None:
        """Store ``account`` under ``key``; a closed account (None, or empty) is deleted."""
        conn = self._store.conn
        if account is None or (account.lamports == 0 and not account.data):
            conn.execute("DELETE FROM chain_accounts WHERE pubkey = ?", (str(key),))
            return
        conn.execute(
            "INSERT OR REPLACE INTO chain_accounts"
            " (pubkey, lamports, data, owner, executable, rent_epoch) VALUES (?, ?, ?, ?, ?, ?)",
            (
                str(key),
                account.lamports,
                bytes(account.data),
                str(account.owner),
                int(account.executable),
                str(account.rent_epoch),
            ),
        )
