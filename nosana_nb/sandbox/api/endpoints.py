"""What a deployment's endpoint URL answers, as the node's tunnel would (``/_sandbox/endpoint``).

The URLs the sandbox hands out stay ``https://<hash>.<frps_domain>`` (:func:`jobdef.endpoints_for`);
a client connected to the sandbox sends a GET for such a URL to
``/_sandbox/endpoint/{host}/{path}`` instead of resolving the name. The answer follows the
simulated clock: 502 while no job of the deployment's active revision is RUNNING (no tunnel),
503 "booting" until the container has been up for its boot time, then 200 with a small body.
"""

from __future__ import annotations

import hashlib
import threading
import weakref

from nosana_nb.sandbox.context import SandboxContext
from nosana_nb.sandbox.http.routing import ApiError, Call, Reply
from nosana_nb.sandbox.store import Store

BOOT_SPREAD = 0.5
"""A job boots in ``[base, base * (1 + BOOT_SPREAD)]`` seconds, fixed by its address."""


def endpoint_boot_seconds(job: str, base_s: float) -> int:
    """The simulated boot time of ``job``'s container: deterministic per job address.

    Args:
        job: the job's address.
        base_s: the sandbox's ``endpoint_boot_s`` (the shortest boot).

    Returns:
        Whole seconds between the job's start and its endpoints answering 200.
    """
    draw = int.from_bytes(hashlib.sha256(job.encode()).digest()[:2], "big") / 0xFFFF
    return round(base_s * (1 + BOOT_SPREAD * draw))


class _HostIndex:
    """Endpoint host -> (deployment id, op id), rebuilt only when the deployments change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # per store object (not its id(), which a later sandbox in this process may reuse)
        self._built: weakref.WeakKeyDictionary[Store, tuple[int, dict[str, tuple[str, str]]]]
        self._built = weakref.WeakKeyDictionary()

    def lookup(self, store: Store, host: str) -> tuple[str, str] | None:
        generation = store.generation("deployments")
        with self._lock:
            built = self._built.get(store)
            if built is None or built[0] != generation:
                hosts: dict[str, tuple[str, str]] = {}
                for doc in store.find("deployments", lambda d: bool(d.get("endpoints"))):
                    for e in doc["endpoints"]:
                        name = str(e.get("url", "")).lower().removeprefix("https://")
                        hosts.setdefault(name, (str(doc["id"]), str(e.get("opId"))))
                built = (generation, hosts)
                self._built[store] = built
            return built[1].get(host.lower())


_HOSTS = _HostIndex()


def endpoint(ctx: SandboxContext, call: Call) -> Reply:
    """Answer a GET for ``https://{host}/{path}`` as the deployment's tunnel would.

    Raises:
        ApiError: 404 for a host no deployment exposes, 502 without a running job behind it,
            503 while its container boots.
    """
    host = call.params.get("host", "")
    behind = _HOSTS.lookup(ctx.store, host)
    deployment = None if behind is None else ctx.store.find_one("deployments", id=behind[0])
    if behind is None or deployment is None:
        raise ApiError(404, f"no deployment exposes {host}")
    op = behind[1]
    running = ctx.store.find(
        "jobs",
        deployment=deployment["id"],
        state="RUNNING",
        revision=deployment.get("active_revision"),
    )
    started = [job for job in running if job.get("time_start")]
    if not started:
        raise ApiError(502, "Bad Gateway: no running job behind this endpoint")
    now = ctx.clock.now()
    ready_at = min(
        float(job["time_start"]) + endpoint_boot_seconds(str(job["job"]), ctx.endpoint_boot_s)
        for job in started
    )
    if now < ready_at:
        raise ApiError(503, f"booting: the container answers in {ready_at - now:.0f} s")
    return Reply({"status": "ready", "op": op, "path": "/" + call.params.get("path", "")})
