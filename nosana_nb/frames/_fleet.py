"""Frames across many deployments, fetched concurrently through the async client.

``afleet_*`` run in the caller's event loop. The sync ``fleet_*`` run the same coroutine in a
private event loop on a worker thread, so they work inside Jupyter's running loop without
patching it (no nest_asyncio). Concurrency is bounded by a semaphore; a ``tqdm.auto`` bar
shows progress.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pandas as pd

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames._fetch import PAGE_LIMIT, deployment_id
from nosana_nb.frames._wire import (
    events_dataframe,
    jobs_dataframe,
    revisions_dataframe,
    tasks_dataframe,
)

T = TypeVar("T")

_KINDS: dict[str, tuple[str, Callable[[Any], pd.DataFrame]]] = {
    "jobs": ("get_jobs", jobs_dataframe),
    "events": ("get_events", events_dataframe),
    "tasks": ("get_tasks", tasks_dataframe),
    "revisions": ("get_revisions", revisions_dataframe),
}


def _check_concurrency(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
        raise ValidationError(
            "max_concurrency must be an integer from 1 to 64", argument="max_concurrency"
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


async def _fetch_one(client: Any, target: Any, method: str) -> list[Any]:
    handle = target
    if not callable(getattr(target, method, None)):
        fetched = client.deployments.get(deployment_id(target))
        handle = await fetched if isinstance(fetched, Awaitable) else fetched
    items = await _collect(getattr(handle, method)(limit=PAGE_LIMIT))
    ident = deployment_id(handle)
    records = [_dump(item) for item in items]
    # events/tasks carry the id as deploymentId, jobs/revisions as deployment; fill either way
    return [
        r if r.get("deployment") or r.get("deploymentId") else {**r, "deployment": ident}
        for r in records
    ]


async def afleet_dataframe(
    kind: str,
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = 8,
    progress: bool = True,
) -> pd.DataFrame:
    """``kind`` ("jobs", "events", "tasks", "revisions") of many deployments, concurrently."""
    if kind not in _KINDS:
        raise ValidationError(f"kind must be one of {', '.join(_KINDS)}", argument="kind")
    method, build = _KINDS[kind]
    limit = _check_concurrency(max_concurrency)
    handles = await _handles(client, _targets(deployments))
    semaphore = asyncio.Semaphore(limit)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(handles), desc=f"{kind} of deployments", disable=not progress, unit="dep")

    async def one(target: Any) -> list[Any]:
        async with semaphore:
            records = await _fetch_one(client, target, method)
        bar.update(1)
        return records

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
    return build([record for batch in results for record in batch])


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


def fleet_dataframe(
    kind: str,
    client: Any,
    deployments: Any = None,
    *,
    max_concurrency: int = 8,
    progress: bool = True,
) -> pd.DataFrame:
    """Sync wrapper of :func:`afleet_dataframe` (safe inside Jupyter's running loop).

    ``client`` is a ``NosanaClient`` (its ``to_async()`` twin, with every option of the
    client, is made for the fetch and closed after) or a zero-argument factory returning an
    async client.
    """
    factory = _async_twin_factory(client)
    _check_concurrency(max_concurrency)
    targets = _targets(deployments)

    async def work() -> pd.DataFrame:
        async_client = factory()
        try:
            return await afleet_dataframe(
                kind,
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


def fleet_jobs_dataframe(
    client: Any, deployments: Any = None, *, max_concurrency: int = 8, progress: bool = True
) -> pd.DataFrame:
    """Jobs of many deployments (all of the client's when ``deployments`` is None)."""
    return fleet_dataframe(
        "jobs", client, deployments, max_concurrency=max_concurrency, progress=progress
    )


def fleet_events_dataframe(
    client: Any, deployments: Any = None, *, max_concurrency: int = 8, progress: bool = True
) -> pd.DataFrame:
    """Events of many deployments."""
    return fleet_dataframe(
        "events", client, deployments, max_concurrency=max_concurrency, progress=progress
    )


def fleet_tasks_dataframe(
    client: Any, deployments: Any = None, *, max_concurrency: int = 8, progress: bool = True
) -> pd.DataFrame:
    """Outstanding tasks of many deployments."""
    return fleet_dataframe(
        "tasks", client, deployments, max_concurrency=max_concurrency, progress=progress
    )


async def afleet_jobs_dataframe(
    client: Any, deployments: Any = None, *, max_concurrency: int = 8, progress: bool = True
) -> pd.DataFrame:
    """Async: jobs of many deployments through an ``AsyncNosanaClient``."""
    return await afleet_dataframe(
        "jobs", client, deployments, max_concurrency=max_concurrency, progress=progress
    )


async def afleet_events_dataframe(
    client: Any, deployments: Any = None, *, max_concurrency: int = 8, progress: bool = True
) -> pd.DataFrame:
    """Async: events of many deployments through an ``AsyncNosanaClient``."""
    return await afleet_dataframe(
        "events", client, deployments, max_concurrency=max_concurrency, progress=progress
    )
