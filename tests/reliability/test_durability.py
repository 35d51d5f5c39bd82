"""Durability: SIGKILL the sandbox process mid-load, restart it on the same file, and find every
acknowledged write still there, with the chain's books balanced.

The sandbox runs as a real subprocess (``python -m nosana_nb.cli sandbox``) so the kill is a
real crash: no shutdown hook, no final flush.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.token.state import Mint, TokenAccount

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import InvalidStateError, NosanaError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox.chain.money import NETWORK_REWARDS_AUTHORITY
from nosana_nb.sandbox.worker.markets import MARKETS

TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
NOS = 10**6
TOKEN_ACCOUNT_LEN = 165  # SPL token account layout; mints are 82 bytes
FAUCET_SOL = Decimal("20")
FAUCET_NOS = Decimal("400")
ACKED_BEFORE_KILL = 40
START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def sandbox_process(db: Path, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The sandbox CLI on a free port with a manual clock; killed if the test leaves it up."""
    port = _free_port()
    command = [sys.executable, "-m", "nosana_nb.cli", "sandbox"]
    command += ["--port", str(port), "--db", str(db), "--speed", "0", "--seed", "3"]
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(process, url, log)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the sandbox exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the sandbox did not come up on {url}")


@dataclass
class Acked:
    """Writes the sandbox acknowledged, per deployment, plus the one in flight at the kill."""

    wallet: Wallet
    vault: str = ""
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    topups: list[str] = field(default_factory=list)
    in_flight: tuple[str, str, Any] | None = None
    count: int = 0
    stopped_by: BaseException | None = None


def _client(url: str, wallet: Wallet) -> NosanaClient:
    nos_mint = httpx.get(f"{url}/_sandbox/info", timeout=5).json()["nos_mint"]
    return NosanaClient(local_network(url, nos_mint=nos_mint), wallet, env={}, max_retries=0)


def _load(client: NosanaClient, acked: Acked, stop: threading.Event) -> None:
    """Sequential writes until the server dies under us; only acknowledged ones are recorded."""
    rng = random.Random(7)
    handles: dict[str, Deployment] = {}
    vault = client.vaults.get(acked.vault)
    step = 0
    try:
        while not stop.is_set():
            step += 1
            choice = rng.random()
            if not handles or choice < 0.25:
                name = f"durable-{step}"
                acked.in_flight = ("?", "create", name)
                created = client.deployments.create(
                    name=name,
                    market=MARKETS[0].address,
                    replicas=1,
                    timeout=3600,
                    job_definition=container_job("alpine:3", ["sleep", "60"], gpu=False),
                    vault=acked.vault,
                    check_funds=False,
                )
                handles[created.id] = created
                acked.deployments[created.id] = {
                    "name": name,
                    "replicas": 1,
                    "timeout": 60,
                    "started": False,
                }
            elif choice < 0.35:
                acked.in_flight = ("", "topup", None)
                acked.topups.append(vault.topup(nos=Decimal("0.25")))
            else:
                deployment_id = rng.choice(sorted(handles))
                _update(rng, handles[deployment_id], acked, step)
            acked.in_flight = None
            acked.count += 1
    except NosanaError as error:
        acked.stopped_by = error


def _update(rng: random.Random, handle: Deployment, acked: Acked, step: int) -> None:
    record = acked.deployments[handle.id]
    kind = rng.choice(["replicas", "timeout", "name", "start"])
    if kind == "start":
        acked.in_flight = (handle.id, "started", True)
        try:
            handle.start(check_funds=False)
        except InvalidStateError:
            return  # already started: a definite refusal, nothing written
        record["started"] = True
        return
    value: Any = {
        "replicas": rng.randint(0, 3),
        "timeout": rng.randint(1, 5) * 60,
        "name": f"renamed-{step}",
    }[kind]
    acked.in_flight = (handle.id, kind, value)
    if kind == "replicas":
        handle.update_replicas(value)
    elif kind == "timeout":
        handle.update_timeout(value * 60)
    else:
        handle.rename(value)
    record[kind] = value


def _check_acknowledged(client: NosanaClient, acked: Acked) -> list[str]:
    problems = []
    listed = {d.id for d in client.deployments.list()}
    extra = listed - set(acked.deployments)
    create_in_flight = acked.in_flight is not None and acked.in_flight[1] == "create"
    if len(extra) > (1 if create_in_flight else 0):
        problems.append(f"deployments nobody created: {sorted(extra)}")
    for deployment_id, record in acked.deployments.items():
        if deployment_id not in listed:
            problems.append(f"acknowledged create {deployment_id} is gone")
            continue
        state = client.deployments.get(deployment_id).state
        for name in ("name", "replicas", "timeout"):
            actual = getattr(state, name)
            maybe = acked.in_flight == (deployment_id, name, actual)
            if actual != record[name] and not maybe:
                problems.append(f"{deployment_id}.{name} = {actual!r}, acked {record[name]!r}")
        if record["started"] and str(state.status) == "DRAFT":
            problems.append(f"acknowledged start of {deployment_id} is gone")
    for signature in acked.topups:
        if client.rpc.get_transaction(signature) is None:
            problems.append(f"acknowledged top-up {signature} is gone")
    return problems


def _rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def _check_ledger(db: Path, acked: Acked) -> list[str]:
    """Tokens: every NOS unit the faucet minted sits with a known holder. Lamports: every
    transaction moved -fee in total, and each account holds what its last transaction left."""
    problems = []
    meta = dict(_rows(db, "SELECT key, value FROM chain_meta"))
    escrow = str(Keypair.from_base58_string(meta["escrow_authority"]).pubkey())
    mint = str(Keypair.from_base58_string(meta["mint"]).pubkey())
    accounts = {
        pubkey: (lamports, bytes(data), owner)
        for pubkey, lamports, data, owner in _rows(
            db, "SELECT pubkey, lamports, data, owner FROM chain_accounts"
        )
    }
    jobs = [json.loads(body) for (body,) in _rows(db, "SELECT body FROM doc_jobs")]
    nodes = {str(j["node"]) for j in jobs if j.get("node")}
    holders = {
        acked.wallet.address: "wallet",
        acked.vault: "vault",
        escrow: "escrow",
        str(NETWORK_REWARDS_AUTHORITY): "network rewards",  # the fees listings paid
    }
    holders.update({node: "node" for node in nodes})
    held: dict[str, int] = {}
    for _, data, owner in accounts.values():
        if owner != TOKEN_PROGRAM or len(data) != TOKEN_ACCOUNT_LEN:
            continue
        token = TokenAccount.from_bytes(data)
        if str(token.mint) != mint or token.amount == 0:
            continue
        kind = holders.get(str(token.owner), f"stranger {token.owner}")
        held[kind] = held.get(kind, 0) + token.amount
    minted = int(FAUCET_NOS * NOS)
    if sum(held.values()) != minted or any(k.startswith("stranger") for k in held):
        problems.append(f"NOS held {held} != minted {minted}")
    supply = Mint.from_bytes(accounts[mint][1]).supply
    if supply != minted:
        problems.append(f"mint supply {supply} != minted {minted}")
    last_seen: dict[str, int] = {}
    for signature, raw_meta, raw in _rows(
        db, "SELECT signature, meta, raw FROM chain_transactions ORDER BY seq"
    ):
        tx_meta = json.loads(raw_meta)
        keys = _account_keys(bytes(raw))
        moved = sum(tx_meta["postBalances"]) - sum(tx_meta["preBalances"])
        if moved != -int(tx_meta["fee"]):
            problems.append(f"{signature} moved {moved} lamports with fee {tx_meta['fee']}")
        last_seen.update(zip(keys, tx_meta["postBalances"], strict=True))
    for pubkey, (lamports, _, _) in accounts.items():
        if pubkey in last_seen and last_seen[pubkey] != lamports:
            problems.append(
                f"{pubkey} holds {lamports}, its last transaction left {last_seen[pubkey]}"
            )
    return problems


def _account_keys(raw: bytes) -> list[str]:
    from solders.transaction import VersionedTransaction

    return [str(k) for k in VersionedTransaction.from_bytes(raw).message.account_keys]


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    log = tmp_path / "sandbox.log"
    acked = Acked(wallet=Wallet.generate())
    with sandbox_process(db, log) as (process, url):
        faucet = {"wallet": acked.wallet.address, "sol": str(FAUCET_SOL), "nos": str(FAUCET_NOS)}
        assert httpx.post(f"{url}/_sandbox/faucet", json=faucet, timeout=10).status_code == 200
        with _client(url, acked.wallet) as client:
            vault = client.vaults.create()
            acked.vault = vault.address
            acked.topups.append(vault.topup(sol="5", nos="100"))
            stop = threading.Event()
            loader = threading.Thread(target=_load, args=(client, acked, stop))
            loader.start()
            deadline = time.monotonic() + 60
            while acked.count < ACKED_BEFORE_KILL and loader.is_alive():
                assert time.monotonic() < deadline, "the load made no progress"
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)  # mid-request: the loader is still sending
            process.wait(timeout=10)
            stop.set()
            loader.join(timeout=60)
    assert acked.stopped_by is not None, "the kill should have interrupted the load"
    assert len(acked.deployments) >= 5

    with sandbox_process(db, log) as (process, url):
        with _client(url, acked.wallet) as client:
            problems = _check_acknowledged(client, acked)
        process.send_signal(signal.SIGTERM)  # graceful this time, so the file is quiet
        process.wait(timeout=20)
    assert problems == []
    assert _check_ledger(db, acked) == []


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL semantics")
def test_ledger_check_notices_a_missing_token_holder(tmp_path: Path) -> None:
    """Guards the ledger check itself: an unknown holder of NOS is reported."""
    db = tmp_path / "sandbox.db"
    log = tmp_path / "sandbox.log"
    acked = Acked(wallet=Wallet.generate())
    with sandbox_process(db, log) as (process, url):
        faucet = {"wallet": acked.wallet.address, "nos": str(FAUCET_NOS)}
        httpx.post(f"{url}/_sandbox/faucet", json=faucet, timeout=10).raise_for_status()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    stranger = Acked(wallet=Wallet.from_keypair(Keypair()), vault=str(Pubkey.default()))
    assert _check_ledger(db, acked) == []
    assert any("stranger" in p for p in _check_ledger(db, stranger))
