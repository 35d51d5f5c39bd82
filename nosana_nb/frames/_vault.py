"""A vault's SOL and NOS balance history, rebuilt from its Solana transaction history.

Each ``getTransaction`` result (standard JSON-RPC shape, ``encoding: "json"``) carries the
balances of every account it touched before and after: ``meta.preBalances/postBalances`` for
lamports (indexed like the account keys) and ``meta.preTokenBalances/postTokenBalances`` for
token accounts (with owner and mint). A transaction that does not touch one of the two
balances leaves it unchanged, so unknown values are carried from the neighbouring rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import _convert as cv
from nosana_nb.frames.schema import empty_frame, schema_of

LAMPORTS_PER_SOL = 10**9
NOS_BASE_UNITS_PER_NOS = 10**6
MAX_SIGNATURES_PER_CALL = 1000
JOBS_PROGRAMS = {
    # NOS mint -> Nosana jobs program of that network (the official SDKs' network constants)
    "nosXBVoaCTtYdLvKY6Csb4AC8JCdQKKAaWYtx2ZMoo7": "nosJhNRqr2bc9g1nfGDcXXTXvYUmxD4cVwy2pMWhrYM",
    "devr1BGQndEW5k5zfvG5FsLyZv1Ap73vNgAHcQ9sUVP": "nosJTmGQxvwXy23vng5UjkTbfv91Bzf9jEuro78dAGR",
}
"""On mainnet and devnet the jobs program moves job deposits in both directions, so NOS that
reaches the vault in a transaction invoking it is a refund, never a top-up."""


@dataclass(frozen=True)
class _Movement:
    """What one transaction did to the vault; ``None`` means the balance was not in the tx."""

    position: int
    slot: int
    block_time: int | None
    signature: str
    failed: bool
    sol_before: int | None
    sol_after: int | None
    nos_before: int | None
    nos_after: int | None
    kind_hint: _KindHint


@dataclass(frozen=True)
class _KindHint:
    fee_payer_is_vault: bool
    vault_in_keys: bool
    fee_payer_sent_sol: bool
    nos_sources: frozenset[str]
    nos_receivers: frozenset[str]
    """Owners of NOS accounts this transaction credited, the vault excluded."""
    other_nos_receivers: bool
    invokes_jobs_program: bool


def _get(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise ValidationError(f"{where} has no {key!r}", argument="transactions")
    return mapping[key]


def _account_keys(tx: Mapping[str, Any], where: str) -> list[str]:
    message = _get(_get(tx, "transaction", where), "message", where)
    keys = [
        k.get("pubkey") if isinstance(k, Mapping) else k
        for k in _get(message, "accountKeys", where)
    ]
    loaded = (tx.get("meta") or {}).get("loadedAddresses") or {}
    keys += list(loaded.get("writable") or []) + list(loaded.get("readonly") or [])
    checked = [k for k in keys if isinstance(k, str)]
    if len(checked) != len(keys):
        raise ValidationError(f"{where} has non-string account keys", argument="transactions")
    return checked


def _token_amounts(entries: Any, mint: str, where: str) -> dict[int, tuple[str, int]]:
    """accountIndex -> (owner, base units) for token balances of ``mint``."""
    found: dict[int, tuple[str, int]] = {}
    for entry in entries or []:
        if not isinstance(entry, Mapping) or entry.get("mint") != mint:
            continue
        amount: Any = (entry.get("uiTokenAmount") or {}).get("amount")
        try:
            units = int(amount)
        except (TypeError, ValueError):
            raise ValidationError(
                f"{where} has a token amount that is not an integer string: {amount!r}",
                argument="transactions",
            ) from None
        found[int(entry.get("accountIndex", -1))] = (str(entry.get("owner")), units)
    return found


def _lamports(meta: Mapping[str, Any], field: str, index: int, where: str) -> int:
    values = _get(meta, field, where)
    value = values[index] if isinstance(values, list) and index < len(values) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"{where}.meta.{field}[{index}] is not an integer", argument="transactions"
        )
    return value


def _movement(tx: Mapping[str, Any], position: int, vault: str, mint: str) -> _Movement:
    where = f"transactions[{position}]"
    meta = _get(tx, "meta", where)
    if not isinstance(meta, Mapping):
        raise ValidationError(f"{where} has no meta (not yet confirmed?)", argument="transactions")
    keys = _account_keys(tx, where)
    signatures = _get(_get(tx, "transaction", where), "signatures", where)
    slot = tx.get("slot")
    if isinstance(slot, bool) or not isinstance(slot, int):
        raise ValidationError(f"{where}.slot must be an integer", argument="transactions")
    block_time = tx.get("blockTime")
    vault_index = keys.index(vault) if vault in keys else None
    sol_before = sol_after = None
    if vault_index is not None:
        sol_before = _lamports(meta, "preBalances", vault_index, where)
        sol_after = _lamports(meta, "postBalances", vault_index, where)
    pre = _token_amounts(meta.get("preTokenBalances"), mint, where)
    post = _token_amounts(meta.get("postTokenBalances"), mint, where)
    vault_pre = {i: units for i, (owner, units) in pre.items() if owner == vault}
    vault_post = {i: units for i, (owner, units) in post.items() if owner == vault}
    nos_before = nos_after = None
    if vault_pre or vault_post:
        # an account created (or closed) in this transaction is absent on one side: 0 there
        nos_before = sum(vault_pre.values())
        nos_after = sum(vault_post.values())
    accounts = set(pre) | set(post)
    changes = {i: post.get(i, ("", 0))[1] - pre.get(i, ("", 0))[1] for i in accounts}
    owners = {i: (post.get(i) or pre[i])[0] for i in accounts}
    fee_payer = keys[0] if keys else ""
    fee = meta["fee"] if isinstance(meta.get("fee"), int) else 0
    payer_spent = 0
    if keys and fee_payer != vault:
        payer_spent = _lamports(meta, "preBalances", 0, where) - _lamports(
            meta, "postBalances", 0, where
        )
    receivers = frozenset(owners[i] for i, d in changes.items() if d > 0 and owners[i] != vault)
    jobs_program = JOBS_PROGRAMS.get(mint)
    hint = _KindHint(
        fee_payer_is_vault=fee_payer == vault,
        vault_in_keys=vault_index is not None,
        fee_payer_sent_sol=payer_spent > fee,
        nos_sources=frozenset(owners[i] for i, d in changes.items() if d < 0),
        nos_receivers=receivers,
        other_nos_receivers=bool(receivers),
        invokes_jobs_program=jobs_program is not None and jobs_program in keys,
    )
    return _Movement(
        position=position,
        slot=slot,
        block_time=block_time
        if isinstance(block_time, int) and not isinstance(block_time, bool)
        else None,
        signature=str(signatures[0]) if signatures else "",
        failed=meta.get("err") is not None,
        sol_before=sol_before,
        sol_after=sol_after,
        nos_before=nos_before,
        nos_after=nos_after,
        kind_hint=hint,
    )


def classify(
    sol_delta: int, nos_delta: int, hint: _KindHint, escrow_holders: frozenset[str]
) -> str:
    """topup / escrow / refund / withdrawal / fee / other, from direction and who moved what.

    ``escrow_holders`` are the owners of accounts known to hold job deposits: NOS coming back
    from one of them is a refund, whoever pays the fee and whatever accounts are created.
    """
    if nos_delta < 0:
        return "escrow" if hint.fee_payer_is_vault else "withdrawal"
    if nos_delta > 0:
        if hint.invokes_jobs_program or not hint.nos_sources.isdisjoint(escrow_holders):
            return "refund"
        if sol_delta > 0 or (hint.vault_in_keys and not hint.other_nos_receivers):
            # a top-up sends SOL and/or creates the vault's token account (which names the vault)
            return "topup"
        return "refund"
    if sol_delta > 0:
        return "topup" if hint.fee_payer_sent_sol else "refund"
    if sol_delta < 0:
        return "fee" if hint.fee_payer_is_vault else "withdrawal"
    return "other"


def escrow_holders(
    moves: list[_Movement], nos_delta: pd.Series, escrow_authority: str | None
) -> frozenset[str]:
    """Who holds this vault's job deposits: the receivers of its own escrow transactions.

    The vault pays the fee of every deposit it makes (it is the payer of every job), so NOS
    leaving the vault in a transaction the vault paid for went into escrow, and its receivers
    are the escrow: the sandbox's escrow authority, or a market's vault on the real network.
    """
    holders = {escrow_authority} if escrow_authority else set()
    for move, delta in zip(moves, nos_delta.fillna(0).tolist(), strict=True):
        if delta < 0 and move.kind_hint.fee_payer_is_vault:
            holders |= move.kind_hint.nos_receivers
    return frozenset(holders)


def _fill(before: list[int | None], after: list[int | None]) -> tuple[pd.Series, pd.Series]:
    """Carry known balances across transactions that did not touch them."""
    flat = pd.Series([v for pair in zip(before, after, strict=True) for v in pair], dtype="Int64")
    flat = flat.ffill().bfill()
    before_filled = flat.iloc[0::2].reset_index(drop=True)
    after_filled = flat.iloc[1::2].reset_index(drop=True)
    return before_filled, after_filled


def vault_balance_rows(
    transactions: Iterable[Any],
    *,
    vault: str,
    nos_mint: str,
    escrow_authority: str | None = None,
) -> pd.DataFrame:
    """The ``vault_balance`` frame from ``getTransaction`` results (None entries are skipped)."""
    if not isinstance(vault, str) or not vault:
        raise ValidationError("vault must be a vault address", argument="vault")
    if not isinstance(nos_mint, str) or not nos_mint:
        raise ValidationError("nos_mint must be the NOS mint address", argument="nos_mint")
    if isinstance(transactions, str | bytes | Mapping) or not isinstance(transactions, Iterable):
        raise ValidationError(
            "transactions must be an iterable of getTransaction results", argument="transactions"
        )
    moves = [
        _movement(tx, i, vault, nos_mint) for i, tx in enumerate(transactions) if tx is not None
    ]
    moves.sort(key=lambda m: (m.slot, m.position))
    if not moves:
        return empty_frame("vault_balance")
    sol_before, sol_after = _fill([m.sol_before for m in moves], [m.sol_after for m in moves])
    nos_before, nos_after = _fill([m.nos_before for m in moves], [m.nos_after for m in moves])
    sol_delta = sol_after - sol_before
    nos_delta = nos_after - nos_before
    changed = np.asarray((sol_delta.fillna(0) != 0) | (nos_delta.fillna(0) != 0), dtype=bool)
    holders = escrow_holders(moves, nos_delta, escrow_authority)
    kinds = [
        classify(int(s or 0), int(n or 0), m.kind_hint, holders)
        for m, s, n in zip(
            moves,
            sol_delta.fillna(0).tolist(),
            nos_delta.fillna(0).tolist(),
            strict=True,
        )
    ]
    columns: dict[str, Any] = {
        "time": cv.unix_datetimes([m.block_time for m in moves], "transactions", "blockTime"),
        "signature": cv.strings([m.signature for m in moves], "transactions", "signature"),
        "slot": pd.Series([m.slot for m in moves], dtype="Int64"),
        "kind": pd.Categorical(
            kinds, categories=list(schema_of("vault_balance")["kind"].categories), ordered=True
        ),
        "failed": pd.Series([m.failed for m in moves], dtype="boolean"),
        "sol_before": sol_before,
        "sol_after": sol_after,
        "sol_delta": sol_delta,
        "nos_before": nos_before,
        "nos_after": nos_after,
        "nos_delta": nos_delta,
        "sol": sol_after.astype("Float64") / LAMPORTS_PER_SOL,
        "nos": nos_after.astype("Float64") / NOS_BASE_UNITS_PER_NOS,
        "sol_change": sol_delta.astype("Float64") / LAMPORTS_PER_SOL,
        "nos_change": nos_delta.astype("Float64") / NOS_BASE_UNITS_PER_NOS,
    }
    full = cv.frame(columns, schema_of("vault_balance"))
    return full[changed].reset_index(drop=True)


def fetch_vault_transactions(rpc: Any, vault: str, *, limit: int) -> list[Any]:
    """Up to ``limit`` newest getTransaction results for ``vault``, paging with ``before``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError("limit must be a positive integer", argument="limit")
    signatures: list[str] = []
    before: str | None = None
    while len(signatures) < limit:
        batch = rpc.get_signatures_for_address(
            vault, limit=min(MAX_SIGNATURES_PER_CALL, limit - len(signatures)), before=before
        )
        signatures += [str(entry["signature"]) for entry in batch]
        if len(batch) < MAX_SIGNATURES_PER_CALL or not batch:
            break
        before = signatures[-1]
    return [rpc.get_transaction(signature) for signature in signatures]


def vault_balance_dataframe(
    source: Any,
    *,
    vault: str,
    nos_mint: str | None = None,
    escrow_authority: str | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Balance history of ``vault``: one row per transaction that changed its SOL or NOS.

    ``source`` is an iterable of ``getTransaction`` results or a client (then its ``rpc`` is
    asked for the newest ``limit`` transactions and ``nos_mint`` defaults to the network's).
    Base-unit columns (lamports, NOS base units) are exact ``Int64``; ``sol``/``nos`` and the
    ``*_change`` columns are float conveniences in whole units.

    ``kind`` needs no help: the escrow is whoever received the vault's own deposits (the
    vault pays for those), so NOS coming back from it is a ``refund`` even when nothing was
    paid to a node; on mainnet and devnet a transaction of the jobs program is one too.
    ``escrow_authority`` adds a known escrow owner, for a history that starts after the
    deposit it refunds.

    Args:
        source: ``getTransaction`` results, or a client.
        vault: the vault's address.
        nos_mint: the NOS mint (default: the client's network's).
        escrow_authority: a known escrow owner.
        limit: at most this many transactions read from a client.

    Returns:
        The ``vault_balance`` frame.

    Raises:
        ValidationError: a bad address, limit or source.
    """
    if cv.is_client(source) or hasattr(source, "rpc"):
        mint = nos_mint or getattr(getattr(source, "network", None), "nos_mint", None)
        if not mint:
            raise ValidationError(
                "nos_mint is required (the client's network has none)", argument="nos_mint"
            )
        transactions = fetch_vault_transactions(source.rpc, vault, limit=limit)
        return vault_balance_rows(
            transactions, vault=vault, nos_mint=mint, escrow_authority=escrow_authority
        )
    if nos_mint is None:
        raise ValidationError("nos_mint is required with raw transactions", argument="nos_mint")
    return vault_balance_rows(
        source, vault=vault, nos_mint=nos_mint, escrow_authority=escrow_authority
    )
