"""The dashboard app in a real browser: Voila serves ``notebooks/05_dashboard.ipynb`` against a
sandbox started here (its URL and the wallet reach the notebook through the environment, as on
a real network), and chromium drives it: a RUNNING deployment shows in the table, is selected,
scaled, stopped and archived through the controls tab.

Every view (the table and each detail tab) is screenshot at 1280 and 800 px wide, light and
dark, into ``build/screenshots/dashboard-*.png``; what can be measured from the DOM is asserted
(rows, statuses, live state, figures drawn, nothing wider than the page, no clipped labels).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nosana_nb.sandbox import SandboxHandle
from tests.browser.browser import fleet_account, screenshot_path
from tests.e2e.conftest import Account

TABS = (
    "Overview",
    "Jobs",
    "Events",
    "Tasks",
    "Status history",
    "Job timeline",
    "Cost",
    "Vault",
    "Controls",
)
CHART_TABS = ("Status history", "Job timeline", "Cost")
PAGE_LOAD_MS = 90_000
UPDATE_MS = 30_000


@pytest.fixture(scope="module")
def account(sandbox: SandboxHandle) -> Iterator[Account]:
    fleet = (("web-api", True), ("batch-train", True), ("draft-notebook", False))
    opened = fleet_account(sandbox, fleet)
    try:
        yield opened
    finally:
        opened.client.close()


def open_app(open_page: Any, url: str, viewport: str, theme: str) -> Any:
    page = open_page(viewport=viewport, color_scheme=theme)
    page.goto(url + ("?theme=dark" if theme == "dark" else ""), timeout=PAGE_LOAD_MS)
    page.wait_for_selector("#loading", state="detached", timeout=PAGE_LOAD_MS)
    page.wait_for_selector("table.dataTable tbody tr >> text=web-api", timeout=PAGE_LOAD_MS)
    # the streams connect after the first render; on a loaded machine that can take a while
    try:
        page.wait_for_selector('.nosana-live[data-live-state="live"]', timeout=PAGE_LOAD_MS)
    except Exception as err:
        indicator = page.locator(".nosana-live")
        shown = indicator.get_attribute("title") if indicator.count() else "no indicator"
        raise AssertionError(f"the dashboard never went live; it shows: {shown}") from err
    return page


def shoot(page: Any, name: str) -> Path:
    """A screenshot of the whole app: Voila scrolls inside the page, so grow the viewport."""
    width = page.viewport_size["width"]
    page.evaluate(  # from the top: Voila scrolls inside its own containers
        "() => { window.scrollTo(0, 0); document.querySelectorAll('*')"
        ".forEach(e => { if (e.scrollTop) e.scrollTop = 0; }); }"
    )
    height = page.evaluate(
        "() => Math.max(...Array.from(document.querySelectorAll('.jp-Cell, .jp-OutputArea'))"
        ".map(e => e.getBoundingClientRect().bottom + window.scrollY))"
    )
    page.set_viewport_size({"width": width, "height": int(min(max(height + 40, 800), 8000))})
    page.wait_for_timeout(300)  # charts re-lay out to the new size
    path = screenshot_path(name)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 800})
    return path


def row(page: Any, name: str) -> Any:
    return page.locator("table.dataTable tbody tr", has_text=name).first


def cell_texts(page: Any, name: str) -> list[str]:
    texts: list[str] = row(page, name).locator("td").all_inner_texts()
    return [t.strip() for t in texts]


def open_tab(page: Any, name: str) -> Any:
    page.locator(".lm-TabBar-tab", has_text=name).first.click()
    panel = page.locator(".widget-tab-contents > .widget-box:visible").first
    if name in CHART_TABS:
        panel.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=UPDATE_MS)
    elif name == "Controls":
        panel.locator(".nosana-controls >> text=Deployment loaded").wait_for(timeout=UPDATE_MS)
    elif name == "Vault":
        panel.locator(".nosana-vault .nosana-balances >> text=NOS").first.wait_for(
            timeout=UPDATE_MS
        )
        # the vault widget's balance history arrives after its balances
        panel.locator(".nosana-vault .js-plotly-plot .main-svg").first.wait_for(timeout=UPDATE_MS)
    else:
        panel.locator(".widget-html").first.wait_for(timeout=UPDATE_MS)
        page.wait_for_function(
            "() => !document.querySelector('.widget-tab-contents')?.innerText.includes('Loading')",
            timeout=UPDATE_MS,
        )
    return panel


def assert_fits(page: Any) -> None:
    """Nothing is wider than the page, and no button or tab label is cut off."""
    overflow = page.evaluate(
        "() => { const w = document.documentElement.clientWidth;"
        " return Array.from(document.querySelectorAll('.nosana-widget *'))"
        ".filter(e => e.offsetParent !== null && e.getBoundingClientRect().right > w + 1)"
        ".map(e => e.tagName + '.' + e.className).slice(0, 5); }"
    )
    assert overflow == [], f"wider than the page: {overflow}"
    clipped = page.evaluate(
        "() => Array.from(document.querySelectorAll("
        "'.nosana-widget .widget-button, .nosana-widget .lm-TabBar-tab'))"
        ".filter(e => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.innerText)"
    )
    assert clipped == [], f"labels cut off: {clipped}"


@pytest.mark.parametrize("viewport", ["wide", "narrow"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_view_renders_and_fits(
    open_page: Any, app_url: str, account: Account, viewport: str, theme: str
) -> None:
    page = open_app(open_page, app_url, viewport, theme)
    suffix = f"{viewport}-{theme}"
    assert page.locator("table.dataTable tbody tr").count() == len(account.created)
    assert "RUNNING" in cell_texts(page, "web-api")
    assert "DRAFT" in cell_texts(page, "draft-notebook")
    if theme == "dark":
        assert page.evaluate("() => document.body.dataset.jpThemeLight") == "false"
    assert_fits(page)
    shoot(page, f"dashboard-table-{suffix}")

    row(page, "web-api").click()
    page.wait_for_selector(".widget-tab", timeout=UPDATE_MS)
    assert page.locator(".nosana-dashboard >> text=1 selected").count() == 1
    for name in TABS:
        panel = open_tab(page, name)
        if name in CHART_TABS:
            box = panel.locator(".js-plotly-plot").first.bounding_box()
            assert box is not None
            assert box["height"] > 200
            assert box["width"] > 300
        assert_fits(page)
        shoot(page, f"dashboard-{name.lower().replace(' ', '-')}-{suffix}")


_FOCUSED_ROW = (
    "() => Array.from(document.querySelectorAll('table.dataTable tbody tr'))"
    ".indexOf(document.activeElement)"
)


def test_rows_are_picked_from_the_keyboard(open_page: Any, app_url: str) -> None:
    """Tab focus, arrows between rows, Space/Enter toggle: the selection reaches the kernel
    (the bulk bar counts it) and focus stays on the row while it does."""
    page = open_app(open_page, app_url, "wide", "light")
    rows = page.locator("table.dataTable tbody tr")
    assert rows.first.get_attribute("tabindex") == "0"
    rows.first.focus()
    page.keyboard.press("Space")
    page.locator(".nosana-dashboard >> text=1 selected").wait_for(timeout=UPDATE_MS)
    assert page.evaluate(_FOCUSED_ROW) == 0

    page.keyboard.press("ArrowDown")
    assert page.evaluate(_FOCUSED_ROW) == 1
    page.keyboard.press("Enter")
    page.locator(".nosana-dashboard >> text=2 selected").wait_for(timeout=UPDATE_MS)
    assert "selected" in (rows.nth(1).get_attribute("class") or "")

    page.keyboard.press("ArrowUp")
    page.keyboard.press("Space")  # toggles the first row off again
    page.locator(".nosana-dashboard >> text=1 selected").wait_for(timeout=UPDATE_MS)
    assert "selected" not in (rows.first.get_attribute("class") or "")
    shoot(page, "dashboard-keyboard-selection")


def test_select_scale_stop_and_archive_through_the_controls(
    open_page: Any, app_url: str, sandbox: SandboxHandle, account: Account
) -> None:
    target = next(d for d in account.created if d.state.name == "web-api")
    page = open_app(open_page, app_url, "wide", "light")
    assert "RUNNING" in cell_texts(page, "web-api")
    row(page, "web-api").click()
    controls = open_tab(page, "Controls")

    # scale: the row in the table follows without a refresh
    replicas = controls.locator(".widget-text:has(label:text-is('Replicas')) input")
    replicas.fill("3")
    replicas.press("Enter")
    controls.get_by_role("button", name="Scale", exact=True).click()
    controls.locator("text=Replicas set to 3").wait_for(timeout=UPDATE_MS)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('table.dataTable tbody tr'))"
        ".some(r => r.innerText.includes('web-api') && r.children[4].innerText.trim() === '3')",
        timeout=UPDATE_MS,
    )
    stored = sandbox.store.find_one("deployments", id=target.id)
    assert stored is not None
    assert stored["replicas"] == 3
    shoot(page, "dashboard-flow-scaled")

    # stop: a confirm step first, then the service's STOPPING -> STOPPED reaches the widget
    controls.get_by_role("button", name="Stop", exact=True).click()
    confirm = controls.locator(".nosana-confirm")
    confirm.wait_for(state="visible", timeout=UPDATE_MS)
    assert "Stop" in confirm.inner_text()
    shoot(page, "dashboard-flow-confirm-stop")
    controls.get_by_role("button", name="Yes, stop").click()
    archive = controls.get_by_role("button", name="Archive", exact=True)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('table.dataTable tbody tr'))"
        ".some(r => r.innerText.includes('web-api') && r.innerText.includes('STOPPED'))",
        timeout=UPDATE_MS,
    )
    archive.wait_for(timeout=UPDATE_MS)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.nosana-controls button'))"
        ".some(b => b.innerText.trim() === 'Archive' && !b.disabled)",
        timeout=UPDATE_MS,
    )
    shoot(page, "dashboard-flow-stopped")

    # archive: confirmed, permanent; the row says so
    archive.click()
    confirm.wait_for(state="visible", timeout=UPDATE_MS)
    assert "permanent" in confirm.inner_text()
    controls.get_by_role("button", name="Yes, archive").click()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('table.dataTable tbody tr'))"
        ".some(r => r.innerText.includes('web-api') && r.innerText.includes('ARCHIVED'))",
        timeout=UPDATE_MS,
    )
    stored = sandbox.store.find_one("deployments", id=target.id)
    assert stored is not None
    assert stored["status"] == "ARCHIVED"
    # the table heard it first (from the action's result); the controls re-render after
    controls.locator(".nosana-hint >> text=archived deployment can only be renamed").wait_for(
        timeout=UPDATE_MS
    )
    assert page.locator(".nosana-dashboard .widget-html >> text=ARCHIVED").count() >= 1
    shoot(page, "dashboard-flow-archived")
