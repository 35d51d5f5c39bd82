"""Errors of the sandbox chain, and the text and JSON a validator gives a failed transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from solders.transaction_metadata import FailedTransactionMetadata
from solders.transaction_status import (
    InstructionErrorCustom,
    InstructionErrorFieldless,
    TransactionErrorFieldless,
    TransactionErrorInstructionError,
    TransactionErrorInsufficientFundsForRent,
    TransactionErrorType,
    UiTransactionStatusMeta,
)

FUNDS_MARKER = "InsufficientFundsForRent"
"""Every refusal for lack of funds carries this word, so callers can tell it from other errors."""


class ChainError(Exception):
    """A transaction the chain refused, or a request it cannot serve.

    ``err`` is the standard JSON form of the transaction error (None when no transaction ran),
    ``logs`` the program logs of the failed simulation.
    """

    def __init__(
        self, message: str, *, err: Any = None, logs: Sequence[str] = (), units: int = 0
    ) -> None:
        super().__init__(message)
        self.message = message
        self.err = err
        self.logs = tuple(logs)
        self.units = units


def error_json(err: TransactionErrorType) -> Any:
    """The RPC's JSON form of an error, e.g. ``{"InstructionError":[0,{"Custom":1}]}``."""
    return json.loads(UiTransactionStatusMeta(err, 0, [], []).to_json())["err"]


def describe_error(err: TransactionErrorType) -> str:
    """Human text for a transaction error, close to what a validator prints."""
    if isinstance(err, TransactionErrorInstructionError):
        inner = err.err
        if isinstance(inner, InstructionErrorCustom):
            detail = f"custom program error: 0x{inner.code:x}"
        elif isinstance(inner, InstructionErrorFieldless):
            detail = str(inner).rsplit(".", 1)[-1]
        else:
            detail = str(inner)
        return f"Error processing Instruction {err.index}: {detail}"
    if isinstance(err, TransactionErrorFieldless):
        return str(err).rsplit(".", 1)[-1]
    if isinstance(err, TransactionErrorInsufficientFundsForRent):
        return (
            f"InsufficientFundsForRent: account {err.account_index} would be left below "
            "the rent-exempt minimum"
        )
    return str(err)


def simulation_error(failed: FailedTransactionMetadata) -> ChainError:
    """The ChainError of a failed preflight: validator text, JSON error, logs and units."""
    err = failed.err()
    meta = failed.meta()
    text = describe_error(err)
    if _is_funds_error(err) and FUNDS_MARKER not in text:
        text = f"{FUNDS_MARKER}: {text}"
    return ChainError(
        f"Transaction simulation failed: {text}",
        err=error_json(err),
        logs=meta.logs(),
        units=meta.compute_units_consumed(),
    )


def _is_funds_error(err: TransactionErrorType) -> bool:
    if err == TransactionErrorFieldless.InsufficientFundsForFee:
        return True
    if isinstance(err, TransactionErrorInsufficientFundsForRent):
        return True
    if isinstance(err, TransactionErrorInstructionError):
        inner = err.err
        # SPL Token error 1 is InsufficientFunds; System transfer error 1 too.
        if isinstance(inner, InstructionErrorCustom) and inner.code == 1:
            return True
        return inner == InstructionErrorFieldless.InsufficientFunds
    return False
