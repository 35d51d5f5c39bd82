"""Credits: the route, and the funds pre-check of API-key deployments (I/O-free)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from nosana_nb.core._shared.jobs import check_cid
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.errors import InsufficientFundsError, ValidationError
from nosana_nb.core.models import (
    CostEstimate,
    CreditJob,
    CreditJobExtended,
    CreditJobListed,
    CreditJobStopped,
    CreditsBalance,
)
from nosana_nb.core.routes import Route
from nosana_nb.core.validation import check_path_id, check_pubkey

_MARKETS_SUFFIX = "/markets"


def dashboard_api_url(network: NetworkConfig) -> str:
    """The dashboard API's ``/api`` root, where markets and credits live."""
    url = network.markets_url.rstrip("/")
    return url[: -len(_MARKETS_SUFFIX)] if url.endswith(_MARKETS_SUFFIX) else url


def credits_balance_route(network: NetworkConfig) -> Route[CreditsBalance]:
    return Route(
        "GET", f"{dashboard_api_url(network)}/credits/balance", CreditsBalance.model_validate
    )


def _seconds(value: Any, argument: str) -> int:
    """Whole seconds from an int or a timedelta (the jobs API counts on-chain seconds)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        raise ValidationError(
            f"{argument} must be whole seconds (int) or a timedelta", argument=argument
        )
    if seconds <= 0 or seconds != int(seconds):
        raise ValidationError(
            f"{argument} must be a positive whole number of seconds", argument=argument
        )
    return int(seconds)


def list_job_route(
    network: NetworkConfig,
    *,
    ipfs_hash: str,
    market: str,
    timeout: int | timedelta | None = None,
    node: str | None = None,
) -> Route[CreditJobListed]:
    """``POST /api/jobs/list``: post a job paid with credits."""
    body: dict[str, Any] = {
        "ipfsHash": check_cid(ipfs_hash, argument="ipfs_hash"),
        "market": check_pubkey(market, argument="market"),
    }
    if timeout is not None:
        body["timeout"] = _seconds(timeout, "timeout")
    if node is not None:
        body["node"] = check_pubkey(node, argument="node")
    url = f"{dashboard_api_url(network)}/jobs/list"
    return Route("POST", url, CreditJobListed.model_validate, json=body)


def credit_job_route(network: NetworkConfig, address: str) -> Route[CreditJob]:
    job = check_path_id(address, argument="address")
    return Route("GET", f"{dashboard_api_url(network)}/jobs/{job}", CreditJob.model_validate)


def extend_job_route(
    network: NetworkConfig, address: str, seconds: int | timedelta
) -> Route[CreditJobExtended]:
    job = check_path_id(address, argument="address")
    url = f"{dashboard_api_url(network)}/jobs/{job}/extend"
    body = {"seconds": _seconds(seconds, "seconds")}
    return Route("POST", url, CreditJobExtended.model_validate, json=body)


def stop_job_route(network: NetworkConfig, address: str) -> Route[CreditJobStopped]:
    job = check_path_id(address, argument="address")
    url = f"{dashboard_api_url(network)}/jobs/{job}/stop"
    return Route("POST", url, CreditJobStopped.model_validate)


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
