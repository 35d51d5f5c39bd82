"""Endpoint probes shared by both twins: arguments, targets, URL safety, results, the tunnel.

A probe is a plain GET of an endpoint URL from a deployment's ``endpoints``, sent by its own
httpx client: no Authorization header, no cookies, no proxy or netrc from the environment, and
redirects followed only on the same origin. A client of the ``local`` network mounts a
transport for ``https://*.{frps_domain}`` that sends the same request to the sandbox's
``/_sandbox/endpoint/{host}/{path}`` instead of resolving the name (docs/wire-contract.md §13).
"""

from __future__ import annotations

import math
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from nosana_nb.core import models
from nosana_nb.core._shared.tls import shared_ssl_context
from nosana_nb.core.config import NetworkConfig
from nosana_nb.core.errors import DeadlineExceededError, UnsafeEndpointError, ValidationError

DEFAULT_PROBE_TIMEOUT_S = 5.0
DEFAULT_PROBE_CONCURRENCY = 8
DEFAULT_PROBE_MAX_BYTES = 64 * 1024
MAX_SAME_ORIGIN_REDIRECTS = 3
PROBE_USER_AGENT = "nosana-nb-probe"

FailureKind = Literal["timeout", "connect_error", "tls_error", "protocol_error"]


@dataclass(frozen=True)
class EndpointProbe:
    """What one GET of a deployment's endpoint found.

    Attributes:
        deployment: the deployment's id (None for an Endpoint passed on its own).
        op: the op that exposes the URL.
        port: the exposed port.
        url: the URL probed (scheme, host and path: never credentials or a query).
        status: the HTTP status of the last answer, or None when none came.
        failure: why no answer came (``timeout``, ``connect_error``, ``tls_error``,
            ``protocol_error``), or None.
        ready: whether the answer was 2xx or 3xx.
        latency_ms: milliseconds from sending to the answer's headers (or to the failure).
        probed_at: when the probe was sent, on the service's clock.
        detail: a short note (a redirect to another host that was not followed, a cut body).
    """

    deployment: str | None
    op: str
    port: int | str
    url: str
    status: int | None
    failure: FailureKind | None
    ready: bool
    latency_ms: float
    probed_at: datetime
    detail: str | None = None

    @property
    def state(self) -> str:
        """``READY``, ``BOOTING`` (503), ``DOWN`` (another answer) or ``UNREACHABLE``."""
        if self.ready:
            return "READY"
        if self.status is None:
            return "UNREACHABLE"
        return "BOOTING" if self.status == 503 else "DOWN"

    @property
    def summary(self) -> str:
        """One line: ``READY 200 · 84 ms``, ``BOOTING 503 · 12 ms``, ``UNREACHABLE timeout``."""
        if self.status is None:
            return f"{self.state} {(self.failure or 'error').replace('_', ' ')}"
        return f"{self.state} {self.status} · {self.latency_ms:.0f} ms"


@dataclass(frozen=True)
class EndpointReadiness:
    """When a deployment's endpoints first all answered, and how long after its job started.

    Attributes:
        deployment: the deployment's id.
        job_started_at: the start of the earliest running job (service clock).
        ready_at: when the first all-ready round of probes was sent (service clock).
        time_to_ready: ``ready_at - job_started_at`` (at most one poll interval late).
        probes: that round of probes.
    """

    deployment: str
    job_started_at: datetime
    ready_at: datetime
    time_to_ready: timedelta
    probes: tuple[EndpointProbe, ...]

    @property
    def seconds(self) -> float:
        """``time_to_ready`` in seconds."""
        return self.time_to_ready.total_seconds()


@dataclass(frozen=True)
class ProbeOptions:
    """Checked probe arguments."""

    timeout: float
    max_concurrency: int
    max_bytes: int


@dataclass(frozen=True)
class ProbeTarget:
    """One endpoint to probe and the deployment it belongs to."""

    deployment: str | None
    endpoint: models.Endpoint


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number; got {value!r}", argument=name)
    if not low < value <= high:
        raise ValidationError(
            f"{name} must be > {low:g} and <= {high:g}; got {value!r}", argument=name
        )
    return float(value)


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(
            f"{name} must be an int from {low} to {high}; got {value!r}", argument=name
        )
    return value


def check_probe_options(timeout: Any, max_concurrency: Any, max_bytes: Any) -> ProbeOptions:
    """Check a probe's arguments before anything is sent.

    Args:
        timeout: seconds one probe may take in all (0 < timeout <= 120).
        max_concurrency: probes in flight at once (1 to 64).
        max_bytes: body bytes read at most per answer (0 to 1 MiB).

    Returns:
        The checked options.

    Raises:
        ValidationError: an argument of the wrong type or out of range.
    """
    return ProbeOptions(
        timeout=_number(timeout, "timeout", 0, 120),
        max_concurrency=_whole(max_concurrency, "max_concurrency", 1, 64),
        max_bytes=_whole(max_bytes, "max_bytes", 0, 1 << 20),
    )


def check_wait_options(timeout: Any, poll_interval: Any) -> tuple[float, float]:
    """Check the arguments of ``wait_until_ready``.

    Args:
        timeout: seconds to wait at most (0 < timeout <= 1 day).
        poll_interval: seconds between rounds of probes (0 < interval <= 1 hour).

    Returns:
        ``(timeout, poll_interval)`` as floats.

    Raises:
        ValidationError: an argument of the wrong type or out of range.
    """
    return _number(timeout, "timeout", 0, 86_400), _number(poll_interval, "poll_interval", 0, 3600)


def safe_url_text(url: httpx.URL) -> str:
    """``url`` for results and messages: scheme, host, port and path only."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def display_url(text: str) -> str:
    """An endpoint URL (already :func:`checked_url`) as results show it: its own spelling
    (hosts keep their case), without a query or fragment, which may carry tokens."""
    return text.split("#", 1)[0].split("?", 1)[0]


def checked_url(text: Any) -> httpx.URL:
    """An endpoint URL a probe may request.

    Args:
        text: the ``url`` of an Endpoint.

    Returns:
        The parsed URL.

    Raises:
        UnsafeEndpointError: not a string, not http(s), no host, or ``user:password@`` in it
            (the message never repeats the credentials).
    """
    if not isinstance(text, str) or not text or len(text) > 2048:
        raise UnsafeEndpointError("an endpoint URL must be a string of 1 to 2048 characters")
    scheme, sep, rest = text.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if not sep or scheme.lower() not in ("http", "https"):
        raise UnsafeEndpointError("only http(s) endpoint URLs are probed")
    if "@" in authority:
        raise UnsafeEndpointError("an endpoint URL with credentials (user:password@) is not probed")
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL:
        raise UnsafeEndpointError("an endpoint URL that does not parse is not probed") from None
    if not url.host:
        raise UnsafeEndpointError("an endpoint URL without a host is not probed")
    return url


def _endpoints_of(item: Any) -> list[ProbeTarget] | None:
    if isinstance(item, models.Endpoint):
        return [ProbeTarget(None, item)]
    state = getattr(item, "state", item)
    endpoints = getattr(state, "endpoints", None)
    ident = getattr(state, "id", None)
    if (
        isinstance(ident, str)
        and isinstance(endpoints, list)
        and all(isinstance(e, models.Endpoint) for e in endpoints)
    ):
        return [ProbeTarget(ident, e) for e in endpoints]
    return None


def probe_targets(targets: Any) -> list[ProbeTarget]:
    """The endpoints of ``targets``, each URL checked, before anything is sent.

    Args:
        targets: a deployment (handle, state or model), an Endpoint, or an iterable of them.

    Returns:
        One target per endpoint, in order.

    Raises:
        ValidationError: something that is not a deployment or an Endpoint (URL text
            included: only URLs the service handed out are probed).
        UnsafeEndpointError: an endpoint URL that is not http(s) or carries credentials.
    """
    single = _endpoints_of(targets)
    if single is not None:
        found = single
    elif isinstance(targets, str | bytes) or not isinstance(targets, Iterable):
        raise ValidationError(
            "probe takes deployments or their Endpoint objects (not URL text); "
            f"got {type(targets).__name__}",
            argument="targets",
        )
    else:
        found = []
        for item in targets:
            these = _endpoints_of(item)
            if these is None:
                raise ValidationError(
                    "probe takes deployments or their Endpoint objects (not URL text); "
                    f"got a {type(item).__name__} among them",
                    argument="targets",
                )
            found.extend(these)
    for target in found:
        checked_url(target.endpoint.url)
    return found


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """Whether a redirect from ``a`` to ``b`` stays on the same scheme, host and port."""
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def failure_kind(error: Exception) -> FailureKind:
    """The failure kind of an exception raised while probing."""
    if isinstance(error, httpx.TimeoutException | DeadlineExceededError | TimeoutError):
        return "timeout"
    if isinstance(error, httpx.ConnectError):
        cause: BaseException | None = error
        while cause is not None:
            if isinstance(cause, ssl.SSLError):
                return "tls_error"
            cause = cause.__cause__ or cause.__context__
        text = str(error)
        return "tls_error" if "SSL" in text or "certificate" in text else "connect_error"
    return "protocol_error"


def probe_request(client: httpx.Client | httpx.AsyncClient, url: httpx.URL) -> httpx.Request:
    """A bare GET of ``url``: no cookie from the client's jar, no credential of any kind."""
    request = client.build_request("GET", url)
    for name in ("cookie", "authorization", "proxy-authorization"):
        request.headers.pop(name, None)
    return request


def probe_client_options(timeout: float) -> dict[str, Any]:
    """What both twins pass to their probe client (``httpx.Client(**options)``)."""
    return {
        "follow_redirects": False,
        "trust_env": False,  # no proxy, no netrc credentials from the environment
        "headers": {
            "User-Agent": PROBE_USER_AGENT,
            "Accept": "*/*",
            "Accept-Encoding": "identity",  # the body is read raw, never inflated
        },
        "timeout": httpx.Timeout(timeout),
    }


def tunnel_url(api_url: str, url: httpx.URL) -> httpx.URL:
    """Where the sandbox answers for ``url``: ``{api}/_sandbox/endpoint/{host}/{path}``."""
    return httpx.URL(f"{api_url.rstrip('/')}/_sandbox/endpoint/{url.host}{url.raw_path.decode()}")


def _tunnelled(api_url: str, request: httpx.Request) -> httpx.Request:
    headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"host"]
    return httpx.Request(request.method, tunnel_url(api_url, request.url), headers=headers)


class SandboxTunnel(httpx.BaseTransport):
    """Sends a request for ``https://<hash>.<frps_domain>/...`` to the sandbox's endpoint route."""

    def __init__(self, api_url: str, inner: httpx.BaseTransport) -> None:
        self._api_url = api_url
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(_tunnelled(self._api_url, request))

    def close(self) -> None:
        self._inner.close()


class AsyncSandboxTunnel(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`SandboxTunnel`."""

    def __init__(self, api_url: str, inner: httpx.AsyncBaseTransport) -> None:
        self._api_url = api_url
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(_tunnelled(self._api_url, request))

    async def aclose(self) -> None:
        await self._inner.aclose()


def _tunnel_pattern(network: NetworkConfig) -> str | None:
    if network.name != "local" or not network.frps_domain:
        return None
    return f"https://*.{network.frps_domain}"


def tunnel_mounts(network: NetworkConfig) -> dict[str, httpx.BaseTransport]:
    """The probe client's mounts: the sandbox tunnel on the local network, none elsewhere.

    Args:
        network: the client's network.

    Returns:
        ``{"https://*.{frps_domain}": SandboxTunnel}`` for ``local``, else ``{}``.
    """
    pattern = _tunnel_pattern(network)
    if pattern is None:
        return {}
    from nosana_nb.core._shared.deadline_transport import own_transport

    return {pattern: SandboxTunnel(network.api_url, own_transport())}


def atunnel_mounts(network: NetworkConfig) -> dict[str, httpx.AsyncBaseTransport]:
    """The asyncio twin of :func:`tunnel_mounts`.

    Args:
        network: the client's network.

    Returns:
        ``{"https://*.{frps_domain}": AsyncSandboxTunnel}`` for ``local``, else ``{}``.
    """
    pattern = _tunnel_pattern(network)
    if pattern is None:
        return {}
    inner = httpx.AsyncHTTPTransport(verify=shared_ssl_context())
    return {pattern: AsyncSandboxTunnel(network.api_url, inner)}
