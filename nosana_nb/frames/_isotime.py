"""Fast parsing of the service's fixed timestamp format ``YYYY-MM-DDTHH:MM:SS.mmmZ``.

The deployment manager writes every date in exactly this 24-character form
(docs/wire-contract.md §2), and ``pandas.to_datetime`` spends most of a large jobs frame's build
time on it. numpy's own ISO parser reads the 23 characters before the ``Z`` at C speed once the
layout is confirmed; any value not in exactly this form makes the whole column return ``None``,
and the caller then falls back to ``pandas.to_datetime``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_WIDTH = 24
_SEPARATORS = {4: "-", 7: "-", 10: "T", 13: ":", 16: ":", 19: ".", 23: "Z"}
# the datetime64[ns] range, in milliseconds
_MIN_MS = pd.Timestamp.min.value // 1_000_000 + 1
_MAX_MS = pd.Timestamp.max.value // 1_000_000


def parse_service_timestamps(values: np.ndarray, missing: np.ndarray) -> np.ndarray | None:
    """``datetime64[ns]`` (UTC wall time, naive) for service timestamps, or None if any differs.

    ``values`` is an object array; entries flagged in ``missing`` become NaT.
    """
    present = values[~missing] if missing.any() else values
    if not all(isinstance(v, str) for v in present[:1]):
        return None
    try:
        # one byte wider than the format, so a longer string shows up as a non-zero last byte
        raw = np.array(present, dtype=f"S{_WIDTH + 1}")
    except (UnicodeEncodeError, TypeError, ValueError):
        return None
    if raw.ndim != 1:
        return None
    matrix = raw.view(np.uint8).reshape(len(raw), _WIDTH + 1)
    if (matrix[:, _WIDTH] != 0).any():
        return None
    for position, char in _SEPARATORS.items():
        if (matrix[:, position] != ord(char)).any():
            return None
    matrix[:, _WIDTH - 1] = 0  # drop the "Z": numpy parses naive ISO text, which here is UTC
    try:
        millis = raw.astype("datetime64[ms]")
    except ValueError:
        return None  # e.g. 2025-02-30: let pandas report it
    as_int = millis.astype(np.int64)
    if as_int.size and (as_int.min() < _MIN_MS or as_int.max() > _MAX_MS):
        return None
    if not missing.any():
        return millis.astype("datetime64[ns]")
    result = np.full(len(values), np.datetime64("NaT", "ns"))
    result[~missing] = millis.astype("datetime64[ns]")
    return result
