"""The service's clock as replies tell it, and failures that cannot heal reported at once."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from email.utils import formatdate

import httpx
import pytest

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import local_network
from nosana_nb.core.errors import APIConnectionError, InternalServerError
from nosana_nb.core.retry_policy import Sleeper
from nosana_nb.core.service_clock import (
    SANDBOX_TIME_HEADER,
    ClockReading,
    ServiceClock,
    format_sandbox_time,
    last_seen_clock,
    parse_sandbox_time,
)

DAY = 86_400.0


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_sandbox_header_round_trips() -> None:
    assert format_sandbox_time(1_700_000_000.123, 60.0) == "1700000000123; speed=60.0"
    assert format_sandbox_time(5.0, None) == "5000; speed=manual"
    assert parse_sandbox_time("1700000000123; speed=60.0") == (1_700_000_000.123, 60.0)
    assert parse_sandbox_time("5000; speed=manual") == (5.0, 0.0)
    for bad in ("", "abc; speed=1", "5000; rate=1", "5000; speed=-1", "5000; speed=nan"):
        assert parse_sandbox_time(bad) is None, bad


def test_precise_header_extrapolates_at_the_simulated_rate() -> None:
    tick = FakeMonotonic()
    clock = ServiceClock(monotonic=tick)
    assert clock.now() is None
    assert not clock.seen
    clock.observe_headers({SANDBOX_TIME_HEADER: "1000000000000; speed=60.0"})
    tick.now += 2.0
    assert clock.now_ts() == pytest.approx(1_000_000_000.0 + 120.0)
    assert clock.rate == 60.0
    assert not clock.frozen


def test_manual_header_means_frozen() -> None:
    tick = FakeMonotonic()
    clock = ServiceClock(monotonic=tick)
    clock.observe_headers({SANDBOX_TIME_HEADER: "1000000000000; speed=manual"})
    tick.now += 3600
    assert clock.now_ts() == 1_000_000_000.0
    assert clock.frozen


def test_date_header_runs_at_wall_rate_and_never_goes_back() -> None:
    tick = FakeMonotonic()
    clock = ServiceClock(monotonic=tick)
    start = 1_700_000_000.0
    clock.observe_headers({"date": formatdate(start, usegmt=True)})
    tick.now += 0.7
    first = clock.now_ts()
    assert first == pytest.approx(start + 0.7)
    # the same second again (Date truncates): the running estimate is kept, not reset back
    clock.observe_headers({"date": formatdate(start, usegmt=True)})
    assert clock.now_ts() >= first  # type: ignore[operator]
    # a Date a day later moves it on
    clock.observe_headers({"date": formatdate(start + DAY, usegmt=True)})
    assert clock.now_ts() == pytest.approx(start + DAY)
    assert not clock.frozen


def test_every_reading_reaches_the_process_wide_clock() -> None:
    process = ServiceClock()
    clock = ServiceClock(forward_to=process)
    clock.observe(ClockReading(123.0, time.monotonic(), 0.0, precise=True))
    assert process.now_ts() == 123.0
    other = ServiceClock(forward_to=process)  # another service, earlier in time: it is heard last
    other.observe(ClockReading(50.0, time.monotonic(), 0.0, precise=True))
    assert process.now_ts() == 50.0


def _clock_reply(unix: float, speed: str) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            text="ok",
            headers={
                "date": formatdate(unix, usegmt=True),
                SANDBOX_TIME_HEADER: f"{int(unix * 1000)}; speed={speed}",
            },
        )

    return httpx.MockTransport(handler)


def test_client_now_is_the_services_time_not_this_machines() -> None:
    service = time.time() + 3 * DAY
    with NosanaClient("local", transport=_clock_reply(service, "manual"), env={}) as client:
        now = client.now()  # asks /health: nothing was heard yet
        assert now == datetime.fromtimestamp(int(service * 1000) / 1000, UTC)
        assert client.service_clock.frozen
        assert last_seen_clock().now_ts() == pytest.approx(service, abs=0.01)
        derived = client.with_options(timeout=5)
        assert derived.service_clock is client.service_clock
        assert client.to_async().service_clock is client.service_clock


async def test_async_client_now() -> None:
    service = time.time() - 5 * DAY
    from nosana_nb.core.client import AsyncNosanaClient

    async with AsyncNosanaClient("local", transport=_clock_reply(service, "60.0"), env={}) as c:
        now = await c.now()
        assert abs(now.timestamp() - service) < 60  # a few ms at 60x
        assert c.service_clock.rate == 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_local_connection_fails_within_a_second_and_says_how_to_start_one() -> None:
    port = _free_port()  # bound, then released: nothing listens there
    network = local_network(f"http://127.0.0.1:{port}")
    with NosanaClient(network, env={}) as client:  # real sleeper, default retries
        started = time.perf_counter()
        with pytest.raises(APIConnectionError) as caught:
            client.markets.list()
        elapsed = time.perf_counter() - started
    assert elapsed <= 1.0, f"took {elapsed:.2f} s"
    assert caught.value.unreachable
    assert "nosana_nb.connect()" in str(caught.value)
    assert "nosana-nb sandbox" in str(caught.value)
    assert client.retries_total == 1  # one quick retry, no ladder


def _dns_failure(request: httpx.Request) -> httpx.Response:
    try:
        raise socket.gaierror(-2, "Name or service not known")
    except socket.gaierror as cause:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request) from cause


def test_a_dns_failure_fails_fast_with_the_default_retries() -> None:
    with NosanaClient("devnet", transport=httpx.MockTransport(_dns_failure), env={}) as client:
        started = time.perf_counter()
        with pytest.raises(APIConnectionError) as caught:
            client.markets.list()
        elapsed = time.perf_counter() - started
    assert elapsed <= 1.0, f"took {elapsed:.2f} s"
    assert caught.value.unreachable
    assert "nosana_nb.connect()" not in str(caught.value)  # not a loopback address


class CountingSleeper(Sleeper):
    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_what_can_heal_is_still_retried_with_backoff() -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "Internal Server Error"})

    sleeper = CountingSleeper()
    transport = httpx.MockTransport(busy)
    with (
        NosanaClient("devnet", transport=transport, env={}, sleeper=sleeper) as client,
        pytest.raises(InternalServerError),
    ):
        client.markets.list()
    assert len(sleeper.waits) == 3  # the whole default ladder
    assert sleeper.waits[-1] > sleeper.waits[0]
