"""DeploymentControls in a real browser: Voila serves ``notebooks/controls.ipynb`` (an in-memory
sandbox per kernel with one DRAFT deployment), Debian chromium renders it at 1280 and 800 px.

Screenshots go to ``build/screenshots/controls-<wide|narrow>.png``. Asserted: nothing sticks out
of the widget sideways (the job-definition editor used to run past its right edge) and the
editor still takes the row's width.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.browser import screenshot_path, voila_server

NOTEBOOK = Path(__file__).parent / "notebooks" / "controls.ipynb"
LOAD_TIMEOUT_MS = 120_000

# Elements whose box leaves the widget's box sideways (content of scroll containers excepted).
_STICKING_OUT = """() => {
  const root = document.querySelector('.nosana-controls');
  const box = root.getBoundingClientRect();
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== root; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  const problems = [];
  for (const el of root.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || scrolls(el)) continue;
    if (r.right > box.right + 0.5 || r.left < box.left - 0.5) {
      problems.push(`${el.tagName}.${String(el.className).split(' ').join('.')}: ` +
                    `${r.left.toFixed(1)}..${r.right.toFixed(1)} vs ${box.left}..${box.right}`);
    }
  }
  return problems.slice(0, 10);
}"""

_EDITOR_SHARE = """() => {
  const root = document.querySelector('.nosana-controls').getBoundingClientRect();
  const editor = document.querySelector('.nosana-controls .nosana-editor').getBoundingClientRect();
  return editor.width / root.width;
}"""


@pytest.fixture(scope="module")
def voila_url() -> Iterator[str]:
    # NOSANA_NETWORK unset: the notebook connects to its own in-memory sandbox
    with voila_server(NOTEBOOK, {"NOSANA_NETWORK": ""}, timeout=90.0) as url:
        yield url


@pytest.mark.parametrize("viewport", ["wide", "narrow"])
def test_nothing_sticks_out_of_the_controls(open_page: Any, voila_url: str, viewport: str) -> None:
    page = open_page(viewport)
    page.set_viewport_size({"width": page.viewport_size["width"], "height": 1800})
    page.goto(voila_url, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector("#loading", state="detached", timeout=LOAD_TIMEOUT_MS)
    controls = page.locator(".nosana-controls")
    controls.get_by_text("Deployment loaded").wait_for(timeout=LOAD_TIMEOUT_MS)
    controls.screenshot(path=str(screenshot_path(f"controls-{viewport}")))
    assert page.evaluate(_STICKING_OUT) == []
    assert page.evaluate(_EDITOR_SHARE) > 0.97  # the editor still fills its row
