"""Wallet authentication of the sandbox API (wire-contract §1.1), refusal by refusal."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator

import httpx
import pytest
from solders.keypair import Keypair

from nosana_nb.sandbox import SandboxHandle
from tests.sandbox.dm_helpers import create_body

MESSAGE = "NosanaApiAuthentication"
INTERNAL = {"error": "Internal Server Error"}


def headers(
    keypair: Keypair, *, message: str = MESSAGE, stamp: str | None = None
) -> dict[str, str]:
    value = f"{message}:{keypair.sign_message(message.encode())}"
    if stamp is not None:
        value += f":{stamp}"
    return {"x-user-id": str(keypair.pubkey()), "authorization": value}


def now_ms(offset_s: float = 0) -> str:
    return str(int((time.time() + offset_s) * 1000))


@pytest.fixture(scope="module")
def http(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.api_url) as client:
        yield client


@pytest.fixture(scope="module")
def owned(http: httpx.Client) -> tuple[Keypair, str]:
    """A wallet and one of its deployments."""
    keypair = Keypair()
    created = http.post(
        "/deployments/create",
        headers=headers(keypair),
        json=create_body(name="a", timeout=5),
    )
    assert created.status_code == 200
    return keypair, str(created.json()["id"])


def test_missing_headers_are_401_plain_text(http: httpx.Client) -> None:
    for sent in ({}, {"x-user-id": str(Keypair().pubkey())}, {"authorization": "a:b"}):
        response = http.get("/deployments", headers=sent)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == "Unauthorized, missing or invalid headers"


def test_forged_signature_is_401(http: httpx.Client) -> None:
    mine, other = Keypair(), Keypair()
    forged = {**headers(other), "x-user-id": str(mine.pubkey())}
    response = http.get("/deployments", headers=forged)
    assert (response.status_code, response.text) == (401, "Unauthorized")


@pytest.mark.parametrize("offset_s", [None, 0.0, -290.0, 3600.0, "not-a-number"])
def test_accepted_tokens(http: httpx.Client, offset_s: float | str | None) -> None:
    """No timestamp never expires; future and NaN timestamps pass, like the service."""
    stamp = offset_s if isinstance(offset_s, str) or offset_s is None else now_ms(offset_s)
    response = http.get("/deployments", headers=headers(Keypair(), stamp=stamp))
    assert response.status_code == 200


def test_any_message_is_accepted(http: httpx.Client) -> None:
    response = http.get("/deployments", headers=headers(Keypair(), message="hello there"))
    assert response.status_code == 200


def test_malformed_or_expired_tokens_are_500(http: httpx.Client) -> None:
    keypair = Keypair()
    good = headers(keypair)
    signature = good["authorization"].split(":")[1]
    cases = [
        headers(keypair, stamp=now_ms(-301)),  # expired (wall time, 300 s)
        {**good, "x-user-id": "not base58 0OIl"},
        {**good, "authorization": MESSAGE},  # no signature
        {**good, "authorization": f":{signature}"},  # no message
        {**good, "authorization": f"{MESSAGE}:0OIl"},  # signature not base58
        {**good, "authorization": f"{MESSAGE}:abc"},  # wrong length
        {**good, "authorization": "nos_api_key_is_not_a_signature"},
    ]
    for sent in cases:
        response = http.get("/deployments", headers=sent)
        assert (response.status_code, response.json()) == (500, INTERNAL), sent
        assert signature not in response.text


def test_expiry_uses_the_injectable_wall_clock(sandbox: SandboxHandle, http: httpx.Client) -> None:
    keypair = Keypair()
    fresh = headers(keypair, stamp=now_ms())
    assert http.get("/deployments", headers=fresh).status_code == 200
    sandbox.advance(3600)  # simulated time does not matter
    assert http.get("/deployments", headers=fresh).status_code == 200
    context = sandbox._ctx
    original = context.wall_time
    context.wall_time = lambda: original() + 301
    try:
        assert http.get("/deployments", headers=fresh).status_code == 500
    finally:
        context.wall_time = original


def test_route_specific_500_bodies(http: httpx.Client, owned: tuple[Keypair, str]) -> None:
    keypair, deployment = owned
    expired = headers(keypair, stamp=now_ms(-600))
    stream = http.get(f"/deployments/{deployment}/stream", headers=expired)
    assert stream.status_code == 500
    assert stream.json() == {
        "statusCode": 500,
        "error": "Internal Server Error",
        "message": "Authorization has expired.",
    }
    job = http.get(f"/deployments/{deployment}/jobs/{Keypair().pubkey()}", headers=expired)
    assert (job.status_code, job.json()) == (500, {"error": "Internal Server Error"})


def short_address_keypair() -> Keypair:
    """A keypair whose address has 42 characters (found once by search; ~1 in 60000 are)."""
    keypair = Keypair.from_seed(hashlib.sha256(b"short-1578571").digest())
    assert str(keypair.pubkey()) == "1yh8x9bZExsXqjBiz5BzbbWoaVDjyKURvTM4huLdsh"
    return keypair


def test_short_user_id_fails_the_header_schema(http: httpx.Client) -> None:
    keypair = short_address_keypair()
    response = http.get("/deployments", headers=headers(keypair))
    assert response.status_code == 400
    assert response.json() == {
        "statusCode": 400,
        "code": "FST_ERR_VALIDATION",
        "error": "Bad Request",
        "message": "headers/x-user-id must NOT have fewer than 43 characters",
    }
    created = http.post(  # create skips header-schema validation
        "/deployments/create",
        headers=headers(keypair),
        json=create_body(name="s", timeout=5),
    )
    assert created.status_code == 200


def test_auth_runs_before_body_parsing(http: httpx.Client) -> None:
    response = http.post(
        "/deployments/create", content=b"{broken", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401


def test_open_routes_need_no_auth(http: httpx.Client) -> None:
    assert http.get("/health").status_code == 200
    assert http.get("/api/markets").status_code == 200
