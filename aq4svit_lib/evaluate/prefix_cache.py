"""Prefix activation cache: the activation entering block i, for a whole split, keyed by the bits
of blocks 0..i-1.

Two configs that agree on every layer before block i produce the same activation there, so an
evaluation may start at the deepest block whose entry is cached. Entries hold one tensor per batch
(and optional extra data, e.g. the drift probe's per-layer sums of the prefix). The cache has a
byte budget and drops the least recently used entries first; entries of *pinned* configs (FP32 and
the current search state) are dropped only when nothing else is left.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Entry:
    batches: list[torch.Tensor]
    extra: Any = None
    nbytes: int = 0
    hits: int = 0


@dataclass
class PrefixCache:
    budget_bytes: int = 1 << 30
    _entries: OrderedDict[Hashable, Entry] = field(default_factory=OrderedDict)
    _pinned: set = field(default_factory=set)
    used_bytes: int = 0
    hits: int = 0
    misses: int = 0
    evictions: int = 0

    def get(self, key: Hashable) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        entry.hits += 1
        self.hits += 1
        return entry

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def put(self, key: Hashable, batches: list[torch.Tensor], extra: Any = None) -> bool:
        """Store an entry; False when it alone exceeds the budget (it is then not stored)."""
        nbytes = sum(t.numel() * t.element_size() for t in batches)
        if nbytes > self.budget_bytes:
            return False
        if key in self._entries:
            self.used_bytes -= self._entries.pop(key).nbytes
        self._entries[key] = Entry(batches, extra, nbytes)
        self.used_bytes += nbytes
        self._evict()
        return key in self._entries

    def _evict(self) -> None:
        if self.used_bytes <= self.budget_bytes:
            return
        for pinned_pass in (False, True):  # unpinned entries go first, oldest first
            for key in list(self._entries):
                if self.used_bytes <= self.budget_bytes:
                    return
                if (key in self._pinned) != pinned_pass:
                    continue
                self.used_bytes -= self._entries.pop(key).nbytes
                self.evictions += 1

    def pin(self, keys) -> None:
        """Protect these keys from eviction (replaces the previous pin set)."""
        self._pinned = set(keys)

    def clear(self) -> None:
        self._entries.clear()
        self.used_bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict:
        return {
            "entries": len(self._entries),
            "used_bytes": self.used_bytes,
            "budget_bytes": self.budget_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "evictions": self.evictions,
        }
