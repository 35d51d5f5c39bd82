# generated from _async/credits.py by scripts/unasync.py — do not edit
"""``client.credits`` of the sync client: an API-key user's credits.

Generated from ``_async/credits.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""

from __future__ import annotations

from datetime import timedelta

from nosana_nb.core._shared.credits import (
    credit_job_route,
    credits_balance_route,
    extend_job_route,
    list_job_route,
    stop_job_route,
)
from nosana_nb.core._sync.http import SyncHTTP
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.models import (
    CreditJob,
    CreditJobExtended,
    CreditJobListed,
    CreditJobStopped,
    CreditsBalance,
)
from nosana_nb.core.routes import send


class Credits:
    """``client.credits``: the caller's credit balance, and single jobs paid with credits."""

    def __init__(self, http: SyncHTTP, network: NetworkConfig) -> None:
        self._http = http
        self._network = network

    def balance(self) -> CreditsBalance:
        """Assigned, reserved and settled credits in USD; ``.available`` is what is left."""
        return send(self._http, credits_balance_route(self._network))

    def list_job(
        self,
        *,
        ipfs_hash: str,
        market: str,
        timeout: int | timedelta | None = None,
        node: str | None = None,
    ) -> CreditJobListed:
        """Post one job (its definition pinned at ``ipfs_hash``) on ``market``, paid with
        credits; ``timeout`` in seconds or a timedelta, ``node`` to ask for one node."""
        route = list_job_route(
            self._network, ipfs_hash=ipfs_hash, market=market, timeout=timeout, node=node
        )
        return send(self._http, route)

    def get_job(self, address: str) -> CreditJob:
        """A credit-paid job as the chain and the service see it."""
        return send(self._http, credit_job_route(self._network, address))

    def extend_job(self, address: str, seconds: int | timedelta) -> CreditJobExtended:
        """Give the job ``seconds`` more, paid with credits."""
        return send(self._http, extend_job_route(self._network, address, seconds))

    def stop_job(self, address: str) -> CreditJobStopped:
        """Stop the job (a job not started yet is delisted)."""
        return send(self._http, stop_job_route(self._network, address))

    def __repr__(self) -> str:
        return f"Credits({self._network.markets_url!r})"
