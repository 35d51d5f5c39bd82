"""Bulk actions on many deployments: plan (pure), run concurrently through the async client,
one outcome per deployment.

A plan is made before anything is sent: a bad action or replica count is a typed
``ValidationError``; deployments whose known status does not allow the action are *skipped*
(never sent a request the service is sure to refuse) and listed with the reason. Everything
else is sent concurrently, bounded by a semaphore; every deployment gets its own outcome, so a
partial failure is shown per row, never folded into one message.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.deployments import AsyncDeployment
from nosana_nb.core.errors import NosanaError, ValidationError
from nosana_nb.core.validation import check_replicas
from nosana_nb.widgets._base import OperationCancelled, badge_html, describe_error
from nosana_nb.widgets._controls import action_block_reason, muted_html

__all__ = [
    "BULK_ACTIONS",
    "BulkOutcome",
    "BulkPlan",
    "async_client_for",
    "bulk_results_html",
    "plan_bulk",
    "run_bulk",
]

BULK_ACTIONS = ("start", "stop", "scale", "archive")
_WIRE_ACTION = {
    "start": "start",
    "stop": "stop",
    "scale": "update-replica-count",
    "archive": "archive",
}
_HANDLES_PER_REQUEST = 100  # the service's largest page: one list call per 100 handles
DEFAULT_CONCURRENCY = 8


def async_client_for(client: NosanaClient) -> AsyncNosanaClient:
    """The async twin of ``client`` for concurrent bulk calls: same network, wallet, API key,
    transport, timeout and retry settings (its retries count in ``client.retries_total``)."""
    return client.to_async()


@dataclass(frozen=True)
class Target:
    """A deployment as the table knew it when the plan was made."""

    id: str
    name: str
    status: str


@dataclass(frozen=True)
class BulkOutcome:
    """What happened to one deployment. ``error`` is the typed exception (None on success)."""

    deployment: str
    name: str
    action: str
    state: str  # "done", "failed", "skipped", "pending", "cancelled"
    status: str | None = None  # the deployment's status after the action, when known
    error: BaseException | None = None
    reason: str | None = None  # why it was skipped

    @property
    def ok(self) -> bool:
        return self.state == "done"

    @property
    def message(self) -> str:
        if self.state == "done":
            return f"now {self.status}" if self.status else "done"
        if self.state == "skipped":
            return f"skipped: {self.reason}"
        if self.error is not None:
            return describe_error(self.error)
        return self.state


@dataclass(frozen=True)
class BulkPlan:
    action: str
    replicas: int | None
    send: tuple[Target, ...]
    skip: tuple[tuple[Target, str], ...] = field(default=())

    def describe(self) -> str:
        """One sentence for the confirm step."""
        verb = (
            f"Scale to {self.replicas} replicas" if self.action == "scale" else self.action.title()
        )
        noun = "deployment" if len(self.send) == 1 else "deployments"
        text = f"{verb}: {len(self.send)} {noun}"
        if self.skip:
            text += f"; {len(self.skip)} skipped (their status does not allow it)"
        return text + "."


def plan_bulk(
    action: str, targets: Iterable[tuple[str, str, str]], *, replicas: Any = None
) -> BulkPlan:
    """Check everything a bulk action needs before any request: ``targets`` are
    ``(id, name, status)`` as last seen. Raises ValidationError; returns what to send/skip."""
    if action not in BULK_ACTIONS:
        raise ValidationError(
            f"action must be one of {', '.join(BULK_ACTIONS)}; got {action!r}", argument="action"
        )
    checked = check_replicas(replicas, minimum=0) if action == "scale" else None
    chosen = [Target(str(i), str(n), str(s)) for i, n, s in targets]
    if not chosen:
        raise ValidationError("select at least one deployment first", argument="deployments")
    if len({t.id for t in chosen}) != len(chosen):
        raise ValidationError("a deployment is selected twice", argument="deployments")
    send: list[Target] = []
    skip: list[tuple[Target, str]] = []
    for target in chosen:
        reason = action_block_reason(_WIRE_ACTION[action], target.status)
        if reason is None:
            send.append(target)
        else:
            skip.append((target, reason))
    return BulkPlan(action=action, replicas=checked, send=tuple(send), skip=tuple(skip))


async def _handles(client: AsyncNosanaClient, ids: Sequence[str]) -> dict[str, AsyncDeployment]:
    """Handles for ``ids``, one list request per 100; a missing id is simply absent."""
    found: dict[str, AsyncDeployment] = {}
    for start in range(0, len(ids), _HANDLES_PER_REQUEST):
        chunk = list(ids[start : start + _HANDLES_PER_REQUEST])
        page = await client.deployments.list(id=chunk, limit=_HANDLES_PER_REQUEST).first_page()
        for handle in page.items:
            found[handle.id] = handle
    return found


async def _act(handle: AsyncDeployment, plan: BulkPlan) -> str:
    if plan.action == "start":
        state = await handle.start()
    elif plan.action == "stop":
        state = await handle.stop()
    elif plan.action == "archive":
        state = await handle.archive()
    else:
        assert plan.replicas is not None
        state = await handle.update_replicas(plan.replicas)
    return str(state.status)


async def run_bulk(
    client: AsyncNosanaClient,
    plan: BulkPlan,
    *,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    on_outcome: Callable[[BulkOutcome], None] | None = None,
) -> list[BulkOutcome]:
    """Send ``plan`` concurrently; outcomes in the plan's order (skipped ones last).

    ``on_outcome`` is called as each deployment finishes (for progress). When cancelled, the
    deployments not finished get a "cancelled" outcome (one already sent may still have
    landed: the list says so) and the cancellation propagates.
    """
    outcomes: dict[str, BulkOutcome] = {
        t.id: BulkOutcome(t.id, t.name, plan.action, "pending") for t in plan.send
    }
    skipped = [
        BulkOutcome(t.id, t.name, plan.action, "skipped", status=t.status, reason=reason)
        for t, reason in plan.skip
    ]

    def settle(outcome: BulkOutcome) -> None:
        outcomes[outcome.deployment] = outcome
        if on_outcome is not None:
            on_outcome(outcome)

    semaphore = asyncio.Semaphore(max_concurrency)
    try:
        handles = await _handles(client, [t.id for t in plan.send]) if plan.send else {}

        async def one(target: Target) -> None:
            async with semaphore:
                try:
                    handle = handles.get(target.id)
                    if handle is None:  # gone since the table was drawn: the service says why
                        handle = await client.deployments.get(target.id)
                    status = await _act(handle, plan)
                except NosanaError as err:
                    settle(BulkOutcome(target.id, target.name, plan.action, "failed", error=err))
                else:
                    settle(BulkOutcome(target.id, target.name, plan.action, "done", status=status))

        await asyncio.gather(*(one(target) for target in plan.send))
    except asyncio.CancelledError:
        for ident, outcome in list(outcomes.items()):
            if outcome.state == "pending":
                outcomes[ident] = BulkOutcome(
                    ident,
                    outcome.name,
                    plan.action,
                    "cancelled",
                    error=OperationCancelled("cancelled; a request already sent may have landed"),
                )
        raise
    except NosanaError as err:  # the handle lookup itself failed: every row says so
        for ident, outcome in list(outcomes.items()):
            if outcome.state == "pending":
                settle(BulkOutcome(ident, outcome.name, plan.action, "failed", error=err))
    return [outcomes[t.id] for t in plan.send] + skipped


_MARKS = {"done": "✓", "failed": "✗", "skipped": "–", "pending": "…", "cancelled": "✗"}
_INKS = {
    "done": "var(--jp-success-color1, #2e7d32)",
    "failed": "var(--jp-error-color1, #d32f2f)",
    "cancelled": "var(--jp-error-color1, #d32f2f)",
    "skipped": "var(--jp-ui-font-color2, #616161)",
    "pending": "var(--jp-ui-font-color2, #616161)",
}


def bulk_results_html(outcomes: Sequence[BulkOutcome], title: str = "") -> str:
    """One row per deployment: name, id, result mark and the typed error or new status."""
    if not outcomes:
        return ""
    done = sum(o.ok for o in outcomes)
    failed = sum(o.state in ("failed", "cancelled") for o in outcomes)
    skipped = sum(o.state == "skipped" for o in outcomes)
    rows = []
    for outcome in outcomes:
        result = html.escape(outcome.message)
        if outcome.state == "done" and outcome.status:
            result = f"now {badge_html(outcome.status)}"
        rows.append(
            f'<tr data-deployment="{html.escape(outcome.deployment)}" '
            f'data-outcome="{outcome.state}">'
            f"<td>{html.escape(outcome.name or '(unnamed)')}</td>"
            f"<td><code>{html.escape(outcome.deployment[:6])}…</code></td>"
            f'<td style="color:{_INKS[outcome.state]};font-weight:600">'
            f"{_MARKS[outcome.state]}</td>"
            f'<td style="color:{_INKS[outcome.state]}">{result}</td></tr>'
        )
    summary = f"{done} done, {failed} failed, {skipped} skipped"
    heading = f"{html.escape(title)} — {summary}" if title else summary
    return (
        muted_html(heading) + '<table class="nosana-frame nosana-bulk-results">'
        "<thead><tr><th>Deployment</th><th>Id</th><th></th><th>Result</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )
