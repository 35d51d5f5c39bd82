"""The background-operation machinery every widget uses: outcome as widget values, buttons
disabled while in flight and restored after, cancellation of threads and coroutines."""

from __future__ import annotations

import asyncio
import threading

import ipywidgets as widgets
import pytest

from nosana_nb.core.errors import (
    InsufficientCreditsError,
    ValidationError,
    status_error_from_response,
)
from nosana_nb.widgets._base import (
    CancelToken,
    NosanaWidget,
    OperationCancelled,
    badge_html,
    status_color,
)


def test_success_lands_in_last_result_and_restores_the_button() -> None:
    view = NosanaWidget(client=None)
    button = widgets.Button(description="Go")
    release = threading.Event()

    def work(token: CancelToken) -> int:
        release.wait(5)
        return 42

    view.run("Going", work, disable=[button], success_text=lambda r: f"got {r}")
    assert button.disabled
    assert view.busy
    assert "Going" in view.status.value
    release.set()
    assert view.wait(5) == 42
    assert not button.disabled
    assert not view.busy
    assert view.last_error is None
    assert "got 42" in view.status.value


def test_a_typed_error_is_kept_and_shown() -> None:
    view = NosanaWidget(client=None)
    error = ValidationError("replicas must be >= 1", argument="replicas")

    def work(token: CancelToken) -> None:
        raise error

    view.run("Starting", work)
    view.wait(5)
    assert view.last_error is error
    assert "ValidationError" in view.status.value
    assert view.last_result is None


def test_running_out_of_credits_reads_as_what_to_do() -> None:
    view = NosanaWidget(client=None)
    # the reply the credit routes send (docs/wire-contract.md#credits)
    body = '{"error": "Insufficient credits. Available: $0.01, Required: $2.40"}'
    error = status_error_from_response(
        400, body, "application/json", method="post", url="http://127.0.0.1:1/api/jobs/list"
    )
    assert isinstance(error, InsufficientCreditsError)

    def work(token: CancelToken) -> None:
        raise error

    view.run("Listing", work)
    view.wait(5)
    assert view.last_error is error
    shown = view.status.value
    assert "Not enough credits: this needs $2.40 and the API key has $0.01 available." in shown
    assert "Add credits to the key" in shown
    assert "HTTP 400" not in shown  # no wire detail for a person
    assert "127.0.0.1" not in shown


def test_a_button_disabled_before_the_operation_stays_disabled() -> None:
    view = NosanaWidget(client=None)
    button = widgets.Button(disabled=True)
    view.run("Noop", lambda token: None, disable=[button])
    view.wait(5)
    assert button.disabled


def test_cancelling_a_thread_operation() -> None:
    view = NosanaWidget(client=None)

    def work(token: CancelToken) -> None:
        for _ in range(500):
            token.sleep(0.01)

    view.run("Waiting", work)
    view.cancel()
    view.wait(5)
    assert isinstance(view.last_error, OperationCancelled)
    assert "Cancelled" in view.status.value


def test_cancelling_a_coroutine_operation() -> None:
    view = NosanaWidget(client=None)
    started = threading.Event()

    async def work(token: CancelToken) -> None:
        started.set()
        await asyncio.sleep(30)

    view.run("Streaming", work)
    assert started.wait(5)
    view.cancel()
    view.wait(5)
    assert isinstance(view.last_error, OperationCancelled)
    assert "Cancelled" in view.status.value


def test_last_result_and_error_are_not_synced_to_the_browser() -> None:
    view = NosanaWidget(client=None)
    view.run("Secret-holding result", lambda token: {"secret": "s3cr3t-marker"})
    view.wait(5)
    state = view.get_state()
    assert "last_result" not in state
    assert "last_error" not in state
    assert "s3cr3t-marker" not in str(state)


@pytest.mark.parametrize(
    ("status", "color"), [("RUNNING", "#0066FF"), ("error", "#FF4D4F"), ("???", "#B5B5B5")]
)
def test_status_colours_follow_the_dashboard(status: str, color: str) -> None:
    assert status_color(status) == color
    assert color in badge_html(status)


def test_badges_escape_their_text() -> None:
    assert "<script>" not in badge_html("<script>")
