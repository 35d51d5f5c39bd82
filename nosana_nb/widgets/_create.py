"""The create-deployment form: the web dashboard's fields, validated live, with a cost estimate,
a funds check, a confirmation step, and create / start / wait-for-RUNNING in the background.

Every field is checked by the core's validators (the same ones ``client.deployments.create``
runs) as soon as it changes; a wrong field shows its message beside it and keeps the submit
button disabled. Clicking anyway raises the typed error into ``last_error`` before anything is
sent. Timeouts are whole hours and minutes, converted exactly (the API counts minutes).
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import ipywidgets as widgets
from croniter import croniter

from nosana_nb.core.deployments import WaitTimeoutError
from nosana_nb.core.errors import InsufficientFundsError, NosanaError, ValidationError
from nosana_nb.core.jobdef import container_job, validate_job_definition
from nosana_nb.core.markets import check_vault_funds, estimate_cost, find_market
from nosana_nb.core.models import CostEstimate, Market, VaultInfo
from nosana_nb.core.routes import prepare_create
from nosana_nb.core.validation import (
    MAX_REPLICAS,
    MAX_TIMEOUT_MINUTES,
    MIN_INFINITE_TIMEOUT_MINUTES,
    MIN_ROTATION_GAP_MINUTES,
    Strategy,
    check_cron,
    check_name,
    check_strategy,
)
from nosana_nb.core.vaults import VaultBalance
from nosana_nb.widgets._base import CancelToken, NosanaWidget, badge_html, describe_error
from nosana_nb.widgets._jobdef_templates import (
    TEMPLATES,
    JobTemplate,
    TemplateParameter,
    check_parameter,
    required_vram,
    template_by_key,
)
from nosana_nb.widgets._markets import MarketFilters, MarketView, market_views
from nosana_nb.widgets._names import random_deployment_name
from nosana_nb.widgets._ui import (
    ConfirmPanel,
    FieldError,
    ServiceClock,
    address_html,
    call,
    field_row,
    field_style,
    format_nos,
    format_sol,
    format_usd,
    hint,
    markets_with_idle_nodes,
    set_hint,
    set_visible,
    short_address,
    stretch,
    stylesheet,
    table_html,
    wrap_row,
)
from nosana_nb.widgets._vault import VaultWidget

__all__ = ["CreateDeploymentForm", "CreatePlan", "default_timeout_minutes", "minimum_timeout"]

SHARED_VAULT = "shared"
NEW_VAULT = "new"
CREDITS = "credits"
SOURCE_TEMPLATE = "template"
SOURCE_IMAGE = "image"
SOURCE_JSON = "json"
DEFAULT_WAIT_TIMEOUT = 600.0
_WAIT_SLICE = 1.0  # seconds per wait_until call: how soon a cancel is noticed
_CRON_PREVIEW_RUNS = 4
_LATEST = datetime.max.replace(tzinfo=UTC)

_STRATEGY_HELP = {
    Strategy.SIMPLE: "Each replica runs once, until the timeout or until it exits.",
    Strategy.SIMPLE_EXTEND: (
        "Each replica's timeout is extended before it ends, so it keeps running (and billing) "
        "until you stop the deployment."
    ),
    Strategy.SCHEDULED: "Replicas are started on the cron schedule; each run lasts the timeout.",
    Strategy.INFINITE: (
        "Replicas are replaced before their timeout, so the service stays up (and billing) "
        "until you stop it."
    ),
}
_COST_NOTE = {
    Strategy.SIMPLE: "A SIMPLE run costs at most the timeout figure.",
    Strategy.SIMPLE_EXTEND: "Keeps billing every timeout period until stopped.",
    Strategy.SCHEDULED: "The timeout figure is per scheduled run.",
    Strategy.INFINITE: "Keeps billing every timeout period until stopped.",
}


def default_timeout_minutes(strategy: Strategy) -> int:
    """The dashboard's defaults: 6 h for INFINITE, 1 h for the other strategies."""
    return 360 if strategy is Strategy.INFINITE else 60


def minimum_timeout(strategy: Strategy, *, credits: bool) -> int:
    """Minutes: the API needs 60 for INFINITE, and credit-paid jobs need 60; else 1."""
    return MIN_INFINITE_TIMEOUT_MINUTES if strategy is Strategy.INFINITE or credits else 1


def _hours_minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


@dataclass(frozen=True)
class CreatePlan:
    """A create the form has fully checked: what will be sent, and what happens after."""

    name: str
    market: Market
    replicas: int
    timeout_minutes: int
    strategy: Strategy
    schedule: str | None
    rotation_minutes: int | None
    job_definition: dict[str, Any]
    vault: str | None  # an address, or None for the shared vault / credits
    new_vault: bool
    start: bool
    wait: bool

    @property
    def timeout(self) -> timedelta:
        return timedelta(minutes=self.timeout_minutes)

    def create_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``client.deployments.create``."""
        return {
            "name": self.name,
            "market": self.market.address,
            "replicas": self.replicas,
            "timeout": self.timeout,
            "strategy": self.strategy.value,
            "job_definition": self.job_definition,
            "schedule": self.schedule,
            "rotation_time": None
            if self.rotation_minutes is None
            else timedelta(minutes=self.rotation_minutes),
            "autostart": self.start,
            "vault": self.vault,
            "new_vault": self.new_vault,
            # a DRAFT spends nothing; a start checks the vault (again) before it is sent
            "check_funds": self.start,
        }


def _images(definition: Mapping[str, Any]) -> list[str]:
    return [
        str(op.get("args", {}).get("image"))
        for op in definition.get("ops", [])
        if isinstance(op, Mapping)
        and isinstance(op.get("args"), Mapping)
        and op["args"].get("image")
    ]


def _ports(definition: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    for op in definition.get("ops", []):
        expose = op.get("args", {}).get("expose") if isinstance(op, Mapping) else None
        items = expose if isinstance(expose, list) else [expose]
        for item in items:
            port = item.get("port") if isinstance(item, Mapping) else item
            if port not in (None, ""):
                found.append(str(port))
    return found


def _json_error(text: str, error: json.JSONDecodeError) -> str:
    return f"Line {error.lineno}, column {error.colno}: {error.msg}"


def _parameter_control(parameter: TemplateParameter) -> widgets.Widget:
    common: dict[str, Any] = {"description": parameter.label, "style": field_style()}
    if parameter.kind in ("port", "vram"):
        return widgets.IntText(
            value=int(parameter.default), layout=widgets.Layout(width="18em"), **common
        )
    if parameter.kind == "gpu":
        return widgets.Checkbox(value=bool(parameter.default), indent=True, **common)
    if parameter.kind == "env":
        return widgets.Textarea(
            value=str(parameter.default),
            rows=3,
            placeholder="KEY=VALUE",
            layout=widgets.Layout(width="100%"),
            **common,
        )
    return widgets.Text(value=str(parameter.default), layout=widgets.Layout(width="100%"), **common)


class _TemplateFields:
    """The controls of one template's parameters, with their error lines."""

    def __init__(self, template: JobTemplate) -> None:
        self.template = template
        self.controls = {p.key: _parameter_control(p) for p in template.parameters}
        self.errors = {p.key: FieldError() for p in template.parameters}
        stretch(
            *(c for c in self.controls.values() if isinstance(c, widgets.Text | widgets.Textarea))
        )
        rows = []
        for parameter in template.parameters:
            below: list[widgets.Widget] = []
            if parameter.help:
                below.append(hint(html.escape(parameter.help)))
            below.append(self.errors[parameter.key])
            rows.append(field_row(self.controls[parameter.key], *below))
        self.box = widgets.VBox(rows, layout=widgets.Layout(width="100%"))

    def values(self) -> dict[str, Any]:
        return {key: control.value for key, control in self.controls.items()}

    def check(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """(the definition, or None) and a message per wrong parameter."""
        problems: dict[str, str] = {}
        for parameter in self.template.parameters:
            try:
                check_parameter(parameter, self.controls[parameter.key].value)
            except ValidationError as error:
                problems[parameter.key] = error.message
        for key, view in self.errors.items():
            view.show(problems.get(key))
        if problems:
            return None, problems
        try:
            return self.template.definition(self.values()), {}
        except ValidationError as error:
            key = error.argument if error.argument in self.errors else "job"
            return None, {str(key): error.message}


class CreateDeploymentForm(NosanaWidget):
    """Create (and optionally start) a deployment from a notebook, like the web dashboard.

    ``CreateDeploymentForm(client)`` returns at once; markets, vaults and balances load in the
    background. Fill the fields (or set their ``.value`` in code), click *Review and create…*,
    then *Confirm* in the panel that lists what will be spent. ``last_result`` is the created
    ``Deployment``; ``last_error`` the typed exception of the last failure (a ValidationError
    naming the field when something was refused before sending).

    Args:
        client: a ``NosanaClient``.
        name: the deployment name to start with.
        market: a market address or slug to preselect.
        strategy: the strategy to preselect.
        template: the job template to preselect (``"jupyter"``, ...).
        wait_timeout: seconds *Wait until RUNNING* waits after creating.
    """

    def __init__(
        self,
        client: Any,
        *,
        name: str | None = None,
        market: str | None = None,
        strategy: Strategy | str = Strategy.INFINITE,
        template: str = "jupyter",
        wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    ) -> None:
        super().__init__(client)
        try:
            initial_strategy = check_strategy(strategy)
            template_by_key(template)
            _check_wait_timeout(wait_timeout)
        except ValidationError:
            self.close()  # a refused argument leaves no half-built widget open
            raise
        self.add_class("nosana-create-form")
        self.add_class("nosana-forms")
        self._wait_timeout = float(wait_timeout)
        self._initial_market = market
        self._credits = bool(getattr(client, "pays_with_credits", False))
        self._views: list[MarketView] = []
        self._vaults: list[VaultInfo] = []
        self._balances: dict[str, VaultBalance] = {}
        self._balance_errors: dict[str, str] = {}
        self._credits_available: Decimal | None = None  # USD an API key can still spend
        self._credits_error: str | None = None
        self._loaded = False
        self._clock = ServiceClock()
        self._updating = 0  # > 0 while the form sets its own values
        self._name_touched = name is not None
        self._timeout_touched = False
        self._json_touched = False
        self._plan: CreatePlan | None = None
        self._estimate: CostEstimate | None = None
        self._errors: dict[str, str] = {}
        self._funds_short = False
        self._vault_widget: VaultWidget | None = None
        self._creating = False
        self._last_vram = 0.0
        self._lock = threading.RLock()
        self._confirming: CreatePlan | None = None
        # the deployment created by the last submit, kept even when waiting for it failed
        self.deployment: Any = None

        self._build(name, initial_strategy, template)
        self._observe()
        self._apply_strategy(initial_strategy, reset_timeout=True)
        self._validate()
        self.reload()

    # -- building -------------------------------------------------------------------------

    def _build(self, name: str | None, strategy: Strategy, template: str) -> None:
        # a fresh Layout per widget: a shared one would hide every widget when one is hidden
        def full() -> widgets.Layout:
            return widgets.Layout(width="100%")

        def number() -> widgets.Layout:
            return widgets.Layout(width="14em")

        self.name = widgets.Text(
            description="Name",
            value=name if name is not None else random_deployment_name(),
            placeholder="deployment name",
            style=field_style(),
            layout=full(),
        )
        self.name_error = FieldError()
        self.strategy = widgets.Dropdown(
            description="Strategy",
            options=[
                ("Simple", Strategy.SIMPLE.value),
                ("Simple Extend", Strategy.SIMPLE_EXTEND.value),
                ("Scheduled", Strategy.SCHEDULED.value),
                ("Infinite", Strategy.INFINITE.value),
            ],
            value=strategy.value,
            style=field_style(),
            layout=widgets.Layout(width="100%", max_width="26em"),
        )
        self.strategy_help = hint()
        self.schedule = widgets.Text(
            description="Schedule (cron)",
            value="0 0 * * *",
            placeholder="0 0 * * *",
            style=field_style(),
            layout=widgets.Layout(width="100%", max_width="26em"),
        )
        self.schedule_preview = hint()
        self.schedule_error = FieldError()
        self.schedule_row = field_row(self.schedule, self.schedule_preview, self.schedule_error)
        self.rotation = widgets.IntText(
            description="Rotation (min)",
            value=20,
            tooltip="minutes before a job's timeout at which its replacement is listed",
            style=field_style(),
            layout=number(),
        )
        self.rotation_help = hint(
            "Minutes before each job's timeout at which its replacement is listed (0: at the "
            "timeout)."
        )
        self.rotation_error = FieldError()
        self.rotation_row = field_row(self.rotation, self.rotation_help, self.rotation_error)
        self.replicas = widgets.IntText(
            description="Replicas", value=1, style=field_style(), layout=number()
        )
        self.replicas_error = FieldError()
        self.timeout_hours = widgets.IntText(
            description="Timeout (h)",
            value=6,
            tooltip="Maximum runtime of each job before it is shut down",
            style=field_style(),
            layout=number(),
        )
        self.timeout_minutes = widgets.IntText(
            description="min",
            value=0,
            style={"description_width": "auto"},
            layout=widgets.Layout(width="7.5em"),
        )
        self.timeout_help = hint()
        self.timeout_error = FieldError()

        # job definition: a template, an image and a command, or JSON
        self.source = widgets.ToggleButtons(
            description="Job definition",
            options=[
                ("Template", SOURCE_TEMPLATE),
                ("Image + command", SOURCE_IMAGE),
                ("JSON", SOURCE_JSON),
            ],
            value=SOURCE_TEMPLATE,
            tooltips=[
                "Start from a ready-made job",
                "Any container image and a command",
                "Write or paste the job definition",
            ],
            style={**field_style(), "button_width": "auto"},
        )
        self.template = widgets.Dropdown(
            description="Template",
            options=[(t.title, t.key) for t in TEMPLATES],
            value=template_by_key(template).key,
            style=field_style(),
            layout=widgets.Layout(width="100%", max_width="30em"),
        )
        self.template_help = hint()
        self._template_fields = {t.key: _TemplateFields(t) for t in TEMPLATES}
        self.template_params = widgets.VBox(layout=full())
        self.template_panel = widgets.VBox(
            [field_row(self.template, self.template_help), self.template_params], layout=full()
        )
        self.image = widgets.Text(
            description="Image",
            placeholder="docker.io/library/ubuntu:24.04",
            style=field_style(),
            layout=full(),
        )
        self.image_error = FieldError()
        self.command = widgets.Text(
            description="Command",
            placeholder="run by a shell; empty runs the image's own command",
            style=field_style(),
            layout=full(),
        )
        self.gpu = widgets.Checkbox(description="Use the GPU", value=True, style=field_style())
        self.image_panel = widgets.VBox(
            [field_row(self.image, self.image_error), field_row(self.command), self.gpu],
            layout=full(),
        )
        self.job_json = widgets.Textarea(
            description="Job JSON",
            placeholder='{"version": "0.1", "type": "container", "ops": [...]}',
            rows=14,
            style=field_style(),
            layout=widgets.Layout(width="100%"),
        )
        self.job_json.add_class("nosana-json")
        self.job_json_error = FieldError()
        self.json_panel = widgets.VBox(
            [field_row(self.job_json, self.job_json_error)], layout=full()
        )
        self.job_summary = hint()
        self.job_error = FieldError()

        # market
        self.filters = MarketFilters()
        self.market = widgets.Select(
            description="GPU market",
            options=[],
            rows=6,
            style=field_style(),
            layout=widgets.Layout(width="100%"),
        )
        self.market_hint = hint("Loading GPUs…")
        self.market_ref = widgets.Text(
            description="Slug or address",
            placeholder="e.g. nvidia-3060",
            continuous_update=False,
            style=field_style(),
            layout=widgets.Layout(width="100%", max_width="34em"),
        )
        self.market_error = FieldError()
        self.market_details = widgets.HTML()
        self.market_details.layout.margin = "0 0 4px 0"

        # paying
        self.vault = widgets.Dropdown(
            description="Pay from",
            options=[("Credits (API key)", CREDITS)]
            if self._credits
            else [("Loading vaults…", "")],
            style=field_style(),
            layout=widgets.Layout(width="100%", max_width="34em"),
        )
        self.vault_error = FieldError()
        self.funds = widgets.HTML()
        self.topup_shortcut = widgets.Button(
            description="Top up vault…",
            tooltip="Open the vault to add SOL and NOS",
            button_style="warning",
        )
        set_visible(self.topup_shortcut, False)
        self.topup_area = widgets.VBox(layout=full())
        set_visible(self.topup_area, False)
        self.cost = widgets.HTML()

        # submitting
        self.start = widgets.Checkbox(description="Start after creating", value=True, indent=False)
        self.wait_running = widgets.Checkbox(
            description="Wait until RUNNING", value=False, indent=False
        )
        self.review_button = widgets.Button(
            description="Review and create…",
            tooltip="Check everything and show what will be spent before anything is sent",
            button_style="primary",
            disabled=True,
            layout=widgets.Layout(width="auto"),
        )
        self.cancel_button = widgets.Button(
            description="Cancel",
            tooltip="Cancel the running operation (a create already sent is not undone)",
            disabled=True,
        )
        self.confirm = ConfirmPanel(confirm_text="Create")
        self.result = widgets.HTML()

        timeout_box = wrap_row([self.timeout_hours, self.timeout_minutes])
        configure = widgets.VBox(
            [
                _section("Configure deployment"),
                field_row(self.name, self.name_error),
                field_row(self.strategy, self.strategy_help),
                self.schedule_row,
                self.rotation_row,
                field_row(self.replicas, self.replicas_error),
                field_row(timeout_box, self.timeout_help, self.timeout_error),
                field_row(self.source),
                self.template_panel,
                self.image_panel,
                self.json_panel,
                self.job_summary,
                self.job_error,
            ],
            layout=widgets.Layout(width="100%", min_width="0"),
        )
        gpu = widgets.VBox(
            [
                _section("Select GPU"),
                self.filters,
                field_row(self.market, self.market_hint),
                field_row(self.market_ref, self.market_error),
                self.market_details,
                _section("Summary"),
                self.cost,
                field_row(self.vault, self.vault_error),
                self.funds,
                self.topup_shortcut,
                self.topup_area,
                wrap_row([self.start, self.wait_running], gap="16px"),
                wrap_row([self.review_button, self.cancel_button], margin="6px 0 0 0"),
                self.confirm,
                self.status,
                self.result,
            ],
            layout=widgets.Layout(width="100%", min_width="0"),
        )
        grid = widgets.GridBox(
            [configure, gpu],
            layout=widgets.Layout(
                grid_template_columns="repeat(auto-fit, minmax(min(100%, 430px), 1fr))",
                grid_gap="8px 28px",
                width="100%",
            ),
        )
        stretch(
            self.name,
            self.strategy,
            self.schedule,
            self.template,
            self.image,
            self.command,
            self.job_json,
            self.market,
            self.market_ref,
            self.vault,
        )
        self.children = [stylesheet(), grid]
        self.layout.width = "100%"
        self.layout.max_width = "1200px"
        self._show_template()
        self._show_source()

    def _observe(self) -> None:
        def revalidate(_change: Any = None) -> None:
            if not self._updating:
                self._validate()

        for control in (
            self.schedule,
            self.rotation,
            self.replicas,
            self.image,
            self.command,
            self.gpu,
        ):
            control.observe(revalidate, names="value")
        for fields in self._template_fields.values():
            for control in fields.controls.values():
                control.observe(revalidate, names="value")
        self.name.observe(self._on_name, names="value")
        self.strategy.observe(self._on_strategy, names="value")
        self.timeout_hours.observe(self._on_timeout, names="value")
        self.timeout_minutes.observe(self._on_timeout, names="value")
        self.template.observe(self._on_template, names="value")
        self.source.observe(self._on_source, names="value")
        self.job_json.observe(self._on_json, names="value")
        self.market.observe(self._on_market, names="value")
        self.market_ref.observe(self._on_market_ref, names="value")
        self.filters.observe_all(lambda _c: self._refresh_market_options())
        self.vault.observe(self._on_vault, names="value")
        self.start.observe(self._on_start, names="value")
        self.wait_running.observe(revalidate, names="value")
        self.topup_shortcut.on_click(lambda _b: self.open_topup())
        self.review_button.on_click(lambda _b: self.review())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.observe(self._on_busy, names="busy")

    # -- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        """Load markets, vaults and balances again (in the background)."""

        def load(token: CancelToken) -> list[MarketView]:
            self._clock.sync(self.client)
            markets = markets_with_idle_nodes(self.client)
            token.raise_if_cancelled()
            views = market_views(markets)
            vaults: list[VaultInfo] = []
            if self._credits:
                self._read_credits()
            else:
                vaults = list(call(self.client.vaults.list()))
            if vaults:
                # the shared vault (what create uses by default) first: vaults/create names it,
                # and creates nothing once a vault exists (creation times can tie)
                shared = str(call(self.client.vaults.create()).address)
                vaults.sort(key=lambda v: (v.vault != shared, v.created_at or _LATEST, v.vault))
            token.raise_if_cancelled()
            self._vaults = vaults
            if vaults:
                self._read_balance(vaults[0].vault)
            return views

        def loaded(views: list[MarketView]) -> None:
            self._views = views
            self._loaded = True
            self.filters.set_vram_choices(views)
            self._set_vault_options()
            self._refresh_market_options()
            if self._initial_market and self.market.value is None:
                try:
                    self.select_market(self._initial_market)
                except ValidationError as error:
                    self.market_error.show(error.message)
            self._validate()

        self.run(
            "Loading GPU markets and vaults",
            load,
            disable=[self.review_button],
            on_success=loaded,
            success_text=lambda views: f"{len(views)} GPU markets loaded.",
        )

    def _read_credits(self) -> None:
        """Read the API key's available credits (worker thread; an error is remembered)."""
        try:
            self._credits_available = call(self.client.credits.balance()).available
            self._credits_error = None
        except NosanaError as error:
            self._credits_available, self._credits_error = None, describe_error(error)

    def _read_balance(self, address: str) -> None:
        """Read one vault's balance into the cache (worker thread; errors are remembered)."""
        try:
            self._balances[address] = call(self.client.vaults.get(address).get_balance())
            self._balance_errors.pop(address, None)
        except NosanaError as error:
            self._balance_errors[address] = describe_error(error)

    def _set_vault_options(self) -> None:
        if self._credits:
            return
        options: list[tuple[str, str]] = []
        for index, info in enumerate(self._vaults):
            role = "Shared vault" if index == 0 else "Vault"
            options.append((f"{role} {short_address(info.vault)}", info.vault))
        if not options:
            options.append(("Shared vault (created on first use)", SHARED_VAULT))
        options.append(("A new vault for this deployment", NEW_VAULT))
        current = self.vault.value
        self._updating += 1
        try:
            self.vault.options = options
            values = [value for _label, value in options]
            self.vault.value = current if current in values else values[0]
        finally:
            self._updating -= 1

    def _on_busy(self, change: dict[str, Any]) -> None:
        self.cancel_button.disabled = not change["new"]

    def _after_operation(self) -> None:
        if not self._views and self.last_error is not None and not self._loaded:
            set_hint(self.market_hint, "Could not load available GPUs")
        if self._creating:
            self._creating = False
            error = self.last_error
            if error is not None and self.deployment is not None:
                # the create went through even though what came after it did not
                state = self.deployment.state
                self.status.error(
                    f"{describe_error(error)} Deployment {state.id} was created "
                    f"(status {state.status})."
                )
        self._validate()

    # -- markets --------------------------------------------------------------------------

    @property
    def markets(self) -> list[MarketView]:
        """Every loaded market, as the form lists them."""
        return list(self._views)

    @property
    def selected_market(self) -> MarketView | None:
        """The market chosen now, or None."""
        address = self.market.value
        return next((v for v in self._views if v.address == address), None)

    def select_market(self, address_or_slug: str) -> MarketView:
        """Pick a market by address or slug.

        Args:
            address_or_slug: the market's address or slug.

        Returns:
            The market picked.

        Raises:
            ValidationError: no loaded market matches.
        """
        market = find_market([v.market for v in self._views], address_or_slug)
        self._refresh_market_options(keep=market.address)
        self.market.value = market.address
        return next(v for v in self._views if v.address == market.address)

    def _refresh_market_options(self, keep: str | None = None) -> None:
        with self._lock:
            self._refresh_market_options_locked(keep)

    def _refresh_market_options_locked(self, keep: str | None) -> None:
        if not self._loaded:
            return
        selected = keep or self.market.value
        shown = self.filters.apply(self._views)
        if selected and selected not in {v.address for v in shown}:
            shown = [v for v in self._views if v.address == selected] + shown
        need = self._required_vram()
        options = [
            (v.option_label(too_small=bool(need and (v.vram_gb or 0) < need)), v.address)
            for v in shown
        ]
        self._updating += 1
        try:
            self.market.options = options
            self.market.value = selected if selected in {v for _l, v in options} else None
        finally:
            self._updating -= 1
        if not self._views:
            set_hint(self.market_hint, "No GPUs available")
        elif not options:
            set_hint(self.market_hint, "No GPUs match the filters")
        else:
            set_hint(self.market_hint, f"{len(options)} of {len(self._views)} markets shown")
        self._on_market()

    def _on_market(self, _change: Any = None) -> None:
        if self._updating:
            return
        view = self.selected_market
        self.market_details.value = view.details_html() if view else ""
        if view is not None:
            self._updating += 1
            try:
                self.market_ref.value = view.slug or view.address
            finally:
                self._updating -= 1
        self._validate()

    def _on_market_ref(self, change: dict[str, Any]) -> None:
        if self._updating or not self._loaded:
            return
        text = str(change["new"]).strip()
        if not text:
            return
        try:
            self.select_market(text)
        except ValidationError:
            self._validate()

    # -- field events ---------------------------------------------------------------------

    def _on_name(self, _change: Any) -> None:
        if not self._updating:
            self._name_touched = True
            self._validate()

    def _on_strategy(self, change: dict[str, Any]) -> None:
        if self._updating:
            return
        self._apply_strategy(Strategy(change["new"]), reset_timeout=not self._timeout_touched)
        self._validate()

    def _apply_strategy(self, strategy: Strategy, *, reset_timeout: bool) -> None:
        set_hint(self.strategy_help, html.escape(_STRATEGY_HELP[strategy]))
        set_visible(self.schedule_row, strategy is Strategy.SCHEDULED)
        set_visible(self.rotation_row, strategy is Strategy.INFINITE)
        if reset_timeout:
            # the dashboard resets the timeout with the strategy until the user changes it
            self._set_timeout(default_timeout_minutes(strategy))

    def _set_timeout(self, minutes: int) -> None:
        self._updating += 1
        try:
            self.timeout_hours.value, self.timeout_minutes.value = divmod(minutes, 60)
        finally:
            self._updating -= 1

    def _on_timeout(self, _change: Any) -> None:
        if not self._updating:
            self._timeout_touched = True
            self._validate()

    def _on_source(self, change: dict[str, Any]) -> None:
        previous, current = change["old"], change["new"]
        if current == SOURCE_JSON and not self._json_touched:
            # start the JSON from whatever the other source describes
            definition = self._definition_from(previous)[0]
            if definition is not None:
                self._updating += 1
                try:
                    self.job_json.value = json.dumps(definition, indent=2)
                finally:
                    self._updating -= 1
        self._show_source()
        self._validate()

    def _on_json(self, _change: Any) -> None:
        if not self._updating:
            self._json_touched = True
            self._validate()

    def _on_vault(self, change: dict[str, Any]) -> None:
        if self._updating:
            return
        address = change["new"]
        if address not in (SHARED_VAULT, NEW_VAULT, CREDITS, "") and address not in self._balances:
            self.run(
                "Reading the vault balance",
                lambda token: self._read_balance(address),
                success_text="Vault balance read.",
            )
        self._validate()

    def _on_start(self, change: dict[str, Any]) -> None:
        self.wait_running.disabled = not change["new"]
        if not change["new"]:
            self.wait_running.value = False
        self._validate()

    def _on_template(self, _change: Any) -> None:
        self._show_template()
        self._validate()

    def _show_template(self) -> None:
        fields = self._template_fields[self.template.value]
        self.template_params.children = [fields.box]
        set_hint(self.template_help, html.escape(fields.template.description))

    def _show_source(self) -> None:
        source = self.source.value
        set_visible(self.template_panel, source == SOURCE_TEMPLATE)
        set_visible(self.image_panel, source == SOURCE_IMAGE)
        set_visible(self.json_panel, source == SOURCE_JSON)

    # -- validation -----------------------------------------------------------------------

    @property
    def errors(self) -> dict[str, str]:
        """The message of every field that is wrong now (empty when the form can be sent)."""
        return dict(self._errors)

    @property
    def plan(self) -> CreatePlan | None:
        """The fully checked create, or None while a field is wrong or data is loading."""
        return self._plan

    @property
    def estimate(self) -> CostEstimate | None:
        """The live cost estimate (None while the market, replicas or timeout are wrong)."""
        return self._estimate

    @property
    def job_definition(self) -> dict[str, Any] | None:
        """The validated job definition the form describes now (None while it is wrong)."""
        return self._definition_from(self.source.value)[0]

    def _strategy_value(self) -> Strategy:
        return Strategy(self.strategy.value)

    def _timeout_total(self) -> tuple[int | None, str | None]:
        hours, minutes = self.timeout_hours.value, self.timeout_minutes.value
        if hours < 0:
            return None, "Hours must not be negative"
        if not 0 <= minutes <= 59:
            return None, "Minutes must be from 0 to 59"
        total = hours * 60 + minutes
        strategy = self._strategy_value()
        minimum = minimum_timeout(strategy, credits=self._credits)
        if total < minimum:
            if minimum == 60 and strategy is not Strategy.INFINITE:
                return None, "Timeout must be at least 1 hour when paying with credits"
            if minimum == 60:
                return None, "Timeout must be at least 1 hour"
            return None, "Timeout must be at least 1 minute"
        if total > MAX_TIMEOUT_MINUTES:
            return None, f"Timeout cannot exceed {MAX_TIMEOUT_MINUTES // 60} hours"
        return total, None

    def _definition_from(self, source: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """(definition or None, messages keyed by field) for one job-definition source."""
        if source == SOURCE_TEMPLATE:
            definition, problems = self._template_fields[self.template.value].check()
            return definition, {f"template.{key}": text for key, text in problems.items()}
        if source == SOURCE_IMAGE:
            image = self.image.value.strip()
            if not image:
                return None, {"image": "Image is required"}
            command = self.command.value.strip() or None
            try:
                return container_job(image, command, gpu=self.gpu.value), {}
            except ValidationError as error:
                return None, {"image": error.message}
        text = self.job_json.value
        if not text.strip():
            return None, {"job_json": "Job definition is required"}
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            return None, {"job_json": _json_error(text, error)}
        if not isinstance(parsed, dict):
            return None, {"job_json": "Job definition must be an object"}
        try:
            return validate_job_definition(parsed), {}
        except ValidationError as error:
            return None, {"job_json": error.message}

    def _required_vram(self) -> float:
        definition = self._definition_from(self.source.value)[0]
        return required_vram(definition) if definition else 0.0

    def _validate(self) -> dict[str, str]:
        """Check every field, show each message beside its field, update cost and funds."""
        # field events (kernel thread) and finished loads (worker threads) both land here
        with self._lock:
            errors = self._check_fields()
            if self.confirm.pending and self._plan != self._confirming:
                # what was confirmed is no longer what the form says: ask again
                self.confirm.dismiss()
                self._confirming = None
                self.status.info("The form changed after the review: review it again.")
            self.review_button.disabled = (
                self._plan is None or self._funds_short or self.busy or self.confirm.pending
            )
            return errors

    def _check_fields(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        strategy = self._strategy_value()

        try:
            name = check_name(self.name.value, allow_empty=False)
        except ValidationError as error:
            name = ""
            errors["name"] = (
                "Deployment name is required" if not self.name.value.strip() else error.message
            )

        schedule = None
        if strategy is Strategy.SCHEDULED:
            try:
                schedule = check_cron(self.schedule.value)
            except ValidationError as error:
                errors["schedule"] = error.message
        set_hint(self.schedule_preview, self._cron_preview(schedule) if schedule else "")

        replicas = self.replicas.value
        if replicas < 1:
            errors["replicas"] = "Number of replicas must be greater than 0"
        elif replicas > MAX_REPLICAS:
            errors["replicas"] = f"Number of replicas cannot exceed {MAX_REPLICAS}"

        timeout, timeout_message = self._timeout_total()
        if timeout_message:
            errors["timeout"] = timeout_message
        set_hint(
            self.timeout_help,
            ""
            if timeout is None
            else f"= {_hours_minutes(timeout)} per job, sent to the service as {timeout} minutes",
        )

        rotation = None
        if strategy is Strategy.INFINITE:
            rotation = self.rotation.value
            if rotation < 0:
                errors["rotation"] = "Rotation must not be negative"
            elif timeout is not None and rotation >= timeout - MIN_ROTATION_GAP_MINUTES:
                below = max(timeout - MIN_ROTATION_GAP_MINUTES, 0)
                errors["rotation"] = (
                    f"Rotation must be at least {MIN_ROTATION_GAP_MINUTES} minutes less than the "
                    f"timeout ({timeout} min), so below {below}"
                )

        definition, job_problems = self._definition_from(self.source.value)
        errors.update(job_problems)
        self._show_job_summary(definition)
        need = required_vram(definition) if definition else 0.0
        if need != self._last_vram:
            self._last_vram = need
            self._refresh_market_options()  # relabels the markets that are too small

        view = self.selected_market
        if self._loaded:
            ref = self.market_ref.value.strip()
            known = view is not None and ref in (view.slug, view.address)
            if ref and not known:
                try:
                    find_market([v.market for v in self._views], ref)
                except ValidationError as error:
                    errors["market"] = error.message
            if view is None and "market" not in errors:
                errors["market"] = "Please select a market"
            if view is not None and need and (view.vram_gb or 0) < need:
                errors["market"] = (
                    "This GPU does not meet the required VRAM specifications for your job "
                    f"({view.vram_gb} GB here, {need:g} GB asked)."
                )

        vault_value = self.vault.value
        if vault_value == NEW_VAULT and self.start.value:
            errors["vault"] = (
                "A new vault starts empty: untick “Start after creating”, or pay from an "
                "existing vault and top it up first."
            )
        self._estimate = None
        if view is not None and view.per_hour is not None and timeout and "replicas" not in errors:
            self._estimate = estimate_cost(
                view.market, replicas=replicas, timeout=timedelta(minutes=timeout)
            )
        self.cost.value = self._cost_html(view, strategy)
        self._funds_short = self._show_funds()

        self._errors = errors
        self.name_error.show(errors.get("name"))
        self.schedule_error.show(errors.get("schedule"))
        self.replicas_error.show(errors.get("replicas"))
        self.timeout_error.show(errors.get("timeout"))
        self.rotation_error.show(errors.get("rotation"))
        self.image_error.show(errors.get("image"))
        self.job_json_error.show(errors.get("job_json"))
        self.market_error.show(errors.get("market"))
        self.vault_error.show(errors.get("vault"))
        self.job_error.show(errors.get("template.job"))

        self._plan = None
        if not errors and self._loaded and view is not None and definition is not None:
            assert timeout is not None
            self._plan = CreatePlan(
                name=name,
                market=view.market,
                replicas=replicas,
                timeout_minutes=timeout,
                strategy=strategy,
                schedule=schedule,
                rotation_minutes=rotation,
                job_definition=definition,
                vault=None if vault_value in (SHARED_VAULT, NEW_VAULT, CREDITS) else vault_value,
                new_vault=vault_value == NEW_VAULT,
                start=self.start.value,
                wait=self.start.value and self.wait_running.value,
            )
        return errors

    def _cron_preview(self, schedule: str) -> str:
        now = self._clock.now()
        label = "service time"
        if now is None:
            now, label = datetime.now(UTC), "this computer's clock; the service time is unknown"
        runs = croniter(schedule, now).all_next(datetime)
        shown = [next(runs).strftime("%a %d %b %H:%M") for _ in range(_CRON_PREVIEW_RUNS)]
        return f"Next runs (UTC, {label}): " + html.escape(", ".join(shown))

    def _show_job_summary(self, definition: dict[str, Any] | None) -> None:
        if definition is None:
            set_hint(self.job_summary, "")
            return
        parts = [f"Container{'s' if len(_images(definition)) > 1 else ''}: "]
        parts.append(", ".join(f"<code>{html.escape(i)}</code>" for i in _images(definition)))
        ports = _ports(definition)
        if ports:
            parts.append(" · port " + html.escape(", ".join(ports)))
        need = required_vram(definition)
        if need:
            parts.append(f" · at least {need:g} GB VRAM")
        set_hint(self.job_summary, "".join(parts))

    # -- cost and funds -------------------------------------------------------------------

    def _cost_html(self, view: MarketView | None, strategy: Strategy) -> str:
        estimate = self._estimate
        if view is None:
            return ""
        if view.per_hour is None:
            return (
                '<div style="color:var(--jp-ui-font-color2,#616161)">'
                "This market publishes no price: no estimate.</div>"
            )
        if estimate is None:
            return ""
        hours = _hours_minutes(estimate.timeout_seconds // 60)
        rows = [
            [
                f"per hour × {estimate.replicas}",
                html.escape(format_nos(estimate.nos_per_hour)),
                html.escape(format_nos(estimate.nos_per_hour_with_fee)),
                html.escape(format_usd(estimate.usd_per_hour)),
                html.escape(format_usd(estimate.usd_per_hour_with_fee)),
            ],
            [
                f"for the timeout ({hours})",
                html.escape(format_nos(estimate.nos)),
                html.escape(format_nos(estimate.nos_with_fee)),
                html.escape(format_usd(estimate.usd, 2)),
                html.escape(format_usd(estimate.usd_with_fee, 2)),
            ],
        ]
        caption = (
            f"Cost estimate: {estimate.network_fee_percentage.normalize():f} % network fee; "
            f"about {html.escape(format_sol(estimate.sol))} for rent and fees. "
            f"{html.escape(_COST_NOTE[strategy])}"
        )
        return table_html(["", "NOS", "NOS + fee", "USD", "USD + fee"], rows, caption=caption)

    def _chosen_balance(self) -> tuple[str | None, VaultBalance | None, str | None]:
        """(vault address, its cached balance, why it is unknown) for the chosen vault."""
        value = self.vault.value
        if value == SHARED_VAULT:
            return None, VaultBalance.from_units(0, 0), None  # not created yet: empty
        if value in (NEW_VAULT, CREDITS, ""):
            return None, None, None
        return value, self._balances.get(value), self._balance_errors.get(value)

    def _show_funds(self) -> bool:
        """Show the funds check; True when it says the vault is too short to start."""
        set_visible(self.topup_shortcut, False)
        value = self.vault.value
        estimate = self._estimate
        note = ""
        short = False
        if self._credits:
            note, short = self._credits_note(estimate)
        elif value == NEW_VAULT:
            note = "A new, empty vault is made for this deployment; top it up before starting."
        elif value == "":
            note = "Loading vaults…"
        else:
            address, balance, problem = self._chosen_balance()
            where = address_html(address) if address else "The shared vault (not created yet)"
            if problem:
                note = (
                    f"Vault balance unavailable ({html.escape(problem)}); "
                    "the service checks again at start."
                )
            elif balance is None:
                note = "Reading the vault balance…"
            elif estimate is None:
                note = (
                    f"{where} holds {html.escape(format_nos(balance.nos))} and "
                    f"{html.escape(format_sol(balance.sol))}."
                )
            else:
                try:
                    check_vault_funds(estimate, balance, address or "(shared)")
                    needs = (
                        f"needs {html.escape(format_nos(estimate.nos_with_fee))} and about "
                        f"{html.escape(format_sol(estimate.sol))}"
                    )
                    note = (
                        f"✓ {where} holds {html.escape(format_nos(balance.nos))} and "
                        f"{html.escape(format_sol(balance.sol))}: enough to start ({needs})."
                    )
                except InsufficientFundsError as error:
                    parts = []
                    short_nos = balance.nos_base_units < estimate.nos_base_units_with_fee
                    if error.required_nos is not None and short_nos:
                        parts.append(
                            f"Need {html.escape(format_nos(error.required_nos, 6))}, have "
                            f"{html.escape(format_nos(error.available_nos, 6))}"
                        )
                    if balance.lamports < estimate.sol_lamports:
                        parts.append(
                            f"need about {html.escape(format_sol(estimate.sol))} for rent and "
                            f"fees, have {html.escape(format_sol(balance.sol))}"
                        )
                    note = "Insufficient vault balance. " + "; ".join(parts) + "."
                    short = self.start.value
                    set_visible(self.topup_shortcut, True)
                    if not self.start.value:
                        note += " You can still create a DRAFT; top up before starting."
        color = "var(--jp-error-color1,#d32f2f)" if short else "var(--jp-ui-font-color1,#212121)"
        self.funds.value = (
            f'<div style="color:{color};font-size:var(--jp-ui-font-size1,12px);'
            f'line-height:1.4;margin:2px 0 4px">{note}</div>'
            if note
            else ""
        )
        return short

    def _credits_note(self, estimate: CostEstimate | None) -> tuple[str, bool]:
        """The funds check of an API-key client: its credits (USD) against the estimate's USD
        for the timeout, fee included. True when too short to start."""
        available = self._credits_available
        if self._credits_error is not None:
            problem = html.escape(self._credits_error)
            return (
                f"Paid with credits (API key). Credit balance unavailable ({problem}); "
                "the service checks again at start.",
                False,
            )
        if available is None:
            return "Paid with credits (API key). Reading the credit balance…", False
        have = html.escape(format_usd(available, 2))
        if estimate is None:
            return f"Paid with credits (API key): {have} available.", False
        if estimate.usd_with_fee is None:
            return (
                f"Paid with credits (API key): {have} available. This market publishes no USD "
                "price, so the cost cannot be checked here; the service checks at start.",
                False,
            )
        needs = html.escape(format_usd(estimate.usd_with_fee, 2))
        if available >= estimate.usd_with_fee:
            return (
                f"✓ Paid with credits (API key): {have} available, enough to start "
                f"(about {needs} for the timeout, fee included).",
                False,
            )
        note = (
            f"Not enough credits: this needs about {needs} for the timeout (fee included) and "
            f"the API key has {have} available. Add credits to the key, or choose fewer "
            "replicas or a shorter timeout."
        )
        if not self.start.value:
            note += " You can still create a DRAFT."
        return note, bool(self.start.value)

    def _shortfall(self) -> tuple[Decimal | None, Decimal | None]:
        """(SOL, NOS) missing for the current estimate, rounded up; None when nothing is."""
        _address, balance, _problem = self._chosen_balance()
        estimate = self._estimate
        if balance is None or estimate is None:
            return None, None
        nos = Decimal(estimate.nos_base_units_with_fee - balance.nos_base_units)
        sol = Decimal(estimate.sol_lamports - balance.lamports)
        return (
            (sol / 10**9).quantize(Decimal("0.000001"), ROUND_CEILING) if sol > 0 else None,
            (nos / 10**6).quantize(Decimal("0.000001"), ROUND_CEILING) if nos > 0 else None,
        )

    def open_topup(self) -> VaultWidget:
        """Show the chosen vault's widget under the funds line, amounts set to what is missing.

        Returns:
            The vault widget shown.
        """
        address, _balance, _problem = self._chosen_balance()
        sol, nos = self._shortfall()
        if self._vault_widget is None or self._vault_widget.address != address:
            self._vault_widget = VaultWidget(self.client, address, topup_sol=sol, topup_nos=nos)
            self._vault_widget.on_balance(self.note_balance)
            close = widgets.Button(description="Hide vault", tooltip="Hide the vault panel")
            close.on_click(lambda _b: set_visible(self.topup_area, False))
            self.topup_area.children = [self._vault_widget, close]
        else:
            self._vault_widget.topup_sol.value = "" if sol is None else f"{sol.normalize():f}"
            self._vault_widget.topup_nos.value = "" if nos is None else f"{nos.normalize():f}"
        set_visible(self.topup_area, True)
        return self._vault_widget

    def note_balance(self, address: str, balance: VaultBalance) -> None:
        """Take a vault's new balance (e.g. ``vault_widget.on_balance(form.note_balance)``).

        Args:
            address: the vault's address.
            balance: its new balance.
        """
        self._balances[address] = balance
        self._balance_errors.pop(address, None)
        if address not in {v.vault for v in self._vaults}:
            # the shared vault was just created by the top-up panel
            self._vaults.append(VaultInfo(vault=address, owner=""))
            self._set_vault_options()
            if self.vault.value == SHARED_VAULT or self.vault.value not in self._balances:
                self._updating += 1
                try:
                    self.vault.value = address
                finally:
                    self._updating -= 1
        self._validate()

    # -- submitting -----------------------------------------------------------------------

    def review(self) -> None:
        """Check everything, re-read the vault, then ask for confirmation (nothing is sent)."""
        errors = self._validate()
        plan = self._plan
        if plan is None:
            field, message = next(iter(errors.items()), ("form", "the form is still loading"))
            self._refuse(ValidationError(message or "the form is not complete", argument=field))
            return
        arguments = plan.create_arguments()
        del arguments["job_definition"], arguments["check_funds"]
        try:
            prepare_create(**arguments)  # the core's own checks, exactly as create() runs them
        except ValidationError as error:
            self._refuse(error)
            return
        if self._funds_short:
            short = (
                "the API key's credits cannot pay for this start: add credits"
                if self._credits
                else "the vault cannot pay for this start: top it up"
            )
            self._refuse(ValidationError(short, argument="vault"))
            return

        def check(token: CancelToken) -> VaultBalance | None:
            if self._credits:
                self._read_credits()  # what the confirmation says is current
                return None
            address, _balance, _problem = self._chosen_balance()
            if address is None:
                return None
            self._read_balance(address)
            balance = self._balances.get(address)
            estimate = _plan_estimate(plan)
            if plan.start and balance is not None and estimate is not None:
                check_vault_funds(estimate, balance, address)
            return balance

        self.run(
            "Checking the credits" if self._credits else "Checking the vault",
            check,
            disable=[self.review_button],
            on_success=lambda balance: self._ask(plan, balance),
            success_text="Please confirm below.",
        )

    def _ask(self, plan: CreatePlan, balance: VaultBalance | None) -> None:
        view = next(v for v in self._views if v.address == plan.market.address)
        estimate = _plan_estimate(plan)
        job = ", ".join(html.escape(i) for i in _images(plan.job_definition))
        lines = [
            f"Create <b>{html.escape(plan.name)}</b> on <b>{html.escape(view.name)}</b>: "
            f"{plan.replicas} replica{'s' if plan.replicas != 1 else ''}, "
            f"{html.escape(plan.strategy.value)}, timeout {_hours_minutes(plan.timeout_minutes)}"
            + (f", schedule <code>{html.escape(plan.schedule)}</code>" if plan.schedule else "")
            + f"; running <code>{job}</code>."
        ]
        spend = ""
        if estimate is not None:
            spend = f"<b>{html.escape(format_nos(estimate.nos_with_fee))}</b> (fee included)"
            if estimate.usd_with_fee is not None:
                spend += f" ≈ {html.escape(format_usd(estimate.usd_with_fee, 2))}"
        payer = self._payer_text(balance)
        if plan.start:
            lines.append(
                f"Starting escrows {spend or 'the market price'} from {payer} for the first "
                f"{_hours_minutes(plan.timeout_minutes)}. {html.escape(_COST_NOTE[plan.strategy])}"
            )
        else:
            lines.append(
                "Nothing is spent until you start it; a start escrows "
                f"{spend or 'the market price'} from {payer}."
            )
        self._confirming = plan
        self.confirm.ask(
            "<br>".join(lines),
            lambda: self._create(plan),
            self._cancelled,
            confirm_text="Create and start" if plan.start else "Create",
        )
        self._validate()

    def _payer_text(self, balance: VaultBalance | None) -> str:
        value = self.vault.value
        if value == CREDITS:
            available = self._credits_available
            held = (
                f" ({html.escape(format_usd(available, 2))} available)"
                if available is not None
                else ""
            )
            return f"your credits{held}"
        if value == NEW_VAULT:
            return "a new vault"
        if value == SHARED_VAULT:
            return "your shared vault (created now)"
        held = ""
        if balance is not None:
            held = (
                f" (holds {html.escape(format_nos(balance.nos))}, "
                f"{html.escape(format_sol(balance.sol))})"
            )
        return f"vault {address_html(value)}{held}"

    def _create(self, plan: CreatePlan) -> None:
        self.deployment = None
        self._creating = True

        def work(token: CancelToken) -> Any:
            token.raise_if_cancelled()
            deployment = call(self.client.deployments.create(**plan.create_arguments()))
            self.deployment = deployment
            self._show_created(deployment)
            if plan.wait:
                self._wait_running(deployment, token)
                self._show_created(deployment)
            return deployment

        def done(deployment: Any) -> None:
            if not self._name_touched:
                self._updating += 1
                try:
                    self.name.value = random_deployment_name()
                finally:
                    self._updating -= 1
            if plan.start and self._credits:
                self._read_credits()  # the start reserved some
            if plan.start and self.vault.value not in (NEW_VAULT, CREDITS, SHARED_VAULT):
                self._read_balance(self.vault.value)
                if (
                    self._vault_widget is not None
                    and self._vault_widget.address == self.vault.value
                ):
                    self._vault_widget.refresh()  # the start escrowed from it

        self.run(
            "Creating the deployment",
            work,
            disable=[self.review_button],
            on_success=done,
            success_text=lambda d: (
                f"Created deployment {d.id} ({d.state.name}), status {d.state.status}."
            ),
        )

    def _wait_running(self, deployment: Any, token: CancelToken) -> None:
        deadline = time.monotonic() + self._wait_timeout
        while True:
            token.raise_if_cancelled()
            try:
                call(
                    deployment.wait_until(
                        "RUNNING", timeout=_WAIT_SLICE, poll_interval=0.2, max_poll_interval=0.5
                    )
                )
                return
            except WaitTimeoutError as error:
                if time.monotonic() >= deadline:
                    raise WaitTimeoutError(
                        f"deployment {deployment.id} is still {error.status} after "
                        f"{self._wait_timeout:g} s; it keeps starting in the background",
                        status=error.status,
                        wanted=error.wanted,
                    ) from error
                self.status.busy(f"Created {deployment.id}; waiting for RUNNING ({error.status})…")

    def _show_created(self, deployment: Any) -> None:
        state = deployment.state
        self.result.value = (
            '<div style="color:var(--jp-ui-font-color1,#212121);margin:4px 0">'
            f"Deployment <code>{html.escape(str(state.id))}</code> "
            f"<b>{html.escape(str(state.name))}</b> {badge_html(str(state.status))}</div>"
        )

    def _cancelled(self) -> None:
        self.last_error = None
        self.status.info("Cancelled: nothing was sent.")
        self._validate()

    def _refuse(self, error: NosanaError) -> None:
        self.last_error = error
        self.status.error(describe_error(error))


def _check_wait_timeout(wait_timeout: Any) -> None:
    if isinstance(wait_timeout, bool) or not isinstance(wait_timeout, int | float):
        raise ValidationError("wait_timeout must be seconds", argument="wait_timeout")
    if not 0 < wait_timeout < float("inf"):
        raise ValidationError("wait_timeout must be positive and finite", argument="wait_timeout")


def _plan_estimate(plan: CreatePlan) -> CostEstimate | None:
    """What ``plan`` escrows (None when its market publishes no price)."""
    if plan.market.nos_job_price_per_second is None:
        return None
    return estimate_cost(plan.market, replicas=plan.replicas, timeout=plan.timeout)


def _section(title: str) -> widgets.HTML:
    return widgets.HTML(
        f'<h3 style="margin:6px 0 4px;font-size:var(--jp-content-font-size2,1.1em);'
        f'color:var(--jp-ui-font-color0,#000)">{html.escape(title)}</h3>'
    )
