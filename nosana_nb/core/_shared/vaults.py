"""The I/O-free half of a deployment's vault: amounts, top-up transactions, withdraw checks.

The vault is a keypair the deployment manager holds; its money is on chain (SOL as lamports,
NOS in its associated token account). Top-ups are ordinary transfers the wallet signs; a
withdrawal is built and half-signed by the deployment manager, so before adding the wallet's
signature we check that the transaction only moves money *to* the wallet. Amount conversion,
transaction building and those checks are pure functions shared by ``Vault`` and
``AsyncVault`` (``_async/vaults.py``, its sync twin generated).
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from solders.account import Account
from solders.compute_budget import ID as COMPUTE_BUDGET_PROGRAM_ID
from solders.hash import Hash
from solders.instruction import AccountMeta, CompiledInstruction, Instruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.constants import ACCOUNT_LEN, ASSOCIATED_TOKEN_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
    transfer_checked,
)
from spl.token.models import TransferCheckedParams

from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.errors import (
    APIResponseValidationError,
    ConfigError,
    InsufficientFundsError,
    UnsafeWithdrawError,
    ValidationError,
)
from nosana_nb.core.validation import check_path_id, check_pubkey
from nosana_nb.core.wallet import Wallet

__all__ = [
    "LAMPORTS_PER_SOL",
    "NOS_BASE_UNITS_PER_NOS",
    "NOS_DECIMALS",
    "TopupPlan",
    "UnsafeWithdrawError",
    "VaultBalance",
    "VaultBase",
    "build_topup_transaction",
    "plan_topup",
    "to_base_units",
    "verify_withdraw_transaction",
]

LAMPORTS_PER_SOL: Final = 10**9
NOS_DECIMALS: Final = 6
NOS_BASE_UNITS_PER_NOS: Final = 10**NOS_DECIMALS
SOL_DECIMALS: Final = 9
LAMPORTS_PER_SIGNATURE: Final = 5000
TOKEN_ACCOUNT_RENT_LAMPORTS: Final = 2_039_280
"""Rent-exempt minimum of a 165-byte token account (paid once if the vault has no NOS account)."""
SYSTEM_ACCOUNT_RENT_LAMPORTS: Final = 890_880
"""Rent-exempt minimum of a plain wallet: a wallet may end with 0 lamports or at least this."""
MAX_PRIORITY_FEE_LAMPORTS: Final = 10_000_000
"""A withdraw may carry a priority fee the owner pays; more than 0.01 SOL is refused."""
_DEFAULT_COMPUTE_UNITS: Final = 1_400_000
_U64: Final = 2**64
_WITHDRAW_ALWAYS_DRAINS: Final = (
    "withdraw() takes no amount: the deployment manager always withdraws everything the vault "
    "holds (all SOL and all NOS go back to your wallet). Call withdraw() without arguments, "
    "then top up again what you want to keep in the vault."
)


@dataclass(frozen=True)
class VaultBalance:
    """A vault's holdings: exact Decimals in whole SOL/NOS, and the raw on-chain integers."""

    sol: Decimal
    nos: Decimal
    lamports: int
    nos_base_units: int

    @classmethod
    def from_units(cls, lamports: int, nos_base_units: int) -> VaultBalance:
        return cls(
            sol=Decimal(lamports).scaleb(-SOL_DECIMALS),
            nos=Decimal(nos_base_units).scaleb(-NOS_DECIMALS),
            lamports=lamports,
            nos_base_units=nos_base_units,
        )

    @property
    def is_empty(self) -> bool:
        return self.lamports == 0 and self.nos_base_units == 0


# -- amounts ---------------------------------------------------------------------------------


def to_base_units(value: Any, *, decimals: int, argument: str) -> int:
    """Whole units (Decimal, int, str or float) to integer base units, exactly or not at all.

    A float is read at its shortest repr (0.1 -> "0.1"), so a literal works while arithmetic
    noise such as 0.1 + 0.2 is refused rather than rounded.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str | float):
        raise ValidationError(
            f"{argument} must be a Decimal, int or str amount; got {type(value).__name__}",
            argument=argument,
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{argument} must be a finite amount; got {value}", argument=argument)
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else value)
    except (InvalidOperation, ValueError):
        shown = repr(value) if len(str(value)) <= 40 else "a long string"
        raise ValidationError(f"{argument} is not a number: {shown}", argument=argument) from None
    if not amount.is_finite():
        raise ValidationError(f"{argument} must be a finite amount; got {value}", argument=argument)
    if amount < 0:
        raise ValidationError(f"{argument} must not be negative; got {amount}", argument=argument)
    units = amount.scaleb(decimals)
    if units != units.to_integral_value():
        raise ValidationError(
            f"{argument}={amount} has more than {decimals} decimal places; the smallest unit is "
            f"{Decimal(1).scaleb(-decimals)}",
            argument=argument,
        )
    if units >= _U64:
        raise ValidationError(f"{argument}={amount} is too large", argument=argument)
    return int(units)


def _lamports_argument(lamports: Any) -> int:
    if isinstance(lamports, bool) or not isinstance(lamports, int):
        raise ValidationError(
            "lamports must be an int (1 SOL = 1_000_000_000 lamports); for whole SOL use sol=...",
            argument="lamports",
        )
    return to_base_units(lamports, decimals=0, argument="lamports")


@dataclass(frozen=True)
class TopupPlan:
    lamports: int
    nos_base_units: int


def plan_topup(lamports: Any = None, *, sol: Any = None, nos: Any = None) -> TopupPlan:
    """Validate top-up arguments into exact base units (nothing is sent)."""
    if lamports is not None and sol is not None:
        raise ValidationError(
            "pass either lamports (positional) or sol=..., not both", argument="sol"
        )
    sol_units = 0
    if lamports is not None:
        sol_units = _lamports_argument(lamports)
    elif sol is not None:
        sol_units = to_base_units(sol, decimals=SOL_DECIMALS, argument="sol")
    nos_units = to_base_units(nos, decimals=NOS_DECIMALS, argument="nos") if nos is not None else 0
    if sol_units == 0 and nos_units == 0:
        given = [
            name
            for name, v in (("lamports", lamports), ("sol", sol), ("nos", nos))
            if v is not None
        ]
        raise ValidationError(
            "nothing to top up: pass sol=..., nos=... (whole units) or lamports greater than 0",
            argument=given[0] if given else "sol",
        )
    return TopupPlan(sol_units, nos_units)


def _topup_costs(plan: TopupPlan, vault_has_token_account: bool) -> int:
    """Lamports the wallet spends besides the transfer: the fee and, maybe, the vault's ATA."""
    rent = TOKEN_ACCOUNT_RENT_LAMPORTS if plan.nos_base_units and not vault_has_token_account else 0
    return LAMPORTS_PER_SIGNATURE + rent


def check_wallet_funds(
    plan: TopupPlan,
    *,
    wallet: str,
    wallet_lamports: int,
    wallet_nos: int,
    vault_has_token_account: bool,
) -> None:
    need_lamports = plan.lamports + _topup_costs(plan, vault_has_token_account)
    left = wallet_lamports - need_lamports
    if 0 < left < SYSTEM_ACCOUNT_RENT_LAMPORTS:
        # The chain refuses to leave a wallet with dust below the rent-exempt minimum.
        need_lamports += SYSTEM_ACCOUNT_RENT_LAMPORTS
    short_sol = wallet_lamports < need_lamports
    short_nos = wallet_nos < plan.nos_base_units
    if not (short_sol or short_nos):
        return
    have = VaultBalance.from_units(wallet_lamports, wallet_nos)
    need = VaultBalance.from_units(need_lamports, plan.nos_base_units)
    problems = []
    if short_sol:
        problems.append(
            f"the top-up needs {need.sol} SOL ({VaultBalance.from_units(plan.lamports, 0).sol} "
            f"to send plus fees and rent; a wallet keeps 0 or at least "
            f"{VaultBalance.from_units(SYSTEM_ACCOUNT_RENT_LAMPORTS, 0).sol} SOL) "
            f"but wallet {wallet} has {have.sol} SOL"
        )
    if short_nos:
        problems.append(f"the top-up needs {need.nos} NOS but wallet {wallet} has {have.nos} NOS")
    raise InsufficientFundsError(
        "Insufficient funds: " + "; ".join(problems),
        required_nos=need.nos,
        available_nos=have.nos,
        required_sol=need.sol,
        available_sol=have.sol,
    )


def build_topup_transaction(
    wallet: Wallet, vault: Pubkey, mint: Pubkey, plan: TopupPlan, blockhash: Hash
) -> VersionedTransaction:
    """One v0 transaction, fee paid by the wallet: SOL transfer, vault ATA, NOS transfer."""
    payer = wallet.pubkey
    instructions: list[Instruction] = []
    if plan.lamports:
        instructions.append(
            transfer(TransferParams(from_pubkey=payer, to_pubkey=vault, lamports=plan.lamports))
        )
    if plan.nos_base_units:
        instructions.append(create_idempotent_associated_token_account(payer, vault, mint))
        instructions.append(
            transfer_checked(
                TransferCheckedParams(
                    program_id=TOKEN_PROGRAM_ID,
                    source=get_associated_token_address(payer, mint),
                    mint=mint,
                    dest=get_associated_token_address(vault, mint),
                    owner=payer,
                    amount=plan.nos_base_units,
                    decimals=NOS_DECIMALS,
                )
            )
        )
    message = MessageV0.try_compile(payer, instructions, [], blockhash)
    return VersionedTransaction(message, [wallet.keypair_for_signing()])


# -- withdraw checks -------------------------------------------------------------------------


def parse_withdraw_response(body: Any, url: str) -> VersionedTransaction:
    def bad(what: str) -> APIResponseValidationError:
        return APIResponseValidationError(
            f"POST {url} returned {what}; expected {{'transaction': '<base64>'}}",
            method="POST",
            url=url,
            body=str(body)[:300],
        )

    if not isinstance(body, dict) or not isinstance(body.get("transaction"), str):
        raise bad("no transaction")
    try:
        return VersionedTransaction.from_bytes(base64.b64decode(body["transaction"], validate=True))
    except (binascii.Error, ValueError):
        raise bad("a transaction that is not a base64 serialized transaction") from None


def verify_withdraw_transaction(
    tx: VersionedTransaction, *, owner: Pubkey, vault: Pubkey, mint: Pubkey, url: str
) -> None:
    """Refuse to co-sign unless the fee payer is the owner and every transfer pays the owner."""

    def refuse(reason: str) -> UnsafeWithdrawError:
        return UnsafeWithdrawError(
            f"refusing to sign the withdraw transaction from {url}: {reason}",
            method="POST",
            url=url,
        )

    message = tx.message
    keys = list(message.account_keys)
    if not keys or keys[0] != owner:
        raise refuse(
            "Fee payer of the transaction must match the wallet address "
            f"({keys[0] if keys else 'none'} != {owner})"
        )
    if isinstance(message, MessageV0) and message.address_table_lookups:
        raise refuse("it loads accounts from address lookup tables, which cannot be checked")
    if not message.instructions:
        raise refuse("it has no instructions")
    owner_ata = get_associated_token_address(owner, mint)
    priority_micro_lamports = 0
    compute_units = _DEFAULT_COMPUTE_UNITS
    for index, compiled in enumerate(message.instructions):
        ix = _expand(compiled, keys, index, refuse)
        where = f"instruction {index}"
        if ix.program_id == SYSTEM_PROGRAM_ID:
            sol = _system_transfer(ix)
            if sol is None:
                raise refuse(f"{where} is a System instruction other than a transfer")
            source, dest, lamports = sol
            if dest != owner or source != vault:
                raise refuse(
                    f"{where} moves {lamports} lamports from {source} to {dest}, "
                    "not from the vault to your wallet"
                )
        elif ix.program_id == TOKEN_PROGRAM_ID:
            token = _token_transfer_checked(ix)
            if token is None:
                raise refuse(f"{where} is a token instruction other than transfer_checked")
            token_mint, token_dest, authority, amount = token
            if token_dest != owner_ata or token_mint != mint or authority != vault:
                raise refuse(
                    f"{where} transfers {amount} base units of {token_mint} to {token_dest}, "
                    f"not from the vault to your NOS account {owner_ata}"
                )
        elif ix.program_id == ASSOCIATED_TOKEN_PROGRAM_ID:
            accounts = [meta.pubkey for meta in ix.accounts]
            if (
                bytes(ix.data) not in (b"", b"\x01")
                or len(accounts) < 4
                or accounts[1:4] != [owner_ata, owner, mint]
            ):
                raise refuse(f"{where} creates a token account other than your NOS account")
        elif ix.program_id == COMPUTE_BUDGET_PROGRAM_ID:
            data = bytes(ix.data)
            if data[:1] == b"\x02" and len(data) == 5:
                compute_units = struct.unpack("<I", data[1:])[0]
            elif data[:1] == b"\x03" and len(data) == 9:
                priority_micro_lamports = struct.unpack("<Q", data[1:])[0]
            elif data[:1] not in (b"\x01", b"\x04"):
                raise refuse(f"{where} is an unknown compute-budget instruction")
        else:
            raise refuse(f"{where} calls program {ix.program_id}, which a withdraw never needs")
    priority_fee = priority_micro_lamports * compute_units // 1_000_000
    if priority_fee > MAX_PRIORITY_FEE_LAMPORTS:
        raise refuse(f"it sets a priority fee of {priority_fee} lamports paid by your wallet")


def _system_transfer(ix: Instruction) -> tuple[Pubkey, Pubkey, int] | None:
    """(from, to, lamports) of a System transfer; None for any other System instruction.

    Decoded by hand: solders' decoder panics on malformed input, and this input is untrusted.
    """
    data = bytes(ix.data)
    if len(data) != 12 or data[:4] != b"\x02\x00\x00\x00" or len(ix.accounts) < 2:
        return None
    return ix.accounts[0].pubkey, ix.accounts[1].pubkey, struct.unpack("<Q", data[4:])[0]


def _token_transfer_checked(ix: Instruction) -> tuple[Pubkey, Pubkey, Pubkey, int] | None:
    """(mint, destination, authority, amount) of an SPL TransferChecked, else None."""
    data = bytes(ix.data)
    if len(data) != 10 or data[0] != 12 or len(ix.accounts) < 4:
        return None
    _, mint, dest, authority = (meta.pubkey for meta in ix.accounts[:4])
    return mint, dest, authority, struct.unpack("<Q", data[1:9])[0]


def _expand(
    compiled: CompiledInstruction,
    keys: list[Pubkey],
    index: int,
    refuse: Callable[[str], UnsafeWithdrawError],
) -> Instruction:
    positions = [compiled.program_id_index, *bytes(compiled.accounts)]
    if any(position >= len(keys) for position in positions):
        raise refuse(f"instruction {index} refers to an account index out of range")
    metas = [AccountMeta(keys[i], is_signer=False, is_writable=False) for i in compiled.accounts]
    return Instruction(keys[compiled.program_id_index], bytes(compiled.data), metas)


# -- the vault handles -----------------------------------------------------------------------


class VaultBase:
    """What both vault handles share: address, wallet, mint, and the checks around I/O."""

    def __init__(self, address: str, *, wallet: Wallet, network: NetworkConfig) -> None:
        self._address = check_pubkey(address, argument="address")
        if not isinstance(wallet, Wallet):
            raise ValidationError("wallet must be a nosana_nb Wallet", argument="wallet")
        self._wallet = wallet
        self._network = network

    @property
    def address(self) -> str:
        """The vault's address (base58)."""
        return self._address

    @property
    def pubkey(self) -> Pubkey:
        """The vault's address as a solders Pubkey."""
        return Pubkey.from_string(self._address)

    def _mint(self) -> Pubkey:
        mint = self._network.nos_mint
        if not mint:
            raise ConfigError(
                f"network {self._network.name!r} has no NOS mint configured; "
                "for the local sandbox connect() fills it in"
            )
        return Pubkey.from_string(check_pubkey(mint, argument="nos_mint"))

    def _withdraw_path(self) -> str:
        return f"/deployments/vaults/{check_path_id(self._address, argument='vault')}/withdraw"

    def _token_account_exists(self, account: Any) -> bool:
        return account is not None and len(bytes(account.data)) >= ACCOUNT_LEN

    def _start_topup(self, lamports: Any, sol: Any, nos: Any) -> tuple[TopupPlan, Pubkey]:
        """Check a top-up before any request: (plan, NOS mint)."""
        plan = plan_topup(lamports, sol=sol, nos=nos)
        self._wallet.keypair_for_signing()  # read-only wallets fail here, before any request
        return plan, self._mint()

    def _vault_token_account(self, mint: Pubkey) -> Pubkey:
        return get_associated_token_address(self.pubkey, mint)

    def _topup_transaction(
        self,
        plan: TopupPlan,
        mint: Pubkey,
        blockhash: Hash,
        *,
        wallet_lamports: int,
        wallet_nos: int,
        vault_account: Account | None,
    ) -> bytes:
        """The signed top-up, once the wallet's balances show it can pay for it."""
        check_wallet_funds(
            plan,
            wallet=self._wallet.address,
            wallet_lamports=wallet_lamports,
            wallet_nos=wallet_nos,
            vault_has_token_account=(
                self._token_account_exists(vault_account) if plan.nos_base_units else True
            ),
        )
        return bytes(build_topup_transaction(self._wallet, self.pubkey, mint, plan, blockhash))

    def _start_withdraw(self, amount: Any) -> tuple[Pubkey, str]:
        """Check a withdraw before any request: (NOS mint, the service's path)."""
        if amount is not None:
            raise ValidationError(_WITHDRAW_ALWAYS_DRAINS, argument="amount")
        self._wallet.keypair_for_signing()
        return self._mint(), self._withdraw_path()

    def _cosigned_withdraw(self, body: Any, url: str, mint: Pubkey) -> bytes:
        """The service's withdraw transaction, checked and signed by the owner."""
        tx = parse_withdraw_response(body, url)
        verify_withdraw_transaction(
            tx, owner=self._wallet.pubkey, vault=self.pubkey, mint=mint, url=url
        )
        return bytes(self._wallet.sign_transaction(tx))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._address!r}, wallet={self._wallet.address!r})"
