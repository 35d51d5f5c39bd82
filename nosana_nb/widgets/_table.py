"""The dashboard's deployments table: what is known about each deployment, the search filter,
the selection (by id, whatever the row order), and the ``itables`` widget that shows it.

``table_frame`` (pure) builds the table's DataFrame with plain values; ``display_row`` makes a
row what the browser shows (escaped names, status badges, short ids). The widget holds one copy
of the rows: 1,000 deployments are ~190 KB of widget state. A redraw after the first swaps only
the rows' JSON, re-formatting just the rows that changed.
"""

from __future__ import annotations

import html
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from nosana_nb.widgets._base import badge_html

__all__ = [
    "TABLE_COLUMNS",
    "DeploymentTable",
    "display_frame",
    "display_row",
    "market_labels",
    "row_json",
    "short_id",
    "table_frame",
]

TABLE_COLUMNS = (
    "Name",
    "Status",
    "Strategy",
    "Market",
    "Replicas",
    "Running jobs",
    "Cost so far (NOS)",
    "Id",
)
# the fields of a deployment record the table reads (wire names, wire-contract §3.1)
RECORD_FIELDS = ("id", "name", "status", "strategy", "market", "replicas", "active_jobs")
REDRAW_INTERVAL = 0.05
"""Seconds between table redraws: a burst of stream frames becomes one redraw, the first at once."""


def short_id(value: str) -> str:
    return f"{value[:4]}…{value[-4:]}" if len(value) > 12 else value


def market_labels(markets: Iterable[Any]) -> dict[str, str]:
    """Market address -> its name (the markets API's ``name``, else slug)."""
    labels: dict[str, str] = {}
    for market in markets:
        label = getattr(market, "label", None) or getattr(market, "address", "")
        labels[str(market.address)] = str(label)
    return labels


def _integer(value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0
    return int(number) if math.isfinite(number) else 0


def table_frame(
    records: Iterable[Mapping[str, Any]],
    *,
    market_names: Mapping[str, str],
    costs: Mapping[str, float],
) -> pd.DataFrame:
    """The table's rows with plain values; ``Cost so far (NOS)`` is NA where not known yet."""
    rows = list(records)
    ids = [str(r["id"]) for r in rows]
    return pd.DataFrame(
        {
            "Name": pd.array([str(r.get("name") or "") for r in rows], dtype="string"),
            "Status": pd.array([str(r.get("status") or "") for r in rows], dtype="string"),
            "Strategy": pd.array([str(r.get("strategy") or "") for r in rows], dtype="string"),
            "Market": pd.array(
                [
                    market_names.get(str(r.get("market")), short_id(str(r.get("market") or "")))
                    for r in rows
                ],
                dtype="string",
            ),
            "Replicas": pd.array([_integer(r.get("replicas")) for r in rows], dtype="Int64"),
            "Running jobs": pd.array([_integer(r.get("active_jobs")) for r in rows], dtype="Int64"),
            "Cost so far (NOS)": pd.array([costs.get(i) for i in ids], dtype="Float64"),
            "Id": pd.array(ids, dtype="string"),
        },
        columns=list(TABLE_COLUMNS),
    )


def _cost_text(value: Any) -> str:
    # empty when unknown: DataTables still sorts the column as numbers
    return "" if value is None or pd.isna(value) else f"{float(value):.4f}"


DisplayRow = tuple[str, str, str, str, int, int, str, str]


def display_row(
    record: Mapping[str, Any], *, market_names: Mapping[str, str], costs: Mapping[str, float]
) -> DisplayRow:
    """One row as the browser shows it: names escaped (the table renders HTML), a status
    badge, the market's name, the cost with 4 decimals, a short id (the full one on hover)."""
    ident = str(record["id"])
    market = str(record.get("market") or "")
    return (
        html.escape(str(record.get("name") or "")) or "<i>(unnamed)</i>",
        badge_html(str(record.get("status") or "")),
        html.escape(str(record.get("strategy") or "")),
        html.escape(market_names.get(market, short_id(market))),
        _integer(record.get("replicas")),
        _integer(record.get("active_jobs")),
        _cost_text(costs.get(ident)),
        f'<code title="{html.escape(ident)}">{html.escape(short_id(ident))}</code>',
    )


def display_frame(rows: Iterable[DisplayRow]) -> pd.DataFrame:
    """The display rows as the DataFrame the ITable is built from."""
    listed = list(rows)
    columns: dict[str, Any] = {
        name: [row[n] for row in listed] for n, name in enumerate(TABLE_COLUMNS)
    }
    for name in ("Replicas", "Running jobs"):
        columns[name] = pd.array(columns[name], dtype="int64")
    return pd.DataFrame(columns, columns=list(TABLE_COLUMNS))


def row_json(row: DisplayRow) -> str:
    """The JSON of one row exactly as ``ITable.update`` writes it into ``data_json``.

    itables' own formatter on a one-row frame: strings and ints are formatted cell by cell,
    so a table's ``data_json`` is its rows' JSON joined (the fast redraw relies on it, and a
    test compares the two whenever itables changes).
    """
    from itables.datatables_format import datatables_rows

    return str(datatables_rows(display_frame([row]), escape_html=False))[1:-1]


def _matches(record: Mapping[str, Any], query: str, status: str | None) -> bool:
    if status is not None and str(record.get("status")) != status:
        return False
    if not query:
        return True
    return query in str(record.get("name") or "").lower() or query in str(record["id"]).lower()


class DeploymentTable:
    """Rows by id, the search filter and the selection, shown in an ``itables`` ITable.

    Thread-safe: the stream, the poller and the kernel's callbacks all patch rows.
    ``selected_ids`` are the selected rows that are visible (a search hides the others and
    drops them from the selection, so a bulk action never touches a row the user cannot see).
    """

    def __init__(self, *, page_length: int = 10) -> None:
        from itables.widget import ITable  # loaded only when a dashboard is made

        self._lock = threading.RLock()
        self._records: dict[str, dict[str, Any]] = {}
        self._markets: dict[str, str] = {}
        self._costs: dict[str, float] = {}
        self._query = ""
        self._status: str | None = None
        self._visible: list[str] = []
        self._selected: list[str] = []
        self._page_length = page_length
        self._listeners: list[Callable[[list[str]], None]] = []
        self._applying_selection = False
        self._last_draw = 0.0
        self._timer: threading.Timer | None = None
        self._closed = False
        self._row_json: dict[DisplayRow, str] = {}
        self._drawn_with: tuple[str, ...] | None = None  # options of the last full update
        self.draws = 0
        # "multi": a click toggles a row, so several can be picked for a bulk action; "keys":
        # rows take focus with Tab, arrows move between them (across pages), Space/Enter toggle
        select: dict[str, Any] = {"style": "multi", "info": False, "keys": True}
        self.widget = ITable(
            display_frame([]),
            select=select,
            **self._options(),
        )
        self.widget.add_class("nosana-table")
        self.widget.observe(self._on_selected_rows, names="selected_rows")

    def _options(self) -> dict[str, Any]:
        return {
            "maxBytes": 0,  # never downsample: every row must stay selectable
            "allow_html": True,  # names are escaped by display_frame
            "showIndex": False,
            "pageLength": self._page_length,
            "lengthMenu": [10, 25, 50, 100],
            "classes": "display compact",
            # full width, left-aligned: the paging controls sit at the table's own edges
            "style": "width:100%;margin:0;caption-side:bottom",
            "layout": {
                "topStart": "pageLength",
                "topEnd": None,  # our own search box filters by name or id
                "bottomStart": "info",
                "bottomEnd": "paging",
            },
            "language": {"emptyTable": "No deployments match.", "info": "_START_–_END_ of _TOTAL_"},
        }

    # --- rows -------------------------------------------------------------------------------

    def load(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        market_names: Mapping[str, str],
        costs: Mapping[str, float],
    ) -> None:
        """Everything at once, drawn at once (the first render)."""
        with self._lock:
            self._records = {str(r["id"]): {k: r.get(k) for k in RECORD_FIELDS} for r in records}
            self._markets = dict(market_names)
            self._costs = dict(costs)
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.redraw()

    def replace(self, records: Iterable[Mapping[str, Any]]) -> None:
        """All rows at once (a full list), newest first, as the service lists them."""
        with self._lock:
            self._records = {str(r["id"]): {k: r.get(k) for k in RECORD_FIELDS} for r in records}
        self.request_redraw()

    def patch(self, deployment: str, **fields: Any) -> bool:
        """Change some fields of one row; True when something changed."""
        with self._lock:
            record = self._records.get(deployment)
            if record is None:
                return False
            changed = {k: v for k, v in fields.items() if k in RECORD_FIELDS and record.get(k) != v}
            if not changed:
                return False
            record.update(changed)
        self.request_redraw()
        return True

    def set_markets(self, names: Mapping[str, str]) -> None:
        with self._lock:
            self._markets = dict(names)
        self.request_redraw()

    def set_costs(self, costs: Mapping[str, float], *, replace: bool = False) -> None:
        with self._lock:
            if replace:
                self._costs = dict(costs)
            else:
                self._costs.update(costs)
        self.request_redraw()

    def record(self, deployment: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._records.get(deployment)
            return dict(found) if found is not None else None

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._records)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._records.values()]

    def cost(self, deployment: str) -> float | None:
        with self._lock:
            return self._costs.get(deployment)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    # --- filter and selection -----------------------------------------------------------------

    def set_filter(self, query: str, status: str | None = None) -> None:
        with self._lock:
            self._query = query.strip().lower()
            self._status = status
        self.redraw()

    @property
    def visible_ids(self) -> list[str]:
        with self._lock:
            return list(self._visible)

    @property
    def selected_ids(self) -> list[str]:
        with self._lock:
            return list(self._selected)

    def select(self, ids: Iterable[str]) -> None:
        """Select these deployments (those visible); the browser's selection follows."""
        with self._lock:
            wanted = set(ids)
            self._selected = [i for i in self._visible if i in wanted]
        self._push_selection()
        self._notify()

    def on_selection(self, listener: Callable[[list[str]], None]) -> None:
        self._listeners.append(listener)

    def _on_selected_rows(self, change: Mapping[str, Any]) -> None:
        if self._applying_selection:
            return
        with self._lock:
            visible = self._visible
            picked = [visible[i] for i in change["new"] if 0 <= i < len(visible)]
            if picked == self._selected:
                return
            self._selected = picked
        self._notify()

    def _push_selection(self) -> None:
        with self._lock:
            positions = {ident: n for n, ident in enumerate(self._visible)}
            rows = [positions[i] for i in self._selected if i in positions]
            self._applying_selection = True
            try:
                if list(self.widget.selected_rows) != rows:
                    self.widget.selected_rows = rows
            finally:
                self._applying_selection = False

    def _notify(self) -> None:
        selected = self.selected_ids
        for listener in list(self._listeners):
            listener(selected)

    # --- drawing ------------------------------------------------------------------------------

    def frame(self) -> pd.DataFrame:
        """The visible rows with plain values (what the table shows, before HTML)."""
        with self._lock:
            shown = [r for r in self._records.values() if _matches(r, self._query, self._status)]
            return table_frame(shown, market_names=self._markets, costs=self._costs)

    def request_redraw(self) -> None:
        """Redraw now if the last one is old enough, else once at the end of the interval."""
        with self._lock:
            if self._timer is not None:
                return  # the pending redraw will include this change
            wait = self._last_draw + REDRAW_INTERVAL - time.monotonic()
            if wait > 0:
                self._timer = threading.Timer(wait, self._fire)
                self._timer.daemon = True
                self._timer.name = "nosana-table-redraw"
                self._timer.start()
                return
        self.redraw()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        self.redraw()

    def flush(self) -> None:
        """Draw a redraw still waiting for its interval now (what ``wait()`` returns to is
        then what the table shows and what ``select`` picks from)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            self.redraw()

    def redraw(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._last_draw = time.monotonic()
            shown = [r for r in self._records.values() if _matches(r, self._query, self._status)]
            rows = [display_row(r, market_names=self._markets, costs=self._costs) for r in shown]
            before = list(self._selected)
            self._visible = [str(r["id"]) for r in shown]
            visible = set(self._visible)
            self._selected = [i for i in self._selected if i in visible]
            positions = {ident: n for n, ident in enumerate(self._visible)}
            selected = [positions[i] for i in self._selected]
            self._applying_selection = True
            try:
                self._draw(rows, selected)
            finally:
                self._applying_selection = False
            self.draws += 1
            dropped = before != self._selected
        if dropped:
            self._notify()

    def _draw(self, rows: list[DisplayRow], selected: list[int]) -> None:
        options = self._options()
        signature = (json.dumps(options, sort_keys=True),)
        if self._drawn_with != signature:
            # the first draw (and any change of options) goes through itables in full
            self.widget.update(display_frame(rows), selected_rows=selected, **options)
            self._drawn_with = signature
            # seed the row cache from what itables wrote (re-dumping parsed JSON of strings
            # and ints gives back the same text)
            written = json.loads(self.widget._dt_args.get("data_json") or "[]")
            self._row_json = {
                row: json.dumps(cells) for row, cells in zip(rows, written, strict=True)
            }
            return
        # later draws only swap the rows: itables re-formats every cell of every row through
        # pandas (~100 ms at 1,000 rows); rows that did not change reuse their JSON
        if len(self._row_json) > 4 * max(len(rows), 256):
            self._row_json.clear()
        parts = []
        for row in rows:
            cached = self._row_json.get(row)
            if cached is None:
                cached = self._row_json[row] = row_json(row)
            parts.append(cached)
        arguments = dict(self.widget._dt_args)
        arguments["data_json"] = "[" + ", ".join(parts) + "]"
        with self.widget.hold_sync():  # rows and selection reach the browser together
            self.widget._dt_args = arguments
            if list(self.widget.selected_rows) != selected:
                self.widget.selected_rows = selected

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.widget.close()
