"""One check for every client-side duration: the alert rules' thresholds and windows and the
cost table's timeout accept the same values and refuse the same ones with the same typed error
and message (``core.validation.check_duration``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.core.validation import MAX_DURATION, check_duration
from nosana_nb.frames import cost_dataframe
from nosana_nb.watch import FailedJobs, NearTimeout, QueuedTooLong, RunwayBelow

MARKET = {
    "address": "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
    "usd_reward_per_hour": 0.048,
    "network_fee_percentage": 10,
}
START = 1_735_689_600
NOW = datetime(2025, 1, 1, 1, tzinfo=UTC)  # an hour after START
JOB = {
    "job": "job-a",
    "deployment": "dep-a",
    "market": MARKET["address"],
    "state": "COMPLETED",
    "time_start": START,
    "time_end": START + 100,
}

# every public place that takes a duration, as (its argument's name, a call with the value)
TAKERS: dict[str, tuple[str, Callable[[Any], object]]] = {
    "cost timeout": (
        "timeout",
        lambda v: cost_dataframe([JOB], [MARKET], timeout=v, now=NOW),
    ),
    "runway threshold": ("threshold", lambda v: RunwayBelow(v)),
    "failed-jobs window": ("window", lambda v: FailedJobs(3, window=v)),
    "queued threshold": ("threshold", lambda v: QueuedTooLong(v)),
    "near-timeout within": ("within", lambda v: NearTimeout(v)),
}

BAD = [
    float("nan"),
    float("inf"),
    -float("inf"),
    Decimal("NaN"),
    0,
    -5,
    timedelta(seconds=-1),
    timedelta(0),
    1e-9,  # positive, but below the microsecond a timedelta holds
    MAX_DURATION.total_seconds() + 1,
    10**400,  # a huge int: refused, not an OverflowError
    True,
    "1h",
    [60],
]


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_every_duration_taker_refuses_alike(value: object) -> None:
    messages = {}
    for what, (argument, call) in TAKERS.items():
        with pytest.raises(ValidationError) as caught:
            call(value)
        assert caught.value.argument == argument, what
        messages[what] = str(caught.value).removeprefix(argument)
    assert len(set(messages.values())) == 1, messages  # one wording, whoever asks
    with pytest.raises(ValidationError) as direct:
        check_duration(value, argument="window")
    assert str(direct.value).removeprefix("window") == next(iter(messages.values()))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (90, timedelta(seconds=90)),
        (1.5, timedelta(seconds=1.5)),
        (Decimal("0.000001"), timedelta(microseconds=1)),
        (timedelta(hours=2), timedelta(hours=2)),
        (MAX_DURATION, MAX_DURATION),
    ],
)
def test_good_durations_are_read_the_same_everywhere(value: object, expected: timedelta) -> None:
    assert check_duration(value, argument="timeout") == expected
    assert NearTimeout(value).within == expected  # type: ignore[arg-type]
    assert FailedJobs(3, window=value).window == expected  # type: ignore[arg-type]
    cost = cost_dataframe([JOB], [MARKET], timeout=value, now=NOW)
    assert len(cost) == 1


def test_messages_say_what_is_allowed() -> None:
    cases = {
        "1h": "window must be seconds (int, float or Decimal) or a timedelta; got str",
        -5: "window must be a positive duration; got -5 seconds",
        float("nan"): "window must be a finite number; got nan",
        10**12: "window must be at most 3650 days (3.1536e+08 seconds); got 1e+12 seconds",
    }
    for value, message in cases.items():
        with pytest.raises(ValidationError) as caught:
            check_duration(value, argument="window")
        assert str(caught.value) == message
