"""Job results and logs as frames: one row per log line (``logs``), one row per op (``results``).

The results of many jobs are fetched concurrently through the async client (one job-detail
request each, docs/wire-contract.md §3.4, an IPFS fetch when the service answers a hash),
bounded by a semaphore; the sync builders run that in a private event loop on a worker thread
(``_fleet.run_in_private_loop``), so they work inside Jupyter's running loop. Jobs still QUEUED
or RUNNING have no results yet and are not asked for; a job that ended without ever running
(delisted) has none either and adds no rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from nosana_nb.core.errors import ValidationError
from nosana_nb.core.results import ERROR_STREAMS, JobResults, parse_job_results
from nosana_nb.frames import _convert as cv
from nosana_nb.frames._fetch import PAGE_LIMIT, deployment_id
from nosana_nb.frames._fleet import (
    _async_twin_factory,
    _check_concurrency,
    _collect,
    run_in_private_loop,
)
from nosana_nb.frames.schema import (
    DATETIME,
    DURATION,
    LOG_LEVELS,
    LOG_STREAMS,
    empty_frame,
    schema_of,
)

DEFAULT_CONCURRENCY = 16
_ENDED_STATES = frozenset({"COMPLETED", "STOPPED", 2, 3})


@dataclass(frozen=True)
class JobResultsRecord:
    """The results of one job with where they came from (the input of the pure builders)."""

    deployment: str
    job: str
    revision: int | None
    results: JobResults


@dataclass(frozen=True)
class _Target:
    deployment: str
    job: str
    revision: int | None


# -- pure builders --------------------------------------------------------------------------


def _as_record(item: Any) -> JobResultsRecord:
    if isinstance(item, JobResultsRecord):
        return item
    if isinstance(item, dict) and {"deployment", "job", "results"} <= set(item):
        results = item["results"]
        try:
            parsed = results if isinstance(results, JobResults) else parse_job_results(results)
        except ValueError as exc:
            raise ValidationError(
                f"results of job {item['job']}: {exc}", argument="source"
            ) from None
        revision = item.get("revision")
        return JobResultsRecord(
            str(item["deployment"]),
            str(item["job"]),
            None if revision is None else int(revision),
            parsed,
        )
    raise ValidationError(
        "expected JobResultsRecord or {'deployment', 'job', 'revision', 'results'} items, got "
        f"{type(item).__name__}",
        argument="source",
    )


def logs_frame(records: Iterable[Any]) -> pd.DataFrame:
    """One row per log line of ``records`` (JobResultsRecord or equivalent dicts), in order."""
    columns: dict[str, list[Any]] = {name: [] for name in schema_of("logs")}
    for record in map(_as_record, records):
        for op in record.results.ops:
            for line in op.logs:
                columns["deployment"].append(record.deployment)
                columns["job"].append(record.job)
                columns["revision"].append(record.revision)
                columns["op"].append(op.op)
                columns["stream"].append(line.stream)
                columns["level"].append("error" if line.stream in ERROR_STREAMS else "info")
                columns["timestamp"].append(line.timestamp)
                columns["text"].append(line.text)
                columns["exit_code"].append(op.exit_code)
    if not columns["job"]:
        return empty_frame("logs")
    what = "logs"
    return cv.frame(
        {
            "deployment": cv.strings(columns["deployment"], what, "deployment"),
            "job": cv.strings(columns["job"], what, "job"),
            "revision": cv.integers(columns["revision"], what, "revision"),
            "op": cv.strings(columns["op"], what, "op"),
            "stream": cv.categories(columns["stream"], LOG_STREAMS, what, "stream"),
            "level": cv.categories(columns["level"], LOG_LEVELS, what, "level"),
            "timestamp": pd.Series(pd.to_datetime(columns["timestamp"], utc=True), dtype=DATETIME),
            "text": cv.strings(columns["text"], what, "text", blank_is_na=False),
            "exit_code": cv.integers(columns["exit_code"], what, "exit_code"),
        },
        schema_of("logs"),
    )


def results_frame(records: Iterable[Any]) -> pd.DataFrame:
    """One row per op of ``records``: status, exit code, start, end and duration."""
    columns: dict[str, list[Any]] = {name: [] for name in schema_of("results")}
    for record in map(_as_record, records):
        for op in record.results.ops:
            columns["deployment"].append(record.deployment)
            columns["job"].append(record.job)
            columns["op"].append(op.op)
            columns["status"].append(op.status)
            columns["exit_code"].append(op.exit_code)
            columns["started_at"].append(op.started_at)
            columns["ended_at"].append(op.ended_at)
    if not columns["job"]:
        return empty_frame("results")
    what = "results"
    started = pd.Series(pd.to_datetime(columns["started_at"], utc=True), dtype=DATETIME)
    ended = pd.Series(pd.to_datetime(columns["ended_at"], utc=True), dtype=DATETIME)
    return cv.frame(
        {
            "deployment": cv.strings(columns["deployment"], what, "deployment"),
            "job": cv.strings(columns["job"], what, "job"),
            "op": cv.strings(columns["op"], what, "op"),
            "status": cv.strings(columns["status"], what, "status"),
            "exit_code": cv.integers(columns["exit_code"], what, "exit_code"),
            "started_at": started,
            "ended_at": ended,
            "duration": (ended - started).astype(DURATION),
        },
        schema_of("results"),
    )


# -- fetching -------------------------------------------------------------------------------


def _targets_of_jobs_frame(jobs: pd.DataFrame) -> list[_Target]:
    missing = {"deployment", "job"} - set(map(str, jobs.columns))
    if missing:
        raise ValidationError(
            f"a jobs frame needs the columns {sorted(missing)}", argument="source"
        )
    if "state" in jobs.columns:
        jobs = jobs[jobs["state"].astype(object).isin(_ENDED_STATES)]
    revisions = (
        jobs["revision"] if "revision" in jobs.columns else pd.Series(None, index=jobs.index)
    )
    return [
        _Target(str(d), str(j), None if pd.isna(r) else int(r))
        for d, j, r in zip(jobs["deployment"], jobs["job"], revisions, strict=True)
        if not pd.isna(d) and not pd.isna(j)
    ]


def _targets_of_job_items(deployment: str, jobs: Iterable[Any]) -> list[_Target]:
    targets = []
    for job in jobs:
        record = job.model_dump(mode="json", by_alias=True) if hasattr(job, "model_dump") else job
        if record.get("state") not in _ENDED_STATES:
            continue
        revision = record.get("revision")
        targets.append(
            _Target(deployment, str(record["job"]), None if revision is None else int(revision))
        )
    return targets


async def _await(value: Any) -> Any:
    return await value if isinstance(value, Awaitable) else value


async def _fetch_records(
    client: Any,
    *,
    deployments: Sequence[Any] | None,
    targets: list[_Target] | None,
    max_concurrency: int,
) -> list[JobResultsRecord]:
    """Results of ``targets`` (or of every ended job of ``deployments``, or of all of the
    client's deployments), ``max_concurrency`` requests at a time, in input order."""
    semaphore = asyncio.Semaphore(max_concurrency)
    handles: dict[str, Any] = {}

    async def handle_of(ident: str) -> Any:
        if ident not in handles:
            handles[ident] = await _await(client.deployments.get(ident))
        return handles[ident]

    if targets is None:
        if deployments is None:
            deployments = await _collect(client.deployments.list(limit=PAGE_LIMIT))

        async def jobs_of(target: Any) -> list[_Target]:
            async with semaphore:
                ident = deployment_id(target)
                handle = (
                    target
                    if callable(getattr(target, "get_jobs", None))
                    else await handle_of(ident)
                )
                handles.setdefault(ident, handle)
                items = await _collect(handle.get_jobs(limit=PAGE_LIMIT))
            return _targets_of_job_items(ident, items)

        batches = await _gather([jobs_of(d) for d in deployments])
        targets = [t for batch in batches for t in batch]

    # handles first, one per deployment, so the results requests below never race for them
    for ident in dict.fromkeys(t.deployment for t in targets):
        await handle_of(ident)

    async def results_of(target: _Target) -> JobResultsRecord | None:
        async with semaphore:
            results = await handles[target.deployment].get_job_results(target.job)
        if results is None:
            return None
        return JobResultsRecord(target.deployment, target.job, target.revision, results)

    found = await _gather([results_of(t) for t in targets])
    return [r for r in found if r is not None]


async def _gather(coroutines: list[Any]) -> list[Any]:
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _plan(source: Any) -> tuple[Sequence[Any] | None, list[_Target] | None]:
    """(deployments, targets) to fetch for ``source``; (None, None) means every deployment."""
    if cv.is_client(source):
        return None, None
    if isinstance(source, pd.DataFrame):
        if "job" in source.columns:
            return None, _targets_of_jobs_frame(source)
        if "id" in source.columns:  # a deployments frame
            return [str(i) for i in source["id"].dropna()], None
        raise ValidationError("expected a jobs or deployments frame", argument="source")
    if isinstance(source, str) or hasattr(source, "get_jobs"):
        return [source], None
    if isinstance(source, Iterable):
        return list(source), None
    raise ValidationError(
        "source must be a client, a deployment (id or handle), deployments, or a jobs frame, got "
        f"{type(source).__name__}",
        argument="source",
    )


async def afetch_job_results(
    source: Any, client: Any = None, *, max_concurrency: int = DEFAULT_CONCURRENCY
) -> list[JobResultsRecord]:
    """The results of every ended job of ``source`` through an ``AsyncNosanaClient``.

    ``source``: the async client (all its deployments), a deployment id/handle or several, a
    deployments frame, or a jobs frame (only its COMPLETED/STOPPED rows are asked for).

    Args:
        source: what to read (see above).
        client: the ``AsyncNosanaClient`` (unless ``source`` is one, or a deployment handle).
        max_concurrency: at most this many requests in flight.

    Returns:
        One record per ended job that has results.

    Raises:
        ValidationError: no client to fetch with, or a bad argument.
    """
    limit = _check_concurrency(max_concurrency)
    if client is None and _is_deployment_handle(source):
        # the handle is all we need: its jobs list and their details
        return await _fetch_records(None, deployments=[source], targets=None, max_concurrency=limit)
    if client is None:
        if not cv.is_client(source):
            raise ValidationError(_CLIENT_REQUIRED, argument="client")
        client = source
    deployments, targets = _plan(source)
    return await _fetch_records(
        client, deployments=deployments, targets=targets, max_concurrency=limit
    )


_CLIENT_REQUIRED = "client is required unless source is the client or a Deployment"


def _is_deployment_handle(source: Any) -> bool:
    return callable(getattr(source, "get_job_results", None)) and callable(
        getattr(source, "get_jobs", None)
    )


def _sequential_records(deployment: Any) -> list[JobResultsRecord]:
    """A sync Deployment without its client: no async twin to fan out with, one job at a time."""
    ident = deployment_id(deployment)
    records = []
    for target in _targets_of_job_items(ident, deployment.get_jobs(limit=PAGE_LIMIT)):
        results = deployment.get_job_results(target.job)
        if results is not None:
            records.append(JobResultsRecord(ident, target.job, target.revision, results))
    return records


def fetch_job_results(
    source: Any, client: Any = None, *, max_concurrency: int = DEFAULT_CONCURRENCY
) -> list[JobResultsRecord]:
    """Sync :func:`afetch_job_results` for a ``NosanaClient``: its ``to_async()`` twin fetches
    concurrently in a private event loop (safe inside Jupyter's running loop).

    Args:
        source: what to read (see above).
        client: the ``NosanaClient`` (unless ``source`` is one, or a deployment handle).
        max_concurrency: at most this many requests in flight.

    Returns:
        One record per ended job that has results.

    Raises:
        ValidationError: no client to fetch with, or a bad argument.
    """
    _check_concurrency(max_concurrency)
    if client is None and _is_deployment_handle(source):
        return _sequential_records(source)
    owner = source if client is None else client
    if client is None and not cv.is_client(source):
        raise ValidationError(_CLIENT_REQUIRED, argument="client")
    factory = _async_twin_factory(owner)
    deployments, targets = _plan(source)
    # the twin cannot use the sync client's handles: pass deployments on as ids
    if deployments is not None:
        deployments = [deployment_id(d) for d in deployments]

    async def work() -> list[JobResultsRecord]:
        async_client = factory()
        try:
            return await _fetch_records(
                async_client,
                deployments=deployments,
                targets=targets,
                max_concurrency=max_concurrency,
            )
        finally:
            closer = getattr(async_client, "aclose", None)
            if callable(closer):
                await closer()

    return run_in_private_loop(work)


def _build(
    source: Any, client: Any, max_concurrency: int, build: Callable[[Iterable[Any]], pd.DataFrame]
) -> pd.DataFrame:
    if _is_records(source):
        return build(source)
    return build(fetch_job_results(source, client, max_concurrency=max_concurrency))


def _is_records(source: Any) -> bool:
    """Results already fetched (an empty list too: no rows either way)."""
    return isinstance(source, list | tuple) and all(
        isinstance(i, JobResultsRecord) or (isinstance(i, dict) and "results" in i) for i in source
    )


def logs_dataframe(
    source: Any, client: Any = None, *, max_concurrency: int = DEFAULT_CONCURRENCY
) -> pd.DataFrame:
    """One row per log line of the ended jobs of ``source`` (fixed ``logs`` schema).

    ``source``: a ``NosanaClient`` (all its deployments); a deployment id or handle, several,
    or a deployments frame; a jobs frame; or records already fetched (``fetch_job_results``).
    ``client`` is needed for concurrent fetching unless ``source`` is the client; a Deployment
    alone is read one job at a time. Columns: deployment, job, revision,
    op, stream (stdin/stdout/stderr/nodeerr), level (error for stderr and nodeerr), timestamp,
    text, exit_code (the op's).

    Args:
        source: what to read (see above).
        client: the ``NosanaClient`` to fetch with (see above).
        max_concurrency: at most this many requests in flight.

    Returns:
        The ``logs`` frame.
    """
    return _build(source, client, max_concurrency, logs_frame)


def results_dataframe(
    source: Any, client: Any = None, *, max_concurrency: int = DEFAULT_CONCURRENCY
) -> pd.DataFrame:
    """One row per op of the ended jobs of ``source`` (fixed ``results`` schema): status,
    exit code, start, end, duration. ``source`` and ``client`` as in :func:`logs_dataframe`.

    Args:
        source: what to read (see above).
        client: the ``NosanaClient`` to fetch with.
        max_concurrency: at most this many requests in flight.

    Returns:
        The ``results`` frame.
    """
    return _build(source, client, max_concurrency, results_frame)


async def alogs_dataframe(
    source: Any, client: Any = None, *, max_concurrency: int = DEFAULT_CONCURRENCY
) -> pd.DataFrame:
    """:func:`logs_dataframe` through an ``AsyncNosanaClient`` in the caller's loop.

    Args:
        source: what to read (see above).
        client: the ``AsyncNosanaClient`` to fetch with.
        max_concurrency: at most this many requests in flight.

    Returns:
        The ``logs`` frame.
    """
    if _is_records(source):
        return logs_frame(source)
    return logs_frame(await afetch_job_results(source, client, max_concurrency=max_concurrency))


async def aresults_dataframe(
    source: Any, client: Any = None, *, max_concurrency: int = DEFAULT_CONCURRENCY
) -> pd.DataFrame:
    """:func:`results_dataframe` through an ``AsyncNosanaClient`` in the caller's loop.

    Args:
        source: what to read (see above).
        client: the ``AsyncNosanaClient`` to fetch with.
        max_concurrency: at most this many requests in flight.

    Returns:
        The ``results`` frame.
    """
    if _is_records(source):
        return results_frame(source)
    return results_frame(await afetch_job_results(source, client, max_concurrency=max_concurrency))
