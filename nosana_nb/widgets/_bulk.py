"""How the dashboard shows a bulk action: the dry run's preview before the confirm button, and
one result row per deployment after (or while) it runs.

The logic lives in the API layer (``client.deployments.bulk``, ``nosana_nb.core.bulk``); this
module only draws its preview and result as HTML tables, coloured for both Jupyter themes.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from decimal import Decimal

from nosana_nb.core.bulk import BULK_OUTCOMES, BulkPreview, BulkPreviewRow, BulkResultRow
from nosana_nb.widgets._base import badge_html
from nosana_nb.widgets._controls import muted_html
from nosana_nb.widgets._table import short_id

__all__ = ["bulk_preview_html", "bulk_results_html"]

_OK = "var(--jp-success-color1, #2e7d32)"
_BAD = "var(--jp-error-color1, #d32f2f)"
_WARN = "var(--jp-warn-color1, #e65100)"
_MUTED = "var(--jp-ui-font-color2, #616161)"
_MARKS = {
    "ok": "✓",
    "refused": "–",
    "failed": "✗",
    "unknown": "?",
    "cancelled": "✗",
    "pending": "…",
}
_INKS = {
    "ok": _OK,
    "refused": _MUTED,
    "failed": _BAD,
    "unknown": _WARN,
    "cancelled": _BAD,
    "pending": _MUTED,
}
_CELL = "padding:2px 8px;text-align:left;vertical-align:top"


def _cost(change: Decimal | None) -> str:
    if change is None:
        return f'<span style="color:{_MUTED}" title="no price known">?</span>'
    if change == 0:
        return f'<span style="color:{_MUTED}">0</span>'
    sign = "+" if change > 0 else "−"
    ink = _BAD if change > 0 else _OK
    return f'<span style="color:{ink}">{sign}{abs(change):.4f}</span>'


def _who(name: str | None, ident: str) -> str:
    label = html.escape(name or "(unnamed)")
    return (
        f'<td style="{_CELL}">{label}</td>'
        f'<td style="{_CELL}"><code title="{html.escape(ident)}">'
        f"{html.escape(short_id(ident))}</code></td>"
    )


def _table(head: Sequence[str], rows: Sequence[str], css: str) -> str:
    header = "".join(f'<th style="{_CELL}">{html.escape(h)}</th>' for h in head)
    return (
        f'<table class="nosana-frame {css}" style="border-collapse:collapse;margin:4px 0">'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _preview_row(row: BulkPreviewRow) -> str:
    if row.allowed:
        verdict = (
            f'<span style="color:{_OK};font-weight:600">✓ will {html.escape(row.action)}</span>'
        )
    else:
        kind = html.escape(row.reason_type or "refused")
        verdict = (
            f'<span style="color:{_MUTED}"><b>– {kind}</b>: {html.escape(row.reason or "")}</span>'
        )
    status = badge_html(row.status) if row.status else ""
    return (
        f'<tr data-deployment="{html.escape(row.deployment)}" '
        f'data-allowed="{str(row.allowed).lower()}">'
        + _who(row.name, row.deployment)
        + f'<td style="{_CELL}">{status}</td><td style="{_CELL}">{verdict}</td>'
        f'<td style="{_CELL};text-align:right">{_cost(row.cost_change_per_hour)}</td></tr>'
    )


def bulk_preview_html(preview: BulkPreview) -> str:
    """The dry run as a table: each deployment, its status, allowed or why not, cost change.

    Args:
        preview: what ``client.deployments.bulk(..., dry_run=True)`` returned.

    Returns:
        HTML: a one-line summary, then one row per deployment (refused ones first).
    """
    ordered = sorted(preview.rows, key=lambda r: r.allowed)
    rows = [_preview_row(r) for r in ordered]
    heading = (
        f'<div style="color:var(--jp-ui-font-color1,#212121)"><b>'
        f"{html.escape(preview.describe())}</b> Nothing has been sent yet.</div>"
    )
    table = _table(("Deployment", "Id", "Status", "Dry run", "NOS/h"), rows, "nosana-bulk-preview")
    return heading + table


def _result_row(row: BulkResultRow | BulkPreviewRow) -> str:
    if isinstance(row, BulkPreviewRow):  # not finished yet
        outcome, text, status = "pending", "waiting…", row.status
    else:
        outcome, status = str(row.outcome), row.new_status
        text = html.escape(row.message)
        if row.error_type:
            text = f"<b>{html.escape(row.error_type)}</b>: {text}"
    ink = _INKS[outcome]
    badge = badge_html(status) if status else ""
    return (
        f'<tr data-deployment="{html.escape(row.deployment)}" data-outcome="{outcome}">'
        + _who(row.name, row.deployment)
        + f'<td style="{_CELL};color:{ink};font-weight:600;white-space:nowrap">'
        f"{_MARKS[outcome]} {outcome}</td>"
        f'<td style="{_CELL};color:{ink}">{text}</td><td style="{_CELL}">{badge}</td></tr>'
    )


def bulk_results_html(rows: Sequence[BulkResultRow | BulkPreviewRow], title: str = "") -> str:
    """One row per deployment: its outcome, the typed error or message, and its new status.

    Args:
        rows: result rows; preview rows stand for those still running ("pending").
        title: what was done (a summary of the counts follows it).

    Returns:
        HTML: the counts, then the table (empty string for no rows).
    """
    if not rows:
        return ""
    counts: Mapping[str, int] = {
        o: sum(1 for r in rows if isinstance(r, BulkResultRow) and r.outcome == o)
        for o in BULK_OUTCOMES
    }
    pending = sum(1 for r in rows if isinstance(r, BulkPreviewRow))
    parts = [f"{counts[o]} {o}" for o in BULK_OUTCOMES if counts[o] or o in ("ok", "failed")]
    if pending:
        parts.append(f"{pending} pending")
    summary = ", ".join(parts)
    heading = f"{html.escape(title)} — {summary}" if title else summary
    table = _table(
        ("Deployment", "Id", "Outcome", "Result", "New status"),
        [_result_row(r) for r in rows],
        "nosana-bulk-results",
    )
    return muted_html(heading) + table
