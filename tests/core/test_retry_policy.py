"""The one retry policy: what it retries, how it waits, and that every transport obeys it.

Waits run on a manual clock (``ManualSleeper``): simulated time moves, nothing sleeps. Faults
are injected by a transport in front of the backend, and the tests taking ``backend`` run in
front of the fake and of the real sandbox (tests/core/backends.py).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from nosana_nb.core import errors as E
from nosana_nb.core import retry_policy as policy
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.http import AsyncHTTP, SyncHTTP
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.retry_policy import Backoff, Retrier, RetryCounter, Verdict
from nosana_nb.core.wallet import Wallet
from tests.core.backends import Backend
from tests.core.fake_api import MARKET_3060
from tests.core.faults import FaultyTransport
from tests.core.manual_time import ManualSleeper

BASE = "http://127.0.0.1:3001"
JOB = container_job("alpine:3", ["echo", "hi"], gpu=False)


def status(cls: type[E.APIStatusError], code: int, text: str) -> E.APIStatusError:
    return cls("x", method="GET", url="u", status_code=code, body=None, error_text=text)


def connection(*, sent: bool) -> E.APIConnectionError:
    return E.APIConnectionError("x", method="POST", url="u", request_sent=sent)


# -- the decisions -----------------------------------------------------------------------------

CASES: list[tuple[str, BaseException, Verdict, bool]] = [
    # (label, failure, verdict, outcome unknown for a POST)
    ("refused before sending", connection(sent=False), Verdict.NOT_APPLIED, False),
    ("dropped after sending", connection(sent=True), Verdict.TRANSIENT, True),
    ("429", status(E.RateLimitError, 429, "slow down"), Verdict.NOT_APPLIED, False),
    ("408", status(E.APIStatusError, 408, "timeout"), Verdict.NOT_APPLIED, False),
    ("502", status(E.InternalServerError, 502, "Bad Gateway"), Verdict.TRANSIENT, True),
    ("503", status(E.InternalServerError, 503, ""), Verdict.TRANSIENT, True),
    ("504", status(E.InternalServerError, 504, "<html>"), Verdict.TRANSIENT, True),
    (
        "generic 500",
        status(E.InternalServerError, 500, "Internal Server Error"),
        Verdict.TRANSIENT,
        True,
    ),
    ("empty 500", status(E.InternalServerError, 500, ""), Verdict.TRANSIENT, True),
    (
        "handler's own 500",
        status(E.InternalServerError, 500, "Failed to get deployment jobs"),
        Verdict.FINAL,
        True,
    ),
    (
        "wrong state (500)",
        status(E.InvalidStateError, 500, "Deployment is in the incorrect state."),
        Verdict.FINAL,
        False,
    ),
    (
        "archived (500)",
        status(E.ArchivedDeploymentError, 500, "Cannot modify an archived deployment."),
        Verdict.FINAL,
        False,
    ),
    (
        "empty vault (500)",
        status(E.VaultEmptyError, 500, "Vault has no funds to withdraw."),
        Verdict.FINAL,
        False,
    ),
    ("404", status(E.DeploymentNotFoundError, 404, "Deployment not found."), Verdict.FINAL, False),
    ("400", status(E.BadRequestError, 400, "bad"), Verdict.FINAL, False),
    ("bad reply", E.APIResponseValidationError("x", method="GET", url="u"), Verdict.FINAL, False),
    ("rpc error", E.SolanaRPCError("blockhash not found", code=-32002), Verdict.FINAL, False),
    ("bad argument", E.ValidationError("no"), Verdict.FINAL, False),
]


@pytest.mark.parametrize(
    ("label", "failure", "verdict", "unknown"), CASES, ids=[c[0] for c in CASES]
)
def test_each_failure_is_classified_once(
    label: str, failure: BaseException, verdict: Verdict, unknown: bool
) -> None:
    assert policy.classify(failure) is verdict
    assert policy.outcome_unknown(failure) is unknown
    assert policy.is_retryable(failure, idempotent=True) is (verdict is not Verdict.FINAL)
    assert policy.is_retryable(failure, idempotent=False) is (verdict is Verdict.NOT_APPLIED)


def test_the_stream_reconnects_for_breaks_but_not_for_a_refusal() -> None:
    assert policy.reconnectable(E.StreamError("stalled"))
    assert policy.reconnectable(E.APIResponseValidationError("x", method="GET", url="u"))
    assert policy.reconnectable(status(E.InternalServerError, 503, ""))
    # the watcher used to retry every status >= 500, a domain refusal included
    wrong_state = status(E.InvalidStateError, 500, "Deployment is in the incorrect state.")
    assert not policy.reconnectable(wrong_state)
    assert not policy.reconnectable(status(E.NotFoundError, 404, "Deployment not found."))


def test_the_httpx_failures_that_come_before_sending() -> None:
    request = httpx.Request("POST", BASE)
    for unsent in (httpx.ConnectError("x"), httpx.ConnectTimeout("x"), httpx.PoolTimeout("x")):
        assert not policy.request_was_sent(unsent)
    for sent in (httpx.ReadError("x"), httpx.ReadTimeout("x"), httpx.RemoteProtocolError("x")):
        assert policy.request_was_sent(sent)
    assert policy.request_was_sent(httpx.WriteError("x", request=request))


# -- the schedule ------------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_caps() -> None:
    backoff = Backoff(max_retries=10, factor=0.5, cap=3.0, total_cap=None, jitter=0.5)
    for retry, (low, high) in enumerate([(0.5, 1.0), (1.0, 2.0), (1.5, 3.0), (3.0, 3.0)], 1):
        waits = [backoff.wait(retry) for _ in range(50)]
        assert all(low <= w <= high for w in waits), (retry, waits)
    assert len({backoff.wait(1) for _ in range(20)}) > 1  # jittered


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    backoff = Backoff(factor=0.5, cap=30.0)
    assert backoff.wait(1, retry_after="7") == 7.0
    assert backoff.wait(1, retry_after="600") == 30.0
    assert 0.5 <= backoff.wait(1, retry_after="soon") <= 1.0  # unreadable: the schedule


def test_the_total_wait_is_capped() -> None:
    backoff = Backoff(max_retries=10, factor=0.5, cap=30.0, total_cap=5.0)
    assert backoff.wait(1, retry_after="4", waited=3.0) == 2.0
    assert backoff.exhausted(1, 5.0)
    assert not backoff.exhausted(1, 4.9)
    assert Backoff(max_retries=None, total_cap=None).exhausted(10_000, 1e9) is False


def test_the_retrier_counts_into_a_shared_counter_and_resets() -> None:
    counter = RetryCounter()
    sleeper = ManualSleeper()
    retrier = Retrier(Backoff(max_retries=2, factor=0), counter=counter, sleeper=sleeper)
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise status(E.InternalServerError, 503, "")
        return "ok"

    assert retrier.call(flaky) == "ok"
    assert (len(attempts), retrier.retries, counter.total) == (3, 2, 2)
    retrier.reset()
    attempts.clear()
    assert retrier.call(flaky) == "ok"
    assert counter.total == 4
    with pytest.raises(E.InvalidStateError):
        retrier.call(lambda: (_ for _ in ()).throw(status(E.InvalidStateError, 500, "x")))
    assert counter.total == 4


# -- an injected http_client is retried exactly like the default one ---------------------------

SCRIPTS: dict[str, list[str]] = {
    "503, 502, then ok": ["503", "502"],
    "generic 500, then ok": ["500"],
    "drop mid-reply, then ok": ["drop_after"],
    "refused, 429, then ok": ["refuse", "429"],
    "too many faults": ["503", "503", "503", "503"],
}


def _exchange(
    backend: Backend, wallet: Wallet, deployment_id: str, faults: list[str], *, injected: bool
) -> dict[str, Any]:
    """GET a deployment through a fresh client with ``faults`` injected; what happened."""
    transport = FaultyTransport(inner=backend.transport.inner)
    for kind in faults:
        transport.plan("GET", "/deployments/", kind)
    sleeper = ManualSleeper()
    state = random.getstate()
    random.seed(8)  # the same jitter for both clients
    try:
        wiring: dict[str, Any] = (
            {"http_client": httpx.Client(transport=transport)}
            if injected
            else {"transport": transport}
        )
        with NosanaClient(backend.network, wallet, env={}, sleeper=sleeper, **wiring) as client:
            try:
                outcome: Any = client.deployments.get(deployment_id).state.status
            except E.NosanaError as err:
                outcome = type(err)
            result = {
                "outcome": outcome,
                "attempts": len(
                    transport.requests("GET", f"/deployments/{deployment_id}", exact=True)
                ),
                "retries_total": client.retries_total,
                "waits": list(sleeper.sleeps),
            }
        if injected:
            wiring["http_client"].close()
        return result
    finally:
        random.setstate(state)


@pytest.mark.parametrize("faults", list(SCRIPTS.values()), ids=list(SCRIPTS))
def test_an_injected_http_client_is_retried_like_the_default(
    faults: list[str], wallet: Wallet, backend: Backend
) -> None:
    with backend.client(wallet) as seeding:
        deployment_id = backend.deployment(seeding, "RUNNING").id
    default = _exchange(backend, wallet, deployment_id, faults, injected=False)
    injected = _exchange(backend, wallet, deployment_id, faults, injected=True)
    assert injected == default
    expected_attempts = min(len(faults), 3) + 1
    assert default["attempts"] == expected_attempts
    assert default["retries_total"] == expected_attempts - 1
    assert len(default["waits"]) == expected_attempts - 1
    if len(faults) > 3:
        assert default["outcome"] is E.InternalServerError
    else:
        assert default["outcome"] == "RUNNING"


async def test_an_injected_async_client_is_retried_like_the_default() -> None:
    results = []
    for injected in (False, True):
        transport = FaultyTransport.over(
            httpx.MockTransport(lambda r: httpx.Response(200, json={}))
        )
        for kind in ("503", "drop_after", "refuse"):
            transport.plan("GET", "/x", kind)
        sleeper = ManualSleeper()
        if injected:
            async with (
                httpx.AsyncClient(transport=transport) as own,
                AsyncHTTP(BASE, http_client=own, sleeper=sleeper) as http,
            ):
                assert await http.request("GET", "/x") == {}
                results.append((len(transport.seen), http.retries_total))
        else:
            async with AsyncHTTP(BASE, transport=transport, sleeper=sleeper) as http:
                assert await http.request("GET", "/x") == {}
                results.append((len(transport.seen), http.retries_total))
    assert results == [(4, 3), (4, 3)]


def test_an_injected_client_keeps_its_own_settings_but_gets_our_headers() -> None:
    transport = FaultyTransport.over(httpx.MockTransport(lambda r: httpx.Response(200, json={})))
    transport.plan("GET", "/x", "502")
    with httpx.Client(transport=transport, timeout=httpx.Timeout(4.5)) as own:
        http = SyncHTTP(BASE, http_client=own, sleeper=ManualSleeper())
        assert http.request("GET", "/x") == {}
        http.close()
        assert not own.is_closed
    assert [s.timeout["read"] for s in transport.seen] == [4.5, 4.5]
    assert all(s.headers["user-agent"] == "nosana_nb" for s in transport.seen)


# -- a POST that never left is resent without reconciliation -----------------------------------


def _create(client: NosanaClient) -> Any:
    return client.deployments.create(
        name="resent",
        market=MARKET_3060,
        replicas=1,
        timeout=3600,
        job_definition=JOB,
        check_funds=False,
    )


def _deployments_of(backend: Backend, wallet: Wallet) -> list[str]:
    """Ids of the wallet's deployments, read from the backend's own books (nothing sent)."""
    if backend.fake is not None:
        return list(backend.fake.deployments)
    assert backend.sandbox is not None
    return [d["id"] for d in backend.sandbox.store.find("deployments", owner=wallet.address)]


@pytest.fixture
def quiet_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.DEBUG, logger="nosana_nb"):
        yield caplog


@pytest.mark.parametrize("kind", ["refuse", "dns"])
def test_a_create_that_failed_at_connect_is_resent_once_without_reconciliation(
    backend: Backend, wallet: Wallet, kind: str, quiet_logs: pytest.LogCaptureFixture
) -> None:
    transport = backend.transport
    transport.plan("POST", "/deployments/create", kind)
    with backend.client(wallet, sleeper=ManualSleeper()) as c:
        created = _create(c)
        assert c.retries_total == 1
    assert [s.fault for s in transport.requests("POST", "/deployments/create")] == [kind, None]
    assert _deployments_of(backend, wallet) == [created.id]
    # no reconciliation: nothing looked for a landed create (GET /deployments?name=...)
    assert backend.requests("GET", "/deployments") == []
    text = quiet_logs.text
    assert "outcome unknown" not in text
    assert "resending" not in text
    assert "had landed" not in text


async def test_the_vault_post_after_a_dns_failure_is_resent_quietly(
    backend: Backend, wallet: Wallet, quiet_logs: pytest.LogCaptureFixture
) -> None:
    backend.transport.plan("POST", "/deployments/vaults/create", "dns")
    async with backend.aclient(wallet, sleeper=ManualSleeper()) as client:
        vault = await client.vaults.create()
        assert client.retries_total == 1
        assert [v.vault for v in await client.vaults.list()] == [vault.address]
    assert len(backend.requests("POST", "/deployments/vaults/create")) == 2
    assert "outcome unknown" not in quiet_logs.text


def test_a_create_dropped_after_it_landed_is_reconciled_not_resent(
    backend: Backend, wallet: Wallet, quiet_logs: pytest.LogCaptureFixture
) -> None:
    """The contrast: once the request may have arrived, the client looks before resending."""
    backend.transport.plan("POST", "/deployments/create", "drop_after")
    with backend.client(wallet, sleeper=ManualSleeper()) as c:
        created = _create(c)
        assert c.retries_total == 1  # one reconciliation
    assert len(backend.requests("POST", "/deployments/create")) == 1
    assert _deployments_of(backend, wallet) == [created.id]
    assert backend.requests("GET", "/deployments")  # it looked
    assert "had landed" in quiet_logs.text


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_lost_create_whose_lookup_fails_raises_and_is_never_resent(
    backend: Backend, wallet: Wallet, mode: str
) -> None:
    """Resending blind after a failed lookup could create the deployment twice."""
    transport = backend.transport
    transport.plan("POST", "/deployments/create", "drop_after")
    transport.plan("GET", "/deployments", "502")
    options: dict[str, Any] = {"max_retries": 0, "sleeper": ManualSleeper()}
    with pytest.raises(E.APIConnectionError) as caught:  # the create's own failure
        if mode == "sync":
            with backend.client(wallet, **options) as client:
                _create(client)
        else:
            async with backend.aclient(wallet, **options) as aclient:
                await aclient.deployments.create(
                    name="resent",
                    market=MARKET_3060,
                    replicas=1,
                    timeout=3600,
                    job_definition=JOB,
                    check_funds=False,
                )
    assert caught.value.request_sent
    assert isinstance(caught.value.__cause__, E.InternalServerError)  # the failed lookup
    assert caught.value.__cause__.status_code == 502
    assert len(transport.requests("POST", "/deployments/create")) == 1
    assert [r.fault for r in transport.requests("GET", "/deployments")] == ["502"]
    assert len(_deployments_of(backend, wallet)) == 1  # it had landed: exactly once


def test_a_post_whose_outcome_stays_unknown_is_resent_at_most_twice(
    backend: Backend, wallet: Wallet, quiet_logs: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        backend.transport.plan("POST", "/deployments/vaults/create", "503")
    sleeper = ManualSleeper()
    with backend.client(wallet, sleeper=sleeper) as client:
        with pytest.raises(E.InternalServerError):
            client.vaults.create()
        assert client.retries_total == 3  # three reconciliations, two resends
    assert len(backend.requests("POST", "/deployments/vaults/create")) == 3
    assert quiet_logs.text.count("outcome unknown") == 2
    assert len(sleeper.sleeps) == 2


# -- the watcher's reconnects follow the same policy ---------------------------------------------


def test_the_watcher_does_not_reconnect_after_a_domain_refusal(wallet: Wallet) -> None:
    """A 500 "Deployment is in the incorrect state." is an answer, not an outage."""
    from nosana_nb.watch import Watcher

    deployment = Wallet.generate().address
    seen: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(500, json={"error": "Deployment is in the incorrect state."})

    transport = httpx.MockTransport(refuse)
    sleeper = ManualSleeper()
    client = NosanaClient("local", wallet, transport=transport, env={}, sleeper=sleeper)
    with Watcher(client, deployment) as watcher:
        assert not watcher.wait_connected(5.0)
        status = watcher.status[deployment]
    assert status.state == "failed"
    assert "incorrect state" in (status.last_error or "")
    assert seen == [f"/deployments/{deployment}"]
    assert sleeper.sleeps == []
    assert client.retries_total == 0
