"""Turn wire records (dicts, pydantic models, pages) into typed pandas columns, column-wise.

Records are read once, row-major, into one object array per field (pandas' own extractor, the
one ``DataFrame.from_records`` uses); every converter then hands its column to a vectorised
pandas/numpy constructor. Values of the wrong kind raise ``ValidationError`` naming the field
and the first bad record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames._isotime import parse_service_timestamps
from nosana_nb.frames.schema import DATETIME, DURATION, FLOAT, INT, empty_frame, schema_of

# The row-major extractor behind DataFrame.from_records: a private but long-lived pandas API
# (it reads each record once, which is what makes from_records fast on large inputs).
_dicts_to_array: Any = getattr(pd._libs.lib, "dicts_to_array", None)

Record = Mapping[str, Any]
Column = np.ndarray | Sequence[Any]  # 1-D; object ndarray from Columns, or a plain list

_STRING_KINDS = frozenset({"string", "empty"})
_INT_KINDS = frozenset({"integer", "empty"})
_FLOAT_KINDS = frozenset({"integer", "floating", "mixed-integer-float", "decimal", "empty"})


def is_client(source: Any) -> bool:
    """A NosanaClient / AsyncNosanaClient (anything with a ``deployments`` resource)."""
    return not isinstance(source, Mapping) and hasattr(source, "deployments")


def _dump(item: Any) -> Any:
    dump = getattr(item, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True)
    state: Any = getattr(item, "state", None)  # a Deployment resource: its state is the model
    if callable(getattr(state, "model_dump", None)):
        return state.model_dump(mode="json", by_alias=True, exclude={"events", "jobs"})
    return item


def as_records(source: Any, *, what: str, envelope: str | None = None) -> list[Record]:
    """Wire-shaped mappings from a list of dicts/models, one dict/model, a page or an envelope."""
    if source is None or isinstance(source, str | bytes | bytearray | pd.DataFrame):
        raise ValidationError(
            f"{what}: expected wire records (dicts or models), got {type(source).__name__}",
            argument=what,
        )
    if isinstance(source, Mapping):
        inner = source.get(envelope) if envelope else None
        items: list[Any] = list(inner) if isinstance(inner, list) else [source]
    elif isinstance(getattr(source, "items", None), list):
        items = list(source.items)  # a Page (itself a model, so checked first)
    elif callable(getattr(source, "model_dump", None)) or callable(
        getattr(getattr(source, "state", None), "model_dump", None)
    ):
        items = [source]
    elif isinstance(source, Iterable):
        items = source if isinstance(source, list) else list(source)
    else:
        raise ValidationError(
            f"{what}: expected an iterable of records, got {type(source).__name__}", argument=what
        )
    if set(map(type, items)) <= {dict}:
        return items
    records: list[Record] = []
    for index, item in enumerate(items):
        value = _dump(item)
        if not isinstance(value, Mapping):
            raise ValidationError(
                f"{what}[{index}] is a {type(item).__name__}; expected a mapping or a model",
                argument=what,
            )
        records.append(value)
    return records


class Columns:
    """Object-array columns of ``records``: ``keys`` are read in one row-major pass; any other
    key (a rarely needed alternate spelling) is read on first use."""

    def __init__(self, records: Sequence[Record], keys: Sequence[str]) -> None:
        self._records = records
        self._data: dict[str, np.ndarray] = {}
        wanted = list(dict.fromkeys(keys))
        matrix = None
        if _dicts_to_array is not None and records:
            try:
                rows = records if isinstance(records, list) else list(records)
                matrix = _dicts_to_array(rows, wanted)
            except TypeError:  # mappings that are not dicts
                matrix = None
        if matrix is not None and matrix.shape == (len(records), len(wanted)):
            # strided views, no copy: every converter reads its column once into a new array
            # (a string column is copied into its StringArray), which measured faster than
            # one transposing copy of the whole table and keeps the peak lower
            self._data = {k: matrix[:, i] for i, k in enumerate(wanted)}

    def _column(self, key: str) -> np.ndarray:
        if key not in self._data:
            self._data[key] = _object_array([r.get(key) for r in self._records])
        return self._data[key]

    def get(self, key: str, *alternates: str) -> np.ndarray:
        """The column of ``key``; where it is missing, the first alternate that is present."""
        values = self._column(key)
        for alternate in alternates:
            kind = infer_dtype(values, skipna=False)
            if kind in _COMPLETE_KINDS:
                break
            values = np.where(_absent(values, kind), self._column(alternate), values)
        return values


# what infer_dtype(values, skipna=False) says of a column in which no value is missing
_COMPLETE_KINDS = frozenset({"string", "integer", "boolean"})


def no_missing(values: np.ndarray) -> bool:
    """True when no value is None/NaN/NA, decided by one type scan (cheaper than ``pd.isna``)."""
    return infer_dtype(values, skipna=False) in _COMPLETE_KINDS


def _absent(values: np.ndarray, kind: str) -> np.ndarray:
    """``pd.isna(values)``, given ``kind`` (infer_dtype without skipping): a column of floats
    only (a key absent from every record reads as NaN) is checked by one cast instead."""
    if kind == "floating":
        absent: np.ndarray = np.isnan(values.astype(np.float64))
        return absent
    return pd.isna(values)


def _object_array(values: Sequence[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _as_array(values: Column) -> np.ndarray:
    return values if isinstance(values, np.ndarray) else _object_array(values)


def _first_bad(raw: Column, ok: type | tuple[type, ...]) -> tuple[int, Any]:
    values = _as_array(raw)
    for index, value in enumerate(values):
        if isinstance(value, bool) and ok is not bool:
            return index, value
        if value is not None and not _is_nan(value) and not isinstance(value, ok):
            return index, value
    return -1, None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _bad_type(what: str, field: str, raw: Column, ok: Any, expected: str) -> ValidationError:
    values = _as_array(raw)
    index, value = _first_bad(values, ok)
    where = f"{what}[{index}].{field}" if index >= 0 else f"{what}.{field}"
    shown = f"{value!r}"[:60]
    return ValidationError(
        f"{where} must be {expected}, got {type(value).__name__} {shown}", argument=what
    )


def require(raw: Column, what: str, field: str) -> None:
    """Raise when any record lacks ``field`` (None, NaN or missing)."""
    values = _as_array(raw)
    if no_missing(values):
        return
    missing = pd.isna(values)
    if missing.any():
        index = int(np.flatnonzero(missing)[0])
        raise ValidationError(f"{what}[{index}] is missing the field {field!r}", argument=what)


def strings(
    raw: Column,
    what: str,
    field: str,
    *,
    required: bool = False,
    blank_is_na: bool = True,
    missing_marker: str | None = None,
) -> pd.Series:
    """A ``string`` column; ``""`` (unless ``blank_is_na`` is false) and ``missing_marker``
    (a placeholder the service writes for "none") become NA."""
    values = _as_array(raw)
    # the array becomes the column's storage (and its placeholders are overwritten), so an
    # array the caller holds (a view into the row table, say) is copied first
    owned = values.copy() if values is raw else values
    if infer_dtype(owned, skipna=False) == "string":
        # the common case, every value a str: one type scan, then only the placeholders
        placeholder = _placeholders(owned, blank_is_na, missing_marker)
    else:
        placeholder = pd.isna(owned)
        if required and placeholder.any():
            index = int(np.flatnonzero(placeholder)[0])
            raise ValidationError(f"{what}[{index}] is missing the field {field!r}", argument=what)
        if infer_dtype(owned, skipna=True) not in _STRING_KINDS:
            raise _bad_type(what, field, owned, str, "a string")
        try:  # None and NaN are no placeholder text (and are missing already)
            placeholder |= _placeholders(owned, blank_is_na, missing_marker)
        except TypeError:  # pd.NA, which is neither equal nor unequal: look at the rest alone
            present = ~placeholder
            placeholder[present] = _placeholders(owned[present], blank_is_na, missing_marker)
    if placeholder.any():
        owned[placeholder] = pd.NA
    return pd.Series(_string_array(owned), copy=False)


def _placeholders(texts: np.ndarray, blank: bool, marker: str | None) -> np.ndarray:
    """Which of ``texts`` are ``""`` (when ``blank``) or ``marker``; a missing value among
    them may be flagged too."""
    found = ~texts.astype(bool) if blank else np.zeros(len(texts), dtype=bool)
    if marker is not None:
        found |= texts == marker
    return found


# an empty python-backed StringArray: the template of every string column built here
_STRINGS = pd.arrays.StringArray(np.array([], dtype=object))


def _string_array(stored: np.ndarray) -> pd.arrays.StringArray:
    """``stored`` (only str and NA, checked by the caller) as a StringArray, without the
    per-item check the public constructor repeats."""
    from_backing: Any = getattr(_STRINGS, "_from_backing_data", None)
    if from_backing is None:  # a pandas without the private constructor
        return pd.arrays.StringArray(stored)
    array: pd.arrays.StringArray = from_backing(stored)
    return array


def integers(raw: Column, what: str, field: str, *, required: bool = False) -> pd.Series:
    values = _as_array(raw)
    if required:
        require(values, what, field)
    if infer_dtype(values, skipna=False) == "integer":  # integers only, none missing
        try:
            return pd.Series(values.astype(np.int64), dtype=INT)
        except OverflowError:
            raise ValidationError(
                f"{what}.{field} holds an integer out of range", argument=what
            ) from None
    kind = infer_dtype(values, skipna=True)
    if kind in _INT_KINDS:
        return pd.Series(values, dtype=INT)
    if kind in _FLOAT_KINDS:
        numbers = np.where(pd.isna(values), np.nan, values).astype(np.float64)
        finite = ~np.isnan(numbers)
        present = numbers[finite]
        # floor, not `% 1`: numpy's vectorised remainder can raise a spurious "invalid value"
        # warning on finite input (an error under `-W error`, noise for a user)
        if not np.all(np.isfinite(present)) or np.any(np.floor(present) != present):
            raise ValidationError(
                f"{what}.{field} must hold whole numbers; got {present[:3].tolist()}...",
                argument=what,
            )
        whole = pd.Series(np.where(finite, numbers, 0).astype(np.int64), dtype=INT)
        return whole.where(finite, pd.NA)
    raise _bad_type(what, field, values, int, "an integer")


def floats(raw: Column, what: str, field: str) -> pd.Series:
    values = _as_array(raw)
    kind = infer_dtype(values, skipna=True)
    if kind not in _FLOAT_KINDS:
        # the markets API may send numbers as strings ("0.0436"); accept numeric text only
        if kind == "boolean" or any(isinstance(v, bool) for v in values):
            raise _bad_type(what, field, values, (int, float), "a number")
        try:
            values = _object_array([None if v is None else float(v) for v in values])
        except (TypeError, ValueError):
            raise _bad_type(what, field, values, (int, float), "a number") from None
    numbers = np.where(pd.isna(values), np.nan, values).astype(np.float64)
    return pd.Series(numbers, dtype=FLOAT).where(~np.isnan(numbers), pd.NA)


def booleans(raw: Column, what: str, field: str) -> pd.Series:
    values = _as_array(raw)
    kind = infer_dtype(values, skipna=True)
    if kind not in ("boolean", "empty"):
        raise _bad_type(what, field, values, bool, "a boolean")
    return pd.Series(values, dtype="boolean")


def _all_missing(length: int) -> pd.Series:
    return pd.Series(np.full(length, np.datetime64("NaT", "ns")), dtype=DATETIME)


def iso_datetimes(raw: Column, what: str, field: str) -> pd.Series:
    """ISO-8601 strings (or datetimes) -> UTC datetimes; blank and None become NaT."""
    values = _as_array(raw)
    fast = parse_service_timestamps(values)  # the service's own format: most columns
    if fast is not None:
        return pd.Series(pd.DatetimeIndex(fast).tz_localize("UTC"))
    absent = pd.isna(values)
    blank = absent.copy()
    blank[~absent] = values[~absent] == ""  # NA == "" is neither true nor false
    if blank.all():
        return _all_missing(len(values))
    if (blank != absent).any():
        values = values.copy()
        values[blank] = None
    if infer_dtype(values, skipna=True) not in ("string", "datetime", "datetime64", "mixed"):
        raise _bad_type(what, field, values, (str, datetime), "an ISO-8601 date string")
    try:
        index = pd.to_datetime(values, format="ISO8601", utc=True)
    except (ValueError, TypeError, OverflowError) as exc:
        if infer_dtype(values, skipna=True) not in ("datetime", "datetime64", "mixed"):
            raise ValidationError(
                f"{what}.{field} must hold ISO-8601 date strings: {exc}", argument=what
            ) from None
        try:
            index = pd.to_datetime(values, utc=True, format="mixed")
        except (ValueError, TypeError, OverflowError) as again:
            raise ValidationError(
                f"{what}.{field} holds an unreadable date: {again}", argument=what
            ) from None
    try:
        return pd.Series(pd.DatetimeIndex(index).as_unit("ns"))
    except pd.errors.OutOfBoundsDatetime as exc:
        raise ValidationError(
            f"{what}.{field} holds a date outside the years 1677-2262: {exc}", argument=what
        ) from None


_MAX_UNIX_SECONDS = pd.Timestamp.max.value // 1_000_000_000


def unix_datetimes(raw: Column, what: str, field: str) -> pd.Series:
    """Unix seconds -> UTC datetimes; 0 (the service's "not yet") and None become NaT."""
    values = _as_array(raw)
    kind = infer_dtype(values, skipna=False)
    if kind == "integer":  # the common case: no value missing
        try:
            seconds_np = values.astype(np.int64)
        except OverflowError:
            raise ValidationError(
                f"{what}.{field} holds a time out of range", argument=what
            ) from None
        if (seconds_np < 0).any() or (seconds_np > _MAX_UNIX_SECONDS).any():
            raise ValidationError(
                f"{what}.{field} holds a negative or out-of-range unix time", argument=what
            )
        stamps = np.where(
            seconds_np == 0, np.datetime64("NaT", "s"), seconds_np.astype("datetime64[s]")
        )
        return pd.Series(pd.DatetimeIndex(stamps.astype("datetime64[ns]")).tz_localize("UTC"))
    if _absent(values, kind).all():
        return _all_missing(len(values))
    if infer_dtype(values, skipna=True) in _INT_KINDS:
        seconds = integers(values, what, field)
        return _to_utc(seconds.mask(seconds == 0), "s", what, field)
    # fractional seconds (a stream frame or a float JSON number): keep millisecond precision
    millis = (floats(values, what, field) * 1000).round().astype("Int64")
    return _to_utc(millis.mask(millis == 0), "ms", what, field)


def _to_utc(numbers: pd.Series, unit: str, what: str, field: str) -> pd.Series:
    if bool((numbers < 0).any()):
        raise ValidationError(f"{what}.{field} holds a negative unix time", argument=what)
    try:
        converted: Any = pd.to_datetime(numbers, unit=unit, utc=True)  # type: ignore[call-overload]
    except (ValueError, OverflowError) as exc:
        raise ValidationError(
            f"{what}.{field} holds an out-of-range time: {exc}", argument=what
        ) from None
    return pd.Series(pd.DatetimeIndex(converted).as_unit("ns"))


def categories(
    raw: Column,
    categories: tuple[str, ...],
    what: str,
    field: str,
    *,
    numeric: Mapping[int, str] | None = None,
) -> pd.Categorical:
    """An ordered categorical; unknown strings (a newer server) become NA rather than failing."""
    values = _as_array(raw)
    keys: list[Any] = list(categories)
    codes_of_keys = list(range(len(categories)))
    if numeric is not None:
        keys += list(numeric)
        codes_of_keys += [categories.index(name) for name in numeric.values()]
    try:
        # an object Index: pandas would otherwise infer (and copy into) a str dtype first
        target = pd.Index(values, dtype=object, copy=False)
        positions = pd.Index(keys, dtype=object).get_indexer(target)
    except TypeError:  # unhashable values (dicts, lists)
        raise _bad_type(
            what, field, values, (str, int), f"one of {', '.join(categories)}"
        ) from None
    codes = np.where(positions >= 0, np.asarray(codes_of_keys)[positions], -1)
    if (codes < 0).any():
        _check_unknown(values, codes, categories, what, field)
    dtype = pd.CategoricalDtype(list(categories), ordered=True)
    result: pd.Categorical = pd.Categorical.from_codes(codes, dtype=dtype)
    return result


def _check_unknown(
    raw: Column, codes: np.ndarray, categories: tuple[str, ...], what: str, field: str
) -> None:
    values = _as_array(raw)
    for index in np.flatnonzero(codes < 0):
        value = values[index]
        if value is None or isinstance(value, str) or _is_nan(value):
            continue
        raise ValidationError(
            f"{what}[{index}].{field} must be one of {', '.join(categories)}, "
            f"got {type(value).__name__} {value!r:.60}",
            argument=what,
        )


def elapsed(start: pd.Series, end: pd.Series, what: str, field: str) -> pd.Series:
    """``end - start`` of two UTC datetime columns, NaT where either is missing.

    Args:
        start: the earlier times (``DATETIME``).
        end: the later times (``DATETIME``).
        what: the records' name, for the error.
        field: the name of the difference, for the error.

    Returns:
        A ``timedelta64[ns]`` column.

    Raises:
        ValidationError: the times are so far apart that a difference cannot be held in
            ``timedelta64[ns]`` (±292 years).
    """
    later = np.asarray(end.array, dtype="datetime64[ns]")
    earlier = np.asarray(start.array, dtype="datetime64[ns]")
    # the widest differences either way, from the extremes (NaT where a side is all missing,
    # and NaT compares false); in days, which cannot overflow
    for newest, oldest in (
        (np.fmax.reduce(later, initial=_NAT), np.fmin.reduce(earlier, initial=_NAT)),
        (np.fmax.reduce(earlier, initial=_NAT), np.fmin.reduce(later, initial=_NAT)),
    ):
        if newest.astype("datetime64[D]") - oldest.astype("datetime64[D]") > _SAFE_SPAN:
            raise ValidationError(
                f"{what}.{field}: times from {oldest} to {newest} are too far apart to subtract",
                argument=what,
            )
    return pd.Series(later - earlier)  # NaT propagates


_NAT = np.datetime64("NaT", "ns")
_SAFE_SPAN = np.timedelta64(106_700, "D")  # timedelta64[ns] holds ±106,751 days


def unknown_durations(length: int) -> pd.Series:
    """A ``timedelta64[ns]`` column of ``length`` NaT.

    Args:
        length: the number of rows.

    Returns:
        The column.
    """
    return pd.Series(np.full(length, np.timedelta64("NaT", "ns")))


def minutes_to_durations(raw: Column, what: str, field: str) -> pd.Series:
    values = _as_array(raw)
    minutes = floats(values, what, field).to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.Series(pd.to_timedelta(minutes * 60, unit="s").as_unit("ns"))


def frame(columns: dict[str, Any], schema: Mapping[str, Any]) -> pd.DataFrame:
    """Assemble columns in schema order, casting each to its declared dtype where it differs."""
    data = {}
    for name, dtype in schema.items():
        values = columns[name]
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        if series.dtype != dtype:
            series = series.astype(dtype)
        data[name] = series.reset_index(drop=True)
    lengths = {len(series) for series in data.values()}
    if len(lengths) > 1:
        raise AssertionError(f"columns of unequal length: {lengths}")
    return pd.DataFrame(data, copy=False)


__all__ = [
    "DATETIME",
    "DURATION",
    "Columns",
    "as_records",
    "booleans",
    "categories",
    "elapsed",
    "floats",
    "frame",
    "integers",
    "is_client",
    "iso_datetimes",
    "minutes_to_durations",
    "require",
    "strings",
    "unix_datetimes",
    "unknown_durations",
]


def schema_frame(name: str, columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
    """The ``name`` frame from plain column lists, each cast to its schema dtype (categories
    keep their fixed categories); the schema's empty frame when the columns are empty."""
    if not next(iter(columns.values()), None):
        return empty_frame(name)
    data = {}
    for column, dtype in schema_of(name).items():
        values = columns[column]
        if isinstance(dtype, pd.CategoricalDtype):
            data[column] = pd.Series(pd.Categorical(values, dtype=dtype))
        else:
            data[column] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data)
