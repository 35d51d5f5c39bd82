"""``POST /rpc``: the chain's JSON-RPC dispatcher (``sandbox.chain.rpc``) over HTTP."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nosana_nb.sandbox.chain.chain import Chain
from nosana_nb.sandbox.chain.rpc import dispatch


def make_rpc_routes(chain: Chain) -> list[Route]:
    """``POST /rpc``: JSON-RPC errors (including unparsable bodies) come back with HTTP 200."""

    async def endpoint(request: Request) -> JSONResponse:
        body = await request.body()
        answer = await run_in_threadpool(dispatch, chain, body)
        return JSONResponse(answer)

    return [Route("/rpc", endpoint, methods=["POST"])]
