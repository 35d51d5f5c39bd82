"""Widget views drawn as static HTML from the widget state saved with a notebook.

A page without a kernel cannot run widgets, and the usual way to show them (the
``@jupyter-widgets/html-manager`` script) is fetched from a CDN, so an offline page would show
empty boxes. Instead each saved view becomes plain HTML that looks like the widget did when the
notebook was saved: boxes, tabs, text, buttons, inputs, and the charts and tables in its output
areas. Nothing on the page is live; controls are shown disabled.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

MODEL_PREFIX = "IPY_MODEL_"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
MAX_DEPTH = 64  # a saved state that nests deeper than any real widget is malformed
MAX_VIEWS = 20_000  # models drawn per page: a state that reuses children cannot blow up

# ipywidgets' button_style names and the colours JupyterLab gives them
BUTTON_COLOURS = {
    "primary": "#1976d2",
    "success": "#388e3c",
    "info": "#0097a7",
    "warning": "#f57c00",
    "danger": "#d32f2f",
}
_BOX_DIRECTION = {"HBoxModel": "row", "VBoxModel": "column", "BoxModel": "row"}
_TEXT_INPUTS = {
    "TextModel",
    "IntTextModel",
    "FloatTextModel",
    "BoundedIntTextModel",
    "BoundedFloatTextModel",
    "ComboboxModel",
}
_CHOICES = {"DropdownModel", "SelectModel", "RadioButtonsModel", "ToggleButtonsModel"}
_TABBED = {"TabModel", "AccordionModel", "StackModel"}

FigureRenderer = Callable[[Mapping[str, Any]], str]
"""Draws a Plotly figure (its JSON) as HTML; supplied by the exporter."""


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def css_value(value: Any) -> str | None:
    """``value`` as a CSS value, or None when it could end the rule or the attribute.

    Args:
        value: a trait value from a saved layout or style model.

    Returns:
        The text to put after ``property:``, or None to leave the property out.
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if not isinstance(value, str | int | float):
        return None
    text = str(value)
    return None if any(bad in text for bad in ";{}<>\"'\\") else text


def layout_css(layout: Mapping[str, Any] | None) -> str:
    """Inline CSS from a LayoutModel's state: every set trait, named as in CSS.

    Args:
        layout: the state of a ``LayoutModel`` (None when the widget has none).

    Returns:
        ``"width: 100%; display: flex; ..."`` for the traits that are set ("" for none).
    """
    if not layout:
        return ""
    rules = []
    for key, value in layout.items():
        text = css_value(value)
        if not key.startswith("_") and text is not None:
            rules.append(f"{key.replace('_', '-')}: {text}")
    return "; ".join(rules)


class WidgetViewRenderer:
    """Turns one saved model id into HTML.

    Args:
        state: the ``state`` mapping of ``application/vnd.jupyter.widget-state+json``
            (model id -> {model_name, state, ...}).
        figure_html: draws a Plotly figure found in an output area or a figure widget.
    """

    def __init__(self, state: Mapping[str, Any], figure_html: FigureRenderer | None = None) -> None:
        self._state = state
        self._figure_html = figure_html
        self._ancestors: set[str] = set()
        self._drawn = 0
        self.figures = 0

    def known(self, model_id: str) -> bool:
        """Whether ``model_id`` has saved state.

        Args:
            model_id: a widget model id.

        Returns:
            True when the saved state holds that model.
        """
        return isinstance(self._state.get(model_id), Mapping)

    def render(self, model_id: str) -> str:
        """The view of ``model_id`` (and its children) as HTML.

        Args:
            model_id: a widget model id with saved state.

        Returns:
            An HTML fragment in a ``div.nosana-widget-view``.
        """
        inner = self._model(model_id, 0)
        return f'<div class="nosana-widget-view">{inner}</div>'

    # --- models ---------------------------------------------------------------------------

    def _model(self, ref: Any, depth: int) -> str:
        model_id = str(ref).removeprefix(MODEL_PREFIX)
        entry = self._state.get(model_id)
        if depth > MAX_DEPTH or not isinstance(entry, Mapping) or model_id in self._ancestors:
            return ""  # malformed: too deep, missing, or a box inside itself
        self._drawn += 1
        if self._drawn > MAX_VIEWS:
            return ""
        self._ancestors.add(model_id)
        try:
            return self._entry(entry, depth)
        finally:
            self._ancestors.discard(model_id)

    def _entry(self, entry: Mapping[str, Any], depth: int) -> str:
        name = str(entry.get("model_name", ""))
        state = entry.get("state")
        if not isinstance(state, Mapping):
            return ""
        layout = self._layout(state)
        if layout.get("display") == "none" or layout.get("visibility") == "hidden":
            return ""
        body = self._body(name, state, depth)
        classes = ["nosana-w", f"nosana-w-{name.removesuffix('Model').lower()}"]
        classes += [str(c) for c in state.get("_dom_classes") or () if isinstance(c, str)]
        css = layout_css(layout)
        if name in _BOX_DIRECTION:
            css = f"display: flex; flex-direction: {_BOX_DIRECTION[name]}; " + css
        elif name == "GridBoxModel":
            css = "display: grid; " + css
        style = f' style="{css}"' if css else ""
        return f'<div class="{_esc(" ".join(classes))}"{style}>{body}</div>'

    def _layout(self, state: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = state.get("layout")
        entry = self._state.get(str(ref).removeprefix(MODEL_PREFIX)) if ref else None
        found = entry.get("state") if isinstance(entry, Mapping) else None
        return found if isinstance(found, Mapping) else {}

    def _style(self, state: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = state.get("style")
        entry = self._state.get(str(ref).removeprefix(MODEL_PREFIX)) if ref else None
        found = entry.get("state") if isinstance(entry, Mapping) else None
        return found if isinstance(found, Mapping) else {}

    def _children(self, state: Mapping[str, Any], depth: int) -> list[str]:
        children = state.get("children") or ()
        return [self._model(child, depth + 1) for child in children if isinstance(child, str)]

    def _label(self, state: Mapping[str, Any]) -> str:
        text = state.get("description")
        if not text:
            return ""
        width = css_value(self._style(state).get("description_width"))
        css = f' style="width: {_esc(width)}"' if width and width != "initial" else ""
        return f'<label class="nosana-w-label"{css}>{_esc(text)}</label>'

    def _body(self, name: str, state: Mapping[str, Any], depth: int) -> str:
        if name in _BOX_DIRECTION or name == "GridBoxModel":
            return "".join(self._children(state, depth))
        if name in _TABBED:
            return self._tabs(name, state, depth)
        if name in {"HTMLModel", "HTMLMathModel"}:
            # the notebook's own HTML, as JupyterLab shows it
            return (
                self._label(state) + f'<div class="nosana-w-html">{state.get("value") or ""}</div>'
            )
        if name == "LabelModel":
            return f"<span>{_esc(state.get('value'))}</span>"
        if name == "ButtonModel":
            return self._button(state)
        if name in _TEXT_INPUTS or name == "PasswordModel":
            value = "" if name == "PasswordModel" else state.get("value")  # never a secret
            placeholder = _esc(state.get("placeholder"))
            return (
                self._label(state) + f'<input type="text" value="{_esc(value)}" '
                f'placeholder="{placeholder}" disabled>'
            )
        if name == "TextareaModel":
            return self._label(state) + f"<textarea disabled>{_esc(state.get('value'))}</textarea>"
        if name == "CheckboxModel":
            checked = " checked" if state.get("value") else ""
            return (
                f'<label class="nosana-w-check"><input type="checkbox"{checked} disabled> '
                f"{_esc(state.get('description'))}</label>"
            )
        if name in _CHOICES:
            return self._choices(name, state)
        if name in {"IntProgressModel", "FloatProgressModel"}:
            return self._progress(state)
        if name == "OutputModel":
            return self._outputs(state.get("outputs") or ())
        if "_data" in state and "_layout" in state:  # a Plotly FigureWidget
            return self._figure({"data": state["_data"], "layout": state["_layout"]})
        return f'<p class="nosana-note">A {_esc(name or "widget")} was here.</p>'

    def _button(self, state: Mapping[str, Any]) -> str:
        style = self._style(state)
        colour = css_value(style.get("button_color")) or BUTTON_COLOURS.get(
            str(state.get("button_style"))
        )
        css = []
        if colour:
            css.append(f"background: {colour}; color: #fff; border-color: {colour}")
        weight = css_value(style.get("font_weight"))
        if weight:
            css.append(f"font-weight: {weight}")
        attr = f' style="{_esc("; ".join(css))}"' if css else ""
        tooltip = state.get("tooltip")
        title = f' title="{_esc(tooltip)}"' if tooltip else ""
        return f"<button disabled{attr}{title}>{_esc(state.get('description'))}</button>"

    def _choices(self, name: str, state: Mapping[str, Any]) -> str:
        labels = [str(label) for label in state.get("_options_labels") or ()]
        index = state.get("index")
        chosen = index if isinstance(index, int) and 0 <= index < len(labels) else None
        if name == "ToggleButtonsModel":
            buttons = "".join(
                f'<button disabled class="{"nosana-w-on" if i == chosen else ""}">'
                f"{_esc(label)}</button>"
                for i, label in enumerate(labels)
            )
            return self._label(state) + f'<span class="nosana-w-toggles">{buttons}</span>'
        options = "".join(
            f"<option{' selected' if i == chosen else ''}>{_esc(label)}</option>"
            for i, label in enumerate(labels)
        )
        size = "" if name == "DropdownModel" else f' size="{min(max(len(labels), 2), 8)}"'
        return self._label(state) + f"<select disabled{size}>{options}</select>"

    def _progress(self, state: Mapping[str, Any]) -> str:
        value, top = state.get("value") or 0, state.get("max") or 100
        return self._label(state) + f'<progress value="{_esc(value)}" max="{_esc(top)}"></progress>'

    def _tabs(self, name: str, state: Mapping[str, Any], depth: int) -> str:
        children = self._children(state, depth)
        titles = list(state.get("titles") or ())
        selected = state.get("selected_index")
        if not isinstance(selected, int) or not 0 <= selected < len(children):
            selected = 0 if name == "TabModel" and children else None
        heads = ""
        if name != "StackModel":
            heads = "".join(
                f'<span class="nosana-w-tabhead{" nosana-w-on" if i == selected else ""}">'
                f"{_esc(titles[i] if i < len(titles) else f'Tab {i + 1}')}</span>"
                for i in range(len(children))
            )
            heads = f'<div class="nosana-w-tabheads">{heads}</div>'
        shown = children[selected] if selected is not None else ""
        return heads + f'<div class="nosana-w-tabbody">{shown}</div>'

    def _figure(self, figure: Mapping[str, Any]) -> str:
        if self._figure_html is None:
            return '<p class="nosana-note">A chart was here.</p>'
        self.figures += 1
        return self._figure_html(figure)

    def _outputs(self, outputs: Any) -> str:
        parts = []
        for output in outputs if isinstance(outputs, list | tuple) else ():
            if not isinstance(output, Mapping):
                continue
            if output.get("output_type") == "stream":
                parts.append(f"<pre>{_esc(output.get('text'))}</pre>")
                continue
            data = output.get("data")
            if not isinstance(data, Mapping):
                continue
            if PLOTLY_MIME in data and isinstance(data[PLOTLY_MIME], Mapping):
                parts.append(self._figure(data[PLOTLY_MIME]))
            elif "text/html" in data:
                value = data["text/html"]
                parts.append("".join(value) if isinstance(value, list) else str(value))
            elif "image/png" in data:
                parts.append(f'<img alt="" src="data:image/png;base64,{_esc(data["image/png"])}">')
            elif "text/plain" in data:
                parts.append(f"<pre>{_esc(data['text/plain'])}</pre>")
        return "".join(parts)
