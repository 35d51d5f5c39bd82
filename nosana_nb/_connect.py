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
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.wallet import Wallet

if TYPE_CHECKING:
    from nosana_nb.sandbox import SandboxHandle

__all__ = ["connect", "current_sandbox", "data_dir", "stop_sandbox"]

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
    """The in-process sandbox started by :func:`connect`, if any."""
    return _sandbox


def stop_sandbox() -> None:
    """Stop the in-process sandbox (``connect()`` starts a new one when called again)."""
    global _sandbox
    with _lock:
        if _sandbox is not None:
            _sandbox.stop()
            _sandbox = None


def _start_sandbox(db: str | None, speed: float | None, seed: int) -> SandboxHandle:
    global _sandbox
    with _lock:
        if _sandbox is None:
            from nosana_nb.sandbox import start

            _sandbox = start(db=db, speed=speed, seed=seed)
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
) -> AsyncNosanaClient: ...


def connect(
    *,
    wallet: Any = None,
    db: str | os.PathLike[str] | None = None,
    speed: float | None = 60.0,
    seed: int = 0,
    fund_sol: Decimal | int | str = DEMO_SOL,
    fund_nos: Decimal | int | str = DEMO_NOS,
    asynchronous: bool = False,
) -> NosanaClient | AsyncNosanaClient:
    """A client on the embedded local Nosana, started on first use and reused afterwards.

    Args:
        wallet: anything ``Wallet.load`` accepts; default: a demo wallet kept beside the
            sandbox database (or a fresh one when ``db=":memory:"``).
        db: sandbox SQLite file; default a file in the user data dir; ``":memory:"`` for none.
        speed: simulated seconds per wall second (60: an hour a minute); None freezes the clock.
        seed: seed of the simulated GPU network.
        fund_sol, fund_nos: the wallet is topped up from the faucet to at least these amounts.
        asynchronous: return an ``AsyncNosanaClient`` instead.

    The first call's ``db``, ``speed`` and ``seed`` start the sandbox; later calls reuse it
    (call :func:`stop_sandbox` to start over).
    """
    sol = _check_amount(fund_sol, "fund_sol")
    nos = _check_amount(fund_nos, "fund_nos")
    _check_start_options(db, speed, seed, asynchronous)
    given = Wallet.load(wallet) if wallet is not None else None
    handle = _start_sandbox(None if db is None else os.fspath(db), speed, seed)
    chosen = given if given is not None else _demo_wallet(db == ":memory:")
    network = local_network(handle.api_url, nos_mint=str(handle.nos_mint))
    client: NosanaClient | AsyncNosanaClient
    if asynchronous:
        client = AsyncNosanaClient(network, chosen, env={})
    else:
        client = NosanaClient(network, chosen, env={})
    _top_up_from_faucet(handle, chosen, sol, nos)
    return client


def _top_up_from_faucet(handle: SandboxHandle, wallet: Wallet, sol: Decimal, nos: Decimal) -> None:
    lamports = handle.chain.sol_balance(wallet.address)
    nos_units = handle.chain.nos_balance(wallet.address)
    want_lamports = int(sol * 10**9)
    want_nos = int(nos * 10**6)
    missing_sol = Decimal(max(0, want_lamports - lamports)) / 10**9
    missing_nos = Decimal(max(0, want_nos - nos_units)) / 10**6
    if missing_sol or missing_nos:
        handle.faucet(wallet.address, sol=str(missing_sol), nos=str(missing_nos))
