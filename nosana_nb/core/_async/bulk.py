"""Bulk actions for asyncio code: read the targets' current state, judge each against the state
machine, then (unless a dry run) act on the allowed ones concurrently. The single source of
``_sync/bulk.py`` (``scripts/unasync.py``; the blocking twin runs its calls on threads).

Nothing is retried blindly: start/stop/archive reconcile inside the handle (the status is
read before any resend), and a row whose outcome stays unknown is reported ``unknown``, not
sent again. Every row gets its own outcome, so a partial failure is never folded away.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from nosana_nb.core import models, routes
from nosana_nb.core._shared.bulk import (
    VAULT_ACTIONS,
    BulkOutcome,
    BulkPreview,
    BulkPreviewRow,
    BulkResult,
    BulkResultRow,
    agather_bounded,
    cancelled_row,
    check_action,
    check_arguments,
    check_concurrency,
    check_dry_run,
    cost_change_per_hour,
    failure_row,
    format_amount,
    interrupted_error,
    price_per_hour,
    refusal,
    refused_row,
    target_ids,
)
from nosana_nb.core._shared.deployments import _funds_plan, _require_signing_wallet
from nosana_nb.core._shared.markets import check_vault_funds
from nosana_nb.core.errors import (
    ActionNotAllowedError,
    APIError,
    DeploymentNotFoundError,
    InsufficientFundsError,
    NosanaError,
    ValidationError,
)

if TYPE_CHECKING:  # the vault module pulls in the SPL token builders: imported on first use
    from nosana_nb.core._async.deployments import (
        AsyncDeployment,
        AsyncDeployments,
        AsyncServices,
    )
    from nosana_nb.core._shared.vaults import TopupPlan, VaultBalance

logger = logging.getLogger("nosana_nb.core.bulk")

_PAGE = 100  # the service's largest page: one list request per 100 ids
ResultCallback = Callable[[BulkResultRow], None]
_LIVE = ("STARTING", "RUNNING", "INSUFFICIENT_FUNDS")


class AsyncBulkRun:
    """One bulk call: checked arguments, the targets read once, the preview, then the acts."""

    def __init__(
        self,
        deployments: AsyncDeployments,
        services: AsyncServices,
        action: Any,
        targets: Any,
        *,
        dry_run: Any,
        max_concurrency: Any,
        on_result: ResultCallback | None,
        arguments: Mapping[str, Any],
    ) -> None:
        # every check before the first request: a typo never reaches the network
        self.action = check_action(action)
        self.arguments = check_arguments(self.action, arguments)
        self.dry_run = check_dry_run(dry_run)
        self.limit = check_concurrency(max_concurrency)
        if on_result is not None and not callable(on_result):
            raise ValidationError("on_result must be callable or None", argument="on_result")
        self.on_result = on_result
        if targets is None and self.action != "withdraw":
            raise ValidationError(
                f"bulk {self.action} needs targets (ids, handles or a table with an 'id' "
                "column); only withdraw takes None (every vault of yours)",
                argument="targets",
            )
        self.ids = None if targets is None else target_ids(targets)
        _require_signing_wallet(services.wallet)
        self._deployments = deployments
        self._services = services
        self._handles: dict[str, AsyncDeployment] = {}
        self._markets: list[models.Market] = []

    # --- reading ------------------------------------------------------------------------------

    async def _read(self, ids: list[str]) -> None:
        chunks = [ids[i : i + _PAGE] for i in range(0, len(ids), _PAGE)]

        async def page_of(chunk: list[str]) -> list[AsyncDeployment]:
            pager = self._deployments.list(id=chunk, limit=_PAGE)
            return list((await pager.first_page()).items)

        for handles in await agather_bounded(self.limit, [partial(page_of, c) for c in chunks]):
            for handle in handles:
                self._handles[handle.id] = handle

    async def _prices(self) -> dict[str, Decimal | None]:
        if self.action not in ("start", "stop", "scale"):
            return {}
        try:
            self._markets = await self._services.markets.list()
        except APIError as err:
            logger.warning("bulk %s: no market prices, costs unknown (%s)", self.action, err)
            return {}
        return {m.address: price_per_hour(m) for m in self._markets}

    async def _newest_revision(self, handle: AsyncDeployment) -> int:
        page = await handle.get_revisions(limit=10, sort_order="desc").first_page()
        return max((r.revision for r in page.items), default=handle.active_revision)

    # --- the preview --------------------------------------------------------------------------

    async def preview(self) -> BulkPreview:
        """Read the targets and judge every one; nothing is changed.

        Returns:
            One row per target (per vault for top-ups and withdrawals) with its verdict.

        Raises:
            APIError: the targets (or the wallet's balances) could not be read.
        """
        vaults = self.action in VAULT_ACTIONS
        rows = await (self._vault_rows() if vaults else self._deployment_rows())
        return BulkPreview(self.action, dict(self.arguments), tuple(rows))

    async def _deployment_rows(self) -> list[BulkPreviewRow]:
        assert self.ids is not None
        await self._read(self.ids)
        prices = await self._prices()
        rows = [self._judge(ident, prices) for ident in self.ids]
        if self.action == "switch_revision":
            rows = await self._check_revisions(rows)
        if self.action == "start" and self.arguments["check_funds"]:
            rows = await self._check_start_funds(rows)
        return rows

    async def _check_start_funds(self, rows: list[BulkPreviewRow]) -> list[BulkPreviewRow]:
        """Each start escrows its jobs from its vault: starts sharing a vault must fit in it
        together (the real run sends only those), as ``start(check_funds=True)`` checks."""
        if self._services.uses_api_key or not self._markets:
            return rows  # credits pay, or no prices: each start checks for itself
        from nosana_nb.core._shared.vaults import VaultBalance

        paying = {
            r.deployment: str(r.vault)
            for r in rows
            if r.allowed and r.vault and r.vault != self._handles[r.deployment].state.owner
        }
        balances = await self._balances(list(dict.fromkeys(paying.values())))
        spent: dict[str, tuple[int, int]] = {}
        checked = []
        for row in rows:
            state = self._handles[row.deployment].state if row.deployment in paying else None
            balance = balances.get(str(row.vault)) if state is not None else None
            estimate = (
                None
                if state is None
                else _funds_plan(state.market, int(state.replicas), state.timeout, self._markets)
            )
            if estimate is None or not isinstance(balance, VaultBalance):
                checked.append(row)  # nothing to check here; the start checks again itself
                continue
            vault = str(row.vault)
            lamports, nos = spent.get(vault, (0, 0))
            left = VaultBalance.from_units(
                balance.lamports - lamports, balance.nos_base_units - nos
            )
            try:
                check_vault_funds(estimate, left, vault)
            except InsufficientFundsError as err:
                checked.append(_refuse(row, err))
                continue
            spent[vault] = (
                lamports + estimate.sol_lamports,
                nos + estimate.nos_base_units_with_fee,
            )
            checked.append(row)
        return checked

    def _judge(self, ident: str, prices: Mapping[str, Decimal | None]) -> BulkPreviewRow:
        handle = self._handles.get(ident)
        if handle is None:
            return BulkPreviewRow(
                deployment=ident,
                action=self.action,
                allowed=False,
                reason=f"deployment {ident} not found (deleted, or another wallet's)",
                reason_type="DeploymentNotFoundError",
            )
        state = handle.state
        status = str(state.status)
        refused = refusal(ident, self.action, status)
        return BulkPreviewRow(
            deployment=ident,
            action=self.action,
            allowed=refused is None,
            name=state.name,
            vault=state.vault,
            status=status,
            strategy=str(state.strategy),
            market=state.market,
            reason=None if refused is None else refused.message,
            reason_type=None if refused is None else type(refused).__name__,
            cost_change_per_hour=Decimal(0)
            if refused is not None  # not sent: nothing changes
            else cost_change_per_hour(self.action, state, self.arguments, prices.get(state.market)),
            error=refused,
        )

    async def _check_revisions(self, rows: list[BulkPreviewRow]) -> list[BulkPreviewRow]:
        """A revision above the active one may not exist: ask each such deployment."""
        wanted = int(self.arguments["revision"])
        unsure = [
            r
            for r in rows
            if r.allowed and wanted > self._handles[r.deployment].state.active_revision
        ]

        async def newest(row: BulkPreviewRow) -> int | NosanaError:
            try:
                return await self._newest_revision(self._handles[row.deployment])
            except NosanaError as err:
                return err

        found = await agather_bounded(self.limit, [partial(newest, r) for r in unsure])
        verdicts: dict[str, int | NosanaError] = {
            r.deployment: n for r, n in zip(unsure, found, strict=True)
        }
        checked = []
        for row in rows:
            verdict = verdicts.get(row.deployment)
            if verdict is None or (isinstance(verdict, int) and wanted <= verdict):
                checked.append(row)
                continue
            if isinstance(verdict, int):
                error: NosanaError = ActionNotAllowedError(
                    f"revision {wanted} does not exist; the newest is {verdict}",
                    deployment=row.deployment,
                    action=self.action,
                    status=row.status or "",
                    allowed_statuses=(),
                )
            else:
                error = verdict
            checked.append(_refuse(row, error))
        return checked

    async def _vault_rows(self) -> list[BulkPreviewRow]:
        groups: dict[str, list[str]] = {}
        rows: list[BulkPreviewRow] = []
        if self.ids is None:
            for info in await self._services.send(routes.list_vaults()):
                groups.setdefault(info.vault, [])
            # the deployments paying from them right now: emptying their vault starves them
            live = self._deployments.list(status=list(_LIVE), limit=_PAGE)
            async for payer in live:
                self._handles[payer.id] = payer
                if payer.state.vault in groups:
                    groups[payer.state.vault].append(payer.id)
        else:
            await self._read(self.ids)
            for ident in self.ids:
                handle = self._handles.get(ident)
                if handle is None:
                    rows.append(self._judge(ident, {}))
                else:
                    groups.setdefault(handle.state.vault, []).append(ident)
        balances = await self._balances(list(groups))
        if self.action == "topup":
            rows += await self._topup_rows(groups, balances)
        else:
            rows += [self._withdraw_row(v, ids, balances[v]) for v, ids in groups.items()]
        return rows

    async def _balances(self, vaults: list[str]) -> dict[str, VaultBalance | NosanaError]:
        async def balance(address: str) -> VaultBalance | NosanaError:
            try:
                return await self._services.vault(address).get_balance()
            except NosanaError as err:
                return err

        found = await agather_bounded(self.limit, [partial(balance, a) for a in vaults])
        return dict(zip(vaults, found, strict=True))

    def _vault_row(self, vault: str, ids: list[str], **fields: Any) -> BulkPreviewRow:
        names = [self._handles[i].state.name for i in ids if i in self._handles]
        statuses = {str(self._handles[i].state.status) for i in ids if i in self._handles}
        return BulkPreviewRow(
            deployment=",".join(ids),
            action=self.action,
            name=", ".join(names) or None,
            vault=vault,
            status=statuses.pop() if len(statuses) == 1 else None,
            cost_change_per_hour=Decimal(0),
            **fields,
        )

    def _is_api_key_vault(self, vault: str, ids: list[str]) -> bool:
        owners = {self._handles[i].state.owner for i in ids if i in self._handles}
        wallet = self._services.wallet
        return vault in owners or (wallet is not None and vault == wallet.address)

    def _not_allowed(self, vault: str, ids: list[str], why: str) -> ActionNotAllowedError:
        return ActionNotAllowedError(
            why,
            deployment=",".join(ids),
            action=self.action,
            status="",
            allowed_statuses=(),
        )

    def _withdraw_row(
        self, vault: str, ids: list[str], balance: VaultBalance | NosanaError
    ) -> BulkPreviewRow:
        if isinstance(balance, NosanaError):
            return self._vault_row(vault, ids, allowed=False, **_reason(balance))
        if self._is_api_key_vault(vault, ids):
            why = f"vault {vault} holds a Nosana API key: its credits cannot be withdrawn"
            return self._vault_row(
                vault, ids, allowed=False, **_reason(self._not_allowed(vault, ids, why))
            )
        if balance.is_empty:
            why = f"vault {vault} is empty: nothing to withdraw"
            return self._vault_row(
                vault, ids, allowed=False, **_reason(self._not_allowed(vault, ids, why))
            )
        live = [i for i in ids if i in self._handles and self._handles[i].status in _LIVE]
        warning = (
            f"{len(live)} live deployment(s) pay from this vault: they will run out of funds"
            if live
            else None
        )
        return self._vault_row(
            vault,
            ids,
            allowed=True,
            reason=warning,
            sol_change=-balance.sol,
            nos_change=-balance.nos,
        )

    async def _topup_rows(
        self,
        groups: Mapping[str, list[str]],
        balances: Mapping[str, VaultBalance | NosanaError],
    ) -> list[BulkPreviewRow]:
        from nosana_nb.core._shared.vaults import (
            LAMPORTS_PER_SIGNATURE,
            TopupPlan,
            VaultBalance,
            check_wallet_funds,
        )

        plan: TopupPlan = self.arguments["plan"]
        wallet = _require_signing_wallet(self._services.wallet)
        mint = self._services.network.nos_mint
        wallet_lamports = await self._services.rpc.get_balance(wallet.pubkey)
        wallet_nos = await self._services.rpc.get_token_balance(wallet.pubkey, mint) if mint else 0
        amounts = VaultBalance.from_units(plan.lamports, plan.nos_base_units)
        rows: list[BulkPreviewRow] = []
        sending = 0
        for vault, ids in groups.items():
            balance = balances[vault]
            if isinstance(balance, NosanaError):
                rows.append(self._vault_row(vault, ids, allowed=False, **_reason(balance)))
                continue
            if self._is_api_key_vault(vault, ids):
                why = f"vault {vault} belongs to a Nosana API key: it is paid with credits"
                error = self._not_allowed(vault, ids, why)
                rows.append(self._vault_row(vault, ids, allowed=False, **_reason(error)))
                continue
            # the wallet pays every top-up before this one too: check the running total
            total = TopupPlan(
                lamports=plan.lamports * (sending + 1) + LAMPORTS_PER_SIGNATURE * sending,
                nos_base_units=plan.nos_base_units * (sending + 1),
            )
            try:
                check_wallet_funds(
                    total,
                    wallet=wallet.address,
                    wallet_lamports=wallet_lamports,
                    wallet_nos=wallet_nos,
                    vault_has_token_account=True,
                )
            except InsufficientFundsError as err:
                rows.append(self._vault_row(vault, ids, allowed=False, **_reason(err)))
                continue
            sending += 1
            rows.append(
                self._vault_row(
                    vault, ids, allowed=True, sol_change=amounts.sol, nos_change=amounts.nos
                )
            )
        return rows

    # --- acting -------------------------------------------------------------------------------

    async def run(self, preview: BulkPreview) -> BulkResult:
        """Act on the allowed rows of ``preview`` concurrently; one result row each.

        Args:
            preview: what :meth:`preview` returned (its verdicts decide what is sent).

        Returns:
            The result: every row of the preview, in its order, with its outcome.

        Raises:
            BulkInterrupted: the run was interrupted (Ctrl-C); its ``result`` holds the rows.
            CancelledError: the (async) run was cancelled, unchanged; ``on_result`` has seen
                every row that finished.
        """
        done: dict[int, BulkResultRow] = {}

        def settle(index: int, row: BulkResultRow) -> None:
            done[index] = row
            if self.on_result is not None:
                try:
                    self.on_result(row)
                except Exception:  # a broken progress display must not stop the sends
                    logger.exception(
                        "bulk %s: on_result failed for %s", self.action, row.deployment
                    )

        async def one(index: int, row: BulkPreviewRow) -> None:
            if isinstance(row.error, ActionNotAllowedError | InsufficientFundsError):
                settle(index, refused_row(row))  # predicted: never sent
                return
            if row.error is not None:  # reading its state failed: not sent either
                settle(index, failure_row(row, row.error))
                return
            try:
                settle(index, await self._act(row))
            except NosanaError as err:
                settle(index, failure_row(row, err))

        def so_far() -> BulkResult:
            rows = tuple(done.get(i) or cancelled_row(row) for i, row in enumerate(preview.rows))
            return BulkResult(self.action, dict(self.arguments), rows, preview)

        calls = [partial(one, i, r) for i, r in enumerate(preview.rows)]
        try:
            await agather_bounded(self.limit, calls)
        except BaseException as stop:
            # Ctrl-C still propagates, as a KeyboardInterrupt that carries the finished rows;
            # a cancellation (on_result saw those rows) and anything else propagate unchanged
            interrupted = interrupted_error(stop, so_far())
            if interrupted is None:
                raise
            raise interrupted from stop
        return so_far()

    async def _act(self, row: BulkPreviewRow) -> BulkResultRow:
        if self.action in VAULT_ACTIONS:
            return await self._act_on_vault(row)
        handle = self._handles.get(row.deployment)
        if handle is None:
            # missing from the list: the service says why (DeploymentNotFoundError, typed)
            handle = await self._deployments.get(row.deployment)
            refused = refusal(handle.id, self.action, str(handle.status))
            if refused is not None:
                raise refused
        note = None
        try:
            new_status = await self._send(handle)
        except DeploymentNotFoundError:
            if self.action != "delete":
                raise
            # it was listed a moment ago: a resent DELETE whose first landed, or a delete by
            # somebody else - either way what was asked is done
            new_status, note = None, "deleted (it was already gone when the delete arrived)"
        return BulkResultRow(
            deployment=row.deployment,
            action=self.action,
            outcome=BulkOutcome.OK,
            name=handle.name,
            vault=handle.vault_address,
            previous_status=row.status,
            new_status=new_status,
            note=note,
        )

    async def _send(self, handle: AsyncDeployment) -> str | None:
        arguments = self.arguments
        if self.action == "start":
            state = await handle.start(check_funds=arguments["check_funds"])
        elif self.action == "stop":
            state = await handle.stop()
        elif self.action == "archive":
            state = await handle.archive()
        elif self.action == "delete":
            await handle.delete()  # DELETE is resent after a lost reply: then it answers 404
            return None
        elif self.action == "scale":
            state = await handle.update_replicas(arguments["replicas"])
        elif self.action == "set_timeout":
            state = await handle.update_timeout(arguments["timeout_minutes"] * 60)
        else:
            await handle.set_active_revision(arguments["revision"])
            state = handle.state
        return str(state.status)

    async def _act_on_vault(self, row: BulkPreviewRow) -> BulkResultRow:
        if not row.allowed or row.vault is None:  # a target that was not found
            await self._deployments.get(row.deployment)  # raises the typed error
            raise ValidationError(f"no vault known for {row.deployment}", argument="targets")
        vault = self._services.vault(row.vault)
        if self.action == "topup":
            from nosana_nb.core._shared.vaults import VaultBalance

            plan: TopupPlan = self.arguments["plan"]
            nos = VaultBalance.from_units(0, plan.nos_base_units).nos
            signature = await vault.topup(
                plan.lamports or None, nos=nos if plan.nos_base_units else None
            )
            note = "sent " + _amounts(row)
        else:
            signature = await vault.withdraw()
            note = "withdrew " + _amounts(row)
        return BulkResultRow(
            deployment=row.deployment,
            action=self.action,
            outcome=BulkOutcome.OK,
            name=row.name,
            vault=row.vault,
            previous_status=row.status,
            new_status=row.status,
            signature=signature,
            note=note,
        )


def _amounts(row: BulkPreviewRow) -> str:
    parts = [
        f"{format_amount(abs(amount))} {unit}"
        for amount, unit in ((row.sol_change, "SOL"), (row.nos_change, "NOS"))
        if amount
    ]
    return " and ".join(parts) or "nothing"


def _reason(error: NosanaError) -> dict[str, Any]:
    text = str(getattr(error, "message", None) or error)
    return {"reason": text, "reason_type": type(error).__name__, "error": error}


def _refuse(row: BulkPreviewRow, error: NosanaError) -> BulkPreviewRow:
    return BulkPreviewRow(
        deployment=row.deployment,
        action=row.action,
        allowed=False,
        name=row.name,
        vault=row.vault,
        status=row.status,
        strategy=row.strategy,
        market=row.market,
        cost_change_per_hour=Decimal(0),
        **_reason(error),
    )


async def arun_bulk(
    deployments: AsyncDeployments,
    services: AsyncServices,
    action: Any,
    targets: Any,
    *,
    dry_run: Any,
    max_concurrency: Any,
    on_result: ResultCallback | None,
    arguments: Mapping[str, Any],
) -> BulkPreview | BulkResult:
    """Check, read, judge and (unless ``dry_run``) act: see ``AsyncDeployments.bulk``."""
    run = AsyncBulkRun(
        deployments,
        services,
        action,
        targets,
        dry_run=dry_run,
        max_concurrency=max_concurrency,
        on_result=on_result,
        arguments=arguments,
    )
    preview = await run.preview()
    if run.dry_run:
        return preview
    return await run.run(preview)


__all__ = ["AsyncBulkRun", "arun_bulk"]
