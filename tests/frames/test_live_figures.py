"""Live FigureWidgets follow a Watcher on the embedded sandbox (manual clock)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import plotly.graph_objects as go
import pytest

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.watch import Watcher
from nosana_nb.widgets._live import _LiveBinding, detach, live_job_timeline, live_status_history

WAIT = 10.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """Seed 1, unlike the other frames modules (conftest.py)."""
    handle = sandbox_module.start(db=":memory:", speed=None, seed=1)
    yield handle
    handle.stop()


@pytest.fixture
def deployment(client: NosanaClient) -> Deployment:
    vault = client.vaults.create()
    vault.topup(sol="0.05", nos="50")
    return client.deployments.create(
        name="live",
        market=client.markets.get("nvidia-3060").address,
        replicas=2,
        timeout=timedelta(hours=1),
        strategy="SIMPLE",
        job_definition=container_job("docker.io/library/ubuntu:24.04", ["echo", "hi"]),
        vault=vault.address,
    )


def eventually(check: Callable[[], bool], timeout: float = WAIT) -> bool:
    """Poll a condition the watcher thread makes true (real time, not simulated)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def trace_names(figure: go.FigureWidget) -> set[str]:
    """The states drawn: a state's bars and the ticks marking its brief segments share a group."""
    return {trace.legendgroup or trace.name for trace in figure.data}


def bar_rows(figure: go.FigureWidget, name: str) -> list[Any]:
    return [y for trace in figure.data if trace.name == name for y in trace.y]


def test_figures_follow_the_watcher(
    sandbox: SandboxHandle, client: NosanaClient, deployment: Deployment
) -> None:
    watcher = Watcher(client, deployment)
    status = live_status_history(watcher, min_interval=0.05)
    jobs = live_job_timeline(watcher, min_interval=0.05)
    assert isinstance(status, go.FigureWidget)
    assert isinstance(jobs, go.FigureWidget)
    assert status.data == ()  # nothing recorded yet: the builders' empty figures
    assert status.layout.annotations[0].text == "No status history"
    assert jobs.layout.annotations[0].text == "No jobs"
    with watcher:
        assert eventually(lambda: trace_names(status) == {"DRAFT"})
        deployment.start()
        # on the sandbox's manual clock STARTING lasts no simulated time: RUNNING holds
        assert eventually(lambda: "RUNNING" in trace_names(status))
        assert eventually(lambda: len(bar_rows(jobs, "QUEUED")) == 2)
        assert status.layout.annotations == ()  # the empty-figure note is gone
        sandbox.advance(90)
        assert eventually(lambda: len(bar_rows(jobs, "RUNNING")) == 2)
        sandbox.advance(3600)
        assert eventually(lambda: "STOPPED" in trace_names(status))
        assert eventually(lambda: len(bar_rows(jobs, "COMPLETED")) == 2)
    # each job's wait in the queue, then its run: no job is still drawn queued or running
    assert trace_names(jobs) == {"QUEUED", "COMPLETED"}
    waits = [text for trace in jobs.data if trace.name == "QUEUED" for text in trace.hovertext]
    assert len(waits) == 2
    assert all("waited in the queue" in text for text in waits)
    assert status.layout.title.text == "Deployment status over time"
    detach(status)
    detach(jobs)


def test_detached_figure_stops_updating(client: NosanaClient, deployment: Deployment) -> None:
    watcher = Watcher(client, deployment)
    figure = live_status_history(watcher, min_interval=0)
    detach(figure)
    detach(figure)  # twice is fine
    with watcher:
        assert watcher.wait_until(lambda rows: len(rows) >= 1, WAIT)
    assert figure.data == ()


def test_redraws_are_throttled_but_the_last_change_is_drawn() -> None:
    rows_seen = 0
    builds: list[int] = []

    def build() -> go.Figure:
        builds.append(rows_seen)
        return go.Figure(data=[go.Bar(name=f"rows {rows_seen}", x=[1], y=["r"])])

    widget = go.FigureWidget()
    binding = _LiveBinding(widget, build, 0.2)
    for _ in range(50):
        rows_seen += 1
        binding.on_row({})
    assert eventually(lambda: [t.name for t in widget.data] == ["rows 50"])
    time.sleep(0.3)  # longer than the interval: no redraw is still pending
    assert 1 <= len(builds) <= 2  # a burst of 50 rows, at most two redraws
    assert builds[-1] == 50
    binding.close()


def test_live_figures_need_a_watcher_and_a_sane_interval(client: NosanaClient) -> None:
    with pytest.raises(ValidationError):
        live_status_history(client)  # type: ignore[arg-type]
    watcher = Watcher(client, Wallet.generate().address)
    with pytest.raises(ValidationError):
        live_job_timeline(watcher, min_interval=-1)
