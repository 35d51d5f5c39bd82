"""Values of the wire frames, accepted input shapes, and clear errors for bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nosana_nb.core import models
from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import (
    deployments_dataframe,
    events_dataframe,
    jobs_dataframe,
    markets_dataframe,
    revisions_dataframe,
    tasks_dataframe,
)
from nosana_nb.frames._isotime import parse_service_timestamps

DEP = "Dep1111111111111111111111111111111111111111"
NO_NODE = "11111111111111111111111111111111"


def stamp(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def base_job(**overrides: Any) -> dict[str, Any]:
    record = {
        "tx": "sig",
        "deployment": DEP,
        "job": "job1",
        "market": "mkt",
        "node": "node1",
        "revision": 2,
        "state": "RUNNING",
        "time_start": 1_735_689_660,
        "created_at": "2025-01-01T00:00:00.000Z",
        "updated_at": "2025-01-01T00:01:00.000Z",
    }
    return record | overrides


def test_job_columns_convert_units_and_placeholders() -> None:
    frame = jobs_dataframe(
        [base_job(), base_job(job="job2", state="QUEUED", node=None, time_start=0, tx="")]
    )
    first, queued = frame.iloc[0], frame.iloc[1]
    assert first["started_at"] == stamp("2025-01-01T00:01:00")
    assert first["created_at"] == stamp("2025-01-01T00:00:00")
    assert first["queue_wait"] == pd.Timedelta(seconds=60)
    assert pd.isna(first["ended_at"])
    assert pd.isna(first["duration"])
    assert not first["ended_at_estimated"]
    assert first["revision"] == 2
    assert pd.isna(queued["started_at"])
    assert pd.isna(queued["node"])
    assert pd.isna(queued["tx"])


def test_the_system_program_address_and_a_blank_node_mean_no_node() -> None:
    # an unclaimed job names the all-ones address as its node (wire-contract §1.2)
    nodes = [
        "11111111111111111111111111111111",
        "",
        "Node2",
        None,
        "11111111111111111111111111111112",
    ]
    frame = jobs_dataframe([base_job(job=f"j{i}", node=node) for i, node in enumerate(nodes)])
    assert frame["node"].dtype == "string"
    assert frame["node"].isna().tolist() == [True, True, False, True, False]
    assert frame["node"].iloc[4] == "11111111111111111111111111111112"


def test_finished_list_job_without_time_end_uses_updated_at_and_says_so() -> None:
    frame = jobs_dataframe([base_job(state="COMPLETED", updated_at="2025-01-01T00:11:00.000Z")])
    row = frame.iloc[0]
    assert row["ended_at"] == stamp("2025-01-01T00:11:00")
    assert row["ended_at_estimated"]
    assert row["duration"] == pd.Timedelta(minutes=10)


def test_job_detail_shape_with_numeric_state_and_camel_case_times() -> None:
    detail = {
        "job": "job9",
        "state": 2,
        "node": NO_NODE,
        "timeStart": 1_735_689_600,
        "timeEnd": 1_735_689_900,
        "listedAt": 1_735_689_500,
        "revision": 1,
    }
    row = jobs_dataframe([detail]).iloc[0]
    assert row["state"] == "COMPLETED"
    assert pd.isna(row["node"])
    assert row["created_at"] == stamp("2024-12-31T23:58:20")
    assert row["duration"] == pd.Timedelta(seconds=300)
    assert not row["ended_at_estimated"]


def test_unknown_job_state_from_a_newer_server_becomes_missing() -> None:
    assert pd.isna(jobs_dataframe([base_job(state="PAUSED")])["state"].iloc[0])


def test_pydantic_models_pages_and_envelopes_are_accepted() -> None:
    model = models.Job.model_validate(base_job())
    from_model = jobs_dataframe([model])
    from_dict = jobs_dataframe([base_job()])
    pd.testing.assert_frame_equal(from_model, from_dict)
    pd.testing.assert_frame_equal(jobs_dataframe(model), from_dict)
    envelope = {"jobs": [base_job()], "pagination": {"cursor_next": None, "total_items": 1}}
    pd.testing.assert_frame_equal(jobs_dataframe(envelope), from_dict)
    page = models.Page[models.Job](items=[model], pagination=models.PaginationMeta())
    pd.testing.assert_frame_equal(jobs_dataframe(page), from_dict)
    pd.testing.assert_frame_equal(jobs_dataframe(iter([base_job()])), from_dict)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (base_job(job=None), "missing the field 'job'"),
        ({k: v for k, v in base_job().items() if k != "job"}, "missing the field 'job'"),
        (base_job(job=float("nan")), "missing the field 'job'"),
        (base_job(revision="2"), r"jobs\[1\]\.revision must be an integer"),
        (base_job(revision=2.5), "whole numbers"),
        (base_job(revision=True), "revision must be an integer"),
        (base_job(node=7), r"jobs\[1\]\.node must be a string"),
        (base_job(state={"x": 1}), "state must be one of"),
        (base_job(created_at="yesterday"), "ISO-8601"),
        (base_job(created_at=12), "ISO-8601"),
        (base_job(time_start="soon"), "time_start"),
        (base_job(time_start=-5), "negative"),
        (base_job(time_start=10**12), "out-of-range"),
        (base_job(time_start=2**70), "out of range"),
    ],
)
def test_bad_job_records_raise_a_validation_error(record: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        jobs_dataframe([base_job(), record])


@pytest.mark.parametrize("source", ["jobs", b"x", 42, None, pd.DataFrame()])
def test_non_record_sources_are_rejected(source: Any) -> None:
    with pytest.raises(ValidationError, match="expected"):
        jobs_dataframe(source)


def test_non_mapping_items_are_rejected_with_their_index() -> None:
    with pytest.raises(ValidationError, match=r"jobs\[1\] is a int"):
        jobs_dataframe([base_job(), 3])


def test_deployment_argument_without_a_client_is_refused() -> None:
    with pytest.raises(ValidationError, match="deployment="):
        jobs_dataframe([base_job()], deployment=DEP)


def test_float_revision_without_fraction_and_nan_is_tolerated() -> None:
    frame = jobs_dataframe([base_job(revision=3.0), base_job(revision=float("nan"))])
    assert frame["revision"].tolist() == [3, pd.NA]


def test_deployments_convert_minutes_and_keep_empty_names() -> None:
    record = {
        "id": DEP,
        "name": "",
        "vault": "v",
        "market": "m",
        "owner": "o",
        "status": "RUNNING",
        "replicas": 2,
        "timeout": 90,
        "endpoints": [
            {"opId": "a", "port": 80, "url": "https://h.example"},
            {"opId": "a", "port": 81, "url": "https://h.example"},
        ],
        "confidential": True,
        "active_revision": 3,
        "active_jobs": 1,
        "created_at": "2025-01-01T00:00:00.000Z",
        "updated_at": "2025-01-01T00:00:00.000Z",
        "strategy": "INFINITE",
        "rotation_time": 20,
    }
    row = deployments_dataframe([record]).iloc[0]
    assert row["name"] == ""
    assert row["timeout"] == pd.Timedelta(minutes=90)
    assert row["rotation_time"] == pd.Timedelta(minutes=20)
    assert pd.isna(row["schedule"])
    assert row["endpoint_urls"] == "https://h.example"
    assert row["strategy"] == "INFINITE"
    assert row["confidential"]
    model = models.Deployment.model_validate(record)
    pd.testing.assert_frame_equal(deployments_dataframe([model]), deployments_dataframe([record]))


def test_events_mark_errors_and_accept_stream_frames() -> None:
    frame = events_dataframe(
        [
            {
                "category": "Deployment",
                "deploymentId": DEP,
                "type": "JOB_LIST_ERROR",
                "message": "InsufficientFundsForRent",
                "tx": "",
                "created_at": "2025-01-01T00:00:00.000Z",
            },
            {
                "type": "event",
                "category": "Deployment",
                "event": "JOB_LIST_CONFIRMED",
                "message": "ok",
                "tx": None,
                "created_at": "2025-01-01T00:00:01.000Z",
                "deployment": DEP,
            },
        ]
    )
    assert frame["type"].tolist() == ["JOB_LIST_ERROR", "JOB_LIST_CONFIRMED"]
    assert frame["is_error"].tolist() == [True, False]
    assert frame["tx"].isna().all()
    assert frame["deployment"].tolist() == [DEP, DEP]


def test_task_placeholders_become_missing() -> None:
    frame = tasks_dataframe(
        [
            {
                "task": "LIST",
                "deploymentId": DEP,
                "job": "",
                "limit": 0,
                "active_revision": 0,
                "due_at": "2025-01-01T00:00:00.000Z",
                "created_at": "2025-01-01T00:00:00.000Z",
            }
        ]
    )
    row = frame.iloc[0]
    assert pd.isna(row["job"])
    assert pd.isna(row["limit"])
    assert pd.isna(row["active_revision"])


def test_revisions_list_images_and_ops() -> None:
    definition = {
        "version": "0.1",
        "type": "container",
        "ops": [
            {"type": "container/run", "id": "a", "args": {"image": "img:1"}},
            {"type": "container/run", "id": "b", "args": {"image": "img:2"}},
            {"type": "container/create-volume", "id": "v", "args": {}},
        ],
    }
    row = revisions_dataframe(
        [{"revision": 1, "deployment": DEP, "job_definition": definition}]
    ).iloc[0]
    assert row["images"] == "img:1, img:2"
    assert row["op_count"] == 3
    assert row["job_definition"] == definition


def test_market_price_is_exact_in_base_units_and_fee_is_applied() -> None:
    row = markets_dataframe(
        [
            {
                "address": "m",
                "nos_job_price_per_second": 0.000043,
                "usd_reward_per_hour": "0.0436",
                "network_fee_percentage": 10,
                "nodes": ["node-1", "node-2", "node-3", "node-4"],
                "client": True,
                "idle_nodes": 3,
                "a_field_the_frame_does_not_know": {"x": 1},
            }
        ]
    ).iloc[0]
    assert row["price_base_units_per_second"] == 43
    assert row["nos_per_hour"] == pytest.approx(43 * 3600 / 1e6)
    assert row["usd_per_hour_with_fee"] == pytest.approx(0.0436 * 1.1)
    assert row["idle_nodes"] == 3
    assert row["nodes"] == 4
    assert (
        markets_dataframe([{"address": "m", "job_price": 52}])["price_base_units_per_second"][0]
        == 52
    )
    model = models.Market.model_validate({"address": "m", "nos_job_price_per_second": 0.000043})
    assert markets_dataframe([model])["price_base_units_per_second"][0] == 43


@pytest.mark.parametrize("price", [0.0000435, "abc", True, -1])
def test_market_price_that_is_not_whole_base_units_is_an_error(price: Any) -> None:
    with pytest.raises(ValidationError, match=r"price|number"):
        markets_dataframe([{"address": "m", "nos_job_price_per_second": price}])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.datetimes(min_value=datetime(1700, 1, 1), max_value=datetime(2260, 12, 31)).map(
                lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
            ),
        ),
        max_size=8,
    )
)
def test_fast_timestamp_parser_agrees_with_pandas(values: list[str | None]) -> None:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    missing = pd.isna(array)
    fast = parse_service_timestamps(array, missing)
    expected = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", utc=True)
    if missing.all():
        return
    assert fast is not None
    pd.testing.assert_index_equal(
        pd.DatetimeIndex(fast).tz_localize("UTC"),
        pd.DatetimeIndex(expected).as_unit("ns"),
        check_names=False,
    )


@pytest.mark.parametrize(
    "text",
    [
        "2025-02-30T00:00:00.000Z",
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00.000+01:00",
        "2025-01-01T00:00:00.000Zx",
        "2025-01-01 00:00:00.000Z",
        "0001-01-01T00:00:00.000Z",
    ],
)
def test_fast_parser_declines_anything_else(text: str) -> None:
    array = np.array([text], dtype=object)
    assert parse_service_timestamps(array, np.array([False])) is None


def test_other_iso_forms_still_parse_through_pandas() -> None:
    frame = jobs_dataframe([base_job(created_at="2025-01-01T01:00:00+01:00")])
    assert frame["created_at"].iloc[0] == datetime(2025, 1, 1, tzinfo=UTC)


def test_invalid_calendar_date_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="created_at"):
        jobs_dataframe([base_job(created_at="2025-02-30T00:00:00.000Z")])
