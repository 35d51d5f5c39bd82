"""``GET /api/credits/balance`` and the sandbox's admin route that assigns credits.

Credits belong to an API key (``Bearer nos_...``); the ledger keeps a digest of the key.
Available credits are assigned - reserved - settled (``worker.credits``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from nosana_nb.sandbox.context import SandboxContext
from nosana_nb.sandbox.http.routing import ApiError, Call, Reply
from nosana_nb.sandbox.worker.credits import MICRO, CreditLedger, credit_account


def balance(ctx: SandboxContext, call: Call) -> Reply:
    """An API key's credits (``Bearer nos_...``); a wallet caller has none of its own."""
    api_key = call.principal.api_key
    account = credit_account(api_key) if api_key is not None else call.principal.owner
    return Reply(CreditLedger(ctx.store).balance(account))


def assign(ctx: SandboxContext, call: Call) -> Reply:
    """``{api_key, usd}``: add ``usd`` (a decimal string or number) to the key's credits."""
    body = call.body if isinstance(call.body, dict) else {}
    api_key = body.get("api_key")
    if not isinstance(api_key, str) or not api_key.startswith("nos_"):
        raise ApiError(400, "api_key must be a nos_... key")
    usd = body.get("usd")
    try:
        amount = Decimal(str(usd)) if isinstance(usd, str | int | float) else None
    except InvalidOperation:
        amount = None
    if amount is None or isinstance(usd, bool) or not amount.is_finite() or amount < 0:
        raise ApiError(400, "usd must be a finite amount >= 0")
    micro = amount * MICRO
    if micro != micro.to_integral_value():
        raise ApiError(400, "usd has more than 6 decimals")
    return Reply(CreditLedger(ctx.store).assign(credit_account(api_key), int(micro)))
