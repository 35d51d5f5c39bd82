"""Endpoint probes as a frame: one row per probe, the same columns with zero or many rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from nosana_nb.core.endpoints import EndpointProbe, EndpointReadiness
from nosana_nb.core.errors import ValidationError
from nosana_nb.frames._convert import schema_frame


def _probes(source: Any) -> list[EndpointProbe]:
    if isinstance(source, EndpointProbe):
        return [source]
    if isinstance(source, EndpointReadiness):
        return list(source.probes)
    if isinstance(source, Iterable) and not isinstance(source, str | bytes | pd.DataFrame):
        found: list[EndpointProbe] = []
        for item in source:
            if isinstance(item, EndpointReadiness):
                found.extend(item.probes)
            elif isinstance(item, EndpointProbe):
                found.append(item)
            else:
                raise ValidationError(
                    f"probes: expected EndpointProbe results, got a {type(item).__name__}",
                    argument="probes",
                )
        return found
    raise ValidationError(
        "probes: expected what client.endpoints.probe(...) returned (EndpointProbe results), "
        f"got {type(source).__name__}",
        argument="probes",
    )


def endpoints_dataframe(
    probes: EndpointProbe | EndpointReadiness | Iterable[EndpointProbe | EndpointReadiness],
) -> pd.DataFrame:
    """Endpoint probes as a frame, one row per probe (the ``endpoint_probes`` schema).

    Args:
        probes: what ``client.endpoints.probe(...)`` or ``deployment.probe_endpoints()``
            returned, one probe, or readiness results (their probes); rounds may be
            concatenated to keep a history.

    Returns:
        Columns deployment, op, port, url, state (READY/BOOTING/DOWN/UNREACHABLE), status
        (NA without an answer), failure, ready, latency_ms, probed_at (UTC, service clock),
        detail.

    Raises:
        ValidationError: ``probes`` holds something other than probe results.
    """
    rows = _probes(probes)
    columns: dict[str, list[Any]] = {
        "deployment": [r.deployment for r in rows],
        "op": [r.op for r in rows],
        "port": [str(r.port) for r in rows],
        "url": [r.url for r in rows],
        "state": [r.state for r in rows],
        "status": [r.status for r in rows],
        "failure": [r.failure for r in rows],
        "ready": [r.ready for r in rows],
        "latency_ms": [r.latency_ms for r in rows],
        "probed_at": [pd.Timestamp(r.probed_at) for r in rows],
        "detail": [r.detail for r in rows],
    }
    return schema_frame("endpoint_probes", columns)
