"""Blockhashes of the sandbox chain: one per slot, derived from a seed, and the window of recent
ones a transaction may name (like mainnet's ~150 blocks)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from solders.hash import Hash

BLOCKHASH_WINDOW_SLOTS = 150
"""A fetched blockhash stays valid for this many slots, like mainnet's ~150 blocks."""


class BlockhashWindow:
    """``sha256(seed + slot)`` per slot; the seed is kept in the store so a restart resumes it."""

    def __init__(self, seed: bytes, slot: int) -> None:
        self.seed = seed
        self._recent: OrderedDict[Hash, int] = OrderedDict()
        for past in range(max(0, slot - BLOCKHASH_WINDOW_SLOTS), slot + 1):
            self._recent[self.hash_for_slot(past)] = past

    def hash_for_slot(self, slot: int) -> Hash:
        return Hash(hashlib.sha256(self.seed + slot.to_bytes(8, "little")).digest())

    def remember(self, slot: int) -> None:
        """A new slot: its hash becomes valid and the oldest one beyond the window expires."""
        self._recent[self.hash_for_slot(slot)] = slot
        while len(self._recent) > BLOCKHASH_WINDOW_SLOTS + 1:
            self._recent.popitem(last=False)

    def __contains__(self, blockhash: object) -> bool:
        return blockhash in self._recent
