"""Pure parts of the sandbox worker: ladders, cron, de-duplication, settlement, messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nosana_nb.sandbox.clock import Clock, iso, parse_iso, whole_seconds
from nosana_nb.sandbox.store import Store
from nosana_nb.sandbox.worker import events
from nosana_nb.sandbox.worker.config import ladder_delay
from nosana_nb.sandbox.worker.markets import MARKETS
from nosana_nb.sandbox.worker.network import job_end_time, node_keypair
from nosana_nb.sandbox.worker.payments import end_stamp, settlement_for
from nosana_nb.sandbox.worker.task_queue import TaskQueue, next_firing
from nosana_nb.sandbox.worker.worker import WorkerConfig

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def test_retry_ladders_match_the_service_defaults() -> None:
    config = WorkerConfig()
    ordinary = [
        ladder_delay(
            n,
            base=config.retry_base_s,
            multiplier=config.retry_multiplier,
            maximum=config.retry_max_s,
        )
        for n in range(7)
    ]
    assert ordinary == [30, 60, 120, 240, 480, 600, 600]
    funds = [
        ladder_delay(
            n,
            base=config.funds_retry_base_s,
            multiplier=config.funds_retry_multiplier,
            maximum=config.funds_retry_max_s,
        )
        for n in (0, 1, 2, 5, 6, 1000)
    ]
    assert funds == [600, 1200, 2400, 19200, 21600, 21600]
    with pytest.raises(ValueError, match="retries"):
        ladder_delay(-1, base=1, multiplier=2, maximum=10)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"claim_delay_s": (10, 5)}, "claim_delay_s"),
        ({"early_exit_probability": 1.5}, "early_exit_probability"),
        ({"early_exit_span": (0.0, 0.5)}, "early_exit_span"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"poll_interval_s": 0}, "poll_interval_s"),
        ({"units_per_task_run": 0}, "units_per_task_run"),
        ({"task_poll_s": 0.0}, "task_poll_s"),
    ],
)
def test_worker_config_rejects_nonsense(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkerConfig(**changes)  # type: ignore[arg-type]


def test_next_firing_is_strictly_after_and_in_utc() -> None:
    assert next_firing("0 * * * *", START) == START + 3600
    assert next_firing("0 * * * *", START - 1) == START
    assert next_firing("30 2 * * *", START) == START + 2 * 3600 + 1800
    for bad in ("60 * * * *", "bad bad bad bad bad", "* * * *", "@daily", "* * * * * *"):
        with pytest.raises(ValueError, match="cron"):
            next_firing(bad, START)


@pytest.fixture
def queue() -> Iterator[TaskQueue]:
    store = Store()
    yield TaskQueue(store, Clock.manual(START))
    store.close()


def test_schedule_keeps_one_pending_task_per_type_deployment_job(queue: TaskQueue) -> None:
    first = queue.schedule("LIST", "dep", due=START, limit=1)
    merged = queue.schedule("LIST", "dep", due=START + 60, limit=3)
    assert merged["_id"] == first["_id"]
    assert merged["limit"] == 3  # the newer reconciliation wins
    assert merged["due_at"] == iso(START)  # and the earlier due time
    queue.update(first["_id"], {"due_at": iso(START + 600)})
    assert queue.schedule("LIST", "dep", due=START + 30)["due_at"] == iso(START + 30)
    assert queue.schedule("LIST", "dep", due=START, job="J")["_id"] != first["_id"]
    assert queue.schedule("LIST", "other", due=START)["_id"] != first["_id"]
    assert len(queue.for_deployment("dep")) == 2


def test_stops_of_different_revisions_and_one_shot_extends_are_never_merged(
    queue: TaskQueue,
) -> None:
    full = queue.schedule("STOP", "dep", due=START)
    revision = queue.schedule("STOP", "dep", due=START, active_revision=2)
    assert full["_id"] != revision["_id"]
    one = queue.schedule("EXTEND", "dep", due=START, job="J", extend_seconds=60)
    two = queue.schedule("EXTEND", "dep", due=START, job="J", extend_seconds=60)
    assert one["_id"] != two["_id"]
    chained = queue.schedule("EXTEND", "dep", due=START, job="J")
    assert queue.schedule("EXTEND", "dep", due=START, job="J")["_id"] == chained["_id"]


def test_a_processing_task_does_not_swallow_a_new_one(queue: TaskQueue) -> None:
    running = queue.schedule("LIST", "dep", due=START)
    queue.update(running["_id"], {"status": "PROCESSING"})
    assert queue.schedule("LIST", "dep", due=START + 60)["_id"] != running["_id"]
    due = queue.next_due(START + 60)
    assert due is not None
    assert due["status"] == "PENDING"
    assert queue.next_due(START + 59) is None
    assert queue.next_due_time() == START + 60


def test_settlement_pays_elapsed_time_capped_at_the_timeout() -> None:
    running = {
        "escrowed": 40 * 600,
        "price": 40,
        "timeout_s": 600,
        "node": "N",
        "time_start": 1000,
    }
    settled = settlement_for(running, end_ts=1000 + 250.9)
    assert (settled.pay, settled.refund) == (40 * 250, 40 * 350)
    late = settlement_for(running, end_ts=1000 + 9999)
    assert (late.pay, late.refund) == (40 * 600, 0)
    queued = {**running, "node": None, "time_start": 0}
    assert settlement_for(queued, end_ts=5000) == settlement_for(queued, end_ts=0)
    assert settlement_for(queued, end_ts=5000).refund == 40 * 600


@pytest.mark.parametrize("fraction", [0.0, 0.0004, 0.5, 0.999, 0.9994, 0.9999996, 0.99999999])
def test_an_ended_jobs_times_and_its_pay_come_from_one_instant(fraction: float) -> None:
    """``updated_at`` (the list's end), ``time_end`` and the pay agree on the second, even for an
    end a hair below a whole second that the ISO text rounds up."""
    start = 1_767_225_600
    running = {"escrowed": 40 * 600, "price": 40, "timeout_s": 600, "node": "N"}
    end_ts = start + 250 + fraction
    stamp = end_stamp(end_ts)
    shown_second = int(parse_iso(stamp["updated_at"]))
    assert stamp["time_end"] == shown_second == whole_seconds(end_ts)
    assert stamp["updated_at"] == iso(end_ts)
    settled = settlement_for({**running, "time_start": start}, end_ts=end_ts)
    assert settled.pay == 40 * (shown_second - start)
    assert shown_second - start in (250, 251)


def test_job_end_time_is_the_earlier_of_exit_and_timeout() -> None:
    job = {"time_start": 100, "timeout_s": 600, "run_seconds": None}
    assert job_end_time(job) == 700
    assert job_end_time({**job, "run_seconds": 30}) == 130
    assert job_end_time({**job, "run_seconds": 900}) == 700


def test_event_messages_are_the_services_texts() -> None:
    assert events.list_confirmed("J") == "Successfully listed job - J"
    assert events.extend_successful("S") == "Successfully extended job - TX S"
    assert events.stop_confirmed("J", "S") == "Successfully stopped job J. TX S"
    assert events.already_settled("J") == "Job J was already settled"
    assert events.rapid_throttle(2, 120) == (
        "Jobs completing rapidly (round 2): next job throttled by 120s."
    )
    assert events.rapid_fail_safe(8, 5) == (
        "Deployment stopped to protect funds: 8 consecutive rounds of jobs completed in "
        "under 5 minutes."
    )


def test_node_addresses_are_stable_and_distinct() -> None:
    addresses = [str(node_keypair(m, i).pubkey()) for m in MARKETS for i in range(m.nodes)]
    assert len(set(addresses)) == len(addresses) == sum(m.nodes for m in MARKETS)
    assert str(node_keypair(MARKETS[0], 0).pubkey()) == addresses[0]


def test_market_accounts_are_rewritten_only_after_a_job_write_and_follow_it() -> None:
    from solders.keypair import Keypair

    from nosana_nb.core.market_account import decode_market_account
    from nosana_nb.sandbox import start

    sandbox = start(db=":memory:", speed=None, seed=3)
    try:
        sandbox.worker.stop()  # this test runs the refreshes itself
        accounts = sandbox.worker._market_accounts
        market = next(m for m in MARKETS if m.nodes == 1)
        (node,) = sandbox.worker.market_nodes(market.address)
        accounts.refresh()
        assert accounts.refresh() == 0  # no job written since: nothing to write

        def account() -> tuple[int, tuple[str, ...]]:
            raw = sandbox.chain.get_account(market.address)
            assert raw is not None
            decoded = decode_market_account(market.address, bytes(raw.data))
            return decoded.idle_nodes, decoded.queue

        def insert(state: str, **fields: object) -> str:
            job = {"job": str(Keypair().pubkey()), "state": state, "market": market.address}
            return str(
                sandbox.store.insert("jobs", {**job, "created_at": iso(START), **fields})["_id"]
            )

        running = insert("RUNNING", node=node)  # the market's only node is busy now
        queued = insert("QUEUED")
        assert accounts.refresh() == 1
        waiting = sandbox.store.get("jobs", queued)
        assert waiting is not None
        assert account() == (0, (waiting["job"],))
        sandbox.store.update("jobs", queued, {"updated_at": iso(START + 1)})  # same queues
        assert accounts.refresh() == 0
        sandbox.store.delete("jobs", queued)
        sandbox.store.delete("jobs", running)
        assert accounts.refresh() == 1
        assert account() == (1, (node,))
    finally:
        sandbox.stop()
