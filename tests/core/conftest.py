"""Fixtures shared by the core tests (a module may override them with its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from tests.core.backends import BACKENDS, Backend, make_backend, start_sandbox
from tests.core.fake_api import FakeNosana


@pytest.fixture
def wallet() -> Wallet:
    """A fresh signing wallet."""
    return Wallet.generate()


@pytest.fixture
def fake(wallet: Wallet) -> FakeNosana:
    """An empty fake deployment manager owned by ``wallet``."""
    return FakeNosana(owner=wallet.address)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """One in-memory sandbox per test module, on a frozen clock."""
    yield from start_sandbox()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, wallet: Wallet) -> Iterator[Backend]:
    """The fake, then the real sandbox (tests/core/backends.py)."""
    if request.param == "sandbox":
        made = make_backend("sandbox", wallet, request.getfixturevalue("sandbox"))
    else:
        made = make_backend("fake", wallet)
    yield made
    made.transport.close()  # the sync pool's sockets (closing the clients closes it as well)
