"""The simulated GPU network: node pools per market, claims, container runtimes, settlement.

Everything is derived from the store and the seed, never from hidden in-memory state, so a worker
restarted on the same SQLite file continues exactly where the last one stopped:

* a queued job gets ``claim_at`` (internal) once a node of its market is free for it; queues are
  FIFO per market and a node is reserved by the planned claim, so the planned jobs of a market
  are always its oldest queued ones (which keeps every lookup here a walk over a few jobs at
  the head of a queue, however long the queue is);
* at ``claim_at`` an idle node claims it: RUNNING, ``node``, ``time_start``;
* the container runs to its on-chain timeout (``timeout_s``, raised by extensions) or, for a
  seeded share of jobs, exits on its own after ``run_seconds``; then COMPLETED and settled;
* a job nobody claims within the market's ``job_expiration`` is delisted (STOPPED, full refund).

Random draws are hashes of (seed, job address, purpose): deterministic and restart-safe.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from solders.keypair import Keypair

from nosana_nb.sandbox.clock import Clock, iso, parse_iso, whole_seconds
from nosana_nb.sandbox.store import Doc, Store

from .config import WorkerConfig
from .markets import MARKETS, MarketSpec, find_market
from .payments import Payments, end_stamp, ended_job_fields, settlement_for
from .results import build_job_results, save_job_results

log = logging.getLogger(__name__)

ACTIVE_STATES = ("QUEUED", "RUNNING")
_JOB_COUNTER_KEY = "worker:job_counter"

EventKind = Literal["end", "claim", "expire"]
_KIND_ORDER: dict[str, int] = {"end": 0, "claim": 1, "expire": 2}
"""At one instant a node first finishes, then claims: a freed node can take the next job."""


def node_keypair(market: MarketSpec, index: int) -> Keypair:
    """Stable key pair of node ``index`` of ``market`` (the same in every sandbox)."""
    seed = hashlib.sha256(f"nosana-sandbox-node:{market.slug}:{index}".encode()).digest()
    return Keypair.from_seed(seed)


def is_active(job: Doc) -> bool:
    return job.get("state") in ACTIVE_STATES


@dataclass(frozen=True)
class NetworkEvent:
    at: float
    kind: EventKind
    job_id: str

    @property
    def order(self) -> tuple[float, int, str]:
        return (self.at, _KIND_ORDER[self.kind], self.job_id)


class Network:
    def __init__(
        self, store: Store, clock: Clock, payments: Payments, config: WorkerConfig, *, seed: int
    ) -> None:
        self._store = store
        self._clock = clock
        self._payments = payments
        self._config = config
        self._seed = seed
        self._pools: dict[str, tuple[str, ...]] = {
            m.address: tuple(str(node_keypair(m, i).pubkey()) for i in range(m.nodes))
            for m in MARKETS
        }
        self._node_keys: dict[str, Keypair] = {
            str(node_keypair(m, i).pubkey()): node_keypair(m, i)
            for m in MARKETS
            for i in range(m.nodes)
        }
        # the earliest node event depends on the jobs alone: kept until a job is written
        self._next_event: tuple[int, NetworkEvent | None] | None = None

    # -- public queries -------------------------------------------------------------------
    def nodes(self, market_address: str) -> tuple[str, ...]:
        return self._pools.get(market_address, ())

    def node_keypair(self, address: str) -> Keypair | None:
        """The key a simulated node signs job-host requests with."""
        return self._node_keys.get(address)

    def idle_nodes(self, market_address: str) -> int:
        pool = self._pools.get(market_address)
        if pool is None:
            return 0
        busy = self._store.count("jobs", state="RUNNING", market=market_address)
        return max(0, len(pool) - busy)

    # -- seeded draws ---------------------------------------------------------------------
    def uniform(self, job: str, purpose: str) -> float:
        """A number in [0, 1) fixed by (seed, job, purpose)."""
        digest = hashlib.sha256(f"{self._seed}:{job}:{purpose}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def post_results(self, job: Doc, *, end_s: float, stopped: bool) -> None:
        """The node's upload when a job it ran ends (jobs never claimed have no node, no upload)."""
        if not job.get("node") or not job.get("time_start"):
            return
        definition = job.get("job_definition")  # a credit job carries its own
        if not isinstance(definition, dict):
            revision = self._store.find_one(
                "revisions", deployment=job.get("deployment"), revision=job.get("revision")
            )
            definition = (revision or {}).get("job_definition") or {}
        address = str(job["job"])
        body = build_job_results(
            definition,
            start_s=float(job["time_start"]),
            end_s=end_s,
            draw=lambda purpose: self.uniform(address, f"results:{purpose}"),
            failure_probability=self._config.failure_probability,
            stopped=stopped,
        )
        save_job_results(self._store, job, body, created_at=self._clock.now_iso())

    def new_job_address(self) -> str:
        counter = int(self._store.meta_get(_JOB_COUNTER_KEY, 0)) + 1
        self._store.meta_set(_JOB_COUNTER_KEY, counter)
        seed = hashlib.sha256(f"nosana-sandbox-job:{self._seed}:{counter}".encode()).digest()
        return str(Keypair.from_seed(seed).pubkey())

    def planned_runtime(self, job: str, timeout_s: int) -> int | None:
        """Seconds until the container exits by itself, or None: it runs to its timeout."""
        if self.uniform(job, "early-exit") >= self._config.early_exit_probability:
            return None
        low, high = self._config.early_exit_span
        fraction = low + (high - low) * self.uniform(job, "exit-at")
        return max(1, int(timeout_s * fraction))

    # -- simulation -----------------------------------------------------------------------
    def plan_claims(self, now: float) -> int:
        """Reserve free nodes for the oldest unplanned queued jobs; returns jobs planned."""
        chosen: list[tuple[str, str]] = []
        with self._store.lock:
            for market, pool in self._pools.items():
                free = len(pool) - self._store.count("jobs", state="RUNNING", market=market)
                for job in self._store.scan("jobs", state="QUEUED", market=market):
                    if free <= 0:
                        break
                    free -= 1  # a planned job holds its node; an unplanned one takes one now
                    if job.get("claim_at") is None:
                        chosen.append((str(job["_id"]), str(job["job"])))
            # still under the lock: no API thread deletes one of them in between
            for oid, address in chosen:
                self._store.update(
                    "jobs", oid, {"claim_at": math.ceil(now) + self._claim_delay(address)}
                )
        return len(chosen)

    def next_event(self) -> NetworkEvent | None:
        """The earliest node event: a running job ending, a planned claim, or the oldest
        unplanned job of a market expiring (queues are FIFO, so later ones expire later)."""
        events: list[NetworkEvent] = []
        with self._store.lock:
            generation = self._store.generation("jobs")
            if self._next_event is not None and self._next_event[0] == generation:
                return self._next_event[1]
            for job in self._store.scan("jobs", state="RUNNING"):
                events.append(NetworkEvent(job_end_time(job), "end", str(job["_id"])))
            for market in self._queued_markets():
                for job in self._store.scan("jobs", state="QUEUED", market=market):
                    events.append(self._queued_event(job))
                    if job.get("claim_at") is None:
                        break
            earliest = min(events, key=lambda e: e.order) if events else None
            self._next_event = (generation, earliest)
        return earliest

    def run_event(self, event: NetworkEvent) -> None:
        job = self._store.get("jobs", event.job_id)
        if job is None or not is_active(job):
            return
        if event.kind == "claim":
            self._claim(job, event.at)
        elif event.kind == "end":
            self._finish(job, "COMPLETED", event.at)
        else:
            self._finish(job, "STOPPED", event.at)

    # -- internals ------------------------------------------------------------------------
    def _claim_delay(self, address: str) -> int:
        low, high = self._config.claim_delay_s
        return low + int(self.uniform(address, "claim") * (high - low + 1))

    def _queued_markets(self) -> list[str]:
        """Markets with queued jobs: the simulated ones, and any other a stored job names (read
        from the store's (state, market) index, not from the queued jobs themselves)."""
        markets = list(self._pools)
        for state, market in self._store.index_values("jobs", ("state", "market")):
            if state == "QUEUED" and isinstance(market, str) and market not in self._pools:
                markets.append(market)
        return markets

    def _queued_event(self, job: Mapping[str, Any]) -> NetworkEvent:
        claim_at = job.get("claim_at")
        if claim_at is not None:
            return NetworkEvent(float(claim_at), "claim", str(job["_id"]))
        spec = find_market(str(job.get("market")))
        expiration = spec.job_expiration_s if spec else 24 * 3600
        return NetworkEvent(
            parse_iso(str(job["created_at"])) + expiration, "expire", str(job["_id"])
        )

    def _claim(self, job: Doc, at: float) -> None:
        pool = self._pools.get(str(job.get("market")), ())
        with self._store.lock:
            busy = {
                j.get("node")
                for j in self._store.scan("jobs", state="RUNNING", market=job.get("market"))
            }
        idle = [node for node in pool if node not in busy]
        wanted = job.get("target_node")  # a credit job posted for one node waits for it
        if wanted is not None:
            idle = [node for node in idle if node == wanted]
        if not idle:
            # only after a config change across a restart: try again later, still planned, so
            # the planned jobs stay the oldest of the queue
            retry_at = math.ceil(at) + max(1, self._claim_delay(job["job"]))
            self._store.update("jobs", job["_id"], {"claim_at": retry_at})
            return
        node = idle[int(self.uniform(job["job"], "node") * len(idle))]
        self._store.update(
            "jobs",
            job["_id"],
            {
                "state": "RUNNING",
                "node": node,
                "time_start": whole_seconds(at),
                "claim_at": None,
                "updated_at": iso(at),  # the claim's instant, so a later end never precedes it
            },
        )

    def _finish(self, job: Doc, state: str, at: float) -> None:
        settlement = settlement_for(job, end_ts=at)
        try:
            signature = self._payments.settle(job, settlement)
            fields = ended_job_fields(state, settlement, signature, at)
        except Exception as exc:  # the job still ends on the node; the money stays in escrow
            log.warning("settling job %s failed: %s", job["job"], exc)
            fields = {"state": state, "claim_at": None, "settle_error": str(exc), **end_stamp(at)}
        self._store.update("jobs", job["_id"], fields)
        self.post_results(job, end_s=at, stopped=state == "STOPPED")


def job_end_time(job: Mapping[str, Any]) -> float:
    """When a running job's container stops: its own exit or the on-chain timeout."""
    start = float(job.get("time_start") or 0)
    timeout_s = int(job["timeout_s"])
    run = job.get("run_seconds")
    return start + (min(int(run), timeout_s) if run is not None else timeout_s)
