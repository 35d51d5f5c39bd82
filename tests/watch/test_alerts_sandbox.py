"""Alert rules on a watcher against the embedded sandbox (manual clock, real HTTP and SSE).

Every rule fires exactly once per episode and resolves once: however often it is evaluated
(``alerts.check()`` forces extra evaluations), across stream reconnects, and across a "kernel
restart" (a new Watcher over the same journal). Simulated time moves only through
``sandbox.advance``; real-time waits are for the watcher's thread, with timeouts.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.watch import (
    AlertEvent,
    FailedJobs,
    LogNotifier,
    NearTimeout,
    QueuedTooLong,
    RunwayBelow,
    StatusAlert,
    Watcher,
    WebhookNotifier,
)
from tests.frames.sandbox_helpers import sandbox_client
from tests.watch.alert_helpers import (
    JOB,
    TOKEN,
    WAIT,
    alert_watcher,
    create_deployment,
    kinds,
    settle_until,
    webhook_receiver,
)


def test_insufficient_funds_fires_once_resolves_once_and_reaches_every_notifier(
    sandbox: SandboxHandle, client: NosanaClient, caplog: pytest.LogCaptureFixture
) -> None:
    deployment = create_deployment(client, nos=None)  # SOL for fees, no NOS for jobs
    rule = StatusAlert()
    seen: list[AlertEvent] = []
    caplog.set_level(logging.DEBUG)
    with webhook_receiver() as receiver:
        hook = WebhookNotifier(receiver.url, style="slack", backoff_factor=0)
        watcher = alert_watcher(client, deployment)
        watcher.alerts.add(rule, notify=[seen.append, LogNotifier("tests.alerts"), hook])
        with watcher:
            assert watcher.wait_connected(WAIT)
            assert watcher.alerts.check() == []  # DRAFT: nothing wrong
            deployment.start(check_funds=False)
            assert watcher.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
            for _ in range(3):  # evaluated again and again: the episode sends nothing more
                assert watcher.alerts.check() == []
            sandbox.advance(600)  # the funds retry fails again: still the same episode
            assert watcher.alerts.check() == []
            assert [a.key for a in watcher.alerts.active] == [deployment.id]

            deployment.vault.topup(nos="50")
            sandbox.advance(1200)  # the next retry lists the job: RUNNING
            assert watcher.alerts.wait_for_events(1, kind="resolved", timeout=WAIT)
            assert watcher.alerts.check() == []
            events = watcher.alerts.events
        assert hook.flush(WAIT)
        payloads = receiver.payloads()

    assert kinds(events, rule) == ["fired", "resolved"]
    fired, resolved = events
    assert (fired.deployment, fired.key, fired.rule_kind) == (
        deployment.id,
        deployment.id,
        "status",
    )
    assert "INSUFFICIENT_FUNDS" in fired.message
    assert fired.severity == "critical"
    assert resolved.started_at == fired.at
    assert resolved.at - fired.at >= timedelta(minutes=30)  # service time, not wall time
    assert "cleared after" in resolved.message
    assert watcher.alerts.active == []
    assert seen == events
    logged = [r for r in caplog.records if r.name == "tests.alerts"]
    assert [r.levelno for r in logged] == [logging.ERROR, logging.INFO]
    assert [p["text"] for p in payloads] == [fired.title, resolved.title]
    assert payloads[0]["attachments"][0]["color"] == "#d32f2f"
    assert (hook.delivered, hook.failed) == (2, 0)
    assert TOKEN not in caplog.text  # httpx's request log line is redacted too
    assert TOKEN not in repr(hook)


def test_error_status_fires_and_resolves_when_the_deployment_starts_again(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    # a market the network does not know (the client's market check is bypassed by making
    # the markets route fail): every LIST fails the ordinary way, ERROR after the retry cap
    sandbox.set_faults(error_rate=1.0, apply_to=["/api/markets"])
    try:
        vault = client.vaults.create()
        vault.topup(sol="0.05", nos="20")
        deployment = client.deployments.create(
            name="doomed",
            market=str(Wallet.generate().address),
            replicas=1,
            timeout=timedelta(hours=1),
            strategy="SIMPLE",
            job_definition=JOB,
            vault=vault.address,
            check_funds=False,
        )
    finally:
        sandbox.set_faults()
    rule = StatusAlert(["ERROR"], name="deployment errored")
    watcher = alert_watcher(client, deployment)
    watcher.alerts.add(rule)
    with watcher:
        assert watcher.wait_connected(WAIT)
        deployment.start(check_funds=False)
        for _ in range(12):
            sandbox.advance(3600)
        assert watcher.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
        assert watcher.alerts.check() == []
        deployment.start(check_funds=False)  # allowed from ERROR: STARTING, then RUNNING
        assert watcher.alerts.wait_for_events(1, kind="resolved", timeout=WAIT)
        events = watcher.alerts.events
    assert kinds(events, rule) == ["fired", "resolved"]
    assert events[0].rule == "deployment errored"
    assert "ERROR" in events[0].message


def test_vault_runway_fires_below_the_threshold_and_resolves_after_a_top_up(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    market = client.markets.get("nvidia-3060")
    hour = client.markets.estimate(market, replicas=1, timeout=timedelta(hours=1))
    # one job's escrow (1 h with the fee) plus half an hour more
    deposit = hour.nos_with_fee + hour.nos_per_hour_with_fee / 2
    deployment = create_deployment(client, nos=deposit.quantize(Decimal("0.000001")))
    rule = RunwayBelow(timedelta(hours=2))
    watcher = alert_watcher(client, deployment)
    watcher.alerts.add(rule)
    with watcher:
        assert watcher.wait_connected(WAIT)
        assert watcher.alerts.check() == []  # DRAFT spends nothing: no runway to run out of
        deployment.start()
        assert watcher.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
        assert watcher.alerts.check() == []
        deployment.vault.topup(
            nos=str((hour.nos_per_hour_with_fee * 3).quantize(Decimal("0.000001")))
        )
        assert watcher.alerts.wait_for_events(1, kind="resolved", timeout=WAIT)
        events = watcher.alerts.events
    assert kinds(events, rule) == ["fired", "resolved"]
    left = events[0].details["runway_seconds"]
    assert 1700 <= left <= 1900  # the half hour left after the first job's escrow
    assert "vault" in events[0].message


def test_credit_runway_of_an_api_key_account(sandbox: SandboxHandle) -> None:
    api_key = "nos_alerts_credit_runway_key_1"
    network = local_network(sandbox.api_url, nos_mint=sandbox.nos_mint)

    def assign(usd: str) -> None:
        reply = httpx.post(
            f"{sandbox.api_url}/_sandbox/credits", json={"api_key": api_key, "usd": usd}
        )
        reply.raise_for_status()

    assign("3")
    with NosanaClient(network, Wallet.generate(), api_key=api_key, env={}) as client:
        market = client.markets.get("nvidia-3060")
        burn = client.markets.estimate(market, replicas=1, timeout=3600).usd_per_hour_with_fee
        assert burn is not None
        deployment = client.deployments.create(
            name="credits",
            market=market.address,
            replicas=1,
            timeout=timedelta(minutes=30),
            strategy="SIMPLE",
            job_definition=JOB,
        )
        rule = RunwayBelow(timedelta(hours=100), funds="credits")
        watcher = alert_watcher(client, deployment)
        watcher.alerts.add(rule)
        with watcher:
            assert watcher.wait_connected(WAIT)
            assert watcher.alerts.check() == []  # not spending yet
            deployment.start()
            assert watcher.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
            available = client.credits.balance().available
            assign(str((burn * 200).quantize(Decimal("0.01"))))
            assert watcher.alerts.wait_for_events(1, kind="resolved", timeout=WAIT)
            events = watcher.alerts.events
    assert kinds(events, rule) == ["fired", "resolved"]
    assert events[0].key == "credits"
    expected = float(available / burn) * 3600
    assert events[0].details["runway_seconds"] == pytest.approx(expected, rel=0.01)


def test_failed_jobs_within_a_window_fire_once_per_episode(wallet: Wallet) -> None:
    failing = sandbox_module.start(db=":memory:", speed=None, seed=0, failure_share=1.0)
    try:
        failing.faucet(wallet, sol=5, nos=1000)
        with sandbox_client(failing, wallet) as client:
            deployment = create_deployment(client, replicas=3, timeout=timedelta(minutes=10))
            rule = FailedJobs(count=3, window=timedelta(hours=1))
            watcher = alert_watcher(client, deployment)
            watcher.alerts.add(rule)
            with watcher:
                assert watcher.wait_connected(WAIT)
                deployment.start()
                failing.advance(15 * 60)  # every job ended, all failed
                assert watcher.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
                assert watcher.alerts.check() == []
                failing.advance(3600)  # the failures leave the window
                assert watcher.alerts.wait_for_events(1, kind="resolved", timeout=WAIT)
                deployment.start()  # a second round fails too: a second episode
                failing.advance(15 * 60)
                assert watcher.alerts.wait_for_events(2, kind="fired", timeout=WAIT)
                assert watcher.alerts.check() == []
                events = watcher.alerts.events
                records = failing.store.find("jobs", deployment=deployment.id)
    finally:
        failing.stop()
    assert kinds(events, rule) == ["fired", "resolved", "fired"]
    first, _, second = events
    assert len(first.details["failed_jobs"]) == 3
    assert set(first.details["failed_jobs"]) | set(second.details["failed_jobs"]) == {
        r["job"] for r in records
    }
    assert len(records) == 6


def test_queued_too_long_when_no_host_is_idle(sandbox: SandboxHandle, client: NosanaClient) -> None:
    # the community H100 market has one node: the second job waits for the first to end
    deployment = create_deployment(
        client, market="nvidia-h100-community", replicas=2, nos="400", timeout=timedelta(hours=1)
    )
    rule = QueuedTooLong(timedelta(minutes=2))
    watcher = alert_watcher(client, deployment)
    watcher.alerts.add(rule)
    with watcher:
        assert watcher.wait_connected(WAIT)
        deployment.start()
        sandbox.advance(60)  # one job claimed (5-60 s), one queued for a minute
        assert watcher.wait_until(lambda rows: any(r.get("state") == "RUNNING" for r in rows), WAIT)
        assert watcher.alerts.check() == []
        sandbox.advance(90)  # queued for 2.5 min; the first job runs 3 min at the least
        assert watcher.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
        assert watcher.alerts.check() == []
        sandbox.advance(3600)  # the first job ends, the node takes the second
        assert watcher.alerts.wait_for_events(1, kind="resolved", timeout=WAIT)
        events = watcher.alerts.events
        rows = watcher.rows
    assert kinds(events, rule) == ["fired", "resolved"]
    queued = {r["job"] for r in rows if r.get("state") == "QUEUED"}
    (waiting,) = events[0].details["jobs"]
    assert waiting in queued
    assert events[0].details["longest_seconds"] >= 120


def test_near_timeout_fires_once_per_running_job(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    deployment = create_deployment(client, replicas=3, nos="200", timeout=timedelta(hours=1))
    rule = NearTimeout(timedelta(minutes=10))
    watcher = alert_watcher(client, deployment)
    watcher.alerts.add(rule)
    with watcher:
        assert watcher.wait_connected(WAIT)
        deployment.start()
        sandbox.advance(120)  # all three claimed
        assert watcher.wait_until(
            lambda rows: sum(r.get("state") == "RUNNING" for r in rows) == 3, WAIT
        )
        assert watcher.alerts.check() == []
        sandbox.advance(53 * 60)  # 55 min: jobs started within the first minute near the end
        records = sandbox.store.find("jobs", deployment=deployment.id)
        running = {r["job"] for r in records if r["state"] == "RUNNING"}
        assert running, "every job exited early; pick another seed"
        keys = {f"{deployment.id}/{job}" for job in running}
        assert watcher.alerts.wait_for_events(len(running), kind="fired", timeout=WAIT)
        assert watcher.alerts.check() == []
        sandbox.advance(10 * 60)  # past the timeout: every job ended
        assert watcher.alerts.wait_for_events(len(running), kind="resolved", timeout=WAIT)
        events = watcher.alerts.events
    assert {e.key for e in events if e.kind == "fired"} == keys
    assert {e.key for e in events if e.kind == "resolved"} == keys
    assert len(events) == 2 * len(running)
    assert all(e.job is not None and e.details["seconds_left"] <= 600 for e in events)


def test_a_reconnect_neither_repeats_nor_loses_an_episode(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    deployment = create_deployment(client, nos=None)
    rule = StatusAlert()
    # the sandbox's heartbeat comes every 25 s: a 0.5 s read timeout reopens the stream often
    watcher = alert_watcher(client, deployment, read_timeout=0.5, reconnect_backoff=(0.05, 0.2))
    watcher.alerts.add(rule)
    stream_path = f"/deployments/{deployment.id}/stream"
    with watcher:
        assert watcher.wait_connected(WAIT)
        deployment.start(check_funds=False)
        assert watcher.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
        connects = watcher.status[deployment.id].connects
        assert watcher.wait_connected(WAIT, connects=connects + 2)  # two fresh snapshots
        assert watcher.alerts.check() == []

        dropped = sandbox.faults.injected()["drop"]
        sandbox.set_faults(drop_rate=1.0, apply_to=[stream_path])  # the stream cannot reopen
        # a reconnect already under way may still get through: wait for one that was dropped,
        # after which no stream is open
        assert settle_until(lambda: sandbox.faults.injected()["drop"] > dropped)
        assert settle_until(lambda: watcher.status[deployment.id].state == "reconnecting")
        deployment.vault.topup(nos="50")
        sandbox.advance(1200)
        assert deployment.refresh().status == "RUNNING"
        assert watcher.alerts.check() == []  # the stream has not told yet: nothing guessed
        sandbox.set_faults()
        assert watcher.alerts.wait_for_events(1, kind="resolved", timeout=WAIT)
        assert watcher.alerts.check() == []
        events = watcher.alerts.events
    assert kinds(events, rule) == ["fired", "resolved"]


def test_rules_and_episodes_survive_a_kernel_restart(
    sandbox: SandboxHandle, client: NosanaClient, tmp_path: Path
) -> None:
    path = tmp_path / "history.jsonl"
    deployment = create_deployment(client, nos=None)
    rule = StatusAlert()
    with webhook_receiver() as receiver:
        receiver.fail_first = 2  # the endpoint answers 500 twice, then takes it
        first_seen: list[AlertEvent] = []
        hook = WebhookNotifier(receiver.url, style="discord", backoff_factor=0)
        first = alert_watcher(client, deployment, path=path)
        first.alerts.add(rule, notify=[first_seen.append, hook])
        with first:
            assert first.wait_connected(WAIT)
            deployment.start(check_funds=False)
            assert first.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
        assert hook.flush(WAIT)
        assert receiver.requests == 3
        (delivered,) = receiver.payloads()
    assert delivered["embeds"][0]["description"] == first_seen[0].message
    stored = (tmp_path / "history.alerts.json").read_text(encoding="utf-8")
    assert TOKEN not in stored
    assert receiver.url not in stored
    assert json.loads(stored)["episodes"]

    # a new kernel: the same cells run again over the same file
    second_seen: list[AlertEvent] = []
    second = alert_watcher(client, deployment, path=path)
    assert second.alerts.rules == [rule]
    assert [a.key for a in second.alerts.active] == [deployment.id]
    second.alerts.add(StatusAlert(), notify=second_seen.append)  # same rule: episode kept
    with second:
        assert second.wait_connected(WAIT)
        assert second.alerts.check() == []
        sandbox.advance(600)
        assert second.alerts.check() == []  # still INSUFFICIENT_FUNDS: nothing fired again
    assert second_seen == []

    # it clears while no kernel watches; the next one resolves it on its first snapshot
    deployment.vault.topup(nos="50")
    sandbox.advance(1200)
    third_seen: list[AlertEvent] = []
    third = alert_watcher(client, deployment, path=path)
    third.alerts.add(StatusAlert(), notify=third_seen.append)
    with third:
        assert third.alerts.wait_for_events(2, timeout=WAIT)
        assert third.alerts.check() == []
        events = third.alerts.events
    assert [e.kind for e in first_seen] == ["fired"]
    assert [e.kind for e in third_seen] == ["resolved"]
    assert kinds(events, rule) == ["fired", "resolved"]
    assert third.alerts.active == []
    fourth = alert_watcher(client, deployment, path=path)
    assert kinds(fourth.alerts.events, rule) == ["fired", "resolved"]
    assert fourth.alerts.active == []


def test_a_failing_notifier_breaks_neither_the_watcher_nor_the_others(
    sandbox: SandboxHandle, client: NosanaClient, caplog: pytest.LogCaptureFixture
) -> None:
    deployment = create_deployment(client, nos=None)
    seen: list[AlertEvent] = []

    def broken(event: AlertEvent) -> None:
        raise RuntimeError("the notebook's handler has a bug")

    # nothing listens on port 9 of this machine: every delivery fails
    dead_hook = WebhookNotifier(
        f"http://127.0.0.1:9/hooks/{TOKEN}", max_retries=1, backoff_factor=0
    )
    watcher = alert_watcher(client, deployment)
    watcher.alerts.add(StatusAlert(), notify=[broken, dead_hook, seen.append])
    caplog.set_level(logging.DEBUG)
    with watcher:
        assert watcher.wait_connected(WAIT)
        deployment.start(check_funds=False)
        assert watcher.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
        deployment.vault.topup(nos="50")
        sandbox.advance(1200)
        assert watcher.alerts.wait_for_events(1, kind="resolved", timeout=WAIT)
        assert watcher.is_running
        assert dead_hook.flush(WAIT)
    assert [e.kind for e in seen] == ["fired", "resolved"]
    assert watcher.alerts.notifier_errors == 2
    assert "the notebook's handler has a bug" in caplog.text
    assert (dead_hook.delivered, dead_hook.failed, dead_hook.attempts) == (0, 2, 4)
    assert dead_hook.last_error is not None
    assert TOKEN not in dead_hook.last_error
    assert TOKEN not in caplog.text


def test_a_restart_does_not_alert_on_what_ended_while_nobody_watched(
    sandbox: SandboxHandle, client: NosanaClient, tmp_path: Path
) -> None:
    path = tmp_path / "history.jsonl"
    deployment = create_deployment(client, replicas=2, nos="20", timeout=timedelta(hours=1))
    rules = [NearTimeout(timedelta(minutes=10)), QueuedTooLong(timedelta(minutes=5))]
    first = alert_watcher(client, deployment, path=path)
    for rule in rules:
        first.alerts.add(rule)
    with first:
        assert first.wait_connected(WAIT)
        deployment.start()
        sandbox.advance(120)
        assert first.wait_until(
            lambda rows: sum(r.get("state") == "RUNNING" for r in rows) == 2, WAIT
        )
        assert first.alerts.check() == []
    # the journal ends with two RUNNING jobs; both end (and the deployment stops) unwatched
    sandbox.advance(2 * 3600)
    assert deployment.refresh().status == "STOPPED"
    second = alert_watcher(client, deployment, path=path)
    with second:
        assert second.wait_connected(WAIT)
        assert second.wait_until(
            lambda rows: sum(r.get("state") == "COMPLETED" for r in rows) == 2, WAIT
        )
        assert second.alerts.check() == []
    assert second.alerts.events == []
    assert [rule.title for rule in second.alerts.rules] == [rule.title for rule in rules]


def test_a_rule_that_breaks_leaves_the_others_working(
    sandbox: SandboxHandle,
    client: NosanaClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: NearTimeout, facts: object) -> None:
        raise ZeroDivisionError("a bug in a rule")

    monkeypatch.setattr(NearTimeout, "_evaluate", broken)
    deployment = create_deployment(client, nos=None)
    watcher = alert_watcher(client, deployment)
    watcher.alerts.add(NearTimeout(60))
    watcher.alerts.add(StatusAlert())
    with watcher:
        assert watcher.wait_connected(WAIT)
        deployment.start(check_funds=False)
        assert watcher.alerts.wait_for_events(1, kind="fired", timeout=WAIT)
        events = watcher.alerts.events
    assert [e.rule_kind for e in events] == ["status"]
    assert "a bug in a rule" in caplog.text


def test_near_timeout_leaves_jobs_the_service_extends_alone(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    deployment = create_deployment(
        client, replicas=3, nos="50", timeout=timedelta(hours=1), strategy="SIMPLE-EXTEND"
    )
    watcher = alert_watcher(client, deployment)
    watcher.alerts.add(NearTimeout(timedelta(minutes=10)))
    with watcher:
        assert watcher.wait_connected(WAIT)
        deployment.start()
        sandbox.advance(120)
        assert watcher.wait_until(
            lambda rows: sum(r.get("state") == "RUNNING" for r in rows) == 3, WAIT
        )
        sandbox.advance(54 * 60)  # past the first extension (5 min before the hour)
        assert watcher.alerts.check() == []
        sandbox.advance(30 * 60)
        assert watcher.alerts.check() == []
        records = sandbox.store.find("jobs", deployment=deployment.id)
    assert "RUNNING" in [r["state"] for r in records]  # extended past its first hour
    assert watcher.alerts.events == []


def test_the_alerts_do_not_keep_a_watcher_whose_streams_all_failed_alive(
    client: NosanaClient,
) -> None:
    missing = str(Wallet.generate().address)
    watcher = Watcher(client, missing, reconnect_backoff=(0.05, 0.2))
    watcher.alerts.add(StatusAlert())
    watcher.start()
    assert settle_until(lambda: not watcher.is_running)
    watcher.stop()
    assert watcher.status[missing].state == "failed"
    assert watcher.alerts.events == []
