"""The forward loop: one split under one config, from the deepest cached prefix, stopping at early rejection.

Apart from the rest of the engine because it is the only place that runs the model: it fills the prefix
cache and counts the images and block forwards that every search's cost is measured in.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.splits import Split
from ..models.neurons import observe_neurons
from ..progress import progress_bar
from .drift import DriftAccumulator
from .early_rejection import Tally
from .state import EvaluatorState


def _count(tally: Tally, logits: torch.Tensor, y: torch.Tensor) -> None:
    """Add one batch's top-1 / top-5 hits to ``tally``."""
    hit = logits.topk(min(5, logits.shape[1]), dim=1).indices == y[:, None]
    tally.hits.append(hit[:, 0].cpu())
    tally.add(int(hit[:, 0].sum()), int(hit.any(dim=1).sum()), len(y))


def _pack_hits(tally: Tally, order=None) -> str | None:
    """The per-image hits of a complete pass as a hex bit string (in ``order`` if given), for the memo."""
    if tally.seen != tally.n:
        return None
    hits = torch.cat(tally.hits).numpy() if tally.hits else np.zeros(0, dtype=bool)
    return np.packbits(hits if order is None else hits[order]).tobytes().hex()


def unpack_hits(packed: str, n: int) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex(packed), dtype=np.uint8), count=n).astype(bool)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class ForwardPass(EvaluatorState):
    def _start(self, ns: str, split: Split, sigs: list[str]):
        """Deepest block whose entering activation is cached for this prefix (0 and None if none)."""
        for i in range(self.n_blocks - 1, -1, -1):
            if (ns, split.hash, i, sigs[i]) in self.cache:
                return i, self.cache.get((ns, split.hash, i, sigs[i]))
        self.cache.misses += 1
        return 0, None

    def _affordable(self, store: dict[int, list[torch.Tensor]], n_batches: int) -> set[int]:
        """Boundaries worth keeping, projected from batch 0: deepest first, within the cache budget."""
        keep, total = set(), 0
        for j in sorted(store, reverse=True):
            if not store[j]:
                continue
            projected = store[j][0].numel() * store[j][0].element_size() * n_batches
            if total + projected <= self.cache.budget_bytes:
                keep.add(j)
                total += projected
        return keep

    def _run(self, bits, scheme, split: Split, ns: str, floor=None, observer=None, prefix_extra=None,
             use_cache=True) -> tuple[Tally, int, int]:
        """Forward ``split`` under ``bits``; returns (tally, images forwarded, start block)."""
        sigs = self.signatures(bits, scheme)
        start, entry = self._start(ns, split, sigs) if use_cache else (0, None)
        if observer is not None and entry is not None:
            observer.sums = {k: list(v) for k, v in (entry.extra or {}).items()}
        tally = Tally(len(split), floor)
        labels = split.labels
        store: dict[int, list[torch.Tensor]] = {j: [] for j in range(start + (entry is not None), self.n_blocks)}
        batches = None if entry is not None else split.batches(self.batch_size)
        n_batches = -(-len(split) // self.batch_size)
        # inner: one per forward loop, silent in a headless run (the search-level bar leaves its line)
        bar = progress_bar(total=len(split), desc=f"eval {split.name}", unit="img", quiet=self.quiet or n_batches < 25, inner=True)
        forwarded = 0
        with torch.inference_mode(), self.quantizer.applied(bits, scheme), observe_neurons(self.model, observer) if observer else _null():
            for k in range(n_batches):
                if entry is not None:
                    h = entry.batches[k]
                else:
                    assert batches is not None  # no cache entry: the split is read from its first batch
                    h, _ = next(batches)
                    h = h.to(self.device, non_blocking=True)
                y = labels[k * self.batch_size : (k + 1) * self.batch_size].to(self.device)
                if observer is not None:
                    observer.batch = k
                for j in range(start, self.n_blocks):
                    if j in store:
                        store[j].append(h)
                    if observer is not None and hasattr(observer, "block"):
                        observer.block = j
                    h = self.model.forward_blocks(h, j, j + 1)
                if k == 0:  # never hold more activations than the cache could keep
                    keep = self._affordable(store, n_batches)
                    store = {j: acts for j, acts in store.items() if j in keep}
                _count(tally, h, y)
                forwarded += len(y)
                bar.update(len(y))
                if tally.rejected:
                    break
        bar.close()
        self.counters["images_forwarded"] += forwarded
        self.counters[f"block_forwards_{ns}"] += forwarded * (self.n_blocks - start)
        complete = tally.seen == len(split)
        if complete:
            for j, acts in store.items():
                extra = observer.prefix_for(j) if isinstance(observer, DriftAccumulator) else (prefix_extra(j) if prefix_extra else None)
                self.cache.put((ns, split.hash, j, sigs[j]), acts, extra)
        return tally, forwarded, start
