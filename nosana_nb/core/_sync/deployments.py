# generated from _async/deployments.py by scripts/unasync.py — do not edit
"""The sync resources: SyncServices, Deployment, Deployments and Vaults.

Generated from ``_async/deployments.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, overload

from nosana_nb.core import models, routes
from nosana_nb.core._shared.bulk import DEFAULT_BULK_CONCURRENCY, BulkPreview, BulkResult
from nosana_nb.core._shared.credits import check_credits
from nosana_nb.core._shared.deployments import (
    _ARCHIVED,
    _STARTED,
    _STOPPED,
    _TERMINAL,
    LIST_LIMIT,
    STATE_HISTORY_LIMIT,
    R,
    Seconds,
    T,
    _apply_message,
    _check_bool,
    _check_definition_source,
    _check_wait,
    _ClaimedIds,
    _failure_detail,
    _FrozenClockGuard,
    _funds_plan,
    _history_skipped,
    _lazy_history,
    _merge,
    _require_signing_wallet,
    _revision_created,
    _state_from,
    _wait_message,
    _wanted_statuses,
    logger,
)
from nosana_nb.core._shared.endpoints import (
    DEFAULT_PROBE_CONCURRENCY,
    DEFAULT_PROBE_MAX_BYTES,
    DEFAULT_PROBE_TIMEOUT_S,
    EndpointProbe,
    EndpointReadiness,
)
from nosana_nb.core._shared.http import NOT_GIVEN, NotGiven
from nosana_nb.core._shared.jobs import inline_job_results
from nosana_nb.core._shared.markets import (
    check_market_ref,
    check_vault_funds,
    find_market,
    is_market_address,
)
from nosana_nb.core._sync.bulk import ResultCallback, run_bulk
from nosana_nb.core._sync.credits import Credits
from nosana_nb.core._sync.endpoints import Endpoints
from nosana_nb.core._sync.http import SyncHTTP
from nosana_nb.core._sync.jobs import Jobs
from nosana_nb.core._sync.markets import Markets
from nosana_nb.core._sync.solana_rpc import SolanaRPC
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.errors import (
    APIError,
    APIResponseValidationError,
    DeploymentFailedError,
    InvalidStateError,
    NosanaError,
    ValidationError,
    WaitTimeoutError,
)
from nosana_nb.core.jobdef import validate_job_definition
from nosana_nb.core.models import (
    ActiveRevisionUpdate,
    DeploymentState,
    Event,
    Job,
    JobDetail,
    Revision,
    RevisionCreated,
    StreamMessage,
    Task,
    VaultInfo,
)
from nosana_nb.core.pagination import SyncPager
from nosana_nb.core.results import JobResults
from nosana_nb.core.retry_policy import (
    POST_BACKOFF,
    RetryCounter,
    Sleeper,
    outcome_unknown,
)
from nosana_nb.core.routes import Route, SortOrder, send
from nosana_nb.core.service_clock import ServiceClock
from nosana_nb.core.stream import iter_messages
from nosana_nb.core.validation import DeploymentStatus, JobState, Strategy, TaskType, check_pubkey
from nosana_nb.core.wallet import Wallet

if TYPE_CHECKING:
    from nosana_nb.core._sync.vaults import Vault


def _make_vault(address: str, **dependencies: Any) -> Vault:
    # imported on first use: vaults pulls in the SPL token builders, which a notebook that
    # only lists deployments never needs
    from nosana_nb.core._sync.vaults import Vault

    return Vault(address, **dependencies)


def _nothing_to_find() -> None:
    """The ``recover`` of a get-or-create POST: resending it is harmless, so look for nothing."""
    return None


@dataclass
class SyncServices:
    """What the resources share; built by the client."""

    dm: SyncHTTP
    network: NetworkConfig
    wallet: Wallet | None
    rpc: SolanaRPC
    markets: Markets
    jobs: Jobs
    uses_api_key: bool = False
    credits: Credits | None = None
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    vault_factory: Callable[..., Vault] = _make_vault
    retry_counter: RetryCounter | None = None
    sleeper: Sleeper = field(default_factory=Sleeper)
    clock: ServiceClock = field(default_factory=ServiceClock)

    def service_now(self) -> datetime:
        """The service's time; the wall clock only before any reply told it (nothing to ask)."""
        return self.clock.now() or datetime.now(UTC)

    def send(self, route: Route[T]) -> T:
        if route.requires_auth:
            _require_signing_wallet(self.wallet)
        return send(self.dm, route)

    def send_post(self, route: Route[T], recover: Callable[[], R | None]) -> T | R:
        """Send a POST; after an unknown outcome, ``recover`` looks for its effect first.

        The HTTP shell already resends a POST that never left (refused connection, DNS
        failure) or was refused before any handler ran (429). What reaches this loop may have
        been applied: ``recover`` returns the effect when the POST did land (it is then not
        resent) or None, and only then is the POST resent, at most ``POST_RESENDS`` times.
        Each reconciliation counts as one retry. When even the lookup fails, the original
        error is raised: resending blind could apply the POST twice.
        """
        resends = 0
        while True:
            try:
                return self.send(route)
            except APIError as err:
                if not outcome_unknown(err):
                    raise
                if self.retry_counter is not None:
                    self.retry_counter.add()
                try:
                    found = recover()
                except NosanaError as lookup_error:
                    raise err from lookup_error
                if found is not None:
                    logger.info("%s %s had landed despite %s", route.method, route.path, err)
                    return found
                if POST_BACKOFF.exhausted(resends, 0.0):
                    raise
                resends += 1
                logger.warning(
                    "%s %s: outcome unknown (%s); resending", route.method, route.path, err
                )
            self.sleeper.sleep(POST_BACKOFF.wait(resends))

    def shared_vault(self) -> str:
        """The caller's shared vault address (get-or-create, so resending is harmless)."""
        route = routes.create_shared_vault()
        return self.send_post(route, _nothing_to_find).vault

    def vault(self, address: str) -> Vault:
        wallet = _require_signing_wallet(self.wallet)
        return self.vault_factory(
            address, wallet=wallet, rpc=self.rpc, dm=self.dm, network=self.network
        )

    def resolve_market(self, market: str) -> str:
        """The address of a market given by address or slug; an unknown one is refused here,
        naming the closest known markets, before the service is asked to list jobs on it."""
        try:
            markets = self.markets.list()
        except APIError as exc:
            if not is_market_address(market):
                raise
            logger.warning("cannot check market %s: markets unavailable (%s)", market, exc.message)
            return market
        return find_market(markets, market).address

    def check_funds(
        self,
        *,
        market: str,
        replicas: int,
        timeout_minutes: float,
        vault: str | None,
        creating: bool = False,
    ) -> None:
        try:
            markets = self.markets.list()
        except APIError as exc:
            logger.warning("skipping the funds pre-check: markets unavailable (%s)", exc.message)
            return
        estimate = _funds_plan(market, replicas, timeout_minutes, markets)
        if estimate is None:
            return
        if self.uses_api_key:  # API-key deployments pay with credits, not from a vault
            if self.credits is None:
                return
            try:
                balance = self.credits.balance()
            except APIError as exc:
                logger.warning("skipping the credits pre-check: balance unavailable (%s)", exc)
                return
            check_credits(estimate, balance)
            return
        address = vault if vault is not None else self.shared_vault()
        vault_balance = self.vault(address).get_balance()
        check_vault_funds(estimate, vault_balance, address, creating=creating)


class Deployment:
    """A handle on one deployment. ``state`` is the last known view, updated by every action."""

    def __init__(self, services: SyncServices, state: models.Deployment) -> None:
        self._services = services
        self._state = _state_from(state, _lazy_history(self._fetch_events, self._fetch_jobs))

    @property
    def id(self) -> str:
        """The deployment's address (its id on the service)."""
        return self._state.id

    @property
    def state(self) -> DeploymentState:
        """The last known state: fields, endpoints, events and jobs."""
        return self._state

    # shortcuts to the last known state (``refresh()`` reloads it)
    @property
    def name(self) -> str:
        """The deployment's name, as last known."""
        return self._state.name

    @property
    def status(self) -> DeploymentStatus | str:
        """The status as last known (``refresh()`` reloads it)."""
        return self._state.status

    @property
    def replicas(self) -> int:
        """How many replicas the deployment asks for, as last known."""
        return int(self._state.replicas)

    @property
    def strategy(self) -> Strategy | str:
        """SIMPLE, SIMPLE-EXTEND, SCHEDULED or INFINITE."""
        return self._state.strategy

    @property
    def market(self) -> str:
        """The address of the GPU market the jobs run on."""
        return self._state.market

    @property
    def timeout(self) -> timedelta:
        """The job timeout (the wire counts minutes)."""
        return self._state.timeout_timedelta

    @property
    def owner(self) -> str:
        """The address of the wallet that owns the deployment."""
        return self._state.owner

    @property
    def vault_address(self) -> str:
        """The address of the vault that pays for the jobs."""
        return self._state.vault

    @property
    def active_revision(self) -> int:
        """The number of the revision new jobs are listed with."""
        return self._state.active_revision

    @property
    def created_at(self) -> datetime | None:
        """When the service created the deployment (UTC)."""
        return self._state.created_at

    @property
    def updated_at(self) -> datetime | None:
        """When the service last changed the deployment (UTC)."""
        return self._state.updated_at

    @property
    def vault(self) -> Vault:
        """The deployment's vault (balance, top-up, withdraw)."""
        return self._services.vault(self._state.vault)

    def refresh(self) -> DeploymentState:
        """Reload the deployment and its newest events and jobs (up to 100 each).

        Returns:
            The new state, also kept as ``state``.
        """
        deployment = self._services.send(routes.get_deployment(self.id))
        return self._load_history(deployment)

    def _load_history(self, deployment: models.Deployment) -> DeploymentState:
        history = models.DeploymentHistory(events=self._fetch_events(), jobs=self._fetch_jobs())
        self._state = _state_from(deployment, history)
        return self._state

    def _fetch_events(self) -> list[Event]:
        route = routes.list_events(self.id, limit=STATE_HISTORY_LIMIT)
        return self._services.send(route).items

    def _fetch_jobs(self) -> list[Job]:
        route = routes.list_jobs(self.id, limit=STATE_HISTORY_LIMIT)
        return self._services.send(route).items

    def _act(self, route: Route[T], action: str) -> T:
        try:
            return self._services.send(route)
        except InvalidStateError as err:
            raise err.with_context(status=self._current_status(), action=action) from err

    def _act_post(self, route: Route[T], action: str, recover: Callable[[], R | None]) -> T | R:
        try:
            return self._services.send_post(route, recover)
        except InvalidStateError as err:
            raise err.with_context(status=self._current_status(), action=action) from err

    def _change_status(
        self, route: Route[models.StatusChange], action: str, landed: tuple[DeploymentStatus, ...]
    ) -> DeploymentState:
        """Send start/stop/archive; after an unknown outcome a status in ``landed`` means done."""

        def recover() -> DeploymentState | None:
            return self._state if self._fetch_status() in landed else None

        return self._fold(self._act_post(route, action, recover))

    def _fetch_status(self) -> str:
        deployment = self._services.send(routes.get_deployment(self.id))
        self._state = _merge(self._state, deployment)
        return str(deployment.status)

    def _current_status(self) -> str | None:
        """The status for an error message; None when even that cannot be read."""
        try:
            return self._fetch_status()
        except NosanaError:
            return None

    def _fold(self, reply: Any) -> DeploymentState:
        self._state = _merge(self._state, reply)
        return self._state

    def start(self, check_funds: bool = True) -> DeploymentState:
        """Start (from DRAFT, STOPPED, ERROR or INSUFFICIENT_FUNDS); checks vault funds first.

        Args:
            check_funds: estimate the escrow first and refuse when the vault cannot pay it
                (``InsufficientFundsError``); False sends the start unchecked.

        Returns:
            The state after the start (STARTING or RUNNING).
        """
        route = routes.start(self.id)
        if (
            _check_bool(check_funds, argument="check_funds")
            and self._state.vault != self._state.owner
        ):
            s = self._state
            self._services.check_funds(
                market=s.market, replicas=int(s.replicas), timeout_minutes=s.timeout, vault=s.vault
            )
        return self._change_status(route, "start", _STARTED)

    def stop(self) -> DeploymentState:
        """Stop (from STARTING or RUNNING); safe to call again after a lost reply.

        Returns:
            The state after the stop (STOPPING or STOPPED).
        """
        return self._change_status(routes.stop(self.id), "stop", _STOPPED)

    def archive(self) -> DeploymentState:
        """Archive a STOPPED deployment (permanent).

        Returns:
            The state after the archive (ARCHIVED).
        """
        return self._change_status(routes.archive(self.id), "archive", _ARCHIVED)

    def delete(self) -> None:
        """Delete a STOPPED deployment with its jobs, revisions and events."""
        self._act(routes.delete(self.id), "delete")

    def update_replicas(self, replicas: int) -> DeploymentState:
        """Set the replica count (0 pauses a running SIMPLE/SIMPLE-EXTEND/INFINITE deployment).

        Args:
            replicas: the new count (at least 0; the service's maximum applies).

        Returns:
            The state with the new count.
        """
        return self._fold(
            self._act(routes.update_replica_count(self.id, replicas), "update-replica-count")
        )

    def update_timeout(self, timeout: Seconds) -> DeploymentState:
        """Set the job timeout: seconds or timedelta, a whole number of minutes, at least 1 hour.

        Args:
            timeout: the new job timeout, in seconds or as a ``timedelta``.

        Returns:
            The state with the new timeout.
        """
        return self._fold(self._act(routes.update_timeout(self.id, timeout), "update-timeout"))

    def update_schedule(self, schedule: str) -> DeploymentState:
        """Set the cron schedule of a SCHEDULED deployment.

        Args:
            schedule: a five-field cron expression (checked with croniter before sending).

        Returns:
            The state with the new schedule.
        """
        return self._fold(self._act(routes.update_schedule(self.id, schedule), "update-schedule"))

    def rename(self, name: str) -> DeploymentState:
        """Give the deployment a new name.

        Args:
            name: the new name (non-empty).

        Returns:
            The state with the new name.
        """
        return self._fold(self._act(routes.update_name(self.id, name), "update-name"))

    def create_revision(self, job_definition: Mapping[str, Any]) -> RevisionCreated:
        """Add a revision with a new job definition and make it active.

        After a lost reply the revision is looked up (active revision advanced, same job
        definition) before the request is sent again, so it is never added twice.

        Args:
            job_definition: the new job definition (checked before sending).

        Returns:
            The service's reply: the new revision and the deployment it now belongs to.
        """
        definition = validate_job_definition(job_definition)
        route = routes.create_revision(self.id, definition)
        known = self._state.active_revision

        def recover() -> RevisionCreated | None:
            deployment = self._services.send(routes.get_deployment(self.id))
            if deployment.active_revision <= known:
                return None
            revisions = self._services.send(routes.newest_revisions(self.id)).items
            return _revision_created(deployment, revisions, definition)

        reply = self._act_post(route, "create-revision", recover)
        self._fold(reply)
        return reply

    def set_active_revision(self, revision: int) -> ActiveRevisionUpdate:
        """Make an earlier (or later) revision the one new jobs are listed with.

        Args:
            revision: the revision number.

        Returns:
            The service's reply with the updated deployment.
        """
        reply = self._act(
            routes.update_active_revision(self.id, revision), "update-active-revision"
        )
        self._fold(reply)
        return reply

    def get_tasks(
        self,
        *,
        task: TaskType | str | Iterable[TaskType | str] | None = None,
        due_after: datetime | None = None,
        due_before: datetime | None = None,
        limit: int = LIST_LIMIT,
        sort_order: SortOrder = "desc",
    ) -> SyncPager[Task]:
        """The deployment's scheduled tasks (one request a page).

        Args:
            task: only tasks of these types.
            due_after: only tasks due after this time.
            due_before: only tasks due before this time.
            limit: items per page.
            sort_order: ``"desc"`` (newest first) or ``"asc"``.

        Returns:
            A pager: iterate it for every task, or read ``first_page()``.
        """

        def route_for(cursor: str | None) -> Route[models.Page[Task]]:
            return routes.list_tasks(
                self.id,
                task=task,
                due_after=due_after,
                due_before=due_before,
                cursor=cursor,
                limit=limit,
                sort_order=sort_order,
            )

        return SyncPager(route_for, self._services.send)

    def get_jobs(
        self,
        *,
        state: JobState | str | Iterable[JobState | str] | None = None,
        job: str | None = None,
        revision: int | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = LIST_LIMIT,
        sort_order: SortOrder = "desc",
    ) -> SyncPager[Job]:
        """The deployment's jobs (one request a page).

        Args:
            state: only jobs in these states.
            job: only this job address.
            revision: only jobs of this revision.
            created_after: only jobs created after this time.
            created_before: only jobs created before this time.
            limit: items per page.
            sort_order: ``"desc"`` (newest first) or ``"asc"``.

        Returns:
            A pager: iterate it for every job, or read ``first_page()``.
        """

        def route_for(cursor: str | None) -> Route[models.Page[Job]]:
            return routes.list_jobs(
                self.id,
                state=state,
                job=job,
                revision=revision,
                created_after=created_after,
                created_before=created_before,
                cursor=cursor,
                limit=limit,
                sort_order=sort_order,
            )

        return SyncPager(route_for, self._services.send)

    def get_job(self, job: str) -> JobDetail:
        """One job's detail: node, state, times, price and result.

        Args:
            job: the job's address.

        Returns:
            The job's detail.
        """
        return self._services.send(routes.get_job(self.id, job))

    def get_job_results(self, job: str) -> JobResults | None:
        """What the job's node uploaded when it ended; None while it has not (queued, running).

        A service that answers an IPFS hash in ``jobResult`` is followed through the network's
        gateway (docs/wire-contract.md §3.4).

        Args:
            job: the job's address.

        Returns:
            The parsed results, or None while the job has not ended.

        Raises:
            APIResponseValidationError: the service's ``jobResult`` is not a results document.
        """
        detail = self.get_job(job)
        if isinstance(detail.job_result, str):
            return self._services.jobs.get_job_results(detail.job_result)
        try:
            return inline_job_results(detail.job_result)
        except ValueError as exc:
            route = routes.get_job(self.id, job)
            raise APIResponseValidationError(
                f"the job detail's jobResult is not a JobResults document: {exc}",
                method=route.method,
                url=route.path,
            ) from None

    def job(self, job: str) -> DeploymentJob:
        """A handle on one job of this deployment (its detail and results, fetched on demand).

        Args:
            job: the job's address.

        Returns:
            The job handle (no request is sent).
        """
        return DeploymentJob(self, job)

    def get_events(
        self,
        *,
        category: str | Iterable[str] | None = None,
        type: str | Iterable[str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = LIST_LIMIT,
        sort_order: SortOrder = "desc",
    ) -> SyncPager[Event]:
        """The deployment's events (one request a page).

        Args:
            category: only events of these categories.
            type: only events of these types.
            created_after: only events created after this time.
            created_before: only events created before this time.
            limit: items per page.
            sort_order: ``"desc"`` (newest first) or ``"asc"``.

        Returns:
            A pager: iterate it for every event, or read ``first_page()``.
        """

        def route_for(cursor: str | None) -> Route[models.Page[Event]]:
            return routes.list_events(
                self.id,
                category=category,
                type=type,
                created_after=created_after,
                created_before=created_before,
                cursor=cursor,
                limit=limit,
                sort_order=sort_order,
            )

        return SyncPager(route_for, self._services.send)

    def get_revisions(
        self,
        *,
        revision: int | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = LIST_LIMIT,
        sort_order: SortOrder = "desc",
    ) -> SyncPager[Revision]:
        """The deployment's revisions (one request a page).

        Args:
            revision: only this revision number.
            created_after: only revisions created after this time.
            created_before: only revisions created before this time.
            limit: items per page.
            sort_order: ``"desc"`` (newest first) or ``"asc"``.

        Returns:
            A pager: iterate it for every revision, or read ``first_page()``.
        """

        def route_for(cursor: str | None) -> Route[models.Page[Revision]]:
            return routes.list_revisions(
                self.id,
                revision=revision,
                created_after=created_after,
                created_before=created_before,
                cursor=cursor,
                limit=limit,
                sort_order=sort_order,
            )

        return SyncPager(route_for, self._services.send)

    def get_header(
        self, *, message: str = routes.DEFAULT_HEADER_MESSAGE, include_time: bool = False
    ) -> str:
        """A token signed by the deployment's vault, for endpoints that authenticate the owner.

        Args:
            message: the message the vault signs.
            include_time: add the signing time to the message.

        Returns:
            The header value to send to the deployment's endpoint.
        """
        return self._services.send(
            routes.get_header(self.id, message=message, include_time=include_time)
        )

    def wait_until(
        self,
        status: DeploymentStatus | str | Iterable[DeploymentStatus | str],
        timeout: float = 600.0,
        *,
        poll_interval: float = 1.0,
        max_poll_interval: float = 15.0,
    ) -> DeploymentState:
        """Poll until the status is one of ``status``; backoff grows 1.5x up to the cap.

        Args:
            status: the status, or statuses, to wait for.
            timeout: seconds of this process's time to wait at most.
            poll_interval: seconds before the second poll.
            max_poll_interval: the longest pause between polls.

        Returns:
            The state once the status is reached.

        Raises:
            WaitTimeoutError: after ``timeout`` seconds (naming the last status), or at once
                when a frozen sandbox clock means the status can never come.
            DeploymentFailedError: as soon as the deployment is ERROR or ARCHIVED when that
                is not what was asked for.
        """
        wanted = _wanted_statuses(status)
        _check_wait(timeout, poll_interval, max_poll_interval)
        clock, sleep = self._services.monotonic, self._services.sleep
        deadline = clock() + timeout
        interval = poll_interval
        frozen = _FrozenClockGuard(self._services.clock, clock)
        while True:
            current = self._fetch_status()
            if current in wanted:
                return self._state
            if current in _TERMINAL:
                events = self._services.send(routes.list_events(self.id, limit=10)).items
                raise DeploymentFailedError(
                    f"deployment {self.id} is {current}, not {' or '.join(wanted)}."
                    + _failure_detail(events),
                    status=current,
                    wanted=wanted,
                )
            remaining = deadline - clock()
            if remaining <= 0:
                raise WaitTimeoutError(
                    _wait_message(self.id, wanted, current, timeout), status=current, wanted=wanted
                )
            if frozen.stuck(current):
                what = f"deployment {self.id} is {current}, not {' or '.join(wanted)}"
                raise WaitTimeoutError(frozen.message(what), status=current, wanted=wanted)
            sleep(min(frozen.interval(interval), remaining))
            interval = min(interval * 1.5, max_poll_interval)

    def wait_for_jobs(
        self,
        count: int | None = None,
        *,
        state: JobState | str | Iterable[JobState | str] = JobState.RUNNING,
        timeout: float = 600.0,
        poll_interval: float = 1.0,
        max_poll_interval: float = 15.0,
    ) -> list[Job]:
        """Poll until at least ``count`` jobs (default: ``replicas``) are in ``state``.

        A deployment is RUNNING as soon as its jobs are listed, before any node runs them:
        wait for the jobs themselves before reading them.

        Args:
            count: how many jobs to wait for (default: the deployment's replicas).
            state: the job state, or states, to count.
            timeout: seconds of this process's time to wait at most.
            poll_interval: seconds before the second poll.
            max_poll_interval: the longest pause between polls.

        Returns:
            The newest page of jobs in ``state`` (at least ``count`` of them).

        Raises:
            ValidationError: ``count`` is not an int >= 1.
            WaitTimeoutError: after ``timeout`` seconds, or at once when a frozen sandbox
                clock means the jobs can never come.
        """
        _check_wait(timeout, poll_interval, max_poll_interval)
        wanted = self.replicas if count is None else count
        if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
            raise ValidationError(f"count must be an int >= 1; got {count!r}", argument="count")
        states = tuple(
            str(JobState(s)) for s in ([state] if isinstance(state, str | JobState) else state)
        )
        clock, sleep = self._services.monotonic, self._services.sleep
        deadline = clock() + timeout
        interval = poll_interval
        frozen = _FrozenClockGuard(self._services.clock, clock)
        while True:
            page = self._services.send(routes.list_jobs(self.id, state=states, limit=100))
            if len(page.items) >= wanted:
                return page.items
            what = (
                f"deployment {self.id} has {len(page.items)} of {wanted} jobs {' or '.join(states)}"
            )
            status = str(self._state.status)
            remaining = deadline - clock()
            if remaining <= 0:
                raise WaitTimeoutError(f"{what} after {timeout:g} s", status=status, wanted=states)
            if frozen.stuck(len(page.items)):
                raise WaitTimeoutError(frozen.message(what), status=status, wanted=states)
            sleep(min(frozen.interval(interval), remaining))
            interval = min(interval * 1.5, max_poll_interval)

    def stream(
        self,
        *,
        read_timeout: float | None = 60.0,
        idle_timeout: float | NotGiven | None = NOT_GIVEN,
    ) -> Iterator[StreamMessage]:
        """Live messages (snapshot first, then changes); ``deployment`` frames update ``state``.

        Args:
            read_timeout: seconds to wait for any bytes (heartbeats included) before the
                connection counts as lost.
            idle_timeout: seconds without a message (heartbeats do not count) before the
                iterator gives up; by default the client's ``stream_idle_timeout``.

        Returns:
            An iterator of stream messages.

        Raises:
            StreamIdleError: (while iterating) no message came for ``idle_timeout`` seconds.
        """
        _require_signing_wallet(self._services.wallet)
        path = routes.stream_path(self.id)

        def messages() -> Iterator[StreamMessage]:
            with self._services.dm.stream_sse(
                path, read_timeout=read_timeout, idle_timeout=idle_timeout
            ) as frames:
                for message in iter_messages(frames):
                    self._state = _apply_message(self._state, message)
                    yield message

        return messages()

    def probe_endpoints(
        self,
        *,
        timeout: float = DEFAULT_PROBE_TIMEOUT_S,
        max_concurrency: int = DEFAULT_PROBE_CONCURRENCY,
        max_bytes: int = DEFAULT_PROBE_MAX_BYTES,
    ) -> list[EndpointProbe]:
        """GET each endpoint URL of this deployment (as ``state`` lists them) and report.

        Args:
            timeout: seconds one probe may take in all.
            max_concurrency: probes in flight at once (1 to 64).
            max_bytes: body bytes read at most per answer.

        Returns:
            One result per endpoint: status or failure kind, latency, ``ready``.

        Raises:
            ValidationError: bad arguments.
            UnsafeEndpointError: an endpoint URL that is not http(s) or carries credentials.
        """
        return Endpoints(self._services).probe(
            self, timeout=timeout, max_concurrency=max_concurrency, max_bytes=max_bytes
        )

    def wait_until_ready(
        self,
        *,
        timeout: float = 900.0,
        poll_interval: float = 5.0,
        probe_timeout: float = DEFAULT_PROBE_TIMEOUT_S,
    ) -> EndpointReadiness:
        """Probe until every endpoint answers 2xx/3xx; the time from the job's start to that.

        Args:
            timeout: seconds of this process's time to wait at most.
            poll_interval: seconds between rounds of probes.
            probe_timeout: seconds one probe may take.

        Returns:
            The first all-ready round and the time to ready (service clock).

        Raises:
            ValidationError: bad arguments, or no endpoint exposed.
            WaitTimeoutError: not ready in time, or a frozen sandbox clock.
        """
        return Endpoints(self._services).wait_until_ready(
            self, timeout=timeout, poll_interval=poll_interval, probe_timeout=probe_timeout
        )

    def __repr__(self) -> str:
        s = self._state
        return f"Deployment(id={s.id!r}, name={s.name!r}, status={str(s.status)!r})"


class DeploymentJob:
    """One job of a deployment, by address: ``job.detail()``, ``job.results()``."""

    def __init__(self, deployment: Deployment, job: str) -> None:
        self._deployment = deployment
        self.address = job

    @property
    def deployment_id(self) -> str:
        return self._deployment.id

    def detail(self) -> JobDetail:
        return self._deployment.get_job(self.address)

    def results(self) -> JobResults | None:
        """The node's upload (per-op status, exit code, logs); None until the job ends."""
        return self._deployment.get_job_results(self.address)

    def __repr__(self) -> str:
        return f"DeploymentJob(job={self.address!r}, deployment={self.deployment_id!r})"


class Deployments:
    """``client.deployments``: create, list and get deployments."""

    def __init__(self, services: SyncServices) -> None:
        self._services = services
        self._claimed = _ClaimedIds()

    def create(
        self,
        *,
        name: str,
        market: str,
        replicas: int,
        timeout: Seconds,
        strategy: Strategy | str = "SIMPLE",
        job_definition: Mapping[str, Any] | None = None,
        ipfs_definition_hash: str | None = None,
        schedule: str | None = None,
        rotation_time: Seconds | None = None,
        confidential: bool | None = None,
        autostart: bool = False,
        vault: str | None = None,
        new_vault: bool = False,
        check_funds: bool = True,
        reconcile: bool = True,
        check_market: bool = True,
    ) -> Deployment:
        """Create a deployment. ``timeout``/``rotation_time`` are seconds or timedelta.

        Give exactly one of ``job_definition`` or ``ipfs_definition_hash`` (fetched from IPFS).
        Unless ``check_funds=False``, the vault must hold the estimated escrow first.
        ``market`` is an address or a slug (``"nvidia-3060"``); a market the markets API does not
        list is refused before anything is sent, naming the closest ones (``check_market=False``
        sends an address unchecked, as the service itself takes any address).

        A create whose reply is lost (connection dropped, timeout, generic 5xx) may still have
        created the deployment. With ``reconcile=True`` (default) the client then lists your
        deployments named ``name`` created since just before the first attempt, and returns
        one whose market, replicas, timeout, strategy, schedule, rotation time, vault and
        revision-1 job definition match; only when none does is the create sent again (at most
        3 attempts in all, with backoff). Deployments already returned by this client are never
        claimed twice. Identical creates with the same name made concurrently by *another*
        process cannot be told apart: give them distinct names. ``reconcile=False`` sends once
        and raises on any failure. Once the deployment exists, create never raises: if loading
        its events and jobs fails, they stay empty (a warning is logged; call ``refresh()``).

        Args:
            name: the deployment's name.
            market: a market address or slug.
            replicas: how many jobs run at once.
            timeout: each job's timeout, seconds or ``timedelta`` (whole minutes).
            strategy: SIMPLE, SIMPLE-EXTEND, SCHEDULED or INFINITE.
            job_definition: the job definition to pin to IPFS.
            ipfs_definition_hash: a job definition already on IPFS, instead.
            schedule: the cron schedule (SCHEDULED only).
            rotation_time: how long before a job's timeout its replacement is listed
                (INFINITE), seconds or ``timedelta``.
            confidential: run the job definition confidentially.
            autostart: start the deployment once created.
            vault: the vault that pays; default your shared vault.
            new_vault: give the deployment a vault of its own.
            check_funds: refuse when the vault cannot pay the estimated escrow.
            reconcile: after a lost reply, look for the created deployment before resending.
            check_market: check the market against the markets API first.

        Returns:
            A handle on the new deployment.

        Raises:
            ValidationError: a bad argument, before anything is sent.
            InsufficientFundsError: the vault cannot pay the estimated escrow.
        """
        _check_definition_source(job_definition, ipfs_definition_hash)
        _check_bool(check_funds, argument="check_funds")
        _check_bool(reconcile, argument="reconcile")
        _check_bool(check_market, argument="check_market")
        market_ref = check_market_ref(market)
        request = routes.prepare_create(
            name=name,
            # a slug is resolved below; checking every other argument first keeps bad input
            # off the network
            market=market_ref if is_market_address(market_ref) else routes.SLUG_STAND_IN,
            replicas=replicas,
            timeout=timeout,
            strategy=strategy,
            schedule=schedule,
            rotation_time=rotation_time,
            confidential=confidential,
            autostart=autostart,
            vault=vault,
            new_vault=new_vault,
        )
        _require_signing_wallet(self._services.wallet)
        definition = validate_job_definition(job_definition) if job_definition is not None else None
        if check_market or not is_market_address(market_ref):
            request = dataclasses.replace(request, market=self._services.resolve_market(market_ref))
        if definition is None:
            definition = validate_job_definition(
                self._services.jobs.get_job_definition(str(ipfs_definition_hash))
            )
        if check_funds and not request.new_vault:
            self._services.check_funds(
                market=request.market,
                replicas=request.replicas,
                timeout_minutes=request.timeout_minutes,
                vault=request.vault,
                creating=True,
            )
        route = routes.create_deployment(request, definition)
        if reconcile:
            created = self._send_create(route, request, definition)
        else:
            created = self._services.send(route)
            self._claimed.claim(created.id)
        handle = Deployment(self._services, created)
        try:
            handle._load_history(handle.state)
        except APIError as err:
            _history_skipped(created.id, err)  # the create itself succeeded: never report it failed
        return handle

    def _send_create(
        self,
        route: Route[models.Deployment],
        request: routes.CreateRequest,
        definition: Mapping[str, Any],
    ) -> models.Deployment:
        # created_at is stamped by the service's clock (the sandbox's may be far from ours)
        since = self._services.service_now() - routes.CREATE_CLOCK_SKEW

        def recover() -> models.Deployment | None:
            page = self._services.send(routes.find_created_candidates(request, since))
            for candidate in page.items:
                if not routes.created_by(request, candidate):
                    continue
                revisions = self._services.send(routes.first_revisions(candidate.id)).items
                if routes.revision_match(revisions, definition, number=1) and self._claimed.claim(
                    candidate.id
                ):
                    return candidate
            return None

        created = self._services.send_post(route, recover)
        self._claimed.claim(created.id)
        return created

    def list(
        self,
        *,
        search: str | None = None,
        status: DeploymentStatus | str | Iterable[DeploymentStatus | str] | None = None,
        strategy: Strategy | str | Iterable[Strategy | str] | None = None,
        id: str | Iterable[str] | None = None,
        name: str | None = None,
        vault: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = LIST_LIMIT,
        sort_order: SortOrder = "desc",
    ) -> SyncPager[Deployment]:
        """Your deployments, newest first; iterate for all pages (one request a page).

        Each handle's ``state.events``/``state.jobs`` load as ``get()``'s do.

        Args:
            search: text to look for in names and ids.
            status: only deployments with these statuses.
            strategy: only deployments with these strategies.
            id: only these deployment ids.
            name: only deployments with this exact name.
            vault: only deployments paid by this vault.
            created_after: only deployments created after this time.
            created_before: only deployments created before this time.
            limit: items per page.
            sort_order: ``"desc"`` (newest first) or ``"asc"``.

        Returns:
            A pager of deployment handles.
        """

        def route_for(cursor: str | None) -> Route[models.Page[models.Deployment]]:
            return routes.list_deployments(
                search=search,
                status=status,
                strategy=strategy,
                id=id,
                name=name,
                vault=vault,
                created_after=created_after,
                created_before=created_before,
                cursor=cursor,
                limit=limit,
                sort_order=sort_order,
            )

        return SyncPager(route_for, self._services.send, lambda d: Deployment(self._services, d))

    @overload
    def bulk(
        self,
        action: str,
        targets: Any = ...,
        *,
        dry_run: Literal[True] = ...,
        max_concurrency: int = ...,
        on_result: ResultCallback | None = ...,
        **arguments: Any,
    ) -> BulkPreview: ...

    @overload
    def bulk(
        self,
        action: str,
        targets: Any = ...,
        *,
        dry_run: Literal[False],
        max_concurrency: int = ...,
        on_result: ResultCallback | None = ...,
        **arguments: Any,
    ) -> BulkResult: ...

    @overload
    def bulk(
        self,
        action: str,
        targets: Any = ...,
        *,
        dry_run: bool,
        max_concurrency: int = ...,
        on_result: ResultCallback | None = ...,
        **arguments: Any,
    ) -> BulkPreview | BulkResult: ...

    def bulk(
        self,
        action: str,
        targets: Any = None,
        *,
        dry_run: bool = True,
        max_concurrency: int = DEFAULT_BULK_CONCURRENCY,
        on_result: ResultCallback | None = None,
        **arguments: Any,
    ) -> BulkPreview | BulkResult:
        """Preview, then run, one action on many deployments (or their vaults).

        A dry run (the default) reads every target's current state (one list request per 100)
        and returns a :class:`BulkPreview`: per deployment its status, whether the service's
        state machine allows the action and, if not, the typed reason
        (docs/wire-contract.md#state-machine), and the estimated change in NOS an hour.
        ``dry_run=False`` reads them again, sends the allowed ones concurrently (at most
        ``max_concurrency`` at a time) and returns a :class:`BulkResult` with one row each:
        ``ok``, ``refused`` (not sent, or refused by the service), ``failed`` (a typed error,
        nothing applied) or ``unknown`` (may have been applied; never resent blindly).
        ``frames.bulk_preview_dataframe`` / ``frames.bulk_results_dataframe`` make frames.

        Stopped mid-run, what finished stays reachable. ``on_result`` is called with each row
        as it finishes, before any cancellation propagates: the record to keep when an async
        run may be cancelled, whose ``CancelledError`` propagates unchanged (asyncio relies on
        it; it gains a note with the counts). A blocking run interrupted by Ctrl-C raises
        :class:`BulkInterrupted` (a ``KeyboardInterrupt``; the requests in flight finish first
        and nothing new is sent) whose ``.result`` is the BulkResult so far, unfinished rows
        ``cancelled``.

        Args:
            action: ``start``, ``stop``, ``archive``, ``delete``, ``scale`` (``replicas=``),
                ``set_timeout`` (``timeout=`` seconds or timedelta, whole minutes, >= 1 h),
                ``switch_revision`` (``revision=``), ``topup`` (``sol=``/``nos=`` whole units,
                or ``lamports=``; each distinct vault once) or ``withdraw`` (everything).
            targets: deployment ids, handles, or a table (a pandas DataFrame filtered as you
                like) with an ``id`` or ``deployment`` column. ``withdraw`` takes None for
                every vault of the wallet.
            dry_run: True (default) previews; False acts.
            max_concurrency: requests in flight at once (1-64).
            on_result: called with each result row as it finishes (progress).
            **arguments: the action's arguments (see ``action``); ``start`` takes
                ``check_funds=`` (default True).

        Returns:
            A BulkPreview (dry run) or a BulkResult.

        Raises:
            ValidationError: an unknown action, a bad argument (wrong type, NaN, negative,
                huge), or bad targets; raised before any request is sent.
            WalletError: no signing wallet.
            APIError: reading the targets' state failed (nothing was sent).
            BulkInterrupted: Ctrl-C after sending began (``.result`` holds every row).
        """
        return run_bulk(
            self,
            self._services,
            action,
            targets,
            dry_run=dry_run,
            max_concurrency=max_concurrency,
            on_result=on_result,
            arguments=arguments,
        )

    def get(self, deployment_id: str) -> Deployment:
        """One deployment, in one request.

        ``state.events``/``state.jobs`` (newest 100 each) are fetched on first read by a sync
        handle; an async handle loads them with ``handle.refresh()``.

        Args:
            deployment_id: the deployment's address.

        Returns:
            A handle on the deployment.
        """
        return Deployment(self._services, self._services.send(routes.get_deployment(deployment_id)))

    def __repr__(self) -> str:
        return f"Deployments({self._services.network.name!r})"


class Vaults:
    """``client.vaults``: your vaults on the deployment manager."""

    def __init__(self, services: SyncServices) -> None:
        self._services = services

    def list(self) -> list[VaultInfo]:
        """Your vaults on the deployment manager.

        Returns:
            One entry per vault (address, kind, creation time).
        """
        return self._services.send(routes.list_vaults())

    def create(self) -> Vault:
        """Your shared vault (get-or-create; safe to call repeatedly, resent after a lost reply).

        Returns:
            A handle on the vault.
        """
        return self._services.vault(self._services.shared_vault())

    def get(self, address: str) -> Vault:
        """A handle on one of your vaults (no request is sent).

        Args:
            address: the vault's address.

        Returns:
            A handle on the vault.
        """
        return self._services.vault(check_pubkey(address, argument="address"))

    def __repr__(self) -> str:
        return f"Vaults({self._services.network.name!r})"
