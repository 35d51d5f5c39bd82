"""A bulk action's preview and result as DataFrames with fixed schemas.

``client.deployments.bulk(...)`` returns plain values (core imports no pandas); these turn
them into frames: one row per deployment (or per vault for top-ups and withdrawals), the same
columns and dtypes with zero, one or many rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pandas as pd

from nosana_nb.core.bulk import BulkPreview, BulkPreviewRow, BulkResult, BulkResultRow
from nosana_nb.core.errors import ValidationError
from nosana_nb.frames._convert import schema_frame


def _rows(source: Any, container: type, row: type, what: str) -> list[Any]:
    if isinstance(source, container):
        return list(getattr(source, "rows", ()))
    if isinstance(source, Iterable) and not isinstance(source, str | bytes | pd.DataFrame):
        items = list(source)
        bad = next((item for item in items if not isinstance(item, row)), None)
        if bad is None:
            return items
        raise ValidationError(
            f"{what}: expected {row.__name__} rows, got a {type(bad).__name__}", argument=what
        )
    raise ValidationError(
        f"{what}: expected a {container.__name__} (from client.deployments.bulk), "
        f"got {type(source).__name__}",
        argument=what,
    )


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def bulk_preview_dataframe(preview: BulkPreview | Iterable[BulkPreviewRow]) -> pd.DataFrame:
    """A dry run as a frame: deployment, status, the action, allowed or why not, cost change.

    Args:
        preview: what ``client.deployments.bulk(..., dry_run=True)`` returned (or its rows).

    Returns:
        A frame with the ``bulk_preview`` schema; ``cost_change_per_hour`` is NOS an hour
        (fee included; NA when unknown), ``sol_change``/``nos_change`` what each vault's
        balance changes by.

    Raises:
        ValidationError: ``preview`` is not a bulk preview.
    """
    rows: list[BulkPreviewRow] = _rows(preview, BulkPreview, BulkPreviewRow, "preview")
    return schema_frame(
        "bulk_preview",
        {
            "deployment": [r.deployment or None for r in rows],
            "name": [r.name for r in rows],
            "vault": [r.vault for r in rows],
            "status": [r.status for r in rows],
            "strategy": [r.strategy for r in rows],
            "market": [r.market for r in rows],
            "action": [r.action for r in rows],
            "allowed": [r.allowed for r in rows],
            "reason": [r.reason for r in rows],
            "reason_type": [r.reason_type for r in rows],
            "cost_change_per_hour": [_number(r.cost_change_per_hour) for r in rows],
            "sol_change": [_number(r.sol_change) for r in rows],
            "nos_change": [_number(r.nos_change) for r in rows],
        },
    )


def bulk_results_dataframe(result: BulkResult | Iterable[BulkResultRow]) -> pd.DataFrame:
    """A real run as a frame: one row each with its outcome, typed error and new status.

    Args:
        result: what ``client.deployments.bulk(..., dry_run=False)`` returned (or its rows).

    Returns:
        A frame with the ``bulk_results`` schema: ``outcome`` is ``ok``, ``refused``,
        ``failed``, ``unknown`` (may have been applied, not resent) or ``cancelled``.

    Raises:
        ValidationError: ``result`` is not a bulk result.
    """
    rows: list[BulkResultRow] = _rows(result, BulkResult, BulkResultRow, "result")
    return schema_frame(
        "bulk_results",
        {
            "deployment": [r.deployment or None for r in rows],
            "name": [r.name for r in rows],
            "vault": [r.vault for r in rows],
            "action": [r.action for r in rows],
            "outcome": [str(r.outcome) for r in rows],
            "ok": [r.ok for r in rows],
            "previous_status": [r.previous_status for r in rows],
            "new_status": [r.new_status for r in rows],
            "error_type": [r.error_type for r in rows],
            "message": [r.message for r in rows],
            "signature": [r.signature for r in rows],
        },
    )


def bulk_dataframe(value: BulkPreview | BulkResult) -> pd.DataFrame:
    """Either frame, by what ``value`` is: a preview or a result.

    Args:
        value: a BulkPreview or a BulkResult.

    Returns:
        ``bulk_preview_dataframe(value)`` or ``bulk_results_dataframe(value)``.

    Raises:
        ValidationError: ``value`` is neither.
    """
    if isinstance(value, BulkResult):
        return bulk_results_dataframe(value)
    if isinstance(value, BulkPreview):
        return bulk_preview_dataframe(value)
    raise ValidationError(
        f"expected a BulkPreview or BulkResult, got {type(value).__name__}", argument="value"
    )
