"""Wallet and API-key authentication headers (wire-contract §1.1)."""

from __future__ import annotations

import copy
import pickle
from typing import ClassVar

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from nosana_nb.core.auth import AUTH_MESSAGE, ApiKeyAuth, WalletAuth, authorization_header
from nosana_nb.core.errors import ValidationError, WalletError
from nosana_nb.core.wallet import Wallet

KEYPAIR = Keypair.from_seed(bytes(range(40, 72)))
WALLET = Wallet.from_keypair(KEYPAIR)


def _verify(header: str, pubkey: Pubkey) -> list[str]:
    fields = header.split(":")
    message, signature = fields[0], fields[1]
    assert Signature.from_string(signature).verify(pubkey, message.encode("utf-8"))
    return fields


def _send(auth: httpx.Auth) -> httpx.Request:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        client.get("https://dm.example/deployments")
    return seen[0]


def test_authorization_header_without_time_never_expires() -> None:
    header = authorization_header(WALLET)
    fields = _verify(header, WALLET.pubkey)
    assert fields[0] == AUTH_MESSAGE == "NosanaApiAuthentication"
    assert len(fields) == 2
    assert header == authorization_header(WALLET)  # Ed25519 is deterministic


def test_authorization_header_with_time_and_custom_message() -> None:
    header = authorization_header(
        WALLET, message="DeploymentsAuthorization", now_ms=1_700_000_000_123
    )
    fields = _verify(header, WALLET.pubkey)
    assert fields == [fields[0], fields[1], "1700000000123"]
    assert fields[0] == "DeploymentsAuthorization"


@pytest.mark.parametrize("message", ["", "has:colon", 5])
def test_bad_messages(message: object) -> None:
    with pytest.raises(ValidationError):
        authorization_header(WALLET, message=message)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        WalletAuth(WALLET, message=message)  # type: ignore[arg-type]


@pytest.mark.parametrize("now_ms", [-1, 1.5, True, "1"])
def test_bad_timestamps(now_ms: object) -> None:
    with pytest.raises(ValidationError):
        authorization_header(WALLET, now_ms=now_ms)  # type: ignore[arg-type]


def test_read_only_wallet_cannot_authenticate() -> None:
    read_only = Wallet.read_only(WALLET.address)
    with pytest.raises(WalletError, match="read-only"):
        WalletAuth(read_only)
    with pytest.raises(WalletError, match="read-only"):
        authorization_header(read_only)
    with pytest.raises(WalletError):
        WalletAuth(KEYPAIR)  # type: ignore[arg-type]


def test_wallet_auth_sets_both_headers_with_fresh_time() -> None:
    ticks = iter([1000.0, 1000.5])
    auth = WalletAuth(WALLET, clock=lambda: next(ticks))
    first, second = _send(auth), _send(auth)
    assert first.headers["x-user-id"] == WALLET.address
    one = _verify(first.headers["Authorization"], WALLET.pubkey)
    two = _verify(second.headers["authorization"], WALLET.pubkey)
    assert one[2] == "1000000"
    assert two[2] == "1000500"
    assert one[1] == two[1]


def test_wallet_auth_without_time_matches_the_official_client() -> None:
    request = _send(WalletAuth(WALLET, include_time=False))
    assert request.headers["Authorization"] == authorization_header(WALLET)


class _CountingWallet(Wallet):
    __slots__ = ()
    calls: ClassVar[list[bytes]] = []

    def sign_message(self, data: bytes) -> Signature:
        _CountingWallet.calls.append(data)
        return super().sign_message(data)


def test_wallet_auth_signs_once() -> None:
    _CountingWallet.calls.clear()
    auth = WalletAuth(_CountingWallet(KEYPAIR))
    for _ in range(5):
        _send(auth)
    assert _CountingWallet.calls == [AUTH_MESSAGE.encode()]


def test_wallet_auth_hides_the_credential() -> None:
    auth = WalletAuth(WALLET)
    signature = authorization_header(WALLET).split(":")[1]
    text = repr(auth) + str(auth)
    assert signature not in text
    assert WALLET.address in repr(auth)
    assert auth.wallet is WALLET
    with pytest.raises(WalletError):
        pickle.dumps(auth)
    with pytest.raises(WalletError):
        copy.deepcopy(auth)


def test_api_key_auth() -> None:
    request = _send(ApiKeyAuth("nos_abcDEF123"))
    assert request.headers["Authorization"] == "Bearer nos_abcDEF123"
    assert "x-user-id" not in request.headers
    auth = ApiKeyAuth("nos_abcDEF123")
    assert "nos_abc" not in repr(auth)
    assert "redacted" in repr(auth)
    with pytest.raises(WalletError):
        pickle.dumps(auth)


@pytest.mark.parametrize(
    "key", ["", " nos_x", "nos_x\n", "nos x", "nos_\x00x", "nos_\tx", "nos_\u200bx", None, 123]
)
def test_bad_api_keys_are_refused_without_echo(key: object) -> None:
    with pytest.raises(ValidationError) as info:
        ApiKeyAuth(key)  # type: ignore[arg-type]
    assert info.value.argument == "api_key"
    if isinstance(key, str) and key.strip():
        assert key.strip() not in str(info.value)
