"""Malformed replies: every broken answer becomes a typed error or is read tolerantly, never a
hang and never a raw exception from a library.

Most cases swap one route of the fake service (``tests/core/fake_api.py``) for a broken reply.
Stream stalls and half-sent frames need a real socket, so a small scripted TCP server plays the
service for those, and the client runs with a short read timeout.
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from nosana_nb.core import models
from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.deployments import AsyncDeployment, Deployment
from nosana_nb.core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    AuthenticationError,
    InternalServerError,
    NosanaError,
    StreamError,
)
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.solana_rpc import SolanaRPCError
from nosana_nb.core.vaults import UnsafeWithdrawError
from nosana_nb.core.wallet import Wallet
from tests.core.fake_api import FakeNosana, new_address

pytestmark = pytest.mark.timeout(30)

HUGE_BYTES = 20 * 1024 * 1024
MAX_MESSAGE_CHARS = 3000  # an error about a 20 MB body must not be 20 MB long
STREAM_READ_TIMEOUT = 0.3


async def resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


@dataclass
class Surface:
    mode: str
    fake: FakeNosana
    wallet: Wallet
    vault_keypair: Keypair
    client: Any
    deployment: Any
    vault: Any

    async def close(self) -> None:
        if isinstance(self.client, AsyncNosanaClient):
            await self.client.aclose()
        else:
            self.client.close()


def build_surface(
    mode: str,
    handler: Callable[[httpx.Request], httpx.Response] | None = None,
    **client_options: Any,
) -> Surface:
    """A client on the fake service; ``handler`` (if given) answers before the fake does."""
    wallet = Wallet.generate()
    fake = FakeNosana(owner=wallet.address)
    vault_keypair = Keypair()
    fake.vaults.append({"vault": str(vault_keypair.pubkey()), "owner": wallet.address})

    def route(request: httpx.Request) -> httpx.Response:
        if handler is not None:
            reply = handler(request)
            if reply is not None:
                return reply
        return fake(request)

    cls: type[Any] = AsyncNosanaClient if mode == "async" else NosanaClient
    client_options.setdefault("transport", httpx.MockTransport(route))
    client_options.setdefault("max_retries", 0)
    client = cls("local", wallet, env={}, **client_options)
    record = fake.add_deployment(vault=str(vault_keypair.pubkey()))
    handle_cls: type[Any] = AsyncDeployment if mode == "async" else Deployment
    deployment = handle_cls(client._services, models.Deployment.model_validate(record))
    return Surface(
        mode, fake, wallet, vault_keypair, client, deployment, client.vaults.get(record["vault"])
    )


# -- broken replies ------------------------------------------------------------------------------

Reply = Callable[[httpx.Request], httpx.Response]
Call = Callable[[Surface], Awaitable[Any]]


def _json(body: Any, status: int = 200) -> Reply:
    return lambda _request: httpx.Response(status, json=body)


def _text(text: str | bytes, status: int = 200, content_type: str = "application/json") -> Reply:
    return lambda _request: httpx.Response(
        status,
        content=text.encode() if isinstance(text, str) else text,
        headers={"content-type": content_type},
    )


def _rpc(payload: Callable[[int], Any]) -> Reply:
    def reply(request: httpx.Request) -> httpx.Response:
        request_id = json.loads(request.read())["id"]
        return httpx.Response(200, json=payload(request_id))

    return reply


def _page(items: Any, cursor: str | None = None, key: str = "deployments") -> dict[str, Any]:
    return {key: items, "pagination": {"cursor_next": cursor, "total_items": 99}}


def _deployment(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": new_address(),
        "name": "x",
        "vault": new_address(),
        "market": new_address(),
        "owner": new_address(),
        "status": "RUNNING",
        "replicas": 1,
        "timeout": 60,
        "strategy": "SIMPLE",
        "created_at": "2026-01-01T00:00:00.000Z",
        "updated_at": "2026-01-01T00:00:00.000Z",
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not _DROP}


_DROP = object()


def _deployment_reply(**changes: Any) -> Reply:
    """A deployment reply about the deployment the request names (so history loads work)."""

    def reply(request: httpx.Request) -> httpx.Response:
        fields = {"id": request.url.path.rsplit("/", 1)[-1], **changes}
        return httpx.Response(200, json=_deployment(**fields))

    return reply


def _withdraw_tx(
    surface: Surface, *, to: Pubkey | None = None, fee_payer: Pubkey | None = None
) -> str:
    owner = surface.wallet.pubkey
    payer = fee_payer or owner
    ix = transfer(
        TransferParams(
            from_pubkey=surface.vault_keypair.pubkey(), to_pubkey=to or owner, lamports=7
        )
    )
    message = MessageV0.try_compile(payer, [ix], [], Hash.default())
    tx = VersionedTransaction(message, [NullSigner(payer), surface.vault_keypair])
    return base64.b64encode(bytes(tx)).decode()


# calls, written once for both clients (sync results pass through ``resolve``)


async def get_deployment(s: Surface) -> Any:
    return await resolve(s.client.deployments.get(s.deployment.id))


async def first_page(s: Surface) -> Any:
    return await resolve(s.client.deployments.list().first_page())


async def all_deployments(s: Surface) -> Any:
    return await resolve(s.client.deployments.list(limit=10).to_list())


async def list_vaults(s: Surface) -> Any:
    return await resolve(s.client.vaults.list())


async def list_jobs(s: Surface) -> Any:
    return await resolve(s.deployment.get_jobs().first_page())


async def vault_balance(s: Surface) -> Any:
    return await resolve(s.vault.get_balance())


async def withdraw(s: Surface) -> Any:
    return await resolve(s.vault.withdraw())


async def markets(s: Surface) -> Any:
    return await resolve(s.client.markets.list())


async def stats(s: Surface) -> Any:
    return await resolve(s.client.stats())


async def header(s: Surface) -> Any:
    return await resolve(s.deployment.get_header())


async def pin(s: Surface) -> Any:
    return await resolve(s.client.jobs.pin_job_definition(container_job("ubuntu")))


async def start(s: Surface) -> Any:
    return await resolve(s.deployment.start(check_funds=False))


async def stream(s: Surface) -> list[Any]:
    messages = s.deployment.stream(read_timeout=STREAM_READ_TIMEOUT)
    if s.mode == "async":
        return [message async for message in messages]
    return list(messages)


@dataclass(frozen=True)
class ReplyCase:
    """``route`` (regex on "METHOD /path") answers with ``reply``; ``call`` must then raise
    ``error``, or, when ``error`` is None, return a value that ``check`` accepts."""

    id: str
    route: str
    reply: Reply | Callable[[Surface], Reply]
    call: Call
    error: type[NosanaError] | None = None
    check: Callable[[Any, Surface], bool] | None = None
    needs_surface: bool = False


DEPLOYMENT = r"GET /deployments/[1-9A-HJ-NP-Za-km-z]+"
LIST = r"GET /deployments"
RPC = r"POST /rpc"
WITHDRAW = r"POST /deployments/vaults/\w+/withdraw"
STREAM = r"GET /deployments/\w+/stream"
SSE = "text/event-stream"


def _sse(*frames: str) -> Reply:
    body = "".join(f"data: {frame}\n\n" for frame in frames)
    return _text(body, content_type=SSE)


def _cursor_cycle() -> Reply:
    pages = iter(["A", "B", "A", "B"])
    return lambda _request: httpx.Response(200, json=_page([_deployment()], next(pages)))


REPLY_CASES: list[ReplyCase] = [
    ReplyCase(
        "json-truncated", LIST, _text('{"deployments": ['), first_page, APIResponseValidationError
    ),
    ReplyCase(
        "json-nan-literal",
        DEPLOYMENT,
        _text('{"id": NaN'),
        get_deployment,
        APIResponseValidationError,
    ),
    ReplyCase(
        "html-200",
        LIST,
        _text("<html><body>oops</body></html>", content_type="text/html"),
        first_page,
        APIResponseValidationError,
    ),
    ReplyCase(
        "html-502",
        LIST,
        _text("<html><h1>502 Bad Gateway</h1></html>", 502, "text/html"),
        first_page,
        InternalServerError,
    ),
    ReplyCase(
        "html-401",
        DEPLOYMENT,
        _text("<html>denied</html>", 401, "text/html"),
        get_deployment,
        AuthenticationError,
    ),
    ReplyCase("empty-200", LIST, _text(""), first_page, APIResponseValidationError),
    ReplyCase(
        "empty-204-on-json-route",
        DEPLOYMENT,
        _text("", 204),
        get_deployment,
        APIResponseValidationError,
    ),
    ReplyCase("null-500", DEPLOYMENT, _text("null", 500), get_deployment, InternalServerError),
    ReplyCase(
        "missing-id",
        DEPLOYMENT,
        _deployment_reply(id=_DROP),
        get_deployment,
        APIResponseValidationError,
    ),
    ReplyCase(
        "replicas-str",
        DEPLOYMENT,
        _deployment_reply(replicas="many"),
        get_deployment,
        APIResponseValidationError,
    ),
    ReplyCase(
        "created_at-words",
        DEPLOYMENT,
        _deployment_reply(created_at="yesterday"),
        get_deployment,
        APIResponseValidationError,
    ),
    ReplyCase(
        "endpoints-not-list",
        DEPLOYMENT,
        _deployment_reply(endpoints=5),
        get_deployment,
        APIResponseValidationError,
    ),
    ReplyCase(
        "deployment-is-list",
        DEPLOYMENT,
        _json([_deployment()]),
        get_deployment,
        APIResponseValidationError,
    ),
    ReplyCase(
        "unknown-status-and-strategy",
        DEPLOYMENT,
        _deployment_reply(status="HIBERNATING", strategy="QUANTUM"),
        get_deployment,
        check=lambda d, _s: d.state.status == "HIBERNATING" and d.state.strategy == "QUANTUM",
    ),
    ReplyCase(
        "extra-fields",
        DEPLOYMENT,
        _deployment_reply(brand_new={"nested": [1]}, gpu="H200"),
        get_deployment,
        check=lambda d, _s: (d.state.model_extra or {}).get("gpu") == "H200",
    ),
    ReplyCase(
        "unknown-job-state",
        r"GET /deployments/\w+/jobs",
        lambda r: httpx.Response(
            200, json=_page([{"deployment": "d", "job": "j", "state": "LEVITATING"}], key="jobs")
        ),
        list_jobs,
        check=lambda page, _s: page.items[0].state == "LEVITATING",
    ),
    ReplyCase(
        "huge-20MB-list",
        LIST,
        lambda _r: httpx.Response(
            200, json=_page(["x" * (1024 * 1024)] * (HUGE_BYTES // (1024 * 1024)))
        ),
        first_page,
        APIResponseValidationError,
    ),
    ReplyCase(
        "huge-20MB-error-page",
        DEPLOYMENT,
        _text("x" * HUGE_BYTES, 500, "text/plain"),
        get_deployment,
        InternalServerError,
    ),
    ReplyCase(
        "list-route-returns-dict",
        r"GET /deployments/vaults",
        _json({"vaults": []}),
        list_vaults,
        APIResponseValidationError,
    ),
    ReplyCase(
        "list-route-returns-list-of-non-objects",  # a bare array is one page; its items count
        LIST,
        _json(["not a deployment"]),
        first_page,
        APIResponseValidationError,
    ),
    ReplyCase(
        "page-items-not-list", LIST, _json(_page({"a": 1})), first_page, APIResponseValidationError
    ),
    ReplyCase(
        "cursor-repeats",
        LIST,
        lambda _r: httpx.Response(200, json=_page([_deployment()], "same")),
        all_deployments,
        APIResponseValidationError,
    ),
    ReplyCase(
        "cursor-cycle",
        LIST,
        lambda s: _cursor_cycle(),
        all_deployments,
        APIResponseValidationError,
        needs_surface=True,
    ),
    ReplyCase(
        "markets-dict",
        r"GET /api/markets/",
        _json({"data": []}),
        markets,
        APIResponseValidationError,
    ),
    ReplyCase(
        "markets-item-not-object",
        r"GET /api/markets/",
        _json(["nvidia"]),
        markets,
        APIResponseValidationError,
    ),
    ReplyCase(
        "stats-wrong-types",
        r"GET /stats",
        _json({"jobs": "many"}),
        stats,
        APIResponseValidationError,
    ),
    ReplyCase(
        "header-missing",
        r"GET /deployments/\w+/header",
        _json({}),
        header,
        APIResponseValidationError,
    ),
    ReplyCase(
        "start-reply-not-object",
        r"POST /deployments/\w+/start",
        _json("STARTING"),
        start,
        APIResponseValidationError,
    ),
    ReplyCase(
        "pin-without-hash",
        r"POST /pinning/.*",
        _json({"ok": True}),
        pin,
        APIResponseValidationError,
    ),
    ReplyCase(
        "pin-hash-not-cid",
        r"POST /pinning/.*",
        _json({"IpfsHash": "../../etc"}),
        pin,
        APIResponseValidationError,
    ),
    # Solana JSON-RPC
    ReplyCase(
        "rpc-without-result",
        RPC,
        _rpc(lambda i: {"jsonrpc": "2.0", "id": i}),
        vault_balance,
        APIResponseValidationError,
    ),
    ReplyCase(
        "rpc-error-object",
        RPC,
        _rpc(
            lambda i: {
                "jsonrpc": "2.0",
                "id": i,
                "error": {"code": -32005, "message": "Node is behind"},
            }
        ),
        vault_balance,
        SolanaRPCError,
    ),
    ReplyCase(
        "rpc-error-not-object",
        RPC,
        _rpc(lambda i: {"jsonrpc": "2.0", "id": i, "error": "boom"}),
        vault_balance,
        APIResponseValidationError,
    ),
    ReplyCase(
        "rpc-result-wrong-shape",
        RPC,
        _rpc(lambda i: {"jsonrpc": "2.0", "id": i, "result": {"value": "lots"}}),
        vault_balance,
        APIResponseValidationError,
    ),
    ReplyCase(
        "rpc-not-json",
        RPC,
        _text("<html>rate limited</html>", content_type="text/html"),
        vault_balance,
        APIResponseValidationError,
    ),
    ReplyCase("rpc-batch-list", RPC, _json([]), vault_balance, APIResponseValidationError),
    # withdraw: the service's half-signed transaction
    ReplyCase("withdraw-no-transaction", WITHDRAW, _json({}), withdraw, APIResponseValidationError),
    ReplyCase("withdraw-list", WITHDRAW, _json(["tx"]), withdraw, APIResponseValidationError),
    ReplyCase(
        "withdraw-not-base64",
        WITHDRAW,
        _json({"transaction": "not base64!"}),
        withdraw,
        APIResponseValidationError,
    ),
    ReplyCase(
        "withdraw-not-a-transaction",
        WITHDRAW,
        _json({"transaction": base64.b64encode(b"hello, world").decode()}),
        withdraw,
        APIResponseValidationError,
    ),
    ReplyCase(
        "withdraw-pays-someone-else",
        WITHDRAW,
        lambda s: _json({"transaction": _withdraw_tx(s, to=Keypair().pubkey())}),
        withdraw,
        UnsafeWithdrawError,
        needs_surface=True,
    ),
    ReplyCase(
        "withdraw-other-fee-payer",
        WITHDRAW,
        lambda s: _json({"transaction": _withdraw_tx(s, fee_payer=Keypair().pubkey())}),
        withdraw,
        UnsafeWithdrawError,
        needs_surface=True,
    ),
    ReplyCase(
        "withdraw-pays-owner",
        WITHDRAW,
        lambda s: _json({"transaction": _withdraw_tx(s)}),
        withdraw,
        needs_surface=True,
        check=lambda sig, s: isinstance(sig, str) and len(s.fake.sent_transactions) == 1,
    ),
    # SSE frames the service sent completely (a finished body)
    ReplyCase("sse-not-json", STREAM, _sse("not json"), stream, StreamError),
    ReplyCase("sse-array", STREAM, _sse("[1, 2]"), stream, StreamError),
    ReplyCase("sse-no-type", STREAM, _sse('{"status": "RUNNING"}'), stream, StreamError),
    ReplyCase(
        "sse-bad-field",
        STREAM,
        _sse('{"type": "deployment", "replicas": "x"}'),
        stream,
        StreamError,
    ),
    ReplyCase(
        "sse-binary-garbage",
        STREAM,
        _text(b"data: \xff\xfe\x00\x9f\n\n", content_type=SSE),
        stream,
        StreamError,
    ),
    ReplyCase(
        "sse-unknown-type",
        STREAM,
        _sse('{"type": "hologram", "x": 1}'),
        stream,
        check=lambda messages, _s: messages[0].type == "hologram",
    ),
    ReplyCase("sse-wrong-content-type", STREAM, _json({"type": "deployment"}), stream, StreamError),
    ReplyCase(
        "sse-401", STREAM, _text("Unauthorized", 401, "text/plain"), stream, AuthenticationError
    ),
]


@dataclass
class Outcome:
    handled: bool
    detail: str


def _expected(case: ReplyCase, value: Any, raised: BaseException | None, s: Surface) -> Outcome:
    if raised is not None and not isinstance(raised, NosanaError):
        return Outcome(False, f"raw {type(raised).__name__}: {str(raised)[:200]}")
    if case.error is not None:
        if not isinstance(raised, case.error):
            return Outcome(False, f"expected {case.error.__name__}, got {raised!r}"[:300])
        if len(str(raised)) > MAX_MESSAGE_CHARS:
            return Outcome(False, f"error message is {len(str(raised))} characters long")
        if case.route == WITHDRAW and s.fake.sent_transactions:
            return Outcome(False, "a refused withdraw was still sent")
        return Outcome(True, type(raised).__name__)
    if raised is not None:
        return Outcome(False, f"expected tolerance, got {raised!r}"[:300])
    if case.check is not None and not case.check(value, s):
        return Outcome(False, f"tolerated but read wrongly: {value!r}"[:300])
    return Outcome(True, "tolerated")


async def run_reply_case(case: ReplyCase, mode: str) -> Outcome:
    holder: dict[str, Reply] = {}
    pattern = re.compile(case.route)

    def handler(request: httpx.Request) -> httpx.Response | None:
        if pattern.fullmatch(f"{request.method} {request.url.path}"):
            return holder["reply"](request)
        return None

    surface = build_surface(mode, handler)  # type: ignore[arg-type]
    holder["reply"] = case.reply(surface) if case.needs_surface else case.reply  # type: ignore[assignment,arg-type]
    value: Any = None
    raised: BaseException | None = None
    try:
        value = await case.call(surface)
    except Exception as exc:
        raised = exc
    finally:
        await surface.close()
    return _expected(case, value, raised, surface)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", REPLY_CASES, ids=[c.id for c in REPLY_CASES])
async def test_malformed_reply_is_handled(case: ReplyCase, mode: str) -> None:
    outcome = await run_reply_case(case, mode)
    assert outcome.handled, outcome.detail


# -- a scripted TCP server for stalls and half-sent streams ---------------------------------------

SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)
FRAME = b'data: {"type": "deployment", "status": "RUNNING"}\n\n'


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@dataclass
class ScriptedServer:
    """Answers every connection with ``script`` bytes, then stalls (``stall``) or closes."""

    script: bytes
    stall: bool
    _release: threading.Event = field(default_factory=threading.Event)
    _sockets: list[socket.socket] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # lets the accept loop notice close() promptly
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._release.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self._sockets.append(conn)
            self._read_request(conn)
            conn.sendall(self.script)
            if self.stall:
                continue  # keep the socket open and silent until close()
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    @staticmethod
    def _read_request(conn: socket.socket) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(65536)
            if not chunk:
                return
            received += chunk

    def close(self) -> None:
        self._release.set()
        self._listener.close()
        for conn in self._sockets:
            conn.close()
        self._thread.join(timeout=5)


@dataclass(frozen=True)
class WireCase:
    id: str
    script: bytes
    stall: bool
    call: Call
    error: type[NosanaError] | None  # None: the stream may end cleanly
    max_messages: int = 1


WIRE_CASES = [
    WireCase("sse-stalls-after-a-frame", SSE_HEAD + _chunk(FRAME), True, stream, StreamError),
    WireCase(
        "sse-stalls-before-any-frame", SSE_HEAD + _chunk(b": hello\n\n"), True, stream, StreamError
    ),
    WireCase("sse-no-headers", b"", True, stream, APIConnectionError),
    WireCase(
        "sse-partial-chunk-then-close",
        SSE_HEAD + b"64\r\n" + FRAME[:20],
        False,
        stream,
        StreamError,
    ),
    WireCase(
        "sse-partial-frame-then-close",
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
        + FRAME
        + FRAME[:25],
        False,
        stream,
        None,
    ),
    WireCase(
        "sse-garbage-bytes-then-stall",
        SSE_HEAD + _chunk(b"data: \xff\xfe{{{\n\n"),
        True,
        stream,
        StreamError,
        max_messages=0,
    ),
    WireCase("request-stalls", b"", True, get_deployment, APIConnectionError),
    WireCase(
        "request-partial-body-then-close",
        b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"id"',
        False,
        get_deployment,
        APIConnectionError,
    ),
]


async def run_wire_case(case: WireCase, mode: str) -> Outcome:
    server = ScriptedServer(case.script, case.stall)
    api = f"http://127.0.0.1:{server.port}"
    surface = build_surface(mode, api_url=api, timeout=STREAM_READ_TIMEOUT, transport=None)
    raised: BaseException | None = None
    value: Any = None
    try:
        value = await case.call(surface)
    except Exception as exc:
        raised = exc
    finally:
        await surface.close()
        server.close()
    if raised is not None and not isinstance(raised, NosanaError):
        return Outcome(False, f"raw {type(raised).__name__}: {raised}")
    if case.error is not None and not isinstance(raised, case.error):
        return Outcome(False, f"expected {case.error.__name__}, got {raised!r} / {value!r}")
    if isinstance(value, list) and len(value) > case.max_messages:
        return Outcome(False, f"yielded {len(value)} messages from a broken stream")
    return Outcome(True, type(raised).__name__ if raised else "ended cleanly")


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("case", WIRE_CASES, ids=[c.id for c in WIRE_CASES])
async def test_broken_wire_is_handled(case: WireCase, mode: str) -> None:
    outcome = await run_wire_case(case, mode)
    assert outcome.handled, outcome.detail


def iter_all_cases() -> Iterator[tuple[str, Callable[[str], Awaitable[Outcome]]]]:
    """Every case as (id, runner(mode)), for bench/report_hardening.py."""
    for reply_case in REPLY_CASES:
        yield reply_case.id, functools.partial(run_reply_case, reply_case)
    for wire_case in WIRE_CASES:
        yield wire_case.id, functools.partial(run_wire_case, wire_case)
