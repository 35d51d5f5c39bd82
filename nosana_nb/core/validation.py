"""Argument checks that run before anything is sent, and the service's enumerations.

Every check raises ValidationError saying what was wrong and what is allowed. Time arguments are
seconds (the TypeScript SDK's unit) or ``timedelta``; the API speaks whole minutes, and a value
that does not convert exactly is refused rather than rounded.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from solders.pubkey import Pubkey

from nosana_nb.core.errors import ValidationError

__all__ = [
    "LIMITS",
    "MAX_DURATION",
    "MAX_NAME_LENGTH",
    "MAX_REPLICAS",
    "MAX_TIMEOUT_MINUTES",
    "MIN_INFINITE_TIMEOUT_MINUTES",
    "MIN_ROTATION_GAP_MINUTES",
    "MIN_UPDATE_TIMEOUT_MINUTES",
    "DeploymentStatus",
    "JobState",
    "Strategy",
    "TaskType",
    "check_create_timeout",
    "check_cron",
    "check_duration",
    "check_limit",
    "check_name",
    "check_pubkey",
    "check_replicas",
    "check_status",
    "check_strategy",
    "check_update_timeout",
    "rotation_minutes",
    "timeout_minutes",
]

MAX_REPLICAS = 100  # the dashboard's cap; the API itself has none
MAX_TIMEOUT_MINUTES = 6000  # 100 h, the dashboard's cap
MIN_INFINITE_TIMEOUT_MINUTES = 60
MIN_UPDATE_TIMEOUT_MINUTES = 60
MIN_ROTATION_GAP_MINUTES = 10
MAX_NAME_LENGTH = 100
MAX_DURATION = timedelta(days=3650)
"""The longest duration ``check_duration`` accepts: ten years (a typo, not a plan, beyond)."""
LIMITS = (10, 20, 50, 100)
_BAD_NAME_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Bidi overrides and invisible characters make a name display as something else (Trojan Source);
# ZWJ/ZWNJ stay allowed: emoji sequences and several scripts need them.
_BAD_NAME_CHARACTERS = frozenset(
    "\u061c\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"
)


class Strategy(StrEnum):
    """How a deployment keeps its jobs going: SIMPLE (run once), SIMPLE-EXTEND (extend
    instead of ending), SCHEDULED (on a cron schedule), INFINITE (replace before the timeout)."""

    SIMPLE = "SIMPLE"
    SIMPLE_EXTEND = "SIMPLE-EXTEND"
    SCHEDULED = "SCHEDULED"
    INFINITE = "INFINITE"


class DeploymentStatus(StrEnum):
    """A deployment's status, as the service names it."""

    DRAFT = "DRAFT"
    ERROR = "ERROR"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    ARCHIVED = "ARCHIVED"


class JobState(StrEnum):
    """A job's state: QUEUED, RUNNING, COMPLETED or STOPPED (the on-chain order)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    STOPPED = "STOPPED"

    @classmethod
    def from_wire(cls, value: int | str) -> JobState:
        """From the job list's name or the job detail's number (0-3, the on-chain order)."""
        if type(value) is int and 0 <= value < len(_JOB_STATE_ORDER):
            return _JOB_STATE_ORDER[value]
        if isinstance(value, str) and value.strip().upper() in cls.__members__:
            return cls[value.strip().upper()]
        if isinstance(value, str) and value.strip().isdigit():
            return cls.from_wire(int(value.strip()))
        raise ValidationError(
            f"unknown job state {value!r}; expected 0-3 or one of {', '.join(cls)}",
            argument="state",
        )


_JOB_STATE_ORDER = (JobState.QUEUED, JobState.RUNNING, JobState.COMPLETED, JobState.STOPPED)


class TaskType(StrEnum):
    """What a scheduled task does: LIST a job, EXTEND one, or STOP the deployment."""

    LIST = "LIST"
    EXTEND = "EXTEND"
    STOP = "STOP"


def _type_name(value: object) -> str:
    return type(value).__name__


def _seconds(value: Any, argument: str) -> Fraction:
    """Exact seconds from int/float/Decimal seconds or a timedelta."""
    if isinstance(value, timedelta):
        return Fraction(value.days * 86_400 + value.seconds) + Fraction(value.microseconds, 10**6)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationError(
            f"{argument} must be seconds (int, float or Decimal) or a timedelta; "
            f"got {_type_name(value)}",
            argument=argument,
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{argument} must be a finite number; got {value}", argument=argument)
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError(f"{argument} must be a finite number; got {value}", argument=argument)
    return Fraction(value)


def check_duration(value: Any, *, argument: str) -> timedelta:
    """A positive, finite duration of at most ``MAX_DURATION`` from seconds or a timedelta.

    The one check of a client-side duration (an alert's window, a cost table's timeout): the
    same types, bounds and messages everywhere.

    Args:
        value: seconds (int, float or Decimal; not bool) or a ``timedelta``.
        argument: the argument's name, for the message and ``ValidationError.argument``.

    Returns:
        The duration as a ``timedelta`` (to the microsecond).

    Raises:
        ValidationError: another type, NaN or infinity, zero, negative, shorter than a
            microsecond, or longer than ``MAX_DURATION``.
    """
    seconds = _seconds(value, argument)
    if seconds <= 0:
        raise ValidationError(
            f"{argument} must be a positive duration; got {_as_text(seconds)} seconds",
            argument=argument,
        )
    limit = MAX_DURATION.total_seconds()
    if seconds > limit:
        raise ValidationError(
            f"{argument} must be at most {MAX_DURATION.days} days ({limit:g} seconds); "
            f"got {_as_text(seconds)} seconds",
            argument=argument,
        )
    duration = timedelta(microseconds=round(seconds * 10**6))
    if duration <= timedelta(0):
        raise ValidationError(
            f"{argument} must be at least a microsecond; got {_as_text(seconds)} seconds",
            argument=argument,
        )
    return duration


def _as_text(seconds: Fraction) -> str:
    """Seconds for a message; a value too large for a float still prints (1e+400)."""
    try:
        return f"{float(seconds):g}"
    except OverflowError:
        return f"{Decimal(seconds.numerator) / Decimal(seconds.denominator):.3e}"


def timeout_minutes(value: int | float | Decimal | timedelta, *, argument: str = "timeout") -> int:
    """Seconds or timedelta -> the API's whole minutes; refuses anything that does not divide."""
    seconds = _seconds(value, argument)
    if seconds < 0:
        raise ValidationError(
            f"{argument} must not be negative; got {_as_text(seconds)} seconds", argument=argument
        )
    minutes = seconds / 60
    if minutes.denominator != 1:
        raise ValidationError(
            f"{argument} must be a whole number of minutes; got {_as_text(seconds)} seconds. "
            "Pass seconds that are a multiple of 60 or a timedelta",
            argument=argument,
        )
    return int(minutes)


def _check_minutes(minutes: Any, argument: str) -> int:
    if type(minutes) is not int:
        raise ValidationError(
            f"{argument} in minutes must be an int; got {_type_name(minutes)}. "
            "Convert seconds with timeout_minutes() first",
            argument=argument,
        )
    return minutes


def _check_max_timeout(minutes: int, argument: str, allow_more: bool) -> None:
    if minutes > MAX_TIMEOUT_MINUTES and not allow_more:
        raise ValidationError(
            f"{argument} is {minutes} minutes, above the {MAX_TIMEOUT_MINUTES // 60} h "
            "(6000 min) limit the dashboard enforces; pass allow_more=True to go beyond it",
            argument=argument,
        )


def check_create_timeout(
    minutes: int, strategy: Strategy | str, *, allow_more: bool = False
) -> int:
    """Create needs >= 1 minute, or >= 60 minutes for INFINITE (and <= 100 h by default)."""
    minutes = _check_minutes(minutes, "timeout")
    checked = check_strategy(strategy)
    minimum = MIN_INFINITE_TIMEOUT_MINUTES if checked is Strategy.INFINITE else 1
    if minutes < minimum:
        raise ValidationError(
            f"timeout for a {checked} deployment must be at least {minimum} minute"
            f"{'s' if minimum > 1 else ''} ({minimum * 60} seconds); got {minutes} minutes",
            argument="timeout",
        )
    _check_max_timeout(minutes, "timeout", allow_more)
    return minutes


def check_update_timeout(minutes: int, *, allow_more: bool = False) -> int:
    """The service's update-timeout accepts only >= 60 minutes, whatever the strategy."""
    minutes = _check_minutes(minutes, "timeout")
    if minutes < MIN_UPDATE_TIMEOUT_MINUTES:
        raise ValidationError(
            f"an updated timeout must be at least {MIN_UPDATE_TIMEOUT_MINUTES} minutes "
            f"(3600 seconds); got {minutes} minutes",
            argument="timeout",
        )
    _check_max_timeout(minutes, "timeout", allow_more)
    return minutes


_timeout_minutes = timeout_minutes  # rotation_minutes' keyword shadows the function name


def rotation_minutes(value: int | float | Decimal | timedelta, *, timeout_minutes: int) -> int:
    """INFINITE rotation time: seconds or timedelta -> minutes, < timeout - 10 minutes."""
    minutes = _timeout_minutes(value, argument="rotation_time")
    limit = _check_minutes(timeout_minutes, "timeout") - MIN_ROTATION_GAP_MINUTES
    if minutes >= limit:
        raise ValidationError(
            f"rotation_time must be at least {MIN_ROTATION_GAP_MINUTES} minutes less than the "
            f"timeout ({timeout_minutes} min), so below {max(limit, 0)} minutes; "
            f"got {minutes} minutes",
            argument="rotation_time",
        )
    return minutes


def check_replicas(value: Any, *, minimum: int, allow_more: bool = False) -> int:
    """Replica count: an int >= minimum (1 on create, 0 on update), <= 100 unless allow_more."""
    if type(value) is not int:
        raise ValidationError(
            f"replicas must be a whole number (int); got {_type_name(value)} {value!r}",
            argument="replicas",
        )
    if value < minimum:
        raise ValidationError(
            f"replicas must be at least {minimum}; got {value}", argument="replicas"
        )
    if value > MAX_REPLICAS and not allow_more:
        raise ValidationError(
            f"replicas is {value}, above the dashboard's limit of {MAX_REPLICAS}; "
            "pass allow_more=True to go beyond it",
            argument="replicas",
        )
    return value


def check_pubkey(value: Any, *, argument: str) -> str:
    """A base58 Solana address (32 bytes; off-curve is fine). Returns the canonical string."""
    if isinstance(value, Pubkey):
        return str(value)
    if not isinstance(value, str):
        raise ValidationError(
            f"{argument} must be a base58 Solana address (str); got {_type_name(value)}",
            argument=argument,
        )
    try:
        parsed = Pubkey.from_string(value)
    except ValueError:
        # Only short values are echoed: a long one may be a pasted secret key.
        shown = repr(value) if len(value) <= 44 else f"a {len(value)}-character string"
        raise ValidationError(
            f"{argument} must be a base58 Solana address (32 bytes, 32-44 characters); got {shown}",
            argument=argument,
        ) from None
    return str(parsed)


PATH_ID_LENGTHS = (43, 44)
"""The service's path ids (deployment, job, vault) are 43-44 base58 characters; a shorter
valid address (32 bytes with leading zeros) is refused by the service with a 400."""


def check_path_id(value: Any, *, argument: str) -> str:
    """An address the service accepts in a URL path: a base58 Solana address of 43-44 chars."""
    address = check_pubkey(value, argument=argument)
    if len(address) not in PATH_ID_LENGTHS:
        raise ValidationError(
            f"{argument} {address!r} has {len(address)} characters; the service accepts only "
            "43-44 character addresses in request paths (it answers 400 otherwise)",
            argument=argument,
        )
    return address


def _enum_value(value: Any, enum: type[StrEnum], argument: str) -> Any:
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        wanted = value.strip().upper().replace("_", "-")
        for member in enum:
            if member.value.replace("_", "-") == wanted:
                return member
    allowed = ", ".join(member.value for member in enum)
    raise ValidationError(f"{argument} must be one of {allowed}; got {value!r}", argument=argument)


def check_strategy(value: Any) -> Strategy:
    """SIMPLE, SIMPLE-EXTEND, SCHEDULED or INFINITE (case and ``_``/``-`` forgiven)."""
    result: Strategy = _enum_value(value, Strategy, "strategy")
    return result


def check_status(value: Any) -> DeploymentStatus:
    result: DeploymentStatus = _enum_value(value, DeploymentStatus, "status")
    return result


def check_cron(expr: Any, *, argument: str = "schedule") -> str:
    """A standard 5-field cron expression (minute hour day month weekday)."""
    if not isinstance(expr, str):
        raise ValidationError(
            f"{argument} must be a cron string like '0 * * * *'; got {_type_name(expr)}",
            argument=argument,
        )
    fields = expr.split()
    if len(fields) != 5:
        raise ValidationError(
            f"{argument} must have exactly 5 fields (minute hour day-of-month month "
            f"day-of-week), e.g. '0 0 * * *'; got {len(fields)} in {expr!r}",
            argument=argument,
        )
    normalized = " ".join(fields)
    from croniter import croniter  # imported on first use: most sessions never check a cron

    if not normalized.isascii() or not croniter.is_valid(normalized):
        raise ValidationError(
            f"{argument} {expr!r} is not a valid cron expression; "
            "e.g. '*/15 * * * *' (every 15 minutes) or '0 9 * * 1-5' (weekdays at 9:00)",
            argument=argument,
        )
    if not _fires(normalized):
        raise ValidationError(
            f"{argument} {expr!r} never fires (no such date, e.g. 31 February); "
            "choose a day that exists",
            argument=argument,
        )
    return normalized


def _fires(expr: str) -> bool:
    from croniter import CroniterBadDateError, croniter

    try:
        croniter(expr, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        return False
    return True


def check_name(value: Any, *, allow_empty: bool) -> str:
    """A deployment name: text without control characters, at most 100 characters."""
    if not isinstance(value, str):
        raise ValidationError(f"name must be a str; got {_type_name(value)}", argument="name")
    name = value.strip()
    if not name and not allow_empty:
        raise ValidationError("name must not be empty or only whitespace", argument="name")
    bad = [
        ch
        for ch in name
        if unicodedata.category(ch) in _BAD_NAME_CATEGORIES or ch in _BAD_NAME_CHARACTERS
    ]
    if bad:
        raise ValidationError(
            "name must not contain control characters, line breaks or invisible/bidi "
            f"formatting characters; found {bad[0]!r}",
            argument="name",
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"name must be at most {MAX_NAME_LENGTH} characters; got {len(name)}",
            argument="name",
        )
    return name


def check_limit(value: Any) -> int:
    """Page size: one of 10, 20, 50, 100 (the service's allowed values)."""
    if type(value) is not int or value not in LIMITS:
        raise ValidationError(
            f"limit must be one of {', '.join(map(str, LIMITS))}; got {value!r}", argument="limit"
        )
    return value
