"""Credits of API-key users (``client.credits``) and the credit funds pre-check.

``AsyncCredits`` is written once in ``_async/credits.py`` and ``Credits`` generated from it;
the route and the check live in ``_shared/credits.py``.
"""

from nosana_nb.core._async.credits import AsyncCredits
from nosana_nb.core._shared.credits import check_credits, credits_balance_route
from nosana_nb.core._sync.credits import Credits

__all__ = ["AsyncCredits", "Credits", "check_credits", "credits_balance_route"]
