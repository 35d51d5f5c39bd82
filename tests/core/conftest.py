"""Fixtures shared by the core tests (a module may override them with its own)."""

from __future__ import annotations

import pytest

from nosana_nb.core.wallet import Wallet
from tests.core.fake_api import FakeNosana


@pytest.fixture
def wallet() -> Wallet:
    """A fresh signing wallet."""
    return Wallet.generate()


@pytest.fixture
def fake(wallet: Wallet) -> FakeNosana:
    """An empty fake deployment manager owned by ``wallet``."""
    return FakeNosana(owner=wallet.address)
