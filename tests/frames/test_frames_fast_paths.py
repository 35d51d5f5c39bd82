"""The jobs frame's whole-column fast paths on large inputs (docs/wire-contract.md §3.3).

One odd value among 100,000 valid records must get the same typed error, naming its record
where the slow path names it, or become missing where it is a placeholder; the fast timestamp
parser must agree with pandas on every value, across its blocks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import _convert, jobs_dataframe
from nosana_nb.frames._isotime import parse_service_timestamps

COUNT = 100_000
ODD = 54_321  # not on a block boundary of the timestamp parser
NO_NODE = "11111111111111111111111111111111"
STATES = ("QUEUED", "RUNNING", "COMPLETED", "STOPPED")
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def service_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    rows = []
    for index in range(COUNT):
        state = STATES[index % 4]
        listed = EPOCH + timedelta(seconds=index * 7, milliseconds=index % 1000)
        rows.append(
            {
                "tx": f"sig{index}",
                "deployment": f"Dep{index % 50}",
                "job": f"Job{index}",
                "market": "mkt",
                "node": None if state == "QUEUED" else f"Node{index % 97}",
                "revision": 1 + index % 3,
                "state": state,
                "time_start": 0 if state == "QUEUED" else int(listed.timestamp()) + 30,
                "created_at": service_time(listed),
                "updated_at": service_time(listed + timedelta(seconds=45)),
            }
        )
    return rows


def with_odd_value(records: list[dict[str, Any]], field: str, value: Any) -> list[dict[str, Any]]:
    changed = list(records)
    changed[ODD] = records[ODD] | {field: value}
    return changed


def test_clean_columns_equal_what_pandas_reads(records: list[dict[str, Any]]) -> None:
    frame = jobs_dataframe(records)
    created = pd.to_datetime(pd.Series([r["created_at"] for r in records]), utc=True)
    pd.testing.assert_series_equal(frame["created_at"], created.dt.as_unit("ns"), check_names=False)
    jobs = pd.Series([r["job"] for r in records], dtype="string")
    pd.testing.assert_series_equal(frame["job"], jobs, check_names=False)
    nodes = pd.Series([r["node"] for r in records], dtype="string")
    pd.testing.assert_series_equal(frame["node"], nodes, check_names=False)
    assert frame["node"].isna().sum() == COUNT // 4


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("job", 123, r"^jobs\[54321\]\.job must be a string, got int 123$"),
        ("job", None, r"^jobs\[54321\] is missing the field 'job'$"),
        ("job", float("nan"), r"^jobs\[54321\] is missing the field 'job'$"),
        ("node", 5, r"^jobs\[54321\]\.node must be a string, got int 5$"),
        ("tx", b"sig", r"^jobs\[54321\]\.tx must be a string, got bytes b'sig'$"),
        ("deployment", ["x"], r"^jobs\[54321\]\.deployment must be a string, got list"),
        ("created_at", 12, r"^jobs\[54321\]\.created_at must be an ISO-8601 date string, got int"),
        ("created_at", "2025-02-30T00:00:00.000Z", r"ISO-8601 date strings: .*2025-02-30"),
        ("created_at", "2023-02-29T00:00:00.000Z", r"ISO-8601 date strings: .*2023-02-29"),
        ("created_at", "2025-01-01T24:00:00.000Z", r"ISO-8601 date strings: .*T24:00"),
        ("created_at", "２０２５-01-01T00:00:00.000Z", r"ISO-8601 date strings: .*２０２５"),
        ("created_at", "2025-01-01T00:00:00.000Zx", r"ISO-8601 date strings: .*Zx"),
        ("created_at", ["x"], r"^jobs\.created_at holds an unreadable date"),
        ("created_at", "9999-12-31T23:59:59.999Z", r"^jobs\.created_at holds a date outside"),
        ("updated_at", "garbage", r"^jobs\.updated_at must hold ISO-8601 date strings"),
        ("time_start", "x", r"^jobs\[54321\]\.time_start must be a number, got str 'x'$"),
        ("time_start", -1, r"^jobs\.time_start holds a negative or out-of-range unix time$"),
        ("revision", True, r"^jobs\[54321\]\.revision must be an integer, got bool True$"),
        ("state", 7, r"^jobs\[54321\]\.state must be one of QUEUED, RUNNING, COMPLETED, STOPPED"),
    ],
)
def test_one_bad_value_among_valid_ones_is_a_typed_error(
    records: list[dict[str, Any]], field: str, value: Any, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        jobs_dataframe(with_odd_value(records, field, value))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("node", NO_NODE),
        ("node", ""),
        ("node", pd.NA),
        ("tx", ""),
        ("created_at", ""),
        ("created_at", None),
        ("created_at", pd.NA),
        ("updated_at", float("nan")),
    ],
)
def test_a_placeholder_among_valid_values_becomes_missing_there_only(
    records: list[dict[str, Any]], field: str, value: Any
) -> None:
    column = {"created_at": "created_at", "updated_at": "updated_at"}.get(field, field)
    frame = jobs_dataframe(with_odd_value(records, field, value))
    assert pd.isna(frame[column].iloc[ODD])
    clean = jobs_dataframe(records)[column]
    others = np.arange(COUNT) != ODD
    pd.testing.assert_series_equal(frame[column][others], clean[others])


def test_another_iso_form_among_service_times_is_read_by_pandas(
    records: list[dict[str, Any]],
) -> None:
    frame = jobs_dataframe(with_odd_value(records, "created_at", "2025-01-01T01:00:00+01:00"))
    assert frame["created_at"].iloc[ODD] == EPOCH
    assert frame["created_at"].iloc[ODD + 1] == pd.Timestamp(records[ODD + 1]["created_at"])


def test_fast_parser_agrees_with_pandas_across_blocks() -> None:
    generator = np.random.default_rng(7)
    lowest = int(datetime(1678, 1, 1, tzinfo=UTC).timestamp() * 1000)
    highest = int(datetime(2262, 4, 1, tzinfo=UTC).timestamp() * 1000)
    millis = generator.integers(lowest, highest, size=40_000)
    texts: list[str | None] = [
        service_time(datetime.fromtimestamp(ms / 1000, UTC)) for ms in millis.tolist()
    ]
    texts[::97] = [None] * len(texts[::97])
    texts[5:9] = [
        "2000-02-29T23:59:59.999Z",
        "2024-02-29T00:00:00.000Z",
        "",
        "1970-01-01T00:00:00.000Z",
    ]
    values = np.empty(len(texts), dtype=object)
    values[:] = texts
    parsed = parse_service_timestamps(values)
    assert parsed is not None
    blank_is_none = [text or None for text in texts]
    expected = pd.to_datetime(pd.Series(blank_is_none, dtype=object), format="ISO8601", utc=True)
    pd.testing.assert_index_equal(
        pd.DatetimeIndex(parsed).tz_localize("UTC"),
        pd.DatetimeIndex(expected).as_unit("ns"),
        check_names=False,
    )


@pytest.mark.parametrize("odd", ["2025-02-30T00:00:00.000Z", "2025-13-01T00:00:00.000Z", 17])
def test_fast_parser_declines_one_bad_value_in_a_large_column(odd: Any) -> None:
    values = np.full(20_000, "2025-01-01T00:00:00.000Z", dtype=object)
    values[12_345] = odd
    assert parse_service_timestamps(values) is None


def test_times_too_far_apart_to_subtract_are_a_typed_error(records: list[dict[str, Any]]) -> None:
    # 1680 to 2255: more than timedelta64[ns] holds; numpy and pandas would wrap around silently
    odd = with_odd_value(records, "created_at", "1680-01-01T00:00:00.000Z")
    odd[ODD] = odd[ODD] | {"state": "RUNNING", "time_start": 9_000_000_000}
    with pytest.raises(ValidationError, match=r"^jobs\.queue_wait: times from 1680-01-01.*apart"):
        jobs_dataframe(odd)


def test_end_times_in_either_spelling_merge_among_many_records(
    records: list[dict[str, Any]],
) -> None:
    # the jobs list has no end time; a stream frame says timeEnd, a job detail time_end
    changed = list(records)
    end = int(EPOCH.timestamp()) + 86_400
    changed[ODD] = records[ODD] | {"state": "COMPLETED", "timeEnd": end}
    changed[ODD + 4] = records[ODD + 4] | {"state": "COMPLETED", "time_end": end + 1}
    frame = jobs_dataframe(changed)
    assert frame["ended_at"].iloc[ODD] == pd.Timestamp(end, unit="s", tz="UTC")
    assert frame["ended_at"].iloc[ODD + 4] == pd.Timestamp(end + 1, unit="s", tz="UTC")
    assert not frame["ended_at_estimated"].iloc[[ODD, ODD + 4]].any()
    finished = frame["state"].isin(["COMPLETED", "STOPPED"])
    assert frame["ended_at_estimated"].sum() == finished.sum() - 2


def test_a_string_column_leaves_the_callers_array_alone() -> None:
    given = np.array(["a", "", None, NO_NODE], dtype=object)
    column = _convert.strings(given, "jobs", "node", missing_marker=NO_NODE)
    assert column.tolist() == ["a", pd.NA, pd.NA, pd.NA]
    assert given.tolist() == ["a", "", None, NO_NODE]
