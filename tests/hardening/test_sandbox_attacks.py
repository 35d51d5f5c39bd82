"""Hostile clients against the embedded sandbox (issue 14, sandbox items 5-11).

Each test performs the attack on 127.0.0.1 at a scale two shared cores run in seconds, and
asserts the safe behaviour: the refusal in the route's own format, bounded time, bounded peak
memory of this process (the server runs in it), and no exception escaping a handler.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from nosana_nb.sandbox import SandboxHandle, start
from tests.hardening.sandbox_attacks import (
    MIB,
    chunked_upload,
    created_deployment,
    declared_oversize,
    deep_object,
    nested,
    quiet_server_logs,
    raw_request,
    signed_client,
)
from tests.sandbox.dm_helpers import JOB_DEFINITION, create_body

pytestmark = pytest.mark.timeout(60)

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with start(db=":memory:", speed=None) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with signed_client(sandbox) as signed:
        yield signed


@pytest.fixture(scope="module")
def deployment(client: httpx.Client) -> dict[str, Any]:
    return created_deployment(client)


def sandbox_counters(sandbox: SandboxHandle) -> dict[str, int]:
    """The refusal and error counters the sandbox serves at ``GET /_sandbox/stats``."""
    counters: dict[str, int] = httpx.get(f"{sandbox.api_url}/_sandbox/stats", timeout=10).json()[
        "counters"
    ]
    return counters


# -- item 6: request bodies ---------------------------------------------------------------------
BODY_ROUTES = ["/rpc", "/pinning/pinJSONToIPFS", "/deployments/create", "/_sandbox/faucet"]


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_item6_chunked_body_is_cut_off_at_the_limit_while_reading(
    sandbox: SandboxHandle, path: str
) -> None:
    """32 MiB, chunked (no Content-Length), no credentials: refused once past the route's limit
    (1 MiB; /rpc 50 KiB), without buffering the rest."""
    outcome = chunked_upload(sandbox.port, path, total_bytes=32 * MIB, headers=JSON)
    assert outcome.reply.status == 413, outcome.reply
    assert outcome.reply.headers.get("connection") == "close"
    assert outcome.bytes_sent < 16 * MIB  # the server stopped reading; the rest was never sent
    assert outcome.peak_rss_growth_mib < 12, f"peak RSS grew {outcome.peak_rss_growth_mib:.1f} MiB"
    assert sandbox.unhandled_errors == 0


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_item6_declared_content_length_over_the_limit_is_refused_before_reading(
    sandbox: SandboxHandle, path: str
) -> None:
    reply = declared_oversize(sandbox.port, path, declared_bytes=1024 * MIB)
    assert reply.status == 413
    assert reply.seconds < 2.0  # answered at once, not after waiting for a gigabyte


def test_item6_refusals_speak_each_routes_format(sandbox: SandboxHandle) -> None:
    api = declared_oversize(sandbox.port, "/deployments/create", declared_bytes=2 * MIB)
    assert api.json() == {
        "statusCode": 413,
        "code": "FST_ERR_CTP_BODY_TOO_LARGE",
        "error": "Payload Too Large",
        "message": "Request body is too large",
    }
    rpc = declared_oversize(sandbox.port, "/rpc", declared_bytes=51 * 1024)
    assert rpc.status == 413
    assert rpc.json()["error"]["code"] == -32600
    assert rpc.json()["id"] is None
    # just under each limit is still read and answered normally
    fine = httpx.post(
        f"{sandbox.api_url}/rpc",
        content=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "getSlot", "x": "a" * 40_000}),
        headers=JSON,
        timeout=10,
    )
    assert fine.status_code == 200
    assert "result" in fine.json()


# -- item 7: inputs that used to raise inside the server ------------------------------------------
def _deep_cursor(depth: int) -> str:
    return base64.b64encode(nested(depth).encode()).decode()


ITEM7_ATTACKS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # name: (method, path template, request options)
    "create: 5,000 nested [": ("POST", "/deployments/create", {"content": nested(5000)}),
    "create: replicas 1e400 written out": (
        "POST",
        "/deployments/create",
        {
            "content": json.dumps(create_body()).replace(
                '"replicas": 1', '"replicas": 1' + "0" * 400
            )
        },
    ),
    "create: meta nested 800 deep": (
        "POST",
        "/deployments/create",
        {"json": create_body(job_definition={**JOB_DEFINITION, "meta": deep_object(800)})},
    ),
    "create-revision: meta nested 800 deep": (
        "POST",
        "/deployments/{id}/create-revision",
        {"json": {**JOB_DEFINITION, "meta": deep_object(800)}},
    ),
    "update-replica-count: 1e400 written out": (
        "PATCH",
        "/deployments/{id}/update-replica-count",
        {"content": '{"replicas": 1' + "0" * 400 + "}"},
    ),
    "jobs: cursor nested 2,000 deep": (
        "GET",
        "/deployments/{id}/jobs",
        {"params": {"cursor": _deep_cursor(2000)}},
    ),
    "deployments: cursor nested 2,000 deep": (
        "GET",
        "/deployments",
        {"params": {"cursor": _deep_cursor(2000)}},
    ),
    "pinning: 800 deep": ("POST", "/pinning/pinJSONToIPFS", {"json": deep_object(800)}),
    "rpc: 5,000 nested [": ("POST", "/rpc", {"content": nested(5000)}),
    "rpc: id nested 900 deep": (
        "POST",
        "/rpc",
        {"content": '{"jsonrpc":"2.0","method":"getSlot","id":' + nested(900) + "}"},
    ),
    "rpc: id an array 50 deep": (
        "POST",
        "/rpc",
        {"content": '{"jsonrpc":"2.0","method":"getSlot","id":' + nested(50) + "}"},
    ),
    "rpc: id NaN": ("POST", "/rpc", {"content": '{"jsonrpc":"2.0","method":"getSlot","id":NaN}'}),
    "rpc: id 1e400": (
        "POST",
        "/rpc",
        {"content": '{"jsonrpc":"2.0","method":"getSlot","id":1e400}'},
    ),
}

BARE_400 = {"error": "Bad Request"}
EXPECTED_ITEM7: dict[str, tuple[int, Any]] = {
    # the route's own error format: bare 400 on create, Fastify's 400 elsewhere, the list
    # routes' cursor 500, JSON-RPC errors with HTTP 200 on /rpc
    "create: 5,000 nested [": (400, BARE_400),
    "create: replicas 1e400 written out": (400, BARE_400),
    "create: meta nested 800 deep": (400, BARE_400),
    "create-revision: meta nested 800 deep": (400, "FST_ERR_VALIDATION"),
    "update-replica-count: 1e400 written out": (400, "body/replicas must be integer"),
    "jobs: cursor nested 2,000 deep": (500, {"error": "Failed to get deployment jobs"}),
    "deployments: cursor nested 2,000 deep": (500, {"error": "Internal Server Error"}),
    "pinning: 800 deep": (400, "FST_ERR_VALIDATION"),
    "rpc: 5,000 nested [": (200, -32700),
    "rpc: id nested 900 deep": (200, -32700),
    "rpc: id an array 50 deep": (200, -32600),
    "rpc: id NaN": (200, -32700),
    "rpc: id 1e400": (200, -32600),
}


def _matches(expected: Any, body: Any) -> bool:
    if isinstance(expected, int):  # a JSON-RPC error code, answered with id null
        return bool(body["error"]["code"] == expected and body["id"] is None)
    if isinstance(expected, str):  # Fastify's validation body, by code or message
        return bool(body.get("code") == expected or body.get("message") == expected)
    return bool(body == expected)


@pytest.mark.parametrize("name", list(ITEM7_ATTACKS))
def test_item7_hostile_json_is_answered_in_the_routes_format_without_raising(
    sandbox: SandboxHandle, client: httpx.Client, deployment: dict[str, Any], name: str
) -> None:
    method, template, options = ITEM7_ATTACKS[name]
    if "content" in options:
        options = {**options, "headers": JSON}
    before = sandbox_counters(sandbox)["unhandled_errors"]
    with quiet_server_logs():
        response = client.request(method, template.format(id=deployment["id"]), **options)
    status, expected = EXPECTED_ITEM7[name]
    assert response.status_code == status, response.text[:300]
    assert _matches(expected, response.json()), response.text[:300]
    assert sandbox_counters(sandbox)["unhandled_errors"] == before == 0


def test_item7_the_counter_is_served_and_counts(sandbox: SandboxHandle) -> None:
    """The check above reads a counter that really moves when a handler raises."""
    counters = sandbox_counters(sandbox)
    assert counters["bodies_too_deep"] >= 1
    reply = raw_request(sandbox.port, "GET", "/health")
    assert reply.status == 200
