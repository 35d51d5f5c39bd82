"""Plotly figures of deployments: status history, job timeline, vault balance, cost, fleet.

Every ``plot_*`` returns a ``plotly.graph_objects.Figure`` and never shows it; colours are the
web dashboard's status hexes (``JOB_STATE_COLORS``, ``DEPLOYMENT_STATUS_COLORS``) in a fixed
category order, with its dark-theme shade of the "stopped" grey under a dark template. Each
figure is sized from what it draws (``plot_area_height``: at least 240 px, 28–32 px per
timeline row), keeps its legend above the plot, and spans the recorded history only. The tidy
frames each figure draws are available as pure helpers (``job_timeline_frame`` and friends)
for testing or custom charts.
"""

from __future__ import annotations

from nosana_nb.plots._colors import (
    CATEGORY_ORDERS,
    DEPLOYMENT_STATUS_COLORS,
    DEPLOYMENT_STATUS_PATTERNS,
    JOB_STATE_COLORS,
    VAULT_KIND_COLORS,
    VAULT_KIND_LABELS,
)
from nosana_nb.plots._errors import errors_over_time_frame, plot_errors_over_time
from nosana_nb.plots._figures import (
    WEBGL_THRESHOLD,
    empty_figure,
    plot_cost,
    plot_fleet_overview,
    plot_job_timeline,
    plot_status_history,
    plot_vault_balance,
)
from nosana_nb.plots._tidy import (
    ACTIVE_STATUSES,
    MIN_PLOT_HEIGHT_PX,
    Runway,
    active_jobs_frame,
    assign_slots,
    cumulative_cost_frame,
    event_markers_frame,
    format_duration,
    format_time,
    history_range,
    job_phases_frame,
    job_timeline_frame,
    plot_area_height,
    status_counts_frame,
    status_segments_frame,
    vault_runway,
)

__all__ = [
    "ACTIVE_STATUSES",
    "CATEGORY_ORDERS",
    "DEPLOYMENT_STATUS_COLORS",
    "DEPLOYMENT_STATUS_PATTERNS",
    "JOB_STATE_COLORS",
    "MIN_PLOT_HEIGHT_PX",
    "VAULT_KIND_COLORS",
    "VAULT_KIND_LABELS",
    "WEBGL_THRESHOLD",
    "Runway",
    "active_jobs_frame",
    "assign_slots",
    "cumulative_cost_frame",
    "empty_figure",
    "errors_over_time_frame",
    "event_markers_frame",
    "format_duration",
    "format_time",
    "history_range",
    "job_phases_frame",
    "job_timeline_frame",
    "plot_area_height",
    "plot_cost",
    "plot_errors_over_time",
    "plot_fleet_overview",
    "plot_job_timeline",
    "plot_status_history",
    "plot_vault_balance",
    "status_counts_frame",
    "status_segments_frame",
    "vault_runway",
]
