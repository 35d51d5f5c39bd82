"""Deployment events the worker writes: exact types and message texts.

The API writes no events; every one of these comes from the worker.
See docs/wire-contract.md#events.
"""

from __future__ import annotations

from typing import Any

from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.store import Store

CATEGORY = "Deployment"

JOB_LIST_CONFIRMED = "JOB_LIST_CONFIRMED"
JOB_LIST_ERROR = "JOB_LIST_ERROR"
JOB_EXTEND_SUCCESSFUL = "JOB_EXTEND_SUCCESSFUL"
JOB_EXTEND_ERROR = "JOB_EXTEND_ERROR"
JOB_STOPPED_CONFIRMED = "JOB_STOPPED_CONFIRMED"
JOB_STOP_ERROR = "JOB_STOP_ERROR"
RAPID_COMPLETION_THROTTLE = "RAPID_COMPLETION_THROTTLE"
RAPID_COMPLETION_FAIL_SAFE = "RAPID_COMPLETION_FAIL_SAFE"

ERROR_TYPE_BY_TASK = {"LIST": JOB_LIST_ERROR, "EXTEND": JOB_EXTEND_ERROR, "STOP": JOB_STOP_ERROR}

_NO_TX: Any = object()


def list_confirmed(job: str) -> str:
    return f"Successfully listed job - {job}"


def extend_successful(signature: str) -> str:
    return f"Successfully extended job - TX {signature}"


def stop_confirmed(job: str, signature: str) -> str:
    return f"Successfully stopped job {job}. TX {signature}"


def already_settled(job: str) -> str:
    return f"Job {job} was already settled"


def rapid_throttle(round_number: int, delay_s: int) -> str:
    return f"Jobs completing rapidly (round {round_number}): next job throttled by {delay_s}s."


def rapid_fail_safe(max_streak: int, threshold_minutes: int) -> str:
    return (
        f"Deployment stopped to protect funds: {max_streak} consecutive rounds of jobs "
        f"completed in under {threshold_minutes} minutes."
    )


def record_event(
    store: Store,
    clock: Clock,
    deployment_id: str,
    event_type: str,
    message: str,
    tx: str | None = _NO_TX,
) -> None:
    """Insert one event. ``tx`` omitted leaves the key absent; ``None`` stores null (wire "")."""
    doc: dict[str, Any] = {
        "category": CATEGORY,
        "deploymentId": deployment_id,
        "type": event_type,
        "message": message,
    }
    if tx is not _NO_TX:
        doc["tx"] = tx
    doc["created_at"] = clock.now_iso()
    store.insert("events", doc)
