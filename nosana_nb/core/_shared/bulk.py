"""What the sync and async bulk runners share: actions, argument checks, targets, the verdict of
the state machine for each deployment, and the preview/result values.

Everything here is pure (no I/O). ``_async/bulk.py`` reads the current state and acts; its sync
twin ``_sync/bulk.py`` is generated from it. Which action a status allows comes from one table,
``core.errors.ALLOWED_ACTIONS`` (docs/wire-contract.md#state-machine).
"""

from __future__ import annotations

import asyncio
import math
import numbers
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from nosana_nb.core import models
from nosana_nb.core._shared.markets import estimate_cost
from nosana_nb.core.errors import (
    ALLOWED_ACTIONS,
    ActionNotAllowedError,
    ApiKeyVaultError,
    ArchivedDeploymentError,
    BulkInterrupted,
    IncorrectStrategyError,
    InvalidStateError,
    NosanaError,
    RevisionNotFoundError,
    ValidationError,
    VaultEmptyError,
)
from nosana_nb.core.retry_policy import outcome_unknown
from nosana_nb.core.validation import (
    check_path_id,
    check_replicas,
    check_update_timeout,
    timeout_minutes,
)

if TYPE_CHECKING:  # the vault module pulls in the SPL token builders: imported on first use
    from nosana_nb.core._shared.vaults import TopupPlan

T = TypeVar("T")

BULK_ACTIONS: tuple[str, ...] = (
    "start",
    "stop",
    "archive",
    "delete",
    "scale",
    "set_timeout",
    "switch_revision",
    "topup",
    "withdraw",
)
"""Every action ``client.deployments.bulk`` knows."""

VAULT_ACTIONS = frozenset({"topup", "withdraw"})
WIRE_ACTIONS: Mapping[str, str] = {
    "start": "start",
    "stop": "stop",
    "archive": "archive",
    "delete": "delete",
    "scale": "update-replica-count",
    "set_timeout": "update-timeout",
    "switch_revision": "update-active-revision",
}
"""Bulk action -> the route name the state machine table uses."""

# actions that are safe to send again (they set a value); the others are not resent after
# an unknown outcome (start/stop/archive reconcile inside the handle; money moves never)
IDEMPOTENT_ACTIONS = frozenset({"scale", "set_timeout", "switch_revision"})

ACTION_ARGUMENTS: Mapping[str, frozenset[str]] = {
    "start": frozenset({"check_funds"}),
    "stop": frozenset(),
    "archive": frozenset(),
    "delete": frozenset(),
    "scale": frozenset({"replicas"}),
    "set_timeout": frozenset({"timeout"}),
    "switch_revision": frozenset({"revision"}),
    "topup": frozenset({"sol", "nos", "lamports"}),
    "withdraw": frozenset(),
}
REQUIRED_ARGUMENTS: Mapping[str, frozenset[str]] = {
    "scale": frozenset({"replicas"}),
    "set_timeout": frozenset({"timeout"}),
    "switch_revision": frozenset({"revision"}),
}

DEFAULT_BULK_CONCURRENCY = 8
MAX_BULK_CONCURRENCY = 64
MAX_BULK_TARGETS = 5000
"""More deployments than anyone owns: a larger target list is a mistake (a frame of jobs?)."""
RUNNING_STRATEGIES_THAT_SCALE = ("SIMPLE", "SIMPLE-EXTEND", "INFINITE")
_MAX_REVISION = 1_000_000


class BulkOutcome(StrEnum):
    """What happened to one row of a real run."""

    OK = "ok"
    REFUSED = "refused"  # the state machine said no (before sending, or the service did)
    FAILED = "failed"  # a definite, typed failure: nothing was applied
    UNKNOWN = "unknown"  # the request may have been applied; it was not resent
    CANCELLED = "cancelled"  # the run was cancelled before this row finished


BULK_OUTCOMES: tuple[str, ...] = tuple(o.value for o in BulkOutcome)


# --- arguments ------------------------------------------------------------------------------


def check_action(action: Any) -> str:
    """The action name, or ValidationError naming the known ones."""
    if not isinstance(action, str) or action not in BULK_ACTIONS:
        shown = repr(action) if isinstance(action, str) and len(action) <= 40 else type(action)
        raise ValidationError(
            f"action must be one of {', '.join(BULK_ACTIONS)}; got {shown}", argument="action"
        )
    return action


def _whole_number(value: Any, argument: str) -> Any:
    """numpy and other Integral ints -> int (a frame's cell is often an np.int64)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and math.isnan(value):
        raise ValidationError(f"{argument} must be a number, not NaN", argument=argument)
    return value


def check_arguments(action: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``arguments`` of ``action``; returns them normalized (ints, minutes, plans).

    Raises:
        ValidationError: an unknown or missing argument, a wrong type, NaN, negative or huge.
    """
    allowed = ACTION_ARGUMENTS[action]
    unknown = sorted(set(arguments) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) if allowed else "no arguments"
        raise ValidationError(
            f"bulk {action} takes {takes}; got {', '.join(unknown)}", argument=unknown[0]
        )
    missing = sorted(REQUIRED_ARGUMENTS.get(action, frozenset()) - set(arguments))
    if missing:
        raise ValidationError(f"bulk {action} needs {', '.join(missing)}=", argument=missing[0])
    checked: dict[str, Any] = {}
    if action == "start":
        check_funds = arguments.get("check_funds", True)
        if not isinstance(check_funds, bool):
            raise ValidationError(
                f"check_funds must be True or False; got {check_funds!r}", argument="check_funds"
            )
        checked["check_funds"] = check_funds
    elif action == "scale":
        checked["replicas"] = check_replicas(
            _whole_number(arguments["replicas"], "replicas"), minimum=0
        )
    elif action == "set_timeout":
        timeout = _whole_number(arguments["timeout"], "timeout")
        checked["timeout_minutes"] = check_update_timeout(timeout_minutes(timeout))
    elif action == "switch_revision":
        revision = _whole_number(arguments["revision"], "revision")
        if isinstance(revision, bool) or not isinstance(revision, int):
            raise ValidationError(
                f"revision must be a whole number (int); got {type(revision).__name__}",
                argument="revision",
            )
        if not 1 <= revision <= _MAX_REVISION:
            raise ValidationError(
                f"revision must be between 1 and {_MAX_REVISION}; got {revision}",
                argument="revision",
            )
        checked["revision"] = revision
    elif action == "topup":
        from nosana_nb.core._shared.vaults import plan_topup

        checked["plan"] = plan_topup(
            arguments.get("lamports"), sol=arguments.get("sol"), nos=arguments.get("nos")
        )
    return checked


def check_bulk_arguments(action: Any, **arguments: Any) -> dict[str, Any]:
    """Check a bulk action and its arguments without sending anything (what ``bulk`` does
    first); for forms that want the typed error at once.

    Args:
        action: one of ``BULK_ACTIONS``.
        **arguments: the action's arguments (``replicas=``, ``timeout=``, ...).

    Returns:
        The arguments normalized (``timeout_minutes``, a top-up ``plan``, ...).

    Raises:
        ValidationError: an unknown action, or a bad, missing or unknown argument.
    """
    return check_arguments(check_action(action), arguments)


def check_concurrency(value: Any) -> int:
    """``max_concurrency``: an int from 1 to 64."""
    value = _whole_number(value, "max_concurrency")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"max_concurrency must be an int; got {type(value).__name__}",
            argument="max_concurrency",
        )
    if not 1 <= value <= MAX_BULK_CONCURRENCY:
        raise ValidationError(
            f"max_concurrency must be between 1 and {MAX_BULK_CONCURRENCY}; got {value}",
            argument="max_concurrency",
        )
    return value


def check_dry_run(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"dry_run must be True or False; got {value!r}", argument="dry_run")
    return value


# --- targets --------------------------------------------------------------------------------


def _id_column(frame: Any) -> Iterable[Any]:
    columns = [str(c) for c in frame.columns]
    for name in ("id", "deployment"):
        if name in columns:
            return list(frame[name])
    raise ValidationError(
        f"a table of targets needs an 'id' (or 'deployment') column; it has {columns[:12]}",
        argument="targets",
    )


def target_ids(targets: Any) -> list[str]:
    """Deployment ids from ids, handles, or a table with an ``id``/``deployment`` column.

    A table is anything with ``columns`` and column indexing (a pandas DataFrame, filtered as
    you like); core never imports pandas. Duplicates are dropped, the first order kept.

    Args:
        targets: one id, ids, deployment handles, or such a table.

    Returns:
        The ids, checked (43-44 character base58 addresses).

    Raises:
        ValidationError: not ids, a missing (NA/None/NaN) or malformed id, or too many.
    """
    if isinstance(targets, str):
        items: Iterable[Any] = [targets]
    elif hasattr(targets, "columns") and hasattr(targets, "__getitem__"):
        items = _id_column(targets)
    elif hasattr(targets, "id") and hasattr(targets, "state"):
        items = [targets]
    elif isinstance(targets, Iterable) and not isinstance(targets, bytes | Mapping):
        items = targets
    else:
        raise ValidationError(
            "targets must be deployment ids, deployment handles or a table with an 'id' "
            f"column; got {type(targets).__name__}",
            argument="targets",
        )
    ids: dict[str, None] = {}
    for position, item in enumerate(items):
        if len(ids) >= MAX_BULK_TARGETS:
            raise ValidationError(
                f"at most {MAX_BULK_TARGETS} deployments at once", argument="targets"
            )
        value = item.id if hasattr(item, "id") and hasattr(item, "state") else item
        if not isinstance(value, str):
            shown = "a missing value" if _is_missing(value) else type(value).__name__
            raise ValidationError(
                f"target {position} is {shown}, not a deployment id", argument="targets"
            )
        ids[check_path_id(value, argument="targets")] = None
    return list(ids)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


# --- verdicts -------------------------------------------------------------------------------


def _or_list(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def allowed_statuses(wire_action: str) -> tuple[str, ...]:
    """The statuses in which the service accepts ``wire_action`` (a route name)."""
    return tuple(s for s, actions in ALLOWED_ACTIONS.items() if wire_action in actions)


def refusal(deployment: str, action: str, status: str) -> ActionNotAllowedError | None:
    """The typed reason ``action`` cannot run on a deployment in ``status``; None when it can."""
    wire = WIRE_ACTIONS[action]
    if wire in ALLOWED_ACTIONS.get(status, ()):
        return None
    statuses = allowed_statuses(wire)
    if status == "ARCHIVED":
        why = f"{action} is impossible: an archived deployment can only be renamed"
    elif status not in ALLOWED_ACTIONS:
        why = f"{action} is unavailable: the service reported an unknown status {status!r}"
    else:
        why = f"{action} needs the deployment to be {_or_list(statuses)}; it is {status}"
    return ActionNotAllowedError(
        why, deployment=deployment, action=action, status=status, allowed_statuses=statuses
    )


def price_per_hour(market: models.Market | None) -> Decimal | None:
    """NOS an hour one job costs on ``market``, network fee included; None when unpriced."""
    if market is None or market.nos_job_price_per_second is None:
        return None
    try:
        return estimate_cost(market, replicas=1, timeout=3600).nos_per_hour_with_fee
    except ValidationError:
        return None


def cost_change_per_hour(
    action: str,
    deployment: models.Deployment,
    arguments: Mapping[str, Any],
    price: Decimal | None,
) -> Decimal | None:
    """How many NOS an hour the deployment's running jobs cost more (+) or less (-) after the
    action; None when it cannot be told (no price, or a schedule decides)."""
    active = int(deployment.active_jobs or 0)
    status, strategy = str(deployment.status), str(deployment.strategy)
    if action in ("archive", "delete", "set_timeout", "switch_revision"):
        return Decimal(0)
    if price is None:
        return None
    # a deployment just started has its jobs listed moments later: count its replicas
    listing = status in ("STARTING", "RUNNING") and strategy != "SCHEDULED"
    jobs = active or (int(deployment.replicas) if listing else 0)
    if action == "stop":
        return -price * jobs if jobs else Decimal(0)
    if action == "start":
        if strategy == "SCHEDULED":
            return None  # jobs run at the schedule's firings, not continuously
        return price * int(deployment.replicas)
    if action == "scale":
        # the service lists or stops the difference only for RUNNING deployments of these
        # strategies (docs/wire-contract.md#state-machine, listener reactions)
        if status != "RUNNING" or strategy not in RUNNING_STRATEGIES_THAT_SCALE:
            return Decimal(0)
        change = int(arguments["replicas"]) - jobs
        return price * change if change else Decimal(0)
    return Decimal(0)


# --- preview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkPreviewRow:
    """One deployment (or, for vault actions, one vault) of a dry run.

    Attributes:
        deployment: the deployment id (for vault actions: the targeted ids sharing the vault,
            comma-separated; empty for a vault no target names).
        allowed: whether the real run will send the action.
        reason: why not (or, when allowed, a warning worth reading); None otherwise.
        reason_type: the name of the typed error the refusal carries.
        cost_change_per_hour: NOS an hour, fee included; None when unknown.
        sol_change, nos_change: what the vault's balance changes by (vault actions).
    """

    deployment: str
    action: str
    allowed: bool
    name: str | None = None
    vault: str | None = None
    status: str | None = None
    strategy: str | None = None
    market: str | None = None
    reason: str | None = None
    reason_type: str | None = None
    cost_change_per_hour: Decimal | None = None
    sol_change: Decimal | None = None
    nos_change: Decimal | None = None
    error: NosanaError | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class BulkPreview:
    """What a bulk action would do, row by row, before anything is sent.

    ``frames.bulk_preview_dataframe(preview)`` turns it into a DataFrame.
    """

    action: str
    arguments: Mapping[str, Any]
    rows: tuple[BulkPreviewRow, ...]

    @property
    def allowed(self) -> tuple[BulkPreviewRow, ...]:
        """The rows the real run will act on."""
        return tuple(r for r in self.rows if r.allowed)

    @property
    def refused(self) -> tuple[BulkPreviewRow, ...]:
        """The rows the real run will not send, each with its typed reason."""
        return tuple(r for r in self.rows if not r.allowed)

    @property
    def cost_change_per_hour(self) -> Decimal | None:
        """The allowed rows' total change in NOS an hour; None when one is unknown."""
        changes = [r.cost_change_per_hour for r in self.allowed]
        if any(c is None for c in changes):
            return None
        return sum((c for c in changes if c is not None), Decimal(0))

    def describe(self) -> str:
        """One sentence for a person: the action, how many rows it sends and refuses, and the
        change in NOS an hour.

        Returns:
            For example ``"Stop: 45 deployments; 5 refused; cost −7.1280 NOS/h."``.
        """
        verb = describe_action(self.action, self.arguments)
        noun = "vault" if self.action in VAULT_ACTIONS else "deployment"
        count = len(self.allowed)
        text = f"{verb}: {count} {noun}{'' if count == 1 else 's'}"
        if self.refused:
            text += f"; {len(self.refused)} refused"
        change = self.cost_change_per_hour
        if change is not None and change != 0 and self.action not in VAULT_ACTIONS:
            text += f"; cost {'+' if change > 0 else '−'}{abs(change):.4f} NOS/h"
        return text + "."

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[BulkPreviewRow]:
        return iter(self.rows)


def format_amount(value: Decimal) -> str:
    """``Decimal("1.000000")`` -> ``"1"``, never scientific notation."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def describe_action(action: str, arguments: Mapping[str, Any]) -> str:
    """A short label for people.

    Args:
        action: one of ``BULK_ACTIONS``.
        arguments: the checked arguments (``check_bulk_arguments``' result).

    Returns:
        For example "Scale to 3 replicas", "Set timeout to 2 h" or "Stop".
    """
    if action == "scale":
        return f"Scale to {arguments.get('replicas')} replicas"
    if action == "set_timeout":
        minutes = int(arguments.get("timeout_minutes", 0))
        hours, rest = divmod(minutes, 60)
        return f"Set timeout to {hours} h" + (f" {rest} min" if rest else "")
    if action == "switch_revision":
        return f"Switch to revision {arguments.get('revision')}"
    if action == "topup":
        from nosana_nb.core._shared.vaults import VaultBalance

        plan: TopupPlan = arguments["plan"]
        amounts = VaultBalance.from_units(plan.lamports, plan.nos_base_units)
        parts = []
        if plan.lamports:
            parts.append(f"{format_amount(amounts.sol)} SOL")
        if plan.nos_base_units:
            parts.append(f"{format_amount(amounts.nos)} NOS")
        return "Top up each vault with " + " and ".join(parts)
    if action == "withdraw":
        return "Withdraw everything from"
    return action.replace("_", " ").capitalize()


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkResultRow:
    """What happened to one deployment (or vault) in a real run.

    Attributes:
        outcome: ``ok``, ``refused``, ``failed``, ``unknown`` (may have been applied; not
            resent) or ``cancelled``.
        error: the typed exception (None when ok).
        previous_status, new_status: the deployment's status before and after (when known).
        signature: the Solana transaction of a top-up or withdrawal.
    """

    deployment: str
    action: str
    outcome: str
    name: str | None = None
    vault: str | None = None
    previous_status: str | None = None
    new_status: str | None = None
    error: BaseException | None = field(default=None, compare=False)
    signature: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the action was done on this row."""
        return self.outcome == BulkOutcome.OK

    @property
    def error_type(self) -> str | None:
        """The typed error's class name (``"ActionNotAllowedError"``, ...); None when ok."""
        return None if self.error is None else type(self.error).__name__

    @property
    def message(self) -> str:
        """What to tell a person: the new status, or the typed error's text."""
        if self.error is not None:
            text = str(getattr(self.error, "message", None) or self.error)
            if self.outcome == BulkOutcome.UNKNOWN:
                text += (
                    "; it may have been applied, so it was not sent again"
                    if self.action not in IDEMPOTENT_ACTIONS
                    else "; it may have been applied (safe to run again)"
                )
            return text
        if self.note:
            return self.note
        if self.action == "delete" and self.ok:
            return "deleted"
        return f"now {self.new_status}" if self.new_status else self.outcome


@dataclass(frozen=True)
class BulkResult:
    """Every row of a real run: nothing is folded into one message, nothing hidden.

    ``frames.bulk_results_dataframe(result)`` turns it into a DataFrame.
    """

    action: str
    arguments: Mapping[str, Any]
    rows: tuple[BulkResultRow, ...]
    preview: BulkPreview

    def of(self, outcome: str) -> tuple[BulkResultRow, ...]:
        """The rows with one outcome.

        Args:
            outcome: ``"ok"``, ``"refused"``, ``"failed"``, ``"unknown"`` or ``"cancelled"``.

        Returns:
            Those rows, in the order of the targets.
        """
        return tuple(r for r in self.rows if r.outcome == outcome)

    @property
    def ok(self) -> tuple[BulkResultRow, ...]:
        """The rows that were done."""
        return self.of(BulkOutcome.OK)

    @property
    def refused(self) -> tuple[BulkResultRow, ...]:
        """The rows the state machine (or a vault's funds) refused; none of them changed."""
        return self.of(BulkOutcome.REFUSED)

    @property
    def failed(self) -> tuple[BulkResultRow, ...]:
        """The rows that failed with a definite, typed error (nothing was applied)."""
        return self.of(BulkOutcome.FAILED)

    @property
    def unknown(self) -> tuple[BulkResultRow, ...]:
        """The rows whose request may have been applied; check them before acting again."""
        return self.of(BulkOutcome.UNKNOWN)

    def counts(self) -> dict[str, int]:
        """How many rows ended in each outcome.

        Returns:
            Outcome -> count, every outcome present (zero when none), in a fixed order.
        """
        return {o: len(self.of(o)) for o in BULK_OUTCOMES}

    def describe(self) -> str:
        """One line for a person: the action and how many rows ended in each outcome.

        Returns:
            For example ``"Stop: 45 ok, 5 refused."``.
        """
        counts = self.counts()
        parts = [f"{counts[o]} {o}" for o in BULK_OUTCOMES if counts[o] or o == "ok"]
        return f"{describe_action(self.action, self.arguments)}: " + ", ".join(parts) + "."

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[BulkResultRow]:
        return iter(self.rows)


def refused_row(row: BulkPreviewRow) -> BulkResultRow:
    """The result of a row the preview refused: nothing is sent, the typed reason is kept."""
    return BulkResultRow(
        deployment=row.deployment,
        action=row.action,
        outcome=BulkOutcome.REFUSED,
        name=row.name,
        vault=row.vault,
        previous_status=row.status,
        new_status=row.status,
        error=row.error,
    )


# the service's (or our) refusals by its rules: nothing was applied, and sending again will not
# help until something changes (a status, a vault's balance, the revision list)
_REFUSALS = (
    InvalidStateError,
    ArchivedDeploymentError,
    ActionNotAllowedError,
    ApiKeyVaultError,
    IncorrectStrategyError,
    RevisionNotFoundError,
    VaultEmptyError,
)


def failure_row(row: BulkPreviewRow, error: NosanaError) -> BulkResultRow:
    """The result of a row whose request failed: refused, unknown or failed, by the error."""
    if isinstance(error, _REFUSALS):
        outcome = BulkOutcome.REFUSED
    elif outcome_unknown(error):
        outcome = BulkOutcome.UNKNOWN
    else:
        outcome = BulkOutcome.FAILED
    status = getattr(error, "status", None) if isinstance(error, InvalidStateError) else None
    return BulkResultRow(
        deployment=row.deployment,
        action=row.action,
        outcome=outcome,
        name=row.name,
        vault=row.vault,
        previous_status=row.status,
        new_status=status if isinstance(status, str) else None,
        error=error,
    )


def cancelled_row(row: BulkPreviewRow) -> BulkResultRow:
    return BulkResultRow(
        deployment=row.deployment,
        action=row.action,
        outcome=BulkOutcome.CANCELLED,
        name=row.name,
        vault=row.vault,
        previous_status=row.status,
        note="cancelled; a request already sent may have landed",
    )


def interrupted_error(stop: BaseException, result: BulkResult) -> BulkInterrupted | None:
    """What a run stopped by ``stop`` raises instead, when it should carry the rows so far.

    A Ctrl-C becomes a ``BulkInterrupted`` (a KeyboardInterrupt) holding ``result``. An
    asyncio cancellation must propagate as the very ``CancelledError`` it is (on Python 3.11
    ``asyncio.timeout`` and TaskGroup compare its exact type), so it only gets a note saying
    what was done; the async caller's ``on_result`` has seen every finished row.

    Args:
        stop: what stopped the run.
        result: the run so far (unfinished rows ``cancelled``).

    Returns:
        The BulkInterrupted to raise from ``stop``, or None to re-raise ``stop`` unchanged.
    """
    if isinstance(stop, KeyboardInterrupt):
        return BulkInterrupted(*stop.args, result=result)
    if isinstance(stop, asyncio.CancelledError):
        stop.add_note(f"nosana_nb bulk run cancelled: {result.describe()}")
    return None


# --- bounded concurrency --------------------------------------------------------------------


async def agather_bounded(limit: int, calls: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run ``calls`` concurrently, at most ``limit`` at a time; results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


def gather_bounded(limit: int, calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run ``calls`` on at most ``limit`` threads (blocking clients are thread-safe)."""
    if len(calls) <= 1:
        return [call() for call in calls]
    pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="nosana-nb-bulk")
    try:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]
    finally:
        # interrupted (Ctrl-C in a notebook): what has not started never starts; the few
        # requests in flight finish, so none is left half-sent
        pool.shutdown(wait=True, cancel_futures=True)
