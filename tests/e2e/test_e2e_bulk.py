"""``client.deployments.bulk`` against the sandbox: a dry run predicts, the real run acts.

The state machine's refusals (docs/wire-contract.md#state-machine) are found before anything is
sent and reported per row with a typed reason; the allowed rows are sent concurrently; a
partial failure (sandbox faults) is reported row by row, and a request whose outcome is unknown
is not sent again.
"""

from __future__ import annotations

import asyncio
import math
import signal
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from solders.keypair import Keypair

from nosana_nb.core.bulk import BULK_ACTIONS, BulkPreview, BulkResult
from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.deployments import Deployment, Deployments
from nosana_nb.core.errors import (
    ActionNotAllowedError,
    BulkInterrupted,
    DeploymentNotFoundError,
    InsufficientFundsError,
    ValidationError,
)
from nosana_nb.core.wallet import Wallet
from nosana_nb.frames import (
    bulk_dataframe,
    bulk_preview_dataframe,
    bulk_results_dataframe,
    deployments_dataframe,
    validate_schema,
)
from nosana_nb.sandbox import SandboxHandle
from tests.core.faults import FaultyTransport
from tests.e2e.conftest import (
    MARKET_3060,
    Account,
    network_of,
    open_account,
)

FLEET = 50
# the 3060 market: 40 base units a second, plus its 10 % network fee
PRICE_PER_HOUR = Decimal(40) * 3600 / 10**6 * Decimal("1.10")


def test_the_market_price_is_what_these_tests_assume(owner: Account) -> None:
    (market,) = [m for m in owner.client.markets.list() if m.address == MARKET_3060]
    assert market.nos_job_price_per_second == Decimal("0.00004")
    assert market.network_fee_percentage == 10


@pytest.fixture(scope="module")
def owner(sandbox: SandboxHandle) -> Iterator[Account]:
    account = open_account(sandbox, wallet_nos="500", vault_nos="100")
    try:
        yield account
    finally:
        account.client.close()


def deploy(account: Account, name: str, **overrides: Any) -> Deployment:
    return account.deploy(name=name, check_funds=False, **overrides)


def status_in_store(sandbox: SandboxHandle, ident: str) -> str | None:
    doc = sandbox.store.find_one("deployments", id=ident)
    return None if doc is None else str(doc["status"])


def wait_for(deployment: Deployment, *statuses: str) -> None:
    deployment.wait_until(statuses, timeout=20, poll_interval=0.01, max_poll_interval=0.05)


def running(account: Account, name: str, **overrides: Any) -> Deployment:
    made = deploy(account, name, **overrides)
    made.start(check_funds=False)
    wait_for(made, "RUNNING")
    return made


def stopped(account: Account, name: str) -> Deployment:
    made = running(account, name)
    made.stop()
    wait_for(made, "STOPPED")
    return made


# --- the 50-deployment stop -------------------------------------------------------------------


def test_bulk_stop_over_50_reports_45_ok_and_5_refused_as_its_dry_run_predicted(
    sandbox: SandboxHandle, owner: Account
) -> None:
    fleet = [deploy(owner, f"fleet-{i:02d}") for i in range(FLEET)]
    # 45 + 2 started in bulk: its own dry run says every draft may start
    to_start = [d.id for d in fleet[:47]]
    started = owner.client.deployments.bulk("start", to_start, dry_run=False, check_funds=False)
    assert started.counts()["ok"] == 47, started.describe()
    for deployment in fleet[:47]:
        wait_for(deployment, "RUNNING")
    for deployment in fleet[45:47]:  # two are STOPPED, three stay DRAFT: 5 that refuse stop
        deployment.stop()
        wait_for(deployment, "STOPPED")
    refusing = {d.id: status_in_store(sandbox, d.id) for d in fleet[45:]}
    assert sorted(refusing.values()) == ["DRAFT", "DRAFT", "DRAFT", "STOPPED", "STOPPED"]

    # targets: a DataFrame filtered with pandas, as a user would
    frame = deployments_dataframe(owner.client)
    chosen = frame[frame["name"].str.startswith("fleet-")]
    assert len(chosen) == FLEET

    preview = owner.client.deployments.bulk("stop", chosen)
    assert isinstance(preview, BulkPreview)
    assert len(preview.allowed) == 45
    assert {r.deployment: r.status for r in preview.refused} == refusing
    for row in preview.refused:
        assert row.reason_type == "ActionNotAllowedError"
        assert row.reason is not None
        assert row.status in row.reason
        assert isinstance(row.error, ActionNotAllowedError)
        assert row.error.allowed_statuses == ("ERROR", "RUNNING", "INSUFFICIENT_FUNDS")
        assert row.cost_change_per_hour == 0
    # each running SIMPLE deployment has one job: stopping it saves one job's price an hour
    assert all(r.cost_change_per_hour is not None for r in preview.allowed)
    assert all(r.cost_change_per_hour < 0 for r in preview.allowed)  # type: ignore[operator]
    assert "Stop: 45 deployments; 5 refused" in preview.describe()
    assert {status_in_store(sandbox, d.id) for d in fleet[:45]} == {"RUNNING"}  # nothing sent

    seen: list[str] = []
    result = owner.client.deployments.bulk(
        "stop", chosen, dry_run=False, on_result=lambda row: seen.append(row.deployment)
    )
    assert isinstance(result, BulkResult)
    assert result.counts() == {"ok": 45, "refused": 5, "failed": 0, "unknown": 0, "cancelled": 0}
    # exactly what the dry run predicted, row for row
    assert {r.deployment for r in result.ok} == {r.deployment for r in preview.allowed}
    assert {r.deployment for r in result.refused} == {r.deployment for r in preview.refused}
    assert sorted(seen) == sorted(d.id for d in fleet)  # progress: every row, once
    for row in result.refused:
        assert isinstance(row.error, ActionNotAllowedError)
        assert row.error_type == "ActionNotAllowedError"
        assert row.error.status == refusing[row.deployment]
        assert row.new_status == refusing[row.deployment]
        assert status_in_store(sandbox, row.deployment) == refusing[row.deployment]
    for row in result.ok:
        assert row.previous_status == "RUNNING"
        assert row.new_status == "STOPPING"
        assert status_in_store(sandbox, row.deployment) in ("STOPPING", "STOPPED")

    table = bulk_results_dataframe(result)
    validate_schema(table, "bulk_results")
    assert table["outcome"].value_counts().to_dict() == {
        "ok": 45,
        "refused": 5,
        "failed": 0,
        "unknown": 0,
        "cancelled": 0,
    }
    assert set(table.loc[~table["ok"], "error_type"]) == {"ActionNotAllowedError"}
    predicted = bulk_preview_dataframe(preview)
    validate_schema(predicted, "bulk_preview")
    assert (
        predicted.set_index("deployment")["allowed"].sort_index().tolist()
        == table.set_index("deployment")["ok"].sort_index().tolist()
    )
    assert predicted["cost_change_per_hour"].sum() == pytest.approx(-45 * float(PRICE_PER_HOUR))


# --- every action ---------------------------------------------------------------------------


def test_start_predicts_the_cost_it_adds_and_what_the_vaults_cannot_pay(
    sandbox: SandboxHandle,
) -> None:
    # the shared vault holds 0.07 NOS: two 10-minute jobs (0.0264 NOS each with the fee) fit,
    # a third does not; "start-broke" has a vault of its own, empty
    account = open_account(sandbox, vault_nos="0.07")
    try:
        first = deploy(account, "start-a", replicas=2)
        second = deploy(account, "start-b")
        broke = deploy(account, "start-broke", new_vault=True)
        ids = [first.id, second.id, broke.id]
        preview = account.client.deployments.bulk("start", ids)
        assert [r.allowed for r in preview.rows] == [True, False, False]
        assert preview.rows[0].cost_change_per_hour == 2 * PRICE_PER_HOUR
        for refused in preview.rows[1:]:
            assert refused.reason_type == "InsufficientFundsError"
            assert refused.cost_change_per_hour == 0
        assert "need 0.0264 NOS" in (preview.rows[1].reason or "")
        result = account.client.deployments.bulk("start", ids, dry_run=False)
        assert [r.outcome for r in result.rows] == ["ok", "refused", "refused"]
        assert result.rows[0].new_status == "STARTING"
        assert isinstance(result.rows[2].error, InsufficientFundsError)
        assert [status_in_store(sandbox, i) for i in ids[1:]] == ["DRAFT", "DRAFT"]  # not sent
        unchecked = account.client.deployments.bulk(
            "start", [second], dry_run=False, check_funds=False
        )
        assert unchecked.rows[0].ok  # the caller's choice: the service takes it
    finally:
        account.client.close()


def test_archive_and_delete_only_what_is_stopped(sandbox: SandboxHandle, owner: Account) -> None:
    to_archive, to_delete = stopped(owner, "archive-me"), stopped(owner, "delete-me")
    busy = running(owner, "still-running")
    archived = owner.client.deployments.bulk("archive", [to_archive, busy], dry_run=False)
    assert [r.outcome for r in archived.rows] == ["ok", "refused"]
    assert archived.rows[0].new_status == "ARCHIVED"
    assert status_in_store(sandbox, to_archive.id) == "ARCHIVED"
    assert "STOPPED" in archived.rows[1].message
    assert "RUNNING" in archived.rows[1].message

    again = owner.client.deployments.bulk("archive", [to_archive])
    assert again.rows[0].reason is not None
    assert "archived" in again.rows[0].reason

    deleted = owner.client.deployments.bulk("delete", [to_delete.id, busy.id], dry_run=False)
    assert [r.outcome for r in deleted.rows] == ["ok", "refused"]
    assert deleted.rows[0].message == "deleted"
    assert deleted.rows[0].new_status is None
    assert status_in_store(sandbox, to_delete.id) is None
    assert status_in_store(sandbox, busy.id) == "RUNNING"


def test_scale_predicts_the_jobs_it_adds_and_sets_replicas(
    sandbox: SandboxHandle, owner: Account
) -> None:
    live = running(owner, "scale-live")
    sandbox.advance(61)  # the nodes claim the queued job
    draft = deploy(owner, "scale-draft")
    preview = owner.client.deployments.bulk("scale", [live, draft], replicas=np.int64(3))
    active = owner.client.deployments.get(live.id).state.active_jobs
    assert active >= 1
    assert preview.rows[0].cost_change_per_hour == PRICE_PER_HOUR * (3 - active)
    assert preview.rows[1].cost_change_per_hour == 0  # a draft lists nothing until started
    result = owner.client.deployments.bulk("scale", [live, draft], dry_run=False, replicas=3)
    assert [r.outcome for r in result.rows] == ["ok", "ok"]
    for ident in (live.id, draft.id):
        assert sandbox.store.find_one("deployments", id=ident)["replicas"] == 3  # type: ignore[index]


def test_set_timeout_in_seconds_or_timedelta(sandbox: SandboxHandle, owner: Account) -> None:
    targets = [deploy(owner, "timeout-a"), running(owner, "timeout-b")]
    result = owner.client.deployments.bulk(
        "set_timeout", targets, dry_run=False, timeout=timedelta(hours=2)
    )
    assert result.counts()["ok"] == 2
    for target in targets:
        assert sandbox.store.find_one("deployments", id=target.id)["timeout"] == 120  # type: ignore[index]
    assert "Set timeout to 2 h" in result.describe()
    with pytest.raises(ValidationError, match="at least 60 minutes"):
        owner.client.deployments.bulk("set_timeout", targets, timeout=1800)


def test_switch_revision_refuses_a_revision_that_does_not_exist(
    sandbox: SandboxHandle, owner: Account
) -> None:
    two = running(owner, "revisions-two")
    two.create_revision({**two.get_revisions().first_page().items[0].job_definition})
    one = deploy(owner, "revisions-one")
    preview = owner.client.deployments.bulk("switch_revision", [two, one], revision=2)
    assert [r.allowed for r in preview.rows] == [True, False]
    assert "revision 2 does not exist; the newest is 1" in (preview.rows[1].reason or "")
    back = owner.client.deployments.bulk("switch_revision", [two, one], dry_run=False, revision=1)
    assert [r.outcome for r in back.rows] == ["ok", "ok"]
    assert sandbox.store.find_one("deployments", id=two.id)["active_revision"] == 1  # type: ignore[index]


def test_topup_sends_once_per_vault_and_stops_where_the_wallet_runs_dry(
    sandbox: SandboxHandle,
) -> None:
    account = open_account(sandbox, wallet_nos="10", vault_nos="1")
    try:
        shared = [deploy(account, "topup-a"), deploy(account, "topup-b")]
        own = deploy(account, "topup-own", new_vault=True)
        before = {v: _nos(account, v) for v in (shared[0].vault_address, own.vault_address)}
        preview = account.client.deployments.bulk("topup", [*shared, own], nos="2.5")
        assert len(preview.rows) == 2  # two deployments share one vault: it is topped up once
        assert preview.rows[0].deployment == f"{shared[0].id},{shared[1].id}"
        assert [r.nos_change for r in preview.rows] == [Decimal("2.5"), Decimal("2.5")]
        result = account.client.deployments.bulk("topup", [*shared, own], dry_run=False, nos="2.5")
        assert [r.outcome for r in result.rows] == ["ok", "ok"]
        assert all(r.signature for r in result.rows)
        for vault, nos in before.items():
            assert _nos(account, vault) == nos + Decimal("2.5")
        # 5 NOS left in the wallet: the first 4-NOS top-up fits, the second does not
        short = account.client.deployments.bulk("topup", [shared[0], own], dry_run=False, nos=4)
        assert [r.outcome for r in short.rows] == ["ok", "refused"]
        assert isinstance(short.rows[1].error, InsufficientFundsError)
    finally:
        account.client.close()


def _nos(account: Account, vault: str) -> Decimal:
    return account.client.vaults.get(vault).get_balance().nos


def test_withdraw_from_every_vault_of_the_wallet(sandbox: SandboxHandle) -> None:
    account = open_account(sandbox, vault_nos="3")
    try:
        own = deploy(account, "withdraw-own", new_vault=True)
        account.client.vaults.get(own.vault_address).topup(nos=1)
        preview = account.client.deployments.bulk("withdraw")  # None: every vault
        assert sorted(r.vault or "" for r in preview.rows) == sorted(
            v.vault for v in account.client.vaults.list()
        )
        assert sorted(r.nos_change for r in preview.rows) == [Decimal(-3), Decimal(-1)]
        result = account.client.deployments.bulk("withdraw", dry_run=False)
        assert [r.outcome for r in result.rows] == ["ok", "ok"]
        assert all(_nos(account, r.vault or "") == 0 for r in result.rows)
        empty = account.client.deployments.bulk("withdraw", dry_run=False)
        assert [r.outcome for r in empty.rows] == ["refused", "refused"]
        assert all("empty" in r.message for r in empty.rows)
    finally:
        account.client.close()


async def test_the_async_client_previews_and_acts_the_same(
    sandbox: SandboxHandle, owner: Account
) -> None:
    targets = [running(owner, "async-a"), deploy(owner, "async-b")]
    async with owner.client.to_async() as client:
        preview = await client.deployments.bulk("stop", [t.id for t in targets])
        result = await client.deployments.bulk("stop", targets, dry_run=False)
    assert [r.allowed for r in preview.rows] == [True, False]
    assert [r.outcome for r in result.rows] == ["ok", "refused"]
    assert status_in_store(sandbox, targets[0].id) in ("STOPPING", "STOPPED")


# --- stopped mid-run: what finished stays reachable -------------------------------------------


async def test_a_cancelled_async_run_stays_cancelled_and_on_result_saw_what_was_done(
    sandbox: SandboxHandle, owner: Account
) -> None:
    targets = [running(owner, f"cancel-async-{i}") for i in range(6)]
    finished: list[Any] = []
    async with owner.client.to_async() as client:
        run: asyncio.Task[Any] | None = None

        def cancel_after_two(row: Any) -> None:
            finished.append(row)
            if len(finished) == 2:
                assert run is not None
                run.cancel("the user pressed Stop")

        run = asyncio.create_task(
            client.deployments.bulk(
                "stop", targets, dry_run=False, max_concurrency=1, on_result=cancel_after_two
            )
        )
        with pytest.raises(asyncio.CancelledError) as caught:
            await run
        assert run.cancelled()
    error = caught.value
    assert type(error) is asyncio.CancelledError  # the very cancellation, not a stand-in
    assert error.args == ("the user pressed Stop",)
    assert error.__notes__ == ["nosana_nb bulk run cancelled: Stop: 2 ok, 4 cancelled."]
    assert [(r.deployment, r.outcome) for r in finished] == [(t.id, "ok") for t in targets[:2]]
    # one at a time: the third had not been sent when the cancel came, so it and the rest run on
    for target in targets[:2]:
        assert status_in_store(sandbox, target.id) in ("STOPPING", "STOPPED")
    for target in targets[2:]:
        assert status_in_store(sandbox, target.id) == "RUNNING"
        target.stop()


async def test_a_bulk_run_under_asyncio_timeout_times_out_as_any_await_does(
    sandbox: SandboxHandle, owner: Account
) -> None:
    """On Python 3.11 ``asyncio.timeout`` turns only the exact CancelledError into TimeoutError:
    a subclass would leak out as a cancellation of the caller."""
    targets = [running(owner, f"timeout-async-{i}") for i in range(4)]
    finished: list[str] = []
    async with owner.client.to_async() as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(None) as scope:

                def expire_after_one(row: Any) -> None:
                    finished.append(row.deployment)
                    scope.reschedule(asyncio.get_running_loop().time())  # expire right now

                await client.deployments.bulk(
                    "stop", targets, dry_run=False, max_concurrency=1, on_result=expire_after_one
                )
        assert asyncio.current_task() is not None
        assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]
    assert finished == [targets[0].id]
    assert status_in_store(sandbox, targets[0].id) in ("STOPPING", "STOPPED")
    for target in targets[1:]:
        assert status_in_store(sandbox, target.id) == "RUNNING"
        target.stop()


def test_an_interrupted_blocking_run_reports_exactly_what_was_done(
    sandbox: SandboxHandle, owner: Account
) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Ctrl-C is delivered to the main thread only")
    targets = [running(owner, f"interrupt-{i}") for i in range(10)]
    main = threading.main_thread().ident
    assert main is not None
    seen: list[str] = []
    handled = threading.Event()

    def ctrl_c(signum: int, frame: object) -> None:  # Python's own handler, plus a flag
        handled.set()
        raise KeyboardInterrupt

    def interrupt_after_two(row: Any) -> None:  # runs on a worker thread, like a user's Ctrl-C
        seen.append(row.deployment)
        if len(seen) == 2:
            signal.pthread_kill(main, signal.SIGINT)
        # the senders wait for the interrupt to land, so it lands while work is left
        assert handled.wait(10)

    previous = signal.signal(signal.SIGINT, ctrl_c)
    try:
        with pytest.raises(BulkInterrupted) as caught:
            owner.client.deployments.bulk(
                "stop", targets, dry_run=False, max_concurrency=2, on_result=interrupt_after_two
            )
    finally:
        signal.signal(signal.SIGINT, previous)
    error = caught.value
    assert isinstance(error, KeyboardInterrupt)
    assert not isinstance(error, Exception)  # `except Exception` does not swallow a Ctrl-C
    result = error.result
    assert [r.deployment for r in result.rows] == [t.id for t in targets]
    counts = result.counts()
    assert counts["ok"] >= 2
    assert counts["cancelled"] >= 1
    assert counts["ok"] + counts["cancelled"] == len(targets)
    # exact: the requests in flight were let finish, and nothing was sent after the interrupt
    assert {r.deployment for r in result.ok} == set(seen)
    for row in result.ok:
        assert status_in_store(sandbox, row.deployment) in ("STOPPING", "STOPPED")
    for row in result.of("cancelled"):
        assert status_in_store(sandbox, row.deployment) == "RUNNING"  # never sent
        owner.client.deployments.get(row.deployment).stop()
    assert "cancelled" in str(error)


# --- partial failure ------------------------------------------------------------------------


def test_partial_failure_is_reported_per_row_and_unknown_outcomes_are_not_resent(
    sandbox: SandboxHandle, owner: Account
) -> None:
    fine = [running(owner, f"faults-fine-{i}") for i in range(3)]
    lost_reply = running(owner, "faults-lost-reply")  # its stop lands, the reply is dropped
    dark = running(owner, "faults-dark")  # every request about it fails after landing
    gone = running(owner, "faults-gone")
    targets = [*fine, lost_reply, dark, gone]
    recorder = FaultyTransport.over_http()  # plans nothing: counts what was really sent
    with NosanaClient(network_of(sandbox), owner.wallet, env={}, transport=recorder) as client:
        preview = client.deployments.bulk("stop", targets)
        assert len(preview.allowed) == 6
        owner.client.deployments.get(gone.id).stop()  # somebody else stops one meanwhile
        wait_for(gone, "STOPPED")
        owner.client.deployments.get(gone.id).delete()
        prefixes = ("/deployments", "/api/deployments")
        sandbox.set_faults(
            drop_rate=1.0,
            after_commit=True,
            apply_to=[
                *(f"{p}/{lost_reply.id}/stop" for p in prefixes),
                *(f"{p}/{dark.id}" for p in prefixes),
            ],
        )
        try:
            result = client.with_options(max_retries=0).deployments.bulk(
                "stop", targets, dry_run=False
            )
        finally:
            sandbox.set_faults()
    rows = {r.deployment: r for r in result.rows}
    assert [rows[d.id].outcome for d in fine] == ["ok", "ok", "ok"]
    # the stop landed, the reply was lost: the status was read (STOPPING) instead of resending
    assert rows[lost_reply.id].outcome == "ok"
    assert rows[dark.id].outcome == "unknown"
    assert rows[dark.id].error_type == "APIConnectionError"
    assert "not sent again" in rows[dark.id].message
    assert status_in_store(sandbox, dark.id) in ("STOPPING", "STOPPED")  # it did land
    assert rows[gone.id].outcome == "failed"
    assert isinstance(rows[gone.id].error, DeploymentNotFoundError)
    for ident in (lost_reply.id, dark.id):
        stops = [
            s for s in recorder.seen if s.method == "POST" and s.path.endswith(f"{ident}/stop")
        ]
        assert len(stops) == 1, f"{ident}: {len(stops)} stop requests"
    counts = bulk_dataframe(result)["outcome"].value_counts().to_dict()
    assert (counts["ok"], counts["unknown"], counts["failed"]) == (4, 1, 1)


def test_a_delete_whose_reply_was_lost_is_done_not_failed(
    sandbox: SandboxHandle, owner: Account
) -> None:
    doomed, kept = stopped(owner, "lost-delete"), stopped(owner, "kept-delete")
    faults = FaultyTransport.over_http()
    faults.plan("DELETE", f"/deployments/{doomed.id}", "drop_after")  # deleted, reply lost
    with NosanaClient(network_of(sandbox), owner.wallet, env={}, transport=faults) as client:
        result = client.deployments.bulk("delete", [doomed, kept], dry_run=False)
    assert [r.outcome for r in result.rows] == ["ok", "ok"]
    assert "already gone" in result.rows[0].message  # the resent DELETE found it gone
    assert len(faults.requests("DELETE", f"/deployments/{doomed.id}")) == 2
    assert status_in_store(sandbox, doomed.id) is None
    assert status_in_store(sandbox, kept.id) is None


def test_a_broken_progress_callback_does_not_stop_the_run(
    sandbox: SandboxHandle, owner: Account, caplog: pytest.LogCaptureFixture
) -> None:
    targets = [deploy(owner, f"callback-{i}") for i in range(3)]

    def broken(row: Any) -> None:
        raise RuntimeError("the progress bar broke")

    result = owner.client.deployments.bulk(
        "scale", targets, dry_run=False, replicas=2, on_result=broken
    )
    assert result.counts()["ok"] == 3
    assert caplog.text.count("on_result failed") == 3


def test_concurrency_is_bounded(sandbox: SandboxHandle, owner: Account) -> None:
    targets = [deploy(owner, f"bounded-{i}") for i in range(16)]
    sandbox.set_faults(latency_ms=500)
    try:
        started = time.monotonic()
        result = owner.client.deployments.bulk(
            "scale", targets, dry_run=False, replicas=2, max_concurrency=4
        )
        elapsed = time.monotonic() - started
    finally:
        sandbox.set_faults()
    assert result.counts()["ok"] == 16
    # one list read, then 16 updates of 0.5 s four at a time: 0.5 + 4 x 0.5 = 2.5 s at best;
    # unbounded it would be 1 s, one at a time 8.5 s
    assert 2.0 <= elapsed < 8.0, elapsed


# --- validation: typed errors before anything is sent ---------------------------------------

GOOD_ID = "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq"


@pytest.fixture(scope="module")
def offline() -> Iterator[tuple[NosanaClient, list[httpx.Request]]]:
    """A client whose every request is recorded and answered 500: validation must send none."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500, json={"error": "must not be reached"})

    client = NosanaClient(
        "local", Wallet.generate(), transport=httpx.MockTransport(handler), env={}
    )
    yield client, sent
    client.close()


BAD_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
    ("unknown action", ("reboot", [GOOD_ID]), {}, "action"),
    ("action not a str", (None, [GOOD_ID]), {}, "action"),
    ("unknown argument", ("stop", [GOOD_ID]), {"replicas": 2}, "replicas"),
    ("missing replicas", ("scale", [GOOD_ID]), {}, "replicas"),
    ("negative replicas", ("scale", [GOOD_ID]), {"replicas": -1}, "replicas"),
    ("NaN replicas", ("scale", [GOOD_ID]), {"replicas": math.nan}, "replicas"),
    ("float replicas", ("scale", [GOOD_ID]), {"replicas": 2.5}, "replicas"),
    ("bool replicas", ("scale", [GOOD_ID]), {"replicas": True}, "replicas"),
    ("huge replicas", ("scale", [GOOD_ID]), {"replicas": 10**9}, "replicas"),
    ("NaN timeout", ("set_timeout", [GOOD_ID]), {"timeout": math.nan}, "timeout"),
    ("negative timeout", ("set_timeout", [GOOD_ID]), {"timeout": -3600}, "timeout"),
    ("short timeout", ("set_timeout", [GOOD_ID]), {"timeout": timedelta(minutes=30)}, "timeout"),
    ("huge timeout", ("set_timeout", [GOOD_ID]), {"timeout": 10**9 * 60}, "timeout"),
    ("revision 0", ("switch_revision", [GOOD_ID]), {"revision": 0}, "revision"),
    ("revision str", ("switch_revision", [GOOD_ID]), {"revision": "2"}, "revision"),
    ("negative nos", ("topup", [GOOD_ID]), {"nos": -1}, "nos"),
    ("NaN nos", ("topup", [GOOD_ID]), {"nos": math.nan}, "nos"),
    ("words for nos", ("topup", [GOOD_ID]), {"nos": "lots"}, "nos"),
    ("huge nos", ("topup", [GOOD_ID]), {"nos": Decimal("1e30")}, "nos"),
    ("nothing to top up", ("topup", [GOOD_ID]), {}, "sol"),
    ("check_funds not bool", ("start", [GOOD_ID]), {"check_funds": "no"}, "check_funds"),
    ("no targets", ("stop", None), {}, "targets"),
    ("a number as targets", ("stop", 42), {}, "targets"),
    ("a dict as targets", ("stop", {"id": GOOD_ID}), {}, "targets"),
    ("a malformed id", ("stop", ["not-an-id"]), {}, "targets"),
    ("a unicode id", ("stop", ["déploiement-🚀"]), {}, "targets"),
    ("a None id", ("stop", [GOOD_ID, None]), {}, "targets"),
    ("a NaN id", ("stop", [math.nan]), {}, "targets"),
    ("too many ids", ("stop", [str(Keypair().pubkey()) for _ in range(5001)]), {}, "targets"),
    ("a frame without ids", ("stop", pd.DataFrame({"name": ["x"]})), {}, "targets"),
    (
        "a frame with NA ids",
        ("stop", pd.DataFrame({"id": pd.array([None], "string")})),
        {},
        "targets",
    ),
    ("dry_run not bool", ("stop", [GOOD_ID]), {"dry_run": "no"}, "dry_run"),
    ("zero concurrency", ("stop", [GOOD_ID]), {"max_concurrency": 0}, "max_concurrency"),
    ("huge concurrency", ("stop", [GOOD_ID]), {"max_concurrency": 10**6}, "max_concurrency"),
    ("on_result not callable", ("stop", [GOOD_ID]), {"on_result": 3}, "on_result"),
]


@pytest.mark.parametrize(
    ("case", "args", "kwargs", "argument"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS]
)
def test_bad_input_is_a_typed_error_and_nothing_is_sent(
    offline: tuple[NosanaClient, list[httpx.Request]],
    case: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    argument: str,
) -> None:
    client, sent = offline
    before = len(sent)
    with pytest.raises(ValidationError) as caught:
        client.deployments.bulk(*args, **kwargs)
    assert caught.value.argument == argument, f"{case}: {caught.value}"
    assert len(sent) == before, f"{case}: a request was sent"


async def test_the_async_client_refuses_the_same_bad_input_before_sending() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500, json={"error": "must not be reached"})

    async with AsyncNosanaClient(
        "local", Wallet.generate(), transport=httpx.MockTransport(handler), env={}
    ) as client:
        for case, args, kwargs, argument in BAD_CALLS:
            with pytest.raises(ValidationError) as caught:
                await client.deployments.bulk(*args, **kwargs)
            assert caught.value.argument == argument, f"{case}: {caught.value}"
    assert sent == []


def test_every_action_is_named_in_the_bulk_docstring() -> None:
    doc = Deployments.bulk.__doc__ or ""
    missing = [action for action in BULK_ACTIONS if f"``{action}``" not in doc]
    assert not missing, f"bulk's docstring does not explain {missing}"
