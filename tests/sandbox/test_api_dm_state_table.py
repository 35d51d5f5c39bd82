"""Every API action against every deployment status (wire-contract §7.1), with the worker stopped.

Without a worker nothing moves on its own (like the service in ``APP_MODE=api``), so each
status can be set in the store and the API's verdict checked exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from nosana_nb.sandbox import SandboxHandle, start
from tests.sandbox.dm_helpers import MARKET, WalletAuth, create_body

STATUSES = (
    "DRAFT",
    "ERROR",
    "STARTING",
    "RUNNING",
    "STOPPING",
    "STOPPED",
    "INSUFFICIENT_FUNDS",
    "ARCHIVED",
)
INCORRECT = (500, {"error": "Deployment is in the incorrect state."})
ARCHIVED = (500, {"error": "Cannot modify an archived deployment."})

# action -> (statuses it is allowed from, resulting status or None)
ALLOWED: dict[str, tuple[frozenset[str], str | None]] = {
    "start": (frozenset({"DRAFT", "STOPPED", "ERROR", "INSUFFICIENT_FUNDS"}), "STARTING"),
    "stop": (frozenset({"RUNNING", "ERROR", "INSUFFICIENT_FUNDS"}), "STOPPING"),
    "archive": (frozenset({"STOPPED"}), "ARCHIVED"),
    "delete": (frozenset({"STOPPED"}), None),
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with start(db=":memory:", speed=None) as handle:
        handle.worker.stop()
        yield handle


@pytest.fixture(scope="module")
def client(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.api_url, auth=WalletAuth(Keypair())) as http:
        yield http


def deployment_in(sandbox: SandboxHandle, client: httpx.Client, status: str) -> str:
    created = client.post(
        "/deployments/create",
        json=create_body(market=MARKET, strategy="SCHEDULED", schedule="0 * * * *"),
    ).json()
    doc = sandbox.store.find_one("deployments", id=created["id"])
    assert doc is not None
    sandbox.store.update("deployments", doc["_id"], {"status": status})
    return str(created["id"])


def verdict(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, (response.json() if response.content else None)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_state_transitions(
    sandbox: SandboxHandle, client: httpx.Client, action: str, status: str
) -> None:
    d = deployment_in(sandbox, client, status)
    if action == "delete":
        response = client.delete(f"/deployments/{d}")
    else:
        response = client.post(f"/deployments/{d}/{action}")
    allowed, target = ALLOWED[action]
    if status in allowed:
        assert response.status_code == (204 if action == "delete" else 200), response.text
        after = client.get(f"/deployments/{d}")
        if target is None:
            assert after.status_code == 404
        else:
            assert response.json()["status"] == after.json()["status"] == target
    elif status == "ARCHIVED" and action in ("stop", "archive"):
        assert verdict(response) == ARCHIVED
    else:
        assert verdict(response) == INCORRECT
        assert client.get(f"/deployments/{d}").json()["status"] == status


@pytest.mark.parametrize("status", STATUSES)
def test_updates_refuse_only_archived(
    sandbox: SandboxHandle, client: httpx.Client, status: str
) -> None:
    d = deployment_in(sandbox, client, status)
    for path, body in [
        ("update-replica-count", {"replicas": 3}),
        ("update-timeout", {"timeout": 61}),
        ("update-schedule", {"schedule": "5 * * * *"}),
        ("update-active-revision", {"active_revision": 1}),
    ]:
        response = client.patch(f"/deployments/{d}/{path}", json=body)
        expected = ARCHIVED if status == "ARCHIVED" else (200, response.json())
        assert verdict(response) == expected, (path, status)
    renamed = client.patch(f"/deployments/{d}/update-name", json={"name": "n"})
    assert renamed.status_code == 200  # no archived guard on rename
    tasks = client.get(f"/deployments/{d}/tasks")
    assert verdict(tasks)[0] == (500 if status == "ARCHIVED" else 200)
