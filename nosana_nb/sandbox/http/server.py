"""uvicorn in a background thread, on a socket bound before it starts (so port 0 works), with the
edge's connection limits (``limits.py``, ``connections.py``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from nosana_nb.sandbox.context import SandboxCounters

from .connections import ConnectionGate, GatedListener, guarded_protocol
from .limits import EdgeLimits

STARTUP_TIMEOUT_S = 15.0


class ServerStartError(RuntimeError):
    """uvicorn did not come up."""


class BackgroundServer:
    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: EdgeLimits | None = None,
        counters: SandboxCounters | None = None,
    ) -> None:
        limits = limits or EdgeLimits()
        gate = ConnectionGate(limits.connection_cap(), counters or SandboxCounters())
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # proto IPPROTO_TCP, or asyncio will not set TCP_NODELAY on accepted connections
        self._socket = GatedListener(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.gate = gate
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            raise
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            http=guarded_protocol(gate, limits),
            ws="none",  # an upgrade would take a connection out of the gate's count
            loop="asyncio",
            timeout_graceful_shutdown=3,
            access_log=False,
            date_header=False,  # the app stamps the simulated time there (http/app.py)
            # nothing sits in front of the sandbox: X-Forwarded-* would only let a client lie
            # about its address (the admin routes answer loopback callers only)
            proxy_headers=False,
            timeout_keep_alive=limits.keep_alive_s,
            h11_max_incomplete_event_size=limits.max_header_bytes,
            # bounds request tasks; above the connection cap, so it never turns a client the
            # cap let in into a 503
            limit_concurrency=gate.ceiling + 16,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="nosana-sandbox-http",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._socket.close()
                raise ServerStartError(f"the sandbox HTTP server did not start on {self.url}")
            time.sleep(0.01)

    def stop(self, before_exit: Callable[[], None] | None = None) -> None:
        """Graceful: ``before_exit`` (e.g. close SSE streams) runs first, then uvicorn drains."""
        if before_exit is not None:
            before_exit()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._socket.close()
