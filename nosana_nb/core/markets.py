"""Markets (GPU pools and their prices), cost estimates and the vault funds pre-check.

The pricing arithmetic lives in ``_shared/markets.py``; ``AsyncMarkets`` is written once in
``_async/markets.py`` and ``Markets`` generated from it.
"""

from nosana_nb.core._async.markets import AsyncMarkets
from nosana_nb.core._shared.markets import (
    LAMPORTS_PER_SOL,
    SOL_LAMPORTS_PER_JOB,
    Balance,
    check_market_ref,
    check_vault_funds,
    estimate_cost,
    find_market,
    market_for_funds_check,
    markets_route,
    network_fee_base_units,
)
from nosana_nb.core._sync.markets import Markets

__all__ = [
    "LAMPORTS_PER_SOL",
    "SOL_LAMPORTS_PER_JOB",
    "AsyncMarkets",
    "Balance",
    "Markets",
    "check_market_ref",
    "check_vault_funds",
    "estimate_cost",
    "find_market",
    "market_for_funds_check",
    "markets_route",
    "network_fee_base_units",
]
