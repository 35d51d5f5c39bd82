"""The request pipeline of the sandbox API, in the order Fastify runs it.

onRequest auth -> body parsing -> schema validation (params, body, querystring, headers) ->
handler. Handlers are plain synchronous functions ``(ctx, call) -> Reply``; they run in a worker
thread so the event loop stays free for SSE streams. One :class:`Route` table drives both the
Starlette routing and the OpenAPI document.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from nosana_nb.sandbox.context import SandboxContext

from .auth import AuthFailure, Principal, authenticate
from .json_body import JsonBodyError, JsonTooDeepError, parse_json
from .validation import (
    USER_HEADERS,
    RequestValidationError,
    Schema,
    fastify_400,
    query_to_object,
    validate,
)

logger = logging.getLogger("nosana_nb.sandbox")

MAX_PARAM_LENGTH = 100
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
INTERNAL = {"error": "Internal Server Error"}

AuthStyle = Literal["json", "stream", "none"]


class ApiError(Exception):
    """A handler's error answer: ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Reply:
    body: Any = None
    status: int = 200
    text: bool = False
    """Send ``body`` as text/plain (the job-host routes answer in plain text)."""


@dataclass(frozen=True)
class Call:
    principal: Principal
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    headers: Mapping[str, str] = field(repr=False)

    @property
    def owner(self) -> str:
        return self.principal.owner


Handler = Callable[[SandboxContext, Call], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    """Below the ``/deployments`` prefix (``""`` is the prefix itself), Starlette syntax."""
    handler: Handler
    summary: str
    params: Schema | None = None
    query: Schema | None = None
    body: Schema | None = None
    check_headers: bool = True
    bare_bad_request: bool = False
    """Routes with a 400 ``Error`` schema answer ``{"error":"Bad Request"}`` only."""
    auth_style: AuthStyle = "json"
    status: int = 200
    response: Schema | None = None
    tag: str = "Deployments"
    stream: bool = False
    openapi_body: Schema | None = None
    """Documented body when it differs from the validated one (create-revision)."""
    prefixes: tuple[str, ...] = ("/deployments", "/api/deployments")
    """Where the route is mounted; ``("",)`` for the open and admin routes."""
    loopback_only: bool = False
    node_auth: bool = False
    """Job-host route: the handler checks the node's signature itself (``api/jobhost.py``)."""
    mounted_elsewhere: bool = False
    """Documented here but served by another module (``POST /rpc``)."""

    def paths(self) -> list[str]:
        return [prefix + self.path for prefix in self.prefixes]


def json_response(body: Any, status: int = 200) -> Response:
    if body is None:
        return Response(status_code=status)
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(payload, status_code=status, media_type="application/json; charset=utf-8")


def text_response(text: str, status: int) -> Response:
    return Response(text, status_code=status, media_type="text/plain; charset=utf-8")


def not_found_route(method: str, url: str) -> Response:
    return json_response(
        {"message": f"Route {method}:{url} not found", "error": "Not Found", "statusCode": 404},
        404,
    )


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")


def raw_url(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def server_error(style: AuthStyle, message: str) -> Response:
    """The 500 a route answers when something throws outside its handler's own try block."""
    if style == "stream":
        return json_response(
            {"statusCode": 500, "error": "Internal Server Error", "message": message}, 500
        )
    return json_response(INTERNAL, 500)


def auth_failure_response(route: Route, failure: AuthFailure) -> Response:
    if failure.outcome in ("missing", "unauthorized"):
        return text_response(failure.message, 401)
    return server_error(route.auth_style, failure.message)


class _Refusal(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


async def _read_body(route: Route, ctx: SandboxContext, request: Request) -> Any:
    """Fastify's parsing: JSON via JSON.parse (errors -> 500), text/plain as a string.

    The edge guard (``guard.py``) has already refused bodies over the limit while reading them;
    the check here, against the same ``EdgeLimits``, keeps handlers safe when the app runs
    without it.
    """
    if request.method not in BODY_METHODS:
        return None
    raw = await request.body()
    if len(raw) > ctx.limits.body_limit(request.url.path):
        raise _Refusal(
            json_response(
                {
                    "statusCode": 413,
                    "code": "FST_ERR_CTP_BODY_TOO_LARGE",
                    "error": "Payload Too Large",
                    "message": "Request body is too large",
                },
                413,
            )
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type:
        if raw:
            raise _Refusal(_unsupported_media_type())
        return None
    if content_type == "application/json":
        try:
            return parse_json(raw)
        except JsonTooDeepError as exc:
            # the database could not store it; answered like a schema failure of the route
            ctx.counters.add("bodies_too_deep")
            message = f"body must NOT be nested deeper than {exc.limit} levels"
            raise _Refusal(_bad_request(route, message)) from None
        except JsonBodyError:
            raise _Refusal(server_error(route.auth_style, "Invalid JSON")) from None
    if content_type == "text/plain":
        return raw.decode("utf-8", errors="replace")
    raise _Refusal(_unsupported_media_type())


def _bad_request(route: Route, message: str) -> Response:
    body = {"error": "Bad Request"} if route.bare_bad_request else fastify_400(message)
    return json_response(body, 400)


def _unsupported_media_type() -> Response:
    return json_response(
        {
            "statusCode": 415,
            "code": "FST_ERR_CTP_INVALID_MEDIA_TYPE",
            "error": "Unsupported Media Type",
            "message": "Unsupported Media Type",
        },
        415,
    )


def _validate(route: Route, call: Call, request: Request) -> None:
    checks: list[tuple[Schema | None, Any, str]] = [
        (route.params, call.params, "params"),
        (route.body, call.body, "body"),
        (route.query, call.query, "querystring"),
    ]
    if route.check_headers and route.auth_style != "none" and call.principal.api_key is None:
        checks.append((USER_HEADERS, {k.lower(): v for k, v in request.headers.items()}, "headers"))
    for schema, value, part in checks:
        if schema is None:
            continue
        try:
            validate(schema, value, part)
        except RequestValidationError as exc:
            raise _Refusal(_bad_request(route, exc.message)) from None


async def prepare(route: Route, ctx: SandboxContext, request: Request) -> Call:
    """Everything before the handler; raises ``_Refusal`` carrying the answer to send."""
    params = {k: str(v) for k, v in request.path_params.items()}
    if any(len(v) > MAX_PARAM_LENGTH for v in params.values()):
        raise _Refusal(not_found_route(request.method, raw_url(request)))
    principal = Principal(owner="")
    if route.auth_style != "none":
        try:
            principal = authenticate(request.headers, wall_time=ctx.wall_time)
        except AuthFailure as failure:
            raise _Refusal(auth_failure_response(route, failure)) from None
    body = await _read_body(route, ctx, request)
    call = Call(
        principal=principal,
        params=params,
        query=query_to_object(request.query_params.multi_items()),
        body=body,
        headers=request.headers,
    )
    _validate(route, call, request)
    return call


def endpoint(route: Route, ctx: SandboxContext) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        if route.loopback_only and not is_loopback(request):
            return json_response({"error": "The sandbox admin API only answers loopback."}, 403)
        prepared = await prepare_or_response(route, ctx, request)
        if isinstance(prepared, Response):
            return prepared
        try:
            reply = await anyio.to_thread.run_sync(route.handler, ctx, prepared)
        except ApiError as error:
            return json_response({"error": error.message}, error.status)
        except Exception:
            return _unhandled(route, ctx)
        if reply.text:
            return text_response(str(reply.body), reply.status)
        return json_response(reply.body, reply.status)

    return handle


async def prepare_or_response(
    route: Route, ctx: SandboxContext, request: Request
) -> Call | Response:
    """Everything before the handler, as a ``Call`` or the refusal to send instead."""
    try:
        return await prepare(route, ctx, request)
    except _Refusal as refusal:
        return refusal.response
    except Exception:
        return _unhandled(route, ctx)


def _unhandled(route: Route, ctx: SandboxContext) -> Response:
    """A bug: counted (``unhandled_errors``), logged, answered in the route's 500 format."""
    ctx.counters.add("unhandled_errors")
    logger.exception("unhandled error in %s %s", route.method, route.path)
    return server_error(route.auth_style, "Internal Server Error")
