"""Figure builders: each takes a frame, computes its tidy frame (``tidy.py``), then draws.

Figures are values: nothing here calls ``.show()`` or touches ``plotly.io.templates.default``;
``template=None`` leaves the user's default in force. Traces are one per state, never one per
job; above ``WEBGL_THRESHOLD`` bars become WebGL line segments so 10,000 jobs stay light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nosana_nb.frames import as_frame
from nosana_nb.frames.schema import validate_schema
from nosana_nb.plots import _tidy as tidy
from nosana_nb.plots._colors import (
    DEPLOYMENT_STATUS_COLORS,
    ERROR_EVENT_COLOR,
    EVENT_COLOR,
    JOB_STATE_COLORS,
    VAULT_KIND_COLORS,
)

WEBGL_THRESHOLD = 1000
"""Bars above this count are drawn as WebGL line segments (Scattergl), one trace per state."""
_ROW_HEIGHT = 22
_MAX_HEIGHT = 1400


def _with_template(figure: go.Figure, template: Any) -> go.Figure:
    # None keeps the template the figure was built with: the user's pio.templates.default
    if template is not None:
        figure.update_layout(template=template)
    return figure


def empty_figure(title: str, message: str, template: Any = None) -> go.Figure:
    """A figure with a title and a centred note, for frames with nothing to draw."""
    figure = go.Figure()
    figure.update_layout(
        title={"text": title},
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ],
    )
    return _with_template(figure, template)


def _iso(values: pd.Series) -> list[str]:
    return [stamp.isoformat() for stamp in values]


def _interval_traces(
    frame: pd.DataFrame,
    *,
    color_column: str,
    colors: Mapping[str, str],
    order: Sequence[str],
    hover: str,
    customdata: list[str],
) -> list[Any]:
    """One trace per category: horizontal bars (few rows) or WebGL segments (many)."""
    traces: list[Any] = []
    use_webgl = len(frame) > WEBGL_THRESHOLD
    for name in order:
        part = frame[(frame[color_column] == name).fillna(False).to_numpy(dtype=bool)]
        if part.empty:
            continue
        cols = [c for c in customdata if c in part.columns]
        custom = part[cols].astype("string").fillna("").to_numpy(dtype=object)
        if use_webgl:
            traces.append(_segments(part, name, colors[name], custom, hover))
            continue
        duration_ms = ((part["end"] - part["start"]).dt.total_seconds() * 1000).to_numpy()
        traces.append(
            go.Bar(
                name=name,
                orientation="h",
                y=part["row"].tolist(),
                base=_iso(part["start"]),
                x=np.maximum(duration_ms, 1.0).tolist(),
                marker={"color": colors[name]},
                customdata=custom,
                hovertemplate=hover,
                showlegend=True,
                legendgroup=name,
            )
        )
    return traces


def _segments(part: pd.DataFrame, name: str, color: str, custom: Any, hover: str) -> Any:
    count = len(part)
    xs = np.empty(count * 3, dtype=object)
    ys = np.empty(count * 3, dtype=object)
    xs[0::3], xs[1::3], xs[2::3] = _iso(part["start"]), _iso(part["end"]), None
    rows = part["row"].to_numpy(dtype=object)
    ys[0::3], ys[1::3], ys[2::3] = rows, rows, None
    data = np.empty((count * 3, custom.shape[1]), dtype=object)
    data[0::3], data[1::3], data[2::3] = custom, custom, None
    return go.Scattergl(
        name=name,
        mode="lines",
        x=xs.tolist(),
        y=ys.tolist(),
        line={"color": color, "width": 6},
        customdata=data,
        hovertemplate=hover,
        showlegend=True,
        legendgroup=name,
    )


def _timeline_layout(figure: go.Figure, title: str, rows: list[str]) -> None:
    figure.update_layout(
        title={"text": title},
        barmode="overlay",
        showlegend=True,
        height=min(_MAX_HEIGHT, 160 + _ROW_HEIGHT * max(1, len(rows))),
        xaxis={"type": "date", "title": {"text": "time (UTC)"}},
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": rows,
            "autorange": "reversed",
        },
    )


def plot_job_timeline(
    jobs: Any,
    events: Any = None,
    *,
    now: datetime | None = None,
    template: Any = None,
    title: str = "Jobs per replica slot",
) -> go.Figure:
    """Gantt of jobs per replica slot, coloured by state; events as markers on each deployment."""
    timeline = tidy.job_timeline_frame(jobs, now=now)
    if timeline.empty:
        return empty_figure(title, "No jobs", template)
    hover = (
        "job %{customdata[0]}<br>revision %{customdata[1]}<br>node %{customdata[2]}"
        "<extra>%{fullData.name}</extra>"
    )
    traces = _interval_traces(
        timeline,
        color_column="state",
        colors=JOB_STATE_COLORS,
        order=list(JOB_STATE_COLORS),
        hover=hover,
        customdata=["job", "revision", "node"],
    )
    figure = go.Figure(data=traces)
    if events is not None:
        markers = tidy.event_markers_frame(events, timeline)
        for is_error, label, color in (
            (False, "event", EVENT_COLOR),
            (True, "error event", ERROR_EVENT_COLOR),
        ):
            part = markers[(markers["is_error"] == is_error).to_numpy(dtype=bool)]
            if part.empty:
                continue
            figure.add_trace(
                go.Scatter(
                    name=label,
                    mode="markers",
                    x=_iso(part["time"]),
                    y=part["row"].tolist(),
                    marker={"symbol": "diamond", "size": 9, "color": color},
                    customdata=part[["type", "message"]]
                    .astype("string")
                    .fillna("")
                    .to_numpy(dtype=object),
                    hovertemplate="%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
                    showlegend=True,
                )
            )
    _timeline_layout(figure, title, list(dict.fromkeys(timeline["row"])))
    return _with_template(figure, template)


def plot_status_history(
    history: pd.DataFrame,
    *,
    now: datetime | None = None,
    template: Any = None,
    title: str = "Deployment status over time",
) -> go.Figure:
    """One row per deployment; segments coloured by status (dashboard colours)."""
    segments = tidy.status_segments_frame(history, now=now)
    if segments.empty:
        return empty_figure(title, "No status history", template)
    traces = _interval_traces(
        segments,
        color_column="status",
        colors=DEPLOYMENT_STATUS_COLORS,
        order=list(DEPLOYMENT_STATUS_COLORS),
        hover="deployment %{customdata[0]}<extra>%{fullData.name}</extra>",
        customdata=["deployment"],
    )
    figure = go.Figure(data=traces)
    _timeline_layout(figure, title, list(dict.fromkeys(segments["row"])))
    return _with_template(figure, template)


def plot_vault_balance(
    balance: pd.DataFrame,
    *,
    now: datetime | None = None,
    runway_window: timedelta = timedelta(days=7),
    template: Any = None,
    title: str = "Vault balance",
) -> go.Figure:
    """NOS (top) and SOL (bottom) over time, top-ups/withdrawals marked, NOS runway projected."""
    validate_schema(balance, "vault_balance")
    timed = balance[balance["time"].notna().to_numpy(dtype=bool)]
    if timed.empty:
        return empty_figure(title, "No vault transactions", template)
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, subplot_titles=("NOS", "SOL"))
    times = _iso(timed["time"])
    for row, column in ((1, "nos"), (2, "sol")):
        figure.add_trace(
            go.Scatter(
                name=column.upper(),
                x=times,
                y=timed[column].astype("float64").tolist(),
                mode="lines",
                line={"shape": "hv"},
                showlegend=True,
            ),
            row=row,
            col=1,
        )
    for kind in ("topup", "withdrawal"):
        part = timed[(timed["kind"] == kind).fillna(False).to_numpy(dtype=bool)]
        if part.empty:
            continue
        figure.add_trace(
            go.Scatter(
                name=kind,
                x=_iso(part["time"]),
                y=part["nos"].astype("float64").tolist(),
                mode="markers+text",
                text=[f"{v:+,.2f} NOS" for v in part["nos_change"].astype("float64").fillna(0)],
                textposition="top center",
                marker={"color": VAULT_KIND_COLORS[kind], "size": 10},
                customdata=part["signature"].astype("string").fillna("").to_numpy(dtype=object),
                hovertemplate="%{customdata}<extra>" + kind + "</extra>",
                showlegend=True,
            ),
            row=1,
            col=1,
        )
    runway = tidy.vault_runway(timed, now=now, window=runway_window)
    if runway is not None and runway.empty_at is not None:
        figure.add_trace(
            go.Scatter(
                name=f"runway ≈ {runway.runway.total_seconds() / 86400:.1f} days"
                if runway.runway
                else "runway",
                x=[runway.as_of.isoformat(), runway.empty_at.isoformat()],
                y=[runway.nos_balance, 0.0],
                mode="lines",
                line={"dash": "dash", "color": VAULT_KIND_COLORS["withdrawal"]},
                showlegend=True,
            ),
            row=1,
            col=1,
        )
    figure.update_layout(title={"text": title}, showlegend=True)
    figure.update_xaxes(type="date")
    return _with_template(figure, template)


MAX_COST_LINES = 20
"""plot_cost draws this many deployments (the biggest spenders) and sums the rest in one line."""


def _biggest_spenders(cost: pd.DataFrame, keep: int) -> pd.DataFrame:
    validate_schema(cost, "cost")
    totals = (
        cost.groupby("deployment", dropna=False)["total_nos"].sum().sort_values(ascending=False)
    )
    if len(totals) <= keep:
        return cost
    rest = totals.index[keep - 1 :]
    label = f"other ({len(rest)} deployments)"
    relabelled = cost.copy()
    relabelled.loc[relabelled["deployment"].isin(rest).fillna(False), "deployment"] = label
    return relabelled


def plot_cost(
    cost: pd.DataFrame, *, template: Any = None, title: str = "Cumulative spend per deployment"
) -> go.Figure:
    """Cumulative NOS spend (fee included) per deployment over time; USD in the hover.

    Beyond ``MAX_COST_LINES`` deployments the smaller spenders are summed into one line.
    """
    spend = tidy.cumulative_cost_frame(_biggest_spenders(cost, MAX_COST_LINES))
    if spend.empty:
        return empty_figure(title, "No billed jobs", template)
    deployments = list(dict.fromkeys(spend["deployment"]))
    trace_type = go.Scattergl if len(spend) > WEBGL_THRESHOLD else go.Scatter
    figure = go.Figure()
    for deployment in deployments:
        part = spend[(spend["deployment"] == deployment).to_numpy(dtype=bool)]
        figure.add_trace(
            trace_type(
                name=tidy.short_id(deployment),
                x=_iso(part["time"]),
                y=part["spend_nos"].tolist(),
                customdata=part["spend_usd"].round(4).tolist(),
                mode="lines",
                hovertemplate="%{y:.4f} NOS (≈ $%{customdata})<extra>%{fullData.name}</extra>",
                showlegend=True,
            )
        )
    figure.update_layout(
        title={"text": title},
        showlegend=True,
        xaxis={"type": "date", "title": {"text": "time (UTC)"}},
        yaxis={"title": {"text": "NOS spent (incl. network fee)"}},
    )
    return _with_template(figure, template)


def plot_fleet_overview(
    deployments: Any,
    jobs: Any = None,
    *,
    now: datetime | None = None,
    template: Any = None,
    title: str = "Fleet overview",
) -> go.Figure:
    """Deployments per status (left) and running jobs over time (right, when jobs are given)."""
    frame = as_frame(deployments, "deployments")
    if frame.empty:
        return empty_figure(title, "No deployments", template)
    counts = tidy.status_counts_frame(frame)
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Deployments by status", "Running jobs"))
    figure.add_trace(
        go.Bar(
            name="deployments",
            x=counts["status"].tolist(),
            y=counts["count"].tolist(),
            marker={"color": [DEPLOYMENT_STATUS_COLORS[s] for s in counts["status"]]},
            showlegend=True,
        ),
        row=1,
        col=1,
    )
    if jobs is not None:
        active = tidy.active_jobs_frame(jobs, now=now)
        figure.add_trace(
            go.Scatter(
                name="running jobs",
                x=_iso(active["time"]),
                y=active["active"].tolist(),
                mode="lines",
                line={"shape": "hv", "color": JOB_STATE_COLORS["RUNNING"]},
                showlegend=True,
            ),
            row=1,
            col=2,
        )
        figure.update_xaxes(type="date", row=1, col=2)
    else:
        top = frame.sort_values("active_jobs", ascending=False, na_position="last").head(20)
        figure.add_trace(
            go.Bar(
                name="running jobs",
                x=[tidy.short_id(d) for d in top["id"]],
                y=top["active_jobs"].fillna(0).astype("int64").tolist(),
                marker={"color": JOB_STATE_COLORS["RUNNING"]},
                showlegend=True,
            ),
            row=1,
            col=2,
        )
    figure.update_xaxes(
        categoryorder="array", categoryarray=counts["status"].tolist(), row=1, col=1
    )
    figure.update_layout(title={"text": title}, showlegend=True)
    return _with_template(figure, template)
