"""ipywidgets views of deployments: live figures that follow a :class:`~nosana_nb.watch.Watcher`.

Importing this package loads no widget library; a widget exists only once a function is called.
"""

from __future__ import annotations

from nosana_nb.widgets._live import (
    DEFAULT_MIN_INTERVAL,
    detach,
    live_job_timeline,
    live_status_history,
)

__all__ = ["DEFAULT_MIN_INTERVAL", "detach", "live_job_timeline", "live_status_history"]

# the create form, the market explorer and the vault widget
from nosana_nb.widgets._create import CreateDeploymentForm
from nosana_nb.widgets._markets import MarketExplorer
from nosana_nb.widgets._vault import VaultWidget

__all__ += ["CreateDeploymentForm", "MarketExplorer", "VaultWidget"]

# the deployment controls and the dashboard (itables loads when a dashboard is made)
from nosana_nb.widgets._controls import DeploymentControls  # noqa: E402
from nosana_nb.widgets._dashboard import DeploymentDashboard  # noqa: E402

__all__ += ["DeploymentControls", "DeploymentDashboard"]
