"""Deployment status over time, as segments ``[start, end)`` per deployment.

Preferred source: recorded stream frames (``{"type": "deployment", "status": ...}`` plus the
deployment id and receive time a recorder adds). Without a recording the history is derived
from events, jobs and the current deployment record. That derivation is approximate: the
service writes no event for start, stop or archive (docs/wire-contract.md §7.2), so it infers
RUNNING from the first listing, INSUFFICIENT_FUNDS from funds errors, and the current status
from the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import _convert as cv
from nosana_nb.frames._cost import as_frame, utc_now
from nosana_nb.frames._wire import events_dataframe
from nosana_nb.frames.schema import DEPLOYMENT_STATUSES, empty_frame, schema_of

_ID_KEYS = ("deployment", "deployment_id", "deploymentId", "id")
_TIME_KEYS = ("time", "received_at", "recorded_at", "at", "timestamp", "created_at")
_FUNDS_MARKERS = ("insufficientfundsforrent", "insufficient credits", "insufficient funds")
_SUCCESS_EVENTS = ("JOB_LIST_CONFIRMED", "JOB_EXTEND_SUCCESSFUL", "JOB_STOPPED_CONFIRMED")


def _first_key(record: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    return next((record[k] for k in keys if record.get(k) is not None), None)


def _segments(points: pd.DataFrame, source: str) -> pd.DataFrame:
    """Collapse (deployment, status, start) points into segments ending at the next change."""
    if points.empty:
        return empty_frame("status_history")
    points = points.dropna(subset=["deployment", "status", "start"])
    points = points.sort_values(["deployment", "start"], kind="stable").reset_index(drop=True)
    # several changes at one instant: the last one is what held from then on
    superseded = points["deployment"].eq(points["deployment"].shift(-1)) & points["start"].eq(
        points["start"].shift(-1)
    )
    points = points[~superseded.to_numpy(dtype=bool)].reset_index(drop=True)
    same_deployment = points["deployment"].eq(points["deployment"].shift())
    repeated = same_deployment & points["status"].astype(object).eq(
        points["status"].astype(object).shift()
    )
    points = points[~repeated.to_numpy(dtype=bool)].reset_index(drop=True)
    next_start = points.groupby("deployment", sort=False)["start"].shift(-1)
    return cv.frame(
        {
            "deployment": points["deployment"],
            "status": points["status"],
            "start": points["start"],
            "end": next_start,
            "duration": next_start - points["start"],
            "source": pd.Categorical(
                [source] * len(points), categories=["stream", "derived"], ordered=True
            ),
        },
        schema_of("status_history"),
    )


def status_history_from_records(records: Any) -> pd.DataFrame:
    """Segments from recorded rows: deployment id, status and a time per row.

    Rows may be stream frames (non-``deployment`` frames and frames without a status are
    skipped) or a recorder's rows; a DataFrame is read row-wise the same way.
    """
    if isinstance(records, pd.DataFrame):
        records = records.to_dict("records")
    recs = cv.as_records(records, what="status_records")
    recs = [
        r for r in recs if r.get("type") in (None, "deployment") and r.get("status") is not None
    ]
    if not recs:
        return empty_frame("status_history")
    what = "status_records"
    ids = [_first_key(r, _ID_KEYS) for r in recs]
    times = [_first_key(r, _TIME_KEYS) for r in recs]
    cv.require(ids, what, "deployment")
    cv.require(times, what, "time")
    if all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
        start = cv.unix_datetimes(times, what, "time")
    else:
        start = cv.iso_datetimes([_iso(t) for t in times], what, "time")
    points = pd.DataFrame(
        {
            "deployment": cv.strings(ids, what, "deployment"),
            "status": cv.categories(
                [r.get("status") for r in recs], DEPLOYMENT_STATUSES, what, "status"
            ),
            "start": start,
        }
    )
    return _segments(points, "stream")


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _derived_points(
    deployment: Mapping[str, Any], events: pd.DataFrame, jobs: pd.DataFrame
) -> list[tuple[str, str, pd.Timestamp]]:
    ident = deployment["id"]
    points: list[tuple[str, str, pd.Timestamp]] = []
    if pd.notna(deployment.get("created_at")):
        points.append((ident, "DRAFT", deployment["created_at"]))
    activity = pd.concat([jobs["created_at"], events["created_at"]]).dropna()
    if not activity.empty:
        points.append((ident, "RUNNING", activity.min()))
    state = "RUNNING"
    for kind, message, at in events[["type", "message", "created_at"]].itertuples(index=False):
        if pd.isna(at):
            continue
        text = "" if pd.isna(message) else str(message).lower()
        if str(kind).endswith("_ERROR") and any(m in text for m in _FUNDS_MARKERS):
            state = "INSUFFICIENT_FUNDS"
        elif kind in _SUCCESS_EVENTS and state == "INSUFFICIENT_FUNDS":
            state = "RUNNING"
        elif kind == "RAPID_COMPLETION_FAIL_SAFE":
            state = "STOPPING"
        else:
            continue
        points.append((ident, state, at))
    current = deployment.get("status")
    if isinstance(current, str) and (not points or points[-1][1] != current):
        candidates = [
            jobs["ended_at"].max(),
            events["created_at"].max(),
            deployment.get("updated_at"),
            points[-1][2] if points else None,
        ]
        known = [c for c in candidates if c is not None and pd.notna(c)]
        if known:
            points.append((ident, current, max(known)))
    return points


def status_history_dataframe(
    source: Any = None,
    *,
    events: Any = None,
    jobs: Any = None,
    deployments: Any = None,
) -> pd.DataFrame:
    """Status segments per deployment: ``[start, end)``; the current one has ``end`` = NaT.

    ``source`` is a recording (stream frames with deployment id and time, or a recorder's rows,
    as records or a DataFrame). Without one, pass ``deployments`` (frame or records) plus the
    ``events`` and ``jobs`` of those deployments to derive an approximate history.

    Args:
        source: a recording (records or a DataFrame), or None.
        events: the deployments' events (frame or records), without a recording.
        jobs: the deployments' jobs (frame or records), without a recording.
        deployments: the deployments (frame or records), without a recording.

    Returns:
        The ``status_history`` frame.

    Raises:
        ValidationError: neither a recording nor deployments, or input of the wrong kind.
    """
    if source is not None:
        return status_history_from_records(source)
    if deployments is None:
        raise ValidationError(
            "pass a recording, or deployments= (with events= and jobs=) to derive the history",
            argument="deployments",
        )
    deployments_df = as_frame(deployments, "deployments")
    events_df = (
        events
        if isinstance(events, pd.DataFrame)
        else (events_dataframe(events) if events is not None else empty_frame("events"))
    )
    jobs_df = as_frame(jobs, "jobs") if jobs is not None else empty_frame("jobs")
    events_df = events_df.sort_values("created_at", kind="stable")
    points: list[tuple[str, str, pd.Timestamp]] = []
    for row in deployments_df.to_dict("records"):
        deployment = {str(key): value for key, value in row.items()}
        ident = deployment["id"]
        points += _derived_points(
            deployment,
            events_df[(events_df["deployment"] == ident).fillna(False).to_numpy(dtype=bool)],
            jobs_df[(jobs_df["deployment"] == ident).fillna(False).to_numpy(dtype=bool)],
        )
    if not points:
        return empty_frame("status_history")
    frame = pd.DataFrame(points, columns=["deployment", "status", "start"])
    frame["status"] = pd.Categorical(
        frame["status"], categories=list(DEPLOYMENT_STATUSES), ordered=True
    )
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    return _segments(frame, "derived")


def current_status_until(history: pd.DataFrame, now: datetime | None) -> pd.Series:
    """Segment ends with open segments closed at ``now`` (for drawing)."""
    return history["end"].where(history["end"].notna(), utc_now(now))


__all__ = [
    "current_status_until",
    "status_history_dataframe",
    "status_history_from_records",
]
