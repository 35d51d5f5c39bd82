"""Solana JSON-RPC 2.0 over the sandbox chain: the method subset the client's vault code uses.

Shapes follow the validator's RPC (context/value wrappers, ``uiTokenAmount``, ``jsonParsed``
token accounts, preflight failures as error -32002 with logs), so that solders' response
classes and real clients read them unchanged. ``sandbox.http.rpc_endpoint`` serves it at
``POST /rpc``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any

import base58
from solders.account import Account
from solders.hash import Hash
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.token.state import Mint
from solders.transaction import VersionedTransaction
from spl.token.constants import MINT_LEN, TOKEN_PROGRAM_ID

from .airdrops import AirdropPoolEmpty, AirdropTooLarge
from .chain import Chain
from .errors import ChainError
from .history import TxRecord
from .values import token_state, ui_token_amount

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
PREFLIGHT_FAILURE = -32002
UNSUPPORTED_TX_VERSION = -32015
MAX_SIGNATURES_LIMIT = 1000
MAX_STATUS_QUERY = 256
SANDBOX_CORE_VERSION = "2.2.0"


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def dispatch(chain: Chain, payload: Any) -> Any:
    """Answer one request or a batch; ``payload`` may also be raw JSON text or bytes."""
    if isinstance(payload, str | bytes | bytearray):
        try:
            payload = json.loads(payload, parse_constant=_not_json)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _error(None, RpcError(PARSE_ERROR, "Parse error"))
    if isinstance(payload, list):
        if not payload:
            return _error(None, RpcError(INVALID_REQUEST, "Invalid request"))
        return [_answer(chain, item) for item in payload]
    return _answer(chain, payload)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# -- envelope ---------------------------------------------------------------------------------
def _valid_id(value: Any) -> bool:
    """JSON-RPC 2.0: an id is a string, a number or null; it is echoed, so nothing else is."""
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _answer(chain: Chain, request: Any) -> dict[str, Any]:
    if not isinstance(request, dict) or not _valid_id(request.get("id")):
        return _error(None, RpcError(INVALID_REQUEST, "Invalid request"))
    request_id = request.get("id")
    method = request.get("method")
    if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
        return _error(request_id, RpcError(INVALID_REQUEST, "Invalid request"))
    params = request.get("params", [])
    if params is None:
        params = []
    handler = _METHODS.get(method)
    try:
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, "Method not found")
        if not isinstance(params, list):
            raise RpcError(INVALID_PARAMS, "Invalid params: expected an array of parameters")
        result = handler(chain, params)
    except RpcError as exc:
        return _error(request_id, exc)
    except ChainError as exc:
        return _error(request_id, RpcError(INVALID_PARAMS, f"Invalid params: {exc.message}"))
    return {"jsonrpc": "2.0", "result": result, "id": request_id}


def _error(request_id: Any, exc: RpcError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.data is not None:
        body["data"] = exc.data
    return {"jsonrpc": "2.0", "error": body, "id": request_id}


# -- parameter helpers ------------------------------------------------------------------------
def _param(params: list[Any], index: int, name: str) -> Any:
    if index >= len(params):
        raise RpcError(INVALID_PARAMS, f"Invalid params: missing {name}")
    return params[index]


def _pubkey(params: list[Any], index: int, name: str = "address") -> Pubkey:
    value = _param(params, index, name)
    if not isinstance(value, str):
        raise RpcError(INVALID_PARAMS, f"Invalid params: {name} must be a base58 string")
    try:
        return Pubkey.from_string(value)
    except ValueError:
        raise RpcError(INVALID_PARAMS, f"Invalid param: Invalid {name}") from None


def _config(params: list[Any], index: int) -> dict[str, Any]:
    if index >= len(params) or params[index] is None:
        return {}
    config = params[index]
    if not isinstance(config, dict):
        raise RpcError(INVALID_PARAMS, "Invalid params: configuration must be an object")
    return config


def _encoding(config: dict[str, Any], allowed: tuple[str, ...], default: str) -> str:
    encoding = config.get("encoding", default)
    if encoding not in allowed:
        raise RpcError(
            INVALID_PARAMS,
            f"Invalid params: unsupported encoding {encoding!r}; use one of {', '.join(allowed)}",
        )
    return str(encoding)


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RpcError(INVALID_PARAMS, f"Invalid params: {name} must be a non-negative integer")
    return value


def _context(chain: Chain) -> dict[str, Any]:
    return {"slot": chain.slot, "apiVersion": SANDBOX_CORE_VERSION}


# -- account encoding -------------------------------------------------------------------------
_ACCOUNT_ENCODINGS = ("base64", "base58", "jsonParsed")


def _encode_account(chain: Chain, account: Account, encoding: str) -> dict[str, Any]:
    raw = bytes(account.data)
    data: Any
    if encoding == "jsonParsed" and (parsed := _parse_token_data(chain, account)) is not None:
        data = parsed
    elif encoding == "base58":
        data = [base58.b58encode(raw).decode(), "base58"]
    else:
        data = [base64.b64encode(raw).decode(), "base64"]
    return {
        "lamports": account.lamports,
        "owner": str(account.owner),
        "executable": account.executable,
        "rentEpoch": account.rent_epoch,
        "space": len(raw),
        "data": data,
    }


def _parse_token_data(chain: Chain, account: Account) -> dict[str, Any] | None:
    state = token_state(account)
    if state is not None:
        info = {
            "isNative": False,
            "mint": str(state.mint),
            "owner": str(state.owner),
            "state": "initialized",
            "tokenAmount": ui_token_amount(state.amount, chain.mint_decimals(state.mint)),
        }
        return {"program": "spl-token", "parsed": {"info": info, "type": "account"}, "space": 165}
    if account.owner == TOKEN_PROGRAM_ID and len(account.data) == MINT_LEN:
        mint = Mint.from_bytes(bytes(account.data))
        info = {
            "decimals": mint.decimals,
            "freezeAuthority": str(mint.freeze_authority) if mint.freeze_authority else None,
            "isInitialized": mint.is_initialized,
            "mintAuthority": str(mint.mint_authority) if mint.mint_authority else None,
            "supply": str(mint.supply),
        }
        return {"program": "spl-token", "parsed": {"info": info, "type": "mint"}, "space": MINT_LEN}
    return None


# -- methods ----------------------------------------------------------------------------------
def _get_balance(chain: Chain, params: list[Any]) -> Any:
    return {"context": _context(chain), "value": chain.sol_balance(_pubkey(params, 0))}


def _get_account_info(chain: Chain, params: list[Any]) -> Any:
    key = _pubkey(params, 0)
    encoding = _encoding(_config(params, 1), _ACCOUNT_ENCODINGS, "base58")
    account = chain.get_account(key)
    value = _encode_account(chain, account, encoding) if account is not None else None
    return {"context": _context(chain), "value": value}


def _get_multiple_accounts(chain: Chain, params: list[Any]) -> Any:
    keys = _param(params, 0, "addresses")
    if not isinstance(keys, list) or len(keys) > 100:
        raise RpcError(INVALID_PARAMS, "Invalid params: expected a list of at most 100 addresses")
    encoding = _encoding(_config(params, 1), _ACCOUNT_ENCODINGS, "base64")
    value = []
    for index in range(len(keys)):
        account = chain.get_account(_pubkey(keys, index))
        value.append(_encode_account(chain, account, encoding) if account is not None else None)
    return {"context": _context(chain), "value": value}


def _get_token_account_balance(chain: Chain, params: list[Any]) -> Any:
    key = _pubkey(params, 0)
    account = chain.get_account(key)
    if account is None:
        raise RpcError(INVALID_PARAMS, "Invalid param: could not find account")
    state = token_state(account)
    if state is None:
        raise RpcError(INVALID_PARAMS, "Invalid param: not a Token account")
    return {
        "context": _context(chain),
        "value": ui_token_amount(state.amount, chain.mint_decimals(state.mint)),
    }


def _get_token_accounts_by_owner(chain: Chain, params: list[Any]) -> Any:
    owner = _pubkey(params, 0, "owner")
    selector = _param(params, 1, "mint or programId filter")
    if not isinstance(selector, dict) or len(selector) != 1:
        raise RpcError(INVALID_PARAMS, "Invalid params: filter must be {mint} or {programId}")
    encoding = _encoding(_config(params, 2), _ACCOUNT_ENCODINGS, "base58")
    if "mint" in selector:
        accounts = chain.token_accounts_by_owner(owner, mint=_pubkey([selector["mint"]], 0, "mint"))
    elif "programId" in selector:
        if _pubkey([selector["programId"]], 0, "programId") != TOKEN_PROGRAM_ID:
            raise RpcError(INVALID_PARAMS, "Invalid param: unrecognized Token program id")
        accounts = chain.token_accounts_by_owner(owner)
    else:
        raise RpcError(INVALID_PARAMS, "Invalid params: filter must be {mint} or {programId}")
    value = [
        {"pubkey": str(key), "account": _encode_account(chain, account, encoding)}
        for key, account in accounts
    ]
    return {"context": _context(chain), "value": value}


def _get_latest_blockhash(chain: Chain, params: list[Any]) -> Any:
    blockhash, last_valid = chain.latest_blockhash()
    return {
        "context": _context(chain),
        "value": {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid},
    }


def _is_blockhash_valid(chain: Chain, params: list[Any]) -> Any:
    text = _param(params, 0, "blockhash")
    try:
        valid = chain.is_blockhash_valid(_hash(text))
    except ValueError:
        raise RpcError(INVALID_PARAMS, "Invalid params: blockhash is not base58") from None
    return {"context": _context(chain), "value": valid}


def _hash(text: Any) -> Hash:
    if not isinstance(text, str):
        raise ValueError("not a string")
    return Hash.from_string(text)


def _send_transaction(chain: Chain, params: list[Any]) -> Any:
    encoded = _param(params, 0, "transaction")
    config = _config(params, 1)
    encoding = _encoding(config, ("base58", "base64"), "base58")
    if not isinstance(encoded, str):
        raise RpcError(INVALID_PARAMS, "Invalid params: transaction must be an encoded string")
    try:
        raw = (
            base64.b64decode(encoded, validate=True)
            if encoding == "base64"
            else (base58.b58decode(encoded))
        )
    except ValueError:
        raise RpcError(
            INVALID_PARAMS, f"Invalid params: transaction is not valid {encoding}"
        ) from None
    try:
        return chain.send_raw_transaction(raw, skip_preflight=bool(config.get("skipPreflight")))
    except ChainError as exc:
        if exc.err is None:
            raise RpcError(INVALID_PARAMS, f"Invalid params: {exc.message}") from None
        data = {
            "accounts": None,
            "err": exc.err,
            "innerInstructions": None,
            "logs": list(exc.logs),
            "replacementBlockhash": None,
            "returnData": None,
            "unitsConsumed": exc.units,
        }
        raise RpcError(PREFLIGHT_FAILURE, exc.message, data) from None


def _status(record: TxRecord) -> dict[str, Any]:
    err = record.err
    return {
        "slot": record.slot,
        "confirmations": None,
        "err": err,
        "status": {"Ok": None} if err is None else {"Err": err},
        "confirmationStatus": "finalized",
    }


def _get_signature_statuses(chain: Chain, params: list[Any]) -> Any:
    signatures = _param(params, 0, "signatures")
    if not isinstance(signatures, list) or len(signatures) > MAX_STATUS_QUERY:
        raise RpcError(
            INVALID_PARAMS,
            f"Invalid params: expected a list of at most {MAX_STATUS_QUERY} signatures",
        )
    value = []
    for signature in signatures:
        if not isinstance(signature, str):
            raise RpcError(INVALID_PARAMS, "Invalid params: signatures must be base58 strings")
        record = chain.transaction(signature)
        value.append(_status(record) if record is not None else None)
    return {"context": _context(chain), "value": value}


def _get_signatures_for_address(chain: Chain, params: list[Any]) -> Any:
    address = _pubkey(params, 0)
    config = _config(params, 1)
    limit = _non_negative_int(config.get("limit", MAX_SIGNATURES_LIMIT), "limit")
    if not 1 <= limit <= MAX_SIGNATURES_LIMIT:
        raise RpcError(INVALID_PARAMS, f"Invalid params: limit must be 1..{MAX_SIGNATURES_LIMIT}")
    before, until = config.get("before"), config.get("until")
    for name, value in (("before", before), ("until", until)):
        if value is not None and not isinstance(value, str):
            raise RpcError(INVALID_PARAMS, f"Invalid params: {name} must be a signature string")
    records = chain.signatures_for_address(address, limit=limit, before=before, until=until)
    return [
        {
            "signature": record.signature,
            "slot": record.slot,
            "err": record.err,
            "memo": None,
            "blockTime": record.block_time,
            "confirmationStatus": "finalized",
        }
        for record in records
    ]


def _get_transaction(chain: Chain, params: list[Any]) -> Any:
    signature = _param(params, 0, "signature")
    if not isinstance(signature, str):
        raise RpcError(INVALID_PARAMS, "Invalid params: signature must be a base58 string")
    raw_config = params[1] if len(params) > 1 else None
    config = {"encoding": raw_config} if isinstance(raw_config, str) else _config(params, 1)
    encoding = _encoding(config, ("json", "base64", "base58"), "json")
    record = chain.transaction(signature)
    if record is None:
        return None
    tx = record.transaction
    is_v0 = isinstance(tx.message, MessageV0)
    max_version = config.get("maxSupportedTransactionVersion")
    if max_version is not None:
        _non_negative_int(max_version, "maxSupportedTransactionVersion")
    if is_v0 and max_version is None:
        raise RpcError(
            UNSUPPORTED_TX_VERSION,
            "Transaction version (0) is not supported by the requesting client. Please try the "
            "request again with the following configuration parameter: "
            '"maxSupportedTransactionVersion": 0',
        )
    encoded: Any
    if encoding == "json":
        encoded = _ui_transaction(tx)
    elif encoding == "base64":
        encoded = [base64.b64encode(record.raw).decode(), "base64"]
    else:
        encoded = [base58.b58encode(record.raw).decode(), "base58"]
    meta = dict(record.meta)
    meta["status"] = {"Ok": None} if record.err is None else {"Err": record.err}
    meta.setdefault("innerInstructions", [])
    meta.setdefault("rewards", [])
    meta.setdefault("loadedAddresses", {"writable": [], "readonly": []})
    result: dict[str, Any] = {
        "slot": record.slot,
        "blockTime": record.block_time,
        "meta": meta,
        "transaction": encoded,
    }
    if max_version is not None:
        result["version"] = 0 if is_v0 else "legacy"
    return result


def _ui_transaction(tx: VersionedTransaction) -> dict[str, Any]:
    message = tx.message
    header = message.header
    ui_message: dict[str, Any] = {
        "accountKeys": [str(key) for key in message.account_keys],
        "header": {
            "numRequiredSignatures": header.num_required_signatures,
            "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
        },
        "recentBlockhash": str(message.recent_blockhash),
        "instructions": [
            {
                "programIdIndex": ix.program_id_index,
                "accounts": list(ix.accounts),
                "data": base58.b58encode(bytes(ix.data)).decode(),
                "stackHeight": None,
            }
            for ix in message.instructions
        ],
    }
    if isinstance(message, MessageV0):
        ui_message["addressTableLookups"] = []
    return {"signatures": [str(sig) for sig in tx.signatures], "message": ui_message}


def _request_airdrop(chain: Chain, params: list[Any]) -> Any:
    key = _pubkey(params, 0)
    lamports = _non_negative_int(_param(params, 1, "lamports"), "lamports")
    if lamports == 0:
        raise RpcError(INVALID_PARAMS, "Invalid params: lamports must be greater than 0")
    try:
        return chain.request_airdrop(key, lamports)
    except AirdropTooLarge as exc:
        raise RpcError(INVALID_PARAMS, f"Invalid params: {exc.message}") from None
    except AirdropPoolEmpty as exc:
        raise RpcError(INTERNAL_ERROR, exc.message) from None


def _get_minimum_balance(chain: Chain, params: list[Any]) -> Any:
    size = _non_negative_int(_param(params, 0, "data length"), "data length")
    if size > 10 * 1024 * 1024:
        raise RpcError(INVALID_PARAMS, "Invalid params: data length exceeds 10 MiB")
    return chain.minimum_balance_for_rent_exemption(size)


def _get_slot(chain: Chain, params: list[Any]) -> Any:
    return chain.slot


def _get_health(chain: Chain, params: list[Any]) -> Any:
    return "ok"


def _get_version(chain: Chain, params: list[Any]) -> Any:
    return {"solana-core": SANDBOX_CORE_VERSION, "feature-set": 0}


_METHODS: dict[str, Callable[[Chain, list[Any]], Any]] = {
    "getAccountInfo": _get_account_info,
    "getBalance": _get_balance,
    "getBlockHeight": _get_slot,
    "getHealth": _get_health,
    "getLatestBlockhash": _get_latest_blockhash,
    "getMinimumBalanceForRentExemption": _get_minimum_balance,
    "getMultipleAccounts": _get_multiple_accounts,
    "getSignatureStatuses": _get_signature_statuses,
    "getSignaturesForAddress": _get_signatures_for_address,
    "getSlot": _get_slot,
    "getTokenAccountBalance": _get_token_account_balance,
    "getTokenAccountsByOwner": _get_token_accounts_by_owner,
    "getTransaction": _get_transaction,
    "getVersion": _get_version,
    "isBlockhashValid": _is_blockhash_valid,
    "requestAirdrop": _request_airdrop,
    "sendTransaction": _send_transaction,
}
