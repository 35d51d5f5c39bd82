"""Small reads and writes of deployment and job documents shared by the worker's modules."""

from __future__ import annotations

from nosana_nb.sandbox.store import Doc, Store

SIMPLE = "SIMPLE"
SIMPLE_EXTEND = "SIMPLE-EXTEND"
SCHEDULED = "SCHEDULED"
INFINITE = "INFINITE"


def find_deployment(store: Store, deployment_id: str) -> Doc | None:
    return store.find_one("deployments", id=deployment_id)


ACTIVE_STATES = ("QUEUED", "RUNNING")


def active_jobs(store: Store, deployment_id: str, *, revision: int | None = None) -> list[Doc]:
    """QUEUED and RUNNING jobs of a deployment (of one revision when given), oldest first."""
    found = [
        job
        for state in ACTIVE_STATES
        for job in store.find("jobs", deployment=deployment_id, state=state)
        if revision is None or job.get("revision") == revision
    ]
    return sorted(found, key=lambda job: str(job["_id"]))


def count_active_jobs(store: Store, deployment_id: str, *, revision: int | None = None) -> int:
    """How many jobs :func:`active_jobs` would return, without copying them."""
    if revision is None:
        return sum(store.count("jobs", deployment=deployment_id, state=s) for s in ACTIVE_STATES)
    return sum(
        store.count(
            "jobs", lambda j: j.get("revision") == revision, deployment=deployment_id, state=s
        )
        for s in ACTIVE_STATES
    )


def replicas_of(deployment: Doc) -> int:
    """The wire allows fractional replicas; a fraction of a job rounds down."""
    return max(0, int(deployment.get("replicas") or 0))


def timeout_seconds(deployment: Doc) -> int:
    """The on-chain job timeout: ``timeout`` is in minutes."""
    return int(float(deployment.get("timeout") or 0) * 60)


def set_status(store: Store, deployment: Doc, status: str) -> None:
    """A worker-driven status change; like the real worker it leaves ``updated_at`` alone."""
    store.update("deployments", deployment["_id"], {"status": status})
