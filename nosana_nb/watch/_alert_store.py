"""The alerts' file beside the watcher's journal: rules, open episodes and recent events.

``history.jsonl`` -> ``history.alerts.json``. The whole file is rewritten on every change
(a temporary file, then an atomic rename), so a kernel killed mid-write leaves the previous
version. Notifiers are not stored: a webhook URL carries a token, and a callback is code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nosana_nb.core.errors import ValidationError
from nosana_nb.watch._alert_events import AlertEvent
from nosana_nb.watch._alert_rules import AlertRule, rule_from_json

FORMAT_VERSION = 1
KEPT_EVENTS = 500


@dataclass
class Episode:
    """An alert that fired and has not resolved yet."""

    started_at: datetime
    message: str
    severity: str
    deployment: str | None = None
    job: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "message": self.message,
            "severity": self.severity,
            "deployment": self.deployment,
            "job": self.job,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Episode:
        stamp = datetime.fromisoformat(record["started_at"])
        return cls(
            started_at=stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC),
            message=str(record["message"]),
            severity=str(record.get("severity", "warning")),
            deployment=record.get("deployment"),
            job=record.get("job"),
            details=dict(record.get("details") or {}),
        )


@dataclass
class AlertsState:
    rules: dict[str, AlertRule] = field(default_factory=dict)
    episodes: dict[str, dict[str, Episode]] = field(default_factory=dict)
    events: list[AlertEvent] = field(default_factory=list)


def alerts_path(journal: Path) -> Path:
    """Where the alerts of the watcher whose journal is ``journal`` are kept."""
    base = journal.name[: -len(journal.suffix)] if journal.suffix else journal.name
    return journal.with_name(f"{base}.alerts.json")


class AlertStore:
    """Reads and atomically rewrites one alerts file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> AlertsState:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return AlertsState()
        try:
            data = json.loads(text)
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"unknown format version {data.get('version')!r}")
            rules = [rule_from_json(r) for r in data["rules"]]
            state = AlertsState(rules={r.title: r for r in rules})
            for name, episodes in data["episodes"].items():
                state.episodes[name] = {k: Episode.from_json(v) for k, v in episodes.items()}
            state.events = [AlertEvent.from_json(e) for e in data["events"]]
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as err:
            raise ValidationError(
                f"{self.path}: not a readable alerts file ({type(err).__name__}: {err})"[:300],
                argument="path",
            ) from None
        return state

    def save(self, state: AlertsState) -> None:
        data = {
            "version": FORMAT_VERSION,
            "rules": [rule.to_json() for rule in state.rules.values()],
            "episodes": {
                name: {key: episode.to_json() for key, episode in episodes.items()}
                for name, episodes in state.episodes.items()
                if episodes
            },
            "events": [event.to_json() for event in state.events[-KEPT_EVENTS:]],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)
