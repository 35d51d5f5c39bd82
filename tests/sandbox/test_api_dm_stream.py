"""``GET /deployments/:id/stream`` (wire-contract §10.3): headers, snapshot, frames, keep-alive."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.sandbox.http.sse import DeploymentFeed
from nosana_nb.sandbox.store import Change
from tests.sandbox.dm_helpers import WalletAuth, create_body


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """Worker stopped: every frame in these tests comes from a write the test made."""
    with start(db=":memory:", speed=None, keepalive_s=0.3) as handle:
        handle.worker.stop()
        yield handle


@pytest.fixture(scope="module")
def client(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    auth = WalletAuth(Keypair())
    with httpx.Client(base_url=sandbox.api_url, auth=auth, timeout=5) as http:
        yield http


def create(client: httpx.Client, market: str = "m") -> dict[str, Any]:
    response = client.post(
        "/deployments/create",
        json=create_body(name="s", market=market),
    )
    assert response.status_code == 200
    return dict(response.json())


def frames(lines: Iterator[str]) -> Iterator[dict[str, Any] | str]:
    """Parsed ``data:`` frames, and ``": keep-alive"`` comments as plain strings."""
    for line in lines:
        if line.startswith("data: "):
            yield json.loads(line[len("data: ") :])
        elif line.startswith(":"):
            yield line


def add_job(sandbox: SandboxHandle, deployment: str, state: str, created_at: str) -> str:
    job = str(Keypair().pubkey())
    sandbox.store.insert(
        "jobs",
        {
            "tx": "sig",
            "deployment": deployment,
            "job": job,
            "market": "m",
            "node": None,
            "revision": 1,
            "state": state,
            "time_start": 0,
            "time_end": 0,
            "created_at": created_at,
            "updated_at": created_at,
        },
    )
    return job


def add_task(sandbox: SandboxHandle, deployment: str, due_at: str) -> str:
    return str(
        sandbox.store.insert(
            "tasks",
            {
                "task": "LIST",
                "deploymentId": deployment,
                "tx": None,
                "job": None,
                "limit": None,
                "active_revision": None,
                "due_at": due_at,
                "created_at": due_at,
                "status": "PENDING",
                "attempts": 0,
            },
        )["_id"]
    )


def test_snapshot_then_live_frames(sandbox: SandboxHandle, client: httpx.Client) -> None:
    d = create(client)["id"]
    late = add_job(sandbox, d, "RUNNING", "2030-01-01T00:00:02.000Z")
    early = add_job(sandbox, d, "QUEUED", "2030-01-01T00:00:01.000Z")
    add_job(sandbox, d, "COMPLETED", "2030-01-01T00:00:00.000Z")  # not active: not sent
    second_task = add_task(sandbox, d, "2030-01-01T00:10:00.000Z")
    first_task = add_task(sandbox, d, "2030-01-01T00:05:00.000Z")

    with client.stream("GET", f"/deployments/{d}/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache, no-transform"
        assert response.headers["x-accel-buffering"] == "no"
        stream = frames(response.iter_lines())
        snapshot = [next(stream) for _ in range(5)]
        assert snapshot[0] == {
            "type": "deployment",
            "status": "DRAFT",
            "replicas": 1,
            "active_revision": 1,
        }
        assert [f["job"] for f in snapshot[1:3]] == [early, late]  # type: ignore[index]
        assert snapshot[1] == {
            "type": "job",
            "job": early,
            "state": "QUEUED",
            "node": None,
            "timeStart": 0,
            "timeEnd": 0,
        }
        assert [f["id"] for f in snapshot[3:]] == [first_task, second_task]  # type: ignore[index]
        assert snapshot[3] == {
            "type": "task",
            "id": first_task,
            "task": "LIST",
            "status": "PENDING",
            "attempts": 0,
            "due_at": "2030-01-01T00:05:00.000Z",
            "job": None,
        }

        patched = client.patch(f"/deployments/{d}/update-replica-count", json={"replicas": 4})
        assert patched.status_code == 200
        assert next(stream) == {
            "type": "deployment",
            "status": "DRAFT",
            "replicas": 4,
            "active_revision": 1,
        }
        client.patch(f"/deployments/{d}/update-name", json={"name": "no frame for names"})
        sandbox.store.insert(
            "events",
            {
                "category": "Deployment",
                "deploymentId": d,
                "type": "JOB_LIST_CONFIRMED",
                "message": "Successfully listed job - x",
                "tx": "sig",
                "created_at": "2030-01-01T00:00:03.000Z",
            },
        )
        assert next(stream) == {
            "type": "event",
            "category": "Deployment",
            "event": "JOB_LIST_CONFIRMED",
            "message": "Successfully listed job - x",
            "tx": "sig",
            "created_at": "2030-01-01T00:00:03.000Z",
        }
        job_doc = sandbox.store.find_one("jobs", job=late)
        assert job_doc is not None
        sandbox.store.update(
            "jobs", job_doc["_id"], {"state": "COMPLETED", "time_end": 1_900_000_000}
        )
        job_frame = next(stream)
        assert isinstance(job_frame, dict)
        assert (job_frame["state"], job_frame["timeEnd"]) == ("COMPLETED", 1_900_000_000)
        sandbox.store.delete("tasks", first_task)
        assert next(stream) == {"type": "task", "id": first_task, "task": "LIST", "status": "DONE"}
        # another deployment's changes never show up; the next thing is a heartbeat
        other = create(client)["id"]
        client.patch(f"/deployments/{other}/update-replica-count", json={"replicas": 9})
        assert next(stream) == ": keep-alive"


def test_stream_refusals(client: httpx.Client, sandbox: SandboxHandle) -> None:
    missing = client.get(f"/deployments/{Keypair().pubkey()}/stream")
    assert (missing.status_code, missing.json()) == (404, {"error": "Deployment not found."})
    with httpx.Client(base_url=sandbox.api_url) as anonymous:
        unauthenticated = anonymous.get(f"/deployments/{Keypair().pubkey()}/stream")
        assert unauthenticated.status_code == 401
    d = create(client)["id"]
    head = client.head(f"/deployments/{d}/stream")
    assert head.status_code == 404  # the stream has no HEAD twin


def test_task_done_only_for_tasks_the_connection_saw() -> None:
    feed = DeploymentFeed("dep")
    task = {"_id": "0" * 23 + "1", "task": "STOP", "deploymentId": "dep", "status": "PENDING"}
    unseen = Change("tasks", "delete", task["_id"], task, None)
    assert feed.frame(unseen) is None
    feed.frame(Change("tasks", "insert", task["_id"], None, task, frozenset(task)))
    assert feed.frame(unseen) == {
        "type": "task",
        "id": task["_id"],
        "task": "STOP",
        "status": "DONE",
    }
    assert feed.frame(unseen) is None  # only once


def test_stop_closes_open_streams() -> None:
    sandbox = start(db=":memory:", speed=None, keepalive_s=30)
    try:
        with httpx.Client(base_url=sandbox.api_url, auth=WalletAuth(Keypair()), timeout=10) as c:
            d = create(c)["id"]
            with c.stream("GET", f"/deployments/{d}/stream") as response:
                lines = response.iter_lines()
                assert next(frames(lines))["type"] == "deployment"  # type: ignore[index]
                stopper = threading.Thread(target=sandbox.stop)
                began = time.monotonic()
                stopper.start()
                rest = list(lines)  # ends when the server closes the stream
                assert time.monotonic() - began < 8
                assert all(not line.startswith("data:") for line in rest)
                stopper.join(timeout=10)
                assert not stopper.is_alive()
    finally:
        sandbox.stop()


def test_live_worker_frames() -> None:
    with start(db=":memory:", speed=None) as sandbox:
        auth = WalletAuth(Keypair())
        with httpx.Client(base_url=sandbox.api_url, auth=auth, timeout=5) as c:
            deployment = create(c, market="7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq")
            sandbox.faucet(deployment["vault"], sol="1", nos="100")
            with c.stream("GET", f"/deployments/{deployment['id']}/stream") as response:
                stream = frames(response.iter_lines())
                assert next(stream) == {
                    "type": "deployment",
                    "status": "DRAFT",
                    "replicas": 1,
                    "active_revision": 1,
                }
                assert c.post(f"/deployments/{deployment['id']}/start").status_code == 200
                sandbox.advance(120)
                seen: list[dict[str, Any]] = []
                for frame in stream:
                    if isinstance(frame, dict):
                        seen.append(frame)
                    if any(f["type"] == "job" and f["state"] == "RUNNING" for f in seen):
                        break
                statuses = [f["status"] for f in seen if f["type"] == "deployment"]
                assert statuses[:2] == ["STARTING", "RUNNING"]
                assert any(f["type"] == "event" for f in seen)


def test_disconnect_releases_the_subscription(sandbox: SandboxHandle, client: httpx.Client) -> None:
    hub = sandbox._hub
    baseline = hub.open_count
    d = create(client)["id"]
    with client.stream("GET", f"/deployments/{d}/stream") as response:
        stream = frames(response.iter_lines())  # keep it: a dropped iterator closes the socket
        assert next(stream)["type"] == "deployment"  # type: ignore[index]
        client.patch(f"/deployments/{d}/update-replica-count", json={"replicas": 3})
        assert next(stream)["replicas"] == 3  # type: ignore[index]
        assert hub.open_count == baseline + 1
    deadline = time.monotonic() + 5  # the server notices the closed socket asynchronously
    while hub.open_count > baseline and time.monotonic() < deadline:
        client.patch(f"/deployments/{d}/update-replica-count", json={"replicas": 2})
        time.sleep(0.05)
    assert hub.open_count == baseline
