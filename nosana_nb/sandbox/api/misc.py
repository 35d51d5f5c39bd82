"""Open routes (/, health, stats, docs, markets, IPFS) and the sandbox admin API (/_sandbox)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from solders.pubkey import Pubkey

from nosana_nb.sandbox.chain.errors import ChainError
from nosana_nb.sandbox.context import SandboxContext
from nosana_nb.sandbox.http.faults import FaultConfigError
from nosana_nb.sandbox.http.routing import ApiError, Call, Reply
from nosana_nb.sandbox.worker.markets import (
    MARKETS,
    find_market,
    market_to_wire,
    required_resources_to_wire,
)

from . import ipfs

LAMPORTS_PER_SOL = 10**9
NOS_BASE_UNITS = 10**6
FAUCET_MAX_SOL = 10_000
FAUCET_MAX_NOS = 10_000_000
"""Per faucet call: far beyond any notebook's needs, and 100,000 calls short of draining
LiteSVM's pool (10^9 SOL) or the NOS mint's u64 supply."""


def root(ctx: SandboxContext, call: Call) -> Reply:
    return Reply(None, 200)


def health(ctx: SandboxContext, call: Call) -> Reply:
    return Reply({"status": "healthy", "mode": "all", "timestamp": ctx.clock.now_iso()})


def stats(ctx: SandboxContext, call: Call) -> Reply:
    return Reply(ctx.worker.stats())


def documentation(ctx: SandboxContext, call: Call) -> Reply:
    return Reply(ctx.openapi)


MARKET_TYPES = ("PREMIUM", "COMMUNITY", "OTHER")


def _market_error(message: str) -> Reply:
    """The markets API's error answer: 500 ``{name, message}`` (its only declared error)."""
    return Reply({"name": "Error", "message": message}, 500)


def _markets_wire(ctx: SandboxContext) -> list[dict[str, Any]]:
    return [market_to_wire(m, nodes=list(ctx.worker.market_nodes(m.address))) for m in MARKETS]


def _matches(value: Any, wanted: str) -> bool:
    """``filterValue`` against a field: strings, numbers and booleans compare as text."""
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    if isinstance(value, list):
        return any(_matches(item, wanted) for item in value)
    return value is not None and str(value) == wanted


def list_markets(ctx: SandboxContext, call: Call) -> Reply:
    """``GET /api/markets/``, filtered by ``type``, ``filterKey``/``filterValue`` and ``limit``."""
    items = _markets_wire(ctx)
    market_type = call.query.get("type")
    if market_type not in (None, ""):
        if market_type not in MARKET_TYPES:
            return _market_error(f"type must be one of {', '.join(MARKET_TYPES)}")
        items = [m for m in items if m["type"] == market_type]
    key, wanted = call.query.get("filterKey"), call.query.get("filterValue")
    if key not in (None, "") and wanted is not None:
        items = [m for m in items if _matches(m.get(str(key)), str(wanted))]
    limit = call.query.get("limit")
    if limit not in (None, ""):
        if not str(limit).isdigit():
            return _market_error("limit must be a whole number")
        items = items[: int(str(limit))]
    return Reply(items)


def get_market(ctx: SandboxContext, call: Call) -> Reply:
    spec = find_market(call.params["market"])
    if spec is None:
        return _market_error(f"Market {call.params['market']} not found")
    return Reply(market_to_wire(spec, nodes=list(ctx.worker.market_nodes(spec.address))))


def market_required_resources(ctx: SandboxContext, call: Call) -> Reply:
    spec = find_market(call.params["market"])
    if spec is None:
        return _market_error(f"Market {call.params['market']} not found")
    return Reply(required_resources_to_wire(spec))


def pin_json(ctx: SandboxContext, call: Call) -> Reply:
    body = call.body
    content = body.get("pinataContent", body) if isinstance(body, dict) else body
    if not isinstance(content, dict | list):
        raise ApiError(400, 'Expected a JSON object, or {"pinataContent": <object>}.')
    return Reply(ipfs.pin_response(ctx.store, body, timestamp=ctx.clock.now_iso()))


def get_ipfs(ctx: SandboxContext, call: Call) -> Reply:
    content = ipfs.fetch(ctx.store, call.params["cid"])
    if content is None:
        raise ApiError(404, "Not found.")
    return Reply(content)


# -- admin ----------------------------------------------------------------------------------
def _amount(value: Any, name: str, scale: int, maximum: int) -> int:
    """Whole-unit decimal (string or number) -> exact base units; refuses anything inexact
    and anything above ``maximum`` whole units."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ApiError(400, f"{name} must be a decimal string or a number")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ApiError(400, f"{name} must be a decimal string or a number") from None
    if not amount.is_finite() or amount < 0:
        raise ApiError(400, f"{name} must be a finite amount >= 0")
    if amount > maximum:
        raise ApiError(400, f"{name} must be at most {maximum} per faucet call")
    units = amount * scale
    if units != units.to_integral_value():
        raise ApiError(400, f"{name} has more decimals than the token allows")
    return int(units)


def balances(ctx: SandboxContext, wallet: str) -> dict[str, Any]:
    lamports = ctx.chain.sol_balance(wallet)
    nos = ctx.chain.nos_balance(wallet)
    return {
        "lamports": lamports,
        "sol": str(Decimal(lamports) / LAMPORTS_PER_SOL),
        "nos_base_units": nos,
        "nos": str(Decimal(nos) / NOS_BASE_UNITS),
    }


def faucet(ctx: SandboxContext, call: Call) -> Reply:
    body = call.body if isinstance(call.body, dict) else {}
    wallet = body.get("wallet")
    try:
        wallet = str(Pubkey.from_string(wallet)) if isinstance(wallet, str) else None
    except ValueError:
        wallet = None
    if wallet is None:
        raise ApiError(400, "wallet must be a base58 public key")
    lamports = _amount(body.get("sol"), "sol", LAMPORTS_PER_SOL, FAUCET_MAX_SOL)
    nos = _amount(body.get("nos"), "nos", NOS_BASE_UNITS, FAUCET_MAX_NOS)
    try:
        sol_sig = ctx.chain.airdrop(wallet, lamports) if lamports else None
        nos_sig = ctx.chain.mint_nos(wallet, nos) if nos else None
    except ChainError as exc:
        raise ApiError(500, exc.message) from None
    return Reply(
        {
            "wallet": wallet,
            "signatures": {"sol": sol_sig, "nos": nos_sig},
            "balances": balances(ctx, wallet),
        }
    )


def clock_info(ctx: SandboxContext) -> dict[str, Any]:
    return {
        "now": ctx.clock.now_iso(),
        "now_ts": ctx.clock.now(),
        "speed": ctx.clock.speed,
        "manual": ctx.clock.manual_mode,
    }


def advance(ctx: SandboxContext, call: Call) -> Reply:
    seconds = call.body.get("seconds") if isinstance(call.body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise ApiError(400, "seconds must be a number >= 0")
    if seconds == float("inf"):
        raise ApiError(400, "seconds must be finite")
    ctx.worker.advance(float(seconds))
    return Reply(clock_info(ctx))


def get_clock(ctx: SandboxContext, call: Call) -> Reply:
    return Reply(clock_info(ctx))


def set_faults(ctx: SandboxContext, call: Call) -> Reply:
    if not isinstance(call.body, dict):
        raise ApiError(400, "expected a JSON object of fault settings")
    try:
        return Reply(ctx.faults.configure(call.body))
    except FaultConfigError as exc:
        raise ApiError(400, str(exc)) from None


def sandbox_stats(ctx: SandboxContext, call: Call) -> Reply:
    """What the edge refused and what no handler caught (``unhandled_errors`` and the worker's
    ``failed_passes`` must stay 0), and what ``requestAirdrop`` has given away."""
    airdrops = ctx.chain.public_airdrops()
    return Reply(
        {
            "counters": ctx.counters.snapshot(),
            "worker": {"failed_passes": ctx.worker.failed_passes},
            "public_airdrops": {
                "granted_lamports": airdrops.granted_lamports,
                "pool_left_lamports": airdrops.pool_left_lamports,
                "refused": airdrops.refused,
            },
        }
    )


def get_faults(ctx: SandboxContext, call: Call) -> Reply:
    return Reply(ctx.faults.snapshot())


def info(ctx: SandboxContext, call: Call) -> Reply:
    return Reply(
        {
            "network": "local",
            "api_url": ctx.api_url,
            "rpc_url": ctx.rpc_url,
            "nos_mint": str(ctx.chain.nos_mint),
            "frps_domain": ctx.frps_domain,
            "markets": _markets_wire(ctx),
            "clock": clock_info(ctx),
        }
    )
