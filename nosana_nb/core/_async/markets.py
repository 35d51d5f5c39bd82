"""``client.markets`` for asyncio code: the single source of its sync twin.

Parsing, lookups and the cost arithmetic live in ``_shared/markets.py``.
``scripts/unasync.py`` turns this module into ``_sync/markets.py``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from nosana_nb.core._async.http import AsyncHTTP
from nosana_nb.core._shared.markets import (
    check_market_ref,
    estimate_cost,
    find_market,
    markets_route,
    precheck,
)
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.models import CostEstimate, Market
from nosana_nb.core.routes import asend
from nosana_nb.core.validation import Strategy


class AsyncMarkets:
    """``client.markets``: list markets, look one up, estimate a deployment's cost."""

    def __init__(self, http: AsyncHTTP, network: NetworkConfig) -> None:
        self._http = http
        self._network = network

    async def list(self) -> list[Market]:
        return await asend(self._http, markets_route(self._network))

    async def get(self, address_or_slug: str) -> Market:
        check_market_ref(address_or_slug)
        return find_market(await self.list(), address_or_slug)

    async def estimate(
        self,
        market: Market | str,
        *,
        replicas: int,
        timeout: int | float | Decimal | timedelta,  # noqa: ASYNC109 (the job timeout)
        strategy: Strategy | str | None = None,
    ) -> CostEstimate:
        precheck(market, replicas, timeout, strategy)
        chosen = market if isinstance(market, Market) else await self.get(market)
        return estimate_cost(chosen, replicas=replicas, timeout=timeout, strategy=strategy)

    def __repr__(self) -> str:
        return f"AsyncMarkets({self._network.markets_url!r})"
