"""Widget views in an exported page are drawn from the saved widget state (what nbclient and
JupyterLab's "save widget state" store): real ipywidgets trees, serialised by ipywidgets'
own ``embed_data``, drawn as static HTML; malformed state never hangs, never breaks out of the
page's markup, and a password is never shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import nbformat
import pytest
from ipywidgets.embed import embed_data

from nosana_nb.export import export_html
from nosana_nb.export._preprocess import PLOTLY_MIME, WIDGET_STATE_MIME, WIDGET_VIEW_MIME
from nosana_nb.export._widgets import MAX_VIEWS, WidgetViewRenderer, css_value, layout_css


def saved(root: widgets.Widget) -> tuple[dict[str, Any], str]:
    """The saved state of ``root``'s tree and its model id, as a notebook stores them."""
    data = embed_data(views=[root])
    return data["manager_state"]["state"], data["view_specs"][0]["model_id"]


def drawn(root: widgets.Widget, figures: list[Mapping[str, Any]] | None = None) -> str:
    state, model_id = saved(root)

    def figure_html(figure: Mapping[str, Any]) -> str:
        if figures is not None:
            figures.append(figure)
        return '<div class="test-figure"></div>'

    return WidgetViewRenderer(state, figure_html).render(model_id)


@pytest.fixture(autouse=True)
def _close_widgets() -> Any:
    yield
    widgets.Widget.close_all()


def test_a_form_is_drawn_as_it_looked() -> None:
    form = widgets.VBox(
        [
            widgets.HTML("<b>Vault</b> 4vAs…"),
            widgets.HBox(
                [
                    widgets.Button(description="Top up…", button_style="primary"),
                    widgets.Button(description="Refresh", disabled=True),
                ]
            ),
            widgets.Text(value="0.05", description="Top up SOL"),
            widgets.IntText(value=3, description="Replicas"),
            widgets.Dropdown(options=["Shared vault", "New vault"], value="New vault"),
            widgets.Checkbox(value=True, description="Start after creating"),
            widgets.ToggleButtons(options=["Template", "JSON"], value="JSON"),
        ]
    )
    page = drawn(form)
    assert page.startswith('<div class="nosana-widget-view">')
    assert "flex-direction: column" in page  # the VBox
    assert "flex-direction: row" in page  # the HBox
    assert "<b>Vault</b> 4vAs…" in page  # the notebook's own HTML, as JupyterLab shows it
    assert re.search(r'<button disabled style="background: #1976d2[^"]*">Top up…</button>', page)
    assert ">Refresh</button>" in page
    assert 'value="0.05"' in page
    assert "Top up SOL</label>" in page
    assert 'value="3"' in page
    assert "<option>Shared vault</option><option selected>New vault</option>" in page
    assert '<input type="checkbox" checked disabled> Start after creating' in page
    assert '<button disabled class="nosana-w-on">JSON</button>' in page


def test_tabs_show_the_selected_child_only() -> None:
    tabs = widgets.Tab(
        children=[widgets.Label("first page"), widgets.Label("second page")],
        titles=("Overview", "Jobs"),
        selected_index=1,
    )
    page = drawn(tabs)
    assert "second page" in page
    assert "first page" not in page
    assert '<span class="nosana-w-tabhead">Overview</span>' in page
    assert '<span class="nosana-w-tabhead nosana-w-on">Jobs</span>' in page


def test_hidden_widgets_are_left_out() -> None:
    hidden = widgets.Button(description="Confirm", layout=widgets.Layout(display="none"))
    page = drawn(widgets.VBox([widgets.Label("shown"), hidden]))
    assert "shown" in page
    assert "Confirm" not in page


def test_output_areas_keep_their_charts_tables_and_text() -> None:
    figure = {"data": [{"type": "bar", "x": [1], "y": [2]}], "layout": {"title": {"text": "t"}}}
    out = widgets.Output()
    out.outputs = (
        {"output_type": "display_data", "data": {PLOTLY_MIME: figure}, "metadata": {}},
        {"output_type": "display_data", "data": {"text/html": "<table></table>"}, "metadata": {}},
        {"output_type": "stream", "name": "stdout", "text": "a < b\n"},
    )
    figures: list[Mapping[str, Any]] = []
    page = drawn(out, figures)
    assert figures == [figure]
    assert '<div class="test-figure"></div><table></table><pre>a &lt; b\n</pre>' in page


def test_a_password_is_never_drawn() -> None:
    page = drawn(widgets.Password(value="hunter2-secret", description="Key"))
    assert "hunter2" not in page
    assert 'value=""' in page


def test_text_from_the_state_is_escaped() -> None:
    nasty = '"><script>alert(1)</script>'
    page = drawn(widgets.VBox([widgets.Button(description=nasty, tooltip=nasty)]))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_css_values_that_could_break_out_are_dropped() -> None:
    assert css_value("100%") == "100%"
    assert css_value(12) == "12"
    for bad in ("red; background: url(x)", "1px}", '"', "'", "</style>", "a\\b", True, [1], None):
        assert css_value(bad) is None, bad
    assert layout_css({"width": "50%", "height": "1px; x: y", "_view_name": "LayoutView"}) == (
        "width: 50%"
    )
    # a hand-edited saved state (ipywidgets itself refuses such a colour)
    state, model_id = saved(widgets.Button(description="b"))
    style = next(m for m in state.values() if m["model_name"] == "ButtonStyleModel")
    style["state"]["button_color"] = "red; background-image: url(https://example.invalid)"
    page = WidgetViewRenderer(state).render(model_id)
    assert "example.invalid" not in page
    assert ">b</button>" in page


def test_malformed_state_draws_what_it_can_and_terminates() -> None:
    state: dict[str, Any] = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_box", "IPY_MODEL_x"]}},
        "x": {"model_name": "LabelModel", "state": {"value": "inside"}},
        "broken": {"model_name": "LabelModel", "state": "not a mapping"},
        "odd": {"model_name": "SomethingNewModel", "state": {}},
    }
    renderer = WidgetViewRenderer(state)
    assert "inside" in renderer.render("box")  # the box inside itself is skipped
    assert renderer.render("broken") == '<div class="nosana-widget-view"></div>'
    assert renderer.render("missing") == '<div class="nosana-widget-view"></div>'
    assert not renderer.known("missing")
    assert "A SomethingNewModel was here." in renderer.render("odd")


def test_a_state_that_reuses_children_cannot_blow_up() -> None:
    # 40 levels, each box holding the next one twice: 2**40 views if drawn naively
    state: dict[str, Any] = {
        f"b{i}": {"model_name": "HBoxModel", "state": {"children": [f"IPY_MODEL_b{i + 1}"] * 2}}
        for i in range(40)
    }
    state["b40"] = {"model_name": "LabelModel", "state": {"value": "leaf"}}
    page = WidgetViewRenderer(state).render("b0")
    assert 0 < page.count("leaf") <= MAX_VIEWS


def test_export_draws_saved_views_and_notes_the_rest(tmp_path: Path) -> None:
    shown = widgets.VBox([widgets.Button(description="Saved button")])
    state, model_id = saved(shown)
    notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    view = {"version_major": 2, "version_minor": 0, "model_id": model_id}
    lost = {"version_major": 2, "version_minor": 0, "model_id": "0" * 32}
    for spec in (view, lost):
        cell = nbformat.v4.new_code_cell("w")  # type: ignore[no-untyped-call]
        cell.outputs = [
            nbformat.v4.new_output(  # type: ignore[no-untyped-call]
                "display_data", data={WIDGET_VIEW_MIME: spec, "text/plain": "VBox()"}
            )
        ]
        notebook.cells.append(cell)
    notebook.metadata["widgets"] = {
        WIDGET_STATE_MIME: {"version_major": 2, "version_minor": 0, "state": state}
    }
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)  # type: ignore[no-untyped-call]
    result = export_html(path, tmp_path / "saved.html", static_images=False)
    page = result.path.read_text(encoding="utf-8")
    assert result.widget_views == 1
    assert ">Saved button</button>" in page
    assert page.count('class="nosana-note"') == 1  # the view whose state was not saved
    assert WIDGET_STATE_MIME not in page  # no CDN widget manager is asked to draw anything
