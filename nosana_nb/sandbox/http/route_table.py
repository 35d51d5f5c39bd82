"""Every deployment-manager route of the sandbox: path, schemas, error style, handler.

This one table drives the Starlette routing (mounted under ``/deployments`` and
``/api/deployments``) and the OpenAPI document, so documentation and behaviour cannot drift.
"""

from __future__ import annotations

from typing import Any

from nosana_nb.sandbox.api import actions, credits, endpoints, jobhost, misc, vaults
from nosana_nb.sandbox.api import deployments as reads
from nosana_nb.sandbox.context import SandboxContext

from .routing import Call, Handler, Reply, Route
from .validation import (
    CRON_PATTERN,
    DATE_TIME,
    PAGINATION_QUERY,
    PUBLIC_KEY,
    STRATEGIES,
    Schema,
    literals,
    object_schema,
)


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def paged(items: str, item: str) -> Schema:
    return {
        "type": "object",
        "properties": {
            items: {"type": "array", "items": ref(item)},
            "pagination": ref("Pagination"),
        },
        "required": [items, "pagination"],
    }


def updated(field: str, schema: Schema) -> Schema:
    return {
        "type": "object",
        "properties": {field: schema, "updated_at": {"type": "string", "format": "date-time"}},
        "required": [field, "updated_at"],
    }


DEPLOYMENT_PARAMS = object_schema({"deployment": PUBLIC_KEY}, ("deployment",))
JOB_PARAMS = object_schema({"deployment": PUBLIC_KEY, "job": PUBLIC_KEY}, ("deployment", "job"))
VAULT_PARAMS = object_schema({"vault": PUBLIC_KEY}, ("vault",))
CREATED_RANGE = {"created_after": DATE_TIME, "created_before": DATE_TIME}
COMMA_LIST: Schema = {"type": "string", "description": "One value or a comma-separated list."}
REVISION_FILTER: Schema = {
    "type": "number",
    "description": "Declared as a number; a query string never is one (always 400, as upstream).",
}

_NUMBER_OR_NULL: Schema = {"type": ["number", "null"]}
_STRING_OR_NULL: Schema = {"type": ["string", "null"]}
JOB_RESULTS: Schema = object_schema(
    {
        "status": {"type": "string"},
        "startTime": {"type": "number"},
        "endTime": _NUMBER_OR_NULL,
        "errors": {"type": "array"},
        "opStates": {
            "type": "array",
            "items": object_schema(
                {
                    "providerId": _STRING_OR_NULL,
                    "operationId": _STRING_OR_NULL,
                    "group": _STRING_OR_NULL,
                    "status": _STRING_OR_NULL,
                    "startTime": _NUMBER_OR_NULL,
                    "endTime": _NUMBER_OR_NULL,
                    "exitCode": _NUMBER_OR_NULL,
                    "logs": {
                        "type": "array",
                        "items": object_schema(
                            {
                                "type": {"enum": ["stdin", "stdout", "stderr", "nodeerr"]},
                                "log": {"type": "string"},
                                "timestamp": {"type": "string"},
                            },
                            ("type",),
                        ),
                    },
                    "results": {"type": "object"},
                    "error": object_schema(
                        {
                            "event": {"type": "string"},
                            "message": {"type": "string"},
                            "code": {"type": "number"},
                        },
                        ("event", "message"),
                    ),
                    "diagnostics": object_schema(
                        {
                            "reason": object_schema(
                                {
                                    "hostShutDown": {"type": "boolean"},
                                    "jobStopped": {"type": "boolean"},
                                    "jobExpired": {"type": "boolean"},
                                    "reason": {"type": "string"},
                                },
                                ("hostShutDown", "jobStopped", "jobExpired"),
                            ),
                            "state": {"type": "object"},
                        },
                        ("reason",),
                    ),
                },
                (
                    "providerId",
                    "operationId",
                    "group",
                    "status",
                    "startTime",
                    "endTime",
                    "exitCode",
                    "logs",
                    "diagnostics",
                ),
            ),
        },
        "secrets": {"type": "object"},
    },
    ("status", "startTime", "endTime", "opStates"),
)
"""``JobResults`` of the service's API types: what a node posts when its job ends."""

JOB_DEFINITION: Schema = {
    "type": "object",
    "description": "A Nosana job definition (version 0.1, type container, ops).",
    "properties": {
        "version": {"type": "string", "const": "0.1"},
        "type": {"type": "string", "const": "container"},
        "ops": {"type": "array", "items": {"type": "object"}},
        "meta": {"type": "object"},
        "global": {"type": "object"},
        "logistics": {"type": "object"},
        "deployment_id": {"type": "string"},
    },
    "required": ["version", "type", "ops"],
}

CREATE_BODY = object_schema(
    {
        "name": {"type": "string"},
        "market": {"type": "string"},
        "replicas": {"type": "number", "minimum": 1},
        "timeout": {"type": "number", "minimum": 1, "description": "Minutes."},
        "strategy": literals(*STRATEGIES),
        "schedule": {"type": "string", "pattern": CRON_PATTERN},
        "rotation_time": {"type": "number", "description": "Minutes before the timeout."},
        "confidential": {"type": "boolean"},
        "autostart": {"type": "boolean"},
        "vault": PUBLIC_KEY,
        "new_vault": {"type": "boolean"},
        "job_definition": JOB_DEFINITION,
    },
    ("name", "market", "replicas", "timeout", "strategy", "job_definition"),
)

_D = "/{deployment}"


def _served_elsewhere(ctx: SandboxContext, call: Call) -> Reply:
    """Stand-in handler of routes served by another module (the SSE stream, ``/rpc``)."""
    raise RuntimeError("this route is served by its own module")


def open_route(method: str, path: str, handler: Handler, summary: str, **kw: Any) -> Route:
    """A route outside ``/deployments`` that needs no authentication."""
    kw.setdefault("tag", "Service")
    return Route(method, path, handler, summary, auth_style="none", prefixes=("",), **kw)


def admin_route(method: str, path: str, handler: Handler, summary: str, **kw: Any) -> Route:
    """``/_sandbox/*``: no authentication, loopback callers only, never faulted."""
    return open_route(method, path, handler, summary, tag="Sandbox", loopback_only=True, **kw)


ROUTES: tuple[Route, ...] = (
    # static paths first: they win over /{deployment} like find-my-way's static priority
    Route(
        "GET",
        "/vaults",
        vaults.list_vaults,
        "List the caller's vaults",
        response={"type": "array", "items": ref("Vault")},
        tag="Vaults",
    ),
    Route(
        "POST",
        "/vaults/create",
        vaults.create_vault,
        "Get or create the caller's shared vault",
        response=ref("Vault"),
        tag="Vaults",
    ),
    Route(
        "POST",
        "/vaults/{vault}/withdraw",
        vaults.withdraw,
        "Build a withdraw transaction draining the vault to its owner",
        params=VAULT_PARAMS,
        body=object_schema(
            {"SOL": {"type": "number", "minimum": 0}, "NOS": {"type": "number", "minimum": 0}}
        ),
        bare_bad_request=True,
        response={
            "type": "object",
            "properties": {"transaction": {"type": "string"}},
            "required": ["transaction"],
        },
        tag="Vaults",
    ),
    Route(
        "GET",
        "/jobs/{job}/job-definition",
        jobhost.job_definition,
        "The job's definition, for the node running it (node-signed, message = job address)",
        auth_style="none",
        node_auth=True,
        response=JOB_DEFINITION,
        tag="Job host",
    ),
    Route(
        "POST",
        "/jobs/{job}/results",
        jobhost.post_results,
        "Results of a job, posted once by the node running it (node-signed)",
        auth_style="none",
        node_auth=True,
        body=JOB_RESULTS,
        response={"type": "object", "properties": {"message": {"type": "string"}}},
        tag="Job host",
    ),
    Route(
        "POST",
        "/create",
        actions.create_deployment,
        "Create a deployment",
        body=CREATE_BODY,
        check_headers=False,
        bare_bad_request=True,
        response=ref("Deployment"),
    ),
    Route(
        "GET",
        "",
        reads.list_deployments,
        "List the caller's deployments",
        query=object_schema(
            {
                **PAGINATION_QUERY,
                "search": {"type": "string"},
                "status": COMMA_LIST,
                "strategy": COMMA_LIST,
                "id": COMMA_LIST,
                "name": {"type": "string"},
                "vault": {"type": "string"},
                **CREATED_RANGE,
            }
        ),
        response=paged("deployments", "Deployment"),
    ),
    Route(
        "GET",
        _D,
        reads.get_deployment,
        "Get one deployment",
        params=DEPLOYMENT_PARAMS,
        response=ref("Deployment"),
    ),
    Route(
        "DELETE",
        _D,
        actions.delete,
        "Delete a STOPPED deployment",
        params=DEPLOYMENT_PARAMS,
        status=204,
    ),
    Route(
        "GET",
        f"{_D}/tasks",
        reads.list_tasks,
        "List outstanding tasks",
        params=DEPLOYMENT_PARAMS,
        query=object_schema(
            {
                **PAGINATION_QUERY,
                "task": COMMA_LIST,
                "due_after": DATE_TIME,
                "due_before": DATE_TIME,
            }
        ),
        response=paged("tasks", "Task"),
    ),
    Route(
        "GET",
        f"{_D}/jobs",
        reads.list_jobs,
        "List the deployment's jobs",
        params=DEPLOYMENT_PARAMS,
        query=object_schema(
            {
                **PAGINATION_QUERY,
                "state": COMMA_LIST,
                "job": {"type": "string"},
                "revision": REVISION_FILTER,
                **CREATED_RANGE,
            }
        ),
        response=paged("jobs", "Job"),
    ),
    Route(
        "GET",
        f"{_D}/jobs/{{job}}",
        reads.get_job,
        "Job detail (numeric state, camelCase keys)",
        params=JOB_PARAMS,
        response=ref("JobDetail"),
    ),
    Route(
        "GET",
        f"{_D}/header",
        reads.get_header,
        "A header signed by the deployment's vault",
        params=DEPLOYMENT_PARAMS,
        query=object_schema(
            {
                "includeTime": literals("true", "false"),
                "message": {"type": "string", "minLength": 1},
            }
        ),
        response={
            "type": "object",
            "properties": {"header": {"type": "string"}},
            "required": ["header"],
        },
    ),
    Route(
        "GET",
        f"{_D}/revisions",
        reads.list_revisions,
        "List revisions",
        params=DEPLOYMENT_PARAMS,
        query=object_schema({**PAGINATION_QUERY, "revision": REVISION_FILTER, **CREATED_RANGE}),
        response=paged("revisions", "Revision"),
    ),
    Route(
        "GET",
        f"{_D}/events",
        reads.list_events,
        "List events",
        params=DEPLOYMENT_PARAMS,
        query=object_schema(
            {**PAGINATION_QUERY, "category": COMMA_LIST, "type": COMMA_LIST, **CREATED_RANGE}
        ),
        response=paged("events", "Event"),
    ),
    Route(
        "GET",
        f"{_D}/stream",
        _served_elsewhere,
        "Live Server-Sent Events of the deployment",
        auth_style="stream",
        check_headers=False,
        stream=True,
    ),
    Route(
        "POST",
        f"{_D}/create-revision",
        actions.create_revision,
        "Create a revision from a job definition and make it active",
        params=DEPLOYMENT_PARAMS,
        body={"type": "object"},
        openapi_body=JOB_DEFINITION,
        response={
            "type": "object",
            "properties": {
                "active_revision": {"type": "integer"},
                "endpoints": {"type": "array", "items": ref("Endpoint")},
                "revisions": {"type": "array", "items": ref("Revision")},
                "updated_at": {"type": "string", "format": "date-time"},
            },
            "required": ["active_revision", "endpoints", "revisions", "updated_at"],
        },
    ),
    Route(
        "POST",
        f"{_D}/start",
        actions.start,
        "Start (DRAFT, STOPPED, ERROR, INSUFFICIENT_FUNDS)",
        params=DEPLOYMENT_PARAMS,
        response=updated("status", {"type": "string", "const": "STARTING"}),
    ),
    Route(
        "POST",
        f"{_D}/stop",
        actions.stop,
        "Stop (RUNNING, ERROR, INSUFFICIENT_FUNDS)",
        params=DEPLOYMENT_PARAMS,
        response=updated("status", {"type": "string", "const": "STOPPING"}),
    ),
    Route(
        "POST",
        f"{_D}/archive",
        actions.archive,
        "Archive a STOPPED deployment",
        params=DEPLOYMENT_PARAMS,
        response=updated("status", {"type": "string", "const": "ARCHIVED"}),
    ),
    Route(
        "PATCH",
        f"{_D}/update-name",
        actions.update_name,
        "Rename",
        params=DEPLOYMENT_PARAMS,
        body=object_schema({"name": {"type": "string", "minLength": 1}}, ("name",)),
        response=updated("name", {"type": "string"}),
    ),
    Route(
        "PATCH",
        f"{_D}/update-active-revision",
        actions.update_active_revision,
        "Switch to an existing revision",
        params=DEPLOYMENT_PARAMS,
        body=object_schema(
            {"active_revision": {"type": "number", "minimum": 1}}, ("active_revision",)
        ),
        bare_bad_request=True,
        response={
            "type": "object",
            "properties": {
                "active_revision": {"type": "integer"},
                "endpoints": {"type": "array", "items": ref("Endpoint")},
                "updated_at": {"type": "string", "format": "date-time"},
            },
            "required": ["active_revision", "endpoints", "updated_at"],
        },
    ),
    Route(
        "PATCH",
        f"{_D}/update-replica-count",
        actions.update_replicas,
        "Change the replica count",
        params=DEPLOYMENT_PARAMS,
        body=object_schema({"replicas": {"type": "number", "minimum": 0}}, ("replicas",)),
        response=updated("replicas", {"type": "number"}),
    ),
    Route(
        "PATCH",
        f"{_D}/update-schedule",
        actions.update_schedule,
        "Change the cron schedule (SCHEDULED only)",
        params=DEPLOYMENT_PARAMS,
        body=object_schema(
            {"schedule": {"type": "string", "pattern": CRON_PATTERN}}, ("schedule",)
        ),
        bare_bad_request=True,
        response=updated("schedule", {"type": "string"}),
    ),
    Route(
        "PATCH",
        f"{_D}/update-timeout",
        actions.update_timeout,
        "Change the job timeout (minutes, at least 60)",
        params=DEPLOYMENT_PARAMS,
        body=object_schema({"timeout": {"type": "number", "minimum": 60}}, ("timeout",)),
        response=updated("timeout", {"type": "number"}),
    ),
)


_JSON_ANY: Schema = {"description": "Any JSON value."}
_MARKET_PARAMS = object_schema({"market": {"type": "string"}}, ("market",))
_CID_PARAMS = object_schema({"cid": {"type": "string"}}, ("cid",))
_PIN_RESPONSE: Schema = {
    "type": "object",
    "properties": {
        "IpfsHash": {"type": "string"},
        "PinSize": {"type": "integer"},
        "Timestamp": {"type": "string", "format": "date-time"},
    },
}
_HEALTH: Schema = {
    "type": "object",
    "properties": {
        "status": {"type": "string"},
        "mode": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
    },
}

CREDITS_BALANCE: Schema = {
    "type": "object",
    "properties": {
        "assignedCredits": {"type": "number"},
        "reservedCredits": {"type": "number"},
        "settledCredits": {"type": "number"},
    },
    "required": ["assignedCredits", "reservedCredits", "settledCredits"],
}

_CHARGE: dict[str, Schema] = {
    "costUSD": {"type": "number"},
    "creditsUsed": {"type": "number"},
    "reservationId": {"type": "string"},
}
_SECONDS_OR_TEXT: Schema = {
    "type": ["string", "number"],
    "description": "Whole seconds (the on-chain unit); the market's job timeout when absent.",
}
_ADDRESS_PARAMS = object_schema({"address": PUBLIC_KEY}, ("address",))
_NUMBER: Schema = {"type": "number"}
_STRING: Schema = {"type": "string"}
CREDIT_JOB: Schema = object_schema(
    {
        "ipfsJob": _STRING,
        "ipfsResult": _STRING_OR_NULL,
        "market": _STRING,
        "node": _STRING,
        "payer": _STRING,
        "price": _NUMBER,
        "project": _STRING,
        "state": _NUMBER,
        "type": _STRING_OR_NULL,
        "jobDefinition": {"description": "The job definition, or null."},
        "jobResult": {"description": "The node's results, or null."},
        "jobStatus": _STRING_OR_NULL,
        "timeEnd": _NUMBER,
        "timeStart": _NUMBER,
        "benchmarkProcessedAt": {"type": ["string", "object", "null"]},
        "timeout": _NUMBER,
        "usdRewardPerHour": _NUMBER_OR_NULL,
        "listedAt": _NUMBER_OR_NULL,
    },
    (
        "ipfsJob",
        "ipfsResult",
        "market",
        "node",
        "payer",
        "price",
        "project",
        "state",
        "type",
        "jobDefinition",
        "jobResult",
        "jobStatus",
        "timeEnd",
        "timeStart",
        "benchmarkProcessedAt",
        "timeout",
        "usdRewardPerHour",
        "listedAt",
    ),
)


def credit_route(method: str, path: str, handler: Handler, summary: str, **kw: Any) -> Route:
    """A dashboard-API route paid with credits: ``Bearer nos_...`` (or a wallet's headers)."""
    return Route(
        method, path, handler, summary, prefixes=("",), check_headers=False, tag="Credits", **kw
    )


CREDIT_ROUTES: tuple[Route, ...] = (
    credit_route(
        "GET",
        "/api/credits/balance",
        credits.balance,
        "The caller's credits (USD): available = assigned - reserved - settled",
        response=CREDITS_BALANCE,
    ),
    # static before /{address}, like find-my-way's static priority
    credit_route(
        "POST",
        "/api/jobs/list",
        credits.list_job,
        "Post one job paid with credits (its deposit and network fee are reserved)",
        body=object_schema(
            {
                "ipfsHash": {"type": "string", "minLength": 1},
                "market": {"type": "string", "minLength": 1},
                "timeout": _SECONDS_OR_TEXT,
                "node": PUBLIC_KEY,
            },
            ("ipfsHash", "market"),
        ),
        response=object_schema(
            {
                "tx": _STRING,
                "job": _STRING,
                "run": _STRING,
                "credits": object_schema({**_CHARGE, "project": _STRING}, (*_CHARGE, "project")),
            },
            ("tx", "job", "run", "credits"),
        ),
    ),
    credit_route(
        "POST",
        "/api/jobs/{address}/extend",
        credits.extend_job,
        "Give an active credit job more seconds (the default: its listed timeout)",
        params=_ADDRESS_PARAMS,
        body=object_schema({"seconds": {"type": "number"}}),
        response=object_schema(
            {"tx": _STRING, "job": _STRING, "credits": object_schema(_CHARGE, tuple(_CHARGE))},
            ("tx", "job", "credits"),
        ),
    ),
    credit_route(
        "POST",
        "/api/jobs/{address}/stop",
        credits.stop_job,
        "End a running credit job, or delist a queued one",
        params=_ADDRESS_PARAMS,
        response=object_schema(
            {"tx": _STRING, "job": _STRING, "delisted": {"type": "boolean"}},
            ("tx", "job", "delisted"),
        ),
    ),
    open_route(
        "GET",
        "/api/jobs/{address}",
        credits.get_job,
        "Any job as the chain holds it (on-chain timeout, state 0-3)",
        params=_ADDRESS_PARAMS,
        tag="Credits",
        response=CREDIT_JOB,
    ),
)

OPEN_ROUTES: tuple[Route, ...] = (
    open_route("GET", "/", misc.root, "Empty 200"),
    open_route("GET", "/health", misc.health, "Health", response=_HEALTH),
    open_route("GET", "/stats", misc.stats, "Worker counters", response=ref("Stats")),
    open_route(
        "GET", "/documentation/json", misc.documentation, "This document", response=_JSON_ANY
    ),
    open_route(
        "GET",
        "/api/markets",
        misc.list_markets,
        "GPU markets",
        tag="Markets",
        response={"type": "array", "items": ref("Market")},
    ),
    open_route(
        "GET",
        "/api/markets/{market}",
        misc.get_market,
        "One market by address or slug",
        params=_MARKET_PARAMS,
        tag="Markets",
        response=ref("Market"),
    ),
    open_route(
        "GET",
        "/api/markets/{market}/",
        misc.get_market,
        "One market by address or slug (the service's spelling, with the trailing slash)",
        params=_MARKET_PARAMS,
        tag="Markets",
        response=ref("Market"),
    ),
    open_route(
        "GET",
        "/api/markets/{market}/required-resources",
        misc.market_required_resources,
        "Images and remote resources a node must hold to join the market",
        params=_MARKET_PARAMS,
        tag="Markets",
        response=ref("MarketRequiredResources"),
    ),
    open_route(
        "POST",
        "/pinning/pinJSONToIPFS",
        misc.pin_json,
        "Pin JSON (Pinata shape: {pinataContent} or a bare object)",
        tag="IPFS",
        openapi_body={"type": "object"},
        response=_PIN_RESPONSE,
    ),
    open_route(
        "GET",
        "/ipfs/{cid}",
        misc.get_ipfs,
        "Fetch pinned JSON",
        params=_CID_PARAMS,
        tag="IPFS",
        response=_JSON_ANY,
    ),
    open_route(
        "POST",
        "/rpc",
        _served_elsewhere,
        "Solana JSON-RPC subset (served by sandbox.rpc)",
        tag="Solana",
        mounted_elsewhere=True,
        openapi_body={"type": "object"},
        response=_JSON_ANY,
    ),
)

ADMIN_ROUTES: tuple[Route, ...] = (
    admin_route(
        "POST",
        "/_sandbox/faucet",
        misc.faucet,
        "Airdrop SOL and mint NOS to a wallet (whole units, decimal strings or numbers)",
        openapi_body=object_schema(
            {
                "wallet": PUBLIC_KEY,
                "sol": {"type": ["string", "number"]},
                "nos": {"type": ["string", "number"]},
            },
            ("wallet",),
        ),
    ),
    admin_route(
        "POST",
        "/_sandbox/advance",
        misc.advance,
        "Advance the simulated clock, running everything due",
        openapi_body=object_schema({"seconds": {"type": "number", "minimum": 0}}, ("seconds",)),
    ),
    admin_route("GET", "/_sandbox/clock", misc.get_clock, "Simulated clock"),
    admin_route(
        "POST",
        "/_sandbox/faults",
        misc.set_faults,
        "Configure fault injection",
        openapi_body=object_schema(
            {
                "latency_ms": {"type": "number", "minimum": 0},
                "error_rate": {"type": "number", "minimum": 0, "maximum": 1},
                "drop_rate": {"type": "number", "minimum": 0, "maximum": 1},
                "seed": {"type": "integer"},
                "after_commit": {"type": "boolean"},
                "apply_to": {"type": "array", "items": {"type": "string"}},
            }
        ),
    ),
    admin_route("GET", "/_sandbox/faults", misc.get_faults, "Fault settings"),
    admin_route(
        "GET",
        "/_sandbox/stats",
        misc.sandbox_stats,
        "Refusals of the HTTP edge and unhandled errors (a bug when not 0)",
    ),
    admin_route(
        "POST",
        "/_sandbox/credits",
        credits.assign,
        "Assign credits (USD) to an API key",
        openapi_body=object_schema(
            {"api_key": {"type": "string"}, "usd": {"type": ["string", "number"]}},
            ("api_key", "usd"),
        ),
    ),
    admin_route("GET", "/_sandbox/info", misc.info, "Network facts of this sandbox"),
    admin_route(
        "GET",
        "/_sandbox/endpoint/{host}/{path:path}",
        endpoints.endpoint,
        "What https://{host}/{path} (a deployment's endpoint) answers, as its tunnel would",
    ),
)

ALL_ROUTES: tuple[Route, ...] = ROUTES + CREDIT_ROUTES + OPEN_ROUTES + ADMIN_ROUTES
