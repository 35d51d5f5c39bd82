"""Alert rules: typed, validated conditions over what the watcher knows at one service instant.

A rule does not remember anything. Given :class:`Facts` (the service's time, the statuses and
job states the stream reported, and what the alerts loop fetched) it names the things that are
in trouble *now*, each under a key (a deployment, a job, or the account's credits). The
:class:`~nosana_nb.watch.Alerts` engine turns those into episodes: a key that appears opens one
("fired"), a key that disappears closes it ("resolved"), a key whose facts could not be read
stays as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from nosana_nb.core.errors import ValidationError
from nosana_nb.core.validation import DeploymentStatus, check_duration

__all__ = [
    "AlertRule",
    "Facts",
    "FailedJobs",
    "Finding",
    "JobFact",
    "NearTimeout",
    "QueuedTooLong",
    "RunwayBelow",
    "StatusAlert",
    "rule_from_json",
]

MAX_FAILED_COUNT = 100_000
BURNING_STATUSES = frozenset({"STARTING", "RUNNING", "INSUFFICIENT_FUNDS"})
"""Statuses in which a deployment lists or extends jobs, so spends money."""
Severity = Literal["warning", "critical"]
Needs = Literal["deployments", "vaults", "credits", "results", "listed"]


@dataclass(frozen=True)
class JobFact:
    """One job as the stream told it: its furthest state and when it got there."""

    state: str
    queued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass
class Facts:
    """Everything the rules look at, read at one instant of the service's clock.

    A mapping without a key means "not known" (not fetched, or the fetch failed): a rule
    reports such a key as unknown rather than guessing.
    """

    now: datetime
    deployments: tuple[str, ...]
    statuses: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, dict[str, JobFact]] = field(default_factory=dict)
    timeouts: dict[str, timedelta] = field(default_factory=dict)
    """Each deployment's job timeout (from its detail)."""
    strategies: dict[str, str] = field(default_factory=dict)
    """Each deployment's strategy (from its detail)."""
    vault_runway: dict[str, timedelta | None] = field(default_factory=dict)
    """Time the vault's NOS buys at the deployment's burn; None when it is not spending."""
    credit_runway: timedelta | None = None
    credit_runway_known: bool = False
    failed: dict[str, bool] = field(default_factory=dict)
    """Finished jobs whose results were read: True when the job failed."""
    listed_at: dict[str, datetime] = field(default_factory=dict)
    """When the service listed each recent job (its ``created_at``): a QUEUED frame carries
    no time, and the watcher stamps it on arrival, which on a clock moved by hand can lag."""
    listed_state: dict[str, str] = field(default_factory=dict)
    """Each recent job's state in the jobs list: it overrules a QUEUED or RUNNING the stream
    has not updated yet (a job that moved on while the stream was down)."""


@dataclass(frozen=True)
class Finding:
    """One thing in trouble: the message a notifier shows and the numbers behind it."""

    message: str
    deployment: str | None = None
    job: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


Evaluation = tuple[dict[str, Finding], set[str]]
"""(findings by key, keys whose facts were unknown)."""


def short(address: str) -> str:
    return f"{address[:4]}…{address[-4:]}" if len(address) > 10 else address


def format_duration(value: timedelta) -> str:
    seconds = round(value.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h" if hours % 24 else f"{hours // 24} d"
    return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"


def _check_name(name: Any) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError(
            "name must be a non-empty string of at most 200 characters", argument="name"
        )
    return name.strip()


def _check_severity(severity: Any) -> Severity:
    if severity not in ("warning", "critical"):
        raise ValidationError(
            f"severity must be 'warning' or 'critical'; got {severity!r}", argument="severity"
        )
    result: Severity = severity
    return result


class AlertRule:
    """Base of the rules. Subclasses are frozen dataclasses that validate on construction.

    Attributes:
        name: what the alert is called in notifications; also its identity in
            ``watcher.alerts`` (adding a rule of the same name again replaces its notifiers
            and keeps its open episodes).
        severity: "warning" or "critical", passed on to the notifiers.
    """

    kind: ClassVar[str] = ""
    needs: ClassVar[frozenset[Needs]] = frozenset()
    name: str | None
    severity: Severity

    @property
    def title(self) -> str:
        """The rule's name, or a description made from its parameters."""
        return self.name or self.describe()

    def describe(self) -> str:
        """A description made from the parameters ("status ERROR or INSUFFICIENT_FUNDS").

        Returns:
            One short line.
        """
        return self._describe()

    def evaluate(self, facts: Facts) -> Evaluation:
        """What is in trouble at ``facts.now``.

        Args:
            facts: what the watcher knows at one instant of the service's clock.

        Returns:
            (findings by key, keys whose facts were not known).
        """
        return self._evaluate(facts)

    def params(self) -> dict[str, Any]:
        """The rule's parameters as JSON values (durations in seconds).

        Returns:
            A dict of the parameters.
        """
        return self._params()

    def _describe(self) -> str:
        raise NotImplementedError

    def _evaluate(self, facts: Facts) -> Evaluation:
        raise NotImplementedError

    def _params(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """The rule as JSON (kind and parameters; durations in seconds).

        Returns:
            A JSON-safe dict that :func:`rule_from_json` reads back.
        """
        return {"kind": self.kind, "name": self.name, "severity": self.severity, **self.params()}


@dataclass(frozen=True)
class StatusAlert(AlertRule):
    """A deployment's status is one of ``statuses`` (by default ERROR or INSUFFICIENT_FUNDS).

    The episode lasts while the status stays in the set; leaving it resolves the alert.

    Args:
        statuses: deployment statuses to alert on (strings or ``DeploymentStatus``).
        name: the alert's name (default: made from the statuses).
        severity: "warning" or "critical".

    Raises:
        ValidationError: an empty set or a status the service does not have.
    """

    statuses: tuple[str, ...] = ("ERROR", "INSUFFICIENT_FUNDS")
    name: str | None = None
    severity: Severity = "critical"
    kind: ClassVar[str] = "status"

    def __post_init__(self) -> None:
        raw = self.statuses
        if isinstance(raw, str | DeploymentStatus):
            raw = (raw,)
        if not isinstance(raw, Iterable):
            raise ValidationError(
                "statuses must be a list of deployment statuses", argument="statuses"
            )
        known = [s.value for s in DeploymentStatus]
        checked: list[str] = []
        for status in raw:
            text = getattr(status, "value", status)
            if not isinstance(text, str) or text.upper() not in known:
                raise ValidationError(
                    f"unknown deployment status {text!r}; known: {', '.join(known)}",
                    argument="statuses",
                )
            checked.append(text.upper())
        if not checked:
            raise ValidationError(
                "statuses is empty: name at least one status", argument="statuses"
            )
        object.__setattr__(self, "statuses", tuple(dict.fromkeys(checked)))
        object.__setattr__(self, "name", _check_name(self.name))
        object.__setattr__(self, "severity", _check_severity(self.severity))

    def _describe(self) -> str:
        return "status " + " or ".join(self.statuses)

    def _params(self) -> dict[str, Any]:
        return {"statuses": list(self.statuses)}

    def _evaluate(self, facts: Facts) -> Evaluation:
        found: dict[str, Finding] = {}
        unknown: set[str] = set()
        for deployment in facts.deployments:
            status = facts.statuses.get(deployment)
            if status is None:
                unknown.add(deployment)
            elif status in self.statuses:
                found[deployment] = Finding(
                    f"deployment {short(deployment)} is {status}",
                    deployment=deployment,
                    details={"status": status},
                )
        return found, unknown


@dataclass(frozen=True)
class RunwayBelow(AlertRule):
    """The money left buys less than ``threshold`` of the deployment's jobs.

    ``funds="vault"``: per deployment paid from a vault, the vault's NOS divided by the
    deployment's burn (replicas × the market's fee-included NOS price per hour). SOL for rent
    and fees is not counted. ``funds="credits"``: the account's available credits divided by
    the USD per hour of the watched deployments paid with credits (an API-key client). Only
    deployments that are STARTING, RUNNING or INSUFFICIENT_FUNDS spend; a stopped one has no
    runway to run out of, which resolves the alert.

    Args:
        threshold: a timedelta or seconds.
        funds: "vault" or "credits".
        name: the alert's name.
        severity: "warning" or "critical".

    Raises:
        ValidationError: a threshold that is not a positive finite duration, or other funds.
    """

    threshold: timedelta = timedelta(hours=6)
    funds: Literal["vault", "credits"] = "vault"
    name: str | None = None
    severity: Severity = "warning"
    kind: ClassVar[str] = "runway"

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", check_duration(self.threshold, argument="threshold"))
        if self.funds not in ("vault", "credits"):
            raise ValidationError(
                f"funds must be 'vault' or 'credits'; got {self.funds!r}", argument="funds"
            )
        object.__setattr__(self, "name", _check_name(self.name))
        object.__setattr__(self, "severity", _check_severity(self.severity))

    @property
    def needs(self) -> frozenset[Needs]:  # type: ignore[override]
        """What the rule reads: the vault balances or the credits balance."""
        return frozenset({"deployments", "vaults" if self.funds == "vault" else "credits"})

    def _describe(self) -> str:
        return f"{self.funds} runway below {format_duration(self.threshold)}"

    def _params(self) -> dict[str, Any]:
        return {"threshold": self.threshold.total_seconds(), "funds": self.funds}

    def _evaluate(self, facts: Facts) -> Evaluation:
        found: dict[str, Finding] = {}
        if self.funds == "credits":
            if not facts.credit_runway_known:
                return found, {"credits"}
            runway = facts.credit_runway
            if runway is not None and runway < self.threshold:
                found["credits"] = Finding(
                    f"credits last about {format_duration(runway)} at the current burn "
                    f"(threshold {format_duration(self.threshold)})",
                    details={"runway_seconds": runway.total_seconds()},
                )
            return found, set()
        unknown: set[str] = set()
        for deployment in facts.deployments:
            if deployment not in facts.vault_runway:
                unknown.add(deployment)
                continue
            runway = facts.vault_runway[deployment]
            if runway is not None and runway < self.threshold:
                found[deployment] = Finding(
                    f"the vault of deployment {short(deployment)} lasts about "
                    f"{format_duration(runway)} (threshold {format_duration(self.threshold)})",
                    deployment=deployment,
                    details={"runway_seconds": runway.total_seconds()},
                )
        return found, unknown


@dataclass(frozen=True)
class FailedJobs(AlertRule):
    """At least ``count`` jobs of a deployment failed within the last ``window``.

    A job failed when its results say so (a failed op or a non-zero exit code); a job stopped
    on purpose or never claimed did not fail. The episode resolves once fewer than ``count``
    failures lie within the window.

    Args:
        count: failures that make an alert (an int >= 1).
        window: a timedelta or seconds.
        name: the alert's name.
        severity: "warning" or "critical".

    Raises:
        ValidationError: a count that is not a positive int, or a bad window.
    """

    count: int = 3
    window: timedelta = timedelta(hours=1)
    name: str | None = None
    severity: Severity = "warning"
    kind: ClassVar[str] = "failed_jobs"
    needs: ClassVar[frozenset[Needs]] = frozenset({"deployments", "results"})

    def __post_init__(self) -> None:
        if type(self.count) is not int or not 1 <= self.count <= MAX_FAILED_COUNT:
            raise ValidationError(
                f"count must be an int from 1 to {MAX_FAILED_COUNT}; got {self.count!r}",
                argument="count",
            )
        object.__setattr__(self, "window", check_duration(self.window, argument="window"))
        object.__setattr__(self, "name", _check_name(self.name))
        object.__setattr__(self, "severity", _check_severity(self.severity))

    def _describe(self) -> str:
        return f"{self.count}+ failed jobs within {format_duration(self.window)}"

    def _params(self) -> dict[str, Any]:
        return {"count": self.count, "window": self.window.total_seconds()}

    def _evaluate(self, facts: Facts) -> Evaluation:
        found: dict[str, Finding] = {}
        unknown: set[str] = set()
        since = facts.now - self.window
        for deployment in facts.deployments:
            jobs = facts.jobs.get(deployment, {})
            failures: list[str] = []
            missing = False
            for address, job in jobs.items():
                if job.ended_at is None or not since < job.ended_at <= facts.now:
                    continue
                verdict = facts.failed.get(address)
                if verdict is None:
                    missing = True
                elif verdict:
                    failures.append(address)
            if len(failures) >= self.count:
                found[deployment] = Finding(
                    f"{len(failures)} jobs of deployment {short(deployment)} failed within "
                    f"{format_duration(self.window)}",
                    deployment=deployment,
                    details={"failed_jobs": sorted(failures)},
                )
            elif missing:
                unknown.add(deployment)
        return found, unknown


@dataclass(frozen=True)
class QueuedTooLong(AlertRule):
    """Jobs of a deployment wait QUEUED longer than ``threshold`` (no idle host takes them).

    One episode per deployment, listing the jobs; it resolves when none waits that long.

    Args:
        threshold: a timedelta or seconds.
        name: the alert's name.
        severity: "warning" or "critical".

    Raises:
        ValidationError: a threshold that is not a positive finite duration.
    """

    threshold: timedelta = timedelta(minutes=10)
    name: str | None = None
    severity: Severity = "warning"
    kind: ClassVar[str] = "queued"
    needs: ClassVar[frozenset[Needs]] = frozenset({"deployments", "listed"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", check_duration(self.threshold, argument="threshold"))
        object.__setattr__(self, "name", _check_name(self.name))
        object.__setattr__(self, "severity", _check_severity(self.severity))

    def _describe(self) -> str:
        return f"jobs queued longer than {format_duration(self.threshold)}"

    def _params(self) -> dict[str, Any]:
        return {"threshold": self.threshold.total_seconds()}

    def _evaluate(self, facts: Facts) -> Evaluation:
        found: dict[str, Finding] = {}
        for deployment in facts.deployments:
            queued = (
                (facts.listed_at.get(address) or job.queued_at, address)
                for address, job in facts.jobs.get(deployment, {}).items()
                if job.state == "QUEUED" and facts.listed_state.get(address, "QUEUED") == "QUEUED"
            )
            waiting = sorted(
                (since, address)
                for since, address in queued
                if since is not None and facts.now - since >= self.threshold
            )
            if waiting:
                longest = facts.now - waiting[0][0]
                found[deployment] = Finding(
                    f"{len(waiting)} job(s) of deployment {short(deployment)} queued longer than "
                    f"{format_duration(self.threshold)} (longest {format_duration(longest)}): "
                    "no idle host has taken them",
                    deployment=deployment,
                    details={
                        "jobs": [a for _, a in waiting],
                        "longest_seconds": longest.total_seconds(),
                    },
                )
        return found, set()


@dataclass(frozen=True)
class NearTimeout(AlertRule):
    """A running job is within ``within`` of its timeout (started + the deployment's timeout).

    One episode per job; it resolves when the job ends. SIMPLE-EXTEND deployments are left
    out: the service extends their jobs shortly before the timeout, which the stream does not
    report. INFINITE jobs count from their start (their replacement is listed before that).

    Args:
        within: a timedelta or seconds.
        name: the alert's name.
        severity: "warning" or "critical".

    Raises:
        ValidationError: a duration that is not positive and finite.
    """

    within: timedelta = timedelta(minutes=10)
    name: str | None = None
    severity: Severity = "warning"
    kind: ClassVar[str] = "near_timeout"
    needs: ClassVar[frozenset[Needs]] = frozenset({"deployments", "listed"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "within", check_duration(self.within, argument="within"))
        object.__setattr__(self, "name", _check_name(self.name))
        object.__setattr__(self, "severity", _check_severity(self.severity))

    def _describe(self) -> str:
        return f"running job within {format_duration(self.within)} of its timeout"

    def _params(self) -> dict[str, Any]:
        return {"within": self.within.total_seconds()}

    def _evaluate(self, facts: Facts) -> Evaluation:
        found: dict[str, Finding] = {}
        unknown: set[str] = set()
        for deployment in facts.deployments:
            if facts.strategies.get(deployment) == "SIMPLE-EXTEND":
                continue
            for address, job in facts.jobs.get(deployment, {}).items():
                if job.state != "RUNNING" or job.started_at is None:
                    continue
                if facts.listed_state.get(address, "RUNNING") != "RUNNING":
                    continue  # it ended while the stream was down
                key = f"{deployment}/{address}"
                timeout = facts.timeouts.get(deployment)
                if timeout is None:
                    unknown.add(key)
                    continue
                left = max(timedelta(0), job.started_at + timeout - facts.now)
                if left <= self.within:
                    found[key] = Finding(
                        f"job {short(address)} of deployment {short(deployment)} reaches its "
                        f"timeout in {format_duration(left)}",
                        deployment=deployment,
                        job=address,
                        details={"seconds_left": left.total_seconds()},
                    )
        return found, unknown


RULE_KINDS: dict[str, type[AlertRule]] = {
    cls.kind: cls for cls in (StatusAlert, RunwayBelow, FailedJobs, QueuedTooLong, NearTimeout)
}


def rule_from_json(record: Any) -> AlertRule:
    """A rule back from :meth:`AlertRule.to_json`; ValidationError for anything else."""
    if not isinstance(record, Mapping) or record.get("kind") not in RULE_KINDS:
        raise ValidationError("not a stored alert rule", argument="rule")
    params = {k: v for k, v in record.items() if k != "kind"}
    if "statuses" in params and isinstance(params["statuses"], list):
        params["statuses"] = tuple(params["statuses"])
    try:
        rule: AlertRule = RULE_KINDS[record["kind"]](**params)
    except TypeError as err:
        raise ValidationError(
            f"a stored {record['kind']} rule has unknown fields ({err})", argument="rule"
        ) from None
    return rule
