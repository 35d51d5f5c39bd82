"""``DeploymentDashboard``: every deployment of a client in one table, kept current from the
live event stream, with details of the selected one and bulk actions on the selected rows.

Layout, top to bottom: a header (live state, refresh, cancel), search and status filter, the
table (``itables``), bulk actions (``client.deployments.bulk``: its dry run's preview above the
confirm button, then one result row per deployment), the status area, then tabs for the
focused deployment (the row selected last): overview, jobs, events, tasks, status history, job
timeline, cost, vault and controls.

Live data: a background *feed* thread follows the deployments' event streams through
:class:`~nosana_nb.watch.Watcher` (the service has one stream per deployment, so at most
``max_streams`` of them — the focused one, then the busiest) and re-reads the whole list every
``list_interval`` seconds; while a stream is down it re-reads every ``poll_interval`` seconds
instead. The header shows which: "live", "reconnecting" or "polling".

Charts are static ``go.Figure`` outputs (never ``FigureWidget``): a notebook saved with the
dashboard's widget state stays small.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ipywidgets as widgets
import pandas as pd

from nosana_nb.core.bulk import (
    BulkPreview,
    BulkPreviewRow,
    BulkResult,
    BulkResultRow,
    check_bulk_arguments,
)
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import NosanaError, ValidationError
from nosana_nb.widgets._base import (
    CancelToken,
    NosanaWidget,
    Operation,
    OperationCancelled,
    TaskRunner,
    badge_html,
    describe_error,
)
from nosana_nb.widgets._bulk import (
    bulk_preview_html,
    bulk_results_html,
)
from nosana_nb.widgets._controls import (
    LIFECYCLE,
    STYLE,
    DeploymentControls,
    action_block_reason,
    close_tree,
    format_minutes,
    muted_html,
    replace_children,
    require_sync_client,
    section_title,
)
from nosana_nb.widgets._endpoints import EndpointsPanel
from nosana_nb.widgets._table import DeploymentTable, market_labels, short_id
from nosana_nb.widgets._ui import ServiceClock, neutral_template
from nosana_nb.widgets._vault import VaultWidget

__all__ = ["DETAIL_TABS", "LIVE_STATES", "DeploymentDashboard"]

logger = logging.getLogger("nosana_nb.widgets")

DETAIL_TABS = (
    "Overview",
    "Jobs",
    "Events",
    "Tasks",
    "Status history",
    "Job timeline",
    "Cost",
    "Vault",
    "Controls",
)
LIVE_STATES = ("connecting", "live", "reconnecting", "polling", "stopped")
# deployments whose streams matter most: things happen to them without anyone asking
_STREAM_PRIORITY = {
    "STARTING": 0,
    "STOPPING": 0,
    "RUNNING": 1,
    "INSUFFICIENT_FUNDS": 1,
    "ERROR": 2,
    "DRAFT": 3,
    "STOPPED": 3,
}
_PAGE = 100
_BULK_WIRE = {  # the dashboard's bulk buttons -> the route names of the state machine table
    "start": "start",
    "stop": "stop",
    "archive": "archive",
    "scale": "update-replica-count",
    "set_timeout": "update-timeout",
    "delete": "delete",
}


def _hours_as_seconds(hours: float) -> Decimal:
    """The timeout box's hours as exact seconds (0.1 h is 360 s, not 360.00000000000006):
    the bulk check then refuses what is not whole minutes, in the service's own words."""
    return Decimal(repr(float(hours))) * 3600


_ROWS_SHOWN = 50
_FEED_TICK = 0.1
_INDICATOR_RESEND = 5.0  # seconds between repeats of an unchanged live state
_CONNECT_GRACE = 3.0  # seconds a new stream may take before the state reads "reconnecting"
_FAILED_RETRY = 30.0  # seconds before a watcher whose streams all failed is rebuilt
_FIGURE_HEIGHT = 380
_MIN_TIMELINE_HEIGHT = 230
_MAX_TIMELINE_HEIGHT = 720
_MUTED = "var(--jp-ui-font-color2, #616161)"
_TEXT = "var(--jp-ui-font-color1, #212121)"
_LIVE_INKS = {
    "connecting": "#FFB800",
    "live": "#04DE00",
    "reconnecting": "#FFB800",
    "polling": "#0066FF",
    "stopped": "#B5B5B5",
}


# --- small renderers ----------------------------------------------------------------------------


def _when(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    stamp = pd.Timestamp(value)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def _duration(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    seconds = int(pd.Timedelta(value).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def frame_html(
    frame: pd.DataFrame,
    columns: Mapping[str, Callable[[Any], str]],
    *,
    empty: str,
    total: int | None = None,
    max_rows: int = _ROWS_SHOWN,
) -> str:
    """A small themed HTML table of ``frame``; each column has a formatter that returns HTML."""
    if frame.empty:
        return muted_html(html.escape(empty))
    shown = frame.head(max_rows)
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = []
    for record in shown.to_dict("records"):
        cells = "".join(f"<td>{render(record)}</td>" for render in columns.values())
        body.append(f"<tr>{cells}</tr>")
    count = total if total is not None else len(frame)
    note = muted_html(f"Showing the newest {len(shown)} of {count}.") if count > len(shown) else ""
    return (
        f'<table class="nosana-frame"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{note}"
    )


def _usd(amount: float) -> str:
    # cents hide what a few minutes of a GPU cost: small sums keep four decimals
    return f"{amount:.2f}" if abs(amount) >= 1 else f"{amount:.4f}"


def _text(key: str) -> Callable[[Mapping[str, Any]], str]:
    def render(record: Mapping[str, Any]) -> str:
        value = record.get(key)
        return (
            ""
            if value is None or (not isinstance(value, str) and pd.isna(value))
            else html.escape(str(value))
        )

    return render


def _code(key: str) -> Callable[[Mapping[str, Any]], str]:
    def render(record: Mapping[str, Any]) -> str:
        value = record.get(key)
        if value is None or (not isinstance(value, str) and pd.isna(value)) or value == "":
            return ""
        return f'<code title="{html.escape(str(value))}">{html.escape(short_id(str(value)))}</code>'

    return render


def _time(key: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda record: html.escape(_when(record.get(key)))


def _badge(key: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda record: badge_html(str(record.get(key)))


def timeline_height(figure: Any) -> int:
    """A Gantt's height from its rows: one bar is not worth 380 px, twenty need more."""
    rows = {str(y) for trace in figure.data for y in (getattr(trace, "y", None) or ())}
    return max(_MIN_TIMELINE_HEIGHT, min(_MAX_TIMELINE_HEIGHT, 150 + 34 * len(rows)))


def figure_output(figure: Any, *, height: int = _FIGURE_HEIGHT) -> widgets.Output:
    """A static Plotly figure in an Output widget: the plotly mimetype plus a text fallback.

    Set as the Output's value (not printed into it), so it works from any thread and saves as
    a small JSON document instead of a FigureWidget's copy of plotly.js.
    """
    figure.update_layout(height=height, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    spec = json.loads(figure.to_json())
    # no "responsive": it fits the plot to its container's height, which an output area lacks
    spec["config"] = {"displaylogo": False}
    title = figure.layout.title.text or "figure"
    output = widgets.Output(layout=widgets.Layout(width="100%"))
    output.outputs = (
        {
            "output_type": "display_data",
            "data": {"application/vnd.plotly.v1+json": spec, "text/plain": f"<{title}>"},
            "metadata": {},
        },
    )
    return output


# --- what the feed knows --------------------------------------------------------------------------


@dataclass
class _Detail:
    """What the tabs of the focused deployment show, fetched once per change."""

    handle: Deployment
    jobs: pd.DataFrame
    events: pd.DataFrame
    now: pd.Timestamp


class _LiveFeed:
    """The dashboard's background thread: streams through Watchers, the list re-read on a
    timer (often while a stream is down), batched row refreshes after stream frames."""

    def __init__(
        self,
        dashboard: DeploymentDashboard,
        *,
        live: bool,
        max_streams: int,
        poll_interval: float,
        list_interval: float,
    ) -> None:
        self._dashboard = dashboard
        self._live = live
        self._max_streams = max_streams
        self.poll_interval = poll_interval
        self.list_interval = list_interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._jobs_dirty: set[str] = set()
        self._watchers: dict[str, tuple[Any, tuple[str, ...], float]] = {}
        self._thread = threading.Thread(target=self._run, name="nosana-dashboard-feed", daemon=True)
        self.state = "connecting"
        self.last_list = 0.0
        self.polls = 0

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the feed to end; its own thread stops its watchers (no thread is started here,
        so this is safe even while the interpreter shuts down)."""
        self._stop.set()
        self._wake.set()
        if not self._thread.is_alive():
            self.state = "stopped"

    def stop(self) -> None:
        """End the feed and wait for it (and its watchers) to stop."""
        self.request_stop()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(30)
        for name in list(self._watchers):  # the thread never ran, or did not finish in time
            self._drop_watcher(name)
        self.state = "stopped"

    def poll_now(self) -> None:
        """Re-read the list at the next tick."""
        self._wake.set()

    def mark_dirty(self, deployment: str, *, jobs: bool = False) -> None:
        with self._lock:
            self._dirty.add(deployment)
            if jobs:
                self._jobs_dirty.add(deployment)

    def streams(self) -> dict[str, str]:
        """Deployment id -> its stream's connection state."""
        found: dict[str, str] = {}
        for watcher, _ids, _built in list(self._watchers.values()):
            for ident, status in watcher.status.items():
                found[ident] = status.state
        return found

    # --- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._tick()
                except Exception:  # the feed must survive anything one tick throws
                    logger.exception("the dashboard's live feed failed a tick")
                self._stop.wait(_FEED_TICK)
        finally:
            for name in list(self._watchers):
                self._drop_watcher(name)
            self.state = "stopped"

    def _tick(self) -> None:
        dashboard = self._dashboard
        if self._live:
            self._retarget()
        self.state = self._compute_state()
        dashboard._show_live_state()
        interval = self.list_interval if self.state == "live" else self.poll_interval
        if self._wake.is_set() or time.monotonic() - self.last_list >= interval:
            self._wake.clear()
            self.last_list = time.monotonic()
            dashboard._poll_list()
            self.polls += 1
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            jobs_dirty, self._jobs_dirty = self._jobs_dirty, set()
        if dirty:
            dashboard._refresh_rows(sorted(dirty), jobs_changed=jobs_dirty)

    def _compute_state(self) -> str:
        if not self._live or not self._watchers:
            return "polling"
        now = time.monotonic()
        states: list[str] = []
        young = False
        for watcher, _ids, built in self._watchers.values():
            for status in watcher.status.values():
                states.append(status.state)
                if status.connects == 0 and now - built < _CONNECT_GRACE:
                    young = True
        if states and all(s == "connected" for s in states):
            return "live"
        if not states or all(s in ("failed", "stopped") for s in states):
            return "polling"
        return "connecting" if young else "reconnecting"

    # --- which deployments stream -------------------------------------------------------------

    def _retarget(self) -> None:
        focus, fleet = self._dashboard._stream_targets(self._max_streams)
        self._ensure_watcher("focus", (focus,) if focus else ())
        self._ensure_watcher("fleet", tuple(fleet))

    def _ensure_watcher(self, name: str, ids: tuple[str, ...]) -> None:
        current = self._watchers.get(name)
        if current is not None:
            watcher, watched, built = current
            all_failed = all(s.state == "failed" for s in watcher.status.values())
            stale_failure = all_failed and time.monotonic() - built > _FAILED_RETRY
            if set(watched) == set(ids) and not stale_failure:
                return
            self._drop_watcher(name)
        if not ids:
            return
        from nosana_nb.watch import Watcher

        try:
            watcher = Watcher(
                self._dashboard.client,
                ids,
                on_change=self._dashboard._on_stream_row,
                reconnect_backoff=(0.25, 5.0),
            ).start()
        except NosanaError as err:  # e.g. a read-only wallet: the list is polled instead
            logger.warning("the dashboard cannot stream: %s", err)
            self._live = False
            return
        self._watchers[name] = (watcher, ids, time.monotonic())

    def _drop_watcher(self, name: str) -> None:
        entry = self._watchers.pop(name, None)
        if entry is not None:
            try:
                entry[0].stop()
            except RuntimeError:
                logger.warning("a dashboard watcher did not stop in time")


# --- the dashboard -----------------------------------------------------------------------------


class DeploymentDashboard(NosanaWidget):
    """All deployments of ``client`` in a live table, with details, controls and bulk actions.

    Args:
        client: a ``NosanaClient``.
        live: follow the event streams (default); False re-reads the list every
            ``poll_interval`` seconds only.
        max_streams: at most this many deployments are streamed at once.
        poll_interval: seconds between list re-reads while streaming is unavailable.
        list_interval: seconds between list re-reads while every stream is live (picks up new
            deployments, renames and the deployments not streamed).
        page_length: table rows per page.

    Headless: ``dashboard.wait()`` after construction; select with
    ``dashboard.table.select([id])`` (or set ``dashboard.table.widget.selected_rows``); bulk
    with ``dashboard.bulk_buttons["stop"].click()`` then ``dashboard.bulk_confirm_button.click()``.
    """

    def __init__(
        self,
        client: Any,
        *,
        live: bool = True,
        max_streams: int = 20,
        poll_interval: float = 5.0,
        list_interval: float = 60.0,
        page_length: int = 10,
    ) -> None:
        require_sync_client(client, "DeploymentDashboard")
        _check_options(live, max_streams, poll_interval, list_interval, page_length)
        super().__init__(client)
        self.add_class("nosana-dashboard")
        self._indicator_sent = 0.0
        self._clock = ServiceClock()  # the service's time (rule 10), via the public /stats
        # costs and tab contents: background work that must not count as the user's operation
        # (``busy``, ``last_result`` and the Cancel button belong to what the user started)
        self._background = TaskRunner()
        self._wire: dict[str, dict[str, Any]] = {}  # full wire records, by id
        # whole-list reads run on two threads (the feed's timer and Refresh): each is numbered
        # when it starts, and a read older than the one already shown is dropped, so a slow
        # read cannot put back rows that a newer one replaced
        self._list_lock = threading.RLock()
        self._list_reads_started = 0
        self._list_read_shown = 0
        self._markets: list[Any] = []
        self._markets_frame: pd.DataFrame | None = None
        self._jobs_cache: dict[str, pd.DataFrame] = {}
        self._focus: str | None = None
        self._detail_generation = 0
        self._detail: _Detail | None = None
        self._detail_lock = threading.Lock()
        self._loaded_tabs: set[str] = set()
        self._controls: DeploymentControls | None = None
        self._vault: VaultWidget | None = None
        self._plan: BulkPreview | None = None
        self._endpoints_shown: EndpointsPanel | None = None  # the Overview's; closed when replaced
        self._plan_targets: list[str] = []
        self._plan_arguments: dict[str, Any] = {}
        self.bulk_result: BulkResult | None = None
        # the bulk run in flight, and what to show if it ends without a result
        self._bulk_unfinished: tuple[Operation, Callable[[Operation], None]] | None = None
        self._loaded = threading.Event()
        self._closed = False
        self.table = DeploymentTable(page_length=page_length)
        self._feed = _LiveFeed(
            self,
            live=live,
            max_streams=max_streams,
            poll_interval=float(poll_interval),
            list_interval=float(list_interval),
        )
        self._build()
        self._show_live_state()
        self.run(
            "Loading deployments",
            self._load_everything,
            disable=[self.refresh_button],
            on_success=self._first_load_done,
            success_text=lambda count: f"Loaded {count} deployments.",
        )

    # --- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = widgets.HTML(
            STYLE + f'<div role="heading" aria-level="2" style="font-weight:600;color:{_TEXT};'
            'font-size:var(--jp-ui-font-size3,16px)">Nosana deployments</div>'
        )
        self.live_indicator = widgets.HTML()
        self.counts = widgets.HTML()
        self.refresh_button = widgets.Button(
            description="Refresh",
            tooltip="Re-read every deployment from the service",
            layout=_compact_layout(),
        )
        self.refresh_button.on_click(lambda _: self.refresh())
        self.cancel_button = widgets.Button(
            description="Cancel",
            tooltip="Cancel the operation in progress",
            disabled=True,
            layout=_compact_layout(),
        )
        self.cancel_button.on_click(lambda _: self.cancel())
        self.observe(
            lambda change: setattr(self.cancel_button, "disabled", not change["new"]), "busy"
        )

        self.search_input = widgets.Text(
            description="Search",
            placeholder="name or id",
            continuous_update=True,
            style={"description_width": "initial"},
            layout=widgets.Layout(width="260px"),
        )
        self.status_filter = widgets.Dropdown(
            description="Status",
            options=[("All statuses", "")] + [(s, s) for s in LIFECYCLE],
            value="",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="230px"),
        )
        self.search_input.observe(lambda _: self._apply_filter(), names="value")
        self.status_filter.observe(lambda _: self._apply_filter(), names="value")
        self.select_all_button = widgets.Button(
            description="Select all shown",
            tooltip="Select every deployment the search shows",
            layout=_compact_layout(),
        )
        self.select_all_button.on_click(lambda _: self.table.select(self.table.visible_ids))
        self.clear_selection_button = widgets.Button(
            description="Clear selection", tooltip="Select nothing", layout=_compact_layout()
        )
        self.clear_selection_button.on_click(lambda _: self.table.select([]))

        self.selection_info = widgets.HTML()
        self.bulk_buttons = {
            "start": widgets.Button(description="Start selected", button_style="success"),
            "stop": widgets.Button(description="Stop selected", button_style="warning"),
            "archive": widgets.Button(description="Archive selected"),
            "scale": widgets.Button(description="Scale selected"),
            "set_timeout": widgets.Button(description="Set timeout"),
            "delete": widgets.Button(description="Delete selected", button_style="danger"),
        }
        for action, button in self.bulk_buttons.items():
            button.layout = _compact_layout()  # with their two inputs, one row at 1280 px
            button.on_click(lambda _, a=action: self.propose_bulk(a))
        self.bulk_replicas = widgets.IntText(
            value=1,
            description="Scale to",  # not "Replicas": the controls tab has that field
            style={"description_width": "initial"},
            layout=widgets.Layout(width="140px"),
        )
        self.bulk_timeout_hours = widgets.BoundedFloatText(
            value=2,
            min=1,  # the service's bounds for an updated timeout: 1 h to the dashboard's 100 h
            max=100,
            step=0.5,
            description="Timeout (h)",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="160px"),
        )
        self.bulk_confirm_text = widgets.HTML()
        self.bulk_confirm_button = widgets.Button(description="Confirm", button_style="danger")
        self.bulk_confirm_button.on_click(lambda _: self.confirm_bulk())
        self.bulk_dismiss_button = widgets.Button(description="Cancel", tooltip="Send nothing")
        self.bulk_dismiss_button.on_click(lambda _: self.dismiss_bulk())
        self.bulk_confirm_box = widgets.VBox(
            [self.bulk_confirm_text, _row(self.bulk_confirm_button, self.bulk_dismiss_button)],
            layout=widgets.Layout(
                display="none",
                border="1px solid var(--jp-warn-color1, #f57c00)",
                padding="6px",
                margin="4px 0",
            ),
        )
        self.bulk_results = widgets.HTML()
        self.bulk_results.add_class("nosana-bulk")

        self.detail_title = widgets.HTML(muted_html("Select a deployment to see its details."))
        self._tab_boxes = {name: widgets.VBox() for name in DETAIL_TABS}
        self.tabs = widgets.Tab(children=list(self._tab_boxes.values()), titles=list(DETAIL_TABS))
        self.tabs.layout.display = "none"
        self.tabs.observe(lambda _: self._load_current_tab(), names="selected_index")
        self.table.on_selection(self._selection_changed)

        self.children = [
            _row(
                self.title,
                self.live_indicator,
                self.counts,
                self.refresh_button,
                self.cancel_button,
            ),
            _row(
                self.search_input,
                self.status_filter,
                self.select_all_button,
                self.clear_selection_button,
            ),
            self.table.widget,
            _row(
                self.selection_info,
                *self.bulk_buttons.values(),
                self.bulk_replicas,
                self.bulk_timeout_hours,
            ),
            self.bulk_confirm_box,
            self.bulk_results,
            self.status,
            section_title("Details"),
            self.detail_title,
            self.tabs,
        ]
        self._update_selection_info([])

    # --- loading ------------------------------------------------------------------------------

    def _next_list_read(self) -> int:
        with self._list_lock:
            self._list_reads_started += 1
            return self._list_reads_started

    def _list_all(self, token: CancelToken | None = None) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for page in self.client.deployments.list(limit=_PAGE).pages():
            records.extend(
                d.state.model_dump(mode="json", by_alias=True, exclude={"events", "jobs"})
                for d in page.items
            )
            if token is not None:
                token.raise_if_cancelled()
        return records

    def _load_everything(self, token: CancelToken) -> int:
        try:
            self._markets = list(self.client.markets.list())
        except NosanaError as err:  # the table still works; costs cannot be priced
            logger.warning("markets unavailable: %s", err)
            self._markets = []
        token.raise_if_cancelled()
        read = self._next_list_read()
        records = self._list_all(token)
        with self._list_lock:
            self._list_read_shown = max(self._list_read_shown, read)
            self._wire = {str(r["id"]): r for r in records}
            # a DRAFT has never listed a job (a new revision on a DRAFT lists nothing): cost 0
            drafts = {i: 0.0 for i, r in self._wire.items() if r.get("status") == "DRAFT"}
            self.table.load(records, market_names=market_labels(self._markets), costs=drafts)
        return len(records)

    @property
    def loaded(self) -> bool:
        """True once the first full list is in the table (costs and streams follow)."""
        return self._loaded.is_set()

    def _first_load_done(self, count: int) -> None:
        self._loaded.set()
        self._feed.last_list = time.monotonic()
        self._show_counts()
        if not self._closed:
            self._feed.start()
            self._load_costs(list(self._wire))

    def _service_now(self) -> pd.Timestamp:
        """The service's now for open jobs' cost and open bars (read on a worker thread)."""
        now = self._clock.sync(self.client)
        # never read (the service did not answer /stats): the local clock is the only one left
        return pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")

    @property
    def markets_frame(self) -> pd.DataFrame:
        """The markets the dashboard priced costs with (the ``markets`` schema)."""
        if self._markets_frame is None:
            from nosana_nb.frames import markets_dataframe

            self._markets_frame = markets_dataframe(
                [m.model_dump(mode="json", by_alias=True) for m in self._markets]
            )
        return self._markets_frame

    def _load_costs(self, ids: list[str]) -> Operation | None:
        """Fetch the jobs of ``ids`` concurrently (async client) and price them."""
        if self._closed:
            return None  # closed: background threads touch no widget
        wanted = [i for i in ids if (self._wire.get(i) or {}).get("status") != "DRAFT"]
        if not wanted or not self._markets:
            return None
        client = self.client

        async def work(token: CancelToken) -> pd.DataFrame:
            from nosana_nb.frames import afleet_jobs_dataframe

            async_client = client.to_async()  # same options, retry count and clock
            try:
                return await afleet_jobs_dataframe(async_client, wanted, progress=False)
            finally:
                await async_client.aclose()

        def done(operation: Operation) -> None:
            if operation.future.cancelled():
                return  # the dashboard closed
            error = operation.future.exception()
            if error is not None:
                if not isinstance(error, OperationCancelled):
                    logger.warning("loading costs failed: %s", describe_error(error))
                return
            jobs = operation.future.result()
            by_deployment = {str(k): v for k, v in jobs.groupby("deployment", observed=True)}
            empty = jobs.iloc[0:0]
            for ident in wanted:
                self._jobs_cache[ident] = by_deployment.get(ident, empty)
            self._price(wanted)

        # mypy cannot pick the coroutine branch of submit's union on its own
        fetch: Callable[[CancelToken], Any] = work
        return self._background.submit(
            f"Loading the cost of {len(wanted)} deployments", fetch, on_done=done
        )

    def _price(self, ids: Iterable[str]) -> None:
        """Recompute "cost so far" of ``ids`` from the cached jobs, at the service's now."""
        if self._closed:
            return  # closed: background threads touch no widget
        from nosana_nb.frames import cost_dataframe, deployment_cost_totals, deployments_dataframe

        known = [i for i in ids if i in self._jobs_cache and i in self._wire]
        if not known or not self._markets:
            return
        frames = [self._jobs_cache[i] for i in known]
        jobs = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        deployments = deployments_dataframe([self._wire[i] for i in known])
        cost = cost_dataframe(
            jobs, self.markets_frame, deployments=deployments, now=self._service_now()
        )
        totals = deployment_cost_totals(cost)
        priced = {i: 0.0 for i in known}
        for ident, total in zip(totals["deployment"], totals["total_nos"], strict=True):
            if not pd.isna(total):
                priced[str(ident)] = float(total)
        self.table.set_costs(priced)

    # --- live updates -------------------------------------------------------------------------

    @property
    def live_state(self) -> str:
        """ "connecting", "live", "reconnecting", "polling" or "stopped"."""
        return self._feed.state

    @property
    def streaming(self) -> dict[str, str]:
        """Deployments followed by a stream, with their connection state."""
        return self._feed.streams()

    def _show_live_state(self) -> None:
        state = self._feed.state
        colour = _LIVE_INKS[state]
        poll, every = self._feed.poll_interval, self._feed.list_interval
        explain = {
            "connecting": "opening the live streams…",
            "live": (
                f"streaming {len(self.streaming)} deployments; "
                f"the list is re-read every {every:g} s"
            ),
            "reconnecting": (
                f"a stream is down; re-reading the list every {poll:g} s until it is back"
            ),
            "polling": f"no live stream; re-reading the list every {poll:g} s",
            "stopped": "updates stopped",
        }[state]
        text = (
            f'<span class="nosana-live" data-live-state="{state}" title="{html.escape(explain)}" '
            f'style="color:{_TEXT};white-space:nowrap"><span aria-hidden="true" '
            f'style="color:{colour}">●</span> {state}</span>'
        )
        now = time.monotonic()
        if self.live_indicator.value != text:
            self.live_indicator.value = text
            self._indicator_sent = now
        elif now - self._indicator_sent > _INDICATOR_RESEND:
            # a page that was still loading can miss a change (it read the state just before
            # and attached its view just after): say it again now and then
            self.live_indicator.send_state("value")
            self._indicator_sent = now

    def _rows_changed(self) -> None:
        """After rows changed: counts, the focused row's title, what bulk actions allow."""
        self._show_counts()
        self._render_detail_title()
        self._update_selection_info(self.table.selected_ids)

    def _show_counts(self) -> None:
        by_status: dict[str, int] = {}
        for record in self.table.records():
            by_status[str(record.get("status"))] = by_status.get(str(record.get("status")), 0) + 1
        parts = [f"{len(self.table)} deployments"] + [
            f"{n} {s.lower().replace('_', ' ')}"
            for s, n in by_status.items()
            if s in ("RUNNING", "ERROR", "INSUFFICIENT_FUNDS")
        ]
        self.counts.value = muted_html(" · ".join(parts))

    def _stream_targets(self, limit: int) -> tuple[str | None, list[str]]:
        """The deployments most worth streaming (at most ``limit``), and the focused one when
        it is not among them. Selecting a row never changes the first set, so the streams
        already open stay open."""
        candidates = [
            (priority, n, str(record["id"]))
            for n, record in enumerate(self.table.records())
            if (priority := _STREAM_PRIORITY.get(str(record.get("status")))) is not None
        ]
        chosen = [ident for _p, _n, ident in sorted(candidates)[: max(1, limit - 1)]]
        focus = self._focus if self._focus not in chosen else None
        return focus, chosen

    def _on_stream_row(self, row: Mapping[str, Any]) -> None:
        """A watcher row (on the watcher's thread): patch the table at once, refresh later."""
        if self._closed:
            return  # closed: background threads touch no widget
        deployment = str(row.get("deployment"))
        if row.get("type") == "deployment":
            fields: dict[str, Any] = {"status": str(row.get("status"))}
            if row.get("replicas") is not None:
                fields["replicas"] = row["replicas"]
            if deployment in self._wire:
                self._wire[deployment].update(fields)
            if self.table.patch(deployment, **fields):
                self._rows_changed()
            self._feed.mark_dirty(deployment)
        else:
            self._feed.mark_dirty(deployment, jobs=True)

    def _poll_list(self) -> None:
        """Re-read the whole list (the feed thread's timer, or Refresh)."""
        if self._closed:
            return  # closed: background threads touch no widget
        read = self._next_list_read()
        try:
            records = self._list_all()
        except NosanaError as err:
            self.status.error(f"Re-reading the list failed ({describe_error(err)}); retrying.")
            return
        self._apply_list(records, read)

    def _apply_list(self, records: list[dict[str, Any]], read: int) -> None:
        """Show a whole-list read numbered ``read``, unless a newer one is already shown."""
        with self._list_lock:
            if read < self._list_read_shown:
                logger.debug("dropped list read %d: read %d is newer", read, self._list_read_shown)
                return
            self._list_read_shown = read
            self._show_list(records)

    def _show_list(self, records: list[dict[str, Any]]) -> None:
        fresh = {str(r["id"]): r for r in records}
        changed = [
            ident
            for ident, record in fresh.items()
            if ident not in self._wire
            or any(
                record.get(k) != self._wire[ident].get(k)
                for k in ("status", "active_jobs", "replicas", "updated_at", "timeout")
            )
        ]
        self._wire = fresh
        self.table.replace(records)
        self._rows_changed()
        if changed:
            self._load_costs(changed)
            if self._focus in changed:
                self._invalidate_detail()
        open_costs = [
            i for i, r in fresh.items() if int(r.get("active_jobs") or 0) > 0 and i not in changed
        ]
        if open_costs:
            self._price(open_costs)  # open jobs keep costing: same jobs, the service's new now

    def _refresh_rows(self, ids: list[str], *, jobs_changed: set[str]) -> None:
        """After stream frames: re-read those deployments (one request per 100)."""
        if self._closed:
            return  # closed: background threads touch no widget
        try:
            fresh: list[dict[str, Any]] = []
            for start in range(0, len(ids), _PAGE):
                page = self.client.deployments.list(
                    id=ids[start : start + _PAGE], limit=_PAGE
                ).first_page()
                fresh.extend(
                    d.state.model_dump(mode="json", by_alias=True, exclude={"events", "jobs"})
                    for d in page.items
                )
        except NosanaError as err:
            logger.debug("refreshing streamed rows failed: %s", err)
            return
        for record in fresh:
            ident = str(record["id"])
            self._wire[ident] = record
            self.table.patch(
                ident,
                **{
                    k: record.get(k)
                    for k in ("name", "status", "replicas", "active_jobs", "strategy", "market")
                },
            )
        self._rows_changed()
        costly = [i for i in ids if i in jobs_changed]
        if costly:
            self._load_costs(costly)
        if self._focus in ids:
            self._invalidate_detail()

    # --- refresh, cancel, close ---------------------------------------------------------------

    def refresh(self) -> Operation:
        """Re-read every deployment now (the Refresh button).

        Returns:
            The background operation (its result: how many deployments were read).
        """

        def work(token: CancelToken) -> int:
            read = self._next_list_read()
            records = self._list_all(token)
            self._apply_list(records, read)
            return len(records)

        return self.run(
            "Refreshing",
            work,
            disable=[self.refresh_button],
            success_text=lambda n: f"Refreshed {n} deployments.",
        )

    def wait(self, timeout: float | None = 30.0) -> Any:
        """Wait for loading, costs, details and actions in flight (for scripts and tests).

        Args:
            timeout: seconds to wait at most; None waits as long as it takes.

        Returns:
            ``last_result``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._tasks.wait(left)
            self._background.wait(left)
            for child in (self._controls, self._vault):
                if child is not None:
                    child.wait(left)
            if not self._tasks.running and not self._background.running:
                self.table.flush()
                return self.last_result

    def close(self) -> None:
        # once only: Widget.__del__ calls close again, possibly while the interpreter exits
        if self.__dict__.get("_closed", True):
            return  # closed already, or __init__ refused its arguments
        self._closed = True
        self.cancel()
        self._background.cancel_all()
        self._feed.request_stop()
        if self._endpoints_shown is not None:
            self._endpoints_shown.close()
        self.table.close()
        for child in list(self.children):  # the tabs, the controls, the vault widget, …
            close_tree(child)
        super().close()

    def stop_updates(self) -> None:
        """Stop following streams and polling (the table keeps what it shows)."""
        self._feed.stop()
        self._show_live_state()

    # --- search and selection -----------------------------------------------------------------

    def _apply_filter(self) -> None:
        self.table.set_filter(self.search_input.value, self.status_filter.value or None)

    @property
    def focused(self) -> str | None:
        """The deployment whose details the tabs show (the row selected last)."""
        return self._focus

    def _selection_changed(self, selected: list[str]) -> None:
        previous = getattr(self, "_last_selection", [])
        self._last_selection = list(selected)
        added = [i for i in selected if i not in previous]
        if added:
            focus: str | None = added[-1]
        elif self._focus in selected:
            focus = self._focus
        else:
            focus = selected[-1] if selected else None
        self._update_selection_info(selected)
        if self._plan is not None:
            self.dismiss_bulk()  # the confirm text named other deployments
        if focus != self._focus:
            self._set_focus(focus)

    def _update_selection_info(self, selected: list[str]) -> None:
        count = len(selected)
        self.selection_info.value = f'<span style="color:{_TEXT}">{count} selected</span>'
        statuses = [str((self.table.record(i) or {}).get("status")) for i in selected]
        for action, button in self.bulk_buttons.items():
            wire = _BULK_WIRE[action]
            able = sum(action_block_reason(wire, status) is None for status in statuses)
            button.disabled = able == 0 or self.busy
            if count == 0:
                button.tooltip = "Select deployments in the table first"
            elif able == 0:
                button.tooltip = f"None of the {count} selected allows it (by their status)"
            else:
                button.tooltip = f"{able} of the {count} selected"

    def _after_operation(self) -> None:
        unfinished = self._bulk_unfinished
        if unfinished is not None and unfinished[0].future.done():
            self._bulk_unfinished = None  # the bulk run ended without a result (cancelled?)
            unfinished[1](unfinished[0])
        self._update_selection_info(self.table.selected_ids)

    # --- bulk actions -------------------------------------------------------------------------

    def _bulk_arguments(self, action: str) -> dict[str, Any]:
        if action == "scale":
            return {"replicas": self.bulk_replicas.value}
        if action == "set_timeout":
            return {"timeout": _hours_as_seconds(self.bulk_timeout_hours.value)}
        return {}

    def propose_bulk(self, action: str) -> Operation | None:
        """Dry-run ``action`` on the selected rows and show its preview with a confirm button.

        Args:
            action: ``start``, ``stop``, ``archive``, ``scale`` (to ``bulk_replicas``),
                ``set_timeout`` (to ``bulk_timeout_hours``) or ``delete``.

        Returns:
            The background operation reading the deployments' current state (None when the
            input was refused at once: ``last_error`` holds the typed error).
        """
        selected = list(self.table.selected_ids)
        self.dismiss_bulk(quiet=True)
        arguments = self._bulk_arguments(action)
        try:
            check_bulk_arguments(action, **arguments)  # the typed error now, not after a read
        except ValidationError as err:
            self._refuse_bulk(err)
            return None
        if not selected:
            self._refuse_bulk(
                ValidationError("select at least one deployment first", argument="deployments")
            )
            return None
        client = self.client

        def work(token: CancelToken) -> BulkPreview:
            preview: BulkPreview = client.deployments.bulk(action, selected, **arguments)
            return preview

        def show(preview: BulkPreview) -> None:
            # the confirm sends what was previewed, even if the form changed meanwhile
            self._plan, self._plan_targets, self._plan_arguments = preview, selected, arguments
            self.bulk_confirm_text.value = bulk_preview_html(preview)
            count = len(preview.allowed)
            self.bulk_confirm_button.description = (
                "Nothing to send" if not count else f"Yes, {action} {count}"
            )
            self.bulk_confirm_button.disabled = not count
            self.bulk_confirm_box.layout.display = ""

        return self.run(
            f"Dry run: {action} on {len(selected)} deployments",
            work,
            disable=[*self.bulk_buttons.values(), self.refresh_button],
            on_success=show,
            success_text=lambda preview: f"{preview.describe()} Confirm to send.",
        )

    def _refuse_bulk(self, error: ValidationError) -> None:
        """Bad bulk input: the typed error in ``last_error`` and the status line; nothing runs."""
        self.last_error = error
        self.status.error(f"ValidationError: {error}")

    def _forget(self, deleted: set[str]) -> None:
        """Deleted deployments leave the table, the selection and the details at once."""
        if not deleted:
            return
        for ident in deleted:
            self._wire.pop(ident, None)
        self.table.replace(r for r in self.table.records() if str(r["id"]) not in deleted)
        self.table.select([i for i in self.table.selected_ids if i not in deleted])
        if self._focus in deleted:
            self._set_focus(None)
        self._rows_changed()

    @property
    def pending_bulk(self) -> BulkPreview | None:
        """The dry run waiting for its confirm button (None when none is shown)."""
        return self._plan

    def dismiss_bulk(self, *, quiet: bool = False) -> None:
        """Hide the dry run's preview; nothing is sent.

        Args:
            quiet: say nothing in the status line.
        """
        plan, self._plan = self._plan, None
        self.bulk_confirm_box.layout.display = "none"
        if plan is not None and not quiet:
            self.status.info(f"{plan.action.title()} cancelled; nothing was sent.")

    def confirm_bulk(self) -> Operation | None:
        """Run the previewed action for real (the confirm button); results show row by row.

        Returns:
            The background operation (None when there is no preview or nothing to send).
        """
        plan, self._plan = self._plan, None
        targets, arguments = self._plan_targets, self._plan_arguments
        self.bulk_confirm_box.layout.display = "none"
        if plan is None or not plan.allowed:
            return None
        client = self.client
        self.bulk_result = None
        title = plan.describe().rstrip(".")
        progress: dict[str, BulkResultRow] = {}

        def current() -> list[BulkResultRow | BulkPreviewRow]:
            return [progress.get(row.deployment, row) for row in plan.rows]

        def show(row: BulkResultRow) -> None:
            progress[row.deployment] = row
            self.status.busy(f"{plan.action.title()}: {len(progress)}/{len(plan)} done…")
            self.bulk_results.value = bulk_results_html(current(), title)

        def cancelled() -> list[BulkResultRow | BulkPreviewRow]:
            # a request already sent may have landed: the row says so instead of "pending"
            return [
                progress.get(row.deployment)
                or BulkResultRow(
                    deployment=row.deployment,
                    action=row.action,
                    outcome="cancelled",
                    name=row.name,
                    previous_status=row.status,
                    note="cancelled; a request already sent may have landed",
                )
                for row in plan.rows
            ]

        def ended_without_result(operation: Operation) -> None:
            future = operation.future
            if future.cancelled() or isinstance(
                future.exception(), asyncio.CancelledError | OperationCancelled
            ):
                self.bulk_results.value = bulk_results_html(cancelled(), title)
            elif future.exception() is not None:
                # reading the deployments failed: nothing was sent (the status says why)
                self.bulk_results.value = ""

        async def work(token: CancelToken) -> BulkResult:
            async with client.to_async() as async_client:
                # the real run reads the state again: what changed since the preview shows
                result: BulkResult = await async_client.deployments.bulk(
                    plan.action,
                    targets,
                    dry_run=False,
                    on_result=show,
                    **arguments,
                )
                return result

        def done(result: BulkResult) -> None:
            self.bulk_result = result
            self.bulk_results.value = bulk_results_html(result.rows, title)
            if plan.action == "delete":
                self._forget({row.deployment for row in result.ok})
                return
            for row in result.ok:
                fields: dict[str, Any] = {}
                if row.new_status:
                    fields["status"] = row.new_status
                if plan.action == "scale":
                    fields["replicas"] = plan.arguments.get("replicas")
                if fields:
                    self.table.patch(row.deployment, **fields)
                self._feed.mark_dirty(row.deployment)
            self._rows_changed()

        self.bulk_results.value = bulk_results_html(current(), title)
        self._bulk_unfinished = None
        operation = self.run(
            f"{plan.action.title()} on {len(plan.allowed)} deployments",
            work,
            disable=[*self.bulk_buttons.values(), self.refresh_button],
            on_success=done,
            success_text=lambda result: result.describe(),
        )
        self._bulk_unfinished = (operation, ended_without_result)
        if operation.done():  # it ended before the line above: look now
            self._after_operation()
        return operation

    # --- details ------------------------------------------------------------------------------

    def _set_focus(self, focus: str | None) -> None:
        self._focus = focus
        with self._detail_lock:
            self._detail_generation += 1
            self._detail = None
            self._loaded_tabs.clear()
        # empty every tab first, then close what they showed: no live box keeps a closed child
        for box in self._tab_boxes.values():
            replace_children(box, [])
        self._controls = None
        self._vault = None
        if focus is None:
            self.detail_title.value = muted_html("Select a deployment to see its details.")
            self.tabs.layout.display = "none"
            return
        self._render_detail_title()
        self.tabs.layout.display = ""
        self._load_current_tab()

    def _render_detail_title(self) -> None:
        focus = self._focus
        if focus is None:
            return
        record = self.table.record(focus) or {}
        text = (
            f'<div style="color:{_TEXT}">'
            f"<b>{html.escape(str(record.get('name') or '(unnamed)'))}</b> "
            f"{badge_html(str(record.get('status')))} <code>{html.escape(focus)}</code></div>"
        )
        if self.detail_title.value != text:
            self.detail_title.value = text

    def _invalidate_detail(self) -> None:
        if self._closed:
            return  # closed: background threads touch no widget
        with self._detail_lock:
            self._detail_generation += 1
            self._detail = None
            self._loaded_tabs.clear()
        if self._controls is not None:
            self._controls.refresh_quietly()
        self._load_current_tab()

    @property
    def current_tab(self) -> str:
        """The name of the detail tab shown."""
        index = self.tabs.selected_index or 0
        return DETAIL_TABS[index]

    def show_tab(self, name: str) -> None:
        """Switch the detail tabs to ``name`` (loads it).

        Args:
            name: one of the tab names (Overview, Jobs, Events, ...).

        Raises:
            ValidationError: no tab has that name.
        """
        if name not in DETAIL_TABS:
            raise ValidationError(f"tab must be one of {', '.join(DETAIL_TABS)}", argument="tab")
        index = DETAIL_TABS.index(name)
        if self.tabs.selected_index == index:
            self._load_current_tab()
        else:
            self.tabs.selected_index = index

    def _load_current_tab(self) -> None:
        if self._closed:
            return  # closed: background threads touch no widget
        focus = self._focus
        if focus is None:
            return
        name = self.current_tab
        with self._detail_lock:
            if name in self._loaded_tabs:
                return
            self._loaded_tabs.add(name)
            generation = self._detail_generation
        box = self._tab_boxes[name]
        if name == "Controls":
            self._show_controls(focus)
            return
        if not box.children:
            replace_children(box, [widgets.HTML(muted_html(f"Loading {name.lower()}…"))])

        def work(token: CancelToken) -> list[widgets.Widget]:
            detail = self._detail_for(focus, generation)
            token.raise_if_cancelled()
            return self._render_tab(name, detail)

        def done(operation: Operation) -> None:
            with self._detail_lock:
                current = generation == self._detail_generation
            if not current or self._closed:
                # another deployment (or newer data) is on screen now: discard what was built
                if not operation.future.cancelled() and operation.future.exception() is None:
                    for stale in operation.future.result():
                        close_tree(stale)
                return
            if operation.future.cancelled():
                return
            error = operation.future.exception()
            if error is not None:
                with self._detail_lock:
                    self._loaded_tabs.discard(name)
                problem = html.escape(f"Could not load {name.lower()}: {describe_error(error)}")
                line = f'<div style="color:var(--jp-error-color1,#d32f2f)">{problem}</div>'
                replace_children(box, [widgets.HTML(line)])
                return
            shown = operation.future.result()
            replace_children(box, shown)  # what the tab showed before is closed
            if name == "Vault":
                self._vault = next((w for w in shown if isinstance(w, VaultWidget)), None)

        self._background.submit(f"Loading {name.lower()}", work, on_done=done)

    def _detail_for(self, deployment: str, generation: int) -> _Detail:
        with self._detail_lock:
            if self._detail is not None and self._detail.handle.id == deployment:
                return self._detail
        from nosana_nb.frames import events_dataframe, jobs_dataframe

        handle = self.client.deployments.get(deployment)
        jobs = jobs_dataframe(list(handle.get_jobs(limit=_PAGE)))
        events = events_dataframe(
            [e.model_dump(mode="json", by_alias=True) for e in handle.state.events]
        )
        detail = _Detail(handle=handle, jobs=jobs, events=events, now=self._service_now())
        with self._detail_lock:
            if generation == self._detail_generation:
                self._detail = detail
        self._jobs_cache[deployment] = jobs
        return detail

    def _render_tab(self, name: str, detail: _Detail) -> list[widgets.Widget]:
        renderers: dict[str, Callable[[_Detail], list[widgets.Widget]]] = {
            "Overview": self._overview,
            "Jobs": self._jobs_tab,
            "Events": self._events_tab,
            "Tasks": self._tasks_tab,
            "Status history": self._status_tab,
            "Job timeline": self._timeline_tab,
            "Cost": self._cost_tab,
            "Vault": self._vault_tab,
        }
        return renderers[name](detail)

    def _overview(self, detail: _Detail) -> list[widgets.Widget]:
        state = detail.handle.state
        market = next((m for m in self._markets if m.address == state.market), None)
        cost = self.table.cost(state.id)
        rows = [
            ("Name", html.escape(state.name or "(unnamed)")),
            ("Id", f"<code>{html.escape(state.id)}</code>"),
            ("Status", badge_html(str(state.status))),
            ("Strategy", html.escape(str(state.strategy))),
            (
                "Market",
                html.escape(market.label if market is not None else "")
                + f' <code style="color:{_MUTED}">{html.escape(state.market)}</code>',
            ),
            ("Replicas", str(int(state.replicas))),
            ("Running jobs", str(state.active_jobs)),
            ("Timeout", format_minutes(int(state.timeout))),
            ("Schedule", f"<code>{html.escape(state.schedule)}</code>" if state.schedule else "–"),
            ("Active revision", str(state.active_revision)),
            ("Vault", f"<code>{html.escape(state.vault)}</code>"),
            (
                "Cost so far",
                f"{cost:.4f} NOS (incl. network fee)" if cost is not None else "loading…",
            ),
            ("Created", html.escape(_when(state.created_at))),
            ("Updated", html.escape(_when(state.updated_at))),
        ]
        table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return [
            widgets.HTML(f'<table class="nosana-frame">{table}</table>'),
            section_title("Endpoints"),
            self._endpoints_panel(detail),
        ]

    def _endpoints_panel(self, detail: _Detail) -> EndpointsPanel:
        state = detail.handle.state
        panel = EndpointsPanel(detail.handle.probe_endpoints)
        previous, self._endpoints_shown = self._endpoints_shown, panel
        if previous is not None:
            previous.close()  # its repeat probes stop with it
        panel.show(state.endpoints, str(state.status))
        if str(state.status) == "RUNNING" and state.endpoints:
            panel.probe()  # what the URLs answer now, not what the status suggests
        return panel

    def _jobs_tab(self, detail: _Detail) -> list[widgets.Widget]:
        jobs = detail.jobs.sort_values("created_at", ascending=False, kind="stable")
        return [
            widgets.HTML(
                frame_html(
                    jobs,
                    {
                        "Job": _code("job"),
                        "State": _badge("state"),
                        "Revision": _text("revision"),
                        "Node": _code("node"),
                        "Listed (UTC)": _time("created_at"),
                        "Started (UTC)": _time("started_at"),
                        "Ended (UTC)": _time("ended_at"),
                        "Duration": lambda r: html.escape(_duration(r.get("duration"))),
                    },
                    empty="No jobs yet.",
                )
            )
        ]

    def _events_tab(self, detail: _Detail) -> list[widgets.Widget]:
        events = detail.events.sort_values("created_at", ascending=False, kind="stable")

        def kind(record: Mapping[str, Any]) -> str:
            text = html.escape(str(record.get("type")))
            error = record.get("is_error") is True
            return (
                f'<span style="color:var(--jp-error-color1,#d32f2f)">{text}</span>'
                if error
                else text
            )

        return [
            widgets.HTML(
                frame_html(
                    events,
                    {
                        "Time (UTC)": _time("created_at"),
                        "Type": kind,
                        "Message": _text("message"),
                        "Tx": _code("tx"),
                    },
                    empty="No events yet: the service writes events only for jobs and errors.",
                )
            )
        ]

    def _tasks_tab(self, detail: _Detail) -> list[widgets.Widget]:
        from nosana_nb.frames import tasks_dataframe

        if str(detail.handle.state.status) == "ARCHIVED":
            return [
                widgets.HTML(
                    muted_html(
                        "An archived deployment has no tasks (the service refuses to list them)."
                    )
                )
            ]
        tasks = tasks_dataframe(list(detail.handle.get_tasks(limit=_PAGE)))
        return [
            widgets.HTML(
                frame_html(
                    tasks.sort_values("due_at", kind="stable"),
                    {
                        "Task": _text("task"),
                        "Due (UTC)": _time("due_at"),
                        "Job": _code("job"),
                        "Limit": _text("limit"),
                        "Created (UTC)": _time("created_at"),
                    },
                    empty="No upcoming tasks.",
                )
            )
        ]

    def _status_tab(self, detail: _Detail) -> list[widgets.Widget]:
        from nosana_nb.frames import deployments_dataframe, status_history_dataframe
        from nosana_nb.plots import plot_status_history

        state = detail.handle.state
        derived = status_history_dataframe(
            deployments=deployments_dataframe(
                [state.model_dump(mode="json", by_alias=True, exclude={"events", "jobs"})]
            ),
            events=detail.events,
            jobs=detail.jobs,
        )
        figure = plot_status_history(
            derived, now=detail.now, title="Status over time", template=neutral_template()
        )
        height = timeline_height(figure)
        note = muted_html(
            "Derived from jobs and events: the service keeps no log of status changes. "
            "Keep a <code>Watcher</code> running to record them exactly."
        )
        return [figure_output(figure, height=height), widgets.HTML(note)]

    def _timeline_tab(self, detail: _Detail) -> list[widgets.Widget]:
        from nosana_nb.plots import plot_job_timeline

        figure = plot_job_timeline(
            detail.jobs, detail.events, now=detail.now, template=neutral_template()
        )
        return [figure_output(figure, height=timeline_height(figure))]

    def _cost_tab(self, detail: _Detail) -> list[widgets.Widget]:
        from nosana_nb.frames import cost_dataframe, deployments_dataframe
        from nosana_nb.plots import plot_cost

        if not self._markets:
            return [widgets.HTML(muted_html("Markets are unavailable, so jobs cannot be priced."))]
        state = detail.handle.state
        deployments = deployments_dataframe(
            [state.model_dump(mode="json", by_alias=True, exclude={"events", "jobs"})]
        )
        cost = cost_dataframe(
            detail.jobs, self.markets_frame, deployments=deployments, now=detail.now
        )
        total = float(cost["total_nos"].sum()) if not cost.empty else 0.0
        usd = float(cost["usd_with_fee"].sum()) if not cost.empty else 0.0
        open_jobs = int(cost["is_open"].sum()) if not cost.empty else 0
        summary = (
            f'<div style="color:{_TEXT}"><b>{total:.4f} NOS</b> so far (≈ ${_usd(usd)}), '
            "network fee "
            f"included, over {len(cost)} jobs; {open_jobs} still running (billed until the "
            "service's current time).</div>"
        )
        figure = plot_cost(cost, title="Cumulative spend", template=neutral_template())
        return [widgets.HTML(summary), figure_output(figure)]

    def _vault_tab(self, detail: _Detail) -> list[widgets.Widget]:
        state = detail.handle.state
        if state.vault == state.owner:
            return [
                widgets.HTML(
                    muted_html("This deployment is paid with credits (API key): it has no vault.")
                )
            ]
        # the vault widget (balances, top-up, withdraw, history, runway) of this deployment
        return [VaultWidget(self.client, state.vault)]

    def _show_controls(self, focus: str) -> None:
        box = self._tab_boxes["Controls"]
        if self._controls is None or self._controls.deployment_id != focus:
            self._controls = DeploymentControls(self.client, focus, follow=False)
            self._controls.observe(self._controls_acted, names="last_result")
        replace_children(box, [self._controls])

    def _controls_acted(self, change: Mapping[str, Any]) -> None:
        """The controls changed the focused deployment: its row follows at once."""
        controls = self._controls
        if controls is None or controls.deployment is None:
            if controls is not None:
                self._feed.poll_now()  # deleted: the next list drops the row
            return
        state = controls.deployment.state
        self.table.patch(
            state.id, name=state.name, status=str(state.status), replicas=state.replicas
        )
        self._render_detail_title()
        self._update_selection_info(self.table.selected_ids)
        self._feed.mark_dirty(state.id)


def _compact_layout() -> widgets.Layout:
    # as wide as the label (the default 148 px pushes narrow rows onto a second line)
    return widgets.Layout(width="auto", min_width="6em")


def _row(*children: widgets.Widget) -> widgets.HBox:
    return widgets.HBox(
        list(children),
        layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
    )


def _check_options(
    live: Any, max_streams: Any, poll_interval: Any, list_interval: Any, page_length: Any
) -> None:
    if not isinstance(live, bool):
        raise ValidationError("live must be True or False", argument="live")
    if (
        isinstance(max_streams, bool)
        or not isinstance(max_streams, int)
        or not 1 <= max_streams <= 100
    ):
        raise ValidationError("max_streams must be an int from 1 to 100", argument="max_streams")
    for name, value in (("poll_interval", poll_interval), ("list_interval", list_interval)):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value < float("inf")
        ):
            raise ValidationError(f"{name} must be a positive number of seconds", argument=name)
    if page_length not in (10, 25, 50, 100):
        raise ValidationError("page_length must be 10, 25, 50 or 100", argument="page_length")
