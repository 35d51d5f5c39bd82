"""The dashboard's status colours (docs/wire-contract.md §15), so notebook and web UI match.

The dashboard's "dark" tag (STOPPED, STOPPING, ARCHIVED) is near-black on a light page and
light grey in its dark theme; ``palette(dark=True)`` does the same, so stopped jobs do not
vanish into a ``plotly_dark`` background.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from nosana_nb.frames.schema import DEPLOYMENT_STATUSES, JOB_STATES, VAULT_TX_KINDS

SUCCESS = "#04DE00"
INFO = "#0066FF"
WARNING = "#FFB800"
DANGER = "#FF4D4F"
DARK = "#363636"  # hsl(0,0%,21%), the light-theme "dark" tag
DARK_ON_DARK = "#B5B5B5"  # hsl(0,0%,71%), the same tag in the dashboard's dark theme
DARK_ON_ANY = "#8C8C8C"  # see-through background, theme unknown: a grey that reads on both
GREY = "#B5B5B5"  # hsl(0,0%,71%), timeline grey

JOB_STATE_COLORS = MappingProxyType(
    {"QUEUED": WARNING, "RUNNING": INFO, "COMPLETED": SUCCESS, "STOPPED": DARK}
)
DEPLOYMENT_STATUS_COLORS = MappingProxyType(
    {
        "DRAFT": WARNING,
        "STARTING": INFO,
        "RUNNING": INFO,
        "STOPPING": DARK,
        "STOPPED": DARK,
        "INSUFFICIENT_FUNDS": DANGER,
        "ERROR": DANGER,
        "ARCHIVED": DARK,
    }
)
VAULT_KIND_COLORS = MappingProxyType(
    {
        "topup": SUCCESS,
        "escrow": INFO,
        "refund": WARNING,
        "withdrawal": DANGER,
        "fee": GREY,
        "other": DARK,
    }
)
VAULT_KIND_LABELS = MappingProxyType(
    {
        "topup": "top-up",
        "escrow": "escrow (job deposit)",
        "refund": "refund of unused escrow",
        "withdrawal": "withdrawal",
        "fee": "network fee",
        "other": "other",
    }
)
DEPLOYMENT_STATUS_PATTERNS = MappingProxyType(
    {"STARTING": "/", "STOPPING": ".", "INSUFFICIENT_FUNDS": "x", "ARCHIVED": "/"}
)
"""Statuses that share a dashboard colour with another get a fill pattern, so the legend and
the bars tell STARTING from RUNNING, STOPPING and ARCHIVED from STOPPED, and
INSUFFICIENT_FUNDS from ERROR."""
EVENT_COLOR = GREY
ERROR_EVENT_COLOR = DANGER

CATEGORY_ORDERS = MappingProxyType(
    {
        "state": JOB_STATES,
        "status": DEPLOYMENT_STATUSES,
        "kind": VAULT_TX_KINDS,
    }
)


def for_theme(colors: Mapping[str, str], *, dark: bool | None) -> dict[str, str]:
    """``colors`` with the dashboard's dark-tag colour swapped for its dark-theme shade
    (``dark=None``: the background is see-through, so a grey that reads on light and dark)."""
    shade = DARK_ON_ANY if dark is None else DARK_ON_DARK if dark else DARK
    return {key: shade if value == DARK else value for key, value in colors.items()}


def _luminance(color: Any) -> float | None:
    text = str(color or "").strip().lower()
    if text.startswith("#") and len(text) in (4, 7):
        digits = text[1:] if len(text) == 7 else "".join(c * 2 for c in text[1:])
        red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    elif text.startswith("rgb"):
        parts = text[text.index("(") + 1 : text.index(")")].split(",")
        if len(parts) == 4 and float(parts[3]) == 0:
            return None  # see-through: the page behind decides
        red, green, blue = (int(float(p)) for p in parts[:3])
    elif text in ("white", "black"):
        return 1.0 if text == "white" else 0.0
    else:
        return None
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def _resolve(template: Any) -> Any:
    import plotly.graph_objects as go
    import plotly.io as pio

    if template is None:
        template = pio.templates.default
    if isinstance(template, str):
        return pio.templates[template]
    return go.layout.Template(template)


def template_background(template: Any) -> str:
    """The plot background ``template`` paints (None: the user's default); white if unset."""
    layout = _resolve(template).layout
    return str(layout.plot_bgcolor or layout.paper_bgcolor or "#FFFFFF")


def is_dark_template(template: Any) -> bool | None:
    """True when ``template`` (a name, dict or Template; None: the user's default) paints a
    dark background, False for a light one, None for a see-through (or unreadable) one."""
    luminance = _luminance(template_background(template))
    return None if luminance is None else luminance < 0.4
