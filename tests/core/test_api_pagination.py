"""Keyset pagination across pages, sync and async: cursors, total_items, caching, loops.

The listing tests run on the fake and on the real sandbox (tests/core/backends.py).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator

import pytest

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.errors import APIResponseValidationError, ValidationError
from nosana_nb.core.models import Page
from nosana_nb.core.pagination import AsyncPager, SyncPager
from nosana_nb.core.routes import Route, list_deployments
from nosana_nb.core.wallet import Wallet
from tests.core.backends import Backend, create

TOTAL = 25  # with limit 10: pages of 10, 10, 5


@pytest.fixture
def seeded(backend: Backend, wallet: Wallet) -> Backend:
    """``TOTAL`` deployments named d00..d24, created in that order; the record cleared."""
    with backend.client(wallet) as client:
        for number in range(TOTAL):
            if backend.fake is not None:
                backend.fake.add_deployment(name=f"d{number:02d}")
            else:
                create(client, f"d{number:02d}")
    backend.forget()
    return backend


@pytest.fixture
def client(seeded: Backend, wallet: Wallet) -> Iterator[NosanaClient]:
    with seeded.client(wallet) as c:
        yield c


@pytest.fixture
async def aclient(seeded: Backend, wallet: Wallet) -> AsyncIterator[AsyncNosanaClient]:
    async with seeded.aclient(wallet) as c:
        yield c


def assert_followed_cursors(backend: Backend, pages: int) -> None:
    """One GET per page: the first without a cursor, each later one with a new cursor (the
    fake's cursors are offsets; the sandbox's are opaque)."""
    cursors = [r.params.get("cursor") for r in backend.requests("GET", "/deployments")]
    assert len(cursors) == pages
    assert cursors[0] is None
    assert all(cursors[1:])
    assert len(set(cursors[1:])) == pages - 1
    if backend.fake is not None:
        assert [offset_of(c) for c in cursors[1:]] == [10, 20][: pages - 1]


def offset_of(cursor: str | None) -> int:
    assert cursor is not None
    return int(json.loads(base64.b64decode(cursor))["offset"])


def test_sync_iterates_three_pages_following_cursors(client: NosanaClient, seeded: Backend) -> None:
    pager = client.deployments.list(limit=10)
    names = [d.state.name for d in pager]
    assert names == [f"d{n:02d}" for n in reversed(range(TOTAL))]  # newest first
    assert_followed_cursors(seeded, 3)


def test_sync_pages_total_and_first_page_cache(client: NosanaClient, seeded: Backend) -> None:
    pager = client.deployments.list(limit=10, sort_order="asc")
    assert pager.total_items == TOTAL
    first = pager.first_page()
    assert [d.state.name for d in first.items][:2] == ["d00", "d01"]
    assert first.pagination.cursor_prev is None
    assert len(seeded.requests()) == 1  # total_items and first_page share one request
    sizes = [len(page.items) for page in pager.pages()]
    assert sizes == [10, 10, 5]
    assert len(seeded.requests()) == 3  # the cached first page was not fetched again
    assert len(pager.to_list()) == TOTAL


def test_sync_empty_list(backend: Backend, wallet: Wallet) -> None:
    with backend.client(wallet) as client:  # nothing seeded for this wallet
        pager = client.deployments.list()
        assert pager.to_list() == []
        assert pager.total_items == 0


async def test_async_iterates_three_pages(aclient: AsyncNosanaClient, seeded: Backend) -> None:
    pager = aclient.deployments.list(limit=10)
    names = [d.state.name async for d in pager]
    assert names == [f"d{n:02d}" for n in reversed(range(TOTAL))]
    assert_followed_cursors(seeded, 3)


async def test_async_await_gives_first_page_then_pages(
    aclient: AsyncNosanaClient, seeded: Backend
) -> None:
    pager = aclient.deployments.list(limit=10)
    assert pager.total_items is None  # unknown until the first page is fetched
    first = await pager
    assert len(first.items) == 10
    assert pager.total_items == TOTAL
    sizes = [len(page.items) async for page in pager.pages()]
    assert sizes == [10, 10, 5]
    assert len(seeded.requests()) == 3
    assert len(await pager.to_list()) == TOTAL


def test_bad_filters_fail_when_list_is_called(client: NosanaClient, seeded: Backend) -> None:
    with pytest.raises(ValidationError, match="limit"):
        client.deployments.list(limit=25)
    with pytest.raises(ValidationError, match="sort_order"):
        client.deployments.list(sort_order="ASC")  # type: ignore[arg-type]
    assert seeded.requests() == []


def _looping_page(cursor: str | None) -> Page[int]:
    return Page[int](items=[1], pagination={"cursor_next": "same", "total_items": 9})  # type: ignore[arg-type]


def test_sync_repeated_cursor_is_an_error() -> None:
    def route_for(cursor: str | None) -> Route[Page[int]]:
        return Route("GET", "/deployments", lambda data: data)

    pager: SyncPager[int] = SyncPager(route_for, lambda route: _looping_page(None))
    with pytest.raises(APIResponseValidationError, match="already returned"):
        pager.to_list()


async def test_async_repeated_cursor_is_an_error() -> None:
    def route_for(cursor: str | None) -> Route[Page[int]]:
        return Route("GET", "/deployments", lambda data: data)

    async def send(route: Route[Page[int]]) -> Page[int]:
        return _looping_page(None)

    pager: AsyncPager[int] = AsyncPager(route_for, send)
    with pytest.raises(APIResponseValidationError, match="already returned"):
        await pager.to_list()


def test_route_builder_puts_cursor_in_query() -> None:
    route = list_deployments(cursor="abc", limit=50)
    assert route.params == {"cursor": "abc", "limit": "50", "sort_order": "desc"}
    with pytest.raises(ValidationError):
        list_deployments(cursor="")
