"""Read the :class:`Facts` the alert rules need: the watcher's rows, plus what only a request can
tell (a deployment's timeout and vault, balances, prices, a finished job's results).

Only what the current rules need is fetched. A fetch that fails leaves its keys out of the facts
(the rules then report them as unknown and no episode opens or closes on a guess); it is
logged once per kind of failure, never with a secret.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from nosana_nb.core._shared.markets import estimate_cost
from nosana_nb.core.client import AsyncNosanaClient
from nosana_nb.core.deployments import AsyncDeployment
from nosana_nb.core.errors import NosanaError
from nosana_nb.core.models import Market
from nosana_nb.watch._alert_rules import BURNING_STATUSES, Facts, JobFact, Needs

logger = logging.getLogger("nosana_nb.watch.alerts")

_RANK = {"QUEUED": 0, "RUNNING": 1, "COMPLETED": 2, "STOPPED": 2}
LISTED_PAGE = 100
RESULTS_PER_TICK = 50
"""Finished jobs whose results one evaluation reads at most (the rest wait for the next)."""


def facts_from_rows(
    rows: Iterable[Mapping[str, Any]], deployments: tuple[str, ...], now: datetime
) -> Facts:
    """Statuses and job states as the stream reported them."""
    facts = Facts(now=now, deployments=deployments)
    jobs: dict[str, dict[str, JobFact]] = {d: {} for d in deployments}
    for row in rows:
        deployment = row["deployment"]
        if deployment not in jobs:
            continue
        if row["type"] == "deployment":
            facts.statuses[deployment] = row["status"]
            continue
        state, when, address = row["state"], row["time"], row["job"]
        known = jobs[deployment].get(address) or JobFact(state=state)
        if _RANK.get(state, -1) >= _RANK.get(known.state, -1):
            known = JobFact(state, known.queued_at, known.started_at, known.ended_at)
        if state == "QUEUED":
            known = JobFact(known.state, when, known.started_at, known.ended_at)
        elif state == "RUNNING":
            known = JobFact(known.state, known.queued_at, when, known.ended_at)
        elif state in ("COMPLETED", "STOPPED"):
            known = JobFact(known.state, known.queued_at, known.started_at, when)
        jobs[deployment][address] = known
    facts.jobs = jobs
    return facts


def _burn_per_hour(market: Market | None, replicas: int, *, usd: bool) -> Decimal | None:
    if market is None or replicas < 1:
        return None
    try:
        estimate = estimate_cost(market, replicas=replicas, timeout=timedelta(hours=1))
    except NosanaError:
        return None  # the market publishes no price
    return estimate.usd_per_hour_with_fee if usd else estimate.nos_per_hour_with_fee


def _runway(balance: Decimal, per_hour: Decimal | None) -> timedelta | None:
    if per_hour is None or per_hour <= 0:
        return None
    return timedelta(hours=float(max(balance, Decimal(0)) / per_hour))


class FactReader:
    """Fetches for one watcher; keeps what does not change (prices, finished jobs' verdicts)."""

    def __init__(self) -> None:
        self._markets: dict[str, Market] | None = None
        self.failed: dict[str, bool] = {}
        self._complained: set[str] = set()

    def _warn(self, what: str, err: BaseException) -> None:
        if what not in self._complained:
            self._complained.add(what)
            logger.warning(
                "alerts: cannot read %s (%s); the rules wait for it", what, type(err).__name__
            )

    async def fill(
        self, client: AsyncNosanaClient, facts: Facts, needs: frozenset[Needs], window: timedelta
    ) -> None:
        """Add what ``needs`` asks for to ``facts`` (in place)."""
        handles: dict[str, AsyncDeployment] = {}
        if needs:
            handles = await self._deployments(client, facts)
        if needs & {"vaults", "credits"}:
            await self._load_markets(client)
        if "vaults" in needs:
            await self._vault_runways(handles, facts)
        if "credits" in needs:
            await self._credit_runway(client, handles, facts)
        if "results" in needs:
            await self._results(handles, facts, window)
        if "listed" in needs:
            await self._listed(handles, facts)
        facts.failed = dict(self.failed)

    async def _deployments(
        self, client: AsyncNosanaClient, facts: Facts
    ) -> dict[str, AsyncDeployment]:
        got = await asyncio.gather(
            *(client.deployments.get(d) for d in facts.deployments), return_exceptions=True
        )
        handles: dict[str, AsyncDeployment] = {}
        for deployment, handle in zip(facts.deployments, got, strict=True):
            if isinstance(handle, AsyncDeployment):
                handles[deployment] = handle
                facts.timeouts[deployment] = handle.timeout
                facts.strategies[deployment] = str(
                    getattr(handle.strategy, "value", handle.strategy)
                )
            elif isinstance(handle, Exception):
                self._warn("deployment details", handle)
            elif isinstance(handle, BaseException):
                raise handle
        return handles

    async def _load_markets(self, client: AsyncNosanaClient) -> None:
        if self._markets is not None:
            return
        try:
            markets = await client.markets.list()
        except NosanaError as err:
            self._warn("market prices", err)
            return
        self._markets = {m.address: m for m in markets}

    def _market(self, address: str) -> Market | None:
        return None if self._markets is None else self._markets.get(address)

    async def _vault_runways(self, handles: dict[str, AsyncDeployment], facts: Facts) -> None:
        if self._markets is None:
            return
        paid = {
            d: h for d, h in handles.items() if h.vault_address != h.owner
        }  # an API-key deployment's "vault" is its owner: it pays with credits
        for deployment, handle in handles.items():
            if deployment not in paid or str(handle.status) not in BURNING_STATUSES:
                facts.vault_runway[deployment] = None
        burning = {d: h for d, h in paid.items() if str(h.status) in BURNING_STATUSES}
        balances = await asyncio.gather(
            *(h.vault.get_balance() for h in burning.values()), return_exceptions=True
        )
        for (deployment, handle), balance in zip(burning.items(), balances, strict=True):
            if isinstance(balance, BaseException):
                if not isinstance(balance, Exception):
                    raise balance
                self._warn("vault balances", balance)
                continue
            per_hour = _burn_per_hour(self._market(handle.market), handle.replicas, usd=False)
            facts.vault_runway[deployment] = _runway(balance.nos, per_hour)

    async def _credit_runway(
        self, client: AsyncNosanaClient, handles: dict[str, AsyncDeployment], facts: Facts
    ) -> None:
        if self._markets is None or len(handles) < len(facts.deployments):
            return
        try:
            balance = await client.credits.balance()
        except NosanaError as err:
            self._warn("the credits balance", err)
            return
        per_hour = Decimal(0)
        for handle in handles.values():
            if handle.vault_address == handle.owner and str(handle.status) in BURNING_STATUSES:
                burn = _burn_per_hour(self._market(handle.market), handle.replicas, usd=True)
                per_hour += burn or Decimal(0)
        facts.credit_runway = _runway(balance.available, per_hour)
        facts.credit_runway_known = True

    async def _listed(self, handles: dict[str, AsyncDeployment], facts: Facts) -> None:
        """Listing times and states of the newest jobs of deployments with an active job."""
        queued = [
            handle
            for deployment, handle in handles.items()
            if any(
                j.state in ("QUEUED", "RUNNING") for j in facts.jobs.get(deployment, {}).values()
            )
        ]
        pages = await asyncio.gather(
            *(h.get_jobs(limit=LISTED_PAGE, sort_order="desc").first_page() for h in queued),
            return_exceptions=True,
        )
        for page in pages:
            if isinstance(page, BaseException):
                if not isinstance(page, Exception):
                    raise page
                self._warn("the jobs list", page)
                continue
            for job in page.items:
                facts.listed_state[job.job] = str(job.state)
                if job.created_at is not None:
                    facts.listed_at[job.job] = job.created_at

    async def _results(
        self, handles: dict[str, AsyncDeployment], facts: Facts, window: timedelta
    ) -> None:
        since = facts.now - window
        wanted = [
            (deployment, address)
            for deployment, jobs in facts.jobs.items()
            for address, job in jobs.items()
            if deployment in handles
            and job.ended_at is not None
            and job.ended_at > since
            and address not in self.failed
        ][:RESULTS_PER_TICK]
        if not wanted:
            return

        async def verdict(deployment: str, address: str) -> None:
            results = await handles[deployment].get_job_results(address)
            self.failed[address] = bool(results is not None and results.failed)

        got = await asyncio.gather(*(verdict(d, a) for d, a in wanted), return_exceptions=True)
        for outcome in got:
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome
                self._warn("job results", outcome)
