"""Record the live status history of deployments from their event streams.

    watcher = Watcher(client, [deployment_a, deployment_b], path="history.jsonl")
    watcher.start()                      # returns at once; a background thread does the work
    ...
    watcher.to_dataframe()               # status segments per deployment
    watcher.jobs_history()               # one row per job state transition
    watcher.stop()

Every deployment status change and job state change becomes one row (see ``nosana_nb.watch._rows``).
The stream is reopened after drops with a capped, jittered exponential backoff; on reconnect
the snapshot adds no duplicate rows, and jobs that moved on while the stream was down are
filled in from the jobs list (``source="reconcile"``). With ``path`` the rows are appended to a
JSON-lines file as they arrive and read back on construction, so the history outlives the
kernel.

One background thread runs an asyncio loop with its own ``AsyncNosanaClient``, derived from the
client you pass (``to_async``/``copy``: same network, wallet, API key, transport, timeout and
retry settings, and its retries count in your client's ``retries_total``): the kernel's own event
loop is never touched, and ``stop()`` cancels the streams at once instead of waiting for a
socket read to time out.
"""

from __future__ import annotations

from nosana_nb.watch._alert_events import AlertEvent, Notifier
from nosana_nb.watch._alert_rules import (
    AlertRule,
    FailedJobs,
    NearTimeout,
    QueuedTooLong,
    RunwayBelow,
    StatusAlert,
)
from nosana_nb.watch._alerts import ActiveAlert, Alerts
from nosana_nb.watch._notifiers import LogNotifier, WebhookNotifier, webhook_payload
from nosana_nb.watch._recorder import ConnectionState, WatchStatus
from nosana_nb.watch._watcher import Watcher, stop_all

__all__ = [
    "ActiveAlert",
    "AlertEvent",
    "AlertRule",
    "Alerts",
    "ConnectionState",
    "FailedJobs",
    "LogNotifier",
    "NearTimeout",
    "Notifier",
    "QueuedTooLong",
    "RunwayBelow",
    "StatusAlert",
    "WatchStatus",
    "Watcher",
    "WebhookNotifier",
    "stop_all",
    "webhook_payload",
]
