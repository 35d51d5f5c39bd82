"""The create form, the vault widget and the market explorer in a real browser: Voila serves
``notebooks/forms.ipynb`` (an in-memory sandbox per kernel), Playwright drives Debian chromium.

We create a deployment by filling the form and clicking, top up and withdraw through the vault
widget, and screenshot each widget at 1280 and 800 px wide on the light and dark themes into
``build/screenshots/`` (``forms-<widget>-<wide|narrow>-<light|dark>.png``). What can be measured
is asserted: nothing overflows sideways, every input has a label.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.browser import VIEWPORTS, screenshot_path, voila_server

NOTEBOOK = Path(__file__).parent / "notebooks" / "forms.ipynb"
WIDGETS = {
    "vault": ".nosana-vault",
    "create-form": ".nosana-create-form",
    "market-explorer": ".nosana-market-explorer",
}
LOAD_TIMEOUT_MS = 120_000
ACTION_TIMEOUT_MS = 30_000
TALL = 2600  # tall enough that each widget fits in one screenshot

# Every widget has finished its first load: the three status lines say so.
_LOADED = """() => {
  const text = (sel) => (document.querySelector(sel + ' .nosana-status') || {}).textContent || '';
  return text('.nosana-vault').includes('Balances loaded')
    && text('.nosana-create-form').includes('GPU markets loaded')
    && text('.nosana-market-explorer').includes('markets loaded');
}"""

# Layout problems a user would see: sideways scrolling, or an element sticking out of its
# widget (content inside a scroll container, such as the markets table, may scroll).
_OVERFLOW = """() => {
  const problems = [];
  const page = document.scrollingElement;
  if (page.scrollWidth > window.innerWidth + 1) {
    problems.push(`the page scrolls sideways: ${page.scrollWidth} > ${window.innerWidth}`);
  }
  const scrolls = (el, root) => {
    for (let p = el.parentElement; p && p !== root; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  for (const root of document.querySelectorAll('.nosana-forms')) {
    const box = root.getBoundingClientRect();
    for (const el of root.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height || scrolls(el, root)) continue;
      if (r.right > box.right + 1 || r.left < box.left - 1) {
        const name = el.className && el.className.baseVal === undefined ? el.className : el.tagName;
        problems.push(`${name} sticks out of ${root.className.split(' ').pop()}: ` +
                      `${Math.round(r.left)}..${Math.round(r.right)} vs ` +
                      `${Math.round(box.left)}..${Math.round(box.right)}`);
      }
    }
  }
  return problems.slice(0, 10);
}"""

_UNLABELLED = """() => {
  const named = (el) => {
    const own = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    const byFor = el.id ? document.querySelector(`label[for="${CSS.escape(el.id)}"]`) : null;
    const around = el.closest('label');
    return Boolean(own || (byFor && byFor.textContent.trim()) ||
                   (around && around.textContent.trim()));
  };
  return Array.from(document.querySelectorAll(
      '.nosana-forms input, .nosana-forms select, .nosana-forms textarea'))
    .filter((el) => el.type !== 'hidden' && el.offsetParent !== null && !named(el))
    .map((el) => `${el.tagName.toLowerCase()}[type=${el.type}] ${el.placeholder || el.value} ` +
                 `in ${el.parentElement.outerHTML.slice(0, 200)}`);
}"""


@pytest.fixture(scope="module")
def voila_url() -> Iterator[str]:
    # NOSANA_NETWORK unset: the notebook connects to its own in-memory sandbox
    with voila_server(NOTEBOOK, {"NOSANA_NETWORK": ""}, timeout=90.0) as url:
        yield url


def open_notebook(
    open_page: Any, url: str, viewport: str = "wide", scheme: str = "light", *, tall: bool = False
) -> Any:
    page = open_page(viewport, scheme)
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    if tall:
        page.set_viewport_size({"width": VIEWPORTS[viewport]["width"], "height": TALL})
    page.goto(url + ("?theme=dark" if scheme == "dark" else ""), timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector("#loading", state="detached", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(_LOADED, timeout=LOAD_TIMEOUT_MS)
    return page


def status_of(scope: Any) -> Any:
    return scope.locator(".nosana-status").last


def top_up_through(vault: Any, sol: str, nos: str, *, then_holds: str) -> None:
    """Top up through the widget's boxes and buttons; wait until it shows ``then_holds`` NOS."""
    vault.get_by_label("Top up SOL").fill(sol)
    vault.get_by_label("Top up NOS").fill(nos)
    vault.get_by_role("button", name="Top up…").click()
    vault.get_by_role("button", name="Confirm top-up").click()
    vault.locator(".nosana-balances").get_by_text(f"{then_holds} NOS", exact=True).wait_for()
    status_of(vault).filter(has_text="Top-up confirmed").wait_for()


def chart_history(vault: Any) -> None:
    """Two top-ups: a balance history the chart can draw."""
    top_up_through(vault, "0.05", "25", then_holds="25")
    top_up_through(vault, "", "5", then_holds="30")
    vault.locator(".js-plotly-plot").wait_for()


def check_layout(page: Any) -> None:
    assert page.evaluate(_OVERFLOW) == []
    assert page.evaluate(_UNLABELLED) == []


def test_create_a_deployment_by_filling_the_form(open_page: Any, voila_url: str) -> None:
    page = open_notebook(open_page, voila_url)
    form = page.locator(".nosana-create-form")
    form.get_by_label("Strategy").select_option(label="Simple")
    # the market list works from the keyboard: focus it and move with the arrow keys
    form.get_by_label("GPU market").focus()
    page.keyboard.press("ArrowDown")
    form.locator(".widget-html", has_text="nodes available").first.wait_for()
    slug = form.get_by_label("Slug or address")
    slug.fill("nvidia-3060")
    slug.press("Enter")
    form.get_by_text("NVIDIA 3060 · Premium").wait_for()
    replicas = form.get_by_label("Replicas")
    replicas.fill("2")
    replicas.press("Tab")
    minutes = form.get_by_label("min", exact=True)
    minutes.fill("30")
    minutes.press("Tab")
    form.get_by_text("= 1 h 30 min per job, sent to the service as 90 minutes").wait_for()
    form.get_by_text("for the timeout (1 h 30 min)").wait_for()
    check_layout(page)

    # the shared vault is empty: the form says so and offers the top-up right there
    form.get_by_text("Insufficient vault balance").wait_for()
    assert form.get_by_role("button", name="Review and create…").is_disabled()
    form.get_by_role("button", name="Top up vault…").click()
    panel = form.locator(".nosana-vault")
    panel.get_by_role("button", name="Top up…").click()
    panel.get_by_role("button", name="Confirm top-up").click()
    status_of(panel).filter(has_text="Top-up confirmed").wait_for()
    form.get_by_text("enough to start").wait_for()

    review = form.get_by_role("button", name="Review and create…")
    review.click()
    confirm = form.get_by_role("button", name="Create and start")
    confirm.wait_for()
    form.locator(".nosana-confirm").last.filter(has_text="2 replicas").wait_for()
    confirm.click()
    status_of(form).filter(has_text="Created deployment").wait_for()
    badge = form.locator(".nosana-badge").first
    assert badge.inner_text() in ("STARTING", "RUNNING")
    page.set_viewport_size({"width": VIEWPORTS["wide"]["width"], "height": TALL})
    form.screenshot(path=str(screenshot_path("forms-create-form-created-wide-light")))
    check_layout(page)


def test_top_up_and_withdraw_through_the_vault_widget(open_page: Any, voila_url: str) -> None:
    page = open_notebook(open_page, voila_url, "narrow", "dark", tall=True)
    vault = page.locator(".nosana-vault").first
    assert vault.get_by_role("button", name="Withdraw all…").is_disabled()
    chart_history(vault)
    assert "0.05 SOL" in vault.inner_text()
    assert vault.get_by_text("Transaction:").is_visible()
    vault.screenshot(path=str(screenshot_path("forms-vault-topped-up-narrow-dark")))

    vault.get_by_role("button", name="Withdraw all…").click()
    vault.locator(".nosana-confirm").filter(has_text="Withdraw everything").wait_for()
    vault.get_by_role("button", name="Confirm withdraw").click()
    status_of(vault).filter(has_text="Withdraw confirmed").wait_for()
    vault.locator(".nosana-balances").get_by_text("0 NOS", exact=True).wait_for()
    assert vault.get_by_role("button", name="Withdraw all…").is_disabled()
    check_layout(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", ["wide", "narrow"])
def test_each_widget_reads_well_at_each_width_and_theme(
    open_page: Any, voila_url: str, viewport: str, scheme: str
) -> None:
    page = open_notebook(open_page, voila_url, viewport, scheme, tall=True)
    check_layout(page)
    # give every widget something to show: a balance history, a chosen market and its cost
    chart_history(page.locator(".nosana-vault").first)
    form = page.locator(".nosana-create-form")
    slug = form.get_by_label("Slug or address")
    slug.fill("nvidia-4090")
    slug.press("Enter")
    form.get_by_text("for the timeout (6 h)").wait_for()
    check_layout(page)
    if viewport == "wide":  # every shown column of the markets table fits without scrolling
        body = page.locator(".nosana-market-explorer .dt-scroll-body").first
        widths = body.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
        assert widths[0] <= widths[1] + 1, widths
    for name, selector in WIDGETS.items():
        shot = screenshot_path(f"forms-{name}-{viewport}-{scheme}")
        page.locator(selector).first.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000  # a real picture, not an empty box


# the market picker's chosen option, its no-break spaces as spaces
_CHOSEN_TEXT = "(el) => el.selectedOptions[0].text.replace(/\\u00a0/g, ' ')"


def test_the_market_explorer_picks_a_row_from_the_keyboard(open_page: Any, voila_url: str) -> None:
    """Tab focus, arrows and Space pick a market in the table: the explorer's market follows."""
    page = open_notebook(open_page, voila_url)
    explorer = page.locator(".nosana-market-explorer").first
    rows = explorer.locator("table.dataTable tbody tr")
    classes = [c or "" for c in rows.evaluate_all("(rs) => rs.map((r) => r.className)")]
    assert len(classes) >= 2
    assert rows.first.get_attribute("tabindex") == "0"
    target = next(i for i, c in enumerate(classes) if "selected" not in c)  # a market not chosen
    name = rows.nth(target).locator("td").first.inner_text().strip()
    market = explorer.get_by_label("Market", exact=True)
    assert not market.evaluate(_CHOSEN_TEXT).startswith(name + " ·")

    rows.first.focus()
    for _ in range(target):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    deadline = time.monotonic() + ACTION_TIMEOUT_MS / 1000
    chosen = ""
    while time.monotonic() < deadline:  # the kernel hears the selection and moves the market
        chosen = market.evaluate(_CHOSEN_TEXT)
        if chosen.startswith(name + " ·"):
            break
        page.wait_for_timeout(100)
    assert chosen.startswith(name + " ·"), (name, chosen)
    after = [c or "" for c in rows.evaluate_all("(rs) => rs.map((r) => r.className)")]
    assert [i for i, c in enumerate(after) if "selected" in c] == [target]  # one at a time
