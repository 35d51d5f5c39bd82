"""Read routes: lists, one deployment, job detail and the vault-signed header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, cast

from solders.keypair import Keypair

from nosana_nb.sandbox.clock import parse_iso
from nosana_nb.sandbox.context import SandboxContext
from nosana_nb.sandbox.http.auth import api_key_signer
from nosana_nb.sandbox.http.pagination import InvalidCursorError, paginate_keys
from nosana_nb.sandbox.http.routing import ApiError, Call, Reply
from nosana_nb.sandbox.http.serialize import (
    deployment_to_wire,
    event_to_wire,
    job_detail_to_wire,
    job_to_wire,
    revision_to_wire,
    task_to_wire,
)
from nosana_nb.sandbox.worker.results import find_job_results

Doc = dict[str, Any]
Predicate = Callable[[Doc], bool]

DEPLOYMENT_NOT_FOUND = "Deployment not found."
ARCHIVED = "Cannot modify an archived deployment."
INCORRECT_STATE = "Deployment is in the incorrect state."
SOMETHING_WRONG = "Ops something went wrong, please again."


# -- guards ---------------------------------------------------------------------------------
def owned_deployment(ctx: SandboxContext, call: Call) -> Doc:
    """The ``own`` guard: another wallet's deployment is indistinguishable from none."""
    found = ctx.store.find_one("deployments", id=call.params["deployment"], owner=call.owner)
    if found is None:
        raise ApiError(404, DEPLOYMENT_NOT_FOUND)
    return found


def not_archived(deployment: Doc) -> Doc:
    if deployment.get("status") == "ARCHIVED":
        raise ApiError(500, ARCHIVED)
    return deployment


def active_jobs(ctx: SandboxContext, deployment_id: str) -> int:
    """``active_jobs`` counts RUNNING jobs only; QUEUED ones do not count."""
    return ctx.store.count("jobs", deployment=deployment_id, state="RUNNING")


def deployment_wire(ctx: SandboxContext, doc: Doc) -> Doc:
    return deployment_to_wire(doc, active_jobs=active_jobs(ctx, str(doc.get("id"))))


# -- filters --------------------------------------------------------------------------------
def _comma_list(query: dict[str, Any], name: str) -> list[str] | None:
    value = query.get(name)
    if not value:
        return None
    return [part.strip() for part in str(value).split(",")]


def _filters(
    query: dict[str, Any], *, lists: dict[str, str], dates: dict[str, str]
) -> Predicate | None:
    """``lists``: query name -> field (comma list); ``dates``: query name -> field, inclusive.

    None when the query filters on nothing, so a plain page never reads a document it skips.
    """
    checks: list[Predicate] = []
    for name, field in lists.items():
        wanted = _comma_list(query, name)
        if wanted is not None:
            checks.append(_in_list(field, wanted))
    for name, field in dates.items():
        value = query.get(name)
        if value:
            checks.append(_in_range(field, parse_iso(str(value)), after=name.endswith("_after")))
    if not checks:
        return None
    return lambda doc: all(check(doc) for check in checks)


def _in_list(field: str, wanted: list[str]) -> Predicate:
    return lambda doc: str(doc.get(field)) in wanted


def _in_range(field: str, bound: float, *, after: bool) -> Predicate:
    def check(doc: Doc) -> bool:
        value = doc.get(field)
        if not isinstance(value, str):
            return False
        return parse_iso(value) >= bound if after else parse_iso(value) <= bound

    return check


def _page(
    ctx: SandboxContext,
    collection: str,
    matches: Predicate | None,
    query: dict[str, Any],
    *,
    key: str,
    render: Callable[[Doc], Doc],
    error: str,
    **equals: Any,
) -> Reply:
    """A keyset page over the store's sorted index: only the page's documents are copied."""
    order: Literal["asc", "desc"] = "asc" if query.get("sort_order") == "asc" else "desc"
    keys = ctx.store.sort_keys(collection, matches, **equals)
    try:
        page = paginate_keys(
            keys,
            limit=int(query.get("limit") or 10),
            sort_order=order,
            cursor=cast(str | None, query.get("cursor") or None),
        )
    except InvalidCursorError:
        raise ApiError(500, error) from None
    items = ctx.store.get_many(collection, page.oids)
    meta = {
        "cursor_next": page.cursor_next,
        "cursor_prev": page.cursor_prev,
        "total_items": page.total_items,
    }
    return Reply({key: [render(d) for d in items], "pagination": meta})


# -- handlers -------------------------------------------------------------------------------
def list_deployments(ctx: SandboxContext, call: Call) -> Reply:
    query = call.query
    matches = _filters(
        query,
        lists={"status": "status", "strategy": "strategy", "id": "id"},
        dates={"created_after": "created_at", "created_before": "created_at"},
    )
    search = str(query.get("search") or "").lower()
    exact = {k: query[k] for k in ("name", "vault") if query.get(k)}

    def wanted(doc: Doc) -> bool:
        if any(doc.get(k) != v for k, v in exact.items()):
            return False
        if (
            search
            and search not in str(doc.get("id")).lower()
            and search not in str(doc.get("name")).lower()
        ):
            return False
        return matches is None or matches(doc)

    return _page(
        ctx,
        "deployments",
        wanted if (exact or search or matches is not None) else None,
        query,
        key="deployments",
        render=lambda d: deployment_wire(ctx, d),
        error="Internal Server Error",
        owner=call.owner,
    )


def get_deployment(ctx: SandboxContext, call: Call) -> Reply:
    return Reply(deployment_wire(ctx, owned_deployment(ctx, call)))


def list_tasks(ctx: SandboxContext, call: Call) -> Reply:
    deployment = not_archived(owned_deployment(ctx, call))
    matches = _filters(
        call.query,
        lists={"task": "task"},
        dates={"due_after": "due_at", "due_before": "due_at"},
    )
    return _page(
        ctx,
        "tasks",
        matches,
        call.query,
        key="tasks",
        render=task_to_wire,
        error="Failed to get scheduled tasks",
        deploymentId=deployment["id"],
    )


def list_jobs(ctx: SandboxContext, call: Call) -> Reply:
    deployment = owned_deployment(ctx, call)
    matches = _filters(
        call.query,
        lists={"state": "state", "job": "job"},
        dates={"created_after": "created_at", "created_before": "created_at"},
    )
    return _page(
        ctx,
        "jobs",
        matches,
        call.query,
        key="jobs",
        render=job_to_wire,
        error="Failed to get deployment jobs",
        deployment=deployment["id"],
    )


def list_revisions(ctx: SandboxContext, call: Call) -> Reply:
    deployment = owned_deployment(ctx, call)
    matches = _filters(
        call.query, lists={}, dates={"created_after": "created_at", "created_before": "created_at"}
    )
    return _page(
        ctx,
        "revisions",
        matches,
        call.query,
        key="revisions",
        render=revision_to_wire,
        error="Failed to get deployment revisions",
        deployment=deployment["id"],
    )


def list_events(ctx: SandboxContext, call: Call) -> Reply:
    deployment = owned_deployment(ctx, call)
    matches = _filters(
        call.query,
        lists={"category": "category", "type": "type"},
        dates={"created_after": "created_at", "created_before": "created_at"},
    )
    return _page(
        ctx,
        "events",
        matches,
        call.query,
        key="events",
        render=event_to_wire,
        error="Failed to get deployment events",
        deploymentId=deployment["id"],
    )


def get_job(ctx: SandboxContext, call: Call) -> Reply:
    deployment = owned_deployment(ctx, call)
    job = ctx.store.find_one("jobs", deployment=deployment["id"], job=call.params["job"])
    if job is None:
        raise ApiError(404, "Job not found")
    revision = ctx.store.find_one(
        "revisions", deployment=deployment["id"], revision=job.get("revision")
    )
    if revision is None:
        raise ApiError(500, "Job revision not found")
    result = find_job_results(ctx.store, job["job"])
    return Reply(
        job_detail_to_wire(
            job,
            deployment=deployment,
            job_definition=revision.get("job_definition") or {},
            result=result.get("body") if result else None,
        )
    )


def vault_signer(vault_doc: Doc) -> Keypair | None:
    """The key that signs for a vault. For an API-key vault that is the Client Manager's key,
    which the sandbox only has when the owner itself came from the API key (Bearer path)."""
    key = str(vault_doc.get("vault_key") or "")
    if key.startswith("apikey:"):
        signer = api_key_signer(key.removeprefix("apikey:"))
        return signer if str(signer.pubkey()) == vault_doc.get("vault") else None
    return Keypair.from_bytes(bytes.fromhex(key))


def get_header(ctx: SandboxContext, call: Call) -> Reply:
    deployment = owned_deployment(ctx, call)
    vault = ctx.store.find_one("vaults", vault=deployment.get("vault"), owner=call.owner)
    if vault is None:
        raise ApiError(500, "Failed to get deployment vault")
    try:
        signer = vault_signer(vault)
    except ValueError:
        signer = None
    if signer is None:
        raise ApiError(500, "Failed to generate header.")
    message = str(call.query.get("message") or "DEPLOYMENT_HEADER")
    header = f"{message}:{signer.sign_message(message.encode())}"
    if call.query.get("includeTime") == "true":
        header += f":{int(ctx.wall_time() * 1000)}"
    return Reply({"header": header})
