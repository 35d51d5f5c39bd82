"""The sandbox's Solana JSON-RPC: shapes readable by solders, errors, batches and the route."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import base58
import httpx
import pytest
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.rpc.errors import SendTransactionPreflightFailureMessage
from solders.rpc.responses import (
    GetAccountInfoJsonParsedResp,
    GetAccountInfoResp,
    GetBalanceResp,
    GetHealthResp,
    GetLatestBlockhashResp,
    GetMinimumBalanceForRentExemptionResp,
    GetMultipleAccountsResp,
    GetSignaturesForAddressResp,
    GetSignatureStatusesResp,
    GetSlotResp,
    GetTokenAccountBalanceResp,
    GetTokenAccountsByOwnerJsonParsedResp,
    GetTokenAccountsByOwnerResp,
    GetTransactionResp,
    GetVersionResp,
    RequestAirdropResp,
    SendTransactionResp,
)
from solders.system_program import TransferParams, transfer
from solders.token.state import TokenAccount
from solders.transaction import VersionedTransaction
from starlette.applications import Starlette

from nosana_nb.sandbox.chain.chain import Chain
from nosana_nb.sandbox.chain.rpc import dispatch
from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.http.rpc_endpoint import make_rpc_routes
from nosana_nb.sandbox.store import Store

SOL = 10**9
NOS = 10**6
START = 1_767_225_600.0


@pytest.fixture
def chain() -> Iterator[Chain]:
    store = Store(":memory:")
    yield Chain(store, clock=Clock.manual(START))
    store.close()


@pytest.fixture
def funded(chain: Chain) -> Keypair:
    user = Keypair()
    chain.airdrop(str(user.pubkey()), 5 * SOL)
    chain.mint_nos(str(user.pubkey()), 2_500_000)
    return user


def call(chain: Chain, method: str, *params: Any) -> str:
    """The raw JSON text of a single request's answer, as an HTTP client would receive it."""
    request = {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}
    return json.dumps(dispatch(chain, request))


def read_as(resp_type: Any, text: str) -> Any:
    """Read an answer with solders' typed response class (errors come back as other types)."""
    return resp_type.from_json(text)


def error_of(text: str) -> dict[str, Any]:
    answer = json.loads(text)
    assert "result" not in answer
    assert answer["id"] == 7
    error: dict[str, Any] = answer["error"]
    return error


def signed_transfer(chain: Chain, payer: Keypair, lamports: int) -> VersionedTransaction:
    blockhash = read_as(GetLatestBlockhashResp, call(chain, "getLatestBlockhash")).value.blockhash
    ix = transfer(
        TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=lamports)
    )
    return VersionedTransaction(MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash), [payer])


def test_get_balance_reads_as_solders_response(chain: Chain, funded: Keypair) -> None:
    resp = read_as(GetBalanceResp, call(chain, "getBalance", str(funded.pubkey())))
    assert resp.value == 5 * SOL
    assert resp.context.slot == chain.slot


def test_token_reads(chain: Chain, funded: Keypair) -> None:
    owner = str(funded.pubkey())
    mint = str(chain.nos_mint)
    answer = read_as(
        GetTokenAccountsByOwnerJsonParsedResp,
        call(chain, "getTokenAccountsByOwner", owner, {"mint": mint}, {"encoding": "jsonParsed"}),
    )
    (entry,) = answer.value
    info = entry.account.data.parsed["info"]
    assert info["tokenAmount"]["amount"] == "2500000"
    assert info["tokenAmount"]["uiAmountString"] == "2.5"
    assert info["owner"] == owner

    raw = read_as(
        GetTokenAccountsByOwnerResp,
        call(chain, "getTokenAccountsByOwner", owner, {"mint": mint}, {"encoding": "base64"}),
    )
    assert TokenAccount.from_bytes(raw.value[0].account.data).amount == 2_500_000

    balance = read_as(
        GetTokenAccountBalanceResp, call(chain, "getTokenAccountBalance", str(entry.pubkey))
    )
    assert balance.value.amount == "2500000"
    assert balance.value.decimals == 6
    assert balance.value.ui_amount_string == "2.5"

    by_program = json.loads(
        call(
            chain,
            "getTokenAccountsByOwner",
            owner,
            {"programId": "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"},
        )
    )
    assert len(by_program["result"]["value"]) == 1


def test_account_reads(chain: Chain, funded: Keypair) -> None:
    owner = str(funded.pubkey())
    info = read_as(GetAccountInfoResp, call(chain, "getAccountInfo", owner, {"encoding": "base64"}))
    assert info.value is not None
    assert info.value.lamports == 5 * SOL
    b58 = json.loads(call(chain, "getAccountInfo", owner))  # base58 is the RPC default
    assert b58["result"]["value"]["data"] == ["", "base58"]
    mint = read_as(
        GetAccountInfoJsonParsedResp,
        call(chain, "getAccountInfo", str(chain.nos_mint), {"encoding": "jsonParsed"}),
    )
    assert mint.value is not None
    assert mint.value.data.parsed["info"]["supply"] == "2500000"
    missing = read_as(GetAccountInfoResp, call(chain, "getAccountInfo", str(Keypair().pubkey())))
    assert missing.value is None
    many = read_as(
        GetMultipleAccountsResp,
        call(
            chain,
            "getMultipleAccounts",
            [owner, str(Keypair().pubkey())],
            {"encoding": "base64"},
        ),
    )
    assert many.value[0] is not None
    assert many.value[1] is None


def test_misc_reads(chain: Chain) -> None:
    assert read_as(GetSlotResp, call(chain, "getSlot")).value == chain.slot
    assert read_as(GetHealthResp, call(chain, "getHealth")).value == "ok"
    assert read_as(GetVersionResp, call(chain, "getVersion")).value.solana_core
    rent = read_as(
        GetMinimumBalanceForRentExemptionResp, call(chain, "getMinimumBalanceForRentExemption", 165)
    )
    assert rent.value == chain.minimum_balance_for_rent_exemption(165)
    latest = read_as(GetLatestBlockhashResp, call(chain, "getLatestBlockhash"))
    assert latest.value.last_valid_block_height > chain.slot


@pytest.mark.parametrize("encoding", ["base64", "base58"])
def test_send_then_statuses_history_and_transaction(
    chain: Chain, funded: Keypair, encoding: str
) -> None:
    tx = signed_transfer(chain, funded, SOL)
    raw = bytes(tx)
    text = (
        base64.b64encode(raw).decode() if encoding == "base64" else base58.b58encode(raw).decode()
    )
    sent = read_as(
        SendTransactionResp, call(chain, "sendTransaction", text, {"encoding": encoding})
    )
    assert sent.value == tx.signatures[0]
    signature = str(sent.value)

    statuses = read_as(
        GetSignatureStatusesResp,
        call(chain, "getSignatureStatuses", [signature, str(Keypair().sign_message(b"x"))]),
    )
    assert statuses.value[0] is not None
    assert statuses.value[0].err is None
    assert statuses.value[1] is None

    history = read_as(
        GetSignaturesForAddressResp,
        call(chain, "getSignaturesForAddress", str(funded.pubkey()), {"limit": 1}),
    )
    assert [str(item.signature) for item in history.value] == [signature]
    assert history.value[0].block_time == int(START)

    for tx_encoding in ("json", "base64"):
        got = read_as(
            GetTransactionResp,
            call(
                chain,
                "getTransaction",
                signature,
                {"encoding": tx_encoding, "maxSupportedTransactionVersion": 0},
            ),
        )
        assert got.value is not None
        meta = got.value.transaction.meta
        assert meta is not None
        assert meta.fee == 5000
        assert meta.pre_balances[0] - meta.post_balances[0] == SOL + 5000
        assert got.value.block_time == int(START)
        assert got.value.slot == chain.slot


def test_get_transaction_carries_token_balances(chain: Chain, funded: Keypair) -> None:
    signature = chain.mint_nos(str(funded.pubkey()), 500_000)
    answer = json.loads(
        call(chain, "getTransaction", signature, {"maxSupportedTransactionVersion": 0})
    )
    meta = answer["result"]["meta"]
    (pre,) = meta["preTokenBalances"]
    (post,) = meta["postTokenBalances"]
    assert pre["uiTokenAmount"]["amount"] == "2500000"
    assert post["uiTokenAmount"] == {
        "amount": "3000000",
        "decimals": 6,
        "uiAmount": 3.0,
        "uiAmountString": "3",
    }
    assert post["owner"] == str(funded.pubkey())
    assert post["mint"] == str(chain.nos_mint)
    assert answer["result"]["version"] == 0
    typed = read_as(
        GetTransactionResp,
        call(chain, "getTransaction", signature, {"maxSupportedTransactionVersion": 0}),
    )
    assert typed.value is not None
    token_meta = typed.value.transaction.meta
    assert token_meta is not None
    assert token_meta.post_token_balances is not None
    assert token_meta.post_token_balances[0].ui_token_amount.amount == "3000000"


def test_v0_transaction_needs_max_supported_version(chain: Chain, funded: Keypair) -> None:
    signature = chain.mint_nos(str(funded.pubkey()), 1)
    error = error_of(call(chain, "getTransaction", signature))
    assert error["code"] == -32015
    assert (
        json.loads(call(chain, "getTransaction", str(Keypair().sign_message(b"?")), {}))["result"]
        is None
    )


def test_preflight_failure_is_32002_with_logs(chain: Chain, funded: Keypair) -> None:
    tx = signed_transfer(chain, funded, 50 * SOL)
    text = call(
        chain, "sendTransaction", base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}
    )
    error = error_of(text)
    assert error["code"] == -32002
    assert error["message"].startswith("Transaction simulation failed")
    assert any("insufficient lamports" in line for line in error["data"]["logs"])
    assert error["data"]["err"] == {"InstructionError": [0, {"Custom": 1}]}
    typed = read_as(SendTransactionResp, text)
    assert isinstance(typed, SendTransactionPreflightFailureMessage)
    assert chain.sol_balance(funded.pubkey()) == 5 * SOL


def test_request_airdrop(chain: Chain) -> None:
    user = str(Keypair().pubkey())
    resp = read_as(RequestAirdropResp, call(chain, "requestAirdrop", user, 2 * SOL))
    assert chain.transaction(str(resp.value)) is not None
    assert chain.sol_balance(user) == 2 * SOL


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("getNothing", [], -32601),
        ("getBalance", [], -32602),
        ("getBalance", ["nope"], -32602),
        ("getBalance", [123], -32602),
        ("getAccountInfo", [str(Pubkey.default()), {"encoding": "base64+zstd"}], -32602),
        ("getTokenAccountBalance", [str(Pubkey.default())], -32602),
        ("getTokenAccountsByOwner", [str(Pubkey.default()), {}], -32602),
        ("getSignaturesForAddress", [str(Pubkey.default()), {"limit": 0}], -32602),
        ("sendTransaction", ["%%%", {"encoding": "base64"}], -32602),
        ("sendTransaction", [base64.b64encode(b"junk").decode(), {"encoding": "base64"}], -32602),
        ("requestAirdrop", [str(Pubkey.default()), -1], -32602),
        ("getMinimumBalanceForRentExemption", [True], -32602),
    ],
)
def test_bad_requests_get_json_rpc_errors(
    chain: Chain, method: str, params: list[Any], code: int
) -> None:
    assert error_of(call(chain, method, *params))["code"] == code


def test_parse_errors_invalid_requests_and_batches(chain: Chain) -> None:
    assert dispatch(chain, b"{not json")["error"]["code"] == -32700
    assert dispatch(chain, {"id": 1, "method": "getSlot"})["error"]["code"] == -32600
    assert dispatch(chain, [])["error"]["code"] == -32600
    params_not_a_list = {"jsonrpc": "2.0", "id": 1, "method": "getSlot", "params": {}}
    assert dispatch(chain, params_not_a_list)["error"]["code"] == -32602
    batch = dispatch(
        chain,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
            {"jsonrpc": "2.0", "id": 2, "method": "nope"},
            5,
        ],
    )
    assert [item.get("id") for item in batch] == [1, 2, None]
    assert batch[0]["result"] == chain.slot
    assert batch[1]["error"]["code"] == -32601
    assert batch[2]["error"]["code"] == -32600


async def test_starlette_route_serves_rpc(chain: Chain) -> None:
    app = Starlette(routes=make_rpc_routes(chain))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        ok = await client.post(
            "/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "getHealth", "params": []}
        )
        assert ok.status_code == 200
        assert read_as(GetHealthResp, ok.text).value == "ok"
        broken = await client.post(
            "/rpc", content=b"{", headers={"content-type": "application/json"}
        )
        assert broken.status_code == 200
        assert broken.json()["error"]["code"] == -32700
        assert (await client.get("/rpc")).status_code == 405
