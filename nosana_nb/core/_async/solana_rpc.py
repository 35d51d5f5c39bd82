"""The asyncio Solana JSON-RPC client: the single source of its sync twin.

Calls are built and parsed in ``_shared/solana_rpc.py``; every call goes through the retry
loop of ``retry_policy``. ``scripts/unasync.py`` turns this module into ``_sync/solana_rpc.py``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey

from nosana_nb.core._async.http import read_capped
from nosana_nb.core._shared.http import (
    NOT_GIVEN,
    NotGiven,
    awithin_deadline,
)
from nosana_nb.core._shared.solana_rpc import (
    MAX_SIGNATURES,
    RPCBase,
    RPCCall,
    account_call,
    airdrop_call,
    balance_call,
    check_confirm_timeout,
    latest_blockhash_call,
    multiple_accounts_call,
    next_poll_pause,
    parse_answer,
    send_transaction_call,
    signature_statuses_call,
    signature_text,
    signatures_for_address_call,
    status_outcome,
    token_balance_call,
    transaction_call,
    transport_error,
)
from nosana_nb.core._shared.tls import shared_ssl_context
from nosana_nb.core.retry_policy import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RPC_BACKOFF,
    DEFAULT_RPC_RETRIES,
    DEFAULT_RPC_TIMEOUT,
    Deadline,
    RetryCounter,
    Sleeper,
)


class AsyncSolanaRPC(RPCBase):
    """The few Solana JSON-RPC calls the vault needs."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_RPC_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = DEFAULT_RPC_RETRIES,
        backoff_factor: float = DEFAULT_RPC_BACKOFF,
        retry_counter: RetryCounter | None = None,
        sleeper: Sleeper | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> None:
        super().__init__(
            url,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            has_client=http_client is not None,
            transport=transport,
            retry_counter=retry_counter,
            sleeper=sleeper,
            max_response_bytes=max_response_bytes,
            deadline=deadline,
        )
        self._client = http_client or httpx.AsyncClient(
            transport=transport, timeout=self._timeout, verify=shared_ssl_context()
        )

    async def call(self, call: RPCCall) -> Any:
        """Send one call (retried as the policy says, within the deadline) and parse its answer."""
        deadline = Deadline(self.deadline)

        async def attempt() -> Any:
            request = self._request(self._client, call, deadline)
            try:
                async with awithin_deadline(deadline, "POST", self.url):
                    response = await read_capped(self._client, request, self._body_reader(deadline))
            except httpx.HTTPError as exc:
                raise transport_error(exc, call, self.url) from None
            return parse_answer(call, response, self.url)

        return await self._retrier(call, deadline).acall(attempt)

    async def get_balance(self, pubkey: str | Pubkey) -> int:
        return int(await self.call(balance_call(pubkey)))

    async def get_account(self, pubkey: str | Pubkey) -> Account | None:
        result: Account | None = await self.call(account_call(pubkey))
        return result

    async def get_multiple_accounts(
        self, pubkeys: list[str] | list[Pubkey]
    ) -> list[Account | None]:
        """Up to 100 accounts in one ``getMultipleAccounts`` call (None where there is none)."""
        result: list[Account | None] = await self.call(multiple_accounts_call(pubkeys))
        return result

    async def get_token_balance(self, owner: str | Pubkey, mint: str | Pubkey) -> int:
        return int(await self.call(token_balance_call(owner, mint)))

    async def get_latest_blockhash(self) -> Hash:
        result: Hash = await self.call(latest_blockhash_call())
        return result

    async def send_transaction(self, raw: bytes) -> str:
        return str(await self.call(send_transaction_call(raw)))

    # The deadline also bounds the polling sleeps.
    async def confirm_transaction(self, sig: str, *, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Poll the signature's status until it is confirmed; raise if it failed on chain."""
        signature = signature_text(sig)
        deadline = time.monotonic() + check_confirm_timeout(timeout)
        while True:
            statuses = await self.call(signature_statuses_call([signature]))
            if status_outcome(statuses[0], signature):
                return
            await asyncio.sleep(next_poll_pause(deadline, signature, timeout))

    async def get_signatures_for_address(
        self, addr: str | Pubkey, *, limit: int = MAX_SIGNATURES, before: str | None = None
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.call(
            signatures_for_address_call(addr, limit=limit, before=before)
        )
        return result

    async def get_transaction(self, sig: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.call(transaction_call(sig))
        return result

    async def request_airdrop(self, pubkey: str | Pubkey, lamports: int) -> str:
        return str(await self.call(airdrop_call(pubkey, lamports)))

    async def aclose(self) -> None:
        """Close the client's own httpx client (an injected one is left to its owner)."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> AsyncSolanaRPC:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
