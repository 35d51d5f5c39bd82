"""Edges of the retry policy that a mutation run showed untested: boundaries, argument names,
the Retry-After hand-off, the total-wait accounting, what the loop logs and reports."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import httpx
import pytest

from nosana_nb.core import errors as E
from nosana_nb.core import retry_policy as policy
from nosana_nb.core.retry_policy import Backoff, Deadline, Retrier, Sleeper


@pytest.mark.parametrize(
    ("check", "argument", "bad", "good"),
    [
        (policy.check_max_retries, "max_retries", [-1, 1.0, True, "3", None], [(0, 0), (5, 5)]),
        (
            policy.check_backoff_factor,
            "backoff_factor",
            [True, "1", None, -0.1, math.inf, math.nan],
            [(0, 0.0), (0.5, 0.5)],
        ),
        (
            policy.check_deadline,
            "deadline",
            [0, -1, math.inf, True, "5"],
            [(0.5, 0.5), (None, None)],
        ),
        (
            policy.check_stream_idle_timeout,
            "stream_idle_timeout",
            [0, -0.5, math.nan, False, "5"],
            [(0.25, 0.25), (None, None)],
        ),
        (policy.check_max_response_bytes, "max_response_bytes", [0, -1, 1.0, True], [(1, 1)]),
    ],
)
def test_option_checks_name_their_argument_and_keep_their_boundary(
    check: Any, argument: str, bad: list[Any], good: list[tuple[Any, Any]]
) -> None:
    for value in bad:
        with pytest.raises(E.ValidationError) as caught:
            check(value)
        assert caught.value.argument == argument, value
        assert caught.value.message.startswith(f"{argument} must be"), caught.value.message
    for value, expected in good:
        assert check(value) == expected


def test_a_refused_value_is_quoted_at_most_120_characters() -> None:
    with pytest.raises(E.ValidationError) as caught:
        policy.check_max_response_bytes("x" * 500)
    assert len(caught.value.message) == 120


@pytest.mark.parametrize(
    "kwargs", [{"cap": 0}, {"cap": -1}, {"jitter": -0.1}, {"jitter": 1.5}, {"cap": 0, "jitter": 2}]
)
def test_a_backoff_refuses_a_bad_cap_or_jitter(kwargs: dict[str, float]) -> None:
    with pytest.raises(E.ValidationError, match=r"^a backoff needs cap > 0 and 0 <= jitter <= 1$"):
        Backoff(**kwargs)


def test_a_backoff_accepts_the_edges_of_cap_and_jitter() -> None:
    Backoff(cap=0.5, jitter=0.0)
    Backoff(cap=0.5, jitter=1.0)


def test_a_retry_after_of_one_second_is_honoured_exactly() -> None:
    assert Backoff(factor=10, jitter=0).wait(1, retry_after="1") == 1.0


def test_an_unreadable_retry_after_is_logged_and_the_schedule_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="nosana_nb.retry"):
        assert Backoff(factor=0.5, jitter=0).wait(1, retry_after="soon" + "!" * 50) == 1.0
    assert caplog.messages == [f"ignoring an unreadable Retry-After header: {'soon' + '!' * 36!r}"]


def test_the_total_cap_leaves_no_wait_once_spent() -> None:
    backoff = Backoff(max_retries=None, factor=1, jitter=0, total_cap=1.0)
    assert backoff.wait(1) == 1.0  # 2 s by the schedule, cut to the 1 s of total cap
    assert backoff.wait(1, waited=1.0) == 0.0
    assert backoff.wait(1, waited=5.0) == 0.0


def test_the_retrier_hands_retry_after_over_and_reports_each_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failure = E.RateLimitError(
        "slow down",
        method="GET",
        url="u",
        status_code=429,
        body=None,
        error_text="",
        retry_after="3",
    )
    seen: list[tuple[BaseException, float]] = []
    retrier = Retrier(
        Backoff(max_retries=None, factor=0.01, jitter=0, total_cap=5.0),
        on_retry=lambda err, wait: seen.append((err, wait)),
        what="GET u",
    )
    with caplog.at_level(logging.DEBUG, logger="nosana_nb.retry"):
        assert retrier.next_wait(failure) == 3.0
        assert retrier.next_wait(failure) == 2.0  # the rest of the 5 s total cap
        assert retrier.next_wait(failure) is None
    assert seen == [(failure, 3.0), (failure, 2.0)]
    assert (retrier.retries, retrier.waited) == (2, 5.0)
    assert caplog.messages == [
        "GET u failed (RateLimitError: slow down); retry 1 in 3.00 s (1 retries in total)",
        "GET u failed (RateLimitError: slow down); retry 2 in 2.00 s (2 retries in total)",
    ]
    retrier.reset()
    assert (retrier.retries, retrier.waited) == (0, 0.0)


def test_the_retrier_names_a_request_by_default(caplog: pytest.LogCaptureFixture) -> None:
    failure = E.APIConnectionError("refused", method="GET", url="u", request_sent=False)
    with caplog.at_level(logging.DEBUG, logger="nosana_nb.retry"):
        Retrier(Backoff(factor=0, jitter=0)).next_wait(failure)
    assert caplog.messages[0].startswith("request failed (APIConnectionError: refused)")


def test_the_reconnect_schedule_starts_at_first_and_never_ends() -> None:
    backoff = policy.reconnect_backoff(2.0, 8.0)
    assert (backoff.max_retries, backoff.total_cap) == (None, None)
    assert (backoff.factor, backoff.cap) == (1.0, 8.0)
    assert backoff.jitter == policy.STREAM_RECONNECT_JITTER
    assert 1.5 <= backoff.wait(1) <= 2.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_deadline_edges() -> None:
    clock = Clock()
    deadline = Deadline(10.0, clock=clock)
    clock.now = 9.5
    assert not deadline.expired()  # half a second left
    assert deadline.allows(0.4)
    assert not deadline.allows(0.5)  # a wait that ends at the deadline leaves no time
    clamped = deadline.clamp(httpx.Timeout(connect=None, read=5.0, write=0.2, pool=0.3))
    assert (clamped.connect, clamped.read, clamped.write, clamped.pool) == (0.5, 0.5, 0.2, 0.3)
    clock.now = 10.0
    assert deadline.clamp(httpx.Timeout(5.0)).read == 0.001  # an instant, never "no limit"
    error = deadline.error("GET", "u")
    assert (error.method, error.url, error.deadline) == ("GET", "u", 10.0)
    assert (
        error.message
        == "GET u did not complete within its deadline of 10 s (the client option deadline)"
    )
    with pytest.raises(E.DeadlineExceededError) as caught:
        deadline.check("POST", "v")
    assert (caught.value.method, caught.value.url) == ("POST", "v")
    assert Deadline(None).error("GET", "u").deadline == 0.0


async def test_the_default_sleeper_really_waits() -> None:
    sleeper = Sleeper()
    assert repr(sleeper) == "Sleeper()"
    started = time.monotonic()
    sleeper.sleep(0.02)
    await sleeper.asleep(0.02)
    assert time.monotonic() - started >= 0.04
