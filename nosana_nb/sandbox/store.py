"""SQLite document store of the sandbox, with a change feed.

The real deployment manager keeps Mongo collections and reacts to their change streams; the
sandbox does the same on SQLite: each collection is a table of JSON documents, every write is
committed before it is acknowledged, and committed writes are published to subscribers (the
worker, the SSE stream) as :class:`Change` records.

Documents live in memory as well (write-through), so reads are cheap and a restart reloads them
from the file.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal

Doc = dict[str, Any]

COLLECTIONS = (
    "deployments",
    "revisions",
    "jobs",
    "events",
    "tasks",
    "vaults",
    "results",
    "ipfs",
    "credits",
    "credit_reservations",
    "meta",
)


@dataclass(frozen=True)
class Change:
    """One committed write, like a Mongo change-stream event."""

    collection: str
    op: Literal["insert", "update", "delete"]
    oid: str
    before: Doc | None
    after: Doc | None
    changed: frozenset[str] = field(default_factory=frozenset)


Subscriber = Callable[[Change], None]


class Store:
    """Collections of JSON documents in one SQLite file (``":memory:"`` on request).

    Every document gets an ``_id``: a 24-hex string that sorts in insertion order, like a
    Mongo ObjectId, used as the pagination tie-breaker.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
        self._depth = 0
        self._pending: list[Change] = []
        self._subscribers: list[Subscriber] = []
        self._docs: dict[str, dict[str, Doc]] = {name: {} for name in COLLECTIONS}
        with self.lock:
            for name in COLLECTIONS:
                self.conn.execute(
                    f"CREATE TABLE IF NOT EXISTS doc_{name} ("
                    "oid TEXT PRIMARY KEY, body TEXT NOT NULL)"
                )
            self._load()

    # -- transactions ---------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Atomic unit of work; nests. Changes are published after the outermost commit."""
        with self.lock:
            outermost = self._depth == 0
            if outermost:
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outermost:
                    self.conn.execute("ROLLBACK")
                    self._pending.clear()
                    self._reload_after_rollback()
                raise
            self._depth -= 1
            if not outermost:
                return
            self.conn.execute("COMMIT")
            published, self._pending = self._pending, []
        for change in published:
            self._publish(change)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Receive every committed change; returns an unsubscribe function."""
        with self.lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self.lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- writes ---------------------------------------------------------------------------
    def insert(self, collection: str, doc: Doc) -> Doc:
        with self.transaction():
            stored = copy.deepcopy(doc)
            stored.setdefault("_id", self._next_oid())
            oid = stored["_id"]
            if oid in self._docs[collection]:
                raise KeyError(f"duplicate _id {oid} in {collection}")
            self._write(collection, oid, stored)
            self._pending.append(
                Change(collection, "insert", oid, None, copy.deepcopy(stored), frozenset(stored))
            )
            return copy.deepcopy(stored)

    def update(self, collection: str, oid: str, fields: Doc) -> Doc:
        """Set ``fields`` on a document; a change is published only for values that differ."""
        with self.transaction():
            current = self._docs[collection].get(oid)
            if current is None:
                raise KeyError(f"no document {oid} in {collection}")
            changed = frozenset(k for k, v in fields.items() if current.get(k, _MISSING) != v)
            if not changed:
                return copy.deepcopy(current)
            before = copy.deepcopy(current)
            after = copy.deepcopy(current)
            for key in changed:
                value = fields[key]
                if value is _UNSET:
                    after.pop(key, None)
                else:
                    after[key] = copy.deepcopy(value)
            self._write(collection, oid, after)
            self._pending.append(
                Change(collection, "update", oid, before, copy.deepcopy(after), changed)
            )
            return copy.deepcopy(after)

    def delete(self, collection: str, oid: str) -> Doc | None:
        with self.transaction():
            current = self._docs[collection].pop(oid, None)
            if current is None:
                return None
            self.conn.execute(f"DELETE FROM doc_{collection} WHERE oid = ?", (oid,))
            self._pending.append(Change(collection, "delete", oid, current, None, frozenset()))
            return copy.deepcopy(current)

    # -- reads ----------------------------------------------------------------------------
    def get(self, collection: str, oid: str) -> Doc | None:
        with self.lock:
            doc = self._docs[collection].get(oid)
            return copy.deepcopy(doc) if doc is not None else None

    def find(
        self,
        collection: str,
        predicate: Callable[[Doc], bool] | None = None,
        /,
        **equals: Any,
    ) -> list[Doc]:
        """Documents matching every ``field=value`` and ``predicate``, in insertion order."""
        with self.lock:
            out = []
            for doc in self._docs[collection].values():
                if any(doc.get(k, _MISSING) != v for k, v in equals.items()):
                    continue
                if predicate is not None and not predicate(doc):
                    continue
                out.append(copy.deepcopy(doc))
            return out

    def find_one(
        self,
        collection: str,
        predicate: Callable[[Doc], bool] | None = None,
        /,
        **equals: Any,
    ) -> Doc | None:
        found = self.find(collection, predicate, **equals)
        return found[0] if found else None

    def count(
        self, collection: str, predicate: Callable[[Doc], bool] | None = None, /, **equals: Any
    ) -> int:
        with self.lock:
            return sum(
                1
                for doc in self._docs[collection].values()
                if all(doc.get(k, _MISSING) == v for k, v in equals.items())
                and (predicate is None or predicate(doc))
            )

    # -- key/value metadata (seeds, counters, keypairs of the simulator) ------------------------
    def meta_get(self, key: str, default: Any = None) -> Any:
        doc = self.get("meta", key)
        return default if doc is None else doc["value"]

    def meta_set(self, key: str, value: Any) -> None:
        with self.transaction():
            if key in self._docs["meta"]:
                self.update("meta", key, {"value": value})
            else:
                self.insert("meta", {"_id": key, "value": value})

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # -- internals ------------------------------------------------------------------------
    def _write(self, collection: str, oid: str, doc: Doc) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO doc_{collection} (oid, body) VALUES (?, ?)",
            (oid, json.dumps(doc, separators=(",", ":"))),
        )
        self._docs[collection][oid] = doc

    def _next_oid(self) -> str:
        return f"{next(self._counter):024x}"

    def _load(self) -> None:
        highest = 0
        for name in COLLECTIONS:
            docs: dict[str, Doc] = {}
            for oid, body in self.conn.execute(f"SELECT oid, body FROM doc_{name} ORDER BY oid"):
                docs[oid] = json.loads(body)
                if len(oid) == 24:
                    with suppress(ValueError):
                        highest = max(highest, int(oid, 16))
            self._docs[name] = docs
        self._counter = itertools.count(highest + 1)

    def _reload_after_rollback(self) -> None:
        counter = self._counter
        self._load()
        self._counter = counter

    def _publish(self, change: Change) -> None:
        with self.lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(change)


class _Sentinel:
    def __repr__(self) -> str:
        return "<unset>"


_MISSING: Any = _Sentinel()
_UNSET: Any = _Sentinel()
UNSET: Any = _UNSET
"""Pass as a value to :meth:`Store.update` to remove a field."""
