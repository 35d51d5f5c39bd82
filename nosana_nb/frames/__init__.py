"""pandas DataFrames with fixed schemas for deployments, jobs, events, tasks, revisions,
markets, vault balance history, cost, status history, job results and logs, and bulk actions'
previews and results, and endpoint probes.

Every builder accepts wire-shaped dicts (the JSON field names of the deployment manager),
pydantic models, or a client (then it fetches). Schemas are fixed: the same columns in the same
order and dtypes for zero, one or many rows (see :func:`schema_of`, :func:`validate_schema`).
Datetimes are tz-aware UTC, durations ``timedelta64``, ids ``string``, counts and base units
``Int64``, statuses ordered categoricals.

Ids stay whole in the data; ``styled(df)`` shows a frame with ids shortened to ``abcd…wxyz``
(the rule every chart uses, :func:`short_id`) and the full id on hover.
"""

from __future__ import annotations

from nosana_nb.frames._bulk import (
    bulk_dataframe,
    bulk_preview_dataframe,
    bulk_results_dataframe,
)
from nosana_nb.frames._cost import (
    ServiceNow,
    as_frame,
    cost_dataframe,
    deployment_cost_totals,
    utc_now,
)
from nosana_nb.frames._display import (
    ID_COLUMNS,
    looks_like_id,
    short_id,
    short_id_labels,
    styled,
)
from nosana_nb.frames._endpoints import endpoints_dataframe
from nosana_nb.frames._fleet import (
    DEFAULT_MAX_CONCURRENCY,
    afleet_dataframe,
    afleet_dataframes,
    afleet_events_dataframe,
    afleet_jobs_dataframe,
    fleet_dataframe,
    fleet_dataframes,
    fleet_events_dataframe,
    fleet_jobs_dataframe,
    fleet_tasks_dataframe,
)
from nosana_nb.frames._logs import (
    JobResultsRecord,
    afetch_job_results,
    alogs_dataframe,
    aresults_dataframe,
    fetch_job_results,
    logs_dataframe,
    results_dataframe,
)
from nosana_nb.frames._status import status_history_dataframe
from nosana_nb.frames._vault import vault_balance_dataframe
from nosana_nb.frames._wire import (
    deployments_dataframe,
    events_dataframe,
    jobs_dataframe,
    markets_dataframe,
    revisions_dataframe,
    tasks_dataframe,
)
from nosana_nb.frames.schema import (
    DEPLOYMENT_STATUSES,
    JOB_STATES,
    SCHEMAS,
    STRATEGIES,
    TASK_TYPES,
    VAULT_TX_KINDS,
    empty_frame,
    schema_of,
    validate_schema,
)

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEPLOYMENT_STATUSES",
    "ID_COLUMNS",
    "JOB_STATES",
    "SCHEMAS",
    "STRATEGIES",
    "TASK_TYPES",
    "VAULT_TX_KINDS",
    "JobResultsRecord",
    "ServiceNow",
    "afetch_job_results",
    "afleet_dataframe",
    "afleet_dataframes",
    "afleet_events_dataframe",
    "afleet_jobs_dataframe",
    "alogs_dataframe",
    "aresults_dataframe",
    "as_frame",
    "bulk_dataframe",
    "bulk_preview_dataframe",
    "bulk_results_dataframe",
    "cost_dataframe",
    "deployment_cost_totals",
    "deployments_dataframe",
    "empty_frame",
    "endpoints_dataframe",
    "events_dataframe",
    "fetch_job_results",
    "fleet_dataframe",
    "fleet_dataframes",
    "fleet_events_dataframe",
    "fleet_jobs_dataframe",
    "fleet_tasks_dataframe",
    "jobs_dataframe",
    "logs_dataframe",
    "looks_like_id",
    "markets_dataframe",
    "results_dataframe",
    "revisions_dataframe",
    "schema_of",
    "short_id",
    "short_id_labels",
    "status_history_dataframe",
    "styled",
    "tasks_dataframe",
    "utc_now",
    "validate_schema",
    "vault_balance_dataframe",
]
