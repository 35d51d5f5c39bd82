"""``client.jobs`` for asyncio code: the single source of its sync twin.

CID checks, routes and parsers live in ``_shared/jobs.py``.
``scripts/unasync.py`` turns this module into ``_sync/jobs.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nosana_nb.core._async.http import AsyncHTTP
from nosana_nb.core._shared.jobs import job_definition_route, job_results_route, pin_route
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.results import JobResults
from nosana_nb.core.routes import asend


class AsyncJobs:
    """``client.jobs``: job definitions on IPFS.

    ``pin_http`` carries the pinning JWT (if any) and is used for nothing else; ``gateway_http``
    is unauthenticated, so no credential reaches the public gateway.
    """

    def __init__(
        self, gateway_http: AsyncHTTP, pin_http: AsyncHTTP, network: NetworkConfig
    ) -> None:
        self._gateway = gateway_http
        self._pin = pin_http
        self._network = network

    async def pin_job_definition(self, job_definition: Mapping[str, Any]) -> str:
        """Validate and pin a job definition to IPFS.

        Args:
            job_definition: the job definition.

        Returns:
            Its IPFS content id (CID).
        """
        return await asend(self._pin, pin_route(self._network, job_definition))

    async def get_job_definition(self, cid: str) -> dict[str, Any]:
        """Fetch a job definition from the IPFS gateway (not validated: inspect anything).

        Args:
            cid: its IPFS content id.

        Returns:
            The job definition as JSON data.
        """
        return await asend(self._gateway, job_definition_route(self._network, cid))

    async def get_job_results(self, cid: str) -> JobResults:
        """A job's results document from the IPFS gateway (the hash a service answered).

        Args:
            cid: the results' IPFS content id.

        Returns:
            The parsed results.
        """
        return await asend(self._gateway, job_results_route(self._network, cid))

    def __repr__(self) -> str:
        return f"AsyncJobs(gateway={self._network.ipfs_gateway!r})"
