"""nosana_nb: run, scale, watch and pay for Nosana GPU deployments from Jupyter.

The API core is imported eagerly and is light (httpx, solders, pydantic). The notebook layers
(``nosana_nb.frames``, ``nosana_nb.plots``) pull in pandas and plotly and are imported on
first use of their module.
"""

from nosana_nb._connect import connect, current_sandbox, stop_sandbox
from nosana_nb.core import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ArchivedDeploymentError,
    AsyncDeployment,
    AsyncNosanaClient,
    AuthenticationError,
    Client,
    ConfigError,
    Deployment,
    DeploymentNotFoundError,
    DeploymentStatus,
    InsufficientFundsError,
    InvalidStateError,
    JobState,
    NetworkConfig,
    NosanaClient,
    NosanaError,
    NotFoundError,
    Strategy,
    StreamError,
    ValidationError,
    Wallet,
    WalletError,
)
from nosana_nb.core.jobdef import container_job, validate_job_definition

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ArchivedDeploymentError",
    "AsyncDeployment",
    "AsyncNosanaClient",
    "AuthenticationError",
    "Client",
    "ConfigError",
    "Deployment",
    "DeploymentNotFoundError",
    "DeploymentStatus",
    "InsufficientFundsError",
    "InvalidStateError",
    "JobState",
    "NetworkConfig",
    "NosanaClient",
    "NosanaError",
    "NotFoundError",
    "Strategy",
    "StreamError",
    "ValidationError",
    "Wallet",
    "WalletError",
    "__version__",
    "connect",
    "container_job",
    "current_sandbox",
    "stop_sandbox",
    "validate_job_definition",
]
