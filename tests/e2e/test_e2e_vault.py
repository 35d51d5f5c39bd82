"""A vault round trip whose numbers reconcile on the sandbox chain to the base unit.

Top up through the client, run jobs (escrow at listing, settlement at the end: pay the node,
refund the rest), stop a queued job (full refund), withdraw. Every movement is read back from
the chain's transaction history through the client's Solana RPC (``getSignaturesForAddress`` +
``getTransaction`` balances) and cross-checked with the sandbox's job documents
(``escrowed`` / ``paid`` / ``refunded``):

    top-up - escrow - network fees + refunds - withdrawal = change of the vault's balance

The network fee (the market's ``network_fee_percentage`` of each deposit, rounded down) goes to
the rewards account at listing and is never refunded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nosana_nb.core.client import NosanaClient
from nosana_nb.core.markets import network_fee_base_units
from nosana_nb.core.validation import DeploymentStatus
from nosana_nb.sandbox import SandboxHandle
from nosana_nb.sandbox.chain.money import NETWORK_REWARDS_AUTHORITY
from tests.e2e.conftest import (
    FEE_LAMPORTS,
    MARKET_3090,
    MARKET_4090,
    Account,
    settle,
    wait_running,
)

TOP_UP_SOL = Decimal("0.25")
TOP_UP_NOS = Decimal("30")
TOKEN_ACCOUNT_LEN = 165


@dataclass(frozen=True)
class Movement:
    """What one transaction did to one address: lamports, NOS base units, fee it paid."""

    signature: str
    lamports: int
    nos: int
    fee: int
    fee_payer: str


def _nos_of(balances: list[dict[str, Any]], owner: str, mint: str) -> int:
    return sum(
        int(b["uiTokenAmount"]["amount"])
        for b in balances
        if b["owner"] == owner and b["mint"] == mint
    )


def _token_account_movements(client: NosanaClient, account: str, owner: str) -> dict[str, int]:
    """NOS base units each transaction moved into the token account ``account`` of ``owner``."""
    mint = client.network.nos_mint
    moved: dict[str, int] = {}
    for entry in client.rpc.get_signatures_for_address(account):
        record = client.rpc.get_transaction(entry["signature"])
        assert record is not None
        meta = record["meta"]
        moved[entry["signature"]] = _nos_of(meta["postTokenBalances"], owner, mint) - _nos_of(
            meta["preTokenBalances"], owner, mint
        )
    return moved


def _movements(client: NosanaClient, address: str) -> dict[str, Movement]:
    """Every transaction touching ``address``, from the chain's history via the client."""
    mint = client.network.nos_mint
    moved: dict[str, Movement] = {}
    for entry in client.rpc.get_signatures_for_address(address):
        assert entry["err"] is None
        record = client.rpc.get_transaction(entry["signature"])
        assert record is not None
        keys: list[str] = record["transaction"]["message"]["accountKeys"]
        meta = record["meta"]
        lamports = 0
        if address in keys:
            index = keys.index(address)
            lamports = meta["postBalances"][index] - meta["preBalances"][index]
        nos = _nos_of(meta["postTokenBalances"], address, mint) - _nos_of(
            meta["preTokenBalances"], address, mint
        )
        moved[entry["signature"]] = Movement(
            entry["signature"], lamports, nos, int(meta["fee"]), keys[0]
        )
    return moved


def test_vault_round_trip_reconciles_to_the_base_unit(
    sandbox: SandboxHandle, new_account: Callable[..., Account]
) -> None:
    account = new_account(vault_sol=None, vault_nos=None)
    client, vault, wallet = account.client, account.vault, account.wallet
    start_vault = vault.get_balance()
    assert (start_vault.lamports, start_vault.nos_base_units) == (0, 0)
    start_wallet_sol = client.rpc.get_balance(wallet.address)
    start_wallet_nos = client.rpc.get_token_balance(wallet.address, client.network.nos_mint)

    topup_sig = vault.topup(sol=TOP_UP_SOL, nos=TOP_UP_NOS)
    topped = vault.get_balance()
    assert (topped.sol, topped.nos) == (TOP_UP_SOL, TOP_UP_NOS)

    ran = account.deploy(name="paid", replicas=2, market=MARKET_3090)
    ran.start()
    wait_running(ran)
    sandbox.advance(61 + 600)  # claimed, then run to completion (or exit early)
    assert ran.refresh().status is DeploymentStatus.STOPPED
    delisted = account.deploy(name="refunded", replicas=1, market=MARKET_4090)
    delisted.start()
    wait_running(delisted)
    settle(sandbox)
    delisted.stop()  # still QUEUED: the whole deposit comes back
    settle(sandbox)
    assert delisted.refresh().status is DeploymentStatus.STOPPED

    before_withdraw = vault.get_balance()
    withdraw_sig = vault.withdraw()
    after = vault.get_balance()
    assert (after.lamports, after.nos_base_units) == (0, 0)

    jobs = sandbox.store.find("jobs", vault=vault.address)
    assert len(jobs) == 3
    assert {j["state"] for j in jobs} <= {"COMPLETED", "STOPPED"}
    history = _movements(client, vault.address)

    # every transaction of the vault is explained, and nothing else happened
    escrow_sigs = {str(j["tx"]) for j in jobs}
    settle_sigs = {str(j["settle_tx"]) for j in jobs if j["refunded"]}  # no refund: vault untouched
    assert set(history) == {topup_sig, withdraw_sig} | escrow_sigs | settle_sigs

    # NOS: each figure from the chain equals the job documents' bookkeeping
    escrowed = sum(int(j["escrowed"]) for j in jobs)
    refunded = sum(int(j["refunded"]) for j in jobs)
    paid = sum(int(j["paid"]) for j in jobs)
    assert history[topup_sig].nos == int(TOP_UP_NOS * 10**6)
    network_fees = sum(int(j["fees_paid"]) for j in jobs)
    for job in jobs:
        listing_fee = network_fee_base_units(int(job["escrowed"]), 10)
        assert int(job["fees_paid"]) == listing_fee > 0
        assert history[str(job["tx"])].nos == -int(job["escrowed"]) - listing_fee
        assert int(job["paid"]) + int(job["refunded"]) == int(job["escrowed"])
    assert sum(history[s].nos for s in escrow_sigs) == -escrowed - network_fees
    rewards = str(sandbox.chain.rewards_account)
    rewards_history = _token_account_movements(client, rewards, str(NETWORK_REWARDS_AUTHORITY))
    assert sum(rewards_history[s] for s in escrow_sigs) == network_fees
    assert sum(history[s].nos for s in settle_sigs) == refunded
    (queued_job,) = [j for j in jobs if j["deployment"] == delisted.id]
    assert (queued_job["paid"], queued_job["refunded"]) == (0, queued_job["escrowed"])
    assert paid > 0
    nos_change = before_withdraw.nos_base_units - start_vault.nos_base_units
    assert history[topup_sig].nos - escrowed - network_fees + refunded == nos_change
    assert history[withdraw_sig].nos == -before_withdraw.nos_base_units

    # the nodes were paid exactly what the vault lost, runtime x price
    for job in (j for j in jobs if j["paid"]):
        node_gain = _movements(client, str(job["node"]))[str(job["settle_tx"])].nos
        assert node_gain == int(job["paid"])
        assert int(job["paid"]) == int(job["price"]) * (job["time_end"] - job["time_start"])
    assert escrowed - refunded == paid

    # SOL: the vault pays one fee per escrow; settlements and the withdrawal are paid by others
    assert history[topup_sig].lamports == int(TOP_UP_SOL * 10**9)
    for signature in escrow_sigs:
        assert (history[signature].fee_payer, history[signature].fee) == (
            vault.address,
            FEE_LAMPORTS,
        )
        assert history[signature].lamports == -FEE_LAMPORTS
    assert all(
        history[s].lamports == 0 and history[s].fee_payer != vault.address for s in settle_sigs
    )
    sol_change = before_withdraw.lamports - start_vault.lamports
    assert history[topup_sig].lamports - FEE_LAMPORTS * len(escrow_sigs) == sol_change
    assert history[withdraw_sig].lamports == -before_withdraw.lamports

    # the wallet: pays the top-up, its fee and the rent of the vault's new token account, and
    # gets everything back from the withdrawal, whose fee it pays as well
    wallet_moves = _movements(client, wallet.address)
    rent = sandbox.chain.minimum_balance_for_rent_exemption(TOKEN_ACCOUNT_LEN)
    assert wallet_moves[topup_sig].fee_payer == wallet.address
    assert wallet_moves[topup_sig].lamports == -(
        int(TOP_UP_SOL * 10**9) + wallet_moves[topup_sig].fee + rent
    )
    assert wallet_moves[withdraw_sig].fee_payer == wallet.address
    assert wallet_moves[withdraw_sig].lamports == (
        before_withdraw.lamports - wallet_moves[withdraw_sig].fee
    )
    end_wallet_sol = client.rpc.get_balance(wallet.address)
    end_wallet_nos = client.rpc.get_token_balance(wallet.address, client.network.nos_mint)
    fees = wallet_moves[topup_sig].fee + wallet_moves[withdraw_sig].fee
    assert end_wallet_sol - start_wallet_sol == (
        -int(TOP_UP_SOL * 10**9) - rent - fees + before_withdraw.lamports
    )
    # all NOS came back except the nodes' pay and the network fees
    assert end_wallet_nos - start_wallet_nos == -paid - network_fees
