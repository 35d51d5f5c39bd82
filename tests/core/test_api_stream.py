"""The SSE stream: frames of §10.3 become typed messages; garbage raises StreamError.

The stream tests run on the fake (canned frames, every kind, malformed ones) and on the real
sandbox (the frames of a deployment being stopped), tests/core/backends.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from nosana_nb.core.errors import StreamError, WalletError
from nosana_nb.core.models import (
    DeploymentMessage,
    EventMessage,
    JobMessage,
    TaskDoneMessage,
    TaskMessage,
    UnknownMessage,
)
from nosana_nb.core.stream import parse_stream_message
from nosana_nb.core.validation import DeploymentStatus, JobState, TaskType
from nosana_nb.core.wallet import Wallet
from tests.core.backends import Backend
from tests.core.fake_api import FakeNosana, new_address, sync_client

JOB = new_address()
FRAMES = [
    {"type": "deployment", "status": "RUNNING", "replicas": 3, "active_revision": 2},
    {
        "type": "job",
        "job": JOB,
        "state": "RUNNING",
        "node": None,
        "timeStart": 1767225600,
        "timeEnd": 0,
    },
    {
        "type": "event",
        "category": "Deployment",
        "event": "JOB_LIST_CONFIRMED",
        "message": f"Successfully listed job - {JOB}",
        "tx": None,
        "created_at": "2026-01-01T00:00:00.000Z",
    },
    {
        "type": "task",
        "id": "65a1b2c3d4e5f6a7b8c9d0e1",
        "task": "EXTEND",
        "status": "PENDING",
        "attempts": 0,
        "due_at": "2026-01-01T00:55:00.000Z",
        "job": JOB,
    },
    {"type": "task", "id": "65a1b2c3d4e5f6a7b8c9d0e1", "task": "EXTEND", "status": "DONE"},
    {"type": "endpoint", "url": "https://x.node.k8s.dev.nos.ci", "healthy": True},
]


def check_messages(messages: list[object]) -> None:
    deployment, job, event, task, done, unknown = messages
    assert isinstance(deployment, DeploymentMessage)
    assert deployment.status is DeploymentStatus.RUNNING
    assert deployment.replicas == 3
    assert isinstance(job, JobMessage)
    assert job.state is JobState.RUNNING
    assert job.node is None
    assert job.time_start == 1767225600
    assert isinstance(event, EventMessage)
    assert event.event == "JOB_LIST_CONFIRMED"
    assert event.tx is None
    assert isinstance(task, TaskMessage)
    assert task.task is TaskType.EXTEND
    assert task.status == "PENDING"
    assert task.job == JOB
    assert isinstance(done, TaskDoneMessage)
    assert done.status == "DONE"
    assert isinstance(unknown, UnknownMessage)
    assert unknown.type == "endpoint"
    assert unknown.model_extra == {
        "url": "https://x.node.k8s.dev.nos.ci",
        "healthy": True,
    }


def test_sync_stream_yields_typed_messages_and_updates_state(
    backend: Backend, wallet: Wallet
) -> None:
    with backend.client(wallet, stream_idle_timeout=10) as client:
        if backend.fake is None:
            deployment = backend.deployment(client, "RUNNING", replicas=2)
            messages = read_until_stopped(client, backend, deployment.id, deployment.stream())
            check_lifecycle(messages, wallet, backend)
            assert deployment.state.status is DeploymentStatus.STOPPED  # followed the stream
            return
        fake = backend.fake
        record = fake.add_deployment(status="STARTING", replicas=1)
        fake.stream_frames[record["id"]] = [json.dumps(f) for f in FRAMES]
        deployment = client.deployments.get(record["id"])
        messages = list(deployment.stream())
        check_messages(messages)
        request = backend.requests()[-1]
        assert (request.method, request.path) == ("GET", f"/deployments/{record['id']}/stream")
        assert request.headers["x-user-id"] == wallet.address
        assert deployment.state.status is DeploymentStatus.RUNNING
        assert deployment.state.replicas == 3
        assert deployment.state.active_revision == 2


def read_until_stopped(
    client: Any, backend: Backend, deployment_id: str, stream: Iterator[Any]
) -> list[Any]:
    """The snapshot's first frame, then (after a stop sent by another handle) every message up
    to the deployment's STOPPED frame."""
    messages = [next(stream)]
    client.deployments.get(deployment_id).stop()
    backend.settle()
    for message in stream:
        messages.append(message)
        if isinstance(message, DeploymentMessage) and message.status is DeploymentStatus.STOPPED:
            break
        assert len(messages) < 100, messages
    return messages


def check_lifecycle(messages: list[Any], wallet: Wallet, backend: Backend) -> None:
    """What the sandbox's stream says about a RUNNING deployment of two jobs being stopped."""
    first = messages[0]
    assert isinstance(first, DeploymentMessage)
    assert first.status is DeploymentStatus.RUNNING
    statuses = [m.status for m in messages if isinstance(m, DeploymentMessage)]
    assert statuses[-2:] == [DeploymentStatus.STOPPING, DeploymentStatus.STOPPED]
    stopped_jobs = {
        m.job for m in messages if isinstance(m, JobMessage) and m.state is JobState.STOPPED
    }
    assert len(stopped_jobs) == 2
    confirmed = [m for m in messages if isinstance(m, EventMessage)]
    assert {m.event for m in confirmed} == {"JOB_STOPPED_CONFIRMED"}
    assert all(m.tx for m in confirmed)  # each stop is a transaction
    assert any(isinstance(m, TaskMessage) and m.task is TaskType.STOP for m in messages)
    opened = [r for r in backend.requests("GET") if r.path.endswith("/stream")]
    assert len(opened) == 1
    assert opened[0].headers["x-user-id"] == wallet.address


async def test_async_stream_yields_typed_messages(backend: Backend, wallet: Wallet) -> None:
    async with backend.aclient(wallet, stream_idle_timeout=10) as client:
        if backend.fake is None:
            with backend.client(wallet) as seeding:
                seeded = backend.deployment(seeding, "RUNNING", replicas=2)
                deployment = await client.deployments.get(seeded.id)
                stream = deployment.stream()
                messages = [await anext(stream)]
                seeding.deployments.get(seeded.id).stop()
                backend.settle()
                async for message in stream:
                    messages.append(message)
                    stopped = DeploymentStatus.STOPPED
                    if isinstance(message, DeploymentMessage) and message.status is stopped:
                        break
                await stream.aclose()
            check_lifecycle(messages, wallet, backend)
            assert deployment.state.status is DeploymentStatus.STOPPED
            return
        record = backend.fake.add_deployment(status="STARTING")
        backend.fake.stream_frames[record["id"]] = [json.dumps(f) for f in FRAMES]
        deployment = await client.deployments.get(record["id"])
        messages = [m async for m in deployment.stream()]
        check_messages(messages)
        assert deployment.state.status is DeploymentStatus.RUNNING


def test_garbage_frame_raises_stream_error(fake: FakeNosana, wallet: Wallet) -> None:
    record = fake.add_deployment()
    fake.stream_frames[record["id"]] = [json.dumps(FRAMES[0]), "{not json"]
    with sync_client(fake, wallet) as client:
        stream = client.deployments.get(record["id"]).stream()
        assert isinstance(next(stream), DeploymentMessage)
        with pytest.raises(StreamError, match="not JSON"):
            next(stream)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("[1, 2]", "not an object"),
        ('{"status": "RUNNING"}', "not an object"),
        ('{"type": 5}', "not an object"),
        ('{"type": "job", "state": "RUNNING"}', "malformed"),
        ('{"type": "task", "id": "x", "task": "LIST"}', "malformed"),
    ],
)
def test_parse_rejects_frames_that_are_not_messages(data: str, match: str) -> None:
    with pytest.raises(StreamError, match=match):
        parse_stream_message(data)


def test_unknown_enum_values_are_kept_raw() -> None:
    message = parse_stream_message('{"type": "deployment", "status": "HIBERNATING"}')
    assert isinstance(message, DeploymentMessage)
    assert message.status == "HIBERNATING"
    job = parse_stream_message('{"type": "job", "job": "j", "state": 7}')
    assert isinstance(job, JobMessage)
    assert job.state == 7


def test_stream_needs_a_wallet(backend: Backend) -> None:
    with backend.client(None) as client, pytest.raises(WalletError, match="needs a wallet"):
        client.deployments.get(new_address())
    assert backend.requests() == []
