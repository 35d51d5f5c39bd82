"""Tunable constants of the sandbox worker; the defaults are the real service's configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerConfig:
    """Every number the worker uses; tests keep the defaults and jump with the manual clock."""

    # Retry ladders: delay before retry n is min(base * multiplier**n, max).
    retry_base_s: float = 30.0
    retry_max_s: float = 600.0
    retry_multiplier: float = 2.0
    funds_retry_base_s: float = 600.0
    funds_retry_max_s: float = 21_600.0
    funds_retry_multiplier: float = 2.0
    max_inflight_retries: int = 60
    """At this many consecutive retries a task is dropped and the deployment goes to ERROR."""
    max_attempts: int = 5
    """Claims that never finished (a crash mid-task); checked when a worker restarts."""
    funds_error_markers: tuple[str, ...] = ("InsufficientFundsForRent", "Insufficient credits")

    # SIMPLE-EXTEND: first extension at T - clamp(0.1 T, min, max), T the job timeout.
    extend_buffer_fraction: float = 0.1
    extend_buffer_min_s: float = 60.0
    extend_buffer_max_s: float = 300.0

    # INFINITE rapid-completion fail-safe: when at least `rapid_job_count` recent completed jobs
    # all ran under `rapid_threshold_s`, throttle the next replacement on the cooldown ladder;
    # at `rapid_max_streak` such rounds in a row, stop the deployment.
    rapid_job_count: int = 3
    rapid_threshold_s: float = 5 * 60
    rapid_cooldown_base_s: float = 60.0
    rapid_cooldown_max_s: float = 3600.0
    rapid_cooldown_multiplier: float = 2.0
    rapid_max_streak: int = 8

    # Simulated nodes (network.py).
    claim_delay_s: tuple[int, int] = (5, 60)
    """A queued job is claimed this many seconds (uniform, inclusive) after a node is free."""
    early_exit_probability: float = 0.2
    """Share of containers that exit on their own before the on-chain timeout."""
    early_exit_span: tuple[float, float] = (0.05, 0.9)
    """An early exit happens at this fraction (uniform) of the job's initial timeout."""
    failure_probability: float = 0.1
    """Share of jobs whose container fails (non-zero exit, error lines in the results)."""

    # Fairness: no task of one deployment runs unbounded work while others wait.
    units_per_task_run: int = 10
    """Jobs a LIST lists (or a STOP ends) in one run; the rest continues a poll later, after
    the other deployments' due tasks. The real consumer takes 10 tasks per 1 s poll and
    confirms each listing in its own transaction, so no deployment lists a million at once."""
    task_poll_s: float = 1.0
    """Simulated seconds until a LIST or STOP with jobs left runs again (the consumer's poll)."""

    # Execution.
    poll_interval_s: float = 0.05
    """Wall seconds between background passes when nothing wakes the worker."""
    max_units_per_pass: int = 100_000
    """Guard against a runaway loop at one simulated instant."""

    def __post_init__(self) -> None:
        low, high = self.claim_delay_s
        if not 0 <= low <= high:
            raise ValueError("claim_delay_s must be (low, high) with 0 <= low <= high")
        if not 0.0 <= self.early_exit_probability <= 1.0:
            raise ValueError("early_exit_probability must be within [0, 1]")
        if not 0.0 <= self.failure_probability <= 1.0:
            raise ValueError("failure_probability must be within [0, 1]")
        span_low, span_high = self.early_exit_span
        if not 0.0 < span_low <= span_high < 1.0:
            raise ValueError("early_exit_span must be (low, high) with 0 < low <= high < 1")
        if self.max_inflight_retries < 0 or self.max_attempts < 1:
            raise ValueError("max_inflight_retries must be >= 0 and max_attempts >= 1")
        if self.poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        if self.units_per_task_run < 1 or not self.task_poll_s > 0:
            raise ValueError("units_per_task_run must be >= 1 and task_poll_s positive")


def ladder_delay(retries: int, *, base: float, multiplier: float, maximum: float) -> float:
    """Cooldown before retry number ``retries`` (0-based): min(base * multiplier**n, maximum)."""
    if retries < 0:
        raise ValueError("retries must be >= 0")
    # Cap the exponent so huge retry counts do not overflow the float.
    exponent = min(retries, 64)
    return float(min(base * multiplier**exponent, maximum))
