# generated from _async/markets.py by scripts/unasync.py — do not edit
"""``client.markets`` of the sync client.

Generated from ``_async/markets.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from nosana_nb.core._shared.markets import (
    check_market_addresses,
    check_market_ref,
    decode_market_accounts,
    estimate_cost,
    find_market,
    markets_query,
    markets_route,
    precheck,
    required_resources_route,
    with_idle_nodes,
)
from nosana_nb.core._shared.solana_rpc import MAX_ACCOUNTS_PER_CALL
from nosana_nb.core._sync.http import SyncHTTP
from nosana_nb.core._sync.solana_rpc import SolanaRPC
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.market_account import MarketAccount
from nosana_nb.core.models import CostEstimate, Market, MarketRequiredResources
from nosana_nb.core.routes import send
from nosana_nb.core.validation import Strategy


class Markets:
    """``client.markets``: list markets, look one up, estimate a deployment's cost."""

    def __init__(
        self, http: SyncHTTP, network: NetworkConfig, rpc: SolanaRPC | None = None
    ) -> None:
        self._http = http
        self._network = network
        self._rpc = rpc

    def accounts(self, addresses: Sequence[str]) -> dict[str, MarketAccount | None]:
        """The on-chain market accounts of ``addresses`` (None where none exists), read with
        ``getMultipleAccounts``: price, timeouts and the queue (``idle_nodes``).

        Args:
            addresses: market addresses (base58).

        Returns:
            Each address with its decoded account, or None where none exists.

        Raises:
            ValidationError: a bad address, or this client has no Solana RPC.
        """
        keys = check_market_addresses(addresses)
        if self._rpc is None:
            raise ValidationError(
                "this Markets has no Solana RPC to read market accounts with", argument="rpc"
            )
        found: dict[str, MarketAccount | None] = {}
        for start in range(0, len(keys), MAX_ACCOUNTS_PER_CALL):
            batch = keys[start : start + MAX_ACCOUNTS_PER_CALL]
            accounts = self._rpc.get_multiple_accounts(batch)
            found.update(decode_market_accounts(batch, accounts))
        return found

    def with_idle_nodes(self, markets: Sequence[Market]) -> list[Market]:
        """Copies of ``markets`` with ``idle_nodes`` read from their market accounts' node
        queues, the way the dashboard counts available nodes (None where no account exists).

        Args:
            markets: the markets to count idle nodes for.

        Returns:
            The markets, each with ``idle_nodes`` set.
        """
        if not markets:
            return []
        accounts = self.accounts([m.address for m in markets])
        return with_idle_nodes(markets, accounts)

    def list(
        self,
        *,
        type: str | None = None,
        limit: int | None = None,
        filter_key: str | None = None,
        filter_value: str | None = None,
    ) -> list[Market]:
        """Markets, optionally of one ``type`` (PREMIUM, COMMUNITY, OTHER), the first ``limit``,
        or those whose field ``filter_key`` equals ``filter_value``.

        Args:
            type: PREMIUM, COMMUNITY or OTHER.
            limit: at most this many markets.
            filter_key: a market field to filter on.
            filter_value: the value ``filter_key`` must equal.

        Returns:
            The markets, as the markets API lists them.
        """
        query = markets_query(
            type=type, limit=limit, filter_key=filter_key, filter_value=filter_value
        )
        return send(self._http, markets_route(self._network, query))

    def required_resources(self, address: str) -> MarketRequiredResources:
        """Images and remote resources a node must hold to join the market at ``address``.

        Args:
            address: the market's address.

        Returns:
            The market's required resources.
        """
        return send(self._http, required_resources_route(self._network, address))

    def get(self, address_or_slug: str) -> Market:
        """One market, by address or slug (``"nvidia-3060"``).

        Args:
            address_or_slug: the market's address or slug.

        Returns:
            The market.

        Raises:
            ValidationError: no market has that address or slug (the closest are named).
        """
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
        """What running ``replicas`` jobs for ``timeout`` on ``market`` would cost, fee included.

        Args:
            market: a Market, or a market address or slug.
            replicas: how many jobs at once.
            timeout: each job's timeout, seconds or ``timedelta`` (whole minutes).
            strategy: the strategy, when it changes what is escrowed.

        Returns:
            The estimate in NOS base units, NOS, USD and SOL (rent and fees).
        """
        precheck(market, replicas, timeout, strategy)
        chosen = market if isinstance(market, Market) else self.get(market)
        return estimate_cost(chosen, replicas=replicas, timeout=timeout, strategy=strategy)

    def __repr__(self) -> str:
        return f"Markets({self._network.markets_url!r})"
