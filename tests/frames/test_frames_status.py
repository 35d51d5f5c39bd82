"""Status history: segments from a recording, and an approximate history from events + jobs."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import status_history_dataframe

A = "DepA111111111111111111111111111111111111111"
B = "DepB111111111111111111111111111111111111111"


def frame(status: str, at: str, deployment: str = A, **extra: Any) -> dict[str, Any]:
    return {"type": "deployment", "status": status, "deployment": deployment, "time": at} | extra


def test_recorded_frames_become_segments_with_repeats_collapsed() -> None:
    history = status_history_dataframe(
        [
            frame("STARTING", "2025-01-01T00:00:00.000Z"),
            frame("RUNNING", "2025-01-01T00:00:02.000Z"),
            {"type": "job", "job": "j", "state": "RUNNING"},  # other frames are skipped
            frame("RUNNING", "2025-01-01T00:05:00.000Z", replicas=3),  # a replicas change
            frame("STOPPED", "2025-01-01T01:00:00.000Z"),
            frame("RUNNING", "2025-01-01T00:30:00.000Z", deployment=B),
        ]
    )
    a = history[history["deployment"] == A]
    assert a["status"].tolist() == ["STARTING", "RUNNING", "STOPPED"]
    assert a["duration"].tolist()[:2] == [pd.Timedelta(seconds=2), pd.Timedelta(seconds=3598)]
    assert pd.isna(a["end"].iloc[-1])
    assert pd.isna(a["duration"].iloc[-1])
    assert set(history["source"]) == {"stream"}
    assert history[history["deployment"] == B]["status"].tolist() == ["RUNNING"]


def test_recorder_rows_as_a_dataframe_with_unix_times_and_alternate_keys() -> None:
    rows = pd.DataFrame(
        {
            "deploymentId": [A, A],
            "status": ["RUNNING", "INSUFFICIENT_FUNDS"],
            "received_at": [1_735_689_600, 1_735_689_660],
        }
    )
    history = status_history_dataframe(rows)
    assert history["status"].tolist() == ["RUNNING", "INSUFFICIENT_FUNDS"]
    assert history["start"].iloc[1] == pd.Timestamp(1_735_689_660, unit="s", tz="UTC")


def test_recording_rows_without_deployment_or_time_are_errors() -> None:
    with pytest.raises(ValidationError, match="deployment"):
        status_history_dataframe([{"status": "RUNNING", "time": "2025-01-01T00:00:00.000Z"}])
    with pytest.raises(ValidationError, match="time"):
        status_history_dataframe([{"status": "RUNNING", "deployment": A}])


def test_derived_history_from_events_and_jobs() -> None:
    deployments = [
        {
            "id": A,
            "status": "STOPPED",
            "strategy": "SIMPLE",
            "created_at": "2025-01-01T00:00:00.000Z",
            "updated_at": "2025-01-01T00:00:00.000Z",
        }
    ]
    events = [
        {
            "category": "Deployment",
            "deploymentId": A,
            "type": "JOB_LIST_ERROR",
            "message": "Transaction failed: InsufficientFundsForRent",
            "created_at": "2025-01-01T00:01:00.000Z",
        },
        {
            "category": "Deployment",
            "deploymentId": A,
            "type": "JOB_LIST_CONFIRMED",
            "message": "Successfully listed job - j",
            "created_at": "2025-01-01T00:11:00.000Z",
        },
    ]
    jobs = [
        {
            "job": "j",
            "deployment": A,
            "state": "COMPLETED",
            "time_start": 1_735_690_300,
            "timeEnd": 1_735_693_600,
            "created_at": "2025-01-01T00:11:00.000Z",
        }
    ]
    history = status_history_dataframe(deployments=deployments, events=events, jobs=jobs)
    assert history["status"].tolist() == ["DRAFT", "INSUFFICIENT_FUNDS", "RUNNING", "STOPPED"]
    assert history["start"].iloc[-1] == pd.Timestamp(1_735_693_600, unit="s", tz="UTC")
    assert set(history["source"]) == {"derived"}


def test_draft_deployment_without_activity_stays_draft() -> None:
    history = status_history_dataframe(
        deployments=[{"id": A, "status": "DRAFT", "created_at": "2025-01-01T00:00:00.000Z"}]
    )
    assert history["status"].tolist() == ["DRAFT"]


def test_nothing_to_go_on_is_an_error() -> None:
    with pytest.raises(ValidationError, match="recording"):
        status_history_dataframe()


def test_empty_recording_gives_the_empty_schema() -> None:
    assert status_history_dataframe([]).empty
