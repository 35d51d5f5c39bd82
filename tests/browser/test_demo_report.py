"""``make demo`` (``python -m nosana_nb.demo``): the terminal summary, then the quickstart notebook
executed on the embedded sandbox and written as an HTML report, whose path it prints. Chromium
opens the report with the network cut and finds its charts drawn (plot areas of non-zero size)
and its widget views rendered.

Screenshots: ``build/screenshots/demo_report_wide.png``, ``demo_report_narrow.png`` and
``demo_report_widget.png``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nosana_nb.demo_report import DEFAULT_OUT
from tests.browser.browser import REPO, screenshot_path

DEMO_TIMEOUT_S = 300
# a drawn plot: plotly.js laid it out and its plot area (the drag layer) has a size
DRAWN_PLOT_AREAS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter((plot) => plot._fullLayout)
    .map((plot) => {
        const area = plot.querySelector('.nsewdrag');
        const box = area ? area.getBoundingClientRect() : {width: 0, height: 0};
        return {width: box.width, height: box.height,
                inWidget: !!plot.closest('.nosana-widget-view')};
    })"""
CUT_OFF = """() => [...document.querySelectorAll('.jp-InputArea-editor, .jp-OutputArea-output')]
    .filter((box) => box.scrollWidth > box.clientWidth + 2
        && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX))
    .map((box) => box.className + ': ' + box.innerText.slice(0, 60))"""
"""Cells whose content is wider than the cell and cannot be scrolled to."""
WIDGET_VIEWS = """() => [...document.querySelectorAll('.nosana-widget-view')].map((view) => {
    const box = view.getBoundingClientRect();
    return {width: box.width, height: box.height,
            buttons: [...view.querySelectorAll('button')].map((b) => b.textContent.trim()),
            inputs: view.querySelectorAll('input').length, text: view.innerText};
})"""


@dataclass(frozen=True)
class DemoRun:
    stdout: str
    stderr: str
    report: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``make demo``'s command, run once for the module, its report in a temporary folder."""
    folder = tmp_path_factory.mktemp("demo")
    env = {key: value for key, value in os.environ.items() if not key.startswith("NOSANA_")}
    env["XDG_DATA_HOME"] = str(folder / "data")
    result = subprocess.run(
        [sys.executable, "-m", "nosana_nb.demo", "--out", str(folder / "report")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=DEMO_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    match = re.search(r"^report: (.+\.html)$", result.stdout, re.MULTILINE)
    assert match is not None, result.stdout
    return DemoRun(result.stdout, result.stderr, Path(match.group(1)))


def test_demo_prints_its_summary_then_the_report_path(demo: DemoRun) -> None:
    assert "== summary ==" in demo.stdout
    assert "(yes, to the base unit)" in demo.stdout  # the terminal summary reconciled
    assert re.search(
        r"01_quickstart\.ipynb ran on the embedded sandbox in \d+\.\d s: 2 interactive charts, "
        r"1 widget view$",
        demo.stdout,
        re.MULTILINE,
    ), demo.stdout
    assert "WARNING" not in demo.stdout + demo.stderr  # the kernel's log noise stays out
    assert demo.report.is_file()
    assert demo.report.parent.name == "report"
    assert (demo.report.parent / "01_quickstart.ipynb").is_file()  # executed, with its state
    assert DEFAULT_OUT.parts[0] == "build"  # `make demo` itself writes under build/


def test_report_is_offline_and_keeps_no_widget_manager(demo: DemoRun) -> None:
    page = demo.report.read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-state+json" not in page  # drawn, not left to a CDN
    assert "html-manager" not in page
    assert page.count("* plotly.js v") == 1  # plotly.js embedded once


def _open(open_page: Callable[..., Any], report: Path, viewport: str) -> Any:
    page = open_page(viewport=viewport)
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    page.wait_for_function(f"() => ({DRAWN_PLOT_AREAS})().length >= 3", timeout=30_000)
    return page


@pytest.mark.parametrize("viewport", ["wide", "narrow"])
def test_report_draws_its_charts_and_widget_views(
    demo: DemoRun, open_page: Callable[..., Any], viewport: str
) -> None:
    page = _open(open_page, demo.report, viewport)
    plots = page.evaluate(DRAWN_PLOT_AREAS)
    # the job timeline and the cost chart, and the vault widget's balance chart
    assert len([p for p in plots if not p["inWidget"]]) == 2, plots
    assert len([p for p in plots if p["inWidget"]]) == 1, plots
    for plot in plots:
        assert plot["width"] > 100, plot
        assert plot["height"] > 100, plot
    views = page.evaluate(WIDGET_VIEWS)
    assert len(views) == 1, views
    view = views[0]
    assert view["width"] > 200, view
    assert view["height"] > 200, view
    assert {"Top up…", "Withdraw all…", "Refresh"} <= set(view["buttons"]), view["buttons"]
    assert view["inputs"] >= 2  # the two top-up amounts
    assert "Balances loaded" in view["text"]
    assert "NOS" in view["text"]
    assert "SOL" in view["text"]
    assert page.locator(".nosana-note").count() == 0  # every view drawn, none left a note
    # nothing wider than the window: no sideways scrolling of the page, and code or output
    # wider than its cell scrolls inside the cell instead of being cut off
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px"
    assert page.evaluate(CUT_OFF) == []
    page.screenshot(path=str(screenshot_path(f"demo_report_{viewport}")), full_page=True)
    if viewport == "wide":
        widget = page.locator(".nosana-widget-view").first
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=str(screenshot_path("demo_report_widget")))
