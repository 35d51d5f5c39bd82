"""Fixtures shared by the sandbox tests (a module may override them with its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nosana_nb.sandbox import SandboxHandle, start


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """A fresh in-memory sandbox per test module, on a frozen clock."""
    with start(db=":memory:", speed=None) as handle:
        yield handle
