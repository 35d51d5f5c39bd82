"""Countdown columns on the service's clock: a running job's time left before its timeout, and a
SCHEDULED deployment's next cron firing.

``now`` is always the service's time (DESIGN rule 10): the caller passes what ``utc_now``
resolved, never the wall clock. The schedule fires in UTC (docs/wire-contract.md §8.3); a
deployment that is not going to fire (DRAFT, STOPPING, STOPPED, ARCHIVED, ERROR) has no next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from croniter import croniter

from nosana_nb.frames.schema import DATETIME, DURATION

NOT_FIRING_STATUSES = frozenset({"DRAFT", "STOPPING", "STOPPED", "ARCHIVED", "ERROR"})


def time_remaining(
    state: pd.Series, started_at: pd.Series, timeout: pd.Series, now: pd.Timestamp
) -> pd.Series:
    """RUNNING jobs: ``started_at + timeout - now``, never below zero; NaT for the others."""
    deadline = started_at + timeout.astype(DURATION)
    left = deadline - now
    overdue = np.asarray(left < pd.Timedelta(0), dtype=bool)
    running = np.asarray(state.astype(object) == "RUNNING", dtype=bool)
    # a job past its deadline the service has not ended yet has nothing left, not a negative
    zeroed = left.mask(overdue, pd.Timedelta(0))
    result: pd.Series = zeroed.where(running).astype(DURATION)  # NaT where not running
    return result


def next_runs(
    strategy: pd.Series, status: pd.Series, schedule: pd.Series, now: pd.Timestamp
) -> pd.Series:
    """The first cron firing strictly after ``now`` of each SCHEDULED deployment that fires."""
    start = now.to_pydatetime()
    firings: list[Any] = []
    for kind, state, expression in zip(
        _values(strategy), _values(status), _values(schedule), strict=True
    ):
        firings.append(_next_firing(kind, state, expression, start))
    return pd.Series(pd.to_datetime(firings, utc=True), index=strategy.index).astype(DATETIME)


def _values(series: pd.Series) -> Sequence[object]:
    return [None if pd.isna(v) else v for v in series.astype(object)]


def _next_firing(
    kind: object, state: object, expression: object, start: datetime
) -> datetime | None:
    if kind != "SCHEDULED" or state in NOT_FIRING_STATUSES or not isinstance(expression, str):
        return None
    try:
        firing: datetime = croniter(expression, start).get_next(datetime)
    except (ValueError, KeyError):  # a stored bad cron never fires (the service sticks)
        return None
    return firing
