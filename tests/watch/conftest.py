"""Sandbox fixtures for the alert tests: one in-memory sandbox per module on a manual clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from tests.frames.sandbox_helpers import funded_wallet, sandbox_client


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """An in-memory sandbox per test module, on a frozen clock, seed 0."""
    handle = sandbox_module.start(db=":memory:", speed=None, seed=0)
    yield handle
    handle.stop()


@pytest.fixture
def wallet(sandbox: SandboxHandle) -> Wallet:
    """A new wallet per test: ``vaults.create()`` is the owner's one shared vault, and each
    test needs its own balance in it."""
    return funded_wallet(sandbox)


@pytest.fixture
def client(sandbox: SandboxHandle, wallet: Wallet) -> Iterator[NosanaClient]:
    with sandbox_client(sandbox, wallet) as nosana:
        yield nosana
