"""One frozen ClientOptions behind both clients: copies and twins keep every setting.

Each setting is checked by what the derived client *does*: the header it sends, the transport
its requests go through, the timeout httpx gives them, how often it retries.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from nosana_nb.core.client import API_KEY_HEADER, AsyncNosanaClient, NosanaClient
from nosana_nb.core.errors import InternalServerError, ValidationError, WalletError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.options import ClientOptions
from nosana_nb.core.wallet import Wallet
from tests.core.backends import Backend
from tests.core.fake_api import MARKET_3060, FakeNosana
from tests.core.faults import FaultyTransport
from tests.core.manual_time import ManualSleeper

API_KEY = "nos_test_key_0123456789abcdef"
JOB = container_job("alpine:3", ["echo", "hi"], gpu=False)


@pytest.fixture
def transport(backend: Backend) -> FaultyTransport:
    return backend.transport


def _client(wallet: Wallet, network: Any, transport: FaultyTransport) -> NosanaClient:
    return NosanaClient(
        network,
        wallet,
        api_key=API_KEY,
        timeout=7.0,
        max_retries=5,
        backoff_factor=0.25,
        transport=transport,
        env={},
        sleeper=ManualSleeper(),
    )


@pytest.fixture
def client(wallet: Wallet, backend: Backend) -> Iterator[NosanaClient]:
    """A client with every setting changed, on the fake and on the sandbox."""
    with _client(wallet, backend.network, backend.transport) as made:
        yield made


@pytest.fixture
def offline_client(wallet: Wallet, fake: FakeNosana) -> NosanaClient:
    """The same settings, for the checks that send nothing."""
    return _client(wallet, "local", FaultyTransport.over(httpx.MockTransport(fake)))


def name_of(backend: Backend, deployment_id: str) -> str:
    """A deployment's name from the backend's own books (nothing sent)."""
    if backend.fake is not None:
        return str(backend.fake.deployments[deployment_id]["name"])
    assert backend.sandbox is not None
    return str(backend.sandbox.store.find_one("deployments", id=deployment_id)["name"])


def _create_kwargs(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "market": MARKET_3060,
        "replicas": 1,
        "timeout": 3600,
        "job_definition": JOB,
        "check_funds": False,
    }


def _check_behaviour(
    derived: NosanaClient, transport: FaultyTransport, backend: Backend, name: str
) -> None:
    """The derived client sends the API key on create only, through the same transport, with
    the same timeout, and retries 5 times."""
    before = len(transport.seen)
    deployment = derived.deployments.create(**_create_kwargs(name))
    mine = transport.seen[before:]
    assert mine, "the derived client's requests did not go through the transport"
    creates = [s for s in mine if s.method == "POST" and s.path == "/deployments/create"]
    assert [s.headers.get(API_KEY_HEADER) for s in creates] == [API_KEY]
    assert all(API_KEY_HEADER not in s.headers for s in mine if s not in creates)
    assert {s.timeout["read"] for s in mine} == {7.0}
    for _ in range(6):
        transport.plan("GET", f"/deployments/{deployment.id}", "503")
    attempts = len(transport.seen)
    with pytest.raises(InternalServerError):
        derived.deployments.get(deployment.id)
    assert len(transport.seen) - attempts == 6  # max_retries=5 kept
    assert name_of(backend, deployment.id) == name


@pytest.mark.parametrize("how", ["copy", "with_options", "to_async().to_sync"])
def test_derived_sync_clients_keep_every_setting(
    client: NosanaClient, transport: FaultyTransport, backend: Backend, how: str
) -> None:
    derived = {
        "copy": client.copy,
        "with_options": client.with_options,
        "to_async().to_sync": lambda: client.to_async().to_sync(),
    }[how]()
    assert type(derived) is NosanaClient
    assert derived is not client
    assert derived.options == client.options
    with derived:
        _check_behaviour(derived, transport, backend, f"via-{how}")
    assert client.retries_total == 5  # the derived client's retries count here too


async def test_the_async_twin_keeps_every_setting(
    client: NosanaClient, transport: FaultyTransport
) -> None:
    twin = client.to_async()
    assert isinstance(twin, AsyncNosanaClient)
    async with twin:
        deployment = await twin.deployments.create(**_create_kwargs("async-twin"))
        creates = transport.requests("POST", "/deployments/create")
        assert [s.headers.get(API_KEY_HEADER) for s in creates] == [API_KEY]
        assert {s.timeout["read"] for s in transport.seen} == {7.0}
        for _ in range(6):
            transport.plan("GET", f"/deployments/{deployment.id}", "503")
        with pytest.raises(InternalServerError):
            await twin.deployments.get(deployment.id)
    assert len(transport.requests("GET", f"/deployments/{deployment.id}", exact=True)) == 6
    assert client.retries_total == twin.retries_total == 5
    assert twin.options.sleeper is client.options.sleeper


def test_with_options_changes_only_what_it_names(
    client: NosanaClient, transport: FaultyTransport, backend: Backend, wallet: Wallet
) -> None:
    quick = client.with_options(timeout=3.0, max_retries=1)
    assert quick.options.timeout == httpx.Timeout(3.0)
    assert (quick.options.api_key, quick.options.transport) == (API_KEY, transport)
    assert quick.options.backoff_factor == 0.25
    assert quick.wallet is client.wallet
    with backend.client(wallet) as seeding:
        deployment_id = backend.deployment(seeding, "DRAFT").id
    backend.forget()
    for _ in range(2):
        transport.plan("GET", f"/deployments/{deployment_id}", "503")
    with pytest.raises(InternalServerError):
        quick.deployments.get(deployment_id)
    assert {s.timeout["read"] for s in transport.seen} == {3.0}
    assert len(transport.seen) == 2
    assert client.options.timeout == httpx.Timeout(7.0)  # the original is untouched


def test_network_and_wallet_can_be_changed(offline_client: NosanaClient) -> None:
    other = Wallet.generate()
    moved = offline_client.with_options(network="devnet", wallet=other)
    assert moved.network.name == "devnet"
    assert moved.wallet is not None
    assert moved.wallet.address == other.address
    assert moved.options.api_key == API_KEY
    assert offline_client.with_options(wallet=None).wallet is None


def test_bad_changes_fail_before_anything_is_built(offline_client: NosanaClient) -> None:
    with pytest.raises(ValidationError, match=r"unknown client option.*retries"):
        offline_client.with_options(retries=2)
    with pytest.raises(ValidationError, match="max_retries"):
        offline_client.with_options(max_retries=-1)
    with pytest.raises(ValidationError, match="either http_client or transport"):
        offline_client.with_options(http_client=httpx.Client())


def test_an_injected_client_of_the_wrong_kind_needs_a_replacement(wallet: Wallet) -> None:
    fake = FakeNosana(owner=wallet.address)
    with httpx.Client(transport=httpx.MockTransport(fake)) as own:
        client = NosanaClient("local", wallet, http_client=own, env={})
        with pytest.raises(ValidationError, match=r"needs an httpx\.AsyncClient as http_client"):
            client.to_async()
        twin = client.to_async(http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake)))
        assert isinstance(twin.options.http_client, httpx.AsyncClient)
        assert twin.options.http_client is not own


def test_a_one_sided_transport_is_refused_by_the_other_kind(wallet: Wallet) -> None:
    client = NosanaClient("local", wallet, transport=httpx.HTTPTransport(), env={})
    with pytest.raises(ValidationError, match="AsyncBaseTransport as transport"):
        client.to_async()
    with pytest.raises(ValidationError, match="AsyncBaseTransport"):
        AsyncNosanaClient.check_options(client.options)
    client.close()


def test_options_never_show_or_pickle_the_api_key(offline_client: NosanaClient) -> None:
    assert API_KEY not in repr(offline_client.options)
    assert API_KEY not in repr(offline_client)
    with pytest.raises(WalletError):
        pickle.dumps(offline_client.options)


def test_from_options_builds_either_kind(offline_client: NosanaClient) -> None:
    options: ClientOptions = offline_client.options.replace(max_retries=0)
    twin = AsyncNosanaClient.from_options(options, retry_counter=offline_client.retry_counter)
    assert twin.options.max_retries == 0
    assert twin.retry_counter is offline_client.retry_counter
    assert NosanaClient.from_options(options).retry_counter is not offline_client.retry_counter
    with pytest.raises(ValidationError, match="ClientOptions"):
        NosanaClient.from_options({"network": "devnet"})  # type: ignore[arg-type]


def test_pays_with_credits_follows_the_api_key_through_copies(
    client: NosanaClient, wallet: Wallet, transport: FaultyTransport
) -> None:
    assert client.pays_with_credits
    assert client.to_async().pays_with_credits
    assert not client.copy(api_key=None).pays_with_credits
    plain = NosanaClient("local", wallet, transport=transport, env={})
    assert not plain.pays_with_credits
    assert plain.copy(api_key=API_KEY).pays_with_credits
    plain.close()
