# generated from _async/jobs.py by scripts/unasync.py — do not edit
"""``client.jobs`` of the sync client: job definitions on IPFS.

Generated from ``_async/jobs.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nosana_nb.core._shared.jobs import job_definition_route, job_results_route, pin_route
from nosana_nb.core._sync.http import SyncHTTP
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.results import JobResults
from nosana_nb.core.routes import send


class Jobs:
    """``client.jobs``: job definitions on IPFS.

    ``pin_http`` carries the pinning JWT (if any) and is used for nothing else; ``gateway_http``
    is unauthenticated, so no credential reaches the public gateway.
    """

    def __init__(self, gateway_http: SyncHTTP, pin_http: SyncHTTP, network: NetworkConfig) -> None:
        self._gateway = gateway_http
        self._pin = pin_http
        self._network = network

    def pin_job_definition(self, job_definition: Mapping[str, Any]) -> str:
        """Validate and pin a job definition to IPFS.

        Args:
            job_definition: the job definition.

        Returns:
            Its IPFS content id (CID).
        """
        return send(self._pin, pin_route(self._network, job_definition))

    def get_job_definition(self, cid: str) -> dict[str, Any]:
        """Fetch a job definition from the IPFS gateway (not validated: inspect anything).

        Args:
            cid: its IPFS content id.

        Returns:
            The job definition as JSON data.
        """
        return send(self._gateway, job_definition_route(self._network, cid))

    def get_job_results(self, cid: str) -> JobResults:
        """A job's results document from the IPFS gateway (the hash a service answered).

        Args:
            cid: the results' IPFS content id.

        Returns:
            The parsed results.
        """
        return send(self._gateway, job_results_route(self._network, cid))

    def __repr__(self) -> str:
        return f"Jobs(gateway={self._network.ipfs_gateway!r})"
