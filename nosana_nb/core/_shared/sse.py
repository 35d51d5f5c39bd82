"""An incremental server-sent-events parser that never holds more than a set number of bytes.

httpx-sse buffers a line until its newline arrives: a ``data:`` line that never ends grew a
kernel to 3 GB in ten seconds. This parser is fed raw chunks and raises as soon as the event
being assembled (its data lines plus the unfinished line) passes ``max_event_bytes``.

It implements the parts of the SSE format the deployment stream uses: lines end with CRLF, LF
or CR; ``:`` starts a comment (the service's heartbeat); ``data`` lines are joined with
newlines; a blank line dispatches the event. ``event``, ``id``, ``retry`` and unknown fields
are read and ignored, as the stream's messages carry their type inside the JSON data.
"""

from __future__ import annotations

import re
from typing import Final

from nosana_nb.core.errors import ResponseTooLargeError

__all__ = ["SSEParser"]

_LINE_END: Final = re.compile(rb"\r\n|\r|\n")
_BOM: Final = b"\xef\xbb\xbf"


class SSEParser:
    """Feed it chunks of a stream's body; it returns the ``data`` of each completed event.

    Past ``max_event_bytes`` held for one event it raises ResponseTooLargeError (naming ``url``).
    """

    def __init__(self, max_event_bytes: int, *, url: str = "the event stream") -> None:
        self.max_event_bytes = max_event_bytes
        self.url = url
        self._pending = bytearray()  # the line being received, without its terminator
        self._data: list[str] = []
        self._data_bytes = 0
        self._skip_lf = False  # the last chunk ended in CR: a LF opening the next belongs to it
        self._first_line = True  # may open with a byte-order mark

    def feed(self, chunk: bytes) -> list[str]:
        """The data of the events this chunk completes (events without data are dropped)."""
        if self._skip_lf and chunk:
            self._skip_lf = False
            chunk = chunk.removeprefix(b"\n")
        # Only the new bytes can hold a terminator: the pending line has none.
        search_from = len(self._pending)
        self._pending += chunk
        events: list[str] = []
        line_start = 0
        for end in _LINE_END.finditer(self._pending, search_from):
            data = self._line(bytes(self._pending[line_start : end.start()]))
            if data is not None:
                events.append(data)
            line_start = end.end()
            if end.group() == b"\r" and line_start == len(self._pending):
                self._skip_lf = True
        del self._pending[:line_start]
        self._check_size(len(self._pending))
        return events

    def _line(self, line: bytes) -> str | None:
        if self._first_line:
            self._first_line = False
            line = line.removeprefix(_BOM)
        if not line:
            return self._dispatch()
        if line.startswith(b":"):
            return None  # a comment: the heartbeat
        name, _, value = line.partition(b":")
        if name == b"data":
            value = value.removeprefix(b" ")
            self._data_bytes += len(value) + 1
            self._check_size(0)
            self._data.append(value.decode("utf-8", errors="replace"))
        return None

    def _dispatch(self) -> str | None:
        data = "\n".join(self._data)
        self._data = []
        self._data_bytes = 0
        return data or None

    def _check_size(self, pending: int) -> None:
        held = self._data_bytes + pending
        if held > self.max_event_bytes:
            raise ResponseTooLargeError(
                f"GET {self.url}: an event of the stream is larger than {self.max_event_bytes} "
                f"bytes ({held} held); stopped reading (raise the client option "
                "max_response_bytes if this is expected)",
                method="GET",
                url=self.url,
                limit=self.max_event_bytes,
            )
