"""What the sync and async deployment resources share: checks, reply folding, funds plans.

The async classes are written once in ``_async/deployments.py``; their sync twins are generated
into ``_sync/deployments.py`` by ``scripts/unasync.py``. ``deployments`` is the public module.
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from nosana_nb.core import models, routes
from nosana_nb.core._shared.jobs import check_cid
from nosana_nb.core._shared.markets import estimate_cost, market_for_funds_check
from nosana_nb.core.errors import APIError, ValidationError, WalletError
from nosana_nb.core.models import (
    DeploymentState,
    Event,
    Revision,
    RevisionCreated,
    StreamMessage,
)
from nosana_nb.core.service_clock import ServiceClock
from nosana_nb.core.validation import DeploymentStatus, check_status
from nosana_nb.core.wallet import Wallet

logger = logging.getLogger("nosana_nb.core.deployments")

T = TypeVar("T")
R = TypeVar("R")
Seconds = int | float | Decimal | timedelta
# Newest events/jobs loaded into ``state`` by refresh(); full history via get_events/get_jobs.
STATE_HISTORY_LIMIT = 100
LIST_LIMIT = 100
_TERMINAL = (DeploymentStatus.ERROR, DeploymentStatus.ARCHIVED)
# Statuses that prove a start/stop/archive landed when its reply was lost.
_STARTED = (DeploymentStatus.STARTING, DeploymentStatus.RUNNING)
_STOPPED = (DeploymentStatus.STOPPING, DeploymentStatus.STOPPED)
_ARCHIVED = (DeploymentStatus.ARCHIVED,)


def _require_signing_wallet(wallet: Wallet | None) -> Wallet:
    if wallet is None:
        raise WalletError(
            "this call needs a wallet: NosanaClient(network, wallet=...) or set NOSANA_WALLET"
        )
    if not wallet.can_sign:
        raise WalletError(
            f"wallet {wallet.address} is read-only; authenticated calls need its secret key"
        )
    return wallet


def _wanted_statuses(
    status: DeploymentStatus | str | Iterable[DeploymentStatus | str],
) -> tuple[str, ...]:
    values = [status] if isinstance(status, str) else list(status)
    if not values:
        raise ValidationError("status must name at least one status", argument="status")
    return tuple(check_status(v).value for v in values)


def _check_bool(value: Any, *, argument: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{argument} must be True or False, got {value!r}", argument=argument)
    return value


def _check_wait(timeout: float, poll_interval: float, max_poll_interval: float) -> None:
    for name, value in (
        ("timeout", timeout),
        ("poll_interval", poll_interval),
        ("max_poll_interval", max_poll_interval),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not value > 0
            or not math.isfinite(value)
        ):
            raise ValidationError(
                f"{name} must be a positive number of seconds, got {value!r}", argument=name
            )


def _state_from(
    deployment: models.Deployment, history: models.DeploymentHistory
) -> DeploymentState:
    return DeploymentState.of(deployment, history)


def _lazy_history(
    fetch_events: Callable[[], Any], fetch_jobs: Callable[[], Any]
) -> models.DeploymentHistory:
    """The history of a handle that has not loaded it: the sync twin fetches each list on its
    first read; async fetchers cannot run inside an attribute read, so none are kept."""
    if inspect.iscoroutinefunction(fetch_events):
        return models.DeploymentHistory()
    return models.DeploymentHistory({"events": fetch_events, "jobs": fetch_jobs})


def _merge(state: DeploymentState, reply: Any) -> DeploymentState:
    """Fold a partial reply (status/replicas/timeout/... + updated_at) into the state."""
    changes = {
        k: v
        for k, v in dict(reply).items()
        if k != "type" and v is not None and k in DeploymentState.model_fields
    }
    return state.model_copy(update=changes)


def _apply_message(state: DeploymentState, message: StreamMessage) -> DeploymentState:
    if isinstance(message, models.DeploymentMessage):
        return _merge(state, message)
    return state


def _funds_plan(
    request_market: str, replicas: int, timeout_minutes: float, markets: list[models.Market]
) -> models.CostEstimate | None:
    if replicas < 1:
        return None  # a paused deployment lists nothing
    market = market_for_funds_check(markets, request_market)
    if market is None:
        return None
    return estimate_cost(market, replicas=replicas, timeout=math.ceil(timeout_minutes) * 60)


def _revision_created(
    deployment: models.Deployment, revisions: list[Revision], definition: Mapping[str, Any]
) -> RevisionCreated | None:
    """The reply a lost create-revision would have sent, if its revision is the active one."""
    if routes.revision_match(revisions, definition, number=deployment.active_revision) is None:
        return None
    return RevisionCreated.model_validate(
        {
            "active_revision": deployment.active_revision,
            "endpoints": deployment.endpoints,
            "revisions": sorted(revisions, key=lambda r: r.revision),
            "updated_at": deployment.updated_at,
        }
    )


def _history_skipped(deployment_id: str, error: APIError) -> None:
    logger.warning(
        "deployment %s was created, but loading its events and jobs failed (%s); "
        "call refresh() to load them",
        deployment_id,
        error.message,
    )


class _ClaimedIds:
    """Deployments already handed out by create, so two lost creates never claim one result."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[str] = set()

    def claim(self, deployment_id: str) -> bool:
        with self._lock:
            if deployment_id in self._ids:
                return False
            self._ids.add(deployment_id)
            return True


def _failure_detail(events: list[Event]) -> str:
    for event in events:
        if event.type.endswith("_ERROR"):
            return f" Latest error event {event.type}: {event.message}"
    return ""


FROZEN_GRACE_S = 2.0
"""Wall seconds a wait lasts on a frozen sandbox clock with nothing changing before it fails."""
FROZEN_POLL_S = 0.25
"""Poll interval of a wait while the sandbox clock is frozen (the worker reacts in ms)."""


class _FrozenClockGuard:
    """Tells a wait that can never end: the sandbox's clock is frozen (its header says
    ``speed=manual``) and neither the clock nor what is awaited moved for ``FROZEN_GRACE_S``.

    A frozen sandbox still reacts to writes at once (a start lists jobs), but what needs time
    (a node claiming a job, a timeout) waits for a hand on the clock, which a blocked cell
    cannot give.
    """

    def __init__(self, clock: ServiceClock, monotonic: Callable[[], float]) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self._seen: tuple[object, float | None] | None = None
        self._since = 0.0

    def stuck(self, observed: object) -> bool:
        if not self._clock.frozen:
            self._seen = None
            return False
        seen = (observed, self._clock.now_ts())
        if seen != self._seen:
            self._seen, self._since = seen, self._monotonic()
            return False
        return self._monotonic() - self._since >= FROZEN_GRACE_S

    def interval(self, interval: float) -> float:
        return min(interval, FROZEN_POLL_S) if self._clock.frozen else interval

    def message(self, what: str) -> str:
        now = self._clock.now()
        at = f" at {now:%Y-%m-%d %H:%M:%S} UTC" if now is not None else ""
        return (
            f"{what}, and nothing can change: the sandbox's clock is frozen{at} "
            "(started with speed=None) and moves only by hand. Move it before waiting, e.g. "
            "nosana_nb.let_time_pass(client, timedelta(minutes=5)), or run the sandbox with a "
            "running clock: nosana_nb.connect(speed=60, restart=True)"
        )


def _wait_message(
    deployment_id: str, wanted: tuple[str, ...], last: str | None, waited: float
) -> str:
    return (
        f"deployment {deployment_id} did not reach {' or '.join(wanted)} within {waited:g} s; "
        f"last status seen: {last}"
    )


def _check_definition_source(job_definition: Any, ipfs_definition_hash: Any) -> None:
    if (job_definition is None) == (ipfs_definition_hash is None):
        raise ValidationError(
            "give exactly one of job_definition or ipfs_definition_hash", argument="job_definition"
        )
    if ipfs_definition_hash is not None:
        check_cid(ipfs_definition_hash, argument="ipfs_definition_hash")
