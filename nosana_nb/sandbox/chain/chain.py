"""``Chain``: the sandbox's Solana chain as the rest of the sandbox sees it.

One object over three pieces: the ledger core (``ledger.py``: LiteSVM, slots and blockhashes,
execution, accounts and balances, durability), the money movements (``money.py``: the NOS mint,
job escrow and settlement, vault withdraw) and the transaction history (``history.py``). The
JSON-RPC layer (``rpc.py``) reads through the same object.
"""

from __future__ import annotations

from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey

from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.store import Store

from .airdrops import AirdropFigures, PublicAirdrops
from .history import TxRecord
from .ledger import Ledger
from .market_accounts import JOBS_PROGRAM_ID, MarketState, encode_market_account
from .money import Money, ServiceKeys


class Chain:
    """LiteSVM ledger of the sandbox. Every public method is thread-safe (``store.lock``)."""

    def __init__(self, store: Store, *, clock: Clock) -> None:
        with store.lock:
            self._ledger = Ledger(store, clock=clock)
            if self._ledger.meta:
                self._money = Money(self._ledger, ServiceKeys.from_meta(self._ledger.meta))
            else:
                with store.transaction():  # all of genesis or none of it
                    keys = ServiceKeys.generate()
                    self._ledger.write_meta(keys.to_meta())
                    self._money = Money(self._ledger, keys)
                    self._money.create_mint_and_escrow()
        self._public_airdrops = PublicAirdrops(self._ledger)

    def __repr__(self) -> str:
        return f"Chain(nos_mint={self.nos_mint}, slot={self.slot})"

    # -- identity -------------------------------------------------------------------------
    @property
    def nos_mint(self) -> Pubkey:
        return self._money.nos_mint

    @property
    def escrow_authority(self) -> Pubkey:
        return self._money.escrow_authority

    @property
    def escrow_account(self) -> Pubkey:
        return self._money.escrow_account

    @property
    def rewards_account(self) -> Pubkey:
        """The NOS account network fees go to."""
        return self._money.rewards_account

    # -- faucets --------------------------------------------------------------------------
    def airdrop(self, pubkey: str | Pubkey, lamports: int) -> str:
        """Credit SOL from LiteSVM's airdrop pool (the sandbox faucet's); recorded like any
        transaction. ``/rpc`` clients get :meth:`request_airdrop` instead."""
        return self._ledger.airdrop(pubkey, lamports)

    def request_airdrop(self, pubkey: str | Pubkey, lamports: int) -> str:
        """``requestAirdrop`` from ``/rpc``: capped per request and drawn from its own pool."""
        return self._public_airdrops.request(pubkey, lamports)

    def public_airdrops(self) -> AirdropFigures:
        return self._public_airdrops.figures()

    def mint_nos(self, owner: str | Pubkey, base_units: int) -> str:
        """Mint NOS into ``owner``'s associated token account (created if missing)."""
        return self._money.mint_nos(owner, base_units)

    # -- balances -------------------------------------------------------------------------
    def sol_balance(self, pubkey: str | Pubkey) -> int:
        return self._ledger.sol_balance(pubkey)

    def nos_balance(self, owner: str | Pubkey) -> int:
        """NOS base units in ``owner``'s associated token account (0 if it does not exist)."""
        return self._money.nos_balance(owner)

    # -- job money (used by the deployment manager's worker) ------------------------------
    def escrow(self, vault_secret: bytes, base_units: int, fee_units: int = 0) -> str:
        """Move a job deposit to the escrow and the network fee to the rewards account."""
        return self._money.escrow(vault_secret, base_units, fee_units)

    def settle(self, vault: str | Pubkey, node: str | Pubkey, pay: int, refund: int) -> str:
        """Pay a node from the escrow and refund the rest of a deposit to the vault."""
        return self._money.settle(vault, node, pay, refund)

    def build_withdraw_tx(self, vault_secret: bytes, owner: str | Pubkey) -> str:
        """The withdraw transaction: all SOL and NOS to ``owner``, signed by the vault only."""
        return self._money.build_withdraw_tx(vault_secret, owner)

    # -- program state the sandbox keeps for the jobs program ------------------------------
    def write_market_account(self, address: str | Pubkey, state: MarketState) -> bool:
        """Keep ``address``'s market account current; True when its bytes changed."""
        key = Pubkey.from_string(address) if isinstance(address, str) else address
        return self._ledger.put_program_account(key, JOBS_PROGRAM_ID, encode_market_account(state))

    # -- ledger reads and client transactions (used by the JSON-RPC layer) ----------------
    @property
    def slot(self) -> int:
        return self._ledger.slot

    def latest_blockhash(self) -> tuple[Hash, int]:
        """The current blockhash and the last slot at which it is still accepted."""
        return self._ledger.latest_blockhash()

    def is_blockhash_valid(self, blockhash: Hash) -> bool:
        return self._ledger.is_blockhash_valid(blockhash)

    def get_account(self, pubkey: str | Pubkey) -> Account | None:
        return self._ledger.get_account(pubkey)

    def token_accounts_by_owner(
        self, owner: str | Pubkey, *, mint: str | Pubkey | None = None
    ) -> list[tuple[Pubkey, Account]]:
        return self._ledger.token_accounts_by_owner(owner, mint=mint)

    def mint_decimals(self, mint: Pubkey) -> int:
        return self._ledger.mint_decimals(mint)

    def minimum_balance_for_rent_exemption(self, data_len: int) -> int:
        return self._ledger.minimum_balance_for_rent_exemption(data_len)

    def send_raw_transaction(self, raw: bytes, *, skip_preflight: bool = False) -> str:
        """Execute a client's signed transaction (see :meth:`Ledger.send_raw_transaction`)."""
        return self._ledger.send_raw_transaction(raw, skip_preflight=skip_preflight)

    def transaction(self, signature: str) -> TxRecord | None:
        return self._ledger.history.transaction(signature)

    def signatures_for_address(
        self,
        address: str | Pubkey,
        *,
        limit: int = 1000,
        before: str | None = None,
        until: str | None = None,
    ) -> list[TxRecord]:
        """Transactions that reference ``address``, newest first."""
        return self._ledger.history.signatures_for_address(
            address, limit=limit, before=before, until=until
        )
