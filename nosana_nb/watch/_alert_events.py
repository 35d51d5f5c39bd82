"""What an alert says when it fires or resolves: :class:`AlertEvent`, and the notifier protocol."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["AlertEvent", "EventKind", "Notifier", "NotifierLike"]

EventKind = Literal["fired", "resolved"]


@dataclass(frozen=True)
class AlertEvent:
    """One alert firing or resolving.

    Attributes:
        kind: "fired" when an episode begins, "resolved" when it ends.
        rule: the rule's title (its name, or a description of its parameters).
        rule_kind: "status", "runway", "failed_jobs", "queued" or "near_timeout".
        key: what the episode is about: a deployment id, "<deployment>/<job>", or "credits".
        message: one human sentence (for a resolve: what was wrong, and that it cleared).
        severity: "warning" or "critical".
        at: when it happened, on the service's clock (UTC).
        started_at: when the episode began (equal to ``at`` for "fired").
        deployment: the deployment concerned, if any.
        job: the job concerned, if any.
        details: the numbers behind the message (JSON-safe).
    """

    kind: EventKind
    rule: str
    rule_kind: str
    key: str
    message: str
    severity: str
    at: datetime
    started_at: datetime
    deployment: str | None = None
    job: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """A one-line headline: "🔴 status ERROR: deployment Abcd…wxyz is ERROR"."""
        mark = "✅" if self.kind == "resolved" else ("🔴" if self.severity == "critical" else "🟠")
        state = "resolved" if self.kind == "resolved" else "alert"
        return f"{mark} {state}: {self.rule}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The event as JSON.

        Returns:
            A JSON-safe dict (times as ISO 8601 with their UTC offset).
        """
        return {
            "kind": self.kind,
            "rule": self.rule,
            "rule_kind": self.rule_kind,
            "key": self.key,
            "message": self.message,
            "severity": self.severity,
            "at": self.at.isoformat(),
            "started_at": self.started_at.isoformat(),
            "deployment": self.deployment,
            "job": self.job,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> AlertEvent:
        """The inverse of :meth:`to_json`.

        Args:
            record: a dict made by :meth:`to_json`.

        Returns:
            The event.

        Raises:
            KeyError: a field is missing.
            ValueError: a time is not ISO 8601.
        """
        return cls(
            kind=record["kind"],
            rule=record["rule"],
            rule_kind=record["rule_kind"],
            key=record["key"],
            message=record["message"],
            severity=record["severity"],
            at=_time(record["at"]),
            started_at=_time(record["started_at"]),
            deployment=record.get("deployment"),
            job=record.get("job"),
            details=dict(record.get("details") or {}),
        )


def _time(text: str) -> datetime:
    stamp = datetime.fromisoformat(text)
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


@runtime_checkable
class Notifier(Protocol):
    """Anything with ``notify(event)``; a plain callable ``f(event)`` works too.

    Notifiers are called on the watcher's thread, one after the other: a slow one delays the
    next alert (the webhook notifier queues and returns at once). An exception from one is
    logged and skipped.
    """

    def notify(self, event: AlertEvent) -> None:
        """Deliver ``event``. Called on the watcher's thread: return quickly.

        Args:
            event: the alert that fired or resolved.
        """


NotifierLike = Notifier | Callable[[AlertEvent], Any]
