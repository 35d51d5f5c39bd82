"""``client.credits`` for asyncio code: the single source of its sync twin.

API-key users pay in credits (USD): ``GET /api/credits/balance`` on the dashboard API (the host
of ``markets_url``) answers assigned, reserved and settled credits; available is
assigned - reserved - settled. ``scripts/unasync.py`` turns this module into
``_sync/credits.py``.
"""

from __future__ import annotations

from nosana_nb.core._async.http import AsyncHTTP
from nosana_nb.core._shared.credits import credits_balance_route
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.models import CreditsBalance
from nosana_nb.core.routes import asend


class AsyncCredits:
    """``client.credits``: the caller's credit balance."""

    def __init__(self, http: AsyncHTTP, network: NetworkConfig) -> None:
        self._http = http
        self._network = network

    async def balance(self) -> CreditsBalance:
        """Assigned, reserved and settled credits in USD; ``.available`` is what is left."""
        return await asend(self._http, credits_balance_route(self._network))

    def __repr__(self) -> str:
        return f"AsyncCredits({self._network.markets_url!r})"
