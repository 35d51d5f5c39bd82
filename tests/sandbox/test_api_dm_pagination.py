"""Keyset pagination and list filters (wire-contract §5.1, §6) over 250 deployments."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from nosana_nb.sandbox import SandboxHandle
from tests.sandbox.dm_helpers import WalletAuth, create_body, owner_of

COUNT = 250


@pytest.fixture(scope="module")
def client(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.api_url, auth=WalletAuth(Keypair()), timeout=10) as http:
        yield http


@pytest.fixture(scope="module")
def expected(sandbox: SandboxHandle, client: httpx.Client) -> list[dict[str, Any]]:
    """250 deployments; groups of three share a created_at so _id breaks the ties.
    Returned newest first, the default order."""
    strategies = ("SIMPLE", "SIMPLE-EXTEND", "INFINITE")
    for index in range(COUNT):
        strategy = strategies[index % 3]
        body = create_body(name=f"Job-{index:03d}", strategy=strategy)
        assert client.post("/deployments/create", json=body).status_code == 200
        if index % 3 == 2:
            sandbox.clock.advance(1.5)
    owner = owner_of(client)
    docs = sandbox.store.find("deployments", owner=owner)
    return sorted(docs, key=lambda d: (d["created_at"], d["_id"]), reverse=True)


def ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["id"] for d in docs]


def get_page(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/deployments", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_walk_forward_and_back(client: httpx.Client, expected: list[dict[str, Any]]) -> None:
    pages: list[dict[str, Any]] = [get_page(client, limit=100)]
    while pages[-1]["pagination"]["cursor_next"]:
        pages.append(get_page(client, limit=100, cursor=pages[-1]["pagination"]["cursor_next"]))
    assert [len(p["deployments"]) for p in pages] == [100, 100, 50]
    assert [d["id"] for p in pages for d in p["deployments"]] == ids(expected)
    assert all(p["pagination"]["total_items"] == COUNT for p in pages)
    assert pages[0]["pagination"]["cursor_prev"] is None
    assert pages[1]["pagination"]["cursor_prev"]
    assert pages[2]["pagination"]["cursor_prev"]
    assert pages[2]["pagination"]["cursor_next"] is None

    back = get_page(client, limit=100, cursor=pages[2]["pagination"]["cursor_prev"])
    assert ids(back["deployments"]) == ids(expected[100:200])
    assert back["pagination"]["cursor_next"]
    assert back["pagination"]["cursor_prev"]
    first = get_page(client, limit=100, cursor=back["pagination"]["cursor_prev"])
    assert ids(first["deployments"]) == ids(expected[:100])
    assert first["pagination"]["cursor_prev"] is None  # nothing further back
    assert first["pagination"]["cursor_next"]  # a prev page always offers next


def test_ascending_small_pages(client: httpx.Client, expected: list[dict[str, Any]]) -> None:
    ascending = list(reversed(expected))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 20, "sort_order": "asc"}
        if cursor:
            params["cursor"] = cursor
        page = get_page(client, **params)
        seen.extend(ids(page["deployments"]))
        cursor = page["pagination"]["cursor_next"]
        if not cursor:
            break
    assert seen == ids(ascending)


def test_cursor_format(client: httpx.Client, expected: list[dict[str, Any]]) -> None:
    cursor = get_page(client, limit=10)["pagination"]["cursor_next"]
    decoded = json.loads(base64.b64decode(cursor))
    assert decoded == {
        "sort_field_value": expected[9]["created_at"],
        "_id": expected[9]["_id"],
        "direction": "next",
    }
    past_end = base64.b64encode(
        json.dumps(
            {"sort_field_value": "2000-01-01T00:00:00.000Z", "_id": "0" * 24, "direction": "next"}
        ).encode()
    ).decode()
    empty = get_page(client, cursor=past_end)
    assert empty["deployments"] == []
    assert empty["pagination"] == {"cursor_next": None, "cursor_prev": None, "total_items": COUNT}


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b'{"sort_field_value": "x", "direction": "next"}').decode(),
        base64.b64encode(b'{"sort_field_value": "x", "_id": "zz", "direction": "next"}').decode(),
        base64.b64encode(
            b'{"sort_field_value": "x", "_id": "000000000000000000000001", "direction": "up"}'
        ).decode(),
    ],
)
def test_invalid_cursor_is_the_endpoint_500(
    client: httpx.Client, expected: list[dict[str, Any]], cursor: str
) -> None:
    response = client.get("/deployments", params={"cursor": cursor})
    assert (response.status_code, response.json()) == (500, {"error": "Internal Server Error"})
    d = expected[0]["id"]
    for path, message in [
        ("jobs", "Failed to get deployment jobs"),
        ("events", "Failed to get deployment events"),
        ("revisions", "Failed to get deployment revisions"),
        ("tasks", "Failed to get scheduled tasks"),
    ]:
        child = client.get(f"/deployments/{d}/{path}", params={"cursor": cursor})
        assert (child.status_code, child.json()) == (500, {"error": message}), path


def test_query_validation_messages(client: httpx.Client, expected: list[dict[str, Any]]) -> None:
    def message(**params: Any) -> str:
        response = client.get("/deployments", params=params)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "FST_ERR_VALIDATION"
        return str(body["message"])

    assert message(limit=15) == ", ".join(
        ["querystring/limit must be equal to constant"] * 4
        + ["querystring/limit must match a schema in anyOf"]
    )
    assert message(sort_order="ASC").endswith("querystring/sort_order must match a schema in anyOf")
    assert message(created_after="2025-01-01") == (
        'querystring/created_after must match format "date-time"'
    )
    assert message(created_before="2025-01-01T00:00:00") == (
        'querystring/created_before must match format "date-time"'
    )
    assert message(status=["RUNNING", "DRAFT"]) == "querystring/status must be string"
    for limit in (10, 20, 50, 100):
        assert len(get_page(client, limit=limit)["deployments"]) == limit


def test_filters(client: httpx.Client, expected: list[dict[str, Any]]) -> None:
    by_strategy = get_page(client, strategy="INFINITE, SIMPLE", limit=100)
    assert by_strategy["pagination"]["total_items"] == sum(
        d["strategy"] in ("INFINITE", "SIMPLE") for d in expected
    )
    wanted = [expected[3]["id"], expected[7]["id"]]
    by_id = get_page(client, id=",".join(wanted))
    assert sorted(ids(by_id["deployments"])) == sorted(wanted)
    assert ids(get_page(client, name="Job-042")["deployments"]) == [
        d["id"] for d in expected if d["name"] == "Job-042"
    ]
    search = get_page(client, search="job-04", limit=100)
    assert search["pagination"]["total_items"] == 10
    by_id_search = get_page(client, search=expected[0]["id"][5:15].lower())
    assert expected[0]["id"] in ids(by_id_search["deployments"])
    assert get_page(client, search="(.*")["pagination"]["total_items"] == 0  # escaped, no regex
    assert get_page(client, status="DRAFT")["pagination"]["total_items"] == COUNT
    assert get_page(client, status="RUNNING")["pagination"]["total_items"] == 0
    assert get_page(client, status="")["pagination"]["total_items"] == COUNT  # empty: no filter

    boundary = expected[120]["created_at"]
    after = get_page(client, created_after=boundary, limit=100)["pagination"]["total_items"]
    before = get_page(client, created_before=boundary, limit=100)["pagination"]["total_items"]
    same_instant = sum(d["created_at"] == boundary for d in expected)
    assert after + before == COUNT + same_instant  # both bounds are inclusive
    offset = boundary.replace("Z", "+00:00")
    assert get_page(client, created_after=offset)["pagination"]["total_items"] == after


def test_every_deployment_carries_active_jobs(client: httpx.Client) -> None:
    page = get_page(client, limit=50)
    assert all(d["active_jobs"] == 0 for d in page["deployments"])
