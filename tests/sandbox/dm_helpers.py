"""Shared by the sandbox API tests: a wallet signer for httpx, and the bodies they create."""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import httpx
from solders.keypair import Keypair

AUTH_MESSAGE = "NosanaApiAuthentication"
MARKET = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
JOB_DEFINITION: dict[str, Any] = {
    "version": "0.1",
    "type": "container",
    "ops": [{"id": "a", "type": "container/run", "args": {"image": "x"}}],
}


class WalletAuth(httpx.Auth):
    """Signs ``NosanaApiAuthentication`` with a fresh ms timestamp, like the official client."""

    def __init__(self, keypair: Keypair) -> None:
        self.keypair = keypair

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        signature = self.keypair.sign_message(AUTH_MESSAGE.encode())
        request.headers["x-user-id"] = str(self.keypair.pubkey())
        request.headers["authorization"] = f"{AUTH_MESSAGE}:{signature}:{int(time.time() * 1000)}"
        yield request


def owner_of(client: httpx.Client) -> str:
    """The address of the wallet a client signs with."""
    auth = client.auth
    assert isinstance(auth, WalletAuth)
    return str(auth.keypair.pubkey())


def create_body(**fields: Any) -> dict[str, Any]:
    """A valid ``POST /deployments/create`` body; ``fields`` override or add to the defaults."""
    return {
        "name": "t",
        "market": "m",
        "replicas": 1,
        "timeout": 60,
        "strategy": "SIMPLE",
        "job_definition": JOB_DEFINITION,
        **fields,
    }
