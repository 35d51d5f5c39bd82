"""Job money for the worker: deposits from a deployment's vault and settlement of finished jobs.

Keypair vaults pay on the sandbox chain (``Chain.escrow`` / ``Chain.settle``). API-key vaults
(``vault_key = "apikey:<key>"``) pay in credits (``credits.CreditLedger``): a deposit reserves
its USD value, the end of the job settles what it used; their transactions get a deterministic
stand-in signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from solders.signature import Signature

from nosana_nb.sandbox.clock import iso, whole_seconds
from nosana_nb.sandbox.store import Doc, Store

from .credits import CreditLedger, InsufficientCredits, credit_account, micro_usd

API_KEY_PREFIX = "apikey:"


class EscrowChain(Protocol):
    """The part of ``sandbox.chain.Chain`` the worker pays with."""

    def escrow(self, vault_secret: bytes, base_units: int, fee_units: int = 0) -> str: ...

    def settle(self, vault: str, node: str, pay: int, refund: int) -> str: ...


class PaymentError(Exception):
    """A deposit or settlement that cannot even be attempted (no vault, unknown market)."""


@dataclass(frozen=True)
class Settlement:
    pay: int
    refund: int


def settlement_for(job: Doc, *, end_ts: float) -> Settlement:
    """What ending ``job`` at ``end_ts`` pays its node and refunds (jobs program end/delist).

    A running job pays ``price * min(elapsed, timeout)``, ``elapsed`` in the whole seconds
    :func:`end_stamp` records for the same ``end_ts``; a queued job is refunded in full.
    """
    escrowed = int(job.get("escrowed") or 0)
    pay = 0
    if job.get("node") and job.get("time_start"):
        elapsed = max(0, whole_seconds(end_ts) - int(job["time_start"]))
        pay = int(job["price"]) * min(elapsed, int(job["timeout_s"]))
        pay = min(pay, escrowed)
    return Settlement(pay=pay, refund=escrowed - pay)


def end_stamp(end_ts: float) -> Doc:
    """The times an ended job shows, all from the one instant its settlement pays up to.

    ``time_end`` (detail, stream) and ``updated_at`` (the jobs list, whose clients read it as the
    end) fall in the same second as the ``end_ts`` given to :func:`settlement_for`: a second
    clock read after the settlement would bill time the node was never paid for.
    """
    return {"time_end": whole_seconds(end_ts), "updated_at": iso(end_ts)}


def ended_job_fields(state: str, settlement: Settlement, signature: str, end_ts: float) -> Doc:
    """What an ended, settled job's record becomes: its final state, the settlement and its
    transaction, and the times of :func:`end_stamp` for the same ``end_ts``."""
    return {
        "state": state,
        "claim_at": None,
        "paid": settlement.pay,
        "refunded": settlement.refund,
        "settle_tx": signature,
        **end_stamp(end_ts),
    }


class Payments:
    def __init__(self, store: Store, chain: EscrowChain) -> None:
        self._store = store
        self._chain = chain
        self.credits = CreditLedger(store)

    def escrow(self, vault: str, base_units: int, *, fee_units: int = 0, reference: str) -> str:
        """Deposit ``base_units`` NOS from ``vault`` and pay ``fee_units`` of network fee;
        returns the transaction signature.

        Chain failures propagate unchanged: their message is what the error events show.
        """
        key = self._vault_key(vault)
        if key.startswith(API_KEY_PREFIX):
            job = reference.split(":", 1)[0]
            account = credit_account(key.removeprefix(API_KEY_PREFIX))
            try:
                self.credits.reserve(account, job, micro_usd(base_units + fee_units))
            except InsufficientCredits as exc:
                raise PaymentError(str(exc)) from None
            return credit_signature("escrow", vault, reference, base_units)
        try:
            secret = bytes.fromhex(key)
        except ValueError:
            raise PaymentError(f"Vault {vault} has an unreadable key") from None
        return self._chain.escrow(secret, base_units, fee_units)

    def settle(self, job: Doc, settlement: Settlement) -> str:
        account = job.get("credit_account")
        if isinstance(account, str):  # a single job of the jobs API, paid with credits
            used = micro_usd(settlement.pay) + micro_usd(int(job.get("fees_paid") or 0))
            self.credits.settle(account, str(job["job"]), used)
            return credit_signature("settle", account, str(job["job"]), settlement.pay)
        vault = str(job["vault"])
        key = self._vault_key(vault)
        if key.startswith(API_KEY_PREFIX):
            used = micro_usd(settlement.pay) + micro_usd(int(job.get("fees_paid") or 0))
            account = credit_account(key.removeprefix(API_KEY_PREFIX))
            self.credits.settle(account, str(job["job"]), used)
            return credit_signature("settle", vault, str(job["job"]), settlement.pay)
        # A delisted job has no node; the payout to "the node" is then zero anyway.
        node = str(job.get("node") or vault)
        return self._chain.settle(vault, node, settlement.pay, settlement.refund)

    def _vault_key(self, vault: str) -> str:
        doc = self._store.find_one("vaults", vault=vault)
        if doc is None or not isinstance(doc.get("vault_key"), str):
            raise PaymentError("Vault not found.")
        return str(doc["vault_key"])


def credit_signature(kind: str, vault: str, reference: str, amount: int) -> str:
    """A deterministic stand-in signature for a transaction the Client Manager sends."""
    digest = hashlib.sha512(f"nosana-sandbox-credits:{kind}:{vault}:{reference}:{amount}".encode())
    return str(Signature.from_bytes(digest.digest()))
