"""Request bodies read as JSON the way the service's ``JSON.parse`` reads them, with a depth limit.

* Numbers are IEEE doubles, as in JavaScript: an integer literal too long to be exact in one is
  read as a float, so ``1`` followed by 400 zeros becomes ``inf`` and fails ``must be integer``
  like it does on the service, instead of turning into a 400-digit Python int that overflows
  later (``int too large to convert to float``).
* ``NaN`` and ``Infinity`` literals are not JSON.
* Nesting deeper than :data:`MAX_JSON_DEPTH` is refused: the service's database (MongoDB) stores
  no document nested deeper than 100 levels, and Python's parser, ``copy.deepcopy`` and
  ``json.dumps`` recurse, so a 5,000-deep ``[[[[`` must never reach them.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 100
"""Levels of arrays/objects a body may nest (MongoDB's BSON limit)."""

_EXACT_INT_DIGITS = 15
"""Every integer of up to 15 digits is exact as a double; longer ones are rounded like JS."""


class JsonBodyError(ValueError):
    """The body is not JSON (or not UTF-8)."""


class JsonTooDeepError(JsonBodyError):
    """The body nests arrays/objects deeper than :data:`MAX_JSON_DEPTH`."""

    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")
        self.limit = limit


def _javascript_int(text: str) -> int | float:
    digits = text.lstrip("-")
    return int(text) if len(digits) <= _EXACT_INT_DIGITS else float(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def nesting_depth(value: Any, *, stop_above: int = MAX_JSON_DEPTH) -> int:
    """Levels of lists/dicts in ``value`` (a scalar is 0); stops counting past ``stop_above``.

    Iterative, so it is safe on values built elsewhere as deep as Python allows.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > stop_above:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def parse_json(
    raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, javascript_numbers: bool = True
) -> Any:
    """Parse a request body; raises :class:`JsonTooDeepError` or :class:`JsonBodyError`.

    ``javascript_numbers=False`` keeps integers exact, as a validator's JSON-RPC (Rust, u64)
    reads them.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise JsonBodyError("body is not UTF-8") from None
    try:
        value = json.loads(
            text,
            parse_int=_javascript_int if javascript_numbers else int,
            parse_constant=_reject_constant,
        )
    except RecursionError:  # deeper than the parser's own stack allows
        raise JsonTooDeepError(max_depth) from None
    except ValueError as exc:
        raise JsonBodyError(str(exc)) from None
    if nesting_depth(value, stop_above=max_depth) > max_depth:
        raise JsonTooDeepError(max_depth)
    return value
