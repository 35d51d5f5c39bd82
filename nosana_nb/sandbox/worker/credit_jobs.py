"""Single jobs paid with credits: the jobs API of the dashboard backend, as the sandbox plays it.

``POST /api/jobs/list`` posts one job on a market for an API key (or a wallet) with credits:
its deposit (price × timeout) plus the network fee is reserved, in USD at the sandbox's rate,
the job joins the market's queue like any deployment's job, and the simulated nodes claim,
run and end it. ``extend`` reserves the next deposit and fee and raises the on-chain timeout;
``stop`` ends a running job (the node is paid for its time) or delists a queued one. When a
job ends, its reservations are released and what it used (the node's pay plus every fee, never
refunded) is settled (``credits.CreditLedger``). Transactions get deterministic stand-in
signatures: credit jobs are posted by the Client Manager, not by the caller's wallet.

The calls run under the worker's lock, so a job is never ended twice by a request and a node.
Each listing, extension and stop counts in ``GET /stats``'s ``jobs`` like a deployment's.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from solders.keypair import Keypair

from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.store import Doc, Store

from .credits import MICRO, InsufficientCredits, micro_usd
from .markets import find_market, network_fee
from .network import Network
from .payments import Payments, credit_signature, ended_job_fields, settlement_for
from .stats import WorkerStats

ACTIVE = ("QUEUED", "RUNNING")


class CreditJobError(Exception):
    """A refused call: ``status`` and ``message`` are the route's answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def project_address(account: str) -> str:
    """The address that posts (and pays for) an account's credit jobs on chain: stable."""
    seed = hashlib.sha256(f"nosana-sandbox-credit-project:{account}".encode()).digest()
    return str(Keypair.from_seed(seed).pubkey())


def _run_address(job: str) -> str:
    seed = hashlib.sha256(f"nosana-sandbox-credit-run:{job}".encode()).digest()
    return str(Keypair.from_seed(seed).pubkey())


def _usd(micro: int) -> float:
    return float(Decimal(micro) / MICRO)


@dataclass(frozen=True)
class Listing:
    ipfs_hash: str
    market: str
    timeout_s: int | None
    node: str | None
    job_definition: Any


class CreditJobs:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        network: Network,
        payments: Payments,
        lock: threading.RLock,
        stats: WorkerStats,
    ) -> None:
        self._store = store
        self._clock = clock
        self._network = network
        self._payments = payments
        self._lock = lock
        self._stats = stats

    def list_job(self, account: str, listing: Listing) -> dict[str, Any]:
        """Post one job paid with ``account``'s credits.

        Args:
            account: The credit ledger entry that pays (``credits.credit_account``).
            listing: What to post; ``timeout_s`` None means the market's job timeout.

        Returns:
            The body of ``POST /api/jobs/list``.

        Raises:
            CreditJobError: Unknown market (404), a node outside it or too few credits (400).
        """
        spec = find_market(listing.market)
        if spec is None:
            raise CreditJobError(404, "Market not found")
        if listing.node is not None and listing.node not in self._network.nodes(spec.address):
            raise CreditJobError(400, f"Node {listing.node} is not in market {spec.address}")
        timeout_s = listing.timeout_s or spec.job_timeout_s
        deposit = spec.job_price * timeout_s
        fee = network_fee(deposit)
        micro = micro_usd(deposit + fee)
        with self._lock:
            job = self._network.new_job_address()
            reservation = self._reserve(account, job, micro)
            signature = credit_signature("list", account, job, deposit)
            now_iso = self._clock.now_iso()
            self._store.insert(
                "jobs",
                {
                    "tx": signature,
                    "deployment": None,
                    "credit_account": account,
                    "project": project_address(account),
                    "ipfs_job": listing.ipfs_hash,
                    "job_definition": listing.job_definition,
                    "target_node": listing.node,
                    "job": job,
                    "market": spec.address,
                    "node": None,
                    "revision": None,
                    "state": "QUEUED",
                    "time_start": 0,
                    "time_end": 0,
                    "created_at": now_iso,
                    "updated_at": now_iso,
                    "vault": None,
                    "price": spec.job_price,
                    "timeout_s": timeout_s,
                    "listed_timeout_s": timeout_s,
                    "escrowed": deposit,
                    "fees_paid": fee,
                    "run_seconds": self._network.planned_runtime(job, timeout_s),
                    "paid": None,
                    "refunded": None,
                    "claim_at": None,
                },
            )
        self._count("listed")
        return {
            "tx": signature,
            "job": job,
            "run": _run_address(job),
            "credits": {
                "costUSD": _usd(micro),
                "creditsUsed": _usd(micro),
                "reservationId": reservation,
                "project": project_address(account),
            },
        }

    def extend(self, account: str, address: str, seconds: int | None) -> dict[str, Any]:
        """Add ``seconds`` (default: the job's listed timeout) to an active job's timeout.

        Args:
            account: The caller's credit ledger entry; only its own jobs can be extended.
            address: The job's address.
            seconds: Whole seconds to add, or None for the listed timeout.

        Returns:
            The body of ``POST /api/jobs/{address}/extend``.

        Raises:
            CreditJobError: Not the caller's job (404), an ended job or too few credits (400).
        """
        with self._lock:
            job = self._own_active(account, address)
            seconds = seconds or int(job["listed_timeout_s"])
            deposit = int(job["price"]) * seconds
            fee = network_fee(deposit)
            micro = micro_usd(deposit + fee)
            reservation = self._reserve(account, address, micro)
            signature = credit_signature("extend", account, address, int(job["timeout_s"]))
            self._store.update(
                "jobs",
                job["_id"],
                {
                    "timeout_s": int(job["timeout_s"]) + seconds,
                    "escrowed": int(job["escrowed"]) + deposit,
                    "fees_paid": int(job.get("fees_paid") or 0) + fee,
                    "updated_at": self._clock.now_iso(),
                },
            )
        self._count("extended")
        return {
            "tx": signature,
            "job": address,
            "credits": {
                "costUSD": _usd(micro),
                "creditsUsed": _usd(micro),
                "reservationId": reservation,
            },
        }

    def stop(self, account: str, address: str) -> dict[str, Any]:
        """End a running job (the node is paid for its time) or delist a queued one.

        Args:
            account: The caller's credit ledger entry; only its own jobs can be stopped.
            address: The job's address.

        Returns:
            The body of ``POST /api/jobs/{address}/stop`` (``delisted`` for a queued job).

        Raises:
            CreditJobError: Not the caller's job (404) or an ended one (400).
        """
        with self._lock:
            job = self._own_active(account, address)
            delisted = job["state"] == "QUEUED"
            now = self._clock.now()
            settlement = settlement_for(job, end_ts=now)
            signature = self._payments.settle(job, settlement)
            self._store.update(
                "jobs",
                job["_id"],
                ended_job_fields("STOPPED", settlement, signature, now),
            )
            self._network.post_results(job, end_s=now, stopped=True)
        self._count("stopped")
        return {"tx": signature, "job": address, "delisted": delisted}

    def _count(self, counter: str) -> None:
        """``GET /stats`` counts credit jobs with the deployments' (listed, extended, stopped)."""
        self._stats.add(counter)
        self._stats.flush()

    def _own_active(self, account: str, address: str) -> Doc:
        job = self._store.find_one("jobs", job=address)
        if job is None or job.get("credit_account") != account:
            raise CreditJobError(404, "Job not found")  # another's job is not shown to exist
        if job.get("state") not in ACTIVE:
            raise CreditJobError(400, f"Job {address} has already ended ({job.get('state')}).")
        return job

    def _reserve(self, account: str, job: str, micro: int) -> str:
        try:
            return self._payments.credits.reserve(account, job, micro)
        except InsufficientCredits as exc:  # the Client Manager's message
            raise CreditJobError(400, str(exc)) from None
