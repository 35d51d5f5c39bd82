"""Write routes: create, revisions, start/stop/archive/delete and the updates.

The API only writes what the service's API writes; every worker-side consequence (STARTING ->
RUNNING, listing jobs, events) happens in the worker, which reacts to these committed changes.
Status checks and writes happen inside one store transaction so they cannot race the worker.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from croniter import croniter
from solders.keypair import Keypair

from nosana_nb.sandbox.context import SandboxContext
from nosana_nb.sandbox.http.routing import ApiError, Call, Reply
from nosana_nb.sandbox.http.serialize import endpoint_to_wire, revision_to_wire
from nosana_nb.sandbox.http.validation import CRON_PATTERN, fastify_400, integral

from . import ipfs
from .deployments import (
    INCORRECT_STATE,
    SOMETHING_WRONG,
    deployment_wire,
    not_archived,
    owned_deployment,
)
from .jobdef import JobDefinitionError, endpoints_for, stored_definition, validate_job_definition
from .vaults import api_key_vault, owned_keypair_vault, shared_vault
from .vaults import new_vault as make_vault

Doc = dict[str, Any]

DEFAULT_ROTATION_MINUTES = 20
START_FROM = frozenset({"DRAFT", "STOPPED", "ERROR", "INSUFFICIENT_FUNDS"})
STOP_FROM = frozenset({"RUNNING", "ERROR", "INSUFFICIENT_FUNDS"})
BAD_REQUEST = "Bad Request"


def valid_cron(expression: str) -> bool:
    """The service only checks for five tokens; the sandbox also requires a parsable cron, so
    a bad schedule is refused up front instead of leaving the deployment stuck in STARTING."""
    return re.match(CRON_PATTERN, expression) is not None and croniter.is_valid(expression.strip())


# -- create ---------------------------------------------------------------------------------
def _create_settings(body: Doc) -> Doc:
    """Strategy rules beyond the body schema; every refusal is the route's bare 400."""
    strategy = body["strategy"]
    timeout = integral(body["timeout"])
    settings: Doc = {
        "name": body["name"],
        "market": body["market"].strip(),
        "replicas": integral(body["replicas"]),
        "timeout": timeout,
        "strategy": strategy,
        "confidential": bool(body.get("confidential", False)),
    }
    if body.get("vault") is not None and body.get("new_vault") is not None:
        raise ApiError(400, BAD_REQUEST)
    if strategy == "SCHEDULED":
        schedule = body.get("schedule")
        if not isinstance(schedule, str) or not valid_cron(schedule):
            raise ApiError(400, BAD_REQUEST)
        settings["schedule"] = schedule
    if strategy == "INFINITE":
        if timeout < 60:
            raise ApiError(400, BAD_REQUEST)
        rotation = integral(body.get("rotation_time", DEFAULT_ROTATION_MINUTES))
        if rotation < 0:  # sandbox choice: a negative lead time means nothing
            raise ApiError(400, BAD_REQUEST)
        if rotation and rotation >= timeout - 10:
            raise ApiError(400, "Rotation time must be at least 10 minutes less than timeout.")
        settings["rotation_time"] = rotation
    return settings


def _select_vault(ctx: SandboxContext, call: Call, body: Doc) -> str:
    api_key = call.principal.api_key or call.headers.get("x-nosana-api")
    if api_key:
        return str(api_key_vault(ctx, call.owner, api_key)["vault"])
    if body.get("vault") is not None:
        return str(owned_keypair_vault(ctx, call.owner, body["vault"])["vault"])
    try:
        if body.get("new_vault"):
            return str(make_vault(ctx, call.owner)["vault"])
        return str(shared_vault(ctx, call.owner)["vault"])
    except Exception:
        raise ApiError(500, "Failed to create vault.") from None


def create_deployment(ctx: SandboxContext, call: Call) -> Reply:
    body = call.body
    settings = _create_settings(body)
    try:
        definition = validate_job_definition(body["job_definition"])
    except JobDefinitionError:
        raise ApiError(400, BAD_REQUEST) from None
    vault = _select_vault(ctx, call, body)
    deployment_id = str(Keypair().pubkey())
    try:
        stored = stored_definition(definition, deployment_id)
        now = ctx.clock.now_iso()
        with ctx.store.transaction():
            ctx.store.insert(
                "revisions",
                {
                    "deployment": deployment_id,
                    "revision": 1,
                    "ipfs_definition_hash": ipfs.pin(ctx.store, stored),
                    "job_definition": stored,
                    "created_at": now,
                },
            )
            doc = ctx.store.insert(
                "deployments",
                {
                    "id": deployment_id,
                    **settings,
                    "vault": vault,
                    "owner": call.owner,
                    "status": "DRAFT",
                    "endpoints": endpoints_for(
                        stored, deployment_id=deployment_id, vault=vault, domain=ctx.frps_domain
                    ),
                    "active_revision": 1,
                    "created_at": now,
                    "updated_at": now,
                },
            )
        if body.get("autostart"):  # a separate update, so the worker sees STARTING
            doc = ctx.store.update("deployments", doc["_id"], {"status": "STARTING"})
    except ApiError:
        raise
    except Exception:
        raise ApiError(500, "Internal server error.") from None
    return Reply(deployment_wire(ctx, doc))


# -- revisions ------------------------------------------------------------------------------
def _revision_endpoints(ctx: SandboxContext, deployment: Doc, definition: Doc) -> list[Doc]:
    return endpoints_for(
        definition,
        deployment_id=deployment["id"],
        vault=str(deployment.get("vault")),
        domain=ctx.frps_domain,
    )


def create_revision(ctx: SandboxContext, call: Call) -> Reply:
    deployment = not_archived(owned_deployment(ctx, call))
    try:
        definition = validate_job_definition(call.body)
    except JobDefinitionError as exc:
        return Reply(fastify_400(str(exc)), 400)
    stored = stored_definition(definition, deployment["id"])
    # Like the service: active_revision + 1, so after a rollback the number can already exist
    # and the insert fails with the generic 500 (copied on purpose; see the tests).
    number = int(deployment.get("active_revision") or 0) + 1
    if ctx.store.find_one("revisions", deployment=deployment["id"], revision=number):
        raise ApiError(500, SOMETHING_WRONG)
    now = ctx.clock.now_iso()
    with ctx.store.transaction():
        ctx.store.insert(
            "revisions",
            {
                "deployment": deployment["id"],
                "revision": number,
                "ipfs_definition_hash": ipfs.pin(ctx.store, stored),
                "job_definition": stored,
                "created_at": now,
            },
        )
        endpoints = _revision_endpoints(ctx, deployment, stored)
        ctx.store.update(
            "deployments",
            deployment["_id"],
            {"active_revision": number, "endpoints": endpoints, "updated_at": now},
        )
    revisions = ctx.store.find("revisions", deployment=deployment["id"])
    return Reply(
        {
            "active_revision": number,
            "endpoints": [endpoint_to_wire(e) for e in endpoints],
            "revisions": [revision_to_wire(r) for r in revisions],
            "updated_at": now,
        }
    )


def update_active_revision(ctx: SandboxContext, call: Call) -> Reply:
    deployment = not_archived(owned_deployment(ctx, call))
    number = integral(call.body["active_revision"])
    revision = ctx.store.find_one("revisions", deployment=deployment["id"], revision=number)
    if revision is None:
        raise ApiError(400, "The specified revision does not exist.")
    if number == deployment.get("active_revision"):
        return Reply(
            {
                "active_revision": number,
                "endpoints": [endpoint_to_wire(e) for e in deployment.get("endpoints") or []],
                "updated_at": deployment.get("updated_at"),
            }
        )
    endpoints = _revision_endpoints(ctx, deployment, revision.get("job_definition") or {})
    now = ctx.clock.now_iso()
    ctx.store.update(
        "deployments",
        deployment["_id"],
        {"active_revision": number, "endpoints": endpoints, "updated_at": now},
    )
    return Reply(
        {
            "active_revision": number,
            "endpoints": [endpoint_to_wire(e) for e in endpoints],
            "updated_at": now,
        }
    )


# -- state machine: the transitions an API call may make (docs/wire-contract.md#state-machine) --
def _guarded_update(
    ctx: SandboxContext,
    call: Call,
    check: Callable[[Doc], None],
    fields: Callable[[Doc], Doc],
) -> str:
    """Check and write in one transaction (no race with the worker); refusals are raised after
    it closes, so nothing is rolled back. Returns the new ``updated_at``."""
    refusal: ApiError | None = None
    now = ctx.clock.now_iso()
    with ctx.store.transaction():
        try:
            deployment = owned_deployment(ctx, call)
            check(deployment)
        except ApiError as error:
            refusal = error
        else:
            ctx.store.update(
                "deployments", deployment["_id"], {**fields(deployment), "updated_at": now}
            )
    if refusal is not None:
        raise refusal
    return now


def _transition(
    ctx: SandboxContext, call: Call, *, allowed: frozenset[str], target: str, guard: bool
) -> Reply:
    def check(deployment: Doc) -> None:
        if guard:
            not_archived(deployment)
        if deployment.get("status") not in allowed:
            raise ApiError(500, INCORRECT_STATE)

    now = _guarded_update(ctx, call, check, lambda _: {"status": target})
    return Reply({"status": target, "updated_at": now})


def start(ctx: SandboxContext, call: Call) -> Reply:
    # No archived guard on start: ARCHIVED gets the incorrect-state message.
    return _transition(ctx, call, allowed=START_FROM, target="STARTING", guard=False)


def stop(ctx: SandboxContext, call: Call) -> Reply:
    return _transition(ctx, call, allowed=STOP_FROM, target="STOPPING", guard=True)


def archive(ctx: SandboxContext, call: Call) -> Reply:
    return _transition(ctx, call, allowed=frozenset({"STOPPED"}), target="ARCHIVED", guard=True)


def delete(ctx: SandboxContext, call: Call) -> Reply:
    """Removes results, jobs, revisions, events and the deployment; tasks and vault stay."""
    refusal: ApiError | None = None
    with ctx.store.transaction():
        try:
            deployment = owned_deployment(ctx, call)
            if deployment.get("status") != "STOPPED":
                raise ApiError(500, INCORRECT_STATE)
        except ApiError as error:
            refusal = error
        else:
            _delete_children(ctx, deployment)
    if refusal is not None:
        raise refusal
    return Reply(None, 204)


def _delete_children(ctx: SandboxContext, deployment: Doc) -> None:
    deployment_id = deployment["id"]
    for collection, field in (
        ("results", "deployment"),
        ("jobs", "deployment"),
        ("revisions", "deployment"),
        ("events", "deploymentId"),
    ):
        for doc in ctx.store.find(collection, **{field: deployment_id}):
            ctx.store.delete(collection, doc["_id"])
    ctx.store.delete("deployments", deployment["_id"])


# -- field updates --------------------------------------------------------------------------
def _update_field(
    ctx: SandboxContext, call: Call, field: str, value: Any, *, guard: bool = True
) -> Reply:
    def check(deployment: Doc) -> None:
        if guard:
            not_archived(deployment)

    now = _guarded_update(ctx, call, check, lambda _: {field: value})
    return Reply({field: value, "updated_at": now})


def update_name(ctx: SandboxContext, call: Call) -> Reply:
    # No archived guard: renaming works on ARCHIVED deployments, like the service.
    return _update_field(ctx, call, "name", call.body["name"], guard=False)


def update_replicas(ctx: SandboxContext, call: Call) -> Reply:
    return _update_field(ctx, call, "replicas", integral(call.body["replicas"]))


def update_timeout(ctx: SandboxContext, call: Call) -> Reply:
    return _update_field(ctx, call, "timeout", integral(call.body["timeout"]))


def update_schedule(ctx: SandboxContext, call: Call) -> Reply:
    schedule = call.body["schedule"]

    def check(deployment: Doc) -> None:
        not_archived(deployment)
        if deployment.get("strategy") != "SCHEDULED":
            raise ApiError(400, "Deployment is using an incorrect strategy.")
        if not valid_cron(schedule):
            raise ApiError(400, BAD_REQUEST)

    now = _guarded_update(ctx, call, check, lambda _: {"schedule": schedule})
    return Reply({"schedule": schedule, "updated_at": now})
