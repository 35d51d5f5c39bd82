"""A thin Solana JSON-RPC client over httpx: the few calls the vault needs, sync and async.

Each call is a pure :class:`RPCCall` (method, params, whether it only reads, and a parser built
on solders' typed responses); :class:`SolanaRPC` and :class:`AsyncSolanaRPC` only move bytes.
Reads are retried on connection errors and 429/502/503/504 with exponential backoff (the
policy is httpx-retries' ``Retry``); ``sendTransaction`` and ``requestAirdrop`` never are,
because repeating them could move money twice. An RPC URL may carry an API key in its query
string, so errors and reprs show it without the query.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx
from httpx_retries import Retry
from solders.account import Account
from solders.errors import SerdeJSONError
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    GetAccountInfoResp,
    GetBalanceResp,
    GetLatestBlockhashResp,
    GetSignaturesForAddressResp,
    GetSignatureStatusesResp,
    GetTransactionResp,
    RequestAirdropResp,
    SendTransactionResp,
)
from solders.signature import Signature
from solders.token.state import TokenAccount
from solders.transaction_status import TransactionConfirmationStatus, TransactionStatus
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from nosana_nb.core.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    NosanaError,
    ValidationError,
    status_error_from_response,
)
from nosana_nb.core.validation import check_pubkey

__all__ = [
    "DEFAULT_RPC_TIMEOUT",
    "AsyncSolanaRPC",
    "RPCCall",
    "SolanaRPC",
    "SolanaRPCError",
    "redact_url",
]

DEFAULT_RPC_TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)
DEFAULT_RPC_RETRIES: Final = 3
DEFAULT_RPC_BACKOFF: Final = 0.5
RETRY_STATUSES: Final = (429, 502, 503, 504)
MAX_SIGNATURES: Final = 1000
CONFIRM_POLL_SECONDS: Final = 0.4
_COMMITMENT: Final = {"commitment": "confirmed"}
_CONFIRMED: Final = (
    TransactionConfirmationStatus.Confirmed,
    TransactionConfirmationStatus.Finalized,
)


class SolanaRPCError(NosanaError):
    """The RPC node answered with a JSON-RPC error object, or a transaction failed on chain.

    ``logs`` holds the program logs of a failed preflight simulation (error -32002).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        rpc_method: str | None = None,
        data: Any = None,
    ) -> None:
        self.code = code
        self.message = message
        self.rpc_method = rpc_method
        self.data = data
        logs = data.get("logs") if isinstance(data, dict) else None
        self.logs: tuple[str, ...] = tuple(str(line) for line in logs or ())
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"Solana RPC {self.rpc_method} failed" if self.rpc_method else "Solana RPC failed"
        code = f" (code {self.code})" if self.code is not None else ""
        text = f"{where}: {self.message}{code}"
        if self.logs:
            text += "\nprogram logs:\n  " + "\n  ".join(self.logs[-8:])
        return text


def redact_url(url: str) -> str:
    """``url`` without credentials: no user info, no query string, no fragment."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# -- pure request builders and response parsers ----------------------------------------------


@dataclass(frozen=True)
class RPCCall:
    """One JSON-RPC call: what to send and how to read a successful answer."""

    method: str
    params: list[Any]
    read_only: bool
    parse: Callable[[str], Any]

    def body(self, request_id: int) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": request_id, "method": self.method, "params": self.params}


def _pubkey(value: Any, argument: str) -> Pubkey:
    return Pubkey.from_string(check_pubkey(value, argument=argument))


def _signature_text(value: Any, argument: str = "signature") -> str:
    if isinstance(value, Signature):
        return str(value)
    if isinstance(value, str) and len(value) <= 90:
        try:
            return str(Signature.from_string(value))
        except ValueError:
            pass
    raise ValidationError(
        f"{argument} must be a base58 transaction signature (64 bytes)", argument=argument
    )


def _typed(resp_type: Any, attribute: str = "value") -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return getattr(resp_type.from_json(text), attribute)

    return parse


def _raw_result(validator: Any) -> Callable[[str], Any]:
    """Check the answer against a solders type, then hand back the plain JSON result."""

    def parse(text: str) -> Any:
        validator.from_json(text)
        return json.loads(text)["result"]

    return parse


def balance_call(pubkey: str | Pubkey) -> RPCCall:
    key = _pubkey(pubkey, "pubkey")
    return RPCCall("getBalance", [str(key), _COMMITMENT], True, _typed(GetBalanceResp))


def account_call(pubkey: str | Pubkey) -> RPCCall:
    key = _pubkey(pubkey, "pubkey")
    config = {**_COMMITMENT, "encoding": "base64"}
    return RPCCall("getAccountInfo", [str(key), config], True, _typed(GetAccountInfoResp))


def token_amount(account: Account | None) -> int:
    """Base units held by a token account (0 when the account does not exist)."""
    if account is None:
        return 0
    if account.owner != TOKEN_PROGRAM_ID:
        raise ValueError("the associated token account is not owned by the SPL Token program")
    return int(TokenAccount.from_bytes(bytes(account.data)[:165]).amount)


def token_balance_call(owner: str | Pubkey, mint: str | Pubkey) -> RPCCall:
    """Reads ``owner``'s associated token account for ``mint`` (the account withdraw drains)."""
    ata = get_associated_token_address(_pubkey(owner, "owner"), _pubkey(mint, "mint"))
    config = {**_COMMITMENT, "encoding": "base64"}

    def parse(text: str) -> int:
        account: Account | None = _typed(GetAccountInfoResp)(text)
        return token_amount(account)

    return RPCCall("getAccountInfo", [str(ata), config], True, parse)


def latest_blockhash_call() -> RPCCall:
    def parse(text: str) -> Hash:
        blockhash: Hash = _typed(GetLatestBlockhashResp)(text).blockhash
        return blockhash

    return RPCCall("getLatestBlockhash", [_COMMITMENT], True, parse)


def send_transaction_call(raw: bytes) -> RPCCall:
    if not isinstance(raw, bytes | bytearray) or not raw:
        raise ValidationError("raw must be the serialized transaction bytes", argument="raw")
    config = {"encoding": "base64", "preflightCommitment": "confirmed"}
    encoded = base64.b64encode(bytes(raw)).decode()
    return RPCCall(
        "sendTransaction", [encoded, config], False, lambda t: str(_typed(SendTransactionResp)(t))
    )


def signature_statuses_call(signatures: list[str]) -> RPCCall:
    texts = [_signature_text(sig) for sig in signatures]
    return RPCCall(
        "getSignatureStatuses",
        [texts, {"searchTransactionHistory": True}],
        True,
        _typed(GetSignatureStatusesResp),
    )


def signatures_for_address_call(
    address: str | Pubkey, *, limit: int = MAX_SIGNATURES, before: str | None = None
) -> RPCCall:
    key = _pubkey(address, "address")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SIGNATURES:
        raise ValidationError(f"limit must be an int from 1 to {MAX_SIGNATURES}", argument="limit")
    config: dict[str, Any] = {**_COMMITMENT, "limit": limit}
    if before is not None:
        config["before"] = _signature_text(before, "before")
    return RPCCall(
        "getSignaturesForAddress",
        [str(key), config],
        True,
        _raw_result(GetSignaturesForAddressResp),
    )


def transaction_call(signature: str) -> RPCCall:
    config = {**_COMMITMENT, "encoding": "json", "maxSupportedTransactionVersion": 0}
    return RPCCall(
        "getTransaction",
        [_signature_text(signature), config],
        True,
        _raw_result(GetTransactionResp),
    )


def airdrop_call(pubkey: str | Pubkey, lamports: int) -> RPCCall:
    key = _pubkey(pubkey, "pubkey")
    if isinstance(lamports, bool) or not isinstance(lamports, int) or lamports <= 0:
        raise ValidationError("lamports must be an int > 0", argument="lamports")
    return RPCCall(
        "requestAirdrop",
        [str(key), lamports, _COMMITMENT],
        False,
        lambda t: str(_typed(RequestAirdropResp)(t)),
    )


def parse_answer(call: RPCCall, response: httpx.Response, url: str) -> Any:
    """Map one HTTP answer to a result or to the core's error tree."""
    if not response.is_success:
        raise status_error_from_response(
            response.status_code,
            response.content,
            response.headers.get("content-type"),
            method="POST",
            url=url,
        )
    text = response.text
    try:
        payload = json.loads(text)
    except ValueError:
        raise _bad_answer(call, url, "a body that is not JSON", text) from None
    if not isinstance(payload, dict):
        raise _bad_answer(call, url, "a JSON value that is not a JSON-RPC response", text)
    error = payload.get("error")
    if error is not None:
        if not isinstance(error, dict):
            raise _bad_answer(call, url, "a malformed error object", text)
        code = error.get("code")
        raise SolanaRPCError(
            str(error.get("message", "unknown error")),
            code=code if isinstance(code, int) else None,
            rpc_method=call.method,
            data=error.get("data"),
        )
    if "result" not in payload:
        raise _bad_answer(call, url, "neither a result nor an error", text)
    try:
        return call.parse(text)
    except (SerdeJSONError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _bad_answer(call, url, f"a result of the wrong shape ({exc})", text) from None


def _bad_answer(call: RPCCall, url: str, what: str, text: str) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"Solana RPC {call.method} at {url} returned {what}",
        method="POST",
        url=url,
        body=text[:1000],
    )


def _transport_error(exc: httpx.HTTPError, call: RPCCall, url: str) -> APIError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            f"Solana RPC {call.method} at {url} timed out", method="POST", url=url
        )
    return APIConnectionError(
        f"Solana RPC {call.method} at {url} failed: could not reach the node "
        f"({type(exc).__name__})",
        method="POST",
        url=url,
    )


def _status_outcome(status: TransactionStatus | None, signature: str) -> bool:
    """True once confirmed; raises if the transaction failed."""
    if status is None:
        return False
    if status.err is not None:
        raise SolanaRPCError(
            f"transaction {signature} failed on chain: {status.err}",
            rpc_method="getSignatureStatuses",
        )
    return status.confirmation_status in _CONFIRMED


def _check_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValidationError("timeout must be a number of seconds", argument="timeout")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValidationError("timeout must be finite and > 0 seconds", argument="timeout")
    return float(timeout)


def _next_poll_pause(deadline: float, signature: str, timeout: float) -> float:
    """Seconds to wait before the next status poll; raises once the deadline has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise SolanaRPCError(
            f"transaction {signature} was not confirmed within {timeout:g} s; it may still land "
            "or expire with its blockhash - check its status before sending it again",
            rpc_method="getSignatureStatuses",
        )
    return min(CONFIRM_POLL_SECONDS, remaining)


class _Base:
    def __init__(
        self,
        url: str,
        *,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        backoff_factor: float,
        has_client: bool,
        transport: object | None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValidationError("url must be an http(s) URL", argument="url")
        if has_client and transport is not None:
            raise ValidationError(
                "pass either http_client or transport, not both", argument="transport"
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValidationError("max_retries must be an int >= 0", argument="max_retries")
        if not isinstance(backoff_factor, int | float) or not 0 <= backoff_factor < math.inf:
            raise ValidationError("backoff_factor must be >= 0 seconds", argument="backoff_factor")
        self._url = url
        self.url = redact_url(url)
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._retry = Retry(
            total=max_retries,
            allowed_methods=["POST"],
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_jitter=0.5,
            max_backoff_wait=30.0,
        )
        self._ids = itertools.count(1)
        self._owns_client = not has_client

    def _answer(self, call: RPCCall, outcome: httpx.Response | httpx.HTTPError) -> Any:
        """The call's parsed result, or its mapped error once no retry is left."""
        if isinstance(outcome, httpx.HTTPError):
            raise _transport_error(outcome, call, self.url) from None
        return parse_answer(call, outcome, self.url)

    def _retryable(self, call: RPCCall, retry: Retry, outcome: httpx.Response | Exception) -> bool:
        if not call.read_only or retry.is_exhausted():
            return False
        if isinstance(outcome, httpx.Response):
            return bool(retry.is_retryable_status_code(outcome.status_code))
        return isinstance(outcome, httpx.TransportError)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class SolanaRPC(_Base):
    """Blocking JSON-RPC client (fine inside Jupyter's running loop)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_RPC_TIMEOUT,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        max_retries: int = DEFAULT_RPC_RETRIES,
        backoff_factor: float = DEFAULT_RPC_BACKOFF,
    ) -> None:
        super().__init__(
            url,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            has_client=http_client is not None,
            transport=transport,
        )
        self._client = http_client or httpx.Client(transport=transport, timeout=self._timeout)

    def call(self, call: RPCCall) -> Any:
        retry = self._retry
        while True:
            outcome: httpx.Response | httpx.HTTPError
            try:
                outcome = self._client.post(self._url, json=call.body(next(self._ids)))
            except httpx.HTTPError as exc:
                outcome = exc
            if not self._retryable(call, retry, outcome):
                return self._answer(call, outcome)
            retry.sleep(outcome)
            retry = retry.increment()

    def get_balance(self, pubkey: str | Pubkey) -> int:
        return int(self.call(balance_call(pubkey)))

    def get_account(self, pubkey: str | Pubkey) -> Account | None:
        result: Account | None = self.call(account_call(pubkey))
        return result

    def get_token_balance(self, owner: str | Pubkey, mint: str | Pubkey) -> int:
        return int(self.call(token_balance_call(owner, mint)))

    def get_latest_blockhash(self) -> Hash:
        result: Hash = self.call(latest_blockhash_call())
        return result

    def send_transaction(self, raw: bytes) -> str:
        return str(self.call(send_transaction_call(raw)))

    def confirm_transaction(self, sig: str, *, timeout: float = 30.0) -> None:
        signature = _signature_text(sig)
        deadline = time.monotonic() + _check_timeout(timeout)
        while True:
            statuses = self.call(signature_statuses_call([signature]))
            if _status_outcome(statuses[0], signature):
                return
            time.sleep(_next_poll_pause(deadline, signature, timeout))

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
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> SolanaRPC:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncSolanaRPC(_Base):
    """The same calls for asyncio code."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_RPC_TIMEOUT,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_retries: int = DEFAULT_RPC_RETRIES,
        backoff_factor: float = DEFAULT_RPC_BACKOFF,
    ) -> None:
        super().__init__(
            url,
            timeout=timeout,
            max_retries=max_retries,
            backoff_factor=backoff_factor,
            has_client=http_client is not None,
            transport=transport,
        )
        self._client = http_client or httpx.AsyncClient(transport=transport, timeout=self._timeout)

    async def call(self, call: RPCCall) -> Any:
        retry = self._retry
        while True:
            outcome: httpx.Response | httpx.HTTPError
            try:
                outcome = await self._client.post(self._url, json=call.body(next(self._ids)))
            except httpx.HTTPError as exc:
                outcome = exc
            if not self._retryable(call, retry, outcome):
                return self._answer(call, outcome)
            await retry.asleep(outcome)
            retry = retry.increment()

    async def get_balance(self, pubkey: str | Pubkey) -> int:
        return int(await self.call(balance_call(pubkey)))

    async def get_account(self, pubkey: str | Pubkey) -> Account | None:
        result: Account | None = await self.call(account_call(pubkey))
        return result

    async def get_token_balance(self, owner: str | Pubkey, mint: str | Pubkey) -> int:
        return int(await self.call(token_balance_call(owner, mint)))

    async def get_latest_blockhash(self) -> Hash:
        result: Hash = await self.call(latest_blockhash_call())
        return result

    async def send_transaction(self, raw: bytes) -> str:
        return str(await self.call(send_transaction_call(raw)))

    # Same signature as the sync client; the deadline also bounds the polling sleeps.
    async def confirm_transaction(self, sig: str, *, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        signature = _signature_text(sig)
        deadline = time.monotonic() + _check_timeout(timeout)
        while True:
            statuses = await self.call(signature_statuses_call([signature]))
            if _status_outcome(statuses[0], signature):
                return
            await asyncio.sleep(_next_poll_pause(deadline, signature, timeout))

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
        if self._owns_client:
            await self._client.aclose()

    async def close(self) -> None:
        await self.aclose()

    async def __aenter__(self) -> AsyncSolanaRPC:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
