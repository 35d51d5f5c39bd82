"""Keyset pagination over the service's ``cursor_next`` links, sync and async.

A pager is built from ``route_for(cursor) -> Route[Page[T]]`` and a sender. The first route is
built in the constructor, so bad filters fail when ``list(...)`` is called, before any request.
Pages are fetched lazily; the first page is cached and reused by later iterations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

from nosana_nb.core.errors import APIResponseValidationError
from nosana_nb.core.models import Page
from nosana_nb.core.routes import Route

T = TypeVar("T")


class _CursorWalk:
    """Follows ``cursor_next`` from page to page; no I/O, the pagers send the routes."""

    def __init__(
        self, route_for: Callable[[str | None], Route[Page[Any]]], first: Route[Page[Any]]
    ) -> None:
        self._route_for = route_for
        self._route = first
        self._seen: set[str] = set()

    def next_route(self, page: Page[Any]) -> Route[Page[Any]] | None:
        """The route of the page after ``page`` (fetched by ``self._route``), or None at the end."""
        cursor = page.pagination.cursor_next
        if not page.items or cursor is None:
            return None
        if cursor in self._seen:
            # a server that hands out the same cursor again would make us loop for ever
            route = self._route
            raise APIResponseValidationError(
                f"{route.method} {route.path} returned a cursor_next it had already returned",
                method=route.method,
                url=route.path,
            )
        self._seen.add(cursor)
        self._route = self._route_for(cursor)
        return self._route


class _PagerBase(Generic[T]):
    """The pagers' non-I/O half: the first route, the cached first page, item conversion."""

    def __init__(
        self,
        route_for: Callable[[str | None], Route[Page[Any]]],
        convert: Callable[[Any], T] | None,
    ) -> None:
        self._route_for = route_for
        self._convert = convert
        self._first_route = route_for(None)
        self._first: Page[Any] | None = None

    def _walk(self) -> _CursorWalk:
        return _CursorWalk(self._route_for, self._first_route)

    def _converted(self, page: Page[Any]) -> Page[T]:
        if self._convert is None:
            return page
        return Page[Any](items=[self._convert(i) for i in page.items], pagination=page.pagination)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._first_route.method} {self._first_route.path})"


class SyncPager(_PagerBase[T]):
    """Iterate every item across pages: ``for item in pager``, ``pager.to_list()``."""

    def __init__(
        self,
        route_for: Callable[[str | None], Route[Page[Any]]],
        send: Callable[[Route[Page[Any]]], Page[Any]],
        convert: Callable[[Any], T] | None = None,
    ) -> None:
        super().__init__(route_for, convert)
        self._send = send

    def first_page(self) -> Page[T]:
        """The first page (fetched once, then cached).

        Returns:
            The page: ``items`` and its ``pagination`` cursors.
        """
        return self._converted(self._raw_first())

    @property
    def total_items(self) -> int:
        """How many items match the filters (the server's count, ignoring the cursor)."""
        return self._raw_first().pagination.total_items

    def pages(self) -> Iterator[Page[T]]:
        """Every page in turn, one request each (the first one cached).

        Yields:
            Each page.
        """
        for page in self._raw_pages():
            yield self._converted(page)

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def to_list(self) -> list[T]:
        """Every item of every page.

        Returns:
            The items, in the service's order.
        """
        return list(self)

    def _raw_first(self) -> Page[Any]:
        if self._first is None:
            self._first = self._send(self._first_route)
        return self._first

    def _raw_pages(self) -> Generator[Page[Any]]:
        walk = self._walk()
        page = self._raw_first()
        yield page
        while (route := walk.next_route(page)) is not None:
            page = self._send(route)
            yield page


class AsyncPager(_PagerBase[T]):
    """``async for item in pager``; ``await pager`` is the first page; ``await pager.to_list()``."""

    def __init__(
        self,
        route_for: Callable[[str | None], Route[Page[Any]]],
        send: Callable[[Route[Page[Any]]], Awaitable[Page[Any]]],
        convert: Callable[[Any], T] | None = None,
    ) -> None:
        super().__init__(route_for, convert)
        self._send = send

    async def first_page(self) -> Page[T]:
        """The first page (fetched once, then cached).

        Returns:
            The page: ``items`` and its ``pagination`` cursors.
        """
        return self._converted(await self._raw_first())

    @property
    def total_items(self) -> int | None:
        """The server's count once the first page has been fetched, else ``None``."""
        return None if self._first is None else self._first.pagination.total_items

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self.first_page().__await__()

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page in turn, one request each (the first one cached).

        Yields:
            Each page.
        """
        async for page in self._raw_pages():
            yield self._converted(page)

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def to_list(self) -> list[T]:
        """Every item of every page.

        Returns:
            The items, in the service's order.
        """
        return [item async for item in self]

    async def _raw_first(self) -> Page[Any]:
        if self._first is None:
            self._first = await self._send(self._first_route)
        return self._first

    async def _raw_pages(self) -> AsyncIterator[Page[Any]]:
        walk = self._walk()
        page = await self._raw_first()
        yield page
        while (route := walk.next_route(page)) is not None:
            page = await self._send(route)
            yield page
