"""SyncHTTP / AsyncHTTP over httpx.MockTransport: retries, error mapping, parsing, SSE, hygiene."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair

from nosana_nb.core import errors as E
from nosana_nb.core.auth import WalletAuth, authorization_header
from nosana_nb.core.http import NOT_GIVEN, AsyncHTTP, NotGiven, SyncHTTP
from nosana_nb.core.wallet import Wallet
from tests.core.manual_time import ManualSleeper

BASE = "https://dm.example"
KEYPAIR = Keypair.from_seed(bytes(range(100, 132)))
WALLET = Wallet.from_keypair(KEYPAIR)
SIGNATURE = authorization_header(WALLET).split(":")[1]

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler that plays back responses/exceptions and records requests."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return httpx.Response(step.status_code, headers=step.headers, content=step.content)
        return step(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def ok(obj: Any = None) -> httpx.Response:
    return httpx.Response(200, json={"ok": True} if obj is None else obj)


def error(status: int, message: str = "x", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": message}, headers=headers)


SLEEPER = ManualSleeper()


def sync_http(script: Script, **kwargs: Any) -> SyncHTTP:
    kwargs.setdefault("backoff_factor", 0)
    kwargs.setdefault("sleeper", SLEEPER)
    return SyncHTTP(BASE, transport=script.transport, **kwargs)


def async_http(script: Script, **kwargs: Any) -> AsyncHTTP:
    kwargs.setdefault("backoff_factor", 0)
    kwargs.setdefault("sleeper", SLEEPER)
    return AsyncHTTP(BASE, transport=script.transport, **kwargs)


@pytest.fixture(autouse=True)
def sleeps() -> list[float]:
    """The retry waits of this test, taken on a manual clock (nothing sleeps)."""
    SLEEPER.sleeps.clear()
    return SLEEPER.sleeps


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_idempotent_methods_are_retried(method: str, status: int, sleeps: list[float]) -> None:
    script = Script(error(status), ok())
    with sync_http(script) as http:
        assert http.request(method, "/deployments", expect="empty") is None
        assert len(script.requests) == 2
        assert http.retries_total == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_post_is_not_retried_when_it_may_have_been_applied(
    status: int, sleeps: list[float]
) -> None:
    script = Script(error(status), ok())
    with sync_http(script) as http:
        with pytest.raises(E.APIStatusError) as info:
            http.request("POST", "/deployments/create", json={"name": "x"})
        assert info.value.status_code == status
        assert len(script.requests) == 1
        assert http.retries_total == 0
    assert sleeps == []


@pytest.mark.parametrize(
    "refusal",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectError("[Errno -2] Name or service not known"),
        httpx.ConnectTimeout("timed out"),
        error(429, "slow down"),
    ],
    ids=["refused", "dns", "connect-timeout", "429"],
)
def test_post_that_never_reached_a_handler_is_resent(refusal: Step, sleeps: list[float]) -> None:
    script = Script(refusal, ok())
    with sync_http(script) as http:
        assert http.request("POST", "/deployments/abc/start") == {"ok": True}
        assert http.retries_total == 1
    assert [r.method for r in script.requests] == ["POST", "POST"]


def test_post_that_never_left_reports_it_when_retries_run_out() -> None:
    script = Script(httpx.ConnectError("refused"))
    with sync_http(script, max_retries=1) as http, pytest.raises(E.APIConnectionError) as info:
        http.request("POST", "/deployments/abc/start")
    assert info.value.request_sent is False
    assert len(script.requests) == 2


def test_get_connection_error_is_retried(sleeps: list[float]) -> None:
    script = Script(httpx.ConnectError("refused"), httpx.RemoteProtocolError("dropped"), ok())
    with sync_http(script) as http:
        assert http.request("GET", "deployments") == {"ok": True}
        assert http.retries_total == 2
    assert len(script.requests) == 3


def test_retry_after_is_honoured(sleeps: list[float]) -> None:
    script = Script(error(429, headers={"Retry-After": "2"}), error(503), ok())
    with SyncHTTP(BASE, transport=script.transport, sleeper=SLEEPER) as http:
        assert http.request("GET", "/deployments") == {"ok": True}
    assert sleeps[0] == 2.0
    # without Retry-After: backoff 0.5 s * 2**2 on the second retry, minus up to 50 % jitter
    assert 1.0 <= sleeps[1] <= 2.0


def test_retries_are_bounded(sleeps: list[float]) -> None:
    script = Script(error(503, "Service Unavailable"))
    with sync_http(script, max_retries=2) as http:
        with pytest.raises(E.InternalServerError):
            http.request("GET", "/deployments")
        assert http.retries_total == 2
    assert len(script.requests) == 3
    zero = Script(error(503))
    with sync_http(zero, max_retries=0) as http, pytest.raises(E.InternalServerError):
        http.request("GET", "/deployments")
    assert len(zero.requests) == 1


def test_retry_counter_accumulates_across_requests(sleeps: list[float]) -> None:
    script = Script(error(502), ok(), error(504), error(504), ok())
    with sync_http(script) as http:
        http.request("GET", "/a")
        http.request("GET", "/b")
        assert http.retries_total == 3


# -- errors, timeouts, parsing -------------------------------------------------------------


def test_timeouts_map_to_api_timeout_error(sleeps: list[float]) -> None:
    script = Script(httpx.ReadTimeout("slow"))
    with sync_http(script, max_retries=1) as http:
        with pytest.raises(E.APITimeoutError) as info:
            http.request("GET", "/deployments")
        assert "timed out" in str(info.value)
        assert isinstance(info.value.__cause__, httpx.ReadTimeout)
        assert len(script.requests) == 2
        with pytest.raises(E.APITimeoutError):
            http.request("POST", "/deployments/create", json={})
        assert len(script.requests) == 3


def test_connect_timeout_is_a_timeout_and_a_connection_error() -> None:
    script = Script(httpx.ConnectTimeout("connect"))
    with sync_http(script, max_retries=0) as http, pytest.raises(E.APIConnectionError) as info:
        http.request("GET", "/")
    assert isinstance(info.value, E.APITimeoutError)
    assert info.value.method == "GET"
    assert info.value.url == f"{BASE}/"


def test_status_errors_are_mapped() -> None:
    script = Script(
        error(404, "Deployment not found."),
        httpx.Response(401, text="Unauthorized"),
        error(500, "Deployment is in the incorrect state."),
    )
    with sync_http(script) as http:
        with pytest.raises(E.DeploymentNotFoundError) as not_found:
            http.request("GET", "/deployments/abc")
        assert not_found.value.url == f"{BASE}/deployments/abc"
        with pytest.raises(E.AuthenticationError):
            http.request("GET", "/deployments")
        with pytest.raises(E.InvalidStateError):
            http.request("POST", "/deployments/abc/stop")


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b"{not json"),
        httpx.Response(200, content=b""),
        httpx.Response(200, content=b"   "),
        httpx.Response(
            200, content=b"<html>proxy page</html>", headers={"content-type": "text/html"}
        ),
    ],
)
def test_bad_success_bodies_raise_response_validation_error(response: httpx.Response) -> None:
    with sync_http(Script(response)) as http, pytest.raises(E.APIResponseValidationError):
        http.request("GET", "/deployments")


def test_expect_empty_and_text() -> None:
    script = Script(httpx.Response(204), httpx.Response(200, text="metrics 1"))
    with sync_http(script) as http:
        assert http.request("DELETE", "/deployments/abc", expect="empty") is None
        assert http.request("GET", "/metrics", expect="text") == "metrics 1"
        with pytest.raises(E.ValidationError):
            http.request("GET", "/", expect="xml")  # type: ignore[arg-type]


def test_bodiless_post_sends_no_json_content_type() -> None:
    script = Script(ok())
    with sync_http(script) as http:
        http.request("POST", "/deployments/abc/start")
        http.request("POST", "/deployments/vaults/v/withdraw", json={})
        http.request("PATCH", "/deployments/abc/update-name", json={"name": "ü"})
    bare, empty_obj, patch = script.requests
    assert "content-type" not in bare.headers
    assert bare.content == b""
    assert empty_obj.headers["content-type"] == "application/json"
    assert json.loads(empty_obj.content) == {}
    assert json.loads(patch.content) == {"name": "ü"}


def test_params_drop_missing_values_and_urls_join() -> None:
    script = Script(ok())
    with sync_http(script) as http:
        http.request("GET", "deployments", params={"limit": "10", "cursor": None, "x": NOT_GIVEN})
        http.request("GET", "https://markets.example/api/markets", params={})
        http.request("GET", "")
    listed, absolute, root = script.requests
    assert str(listed.url) == f"{BASE}/deployments?limit=10"
    assert str(absolute.url) == "https://markets.example/api/markets"
    assert str(root.url) == f"{BASE}"
    assert listed.headers["user-agent"] == "nosana_nb"
    assert http.url("/deployments/x") == f"{BASE}/deployments/x"


def test_base_url_with_path_prefix() -> None:
    script = Script(ok())
    with SyncHTTP("https://gw.example/api/", transport=script.transport) as http:
        http.request("GET", "/deployments")
    assert str(script.requests[0].url) == "https://gw.example/api/deployments"


def test_auth_and_extra_headers_are_sent() -> None:
    script = Script(ok())
    with sync_http(script, auth=WalletAuth(WALLET), headers={"x-nosana-api": "nos_k"}) as http:
        http.request("GET", "/deployments")
    sent = script.requests[0]
    assert sent.headers["x-user-id"] == WALLET.address
    assert sent.headers["authorization"].split(":")[1] == SIGNATURE
    assert sent.headers["x-nosana-api"] == "nos_k"


def test_injected_client_is_used_and_not_closed() -> None:
    script = Script(ok())
    client = httpx.Client(transport=script.transport)
    http = SyncHTTP(BASE, http_client=client, auth=WalletAuth(WALLET))
    assert http.request("GET", "/x") == {"ok": True}
    assert script.requests[0].headers["x-user-id"] == WALLET.address
    http.close()
    assert not client.is_closed
    client.close()


def test_owned_client_is_closed() -> None:
    http = sync_http(Script(ok()))
    http.close()
    with pytest.raises(E.APIConnectionError, match="closed"):
        http.request("GET", "/")
    with pytest.raises(E.APIConnectionError, match="closed"), http.stream_sse("/s"):
        pass


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": True},
        {"max_retries": 1.5},
        {"backoff_factor": float("nan")},
        {"backoff_factor": -1},
        {"auth": "Bearer x"},
        {"timeout": 0},
        {"timeout": float("inf")},
        {"timeout": "30"},
        {"http_client": httpx.Client(), "transport": httpx.MockTransport(lambda r: ok())},
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(E.ValidationError):
        SyncHTTP(BASE, **kwargs)
    client = kwargs.get("http_client")
    if client is not None:
        client.close()


def test_bad_base_url_and_method() -> None:
    with pytest.raises(E.ValidationError):
        SyncHTTP("dm.example")
    with sync_http(Script(ok())) as http, pytest.raises(E.ValidationError, match="method"):
        http.request("TRACE", "/")


def test_not_given_sentinel() -> None:
    assert NotGiven() is NOT_GIVEN
    assert not NOT_GIVEN
    assert repr(NOT_GIVEN) == "NOT_GIVEN"


# -- secret hygiene --------------------------------------------------------------------------


def test_logs_and_errors_never_carry_credentials(
    caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(
        ok(),
        error(503),
        error(401, "Unauthorized"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    )
    texts: list[str] = []
    with sync_http(script, auth=WalletAuth(WALLET), max_retries=1) as http:
        http.request("GET", "/deployments")
        for _ in range(3):
            with pytest.raises(E.APIError) as info:
                http.request("POST", "/deployments/create", json={"name": "n"})
            err = info.value
            texts += [str(err), repr(err), repr(err.args), str(err.__cause__)]
        texts.append(repr(http))
    assert any(
        "GET https://dm.example/deployments -> 200 in" in r.getMessage() for r in caplog.records
    )
    everything = caplog.text + "\n".join(texts)
    secret = bytes(KEYPAIR)
    for form in (
        SIGNATURE,
        str(KEYPAIR),
        json.dumps(list(secret)),
        secret.hex(),
        secret[:32].hex(),
        base64.b64encode(secret).decode(),
        base64.b64encode(secret[:32]).decode(),
    ):
        assert form not in everything
    assert "NosanaApiAuthentication:" not in everything
    assert "authorization" not in everything.lower()


# -- server-sent events -----------------------------------------------------------------------


class Frames(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body made of chunks; an Exception in the list is raised at that point."""

    def __init__(self, *chunks: bytes | Exception) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            if isinstance(chunk, Exception):
                raise chunk
            yield chunk


SNAPSHOT = (
    b'data: {"type":"deployment","status":"RUNNING","replicas":1,"active_revision":1}\n\n',
    b": keep-alive\n\n",
    b'data: {"type":"job","job":"J","state":"QUEUED"',
    b',"node":null,"timeStart":0,"timeEnd":0}\n\n',
    b": keep-alive\n\n",
)


def sse(*chunks: bytes | Exception, status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers={"content-type": "text/event-stream"}, stream=Frames(*chunks)
        )

    return respond


def test_sse_yields_data_and_skips_comments() -> None:
    script = Script(sse(*SNAPSHOT))
    with (
        sync_http(script, auth=WalletAuth(WALLET)) as http,
        http.stream_sse("/deployments/D/stream", read_timeout=7.5) as messages,
    ):
        data = [json.loads(item) for item in messages]
    assert [item["type"] for item in data] == ["deployment", "job"]
    assert data[1]["node"] is None
    request = script.requests[0]
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["x-user-id"] == WALLET.address
    assert request.extensions["timeout"]["read"] == 7.5


def test_sse_stall_raises_stream_error() -> None:
    script = Script(sse(SNAPSHOT[0], b": keep-alive\n\n", httpx.ReadTimeout("stalled")))
    received: list[str] = []
    with (
        sync_http(script) as http,
        http.stream_sse("/s", read_timeout=0.5) as messages,
        pytest.raises(E.StreamError, match=r"stalled: no data for 0\.5 s"),
    ):
        for item in messages:
            received.append(item)
    assert len(received) == 1


def test_sse_dropped_connection_raises_stream_error() -> None:
    script = Script(sse(SNAPSHOT[0], httpx.RemoteProtocolError("peer closed")))
    with (
        sync_http(script) as http,
        http.stream_sse("/s") as messages,
        pytest.raises(E.StreamError, match="broke"),
    ):
        list(messages)


def test_sse_error_status_is_mapped() -> None:
    not_found = Script(error(404, "Deployment not found."))
    with (
        sync_http(not_found) as http,
        pytest.raises(E.DeploymentNotFoundError),
        http.stream_sse("/deployments/D/stream"),
    ):
        pass
    wrong_type = Script(ok())
    with (
        sync_http(wrong_type) as http,
        pytest.raises(E.StreamError, match="event stream"),
        http.stream_sse("/deployments/D/stream"),
    ):
        pass


def test_sse_connection_failure_is_mapped() -> None:
    script = Script(httpx.ConnectError("refused"))
    with (
        sync_http(script, max_retries=0) as http,
        pytest.raises(E.APIConnectionError),
        http.stream_sse("/s"),
    ):
        pass


def test_sse_rejects_bad_read_timeout() -> None:
    with sync_http(Script(ok())) as http:
        for bad in (0, -1, float("inf"), True, "5"):
            with pytest.raises(E.ValidationError), http.stream_sse("/s", read_timeout=bad):  # type: ignore[arg-type]
                pass


def test_sse_without_read_timeout_or_idle_limit() -> None:
    script = Script(sse(*SNAPSHOT))
    with (
        sync_http(script) as http,
        http.stream_sse("/s", read_timeout=None, idle_timeout=None) as messages,
    ):
        assert len(list(messages)) == 2
    assert script.requests[0].extensions["timeout"]["read"] is None


def test_sse_read_gap_never_outlasts_the_idle_limit() -> None:
    # a silent server must not outlive the idle limit by waiting out a longer read timeout
    script = Script(sse(*SNAPSHOT), sse(*SNAPSHOT))
    with sync_http(script) as http:
        with http.stream_sse("/s", read_timeout=None, idle_timeout=7.0) as messages:
            list(messages)
        with http.stream_sse("/s", read_timeout=5.0, idle_timeout=7.0) as messages:
            list(messages)
    assert [r.extensions["timeout"]["read"] for r in script.requests] == [7.0, 5.0]


# -- async twin ------------------------------------------------------------------------------


async def test_async_retries_and_post_not_retried(sleeps: list[float]) -> None:
    script = Script(error(503), ok(), error(503))
    async with async_http(script) as http:
        assert await http.request("GET", "/deployments") == {"ok": True}
        assert http.retries_total == 1
        with pytest.raises(E.InternalServerError):
            await http.request("POST", "/deployments/create", json={})
    assert [r.method for r in script.requests] == ["GET", "GET", "POST"]


async def test_async_retry_after(sleeps: list[float]) -> None:
    script = Script(error(429, headers={"Retry-After": "1"}), ok())
    async with AsyncHTTP(BASE, transport=script.transport, sleeper=SLEEPER) as http:
        await http.request("GET", "/x")
    assert sleeps == [1.0]


async def test_async_errors() -> None:
    script = Script(
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.Response(200, content=b"nope"),
        error(500, "Vault has no funds to withdraw."),
    )
    async with async_http(script, max_retries=0) as http:
        with pytest.raises(E.APIConnectionError):
            await http.request("GET", "/a")
        with pytest.raises(E.APITimeoutError):
            await http.request("GET", "/a")
        with pytest.raises(E.APIResponseValidationError):
            await http.request("GET", "/a")
        with pytest.raises(E.VaultEmptyError):
            await http.request("POST", "/deployments/vaults/v/withdraw", json={})


async def test_async_auth_and_injected_client() -> None:
    script = Script(ok())
    client = httpx.AsyncClient(transport=script.transport)
    http = AsyncHTTP(BASE, http_client=client, auth=WalletAuth(WALLET))
    await http.request("GET", "/x", params={"a": None})
    await http.aclose()
    assert not client.is_closed
    await client.aclose()
    assert script.requests[0].headers["x-user-id"] == WALLET.address
    assert str(script.requests[0].url) == f"{BASE}/x"


async def test_async_sse_and_stall() -> None:
    script = Script(sse(*SNAPSHOT), sse(SNAPSHOT[0], httpx.ReadTimeout("stall")))
    async with async_http(script) as http:
        async with http.stream_sse("/deployments/D/stream", read_timeout=3) as messages:
            data = [json.loads(item) async for item in messages]
        assert [item["type"] for item in data] == ["deployment", "job"]
        assert script.requests[0].extensions["timeout"]["read"] == 3
        got: list[str] = []
        async with http.stream_sse("/deployments/D/stream", read_timeout=1) as messages:
            with pytest.raises(E.StreamError, match="stalled"):
                async for item in messages:
                    got.append(item)
        assert len(got) == 1


async def test_async_sse_break_early_and_errors() -> None:
    script = Script(sse(*SNAPSHOT), error(404, "Deployment not found."), ok())
    async with async_http(script) as http:
        async with http.stream_sse("/s") as messages:
            async for _ in messages:
                break
        with pytest.raises(E.DeploymentNotFoundError):
            async with http.stream_sse("/s"):
                pass
        with pytest.raises(E.StreamError):
            async with http.stream_sse("/s"):
                pass


# -- whole-exchange retries: a drop mid-body, a generic 500 -----------------------------------

DROP = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
IDEMPOTENT = ["GET", "PUT", "PATCH", "DELETE"]


def dropped_mid_body(status: int = 200) -> Callable[[httpx.Request], httpx.Response]:
    """Headers arrive, then the connection breaks while the body is read (the sandbox's drop)."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers={"content-type": "application/json"}, stream=Frames(b'{"ok": tr', DROP)
        )

    return respond


def generic_500s() -> list[httpx.Response]:
    """500s that name no specific failure: framework, service catch-alls, a proxy, no body."""
    return [
        error(500, "Internal Server Error"),
        error(500, "Ops something went wrong, please again."),
        error(500, "Internal server error."),
        httpx.Response(500, json={}),
        httpx.Response(500, text="internal server error"),
        httpx.Response(500),
    ]


@pytest.mark.parametrize("method", IDEMPOTENT)
def test_body_read_failure_is_retried(method: str, sleeps: list[float]) -> None:
    script = Script(dropped_mid_body(), ok())
    with sync_http(script) as http:
        assert http.request(method, "/deployments/abc") == {"ok": True}
        assert http.retries_total == 1
    assert len(script.requests) == 2


def test_body_read_timeout_is_retried(sleeps: list[float]) -> None:
    slow_body = httpx.Response(200, stream=Frames(b"{", httpx.ReadTimeout("body stalled")))
    script = Script(lambda request: slow_body, ok())
    with sync_http(script) as http:
        assert http.request("GET", "/deployments") == {"ok": True}
        assert http.retries_total == 1


@pytest.mark.parametrize("reply", generic_500s(), ids=lambda r: r.text or "no body")
def test_generic_500_is_retried(reply: httpx.Response, sleeps: list[float]) -> None:
    script = Script(reply, reply, ok())
    with sync_http(script) as http:
        assert http.request("GET", "/deployments/abc") == {"ok": True}
        assert http.retries_total == 2
    assert len(script.requests) == 3


def test_generic_500_waits_like_any_retry(sleeps: list[float]) -> None:
    generic = "Internal Server Error"
    script = Script(error(500, generic, headers={"Retry-After": "3"}), error(500, generic), ok())
    with SyncHTTP(BASE, transport=script.transport, sleeper=SLEEPER) as http:
        assert http.request("PATCH", "/deployments/abc/update-name", json={"name": "n"})
    assert sleeps[0] == 3.0
    assert 1.0 <= sleeps[1] <= 2.0  # 0.5 s * 2**2 minus up to 50 % jitter, as for a 503


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Deployment is in the incorrect state.", E.InvalidStateError),
        ("Cannot modify an archived deployment.", E.ArchivedDeploymentError),
        ("Vault has no funds to withdraw.", E.VaultEmptyError),
        # the list endpoints' own texts: a bad cursor fails the same way every time
        ("Failed to get deployment jobs", E.InternalServerError),
        ("Failed to get deployment revisions", E.InternalServerError),
        ("Job revision not found", E.InternalServerError),
        ("Authorization has expired.", E.InternalServerError),
    ],
)
@pytest.mark.parametrize("method", IDEMPOTENT)
def test_definite_500_is_not_retried(
    method: str, message: str, expected: type[E.APIStatusError], sleeps: list[float]
) -> None:
    script = Script(error(500, message), ok())
    with sync_http(script) as http:
        with pytest.raises(expected) as info:
            http.request(method, "/deployments/abc/jobs")
        assert type(info.value) is expected
        assert info.value.error_text == message
        assert http.retries_total == 0
    assert len(script.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 404, 409, 501])
def test_other_statuses_are_not_retried(status: int, sleeps: list[float]) -> None:
    script = Script(httpx.Response(status, json={"error": "Internal Server Error"}), ok())
    with sync_http(script) as http, pytest.raises(E.APIStatusError):
        http.request("GET", "/deployments")
    assert len(script.requests) == 1


@pytest.mark.parametrize("step", [dropped_mid_body(), error(500, "Internal Server Error")])
def test_post_is_sent_once_whatever_the_fault(step: Step, sleeps: list[float]) -> None:
    script = Script(step, ok())
    with sync_http(script) as http:
        with pytest.raises((E.APIConnectionError, E.InternalServerError)):
            http.request("POST", "/deployments/create", json={"name": "x"})
        assert http.retries_total == 0
    assert len(script.requests) == 1
    assert sleeps == []


def test_post_mid_body_drop_is_a_connection_error() -> None:
    script = Script(dropped_mid_body(), ok())
    with sync_http(script) as http, pytest.raises(E.APIConnectionError) as info:
        http.request("POST", "/deployments/abc/stop")
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (dropped_mid_body(), E.APIConnectionError),
        (error(500, "Internal Server Error"), E.InternalServerError),
        (dropped_mid_body(status=500), E.APIConnectionError),
    ],
)
def test_whole_exchange_retries_share_the_budget(
    step: Step, expected: type[E.APIError], sleeps: list[float]
) -> None:
    script = Script(step)
    with sync_http(script, max_retries=2) as http:
        with pytest.raises(expected):
            http.request("GET", "/deployments")
        assert http.retries_total == 2
    assert len(script.requests) == 3  # max_retries + 1 attempts, then the typed error


def test_mixed_faults_share_one_budget(sleeps: list[float]) -> None:
    script = Script(
        error(503), dropped_mid_body(), error(500, "Internal Server Error"), httpx.ConnectError("x")
    )
    with sync_http(script, max_retries=3) as http, pytest.raises(E.APIConnectionError):
        http.request("GET", "/deployments")
    assert len(script.requests) == 4


def test_no_retries_means_one_attempt() -> None:
    for step in (dropped_mid_body(), error(500, "Internal Server Error")):
        script = Script(step, ok())
        with sync_http(script, max_retries=0) as http, pytest.raises(E.APIError):
            http.request("GET", "/deployments")
        assert len(script.requests) == 1


def test_sse_generic_500_is_retried_and_the_stream_is_not_buffered(sleeps: list[float]) -> None:
    # The stream ends in a stall: buffering it inside the retry loop would retry it instead.
    script = Script(error(500, "Internal Server Error"), sse(SNAPSHOT[0], httpx.ReadTimeout("x")))
    with sync_http(script) as http:
        with http.stream_sse("/s") as messages, pytest.raises(E.StreamError, match="stalled"):
            assert json.loads(next(messages))["type"] == "deployment"
            next(messages)
        assert http.retries_total == 1
    assert len(script.requests) == 2


async def test_async_body_read_failure_is_retried(sleeps: list[float]) -> None:
    script = Script(dropped_mid_body(), error(500, "Internal Server Error"), ok())
    async with async_http(script) as http:
        assert await http.request("PATCH", "/deployments/abc/update-timeout", json={}) == {
            "ok": True
        }
        assert http.retries_total == 2
    assert len(script.requests) == 3


async def test_async_definite_answers_and_post_are_not_retried(sleeps: list[float]) -> None:
    script = Script(
        error(500, "Deployment is in the incorrect state."),
        error(500, "Failed to get deployment jobs"),
        dropped_mid_body(),
        ok(),
    )
    async with async_http(script) as http:
        with pytest.raises(E.InvalidStateError):
            await http.request("GET", "/deployments/abc")
        with pytest.raises(E.InternalServerError):
            await http.request("GET", "/deployments/abc/jobs")
        with pytest.raises(E.APIConnectionError):
            await http.request("POST", "/deployments/abc/start")
        assert http.retries_total == 0
    assert len(script.requests) == 3


async def test_async_budget_is_respected(sleeps: list[float]) -> None:
    script = Script(dropped_mid_body())
    async with async_http(script, max_retries=2) as http:
        with pytest.raises(E.APIConnectionError):
            await http.request("GET", "/deployments")
        assert http.retries_total == 2
    assert len(script.requests) == 3


def _ssl_context_of(client: httpx.Client | httpx.AsyncClient) -> Any:
    return client._transport._pool._ssl_context  # type: ignore[union-attr]


def test_every_httpx_client_of_a_client_shares_one_tls_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # loading the CA bundle costs tens of ms a time, and a client opens five httpx clients
    from nosana_nb.core import NosanaClient
    from nosana_nb.core._shared.tls import shared_ssl_context

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    client = NosanaClient("devnet", WALLET, env={})
    twin = client.to_async()
    try:
        owned = [client._dm, client._public, client._pin, client._credits_http, client.rpc]
        owned += [twin._dm, twin._public, twin._pin, twin._credits_http, twin.rpc]
        contexts = {id(_ssl_context_of(shell._client)) for shell in owned}
        assert contexts == {id(shared_ssl_context())}
        assert shared_ssl_context().verify_mode.name == "CERT_REQUIRED"
        assert shared_ssl_context().check_hostname
    finally:
        client.close()
        asyncio.run(twin.aclose())


def test_the_shared_tls_context_follows_ssl_cert_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import certifi

    from nosana_nb.core._shared.tls import shared_ssl_context

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    default = shared_ssl_context()
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    from_file = shared_ssl_context()
    assert from_file is not default
    assert shared_ssl_context() is from_file
    monkeypatch.delenv("SSL_CERT_FILE")
    assert shared_ssl_context() is default
