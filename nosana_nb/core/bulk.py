"""Bulk actions on many deployments: ``client.deployments.bulk(action, targets, dry_run=...)``.

The values a bulk call returns (a :class:`BulkPreview` from a dry run, a :class:`BulkResult`
from a real one) and the names of its actions and outcomes. The runners are written once in
``_async/bulk.py``; the sync twin is generated into ``_sync/bulk.py``.
"""

from nosana_nb.core._shared.bulk import (
    BULK_ACTIONS,
    BULK_OUTCOMES,
    DEFAULT_BULK_CONCURRENCY,
    MAX_BULK_CONCURRENCY,
    MAX_BULK_TARGETS,
    BulkOutcome,
    BulkPreview,
    BulkPreviewRow,
    BulkResult,
    BulkResultRow,
    check_bulk_arguments,
    describe_action,
)
from nosana_nb.core.errors import ActionNotAllowedError

__all__ = [
    "BULK_ACTIONS",
    "BULK_OUTCOMES",
    "DEFAULT_BULK_CONCURRENCY",
    "MAX_BULK_CONCURRENCY",
    "MAX_BULK_TARGETS",
    "ActionNotAllowedError",
    "BulkOutcome",
    "BulkPreview",
    "BulkPreviewRow",
    "BulkResult",
    "BulkResultRow",
    "check_bulk_arguments",
    "describe_action",
]
