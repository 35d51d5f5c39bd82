"""The sandbox's SQLite document store and simulated clock."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from nosana_nb.sandbox.clock import Clock, iso, parse_iso
from nosana_nb.sandbox.store import UNSET, Change, Store


def test_iso_has_milliseconds_and_round_trips() -> None:
    text = iso(1735787045.678)
    assert text == "2025-01-02T03:04:05.678Z"
    assert parse_iso(text) == pytest.approx(1735787045.678)


def test_parse_iso_refuses_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="timezone"):
        parse_iso("2025-01-02T03:04:05")


def test_manual_clock_stands_still_until_advanced() -> None:
    clock = Clock.manual(start=1_000.0)
    assert clock.now() == 1_000.0
    assert clock.advance(90) == 1_090.0
    clock.set(2_000.0)
    assert clock.now() == 2_000.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(10.0)


def test_speed_clock_runs_faster_than_wall_time() -> None:
    clock = Clock(speed=3600.0, start=0.0)
    assert clock.wall_seconds_for(3600.0) == pytest.approx(1.0)
    first = clock.now()
    second = clock.now()
    assert second >= first


def test_switching_speed_keeps_simulated_time_continuous() -> None:
    clock = Clock.manual(start=500.0)
    clock.set_speed(10.0)
    assert clock.now() >= 500.0
    clock.set_speed(None)
    frozen = clock.now()
    assert clock.now() == frozen


def test_clock_refuses_bad_speed() -> None:
    with pytest.raises(ValueError, match="speed"):
        Clock(speed=0)
    with pytest.raises(ValueError, match="speed"):
        Clock(speed=float("nan"))


def test_clock_wakes_subscribers_when_moved() -> None:
    clock = Clock.manual(start=0.0)
    woke = threading.Event()
    clock.subscribe(woke)
    clock.advance(1)
    assert woke.is_set()


def test_store_publishes_only_committed_changes() -> None:
    store = Store()
    seen: list[Change] = []
    store.subscribe(seen.append)
    doc = store.insert("deployments", {"id": "d1", "status": "DRAFT"})
    store.update("deployments", doc["_id"], {"status": "STARTING"})
    store.update("deployments", doc["_id"], {"status": "STARTING"})  # no-op: no change
    with pytest.raises(RuntimeError), store.transaction():
        store.insert("jobs", {"job": "j1"})
        raise RuntimeError("abort")
    assert [(c.collection, c.op, sorted(c.changed)) for c in seen] == [
        ("deployments", "insert", ["_id", "id", "status"]),
        ("deployments", "update", ["status"]),
    ]
    assert seen[1].before is not None
    assert seen[1].before["status"] == "DRAFT"
    assert store.count("jobs") == 0


def test_store_nested_transaction_publishes_after_outermost_commit() -> None:
    store = Store()
    seen: list[Change] = []
    store.subscribe(seen.append)
    with store.transaction():
        store.insert("events", {"type": "A"})
        with store.transaction():
            store.insert("events", {"type": "B"})
        assert seen == []
    assert [c.after["type"] for c in seen if c.after] == ["A", "B"]


def test_store_update_can_remove_fields_and_delete_documents() -> None:
    store = Store()
    doc = store.insert("tasks", {"task": "LIST", "limit": 2})
    after = store.update("tasks", doc["_id"], {"limit": UNSET})
    assert "limit" not in after
    assert store.delete("tasks", doc["_id"]) is not None
    assert store.delete("tasks", doc["_id"]) is None
    with pytest.raises(KeyError):
        store.update("tasks", doc["_id"], {"limit": 1})


def test_store_ids_sort_in_insertion_order_and_find_filters() -> None:
    store = Store()
    ids = [
        store.insert("jobs", {"n": n, "state": "QUEUED" if n % 2 else "RUNNING"})["_id"]
        for n in range(5)
    ]
    assert ids == sorted(ids)
    assert all(len(oid) == 24 for oid in ids)
    assert [d["n"] for d in store.find("jobs", state="QUEUED")] == [1, 3]
    assert [d["n"] for d in store.find("jobs", lambda d: d["n"] > 2)] == [3, 4]
    assert store.find_one("jobs", n=4) is not None
    assert store.find_one("jobs", n=99) is None


def test_store_returns_copies_not_live_documents() -> None:
    store = Store()
    doc = store.insert("deployments", {"id": "d", "endpoints": []})
    doc["endpoints"].append("mutated")
    assert store.get("deployments", doc["_id"]) == {"id": "d", "endpoints": [], "_id": doc["_id"]}


def test_store_survives_restart_from_file(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.db"
    store = Store(path)
    first = store.insert("deployments", {"id": "d1"})
    store.meta_set("seed", 7)
    store.close()
    reopened = Store(path)
    assert reopened.find("deployments") == [first]
    assert reopened.meta_get("seed") == 7
    assert reopened.meta_get("missing", "default") == "default"
    second = reopened.insert("deployments", {"id": "d2"})
    assert second["_id"] > first["_id"]
    reopened.close()


def test_unsubscribe_stops_delivery() -> None:
    store = Store()
    seen: list[Change] = []
    unsubscribe = store.subscribe(seen.append)
    unsubscribe()
    store.insert("events", {"type": "X"})
    assert seen == []


def test_indexed_lookups_follow_updates_deletes_and_rollbacks() -> None:
    store = Store()
    first = store.insert("jobs", {"deployment": "a", "job": "j1", "created_at": "2026-01-02"})
    second = store.insert("jobs", {"deployment": "b", "job": "j2", "created_at": "2026-01-01"})
    store.insert("jobs", {"deployment": "b", "job": "j3", "created_at": "2026-01-03"})
    # moved into an older bucket: the bucket keeps insertion (_id) order
    store.update("jobs", first["_id"], {"deployment": "b"})
    assert [d["job"] for d in store.find("jobs", deployment="b")] == ["j1", "j2", "j3"]
    assert store.find("jobs", deployment="a") == []
    assert store.count("jobs", deployment="b", job="j2") == 1
    # sort keys are (created_at, _id), ascending, and follow a changed created_at
    assert [oid for _, oid in store.sort_keys("jobs", deployment="b")][:2] == [
        second["_id"],
        first["_id"],
    ]
    store.update("jobs", second["_id"], {"created_at": "2026-01-09"})
    assert store.sort_keys("jobs", deployment="b")[-1] == ("2026-01-09", second["_id"])
    assert [k for k, _ in store.sort_keys("jobs", lambda d: d["job"] != "j3", deployment="b")] == [
        "2026-01-02",
        "2026-01-09",
    ]
    store.delete("jobs", second["_id"])
    assert [d["job"] for d in store.find("jobs", deployment="b")] == ["j1", "j3"]
    with pytest.raises(RuntimeError), store.transaction():
        store.insert("jobs", {"deployment": "b", "job": "j4"})
        raise RuntimeError("abort")
    assert store.find_one("jobs", job="j4") is None
    assert len(store.sort_keys("jobs", deployment="b")) == 2


def test_indexes_are_rebuilt_when_a_file_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = Store(path)
    store.insert("deployments", {"id": "d1", "owner": "w1", "created_at": "2026-01-01"})
    store.insert("deployments", {"id": "d2", "owner": "w2", "created_at": "2026-01-02"})
    store.close()
    reopened = Store(path)
    assert [d["id"] for d in reopened.find("deployments", owner="w2")] == ["d2"]
    assert len(reopened.sort_keys("deployments", owner="w1")) == 1
    reopened.close()


def test_the_database_file_and_its_wal_files_are_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask would leave new files world-readable
    try:
        before = stat.S_IMODE(tmp_path.stat().st_mode)
        made = Store(tmp_path / "new" / "store.db")
        made.insert("meta", {"_id": "k", "value": 1})
        beside = Store(tmp_path / "beside.db")
    finally:
        os.umask(previous)
    try:
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700  # created by the store
        assert stat.S_IMODE(tmp_path.stat().st_mode) == before  # a directory it did not make
        for name in ("new/store.db", "new/store.db-wal", "new/store.db-shm", "beside.db"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    finally:
        made.close()
        beside.close()


def test_indexed_lookups_follow_updates_deletes_rollbacks_and_restarts(tmp_path: Path) -> None:
    store = Store(tmp_path / "indexed.db")
    first = store.insert("jobs", {"job": "A", "state": "QUEUED", "market": "m", "deployment": "d"})
    second = store.insert("jobs", {"job": "B", "state": "QUEUED", "market": "m", "deployment": "d"})
    third = store.insert("jobs", {"job": "C", "state": "QUEUED", "market": "n", "deployment": "d"})
    store.update("jobs", first["_id"], {"state": "RUNNING"})
    store.update("jobs", first["_id"], {"state": "QUEUED"})  # back, now last in its bucket
    with store.lock:
        bucket_order = [job["job"] for job in store.scan("jobs", state="QUEUED", market="m")]
    assert bucket_order == ["A", "B"]  # listing (_id) order: the queue is FIFO
    found = [j["job"] for j in store.find("jobs", state="QUEUED", market="m")]
    assert found == ["A", "B"]  # find() keeps insertion order
    assert store.count("jobs", state="QUEUED", market="m") == 2
    assert store.count("jobs", deployment="d", state="QUEUED") == 3
    assert store.find_one("jobs", job="C") == store.get("jobs", third["_id"])
    assert store.find("jobs", state="QUEUED", market=["unhashable"]) == []

    with pytest.raises(RuntimeError), store.transaction():
        store.update("jobs", second["_id"], {"state": "STOPPED"})
        raise RuntimeError("roll back")
    assert store.count("jobs", state="STOPPED") == 0
    assert store.count("jobs", state="QUEUED", market="m") == 2

    store.delete("jobs", second["_id"])
    assert [j["job"] for j in store.find("jobs", state="QUEUED")] == ["A", "C"]
    store.close()
    reopened = Store(tmp_path / "indexed.db")
    try:
        assert [j["job"] for j in reopened.find("jobs", deployment="d", state="QUEUED")] == [
            "A",
            "C",
        ]
        assert {j["market"] for j in reopened.scan("jobs", state="QUEUED")} == {"m", "n"}
    finally:
        reopened.close()


def test_the_state_market_index_follows_moves_deletes_and_rollbacks() -> None:
    store = Store()

    def job(name: str, state: str, market: object = "m1") -> str:
        doc = {"job": name, "state": state, "market": market, "created_at": "2026-01-01"}
        return str(store.insert("jobs", doc)["_id"])

    q1, q2 = job("q1", "QUEUED"), job("q2", "QUEUED", "m2")
    job("r1", "RUNNING")
    job("odd", "QUEUED", {"not": "hashable"})  # never in a bucket, still found by a scan
    assert store.count("jobs", state="QUEUED", market="m1") == 1
    assert store.count("jobs", state="RUNNING", market="m1") == 1
    assert store.count("jobs", state="QUEUED", market="m3") == 0
    assert store.count("jobs", state="QUEUED") == 3
    assert store.count("jobs", lambda d: d["job"] != "q1", state="QUEUED", market="m1") == 0
    assert sorted(store.index_values("jobs", ("state", "market"))) == [
        ("QUEUED", "m1"),
        ("QUEUED", "m2"),
        ("RUNNING", "m1"),
    ]
    store.update("jobs", q1, {"state": "RUNNING"})
    assert store.count("jobs", state="RUNNING", market="m1") == 2
    assert ("QUEUED", "m1") not in store.index_values("jobs", ("state", "market"))
    # a bucket that gains an older job lists it in _id order (the queue stays FIFO)
    store.update("jobs", q1, {"state": "QUEUED", "market": "m2"})
    assert [d["job"] for d in store.scan("jobs", state="QUEUED", market="m2")] == ["q1", "q2"]
    store.delete("jobs", q2)
    assert [d["job"] for d in store.find("jobs", state="QUEUED", market="m2")] == ["q1"]
    with pytest.raises(RuntimeError), store.transaction():
        store.update("jobs", q1, {"state": "RUNNING"})
        raise RuntimeError("abort")
    assert store.count("jobs", state="QUEUED", market="m2") == 1
    assert store.count("jobs", state="RUNNING", market="m2") == 0


def test_a_collection_generation_changes_with_every_write_and_rollback() -> None:
    store = Store()
    seen = {store.generation("jobs")}
    oid = store.insert("jobs", {"job": "j", "state": "QUEUED"})["_id"]
    seen.add(store.generation("jobs"))
    store.update("jobs", oid, {"state": "RUNNING"})
    seen.add(store.generation("jobs"))
    store.update("jobs", oid, {"state": "RUNNING"})  # no change: nothing written
    assert store.generation("jobs") in seen
    with pytest.raises(RuntimeError), store.transaction():
        store.update("jobs", oid, {"state": "STOPPED"})
        raise RuntimeError("abort")
    seen.add(store.generation("jobs"))
    store.delete("jobs", oid)
    seen.add(store.generation("jobs"))
    assert len(seen) == 5
