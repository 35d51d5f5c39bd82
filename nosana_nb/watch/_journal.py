"""The recorder's JSON-lines file: one row per line, appended and flushed as it is recorded.

Loading tolerates a torn last line (the kernel died mid-write) and cuts it off before the next
append, so the file stays valid JSON lines. Any other unreadable line is an error: silently
skipping history would hide data loss.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO, Any

from nosana_nb.core.errors import ValidationError
from nosana_nb.watch._rows import Row, RowFormatError, row_from_json, row_to_json


class Journal:
    """Append-only JSON lines at ``path``. One writer at a time (one Watcher per file)."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        if not isinstance(path, str | os.PathLike) or (isinstance(path, str) and not path):
            raise ValidationError(
                f"path must be a file path (str or os.PathLike); got {type(path).__name__}",
                argument="path",
            )
        self.path = Path(path).expanduser()
        if self.path.is_dir():
            raise ValidationError(f"path {str(self.path)!r} is a directory", argument="path")
        self._fsync = fsync
        self._handle: IO[str] | None = None
        self._valid_bytes: int | None = None  # where the readable rows end; None = not read
        self._needs_newline = False

    def load(self) -> list[Row]:
        """Rows stored so far (none if the file does not exist yet)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self._valid_bytes, self._needs_newline = 0, False
            return []
        rows: list[Row] = []
        offset = 0
        lines = data.split(b"\n")
        for number, raw in enumerate(lines, start=1):
            is_last = number == len(lines)
            if raw.strip():
                try:
                    rows.append(row_from_json(json.loads(raw)))
                except (ValueError, RowFormatError) as err:
                    if is_last:  # no newline yet: a torn write, cut off before appending
                        break
                    raise ValidationError(
                        f"{self.path}: line {number} is not a watcher row ({err})",
                        argument="path",
                    ) from None
            offset += len(raw) + (0 if is_last else 1)
        self._valid_bytes = offset
        self._needs_newline = offset > 0 and not data[:offset].endswith(b"\n")
        return rows

    def _open(self) -> IO[str]:
        if self._handle is None:
            if self._valid_bytes is None:
                self.load()
            valid = self._valid_bytes or 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size > valid:
                os.truncate(self.path, valid)
            self._handle = self.path.open("a", encoding="utf-8")
            if self._needs_newline:  # a complete last row that lacked its newline
                self._handle.write("\n")
                self._needs_newline = False
            self._valid_bytes = None  # the file grows from here; a reopen scans it again
        return self._handle

    def append(self, row: Row) -> None:
        handle = self._open()
        handle.write(json.dumps(row_to_json(row), ensure_ascii=False, default=_json_default))
        handle.write("\n")
        handle.flush()
        if self._fsync:
            os.fsync(handle.fileno())

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _json_default(value: Any) -> Any:
    text = getattr(value, "value", None)  # enum members
    if isinstance(text, str | int):
        return text
    raise TypeError(f"cannot store {type(value).__name__} in a watcher row")
