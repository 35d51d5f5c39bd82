"""250 deployments through the client's pager: every page size, both orders, sync and async.

The expected order comes from the sandbox's store: ``created_at``, then ``_id`` as the
tie-breaker. Many deployments share a ``created_at`` (the clock is frozen between ticks), so the
tie-breaker decides most of the order and a pager that mishandles it skips or repeats items.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import httpx
import pytest

from nosana_nb.core.auth import WalletAuth
from nosana_nb.core.client import AsyncNosanaClient
from nosana_nb.core.models import Page
from nosana_nb.sandbox import SandboxHandle
from tests.e2e.conftest import JOB_DEFINITION, MARKET_3060, Account, network_of, open_account

COUNT = 250
LIMITS = (10, 20, 50, 100)
ORDERS: tuple[Literal["desc", "asc"], ...] = ("desc", "asc")


@pytest.fixture(scope="module")
def crowded(sandbox: SandboxHandle) -> Iterator[tuple[Account, list[str]]]:
    """One wallet with 250 deployments; returns it and their ids, oldest first (store order)."""
    account = open_account(sandbox)
    # seeded over the wire in one request each (the client's create is tested elsewhere)
    with httpx.Client(base_url=sandbox.api_url, auth=WalletAuth(account.wallet)) as http:
        for index in range(COUNT):
            if index % 20 == 0:
                sandbox.advance(1)
            body = {
                "name": f"page-{index:03d}",
                "market": MARKET_3060,
                "replicas": 1,
                "timeout": 10,
                "strategy": "SIMPLE",
                "job_definition": JOB_DEFINITION,
            }
            http.post("/deployments/create", json=body).raise_for_status()
    docs = sandbox.store.find("deployments", owner=account.wallet.address)
    docs.sort(key=lambda d: (d["created_at"], d["_id"]))
    try:
        yield account, [str(d["id"]) for d in docs]
    finally:
        account.client.close()


def _check_pages(pages: list[Page[str]], limit: int, expected: list[str]) -> None:
    assert len(pages) == math.ceil(COUNT / limit)
    for number, page in enumerate(pages):
        assert page.pagination.total_items == COUNT
        is_last = number == len(pages) - 1
        assert len(page.items) == (COUNT - limit * number if is_last else limit)
        assert (page.pagination.cursor_next is None) == is_last
        assert (page.pagination.cursor_prev is None) == (number == 0)
    ids = [item for page in pages for item in page.items]
    assert len(ids) == len(set(ids)) == COUNT  # no duplicates, nothing missing
    assert ids == expected


@pytest.mark.parametrize("limit", LIMITS)
def test_every_page_size_in_both_orders(crowded: tuple[Account, list[str]], limit: int) -> None:
    account, oldest_first = crowded
    assert len(oldest_first) == COUNT
    for order in ORDERS:
        expected = oldest_first[::-1] if order == "desc" else oldest_first
        pager = account.client.deployments.list(limit=limit, sort_order=order)
        assert pager.total_items == COUNT
        pages = [
            Page[str](items=[d.id for d in page.items], pagination=page.pagination)
            for page in pager.pages()
        ]
        _check_pages(pages, limit, expected)
    newest = account.client.deployments.list(limit=limit)
    assert [d.id for d in newest] == oldest_first[::-1]  # plain iteration walks every page


def test_filters_page_through_their_own_total(crowded: tuple[Account, list[str]]) -> None:
    account, _oldest_first = crowded
    pager = account.client.deployments.list(search="page-1", limit=10, sort_order="asc")
    matching = [f"page-1{n:02d}" for n in range(100)]
    assert pager.total_items == len(matching)
    assert [d.state.name for d in pager] == matching


@pytest.mark.parametrize("limit", LIMITS)
async def test_async_pager_matches(
    sandbox: SandboxHandle, crowded: tuple[Account, list[str]], limit: int
) -> None:
    account, oldest_first = crowded
    async with AsyncNosanaClient(network_of(sandbox), account.wallet, env={}) as client:
        for order in ORDERS:
            expected = oldest_first[::-1] if order == "desc" else oldest_first
            pager = client.deployments.list(limit=limit, sort_order=order)
            assert pager.total_items is None  # nothing fetched yet
            first = await pager
            assert pager.total_items == COUNT
            assert [d.id for d in first.items] == expected[:limit]
            pages = [
                Page[str](items=[d.id for d in page.items], pagination=page.pagination)
                async for page in pager.pages()
            ]
            _check_pages(pages, limit, expected)
            assert [d.id for d in await pager.to_list()] == expected
