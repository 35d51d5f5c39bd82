"""``client.credits`` for asyncio code: the single source of its sync twin.

API-key users pay in credits (USD): ``GET /api/credits/balance`` on the dashboard API (the host
of ``markets_url``) answers assigned, reserved and settled credits; available is
assigned - reserved - settled. ``scripts/unasync.py`` turns this module into
``_sync/credits.py``.
"""

from __future__ import annotations

from datetime import timedelta

from nosana_nb.core._async.http import AsyncHTTP
from nosana_nb.core._shared.credits import (
    credit_job_route,
    credits_balance_route,
    extend_job_route,
    list_job_route,
    stop_job_route,
)
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.models import (
    CreditJob,
    CreditJobExtended,
    CreditJobListed,
    CreditJobStopped,
    CreditsBalance,
)
from nosana_nb.core.routes import asend


class AsyncCredits:
    """``client.credits``: the caller's credit balance, and single jobs paid with credits."""

    def __init__(self, http: AsyncHTTP, network: NetworkConfig) -> None:
        self._http = http
        self._network = network

    async def balance(self) -> CreditsBalance:
        """Assigned, reserved and settled credits in USD; ``.available`` is what is left."""
        return await asend(self._http, credits_balance_route(self._network))

    async def list_job(
        self,
        *,
        ipfs_hash: str,
        market: str,
        timeout: int | timedelta | None = None,  # noqa: ASYNC109 (the job's on-chain timeout)
        node: str | None = None,
    ) -> CreditJobListed:
        """Post one job (its definition pinned at ``ipfs_hash``) on ``market``, paid with
        credits; ``timeout`` in seconds or a timedelta, ``node`` to ask for one node."""
        route = list_job_route(
            self._network, ipfs_hash=ipfs_hash, market=market, timeout=timeout, node=node
        )
        return await asend(self._http, route)

    async def get_job(self, address: str) -> CreditJob:
        """A credit-paid job as the chain and the service see it."""
        return await asend(self._http, credit_job_route(self._network, address))

    async def extend_job(self, address: str, seconds: int | timedelta) -> CreditJobExtended:
        """Give the job ``seconds`` more, paid with credits."""
        return await asend(self._http, extend_job_route(self._network, address, seconds))

    async def stop_job(self, address: str) -> CreditJobStopped:
        """Stop the job (a job not started yet is delisted)."""
        return await asend(self._http, stop_job_route(self._network, address))

    def __repr__(self) -> str:
        return f"AsyncCredits({self._network.markets_url!r})"
