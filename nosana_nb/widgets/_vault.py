"""A vault's SOL and NOS balance, top-up and withdraw with confirmation, history chart, runway.

The chart is a static figure in an ``Output`` (plotly's mimetype bundle, tens of KB when the
notebook is saved), never a ``FigureWidget`` (whose saved state carries ~5 MB of JavaScript).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from nosana_nb.core.errors import NosanaError, ValidationError
from nosana_nb.core.vaults import TopupPlan, VaultBalance, plan_topup
from nosana_nb.frames import vault_balance_dataframe
from nosana_nb.plots import Runway, plot_vault_balance, vault_runway
from nosana_nb.widgets._base import CancelToken, NosanaWidget, describe_error
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
    hint,
    neutral_template,
    set_hint,
    set_visible,
    show_figure,
    signature_html,
    stretch,
    stylesheet,
    wrap_row,
)

__all__ = ["VaultSnapshot", "VaultWidget"]

DEFAULT_HISTORY_LIMIT = 100
"""Newest transactions read for the chart: each is one RPC call on a real network."""

MIN_CHART_POINTS = 2
_MIN_TIME_AXIS = pd.Timedelta(hours=1)
BalanceListener = Callable[[str, VaultBalance], None]


@dataclass(frozen=True)
class VaultSnapshot:
    """What one refresh read: balances, the wallet's own balance, history and runway."""

    address: str
    balance: VaultBalance
    wallet_balance: VaultBalance | None
    history: pd.DataFrame
    runway: Runway | None
    signature: str | None = None
    as_of: datetime | None = None  # the service's time of the reading


def _amount_or_none(text: str) -> str | None:
    stripped = text.strip().replace(",", "")
    return stripped or None


class VaultWidget(NosanaWidget):
    """``VaultWidget(client, vault=None)``: balances, top-up, withdraw, history and runway.

    ``vault`` is an address, a vault handle, or None for your shared vault (created on first use,
    as the deployment manager does). Every transaction asks for confirmation first; its
    signature is shown (a Solscan link on mainnet and devnet). ``last_result`` is the
    :class:`VaultSnapshot` after a load, or the signature after a top-up or withdraw.

    Args:
        client: a ``NosanaClient``.
        vault: the vault's address, a vault handle, or None for your shared vault.
        history_limit: at most this many transactions in the history.
        topup_sol: the SOL top-up amount to start with.
        topup_nos: the NOS top-up amount to start with.
    """

    def __init__(
        self,
        client: Any,
        vault: Any = None,
        *,
        history_limit: int = DEFAULT_HISTORY_LIMIT,
        topup_sol: Decimal | str | None = None,
        topup_nos: Decimal | str | None = None,
    ) -> None:
        super().__init__(client)
        try:
            _check_history_limit(history_limit)
            address = _address_of(vault)
        except ValidationError:
            self.close()  # a refused argument leaves no half-built widget open
            raise
        self.add_class("nosana-vault")
        self.add_class("nosana-forms")
        self._history_limit = history_limit
        self._address: str | None = address
        self._handle: Any = None if vault is None or isinstance(vault, str) else vault
        self._snapshot: VaultSnapshot | None = None
        self._signature: str | None = None
        self._listeners: list[BalanceListener] = []
        self._reload_note = ""
        self._clock = ServiceClock()

        self.heading = widgets.HTML(_heading_html(self._address))
        self.balances = widgets.HTML(_loading_html())
        self.balances.add_class("nosana-balances")
        self.wallet_line = hint("", indent=False)
        self.topup_sol = widgets.Text(
            description="Top up SOL",
            placeholder="e.g. 0.05",
            value=_amount_text(topup_sol),
            style=field_style(),
            layout=widgets.Layout(width="100%", max_width="26em"),
        )
        self.topup_sol_error = FieldError()
        self.topup_nos = widgets.Text(
            description="Top up NOS",
            placeholder="e.g. 25",
            value=_amount_text(topup_nos),
            style=field_style(),
            layout=widgets.Layout(width="100%", max_width="26em"),
        )
        self.topup_nos_error = FieldError()
        self.topup_button = widgets.Button(
            description="Top up…",
            tooltip="Send SOL and/or NOS from your wallet to this vault (asks first)",
            button_style="primary",
            disabled=True,
        )
        self.withdraw_button = widgets.Button(
            description="Withdraw all…",
            tooltip="Send everything in the vault back to your wallet (asks first)",
            disabled=True,
        )
        self.refresh_button = widgets.Button(description="Refresh", tooltip="Reload balances")
        self.cancel_button = widgets.Button(
            description="Cancel", tooltip="Cancel the running operation", disabled=True
        )
        self.confirm = ConfirmPanel()
        self.transaction = widgets.HTML()
        self.runway_line = widgets.HTML()
        self.chart = widgets.Output()
        self.chart_note = hint("", indent=False)
        set_visible(self.chart, False)

        buttons = wrap_row(
            [self.topup_button, self.withdraw_button, self.refresh_button, self.cancel_button],
            margin="4px 0",
        )
        stretch(self.topup_sol, self.topup_nos, self.chart)
        self.children = [
            stylesheet(),
            self.heading,
            self.balances,
            self.wallet_line,
            field_row(self.topup_sol, self.topup_sol_error),
            field_row(self.topup_nos, self.topup_nos_error),
            buttons,
            self.confirm,
            self.status,
            self.transaction,
            self.runway_line,
            self.chart_note,
            self.chart,
        ]
        self.layout.width = "100%"
        self.layout.max_width = "900px"

        for control in (self.topup_sol, self.topup_nos):
            control.observe(lambda _change: self._check_amounts(), names="value")
        self.topup_button.on_click(lambda _b: self.request_topup())
        self.withdraw_button.on_click(lambda _b: self.request_withdraw())
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.observe(self._on_busy, names="busy")
        self._check_amounts()
        self.refresh()

    # -- state ----------------------------------------------------------------------------

    @property
    def address(self) -> str | None:
        """The vault's address (None until the shared vault is known)."""
        return self._address

    @property
    def balance(self) -> VaultBalance | None:
        """The vault's balance as last loaded (None until loaded)."""
        return self._snapshot.balance if self._snapshot else None

    @property
    def history(self) -> pd.DataFrame | None:
        """The ``vault_balance`` frame of the newest transactions (None until loaded)."""
        return self._snapshot.history if self._snapshot else None

    @property
    def runway(self) -> Runway | None:
        """How long the NOS lasts at the recent burn (None until loaded, or no history)."""
        return self._snapshot.runway if self._snapshot else None

    @property
    def signature(self) -> str | None:
        """The signature of the last top-up or withdraw made here."""
        return self._signature

    def on_balance(self, listener: BalanceListener) -> None:
        """Call ``listener(address, balance)`` after every load, top-up and withdraw.

        Args:
            listener: called with the vault's address and its new balance.
        """
        self._listeners.append(listener)

    # -- loading --------------------------------------------------------------------------

    def _vault(self) -> Any:
        """The vault handle, creating the shared vault on first use (worker thread only)."""
        if self._handle is None:
            if self._address is None:
                self._handle = call(self.client.vaults.create())
                self._address = str(self._handle.address)
            else:
                self._handle = self.client.vaults.get(self._address)
        return self._handle

    def _read(self, token: CancelToken, signature: str | None = None) -> VaultSnapshot:
        vault = self._vault()
        token.raise_if_cancelled()
        balance = call(vault.get_balance())
        wallet_balance = self._wallet_balance()
        token.raise_if_cancelled()
        history = self._history(vault.address)
        now = self._clock.sync(self.client)  # runway is measured on the service's clock
        runway = vault_runway(history, now=now) if not history.empty else None
        return VaultSnapshot(
            address=vault.address,
            balance=balance,
            wallet_balance=wallet_balance,
            history=history,
            runway=runway,
            signature=signature,
            as_of=now,
        )

    def _wallet_balance(self) -> VaultBalance | None:
        wallet = getattr(self.client, "wallet", None)
        mint = self.client.network.nos_mint
        if wallet is None or not mint:
            return None
        lamports = call(self.client.rpc.get_balance(wallet.address))
        nos = call(self.client.rpc.get_token_balance(wallet.address, mint))
        return VaultBalance.from_units(lamports, nos)

    def _history(self, address: str) -> pd.DataFrame:
        rpc = self.client.rpc
        signatures = call(rpc.get_signatures_for_address(address, limit=self._history_limit))
        transactions = [call(rpc.get_transaction(str(s["signature"]))) for s in signatures]
        return vault_balance_dataframe(
            transactions, vault=address, nos_mint=self.client.network.nos_mint
        )

    def refresh(self) -> None:
        """Reload balances, history and runway in the background."""
        self.run(
            "Loading the vault",
            self._read,
            disable=[self.refresh_button],
            on_success=self._show,
            success_text="Balances loaded.",
        )

    def _on_busy(self, change: dict[str, Any]) -> None:
        self.cancel_button.disabled = not change["new"]
        if not change["new"] and self._snapshot is None and self.last_error is not None:
            self.balances.value = _unavailable_html()

    def _after_operation(self) -> None:
        self._check_amounts()

    def _show(self, snapshot: VaultSnapshot) -> None:
        self._snapshot = snapshot
        self._address = snapshot.address
        self.heading.value = _heading_html(snapshot.address)
        self.balances.value = _balances_html(snapshot.balance)
        wallet = snapshot.wallet_balance
        set_hint(
            self.wallet_line,
            ""
            if wallet is None
            else f"Your wallet holds {html.escape(format_sol(wallet.sol))} and "
            f"{html.escape(format_nos(wallet.nos))}.",
        )
        self.runway_line.value = _runway_html(snapshot.runway, snapshot.history)
        if len(snapshot.history) < MIN_CHART_POINTS:
            # one point is not a history: say so rather than draw an empty-looking chart
            set_visible(self.chart, False)
            set_hint(
                self.chart_note,
                "No transactions yet: top up to start the history."
                if snapshot.history.empty
                else "One balance change so far; the chart appears with the next one.",
            )
        else:
            set_visible(self.chart, True)  # before drawing: plotly sizes to a shown container
            show_figure(self.chart, balance_figure(snapshot))
            set_hint(
                self.chart_note,
                f"History of the newest {len(snapshot.history)} balance changes "
                f"(up to {self._history_limit} transactions read).",
            )
        self._check_amounts()
        for listener in list(self._listeners):
            listener(snapshot.address, snapshot.balance)

    # -- top-up ---------------------------------------------------------------------------

    def _plan(self) -> tuple[TopupPlan | None, dict[str, str]]:
        """The top-up the two boxes describe, and the message for each box that is wrong."""
        sol = _amount_or_none(self.topup_sol.value)
        nos = _amount_or_none(self.topup_nos.value)
        errors: dict[str, str] = {}
        for argument, text in (("sol", sol), ("nos", nos)):
            if text is None:
                continue
            try:
                plan_topup(**{argument: text})
            except ValidationError as error:
                if "nothing to top up" not in error.message:
                    errors[argument] = _amount_message(argument, error.message)
        if errors or (sol is None and nos is None):
            return None, errors
        try:
            return plan_topup(sol=sol, nos=nos), {}
        except ValidationError as error:
            return None, {error.argument or "sol": error.message}

    def _check_amounts(self) -> None:
        plan, errors = self._plan()
        self.topup_sol_error.show(errors.get("sol"))
        self.topup_nos_error.show(errors.get("nos"))
        idle = not self.busy and not self.confirm.pending
        self.topup_button.disabled = not (idle and plan is not None)
        balance = self.balance
        self.withdraw_button.disabled = not (idle and balance is not None and not balance.is_empty)

    def request_topup(self) -> None:
        """Ask to confirm the top-up in the two boxes (a typed error when they are wrong)."""
        plan, errors = self._plan()
        if plan is None:
            message = next(iter(errors.values()), "Enter a SOL and/or NOS amount to top up.")
            self._refuse(ValidationError(message, argument=next(iter(errors), "sol")))
            return
        amounts = VaultBalance.from_units(plan.lamports, plan.nos_base_units)
        parts = []
        if plan.lamports:
            parts.append(f"<b>{html.escape(format_sol(amounts.sol, 9))}</b>")
        if plan.nos_base_units:
            parts.append(f"<b>{html.escape(format_nos(amounts.nos, 6))}</b>")
        wallet = getattr(self.client, "wallet", None)
        source = address_html(wallet.address) if wallet is not None else "your wallet"
        target = address_html(self._address) if self._address else "your shared vault"
        self.confirm.ask(
            f"Send {' and '.join(parts)} from your wallet {source} to vault {target}? "
            "This is a signed transaction; it cannot be undone (withdraw sends everything back).",
            lambda: self._topup(plan),
            self._cancelled,
            confirm_text="Confirm top-up",
        )
        self._check_amounts()

    def _topup(self, plan: TopupPlan) -> None:
        def work(token: CancelToken) -> str:
            vault = self._vault()
            token.raise_if_cancelled()  # the last moment a cancel keeps the money where it is
            return str(call(vault.topup(plan.lamports or None, nos=_nos_text(plan))))

        def done(signature: str) -> None:
            self._clear_amounts()
            self._after_transaction(signature)

        self.run(
            "Topping up",
            work,
            disable=[self.refresh_button],
            on_success=done,
            success_text=lambda _sig: f"Top-up confirmed.{self._reload_note}",
        )

    def _clear_amounts(self) -> None:
        self.topup_sol.value = ""
        self.topup_nos.value = ""

    # -- withdraw -------------------------------------------------------------------------

    def request_withdraw(self) -> None:
        """Ask to confirm withdrawing everything (a typed error when the vault is empty)."""
        balance = self.balance
        if balance is None:
            self._refuse(ValidationError("the vault balance is not loaded yet", argument="vault"))
            return
        if balance.is_empty:
            self._refuse(
                ValidationError("the vault is empty: nothing to withdraw", argument="vault")
            )
            return
        target = address_html(self._address or "")
        self.confirm.ask(
            f"Withdraw <b>everything</b> from vault {target}: "
            f"<b>{html.escape(format_sol(balance.sol, 9))}</b> and "
            f"<b>{html.escape(format_nos(balance.nos, 6))}</b> back to your wallet? "
            "The service always withdraws the whole balance; running deployments paid from "
            "this vault will stop being funded.",
            self._withdraw,
            self._cancelled,
            confirm_text="Confirm withdraw",
            confirm_style="danger",
        )
        self._check_amounts()

    def _withdraw(self) -> None:
        def work(token: CancelToken) -> str:
            vault = self._vault()
            token.raise_if_cancelled()
            return str(call(vault.withdraw()))

        self.run(
            "Withdrawing",
            work,
            disable=[self.refresh_button],
            on_success=self._after_transaction,
            success_text=lambda _sig: f"Withdraw confirmed.{self._reload_note}",
        )

    # -- shared ---------------------------------------------------------------------------

    def _after_transaction(self, signature: str) -> None:
        """Record the signature, then show the new balances (worker thread).

        The money has moved by now: a failed reload is reported beside the success, never
        instead of it.
        """
        self._signature = signature
        self.transaction.value = (
            '<div style="color:var(--jp-ui-font-color1,#212121);'
            'font-size:var(--jp-ui-font-size1,12px)">Transaction: '
            f"{signature_html(signature, self.client.network.name)}</div>"
        )
        self._reload_note = ""
        try:
            self._show(self._read(CancelToken(), signature))
        except NosanaError as error:
            self._reload_note = f" (balances not reloaded: {describe_error(error)})"

    def _cancelled(self) -> None:
        self.last_error = None
        self.status.info("Cancelled: nothing was sent.")
        self._check_amounts()

    def _refuse(self, error: ValidationError) -> None:
        self.last_error = error
        self.status.error(f"ValidationError: {error.message}")


def balance_figure(snapshot: VaultSnapshot) -> go.Figure:
    """``plot_vault_balance`` fitted to the widget: theme-neutral, balances from zero with room
    for the labels, and at least an hour of time axis (transactions seconds apart, as on a
    frozen sandbox clock, would otherwise squeeze into one vertical line)."""
    history = snapshot.history
    figure = plot_vault_balance(history, now=snapshot.as_of, template=neutral_template(), title="")
    figure.update_traces(mode="lines+markers", marker={"size": 5}, selector={"name": "NOS"})
    figure.update_traces(mode="lines+markers", marker={"size": 5}, selector={"name": "SOL"})
    for row, column in ((1, "nos"), (2, "sol")):
        top = float(history[column].astype("float64").max())
        figure.update_yaxes(range=[0, top * 1.3 if top > 0 else 1], row=row, col=1)
    times = list(history["time"].dropna())
    runway = snapshot.runway
    if runway is not None and runway.empty_at is not None:
        times.append(runway.empty_at)
    if times:
        first, last = min(times), max(times)
        if last - first < _MIN_TIME_AXIS:
            pad = (_MIN_TIME_AXIS - (last - first)) / 2
            figure.update_xaxes(range=[(first - pad).isoformat(), (last + pad).isoformat()])
    figure.update_layout(height=360, autosize=True, margin={"t": 36})
    return figure


def _check_history_limit(history_limit: Any) -> None:
    if isinstance(history_limit, bool) or not isinstance(history_limit, int):
        raise ValidationError("history_limit must be a whole number", argument="history_limit")
    if history_limit < 1:
        raise ValidationError("history_limit must be at least 1", argument="history_limit")


def _address_of(vault: Any) -> str | None:
    if vault is None:
        return None
    if isinstance(vault, str):
        from nosana_nb.core.validation import check_pubkey

        return check_pubkey(vault, argument="vault")
    address = getattr(vault, "address", None)
    if not isinstance(address, str):
        raise ValidationError(
            "vault must be an address, a vault handle or None (your shared vault)",
            argument="vault",
        )
    return address


def _amount_text(value: Decimal | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def _nos_text(plan: TopupPlan) -> str | None:
    if not plan.nos_base_units:
        return None
    return f"{VaultBalance.from_units(0, plan.nos_base_units).nos:f}"


def _amount_message(argument: str, message: str) -> str:
    unit = argument.upper()
    if "not a number" in message:
        return f"{unit} amount must be a number, e.g. 0.05"
    if "negative" in message:
        return f"{unit} amount must not be negative"
    if "decimal places" in message:
        places = 9 if argument == "sol" else 6
        return f"{unit} has at most {places} decimal places"
    return message


def _heading_html(address: str | None) -> str:
    where = address_html(address) if address else "your shared vault"
    return (
        '<h3 style="margin:4px 0;color:var(--jp-ui-font-color0,#000)">Vault '
        f'<span style="font-weight:400;font-size:0.8em">{where}</span></h3>'
    )


def _loading_html() -> str:
    return '<div style="color:var(--jp-ui-font-color2,#616161)">Loading balances…</div>'


def _unavailable_html() -> str:
    return '<div style="color:var(--jp-error-color1,#d32f2f)">Balances unavailable.</div>'


def _balances_html(balance: VaultBalance) -> str:
    big = (
        "font-size:1.6em;font-weight:600;color:var(--jp-ui-font-color0,#000);"
        "line-height:1.2;white-space:nowrap"
    )
    small = "color:var(--jp-ui-font-color2,#616161);font-size:var(--jp-ui-font-size1,12px)"
    return (
        '<div style="display:flex;flex-wrap:wrap;gap:8px 32px;margin:4px 0 6px">'
        f'<div><div style="{big}">{html.escape(format_nos(balance.nos))}</div>'
        f'<div style="{small}">for job costs</div></div>'
        f'<div><div style="{big}">{html.escape(format_sol(balance.sol))}</div>'
        f'<div style="{small}">for network fees and rent</div></div></div>'
    )


def _runway_html(runway: Runway | None, history: pd.DataFrame) -> str:
    style = "color:var(--jp-ui-font-color1,#212121);font-size:var(--jp-ui-font-size1,12px)"
    if runway is None:
        text = "Runway: no history yet."
    elif not runway.nos_balance > 0:  # a countdown from zero ("0.0 days") says nothing
        text = "Runway: <b>none</b>, the vault holds no NOS. Top it up before jobs can run."
    elif runway.runway is None:
        text = "Runway: no NOS spent on jobs in the last 7 days."
    else:
        text = (
            f"Runway ≈ <b>{_duration_text(runway.runway)}</b> at "
            f"{runway.burn_nos_per_day:,.3f} NOS/day (the last 7 days' job spending)."
        )
    return f'<div style="{style}">{text}</div>'


def _duration_text(span: timedelta) -> str:
    """``span`` in the largest unit that keeps it above 1: days, hours or minutes."""
    seconds = span.total_seconds()
    if seconds >= 86400:
        return f"{seconds / 86400:,.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds >= 60:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    return "under a minute"
