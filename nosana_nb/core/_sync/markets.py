# generated from _async/markets.py by scripts/unasync.py — do not edit
"""``client.markets`` of the sync client.

Generated from ``_async/markets.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from nosana_nb.core._shared.markets import (
    check_market_ref,
    estimate_cost,
    find_market,
    markets_query,
    markets_route,
    precheck,
    required_resources_route,
)
from nosana_nb.core._sync.http import SyncHTTP
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.models import CostEstimate, Market, MarketRequiredResources
from nosana_nb.core.routes import send
from nosana_nb.core.validation import Strategy


class Markets:
    """``client.markets``: list markets, look one up, estimate a deployment's cost."""

    def __init__(self, http: SyncHTTP, network: NetworkConfig) -> None:
        self._http = http
        self._network = network

    def list(
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
        return send(self._http, markets_route(self._network, query))

    def required_resources(self, address: str) -> MarketRequiredResources:
        """Images and remote resources a node must hold to join the market at ``address``."""
        return send(self._http, required_resources_route(self._network, address))

    def get(self, address_or_slug: str) -> Market:
        check_market_ref(address_or_slug)
        return find_market(self.list(), address_or_slug)

    def estimate(
        self,
        market: Market | str,
        *,
        replicas: int,
        timeout: int | float | Decimal | timedelta,
        strategy: Strategy | str | None = None,
    ) -> CostEstimate:
        precheck(market, replicas, timeout, strategy)
        chosen = market if isinstance(market, Market) else self.get(market)
        return estimate_cost(chosen, replicas=replicas, timeout=timeout, strategy=strategy)

    def __repr__(self) -> str:
        return f"Markets({self._network.markets_url!r})"
