"""The alert toast in a real browser: Voila serves ``notebooks/alert_toast.ipynb``, where a toast
gets three alerts at once and a fourth from a background thread (as a watcher's thread sends
them). The thread sends its alert when the test creates a trigger file, after the page shows
the first three: an update sent while the page is still loading its widget state can fall in
the gap between the state reply and the model's creation, which timing alone cannot avoid on a
loaded machine. Screenshots at 1280 px light and 800 px dark go to ``build/screenshots/``
(``alert-toast-<wide|narrow>-<light|dark>.png``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.browser import screenshot_path, voila_server

NOTEBOOK = Path(__file__).parent / "notebooks" / "alert_toast.ipynb"
LOAD_TIMEOUT_MS = 120_000

_CARDS = "() => document.querySelectorAll('.nosana-alert-toast .nosana-toast').length"
_OVERFLOW = """() => {
  const root = document.querySelector('.nosana-alert-toast');
  const box = root.getBoundingClientRect();
  const out = [];
  if (document.scrollingElement.scrollWidth > window.innerWidth + 1) out.push('page scrolls');
  for (const el of root.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width && (r.right > box.right + 1 || r.left < box.left - 1)) out.push(el.className);
  }
  return out;
}"""


@pytest.fixture(scope="module")
def trigger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alert-toast") / "send-the-fourth"


@pytest.fixture(scope="module")
def voila_url(trigger: Path) -> Any:
    with voila_server(NOTEBOOK, {"ALERT_TOAST_TRIGGER": str(trigger)}) as url:
        yield url


def _wait_for_cards(page: Any, count: int) -> None:
    try:
        page.wait_for_function(f"() => ({_CARDS})() === {count}", timeout=LOAD_TIMEOUT_MS)
    except Exception as error:  # say what the page showed instead of a bare timeout
        shown = page.evaluate(f"({_CARDS})()")
        text = page.evaluate("() => document.body.innerText")[-1500:]
        raise AssertionError(f"expected {count} cards, the page shows {shown}:\n{text}") from error


@pytest.mark.parametrize(("viewport", "scheme"), [("wide", "light"), ("narrow", "dark")])
def test_the_toast_shows_alerts_newest_first(
    open_page: Any, voila_url: str, trigger: Path, viewport: str, scheme: str
) -> None:
    page = open_page(viewport, scheme)
    page.goto(voila_url + ("?theme=dark" if scheme == "dark" else ""), timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector("#loading", state="detached", timeout=LOAD_TIMEOUT_MS)
    _wait_for_cards(page, 3)
    trigger.touch()  # the kernel's thread now sends the fourth, a live update to the page
    _wait_for_cards(page, 4)
    toast = page.locator(".nosana-alert-toast").first
    cards = toast.locator(".nosana-toast")
    texts = [cards.nth(i).inner_text() for i in range(4)]
    assert "reaches its timeout in 8 min" in texts[0]  # newest on top
    assert texts[1].startswith("✓ Resolved")
    assert "INSUFFICIENT_FUNDS" in texts[3]
    assert "2026-12-05 10:52:00 UTC · deployment 7Zx3…nCv5 · job Hq2L…nMv2" in texts[0]
    assert "2 active" in toast.inner_text()
    assert page.evaluate(_OVERFLOW) == []
    toast.screenshot(path=str(screenshot_path(f"alert-toast-{viewport}-{scheme}")))
    page.get_by_role("button", name="Clear").click()
    _wait_for_cards(page, 0)
    assert "No alerts yet." in toast.inner_text()
