"""Execution of LIST, EXTEND and STOP tasks, with the retry ladders.

A task runs unit by unit (one job each), at most ``units_per_task_run`` units per run: a LIST
or STOP with more left goes back to PENDING for the next poll, behind the other deployments'
due tasks, so ``replicas: 1000000`` lists in bounded batches instead of holding the worker. A
unit that fails writes a ``JOB_*_ERROR`` event with the raw error text and reschedules the task
on the funds ladder (``InsufficientFundsForRent`` / ``Insufficient credits``; RUNNING becomes
INSUFFICIENT_FUNDS) or the ordinary ladder; progress already made is kept, so a retry only does
what is left. Progress after retries turns INSUFFICIENT_FUNDS back into RUNNING. See
docs/wire-contract.md#tasks.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator

from nosana_nb.sandbox.clock import Clock, iso
from nosana_nb.sandbox.store import UNSET, Doc, Store

from . import events
from .config import WorkerConfig, ladder_delay
from .documents import (
    SCHEDULED,
    SIMPLE,
    SIMPLE_EXTEND,
    active_jobs,
    count_active_jobs,
    find_deployment,
    replicas_of,
    set_status,
    timeout_seconds,
)
from .markets import find_market, network_fee
from .network import Network
from .payments import Payments, ended_job_fields, settlement_for
from .stats import WorkerStats
from .task_queue import PENDING, PROCESSING, TaskQueue, due_time, next_firing

log = logging.getLogger(__name__)

_NO_NEXT_FIRING = ("DRAFT", "STOPPING", "STOPPED", "ARCHIVED", "ERROR")


class UnitFailed(Exception):
    """One unit of a task failed; ``str()`` is the raw message the error event carries."""


@contextlib.contextmanager
def _payment_step() -> Iterator[None]:
    """A failed chain payment fails this attempt of the task (it is retried), not the worker."""
    try:
        yield
    except Exception as exc:
        raise UnitFailed(str(exc)) from exc


class TaskRunner:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        queue: TaskQueue,
        network: Network,
        payments: Payments,
        config: WorkerConfig,
        stats: WorkerStats,
    ) -> None:
        self._store = store
        self._clock = clock
        self._queue = queue
        self._network = network
        self._payments = payments
        self._config = config
        self._stats = stats
        self._handlers: dict[str, Callable[[Doc, Doc], bool]] = {
            "LIST": self._run_list,
            "EXTEND": self._run_extend,
            "STOP": self._run_stop,
        }

    def run(self, task: Doc) -> None:
        """Claim and execute one due task."""
        claimed = self._queue.update(
            task["_id"], {"status": PROCESSING, "attempts": int(task.get("attempts", 0)) + 1}
        )
        if claimed is None:
            return
        started = time.perf_counter()
        self._stats.task_started()
        try:
            self._execute(claimed)
        finally:
            self._stats.task_finished((time.perf_counter() - started) * 1000)
            self._stats.flush()

    def recover_abandoned(self) -> None:
        """After a restart, PROCESSING tasks lost their worker: retry or give up (attempt cap)."""
        for task in self._store.find("tasks", status=PROCESSING):
            self._stats.add("timed_out")
            if int(task.get("attempts", 0)) >= self._config.max_attempts:
                self._abandon(task)
            else:
                self._queue.update(task["_id"], {"status": PENDING})

    # -- dispatch -------------------------------------------------------------------------
    def _execute(self, task: Doc) -> None:
        deployment = find_deployment(self._store, str(task["deploymentId"]))
        if deployment is None:  # deleted meanwhile; tasks of deleted deployments just end
            self._queue.delete(task["_id"])
            return
        handler = self._handlers.get(str(task.get("task")))
        if handler is None:
            log.error("dropping task %s of unknown type %r", task["_id"], task.get("task"))
            self._queue.delete(task["_id"])
            return
        try:
            finished = handler(task, deployment)
        except UnitFailed as failure:
            self._retry(task["_id"], str(failure))
            return
        except Exception:  # a crash of the attempt itself, like a worker dying mid-task
            log.exception("task %s (%s) crashed", task["_id"], task.get("task"))
            self._crashed(task["_id"])
            return
        if finished:
            self._succeeded(task)
        else:
            self._continue_later(task)

    def _succeeded(self, task: Doc) -> None:
        self._stats.add("successful")
        current = self._store.get("tasks", task["_id"])
        if current is not None and current.get("status") == PROCESSING:
            self._queue.delete(task["_id"])
        self._recovered(task)

    def _continue_later(self, task: Doc) -> None:
        """Jobs left after this run's batch: PENDING again a poll later, so the other
        deployments' due tasks run first. A batch done is progress: the retry streak ends."""
        current = self._store.get("tasks", task["_id"])
        if current is None or current.get("status") != PROCESSING:
            return  # deleted meanwhile (a full STOP clears other tasks)
        self._queue.update(
            task["_id"],
            {
                "status": PENDING,
                "due_at": _iso_after(self._clock.now(), self._config.task_poll_s),
                "attempts": 0,
                "inflight_retries": 0,
            },
        )
        self._recovered(task)

    def _recovered(self, task: Doc) -> None:
        """Work went through after failed attempts: INSUFFICIENT_FUNDS is over."""
        if int(task.get("inflight_retries", 0)) == 0:
            return
        deployment = find_deployment(self._store, str(task["deploymentId"]))
        if deployment is not None:
            with self._store.transaction():
                if deployment.get("status") == "INSUFFICIENT_FUNDS":
                    set_status(self._store, deployment, "RUNNING")
                self._store.update("deployments", deployment["_id"], {"next_retry_at": UNSET})

    # -- failures -------------------------------------------------------------------------
    def _retry(self, task_id: str, message: str) -> None:
        task = self._store.get("tasks", task_id)
        if task is None:
            return
        self._stats.add("failed")
        deployment = find_deployment(self._store, str(task["deploymentId"]))
        funds = any(marker in message for marker in self._config.funds_error_markers)
        retries = int(task.get("inflight_retries", 0))
        config = self._config
        if funds:
            delay = ladder_delay(
                retries,
                base=config.funds_retry_base_s,
                multiplier=config.funds_retry_multiplier,
                maximum=config.funds_retry_max_s,
            )
        else:
            delay = ladder_delay(
                retries,
                base=config.retry_base_s,
                multiplier=config.retry_multiplier,
                maximum=config.retry_max_s,
            )
        now = self._clock.now()
        with self._store.transaction():
            events.record_event(
                self._store,
                self._clock,
                str(task["deploymentId"]),
                events.ERROR_TYPE_BY_TASK[str(task["task"])],
                message,
            )
            cap = config.max_inflight_retries
            if cap and retries + 1 >= cap:
                self._abandon(task)
                return
            self._queue.update(
                task_id,
                {
                    "status": PENDING,
                    "due_at": _iso_after(now, delay),
                    "inflight_retries": retries + 1,
                },
            )
            if deployment is not None:
                if funds and deployment.get("status") == "RUNNING":
                    set_status(self._store, deployment, "INSUFFICIENT_FUNDS")
                self._store.update(
                    "deployments", deployment["_id"], {"next_retry_at": _iso_after(now, delay)}
                )

    def _crashed(self, task_id: str) -> None:
        task = self._store.get("tasks", task_id)
        if task is None:
            return
        self._stats.add("failed")
        if int(task.get("attempts", 0)) >= self._config.max_attempts:
            self._abandon(task)
            return
        self._queue.update(
            task_id,
            {"status": PENDING, "due_at": _iso_after(self._clock.now(), self._config.retry_base_s)},
        )

    def _abandon(self, task: Doc) -> None:
        """Give a task up for good (retry cap reached): delete it, put the deployment in ERROR."""
        with self._store.transaction():
            self._queue.delete(task["_id"])
            deployment = find_deployment(self._store, str(task["deploymentId"]))
            if deployment is not None and deployment.get("status") != "ARCHIVED":
                set_status(self._store, deployment, "ERROR")

    # -- LIST -----------------------------------------------------------------------------
    def _list_target(self, task: Doc, deployment: Doc) -> int:
        """``computeListTarget``; a revision rollover counts only jobs of the new revision."""
        if task.get("limit") is not None:
            return max(0, int(task["limit"]))
        if deployment.get("strategy") in (SIMPLE, SIMPLE_EXTEND):
            revision = task.get("active_revision")
            active = count_active_jobs(self._store, deployment["id"], revision=revision)
            return max(0, replicas_of(deployment) - active)
        return replicas_of(deployment)

    def _run_list(self, task: Doc, deployment: Doc) -> bool:
        """Lists the next batch; True once ``target_count`` jobs are confirmed."""
        target = task.get("target_count")
        if target is None:
            target = self._list_target(task, deployment)
            self._queue.update(task["_id"], {"target_count": target, "confirmed_count": 0})
        confirmed = int(task.get("confirmed_count") or 0)
        batch_end = min(int(target), confirmed + self._config.units_per_task_run)
        if confirmed < batch_end:
            spec = find_market(str(deployment.get("market")))
            if spec is None:
                raise UnitFailed(f"Market {deployment.get('market')} does not exist")
            timeout_s = timeout_seconds(deployment)
            deposit = spec.job_price * timeout_s
            for _ in range(batch_end - confirmed):
                job = self._network.new_job_address()
                with _payment_step():
                    signature = self._payments.escrow(
                        str(deployment["vault"]),
                        deposit,
                        fee_units=network_fee(deposit),
                        reference=job,
                    )
                confirmed += 1
                self._record_listed(deployment, job, signature, spec.address, spec.job_price)
                self._queue.update(task["_id"], {"confirmed_count": confirmed})
        if confirmed < int(target):
            return False
        self._schedule_next_firing(deployment)
        return True

    def _record_listed(
        self, deployment: Doc, job: str, signature: str, market: str, price: int
    ) -> None:
        now_iso = self._clock.now_iso()
        timeout_s = timeout_seconds(deployment)
        with self._store.transaction():
            self._store.insert(
                "jobs",
                {
                    "tx": signature,
                    "deployment": deployment["id"],
                    "job": job,
                    "market": market,
                    "node": None,
                    "revision": deployment.get("active_revision"),
                    "state": "QUEUED",
                    "time_start": 0,
                    "time_end": 0,
                    "created_at": now_iso,
                    "updated_at": now_iso,
                    "vault": deployment["vault"],
                    "price": price,
                    "timeout_s": timeout_s,
                    "escrowed": price * timeout_s,
                    "fees_paid": network_fee(price * timeout_s),
                    "run_seconds": self._network.planned_runtime(job, timeout_s),
                    "paid": None,
                    "refunded": None,
                    "claim_at": None,
                },
            )
            events.record_event(
                self._store,
                self._clock,
                deployment["id"],
                events.JOB_LIST_CONFIRMED,
                events.list_confirmed(job),
                signature,
            )
        self._stats.add("listed")

    def _schedule_next_firing(self, deployment: Doc) -> None:
        """SCHEDULED: after a successful LIST the next one is due at the next firing after now."""
        current = find_deployment(self._store, deployment["id"]) or deployment
        if current.get("strategy") != SCHEDULED or current.get("status") in _NO_NEXT_FIRING:
            return
        try:
            firing = next_firing(str(current.get("schedule")), self._clock.now())
        except ValueError as exc:
            log.warning("deployment %s: %s; no next firing", current["id"], exc)
            return
        self._queue.schedule("LIST", current["id"], due=firing)

    # -- EXTEND ---------------------------------------------------------------------------
    def _run_extend(self, task: Doc, deployment: Doc) -> bool:
        job = self._store.find_one("jobs", job=task.get("job"), deployment=deployment["id"])
        if job is None or job.get("state") != "RUNNING":
            return True  # the job already ended: the extension is a no-op and the chain stops
        one_shot = task.get("extend_seconds")
        seconds = int(one_shot) if one_shot is not None else timeout_seconds(deployment)
        if seconds <= 0:
            return True
        deposit = int(job["price"]) * seconds
        with _payment_step():
            signature = self._payments.escrow(
                str(job["vault"]),
                deposit,
                fee_units=network_fee(deposit),
                reference=f"{job['job']}:extend:{job['timeout_s']}",
            )
        with self._store.transaction():
            self._store.update(
                "jobs",
                job["_id"],
                {
                    "timeout_s": int(job["timeout_s"]) + seconds,
                    "escrowed": int(job["escrowed"]) + deposit,
                    "fees_paid": int(job.get("fees_paid") or 0) + network_fee(deposit),
                },
            )
            events.record_event(
                self._store,
                self._clock,
                deployment["id"],
                events.JOB_EXTEND_SUCCESSFUL,
                events.extend_successful(signature),
                signature,
            )
        self._stats.add("extended")
        if one_shot is None:
            # From the time this extension was due, so processing lateness does not drift.
            due = min(self._clock.now(), due_time(task)) + timeout_seconds(deployment)
            self._queue.schedule("EXTEND", deployment["id"], due=due, job=job["job"])
        return True

    # -- STOP -----------------------------------------------------------------------------
    def _stop_selection(self, task: Doc, deployment: Doc) -> list[str]:
        active = active_jobs(self._store, deployment["id"])
        if task.get("job") is not None:
            return [j["job"] for j in active if j["job"] == task["job"]]
        if task.get("limit") is not None:
            # QUEUED first, then the oldest RUNNING (selectJobsToStop).
            ordered = sorted(
                active, key=lambda j: (j["state"] != "QUEUED", j.get("updated_at", ""), j["_id"])
            )
            return [j["job"] for j in ordered[: max(0, int(task["limit"]))]]
        revision = task.get("active_revision")
        if revision is not None:
            return [j["job"] for j in active if j.get("revision") != revision]
        return [j["job"] for j in active]

    def _clear_for_full_stop(self, task: Doc, deployment: Doc) -> None:
        """A full STOP first drops every other non-STOP task (but its own revision's)."""
        revision = task.get("active_revision")
        with self._store.transaction():
            for other in self._queue.for_deployment(deployment["id"]):
                if other["_id"] == task["_id"] or other.get("task") == "STOP":
                    continue
                if revision is not None and other.get("active_revision") == revision:
                    continue
                self._queue.delete(other["_id"])

    def _run_stop(self, task: Doc, deployment: Doc) -> bool:
        """Ends the next batch of the jobs fixed on the first attempt; True when all are done."""
        full = task.get("job") is None and task.get("limit") is None
        targets = task.get("stop_targets")
        if targets is None:
            if full:
                self._clear_for_full_stop(task, deployment)
            targets = self._stop_selection(task, deployment)
            self._queue.update(task["_id"], {"stop_targets": targets, "stop_done": []})
        done: list[str] = list(task.get("stop_done") or [])
        already = set(done)
        left = [address for address in targets if address not in already]
        batch = left[: self._config.units_per_task_run]
        stopped = int(task.get("stopped_count") or 0)
        try:
            for address in batch:
                if self._stop_job(deployment, address):
                    stopped += 1
                done.append(address)
        finally:  # progress survives a failed unit: the retry does only what is left
            self._queue.update(task["_id"], {"stop_done": done, "stopped_count": stopped})
        if len(left) > len(batch):
            return False
        remaining = count_active_jobs(self._store, deployment["id"])
        current = find_deployment(self._store, deployment["id"]) or deployment
        if stopped == 0 and not remaining and current.get("status") == "STOPPING":
            set_status(self._store, current, "STOPPED")
        elif full and remaining and task.get("active_revision") is None:
            # Jobs listed while this STOP ran: stop them too (idempotent reschedule).
            self._queue.delete(task["_id"])
            self._queue.schedule("STOP", deployment["id"], due=self._clock.now())
        return True

    def _stop_job(self, deployment: Doc, address: str) -> bool:
        """Delist a QUEUED job or end a RUNNING one; False when it had already ended."""
        job = self._store.find_one("jobs", job=address, deployment=deployment["id"])
        if job is None or job.get("state") not in ("QUEUED", "RUNNING"):
            events.record_event(
                self._store,
                self._clock,
                deployment["id"],
                events.JOB_STOPPED_CONFIRMED,
                events.already_settled(address),
                None,
            )
            return False
        now = self._clock.now()
        settlement = settlement_for(job, end_ts=now)
        with _payment_step():
            signature = self._payments.settle(job, settlement)
        with self._store.transaction():
            self._store.update(
                "jobs",
                job["_id"],
                ended_job_fields("STOPPED", settlement, signature, now),
            )
            events.record_event(
                self._store,
                self._clock,
                deployment["id"],
                events.JOB_STOPPED_CONFIRMED,
                events.stop_confirmed(address, signature),
                signature,
            )
            self._network.post_results(job, end_s=now, stopped=True)
        self._stats.add("stopped")
        return True


def _iso_after(now: float, seconds: float) -> str:
    return iso(now + seconds)
