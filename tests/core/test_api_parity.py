"""Every sync class and its async twin expose the same names with the same signatures."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Any

import pytest

from nosana_nb.core import _async
from nosana_nb.core._async.bulk import AsyncBulkRun
from nosana_nb.core._sync.bulk import BulkRun
from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.credits import AsyncCredits, Credits
from nosana_nb.core.deployments import (
    AsyncDeployment,
    AsyncDeploymentJob,
    AsyncDeployments,
    AsyncServices,
    AsyncVaults,
    Deployment,
    DeploymentJob,
    Deployments,
    SyncServices,
    Vaults,
)
from nosana_nb.core.endpoints import AsyncEndpoints, Endpoints
from nosana_nb.core.http import AsyncHTTP, SyncHTTP
from nosana_nb.core.jobs import AsyncJobs, Jobs
from nosana_nb.core.markets import AsyncMarkets, Markets
from nosana_nb.core.pagination import AsyncPager, SyncPager
from nosana_nb.core.solana_rpc import AsyncSolanaRPC, SolanaRPC
from nosana_nb.core.vaults import AsyncVault, Vault

PAIRS = [
    (NosanaClient, AsyncNosanaClient),
    (Deployments, AsyncDeployments),
    (Deployment, AsyncDeployment),
    (DeploymentJob, AsyncDeploymentJob),
    (Vaults, AsyncVaults),
    (Vault, AsyncVault),
    (Markets, AsyncMarkets),
    (Credits, AsyncCredits),
    (Jobs, AsyncJobs),
    (SyncPager, AsyncPager),
    (SyncServices, AsyncServices),
    (SolanaRPC, AsyncSolanaRPC),
    (BulkRun, AsyncBulkRun),
    (SyncHTTP, AsyncHTTP),
    (Endpoints, AsyncEndpoints),
]
# the deliberate naming differences: asyncio code closes with aclose(); each client converts
# to the other kind
RENAMED = {"close": "aclose", "to_async": "to_sync"}


def public_members(cls: type) -> dict[str, Any]:
    # a dataclass's fields are data, compared through the constructor
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    return {
        name: value
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_")
        and name not in fields
        and (callable(value) or isinstance(value, property))
    }


def unwrap_awaitable(text: str) -> str:
    """``Callable[..., Awaitable[X]]`` -> ``Callable[..., X]`` (the async twin's callbacks)."""
    start = text.find("Awaitable[")
    if start < 0:
        return text
    depth, end = 0, start + len("Awaitable[")
    for end in range(start + len("Awaitable["), len(text)):
        if text[end] == "[":
            depth += 1
        elif text[end] == "]":
            if depth == 0:
                break
            depth -= 1
    inner = text[start + len("Awaitable[") : end]
    return unwrap_awaitable(text[:start] + inner + text[end + 1 :])


def normalise(annotation: Any) -> str:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return unwrap_awaitable(text).replace("Async", "").replace("Sync", "")


def default_of(value: Any) -> Any:
    """A callable default by name: ``time.sleep`` and ``asyncio.sleep`` are each twin's own."""
    return getattr(value, "__name__", value) if callable(value) else value


def shape(function: Any) -> list[tuple[str, Any, Any, str]]:
    signature = inspect.signature(function)
    params = [
        (p.name, p.kind, default_of(p.default), normalise(p.annotation))
        for p in signature.parameters.values()
    ]
    return [*params, ("return", None, None, normalise(signature.return_annotation))]


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=lambda c: c.__name__)
def test_same_public_names(sync_cls: type, async_cls: type) -> None:
    sync_names = {RENAMED.get(n, n) for n in public_members(sync_cls)}
    assert sync_names == set(public_members(async_cls))


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=lambda c: c.__name__)
def test_same_signatures(sync_cls: type, async_cls: type) -> None:
    async_members = public_members(async_cls)
    for name, member in public_members(sync_cls).items():
        twin = async_members[RENAMED.get(name, name)]
        if isinstance(member, property):
            assert isinstance(twin, property), name
            continue
        assert shape(member) == shape(twin), f"{sync_cls.__name__}.{name}"
    assert shape(sync_cls) == shape(async_cls)  # the constructors


@pytest.mark.parametrize(("sync_cls", "async_cls"), PAIRS, ids=lambda c: c.__name__)
def test_sync_side_has_no_coroutines(sync_cls: type, async_cls: type) -> None:
    for name, member in public_members(sync_cls).items():
        assert not inspect.iscoroutinefunction(member), f"{sync_cls.__name__}.{name}"


def test_every_class_written_once_in_async_is_paired() -> None:
    """A new twin in core/_async/ cannot slip past the checks above."""
    paired = {async_cls for _, async_cls in PAIRS}
    written: set[type] = set()
    for info in pkgutil.iter_modules(_async.__path__):
        module = importlib.import_module(f"{_async.__name__}.{info.name}")
        written |= {
            obj
            for name, obj in vars(module).items()
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and name[0] != "_"
        }
    assert written
    assert written <= paired, sorted(c.__name__ for c in written - paired)


def test_async_io_methods_are_awaitable() -> None:
    for cls, names in [
        (AsyncNosanaClient, ["stats", "aclose"]),
        (AsyncDeployments, ["create", "get"]),
        (
            AsyncDeployment,
            ["start", "stop", "archive", "delete", "refresh", "wait_until", "get_job"],
        ),
        (AsyncVaults, ["list", "create"]),
        (AsyncVault, ["get_balance", "topup", "withdraw"]),
        (AsyncMarkets, ["list", "get", "estimate"]),
        (AsyncJobs, ["pin_job_definition", "get_job_definition"]),
        (AsyncPager, ["first_page", "to_list"]),
        (AsyncServices, ["send", "send_post", "shared_vault", "check_funds"]),
        (AsyncSolanaRPC, ["call", "get_balance", "send_transaction", "aclose"]),
        (AsyncHTTP, ["request", "aclose"]),
    ]:
        for name in names:
            assert inspect.iscoroutinefunction(getattr(cls, name)), f"{cls.__name__}.{name}"
