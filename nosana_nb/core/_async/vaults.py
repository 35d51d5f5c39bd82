"""A vault seen from its owner's wallet, for asyncio code: the single source of its sync twin.

Amounts, transactions and the withdraw checks live in ``_shared/vaults.py``; this handle only
reads balances, sends transactions and asks the service for withdrawals.
``scripts/unasync.py`` turns this module into ``_sync/vaults.py``.
"""

from __future__ import annotations

from typing import Any

from nosana_nb.core._async.http import AsyncHTTP
from nosana_nb.core._async.solana_rpc import AsyncSolanaRPC
from nosana_nb.core._shared.vaults import VaultBalance, VaultBase
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.wallet import Wallet


class AsyncVault(VaultBase):
    """A vault seen from its owner's wallet: balance, top-up, withdraw."""

    def __init__(
        self,
        address: str,
        *,
        wallet: Wallet,
        rpc: AsyncSolanaRPC,
        dm: AsyncHTTP,
        network: NetworkConfig,
    ) -> None:
        super().__init__(address, wallet=wallet, network=network)
        self._rpc = rpc
        self._dm = dm

    async def get_balance(self) -> VaultBalance:
        """The vault's SOL and NOS, read from the chain.

        Returns:
            The balance, in whole SOL/NOS (Decimal) and lamports/base units (int).
        """
        mint = self._mint()
        lamports = await self._rpc.get_balance(self._address)
        nos = await self._rpc.get_token_balance(self._address, mint)
        return VaultBalance.from_units(lamports, nos)

    async def topup(self, lamports: int | None = None, *, sol: Any = None, nos: Any = None) -> str:
        """Send SOL and/or NOS from the wallet to the vault; returns the confirmed signature.

        ``lamports`` (positional, like the TypeScript SDK's ``topup(1000000)``) or ``sol`` in
        whole SOL; ``nos`` in whole NOS. Amounts are Decimal, int or str, converted exactly.

        Args:
            lamports: SOL to send, in lamports.
            sol: SOL to send, in whole SOL (instead of ``lamports``).
            nos: NOS to send, in whole NOS.

        Returns:
            The confirmed transaction's signature.
        """
        plan, mint = self._start_topup(lamports, sol, nos)
        wallet_lamports = await self._rpc.get_balance(self._wallet.pubkey)
        wallet_nos, vault_account = 0, None
        if plan.nos_base_units:
            wallet_nos = await self._rpc.get_token_balance(self._wallet.pubkey, mint)
            vault_account = await self._rpc.get_account(self._vault_token_account(mint))
        raw = self._topup_transaction(
            plan,
            mint,
            await self._rpc.get_latest_blockhash(),
            wallet_lamports=wallet_lamports,
            wallet_nos=wallet_nos,
            vault_account=vault_account,
        )
        return await self._send_confirmed(raw)

    async def withdraw(self, amount: Any = None) -> str:
        """Move everything in the vault back to the wallet.

        Args:
            amount: must be None: the service withdraws everything (a partial amount is
                refused, as the service cannot do it).

        Returns:
            The confirmed transaction's signature.
        """
        mint, path = self._start_withdraw(amount)
        body = await self._dm.request("POST", path, json={})
        return await self._send_confirmed(self._cosigned_withdraw(body, self._dm.url(path), mint))

    async def _send_confirmed(self, raw: bytes) -> str:
        signature = await self._rpc.send_transaction(raw)
        await self._rpc.confirm_transaction(signature)
        return signature
