"""Pure request builders and reply parsers for every user route of the deployment manager.

Each builder validates its arguments (raising ``ValidationError`` before anything is sent) and
returns a :class:`Route`: method, path relative to the API base URL, query, JSON body and the
parser for the reply. The sync and async resources only send a route and hand back its parse.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, Literal, TypeVar

import pydantic

from nosana_nb.core.errors import APIResponseValidationError, ValidationError
from nosana_nb.core.http import NOT_GIVEN, AsyncHTTP, SyncHTTP
from nosana_nb.core.models import (
    ActiveRevisionUpdate,
    Deployment,
    Event,
    Job,
    JobDetail,
    NameUpdate,
    Page,
    ReplicasUpdate,
    Revision,
    RevisionCreated,
    ScheduleUpdate,
    Stats,
    StatusChange,
    Task,
    TimeoutUpdate,
    VaultInfo,
)
from nosana_nb.core.validation import (
    DeploymentStatus,
    JobState,
    Strategy,
    TaskType,
    check_create_timeout,
    check_cron,
    check_limit,
    check_name,
    check_path_id,
    check_pubkey,
    check_replicas,
    check_status,
    check_strategy,
    check_update_timeout,
    rotation_minutes,
    timeout_minutes,
)

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

Expect = Literal["json", "empty", "text"]
SortOrder = Literal["asc", "desc"]
DEFAULT_LIMIT = 10
DEFAULT_HEADER_MESSAGE = "DEPLOYMENT_HEADER"
BASE = "/deployments"


@dataclass(frozen=True)
class Route(Generic[T]):
    """One request to send and how to read its reply."""

    method: str
    path: str
    parser: Callable[[Any], T] = field(repr=False)
    params: Mapping[str, str] | None = None
    json: Any = NOT_GIVEN
    expect: Expect = "json"
    requires_auth: bool = True

    def parse(self, data: Any) -> T:
        """Parse a 2xx reply; a reply of the wrong shape raises APIResponseValidationError."""
        try:
            return self.parser(data)
        except (pydantic.ValidationError, TypeError, KeyError, ValueError) as exc:
            detail = _describe_parse_error(exc)
            raise APIResponseValidationError(
                f"Unexpected reply from {self.method} {self.path}: {detail}",
                method=self.method,
                url=self.path,
                body=_short(data),
            ) from None


def _describe_parse_error(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        parts = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "<root>"
            parts.append(f"{where}: {err['msg']}")
        more = exc.error_count() - len(parts)
        return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    return str(exc)


def _short(data: Any, limit: int = 500) -> str | None:
    if data is None:
        return None
    text = repr(data)
    return text if len(text) <= limit else text[:limit] + "..."


# --- argument helpers ----------------------------------------------------------------------


def _enum_text(value: Any) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def comma_list(
    value: str | Enum | Iterable[str | Enum] | None,
    *,
    argument: str,
    check: Callable[[Any], Any] | None = None,
) -> str | None:
    """A filter that takes one value or several: ``"A"``, ``Enum.A`` or ``["A", "B"]``."""
    if value is None:
        return None
    if not isinstance(value, str | Enum | Iterable):
        raise ValidationError(
            f"{argument} must be a string or a list of strings, got {type(value).__name__}",
            argument=argument,
        )
    items: list[Any] = [value] if isinstance(value, str | Enum) else list(value)
    texts: list[str] = []
    for item in items:
        if not isinstance(item, str | Enum):
            raise ValidationError(
                f"{argument} must be a string or a list of strings, got {type(item).__name__}",
                argument=argument,
            )
        text = _enum_text(check(item) if check else item).strip()
        if not text or "," in text:
            raise ValidationError(
                f"{argument} values must be non-empty and contain no comma, got {text!r}",
                argument=argument,
            )
        texts.append(text)
    if not texts:
        raise ValidationError(f"{argument} must not be an empty list", argument=argument)
    return ",".join(texts)


def rfc3339(value: datetime | None, *, argument: str) -> str | None:
    """An aware datetime as RFC 3339 UTC (``...Z``); naive datetimes are ambiguous and refused."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(
            f"{argument} must be a datetime, got {type(value).__name__}", argument=argument
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"{argument} must be timezone-aware (e.g. datetime(..., tzinfo=UTC)); "
            "the service compares in UTC",
            argument=argument,
        )
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_sort_order(value: str) -> SortOrder:
    if value == "asc":
        return "asc"
    if value == "desc":
        return "desc"
    raise ValidationError(
        f"sort_order must be 'asc' or 'desc', got {value!r}", argument="sort_order"
    )


def _check_cursor(value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValidationError("cursor must be a non-empty string or None", argument="cursor")
    return value


def _positive_int(value: Any, *, argument: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(
            f"{argument} must be an integer >= {minimum}, got {value!r}", argument=argument
        )
    return value


def _check_bool(value: Any, *, argument: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{argument} must be True or False, got {value!r}", argument=argument)
    return value


def _check_mapping(value: Any, *, argument: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"{argument} must be a mapping (dict), got {type(value).__name__}",
            argument=argument,
        )
    return dict(value)


def _job_state(value: Any) -> JobState:
    try:
        return JobState(_enum_text(value).upper())
    except ValueError:
        allowed = ", ".join(s.value for s in JobState)
        raise ValidationError(
            f"state must be one of {allowed}, got {value!r}", argument="state"
        ) from None


def _task_type(value: Any) -> TaskType:
    try:
        return TaskType(_enum_text(value).upper())
    except ValueError:
        allowed = ", ".join(t.value for t in TaskType)
        raise ValidationError(
            f"task must be one of {allowed}, got {value!r}", argument="task"
        ) from None


def deployment_path(deployment_id: str, suffix: str = "") -> str:
    return f"{BASE}/{check_path_id(deployment_id, argument='deployment_id')}{suffix}"


def _query(**values: str | None) -> dict[str, str]:
    return {key: value for key, value in values.items() if value is not None}


def _page_query(cursor: str | None, limit: int, sort_order: str) -> dict[str, str]:
    return _query(
        cursor=_check_cursor(cursor),
        limit=str(check_limit(limit)),
        sort_order=check_sort_order(sort_order),
    )


# --- parsers --------------------------------------------------------------------------------


def _model(model: type[M]) -> Callable[[Any], M]:
    return model.model_validate


@functools.cache
def _page_model(model: type[pydantic.BaseModel]) -> type[Page[Any]]:
    # Page[model] is a costly class lookup in pydantic: once per model, not once per reply
    return Page[model]  # type: ignore[valid-type]


def _page(key: str, model: type[M]) -> Callable[[Any], Page[M]]:
    page_model = _page_model(model)

    def parse(data: Any) -> Page[M]:
        if isinstance(data, list):
            # older service versions answer list routes with a bare array: the one and only page
            return page_model.model_validate(
                {"items": data, "pagination": {"total_items": len(data)}}
            )
        if not isinstance(data, Mapping) or key not in data:
            raise ValueError(f'expected a JSON array, or an object with "{key}" and "pagination"')
        return page_model.model_validate(
            {"items": data[key], "pagination": data.get("pagination") or {}}
        )

    return parse


def _vault_list(data: Any) -> list[VaultInfo]:
    if not isinstance(data, list):
        raise ValueError("expected a JSON array of vaults")
    return [VaultInfo.model_validate(item) for item in data]


def _header(data: Any) -> str:
    if not isinstance(data, Mapping) or not isinstance(data.get("header"), str):
        raise ValueError('expected {"header": "<string>"}')
    return str(data["header"])


def _nothing(_data: Any) -> None:
    return None


# --- list routes (paginated) ----------------------------------------------------------------


def list_deployments(
    *,
    search: str | None = None,
    status: DeploymentStatus | str | Iterable[DeploymentStatus | str] | None = None,
    strategy: Strategy | str | Iterable[Strategy | str] | None = None,
    id: str | Iterable[str] | None = None,
    name: str | None = None,
    vault: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    sort_order: SortOrder = "desc",
) -> Route[Page[Deployment]]:
    """GET /deployments: your deployments, filtered, newest first by default."""
    if search is not None and not isinstance(search, str):
        raise ValidationError("search must be a string", argument="search")
    if name is not None and not isinstance(name, str):
        raise ValidationError("name must be a string", argument="name")
    params = _query(
        search=search or None,
        status=comma_list(status, argument="status", check=check_status),
        strategy=comma_list(strategy, argument="strategy", check=check_strategy),
        id=comma_list(id, argument="id", check=lambda v: check_pubkey(v, argument="id")),
        name=name,
        vault=None if vault is None else check_pubkey(vault, argument="vault"),
        created_after=rfc3339(created_after, argument="created_after"),
        created_before=rfc3339(created_before, argument="created_before"),
    )
    params.update(_page_query(cursor, limit, sort_order))
    return Route("GET", BASE, _page("deployments", Deployment), params=params)


def list_tasks(
    deployment_id: str,
    *,
    task: TaskType | str | Iterable[TaskType | str] | None = None,
    due_after: datetime | None = None,
    due_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    sort_order: SortOrder = "desc",
) -> Route[Page[Task]]:
    """GET /deployments/:id/tasks: the deployment's outstanding scheduled tasks."""
    params = _query(
        task=comma_list(task, argument="task", check=_task_type),
        due_after=rfc3339(due_after, argument="due_after"),
        due_before=rfc3339(due_before, argument="due_before"),
    )
    params.update(_page_query(cursor, limit, sort_order))
    return Route(
        "GET", deployment_path(deployment_id, "/tasks"), _page("tasks", Task), params=params
    )


def list_jobs(
    deployment_id: str,
    *,
    state: JobState | str | Iterable[JobState | str] | None = None,
    job: str | None = None,
    revision: int | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    sort_order: SortOrder = "desc",
) -> Route[Page[Job]]:
    """GET /deployments/:id/jobs.

    Note: the production service answers any ``revision`` filter with 400 (it never coerces
    that query string to a number, then validates it as one); the parameter is sent as given.
    """
    params = _query(
        state=comma_list(state, argument="state", check=_job_state),
        job=None if job is None else check_pubkey(job, argument="job"),
        revision=None if revision is None else str(_positive_int(revision, argument="revision")),
        created_after=rfc3339(created_after, argument="created_after"),
        created_before=rfc3339(created_before, argument="created_before"),
    )
    params.update(_page_query(cursor, limit, sort_order))
    return Route("GET", deployment_path(deployment_id, "/jobs"), _page("jobs", Job), params=params)


def list_revisions(
    deployment_id: str,
    *,
    revision: int | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    sort_order: SortOrder = "desc",
) -> Route[Page[Revision]]:
    """GET /deployments/:id/revisions; ``revision`` is refused by production as in list_jobs."""
    params = _query(
        revision=None if revision is None else str(_positive_int(revision, argument="revision")),
        created_after=rfc3339(created_after, argument="created_after"),
        created_before=rfc3339(created_before, argument="created_before"),
    )
    params.update(_page_query(cursor, limit, sort_order))
    return Route(
        "GET",
        deployment_path(deployment_id, "/revisions"),
        _page("revisions", Revision),
        params=params,
    )


def list_events(
    deployment_id: str,
    *,
    category: str | Iterable[str] | None = None,
    type: str | Iterable[str] | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    sort_order: SortOrder = "desc",
) -> Route[Page[Event]]:
    """GET /deployments/:id/events: what happened to the deployment and its jobs."""
    params = _query(
        category=comma_list(category, argument="category"),
        type=comma_list(type, argument="type"),
        created_after=rfc3339(created_after, argument="created_after"),
        created_before=rfc3339(created_before, argument="created_before"),
    )
    params.update(_page_query(cursor, limit, sort_order))
    return Route(
        "GET", deployment_path(deployment_id, "/events"), _page("events", Event), params=params
    )


# --- single reads ---------------------------------------------------------------------------


def get_deployment(deployment_id: str) -> Route[Deployment]:
    return Route("GET", deployment_path(deployment_id), _model(Deployment))


def get_job(deployment_id: str, job: str) -> Route[JobDetail]:
    job_address = check_path_id(job, argument="job")
    return Route("GET", deployment_path(deployment_id, f"/jobs/{job_address}"), _model(JobDetail))


def get_header(
    deployment_id: str, *, message: str = DEFAULT_HEADER_MESSAGE, include_time: bool = False
) -> Route[str]:
    """GET /deployments/:id/header: a token signed by the deployment's vault."""
    if not isinstance(message, str) or not message or ":" in message:
        raise ValidationError(
            "message must be a non-empty string without ':' (the header joins fields with ':')",
            argument="message",
        )
    params = {
        "message": message,
        "includeTime": "true" if _check_bool(include_time, argument="include_time") else "false",
    }
    return Route("GET", deployment_path(deployment_id, "/header"), _header, params=params)


def stream_path(deployment_id: str) -> str:
    """Path of the SSE stream of one deployment (a snapshot, then every change)."""
    return deployment_path(deployment_id, "/stream")


def get_stats() -> Route[Stats]:
    return Route("GET", "/stats", _model(Stats), requires_auth=False)


def list_vaults() -> Route[list[VaultInfo]]:
    return Route("GET", f"{BASE}/vaults", _vault_list)


def create_shared_vault() -> Route[VaultInfo]:
    """POST /deployments/vaults/create: get-or-create the caller's shared vault (no body)."""
    return Route("POST", f"{BASE}/vaults/create", _model(VaultInfo))


# --- create ---------------------------------------------------------------------------------


SLUG_STAND_IN = "11111111111111111111111111111111"
"""A valid address that checks a create's other arguments while its market slug is resolved."""


@dataclass(frozen=True)
class CreateRequest:
    """Validated arguments of a create, minus the job definition (which may come from IPFS)."""

    name: str
    market: str
    replicas: int
    timeout_minutes: int
    strategy: Strategy
    schedule: str | None = None
    rotation_minutes: int | None = None
    confidential: bool | None = None
    autostart: bool = False
    vault: str | None = None
    new_vault: bool = False

    @property
    def timeout_seconds(self) -> int:
        return self.timeout_minutes * 60


def prepare_create(
    *,
    name: str,
    market: str,
    replicas: int,
    timeout: int | float | Decimal | timedelta,
    strategy: Strategy | str = Strategy.SIMPLE,
    schedule: str | None = None,
    rotation_time: int | float | Decimal | timedelta | None = None,
    confidential: bool | None = None,
    autostart: bool = False,
    vault: str | None = None,
    new_vault: bool = False,
) -> CreateRequest:
    """Validate every create argument. ``timeout`` / ``rotation_time`` are seconds or timedelta."""
    checked_strategy = check_strategy(strategy)
    minutes = timeout_minutes(timeout)
    check_create_timeout(minutes, checked_strategy)
    if checked_strategy is Strategy.SCHEDULED:
        if schedule is None:
            raise ValidationError(
                "schedule (a 5-field cron expression) is required for strategy SCHEDULED",
                argument="schedule",
            )
        checked_schedule: str | None = check_cron(schedule)
    elif schedule is not None:
        raise ValidationError(
            f"schedule is only used by strategy SCHEDULED, not {checked_strategy.value}",
            argument="schedule",
        )
    else:
        checked_schedule = None
    rotation: int | None = None
    if rotation_time is not None:
        if checked_strategy is not Strategy.INFINITE:
            raise ValidationError(
                f"rotation_time is only used by strategy INFINITE, not {checked_strategy.value}",
                argument="rotation_time",
            )
        rotation = rotation_minutes(rotation_time, timeout_minutes=minutes)
    if vault is not None and _check_bool(new_vault, argument="new_vault"):
        raise ValidationError(
            "pass either vault=<address> or new_vault=True, not both", argument="vault"
        )
    return CreateRequest(
        name=check_name(name, allow_empty=True),
        market=check_pubkey(market, argument="market"),
        replicas=check_replicas(replicas, minimum=1),
        timeout_minutes=minutes,
        strategy=checked_strategy,
        schedule=checked_schedule,
        rotation_minutes=rotation,
        confidential=None
        if confidential is None
        else _check_bool(confidential, argument="confidential"),
        autostart=_check_bool(autostart, argument="autostart"),
        vault=None if vault is None else check_pubkey(vault, argument="vault"),
        new_vault=_check_bool(new_vault, argument="new_vault"),
    )


def create_deployment(
    request: CreateRequest, job_definition: Mapping[str, Any]
) -> Route[Deployment]:
    """POST /deployments/create with an already validated job definition (timeout in minutes)."""
    body: dict[str, Any] = {
        "name": request.name,
        "market": request.market,
        "replicas": request.replicas,
        "timeout": request.timeout_minutes,
        "strategy": request.strategy.value,
        "job_definition": _check_mapping(job_definition, argument="job_definition"),
    }
    if request.schedule is not None:
        body["schedule"] = request.schedule
    if request.rotation_minutes is not None:
        body["rotation_time"] = request.rotation_minutes
    if request.confidential is not None:
        body["confidential"] = request.confidential
    if request.autostart:
        body["autostart"] = True
    if request.vault is not None:
        body["vault"] = request.vault
    if request.new_vault:
        body["new_vault"] = True
    return Route("POST", f"{BASE}/create", _model(Deployment), json=body)


# --- actions and updates --------------------------------------------------------------------


def start(deployment_id: str) -> Route[StatusChange]:
    return Route("POST", deployment_path(deployment_id, "/start"), _model(StatusChange))


def stop(deployment_id: str) -> Route[StatusChange]:
    return Route("POST", deployment_path(deployment_id, "/stop"), _model(StatusChange))


def archive(deployment_id: str) -> Route[StatusChange]:
    return Route("POST", deployment_path(deployment_id, "/archive"), _model(StatusChange))


def delete(deployment_id: str) -> Route[None]:
    return Route("DELETE", deployment_path(deployment_id), _nothing, expect="empty")


def update_name(deployment_id: str, name: str) -> Route[NameUpdate]:
    body = {"name": check_name(name, allow_empty=False)}
    return Route(
        "PATCH", deployment_path(deployment_id, "/update-name"), _model(NameUpdate), json=body
    )


def update_replica_count(deployment_id: str, replicas: int) -> Route[ReplicasUpdate]:
    body = {"replicas": check_replicas(replicas, minimum=0)}
    return Route(
        "PATCH",
        deployment_path(deployment_id, "/update-replica-count"),
        _model(ReplicasUpdate),
        json=body,
    )


def update_timeout(
    deployment_id: str, timeout: int | float | Decimal | timedelta
) -> Route[TimeoutUpdate]:
    """PATCH update-timeout; ``timeout`` in seconds or timedelta, sent as minutes (>= 60)."""
    minutes = timeout_minutes(timeout)
    check_update_timeout(minutes)
    return Route(
        "PATCH",
        deployment_path(deployment_id, "/update-timeout"),
        _model(TimeoutUpdate),
        json={"timeout": minutes},
    )


def update_schedule(deployment_id: str, schedule: str) -> Route[ScheduleUpdate]:
    body = {"schedule": check_cron(schedule)}
    return Route(
        "PATCH",
        deployment_path(deployment_id, "/update-schedule"),
        _model(ScheduleUpdate),
        json=body,
    )


def update_active_revision(deployment_id: str, revision: int) -> Route[ActiveRevisionUpdate]:
    body = {"active_revision": _positive_int(revision, argument="revision")}
    return Route(
        "PATCH",
        deployment_path(deployment_id, "/update-active-revision"),
        _model(ActiveRevisionUpdate),
        json=body,
    )


def create_revision(
    deployment_id: str, job_definition: Mapping[str, Any]
) -> Route[RevisionCreated]:
    """POST create-revision; the body is the bare (already validated) job definition."""
    body = _check_mapping(job_definition, argument="job_definition")
    return Route(
        "POST",
        deployment_path(deployment_id, "/create-revision"),
        _model(RevisionCreated),
        json=body,
    )


# --- unknown outcomes of POSTs ---------------------------------------------------------------
# A POST that may have been applied although it failed (``retry_policy.outcome_unknown``) is
# never resent blindly: the resources first look for its effect (the helpers below say what to
# look for) and only resend when there is none.

# How far back to look for a create that may have landed: covers the skew between our clock
# and the service's (the sandbox's simulated clock can lag wall time while frozen).
CREATE_CLOCK_SKEW = timedelta(minutes=5)
_SERVICE_ADDED_FIELDS = ("deployment_id",)
_SERVICE_ADDED_META = ("trigger",)


def definition_identity(job_definition: Mapping[str, Any]) -> dict[str, Any]:
    """A job definition minus what the service adds to it (``deployment_id``, ``meta.trigger``)."""
    identity = {k: v for k, v in job_definition.items() if k not in _SERVICE_ADDED_FIELDS}
    meta = identity.get("meta")
    if isinstance(meta, Mapping):
        kept = {k: v for k, v in meta.items() if k not in _SERVICE_ADDED_META}
        if kept:
            identity["meta"] = kept
        else:
            del identity["meta"]
    return identity


def created_by(request: CreateRequest, deployment: Deployment) -> bool:
    """Whether ``deployment`` has the settings ``request`` asked for (job definition aside)."""
    if request.vault is not None and deployment.vault != request.vault:
        return False
    rotation = None if deployment.rotation_time is None else float(deployment.rotation_time)
    wanted_rotation = None if request.rotation_minutes is None else float(request.rotation_minutes)
    return (
        deployment.name == request.name
        and deployment.market == request.market
        and float(deployment.replicas) == request.replicas
        and float(deployment.timeout) == request.timeout_minutes
        and _enum_text(deployment.strategy) == request.strategy.value
        and (deployment.schedule or None) == request.schedule
        and rotation == wanted_rotation
    )


def same_definition(revision: Revision, job_definition: Mapping[str, Any]) -> bool:
    return definition_identity(revision.job_definition) == definition_identity(job_definition)


def find_created_candidates(request: CreateRequest, since: datetime) -> Route[Page[Deployment]]:
    """Deployments that may be the effect of an unconfirmed create of ``request``."""
    return list_deployments(
        name=request.name or None,
        created_after=since,
        limit=100,
        sort_order="asc",
    )


def first_revisions(deployment_id: str) -> Route[Page[Revision]]:
    """The oldest revisions (ascending), without the ``revision`` filter production refuses."""
    return list_revisions(deployment_id, limit=100, sort_order="asc")


def newest_revisions(deployment_id: str) -> Route[Page[Revision]]:
    return list_revisions(deployment_id, limit=100, sort_order="desc")


def revision_match(
    revisions: Iterable[Revision], job_definition: Mapping[str, Any], *, number: int
) -> Revision | None:
    for revision in revisions:
        if revision.revision == number and same_definition(revision, job_definition):
            return revision
    return None


# --- sending (the only I/O here: one line each, shared by every resource) --------------------


def send(http: SyncHTTP, route: Route[T]) -> T:
    return route.parse(
        http.request(
            route.method, route.path, params=route.params, json=route.json, expect=route.expect
        )
    )


async def asend(http: AsyncHTTP, route: Route[T]) -> T:
    return route.parse(
        await http.request(
            route.method, route.path, params=route.params, json=route.json, expect=route.expect
        )
    )
