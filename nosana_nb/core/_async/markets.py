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
    markets_query,
    markets_route,
    precheck,
    required_resources_route,
)
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.models import CostEstimate, Market, MarketRequiredResources
from nosana_nb.core.routes import asend
from nosana_nb.core.validation import Strategy


class AsyncMarkets:
    """``client.markets``: list markets, look one up, estimate a deployment's cost."""

    def __init__(self, http: AsyncHTTP, network: NetworkConfig) -> None:
        self._http = http
        self._network = network

    async def list(
        self,
        *,
        type: str | None = None,
        limit: int | None = None,
        filter_key: str | None = None,
        filter_value: str | None = None,
    ) -> list[Market]:
        """Markets, optionally of one ``type`` (PREMIUM, COMMUNITY, OTHER), the first ``limit``,
        or those whose field ``filter_key`` equals ``filter_value``."""
        query = markets_query(
            type=type, limit=limit, filter_key=filter_key, filter_value=filter_value
        )
        return await asend(self._http, markets_route(self._network, query))

    async def required_resources(self, address: str) -> MarketRequiredResources:
        """Images and remote resources a node must hold to join the market at ``address``."""
        return await asend(self._http, required_resources_route(self._network, address))

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
