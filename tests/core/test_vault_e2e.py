"""Vault top-up, balance and withdraw end to end over a real LiteSVM chain (no sockets).

An httpx.MockTransport plays both services: JSON-RPC bodies go to the chain's RPC ``dispatch``
and the deployment manager's withdraw route answers with ``Chain.build_withdraw_tx``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest
from solders.keypair import Keypair

from nosana_nb.core.config import NetworkConfig, local_network
from nosana_nb.core.errors import InsufficientFundsError, VaultEmptyError
from nosana_nb.core.http import AsyncHTTP, SyncHTTP
from nosana_nb.core.solana_rpc import AsyncSolanaRPC, SolanaRPC
from nosana_nb.core.vaults import AsyncVault, Vault, VaultBalance
from nosana_nb.core.wallet import Wallet
from nosana_nb.sandbox.chain.chain import Chain
from nosana_nb.sandbox.chain.errors import ChainError
from nosana_nb.sandbox.chain.rpc import dispatch
from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.store import Store

API = "http://127.0.0.1:3001"
SOL = 10**9
NOS = 10**6
FEE = 5000


@dataclass
class Sandbox:
    chain: Chain
    vault_keys: dict[str, Keypair] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/rpc":
            return httpx.Response(200, json=dispatch(self.chain, request.content))
        parts = path.strip("/").split("/")
        if parts[:2] == ["deployments", "vaults"] and parts[3:] == ["withdraw"]:
            assert json.loads(request.content) == {}
            vault = self.vault_keys.get(parts[2])
            if vault is None:
                return httpx.Response(404, json={"error": "Vault not found."})
            owner = request.headers.get("x-user-id", "")
            try:
                tx = self.chain.build_withdraw_tx(bytes(vault), owner)
            except ChainError as exc:
                return httpx.Response(500, json={"error": exc.message})
            return httpx.Response(200, json={"transaction": tx})
        return httpx.Response(404, json={"error": "Not Found"})

    def rpc_calls(self) -> list[str]:
        return [json.loads(r.content)["method"] for r in self.requests if r.url.path == "/rpc"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    store = Store(":memory:")
    yield Sandbox(Chain(store, clock=Clock.manual(1_767_225_600.0)))
    store.close()


@pytest.fixture
def network(sandbox: Sandbox) -> NetworkConfig:
    return local_network(API, nos_mint=str(sandbox.chain.nos_mint))


@pytest.fixture
def wallet(sandbox: Sandbox) -> Wallet:
    owner = Wallet.generate()
    sandbox.chain.airdrop(owner.address, 10 * SOL)
    sandbox.chain.mint_nos(owner.address, 100 * NOS)
    return owner


def make_vault(sandbox: Sandbox, wallet: Wallet, network: NetworkConfig) -> Vault:
    keypair = Keypair()
    sandbox.vault_keys[str(keypair.pubkey())] = keypair
    transport = httpx.MockTransport(sandbox.handle)
    dm = SyncHTTP(API, transport=transport, headers={"x-user-id": wallet.address})
    rpc = SolanaRPC(network.rpc_url, transport=transport)
    return Vault(str(keypair.pubkey()), wallet=wallet, rpc=rpc, dm=dm, network=network)


def make_async_vault(sandbox: Sandbox, wallet: Wallet, network: NetworkConfig) -> AsyncVault:
    keypair = Keypair()
    sandbox.vault_keys[str(keypair.pubkey())] = keypair
    transport = httpx.MockTransport(sandbox.handle)
    dm = AsyncHTTP(API, transport=transport, headers={"x-user-id": wallet.address})
    rpc = AsyncSolanaRPC(network.rpc_url, transport=transport)
    return AsyncVault(str(keypair.pubkey()), wallet=wallet, rpc=rpc, dm=dm, network=network)


def test_new_vault_is_empty(sandbox: Sandbox, wallet: Wallet, network: NetworkConfig) -> None:
    vault = make_vault(sandbox, wallet, network)
    assert vault.get_balance() == VaultBalance(Decimal(0), Decimal(0), 0, 0)


def test_topup_balances_are_exact_to_the_base_unit(
    sandbox: Sandbox, wallet: Wallet, network: NetworkConfig
) -> None:
    vault = make_vault(sandbox, wallet, network)
    signature = vault.topup(sol="0.123456789", nos=Decimal("12.345678"))
    balance = vault.get_balance()
    assert balance.lamports == 123_456_789
    assert balance.nos_base_units == 12_345_678
    assert balance.sol == Decimal("0.123456789")
    assert balance.nos == Decimal("12.345678")

    record = sandbox.chain.transaction(signature)
    assert record is not None
    assert record.transaction.message.account_keys[0] == wallet.pubkey  # the wallet pays
    ata_rent = sandbox.chain.minimum_balance_for_rent_exemption(165)
    assert sandbox.chain.sol_balance(wallet.address) == 10 * SOL - 123_456_789 - FEE - ata_rent
    assert sandbox.chain.nos_balance(wallet.address) == 100 * NOS - 12_345_678

    # the seed's topup(1000000): positional lamports, SOL only, no token instructions
    vault.topup(1_000_000)
    assert vault.get_balance().lamports == 124_456_789
    assert vault.get_balance().nos_base_units == 12_345_678


def test_withdraw_round_trip_reconciles(
    sandbox: Sandbox, wallet: Wallet, network: NetworkConfig
) -> None:
    chain = sandbox.chain
    vault = make_vault(sandbox, wallet, network)
    sol_before, nos_before = chain.sol_balance(wallet.address), chain.nos_balance(wallet.address)
    vault.topup(sol=Decimal("1.5"), nos=40)
    signature = vault.withdraw()

    assert vault.get_balance().is_empty
    assert chain.get_account(vault.address) is None  # a drained system account disappears
    withdrawal = chain.transaction(signature)
    assert withdrawal is not None
    assert withdrawal.meta["fee"] == 2 * FEE  # owner's and vault's signatures, paid by the owner
    ata_rent = chain.minimum_balance_for_rent_exemption(165)
    # the vault's NOS account stays open (its rent stays there); all else returns
    sol_change = chain.sol_balance(wallet.address) - sol_before
    assert sol_change == -(FEE + ata_rent) - 2 * FEE
    assert chain.nos_balance(wallet.address) == nos_before


def test_withdraw_of_an_empty_vault_is_the_service_error(
    sandbox: Sandbox, wallet: Wallet, network: NetworkConfig
) -> None:
    vault = make_vault(sandbox, wallet, network)
    with pytest.raises(VaultEmptyError, match="Vault has no funds to withdraw"):
        vault.withdraw()
    assert "sendTransaction" not in sandbox.rpc_calls()


def test_escrow_and_settle_flow_back_through_the_vault(
    sandbox: Sandbox, wallet: Wallet, network: NetworkConfig
) -> None:
    chain = sandbox.chain
    vault = make_vault(sandbox, wallet, network)
    vault.topup(sol=1, nos=10)
    deposit, pay = 6 * NOS, 2_250_000
    chain.escrow(bytes(sandbox.vault_keys[vault.address]), deposit)
    assert vault.get_balance().nos_base_units == 4 * NOS
    node = Keypair().pubkey()
    chain.settle(vault.address, str(node), pay, deposit - pay)
    balance = vault.get_balance()
    assert balance.nos_base_units == 10 * NOS - pay
    assert balance.lamports == SOL - FEE  # the vault paid the escrow fee
    assert chain.nos_balance(str(node)) == pay


def test_topup_beyond_the_wallet_raises_before_sending(
    sandbox: Sandbox, wallet: Wallet, network: NetworkConfig
) -> None:
    vault = make_vault(sandbox, wallet, network)
    with pytest.raises(InsufficientFundsError) as info:
        vault.topup(sol=2, nos=Decimal("100.000001"))
    error = info.value
    assert str(error).startswith("Insufficient funds: ")
    assert "100.000001 NOS" in str(error)
    assert error.available_nos == Decimal(100)
    assert error.required_nos == Decimal("100.000001")
    assert "sendTransaction" not in sandbox.rpc_calls()

    with pytest.raises(InsufficientFundsError, match="SOL") as sol_info:
        vault.topup(sol=10)  # the fee makes 10 SOL one fee too many
    assert sol_info.value.available_sol == Decimal(10)
    with pytest.raises(InsufficientFundsError, match="keeps 0 or at least"):
        vault.topup(10 * SOL - FEE - 1000)  # would leave 1000 lamports of dust in the wallet
    assert "sendTransaction" not in sandbox.rpc_calls()

    vault.topup(10 * SOL - FEE)  # sending everything but the fee is fine
    assert sandbox.chain.sol_balance(wallet.address) == 0
    assert vault.get_balance().lamports == 10 * SOL - FEE


def test_balance_history_rebuilds_from_rpc_transactions(
    sandbox: Sandbox, wallet: Wallet, network: NetworkConfig
) -> None:
    vault = make_vault(sandbox, wallet, network)
    vault.topup(sol=1, nos=5)
    vault.topup(sol="0.25")
    vault.withdraw()
    rpc = SolanaRPC(network.rpc_url, transport=httpx.MockTransport(sandbox.handle))
    entries = rpc.get_signatures_for_address(vault.address)
    assert len(entries) == 3
    lamports = []
    for entry in reversed(entries):
        tx = rpc.get_transaction(entry["signature"])
        assert tx is not None
        keys = tx["transaction"]["message"]["accountKeys"]
        index = keys.index(vault.address)
        lamports.append((tx["meta"]["preBalances"][index], tx["meta"]["postBalances"][index]))
    assert lamports == [(0, SOL), (SOL, SOL + SOL // 4), (SOL + SOL // 4, 0)]
    page = rpc.get_signatures_for_address(vault.address, limit=1, before=entries[0]["signature"])
    assert [e["signature"] for e in page] == [entries[1]["signature"]]


async def test_async_vault_round_trip(
    sandbox: Sandbox, wallet: Wallet, network: NetworkConfig
) -> None:
    vault = make_async_vault(sandbox, wallet, network)
    await vault.topup(sol="0.5", nos="7.5")
    balance = await vault.get_balance()
    assert (balance.lamports, balance.nos_base_units) == (SOL // 2, 7_500_000)
    await vault.withdraw()
    assert (await vault.get_balance()).is_empty
    assert sandbox.chain.nos_balance(wallet.address) == 100 * NOS
    with pytest.raises(InsufficientFundsError):
        await vault.topup(nos=1000)
