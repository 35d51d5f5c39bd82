"""The SSE stream through the client while simulated time moves: snapshot first, then every
deployment, job, event and task change, in the order the sandbox committed them.

The iterator runs in a thread that collects frames; the test thread drives the deployment and
the clock, then compares what arrived with the sandbox's store.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from nosana_nb.core.deployments import Deployment
from nosana_nb.core.models import (
    DeploymentMessage,
    EventMessage,
    JobMessage,
    StreamMessage,
    TaskDoneMessage,
    TaskMessage,
)
from nosana_nb.core.validation import DeploymentStatus, JobState
from nosana_nb.sandbox import SandboxHandle
from tests.e2e.conftest import MARKET_3090, Account, settle, wait_running

WAIT_S = 10.0


class Collector:
    """Reads a deployment's stream in a thread until a deployment frame says STOPPED."""

    def __init__(self, deployment: Deployment) -> None:
        self.messages: list[StreamMessage] = []
        self.arrived: queue.Queue[StreamMessage] = queue.Queue()
        self.failure: BaseException | None = None
        self._stream: Iterator[StreamMessage] = deployment.stream(read_timeout=WAIT_S)
        self._thread = threading.Thread(target=self._run, name="e2e-stream", daemon=True)

    def __enter__(self) -> Collector:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive(), "the stream did not end after STOPPED"
        if self.failure is not None:
            raise self.failure

    def next(self) -> StreamMessage:
        return self.arrived.get(timeout=WAIT_S)

    def _run(self) -> None:
        try:
            for message in self._stream:
                self.messages.append(message)
                self.arrived.put(message)
                if isinstance(message, DeploymentMessage) and message.status == "STOPPED":
                    break
        except BaseException as exc:  # handed to the test thread
            self.failure = exc
        finally:
            self._stream.close()  # type: ignore[attr-defined]


def _position(messages: list[StreamMessage], predicate: Any) -> int:
    for index, message in enumerate(messages):
        if predicate(message):
            return index
    raise AssertionError("no such message in the stream")


def test_stream_follows_a_deployment_through_its_life(
    own_sandbox: SandboxHandle, own_account: Account
) -> None:
    sandbox, account = own_sandbox, own_account
    deployment = account.deploy(name="streamed", strategy="SIMPLE-EXTEND", market=MARKET_3090)
    watched = account.client.deployments.get(deployment.id)  # its own handle for the thread
    with Collector(watched) as collector:
        snapshot = collector.next()
        assert isinstance(snapshot, DeploymentMessage)
        assert (snapshot.status, snapshot.replicas, snapshot.active_revision) == ("DRAFT", 1, 1)

        deployment.start()
        wait_running(deployment)
        settle(sandbox)
        sandbox.advance(61)  # a node claims the job; its first EXTEND is scheduled
        sandbox.advance(600)  # the first extension runs
        deployment.stop()
    messages = collector.messages
    (job_doc,) = sandbox.store.find("jobs", deployment=deployment.id)
    job = job_doc["job"]

    statuses = [m.status for m in messages if isinstance(m, DeploymentMessage)]
    assert statuses == ["DRAFT", "STARTING", "RUNNING", "STOPPING", "STOPPED"]
    assert watched.state.status is DeploymentStatus.STOPPED  # frames update the handle

    job_frames = [m for m in messages if isinstance(m, JobMessage)]
    assert {m.job for m in job_frames} == {job}
    assert [m.state for m in job_frames] == [JobState.QUEUED, JobState.RUNNING, JobState.STOPPED]
    assert job_frames[1].node == job_doc["node"]
    assert job_frames[1].time_start == job_doc["time_start"]
    assert job_frames[2].time_end == job_doc["time_end"]

    events = [m for m in messages if isinstance(m, EventMessage)]
    stored_events = sandbox.store.find("events", deploymentId=deployment.id)
    assert [(e.event, e.message) for e in events] == [
        (e["type"], e["message"]) for e in stored_events
    ]
    assert [e.event for e in events] == [
        "JOB_LIST_CONFIRMED",
        "JOB_EXTEND_SUCCESSFUL",
        "JOB_STOPPED_CONFIRMED",
    ]

    tasks = [m for m in messages if isinstance(m, TaskMessage | TaskDoneMessage)]
    seen = {(m.task, m.status) for m in tasks}
    assert {("LIST", "PENDING"), ("LIST", "DONE"), ("EXTEND", "PENDING")} <= seen
    assert {("EXTEND", "DONE"), ("STOP", "PENDING"), ("STOP", "DONE")} <= seen
    for task_id in {m.id for m in tasks}:
        lifecycle = [m.status for m in tasks if m.id == task_id]
        assert lifecycle[0] == "PENDING"
        assert lifecycle.count("DONE") <= 1
        assert lifecycle.index("DONE") == len(lifecycle) - 1

    def at(predicate: Any) -> int:
        return _position(messages, predicate)

    def status_is(status: str) -> Any:
        return lambda m: isinstance(m, DeploymentMessage) and m.status == status

    def job_is(state: JobState) -> Any:
        return lambda m: isinstance(m, JobMessage) and m.state == state

    def event_is(kind: str) -> Any:
        return lambda m: isinstance(m, EventMessage) and m.event == kind

    list_pending = at(lambda m: isinstance(m, TaskMessage) and m.task == "LIST")
    assert at(status_is("STARTING")) < list_pending < at(job_is(JobState.QUEUED))
    assert at(job_is(JobState.QUEUED)) < at(event_is("JOB_LIST_CONFIRMED"))
    assert at(event_is("JOB_LIST_CONFIRMED")) < at(job_is(JobState.RUNNING))
    assert at(job_is(JobState.RUNNING)) < at(event_is("JOB_EXTEND_SUCCESSFUL"))
    assert at(event_is("JOB_EXTEND_SUCCESSFUL")) < at(status_is("STOPPING"))
    assert at(status_is("STOPPING")) < at(job_is(JobState.STOPPED)) < at(status_is("STOPPED"))
    assert at(event_is("JOB_STOPPED_CONFIRMED")) < at(status_is("STOPPED"))


def test_snapshot_lists_active_jobs_then_outstanding_tasks(
    own_sandbox: SandboxHandle, own_account: Account
) -> None:
    sandbox, account = own_sandbox, own_account
    deployment = account.deploy(
        name="snapshot", strategy="SIMPLE-EXTEND", replicas=2, market=MARKET_3090
    )
    deployment.start()
    wait_running(deployment)
    sandbox.advance(61)
    jobs = sorted(
        sandbox.store.find("jobs", deployment=deployment.id),
        key=lambda j: (j["created_at"], j["_id"]),
    )
    tasks = sorted(
        sandbox.store.find("tasks", deploymentId=deployment.id),
        key=lambda t: (t["due_at"], t["_id"]),
    )
    assert len(jobs) == 2
    assert len(tasks) == 2
    stream = deployment.stream(read_timeout=WAIT_S)
    try:
        snapshot = [next(stream) for _ in range(1 + len(jobs) + len(tasks))]
    finally:
        stream.close()  # type: ignore[attr-defined]
    head, *rest = snapshot
    assert isinstance(head, DeploymentMessage)
    assert head.status == "RUNNING"
    job_frames, task_frames = rest[: len(jobs)], rest[len(jobs) :]
    assert [m.job for m in job_frames if isinstance(m, JobMessage)] == [j["job"] for j in jobs]
    assert all(isinstance(m, JobMessage) and m.state == JobState.RUNNING for m in job_frames)
    assert [m.id for m in task_frames if isinstance(m, TaskMessage)] == [t["_id"] for t in tasks]
    assert [m.job for m in task_frames if isinstance(m, TaskMessage)] == [t["job"] for t in tasks]
    deployment.stop()
    settle(sandbox)
