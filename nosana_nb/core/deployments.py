"""Deployments, one deployment's handle, and vaults: the sync and async resources.

Every method is a thin shell: build a route (``routes``), send it, fold the reply into the
handle's ``state``. The shared part lives in ``_shared/deployments.py``; the async classes are
written once in ``_async/deployments.py`` and their sync twins are generated from them into
``_sync/deployments.py`` by ``scripts/unasync.py``. The wait errors are defined in ``errors``
and re-exported here.
"""

from nosana_nb.core._async.deployments import (
    AsyncDeployment,
    AsyncDeploymentJob,
    AsyncDeployments,
    AsyncServices,
    AsyncVaults,
)
from nosana_nb.core._shared.deployments import LIST_LIMIT, STATE_HISTORY_LIMIT, Seconds
from nosana_nb.core._sync.deployments import (
    Deployment,
    DeploymentJob,
    Deployments,
    SyncServices,
    Vaults,
)
from nosana_nb.core.errors import DeploymentFailedError, DeploymentWaitError, WaitTimeoutError

__all__ = [
    "LIST_LIMIT",
    "STATE_HISTORY_LIMIT",
    "AsyncDeployment",
    "AsyncDeploymentJob",
    "AsyncDeployments",
    "AsyncServices",
    "AsyncVaults",
    "Deployment",
    "DeploymentFailedError",
    "DeploymentJob",
    "DeploymentWaitError",
    "Deployments",
    "Seconds",
    "SyncServices",
    "Vaults",
    "WaitTimeoutError",
]
