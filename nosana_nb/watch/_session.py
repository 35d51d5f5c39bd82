"""One deployment's live stream: record, reconnect with capped backoff, reconcile the gap.

After a reconnect the service sends its snapshot again but does not replay what changed while
we were away (docs/wire-contract.md §10.3). So on every reconnect, once the stream is open
(nothing after that point can be missed), the jobs list fills the gap: jobs that were active
before the drop and jobs listed during it get their missing transitions as
``source="reconcile"`` rows.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from nosana_nb.core.client import AsyncNosanaClient
from nosana_nb.core.deployments import AsyncDeployment
from nosana_nb.core.errors import APIStatusError, NosanaError, NotFoundError, StreamError
from nosana_nb.core.models import (
    DeploymentMessage,
    Job,
    JobMessage,
    StreamMessage,
    TaskMessage,
)
from nosana_nb.core.retry_policy import Retrier, reconnect_backoff, reconnectable
from nosana_nb.watch._recorder import Recorder
from nosana_nb.watch._rows import (
    ACTIVE_JOB_STATES,
    FINAL_JOB_STATES,
    Source,
    deployment_row,
    from_unix,
    job_row,
    job_time,
    utc_now,
    wire_text,
)

logger = logging.getLogger("nosana_nb.watch")

RECONCILE_PAGE_SIZE = 100
RECONCILE_MAX_PAGES = 20
"""Jobs listed during one outage beyond 2,000 are not back-filled (the stream has them live)."""


T = TypeVar("T")


@asynccontextmanager
async def closing_iterator(iterator: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """Close an async generator when the block ends, also on cancellation (no GC finalizer)."""
    try:
        yield iterator
    finally:
        close: Any = getattr(iterator, "aclose", None)
        if close is not None:
            await close()


@dataclass(frozen=True)
class SessionSettings:
    read_timeout: float
    backoff_initial: float
    backoff_max: float


is_transient = reconnectable
"""Worth reconnecting for: decided by the core's retry policy, like every other retry."""


class SnapshotPhase:
    """Tells the snapshot (deployment, active jobs, tasks, in that order) from live frames."""

    def __init__(self) -> None:
        self._phase = "deployment"
        self._jobs: set[str] = set()
        self._tasks: set[str] = set()

    def source(self, message: StreamMessage) -> Source:
        phase = self._phase
        if phase == "deployment" and isinstance(message, DeploymentMessage):
            self._phase = "jobs"
            return "snapshot"
        if (
            phase == "jobs"
            and isinstance(message, JobMessage)
            and wire_text(message.state) in ACTIVE_JOB_STATES
            and message.job not in self._jobs
        ):
            self._jobs.add(message.job)
            return "snapshot"
        if (
            phase in ("jobs", "tasks")
            and isinstance(message, TaskMessage)
            and message.id not in self._tasks
        ):
            self._phase = "tasks"
            self._tasks.add(message.id)
            return "snapshot"
        self._phase = "live"
        return "stream"


class DeploymentSession:
    def __init__(
        self,
        deployment: str,
        recorder: Recorder,
        settings: SessionSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        clock_floor: Callable[[datetime], None] | None = None,
    ) -> None:
        self.deployment = deployment
        self._recorder = recorder
        self._settings = settings
        self._clock = clock
        self._clock_floor = clock_floor
        # newest jobs at the first connect: a reconnect's back-fill stops there
        self._baseline: set[str] = set()
        self._baseline_taken = False

    async def run(self, client: AsyncNosanaClient) -> None:
        """Watch until cancelled, or until an error that retrying cannot fix.

        Reconnects go through the core's retry loop: the policy decides what is worth another
        connection, the client's sleeper waits, and each reconnect adds to its retries_total.
        """
        settings = self._settings
        handle: AsyncDeployment | None = None
        connected_before = False

        def reconnecting(err: BaseException, _wait: float) -> None:
            self._recorder.set_status(self.deployment, state="reconnecting", last_error=str(err))

        retrier = Retrier(
            reconnect_backoff(settings.backoff_initial, settings.backoff_max),
            retry_on=reconnectable,
            counter=client.retry_counter,
            sleeper=client.options.sleeper,
            what=f"the stream of deployment {self.deployment}",
            on_retry=reconnecting,
        )

        async def connect_once() -> None:
            nonlocal handle, connected_before
            self._recorder.set_status(
                self.deployment, state="reconnecting" if connected_before else "connecting"
            )
            if handle is None:
                handle = await client.deployments.get(self.deployment)
            if await self._stream_once(handle):
                connected_before = True
                retrier.reset()  # a connection that delivered: the backoff starts over
            raise StreamError("the server closed the stream")

        try:
            await retrier.acall(connect_once)
        except NosanaError as err:  # not worth another connection
            self._fail(err)
        except Exception as err:  # a bug must show up in the status, not loop forever
            logger.exception("watching deployment %s failed", self.deployment)
            self._fail(err)

    def _fail(self, err: BaseException) -> None:
        message = str(err) or type(err).__name__
        self._recorder.set_status(self.deployment, state="failed", last_error=message)

    async def _stream_once(self, handle: AsyncDeployment) -> bool:
        """Read one connection to its end; True if it delivered anything."""
        history = self._recorder.history()
        reconnecting = history.knows(self.deployment)
        known_jobs = history.job_states(self.deployment)
        phase = SnapshotPhase()
        received = False
        stream = handle.stream(read_timeout=self._settings.read_timeout)
        async with closing_iterator(stream) as messages:
            async for message in messages:
                now = self._clock()
                self._recorder.set_status(self.deployment, last_message_at=now)
                self._record(message, phase.source(message), now)
                if not received:
                    received = True
                    if reconnecting:
                        await self._reconcile(handle, known_jobs)
                    elif not self._baseline_taken:
                        await self._take_baseline(handle)
                    self._recorder.bump_connects(self.deployment)
        return received

    def _record(self, message: StreamMessage, source: Source, received: datetime) -> None:
        if isinstance(message, DeploymentMessage):
            if message.status is not None:
                self._recorder.record(
                    deployment_row(
                        self.deployment,
                        message.status,
                        replicas=message.replicas,
                        active_revision=message.active_revision,
                        source=source,
                        received=received,
                    )
                )
            return
        if not isinstance(message, JobMessage):
            return
        state = wire_text(message.state)
        history = self._recorder.history()
        if (
            state in FINAL_JOB_STATES
            and message.time_start
            and not history.has(self.deployment, message.job, "RUNNING")
        ):  # one frame carried both the start and the end
            self._record_job(
                message.job,
                "RUNNING",
                message.node,
                from_unix(message.time_start) or received,
                source,
            )
        when = job_time(
            state, time_start=message.time_start, time_end=message.time_end, fallback=received
        )
        if self._clock_floor is not None:
            self._clock_floor(when)  # the service's clock has reached its own stamp
        self._record_job(message.job, state, message.node, when, source)

    def _record_job(
        self, job: str, state: str, node: str | None, when: datetime, source: Source
    ) -> None:
        self._recorder.record(
            job_row(self.deployment, job, state, node=node, time=when, source=source)
        )

    async def _take_baseline(self, handle: AsyncDeployment) -> None:
        page = await handle.get_jobs(limit=RECONCILE_PAGE_SIZE, sort_order="desc").first_page()
        self._baseline = {job.job for job in page.items}
        self._baseline_taken = True

    async def _reconcile(self, handle: AsyncDeployment, known: dict[str, str]) -> None:
        """Record what changed while the stream was down (``known``: job states before it)."""
        stop_at = set(known) | self._baseline
        found: dict[str, Job] = {}
        pager = handle.get_jobs(limit=RECONCILE_PAGE_SIZE, sort_order="desc")
        async with closing_iterator(pager.pages()) as pages:
            count = 0
            async for page in pages:
                count += 1
                found.update((job.job, job) for job in page.items)
                if count >= RECONCILE_MAX_PAGES or any(j.job in stop_at for j in page.items):
                    break
        for address, state in known.items():
            if state in ACTIVE_JOB_STATES and address not in found:
                page = await handle.get_jobs(job=address, limit=10).first_page()
                found.update((job.job, job) for job in page.items if job.job == address)
        ordered = sorted(found.values(), key=lambda j: j.created_at or self._clock())
        for job in ordered:
            before = known.get(job.job)
            if before is None and job.job in self._baseline:
                continue  # it was there before we started watching
            if before is None or before in ACTIVE_JOB_STATES:
                await self._reconcile_job(handle, job, is_new=before is None)

    async def _reconcile_job(self, handle: AsyncDeployment, job: Job, *, is_new: bool) -> None:
        state = wire_text(job.state)
        if state not in ACTIVE_JOB_STATES | FINAL_JOB_STATES:
            return  # a state this client does not know; the stream will report it
        now = self._clock()
        if is_new:
            self._record_job(job.job, "QUEUED", None, job.created_at or now, "reconcile")
        if job.time_start or state == "RUNNING":
            started = from_unix(job.time_start) or now
            self._record_job(job.job, "RUNNING", job.node, started, "reconcile")
        if state in FINAL_JOB_STATES and not self._recorder.history().has_final(
            self.deployment, job.job
        ):
            ended = await self._ended_at(handle, job.job)
            self._record_job(job.job, state, job.node, ended or now, "reconcile")

    async def _ended_at(self, handle: AsyncDeployment, job: str) -> datetime | None:
        """The job's end time from its detail (the jobs list does not carry ``time_end``)."""
        try:
            detail = await handle.get_job(job)
        except NotFoundError:
            return None
        except APIStatusError as err:
            if is_transient(err):
                raise
            return None
        return detail.ended_at
