"""``core.results``: the official ``JobResults`` shape parsed into typed values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nosana_nb.core.results import parse_job_results


def op(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "providerId": None,
        "operationId": "train",
        "group": "train",
        "status": "success",
        "startTime": 1_767_225_600_000,
        "endTime": 1_767_225_660_000,
        "exitCode": 0,
        "logs": [{"type": "stdout", "log": "hi", "timestamp": "2026-01-01T00:00:01.123456789Z"}],
    }
    return base | changes


def test_milliseconds_seconds_and_nanosecond_stamps() -> None:
    parsed = parse_job_results(
        {
            "status": "success",
            "startTime": 1_767_225_600_000,
            "endTime": 1_767_225_660,
            "opStates": [op()],
        }
    )
    assert parsed.started_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert parsed.ended_at == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)  # seconds read as seconds
    (only,) = parsed.ops
    assert only.duration == timedelta(minutes=1)
    assert only.logs[0].timestamp == datetime(2026, 1, 1, 0, 0, 1, 123456, tzinfo=UTC)
    assert not parsed.failed


def test_a_non_zero_exit_is_a_failure_and_errors_are_kept() -> None:
    parsed = parse_job_results(
        {
            "status": "success",
            "startTime": 0,
            "endTime": None,
            "errors": ["boom"],
            "opStates": [op(exitCode=137, endTime=None, error={"event": "x", "message": "OOM"})],
        }
    )
    assert parsed.failed
    assert parsed.errors == ("boom",)
    assert parsed.started_at is None
    assert parsed.ops[0].ended_at is None
    assert parsed.ops[0].error == "OOM"
    assert parsed.ops[0].duration is None


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("Qm...", "JSON object"),
        ({"status": "x"}, "opStates"),
        ({"opStates": [1]}, "op state"),
        ({"opStates": [op(exitCode=1.5)]}, "exitCode"),
        ({"opStates": [op(startTime="soon")]}, "startTime"),
        ({"opStates": [op(logs=[{"log": "no type"}])]}, "type"),
    ],
)
def test_other_shapes_are_refused(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_job_results(document)
