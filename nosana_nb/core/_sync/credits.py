# generated from _async/credits.py by scripts/unasync.py — do not edit
"""``client.credits`` of the sync client: an API-key user's credits.

Generated from ``_async/credits.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""

from __future__ import annotations

from nosana_nb.core._shared.credits import credits_balance_route
from nosana_nb.core._sync.http import SyncHTTP
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.models import CreditsBalance
from nosana_nb.core.routes import send


class Credits:
    """``client.credits``: the caller's credit balance."""

    def __init__(self, http: SyncHTTP, network: NetworkConfig) -> None:
        self._http = http
        self._network = network

    def balance(self) -> CreditsBalance:
        """Assigned, reserved and settled credits in USD; ``.available`` is what is left."""
        return send(self._http, credits_balance_route(self._network))

    def __repr__(self) -> str:
        return f"Credits({self._network.markets_url!r})"
