"""Fleet frames: bounded concurrent fetching through an async client, also from sync code."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import (
    DEFAULT_MAX_CONCURRENCY,
    afleet_dataframes,
    afleet_events_dataframe,
    afleet_jobs_dataframe,
    fleet_dataframes,
    fleet_jobs_dataframe,
    fleet_tasks_dataframe,
    validate_schema,
)


class Pager:
    def __init__(self, items: list[Any], gauge: Gauge | None = None) -> None:
        self.items, self.gauge = items, gauge

    async def to_list(self) -> list[Any]:
        if self.gauge is not None:
            await self.gauge.visit()
        return list(self.items)


class Gauge:
    """Counts how many fetches are in flight at once (yielding, never sleeping)."""

    def __init__(self) -> None:
        self.current = self.peak = self.visits = 0

    async def visit(self) -> None:
        self.current += 1
        self.visits += 1
        self.peak = max(self.peak, self.current)
        try:
            for _ in range(5):
                await asyncio.sleep(0)
        finally:
            self.current -= 1


class FakeDeployment:
    def __init__(self, ident: str, gauge: Gauge, *, fail: bool = False) -> None:
        self.id, self.gauge, self.fail = ident, gauge, fail

    def get_jobs(self, *, limit: int) -> Pager:
        assert limit == 100
        if self.fail:
            raise RuntimeError(f"boom {self.id}")
        jobs = [
            {"job": f"{self.id}-j{i}", "state": "RUNNING", "time_start": 1_735_689_600 + i}
            for i in range(2)
        ]
        return Pager(jobs, self.gauge)

    def get_events(self, *, limit: int) -> Pager:
        event = {
            "category": "Deployment",
            "deploymentId": self.id,
            "type": "JOB_LIST_CONFIRMED",
            "message": "ok",
            "created_at": "2025-01-01T00:00:00.000Z",
        }
        return Pager([event], self.gauge)

    def get_tasks(self, *, limit: int) -> Pager:
        return Pager([], self.gauge)


class FakeDeployments:
    def __init__(self, handles: list[FakeDeployment]) -> None:
        self.handles = {h.id: h for h in handles}
        self.gets: list[str] = []

    def list(self, *, limit: int) -> Pager:
        return Pager(list(self.handles.values()))

    async def get(self, ident: str) -> FakeDeployment:
        self.gets.append(ident)
        return self.handles[ident]


class FakeAsyncClient:
    def __init__(self, count: int = 10, *, failing: set[int] | None = None) -> None:
        self.gauge = Gauge()
        failing = failing or set()
        self.deployments = FakeDeployments(
            [FakeDeployment(f"dep{i}", self.gauge, fail=i in failing) for i in range(count)]
        )
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


async def test_async_fleet_fetches_all_deployments_with_bounded_concurrency() -> None:
    client = FakeAsyncClient(10)
    frame = await afleet_jobs_dataframe(client, max_concurrency=3, progress=False)
    validate_schema(frame, "jobs")
    assert len(frame) == 20
    assert sorted(set(frame["deployment"])) == sorted(f"dep{i}" for i in range(10))
    assert 1 < client.gauge.peak <= 3
    assert client.deployments.gets == []


async def test_async_fleet_for_given_ids_and_events() -> None:
    client = FakeAsyncClient(4)
    frame = await afleet_events_dataframe(client, ["dep1", "dep3"], progress=False)
    assert frame["deployment"].tolist() == ["dep1", "dep3"]
    assert client.deployments.gets == ["dep1", "dep3"]


async def test_sync_fleet_works_inside_a_running_event_loop() -> None:
    asyncio.get_running_loop()  # we are in one, like a Jupyter cell
    made: list[FakeAsyncClient] = []

    def factory() -> FakeAsyncClient:
        made.append(FakeAsyncClient(5))
        return made[-1]

    frame = fleet_jobs_dataframe(factory, max_concurrency=2, progress=True)
    assert len(frame) == 10
    assert made[0].closed
    assert made[0].gauge.peak <= 2


def test_sync_fleet_accepts_a_deployments_frame() -> None:
    ids = pd.DataFrame({"id": ["dep0", "dep2"]})
    frame = fleet_tasks_dataframe(lambda: FakeAsyncClient(3), ids, progress=False)
    validate_schema(frame, "tasks")
    assert frame.empty


async def test_a_failing_deployment_propagates_and_the_rest_are_cancelled() -> None:
    client = FakeAsyncClient(6, failing={2})
    with pytest.raises(RuntimeError, match="boom dep2"):
        await afleet_jobs_dataframe(client, max_concurrency=2, progress=False)
    assert client.gauge.current == 0  # nothing left running
    assert client.gauge.visits < 5  # the deployments after the failure were cancelled


@pytest.mark.parametrize("limit", [0, 65, 2.0, True])
def test_bad_concurrency_is_refused(limit: Any) -> None:
    with pytest.raises(ValidationError, match="max_concurrency"):
        fleet_jobs_dataframe(lambda: FakeAsyncClient(1), max_concurrency=limit)


def test_sync_helper_refuses_an_async_client_instance() -> None:
    with pytest.raises(ValidationError, match="afleet_"):
        fleet_jobs_dataframe(FakeAsyncClient(1))


def test_sync_helper_refuses_unrelated_objects() -> None:
    with pytest.raises(ValidationError, match="NosanaClient"):
        fleet_jobs_dataframe(object())


def test_a_frame_without_ids_is_refused() -> None:
    with pytest.raises(ValidationError, match="'id' column"):
        fleet_jobs_dataframe(lambda: FakeAsyncClient(1), pd.DataFrame({"x": [1]}))


async def test_several_kinds_in_one_pass_get_each_deployment_once() -> None:
    client = FakeAsyncClient(8)
    ids = [f"dep{i}" for i in range(8)]
    frames = await afleet_dataframes(
        ["jobs", "events"], client, ids, max_concurrency=3, progress=False
    )
    assert sorted(client.deployments.gets) == sorted(ids)  # one get per deployment
    assert len(frames["jobs"]) == 16
    assert frames["events"]["deployment"].tolist() == ids
    assert client.gauge.visits == 16  # a jobs and an events list per deployment
    assert 1 < client.gauge.peak <= 3  # the limit holds across kinds, and is used


def test_fleet_default_concurrency_is_the_documented_polite_limit() -> None:
    made: list[FakeAsyncClient] = []

    def factory() -> FakeAsyncClient:
        made.append(FakeAsyncClient(40))
        return made[-1]

    fleet_dataframes(["jobs", "tasks"], factory, progress=False)
    assert made[0].gauge.peak == DEFAULT_MAX_CONCURRENCY  # reached, never passed
    assert made[0].closed
