"""The bad-input corpus: every public call of the core that takes user input, fed bad values.

Each :class:`BadInput` names a call (run against a :class:`Surface`: a client wired to the fake
service, a deployment handle, a vault handle, ...), the argument it attacks and the typed error
it must raise. The runner in ``test_bad_inputs.py`` (and ``bench/report_hardening.py``) checks
the error type, that the error names the argument, and that no request reached the transport.

``modes`` says where a case runs: ``("sync", "async")`` for client methods (the async twin is
awaited), ``("static",)`` for module-level functions (wallet loaders, resolve_network, connect).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import base58
import httpx
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_nb._connect import connect
from nosana_nb.core import models
from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import resolve_network
from nosana_nb.core.deployments import AsyncDeployment, Deployment
from nosana_nb.core.errors import ConfigError, NosanaError, ValidationError, WalletError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from tests.core.fake_api import MARKET_3060, FakeNosana, default_markets

__all__ = [
    "CORPUS",
    "MB_STRING",
    "BadInput",
    "Surface",
    "build_surface",
    "close_surface",
]

MB_STRING = "A" * (1024 * 1024)
RTL_OVERRIDE = "\u202e"
ZERO_WIDTH = "\u200b"
JD = container_job("ubuntu:24.04", "echo hi", gpu=False)
GOOD_CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
# A program-derived address: a valid 32-byte key that is off the ed25519 curve.
OFF_CURVE = str(Pubkey.find_program_address([b"hardening"], Pubkey.default())[0])
SHORT_KEY = base58.b58encode(bytes(31)).decode()
LONG_KEY = base58.b58encode(bytes(range(33))).decode()
INVALID_B58 = "0OIl" * 11  # characters outside the base58 alphabet
NAIVE = datetime(2026, 1, 1)  # no tzinfo: ambiguous, refused
DECIMAL_NAN = Decimal("NaN")
DECIMAL_INF = Decimal("Infinity")


class SandboxStarted(Exception):
    """Raised instead of starting a sandbox: connect() got past its argument checks."""


@dataclass
class Surface:
    """What a case can call. ``client`` is sync or async; the others match it."""

    mode: str
    fake: FakeNosana
    wallet: Wallet
    client: Any
    deployment: Any
    vault: Any
    client_class: type[Any]
    transport: httpx.MockTransport
    made: list[Any] = field(default_factory=list)

    def make_client(self, *args: Any, **kwargs: Any) -> Any:
        """Build a client of this surface's kind; ``env`` and ``transport`` default to safe ones."""
        kwargs.setdefault("env", {})
        if "http_client" not in kwargs:
            kwargs.setdefault("transport", self.transport)
        if not args and "network" not in kwargs:
            args = ("local",)
        client = self.client_class(*args, **kwargs)
        self.made.append(client)
        return client

    @property
    def no_wallet(self) -> Any:
        """A client without a wallet (built on first use: most cases never need it)."""
        return self.make_client(wallet=None)

    @property
    def read_only(self) -> Any:
        """A client whose wallet knows only its public key."""
        return self.make_client(wallet=Wallet.read_only(self.wallet.address))

    @property
    def requests_sent(self) -> int:
        return len(self.fake.requests)


def build_surface(mode: str) -> Surface:
    """A fresh fake service and clients for one case (``mode``: sync, async or static)."""
    wallet = Wallet.generate()
    fake = FakeNosana(owner=wallet.address)
    transport = httpx.MockTransport(fake)
    cls: type[Any] = AsyncNosanaClient if mode == "async" else NosanaClient
    handle: type[Any] = AsyncDeployment if mode == "async" else Deployment

    main = cls("local", wallet, transport=transport, env={})
    record = fake.add_deployment(strategy="SCHEDULED", schedule="0 * * * *")
    deployment = handle(main._services, models.Deployment.model_validate(record))
    return Surface(
        mode=mode,
        fake=fake,
        wallet=wallet,
        client=main,
        deployment=deployment,
        vault=main.vaults.get(record["vault"]),
        client_class=cls,
        transport=transport,
    )


async def close_surface(surface: Surface) -> None:
    for client in (surface.client, *surface.made):
        if isinstance(client, AsyncNosanaClient):
            await client.aclose()
        else:
            client.close()


@dataclass(frozen=True)
class BadInput:
    """One bad call: ``call(surface)`` must raise ``error`` naming ``argument``, sending nothing."""

    id: str
    call: Callable[[Surface], Any]
    argument: str
    error: type[NosanaError] = ValidationError
    modes: tuple[str, ...] = ("sync", "async")
    known_gap: str | None = None  # why the current code misses it (expected to fail)


CORPUS: list[BadInput] = []


def _static(fn: Callable[[], Any]) -> Callable[[Surface], Any]:
    return lambda _surface: fn()


def _on(path: str, *args: Any, **kwargs: Any) -> Callable[[Surface], Any]:
    """``_on("deployment.rename", "x")`` calls ``surface.deployment.rename("x")``."""

    def call(surface: Surface) -> Any:
        target: Any = surface
        for name in path.split("."):
            target = getattr(target, name)
        return target(*args, **kwargs)

    return call


def _add(
    id: str,
    call: Callable[[Surface], Any],
    argument: str,
    error: type[NosanaError] = ValidationError,
    *,
    static: bool = False,
    known_gap: str | None = None,
) -> None:
    modes = ("static",) if static else ("sync", "async")
    CORPUS.append(BadInput(id, call, argument, error, modes, known_gap))


# -- values ------------------------------------------------------------------------------------

NOT_INTS: dict[str, Any] = {
    "bool": True,
    "float": 1.5,
    "whole-float": 2.0,
    "nan": math.nan,
    "inf": math.inf,
    "str": "3",
    "none": None,
    "decimal": Decimal(2),
}
BAD_SECONDS: dict[str, Any] = {
    "nan": math.nan,
    "+inf": math.inf,
    "-inf": -math.inf,
    "negative": -3600,
    "not-whole-minutes": 3601,
    "bool": True,
    "str": "3600",
    "none": None,
    "huge-int": 10**30,
    "huge-float": 1e308,
    "decimal-nan": DECIMAL_NAN,
    "decimal-inf": DECIMAL_INF,
    "negative-timedelta": timedelta(seconds=-60),
    "list": [3600],
}
BAD_PUBKEYS: dict[str, Any] = {
    "empty": "",
    "whitespace": "   ",
    "short": SHORT_KEY,
    "long": LONG_KEY,
    "invalid-base58": INVALID_B58,
    "int": 12345,
    "bytes": bytes(32),
    "none": None,
    "1MB": MB_STRING,
    "control-char": MARKET_3060[:-1] + "\x00",
    "zero-width": MARKET_3060 + ZERO_WIDTH,
}
BAD_CRONS: dict[str, Any] = {
    "four-fields": "* * * *",
    "six-fields": "0 * * * * *",
    "minute-60": "60 * * * *",
    "@daily": "@daily",
    "feb-31": "0 0 31 2 *",
    "empty": "",
    "whitespace": "   ",
    "int": 5,
    "none": None,
    "words": "every day",
    "unicode-digits": "\u0661 * * * *",
}
BAD_NAMES: dict[str, Any] = {
    "int": 42,
    "none": None,
    "newline": "a\nb",
    "nul": "a\x00b",
    "escape": "\x1b[31mred",
    "rtl-override": f"invoice{RTL_OVERRIDE}fdp.exe",
    "zero-width-space": f"de{ZERO_WIDTH}mo",
    "bom": "\ufeffdemo",
    "line-separator": "a\u2028b",
    "too-long": "x" * 101,
    "1MB": MB_STRING,
    "bytes": b"demo",
}
_VALID_OP = {"type": "container/run", "id": "run", "args": {"image": "ubuntu"}}


def _jd(**changes: Any) -> dict[str, Any]:
    jd = {"version": "0.1", "type": "container", "ops": [dict(_VALID_OP)]}
    jd.update(changes)
    return {k: v for k, v in jd.items() if v is not _DROP}


def _op(**args: Any) -> dict[str, Any]:
    return _jd(ops=[{"type": "container/run", "id": "run", "args": {"image": "ubuntu", **args}}])


_DROP = object()
BAD_JOB_DEFINITIONS: dict[str, Any] = {
    "list": [_VALID_OP],
    "str": json.dumps(JD),
    "int": 42,
    "none-ops": _jd(ops=None),
    "missing-ops": _jd(ops=_DROP),
    "empty-ops": _jd(ops=[]),
    "duplicate-op-ids": _jd(ops=[dict(_VALID_OP), dict(_VALID_OP)]),
    "version-0.2": _jd(version="0.2"),
    "version-float": _jd(version=0.1),
    "missing-version": _jd(version=_DROP),
    "type-vm": _jd(type="vm"),
    "unknown-top-key": _jd(extra=1),
    "op-not-dict": _jd(ops=["run"]),
    "op-bad-type": _jd(ops=[{**_VALID_OP, "type": "shell"}]),
    "missing-image": _jd(ops=[{"type": "container/run", "id": "run", "args": {}}]),
    "empty-image": _op(image=""),
    "env-not-str": _op(env={"A": 1}),
    "cmd-int": _op(cmd=5),
    "gpu-str": _op(gpu="yes"),
    "expose-port-70000": _op(expose=70000),
    "expose-port-0": _op(expose=0),
    "expose-bool": _op(expose=True),
    "expose-overlap": _op(expose=[8080, "8000-9000"]),
    "expose-bad-range": _op(expose="9000-8000"),
    "expose-nested-bad-type": _op(expose=[{"port": 80, "type": "ftp"}]),
    "expose-health-check-no-path": _op(
        expose=[{"port": 80, "health_checks": [{"type": "http", "continuous": True}]}]
    ),
    "nan-in-meta": _jd(meta={"x": math.nan}),
    "non-str-key": _jd(meta={1: "x"}),
    "depends-on-unknown": _jd(ops=[{**_VALID_OP, "execution": {"depends_on": ["ghost"]}}]),
}


# -- wallet loaders ----------------------------------------------------------------------------

_KP = Keypair()
_SECRET = bytes(_KP)
_MISMATCHED = _SECRET[:32] + bytes(Keypair().pubkey())


def _wallet_file(content: bytes) -> Wallet:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "id.json"
        path.write_bytes(content)
        return Wallet.from_path(path)


_WALLET_CASES: dict[str, Callable[[], Any]] = {
    "load-int": lambda: Wallet.load(123),
    "load-float": lambda: Wallet.load(1.5),
    "load-dict": lambda: Wallet.load({"secret": 1}),
    "load-object": lambda: Wallet.load(object()),
    "load-empty-str": lambda: Wallet.load(""),
    "load-whitespace": lambda: Wallet.load("   "),
    "load-control-chars": lambda: Wallet.load("\x00\x01"),
    "load-invalid-base58": lambda: Wallet.load(INVALID_B58),
    "load-31-byte-key": lambda: Wallet.load(SHORT_KEY),
    "load-63-byte-secret": lambda: Wallet.load(base58.b58encode(_SECRET[:63]).decode()),
    "load-65-byte-secret": lambda: Wallet.load(base58.b58encode(_SECRET + b"\x00").decode()),
    "load-1MB": lambda: Wallet.load(MB_STRING),
    "load-none-no-env": lambda: Wallet.load(None, env={}),
    "bytes-32-seed": lambda: Wallet.load(_SECRET[:32]),
    "bytes-63": lambda: Wallet.load(_SECRET[:63]),
    "bytes-mismatched-pubkey": lambda: Wallet.load(_MISMATCHED),
    "list-63": lambda: Wallet.load(list(_SECRET[:63])),
    "list-256": lambda: Wallet.load([256, *_SECRET[1:]]),
    "list-negative": lambda: Wallet.load([-1, *_SECRET[1:]]),
    "list-bools": lambda: Wallet.load([True] * 64),
    "list-floats": lambda: Wallet.load([float(b) for b in _SECRET]),
    "json-truncated": lambda: Wallet.load(json.dumps(list(_SECRET))[:-1]),
    "json-object": lambda: Wallet.from_json('{"secret": [1, 2]}'),
    "json-nan": lambda: Wallet.from_json("[NaN]"),
    "from-base58-int": lambda: Wallet.from_base58(5),  # type: ignore[arg-type]
    "from-bytes-str": lambda: Wallet.from_bytes("abc"),  # type: ignore[arg-type]
    "read-only-bad": lambda: Wallet.read_only("not-a-key"),
    "read-only-int": lambda: Wallet.read_only(5),  # type: ignore[arg-type]
    "read-only-rtl": lambda: Wallet.read_only(RTL_OVERRIDE + OFF_CURVE),
    "path-missing": lambda: Wallet.from_path("/nonexistent/nosana/id.json"),
    "file-garbage": lambda: _wallet_file(b"\xff\xfe not json"),
    "file-object": lambda: _wallet_file(b'{"key": 1}'),
    "file-mismatched": lambda: _wallet_file(json.dumps(list(_MISMATCHED)).encode()),
}
for _name, _fn in _WALLET_CASES.items():
    _add(f"wallet.{_name}", _static(_fn), "wallet", WalletError, static=True)


# -- network configuration ---------------------------------------------------------------------

_NETWORK_CASES: dict[str, tuple[str, Callable[[], Any]]] = {
    "network-int": ("network", lambda: resolve_network(123, env={})),  # type: ignore[arg-type]
    "network-empty": ("network", lambda: resolve_network("", env={})),
    "network-unknown": ("network", lambda: resolve_network("moon", env={})),
    "network-env-unknown": ("NOSANA_NETWORK", lambda: resolve_network(env={"NOSANA_NETWORK": "x"})),
    "api_url-ftp": ("api_url", lambda: resolve_network("local", api_url="ftp://x", env={})),
    "api_url-insecure": (
        "api_url",
        lambda: resolve_network("devnet", api_url="http://example.com", env={}),
    ),
    "api_url-no-host": ("api_url", lambda: resolve_network("devnet", api_url="https://", env={})),
    "api_url-int": ("api_url", lambda: resolve_network("devnet", api_url=5, env={})),  # type: ignore[arg-type]
    "api_url-empty": ("api_url", lambda: resolve_network("devnet", api_url="", env={})),
    "api_url-whitespace": ("api_url", lambda: resolve_network("devnet", api_url="  ", env={})),
    "api_url-env-insecure": (
        "api_url",
        lambda: resolve_network("devnet", env={"NOSANA_API_URL": "http://evil.example"}),
    ),
    "rpc_url-insecure": (
        "rpc_url",
        lambda: resolve_network("devnet", rpc_url="http://rpc.example", env={}),
    ),
    "rpc_url-javascript": ("rpc_url", lambda: resolve_network(rpc_url="javascript:x", env={})),
    "markets_url-empty": ("markets_url", lambda: resolve_network(markets_url="", env={})),
    "ipfs_gateway-data": ("ipfs_gateway", lambda: resolve_network(ipfs_gateway="data:x", env={})),
    "ipfs_pin_url-insecure": (
        "ipfs_pin_url",
        lambda: resolve_network(ipfs_pin_url="http://pin.example", env={}),
    ),
    "solana-not-mapping": ("solana", lambda: resolve_network(solana="x", env={})),  # type: ignore[arg-type]
    "solana-unknown-key": ("solana", lambda: resolve_network(solana={"rpc": "x"}, env={})),
    "solana-int-url": ("solana", lambda: resolve_network(solana={"network": 5}, env={})),
    "deployments-insecure": (
        "api_url",
        lambda: resolve_network(deployments={"endpoint": "http://evil.example"}, env={}),
    ),
    "allow_insecure_http-str": (
        "allow_insecure_http",
        lambda: resolve_network("devnet", allow_insecure_http="no", env={}),  # type: ignore[arg-type]
    ),
    "env-not-mapping": ("env", lambda: resolve_network("devnet", env=5)),  # type: ignore[arg-type]
}
for _name, (_argument, _fn) in _NETWORK_CASES.items():
    _add(f"resolve_network.{_name}", _static(_fn), _argument, ConfigError, static=True)


# -- client constructors -----------------------------------------------------------------------

_CLIENT_CASES: dict[str, tuple[str, type[NosanaError], dict[str, Any]]] = {
    "network-int": ("network", ConfigError, {"network": 7}),
    "network-unknown": ("network", ConfigError, {"network": "moon"}),
    "wallet-int": ("wallet", WalletError, {"wallet": 7}),
    "wallet-garbage-str": ("wallet", WalletError, {"wallet": "garbage"}),
    "wallet-short-bytes": ("wallet", WalletError, {"wallet": bytes(10)}),
    "api_key-empty": ("api_key", ValidationError, {"api_key": ""}),
    "api_key-space": ("api_key", ValidationError, {"api_key": "nos_ab cd"}),
    "api_key-newline": ("api_key", ValidationError, {"api_key": "nos_abcd\n"}),
    "api_key-int": ("api_key", ValidationError, {"api_key": 1234}),
    "timeout-zero": ("timeout", ValidationError, {"timeout": 0}),
    "timeout-negative": ("timeout", ValidationError, {"timeout": -1}),
    "timeout-nan": ("timeout", ValidationError, {"timeout": math.nan}),
    "timeout-inf": ("timeout", ValidationError, {"timeout": math.inf}),
    "timeout-bool": ("timeout", ValidationError, {"timeout": True}),
    "timeout-str": ("timeout", ValidationError, {"timeout": "30"}),
    "max_retries-negative": ("max_retries", ValidationError, {"max_retries": -1}),
    "max_retries-bool": ("max_retries", ValidationError, {"max_retries": True}),
    "max_retries-float": ("max_retries", ValidationError, {"max_retries": 1.5}),
    "max_retries-str": ("max_retries", ValidationError, {"max_retries": "3"}),
    "http_client-str": ("http_client", ValidationError, {"http_client": "client"}),
    "transport-str": ("transport", ValidationError, {"transport": "transport"}),
    "api_url-insecure": ("api_url", ConfigError, {"network": "devnet", "api_url": "http://x.io"}),
    "rpc_url-int": ("rpc_url", ConfigError, {"rpc_url": 5}),
    "allow_insecure_http-str": ("allow_insecure_http", ConfigError, {"allow_insecure_http": "no"}),
    "env-list": ("env", ConfigError, {"env": ["NOSANA_WALLET"]}),
    "solana-str": ("solana", ConfigError, {"solana": "https://rpc"}),
    "deployments-unknown-key": ("deployments", ConfigError, {"deployments": {"url": "x"}}),
}
for _name, (_argument, _error, _kwargs) in _CLIENT_CASES.items():
    _add(f"client.{_name}", _on("make_client", **_kwargs), _argument, _error)


# -- deployments.create ------------------------------------------------------------------------

GOOD_CREATE: dict[str, Any] = {
    "name": "demo",
    "market": MARKET_3060,
    "replicas": 1,
    "timeout": 3600,
    "strategy": "SIMPLE",
    "job_definition": JD,
    "check_funds": False,
}


def _create(**changes: Any) -> Callable[[Surface], Any]:
    kwargs = {**GOOD_CREATE, **changes}
    return lambda s: s.client.deployments.create(**kwargs)


for _name, _value in BAD_NAMES.items():
    _add(f"create.name={_name}", _create(name=_value), "name")
for _name, _value in BAD_PUBKEYS.items():
    _add(f"create.market={_name}", _create(market=_value), "market")
for _name, _value in {**NOT_INTS, "zero": 0, "negative": -1, "huge": 10**30, "101": 101}.items():
    _add(f"create.replicas={_name}", _create(replicas=_value), "replicas")
for _name, _value in {**BAD_SECONDS, "zero": 0, "30-seconds": timedelta(seconds=30)}.items():
    _add(f"create.timeout={_name}", _create(timeout=_value), "timeout")
for _name, _value in {"unknown": "FASTEST", "int": 1, "none": None, "empty": ""}.items():
    _add(f"create.strategy={_name}", _create(strategy=_value), "strategy")
for _name, _value in BAD_CRONS.items():
    _add(f"create.schedule={_name}", _create(strategy="SCHEDULED", schedule=_value), "schedule")
_add("create.schedule-on-simple", _create(schedule="0 * * * *"), "schedule")
_add(
    "create.rotation_time-on-simple",
    _create(rotation_time=600),
    "rotation_time",
)
_add(
    "create.rotation_time-too-close-to-timeout",
    _create(strategy="INFINITE", timeout=3600, rotation_time=3000),
    "rotation_time",
)
_add(
    "create.rotation_time=nan",
    _create(strategy="INFINITE", timeout=3600, rotation_time=math.nan),
    "rotation_time",
)
_add("create.infinite-timeout-below-1h", _create(strategy="INFINITE", timeout=1800), "timeout")
_add("create.confidential=str", _create(confidential="yes"), "confidential")
_add("create.confidential=int", _create(confidential=1), "confidential")
_add("create.autostart=none", _create(autostart=None), "autostart")
_add("create.autostart=str", _create(autostart="true"), "autostart")
_add("create.new_vault=int", _create(new_vault=1), "new_vault")
_add("create.check_funds=str", _create(check_funds="no"), "check_funds")
for _name, _value in {"short": SHORT_KEY, "int": 5, "empty": ""}.items():
    _add(f"create.vault={_name}", _create(vault=_value), "vault")
_add("create.vault-and-new_vault", _create(vault=OFF_CURVE, new_vault=True), "vault")
for _name, _value in BAD_JOB_DEFINITIONS.items():
    _add(f"create.job_definition={_name}", _create(job_definition=_value), "job_definition")
_add("create.no-definition", _create(job_definition=None), "job_definition")
_add(
    "create.two-definitions",
    _create(ipfs_definition_hash=GOOD_CID),
    "job_definition",
)
for _name, _value in {"short": "Qm123", "int": 5, "zero-char": "Qm" + "0" * 44}.items():
    _add(
        f"create.ipfs_definition_hash={_name}",
        _create(job_definition=None, ipfs_definition_hash=_value),
        "ipfs_definition_hash",
    )
_add(
    "create.read-only-wallet",
    lambda s: s.read_only.deployments.create(**GOOD_CREATE),
    "wallet",
    WalletError,
)
_add(
    "create.no-wallet",
    lambda s: s.no_wallet.deployments.create(**GOOD_CREATE),
    "wallet",
    WalletError,
)


# -- list filters ------------------------------------------------------------------------------

_LIST_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "search=int": ("search", {"search": 5}),
    "status=unknown": ("status", {"status": "SLEEPING"}),
    "status=empty-list": ("status", {"status": []}),
    "status=list-with-bad": ("status", {"status": ["RUNNING", "NOPE"]}),
    "status=int-in-list": ("status", {"status": [1]}),
    "strategy=unknown": ("strategy", {"strategy": "FAST"}),
    "id=bad": ("id", {"id": "nope"}),
    "id=int-in-list": ("id", {"id": [5]}),
    "name=int": ("name", {"name": 5}),
    "vault=short": ("vault", {"vault": SHORT_KEY}),
    "created_after=naive": ("created_after", {"created_after": NAIVE}),
    "created_after=str": ("created_after", {"created_after": "2026-01-01"}),
    "created_before=int": ("created_before", {"created_before": 1767225600}),
    "limit=7": ("limit", {"limit": 7}),
    "limit=bool": ("limit", {"limit": True}),
    "limit=str": ("limit", {"limit": "10"}),
    "limit=huge": ("limit", {"limit": 10**30}),
    "sort_order=up": ("sort_order", {"sort_order": "up"}),
    "sort_order=none": ("sort_order", {"sort_order": None}),
}
for _name, (_argument, _kwargs) in _LIST_CASES.items():
    _add(
        f"deployments.list.{_name}",
        _on("client.deployments.list", **_kwargs),
        _argument,
    )


# -- one deployment's actions ------------------------------------------------------------------

for _name, _value in {
    **NOT_INTS,
    "negative": -1,
    "huge": 10**30,
    "huge-float": 1e308,
    "101": 101,
}.items():
    _add(
        f"deployment.update_replicas={_name}",
        _on("deployment.update_replicas", _value),
        "replicas",
    )
for _name, _value in {
    **BAD_SECONDS,
    "below-1h": 3540,
    "timedelta-30min": timedelta(minutes=30),
}.items():
    _add(
        f"deployment.update_timeout={_name}",
        _on("deployment.update_timeout", _value),
        "timeout",
    )
for _name, _value in BAD_CRONS.items():
    _add(
        f"deployment.update_schedule={_name}",
        _on("deployment.update_schedule", _value),
        "schedule",
    )
for _name, _value in {**BAD_NAMES, "empty": "", "whitespace": "  \t "}.items():
    _add(f"deployment.rename={_name}", _on("deployment.rename", _value), "name")
for _name in ("list", "missing-ops", "duplicate-op-ids", "version-0.2", "expose-overlap"):
    _add(
        f"deployment.create_revision={_name}",
        _on("deployment.create_revision", BAD_JOB_DEFINITIONS[_name]),
        "job_definition",
    )
for _name, _value in {"zero": 0, "negative": -1, "bool": True, "str": "2", "float": 1.5}.items():
    _add(
        f"deployment.set_active_revision={_name}",
        _on("deployment.set_active_revision", _value),
        "revision",
    )
for _name, _value in BAD_PUBKEYS.items():
    _add(f"deployment.get_job={_name}", _on("deployment.get_job", _value), "job")
_HEADER_CASES: dict[str, dict[str, Any]] = {
    "message-empty": {"message": ""},
    "message-colon": {"message": "a:b"},
    "message-int": {"message": 5},
    "include_time-str": {"include_time": "yes"},
}
for _name, _kwargs in _HEADER_CASES.items():
    _add(
        f"deployment.get_header.{_name}",
        _on("deployment.get_header", **_kwargs),
        next(iter(_kwargs)),
    )
_WAIT_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "status-unknown": ("status", {"status": "DONE"}),
    "status-empty-list": ("status", {"status": []}),
    "status-int": ("status", {"status": [3]}),
    "timeout-zero": ("timeout", {"status": "RUNNING", "timeout": 0}),
    "timeout-negative": ("timeout", {"status": "RUNNING", "timeout": -5}),
    "timeout-nan": ("timeout", {"status": "RUNNING", "timeout": math.nan}),
    "timeout-inf": ("timeout", {"status": "RUNNING", "timeout": math.inf}),
    "timeout-str": ("timeout", {"status": "RUNNING", "timeout": "60"}),
    "poll_interval-zero": ("poll_interval", {"status": "RUNNING", "poll_interval": 0}),
    "poll_interval-bool": ("poll_interval", {"status": "RUNNING", "poll_interval": True}),
    "max_poll_interval-nan": (
        "max_poll_interval",
        {"status": "RUNNING", "max_poll_interval": math.nan},
    ),
}
for _name, (_argument, _kwargs) in _WAIT_CASES.items():
    _add(
        f"deployment.wait_until.{_name}",
        _on("deployment.wait_until", **_kwargs),
        _argument,
    )
for _name, (_argument, _call) in {
    "get_jobs.state-unknown": ("state", lambda s: s.deployment.get_jobs(state="DONE")),
    "get_jobs.job-bad": ("job", lambda s: s.deployment.get_jobs(job="x")),
    "get_jobs.revision-zero": ("revision", lambda s: s.deployment.get_jobs(revision=0)),
    "get_events.category-int": ("category", lambda s: s.deployment.get_events(category=5)),
    "get_events.type-comma": ("type", lambda s: s.deployment.get_events(type="A,B")),
    "get_tasks.task-unknown": ("task", lambda s: s.deployment.get_tasks(task="RUN")),
    "get_tasks.due_after-naive": ("due_after", lambda s: s.deployment.get_tasks(due_after=NAIVE)),
    "get_revisions.revision-neg": ("revision", lambda s: s.deployment.get_revisions(revision=-1)),
    "get_revisions.limit-5": ("limit", lambda s: s.deployment.get_revisions(limit=5)),
    "start.check_funds-str": ("check_funds", lambda s: s.deployment.start(check_funds="no")),
    "deployments.get-bad-id": ("deployment_id", lambda s: s.client.deployments.get("nope")),
    "deployments.get-off-by-one": (
        "deployment_id",
        lambda s: s.client.deployments.get(SHORT_KEY),
    ),
    "deployments.get-no-wallet": ("wallet", lambda s: s.no_wallet.deployments.get(OFF_CURVE)),
    "vaults.get-bad": ("address", lambda s: s.client.vaults.get("vault")),
    "vaults.get-read-only": ("wallet", lambda s: s.read_only.vaults.get(OFF_CURVE)),
}.items():
    _add(
        f"deployment.{_name}",
        _call,
        _argument,
        WalletError if _argument == "wallet" else ValidationError,
    )


# -- vault top-up and withdraw -----------------------------------------------------------------

_TOPUP_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "nothing": ("sol", {}),
    "lamports-zero": ("lamports", {"lamports": 0}),
    "lamports-negative": ("lamports", {"lamports": -1}),
    "lamports-bool": ("lamports", {"lamports": True}),
    "lamports-float": ("lamports", {"lamports": 1.5}),
    "lamports-str": ("lamports", {"lamports": "1000"}),
    "lamports-huge": ("lamports", {"lamports": 10**30}),
    "lamports-and-sol": ("sol", {"lamports": 1000, "sol": 1}),
    "sol-nan": ("sol", {"sol": math.nan}),
    "sol-inf": ("sol", {"sol": math.inf}),
    "sol-negative": ("sol", {"sol": -1}),
    "sol-words": ("sol", {"sol": "one"}),
    "sol-too-precise": ("sol", {"sol": "0.0000000001"}),
    "sol-huge": ("sol", {"sol": 10**30}),
    "sol-huge-float": ("sol", {"sol": 1e308}),
    "sol-decimal-nan": ("sol", {"sol": DECIMAL_NAN}),
    "sol-bool": ("sol", {"sol": False}),
    "sol-1MB": ("sol", {"sol": MB_STRING}),
    "nos-too-precise": ("nos", {"nos": Decimal("0.0000001")}),
    "nos-list": ("nos", {"nos": [1]}),
    "nos-decimal-inf": ("nos", {"nos": DECIMAL_INF}),
    "nos-zero-only": ("nos", {"nos": 0}),
    "nos-whitespace": ("nos", {"nos": "  "}),
}
for _name, (_argument, _kwargs) in _TOPUP_CASES.items():
    _add(f"vault.topup.{_name}", _on("vault.topup", **_kwargs), _argument)
for _name, _value in {"int": 5, "zero": 0, "decimal": Decimal(1), "str": "all"}.items():
    _add(f"vault.withdraw.amount={_name}", _on("vault.withdraw", _value), "amount")


# -- markets -----------------------------------------------------------------------------------

_MARKET = models.Market.model_validate(default_markets()[0])
_MARKET_CASES: dict[str, tuple[str, Callable[[Surface], Any]]] = {
    "get-empty": ("market", lambda s: s.client.markets.get("")),
    "get-whitespace": ("market", lambda s: s.client.markets.get("  ")),
    "get-int": ("market", lambda s: s.client.markets.get(5)),
    "get-none": ("market", lambda s: s.client.markets.get(None)),
    "estimate-market-empty": (
        "market",
        lambda s: s.client.markets.estimate("", replicas=1, timeout=3600),
    ),
    "estimate-market-int": (
        "market",
        lambda s: s.client.markets.estimate(3060, replicas=1, timeout=3600),
    ),
    "estimate-replicas-zero": (
        "replicas",
        lambda s: s.client.markets.estimate(MARKET_3060, replicas=0, timeout=3600),
    ),
    "estimate-replicas-bool": (
        "replicas",
        lambda s: s.client.markets.estimate(MARKET_3060, replicas=True, timeout=3600),
    ),
    "estimate-timeout-nan": (
        "timeout",
        lambda s: s.client.markets.estimate(MARKET_3060, replicas=1, timeout=math.nan),
    ),
    "estimate-timeout-odd": (
        "timeout",
        lambda s: s.client.markets.estimate(MARKET_3060, replicas=1, timeout=61),
    ),
    "estimate-strategy-unknown": (
        "strategy",
        lambda s: s.client.markets.estimate("nvidia-3060", replicas=1, timeout=60, strategy="X"),
    ),
    "estimate-infinite-short": (
        "timeout",
        lambda s: s.client.markets.estimate(
            "nvidia-3060", replicas=1, timeout=60, strategy="INFINITE"
        ),
    ),
    "estimate-model-replicas-huge": (
        "replicas",
        lambda s: s.client.markets.estimate(_MARKET, replicas=10**30, timeout=60),
    ),
}
for _name, (_argument, _call) in _MARKET_CASES.items():
    _add(f"markets.{_name}", _call, _argument)


# -- job definitions on IPFS -------------------------------------------------------------------

for _name in ("list", "str", "missing-ops", "duplicate-op-ids", "type-vm", "nan-in-meta"):
    _add(
        f"jobs.pin_job_definition={_name}",
        _on("client.jobs.pin_job_definition", BAD_JOB_DEFINITIONS[_name]),
        "job_definition",
    )
for _name, _value in {
    "short": "Qm123",
    "int": 5,
    "empty": "",
    "zero-char": "Qm" + "0" * 44,
    "path-traversal": "../../etc/passwd",
    "url": "https://evil.example/x",
    "1MB": MB_STRING,
}.items():
    _add(
        f"jobs.get_job_definition={_name}",
        _on("client.jobs.get_job_definition", _value),
        "cid",
    )


# -- connect() (argument checks only; a tripwire stops any sandbox start) ----------------------


@contextmanager
def no_sandbox() -> Iterator[None]:
    def tripwire(*_args: Any, **_kwargs: Any) -> Any:
        raise SandboxStarted("connect() went on to start a sandbox")

    with mock.patch("nosana_nb._connect._start_sandbox", tripwire):
        yield


def _connect(**kwargs: Any) -> Callable[[Surface], Any]:
    def call(_surface: Surface) -> Any:
        with no_sandbox():
            return connect(**kwargs)

    return call


_CONNECT_CASES: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "fund_sol-negative": ("fund_sol", {"fund_sol": -1}, None),
    "fund_sol-words": ("fund_sol", {"fund_sol": "lots"}, None),
    "fund_sol-float": ("fund_sol", {"fund_sol": 1.5}, None),
    "fund_sol-bool": ("fund_sol", {"fund_sol": True}, None),
    "fund_sol-nan": ("fund_sol", {"fund_sol": DECIMAL_NAN}, None),
    "fund_nos-inf": ("fund_nos", {"fund_nos": DECIMAL_INF}, None),
    "fund_nos-list": ("fund_nos", {"fund_nos": [1]}, None),
    "wallet-garbage": ("wallet", {"wallet": "garbage"}, None),
    "speed-str": ("speed", {"speed": "fast"}, None),
    "seed-str": ("seed", {"seed": "0"}, None),
    "db-int": ("db", {"db": 5}, None),
    "asynchronous-str": ("asynchronous", {"asynchronous": "yes"}, None),
    "speed-zero": ("speed", {"speed": 0}, None),
    "speed-nan": ("speed", {"speed": float("nan")}, None),
    "speed-bool": ("speed", {"speed": True}, None),
    "seed-bool": ("seed", {"seed": False}, None),
}
for _name, (_argument, _kwargs, _gap) in _CONNECT_CASES.items():
    _add(
        f"connect.{_name}",
        _connect(**_kwargs),
        _argument,
        WalletError if _argument == "wallet" else ValidationError,
        static=True,
        known_gap=_gap,
    )


# -- accepted edge values (each must pass validation and reach the service) --------------------

ACCEPTED: dict[str, Callable[[Surface], Any]] = {
    # unchecked: the markets API lists no such market (the service itself takes any address)
    "off-curve-market": lambda s: s.client.deployments.create(
        **{**GOOD_CREATE, "market": OFF_CURVE, "check_market": False}
    ),
    "off-curve-vault-handle": lambda s: s.client.vaults.get(OFF_CURVE).get_balance(),
    "off-curve-deployment-id": lambda s: s.client.deployments.get(OFF_CURVE),
    "empty-name-on-create": lambda s: s.client.deployments.create(**{**GOOD_CREATE, "name": ""}),
    "unicode-name": lambda s: s.deployment.rename("モデル 🚀 ñandú"),
    "emoji-zwj-name": lambda s: s.deployment.rename("team 👩\u200d💻"),
    "timedelta-timeout": lambda s: s.deployment.update_timeout(timedelta(hours=2)),
    "decimal-timeout": lambda s: s.deployment.update_timeout(Decimal("3600.0")),
    "zero-replicas-update": lambda s: s.deployment.update_replicas(0),
    "cron-ranges": lambda s: s.deployment.update_schedule("*/15 9-17 * * 1-5"),
    "strategy-lowercase": lambda s: s.client.deployments.create(
        **{**GOOD_CREATE, "strategy": "simple_extend"}
    ),
}
"""Edge values that are valid: refusing them would be a bug too. Each sends at least one request."""
