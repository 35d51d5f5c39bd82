"""Keyset pagination across pages, sync and async: cursors, total_items, caching, loops."""

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
from tests.core.fake_api import FakeNosana, async_client, sync_client

TOTAL = 25  # with limit 10: pages of 10, 10, 5


@pytest.fixture
def fake(wallet: Wallet) -> FakeNosana:
    fake = FakeNosana(owner=wallet.address)
    for number in range(TOTAL):
        fake.add_deployment(name=f"d{number:02d}")
    fake.requests.clear()
    return fake


@pytest.fixture
def client(fake: FakeNosana, wallet: Wallet) -> Iterator[NosanaClient]:
    with sync_client(fake, wallet) as c:
        yield c


@pytest.fixture
async def aclient(fake: FakeNosana, wallet: Wallet) -> AsyncIterator[AsyncNosanaClient]:
    async with async_client(fake, wallet) as c:
        yield c


def offset_of(cursor: str | None) -> int:
    assert cursor is not None
    return int(json.loads(base64.b64decode(cursor))["offset"])


def test_sync_iterates_three_pages_following_cursors(
    client: NosanaClient, fake: FakeNosana
) -> None:
    pager = client.deployments.list(limit=10)
    names = [d.state.name for d in pager]
    assert names == [f"d{n:02d}" for n in reversed(range(TOTAL))]  # newest first
    cursors = [r.params.get("cursor") for r in fake.calls("GET", "/deployments")]
    assert cursors[0] is None
    assert [offset_of(c) for c in cursors[1:]] == [10, 20]
    assert len(cursors) == 3


def test_sync_pages_total_and_first_page_cache(client: NosanaClient, fake: FakeNosana) -> None:
    pager = client.deployments.list(limit=10, sort_order="asc")
    assert pager.total_items == TOTAL
    first = pager.first_page()
    assert [d.state.name for d in first.items][:2] == ["d00", "d01"]
    assert first.pagination.cursor_prev is None
    assert len(fake.requests) == 1  # total_items and first_page share one request
    sizes = [len(page.items) for page in pager.pages()]
    assert sizes == [10, 10, 5]
    assert len(fake.requests) == 3  # the cached first page was not fetched again
    assert len(pager.to_list()) == TOTAL


def test_sync_empty_list(fake: FakeNosana, wallet: Wallet) -> None:
    fake.deployments.clear()
    with sync_client(fake, wallet) as client:
        pager = client.deployments.list()
        assert pager.to_list() == []
        assert pager.total_items == 0


async def test_async_iterates_three_pages(aclient: AsyncNosanaClient, fake: FakeNosana) -> None:
    pager = aclient.deployments.list(limit=10)
    names = [d.state.name async for d in pager]
    assert names == [f"d{n:02d}" for n in reversed(range(TOTAL))]
    cursors = [r.params.get("cursor") for r in fake.calls("GET", "/deployments")]
    assert cursors[0] is None
    assert [offset_of(c) for c in cursors[1:]] == [10, 20]


async def test_async_await_gives_first_page_then_pages(
    aclient: AsyncNosanaClient, fake: FakeNosana
) -> None:
    pager = aclient.deployments.list(limit=10)
    assert pager.total_items is None  # unknown until the first page is fetched
    first = await pager
    assert len(first.items) == 10
    assert pager.total_items == TOTAL
    sizes = [len(page.items) async for page in pager.pages()]
    assert sizes == [10, 10, 5]
    assert len(fake.requests) == 3
    assert len(await pager.to_list()) == TOTAL


def test_bad_filters_fail_when_list_is_called(client: NosanaClient, fake: FakeNosana) -> None:
    with pytest.raises(ValidationError, match="limit"):
        client.deployments.list(limit=25)
    with pytest.raises(ValidationError, match="sort_order"):
        client.deployments.list(sort_order="ASC")  # type: ignore[arg-type]
    assert fake.requests == []


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
