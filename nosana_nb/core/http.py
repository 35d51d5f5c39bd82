"""The HTTP layer under every client: SyncHTTP and AsyncHTTP, with their shared helpers.

Each shell sends requests - through its own httpx client or an injected one - inside the retry
loop of :mod:`nosana_nb.core.retry_policy`, which decides what is sent again (the policy's
constants are re-exported here for older imports). ``AsyncHTTP`` is written once in
``_async/http.py``; ``SyncHTTP`` is generated from it into ``_sync/http.py``; building and
parsing live in ``_shared/http.py``.
"""

from nosana_nb.core._async.http import AsyncHTTP
from nosana_nb.core._shared.http import NOT_GIVEN, Expect, NotGiven, TimeoutArg
from nosana_nb.core._sync.http import SyncHTTP
from nosana_nb.core.retry_policy import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    GENERIC_500_TEXTS,
    IDEMPOTENT_METHODS,
    MAX_BACKOFF_SECONDS,
    MAX_TOTAL_BACKOFF_SECONDS,
    RETRY_STATUSES,
)

RETRY_METHODS = IDEMPOTENT_METHODS

__all__ = [
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "GENERIC_500_TEXTS",
    "MAX_BACKOFF_SECONDS",
    "MAX_TOTAL_BACKOFF_SECONDS",
    "NOT_GIVEN",
    "RETRY_METHODS",
    "RETRY_STATUSES",
    "AsyncHTTP",
    "Expect",
    "NotGiven",
    "SyncHTTP",
    "TimeoutArg",
]
