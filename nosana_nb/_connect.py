"""``connect()``: the embedded default, like ``sqlite3.connect`` for a database.

With no arguments it starts (or reuses) an in-process sandbox, loads or makes a demo wallet,
funds it from the sandbox faucet when it runs low, and returns a client on the ``local``
network. Nothing here touches a real network or a real wallet.
"""

from __future__ import annotations

import atexit
import math
import os
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import NetworkConfig, local_network
from nosana_nb.core.errors import ConfigError, ValidationError
from nosana_nb.core.wallet import Wallet

if TYPE_CHECKING:
    from nosana_nb.sandbox import SandboxHandle

__all__ = [
    "SANDBOX_URL_ENV",
    "connect",
    "current_sandbox",
    "data_dir",
    "let_time_pass",
    "notebook_client",
    "stop_sandbox",
]

SANDBOX_URL_ENV = "NOSANA_SANDBOX_URL"
"""A sandbox server's URL (``nosana-nb sandbox``, Binder's ``binder/start``): connect() attaches."""

DEMO_SOL = Decimal("5")
DEMO_NOS = Decimal("1000")

_lock = threading.Lock()
_sandbox: SandboxHandle | None = None


def data_dir() -> Path:
    """Where the sandbox database and the demo wallet live (XDG data dir)."""
    # the sandbox owns this location; imported here, not at module level, to keep
    # `import nosana_nb` free of the server stack
    from nosana_nb.sandbox import default_db_path

    return default_db_path().parent


def current_sandbox() -> SandboxHandle | None:
    """The in-process sandbox started by :func:`connect`, if any.

    Returns:
        Its handle, or None (no sandbox, or one attached to over ``NOSANA_SANDBOX_URL``).
    """
    return _sandbox


def stop_sandbox() -> None:
    """Stop the in-process sandbox (``connect()`` starts a new one when called again)."""
    global _sandbox
    with _lock:
        if _sandbox is not None:
            _sandbox.stop()
            _sandbox = None


def _start_sandbox(db: Any, speed: Any, seed: Any, *, restart: bool) -> SandboxHandle:
    global _sandbox
    with _lock:
        if _sandbox is not None and restart:
            _sandbox.stop()
            _sandbox = None
        if _sandbox is not None:
            conflicts = _conflicts(_sandbox, db, speed, seed)
            if conflicts:
                raise ValidationError(
                    "connect() was asked for "
                    + ", ".join(conflicts)
                    + " but a sandbox with other settings runs in this process; pass "
                    "restart=True to stop it and start one with these settings "
                    "(or call nosana_nb.stop_sandbox() first)",
                    argument="restart",
                )
            return _sandbox
        from nosana_nb.sandbox import start

        _sandbox = start(
            db=None if db is UNSET or db is None else os.fspath(db),
            speed=DEFAULT_SPEED if speed is UNSET else speed,
            seed=0 if seed is UNSET else seed,
        )
        atexit.register(stop_sandbox)
        return _sandbox


def _demo_wallet(in_memory: bool) -> Wallet:
    """A persistent demo wallet beside the sandbox database (a fresh one for ``:memory:``)."""
    if in_memory:
        return Wallet.generate()
    from nosana_nb.sandbox import make_private_dir

    path = make_private_dir(data_dir()) / "demo-wallet.json"
    if path.exists():
        os.chmod(path, 0o600)  # a key another local user could read is not a secret
        return Wallet.from_path(path)
    wallet = Wallet.generate()
    secret = list(bytes(wallet.keypair_for_signing()))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(str(secret))
    return wallet


def _check_amount(value: Decimal | int | str, argument: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValidationError(
            f"{argument} must be a Decimal, int or str amount; got {type(value).__name__}",
            argument=argument,
        )
    try:
        amount = Decimal(value)
    except ArithmeticError as err:
        raise ValidationError(f"{argument} is not a number: {value!r}", argument=argument) from err
    if not amount.is_finite() or amount < 0:
        raise ValidationError(f"{argument} must be a finite amount >= 0", argument=argument)
    return amount


def _check_start_options(db: Any, speed: Any, seed: Any, asynchronous: Any) -> None:
    """Refuse bad arguments before anything starts."""
    if db is not None and not isinstance(db, str | os.PathLike):
        raise ValidationError(
            f"db must be a file path, ':memory:' or None; got {type(db).__name__}", argument="db"
        )
    if speed is not None and (
        isinstance(speed, bool)
        or not isinstance(speed, int | float)
        or not math.isfinite(speed)
        or speed <= 0
    ):
        raise ValidationError(
            "speed must be a positive number of simulated seconds per wall second, "
            "or None for a manual clock",
            argument="speed",
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValidationError(f"seed must be an int; got {type(seed).__name__}", argument="seed")
    if not isinstance(asynchronous, bool):
        raise ValidationError(
            f"asynchronous must be True or False; got {type(asynchronous).__name__}",
            argument="asynchronous",
        )


class _Unset:
    """An argument left at its default: only settings given explicitly can conflict."""

    def __repr__(self) -> str:
        return "<default>"


UNSET: Any = _Unset()
DEFAULT_SPEED = 60.0


@overload
def connect(
    *,
    wallet: Any = ...,
    db: str | os.PathLike[str] | None = ...,
    speed: float | None = ...,
    seed: int = ...,
    fund_sol: Decimal | int | str = ...,
    fund_nos: Decimal | int | str = ...,
    asynchronous: Literal[False] = ...,
    restart: bool = ...,
    url: str | None = ...,
) -> NosanaClient: ...


@overload
def connect(
    *,
    wallet: Any = ...,
    db: str | os.PathLike[str] | None = ...,
    speed: float | None = ...,
    seed: int = ...,
    fund_sol: Decimal | int | str = ...,
    fund_nos: Decimal | int | str = ...,
    asynchronous: Literal[True],
    restart: bool = ...,
    url: str | None = ...,
) -> AsyncNosanaClient: ...


def connect(
    *,
    wallet: Any = None,
    db: str | os.PathLike[str] | None = UNSET,
    speed: float | None = UNSET,
    seed: int = UNSET,
    fund_sol: Decimal | int | str = DEMO_SOL,
    fund_nos: Decimal | int | str = DEMO_NOS,
    asynchronous: bool = False,
    restart: bool = False,
    url: str | None = None,
) -> NosanaClient | AsyncNosanaClient:
    """A client on the embedded local Nosana, started on first use and reused afterwards.

    Args:
        wallet: anything ``Wallet.load`` accepts; default: a demo wallet kept beside the
            sandbox database (or a fresh one when ``db=":memory:"``).
        db: sandbox SQLite file; default a file in the user data dir; ``":memory:"`` for none.
        speed: simulated seconds per wall second (default 60: an hour a minute); None freezes
            the clock (move it with :func:`let_time_pass`).
        seed: seed of the simulated GPU network (default 0).
        fund_sol, fund_nos: the wallet is topped up from the faucet to at least these amounts.
        asynchronous: return an ``AsyncNosanaClient`` instead.
        restart: stop a running in-process sandbox and start one with these settings.
        url: attach to a sandbox server already running there (``nosana-nb sandbox``) instead
            of starting one in this process; default ``$NOSANA_SANDBOX_URL`` unless ``db`` is
            given (a database means a sandbox of this process's own).

    Later calls reuse the running sandbox; a ``db``, ``speed`` or ``seed`` given explicitly that
    differs from the running sandbox's is an error (pass ``restart=True`` to start over with the
    new settings) instead of being silently ignored.

    Returns:
        A ``NosanaClient`` (an ``AsyncNosanaClient`` with ``asynchronous=True``) on the
        ``local`` network, its wallet funded.

    Raises:
        ValidationError: a bad argument, or settings that differ from the running sandbox's.
        ConfigError: no sandbox answers at the URL to attach to.
    """
    sol = _check_amount(fund_sol, "fund_sol")
    nos = _check_amount(fund_nos, "fund_nos")
    _check_start_options(
        None if db is UNSET else db,
        DEFAULT_SPEED if speed is UNSET else speed,
        0 if seed is UNSET else seed,
        asynchronous,
    )
    if not isinstance(restart, bool):
        raise ValidationError("restart must be True or False", argument="restart")
    given = Wallet.load(wallet) if wallet is not None else None
    attach_url = (
        url if url is not None else (os.environ.get(SANDBOX_URL_ENV) if db is UNSET else None)
    )
    if attach_url:
        network, in_memory = _attach(attach_url, speed), False
        faucet: Any = _HTTPFaucet(network.api_url)
    else:
        handle = _start_sandbox(db, speed, seed, restart=restart)
        network = local_network(handle.api_url, nos_mint=str(handle.nos_mint))
        in_memory = handle.store.path == ":memory:"
        faucet = handle
    chosen = given if given is not None else _demo_wallet(in_memory)
    client: NosanaClient | AsyncNosanaClient
    if asynchronous:
        client = AsyncNosanaClient(network, chosen, env={})
    else:
        client = NosanaClient(network, chosen, env={})
    _top_up_from_faucet(faucet, chosen, sol, nos)
    return client


def _resolved_db(db: str | os.PathLike[str] | None) -> str:
    from nosana_nb.sandbox import default_db_path

    path = os.fspath(default_db_path() if db is None else db)
    return path if path == ":memory:" else os.path.abspath(path)


def _conflicts(handle: SandboxHandle, db: Any, speed: Any, seed: Any) -> list[str]:
    """The explicitly given settings that differ from the running sandbox's."""
    found = []
    if db is not UNSET and _resolved_db(db) != _resolved_db(handle.store.path):
        asked = os.fspath(db) if db is not None else None
        found.append(f"db={asked!r} (running: {handle.store.path!r})")
    if speed is not UNSET and speed != handle.clock.speed:
        found.append(f"speed={speed!r} (running: {handle.clock.speed!r})")
    if seed is not UNSET and seed != handle.worker.seed:
        found.append(f"seed={seed!r} (running: {handle.worker.seed!r})")
    return found


def _attach(url: str, speed: Any) -> NetworkConfig:
    """The network of a sandbox server already running at ``url`` (its ``/_sandbox/info``)."""
    base = url.rstrip("/")
    try:
        info = httpx.get(f"{base}/_sandbox/info", timeout=5.0).raise_for_status().json()
    except httpx.HTTPError as err:
        raise ConfigError(
            f"no sandbox answers at {base} ({SANDBOX_URL_ENV}): {err}. Start one with "
            "`nosana-nb sandbox`, or unset the variable to run one in this process"
        ) from err
    running = info.get("clock", {}).get("speed")
    if speed is not UNSET and speed != running:
        raise ValidationError(
            f"the sandbox at {base} runs at speed={running!r}, not speed={speed!r}; an attached "
            "sandbox keeps its own settings (restart `nosana-nb sandbox --speed ...`)",
            argument="speed",
        )
    domain = info.get("frps_domain")
    if isinstance(domain, str) and domain:
        return local_network(base, nos_mint=str(info["nos_mint"]), frps_domain=domain)
    return local_network(base, nos_mint=str(info["nos_mint"]))


class _HTTPFaucet:
    """The faucet of a sandbox in another process, over its local-only admin routes."""

    def __init__(self, api_url: str) -> None:
        self._api_url = api_url

    def _post(self, wallet: Wallet, sol: str, nos: str) -> dict[str, Any]:
        body = {"wallet": wallet.address, "sol": sol, "nos": nos}
        reply = httpx.post(f"{self._api_url}/_sandbox/faucet", json=body, timeout=30.0)
        payload: dict[str, Any] = reply.raise_for_status().json()
        return payload

    def balances(self, wallet: Wallet) -> tuple[int, int]:
        found = self._post(wallet, "0", "0")["balances"]
        return int(found["lamports"]), int(found["nos_base_units"])

    def faucet(self, wallet: Wallet, *, sol: str, nos: str) -> None:
        self._post(wallet, sol, nos)


def _top_up_from_faucet(faucet: Any, wallet: Wallet, sol: Decimal, nos: Decimal) -> None:
    if isinstance(faucet, _HTTPFaucet):
        lamports, nos_units = faucet.balances(wallet)
    else:
        lamports = faucet.chain.sol_balance(wallet.address)
        nos_units = faucet.chain.nos_balance(wallet.address)
    want_lamports = int(sol * 10**9)
    want_nos = int(nos * 10**6)
    missing_sol = Decimal(max(0, want_lamports - lamports)) / 10**9
    missing_nos = Decimal(max(0, want_nos - nos_units)) / 10**6
    if missing_sol or missing_nos:
        faucet.faucet(wallet, sol=str(missing_sol), nos=str(missing_nos))


NETWORK_ENV = "NOSANA_NETWORK"
WALLET_ENV = "NOSANA_WALLET"
NOTEBOOK_DB_ENV = "NOSANA_NB_NOTEBOOK_DB"


def notebook_client(
    *, seed: int = 0, speed: float | None = None, env: Mapping[str, str] | None = None
) -> NosanaClient:
    """The one-call setup of a notebook: the real network or a sandbox of the notebook's own.

    ``NOSANA_NETWORK`` = ``devnet`` / ``mainnet``: a client on that network with the wallet of
    ``NOSANA_WALLET`` (required: a notebook that spends must not run unauthenticated), endpoints
    from ``NOSANA_API_URL`` / ``NOSANA_RPC_URL`` when set. Unset (or ``sandbox``): an in-process
    sandbox with a frozen clock (move it with :func:`let_time_pass`) on the database
    ``NOSANA_NB_NOTEBOOK_DB`` names, by default ``:memory:`` - so nothing a user did in another
    notebook or session (running jobs holding the market's nodes) can block this one.
    ``speed`` runs that sandbox's clock instead (60: an hour a minute), for live views such as
    the dashboard app. With ``NOSANA_SANDBOX_URL`` set (``make lab``, Binder) and
    ``NOSANA_NB_NOTEBOOK_DB`` unset, the notebook attaches to that sandbox server instead when
    its clock runs at ``speed`` (manual for ``None``), keeping the server's seed and data; a
    server whose clock runs otherwise is left alone and the notebook gets a sandbox of its own.

    Args:
        seed: seed of the simulated GPU network of a sandbox started here.
        speed: simulated seconds per wall second of a sandbox started here; None: manual clock.
        env: the variables to read instead of ``os.environ``.

    Returns:
        A ``NosanaClient`` on the network the environment names.

    Raises:
        ConfigError: ``NOSANA_NETWORK`` names a real network but ``NOSANA_WALLET`` is unset, or
            no sandbox answers at ``NOSANA_SANDBOX_URL``.
    """
    source = os.environ if env is None else env
    network = source.get(NETWORK_ENV, "").strip().lower()
    if network and network != "sandbox":
        if not source.get(WALLET_ENV):
            raise ConfigError(
                f"{NETWORK_ENV}={network} needs {WALLET_ENV}: a Solana CLI id.json path, a JSON "
                "byte array or a base58 secret (never paste key material into a cell)"
            )
        return NosanaClient(network, env=source)
    db = source.get(NOTEBOOK_DB_ENV)
    attach_url = source.get(SANDBOX_URL_ENV)
    if attach_url and not db:
        try:
            return connect(url=attach_url, speed=speed)
        except ValidationError as err:
            if err.argument != "speed":
                raise
            # its clock runs at another speed than this notebook's cells assume (a manual clock
            # that let_time_pass moves exactly, or a running one for live views): use our own
    return connect(db=db or ":memory:", speed=speed, seed=seed)


def let_time_pass(client: NosanaClient | AsyncNosanaClient, duration: timedelta | float) -> None:
    """Let ``duration`` (a timedelta or seconds) of service time pass.

    On the sandbox the simulated clock jumps at once, running everything that falls due on the
    way (``POST /_sandbox/advance``, so it works for a sandbox in this process or attached);
    on a real network this blocks for real, as nothing else can make time pass there.

    Args:
        client: the client whose service's time should pass.
        duration: how much, a timedelta or seconds.

    Raises:
        ValidationError: a negative, non-finite or non-numeric duration, or not a client.
    """
    seconds = duration.total_seconds() if isinstance(duration, timedelta) else duration
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValidationError("duration must be a timedelta or seconds", argument="duration")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValidationError("duration must be finite and >= 0", argument="duration")
    if not isinstance(client, NosanaClient | AsyncNosanaClient):
        raise ValidationError(
            f"client must be a NosanaClient or AsyncNosanaClient; got {type(client).__name__}",
            argument="client",
        )
    if client.network.name != "local":
        time.sleep(seconds)
        return
    reply = httpx.post(
        f"{client.network.api_url}/_sandbox/advance", json={"seconds": seconds}, timeout=None
    )
    reply.raise_for_status()
    client.service_clock.observe_headers(reply.headers)
