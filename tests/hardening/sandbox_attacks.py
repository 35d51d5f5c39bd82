"""Hostile clients of the embedded sandbox, small enough for 2 shared cores (issue 14, items 5-11).

Each attack talks to a running sandbox on 127.0.0.1 the way a hostile client or web page would
(raw sockets where httpx would be too polite) and returns what it saw: status codes, timings
and the process's peak resident memory growth. ``tests/hardening/test_sandbox_attacks.py``
asserts the safe behaviour; ``bench/report_hardening.py`` prints the same attacks as a table.
Every loop is bounded and every socket has a timeout, so an attack that is not held fails
instead of hanging.
"""

from __future__ import annotations

import base64
import json
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from solders.keypair import Keypair

from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.sandbox.worker.markets import find_market
from tests.sandbox.dm_helpers import JOB_DEFINITION, MARKET, WalletAuth, create_body

MIB = 1024 * 1024
HOST = "127.0.0.1"
SOCKET_TIMEOUT_S = 5.0
PROC_STATUS = Path("/proc/self/status")
REPOSITORY = Path(__file__).resolve().parents[2]


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


@contextmanager
def sandbox_process(*, max_descriptors: int) -> Iterator[int]:
    """A sandbox in its own process, limited to ``max_descriptors`` open files; yields its port.

    It stops when its stdin closes; the process is ours, so it is waited for, not killed by name.
    """
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({max_descriptors}, {max_descriptors}))\n"
        "from nosana_nb.sandbox import start\n"
        "with start(db=':memory:', speed=None) as handle:\n"
        "    print(handle.port, flush=True)\n"
        "    sys.stdin.read()\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPOSITORY,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        yield int(server.stdout.readline())
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()  # our own child, by its handle
            server.wait(timeout=5)
        server.stdout.close()


# -- item 5: a huge deployment next to a normal one -----------------------------------------------
_DEPOSIT_UNITS = find_market(MARKET).job_price * 60 * 60
JOB_DEPOSIT_NOS = Decimal(_DEPOSIT_UNITS + _DEPOSIT_UNITS // 10) / 10**6
"""NOS one 60-minute job costs at listing on the market the API tests use: its escrow plus the
10 % network fee charged with it."""


def funded_deployment(
    sandbox: SandboxHandle, client: httpx.Client, *, replicas: int, jobs: int
) -> dict[str, Any]:
    """A deployment with its own vault holding NOS for exactly ``jobs`` listings."""
    created = created_deployment(client, replicas=replicas, new_vault=True)
    sandbox.faucet(created["vault"], sol="1", nos=str(JOB_DEPOSIT_NOS * jobs))
    return created


@dataclass
class FairnessSeen:
    normal_served_at_tick: int | None = None
    listed_per_tick: list[int] = field(default_factory=list)
    tick_seconds: list[float] = field(default_factory=list)
    peak_rss_growth_mib: float = 0.0
    huge_status: str = ""
    listed_when_dry: int = 0
    first_list_error: str = ""
    normal_status: str = ""
    six_hours_advance_seconds: float = 0.0
    listed_after_six_hours: int = 0
    failed_worker_passes: int = 0


def huge_replicas_next_to_a_normal_deployment(*, affordable_jobs: int) -> FairnessSeen:
    """``replicas: 1000000`` with a vault for ``affordable_jobs`` jobs, started just before a
    2-replica deployment; the clock ticks a second at a time until the big vault is dry."""
    seen = FairnessSeen()
    with start(db=":memory:", speed=None) as sandbox, signed_client(sandbox) as client:
        huge = funded_deployment(sandbox, client, replicas=1_000_000, jobs=affordable_jobs)
        normal = funded_deployment(sandbox, client, replicas=2, jobs=10)

        def listed(deployment: dict[str, Any]) -> int:
            return sandbox.store.count("jobs", deployment=deployment["id"])

        def status(deployment: dict[str, Any]) -> str:
            return str(client.get(f"/deployments/{deployment['id']}").json()["status"])

        for deployment in (huge, normal):  # the huge one first: its LIST is due first
            client.post(f"/deployments/{deployment['id']}/start").raise_for_status()
        with PeakRss() as peak:
            for tick in range(2 * affordable_jobs // 10):  # bounded: dry after about half
                before = listed(huge)
                started = time.monotonic()
                sandbox.advance(1)
                seen.tick_seconds.append(time.monotonic() - started)
                seen.listed_per_tick.append(listed(huge) - before)
                if seen.normal_served_at_tick is None and listed(normal) == 2:
                    seen.normal_served_at_tick = tick
                if status(huge) == "INSUFFICIENT_FUNDS":
                    break
        seen.peak_rss_growth_mib = peak.growth_mib
        seen.huge_status = status(huge)
        seen.listed_when_dry = listed(huge)
        errors = client.get(
            f"/deployments/{huge['id']}/events", params={"type": "JOB_LIST_ERROR"}
        ).json()["events"]
        seen.first_list_error = str(errors[0]["message"]) if errors else ""
        seen.normal_status = status(normal)
        started = time.monotonic()
        sandbox.advance(6 * 3600)
        seen.six_hours_advance_seconds = time.monotonic() - started
        seen.listed_after_six_hours = listed(huge)
        seen.failed_worker_passes = sandbox.worker.failed_passes
    return seen


# -- item 6 ---------------------------------------------------------------------------------------
JSON = {"content-type": "application/json"}
BODY_ROUTES = ("/rpc", "/pinning/pinJSONToIPFS", "/deployments/create", "/_sandbox/faucet")


# -- item 7: JSON that used to raise inside the server --------------------------------------------
def deep_cursor(depth: int) -> str:
    return base64.b64encode(nested(depth).encode()).decode()


_RAW = {"headers": JSON}
ITEM7_ATTACKS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # name: (method, path template, request options)
    "create: 5,000 nested [": ("POST", "/deployments/create", {**_RAW, "content": nested(5000)}),
    "create: replicas 1e400 written out": (
        "POST",
        "/deployments/create",
        {
            **_RAW,
            "content": json.dumps(create_body()).replace(
                '"replicas": 1', '"replicas": 1' + "0" * 400
            ),
        },
    ),
    "create: meta nested 800 deep": (
        "POST",
        "/deployments/create",
        {"json": create_body(job_definition={**JOB_DEFINITION, "meta": deep_object(800)})},
    ),
    "create-revision: meta nested 800 deep": (
        "POST",
        "/deployments/{id}/create-revision",
        {"json": {**JOB_DEFINITION, "meta": deep_object(800)}},
    ),
    "update-replica-count: 1e400 written out": (
        "PATCH",
        "/deployments/{id}/update-replica-count",
        {**_RAW, "content": '{"replicas": 1' + "0" * 400 + "}"},
    ),
    "jobs: cursor nested 2,000 deep": (
        "GET",
        "/deployments/{id}/jobs",
        {"params": {"cursor": deep_cursor(2000)}},
    ),
    "deployments: cursor nested 2,000 deep": (
        "GET",
        "/deployments",
        {"params": {"cursor": deep_cursor(2000)}},
    ),
    "pinning: 800 deep": ("POST", "/pinning/pinJSONToIPFS", {"json": deep_object(800)}),
    "rpc: 5,000 nested [": ("POST", "/rpc", {**_RAW, "content": nested(5000)}),
    "rpc: id nested 900 deep": (
        "POST",
        "/rpc",
        {**_RAW, "content": '{"jsonrpc":"2.0","method":"getSlot","id":' + nested(900) + "}"},
    ),
    "rpc: id an array 50 deep": (
        "POST",
        "/rpc",
        {**_RAW, "content": '{"jsonrpc":"2.0","method":"getSlot","id":' + nested(50) + "}"},
    ),
    "rpc: id NaN": (
        "POST",
        "/rpc",
        {**_RAW, "content": '{"jsonrpc":"2.0","method":"getSlot","id":NaN}'},
    ),
    "rpc: id 1e400": (
        "POST",
        "/rpc",
        {**_RAW, "content": '{"jsonrpc":"2.0","method":"getSlot","id":1e400}'},
    ),
}

_BARE_400 = {"error": "Bad Request"}
_ROUTE_ANSWERS: dict[str, tuple[int, Any]] = {
    # the route's own error format: the bare 400 on create, Fastify's 400 elsewhere, the list
    # routes' cursor 500, JSON-RPC errors (HTTP 200, id null) on /rpc
    "create: 5,000 nested [": (400, _BARE_400),
    "create: replicas 1e400 written out": (400, _BARE_400),
    "create: meta nested 800 deep": (400, _BARE_400),
    "create-revision: meta nested 800 deep": (400, "FST_ERR_VALIDATION"),
    "update-replica-count: 1e400 written out": (400, "body/replicas must be number"),
    "jobs: cursor nested 2,000 deep": (500, {"error": "Failed to get deployment jobs"}),
    "deployments: cursor nested 2,000 deep": (500, {"error": "Internal Server Error"}),
    "pinning: 800 deep": (400, "FST_ERR_VALIDATION"),
    "rpc: 5,000 nested [": (200, -32700),
    "rpc: id nested 900 deep": (200, -32700),
    "rpc: id an array 50 deep": (200, -32600),
    "rpc: id NaN": (200, -32700),
    "rpc: id 1e400": (200, -32600),
}


def answered_in_route_format(name: str, response: httpx.Response) -> bool:
    """Whether the answer to attack ``name`` is the route's own error, as expected."""
    status, expected = _ROUTE_ANSWERS[name]
    try:
        body = response.json()
    except ValueError:
        return False
    if response.status_code != status or not isinstance(body, dict):
        return False
    if isinstance(expected, int):  # a JSON-RPC error code, answered with id null
        error = body.get("error")
        return isinstance(error, dict) and error.get("code") == expected and body["id"] is None
    if isinstance(expected, str):  # Fastify's validation body, by code or message
        return expected in (body.get("code"), body.get("message"))
    return bool(body == expected)


# -- item 8 ---------------------------------------------------------------------------------------
SOL = 10**9


def airdrop_body(address: str, lamports: int, request_id: int = 1) -> bytes:
    call = {"jsonrpc": "2.0", "id": request_id, "method": "requestAirdrop"}
    return json.dumps({**call, "params": [address, lamports]}).encode()
