"""Keyset pagination exactly as the deployment manager does it (docs/wire-contract.md#pagination).

A cursor is base64 of ``{"sort_field_value": <ISO>, "_id": <24 hex>, "direction": "next"|"prev"}``;
rows are ordered by the sort field with ``_id`` as tie-breaker, ``total_items`` ignores the cursor.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .json_body import parse_json

Direction = Literal["next", "prev"]
_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")


class InvalidCursorError(ValueError):
    """The cursor is not base64 JSON with the three expected fields."""


@dataclass(frozen=True)
class Cursor:
    sort_value: str
    oid: str
    direction: Direction


def encode_cursor(sort_value: str, oid: str, direction: Direction) -> str:
    raw = json.dumps({"sort_field_value": sort_value, "_id": oid, "direction": direction})
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(text: str) -> Cursor:
    try:
        # a cursor is one flat object: anything nested is refused before it can recurse
        decoded = parse_json(base64.b64decode(text, validate=True), max_depth=1)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursorError("cursor is not base64 JSON") from exc
    if not isinstance(decoded, dict):
        raise InvalidCursorError("cursor is not a JSON object")
    value, oid, direction = (decoded.get(k) for k in ("sort_field_value", "_id", "direction"))
    if not isinstance(value, str) or not isinstance(oid, str) or not _OBJECT_ID.match(oid):
        raise InvalidCursorError("cursor lacks sort_field_value or a valid _id")
    if direction not in ("next", "prev"):
        raise InvalidCursorError("cursor direction must be next or prev")
    return Cursor(value, oid.lower(), direction)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    cursor_next: str | None
    cursor_prev: str | None
    total_items: int

    def meta(self) -> dict[str, Any]:
        return {
            "cursor_next": self.cursor_next,
            "cursor_prev": self.cursor_prev,
            "total_items": self.total_items,
        }


@dataclass(frozen=True)
class KeyPage:
    """One page of sort keys: the page's ``_id``s in reply order, and its pagination meta."""

    oids: list[str]
    cursor_next: str | None
    cursor_prev: str | None
    total_items: int


def paginate_keys(
    keys: Sequence[tuple[str, str]],
    *,
    limit: int,
    sort_order: Literal["asc", "desc"],
    cursor: str | None,
) -> KeyPage:
    """One page of ``keys`` — (sort value, ``_id``) pairs sorted ascending — by bisection,
    so a page costs the same at any collection size. Raises :class:`InvalidCursorError`."""
    parsed = decode_cursor(cursor) if cursor else None
    direction = parsed.direction if parsed else None
    descending = sort_order == "desc"
    if direction == "prev":
        descending = not descending
    if descending:
        end = bisect.bisect_left(keys, (parsed.sort_value, parsed.oid)) if parsed else len(keys)
        window = list(reversed(keys[max(0, end - limit - 1) : end]))
    else:
        begin = bisect.bisect_right(keys, (parsed.sort_value, parsed.oid)) if parsed else 0
        window = list(keys[begin : begin + limit + 1])
    more = len(window) > limit
    items = window[:limit]
    if direction == "prev":
        items.reverse()
    if not items:
        return KeyPage([], None, None, len(keys))

    def at(key: tuple[str, str], which: Direction) -> str:
        return encode_cursor(key[0], key[1], which)

    if direction == "prev":
        cursor_next: str | None = at(items[-1], "next")
        cursor_prev = at(items[0], "prev") if more else None
    else:
        cursor_next = at(items[-1], "next") if more else None
        cursor_prev = at(items[0], "prev") if direction == "next" else None
    return KeyPage([key[1] for key in items], cursor_next, cursor_prev, len(keys))


def paginate(
    docs: Sequence[dict[str, Any]],
    *,
    limit: int,
    sort_order: Literal["asc", "desc"],
    cursor: str | None,
    sort_field: str = "created_at",
) -> Page:
    """One page of ``docs`` (already filtered). Raises :class:`InvalidCursorError`."""
    by_oid = {str(doc["_id"]): doc for doc in docs}
    keys = sorted((str(doc.get(sort_field) or ""), oid) for oid, doc in by_oid.items())
    page = paginate_keys(keys, limit=limit, sort_order=sort_order, cursor=cursor)
    items = [by_oid[oid] for oid in page.oids]
    return Page(items, page.cursor_next, page.cursor_prev, page.total_items)
