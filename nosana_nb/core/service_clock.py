"""The service's clock, as its replies tell it (DESIGN rule 10: one clock).

Every "now" of the toolkit - an open job's cost, an open timeline bar, a runway, a watcher row,
a wait - is the *service's* time, not this machine's. Every reply of the deployment manager
carries a ``Date`` header (1 s resolution); the sandbox also sends
``X-Nosana-Sandbox-Time: <unix ms>; speed=<float or manual>``, its simulated time to the
millisecond and how fast it runs. A :class:`ServiceClock` keeps the newest reading and
extrapolates from it with the wall clock's monotonic time at the service's rate (1 for a real
server, the simulated speed for the sandbox, 0 for a frozen sandbox clock).

Each client has one (``client.now()``, shared with the clients derived from it), and every
reading is also kept process-wide: :func:`last_seen_now` is the clock of the service this
process heard from last. The rule for a "now" that was not given
(``nosana_nb.frames.utc_now``): ``now=`` a datetime -> that; ``now=`` a client -> its
``now()``; omitted -> the service this process heard from last; no service heard from yet ->
the wall clock (there is no service to ask).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

__all__ = [
    "SANDBOX_TIME_HEADER",
    "ClockReading",
    "ServiceClock",
    "format_sandbox_time",
    "last_seen_clock",
    "last_seen_now",
    "parse_sandbox_time",
]

SANDBOX_TIME_HEADER: Final = "x-nosana-sandbox-time"
DATE_RESOLUTION_S: Final = 1.0


@dataclass(frozen=True)
class ClockReading:
    """The service's time when a reply arrived, and how fast it runs."""

    service_time: float
    """Unix seconds on the service's clock."""
    received: float
    """``time.monotonic()`` on this machine when the reply arrived."""
    rate: float
    """Service seconds per wall second: 1 for a real server, 0 for a frozen sandbox clock."""
    precise: bool
    """From the sandbox's millisecond header (else from ``Date``, whole seconds)."""

    def at(self, monotonic: float) -> float:
        return self.service_time + max(0.0, monotonic - self.received) * self.rate


def format_sandbox_time(unix_seconds: float, speed: float | None) -> str:
    """The ``X-Nosana-Sandbox-Time`` value: ``<unix ms>; speed=<float or manual>``."""
    rate = "manual" if speed is None else repr(float(speed))
    return f"{int(unix_seconds * 1000)}; speed={rate}"


def parse_sandbox_time(value: str) -> tuple[float, float] | None:
    """(unix seconds, rate) from an ``X-Nosana-Sandbox-Time`` value; None when malformed."""
    stamp, _, rest = value.partition(";")
    key, _, rate_text = rest.strip().partition("=")
    try:
        unix_ms = int(stamp.strip())
        rate = 0.0 if rate_text.strip() == "manual" else float(rate_text)
    except ValueError:
        return None
    if key.strip() != "speed" or not math.isfinite(rate) or rate < 0 or unix_ms < 0:
        return None
    return unix_ms / 1000, rate


def _date_header(value: str) -> float | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


class ServiceClock:
    """The newest reading of one service's clock, extrapolated; thread-safe.

    ``now()`` never goes backwards: a reading that would move it back (the ``Date`` header
    truncates to the second) is absorbed until the service's time catches up.
    """

    def __init__(
        self,
        *,
        forward_to: ServiceClock | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._reading: ClockReading | None = None
        self._latest = -math.inf
        self._forward_to = forward_to
        self._monotonic = monotonic

    @property
    def reading(self) -> ClockReading | None:
        with self._lock:
            return self._reading

    @property
    def seen(self) -> bool:
        """Whether any reply has told this clock the service's time yet."""
        return self.reading is not None

    @property
    def frozen(self) -> bool:
        """True when the service said its clock stands still (a sandbox in manual mode)."""
        reading = self.reading
        return reading is not None and reading.precise and reading.rate == 0

    @property
    def rate(self) -> float | None:
        reading = self.reading
        return None if reading is None else reading.rate

    def observe_headers(self, headers: Mapping[str, str], received: float | None = None) -> None:
        """Take the service's time from a reply's ``X-Nosana-Sandbox-Time`` or ``Date``."""
        at = self._monotonic() if received is None else received
        precise = headers.get(SANDBOX_TIME_HEADER)
        parsed = parse_sandbox_time(precise) if precise else None
        if parsed is not None:
            self.observe(ClockReading(parsed[0], at, parsed[1], precise=True))
            return
        date = headers.get("date")
        stamp = _date_header(date) if date else None
        if stamp is not None:
            self.observe(ClockReading(stamp, at, 1.0, precise=False))

    def observe(self, reading: ClockReading) -> None:
        with self._lock:
            current = self._reading
            if not reading.precise and current is not None and not current.precise:
                # Date says the time lies in [date, date + 1 s): keep an estimate that agrees
                predicted = current.at(reading.received)
                if reading.service_time <= predicted < reading.service_time + DATE_RESOLUTION_S:
                    reading = current
            elif not reading.precise and current is not None and current.precise:
                # a precise clock (the sandbox) is not overruled by a coarser header of the same
                # service; a coarse-only service never sends the precise one
                reading = current
            self._reading = reading
        if self._forward_to is not None and reading is not current:
            self._forward_to.replace(reading)

    def at_least(self, unix_seconds: float) -> None:
        """The service stamped something at ``unix_seconds`` (a job's start or end in a stream
        message): its clock has reached that time, whatever the last reply said. A frozen
        sandbox moved by hand sends no reply to this client, but its stream tells."""
        with self._lock:
            current = self._reading
            if current is None or current.at(self._monotonic()) >= unix_seconds:
                return
            reading = ClockReading(unix_seconds, self._monotonic(), current.rate, current.precise)
            self._reading = reading
        if self._forward_to is not None:
            self._forward_to.replace(reading)

    def replace(self, reading: ClockReading) -> None:
        """Take ``reading`` as it is: the process-wide clock follows the service heard last,
        which may be another service than before (its time may even be earlier)."""
        with self._lock:
            self._reading = reading
            self._latest = -math.inf

    def now_ts(self) -> float | None:
        """The service's time in unix seconds, or None before any reply."""
        with self._lock:
            if self._reading is None:
                return None
            value = max(self._latest, self._reading.at(self._monotonic()))
            self._latest = value
            return value

    def now(self) -> datetime | None:
        """The service's time as a UTC datetime, or None before any reply."""
        stamp = self.now_ts()
        return None if stamp is None else datetime.fromtimestamp(stamp, UTC)

    def __repr__(self) -> str:
        reading = self.reading
        if reading is None:
            return "ServiceClock(unseen)"
        rate = "frozen" if self.frozen else f"rate={reading.rate:g}"
        return f"ServiceClock(now={self.now()!r}, {rate})"


_LAST_SEEN: Final = ServiceClock()


def last_seen_clock() -> ServiceClock:
    """The process-wide clock: every client's readings land here too."""
    return _LAST_SEEN


def last_seen_now() -> datetime | None:
    """The time of the service this process heard from last (None before any reply)."""
    return _LAST_SEEN.now()
