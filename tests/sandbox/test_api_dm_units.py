"""Pure pieces of the sandbox API: ajv-style messages, cursors, job definitions, endpoints, CIDs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import base58
import pytest
from solders.keypair import Keypair

from nosana_nb.sandbox import SandboxError, _wallet_address, start
from nosana_nb.sandbox.api.ipfs import cid_v0
from nosana_nb.sandbox.api.jobdef import (
    JobDefinitionError,
    endpoints_for,
    stored_definition,
    validate_job_definition,
)
from nosana_nb.sandbox.http.auth import Principal, api_key_owner, bearer_api_key
from nosana_nb.sandbox.http.faults import FaultConfigError, FaultMiddleware, FaultSettings
from nosana_nb.sandbox.http.pagination import InvalidCursorError, decode_cursor, paginate
from nosana_nb.sandbox.http.serialize import deployment_to_wire, event_to_wire, task_to_wire
from nosana_nb.sandbox.http.validation import (
    RequestValidationError,
    check_schema,
    is_date_time,
    literals,
    object_schema,
    validate,
)


def message(schema: dict[str, Any], value: Any, part: str = "body") -> str:
    with pytest.raises(RequestValidationError) as caught:
        validate(schema, value, part)
    return caught.value.message


def test_ajv_messages() -> None:
    schema = object_schema(
        {"n": {"type": "number", "minimum": 1}, "s": {"type": "string", "maxLength": 2}}, ("n",)
    )
    assert message(schema, None) == "body must be object"
    assert message(schema, {}) == "body must have required property 'n'"
    assert message(schema, {"n": True}) == "body/n must be number"
    assert message(schema, {"n": 0}) == "body/n must be >= 1"
    assert message(schema, {"n": 1, "s": "abc"}) == "body/s must NOT have more than 2 characters"
    validate(schema, {"n": 1.5, "extra": "ignored"}, "body")
    assert message({"type": "integer"}, 1.5, "querystring") == "querystring must be integer"
    assert message(literals("a", "b"), "c", "x") == (
        "x must be equal to constant, x must be equal to constant, x must match a schema in anyOf"
    )
    with pytest.raises(ValueError, match="unsupported"):
        check_schema({"oneOf": []})


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("2025-01-01T00:00:00Z", True),
        ("2025-01-01T00:00:00.123+02:00", True),
        ("2025-01-01 00:00:00z", True),
        ("2025-01-01T00:00:00", False),
        ("2025-02-30T00:00:00Z", False),
        ("2025-01-01", False),
        ("2025-01-01T25:00:00Z", False),
    ],
)
def test_date_time_format(text: str, valid: bool) -> None:
    assert is_date_time(text) is valid


def test_pagination_edges() -> None:
    docs = [{"_id": f"{i:024x}", "created_at": "2025-01-01T00:00:00.000Z"} for i in range(5)]
    page = paginate(docs, limit=10, sort_order="desc", cursor=None)
    assert [d["_id"] for d in page.items] == [f"{i:024x}" for i in reversed(range(5))]
    assert (page.cursor_next, page.cursor_prev, page.total_items) == (None, None, 5)
    first = paginate(docs, limit=2, sort_order="asc", cursor=None)
    second = paginate(docs, limit=2, sort_order="asc", cursor=first.cursor_next)
    assert [d["_id"] for d in second.items] == [f"{i:024x}" for i in (2, 3)]
    back = paginate(docs, limit=2, sort_order="asc", cursor=second.cursor_prev)
    assert back.items == first.items
    assert back.cursor_prev is None
    assert back.cursor_next
    for bad in ("", "e30=", base64.b64encode(b"[]").decode()):
        with pytest.raises(InvalidCursorError):
            decode_cursor(bad)


def test_job_definition_validation() -> None:
    base: dict[str, Any] = {
        "version": "0.1",
        "type": "container",
        "ops": [{"id": "a", "type": "container/run", "args": {"image": "x"}}],
    }
    assert validate_job_definition(base) == base

    def problems(**changes: Any) -> list[str]:
        with pytest.raises(JobDefinitionError) as caught:
            validate_job_definition({**base, **changes})
        return caught.value.problems

    assert problems(version="0.2") == ['$input.version: "0.1"']
    assert problems(extra=1) == ["$input.extra: undefined"]
    assert problems(ops=[]) == ["$input.ops: Array<Operation> (at least one)"]
    duplicate = base["ops"] * 2
    assert problems(ops=duplicate) == ["$input.ops[1].id: unique op id"]
    run = {"id": "a", "type": "container/run"}
    assert problems(ops=[{**run, "args": {"image": "x", "cmd": 3}}]) == [
        "$input.ops[0].args.cmd: (Array<string> | string)"
    ]
    assert problems(ops=[{**run, "args": {"image": "x", "expose": [80, 80]}}]) == [
        "$input.ops[0].args.expose[1]: unique port, disjoint ranges"
    ]
    assert problems(ops=[{**run, "args": {"image": "x", "expose": ["1-10", 5]}}]) == [
        "$input.ops[0].args.expose[1]: unique port, disjoint ranges"
    ]
    assert problems(ops=[{**run, "args": {"image": "x", "expose": 70000}}])
    ok = [{**run, "args": {"image": "x", "expose": ["8000-8010", {"port": 9000, "type": "api"}]}}]
    validate_job_definition({**base, "ops": ok})


def test_stored_definition_and_endpoints() -> None:
    definition = {
        "version": "0.1",
        "type": "container",
        "meta": {"keep": True, "trigger": "user"},
        "ops": [
            {"id": "web", "type": "container/run", "args": {"image": "x", "expose": [80, 443]}},
            {"id": "vol", "type": "container/create-volume", "args": {"name": "v"}},
            {"id": "quiet", "type": "container/run", "args": {"image": "y"}},
        ],
    }
    stored = stored_definition(definition, "DEP")
    assert stored["deployment_id"] == "DEP"
    assert stored["meta"] == {"keep": True, "trigger": "deployment-manager"}
    assert "deployment_id" not in definition  # input untouched

    endpoints = endpoints_for(stored, deployment_id="DEP", vault="VAULT", domain="d.example")
    flow = base58.b58encode(hashlib.sha512(b"DEP:VAULT").digest()).decode()[:45]
    host = base58.b58encode(hashlib.sha512(f"web:0:{flow}".encode()).digest()).decode()[:44]
    assert endpoints == [
        {"opId": "web", "port": 80, "url": f"https://{host}.d.example"},
        {"opId": "web", "port": 443, "url": f"https://{host}.d.example"},
    ]


def test_cid_v0_matches_the_documented_recipe() -> None:
    obj = {"z": [1, 2], "a": "ä"}
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).digest()
    assert cid_v0(obj) == base58.b58encode(b"\x12\x20" + digest).decode()
    assert cid_v0(obj).startswith("Qm")
    assert len(cid_v0(obj)) == 46


def test_serializers_apply_the_null_quirks() -> None:
    deployment = {
        "_id": "x",
        "id": "D",
        "name": None,
        "replicas": None,
        "strategy": "INFINITE",
        "rotation_time": None,
        "rapid_streak": 3,
        "next_retry_at": 5,
    }
    wire = deployment_to_wire(deployment, active_jobs=0)
    assert wire["name"] == ""
    assert wire["replicas"] == 0
    assert wire["rotation_time"] == 0
    assert not {"_id", "rapid_streak", "next_retry_at", "schedule"} & set(wire)
    assert "tx" not in event_to_wire({"type": "T"})
    assert event_to_wire({"type": "T", "tx": None})["tx"] == ""
    task = task_to_wire({"task": "LIST", "job": None, "limit": None, "active_revision": None})
    assert (task["job"], task["limit"], task["active_revision"]) == ("", 0, 0)
    assert "tx" not in task_to_wire({"task": "LIST", "tx": None})


def test_secrets_stay_out_of_reprs() -> None:
    principal = Principal(owner="O", api_key="nos_secret")
    assert "nos_secret" not in repr(principal)
    assert bearer_api_key("Bearer nos_abc") == "nos_abc"
    assert bearer_api_key("Bearer abc") is None
    assert bearer_api_key(None) is None
    assert api_key_owner("nos_abc") == api_key_owner("nos_abc") != api_key_owner("nos_abd")


def test_fault_settings_validation() -> None:
    settings = FaultSettings()
    with pytest.raises(FaultConfigError):
        settings.configure({"apply_to": ["relative"]})
    with pytest.raises(FaultConfigError):
        settings.configure({"seed": 1.5})
    assert settings.applies("/deployments/x")
    assert not settings.applies("/deploymentsx")
    assert not settings.applies("/_sandbox/faults")


def test_wallet_address_accepts_wallet_like_objects() -> None:
    keypair = Keypair()

    class WithAddress:
        address = str(keypair.pubkey())

    class WithPubkey:
        def pubkey(self) -> object:
            return keypair.pubkey()

    expected = str(keypair.pubkey())
    assert _wallet_address(expected) == expected
    assert _wallet_address(keypair.pubkey()) == expected
    assert _wallet_address(WithAddress()) == expected
    assert _wallet_address(WithPubkey()) == expected
    with pytest.raises(SandboxError):
        _wallet_address(object())


@pytest.mark.parametrize(
    "arguments",
    [
        {"port": -1},
        {"port": "80"},
        {"host": ""},
        {"seed": 1.5},
        {"keepalive_s": 0},
        {"start_time": float("nan")},
    ],
)
def test_start_refuses_bad_arguments(arguments: dict[str, Any]) -> None:
    name = next(iter(arguments))
    with pytest.raises(ValueError, match=f"^{name} must"):
        start(db=":memory:", speed=None, **arguments)


def test_start_time_pins_the_simulated_clock(tmp_path: Any) -> None:
    with start(db=tmp_path / "s.db", speed=None, start_time=1_800_000_000) as sandbox:
        assert sandbox.clock.now() == 1_800_000_000
        sandbox.advance(60)
    with start(db=tmp_path / "s.db", speed=None, start_time=1_700_000_000) as resumed:
        assert resumed.clock.now() == 1_800_000_060  # never back before the saved time


async def test_injected_latency_delays_requests_without_serialising_them() -> None:
    """The latency is awaited: every concurrent request is inside its delay before the first
    one reaches the app (a blocking sleep would let each through before the next arrived)."""
    settings = FaultSettings()
    settings.configure({"latency_ms": 5})
    arrived = 0
    in_flight_when_served: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        in_flight_when_served.append(arrived)

    middleware = FaultMiddleware(app, settings)

    async def request() -> None:
        nonlocal arrived
        arrived += 1
        await middleware({"type": "http", "path": "/deployments/x", "method": "GET"}, None, None)

    await asyncio.gather(*(request() for _ in range(8)))
    assert in_flight_when_served == [8] * 8
