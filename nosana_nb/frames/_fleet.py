"""Frames across many deployments, fetched concurrently through the async client.

``afleet_*`` run in the caller's event loop. The sync ``fleet_*`` run the same coroutine in a
private event loop on a worker thread, so they work inside Jupyter's running loop without
patching it (no nest_asyncio). A semaphore bounds the requests in flight (every request, the
get of a deployment as well as each list), ``DEFAULT_MAX_CONCURRENCY`` unless told otherwise;
a ``tqdm.auto`` bar shows progress. The jobs frame's ``time_remaining`` counts down each
RUNNING job to its deployment's timeout (read from the deployment fetched anyway), on the
service's clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pandas as pd

from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.errors import ValidationError
from nosana_nb.frames._fetch import PAGE_LIMIT, deployment_id
from nosana_nb.frames._wire import (
    events_dataframe,
    jobs_dataframe,
    revisions_dataframe,
    tasks_dataframe,
)

T = TypeVar("T")

DEFAULT_MAX_CONCURRENCY = 16
"""Requests one fleet call keeps in flight at most. The deployment manager has no rate limit,
but it is a shared service: 16 is a few browser tabs' worth of connections (a browser opens 6
per host), and at 50 ms a request it already lists 200 deployments' jobs and events in about
2 s. Raise ``max_concurrency`` (up to 64) for a local sandbox, lower it on a slow link."""
MAX_CONCURRENCY_LIMIT = 64

_KINDS: dict[str, tuple[str, Callable[[Any], pd.DataFrame]]] = {
    "jobs": ("get_jobs", jobs_dataframe),
    "events": ("get_events", events_dataframe),
    "tasks": ("get_tasks", tasks_dataframe),
    "revisions": ("get_revisions", revisions_dataframe),
}


def _check_concurrency(value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_CONCURRENCY_LIMIT
    ):
        raise ValidationError(
            f"max_concurrency must be an integer from 1 to {MAX_CONCURRENCY_LIMIT}",
            argument="max_concurrency",
        )
    return value


def _targets(deployments: Any) -> list[Any] | None:
    """Deployment ids/handles to fetch, or None for "all of the client's deployments"."""
    if deployments is None:
        return None
    if isinstance(deployments, pd.DataFrame):
        if "id" not in deployments.columns:
            raise ValidationError(
                "a deployments frame needs an 'id' column", argument="deployments"
            )
        return [str(i) for i in deployments["id"].dropna()]
    if isinstance(deployments, str):
        return [deployments]
    try:
        return list(deployments)
    except TypeError:
        raise ValidationError(
            "deployments must be ids, deployment objects or a deployments frame",
            argument="deployments",
        ) from None


def _dump(item: Any) -> Any:
    dump = getattr(item, "model_dump", None)
    return dump(mode="json", by_alias=True) if callable(dump) else item


async def _collect(pager: Any) -> list[Any]:
    if callable(getattr(pager, "to_list", None)):
        result = pager.to_list()
        return list(await result) if isinstance(result, Awaitable) else list(result)
    if hasattr(pager, "__aiter__"):
        return [item async for item in pager]
    return list(await pager) if isinstance(pager, Awaitable) else list(pager)


async def _handles(client: Any, targets: list[Any] | None) -> list[Any]:
    if targets is None:
        return await _collect(client.deployments.list(limit=PAGE_LIMIT))
    return targets


def _with_deployment(records: list[Any], ident: str) -> list[Any]:
    # events/tasks carry the id as deploymentId, jobs/revisions as deployment; fill either way
    return [
        r if r.get("deployment") or r.get("deploymentId") else {**r, "deployment": ident}
        for r in records
    ]


@dataclass(frozen=True)
class _Fetched:
    """One deployment's records of each kind, and its job timeout (None when unknown)."""

    ident: str
    timeout: timedelta | None
    batches: list[list[Any]]


async def _fetch_kinds(
    client: Any, target: Any, methods: list[str], semaphore: asyncio.Semaphore
) -> _Fetched:
    """One deployment's records of each kind; every request waits for a semaphore slot."""
    handle = target
    if not all(callable(getattr(target, method, None)) for method in methods):
        async with semaphore:
            fetched = client.deployments.get(deployment_id(target))
            handle = await fetched if isinstance(fetched, Awaitable) else fetched
    ident = deployment_id(handle)

    async def records_of(method: str) -> list[Any]:
        async with semaphore:
            items = await _collect(getattr(handle, method)(limit=PAGE_LIMIT))
        return _with_deployment([_dump(item) for item in items], ident)

    if len(methods) == 1:
        batches = [await records_of(methods[0])]
    else:
        batches = list(await asyncio.gather(*(records_of(method) for method in methods)))
    timeout = getattr(handle, "timeout", None)  # a handle knows it; a bare id's get fetched it
    return _Fetched(ident, timeout if isinstance(timeout, timedelta) else None, batches)


def _frame_of(kind: str, results: list[_Fetched], index: int, client: Any) -> pd.DataFrame:
    records = [record for fetched in results for record in fetched.batches[index]]
    if kind != "jobs":
        return _KINDS[kind][1](records)
    # the jobs list has no timeout: each deployment's, so RUNNING jobs get their countdown
    timeouts = {f.ident: f.timeout for f in results if f.timeout is not None}
    if not timeouts:
        return jobs_dataframe(records)
    # the service's now: this client's clock (it just heard from it), else the last one heard
    clock = client if isinstance(client, AsyncNosanaClient | NosanaClient) else None
    return jobs_dataframe(records, timeout=timeouts, now=clock)


def _check_kinds(kinds: Any) -> list[str]:
    chosen = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [kind for kind in chosen if kind not in _KINDS]
    if not chosen or unknown:
        raise ValidationError(f"kind must be one of {', '.join(_KINDS)}", argument="kind")
    return list(dict.fromkeys(chosen))


async def afleet_dataframes(
    kinds: Iterable[str],
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Several kinds ("jobs", "events", "tasks", "revisions") of many deployments in one pass.

    Each deployment given by id is fetched once (one get), then its lists concurrently; at
    most ``max_concurrency`` requests are in flight at any moment.

    Args:
        kinds: some of "jobs", "events", "tasks", "revisions".
        client: an ``AsyncNosanaClient``.
        deployments: deployment ids or handles; None for every deployment of the client.
        max_concurrency: at most this many requests in flight (1-64).
        progress: show a tqdm progress bar.

    Returns:
        One frame per kind, each with its fixed schema.

    Raises:
        ValidationError: an unknown kind or a bad argument.
    """
    chosen = _check_kinds(kinds)
    limit = _check_concurrency(max_concurrency)
    handles = await _handles(client, _targets(deployments))
    semaphore = asyncio.Semaphore(limit)
    methods = [_KINDS[kind][0] for kind in chosen]
    from tqdm.auto import tqdm

    label = " and ".join(chosen)
    bar = tqdm(total=len(handles), desc=f"{label} of deployments", disable=not progress, unit="dep")

    async def one(target: Any) -> _Fetched:
        fetched = await _fetch_kinds(client, target, methods, semaphore)
        bar.update(1)
        return fetched

    tasks = [asyncio.create_task(one(target)) for target in handles]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        bar.close()
    return {kind: _frame_of(kind, results, index, client) for index, kind in enumerate(chosen)}


async def afleet_dataframe(
    kind: str,
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    progress: bool = True,
) -> pd.DataFrame:
    """``kind`` ("jobs", "events", "tasks", "revisions") of many deployments, concurrently.

    Args:
        kind: "jobs", "events", "tasks" or "revisions".
        client: an ``AsyncNosanaClient``.
        deployments: deployment ids or handles; None for every deployment of the client.
        max_concurrency: at most this many requests in flight (1-64).
        progress: show a tqdm progress bar.

    Returns:
        The frame, with the kind's fixed schema.

    Raises:
        ValidationError: an unknown kind or a bad argument.
    """
    if kind not in _KINDS:
        raise ValidationError(f"kind must be one of {', '.join(_KINDS)}", argument="kind")
    frames = await afleet_dataframes(
        [kind], client, deployments, max_concurrency=max_concurrency, progress=progress
    )
    return frames[kind]


def run_in_private_loop(make_coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion in a fresh event loop on a worker thread."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nosana-nb-fleet") as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()


def _async_twin_factory(client: Any) -> Callable[[], Any]:
    """How to build an async client for ``client`` inside the private loop."""
    if callable(client) and not hasattr(client, "deployments"):
        factory: Callable[[], Any] = client  # a zero-argument factory of async clients
        return factory
    if hasattr(client, "aclose"):
        raise ValidationError(
            "this is an async client: use `await afleet_..._dataframe(client, ...)` instead",
            argument="client",
        )
    to_async = getattr(client, "to_async", None)
    if not callable(to_async) or not hasattr(client, "deployments"):
        raise ValidationError(
            f"expected a NosanaClient or an async-client factory, got {type(client).__name__}",
            argument="client",
        )
    twin: Callable[[], Any] = to_async  # keeps every option: API key, transport, retries
    return twin


def fleet_dataframes(
    kinds: Iterable[str],
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """Sync wrapper of :func:`afleet_dataframes` (safe inside Jupyter's running loop).

    ``client`` is a ``NosanaClient`` (its ``to_async()`` twin, with every option of the
    client, is made for the fetch and closed after) or a zero-argument factory returning an
    async client.

    Args:
        kinds: some of "jobs", "events", "tasks", "revisions".
        client: a ``NosanaClient``, or a zero-argument factory of async clients.
        deployments: deployment ids or handles; None for every deployment of the client.
        max_concurrency: at most this many requests in flight (1-64).
        progress: show a tqdm progress bar.

    Returns:
        One frame per kind, each with its fixed schema.

    Raises:
        ValidationError: an unknown kind or a bad argument.
    """
    chosen = _check_kinds(kinds)
    factory = _async_twin_factory(client)
    _check_concurrency(max_concurrency)
    targets = _targets(deployments)

    async def work() -> dict[str, pd.DataFrame]:
        async_client = factory()
        try:
            return await afleet_dataframes(
                chosen,
                async_client,
                targets,
                max_concurrency=max_concurrency,
                progress=progress,
            )
        finally:
            closer = getattr(async_client, "aclose", None)
            if callable(closer):
                await closer()

    return run_in_private_loop(work)


def fleet_dataframe(
    kind: str,
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    progress: bool = True,
) -> pd.DataFrame:
    """Sync wrapper of :func:`afleet_dataframe` (safe inside Jupyter's running loop).

    ``client`` is a ``NosanaClient`` or a zero-argument factory returning an async client.

    Args:
        kind: "jobs", "events", "tasks" or "revisions".
        client: a ``NosanaClient``, or a zero-argument factory of async clients.
        deployments: deployment ids or handles; None for every deployment of the client.
        max_concurrency: at most this many requests in flight (1-64).
        progress: show a tqdm progress bar.

    Returns:
        The frame, with the kind's fixed schema.

    Raises:
        ValidationError: an unknown kind or a bad argument.
    """
    if kind not in _KINDS:
        raise ValidationError(f"kind must be one of {', '.join(_KINDS)}", argument="kind")
    frames = fleet_dataframes(
        [kind], client, deployments, max_concurrency=max_concurrency, progress=progress
    )
    return frames[kind]


def fleet_jobs_dataframe(
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    progress: bool = True,
) -> pd.DataFrame:
    """Jobs of many deployments (all of the client's when ``deployments`` is None).

    ``time_remaining`` counts each RUNNING job down to its own deployment's timeout, as
    ``jobs_dataframe(client, deployment=...)`` does for one.

    Args:
        client: a ``NosanaClient``, or a zero-argument factory of async clients.
        deployments: deployment ids or handles; None for every deployment of the client.
        max_concurrency: at most this many requests in flight (1-64).
        progress: show a tqdm progress bar.

    Returns:
        The ``jobs`` frame.
    """
    return fleet_dataframe(
        "jobs", client, deployments, max_concurrency=max_concurrency, progress=progress
    )


def fleet_events_dataframe(
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    progress: bool = True,
) -> pd.DataFrame:
    """Events of many deployments.

    Args:
        client: a ``NosanaClient``, or a zero-argument factory of async clients.
        deployments: deployment ids or handles; None for every deployment of the client.
        max_concurrency: at most this many requests in flight (1-64).
        progress: show a tqdm progress bar.

    Returns:
        The ``events`` frame.
    """
    return fleet_dataframe(
        "events", client, deployments, max_concurrency=max_concurrency, progress=progress
    )


def fleet_tasks_dataframe(
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    progress: bool = True,
) -> pd.DataFrame:
    """Outstanding tasks of many deployments.

    Args:
        client: a ``NosanaClient``, or a zero-argument factory of async clients.
        deployments: deployment ids or handles; None for every deployment of the client.
        max_concurrency: at most this many requests in flight (1-64).
        progress: show a tqdm progress bar.

    Returns:
        The ``tasks`` frame.
    """
    return fleet_dataframe(
        "tasks", client, deployments, max_concurrency=max_concurrency, progress=progress
    )


async def afleet_jobs_dataframe(
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    progress: bool = True,
) -> pd.DataFrame:
    """Async: jobs of many deployments through an ``AsyncNosanaClient``.

    Args:
        client: an ``AsyncNosanaClient``.
        deployments: deployment ids or handles; None for every deployment of the client.
        max_concurrency: at most this many requests in flight (1-64).
        progress: show a tqdm progress bar.

    Returns:
        The ``jobs`` frame.
    """
    return await afleet_dataframe(
        "jobs", client, deployments, max_concurrency=max_concurrency, progress=progress
    )


async def afleet_events_dataframe(
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
    progress: bool = True,
) -> pd.DataFrame:
    """Async: events of many deployments through an ``AsyncNosanaClient``.

    Args:
        client: an ``AsyncNosanaClient``.
        deployments: deployment ids or handles; None for every deployment of the client.
        max_concurrency: at most this many requests in flight (1-64).
        progress: show a tqdm progress bar.

    Returns:
        The ``events`` frame.
    """
    return await afleet_dataframe(
        "events", client, deployments, max_concurrency=max_concurrency, progress=progress
    )
