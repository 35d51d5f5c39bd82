"""Every user route of the sandbox refuses unsigned, forged, expired, malformed and other-owner
requests, and the client refuses plain http:// to a remote host before sending anything.

Raw httpx on purpose: the client would never send these headers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.errors import ConfigError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.sandbox.http.route_table import ALL_ROUTES
from nosana_nb.sandbox.http.routing import Route
from nosana_nb.sandbox.worker.markets import MARKETS

MESSAGE = "NosanaApiAuthentication"
JOB_DEFINITION = container_job("alpine:3", ["sleep", "60"], gpu=False)
BODIES: dict[str, Any] = {
    "create": {
        "name": "intruder",
        "market": MARKETS[0].address,
        "replicas": 1,
        "timeout": 60,
        "strategy": "SIMPLE",
        "job_definition": JOB_DEFINITION,
    },
    "withdraw": {},
    "create-revision": JOB_DEFINITION,
    "update-name": {"name": "renamed by someone else"},
    "update-active-revision": {"active_revision": 1},
    "update-replica-count": {"replicas": 7},
    "update-schedule": {"schedule": "0 * * * *"},
    "update-timeout": {"timeout": 600},
}
# Routes that only ever touch the caller's own resources: "other owner" does not apply.
OWN_RESOURCES_ONLY = {("POST", "/create"), ("POST", "/vaults/create")}
LIST_ROUTES = {("GET", ""), ("GET", "/vaults"), ("GET", "/api/credits/balance")}
"""Routes that answer the caller's own things: a 200 is fine when no victim id is in it."""


def signed(
    keypair: Keypair, *, user: str | None = None, at_ms: float | None = None
) -> dict[str, str]:
    stamp = int(time.time() * 1000 if at_ms is None else at_ms)
    signature = keypair.sign_message(MESSAGE.encode())
    return {
        "x-user-id": user or str(keypair.pubkey()),
        "authorization": f"{MESSAGE}:{signature}:{stamp}",
    }


@dataclass(frozen=True)
class Owner:
    keypair: Keypair
    draft: str  # a DRAFT deployment
    running: str  # a RUNNING deployment with a job
    job: str
    vault: str

    @property
    def address(self) -> str:
        return str(self.keypair.pubkey())


def _make_owner(sandbox: SandboxHandle) -> Owner:
    keypair = Keypair()
    wallet = Wallet.from_keypair(keypair)
    sandbox.faucet(wallet, sol="5", nos="100")
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    with NosanaClient(network, wallet, env={}) as client:
        vault = client.vaults.create()
        vault.topup(sol="1", nos="50")
        common: dict[str, Any] = {
            "market": MARKETS[0].address,
            "replicas": 1,
            "timeout": 3600,
            "job_definition": JOB_DEFINITION,
        }
        draft = client.deployments.create(name="draft", **common)
        running = client.deployments.create(name="running", autostart=True, **common)
        sandbox.advance(60)
        jobs = list(running.get_jobs())
    assert jobs, "the running deployment should have listed a job"
    return Owner(keypair, draft.id, running.id, jobs[0].job, vault.address)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    with start(db=":memory:", speed=None, seed=5) as handle:
        yield handle


@pytest.fixture(scope="module")
def victim(sandbox: SandboxHandle) -> Owner:
    return _make_owner(sandbox)


def _user_routes() -> list[Route]:
    return [
        r
        for r in ALL_ROUTES
        if r.auth_style != "none" and not r.loopback_only and not r.mounted_elsewhere
    ]


def _concrete(route: Route, prefix: str, owner: Owner) -> str:
    deployment = owner.running if "{job}" in route.path else owner.draft
    path = (
        route.path.replace("{deployment}", deployment)
        .replace("{job}", owner.job)
        .replace("{vault}", owner.vault)
    )
    return prefix + path


def _body(route: Route) -> Any:
    return BODIES.get(route.path.rsplit("/", 1)[-1])


def _send(http: httpx.Client, route: Route, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    body = _body(route)
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    # stream: a wrongly accepted SSE request would otherwise block on its endless body
    with http.stream(route.method, url, **kwargs) as response:
        content = b"" if route.stream else response.read()
        return response.status_code, content


Variant = Callable[[Owner, Keypair], dict[str, str]]

VARIANTS: dict[str, Variant] = {
    "unsigned": lambda owner, other: {},
    "user id only": lambda owner, other: {"x-user-id": owner.address},
    "forged": lambda owner, other: signed(other, user=owner.address),
    "expired": lambda owner, other: signed(owner.keypair, at_ms=(time.time() - 301) * 1000),
    "malformed: no signature": lambda owner, other: {
        "x-user-id": owner.address,
        "authorization": f"{MESSAGE}:",
    },
    "malformed: not base58": lambda owner, other: {
        "x-user-id": owner.address,
        "authorization": f"{MESSAGE}:0OIl+/==:{int(time.time() * 1000)}",
    },
    "malformed: bad user id": lambda owner, other: {
        **signed(owner.keypair),
        "x-user-id": "not-a-public-key",
    },
    "malformed: bearer, not an API key": lambda owner, other: {"authorization": "Bearer abc"},
}


def _victim_snapshot(sandbox: SandboxHandle, owner: Owner) -> dict[str, Any]:
    deployments = sandbox.store.find("deployments", owner=owner.address)
    return {
        "deployments": sorted(
            (d["id"], d["name"], d["status"], d["replicas"], d["timeout"], d["active_revision"])
            for d in deployments
        ),
        "revisions": sum(
            len(sandbox.store.find("revisions", deployment=d["id"])) for d in deployments
        ),
        "vault_nos": sandbox.chain.nos_balance(owner.vault),
        "vault_sol": sandbox.chain.sol_balance(owner.vault),
    }


def test_every_user_route_refuses_bad_credentials(sandbox: SandboxHandle, victim: Owner) -> None:
    before = _victim_snapshot(sandbox, victim)
    other = Keypair()
    tried: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    accepted: list[str] = []
    with httpx.Client(base_url=sandbox.api_url, timeout=5) as http:
        for route in _user_routes():
            for prefix in route.prefixes:
                url = _concrete(route, prefix, victim)
                for variant, make_headers in VARIANTS.items():
                    status, _ = _send(http, route, url, make_headers(victim, other))
                    tried[variant] += 1
                    if status >= 400:
                        refused[variant] += 1
                    else:
                        accepted.append(f"{variant}: {route.method} {url} -> {status}")
                    if variant == "unsigned":
                        assert status == 401, (route.method, url)
                    if variant == "forged":
                        assert status == 401, (route.method, url)

    assert accepted == []
    assert refused == tried
    assert sum(tried.values()) == len(VARIANTS) * sum(len(r.prefixes) for r in _user_routes())
    assert _victim_snapshot(sandbox, victim) == before


def test_other_owner_cannot_read_or_change_anything(sandbox: SandboxHandle, victim: Owner) -> None:
    before = _victim_snapshot(sandbox, victim)
    intruder = Keypair()
    sandbox.faucet(str(intruder.pubkey()), sol="1")
    tried = refused = 0
    leaks: list[str] = []
    victim_ids = (victim.draft, victim.running, victim.vault, victim.job)
    with httpx.Client(base_url=sandbox.api_url, timeout=5) as http:
        for route in _user_routes():
            key = (route.method, route.path)
            if key in OWN_RESOURCES_ONLY:
                continue
            for prefix in route.prefixes:
                url = _concrete(route, prefix, victim)
                status, content = _send(http, route, url, signed(intruder))
                tried += 1
                text = content.decode(errors="replace")
                if key in LIST_ROUTES and status == 200:
                    if any(i in text for i in victim_ids):
                        leaks.append(f"{route.method} {url} lists the victim's resources")
                    else:
                        refused += 1
                elif status >= 400 and not any(i in text for i in victim_ids[1:]):
                    refused += 1
                else:
                    leaks.append(f"{route.method} {url} -> {status}")

    assert leaks == []
    assert refused == tried > 30
    assert _victim_snapshot(sandbox, victim) == before


def test_valid_signature_is_accepted(sandbox: SandboxHandle, victim: Owner) -> None:
    """Guards the refusal tests: the same routes do answer a correctly signed owner."""
    with httpx.Client(base_url=sandbox.api_url, timeout=5) as http:
        reply = http.get(f"/deployments/{victim.draft}", headers=signed(victim.keypair))
        listing = http.get("/api/deployments", headers=signed(victim.keypair))
    assert reply.status_code == 200
    assert reply.json()["id"] == victim.draft
    assert {d["id"] for d in listing.json()["deployments"]} >= {victim.draft, victim.running}


@pytest.mark.parametrize(
    "overrides",
    [
        {"api_url": "http://10.1.2.3:3001"},
        {"rpc_url": "http://rpc.example.com"},
        {"api_url": "http://deployments.example.com"},
    ],
)
def test_client_refuses_plain_http_to_remote_hosts(overrides: dict[str, Any]) -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    wallet = Wallet.generate()
    with pytest.raises(ConfigError, match="http"):
        NosanaClient("devnet", wallet, env={}, transport=httpx.MockTransport(record), **overrides)
    with pytest.raises(ConfigError, match="http"):
        AsyncNosanaClient("devnet", wallet, env={}, **overrides)
    assert sent == []
    allowed = NosanaClient(
        "devnet",
        wallet,
        env={},
        transport=httpx.MockTransport(record),
        allow_insecure_http=True,
        **overrides,
    )
    allowed.close()


def test_plain_http_to_loopback_is_allowed(sandbox: SandboxHandle) -> None:
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)
    assert network.api_url.startswith("http://127.0.0.1")
    with NosanaClient(network, Wallet.generate(), env={}) as client:
        assert list(client.deployments.list()) == []  # a fresh wallet owns nothing
