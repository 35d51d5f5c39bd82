"""A thin Solana JSON-RPC client over httpx: the few calls the vault needs, sync and async.

Each call is a pure :class:`RPCCall` built in ``_shared/solana_rpc.py``; :class:`SolanaRPC` and
:class:`AsyncSolanaRPC` only move bytes, through the retry loop of ``retry_policy``.
``AsyncSolanaRPC`` is written once in ``_async/solana_rpc.py``, ``SolanaRPC`` generated from it.
"""

from nosana_nb.core._async.solana_rpc import AsyncSolanaRPC
from nosana_nb.core._shared.solana_rpc import (
    CONFIRM_POLL_SECONDS,
    MAX_SIGNATURES,
    RPCCall,
    account_call,
    airdrop_call,
    balance_call,
    latest_blockhash_call,
    parse_answer,
    redact_url,
    send_transaction_call,
    signature_statuses_call,
    signatures_for_address_call,
    token_amount,
    token_balance_call,
    transaction_call,
)
from nosana_nb.core._sync.solana_rpc import SolanaRPC
from nosana_nb.core.errors import SolanaRPCError
from nosana_nb.core.retry_policy import (
    DEFAULT_RPC_BACKOFF,
    DEFAULT_RPC_RETRIES,
    DEFAULT_RPC_TIMEOUT,
    RETRY_STATUSES,
)

__all__ = [
    "CONFIRM_POLL_SECONDS",
    "DEFAULT_RPC_BACKOFF",
    "DEFAULT_RPC_RETRIES",
    "DEFAULT_RPC_TIMEOUT",
    "MAX_SIGNATURES",
    "RETRY_STATUSES",
    "AsyncSolanaRPC",
    "RPCCall",
    "SolanaRPC",
    "SolanaRPCError",
    "account_call",
    "airdrop_call",
    "balance_call",
    "latest_blockhash_call",
    "parse_answer",
    "redact_url",
    "send_transaction_call",
    "signature_statuses_call",
    "signatures_for_address_call",
    "token_amount",
    "token_balance_call",
    "transaction_call",
]
