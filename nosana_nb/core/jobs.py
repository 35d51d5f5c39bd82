"""Job definitions on IPFS: pin one (Pinata's pinJSONToIPFS shape) and fetch one by CID.

CID checks and routes live in ``_shared/jobs.py``; ``AsyncJobs`` is written once in
``_async/jobs.py`` and ``Jobs`` generated from it.
"""

from nosana_nb.core._async.jobs import AsyncJobs
from nosana_nb.core._shared.jobs import check_cid, job_definition_route, pin_route
from nosana_nb.core._sync.jobs import Jobs

__all__ = ["AsyncJobs", "Jobs", "check_cid", "job_definition_route", "pin_route"]
