"""Requests the sandbox must refuse, over HTTP: exact status codes and bodies (wire-contract §1.1).

Raw httpx sends each header variant (unsigned, forged, expired, malformed) to several routes;
the client with another wallet must see the owner's deployment as missing. Every refusal is
counted against what was tried, and the owner's own requests are the control: they pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from nosana_nb.core.auth import AUTH_MESSAGE, authorization_header
from nosana_nb.core.errors import DeploymentNotFoundError, VaultNotFoundError
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from tests.e2e.conftest import Account, settle, stored, wait_running

INTERNAL = {"error": "Internal Server Error"}
EXPIRY_S = 300


@dataclass(frozen=True)
class Case:
    name: str
    headers: dict[str, str]
    status: int
    text: str | None = None  # exact text/plain body
    json_500: bool = False  # the route's 500 body (see _expected_500)


def _signed(wallet: Wallet, *, age_s: float | None = None) -> dict[str, str]:
    now_ms = None if age_s is None else int((time.time() - age_s) * 1000)
    header = authorization_header(wallet, now_ms=now_ms)
    if age_s is None:
        header = ":".join(header.split(":")[:2])  # the official client's form: no timestamp
    return {"x-user-id": wallet.address, "authorization": header}


def _cases(owner: Wallet, stranger: Wallet) -> list[Case]:
    forged = authorization_header(stranger, now_ms=int(time.time() * 1000))
    signature = authorization_header(owner, now_ms=None).split(":")[1]
    return [
        Case("no headers", {}, 401, text="Unauthorized, missing or invalid headers"),
        Case(
            "no authorization",
            {"x-user-id": owner.address},
            401,
            text="Unauthorized, missing or invalid headers",
        ),
        Case(
            "no x-user-id",
            {"authorization": _signed(owner)["authorization"]},
            401,
            text="Unauthorized, missing or invalid headers",
        ),
        Case(
            "signed by another key",
            {"x-user-id": owner.address, "authorization": forged},
            401,
            text="Unauthorized",
        ),
        Case(
            "signature of another message",
            {"x-user-id": owner.address, "authorization": f"SomethingElse:{signature}"},
            401,
            text="Unauthorized",
        ),
        Case("expired (301 s)", _signed(owner, age_s=EXPIRY_S + 1), 500, json_500=True),
        Case("expired (300.5 s)", _signed(owner, age_s=EXPIRY_S + 0.5), 500, json_500=True),
        Case(
            "no signature field",
            {"x-user-id": owner.address, "authorization": AUTH_MESSAGE},
            500,
            json_500=True,
        ),
        Case(
            "signature not base58",
            {"x-user-id": owner.address, "authorization": f"{AUTH_MESSAGE}:not-base58-0OIl"},
            500,
            json_500=True,
        ),
        Case(
            "x-user-id not an address",
            {"x-user-id": "0xdeadbeef", "authorization": _signed(owner)["authorization"]},
            500,
            json_500=True,
        ),
    ]


def _expected_500(route: str, case: Case) -> object:
    """The 500 bodies of a thrown auth check: the stream's own, else the API types' Error
    (the job detail included: its type declares ``{error}`` for a 500)."""
    if route == "stream":
        message = "Authorization has expired." if "expired" in case.name else None
        return ("stream", message)
    return INTERNAL


@pytest.fixture
def http(sandbox: SandboxHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.api_url, timeout=10) as client:
        yield client


def test_header_variants_are_refused_with_the_exact_answers(
    sandbox: SandboxHandle, account: Account, http: httpx.Client
) -> None:
    deployment = account.deploy(name="guarded")
    deployment.start()
    wait_running(deployment)
    settle(sandbox)
    (job,) = sandbox.store.find("jobs", deployment=deployment.id)
    routes: dict[str, tuple[str, str]] = {
        "list": ("GET", "/deployments"),
        "get": ("GET", f"/deployments/{deployment.id}"),
        "stop": ("POST", f"/deployments/{deployment.id}/stop"),
        "stream": ("GET", f"/deployments/{deployment.id}/stream"),
        "job": ("GET", f"/deployments/{deployment.id}/jobs/{job['job']}"),
        "vaults": ("GET", "/deployments/vaults"),
    }
    stranger = Wallet.generate()
    tried = refused = 0
    for case in _cases(account.wallet, stranger):
        for route, (method, path) in routes.items():
            tried += 1
            response = http.request(method, path, headers=case.headers)
            where = f"{case.name} -> {method} {path}"
            assert response.status_code == case.status, where
            if case.text is not None:
                assert response.headers["content-type"].startswith("text/plain"), where
                assert response.text == case.text, where
            else:
                expected = _expected_500(route, case)
                body = response.json()
                if isinstance(expected, tuple):
                    assert body["statusCode"] == 500
                    assert body["error"] == "Internal Server Error"
                    if expected[1] is not None:
                        assert body["message"] == expected[1], where
                else:
                    assert body == expected, where
            refused += 1
    assert (tried, refused) == (len(_cases(account.wallet, stranger)) * len(routes), tried)
    # nothing got through: the stop above was refused every time
    assert stored(sandbox, "deployments", id=deployment.id)["status"] == "RUNNING"

    # the controls: the owner's own headers pass, with and without a fresh timestamp
    for headers in (_signed(account.wallet), _signed(account.wallet, age_s=EXPIRY_S - 10)):
        response = http.get(f"/deployments/{deployment.id}", headers=headers)
        assert response.status_code == 200
        assert response.json()["id"] == deployment.id
    future = _signed(account.wallet, age_s=-3600)  # a future timestamp always passes
    assert http.get("/deployments", headers=future).status_code == 200
    deployment.stop()


def test_other_owners_see_nothing(
    sandbox: SandboxHandle, new_account: Callable[..., Account], http: httpx.Client
) -> None:
    owner = new_account()
    other = new_account()
    deployment = owner.deploy(name="mine")
    stranger_calls: dict[str, Callable[[], object]] = {
        "get": lambda: other.client.deployments.get(deployment.id),
        "start": lambda: other.client.deployments.get(deployment.id).start(),
    }
    mine = owner.client.deployments.get(deployment.id)
    # a handle on the owner's deployment in the other wallet's client, as if it had learned
    # the id: every action goes out signed by the other wallet
    foreign = type(mine)(other.client._services, mine.state)
    stranger_calls.update(
        {
            "refresh": foreign.refresh,
            "start (handle)": lambda: foreign.start(check_funds=False),
            "stop": foreign.stop,
            "archive": foreign.archive,
            "delete": foreign.delete,
            "rename": lambda: foreign.rename("taken"),
            "update_replicas": lambda: foreign.update_replicas(3),
            "get_jobs": lambda: foreign.get_jobs().to_list(),
            "get_events": lambda: foreign.get_events().to_list(),
            "get_revisions": lambda: foreign.get_revisions().to_list(),
            "get_tasks": lambda: foreign.get_tasks().to_list(),
            "get_header": foreign.get_header,
        }
    )
    tried = refused = 0
    for name, call in stranger_calls.items():
        tried += 1
        with pytest.raises(DeploymentNotFoundError) as caught:
            call()
        assert caught.value.status_code == 404, name
        assert caught.value.error_text == "Deployment not found.", name
        refused += 1
    assert tried == refused == len(stranger_calls)
    assert [d.id for d in other.client.deployments.list()] == []
    doc = stored(sandbox, "deployments", id=deployment.id)
    assert (doc["status"], doc["name"], doc["replicas"]) == ("DRAFT", "mine", 1)

    # vaults too: the owner's vault is not the other wallet's to withdraw from
    with pytest.raises(VaultNotFoundError):
        other.client.vaults.get(owner.vault.address).withdraw()
    assert {v.vault for v in other.client.vaults.list()} == {other.vault.address}
    response = http.get(f"/deployments/{deployment.id}", headers=_signed(other.wallet))
    assert (response.status_code, response.json()) == (404, {"error": "Deployment not found."})
    assert owner.client.vaults.get(owner.vault.address).get_balance().nos_base_units > 0
