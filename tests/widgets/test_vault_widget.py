"""VaultWidget against a running in-process sandbox: balances, top-up and withdraw with their
confirmation (cancel and confirm), amounts refused before anything is signed, the signature,
the static history chart and the runway on the service's clock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import ipywidgets as widgets
import pandas as pd
import pytest
from ipywidgets.embed import dependency_state

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.errors import InsufficientFundsError, ValidationError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.plots import Runway
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.widgets import VaultWidget
from nosana_nb.widgets._ui import call, signature_html
from nosana_nb.widgets._vault import _runway_html
from tests.frames.sandbox_helpers import funded_wallet
from tests.widgets.forms_support import (
    CountingTransport,
    counting_client,
    secret_hits,
    traits_holding,
    unlabelled,
    walk,
)

PLOTLY_MIME = "application/vnd.plotly.v1+json"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    handle = sandbox_module.start(db=":memory:", speed=None, seed=0)
    yield handle
    handle.stop()


@pytest.fixture
def owner(sandbox: SandboxHandle) -> Wallet:
    return funded_wallet(sandbox)  # 5 SOL, 1000 NOS, no vault yet


@pytest.fixture
def counted(
    sandbox: SandboxHandle, owner: Wallet
) -> Iterator[tuple[NosanaClient, CountingTransport]]:
    client, transport = counting_client(sandbox, owner)
    yield client, transport
    client.close()


@pytest.fixture
def vault_widget(counted: tuple[NosanaClient, CountingTransport]) -> Iterator[VaultWidget]:
    view = VaultWidget(counted[0])
    view.wait(15)
    assert view.last_error is None, view.status.value
    yield view
    view.close()


def top_up(view: VaultWidget, sol: str, nos: str) -> None:
    view.topup_sol.value, view.topup_nos.value = sol, nos
    view.topup_button.click()
    assert view.confirm.pending
    view.confirm.confirm_button.click()
    view.wait(15)
    assert view.last_error is None, view.status.value


def test_construction_returns_at_once_then_shows_the_shared_vault(
    sandbox: SandboxHandle, counted: tuple[NosanaClient, CountingTransport]
) -> None:
    client, _ = counted
    sandbox.set_faults(latency_ms=1500)  # the deployment-manager routes, vaults/create included
    try:
        started = time.monotonic()
        view = VaultWidget(client)
        assert time.monotonic() - started < 1.0  # well before the slowed load ends
        assert view.busy
        assert "Loading balances" in view.balances.value
        assert view.withdraw_button.disabled
        view.wait(15)
    finally:
        sandbox.set_faults(latency_ms=0)
    assert view.address == client.vaults.create().address  # the shared vault, made on demand
    assert view.balance is not None
    assert view.balance.is_empty
    assert "0 NOS" in view.balances.value
    assert "0 SOL" in view.balances.value
    assert "Your wallet holds 5 SOL and 1,000 NOS" in view.wallet_line.value
    assert "No transactions yet" in view.chart_note.value
    assert view.chart.layout.display == "none"
    assert view.withdraw_button.disabled  # nothing to withdraw, as on the dashboard
    assert unlabelled(view) == []
    view.close()


def test_top_up_asks_first_and_a_cancel_sends_nothing(
    vault_widget: VaultWidget, counted: tuple[NosanaClient, CountingTransport]
) -> None:
    _, transport = counted
    vault_widget.topup_sol.value = "0.05"
    vault_widget.topup_nos.value = "25"
    assert not vault_widget.topup_button.disabled
    vault_widget.topup_button.click()
    assert vault_widget.confirm.pending
    question = vault_widget.confirm.message.value
    assert "<b>0.05 SOL</b> and <b>25 NOS</b>" in question
    assert vault_widget.topup_button.disabled  # one question at a time
    sent = transport.rpc_count("sendTransaction")
    vault_widget.confirm.cancel_button.click()
    assert "Cancelled: nothing was sent" in vault_widget.status.value
    assert vault_widget.last_error is None
    assert transport.rpc_count("sendTransaction") == sent
    assert vault_widget.balance is not None
    assert vault_widget.balance.is_empty


def test_top_up_then_withdraw_move_the_balances(
    sandbox: SandboxHandle, vault_widget: VaultWidget, owner: Wallet
) -> None:
    top_up(vault_widget, "0.05", "25")
    balance = vault_widget.balance
    assert balance is not None
    assert (balance.sol, balance.nos) == (Decimal("0.05"), Decimal("25"))
    assert vault_widget.last_result == vault_widget.signature
    assert vault_widget.signature is not None
    assert "Top-up confirmed." in vault_widget.status.value
    # a local network has no explorer: the signature is shown, not linked
    assert vault_widget.signature in vault_widget.transaction.value
    assert "<a " not in vault_widget.transaction.value
    assert (vault_widget.topup_sol.value, vault_widget.topup_nos.value) == ("", "")
    assert "25 NOS" in vault_widget.balances.value
    assert "One balance change so far" in vault_widget.chart_note.value
    assert vault_widget.chart.layout.display == "none"
    assert not vault_widget.withdraw_button.disabled
    chain = sandbox.balances(vault_widget.address)
    assert Decimal(str(chain["nos"])) == Decimal("25")

    vault_widget.withdraw_button.click()
    assert vault_widget.confirm.pending
    assert "Withdraw <b>everything</b>" in vault_widget.confirm.message.value
    assert vault_widget.confirm.confirm_button.button_style == "danger"
    vault_widget.confirm.confirm_button.click()
    vault_widget.wait(15)
    assert vault_widget.last_error is None, vault_widget.status.value
    assert vault_widget.balance is not None
    assert vault_widget.balance.is_empty
    assert "Withdraw confirmed" in vault_widget.status.value
    assert vault_widget.withdraw_button.disabled
    assert "Your wallet holds" in vault_widget.wallet_line.value
    history = vault_widget.history
    assert history is not None
    assert list(history["kind"].astype(str)) == ["topup", "withdrawal"]


def test_the_history_is_a_small_static_chart(vault_widget: VaultWidget) -> None:
    top_up(vault_widget, "0.02", "10")
    top_up(vault_widget, "", "5")
    assert vault_widget.chart.layout.display is None
    (output,) = vault_widget.chart.outputs
    figure = output["data"][PLOTLY_MIME]
    assert [trace["name"] for trace in figure["data"]][:2] == ["NOS balance", "SOL balance"]
    theme = figure["layout"]["template"]["layout"]
    assert theme["paper_bgcolor"] == "rgba(0,0,0,0)"  # readable on both themes
    nos_line = figure["data"][0]["y"]
    assert nos_line[-1] == 15.0
    # nothing heavy in the saved state: no FigureWidget, the figure is mimetype output
    assert not any(type(w).__name__ == "FigureWidget" for w in walk(vault_widget))
    saved = json.dumps(dependency_state(vault_widget, drop_defaults=True))
    assert len(saved) < 100_000
    assert "History of the newest 2 balance changes" in vault_widget.chart_note.value


def test_runway_follows_job_spending_on_the_service_clock(
    sandbox: SandboxHandle, counted: tuple[NosanaClient, CountingTransport]
) -> None:
    client, _ = counted
    vault = client.vaults.create()
    vault.topup(sol="0.1", nos="50")
    deployment = client.deployments.create(
        name="runway",
        market=client.markets.get("nvidia-3060").address,
        replicas=1,
        timeout=timedelta(hours=1),
        strategy="SIMPLE",
        job_definition=container_job("docker.io/library/ubuntu:24.04", "sleep 10"),
        vault=vault.address,
        autostart=True,
    )
    sandbox.advance(24 * 3600)  # a day of simulated time: the wall clock would not see it
    view = VaultWidget(client, vault.address)
    view.wait(15)
    runway = view.runway
    assert runway is not None
    assert runway.burn_nos_per_day > 0
    assert runway.runway is not None
    assert "Runway ≈" in view.runway_line.value
    assert "NOS/day" in view.runway_line.value
    service_now = sandbox.clock.now()
    assert abs(runway.as_of.timestamp() - service_now) < 60
    assert "none" not in view.runway_line.value

    view.withdraw_button.click()  # the burn of the last days stays, the NOS is gone
    view.confirm.confirm_button.click()
    view.wait(15)
    assert view.last_error is None, view.status.value
    emptied = view.runway
    assert emptied is not None
    assert emptied.nos_balance == 0
    assert emptied.burn_nos_per_day > 0
    line = view.runway_line.value
    assert "Runway: <b>none</b>, the vault holds no NOS" in line
    assert "days" not in line
    assert "0.0" not in line
    view.close()
    assert deployment.id


@pytest.mark.parametrize(
    ("left", "shown"),
    [
        (timedelta(days=12, hours=12), "12.5 days"),
        (timedelta(days=1), "1.0 days"),
        (timedelta(hours=5, minutes=30), "5.5 hours"),
        (timedelta(minutes=1, seconds=59), "1 minute"),
        (timedelta(minutes=42), "42 minutes"),
        (timedelta(seconds=20), "under a minute"),
    ],
)
def test_a_short_runway_is_told_in_hours_or_minutes_not_zero_days(
    left: timedelta, shown: str
) -> None:
    as_of = pd.Timestamp("2026-01-01T00:00:00Z")
    runway = Runway(2.0, 1.0, left, as_of + left, as_of)
    line = _runway_html(runway, pd.DataFrame())
    assert f"Runway ≈ <b>{shown}</b> at 1.000 NOS/day" in line


@pytest.mark.parametrize(
    ("sol", "nos", "field", "message"),
    [
        ("abc", "", "sol", "SOL amount must be a number"),
        ("", "-1", "nos", "NOS amount must not be negative"),
        ("0.0000000001", "", "sol", "SOL has at most 9 decimal places"),
        ("", "0.0000001", "nos", "NOS has at most 6 decimal places"),
    ],
)
def test_bad_amounts_are_refused_before_anything_is_signed(
    vault_widget: VaultWidget,
    counted: tuple[NosanaClient, CountingTransport],
    sol: str,
    nos: str,
    field: str,
    message: str,
) -> None:
    _, transport = counted
    requests = len(transport.sent)
    vault_widget.topup_sol.value, vault_widget.topup_nos.value = sol, nos
    shown = getattr(vault_widget, f"topup_{field}_error")
    assert message in shown.message
    assert vault_widget.topup_button.disabled
    vault_widget.topup_button.click()
    assert isinstance(vault_widget.last_error, ValidationError)
    assert vault_widget.last_error.argument == field
    assert not vault_widget.confirm.pending
    assert len(transport.sent) == requests


def test_no_amount_and_an_empty_vault_refuse_with_typed_errors(
    vault_widget: VaultWidget, counted: tuple[NosanaClient, CountingTransport]
) -> None:
    _, transport = counted
    requests = len(transport.sent)
    assert vault_widget.topup_button.disabled
    vault_widget.topup_button.click()
    assert isinstance(vault_widget.last_error, ValidationError)
    assert "Enter a SOL and/or NOS amount" in vault_widget.status.value
    vault_widget.withdraw_button.click()
    assert isinstance(vault_widget.last_error, ValidationError)
    assert "nothing to withdraw" in vault_widget.status.value
    assert not vault_widget.confirm.pending
    assert len(transport.sent) == requests


def test_a_top_up_the_wallet_cannot_pay_is_refused_before_sending(
    vault_widget: VaultWidget, counted: tuple[NosanaClient, CountingTransport]
) -> None:
    _, transport = counted
    sent = transport.rpc_count("sendTransaction")
    vault_widget.topup_nos.value = "5000"  # the wallet holds 1000
    vault_widget.topup_button.click()
    vault_widget.confirm.confirm_button.click()
    vault_widget.wait(15)
    assert isinstance(vault_widget.last_error, InsufficientFundsError)
    assert "InsufficientFundsError" in vault_widget.status.value
    assert transport.rpc_count("sendTransaction") == sent
    assert vault_widget.signature is None


def test_signatures_link_to_an_explorer_on_real_networks() -> None:
    signature = "5" * 88
    assert f'href="https://solscan.io/tx/{signature}"' in signature_html(signature, "mainnet")
    assert f"tx/{signature}?cluster=devnet" in signature_html(signature, "devnet")
    local = signature_html(signature, "local")
    assert "<a " not in local
    assert signature in local
    assert "&lt;script&gt;" in signature_html("<script>", "mainnet")


def test_an_async_client_and_an_explicit_vault(sandbox: SandboxHandle, owner: Wallet) -> None:
    client = AsyncNosanaClient(
        local_network(sandbox.api_url, nos_mint=sandbox.nos_mint), owner, env={}
    )
    address = call(client.vaults.create()).address
    view = VaultWidget(client, address)
    view.wait(15)
    assert view.last_error is None, view.status.value
    top_up(view, "0.01", "2")
    assert view.balance is not None
    assert view.balance.nos == Decimal("2")
    view.close()
    call(client.aclose())


def test_bad_constructor_arguments_are_typed_errors(counted: tuple[NosanaClient, object]) -> None:
    client = counted[0]
    with pytest.raises(ValidationError, match="vault must be a base58 Solana address"):
        VaultWidget(client, "not-an-address")
    with pytest.raises(ValidationError, match="history_limit"):
        VaultWidget(client, history_limit=0)


def test_saved_state_holds_no_key_and_no_trait_holds_the_wallet(
    vault_widget: VaultWidget, owner: Wallet
) -> None:
    top_up(vault_widget, "0.01", "1")
    assert secret_hits(vault_widget, owner) == []
    assert traits_holding(vault_widget, (Wallet, NosanaClient, AsyncNosanaClient)) == []
    assert isinstance(vault_widget.chart, widgets.Output)
