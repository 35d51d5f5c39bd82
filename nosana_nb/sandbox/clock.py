"""Simulated time for the sandbox: every timestamp the sandbox produces comes from a Clock.

Two modes:
- speed mode (demos): simulated time runs ``speed`` times faster than wall time;
- manual mode (tests): time stands still until ``advance()`` or ``set()`` moves it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

DEMO_SPEED = 60.0  # an hour passes in a minute


def epoch_ms(ts: float) -> int:
    """``ts`` in whole milliseconds: rounded to the microsecond (as ``datetime`` reads a float),
    then truncated. Every stamp the sandbox shows derives from this one value, so an ISO time
    and the unix seconds of the same instant never fall in different seconds."""
    return round(ts * 1_000_000) // 1000


def whole_seconds(ts: float) -> int:
    """``ts`` as the whole unix second the chain records (``time_start``, ``time_end``): the
    second :func:`iso` shows for the same ``ts``."""
    return epoch_ms(ts) // 1000


def iso(ts: float) -> str:
    """ISO-8601 UTC with milliseconds, the wire format of the deployment manager."""
    ms = epoch_ms(ts)
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(text: str) -> float:
    """Inverse of :func:`iso`; accepts any RFC 3339 timestamp with a timezone."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp without timezone: {text!r}")
    return dt.timestamp()


class Clock:
    """Thread-safe simulated clock.

    ``speed=None`` means manual mode: time only moves through :meth:`advance` / :meth:`set`.
    """

    def __init__(self, *, speed: float | None = DEMO_SPEED, start: float | None = None) -> None:
        if speed is not None and not (speed > 0):
            raise ValueError("speed must be a positive number or None for manual mode")
        self._lock = threading.Lock()
        self._speed = speed
        self._sim_origin = time.time() if start is None else float(start)
        self._wall_origin = time.monotonic()
        self._listeners: list[threading.Event] = []
        self._on_move: Callable[[float], None] | None = None

    @classmethod
    def manual(cls, start: float | None = None) -> Clock:
        return cls(speed=None, start=start)

    @property
    def speed(self) -> float | None:
        return self._speed

    @property
    def manual_mode(self) -> bool:
        return self._speed is None

    def now(self) -> float:
        """Simulated unix time in seconds."""
        with self._lock:
            if self._speed is None:
                return self._sim_origin
            return self._sim_origin + (time.monotonic() - self._wall_origin) * self._speed

    def now_iso(self) -> str:
        return iso(self.now())

    def now_ms(self) -> int:
        return epoch_ms(self.now())

    def advance(self, seconds: float) -> float:
        """Move simulated time forward (works in both modes); returns the new time."""
        if not (seconds >= 0):
            raise ValueError("cannot move the clock backwards")
        with self._lock:
            self._sim_origin += seconds
            now = self._current_unlocked()
        self._notify()
        return now

    def set(self, ts: float) -> None:
        """Jump to an absolute simulated time (never backwards)."""
        with self._lock:
            current = self._current_unlocked()
            if ts < current:
                raise ValueError("cannot move the clock backwards")
            self._sim_origin += ts - current
        self._notify()

    def set_speed(self, speed: float | None) -> None:
        """Switch mode without a jump in simulated time."""
        if speed is not None and not (speed > 0):
            raise ValueError("speed must be a positive number or None for manual mode")
        with self._lock:
            current = self._current_unlocked()
            self._speed = speed
            self._sim_origin = current
            self._wall_origin = time.monotonic()
        self._notify()

    def wall_seconds_for(self, sim_seconds: float) -> float | None:
        """Wall time until ``sim_seconds`` of simulated time pass (None in manual mode)."""
        with self._lock:
            if self._speed is None:
                return None
            return max(0.0, sim_seconds / self._speed)

    def subscribe(self, event: threading.Event) -> None:
        """``event`` is set whenever the clock is moved by hand (wakes sleeping workers)."""
        with self._lock:
            self._listeners.append(event)

    def persist_with(self, save: Callable[[float], None] | None) -> None:
        """Call ``save(now)`` after every move by hand (advance, set, a change of speed), so a
        killed sandbox resumes no earlier than the time a client was last shown."""
        self._on_move = save

    def _current_unlocked(self) -> float:
        if self._speed is None:
            return self._sim_origin
        return self._sim_origin + (time.monotonic() - self._wall_origin) * self._speed

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
            now = self._current_unlocked()
        if self._on_move is not None:
            self._on_move(now)
        for event in listeners:
            event.set()
