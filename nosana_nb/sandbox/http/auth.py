"""User authentication of the deployment manager, plus the sandbox's API-key path.

Wallet auth: ``x-user-id: <base58 pubkey>`` and ``authorization: <msg>:<b58 sig>[:<ms>]``; the
signature covers the UTF-8 message only, a timestamp (unsigned) expires after 300 s of WALL
time (the client signs with real time, whatever the simulated clock says).

API keys: the real service only sees API keys through the Client Manager proxy. The sandbox
stands in for that proxy: ``Authorization: Bearer nos_...`` (no ``x-user-id``) authenticates as
a stable owner address derived from the key (``api_key_owner``), and a create with it makes an
API-key vault, as the proxied ``x-nosana-api`` header would. See docs/wire-contract.md#auth.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

EXPIRY_SECONDS = 300
MISSING_HEADERS = "Unauthorized, missing or invalid headers"
UNAUTHORIZED = "Unauthorized"
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")

Outcome = Literal["missing", "unauthorized", "error"]


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``api_key`` is set only on the API-key path and never shown in a repr."""

    owner: str
    api_key: str | None = field(default=None, repr=False)


class AuthFailure(Exception):
    """Authentication refused. ``outcome`` decides the response (401 text or a 500 body)."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


def api_key_signer(api_key: str) -> Keypair:
    """The key the sandbox's stand-in Client Manager holds for an API key (stable)."""
    seed = hashlib.sha256(b"nosana_nb sandbox api key owner:" + api_key.encode()).digest()
    return Keypair.from_seed(seed)


def api_key_owner(api_key: str) -> str:
    """The owner address the sandbox assigns to an API key (stable across restarts)."""
    return str(api_key_signer(api_key).pubkey())


def bearer_api_key(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token.startswith("nos_") and len(token) > len("nos_"):
        return token
    return None


def timestamp_ms(text: str) -> float:
    """JavaScript ``Number(text)``: anything unparsable is NaN (which the service accepts)."""
    return float(text) if _NUMBER.match(text) else math.nan


def authenticate(headers: Mapping[str, str], *, wall_time: Callable[[], float]) -> Principal:
    """Check the headers; raises :class:`AuthFailure` the way ``@nosana/authorization`` does."""
    authorization = headers.get("authorization")
    api_key = bearer_api_key(authorization)
    if api_key is not None and headers.get("x-user-id") is None:
        return Principal(api_key_owner(api_key), api_key)
    user_id = headers.get("x-user-id")
    if not user_id or not authorization:
        raise AuthFailure("missing", MISSING_HEADERS)
    try:
        pubkey = Pubkey.from_string(user_id)
    except ValueError as exc:
        raise AuthFailure("error", "Invalid public key input") from exc
    parts = authorization.split(":")
    message = parts[0]
    signature_text = parts[1] if len(parts) > 1 else ""
    date = parts[2] if len(parts) > 2 else ""
    if not message or not signature_text:
        raise AuthFailure("error", "Invalid signature.")
    if date:
        age_s = (wall_time() * 1000 - timestamp_ms(date)) / 1000
        if age_s >= EXPIRY_SECONDS:  # NaN compares False: accepted, like the service
            raise AuthFailure("error", "Authorization has expired.")
    try:
        signature = Signature.from_string(signature_text)
    except ValueError as exc:
        raise AuthFailure("error", "Invalid signature.") from exc
    if not signature.verify(pubkey, message.encode()):
        raise AuthFailure("unauthorized", UNAUTHORIZED)
    return Principal(str(pubkey))
