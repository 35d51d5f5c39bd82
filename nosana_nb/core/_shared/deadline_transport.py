"""The sync client's transport: every socket operation ends by the request's overall deadline.

An async request is bounded as a whole by ``asyncio.timeout``. A blocking one cannot be
interrupted, and httpx's timeouts are per read: a server that sends its headers (or its body)
one byte at a time never lets a single read time out, so a call could last days. Here the
network backend under httpx's own connection pool gives each read, write and connect at most
the time left before the deadline of the request running in this thread (set by
``within_deadline``); past it the operation fails with a timeout, which ``within_deadline``
turns into DeadlineExceededError. Requests outside a deadline keep httpx's timeouts unchanged.

Only the shell's own client gets it: a caller's injected ``http_client``/``transport`` (and a
proxy taken from the environment) keep their own transports, where the deadline is checked
between reads.
"""

from __future__ import annotations

import contextlib
import ssl
import typing
from collections.abc import Iterator
from contextvars import ContextVar

import httpcore
import httpx

from nosana_nb.core._shared.tls import shared_ssl_context
from nosana_nb.core.retry_policy import Deadline

_ACTIVE: ContextVar[Deadline | None] = ContextVar("nosana_nb_request_deadline", default=None)


@contextlib.contextmanager
def deadline_for_this_thread(deadline: Deadline) -> Iterator[None]:
    """Bound every socket operation of the enclosed blocking request by ``deadline``.

    Args:
        deadline: The running request's overall deadline.

    Returns:
        A context manager; the previous deadline (if any) is restored on exit.
    """
    token = _ACTIVE.set(deadline)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` shortened to the time the running request has left (``expired`` if none)."""
    deadline = _ACTIVE.get()
    remaining = None if deadline is None else deadline.remaining()
    if remaining is None:
        return timeout
    if remaining <= 0:
        raise expired("the request's overall deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport (same pool, TLS and limits as ``httpx.Client()`` builds), over a
    network backend that bounds each socket operation by the running request's deadline."""

    def __init__(self) -> None:
        super().__init__(verify=shared_ssl_context())  # loading CAs again costs tens of ms
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        # httpx.HTTPTransport has no backend argument: the pool it reads is rebuilt around ours
        self._pool = httpcore.ConnectionPool(
            ssl_context=shared_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


def own_transport() -> httpx.BaseTransport:
    """The transport of a sync shell that makes its own httpx client.

    Returns:
        A :class:`DeadlineTransport`.
    """
    return DeadlineTransport()


def own_async_transport() -> httpx.AsyncBaseTransport | None:
    """The async shell keeps httpx's default: ``asyncio.timeout`` bounds the whole exchange.

    Returns:
        None, so httpx builds its own transport.
    """
    return None
