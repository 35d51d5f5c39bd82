"""Readiness probes of deployments' endpoints: ``client.endpoints``, ``probe_endpoints``.

``AsyncEndpoints`` is written once in ``_async/endpoints.py`` and ``Endpoints`` generated from
it; arguments, URL safety, results and the sandbox tunnel live in ``_shared/endpoints.py``.
"""

from nosana_nb.core._async.endpoints import AsyncEndpoints
from nosana_nb.core._shared.endpoints import EndpointProbe, EndpointReadiness
from nosana_nb.core._sync.endpoints import Endpoints

__all__ = ["AsyncEndpoints", "EndpointProbe", "EndpointReadiness", "Endpoints"]
