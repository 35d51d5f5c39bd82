"""The I/O-free half of the Solana JSON-RPC clients: calls, parsers and shared state.

Each call is a pure :class:`RPCCall` (method, params, whether it only reads, and a parser built
on solders' typed responses); ``SolanaRPC`` and ``AsyncSolanaRPC`` only move bytes, through the
retry loop of ``retry_policy``: reads are retried like idempotent HTTP requests, while
``sendTransaction`` and ``requestAirdrop`` are sent again only when they never left (a refused
connection), because repeating them could move money twice. An RPC URL may carry an API key in
its query string, so errors and reprs show it without the query.
"""

from __future__ import annotations

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
from solders.account import Account
from solders.errors import SerdeJSONError
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.rpc.responses import (
    GetAccountInfoResp,
    GetBalanceResp,
    GetLatestBlockhashResp,
    GetMultipleAccountsResp,
    GetSignaturesForAddressResp,
    GetSignatureStatusesResp,
    GetTransactionResp,
    RequestAirdropResp,
    SendTransactionResp,
)
from solders.signature import Signature
from solders.token import ID as TOKEN_PROGRAM_ID
from solders.token.associated import get_associated_token_address
from solders.token.state import TokenAccount
from solders.transaction_status import TransactionConfirmationStatus, TransactionStatus

from nosana_nb.core._shared.http import NOT_GIVEN, BodyReader, NotGiven
from nosana_nb.core.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    SolanaRPCError,
    ValidationError,
    status_error_from_response,
)
from nosana_nb.core.retry_policy import (
    DEFAULT_MAX_RESPONSE_BYTES,
    Backoff,
    Deadline,
    Retrier,
    RetryCounter,
    Sleeper,
    check_backoff_factor,
    check_deadline,
    check_max_response_bytes,
    check_max_retries,
    derive_deadline,
    is_retryable,
    request_was_sent,
)
from nosana_nb.core.validation import check_pubkey

MAX_SIGNATURES: Final = 1000
CONFIRM_POLL_SECONDS: Final = 0.4
_COMMITMENT: Final = {"commitment": "confirmed"}
_CONFIRMED: Final = (
    TransactionConfirmationStatus.Confirmed,
    TransactionConfirmationStatus.Finalized,
)


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


def signature_text(value: Any, argument: str = "signature") -> str:
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


MAX_ACCOUNTS_PER_CALL = 100
"""What ``getMultipleAccounts`` takes in one call."""


def multiple_accounts_call(pubkeys: list[str] | list[Pubkey]) -> RPCCall:
    """``getMultipleAccounts`` for up to 100 addresses: Account or None, in the same order."""
    if not isinstance(pubkeys, list) or not 1 <= len(pubkeys) <= MAX_ACCOUNTS_PER_CALL:
        raise ValidationError(
            f"pubkeys must be a list of 1-{MAX_ACCOUNTS_PER_CALL} addresses", argument="pubkeys"
        )
    keys = [str(_pubkey(key, "pubkeys")) for key in pubkeys]
    config = {**_COMMITMENT, "encoding": "base64"}
    return RPCCall("getMultipleAccounts", [keys, config], True, _typed(GetMultipleAccountsResp))


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
    texts = [signature_text(sig) for sig in signatures]
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
        config["before"] = signature_text(before, "before")
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
        [signature_text(signature), config],
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
            retry_after=response.headers.get("retry-after"),
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


def transport_error(exc: httpx.HTTPError, call: RPCCall, url: str) -> APIError:
    """The typed error for an httpx failure of ``call`` (never naming the URL's query)."""
    sent = request_was_sent(exc)
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            f"Solana RPC {call.method} at {url} timed out",
            method="POST",
            url=url,
            request_sent=sent,
        )
    return APIConnectionError(
        f"Solana RPC {call.method} at {url} failed: could not reach the node "
        f"({type(exc).__name__})",
        method="POST",
        url=url,
        request_sent=sent,
    )


def status_outcome(status: TransactionStatus | None, signature: str) -> bool:
    """True once confirmed; raises if the transaction failed."""
    if status is None:
        return False
    if status.err is not None:
        raise SolanaRPCError(
            f"transaction {signature} failed on chain: {status.err}",
            rpc_method="getSignatureStatuses",
        )
    return status.confirmation_status in _CONFIRMED


def check_confirm_timeout(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValidationError("timeout must be a number of seconds", argument="timeout")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValidationError("timeout must be finite and > 0 seconds", argument="timeout")
    return float(timeout)


def next_poll_pause(deadline: float, signature: str, timeout: float) -> float:
    """Seconds to wait before the next status poll; raises once the deadline has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise SolanaRPCError(
            f"transaction {signature} was not confirmed within {timeout:g} s; it may still land "
            "or expire with its blockhash - check its status before sending it again",
            rpc_method="getSignatureStatuses",
        )
    return min(CONFIRM_POLL_SECONDS, remaining)


class RPCBase:
    """State and checks shared by the sync and async RPC clients."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        backoff_factor: float,
        has_client: bool,
        transport: object | None,
        retry_counter: RetryCounter | None,
        sleeper: Sleeper | None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline: float | NotGiven | None = NOT_GIVEN,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValidationError("url must be an http(s) URL", argument="url")
        if has_client and transport is not None:
            raise ValidationError(
                "pass either http_client or transport, not both", argument="transport"
            )
        self._url = url
        self.url = redact_url(url)
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.max_response_bytes = check_max_response_bytes(max_response_bytes)
        self.deadline = (
            derive_deadline(self._timeout)
            if isinstance(deadline, NotGiven)
            else check_deadline(deadline)
        )
        self._backoff = Backoff(
            max_retries=check_max_retries(max_retries),
            factor=check_backoff_factor(backoff_factor),
        )
        self._counter = retry_counter if retry_counter is not None else RetryCounter()
        self._sleeper = sleeper
        self._ids = itertools.count(1)
        self._owns_client = not has_client

    @property
    def retries_total(self) -> int:
        """Retries counted so far (with a client's shared counter: the client's total)."""
        return self._counter.total

    def _body(self, call: RPCCall) -> dict[str, Any]:
        return call.body(next(self._ids))

    def _retrier(self, call: RPCCall, deadline: Deadline | None = None) -> Retrier:
        return Retrier(
            self._backoff,
            retry_on=lambda failure: is_retryable(failure, idempotent=call.read_only),
            counter=self._counter,
            sleeper=self._sleeper,
            what=f"Solana RPC {call.method}",
            deadline=deadline,
        )

    def _request(
        self, client: httpx.Client | httpx.AsyncClient, call: RPCCall, deadline: Deadline
    ) -> httpx.Request:
        # The URL may hold an API key in its query: only the redacted one ever reaches a text.
        return client.build_request(
            "POST", self._url, json=self._body(call), timeout=deadline.clamp(client.timeout)
        )

    def _body_reader(self, deadline: Deadline) -> BodyReader:
        return BodyReader("POST", self.url, limit=self.max_response_bytes, deadline=deadline)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
