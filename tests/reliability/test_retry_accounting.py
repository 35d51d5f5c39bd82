"""Retries against the embedded sandbox over real HTTP: counted once each, whatever the transport.

Faults are injected by a transport in front of the real one (``tests/core/faults.py``), so each
is known: which request it hit and whether the policy retries it. Retry waits run on the
sandbox's manual clock (``ManualSleeper(sandbox.clock)``); only the watcher's background thread
is waited for, with a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import NetworkConfig, local_network
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import APIConnectionError, InvalidStateError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.frames import fleet_events_dataframe
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.watch import Watcher
from tests.core.faults import FaultyTransport
from tests.core.manual_time import ManualSleeper

pytestmark = pytest.mark.timeout(120)

WAIT = 15.0
API_KEY = "nos_sandbox_key_0123456789abcdef"
JOB = container_job("docker.io/library/ubuntu:24.04", ["echo", "hi"], gpu=False)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    handle = sandbox_module.start(db=":memory:", speed=None, seed=0)
    yield handle
    handle.stop()


@pytest.fixture
def network(sandbox: SandboxHandle) -> NetworkConfig:
    return local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)


@pytest.fixture
def wallet(sandbox: SandboxHandle) -> Wallet:
    owner = Wallet.generate()
    sandbox.faucet(owner, sol=5, nos=1000)
    return owner


def _until(condition: object, timeout: float = WAIT) -> bool:
    """Wait for the watcher's thread (real time, bounded) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return bool(condition())  # type: ignore[operator]


def _create(client: NosanaClient, vault: str | None = None) -> Deployment:
    return client.deployments.create(
        name="counted",
        market=client.markets.get("nvidia-3060").address,
        replicas=1,
        timeout=timedelta(hours=1),
        job_definition=JOB,
        vault=vault,
    )


def test_retries_total_counts_each_retried_fault_once(
    sandbox: SandboxHandle, network: NetworkConfig, wallet: Wallet
) -> None:
    faults = FaultyTransport.over_http()
    sleeper = ManualSleeper(sandbox.clock)
    client = NosanaClient(network, wallet, transport=faults, env={}, sleeper=sleeper)
    retried: list[str] = []
    started = sandbox.clock.now()

    # a POST that never left (DNS): resent as it is
    faults.plan("POST", "/deployments/vaults/create", "dns")
    vault = client.vaults.create()
    retried.append("vault POST, dns")

    # a Solana RPC read answered 503: retried
    faults.plan("POST", "/rpc", "503")
    assert vault.get_balance().lamports == 0
    retried.append("rpc getBalance, 503")
    vault.topup(sol="0.05", nos="50")

    # a create whose reply was lost after it landed: reconciled (found, not resent)
    faults.plan("POST", "/deployments/create", "drop_after")
    deployment = _create(client, vault.address)
    retried.append("create POST, dropped after commit")
    assert len(sandbox.store.find("deployments", owner=wallet.address)) == 1

    # a read answered 502 by a proxy: retried
    faults.plan("GET", f"/deployments/{deployment.id}/jobs", "502")
    assert deployment.get_jobs().to_list() == []
    retried.append("jobs GET, 502")

    # not retried: a withdraw whose reply was lost may have been applied; a domain refusal
    faults.plan("POST", f"/deployments/vaults/{vault.address}/withdraw", "drop_after")
    with pytest.raises(APIConnectionError) as lost:
        vault.withdraw()
    assert lost.value.request_sent is True
    with pytest.raises(InvalidStateError):
        deployment.archive()  # a DRAFT cannot be archived: final, whatever its HTTP 500

    # the live stream broke after its first frame: the watcher reconnects
    stream_path = f"/deployments/{deployment.id}/stream"
    faults.plan("GET", stream_path, "cut_stream")
    with Watcher(client, deployment, reconnect_backoff=(0.5, 2.0)) as watcher:
        assert watcher.wait_connected(WAIT, connects=2), watcher.status
    retried.append("stream, cut after the snapshot")

    assert [p.kind for p in faults.injected] == [
        "dns",
        "503",
        "drop_after",
        "502",
        "drop_after",
        "cut_stream",
    ]
    assert client.retries_total == len(retried) == 5
    assert len(faults.requests("GET", stream_path)) == 2
    assert len(faults.requests("POST", "/deployments/create")) == 1  # never resent
    assert len(faults.requests("POST", f"/deployments/vaults/{vault.address}/withdraw")) == 1
    # every retry but the reconciliation (its create had landed) waited, in simulated time only
    assert len(sleeper.sleeps) == 4
    assert sandbox.clock.now() - started == pytest.approx(sum(sleeper.sleeps))
    client.close()


def test_watcher_and_fleet_work_with_an_api_key_client_over_a_custom_transport(
    sandbox: SandboxHandle, network: NetworkConfig, wallet: Wallet
) -> None:
    recording = FaultyTransport.over_http()  # no faults planned: it only records
    client = NosanaClient(
        network,
        wallet,
        api_key=API_KEY,
        timeout=12.5,
        max_retries=4,
        transport=recording,
        env={},
        sleeper=ManualSleeper(sandbox.clock),
    )
    httpx.post(f"{sandbox.api_url}/_sandbox/credits", json={"api_key": API_KEY, "usd": "1"})
    deployment = _create(client)  # paid with the API key's credits: no vault funds check
    creates = recording.requests("POST", "/deployments/create")
    assert [s.headers.get("x-nosana-api") for s in creates] == [API_KEY]
    assert sandbox.store.find_one("deployments", id=deployment.id) is not None

    before = len(recording.seen)
    with Watcher(client, deployment) as watcher:
        assert watcher.wait_connected(WAIT), watcher.status
        assert _until(lambda: any(r.get("status") == "DRAFT" for r in watcher.rows))
    watched = recording.seen[before:]
    stream = [s for s in watched if s.path == f"/deployments/{deployment.id}/stream"]
    assert len(stream) == 1  # the watcher's own client went through our transport...
    assert stream[0].timeout["connect"] == 12.5  # ...with our timeout
    assert {s.timeout["read"] for s in watched if s not in stream} == {12.5}
    assert all("x-nosana-api" not in s.headers for s in watched)  # the key goes to create only

    deployment.start()  # something to fetch: its start is an event
    before = len(recording.seen)
    frame = fleet_events_dataframe(client, [deployment.id], progress=False)
    fetched = recording.seen[before:]
    events = {s.path for s in fetched if s.path.endswith("/events")}
    assert events == {f"/deployments/{deployment.id}/events"}
    assert {s.timeout["read"] for s in fetched} == {12.5}
    assert len(frame) >= 1
    assert list(frame["deployment"].unique()) == [deployment.id]
    client.close()
