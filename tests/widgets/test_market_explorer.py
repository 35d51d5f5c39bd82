"""MarketExplorer against a running in-process sandbox: every market (premium and community) in
the table, the filters, the what-if calculator (the core's estimate, NOS and USD), the table and
list selection kept in step, and "use in form"."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.markets import estimate_cost
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.widgets import CreateDeploymentForm, MarketExplorer
from nosana_nb.widgets._markets import what_if
from tests.frames.sandbox_helpers import funded_wallet
from tests.widgets.forms_support import counting_client, secret_hits, unlabelled


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    handle = sandbox_module.start(db=":memory:", speed=None, seed=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def wallet(sandbox: SandboxHandle) -> Wallet:
    return funded_wallet(sandbox)


@pytest.fixture(scope="module")
def client(sandbox: SandboxHandle, wallet: Wallet) -> Iterator[NosanaClient]:
    nosana, _ = counting_client(sandbox, wallet)
    yield nosana
    nosana.close()


@pytest.fixture
def explorer(client: NosanaClient) -> Iterator[MarketExplorer]:
    view = MarketExplorer(client)
    view.wait(15)
    assert view.last_error is None, view.status.value
    yield view
    view.close()


def test_construction_returns_at_once_then_lists_every_market(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    sandbox.set_faults(latency_ms=1500, apply_to=["/api/markets"])
    try:
        started = time.monotonic()
        view = MarketExplorer(client)
        assert time.monotonic() - started < 1.0  # well before the slowed load ends
        assert view.busy
        assert "Loading GPUs" in view.loading.value
        assert not view.cancel_button.disabled
        view.wait(15)
    finally:
        sandbox.set_faults(latency_ms=0)
    table = view.table.df
    assert len(table) == 8
    assert set(table["Tier"]) == {"Premium", "Community"}
    assert list(table.columns[:8]) == [
        "GPU market",
        "Tier",
        "GPUs",
        "VRAM (GB)",
        "$/h + fee",
        "$/h",
        "NOS/h + fee",
        "NOS/h",
    ]
    row = table.set_index("Slug").loc["nvidia-3060"]
    assert row["VRAM (GB)"] == 12
    assert row["$/h"] == pytest.approx(0.0436)
    assert row["$/h + fee"] == pytest.approx(0.0436 * 1.1, abs=5e-5)  # 4 places shown
    assert row["NOS/h"] == pytest.approx(0.144)
    assert row["NOS/h + fee"] == pytest.approx(0.1584)
    assert row["Idle nodes"] == 8
    assert view.loading.value == ""
    assert view.cancel_button.disabled
    assert unlabelled(view) == []
    view.close()


def test_filters_narrow_the_table(explorer: MarketExplorer) -> None:
    explorer.filters.gpu.value = "4090"
    assert list(explorer.table.df["GPU market"]) == ["NVIDIA 4090 Community", "NVIDIA 4090"]
    explorer.filters.gpu.value = ""
    explorer.filters.min_vram.value = 48
    assert set(explorer.table.df["GPU market"]) == {
        "NVIDIA A6000",
        "NVIDIA H100",
        "NVIDIA H100 Community",
    }
    explorer.filters.min_vram.value = 0
    explorer.filters.max_price.value = 0.25
    assert explorer.table.df["$/h + fee"].max() <= 0.25
    assert len(explorer.table.df) == 4
    explorer.filters.max_price.value = 0.0
    explorer.filters.tier.value = "COMMUNITY"
    assert set(explorer.table.df["Tier"]) == {"Community"}
    explorer.filters.gpu.value = "no such gpu"
    assert explorer.table.df.empty
    assert explorer.comparison.value == ""


def test_the_calculator_gives_the_cores_estimate_in_nos_and_usd(explorer: MarketExplorer) -> None:
    explorer.select("nvidia-4090")
    explorer.replicas.value = 3
    explorer.hours.value = 10.5
    market = explorer.selected
    assert market is not None
    expected = estimate_cost(market.market, replicas=3, timeout=timedelta(minutes=630))
    assert explorer.estimate == expected
    text = explorer.result.value
    assert "3 × NVIDIA 4090 × 10.5 h" in text
    assert f"{expected.nos_with_fee.normalize():f} NOS" in text
    assert f"${expected.usd_with_fee:.2f}" in text
    assert "10 % fee" in text
    # the same run across the markets shown, cheapest first
    comparison = explorer.comparison.value
    assert comparison.index("NVIDIA 3060 Community") < comparison.index("NVIDIA H100 Community")
    assert "NVIDIA 4090 ◀" in comparison


def test_address_and_prices_before_the_fee_stay_hidden_through_every_update(
    explorer: MarketExplorer,
) -> None:
    def hidden_headers() -> set[str]:
        definitions = explorer.table.get_state()["_dt_args"].get("columnDefs", [])
        columns = list(explorer.table.df.columns)
        return {
            columns[target]
            for definition in definitions
            if definition.get("visible") is False
            for target in definition["targets"]
        }

    assert hidden_headers() == {"$/h", "NOS/h", "Address"}
    explorer.filters.gpu.value = "4090"  # the table is rebuilt with the filtered rows
    assert len(explorer.table.df) == 2
    assert hidden_headers() == {"$/h", "NOS/h", "Address"}
    assert "Address" in explorer.table.df.columns  # hidden, still searchable
    explorer.filters.gpu.value = ""


@pytest.mark.parametrize(
    ("replicas", "hours", "field", "message"),
    [
        (0, 1.0, "replicas", "Number of replicas must be greater than 0"),
        (101, 1.0, "replicas", "Number of replicas cannot exceed 100"),
        (1, 0.0, "hours", "hours must be more than 0"),
        (1, 0.01, "hours", "hours must come to whole minutes"),
        (1, 10_000.0, "hours", "hours must be at most 8784"),
    ],
)
def test_calculator_inputs_are_checked(
    explorer: MarketExplorer, replicas: int, hours: float, field: str, message: str
) -> None:
    explorer.replicas.value = replicas
    explorer.hours.value = hours
    assert message in getattr(explorer, f"{field}_error").message
    assert explorer.estimate is None
    assert explorer.result.value == ""


def test_what_if_converts_hours_exactly() -> None:
    from nosana_nb.core.models import Market

    market = Market(
        address="7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
        nos_job_price_per_second=Decimal("0.00004"),
        network_fee_percentage=Decimal("10"),
        usd_reward_per_hour=Decimal("0.0436"),
    )
    estimate = what_if(market, replicas=2, hours=1.25)
    assert estimate.timeout_seconds == 4500
    assert estimate.nos == Decimal("0.36")  # 40 base units/s × 2 × 4500 s
    with pytest.raises(ValidationError, match="whole minutes"):
        what_if(market, replicas=1, hours=1 / 3)


def test_table_and_list_selection_stay_in_step(explorer: MarketExplorer) -> None:
    position = list(explorer.table.df["Slug"]).index("nvidia-h100")
    explorer.table.selected_rows = [position]  # a row clicked in the browser
    assert explorer.selected is not None
    assert explorer.selected.name == "NVIDIA H100"
    assert "NVIDIA H100" in explorer.details.value
    a6000 = next(v.address for v in explorer.markets if v.slug == "nvidia-6000-a6000")
    explorer.market.value = a6000  # the keyboard path: the list box
    slugs = list(explorer.table.df["Slug"])
    assert explorer.table.selected_rows == [slugs.index("nvidia-6000-a6000")]
    with pytest.raises(ValidationError, match="unknown market"):
        explorer.select("nvidia-9999")


def test_use_in_form_copies_market_and_replicas(client: NosanaClient) -> None:
    form = CreateDeploymentForm(client)
    form.wait(15)
    explorer = MarketExplorer(client, form)
    explorer.wait(15)
    explorer.select("nvidia-h100-community")
    explorer.replicas.value = 4
    assert not explorer.use_in_form_button.disabled
    explorer.use_in_form_button.click()
    chosen = form.selected_market
    assert chosen is not None
    assert chosen.name == "NVIDIA H100 Community"
    assert form.replicas.value == 4
    assert form.market_ref.value == "nvidia-h100-community"
    assert "market" not in form.errors
    assert explorer.last_result is explorer.selected
    assert "The form now uses NVIDIA H100 Community" in explorer.status.value
    explorer.close()
    form.close()


def test_use_in_form_without_a_form_is_a_typed_error(explorer: MarketExplorer) -> None:
    assert explorer.use_in_form_button.disabled
    explorer.use_in_form()
    assert isinstance(explorer.last_error, ValidationError)
    assert "no create form" in explorer.status.value


def test_saved_state_holds_no_key(explorer: MarketExplorer, wallet: Wallet) -> None:
    assert secret_hits(explorer, wallet) == []
