"""Fast parsing of the service's fixed timestamp format ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

The deployment manager writes every date in exactly this 24-character form
(docs/wire-contract.md §2), and ``pandas.to_datetime`` spends most of a large jobs frame's build
time on it. Here the text becomes a byte matrix and its digits are read with array arithmetic,
block by block. Missing values (None, NaN, NA, blank) become NaT; any other value not in exactly
this form, or not a real date in the ``datetime64[ns]`` range, makes the whole column return
``None``, and the caller then falls back to ``pandas.to_datetime``, which reports it.

numpy's own bytes-to-datetime cast is not used: in numpy 2.4.6 a cast that fails (one
``2025-02-30`` among some hundreds of valid dates) crashes the interpreter instead of raising.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

_WIDTH = 24
_SEPARATOR_AT = np.array([4, 7, 10, 13, 16, 19, 23])
_SEPARATORS = np.frombuffer(b"--T::.Z", dtype=np.uint8)
# tens and units of the two-digit fields: century, year in century, month, day, hour, minute,
# second; then the three digits of the milliseconds
_TENS_AT = np.array([0, 2, 5, 8, 11, 14, 17])
_UNITS_AT = _TENS_AT + 1
_MILLIS_AT = np.array([20, 21, 22])
_DIGIT_AT = np.concatenate([_TENS_AT, _UNITS_AT, _MILLIS_AT])
# rows per block: a block's byte matrix and field arrays stay in the CPU cache
_BLOCK = 1 << 14
_YEARS = 10_000
_NAT = np.iinfo(np.int64).min
# the datetime64[ns] range, in milliseconds
_MIN_MS = pd.Timestamp.min.value // 1_000_000 + 1
_MAX_MS = pd.Timestamp.max.value // 1_000_000
_MS_PER_DAY = 86_400_000


def parse_service_timestamps(
    values: np.ndarray, missing: np.ndarray | None = None
) -> np.ndarray | None:
    """``datetime64[ns]`` (UTC wall time, naive) for service timestamps, or None if any differs.

    Args:
        values: a 1-D object array of timestamp strings; None, NaN, NA and ``""`` are missing.
        missing: entries to treat as missing whatever they hold (optional).

    Returns:
        The times, NaT where missing; None when any other value is not a valid timestamp in
        exactly the service's format (then ``pandas.to_datetime`` should read the column).
    """
    if missing is not None and missing.any():
        values = values.copy()
        values[missing] = None
    result = np.empty(len(values), dtype="datetime64[ns]")
    nanos = result.view(np.int64)
    for start in range(0, len(values), _BLOCK):
        if not _parse_block(values[start : start + _BLOCK], nanos[start : start + _BLOCK]):
            return None
    return result


def _parse_block(values: np.ndarray, nanos: np.ndarray) -> bool:
    """Write nanoseconds since the epoch (NaT where missing) to ``nanos``; False if a value
    is neither missing nor a valid service timestamp."""
    try:
        # one byte wider than the format, so a longer string shows up as a non-zero last byte;
        # a value that is not text is written as its str(), which fails the layout check
        raw = values.astype(f"S{_WIDTH + 1}")
    except (UnicodeEncodeError, ValueError, TypeError):  # non-ASCII text, a list, ...
        return False
    matrix = raw.view(np.uint8).reshape(len(raw), _WIDTH + 1)
    digits = matrix[:, _DIGIT_AT] - np.uint8(ord("0"))  # a non-digit wraps around above 9
    good = (
        (matrix[:, _WIDTH] == 0)
        & (matrix[:, _SEPARATOR_AT] == _SEPARATORS).all(axis=1)
        & (digits <= 9).all(axis=1)
    )
    everything_good = bool(good.all())
    if not everything_good:
        if not _all_missing(values[~good]):
            return False
        digits = digits[good]
    stamps = _millis(digits)
    if stamps is None:
        return False
    if everything_good:
        np.multiply(stamps, 1_000_000, out=nanos)
    else:
        nanos[:] = _NAT
        nanos[good] = stamps * 1_000_000
    return True


def _millis(digits: np.ndarray) -> np.ndarray | None:
    """Milliseconds since the epoch from rows of the 17 digits, or None if one is no real time."""
    pairs = digits[:, : len(_TENS_AT)] * np.uint8(10) + digits[:, len(_TENS_AT) : -3]
    century, year_in_century, month, day, hour, minute, second = pairs.T
    if len(pairs) and (
        month.min() < 1
        or month.max() > 12
        or day.min() < 1
        or hour.max() > 23
        or minute.max() > 59
        or second.max() > 59
    ):
        return None
    month_number = (century * np.int32(100) + year_in_century) * np.int32(12) + month - 1
    first_days = _first_days_of_months()
    first_day = first_days[month_number]
    if (day > first_days[month_number + 1] - first_day).any():
        return None  # e.g. 2025-02-30
    millis = digits[:, -3:].astype(np.int32) @ np.array([100, 10, 1], dtype=np.int32)
    within_day = ((hour * np.int32(60) + minute) * np.int32(60) + second) * np.int32(1000) + millis
    stamps: np.ndarray = (first_day + (day - 1)) * _MS_PER_DAY + within_day
    if len(stamps) and (stamps.min() < _MIN_MS or stamps.max() > _MAX_MS):
        return None
    return stamps


@functools.cache
def _first_days_of_months() -> np.ndarray:
    """Days since the epoch of the first of every month of years 0000-9999 (and of 10000-01)."""
    months_since_epoch = np.arange(_YEARS * 12 + 1) - 1970 * 12
    first_days: np.ndarray = (
        months_since_epoch.astype("datetime64[M]").astype("datetime64[D]").view(np.int64)
    )
    return first_days


def _all_missing(values: np.ndarray) -> bool:
    """True when every value is None, NaN, NA, NaT or ``""``."""
    absent = pd.isna(values)
    return all(isinstance(value, str) and not value for value in values[~absent])
