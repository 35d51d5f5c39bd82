"""The dashboard's status colours (docs/wire-contract.md §15), so notebook and web UI match."""

from __future__ import annotations

from types import MappingProxyType

from nosana_nb.frames.schema import DEPLOYMENT_STATUSES, JOB_STATES, VAULT_TX_KINDS

SUCCESS = "#04DE00"
INFO = "#0066FF"
WARNING = "#FFB800"
DANGER = "#FF4D4F"
DARK = "#363636"  # hsl(0,0%,21%), the light-theme "dark" tag
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
EVENT_COLOR = GREY
ERROR_EVENT_COLOR = DANGER

CATEGORY_ORDERS = MappingProxyType(
    {
        "state": JOB_STATES,
        "status": DEPLOYMENT_STATUSES,
        "kind": VAULT_TX_KINDS,
    }
)
