"""Vault balance history rebuilt from getTransaction results; rows reconcile to the base unit."""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from nosana_nb.core.errors import ValidationError
from nosana_nb.frames import vault_balance_dataframe

VAULT = "Vault11111111111111111111111111111111111111"
OWNER = "Owner11111111111111111111111111111111111111"
ESCROW = "Escrow1111111111111111111111111111111111111"
NODE = "Node111111111111111111111111111111111111111"
MINT = "NosMint111111111111111111111111111111111111"
OTHER_MINT = "Other11111111111111111111111111111111111111"
SOL = 10**9
NOS = 10**6


def token(index: int, owner: str, amount: int, mint: str = MINT) -> dict[str, Any]:
    return {
        "accountIndex": index,
        "mint": mint,
        "owner": owner,
        "uiTokenAmount": {"amount": str(amount), "decimals": 6},
    }


def tx(
    slot: int,
    keys: list[str],
    pre: list[int],
    post: list[int],
    pre_tokens: list[dict[str, Any]] | None = None,
    post_tokens: list[dict[str, Any]] | None = None,
    *,
    err: Any = None,
) -> dict[str, Any]:
    return {
        "slot": slot,
        "blockTime": 1_735_689_600 + slot * 60,
        "meta": {
            "err": err,
            "fee": 5000,
            "preBalances": pre,
            "postBalances": post,
            "preTokenBalances": pre_tokens or [],
            "postTokenBalances": post_tokens or [],
            "loadedAddresses": {"writable": [], "readonly": []},
        },
        "transaction": {"signatures": [f"sig{slot}"], "message": {"accountKeys": keys}},
    }


def history() -> list[dict[str, Any]]:
    """top-up, escrow, settlement refund, fee, a no-op, withdrawal (in slot order)."""
    return [
        tx(  # owner sends 1 SOL and 50 NOS, creating the vault's token account
            10,
            [OWNER, VAULT, "ownerAta", "vaultAta"],
            [10 * SOL, 0, 2_039_280, 0],
            [9 * SOL - 2_044_280, SOL, 2_039_280, 2_039_280],
            [token(2, OWNER, 100 * NOS)],
            [token(2, OWNER, 50 * NOS), token(3, VAULT, 50 * NOS), token(9, OWNER, 1, OTHER_MINT)],
        ),
        tx(  # the vault escrows 10 NOS and pays the fee
            20,
            [VAULT, "vaultAta", "escrowAta"],
            [SOL, 2_039_280, 2_039_280],
            [SOL - 5000, 2_039_280, 2_039_280],
            [token(1, VAULT, 50 * NOS), token(2, ESCROW, 0)],
            [token(1, VAULT, 40 * NOS), token(2, ESCROW, 10 * NOS)],
        ),
        tx(  # settlement: 6 NOS to the node, 4 back to the vault; the vault account is absent
            30,
            [ESCROW, "escrowAta", "nodeAta", "vaultAta"],
            [5 * SOL, 2_039_280, 2_039_280, 2_039_280],
            [5 * SOL - 5000, 2_039_280, 2_039_280, 2_039_280],
            [token(1, ESCROW, 10 * NOS), token(2, NODE, 0), token(3, VAULT, 40 * NOS)],
            [token(1, ESCROW, 0), token(2, NODE, 6 * NOS), token(3, VAULT, 44 * NOS)],
        ),
        tx(40, [VAULT, "programX"], [SOL - 5000, 1], [SOL - 10_000, 1]),  # fee only
        tx(45, [OWNER, VAULT], [5 * SOL, SOL - 10_000], [5 * SOL, SOL - 10_000]),  # no change
        tx(  # withdrawal: owner pays the fee, the vault is drained
            50,
            [OWNER, VAULT, "vaultAta", "ownerAta"],
            [9 * SOL, SOL - 10_000, 2_039_280, 2_039_280],
            [10 * SOL - 15_000, 0, 2_039_280, 2_039_280],
            [token(2, VAULT, 44 * NOS), token(3, OWNER, 50 * NOS)],
            [token(2, VAULT, 0), token(3, OWNER, 94 * NOS)],
        ),
    ]


def test_kinds_and_exact_deltas() -> None:
    frame = vault_balance_dataframe(history(), vault=VAULT, nos_mint=MINT)
    assert frame["kind"].tolist() == ["topup", "escrow", "refund", "fee", "withdrawal"]
    assert frame["sol_delta"].tolist() == [SOL, -5000, 0, -5000, -(SOL - 10_000)]
    assert frame["nos_delta"].tolist() == [50 * NOS, -10 * NOS, 4 * NOS, 0, -44 * NOS]
    assert frame["signature"].tolist() == ["sig10", "sig20", "sig30", "sig40", "sig50"]
    assert frame["time"].iloc[0] == pd.Timestamp(1_735_689_600 + 600, unit="s", tz="UTC")
    assert frame["nos"].iloc[0] == pytest.approx(50.0)
    assert frame["sol_change"].iloc[0] == pytest.approx(1.0)


def test_rows_reconcile_to_the_final_balance() -> None:
    frame = vault_balance_dataframe(history(), vault=VAULT, nos_mint=MINT)
    assert frame["sol_after"].iloc[-1] == 0
    assert frame["nos_after"].iloc[-1] == 0
    for unit in ("sol", "nos"):
        before, after, delta = (
            frame[f"{unit}_before"],
            frame[f"{unit}_after"],
            frame[f"{unit}_delta"],
        )
        assert int(delta.sum()) == int(after.iloc[-1] - before.iloc[0])
        assert (before.iloc[1:].to_numpy() == after.iloc[:-1].to_numpy()).all()
        assert ((after - before) == delta).all()


def test_input_order_does_not_matter_and_none_results_are_skipped() -> None:
    shuffled = [*history(), None]
    random.Random(7).shuffle(shuffled)
    expected = vault_balance_dataframe(history(), vault=VAULT, nos_mint=MINT)
    pd.testing.assert_frame_equal(
        vault_balance_dataframe(shuffled, vault=VAULT, nos_mint=MINT), expected
    )


def test_escrow_authority_makes_refunds_certain() -> None:
    refund_only = tx(  # escrow returns NOS, no node paid, but the vault account is listed
        30,
        [ESCROW, VAULT, "escrowAta", "vaultAta"],
        [5 * SOL, SOL, 1, 1],
        [5 * SOL - 5000, SOL, 1, 1],
        [token(2, ESCROW, 10 * NOS), token(3, VAULT, 0)],
        [token(2, ESCROW, 0), token(3, VAULT, 10 * NOS)],
    )
    guessed = vault_balance_dataframe([refund_only], vault=VAULT, nos_mint=MINT)
    told = vault_balance_dataframe(
        [refund_only], vault=VAULT, nos_mint=MINT, escrow_authority=ESCROW
    )
    assert guessed["kind"].tolist() == ["topup"]
    assert told["kind"].tolist() == ["refund"]


def test_failed_transaction_still_charges_the_fee() -> None:
    failed = tx(
        60, [VAULT, "x"], [SOL, 1], [SOL - 5000, 1], err={"InstructionError": [0, "Custom"]}
    )
    row = vault_balance_dataframe([failed], vault=VAULT, nos_mint=MINT).iloc[0]
    assert row["failed"]
    assert row["kind"] == "fee"
    assert row["sol_delta"] == -5000


def test_versioned_transaction_loaded_addresses_are_searched() -> None:
    record = tx(70, [OWNER], [5 * SOL, 0], [4 * SOL - 5000, SOL])
    record["meta"]["loadedAddresses"] = {"writable": [VAULT], "readonly": []}
    row = vault_balance_dataframe([record], vault=VAULT, nos_mint=MINT).iloc[0]
    assert row["sol_delta"] == SOL
    assert row["kind"] == "topup"


def test_no_transactions_gives_the_empty_schema() -> None:
    frame = vault_balance_dataframe([], vault=VAULT, nos_mint=MINT)
    assert frame.empty
    assert "nos_delta" in frame.columns


@pytest.mark.parametrize(
    ("transactions", "message"),
    [
        ([{"slot": 1, "transaction": {}}], "has no 'meta'"),
        ([{"slot": 1, "meta": None, "transaction": {}}], "no meta"),
        ([tx(1, [VAULT], ["x"], [1])], r"preBalances\[0\] is not an integer"),  # type: ignore[list-item]
        ([tx(1, [VAULT], [1], [2]) | {"slot": "1"}], "slot must be an integer"),
        ([tx(1, [VAULT, 5], [1, 1], [2, 1])], "non-string account keys"),  # type: ignore[list-item]
        (
            [tx(1, [VAULT], [1], [1], [token(0, VAULT, 1)], [])],
            None,
        ),
        ({"not": "a list"}, "iterable of getTransaction results"),
    ],
)
def test_malformed_transactions_raise(transactions: Any, message: str | None) -> None:
    if message is None:
        frame = vault_balance_dataframe(transactions, vault=VAULT, nos_mint=MINT)
        assert frame["nos_delta"].tolist() == [-1]
        return
    with pytest.raises(ValidationError, match=message):
        vault_balance_dataframe(transactions, vault=VAULT, nos_mint=MINT)


def test_token_amount_must_be_an_integer_string() -> None:
    bad = tx(1, [VAULT], [1], [1], [token(0, VAULT, 1) | {"uiTokenAmount": {"amount": "1.5"}}])
    with pytest.raises(ValidationError, match="token amount"):
        vault_balance_dataframe([bad], vault=VAULT, nos_mint=MINT)


def test_missing_mint_or_vault_is_refused() -> None:
    with pytest.raises(ValidationError, match="nos_mint"):
        vault_balance_dataframe(history(), vault=VAULT)
    with pytest.raises(ValidationError, match="vault"):
        vault_balance_dataframe(history(), vault="", nos_mint=MINT)


class FakeRPC:
    def __init__(self, transactions: list[dict[str, Any]]) -> None:
        self.by_signature = {t["transaction"]["signatures"][0]: t for t in transactions}
        self.newest_first = list(reversed(list(self.by_signature)))
        self.calls: list[tuple[int, str | None]] = []

    def get_signatures_for_address(
        self, addr: str, *, limit: int = 1000, before: str | None = None
    ) -> list[dict[str, Any]]:
        assert addr == VAULT
        self.calls.append((limit, before))
        start = 0 if before is None else self.newest_first.index(before) + 1
        return [{"signature": s} for s in self.newest_first[start : start + limit]]

    def get_transaction(self, sig: str) -> dict[str, Any]:
        return self.by_signature[sig]


def test_client_path_fetches_history_with_the_network_mint() -> None:
    rpc = FakeRPC(history())
    client = SimpleNamespace(rpc=rpc, network=SimpleNamespace(nos_mint=MINT), deployments=None)
    frame = vault_balance_dataframe(client, vault=VAULT)
    expected = vault_balance_dataframe(history(), vault=VAULT, nos_mint=MINT)
    pd.testing.assert_frame_equal(frame, expected)
    newest_two = vault_balance_dataframe(client, vault=VAULT, limit=2)
    assert newest_two["signature"].tolist() == ["sig50"]  # sig45 changed nothing
    assert rpc.calls[-1] == (2, None)
    with pytest.raises(ValidationError, match="limit"):
        vault_balance_dataframe(client, vault=VAULT, limit=0)
