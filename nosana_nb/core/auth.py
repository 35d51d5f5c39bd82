"""httpx authentication for the deployment manager: wallet signatures and API keys.

The deployment manager's ``Authorization`` header is ``<message>:<base58 signature>[:<unix ms>]``
(with the wallet address in ``x-user-id``). The signature does not cover the timestamp, so one
signature per wallet is valid for ever: it is a bearer secret. It is computed once, kept out of
every repr, and never logged.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Generator
from typing import NoReturn

import httpx

from nosana_nb.core.errors import ValidationError, WalletError
from nosana_nb.core.wallet import Wallet

__all__ = ["AUTH_MESSAGE", "ApiKeyAuth", "WalletAuth", "authorization_header"]

AUTH_MESSAGE = "NosanaApiAuthentication"


def _check_message(message: str) -> str:
    if not isinstance(message, str) or not message:
        raise ValidationError("the auth message must be a non-empty string", argument="message")
    if ":" in message:
        raise ValidationError(
            "the auth message must not contain ':' (it separates the header's fields); "
            f"the default is {AUTH_MESSAGE!r}",
            argument="message",
        )
    return message


def _signature(wallet: Wallet, message: str) -> str:
    if not isinstance(wallet, Wallet):
        raise WalletError(f"expected a nosana_nb Wallet; got {type(wallet).__name__}")
    if not wallet.can_sign:
        raise WalletError(
            f"Wallet {wallet.address} is read-only and cannot authenticate to the deployment "
            "manager. Load it from its secret key."
        )
    return str(wallet.sign_message(message.encode("utf-8")))


def authorization_header(
    wallet: Wallet, *, message: str = AUTH_MESSAGE, now_ms: int | None = None
) -> str:
    """The ``Authorization`` value: ``<message>:<b58 sig>`` plus ``:<now_ms>`` when given."""
    signature = _signature(wallet, _check_message(message))
    if now_ms is None:
        return f"{message}:{signature}"
    if type(now_ms) is not int or now_ms < 0:
        raise ValidationError("now_ms must be a non-negative int (unix milliseconds)")
    return f"{message}:{signature}:{now_ms}"


class _NoExport:
    """Credentials must not travel through pickle or copy.deepcopy into files or other processes."""

    def __reduce__(self) -> NoReturn:
        raise WalletError(f"{type(self).__name__} holds a credential and cannot be pickled")


class WalletAuth(_NoExport, httpx.Auth):
    """Wallet signing: ``x-user-id`` plus ``Authorization`` with a fresh timestamp per request."""

    def __init__(
        self,
        wallet: Wallet,
        *,
        message: str = AUTH_MESSAGE,
        include_time: bool = True,
        # the wall clock on purpose: the service checks a signature's age against its own wall
        # clock (the sandbox too, not its simulated one: docs/wire-contract.md §1.1)
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._message = _check_message(message)
        # Ed25519 is deterministic: sign once, reuse for every request.
        self._signature = _signature(wallet, message)
        self._wallet = wallet
        self._include_time = include_time
        self._clock = clock

    @property
    def wallet(self) -> Wallet:
        return self._wallet

    def header_value(self) -> str:
        value = f"{self._message}:{self._signature}"
        if self._include_time:
            value += f":{int(self._clock() * 1000)}"
        return value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["x-user-id"] = self._wallet.address
        request.headers["Authorization"] = self.header_value()
        yield request

    def __repr__(self) -> str:
        return f"WalletAuth({self._wallet!r}, message={self._message!r})"


class ApiKeyAuth(_NoExport, httpx.Auth):
    """``Authorization: Bearer <key>`` for a Nosana API key (``nos_...``)."""

    def __init__(self, api_key: str) -> None:
        if not isinstance(api_key, str):
            raise ValidationError(
                f"the API key must be a string; got {type(api_key).__name__}", argument="api_key"
            )
        if not api_key:
            raise ValidationError("the API key is empty", argument="api_key")
        if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in api_key):
            # Not echoed: it is a secret, and such a key is usually a copy-paste accident.
            raise ValidationError(
                "the API key contains whitespace or control characters; "
                "paste it without spaces or line breaks",
                argument="api_key",
            )
        self._header = f"Bearer {api_key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "ApiKeyAuth(api_key=<redacted>)"
