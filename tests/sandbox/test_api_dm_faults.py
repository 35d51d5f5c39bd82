"""Fault injection: latency, error answers, dropped connections, the unknown-outcome case."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from solders.keypair import Keypair

from nosana_nb.sandbox import SandboxHandle, start
from tests.sandbox.dm_helpers import WalletAuth, create_body, owner_of

CREATE = create_body(name="f", timeout=5)


@pytest.fixture
def client(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.api_url, auth=WalletAuth(Keypair()), timeout=5) as http:
        yield http
    sandbox.set_faults()  # back to no faults


def test_error_rate_answers_5xx_before_the_handler(
    sandbox: SandboxHandle, client: httpx.Client
) -> None:
    sandbox.set_faults(error_rate=1.0, seed=3)
    statuses = set()
    for _ in range(12):
        response = client.post("/deployments/create", json=CREATE)
        assert response.headers["x-sandbox-fault"] == "error"
        statuses.add(response.status_code)
    assert statuses <= {500, 502, 503}
    assert len(statuses) > 1
    owner = owner_of(client)
    assert sandbox.store.find("deployments", owner=owner) == []  # nothing ran
    assert client.get("/health").status_code == 200  # not under /deployments
    assert client.get("/_sandbox/faults").json()["error_rate"] == 1.0  # admin never faulted


def test_after_commit_is_the_unknown_outcome(sandbox: SandboxHandle, client: httpx.Client) -> None:
    sandbox.set_faults(error_rate=1.0, after_commit=True)
    response = client.post("/deployments/create", json=CREATE)
    assert response.status_code in (500, 502, 503)
    owner = owner_of(client)
    assert len(sandbox.store.find("deployments", owner=owner)) == 1  # it did happen
    read = client.get("/deployments")
    assert read.status_code in (500, 502, 503)  # reads fail before the handler


def test_drop_rate_closes_the_connection(sandbox: SandboxHandle, client: httpx.Client) -> None:
    sandbox.set_faults(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/deployments")
    sandbox.set_faults()
    assert client.get("/deployments").status_code == 200  # the client recovers on a new socket


def test_latency(sandbox: SandboxHandle, client: httpx.Client) -> None:
    sandbox.set_faults(latency_ms=120)
    began = time.perf_counter()
    assert client.get("/deployments").status_code == 200
    assert time.perf_counter() - began >= 0.12


def test_seeded_faults_repeat(sandbox: SandboxHandle, client: httpx.Client) -> None:
    def run() -> list[int]:
        sandbox.set_faults(error_rate=0.5, seed=42)
        return [client.get("/deployments").status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert 200 in first
    assert any(code >= 500 for code in first)


def test_apply_to_and_admin_endpoint(sandbox: SandboxHandle, client: httpx.Client) -> None:
    configured = client.post(
        "/_sandbox/faults", json={"error_rate": 1, "apply_to": ["/api/markets"]}
    )
    assert configured.status_code == 200
    assert configured.json()["apply_to"] == ["/api/markets"]
    assert client.get("/api/markets").status_code >= 500
    assert client.get("/api/markets/nvidia-3060").status_code >= 500
    assert client.get("/deployments").status_code == 200
    for bad in ({"drop_rate": -1}, {"error_rate": 0.7, "drop_rate": 0.7}, {"nope": 1}):
        assert client.post("/_sandbox/faults", json=bad).status_code == 400


def test_faults_at_start() -> None:
    with start(db=":memory:", speed=None, faults={"error_rate": 1.0}) as sandbox:
        response = httpx.get(f"{sandbox.api_url}/deployments")
        assert response.status_code >= 500
        assert response.headers["x-sandbox-fault"] == "error"
