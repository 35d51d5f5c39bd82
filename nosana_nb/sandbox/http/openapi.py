"""The OpenAPI 3.0 document of the sandbox, generated from the route table.

Parameter and body schemas are the very dicts the validator enforces, so a fuzzer (schemathesis)
reading this document exercises exactly the rules the server applies.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from .routing import Route
from .validation import PUBLIC_KEY, STATUSES, STRATEGIES, Schema

_PATH_PARAM = re.compile(r"\{(\w+)\}")
_DATE: Schema = {"type": "string", "format": "date-time"}
_STRING: Schema = {"type": "string"}
_NUMBER: Schema = {"type": "number"}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TEXT: dict[str, Any] = {"content": {"text/plain": {"schema": {"type": "string"}}}}
_TEXT_401: dict[str, Any] = {"description": "Missing headers or bad signature", **_TEXT}


def _obj(properties: dict[str, Schema], required: Iterable[str] | None = None) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
    }


COMPONENTS: dict[str, Schema] = {
    "Error": _obj({"error": _STRING}),
    "FastifyError": _obj(
        {"statusCode": _NUMBER, "code": _STRING, "error": _STRING, "message": _STRING}
    ),
    "StreamError": _obj({"statusCode": _NUMBER, "error": _STRING, "message": _STRING}),
    "MarketsError": _obj({"name": _STRING, "message": _STRING}),
    "PublicKey": PUBLIC_KEY,
    "Endpoint": _obj({"opId": _STRING, "port": {"oneOf": [_NUMBER, _STRING]}, "url": _STRING}),
    "Deployment": _obj(
        {
            "id": _STRING,
            "name": _STRING,
            "vault": _STRING,
            "market": _STRING,
            "owner": _STRING,
            "status": {"type": "string", "enum": list(STATUSES)},
            "replicas": _NUMBER,
            "timeout": _NUMBER,
            "endpoints": {"type": "array", "items": {"$ref": "#/components/schemas/Endpoint"}},
            "confidential": {"type": "boolean"},
            "active_revision": _NUMBER,
            "active_jobs": _NUMBER,
            "created_at": _DATE,
            "updated_at": _DATE,
            "strategy": {"type": "string", "enum": list(STRATEGIES)},
            "schedule": _STRING,
            "rotation_time": _NUMBER,
        },
        required=[
            *("id", "name", "vault", "market", "owner", "status", "replicas", "timeout"),
            *("endpoints", "confidential", "active_revision", "active_jobs"),
            *("created_at", "updated_at", "strategy"),
        ],
    ),
    "Job": _obj(
        {
            "tx": _STRING,
            "deployment": _STRING,
            "job": _STRING,
            "market": _STRING,
            "node": {"type": "string", "nullable": True},
            "revision": _NUMBER,
            "state": {"type": "string", "enum": ["QUEUED", "RUNNING", "COMPLETED", "STOPPED"]},
            "time_start": _NUMBER,
            "created_at": _DATE,
            "updated_at": _DATE,
        }
    ),
    "JobDetail": _obj(
        {
            "confidential": {"type": "boolean"},
            "revision": _NUMBER,
            "market": _STRING,
            "node": _STRING,
            "state": {"type": "integer", "enum": [0, 1, 2, 3]},
            "jobStatus": {"nullable": True},
            "jobDefinition": {"type": "object"},
            "jobResult": {"type": "object", "nullable": True},
            "timeStart": _NUMBER,
            "timeEnd": _NUMBER,
            "listedAt": _NUMBER,
        }
    ),
    "Event": _obj(
        {
            "category": _STRING,
            "deploymentId": _STRING,
            "type": _STRING,
            "message": _STRING,
            "tx": _STRING,
            "created_at": _DATE,
        },
        required=["category", "deploymentId", "type", "message", "created_at"],
    ),
    "Task": _obj(
        {
            "task": {"type": "string", "enum": ["LIST", "EXTEND", "STOP"]},
            "deploymentId": _STRING,
            "job": _STRING,
            "limit": _NUMBER,
            "active_revision": _NUMBER,
            "due_at": _DATE,
            "created_at": _DATE,
        },
        required=["task", "deploymentId", "due_at", "created_at"],
    ),
    "Revision": _obj(
        {
            "revision": _NUMBER,
            "deployment": _STRING,
            "ipfs_definition_hash": _STRING,
            "job_definition": {"type": "object"},
            "created_at": _DATE,
        }
    ),
    "Vault": _obj({"vault": _STRING, "owner": _STRING, "created_at": _DATE}),
    "Pagination": _obj(
        {
            "cursor_next": {"type": "string", "nullable": True},
            "cursor_prev": {"type": "string", "nullable": True},
            "total_items": _NUMBER,
        }
    ),
    "Stats": {"type": "object"},
    "Market": {"type": "object"},
    "MarketRequiredResources": {"type": "object"},
}


def _openapi_schema(schema: Schema) -> Schema:
    """JSON Schema -> OpenAPI 3.0 schema: ``const`` becomes a one-value ``enum``, type lists
    become ``oneOf``, and ``anyOf`` of consts stays ``anyOf`` (3.0 supports it)."""
    out = copy.deepcopy(schema)
    if "const" in out:
        out["enum"] = [out.pop("const")]
    if isinstance(out.get("type"), list):
        out["oneOf"] = [{"type": t} for t in out.pop("type")]
    for key in ("anyOf", "oneOf"):
        if key in out:
            out[key] = [_openapi_schema(s) for s in out[key]]
    if "properties" in out:
        out["properties"] = {k: _openapi_schema(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _openapi_schema(out["items"])
    return out


def _parameters(route: Route) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    path_schema = (route.params or {}).get("properties", {})
    for name in _PATH_PARAM.findall(route.path):
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": _openapi_schema(path_schema.get(name, _STRING)),
            }
        )
    for name, schema in (route.query or {}).get("properties", {}).items():
        params.append(
            {"name": name, "in": "query", "required": False, "schema": _openapi_schema(schema)}
        )
    if route.auth_style != "none" and route.check_headers:
        params.append(
            {
                "name": "x-user-id",
                "in": "header",
                "required": True,
                "schema": _openapi_schema(PUBLIC_KEY),
            }
        )
    return params


def _error(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _responses(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if route.stream:
        responses["200"] = {
            "description": "Server-Sent Events: data frames of type deployment/job/event/task",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    elif route.status == 204:
        responses["204"] = {"description": "Deleted; empty body"}
    elif route.response is not None:
        responses[str(route.status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": _openapi_schema(route.response)}},
        }
    else:
        responses[str(route.status)] = {"description": "Success (empty body)"}
    if route.node_auth:
        responses.update(_node_auth_responses(route))
        return responses
    if route.params or route.query or route.body or route.openapi_body:
        responses["400"] = _error(
            "Error" if route.bare_bad_request else "FastifyError", "Validation failed"
        )
    if route.auth_style != "none":
        responses["401"] = _TEXT_401
    if route.loopback_only:
        responses["403"] = _error("Error", "Only loopback callers")
    if _PATH_PARAM.search(route.path) or route.prefixes != ("",):
        responses["404"] = _error("Error", "Not found (another owner's resource included)")
    if route.method in _BODY_METHODS:
        responses["413"] = _error("FastifyError", "Body larger than 1 MiB")
        responses["415"] = _error("FastifyError", "Body neither JSON nor text")
    if route.tag == "Markets":
        responses["500"] = _error("MarketsError", "Unknown market or bad filter (the API types)")
    elif route.auth_style == "stream":
        responses["500"] = _error("StreamError", "Malformed or expired token")
    elif route.prefixes != ("",) or route.method in _BODY_METHODS:
        responses["500"] = _error(
            "Error", "Refused state change, bad token, invalid cursor or invalid JSON"
        )
    return responses


def _node_auth_responses(route: Route) -> dict[str, Any]:
    """Job-host refusals are plain text; the handlers' own errors are ``{"error"}``."""
    either = {
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
        }
    }
    responses: dict[str, Any] = {
        "401": _TEXT_401,
        "403": {"description": "Job must be running", **_TEXT},
        "404": {"description": "Job Not Found / Failed to find the jobs definition.", **either},
        "500": {"description": "Ops something went wrong, please again.", **_TEXT},
    }
    if route.method in _BODY_METHODS:
        responses["400"] = _error("Error", "Job has already been completed.")
        responses["413"] = _error("FastifyError", "Body larger than 1 MiB")
        responses["415"] = _error("FastifyError", "Body neither JSON nor text")
    return responses


def _operation(route: Route, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "tags": [route.tag],
        "operationId": f"{route.method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', path)}",
        "parameters": _parameters(route),
        "responses": _responses(route),
    }
    body = route.openapi_body if route.openapi_body is not None else route.body
    if body is not None:
        operation["requestBody"] = {
            "required": route.body is not None,
            "content": {"application/json": {"schema": _openapi_schema(body)}},
        }
    if route.auth_style != "none" or route.node_auth:
        operation["security"] = [{"Authorization": []}]
    return operation


def build_document(routes: Iterable[Route], *, server_url: str | None = None) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        for path in route.paths():
            paths.setdefault(path or "/", {})[route.method.lower()] = _operation(route, path)
    document: dict[str, Any] = {
        "openapi": "3.0.0",
        "info": {
            "title": "@nosana/deployment-manager",
            "version": "0.0.0",
            "description": "The nosana_nb sandbox: the deployment manager's wire protocol, "
            "offline.",
        },
        "components": {
            "securitySchemes": {
                "Authorization": {"type": "apiKey", "name": "Authorization", "in": "header"}
            },
            "schemas": {name: _openapi_schema(s) for name, s in COMPONENTS.items()},
        },
        "paths": paths,
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
