"""client.credits end to end: the balance and the jobs API (single jobs paid with credits),
against the in-process sandbox over real HTTP.

Every reply is validated against the API types fixture (tests/fixtures/, from ``@nosana/api``
2.1.8), so the client and the sandbox are both held to the service's shapes. Simulated time
moves only through the sandbox's manual clock. See docs/wire-contract.md#credits.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.errors import (
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    JobNotFoundError,
    NotFoundError,
    ValidationError,
    status_error_from_response,
)
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.validation import JobState
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.sandbox.worker.credits import credit_account, micro_usd
from nosana_nb.sandbox.worker.markets import find_market, network_fee
from tests.core.backends import make_backend
from tests.core.faults import FaultyTransport
from tests.wire_schema import ReplyChecker, watch_replies

MARKET = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
JOB = container_job("docker.io/library/alpine:3", ["sleep", "3600"])
MICRO = Decimal(10**6)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    handle = start(db=":memory:", speed=None, seed=23)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(autouse=True)
def replies_match_the_api_types(monkeypatch: pytest.MonkeyPatch) -> Iterator[ReplyChecker]:
    checker = ReplyChecker()
    watch_replies(monkeypatch, checker)
    yield checker
    assert not checker.problems, "\n".join(checker.problems[:20])


def assign(sandbox: SandboxHandle, api_key: str, usd: str) -> None:
    reply = httpx.post(f"{sandbox.api_url}/_sandbox/credits", json={"api_key": api_key, "usd": usd})
    reply.raise_for_status()


def key_client(sandbox: SandboxHandle, api_key: str, **options: Any) -> NosanaClient:
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    return NosanaClient(network, Wallet.generate(), api_key=api_key, env={}, **options)


@pytest.fixture(scope="module")
def cid(sandbox: SandboxHandle) -> str:
    with key_client(sandbox, "nos_credit_jobs_pin") as client:
        return client.jobs.pin_job_definition(JOB)


def stored(sandbox: SandboxHandle, address: str) -> dict[str, Any]:
    job = sandbox.store.find_one("jobs", job=address)
    assert job is not None
    return job


def run_until_claimed(sandbox: SandboxHandle, client: NosanaClient, address: str) -> Any:
    for _ in range(20):
        job = client.credits.get_job(address)
        if job.state is not JobState.QUEUED:
            return job
        sandbox.advance(15)
    raise AssertionError(f"job {address} was never claimed")


def test_list_extend_stop_move_the_credits(sandbox: SandboxHandle, cid: str) -> None:
    key = "nos_credit_jobs_key_0001"
    assign(sandbox, key, "10")
    with key_client(sandbox, key) as client:
        assert client.credits.balance().available == Decimal(10)

        listed = client.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=timedelta(hours=1))
        cost = listed.credits.cost_usd
        assert cost > 0
        assert listed.credits.credits_used == cost
        held = client.credits.balance()
        assert (held.reserved_credits, held.available) == (cost, Decimal(10) - cost)

        queued = client.credits.get_job(listed.job)
        assert (queued.state, queued.timeout, queued.market) == (JobState.QUEUED, 3600, MARKET)
        assert queued.ipfs_job == cid
        assert queued.job_definition["ops"][0]["args"]["image"]
        assert queued.project == listed.credits.project == queued.payer

        running = run_until_claimed(sandbox, client, listed.job)
        assert running.state is JobState.RUNNING
        assert running.node != queued.node
        price = int(running.price)

        extended = client.credits.extend_job(listed.job, timedelta(minutes=30))
        assert client.credits.get_job(listed.job).timeout == 3600 + 1800
        assert extended.credits.cost_usd > 0
        more = client.credits.balance()
        assert more.reserved_credits == cost + extended.credits.cost_usd

        # run 10 minutes, or until just before the container's own exit (a seeded share of
        # jobs exits early), then stop it
        planned = stored(sandbox, listed.job)["run_seconds"]
        wanted = 600 if planned is None else min(600, int(planned) - 1)
        sandbox.advance(int(running.time_start) + wanted - sandbox.clock.now())
        stopped = client.credits.stop_job(listed.job)
        assert stopped.delisted is False
        assert stopped.job == listed.job
        ended = client.credits.get_job(listed.job)
        assert ended.state is JobState.STOPPED
        ran = int(ended.time_end) - int(ended.time_start)
        assert ran == wanted
        # settled: the node's pay for the time it ran, plus both fees (never refunded)
        doc = stored(sandbox, listed.job)
        assert int(doc["paid"]) == price * ran
        fees = int(doc["fees_paid"])
        assert fees == (price * 3600) // 10 + (price * 1800) // 10
        after = client.credits.balance()
        assert after.reserved_credits == 0
        used = after.settled_credits
        assert Decimal(0) < used < cost + extended.credits.cost_usd
        assert used == _usd(price * ran) + _usd(fees)
        assert after.available == Decimal(10) - used


def _usd(base_units: int) -> Decimal:
    """NOS base units at the sandbox's 0.30 USD/NOS, in micro-USD rounded up, as USD."""
    exact = Decimal(base_units) * Decimal("0.30")
    return exact.to_integral_value(rounding="ROUND_CEILING") / MICRO


def test_an_extended_job_runs_past_its_first_timeout(sandbox: SandboxHandle, cid: str) -> None:
    key = "nos_credit_jobs_key_0002"
    assign(sandbox, key, "10")
    with key_client(sandbox, key) as client:
        listed = client.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=600)
        running = run_until_claimed(sandbox, client, listed.job)
        client.credits.extend_job(listed.job, 600)
        planned = stored(sandbox, listed.job).get("run_seconds")
        sandbox.advance(int(running.time_start) + 1200 - sandbox.clock.now() + 1)
        ended = client.credits.get_job(listed.job)
        assert ended.state is JobState.COMPLETED
        ran = int(ended.time_end) - int(ended.time_start)
        # the container's own exit, else the extended on-chain timeout (not the first 600 s)
        assert ran == (min(int(planned), 1200) if planned is not None else 1200)
        balance = client.credits.balance()
        assert balance.reserved_credits == 0
        assert balance.settled_credits > 0


def test_stopping_a_queued_job_delists_it(sandbox: SandboxHandle, cid: str) -> None:
    key = "nos_credit_jobs_key_0003"
    assign(sandbox, key, "1")
    with key_client(sandbox, key) as client:
        listed = client.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=600)
        stopped = client.credits.stop_job(listed.job)
        assert stopped.delisted is True
        job = client.credits.get_job(listed.job)
        assert job.state is JobState.STOPPED
        assert int(job.time_start) == 0
        fee = int(stored(sandbox, listed.job)["fees_paid"])
        assert client.credits.balance().settled_credits == _usd(fee)  # only the fee is kept
        with pytest.raises(BadRequestError, match="already ended"):
            client.credits.stop_job(listed.job)
        with pytest.raises(BadRequestError, match="already ended"):
            client.credits.extend_job(listed.job, 60)


def test_a_job_posted_for_one_node_runs_on_that_node(sandbox: SandboxHandle, cid: str) -> None:
    key = "nos_credit_jobs_key_0007"
    assign(sandbox, key, "1")
    node = sandbox.worker.market_nodes(MARKET)[-1]
    with key_client(sandbox, key) as client:
        listed = client.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=600, node=node)
        assert stored(sandbox, listed.job)["target_node"] == node
        running = run_until_claimed(sandbox, client, listed.job)
        assert running.node == node
        client.credits.stop_job(listed.job)


def test_a_deployments_job_reads_as_the_chain_holds_it(sandbox: SandboxHandle) -> None:
    """GET /api/jobs/{address} answers for any job: a deployment's too, its vault paying."""
    wallet = Wallet.generate()
    backend = make_backend("sandbox", wallet, sandbox)
    with backend.client(wallet) as client:
        deployment = backend.deployment(client, "RUNNING", timeout=timedelta(minutes=20))
        (job,) = deployment.get_jobs().to_list()
        (revision,) = deployment.get_revisions().to_list()
        on_chain = client.credits.get_job(job.job)
    assert (on_chain.market, on_chain.timeout) == (MARKET, 1200)
    assert on_chain.payer == on_chain.project == deployment.state.vault
    assert on_chain.ipfs_job == revision.ipfs_definition_hash
    assert on_chain.job_definition == revision.job_definition
    assert on_chain.state in (JobState.QUEUED, JobState.RUNNING)


def _required_usd(seconds: int) -> Decimal:
    """What the service names as Required for ``seconds`` on MARKET: deposit + fee, in cents."""
    spec = find_market(MARKET)
    assert spec is not None
    deposit = spec.job_price * seconds
    return (Decimal(micro_usd(deposit + network_fee(deposit))) / MICRO).quantize(Decimal("0.01"))


def test_insufficient_credits_refuse_the_listing(sandbox: SandboxHandle, cid: str) -> None:
    key = "nos_credit_jobs_key_0004"
    assign(sandbox, key, "0.01")
    with key_client(sandbox, key) as client:
        with pytest.raises(InsufficientCreditsError) as refused:
            client.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=timedelta(hours=10))
        assert client.credits.balance().reserved_credits == 0
        assert sandbox.store.find("jobs", credit_account=credit_account(key)) == []
    error = refused.value
    assert isinstance(error, BadRequestError)  # existing `except BadRequestError` still catch it
    assert error.status_code == 400
    assert error.error_text.startswith("Insufficient credits. Available: $0.01, Required: $")
    assert (error.available, error.required) == (Decimal("0.01"), _required_usd(36_000))
    assert error.describe() == (
        f"Not enough credits: this needs ${_required_usd(36_000)} and the API key has $0.01 "
        "available. Add credits to the key, or list fewer or shorter jobs."
    )
    assert key not in str(error)
    assert key not in repr(error.args)


async def test_insufficient_credits_refuse_an_extension_async(
    sandbox: SandboxHandle, cid: str
) -> None:
    key = "nos_credit_jobs_key_0005"
    listing = _required_usd(600)
    assign(sandbox, key, str(listing + Decimal("0.01")))
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    async with AsyncNosanaClient(network, Wallet.generate(), api_key=key, env={}) as client:
        listed = await client.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=600)
        left = (await client.credits.balance()).available
        with pytest.raises(InsufficientCreditsError) as refused:
            await client.credits.extend_job(listed.job, timedelta(hours=5))
        await client.credits.stop_job(listed.job)
    assert refused.value.available == left.quantize(Decimal("0.01"))
    assert refused.value.required == _required_usd(5 * 3600)


def _job_counters(sandbox: SandboxHandle) -> dict[str, int]:
    stats = httpx.get(f"{sandbox.api_url}/stats").json()
    counters = stats["jobs"]
    assert set(counters) == {"listed", "extended", "stopped"}  # the service's shape, nothing more
    assert all(type(n) is int for n in counters.values())
    return dict(counters)


def test_stats_count_credit_jobs(sandbox: SandboxHandle, cid: str) -> None:
    """The open /stats route counts jobs of the jobs API like a deployment's (§5.20)."""
    key = "nos_credit_jobs_key_stats"
    assign(sandbox, key, "5")
    before = _job_counters(sandbox)
    with key_client(sandbox, key) as client:
        first = client.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=600)
        second = client.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=600)
        client.credits.extend_job(first.job, timedelta(minutes=5))
        client.credits.stop_job(first.job)
        client.credits.stop_job(second.job)
        with pytest.raises(BadRequestError):  # a refused stop changes no counter
            client.credits.stop_job(second.job)
    after = _job_counters(sandbox)
    assert {k: after[k] - before[k] for k in after} == {"listed": 2, "extended": 1, "stopped": 2}


def test_another_callers_job_is_not_found(sandbox: SandboxHandle, cid: str) -> None:
    assign(sandbox, "nos_credit_jobs_owner", "1")
    with key_client(sandbox, "nos_credit_jobs_owner") as owner:
        listed = owner.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=600)
    with key_client(sandbox, "nos_credit_jobs_other") as other:
        assert other.credits.get_job(listed.job).job_definition is not None  # reading is open
        with pytest.raises(JobNotFoundError):
            other.credits.stop_job(listed.job)
        with pytest.raises(JobNotFoundError):
            other.credits.extend_job(listed.job, 60)
        with pytest.raises(JobNotFoundError):
            other.credits.get_job(Wallet.generate().address)
    assert stored(sandbox, listed.job)["state"] == "QUEUED"


def test_refusals_of_the_service(sandbox: SandboxHandle, cid: str) -> None:
    key = "nos_credit_jobs_key_0005"
    assign(sandbox, key, "1")
    unpinned = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    with key_client(sandbox, key) as client:
        with pytest.raises(BadRequestError, match="No job definition is pinned"):
            client.credits.list_job(ipfs_hash=unpinned, market=MARKET)
        with pytest.raises(NotFoundError, match="Market not found"):
            client.credits.list_job(ipfs_hash=cid, market=Wallet.generate().address)
        with pytest.raises(BadRequestError, match="is not in market"):
            client.credits.list_job(ipfs_hash=cid, market=MARKET, node=Wallet.generate().address)
    raw = httpx.post(
        f"{sandbox.api_url}/api/jobs/list",
        json={"ipfsHash": cid, "market": MARKET, "timeout": "1.5"},
        headers={"authorization": f"Bearer {key}"},
    )
    assert (raw.status_code, raw.json()) == (
        400,
        {"error": "timeout must be a positive whole number of seconds"},
    )
    text_timeout = httpx.post(  # the types allow the timeout as text
        f"{sandbox.api_url}/api/jobs/list",
        json={"ipfsHash": cid, "market": MARKET, "timeout": "120"},
        headers={"authorization": f"Bearer {key}"},
    )
    assert text_timeout.status_code == 200
    assert stored(sandbox, text_timeout.json()["job"])["timeout_s"] == 120


def test_the_jobs_api_wants_authentication(sandbox: SandboxHandle, cid: str) -> None:
    for path in ("/api/jobs/list", f"/api/jobs/{'1' * 43}/stop", f"/api/jobs/{'1' * 43}/extend"):
        reply = httpx.post(f"{sandbox.api_url}{path}", json={"ipfsHash": cid, "market": MARKET})
        assert reply.status_code == 401, path
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    # a key with no credits: listing is refused for funds, not for auth
    with (
        NosanaClient(network, Wallet.generate(), api_key="nos_x", env={}) as client,
        pytest.raises(InsufficientCreditsError, match="Insufficient credits"),
    ):
        client.credits.list_job(ipfs_hash=cid, market=MARKET)
    bad = httpx.post(
        f"{sandbox.api_url}/api/jobs/list",
        json={"ipfsHash": cid, "market": MARKET},
        headers={"authorization": "Bearer not-a-key"},
    )
    assert bad.status_code == 401
    with pytest.raises(AuthenticationError):
        raise_for(bad)


def raise_for(reply: httpx.Response) -> None:
    raise status_error_from_response(
        reply.status_code,
        reply.content,
        reply.headers.get("content-type"),
        method="POST",
        url=str(reply.url),
    )


async def test_the_async_client_lists_and_stops(sandbox: SandboxHandle, cid: str) -> None:
    key = "nos_credit_jobs_key_0006"
    assign(sandbox, key, "1")
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    async with AsyncNosanaClient(network, Wallet.generate(), api_key=key, env={}) as client:
        listed = await client.credits.list_job(ipfs_hash=cid, market=MARKET, timeout=600)
        assert (await client.credits.get_job(listed.job)).state is JobState.QUEUED
        assert (await client.credits.stop_job(listed.job)).delisted is True
        assert (await client.credits.balance()).reserved_credits == 0


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda c: c.credits.list_job(ipfs_hash="nope", market=MARKET), "ipfs_hash"),
        (lambda c: c.credits.list_job(ipfs_hash="Qm" + "1" * 44, market="x"), "market"),
        (
            lambda c: c.credits.list_job(ipfs_hash="Qm" + "1" * 44, market=MARKET, timeout=1.5),
            "timeout",
        ),
        (
            lambda c: c.credits.list_job(ipfs_hash="Qm" + "1" * 44, market=MARKET, timeout=-5),
            "timeout",
        ),
        (lambda c: c.credits.extend_job(MARKET, 0), "seconds"),
        (lambda c: c.credits.extend_job(MARKET, float("nan")), "seconds"),
        (lambda c: c.credits.extend_job(MARKET, True), "seconds"),
        (lambda c: c.credits.stop_job("1" * 32), "43-44 character"),
        (lambda c: c.credits.get_job("é" * 43), "address"),
    ],
)
def test_bad_arguments_fail_before_sending(sandbox: SandboxHandle, call: Any, needle: str) -> None:
    recorder = FaultyTransport.over_http()
    with (
        key_client(sandbox, "nos_credit_jobs_args", transport=recorder) as client,
        pytest.raises(ValidationError, match=needle),
    ):
        call(client)
    assert recorder.seen == []


@pytest.mark.parametrize(
    "body",
    [
        '{"ipfsHash": "%(cid)s", "market": "%(market)s", "timeout": 1e400}',
        '{"ipfsHash": "%(cid)s", "market": "%(market)s", "timeout": -5}',
        '{"ipfsHash": "%(cid)s", "market": "%(market)s", "timeout": 0}',
        '{"ipfsHash": "%(cid)s", "market": "%(market)s", "timeout": true}',
        '{"ipfsHash": "%(cid)s", "market": "%(market)s", "timeout": [600]}',
        '{"ipfsHash": "%(cid)s", "market": "%(market)s", "timeout": "ten"}',
        '{"ipfsHash": "%(cid)s", "market": "%(market)s", "timeout": 1e30}',
        '{"ipfsHash": "%(cid)s", "market": "%(market)s", "node": "é"}',
        '{"ipfsHash": "%(long)s", "market": "%(market)s"}',
        '{"ipfsHash": 5, "market": "%(market)s"}',
        '{"market": "%(market)s"}',
        '{"ipfsHash": "%(cid)s", "market": "%(market)s", "x": %(deep)s}',
        '"just text"',
    ],
)
def test_hostile_listing_bodies_get_a_400_and_no_job(
    sandbox: SandboxHandle, cid: str, body: str
) -> None:
    key = "nos_credit_jobs_hostile"
    assign(sandbox, key, "1")
    text = body % {
        "cid": cid,
        "market": MARKET,
        "long": "Q" * 100_000,
        "deep": "[" * 500 + "]" * 500,
    }
    before = len(sandbox.store.find("jobs", credit_account=credit_account(key)))
    reply = httpx.post(
        f"{sandbox.api_url}/api/jobs/list",
        content=text.encode(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert reply.status_code == 400, reply.text
    assert len(reply.content) < 2_000  # the refusal does not echo a huge body
    assert len(sandbox.store.find("jobs", credit_account=credit_account(key))) == before
    assert sandbox.unhandled_errors == 0
