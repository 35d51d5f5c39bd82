"""The pure parts of bulk actions: targets, the state machine's verdicts, cost estimates,
how a failure becomes an outcome, and the argument checks."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nosana_nb.core._shared.bulk import (
    BULK_ACTIONS,
    VAULT_ACTIONS,
    WIRE_ACTIONS,
    BulkOutcome,
    BulkPreview,
    BulkPreviewRow,
    BulkResult,
    BulkResultRow,
    cancelled_row,
    cost_change_per_hour,
    failure_row,
    interrupted_error,
    refusal,
    target_ids,
)
from nosana_nb.core.bulk import check_bulk_arguments, describe_action
from nosana_nb.core.errors import (
    ALLOWED_ACTIONS,
    APIConnectionError,
    BulkInterrupted,
    DeploymentNotFoundError,
    InternalServerError,
    InvalidStateError,
    ValidationError,
    VaultEmptyError,
)
from nosana_nb.core.models import DeploymentModel

A = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
B = "97G9NnvBDQ2WpKu6fasoMsAKmfj63C9rhysJnkeWodAf"
PRICE = Decimal("0.1584")


class Handle:
    """What a deployment handle looks like to ``target_ids``: an ``id`` and a ``state``."""

    def __init__(self, ident: str) -> None:
        self.id = ident
        self.state = object()


def test_targets_from_ids_handles_series_and_frames_keep_order_and_drop_duplicates() -> None:
    assert target_ids(A) == [A]
    assert target_ids([B, A, B]) == [B, A]
    assert target_ids([Handle(A), B]) == [A, B]
    assert target_ids(pd.Series([A, B, A])) == [A, B]
    assert target_ids(pd.DataFrame({"id": pd.array([B, A], "string"), "x": [1, 2]})) == [B, A]
    assert target_ids(pd.DataFrame({"deployment": [A, A]})) == [A]  # e.g. a preview frame
    assert target_ids(pd.DataFrame({"id": pd.array([], "string")})) == []


def status_action_pairs() -> list[tuple[str, str]]:
    return [(s, a) for s in ALLOWED_ACTIONS for a in WIRE_ACTIONS]


@pytest.mark.parametrize(("status", "action"), status_action_pairs())
def test_the_verdict_follows_the_state_machine_table(status: str, action: str) -> None:
    verdict = refusal(A, action, status)
    allowed = WIRE_ACTIONS[action] in ALLOWED_ACTIONS[status]
    assert (verdict is None) == allowed
    if verdict is not None:
        assert verdict.status == status
        assert verdict.action == action
        assert verdict.deployment == A
        assert status not in verdict.allowed_statuses
        assert status.lower() in verdict.message.lower()


def test_an_unknown_status_is_refused_and_named() -> None:
    verdict = refusal(A, "stop", "SLEEPING")
    assert verdict is not None
    assert "unknown status 'SLEEPING'" in verdict.message


def deployment(**fields: Any) -> DeploymentModel:
    base: dict[str, Any] = {
        "id": A,
        "vault": B,
        "market": A,
        "owner": B,
        "status": "RUNNING",
        "replicas": 2,
        "timeout": 60,
        "strategy": "SIMPLE",
        "active_jobs": 2,
    }
    return DeploymentModel.model_validate(base | fields)


@pytest.mark.parametrize(
    ("action", "fields", "arguments", "expected"),
    [
        ("stop", {}, {}, -2 * PRICE),
        ("stop", {"active_jobs": 0}, {}, -2 * PRICE),  # just started: its jobs are coming
        ("stop", {"status": "ERROR", "active_jobs": 0}, {}, Decimal(0)),
        ("start", {"status": "DRAFT", "active_jobs": 0}, {}, 2 * PRICE),
        ("start", {"status": "DRAFT", "strategy": "SCHEDULED"}, {}, None),
        ("scale", {}, {"replicas": 5}, 3 * PRICE),
        ("scale", {}, {"replicas": 0}, -2 * PRICE),
        ("scale", {"status": "STOPPED", "active_jobs": 0}, {"replicas": 5}, Decimal(0)),
        ("scale", {"strategy": "SCHEDULED"}, {"replicas": 5}, Decimal(0)),
        ("archive", {"status": "STOPPED"}, {}, Decimal(0)),
        ("set_timeout", {}, {"timeout_minutes": 120}, Decimal(0)),
    ],
)
def test_cost_change_per_hour(
    action: str, fields: dict[str, Any], arguments: dict[str, Any], expected: Decimal | None
) -> None:
    assert cost_change_per_hour(action, deployment(**fields), arguments, PRICE) == expected


def test_no_price_means_an_unknown_cost_change() -> None:
    assert cost_change_per_hour("stop", deployment(), {}, None) is None
    assert cost_change_per_hour("archive", deployment(), {}, None) == 0  # nothing runs either way


def row(action: str = "stop") -> BulkPreviewRow:
    return BulkPreviewRow(deployment=A, action=action, allowed=True, status="RUNNING")


def status_error(cls: type, text: str, status: int = 500) -> Any:
    return cls(
        f"{status} {text}",
        method="POST",
        url="/deployments/x/stop",
        status_code=status,
        body=None,
        error_text=text,
    )


def test_each_failure_becomes_the_outcome_it_means() -> None:
    refused = failure_row(row(), status_error(InvalidStateError, "incorrect state"))
    assert refused.outcome == "refused"
    empty = failure_row(row("withdraw"), status_error(VaultEmptyError, "no funds"))
    assert empty.outcome == "refused"
    gone = failure_row(row(), status_error(DeploymentNotFoundError, "not found", 404))
    assert gone.outcome == "failed"
    assert gone.error_type == "DeploymentNotFoundError"
    lost = APIConnectionError("dropped", method="POST", url="/x", request_sent=True)
    unknown = failure_row(row(), lost)
    assert unknown.outcome == "unknown"
    assert "not sent again" in unknown.message
    never_left = APIConnectionError("refused", method="POST", url="/x", request_sent=False)
    assert failure_row(row(), never_left).outcome == "failed"  # it cannot have landed
    server = failure_row(row("scale"), status_error(InternalServerError, "Internal Server Error"))
    assert server.outcome == "unknown"
    assert "safe to run again" in server.message  # setting a value twice does no harm


def test_arguments_are_normalized() -> None:
    assert check_bulk_arguments("scale", replicas=np.int64(4)) == {"replicas": 4}
    assert check_bulk_arguments("set_timeout", timeout=timedelta(hours=2)) == {
        "timeout_minutes": 120
    }
    assert check_bulk_arguments("set_timeout", timeout=7200.0) == {"timeout_minutes": 120}
    assert check_bulk_arguments("start") == {"check_funds": True}
    plan = check_bulk_arguments("topup", nos="1.5", sol=0.01)["plan"]
    assert (plan.lamports, plan.nos_base_units) == (10_000_000, 1_500_000)
    with pytest.raises(ValidationError, match="replicas"):
        check_bulk_arguments("scale", replicas=np.float64("nan"))


@pytest.mark.parametrize("action", BULK_ACTIONS)
def test_every_action_has_a_label(action: str) -> None:
    arguments: dict[str, Any] = {
        "scale": {"replicas": 2},
        "set_timeout": {"timeout": 3600},
        "switch_revision": {"revision": 2},
        "topup": {"nos": 1},
    }.get(action, {})
    label = describe_action(action, check_bulk_arguments(action, **arguments))
    assert label
    assert label[0].isupper()
    assert (action in VAULT_ACTIONS) == (label.startswith(("Top up", "Withdraw")))


# --- a run stopped mid-way carries its rows ---------------------------------------------------


def _partial() -> BulkResult:
    rows = (
        BulkPreviewRow(deployment="d1", action="stop", allowed=True, status="RUNNING"),
        BulkPreviewRow(deployment="d2", action="stop", allowed=True, status="RUNNING"),
    )
    preview = BulkPreview("stop", {}, rows)
    done = BulkResultRow(deployment="d1", action="stop", outcome=BulkOutcome.OK)
    return BulkResult("stop", {}, (done, cancelled_row(rows[1])), preview)


def test_a_cancellation_propagates_unchanged_with_a_note() -> None:
    cancelled = asyncio.CancelledError("stop pressed")
    assert interrupted_error(cancelled, _partial()) is None  # re-raised as the very instance
    assert cancelled.args == ("stop pressed",)
    assert cancelled.__notes__ == ["nosana_nb bulk run cancelled: Stop: 1 ok, 1 cancelled."]


def test_an_interrupt_becomes_an_interrupt_that_carries_the_rows() -> None:
    result = _partial()
    carrying = interrupted_error(KeyboardInterrupt(), result)
    assert isinstance(carrying, BulkInterrupted)
    assert isinstance(carrying, KeyboardInterrupt)
    assert not isinstance(carrying, Exception)
    assert carrying.result is result
    assert str(carrying) == "Stop: 1 ok, 1 cancelled. Interrupted; `.result` has every row."
    assert str(BulkInterrupted("by a signal", result=result)) == "by a signal"


@pytest.mark.parametrize(
    "other", [RuntimeError("bug"), SystemExit(2), ValidationError("x"), GeneratorExit()]
)
def test_other_exceptions_propagate_unchanged(other: BaseException) -> None:
    assert interrupted_error(other, _partial()) is None
    assert not hasattr(other, "__notes__")
