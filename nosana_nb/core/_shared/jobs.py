"""Job definitions on IPFS: pin one (Pinata's pinJSONToIPFS shape) and fetch one by CID.

The I/O-free half of ``Jobs``/``AsyncJobs`` (``_async/jobs.py``): CID checks, routes, parsers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.jobdef import validate_job_definition
from nosana_nb.core.results import JobResults, parse_job_results
from nosana_nb.core.routes import Route

# CIDv0: base58btc sha2-256 multihash ("Qm" + 44 chars); CIDv1: multibase base32 ("b...").
_CID_V0 = re.compile(r"Qm[1-9A-HJ-NP-Za-km-z]{44}")
_CID_V1 = re.compile(r"b[a-z2-7]{58,}")


def check_cid(value: Any, *, argument: str = "cid") -> str:
    """A CIDv0 (``Qm...``) or base32 CIDv1 (``b...``) string, else ValidationError."""
    if not isinstance(value, str):
        raise ValidationError(
            f"{argument} must be an IPFS CID string, got {type(value).__name__}", argument=argument
        )
    cid = value.strip()
    if not (_CID_V0.fullmatch(cid) or _CID_V1.fullmatch(cid)):
        raise ValidationError(
            f"{argument} is not an IPFS CID (expected 'Qm' + 44 base58 characters, or a base32 "
            f"CIDv1 starting with 'b'): {value[:60]!r}",
            argument=argument,
        )
    return cid


def _parse_pin_reply(data: Any) -> str:
    if not isinstance(data, Mapping) or "IpfsHash" not in data:
        raise ValueError('expected {"IpfsHash": "<cid>"}')
    try:
        return check_cid(data["IpfsHash"], argument="IpfsHash")
    except ValidationError as exc:
        raise ValueError(exc.message) from None


def _parse_job_definition(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError("a job definition must be a JSON object")
    return dict(data)


def pin_route(network: NetworkConfig, job_definition: Mapping[str, Any]) -> Route[str]:
    """POST ``{"pinataContent": jd}`` to the pinning service; the definition is validated first."""
    checked = validate_job_definition(job_definition)
    return Route(
        "POST",
        network.ipfs_pin_url,
        _parse_pin_reply,
        json={"pinataContent": checked},
        requires_auth=False,
    )


def job_definition_route(network: NetworkConfig, cid: str) -> Route[dict[str, Any]]:
    return Route(
        "GET", f"{network.ipfs_gateway}{check_cid(cid)}", _parse_job_definition, requires_auth=False
    )


def job_results_route(network: NetworkConfig, cid: str) -> Route[JobResults]:
    """A job's results document on IPFS (when the service gives its hash, not the document)."""
    return Route(
        "GET", f"{network.ipfs_gateway}{check_cid(cid)}", parse_job_results, requires_auth=False
    )


def inline_job_results(job_result: Any) -> JobResults | None:
    """The job detail's ``jobResult`` when it holds the document itself; None when empty.
    ValueError when it is neither (the caller names the request it came from)."""
    if job_result is None or job_result == {}:
        return None
    return parse_job_results(job_result)
