"""Figure builders: each takes a frame, computes its tidy frame (``_tidy.py``), then draws.

Figures are values: nothing here calls ``.show()`` or touches ``plotly.io.templates.default``;
``template=None`` leaves the user's default in force. Traces are one per state, never one per
job; above ``WEBGL_THRESHOLD`` bars become WebGL line segments so 10,000 jobs stay light.

Every figure has the same frame (``_finish``): the title top left, a horizontal legend between
the title and the plot (never clipped, whatever the width), a height computed from what is
drawn — at least ``MIN_PLOT_HEIGHT_PX`` of plot area and ``ROW_HEIGHT_PX`` per timeline row —
and an x-range that covers the recorded history and nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nosana_nb.frames import as_frame, short_id, short_id_labels, utc_now
from nosana_nb.frames.schema import validate_schema
from nosana_nb.plots import _tidy as tidy
from nosana_nb.plots._colors import (
    DEPLOYMENT_STATUS_COLORS,
    DEPLOYMENT_STATUS_PATTERNS,
    ERROR_EVENT_COLOR,
    EVENT_COLOR,
    JOB_STATE_COLORS,
    VAULT_KIND_COLORS,
    VAULT_KIND_LABELS,
    for_theme,
    is_dark_template,
    template_background,
)

LAMPORTS_PER_SOL = 10**9
NOS_BASE_UNITS_PER_NOS = 10**6
WEBGL_THRESHOLD = 1000
"""Bars above this count are drawn as WebGL line segments (Scattergl), one trace per state."""

_TITLE_PX = 48  # the title line and the space above it
_SUBTITLE_PX = 20
_LEGEND_ROW_PX = 20
_LEGEND_PAD_PX = 26  # 22 measured, plus slack for fonts that render a little taller
_BOTTOM_PX = 80  # two-line date ticks set 6 px off the axis, and the axis title
_LEGEND_WIDTH_PX = 700  # legend lines are counted for a page this narrow (an 800 px window)
_BAR_FILL = 0.72  # share of a row a bar fills
_BAR_MAX_PX = 44  # a lone row's bar stays a bar, not a block
_SHORT_SEGMENT = 0.006  # segments shorter than this share of the x-range get a visible tick
_VAULT_NOS_PX = 288
_VAULT_SOL_PX = 248
_VAULT_GAP_PX = 36
_COST_PX = 320
_FLEET_PX = 300
_SUBPLOT_TITLE_PX = 28


def _with_template(figure: go.Figure, template: Any) -> go.Figure:
    # None keeps the template the figure was built with: the user's pio.templates.default
    if template is not None:
        figure.update_layout(template=template)
    return figure


def _legend_rows(names: Sequence[str]) -> int:
    """Lines a horizontal legend of ``names`` takes at ``_LEGEND_WIDTH_PX``, laid out as
    plotly.js does: one line if all entries fit, else a grid of the widest entry's width."""
    if not names:
        return 0
    widths = [44 + 7.5 * len(name) for name in names]  # symbol, gaps, ~7.5 px a character
    if sum(widths) <= _LEGEND_WIDTH_PX:
        return 1
    columns = max(1, int(_LEGEND_WIDTH_PX // max(widths)))
    return -(-len(names) // columns)


def _finish(
    figure: go.Figure,
    *,
    title: str,
    plot_px: int,
    legend_names: Sequence[str],
    subtitle: str = "",
    extra_top_px: int = 0,
) -> None:
    """Title, legend under it, margins, and a height that leaves ``plot_px`` to draw in.

    The legend hangs from the title (container coordinates) and plotly pushes the plot down
    by the room it really takes. The height reserves the room it takes on a narrow page
    (``_LEGEND_WIDTH_PX``); on a wider one the spare goes to the plot, never to a gap.
    """
    rows = _legend_rows(legend_names)
    # measured in chromium: ~10 px of padding, 19 px a line, 12 px down to the plot
    legend_px = _LEGEND_PAD_PX + _LEGEND_ROW_PX * rows if rows else 0
    heading_px = _TITLE_PX + (_SUBTITLE_PX if subtitle else 0)
    top = heading_px + extra_top_px
    height = top + legend_px + plot_px + _BOTTOM_PX
    title_spec: dict[str, Any] = {
        "text": title,
        "x": 0,
        "xref": "paper",
        "xanchor": "left",
        "y": 1,
        "yref": "container",
        "yanchor": "top",
        "pad": {"t": 16},
    }
    if subtitle:
        title_spec["subtitle"] = {"text": subtitle}
    figure.update_layout(
        title=title_spec,
        height=height,
        margin={"t": top, "b": _BOTTOM_PX, "l": 16, "r": 24, "autoexpand": True},
        showlegend=bool(legend_names),
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1 - heading_px / height,
            "yanchor": "top",
            "yref": "container",
            "traceorder": "normal",
            "itemsizing": "constant",
        },
        hovermode="closest",
    )
    # x labels clear of the y-axis' lowest label where the two axes meet
    figure.update_xaxes(automargin=True, ticklabelstandoff=6)
    figure.update_yaxes(automargin=True)


def empty_figure(title: str, message: str, template: Any = None) -> go.Figure:
    """A figure with a title and a centred note, for frames with nothing to draw.

    Args:
        title: the chart's title.
        message: the note.
        template: a plotly template.

    Returns:
        The figure.
    """
    figure = go.Figure()
    _finish(figure, title=title, plot_px=tidy.MIN_PLOT_HEIGHT_PX, legend_names=[])
    figure.update_layout(
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


def _bar_width(rows: int, plot_px: int) -> float:
    """Bar thickness in category units: most of a row, at most ``_BAR_MAX_PX`` pixels."""
    band_px = plot_px / max(1, rows)
    return min(_BAR_FILL, _BAR_MAX_PX / band_px)


_HOVER = "%{hovertext}<extra></extra>"  # the tidy frames write each segment's hover text


def _interval_traces(
    frame: pd.DataFrame,
    *,
    color_column: str,
    colors: Mapping[str, str],
    order: Sequence[str],
    label_column: str | None,
    bar_width: float,
    bar_px: float,
    x_span: pd.Timedelta,
    background: str,
    patterns: Mapping[str, str] | None = None,
) -> list[Any]:
    """One trace per category: horizontal bars (few rows) or WebGL segments (many); the
    frame's ``hover`` (``hover_brief`` for WebGL) column is each segment's hover text.

    Bars too short to see at this scale get a tick mark in the same legend group, so a status
    that lasted an instant is still on the chart (where the frame's ``tick`` allows).
    """
    traces: list[Any] = []
    use_webgl = len(frame) > WEBGL_THRESHOLD
    for name in order:
        part = frame[(frame[color_column] == name).fillna(False).to_numpy(dtype=bool)]
        if part.empty:
            continue
        hover = part["hover"].astype(object).to_numpy()
        if use_webgl:
            brief = part["hover_brief"].astype(object).to_numpy()
            traces.append(_segments(part, name, colors[name], brief))
            continue
        duration = part["end"] - part["start"]
        duration_ms = (duration.dt.total_seconds() * 1000).to_numpy()
        traces.append(
            go.Bar(
                name=name,
                orientation="h",
                y=part["row"].tolist(),
                base=_iso(part["start"]),
                x=np.maximum(duration_ms, 1.0).tolist(),
                width=bar_width,
                # a hairline of background between neighbours: two segments, not one
                marker=_bar_marker(colors[name], (patterns or {}).get(name), background),
                text=part[label_column].astype("string").fillna("").tolist()
                if label_column
                else None,
                textposition="inside",
                insidetextanchor="middle",
                textangle=0,
                hovertext=hover.tolist(),
                hovertemplate=_HOVER,
                showlegend=True,
                legendgroup=name,
            )
        )
        short = (duration < x_span * _SHORT_SEGMENT).to_numpy(dtype=bool)
        if "tick" in part.columns:  # the frame says which brief segments deserve a mark
            short = short & part["tick"].to_numpy(dtype=bool)
        if short.any():
            ticks = part[short]
            traces.append(
                go.Scatter(
                    # its own name keeps "one bar trace per state"; the legend group ties it
                    name=f"{name} (short)",
                    mode="markers",
                    x=_iso(ticks["start"]),
                    y=ticks["row"].tolist(),
                    marker={
                        "symbol": "line-ns",
                        "size": bar_px,
                        "line": {"color": colors[name], "width": 4},
                    },
                    hovertext=hover[short].tolist(),
                    hovertemplate=_HOVER,
                    showlegend=False,
                    legendgroup=name,
                )
            )
    return traces


def _bar_marker(color: str, pattern: str | None, background: str) -> dict[str, Any]:
    marker: dict[str, Any] = {"color": color, "line": {"width": 1, "color": background}}
    if pattern:
        # light enough that a label on the bar stays readable
        marker["pattern"] = {
            "shape": pattern,
            "fgcolor": background,
            "fgopacity": 0.45,
            "size": 10,
            "solidity": 0.2,
        }
    return marker


def _segments(part: pd.DataFrame, name: str, color: str, hover: np.ndarray) -> Any:
    count = len(part)
    xs = np.empty(count * 3, dtype=object)
    ys = np.empty(count * 3, dtype=object)
    texts = np.empty(count * 3, dtype=object)
    xs[0::3], xs[1::3], xs[2::3] = _iso(part["start"]), _iso(part["end"]), None
    rows = part["row"].to_numpy(dtype=object)
    ys[0::3], ys[1::3], ys[2::3] = rows, rows, None
    texts[0::3], texts[1::3], texts[2::3] = hover, hover, None
    return go.Scattergl(
        name=name,
        mode="lines",
        x=xs.tolist(),
        y=ys.tolist(),
        line={"color": color, "width": 6},
        hovertext=texts.tolist(),
        hovertemplate=_HOVER,
        showlegend=True,
        legendgroup=name,
    )


def _timeline_axes(
    figure: go.Figure, rows: list[str], x_range: tuple[pd.Timestamp, pd.Timestamp]
) -> None:
    figure.update_layout(
        barmode="overlay",
        uniformtext={"mode": "hide", "minsize": 10},  # a label that does not fit is left out
        xaxis={
            "type": "date",
            "title": {"text": "time (UTC)"},
            "range": [x_range[0].isoformat(), x_range[1].isoformat()],
        },
        yaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": rows,
            "autorange": "reversed",
        },
    )


def _legend_names(figure: go.Figure) -> list[str]:
    return [str(trace.name) for trace in figure.data if trace.showlegend]


def plot_job_timeline(
    jobs: Any,
    events: Any = None,
    *,
    now: datetime | None = None,
    template: Any = None,
    title: str = "Jobs per replica slot",
) -> go.Figure:
    """Gantt of jobs per replica slot, coloured by state; events as markers on the job they
    name (else on the deployment's first row). The figure grows 28–32 px per row.

    Args:
        jobs: the jobs frame (or what builds it).
        events: the events frame (or what builds it), drawn as markers.
        now: the end of open bars (default: the service's clock).
        template: a plotly template (e.g. ``"plotly_dark"``); default plotly's.
        title: the chart's title.

    Returns:
        The figure.
    """
    timeline = tidy.job_timeline_frame(jobs, now=now)
    if timeline.empty:
        return empty_figure(title, "No jobs", template)
    dark = is_dark_template(template)
    background = template_background(template)
    rows = list(dict.fromkeys(timeline["row"]))
    plot_px = tidy.plot_area_height(len(rows))
    markers = tidy.event_markers_frame(events, timeline) if events is not None else None
    event_times = markers["time"] if markers is not None else timeline["start"]
    x_range = tidy.history_range(
        pd.concat([timeline["listed_at"], event_times], ignore_index=True), timeline["end"]
    )
    # a wait under a pixel at this scale (1/1000 of the axis) is not drawn
    phases = tidy.job_phases_frame(timeline, min_wait=(x_range[1] - x_range[0]) / 1000)
    bar_width = _bar_width(len(rows), plot_px)
    traces = _interval_traces(
        phases,
        color_column="phase",
        colors=for_theme(JOB_STATE_COLORS, dark=dark),
        order=list(JOB_STATE_COLORS),
        label_column="label",
        bar_width=bar_width,
        bar_px=bar_width * plot_px / len(rows),
        x_span=x_range[1] - x_range[0],
        background=background,
    )
    figure = go.Figure(data=traces)
    if markers is not None:
        for is_error, label, color in (
            (False, "event", EVENT_COLOR),
            (True, "error event", ERROR_EVENT_COLOR),
        ):
            part = markers[(markers["is_error"] == is_error).to_numpy(dtype=bool)]
            if part.empty:
                continue
            details = pd.DataFrame(
                {
                    "type": part["type"].astype("string").fillna(""),
                    "message": part["message"].astype("string").fillna(""),
                    "time": [tidy.format_time(t) for t in part["time"]],
                }
            )
            figure.add_trace(
                go.Scatter(
                    name=label,
                    mode="markers",
                    x=_iso(part["time"]),
                    y=part["row"].tolist(),
                    marker={
                        "symbol": "diamond",
                        "size": 11,
                        "color": color,
                        "line": {"color": background, "width": 1.5},
                    },
                    customdata=details.to_numpy(dtype=object),
                    hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}"
                    "<br>%{customdata[2]}<extra></extra>",
                    showlegend=True,
                )
            )
    _timeline_axes(figure, rows, x_range)
    _finish(figure, title=title, plot_px=plot_px, legend_names=_legend_names(figure))
    return _with_template(figure, template)


def plot_status_history(
    history: pd.DataFrame,
    *,
    now: datetime | None = None,
    template: Any = None,
    title: str = "Deployment status over time",
) -> go.Figure:
    """One row per deployment; a segment per status (dashboard colours), the duration on
    hover. A status that lasted an instant is still marked.

    Args:
        history: a ``status_history`` frame (``Watcher.to_dataframe()``).
        now: the end of open segments (default: the service's clock).
        template: a plotly template (e.g. ``"plotly_dark"``); default plotly's.
        title: the chart's title.

    Returns:
        The figure.
    """
    segments = tidy.status_segments_frame(history, now=now)
    if segments.empty:
        return empty_figure(title, "No status history", template)
    dark = is_dark_template(template)
    rows = list(dict.fromkeys(segments["row"]))
    plot_px = tidy.plot_area_height(len(rows))
    x_range = tidy.history_range(segments["start"], segments["end"])
    bar_width = _bar_width(len(rows), plot_px)
    traces = _interval_traces(
        segments,
        color_column="status",
        colors=for_theme(DEPLOYMENT_STATUS_COLORS, dark=dark),
        order=list(DEPLOYMENT_STATUS_COLORS),
        label_column="status",
        bar_width=bar_width,
        bar_px=bar_width * plot_px / len(rows),
        x_span=x_range[1] - x_range[0],
        background=template_background(template),
        patterns=DEPLOYMENT_STATUS_PATTERNS,
    )
    figure = go.Figure(data=traces)
    _timeline_axes(figure, rows, x_range)
    _finish(figure, title=title, plot_px=plot_px, legend_names=_legend_names(figure))
    return _with_template(figure, template)


def _padded_range(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 if high > low else max(abs(high) * 0.05, 1e-9)
    return [low - pad, high + pad]


def _runway_subtitle(runway: tidy.Runway | None, window: timedelta) -> str:
    if runway is None:
        return ""
    if runway.runway is None or runway.empty_at is None:
        return runway.note
    return (
        f"runway ≈ {tidy.format_duration(runway.runway)} at "
        f"{runway.burn_nos_per_day:,.4g} NOS/day (the last {tidy.format_duration(window)}): "
        f"empty around {runway.empty_at:%Y-%m-%d %H:%M} UTC"
    )


def plot_vault_balance(
    balance: pd.DataFrame,
    *,
    deployments: Any = None,
    now: datetime | None = None,
    runway_window: timedelta = timedelta(days=7),
    template: Any = None,
    title: str = "Vault balance",
) -> go.Figure:
    """NOS (top) and SOL (bottom) up to now, every transaction marked by kind (top-up, escrow,
    refund, withdrawal, fee); the NOS runway in the subtitle.

    The x-axis spans the recorded history only; the runway is a projection, so it is written
    out rather than drawn days ahead. Pass the ``deployments`` paid from this vault to get no
    runway once they have stopped (see :func:`vault_runway`).

    Args:
        balance: a ``vault_balance`` frame.
        deployments: the deployments this vault pays for.
        now: the service's now (default: its clock).
        runway_window: the burn is measured over this much recent history.
        template: a plotly template (e.g. ``"plotly_dark"``); default plotly's.
        title: the chart's title.

    Returns:
        The figure.
    """
    validate_schema(balance, "vault_balance")
    timed = balance[balance["time"].notna().to_numpy(dtype=bool)].reset_index(drop=True)
    if timed.empty:
        return empty_figure(title, "No vault transactions", template)
    dark = is_dark_template(template)
    runway = tidy.vault_runway(timed, deployments=deployments, now=now, window=runway_window)
    as_of = runway.as_of if runway is not None else utc_now(now)
    x_range = tidy.history_range(timed["time"], timed["time"], now=as_of)
    plot_px = _VAULT_NOS_PX + _VAULT_GAP_PX + _VAULT_SOL_PX
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=_VAULT_GAP_PX / plot_px,
        row_heights=[_VAULT_NOS_PX, _VAULT_SOL_PX],
    )
    line_color = "#8C8C8C" if dark is None else "#D0D0D0" if dark else "#4A4A4A"
    # from the balance before the first transaction, held after the last one until now
    first = timed["time"].iloc[0].isoformat()
    times = [first, *_iso(timed["time"]), as_of.isoformat()]
    for row, column, unit in ((1, "nos", "NOS"), (2, "sol", "SOL")):
        scale = LAMPORTS_PER_SOL if column == "sol" else NOS_BASE_UNITS_PER_NOS
        before = timed[f"{column}_before"].iloc[0]
        opening = float(before) / scale if pd.notna(before) else None
        values = timed[column].astype("float64").tolist()
        # the axis frames what happened after the first transaction: a 200 NOS top-up from
        # zero must not flatten the 0.1 NOS job deposits into a straight line
        figure.update_yaxes(range=_padded_range(values), row=row, col=1)
        figure.add_trace(
            go.Scatter(
                name=f"{unit} balance",
                x=times,
                y=[opening, *values, values[-1]],
                mode="lines",
                line={"shape": "hv", "color": line_color, "width": 2},
                hovertemplate=f"%{{y:,.6g}} {unit}<extra>balance</extra>",
                showlegend=False,
            ),
            row=row,
            col=1,
        )
    kinds = [str(kind) for kind in VAULT_KIND_COLORS if (timed["kind"] == kind).any()]
    colors = for_theme(VAULT_KIND_COLORS, dark=dark)
    outline = template_background(template)
    # the rare, user-made moves are drawn last, on top of the job traffic at the same instant
    for kind in sorted(kinds, key=lambda k: k in ("topup", "withdrawal")):
        of_kind = (timed["kind"] == kind).fillna(False).to_numpy(dtype=bool)
        shown_in_legend = False
        for row, column, unit in ((1, "nos", "NOS"), (2, "sol", "SOL")):
            moved = (timed[f"{column}_delta"].fillna(0) != 0).to_numpy(dtype=bool)
            part = timed[of_kind & moved]
            if part.empty:
                continue
            details = pd.DataFrame(
                {
                    "change": [f"{v:+,.6g} {unit}" for v in part[f"{column}_change"].fillna(0)],
                    "time": [tidy.format_time(t) for t in part["time"]],
                    "signature": [short_id(s) for s in part["signature"]],
                }
            )
            figure.add_trace(
                go.Scatter(
                    name=VAULT_KIND_LABELS[kind],
                    x=_iso(part["time"]),
                    y=part[column].astype("float64").tolist(),
                    mode="markers",
                    marker={
                        "color": colors[kind],
                        "size": 10,
                        "line": {"color": outline, "width": 1.5},
                    },
                    customdata=details.to_numpy(dtype=object),
                    hovertemplate=f"<b>{VAULT_KIND_LABELS[kind]}</b> %{{customdata[0]}}"
                    f"<br>balance %{{y:,.6g}} {unit}<br>%{{customdata[1]}}"
                    "<br>tx %{customdata[2]}<extra></extra>",
                    legendgroup=kind,
                    legendrank=1000 + kinds.index(kind),  # legend in the usual kind order
                    showlegend=not shown_in_legend,
                ),
                row=row,
                col=1,
            )
            shown_in_legend = True
    figure.update_xaxes(type="date", range=[x_range[0].isoformat(), x_range[1].isoformat()])
    figure.update_xaxes(title={"text": "time (UTC)"}, row=2, col=1)
    figure.update_yaxes(title={"text": "NOS"}, rangemode="normal", row=1, col=1)
    figure.update_yaxes(title={"text": "SOL"}, row=2, col=1)
    _finish(
        figure,
        title=title,
        plot_px=plot_px,
        legend_names=_legend_names(figure),
        subtitle=_runway_subtitle(runway, runway_window),
    )
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

    Args:
        cost: a ``cost`` frame.
        template: a plotly template (e.g. ``"plotly_dark"``); default plotly's.
        title: the chart's title.

    Returns:
        The figure.
    """
    spend = tidy.cumulative_cost_frame(_biggest_spenders(cost, MAX_COST_LINES))
    if spend.empty:
        return empty_figure(title, "No billed jobs", template)
    deployments = list(dict.fromkeys(spend["deployment"]))
    labels = short_id_labels(deployments)
    trace_type = go.Scattergl if len(spend) > WEBGL_THRESHOLD else go.Scatter
    figure = go.Figure()
    for deployment in deployments:
        part = spend[(spend["deployment"] == deployment).to_numpy(dtype=bool)]
        figure.add_trace(
            trace_type(
                name=labels[deployment],
                x=_iso(part["time"]),
                y=part["spend_nos"].tolist(),
                customdata=part["spend_usd"].round(4).tolist(),
                mode="lines",
                line={"width": 2},
                hovertemplate="%{y:,.4f} NOS (≈ $%{customdata})<extra>%{fullData.name}</extra>",
                showlegend=True,
            )
        )
    x_range = tidy.history_range(spend["time"], spend["time"])
    figure.update_layout(
        xaxis={
            "type": "date",
            "title": {"text": "time (UTC)"},
            "range": [x_range[0].isoformat(), x_range[1].isoformat()],
        },
        yaxis={"title": {"text": "NOS spent (incl. network fee)"}, "rangemode": "tozero"},
    )
    _finish(figure, title=title, plot_px=_COST_PX, legend_names=_legend_names(figure))
    return _with_template(figure, template)


def plot_fleet_overview(
    deployments: Any,
    jobs: Any = None,
    *,
    now: datetime | None = None,
    template: Any = None,
    title: str = "Fleet overview",
) -> go.Figure:
    """Deployments per status (left) and running jobs over time (right, when jobs are given).

    Args:
        deployments: the deployments frame (or what builds it).
        jobs: the jobs frame (or what builds it).
        now: the end of open jobs (default: the service's clock).
        template: a plotly template (e.g. ``"plotly_dark"``); default plotly's.
        title: the chart's title.

    Returns:
        The figure.
    """
    frame = as_frame(deployments, "deployments")
    if frame.empty:
        return empty_figure(title, "No deployments", template)
    dark = is_dark_template(template)
    colors = for_theme(DEPLOYMENT_STATUS_COLORS, dark=dark)
    counts = tidy.status_counts_frame(frame)
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("Deployments by status", "Running jobs"),
        horizontal_spacing=0.12,
    )
    figure.add_trace(
        go.Bar(
            name="deployments",
            x=counts["status"].tolist(),
            y=counts["count"].tolist(),
            marker={"color": [colors[s] for s in counts["status"]]},
            hovertemplate="%{x}: %{y} deployments<extra></extra>",
            showlegend=False,
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
                line={"shape": "hv", "color": colors["RUNNING"], "width": 2},
                hovertemplate="%{y} running<br>%{x}<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=2,
        )
        if not active.empty:
            x_range = tidy.history_range(active["time"], active["time"])
            figure.update_xaxes(
                range=[x_range[0].isoformat(), x_range[1].isoformat()], row=1, col=2
            )
        figure.update_xaxes(type="date", row=1, col=2)
    else:
        top = frame.sort_values("active_jobs", ascending=False, na_position="last").head(20)
        labels = short_id_labels(top["id"])
        figure.add_trace(
            go.Bar(
                name="running jobs",
                x=[labels.get(d, "—") for d in top["id"]],
                y=top["active_jobs"].fillna(0).astype("int64").tolist(),
                marker={"color": colors["RUNNING"]},
                hovertemplate="%{x}: %{y} running jobs<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    figure.update_xaxes(
        categoryorder="array", categoryarray=counts["status"].tolist(), row=1, col=1
    )
    figure.update_yaxes(rangemode="tozero")
    _finish(
        figure,
        title=title,
        plot_px=_FLEET_PX,
        legend_names=[],
        extra_top_px=_SUBPLOT_TITLE_PX,
    )
    return _with_template(figure, template)
