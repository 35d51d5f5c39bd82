"""The public surface is what ``__all__`` says and every name resolves (ruff RUF022 sorts it)."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_MODULES = [
    "nosana_nb",
    "nosana_nb.core",
    "nosana_nb.frames",
    "nosana_nb.plots",
    "nosana_nb.watch",
    "nosana_nb.sandbox",
    "nosana_nb.export",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_unique_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert len(exported) == len(set(exported))
    missing = [attr for attr in exported if not hasattr(module, attr)]
    assert missing == []


def test_seed_entry_points_are_public() -> None:
    import nosana_nb

    assert nosana_nb.Client is nosana_nb.NosanaClient
    for name in ("connect", "AsyncNosanaClient", "Wallet", "InsufficientFundsError"):
        assert name in nosana_nb.__all__
