"""Retry waits on the sandbox's manual clock: simulated time moves, no test ever sleeps."""

from __future__ import annotations

from nosana_nb.core.retry_policy import Sleeper
from nosana_nb.sandbox.clock import Clock


class ManualSleeper(Sleeper):
    """A Sleeper that records each wait and moves a manual clock by it instead of sleeping."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock if clock is not None else Clock.manual(start=0.0)
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
