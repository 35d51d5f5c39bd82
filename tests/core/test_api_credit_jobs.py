"""client.credits: the balance and the jobs API (single jobs paid with credits).

The replies the fake sends are themselves checked against the API types fixture, so the
client is tested on the service's shapes, not on shapes of our own.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.validation import JobState
from nosana_nb.core.wallet import Wallet
from tests.wire_schema import ReplyChecker

KEY = "nos_credit_jobs_key"
JOB = "E8g31boP7u7Zh1rBKCKaUt5yy3qykdNi63GQAbdDmBsm"
MARKET = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"
NODE = "4mDcpwoXfGW7tFrWPWbc6Nn5DA2csSNJufe2NAgpEf96"
CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CHARGE = {"costUSD": 0.25, "creditsUsed": 0.25, "reservationId": "res-1"}
REPLIES: dict[tuple[str, str], tuple[str, Any]] = {
    ("GET", "/api/credits/balance"): (
        "CreditsBalance",
        {"assignedCredits": 10, "reservedCredits": 0.5, "settledCredits": 2.25},
    ),
    ("POST", "/api/jobs/list"): (
        "CreditJobListed",
        {"tx": "sig", "job": JOB, "run": NODE, "credits": {**CHARGE, "project": "p"}},
    ),
    ("POST", f"/api/jobs/{JOB}/extend"): (
        "CreditJobExtended",
        {"tx": "sig2", "job": JOB, "credits": CHARGE},
    ),
    ("POST", f"/api/jobs/{JOB}/stop"): (
        "CreditJobStopped",
        {"tx": "sig3", "job": JOB, "delisted": False},
    ),
    ("GET", f"/api/jobs/{JOB}"): (
        "CreditJob",
        {
            "ipfsJob": CID,
            "ipfsResult": None,
            "market": MARKET,
            "node": NODE,
            "payer": NODE,
            "price": 40,
            "project": NODE,
            "state": 1,
            "type": None,
            "jobDefinition": None,
            "jobResult": None,
            "jobStatus": None,
            "timeEnd": 0,
            "timeStart": 1700000000,
            "benchmarkProcessedAt": None,
            "timeout": 3600,
            "usdRewardPerHour": 0.0436,
            "listedAt": 1699999990,
        },
    ),
}


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture
def client(sent: list[httpx.Request]) -> NosanaClient:
    checker = ReplyChecker()

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        definition, body = REPLIES[(request.method, request.url.path)]
        assert checker.errors(definition, body) == []  # the fake speaks the types' shapes
        return httpx.Response(200, json=body)

    return NosanaClient(
        "local", Wallet.generate(), api_key=KEY, transport=httpx.MockTransport(answer), env={}
    )


def test_balance_and_available(client: NosanaClient, sent: list[httpx.Request]) -> None:
    balance = client.credits.balance()
    assert balance.available == Decimal("7.25")
    assert sent[-1].headers["authorization"] == f"Bearer {KEY}"


def test_list_get_extend_stop(client: NosanaClient, sent: list[httpx.Request]) -> None:
    listed = client.credits.list_job(
        ipfs_hash=CID, market=MARKET, timeout=timedelta(hours=1), node=NODE
    )
    assert (listed.job, listed.credits.cost_usd) == (JOB, Decimal("0.25"))
    assert json.loads(sent[-1].content) == {
        "ipfsHash": CID,
        "market": MARKET,
        "timeout": 3600,
        "node": NODE,
    }
    job = client.credits.get_job(JOB)
    assert job.state is JobState.RUNNING
    assert job.usd_reward_per_hour == Decimal("0.0436")
    extended = client.credits.extend_job(JOB, 600)
    assert json.loads(sent[-1].content) == {"seconds": 600}
    assert extended.credits.reservation_id == "res-1"
    assert client.credits.stop_job(JOB).delisted is False
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in sent)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda c: c.credits.list_job(ipfs_hash="nope", market=MARKET), "ipfs_hash"),
        (lambda c: c.credits.list_job(ipfs_hash=CID, market=MARKET, timeout=1.5), "timeout"),
        (lambda c: c.credits.extend_job(JOB, 0), "seconds"),
        (lambda c: c.credits.stop_job("1" * 32), "43-44 character"),
    ],
)
def test_bad_arguments_fail_before_sending(
    client: NosanaClient, sent: list[httpx.Request], call: Any, needle: str
) -> None:
    with pytest.raises(ValidationError, match=needle):
        call(client)
    assert sent == []
