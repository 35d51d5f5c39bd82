"""Wire shapes of the deployment manager: deployments, jobs, events, tasks, revisions, vaults.

Like the service's response schemas these keep only the documented fields (so internal ones such
as ``_id``, ``rapid_streak`` or a job's ``time_end`` never leave), and render a stored ``null`` in
a string field as ``""`` and in a number field as ``0``.
"""

from __future__ import annotations

from typing import Any

from nosana_nb.sandbox.clock import parse_iso

SYSTEM_PROGRAM = "11111111111111111111111111111111"
JOB_STATE_NUMBERS = {"QUEUED": 0, "RUNNING": 1, "COMPLETED": 2, "STOPPED": 3}

Doc = dict[str, Any]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> Any:
    return 0 if value is None else value


def endpoint_to_wire(endpoint: Doc) -> Doc:
    return {
        "opId": _text(endpoint.get("opId")),
        "port": endpoint.get("port"),
        "url": _text(endpoint.get("url")),
    }


def deployment_to_wire(doc: Doc, *, active_jobs: int) -> Doc:
    out: Doc = {
        "id": _text(doc.get("id")),
        "name": _text(doc.get("name")),
        "vault": _text(doc.get("vault")),
        "market": _text(doc.get("market")),
        "owner": _text(doc.get("owner")),
        "status": _text(doc.get("status")),
        "replicas": _number(doc.get("replicas")),
        "timeout": _number(doc.get("timeout")),
        "endpoints": [endpoint_to_wire(e) for e in doc.get("endpoints") or []],
        "confidential": bool(doc.get("confidential")),
        "active_revision": _number(doc.get("active_revision")),
        "active_jobs": active_jobs,
        "created_at": _text(doc.get("created_at")),
        "updated_at": _text(doc.get("updated_at")),
        "strategy": _text(doc.get("strategy")),
    }
    if doc.get("strategy") == "SCHEDULED":
        out["schedule"] = _text(doc.get("schedule"))
    if doc.get("strategy") == "INFINITE":
        out["rotation_time"] = _number(doc.get("rotation_time"))
    return out


def job_to_wire(doc: Doc) -> Doc:
    return {
        "tx": _text(doc.get("tx")),
        "deployment": _text(doc.get("deployment")),
        "job": _text(doc.get("job")),
        "market": _text(doc.get("market")),
        "node": doc.get("node"),
        "revision": _number(doc.get("revision")),
        "state": _text(doc.get("state")),
        "time_start": _number(doc.get("time_start")),
        "created_at": _text(doc.get("created_at")),
        "updated_at": _text(doc.get("updated_at")),
    }


def event_to_wire(doc: Doc) -> Doc:
    out: Doc = {
        "category": _text(doc.get("category")),
        "deploymentId": _text(doc.get("deploymentId")),
        "type": _text(doc.get("type")),
        "message": _text(doc.get("message")),
    }
    if "tx" in doc:  # absent stays absent; a stored null renders as ""
        out["tx"] = _text(doc["tx"])
    out["created_at"] = _text(doc.get("created_at"))
    return out


def task_to_wire(doc: Doc) -> Doc:
    out: Doc = {"task": _text(doc.get("task")), "deploymentId": _text(doc.get("deploymentId"))}
    if "job" in doc:
        out["job"] = _text(doc["job"])
    if "limit" in doc:
        out["limit"] = _number(doc["limit"])
    if "active_revision" in doc:
        out["active_revision"] = _number(doc["active_revision"])
    out["due_at"] = _text(doc.get("due_at"))
    out["created_at"] = _text(doc.get("created_at"))
    return out


def revision_to_wire(doc: Doc) -> Doc:
    return {
        "revision": _number(doc.get("revision")),
        "deployment": _text(doc.get("deployment")),
        "ipfs_definition_hash": _text(doc.get("ipfs_definition_hash")),
        "job_definition": doc.get("job_definition") or {},
        "created_at": _text(doc.get("created_at")),
    }


def vault_to_wire(doc: Doc) -> Doc:
    return {
        "vault": _text(doc.get("vault")),
        "owner": _text(doc.get("owner")),
        "created_at": _text(doc.get("created_at")),
    }


def job_detail_to_wire(
    job: Doc, *, deployment: Doc, job_definition: Doc, result: Doc | None
) -> Doc:
    """``GET /deployments/:d/jobs/:job``: plain JSON.stringify on the service, so camelCase."""
    created = job.get("created_at")
    return {
        "confidential": bool(deployment.get("confidential")),
        "revision": job.get("revision"),
        "market": deployment.get("market"),
        "node": job.get("node") or SYSTEM_PROGRAM,
        "state": JOB_STATE_NUMBERS.get(str(job.get("state")), 0),
        "jobStatus": None,
        "jobDefinition": job_definition,
        "jobResult": result,
        "timeStart": int(job.get("time_start") or 0),
        "timeEnd": int(job.get("time_end") or 0),
        "listedAt": int(parse_iso(created)) if isinstance(created, str) else 0,
    }


def credit_job_to_wire(
    job: Doc,
    *,
    ipfs_job: str,
    payer: str,
    job_definition: Any,
    result: Any,
    usd_reward_per_hour: float | None,
) -> Doc:
    """``GET /api/jobs/{address}``: the on-chain job (camelCase, state 0-3, unix seconds).

    ``timeout`` is the on-chain one, extensions included; ``project`` is who posted the job
    (a credit job's project, a deployment job's vault).
    """
    created = job.get("created_at")
    return {
        "ipfsJob": ipfs_job,
        "ipfsResult": None,
        "market": job.get("market"),
        "node": job.get("node") or SYSTEM_PROGRAM,
        "payer": payer,
        "price": int(job.get("price") or 0),
        "project": payer,
        "state": JOB_STATE_NUMBERS.get(str(job.get("state")), 0),
        "type": None,
        "jobDefinition": job_definition,
        "jobResult": result,
        "jobStatus": None,
        "timeEnd": int(job.get("time_end") or 0),
        "timeStart": int(job.get("time_start") or 0),
        "benchmarkProcessedAt": None,
        "timeout": int(job.get("timeout_s") or 0),
        "usdRewardPerHour": usd_reward_per_hour,
        "listedAt": int(parse_iso(created)) if isinstance(created, str) else None,
    }
