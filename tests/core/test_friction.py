"""Friction a first user hit, each fixed: handle shortcuts, market slugs, unknown markets,
the funds message before a create. Each test runs on the fake and on the real sandbox
(tests/core/backends.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.errors import InsufficientFundsError, ValidationError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from tests.core.backends import Backend
from tests.core.fake_api import MARKET_3060

JD = container_job("docker.io/library/ubuntu:24.04", ["sleep", "60"])
SHORTCUTS = (
    "id",
    "name",
    "status",
    "replicas",
    "strategy",
    "market",
    "owner",
    "vault_address",
    "active_revision",
    "created_at",
    "updated_at",
)


@pytest.fixture
def client(backend: Backend, wallet: Wallet) -> Iterator[NosanaClient]:
    with backend.client(wallet) as c:
        yield c


def _create(client: NosanaClient, **overrides: Any) -> Any:
    args: dict[str, Any] = {
        "name": "demo",
        "market": MARKET_3060,
        "replicas": 2,
        "timeout": 3600,
        "job_definition": JD,
        "check_funds": False,
    }
    args.update(overrides)
    return client.deployments.create(**args)


def test_deployment_handle_has_the_fields_its_repr_shows(client: NosanaClient) -> None:
    deployment = _create(client)
    state = deployment.state
    assert f"status={str(deployment.status)!r}" in repr(deployment)
    for name in SHORTCUTS:
        wire = "vault" if name == "vault_address" else name
        assert getattr(deployment, name) == getattr(state, wire), name
    assert deployment.replicas == 2
    assert deployment.timeout == timedelta(hours=1)  # the wire's minutes, as a timedelta
    assert deployment.vault.address == state.vault  # the vault handle stays a handle


async def test_async_deployment_handle_has_the_same_shortcuts(
    backend: Backend, wallet: Wallet
) -> None:
    async with backend.aclient(wallet) as client:
        deployment = await client.deployments.create(
            name="demo",
            market="nvidia-3060",
            replicas=1,
            timeout=3600,
            job_definition=JD,
            check_funds=False,
        )
        for name in SHORTCUTS:
            wire = "vault" if name == "vault_address" else name
            assert getattr(deployment, name) == getattr(deployment.state, wire), name
        assert deployment.market == MARKET_3060


def test_create_accepts_the_slug_markets_get_accepts(
    client: NosanaClient, backend: Backend
) -> None:
    assert client.markets.get("nvidia-3060").address == MARKET_3060
    deployment = _create(client, market="NVIDIA-3060")
    assert deployment.market == MARKET_3060
    (create,) = backend.requests("POST", "/deployments/create")
    assert create.json["market"] == MARKET_3060


def test_an_unknown_market_address_is_refused_before_the_create_naming_the_closest(
    client: NosanaClient, backend: Backend
) -> None:
    typo = MARKET_3060[:-1] + ("r" if MARKET_3060[-1] != "r" else "s")
    with pytest.raises(ValidationError) as caught:
        _create(client, market=typo)
    assert caught.value.argument == "market"
    assert f"unknown market {typo!r}" in str(caught.value)
    assert f"did you mean nvidia-3060 ({MARKET_3060})" in str(caught.value)
    assert backend.requests("POST", "/deployments/create") == []


def test_an_unknown_slug_names_the_closest_slug(client: NosanaClient, backend: Backend) -> None:
    with pytest.raises(ValidationError, match=r"did you mean nvidia-3060 \("):
        _create(client, market="nvidia-3061")
    assert backend.requests("POST", "/deployments/create") == []


def test_check_market_false_sends_an_address_unchecked(
    client: NosanaClient, backend: Backend
) -> None:
    unknown = str(Wallet.generate().address)
    deployment = _create(client, market=unknown, check_market=False)
    assert deployment.market == unknown
    assert [r for r in backend.requests("GET") if "/markets" in r.path] == []


def test_insufficient_funds_before_create_names_the_vault_not_a_deployment(
    client: NosanaClient, backend: Backend
) -> None:
    with pytest.raises(InsufficientFundsError) as caught:
        _create(client, replicas=1, check_funds=True)
    shared = client.vaults.create().address
    text = str(caught.value)
    assert "deployment.vault" not in text
    assert f"client.vaults.get({shared!r}).topup(" in text
    assert "1 replica ×" in text
    assert "1 replicas" not in text
    assert "1 job ×" in text
    assert "1 jobs" not in text
    assert backend.requests("POST", "/deployments/create") == []
