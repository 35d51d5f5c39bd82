"""Argument checks: the ugly inputs a notebook user can type."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_nb.core.errors import ValidationError
from nosana_nb.core.validation import (
    MAX_REPLICAS,
    DeploymentStatus,
    JobState,
    Strategy,
    TaskType,
    check_create_timeout,
    check_cron,
    check_limit,
    check_name,
    check_pubkey,
    check_replicas,
    check_status,
    check_strategy,
    check_update_timeout,
    rotation_minutes,
    timeout_minutes,
)

# -- enums -------------------------------------------------------------------------------------


def test_enum_wire_values() -> None:
    assert [s.value for s in Strategy] == ["SIMPLE", "SIMPLE-EXTEND", "SCHEDULED", "INFINITE"]
    assert str(Strategy.SIMPLE_EXTEND) == "SIMPLE-EXTEND"
    assert len(DeploymentStatus) == 8
    assert DeploymentStatus.INSUFFICIENT_FUNDS == "INSUFFICIENT_FUNDS"
    assert [t.value for t in TaskType] == ["LIST", "EXTEND", "STOP"]


@pytest.mark.parametrize(
    ("wire", "state"),
    [
        (0, JobState.QUEUED),
        (1, JobState.RUNNING),
        (2, JobState.COMPLETED),
        (3, JobState.STOPPED),
        ("RUNNING", JobState.RUNNING),
        ("completed", JobState.COMPLETED),
        ("3", JobState.STOPPED),
    ],
)
def test_job_state_from_wire(wire: int | str, state: JobState) -> None:
    assert JobState.from_wire(wire) is state


@pytest.mark.parametrize("wire", [4, -1, True, "DONE", "", 1.0, None])
def test_job_state_from_wire_rejects(wire: Any) -> None:
    with pytest.raises(ValidationError, match="0-3"):
        JobState.from_wire(wire)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SIMPLE", Strategy.SIMPLE),
        ("simple-extend", Strategy.SIMPLE_EXTEND),
        ("SIMPLE_EXTEND", Strategy.SIMPLE_EXTEND),
        (" infinite ", Strategy.INFINITE),
        (Strategy.SCHEDULED, Strategy.SCHEDULED),
    ],
)
def test_check_strategy(value: Any, expected: Strategy) -> None:
    assert check_strategy(value) is expected


@pytest.mark.parametrize("value", ["FOREVER", "", None, 1, "SIMPLE EXTEND"])
def test_check_strategy_rejects_and_lists_choices(value: Any) -> None:
    with pytest.raises(ValidationError, match="SIMPLE, SIMPLE-EXTEND, SCHEDULED, INFINITE"):
        check_strategy(value)


def test_check_status() -> None:
    assert check_status("insufficient_funds") is DeploymentStatus.INSUFFICIENT_FUNDS
    assert check_status(DeploymentStatus.RUNNING) is DeploymentStatus.RUNNING
    with pytest.raises(ValidationError, match="DRAFT"):
        check_status("PAUSED")


# -- timeouts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "minutes"),
    [
        (60, 1),
        (3600, 60),
        (3600.0, 60),
        (Decimal("120"), 2),
        (Decimal("1.2E+2"), 2),
        (timedelta(hours=6), 360),
        (timedelta(seconds=90, microseconds=30_000_000), 2),
        (0, 0),
        (10**12 * 60, 10**12),
    ],
)
def test_timeout_minutes_exact(value: Any, minutes: int) -> None:
    assert timeout_minutes(value) == minutes


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (90, "whole number of minutes; got 90 seconds"),
        (60.5, "whole number of minutes"),
        (timedelta(seconds=61), "whole number of minutes"),
        (timedelta(minutes=1, microseconds=1), "whole number of minutes"),
        (Decimal("60.000001"), "whole number of minutes"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (Decimal("NaN"), "finite"),
        (Decimal("-Infinity"), "finite"),
        (-60, "negative"),
        (timedelta(minutes=-5), "negative"),
        (True, "seconds"),
        ("3600", "seconds"),
        (None, "seconds"),
        ([60], "seconds"),
    ],
)
def test_timeout_minutes_rejects(value: Any, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle) as info:
        timeout_minutes(value, argument="timeout")
    assert info.value.argument == "timeout"


def test_timeout_message_says_what_is_allowed() -> None:
    with pytest.raises(ValidationError) as info:
        timeout_minutes(90)
    assert "multiple of 60 or a timedelta" in str(info.value)


@given(st.integers(min_value=0, max_value=10**9))
def test_whole_minutes_round_trip(minutes: int) -> None:
    assert timeout_minutes(minutes * 60) == minutes
    assert timeout_minutes(timedelta(minutes=minutes)) == minutes


@given(st.integers(min_value=0, max_value=10**9).filter(lambda s: s % 60))
def test_other_seconds_are_refused(seconds: int) -> None:
    with pytest.raises(ValidationError):
        timeout_minutes(seconds)


def test_create_timeout_bounds() -> None:
    assert check_create_timeout(1, "SIMPLE") == 1
    assert check_create_timeout(60, Strategy.INFINITE) == 60
    assert check_create_timeout(6000, "SCHEDULED") == 6000
    assert check_create_timeout(6001, "SIMPLE", allow_more=True) == 6001
    with pytest.raises(ValidationError, match="at least 1 minute"):
        check_create_timeout(0, "SIMPLE")
    with pytest.raises(ValidationError, match="INFINITE deployment must be at least 60 minutes"):
        check_create_timeout(59, "INFINITE")
    with pytest.raises(ValidationError, match="allow_more=True"):
        check_create_timeout(6001, "SIMPLE-EXTEND")
    with pytest.raises(ValidationError, match="must be an int"):
        check_create_timeout(60.0, "SIMPLE")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="strategy"):
        check_create_timeout(60, "NOPE")


def test_update_timeout_bounds() -> None:
    assert check_update_timeout(60) == 60
    with pytest.raises(ValidationError, match="at least 60 minutes"):
        check_update_timeout(59)
    with pytest.raises(ValidationError, match="allow_more"):
        check_update_timeout(10**6)
    assert check_update_timeout(10**6, allow_more=True) == 10**6
    with pytest.raises(ValidationError):
        check_update_timeout(True)


def test_rotation_minutes() -> None:
    assert rotation_minutes(1200, timeout_minutes=60) == 20
    assert rotation_minutes(timedelta(minutes=49), timeout_minutes=60) == 49
    assert rotation_minutes(0, timeout_minutes=60) == 0
    with pytest.raises(ValidationError, match="at least 10 minutes less"):
        rotation_minutes(timedelta(minutes=50), timeout_minutes=60)
    with pytest.raises(ValidationError, match="rotation_time must be a whole number"):
        rotation_minutes(90, timeout_minutes=60)
    with pytest.raises(ValidationError, match="below 0 minutes"):
        rotation_minutes(0, timeout_minutes=5)


# -- replicas, limit ---------------------------------------------------------------------------


def test_check_replicas() -> None:
    assert check_replicas(1, minimum=1) == 1
    assert check_replicas(0, minimum=0) == 0
    assert check_replicas(MAX_REPLICAS, minimum=1) == 100
    assert check_replicas(500, minimum=1, allow_more=True) == 500


@pytest.mark.parametrize(
    ("value", "minimum", "needle"),
    [
        (0, 1, "at least 1"),
        (-1, 0, "at least 0"),
        (101, 1, "limit of 100"),
        (10**30, 1, "limit of 100"),
        (True, 1, "whole number"),
        (2.0, 1, "whole number"),
        (float("nan"), 1, "whole number"),
        ("3", 1, "whole number"),
        (None, 1, "whole number"),
        (Decimal(2), 1, "whole number"),
    ],
)
def test_check_replicas_rejects(value: Any, minimum: int, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle) as info:
        check_replicas(value, minimum=minimum)
    assert info.value.argument == "replicas"


@pytest.mark.parametrize("value", [10, 20, 50, 100])
def test_check_limit(value: int) -> None:
    assert check_limit(value) == value


@pytest.mark.parametrize("value", [0, 5, 25, 1000, True, 10.0, "10", None])
def test_check_limit_rejects(value: Any) -> None:
    with pytest.raises(ValidationError, match="10, 20, 50, 100"):
        check_limit(value)


# -- pubkeys -----------------------------------------------------------------------------------


def test_check_pubkey_accepts_on_and_off_curve() -> None:
    on_curve = str(Keypair().pubkey())
    off_curve, _ = Pubkey.find_program_address(
        [b"vault"], Pubkey.from_string("11111111111111111111111111111111")
    )
    assert not off_curve.is_on_curve()
    assert check_pubkey(on_curve, argument="market") == on_curve
    assert check_pubkey(str(off_curve), argument="vault") == str(off_curve)
    assert check_pubkey(off_curve, argument="vault") == str(off_curve)
    assert (
        check_pubkey("11111111111111111111111111111111", argument="x")
        == "11111111111111111111111111111111"
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq1",
        "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gw",
        "0AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
        " 7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
        "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq\n",
        "7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHé",
        "1" * 44,
        None,
        12345,
        b"7AtiXMSH6R1jjBxrcYjehCkkSF7zvYWte63gwEDBcGHq",
    ],
)
def test_check_pubkey_rejects(value: Any) -> None:
    with pytest.raises(ValidationError, match="base58 Solana address") as info:
        check_pubkey(value, argument="market")
    assert info.value.argument == "market"


def test_check_pubkey_does_not_echo_long_values() -> None:
    secret = str(Keypair())
    with pytest.raises(ValidationError) as info:
        check_pubkey(secret, argument="market")
    assert secret not in str(info.value)
    # base58 of 64 random bytes is 87 or 88 characters long
    assert f"a {len(secret)}-character string" in str(info.value)


# -- cron --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "normalized"),
    [
        ("0 0 * * *", "0 0 * * *"),
        ("*/15 * * * *", "*/15 * * * *"),
        ("  0   9 * *  1-5 ", "0 9 * * 1-5"),
        ("0\t0 1 1 *", "0 0 1 1 *"),
        ("0 0 29 2 *", "0 0 29 2 *"),
    ],
)
def test_check_cron(expr: str, normalized: str) -> None:
    assert check_cron(expr) == normalized


@pytest.mark.parametrize(
    ("expr", "needle"),
    [
        ("* * * *", "exactly 5 fields"),
        ("* * * * * *", "exactly 5 fields"),
        ("@daily", "exactly 5 fields"),
        ("", "exactly 5 fields"),
        ("60 * * * *", "not a valid cron"),
        ("bad bad bad bad bad", "not a valid cron"),
        ("* 24 * * *", "not a valid cron"),
        ("0 0 31 2 *", "never fires"),
        ("٠ * * * *", "not a valid cron"),
        (None, "cron string"),
        (5, "cron string"),
    ],
)
def test_check_cron_rejects(expr: Any, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle) as info:
        check_cron(expr)
    assert info.value.argument == "schedule"


# -- names -------------------------------------------------------------------------------------


def test_check_name() -> None:
    assert check_name("my deployment", allow_empty=False) == "my deployment"
    assert check_name("  padded  ", allow_empty=False) == "padded"
    assert check_name("", allow_empty=True) == ""
    assert check_name("模型 🚀 ünïcödé", allow_empty=False) == "模型 🚀 ünïcödé"
    assert check_name("x" * 100, allow_empty=False) == "x" * 100


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a\nb", "control characters"),
        ("a\x00b", "control characters"),
        ("a\x1bb", "control characters"),
        ("a\u2028b", "control characters"),
        ("x" * 101, "at most 100"),
        (None, "must be a str"),
        (42, "must be a str"),
        (b"name", "must be a str"),
    ],
)
def test_check_name_rejects(value: Any, needle: str) -> None:
    with pytest.raises(ValidationError, match=needle) as info:
        check_name(value, allow_empty=False)
    assert info.value.argument == "name"
