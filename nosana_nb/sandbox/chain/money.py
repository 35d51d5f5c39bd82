"""Money movements on the sandbox chain: the NOS mint, job escrow and settlement, vault withdraw.

The sandbox's own signers hold the NOS mint authority and the job escrow. Their keys are made at
genesis and kept in ``chain_meta``, so a restart resumes them. Every movement here is an ordinary
signed transaction on the ledger, so it shows up in ``getSignaturesForAddress`` and
``getTransaction`` like anything a client sends.
"""

from __future__ import annotations

import base64
import hashlib

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from spl.token.constants import MINT_LEN, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint2,
    mint_to_checked,
    transfer_checked,
)
from spl.token.models import InitializeMint2Params, MintToCheckedParams, TransferCheckedParams

from .errors import FUNDS_MARKER, ChainError
from .ledger import Ledger
from .values import NOS_DECIMALS, check_amount, keypair_from_secret, parse_pubkey

LAMPORTS_PER_SIGNATURE = 5000

NETWORK_REWARDS_AUTHORITY = Pubkey.from_bytes(
    hashlib.sha256(b"nosana_nb sandbox network rewards v1").digest()
)
"""Owner of the NOS account the network fee goes to (the jobs program sends it to the rewards
program's vault). Nobody holds its key: what is paid there stays there."""

LOCAL_NOS_MINT_SEED = hashlib.sha256(b"nosana_nb sandbox NOS mint v1").digest()
LOCAL_NOS_MINT = str(Keypair.from_seed(LOCAL_NOS_MINT_SEED).pubkey())
"""Fixed address of the sandbox NOS mint (FoBvDx...), so client presets can name it."""


class ServiceKeys:
    """The keypairs of the sandbox's own signers (never in a repr)."""

    def __init__(self, *, mint: Keypair, mint_authority: Keypair, escrow: Keypair) -> None:
        self.mint = mint
        self.mint_authority = mint_authority
        self.escrow = escrow

    @classmethod
    def generate(cls) -> ServiceKeys:
        """The fixed local NOS mint, and fresh authorities."""
        return cls(
            mint=Keypair.from_seed(LOCAL_NOS_MINT_SEED), mint_authority=Keypair(), escrow=Keypair()
        )

    @classmethod
    def from_meta(cls, meta: dict[str, str]) -> ServiceKeys:
        return cls(
            mint=Keypair.from_base58_string(meta["mint"]),
            mint_authority=Keypair.from_base58_string(meta["mint_authority"]),
            escrow=Keypair.from_base58_string(meta["escrow_authority"]),
        )

    def to_meta(self) -> dict[str, str]:
        return {
            "mint": str(self.mint),
            "mint_authority": str(self.mint_authority),
            "escrow_authority": str(self.escrow),
        }


class Money:
    """NOS on the ledger: the faucet's mint, job escrow and settlement, and vault withdraw."""

    def __init__(self, ledger: Ledger, keys: ServiceKeys) -> None:
        self._ledger = ledger
        self._keys = keys
        self._lock = ledger.lock

    @property
    def nos_mint(self) -> Pubkey:
        return self._keys.mint.pubkey()

    @property
    def escrow_authority(self) -> Pubkey:
        return self._keys.escrow.pubkey()

    @property
    def escrow_account(self) -> Pubkey:
        return get_associated_token_address(self.escrow_authority, self.nos_mint)

    @property
    def rewards_account(self) -> Pubkey:
        """The NOS account network fees are paid into."""
        return get_associated_token_address(NETWORK_REWARDS_AUTHORITY, self.nos_mint)

    def _ensure_rewards_account(self) -> None:
        """Create the rewards NOS account once, paid by the escrow signer (not by a vault)."""
        if self._ledger.get_account(self.rewards_account) is not None:
            return
        escrow = self.escrow_authority
        self._ledger.ensure_float(escrow)
        self._ledger.run(
            escrow,
            [
                create_idempotent_associated_token_account(
                    escrow, NETWORK_REWARDS_AUTHORITY, self.nos_mint
                )
            ],
            [self._keys.escrow],
        )

    def create_mint_and_escrow(self) -> None:
        """Genesis: the NOS mint account, then the escrow's NOS account, each its own block."""
        ledger = self._ledger
        authority = self._keys.mint_authority.pubkey()
        ledger.ensure_float(authority)
        rent = ledger.minimum_balance_for_rent_exemption(MINT_LEN)
        create_mint = [
            create_account(
                CreateAccountParams(
                    from_pubkey=authority,
                    to_pubkey=self.nos_mint,
                    lamports=rent,
                    space=MINT_LEN,
                    owner=TOKEN_PROGRAM_ID,
                )
            ),
            initialize_mint2(
                InitializeMint2Params(
                    decimals=NOS_DECIMALS,
                    program_id=TOKEN_PROGRAM_ID,
                    mint=self.nos_mint,
                    mint_authority=authority,
                )
            ),
        ]
        ledger.run(authority, create_mint, [self._keys.mint_authority, self._keys.mint])
        escrow = self.escrow_authority
        ledger.ensure_float(escrow)
        ledger.run(
            escrow,
            [create_idempotent_associated_token_account(escrow, escrow, self.nos_mint)],
            [self._keys.escrow],
        )

    def nos_balance(self, owner: str | Pubkey) -> int:
        """NOS base units in ``owner``'s associated token account (0 if it does not exist)."""
        key = parse_pubkey(owner, what="owner")
        with self._lock:
            return self._ledger.token_amount(get_associated_token_address(key, self.nos_mint))

    def mint_nos(self, owner: str | Pubkey, base_units: int) -> str:
        """Mint NOS into ``owner``'s associated token account (created if missing)."""
        target = parse_pubkey(owner, what="owner")
        check_amount(base_units, what="base_units")
        with self._lock:
            self._ledger.ensure_float(self._keys.mint_authority.pubkey())
            mint = self.nos_mint
            authority = self._keys.mint_authority.pubkey()
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
            return self._ledger.run(authority, instructions, [self._keys.mint_authority])

    def escrow(self, vault_secret: bytes, base_units: int, fee_units: int = 0) -> str:
        """Move a job deposit from the vault's NOS account to the escrow, and the network fee
        to the rewards account, in one transaction; the vault pays the transaction fee."""
        vault = keypair_from_secret(vault_secret)
        check_amount(base_units, what="base_units")
        check_amount(fee_units, what="fee_units", allow_zero=True)
        with self._lock:
            source = get_associated_token_address(vault.pubkey(), self.nos_mint)
            held_nos = self._ledger.token_amount(source)
            held_sol = self._ledger.sol_balance(vault.pubkey())
            needed = base_units + fee_units
            if held_nos < needed or held_sol < LAMPORTS_PER_SIGNATURE:
                raise ChainError(
                    f"Transaction simulation failed: {FUNDS_MARKER}: vault {vault.pubkey()} "
                    f"holds {held_nos} NOS base units and {held_sol} lamports; the deposit "
                    f"needs {base_units} NOS base units plus a network fee of {fee_units} "
                    f"and {LAMPORTS_PER_SIGNATURE} lamports for the fee",
                    err={FUNDS_MARKER: {"account_index": 0}},
                )
            instructions = [
                self._nos_transfer(source, self.escrow_account, vault.pubkey(), base_units)
            ]
            if fee_units:
                self._ensure_rewards_account()
                instructions.append(
                    self._nos_transfer(source, self.rewards_account, vault.pubkey(), fee_units)
                )
            return self._ledger.run(vault.pubkey(), instructions, [vault])

    def settle(self, vault: str | Pubkey, node: str | Pubkey, pay: int, refund: int) -> str:
        """Pay a node from the escrow and refund the rest of a deposit to the vault."""
        vault_key = parse_pubkey(vault, what="vault")
        node_key = parse_pubkey(node, what="node")
        check_amount(pay, what="pay", allow_zero=True)
        check_amount(refund, what="refund", allow_zero=True)
        with self._lock:
            escrow = self.escrow_account
            available = self._ledger.token_amount(escrow)
            if pay + refund > available:
                raise ChainError(
                    f"Transaction simulation failed: escrow holds {available} NOS base units, "
                    f"settlement needs {pay + refund}"
                )
            authority = self.escrow_authority
            self._ledger.ensure_float(authority)
            mint = self.nos_mint
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
            return self._ledger.run(authority, instructions, [self._keys.escrow])

    def build_withdraw_tx(self, vault_secret: bytes, owner: str | Pubkey) -> str:
        """The DM's withdraw transaction: all SOL and NOS to ``owner``, who pays the fee.

        Returned as base64 of a v0 transaction signed by the vault only; the owner's slot is empty.
        """
        vault = keypair_from_secret(vault_secret)
        owner_key = parse_pubkey(owner, what="owner")
        with self._lock:
            mint = self.nos_mint
            vault_ata = get_associated_token_address(vault.pubkey(), mint)
            nos = self._ledger.token_amount(vault_ata)
            sol = self._ledger.sol_balance(vault.pubkey())
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
            blockhash = self._ledger.current_blockhash()
            message = MessageV0.try_compile(owner_key, instructions, [], blockhash)
            tx = VersionedTransaction(message, [NullSigner(owner_key), vault])
            return base64.b64encode(bytes(tx)).decode()

    def _nos_transfer(
        self, source: Pubkey, dest: Pubkey, authority: Pubkey, amount: int
    ) -> Instruction:
        return transfer_checked(
            TransferCheckedParams(
                program_id=TOKEN_PROGRAM_ID,
                source=source,
                mint=self.nos_mint,
                dest=dest,
                owner=authority,
                amount=amount,
                decimals=NOS_DECIMALS,
            )
        )
