"""``DeploymentControls``: start, stop, archive, delete, scale, timeout, schedule, rename and
revisions of one deployment, each enabled only where the service's state machine allows it.

What is allowed comes from one table, ``core.errors.ALLOWED_ACTIONS`` (wire-contract
§7.1), the same one the client uses to explain a refusal, so a button and the error it would
provoke never disagree. A disabled button says why, twice: in its tooltip and in a visible hint
line (tooltips are invisible to keyboard and touch users). Destructive actions (stop, archive,
delete) go through an in-widget confirm step, never a browser dialog (Voila has none to offer
and a test cannot click one).
"""

from __future__ import annotations

import difflib
import html
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

import ipywidgets as widgets

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.deployments import Deployment
from nosana_nb.core.errors import ALLOWED_ACTIONS, ValidationError
from nosana_nb.core.jobdef import validate_job_definition
from nosana_nb.core.models import DeploymentState, Revision
from nosana_nb.core.validation import (
    check_cron,
    check_name,
    check_pubkey,
    check_replicas,
    check_update_timeout,
)
from nosana_nb.widgets._base import (
    CancelToken,
    NosanaWidget,
    TaskRunner,
    badge_html,
    status_color,
)
from nosana_nb.widgets._endpoints import EndpointsPanel

__all__ = [
    "DESTRUCTIVE_ACTIONS",
    "LIFECYCLE",
    "STATE_ACTIONS",
    "DeploymentControls",
    "action_block_reason",
    "allowed_statuses",
    "close_tree",
    "definition_diff",
    "format_minutes",
    "replace_children",
    "user_definition",
]

logger = logging.getLogger("nosana_nb.widgets")

STATE_ACTIONS = ("start", "stop", "archive", "delete")
DESTRUCTIVE_ACTIONS = frozenset({"stop", "archive", "delete"})
_UPDATE_ACTIONS = (
    "update-replica-count",
    "update-timeout",
    "update-schedule",
    "update-name",
    "create-revision",
    "update-active-revision",
)
_LABELS = {
    "start": "Start",
    "stop": "Stop",
    "archive": "Archive",
    "delete": "Delete",
    "update-replica-count": "Scaling",
    "update-timeout": "Changing the timeout",
    "update-schedule": "Changing the schedule",
    "update-name": "Renaming",
    "create-revision": "A new revision",
    "update-active-revision": "Switching revisions",
}
_PROGRESSIVE = {
    "start": "Starting",
    "stop": "Stopping",
    "archive": "Archiving",
    "delete": "Deleting",
}
_PAST = {"start": "Started", "stop": "Stop sent", "archive": "Archived", "delete": "Deleted"}
_CONFIRM_TEXT = {
    "stop": "Stop {name}? Its running jobs are stopped and billing ends; start it again later.",
    "archive": "Archive {name}? This is permanent: an archived deployment can only be renamed.",
    "delete": (
        "Delete {name}? This permanently removes the deployment with its jobs, revisions "
        "and events."
    ),
}
# what the service adds to a stored revision; stripped so an untouched edit diffs as empty
_SERVICE_TRIGGER = "deployment-manager"
_MUTED = "var(--jp-ui-font-color2, #616161)"
_TEXT = "var(--jp-ui-font-color1, #212121)"


# --- the state machine, as text ----------------------------------------------------------------


# the order a deployment lives through, for messages that list statuses
LIFECYCLE = (
    "DRAFT",
    "STARTING",
    "RUNNING",
    "STOPPING",
    "STOPPED",
    "INSUFFICIENT_FUNDS",
    "ERROR",
    "ARCHIVED",
)


def allowed_statuses(action: str) -> tuple[str, ...]:
    """The statuses in which the service accepts ``action`` (a wire route name)."""
    known = [s for s in LIFECYCLE if s in ALLOWED_ACTIONS] + [
        s for s in ALLOWED_ACTIONS if s not in LIFECYCLE
    ]
    return tuple(status for status in known if action in ALLOWED_ACTIONS[status])


def _or_list(items: Iterable[str]) -> str:
    words = list(items)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]


def action_block_reason(action: str, status: str | None, strategy: str | None = None) -> str | None:
    """Why ``action`` cannot run on a deployment in ``status`` (None when it can).

    ``strategy`` matters only for the schedule, which exists for SCHEDULED deployments alone.
    """
    label = _LABELS.get(action, action)
    if status is None:
        return "The deployment is still loading."
    if status not in ALLOWED_ACTIONS:
        return f"{label} is unavailable: the service reported an unknown status {status!r}."
    if action == "update-schedule" and strategy is not None and strategy != "SCHEDULED":
        return f"Only SCHEDULED deployments have a schedule; this one is {strategy}."
    if action in ALLOWED_ACTIONS[status]:
        return None
    if status == "ARCHIVED":
        return f"{label} is impossible: an archived deployment can only be renamed."
    return (
        f"{label} needs the deployment to be {_or_list(allowed_statuses(action))}; it is {status}."
    )


def format_minutes(minutes: int) -> str:
    """Hours and minutes together ("1 h 30 min"): the API counts minutes, people think in hours."""
    hours, rest = divmod(int(minutes), 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{rest} min"


# --- revisions ---------------------------------------------------------------------------------


def user_definition(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A revision's job definition without what the service adds on create (``deployment_id``
    and ``meta.trigger``), so it can be edited and sent back as a new revision."""
    plain: dict[str, Any] = json.loads(json.dumps(dict(stored)))
    plain.pop("deployment_id", None)
    meta = plain.get("meta")
    if isinstance(meta, dict):
        if meta.get("trigger") == _SERVICE_TRIGGER:
            meta.pop("trigger")
        if not meta:
            plain.pop("meta")
    return plain


def _pretty(definition: Mapping[str, Any]) -> str:
    return json.dumps(definition, indent=2, sort_keys=True, ensure_ascii=False)


def definition_diff(
    active: Mapping[str, Any], edited: Mapping[str, Any], *, active_number: int
) -> str:
    """A unified diff of pretty JSON: the active revision against the edited definition."""
    lines = difflib.unified_diff(
        _pretty(active).splitlines(),
        _pretty(edited).splitlines(),
        fromfile=f"revision {active_number} (active)",
        tofile="new revision",
        lineterm="",
    )
    return "\n".join(lines)


def _diff_html(diff: str) -> str:
    if not diff:
        return f'<div style="color:{_MUTED}">No changes against the active revision.</div>'
    rows = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            style = "font-weight:600"
        elif line.startswith("+"):
            style = "background:rgba(4,222,0,0.18)"
        elif line.startswith("-"):
            style = "background:rgba(255,77,79,0.20)"
        elif line.startswith("@@"):
            style = f"color:{_MUTED}"
        else:
            style = ""
        rows.append(f'<span style="{style}">{html.escape(line)}</span>')
    return (
        '<pre class="nosana-diff" aria-label="Differences against the active revision" '
        f'style="margin:0;padding:6px;max-height:320px;overflow:auto;color:{_TEXT};'
        "background:var(--jp-layout-color2,#f5f5f5);border-radius:4px;"
        'font-size:var(--jp-code-font-size,12px);white-space:pre">' + "\n".join(rows) + "</pre>"
    )


# --- small HTML pieces, readable on light and dark themes ---------------------------------------

# One stylesheet for both widgets; colours come from JupyterLab's --jp-* variables so the same
# HTML reads well in the light and the dark theme. The greys of STOPPED/STOPPING/ARCHIVED
# (#363636) vanish on a dark page: there they switch to the dashboard's dark-theme grey.
STYLE = """
<style>
.nosana-widget table.nosana-frame { border-collapse: collapse; color: var(--jp-ui-font-color1);
  font-size: var(--jp-ui-font-size1, 12px); }
.nosana-widget table.nosana-frame th { text-align: left; padding: 3px 14px 3px 0;
  border-bottom: 1px solid var(--jp-border-color1, #bdbdbd); white-space: nowrap; }
.nosana-widget table.nosana-frame td { padding: 3px 14px 3px 0; vertical-align: top;
  border-bottom: 1px solid var(--jp-border-color3, #eeeeee); }
.nosana-widget table.nosana-frame code { white-space: nowrap; }
.nosana-widget .nosana-table table.dataTable { color: var(--jp-ui-font-color1);
  font-size: var(--jp-ui-font-size1, 12px); }
.nosana-widget .nosana-table { max-width: 100%; overflow-x: auto; }
.nosana-widget .nosana-table tr.selected .nosana-badge { box-shadow: 0 0 0 1px #ffffff; }
.nosana-widget td.nosana-url { word-break: break-all; }
.nosana-widget .widget-tab > .lm-TabBar .lm-TabBar-tab { flex: 0 1 auto; min-width: 0; }
.nosana-widget .nosana-editor { width: auto; align-self: stretch; min-width: 0; }
.nosana-widget button.jupyter-button:disabled { opacity: 0.45; filter: grayscale(0.6);
  cursor: not-allowed; }
body[data-jp-theme-light="false"] .nosana-widget .nosana-badge[data-status="STOPPED"],
body[data-jp-theme-light="false"] .nosana-widget .nosana-badge[data-status="STOPPING"],
body[data-jp-theme-light="false"] .nosana-widget .nosana-badge[data-status="ARCHIVED"] {
  background: #B5B5B5 !important; color: #1a1a1a !important; }
</style>
"""


def section_title(text: str) -> widgets.HTML:
    return widgets.HTML(
        f'<div role="heading" aria-level="4" style="font-weight:600;color:{_TEXT};'
        f'margin:8px 0 2px 0">{html.escape(text)}</div>'
    )


def muted_html(text: str) -> str:
    return f'<div style="color:{_MUTED};font-size:var(--jp-ui-font-size1,12px)">{text}</div>'


_DARK_TEXT_ON = frozenset({"#FFB800", "#04DE00"})


def pill_html(text: str, colour_of: str) -> str:
    """A status-coloured pill with its own text (ACTIVE for a revision, INACTIVE for a URL)."""
    colour = status_color(colour_of)
    ink = "#1a1a1a" if colour in _DARK_TEXT_ON else "#ffffff"
    label = html.escape(text)
    return (
        f'<span class="nosana-badge" data-status="{html.escape(colour_of)}" '
        f'style="background:{colour};color:{ink};padding:1px 8px;border-radius:9px;'
        f'font-size:var(--jp-ui-font-size1,12px);font-weight:600;white-space:nowrap">{label}</span>'
    )


def revisions_html(revisions: Iterable[Revision], active: int | None) -> str:
    rows = []
    for revision in sorted(revisions, key=lambda r: r.revision, reverse=True):
        created = revision.created_at.strftime("%Y-%m-%d %H:%M UTC") if revision.created_at else ""
        images = ", ".join(
            str(op.get("args", {}).get("image", ""))
            for op in revision.job_definition.get("ops", [])
            if isinstance(op, dict)
        )
        mark = pill_html("ACTIVE", "COMPLETED") if revision.revision == active else ""
        rows.append(
            f"<tr><td>{revision.revision}</td><td>{html.escape(created)}</td>"
            f"<td>{html.escape(images)}</td><td>{mark}</td></tr>"
        )
    if not rows:
        return muted_html("No revisions loaded yet.")
    return (
        '<table class="nosana-frame nosana-revisions">'
        "<thead><tr><th>Revision</th><th>Created</th><th>Images</th><th></th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )


def close_tree(widget: widgets.Widget) -> None:
    """Close a widget and everything inside it.

    ``Widget.close`` leaves the children open; a container that is gone while its children
    live on (or the other way round) is a leak, and breaks saving the kernel's widget state.
    """
    for child in list(getattr(widget, "children", ())):
        close_tree(child)
    widget.close()


def replace_children(box: widgets.Box, children: Iterable[widgets.Widget]) -> None:
    """Show ``children`` in ``box`` and close what it showed before (not reused)."""
    new = list(children)
    old = [child for child in box.children if all(child is not kept for kept in new)]
    box.children = new
    for child in old:
        close_tree(child)


def require_sync_client(client: Any, widget: str) -> NosanaClient:
    if not isinstance(client, NosanaClient):
        raise ValidationError(
            f"{widget} takes a nosana_nb.NosanaClient (e.g. nosana_nb.connect()); "
            f"got {type(client).__name__}",
            argument="client",
        )
    return client


def _deployment_reference(deployment: Any) -> tuple[str, Deployment | None]:
    if isinstance(deployment, Deployment):
        return deployment.id, deployment
    if isinstance(deployment, str):
        return check_pubkey(deployment.strip(), argument="deployment"), None
    raise ValidationError(
        "deployment must be a deployment id (str) or a Deployment from client.deployments; "
        f"got {type(deployment).__name__}",
        argument="deployment",
    )


def _labelled(widget: widgets.Widget, width: str = "auto") -> widgets.Widget:
    widget.style = {"description_width": "initial"}
    widget.layout = widgets.Layout(width=width)
    return widget


def _row(*children: widgets.Widget) -> widgets.HBox:
    return widgets.HBox(
        list(children),
        layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
    )


class DeploymentControls(NosanaWidget):
    """Controls of one deployment.

    Args:
        client: a ``NosanaClient``.
        deployment: a deployment id, or a ``Deployment`` from ``client.deployments`` (shown at
            once, then refreshed).
        follow: keep the status current from the deployment's live stream (a ``Watcher``);
            the dashboard passes False and forwards its own stream instead.

    Drive it like a user: ``controls.stop_button.click()`` then ``controls.confirm_button.click()``;
    ``controls.wait()`` returns when the action (and the reload after it) is done, with the
    outcome in ``last_result`` / ``last_error``.

    Raises:
        ValidationError: not a sync client, not a deployment id or handle, or a bad ``follow``.
    """

    def __init__(self, client: Any, deployment: Any, *, follow: bool = True) -> None:
        require_sync_client(client, "DeploymentControls")
        deployment_id, handle = _deployment_reference(deployment)
        if not isinstance(follow, bool):
            raise ValidationError("follow must be True or False", argument="follow")
        super().__init__(client)
        self.add_class("nosana-controls")
        self.deployment_id = deployment_id
        self._handle: Deployment | None = handle
        self._revisions: list[Revision] = []
        self._pending: str | None = None
        self._background = TaskRunner()  # refreshes that must not count as the user's operation
        self._refresh_lock = threading.Lock()
        self._refresh_queued = False
        self._watcher: Any = None
        self._follow = follow
        self._closed = False
        self._build()
        if handle is not None:
            self._render(handle.state)
        else:
            self.header.value = muted_html(f"Loading deployment {html.escape(deployment_id)}…")
        self._apply_enabling()
        self.run(
            "Loading deployment",
            self._load,
            on_success=self._loaded,
            success_text=lambda _: "Deployment loaded.",
        )

    # --- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.header = widgets.HTML()
        self.refresh_button = widgets.Button(
            description="Refresh", tooltip="Reload this deployment from the service"
        )
        self.refresh_button.on_click(lambda _: self.refresh())
        self.cancel_button = widgets.Button(
            description="Cancel", tooltip="Cancel the operation in progress"
        )
        self.cancel_button.on_click(lambda _: self.cancel())
        self.cancel_button.layout.display = "none"
        self.observe(self._show_cancel, names="busy")

        self.start_button = widgets.Button(description="Start", button_style="success")
        self.stop_button = widgets.Button(description="Stop", button_style="warning")
        self.archive_button = widgets.Button(description="Archive")
        self.delete_button = widgets.Button(description="Delete", button_style="danger")
        self.state_buttons = {
            "start": self.start_button,
            "stop": self.stop_button,
            "archive": self.archive_button,
            "delete": self.delete_button,
        }
        for action, button in self.state_buttons.items():
            button.on_click(lambda _, a=action: self.request(a))
        self.hint = widgets.HTML()
        self.hint.add_class("nosana-hint")

        self.confirm_text = widgets.HTML()
        self.confirm_button = widgets.Button(description="Confirm", button_style="danger")
        self.confirm_button.on_click(lambda _: self.confirm())
        self.cancel_confirm_button = widgets.Button(description="Keep it", tooltip="Do nothing")
        self.cancel_confirm_button.on_click(lambda _: self.dismiss())
        self.confirm_box = widgets.VBox(
            [self.confirm_text, _row(self.confirm_button, self.cancel_confirm_button)],
            layout=widgets.Layout(
                display="none",
                border="1px solid var(--jp-error-color1, #d32f2f)",
                padding="6px",
                margin="4px 0",
            ),
        )
        self.confirm_box.add_class("nosana-confirm")

        self.replicas_input = _labelled(widgets.IntText(description="Replicas"), "150px")
        self.scale_button = widgets.Button(description="Scale", tooltip="Set the replica count")
        self.scale_button.on_click(lambda _: self.scale())
        self.timeout_input = _labelled(widgets.IntText(description="Timeout (minutes)"), "210px")
        self.timeout_reading = widgets.HTML()
        self.timeout_input.observe(self._show_timeout_reading, names="value")
        self.timeout_button = widgets.Button(description="Set timeout")
        self.timeout_button.on_click(lambda _: self.set_timeout())
        self.schedule_input = _labelled(
            widgets.Text(description="Schedule (cron)", placeholder="0 * * * *"), "260px"
        )
        self.schedule_check = widgets.HTML()
        self.schedule_input.observe(self._check_schedule_input, names="value")
        self.schedule_button = widgets.Button(description="Set schedule")
        self.schedule_button.on_click(lambda _: self.set_schedule())
        self.name_input = _labelled(widgets.Text(description="Name"), "320px")
        self.rename_button = widgets.Button(description="Rename")
        self.rename_button.on_click(lambda _: self.rename())

        self.revisions_view = widgets.HTML()
        self.revision_picker = _labelled(
            widgets.Dropdown(description="Revision", options=[]), "200px"
        )
        self.revision_picker.observe(lambda _: self._apply_enabling(), names="value")
        self.activate_button = widgets.Button(
            description="Make active", tooltip="Switch the deployment to this revision"
        )
        self.activate_button.on_click(lambda _: self.activate_revision())
        self.revision_editor = widgets.Textarea(
            description="Job definition (JSON)",
            continuous_update=False,
            rows=14,
            style={"description_width": "initial"},
        )
        self.revision_editor.add_class("nosana-editor")  # fills the row: see STYLE
        self.revision_editor.observe(lambda _: self._update_diff(), names="value")
        self.diff_view = widgets.HTML()
        self.create_revision_button = widgets.Button(
            description="Create revision", tooltip="Save the edited definition as a new revision"
        )
        self.create_revision_button.on_click(lambda _: self.create_revision())
        self.rollback_hint = widgets.HTML()
        self.endpoints_panel = EndpointsPanel()
        self.endpoints_view = self.endpoints_panel.view

        self.children = [
            widgets.HTML(STYLE, layout=widgets.Layout(display="none")),
            _row(self.header, self.refresh_button, self.cancel_button),
            section_title("Actions"),
            _row(*self.state_buttons.values()),
            self.hint,
            self.confirm_box,
            section_title("Settings"),
            _row(self.replicas_input, self.scale_button),
            _row(self.timeout_input, self.timeout_reading, self.timeout_button),
            _row(self.schedule_input, self.schedule_button, self.schedule_check),
            _row(self.name_input, self.rename_button),
            section_title("Revisions"),
            self.revisions_view,
            _row(self.revision_picker, self.activate_button),
            self.rollback_hint,
            self.revision_editor,
            self.diff_view,
            _row(self.create_revision_button),
            section_title("Endpoints"),
            self.endpoints_panel,
            self.status,
        ]

    def _show_cancel(self, change: Mapping[str, Any]) -> None:
        self.cancel_button.layout.display = "" if change["new"] else "none"

    def _action_widgets(self) -> list[widgets.Widget]:
        return [
            *self.state_buttons.values(),
            self.confirm_button,
            self.scale_button,
            self.timeout_button,
            self.schedule_button,
            self.rename_button,
            self.activate_button,
            self.create_revision_button,
            self.refresh_button,
        ]

    # --- what the deployment is ---------------------------------------------------------------

    @property
    def deployment(self) -> Deployment | None:
        """The loaded deployment handle (None until loaded)."""
        return self._handle

    @property
    def deployment_status(self) -> str | None:
        """The deployment's status as last known (None before it has loaded)."""
        return None if self._handle is None else str(self._handle.state.status)

    @property
    def strategy(self) -> str | None:
        """The deployment's strategy (None before it has loaded)."""
        return None if self._handle is None else str(self._handle.state.strategy)

    @property
    def revisions(self) -> list[Revision]:
        """The deployment's revisions as loaded, newest first."""
        return list(self._revisions)

    def block_reasons(self) -> dict[str, str | None]:
        """Per action (wire route name), why it is unavailable now (None: available).

        Returns:
            Each action with the reason it is blocked, or None.
        """
        status, strategy = self.deployment_status, self.strategy
        return {
            action: action_block_reason(action, status, strategy)
            for action in (*STATE_ACTIONS, *_UPDATE_ACTIONS)
        }

    # --- loading ------------------------------------------------------------------------------

    def _load(self, token: CancelToken) -> Deployment:
        handle = self._handle
        if handle is None:
            handle = self.client.deployments.get(self.deployment_id)
        else:
            handle.refresh()
        token.raise_if_cancelled()
        self._revisions = list(handle.get_revisions(limit=100))
        return handle

    def _loaded(self, handle: Deployment) -> None:
        self._handle = handle
        self.endpoints_panel.set_prober(handle.probe_endpoints)
        self._render(handle.state, fill_inputs=True)
        if str(handle.state.status) == "RUNNING" and self.endpoints_panel.probes is None:
            self.endpoints_panel.probe()
        self._fill_editor()
        if self._follow and self._watcher is None and not self._closed:
            self._start_following()

    def refresh(self) -> None:
        """Reload the deployment and its revisions in the background (the Refresh button)."""
        self.run(
            "Refreshing",
            self._load,
            disable=[self.refresh_button],
            on_success=lambda handle: self._render(handle.state),
            success_text="Refreshed.",
        )

    def refresh_quietly(self) -> None:
        """Reload in the background without touching ``last_result``; bursts become one reload.

        For live updates (a stream row, the dashboard's poll), not for user actions.
        """
        with self._refresh_lock:
            if self._refresh_queued or self._handle is None or self._closed:
                return
            self._refresh_queued = True
        handle = self._handle

        def work(token: CancelToken) -> DeploymentState:
            with self._refresh_lock:
                self._refresh_queued = False
            return handle.refresh()

        def done(operation: Any) -> None:
            if operation.future.exception() is None:
                self._render(operation.future.result())
            else:
                logger.debug("quiet refresh of %s failed", self.deployment_id)

        self._background.submit("Refreshing quietly", work, on_done=done)

    def _start_following(self) -> None:
        from nosana_nb.watch import Watcher

        def on_row(row: Mapping[str, Any]) -> None:
            if row.get("type") == "deployment":
                self.refresh_quietly()

        try:
            self._watcher = Watcher(self.client, self.deployment_id, on_change=on_row).start()
        except Exception as err:  # following is a convenience: the controls work without it
            logger.warning("cannot follow deployment %s live: %s", self.deployment_id, err)

    def wait(self, timeout: float | None = 30.0) -> Any:
        """Wait for the action in flight and the reload after it (for scripts and tests).

        Args:
            timeout: seconds to wait at most; None waits as long as it takes.

        Returns:
            ``last_result``.
        """
        self._tasks.wait(timeout)
        self._background.wait(timeout)
        self.endpoints_panel.wait(timeout)
        return self.last_result

    def close(self) -> None:
        # once only: Widget.__del__ calls close again, possibly while the interpreter exits
        if self.__dict__.get("_closed", True):
            return  # closed already, or __init__ refused its arguments
        self._closed = True
        watcher, self._watcher = self._watcher, None
        if watcher is not None and not sys.is_finalizing():
            # joining the stream thread can take a moment: never on the caller's thread
            # (and no new thread while the interpreter exits: its daemon threads just end)
            threading.Thread(target=watcher.stop, name="nosana-controls-stop", daemon=True).start()
        self._background.cancel_all()
        for child in list(self.children):
            close_tree(child)
        super().close()

    # --- rendering ----------------------------------------------------------------------------

    def _render(self, state: DeploymentState, *, fill_inputs: bool = False) -> None:
        status = str(state.status)
        name = state.name or "(unnamed)"
        self.header.value = (
            f'<div style="color:{_TEXT}"><span style="font-weight:600;font-size:'
            f'var(--jp-ui-font-size2,14px)">{html.escape(name)}</span> {badge_html(status)} '
            f'<code style="color:{_MUTED}">{html.escape(state.id)}</code><br>'
            f'<span style="color:{_MUTED}">{html.escape(str(state.strategy))} · '
            f"{int(state.replicas)} replica{'s' if int(state.replicas) != 1 else ''} · "
            f"timeout {format_minutes(int(state.timeout))} · revision {state.active_revision}"
            + (f" · schedule <code>{html.escape(state.schedule)}</code>" if state.schedule else "")
            + "</span></div>"
        )
        # inputs are filled on load and after the user's own change, never under their typing
        if fill_inputs:
            self.replicas_input.value = int(state.replicas)
            self.timeout_input.value = int(state.timeout)
            self.schedule_input.value = state.schedule or ""
            self.name_input.value = state.name
        self._show_timeout_reading()
        self.revisions_view.value = revisions_html(self._revisions, state.active_revision)
        numbers = sorted((r.revision for r in self._revisions), reverse=True)
        options = [
            (f"Revision {n}" + (" (active)" if n == state.active_revision else ""), n)
            for n in numbers
        ]
        if list(self.revision_picker.options) != options or fill_inputs:
            self.revision_picker.options = options
            if numbers:
                active = state.active_revision
                self.revision_picker.value = active if active in numbers else numbers[0]
        newest = max(numbers) if numbers else state.active_revision
        self.rollback_hint.value = (
            muted_html(
                f"Revision {state.active_revision} is active but {newest} exists: the service "
                f"numbers a new revision {state.active_revision + 1}, which is already taken, so "
                f"creating one now fails. Make revision {newest} active first."
            )
            if state.active_revision < newest
            else ""
        )
        self.endpoints_panel.show(state.endpoints, status)
        self._apply_enabling()

    def _fill_editor(self) -> None:
        active = self._active_revision()
        if active is not None:
            self.revision_editor.value = _pretty(user_definition(active.job_definition))
        self._update_diff()

    def _active_revision(self) -> Revision | None:
        if self._handle is None:
            return None
        number = self._handle.state.active_revision
        return next((r for r in self._revisions if r.revision == number), None)

    def _show_timeout_reading(self, _change: Any = None) -> None:
        minutes = self.timeout_input.value
        shown = isinstance(minutes, int) and minutes > 0
        self.timeout_reading.value = muted_html(f"= {format_minutes(minutes)}") if shown else ""

    def _check_schedule_input(self, _change: Any = None) -> None:
        text = self.schedule_input.value.strip()
        if not text or self.strategy != "SCHEDULED":
            self.schedule_check.value = ""
            return
        try:
            check_cron(text)
        except ValidationError as err:
            self.schedule_check.value = (
                f'<div style="color:var(--jp-error-color1,#d32f2f)">{html.escape(str(err))}</div>'
            )
        else:
            self.schedule_check.value = muted_html("✓ a valid 5-field cron expression")

    def _edited_definition(self) -> tuple[dict[str, Any] | None, str | None]:
        """The editor's definition (parsed and validated) or why it is not usable."""
        text = self.revision_editor.value
        if not text.strip():
            return None, "The job definition is empty."
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as err:
            return None, f"Not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})."
        if not isinstance(parsed, dict):
            return None, "A job definition is a JSON object ({...})."
        try:
            return validate_job_definition(parsed), None
        except ValidationError as err:
            return None, str(err)

    def _update_diff(self) -> None:
        active = self._active_revision()
        edited, problem = self._edited_definition()
        if problem is not None:
            self.diff_view.value = (
                '<pre style="color:var(--jp-error-color1,#d32f2f);white-space:pre-wrap;margin:0">'
                f"{html.escape(problem)}</pre>"
            )
        elif active is None or edited is None:
            self.diff_view.value = muted_html("Revisions are loading…")
        else:
            self.diff_view.value = _diff_html(self.revision_diff())
        self._apply_enabling()

    def revision_diff(self) -> str:
        """The unified diff between the active revision and the editor ("" when unchanged).

        Returns:
            The diff text.

        Raises:
            ValidationError: the revisions have not loaded, or the editor holds no valid job
                definition.
        """
        active = self._active_revision()
        edited, problem = self._edited_definition()
        if active is None:
            raise ValidationError("the revisions have not loaded yet", argument="revision")
        if problem is not None or edited is None:
            raise ValidationError(problem or "no job definition", argument="job_definition")
        return definition_diff(
            user_definition(active.job_definition), edited, active_number=active.revision
        )

    def _apply_enabling(self) -> None:
        reasons = self.block_reasons()
        loaded = self._handle is not None
        busy = self.busy
        hints: list[str] = []
        for action, button in self.state_buttons.items():
            reason = reasons[action]
            button.disabled = busy or not loaded or reason is not None
            button.tooltip = reason or f"{_LABELS[action]} this deployment"
            if reason is not None and loaded:
                hints.append(f"<b>{_LABELS[action]}</b>: {html.escape(reason)}")
        for action, widget_group in (
            ("update-replica-count", (self.scale_button, self.replicas_input)),
            ("update-timeout", (self.timeout_button, self.timeout_input)),
            ("update-schedule", (self.schedule_button, self.schedule_input)),
            ("update-name", (self.rename_button, self.name_input)),
        ):
            reason = reasons[action]
            for widget in widget_group:
                widget.disabled = busy or not loaded or reason is not None
            widget_group[0].tooltip = reason or widget_group[0].description
            if reason is not None and loaded and action != "update-schedule":
                hints.append(f"<b>{_LABELS[action]}</b>: {html.escape(reason)}")
        if reasons["update-schedule"] is not None and loaded:
            self.schedule_check.value = muted_html(html.escape(reasons["update-schedule"] or ""))
        state = self._handle.state if self._handle is not None else None
        active_number = state.active_revision if state is not None else None
        already = self.revision_picker.value == active_number
        activate_reason = reasons["update-active-revision"] or (
            "This revision is already active." if already else None
        )
        self.activate_button.disabled = busy or not loaded or activate_reason is not None
        self.activate_button.tooltip = activate_reason or "Make this revision the active one"
        picker_blocked = reasons["update-active-revision"] is not None
        self.revision_picker.disabled = busy or not loaded or picker_blocked
        create_reason = reasons["create-revision"] or self._revision_edit_problem()
        self.create_revision_button.disabled = busy or not loaded or create_reason is not None
        self.create_revision_button.tooltip = create_reason or "Save as a new, active revision"
        self.revision_editor.disabled = busy or not loaded or reasons["create-revision"] is not None
        if reasons["create-revision"] is not None and loaded:
            hints.append(f"<b>Revisions</b>: {html.escape(reasons['create-revision'] or '')}")
        self.confirm_button.disabled = busy
        self.refresh_button.disabled = busy
        if loaded and self.deployment_status == "ARCHIVED":
            # one reason for every refusal: say it once
            hints = ["<b>Archived</b>: an archived deployment can only be renamed."]
        self.hint.value = muted_html("<br>".join(hints)) if hints else ""

    def _revision_edit_problem(self) -> str | None:
        edited, problem = self._edited_definition()
        active = self._active_revision()
        if problem is not None:
            return "Fix the job definition first."
        if active is None:
            return "The revisions are loading."
        if edited == user_definition(active.job_definition):
            return "Edit the job definition first: it equals the active revision."
        return None

    def _after_operation(self) -> None:
        self._apply_enabling()

    # --- actions ------------------------------------------------------------------------------

    def request(self, action: str) -> None:
        """What a click on an action button does: destructive ones ask first.

        Args:
            action: start, stop, archive or delete.

        Raises:
            ValidationError: an unknown action.
        """
        if action not in self.state_buttons:
            raise ValidationError(
                f"action must be one of {', '.join(STATE_ACTIONS)}; got {action!r}",
                argument="action",
            )
        reason = self.block_reasons()[action]
        if reason is not None:
            self.last_error = ValidationError(reason, argument="action")
            self.status.error(reason)
            return
        if action in DESTRUCTIVE_ACTIONS:
            self._pending = action
            name = self._handle.state.name if self._handle is not None else self.deployment_id
            self.confirm_text.value = (
                f'<div style="color:{_TEXT}">'
                + html.escape(_CONFIRM_TEXT[action].format(name=repr(name or self.deployment_id)))
                + "</div>"
            )
            self.confirm_button.description = f"Yes, {action}"
            self.confirm_box.layout.display = ""
            return
        self._perform(action)

    @property
    def pending_confirmation(self) -> str | None:
        """The destructive action waiting for "confirm" (None when nothing is asked)."""
        return self._pending

    def confirm(self) -> None:
        """Answer "yes" to the confirm step: the pending action is sent."""
        action, self._pending = self._pending, None
        self.confirm_box.layout.display = "none"
        if action is not None:
            self._perform(action)

    def dismiss(self) -> None:
        """Answer "no" to the confirm step: nothing is sent."""
        action, self._pending = self._pending, None
        self.confirm_box.layout.display = "none"
        if action is not None:
            self.status.info(f"{_LABELS[action]} cancelled; nothing was sent.")

    def _perform(self, action: str) -> None:
        handle = self._handle
        if handle is None:
            return

        def work(token: CancelToken) -> Any:
            token.raise_if_cancelled()
            result: Any
            if action == "start":
                result = handle.start()
            elif action == "stop":
                result = handle.stop()
            elif action == "archive":
                result = handle.archive()
            else:
                handle.delete()
                return None
            return result

        def done(result: Any) -> None:
            if action == "delete":
                self._render_deleted()
            else:
                self._render(handle.state)

        self.run(
            _PROGRESSIVE[action],
            work,
            disable=self._action_widgets(),
            on_success=done,
            success_text=lambda r: f"{_PAST[action]}: now {self.deployment_status or 'deleted'}.",
        )

    def _render_deleted(self) -> None:
        self.header.value = (
            f'<div style="color:{_TEXT}">Deployment <code>{html.escape(self.deployment_id)}</code> '
            "was deleted.</div>"
        )
        self._handle = None
        for widget in self._action_widgets():
            widget.disabled = True
        self.hint.value = ""

    def _update(
        self,
        label: str,
        check: Callable[[], Any],
        send: Callable[[Deployment, Any], Any],
        success: Callable[[Any], str],
        *,
        reload_revisions: bool = False,
    ) -> None:
        """Validate on the kernel's thread (a typed error, nothing sent), then send."""
        handle = self._handle
        if handle is None:
            return
        try:
            value = check()
        except ValidationError as err:
            self.last_error = err
            self.status.error(f"ValidationError: {err}")
            return

        def work(token: CancelToken) -> Any:
            token.raise_if_cancelled()
            result = send(handle, value)
            if reload_revisions:
                token.raise_if_cancelled()
                self._revisions = list(handle.get_revisions(limit=100))
            return result

        def done(_result: Any) -> None:
            self._render(handle.state, fill_inputs=True)
            if reload_revisions:
                self._fill_editor()

        self.run(
            label,
            work,
            disable=self._action_widgets(),
            on_success=done,
            success_text=lambda r: success(r),
        )

    def scale(self) -> None:
        """Set the replica count from the replicas input (what the Scale button does)."""
        self._update(
            "Scaling",
            lambda: check_replicas(self.replicas_input.value, minimum=0),
            lambda d, n: d.update_replicas(n),
            lambda s: f"Replicas set to {s.replicas}.",
        )

    def set_timeout(self) -> None:
        """Set the job timeout from the timeout input (what its button does)."""
        self._update(
            "Setting the timeout",
            lambda: check_update_timeout(self.timeout_input.value),
            lambda d, minutes: d.update_timeout(timedelta(minutes=minutes)),
            lambda s: f"Timeout set to {format_minutes(int(s.timeout))}.",
        )

    def set_schedule(self) -> None:
        """Set the cron schedule from the schedule input (SCHEDULED deployments)."""

        def check() -> str:
            reason = self.block_reasons()["update-schedule"]
            if reason is not None:
                raise ValidationError(reason, argument="schedule")
            return check_cron(self.schedule_input.value)

        self._update(
            "Setting the schedule",
            check,
            lambda d, cron: d.update_schedule(cron),
            lambda s: f"Schedule set to {s.schedule}.",
        )

    def rename(self) -> None:
        """Rename the deployment to the name input's value."""
        self._update(
            "Renaming",
            lambda: check_name(self.name_input.value, allow_empty=False),
            lambda d, name: d.rename(name),
            lambda s: f"Renamed to {s.name!r}.",
        )

    def create_revision(self) -> None:
        """Add a revision with the editor's job definition (it becomes active)."""

        def check() -> dict[str, Any]:
            edited, problem = self._edited_definition()
            if problem is not None or edited is None:
                raise ValidationError(problem or "no job definition", argument="job_definition")
            return edited

        self._update(
            "Creating a revision",
            check,
            lambda d, definition: d.create_revision(definition),
            lambda r: f"Revision {r.active_revision} created and active.",
            reload_revisions=True,
        )

    def activate_revision(self) -> None:
        """Make the revision chosen in the picker the active one."""

        def check() -> int:
            number = self.revision_picker.value
            if not isinstance(number, int) or number not in {r.revision for r in self._revisions}:
                raise ValidationError("pick one of the listed revisions", argument="revision")
            return number

        self._update(
            "Switching revision",
            check,
            lambda d, number: d.set_active_revision(number),
            lambda r: f"Revision {r.active_revision} is now active.",
            reload_revisions=True,
        )
