"""Shared by the frames tests that run against the embedded sandbox."""

from __future__ import annotations

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle


def funded_wallet(handle: SandboxHandle) -> Wallet:
    """A new wallet holding 5 SOL and 1000 NOS on the sandbox chain."""
    owner = Wallet.generate()
    handle.faucet(owner, sol=5, nos=1000)
    return owner


def sandbox_client(handle: SandboxHandle, wallet: Wallet) -> NosanaClient:
    """A sync client for ``wallet`` against the sandbox, ignoring the caller's environment."""
    return NosanaClient(local_network(handle.api_url, nos_mint=handle.nos_mint), wallet, env={})
