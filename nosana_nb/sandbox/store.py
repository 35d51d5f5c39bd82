"""SQLite document store of the sandbox, with a change feed.

The real deployment manager keeps Mongo collections and reacts to their change streams; the
sandbox does the same on SQLite: each collection is a table of JSON documents, every write is
committed before it is acknowledged, and committed writes are published to subscribers (the
worker, the SSE stream) as :class:`Change` records.

Documents live in memory as well (write-through), so reads are cheap and a restart reloads them
from the file. A few equality indexes (:data:`INDEXES`) keep the worker's hot lookups (queued
jobs of a market, active jobs of a deployment, a job by address) independent of how many
jobs a deployment has ever listed.

The file holds vault secret keys, the mint and escrow authorities' keys and API keys, so it and
its WAL files are readable by their owner only (0600), whatever the umask, and a directory the
store creates for it is 0700.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Doc = dict[str, Any]

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_SIDE_FILES = ("-wal", "-shm", "-journal")

Index = tuple[str, ...]
INDEXES: dict[str, tuple[Index, ...]] = {
    "jobs": (("state",), ("state", "market"), ("deployment", "state"), ("job",)),
}
"""Equality indexes per collection. A bucket keeps its documents in the order they entered it
(for jobs of one state: the order they were listed), which :meth:`Store.scan` relies on."""

COLLECTIONS = (
    "deployments",
    "revisions",
    "jobs",
    "events",
    "tasks",
    "vaults",
    "results",
    "ipfs",
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
            prepare_private_file(self.path)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            # SQLite gives its WAL files the database's mode; left-overs of an older run may not
            # have it
            restrict_side_files(self.path)
        self._depth = 0
        self._pending: list[Change] = []
        self._subscribers: list[Subscriber] = []
        self._docs: dict[str, dict[str, Doc]] = {name: {} for name in COLLECTIONS}
        # collection -> index fields -> key values -> ordered set of oids
        self._indexes: dict[str, dict[Index, dict[tuple[Any, ...], dict[str, None]]]] = {
            name: {fields: {} for fields in INDEXES.get(name, ())} for name in COLLECTIONS
        }
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
            self._unindex(collection, oid, current)
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
            for doc in self._matching(collection, equals, ordered=True):
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
            bucket = self._bucket(collection, equals, exact=True)
            if bucket is not None and predicate is None:
                return len(bucket)
            return sum(
                1
                for doc in self._matching(collection, equals, ordered=False)
                if predicate is None or predicate(doc)
            )

    def index_keys(self, collection: str, fields: Index) -> list[tuple[Any, ...]]:
        """The distinct values the documents have for an index's fields (one per bucket)."""
        with self.lock:
            return list(self._indexes[collection][fields])

    def scan(self, collection: str, /, **equals: Any) -> Iterator[Mapping[str, Any]]:
        """Read-only views of the matching documents, without copying them, lazily.

        For hot read paths. Iterate while holding :attr:`lock` and write nothing meanwhile
        that moves a document between index buckets. The order is the index bucket's (the
        order documents entered it) when an index covers ``equals``, else insertion order.
        """
        for doc in self._matching(collection, equals, ordered=False):
            yield MappingProxyType(doc)

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
        previous = self._docs[collection].get(oid)
        for fields, buckets in self._indexes[collection].items():
            key = _index_key(doc, fields)
            if previous is not None:
                old_key = _index_key(previous, fields)
                if old_key == key:
                    continue  # same bucket: the document keeps its place in it
                _discard(buckets, old_key, oid)
            buckets.setdefault(key, {})[oid] = None
        self._docs[collection][oid] = doc

    def _unindex(self, collection: str, oid: str, doc: Doc) -> None:
        for fields, buckets in self._indexes[collection].items():
            _discard(buckets, _index_key(doc, fields), oid)

    def _bucket(
        self, collection: str, equals: dict[str, Any], *, exact: bool = False
    ) -> dict[str, None] | None:
        """The oids of the narrowest index covered by ``equals`` (all of it when ``exact``)."""
        best: dict[str, None] | None = None
        for fields, buckets in self._indexes[collection].items():
            if exact and set(fields) != set(equals):
                continue
            if not all(name in equals for name in fields):
                continue
            key = tuple(equals[name] for name in fields)
            try:
                bucket = buckets.get(key, {})
            except TypeError:  # an unhashable filter value matches nothing indexed as one
                continue
            if best is None or len(bucket) < len(best):
                best = bucket
        return best

    def _matching(self, collection: str, equals: dict[str, Any], *, ordered: bool) -> Iterator[Doc]:
        docs = self._docs[collection]
        bucket = self._bucket(collection, equals)
        if bucket is None:
            candidates: Iterable[Doc] = docs.values()
        elif ordered:  # generated oids sort in insertion order
            candidates = (docs[oid] for oid in sorted(bucket))
        else:
            candidates = (docs[oid] for oid in bucket)
        for doc in candidates:
            if all(doc.get(k, _MISSING) == v for k, v in equals.items()):
                yield doc

    def _next_oid(self) -> str:
        return f"{next(self._counter):024x}"

    def _load(self) -> None:
        highest = 0
        for name in COLLECTIONS:
            self._docs[name] = {}
            self._indexes[name] = {fields: {} for fields in INDEXES.get(name, ())}
            for oid, body in self.conn.execute(f"SELECT oid, body FROM doc_{name} ORDER BY oid"):
                self._write_loaded(name, oid, json.loads(body))
                if len(oid) == 24:
                    with suppress(ValueError):
                        highest = max(highest, int(oid, 16))
        self._counter = itertools.count(highest + 1)

    def _write_loaded(self, collection: str, oid: str, doc: Doc) -> None:
        for fields, buckets in self._indexes[collection].items():
            buckets.setdefault(_index_key(doc, fields), {})[oid] = None
        self._docs[collection][oid] = doc

    def _reload_after_rollback(self) -> None:
        counter = self._counter
        self._load()
        self._counter = counter

    def _publish(self, change: Change) -> None:
        with self.lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(change)


def prepare_private_file(path: str) -> None:
    """Create ``path`` (and a missing parent directory, 0700) as an owner-only file, or make an
    existing one owner-only, before SQLite opens it."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        os.makedirs(parent, mode=PRIVATE_DIR_MODE, exist_ok=True)
        os.chmod(parent, PRIVATE_DIR_MODE)  # makedirs' mode is filtered by the umask
    # O_CREAT with 0600 creates it private from the first byte (an empty file is an empty
    # database); chmod covers a file an older version left world-readable
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE))
    os.chmod(path, PRIVATE_FILE_MODE)
    restrict_side_files(path)


def restrict_side_files(path: str) -> None:
    for suffix in _SIDE_FILES:
        with suppress(FileNotFoundError):
            os.chmod(path + suffix, PRIVATE_FILE_MODE)


class _Sentinel:
    def __repr__(self) -> str:
        return "<unset>"


def _index_key(doc: Doc, fields: Index) -> tuple[Any, ...]:
    """The bucket key of ``doc``; a value that cannot be a key (a list, a dict) files the
    document under its JSON text, which no filter value equals."""
    key = tuple(doc.get(name, _MISSING) for name in fields)
    try:
        hash(key)
    except TypeError:
        return tuple(json.dumps(value, sort_keys=True) for value in key)
    return key


def _discard(
    buckets: dict[tuple[Any, ...], dict[str, None]], key: tuple[Any, ...], oid: str
) -> None:
    bucket = buckets.get(key)
    if bucket is not None:
        bucket.pop(oid, None)
        if not bucket:
            del buckets[key]


_MISSING: Any = _Sentinel()
_UNSET: Any = _Sentinel()
UNSET: Any = _UNSET
"""Pass as a value to :meth:`Store.update` to remove a field."""
