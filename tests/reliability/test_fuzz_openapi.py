"""Property-based fuzzing of every documented route, from the sandbox's own OpenAPI document.

Requests carry a freshly signed wallet authorization, so they get past authentication and into
validation and the handlers. The service answers some refusals with HTTP 500 on purpose (wrong
state, bad token, invalid cursor, unparsable JSON; all documented); what must never happen is
an exception no handler turned into an answer. The sandbox counts those, and the count must stay
at zero; any 5xx must also be documented for its operation and have a documented body shape.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from solders.keypair import Keypair

from nosana_nb.core.jobdef import container_job
from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.sandbox.http.openapi import build_document
from nosana_nb.sandbox.http.route_table import ALL_ROUTES
from nosana_nb.sandbox.worker.markets import MARKETS

MESSAGE = "NosanaApiAuthentication"
SIGNER = Keypair()
# Routes that are not part of the service under test: the admin API changes the sandbox itself
# (faults, clock) and the event stream never ends by design.
EXCLUDED_PATH_PREFIXES = ("/_sandbox",)
EXCLUDED_PATH_SUFFIXES = ("/stream",)
EXAMPLES_PER_OPERATION = 12


def signed_headers() -> dict[str, str]:
    stamp = int(time.time() * 1000)
    return {
        "x-user-id": str(SIGNER.pubkey()),
        "Authorization": f"{MESSAGE}:{SIGNER.sign_message(MESSAGE.encode())}:{stamp}",
    }


@dataclass(frozen=True)
class Owned:
    """Real ids of the signer, substituted into path parameters for half of the examples."""

    deployments: tuple[str, ...]
    vault: str
    job: str

    def path_value(self, name: str, pick: int) -> str | None:
        if name == "deployment":
            return self.deployments[pick % len(self.deployments)]
        return {"vault": self.vault, "job": self.job}.get(name)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with start(db=":memory:", speed=None, seed=9) as handle:
        yield handle


@pytest.fixture(scope="module")
def owned(sandbox: SandboxHandle) -> Owned:
    """Deployments (one running, with a job), a funded vault: so handlers get past lookups."""
    owner = str(SIGNER.pubkey())
    sandbox.faucet(owner, sol="1", nos="10")
    ids = []
    with httpx.Client(base_url=sandbox.api_url, timeout=10) as http:
        vault = http.post("/deployments/vaults/create", headers=signed_headers()).json()["vault"]
        sandbox.faucet(vault, sol="1", nos="5")
        for index in range(4):
            body = {
                "name": f"fuzz target {index}",
                "market": MARKETS[0].address,
                "replicas": 1,
                "timeout": 60,
                "strategy": "SIMPLE",
                "job_definition": container_job("alpine:3", "true", gpu=False),
                "vault": vault,
                "autostart": index == 0,
            }
            reply = http.post("/deployments/create", json=body, headers=signed_headers())
            ids.append(reply.raise_for_status().json()["id"])
        sandbox.advance(60)
        jobs = http.get(f"/deployments/{ids[0]}/jobs", headers=signed_headers()).json()["jobs"]
    return Owned(tuple(ids), vault, jobs[0]["job"])


def _fuzzed(path: str) -> bool:
    return not path.startswith(EXCLUDED_PATH_PREFIXES) and not path.endswith(EXCLUDED_PATH_SUFFIXES)


# The operations to fuzz, known at collection time from the same route table the sandbox
# serves its document from; the test itself loads the document the running sandbox serves.
OPERATIONS = [
    pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
    for path, item in build_document(ALL_ROUTES, server_url=None)["paths"].items()
    if _fuzzed(path)
    for method in item
]


@pytest.fixture(scope="module")
def api_schema(sandbox: SandboxHandle) -> Any:
    document = httpx.get(f"{sandbox.api_url}/documentation/json", timeout=10).json()
    return schemathesis.openapi.from_dict(document)


def _documented_server_error(case: Any, response: Any) -> bool:
    """A 5xx the operation documents, in the documented media type and error body shape."""
    responses = case.operation.definition.raw.get("responses", {})
    documented = responses.get(str(response.status_code))
    if documented is None:
        return False
    media_types = set(documented.get("content", {}))
    received = response.headers.get("content-type", [""])
    received = (received[0] if isinstance(received, list) else received).split(";")[0]
    if received not in media_types:
        return False
    if received == "text/plain":
        return bool(response.text)
    try:
        body = response.json()
    except ValueError:
        return False
    # {"error": ...}, the stream's {"statusCode", "error", "message"}, or the markets' {name,
    # message}; each checked against the operation's own documented schema name
    if not isinstance(body, dict):
        return False
    schema = documented["content"][received].get("schema", {})
    if schema.get("$ref", "").endswith("/MarketsError"):
        return isinstance(body.get("name"), str) and isinstance(body.get("message"), str)
    return isinstance(body.get("error"), str)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_unhandled_server_error(
    method: str, path: str, api_schema: Any, sandbox: SandboxHandle, owned: Owned
) -> None:
    operation = api_schema[path][method]
    seen: Counter[int] = Counter()

    @given(case=operation.as_strategy(), use_owned=st.booleans(), pick=st.integers(0, 3))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def fuzz(case: Any, use_owned: bool, pick: int) -> None:
        if use_owned and case.path_parameters:
            for name in case.path_parameters:
                case.path_parameters[name] = (
                    owned.path_value(name, pick) or case.path_parameters[name]
                )
        before = sandbox.unhandled_errors
        case.headers = {**(case.headers or {}), **signed_headers()}
        response = case.call(base_url=sandbox.api_url, timeout=10)
        seen[response.status_code] += 1
        assert sandbox.unhandled_errors == before, (
            f"{case.method} {case.formatted_path} raised inside the sandbox (see the log)"
        )
        if response.status_code >= 500 and _documented_server_error(case, response):
            return
        case.validate_response(response, checks=[not_a_server_error])

    fuzz()
    assert sum(seen.values()) > 0
    print("SEEN", method, path, dict(seen))


def test_the_counter_counts_unhandled_errors(sandbox: SandboxHandle) -> None:
    """Guards the check above: an exception escaping a handler moves the counter."""
    health = next(r for r in ALL_ROUTES if r.method == "GET" and r.path == "/health")
    original = health.handler

    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug")

    before = sandbox.unhandled_errors
    object.__setattr__(health, "handler", broken)  # the endpoint reads it per request
    try:
        status = httpx.get(f"{sandbox.api_url}/health", timeout=5).status_code
    finally:
        object.__setattr__(health, "handler", original)
    assert status == 500
    assert sandbox.unhandled_errors == before + 1
