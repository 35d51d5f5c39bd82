"""Endpoint readiness against the sandbox: 502 before a job runs, 503 while its container boots,
200 after; time-to-ready on the service clock (docs/wire-contract.md §3.2 and §13).

The probes are real GETs of the ``https://<hash>.<frps_domain>`` URLs the sandbox hands out;
the local network's probe client sends them to ``/_sandbox/endpoint/{host}/{path}``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from nosana_nb import ValidationError, WaitTimeoutError
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.jobdef import container_job
from nosana_nb.frames import endpoints_dataframe, validate_schema
from nosana_nb.sandbox import SandboxHandle, start
from nosana_nb.sandbox.api.endpoints import endpoint_boot_seconds
from tests.e2e.conftest import (
    Account,
    AsyncAccount,
    async_wait_running,
    settle,
    wait_running,
)
from tests.hardening.secret_scan import Needles, scan_text

BOOT_S = 60.0  # the sandbox's default endpoint_boot_s


def _running_job_start(deployment: Deployment, sandbox: SandboxHandle) -> tuple[str, int]:
    """Advance until a node runs the job; (its address, its start in unix seconds)."""
    for _ in range(60):
        jobs = [j for j in deployment.get_jobs(state="RUNNING").first_page().items if j.time_start]
        if jobs:
            return jobs[0].job, int(jobs[0].time_start)
        sandbox.advance(5)
        settle(sandbox)
    raise AssertionError("no node claimed the job in 300 simulated seconds")


def test_probe_follows_the_job_before_boot_and_ready(
    account: Account, sandbox: SandboxHandle
) -> None:
    deployment = account.deploy(name="probe-lifecycle")
    [endpoint] = deployment.state.endpoints
    assert endpoint.url.startswith("https://")
    assert endpoint.url.endswith(".node.k8s.dev.nos.ci")  # the URL handed out is unchanged

    [before] = deployment.probe_endpoints()
    assert (before.status, before.ready, before.state) == (502, False, "DOWN")
    assert (before.deployment, before.op, before.port, before.url) == (
        deployment.id,
        endpoint.op_id,
        endpoint.port,
        endpoint.url,
    )

    deployment.start()
    wait_running(deployment)
    job, started = _running_job_start(deployment, sandbox)
    boot = endpoint_boot_seconds(job, BOOT_S)
    assert BOOT_S <= boot <= BOOT_S * 1.5

    sandbox.advance(started + boot - 1 - sandbox.clock.now())
    [booting] = account.client.endpoints.probe(deployment)
    assert (booting.status, booting.ready, booting.state) == (503, False, "BOOTING")
    assert booting.summary.startswith("BOOTING 503 · ")

    sandbox.advance(1)
    [ready] = account.client.endpoints.probe([deployment.state])
    assert (ready.status, ready.ready, ready.state) == (200, True, "READY")
    assert ready.probed_at.timestamp() == pytest.approx(sandbox.clock.now(), abs=1)

    readiness = deployment.wait_until_ready(timeout=30, poll_interval=1)
    assert readiness.deployment == deployment.id
    assert readiness.job_started_at.timestamp() == started
    assert readiness.seconds == pytest.approx(boot, abs=1)  # the clock stood at start + boot
    assert [p.ready for p in readiness.probes] == [True]

    history = endpoints_dataframe([before, booting, ready, readiness])
    validate_schema(history, "endpoint_probes")
    assert list(history["state"]) == ["DOWN", "BOOTING", "READY", "READY"]
    assert list(history["status"]) == [502, 503, 200, 200]
    assert history["probed_at"].is_monotonic_increasing
    assert set(history["url"]) == {endpoint.url}
    needles = Needles.for_wallet(account.wallet)
    texts = [repr(p) for p in (before, booting, ready)] + [repr(readiness), history.to_csv()]
    texts.append(repr(account.client.endpoints))
    assert scan_text("\n".join(texts), needles, where="probe results") == []
    for bad in ("https://x", [before, {"url": endpoint.url}], 3):
        with pytest.raises(ValidationError, match="probes"):
            endpoints_dataframe(bad)


def test_wait_until_ready_on_a_frozen_clock_says_so_instead_of_hanging(account: Account) -> None:
    deployment = account.deploy(name="probe-frozen")
    with pytest.raises(WaitTimeoutError, match="frozen") as caught:
        deployment.wait_until_ready(timeout=60, poll_interval=0.5)
    assert "DOWN 502" in str(caught.value)


def test_ops_that_expose_nothing_and_bad_wait_arguments(account: Account) -> None:
    silent = account.deploy(
        name="probe-silent", job_definition=container_job("docker.io/library/alpine", ["true"])
    )
    assert silent.probe_endpoints() == []
    with pytest.raises(ValidationError, match="exposes no endpoint"):
        silent.wait_until_ready(timeout=5)
    for bad in ({"timeout": -1}, {"timeout": float("inf")}, {"poll_interval": 0}):
        with pytest.raises(ValidationError):
            silent.wait_until_ready(**bad)
    with pytest.raises(ValidationError, match="deployment handle"):
        account.client.endpoints.wait_until_ready(silent.state)  # type: ignore[arg-type]


def test_a_revision_without_a_running_job_is_a_bad_gateway(
    account: Account, sandbox: SandboxHandle
) -> None:
    deployment = account.deploy(name="probe-stopped")
    deployment.start()
    wait_running(deployment)
    _running_job_start(deployment, sandbox)
    deployment.stop()
    settle(sandbox)
    [probe] = deployment.probe_endpoints()
    assert probe.status == 502


async def test_the_async_client_probes_through_the_sandbox_too(
    new_async_account: Callable[..., Awaitable[AsyncAccount]], sandbox: SandboxHandle
) -> None:
    account = await new_async_account()
    deployment = await account.client.deployments.create(
        name="probe-async",
        market="7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
        replicas=1,
        timeout=600,
        strategy="SIMPLE",
        job_definition=container_job("docker.io/nginx", expose=80),
    )
    [probe] = await deployment.probe_endpoints()
    assert probe.status == 502
    await deployment.start()
    await async_wait_running(deployment)
    sandbox.advance(600)
    settle(sandbox)
    [probe] = await account.client.endpoints.probe(deployment)
    assert (probe.status, probe.ready) == (200, True)
    readiness = await deployment.wait_until_ready(timeout=30, poll_interval=1)
    assert readiness.seconds >= BOOT_S  # the clock stands well past the boot
    assert readiness.probes[0].ready


def test_the_sandbox_route_answers_only_for_its_own_hosts(sandbox: SandboxHandle) -> None:
    unknown = httpx.get(f"{sandbox.api_url}/_sandbox/endpoint/nobody.node.k8s.dev.nos.ci/x")
    assert unknown.status_code == 404
    assert "no deployment exposes" in unknown.json()["error"]
    info = httpx.get(f"{sandbox.api_url}/_sandbox/info").json()
    assert info["frps_domain"] == "node.k8s.dev.nos.ci"  # what the local probe client mounts


def test_boot_times_are_fixed_per_job_and_within_their_spread() -> None:
    jobs = [f"Job{i:040d}" for i in range(200)]
    boots = [endpoint_boot_seconds(job, 60) for job in jobs]
    assert boots == [endpoint_boot_seconds(job, 60) for job in jobs]  # deterministic
    assert min(boots) >= 60
    assert max(boots) <= 90
    assert len(set(boots)) > 10  # spread, not one constant
    assert endpoint_boot_seconds(jobs[0], 0) == 0


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "60", True, 86_401])
def test_start_refuses_a_bad_boot_time(bad: Any) -> None:
    with pytest.raises(ValueError, match="endpoint_boot_s"):
        start(db=":memory:", speed=None, endpoint_boot_s=bad)


def test_a_new_revision_moves_the_url_and_the_sandbox_follows(account: Account) -> None:
    deployment = account.deploy(name="probe-revision")
    [old] = deployment.state.endpoints
    assert deployment.probe_endpoints()[0].status == 502  # the sandbox indexed this URL
    deployment.create_revision(container_job("docker.io/nginx", op_id="web", expose=80))
    deployment.refresh()
    [new] = deployment.state.endpoints
    assert new.url != old.url  # the op id is part of the URL's hash
    [gone] = account.client.endpoints.probe(old)
    assert (gone.status, gone.state) == (404, "DOWN")
    assert deployment.probe_endpoints()[0].status == 502
