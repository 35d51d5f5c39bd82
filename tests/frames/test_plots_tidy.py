"""The tidy frames and helpers behind the charts: refund labelling, runway, row sizing, ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.jobdef import container_job
from nosana_nb.frames import (
    cost_dataframe,
    deployments_dataframe,
    short_id,
    short_id_labels,
    status_history_dataframe,
    styled,
    vault_balance_dataframe,
)
from nosana_nb.plots import (
    event_markers_frame,
    format_duration,
    history_range,
    job_phases_frame,
    job_timeline_frame,
    plot_area_height,
    plot_cost,
    plot_fleet_overview,
    plot_job_timeline,
    plot_status_history,
    plot_vault_balance,
    status_segments_frame,
    vault_runway,
)
from nosana_nb.sandbox import SandboxHandle
from tests.frames.test_frames_vault import ESCROW, MINT, NOS, OWNER, SOL, VAULT, token, tx
from tests.frames.test_plots_figures import JOBS, MARKET, START, job, vault_history

ADDRESS = "CT3aaus7V5BSZdWCVte98eTQGTJKYyR19VDEEHE63EKB"
SIGNATURE = "5" + "K" * 86 + "z"
DEVNET_MINT = "devr1BGQndEW5k5zfvG5FsLyZv1Ap73vNgAHcQ9sUVP"
DEVNET_JOBS_PROGRAM = "nosJTmGQxvwXy23vng5UjkTbfv91Bzf9jEuro78dAGR"


# --- ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (ADDRESS, "CT3a…3EKB"),
        (SIGNATURE, "5KKK…KKKz"),
        ("nvidia-3060", "nvidia-3060"),  # a slug is a name, not an id
        ("other (3 deployments)", "other (3 deployments)"),
        ("ab12" * 11, "ab12…ab12"),  # any unbroken run of letters and digits that long
        ("docker.io/nosana/pytorch-jupyter:latest", "docker.io/nosana/pytorch-jupyter:latest"),
        ("a job that ran for a long long time", "a job that ran for a long long time"),
        ("abc", "abc"),
        (None, "—"),
        (pd.NA, "—"),
        (float("nan"), "—"),
    ],
)
def test_short_id_shortens_addresses_and_signatures_only(value: Any, shown: str) -> None:
    assert short_id(value) == shown


def test_short_id_labels_stay_distinct_when_two_ids_share_their_ends() -> None:
    first = "Abcd" + "1" * 36 + "wxyz"
    second = "Abcd" + "2" * 36 + "wxyz"
    labels = short_id_labels([first, second, first, None])
    assert labels[first] != labels[second]
    assert labels[first].startswith("Abcd11")
    assert set(labels) == {first, second}
    assert short_id_labels([ADDRESS]) == {ADDRESS: "CT3a…3EKB"}


def test_every_chart_labels_an_id_the_same_way() -> None:
    deployment = JOBS[0]["deployment"]
    label = short_id(deployment)
    timeline = job_timeline_frame(JOBS, now=datetime(2025, 1, 1, 3, tzinfo=UTC))
    assert {row.split(" · ")[0] for row in timeline["row"]} == {
        label,
        short_id(JOBS[-1]["deployment"]),
    }
    history = status_history_dataframe(
        [{"deployment": deployment, "status": "RUNNING", "time": "2025-01-01T00:00:00Z"}]
    )
    assert status_segments_frame(history)["row"].tolist() == [label]
    cost = plot_cost(cost_dataframe(JOBS, [MARKET], now=datetime(2025, 1, 1, 3, tzinfo=UTC)))
    assert label in [trace.name for trace in cost.data]
    fleet = plot_fleet_overview(deployments_dataframe([{"id": deployment, "status": "RUNNING"}]))
    assert label in fleet.data[1].x


def test_styled_shows_short_ids_with_the_full_id_on_hover_and_leaves_the_data_alone() -> None:
    frame = pd.DataFrame(
        {
            "job": pd.Series([ADDRESS, None], dtype="string"),
            "message": pd.Series(["<b>listed</b>", "ok"], dtype="string"),
            "nos": pd.Series([24.61824, 0.000005], dtype="Float64"),
        }
    )
    before = frame.copy()
    page = styled(frame).to_html()
    pd.testing.assert_frame_equal(frame, before)
    assert f'<abbr title="{ADDRESS}">CT3a…3EKB</abbr>' in page
    assert "&lt;b&gt;listed&lt;/b&gt;" in page  # other text is escaped, never rendered
    assert "24.61824" in page
    assert "0.000005" in page
    assert "&lt;NA&gt;" in page
    assert ADDRESS not in page.replace(f'title="{ADDRESS}"', "")


def test_styled_renders_at_most_max_rows_and_says_so() -> None:
    frame = pd.DataFrame({"deployment": [ADDRESS] * 5})
    page = styled(frame, max_rows=2).to_html()
    assert page.count("<abbr") == 2
    assert "first 2 of 5 rows" in page
    with pytest.raises(ValidationError, match="columns"):
        styled(frame, columns=["nope"])
    with pytest.raises(ValidationError, match="max_rows"):
        styled(frame, max_rows=0)


# --- row sizing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "height"),
    [(0, 240), (1, 240), (7, 240), (8, 256), (20, 640), (21, 668), (100, 2880), (10_000, 16_000)],
)
def test_plot_area_height_gives_every_row_room(rows: int, height: int) -> None:
    assert plot_area_height(rows) == height


def test_plot_area_height_never_drops_below_28_px_a_row_until_the_browser_limit() -> None:
    for rows in range(1, 569):  # 568 rows reach MAX_PLOT_HEIGHT_PX
        assert plot_area_height(rows) >= 28 * rows
        assert plot_area_height(rows) >= plot_area_height(rows - 1)
    with pytest.raises(ValidationError):
        plot_area_height(-1)


def test_figure_height_grows_with_the_number_of_rows() -> None:
    now = datetime(2025, 1, 1, 3, tzinfo=UTC)

    def height(deployments: int) -> int:
        jobs = [
            job(f"j{i}", f"Dep{i:02d}" + "1" * 39, "RUNNING", START + i * 60)
            for i in range(deployments)
        ]
        return int(plot_job_timeline(jobs, now=now).layout.height)

    assert height(40) - height(30) == 10 * 28
    assert height(20) - height(10) == 10 * 32
    assert height(1) == height(5)  # the 240 px floor


# --- status history --------------------------------------------------------------------------


def test_status_segments_keep_instant_statuses_and_say_how_long_each_lasted() -> None:
    history = status_history_dataframe(
        [
            {"deployment": ADDRESS, "status": "DRAFT", "time": "2025-01-01T00:00:00Z"},
            {"deployment": ADDRESS, "status": "STARTING", "time": "2025-01-01T00:00:05Z"},
            {"deployment": ADDRESS, "status": "RUNNING", "time": "2025-01-01T00:00:05.400Z"},
            {"deployment": ADDRESS, "status": "STOPPED", "time": "2025-01-01T02:10:05.400Z"},
        ]
    )
    segments = status_segments_frame(history, now=datetime(2025, 1, 1, 3, tzinfo=UTC))
    assert segments["status"].astype(str).tolist() == ["DRAFT", "STARTING", "RUNNING", "STOPPED"]
    assert segments["duration_text"].tolist() == [
        "5 s",
        "0.4 s",
        "2 h 10 min",
        "49 min 55 s so far",
    ]
    assert segments["hover"].iloc[0] == (
        "<b>DRAFT</b> · deployment CT3a…3EKB"
        "<br>2025-01-01 00:00:00 UTC → 2025-01-01 00:00:05 UTC<br>5 s"
    )
    assert segments["hover"].iloc[-1].endswith("→ now (current status)<br>49 min 55 s so far")
    figure = plot_status_history(history, now=datetime(2025, 1, 1, 3, tzinfo=UTC))
    legend = [t.name for t in figure.data if t.showlegend]
    assert legend == ["DRAFT", "STARTING", "RUNNING", "STOPPED"]
    # the 0.4 s STARTING segment is too short to see as a bar: it gets a tick on top
    ticks = [t for t in figure.data if t.legendgroup == "STARTING" and t.type == "scatter"]
    assert len(ticks) == 1
    assert ticks[0].hovertext[0].startswith("<b>STARTING</b>")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0 s"),
        (timedelta(seconds=0.34), "0.3 s"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=12, seconds=5), "12 min 5 s"),
        (timedelta(hours=3, minutes=20, seconds=9), "3 h 20 min"),
        (timedelta(days=2, hours=4, minutes=1), "2 d 4 h"),
        (timedelta(days=2, minutes=1), "2 d"),
        (pd.NaT, "—"),
    ],
)
def test_format_duration(value: Any, text: str) -> None:
    assert format_duration(value) == text


# --- job timeline ----------------------------------------------------------------------------


def test_events_land_on_the_row_of_the_job_they_name() -> None:
    jobs = [
        job("Job1" + "1" * 40, ADDRESS, "RUNNING", START),
        job("Job2" + "2" * 40, ADDRESS, "RUNNING", START + 30),
    ]
    timeline = job_timeline_frame(jobs, now=datetime(2025, 1, 1, 1, tzinfo=UTC))
    events = [
        {
            "deploymentId": ADDRESS,
            "category": "Deployment",
            "type": "JOB_LIST_CONFIRMED",
            "message": f"Successfully listed job - {name}",
            "created_at": "2025-01-01T00:00:01.000Z",
        }
        for name in ("Job2" + "2" * 40, "Job1" + "1" * 40)
    ] + [
        {
            "deploymentId": ADDRESS,
            "category": "Deployment",
            "type": "RAPID_COMPLETION_THROTTLE",
            "message": "throttled",
            "created_at": "2025-01-01T00:00:02.000Z",
        }
    ]
    markers = event_markers_frame(events, timeline)
    assert markers["row"].tolist() == [
        "CT3a…3EKB · slot 2",
        "CT3a…3EKB · slot 1",
        "CT3a…3EKB · slot 1",
    ]


def test_a_job_holds_its_slot_from_listing_and_its_wait_is_drawn_as_queued() -> None:
    jobs = [
        job("Wait" + "1" * 40, ADDRESS, "COMPLETED", START + 600, START + 1800, listed=START),
        job("Next" + "2" * 40, ADDRESS, "RUNNING", START + 1900, listed=START + 1700),
        job("Late" + "3" * 40, ADDRESS, "QUEUED", 0, listed=START + 2000),
    ]
    now = datetime.fromtimestamp(START + 3600, UTC)
    timeline = job_timeline_frame(jobs, now=now).set_index("job")
    # listed while the first job still ran: the second takes slot 2, not the first one's slot
    order = [record["job"] for record in jobs]
    assert timeline.loc[order, "slot"].tolist() == [0, 1, 0]
    phases = job_phases_frame(job_timeline_frame(jobs, now=now))
    waits = phases[phases["what"] == "waited in the queue"]
    assert waits["phase"].tolist() == ["QUEUED", "QUEUED"]
    assert [text.split("(")[-1] for text in waits["hover_brief"]] == ["10 min)", "3 min 20 s)"]
    assert waits["label"].tolist() == ["", ""]
    assert not waits["tick"].any()
    runs = phases[phases["what"] != "waited in the queue"].set_index("job")
    late, first, second = ("Late" + "3" * 40, "Wait" + "1" * 40, "Next" + "2" * 40)
    assert runs.loc[late, "hover"] == (
        "<b>QUEUED</b> · job Late…3333: listed, waiting for a node"
        "<br>2025-01-01 00:33:20 UTC → now (26 min 40 s so far)<br>revision 1 · node —"
    )
    assert runs.loc[first, "label"] == "Wait…1111"
    assert "→ now (" in runs.loc[second, "hover"]
    # a wait under the cut-off is not drawn at all
    brief = job_phases_frame(job_timeline_frame(jobs, now=now), min_wait=timedelta(minutes=5))
    assert (brief["what"] == "waited in the queue").sum() == 1


def test_history_range_covers_the_history_and_pads_it() -> None:
    starts = pd.Series(pd.to_datetime(["2025-01-01T00:00Z", "2025-01-01T01:00Z"]))
    ends = pd.Series(pd.to_datetime(["2025-01-01T00:30Z", "2025-01-01T02:00Z"]))
    first, last = history_range(starts, ends)
    assert first == pd.Timestamp("2025-01-01T00:00Z") - pd.Timedelta(minutes=2.4)
    assert last == pd.Timestamp("2025-01-01T02:00Z") + pd.Timedelta(minutes=2.4)
    _, until_now = history_range(starts, ends, now=pd.Timestamp("2025-01-01T04:00Z"))
    assert until_now > pd.Timestamp("2025-01-01T04:00Z")
    instant = pd.Series(pd.to_datetime(["2025-01-01T00:00Z"]))
    low, high = history_range(instant, instant)
    assert high - low == pd.Timedelta(minutes=1)


# --- vault: kinds without arguments, runway ----------------------------------------------------


def escrow_then_full_refund() -> list[dict[str, Any]]:
    """Top-up, a job deposit, and its full refund (the job never ran, no node was paid)."""
    return [
        tx(
            10,
            [OWNER, VAULT, "ownerAta", "vaultAta"],
            [10 * SOL, 0, 1, 0],
            [9 * SOL - 2_044_280, SOL, 1, 2_039_280],
            [token(2, OWNER, 100 * NOS)],
            [token(2, OWNER, 75 * NOS), token(3, VAULT, 25 * NOS)],
        ),
        tx(
            20,
            [VAULT, "vaultAta", "escrowAta"],
            [SOL, 1, 1],
            [SOL - 5000, 1, 1],
            [token(1, VAULT, 25 * NOS), token(2, ESCROW, 0)],
            [token(1, VAULT, 24 * NOS), token(2, ESCROW, NOS)],
        ),
        tx(  # the escrow pays the fee and re-creates the vault's account idempotently
            30,
            [ESCROW, VAULT, "escrowAta", "vaultAta"],
            [5 * SOL, SOL - 5000, 1, 1],
            [5 * SOL - 5000, SOL - 5000, 1, 1],
            [token(2, ESCROW, NOS), token(3, VAULT, 24 * NOS)],
            [token(2, ESCROW, 0), token(3, VAULT, 25 * NOS)],
        ),
    ]


def test_a_full_refund_is_a_refund_without_being_told_the_escrow() -> None:
    frame = vault_balance_dataframe(escrow_then_full_refund(), vault=VAULT, nos_mint=MINT)
    assert frame["kind"].tolist() == ["topup", "escrow", "refund"]
    # a later top-up by the owner, shaped exactly like that refund, stays a top-up
    later_topup = tx(
        40,
        [OWNER, VAULT, "ownerAta", "vaultAta"],
        [9 * SOL, SOL - 5000, 1, 1],
        [9 * SOL - 5000, SOL - 5000, 1, 1],
        [token(2, OWNER, 75 * NOS), token(3, VAULT, 25 * NOS)],
        [token(2, OWNER, 74 * NOS), token(3, VAULT, 26 * NOS)],
    )
    frame = vault_balance_dataframe(
        [*escrow_then_full_refund(), later_topup], vault=VAULT, nos_mint=MINT
    )
    assert frame["kind"].tolist() == ["topup", "escrow", "refund", "topup"]


def test_nos_from_the_jobs_program_is_a_refund_on_devnet() -> None:
    def delist(mint: str) -> dict[str, Any]:
        """The devnet jobs program returns a whole deposit from a market's vault."""
        return tx(
            30,
            [VAULT, "vaultAta", "marketVault", DEVNET_JOBS_PROGRAM],
            [SOL, 1, 1, 1],
            [SOL - 5000, 1, 1, 1],
            [token(1, VAULT, 0, mint), token(2, "marketPda", NOS, mint)],
            [token(1, VAULT, NOS, mint), token(2, "marketPda", 0, mint)],
        )

    frame = vault_balance_dataframe([delist(DEVNET_MINT)], vault=VAULT, nos_mint=DEVNET_MINT)
    assert frame["kind"].tolist() == ["refund"]
    # devnet's program means nothing to another network's NOS: no evidence of an escrow
    elsewhere = vault_balance_dataframe([delist(MINT)], vault=VAULT, nos_mint=MINT)
    assert elsewhere["kind"].tolist() == ["topup"]


def test_full_refunds_on_the_sandbox_are_refunds_without_arguments(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    deployment = client.deployments.create(
        name="stopped-before-a-node-came",
        market=client.markets.get("nvidia-3060").address,
        replicas=2,
        timeout=timedelta(hours=1),
        strategy="SIMPLE",
        job_definition=container_job("docker.io/library/ubuntu:24.04", ["echo", "hi"]),
        new_vault=True,
    )
    deployment.vault.topup(sol="0.05", nos="25")
    deployment.start()
    deployment.wait_until("RUNNING", timeout=60)  # jobs listed; the clock has not moved
    deployment.stop()  # before any node picked a job up: each deposit comes back whole
    sandbox.advance(120)
    assert deployment.refresh().status == "STOPPED"
    frame = vault_balance_dataframe(client, vault=deployment.vault.address)
    assert frame["kind"].tolist() == ["topup", "escrow", "escrow", "refund", "refund"]
    refunds = frame[frame["kind"] == "refund"]["nos_delta"].sum()
    escrowed = -frame[frame["kind"] == "escrow"]["nos_delta"].sum()
    # each listing paid its deposit and the 10 % network fee; only the deposit comes back
    assert escrowed == refunds + refunds // 10
    runway = vault_runway(
        frame,
        deployments=[deployment.refresh()],
        now=datetime.fromtimestamp(sandbox.clock.now(), UTC),
    )
    assert runway is not None
    assert runway.runway is None
    assert runway.note == "no runway: the deployment is not running"


def test_no_runway_once_the_deployments_have_stopped() -> None:
    balance = vault_history()  # 10 NOS a day spent on jobs until the last transaction
    now = datetime(2025, 1, 3, tzinfo=UTC)
    spending = vault_runway(balance, now=now)
    assert spending is not None
    assert spending.runway is not None
    running = deployments_dataframe([{"id": ADDRESS, "status": "RUNNING"}])
    assert vault_runway(balance, deployments=running, now=now) == spending
    stopped = [{"id": ADDRESS, "status": "STOPPED"}, {"id": VAULT, "status": "ARCHIVED"}]
    runway = vault_runway(balance, deployments=stopped, now=now)
    assert runway is not None
    assert runway.runway is None
    assert runway.empty_at is None
    assert runway.note == "no runway: no deployment runs"
    assert runway.nos_balance == spending.nos_balance
    figure = plot_vault_balance(balance, deployments=stopped, now=now)
    assert figure.layout.title.subtitle.text == "no runway: no deployment runs"
    drawn = plot_vault_balance(balance, deployments=running, now=now)
    assert drawn.layout.title.subtitle.text.startswith("runway ≈ ")


def test_an_empty_vault_has_no_runway_rather_than_zero_seconds() -> None:
    balance = vault_history()  # 10 NOS a day spent on jobs until the last transaction
    balance.loc[balance.index[-1], "nos"] = 0.0  # ... and then the vault was emptied
    runway = vault_runway(balance, now=datetime(2025, 1, 3, tzinfo=UTC))
    assert runway is not None
    assert runway.runway is None
    assert runway.empty_at is None
    assert runway.note == "no runway: the vault holds no NOS"
    figure = plot_vault_balance(balance, now=datetime(2025, 1, 3, tzinfo=UTC))
    assert figure.layout.title.subtitle.text == "no runway: the vault holds no NOS"
