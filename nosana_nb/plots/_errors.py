"""Errors over time: error log lines (stderr and nodeerr) per deployment per time bucket.

The tidy frame (:func:`errors_over_time_frame`) is pure and tested on its own; the figure draws
one bar trace per deployment, stacked, so the total height is all errors in that bucket.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import short_id
from nosana_nb.frames.schema import validate_schema
from nosana_nb.plots._figures import _iso, _with_template, empty_figure

_BUCKETS = (
    ("1s", 60),
    ("10s", 600),
    ("1min", 3600),
    ("10min", 6 * 3600),
    ("1h", 3 * 86400),
    ("6h", 30 * 86400),
)
"""(bucket, longest span it is picked for): about 60 to 360 buckets across the span."""
TIDY_COLUMNS = ("deployment", "bucket", "errors")


def _auto_bucket(span: pd.Timedelta) -> str:
    seconds = span.total_seconds()
    for bucket, longest in _BUCKETS:
        if seconds <= longest:
            return bucket
    return "1D"


def errors_over_time_frame(logs: pd.DataFrame, *, bucket: str | None = None) -> pd.DataFrame:
    """Error lines per (deployment, bucket start): columns deployment, bucket, errors.

    ``logs`` is a ``logs_dataframe``; ``bucket`` a pandas frequency ("1min", "1h"), picked from
    the span of the error lines when None. Buckets without errors are left out; rows are sorted
    by deployment, then time. Lines without a timestamp cannot be placed and are dropped.

    Args:
        logs: a ``logs`` frame.
        bucket: a pandas frequency ("1min", "1h"), or None to pick one.

    Returns:
        Columns deployment, bucket, errors.

    Raises:
        ValidationError: ``bucket`` is not a pandas frequency.
    """
    validate_schema(logs, "logs")
    errors = logs[(logs["level"] == "error").to_numpy(dtype=bool) & logs["timestamp"].notna()]
    if errors.empty:
        return pd.DataFrame(
            {
                "deployment": pd.Series([], dtype="string"),
                "bucket": pd.Series([], dtype="datetime64[ns, UTC]"),
                "errors": pd.Series([], dtype="Int64"),
            }
        )
    chosen = bucket or _auto_bucket(errors["timestamp"].max() - errors["timestamp"].min())
    try:
        starts = errors["timestamp"].dt.floor(chosen)
    except ValueError:
        raise ValidationError(
            f"bucket must be a fixed pandas frequency like '1min' or '1h', got {bucket!r}",
            argument="bucket",
        ) from None
    counts = (
        pd.DataFrame({"deployment": errors["deployment"], "bucket": starts})
        .groupby(["deployment", "bucket"], observed=True, sort=True)
        .size()
        .rename("errors")
        .reset_index()
    )
    counts["errors"] = counts["errors"].astype("Int64")
    return counts[list(TIDY_COLUMNS)].reset_index(drop=True)


def plot_errors_over_time(
    logs: pd.DataFrame,
    *,
    bucket: str | None = None,
    template: Any = None,
    title: str = "Errors over time",
) -> go.Figure:
    """Stacked bars of error log lines (stderr, nodeerr) per deployment over time.

    Args:
        logs: a ``logs`` frame.
        bucket: a pandas frequency, or None to pick one.
        template: a plotly template (e.g. ``"plotly_dark"``); default plotly's.
        title: the chart's title.

    Returns:
        The figure.
    """
    tidy = errors_over_time_frame(logs, bucket=bucket)
    if tidy.empty:
        return empty_figure(title, "No error lines", template)
    figure = go.Figure()
    for deployment in dict.fromkeys(tidy["deployment"]):
        part = tidy[(tidy["deployment"] == deployment).to_numpy(dtype=bool)]
        figure.add_trace(
            go.Bar(
                name=short_id(deployment),
                x=_iso(part["bucket"]),
                y=part["errors"].astype(int).tolist(),
                hovertemplate="%{y} error lines<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        title={"text": title},
        barmode="stack",
        showlegend=True,
        xaxis={"type": "date", "title": {"text": "time (UTC)"}},
        yaxis={"title": {"text": "error lines"}},
    )
    return _with_template(figure, template)
