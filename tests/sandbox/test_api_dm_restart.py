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
