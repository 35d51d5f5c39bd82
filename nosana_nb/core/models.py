"""Typed views of what the deployment manager, the markets API and the SSE stream send.

Models are tolerant: unknown fields are kept (``extra="allow"``), unknown enum values stay raw
strings, and blank strings the server emits for nulls become ``None``. Wire units are kept as
sent (``timeout`` in minutes, ``time_start`` in unix seconds); convenience properties convert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    TypeAdapter,
)

from nosana_nb.core.errors import HistoryNotLoadedError
from nosana_nb.core.validation import DeploymentStatus, JobState, Strategy, TaskType

NOS_BASE_UNITS_PER_NOS = 10**6

T = TypeVar("T")


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


def _as_utc(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        # The service always sends UTC ("...Z"); a naive value is read as UTC, not local time.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _as_decimal(value: Any) -> Any:
    value = _blank_to_none(value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        # via str so 0.000043 stays 0.000043 rather than its binary float expansion
        return Decimal(str(value))
    return value


def _job_state(value: Any) -> Any:
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return JobState.from_wire(value)
        except (ValueError, KeyError):
            return value
    return value


UTCDateTime = Annotated[datetime, BeforeValidator(_as_utc)]
OptionalUTCDateTime = Annotated[datetime | None, BeforeValidator(_as_utc)]
OptionalStr = Annotated[str | None, BeforeValidator(_blank_to_none)]
OptionalDecimal = Annotated[Decimal | None, BeforeValidator(_as_decimal)]
Number = Annotated[int | float, Field(union_mode="left_to_right")]

# An enum member when the value is known, else the raw string (a newer server must not crash us).
StatusValue = Annotated[DeploymentStatus | str, Field(union_mode="left_to_right")]
StrategyValue = Annotated[Strategy | str, Field(union_mode="left_to_right")]
JobStateValue = Annotated[JobState | int | str, BeforeValidator(_job_state)]
TaskTypeValue = Annotated[TaskType | str, Field(union_mode="left_to_right")]


class WireModel(BaseModel):
    """Base of every reply model: keeps unknown fields, accepts field names or wire aliases."""

    # defer_build: each model's validator is built on its first use, not at import (most
    # sessions touch a handful of the models; building all of them doubled the import time)
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=False, defer_build=True)


def _minutes_to_timedelta(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


class Endpoint(WireModel):
    """A URL where a deployment's service answers: the op that exposes it and its port."""

    op_id: str = Field(alias="opId")
    port: int | str
    url: str


class Deployment(WireModel):
    """One deployment as the service describes it. ``timeout`` is in minutes."""

    id: str
    name: str = ""
    vault: str
    market: str
    owner: str
    status: StatusValue
    replicas: Number
    timeout: Number
    endpoints: list[Endpoint] = Field(default_factory=list)
    confidential: bool = False
    active_revision: int = 1
    active_jobs: int = 0
    created_at: OptionalUTCDateTime = None
    updated_at: OptionalUTCDateTime = None
    strategy: StrategyValue
    schedule: OptionalStr = None
    rotation_time: Number | None = None

    @property
    def timeout_timedelta(self) -> timedelta:
        """The job timeout as a ``timedelta`` (the wire counts minutes)."""
        return _minutes_to_timedelta(self.timeout)

    @property
    def timeout_seconds(self) -> int:
        """The job timeout in seconds."""
        return round(self.timeout * 60)

    @property
    def rotation_timedelta(self) -> timedelta | None:
        """How long before a job's timeout its replacement is listed (INFINITE), or None."""
        return None if self.rotation_time is None else _minutes_to_timedelta(self.rotation_time)


DeploymentModel = Deployment


class Job(WireModel):
    """A job row from ``GET /deployments/:id/jobs`` (snake_case keys)."""

    tx: OptionalStr = None
    deployment: str
    job: str
    market: str = ""
    node: OptionalStr = None
    revision: int = 1
    state: JobStateValue
    time_start: Number = 0
    created_at: OptionalUTCDateTime = None
    updated_at: OptionalUTCDateTime = None

    @property
    def started_at(self) -> datetime | None:
        """When a node started the job (UTC), or None before it did."""
        return datetime.fromtimestamp(self.time_start, UTC) if self.time_start else None


NO_NODE = "11111111111111111111111111111111"


class JobDetail(WireModel):
    """``GET /deployments/:id/jobs/:job``: camelCase keys, numeric ``state``."""

    confidential: bool = False
    revision: int = 1
    market: str = ""
    node: OptionalStr = None
    state: JobStateValue
    job_status: Any = Field(default=None, alias="jobStatus")
    job_definition: dict[str, Any] | None = Field(default=None, alias="jobDefinition")
    # The node's upload (a JobResults object); a service may answer its IPFS hash instead.
    job_result: dict[str, Any] | str | None = Field(default=None, alias="jobResult")
    time_start: Number = Field(default=0, alias="timeStart")
    time_end: Number = Field(default=0, alias="timeEnd")
    listed_at: Number = Field(default=0, alias="listedAt")

    @property
    def has_node(self) -> bool:
        """True once a node has claimed the job."""
        return self.node not in (None, NO_NODE)

    @property
    def started_at(self) -> datetime | None:
        """When the node started the job (UTC), or None before it did."""
        return datetime.fromtimestamp(self.time_start, UTC) if self.time_start else None

    @property
    def ended_at(self) -> datetime | None:
        """When the job ended (UTC), or None while it has not."""
        return datetime.fromtimestamp(self.time_end, UTC) if self.time_end else None

    @property
    def listed_at_datetime(self) -> datetime | None:
        """When the job was listed on the market (UTC), or None."""
        return datetime.fromtimestamp(self.listed_at, UTC) if self.listed_at else None


class Event(WireModel):
    """A deployment event from ``GET /deployments/:id/events``; ``tx`` is ``None`` when absent
    or blank."""

    category: str
    deployment_id: str = Field(alias="deploymentId")
    type: str
    message: str = ""
    tx: OptionalStr = None
    created_at: OptionalUTCDateTime = None


class Task(WireModel):
    """An outstanding scheduled task. Blank ``job`` becomes ``None``; 0 means "not set"."""

    task: TaskTypeValue
    deployment_id: str = Field(alias="deploymentId")
    tx: OptionalStr = None
    job: OptionalStr = None
    limit: int | None = None
    active_revision: int | None = None
    due_at: OptionalUTCDateTime = None
    created_at: OptionalUTCDateTime = None


class Revision(WireModel):
    """One revision of a deployment: its number and job definition."""

    revision: int
    deployment: str
    ipfs_definition_hash: str = ""
    job_definition: dict[str, Any] = Field(default_factory=dict)
    created_at: OptionalUTCDateTime = None


class VaultInfo(WireModel):
    """A vault as ``GET /deployments/vaults`` lists it; its key is never sent."""

    vault: str
    owner: str
    created_at: OptionalUTCDateTime = None

    @property
    def address(self) -> str:
        """The vault's address."""
        return self.vault

    @property
    def is_api_key_vault(self) -> bool:
        """True for the vault of an API-key user (the service owns and pays it)."""
        return self.vault == self.owner


class PaginationMeta(WireModel):
    """A page's cursors (keyset pagination) and the total number of items."""

    cursor_next: OptionalStr = None
    cursor_prev: OptionalStr = None
    total_items: int = 0


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated list."""

    items: list[T]
    pagination: PaginationMeta


# --- small action replies -------------------------------------------------------------------


class StatusChange(WireModel):
    """Reply of start / stop / archive."""

    status: StatusValue
    updated_at: OptionalUTCDateTime = None


class NameUpdate(WireModel):
    name: str
    updated_at: OptionalUTCDateTime = None


class ReplicasUpdate(WireModel):
    replicas: Number
    updated_at: OptionalUTCDateTime = None


class TimeoutUpdate(WireModel):
    timeout: Number
    updated_at: OptionalUTCDateTime = None


class ScheduleUpdate(WireModel):
    schedule: str
    updated_at: OptionalUTCDateTime = None


class ActiveRevisionUpdate(WireModel):
    active_revision: int
    endpoints: list[Endpoint] = Field(default_factory=list)
    updated_at: OptionalUTCDateTime = None


class RevisionCreated(WireModel):
    active_revision: int
    endpoints: list[Endpoint] = Field(default_factory=list)
    revisions: list[Revision] = Field(default_factory=list)
    updated_at: OptionalUTCDateTime = None


class StatsJobs(WireModel):
    listed: int = 0
    extended: int = 0
    stopped: int = 0


class StatsTasks(WireModel):
    in_progress: int = 0
    failed: int = 0
    successful: int = 0
    timed_out: int = 0
    average_time_ms: Number = 0


class Stats(WireModel):
    """``GET /stats``: the deployment manager's public counters."""

    running_ms: Number = 0
    started_at: OptionalUTCDateTime = None
    jobs: StatsJobs = Field(default_factory=StatsJobs)
    tasks: StatsTasks = Field(default_factory=StatsTasks)


# --- markets and cost -----------------------------------------------------------------------


class RemoteResource(WireModel):
    """A resource a market's nodes must hold: an Ollama model, or an S3/HF/Ollama URL."""

    type: str
    model: OptionalStr = None
    url: OptionalStr = None
    files: list[str] | None = None
    buckets: list[dict[str, Any]] | None = None


class MarketRequiredResources(WireModel):
    """``GET /api/markets/{id}/required-resources``."""

    required_images: list[str] = Field(default_factory=list)
    required_remote_resources: list[RemoteResource] = Field(default_factory=list)


def _nodes_list(value: Any) -> Any:
    return [] if value is None else value


class Market(WireModel):
    """A market from the markets API. ``nos_job_price_per_second`` is whole NOS per second.

    Every field of the service's market item is declared; ``nodes`` lists the market's nodes
    and ``client`` is a flag. ``idle_nodes`` is not part of the reply: ``client.markets``
    fills it in from the market account's node queue on chain (None until read).
    """

    address: str
    slug: OptionalStr = None
    name: OptionalStr = None
    sft: OptionalStr = None
    type: OptionalStr = None
    usd_reward_per_hour: OptionalDecimal = None
    nos_reward_per_second: OptionalDecimal = None
    nos_job_price_per_second: OptionalDecimal = None
    network_fee_percentage: OptionalDecimal = None
    premium_community_relation: OptionalStr = None
    gpu_types: list[str] = Field(default_factory=list)
    required_images: list[str] = Field(default_factory=list)
    required_remote_resources: list[RemoteResource] = Field(default_factory=list)
    nodes: Annotated[list[Any], BeforeValidator(_nodes_list)] = Field(default_factory=list)
    client: bool = False
    lowest_vram: Number | None = None
    max_usd_uptime_reward_per_day: OptionalDecimal = None
    idle_nodes: int | None = None

    @property
    def node_count(self) -> int:
        """How many nodes serve the market."""
        return len(self.nodes)

    @property
    def job_price_base_units_per_second(self) -> Decimal | None:
        """The on-chain ``job_price``: NOS base units (1e-6 NOS) per second."""
        if self.nos_job_price_per_second is None:
            return None
        return self.nos_job_price_per_second * NOS_BASE_UNITS_PER_NOS

    @property
    def label(self) -> str:
        """A name to show: the market's name, else its slug, else its address."""
        return self.name or self.slug or self.address


class CreditsBalance(WireModel):
    """``GET /api/credits/balance``: an API-key user's credits, in USD."""

    assigned_credits: Annotated[Decimal, BeforeValidator(_as_decimal)] = Field(
        alias="assignedCredits"
    )
    reserved_credits: Annotated[Decimal, BeforeValidator(_as_decimal)] = Field(
        alias="reservedCredits"
    )
    settled_credits: Annotated[Decimal, BeforeValidator(_as_decimal)] = Field(
        alias="settledCredits"
    )

    @property
    def available(self) -> Decimal:
        """What new jobs can reserve: assigned - reserved - settled."""
        return self.assigned_credits - self.reserved_credits - self.settled_credits


class CreditCharge(WireModel):
    """What a credit-paid job action cost: ``costUSD``, ``creditsUsed`` and its reservation."""

    cost_usd: Annotated[Decimal, BeforeValidator(_as_decimal)] = Field(alias="costUSD")
    credits_used: Annotated[Decimal, BeforeValidator(_as_decimal)] = Field(alias="creditsUsed")
    reservation_id: str = Field(alias="reservationId")
    project: OptionalStr = None


class CreditJobListed(WireModel):
    """``POST /api/jobs/list``: the listing transaction, the job and run accounts, the charge."""

    tx: str
    job: str
    run: str
    credits: CreditCharge


class CreditJobExtended(WireModel):
    tx: str
    job: str
    credits: CreditCharge


class CreditJobStopped(WireModel):
    """``POST /api/jobs/{address}/stop``: ``delisted`` when the job had not started."""

    tx: str
    job: str
    delisted: bool


class CreditJob(WireModel):
    """``GET /api/jobs/{address}``: the on-chain job (times in unix seconds, state 0-3)."""

    ipfs_job: str = Field(alias="ipfsJob")
    ipfs_result: OptionalStr = Field(default=None, alias="ipfsResult")
    market: str
    node: str
    payer: str
    price: Number
    project: str
    state: JobStateValue
    type: OptionalStr = None
    job_definition: Any = Field(default=None, alias="jobDefinition")
    job_result: Any = Field(default=None, alias="jobResult")
    job_status: OptionalStr = Field(default=None, alias="jobStatus")
    time_end: Number = Field(alias="timeEnd")
    time_start: Number = Field(alias="timeStart")
    benchmark_processed_at: Any = Field(default=None, alias="benchmarkProcessedAt")
    timeout: Number
    usd_reward_per_hour: OptionalDecimal = Field(default=None, alias="usdRewardPerHour")
    listed_at: Number | None = Field(default=None, alias="listedAt")


class CostEstimate(WireModel):
    """What running ``replicas`` jobs for ``timeout_seconds`` on a market costs.

    ``*_base_units`` are NOS base units (escrow is rounded up to whole units); ``nos*`` are whole
    NOS; ``*_with_fee`` add the market's network fee percentage. USD figures come from
    ``usd_reward_per_hour`` and are ``None`` when the market publishes none. ``sol_lamports`` is a
    rough estimate of the SOL the vault needs for rent and fees (see ``SOL_LAMPORTS_PER_JOB``).
    """

    market: str
    replicas: int
    timeout_seconds: int
    strategy: StrategyValue | None = None
    price_nos_per_second: Decimal
    network_fee_percentage: Decimal
    nos_base_units: int
    fee_base_units: int
    nos_base_units_with_fee: int
    nos: Decimal
    nos_with_fee: Decimal
    nos_per_hour: Decimal
    nos_per_hour_with_fee: Decimal
    usd_per_hour: Decimal | None = None
    usd_per_hour_with_fee: Decimal | None = None
    usd: Decimal | None = None
    usd_with_fee: Decimal | None = None
    sol_lamports: int
    sol: Decimal


# --- the SSE stream: a snapshot (deployment, active jobs, tasks), then every change ---------


class DeploymentMessage(WireModel):
    """A stream message: the deployment's status, replicas or active revision changed."""

    type: Literal["deployment"]
    status: StatusValue | None = None
    replicas: Number | None = None
    active_revision: int | None = None


class JobMessage(WireModel):
    """A stream message: a job was listed, claimed or ended."""

    type: Literal["job"]
    job: str
    state: JobStateValue
    node: OptionalStr = None
    time_start: Number = Field(default=0, alias="timeStart")
    time_end: Number = Field(default=0, alias="timeEnd")


class EventMessage(WireModel):
    """A stream message: a deployment event was recorded."""

    type: Literal["event"]
    category: str = ""
    event: str
    message: str = ""
    tx: OptionalStr = None
    created_at: OptionalUTCDateTime = None


class TaskMessage(WireModel):
    """A stream message: a scheduled task changed."""

    type: Literal["task"]
    id: str
    task: TaskTypeValue
    status: str
    attempts: int = 0
    due_at: OptionalUTCDateTime = None
    job: OptionalStr = None


class TaskDoneMessage(WireModel):
    """Sent when a task this connection has seen is deleted (finished)."""

    type: Literal["task"]
    id: str
    task: TaskTypeValue
    status: Literal["DONE"]


class UnknownMessage(WireModel):
    """A frame with a ``type`` this client does not know; its fields are kept as extras."""

    type: str


def _message_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    status = value.get("status") if isinstance(value, dict) else getattr(value, "status", None)
    if kind == "task" and status == "DONE":
        return "task_done"
    if kind in ("deployment", "job", "event", "task"):
        return str(kind)
    return "unknown"


StreamMessage = Annotated[
    Annotated[DeploymentMessage, Tag("deployment")]
    | Annotated[JobMessage, Tag("job")]
    | Annotated[EventMessage, Tag("event")]
    | Annotated[TaskMessage, Tag("task")]
    | Annotated[TaskDoneMessage, Tag("task_done")]
    | Annotated[UnknownMessage, Tag("unknown")],
    Discriminator(_message_tag),
]

STREAM_MESSAGE_ADAPTER: TypeAdapter[StreamMessage] = TypeAdapter(
    StreamMessage, config=ConfigDict(defer_build=True)
)


class DeploymentHistory:
    """The newest events and jobs of one deployment, each fetched on its first read.

    Every copy of a state (each action folds its reply into a new one) shares the same
    history, so each list is fetched at most once until ``refresh()`` replaces it.
    """

    __slots__ = ("_fetchers", "_values")

    def __init__(
        self,
        fetchers: Mapping[str, Callable[[], list[Any]]] | None = None,
        *,
        events: list[Event] | None = None,
        jobs: list[Job] | None = None,
    ) -> None:
        self._fetchers = dict(fetchers or {})
        self._values: dict[str, list[Any]] = {}
        if events is not None:
            self._values["events"] = events
        if jobs is not None:
            self._values["jobs"] = jobs

    def get(self, kind: Literal["events", "jobs"]) -> list[Any]:
        value = self._values.get(kind)
        if value is None:
            fetch = self._fetchers.get(kind)
            if fetch is None:
                raise HistoryNotLoadedError(
                    f"state.{kind} is not loaded yet: `await deployment.refresh()` loads the "
                    "deployment with its newest events and jobs"
                )
            value = self._values[kind] = fetch()
        return value

    def is_loaded(self, kind: Literal["events", "jobs"]) -> bool:
        return kind in self._values

    def __deepcopy__(self, memo: dict[int, Any]) -> DeploymentHistory:
        # the fetchers hold the client: share them, copy only the loaded lists
        copied = DeploymentHistory(self._fetchers)
        copied._values = {kind: list(items) for kind, items in self._values.items()}
        return copied


class DeploymentState(Deployment):
    """``Deployment.state``: every deployment field plus the newest events and jobs.

    ``events`` and ``jobs`` are the newest page of each (up to 100). A get or a list costs one
    request: a sync handle fetches each list on its first read, an async handle loads both with
    ``await refresh()``. ``refresh()`` always reloads them; the full history is available
    through ``get_events()`` / ``get_jobs()``.

    Raises:
        HistoryNotLoadedError: (reading ``events`` or ``jobs``) an async handle has not
            loaded them yet.
    """

    _history: DeploymentHistory = PrivateAttr(default_factory=DeploymentHistory)

    @property
    def events(self) -> list[Event]:
        """The newest events (up to 100)."""
        events: list[Event] = self._history.get("events")
        return events

    @property
    def jobs(self) -> list[Job]:
        """The newest jobs (up to 100)."""
        jobs: list[Job] = self._history.get("jobs")
        return jobs

    @classmethod
    def of(cls, deployment: Deployment, history: DeploymentHistory) -> DeploymentState:
        """A state from an already validated deployment, without validating it again.

        Args:
            deployment: the validated deployment.
            history: its events and jobs (loaded or to be fetched).

        Returns:
            The state.
        """
        extra = {
            k: v
            for k, v in (deployment.__pydantic_extra__ or {}).items()
            if k not in ("events", "jobs")
        }
        state = cls.model_construct(
            _fields_set=set(deployment.model_fields_set), **deployment.__dict__, **extra
        )
        state._history = history
        return state
