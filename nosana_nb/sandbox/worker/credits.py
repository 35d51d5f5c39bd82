"""Credits of API-key users: assigned - reserved - settled, in micro-USD.

What the Client Manager does for API-key deployments, as the sandbox plays it: a deposit (a
listing or an extension, with its network fee) reserves its USD value; when the job ends the
reservations for it are released and what it used (the node's pay plus the fees, which are
never refunded) is settled. A reservation larger than what is available fails with the
service's ``Insufficient credits. Available: $X, Required: $Y``, which the worker treats as a
funds error. NOS converts to USD at the sandbox's fixed rate (``markets.NOS_USD``).
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_CEILING, Decimal
from typing import Any

from nosana_nb.sandbox.store import Store

from .markets import NOS_USD

MICRO = 10**6
_COLLECTION = "credits"
_RESERVATIONS = "credit_reservations"


class InsufficientCredits(Exception):
    """A reservation the owner's available credits cannot cover."""


def credit_account(api_key: str) -> str:
    """The ledger entry of an API key (a digest: the key itself is never stored here)."""
    return "key:" + hashlib.sha256(f"nosana-sandbox-credits:{api_key}".encode()).hexdigest()


def micro_usd(nos_base_units: int) -> int:
    """USD value of NOS base units, in micro-USD, rounded up."""
    exact = Decimal(nos_base_units) * NOS_USD
    return int(exact.to_integral_value(rounding=ROUND_CEILING))


def _dollars(micro: int) -> str:
    return f"{Decimal(micro) / MICRO:.2f}"


class CreditLedger:
    def __init__(self, store: Store) -> None:
        self._store = store

    def _account(self, owner: str) -> dict[str, Any]:
        found = self._store.find_one(_COLLECTION, owner=owner)
        if found is not None:
            return found
        return self._store.insert(
            _COLLECTION, {"owner": owner, "assigned": 0, "reserved": 0, "settled": 0}
        )

    def assign(self, owner: str, micro: int) -> dict[str, Any]:
        """Add ``micro`` micro-USD to what ``owner`` was assigned."""
        with self._store.transaction():
            account = self._account(owner)
            self._store.update(
                _COLLECTION, account["_id"], {"assigned": account["assigned"] + micro}
            )
        return self.balance(owner)

    def balance(self, owner: str) -> dict[str, Any]:
        """``{assignedCredits, reservedCredits, settledCredits}`` in USD (the route's body)."""
        account = self._store.find_one(_COLLECTION, owner=owner) or {
            "assigned": 0,
            "reserved": 0,
            "settled": 0,
        }
        return {
            "assignedCredits": account["assigned"] / MICRO,
            "reservedCredits": account["reserved"] / MICRO,
            "settledCredits": account["settled"] / MICRO,
        }

    def reserve(self, owner: str, job: str, micro: int) -> str:
        """Hold ``micro`` micro-USD for ``job``; returns the reservation's id."""
        with self._store.transaction():
            account = self._account(owner)
            available = account["assigned"] - account["reserved"] - account["settled"]
            if micro > available:
                raise InsufficientCredits(
                    f"Insufficient credits. Available: ${_dollars(max(0, available))}, "
                    f"Required: ${_dollars(micro)}"
                )
            self._store.update(
                _COLLECTION, account["_id"], {"reserved": account["reserved"] + micro}
            )
            held = self._store.insert(_RESERVATIONS, {"owner": owner, "job": job, "micro": micro})
        return str(held["_id"])

    def settle(self, owner: str, job: str, used_micro: int) -> None:
        """Release ``job``'s reservations and settle what it used."""
        with self._store.transaction():
            account = self._account(owner)
            held = self._store.find(_RESERVATIONS, owner=owner, job=job)
            released = sum(int(r["micro"]) for r in held)
            for reservation in held:
                self._store.delete(_RESERVATIONS, reservation["_id"])
            self._store.update(
                _COLLECTION,
                account["_id"],
                {
                    "reserved": account["reserved"] - released,
                    "settled": account["settled"] + used_micro,
                },
            )
