"""Vault arguments are checked before anything is sent; unsafe withdrawals are never signed."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.null_signer import NullSigner
from solders.pubkey import Pubkey
from solders.system_program import AssignParams, TransferParams, assign, transfer
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    create_idempotent_associated_token_account,
    get_associated_token_address,
    transfer_checked,
)
from spl.token.models import TransferCheckedParams

from nosana_nb.core.config import local_network
from nosana_nb.core.errors import (
    APIResponseValidationError,
    ConfigError,
    InternalServerError,
    ValidationError,
    WalletError,
)
from nosana_nb.core.http import SyncHTTP
from nosana_nb.core.solana_rpc import SolanaRPC
from nosana_nb.core.vaults import UnsafeWithdrawError, Vault, plan_topup, to_base_units
from nosana_nb.core.wallet import Wallet

API = "http://127.0.0.1:3001"
MINT = Keypair().pubkey()


class Recorder:
    """A transport that records requests; the withdraw route answers with ``withdraw_tx``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.withdraw_tx: str | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/withdraw") and self.withdraw_tx is not None:
            return httpx.Response(200, json={"transaction": self.withdraw_tx})
        return httpx.Response(500, json={"error": "unexpected request in this test"})


def make_vault(
    recorder: Recorder, wallet: Wallet | None = None, *, mint: str = str(MINT)
) -> tuple[Vault, Keypair, Wallet]:
    owner = wallet or Wallet.generate()
    vault_key = Keypair()
    transport = httpx.MockTransport(recorder)
    vault = Vault(
        str(vault_key.pubkey()),
        wallet=owner,
        rpc=SolanaRPC(f"{API}/rpc", transport=transport),
        dm=SyncHTTP(API, transport=transport),
        network=local_network(API, nos_mint=mint),
    )
    return vault, vault_key, owner


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"sol": float("nan")}, "sol"),
        ({"sol": float("inf")}, "sol"),
        ({"nos": Decimal("NaN")}, "nos"),
        ({"nos": Decimal("-Infinity")}, "nos"),
        ({"sol": -1}, "sol"),
        ({"nos": "-0.5"}, "nos"),
        ({"sol": "abc"}, "sol"),
        ({"sol": True}, "sol"),
        ({"nos": [1]}, "nos"),
        ({"sol": 0.1 + 0.2}, "sol"),  # 0.30000000000000004 SOL is not a whole lamport
        ({"sol": Decimal("0.0000000001")}, "sol"),
        ({"nos": Decimal("1.0000001")}, "nos"),
        ({"sol": 0, "nos": 0}, "sol"),
        ({}, "sol"),
        ({"lamports": 1.5}, "lamports"),
        ({"lamports": "100"}, "lamports"),
        ({"lamports": -3}, "lamports"),
        ({"lamports": 0}, "lamports"),
        ({"lamports": 5, "sol": 1}, "sol"),
        ({"nos": 10**14}, "nos"),
    ],
)
def test_bad_topup_arguments_fail_before_any_request(kwargs: dict[str, Any], argument: str) -> None:
    recorder = Recorder()
    vault, _, _ = make_vault(recorder)
    lamports = kwargs.pop("lamports", None)
    with pytest.raises(ValidationError) as info:
        vault.topup(lamports, **kwargs)
    assert info.value.argument == argument
    assert argument in str(info.value)
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (0.1, 9, 100_000_000),  # a float literal is read at its shortest repr
        (Decimal("1.000000001"), 9, 1_000_000_001),
        ("2.5", 6, 2_500_000),
        (3, 6, 3_000_000),
        (Decimal("1e-6"), 6, 1),
        (Decimal("0"), 6, 0),
    ],
)
def test_amounts_convert_exactly(value: Any, decimals: int, expected: int) -> None:
    assert to_base_units(value, decimals=decimals, argument="x") == expected


def test_plan_keeps_sol_and_nos_apart() -> None:
    plan = plan_topup(sol="0.000000001", nos="0.000001")
    assert (plan.lamports, plan.nos_base_units) == (1, 1)
    assert plan_topup(1_000_000).lamports == 1_000_000


def test_withdraw_with_an_amount_is_refused_before_any_request() -> None:
    recorder = Recorder()
    vault, _, _ = make_vault(recorder)
    for amount in (1, Decimal("0.5"), "all", 0):
        with pytest.raises(ValidationError, match="always withdraws everything") as info:
            vault.withdraw(amount)
        assert info.value.argument == "amount"
    assert recorder.requests == []


def test_read_only_wallet_and_missing_mint_fail_before_any_request() -> None:
    recorder = Recorder()
    read_only = Wallet.read_only(Keypair().pubkey())
    vault, _, _ = make_vault(recorder, read_only)
    with pytest.raises(WalletError):
        vault.topup(sol=1)
    with pytest.raises(WalletError):
        vault.withdraw()
    no_mint, _, _ = make_vault(recorder, mint="")
    with pytest.raises(ConfigError, match="NOS mint"):
        no_mint.topup(nos=1)
    with pytest.raises(ConfigError, match="NOS mint"):
        no_mint.get_balance()
    assert recorder.requests == []


def test_bad_vault_address_is_a_validation_error() -> None:
    recorder = Recorder()
    transport = httpx.MockTransport(recorder)
    with pytest.raises(ValidationError) as info:
        Vault(
            "not-an-address",
            wallet=Wallet.generate(),
            rpc=SolanaRPC(f"{API}/rpc", transport=transport),
            dm=SyncHTTP(API, transport=transport),
            network=local_network(API, nos_mint=str(MINT)),
        )
    assert info.value.argument == "address"


# -- withdraw transactions that must not be signed ------------------------------------------


def _sol_to(vault: Keypair, to: Pubkey, lamports: int = 5) -> Instruction:
    return transfer(TransferParams(from_pubkey=vault.pubkey(), to_pubkey=to, lamports=lamports))


def _nos_to(vault: Keypair, owner: Pubkey, mint: Pubkey = MINT) -> Instruction:
    return transfer_checked(
        TransferCheckedParams(
            program_id=TOKEN_PROGRAM_ID,
            source=get_associated_token_address(vault.pubkey(), mint),
            mint=mint,
            dest=get_associated_token_address(owner, mint),
            owner=vault.pubkey(),
            amount=7,
            decimals=6,
        )
    )


Builder = Callable[[Keypair, Pubkey, Pubkey], tuple[Pubkey, list[Instruction]]]
"""(vault, owner, attacker) -> (fee payer, instructions)."""

UNSAFE: dict[str, Builder] = {
    "fee payer is the vault": lambda v, o, a: (v.pubkey(), [_sol_to(v, o)]),
    "SOL goes elsewhere": lambda v, o, a: (o, [_sol_to(v, a)]),
    "SOL taken from the owner": lambda v, o, a: (
        o,
        [transfer(TransferParams(from_pubkey=o, to_pubkey=a, lamports=9))],
    ),
    # to the owner, but not from the vault: only the check of the source catches these
    "SOL from a third party to the owner": lambda v, o, a: (
        o,
        [transfer(TransferParams(from_pubkey=a, to_pubkey=o, lamports=9))],
    ),
    "SOL from the owner to the owner": lambda v, o, a: (
        o,
        [transfer(TransferParams(from_pubkey=o, to_pubkey=o, lamports=9)), _sol_to(v, o)],
    ),
    "NOS goes elsewhere": lambda v, o, a: (o, [_nos_to(v, a)]),
    "another mint": lambda v, o, a: (o, [_nos_to(v, o, Keypair().pubkey())]),
    "owner pays for someone's account": lambda v, o, a: (
        o,
        [create_idempotent_associated_token_account(o, a, MINT), _sol_to(v, o)],
    ),
    "system assign": lambda v, o, a: (
        o,
        [assign(AssignParams(pubkey=o, owner=a)), _sol_to(v, o)],
    ),
    "unknown program": lambda v, o, a: (o, [Instruction(a, b"\x00", []), _sol_to(v, o)]),
    "huge priority fee": lambda v, o, a: (
        o,
        [set_compute_unit_limit(1_400_000), set_compute_unit_price(10**9), _sol_to(v, o)],
    ),
    # one lamport over MAX_PRIORITY_FEE_LAMPORTS (0.01 SOL): 1e6 units at 10_000_001 micro-lamports
    "priority fee one lamport over the cap": lambda v, o, a: (
        o,
        [set_compute_unit_limit(1_000_000), set_compute_unit_price(10_000_001), _sol_to(v, o)],
    ),
    # no unit limit: the price applies to the default 1.4M units; 7_142_858 * 1.4 > 1e7
    "priority fee over the cap at the default unit limit": lambda v, o, a: (
        o,
        [set_compute_unit_price(7_142_858), _sol_to(v, o)],
    ),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_withdraw_transactions_are_refused(case: str) -> None:
    recorder = Recorder()
    vault, vault_key, owner = make_vault(recorder)
    attacker = Keypair().pubkey()
    payer, instructions = UNSAFE[case](vault_key, owner.pubkey, attacker)
    message = MessageV0.try_compile(payer, instructions, [], Hash.default())
    required = message.account_keys[: message.header.num_required_signatures]
    signers = [vault_key if key == vault_key.pubkey() else NullSigner(key) for key in required]
    tx = VersionedTransaction(message, signers)
    recorder.withdraw_tx = base64.b64encode(bytes(tx)).decode()
    with pytest.raises(UnsafeWithdrawError, match="refusing to sign"):
        vault.withdraw()
    assert [r.url.path for r in recorder.requests] == [
        f"/deployments/vaults/{vault.address}/withdraw"
    ]


def _reaches_send(
    instructions: list[Instruction], vault: Any, vault_key: Keypair, owner: Any, recorder: Recorder
) -> None:
    """Assert the withdraw passes the checks: the (fake) node then refuses the send."""
    message = MessageV0.try_compile(owner.pubkey, instructions, [], Hash.default())
    tx = VersionedTransaction(message, [NullSigner(owner.pubkey), vault_key])
    recorder.withdraw_tx = base64.b64encode(bytes(tx)).decode()
    with pytest.raises(InternalServerError, match="unexpected request"):
        vault.withdraw()
    sent = [json.loads(r.content) for r in recorder.requests if r.url.path == "/rpc"]
    assert [body["method"] for body in sent] == ["sendTransaction"]


@pytest.mark.parametrize(
    ("unit_limit", "micro_lamports"),
    [
        (1_000_000, 10_000_000),  # exactly MAX_PRIORITY_FEE_LAMPORTS
        (None, 7_142_857),  # the default 1.4M units: 9_999_999 lamports
    ],
)
def test_a_priority_fee_at_the_cap_is_accepted(unit_limit: int | None, micro_lamports: int) -> None:
    recorder = Recorder()
    vault, vault_key, owner = make_vault(recorder)
    budget = [] if unit_limit is None else [set_compute_unit_limit(unit_limit)]
    instructions = [
        *budget,
        set_compute_unit_price(micro_lamports),
        _sol_to(vault_key, owner.pubkey),
    ]
    _reaches_send(instructions, vault, vault_key, owner, recorder)


def test_the_service_shaped_withdraw_passes_the_checks() -> None:
    recorder = Recorder()
    vault, vault_key, owner = make_vault(recorder)
    instructions = [
        set_compute_unit_limit(200_000),
        set_compute_unit_price(1_000),
        create_idempotent_associated_token_account(owner.pubkey, owner.pubkey, MINT),
        _nos_to(vault_key, owner.pubkey),
        _sol_to(vault_key, owner.pubkey),
    ]
    message = MessageV0.try_compile(owner.pubkey, instructions, [], Hash.default())
    tx = VersionedTransaction(message, [NullSigner(owner.pubkey), vault_key])
    recorder.withdraw_tx = base64.b64encode(bytes(tx)).decode()
    # the checks pass; the (fake) node then refuses the send, which proves we got that far
    with pytest.raises(InternalServerError, match="unexpected request"):
        vault.withdraw()
    sent = [json.loads(r.content) for r in recorder.requests if r.url.path == "/rpc"]
    assert [body["method"] for body in sent] == ["sendTransaction"]


@pytest.mark.parametrize("body", [{}, {"transaction": 5}, {"transaction": "%%%"}, []])
def test_malformed_withdraw_answers_are_response_errors(body: Any) -> None:
    recorder = Recorder()
    vault, _, _ = make_vault(recorder)

    def answer(request: httpx.Request) -> httpx.Response:
        recorder.requests.append(request)
        return httpx.Response(200, json=body)

    vault._dm = SyncHTTP(API, transport=httpx.MockTransport(answer))
    with pytest.raises(APIResponseValidationError, match="expected") as info:
        vault.withdraw()
    assert not isinstance(info.value, UnsafeWithdrawError)


def test_no_secret_in_reprs_or_errors() -> None:
    recorder = Recorder()
    vault, vault_key, owner = make_vault(recorder)
    secret_forms = [
        str(owner.keypair_for_signing()),
        base64.b64encode(bytes(owner.keypair_for_signing())).decode(),
        str(vault_key),
    ]
    texts = [repr(vault), str(vault)]
    calls: list[Callable[[], object]] = [
        lambda: vault.topup(sol=float("nan")),
        lambda: vault.withdraw(3),
    ]
    for call in calls:
        with pytest.raises(ValidationError) as info:
            call()
        texts += [str(info.value), repr(info.value)]
    rpc = SolanaRPC("https://rpc.example.com/mainnet?api-key=SECRET123", transport=None)
    texts.append(repr(rpc))
    for text in texts:
        assert "SECRET123" not in text
        for secret in secret_forms:
            assert secret not in text
