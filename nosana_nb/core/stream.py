"""Typed messages from a deployment's SSE stream (a snapshot, then every change).

The HTTP layer yields the ``data`` field of each frame; this module turns it into a message
model. A frame that is not a JSON object with a string ``type`` is garbage: we raise
``StreamError`` rather than skip it, because a stream that sends garbage is broken and a live
view silently missing updates is worse than a visible failure. A well-formed frame with an
unknown ``type`` is kept as an ``UnknownMessage``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

import pydantic

from nosana_nb.core.errors import StreamError
from nosana_nb.core.models import STREAM_MESSAGE_ADAPTER, StreamMessage

_MAX_QUOTED = 200


def _quote(data: str) -> str:
    return repr(data if len(data) <= _MAX_QUOTED else data[:_MAX_QUOTED] + "...")


def parse_stream_message(data: str) -> StreamMessage:
    """Parse one frame's ``data``; raises StreamError for anything that is not a message."""
    try:
        payload: Any = json.loads(data)
    except ValueError:
        raise StreamError(f"stream frame is not JSON: {_quote(data)}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise StreamError(f'stream frame is not an object with a "type": {_quote(data)}')
    try:
        return STREAM_MESSAGE_ADAPTER.validate_python(payload)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise StreamError(
            f"stream frame of type {payload['type']!r} is malformed ({where}: {first['msg']}): "
            f"{_quote(data)}"
        ) from None


def iter_messages(frames: Iterable[str]) -> Iterator[StreamMessage]:
    for data in frames:
        yield parse_stream_message(data)


async def aiter_messages(frames: AsyncIterable[str]) -> AsyncIterator[StreamMessage]:
    async for data in frames:
        yield parse_stream_message(data)
