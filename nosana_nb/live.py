"""Kept so ``from nosana_nb.live import ...`` still works; the live figures now live in
:mod:`nosana_nb.widgets`."""

from __future__ import annotations

from nosana_nb.widgets._live import (
    DEFAULT_MIN_INTERVAL,
    detach,
    live_job_timeline,
    live_status_history,
)

__all__ = ["DEFAULT_MIN_INTERVAL", "detach", "live_job_timeline", "live_status_history"]
