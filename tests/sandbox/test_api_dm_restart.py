"""A restart on the same SQLite file resumes everything the API acknowledged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from nosana_nb.sandbox import default_db_path, start
from tests.sandbox.dm_helpers import MARKET, WalletAuth

JOB_DEFINITION = {
    "version": "0.1",
    "type": "container",
    "ops": [{"id": "a", "type": "container/run", "args": {"image": "x", "expose": 80}}],
}


def snapshot(client: httpx.Client, deployment: str) -> dict[str, Any]:
    return {
        path: client.get(f"/deployments/{deployment}{path}", params={"limit": 100}).json()
        for path in ("", "/jobs", "/events", "/tasks", "/revisions")
    }


def test_restart_resumes_everything(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    wallet = Keypair()
    with (
        start(db=db, speed=None) as first,
        httpx.Client(base_url=first.api_url, auth=WalletAuth(wallet)) as client,
    ):
        created = client.post(
            "/deployments/create",
            json={
                "name": "keep me",
                "market": MARKET,
                "replicas": 2,
                "timeout": 120,
                "strategy": "SIMPLE",
                "job_definition": JOB_DEFINITION,
            },
        ).json()
        d = created["id"]
        first.faucet(created["vault"], sol="1", nos="100")
        assert client.post(f"/deployments/{d}/start").status_code == 200
        first.advance(600)
        before = snapshot(client, d)
        vaults = client.get("/deployments/vaults").json()
        clock_before = first.clock.now()
        balances = first.balances(created["vault"])
    assert before["/jobs"]["jobs"]
    assert before["/events"]["events"]

    with start(db=db, speed=None) as second:
        assert second.clock.now() >= clock_before
        with httpx.Client(base_url=second.api_url, auth=WalletAuth(wallet)) as client:
            after = snapshot(client, d)
            assert after == before
            assert client.get("/deployments/vaults").json() == vaults
            assert second.balances(created["vault"]) == balances
            revision = after["/revisions"]["revisions"][0]
            pinned = client.get(f"{second.api_url}/ipfs/{revision['ipfs_definition_hash']}")
            assert pinned.json() == revision["job_definition"]
            stopped = client.post(f"/deployments/{d}/stop")  # and it keeps working
            assert stopped.status_code == 200, stopped.text


def test_default_db_path_honours_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_db_path() == tmp_path / "nosana_nb" / "sandbox.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_db_path() == Path.home() / ".local" / "share" / "nosana_nb" / "sandbox.db"


def test_a_credit_job_survives_a_restart_and_settles(tmp_path: Path) -> None:
    """A job of the jobs API (paid with credits) keeps running after a restart on the same
    file, and its end releases the reservation and settles what it used."""
    db = tmp_path / "sandbox.db"
    key = {"authorization": "Bearer nos_restart_credits_key"}
    with start(db=db, speed=None) as first, httpx.Client(base_url=first.api_url) as client:
        assigned = client.post(
            "/_sandbox/credits", json={"api_key": "nos_restart_credits_key", "usd": "2"}
        )
        assert assigned.status_code == 200
        cid = client.post("/pinning/pinJSONToIPFS", json=JOB_DEFINITION).json()["IpfsHash"]
        listed = client.post(
            "/api/jobs/list", json={"ipfsHash": cid, "market": MARKET, "timeout": 900}, headers=key
        ).json()
        first.advance(120)  # a node claims it
        assert client.get(f"/api/jobs/{listed['job']}").json()["state"] == 1
        reserved = client.get("/api/credits/balance", headers=key).json()["reservedCredits"]
    assert reserved == listed["credits"]["costUSD"] > 0

    with start(db=db, speed=None) as second, httpx.Client(base_url=second.api_url) as client:
        extended = client.post(
            f"/api/jobs/{listed['job']}/extend", json={"seconds": 300}, headers=key
        )
        assert extended.status_code == 200
        second.advance(1300)  # past the extended timeout (or the container's own exit)
        job = client.get(f"/api/jobs/{listed['job']}").json()
        balance = client.get("/api/credits/balance", headers=key).json()
    assert job["state"] == 2  # COMPLETED by its node
    assert job["timeout"] == 1200
    assert 0 < job["timeEnd"] - job["timeStart"] <= 1200
    assert balance["reservedCredits"] == 0
    held = reserved + extended.json()["credits"]["costUSD"]
    assert 0 < balance["settledCredits"] <= held + 1e-9  # a full run uses all it reserved
