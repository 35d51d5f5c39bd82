"""The dashboard's bulk stop in a real browser: Voila serves ``notebooks/05_dashboard.ipynb``
against a sandbox with four running deployments and two drafts; chromium selects every row,
asks for a stop, reads the dry run's preview (four allowed, two refused with the typed reason)
before the confirm button, confirms, and reads one result row per deployment.

Screenshots: ``build/screenshots/bulk-preview-*.png`` and ``bulk-results-*.png``: 1280 px light
and dark, 800 px light.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nosana_nb.sandbox import SandboxHandle
from tests.browser.browser import fleet_account
from tests.browser.test_dashboard_browser import assert_fits, shoot
from tests.e2e.conftest import Account

PAGE_LOAD_MS = 90_000
UPDATE_MS = 30_000
RUNNING = ("api-eu", "api-us", "train-a", "train-b")
DRAFTS = ("draft-x", "draft-y")


@pytest.fixture(scope="module")
def account(sandbox: SandboxHandle) -> Iterator[Account]:
    opened = fleet_account(
        sandbox, [(name, True) for name in RUNNING] + [(d, False) for d in DRAFTS]
    )
    try:
        yield opened
    finally:
        opened.client.close()


@pytest.mark.parametrize(
    ("viewport", "theme"), [("wide", "light"), ("wide", "dark"), ("narrow", "light")]
)
def test_bulk_stop_shows_its_dry_run_then_one_result_per_deployment(
    open_page: Any,
    app_url: str,
    sandbox: SandboxHandle,
    account: Account,
    viewport: str,
    theme: str,
) -> None:
    page = open_page(viewport=viewport, color_scheme=theme)
    page.goto(app_url + ("?theme=dark" if theme == "dark" else ""), timeout=PAGE_LOAD_MS)
    page.wait_for_selector("#loading", state="detached", timeout=PAGE_LOAD_MS)
    page.wait_for_selector("table.dataTable tbody tr >> text=draft-y", timeout=PAGE_LOAD_MS)
    if _ensure_running(account):  # an earlier run stopped them: the table must catch up
        page.get_by_role("button", name="Refresh").click()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('table.dataTable tbody tr'))"
        ".filter(r => r.innerText.includes('RUNNING')).length === 4",
        timeout=UPDATE_MS,
    )

    page.get_by_role("button", name="Select all shown").click()
    page.locator(".widget-html >> text=6 selected").wait_for(timeout=UPDATE_MS)
    page.get_by_role("button", name="Stop selected").click()

    preview = page.locator("table.nosana-bulk-preview")
    preview.wait_for(timeout=UPDATE_MS)
    assert preview.locator('tr[data-allowed="true"]').count() == 4
    refused = preview.locator('tr[data-allowed="false"]')
    assert refused.count() == 2
    assert "ActionNotAllowedError" in refused.first.inner_text()
    assert "it is DRAFT" in refused.first.inner_text()
    confirm = page.get_by_role("button", name="Yes, stop 4")
    confirm.wait_for(timeout=UPDATE_MS)
    assert {status for status in _statuses(sandbox, account)} == {"RUNNING", "DRAFT"}
    assert_fits(page)
    shoot(page, f"bulk-preview-{viewport}-{theme}")

    confirm.click()
    results = page.locator("table.nosana-bulk-results")
    page.wait_for_function(
        "() => { const t = document.querySelector('table.nosana-bulk-results');"
        " return t && t.querySelectorAll('tr[data-outcome=\"ok\"]').length === 4; }",
        timeout=UPDATE_MS,
    )
    page.locator("text=Stop: 4 ok, 2 refused.").wait_for(timeout=UPDATE_MS)  # the run ended
    assert results.locator('tr[data-outcome="refused"]').count() == 2
    assert results.locator('tr[data-outcome="pending"]').count() == 0
    assert "4 ok, 2 refused, 0 failed" in page.locator(".nosana-bulk").inner_text()
    assert_fits(page)
    shoot(page, f"bulk-results-{viewport}-{theme}")
    running = [s for n, s in _named_statuses(sandbox, account) if n in RUNNING]
    assert set(running) <= {"STOPPING", "STOPPED"}


def _ensure_running(account: Account) -> bool:
    """Start again what an earlier test stopped; True when something had to be started."""
    started = False
    for deployment in account.created:
        if deployment.state.name not in RUNNING:
            continue
        status = str(deployment.refresh().status)
        if status == "RUNNING":
            continue
        deployment.wait_until("STOPPED", timeout=20, poll_interval=0.05)
        deployment.start()
        deployment.wait_until("RUNNING", timeout=10, poll_interval=0.01)
        started = True
    return started


def _named_statuses(sandbox: SandboxHandle, account: Account) -> list[tuple[str, str]]:
    found = []
    for deployment in account.created:
        doc = sandbox.store.find_one("deployments", id=deployment.id)
        assert doc is not None
        found.append((str(doc["name"]), str(doc["status"])))
    return found


def _statuses(sandbox: SandboxHandle, account: Account) -> list[str]:
    return [status for _name, status in _named_statuses(sandbox, account)]
