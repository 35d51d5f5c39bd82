"""Playwright + Debian chromium for the browser tests: one browser per test module, a fresh
page per test with every non-local request blocked; the e2e suite's module ``sandbox``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORTS,
    chromium_problem,
    dashboard_app,
    only_local,
)
from tests.e2e.conftest import sandbox  # one in-memory, frozen-clock sandbox per module

__all__ = ["app_url", "browser", "open_page", "page", "sandbox"]


# Per module, not per session: while Playwright's sync API is open it keeps an event loop marked
# running (and greenlets) in the main thread, which breaks every asyncio test collected after it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = chromium_problem()
    if problem is not None:
        pytest.fail(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _page(browser: Any, viewport: str, color_scheme: str = "light") -> Any:
    context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=color_scheme)
    context.route("**/*", only_local)
    return context, context.new_page()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A 1280×800 light page."""
    context, opened = _page(browser, "wide")
    yield opened
    context.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """Factory: ``open_page(viewport="narrow", color_scheme="dark")`` → a page closed after the
    test."""
    contexts: list[Any] = []

    def make(viewport: str = "wide", color_scheme: str = "light") -> Any:
        context, opened = _page(browser, viewport, color_scheme)
        contexts.append(context)
        return opened

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def app_url(sandbox: Any, account: Any) -> Iterator[str]:
    """``notebooks/05_dashboard.ipynb`` served by Voila on the module's sandbox, signed in as
    the module's ``account`` fixture."""
    with dashboard_app(sandbox.api_url, account.wallet) as url:
        yield url
