"""The sandbox's replies against the API types fixture, and proof that the check bites.

Every e2e test already runs with ``replies_match_the_api_types`` (conftest): each reply its
clients receive is validated against ``tests/fixtures/nosana_api_2.1.8_responses.schema.json``.
Here: the markets and their filters through the client, and the checker refusing wrong shapes.
"""

from __future__ import annotations

import json

import httpx
import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import ValidationError
from nosana_nb.sandbox import SandboxHandle
from tests.e2e.conftest import MARKET_3060, Account, network_of, wait_running
from tests.wire_schema import ReplyChecker


def _market_reply(checker: ReplyChecker, market: dict[str, object]) -> list[str]:
    checker.problems.clear()
    body = json.dumps(market).encode()
    checker.check("GET", f"/api/markets/{market['address']}/", 200, "application/json", body)
    return list(checker.problems)


def test_the_check_refuses_the_old_market_shape(sandbox: SandboxHandle) -> None:
    checker = ReplyChecker()
    served = httpx.get(f"{sandbox.api_url}/api/markets/{MARKET_3060}/").json()
    assert _market_reply(checker, served) == []
    wrong_nodes = _market_reply(checker, {**served, "nodes": 8})
    assert any("nodes" in p and "array" in p for p in wrong_nodes), wrong_nodes
    null_client = _market_reply(checker, {**served, "client": None})
    assert any("client" in p for p in null_client), null_client
    extra = _market_reply(checker, {**served, "idle_nodes": 3})
    assert any("idle_nodes" in p for p in extra), extra
    missing = {k: v for k, v in served.items() if k != "sft"}
    assert any("'sft' is a required property" in p for p in _market_reply(checker, missing))


def test_the_check_refuses_wrong_deployment_and_error_bodies(
    account: Account, replies_match_the_api_types: ReplyChecker
) -> None:
    deployment = account.deploy(name="typed")
    deployment.refresh()
    served = replies_match_the_api_types.last_bodies["GET /api/deployments/{deployment}"]
    path = f"/deployments/{deployment.id}"
    checker = ReplyChecker()
    checker.check("GET", path, 200, "application/json", json.dumps(served).encode())
    assert checker.problems == []
    for field, wrong in (("replicas", "1"), ("status", "PAUSED"), ("endpoints", None)):
        checker.problems.clear()
        body = json.dumps({**served, field: wrong}).encode()
        checker.check("GET", path, 200, "application/json", body)
        assert any(field in p for p in checker.problems), (field, checker.problems)
    checker.problems.clear()
    checker.check("GET", "/deployments/x", 404, "application/json", b'{"message": "nope"}')
    assert any("'error' is a required property" in p for p in checker.problems)
    checker.problems.clear()
    checker.check("GET", "/deployments", 401, "text/plain", b"Forbidden")
    assert checker.problems


def test_markets_and_their_filters_through_the_client(sandbox: SandboxHandle) -> None:
    with NosanaClient(network_of(sandbox), None, env={}) as client:
        markets = client.markets.list()
        assert {m.type for m in markets} == {"PREMIUM", "COMMUNITY"}
        assert all(isinstance(m.nodes, list) and m.client is False for m in markets)
        community = client.markets.list(type="COMMUNITY")
        assert community
        assert all(m.type == "COMMUNITY" for m in community)
        assert len(client.markets.list(limit=2)) == 2
        by_slug = client.markets.list(filter_key="slug", filter_value="nvidia-3060")
        assert [m.address for m in by_slug] == [MARKET_3060]
        assert client.markets.list(filter_key="slug", filter_value="none-such") == []
        resources = client.markets.required_resources(MARKET_3060)
        assert (resources.required_images, resources.required_remote_resources) == ([], [])
        premium = next(m for m in markets if m.address == MARKET_3060)
        assert premium.premium_community_relation in {m.address for m in markets}
        assert premium.node_count == 8
        with pytest.raises(ValidationError, match="type must be one of"):
            client.markets.list(type="premium")
        with pytest.raises(ValidationError, match="go together"):
            client.markets.list(filter_key="slug")


def test_a_running_deployment_replies_fit_the_types(
    sandbox: SandboxHandle, account: Account, replies_match_the_api_types: ReplyChecker
) -> None:
    deployment = account.deploy(name="typed-run", replicas=2)
    deployment.start()
    wait_running(deployment)
    sandbox.advance(120)
    (job, *_) = deployment.get_jobs()
    deployment.get_job(job.job)
    list(deployment.get_tasks())
    list(deployment.get_events())
    list(deployment.get_revisions())
    deployment.update_replicas(1)
    deployment.stop()
    sandbox.advance(600)
    checked = replies_match_the_api_types.checked
    for route in (
        "POST /api/deployments/create",
        "GET /api/deployments/{deployment}",
        "GET /api/deployments/{deployment}/jobs",
        "GET /api/deployments/{deployment}/jobs/{job}",
        "GET /api/deployments/{deployment}/tasks",
        "GET /api/deployments/{deployment}/events",
        "GET /api/deployments/{deployment}/revisions",
        "POST /api/deployments/{deployment}/start",
        "POST /api/deployments/{deployment}/stop",
        "PATCH /api/deployments/{deployment}/update-replica-count",
        "GET /api/markets/",
    ):
        assert checked.get(route), f"{route} was not checked: {sorted(checked)}"
