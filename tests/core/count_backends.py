"""A pytest plugin that counts the core tests by the backend they run against.

    .venv/bin/python -m pytest -q -p no:cacheprovider -p tests.core.count_backends \\
        --collect-only tests/core | grep -A1 "BACKEND COUNTS"

both: scenarios collected once over the fake and once over the sandbox (a ``fake``/``sandbox``
parameter); sandbox_only: items that reach a sandbox and have no fake twin; fake_only: items
that touch the fake (its fixture, ``FakeNosana`` or a ``MockTransport`` in their source) and
have no sandbox twin; neither: the rest (pure functions, local sockets, files). With
``LIST_FAKE_ONLY=1`` the fake-only items are listed per file.
"""

from __future__ import annotations

import collections
import inspect
import os
import re
from typing import Any

_BACKEND_ID = re.compile(r"(?<=[\[-])(fake|sandbox)(?=[\]-])")


def _kind(item: Any) -> str:
    names = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    param = _BACKEND_ID.search(f"[{callspec.id}]") if callspec is not None else None
    try:
        source = inspect.getsource(item.function)
    except (OSError, TypeError):
        source = ""
    if "sandbox" in names or (param is not None and param.group(1) == "sandbox"):
        return "sandbox"
    touches_fake = "fake" in names or (param is not None and param.group(1) == "fake")
    if touches_fake or any(word in source for word in ("Fake", "fake", "MockTransport")):
        return "fake"
    return "neither"


def pytest_collection_modifyitems(session: Any, config: Any, items: list[Any]) -> None:
    kinds: dict[str, set[str]] = collections.defaultdict(set)
    for item in items:
        kinds[_BACKEND_ID.sub("*", item.nodeid)].add(_kind(item))
    counts: collections.Counter[str] = collections.Counter()
    for seen in kinds.values():
        if {"fake", "sandbox"} <= seen:
            counts["both"] += 1
        elif "sandbox" in seen:
            counts["sandbox_only"] += 1
        elif "fake" in seen:
            counts["fake_only"] += 1
        else:
            counts["neither"] += 1
    print("\nBACKEND COUNTS", dict(sorted(counts.items())))
    if os.environ.get("LIST_FAKE_ONLY"):
        files = collections.Counter(
            key.split("::")[0] for key, seen in kinds.items() if seen == {"fake"}
        )
        print(dict(sorted(files.items())))
