"""Shared by the alert tests: deployments in the sandbox, watchers that evaluate often, and a
local HTTP receiver standing in for Slack, Discord or any webhook."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.watch import AlertEvent, AlertRule, Watcher

WAIT = 10.0
EVALUATE_EVERY = 0.2
JOB = container_job("docker.io/library/ubuntu:24.04", ["echo", "hi"])
TOKEN = "T0SECRET/B0SECRET/xoxb-webhook-token-must-not-leak"


def create_deployment(
    client: NosanaClient,
    *,
    market: str = "nvidia-3060",
    replicas: int = 1,
    timeout: timedelta = timedelta(hours=1),
    nos: str | Decimal | None = "50",
    name: str = "alerted",
    strategy: str = "SIMPLE",
) -> Deployment:
    """A deployment with its own vault holding ``nos`` NOS (None: no NOS at all)."""
    vault = client.vaults.create()
    if nos is None:
        vault.topup(sol="0.05")
    else:
        vault.topup(sol="0.05", nos=nos)
    return client.deployments.create(
        name=name,
        market=client.markets.get(market).address,
        replicas=replicas,
        timeout=timeout,
        strategy=strategy,
        job_definition=JOB,
        vault=vault.address,
        check_funds=False,
    )


def alert_watcher(client: NosanaClient, deployment: Deployment, **options: Any) -> Watcher:
    """A watcher whose alerts are evaluated every 0.2 s of wall time (the default is 15 s)."""
    watcher = Watcher(client, deployment, **options)
    watcher.alerts.interval = EVALUATE_EVERY
    return watcher


def kinds(events: list[AlertEvent], rule: AlertRule | str) -> list[str]:
    title = rule if isinstance(rule, str) else rule.title
    return [e.kind for e in events if e.rule == title]


def settle_until(predicate: Any, timeout: float = WAIT) -> bool:
    """Poll ``predicate()`` (for state another thread changes) until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@dataclass
class Receiver:
    """What the local webhook endpoint received, and how it answers."""

    url: str
    bodies: list[Any] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_first: int = 0
    """Answer HTTP 500 to this many requests before answering 200."""
    stall_first: int = 0
    """Hold this many requests for ``stall_seconds`` before answering (a timeout)."""
    stall_seconds: float = 3.0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def payloads(self) -> list[Any]:
        with self.lock:
            return list(self.bodies)


@contextmanager
def webhook_receiver(path: str = f"/hooks/{TOKEN}") -> Iterator[Receiver]:
    """An HTTP server on 127.0.0.1 recording JSON POST bodies (those answered 200)."""
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            with receiver.lock:
                receiver.requests += 1
                number = receiver.requests
            if number <= receiver.stall_first:
                time.sleep(receiver.stall_seconds)
            status = 500 if number <= receiver.stall_first + receiver.fail_first else 200
            if status == 200:
                with receiver.lock:
                    receiver.bodies.append(json.loads(raw))
                    receiver.paths.append(self.path)
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_port}{path}"
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
