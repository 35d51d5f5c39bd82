"""The Starlette application of the sandbox: route table + SSE + /rpc, behind the edge guard
(names, body limits) and the fault layer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from email.utils import formatdate

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nosana_nb.sandbox.context import SandboxContext

from .faults import FaultMiddleware
from .guard import EdgeGuard, LocalNames
from .limits import EdgeLimits
from .openapi import build_document
from .route_table import ALL_ROUTES
from .routing import Route, endpoint, not_found_route, prepare_or_response, raw_url
from .sse import StreamHub, open_stream

_COLLECTION_ROOTS = ("/deployments", "/api/markets")
SANDBOX_TIME_HEADER = b"x-nosana-sandbox-time"


def _stream_endpoint(
    route: Route, ctx: SandboxContext, hub: StreamHub
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        prepared = await prepare_or_response(route, ctx, request)
        if isinstance(prepared, Response):
            return prepared
        return await open_stream(ctx, hub, request, prepared)

    return handle


def _starlette_routes(
    ctx: SandboxContext, hub: StreamHub, rpc_routes: Sequence[BaseRoute]
) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for route in ALL_ROUTES:
        if route.mounted_elsewhere:
            continue
        handler = _stream_endpoint(route, ctx, hub) if route.stream else endpoint(route, ctx)
        for path in route.paths():
            routes.append(StarletteRoute(path or "/", handler, methods=[route.method]))
            if path.endswith(_COLLECTION_ROOTS):  # served with and without a trailing /
                routes.append(StarletteRoute(path + "/", handler, methods=[route.method]))
    return [*routes, *rpc_routes]


async def _fastify_not_found(request: Request, exc: Exception) -> Response:
    """Unknown path or method: Fastify's default 404 body (never Starlette's 405)."""
    if isinstance(exc, HTTPException) and exc.status_code not in (404, 405):
        return Response(exc.detail, status_code=exc.status_code)
    return not_found_route(request.method, raw_url(request))


class _CountUncaught:
    """Counts exceptions that escape every handler (Starlette answers them with a bare 500)."""

    def __init__(self, app: ASGIApp, ctx: SandboxContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            self.ctx.counters.add("unhandled_errors")
            raise


def clock_headers(ctx: SandboxContext) -> list[tuple[bytes, bytes]]:
    """``Date`` (whole seconds, like any server) and ``X-Nosana-Sandbox-Time: <unix ms>;
    speed=<float or manual>``, so a client can follow the simulated clock at its rate."""
    now = ctx.clock.now()
    speed = ctx.clock.speed
    rate = "manual" if speed is None else repr(float(speed))
    return [
        (b"date", formatdate(now, usegmt=True).encode()),
        (SANDBOX_TIME_HEADER, f"{int(now * 1000)}; speed={rate}".encode()),
    ]


class _StampClock:
    """Every reply carries the simulated time: the service's clock is the only clock."""

    def __init__(self, app: ASGIApp, ctx: SandboxContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (b"date", SANDBOX_TIME_HEADER)
                ]
                message = {**message, "headers": [*kept, *clock_headers(self.ctx)]}
            await send(message)

        await self.app(scope, receive, stamped)


def create_app(
    ctx: SandboxContext,
    *,
    hub: StreamHub,
    rpc_routes: Sequence[BaseRoute] = (),
    limits: EdgeLimits | None = None,
    names: LocalNames | None = None,
) -> ASGIApp:
    """The ASGI app. ``ctx.openapi`` is filled here from the same route table.

    ``names``: the hosts it answers to (default: loopback only); ``limits``: body sizes and
    deadlines (``limits.py``).
    """
    ctx.openapi = build_document(ALL_ROUTES, server_url=ctx.api_url or None)
    if limits is not None:
        ctx.limits = limits  # one source for the edge guard and the route pipeline
    app = Starlette(
        routes=_starlette_routes(ctx, hub, rpc_routes),
        exception_handlers={404: _fastify_not_found, 405: _fastify_not_found},
    )
    app.router.redirect_slashes = False
    guarded = EdgeGuard(
        FaultMiddleware(app, ctx.faults),
        limits=ctx.limits,
        counters=ctx.counters,
        names=names or LocalNames("127.0.0.1"),
    )
    # stamped outermost, so refusals at the edge carry the simulated time too
    return _CountUncaught(_StampClock(guarded, ctx), ctx)
