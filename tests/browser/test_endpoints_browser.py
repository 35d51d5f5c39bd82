"""The endpoints panel in a real browser: Voila serves ``notebooks/endpoints.ipynb`` (an
in-memory sandbox per kernel: one deployment READY, one BOOTING, one DRAFT never probed, and an
endpoint nobody listens on), Debian chromium renders it light and dark at 1280 and 800 px.

Screenshots go to ``build/screenshots/endpoints-<wide|narrow>-<light|dark>.png``. Asserted:
each probed state reads as it should, and nothing sticks out of the panels sideways.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.browser import screenshot_path, voila_server

NOTEBOOK = Path(__file__).parent / "notebooks" / "endpoints.ipynb"
LOAD_TIMEOUT_MS = 120_000

_STICKING_OUT = """() => {
  const root = document.querySelector('.nosana-endpoints-demo');
  const box = root.getBoundingClientRect();
  const problems = [];
  for (const el of root.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    if (r.right > box.right + 0.5 || r.left < box.left - 0.5) {
      problems.push(`${el.tagName}.${String(el.className)}: ${r.left}..${r.right}`);
    }
  }
  return problems.slice(0, 10);
}"""


@pytest.fixture(scope="module")
def voila_url() -> Iterator[str]:
    with voila_server(NOTEBOOK, {"NOSANA_NETWORK": ""}, timeout=90.0) as url:
        yield url


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [("wide", "light"), ("wide", "dark"), ("narrow", "light"), ("narrow", "dark")],
)
def test_the_panel_shows_each_probed_state(
    open_page: Any, voila_url: str, viewport: str, scheme: str
) -> None:
    page = open_page(viewport, scheme)
    page.goto(voila_url + ("?theme=dark" if scheme == "dark" else ""), timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector("#loading", state="detached", timeout=LOAD_TIMEOUT_MS)
    demo = page.locator(".nosana-endpoints-demo")
    demo.wait_for(timeout=LOAD_TIMEOUT_MS)
    pills = [text.strip() for text in demo.locator(".nosana-probe").all_inner_texts()]
    assert [p.split(" · ")[0] for p in pills] == [
        "READY 200",
        "READY 200",
        "BOOTING 503",
        "NOT PROBED",
        "UNREACHABLE connect error",
    ]
    assert demo.get_by_role("button", name="Probe").count() == 4
    demo.screenshot(path=str(screenshot_path(f"endpoints-{viewport}-{scheme}")))
    assert page.evaluate(_STICKING_OUT) == []
