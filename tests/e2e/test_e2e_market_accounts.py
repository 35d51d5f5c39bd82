"""Available nodes the way the dashboard reads them: the market account's node queue on chain.

The sandbox keeps every market's account at the market's address in the jobs program layout;
the client reads it with getMultipleAccounts / getAccountInfo and decodes it. Simulated time
moves only through the manual clock.
"""

from __future__ import annotations

import struct

import pytest

from nosana_nb.core.market_account import (
    MARKET_ACCOUNT_DISCRIMINATOR,
    QUEUE_TYPE_JOBS,
    QUEUE_TYPE_NODES,
    decode_market_account,
)
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.sandbox.worker.markets import find_market
from tests.e2e.conftest import MARKET_3060, Account, settle, wait_running

H100_COMMUNITY = find_market("nvidia-h100-community")


def idle_nodes(account: Account, address: str) -> int | None:
    (market,) = account.client.markets.with_idle_nodes(
        [m for m in account.client.markets.list() if m.address == address]
    )
    return market.idle_nodes


def test_the_account_bytes_follow_the_documented_layout(sandbox: SandboxHandle) -> None:
    raw = sandbox.chain.get_account(MARKET_3060)
    assert raw is not None
    data = bytes(raw.data)
    assert str(raw.owner) == "nosJhNRqr2bc9g1nfGDcXXTXvYUmxD4cVwy2pMWhrYM"
    assert data[:8] == MARKET_ACCOUNT_DISCRIMINATOR
    spec = find_market(MARKET_3060)
    assert spec is not None
    assert struct.unpack_from("<Q", data, 48)[0] == spec.job_price  # job_price at offset 48
    assert struct.unpack_from("<q", data, 56)[0] == spec.job_timeout_s
    assert data[146] in (QUEUE_TYPE_NODES, QUEUE_TYPE_JOBS, 255)
    (count,) = struct.unpack_from("<I", data, 147)
    assert len(data) == 151 + 32 * count


def test_idle_nodes_follow_claims_and_job_ends(sandbox: SandboxHandle, account: Account) -> None:
    before = idle_nodes(account, MARKET_3060)
    assert before is not None
    deployment = account.deploy(name="busy", replicas=2)
    deployment.start()
    wait_running(deployment)
    settle(sandbox)
    sandbox.advance(90)  # both jobs claimed by nodes
    running = [j for j in deployment.get_jobs() if str(j.state) == "RUNNING"]
    assert len(running) == 2
    assert idle_nodes(account, MARKET_3060) == before - 2
    accounts = account.client.markets.accounts([MARKET_3060])
    queue = accounts[MARKET_3060].queue  # type: ignore[union-attr]
    assert {j.node for j in running}.isdisjoint(queue)
    sandbox.advance(11 * 60)  # past the 10-minute timeout: both jobs ended
    assert idle_nodes(account, MARKET_3060) == before


def test_a_full_market_queues_jobs_instead(sandbox: SandboxHandle, account: Account) -> None:
    assert H100_COMMUNITY is not None
    assert H100_COMMUNITY.nodes == 1
    deployment = account.deploy(name="crowded", replicas=2, market=H100_COMMUNITY.address)
    deployment.start()
    wait_running(deployment)
    settle(sandbox)
    sandbox.advance(90)
    accounts = account.client.markets.accounts([H100_COMMUNITY.address])
    market_account = accounts[H100_COMMUNITY.address]
    assert market_account is not None
    assert (market_account.idle_nodes, market_account.queued_jobs) == (0, 1)
    (waiting,) = [j for j in deployment.get_jobs() if str(j.state) == "QUEUED"]
    assert market_account.queue == (waiting.job,)
    deployment.stop()
    sandbox.advance(60)


def test_a_missing_or_foreign_account_reads_as_unknown_or_refused(account: Account) -> None:
    nowhere = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
    assert account.client.markets.accounts([nowhere]) == {nowhere: None}
    with pytest.raises(ValueError, match="discriminator"):
        decode_market_account("x", bytes(151))
    with pytest.raises(ValueError, match="too short"):
        decode_market_account("x", MARKET_ACCOUNT_DISCRIMINATOR)
