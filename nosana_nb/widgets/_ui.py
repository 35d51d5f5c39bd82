"""Pieces the create form, the market explorer and the vault widget share: labelled field rows
with an error line beside them, a confirmation panel, amount formatting, transaction links,
static figures in an Output, and one way to call a sync or an async client from a worker thread.

Everything shown is built from Jupyter's CSS variables (``--jp-*``) so it reads on the light and
dark themes alike.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import ipywidgets as widgets
import plotly.graph_objects as go
import plotly.io as pio

from nosana_nb.core.errors import NosanaError
from nosana_nb.widgets._base import _LoopThread

__all__ = [
    "LABEL_WIDTH",
    "ConfirmPanel",
    "FieldError",
    "ServiceClock",
    "call",
    "field_row",
    "format_nos",
    "format_sol",
    "format_usd",
    "hint",
    "neutral_template",
    "set_visible",
    "short_address",
    "show_figure",
    "signature_html",
    "stretch",
    "stylesheet",
    "wrap_row",
]

T = TypeVar("T")
logger = logging.getLogger("nosana_nb.widgets")

LABEL_WIDTH = "9.5em"
_ERROR_COLOR = "var(--jp-error-color1, #d32f2f)"
_MUTED_COLOR = "var(--jp-ui-font-color2, #616161)"


def call(value: T | Any) -> Any:
    """The result of a client call made from a worker thread, sync or async alike.

    An async client's coroutine runs on the widgets' private loop (never the kernel's), so give
    the widget a client the notebook does not also await in its own loop.
    """
    if inspect.isawaitable(value):
        future = asyncio.run_coroutine_threadsafe(_awaited(value), _LoopThread.get().loop)
        return future.result()
    return value


async def _awaited(value: Any) -> Any:
    return await value


class ServiceClock:
    """The service's time (DESIGN rule 10), never the kernel's: the client's own service clock
    (extrapolated from its replies at the service's rate, so a sandbox running at 60x or frozen
    in manual mode reads right), asked afresh by :meth:`sync` on a worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: Any = None

    def sync(self, client: Any) -> datetime | None:
        """Ask the service its time (worker thread). A failure keeps the last reading."""
        with self._lock:
            self._client = client
        try:
            return call(client.now())  # type: ignore[no-any-return]
        except NosanaError as error:
            logger.info("service time unavailable: %s", error)
            return self.now()

    def now(self) -> datetime | None:
        """The service's current time without a request, or None before any reply."""
        with self._lock:
            client = self._client
        clock = getattr(client, "service_clock", None)
        return None if clock is None else clock.now()


_CSS = """
.nosana-forms .nosana-status { overflow-wrap: anywhere; }
.nosana-forms .widget-html-content { line-height: 1.4; }
.nosana-forms .widget-checkbox { width: auto; }
.nosana-forms .nosana-stretch { width: auto !important; align-self: stretch; min-width: 0; }
.nosana-forms .widget-select select, .nosana-forms .widget-dropdown select,
.nosana-forms .widget-text input, .nosana-forms .widget-textarea textarea { min-width: 0; }
.nosana-forms .widget-toggle-buttons { display: flex; flex-wrap: wrap; align-items: center; }
.nosana-forms .widget-toggle-buttons > .widget-label { text-align: right; }
.nosana-forms .nosana-json textarea {
  font-family: var(--jp-code-font-family, monospace); font-size: var(--jp-code-font-size, 13px);
}
"""


def stylesheet() -> widgets.HTML:
    """The few rules ipywidgets' Layout cannot express (scoped to ``.nosana-forms``): controls
    that fill their column without overflowing it, and labels beside toggle buttons."""
    sheet = widgets.HTML(f"<style>{_CSS}</style>")
    sheet.layout.display = "none"  # a hidden <style> still applies
    return sheet


def stretch(*controls: widgets.Widget) -> None:
    """Let labelled controls fill their column (width 100% plus ipywidgets' margins would
    overflow it by a few pixels)."""
    for control in controls:
        control.layout.width = None
        control.add_class("nosana-stretch")


def field_style() -> dict[str, str]:
    return {"description_width": LABEL_WIDTH}


class FieldError(widgets.HTML):
    """The message beside one field; empty (and taking no room) while the field is valid."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(value="", **kwargs)
        self.add_class("nosana-field-error")
        self.layout.margin = f"0 0 2px {LABEL_WIDTH}"
        self._message = ""

    @property
    def message(self) -> str:
        return self._message

    def show(self, message: str | None) -> None:
        text = message or ""
        if text == self._message:
            return
        self._message = text
        if not text:
            self.value = ""
            return
        body = html.escape(text)
        self.value = (
            f'<div role="alert" style="color:{_ERROR_COLOR};white-space:pre-wrap;'
            f'font-size:var(--jp-ui-font-size1,12px);line-height:1.3">{body}</div>'
        )


def hint(text: str = "", *, indent: bool = True) -> widgets.HTML:
    """A grey help line under a field (HTML allowed: callers escape what they put in)."""
    view = widgets.HTML(value=_hint_html(text))
    view.add_class("nosana-hint")
    if indent:
        view.layout.margin = f"0 0 2px {LABEL_WIDTH}"
    return view


def _hint_html(text: str) -> str:
    if not text:
        return ""
    return (
        f'<div style="color:{_MUTED_COLOR};font-size:var(--jp-ui-font-size1,12px);'
        f'line-height:1.35;white-space:normal">{text}</div>'
    )


def set_hint(view: widgets.HTML, text: str) -> None:
    view.value = _hint_html(text)


def field_row(control: widgets.Widget, *below: widgets.Widget) -> widgets.VBox:
    """A control (labelled by its ``description``) with its help and error lines under it."""
    box = widgets.VBox([control, *below], layout=widgets.Layout(width="100%", margin="0 0 4px 0"))
    box.add_class("nosana-field")
    return box


def wrap_row(
    children: Iterable[widgets.Widget], *, gap: str = "8px", margin: str = "0"
) -> widgets.HBox:
    """Children side by side, wrapping onto the next line when narrow (ipywidgets' Layout has
    no ``gap``: each child gets a right and bottom margin instead)."""
    items = list(children)
    for child in items:
        child.layout.margin = f"0 {gap} 4px 0"
    return widgets.HBox(
        items, layout=widgets.Layout(flex_flow="row wrap", align_items="center", margin=margin)
    )


def set_visible(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


class ConfirmPanel(widgets.VBox):
    """Asks before something is spent: a message and Confirm / Cancel; hidden until asked."""

    def __init__(self, *, confirm_text: str = "Confirm", cancel_text: str = "Cancel") -> None:
        self.message = widgets.HTML()
        self.confirm_button = widgets.Button(
            description=confirm_text, button_style="warning", tooltip=confirm_text
        )
        self.cancel_button = widgets.Button(description=cancel_text, tooltip=cancel_text)
        buttons = wrap_row([self.confirm_button, self.cancel_button])
        super().__init__(
            [self.message, buttons],
            layout=widgets.Layout(
                border="1px solid var(--jp-warn-color1, #f57c00)",
                padding="8px 10px",
                margin="6px 0",
                width="100%",
            ),
        )
        self.add_class("nosana-confirm")
        self._on_confirm: Callable[[], None] | None = None
        self._on_cancel: Callable[[], None] | None = None
        self.confirm_button.on_click(lambda _b: self._answer(True))
        self.cancel_button.on_click(lambda _b: self._answer(False))
        set_visible(self, False)

    @property
    def pending(self) -> bool:
        return self._on_confirm is not None

    def ask(
        self,
        message_html: str,
        on_confirm: Callable[[], None],
        on_cancel: Callable[[], None] | None = None,
        *,
        confirm_text: str | None = None,
        confirm_style: str = "warning",
    ) -> None:
        self.message.value = (
            f'<div style="color:var(--jp-ui-font-color1,#212121);line-height:1.45">'
            f"{message_html}</div>"
        )
        if confirm_text:
            self.confirm_button.description = confirm_text
            self.confirm_button.tooltip = confirm_text
        self.confirm_button.button_style = confirm_style
        self._on_confirm = on_confirm
        self._on_cancel = on_cancel
        set_visible(self, True)

    def dismiss(self) -> None:
        self._on_confirm = None
        self._on_cancel = None
        set_visible(self, False)

    def _answer(self, confirmed: bool) -> None:
        chosen = self._on_confirm if confirmed else self._on_cancel
        if self._on_confirm is None:
            return  # nothing was asked (or already answered): a stray click does nothing
        self.dismiss()
        if chosen is not None:
            chosen()


# -- amounts --------------------------------------------------------------------------------


def _trim(value: Decimal, places: int) -> str:
    quantized = value.quantize(Decimal(1).scaleb(-places))
    text = f"{quantized:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_nos(value: Decimal | float | None, places: int = 6) -> str:
    """NOS to the base unit by default (6 places), trailing zeros dropped."""
    if value is None:
        return "n/a"
    return f"{_trim(Decimal(str(value)), places)} NOS"


def format_sol(value: Decimal | float | None, places: int = 6) -> str:
    if value is None:
        return "n/a"
    return f"{_trim(Decimal(str(value)), places)} SOL"


def format_usd(value: Decimal | float | None, places: int = 3) -> str:
    if value is None:
        return "n/a"
    amount = Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
    return f"${amount:,f}"


def short_address(address: str) -> str:
    return address if len(address) <= 14 else f"{address[:6]}…{address[-6:]}"


def address_html(address: str) -> str:
    safe, short = html.escape(address), html.escape(short_address(address))
    return f'<code title="{safe}" style="font-size:0.95em">{short}</code>'


_EXPLORER = {"mainnet": "", "devnet": "?cluster=devnet"}


def signature_html(signature: str, network_name: str) -> str:
    """A transaction signature: a Solscan link on mainnet/devnet, plain text elsewhere."""
    safe = html.escape(signature)
    if network_name in _EXPLORER:
        url = f"https://solscan.io/tx/{safe}{_EXPLORER[network_name]}"
        return (
            f'<a href="{url}" target="_blank" rel="noopener noreferrer" '
            f'style="color:var(--jp-content-link-color,#1976d2);word-break:break-all">'
            f"{safe}</a>"
        )
    return f'<code style="word-break:break-all">{safe}</code>'


def table_html(header: Iterable[str], rows: Iterable[Iterable[str]], *, caption: str = "") -> str:
    """A compact table that follows the theme (cells are escaped by the caller)."""
    cell = (
        "padding:3px 8px;border-bottom:1px solid var(--jp-border-color2,#e0e0e0);"
        "text-align:right;white-space:nowrap"
    )
    first = cell.replace("text-align:right", "text-align:left")
    head = "".join(
        f'<th scope="col" style="{first if i == 0 else cell};font-weight:600">{h}</th>'
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{first if i == 0 else cell}">{value}</td>' for i, value in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    cap = (
        f'<caption style="text-align:left;color:{_MUTED_COLOR};padding-bottom:2px">'
        f"{caption}</caption>"
        if caption
        else ""
    )
    return (
        '<div style="overflow-x:auto;max-width:100%">'
        '<table style="border-collapse:collapse;color:var(--jp-ui-font-color1,#212121);'
        f'font-size:var(--jp-ui-font-size1,12px)">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


# -- static figures ------------------------------------------------------------------------


def neutral_template() -> go.layout.Template:
    """A figure template that reads on light and dark themes: transparent background, grey
    text and grid (the plotly renderer in JupyterLab and Voila does not follow the theme)."""
    grey = "#808080"
    grid = "rgba(128,128,128,0.25)"
    axis = {"gridcolor": grid, "zerolinecolor": grid, "linecolor": grid, "color": grey}
    return go.layout.Template(
        layout={
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {"color": grey},
            "xaxis": axis,
            "yaxis": axis,
            "legend": {"bgcolor": "rgba(0,0,0,0)"},
            "margin": {"l": 50, "r": 20, "t": 50, "b": 40},
        }
    )


def show_figure(output: widgets.Output, figure: go.Figure) -> int:
    """Show ``figure`` in ``output`` as plotly's mimetype bundle (a static figure: a few tens of
    KB in a saved notebook, unlike a FigureWidget's ~5 MB of JavaScript). Returns its size."""
    spec = json.loads(pio.to_json(figure, validate=False))
    spec["config"] = {"displaylogo": False, "responsive": True}
    title = figure.layout.title.text or "figure"
    bundle = {"application/vnd.plotly.v1+json": spec, "text/plain": f"<Figure: {title}>"}
    output.outputs = ({"output_type": "display_data", "data": bundle, "metadata": {}},)
    return len(json.dumps(bundle))


def markets_with_idle_nodes(client: Any) -> list[Any]:
    """Every market with its available nodes read from its market account, as the dashboard
    counts them; without the chain (an RPC outage), the markets with ``idle_nodes`` unknown."""
    from nosana_nb.core.errors import NosanaError

    markets = list(call(client.markets.list()))
    try:
        return list(call(client.markets.with_idle_nodes(markets)))
    except NosanaError:
        return markets
