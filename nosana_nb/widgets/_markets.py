"""Every GPU market in one sortable table, a what-if calculator, and "use in form".

Prices come from the core's :func:`~nosana_nb.core.markets.estimate_cost` (the same arithmetic
as the funds check) and the markets frame of :mod:`nosana_nb.frames`; nothing is re-derived
here. Premium and community markets are both listed (the web dashboard hides community ones on
mainnet).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from nosana_nb.core.errors import ValidationError
from nosana_nb.core.markets import estimate_cost, find_market
from nosana_nb.core.models import CostEstimate, Market
from nosana_nb.core.validation import check_replicas, timeout_minutes
from nosana_nb.frames import markets_dataframe
from nosana_nb.widgets._base import CancelToken, NosanaWidget
from nosana_nb.widgets._ui import (
    FieldError,
    field_row,
    field_style,
    format_nos,
    format_usd,
    hint,
    markets_with_idle_nodes,
    set_hint,
    stretch,
    stylesheet,
    table_html,
    wrap_row,
)

if TYPE_CHECKING:
    from nosana_nb.widgets._create import CreateDeploymentForm

__all__ = ["MarketExplorer", "MarketView", "market_views", "what_if"]

MAX_WHAT_IF_HOURS = 24 * 366
_ANY = 0


@dataclass(frozen=True)
class MarketView:
    """One market as the widgets show it: names, VRAM, hourly prices with and without fee."""

    market: Market
    address: str
    name: str
    tier: str
    gpus: str
    vram_gb: int | None
    idle_nodes: int | None
    nodes: int | None
    per_hour: CostEstimate | None  # one replica for one hour; None when the market has no price

    @property
    def slug(self) -> str:
        return self.market.slug or ""

    @property
    def usd_per_hour_with_fee(self) -> Decimal | None:
        return None if self.per_hour is None else self.per_hour.usd_per_hour_with_fee

    def option_label(self, *, too_small: bool = False) -> str:
        """A one-line label for a list box: name, VRAM, $/h and NOS/h with fee, idle nodes."""
        parts = [self.name]
        if self.vram_gb is not None:
            parts.append(f"{self.vram_gb} GB")
        if self.per_hour is not None:
            parts.append(f"{format_usd(self.per_hour.usd_per_hour_with_fee)}/h")
            parts.append(f"{format_nos(self.per_hour.nos_per_hour_with_fee, 3)}/h")
        else:
            parts.append("price n/a")
        parts.append(f"{self.idle_nodes if self.idle_nodes is not None else '?'} idle")
        label = " · ".join(parts)
        return f"{label} — too little VRAM" if too_small else label

    def details_html(self) -> str:
        """The market's figures, base and fee-included side by side."""
        fee = self.per_hour.network_fee_percentage if self.per_hour else None
        fee_text = f"{fee.normalize():f} % network fee" if fee is not None else "fee unknown"
        rows = []
        if self.per_hour is not None:
            estimate = self.per_hour
            rows = [
                [
                    "per hour, 1 replica",
                    html.escape(format_nos(estimate.nos_per_hour)),
                    html.escape(format_nos(estimate.nos_per_hour_with_fee)),
                    html.escape(format_usd(estimate.usd_per_hour)),
                    html.escape(format_usd(estimate.usd_per_hour_with_fee)),
                ]
            ]
        facts = [
            f"<b>{html.escape(self.name)}</b>",
            html.escape(self.tier.title()) if self.tier else "",
            html.escape(self.gpus) if self.gpus else "",
            f"{self.vram_gb} GB VRAM" if self.vram_gb is not None else "VRAM unknown",
            f"{self.idle_nodes if self.idle_nodes is not None else '?'} of "
            f"{self.nodes if self.nodes is not None else '?'} nodes available",
        ]
        line = " · ".join(fact for fact in facts if fact)
        table = (
            table_html(["", "NOS", "NOS + fee", "USD", "USD + fee"], rows, caption=fee_text)
            if rows
            else "<i>This market publishes no price.</i>"
        )
        return (
            f'<div style="color:var(--jp-ui-font-color1,#212121);'
            f'font-size:var(--jp-ui-font-size1,12px)">{line}{table}</div>'
        )


def _int_or_none(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def market_views(markets: Sequence[Market]) -> list[MarketView]:
    """Views of ``markets``, cheapest first (fee-included $/h; unpriced markets last)."""
    frame = markets_dataframe(list(markets)) if markets else None
    views = []
    for index, market in enumerate(markets):
        row = frame.iloc[index] if frame is not None else None
        per_hour = None
        if market.nos_job_price_per_second is not None:
            per_hour = estimate_cost(market, replicas=1, timeout=3600)
        views.append(
            MarketView(
                market=market,
                address=market.address,
                name=market.label,
                tier=(market.type or "").upper(),
                gpus=", ".join(market.gpu_types),
                vram_gb=None if market.lowest_vram is None else int(market.lowest_vram),
                idle_nodes=_int_or_none(row["idle_nodes"]) if row is not None else None,
                nodes=_int_or_none(row["nodes"]) if row is not None else None,
                per_hour=per_hour,
            )
        )

    def price_key(view: MarketView) -> tuple[int, Decimal, str]:
        price = view.usd_per_hour_with_fee
        if price is None and view.per_hour is not None:
            price = view.per_hour.nos_per_hour_with_fee
        return (price is None, price or Decimal(0), view.name)

    return sorted(views, key=price_key)


def what_if(market: Market, *, replicas: Any, hours: Any) -> CostEstimate:
    """Cost of ``replicas`` jobs running ``hours`` on ``market`` (hours become exact minutes)."""
    count = check_replicas(replicas, minimum=1)
    if isinstance(hours, bool) or not isinstance(hours, int | float | Decimal):
        raise ValidationError("hours must be a number", argument="hours")
    try:
        exact = Decimal(str(hours))
    except InvalidOperation:
        raise ValidationError("hours must be a number", argument="hours") from None
    if not exact.is_finite() or exact <= 0:
        raise ValidationError("hours must be more than 0", argument="hours")
    if exact > MAX_WHAT_IF_HOURS:
        raise ValidationError(f"hours must be at most {MAX_WHAT_IF_HOURS}", argument="hours")
    try:
        minutes = timeout_minutes(exact * 3600, argument="hours")
    except ValidationError:
        raise ValidationError(
            "hours must come to whole minutes (e.g. 1.5 h = 90 min, 0.25 h = 15 min)",
            argument="hours",
        ) from None
    return estimate_cost(market, replicas=count, timeout=timedelta(minutes=minutes))


def filter_views(
    views: Sequence[MarketView],
    *,
    gpu: str = "",
    min_vram: int = _ANY,
    max_usd_per_hour: float = 0.0,
    tier: str = "",
) -> list[MarketView]:
    """The views matching every filter (an empty or zero filter matches all)."""
    wanted = gpu.strip().lower()
    chosen = []
    for view in views:
        if wanted and wanted not in f"{view.name} {view.gpus} {view.slug}".lower():
            continue
        if min_vram and (view.vram_gb is None or view.vram_gb < min_vram):
            continue
        price = view.usd_per_hour_with_fee
        if max_usd_per_hour > 0 and (price is None or price > Decimal(str(max_usd_per_hour))):
            continue
        if tier and view.tier != tier:
            continue
        chosen.append(view)
    return chosen


class MarketFilters(widgets.HBox):
    """GPU name, minimum VRAM, maximum fee-included $/h and tier; shared by form and explorer."""

    def __init__(self) -> None:
        narrow = {"description_width": "auto"}
        self.gpu = widgets.Text(
            description="GPU",
            placeholder="e.g. 4090",
            style=narrow,
            layout=widgets.Layout(width="11em"),
        )
        self.min_vram = widgets.Dropdown(
            description="Min VRAM",
            options=[("any", _ANY)],
            value=_ANY,
            style=narrow,
            layout=widgets.Layout(width="12em"),
        )
        self.max_price = widgets.BoundedFloatText(
            description="Max $/h (0 = any)",  # a bare "0" read as "free markets only"
            value=0.0,
            min=0.0,
            max=10_000.0,
            step=0.05,
            tooltip="fee-included price per GPU hour; 0 = no limit",
            style=narrow,
            layout=widgets.Layout(width="14em"),
        )
        self.tier = widgets.Dropdown(
            description="Tier",
            options=[("all", ""), ("premium", "PREMIUM"), ("community", "COMMUNITY")],
            value="",
            style=narrow,
            layout=widgets.Layout(width="11em"),
        )
        controls = [self.gpu, self.min_vram, self.max_price, self.tier]
        for control in controls:
            control.layout.margin = "0 10px 4px 0"
        super().__init__(controls, layout=widgets.Layout(flex_flow="row wrap", width="100%"))
        self.add_class("nosana-market-filters")

    def set_vram_choices(self, views: Sequence[MarketView]) -> None:
        sizes = sorted({v.vram_gb for v in views if v.vram_gb})
        current = self.min_vram.value
        self.min_vram.options = [("any", _ANY)] + [(f"{gb} GB+", gb) for gb in sizes]
        self.min_vram.value = current if current in (_ANY, *sizes) else _ANY

    def apply(self, views: Sequence[MarketView]) -> list[MarketView]:
        return filter_views(
            views,
            gpu=self.gpu.value,
            min_vram=int(self.min_vram.value or 0),
            max_usd_per_hour=float(self.max_price.value or 0.0),
            tier=str(self.tier.value or ""),
        )

    def observe_all(self, handler: Any) -> None:
        for control in (self.gpu, self.min_vram, self.max_price, self.tier):
            control.observe(handler, names="value")


_TABLE_COLUMNS = [
    "GPU market",
    "Tier",
    "GPUs",
    "VRAM (GB)",
    "$/h + fee",
    "$/h",
    "NOS/h + fee",
    "NOS/h",
    "Idle nodes",
    "Nodes",
    "Slug",
    "Address",
]


_HIDDEN_COLUMNS = [_TABLE_COLUMNS.index(name) for name in ("$/h", "NOS/h", "Address")]
# passed on every update too: itables drops column definitions an update does not repeat
_COLUMN_DEFS = [{"targets": _HIDDEN_COLUMNS, "visible": False}]


def _float(value: Decimal | None, places: int) -> float | None:
    return None if value is None else round(float(value), places)


def table_frame(views: Sequence[MarketView]) -> pd.DataFrame:
    """The explorer's table: one row per market, prices rounded for reading."""
    rows = [
        [
            v.name,
            v.tier.title(),
            v.gpus,
            v.vram_gb,
            _float(v.per_hour.usd_per_hour_with_fee, 4) if v.per_hour else None,
            _float(v.per_hour.usd_per_hour, 4) if v.per_hour else None,
            _float(v.per_hour.nos_per_hour_with_fee, 4) if v.per_hour else None,
            _float(v.per_hour.nos_per_hour, 4) if v.per_hour else None,
            v.idle_nodes,
            v.nodes,
            v.slug,
            v.address,
        ]
        for v in views
    ]
    frame = pd.DataFrame(rows, columns=_TABLE_COLUMNS)
    for column in ("VRAM (GB)", "Idle nodes", "Nodes"):
        frame[column] = frame[column].astype("Int64")
    for column in ("$/h + fee", "$/h", "NOS/h + fee", "NOS/h"):
        frame[column] = frame[column].astype("Float64")
    return frame


class MarketExplorer(NosanaWidget):
    """Every market in a sortable, searchable table, a what-if calculator, and "use in form".

    ``MarketExplorer(client, form=None)``: markets load in the background. Pick a market in the
    table (or, by keyboard, in the *Market* list), set replicas and hours, and read the cost in
    NOS and USD with and without the network fee; *Use in form* copies the market and the
    replica count into ``form`` (a :class:`CreateDeploymentForm`).

    Args:
        client: a ``NosanaClient``.
        form: a create form that *Use in form* fills.
    """

    def __init__(self, client: Any, form: CreateDeploymentForm | None = None) -> None:
        super().__init__(client)
        self.add_class("nosana-market-explorer")
        self.add_class("nosana-forms")
        self._form = form
        self._views: list[MarketView] = []
        self._shown: list[MarketView] = []
        self._estimate: CostEstimate | None = None
        self._syncing = False

        self.title = widgets.HTML(
            '<h3 style="margin:4px 0;color:var(--jp-ui-font-color0,#000)">GPU markets</h3>'
        )
        self.loading = hint("Loading GPUs…", indent=False)
        self.filters = MarketFilters()
        self.table = _make_table()
        self.market = widgets.Dropdown(
            description="Market",
            options=[],
            style=field_style(),
            layout=widgets.Layout(width="100%", max_width="44em"),
        )
        self.market_error = FieldError()
        self.details = widgets.HTML()
        self.replicas = widgets.IntText(
            description="Replicas", value=1, style=field_style(), layout=_number_layout()
        )
        self.replicas_error = FieldError()
        self.hours = widgets.FloatText(
            description="Hours", value=24.0, step=0.5, style=field_style(), layout=_number_layout()
        )
        self.hours_error = FieldError()
        self.result = widgets.HTML()
        self.comparison = widgets.HTML()
        self.use_in_form_button = widgets.Button(
            description="Use in form",
            tooltip="Copy the market and the replica count into the create form",
            button_style="primary",
            disabled=True,
        )
        self.refresh_button = widgets.Button(description="Reload markets", tooltip="Reload")
        self.cancel_button = widgets.Button(
            description="Cancel", tooltip="Cancel loading", disabled=True
        )
        calculator = widgets.VBox(
            [
                widgets.HTML(
                    '<h4 style="margin:6px 0 2px;color:var(--jp-ui-font-color1,#212121)">'
                    "What if…</h4>"
                ),
                field_row(self.market, self.market_error),
                self.details,
                field_row(self.replicas, self.replicas_error),
                field_row(self.hours, self.hours_error),
                self.result,
                wrap_row(
                    [self.use_in_form_button, self.refresh_button, self.cancel_button],
                    margin="6px 0",
                ),
                self.comparison,
            ],
            layout=widgets.Layout(width="100%"),
        )
        stretch(self.market)
        self.children = [
            stylesheet(),
            self.title,
            self.loading,
            self.filters,
            self.table,
            calculator,
            self.status,
        ]
        self.layout.width = "100%"
        self.layout.max_width = "1100px"

        self.filters.observe_all(lambda _change: self._refilter())
        self.table.observe(self._on_table_selection, names="selected_rows")
        self.market.observe(lambda _change: self._on_market_change(), names="value")
        self.replicas.observe(lambda _change: self._recalculate(), names="value")
        self.hours.observe(lambda _change: self._recalculate(), names="value")
        self.use_in_form_button.on_click(lambda _b: self.use_in_form())
        self.refresh_button.on_click(lambda _b: self.reload())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.observe(self._on_busy, names="busy")
        self.reload()

    # -- loading ------------------------------------------------------------------------

    def reload(self) -> None:
        """Fetch the markets again (in the background)."""

        def load(token: CancelToken) -> list[MarketView]:
            markets = markets_with_idle_nodes(self.client)
            token.raise_if_cancelled()
            return market_views(markets)

        def loaded(views: list[MarketView]) -> None:
            self._views = views
            self.filters.set_vram_choices(views)
            set_hint(self.loading, "" if views else "No GPUs available")
            self._refilter()

        self.run(
            "Loading GPU markets",
            load,
            disable=[self.refresh_button],
            on_success=loaded,
            success_text=lambda views: f"{len(views)} markets loaded.",
        )

    def _on_busy(self, change: dict[str, Any]) -> None:
        self.cancel_button.disabled = not change["new"]
        if not change["new"] and self.last_error is not None and not self._views:
            set_hint(self.loading, "Could not load available GPUs")

    # -- selection ----------------------------------------------------------------------

    @property
    def markets(self) -> list[MarketView]:
        """Every loaded market, cheapest first."""
        return list(self._views)

    @property
    def shown(self) -> list[MarketView]:
        """The markets the filters let through, in table order."""
        return list(self._shown)

    @property
    def selected(self) -> MarketView | None:
        """The market selected now, or None."""
        address = self.market.value
        return next((v for v in self._views if v.address == address), None)

    @property
    def estimate(self) -> CostEstimate | None:
        """The calculator's current answer (None while an input is invalid)."""
        return self._estimate

    def select(self, address_or_slug: str) -> MarketView:
        """Select a market by address or slug.

        Args:
            address_or_slug: the market's address or slug.

        Returns:
            The market selected.

        Raises:
            ValidationError: no loaded market matches.
        """
        market = find_market([v.market for v in self._views], address_or_slug)
        self.market.value = market.address
        return next(v for v in self._views if v.address == market.address)

    def _refilter(self) -> None:
        self._shown = self.filters.apply(self._views)
        selected = self.market.value
        self._syncing = True
        try:
            self.table.update(
                table_frame(self._shown),
                selected_rows=self._rows_of(selected),
                columnDefs=_COLUMN_DEFS,
            )
            # the list keeps every market: filtering the table must not drop a choice
            self.market.options = [(v.option_label(), v.address) for v in self._views]
            if selected in {v.address for v in self._views}:
                self.market.value = selected
            elif self._shown:
                self.market.value = self._shown[0].address
        finally:
            self._syncing = False
        self._on_market_change()

    def _rows_of(self, address: str | None) -> list[int]:
        return [i for i, v in enumerate(self._shown) if v.address == address]

    def _on_table_selection(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        rows = [r for r in change["new"] if 0 <= r < len(self._shown)]
        if rows:
            self.market.value = self._shown[rows[0]].address

    def _on_market_change(self) -> None:
        view = self.selected
        self.details.value = view.details_html() if view else ""
        self.market_error.show(None if view or not self._views else "Please select a market")
        if view is not None and not self._syncing:
            rows = self._rows_of(view.address)
            if list(self.table.selected_rows) != rows:
                self._syncing = True
                try:
                    self.table.selected_rows = rows
                finally:
                    self._syncing = False
        self._recalculate()

    # -- calculator ---------------------------------------------------------------------

    def _recalculate(self) -> None:
        view = self.selected
        self._estimate = None
        replicas_message = hours_message = None
        try:
            check_replicas(self.replicas.value, minimum=1)
        except ValidationError:
            replicas_message = (
                "Number of replicas must be greater than 0"
                if self.replicas.value < 1
                else "Number of replicas cannot exceed 100"
            )
        if view is not None and view.per_hour is not None and replicas_message is None:
            try:
                self._estimate = what_if(
                    view.market, replicas=self.replicas.value, hours=self.hours.value
                )
            except ValidationError as error:
                hours_message = error.message
        self.replicas_error.show(replicas_message)
        self.hours_error.show(hours_message)
        self.result.value = self._result_html(view)
        self.comparison.value = self._comparison_html()
        self.use_in_form_button.disabled = (
            self._form is None or view is None or replicas_message is not None
        )

    def _result_html(self, view: MarketView | None) -> str:
        estimate = self._estimate
        if view is None or estimate is None:
            return ""
        hours = Decimal(estimate.timeout_seconds) / 3600
        text = (
            f"<b>{estimate.replicas} × {html.escape(view.name)} × {hours.normalize():f} h</b> = "
            f"<b>{html.escape(format_nos(estimate.nos_with_fee))}</b> "
            f"({html.escape(format_nos(estimate.nos))} + "
            f"{estimate.network_fee_percentage.normalize():f} % fee)"
        )
        if estimate.usd_with_fee is not None:
            text += (
                f" ≈ <b>{html.escape(format_usd(estimate.usd_with_fee, 2))}</b> "
                f"({html.escape(format_usd(estimate.usd, 2))} before the fee)"
            )
        return (
            f'<div role="status" style="color:var(--jp-ui-font-color1,#212121);'
            f'margin:4px 0;line-height:1.4">{text}</div>'
        )

    def _comparison_html(self) -> str:
        """The same replicas × hours on every shown market, cheapest first."""
        if not self._shown or self.replicas_error.message or self.hours_error.message:
            return ""
        rows = []
        for view in self._shown:
            if view.per_hour is None:
                continue
            try:
                estimate = what_if(
                    view.market, replicas=self.replicas.value, hours=self.hours.value
                )
            except ValidationError:
                return ""
            marker = " ◀" if view.address == self.market.value else ""
            rows.append(
                [
                    html.escape(view.name) + marker,
                    html.escape(format_nos(estimate.nos_with_fee, 2)),
                    html.escape(format_usd(estimate.usd_with_fee, 2)),
                    str(view.idle_nodes if view.idle_nodes is not None else "?"),
                ]
            )
        if not rows:
            return ""
        return table_html(
            ["Market", "NOS + fee", "USD + fee", "Idle nodes"],
            rows,
            caption="The same run on every market shown above, cheapest first",
        )

    # -- the form -----------------------------------------------------------------------

    def use_in_form(self) -> None:
        """Copy the selected market and the replica count into the create form."""
        view = self.selected
        if self._form is None:
            error = ValidationError("no create form was given to this explorer", argument="form")
            self.last_error = error
            self.status.error(f"ValidationError: {error.message}")
            return
        if view is None:
            error = ValidationError("Please select a market", argument="market")
            self.last_error = error
            self.status.error(f"ValidationError: {error.message}")
            return
        self._form.select_market(view.address)
        if not self.replicas_error.message:
            self._form.replicas.value = self.replicas.value
        self.last_error = None
        self.last_result = view
        self.status.ok(f"The form now uses {view.name} with {self.replicas.value} replica(s).")


def _number_layout() -> widgets.Layout:
    return widgets.Layout(width="18em")


# one market at a time; "keys": Tab focuses a row, arrows move, Space/Enter pick it
_SELECT: dict[str, Any] = {"style": "single", "keys": True}


def _make_table() -> Any:
    # imported here: itables pulls in its JavaScript bundle, which only a shown table needs
    from itables.widget import ITable

    table = ITable(
        table_frame([]),
        select=_SELECT,
        showIndex=False,
        paging=False,
        scrollX=True,
        classes="display compact nowrap",
        order=[[4, "asc"]],
        # the address and the prices before the fee stay searchable but hidden: the what-if
        # shows both prices, and the row fits a 1100 px notebook column without scrolling
        columnDefs=_COLUMN_DEFS,
        layout={"topStart": None, "topEnd": "search", "bottomStart": "info", "bottomEnd": None},
        language={"search": "Search markets:", "zeroRecords": "No GPUs match the filters"},
        warn_on_undocumented_option=False,
    )
    table.layout.width = "100%"
    return table
