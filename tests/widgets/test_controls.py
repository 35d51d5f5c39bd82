"""DeploymentControls against a running sandbox, driven like a user (``.value``, ``.click()``).

Every status is reached through the service's own transitions (wire-contract §7): DRAFT by creating,
RUNNING by starting, STARTING and STOPPING by pausing the sandbox worker (nothing then moves
on), STOPPED by stopping, ARCHIVED by archiving, INSUFFICIENT_FUNDS by starting on an empty
vault, ERROR by letting a LIST fail on a market that does not exist until the retry cap. The
state machine the buttons must follow is written out here from the spec, independently of the
widget's own table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import ipywidgets as widgets
import pytest
from ipywidgets.embed import dependency_state, embed_data
from solders.keypair import Keypair

from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.jobdef import container_job
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.widgets import DeploymentControls
from nosana_nb.widgets._base import OperationCancelled
from nosana_nb.widgets._endpoints import EndpointsPanel
from tests.e2e.conftest import MARKET_3060, Account, open_account
from tests.hardening.secret_scan import Needles, scan_text

SPEC_STATE_ACTIONS: dict[str, set[str]] = {
    "DRAFT": {"start"},
    "STARTING": set(),
    "RUNNING": {"stop"},
    "STOPPING": set(),
    "STOPPED": {"start", "archive", "delete"},
    "INSUFFICIENT_FUNDS": {"start", "stop"},
    "ERROR": {"start", "stop"},
    "ARCHIVED": set(),
}
STATUSES = tuple(SPEC_STATE_ACTIONS)
BOGUS_MARKET = str(Keypair.from_seed(bytes(32)).pubkey())
JOB = container_job("docker.io/library/nginx:1.27", expose=80)


@pytest.fixture(scope="module")
def account(sandbox: SandboxHandle) -> Iterator[Account]:
    opened = open_account(sandbox)
    try:
        yield opened
    finally:
        opened.client.close()


@pytest.fixture(scope="module")
def errored(sandbox: SandboxHandle, account: Account) -> Deployment:
    """Made first: reaching ERROR moves the module's clock ten hours on."""
    deployment = deploy(account, market=BOGUS_MARKET, check_funds=False, check_market=False)
    deployment.start(check_funds=False)
    wait_status(deployment, "RUNNING")
    sandbox.advance(10 * 3600)  # 60 failed LIST retries: the cap turns the deployment to ERROR
    assert deployment.refresh().status == "ERROR"
    return deployment


def deploy(account: Account, **overrides: Any) -> Deployment:
    options: dict[str, Any] = {
        "name": "controls",
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


def stored(sandbox: SandboxHandle, deployment_id: str) -> dict[str, Any] | None:
    return sandbox.store.find_one("deployments", id=deployment_id)


@contextmanager
def worker_paused(sandbox: SandboxHandle) -> Iterator[None]:
    """Without the worker STARTING and STOPPING stay put (wire-contract §7.4)."""
    sandbox.worker.stop()
    try:
        yield
    finally:
        sandbox.worker.start()


@contextmanager
def deployment_in(
    status: str, sandbox: SandboxHandle, account: Account, errored: Deployment
) -> Iterator[Deployment]:
    """A deployment in ``status``, reached the service's way, kept there for the block."""
    if status == "ERROR":
        yield errored
        return
    if status in ("STARTING", "STOPPING"):
        deployment = deploy(account)
        if status == "STOPPING":
            deployment.start()
            wait_status(deployment, "RUNNING")
        with worker_paused(sandbox):
            (deployment.start() if status == "STARTING" else deployment.stop())
            yield deployment
        return
    if status == "INSUFFICIENT_FUNDS":
        deployment = deploy(account, new_vault=True, check_funds=False)
        deployment.start(check_funds=False)
        wait_status(deployment, "INSUFFICIENT_FUNDS")
        yield deployment
        return
    deployment = deploy(account)
    if status in ("RUNNING", "STOPPED", "ARCHIVED"):
        deployment.start()
        wait_status(deployment, "RUNNING")
    if status in ("STOPPED", "ARCHIVED"):
        deployment.stop()
        wait_status(deployment, "STOPPED")
    if status == "ARCHIVED":
        deployment.archive()
    yield deployment


def loaded(controls: DeploymentControls) -> DeploymentControls:
    controls.wait(20)
    assert controls.last_error is None, controls.last_error
    return controls


def make_controls(account: Account, deployment: Deployment | str) -> DeploymentControls:
    return loaded(DeploymentControls(account.client, deployment, follow=False))


# --- state-aware enabling ----------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
def test_buttons_follow_the_state_machine_with_reasons(
    status: str, sandbox: SandboxHandle, account: Account, errored: Deployment
) -> None:
    with deployment_in(status, sandbox, account, errored) as deployment:
        controls = make_controls(account, deployment.id)
        assert controls.deployment_status == status
        assert status in controls.header.value
        enabled = {a for a, b in controls.state_buttons.items() if not b.disabled}
        assert enabled == SPEC_STATE_ACTIONS[status]
        for button in controls.state_buttons.values():
            if button.disabled:
                # the reason is in the tooltip and in the visible hint line, naming the status
                assert status.lower() in button.tooltip.lower()
                if status != "ARCHIVED":  # archived: one shared reason, said once
                    assert button.tooltip in controls.hint.value.replace("&#x27;", "'")
        archived = status == "ARCHIVED"
        for widget in (controls.scale_button, controls.timeout_button, controls.replicas_input):
            assert widget.disabled is archived
        assert controls.rename_button.disabled is False  # renaming works even when archived
        assert controls.schedule_button.disabled  # a SIMPLE deployment has no schedule
        assert "Only SCHEDULED" in controls.schedule_button.tooltip
        assert controls.revision_editor.disabled is archived
        if archived:
            assert "archived deployment can only be renamed" in controls.hint.value
        controls.close()


def test_a_click_on_a_refused_action_sends_nothing(
    sandbox: SandboxHandle, account: Account
) -> None:
    deployment = deploy(account)
    controls = make_controls(account, deployment)
    before = stored(sandbox, deployment.id)
    controls.archive_button.click()  # disabled, but a programmatic click still fires
    assert isinstance(controls.last_error, ValidationError)
    assert "needs the deployment to be STOPPED; it is DRAFT" in str(controls.last_error)
    assert controls.pending_confirmation is None
    assert stored(sandbox, deployment.id) == before


# --- confirmations -----------------------------------------------------------------------------


def test_stop_asks_first_and_a_no_sends_nothing(sandbox: SandboxHandle, account: Account) -> None:
    deployment = deploy(account)
    deployment.start()
    wait_status(deployment, "RUNNING")
    controls = make_controls(account, deployment)
    controls.stop_button.click()
    assert controls.pending_confirmation == "stop"
    assert controls.confirm_box.layout.display == ""
    assert "Stop 'controls'?" in controls.confirm_text.value.replace("&#x27;", "'")
    assert stored(sandbox, deployment.id)["status"] == "RUNNING"  # type: ignore[index]
    controls.cancel_confirm_button.click()
    assert controls.pending_confirmation is None
    assert controls.confirm_box.layout.display == "none"
    assert "nothing was sent" in controls.status.value
    assert stored(sandbox, deployment.id)["status"] == "RUNNING"  # type: ignore[index]

    controls.stop_button.click()
    controls.confirm_button.click()
    controls.wait(20)
    assert controls.last_error is None
    assert str(controls.last_result.status) == "STOPPING"
    assert stored(sandbox, deployment.id)["status"] in ("STOPPING", "STOPPED")  # type: ignore[index]
    wait_status(deployment, "STOPPED")
    controls.refresh()
    controls.wait(20)
    assert controls.deployment_status == "STOPPED"
    assert not controls.archive_button.disabled


def test_archive_and_delete_are_confirmed_then_done(
    sandbox: SandboxHandle, account: Account
) -> None:
    to_archive, to_delete = deploy(account, name="to archive"), deploy(account, name="to delete")
    for deployment in (to_archive, to_delete):
        deployment.start()
        wait_status(deployment, "RUNNING")
        deployment.stop()
        wait_status(deployment, "STOPPED")

    archiving = make_controls(account, to_archive)
    archiving.archive_button.click()
    assert "permanent" in archiving.confirm_text.value
    assert stored(sandbox, to_archive.id)["status"] == "STOPPED"  # type: ignore[index]
    archiving.confirm_button.click()
    archiving.wait(20)
    assert stored(sandbox, to_archive.id)["status"] == "ARCHIVED"  # type: ignore[index]
    assert archiving.deployment_status == "ARCHIVED"
    assert all(button.disabled for button in archiving.state_buttons.values())

    deleting = make_controls(account, to_delete)
    deleting.delete_button.click()
    assert deleting.pending_confirmation == "delete"
    deleting.confirm_button.click()
    deleting.wait(20)
    assert deleting.last_error is None
    assert stored(sandbox, to_delete.id) is None
    assert "was deleted" in deleting.header.value
    assert all(button.disabled for button in deleting.state_buttons.values())


# --- settings ----------------------------------------------------------------------------------


def test_scale_timeout_and_rename(sandbox: SandboxHandle, account: Account) -> None:
    deployment = deploy(account, name="settings")
    controls = make_controls(account, deployment)
    assert controls.replicas_input.value == 1
    assert controls.timeout_input.value == 60
    assert "1 h" in controls.timeout_reading.value

    controls.replicas_input.value = 3
    controls.scale_button.click()
    controls.wait(20)
    assert controls.last_error is None
    assert stored(sandbox, deployment.id)["replicas"] == 3  # type: ignore[index]
    assert "Replicas set to 3" in controls.status.value

    controls.timeout_input.value = 150
    assert "2 h 30 min" in controls.timeout_reading.value
    controls.timeout_button.click()
    controls.wait(20)
    assert stored(sandbox, deployment.id)["timeout"] == 150  # type: ignore[index]

    controls.name_input.value = "renamed <b>bold</b>"
    controls.rename_button.click()
    controls.wait(20)
    assert stored(sandbox, deployment.id)["name"] == "renamed <b>bold</b>"  # type: ignore[index]
    assert "<b>bold</b>" not in controls.header.value  # shown escaped
    assert "renamed &lt;b&gt;bold&lt;/b&gt;" in controls.header.value


@pytest.mark.parametrize(
    ("field", "value", "argument"),
    [
        ("replicas_input", -1, "replicas"),
        ("timeout_input", 30, "timeout"),
        ("name_input", "   ", "name"),
    ],
)
def test_bad_settings_are_typed_errors_and_send_nothing(
    sandbox: SandboxHandle, account: Account, field: str, value: Any, argument: str
) -> None:
    deployment = deploy(account, name="untouched")
    controls = make_controls(account, deployment)
    before = stored(sandbox, deployment.id)
    getattr(controls, field).value = value
    button = {
        "replicas_input": controls.scale_button,
        "timeout_input": controls.timeout_button,
        "name_input": controls.rename_button,
    }[field]
    button.click()
    controls.wait(20)
    assert isinstance(controls.last_error, ValidationError)
    assert controls.last_error.argument == argument
    assert "ValidationError" in controls.status.value
    assert stored(sandbox, deployment.id) == before


def test_schedule_only_for_scheduled_and_cron_checked_before_sending(
    sandbox: SandboxHandle, account: Account
) -> None:
    deployment = deploy(account, strategy="SCHEDULED", schedule="0 * * * *", name="cron")
    controls = make_controls(account, deployment)
    assert controls.schedule_input.value == "0 * * * *"
    assert not controls.schedule_button.disabled

    controls.schedule_input.value = "61 * * * *"
    assert "not a valid cron expression" in controls.schedule_check.value
    controls.schedule_button.click()
    controls.wait(20)
    assert isinstance(controls.last_error, ValidationError)
    assert stored(sandbox, deployment.id)["schedule"] == "0 * * * *"  # type: ignore[index]

    controls.schedule_input.value = "*/15 * * * *"
    assert "valid" in controls.schedule_check.value
    controls.schedule_button.click()
    controls.wait(20)
    assert controls.last_error is None
    assert stored(sandbox, deployment.id)["schedule"] == "*/15 * * * *"  # type: ignore[index]
    assert "*/15 * * * *" in controls.header.value


# --- revisions ---------------------------------------------------------------------------------


def test_edit_into_a_new_revision_with_a_diff_then_roll_back(
    sandbox: SandboxHandle, account: Account
) -> None:
    deployment = deploy(account, name="revisions")
    controls = make_controls(account, deployment)
    edited = json.loads(controls.revision_editor.value)
    assert "deployment_id" not in edited  # the service's own additions are not for editing
    assert controls.create_revision_button.disabled  # nothing changed yet
    assert "No changes" in controls.diff_view.value

    edited["ops"][0]["args"]["image"] = "docker.io/library/nginx:1.28"
    controls.revision_editor.value = json.dumps(edited, indent=2)
    diff = controls.revision_diff()
    assert '-        "image": "docker.io/library/nginx:1.27"' in diff
    assert '+        "image": "docker.io/library/nginx:1.28"' in diff
    assert diff.startswith("--- revision 1 (active)\n+++ new revision")
    assert "nginx:1.28" in controls.diff_view.value
    assert not controls.create_revision_button.disabled

    controls.create_revision_button.click()
    controls.wait(20)
    assert controls.last_error is None
    assert stored(sandbox, deployment.id)["active_revision"] == 2  # type: ignore[index]
    assert sorted(r.revision for r in controls.revisions) == [1, 2]
    assert [value for _label, value in controls.revision_picker.options] == [2, 1]
    assert "Revision 2 (active)" in [label for label, _ in controls.revision_picker.options]
    assert "No changes" in controls.diff_view.value  # the editor now shows revision 2
    assert controls.activate_button.disabled  # revision 2 is already active

    controls.revision_picker.value = 1
    assert not controls.activate_button.disabled
    controls.activate_button.click()
    controls.wait(20)
    assert controls.last_error is None
    assert stored(sandbox, deployment.id)["active_revision"] == 1  # type: ignore[index]
    assert "nginx:1.27" in controls.revision_editor.value
    # the service would number a new revision 2 again and refuse it: the widget says so
    assert "Make revision 2 active first" in controls.rollback_hint.value


def test_a_broken_definition_blocks_the_revision(account: Account) -> None:
    controls = make_controls(account, deploy(account, name="broken"))
    controls.revision_editor.value = '{"ops": ['
    assert "Not valid JSON" in controls.diff_view.value
    assert controls.create_revision_button.disabled
    controls.revision_editor.value = json.dumps({"version": "0.1", "type": "container", "ops": []})
    assert "Invalid job definition" in controls.diff_view.value
    controls.create_revision_button.click()  # a programmatic click still checks first
    controls.wait(20)
    assert isinstance(controls.last_error, ValidationError)
    assert controls.last_error.argument == "job_definition"


# --- endpoints ---------------------------------------------------------------------------------


def test_endpoints_are_links_with_what_a_probe_found(
    account: Account, sandbox: SandboxHandle
) -> None:
    deployment = deploy(account, name="web")
    controls = make_controls(account, deployment)
    url = deployment.state.endpoints[0].url
    view = controls.endpoints_view
    assert f'href="{url}"' in view.value
    assert 'rel="noopener noreferrer"' in view.value
    assert ">NOT PROBED<" in view.value  # nothing is claimed before a GET was sent
    assert "not running" in view.value
    assert controls.endpoints_panel.probes is None  # a DRAFT is not probed by itself

    controls.endpoints_panel.probe_button.click()
    controls.wait(20)
    assert ">DOWN 502 · " in view.value  # no job behind the URL
    assert "Probed " in view.value
    assert "(service clock)" in view.value

    deployment.start()
    wait_status(deployment, "RUNNING")
    sandbox.advance(600)  # a node claims the job and its container boots
    sandbox.worker.settle()
    controls.endpoints_panel.probe_button.click()
    controls.wait(20)
    assert ">READY 200 · " in view.value
    [probe] = controls.endpoints_panel.probes or []
    assert (probe.url, probe.ready) == (url, True)

    reopened = make_controls(account, deployment.id)  # a RUNNING deployment is probed at once
    reopened.wait(20)
    assert ">READY 200 · " in reopened.endpoints_view.value


def counting_prober(deployment: Deployment) -> tuple[Callable[[], Any], list[int]]:
    """``deployment.probe_endpoints`` and a list that grows by one per call."""
    sent: list[int] = []

    def counted() -> Any:
        sent.append(1)
        return deployment.probe_endpoints()

    return counted, sent


def booting(sandbox: SandboxHandle, deployment: Deployment) -> None:
    """Move the clock until a node runs the job and its container boots (a minute or more)."""
    for _ in range(60):  # a node claims it within a few simulated minutes
        if [p.state for p in deployment.probe_endpoints()] == ["BOOTING"]:
            return
        sandbox.advance(5)
        sandbox.worker.settle()
    raise AssertionError(f"the endpoint never started booting: {deployment.probe_endpoints()}")


def test_a_booting_endpoint_is_probed_again_until_it_answers(
    account: Account, sandbox: SandboxHandle
) -> None:
    deployment = deploy(account, name="booting")
    deployment.start()
    wait_status(deployment, "RUNNING")
    booting(sandbox, deployment)
    counted, sent = counting_prober(deployment)
    panel = EndpointsPanel(counted, repeat_every=0.2, max_repeats=500)
    panel.show(deployment.state.endpoints, "RUNNING")
    panel.probe()
    panel.wait(20)
    assert [p.state for p in panel.probes or []] == ["BOOTING"]
    assert panel.repeating
    assert "Probing again every 0.2 s" in panel.view.value

    sandbox.advance(600)  # booted: the next repeat finds it READY, with no click
    sandbox.worker.settle()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(p.ready for p in panel.probes or []):
        time.sleep(0.05)
    panel.wait(20)
    assert [p.state for p in panel.probes or []] == ["READY"]
    assert not panel.repeating
    assert "Probing again" not in panel.view.value
    settled = len(sent)
    time.sleep(1.0)  # five repeat intervals: nothing more is sent
    assert len(sent) == settled
    panel.close()


def test_closing_the_panel_stops_its_repeats(account: Account, sandbox: SandboxHandle) -> None:
    deployment = deploy(account, name="closed-while-booting")
    deployment.start()
    wait_status(deployment, "RUNNING")
    booting(sandbox, deployment)
    counted, sent = counting_prober(deployment)
    panel = EndpointsPanel(counted, repeat_every=0.2)
    panel.show(deployment.state.endpoints, "RUNNING")
    panel.probe()
    panel.wait(20)
    assert panel.repeating
    panel.close()
    assert not panel.repeating
    time.sleep(0.5)  # a repeat whose timer fired just before close() has sent by now
    panel.wait(20)
    closed_at = len(sent)
    time.sleep(1.0)  # five repeat intervals: nothing more is sent
    assert len(sent) == closed_at


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"repeat_every": 0}, "repeat_every"),
        ({"repeat_every": float("nan")}, "repeat_every"),
        ({"repeat_every": True}, "repeat_every"),
        ({"repeat_every": "10"}, "repeat_every"),
        ({"max_repeats": -1}, "max_repeats"),
        ({"max_repeats": 2.5}, "max_repeats"),
    ],
)
def test_bad_repeat_options_are_typed_errors(options: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EndpointsPanel(None, **options)
    assert caught.value.argument == argument


# --- the widget contract (DESIGN rule 9) -------------------------------------------------------


def test_construction_returns_at_once_and_loading_can_be_cancelled(
    sandbox: SandboxHandle, account: Account
) -> None:
    deployment = deploy(account, name="slow")
    # The reply takes 1.5 s; construction must not wait for it. The margin is wide because
    # CI runs on two loaded cores.
    sandbox.set_faults(latency_ms=1500)
    try:
        started = time.perf_counter()
        controls = DeploymentControls(account.client, deployment.id, follow=False)
        assert time.perf_counter() - started < 1.0
        assert "Loading deployment" in controls.header.value
        assert controls.busy
        assert controls.cancel_button.layout.display == ""
        assert all(button.disabled for button in controls.state_buttons.values())
        controls.cancel_button.click()
        controls.wait(20)
    finally:
        sandbox.set_faults()
    assert isinstance(controls.last_error, OperationCancelled)
    assert "Cancelled" in controls.status.value
    assert not controls.busy
    assert controls.cancel_button.layout.display == "none"


def test_buttons_are_disabled_while_an_action_is_in_flight(
    sandbox: SandboxHandle, account: Account
) -> None:
    controls = make_controls(account, deploy(account, name="busy"))
    sandbox.set_faults(latency_ms=300)
    try:
        controls.replicas_input.value = 2
        controls.scale_button.click()
        assert controls.busy
        assert all(
            button.disabled for button in (*controls.state_buttons.values(), controls.scale_button)
        )
        controls.wait(20)
    finally:
        sandbox.set_faults()
    assert controls.last_error is None
    assert not controls.start_button.disabled  # DRAFT: start is back
    assert not controls.scale_button.disabled


def test_follow_keeps_the_status_current(sandbox: SandboxHandle, account: Account) -> None:
    deployment = deploy(account, name="followed")
    controls = DeploymentControls(account.client, deployment.id)  # follow=True by default
    try:
        loaded(controls)
        deployment.start()  # another handle: the widget hears it from the stream
        until(lambda: controls.deployment_status == "RUNNING", 15)
        until(lambda: not controls.stop_button.disabled, 5)
        assert controls.start_button.disabled
    finally:
        controls.close()


def test_widget_state_holds_no_key_material(account: Account) -> None:
    deployment = deploy(account, name="secrets")
    controls = make_controls(account, deployment)
    controls.stop_button.click()  # something in every part of the widget
    state = json.dumps(
        embed_data(views=[controls], state=dependency_state([controls]))["manager_state"]
    )
    assert deployment.id in state  # the scan looks at the right state
    assert scan_text(state, Needles.for_wallet(account.wallet), where="controls state") == []
    assert "last_result" not in controls.get_state()


def test_bad_arguments_are_typed_errors(account: Account) -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentControls(account.client, "not-an-id")
    assert caught.value.argument == "deployment"
    with pytest.raises(ValidationError) as caught:
        DeploymentControls(object(), "11111111111111111111111111111111")
    assert caught.value.argument == "client"
    with pytest.raises(ValidationError):
        DeploymentControls(account.client, 42)


def test_every_control_is_labelled(account: Account) -> None:
    controls = make_controls(account, deploy(account, name="labels"))
    for name in ("replicas_input", "timeout_input", "schedule_input", "name_input"):
        assert getattr(controls, name).description
    for child in walk(controls):
        if isinstance(child, widgets.Button):
            assert child.description.strip(), "a button without a text label"


def walk(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)
