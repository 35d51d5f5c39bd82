"""Figures: structure via fig.to_dict(), fixed colours, date axes, empty input; tidy helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from nosana_nb.frames import (
    cost_dataframe,
    deployments_dataframe,
    empty_frame,
    jobs_dataframe,
    status_history_dataframe,
    vault_balance_dataframe,
)
from nosana_nb.plots import (
    DEPLOYMENT_STATUS_COLORS,
    JOB_STATE_COLORS,
    VAULT_KIND_COLORS,
    WEBGL_THRESHOLD,
    assign_slots,
    cumulative_cost_frame,
    job_timeline_frame,
    plot_cost,
    plot_fleet_overview,
    plot_job_timeline,
    plot_status_history,
    plot_vault_balance,
    status_counts_frame,
    vault_runway,
)

START = 1_735_689_600  # 2025-01-01T00:00:00Z
NOW = datetime(2025, 1, 1, 3, tzinfo=UTC)
A = "DepA111111111111111111111111111111111111111"
B = "DepB111111111111111111111111111111111111111"


def job(
    name: str,
    deployment: str,
    state: str,
    start: int,
    end: int | None = None,
    *,
    listed: int | None = None,
) -> dict[str, Any]:
    """A job record; listed when it started (or at START if it never did) unless told."""
    listed_at = datetime.fromtimestamp(listed or start or START, UTC)
    record: dict[str, Any] = {
        "job": name,
        "deployment": deployment,
        "market": "mkt",
        "state": state,
        "revision": 1,
        "time_start": start,
        "created_at": listed_at.isoformat().replace("+00:00", "Z"),
        "updated_at": "2025-01-01T00:00:00.000Z",
    }
    if end is not None:
        record["timeEnd"] = end
    return record


JOBS = [
    job("a1", A, "COMPLETED", START, START + 600),
    job("a2", A, "RUNNING", START + 60),
    job("a3", A, "RUNNING", START + 700),  # reuses slot 1 freed by a1
    job("a4", A, "QUEUED", 0),
    job("b1", B, "STOPPED", START + 100, START + 200),
]
EVENTS = [
    {
        "category": "Deployment",
        "deploymentId": A,
        "type": "JOB_LIST_CONFIRMED",
        "message": "ok",
        "created_at": "2025-01-01T00:00:05.000Z",
    },
    {
        "category": "Deployment",
        "deploymentId": A,
        "type": "JOB_LIST_ERROR",
        "message": "bad",
        "created_at": "2025-01-01T00:00:06.000Z",
    },
    {
        "category": "Deployment",
        "deploymentId": "unknown",
        "type": "JOB_LIST_ERROR",
        "message": "elsewhere",
        "created_at": "2025-01-01T00:00:06.000Z",
    },
]


def test_assign_slots_is_greedy_by_start_time() -> None:
    deployment = np.array(["a", "a", "a", "a", "b"], dtype=object)
    start = np.array([0, 1, 5, 6, 0])
    end = np.array([5, 10, 7, 8, 3])
    assert assign_slots(deployment, start, end).tolist() == [0, 1, 0, 2, 0]


def test_job_timeline_frame_assigns_rows_and_closes_open_jobs_at_now() -> None:
    tidy = job_timeline_frame(JOBS, now=NOW)
    by_job = tidy.set_index("job")
    # the queued job holds a slot from its listing; a3 reuses the slot a1 freed
    assert by_job.loc["a1", "slot"] == 0
    assert by_job.loc["a4", "slot"] == 1
    assert by_job.loc["a2", "slot"] == 2
    assert by_job.loc["a3", "slot"] == 0
    assert by_job.loc["a2", "end"] == pd.Timestamp(NOW)
    assert by_job.loc["a2", "open"]
    assert by_job.loc["a4", "start"] == pd.Timestamp("2025-01-01", tz="UTC")  # queued: from listing
    assert str(by_job.loc["b1", "row"]).endswith("slot 1")
    assert tidy["row"].iloc[0].startswith("DepA")


def test_job_timeline_figure_structure() -> None:
    figure = plot_job_timeline(JOBS, EVENTS, now=NOW)
    spec = figure.to_dict()
    names = [trace["name"] for trace in spec["data"]]
    assert names == ["QUEUED", "RUNNING", "COMPLETED", "STOPPED", "event", "error event"]
    for trace in spec["data"][:4]:
        assert trace["type"] == "bar"
        assert trace["marker"]["color"] == JOB_STATE_COLORS[trace["name"]]
        assert trace["showlegend"] is True
    running = spec["data"][1]
    assert len(running["y"]) == 2
    layout = spec["layout"]
    assert layout["xaxis"]["type"] == "date"
    assert layout["yaxis"]["autorange"] == "reversed"
    assert layout["showlegend"] is True
    assert layout["title"]["text"] == "Jobs per replica slot"
    assert len(spec["data"][5]["x"]) == 1  # the event of an unknown deployment is dropped
    default = pio.templates[pio.templates.default]
    assert figure.layout.template.layout.colorway == default.layout.colorway


def test_large_timelines_switch_to_webgl_one_trace_per_state() -> None:
    count = WEBGL_THRESHOLD + 10
    jobs = [
        job(f"j{i}", f"dep{i % 7}", "COMPLETED" if i % 2 else "RUNNING", START + i, START + i + 50)
        for i in range(count)
    ]
    figure = plot_job_timeline(jobs, now=NOW)
    spec = figure.to_dict()
    assert [t["type"] for t in spec["data"]] == ["scattergl", "scattergl"]
    assert [t["name"] for t in spec["data"]] == ["RUNNING", "COMPLETED"]
    assert spec["data"][0]["line"]["color"] == JOB_STATE_COLORS["RUNNING"]
    assert sum(len(t["x"]) for t in spec["data"]) == 3 * count  # start, end, gap per job


@pytest.mark.parametrize(
    ("template", "stopped"),
    [
        ("plotly_white", "#363636"),  # the dashboard's near-black tag on a light page
        ("plotly_dark", "#B5B5B5"),  # its dark-theme shade
        # see-through (the dashboard's figures): the page decides, so a grey that reads on both
        (go.layout.Template(layout={"paper_bgcolor": "rgba(0,0,0,0)"}), "#8C8C8C"),
        (go.layout.Template(layout={"plot_bgcolor": "#ffffff00"}), "#8C8C8C"),
    ],
)
def test_stopped_jobs_stay_visible_whatever_the_background(template: Any, stopped: str) -> None:
    spec = plot_job_timeline(JOBS, EVENTS, now=NOW, template=template).to_dict()
    colors = {trace["name"]: trace["marker"]["color"] for trace in spec["data"][:4]}
    assert colors["STOPPED"] == stopped
    assert colors["RUNNING"] == JOB_STATE_COLORS["RUNNING"]


def test_template_passes_through_and_default_is_untouched() -> None:
    before = pio.templates.default
    figure = plot_job_timeline(JOBS, now=NOW, template="plotly_dark")
    assert figure.layout.template.layout.paper_bgcolor is not None
    assert pio.templates.default == before


@pytest.mark.parametrize(
    ("build", "title"),
    [
        (lambda: plot_job_timeline([], now=NOW), "Jobs per replica slot"),
        (lambda: plot_job_timeline(empty_frame("jobs")), "Jobs per replica slot"),
        (lambda: plot_status_history(empty_frame("status_history")), "Deployment status over time"),
        (lambda: plot_vault_balance(empty_frame("vault_balance")), "Vault balance"),
        (lambda: plot_cost(empty_frame("cost")), "Cumulative spend per deployment"),
        (lambda: plot_fleet_overview([]), "Fleet overview"),
    ],
)
def test_empty_inputs_give_an_empty_titled_figure(build: Any, title: str) -> None:
    figure = build()
    assert isinstance(figure, go.Figure)
    spec = figure.to_dict()
    assert spec["data"] == []
    assert spec["layout"]["title"]["text"] == title
    assert spec["layout"]["annotations"][0]["text"].startswith("No ")


def test_status_history_figure_uses_dashboard_colours() -> None:
    history = status_history_dataframe(
        [
            {"deployment": A, "status": "RUNNING", "time": "2025-01-01T00:00:00.000Z"},
            {"deployment": A, "status": "ERROR", "time": "2025-01-01T01:00:00.000Z"},
            {"deployment": B, "status": "DRAFT", "time": "2025-01-01T00:30:00.000Z"},
        ]
    )
    spec = plot_status_history(history, now=NOW).to_dict()
    assert [t["name"] for t in spec["data"]] == ["DRAFT", "RUNNING", "ERROR"]
    assert [t["marker"]["color"] for t in spec["data"]] == ["#FFB800", "#0066FF", "#FF4D4F"]
    assert spec["layout"]["xaxis"]["type"] == "date"
    assert spec["layout"]["yaxis"]["autorange"] == "reversed"
    error = spec["data"][2]
    assert error["x"] == [pytest.approx(2 * 3600 * 1000)]  # open segment closed at NOW


def test_fixed_colour_maps_are_the_dashboard_hexes() -> None:
    assert dict(JOB_STATE_COLORS) == {
        "QUEUED": "#FFB800",
        "RUNNING": "#0066FF",
        "COMPLETED": "#04DE00",
        "STOPPED": "#363636",
    }
    assert DEPLOYMENT_STATUS_COLORS["INSUFFICIENT_FUNDS"] == "#FF4D4F"
    assert DEPLOYMENT_STATUS_COLORS["ARCHIVED"] == "#363636"


MARKET = {
    "address": "mkt",
    "job_price": 100,
    "network_fee_percentage": 10,
    "usd_reward_per_hour": 0.36,
}


def test_cumulative_cost_reaches_the_total() -> None:
    cost = cost_dataframe(JOBS, [MARKET], now=NOW)
    spend = cumulative_cost_frame(cost)
    for deployment, part in spend.groupby("deployment"):
        total = cost[cost["deployment"] == deployment]["total_nos"].sum()
        assert part["spend_nos"].iloc[-1] == pytest.approx(float(total))
        assert part["spend_nos"].is_monotonic_increasing
    figure = plot_cost(cost)
    spec = figure.to_dict()
    assert len(spec["data"]) == 2
    assert spec["layout"]["xaxis"]["type"] == "date"


def vault_history() -> pd.DataFrame:
    vault, owner, mint = "V" * 43, "O" * 43, "M" * 43

    def tx(
        slot: int, keys: list[str], pre: list[int], post: list[int], nos: tuple[int, int]
    ) -> Any:
        return {
            "slot": slot,
            "blockTime": START + slot * 86_400,
            "meta": {
                "err": None,
                "fee": 5000,
                "preBalances": pre,
                "postBalances": post,
                "preTokenBalances": [
                    {
                        "accountIndex": 2,
                        "mint": mint,
                        "owner": vault,
                        "uiTokenAmount": {"amount": str(nos[0])},
                    }
                ],
                "postTokenBalances": [
                    {
                        "accountIndex": 2,
                        "mint": mint,
                        "owner": vault,
                        "uiTokenAmount": {"amount": str(nos[1])},
                    }
                ],
            },
            "transaction": {"signatures": [f"s{slot}"], "message": {"accountKeys": keys}},
        }

    return vault_balance_dataframe(
        [
            tx(0, [owner, vault, "ata"], [10**10, 0, 1], [9 * 10**9, 10**9, 1], (0, 100_000_000)),
            tx(
                1,
                [vault, "x", "ata"],
                [10**9, 1, 1],
                [10**9 - 5000, 1, 1],
                (100_000_000, 90_000_000),
            ),
            tx(
                2,
                [vault, "x", "ata"],
                [10**9 - 5000, 1, 1],
                [10**9 - 10_000, 1, 1],
                (90_000_000, 80_000_000),
            ),
        ],
        vault=vault,
        nos_mint=mint,
    )


def test_vault_runway_from_recent_burn() -> None:
    balance = vault_history()
    runway = vault_runway(balance, now=datetime(2025, 1, 3, tzinfo=UTC), window=timedelta(days=7))
    assert runway is not None
    assert runway.nos_balance == pytest.approx(80.0)
    assert runway.burn_nos_per_day == pytest.approx(20 / 7)
    assert runway.runway == timedelta(days=80 / (20 / 7))


def test_vault_figure_marks_each_kind_and_writes_the_runway_instead_of_drawing_it() -> None:
    now = datetime(2025, 1, 3, tzinfo=UTC)
    balance = vault_history()
    figure = plot_vault_balance(balance, now=now)
    spec = figure.to_dict()
    in_legend = sorted(
        (t for t in spec["data"] if t.get("showlegend")), key=lambda t: t["legendrank"]
    )
    by_name = {t["name"]: t for t in in_legend}
    assert list(by_name) == ["top-up", "escrow (job deposit)"]
    drawn = [t["name"] for t in spec["data"]]
    assert drawn.index("top-up") > drawn.index("escrow (job deposit)")  # on top at one instant
    assert by_name["top-up"]["marker"]["color"] == VAULT_KIND_COLORS["topup"]
    assert spec["layout"]["xaxis"]["type"] == "date"
    assert spec["layout"]["xaxis2"]["type"] == "date"
    # the projection reaches weeks ahead; the axis ends where the history (up to now) ends
    runway = vault_runway(balance, now=now)
    assert runway is not None
    assert runway.empty_at is not None
    end = pd.Timestamp(spec["layout"]["xaxis"]["range"][1])
    assert (
        pd.Timestamp(now)
        < end
        < pd.Timestamp(now) + (pd.Timestamp(now) - balance["time"].min()) * 0.05
    )
    assert end < runway.empty_at
    assert spec["layout"]["title"]["subtitle"]["text"].startswith("runway ≈ ")
    # the balance line holds its last value up to now
    nos_line = spec["data"][0]
    assert nos_line["y"][0] == 0  # the balance before the top-up
    assert pd.Timestamp(nos_line["x"][-1]) == pd.Timestamp(now)
    assert nos_line["y"][-1] == nos_line["y"][-2] == pytest.approx(80.0)


def test_fleet_overview_counts_every_status_in_order() -> None:
    deployments = deployments_dataframe(
        [
            {"id": A, "status": "RUNNING", "active_jobs": 2},
            {"id": B, "status": "ERROR", "active_jobs": 0},
        ]
    )
    counts = status_counts_frame(deployments)
    assert counts["status"].tolist()[:3] == ["DRAFT", "STARTING", "RUNNING"]
    assert counts.set_index("status")["count"].to_dict()["RUNNING"] == 1
    spec = plot_fleet_overview(deployments).to_dict()
    bars = spec["data"][0]
    assert bars["marker"]["color"] == [DEPLOYMENT_STATUS_COLORS[s] for s in bars["x"]]
    with_jobs = plot_fleet_overview(deployments, jobs_dataframe(JOBS), now=NOW).to_dict()
    assert with_jobs["data"][1]["name"] == "running jobs"
    assert max(with_jobs["data"][1]["y"]) == 3  # a1, a2 and b1 overlap
    assert with_jobs["layout"]["xaxis2"]["type"] == "date"


def test_cost_plot_sums_small_spenders_into_one_line() -> None:
    many = [
        job(f"j{i}", f"dep{i:02d}", "COMPLETED", START, START + 60 * (i + 1)) for i in range(30)
    ]
    cost = cost_dataframe(many, [MARKET], now=NOW)
    spec = plot_cost(cost).to_dict()
    names = [trace["name"] for trace in spec["data"]]
    assert len(names) == 20
    assert "other (11 deployments)" in names
    total = sum(trace["y"][-1] for trace in spec["data"])
    assert total == pytest.approx(float(cost["total_nos"].sum()))
