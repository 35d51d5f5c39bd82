"""Values of the sandbox chain: public keys, amounts and keypairs checked on the way in, token
accounts read and shaped on the way out."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.token.state import TokenAccount
from spl.token.constants import ACCOUNT_LEN, TOKEN_PROGRAM_ID

from .errors import ChainError

NOS_DECIMALS = 6


def parse_pubkey(value: str | Pubkey, *, what: str = "address") -> Pubkey:
    if isinstance(value, Pubkey):
        return value
    if not isinstance(value, str):
        raise ChainError(f"Invalid {what}: expected a base58 string")
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise ChainError(f"Invalid {what}: {value[:60]!r} is not a base58 public key") from None


def check_amount(value: int, *, what: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChainError(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero) or value >= 2**64:
        raise ChainError(f"{what} must be {'>= 0' if allow_zero else '> 0'} and < 2**64")
    return value


def keypair_from_secret(secret: bytes) -> Keypair:
    """The keypair of a vault from its 64 secret bytes (``bytes(Keypair)``)."""
    if not isinstance(secret, bytes | bytearray) or len(secret) != 64:
        raise ChainError("vault_secret must be the 64 bytes of a keypair")
    try:
        return Keypair.from_bytes(bytes(secret))
    except ValueError:
        raise ChainError("vault_secret is not a valid keypair") from None


def token_state(account: Account | None) -> TokenAccount | None:
    """The SPL token account in ``account``, or None if it holds something else."""
    if account is None or account.owner != TOKEN_PROGRAM_ID or len(account.data) != ACCOUNT_LEN:
        return None
    try:
        return TokenAccount.from_bytes(bytes(account.data))
    except ValueError:
        return None


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


def lamports_of(account: Account | None) -> int:
    return account.lamports if account is not None else 0
