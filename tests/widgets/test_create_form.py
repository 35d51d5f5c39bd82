"""CreateDeploymentForm against a running in-process sandbox, driven headless: every strategy,
every job-definition source, create only / create and start / wait for RUNNING, every refusal
(with nothing sent), the confirmation step, the funds check and its top-up shortcut."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from croniter import croniter

from nosana_nb import sandbox as sandbox_module
from nosana_nb.core.client import AsyncNosanaClient, NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.deployments import WaitTimeoutError
from nosana_nb.core.errors import APIStatusError, InsufficientFundsError, ValidationError
from nosana_nb.core.markets import estimate_cost
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.widgets import CreateDeploymentForm
from nosana_nb.widgets._base import OperationCancelled
from nosana_nb.widgets._jobdef_templates import TEMPLATES
from nosana_nb.widgets._ui import call
from nosana_nb.widgets._vault import VaultWidget
from tests.frames.sandbox_helpers import funded_wallet
from tests.widgets.forms_support import (
    CREATE_PATH,
    CountingTransport,
    counting_client,
    secret_hits,
    traits_holding,
    unlabelled,
)

MARKET = "nvidia-3060"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    handle = sandbox_module.start(db=":memory:", speed=None, seed=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def wallet(sandbox: SandboxHandle) -> Wallet:
    return funded_wallet(sandbox)


@pytest.fixture(scope="module")
def counted(
    sandbox: SandboxHandle, wallet: Wallet
) -> Iterator[tuple[NosanaClient, CountingTransport]]:
    client, transport = counting_client(sandbox, wallet)
    client.vaults.create().topup(sol="0.5", nos="300")  # the shared vault the form pays from
    yield client, transport
    client.close()


@pytest.fixture
def client(counted: tuple[NosanaClient, CountingTransport]) -> NosanaClient:
    return counted[0]


@pytest.fixture
def transport(counted: tuple[NosanaClient, CountingTransport]) -> CountingTransport:
    return counted[1]


@pytest.fixture
def form(client: NosanaClient) -> Iterator[CreateDeploymentForm]:
    view = CreateDeploymentForm(client)
    view.wait(15)
    assert view.last_error is None, view.status.value
    yield view
    view.close()


def deployment_count(client: NosanaClient) -> int:
    return sum(1 for _ in client.deployments.list())


def ready(form: CreateDeploymentForm, **values: Any) -> CreateDeploymentForm:
    """Select the default market, then set ``values`` (control name -> value) in order."""
    form.select_market(values.pop("market", MARKET))
    for name, value in values.items():
        getattr(form, name).value = value
    return form


def submit(form: CreateDeploymentForm) -> Any:
    """Review, confirm, and wait for the create; returns the created deployment."""
    assert not form.review_button.disabled, form.errors
    form.review_button.click()
    form.wait(15)
    assert form.confirm.pending, form.status.value
    form.confirm.confirm_button.click()
    form.wait(30)
    assert form.last_error is None, form.status.value
    return form.last_result


def first_revision_definition(client: NosanaClient, deployment_id: str) -> dict[str, Any]:
    revision = next(iter(client.deployments.get(deployment_id).get_revisions()))
    return dict(revision.job_definition)


# -- construction and loading -------------------------------------------------------------


def test_construction_returns_at_once_behind_a_loading_state(
    sandbox: SandboxHandle, client: NosanaClient
) -> None:
    sandbox.set_faults(latency_ms=1500, apply_to=["/api/markets"])
    try:
        started = time.monotonic()
        view = CreateDeploymentForm(client)
        assert time.monotonic() - started < 1.0  # well before the slowed load ends
        assert view.busy
        assert "Loading GPUs" in view.market_hint.value
        assert "Loading" in view.status.value
        assert view.review_button.disabled
        view.wait(15)
    finally:
        sandbox.set_faults(latency_ms=0)
    assert view.last_error is None
    assert len(view.markets) == 8
    assert {m.tier for m in view.markets} == {"PREMIUM", "COMMUNITY"}
    assert "8 of 8 markets shown" in view.market_hint.value
    assert view.errors == {"market": "Please select a market"}
    assert "Please select a market" in view.market_error.value
    view.close()


def test_a_failed_load_is_a_typed_error_and_says_so(sandbox: SandboxHandle, wallet: Wallet) -> None:
    client, _ = counting_client(sandbox, wallet, max_retries=0)
    sandbox.set_faults(error_rate=1.0, apply_to=["/api/markets"])
    try:
        view = CreateDeploymentForm(client)
        view.wait(15)
    finally:
        sandbox.set_faults(error_rate=0.0)
    assert isinstance(view.last_error, APIStatusError)
    assert "✗" in view.status.value
    assert "Could not load available GPUs" in view.market_hint.value
    assert view.review_button.disabled
    view.close()
    client.close()


def test_every_control_is_labelled(form: CreateDeploymentForm) -> None:
    for key in ("jupyter", "vllm", "comfyui", "container"):
        form.template.value = key
        assert unlabelled(form) == []


# -- the create paths ---------------------------------------------------------------------


def test_simple_create_only_from_the_plain_container_template(
    form: CreateDeploymentForm, client: NosanaClient, transport: CountingTransport
) -> None:
    before = transport.count("POST", CREATE_PATH)
    ready(form, strategy="SIMPLE", replicas=2, template="container", start=False)
    fields = form._template_fields["container"].controls
    fields["command"].value = "echo hello && sleep 60"
    fields["env"].value = "MODE=test\n# a comment\nLEVEL=3"
    fields["port"].value = 8080
    form.timeout_hours.value, form.timeout_minutes.value = 1, 30
    assert form.errors == {}
    deployment = submit(form)
    assert form.confirm.confirm_button.description == "Create"
    assert transport.count("POST", CREATE_PATH) == before + 1
    state = client.deployments.get(deployment.id).state
    assert (state.strategy, state.replicas, state.timeout, state.status) == (
        "SIMPLE",
        2,
        90,
        "DRAFT",
    )
    run = first_revision_definition(client, deployment.id)["ops"][0]["args"]
    assert run["image"] == "docker.io/library/ubuntu:24.04"
    assert run["cmd"] == "echo hello && sleep 60"
    assert run["env"] == {"MODE": "test", "LEVEL": "3"}
    assert run["expose"] == 8080
    assert deployment.id in form.result.value
    assert "DRAFT" in form.result.value
    assert f"Created deployment {deployment.id}" in form.status.value


def test_simple_extend_from_image_and_command_creates_and_starts(
    form: CreateDeploymentForm, client: NosanaClient
) -> None:
    vault = client.vaults.create()
    nos_before = vault.get_balance().nos_base_units
    ready(form, strategy="SIMPLE-EXTEND", source="image")
    form.image.value = "docker.io/library/python:3.12"
    form.command.value = "python -c 'print(42)'"
    form.gpu.value = False
    estimate = form.estimate
    assert estimate is not None
    deployment = submit(form)
    assert form.confirm.confirm_button.description == "Create and start"
    state = client.deployments.get(deployment.id).state
    assert state.strategy == "SIMPLE-EXTEND"
    assert state.status in ("STARTING", "RUNNING")
    assert state.timeout == 60  # the default for every strategy but INFINITE
    run = first_revision_definition(client, deployment.id)["ops"][0]["args"]
    assert (run["image"], run["cmd"], run["gpu"]) == (
        "docker.io/library/python:3.12",
        "python -c 'print(42)'",
        False,
    )
    spent = nos_before - vault.get_balance().nos_base_units
    assert 0 < spent <= estimate.nos_base_units_with_fee


def test_scheduled_validates_cron_and_previews_runs_on_the_service_clock(
    form: CreateDeploymentForm, sandbox: SandboxHandle, client: NosanaClient
) -> None:
    ready(form, strategy="SCHEDULED", start=False)
    assert form.schedule_row.layout.display is None
    assert form.rotation_row.layout.display == "none"
    form.schedule.value = "*/30 * * * *"
    service_now = datetime.fromtimestamp(sandbox.clock.now(), UTC)
    expected = croniter("*/30 * * * *", service_now).get_next(datetime)
    assert expected.strftime("%a %d %b %H:%M") in form.schedule_preview.value
    assert "service time" in form.schedule_preview.value
    deployment = submit(form)
    state = client.deployments.get(deployment.id).state
    assert (state.strategy, state.schedule) == ("SCHEDULED", "*/30 * * * *")


def test_infinite_from_json_waits_until_running(
    form: CreateDeploymentForm, client: NosanaClient
) -> None:
    ready(form, strategy="INFINITE", wait_running=True)
    assert (form.timeout_hours.value, form.timeout_minutes.value) == (6, 0)
    form.timeout_hours.value = 2
    form.rotation.value = 30
    form.source.value = "json"
    # the JSON starts from the template the form described
    prefilled = json.loads(form.job_json.value)
    assert prefilled["ops"][0]["args"]["image"] == "docker.io/nosana/pytorch-jupyter:latest"
    prefilled["ops"][0]["args"]["image"] = "docker.io/library/nginx:1.27"
    form.job_json.value = json.dumps(prefilled)
    deployment = submit(form)
    assert deployment.state.status == "RUNNING"
    assert "RUNNING" in form.result.value
    state = client.deployments.get(deployment.id).state
    assert (state.strategy, state.timeout, state.rotation_time) == ("INFINITE", 120, 30)
    definition = first_revision_definition(client, deployment.id)
    assert definition["ops"][0]["args"]["image"] == "docker.io/library/nginx:1.27"


@pytest.mark.parametrize("template", [t.key for t in TEMPLATES])
def test_every_template_builds_a_valid_definition(
    form: CreateDeploymentForm, template: str
) -> None:
    ready(form, template=template)
    definition = form.job_definition
    assert definition is not None
    assert definition["ops"][0]["args"]["image"] in form.job_summary.value
    assert not any(key.startswith("template.") for key in form.errors)


def test_vllm_template_on_a_gpu_with_too_little_vram_is_refused(
    form: CreateDeploymentForm, transport: CountingTransport
) -> None:
    ready(form, template="vllm")
    form._template_fields["vllm"].controls["required_vram"].value = 16
    assert "does not meet the required VRAM" in form.errors["market"]
    assert any("too little VRAM" in label for label, _ in form.market.options)
    refused(form, transport, "market")
    form.select_market("nvidia-4090")
    assert "market" not in form.errors


# -- timeout, strategy defaults, cost -----------------------------------------------------


def test_timeout_is_whole_hours_and_minutes_converted_exactly(form: CreateDeploymentForm) -> None:
    ready(form, strategy="SIMPLE")
    form.timeout_hours.value, form.timeout_minutes.value = 2, 15
    plan = form.plan
    assert plan is not None
    assert plan.timeout_minutes == 135
    assert plan.create_arguments()["timeout"] == timedelta(minutes=135)
    assert "sent to the service as 135 minutes" in form.timeout_help.value
    assert form.estimate is not None
    assert form.estimate.timeout_seconds == 135 * 60


def test_strategy_resets_the_timeout_until_the_user_changes_it(form: CreateDeploymentForm) -> None:
    assert form.strategy.value == "INFINITE"  # the dashboard's default, 6 h
    assert (form.timeout_hours.value, form.timeout_minutes.value) == (6, 0)
    form.strategy.value = "SIMPLE"
    assert (form.timeout_hours.value, form.timeout_minutes.value) == (1, 0)
    form.timeout_minutes.value = 45
    form.strategy.value = "INFINITE"
    assert (form.timeout_hours.value, form.timeout_minutes.value) == (1, 45)


def test_cost_estimate_is_the_cores_with_fee_in_nos_and_usd(form: CreateDeploymentForm) -> None:
    ready(form, strategy="SIMPLE", replicas=3)
    form.timeout_hours.value = 4
    market = form.selected_market
    assert market is not None
    expected = estimate_cost(market.market, replicas=3, timeout=timedelta(hours=4))
    assert form.estimate == expected
    for figure in (
        f"{expected.nos_with_fee.normalize():f}",
        f"{expected.nos.normalize():f}",
        f"${expected.usd_per_hour_with_fee:.3f}",
        f"${expected.usd_with_fee:.2f}",
    ):
        assert figure in form.cost.value, figure
    assert "10 % network fee" in form.cost.value
    assert "per hour" in form.cost.value
    assert "for the timeout (4 h)" in form.cost.value


def test_market_picker_accepts_slugs_and_addresses_and_filters(
    form: CreateDeploymentForm,
) -> None:
    form.market_ref.value = "nvidia-h100"
    selected = form.selected_market
    assert selected is not None
    assert selected.name == "NVIDIA H100"
    form.market_ref.value = "5JfTgmZQ1UGhedopb4jdbJeyhPHywo3LZuKPBbKAc9g"
    assert form.selected_market is not None
    assert form.selected_market.name == "NVIDIA 4090 Community"
    assert "3 of 3 nodes available" in form.market_details.value
    assert "NOS + fee" in form.market_details.value
    assert "USD + fee" in form.market_details.value
    form.filters.gpu.value = "3060"
    labels = [label for label, _ in form.market.options]
    # the chosen market stays listed even when the filter would hide it
    assert any("4090 Community" in label for label in labels)
    assert sum("3060" in label for label in labels) == 2
    form.filters.gpu.value = ""
    form.filters.min_vram.value = 48
    names = {label.split(" · ")[0] for label, _ in form.market.options}
    assert {"NVIDIA A6000", "NVIDIA H100", "NVIDIA H100 Community"} <= names
    assert "NVIDIA 3060" not in names
    form.filters.min_vram.value = 0
    form.filters.max_price.value = 0.05
    names = {label.split(" · ")[0] for label, _ in form.market.options}
    assert {"NVIDIA 3060", "NVIDIA 3060 Community"} <= names
    form.filters.max_price.value = 0.0
    form.filters.tier.value = "COMMUNITY"
    assert all("Community" in label for label, _ in form.market.options)


# -- refusals: the message beside the field, the button disabled, nothing sent ------------


def refused(form: CreateDeploymentForm, transport: CountingTransport, field: str) -> None:
    """The form refuses to send: disabled button, and a click gives the typed error only."""
    creates = transport.count("POST", CREATE_PATH)
    requests = len(transport.sent)
    assert form.review_button.disabled
    form.review_button.click()
    assert isinstance(form.last_error, ValidationError)
    assert form.last_error.argument == field
    assert not form.confirm.pending
    assert "ValidationError" in form.status.value
    assert transport.count("POST", CREATE_PATH) == creates
    assert len(transport.sent) == requests  # not even a balance read


def _bad_json_missing_image(form: CreateDeploymentForm) -> None:
    form.source.value = "json"
    op = {"id": "a", "type": "container/run", "args": {}}
    form.job_json.value = json.dumps({"version": "0.1", "type": "container", "ops": [op]})


def _comfyui_without_image(form: CreateDeploymentForm) -> None:
    form.template.value = "comfyui"
    form._template_fields["comfyui"].controls["image"].value = " "


REFUSALS: list[tuple[str, Callable[[CreateDeploymentForm], None], str, str, str]] = [
    ("blank name", lambda f: setattr(f.name, "value", "  "), "name",
     "Deployment name is required", "name_error"),
    ("control character in the name", lambda f: setattr(f.name, "value", "a\x07b"), "name",
     "control characters", "name_error"),
    ("name too long", lambda f: setattr(f.name, "value", "n" * 101), "name",
     "at most 100 characters", "name_error"),
    ("no replicas", lambda f: setattr(f.replicas, "value", 0), "replicas",
     "Number of replicas must be greater than 0", "replicas_error"),
    ("too many replicas", lambda f: setattr(f.replicas, "value", 101), "replicas",
     "Number of replicas cannot exceed 100", "replicas_error"),
    ("INFINITE under an hour", lambda f: (setattr(f.timeout_hours, "value", 0),
                                          setattr(f.timeout_minutes, "value", 30)),
     "timeout", "Timeout must be at least 1 hour", "timeout_error"),
    ("SIMPLE with no time", lambda f: (setattr(f.strategy, "value", "SIMPLE"),
                                       setattr(f.timeout_hours, "value", 0)),
     "timeout", "Timeout must be at least 1 minute", "timeout_error"),
    ("over 100 hours", lambda f: setattr(f.timeout_hours, "value", 101), "timeout",
     "Timeout cannot exceed 100 hours", "timeout_error"),
    ("60 minutes", lambda f: setattr(f.timeout_minutes, "value", 60), "timeout",
     "Minutes must be from 0 to 59", "timeout_error"),
    ("negative hours", lambda f: setattr(f.timeout_hours, "value", -1), "timeout",
     "Hours must not be negative", "timeout_error"),
    ("cron with a bad minute", lambda f: (setattr(f.strategy, "value", "SCHEDULED"),
                                          setattr(f.schedule, "value", "61 * * * *")),
     "schedule", "is not a valid cron expression", "schedule_error"),
    ("cron with four fields", lambda f: (setattr(f.strategy, "value", "SCHEDULED"),
                                         setattr(f.schedule, "value", "0 0 * *")),
     "schedule", "exactly 5 fields", "schedule_error"),
    ("cron that never fires", lambda f: (setattr(f.strategy, "value", "SCHEDULED"),
                                         setattr(f.schedule, "value", "0 0 31 2 *")),
     "schedule", "never fires", "schedule_error"),
    ("rotation too close to the timeout", lambda f: setattr(f.rotation, "value", 355),
     "rotation", "at least 10 minutes less than the timeout (360 min)", "rotation_error"),
    ("negative rotation", lambda f: setattr(f.rotation, "value", -5), "rotation",
     "Rotation must not be negative", "rotation_error"),
    ("unknown market slug", lambda f: setattr(f.market_ref, "value", "nvidia-9999"), "market",
     "unknown market 'nvidia-9999'", "market_error"),
    ("JSON syntax error", lambda f: (setattr(f.source, "value", "json"),
                                     setattr(f.job_json, "value", '{"v": "0.1",\n "ops": [}')),
     "job_json", "Line 2, column 10", "job_json_error"),
    ("JSON that is not an object", lambda f: (setattr(f.source, "value", "json"),
                                              setattr(f.job_json, "value", "[1, 2]")),
     "job_json", "Job definition must be an object", "job_json_error"),
    ("empty JSON", lambda f: (setattr(f.source, "value", "json"),
                              setattr(f.job_json, "value", " ")),
     "job_json", "Job definition is required", "job_json_error"),
    ("JSON without an image", _bad_json_missing_image, "job_json", "ops[0].args.image: is required",
     "job_json_error"),
    ("empty image", lambda f: (setattr(f.source, "value", "image"),
                               setattr(f.image, "value", "")),
     "image", "Image is required", "image_error"),
    ("template port out of range",
     lambda f: setattr(f._template_fields["jupyter"].controls["port"], "value", 70000),
     "template.port", "Port must be a port number from 1 to 65535", ""),
    ("template env line without =",
     lambda f: (setattr(f.template, "value", "container"),
                setattr(f._template_fields["container"].controls["env"], "value", "A=1\nBROKEN")),
     "template.env", "environment line 2: expected KEY=VALUE", ""),
    ("template with an empty image", _comfyui_without_image, "template.image",
     "Image is required", ""),
    ("a new vault cannot be started", lambda f: setattr(f.vault, "value", "new"), "vault",
     "A new vault starts empty", "vault_error"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("setup", "field", "message", "error_widget"),
    [pytest.param(*case[1:], id=case[0]) for case in REFUSALS],
)
def test_invalid_input_is_shown_beside_its_field_and_nothing_is_sent(
    form: CreateDeploymentForm,
    client: NosanaClient,
    transport: CountingTransport,
    setup: Callable[[CreateDeploymentForm], None],
    field: str,
    message: str,
    error_widget: str,
) -> None:
    deployments = deployment_count(client)
    ready(form)
    assert form.errors == {}
    setup(form)
    assert message in form.errors.get(field, ""), form.errors
    if error_widget:
        assert message in getattr(form, error_widget).message
    else:  # a template parameter: its own line under the parameter
        template = form._template_fields[form.template.value]
        assert message in template.errors[field.split(".", 1)[1]].message
    refused(form, transport, field)
    assert deployment_count(client) == deployments


def test_no_market_is_refused(form: CreateDeploymentForm, transport: CountingTransport) -> None:
    assert form.errors == {"market": "Please select a market"}
    refused(form, transport, "market")


# -- confirmation --------------------------------------------------------------------------


def test_cancelling_the_confirmation_sends_nothing(
    form: CreateDeploymentForm, client: NosanaClient, transport: CountingTransport
) -> None:
    deployments = deployment_count(client)
    creates = transport.count("POST", CREATE_PATH)
    ready(form, strategy="SIMPLE", replicas=2)
    form.review_button.click()
    form.wait(15)
    assert form.confirm.pending
    text = form.confirm.message.value
    estimate = form.estimate
    assert estimate is not None
    assert f"{estimate.nos_with_fee.normalize():f} NOS" in text
    assert "NVIDIA 3060" in text
    assert "2 replicas" in text
    assert "escrows" in text
    assert form.review_button.disabled  # one question at a time
    form.confirm.cancel_button.click()
    assert not form.confirm.pending
    assert "Cancelled: nothing was sent" in form.status.value
    assert form.last_error is None
    assert not form.review_button.disabled
    assert transport.count("POST", CREATE_PATH) == creates
    assert deployment_count(client) == deployments


def test_changing_the_form_while_asked_withdraws_the_question(
    form: CreateDeploymentForm, transport: CountingTransport
) -> None:
    creates = transport.count("POST", CREATE_PATH)
    ready(form, strategy="SIMPLE")
    form.review_button.click()
    form.wait(15)
    assert form.confirm.pending
    confirm = form.confirm.confirm_button
    form.replicas.value = 3  # what was reviewed is not what would be sent any more
    assert not form.confirm.pending
    assert "review it again" in form.status.value
    confirm.click()  # a stale click on the hidden button does nothing
    form.wait(15)
    assert transport.count("POST", CREATE_PATH) == creates
    assert not form.review_button.disabled


def test_create_only_with_a_new_vault(form: CreateDeploymentForm, client: NosanaClient) -> None:
    shared = client.vaults.create().address
    ready(form, start=False, strategy="SIMPLE")
    form.vault.value = "new"
    assert form.errors == {}
    assert "new, empty vault" in form.funds.value
    deployment = submit(form)
    state = client.deployments.get(deployment.id).state
    assert state.status == "DRAFT"
    assert state.vault != shared


# -- funds ------------------------------------------------------------------------------------


def test_short_funds_disable_start_and_the_top_up_shortcut_fixes_it(
    sandbox: SandboxHandle,
) -> None:
    owner = funded_wallet(sandbox)
    client, transport = counting_client(sandbox, owner)
    view = CreateDeploymentForm(client)
    view.wait(15)
    ready(view, strategy="SIMPLE", replicas=2)
    assert view.vault.value == "shared"  # no vault yet: the service makes one on first use
    assert "Insufficient vault balance" in view.funds.value
    assert view.topup_shortcut.layout.display is None
    assert view.review_button.disabled
    assert view.errors == {}  # every field is fine; only the money is missing
    view.review_button.click()
    assert isinstance(view.last_error, ValidationError)
    assert transport.count("POST", CREATE_PATH) == 0
    # creating a DRAFT spends nothing, so it stays allowed
    view.start.value = False
    assert not view.review_button.disabled
    assert "You can still create a DRAFT" in view.funds.value
    view.start.value = True

    panel = view.open_topup()
    assert isinstance(panel, VaultWidget)
    panel.wait(15)
    estimate = view.estimate
    assert estimate is not None
    assert panel.topup_nos.value == f"{estimate.nos_with_fee.normalize():f}"
    assert panel.topup_sol.value == "0.01"
    panel.topup_button.click()
    panel.confirm.confirm_button.click()
    panel.wait(15)
    assert panel.last_error is None, panel.status.value
    assert view.vault.value == panel.address  # the new shared vault is now the choice
    assert "enough to start" in view.funds.value
    assert not view.review_button.disabled
    deployment = submit(view)
    assert deployment.state.vault == panel.address
    assert deployment.state.status in ("STARTING", "RUNNING")
    view.close()
    client.close()


def test_funds_are_read_again_before_confirming(
    sandbox: SandboxHandle,
) -> None:
    owner = funded_wallet(sandbox)
    client, transport = counting_client(sandbox, owner)
    vault = client.vaults.create()
    vault.topup(sol="0.02", nos="1")
    view = CreateDeploymentForm(client)
    view.wait(15)
    ready(view, strategy="SIMPLE")
    assert "enough to start" in view.funds.value
    vault.withdraw()  # behind the form's back
    view.review_button.click()
    view.wait(15)
    assert isinstance(view.last_error, InsufficientFundsError)
    assert not view.confirm.pending
    assert transport.count("POST", CREATE_PATH) == 0
    view.close()
    client.close()


# -- waiting for RUNNING ------------------------------------------------------------------


class _NeverRunning:
    """A real deployment whose wait for RUNNING never succeeds (the service is slow)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def wait_until(self, status: Any, timeout: float = 1.0, **_kwargs: Any) -> Any:
        time.sleep(min(timeout, 0.05))
        raise WaitTimeoutError("still starting", status="STARTING", wanted=("RUNNING",))


class _SlowStartClient:
    """Delegates to a real client; its creates return deployments that never get RUNNING."""

    def __init__(self, real: NosanaClient) -> None:
        self._real = real
        self.deployments = self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def create(self, **kwargs: Any) -> Any:
        return _NeverRunning(self._real.deployments.create(**kwargs))


def test_waiting_for_running_can_be_cancelled(client: NosanaClient) -> None:
    view = CreateDeploymentForm(_SlowStartClient(client))
    view.wait(15)
    ready(view, strategy="SIMPLE", wait_running=True)
    view.review_button.click()
    view.wait(15)
    view.confirm.confirm_button.click()
    deadline = time.monotonic() + 10
    while "waiting for RUNNING" not in view.status.value:
        assert time.monotonic() < deadline, view.status.value
        time.sleep(0.02)
    assert not view.cancel_button.disabled
    assert view.review_button.disabled
    view.cancel_button.click()
    view.wait(15)
    assert isinstance(view.last_error, OperationCancelled)
    assert view.deployment is not None
    assert f"Deployment {view.deployment.id} was created" in view.status.value
    assert view.cancel_button.disabled
    view.close()


def test_waiting_for_running_gives_up_with_a_typed_error(client: NosanaClient) -> None:
    view = CreateDeploymentForm(_SlowStartClient(client), wait_timeout=0.2)
    view.wait(15)
    ready(view, strategy="SIMPLE", wait_running=True)
    view.review_button.click()
    view.wait(15)
    view.confirm.confirm_button.click()
    view.wait(15)
    assert isinstance(view.last_error, WaitTimeoutError)
    assert "still STARTING after 0.2 s" in str(view.last_error)
    assert "was created" in view.status.value
    view.close()


def test_bad_constructor_arguments_are_typed_errors(client: NosanaClient) -> None:
    with pytest.raises(ValidationError, match="strategy must be one of"):
        CreateDeploymentForm(client, strategy="FOREVER")
    with pytest.raises(ValidationError, match="unknown template"):
        CreateDeploymentForm(client, template="nope")
    with pytest.raises(ValidationError, match="wait_timeout"):
        CreateDeploymentForm(client, wait_timeout=0)


def test_a_market_given_at_construction_is_selected_once_loaded(client: NosanaClient) -> None:
    view = CreateDeploymentForm(client, market="nvidia-3090", strategy="SIMPLE", name="given")
    view.wait(15)
    chosen = view.selected_market
    assert chosen is not None
    assert chosen.name == "NVIDIA 3090"
    assert view.name.value == "given"
    assert (view.timeout_hours.value, view.timeout_minutes.value) == (1, 0)
    view.close()


# -- other clients --------------------------------------------------------------------------


def test_an_api_key_client_pays_with_credits(sandbox: SandboxHandle, wallet: Wallet) -> None:
    key = "nos_test_0123456789abcdefghijklmnop"
    client, _transport = counting_client(sandbox, wallet, api_key=key)
    view = CreateDeploymentForm(client)
    view.wait(15)
    assert view.vault.options == (("Credits (API key)", "credits"),)
    ready(view, strategy="SIMPLE")
    # a key with no credits: the check says what a start needs, and the start is refused
    assert "Not enough credits" in view.funds.value
    assert "$0.00 available" in view.funds.value
    assert view.review_button.disabled
    view.start.value = False
    assert "You can still create a DRAFT" in view.funds.value
    assert not view.review_button.disabled

    reply = httpx.post(f"{sandbox.api_url}/_sandbox/credits", json={"api_key": key, "usd": "25"})
    reply.raise_for_status()
    view.reload()
    view.wait(15)
    view.start.value = True
    assert "✓ Paid with credits (API key): $25.00 available, enough to start" in view.funds.value
    assert not view.review_button.disabled
    view.timeout_hours.value, view.timeout_minutes.value = 0, 30
    assert view.errors["timeout"] == "Timeout must be at least 1 hour when paying with credits"
    assert secret_hits(view, wallet, api_key=key) == []
    view.close()
    client.close()


def test_the_credits_check_says_when_the_balance_cannot_be_read(
    sandbox: SandboxHandle, wallet: Wallet
) -> None:
    key = "nos_test_unreadable_balance_0123456789"
    client, _transport = counting_client(sandbox, wallet, api_key=key)
    restore = {"error_rate": sandbox.faults.error_rate, "apply_to": list(sandbox.faults.apply_to)}
    sandbox.faults.configure({"error_rate": 1, "apply_to": ["/api/credits/balance"]})
    try:
        view = CreateDeploymentForm(client)
        view.wait(30)
        ready(view, strategy="SIMPLE")
        assert "Credit balance unavailable" in view.funds.value
        assert "the service checks again at start" in view.funds.value
        assert not view.review_button.disabled  # unknown is not short: the service decides
        view.close()
    finally:
        sandbox.faults.configure(restore)
        client.close()


def test_an_async_client_works_the_same(sandbox: SandboxHandle, wallet: Wallet) -> None:
    client = AsyncNosanaClient(
        local_network(sandbox.api_url, nos_mint=sandbox.nos_mint), wallet, env={}
    )
    view = CreateDeploymentForm(client)
    view.wait(15)
    assert view.last_error is None, view.status.value
    ready(view, strategy="SIMPLE", start=False)
    deployment = submit(view)
    assert deployment.state.status == "DRAFT"
    view.close()
    call(client.aclose())


# -- what the notebook keeps -----------------------------------------------------------------


def test_saved_widget_state_holds_no_key_and_no_trait_holds_the_wallet(
    form: CreateDeploymentForm, wallet: Wallet
) -> None:
    ready(form, strategy="SIMPLE", start=False)
    submit(form)
    form.open_topup().wait(15)
    assert secret_hits(form, wallet) == []
    assert traits_holding(form, (Wallet, NosanaClient, AsyncNosanaClient)) == []
