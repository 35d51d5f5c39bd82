"""The thin client-facing paths: fetch wire objects through a client, nothing else.

Kept apart from the pure builders so those can be tested with synthetic records; these
functions only call the documented client methods and return whatever iterable they give.
"""

from __future__ import annotations

import logging
from typing import Any

from nosana_nb.core.errors import NosanaError, ValidationError

logger = logging.getLogger("nosana_nb.frames")


def deployment_id(deployment: Any) -> str:
    """The id of a deployment given as an id string, a model, a resource or a wire dict."""
    if isinstance(deployment, str) and deployment.strip():
        return deployment.strip()
    if isinstance(deployment, dict) and isinstance(deployment.get("id"), str):
        return str(deployment["id"])
    for holder in (deployment, getattr(deployment, "state", None)):
        value = getattr(holder, "id", None)
        if isinstance(value, str) and value:
            return value
    raise ValidationError(
        f"deployment must be a deployment id or object, got {type(deployment).__name__}",
        argument="deployment",
    )


def deployment_resource(source: Any, deployment: Any) -> Any:
    """The Deployment resource (with get_jobs() etc.) for ``deployment``, looked up if needed."""
    if deployment is None:
        raise ValidationError(
            "deployment is required when fetching through a client", argument="deployment"
        )
    if hasattr(deployment, "get_jobs"):
        return deployment
    return source.deployments.get(deployment_id(deployment))


PAGE_LIMIT = 100
"""The largest page the service allows: fewest round trips when reading whole histories."""


def fetch_children(source: Any, deployment: Any, method: str) -> Any:
    """``get_jobs()`` / ``get_events()`` / ... of a deployment resource (given or looked up)."""
    if callable(getattr(source, method, None)):
        return getattr(source, method)(limit=PAGE_LIMIT)
    return getattr(deployment_resource(source, deployment), method)(limit=PAGE_LIMIT)


def fetch_deployments(client: Any) -> Any:
    return client.deployments.list(limit=PAGE_LIMIT)


def fetch_markets(client: Any) -> Any:
    """The markets, with idle nodes read from their market accounts on chain (the dashboard's
    "available nodes"); when the chain cannot be read the column stays empty, logged."""
    markets = client.markets.list()
    try:
        return client.markets.with_idle_nodes(markets)
    except NosanaError as exc:
        logger.warning("markets frame without idle nodes: %s", exc)
        return markets
