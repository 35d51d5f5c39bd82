"""Job results and logs end to end on the sandbox: the nodes' uploads (docs/wire-contract.md
§3.4 job detail, §5.25 results route), the client's parsing (sync, async, via an IPFS hash on a
fake gateway), the logs/results frames for 0/1/many rows, the seeded failure share, and the
countdown columns on the manual clock."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pandas as pd
import pytest

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import APIResponseValidationError, ValidationError
from nosana_nb.core.jobdef import container_job
from nosana_nb.core.results import parse_job_results
from nosana_nb.core.wallet import Wallet
from nosana_nb.frames import (
    JobResultsRecord,
    alogs_dataframe,
    aresults_dataframe,
    deployments_dataframe,
    fetch_job_results,
    fleet_jobs_dataframe,
    jobs_dataframe,
    logs_dataframe,
    results_dataframe,
    validate_schema,
)
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.sandbox.worker.markets import MARKETS
from nosana_nb.sandbox.worker.network import node_keypair
from nosana_nb.sandbox.worker.results import build_job_results

MARKET = "nvidia-3060"
FAILURE_SHARE = 0.4
REPLICAS = 8
STREAMS = {"stdin", "stdout", "stderr", "nodeerr"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    handle = sandbox_module.start(db=":memory:", speed=None, seed=7, failure_share=FAILURE_SHARE)
    yield handle
    handle.stop()


def _create(
    client: NosanaClient, vault: str, name: str, replicas: int, **extra: object
) -> Deployment:
    return client.deployments.create(
        name=name,
        market=client.markets.get(MARKET).address,
        replicas=replicas,
        timeout=timedelta(hours=1),
        job_definition=container_job("docker.io/library/ubuntu:24.04", ["python", "train.py"]),
        vault=vault,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def vault(client: NosanaClient) -> str:
    created = client.vaults.create()
    created.topup(sol="0.2", nos="200")
    return created.address


@pytest.fixture(scope="module")
def finished(sandbox: SandboxHandle, client: NosanaClient, vault: str) -> Deployment:
    """REPLICAS jobs that ran to their one-hour timeout (the clock only moves by hand)."""
    deployment = _create(client, vault, "logs-many", REPLICAS, strategy="SIMPLE")
    deployment.start()
    sandbox.advance(90)
    sandbox.advance(3600)
    return deployment


def _job_addresses(deployment: Deployment) -> list[str]:
    return [job.job for job in deployment.get_jobs(limit=100)]


# -- the service side -----------------------------------------------------------------------


def test_job_detail_carries_the_nodes_upload_shaped_as_job_results(
    client: NosanaClient, finished: Deployment
) -> None:
    for address in _job_addresses(finished):
        raw = client._services.dm.request(  # type: ignore[attr-defined]
            "GET", f"/deployments/{finished.id}/jobs/{address}"
        )
        result = raw["jobResult"]
        assert set(result) >= {"status", "startTime", "endTime", "opStates"}
        assert result["status"] in {"success", "failed"}
        assert isinstance(result["startTime"], int)
        assert result["endTime"] > result["startTime"]
        # unix ms, like the node's Date.now(): the job's whole seconds times 1000
        assert result["startTime"] == raw["timeStart"] * 1000
        assert result["endTime"] == raw["timeEnd"] * 1000
        for op in result["opStates"]:
            assert set(op) >= {
                "providerId", "operationId", "group", "status", "startTime", "endTime",
                "exitCode", "logs", "diagnostics",
            }  # fmt: skip
            assert isinstance(op["exitCode"], int)
            assert {line["type"] for line in op["logs"]} <= STREAMS
            for line in op["logs"]:
                assert isinstance(line["log"], str)
                assert line["log"]
                datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
            assert set(op["diagnostics"]["reason"]) == {"hostShutDown", "jobStopped", "jobExpired"}


def test_the_results_route_takes_one_upload_per_job(
    sandbox: SandboxHandle, finished: Deployment
) -> None:
    """The node already uploaded when the job ended: a second upload is the service's 400."""
    address = _job_addresses(finished)[0]
    job = sandbox.store.find_one("jobs", job=address)
    assert job is not None
    spec = next(m for m in MARKETS if m.address == job["market"])
    node = next(
        node_keypair(spec, i)
        for i in range(spec.nodes)
        if str(node_keypair(spec, i).pubkey()) == job["node"]
    )
    authorization = f"{address}:{node.sign_message(address.encode())}"
    body = {"status": "success", "startTime": 1, "endTime": 2, "opStates": []}
    reply = httpx.post(
        f"{sandbox.api_url}/deployments/jobs/{address}/results",
        json=body,
        headers={"authorization": authorization},
    )
    assert reply.status_code == 400
    assert reply.json() == {"error": "Job has already been completed."}
    unsigned = httpx.post(f"{sandbox.api_url}/deployments/jobs/{address}/results", json=body)
    assert (unsigned.status_code, unsigned.text) == (401, "Unauthorized")


def _draw_for(seed: int, job: str) -> object:
    def draw(purpose: str) -> float:
        digest = hashlib.sha256(f"{seed}:{job}:results:{purpose}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return draw


@pytest.mark.parametrize("share", [0.0, 0.1, 0.4, 1.0])
def test_failure_share_is_honoured_and_reproducible(share: float) -> None:
    definition = container_job("docker.io/library/ubuntu:24.04", ["python", "train.py"])
    jobs = [f"job-{n}" for n in range(2000)]

    def build(job: str) -> dict[str, object]:
        return build_job_results(
            definition, start_s=1_000.0, end_s=4_600.0, draw=_draw_for(3, job),  # type: ignore[arg-type]
            failure_probability=share, stopped=False,
        )  # fmt: skip

    first = [build(job) for job in jobs]
    assert first == [build(job) for job in jobs]  # the same seed gives the same documents
    failed = [doc for doc in first if doc["status"] == "failed"]
    assert abs(len(failed) / len(jobs) - share) <= 0.03
    for doc in failed:
        last = doc["opStates"][-1]  # type: ignore[index]
        assert last["exitCode"] != 0
        assert any(line["type"] == "stderr" for line in last["logs"])


def test_a_stopped_job_never_counts_as_failed() -> None:
    definition = container_job("docker.io/library/ubuntu:24.04", ["sleep", "1"])
    doc = build_job_results(
        definition, start_s=0.0, end_s=60.0, draw=lambda _: 0.0, failure_probability=1.0,
        stopped=True,
    )  # fmt: skip
    assert doc["status"] == "stopped"
    assert [op["exitCode"] for op in doc["opStates"]] == [0]  # type: ignore[index]


# -- the client ------------------------------------------------------------------------------


def test_sync_and_async_handles_read_the_same_results(
    client: NosanaClient, finished: Deployment
) -> None:
    addresses = _job_addresses(finished)
    sync_results = [finished.job(a).results() for a in addresses]
    assert all(r is not None for r in sync_results)

    async def read() -> list[object]:
        twin = client.to_async()
        try:
            handle = await twin.deployments.get(finished.id)
            return [await handle.job(a).results() for a in addresses]
        finally:
            await twin.aclose()

    assert asyncio.run(read()) == sync_results
    failed = [r for r in sync_results if r is not None and r.failed]
    assert 0 < len(failed) < len(addresses)  # a 40% share of 8 jobs, seed 7
    for results in sync_results:
        assert results is not None
        assert results.ended_at - results.started_at == timedelta(hours=1)  # type: ignore[operator]


def test_a_running_job_has_no_results_yet(
    sandbox: SandboxHandle, client: NosanaClient, vault: str
) -> None:
    deployment = _create(client, vault, "logs-running", 1, strategy="SIMPLE")
    deployment.start()
    sandbox.advance(90)
    (job,) = deployment.get_jobs(limit=10)
    assert job.state == "RUNNING"
    assert deployment.job(job.job).results() is None
    assert len(logs_dataframe(deployment, client)) == 0  # nothing ended: no request, no rows
    deployment.stop()
    sandbox.advance(30)
    stopped = deployment.job(job.job).results()
    assert stopped is not None
    assert stopped.status == "stopped"


class _FakeGateway:
    """A local IPFS gateway serving one document under one CID."""

    def __init__(self, cid: str, document: object) -> None:
        body = json.dumps(document).encode()
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                found = self.path == f"/ipfs/{cid}"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body if found else b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ipfs/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_ipfs_hash_in_job_result_is_followed_through_the_gateway(
    sandbox: SandboxHandle, wallet: Wallet, finished: Deployment
) -> None:
    """Like devnet: the service answers the results' IPFS hash; the client fetches it from
    the network's gateway (here a local fake one)."""
    address = _job_addresses(finished)[1]
    stored = sandbox.store.find_one("results", job=address)
    assert stored is not None
    document = stored["body"]
    cid = "Qm" + "a" * 44
    gateway = _FakeGateway(cid, document)
    sandbox.store.update("results", stored["_id"], {"body": cid})
    network = dataclasses.replace(
        local_network(sandbox.api_url, nos_mint=sandbox.nos_mint), ipfs_gateway=gateway.url
    )
    try:
        with NosanaClient(network, wallet, env={}) as devnet_like:
            handle = devnet_like.deployments.get(finished.id)
            assert handle.get_job(address).job_result == cid
            assert handle.job(address).results() == parse_job_results(document)
            assert gateway.requests == [f"/ipfs/{cid}"]
            sandbox.store.update("results", stored["_id"], {"body": {"status": "x"}})
            with pytest.raises(APIResponseValidationError, match="opStates"):
                handle.job(address).results()
    finally:
        sandbox.store.update("results", stored["_id"], {"body": document})
        gateway.close()


# -- frames ----------------------------------------------------------------------------------


def test_logs_and_results_frames_for_zero_one_and_many_jobs(
    client: NosanaClient, finished: Deployment
) -> None:
    jobs = jobs_dataframe(finished)
    for frame in (logs_dataframe([]), results_dataframe([]), logs_dataframe(jobs.iloc[:0], client)):
        assert len(frame) == 0
    validate_schema(logs_dataframe([]), "logs")
    validate_schema(results_dataframe(jobs.iloc[:0], client), "results")

    one = logs_dataframe(jobs.iloc[:1], client)
    validate_schema(one, "logs")
    assert set(one["job"]) == {jobs["job"].iloc[0]}
    assert one["timestamp"].is_monotonic_increasing

    many_logs = logs_dataframe(finished, client)
    many_results = results_dataframe(jobs, client)
    validate_schema(many_logs, "logs")
    validate_schema(many_results, "results")
    assert set(many_logs["job"]) == set(jobs["job"])
    assert len(many_results) == REPLICAS  # one op per job
    assert (many_results["duration"] == timedelta(hours=1)).all()
    assert (many_results["ended_at"] - many_results["started_at"] == many_results["duration"]).all()
    assert set(many_logs["revision"]) == {1}

    failed_jobs = set(many_results.loc[many_results["exit_code"] != 0, "job"])
    assert failed_jobs == set(many_results.loc[many_results["status"] == "failed", "job"])
    errors = many_logs[many_logs["level"] == "error"]
    assert set(errors["job"]) == failed_jobs  # only failed jobs write error lines
    assert set(errors["stream"].astype(str)) == {"stderr", "nodeerr"}
    assert (many_logs.loc[many_logs["job"].isin(failed_jobs), "exit_code"] != 0).all()


def test_the_frames_read_the_client_and_prefetched_records_alike(
    client: NosanaClient, finished: Deployment
) -> None:
    records = fetch_job_results(finished, client, max_concurrency=3)
    assert all(isinstance(r, JobResultsRecord) for r in records)
    by_client = logs_dataframe(client)
    mine = by_client[by_client["deployment"] == finished.id].reset_index(drop=True)
    from_records = logs_dataframe(records)
    pd.testing.assert_frame_equal(
        mine.sort_values(["job", "timestamp"], kind="stable").reset_index(drop=True),
        from_records.sort_values(["job", "timestamp"], kind="stable").reset_index(drop=True),
    )


# -- countdowns ------------------------------------------------------------------------------


def test_time_remaining_shrinks_exactly_with_the_manual_clock(
    sandbox: SandboxHandle, client: NosanaClient, vault: str
) -> None:
    deployment = _create(client, vault, "countdown", 3, strategy="SIMPLE")
    deployment.start()
    sandbox.advance(90)
    before = jobs_dataframe(client, deployment=deployment.id)
    validate_schema(before, "jobs")
    assert (before["state"] == "RUNNING").all()
    now = pd.Timestamp(client.now())
    expected = before["started_at"] + timedelta(hours=1) - now
    assert (before["time_remaining"] == expected).all()

    sandbox.advance(600)
    after = jobs_dataframe(client, deployment=deployment.id)
    assert (before["time_remaining"] - after["time_remaining"] == timedelta(seconds=600)).all()
    listed = deployments_dataframe(client, jobs=after)
    validate_schema(listed, "deployments")
    row = listed[listed["id"] == deployment.id].iloc[0]
    assert row["time_remaining"] == after["time_remaining"].min()

    sandbox.advance(3600)  # past the timeout: the jobs ended, nothing is counting down
    ended = jobs_dataframe(client, deployment=deployment.id)
    assert ended["time_remaining"].isna().all()
    assert jobs_dataframe([]).columns[-1] == "time_remaining"


def test_fleet_jobs_count_down_to_each_deployments_own_timeout(
    sandbox: SandboxHandle, client: NosanaClient, vault: str
) -> None:
    short = _create(client, vault, "fleet-countdown-1h", 2, strategy="SIMPLE")
    long = client.deployments.create(
        name="fleet-countdown-3h",
        market=client.markets.get(MARKET).address,
        replicas=1,
        timeout=timedelta(hours=3),
        job_definition=container_job("docker.io/library/ubuntu:24.04", ["python", "train.py"]),
        vault=vault,
    )
    short.start()
    long.start()
    sandbox.advance(120)
    ids = [short.id, long.id]
    by_id = fleet_jobs_dataframe(client, ids, progress=False)  # ids: each deployment is read
    by_handle = fleet_jobs_dataframe(client, [short, long], progress=False)
    everyone = fleet_jobs_dataframe(client, progress=False)  # the list's handles
    now = pd.Timestamp(client.now())
    for frame in (by_id, by_handle, everyone[everyone["deployment"].isin(ids)]):
        validate_schema(frame, "jobs")
        assert sorted(frame["deployment"].astype(str)) == sorted([short.id, short.id, long.id])
        assert (frame["state"] == "RUNNING").all()
        timeout = frame["deployment"].map(
            {short.id: timedelta(hours=1), long.id: timedelta(hours=3)}
        )
        expected = frame["started_at"] + timeout.astype("timedelta64[ns]") - now
        assert (frame["time_remaining"] == expected).all()
        assert frame["time_remaining"].notna().all()
    # the same countdown one deployment at a time gives
    alone = jobs_dataframe(client, deployment=short.id).set_index("job")["time_remaining"]
    fleet = by_id.set_index("job")["time_remaining"]
    pd.testing.assert_series_equal(fleet.loc[alone.index], alone)
    short.stop()
    long.stop()


def test_next_run_at_follows_the_cron_on_the_service_clock(
    sandbox: SandboxHandle, client: NosanaClient, vault: str
) -> None:
    scheduled = _create(client, vault, "nightly", 1, strategy="SCHEDULED", schedule="30 */2 * * *")
    scheduled.start()

    def next_run() -> pd.Timestamp:
        frame = deployments_dataframe(client)
        return frame.loc[frame["id"] == scheduled.id, "next_run_at"].iloc[0]

    def expected_after(now: datetime) -> datetime:
        candidate = now.replace(minute=30, second=0, microsecond=0)
        while candidate <= now or candidate.hour % 2:
            candidate += timedelta(hours=1)
        return candidate

    first = next_run()
    assert first == expected_after(client.now().astimezone(UTC))
    sandbox.advance((first - pd.Timestamp(client.now())).total_seconds() + 1)
    assert next_run() == first + timedelta(hours=2)
    scheduled.stop()
    assert pd.isna(next_run())  # a stopped schedule fires no more
    frame = deployments_dataframe(client)
    assert frame.loc[frame["strategy"] != "SCHEDULED", "next_run_at"].isna().all()
    assert list(deployments_dataframe([]).columns[-2:]) == ["time_remaining", "next_run_at"]


def test_time_remaining_from_records_with_a_timeout_map_never_goes_negative() -> None:
    started = datetime(2026, 1, 1, tzinfo=UTC)
    records = [
        {
            "job": "a",
            "deployment": "d1",
            "state": "RUNNING",
            "time_start": int(started.timestamp()),
        },
        {
            "job": "b",
            "deployment": "d2",
            "state": "RUNNING",
            "time_start": int(started.timestamp()),
        },
        {"job": "c", "deployment": "d1", "state": "QUEUED", "time_start": 0},
    ]
    now = started + timedelta(minutes=30)
    frame = jobs_dataframe(
        records, now=now, timeout={"d1": timedelta(hours=1), "d2": timedelta(minutes=10)}
    )
    assert frame["time_remaining"].iloc[0] == timedelta(minutes=30)
    assert frame["time_remaining"].iloc[1] == timedelta(0)  # overdue, not yet ended: nothing left
    assert pd.isna(frame["time_remaining"].iloc[2])
    assert jobs_dataframe(records, now=now)["time_remaining"].isna().all()  # no timeout known


def test_a_deployment_alone_and_the_async_builders_give_the_same_frame(
    client: NosanaClient, finished: Deployment
) -> None:
    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(["job", "timestamp"], kind="stable").reset_index(drop=True)

    concurrent = ordered(logs_dataframe(finished, client))
    pd.testing.assert_frame_equal(ordered(logs_dataframe(finished)), concurrent)

    async def through_async() -> tuple[pd.DataFrame, pd.DataFrame]:
        twin = client.to_async()
        try:
            handle = await twin.deployments.get(finished.id)
            return await alogs_dataframe(handle), await aresults_dataframe(twin)
        finally:
            await twin.aclose()

    logs, results = asyncio.run(through_async())
    pd.testing.assert_frame_equal(ordered(logs), concurrent)
    validate_schema(results, "results")
    assert finished.id in set(results["deployment"])
    with pytest.raises(ValidationError, match="client is required"):
        logs_dataframe(finished.id)
    with pytest.raises(ValidationError, match="max_concurrency"):
        logs_dataframe(client, max_concurrency=0)
