"""``GET /deployments/:id/stream``: the deployment's live Server-Sent Events.

A snapshot (deployment, QUEUED/RUNNING jobs by created_at, outstanding tasks by due_at) is
followed by frames built from the store's change feed. Store callbacks run on whichever thread
committed the write, so frames are handed to the event loop with ``call_soon_threadsafe``.
Frame shapes: docs/wire-contract.md#stream.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from nosana_nb.sandbox.context import SandboxContext
from nosana_nb.sandbox.store import Change

from .routing import Call, json_response, not_found_route, raw_url

Doc = dict[str, Any]

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}
KEEP_ALIVE = ": keep-alive\n\n"
_DEPLOYMENT_FIELDS = frozenset({"status", "replicas", "active_revision"})
_JOB_FIELDS = frozenset({"state", "node", "time_start", "time_end"})
_TASK_FIELDS = frozenset({"status", "attempts", "due_at"})


def deployment_frame(doc: Doc) -> Doc:
    return {
        "type": "deployment",
        "status": doc.get("status"),
        "replicas": doc.get("replicas"),
        "active_revision": doc.get("active_revision"),
    }


def job_frame(doc: Doc) -> Doc:
    return {
        "type": "job",
        "job": doc.get("job"),
        "state": doc.get("state"),
        "node": doc.get("node"),
        "timeStart": doc.get("time_start") or 0,
        "timeEnd": doc.get("time_end") or 0,
    }


def event_frame(doc: Doc) -> Doc:
    return {
        "type": "event",
        "category": doc.get("category"),
        "event": doc.get("type"),
        "message": doc.get("message"),
        "tx": doc.get("tx"),
        "created_at": doc.get("created_at"),
    }


def task_frame(doc: Doc) -> Doc:
    return {
        "type": "task",
        "id": doc.get("_id"),
        "task": doc.get("task"),
        "status": doc.get("status"),
        "attempts": doc.get("attempts") or 0,
        "due_at": doc.get("due_at"),
        "job": doc.get("job"),
    }


class DeploymentFeed:
    """Turns store changes into this deployment's frames; remembers the tasks it has shown."""

    def __init__(self, deployment_id: str) -> None:
        self.deployment_id = deployment_id
        self.seen_tasks: set[str] = set()

    def frame(self, change: Change) -> Doc | None:
        doc = change.after if change.after is not None else change.before
        if doc is None:
            return None
        if change.collection == "deployments" and doc.get("id") == self.deployment_id:
            if change.op == "insert" or change.changed & _DEPLOYMENT_FIELDS:
                return deployment_frame(doc) if change.after is not None else None
        elif change.collection == "jobs" and doc.get("deployment") == self.deployment_id:
            if change.after is not None and (change.op == "insert" or change.changed & _JOB_FIELDS):
                return job_frame(doc)
        elif change.collection == "events" and doc.get("deploymentId") == self.deployment_id:
            return event_frame(doc) if change.op == "insert" else None
        elif change.collection == "tasks" and doc.get("deploymentId") == self.deployment_id:
            return self._task(change, doc)
        return None

    def _task(self, change: Change, doc: Doc) -> Doc | None:
        if change.op == "delete":
            if change.oid not in self.seen_tasks:
                return None
            self.seen_tasks.discard(change.oid)
            return {"type": "task", "id": change.oid, "task": doc.get("task"), "status": "DONE"}
        if change.op == "insert" or change.changed & _TASK_FIELDS:
            self.seen_tasks.add(change.oid)
            return task_frame(doc)
        return None

    def snapshot(self, store_docs: Callable[..., list[Doc]], deployment: Doc) -> list[Doc]:
        jobs = [
            d
            for d in store_docs("jobs", deployment=self.deployment_id)
            if d.get("state") in ("QUEUED", "RUNNING")
        ]
        tasks = store_docs("tasks", deploymentId=self.deployment_id)
        self.seen_tasks.update(str(t["_id"]) for t in tasks)
        return [
            deployment_frame(deployment),
            *(job_frame(j) for j in sorted(jobs, key=lambda d: str(d.get("created_at")))),
            *(task_frame(t) for t in sorted(tasks, key=lambda d: str(d.get("due_at")))),
        ]


class StreamHub:
    """Open streams, so shutdown can end every one of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closers: set[Callable[[], None]] = set()
        self.closed = False

    def add(self, closer: Callable[[], None]) -> None:
        with self._lock:
            self._closers.add(closer)

    def discard(self, closer: Callable[[], None]) -> None:
        with self._lock:
            self._closers.discard(closer)

    def close_all(self) -> None:
        with self._lock:
            self.closed = True
            closers = list(self._closers)
        for close in closers:
            close()

    @property
    def open_count(self) -> int:
        with self._lock:
            return len(self._closers)


def _encode(frame: Doc) -> str:
    return f"data: {json.dumps(frame, separators=(',', ':'), ensure_ascii=False)}\n\n"


async def open_stream(
    ctx: SandboxContext, hub: StreamHub, request: Request, call: Call
) -> Response:
    if request.method == "HEAD":  # the stream route has no HEAD twin on the service
        return not_found_route(request.method, raw_url(request))
    deployment = ctx.store.find_one("deployments", id=call.params["deployment"], owner=call.owner)
    if deployment is None:
        return json_response({"error": "Deployment not found."}, 404)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    feed = DeploymentFeed(deployment["id"])

    def deliver(item: str | None) -> None:
        with suppress(RuntimeError):  # the loop is gone: the server is shutting down
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def on_change(change: Change) -> None:
        frame = feed.frame(change)
        if frame is not None:
            deliver(_encode(frame))

    def close() -> None:
        deliver(None)

    try:
        with ctx.store.lock:  # snapshot and subscription see the same state
            frames = feed.snapshot(ctx.store.find, deployment)
            for frame in frames:
                queue.put_nowait(_encode(frame))
            unsubscribe = ctx.store.subscribe(on_change)
    except Exception:
        return json_response({"error": "Ops something went wrong, please again."}, 503)
    hub.add(close)
    if hub.closed:
        close()

    async def body() -> AsyncIterator[str]:
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=ctx.keepalive_s)
                except TimeoutError:
                    yield KEEP_ALIVE
                    continue
                if item is None:
                    return
                yield item
        finally:
            unsubscribe()
            hub.discard(close)

    return StreamingResponse(body(), headers=SSE_HEADERS)
