"""The client's limits one by one: the SSE parser, the deadline, the options, URLs, key files.

The attacks themselves are in test_client_attacks.py; these pin the pieces they rely on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpcore
import httpx
import pytest

from nosana_nb.core import errors as E
from nosana_nb.core import retry_policy as policy
from nosana_nb.core._shared import deadline_transport
from nosana_nb.core._shared.http import BodyReader, EventReader
from nosana_nb.core._shared.sse import SSEParser
from nosana_nb.core.client import NosanaClient
from nosana_nb.core.config import resolve_network
from nosana_nb.core.options import ClientOptions
from nosana_nb.core.retry_policy import Backoff, Deadline, Retrier
from nosana_nb.core.wallet import MAX_KEY_FILE_BYTES, Wallet

# -- the SSE parser -------------------------------------------------------------------------------


def feed_all(parser: SSEParser, *chunks: bytes) -> list[str]:
    return [data for chunk in chunks for data in parser.feed(chunk)]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_sse_events_end_at_a_blank_line_whatever_the_line_ending(newline: bytes) -> None:
    text = newline.join([b": ping", b"", b"data: one", b"data: two", b"", b"data:three", b""])
    assert feed_all(SSEParser(1000), text + newline) == ["one\ntwo", "three"]


def test_sse_chunks_split_anywhere_give_the_same_events() -> None:
    text = b'\xef\xbb\xbfdata: {"a": 1}\r\n\r\nevent: x\r\nid: 7\r\ndata: \xc3\xa9\r\n\r\n'
    whole = feed_all(SSEParser(1000), text)
    assert whole == ['{"a": 1}', "é"]
    for size in (1, 2, 3, 5):
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        assert feed_all(SSEParser(1000), *pieces) == whole, size


def test_sse_a_cr_then_lf_in_the_next_chunk_is_one_line_end() -> None:
    assert feed_all(SSEParser(100), b"data: a\r", b"\n", b"\r", b"\n") == ["a"]


def test_sse_comments_and_empty_data_dispatch_nothing() -> None:
    assert feed_all(SSEParser(100), b": ping\n\ndata:\n\nretry: 5\n\n") == []


def test_sse_an_unended_line_is_refused_past_the_limit() -> None:
    parser = SSEParser(11)
    assert parser.feed(b"data: 12345") == []  # the unended line holds 11 bytes
    with pytest.raises(E.ResponseTooLargeError, match=r"\(16 held\)") as caught:
        parser.feed(b"67890")
    assert caught.value.limit == 11


def test_sse_an_event_of_many_lines_is_refused_past_the_limit() -> None:
    parser = SSEParser(10)
    parser.feed(b"data: 1234\n")  # 5 bytes of data (with its newline)
    parser.feed(b"data: 123\n")  # 9
    with pytest.raises(E.ResponseTooLargeError):
        parser.feed(b"data: 12\n")


def test_sse_an_event_exactly_at_the_limit_passes() -> None:
    assert SSEParser(5).feed(b"data: 1234\n\n") == ["1234"]


def test_event_reader_counts_events_not_heartbeats_as_activity() -> None:
    now = [0.0]
    reader = EventReader("u", max_event_bytes=100, idle_timeout=5.0, clock=lambda: now[0])
    now[0] = 4.0
    assert reader.feed(b"data: x\n\n") == ["x"]
    now[0] = 8.9
    assert reader.feed(b": ping\n\n") == []
    now[0] = 9.1
    with pytest.raises(E.StreamIdleError) as caught:
        reader.feed(b": ping\n\n")
    assert caught.value.idle_timeout == 5.0
    assert policy.reconnectable(caught.value)  # the watcher reopens the stream


def test_event_reader_maps_an_oversized_event_to_the_typed_error() -> None:
    reader = EventReader("u", max_event_bytes=4, idle_timeout=None)
    with pytest.raises(E.ResponseTooLargeError) as caught:
        reader.feed(b"data: 12345")
    assert caught.value.limit == 4
    assert isinstance(caught.value, E.APIResponseValidationError)


# -- body size ------------------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_refused_before_reading() -> None:
    reader = BodyReader("GET", "u", limit=10, deadline=Deadline(None))
    reader.start(httpx.Response(200, headers={"content-length": "10"}))
    with pytest.raises(E.ResponseTooLargeError):
        reader.start(httpx.Response(200, headers={"content-length": "11"}))


def test_a_body_exactly_at_the_limit_passes_one_byte_more_does_not() -> None:
    reader = BodyReader("GET", "u", limit=10, deadline=Deadline(None))
    reader.add(b"12345")
    reader.add(b"67890")
    streamed = httpx.Response(200, request=httpx.Request("GET", "http://x"))
    assert reader.response(streamed).content == b"1234567890"
    with pytest.raises(E.ResponseTooLargeError):
        reader.add(b"x")


def test_a_large_reply_is_not_retried() -> None:
    error = E.ResponseTooLargeError("big", method="GET", url="u", limit=1)
    assert policy.classify(error) is policy.Verdict.FINAL


# -- the deadline ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_deadline_counts_down_and_clamps_each_timeout() -> None:
    clock = Clock()
    deadline = Deadline(10.0, clock=clock)
    clock.now += 7.5
    assert deadline.remaining() == 2.5
    clamped = deadline.clamp(httpx.Timeout(30.0, connect=1.0))
    assert (clamped.connect, clamped.read, clamped.write, clamped.pool) == (1.0, 2.5, 2.5, 2.5)
    deadline.check("GET", "u")
    clock.now += 2.5
    assert deadline.expired()
    with pytest.raises(E.DeadlineExceededError) as caught:
        deadline.check("GET", "u")
    assert caught.value.deadline == 10.0
    assert isinstance(caught.value, E.APITimeoutError)


def test_no_deadline_never_expires_nor_clamps() -> None:
    deadline = Deadline(None)
    timeout = httpx.Timeout(None)
    assert deadline.remaining() is None
    assert deadline.clamp(timeout) is timeout
    assert not deadline.expired()
    assert deadline.allows(1e9)


def test_the_retrier_makes_no_retry_whose_wait_would_reach_the_deadline() -> None:
    clock = Clock()
    deadline = Deadline(1.0, clock=clock)
    backoff = Backoff(max_retries=5, factor=0.25, jitter=0.0)  # waits 0.5, 1.0, ...
    retrier = Retrier(backoff, deadline=deadline)
    failure = E.APIConnectionError("x", method="GET", url="u", request_sent=False)
    assert retrier.next_wait(failure) == 0.5
    clock.now += 0.5
    assert retrier.next_wait(failure) is None  # 1.0 s more would pass the deadline
    assert retrier.retries == 1


def test_each_socket_operation_gets_only_the_time_the_request_has_left() -> None:
    """The sync transport's backend: reads and writes shortened to the deadline, refused past
    it, untouched outside a request (the trickled-headers attack is in test_client_attacks)."""
    clock = Clock()
    deadline = Deadline(2.0, clock=clock)
    assert deadline_transport._bounded(30.0, httpcore.ReadTimeout) == 30.0  # no request running
    with deadline_transport.deadline_for_this_thread(deadline):
        assert deadline_transport._bounded(30.0, httpcore.ReadTimeout) == 2.0
        assert deadline_transport._bounded(None, httpcore.WriteTimeout) == 2.0
        assert deadline_transport._bounded(0.5, httpcore.ReadTimeout) == 0.5
        clock.now += 2.0
        with pytest.raises(httpcore.ReadTimeout, match="deadline"):
            deadline_transport._bounded(30.0, httpcore.ReadTimeout)
    assert deadline_transport._bounded(30.0, httpcore.ReadTimeout) == 30.0  # reset after


def test_only_a_client_the_shell_makes_itself_gets_the_deadline_transport() -> None:
    with NosanaClient("local", None, env={}) as own:
        assert isinstance(own._dm._client._transport, deadline_transport.DeadlineTransport)
    injected = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    with NosanaClient("local", None, env={}, transport=injected) as theirs:
        assert theirs._dm._client._transport is injected


def test_the_default_deadline_is_derived_from_the_longest_timeout() -> None:
    assert policy.derive_deadline(httpx.Timeout(30.0, connect=10.0)) == 120.0
    assert policy.derive_deadline(httpx.Timeout(None, read=5.0)) == 20.0
    assert policy.derive_deadline(httpx.Timeout(None)) is None


# -- the options ----------------------------------------------------------------------------------


def test_client_options_carry_the_limits_and_re_derive_the_deadline() -> None:
    options = ClientOptions.resolve("local", env={})
    assert options.max_response_bytes == policy.DEFAULT_MAX_RESPONSE_BYTES == 64 * 2**20
    assert options.stream_idle_timeout == policy.DEFAULT_STREAM_IDLE_TIMEOUT
    assert options.deadline == "auto"
    assert options.request_deadline == 120.0
    assert options.replace(timeout=5.0).request_deadline == 20.0
    assert options.replace(deadline=3).request_deadline == 3.0
    assert options.replace(deadline=None).request_deadline is None


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("max_response_bytes", 0),
        ("max_response_bytes", 1.5),
        ("max_response_bytes", True),
        ("deadline", 0),
        ("deadline", float("inf")),
        ("deadline", "soon"),
        ("stream_idle_timeout", -1),
        ("stream_idle_timeout", True),
    ],
)
def test_bad_limits_are_refused_naming_the_option(name: str, bad: object) -> None:
    with pytest.raises(E.ValidationError) as caught:
        NosanaClient("local", env={}, **{name: bad})  # type: ignore[arg-type]
    assert name in caught.value.argument  # type: ignore[operator]


def test_the_client_wires_its_limits_into_every_shell() -> None:
    with NosanaClient(
        "local",
        Wallet.generate(),
        env={},
        max_response_bytes=1000,
        deadline=2.0,
        stream_idle_timeout=9.0,
    ) as client:
        for shell in (client._dm, client._public, client._pin, client.rpc):
            assert shell.max_response_bytes == 1000
            assert shell.deadline == 2.0
        assert client._dm.stream_idle_timeout == 9.0


# -- credentials in URLs --------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["api_url", "rpc_url", "markets_url", "ipfs_gateway"])
def test_credentials_in_any_endpoint_are_refused_naming_the_field(field: str) -> None:
    with pytest.raises(E.ConfigError) as caught:
        resolve_network("devnet", env={}, **{field: "https://bob:pa55w0rd@example.com/x"})
    assert field in str(caught.value)
    assert "pa55w0rd" not in str(caught.value)
    assert "bob" not in str(caught.value)


def test_an_at_sign_outside_the_host_part_is_not_a_credential() -> None:
    network = resolve_network("devnet", env={}, api_url="https://example.com/a@b?c=d@e")
    assert network.api_url == "https://example.com/a@b?c=d@e"


# -- key files ------------------------------------------------------------------------------------


def key_file(folder: Path, wallet: Wallet, *, indent: int | None = None) -> Path:
    path = folder / "id.json"
    secret = list(bytes(wallet.keypair_for_signing()))
    path.write_text(json.dumps(secret, indent=indent))
    return path


def test_a_pretty_printed_key_file_still_loads(tmp_path: Path) -> None:
    wallet = Wallet.generate()
    path = key_file(tmp_path, wallet, indent=4)
    assert path.stat().st_size <= MAX_KEY_FILE_BYTES
    assert Wallet.load(str(path)) == wallet


def test_a_link_to_a_key_file_loads_and_a_bad_one_names_its_target(tmp_path: Path) -> None:
    wallet = Wallet.generate()
    real = key_file(tmp_path, wallet)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert Wallet.load(link) == wallet
    real.write_bytes(b" " * (MAX_KEY_FILE_BYTES + 1))
    with pytest.raises(E.WalletError) as caught:
        Wallet.load(link)
    assert f"a link to {os.path.realpath(real)}" in str(caught.value)
    assert f"{MAX_KEY_FILE_BYTES + 1} bytes" in str(caught.value)


def test_a_key_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    wallet = Wallet.generate()
    path = key_file(tmp_path, wallet)
    text = path.read_text()
    path.write_text(text + " " * (MAX_KEY_FILE_BYTES - len(text)))
    assert Wallet.load(path) == wallet


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(E.WalletError, match="a directory"):
        Wallet.from_path(tmp_path)
