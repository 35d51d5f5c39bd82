"""Credits: the route, and the funds pre-check of API-key deployments (I/O-free)."""

from __future__ import annotations

from decimal import Decimal

from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.errors import InsufficientFundsError
from nosana_nb.core.models import CostEstimate, CreditsBalance
from nosana_nb.core.routes import Route

_MARKETS_SUFFIX = "/markets"


def dashboard_api_url(network: NetworkConfig) -> str:
    """The dashboard API's ``/api`` root, where markets and credits live."""
    url = network.markets_url.rstrip("/")
    return url[: -len(_MARKETS_SUFFIX)] if url.endswith(_MARKETS_SUFFIX) else url


def credits_balance_route(network: NetworkConfig) -> Route[CreditsBalance]:
    return Route(
        "GET", f"{dashboard_api_url(network)}/credits/balance", CreditsBalance.model_validate
    )


def check_credits(estimate: CostEstimate, balance: CreditsBalance) -> None:
    """Raise InsufficientFundsError when the credits cannot cover the estimate's USD cost
    (fee included), as the service reserves it when the jobs are listed."""
    required = estimate.usd_with_fee
    if required is None or balance.available >= required:
        return
    shown = required.quantize(Decimal("0.01"))
    raise InsufficientFundsError(
        f"need ${shown} of credits ({estimate.replicas} replicas × "
        f"{estimate.timeout_seconds} s with the {estimate.network_fee_percentage}% fee), "
        f"${balance.available.quantize(Decimal('0.01'))} available "
        f"(assigned {balance.assigned_credits} - reserved {balance.reserved_credits} - "
        f"settled {balance.settled_credits}); add credits or pass check_funds=False",
        required_credits=required,
        available_credits=balance.available,
    )
