"""The endpoints table of the controls and the dashboard: each URL with what a probe found.

The state shown is a real GET of the URL (``deployment.probe_endpoints()``), sent from this
kernel without credentials, never the deployment's status dressed up as an endpoint flag: the
service's own flag follows the status and lags while a container boots.
"""

from __future__ import annotations

import html
import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ipywidgets as widgets

from nosana_nb.core.endpoints import EndpointProbe
from nosana_nb.core.errors import ValidationError
from nosana_nb.core.models import Endpoint
from nosana_nb.widgets._base import CancelToken, TaskRunner, describe_error, status_color

logger = logging.getLogger("nosana_nb.widgets")

_MUTED = "var(--jp-ui-font-color2, #616161)"
_DARK_TEXT_ON = frozenset({"#FFB800", "#04DE00"})
# the dashboard palette: success green, warning yellow, danger red, grey for "not probed"
_STATE_COLOUR_OF = {
    "READY": "COMPLETED",
    "BOOTING": "QUEUED",
    "DOWN": "ERROR",
    "UNREACHABLE": "ERROR",
}
_SERVING_STATUSES = frozenset({"RUNNING", "STARTING"})


def _pill(text: str, colour_of: str, title: str) -> str:
    colour = status_color(colour_of)
    ink = "#1a1a1a" if colour in _DARK_TEXT_ON else "#ffffff"
    return (
        f'<span class="nosana-badge nosana-probe" data-status="{html.escape(colour_of)}" '
        f'title="{html.escape(title, quote=True)}" '
        f'style="background:{colour};color:{ink};padding:1px 8px;border-radius:9px;'
        f'font-size:var(--jp-ui-font-size1,12px);font-weight:600;white-space:nowrap">'
        f"{html.escape(text)}</span>"
    )


def _muted(text: str, colour: str = _MUTED) -> str:
    return f'<div style="color:{colour};font-size:var(--jp-ui-font-size1,12px)">{text}</div>'


def _link(url: str, *, dim: bool) -> str:
    text = html.escape(url)
    if not url.strip().lower().startswith(("https://", "http://")):
        return text
    colour = _MUTED if dim else "var(--jp-content-link-color,#1976d2)"
    return (
        f'<a href="{html.escape(url.strip(), quote=True)}" target="_blank" '
        f'rel="noopener noreferrer" style="color:{colour}">{text}</a>'
    )


def _probe_cell(probe: EndpointProbe | None) -> str:
    if probe is None:
        return _pill("NOT PROBED", "UNKNOWN", "press Probe to send a GET to this URL")
    note = f" ({probe.detail})" if probe.detail else ""
    return _pill(probe.summary, _STATE_COLOUR_OF[probe.state], probe.summary + note)


def endpoints_html(
    endpoints: Iterable[Endpoint],
    status: str | None,
    probes: Sequence[EndpointProbe] | None = None,
    *,
    error: str | None = None,
) -> str:
    """The endpoints table: operation, port, what the last probe found, and the URL.

    Args:
        endpoints: the deployment's endpoints.
        status: the deployment's status (says whether a probe can be expected to answer).
        probes: the last probes of these endpoints, or None when none was sent yet.
        error: why the last probe could not be sent (shown instead of its time).

    Returns:
        HTML: a table and one line saying what was probed and when.
    """
    items = list(endpoints)
    if not items:
        return _muted("No exposed ports: this job definition has no <code>expose</code>.")
    found = {(p.op, str(p.port), p.url): p for p in probes or ()}
    rows = []
    for endpoint in items:
        probe = found.get((endpoint.op_id, str(endpoint.port), endpoint.url))
        rows.append(
            f"<tr><td>{html.escape(endpoint.op_id)}</td><td>{html.escape(str(endpoint.port))}</td>"
            f"<td>{_probe_cell(probe)}</td>"
            f'<td class="nosana-url" style="word-break:break-all">'
            f"{_link(endpoint.url, dim=not (probe and probe.ready))}</td>"
            "</tr>"
        )
    if error is not None:
        caption = _muted(html.escape(f"Probe failed: {error}"), "var(--jp-error-color1,#d32f2f)")
    elif probes:
        when = min(p.probed_at for p in probes).strftime("%Y-%m-%d %H:%M:%S UTC")
        caption = _muted(
            f"Probed {html.escape(when)} (service clock): a GET of each URL from this kernel, "
            "no credentials sent. READY = a 2xx/3xx answer; BOOTING = 503 while the "
            "container starts."
        )
    else:
        hint = (
            "The deployment is not running, so the URLs should not answer yet. "
            if status not in _SERVING_STATUSES
            else ""
        )
        caption = _muted(f"{hint}Not probed yet: Probe sends a GET to each URL (no credentials).")
    return (
        '<table class="nosana-frame nosana-endpoints">'
        "<thead><tr>"
        + "".join(
            f'<th style="text-align:left">{h}</th>' for h in ("Operation", "Port", "Probe", "URL")
        )
        + "</tr>"
        "</thead><tbody>" + "".join(rows) + "</tbody></table>" + caption
    )


class EndpointsPanel(widgets.VBox):
    """The endpoints table with a Probe button; probes run in the background.

    While the deployment is STARTING or RUNNING and some URL does not answer yet (a container
    still booting), the panel probes again every ``repeat_every`` seconds, ``max_repeats``
    times at most, so BOOTING turns into READY without a click; it stops once every URL
    answers, when the deployment stops, or when the panel is closed.

    Args:
        probe: sends the probes (e.g. ``deployment.probe_endpoints``); None disables the button.
        repeat_every: seconds between probes while a URL does not answer; None: only on demand.
        max_repeats: how many repeats one probe may start at most.

    Raises:
        ValidationError: ``repeat_every`` is not a positive number of seconds or
            ``max_repeats`` not a whole number ≥ 0.
    """

    def __init__(
        self,
        probe: Callable[[], list[EndpointProbe]] | None = None,
        *,
        repeat_every: float | None = 10.0,
        max_repeats: int = 60,
    ) -> None:
        if repeat_every is not None and (
            isinstance(repeat_every, bool)
            or not isinstance(repeat_every, int | float)
            or not math.isfinite(repeat_every)
            or repeat_every <= 0
        ):
            raise ValidationError(
                f"repeat_every must be a positive number of seconds or None; got {repeat_every!r}",
                argument="repeat_every",
            )
        if isinstance(max_repeats, bool) or not isinstance(max_repeats, int) or max_repeats < 0:
            raise ValidationError(
                f"max_repeats must be a whole number >= 0; got {max_repeats!r}",
                argument="max_repeats",
            )
        self.view = widgets.HTML()
        self.probe_button = widgets.Button(
            description="Probe",
            tooltip="GET each endpoint URL now, from this kernel (no credentials sent)",
            disabled=probe is None,
            layout=widgets.Layout(width="auto", align_self="flex-start"),
        )
        self.probe_button.on_click(lambda _: self.probe())
        super().__init__([self.view, self.probe_button])
        self.add_class("nosana-endpoints-panel")
        self._probe = probe
        self._runner = TaskRunner()
        self._endpoints: list[Endpoint] = []
        self._status: str | None = None
        self.probes: list[EndpointProbe] | None = None
        """The last probes (None before the first)."""
        self.last_error: BaseException | None = None
        """Why the last probe could not be sent (None after a probe that was sent)."""
        self._repeat_every = repeat_every
        self._max_repeats = max_repeats
        self._repeats = 0
        self._timer: threading.Timer | None = None
        self._repeating = False  # a repeat is scheduled or its probe is in flight
        self._closed = False

    def show(self, endpoints: Iterable[Endpoint], status: str | None) -> None:
        """Show these endpoints (with the probes already made of them).

        Args:
            endpoints: the deployment's endpoints.
            status: the deployment's status.
        """
        self._endpoints = list(endpoints)
        self._status = status
        self.probe_button.layout.display = "" if self._endpoints else "none"
        self._render()

    def set_prober(self, probe: Callable[[], list[EndpointProbe]] | None) -> None:
        """Change what the Probe button calls (a newly loaded deployment handle).

        Args:
            probe: sends the probes; None disables the button.
        """
        self._probe = probe
        self.probe_button.disabled = probe is None

    @property
    def repeating(self) -> bool:
        """True from the moment a repeat is scheduled until the repeats stop."""
        return self._repeating

    def probe(self) -> None:
        """Probe every endpoint in the background; the table updates when they answer."""
        self._cancel_repeat()
        self._repeats = 0
        self._send_probes()

    def _send_probes(self) -> None:
        prober = self._probe
        if prober is None or not self._endpoints or self._closed:
            self._repeating = False  # nothing to repeat with
            return
        self.probe_button.disabled = True
        self.probe_button.description = "Probing…"

        def work(token: CancelToken) -> list[EndpointProbe]:
            return prober()

        def done(operation: Any) -> None:
            error = operation.future.exception()
            if error is None:
                self.probes, self.last_error = operation.future.result(), None
            else:
                self.last_error = error
                logger.debug("endpoint probe failed: %s", describe_error(error))
            self.probe_button.description = "Probe"
            self.probe_button.disabled = self._probe is None
            self._schedule_repeat()
            self._render()

        self._runner.submit("Probing endpoints", work, on_done=done)

    def wait(self, timeout: float | None = 30.0) -> None:
        """Wait for a probe in flight (for scripts and tests).

        Args:
            timeout: seconds to wait at most.
        """
        self._runner.wait(timeout)

    def close(self) -> None:
        """Cancel a probe in flight and any repeat, and close the panel."""
        # once only: Widget.__del__ calls close again (and on a panel __init__ refused)
        if self.__dict__.get("_closed", True):
            return
        self._closed = True
        self._cancel_repeat()
        self._runner.cancel_all()
        super().close()

    def _schedule_repeat(self) -> None:
        probes = self.probes
        booting = (
            self._status in ("STARTING", "RUNNING")
            and self.last_error is None
            and bool(probes)
            and not all(p.ready for p in probes or ())
        )
        if (
            self._closed
            or self._repeat_every is None
            or not booting
            or self._repeats >= self._max_repeats
        ):
            self._repeating = False
            return
        self._repeating = True
        self._repeats += 1
        timer = threading.Timer(self._repeat_every, self._repeat)
        timer.daemon = True  # a forgotten panel never keeps the kernel alive
        self._timer = timer
        timer.start()

    def _repeat(self) -> None:
        self._timer = None
        self._send_probes()

    def _cancel_repeat(self) -> None:
        self._repeating = False
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _render(self) -> None:
        error = None if self.last_error is None else describe_error(self.last_error)
        table = endpoints_html(self._endpoints, self._status, self.probes, error=error)
        if self._repeating:
            every = f"{self._repeat_every:g}"
            table += _muted(f"Probing again every {every} s until every URL answers.")
        self.view.value = table
