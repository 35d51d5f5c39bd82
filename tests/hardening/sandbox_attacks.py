"""Hostile clients of the embedded sandbox, small enough for 2 shared cores (issue 14, items 5-11).

Each attack talks to a running sandbox on 127.0.0.1 the way a hostile client or web page would
(raw sockets where httpx would be too polite) and returns what it saw: status codes, timings
and the process's peak resident memory growth. ``tests/hardening/test_sandbox_attacks.py``
asserts the safe behaviour; ``bench/report_hardening.py`` prints the same attacks as a table.
Every loop is bounded and every socket has a timeout, so an attack that is not held fails
instead of hanging.
"""

from __future__ import annotations

import json
import re
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from solders.keypair import Keypair

from nosana_nb.sandbox import SandboxHandle
from tests.sandbox.dm_helpers import MARKET, WalletAuth, create_body

MIB = 1024 * 1024
HOST = "127.0.0.1"
SOCKET_TIMEOUT_S = 5.0
PROC_STATUS = Path("/proc/self/status")


# -- memory ---------------------------------------------------------------------------------------
def _status_kib(name: str) -> int:
    match = re.search(rf"^{name}:\s+(\d+) kB", PROC_STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{name} missing from {PROC_STATUS}")
    return int(match.group(1))


@dataclass
class PeakRss:
    """Growth of this process's peak resident memory (VmHWM) over a ``with`` block, in MiB.

    The peak is reset first (``/proc/self/clear_refs``), so memory the server allocated and freed
    inside the block still counts, and earlier tests' peaks do not hide it.
    """

    growth_mib: float = 0.0
    _start_kib: int = 0

    def __enter__(self) -> PeakRss:
        Path("/proc/self/clear_refs").write_text("5")  # "5" resets VmHWM to the current RSS
        self._start_kib = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.growth_mib = (_status_kib("VmHWM") - self._start_kib) / 1024


# -- raw HTTP -------------------------------------------------------------------------------------
@dataclass
class RawReply:
    status: int | None
    """None when the server closed the connection without an HTTP answer."""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


def _read_reply(sock: socket.socket, deadline: float) -> RawReply:
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionError):
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head) if sep else None
        if length is not None and len(body) >= int(length.group(1)):
            break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/1."):
        return RawReply(None, body=data)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawReply(int(lines[0].split()[1]), headers, body)


def raw_request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = SOCKET_TIMEOUT_S,
) -> RawReply:
    """One request on a fresh connection, exactly as given (no Host added unless in headers)."""
    lines = [f"{method} {path} HTTP/1.1"]
    sent_headers = {"host": f"{HOST}:{port}", "connection": "close", **(headers or {})}
    if body and "content-length" not in sent_headers:
        sent_headers["content-length"] = str(len(body))
    lines += [f"{name}: {value}" for name, value in sent_headers.items()]
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        reply = _read_reply(sock, started + timeout)
    reply.seconds = time.monotonic() - started
    return reply


@dataclass
class UploadOutcome:
    reply: RawReply
    bytes_sent: int
    peak_rss_growth_mib: float


def chunked_upload(
    port: int,
    path: str,
    *,
    total_bytes: int,
    headers: dict[str, str] | None = None,
    chunk_bytes: int = 256 * 1024,
    timeout: float = SOCKET_TIMEOUT_S,
) -> UploadOutcome:
    """POST a chunked body of ``total_bytes`` (no Content-Length), unauthenticated, stopping as
    soon as the server answers or hangs up; measures the peak memory growth meanwhile."""
    head = [f"POST {path} HTTP/1.1", f"host: {HOST}:{port}", "transfer-encoding: chunked"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    chunk = b"[" * chunk_bytes  # never valid JSON, and the deepest nesting a parser could meet
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    started = time.monotonic()
    deadline = started + timeout
    with PeakRss() as peak, socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        while sent < total_bytes and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break  # the server answered (or closed) before the body ended
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        else:
            with suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(b"0\r\n\r\n")
        reply = _read_reply(sock, deadline)
    reply.seconds = time.monotonic() - started
    return UploadOutcome(reply, sent, peak.growth_mib)


def declared_oversize(port: int, path: str, *, declared_bytes: int) -> RawReply:
    """Announce a huge Content-Length and send nothing: the answer must not wait for the body."""
    return raw_request(
        port,
        "POST",
        path,
        headers={"content-type": "application/json", "content-length": str(declared_bytes)},
    )


# -- signed API clients ---------------------------------------------------------------------------
def signed_client(sandbox: SandboxHandle, keypair: Keypair | None = None) -> httpx.Client:
    return httpx.Client(base_url=sandbox.api_url, auth=WalletAuth(keypair or Keypair()), timeout=30)


def nested(depth: int, *, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


def deep_object(depth: int) -> dict[str, Any]:
    """``{"a": {"a": ... {}}}`` ``depth`` levels deep, built without recursion."""
    root: dict[str, Any] = {}
    current = root
    for _ in range(depth - 1):
        current["a"] = {}
        current = current["a"]
    return root


@contextmanager
def quiet_server_logs() -> Iterator[None]:
    """An unhandled error is counted by the sandbox; its traceback need not fill the test log."""
    import logging

    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "nosana_nb.sandbox")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def created_deployment(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/deployments/create", json=create_body(market=MARKET, **fields))
    response.raise_for_status()
    created: dict[str, Any] = response.json()
    return created


# -- slow clients ---------------------------------------------------------------------------------
def half_open_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that each send half a request head and then nothing."""
    opened = []
    for index in range(count):
        sock = socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT_S)
        sock.sendall(f"GET /health?slow={index} HTTP/1.1\r\nhost: {HOST}".encode())
        opened.append(sock)
    return opened


def closed_by_server(sockets: list[socket.socket], *, wait_s: float) -> int:
    """How many of ``sockets`` the server has closed (EOF or reset) within ``wait_s``."""
    deadline = time.monotonic() + wait_s
    pending = list(sockets)
    closed = 0
    while pending and time.monotonic() < deadline:
        readable, _, _ = select.select(pending, [], [], max(0.0, deadline - time.monotonic()))
        for sock in readable:
            try:
                data = sock.recv(1024)
            except ConnectionError:
                data = b""
            if not data:
                closed += 1
            pending.remove(sock)
    return closed


def close_all(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()
