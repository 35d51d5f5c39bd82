"""The sandbox's Solana chain: a LiteSVM ledger with a local NOS mint, persisted in SQLite.

LiteSVM runs real programs (System, SPL Token, Associated Token) in memory; this module adds
what a validator would give a client: slots and a blockhash window, transaction history with
standard metadata, and durability. Every account a transaction touches is written to the store
in the same SQLite transaction as the transaction record, so a restart from the same file
resumes every balance and every signature.

Money faucets (``airdrop``, ``mint_nos``) and the job escrow of the deployment manager's worker
(``escrow``, ``settle``, ``build_withdraw_tx``) are ordinary signed transactions, so they show
up in ``getSignaturesForAddress``/``getTransaction`` like anything else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message, MessageV0
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import (
    CreateAccountParams,
    TransferParams,
    create_account,
    transfer,
)
from solders.token.state import Mint, TokenAccount
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import (
    FailedTransactionMetadata,
    SimulatedTransactionInfo,
    TransactionMetadata,
)
from solders.transaction_status import (
    InstructionErrorCustom,
    InstructionErrorFieldless,
    TransactionErrorFieldless,
    TransactionErrorInstructionError,
    TransactionErrorInsufficientFundsForRent,
    TransactionErrorType,
    UiTransactionStatusMeta,
)
from spl.token.constants import MINT_LEN, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint2,
    mint_to_checked,
    transfer_checked,
)
from spl.token.models import InitializeMint2Params, MintToCheckedParams, TransferCheckedParams

from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.store import Store

NOS_DECIMALS = 6
LAMPORTS_PER_SIGNATURE = 5000
BLOCKHASH_WINDOW_SLOTS = 150
"""A fetched blockhash stays valid for this many slots, like mainnet's ~150 blocks."""

LOCAL_NOS_MINT_SEED = hashlib.sha256(b"nosana_nb sandbox NOS mint v1").digest()
LOCAL_NOS_MINT = str(Keypair.from_seed(LOCAL_NOS_MINT_SEED).pubkey())
"""Fixed address of the sandbox NOS mint (FoBvDx...), so client presets can name it."""

_SERVICE_FLOAT_LAMPORTS = 1_000 * 10**9
"""SOL kept by the chain's own signers (mint and escrow authorities) for fees and rent."""
_SERVICE_LOW_WATER = 10 * 10**9
_AIRDROP_POOL = 10**18
_SYSVAR_OWNER = Pubkey.from_string("Sysvar1111111111111111111111111111111111111")
_FUNDS_MARKER = "InsufficientFundsForRent"


class ChainError(Exception):
    """A transaction the chain refused, or a request it cannot serve.

    ``err`` is the standard JSON form of the transaction error (None when no transaction ran),
    ``logs`` the program logs of the failed simulation.
    """

    def __init__(
        self, message: str, *, err: Any = None, logs: Sequence[str] = (), units: int = 0
    ) -> None:
        super().__init__(message)
        self.message = message
        self.err = err
        self.logs = tuple(logs)
        self.units = units


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


def error_json(err: TransactionErrorType) -> Any:
    """The RPC's JSON form of an error, e.g. ``{"InstructionError":[0,{"Custom":1}]}``."""
    return json.loads(UiTransactionStatusMeta(err, 0, [], []).to_json())["err"]


def describe_error(err: TransactionErrorType) -> str:
    """Human text for a transaction error, close to what a validator prints."""
    if isinstance(err, TransactionErrorInstructionError):
        inner = err.err
        if isinstance(inner, InstructionErrorCustom):
            detail = f"custom program error: 0x{inner.code:x}"
        elif isinstance(inner, InstructionErrorFieldless):
            detail = str(inner).rsplit(".", 1)[-1]
        else:
            detail = str(inner)
        return f"Error processing Instruction {err.index}: {detail}"
    if isinstance(err, TransactionErrorFieldless):
        return str(err).rsplit(".", 1)[-1]
    if isinstance(err, TransactionErrorInsufficientFundsForRent):
        return (
            f"InsufficientFundsForRent: account {err.account_index} would be left below "
            "the rent-exempt minimum"
        )
    return str(err)


def _is_funds_error(err: TransactionErrorType) -> bool:
    if err == TransactionErrorFieldless.InsufficientFundsForFee:
        return True
    if isinstance(err, TransactionErrorInsufficientFundsForRent):
        return True
    if isinstance(err, TransactionErrorInstructionError):
        inner = err.err
        # SPL Token error 1 is InsufficientFunds; System transfer error 1 too.
        if isinstance(inner, InstructionErrorCustom) and inner.code == 1:
            return True
        return inner == InstructionErrorFieldless.InsufficientFunds
    return False


def parse_pubkey(value: str | Pubkey, *, what: str = "address") -> Pubkey:
    if isinstance(value, Pubkey):
        return value
    if not isinstance(value, str):
        raise ChainError(f"Invalid {what}: expected a base58 string")
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise ChainError(f"Invalid {what}: {value[:60]!r} is not a base58 public key") from None


def _check_amount(value: int, *, what: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChainError(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero) or value >= 2**64:
        raise ChainError(f"{what} must be {'>= 0' if allow_zero else '> 0'} and < 2**64")
    return value


def ui_token_amount(amount: int, decimals: int) -> dict[str, Any]:
    """The RPC's ``uiTokenAmount`` object for a raw token amount."""
    exact = Decimal(amount).scaleb(-decimals)
    text = format(exact.normalize(), "f") if amount else "0"
    return {
        "amount": str(amount),
        "decimals": decimals,
        "uiAmount": float(exact),
        "uiAmountString": text,
    }


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS chain_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chain_accounts (pubkey TEXT PRIMARY KEY, lamports INTEGER NOT NULL,"
    " data BLOB NOT NULL, owner TEXT NOT NULL, executable INTEGER NOT NULL,"
    " rent_epoch TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chain_transactions (seq INTEGER PRIMARY KEY,"
    " signature TEXT NOT NULL UNIQUE, slot INTEGER NOT NULL, block_time INTEGER NOT NULL,"
    " raw BLOB NOT NULL, meta TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chain_tx_accounts (pubkey TEXT NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY (pubkey, seq))",
)


class Chain:
    """LiteSVM ledger of the sandbox. Every public method is thread-safe (``store.lock``)."""

    def __init__(self, store: Store, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = store.lock
        with self._lock:
            for statement in _SCHEMA:
                store.conn.execute(statement)
            self._svm = LiteSVM().with_blockhash_check(False).with_lamports(_AIRDROP_POOL)
            meta = dict(store.conn.execute("SELECT key, value FROM chain_meta").fetchall())
            if meta:
                self._restore(meta)
            else:
                with store.transaction():  # all of genesis or none of it
                    self._genesis()

    # -- identity -------------------------------------------------------------------------
    @property
    def nos_mint(self) -> Pubkey:
        return self._mint.pubkey()

    @property
    def escrow_authority(self) -> Pubkey:
        return self._escrow.pubkey()

    @property
    def escrow_account(self) -> Pubkey:
        return get_associated_token_address(self._escrow.pubkey(), self._mint.pubkey())

    def __repr__(self) -> str:
        return f"Chain(nos_mint={self.nos_mint}, slot={self.slot})"

    # -- faucets --------------------------------------------------------------------------
    def airdrop(self, pubkey: str | Pubkey, lamports: int) -> str:
        """Credit SOL from LiteSVM's airdrop pool; recorded like any transaction."""
        target = parse_pubkey(pubkey)
        _check_amount(lamports, what="lamports")
        with self._lock:
            return self._airdrop(target, lamports)

    def mint_nos(self, owner: str | Pubkey, base_units: int) -> str:
        """Mint NOS into ``owner``'s associated token account (created if missing)."""
        target = parse_pubkey(owner, what="owner")
        _check_amount(base_units, what="base_units")
        with self._lock:
            self._ensure_float(self._mint_authority.pubkey())
            mint = self._mint.pubkey()
            authority = self._mint_authority.pubkey()
            instructions = [
                create_idempotent_associated_token_account(authority, target, mint),
                mint_to_checked(
                    MintToCheckedParams(
                        program_id=TOKEN_PROGRAM_ID,
                        mint=mint,
                        dest=get_associated_token_address(target, mint),
                        mint_authority=authority,
                        amount=base_units,
                        decimals=NOS_DECIMALS,
                    )
                ),
            ]
            return self._run_internal(authority, instructions, [self._mint_authority])

    # -- balances -------------------------------------------------------------------------
    def sol_balance(self, pubkey: str | Pubkey) -> int:
        key = parse_pubkey(pubkey)
        with self._lock:
            account = self._svm.get_account(key)
            return account.lamports if account is not None else 0

    def nos_balance(self, owner: str | Pubkey) -> int:
        """NOS base units in ``owner``'s associated token account (0 if it does not exist)."""
        key = parse_pubkey(owner, what="owner")
        with self._lock:
            return self._token_amount(get_associated_token_address(key, self._mint.pubkey()))

    # -- job money (used by the deployment manager's worker) ------------------------------
    def escrow(self, vault_secret: bytes, base_units: int) -> str:
        """Move a job deposit from the vault's NOS account to the escrow; the vault pays the fee."""
        vault = _keypair(vault_secret)
        _check_amount(base_units, what="base_units")
        with self._lock:
            mint = self._mint.pubkey()
            source = get_associated_token_address(vault.pubkey(), mint)
            held_nos = self._token_amount(source)
            held_sol = self.sol_balance(vault.pubkey())
            if held_nos < base_units or held_sol < LAMPORTS_PER_SIGNATURE:
                raise ChainError(
                    f"Transaction simulation failed: {_FUNDS_MARKER}: vault {vault.pubkey()} "
                    f"holds {held_nos} NOS base units and {held_sol} lamports; the deposit "
                    f"needs {base_units} NOS base units and {LAMPORTS_PER_SIGNATURE} lamports "
                    "for the fee",
                    err={_FUNDS_MARKER: {"account_index": 0}},
                )
            instruction = self._nos_transfer(
                source, self.escrow_account, vault.pubkey(), base_units
            )
            return self._run_internal(vault.pubkey(), [instruction], [vault])

    def settle(self, vault: str | Pubkey, node: str | Pubkey, pay: int, refund: int) -> str:
        """Pay a node from the escrow and refund the rest of a deposit to the vault."""
        vault_key = parse_pubkey(vault, what="vault")
        node_key = parse_pubkey(node, what="node")
        _check_amount(pay, what="pay", allow_zero=True)
        _check_amount(refund, what="refund", allow_zero=True)
        with self._lock:
            escrow = self.escrow_account
            available = self._token_amount(escrow)
            if pay + refund > available:
                raise ChainError(
                    f"Transaction simulation failed: escrow holds {available} NOS base units, "
                    f"settlement needs {pay + refund}"
                )
            authority = self._escrow.pubkey()
            self._ensure_float(authority)
            mint = self._mint.pubkey()
            payouts = [
                (key, amount) for key, amount in ((node_key, pay), (vault_key, refund)) if amount
            ]
            instructions: list[Instruction] = []
            for recipient, amount in payouts or [(vault_key, 0)]:
                instructions.append(
                    create_idempotent_associated_token_account(authority, recipient, mint)
                )
                instructions.append(
                    self._nos_transfer(
                        escrow, get_associated_token_address(recipient, mint), authority, amount
                    )
                )
            return self._run_internal(authority, instructions, [self._escrow])

    def build_withdraw_tx(self, vault_secret: bytes, owner: str | Pubkey) -> str:
        """The DM's withdraw transaction: all SOL and NOS to ``owner``, who pays the fee.

        Returned as base64 of a v0 transaction signed by the vault only; the owner's slot is empty.
        """
        vault = _keypair(vault_secret)
        owner_key = parse_pubkey(owner, what="owner")
        with self._lock:
            mint = self._mint.pubkey()
            vault_ata = get_associated_token_address(vault.pubkey(), mint)
            nos = self._token_amount(vault_ata)
            sol = self.sol_balance(vault.pubkey())
            if nos == 0 and sol == 0:
                raise ChainError("Vault has no funds to withdraw.")
            instructions: list[Instruction] = []
            if nos > 0:
                instructions.append(
                    create_idempotent_associated_token_account(owner_key, owner_key, mint)
                )
                owner_ata = get_associated_token_address(owner_key, mint)
                instructions.append(self._nos_transfer(vault_ata, owner_ata, vault.pubkey(), nos))
            if sol > 0:
                # Emptying a system account to 0 lamports is allowed: it is simply removed.
                instructions.append(
                    transfer(
                        TransferParams(
                            from_pubkey=vault.pubkey(), to_pubkey=owner_key, lamports=sol
                        )
                    )
                )
            message = MessageV0.try_compile(owner_key, instructions, [], self._blockhash())
            tx = VersionedTransaction(message, [NullSigner(owner_key), vault])
            return base64.b64encode(bytes(tx)).decode()

    # -- ledger reads (used by the JSON-RPC layer) ----------------------------------------
    @property
    def slot(self) -> int:
        with self._lock:
            return self._slot

    def latest_blockhash(self) -> tuple[Hash, int]:
        """The current blockhash and the last slot at which it is still accepted."""
        with self._lock:
            return self._blockhash(), self._slot + BLOCKHASH_WINDOW_SLOTS

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        with self._lock:
            return blockhash in self._recent_blockhashes

    def get_account(self, pubkey: str | Pubkey) -> Account | None:
        key = parse_pubkey(pubkey)
        with self._lock:
            account = self._svm.get_account(key)
            if account is None or (account.lamports == 0 and not account.data):
                return None
            return account

    def token_accounts_by_owner(
        self, owner: str | Pubkey, *, mint: str | Pubkey | None = None
    ) -> list[tuple[Pubkey, Account]]:
        owner_key = parse_pubkey(owner, what="owner")
        mint_key = parse_pubkey(mint, what="mint") if mint is not None else None
        with self._lock:
            found = []
            for address, account in self._svm.get_program_accounts(TOKEN_PROGRAM_ID):
                state = token_state(account)
                if state is None or state.owner != owner_key:
                    continue
                if mint_key is not None and state.mint != mint_key:
                    continue
                found.append((address, account))
            return sorted(found, key=lambda item: str(item[0]))

    def mint_decimals(self, mint: Pubkey) -> int:
        with self._lock:
            account = self._svm.get_account(mint)
        if account is None or account.owner != TOKEN_PROGRAM_ID or len(account.data) != MINT_LEN:
            return NOS_DECIMALS
        return Mint.from_bytes(bytes(account.data)).decimals

    def minimum_balance_for_rent_exemption(self, data_len: int) -> int:
        with self._lock:
            return int(self._svm.minimum_balance_for_rent_exemption(data_len))

    def send_raw_transaction(self, raw: bytes, *, skip_preflight: bool = False) -> str:
        """Execute a client's signed transaction; returns its signature.

        Preflight (the default) simulates first and refuses a failing transaction without
        charging anything, like a validator's RPC. With ``skip_preflight`` a failing transaction
        lands, pays its fee and is recorded with its error.
        """
        try:
            tx = VersionedTransaction.from_bytes(raw)
        except ValueError as exc:
            raise ChainError(f"failed to deserialize transaction: {exc}") from None
        message = tx.message
        if isinstance(message, MessageV0) and message.address_table_lookups:
            raise ChainError("address lookup tables are not supported by the sandbox")
        with self._lock:
            if not self.is_blockhash_valid(message.recent_blockhash):
                raise ChainError(
                    "Transaction simulation failed: Blockhash not found", err="BlockhashNotFound"
                )
            return self._execute(tx, preflight=not skip_preflight)

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
            upper = self._seq_of(before) if before is not None else None
            lower = self._seq_of(until) if until is not None else None
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

    # -- internals: setup -----------------------------------------------------------------
    def _genesis(self) -> None:
        self._mint = Keypair.from_seed(LOCAL_NOS_MINT_SEED)
        self._mint_authority = Keypair()
        self._escrow = Keypair()
        self._blockhash_seed = os.urandom(32)
        self._slot = 0
        self._recent_blockhashes: OrderedDict[Hash, int] = OrderedDict()
        self._remember_blockhash()
        self._write_meta()
        authority = self._mint_authority.pubkey()
        self._ensure_float(authority)
        rent = self.minimum_balance_for_rent_exemption(MINT_LEN)
        create_mint = [
            create_account(
                CreateAccountParams(
                    from_pubkey=authority,
                    to_pubkey=self._mint.pubkey(),
                    lamports=rent,
                    space=MINT_LEN,
                    owner=TOKEN_PROGRAM_ID,
                )
            ),
            initialize_mint2(
                InitializeMint2Params(
                    decimals=NOS_DECIMALS,
                    program_id=TOKEN_PROGRAM_ID,
                    mint=self._mint.pubkey(),
                    mint_authority=authority,
                )
            ),
        ]
        self._run_internal(authority, create_mint, [self._mint_authority, self._mint])
        escrow = self._escrow.pubkey()
        self._ensure_float(escrow)
        self._run_internal(
            escrow,
            [create_idempotent_associated_token_account(escrow, escrow, self._mint.pubkey())],
            [self._escrow],
        )

    def _restore(self, meta: dict[str, str]) -> None:
        self._mint = Keypair.from_base58_string(meta["mint"])
        self._mint_authority = Keypair.from_base58_string(meta["mint_authority"])
        self._escrow = Keypair.from_base58_string(meta["escrow_authority"])
        self._blockhash_seed = bytes.fromhex(meta["blockhash_seed"])
        self._slot = int(meta["slot"])
        self._recent_blockhashes = OrderedDict()
        for slot in range(max(0, self._slot - BLOCKHASH_WINDOW_SLOTS), self._slot + 1):
            self._recent_blockhashes[self._hash_for_slot(slot)] = slot
        rows = self._store.conn.execute(
            "SELECT pubkey, lamports, data, owner, executable, rent_epoch FROM chain_accounts"
        )
        for pubkey, lamports, data, owner, executable, rent_epoch in rows:
            self._svm.set_account(
                Pubkey.from_string(pubkey),
                Account(
                    lamports=lamports,
                    data=bytes(data),
                    owner=Pubkey.from_string(owner),
                    executable=bool(executable),
                    rent_epoch=int(rent_epoch),
                ),
            )

    def _write_meta(self) -> None:
        values = {
            "mint": str(self._mint),
            "mint_authority": str(self._mint_authority),
            "escrow_authority": str(self._escrow),
            "blockhash_seed": self._blockhash_seed.hex(),
            "slot": str(self._slot),
        }
        self._store.conn.executemany(
            "INSERT OR REPLACE INTO chain_meta (key, value) VALUES (?, ?)", values.items()
        )

    # -- internals: blockhashes -----------------------------------------------------------
    def _hash_for_slot(self, slot: int) -> Hash:
        return Hash(hashlib.sha256(self._blockhash_seed + slot.to_bytes(8, "little")).digest())

    def _blockhash(self) -> Hash:
        return self._hash_for_slot(self._slot)

    def _remember_blockhash(self) -> None:
        self._recent_blockhashes[self._blockhash()] = self._slot
        while len(self._recent_blockhashes) > BLOCKHASH_WINDOW_SLOTS + 1:
            self._recent_blockhashes.popitem(last=False)

    # -- internals: execution -------------------------------------------------------------
    def _ensure_float(self, pubkey: Pubkey) -> None:
        if self.sol_balance(pubkey) < _SERVICE_LOW_WATER:
            self._airdrop(pubkey, _SERVICE_FLOAT_LAMPORTS)

    def _airdrop(self, target: Pubkey, lamports: int) -> str:
        pool = self._svm.airdrop_pubkey()
        blockhash = self._svm.latest_blockhash()
        pre = self._snapshot([pool, target, SYSTEM_PROGRAM_ID])
        result = self._svm.airdrop(target, lamports)
        self._svm.expire_blockhash()
        if isinstance(result, FailedTransactionMetadata):
            raise ChainError(f"airdrop failed: {describe_error(result.err())}")
        # LiteSVM signs its airdrop itself; rebuild the same message to keep it in history.
        message = Message.new_with_blockhash(
            [transfer(TransferParams(from_pubkey=pool, to_pubkey=target, lamports=lamports))],
            pool,
            blockhash,
        )
        legacy = Transaction.populate(message, [result.signature()])
        tx = VersionedTransaction.from_bytes(bytes(legacy))
        return self._commit(tx, result, pre, err=None)

    def _run_internal(
        self, payer: Pubkey, instructions: Sequence[Instruction], signers: Sequence[Keypair]
    ) -> str:
        message = MessageV0.try_compile(payer, list(instructions), [], self._blockhash())
        tx = VersionedTransaction(message, list(signers))
        return self._execute(tx, preflight=True)

    def _execute(self, tx: VersionedTransaction, *, preflight: bool) -> str:
        signature = str(tx.signatures[0])
        if self._seq_of(signature) is not None:
            raise ChainError(
                "Transaction simulation failed: This transaction has already been processed",
                err="AlreadyProcessed",
            )
        keys = list(tx.message.account_keys)
        if preflight:
            simulated = self._svm.simulate_transaction(tx)
            if isinstance(simulated, FailedTransactionMetadata):
                raise _simulation_error(simulated)
            assert isinstance(simulated, SimulatedTransactionInfo)
        pre = self._snapshot(keys)
        result = self._svm.send_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            err = result.err()
            if err == TransactionErrorFieldless.AlreadyProcessed or self._nothing_changed(pre):
                raise _simulation_error(result)
            return self._commit(tx, result.meta(), pre, err=error_json(err))
        return self._commit(tx, result, pre, err=None)

    def _nothing_changed(self, pre: dict[Pubkey, Account | None]) -> bool:
        return all(self._svm.get_account(key) == before for key, before in pre.items())

    def _commit(
        self,
        tx: VersionedTransaction,
        result: TransactionMetadata,
        pre: dict[Pubkey, Account | None],
        *,
        err: Any,
    ) -> str:
        keys = list(pre)
        post = {key: self._svm.get_account(key) for key in keys}
        self._slot += 1
        self._remember_blockhash()
        meta = {
            "err": err,
            "fee": result.fee(),
            "preBalances": [_lamports(pre[key]) for key in keys],
            "postBalances": [_lamports(post[key]) for key in keys],
            "preTokenBalances": self._token_balances(keys, pre),
            "postTokenBalances": self._token_balances(keys, post),
            "logMessages": list(result.logs()),
            "computeUnitsConsumed": result.compute_units_consumed(),
        }
        signature = str(result.signature())
        block_time = int(self._clock.now())
        with self._store.transaction():
            conn = self._store.conn
            cursor = conn.execute(
                "INSERT INTO chain_transactions (signature, slot, block_time, raw, meta)"
                " VALUES (?, ?, ?, ?, ?)",
                (signature, self._slot, block_time, bytes(tx), json.dumps(meta)),
            )
            seq = cursor.lastrowid
            conn.executemany(
                "INSERT OR IGNORE INTO chain_tx_accounts (pubkey, seq) VALUES (?, ?)",
                [(str(key), seq) for key in keys],
            )
            for key, account in post.items():
                self._persist_account(key, account)
            conn.execute("UPDATE chain_meta SET value = ? WHERE key = 'slot'", (str(self._slot),))
        return signature

    def _persist_account(self, key: Pubkey, account: Account | None) -> None:
        if key == self._svm.airdrop_pubkey():
            return  # LiteSVM's pool is per process; a restart brings a fresh one
        if account is not None and (account.executable or account.owner == _SYSVAR_OWNER):
            return  # programs and sysvars come with every LiteSVM
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

    def _snapshot(self, keys: Sequence[Pubkey]) -> dict[Pubkey, Account | None]:
        return {key: self._svm.get_account(key) for key in keys}

    def _token_balances(
        self, keys: Sequence[Pubkey], accounts: dict[Pubkey, Account | None]
    ) -> list[dict[str, Any]]:
        balances = []
        for index, key in enumerate(keys):
            account = accounts[key]
            state = token_state(account) if account is not None else None
            if state is None:
                continue
            balances.append(
                {
                    "accountIndex": index,
                    "mint": str(state.mint),
                    "owner": str(state.owner),
                    "programId": str(TOKEN_PROGRAM_ID),
                    "uiTokenAmount": ui_token_amount(state.amount, self.mint_decimals(state.mint)),
                }
            )
        return balances

    def _token_amount(self, address: Pubkey) -> int:
        account = self._svm.get_account(address)
        state = token_state(account) if account is not None else None
        return state.amount if state is not None else 0

    def _nos_transfer(
        self, source: Pubkey, dest: Pubkey, authority: Pubkey, amount: int
    ) -> Instruction:
        return transfer_checked(
            TransferCheckedParams(
                program_id=TOKEN_PROGRAM_ID,
                source=source,
                mint=self._mint.pubkey(),
                dest=dest,
                owner=authority,
                amount=amount,
                decimals=NOS_DECIMALS,
            )
        )

    def _seq_of(self, signature: str) -> int | None:
        row = self._store.conn.execute(
            "SELECT seq FROM chain_transactions WHERE signature = ?", (signature,)
        ).fetchone()
        return int(row[0]) if row is not None else None


def _keypair(secret: bytes) -> Keypair:
    if not isinstance(secret, bytes | bytearray) or len(secret) != 64:
        raise ChainError("vault_secret must be the 64 bytes of a keypair")
    try:
        return Keypair.from_bytes(bytes(secret))
    except ValueError:
        raise ChainError("vault_secret is not a valid keypair") from None


def token_state(account: Account | None) -> TokenAccount | None:
    if account is None or account.owner != TOKEN_PROGRAM_ID or len(account.data) != 165:
        return None
    try:
        return TokenAccount.from_bytes(bytes(account.data))
    except ValueError:
        return None


def _lamports(account: Account | None) -> int:
    return account.lamports if account is not None else 0


def _record(row: tuple[Any, ...]) -> TxRecord:
    seq, signature, slot, block_time, raw, meta = row
    return TxRecord(int(seq), signature, int(slot), int(block_time), bytes(raw), json.loads(meta))


def _simulation_error(failed: FailedTransactionMetadata) -> ChainError:
    err = failed.err()
    meta = failed.meta()
    text = describe_error(err)
    if _is_funds_error(err) and _FUNDS_MARKER not in text:
        text = f"{_FUNDS_MARKER}: {text}"
    return ChainError(
        f"Transaction simulation failed: {text}",
        err=error_json(err),
        logs=meta.logs(),
        units=meta.compute_units_consumed(),
    )


__all__ = [
    "BLOCKHASH_WINDOW_SLOTS",
    "LOCAL_NOS_MINT",
    "NOS_DECIMALS",
    "Chain",
    "ChainError",
    "TxRecord",
    "describe_error",
    "error_json",
    "parse_pubkey",
    "token_state",
    "ui_token_amount",
]
