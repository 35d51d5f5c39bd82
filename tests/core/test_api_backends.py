"""The core's request-level behaviour against both backends: the fake and the real sandbox.

Each test runs twice (the ``backend`` fixture, tests/core/backends.py) through the public client
only; what one backend does and the other does not is a failure here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from nosana_nb.core import errors as E
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.validation import DeploymentStatus
from nosana_nb.core.wallet import Wallet
from tests.core.backends import JOB, Backend, create
from tests.core.fake_api import MARKET_3060


def test_create_then_get_round_trips_every_field(backend: Backend, wallet: Wallet) -> None:
    with backend.client(wallet) as client:
        made = create(client, "round-trip", replicas=2, timeout=timedelta(minutes=30))
        got = client.deployments.get(made.id)
    state = got.state
    assert (state.id, state.name, state.market) == (made.id, "round-trip", MARKET_3060)
    assert state.replicas == 2
    assert state.timeout == 30  # the state keeps the wire's minutes
    assert state.status is DeploymentStatus.DRAFT
    assert str(state.strategy) == "SIMPLE"
    assert backend.paths("POST").count("/deployments/create") == 1
    signed = [s for s in backend.transport.seen if s.path == "/deployments/create"]
    assert signed[0].headers["authorization"].startswith("NosanaApiAuthentication:")
    assert signed[0].headers["x-user-id"] == wallet.address


def test_listing_follows_cursors_newest_first_without_repeats(
    backend: Backend, wallet: Wallet
) -> None:
    with backend.client(wallet) as client:
        names = [f"page-{n:02d}" for n in range(12)]
        for name in names:
            create(client, name)
        listed = [d.state.name for d in client.deployments.list(limit=10)]
    assert listed == list(reversed(names))
    assert backend.paths("GET").count("/deployments") == 2  # pages of 10 and 2


def test_filters_select_on_the_service(backend: Backend, wallet: Wallet) -> None:
    with backend.client(wallet) as client:
        create(client, "alpha")
        create(client, "beta")
        assert [d.state.name for d in client.deployments.list(name="beta")] == ["beta"]
        drafts = client.deployments.list(status="DRAFT")
        assert sorted(d.state.name for d in drafts) == ["alpha", "beta"]
        assert list(client.deployments.list(status="RUNNING")) == []


def test_updates_come_back_in_the_state(backend: Backend, wallet: Wallet) -> None:
    with backend.client(wallet) as client:
        deployment = create(client, "before")
        deployment.update_replicas(3)
        deployment.update_timeout(timedelta(minutes=90))
        deployment.rename("after")
        state = client.deployments.get(deployment.id).state
    assert (state.name, state.replicas, state.timeout) == ("after", 3, 90)


def test_refusals_map_to_the_same_typed_errors(backend: Backend, wallet: Wallet) -> None:
    with backend.client(wallet) as client:
        with pytest.raises(E.DeploymentNotFoundError):
            client.deployments.get(Wallet.generate().address)
        draft = create(client, "draft")
        with pytest.raises(E.InvalidStateError) as caught:
            draft.archive()  # a DRAFT cannot be archived
        assert caught.value.status == "DRAFT"
        assert "archive" not in caught.value.allowed_actions


def test_revisions_are_numbered_from_one(backend: Backend, wallet: Wallet) -> None:
    with backend.client(wallet) as client:
        deployment = create(client, "revised")
        deployment.create_revision(container_job("docker.io/library/alpine:3", ["true"]))
        revisions = list(deployment.get_revisions())
    assert sorted(r.revision for r in revisions) == [1, 2]


def test_vaults_and_stats(backend: Backend, wallet: Wallet) -> None:
    with backend.client(wallet) as client:
        vault = client.vaults.create()
        assert vault.address == client.vaults.create().address  # get-or-create
        assert [v.vault for v in client.vaults.list()] == [vault.address]
        stats = client.stats()
    assert stats is not None
    stats_calls = [s for s in backend.transport.seen if s.path == "/stats"]
    assert "authorization" not in stats_calls[0].headers


async def test_the_async_client_sees_the_same_service(backend: Backend, wallet: Wallet) -> None:
    async with backend.aclient(wallet) as client:
        made = await client.deployments.create(
            name="async",
            market=MARKET_3060,
            replicas=1,
            timeout=600,
            job_definition=JOB,
            check_funds=False,
        )
        listed = [d.id async for d in client.deployments.list(limit=10)]
        got = await client.deployments.get(made.id)
    assert listed == [made.id]
    assert got.state.name == "async"
