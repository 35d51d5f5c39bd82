"""The ledger core: LiteSVM plus what a validator gives a client.

LiteSVM runs real programs (System, SPL Token, Associated Token) in memory; the ledger adds
slots and a blockhash window, preflight, a transaction history with standard metadata, and
durability. Every account a transaction touches is written to the store in the same SQLite
transaction as the transaction record, so a restart from the same file resumes every balance and
every signature. The NOS mint's keys, the job escrow and vault money are ``money.py``'s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import TransferParams, transfer
from solders.token.state import Mint
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import (
    FailedTransactionMetadata,
    SimulatedTransactionInfo,
    TransactionMetadata,
)
from solders.transaction_status import TransactionErrorFieldless
from spl.token.constants import MINT_LEN, TOKEN_PROGRAM_ID

from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.store import Store

from .blockhashes import BLOCKHASH_WINDOW_SLOTS, BlockhashWindow
from .errors import ChainError, describe_error, error_json, simulation_error
from .history import History
from .persistence import SavedState
from .values import (
    NOS_DECIMALS,
    check_amount,
    lamports_of,
    parse_pubkey,
    token_state,
    ui_token_amount,
)

_SERVICE_FLOAT_LAMPORTS = 1_000 * 10**9
"""SOL kept by the chain's own signers (mint and escrow authorities) for fees and rent."""
_SERVICE_LOW_WATER = 10 * 10**9
_AIRDROP_POOL = 10**18
_SYSVAR_OWNER = Pubkey.from_string("Sysvar1111111111111111111111111111111111111")


class Ledger:
    """LiteSVM with slots, blockhashes, history and durability. Thread-safe (``store.lock``).

    ``meta`` is what ``chain_meta`` held when the ledger opened: empty for a new chain, whose
    genesis then writes it (:meth:`write_meta`) in one store transaction with its first blocks.
    """

    def __init__(self, store: Store, *, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self.lock = store.lock
        with self.lock:
            self._saved = SavedState(store)
            self.history = History(store)
            self._svm = LiteSVM().with_blockhash_check(False).with_lamports(_AIRDROP_POOL)
            # fixed for this LiteSVM; asking it costs more than the rest of a balance lookup
            self._airdrop_pool_key = self._svm.airdrop_pubkey()
            self.meta = self._saved.meta()
            if self.meta:
                self._slot = int(self.meta["slot"])
                self._blockhashes = BlockhashWindow(
                    bytes.fromhex(self.meta["blockhash_seed"]), self._slot
                )
                for key, account in self._saved.accounts():
                    self._svm.set_account(key, account)
            else:
                self._slot = 0
                self._blockhashes = BlockhashWindow(os.urandom(32), self._slot)

    def write_meta(self, values: dict[str, str]) -> None:
        """Save ``values`` with the ledger's own (blockhash seed, slot) into ``chain_meta``."""
        self._saved.write_meta(
            {**values, "blockhash_seed": self._blockhashes.seed.hex(), "slot": str(self._slot)}
        )

    # -- slots and blockhashes ------------------------------------------------------------
    @property
    def slot(self) -> int:
        with self.lock:
            return self._slot

    def current_blockhash(self) -> Hash:
        with self.lock:
            return self._blockhashes.hash_for_slot(self._slot)

    def latest_blockhash(self) -> tuple[Hash, int]:
        """The current blockhash and the last slot at which it is still accepted."""
        with self.lock:
            return self.current_blockhash(), self._slot + BLOCKHASH_WINDOW_SLOTS

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        with self.lock:
            return blockhash in self._blockhashes

    # -- reads ----------------------------------------------------------------------------
    def get_account(self, pubkey: str | Pubkey) -> Account | None:
        key = parse_pubkey(pubkey)
        with self.lock:
            account = self._svm.get_account(key)
            if account is None or (account.lamports == 0 and not account.data):
                return None
            return account

    def sol_balance(self, pubkey: str | Pubkey) -> int:
        key = parse_pubkey(pubkey)
        with self.lock:
            return lamports_of(self._svm.get_account(key))

    def token_amount(self, address: Pubkey) -> int:
        """Raw amount in the token account at ``address`` (0 if there is none)."""
        with self.lock:
            state = token_state(self._svm.get_account(address))
        return state.amount if state is not None else 0

    def token_accounts_by_owner(
        self, owner: str | Pubkey, *, mint: str | Pubkey | None = None
    ) -> list[tuple[Pubkey, Account]]:
        owner_key = parse_pubkey(owner, what="owner")
        mint_key = parse_pubkey(mint, what="mint") if mint is not None else None
        with self.lock:
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
        with self.lock:
            account = self._svm.get_account(mint)
        if account is None or account.owner != TOKEN_PROGRAM_ID or len(account.data) != MINT_LEN:
            return NOS_DECIMALS
        return Mint.from_bytes(bytes(account.data)).decimals

    def minimum_balance_for_rent_exemption(self, data_len: int) -> int:
        with self.lock:
            return int(self._svm.minimum_balance_for_rent_exemption(data_len))

    # -- writes ---------------------------------------------------------------------------
    def put_program_account(self, pubkey: Pubkey, owner: Pubkey, data: bytes) -> bool:
        """Set a program-owned account's data (rent-exempt); False when it already held it.

        For state the sandbox keeps on behalf of a program it does not run (market accounts);
        saved like every other account, so a restart finds it.
        """
        with self.lock:
            current = self._svm.get_account(pubkey)
            if current is not None and bytes(current.data) == data and current.owner == owner:
                return False
            account = Account(
                lamports=self.minimum_balance_for_rent_exemption(len(data)),
                data=data,
                owner=owner,
                executable=False,
                rent_epoch=0,
            )
            self._svm.set_account(pubkey, account)
            self._persist_account(pubkey, account)
            return True

    def airdrop(self, pubkey: str | Pubkey, lamports: int) -> str:
        """Credit SOL from LiteSVM's airdrop pool; recorded like any transaction."""
        target = parse_pubkey(pubkey)
        check_amount(lamports, what="lamports")
        with self.lock:
            return self._airdrop(target, lamports)

    def ensure_float(self, pubkey: Pubkey) -> None:
        """Top a service signer up to its float when it runs low (fees and rent of its work)."""
        with self.lock:
            if self.sol_balance(pubkey) < _SERVICE_LOW_WATER:
                self._airdrop(pubkey, _SERVICE_FLOAT_LAMPORTS)

    def run(
        self, payer: Pubkey, instructions: Sequence[Instruction], signers: Sequence[Keypair]
    ) -> str:
        """Sign and execute one of the sandbox's own transactions, with preflight."""
        with self.lock:
            message = MessageV0.try_compile(payer, list(instructions), [], self.current_blockhash())
            tx = VersionedTransaction(message, list(signers))
            return self._execute(tx, preflight=True)

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
        with self.lock:
            if not self.is_blockhash_valid(message.recent_blockhash):
                raise ChainError(
                    "Transaction simulation failed: Blockhash not found", err="BlockhashNotFound"
                )
            return self._execute(tx, preflight=not skip_preflight)

    # -- internals ------------------------------------------------------------------------
    def _airdrop(self, target: Pubkey, lamports: int) -> str:
        pool = self._airdrop_pool_key
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

    def _execute(self, tx: VersionedTransaction, *, preflight: bool) -> str:
        signature = str(tx.signatures[0])
        if self.history.seq_of(signature) is not None:
            raise ChainError(
                "Transaction simulation failed: This transaction has already been processed",
                err="AlreadyProcessed",
            )
        keys = list(tx.message.account_keys)
        if preflight:
            simulated = self._svm.simulate_transaction(tx)
            if isinstance(simulated, FailedTransactionMetadata):
                raise simulation_error(simulated)
            assert isinstance(simulated, SimulatedTransactionInfo)
        pre = self._snapshot(keys)
        result = self._svm.send_transaction(tx)
        if isinstance(result, FailedTransactionMetadata):
            err = result.err()
            if err == TransactionErrorFieldless.AlreadyProcessed or self._nothing_changed(pre):
                raise simulation_error(result)
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
        self._blockhashes.remember(self._slot)
        meta = {
            "err": err,
            "fee": result.fee(),
            "preBalances": [lamports_of(pre[key]) for key in keys],
            "postBalances": [lamports_of(post[key]) for key in keys],
            "preTokenBalances": self._token_balances(keys, pre),
            "postTokenBalances": self._token_balances(keys, post),
            "logMessages": list(result.logs()),
            "computeUnitsConsumed": result.compute_units_consumed(),
        }
        signature = str(result.signature())
        block_time = int(self._clock.now())
        with self._store.transaction():
            self.history.record(
                signature=signature,
                slot=self._slot,
                block_time=block_time,
                raw=bytes(tx),
                meta=meta,
                accounts=keys,
            )
            for key, account in post.items():
                self._persist_account(key, account)
            self._saved.save_slot(self._slot)
        return signature

    def _persist_account(self, key: Pubkey, account: Account | None) -> None:
        if key == self._airdrop_pool_key:
            return  # LiteSVM's pool is per process; a restart brings a fresh one
        if account is not None and (account.executable or account.owner == _SYSVAR_OWNER):
            return  # programs and sysvars come with every LiteSVM
        self._saved.save_account(key, account)

    def _snapshot(self, keys: Sequence[Pubkey]) -> dict[Pubkey, Account | None]:
        return {key: self._svm.get_account(key) for key in keys}

    def _token_balances(
        self, keys: Sequence[Pubkey], accounts: dict[Pubkey, Account | None]
    ) -> list[dict[str, Any]]:
        balances = []
        for index, key in enumerate(keys):
            state = token_state(accounts[key])
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
