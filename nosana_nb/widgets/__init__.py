"""ipywidgets views of deployments: live figures that follow a :class:`~nosana_nb.watch.Watcher`,
the create form, the market explorer, the vault widget, the deployment controls and dashboard.

Importing this package loads no widget library: the widget classes are imported on first use
(PEP 562), so ``import nosana_nb.live`` or ``nosana_nb.watch`` stays free of ipywidgets, pandas
and plotly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nosana_nb.widgets._live import (
    DEFAULT_MIN_INTERVAL,
    detach,
    live_job_timeline,
    live_status_history,
)

if TYPE_CHECKING:
    from nosana_nb.widgets._controls import DeploymentControls
    from nosana_nb.widgets._create import CreateDeploymentForm
    from nosana_nb.widgets._dashboard import DeploymentDashboard
    from nosana_nb.widgets._markets import MarketExplorer
    from nosana_nb.widgets._toast import AlertToast
    from nosana_nb.widgets._vault import VaultWidget

# public name -> the module that defines it, imported when the name is first used
_LAZY = {
    # the create form, the market explorer and the vault widget
    "CreateDeploymentForm": "nosana_nb.widgets._create",
    "MarketExplorer": "nosana_nb.widgets._markets",
    "VaultWidget": "nosana_nb.widgets._vault",
    # the deployment controls and the dashboard
    "DeploymentControls": "nosana_nb.widgets._controls",
    "DeploymentDashboard": "nosana_nb.widgets._dashboard",
    # the alerts toast (a notifier for watcher.alerts)
    "AlertToast": "nosana_nb.widgets._toast",
}

__all__ = [
    "DEFAULT_MIN_INTERVAL",
    "AlertToast",
    "CreateDeploymentForm",
    "DeploymentControls",
    "DeploymentDashboard",
    "MarketExplorer",
    "VaultWidget",
    "detach",
    "live_job_timeline",
    "live_status_history",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
