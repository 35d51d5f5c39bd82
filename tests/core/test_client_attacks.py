"""A hostile or broken server must not hurt the user's kernel (issue 14, client items 1-4).

Each test performs one attack from ``tests/core/hostile.py`` against the real clients (sync and
async) over a local socket and asserts the safe behaviour: a typed error, bounded memory, an
end in bounded time, no secret in any text.
"""

from __future__ import annotations

import pytest

from tests.core import hostile

MODES = ("sync", "async")


@pytest.mark.parametrize("mode", MODES)
async def test_endless_chunked_body_stops_at_the_size_limit(mode: str) -> None:
    outcome = await hostile.flood_body(mode)
    assert outcome.held, (outcome.detail, outcome.figures)


@pytest.mark.parametrize("mode", MODES)
async def test_sse_line_without_newline_stops_at_the_event_limit(mode: str) -> None:
    outcome = await hostile.flood_event_line(mode)
    assert outcome.held, (outcome.detail, outcome.figures)


@pytest.mark.parametrize("mode", MODES)
async def test_trickled_body_ends_at_the_overall_deadline(mode: str) -> None:
    outcome = await hostile.trickle(mode)
    assert outcome.held, (outcome.detail, outcome.figures)


@pytest.mark.parametrize("mode", MODES)
async def test_trickled_headers_end_at_the_overall_deadline(mode: str) -> None:
    outcome = await hostile.trickle_headers(mode)
    assert outcome.held, (outcome.detail, outcome.figures)


@pytest.mark.parametrize("mode", MODES)
async def test_stream_of_pings_only_ends_at_the_idle_limit(mode: str) -> None:
    outcome = await hostile.pings(mode)
    assert outcome.held, (outcome.detail, outcome.figures)


@pytest.mark.parametrize("mode", MODES)
async def test_credentials_in_endpoint_urls_are_refused_without_echo(mode: str) -> None:
    outcome = await hostile.credentials_in_url(mode)
    assert outcome.held, (outcome.detail, outcome.figures)


@pytest.mark.parametrize("mode", MODES)
async def test_special_files_are_refused_as_wallets(mode: str, tmp_path) -> None:
    outcome = await hostile.special_wallet_files(mode, tmp_path)
    assert outcome.held, (outcome.detail, outcome.figures)
