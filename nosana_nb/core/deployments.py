"""Deployments, one deployment's handle, and vaults: the sync and async resources.

Every method is a thin shell: build a route (``routes``), send it, fold the reply into the
handle's ``state``. The shared part lives in ``_deployment_common``; the async classes are
written once in ``_async_deployments`` and their sync twins are generated from them into
``_sync_deployments`` by ``scripts/unasync.py``.
"""

from nosana_nb.core._async_deployments import (
    AsyncDeployment,
    AsyncDeployments,
    AsyncServices,
    AsyncVaults,
)
from nosana_nb.core._deployment_common import (
    LIST_LIMIT,
    STATE_HISTORY_LIMIT,
    DeploymentFailedError,
    DeploymentWaitError,
    Seconds,
    WaitTimeoutError,
)
from nosana_nb.core._sync_deployments import (
    Deployment,
    Deployments,
    SyncServices,
    Vaults,
)

__all__ = [
    "LIST_LIMIT",
    "STATE_HISTORY_LIMIT",
    "AsyncDeployment",
    "AsyncDeployments",
    "AsyncServices",
    "AsyncVaults",
    "Deployment",
    "DeploymentFailedError",
    "DeploymentWaitError",
    "Deployments",
    "Seconds",
    "SyncServices",
    "Vaults",
    "WaitTimeoutError",
]
