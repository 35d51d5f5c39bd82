"""SQLite document store of the sandbox, with a change feed.

The real deployment manager keeps Mongo collections and reacts to their change streams; the
sandbox does the same on SQLite: each collection is a table of JSON documents, every write is
committed before it is acknowledged, and committed writes are published to subscribers (the
worker, the SSE stream) as :class:`Change` records.

Documents live in memory as well (write-through), so reads are cheap and a restart reloads them
from the file. Equality lookups on the fields in ``INDEXED`` (the ones every request filters on:
a deployment's id and owner, the deployment of a job or event, ...) go through in-memory hash
indexes, and each index bucket keeps its documents' keyset order (``created_at``, ``_id``) for
pagination, so a get or a page costs the same with 1,000 or 100,000 documents stored.

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
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

Doc = dict[str, Any]

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
_SIDE_FILES = ("-wal", "-shm", "-journal")

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

IndexField = str | tuple[str, ...]
"""A field, or a tuple of fields indexed together (one bucket per combination of values)."""

INDEXED: dict[str, tuple[IndexField, ...]] = {
    "deployments": ("id", "owner"),
    "revisions": ("deployment",),
    # (state, market): the worker's queues and busy nodes per market, exact and O(1) to count
    "jobs": ("deployment", "job", "state", ("state", "market")),
    "events": ("deploymentId",),
    "tasks": ("deploymentId",),
    "vaults": ("vault", "owner"),
    "results": ("job",),
}
"""Fields with an equality index, per collection."""

UNORDERED: frozenset[tuple[str, IndexField]] = frozenset(
    {("jobs", "state"), ("jobs", ("state", "market"))}
)
"""Indexes whose documents move between buckets all the time (a job's state): a move appends
to the bucket, and a lookup through it sorts its ``_id``s instead."""

SORT_FIELD = "created_at"
"""The keyset order of every list: (``created_at``, ``_id``), as the deployment manager sorts."""

SortKey = tuple[str, str]


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
        self._closed = False
        self._pending: list[Change] = []
        self._subscribers: list[Subscriber] = []
        self._docs: dict[str, dict[str, Doc]] = {name: {} for name in COLLECTIONS}
        # collection -> field -> value -> oids in insertion order
        self._index: dict[str, dict[IndexField, dict[Any, dict[str, None]]]] = {}
        # (collection, field, value) -> that bucket's sort keys, ascending; rebuilt on demand
        self._sorted: dict[tuple[str, IndexField, Any], list[SortKey]] = {}
        self._generations: dict[str, int] = dict.fromkeys(COLLECTIONS, 0)
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
            self._generations[collection] += 1
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
            return [copy.deepcopy(doc) for doc in self._matching(collection, predicate, equals)]

    def find_one(
        self,
        collection: str,
        predicate: Callable[[Doc], bool] | None = None,
        /,
        **equals: Any,
    ) -> Doc | None:
        with self.lock:
            for doc in self._matching(collection, predicate, equals):
                return copy.deepcopy(doc)
            return None

    def count(
        self, collection: str, predicate: Callable[[Doc], bool] | None = None, /, **equals: Any
    ) -> int:
        """How many documents match; the size of one bucket when an index covers ``equals``."""
        with self.lock:
            exact = None if predicate is not None else self._exact_bucket(collection, equals)
            if exact is not None:
                return len(exact)
            return sum(1 for _ in self._matching(collection, predicate, equals))

    def generation(self, collection: str) -> int:
        """A number that changes with every write to ``collection`` (a rollback included): what
        a reader derived from the collection still holds while it is unchanged."""
        with self.lock:
            return self._generations[collection]

    def index_values(self, collection: str, field: IndexField) -> list[Any]:
        """The values of an indexed ``field`` (a tuple of values for a compound index) that at
        least one document holds, without reading a document."""
        with self.lock:
            return list(self._index.get(collection, {}).get(field, {}))

    def sort_keys(
        self,
        collection: str,
        predicate: Callable[[Doc], bool] | None = None,
        /,
        **equals: Any,
    ) -> list[SortKey]:
        """The (``created_at``, ``_id``) keys of the matching documents, ascending.

        With one indexed field and no predicate this is the index bucket's cached order (a new
        list, but no document is read); otherwise the bucket's order filtered, which reads each
        candidate once without copying it. Read the page's documents with :meth:`get_many`.
        """
        with self.lock:
            indexed = [f for f in equals if f in INDEXED.get(collection, ())]
            if not indexed:
                docs = self._matching(collection, predicate, equals)
                return sorted((_sort_key(d), str(d["_id"])) for d in docs)
            field = indexed[0]
            keys = self._sorted_bucket(collection, field, equals[field])
            rest = {k: v for k, v in equals.items() if k != field}
            if predicate is None and not rest:
                return list(keys)
            table = self._docs[collection]
            return [key for key in keys if _matches(table[key[1]], predicate, rest)]

    def find_in(self, collection: str, field: str, values: Iterable[Any]) -> list[Doc]:
        """Documents whose indexed ``field`` is one of ``values``, in insertion order."""
        with self.lock:
            oids: set[str] = set()
            for value in values:
                oids.update(self._bucket(collection, field, value))
            table = self._docs[collection]
            return [copy.deepcopy(table[oid]) for oid in sorted(oids)]

    def get_many(self, collection: str, oids: list[str]) -> list[Doc]:
        """Copies of the documents with these ``_id``s, in that order (missing ones skipped)."""
        with self.lock:
            table = self._docs[collection]
            return [copy.deepcopy(table[oid]) for oid in oids if oid in table]

    def scan(self, collection: str, /, **equals: Any) -> Iterator[Mapping[str, Any]]:
        """Read-only views of the matching documents, without copying them, lazily.

        For hot read paths: iterate while holding :attr:`lock` and write nothing meanwhile.
        The order is insertion (``_id``) order, through the narrowest index ``equals`` covers.
        """
        for doc in self._matching(collection, None, equals):
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

    def save_clock(self, key: str, value: float) -> None:
        """Write the simulated time, committed at once and kept off the change feed (it is
        written on every clock move; no listener reacts to it)."""
        with self.lock:
            if self._closed:
                return
            doc = {"_id": key, "value": value}
            self.conn.execute(
                "INSERT OR REPLACE INTO doc_meta (oid, body) VALUES (?, ?)",
                (key, json.dumps(doc, separators=(",", ":"))),
            )
            self._docs["meta"][key] = doc

    def latest_timestamp(self) -> float | None:
        """The latest time any stored document or chain transaction carries (unix seconds).

        A restart resumes at least here, so no stored time is ever in the sandbox's future.
        """
        latest: float | None = None
        with self.lock:
            for name in COLLECTIONS:
                if name == "meta":
                    continue
                for doc in self._docs[name].values():
                    for key, value in doc.items():
                        stamp = _timestamp_of(key, value)
                        if stamp is not None and (latest is None or stamp > latest):
                            latest = stamp
            with suppress(sqlite3.OperationalError):  # no chain tables yet
                row = self.conn.execute("SELECT MAX(block_time) FROM chain_transactions")
                block_time = row.fetchone()[0]
                if block_time is not None and (latest is None or block_time > latest):
                    latest = float(block_time)
        return latest

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self.conn.close()

    # -- internals ------------------------------------------------------------------------
    def _write(self, collection: str, oid: str, doc: Doc) -> None:
        self.conn.execute(
            f"INSERT OR REPLACE INTO doc_{collection} (oid, body) VALUES (?, ?)",
            (oid, json.dumps(doc, separators=(",", ":"))),
        )
        self._generations[collection] += 1
        before = self._docs[collection].get(oid)
        if before is not None:
            self._unindex(collection, oid, before, after=doc)
        self._docs[collection][oid] = doc
        self._add_to_index(collection, oid, doc, before)

    # -- indexes --------------------------------------------------------------------------
    def _matching(
        self, collection: str, predicate: Callable[[Doc], bool] | None, equals: dict[str, Any]
    ) -> Iterator[Doc]:
        """The matching documents themselves (not copies): callers copy what they hand out."""
        table = self._docs[collection]
        candidates: Any = table.values()
        buckets = self._covering_buckets(collection, equals)
        rest = equals
        if buckets:
            smallest_field, smallest = min(buckets, key=lambda pair: len(pair[1]))
            oids = sorted(smallest) if (collection, smallest_field) in UNORDERED else smallest
            candidates = (table[oid] for oid in oids)
            covered = set(smallest_field) if isinstance(smallest_field, tuple) else {smallest_field}
            rest = {k: v for k, v in equals.items() if k not in covered}
        for doc in candidates:
            if _matches(doc, predicate, rest):
                yield doc

    def _covering_buckets(
        self, collection: str, equals: Mapping[str, Any]
    ) -> list[tuple[IndexField, dict[str, None]]]:
        """The bucket of every index whose fields all appear in ``equals``."""
        found: list[tuple[IndexField, dict[str, None]]] = []
        for name in INDEXED.get(collection, ()):
            if isinstance(name, tuple):
                if all(f in equals for f in name):
                    value = tuple(equals[f] for f in name)
                    found.append((name, self._bucket(collection, name, value)))
            elif name in equals:
                found.append((name, self._bucket(collection, name, equals[name])))
        return found

    def _exact_bucket(self, collection: str, equals: Mapping[str, Any]) -> dict[str, None] | None:
        """The bucket holding exactly the documents matching ``equals``, if an index has it."""
        for name, bucket in self._covering_buckets(collection, equals):
            fields = set(name) if isinstance(name, tuple) else {name}
            if fields == set(equals):
                return bucket
        return None

    def _bucket(self, collection: str, field: IndexField, value: Any) -> dict[str, None]:
        try:
            return self._index.get(collection, {}).get(field, {}).get(value, {})
        except TypeError:  # an unhashable value: no document holds it as an indexed key
            return {}

    def _sorted_bucket(self, collection: str, field: IndexField, value: Any) -> list[SortKey]:
        try:
            cached = self._sorted.get((collection, field, value))
        except TypeError:
            return []
        if cached is None:
            table = self._docs[collection]
            bucket = self._bucket(collection, field, value)
            cached = sorted((_sort_key(table[oid]), oid) for oid in bucket)
            self._sorted[(collection, field, value)] = cached
        return cached

    def _add_to_index(self, collection: str, oid: str, doc: Doc, before: Doc | None) -> None:
        fields = self._index.setdefault(collection, {})
        for name in INDEXED.get(collection, ()):
            value = _index_value(doc, name)
            if before is not None and _index_value(before, name) == value:
                if _sort_key(before) != _sort_key(doc):
                    self._forget_order(collection, name, value)
                continue
            try:
                bucket = fields.setdefault(name, {}).setdefault(value, {})
            except TypeError:
                continue  # unhashable: never looked up by equality
            if bucket and oid < next(reversed(bucket)) and (collection, name) not in UNORDERED:
                # moved into an older bucket by an update: keep the bucket in _id order
                bucket[oid] = None
                ordered = sorted(bucket)
                bucket.clear()
                bucket.update(dict.fromkeys(ordered))
            else:
                bucket[oid] = None
            self._forget_order(collection, name, value)

    def _unindex(self, collection: str, oid: str, doc: Doc, *, after: Doc | None = None) -> None:
        fields = self._index.get(collection, {})
        for name in INDEXED.get(collection, ()):
            value = _index_value(doc, name)
            if after is not None and _index_value(after, name) == value:
                continue  # same bucket; _add_to_index handles an order change
            try:
                bucket = fields.get(name, {}).get(value)
            except TypeError:
                continue
            if bucket is not None:
                bucket.pop(oid, None)
                if not bucket:
                    del fields[name][value]
            self._forget_order(collection, name, value)

    def _forget_order(self, collection: str, field: IndexField, value: Any) -> None:
        with suppress(TypeError):
            self._sorted.pop((collection, field, value), None)

    def _rebuild_indexes(self) -> None:
        self._index = {}
        self._sorted = {}
        for collection, docs in self._docs.items():
            for oid, doc in docs.items():
                self._add_to_index(collection, oid, doc, None)

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
            self._generations[name] = self._generations.get(name, 0) + 1
        self._counter = itertools.count(highest + 1)
        self._rebuild_indexes()

    def _reload_after_rollback(self) -> None:
        counter = self._counter
        self._load()
        self._counter = counter

    def _publish(self, change: Change) -> None:
        with self.lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback(change)


# times of what has happened; a task's due_at lies ahead and must not move the clock there
_UNIX_SECONDS_FIELDS = frozenset({"time_start", "time_end"})
_ISO_FIELDS = frozenset({"created_at", "updated_at"})
_ISO_LENGTH = len("2025-01-02T03:04:05.678Z")


def _timestamp_of(key: str, value: Any) -> float | None:
    """Unix seconds from a stored field: an ISO-8601 ``...Z`` string or a job's unix time."""
    if key in _ISO_FIELDS and isinstance(value, str) and len(value) == _ISO_LENGTH:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    if key in _UNIX_SECONDS_FIELDS and isinstance(value, int | float) and value > 0:
        return float(value)
    return None


def _index_value(doc: Mapping[str, Any], name: IndexField) -> Any:
    if isinstance(name, tuple):
        return tuple(doc.get(f, _MISSING) for f in name)
    return doc.get(name, _MISSING)


def _matches(doc: Doc, predicate: Callable[[Doc], bool] | None, equals: dict[str, Any]) -> bool:
    if any(doc.get(k, _MISSING) != v for k, v in equals.items()):
        return False
    return predicate is None or predicate(doc)


def _sort_key(doc: Doc) -> str:
    return str(doc.get(SORT_FIELD) or "")


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


_MISSING: Any = _Sentinel()
_UNSET: Any = _Sentinel()
UNSET: Any = _UNSET
"""Pass as a value to :meth:`Store.update` to remove a field."""
