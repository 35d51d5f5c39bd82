"""The sandbox chain: faucets, job escrow, withdraw transactions, history and persistence."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from nosana_nb.sandbox.chain.blockhashes import BLOCKHASH_WINDOW_SLOTS
from nosana_nb.sandbox.chain.chain import Chain
from nosana_nb.sandbox.chain.errors import ChainError
from nosana_nb.sandbox.chain.money import LOCAL_NOS_MINT
from nosana_nb.sandbox.chain.rpc import dispatch
from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.store import Store

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
SOL = 10**9
NOS = 10**6


@pytest.fixture
def store() -> Iterator[Store]:
    db = Store(":memory:")
    yield db
    db.close()


@pytest.fixture
def clock() -> Clock:
    return Clock.manual(START)


@pytest.fixture
def chain(store: Store, clock: Clock) -> Chain:
    return Chain(store, clock=clock)


def _owner_signs(raw_b64: str, owner: Keypair) -> VersionedTransaction:
    tx = VersionedTransaction.from_bytes(base64.b64decode(raw_b64))
    signatures = list(tx.signatures)
    signatures[0] = owner.sign_message(to_bytes_versioned(tx.message))
    return VersionedTransaction.populate(tx.message, signatures)


def test_genesis_creates_the_local_mint_and_escrow(chain: Chain) -> None:
    assert str(chain.nos_mint) == LOCAL_NOS_MINT
    assert chain.nos_balance(chain.escrow_authority) == 0
    assert chain.get_account(chain.escrow_account) is not None
    assert chain.mint_decimals(chain.nos_mint) == 6


def test_faucets_credit_exact_amounts(chain: Chain) -> None:
    user = Keypair().pubkey()
    chain.airdrop(str(user), 3 * SOL)
    chain.airdrop(str(user), 3 * SOL)  # the same airdrop twice is two transactions
    chain.mint_nos(str(user), 1_234_567)
    assert chain.sol_balance(str(user)) == 6 * SOL
    assert chain.nos_balance(str(user)) == 1_234_567
    assert len(chain.signatures_for_address(user)) == 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.airdrop("not-a-key", 1), "Invalid address"),
        (lambda c: c.airdrop(str(Keypair().pubkey()), 0), "lamports must be > 0"),
        (lambda c: c.mint_nos(str(Keypair().pubkey()), -5), "base_units must be > 0"),
        (lambda c: c.mint_nos(str(Keypair().pubkey()), True), "must be an integer"),
        (lambda c: c.escrow(b"short", 1), "64 bytes"),
        (lambda c: c.airdrop(str(Keypair().pubkey()), 1), "below the rent-exempt minimum"),
    ],
)
def test_bad_arguments_raise_chain_errors(chain: Chain, call: object, message: str) -> None:
    with pytest.raises(ChainError, match=message):
        call(chain)  # type: ignore[operator]


def test_escrow_and_settle_reconcile(chain: Chain) -> None:
    vault, node = Keypair(), Keypair().pubkey()
    chain.airdrop(str(vault.pubkey()), SOL)
    chain.mint_nos(str(vault.pubkey()), 10 * NOS)
    chain.escrow(bytes(vault), 4 * NOS)
    assert chain.nos_balance(str(vault.pubkey())) == 6 * NOS
    assert chain.nos_balance(chain.escrow_authority) == 4 * NOS
    assert chain.sol_balance(str(vault.pubkey())) == SOL - 5000  # the vault pays the fee

    pay, refund = 2_500_000, 1_500_000
    chain.settle(str(vault.pubkey()), str(node), pay, refund)
    assert chain.nos_balance(str(node)) == pay
    assert chain.nos_balance(str(vault.pubkey())) == 6 * NOS + refund
    assert chain.nos_balance(chain.escrow_authority) == 0
    assert pay + refund == 4 * NOS


def test_settle_refuses_more_than_the_escrow_holds(chain: Chain) -> None:
    with pytest.raises(ChainError, match="escrow holds 0"):
        chain.settle(str(Keypair().pubkey()), str(Keypair().pubkey()), 1, 0)


def test_escrow_shortfalls_are_funds_errors(chain: Chain) -> None:
    vault = Keypair()
    chain.airdrop(str(vault.pubkey()), SOL)
    chain.mint_nos(str(vault.pubkey()), NOS)
    with pytest.raises(ChainError) as short_nos:
        chain.escrow(bytes(vault), NOS + 1)
    assert "InsufficientFundsForRent" in short_nos.value.message
    assert "1000001" in short_nos.value.message

    broke = Keypair()
    chain.mint_nos(str(broke.pubkey()), NOS)
    with pytest.raises(ChainError, match="InsufficientFundsForRent"):
        chain.escrow(bytes(broke), 1)  # NOS but no SOL for the fee
    assert chain.nos_balance(str(vault.pubkey())) == NOS


def test_escrow_leaving_sol_below_rent_is_a_funds_error(chain: Chain) -> None:
    vault = Keypair()
    chain.airdrop(str(vault.pubkey()), 893_000)  # rent-exempt (890_880) until the fee
    chain.mint_nos(str(vault.pubkey()), NOS)
    with pytest.raises(ChainError, match="InsufficientFundsForRent"):
        chain.escrow(bytes(vault), 1)


def test_withdraw_tx_drains_the_vault_to_the_owner(chain: Chain) -> None:
    vault, owner = Keypair(), Keypair()
    chain.airdrop(str(owner.pubkey()), SOL)
    chain.airdrop(str(vault.pubkey()), 2 * SOL)
    chain.mint_nos(str(vault.pubkey()), 7 * NOS)

    raw = chain.build_withdraw_tx(bytes(vault), str(owner.pubkey()))
    tx = VersionedTransaction.from_bytes(base64.b64decode(raw))
    assert isinstance(tx.message, MessageV0)
    assert tx.message.account_keys[0] == owner.pubkey()  # the owner pays the fee

    with pytest.raises(ChainError):  # the owner's slot is still empty
        chain.send_raw_transaction(bytes(tx))

    chain.send_raw_transaction(bytes(_owner_signs(raw, owner)))
    assert chain.sol_balance(str(vault.pubkey())) == 0
    assert chain.get_account(vault.pubkey()) is None
    assert chain.nos_balance(str(vault.pubkey())) == 0
    assert chain.nos_balance(str(owner.pubkey())) == 7 * NOS
    ata_rent = chain.minimum_balance_for_rent_exemption(165)
    # two signatures (owner and vault) at 5000 lamports, both paid by the owner
    assert chain.sol_balance(str(owner.pubkey())) == SOL + 2 * SOL - 10_000 - ata_rent


def test_withdraw_of_an_empty_vault_is_refused(chain: Chain) -> None:
    with pytest.raises(ChainError, match=r"^Vault has no funds to withdraw\.$"):
        chain.build_withdraw_tx(bytes(Keypair()), str(Keypair().pubkey()))


def test_withdraw_tx_with_only_sol_has_no_token_instructions(chain: Chain) -> None:
    vault, owner = Keypair(), Keypair()
    chain.airdrop(str(vault.pubkey()), SOL)
    tx = VersionedTransaction.from_bytes(
        base64.b64decode(chain.build_withdraw_tx(bytes(vault), str(owner.pubkey())))
    )
    assert len(tx.message.instructions) == 1


def test_identical_client_transaction_is_refused_as_already_processed(chain: Chain) -> None:
    payer = Keypair()
    chain.airdrop(str(payer.pubkey()), SOL)
    blockhash, _ = chain.latest_blockhash()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=payer.pubkey(), lamports=1))
    tx = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash), [payer])
    chain.send_raw_transaction(bytes(tx))
    with pytest.raises(ChainError, match="already been processed") as info:
        chain.send_raw_transaction(bytes(tx))
    assert info.value.err == "AlreadyProcessed"


def test_fetched_blockhash_stays_valid_for_the_window_then_expires(chain: Chain) -> None:
    payer = Keypair()
    chain.airdrop(str(payer.pubkey()), SOL)
    blockhash, last_valid = chain.latest_blockhash()
    assert last_valid == chain.slot + BLOCKHASH_WINDOW_SLOTS
    for _ in range(5):  # other traffic moves the slot on
        chain.airdrop(str(Keypair().pubkey()), SOL)
    assert chain.is_blockhash_valid(blockhash)
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=payer.pubkey(), lamports=1))
    tx = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash), [payer])
    chain.send_raw_transaction(bytes(tx))

    for _ in range(BLOCKHASH_WINDOW_SLOTS + 1):
        chain.airdrop(str(payer.pubkey()), 1)
    assert not chain.is_blockhash_valid(blockhash)
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=payer.pubkey(), lamports=2))
    stale = VersionedTransaction(
        MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash), [payer]
    )
    with pytest.raises(ChainError, match="Blockhash not found"):
        chain.send_raw_transaction(bytes(stale))


def test_failed_transaction_without_preflight_lands_and_pays_its_fee(chain: Chain) -> None:
    payer = Keypair()
    chain.airdrop(str(payer.pubkey()), SOL)
    blockhash, _ = chain.latest_blockhash()
    ix = transfer(
        TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=5 * SOL)
    )
    tx = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash), [payer])
    with pytest.raises(ChainError, match="InsufficientFundsForRent"):
        chain.send_raw_transaction(bytes(tx))  # preflight: refused, nothing charged
    assert chain.sol_balance(str(payer.pubkey())) == SOL
    signature = chain.send_raw_transaction(bytes(tx), skip_preflight=True)
    record = chain.transaction(signature)
    assert record is not None
    assert record.err == {"InstructionError": [0, {"Custom": 1}]}
    assert chain.sol_balance(str(payer.pubkey())) == SOL - 5000


def test_history_rebuilds_balances_from_pre_and_post(chain: Chain, clock: Clock) -> None:
    vault, owner = Keypair(), Keypair()
    chain.airdrop(str(owner.pubkey()), SOL)
    clock.advance(60)
    chain.airdrop(str(vault.pubkey()), SOL)
    chain.mint_nos(str(vault.pubkey()), 5 * NOS)
    clock.advance(60)
    chain.escrow(bytes(vault), 2 * NOS)

    vault_ata = str(chain.token_accounts_by_owner(vault.pubkey())[0][0])
    records = chain.signatures_for_address(vault.pubkey())
    assert [r.block_time for r in records] == [int(START) + 120, int(START) + 60, int(START) + 60]
    sol, nos = 0, 0
    for record in reversed(records):  # oldest first
        keys = [str(k) for k in record.transaction.message.account_keys]
        index = keys.index(str(vault.pubkey()))
        assert record.meta["preBalances"][index] == sol
        sol = record.meta["postBalances"][index]
        post_tokens = {b["accountIndex"]: b for b in record.meta["postTokenBalances"]}
        if vault_ata in keys:
            nos = int(post_tokens[keys.index(vault_ata)]["uiTokenAmount"]["amount"])
    assert sol == chain.sol_balance(vault.pubkey())
    assert nos == chain.nos_balance(vault.pubkey()) == 3 * NOS


def test_signatures_for_address_pages_with_before(chain: Chain) -> None:
    user = Keypair().pubkey()
    signatures = [chain.airdrop(str(user), SOL + n) for n in range(5)]
    newest_first = list(reversed(signatures))
    page = chain.signatures_for_address(user, limit=2)
    assert [r.signature for r in page] == newest_first[:2]
    rest = chain.signatures_for_address(user, before=page[-1].signature)
    assert [r.signature for r in rest] == newest_first[2:]
    assert [r.signature for r in chain.signatures_for_address(user, until=newest_first[2])] == (
        newest_first[:2]
    )


def test_restart_from_the_same_file_resumes_balances_and_history(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.sqlite"
    vault, owner = Keypair(), Keypair()
    first_store = Store(path)
    first = Chain(first_store, clock=Clock.manual(START))
    escrow_authority = first.escrow_authority
    first.airdrop(str(vault.pubkey()), 2 * SOL)
    first.mint_nos(str(vault.pubkey()), 9 * NOS)
    first.escrow(bytes(vault), 3 * NOS)
    history = [r.signature for r in first.signatures_for_address(vault.pubkey())]
    slot = first.slot
    first_store.close()

    second_store = Store(path)
    second = Chain(second_store, clock=Clock.manual(START + 3600))
    assert second.escrow_authority == escrow_authority
    assert second.slot == slot
    assert second.sol_balance(vault.pubkey()) == 2 * SOL - 5000
    assert second.nos_balance(vault.pubkey()) == 6 * NOS
    assert second.nos_balance(escrow_authority) == 3 * NOS
    assert [r.signature for r in second.signatures_for_address(vault.pubkey())] == history
    answer = dispatch(
        second,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "getTransaction",
            "params": [history[0], {"maxSupportedTransactionVersion": 0}],
        },
    )
    assert answer["result"]["blockTime"] == int(START)  # recorded before the restart

    # the restored ledger keeps working: settle from the escrow, withdraw to the owner
    second.settle(str(vault.pubkey()), str(owner.pubkey()), 1 * NOS, 2 * NOS)
    assert second.nos_balance(vault.pubkey()) == 8 * NOS
    second.airdrop(str(owner.pubkey()), SOL)
    raw = second.build_withdraw_tx(bytes(vault), str(owner.pubkey()))
    second.send_raw_transaction(bytes(_owner_signs(raw, owner)))
    assert second.nos_balance(owner.pubkey()) == 9 * NOS
    second_store.close()


def test_concurrent_faucet_calls_are_serialised(chain: Chain) -> None:
    user = Keypair().pubkey()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                chain.airdrop(str(user), SOL)
                chain.mint_nos(str(user), 10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert chain.sol_balance(user) == 40 * SOL
    assert chain.nos_balance(user) == 40 * 10


def test_no_secret_in_reprs_or_errors(chain: Chain, store: Store) -> None:
    vault = Keypair()
    with pytest.raises(ChainError) as info:
        chain.escrow(bytes(vault), 1)
    texts = [repr(chain), str(info.value), repr(info.value)]
    (mint_authority,) = store.conn.execute(
        "SELECT value FROM chain_meta WHERE key = 'mint_authority'"
    ).fetchone()
    for text in texts:
        assert str(vault) not in text
        assert mint_authority not in text
    assert str(vault.pubkey()) in str(info.value)  # the address helps; the key never appears
