# generated from _async/solana_rpc.py by scripts/unasync.py — do not edit
"""The blocking Solana JSON-RPC client: the few calls the vault needs.

Generated from ``_async/solana_rpc.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey

from nosana_nb.core._shared.http import (
    NOT_GIVEN,
    NotGiven,
    within_deadline,
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
from nosana_nb.core._sync.http import read_capped
from nosana_nb.core.retry_policy import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RPC_BACKOFF,
    DEFAULT_RPC_RETRIES,
    DEFAULT_RPC_TIMEOUT,
    Deadline,
    RetryCounter,
    Sleeper,
)


class SolanaRPC(RPCBase):
    """The few Solana JSON-RPC calls the vault needs."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_RPC_TIMEOUT,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
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
        self._client = http_client or httpx.Client(
            transport=transport, timeout=self._timeout, verify=shared_ssl_context()
        )

    def call(self, call: RPCCall) -> Any:
        """Send one call (retried as the policy says, within the deadline) and parse its answer."""
        deadline = Deadline(self.deadline)

        def attempt() -> Any:
            request = self._request(self._client, call, deadline)
            try:
                with within_deadline(deadline, "POST", self.url):
                    response = read_capped(self._client, request, self._body_reader(deadline))
            except httpx.HTTPError as exc:
                raise transport_error(exc, call, self.url) from None
            return parse_answer(call, response, self.url)

        return self._retrier(call, deadline).call(attempt)

    def get_balance(self, pubkey: str | Pubkey) -> int:
        return int(self.call(balance_call(pubkey)))

    def get_account(self, pubkey: str | Pubkey) -> Account | None:
        result: Account | None = self.call(account_call(pubkey))
        return result

    def get_multiple_accounts(self, pubkeys: list[str] | list[Pubkey]) -> list[Account | None]:
        """Up to 100 accounts in one ``getMultipleAccounts`` call (None where there is none)."""
        result: list[Account | None] = self.call(multiple_accounts_call(pubkeys))
        return result

    def get_token_balance(self, owner: str | Pubkey, mint: str | Pubkey) -> int:
        return int(self.call(token_balance_call(owner, mint)))

    def get_latest_blockhash(self) -> Hash:
        result: Hash = self.call(latest_blockhash_call())
        return result

    def send_transaction(self, raw: bytes) -> str:
        return str(self.call(send_transaction_call(raw)))

    # The deadline also bounds the polling sleeps.
    def confirm_transaction(self, sig: str, *, timeout: float = 30.0) -> None:
        """Poll the signature's status until it is confirmed; raise if it failed on chain."""
        signature = signature_text(sig)
        deadline = time.monotonic() + check_confirm_timeout(timeout)
        while True:
            statuses = self.call(signature_statuses_call([signature]))
            if status_outcome(statuses[0], signature):
                return
            time.sleep(next_poll_pause(deadline, signature, timeout))

    def get_signatures_for_address(
        self, addr: str | Pubkey, *, limit: int = MAX_SIGNATURES, before: str | None = None
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call(
            signatures_for_address_call(addr, limit=limit, before=before)
        )
        return result

    def get_transaction(self, sig: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.call(transaction_call(sig))
        return result

    def request_airdrop(self, pubkey: str | Pubkey, lamports: int) -> str:
        return str(self.call(airdrop_call(pubkey, lamports)))

    def close(self) -> None:
        """Close the client's own httpx client (an injected one is left to its owner)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SolanaRPC:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
