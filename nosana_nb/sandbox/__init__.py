"""The embedded local Nosana: deployment manager API, simulated GPU network and LiteSVM chain.

    with nosana_nb.sandbox.start(db=":memory:", speed=None) as sandbox:
        sandbox.faucet(wallet, sol="1", nos="100")
        ...  # talk to sandbox.api_url / sandbox.rpc_url
        sandbox.advance(3600)

The sandbox imports nothing from the rest of ``nosana_nb``: it speaks the wire protocol only.
A request goes through ``http/`` (app, routing, auth, SSE, faults) to a handler in ``api/``, which
writes the ``store``; ``worker/`` reacts to those writes (strategies, tasks, simulated network)
and moves money on ``chain/`` (LiteSVM ledger, NOS escrow, JSON-RPC). This module wires them up.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from solders.pubkey import Pubkey

from .api.misc import balances as wallet_balances
from .api.misc import faucet as faucet_handler
from .chain.chain import Chain
from .clock import DEMO_SPEED, Clock
from .context import DEFAULT_ENDPOINT_BOOT_S, DEFAULT_FRPS_DOMAIN, SandboxContext
from .http.app import create_app
from .http.auth import Principal
from .http.faults import FaultSettings
from .http.guard import LocalNames, is_loopback_host
from .http.limits import EdgeLimits
from .http.routing import ApiError, Call, Reply
from .http.rpc_endpoint import make_rpc_routes
from .http.server import BackgroundServer
from .http.sse import StreamHub
from .store import Store
from .worker.config import WorkerConfig
from .worker.worker import Worker

__all__ = [
    "EdgeLimits",
    "RemoteBindRefused",
    "SandboxError",
    "SandboxExposureWarning",
    "SandboxHandle",
    "default_db_path",
    "make_private_dir",
    "resume_time",
    "serve_forever",
    "start",
]

_CLOCK_KEY = "sandbox.clock"
log = logging.getLogger("nosana_nb.sandbox")

CLOCK_SAVE_INTERVAL_S = 0.25
"""How often a running clock (speed mode) is written to the store, in wall seconds."""
CLOCK_SAVE_AHEAD_S = 1.0
"""A running clock is saved this many wall seconds ahead: whatever a reply shows before the next
save (or a starved save) is never in the future of a sandbox restarted after a SIGKILL; the
restart jumps forward by at most this much, like a sandbox that was down a moment."""


class SandboxError(RuntimeError):
    """A sandbox helper was called with something it cannot use."""


class RemoteBindRefused(SandboxError):
    """A non-loopback address was asked for without ``allow_remote=True``."""


class SandboxExposureWarning(UserWarning):
    """The sandbox listens beyond this machine: anyone who can reach it can use it."""


def _exposure_text(host: str) -> str:
    return (
        f"binding the sandbox to {host!r} opens its API, /rpc (airdrops), pinning, /stats and "
        "the faucet to every machine that can reach this one, with no real authentication"
    )


def _check_exposure(host: str, allow_remote: bool) -> None:
    """Loopback only, unless the caller opted in; then say loudly what that means."""
    if not isinstance(allow_remote, bool):
        raise ValueError("allow_remote must be True or False")
    if is_loopback_host(host):
        return
    if not allow_remote:
        raise RemoteBindRefused(
            f"{_exposure_text(host)}; use host='127.0.0.1', or pass allow_remote=True "
            "(CLI: --allow-remote) if that is what you want"
        )
    warnings.warn(_exposure_text(host), SandboxExposureWarning, stacklevel=3)
    log.warning("%s (allow_remote=True)", _exposure_text(host))


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/nosana_nb/sandbox.db`` (``~/.local/share`` when unset).

    Returns:
        The path (not created).
    """
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "nosana_nb" / "sandbox.db"


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (parents as usual) and make it owner-only (0700), even if it existed:
    the sandbox's data directory holds its database and the demo wallet's key.

    Args:
        path: the directory.

    Returns:
        ``path``.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _wallet_address(wallet: Any) -> str:
    """A base58 address from a str, or from anything with ``.address`` / ``.pubkey``
    (attribute or method), or whose ``str()`` is one (a solders Pubkey)."""
    candidate: Any = wallet
    for attribute in ("address", "pubkey"):
        value = getattr(wallet, attribute, None)
        if value is not None:
            candidate = value() if callable(value) else value
            break
    try:
        return str(Pubkey.from_string(str(candidate)))
    except ValueError:
        raise SandboxError(
            "wallet must be a base58 address or an object with .address/.pubkey"
        ) from None


class SandboxHandle:
    """A running sandbox. Stop it with :meth:`stop` or use it as a context manager."""

    def __init__(
        self,
        *,
        ctx: SandboxContext,
        server: BackgroundServer,
        hub: StreamHub,
        worker: Worker,
        chain: Chain,
    ) -> None:
        self._ctx = ctx
        self._server = server
        self._hub = hub
        self.worker = worker
        self.chain = chain
        self.store = ctx.store
        self.clock = ctx.clock
        self.api_url = ctx.api_url
        self.rpc_url = ctx.rpc_url
        self.nos_mint = str(chain.nos_mint)
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._clock_keeper = _ClockKeeper(self.store, self.clock)
        self._clock_keeper.start()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"SandboxHandle(api_url={self.api_url!r}, db={self.store.path!r}, {state})"

    @property
    def port(self) -> int:
        """The TCP port the sandbox serves on."""
        return self._server.port

    @property
    def faults(self) -> FaultSettings:
        """The fault injection settings (latency, error and drop rates) now in force."""
        return self._ctx.faults

    @property
    def unhandled_errors(self) -> int:
        """Requests that raised past every handler; a correct sandbox keeps this at 0."""
        return self._ctx.unhandled_errors

    def counters(self) -> dict[str, int]:
        """What the sandbox refused (hosts, origins, bodies, slow clients) and failed to handle.

        Returns:
            Each counter's name and value.
        """
        return self._ctx.counters.snapshot()

    def faucet(self, wallet: Any, *, sol: Any = None, nos: Any = None) -> dict[str, Any]:
        """Airdrop SOL and mint NOS (whole units: Decimal, int, float or decimal string).

        Args:
            wallet: an address, or anything with ``.address`` / ``.pubkey``.
            sol: SOL to airdrop.
            nos: NOS to mint.

        Returns:
            The faucet's reply: what was sent and the wallet's new balances.
        """
        body = {"wallet": _wallet_address(wallet), "sol": sol, "nos": nos}
        return self._admin(faucet_handler, body)

    def balances(self, wallet: Any) -> dict[str, Any]:
        """A wallet's SOL and NOS on the sandbox chain.

        Args:
            wallet: an address, or anything with ``.address`` / ``.pubkey``.

        Returns:
            Lamports and NOS base units.
        """
        return wallet_balances(self._ctx, _wallet_address(wallet))

    def advance(self, seconds: float) -> None:
        """Move simulated time forward, running everything that falls due on the way.

        Args:
            seconds: how much simulated time passes.
        """
        self.worker.advance(seconds)

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Change fault injection (see http/faults.py).

        Args:
            settings: latency_ms, error_rate, drop_rate, seed, apply_to, after_commit.

        Returns:
            The settings now in force.
        """
        return self._ctx.faults.configure(settings)

    def stop(self) -> None:
        """Graceful: worker, then SSE streams and HTTP server, then the store."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self.worker.stop()
        self._server.stop(before_exit=self._hub.close_all)
        self._clock_keeper.stop()
        self.store.close()

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _admin(self, handler: Any, body: dict[str, Any]) -> dict[str, Any]:
        call = Call(principal=Principal(owner=""), params={}, query={}, body=body, headers={})
        try:
            reply: Reply = handler(self._ctx, call)
        except ApiError as error:
            raise SandboxError(error.message) from None
        return dict(reply.body)


class _ClockKeeper:
    """Writes the simulated time to the store: at once after every move by hand, and every
    ``CLOCK_SAVE_INTERVAL_S`` (``CLOCK_SAVE_AHEAD_S`` ahead) while it runs by itself, so after a
    SIGKILL no time a client was shown lies in the restarted sandbox's future."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nosana-sandbox-clock", daemon=True)

    def start(self) -> None:
        self._clock.persist_with(self.save)
        speed = self._clock.speed
        self.save(self._clock.now() + (speed or 0.0) * CLOCK_SAVE_AHEAD_S)
        self._thread.start()

    def save(self, now: float) -> None:
        self._store.save_clock(_CLOCK_KEY, now)

    def _run(self) -> None:
        while not self._stopping.wait(CLOCK_SAVE_INTERVAL_S):
            speed = self._clock.speed
            if speed is not None:
                self.save(self._clock.now() + speed * CLOCK_SAVE_AHEAD_S)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._clock.persist_with(None)
        self.save(self._clock.now())


def resume_time(store: Store, start_time: float | None) -> float:
    """Where a sandbox on ``store`` begins: never before its saved clock or any stored time.

    Args:
        store: the sandbox's store.
        start_time: the unix time asked for (None: now).

    Returns:
        The unix time to begin at.
    """
    origin = time.time() if start_time is None else float(start_time)
    saved = float(store.meta_get(_CLOCK_KEY, 0.0))
    return max(origin, saved, store.latest_timestamp() or 0.0)


def _check_start_arguments(*, port: Any, host: Any, seed: Any, keepalive_s: Any) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError("port must be an integer from 0 (any free port) to 65535")
    if not isinstance(host, str) or not host:
        raise ValueError("host must be a non-empty string such as '127.0.0.1'")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError("seed must be an integer")
    if isinstance(keepalive_s, bool) or not isinstance(keepalive_s, int | float):
        raise ValueError("keepalive_s must be a number of seconds > 0")
    if not keepalive_s > 0:
        raise ValueError("keepalive_s must be a number of seconds > 0")


def start(
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    db: str | os.PathLike[str] | None = None,
    speed: float | None = DEMO_SPEED,
    seed: int = 0,
    faults: dict[str, Any] | None = None,
    keepalive_s: float = 25.0,
    frps_domain: str = DEFAULT_FRPS_DOMAIN,
    endpoint_boot_s: float = DEFAULT_ENDPOINT_BOOT_S,
    start_time: float | None = None,
    allow_remote: bool = False,
    limits: EdgeLimits | None = None,
    failure_share: float | None = None,
) -> SandboxHandle:
    """Start the sandbox on ``host:port`` (0 = any free port) and return its handle.

    ``db``: a SQLite path, ``":memory:"``, or None for :func:`default_db_path`. Restarting on the
    same file resumes everything. ``speed``: simulated seconds per wall second; None freezes the
    clock (tests move it with :meth:`SandboxHandle.advance`). ``start_time``: the simulated unix
    time to begin at (default: now); a resumed file never goes back before its saved time.
    ``host`` must be a loopback address unless ``allow_remote=True`` (:class:`RemoteBindRefused`
    otherwise). ``limits``: body sizes, timeouts and the connection cap (:class:`EdgeLimits`).
    ``failure_share``: the seeded share of jobs whose container fails (non-zero exit and error
    lines in their results); None keeps ``WorkerConfig.failure_probability``.

    Args:
        port: the TCP port; 0 picks a free one.
        host: the address to bind (loopback unless ``allow_remote``).
        db: a SQLite path, ``":memory:"``, or None for the default file.
        speed: simulated seconds per wall second; None freezes the clock.
        seed: seed of the simulated GPU network.
        faults: fault injection settings to begin with.
        keepalive_s: seconds between the event stream's heartbeats.
        frps_domain: the domain of the deployments' endpoint URLs.
        endpoint_boot_s: simulated seconds (at least; up to 1.5x, fixed per job) between a
            job's start and its endpoints answering 200 (``/_sandbox/endpoint``).
        start_time: the simulated unix time to begin at.
        allow_remote: allow binding to a non-loopback address.
        limits: body sizes, timeouts and the connection cap.
        failure_share: the share of jobs whose container fails.

    Returns:
        The running sandbox's handle.

    Raises:
        RemoteBindRefused: a non-loopback ``host`` without ``allow_remote=True``.
    """
    _check_start_arguments(port=port, host=host, seed=seed, keepalive_s=keepalive_s)
    if (
        isinstance(endpoint_boot_s, bool)
        or not isinstance(endpoint_boot_s, int | float)
        or not math.isfinite(endpoint_boot_s)
        or not 0 <= endpoint_boot_s <= 86_400
    ):
        raise ValueError("endpoint_boot_s must be a number of seconds from 0 to 86400")
    _check_exposure(host, allow_remote)
    if limits is not None and not isinstance(limits, EdgeLimits):
        raise ValueError("limits must be an EdgeLimits")
    if start_time is not None and (
        isinstance(start_time, bool)
        or not isinstance(start_time, int | float)
        or not math.isfinite(start_time)
        or start_time < 0
    ):
        raise ValueError("start_time must be a unix time in seconds (a finite number >= 0)")
    if db is None:
        make_private_dir(default_db_path().parent)
    store = Store(default_db_path() if db is None else db)
    try:
        clock = Clock(speed=speed, start=resume_time(store, start_time))
        chain = Chain(store, clock=clock)
        config = (
            WorkerConfig()
            if failure_share is None
            else WorkerConfig(failure_probability=failure_share)
        )
        worker = Worker(store, chain, clock, seed=seed, config=config)
        settings = FaultSettings()
        if faults:
            settings.configure(faults)
        ctx = SandboxContext(
            store=store,
            clock=clock,
            chain=chain,
            worker=worker,
            frps_domain=frps_domain,
            endpoint_boot_s=endpoint_boot_s,
            keepalive_s=keepalive_s,
            faults=settings,
        )
        hub = StreamHub()
        app = create_app(
            ctx,
            hub=hub,
            rpc_routes=make_rpc_routes(chain, ctx.counters),
            limits=limits,
            names=LocalNames(host, allow_remote=allow_remote),
        )
        server = BackgroundServer(app, host=host, port=port, limits=limits, counters=ctx.counters)
    except BaseException:
        store.close()
        raise
    ctx.api_url = server.url
    ctx.rpc_url = f"{server.url}/rpc"
    ctx.openapi["servers"] = [{"url": server.url}]
    worker.start()
    try:
        server.start()
    except BaseException:
        worker.stop()
        store.close()
        raise
    return SandboxHandle(ctx=ctx, server=server, hub=hub, worker=worker, chain=chain)


def serve_forever(
    *,
    port: int = 3001,
    host: str = "127.0.0.1",
    speed: float | None = DEMO_SPEED,
    db: str | os.PathLike[str] | None = None,
    seed: int = 0,
    allow_remote: bool = False,
) -> None:
    """Run the sandbox in the foreground (the ``nosana-nb sandbox`` command) until Ctrl-C.

    A non-loopback ``host`` needs ``allow_remote=True`` (see :func:`start`).

    Args:
        port: the TCP port.
        host: the address to bind.
        speed: simulated seconds per wall second; None freezes the clock.
        db: a SQLite path, ``":memory:"``, or None for the default file.
        seed: seed of the simulated GPU network.
        allow_remote: allow binding to a non-loopback address.
    """
    sandbox = start(port=port, host=host, speed=speed, db=db, seed=seed, allow_remote=allow_remote)
    if not is_loopback_host(host):
        print(f"WARNING: {_exposure_text(host)}.", file=sys.stderr)
    print(f"Nosana sandbox (network 'local')\n  API:  {sandbox.api_url}\n  RPC:  {sandbox.rpc_url}")
    print(f"  NOS mint: {sandbox.nos_mint}\n  DB:   {sandbox.store.path}\nPress Ctrl-C to stop.")
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sandbox.stop()
