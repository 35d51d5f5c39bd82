# generated from _async/endpoints.py by scripts/unasync.py — do not edit
"""``client.endpoints`` of the sync client (probes run on a pool of threads).

Generated from ``_async/endpoints.py`` (the single source of both twins): edit that module, then
run ``.venv/bin/python scripts/unasync.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from nosana_nb.core import routes
from nosana_nb.core._shared.bulk import gather_bounded
from nosana_nb.core._shared.deadline_transport import own_transport
from nosana_nb.core._shared.deployments import _FrozenClockGuard
from nosana_nb.core._shared.endpoints import (
    DEFAULT_PROBE_CONCURRENCY,
    DEFAULT_PROBE_MAX_BYTES,
    DEFAULT_PROBE_TIMEOUT_S,
    MAX_SAME_ORIGIN_REDIRECTS,
    EndpointProbe,
    EndpointReadiness,
    FailureKind,
    ProbeOptions,
    ProbeTarget,
    check_probe_options,
    check_wait_options,
    checked_url,
    display_url,
    failure_kind,
    probe_client_options,
    probe_request,
    probe_targets,
    safe_url_text,
    same_origin,
    tunnel_mounts,
)
from nosana_nb.core._shared.http import within_deadline
from nosana_nb.core.errors import DeadlineExceededError, ValidationError, WaitTimeoutError
from nosana_nb.core.retry_policy import Deadline

if TYPE_CHECKING:
    from nosana_nb.core._sync.deployments import Deployment, SyncServices


class Endpoints:
    """Readiness probes of deployments' endpoints (``client.endpoints``).

    Args:
        services: what the client's resources share (its network, clock and wallet).
    """

    def __init__(self, services: SyncServices) -> None:
        self._services = services

    def probe(
        self,
        targets: Any,
        *,
        timeout: float = DEFAULT_PROBE_TIMEOUT_S,
        max_concurrency: int = DEFAULT_PROBE_CONCURRENCY,
        max_bytes: int = DEFAULT_PROBE_MAX_BYTES,
    ) -> list[EndpointProbe]:
        """GET every endpoint URL of ``targets`` at once (at most ``max_concurrency`` at a time).

        Args:
            targets: a deployment (handle or state), an Endpoint, or an iterable of them.
            timeout: seconds one probe may take in all, headers and body.
            max_concurrency: probes in flight at once (1 to 64).
            max_bytes: body bytes read at most per answer; the rest is never downloaded.

        Returns:
            One result per endpoint, in the order of ``targets``.

        Raises:
            ValidationError: bad arguments, or targets that are not deployments or Endpoints.
            UnsafeEndpointError: an endpoint URL that is not http(s) or carries credentials.
        """
        options = check_probe_options(timeout, max_concurrency, max_bytes)
        found = probe_targets(targets)
        if not found:
            return []
        if self._services.clock.frozen:  # moved by hand since the last reply? ask it
            self._services.dm.request("GET", "/health", expect="text")
        network = self._services.network
        with httpx.Client(
            transport=own_transport(),
            mounts=tunnel_mounts(network),
            **probe_client_options(options.timeout),
        ) as client:
            calls = [partial(self._probe_one, client, target, options) for target in found]
            return gather_bounded(options.max_concurrency, calls)

    def _probe_one(
        self, client: httpx.Client, target: ProbeTarget, options: ProbeOptions
    ) -> EndpointProbe:
        url = checked_url(target.endpoint.url)
        probed_at = self._services.service_now()
        started = self._services.monotonic()
        latency: float | None = None
        status: int | None = None
        failure: FailureKind | None = None
        detail: str | None = None
        try:
            with within_deadline(Deadline(options.timeout), "GET", safe_url_text(url)):
                for _hop in range(MAX_SAME_ORIGIN_REDIRECTS + 1):
                    response = client.send(probe_request(client, url), stream=True)
                    try:
                        status = response.status_code
                        latency = (self._services.monotonic() - started) * 1000
                        if _read_capped(response, options.max_bytes):
                            detail = f"body cut at {options.max_bytes} bytes"
                    finally:
                        response.close()
                    location = response.headers.get("location") if response.is_redirect else None
                    if location is None:
                        break
                    following = url.join(location)
                    if not same_origin(url, following):
                        detail = "redirect to another host, not followed"
                        break
                    url = following
                else:
                    detail = f"more than {MAX_SAME_ORIGIN_REDIRECTS} redirects, not followed"
        except (httpx.HTTPError, DeadlineExceededError, TimeoutError) as error:
            kind = failure_kind(error)
            if status is None:
                failure = kind
            else:  # an answer came: its status stands, the rest of the exchange failed
                detail = f"{kind.replace('_', ' ')} after the {status} answer"
        if latency is None:
            latency = (self._services.monotonic() - started) * 1000
        return EndpointProbe(
            deployment=target.deployment,
            op=target.endpoint.op_id,
            port=target.endpoint.port,
            url=display_url(target.endpoint.url),
            status=status,
            failure=failure,
            ready=status is not None and 200 <= status < 400,
            latency_ms=round(latency, 1),
            probed_at=probed_at,
            detail=detail,
        )

    def wait_until_ready(
        self,
        deployment: Deployment,
        *,
        timeout: float = 900.0,
        poll_interval: float = 5.0,
        probe_timeout: float = DEFAULT_PROBE_TIMEOUT_S,
    ) -> EndpointReadiness:
        """Probe until every endpoint of ``deployment`` answers 2xx/3xx; say how long it took.

        Args:
            deployment: the deployment handle (refreshed on every round).
            timeout: seconds of this process's time to wait at most.
            poll_interval: seconds between rounds of probes.
            probe_timeout: seconds one probe may take.

        Returns:
            The first all-ready round and the time from the earliest running job's start to it
            (on the service's clock; late by at most one poll interval).

        Raises:
            ValidationError: bad arguments, or a deployment that exposes no endpoint.
            WaitTimeoutError: not ready after ``timeout`` seconds (the last probes named), or at
                once when a frozen sandbox clock means nothing can change.
        """
        from nosana_nb.core._sync.deployments import Deployment

        if not isinstance(deployment, Deployment):
            raise ValidationError(
                f"wait_until_ready takes a deployment handle; got {type(deployment).__name__}",
                argument="deployment",
            )
        timeout, poll_interval = check_wait_options(timeout, poll_interval)
        check_probe_options(probe_timeout, DEFAULT_PROBE_CONCURRENCY, DEFAULT_PROBE_MAX_BYTES)
        clock, sleep = self._services.monotonic, self._services.sleep
        ends = clock() + timeout
        frozen = _FrozenClockGuard(self._services.clock, clock)
        while True:
            state = deployment.refresh()
            if not state.endpoints:
                raise ValidationError(
                    f"deployment {deployment.id} exposes no endpoint (no op with expose)",
                    argument="deployment",
                )
            probes = self.probe(deployment, timeout=probe_timeout)
            if all(p.ready for p in probes):
                started = self._earliest_running_start(deployment)
                if started is not None:
                    ready_at = min(p.probed_at for p in probes)
                    return EndpointReadiness(
                        deployment=deployment.id,
                        job_started_at=started,
                        ready_at=ready_at,
                        time_to_ready=max(ready_at - started, timedelta(0)),
                        probes=tuple(probes),
                    )
            seen = ", ".join(f"{p.op}:{p.port} {p.summary}" for p in probes)
            what = f"deployment {deployment.id}'s endpoints are not all ready ({seen})"
            remaining = ends - clock()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"{what} after {timeout:g} s", status=str(state.status), wanted=("READY",)
                )
            if frozen.stuck(tuple((p.state, p.status, p.failure) for p in probes)):
                raise WaitTimeoutError(
                    frozen.message(what), status=str(state.status), wanted=("READY",)
                )
            sleep(min(frozen.interval(poll_interval), remaining))

    def _earliest_running_start(self, deployment: Deployment) -> datetime | None:
        route = routes.list_jobs(deployment.id, state="RUNNING", limit=100)
        jobs = self._services.send(route).items
        revision = deployment.active_revision
        starts = [j.started_at for j in jobs if j.revision == revision and j.started_at]
        return min(starts) if starts else None

    def __repr__(self) -> str:
        return f"Endpoints(network={self._services.network.name!r})"


def _read_capped(response: httpx.Response, max_bytes: int) -> bool:
    """Read at most ``max_bytes`` of the raw body (never decompressed); True when cut."""
    read = 0
    try:
        for chunk in response.iter_raw():
            read += len(chunk)
            if read > max_bytes:
                return True
    except httpx.StreamConsumed:  # a transport (a test's recorder) read the body already
        return len(response.content) > max_bytes
    return False
