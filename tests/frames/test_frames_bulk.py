"""Bulk previews and results as frames: values, missing values and refused inputs."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from nosana_nb.core.bulk import BulkPreview, BulkPreviewRow
from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import bulk_dataframe, bulk_preview_dataframe, bulk_results_dataframe
from tests.frames.test_frames_schema import bulk_preview, bulk_result


def test_preview_values_keep_the_verdict_and_the_cost() -> None:
    frame = bulk_preview_dataframe(bulk_preview(3))
    assert frame["allowed"].tolist() == [False, True, True]
    assert frame["status"].tolist() == ["DRAFT", "RUNNING", "RUNNING"]
    assert frame["reason_type"].tolist()[0] == "ActionNotAllowedError"
    assert frame["reason"].isna().tolist() == [False, True, True]
    assert frame["cost_change_per_hour"].tolist() == [0.0, -0.1584, -0.1584]
    assert frame["sol_change"].isna().all()


def test_unknown_cost_and_vault_rows_without_a_deployment_are_missing_values() -> None:
    row = BulkPreviewRow(
        deployment="",
        action="withdraw",
        allowed=True,
        vault="Vau1111111111111111111111111111111111111111",
        cost_change_per_hour=None,
        sol_change=Decimal("-0.5"),
        nos_change=Decimal("-3"),
    )
    frame = bulk_preview_dataframe(BulkPreview("withdraw", {}, (row,)))
    assert pd.isna(frame.loc[0, "deployment"])
    assert pd.isna(frame.loc[0, "cost_change_per_hour"])
    assert pd.isna(frame.loc[0, "status"])
    assert (frame.loc[0, "sol_change"], frame.loc[0, "nos_change"]) == (-0.5, -3.0)


def test_results_keep_the_typed_error_and_the_new_status() -> None:
    frame = bulk_dataframe(bulk_result(3))
    assert frame["outcome"].tolist() == ["refused", "ok", "ok"]
    assert frame["ok"].tolist() == [False, True, True]
    assert frame["error_type"].tolist()[0] == "ActionNotAllowedError"
    assert frame["error_type"].isna().tolist() == [False, True, True]
    assert frame["new_status"].tolist() == ["DRAFT", "STOPPING", "STOPPING"]
    assert frame["message"].tolist()[1] == "now STOPPING"


@pytest.mark.parametrize(
    "value", [None, 42, "stop", pd.DataFrame({"id": ["x"]}), [object()], {"rows": []}]
)
def test_anything_but_a_preview_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        bulk_preview_dataframe(value)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        bulk_dataframe(value)  # type: ignore[arg-type]


def test_a_result_is_not_a_preview_and_rows_of_either_work() -> None:
    with pytest.raises(ValidationError, match="BulkPreviewRow"):
        bulk_preview_dataframe(list(bulk_result(2).rows))  # type: ignore[arg-type]
    assert len(bulk_results_dataframe(list(bulk_result(2).rows))) == 2
    assert len(bulk_preview_dataframe(list(bulk_preview(2).rows))) == 2
