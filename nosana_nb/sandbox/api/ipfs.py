"""The sandbox's IPFS: a Pinata-shaped pinning endpoint and a gateway, backed by the store.

CIDv0 = base58(0x12 0x20 + sha256(canonical JSON)); canonical JSON is
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, which the client
computes the same way, so a client can check that what it pinned is what it got back.
Pinning needs no credentials here: whatever ``Authorization`` a client sends is ignored.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import base58

from nosana_nb.sandbox.store import Store

_SHA256_MULTIHASH_PREFIX = b"\x12\x20"


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def cid_v0(obj: Any) -> str:
    digest = hashlib.sha256(canonical_json(obj)).digest()
    return base58.b58encode(_SHA256_MULTIHASH_PREFIX + digest).decode()


def pin(store: Store, obj: Any) -> str:
    """Store ``obj`` under its CID (idempotent) and return the CID."""
    cid = cid_v0(obj)
    with store.transaction():
        if store.get("ipfs", cid) is None:
            store.insert("ipfs", {"_id": cid, "content": obj})
    return cid


def fetch(store: Store, cid: str) -> Any | None:
    doc = store.get("ipfs", cid)
    return None if doc is None else doc["content"]


def pin_response(store: Store, body: Any, *, timestamp: str) -> dict[str, Any]:
    """``POST /pinning/pinJSONToIPFS``: ``{"pinataContent": obj}`` or a bare object."""
    content = body["pinataContent"] if isinstance(body, dict) and "pinataContent" in body else body
    cid = pin(store, content)
    return {"IpfsHash": cid, "PinSize": len(canonical_json(content)), "Timestamp": timestamp}
