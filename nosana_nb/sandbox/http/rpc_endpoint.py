"""``POST /rpc``: the chain's JSON-RPC dispatcher (``sandbox.chain.rpc``) over HTTP."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from nosana_nb.sandbox.chain.chain import Chain
from nosana_nb.sandbox.chain.rpc import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, dispatch
from nosana_nb.sandbox.context import SandboxCounters

from .json_body import JsonBodyError, JsonTooDeepError, parse_json

log = logging.getLogger("nosana_nb.sandbox")


def _error(code: int, message: str, status: int = 200) -> JSONResponse:
    body = {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": None}
    return JSONResponse(body, status_code=status)


def make_rpc_routes(chain: Chain, counters: SandboxCounters | None = None) -> list[Route]:
    """``POST /rpc``: JSON-RPC errors (including unparsable bodies) come back with HTTP 200.

    Like a validator, it only reads ``application/json`` (415 otherwise): a ``text/plain`` POST
    is what a web page can send without a CORS preflight.
    """
    counts = counters or SandboxCounters()

    async def endpoint(request: Request) -> JSONResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return _error(INVALID_REQUEST, "Content-Type must be application/json", 415)
        raw = await request.body()
        try:
            payload: Any = parse_json(raw, javascript_numbers=False)
        except JsonTooDeepError as exc:
            counts.add("bodies_too_deep")
            return _error(PARSE_ERROR, f"Parse error: {exc}")
        except JsonBodyError:
            return _error(PARSE_ERROR, "Parse error")
        try:
            answer = await run_in_threadpool(dispatch, chain, payload)
        except Exception:  # a bug; the client still gets a JSON-RPC answer
            counts.add("unhandled_errors")
            log.exception("unhandled error in POST /rpc")
            return _error(INTERNAL_ERROR, "Internal error")
        return JSONResponse(answer)

    return [Route("/rpc", endpoint, methods=["POST"])]
