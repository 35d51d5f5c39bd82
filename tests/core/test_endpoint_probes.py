"""Endpoint probes against a hostile server on 127.0.0.1: typed, bounded results, no credential
sent, nothing secret in a result or an error (docs/wire-contract.md §13, endpoint probes).

The endpoints are ``Endpoint`` values (what a deployment's ``endpoints`` holds) pointing at the
local server; the clients are real ones with a signing wallet, so a leak of its Authorization
header or of a cookie would show in what the server received.
"""

from __future__ import annotations

import math
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from nosana_nb import UnsafeEndpointError, ValidationError
from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.models import Endpoint
from nosana_nb.core.wallet import Wallet

PROBE_TIMEOUT_S = 1.5


class _Handler(socketserver.StreamRequestHandler):
    server: _HostileServer

    def handle(self) -> None:
        if self.rfile.peek(1)[:1] == b"\x16":  # a TLS ClientHello: answer in plain text
            self.wfile.write(b"HTTP/1.1 400 Not TLS\r\nContent-Length: 0\r\n\r\n")
            return
        lines: list[bytes] = []
        while (line := self.rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
            lines.append(line)
        if not lines:
            return
        path = lines[0].split(b" ")[1].decode()
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (ln.decode("latin-1").partition(":") for ln in lines[1:])
        }
        self.server.received.append((path, headers))
        port = self.server.server_address[1]
        answers = {
            "/ok": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            "/500": b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            "/away": b"HTTP/1.1 302 Found\r\nConnection: close\r\n"
            b"Location: http://other.invalid/steal\r\nContent-Length: 0\r\n\r\n",
            "/cookie": b"HTTP/1.1 302 Found\r\nConnection: close\r\n"
            b"Set-Cookie: session=s3cr3t; Path=/\r\n"
            + f"Location: http://127.0.0.1:{port}/ok\r\n".encode()
            + b"Content-Length: 0\r\n\r\n",
        }
        if path == "/garbage":  # not HTTP at all
            self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        elif path.startswith("/hang"):
            self.server.release.wait(30)  # far past the probe's timeout; freed at teardown
        elif path == "/huge":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
            try:
                for _ in range(16 * 1024):  # 1 GiB if nobody stops reading
                    self.wfile.write(chunk)
                    self.server.huge_chunks_sent += 1
            except OSError:
                pass
        else:
            self.wfile.write(
                answers.get(
                    path, b"HTTP/1.1 404 No\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                )
            )


class _HostileServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()
        self.huge_chunks_sent = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


@pytest.fixture(scope="module")
def hostile() -> Iterator[_HostileServer]:
    server = _HostileServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def wallet() -> Wallet:
    return Wallet.generate()


@pytest.fixture
def client(wallet: Wallet) -> Iterator[NosanaClient]:
    with NosanaClient(local_network("http://127.0.0.1:9"), wallet, env={}) as made:
        yield made


def _endpoint(url: str, op: str = "web") -> Endpoint:
    return Endpoint.model_validate({"opId": op, "port": 8080, "url": url})


def test_each_hostile_answer_gets_a_typed_bounded_result(
    client: NosanaClient, hostile: _HostileServer
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    paths = ["/ok", "/500", "/away", "/cookie", "/huge", "/hang", "/garbage"]
    endpoints = [_endpoint(hostile.url(p), op=p.strip("/")) for p in paths]
    endpoints.append(_endpoint(f"http://127.0.0.1:{closed_port}/", op="closed"))
    endpoints.append(_endpoint(hostile.url("/ok").replace("http:", "https:"), op="tls"))

    began = time.monotonic()
    probes = {p.op: p for p in client.endpoints.probe(endpoints, timeout=PROBE_TIMEOUT_S)}
    took = time.monotonic() - began

    assert took < PROBE_TIMEOUT_S + 5  # concurrent, each bounded: the hang costs one timeout
    assert (probes["ok"].status, probes["ok"].ready, probes["ok"].state) == (200, True, "READY")
    assert (probes["500"].status, probes["500"].ready, probes["500"].state) == (500, False, "DOWN")
    assert probes["away"].status == 302
    assert probes["away"].ready
    assert probes["away"].detail == "redirect to another host, not followed"
    assert probes["cookie"].status == 200  # followed on the same origin
    assert probes["huge"].status == 200
    assert probes["huge"].detail == "body cut at 65536 bytes"
    assert hostile.huge_chunks_sent < 16 * 1024  # the rest was never downloaded
    hang = probes["hang"]
    assert (hang.status, hang.failure, hang.ready, hang.state) == (
        None,
        "timeout",
        False,
        "UNREACHABLE",
    )
    assert hang.latency_ms >= PROBE_TIMEOUT_S * 1000 * 0.9
    assert hang.summary == "UNREACHABLE timeout"
    assert probes["closed"].failure == "connect_error"
    assert (probes["garbage"].status, probes["garbage"].failure) == (None, "protocol_error")
    assert probes["garbage"].summary == "UNREACHABLE protocol error"
    assert probes["tls"].failure == "tls_error"
    assert probes["tls"].status is None
    for probe in probes.values():
        assert math.isfinite(probe.latency_ms)
        assert probe.latency_ms >= 0
        assert probe.probed_at.tzinfo is not None


def test_a_probe_sends_no_authorization_cookie_or_wallet(
    client: NosanaClient, hostile: _HostileServer, wallet: Wallet
) -> None:
    hostile.received.clear()
    client.endpoints.probe([_endpoint(hostile.url("/cookie")), _endpoint(hostile.url("/ok"))])
    seen = {path: headers for path, headers in hostile.received}
    assert set(seen) == {"/cookie", "/ok"}
    for headers in seen.values():
        assert "authorization" not in headers
        assert "cookie" not in headers  # not even the one /cookie just set
        assert headers.get("user-agent") == "nosana-nb-probe"
        assert wallet.address not in " ".join(headers.values())


async def test_the_async_twin_probes_the_same(wallet: Wallet, hostile: _HostileServer) -> None:
    hostile.received.clear()
    async with AsyncNosanaClient(local_network("http://127.0.0.1:9"), wallet, env={}) as client:
        probes = await client.endpoints.probe(
            [_endpoint(hostile.url("/ok")), _endpoint(hostile.url("/hang/a"))],
            timeout=PROBE_TIMEOUT_S,
        )
    assert [(p.status, p.failure) for p in probes] == [(200, None), (None, "timeout")]
    assert all("authorization" not in headers for _, headers in hostile.received)


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"timeout": math.nan}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": 1e9}, "timeout"),
        ({"timeout": "5"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": 65}, "max_concurrency"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"max_bytes": -1}, "max_bytes"),
        ({"max_bytes": 2**40}, "max_bytes"),
    ],
)
def test_bad_arguments_fail_before_anything_is_sent(
    client: NosanaClient, hostile: _HostileServer, options: dict[str, Any], argument: str
) -> None:
    hostile.received.clear()
    with pytest.raises(ValidationError) as caught:
        client.endpoints.probe(_endpoint(hostile.url("/ok")), **options)
    assert caught.value.argument == argument
    assert hostile.received == []


@pytest.mark.parametrize("targets", ["https://x.example", b"https://x", 42, [None], [{"url": "x"}]])
def test_only_deployments_and_endpoints_are_probed(client: NosanaClient, targets: Any) -> None:
    with pytest.raises(ValidationError, match="deployments or their Endpoint objects"):
        client.endpoints.probe(targets)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example/x",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://admin:hunter2@host.example/",
        "https://:tok3n@host.example/",
        "https://",
        "",
        "h" * 3000,
    ],
)
def test_unsafe_urls_are_refused_without_repeating_credentials(
    client: NosanaClient, hostile: _HostileServer, url: str
) -> None:
    hostile.received.clear()
    fine = _endpoint(hostile.url("/ok"))
    with pytest.raises(UnsafeEndpointError) as caught:
        client.endpoints.probe([fine, _endpoint(url)])
    text = f"{caught.value} {caught.value!r}"
    assert "hunter2" not in text
    assert "tok3n" not in text
    assert hostile.received == []  # refused before the good one was sent either


def test_results_hold_no_query_token_or_secret(
    client: NosanaClient, hostile: _HostileServer, wallet: Wallet
) -> None:
    [probe] = client.endpoints.probe(_endpoint(hostile.url("/ok?token=s3cr3t#frag")))
    assert probe.url == hostile.url("/ok")
    text = f"{probe!r} {probe.summary} {client.endpoints!r}"
    assert "s3cr3t" not in text
    assert "frag" not in text
    assert "NosanaApiAuthentication" not in text
    assert wallet.address not in text


def test_unicode_and_empty_targets(client: NosanaClient) -> None:
    assert client.endpoints.probe([]) == []
    [probe] = client.endpoints.probe(_endpoint("https://dépôt.invalid/ü"), timeout=PROBE_TIMEOUT_S)
    assert probe.status is None
    assert probe.failure in ("connect_error", "timeout")
    assert probe.url == "https://dépôt.invalid/ü"
