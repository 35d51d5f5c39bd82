"""The Solana JSON-RPC client: error mapping, read-only retries, confirmation, redaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from nosana_nb.core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    InternalServerError,
    RateLimitError,
    ValidationError,
)
from nosana_nb.core.solana_rpc import AsyncSolanaRPC, SolanaRPC, SolanaRPCError, redact_url
from nosana_nb.sandbox.chain.chain import Chain
from nosana_nb.sandbox.chain.rpc import dispatch
from nosana_nb.sandbox.clock import Clock
from nosana_nb.sandbox.store import Store

URL = "http://127.0.0.1:3001/rpc"
Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def chain() -> Iterator[Chain]:
    store = Store(":memory:")
    yield Chain(store, clock=Clock.manual(1_767_225_600.0))
    store.close()


def rpc_with(handler: Handler, *, max_retries: int = 3) -> SolanaRPC:
    transport = httpx.MockTransport(handler)
    return SolanaRPC(URL, transport=transport, backoff_factor=0, max_retries=max_retries)


def chain_handler(chain: Chain) -> Handler:
    return lambda request: httpx.Response(200, json=dispatch(chain, request.content))


def flaky(times: int, status: int, then: Handler) -> tuple[Handler, list[str]]:
    """Fail the first ``times`` requests with ``status``, then delegate; records methods."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content)["method"])
        if len(seen) <= times:
            return httpx.Response(status, json={"error": "busy"})
        return then(request)

    return handler, seen


def test_reads_against_the_sandbox(chain: Chain) -> None:
    user = Keypair().pubkey()
    chain.airdrop(str(user), 3_000_000_000)
    chain.mint_nos(str(user), 42)
    rpc = rpc_with(chain_handler(chain))
    assert rpc.get_balance(user) == 3_000_000_000
    assert rpc.get_token_balance(str(user), chain.nos_mint) == 42
    assert rpc.get_token_balance(Keypair().pubkey(), chain.nos_mint) == 0  # no ATA yet
    assert chain.is_blockhash_valid(rpc.get_latest_blockhash())
    signature = rpc.request_airdrop(str(user), 1_000_000_000)
    rpc.confirm_transaction(signature)
    assert rpc.get_balance(str(user)) == 4_000_000_000
    assert rpc.get_transaction(signature) is not None
    assert rpc.get_transaction(str(Keypair().sign_message(b"x"))) is None


def test_json_rpc_errors_become_solana_rpc_errors(chain: Chain) -> None:
    rpc = rpc_with(chain_handler(chain))
    with pytest.raises(SolanaRPCError) as info:
        rpc.send_transaction(b"\x01garbage")
    assert info.value.code == -32602
    assert info.value.rpc_method == "sendTransaction"
    assert "sendTransaction" in str(info.value)


def test_preflight_failure_carries_the_program_logs(chain: Chain) -> None:
    payer = Keypair()
    chain.airdrop(str(payer.pubkey()), 1_000_000_000)
    rpc = rpc_with(chain_handler(chain))
    ix = transfer(
        TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=2 * 10**9)
    )
    message = MessageV0.try_compile(payer.pubkey(), [ix], [], rpc.get_latest_blockhash())
    with pytest.raises(SolanaRPCError) as info:
        rpc.send_transaction(bytes(VersionedTransaction(message, [payer])))
    assert info.value.code == -32002
    assert any("insufficient lamports" in line for line in info.value.logs)
    assert "program logs" in str(info.value)


def test_reads_are_retried_on_busy_answers(chain: Chain) -> None:
    handler, seen = flaky(2, 503, chain_handler(chain))
    assert rpc_with(handler).get_balance(Keypair().pubkey()) == 0
    assert seen == ["getBalance"] * 3


def test_reads_give_up_after_max_retries(chain: Chain) -> None:
    handler, seen = flaky(10, 429, chain_handler(chain))
    with pytest.raises(RateLimitError):
        rpc_with(handler, max_retries=2).get_balance(Keypair().pubkey())
    assert len(seen) == 3


def test_writes_are_never_retried(chain: Chain) -> None:
    handler, seen = flaky(1, 503, chain_handler(chain))
    with pytest.raises(InternalServerError):
        rpc_with(handler).request_airdrop(Keypair().pubkey(), 10**9)
    assert seen == ["requestAirdrop"]
    handler, seen = flaky(1, 503, chain_handler(chain))
    with pytest.raises(InternalServerError):
        rpc_with(handler).send_transaction(b"\x00" * 80)
    assert seen == ["sendTransaction"]


def test_connection_errors_retry_reads_but_not_writes(chain: Chain) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content)["method"])
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return chain_handler(chain)(request)

    assert rpc_with(handler).get_balance(Keypair().pubkey()) == 0
    assert calls == ["getBalance", "getBalance"]

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(APIConnectionError):
        rpc_with(down).request_airdrop(Keypair().pubkey(), 1)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(APITimeoutError):
        rpc_with(slow, max_retries=0).get_balance(Keypair().pubkey())


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"<html>"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"jsonrpc": "2.0", "id": 1}),
        httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {"value": "x"}}),
        httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "error": "bad"}),
    ],
)
def test_malformed_answers_are_response_validation_errors(answer: httpx.Response) -> None:
    with pytest.raises(APIResponseValidationError):
        rpc_with(lambda request: answer).get_balance(Keypair().pubkey())


def test_confirmation_reports_failure_and_timeout() -> None:
    signature = str(Keypair().sign_message(b"tx"))

    def status(value: object) -> Handler:
        body = {"jsonrpc": "2.0", "id": 1, "result": {"context": {"slot": 1}, "value": [value]}}
        return lambda request: httpx.Response(200, json=body)

    failed = {
        "slot": 1,
        "confirmations": None,
        "err": {"InstructionError": [0, {"Custom": 1}]},
        "status": {"Err": {"InstructionError": [0, {"Custom": 1}]}},
        "confirmationStatus": "confirmed",
    }
    with pytest.raises(SolanaRPCError, match="failed on chain"):
        rpc_with(status(failed)).confirm_transaction(signature)
    with pytest.raises(SolanaRPCError, match="not confirmed within"):
        rpc_with(status(None)).confirm_transaction(signature, timeout=0.01)
    with pytest.raises(ValidationError):
        rpc_with(status(None)).confirm_transaction(signature, timeout=float("nan"))
    with pytest.raises(ValidationError):
        rpc_with(status(None)).confirm_transaction("not-a-signature")


def test_bad_arguments_send_nothing() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    rpc = rpc_with(handler)
    with pytest.raises(ValidationError):
        rpc.get_balance("nope")
    with pytest.raises(ValidationError):
        rpc.get_signatures_for_address(Keypair().pubkey(), limit=0)
    with pytest.raises(ValidationError):
        rpc.request_airdrop(Keypair().pubkey(), True)
    with pytest.raises(ValidationError):
        rpc.send_transaction(b"")
    with pytest.raises(ValidationError):
        SolanaRPC("ftp://example.com")
    assert sent == []


def test_urls_with_keys_are_redacted() -> None:
    secret_url = "https://user:pw@rpc.example.com:8899/mainnet?api-key=SECRET123#frag"
    assert redact_url(secret_url) == "https://rpc.example.com:8899/mainnet"

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    rpc = SolanaRPC(secret_url, transport=httpx.MockTransport(down), max_retries=0)
    assert "SECRET123" not in repr(rpc)
    with pytest.raises(APIConnectionError) as info:
        rpc.get_balance(Keypair().pubkey())
    assert "SECRET123" not in str(info.value)
    assert "SECRET123" not in info.value.url
    assert "pw@" not in str(info.value)


async def test_async_client_matches_the_sync_one(chain: Chain) -> None:
    user = Keypair().pubkey()
    handler, seen = flaky(1, 502, chain_handler(chain))
    async with AsyncSolanaRPC(URL, transport=httpx.MockTransport(handler), backoff_factor=0) as rpc:
        assert await rpc.get_balance(user) == 0  # retried after the 502
        signature = await rpc.request_airdrop(user, 2 * 10**9)
        await rpc.confirm_transaction(signature)
        assert await rpc.get_balance(user) == 2 * 10**9
        assert await rpc.get_token_balance(user, chain.nos_mint) == 0
        history = await rpc.get_signatures_for_address(user)
        assert [entry["signature"] for entry in history] == [signature]
        assert (await rpc.get_transaction(signature)) is not None
    assert seen[:3] == ["getBalance", "getBalance", "requestAirdrop"]
    handler, seen = flaky(1, 502, chain_handler(chain))
    async with AsyncSolanaRPC(URL, transport=httpx.MockTransport(handler)) as rpc:
        with pytest.raises(InternalServerError):
            await rpc.send_transaction(b"\x00" * 80)
    assert seen == ["sendTransaction"]
