"""Error tree and the mapping from HTTP error responses (wire-contract §2, §11)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from nosana_nb.core import errors as E
from nosana_nb.core.errors import ALLOWED_ACTIONS, status_error_from_response

URL = "https://dm.example/deployments/abc/start"


def _map(
    status: int, body: bytes | str, content_type: str | None = "application/json"
) -> E.APIStatusError:
    return status_error_from_response(status, body, content_type, method="post", url=URL)


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, E.BadRequestError),
        (401, E.AuthenticationError),
        (403, E.PermissionDeniedError),
        (404, E.NotFoundError),
        (409, E.ConflictError),
        (413, E.PayloadTooLargeError),
        (429, E.RateLimitError),
        (500, E.InternalServerError),
        (502, E.InternalServerError),
        (503, E.InternalServerError),
        (504, E.InternalServerError),
        (418, E.APIStatusError),
        (302, E.APIStatusError),
    ],
)
def test_status_codes_map_to_classes(status: int, cls: type[E.APIStatusError]) -> None:
    err = _map(status, _json({"error": "something"}))
    assert type(err) is cls
    assert err.status_code == status
    assert err.error_text == "something"
    assert err.method == "POST"
    assert err.url == URL
    assert f"HTTP {status}" in str(err)


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (404, "Deployment not found.", E.DeploymentNotFoundError),
        (404, "Vault not found.", E.VaultNotFoundError),
        (404, "Job not found", E.JobNotFoundError),
        (404, "Job not found.", E.JobNotFoundError),
        (500, "Deployment is in the incorrect state.", E.InvalidStateError),
        (500, "Cannot modify an archived deployment.", E.ArchivedDeploymentError),
        (400, "Deployment is using an incorrect strategy.", E.IncorrectStrategyError),
        (400, "The specified revision does not exist.", E.RevisionNotFoundError),
        (500, "Vault has no funds to withdraw.", E.VaultEmptyError),
        (
            400,
            "Cannot withdraw from a vault containing a Nosana API key.",
            E.ApiKeyVaultError,
        ),
        (500, "Ops something went wrong, please again.", E.InternalServerError),
        (500, "Internal Server Error", E.InternalServerError),
    ],
)
def test_domain_messages_pick_domain_classes(
    status: int, message: str, cls: type[E.APIStatusError]
) -> None:
    err = _map(status, _json({"error": message}))
    assert type(err) is cls
    assert err.error_text == message
    assert str(err).startswith(message)


def test_domain_subclasses_keep_their_status_family() -> None:
    assert issubclass(E.DeploymentNotFoundError, E.NotFoundError)
    assert issubclass(E.ArchivedDeploymentError, E.InvalidStateError)
    assert issubclass(E.IncorrectStrategyError, E.BadRequestError)
    assert issubclass(E.APITimeoutError, E.APIConnectionError)
    assert issubclass(E.ValidationError, ValueError)
    assert issubclass(E.ConfigError, ValueError)
    for cls in (E.APIError, E.WalletError, E.StreamError, E.InsufficientFundsError):
        assert issubclass(cls, E.NosanaError)


def test_not_found_message_with_wrong_status_is_not_a_not_found() -> None:
    err = _map(500, _json({"error": "Deployment not found."}))
    assert type(err) is E.InternalServerError


def test_fastify_body_prefers_message() -> None:
    body = {
        "statusCode": 400,
        "code": "FST_ERR_VALIDATION",
        "error": "Bad Request",
        "message": "body/timeout must be >= 60",
    }
    err = _map(400, _json(body))
    assert type(err) is E.BadRequestError
    assert err.error_text == "body/timeout must be >= 60"
    assert "body/timeout must be >= 60" in str(err)
    assert err.body == json.dumps(body)


def test_fastify_stream_error_with_domain_message() -> None:
    body = {
        "statusCode": 500,
        "error": "Internal Server Error",
        "message": "Authorization has expired.",
    }
    err = _map(500, _json(body))
    assert type(err) is E.InternalServerError
    assert err.error_text == "Authorization has expired."


@pytest.mark.parametrize("text", ["Unauthorized", "Unauthorized, missing or invalid headers"])
def test_plain_text_401(text: str) -> None:
    err = _map(401, text.encode(), "text/plain; charset=utf-8")
    assert type(err) is E.AuthenticationError
    assert err.error_text == text
    assert "refused the wallet signature" in str(err)


def test_empty_object_body_falls_back_to_reason() -> None:
    err = _map(500, b"{}")
    assert type(err) is E.InternalServerError
    assert err.error_text == ""
    assert str(err).startswith("Internal Server Error (HTTP 500")


def test_empty_and_garbage_bodies() -> None:
    empty = _map(503, b"", None)
    assert empty.error_text == ""
    assert empty.body is None
    assert "Service Unavailable" in str(empty)
    garbage = _map(502, b"{not json", "application/json")
    assert garbage.error_text == "{not json"
    binary = _map(500, b"\xff\xfe\x00", None)
    assert isinstance(binary.error_text, str)


def test_text_body_is_truncated_in_detail_but_kept_in_body() -> None:
    big = "x" * 5000
    err = _map(500, big, "text/html")
    assert len(err.error_text) == 500
    assert err.body == big


def test_invalid_state_with_context_names_status_and_allowed_actions() -> None:
    err = _map(500, _json({"error": "Deployment is in the incorrect state."}))
    assert isinstance(err, E.InvalidStateError)
    assert err.status is None
    assert err.allowed_actions == ()
    contextual = err.with_context(status="RUNNING", action="start")
    assert type(contextual) is E.InvalidStateError
    assert contextual is not err
    assert contextual.status == "RUNNING"
    assert contextual.action == "start"
    assert contextual.allowed_actions == ALLOWED_ACTIONS["RUNNING"]
    text = str(contextual)
    assert "Deployment is in the incorrect state." in text
    assert "Cannot start a deployment that is RUNNING" in text
    assert "Allowed in RUNNING: stop" in text
    assert contextual.status_code == 500
    assert contextual.url == URL


def test_archived_with_context_keeps_class() -> None:
    err = _map(500, _json({"error": "Cannot modify an archived deployment."}))
    contextual = err.with_context(status="ARCHIVED", action="update-replica-count")  # type: ignore[attr-defined]
    assert type(contextual) is E.ArchivedDeploymentError
    assert "Allowed in ARCHIVED: update-name." in str(contextual)


def test_with_context_without_status_mentions_action() -> None:
    err = _map(500, _json({"error": "Deployment is in the incorrect state."}))
    assert isinstance(err, E.InvalidStateError)
    assert "Cannot stop the deployment" in str(err.with_context(action="stop"))


def test_allowed_actions_follow_the_state_machine() -> None:
    assert set(ALLOWED_ACTIONS) == {
        "DRAFT",
        "ERROR",
        "STARTING",
        "RUNNING",
        "STOPPING",
        "STOPPED",
        "INSUFFICIENT_FUNDS",
        "ARCHIVED",
    }
    starts = {s for s, actions in ALLOWED_ACTIONS.items() if "start" in actions}
    stops = {s for s, actions in ALLOWED_ACTIONS.items() if "stop" in actions}
    archives = {s for s, actions in ALLOWED_ACTIONS.items() if "archive" in actions}
    assert starts == {"DRAFT", "STOPPED", "ERROR", "INSUFFICIENT_FUNDS"}
    assert stops == {"RUNNING", "ERROR", "INSUFFICIENT_FUNDS"}
    assert archives == {"STOPPED"}
    assert ALLOWED_ACTIONS["ARCHIVED"] == ("update-name",)


def test_insufficient_funds_error() -> None:
    err = E.InsufficientFundsError(
        "need 3 NOS, have 1 NOS", required_nos=Decimal(3), available_nos=Decimal(1)
    )
    assert str(err).startswith("Insufficient funds: need 3 NOS")
    assert err.required_nos == Decimal(3)
    assert err.available_sol is None
    already = E.InsufficientFundsError("Insufficient funds: x")
    assert str(already) == "Insufficient funds: x"


@pytest.mark.parametrize(
    ("text", "available", "required"),
    [
        ("Insufficient credits. Available: $0.01, Required: $12.34", "0.01", "12.34"),
        ("Insufficient credits. Available: $1,234.50, Required: $2,000", "1234.50", "2000"),
        ("Insufficient credits", None, None),  # no amounts: None, still the typed class
        ("Insufficient credits. Available: $abc, Required: $-1", None, None),
        ("Insufficient credits. Available: $NaN, Required: $1e400", None, "1"),
    ],
)
def test_insufficient_credits_reads_the_amounts(
    text: str, available: str | None, required: str | None
) -> None:
    for body in (json.dumps({"error": text}), text):
        err = status_error_from_response(400, body, None, method="post", url="/api/jobs/list")
        assert type(err) is E.InsufficientCreditsError
        assert isinstance(err, E.BadRequestError)
        assert err.available == (None if available is None else Decimal(available))
        assert err.required == (None if required is None else Decimal(required))
        assert err.describe().startswith("Not enough credits: ")
        assert ("$" in err.describe()) == (available is not None and required is not None)


def test_insufficient_credits_needs_a_400() -> None:
    text = json.dumps({"error": "Insufficient credits. Available: $0, Required: $1"})
    err = status_error_from_response(500, text, None, method="post", url="/api/jobs/list")
    assert type(err) is E.InternalServerError
    other = status_error_from_response(400, '{"error": "Bad things"}', None, method="get", url="/")
    assert type(other) is E.BadRequestError


def test_validation_error_argument() -> None:
    err = E.ValidationError("bad", argument="replicas")
    assert err.argument == "replicas"
    assert str(err) == "bad"
    assert E.ValidationError("bad").argument is None
