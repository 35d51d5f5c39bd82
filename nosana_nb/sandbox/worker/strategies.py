"""The worker's listeners: what each committed change schedules, strategy by strategy.

Like the real change-stream listeners, only *updates* matter (inserts trigger nothing), and the
reaction reads the current documents. Deviation on purpose from a race of the real service
(a SIMPLE revision rollover lists ``replicas - active`` while the old jobs are still counted,
so the new revision may be under-listed or the deployment even stop): here a rollover schedules
its LIST before its STOP and the LIST counts only jobs of the new revision, so a SIMPLE
deployment rolls over to a full set of jobs. Strategies: docs/wire-contract.md#strategies.
"""

from __future__ import annotations

import logging

from nosana_nb.sandbox.clock import Clock, iso
from nosana_nb.sandbox.store import Change, Doc, Store

from . import events
from .config import WorkerConfig, ladder_delay
from .documents import (
    INFINITE,
    SCHEDULED,
    SIMPLE,
    SIMPLE_EXTEND,
    count_active_jobs,
    find_deployment,
    replicas_of,
    set_status,
    timeout_seconds,
)
from .task_queue import TaskQueue, due_time, next_firing

log = logging.getLogger(__name__)

_DEPLOYMENT_FIELDS = frozenset({"status", "active_revision", "replicas", "timeout", "schedule"})
_NO_AUTO_STOP = ("ERROR", "INSUFFICIENT_FUNDS", "ARCHIVED", "STOPPED")


def is_relevant(change: Change) -> bool:
    """Cheap filter for the change feed: the updates some listener reacts to.

    The real API inserts a deployment and then updates it to STARTING for ``autostart``; a
    deployment *inserted* as STARTING is treated the same, so either way it starts.
    """
    if change.op == "insert" and change.collection == "deployments":
        return (change.after or {}).get("status") == "STARTING"
    if change.op != "update":
        return False
    if change.collection == "deployments":
        return bool(change.changed & _DEPLOYMENT_FIELDS)
    return change.collection == "jobs" and "state" in change.changed


class Strategies:
    def __init__(self, store: Store, clock: Clock, queue: TaskQueue, config: WorkerConfig) -> None:
        self._store = store
        self._clock = clock
        self._queue = queue
        self._config = config

    def react(self, change: Change) -> None:
        if not is_relevant(change) or change.after is None:
            return
        if change.op == "insert":
            self._on_starting(change.after)
        elif change.collection == "deployments":
            self._on_deployment(change)
        else:
            self._on_job(change)

    def resume(self, deployment: Doc) -> None:
        """A worker (re)starting sees STARTING/STOPPING left behind by an absent worker."""
        status = deployment.get("status")
        if status == "STARTING":
            self._on_starting(deployment)
        elif status == "STOPPING" and not self._store.find(
            "tasks", deploymentId=deployment["id"], task="STOP", job=None, limit=None
        ):
            self._queue.schedule("STOP", deployment["id"], due=self._clock.now())

    # -- deployments ----------------------------------------------------------------------
    def _on_deployment(self, change: Change) -> None:
        assert change.after is not None
        deployment = self._store.get("deployments", change.oid)
        if deployment is None:
            return
        changed = change.changed
        status = deployment.get("status")
        if "status" in changed and change.after.get("status") == "STARTING":
            self._on_starting(deployment)
            deployment = self._store.get("deployments", change.oid) or deployment
            status = deployment.get("status")
        if "status" in changed and change.after.get("status") == "STOPPING":
            self._queue.schedule("STOP", deployment["id"], due=self._clock.now())
        if "active_revision" in changed and status != "DRAFT":
            self._on_revision(deployment)
        if "replicas" in changed and status == "RUNNING":
            self._on_replicas(deployment)
        if "timeout" in changed and status == "RUNNING":
            self._on_timeout(deployment)
        if "schedule" in changed and status != "DRAFT":
            self._on_schedule(deployment)

    def _first_list_due(self, deployment: Doc) -> float:
        """Now, or the next cron firing for SCHEDULED (ValueError for an unusable cron)."""
        now = self._clock.now()
        if deployment.get("strategy") == SCHEDULED:
            return next_firing(str(deployment.get("schedule")), now)
        return now

    def _on_starting(self, snapshot: Doc) -> None:
        deployment = self._store.get("deployments", snapshot["_id"])
        if deployment is None or deployment.get("status") != "STARTING":
            return
        try:
            due = self._first_list_due(deployment)
        except ValueError as exc:
            # An unparsable cron that passed the API: the real listener throws here and the
            # deployment stays STARTING for ever (a known quirk, kept).
            log.warning("deployment %s cannot start: %s", deployment["id"], exc)
            return
        with self._store.transaction():
            self._queue.schedule("LIST", deployment["id"], due=due)
            set_status(self._store, deployment, "RUNNING")
            if deployment.get("strategy") == INFINITE:  # a new run starts a new streak
                self._store.update("deployments", deployment["_id"], {"rapid_streak": 0})

    def _on_revision(self, deployment: Doc) -> None:
        revision = int(deployment["active_revision"])
        try:
            due = self._first_list_due(deployment)
        except ValueError as exc:
            log.warning("deployment %s: no rollover LIST: %s", deployment["id"], exc)
            due = None
        if due is not None:
            self._queue.schedule("LIST", deployment["id"], due=due, active_revision=revision)
        self._queue.schedule(
            "STOP", deployment["id"], due=self._clock.now(), active_revision=revision
        )

    def _on_replicas(self, deployment: Doc) -> None:
        if deployment.get("strategy") not in (SIMPLE, SIMPLE_EXTEND, INFINITE):
            return
        active = count_active_jobs(self._store, deployment["id"])
        replicas = replicas_of(deployment)
        now = self._clock.now()
        self._queue.shrink_started_lists(deployment["id"], still_needed=max(0, replicas - active))
        if active > replicas:
            self._queue.schedule("STOP", deployment["id"], due=now, limit=active - replicas)
        elif active < replicas:
            self._queue.schedule("LIST", deployment["id"], due=now, limit=replicas - active)

    def _on_timeout(self, deployment: Doc) -> None:
        if deployment.get("strategy") not in (INFINITE, SIMPLE_EXTEND):
            return
        target = timeout_seconds(deployment)
        now = self._clock.now()
        for job in self._store.find("jobs", deployment=deployment["id"], state="RUNNING"):
            delta = target - int(job["timeout_s"])
            if delta <= 0:
                continue  # on-chain timeouts never shrink
            followups = self._queue.pending_for_job(deployment["id"], job["job"])
            with self._store.transaction():
                for task in followups:
                    self._queue.update(task["_id"], {"due_at": iso(due_time(task) + delta)})
                self._queue.schedule(
                    "EXTEND", deployment["id"], due=now, job=job["job"], extend_seconds=delta
                )

    def _on_schedule(self, deployment: Doc) -> None:
        try:
            firing = next_firing(str(deployment.get("schedule")), self._clock.now())
        except ValueError as exc:
            log.warning("deployment %s: schedule not applied: %s", deployment["id"], exc)
            return
        with self._store.transaction():
            for task in self._queue.for_deployment(deployment["id"]):
                self._queue.update(task["_id"], {"due_at": iso(firing)})

    # -- jobs -----------------------------------------------------------------------------
    def _on_job(self, change: Change) -> None:
        assert change.after is not None
        job = change.after
        state = job.get("state")
        before = (change.before or {}).get("state")
        deployment = find_deployment(self._store, str(job.get("deployment")))
        if deployment is None:
            return
        if state == "RUNNING" and before == "QUEUED":
            self._on_job_running(deployment, job)
        elif state in ("COMPLETED", "STOPPED") and before in ("QUEUED", "RUNNING"):
            self._on_job_ended(deployment, job)

    def _on_job_running(self, deployment: Doc, job: Doc) -> None:
        strategy = deployment.get("strategy")
        started = float(job.get("time_start") or self._clock.now())
        timeout_s = timeout_seconds(deployment)
        if strategy == SIMPLE_EXTEND:
            config = self._config
            buffer = min(
                max(config.extend_buffer_fraction * timeout_s, config.extend_buffer_min_s),
                config.extend_buffer_max_s,
            )
            self._queue.schedule(
                "EXTEND", deployment["id"], due=started + timeout_s - buffer, job=job["job"]
            )
        elif strategy == INFINITE and deployment.get("status") == "RUNNING":
            now = self._clock.now()
            active = count_active_jobs(self._store, deployment["id"])
            if active > replicas_of(deployment):
                self._queue.schedule("STOP", deployment["id"], due=now, limit=1)
            rotation_s = float(deployment.get("rotation_time") or 0) * 60
            self._queue.schedule(
                "LIST",
                deployment["id"],
                due=started + timeout_s - rotation_s,
                job=job["job"],
                limit=1,
            )

    def _on_job_ended(self, deployment: Doc, job: Doc) -> None:
        self._queue.delete_for_job(deployment["id"], job["job"])
        deployment = find_deployment(self._store, deployment["id"]) or deployment
        remaining = count_active_jobs(self._store, deployment["id"])
        status = deployment.get("status")
        strategy = deployment.get("strategy")
        if (
            not remaining
            and status not in _NO_AUTO_STOP
            and (strategy in (SIMPLE, SIMPLE_EXTEND) or status == "STOPPING")
        ):
            set_status(self._store, deployment, "STOPPED")
            return
        if strategy != INFINITE or status != "RUNNING":
            return
        if job.get("state") == "COMPLETED" and self._rapid_round(deployment):
            return
        if remaining < replicas_of(deployment):
            self._queue.schedule("LIST", deployment["id"], due=self._clock.now(), limit=1)

    def _rapid_round(self, deployment: Doc) -> bool:
        """INFINITE fail-safe: throttle or stop when recent completions all ran briefly.

        True if this round was rapid.
        """
        config = self._config
        since = str(deployment.get("updated_at") or "")
        completed = self._store.find(
            "jobs",
            lambda j: str(j.get("created_at", "")) >= since,
            deployment=deployment["id"],
            state="COMPLETED",
        )
        completed.sort(key=lambda j: (j.get("created_at", ""), j["_id"]), reverse=True)
        recent = completed[: max(replicas_of(deployment), 1) * config.rapid_job_count]
        if len(recent) < config.rapid_job_count or not all(_ran_briefly(j, config) for j in recent):
            if deployment.get("rapid_streak"):
                self._store.update("deployments", deployment["_id"], {"rapid_streak": 0})
            return False
        streak = int(deployment.get("rapid_streak") or 0)
        round_number = streak + 1
        with self._store.transaction():
            if round_number >= config.rapid_max_streak:
                self._store.update("deployments", deployment["_id"], {"rapid_streak": round_number})
                set_status(self._store, deployment, "STOPPING")
                events.record_event(
                    self._store,
                    self._clock,
                    deployment["id"],
                    events.RAPID_COMPLETION_FAIL_SAFE,
                    events.rapid_fail_safe(
                        config.rapid_max_streak, int(config.rapid_threshold_s // 60)
                    ),
                )
                return True
            delay = int(
                ladder_delay(
                    streak,
                    base=config.rapid_cooldown_base_s,
                    multiplier=config.rapid_cooldown_multiplier,
                    maximum=config.rapid_cooldown_max_s,
                )
            )
            self._queue.schedule("LIST", deployment["id"], due=self._clock.now() + delay, limit=1)
            self._store.update("deployments", deployment["_id"], {"rapid_streak": round_number})
            events.record_event(
                self._store,
                self._clock,
                deployment["id"],
                events.RAPID_COMPLETION_THROTTLE,
                events.rapid_throttle(round_number, delay),
            )
        return True


def _ran_briefly(job: Doc, config: WorkerConfig) -> bool:
    start = int(job.get("time_start") or 0)
    end = int(job.get("time_end") or 0)
    if not start or not end:
        return False  # missing timestamps count as healthy
    return end - start < config.rapid_threshold_s
