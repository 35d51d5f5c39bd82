"""Every exception nosana_nb raises, and the mapping from HTTP error responses to them.

No error built here ever holds request headers: an ``Authorization`` value is a replayable
credential, so only the method, the URL, the response body and (for a refusal that asks to
come back later) the response's ``Retry-After`` value are kept. Which of these errors are
retried is decided in ``retry_policy``, nowhere else.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:  # the bulk module builds on these errors
    from nosana_nb.core._shared.bulk import BulkResult

__all__ = [
    "ALLOWED_ACTIONS",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "ActionNotAllowedError",
    "ApiKeyVaultError",
    "ArchivedDeploymentError",
    "AuthenticationError",
    "BadRequestError",
    "BulkInterrupted",
    "ConfigError",
    "ConflictError",
    "DeadlineExceededError",
    "DeploymentFailedError",
    "DeploymentNotFoundError",
    "DeploymentWaitError",
    "HistoryNotLoadedError",
    "IncorrectStrategyError",
    "InsufficientCreditsError",
    "InsufficientFundsError",
    "InternalServerError",
    "InvalidStateError",
    "JobNotFoundError",
    "NosanaError",
    "NotFoundError",
    "OperationCancelled",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "RevisionNotFoundError",
    "RowFormatError",
    "SolanaRPCError",
    "StaticImageError",
    "StreamError",
    "StreamIdleError",
    "UnsafeEndpointError",
    "UnsafeWithdrawError",
    "ValidationError",
    "VaultEmptyError",
    "VaultNotFoundError",
    "WaitTimeoutError",
    "WalletError",
    "status_error_from_response",
]

# Longest error detail we keep from a response body; bodies are server text, not ours.
_MAX_DETAIL_CHARS = 500


class NosanaError(Exception):
    """Root of every exception nosana_nb raises."""


class ValidationError(NosanaError, ValueError):
    """An argument was rejected before anything was sent."""

    def __init__(self, message: str, *, argument: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.argument = argument


class UnsafeEndpointError(ValidationError):
    """An endpoint URL that a probe refuses to request: not http(s), or carrying credentials.

    The message never repeats the credentials or the query string.
    """


class ConfigError(NosanaError, ValueError):
    """A network configuration (URL, preset name, environment variable) is unusable."""


class WalletError(NosanaError):
    """Key material could not be loaded, or the wallet cannot do what was asked."""


class StreamError(NosanaError):
    """A server-sent-event stream broke, stalled or sent something unreadable."""


class StaticImageError(NosanaError, RuntimeError):
    """An export could not draw a chart as a picture (kaleido or its browser missing, or failed)."""


class StreamIdleError(StreamError):
    """A stream delivered no event for ``idle_timeout`` seconds (heartbeat comments do not count).

    A server that only pings keeps the connection alive while telling nothing; the watcher
    reopens the stream after this, a direct iterator raises it.
    """

    def __init__(self, message: str, *, idle_timeout: float) -> None:
        super().__init__(message)
        self.idle_timeout = idle_timeout


class OperationCancelled(NosanaError):
    """The user cancelled a long operation (from a widget's Cancel button, say)."""


class ActionNotAllowedError(NosanaError):
    """The deployment's status does not allow the action, so it was not sent.

    Decided from the service's state machine (``ALLOWED_ACTIONS``) before any request, where
    the service itself would answer HTTP 500 ``Deployment is in the incorrect state.``.
    ``allowed_statuses`` are the statuses in which the action would be accepted.
    """

    def __init__(
        self,
        message: str,
        *,
        deployment: str,
        action: str,
        status: str,
        allowed_statuses: tuple[str, ...],
    ) -> None:
        super().__init__(message)
        self.message = message
        self.deployment = deployment
        self.action = action
        self.status = status
        self.allowed_statuses = allowed_statuses


class BulkInterrupted(KeyboardInterrupt):
    """A blocking bulk run was interrupted (Ctrl-C, or a notebook's Interrupt the kernel).

    Still a ``KeyboardInterrupt``, so it stops the program as one would, and ``except
    Exception`` (or ``except NosanaError``) does not catch it. Nothing new was sent after the
    interrupt, and the requests already in flight were let finish first, so ``result`` tells
    exactly what was done: rows that finished carry their outcome, the rest are ``cancelled``
    (never sent). In a notebook, after the interrupted cell, ``sys.last_value.result`` holds it
    (IPython keeps the last uncaught exception there). An async run's cancellation is not
    replaced (asyncio needs the very ``CancelledError``): its ``on_result`` callback has seen
    every row that finished.
    """

    def __init__(self, *args: object, result: BulkResult) -> None:
        super().__init__(*args)
        self.result = result

    def __str__(self) -> str:
        given = super().__str__()
        return given or f"{self.result.describe()} Interrupted; `.result` has every row."


class HistoryNotLoadedError(NosanaError):
    """``state.events``/``state.jobs`` of an async handle were read before being loaded.

    A sync handle fetches them on first read; an async one cannot await inside an attribute
    read, so ``await deployment.refresh()`` loads them first.
    """


class InsufficientFundsError(NosanaError):
    """Not enough SOL or NOS for what was asked; amounts are in whole units when known."""

    PREFIX = "Insufficient funds: "

    def __init__(
        self,
        message: str,
        *,
        required_nos: Decimal | None = None,
        available_nos: Decimal | None = None,
        required_sol: Decimal | None = None,
        available_sol: Decimal | None = None,
        required_credits: Decimal | None = None,
        available_credits: Decimal | None = None,
    ) -> None:
        text = message if message.startswith(self.PREFIX) else self.PREFIX + message
        super().__init__(text)
        self.message = text
        self.required_nos = required_nos
        self.available_nos = available_nos
        self.required_sol = required_sol
        self.available_sol = available_sol
        self.required_credits = required_credits
        """USD of credits an API-key deployment would reserve (credit-paid checks only)."""
        self.available_credits = available_credits


class APIError(NosanaError):
    """A request to a Nosana service failed."""

    def __init__(self, message: str, *, method: str, url: str, body: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.body = body


class APIConnectionError(APIError):
    """The service could not be reached, or the connection broke.

    ``request_sent`` is False when the failure came before any byte of the request left (a
    refused connection, a DNS failure, a connect timeout): the service cannot have acted on it,
    so even a POST may be sent again. True means it may have arrived and been applied.
    ``unreachable`` is True when nothing listens at the address or its name does not resolve:
    a failure that does not heal within a retry's wait, so it is reported at once.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        body: str | None = None,
        request_sent: bool = True,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message, method=method, url=url, body=body)
        self.request_sent = request_sent
        self.unreachable = unreachable


class APITimeoutError(APIConnectionError):
    """The service did not answer in time."""


class DeadlineExceededError(APITimeoutError):
    """A request (its retries included) outlived its overall deadline.

    httpx's timeouts bound each read; a server trickling one byte per read never trips them.
    ``deadline`` is the limit in seconds (the client option ``deadline``).
    """

    def __init__(self, message: str, *, method: str, url: str, deadline: float) -> None:
        super().__init__(message, method=method, url=url, request_sent=True)
        self.deadline = deadline


class APIResponseValidationError(APIError):
    """A 2xx response whose body is not what the API promises (bad JSON, wrong shape)."""


class ResponseTooLargeError(APIResponseValidationError):
    """A reply body, or one event of a stream, is larger than the client accepts.

    ``limit`` is the client option ``max_response_bytes``; the client stopped reading there, so
    a server that never ends its body cannot fill the kernel's memory.
    """

    def __init__(self, message: str, *, method: str, url: str, limit: int) -> None:
        super().__init__(message, method=method, url=url)
        self.limit = limit


class UnsafeWithdrawError(APIResponseValidationError):
    """The withdraw transaction from the service does something other than pay the wallet."""


class APIStatusError(APIError):
    """The service answered with a non-2xx status.

    ``retry_after`` is the reply's ``Retry-After`` header as sent (seconds or an HTTP date),
    or None.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status_code: int,
        body: str | None,
        error_text: str,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message, method=method, url=url, body=body)
        self.status_code = status_code
        self.error_text = error_text
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """HTTP 400."""


class AuthenticationError(APIStatusError):
    """HTTP 401: the wallet signature or API key was refused."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403."""


class NotFoundError(APIStatusError):
    """HTTP 404."""


class ConflictError(APIStatusError):
    """HTTP 409."""


class PayloadTooLargeError(APIStatusError):
    """HTTP 413: the body is above the service's 1 MiB limit."""


class RateLimitError(APIStatusError):
    """HTTP 429."""


class InternalServerError(APIStatusError):
    """HTTP 5xx without a more specific meaning."""


class DeploymentNotFoundError(NotFoundError):
    """The deployment does not exist or belongs to another wallet."""


class VaultNotFoundError(NotFoundError):
    """The vault does not exist or belongs to another wallet."""


class JobNotFoundError(NotFoundError):
    """The job does not exist in this deployment."""


class InvalidStateError(APIStatusError):
    """The action is not allowed in the deployment's current status (the service answers 500)."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status_code: int,
        body: str | None,
        error_text: str,
        retry_after: str | None = None,
        status: str | None = None,
        action: str | None = None,
        allowed_actions: tuple[str, ...] = (),
    ) -> None:
        self.status = status
        self.action = action
        self.allowed_actions = allowed_actions
        self.base_message = message
        full = _describe_state(message, status=status, action=action, allowed=allowed_actions)
        super().__init__(
            full,
            method=method,
            url=url,
            status_code=status_code,
            body=body,
            error_text=error_text,
            retry_after=retry_after,
        )

    def with_context(self, *, status: str | None = None, action: str | None = None) -> Self:
        """A copy of this error (same class) naming the deployment's status and the action tried."""
        new_status = status if status is not None else self.status
        allowed = ALLOWED_ACTIONS.get(new_status, ()) if new_status else self.allowed_actions
        clone = type(self)(
            self.base_message,
            method=self.method,
            url=self.url,
            status_code=self.status_code,
            body=self.body,
            error_text=self.error_text,
            retry_after=self.retry_after,
            status=new_status,
            action=action if action is not None else self.action,
            allowed_actions=allowed,
        )
        clone.__cause__ = self.__cause__
        return clone


class ArchivedDeploymentError(InvalidStateError):
    """Archived deployments accept no changes except a rename."""


class IncorrectStrategyError(BadRequestError):
    """The action needs another strategy (e.g. a schedule on a non-SCHEDULED deployment)."""


class InsufficientCreditsError(BadRequestError):
    """HTTP 400 ``Insufficient credits. Available: $X, Required: $Y`` from a credit-paid route.

    An API key's credits (USD) cannot cover a jobs-API listing or extension
    (docs/wire-contract.md#credits). ``available`` and ``required`` are the dollar amounts the
    service named, as Decimals, or None when its message did not carry them. A subclass of
    BadRequestError, so code catching that still catches this.
    """

    PREFIX = "Insufficient credits"

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        status_code: int,
        body: str | None,
        error_text: str,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(
            message,
            method=method,
            url=url,
            status_code=status_code,
            body=body,
            error_text=error_text,
            retry_after=retry_after,
        )
        self.available = _dollars_after("Available", error_text)
        self.required = _dollars_after("Required", error_text)

    def describe(self) -> str:
        """One line for a person: what was needed, what is left, what to do.

        Returns:
            For example ``"Not enough credits: this needs $0.05 and the API key has $0.01
            available. Add credits to the key, or list fewer or shorter jobs."``.
        """
        if self.required is not None and self.available is not None:
            need = f"this needs ${self.required} and the API key has ${self.available} available"
        else:
            need = "the API key's available credits do not cover this"
        return f"Not enough credits: {need}. Add credits to the key, or list fewer or shorter jobs."


def _dollars_after(label: str, text: str) -> Decimal | None:
    """The amount in ``<label>: $1,234.56`` within the service's text, or None."""
    found = re.search(rf"\b{label}:\s*\$\s*([0-9][0-9,]*(?:\.[0-9]+)?)", text)
    return None if found is None else Decimal(found.group(1).replace(",", ""))


class RevisionNotFoundError(BadRequestError):
    """The requested revision does not exist."""


class VaultEmptyError(APIStatusError):
    """There is nothing in the vault to withdraw."""


class ApiKeyVaultError(BadRequestError):
    """Vaults funded through a Nosana API key cannot be withdrawn from."""


class DeploymentWaitError(NosanaError):
    """``wait_until`` ended without reaching the wanted status; ``.status`` is the last seen."""

    def __init__(self, message: str, *, status: str | None, wanted: tuple[str, ...]) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.wanted = wanted


class DeploymentFailedError(DeploymentWaitError):
    """The deployment landed in ERROR or ARCHIVED while waiting for another status."""


class WaitTimeoutError(DeploymentWaitError, TimeoutError):
    """The wanted status was not reached in time."""


class SolanaRPCError(NosanaError):
    """The RPC node answered with a JSON-RPC error object, or a transaction failed on chain.

    ``logs`` holds the program logs of a failed preflight simulation (error -32002).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        rpc_method: str | None = None,
        data: Any = None,
    ) -> None:
        self.code = code
        self.message = message
        self.rpc_method = rpc_method
        self.data = data
        logs = data.get("logs") if isinstance(data, dict) else None
        self.logs: tuple[str, ...] = tuple(str(line) for line in logs or ())
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f"Solana RPC {self.rpc_method} failed" if self.rpc_method else "Solana RPC failed"
        code = f" (code {self.code})" if self.code is not None else ""
        text = f"{where}: {self.message}{code}"
        if self.logs:
            text += "\nprogram logs:\n  " + "\n  ".join(self.logs[-8:])
        return text


class RowFormatError(NosanaError, ValueError):
    """A stored status-history row is not a row the watcher wrote (a damaged journal line)."""


# Which actions the deployment manager accepts in each status (its state machine: a refused
# action is answered with HTTP 500 "Deployment is in the incorrect state."). Action names are
# the route names of the wire API.
_UPDATES = (
    "update-name",
    "update-replica-count",
    "update-timeout",
    "update-schedule",
    "create-revision",
    "update-active-revision",
)
ALLOWED_ACTIONS: dict[str, tuple[str, ...]] = {
    "DRAFT": ("start", *_UPDATES),
    "ERROR": ("start", "stop", *_UPDATES),
    "STARTING": _UPDATES,
    "RUNNING": ("stop", *_UPDATES),
    "STOPPING": _UPDATES,
    "STOPPED": ("start", "archive", "delete", *_UPDATES),
    "INSUFFICIENT_FUNDS": ("start", "stop", *_UPDATES),
    "ARCHIVED": ("update-name",),
}


def _describe_state(
    message: str, *, status: str | None, action: str | None, allowed: tuple[str, ...]
) -> str:
    parts = [message]
    if action and status:
        parts.append(f"Cannot {action} a deployment that is {status}.")
    elif status:
        parts.append(f"The deployment is {status}.")
    elif action:
        parts.append(f"Cannot {action} the deployment in its current status.")
    if status:
        if allowed:
            parts.append(f"Allowed in {status}: {', '.join(allowed)}.")
        else:
            parts.append(f"Nothing is allowed in {status}.")
    return " ".join(parts)


# The service's exact domain error messages -> (class, required HTTP status or None). A None
# status means the service sends that message with whatever status its handler chose (500 for
# the state-machine refusals), so the message alone decides the class.
_DOMAIN_ERRORS: dict[str, tuple[type[APIStatusError], int | None]] = {
    "Deployment not found.": (DeploymentNotFoundError, 404),
    "Vault not found.": (VaultNotFoundError, 404),
    "Job not found": (JobNotFoundError, 404),
    "Job not found.": (JobNotFoundError, 404),
    "Deployment is in the incorrect state.": (InvalidStateError, None),
    "Cannot modify an archived deployment.": (ArchivedDeploymentError, None),
    "Deployment is using an incorrect strategy.": (IncorrectStrategyError, 400),
    "The specified revision does not exist.": (RevisionNotFoundError, 400),
    "Vault has no funds to withdraw.": (VaultEmptyError, None),
    "Cannot withdraw from a vault containing a Nosana API key.": (ApiKeyVaultError, 400),
}

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    429: RateLimitError,
}


def _decode(body: bytes | str) -> str:
    return body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body


def _error_detail(text: str, content_type: str | None) -> str:
    """The most specific error string in a body: Fastify's message, else ``error``, else text."""
    stripped = text.strip()
    looks_json = stripped.startswith(("{", "[", '"'))
    if looks_json or (content_type and "json" in content_type.lower()):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            return stripped[:_MAX_DETAIL_CHARS]
        if isinstance(parsed, dict):
            for key in ("message", "error"):
                value = parsed.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()[:_MAX_DETAIL_CHARS]
            return ""
        if isinstance(parsed, str):
            return parsed.strip()[:_MAX_DETAIL_CHARS]
        return stripped[:_MAX_DETAIL_CHARS]
    return stripped[:_MAX_DETAIL_CHARS]


def _reason(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "HTTP error"


def _status_class(status_code: int, detail: str) -> type[APIStatusError]:
    if status_code == 400 and detail.startswith(InsufficientCreditsError.PREFIX):
        return InsufficientCreditsError  # the message carries the amounts: no exact match
    domain = _DOMAIN_ERRORS.get(detail)
    if domain is not None:
        cls, required_status = domain
        if required_status is None or required_status == status_code:
            return cls
    if status_code in _STATUS_CLASSES:
        return _STATUS_CLASSES[status_code]
    if status_code >= 500:
        return InternalServerError
    return APIStatusError


def status_error_from_response(
    status_code: int,
    body: bytes | str,
    content_type: str | None,
    *,
    method: str,
    url: str,
    retry_after: str | None = None,
) -> APIStatusError:
    """Build the typed error for a non-2xx response from its status and body.

    ``retry_after`` is the reply's ``Retry-After`` header, kept on the error for the retry
    policy (and for a caller who wants to wait it out).
    """
    text = _decode(body)
    detail = _error_detail(text, content_type)
    cls = _status_class(status_code, detail)
    summary = detail or _reason(status_code)
    message = f"{summary} (HTTP {status_code} from {method.upper()} {url})"
    if cls is AuthenticationError:
        message += ". The service refused the wallet signature or API key."
    return cls(
        message,
        method=method.upper(),
        url=url,
        status_code=status_code,
        body=text or None,
        error_text=detail,
        retry_after=retry_after or None,
    )
