"""DeploymentDashboard against a running sandbox: the table and its values, search, selection,
detail tabs, bulk actions with a partial failure, and live updates (stream, then polling)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import ipywidgets as widgets
import pytest
from ipywidgets.embed import dependency_state, embed_data

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import DeploymentNotFoundError, InsufficientFundsError, ValidationError
from nosana_nb.core.jobdef import container_job
from nosana_nb.frames import cost_dataframe, deployments_dataframe, jobs_dataframe
from nosana_nb.frames import markets_dataframe as build_markets
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.widgets import DeploymentControls, DeploymentDashboard, VaultWidget
from nosana_nb.widgets._base import OperationCancelled
from nosana_nb.widgets._table import TABLE_COLUMNS
from tests.e2e.conftest import MARKET_3060, Account, network_of, open_account
from tests.hardening.secret_scan import Needles, scan_text

JOB = container_job("docker.io/library/nginx:1.27", expose=80)
PLOTLY = "application/vnd.plotly.v1+json"


@pytest.fixture(scope="module")
def account(sandbox: SandboxHandle) -> Iterator[Account]:
    opened = open_account(sandbox)
    try:
        yield opened
    finally:
        opened.client.close()


@pytest.fixture(scope="module")
def fleet(sandbox: SandboxHandle, account: Account) -> dict[str, Deployment]:
    """Two running deployments with running jobs, a draft, a stopped one, and a draft whose
    own vault is empty (its start fails the funds check)."""
    made = {
        "alpha-api": deploy(account, "alpha-api", replicas=2),
        "beta-train": deploy(account, "beta-train"),
        "gamma-draft": deploy(account, "gamma-draft"),
        "delta-stopped": deploy(account, "delta-stopped"),
        "broke": deploy(account, "broke", new_vault=True, check_funds=False),
    }
    for name in ("alpha-api", "beta-train", "delta-stopped"):
        made[name].start()
        wait_status(made[name], "RUNNING")
    sandbox.advance(61)  # nodes claim the queued jobs within a minute
    made["delta-stopped"].stop()
    wait_status(made["delta-stopped"], "STOPPED")
    return made


def deploy(account: Account, name: str, **overrides: Any) -> Deployment:
    options: dict[str, Any] = {
        "name": name,
        "market": MARKET_3060,
        "replicas": 1,
        "timeout": timedelta(hours=1),
        "strategy": "SIMPLE",
        "job_definition": JOB,
    }
    options.update(overrides)
    return account.deploy(**options)


def wait_status(deployment: Deployment, *statuses: str) -> None:
    deployment.wait_until(statuses, timeout=10, poll_interval=0.01, max_poll_interval=0.05)


def until(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


def status_of(sandbox: SandboxHandle, deployment: Deployment) -> str | None:
    doc = sandbox.store.find_one("deployments", id=deployment.id)
    return None if doc is None else str(doc["status"])


def other_client(sandbox: SandboxHandle, account: Account) -> NosanaClient:
    """Somebody else at work on the same wallet: a second, independent client."""
    return NosanaClient(network_of(sandbox), account.wallet, env={})


@pytest.fixture
def dashboard(account: Account, fleet: dict[str, Deployment]) -> Iterator[DeploymentDashboard]:
    view = DeploymentDashboard(account.client)
    view.wait(30)
    assert view.last_error is None, view.last_error
    yield view
    view.close()


@pytest.fixture
def quiet_dashboard(
    account: Account, fleet: dict[str, Deployment]
) -> Iterator[DeploymentDashboard]:
    """A dashboard that reads the list only when told (Refresh): with background list reads, one
    that started before a test's new deployments existed and ended after its refresh could put
    the old list back, dropping their rows - and the selection and bulk preview with them."""
    view = DeploymentDashboard(account.client, live=False, poll_interval=3600, list_interval=3600)
    view.wait(30)
    assert view.last_error is None, view.last_error
    yield view
    view.close()


def row(view: DeploymentDashboard, deployment: Deployment) -> dict[str, Any]:
    table = view.table.frame()
    found = table[table["Id"] == deployment.id]
    assert len(found) == 1, f"{deployment.id} is not shown"
    return dict(found.iloc[0])


# --- the table ---------------------------------------------------------------------------------


def test_construction_returns_at_once_behind_a_loading_state(
    sandbox: SandboxHandle, account: Account, fleet: dict[str, Deployment]
) -> None:
    # The first reply takes 1.5 s; construction must not wait for it (wide margin: loaded CI).
    sandbox.set_faults(latency_ms=1500)
    try:
        started = time.perf_counter()
        view = DeploymentDashboard(account.client)
        assert time.perf_counter() - started < 1.0
        assert "Loading deployments" in view.status.value
        assert view.refresh_button.disabled
        assert not view.cancel_button.disabled
        assert len(view.table) == 0
        view.wait(30)
    finally:
        sandbox.set_faults()
    assert view.last_error is None
    assert view.last_result == len(account.created)
    assert not view.refresh_button.disabled
    assert view.cancel_button.disabled
    view.close()


def test_loading_can_be_cancelled(sandbox: SandboxHandle, account: Account) -> None:
    sandbox.set_faults(latency_ms=400)
    try:
        view = DeploymentDashboard(account.client)
        view.cancel_button.click()
        view.wait(30)
    finally:
        sandbox.set_faults()
    assert isinstance(view.last_error, OperationCancelled)
    assert "Cancelled" in view.status.value
    view.close()


def test_rows_show_name_status_strategy_market_replicas_jobs_and_cost(
    sandbox: SandboxHandle,
    account: Account,
    fleet: dict[str, Deployment],
    dashboard: DeploymentDashboard,
) -> None:
    assert tuple(dashboard.table.frame().columns) == TABLE_COLUMNS
    market_name = account.client.markets.get(MARKET_3060).label
    now = datetime.fromtimestamp(sandbox.clock.now(), UTC)  # the service's time
    markets = build_markets(account.client)
    for name, deployment in fleet.items():
        state = deployment.refresh()
        shown = row(dashboard, deployment)
        assert shown["Name"] == name
        assert shown["Status"] == str(state.status)
        assert shown["Strategy"] == "SIMPLE"
        assert shown["Market"] == market_name
        assert shown["Replicas"] == state.replicas
        assert shown["Running jobs"] == state.active_jobs
        jobs = jobs_dataframe(deployment)
        expected = cost_dataframe(
            jobs,
            markets,
            deployments=deployments_dataframe([state.model_dump(mode="json", by_alias=True)]),
            now=now,
        )["total_nos"].sum()
        assert shown["Cost so far (NOS)"] == pytest.approx(float(expected), abs=1e-9), name
    assert row(dashboard, fleet["alpha-api"])["Running jobs"] == 2
    assert row(dashboard, fleet["alpha-api"])["Cost so far (NOS)"] > 0
    assert "alpha-api" in dashboard.table.widget._dt_args["data_json"]
    assert "2 running" in dashboard.counts.value


def test_names_are_escaped_in_the_browser_table(account: Account) -> None:
    hostile = deploy(account, "<img src=x onerror=alert(1)>")
    view = DeploymentDashboard(account.client)
    view.wait(30)
    data = view.table.widget._dt_args["data_json"]
    assert "<img src=x" not in data
    assert "&lt;img src=x onerror=alert(1)&gt;" in data
    assert row(view, hostile)["Name"] == "<img src=x onerror=alert(1)>"
    view.close()


def test_search_by_name_or_id_and_filter_by_status(
    fleet: dict[str, Deployment], dashboard: DeploymentDashboard
) -> None:
    dashboard.search_input.value = "BETA"
    assert list(dashboard.table.frame()["Name"]) == ["beta-train"]
    alpha = fleet["alpha-api"]
    dashboard.search_input.value = alpha.id[:10]
    assert list(dashboard.table.frame()["Id"]) == [alpha.id]
    dashboard.search_input.value = ""
    dashboard.status_filter.value = "DRAFT"
    assert set(dashboard.table.frame()["Status"]) == {"DRAFT"}
    assert {"gamma-draft", "broke"} <= set(dashboard.table.frame()["Name"])
    dashboard.status_filter.value = ""
    assert len(dashboard.table.frame()) == len(dashboard.table)


def test_selection_is_by_id_and_a_search_drops_hidden_rows(
    fleet: dict[str, Deployment], dashboard: DeploymentDashboard
) -> None:
    beta = fleet["beta-train"]
    position = dashboard.table.visible_ids.index(beta.id)
    dashboard.table.widget.selected_rows = [position]  # what a click in the browser sends
    assert dashboard.table.selected_ids == [beta.id]
    assert dashboard.focused == beta.id
    assert "1 selected" in dashboard.selection_info.value
    assert not dashboard.bulk_buttons["stop"].disabled

    dashboard.search_input.value = "alpha"
    assert dashboard.table.selected_ids == []  # beta is hidden: a bulk action cannot reach it
    assert dashboard.table.widget.selected_rows == []
    assert dashboard.bulk_buttons["stop"].disabled
    dashboard.select_all_button.click()
    assert dashboard.table.selected_ids == [fleet["alpha-api"].id]
    dashboard.search_input.value = ""
    dashboard.clear_selection_button.click()
    assert dashboard.table.selected_ids == []
    assert dashboard.focused is None


def test_selection_follows_its_row_when_rows_move(
    sandbox: SandboxHandle, account: Account, fleet: dict[str, Deployment]
) -> None:
    view = DeploymentDashboard(account.client)
    view.wait(30)
    beta = fleet["beta-train"]
    view.table.select([beta.id])
    before = list(view.table.widget.selected_rows)
    sandbox.advance(1)  # the clock is frozen: without this, creation times tie
    newest = deploy(account, "newest")  # listed first: every other row moves down one
    view.refresh()
    view.wait(30)
    assert view.table.visible_ids[0] == newest.id
    assert view.table.selected_ids == [beta.id]
    assert view.table.widget.selected_rows == [before[0] + 1]
    view.close()


def test_a_list_read_older_than_the_one_shown_is_dropped(
    sandbox: SandboxHandle, account: Account, fleet: dict[str, Deployment]
) -> None:
    # The feed's timer and Refresh read the whole list on two threads; the slower, older read
    # must not put back rows that a newer read replaced.
    view = DeploymentDashboard(account.client)
    view.wait(30)
    view.stop_updates()  # this test plays both threads itself
    older = view._next_list_read()
    stale = view._list_all()  # read before the new deployment exists
    sandbox.advance(1)
    newest = deploy(account, "after-the-stale-read")
    newer = view._next_list_read()
    view._apply_list(view._list_all(), newer)
    view.table.redraw()
    assert newest.id in view.table.visible_ids
    view._apply_list(stale, older)  # arrives last
    view.table.redraw()
    assert newest.id in view.table.visible_ids
    assert newest.id in view._wire
    view.close()


# --- details -----------------------------------------------------------------------------------


def test_every_detail_tab_of_the_focused_deployment(
    fleet: dict[str, Deployment], dashboard: DeploymentDashboard
) -> None:
    alpha = fleet["alpha-api"]
    dashboard.table.select([alpha.id])
    assert dashboard.tabs.layout.display == ""
    assert "alpha-api" in dashboard.detail_title.value
    job = alpha.refresh().jobs[0].job

    def tab(name: str) -> list[widgets.Widget]:
        dashboard.show_tab(name)
        dashboard.wait(30)
        children = list(dashboard._tab_boxes[name].children)
        assert children, f"{name} is empty"
        assert "Could not load" not in str(getattr(children[0], "value", ""))
        return children

    overview = tab("Overview")[0].value
    for text in ("alpha-api", "RUNNING", "1 h", "Endpoints"):
        assert text in overview + "".join(str(getattr(w, "value", "")) for w in walk(dashboard))
    assert job[:4] in tab("Jobs")[0].value
    assert "JOB_LIST_CONFIRMED" in tab("Events")[0].value
    assert "Task" in tab("Tasks")[0].value or "No upcoming tasks" in tab("Tasks")[0].value
    for name, title in (
        ("Status history", "Status over time"),
        ("Job timeline", "Jobs per replica slot"),
        ("Cost", "Cumulative spend"),
    ):
        outputs = [w for w in tab(name) if isinstance(w, widgets.Output)]
        (figure,) = [o["data"][PLOTLY] for out in outputs for o in out.outputs]
        assert figure["layout"]["title"]["text"] == title
        assert figure["data"], f"{name} draws nothing"
    assert "NOS" in tab("Cost")[0].value
    (vault,) = tab("Vault")
    assert isinstance(vault, VaultWidget)  # the vault widget of this deployment's vault
    assert vault.last_error is None
    assert alpha.state.vault in vault.heading.value
    assert "NOS" in vault.balances.value
    (controls,) = tab("Controls")
    assert isinstance(controls, DeploymentControls)
    assert controls.deployment_id == alpha.id
    controls.wait(20)
    assert not controls.stop_button.disabled
    assert not any(type(w).__name__ == "FigureWidget" for w in walk(dashboard))


def test_the_controls_tab_changes_the_row(
    sandbox: SandboxHandle, account: Account, dashboard: DeploymentDashboard
) -> None:
    deployment = deploy(account, "renamed-in-tab")
    dashboard.refresh()
    dashboard.wait(30)
    dashboard.table.select([deployment.id])
    dashboard.show_tab("Controls")
    dashboard.wait(30)
    controls = dashboard._controls
    assert controls is not None
    controls.name_input.value = "renamed-in-controls"
    controls.rename_button.click()
    controls.wait(20)
    assert row(dashboard, deployment)["Name"] == "renamed-in-controls"


# --- bulk actions ------------------------------------------------------------------------------


def test_bulk_start_previews_the_vault_that_cannot_pay_then_shows_each_deployment(
    sandbox: SandboxHandle, fleet: dict[str, Deployment], dashboard: DeploymentDashboard
) -> None:
    chosen = [fleet["gamma-draft"], fleet["broke"], fleet["delta-stopped"]]
    dashboard.table.select([d.id for d in chosen])
    dashboard.bulk_buttons["start"].click()
    dashboard.wait(30)
    preview = dashboard.pending_bulk
    assert preview is not None
    assert [r.deployment for r in preview.rows] == dashboard.table.selected_ids
    verdicts = {r.name: r.allowed for r in preview.rows}
    assert verdicts == {"gamma-draft": True, "broke": False, "delta-stopped": True}  # empty vault
    text = dashboard.bulk_confirm_text.value
    assert "Start: 2 deployments; 1 refused" in text
    assert "Nothing has been sent yet" in text
    assert "InsufficientFundsError" in text
    assert text.count('data-allowed="true"') == 2
    assert dashboard.bulk_confirm_button.description == "Yes, start 2"
    dashboard.bulk_dismiss_button.click()  # no: nothing is sent
    assert dashboard.pending_bulk is None
    assert [status_of(sandbox, d) for d in chosen] == ["DRAFT", "DRAFT", "STOPPED"]

    dashboard.bulk_buttons["start"].click()
    dashboard.wait(30)
    dashboard.bulk_confirm_button.click()
    dashboard.wait(30)
    result = dashboard.bulk_result
    assert result is not None
    assert dashboard.last_result is result
    rows = {r.name: r for r in result.rows}
    assert rows["gamma-draft"].ok
    assert rows["gamma-draft"].new_status == "STARTING"
    assert rows["delta-stopped"].ok
    refused = rows["broke"]
    assert refused.outcome == "refused"
    assert isinstance(refused.error, InsufficientFundsError)  # the typed reason, kept
    assert status_of(sandbox, fleet["broke"]) == "DRAFT"  # never sent
    html = dashboard.bulk_results.value
    assert 'data-outcome="refused"' in html
    assert "InsufficientFundsError" in html
    assert html.count('data-outcome="ok"') == 2
    assert "2 ok, 1 refused, 0 failed" in html
    assert "Start: 2 ok, 1 refused" in dashboard.status.value
    until(lambda: status_of(sandbox, fleet["gamma-draft"]) == "RUNNING", what="gamma running")


def test_bulk_scale_reports_a_deployment_deleted_after_its_dry_run(
    sandbox: SandboxHandle, account: Account, quiet_dashboard: DeploymentDashboard
) -> None:
    keep, doomed = deploy(account, "scale-me"), deploy(account, "deleted-meanwhile")
    doomed.start()
    wait_status(doomed, "RUNNING")
    doomed.stop()
    wait_status(doomed, "STOPPED")
    quiet_dashboard.refresh()
    quiet_dashboard.wait(30)
    quiet_dashboard.table.select([keep.id, doomed.id])
    quiet_dashboard.bulk_replicas.value = 3
    quiet_dashboard.bulk_buttons["scale"].click()
    quiet_dashboard.wait(30)
    assert "Scale to 3 replicas: 2 deployments" in quiet_dashboard.bulk_confirm_text.value
    with other_client(sandbox, account) as other:
        other.deployments.get(doomed.id).delete()
    quiet_dashboard.bulk_replicas.value = 5  # too late: the confirm sends what was previewed
    quiet_dashboard.bulk_confirm_button.click()
    quiet_dashboard.wait(30)
    assert quiet_dashboard.bulk_result is not None
    outcomes = {r.deployment: r for r in quiet_dashboard.bulk_result.rows}
    assert outcomes[keep.id].ok
    assert sandbox.store.find_one("deployments", id=keep.id)["replicas"] == 3  # type: ignore[index]
    assert outcomes[doomed.id].outcome == "failed"
    assert isinstance(outcomes[doomed.id].error, DeploymentNotFoundError)
    assert "DeploymentNotFoundError" in quiet_dashboard.bulk_results.value
    assert row(quiet_dashboard, keep)["Replicas"] == 3


def test_bulk_set_timeout_from_the_hours_box(
    sandbox: SandboxHandle, account: Account, quiet_dashboard: DeploymentDashboard
) -> None:
    first, second = deploy(account, "timeout-a"), deploy(account, "timeout-b")
    quiet_dashboard.refresh()
    quiet_dashboard.wait(30)
    quiet_dashboard.table.select([first.id, second.id])
    assert not quiet_dashboard.bulk_buttons["set_timeout"].disabled  # a draft's timeout can change
    quiet_dashboard.bulk_timeout_hours.value = 3.5
    quiet_dashboard.bulk_buttons["set_timeout"].click()
    quiet_dashboard.wait(30)
    assert "Set timeout to 3 h 30 min: 2 deployments" in quiet_dashboard.bulk_confirm_text.value
    quiet_dashboard.bulk_confirm_button.click()
    quiet_dashboard.wait(30)
    assert quiet_dashboard.bulk_result is not None
    assert all(r.ok for r in quiet_dashboard.bulk_result.rows)
    for deployment in (first, second):
        stored = sandbox.store.find_one("deployments", id=deployment.id)
        assert stored is not None
        assert stored["timeout"] == 210  # minutes, as the service keeps it

    # hours that are not whole minutes: a typed error at once, nothing read or sent
    quiet_dashboard.bulk_timeout_hours.value = 1.005  # 60.3 min
    quiet_dashboard.bulk_buttons["set_timeout"].click()
    assert isinstance(quiet_dashboard.last_error, ValidationError)
    assert quiet_dashboard.last_error.argument == "timeout"
    assert "whole number of minutes" in str(quiet_dashboard.last_error)
    assert quiet_dashboard.pending_bulk is None
    # the box keeps to the service's bounds for an updated timeout
    quiet_dashboard.bulk_timeout_hours.value = 500
    assert quiet_dashboard.bulk_timeout_hours.value == 100


def test_bulk_stop_previews_the_refusal_and_does_not_send_it(
    sandbox: SandboxHandle, account: Account, quiet_dashboard: DeploymentDashboard
) -> None:
    running, draft = deploy(account, "stop-me"), deploy(account, "cannot-stop")
    running.start()
    wait_status(running, "RUNNING")
    quiet_dashboard.refresh()
    quiet_dashboard.wait(30)
    quiet_dashboard.table.select([running.id, draft.id])
    quiet_dashboard.bulk_buttons["stop"].click()
    quiet_dashboard.wait(30)
    text = quiet_dashboard.bulk_confirm_text.value
    assert "Stop: 1 deployment; 1 refused" in text
    assert "ActionNotAllowedError" in text
    assert "it is DRAFT" in text
    assert quiet_dashboard.bulk_confirm_button.description == "Yes, stop 1"
    quiet_dashboard.bulk_confirm_button.click()
    quiet_dashboard.wait(30)
    assert quiet_dashboard.bulk_result is not None
    (refused,) = quiet_dashboard.bulk_result.refused
    assert refused.deployment == draft.id
    assert refused.error_type == "ActionNotAllowedError"
    assert status_of(sandbox, draft) == "DRAFT"
    assert status_of(sandbox, running) in ("STOPPING", "STOPPED")
    assert 'data-outcome="refused"' in quiet_dashboard.bulk_results.value


def test_bulk_delete_removes_what_was_deleted_and_keeps_what_refused(
    sandbox: SandboxHandle, account: Account, quiet_dashboard: DeploymentDashboard
) -> None:
    done, live = deploy(account, "delete-done"), deploy(account, "delete-live")
    for deployment in (done, live):
        deployment.start()
        wait_status(deployment, "RUNNING")
    done.stop()
    wait_status(done, "STOPPED")
    quiet_dashboard.refresh()
    quiet_dashboard.wait(30)
    quiet_dashboard.table.select([done.id, live.id])
    quiet_dashboard.bulk_buttons["delete"].click()
    quiet_dashboard.wait(30)
    assert "Delete: 1 deployment; 1 refused" in quiet_dashboard.bulk_confirm_text.value
    assert quiet_dashboard.bulk_confirm_button.description == "Yes, delete 1"
    quiet_dashboard.bulk_confirm_button.click()
    quiet_dashboard.wait(30)
    assert quiet_dashboard.bulk_result is not None
    outcomes = {r.deployment: r.outcome for r in quiet_dashboard.bulk_result.rows}
    assert outcomes == {done.id: "ok", live.id: "refused"}
    assert status_of(sandbox, done) is None
    assert status_of(sandbox, live) == "RUNNING"
    shown = set(quiet_dashboard.table.frame()["Id"])
    assert done.id not in shown
    assert live.id in shown
    assert quiet_dashboard.table.selected_ids == [live.id]


def test_a_cancelled_bulk_run_says_which_rows_may_have_landed(
    sandbox: SandboxHandle, account: Account, quiet_dashboard: DeploymentDashboard
) -> None:
    targets = [deploy(account, "cancel-a"), deploy(account, "cancel-b")]
    quiet_dashboard.refresh()
    quiet_dashboard.wait(30)
    quiet_dashboard.table.select([d.id for d in targets])
    quiet_dashboard.bulk_replicas.value = 2
    quiet_dashboard.bulk_buttons["scale"].click()
    quiet_dashboard.wait(30)
    assert quiet_dashboard.pending_bulk is not None, (
        quiet_dashboard.status.value,
        quiet_dashboard.last_error,
    )
    sandbox.set_faults(latency_ms=1500)  # every request now takes 1.5 s: time to cancel
    try:
        quiet_dashboard.bulk_confirm_button.click()
        quiet_dashboard.cancel()
        quiet_dashboard.wait(30)
    finally:
        sandbox.set_faults()
    assert quiet_dashboard.bulk_result is None
    html = quiet_dashboard.bulk_results.value
    why = (quiet_dashboard.status.value, repr(quiet_dashboard.last_error))
    assert html.count('data-outcome="cancelled"') == 2, why
    assert "may have landed" in html
    assert 'data-outcome="pending"' not in html


def test_bad_bulk_input_is_a_typed_error_at_once(
    fleet: dict[str, Deployment], dashboard: DeploymentDashboard
) -> None:
    dashboard.table.select([fleet["alpha-api"].id])
    dashboard.bulk_replicas.value = -2
    dashboard.bulk_buttons["scale"].click()
    assert isinstance(dashboard.last_error, ValidationError)
    assert dashboard.last_error.argument == "replicas"
    assert dashboard.pending_bulk is None
    assert dashboard.bulk_confirm_box.layout.display == "none"
    dashboard.table.select([])
    dashboard.bulk_buttons["stop"].click()  # disabled, but a programmatic click still fires
    assert dashboard.last_error.argument == "deployments"


# --- live --------------------------------------------------------------------------------------


def test_a_change_by_another_client_reaches_the_row_through_the_stream(
    sandbox: SandboxHandle,
    account: Account,
    fleet: dict[str, Deployment],
    dashboard: DeploymentDashboard,
) -> None:
    beta = fleet["beta-train"]
    until(lambda: dashboard.live_state == "live", what="live streams")
    assert beta.id in dashboard.streaming
    assert 'data-live-state="live"' in dashboard.live_indicator.value
    polls = dashboard._feed.polls
    draws = dashboard.table.draws
    with other_client(sandbox, account) as other:
        other.deployments.get(beta.id).update_replicas(4)
    until(lambda: row(dashboard, beta)["Replicas"] == 4, what="replicas 4 in the row")
    assert dashboard._feed.polls == polls  # the list was not re-read: the stream brought it
    # the row's data changes at once; its redraw follows within REDRAW_INTERVAL (batched)
    until(lambda: dashboard.table.draws > draws, what="the table redrawn")
    assert '"beta-train"' in dashboard.table.widget._dt_args["data_json"] or (
        "beta-train" in dashboard.table.widget._dt_args["data_json"]
    )
    with other_client(sandbox, account) as other:
        other.deployments.get(beta.id).stop()
    until(lambda: row(dashboard, beta)["Status"] in ("STOPPING", "STOPPED"), what="stopped row")


def test_polling_takes_over_while_the_stream_is_down(
    sandbox: SandboxHandle, account: Account, fleet: dict[str, Deployment]
) -> None:
    watched = [d for d in account.created if status_of(sandbox, d) in ("RUNNING", "DRAFT")]
    sandbox.set_faults(
        error_rate=1.0, apply_to=[f"/deployments/{d.id}/stream" for d in account.created]
    )
    try:
        view = DeploymentDashboard(account.client, poll_interval=0.3)
        view.wait(30)
        until(lambda: view.live_state == "reconnecting", what="reconnecting")
        assert 'data-live-state="reconnecting"' in view.live_indicator.value
        target = watched[0]
        with other_client(sandbox, account) as other:
            other.deployments.get(target.id).rename("renamed-by-other")
        until(lambda: row(view, target)["Name"] == "renamed-by-other", what="polled rename")
        assert view._feed.polls >= 1
    finally:
        sandbox.set_faults()
    until(lambda: view.live_state == "live", 30, what="back to live")
    view.close()


def test_without_live_streams_the_list_is_polled(
    sandbox: SandboxHandle, account: Account, fleet: dict[str, Deployment]
) -> None:
    view = DeploymentDashboard(account.client, live=False, poll_interval=0.3)
    view.wait(30)
    until(lambda: view.live_state == "polling", what="polling")
    assert view.streaming == {}
    alpha = fleet["alpha-api"]
    with other_client(sandbox, account) as other:
        other.deployments.get(alpha.id).update_replicas(5)
    until(lambda: row(view, alpha)["Replicas"] == 5, what="polled replicas")
    view.close()


# --- the widget contract -----------------------------------------------------------------------


def test_dashboard_state_holds_no_key_material(
    account: Account, fleet: dict[str, Deployment], dashboard: DeploymentDashboard
) -> None:
    dashboard.table.select([fleet["alpha-api"].id])
    dashboard.show_tab("Controls")
    dashboard.wait(30)
    # the dashboard's own widgets (what its output saves), not every widget of the process
    state = json.dumps(
        embed_data(views=[dashboard], state=dependency_state([dashboard]))["manager_state"]
    )
    assert fleet["alpha-api"].id in state
    assert scan_text(state, Needles.for_wallet(account.wallet), where="dashboard state") == []


def test_every_control_is_labelled(dashboard: DeploymentDashboard) -> None:
    for control in (
        dashboard.search_input,
        dashboard.status_filter,
        dashboard.bulk_replicas,
        dashboard.bulk_timeout_hours,
    ):
        assert control.description
    for child in walk(dashboard):
        if isinstance(child, widgets.Button):
            assert child.description.strip()


def test_bad_options_are_typed_errors(account: Account) -> None:
    for options in ({"max_streams": 0}, {"poll_interval": 0}, {"page_length": 7}, {"live": 1}):
        with pytest.raises(ValidationError):
            DeploymentDashboard(account.client, **options)
    with pytest.raises(ValidationError) as caught:
        DeploymentDashboard("not a client")
    assert caught.value.argument == "client"


def walk(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)
