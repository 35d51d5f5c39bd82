"""Connection limits uvicorn lacks: a cap on open connections, enforced where they are accepted,
and a deadline for each request's headers.

uvicorn closes idle kept-alive connections, but a client that sends half a request line (or
half the headers) is waited for forever, and nothing bounds how many such clients it accepts:
300 of them exhausted a 256-descriptor process ("Too many open files") and nobody else got in.

* **Cap**: :class:`ConnectionGate` decides in ``accept()`` itself, before asyncio builds a
  transport (asyncio accepts a whole burst at once, so any later check lets the burst take
  every descriptor). At the cap, the connection that has waited longest for its request
  headers (a slow or idle client) is closed for the new one; when every connection is busy
  with a request, the new one is closed at once.
* **Head deadline**: from the moment a connection waits for a request (just opened, or a
  response finished) its request headers must be complete within ``head_timeout_s``; otherwise
  the connection is closed.

Everything here runs on the server's event loop thread.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import select
import socket
from typing import Any, ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

from nosana_nb.sandbox.context import SandboxCounters

from .limits import EdgeLimits

log = logging.getLogger("nosana_nb.sandbox")


class Admission(enum.Enum):
    ADMIT = "admit"
    WAIT = "wait"
    """Room is being made (closes pending): leave the connection in the kernel's queue."""
    REFUSE = "refuse"


class ConnectionGate:
    """Counts one server's connections from ``accept()`` to ``connection_lost``.

    A connection is *unmade* between ``accept()`` and asyncio calling ``connection_made``.
    Making room means closing the connection that has waited longest for its request headers,
    or, during a burst, owing an eviction: the oldest unmade connection is closed as soon as it
    is made. While such closes are pending the gate holds further connections in the kernel's
    queue, so a burst never takes more than ``ceiling`` descriptors and the newest clients
    (among them, usually, the real user) end up holding the slots.
    """

    def __init__(self, cap: int, counters: SandboxCounters) -> None:
        self.cap = cap
        self.ceiling = cap + max(4, cap // 8)
        """Sockets at most, counting those being closed to make room."""
        self.counters = counters
        self.open = 0
        """Admitted connections whose socket is not closed yet (those being evicted too)."""
        self.evicting = 0
        self.unmade = 0
        self.owed = 0
        """Evictions promised to connections not made yet (oldest first)."""
        self.waiting: dict[GuardedH11Protocol, None] = {}
        """Connections waiting for request headers, longest-waiting first."""

    def full(self) -> bool:
        return self.open - self.evicting >= self.cap

    def decide(self) -> Admission:
        """What to do with the next connection in the kernel's queue (it must be there: at the
        cap, deciding closes another connection)."""
        if not self.full():
            return Admission.ADMIT
        if self.open < self.ceiling and self._make_room():
            return Admission.ADMIT
        if self.evicting:
            return Admission.WAIT
        self.counters.add("connections_refused")  # every connection is busy with a request
        return Admission.REFUSE

    def admitted(self) -> None:
        self.open += 1
        self.unmade += 1

    def made(self, protocol: GuardedH11Protocol) -> bool:
        """False when this connection pays an owed eviction (it is closed at once)."""
        self.unmade -= 1
        if self.owed:
            self.owed -= 1
            self.counters.add("connections_evicted")
            return False
        return True

    def lost(self, protocol: GuardedH11Protocol) -> None:
        self.waiting.pop(protocol, None)
        self.open -= 1
        if protocol.evicted:
            self.evicting -= 1

    def _make_room(self) -> bool:
        for protocol in self.waiting:  # the longest-waiting connection goes
            del self.waiting[protocol]
            protocol.evict()
            self.evicting += 1
            self.counters.add("connections_evicted")
            return True
        if self.unmade > self.owed:  # an older connection still being set up goes
            self.owed += 1
            self.evicting += 1
            return True
        return False


class GatedListener(socket.socket):
    """The listening socket: ``accept()`` asks the gate before taking a connection."""

    gate: ConnectionGate

    def accept(self) -> tuple[socket.socket, Any]:
        while True:  # ends with BlockingIOError once the kernel queue is empty
            # asyncio calls accept() until it fails: at the cap, make room only for a
            # connection that is really waiting, not for that last call
            if self.gate.full() and not self._connection_waiting():
                raise BlockingIOError
            decision = self.gate.decide()
            if decision is Admission.WAIT:
                raise BlockingIOError  # asyncio tries again on the next loop iteration
            conn, address = super().accept()
            if decision is Admission.ADMIT:
                self.gate.admitted()
                return conn, address
            conn.close()

    def _connection_waiting(self) -> bool:
        poller = select.poll()  # poll, not select: descriptors may be numbered above 1024
        poller.register(self.fileno(), select.POLLIN)
        return bool(poller.poll(0))


class GuardedH11Protocol(H11Protocol):
    """One per connection; :func:`guarded_protocol` binds the gate and deadline per server."""

    gate: ClassVar[ConnectionGate]
    head_timeout_s: ClassVar[float]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._cycle_awaited: object = None
        self.evicted = False

    # -- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.gate.made(self):
            self._await_head()
        else:
            self.evicted = True
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_deadline is not None and self.cycle is not self._cycle_awaited:
            self._head_arrived()  # h11 parsed a complete request head: a new cycle began

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        self.gate.lost(self)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        finished = self.cycle
        super().on_response_complete()
        # a pipelined request parsed meanwhile has already replaced the finished cycle
        if not self.transport.is_closing() and self.cycle is finished:
            self._await_head()

    # -- the head deadline and eviction ---------------------------------------------------
    def evict(self) -> None:
        """Closed to make room for a new connection (the gate has counted it)."""
        self.evicted = True
        self._cancel_deadline()
        self.transport.close()

    def _await_head(self) -> None:
        self._head_arrived()
        self._cycle_awaited = self.cycle
        self.gate.waiting[self] = None
        self._head_deadline = self.loop.call_later(self.head_timeout_s, self._head_too_slow)

    def _head_arrived(self) -> None:
        self._cancel_deadline()
        self.gate.waiting.pop(self, None)

    def _cancel_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        self.gate.waiting.pop(self, None)
        if self.transport.is_closing():
            return
        self.gate.counters.add("slow_heads_closed")
        log.info("closed a connection that sent no complete request in %gs", self.head_timeout_s)
        self.transport.close()


def guarded_protocol(gate: ConnectionGate, limits: EdgeLimits) -> type[GuardedH11Protocol]:
    """The protocol class of one server, with its gate and head deadline bound."""
    return type(
        "SandboxH11Protocol",
        (GuardedH11Protocol,),
        {"gate": gate, "head_timeout_s": limits.head_timeout_s},
    )
