"""Each shipped notebook, executed, exported with ``nosana_nb.export`` and opened in chromium
with the network cut: every Plotly figure output is a drawn chart, plotly.js is on the page
once, a PNG of each chart shows where JavaScript is off, and the saved notebook stays small.

Screenshots: ``build/screenshots/export_<notebook>.png`` (the page), ``..._nojs.png`` (the
same page without JavaScript) and ``..._chart<n>.png`` (each chart as drawn).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nosana_nb.export import PLOTLY_MIME, export_html, html_from_notebook
from tests.browser.browser import screenshot_path
from tests.hardening.secret_scan import Needles, scan_text
from tests.notebooks.test_notebooks import (
    NOTEBOOKS,
    NOTEBOOKS_DIR,
    WIDGET_MIME,
    Executed,
    _execute,
    write_kernelspec,
)

MAX_SAVED_BYTES = 1_000_000
PLOTLY_JS_BANNER = "* plotly.js v"  # the licence header plotly.min.js starts with

COUNT_DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter((plot) => plot._fullLayout && plot.querySelector('.main-svg')).length"""
"""Charts plotly.js has drawn (each has several ``.main-svg`` layers, so count the plots)."""


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], tuple[Executed, Path, Any]]:
    """Executes each notebook once (as the notebook tests do), saves it with its outputs,
    exports it to HTML."""
    kernel_dir = write_kernelspec(tmp_path_factory.mktemp("kernels"))
    done: dict[str, tuple[Executed, Path, Any]] = {}

    def run(name: str) -> tuple[Executed, Path, Any]:
        if name not in done:
            folder = tmp_path_factory.mktemp("export")
            executed = _execute(NOTEBOOKS_DIR / name, kernel_dir, folder)
            saved = folder / name
            nbformat.write(executed.notebook, saved)  # type: ignore[no-untyped-call]
            with warnings.catch_warnings():
                # nbconvert warns when an output "is not able to be represented": not here
                warnings.simplefilter("error")
                result = export_html(saved, folder / f"{saved.stem}.html")
            done[name] = (executed, saved, result)
        return done[name]

    return run


def figure_outputs(executed: Executed) -> int:
    return sum(PLOTLY_MIME in output.get("data", {}) for output in executed.outputs())


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_saved_notebook_keeps_figures_as_data_and_stays_small(
    exported: Callable[[str], tuple[Executed, Path, Any]], name: str
) -> None:
    executed, saved, _ = exported(name)
    text = saved.read_text(encoding="utf-8")
    assert saved.stat().st_size <= MAX_SAVED_BYTES, f"{name}: {saved.stat().st_size} bytes"
    assert PLOTLY_JS_BANNER not in text  # no copy of plotly.js in any cell
    if name.startswith("03_"):
        assert figure_outputs(executed) == 4  # status, timeline, vault, cost


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exported_page_draws_every_chart_offline(
    exported: Callable[[str], tuple[Executed, Path, Any]],
    open_page: Callable[..., Any],
    name: str,
) -> None:
    executed, _, result = exported(name)
    figures = figure_outputs(executed)
    page_text = result.path.read_text(encoding="utf-8")
    assert result.figures == figures
    assert page_text.count(PLOTLY_JS_BANNER) == (1 if figures else 0)  # once per page
    assert scan_text(page_text, Needles.for_wallet(executed.wallet), where=name) == []

    page = open_page(viewport="wide")
    page.goto(result.path.as_uri())
    page.wait_for_load_state("load")
    if figures:
        page.wait_for_function(f"() => ({COUNT_DRAWN})() >= {figures}", timeout=30_000)
    assert page.evaluate(COUNT_DRAWN) == figures
    widgets = sum(WIDGET_MIME in output.get("data", {}) for output in executed.outputs())
    assert page.locator(".nosana-note").count() == widgets  # a note, not an empty box
    stem = Path(name).stem
    page.screenshot(path=str(screenshot_path(f"export_{stem}")), full_page=True)
    for number, chart in enumerate(page.locator(".js-plotly-plot").all(), start=1):
        chart.scroll_into_view_if_needed()
        chart.screenshot(path=str(screenshot_path(f"export_{stem}_chart{number}")))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exported_page_shows_a_picture_of_each_chart_without_javascript(
    exported: Callable[[str], tuple[Executed, Path, Any]], browser: Any, name: str
) -> None:
    executed, _, result = exported(name)
    figures = figure_outputs(executed)
    assert result.static_images == figures, result.image_note
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, java_script_enabled=False
    )
    try:
        context.route("**/*", lambda route: _local_only(route))
        page = context.new_page()
        page.goto(result.path.as_uri())
        images = page.locator(".nosana-figure img")  # <noscript> content, parsed without JS
        assert images.count() == figures
        for index in range(figures):
            # decoded, and as wide as the page allows: a real picture, not a broken icon
            assert images.nth(index).evaluate("(img) => img.naturalWidth") >= 800
        assert page.locator(".js-plotly-plot").count() == 0  # nothing drew without JS
        page.screenshot(path=str(screenshot_path(f"export_{Path(name).stem}_nojs")), full_page=True)
    finally:
        context.close()


def _local_only(route: Any) -> None:
    if route.request.url.startswith(("file:", "data:")):
        route.continue_()
    else:
        route.abort()


def test_stock_nbconvert_drops_the_charts_that_ours_keeps(
    exported: Callable[[str], tuple[Executed, Path, Any]],
) -> None:
    """Why the exporter exists: nbconvert alone cannot represent the figure outputs."""
    from nbconvert import HTMLExporter

    executed, _, _ = exported("03_status_history_and_vault.ipynb")
    with pytest.warns(UserWarning, match="not able to be represented"):
        stock, _ = HTMLExporter().from_notebook_node(executed.notebook)
    assert "Plotly.newPlot" not in stock
    ours, resources = html_from_notebook(executed.notebook, static_images=False)
    assert ours.count("Plotly.newPlot") == figure_outputs(executed)
    assert resources["nosana_nb"]["image_note"] == "static images are off"
    assert "this chart needs JavaScript (static images are off)" in ours
