"""Alert rules and the alerts object without a network: validated parameters, pure evaluation
over hand-made facts, and the stored form."""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.core.validation import DeploymentStatus
from nosana_nb.watch import (
    Alerts,
    FailedJobs,
    LogNotifier,
    NearTimeout,
    QueuedTooLong,
    RunwayBelow,
    StatusAlert,
)
from nosana_nb.watch._alert_rules import Facts, JobFact, rule_from_json
from nosana_nb.watch._alert_store import alerts_path

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DEP = "Dep1oyment1111111111111111111111111111111111"
JOB = "Job111111111111111111111111111111111111111111"

BAD_DURATIONS = [0, -1, -0.5, math.nan, math.inf, -math.inf, True, "10", None, 10**12, [5]]


@pytest.mark.parametrize("value", BAD_DURATIONS)
@pytest.mark.parametrize(
    ("rule", "argument"),
    [
        (lambda v: RunwayBelow(v), "threshold"),
        (lambda v: QueuedTooLong(v), "threshold"),
        (lambda v: NearTimeout(v), "within"),
        (lambda v: FailedJobs(3, v), "window"),
    ],
)
def test_bad_durations_are_refused_at_construction(
    rule: object, argument: str, value: object
) -> None:
    with pytest.raises(ValidationError) as caught:
        rule(value)  # type: ignore[operator]
    assert caught.value.argument == argument


@pytest.mark.parametrize("count", [0, -3, 1.5, True, "3", None, 10**9])
def test_bad_failure_counts_are_refused(count: object) -> None:
    with pytest.raises(ValidationError, match="count"):
        FailedJobs(count)  # type: ignore[arg-type]


@pytest.mark.parametrize("statuses", [[], ["BROKEN"], ["RUNNING", "nope"], [1], 5, "ÉRROR"])
def test_unknown_statuses_are_refused(statuses: object) -> None:
    with pytest.raises(ValidationError) as caught:
        StatusAlert(statuses)  # type: ignore[arg-type]
    assert caught.value.argument == "statuses"


def test_other_arguments_are_checked() -> None:
    with pytest.raises(ValidationError, match="funds"):
        RunwayBelow(3600, funds="usd")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="severity"):
        QueuedTooLong(60, severity="meh")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="name"):
        StatusAlert(name="   ")
    with pytest.raises(ValidationError, match="name"):
        StatusAlert(name="x" * 500)


def test_rules_normalise_their_parameters() -> None:
    rule = StatusAlert(["error", DeploymentStatus.INSUFFICIENT_FUNDS, "ERROR"], name=" 🚨 funds ")
    assert rule.statuses == ("ERROR", "INSUFFICIENT_FUNDS")
    assert rule.title == "🚨 funds"
    assert StatusAlert("ERROR").statuses == ("ERROR",)
    assert RunwayBelow(5400).threshold == timedelta(minutes=90)
    assert RunwayBelow(5400).title == "vault runway below 90 min"
    assert FailedJobs(2, timedelta(hours=3)).title == "2+ failed jobs within 3 h"
    assert QueuedTooLong(timedelta(hours=2, minutes=5)).title.endswith("2 h 05 min")
    assert NearTimeout(timedelta(days=3)).title.startswith("running job within 3 d ")
    assert RunwayBelow(timedelta(days=2, hours=5)).title == "vault runway below 2 d 5 h"


@pytest.mark.parametrize(
    "rule",
    [
        StatusAlert(),
        StatusAlert(["ERROR"], name="errored", severity="warning"),
        RunwayBelow(timedelta(hours=2), funds="credits"),
        FailedJobs(5, 1800),
        QueuedTooLong(600.5),
        NearTimeout(120),
    ],
)
def test_rules_round_trip_through_json(rule: object) -> None:
    stored = json.loads(json.dumps(rule.to_json()))  # type: ignore[attr-defined]
    assert rule_from_json(stored) == rule


@pytest.mark.parametrize(
    "record",
    [
        None,
        [],
        {"kind": "nope"},
        {"kind": "status", "colour": "red"},
        {"kind": "queued", "threshold": -1},
    ],
)
def test_stored_rules_that_do_not_parse_are_refused(record: object) -> None:
    with pytest.raises(ValidationError):
        rule_from_json(record)


def facts(**changes: object) -> Facts:
    base = Facts(now=NOW, deployments=(DEP,))
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_status_rule_leaves_unknown_deployments_alone() -> None:
    rule = StatusAlert()
    assert rule.evaluate(facts()) == ({}, {DEP})
    found, unknown = rule.evaluate(facts(statuses={DEP: "INSUFFICIENT_FUNDS"}))
    assert list(found) == [DEP]
    assert unknown == set()
    assert rule.evaluate(facts(statuses={DEP: "RUNNING"})) == ({}, set())


def test_failed_jobs_counts_only_failures_inside_the_window() -> None:
    rule = FailedJobs(2, timedelta(hours=1))
    jobs = {
        "a": JobFact("COMPLETED", ended_at=NOW - timedelta(minutes=10)),
        "b": JobFact("COMPLETED", ended_at=NOW - timedelta(minutes=50)),
        "c": JobFact("COMPLETED", ended_at=NOW - timedelta(hours=2)),  # outside
        "d": JobFact("STOPPED", ended_at=NOW - timedelta(minutes=5)),  # stopped, not failed
        "e": JobFact("RUNNING", started_at=NOW - timedelta(minutes=5)),
    }
    verdicts = {"a": True, "b": True, "c": True, "d": False}
    found, _ = rule.evaluate(facts(jobs={DEP: jobs}, failed=verdicts))
    assert found[DEP].details["failed_jobs"] == ["a", "b"]
    verdicts["b"] = False
    assert rule.evaluate(facts(jobs={DEP: jobs}, failed=verdicts)) == ({}, set())
    # a verdict still missing: unknown, so an open episode is not resolved on a guess
    del verdicts["b"]
    assert rule.evaluate(facts(jobs={DEP: jobs}, failed=verdicts)) == ({}, {DEP})


def test_queued_and_near_timeout_use_the_service_time_given() -> None:
    jobs = {
        "q1": JobFact("QUEUED", queued_at=NOW - timedelta(minutes=11)),
        "q2": JobFact("QUEUED", queued_at=NOW - timedelta(minutes=3)),
        JOB: JobFact("RUNNING", started_at=NOW - timedelta(minutes=55)),
    }
    found, _ = QueuedTooLong(600).evaluate(facts(jobs={DEP: jobs}))
    assert found[DEP].details["jobs"] == ["q1"]
    # the service's listing time wins over the watcher's arrival stamp (which can lag)
    listed = {"q1": NOW - timedelta(minutes=4), "q2": NOW - timedelta(minutes=20)}
    found, _ = QueuedTooLong(600).evaluate(facts(jobs={DEP: jobs}, listed_at=listed))
    assert found[DEP].details["jobs"] == ["q2"]
    assert found[DEP].details["longest_seconds"] == 1200
    rule = NearTimeout(timedelta(minutes=10))
    assert rule.evaluate(facts(jobs={DEP: jobs})) == ({}, {f"{DEP}/{JOB}"})  # timeout unknown
    found, _ = rule.evaluate(facts(jobs={DEP: jobs}, timeouts={DEP: timedelta(hours=1)}))
    assert found[f"{DEP}/{JOB}"].details["seconds_left"] == 300
    found, _ = rule.evaluate(facts(jobs={DEP: jobs}, timeouts={DEP: timedelta(hours=2)}))
    assert found == {}
    extended = facts(
        jobs={DEP: jobs}, timeouts={DEP: timedelta(hours=1)}, strategies={DEP: "SIMPLE-EXTEND"}
    )
    assert rule.evaluate(extended) == ({}, set())  # the service extends those jobs itself


def test_the_jobs_list_overrules_a_stream_that_has_not_caught_up() -> None:
    jobs = {
        "q1": JobFact("QUEUED", queued_at=NOW - timedelta(minutes=30)),
        JOB: JobFact("RUNNING", started_at=NOW - timedelta(minutes=58)),
    }
    moved_on = {"q1": "RUNNING", JOB: "COMPLETED"}
    assert QueuedTooLong(600).evaluate(facts(jobs={DEP: jobs}, listed_state=moved_on)) == (
        {},
        set(),
    )
    near = NearTimeout(600).evaluate(
        facts(jobs={DEP: jobs}, timeouts={DEP: timedelta(hours=1)}, listed_state=moved_on)
    )
    assert near == ({}, set())


def test_runway_rules() -> None:
    rule = RunwayBelow(timedelta(hours=2))
    assert rule.evaluate(facts()) == ({}, {DEP})
    assert rule.evaluate(facts(vault_runway={DEP: None})) == ({}, set())  # not spending
    found, _ = rule.evaluate(facts(vault_runway={DEP: timedelta(minutes=30)}))
    assert "30 min" in found[DEP].message
    credits = RunwayBelow(timedelta(hours=2), funds="credits")
    assert credits.evaluate(facts()) == ({}, {"credits"})
    found, _ = credits.evaluate(facts(credit_runway=timedelta(hours=1), credit_runway_known=True))
    assert list(found) == ["credits"]


def test_alerts_validate_what_they_are_given(tmp_path: Path) -> None:
    alerts = Alerts((DEP,), path=tmp_path / "h.alerts.json")
    with pytest.raises(ValidationError, match="rule"):
        alerts.add("status ERROR")  # type: ignore[arg-type]

    class Custom(StatusAlert):
        pass

    with pytest.raises(ValidationError, match="rule"):
        alerts.add(Custom())  # the alerts file could not read it back
    with pytest.raises(ValidationError, match="notify"):
        alerts.add(StatusAlert(), notify=["not callable"])
    with pytest.raises(ValidationError, match="notify"):
        alerts.add(StatusAlert(), notify=42)
    for bad in (0, -1, math.nan, math.inf, "1", True, 10**9):
        with pytest.raises(ValidationError, match="interval"):
            alerts.interval = bad  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="start"):
        alerts.check()
    with pytest.raises(ValidationError):
        alerts.wait_for_events(kind="exploded")
    alerts.add(StatusAlert(), notify=logging.getLogger("tests.alerts"))
    assert isinstance(alerts._notify[StatusAlert().title][0], LogNotifier)
    alerts.add(StatusAlert(), notify=print)
    alerts.add(StatusAlert(), notify=[LogNotifier()])  # same title: replaces, one rule
    assert alerts.rules == [StatusAlert()]
    assert alerts.remove("status ERROR or INSUFFICIENT_FUNDS")
    assert not alerts.remove(StatusAlert())
    assert alerts.rules == []


def test_an_unreadable_alerts_file_is_an_error_not_silence(tmp_path: Path) -> None:
    path = tmp_path / "h.alerts.json"
    path.write_text('{"version": 1, "rules": [{"kind": "martian"}]', encoding="utf-8")
    with pytest.raises(ValidationError, match="not a readable alerts file"):
        Alerts((DEP,), path=path)
    path.write_text(json.dumps({"version": 99}), encoding="utf-8")
    with pytest.raises(ValidationError, match="version"):
        Alerts((DEP,), path=path)


def test_the_alerts_file_sits_beside_the_journal() -> None:
    assert alerts_path(Path("/x/history.jsonl")) == Path("/x/history.alerts.json")
    assert alerts_path(Path("/x/history")) == Path("/x/history.alerts.json")


def test_log_notifier_checks_its_arguments() -> None:
    with pytest.raises(ValidationError, match="logger"):
        LogNotifier(42)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="level"):
        LogNotifier(level=12345)
    assert "WARNING" in repr(LogNotifier(level=logging.WARNING))
