"""Every reply the client receives from the sandbox, checked against the service's API types.

``tests/fixtures/nosana_api_2.1.8_responses.schema.json`` transcribes, by hand, the response
bodies of ``@nosana/api`` 2.1.8 (``dist/client/schema.d.ts``). ``ReplyChecker`` matches a reply
to its route and validates the JSON body against that route's definition: 2xx bodies against
the success shape, error bodies against the route's error shape, 401s against "Unauthorized".
Routes the types do not describe (the sandbox's admin API, the RPC, IPFS, the stream, ...) are
listed in ``OUTSIDE_THE_TYPES``; a reply from any other route is itself a failure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

FIXTURE = Path(__file__).parent / "fixtures" / "nosana_api_2.1.8_responses.schema.json"

OUTSIDE_THE_TYPES = (
    re.compile(r"^/_sandbox/"),
    re.compile(r"^/rpc$"),
    re.compile(r"^/ipfs/"),
    re.compile(r"^/pinning/"),
    re.compile(r"^/(stats|health|documentation/json)?$"),
    re.compile(r"^/api/deployments/[^/]+/stream$"),
    re.compile(r"^/api/deployments/[^/]+/update-name$"),
)
"""Routes ``schema.d.ts`` does not describe; their contract is docs/wire-contract.md."""


def load_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(FIXTURE.read_text())
    return document


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


@dataclass
class ReplyChecker:
    document: dict[str, Any] = field(default_factory=load_document)
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    last_bodies: dict[str, Any] = field(default_factory=dict)
    """The last JSON body seen per route (tests replay and corrupt them)."""

    def __post_init__(self) -> None:
        resource = Resource.from_contents(self.document)
        self._registry = Registry().with_resource(self.document["$id"], resource)
        routes = []
        for key, definition in self.document["routes"].items():
            method, template = key.split(" ", 1)
            routes.append((template.count("{"), method, template, definition))
        # static segments win over placeholders, as in the service's router
        self._routes = [
            (method, _pattern(template), template, definition)
            for _, method, template, definition in sorted(routes)
        ]

    def validator(self, definition: str) -> Draft202012Validator:
        schema = {"$ref": f"{self.document['$id']}#/$defs/{definition}"}
        return Draft202012Validator(schema, registry=self._registry, format_checker=FormatChecker())

    def errors(self, definition: str, body: Any) -> list[str]:
        return [
            f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in self.validator(definition).iter_errors(body)
        ]

    def route_of(self, method: str, path: str) -> tuple[str, str] | None:
        """(route key, definition) of a reply's route; the sandbox also serves it without /api."""
        if path.startswith("/deployments"):
            path = "/api" + path
        if path == "/api/markets":
            path = "/api/markets/"
        if re.fullmatch(r"/api/markets/[^/]+", path):
            path += "/"
        for route_method, pattern, template, definition in self._routes:
            if route_method == method and pattern.match(path):
                return f"{method} {template}", definition
        return None

    def check(self, method: str, path: str, status: int, content_type: str, body: bytes) -> None:
        if path.startswith("/deployments"):
            path = "/api" + path
        if any(p.match(path) for p in OUTSIDE_THE_TYPES):
            return
        found = self.route_of(method, path)
        if found is None:
            if status == 404:  # an unknown route: Fastify's 404 body is checked like an error
                found = (f"{method} {path}", "Error")
            else:
                self.problems.append(f"{method} {path}: a route the API types do not describe")
                return
        route, definition = found
        self.checked[route] = self.checked.get(route, 0) + 1
        if status == 204:
            if body:
                self.problems.append(f"{route}: 204 with a body")
            return
        if status == 401:
            text = body.decode(errors="replace")
            if "json" in content_type:
                text = json.loads(body)
            if not isinstance(text, str) or not text.startswith("Unauthorized"):
                self.problems.append(f"{route}: 401 body {text!r} is not Unauthorized")
            return
        if "json" not in content_type:
            self.problems.append(f"{route}: {status} reply is {content_type!r}, not JSON")
            return
        payload = json.loads(body)
        self.last_bodies[route] = payload
        if status >= 400:
            definition = "MarketsError" if route.startswith("GET /api/markets/") else "Error"
        for problem in self.errors(definition, payload):
            self.problems.append(f"{route} {status} ({definition}) {problem}")


def _is_stream(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/event-stream")


def watch_replies(monkeypatch: Any, checker: ReplyChecker, host: str = "127.0.0.1") -> None:
    """Route every httpx reply from ``host`` (sync and async, any client) through ``checker``."""
    sync_send = httpx.HTTPTransport.handle_request
    async_send = httpx.AsyncHTTPTransport.handle_async_request

    def checked(request: httpx.Request, response: httpx.Response, body: bytes) -> httpx.Response:
        checker.check(
            request.method,
            request.url.path,
            response.status_code,
            response.headers.get("content-type", ""),
            body,
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        response = sync_send(self, request)
        if request.url.host != host or _is_stream(response):
            return response
        return checked(request, response, response.read())

    async def handle_async_request(
        self: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        response = await async_send(self, request)
        if request.url.host != host or _is_stream(response):
            return response
        return checked(request, response, await response.aread())

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_request)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request)
