"""Every ``plot_*`` rendered by chromium, measured from the DOM.

The data comes from a small fleet run on the embedded sandbox (frozen clock): five
deployments on one shared vault — one ran to completion, one keeps extending, one was scaled
up then stopped, one was stopped before any node picked it up (full refunds), one is a
draft — and a deployment with a vault of its own that was topped up, stopped and emptied.
Each figure is written to an HTML file with plotly.js inlined from the installed plotly
package (no network), opened at 1280×800 and at 800 px wide, in ``plotly_white`` and
``plotly_dark``, and fails when:

* a plot area is under 240 px high, or a timeline gives a row under 28 px;
* the legend leaves the figure, scrolls, overlaps the title or the plot, or misses a
  category that is in the data;
* the x-range does not cover the recorded history, or reaches past it (a projection
  stretching the axis).

Screenshots land in ``build/screenshots/chart_<name>_<viewport>_<theme>.png``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.jobdef import container_job
from nosana_nb.frames import (
    DEPLOYMENT_STATUSES,
    cost_dataframe,
    deployments_dataframe,
    fleet_events_dataframe,
    fleet_jobs_dataframe,
    markets_dataframe,
    short_id,
    status_history_dataframe,
    vault_balance_dataframe,
)
from nosana_nb.plots import (
    VAULT_KIND_LABELS,
    plot_cost,
    plot_fleet_overview,
    plot_job_timeline,
    plot_status_history,
    plot_vault_balance,
)
from tests.browser.browser import screenshot_path
from tests.frames.sandbox_helpers import funded_wallet, sandbox_client

MIN_PLOT_PX = 240
MIN_ROW_PX = 28
MAX_OVERSHOOT = 0.05
"""The x-range may pad the history by this share of its span on each side, no more."""
THEMES = {"light": "plotly_white", "dark": "plotly_dark"}
MARKET = "nvidia-3060"


@dataclass(frozen=True)
class Fleet:
    """What the sandbox run left behind, as frames."""

    deployments: pd.DataFrame
    jobs: pd.DataFrame
    events: pd.DataFrame
    history: pd.DataFrame
    shared_vault: pd.DataFrame
    own_vault: pd.DataFrame
    own_deployment: pd.DataFrame
    cost: pd.DataFrame
    now: datetime


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    handle = sandbox_module.start(db=":memory:", speed=None, seed=5)
    job = container_job("docker.io/library/ubuntu:24.04", ["sleep", "infinity"])
    try:
        with sandbox_client(handle, funded_wallet(handle)) as client:
            market = client.markets.get(MARKET).address
            shared = client.vaults.create()
            shared.topup(sol="0.2", nos="200")

            def create(name: str, replicas: int, strategy: str = "SIMPLE", **vault: Any) -> Any:
                return client.deployments.create(
                    name=name,
                    market=market,
                    replicas=replicas,
                    timeout=timedelta(hours=1),
                    strategy=strategy,
                    job_definition=job,
                    **(vault or {"vault": shared.address}),
                )

            training = create("training", 3)
            serving = create("serving", 2, "SIMPLE-EXTEND")
            notebook = create("notebook", 2)
            early = create("stopped-early", 2)
            create("draft", 1)
            own = create("own-vault", 2, new_vault=True)
            own.vault.topup(sol="0.05", nos="25")
            training.start()
            own.start()
            handle.advance(90)
            serving.start()
            handle.advance(600)
            notebook.start()
            handle.advance(900)
            notebook.update_replicas(4)
            handle.advance(600)
            early.start()
            early.wait_until("RUNNING", timeout=60)
            early.stop()  # before a node took its jobs: the deposits come back whole
            own.stop()
            handle.advance(120)
            notebook.stop()
            own.vault.withdraw()
            handle.advance(1800)
            now = datetime.fromtimestamp(handle.clock.now(), UTC)
            deployments = deployments_dataframe(client)
            jobs = fleet_jobs_dataframe(client, progress=False)
            events = fleet_events_dataframe(client, progress=False)
            yield Fleet(
                deployments=deployments,
                jobs=jobs,
                events=events,
                history=status_history_dataframe(deployments=deployments, events=events, jobs=jobs),
                shared_vault=vault_balance_dataframe(client, vault=shared.address),
                own_vault=vault_balance_dataframe(client, vault=own.vault.address),
                own_deployment=deployments_dataframe([own.refresh()]),
                cost=cost_dataframe(
                    jobs, markets_dataframe(client), deployments=deployments, now=now
                ),
                now=now,
            )
    finally:
        handle.stop()


def recorded_history() -> pd.DataFrame:
    """A recording through every status, some lasting seconds among hours (a real network)."""
    start = pd.Timestamp("2026-03-02T08:00:00Z")
    steps = {
        "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin": [
            ("DRAFT", 0),
            ("STARTING", 600),
            ("RUNNING", 620),
            ("INSUFFICIENT_FUNDS", 5400),
            ("RUNNING", 6000),
            ("STOPPING", 9000),
            ("STOPPED", 9012),
            ("ARCHIVED", 9900),
        ],
        "4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R": [
            ("DRAFT", 1200),
            ("STARTING", 1800),
            ("ERROR", 1805),
        ],
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v": [
            ("DRAFT", 300),
            ("STARTING", 2400),
            ("RUNNING", 2430),
        ],
    }
    records = [
        {"deployment": deployment, "status": status, "time": (start + pd.Timedelta(s, "s"))}
        for deployment, changes in steps.items()
        for status, s in changes
    ]
    return status_history_dataframe([{**r, "time": r["time"].isoformat()} for r in records])


@dataclass(frozen=True)
class ChartCase:
    """A chart to render and what its DOM must show."""

    build: Callable[[str], go.Figure]
    history: tuple[pd.Timestamp, pd.Timestamp]
    legend: frozenset[str] = frozenset()
    rows: int | None = None
    ticks: frozenset[str] = field(default_factory=frozenset)


def _span(*series: pd.Series) -> tuple[pd.Timestamp, pd.Timestamp]:
    values = pd.concat(series, ignore_index=True).dropna()
    return values.min(), values.max()


def chart_cases(fleet: Fleet) -> dict[str, ChartCase]:
    now = pd.Timestamp(fleet.now)
    jobs, events, history = fleet.jobs, fleet.events, fleet.history
    recorded = recorded_history()
    recorded_now = recorded["start"].max() + pd.Timedelta(hours=1)
    job_starts = jobs["started_at"].fillna(jobs["created_at"])
    kinds = {
        name: frozenset(VAULT_KIND_LABELS[str(k)] for k in frame["kind"].unique())
        for name, frame in (("shared", fleet.shared_vault), ("own", fleet.own_vault))
    }
    billed = fleet.cost[(fleet.cost["runtime_seconds"] > 0).fillna(False)]
    return {
        "status_history": ChartCase(
            build=lambda t: plot_status_history(history, now=fleet.now, template=t),
            history=(history["start"].min(), now),
            legend=frozenset(history["status"].astype(str)),
            rows=history["deployment"].nunique(),
        ),
        "status_history_recorded": ChartCase(
            build=lambda t: plot_status_history(recorded, now=recorded_now, template=t),
            history=(recorded["start"].min(), recorded_now),
            legend=frozenset(recorded["status"].astype(str)),
            rows=recorded["deployment"].nunique(),
        ),
        "job_timeline": ChartCase(
            build=lambda t: plot_job_timeline(jobs, events, now=fleet.now, template=t),
            history=(_span(job_starts, jobs["created_at"], events["created_at"])[0], now),
            legend=frozenset(jobs["state"].astype(str)) | {"event"},
            rows=None,  # replica slots: counted from the DOM's categories
        ),
        "vault_balance_shared": ChartCase(
            build=lambda t: plot_vault_balance(
                fleet.shared_vault,
                deployments=fleet.deployments,
                now=fleet.now,
                runway_window=timedelta(hours=1),
                template=t,
            ),
            history=(fleet.shared_vault["time"].min(), now),
            legend=kinds["shared"],
        ),
        "vault_balance_own": ChartCase(
            build=lambda t: plot_vault_balance(
                fleet.own_vault, deployments=fleet.own_deployment, now=fleet.now, template=t
            ),
            history=(fleet.own_vault["time"].min(), now),
            legend=kinds["own"],
        ),
        "cost": ChartCase(
            build=lambda t: plot_cost(fleet.cost, template=t),
            history=_span(billed["started_at"], billed["billed_until"]),
            legend=frozenset(short_id(d) for d in billed["deployment"].unique()),
        ),
        "fleet_overview": ChartCase(
            build=lambda t: plot_fleet_overview(fleet.deployments, jobs, now=fleet.now, template=t),
            history=(jobs["started_at"].min(), jobs["ended_at"].fillna(now).max()),
            ticks=frozenset(DEPLOYMENT_STATUSES),
        ),
    }


CASE_NAMES = (
    "status_history",
    "status_history_recorded",
    "job_timeline",
    "vault_balance_shared",
    "vault_balance_own",
    "cost",
    "fleet_overview",
)


@pytest.fixture(scope="module")
def cases(fleet: Fleet) -> dict[str, ChartCase]:
    built = chart_cases(fleet)
    assert tuple(built) == CASE_NAMES
    return built


@pytest.fixture(scope="module")
def chart_file(
    cases: dict[str, ChartCase], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, str], Path]:
    """The chart as a self-contained HTML page (plotly.js inlined), one file per theme."""
    root = tmp_path_factory.mktemp("charts")
    written: dict[tuple[str, str], Path] = {}

    def write(name: str, theme: str) -> Path:
        key = (name, theme)
        if key not in written:
            path = root / f"{name}_{theme}.html"
            figure = cases[name].build(THEMES[theme])
            figure.write_html(path, include_plotlyjs=True, full_html=True, default_width="100%")
            written[key] = path
        return written[key]

    return write


MEASURE = """() => {
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
            width: r.width, height: r.height};
  };
  const gd = document.querySelector('.js-plotly-plot');
  const full = gd._fullLayout;
  const axes = (letter) => Object.keys(full)
    .filter((k) => new RegExp('^' + letter + 'axis\\\\d*$').test(k))
    .map((k) => ({name: k, type: full[k].type, range: full[k].range,
                  categories: (full[k]._categories || []).length,
                  ticks: [...gd.querySelectorAll('.' + k.replace('axis', '') + 'tick text')]
                    .map((t) => t.textContent)}));
  const scrollbar = gd.querySelector('.legend .scrollbar');
  return {
    svg: box(gd.querySelector('.main-svg')),
    areas: [...gd.querySelectorAll('.nsewdrag')].map(box),
    legend: box(gd.querySelector('.legend')),
    legendEntries: [...gd.querySelectorAll('.legend .traces')].map((e) => ({
      text: e.querySelector('.legendtext').textContent, box: box(e)})),
    legendScroll: scrollbar ? box(scrollbar) : null,
    title: box(gd.querySelector('.gtitle')),
    subtitle: box(gd.querySelector('.gtitle-subtitle')),
    xaxes: axes('x'),
    yaxes: axes('y'),
  };
}"""


def _inside(inner: dict[str, float], outer: dict[str, float], slack: float = 1.0) -> bool:
    return (
        inner["left"] >= outer["left"] - slack
        and inner["top"] >= outer["top"] - slack
        and inner["right"] <= outer["right"] + slack
        and inner["bottom"] <= outer["bottom"] + slack
    )


def _utc(plotly_date: Any) -> pd.Timestamp:
    # plotly keeps a range as given (ISO with offset) or as a naive string in that zone: UTC
    stamp = pd.Timestamp(str(plotly_date))
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def measured(found: dict[str, Any]) -> dict[str, Any]:
    """What the DOM measured, rounded, kept next to the screenshot for a reviewer."""
    rows = next((a["categories"] for a in found["yaxes"] if a["type"] == "category"), 0)
    legend = found["legend"]
    return {
        "figure_px": [round(found["svg"]["width"]), round(found["svg"]["height"])],
        "plot_area_heights_px": [round(a["height"]) for a in found["areas"]],
        "rows": rows,
        "px_per_row": round(found["areas"][0]["height"] / rows, 1) if rows else None,
        "legend_box_px": None
        if legend is None
        else [round(legend[k]) for k in ("left", "top", "right", "bottom")],
        "legend_entries": [e["text"] for e in found["legendEntries"]],
        "x_ranges": [a["range"] for a in found["xaxes"] if a["type"] == "date"],
    }


def check_chart(case: ChartCase, found: dict[str, Any]) -> list[str]:
    """Every defect a demanding reader would see, measured from the DOM."""
    problems: list[str] = []
    svg = found["svg"]
    for area in found["areas"]:
        if area["height"] < MIN_PLOT_PX:
            problems.append(f"plot area {area['height']:.0f} px high (< {MIN_PLOT_PX})")
    category_axes = [a for a in found["yaxes"] if a["type"] == "category"]
    for axis in category_axes:
        rows = case.rows if case.rows is not None else axis["categories"]
        if case.rows is not None and axis["categories"] != case.rows:
            problems.append(f"{axis['categories']} rows drawn, {case.rows} in the data")
        height = found["areas"][0]["height"]
        if rows and height / rows < MIN_ROW_PX:
            problems.append(f"{height / rows:.1f} px per row (< {MIN_ROW_PX})")
    if case.legend:
        legend = found["legend"]
        if legend is None:
            problems.append("no legend")
        else:
            if not _inside(legend, svg):
                problems.append(f"legend {legend} outside the figure {svg}")
            if found["legendScroll"] and found["legendScroll"]["height"] > 0:
                problems.append("the legend scrolls: some entries are hidden")
            hidden = [e["text"] for e in found["legendEntries"] if not _inside(e["box"], svg)]
            if hidden:
                problems.append(f"legend entries cut off: {hidden}")
            top_of_plot = min(a["top"] for a in found["areas"])
            if legend["bottom"] > top_of_plot + 1:
                problems.append("the legend overlaps the plot")
            heading = found["subtitle"] or found["title"]
            if heading and heading["bottom"] > legend["top"] + 1:
                problems.append("the title overlaps the legend")
            shown = {e["text"] for e in found["legendEntries"]}
            missing = sorted(case.legend - shown)
            if missing:
                problems.append(f"legend misses {missing} (shows {sorted(shown)})")
    for tick in sorted(case.ticks):
        if not any(tick in axis["ticks"] for axis in found["xaxes"]):
            problems.append(f"no axis tick for {tick}")
    first, last = case.history
    span = last - first
    dates = [a for a in found["xaxes"] if a["type"] == "date"]
    if not dates:
        problems.append("no date axis")
    for axis in dates:
        low, high = (_utc(v) for v in axis["range"])
        if low > first or high < last:
            problems.append(f"{axis['name']} {low}..{high} cuts the history {first}..{last}")
        if low < first - span * MAX_OVERSHOOT or high > last + span * MAX_OVERSHOOT:
            problems.append(f"{axis['name']} {low}..{high} stretches past {first}..{last}")
    return problems


@pytest.mark.parametrize("theme", list(THEMES))
@pytest.mark.parametrize("viewport", ["wide", "narrow"])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_chart_renders_readably(
    open_page: Callable[..., Any],
    cases: dict[str, ChartCase],
    chart_file: Callable[[str, str], Path],
    name: str,
    viewport: str,
    theme: str,
) -> None:
    page = open_page(viewport=viewport, color_scheme=theme)
    page.goto(chart_file(name, theme).as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg")
    page.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullLayout")
    found = page.evaluate(MEASURE)
    shot = screenshot_path(f"chart_{name}_{viewport}_{theme}")
    page.screenshot(path=str(shot), full_page=True)
    shot.with_suffix(".json").write_text(json.dumps(measured(found), indent=1), encoding="utf-8")
    viewport_width = 1280 if viewport == "wide" else 800
    assert found["svg"]["width"] >= viewport_width - 40  # the figure fills the page's width
    assert check_chart(cases[name], found) == []


def test_check_chart_catches_the_defects_it_is_for() -> None:
    """The DOM checks fail on the shapes the newcomer saw, so a pass above means something."""
    start, end = pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-01-01T01:00Z")
    case = ChartCase(
        build=lambda t: go.Figure(), history=(start, end), legend=frozenset({"RUNNING", "DRAFT"})
    )

    def box(top: float, bottom: float, left: float = 0, right: float = 1280) -> dict[str, float]:
        return {"left": left, "right": right, "top": top, "bottom": bottom, "height": bottom - top}

    squashed = {
        "svg": box(0, 182),
        "areas": [box(100, 180)],
        "legend": box(110, 200, 1100, 1270),  # a vertical legend beside the plot, cut off
        "legendEntries": [{"text": "RUNNING", "box": box(112, 130, 1100, 1270)}],
        "legendScroll": box(112, 150, 1265, 1270),
        "title": box(10, 30),
        "subtitle": None,
        "xaxes": [
            {
                "name": "xaxis",
                "type": "date",
                "range": ["2026-01-01 00:00:00", "2028-06-01 00:00:00"],  # runway years ahead
                "ticks": [],
            }
        ],
        "yaxes": [{"name": "yaxis", "type": "category", "categories": 3, "ticks": []}],
    }
    problems = " | ".join(check_chart(case, squashed))
    for symptom in (
        "plot area 80 px high",
        "26.7 px per row",
        "outside the figure",
        "scrolls",
        "misses ['DRAFT']",
        "stretches past",
    ):
        assert symptom in problems
