"""Every refusal of core/validation.py, word for word: the argument it names and what it says.

DESIGN rule 5: a refused argument "raises a typed error that says what was wrong and what is
allowed". The message is the contract a notebook user reads, so it is pinned exactly (a mutation
run showed argument names and messages could change unnoticed).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from nosana_nb.core import validation as V
from nosana_nb.core.errors import ValidationError

CASES: list[tuple[str, Callable[[], Any], str, str]] = [
    (
        "job state",
        lambda: V.JobState.from_wire(7),
        "state",
        "unknown job state 7; expected 0-3 or one of QUEUED, RUNNING, COMPLETED, STOPPED",
    ),
    (
        "seconds type",
        lambda: V.timeout_minutes("60"),  # type: ignore[arg-type]
        "timeout",
        "timeout must be seconds (int, float or Decimal) or a timedelta; got str",
    ),
    (
        "not whole minutes",
        lambda: V.timeout_minutes(timedelta(minutes=1, microseconds=500_000)),
        "timeout",
        "timeout must be a whole number of minutes; got 60.5 seconds. Pass seconds that are a "
        "multiple of 60 or a timedelta",
    ),
    (
        "huge negative seconds",  # past a float's range: still a message, not OverflowError
        lambda: V.timeout_minutes(-(10**400)),
        "timeout",
        "timeout must not be negative; got -1.000e+400 seconds",
    ),
    (
        "huge seconds, not whole minutes",
        lambda: V.timeout_minutes(10**400 + 1),
        "timeout",
        "timeout must be a whole number of minutes; got 1.000e+400 seconds. Pass seconds that "
        "are a multiple of 60 or a timedelta",
    ),
    (
        "minutes type",
        lambda: V.check_create_timeout(1.0, "SIMPLE"),  # type: ignore[arg-type]
        "timeout",
        "timeout in minutes must be an int; got float. Convert seconds with timeout_minutes() "
        "first",
    ),
    (
        "create minimum",
        lambda: V.check_create_timeout(0, "SIMPLE"),
        "timeout",
        "timeout for a SIMPLE deployment must be at least 1 minute (60 seconds); got 0 minutes",
    ),
    (
        "infinite minimum",
        lambda: V.check_create_timeout(59, "INFINITE"),
        "timeout",
        "timeout for a INFINITE deployment must be at least 60 minutes (3600 seconds); "
        "got 59 minutes",
    ),
    (
        "create maximum",
        lambda: V.check_create_timeout(6001, "SIMPLE"),
        "timeout",
        "timeout is 6001 minutes, above the 100 h (6000 min) limit the dashboard enforces; "
        "pass allow_more=True to go beyond it",
    ),
    (
        "update minimum",
        lambda: V.check_update_timeout(59),
        "timeout",
        "an updated timeout must be at least 60 minutes (3600 seconds); got 59 minutes",
    ),
    (
        "update minutes type",
        lambda: V.check_update_timeout("60"),  # type: ignore[arg-type]
        "timeout",
        "timeout in minutes must be an int; got str. Convert seconds with timeout_minutes() first",
    ),
    (
        "update maximum",
        lambda: V.check_update_timeout(6001),
        "timeout",
        "timeout is 6001 minutes, above the 100 h (6000 min) limit the dashboard enforces; "
        "pass allow_more=True to go beyond it",
    ),
    (
        "rotation gap",
        lambda: V.rotation_minutes(3000, timeout_minutes=60),
        "rotation_time",
        "rotation_time must be at least 10 minutes less than the timeout (60 min), so below 50 "
        "minutes; got 50 minutes",
    ),
    (
        "rotation timeout type",
        lambda: V.rotation_minutes(600, timeout_minutes=60.0),  # type: ignore[arg-type]
        "timeout",
        "timeout in minutes must be an int; got float. Convert seconds with timeout_minutes() "
        "first",
    ),
    (
        "replicas type",
        lambda: V.check_replicas(1.0, minimum=1),
        "replicas",
        "replicas must be a whole number (int); got float 1.0",
    ),
    (
        "replicas maximum",
        lambda: V.check_replicas(101, minimum=1),
        "replicas",
        "replicas is 101, above the dashboard's limit of 100; pass allow_more=True to go beyond it",
    ),
    (
        "pubkey type",
        lambda: V.check_pubkey(5, argument="market"),
        "market",
        "market must be a base58 Solana address (str); got int",
    ),
    (
        "short bad pubkey is quoted",
        lambda: V.check_pubkey("1" * 44, argument="market"),
        "market",
        f"market must be a base58 Solana address (32 bytes, 32-44 characters); got {'1' * 44!r}",
    ),
    (
        "long bad pubkey is only measured",
        lambda: V.check_pubkey("1" * 45, argument="market"),
        "market",
        "market must be a base58 Solana address (32 bytes, 32-44 characters); got a 45-character "
        "string",
    ),
    (
        "strategy",
        lambda: V.check_strategy("FOREVER"),
        "strategy",
        "strategy must be one of SIMPLE, SIMPLE-EXTEND, SCHEDULED, INFINITE; got 'FOREVER'",
    ),
    (
        "status",
        lambda: V.check_status("DONE"),
        "status",
        "status must be one of DRAFT, ERROR, STARTING, RUNNING, STOPPING, STOPPED, "
        "INSUFFICIENT_FUNDS, ARCHIVED; got 'DONE'",
    ),
    (
        "cron type",
        lambda: V.check_cron(5),
        "schedule",
        "schedule must be a cron string like '0 * * * *'; got int",
    ),
    (
        "cron syntax",
        lambda: V.check_cron("61 * * * *"),
        "schedule",
        "schedule '61 * * * *' is not a valid cron expression; e.g. '*/15 * * * *' (every 15 "
        "minutes) or '0 9 * * 1-5' (weekdays at 9:00)",
    ),
    (
        "cron never fires",
        lambda: V.check_cron("0 0 31 2 *"),
        "schedule",
        "schedule '0 0 31 2 *' never fires (no such date, e.g. 31 February); choose a day that "
        "exists",
    ),
    (
        "name type",
        lambda: V.check_name(5, allow_empty=False),
        "name",
        "name must be a str; got int",
    ),
    (
        "empty name",
        lambda: V.check_name("  ", allow_empty=False),
        "name",
        "name must not be empty or only whitespace",
    ),
    (
        "control character in name",
        lambda: V.check_name("a\nb", allow_empty=False),
        "name",
        "name must not contain control characters, line breaks or invisible/bidi formatting "
        "characters; found '\\n'",
    ),
    ("limit", lambda: V.check_limit(15), "limit", "limit must be one of 10, 20, 50, 100; got 15"),
]


@pytest.mark.parametrize(("case", "call", "argument", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_refusal_names_its_argument_and_says_what_is_allowed(
    case: str, call: Callable[[], Any], argument: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.argument == argument
    assert caught.value.message == message


def test_microseconds_count_as_millionths_of_a_second() -> None:
    # 60 microseconds are not a minute, however the fraction is built
    with pytest.raises(ValidationError, match="whole number of minutes; got 6e-05 seconds"):
        V.timeout_minutes(timedelta(microseconds=60))
    assert V.timeout_minutes(timedelta(minutes=2)) == 2


def test_custom_argument_names_reach_the_error() -> None:
    with pytest.raises(ValidationError) as caught:
        V.timeout_minutes(-60, argument="rotation_time")
    assert caught.value.argument == "rotation_time"
    assert caught.value.message == "rotation_time must not be negative; got -60 seconds"
