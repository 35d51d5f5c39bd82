"""The Watcher against the embedded sandbox over real HTTP and SSE (manual clock).

Simulated time moves only through ``handle.advance``; the short real-time waits below are for
the watcher's background thread, always through ``wait_until`` with a timeout.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.wallet import Wallet
from nosana_nb.frames import validate_schema
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.watch import Watcher, stop_all
from tests.frames.sandbox_helpers import sandbox_client

WAIT = 10.0
FAST_BACKOFF = (0.05, 0.2)
MARKET = "nvidia-3060"


def create_deployment(client: NosanaClient, replicas: int = 2) -> Deployment:
    market = client.markets.get(MARKET)
    vault = client.vaults.create()
    vault.topup(sol="0.05", nos="50")
    return client.deployments.create(
        name="watched",
        market=market.address,
        replicas=replicas,
        timeout=timedelta(hours=1),
        strategy="SIMPLE",
        job_definition=container_job("docker.io/library/ubuntu:24.04", ["echo", "hi"]),
        vault=vault.address,
    )


def watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "nosana-watch" and t.is_alive()]


def connected_again(watcher: Watcher, deployment: str) -> bool:
    """Poll until the stream is open again (a connect may finish while the old one winds down)."""
    deadline = time.monotonic() + WAIT
    while watcher.status[deployment].state != "connected" and time.monotonic() < deadline:
        time.sleep(0.01)
    return watcher.status[deployment].state == "connected"


def keys(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["type"], r["deployment"], r.get("job"), r.get("status") or r.get("state")) for r in rows
    ]


def statuses(rows: list[dict[str, Any]], deployment: str) -> list[str]:
    return [
        r["status"] for r in rows if r["type"] == "deployment" and r["deployment"] == deployment
    ]


def job_states(rows: list[dict[str, Any]], job: str) -> list[str]:
    return [r["state"] for r in rows if r["type"] == "job" and r["job"] == job]


def has_status(status: str) -> Any:
    return lambda rows: any(r.get("status") == status for r in rows)


def sandbox_jobs(handle: SandboxHandle, deployment: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = handle.store.find("jobs", deployment=deployment)
    return records


def assert_matches_sandbox_jobs(rows: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """Every job the sandbox knows has QUEUED, RUNNING and its final state, at its own times."""
    assert records
    assert {r["job"] for r in rows if r["type"] == "job"} == {r["job"] for r in records}
    for record in records:
        mine = {r["state"]: r for r in rows if r["type"] == "job" and r["job"] == record["job"]}
        assert list(mine) == ["QUEUED", "RUNNING", record["state"]], record["job"]
        assert mine["RUNNING"]["time"] == datetime.fromtimestamp(record["time_start"], UTC)
        assert mine[record["state"]]["time"] == datetime.fromtimestamp(record["time_end"], UTC)
        assert mine["RUNNING"]["node"] == record["node"]


def test_simple_deployment_from_start_to_stopped(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    deployment = create_deployment(client)
    seen: list[dict[str, Any]] = []
    with Watcher(client, deployment, on_change=seen.append) as watcher:
        assert watcher.wait_connected(WAIT)
        deployment.start()
        assert watcher.wait_until(lambda rows: sum(r["type"] == "job" for r in rows) == 2, WAIT)
        sandbox.advance(90)
        sandbox.advance(3600)
        assert watcher.wait_until(has_status("STOPPED"), WAIT)
        rows = watcher.rows
    assert statuses(rows, deployment.id) == ["DRAFT", "STARTING", "RUNNING", "STOPPED"]
    assert next(r["source"] for r in rows if r["type"] == "deployment") == "snapshot"
    assert_matches_sandbox_jobs(rows, sandbox_jobs(sandbox, deployment.id))
    assert {r["source"] for r in rows if r["type"] == "job"} == {"stream"}
    assert all(r["time"].tzinfo is UTC for r in rows)
    assert len(set(keys(rows))) == len(rows)
    assert seen == rows  # on_change saw exactly the recorded rows, in order

    history = watcher.to_dataframe()
    validate_schema(history, "status_history")
    # rows carry the service's clock: on this manual clock DRAFT -> STARTING -> RUNNING happen at
    # one simulated instant (the last change holds), STOPPED after the jobs' end
    assert list(history["status"].astype(str)) == ["RUNNING", "STOPPED"]
    assert history["end"].isna().tolist() == [False, True]
    last_end = max(
        datetime.fromtimestamp(r["time_end"], UTC) for r in sandbox_jobs(sandbox, deployment.id)
    )
    assert history["start"].iloc[-1] >= last_end

    transitions = watcher.jobs_history()
    assert list(transitions.columns) == ["time", "deployment", "job", "state", "node", "source"]
    assert Counter(transitions["state"].astype(str)) == {"QUEUED": 2, "RUNNING": 2, "COMPLETED": 2}
    assert transitions["time"].is_monotonic_increasing


def test_stop_is_prompt_idempotent_and_leaves_no_thread(client: NosanaClient) -> None:
    deployment = create_deployment(client, replicas=1)
    watcher = Watcher(client, [deployment.id, deployment])  # one id, named twice
    assert watcher.deployments == (deployment.id,)
    watcher.stop()  # before start: nothing to do
    watcher.start()
    assert watcher.start() is watcher  # already running: no second thread
    assert watcher.wait_connected(WAIT)
    assert len(watcher_threads()) == 1
    started = time.monotonic()
    watcher.stop()
    assert time.monotonic() - started < 2.0  # the open stream is cancelled, not timed out
    assert watcher_threads() == []
    assert not watcher.is_running
    assert watcher.status[deployment.id].state == "stopped"
    watcher.stop()


def test_restart_after_stop_adds_no_duplicate_rows(client: NosanaClient) -> None:
    deployment = create_deployment(client, replicas=1)
    watcher = Watcher(client, deployment.id, reconnect_backoff=FAST_BACKOFF)
    with watcher:
        assert watcher.wait_connected(WAIT)
    with watcher:  # the second run's snapshot repeats DRAFT: no new row
        assert watcher.wait_connected(WAIT, connects=2)
    assert statuses(watcher.rows, deployment.id) == ["DRAFT"]


def test_unknown_deployment_fails_without_retrying(client: NosanaClient) -> None:
    missing = str(Wallet.generate().address)
    with Watcher(client, missing, reconnect_backoff=FAST_BACKOFF) as watcher:
        assert not watcher.wait_connected(WAIT)
        status = watcher.status[missing]
    assert status.state == "failed"
    assert status.last_error is not None
    assert "not found" in status.last_error.lower()
    assert watcher.rows == []


def test_history_survives_a_new_watcher_on_the_same_file(
    sandbox: SandboxHandle, client: NosanaClient, tmp_path: Path
) -> None:
    path = tmp_path / "history.jsonl"
    deployment = create_deployment(client)
    with Watcher(client, deployment, path=path) as first:
        assert first.wait_connected(WAIT)
        deployment.start()
        assert first.wait_until(lambda rows: sum(r["type"] == "job" for r in rows) == 2, WAIT)
        before = first.rows
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(before)

    # while nobody watches, the jobs run and finish and the deployment stops
    sandbox.advance(90)
    sandbox.advance(3600)
    assert deployment.refresh().status == "STOPPED"

    second = Watcher(client, deployment, path=path)
    assert second.rows == before  # loaded at construction, times back as UTC datetimes
    with second:
        assert second.wait_until(has_status("STOPPED"), WAIT)
        assert second.wait_connected(WAIT)
        rows = second.rows
    assert statuses(rows, deployment.id) == ["DRAFT", "STARTING", "RUNNING", "STOPPED"]
    assert_matches_sandbox_jobs(rows, sandbox_jobs(sandbox, deployment.id))
    assert len(set(keys(rows))) == len(rows)
    reconciled = [r for r in rows[len(before) :] if r["type"] == "job"]
    assert {r["source"] for r in reconciled} == {"reconcile"}
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(rows)


def test_forced_disconnect_loses_no_transition_and_duplicates_none(
    client: NosanaClient, wallet: Wallet, tmp_path: Path
) -> None:
    """Restart the service on the same database and port; jobs move on while it is away."""
    handle = sandbox_module.start(db=tmp_path / "sandbox.db", speed=None, seed=0)
    port = handle.port
    handle.faucet(wallet, sol=5, nos=1000)
    try:
        with sandbox_client(handle, wallet) as nosana:
            deployment = create_deployment(nosana)
            watcher = Watcher(nosana, deployment, reconnect_backoff=FAST_BACKOFF)
            with watcher:
                assert watcher.wait_connected(WAIT)
                deployment.start()
                assert watcher.wait_until(
                    lambda rows: sum(r.get("state") == "QUEUED" for r in rows) == 2, WAIT
                )
                handle.stop()
                # back on the same file and port, but every stream request is dropped
                stream_path = f"/deployments/{deployment.id}/stream"
                handle = sandbox_module.start(
                    db=tmp_path / "sandbox.db",
                    port=port,
                    speed=None,
                    seed=0,
                    faults={"drop_rate": 1.0, "apply_to": [stream_path]},
                )
                deployment.update_replicas(3)  # a third job is listed during the outage
                handle.advance(90)
                handle.advance(3600)
                assert deployment.refresh().status == "STOPPED"
                assert not has_status("STOPPED")(watcher.rows)
                handle.set_faults()  # streams get through again
                assert watcher.wait_until(has_status("STOPPED"), WAIT)
                assert watcher.wait_until(
                    lambda rows: sum(r.get("state") == "COMPLETED" for r in rows) == 3, WAIT
                )
                assert connected_again(watcher, deployment.id)
                status = watcher.status[deployment.id]
                rows = watcher.rows
                records = sandbox_jobs(handle, deployment.id)
    finally:
        handle.stop()

    assert status.connects >= 2
    assert statuses(rows, deployment.id) == ["DRAFT", "STARTING", "RUNNING", "STOPPED"]
    assert len(set(keys(rows))) == len(rows)
    assert_matches_sandbox_jobs(rows, records)
    assert len(records) == 3
    gap = [r for r in rows if r["type"] == "job" and r["state"] != "QUEUED"]
    assert {r["source"] for r in gap} == {"reconcile"}
    third = [r for r in rows if r["source"] == "reconcile" and r["state"] == "QUEUED"]
    assert len(third) == 1  # the job born during the outage, QUEUED at its created_at


def test_a_stalled_stream_is_reopened_without_duplicate_rows(client: NosanaClient) -> None:
    # the sandbox sends a heartbeat every 25 s; a 0.2 s read timeout makes every read stall
    deployment = create_deployment(client, replicas=1)
    watcher = Watcher(client, deployment, read_timeout=0.2, reconnect_backoff=FAST_BACKOFF)
    with watcher:
        assert watcher.wait_connected(WAIT, connects=3)
        status = watcher.status[deployment.id]
    assert status.last_error is not None
    assert "stalled" in status.last_error
    assert [r["status"] for r in watcher.rows] == ["DRAFT"]


def test_stop_from_a_callback_does_not_deadlock(client: NosanaClient) -> None:
    deployment = create_deployment(client, replicas=1)
    holder: list[Watcher] = []
    watcher = Watcher(client, deployment, on_change=lambda row: holder[0].stop())
    holder.append(watcher)
    watcher.start()
    deadline = time.monotonic() + WAIT
    while watcher.is_running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not watcher.is_running
    watcher.stop()
    assert watcher_threads() == []
    assert len(watcher.rows) == 1


def test_stop_all_stops_watchers_left_running(client: NosanaClient) -> None:
    deployment = create_deployment(client, replicas=1)
    first = Watcher(client, deployment).start()
    second = Watcher(client, deployment).start()
    assert first.wait_connected(WAIT)
    assert stop_all() == 2
    assert not first.is_running
    assert not second.is_running
    assert watcher_threads() == []
    assert stop_all() == 0
