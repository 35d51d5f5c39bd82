"""What every benchmark shares: interleaved medians, the result row and the one table.

Each ``bench_<area>.py`` exposes ``add_arguments(parser)`` and ``measure(args) -> list[Result]``
and still runs on its own (``python bench/bench_client.py``); ``bench/run_all.py`` (``make
bench``) runs them all in one process and prints one table. The machine is shared, so a
comparison always runs ours and its baseline interleaved, round after round, and reports the
median: background load lands on both alike.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One line of the table. ``ratio`` is ours ÷ baseline (or a plain value); ``met`` is None
    for a line reported without a target (a curve)."""

    workload: str
    size: str
    ours: str
    baseline: str
    ratio: str
    target: str
    met: bool | None

    def cells(self) -> tuple[str, ...]:
        met = "-" if self.met is None else ("yes" if self.met else "NO")
        return (self.workload, self.size, self.ours, self.baseline, self.ratio, self.target, met)


HEADER = ("workload", "size", "ours", "baseline", "ratio", "target", "met?")


def seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} µs"


def ratio_at_most(
    workload: str, size: str, ours: float, baseline: float, limit: float, *, unit: str = "s"
) -> Result:
    """A 'ours ≤ limit × baseline' line (times in seconds unless ``unit`` says otherwise)."""
    ratio = ours / baseline
    show = seconds if unit == "s" else (lambda v: f"{v:,.1f} {unit}")
    target = f"≤ {limit:.2f}×"
    return Result(
        workload, size, show(ours), show(baseline), f"{ratio:.2f}×", target, ratio <= limit
    )


def interleaved_medians(
    functions: dict[str, Callable[[], object]], rounds: int, *, warmup: int = 1
) -> dict[str, float]:
    """Median wall time of each function over ``rounds`` rounds that alternate between them."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    samples: dict[str, list[float]] = {name: [] for name in functions}
    for round_number in range(rounds):
        # alternate the order too, so neither side always runs right after the other's garbage
        names = list(functions) if round_number % 2 == 0 else list(reversed(functions))
        for name in names:
            gc.collect()
            started = time.perf_counter()
            functions[name]()
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in samples.items()}


def print_table(results: Sequence[Result]) -> None:
    rows = [HEADER, *(r.cells() for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    print("\n".join(line.rstrip() for line in lines))


def run_alone(
    add_arguments: Callable[[argparse.ArgumentParser], None],
    measure: Callable[[argparse.Namespace], list[Result]],
    description: str,
) -> None:
    """``python bench/bench_x.py``: parse this benchmark's flags, measure, print its table."""
    parser = argparse.ArgumentParser(description=description)
    add_arguments(parser)
    print_table(measure(parser.parse_args()))
