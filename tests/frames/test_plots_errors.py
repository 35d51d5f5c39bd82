"""``plot_errors_over_time``: the tidy frame first (exact counts per deployment and bucket),
then the figure drawn from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import logs_dataframe
from nosana_nb.plots import errors_over_time_frame, plot_errors_over_time

START = datetime(2026, 1, 1, tzinfo=UTC)


def upload(deployment: str, job: str, lines: list[tuple[str, int]]) -> dict[str, Any]:
    """A job's results with (stream, seconds after START) log lines."""
    return {
        "deployment": deployment,
        "job": job,
        "revision": 1,
        "results": {
            "status": "failed",
            "startTime": int(START.timestamp() * 1000),
            "endTime": None,
            "opStates": [
                {
                    "operationId": "run",
                    "status": "failed",
                    "exitCode": 1,
                    "logs": [
                        {
                            "type": stream,
                            "log": "x",
                            "timestamp": (START + timedelta(seconds=s)).isoformat(),
                        }
                        for stream, s in lines
                    ],
                }
            ],
        },
    }


def test_errors_are_counted_per_deployment_and_bucket() -> None:
    logs = logs_dataframe(
        [
            upload("depA", "j1", [("stdout", 5), ("stderr", 10), ("stderr", 50), ("nodeerr", 70)]),
            upload("depB", "j2", [("stderr", 130), ("stdout", 131)]),
            upload("depA", "j3", [("stderr", 65)]),
        ]
    )
    tidy = errors_over_time_frame(logs, bucket="1min")
    rows = [(d, b - START, n) for d, b, n in tidy.itertuples(index=False)]
    assert rows == [
        ("depA", timedelta(0), 2),
        ("depA", timedelta(minutes=1), 2),
        ("depB", timedelta(minutes=2), 1),
    ]
    figure = plot_errors_over_time(logs, bucket="1min")
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data] == ["depA", "depB"]
    assert [list(trace.y) for trace in figure.data] == [[2, 2], [1]]
    assert figure.layout.barmode == "stack"


def test_no_error_lines_draws_an_empty_figure_and_a_bad_bucket_is_refused() -> None:
    quiet = logs_dataframe([upload("depA", "j1", [("stdout", 1)])])
    assert errors_over_time_frame(quiet).empty
    assert list(errors_over_time_frame(logs_dataframe([])).columns) == [
        "deployment",
        "bucket",
        "errors",
    ]
    assert len(plot_errors_over_time(quiet).data) == 0
    noisy = logs_dataframe([upload("depA", "j1", [("stderr", 1)])])
    with pytest.raises(ValidationError, match="bucket"):
        errors_over_time_frame(noisy, bucket="1 fortnight")
    with pytest.raises(ValidationError):
        errors_over_time_frame(quiet.drop(columns="level"))
