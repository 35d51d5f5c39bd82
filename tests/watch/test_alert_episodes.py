"""Every rule, one episode, through everything that could repeat or lose it.

For each rule: open an episode, let the stream reopen twice (a 0.5 s read timeout against the
sandbox's 25 s heartbeat forces fresh snapshots), "restart the kernel" (a new Watcher over the
same journal, the same rule added again), then clear the condition. The notifier must see
exactly one "fired" and one "resolved". Each scenario has a sandbox of its own (manual clock,
seed 0), so market nodes and job addresses are the same in every run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.watch import (
    AlertEvent,
    AlertRule,
    FailedJobs,
    NearTimeout,
    QueuedTooLong,
    RunwayBelow,
    StatusAlert,
    Watcher,
)
from tests.frames.sandbox_helpers import funded_wallet, sandbox_client
from tests.watch.alert_helpers import EVALUATE_EVERY, JOB, WAIT, create_deployment, kinds

API_KEY = "nos_alert_episodes_credits_key"
Action = Callable[[SandboxHandle, Deployment, NosanaClient], None]


@dataclass(frozen=True)
class Scenario:
    rule: AlertRule
    make: Callable[[NosanaClient], Deployment]
    trigger: Action
    clear: Action
    failure_share: float | None = None
    api_key: bool = False


def _assign_credits(sandbox: SandboxHandle, usd: str) -> None:
    reply = httpx.post(f"{sandbox.api_url}/_sandbox/credits", json={"api_key": API_KEY, "usd": usd})
    reply.raise_for_status()


def _hour_of(client: NosanaClient) -> Decimal:
    market = client.markets.get("nvidia-3060")
    return client.markets.estimate(market, replicas=1, timeout=3600).nos_per_hour_with_fee


def _start_unfunded(sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient) -> None:
    deployment.start(check_funds=False)


def _fund_and_retry(sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient) -> None:
    deployment.vault.topup(nos="50")
    sandbox.advance(1200)  # the funds retry lists the job


def _start(sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient) -> None:
    deployment.start(check_funds=False)


def _top_up_three_hours(
    sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient
) -> None:
    deployment.vault.topup(nos=str((_hour_of(client) * 3).quantize(Decimal("0.000001"))))


def _credits_runway_long(
    sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient
) -> None:
    _assign_credits(sandbox, "100")


def _run_and_fail(sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient) -> None:
    deployment.start()
    sandbox.advance(15 * 60)  # all three jobs ran and failed


def _let_an_hour_pass(sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient) -> None:
    sandbox.advance(3600)


def _queue_behind_the_only_node(
    sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient
) -> None:
    deployment.start()
    sandbox.advance(60)  # the node took one job; the other waits
    sandbox.advance(90)


def _run_near_the_timeout(
    sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient
) -> None:
    deployment.start()
    sandbox.advance(120)
    sandbox.advance(52 * 60)


def _past_the_timeout(sandbox: SandboxHandle, deployment: Deployment, client: NosanaClient) -> None:
    sandbox.advance(15 * 60)


def _runway_deployment(client: NosanaClient) -> Deployment:
    hour = _hour_of(client)
    deposit = hour * Decimal("1.1") + hour / 2  # one job's hour with the fee, plus half an hour
    return create_deployment(client, nos=deposit.quantize(Decimal("0.000001")))


def _credits_deployment(client: NosanaClient) -> Deployment:
    return client.deployments.create(
        name="credits",
        market="nvidia-3060",
        replicas=1,
        timeout=timedelta(minutes=30),
        strategy="SIMPLE",
        job_definition=JOB,
    )


SCENARIOS = {
    "status": Scenario(
        StatusAlert(), lambda c: create_deployment(c, nos=None), _start_unfunded, _fund_and_retry
    ),
    "vault-runway": Scenario(
        RunwayBelow(timedelta(hours=2)), _runway_deployment, _start, _top_up_three_hours
    ),
    "credit-runway": Scenario(
        RunwayBelow(timedelta(hours=100), funds="credits"),
        _credits_deployment,
        _start,
        _credits_runway_long,
        api_key=True,
    ),
    "failed-jobs": Scenario(
        FailedJobs(3, timedelta(hours=1)),
        lambda c: create_deployment(c, replicas=3, timeout=timedelta(minutes=10)),
        _run_and_fail,
        _let_an_hour_pass,
        failure_share=1.0,
    ),
    "queued": Scenario(
        QueuedTooLong(timedelta(minutes=2)),
        lambda c: create_deployment(c, market="nvidia-h100-community", replicas=2, nos="400"),
        _queue_behind_the_only_node,
        _let_an_hour_pass,
    ),
    "near-timeout": Scenario(
        NearTimeout(timedelta(minutes=10)),
        lambda c: create_deployment(c, nos="20"),
        _run_near_the_timeout,
        _past_the_timeout,
    ),
}


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[tuple[SandboxHandle, NosanaClient]]:
    scenario: Scenario = SCENARIOS[request.param]
    handle = sandbox_module.start(
        db=":memory:", speed=None, seed=0, failure_share=scenario.failure_share
    )
    try:
        if scenario.api_key:
            _assign_credits(handle, "3")
            network = local_network(handle.api_url, nos_mint=handle.nos_mint)
            client = NosanaClient(network, Wallet.generate(), api_key=API_KEY, env={})
        else:
            client = sandbox_client(handle, funded_wallet(handle))
        with client:
            yield handle, client
    finally:
        handle.stop()


def _watcher(client: NosanaClient, deployment: Deployment, path: Path) -> Watcher:
    watcher = Watcher(
        client, deployment, path=path, read_timeout=0.5, reconnect_backoff=(0.05, 0.2)
    )
    watcher.alerts.interval = EVALUATE_EVERY
    return watcher


def _reopens_twice(watcher: Watcher, deployment: Deployment) -> None:
    connects = watcher.status[deployment.id].connects
    assert watcher.wait_connected(WAIT, connects=connects + 2)


@pytest.mark.parametrize("world", list(SCENARIOS), indirect=True)
def test_one_episode_survives_reconnects_and_a_restart(
    world: tuple[SandboxHandle, NosanaClient], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    scenario = SCENARIOS[request.node.callspec.params["world"]]
    sandbox, client = world
    deployment = scenario.make(client)
    path = tmp_path / "history.jsonl"
    seen: list[AlertEvent] = []

    first = _watcher(client, deployment, path)
    first.alerts.add(scenario.rule, notify=seen.append)
    with first:
        assert first.wait_connected(WAIT)
        assert first.alerts.check() == []
        scenario.trigger(sandbox, deployment, client)
        assert first.alerts.wait_for_events(1, kind="fired", timeout=WAIT), first.alerts
        _reopens_twice(first, deployment)
        assert first.alerts.check() == []
    assert [e.kind for e in seen] == ["fired"]

    second = _watcher(client, deployment, path)  # a new kernel over the same files
    assert len(second.alerts.active) == 1
    second.alerts.add(scenario.rule, notify=seen.append)
    with second:
        assert second.wait_connected(WAIT)
        assert second.alerts.check() == []
        scenario.clear(sandbox, deployment, client)
        assert second.alerts.wait_for_events(1, kind="resolved", timeout=WAIT), second.alerts
        _reopens_twice(second, deployment)
        assert second.alerts.check() == []
        events = second.alerts.events
    assert [e.kind for e in seen] == ["fired", "resolved"]
    assert kinds(events, scenario.rule) == ["fired", "resolved"]
    assert seen[0].key == seen[1].key
    assert seen[1].started_at == seen[0].at
    assert second.alerts.active == []
