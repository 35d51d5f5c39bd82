"""``GET /api/credits/balance``, the jobs API (single jobs paid with credits) and the
sandbox's admin route that assigns credits.

Credits belong to an API key (``Bearer nos_...``); the ledger keeps a digest of the key.
Available credits are assigned - reserved - settled (``worker.credits``); the jobs API's
bookkeeping is ``worker.credit_jobs``. See docs/wire-contract.md#credits.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from nosana_nb.sandbox.api import ipfs
from nosana_nb.sandbox.context import SandboxContext
from nosana_nb.sandbox.http.routing import ApiError, Call, Reply
from nosana_nb.sandbox.http.serialize import SYSTEM_PROGRAM, credit_job_to_wire
from nosana_nb.sandbox.worker.credit_jobs import CreditJobError, Listing
from nosana_nb.sandbox.worker.credits import MICRO, CreditLedger, credit_account
from nosana_nb.sandbox.worker.markets import find_market
from nosana_nb.sandbox.worker.results import find_job_results

MAX_JOB_SECONDS = 10 * 365 * 24 * 3600
"""A sanity cap on one job's (or one extension's) seconds: ten years."""


def balance(ctx: SandboxContext, call: Call) -> Reply:
    """An API key's credits (``Bearer nos_...``); a wallet caller has none of its own."""
    return Reply(CreditLedger(ctx.store).balance(_account(call)))


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


# -- the jobs API: single jobs paid with credits ----------------------------------------------
def _account(call: Call) -> str:
    api_key = call.principal.api_key
    return credit_account(api_key) if api_key is not None else call.principal.owner


def _whole_seconds(value: object, name: str) -> int | None:
    """``number | string`` of the types as whole seconds > 0; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = Decimal("NaN")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = Decimal(str(value))
    else:
        number = Decimal("NaN")
    if not number.is_finite() or number <= 0 or number != number.to_integral_value():
        raise ApiError(400, f"{name} must be a positive whole number of seconds")
    if number > MAX_JOB_SECONDS:
        raise ApiError(400, f"{name} must be at most {MAX_JOB_SECONDS} seconds")
    return int(number)


def _call_jobs(action: Callable[[], dict[str, Any]]) -> Reply:
    try:
        return Reply(action())
    except CreditJobError as refusal:
        raise ApiError(refusal.status, refusal.message) from None


def list_job(ctx: SandboxContext, call: Call) -> Reply:
    """``POST /api/jobs/list {ipfsHash, market, timeout?, node?}``: one job paid with credits."""
    body = call.body
    cid = str(body["ipfsHash"]).strip()
    definition = ipfs.fetch(ctx.store, cid)
    if not isinstance(definition, dict):
        shown = cid if len(cid) <= 64 else cid[:64] + "..."  # never echo a huge body back
        raise ApiError(400, f"No job definition is pinned at {shown}")
    listing = Listing(
        ipfs_hash=cid,
        market=str(body["market"]).strip(),
        timeout_s=_whole_seconds(body.get("timeout"), "timeout"),
        node=body.get("node"),
        job_definition=definition,
    )
    return _call_jobs(lambda: ctx.worker.credit_jobs.list_job(_account(call), listing))


def get_job(ctx: SandboxContext, call: Call) -> Reply:
    """``GET /api/jobs/{address}``: any job as the chain holds it (no authentication)."""
    job = ctx.store.find_one("jobs", job=call.params["address"])
    if job is None:
        raise ApiError(404, "Job not found")
    definition = job.get("job_definition")
    cid = job.get("ipfs_job")
    if not isinstance(definition, dict):  # a deployment's job: its revision's definition
        revision = ctx.store.find_one(
            "revisions", deployment=job.get("deployment"), revision=job.get("revision")
        )
        definition = (revision or {}).get("job_definition")
        cid = (revision or {}).get("ipfs_definition_hash")
    result = find_job_results(ctx.store, str(job["job"]))
    spec = find_market(str(job.get("market")))
    return Reply(
        credit_job_to_wire(
            job,
            ipfs_job=str(cid or ""),
            payer=str(job.get("project") or job.get("vault") or SYSTEM_PROGRAM),
            job_definition=definition,
            result=result.get("body") if result else None,
            usd_reward_per_hour=float(spec.usd_reward_per_hour) if spec else None,
        )
    )


def extend_job(ctx: SandboxContext, call: Call) -> Reply:
    """``POST /api/jobs/{address}/extend {seconds?}``: more time, paid with credits."""
    body = call.body if isinstance(call.body, dict) else {}
    seconds = _whole_seconds(body.get("seconds"), "seconds")
    address = call.params["address"]
    return _call_jobs(lambda: ctx.worker.credit_jobs.extend(_account(call), address, seconds))


def stop_job(ctx: SandboxContext, call: Call) -> Reply:
    """``POST /api/jobs/{address}/stop``: end the job (delist it when not started)."""
    address = call.params["address"]
    return _call_jobs(lambda: ctx.worker.credit_jobs.stop(_account(call), address))
