"""A deployment's vault: its SOL/NOS balance, top-ups signed by the wallet, and withdrawals.

The vault is a keypair the deployment manager holds; its money is on chain (SOL as lamports,
NOS in its associated token account). Top-ups are ordinary transfers the wallet signs; a
withdrawal is built and half-signed by the deployment manager, so before adding the wallet's
signature we check that the transaction only moves money *to* the wallet. Amounts, transactions
and those checks are pure functions (``_shared/vaults.py``) shared by :class:`Vault` and
:class:`AsyncVault`; ``AsyncVault`` is written once in ``_async/vaults.py``, ``Vault`` generated.
"""

from nosana_nb.core._async.vaults import AsyncVault
from nosana_nb.core._shared.vaults import (
    LAMPORTS_PER_SIGNATURE,
    LAMPORTS_PER_SOL,
    MAX_PRIORITY_FEE_LAMPORTS,
    NOS_BASE_UNITS_PER_NOS,
    NOS_DECIMALS,
    SOL_DECIMALS,
    SYSTEM_ACCOUNT_RENT_LAMPORTS,
    TOKEN_ACCOUNT_RENT_LAMPORTS,
    TopupPlan,
    VaultBalance,
    build_topup_transaction,
    check_wallet_funds,
    parse_withdraw_response,
    plan_topup,
    to_base_units,
    verify_withdraw_transaction,
)
from nosana_nb.core._sync.vaults import Vault
from nosana_nb.core.errors import UnsafeWithdrawError

__all__ = [
    "LAMPORTS_PER_SIGNATURE",
    "LAMPORTS_PER_SOL",
    "MAX_PRIORITY_FEE_LAMPORTS",
    "NOS_BASE_UNITS_PER_NOS",
    "NOS_DECIMALS",
    "SOL_DECIMALS",
    "SYSTEM_ACCOUNT_RENT_LAMPORTS",
    "TOKEN_ACCOUNT_RENT_LAMPORTS",
    "AsyncVault",
    "TopupPlan",
    "UnsafeWithdrawError",
    "Vault",
    "VaultBalance",
    "build_topup_transaction",
    "check_wallet_funds",
    "parse_withdraw_response",
    "plan_topup",
    "to_base_units",
    "verify_withdraw_transaction",
]
