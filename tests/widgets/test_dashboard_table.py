"""The dashboard's table without a service: rows, filter, selection by id, and the fast redraw,
which must write exactly what ``ITable.update`` writes (checked whenever itables changes)."""

from __future__ import annotations

from typing import Any

import pytest
from itables.widget import ITable

from nosana_nb.widgets._table import (
    TABLE_COLUMNS,
    DeploymentTable,
    display_frame,
    display_row,
    table_frame,
)

MARKETS = {"M1": "NVIDIA 3060", "M2": "NVIDIA 4090"}


def record(n: int, **fields: Any) -> dict[str, Any]:
    base = {
        "id": f"Dep{n:041d}",
        "name": f"deployment-{n}",
        "status": "RUNNING" if n % 3 == 0 else "DRAFT",
        "strategy": "SIMPLE",
        "market": "M1" if n % 2 else "M2",
        "replicas": 1 + n % 4,
        "active_jobs": n % 3,
    }
    return base | fields


TRICKY = [
    record(1, name="<script>alert('x')</script> & \"quotes\""),
    record(2, name="ünïcödé 🚀 名前"),
    record(3, name=""),
    record(4, market="UnknownMarketAddress1111111111111111111111"),
    *[record(n) for n in range(5, 40)],
]


def fresh_data_json(table: DeploymentTable) -> str:
    """What itables itself writes for the rows the table shows now."""
    rows = [
        display_row(r, market_names=table._markets, costs=table._costs)
        for r in (table.record(i) for i in table.visible_ids)
        if r is not None
    ]
    reference = ITable(display_frame(rows), **table._options())
    return str(reference._dt_args["data_json"])


def test_the_fast_redraw_writes_what_itables_writes() -> None:
    table = DeploymentTable()
    table.load(TRICKY, market_names=MARKETS, costs={TRICKY[5]["id"]: 0.12345, TRICKY[6]["id"]: 12})
    first = table.widget._dt_args["data_json"]
    assert first == fresh_data_json(table)
    table.patch(TRICKY[0]["id"], status="STOPPED", replicas=7, name="renamed\tname")
    table.set_costs({TRICKY[1]["id"]: 3.5})
    table.redraw()
    assert table.widget._dt_args["data_json"] != first
    assert table.widget._dt_args["data_json"] == fresh_data_json(table)
    table.set_filter("deployment-1")
    assert table.widget._dt_args["data_json"] == fresh_data_json(table)
    assert "&lt;script&gt;" in first
    assert "<script>" not in first


def test_rows_show_the_market_name_and_fall_back_to_a_short_address() -> None:
    frame = table_frame([record(4), TRICKY[3]], market_names=MARKETS, costs={})
    assert list(frame.columns) == list(TABLE_COLUMNS)
    assert list(frame["Market"]) == ["NVIDIA 4090", "Unkn…1111"]
    assert frame["Cost so far (NOS)"].isna().all()  # unknown, not zero


def test_zero_rows_keep_the_columns() -> None:
    assert list(table_frame([], market_names={}, costs={}).columns) == list(TABLE_COLUMNS)
    table = DeploymentTable()
    table.load([], market_names={}, costs={})
    assert table.widget._dt_args["data_json"] == "[]"


def test_selection_is_by_id_and_follows_rows_that_move() -> None:
    table = DeploymentTable()
    table.load(TRICKY, market_names=MARKETS, costs={})
    picked = TRICKY[10]["id"]
    table.widget.selected_rows = [10]  # a click in the browser
    assert table.selected_ids == [picked]
    table.replace([record(99), *TRICKY])  # a new deployment listed first
    table.redraw()
    assert table.selected_ids == [picked]
    assert table.widget.selected_rows == [11]


def test_a_filter_drops_hidden_rows_from_the_selection() -> None:
    table = DeploymentTable()
    table.load(TRICKY, market_names=MARKETS, costs={})
    heard: list[list[str]] = []
    table.on_selection(heard.append)
    table.select([TRICKY[7]["id"], TRICKY[8]["id"]])
    table.set_filter("deployment-9")  # TRICKY[8] is record 9
    assert table.selected_ids == [TRICKY[8]["id"]]
    assert heard[-1] == [TRICKY[8]["id"]]
    table.set_filter("", status="RUNNING")
    assert {table.record(i)["status"] for i in table.visible_ids} == {"RUNNING"}  # type: ignore[index]


@pytest.mark.parametrize("query", ["DEPLOYMENT-2", "dep00000"])
def test_search_matches_name_or_id_ignoring_case(query: str) -> None:
    table = DeploymentTable()
    table.load(TRICKY, market_names=MARKETS, costs={})
    table.set_filter(query)
    assert table.visible_ids
    for ident in table.visible_ids:
        found = table.record(ident)
        assert found is not None
        assert query.lower() in (found["name"].lower() + ident.lower())
