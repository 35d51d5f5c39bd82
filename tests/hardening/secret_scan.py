"""A reusable secret scanner: every text form a wallet's key material can take, and a search.

``Needles.for_wallet(wallet)`` lists the 64-byte secret and its 32-byte seed as base58, JSON
array text (with and without spaces), hex (lower and upper), base64 and base64url (padded and
not), plus the ``Authorization`` header value and its bare signature. Extra secrets (an API key,
a pinning JWT) are added by name. ``scan_text`` / ``scan_file`` report which needles occur, also
after removing whitespace and JSON escapes, so a list printed over several lines, a line-wrapped
base64 block or a string inside a saved .ipynb still counts. Hits never carry the secret itself.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import base58

from nosana_nb.core.auth import AUTH_MESSAGE, authorization_header
from nosana_nb.core.wallet import Wallet

__all__ = ["Hit", "Needles", "encodings", "scan_file", "scan_text", "scan_texts"]

# A leak of a prefix is a leak: a truncated dump ("[12, 34, 56, ...]") still gives the key away.
_PREFIX_BYTES = 12
_WHITESPACE = re.compile(r"\s+")
_JSON_ESCAPES = re.compile(r"\\[nrt]")


def _json_arrays(data: bytes) -> dict[str, str]:
    numbers = list(data)
    return {
        "json": json.dumps(numbers),
        "json-compact": json.dumps(numbers, separators=(",", ":")),
    }


def encodings(data: bytes, name: str) -> dict[str, str]:
    """Every text encoding of ``data`` we look for, keyed ``"<name>/<encoding>"``."""
    b64 = base64.b64encode(data).decode()
    b64url = base64.urlsafe_b64encode(data).decode()
    forms = {
        "base58": base58.b58encode(data).decode(),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
        "base64": b64,
        "base64-unpadded": b64.rstrip("="),
        "base64url": b64url,
        "base64url-unpadded": b64url.rstrip("="),
        **_json_arrays(data),
    }
    prefix = data[:_PREFIX_BYTES]
    forms["json-prefix"] = ", ".join(str(b) for b in prefix)
    forms["json-compact-prefix"] = ",".join(str(b) for b in prefix)
    forms["hex-prefix"] = prefix.hex()
    return {f"{name}/{form}": text for form, text in forms.items()}


@dataclass(frozen=True)
class Hit:
    """One needle found in one place. ``needle`` is the label, never the secret."""

    needle: str
    where: str
    how: str  # "raw", "no-whitespace" or "json-unescaped"

    def __str__(self) -> str:
        return f"{self.needle} in {self.where} ({self.how})"


@dataclass
class Needles:
    """Labelled secrets to look for."""

    secrets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_wallet(cls, wallet: Wallet) -> Needles:
        secret = bytes(wallet.keypair_for_signing())
        needles = cls({**encodings(secret, "secret"), **encodings(secret[:32], "seed")})
        header = authorization_header(wallet)
        needles.add("authorization", header)
        needles.add("authorization/signature", header.removeprefix(f"{AUTH_MESSAGE}:"))
        return needles

    def add(self, label: str, secret: str) -> Needles:
        if len(secret) < 8:
            raise ValueError(f"needle {label!r} is too short to scan for without false hits")
        self.secrets[label] = secret
        return self

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.secrets.items())

    def __len__(self) -> int:
        return len(self.secrets)

    def __repr__(self) -> str:
        return f"Needles({sorted(self.secrets)})"  # labels only


def _variants(text: str) -> Iterator[tuple[str, str]]:
    yield "raw", text
    unescaped = _JSON_ESCAPES.sub("", text)
    yield "json-unescaped", _WHITESPACE.sub("", unescaped)
    yield "no-whitespace", _WHITESPACE.sub("", text)


def scan_text(text: str, needles: Needles, where: str = "text") -> list[Hit]:
    """Every needle found in ``text`` (each reported once, with the first variant that had it)."""
    hits: list[Hit] = []
    variants = list(_variants(text))
    for label, secret in needles:
        squeezed = _WHITESPACE.sub("", secret)
        for how, haystack in variants:
            probe = secret if how == "raw" else squeezed
            if probe in haystack:
                hits.append(Hit(label, where, how))
                break
    return hits


def scan_texts(texts: Iterable[tuple[str, str]], needles: Needles) -> list[Hit]:
    """Scan (where, text) pairs."""
    return [hit for where, text in texts for hit in scan_text(text, needles, where)]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def scan_file(path: str | Path, needles: Needles) -> list[Hit]:
    """Scan a file's text; JSON files (.ipynb, .json) are also scanned string by string."""
    file = Path(path)
    text = file.read_bytes().decode("utf-8", errors="replace")
    hits = scan_text(text, needles, str(file))
    if file.suffix in (".ipynb", ".json"):
        try:
            document = json.loads(text)
        except ValueError:
            return hits
        decoded = "\n".join(_strings(document))
        seen = {hit.needle for hit in hits}
        hits += [
            h for h in scan_text(decoded, needles, f"{file} (decoded)") if h.needle not in seen
        ]
    return hits
