"""Short ids for people: ``CT3a…3EKB`` instead of a 44-character base58 address.

``short_id`` is the one rule every chart label and table uses. ``styled(df)`` is how a notebook
shows a frame with short ids: a pandas ``Styler`` (what ``df.style`` returns), so the frame's
data stays whole — copy it, filter it, join on it — and only its HTML rendering changes. The
full id stays one hover away (an ``<abbr title=...>``).
"""

from __future__ import annotations

import html
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from nosana_nb.core.errors import ValidationError

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

MIN_ID_LENGTH = 32
"""Solana addresses are 32–44 base58 characters and signatures 87–88; shorter text is a name."""
SHORT_ID_KEEP = 4
"""Characters kept on each side: ``abcd…wxyz``."""
ID_COLUMNS: tuple[str, ...] = (
    "id",
    "deployment",
    "job",
    "node",
    "market",
    "vault",
    "owner",
    "address",
    "signature",
    "tx",
)
"""Columns of the fixed schemas that hold addresses or signatures."""


def is_missing(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and np.isnan(value))
    )


def looks_like_id(text: str) -> bool:
    """True for one unbroken run of letters and digits as long as an address (base58
    addresses and signatures, hex digests): the values worth shortening. Names, slugs, image
    references and sentences have spaces or punctuation and stay whole.

    Args:
        text: the value.

    Returns:
        Whether to shorten it.
    """
    return len(text) >= MIN_ID_LENGTH and text.isascii() and text.isalnum()


def short_id(value: Any, keep: int = SHORT_ID_KEEP) -> str:
    """``abcd…wxyz`` for an address or signature, the value itself otherwise; "—" if missing.

    Args:
        value: the value to show.
        keep: characters kept at each end.

    Returns:
        The label.
    """
    if is_missing(value):
        return "—"
    text = str(value)
    if not looks_like_id(text):
        return text
    return f"{text[:keep]}…{text[-keep:]}"


def short_id_labels(values: Iterable[Any]) -> dict[Any, str]:
    """Distinct values -> distinct short labels (more characters kept where two would clash).

    Args:
        values: the values to label.

    Returns:
        Each distinct value with its label.
    """
    distinct = list(dict.fromkeys(v for v in values if not is_missing(v)))
    keep = SHORT_ID_KEEP
    while True:
        labels = {value: short_id(value, keep) for value in distinct}
        if len(set(labels.values())) == len(labels) or keep >= MIN_ID_LENGTH // 2:
            return labels
        keep += 2


def _abbreviation(value: Any) -> str:
    if is_missing(value):
        return "&lt;NA&gt;"
    text = str(value)
    short = short_id(text)
    if short == text:
        return html.escape(text)
    return f'<abbr title="{html.escape(text)}">{html.escape(short)}</abbr>'


def _number(value: Any) -> str:
    if is_missing(value):
        return "&lt;NA&gt;"
    if isinstance(value, float | np.floating):
        # like the DataFrame repr: no trailing zeros, no scientific notation for NOS amounts
        return str(np.format_float_positional(value, precision=6, trim="-"))
    return html.escape(str(value))


def styled(
    df: pd.DataFrame, *, columns: Sequence[str] | None = None, max_rows: int | None = None
) -> Styler:
    """``df`` for display in a notebook, with long ids shown as ``abcd…wxyz``.

    Returns a pandas ``Styler`` (render it as the last expression of a cell or with
    ``display``); ``df`` itself is not changed. ``columns`` defaults to the id columns of the
    fixed schemas present in ``df`` (``ID_COLUMNS``). At most ``max_rows`` rows are rendered
    (default: ``pd.options.display.max_rows``), with a caption saying how many were left out.

    Args:
        df: the frame to show.
        columns: the columns whose ids to shorten.
        max_rows: at most this many rows rendered.

    Returns:
        The pandas ``Styler``.

    Raises:
        ValidationError: ``df`` is not a DataFrame, or a bad ``columns`` / ``max_rows``.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"expected a DataFrame, got {type(df).__name__}", argument="df")
    names = [str(c) for c in df.columns]
    if columns is None:
        chosen: list[Hashable] = [c for c in df.columns if str(c) in ID_COLUMNS]
    else:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise ValidationError(f"no such columns: {unknown}", argument="columns")
        chosen = [c for c in df.columns if str(c) in columns]
    limit = max_rows if max_rows is not None else pd.get_option("display.max_rows")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError("max_rows must be a positive integer", argument="max_rows")
    shown = df.head(limit)
    floats: list[Hashable] = [
        c for c in shown.columns if c not in chosen and pd.api.types.is_float_dtype(shown[c])
    ]
    styler = shown.style.format(na_rep="<NA>", escape="html")
    styler = styler.format(_number, subset=floats)  # escaped by hand: formatters return HTML
    styler = styler.format(_abbreviation, subset=chosen)
    if len(df) > len(shown):
        styler = styler.set_caption(f"first {len(shown):,} of {len(df):,} rows")
    return styler


__all__ = [
    "ID_COLUMNS",
    "looks_like_id",
    "short_id",
    "short_id_labels",
    "styled",
]
