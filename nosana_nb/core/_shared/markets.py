"""Markets (GPU pools and their prices), cost estimates and the vault funds pre-check.

Prices: the markets API gives ``nos_job_price_per_second`` in whole NOS per second; when a job
is listed, the chain escrows the market's ``job_price`` in NOS base units (1e-6 NOS) per second
for the job's whole timeout, and takes the network fee on top: ``network_fee_percentage``
(10 means 10 %) of that deposit, rounded down, not refunded; each extension pays it again.
The I/O-free half of ``Markets``/``AsyncMarkets`` (``_async/markets.py``).
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Protocol

from solders.account import Account
from solders.pubkey import Pubkey

from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.errors import (
    APIResponseValidationError,
    InsufficientFundsError,
    ValidationError,
)
from nosana_nb.core.market_account import (
    MarketAccount,
    decode_market_account,
)
from nosana_nb.core.models import (
    NOS_BASE_UNITS_PER_NOS,
    CostEstimate,
    Market,
    MarketRequiredResources,
)
from nosana_nb.core.routes import Route
from nosana_nb.core.validation import (
    Strategy,
    check_create_timeout,
    check_pubkey,
    check_replicas,
    check_strategy,
    timeout_minutes,
)

logger = logging.getLogger("nosana_nb.core.markets")

LAMPORTS_PER_SOL = 10**9
# SOL a vault needs per listed job: rent for the job and run accounts (~0.0044 SOL, refunded
# when the job closes) plus transaction fees. An estimate for the pre-check, not a price.
SOL_LAMPORTS_PER_JOB = 5_000_000
_SECONDS_PER_HOUR = 3600
_HUNDRED = Decimal(100)


class Balance(Protocol):
    """What the funds check reads from a vault balance (core.vaults.VaultBalance fits)."""

    @property
    def sol(self) -> Decimal: ...
    @property
    def nos(self) -> Decimal: ...
    @property
    def lamports(self) -> int: ...
    @property
    def nos_base_units(self) -> int: ...


def _amount(value: Decimal) -> str:
    """A Decimal for people: 0E-9 -> 0, 0.510000 -> 0.51."""
    return f"{value.normalize():f}"


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def network_fee_base_units(deposit: int, percentage: Decimal | int | None) -> int:
    """The network fee the chain takes on one deposit (a listing or an extension) of
    ``deposit`` NOS base units: ``deposit × percentage / 100`` rounded down, never refunded."""
    pct = Decimal(0) if percentage is None else Decimal(str(percentage))
    return int((Decimal(deposit) * pct / _HUNDRED).to_integral_value(rounding=ROUND_FLOOR))


def _parse_markets(data: Any) -> list[Market]:
    items = data.get("markets") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise ValueError('expected a JSON array of markets or {"markets": [...]}')
    return [Market.model_validate(item) for item in items]


MARKET_TYPES = ("PREMIUM", "COMMUNITY", "OTHER")


def markets_query(
    *,
    type: str | None = None,
    limit: int | None = None,
    filter_key: str | None = None,
    filter_value: str | None = None,
) -> dict[str, str] | None:
    """The list filters as the service spells them (``type``, ``limit``, ``filterKey``, ...)."""
    query: dict[str, str] = {}
    if type is not None:
        if type not in MARKET_TYPES:
            raise ValidationError(
                f"type must be one of {', '.join(MARKET_TYPES)}, got {type!r}", argument="type"
            )
        query["type"] = type
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError(
                f"limit must be a whole number >= 1, got {limit!r}", argument="limit"
            )
        query["limit"] = str(limit)
    if (filter_key is None) != (filter_value is None):
        raise ValidationError("filter_key and filter_value go together", argument="filter_key")
    if filter_key is not None:
        if not isinstance(filter_key, str) or not filter_key:
            raise ValidationError("filter_key must be a field name", argument="filter_key")
        query["filterKey"] = filter_key
        query["filterValue"] = str(filter_value)
    return query or None


def markets_route(
    network: NetworkConfig, query: dict[str, str] | None = None
) -> Route[list[Market]]:
    return Route(
        "GET", network.markets_url + "/", _parse_markets, params=query, requires_auth=False
    )


def market_route(network: NetworkConfig, address: str) -> Route[Market]:
    """``GET /api/markets/{id}/`` (the service's spelling ends with the slash)."""
    return Route(
        "GET",
        f"{network.markets_url}/{check_market_ref(address)}/",
        Market.model_validate,
        requires_auth=False,
    )


def required_resources_route(
    network: NetworkConfig, address: str
) -> Route[MarketRequiredResources]:
    return Route(
        "GET",
        f"{network.markets_url}/{check_market_ref(address)}/required-resources",
        MarketRequiredResources.model_validate,
        requires_auth=False,
    )


def check_market_addresses(addresses: Any) -> list[str]:
    """A non-empty list of market addresses (base58 public keys)."""
    if isinstance(addresses, str) or not isinstance(addresses, Sequence) or not addresses:
        raise ValidationError(
            "addresses must be a non-empty list of market addresses", argument="addresses"
        )
    return [check_pubkey(address, argument="addresses") for address in addresses]


def decode_market_accounts(
    addresses: Sequence[str], accounts: Sequence[Account | None]
) -> dict[str, MarketAccount | None]:
    """Market accounts by address; an account the jobs program layout does not fit is an
    APIResponseValidationError naming the address."""
    decoded: dict[str, MarketAccount | None] = {}
    for address, account in zip(addresses, accounts, strict=True):
        if account is None:
            decoded[address] = None
            continue
        try:
            decoded[address] = decode_market_account(address, bytes(account.data))
        except ValueError as exc:
            raise APIResponseValidationError(
                f"Unexpected market account: {exc}", method="POST", url="getMultipleAccounts"
            ) from None
    return decoded


def with_idle_nodes(
    markets: Sequence[Market], accounts: Mapping[str, MarketAccount | None]
) -> list[Market]:
    """Copies of ``markets`` whose ``idle_nodes`` is their account's node-queue length."""
    updated = []
    for market in markets:
        account = accounts.get(market.address)
        idle = None if account is None else account.idle_nodes
        updated.append(market.model_copy(update={"idle_nodes": idle}))
    return updated


_ADDRESS_MIN_LENGTH = 30  # addresses are 32-44 characters; 30 also catches a truncated one
_MARKET_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_market_ref(address_or_slug: Any) -> str:
    """A non-blank market address or slug, stripped."""
    if not isinstance(address_or_slug, str) or not address_or_slug.strip():
        raise ValidationError("market must be a market address or slug", argument="market")
    ref = address_or_slug.strip()
    if not _MARKET_REF.fullmatch(ref):
        raise ValidationError(
            f"market must be a base58 address or a slug such as 'nvidia-3060'; got {ref!r}",
            argument="market",
        )
    if len(ref) >= _ADDRESS_MIN_LENGTH and not is_market_address(ref):
        # as long as an address, so meant as one: a slug is short
        raise ValidationError(
            f"market {ref!r} is not a valid address (a base58 public key of 32 bytes)",
            argument="market",
        )
    return ref


def is_market_address(address_or_slug: str) -> bool:
    """Whether a market reference is a base58 public key (else it is taken as a slug)."""
    try:
        Pubkey.from_string(address_or_slug)
    except ValueError:
        return False
    return True


def find_market(markets: Sequence[Market], address_or_slug: str) -> Market:
    """The market whose address, or slug (case-insensitive), is ``address_or_slug``.

    An unknown one is refused naming the closest known slugs and addresses (a typo in a
    44-character address is otherwise hard to spot).
    """
    wanted = check_market_ref(address_or_slug)
    for market in markets:
        if market.address == wanted or (market.slug and market.slug.lower() == wanted.lower()):
            return market
    by_address = {m.address: m for m in markets}
    by_slug = {m.slug.lower(): m for m in markets if m.slug}
    close = difflib.get_close_matches(wanted.lower(), by_slug, n=3, cutoff=0.7)
    close_addresses = difflib.get_close_matches(wanted, by_address, n=3, cutoff=0.7)
    matches = [by_slug[c] for c in close] + [by_address[c] for c in close_addresses]
    closest = list(
        dict.fromkeys(f"{m.slug} ({m.address})" if m.slug else m.address for m in matches)
    )
    hint = f"; did you mean {' or '.join(closest[:3])}?" if closest else "."
    known = ", ".join(m.slug or m.address for m in markets[:20]) or "none"
    raise ValidationError(
        f"unknown market {wanted!r}{hint} Known markets: {known}", argument="market"
    )


def estimate_cost(
    market: Market,
    *,
    replicas: int,
    timeout: int | float | Decimal | timedelta,
    strategy: Strategy | str | None = None,
) -> CostEstimate:
    """Escrow for ``replicas`` jobs of ``timeout`` (seconds or timedelta) on ``market``."""
    count = check_replicas(replicas, minimum=1)
    minutes = timeout_minutes(timeout)
    checked_strategy = None if strategy is None else check_strategy(strategy)
    if checked_strategy is not None:
        check_create_timeout(minutes, checked_strategy)
    price = market.nos_job_price_per_second
    if price is None:
        raise ValidationError(
            f"market {market.label} publishes no nos_job_price_per_second; cannot estimate cost",
            argument="market",
        )
    seconds = minutes * 60
    fee_pct = market.network_fee_percentage or Decimal(0)
    deposit_per_job = _ceil(price * NOS_BASE_UNITS_PER_NOS * seconds)
    base_units = deposit_per_job * count
    fee_units = network_fee_base_units(deposit_per_job, fee_pct) * count
    with_fee = base_units + fee_units
    per_hour = price * count * _SECONDS_PER_HOUR
    fee_factor = 1 + fee_pct / _HUNDRED
    usd_per_hour = None
    usd_per_hour_with_fee = None
    usd = None
    usd_with_fee = None
    if market.usd_reward_per_hour is not None:
        usd_per_hour = market.usd_reward_per_hour * count
        usd_per_hour_with_fee = usd_per_hour * fee_factor
        hours = Decimal(seconds) / _SECONDS_PER_HOUR
        usd = usd_per_hour * hours
        usd_with_fee = usd_per_hour_with_fee * hours
    sol_lamports = SOL_LAMPORTS_PER_JOB * count
    return CostEstimate(
        market=market.address,
        replicas=count,
        timeout_seconds=seconds,
        strategy=checked_strategy,
        price_nos_per_second=price,
        network_fee_percentage=fee_pct,
        nos_base_units=base_units,
        fee_base_units=fee_units,
        nos_base_units_with_fee=with_fee,
        nos=Decimal(base_units) / NOS_BASE_UNITS_PER_NOS,
        nos_with_fee=Decimal(with_fee) / NOS_BASE_UNITS_PER_NOS,
        nos_per_hour=per_hour,
        nos_per_hour_with_fee=per_hour * fee_factor,
        usd_per_hour=usd_per_hour,
        usd_per_hour_with_fee=usd_per_hour_with_fee,
        usd=usd,
        usd_with_fee=usd_with_fee,
        sol_lamports=sol_lamports,
        sol=Decimal(sol_lamports) / LAMPORTS_PER_SOL,
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def check_vault_funds(
    estimate: CostEstimate, balance: Balance, vault_address: str, *, creating: bool = False
) -> None:
    """Raise InsufficientFundsError when the vault cannot cover the estimated escrow and SOL.

    ``creating``: the check runs before a create, when there is no deployment handle yet to
    top up through, so the message names the vault itself.
    """
    need_nos = Decimal(estimate.nos_base_units_with_fee) / NOS_BASE_UNITS_PER_NOS
    need_sol = estimate.sol
    short_nos = balance.nos_base_units < estimate.nos_base_units_with_fee
    short_sol = balance.lamports < estimate.sol_lamports
    if not (short_nos or short_sol):
        return
    problems = []
    if short_nos:
        problems.append(
            f"need {_amount(need_nos)} NOS ({_plural(estimate.replicas, 'replica')} × "
            f"{_amount(estimate.price_nos_per_second)} NOS/s × {estimate.timeout_seconds} s "
            f"+ {_amount(estimate.network_fee_percentage)}% fee), "
            f"vault {vault_address} has {_amount(balance.nos)} NOS"
        )
    if short_sol:
        problems.append(
            f"need about {_amount(need_sol)} SOL for rent and fees "
            f"({_plural(estimate.replicas, 'job')} × "
            f"{_amount(Decimal(SOL_LAMPORTS_PER_JOB) / LAMPORTS_PER_SOL)} SOL), "
            f"vault {vault_address} has {_amount(balance.sol)} SOL"
        )
    raise InsufficientFundsError(
        "Insufficient funds: "
        + "; ".join(problems)
        + (
            f"; top up the vault first with client.vaults.get({vault_address!r})"
            ".topup(sol=..., nos=...), or pass check_funds=False"
            if creating
            else "; top up with deployment.vault.topup(sol=..., nos=...) or pass check_funds=False"
        ),
        required_nos=need_nos,
        available_nos=balance.nos,
        required_sol=need_sol,
        available_sol=balance.sol,
    )


def market_for_funds_check(markets: Sequence[Market], address: str) -> Market | None:
    """The market to price a funds check with, or None (logged) when it cannot be priced."""
    for market in markets:
        if market.address == address:
            if market.nos_job_price_per_second is None:
                break
            return market
    logger.warning(
        "skipping the funds pre-check: no price known for market %s "
        "(pass check_funds=False to silence this)",
        address,
    )
    return None


def precheck(
    market: Market | str,
    replicas: int,
    timeout: int | float | Decimal | timedelta,
    strategy: Strategy | str | None,
) -> None:
    # validate every argument before the markets lookup goes out
    if not isinstance(market, Market):
        check_market_ref(market)
    check_replicas(replicas, minimum=1)
    minutes = timeout_minutes(timeout)
    if strategy is not None:
        check_create_timeout(minutes, check_strategy(strategy))
