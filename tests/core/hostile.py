"""Hostile and broken servers for the client's hardening tests, and the attacks they make.

A :class:`HostileServer` is a real TCP server on 127.0.0.1 in a thread: requests for which
``attacks(request)`` is true get the attack's raw bytes; every other request is answered by a
:class:`~tests.core.fake_api.FakeNosana` (so ``deployments.get`` works before the stream attack).
Each attack returns an :class:`AttackOutcome` - tried, held, and its figures - that the tests
assert and ``bench/report_hardening.py`` prints. Sizes are scaled to run in about a second:
the client's limits are set low (1 MiB, 1 s) and the server stops by itself well past them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.errors import (
    ConfigError,
    DeadlineExceededError,
    NosanaError,
    ResponseTooLargeError,
    StreamIdleError,
    WalletError,
)
from nosana_nb.core.wallet import Wallet
from tests.core.fake_api import FakeNosana

MiB = 2**20
LIMIT_BYTES = 1 * MiB
"""The client's max_response_bytes in these attacks (the default is 64 MiB)."""
SERVER_CAP_BYTES = 256 * MiB
"""A flooding server stops here, so an unprotected client fails the test instead of the box."""
RSS_BOUND_BYTES = 48 * MiB
"""The most a client's resident memory may grow while refusing a flood."""
DEADLINE_SECONDS = 1.0
TRICKLE_EVERY_SECONDS = 0.3
IDLE_SECONDS = 1.0
PING_EVERY_SECONDS = 0.1
SLOW_ATTACK_STOP_SECONDS = 12.0
"""A trickling or pinging server gives up after this; a protected client is gone long before."""


# -- the server ---------------------------------------------------------------------------------


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _read_request(conn: socket.socket) -> RawRequest | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return RawRequest(method, target, headers, body)


def _answer_with_fake(conn: socket.socket, request: RawRequest, fake: FakeNosana) -> None:
    host = request.headers.get("host", "127.0.0.1")
    proxied = httpx.Request(
        request.method,
        f"http://{host}{request.path}",
        headers=request.headers,
        content=request.body,
    )
    response = fake(proxied)
    body = response.read()
    head = f"HTTP/1.1 {response.status_code} X\r\n"
    head += f"content-type: {response.headers.get('content-type', 'application/json')}\r\n"
    head += f"content-length: {len(body)}\r\n\r\n"
    conn.sendall(head.encode() + body)


Attack = Callable[[socket.socket, "HostileServer"], None]


@dataclass
class HostileServer:
    attack: Attack
    attacks: Callable[[RawRequest], bool] = lambda request: True
    fake: FakeNosana | None = None
    sent_bytes: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while not self.stop.is_set():
                request = _read_request(conn)
                if request is None:
                    return
                if self.attacks(request) or self.fake is None:
                    self.attack(conn, self)
                    return
                _answer_with_fake(conn, request, self.fake)

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.sent_bytes += len(data)

    def close(self) -> None:
        self.stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def endless_chunked_body(conn: socket.socket, server: HostileServer) -> None:
    """A 200 whose chunked body never ends (until the client hangs up, or the cap)."""
    server.send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
    server.send(conn, b"transfer-encoding: chunked\r\n\r\n")
    piece = b"1," * 32768
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    while server.sent_bytes < SERVER_CAP_BYTES and not server.stop.is_set():
        server.send(conn, chunk)


def endless_event_line(conn: socket.socket, server: HostileServer) -> None:
    """An event stream whose first ``data:`` line never ends."""
    server.send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
    server.send(conn, b": hello\n\ndata: ")
    piece = b"x" * 65536
    while server.sent_bytes < SERVER_CAP_BYTES and not server.stop.is_set():
        server.send(conn, piece)


def trickled_body(conn: socket.socket, server: HostileServer) -> None:
    """``Content-Length: 100000``, then one byte every 0.3 s: no single read ever times out."""
    server.send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
    server.send(conn, b"content-length: 100000\r\n\r\n")
    started = time.monotonic()
    while time.monotonic() - started < SLOW_ATTACK_STOP_SECONDS and not server.stop.is_set():
        server.send(conn, b" ")
        time.sleep(TRICKLE_EVERY_SECONDS)


def trickled_headers(conn: socket.socket, server: HostileServer) -> None:
    """A status line, then a header one byte every 0.3 s: the headers never end in time."""
    server.send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-slow: ")
    started = time.monotonic()
    while time.monotonic() - started < SLOW_ATTACK_STOP_SECONDS and not server.stop.is_set():
        server.send(conn, b"z")
        time.sleep(TRICKLE_EVERY_SECONDS)


def pings_only(conn: socket.socket, server: HostileServer) -> None:
    """An event stream that sends heartbeat comments and never an event."""
    server.send(conn, b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
    started = time.monotonic()
    while time.monotonic() - started < SLOW_ATTACK_STOP_SECONDS and not server.stop.is_set():
        server.send(conn, b": ping\n\n")
        time.sleep(PING_EVERY_SECONDS)


# -- measuring ----------------------------------------------------------------------------------


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """The peak growth of this process's resident memory while the block runs (sampled)."""

    def __init__(self, every: float = 0.002) -> None:
        self.every = every
        self.growth = 0
        self._done = threading.Event()

    def _sample(self, baseline: int) -> None:
        while not self._done.is_set():
            self.growth = max(self.growth, resident_bytes() - baseline)
            time.sleep(self.every)

    def __enter__(self) -> PeakRSS:
        self._thread = threading.Thread(target=self._sample, args=(resident_bytes(),))
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()


# -- the attacks ----------------------------------------------------------------------------------


@dataclass
class AttackOutcome:
    held: bool
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)


def _client(mode: str, url: str, wallet: Wallet | None = None, **options: Any) -> Any:
    kind = NosanaClient if mode == "sync" else AsyncNosanaClient
    return kind("local", wallet, api_url=url, env={}, max_retries=0, **options)


async def _call(mode: str, client: Any, name: str, *args: Any) -> Any:
    """``client.<name>(*args)`` for either flavour; closes the client."""
    try:
        result = getattr(client, name)(*args)
        return await result if mode == "async" else result
    finally:
        if mode == "async":
            await client.aclose()
        else:
            client.close()


async def _raised(mode: str, run: Callable[[], Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        result = run()
        if asyncio.iscoroutine(result):
            await result
    except NosanaError as err:
        return err, time.monotonic() - started
    return None, time.monotonic() - started


async def flood_body(mode: str) -> AttackOutcome:
    """Item 1: a chunked body that never ends. The client must stop at max_response_bytes."""
    with HostileServer(endless_chunked_body) as server:
        client = _client(mode, server.url, max_response_bytes=LIMIT_BYTES)
        with PeakRSS() as rss:
            raised, seconds = await _raised(mode, lambda: _call(mode, client, "stats"))
    figures = {
        "server sent MiB": round(server.sent_bytes / MiB, 1),
        "peak RSS growth MiB": round(rss.growth / MiB, 1),
        "seconds": round(seconds, 2),
    }
    held = (
        isinstance(raised, ResponseTooLargeError)
        and raised.limit == LIMIT_BYTES
        and rss.growth < RSS_BOUND_BYTES
        and server.sent_bytes < SERVER_CAP_BYTES
    )
    return AttackOutcome(held, f"{type(raised).__name__}: {raised}"[:160], figures)


async def _stream_attack(mode: str, attack: Attack, **options: Any) -> tuple[Any, Any, Any]:
    """Run ``attack`` on a deployment's stream; (error raised, server, seconds)."""
    wallet = Wallet.generate()
    fake = FakeNosana(owner=wallet.address)
    deployment_id = fake.add_deployment()["id"]
    with HostileServer(attack, attacks=lambda r: r.path.endswith("/stream"), fake=fake) as server:
        client = _client(mode, server.url, wallet, **options)
        started = time.monotonic()
        try:
            if mode == "sync":
                handle = client.deployments.get(deployment_id)
                for _ in handle.stream():
                    pass
            else:
                handle = await client.deployments.get(deployment_id)
                async for _ in handle.stream():
                    pass
        except NosanaError as err:
            return err, server, time.monotonic() - started
        finally:
            if mode == "sync":
                client.close()
            else:
                await client.aclose()
    return None, server, time.monotonic() - started


async def flood_event_line(mode: str) -> AttackOutcome:
    """Item 1: an SSE ``data:`` line without a newline. The event must stop at the limit."""
    with PeakRSS() as rss:
        raised, server, seconds = await _stream_attack(
            mode, endless_event_line, max_response_bytes=LIMIT_BYTES
        )
    figures = {
        "server sent MiB": round(server.sent_bytes / MiB, 1),
        "peak RSS growth MiB": round(rss.growth / MiB, 1),
        "seconds": round(seconds, 2),
    }
    held = (
        isinstance(raised, ResponseTooLargeError)
        and rss.growth < RSS_BOUND_BYTES
        and server.sent_bytes < SERVER_CAP_BYTES
    )
    return AttackOutcome(held, f"{type(raised).__name__}: {raised}"[:160], figures)


async def trickle(mode: str) -> AttackOutcome:
    """Item 2: one byte every 0.3 s of a 100000-byte body. The deadline (1 s) must end it."""
    with HostileServer(trickled_body) as server:
        client = _client(mode, server.url, deadline=DEADLINE_SECONDS)
        raised, seconds = await _raised(mode, lambda: _call(mode, client, "stats"))
    held = isinstance(raised, DeadlineExceededError) and seconds < DEADLINE_SECONDS + 1.0
    figures = {"deadline s": DEADLINE_SECONDS, "seconds to error": round(seconds, 2)}
    return AttackOutcome(held, f"{type(raised).__name__}: {raised}"[:160], figures)


async def trickle_headers(mode: str) -> AttackOutcome:
    """Item 2: response headers one byte every 0.3 s. The deadline (1 s) must end it too."""
    with HostileServer(trickled_headers) as server:
        client = _client(mode, server.url, deadline=DEADLINE_SECONDS)
        raised, seconds = await _raised(mode, lambda: _call(mode, client, "stats"))
    held = isinstance(raised, DeadlineExceededError) and seconds < DEADLINE_SECONDS + 1.0
    figures = {"deadline s": DEADLINE_SECONDS, "seconds to error": round(seconds, 2)}
    return AttackOutcome(held, f"{type(raised).__name__}: {raised}"[:160], figures)


async def pings(mode: str) -> AttackOutcome:
    """Item 2: a stream of heartbeats and no event. The idle limit (1 s) must end it."""
    raised, _server, seconds = await _stream_attack(
        mode, pings_only, stream_idle_timeout=IDLE_SECONDS
    )
    held = isinstance(raised, StreamIdleError) and seconds < IDLE_SECONDS + 1.5
    figures = {"idle limit s": IDLE_SECONDS, "seconds to error": round(seconds, 2)}
    return AttackOutcome(held, f"{type(raised).__name__}: {raised}"[:160], figures)


PASSWORD = "hunter2-s3cret"
CREDENTIAL_FIELDS = ("api_url", "rpc_url")


async def credentials_in_url(mode: str) -> AttackOutcome:
    """Item 3: ``http://user:pw@host`` as an endpoint. Refused, naming the field, no password."""
    kind = NosanaClient if mode == "sync" else AsyncNosanaClient
    url = f"http://alice:{PASSWORD}@127.0.0.1:9"
    texts: list[str] = []
    refused = 0
    for field_name in CREDENTIAL_FIELDS:
        try:
            kind("local", None, env={}, **{field_name: url})
        except ConfigError as err:
            refused += field_name in str(err)
            texts += [str(err), repr(err)]
    try:
        kind("local", None, env={"NOSANA_API_URL": url})
    except ConfigError as err:
        refused += "NOSANA_API_URL" in str(err) or "api_url" in str(err)
        texts += [str(err), repr(err)]
    leaks = sum(PASSWORD in text for text in texts)
    held = refused == len(CREDENTIAL_FIELDS) + 1 and leaks == 0
    figures = {"URLs refused": refused, "texts with the password": leaks}
    return AttackOutcome(held, f"{refused} refused, {leaks} leaks", figures)


async def special_wallet_files(mode: str, folder: Path | None = None) -> AttackOutcome:
    """Item 4: /dev/zero, a link to it, a FIFO and a 1 MiB file as wallets: refused at once."""
    with contextlib.ExitStack() as stack:
        if folder is None:
            import tempfile

            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        link = folder / "id.json"
        link.symlink_to("/dev/zero")
        fifo = folder / "fifo.json"
        os.mkfifo(fifo)
        big = folder / "big.json"
        big.write_bytes(b" " * MiB)
        cases = {
            "/dev/zero": "/dev/zero",
            str(link): "/dev/zero",
            str(fifo): "fifo",
            str(big): "bytes",
        }
        refused = 0
        slowest = 0.0
        with PeakRSS() as rss:
            for source, must_name in cases.items():
                started = time.monotonic()
                try:
                    Wallet.load(Path(source) if mode == "async" else source)
                except WalletError as err:
                    refused += must_name in str(err)
                slowest = max(slowest, time.monotonic() - started)
    held = refused == len(cases) and rss.growth < 16 * MiB and slowest < 1.0
    figures = {
        "files refused": f"{refused}/{len(cases)}",
        "peak RSS growth MiB": round(rss.growth / MiB, 1),
        "slowest s": round(slowest, 3),
    }
    return AttackOutcome(held, f"{refused}/{len(cases)} refused naming the file", figures)


ATTACKS: dict[str, Callable[..., Any]] = {
    "1 endless chunked body": flood_body,
    "1 SSE data line without newline": flood_event_line,
    "2 body trickled 1 byte / 0.3 s": trickle,
    "2 headers trickled 1 byte / 0.3 s": trickle_headers,
    "2 stream of pings only": pings,
    "3 credentials in endpoint URLs": credentials_in_url,
    "4 special files as wallet": special_wallet_files,
}
