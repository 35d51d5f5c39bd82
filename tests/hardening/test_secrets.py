"""Secrets never leave the wallet: no key encoding, Authorization value, API key or pinning JWT
appears in reprs, DEBUG logs, exceptions and tracebacks, or a saved and exported notebook."""

from __future__ import annotations

import base64
import functools
import inspect
import json
import logging
import pickle
import textwrap
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.null_signer import NullSigner
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from nosana_nb.core import models
from nosana_nb.core.auth import ApiKeyAuth, WalletAuth
from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import NetworkConfig, resolve_network
from nosana_nb.core.deployments import AsyncDeployment, Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from tests.core.fake_api import MARKET_3060, FakeNosana
from tests.core.faults import FaultyTransport
from tests.core.manual_time import ManualSleeper
from tests.hardening.secret_scan import Hit, Needles, scan_file, scan_text, scan_texts

pytestmark = pytest.mark.timeout(120)

API_KEY = "nos_" + "7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e"
PIN_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJoYXJkZW5pbmcifQ.c2lnbmF0dXJlLW9mLXRoZS1waW4tand0"
LOGGERS = ("nosana_nb", "httpx", "httpx_retries", "httpcore", "hpack", "asyncio")
JD = container_job("ubuntu:24.04", "echo hi", gpu=False)
Texts = list[tuple[str, str]]


def needles_for(wallet: Wallet) -> Needles:
    return Needles.for_wallet(wallet).add("api_key", API_KEY).add("ipfs_jwt", PIN_JWT)


async def resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _network() -> NetworkConfig:
    return resolve_network("local", ipfs_jwt=PIN_JWT, env={})


def _funded_fake(wallet: Wallet, network: NetworkConfig) -> FakeNosana:
    fake = FakeNosana(owner=wallet.address, nos_mint=network.nos_mint)
    vault = fake.shared_vault()["vault"]
    for owner in (wallet.address, vault):
        fake.lamports[owner] = 10 * 10**9
        fake.nos_units[owner] = 10_000 * 10**6
    fake.stream_frames = {}
    return fake


def _withdraw_reply(wallet: Wallet, vault: Keypair) -> httpx.Response:
    ix = transfer(
        TransferParams(from_pubkey=vault.pubkey(), to_pubkey=wallet.pubkey, lamports=1000)
    )
    message = MessageV0.try_compile(wallet.pubkey, [ix], [], Hash.default())
    tx = VersionedTransaction(message, [NullSigner(wallet.pubkey), vault])
    return httpx.Response(200, json={"transaction": base64.b64encode(bytes(tx)).decode()})


class Session:
    """A client on the fake service, with a vault whose key we hold (for a real withdraw)."""

    def __init__(self, mode: str, wallet: Wallet, *, api_key: str | None = None) -> None:
        self.mode = mode
        self.wallet = wallet
        self.network = _network()
        self.fake = _funded_fake(wallet, self.network)
        self.vault_keypair = Keypair()
        vault_address = str(self.vault_keypair.pubkey())
        self.fake.vaults.append({"vault": vault_address, "owner": wallet.address})
        cls: type[Any] = AsyncNosanaClient if mode == "async" else NosanaClient
        self.client = cls(
            self.network,
            wallet,
            api_key=api_key,
            transport=httpx.MockTransport(self._route),
            env={},
            max_retries=0,
        )
        self.withdraw_vault = self.client.vaults.get(vault_address)

    def _route(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(f"{self.vault_keypair.pubkey()}/withdraw"):
            return _withdraw_reply(self.wallet, self.vault_keypair)
        return self.fake(request)

    async def run(self) -> list[Any]:
        """create, start, list, stream, top-up, withdraw, pin, stats: what a notebook does."""
        client = self.client
        deployment = await resolve(
            client.deployments.create(
                name="leak-check", market=MARKET_3060, replicas=1, timeout=600, job_definition=JD
            )
        )
        self.fake.stream_frames[deployment.id] = [
            json.dumps({"type": "deployment", "status": "RUNNING", "replicas": 1}),
            json.dumps({"type": "hologram"}),
        ]
        await resolve(deployment.start())
        pager = client.deployments.list()
        listed = await resolve(pager.to_list())
        messages = deployment.stream(read_timeout=5)
        streamed = [m async for m in messages] if self.mode == "async" else list(messages)
        topup = await resolve(deployment.vault.topup(sol="0.01", nos="1.5"))
        withdrawn = await resolve(self.withdraw_vault.withdraw())
        cid = await resolve(client.jobs.pin_job_definition(JD))
        stats = await resolve(client.stats())
        return [deployment, deployment.state, listed, streamed, topup, withdrawn, cid, stats]

    async def close(self) -> None:
        if isinstance(self.client, AsyncNosanaClient):
            await self.client.aclose()
        else:
            self.client.close()


# -- (a) reprs ---------------------------------------------------------------------------------


def _repr_targets(session: Session) -> dict[str, Any]:
    client = session.client
    record = session.fake.add_deployment()
    handle_cls: type[Any] = AsyncDeployment if session.mode == "async" else Deployment
    deployment = handle_cls(client._services, models.Deployment.model_validate(record))
    return {
        "wallet": session.wallet,
        "wallet_auth": WalletAuth(session.wallet),
        "api_key_auth": ApiKeyAuth(API_KEY),
        "client": client,
        "client.dm": client._dm,
        "client.dm.auth": client._dm._auth,
        "client.pin": client._pin,
        "client.pin.auth": client._pin._auth,
        "client.rpc": client.rpc,
        "client.markets": client.markets,
        "client.jobs": client.jobs,
        "client.deployments": client.deployments,
        "client.vaults": client.vaults,
        "client.services": client._services,
        "deployment": deployment,
        "deployment.state": deployment.state,
        "vault": deployment.vault,
        "withdraw_vault": session.withdraw_vault,
        "network": session.network,
    }


def repr_texts(session: Session) -> Texts:
    texts: Texts = []
    for name, target in _repr_targets(session).items():
        texts += [(f"repr({name})", repr(target)), (f"str({name})", str(target))]
    return texts


# -- (b) DEBUG logs ----------------------------------------------------------------------------


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: Texts = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        where = f"log {record.name}"
        self.texts.append((where, self.format(record)))
        self.texts.append((f"{where} (args)", repr(record.args)))


@contextmanager
def debug_logs() -> Iterator[_Capture]:
    """Every record of our loggers and httpx/httpcore at DEBUG, formatted and raw."""
    capture = _Capture()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(capture)
            logger.setLevel(level)


class _Bridge(BaseHTTPRequestHandler):
    """Serves a FakeNosana over real HTTP, so httpcore logs a real exchange."""

    fake: FakeNosana

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        request = httpx.Request(
            self.command,
            f"http://127.0.0.1:3001{self.path}",
            headers=list(self.headers.items()),
            content=self.rfile.read(length),
        )
        response = self.fake(request)
        body = response.read()
        self.send_response(response.status_code)
        for key, value in response.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding"):
                self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the server's own access log is not under test


@contextmanager
def bridged(fake: FakeNosana) -> Iterator[str]:
    handler = type("Bridge", (_Bridge,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def logged_session_texts(wallet: Wallet) -> Texts:
    """DEBUG logs of full sessions (sync and async, with an API key) and a real-HTTP exchange."""
    with debug_logs() as capture:
        for mode in ("sync", "async"):
            for api_key in (None, API_KEY):
                session = Session(mode, wallet, api_key=api_key)
                try:
                    await session.run()
                finally:
                    await session.close()
        fake = _funded_fake(wallet, _network())
        with bridged(fake) as url, NosanaClient("local", wallet, api_url=url, env={}) as client:
            deployment = client.deployments.create(
                name="over-http", market=MARKET_3060, replicas=1, timeout=600, job_definition=JD
            )
            client.deployments.list().to_list()
            deployment.get_header()
        # retries are logged too: a refused list and a create that never left, with an API key
        faulty = FaultyTransport.over(httpx.MockTransport(_funded_fake(wallet, _network())))
        faulty.plan("GET", "/deployments", "503")
        faulty.plan("POST", "/deployments/create", "refuse")
        with NosanaClient(
            _network(), wallet, api_key=API_KEY, transport=faulty, env={}, sleeper=ManualSleeper()
        ) as client:
            client.deployments.list().first_page()
            client.deployments.create(
                name="retried", market=MARKET_3060, replicas=1, timeout=600, job_definition=JD
            )
            assert client.retries_total == 2
    return capture.texts


# -- (c) exceptions ----------------------------------------------------------------------------


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def _close_secrets(wallet: Wallet, tmp: Path) -> dict[str, Any]:
    """Inputs one slip away from the real secret: what a user pastes by mistake."""
    secret = bytes(wallet.keypair_for_signing())
    text = json.dumps(list(secret))
    b58 = str(wallet.keypair_for_signing())
    flipped = secret[:-1] + bytes([secret[-1] ^ 1])
    path = tmp / "close-id.json"
    path.write_text(json.dumps(list(flipped)))
    return {
        "json-63": text.rsplit(",", 1)[0] + "]",
        "json-65": text[:-1] + ", 0]",
        "json-trailing-comma": text[:-1] + ",]",
        "json-last-byte-flipped": json.dumps(list(flipped)),
        "json-quoted-numbers": json.dumps([str(b) for b in secret]),
        "base58-last-char-changed": b58[:-1] + ("1" if b58[-1] != "1" else "2"),
        "base58-bad-char": b58[:10] + "0" + b58[11:],
        "base58-with-space": b58[:20] + " " + b58[20:],
        "hex": secret.hex(),
        "base64": base64.b64encode(secret).decode(),
        "bytes-63": secret[:63],
        "bytes-flipped": flipped,
        "list-with-256": [*secret[:-1], 256],
        "file-flipped": path,
        "seed-only": secret[:32],
    }


def _failing_calls(wallet: Wallet) -> dict[str, Callable[[], Any]]:
    def client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> NosanaClient:
        return NosanaClient(
            _network(), wallet, transport=httpx.MockTransport(handler), env={}, max_retries=0, **kw
        )

    other = FakeNosana(owner=Wallet.generate().address)  # refuses this wallet: 401
    own = FakeNosana(owner=wallet.address)
    running = own.add_deployment(status="RUNNING")
    rpc_error = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32002, "message": "failed"}}

    def rpc_fails(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=rpc_error)

    return {
        "401": lambda: client(other).deployments.get(running["id"]),
        "401-with-api-key": lambda: client(other, api_key=API_KEY).deployments.create(
            name="x", market=MARKET_3060, replicas=1, timeout=600, job_definition=JD
        ),
        "500": lambda: client(lambda r: httpx.Response(500, text="boom")).deployments.get(
            running["id"]
        ),
        "invalid-state": lambda: (
            client(own).deployments.get(running["id"]).start(check_funds=False)
        ),
        "connect-error": lambda: client(_raise(httpx.ConnectError("refused"))).stats(),
        "read-timeout": lambda: client(_raise(httpx.ReadTimeout("slow"))).deployments.get(
            running["id"]
        ),
        "rpc-error": lambda: client(rpc_fails).rpc.get_balance(wallet.address),
        "pin-401": lambda: client(
            lambda r: httpx.Response(401, text="bad jwt")
        ).jobs.pin_job_definition(JD),
        "pickle-wallet": lambda: pickle.dumps(wallet),
        "pickle-auth": lambda: pickle.dumps(WalletAuth(wallet)),
        "pickle-api-key": lambda: pickle.dumps(ApiKeyAuth(API_KEY)),
        "api-key-with-newline": lambda: client(own, api_key=API_KEY + "\n"),
    }


def exception_texts(wallet: Wallet, tmp: Path) -> tuple[Texts, int]:
    """str/repr/args/attributes and full tracebacks of every error; also how many were raised."""
    calls = _failing_calls(wallet)
    for name, source in _close_secrets(wallet, tmp).items():
        calls[f"wallet-{name}"] = functools.partial(Wallet.load, source)
    texts: Texts = []
    raised = 0
    for name, call in calls.items():
        try:
            call()
        except Exception as exc:
            raised += 1
            texts += [
                (f"str({name})", str(exc)),
                (f"repr({name})", repr(exc)),
                (f"args({name})", repr(exc.args)),
                (f"vars({name})", repr(vars(exc))),
                (f"traceback({name})", "".join(traceback.format_exception(exc))),
            ]
    return texts, raised


# -- the tests ---------------------------------------------------------------------------------


def wallet_with_slash_in_base64() -> Wallet:
    """A wallet whose base64 secret contains "/", so pasting it looks like a path."""
    while True:
        wallet = Wallet.generate()
        if "/" in base64.b64encode(bytes(wallet.keypair_for_signing())).decode():
            return wallet


@pytest.fixture
def wallet() -> Wallet:
    return wallet_with_slash_in_base64()


def _assert_clean(hits: list[Hit]) -> None:
    assert not hits, "secret material leaked:\n" + "\n".join(map(str, hits))


def test_scanner_finds_every_form_of_a_leak(wallet: Wallet, tmp_path: Path) -> None:
    needles = needles_for(wallet)
    secret = bytes(wallet.keypair_for_signing())
    wrapped = "\n".join(textwrap.wrap(base64.b64encode(secret).decode(), 20))
    pretty = json.dumps(list(secret), indent=1)
    truncated = "[" + ", ".join(map(str, secret[:16])) + ", ...]"
    ipynb = tmp_path / "leak.ipynb"
    ipynb.write_text(json.dumps({"cells": [{"outputs": [{"text": pretty}]}]}))
    header = WalletAuth(wallet).header_value()
    for leak, label in [
        (str(wallet.keypair_for_signing()), "secret/base58"),
        (wrapped, "secret/base64"),
        (pretty, "secret/json-compact"),
        (truncated, "secret/json-prefix"),
        (secret[:32].hex(), "seed/hex"),
        (base64.urlsafe_b64encode(secret[:32]).decode().rstrip("="), "seed/base64url-unpadded"),
        (f"Authorization: {header}", "authorization"),
        (f"Bearer {API_KEY}", "api_key"),
    ]:
        assert label in {hit.needle for hit in scan_text(f"x {leak} y", needles)}, label
    assert "secret/json-compact" in {hit.needle for hit in scan_file(ipynb, needles)}
    assert not scan_text(repr(needles) + wallet.address, needles)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_reprs_hold_no_secret(wallet: Wallet, mode: str) -> None:
    session = Session(mode, wallet, api_key=API_KEY)
    try:
        texts = repr_texts(session)
    finally:
        await session.close()
    assert len(texts) >= 38
    _assert_clean(scan_texts(texts, needles_for(wallet)))


async def test_debug_logs_hold_no_secret(wallet: Wallet) -> None:
    texts = await logged_session_texts(wallet)
    logged = {where for where, _ in texts}
    # the session really ran and was logged, over the mock and over real HTTP
    assert {"log nosana_nb.http", "log nosana_nb.retry", "log httpx"} <= logged
    assert "log httpcore.http11" in logged
    assert any("/withdraw" in text for _, text in texts)
    _assert_clean(scan_texts(texts, needles_for(wallet)))


def test_exceptions_and_tracebacks_hold_no_secret(wallet: Wallet, tmp_path: Path) -> None:
    texts, raised = exception_texts(wallet, tmp_path)
    assert raised == len(_failing_calls(wallet)) + len(_close_secrets(wallet, tmp_path))
    _assert_clean(scan_texts(texts, needles_for(wallet)))


NOTEBOOK_CELLS = [
    """\
import logging, os, sys
import httpx
import nosana_nb
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, force=True)

def service(request):
    if request.url.path.startswith("/deployments"):
        return httpx.Response(401, text="Unauthorized")
    return httpx.Response(200, json={"running_ms": 1})

client = nosana_nb.Client("local", transport=httpx.MockTransport(service), max_retries=0)
print(repr(client))
client""",
    "client.wallet, client.network, client._dm._auth, client.deployments, client.vaults",
    """\
try:
    client.deployments.get("4mDcpwoXfGW7tFrWPWbc6Nn5DA2csSNJufe2NAgpEf96")
except nosana_nb.NosanaError as err:
    print(type(err).__name__, err)
client.stats()""",
    'client.deployments.get("4mDcpwoXfGW7tFrWPWbc6Nn5DA2csSNJufe2NAgpEf96")  # uncaught',
    'nosana_nb.Wallet.load(os.environ["NOSANA_WALLET"][:-6] + "]")  # one number short',
    'display({"client": client, "wallet": client.wallet}); print(client.wallet)',
]


def test_saved_and_exported_notebook_holds_no_secret(
    wallet: Wallet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    secret = list(bytes(wallet.keypair_for_signing()))
    monkeypatch.setenv("NOSANA_WALLET", json.dumps(secret))
    for name in ("NOSANA_NETWORK", "NOSANA_API_URL", "NOSANA_RPC_URL", "NOSANA_IPFS_JWT"):
        monkeypatch.delenv(name, raising=False)

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=90,
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    saved = tmp_path / "leak_check.ipynb"
    nbformat.write(notebook, saved)
    html, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
    exported = tmp_path / "leak_check.html"
    exported.write_text(html, encoding="utf-8")

    outputs = json.dumps([cell.get("outputs", []) for cell in notebook.cells])
    assert wallet.address in outputs  # the notebook really loaded the wallet
    assert "AuthenticationError" in outputs  # the errors were shown
    assert "WalletError" in outputs
    assert "Traceback" in outputs or '"ename"' in outputs
    needles = needles_for(wallet)
    _assert_clean(scan_file(saved, needles) + scan_file(exported, needles))
