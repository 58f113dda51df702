"""The one evaluation engine that QSViT, AQ4SViT and the notebooks share.

``Evaluator(model, splits)`` answers two questions about a quantization config:

- :meth:`Evaluator.accuracy` -- top-1 / top-5 on a split, optionally against an accuracy floor
  with exact early rejection;
- :meth:`Evaluator.drift` -- the drift probe on the ``minibatch`` split (see ``drift.py``), plus the
  minibatch accuracy of the same forward.

Both start from the prefix activation cache when the config shares its first blocks with a config
already evaluated, and both are memoised on disk (see ``memo.py``), so asking twice costs nothing.
The model's FP32 weights are restored after every call.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..data.splits import EVAL_BATCH_SIZE, Split
from ..errors import UsageError
from ..models.base import SpikingBackbone
from ..models.neurons import observe_neurons
from ..progress import progress_bar
from ..provenance import engine_version
from ..quant.apply import WeightQuantizer
from ..quant.config import QuantConfig
from ..quant.quantizers import FP32, QuantScheme
from .drift import DriftAccumulator, DriftReference, DriftResult, silent_layers, summarize
from .early_rejection import Tally, passes
from .executor import Request, SerialExecutor
from .memo import InMemoryMemo, Memo, model_fingerprint, result_key
from .prefix_cache import PrefixCache

#: The engine's identity in memo keys: a hash of the code of data, models, quant and evaluate plus the
#: torch / numpy versions, so any change that could alter a number makes old memo entries miss.
ENGINE_VERSION = engine_version()
log = logging.getLogger(__name__)


@dataclass
class AccuracyResult:
    split: str
    n: int
    correct: int
    correct5: int
    seen: int  # images counted (== n unless rejected early)
    complete: bool
    floor: float | None
    passed: bool | None
    forwarded: int = 0  # images forwarded by this call (0 when answered by the memo)
    seconds: float = 0.0
    from_memo: bool = False
    start_block: int = 0
    hits: str | None = None  # packed per-image top-1 hits of a complete pass (see :meth:`hit_mask`)

    def hit_mask(self) -> np.ndarray | None:
        """Per-image top-1 correctness in the split's order (None unless complete)."""
        return unpack_hits(self.hits, self.n) if self.complete and self.hits else None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.complete else None

    @property
    def top5(self) -> float | None:
        return self.correct5 / self.n if self.complete else None

    @property
    def upper_bound(self) -> float:
        """Best accuracy still possible given what was seen."""
        return (self.correct + self.n - self.seen) / self.n

    def to_dict(self) -> dict:
        return {
            "split": self.split, "n": self.n, "correct": self.correct, "correct5": self.correct5, "seen": self.seen,
            "complete": self.complete, "floor": self.floor, "passed": self.passed, "forwarded": self.forwarded,
            "seconds": self.seconds, "from_memo": self.from_memo, "start_block": self.start_block,
            "accuracy": self.accuracy,
        }


def _quiet_default() -> bool:
    return bool(os.environ.get("AQ4SVIT_QUIET") or os.environ.get("CI"))


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


class Evaluator:
    """Accuracy and drift of quantization configs of one model on named splits."""

    def __init__(
        self,
        model: torch.nn.Module,
        splits: dict[str, Split],
        *,
        scheme: QuantScheme | None = None,
        device: str | torch.device | None = None,
        batch_size: int = EVAL_BATCH_SIZE,
        cache_bytes: int = 1 << 30,
        memo: str | Path | Memo | None = None,
        quiet: bool | None = None,
        drift_split: str = "minibatch",
        drift_aggregate: str = "mean",
        drift_reference_bytes: int = 1 << 30,
        hardest_first: tuple[str, ...] = ("search", "verify"),
        executor=None,
    ):
        if drift_aggregate not in ("mean", "max"):
            raise UsageError("drift_aggregate must be 'mean' or 'max'")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # a private copy: the memo and the prefix cache key on the weights seen here, so a caller who
        # later edits its model (or its batch size, a read-only property) cannot make them stale
        self.model: SpikingBackbone = copy.deepcopy(model).to(self.device).eval()  # type: ignore[assignment]  # any backbone
        self.splits = splits
        self.base_splits = dict(splits)  # before any hardest-first reordering (what remote workers receive)
        self.orders: dict[str, np.ndarray] = {}  # split -> hardest-first order applied to it
        #: where answers missing from the memo are computed (executor.py): here (serial) or on Ray workers
        self.executor = executor or SerialExecutor()
        self.scheme = scheme or QuantScheme()
        self._batch_size = batch_size
        self.quantizer = WeightQuantizer(self.model, self.scheme)
        self.structure = self.quantizer.structure
        self.n_blocks = len(self.structure.blocks)
        self._block_layers = [[layer.name for layer in self.structure.layers_of(b.name)] for b in self.structure.blocks]
        self.cache = PrefixCache(cache_bytes)
        self.memo = memo if isinstance(memo, (Memo, InMemoryMemo)) else (Memo(memo) if memo else InMemoryMemo())
        self.quiet = _quiet_default() if quiet is None else quiet
        self.drift_split = drift_split
        self.drift_aggregate = drift_aggregate
        self.drift_reference_bytes = drift_reference_bytes
        self.fingerprint = model_fingerprint(self.model)
        self.counters: Counter = Counter()
        self._reference: DriftReference | None = None
        self._fp32_drift_result: DriftResult | None = None
        self._pins: list[tuple[dict[str, int], QuantScheme]] = []
        self._hardest_first = set(hardest_first)
        self._ordered: set[str] = set()
        #: memo records written by this evaluator carry it: a hit on another session's record is work a
        #: previous (killed) run did, whose original seconds a resumed search adds back to its time
        self.session = uuid.uuid4().hex[:12]
        self._replayed_keys: set[str] = set()
        self.replayed_seconds = 0.0  # original seconds of other sessions' evaluations the memo answered
        if self.executor.remote:  # workers up before the first memo key (it carries their hardware)
            self.executor.start(self)

    @property
    def batch_size(self) -> int:
        """Fixed at construction: it is part of every memo key (it moves float sums)."""
        return self._batch_size

    def _replayed(self, key: str, record: dict) -> None:
        """Add back a previous session's evaluation time, once per record (a search may look a result up twice)."""
        if record.get("session") not in (None, self.session) and key not in self._replayed_keys:
            self._replayed_keys.add(key)
            self.replayed_seconds += record.get("seconds") or 0.0

    # -- config handling ---------------------------------------------------------------------
    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise UsageError(f"unknown split {name!r}; this evaluator has: {', '.join(self.splits)}")
        if name in self._hardest_first and name not in self._ordered:
            self._order_hardest_first(name)
        return self.splits[name]

    def _order_hardest_first(self, name: str) -> None:
        """Reorder a split by the FP32 model's margin, smallest (wrong or unsure) first.

        Accuracy does not depend on the order, but early rejection does: a quantized candidate
        errs mostly where FP32 was unsure, so its errors exceed the allowance after fewer images.
        One FP32 pass over the split (counted in ``images_forwarded``) buys this.
        """
        self._ordered.add(name)
        split = self.splits[name]
        key = result_key("order", self.fingerprint, split.hash, ENGINE_VERSION, self._numerics())
        cached = self.memo.get(key)
        if cached is not None:
            self._apply_order(name, np.asarray(cached["order"]))
            return
        if self.executor.remote:
            answer = self.executor.run(self, [Request("order", split=name)])[0]
            order, record, forwarded = np.asarray(answer["order"]), answer["record"], answer["forwarded"]
        else:
            order, record, forwarded = self._compute_order(split)
        self.counters["images_forwarded"] += forwarded
        self.memo.put(key, "order", {"order": order.tolist()})
        self._apply_order(name, order)
        # accuracy does not depend on the order: record FP32's now rather than forwarding it again
        fp32 = {layer.name: FP32 for layer in self.structure.layers}
        self.memo.put(self._key("accuracy", fp32, self.scheme, self.splits[name]), "accuracy", record)

    def _compute_order(self, split: Split) -> tuple[np.ndarray, dict, int]:
        """(order, FP32's accuracy record in that order, images forwarded): one FP32 pass over ``split``."""
        margins, tally = [], Tally(len(split))
        with torch.inference_mode(), self.quantizer.applied({}, self.scheme):
            for x, y in split.batches(self.batch_size):
                logits = self.model(x.to(self.device)).float()
                y = y.to(self.device)
                true = logits.gather(1, y[:, None]).squeeze(1)
                other = logits.scatter(1, y[:, None], float("-inf")).amax(1)
                margins.append((true - other).cpu())
                _count(tally, logits, y)
        order = torch.argsort(torch.cat(margins), stable=True).numpy()
        record = {"n": tally.n, "correct": tally.correct, "correct5": tally.correct5, "seen": tally.n, "complete": True,
                  "floor": None, "seconds": 0.0, "hits": _pack_hits(tally, order)}
        return order, record, len(split)

    def _apply_order(self, name: str, order: np.ndarray) -> None:
        self.splits = {**self.splits, name: self.base_splits[name].reordered(order)}
        self.orders[name] = order
        self._refresh_pins()

    def resolve(self, config: QuantConfig | dict[str, int]) -> tuple[dict[str, int], QuantScheme]:
        return self.quantizer.resolve(config, None if isinstance(config, QuantConfig) else self.scheme)

    def signatures(self, bits: dict[str, int], scheme: QuantScheme) -> list[str]:
        """sig[i] identifies the bits of blocks 0..i-1 (the key of the activation entering block i)."""
        sigs, h = [""], hashlib.blake2b(digest_size=12)
        for layers in self._block_layers:
            token = ",".join(str(bits[name]) for name in layers)
            if any(bits[name] != FP32 for name in layers):
                token += "@" + scheme.key()
            h.update(token.encode() + b";")
            sigs.append(h.hexdigest())
        return sigs

    def _key(self, kind: str, bits: dict[str, int], scheme: QuantScheme, split: Split) -> str:
        quantized = any(b != FP32 for b in bits.values())
        canonical = ",".join(str(bits[layer.name]) for layer in self.structure.layers)
        return result_key(kind, self.fingerprint, scheme.key() if quantized else "fp32", canonical, split.hash, self._numerics(),
                          ENGINE_VERSION, __version__)

    def _numerics(self) -> tuple:
        """Where (device, kernel family) and in what batches the forward runs: each can move float sums, hence
        threshold crossings. With a remote executor, the workers' hardware."""
        return (*(self.executor.numerics or device_numerics(self.device)), self.batch_size)

    def pin(self, *configs) -> None:
        """Keep the prefix activations of these configs (FP32 is always kept) in the cache."""
        self._pins = [self.resolve(c) for c in configs]
        self._refresh_pins()
        if self.executor.remote:
            self.executor.broadcast("pin", list(configs))

    def _refresh_pins(self) -> None:
        keys: set[tuple] = set()
        fp32 = {layer.name: FP32 for layer in self.structure.layers}
        for bits, scheme in [(fp32, self.scheme), *self._pins]:
            sigs = self.signatures(bits, scheme)
            for name in self.splits:
                for ns in ("acc", "drift"):
                    keys.update((ns, self.splits[name].hash, i, sigs[i]) for i in range(self.n_blocks))
        self.cache.pin(keys)

    # -- the forward loop ----------------------------------------------------------------------
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

    def _run(self, bits, scheme, split: Split, ns: str, floor=None, observer=None, prefix_extra=None, use_cache=True):
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

    # -- accuracy ---------------------------------------------------------------------------
    def accuracy(self, config: QuantConfig | dict[str, int], split: str = "search", floor: float | None = None) -> AccuracyResult:
        """Top-1 / top-5 of ``config`` on ``split``; with ``floor`` (a fraction), stop as soon as it is out of reach."""
        sp = self.split(split)
        bits, scheme = self.resolve(config)
        key = self._key("accuracy", bits, scheme, sp)
        self.counters["accuracy_calls"] += 1
        cached = self.memo.get(key)
        if cached is not None and _answers(cached, floor):
            self.counters["memo_hits"] += 1
            self._replayed(key, cached)
            return self._accuracy_result(sp, cached, floor, from_memo=True)
        if self.executor.remote:
            record = self._remote({key: Request.accuracy(bits, split, floor, self._own(scheme))})[key]
            return self._accuracy_result(sp, record, floor, forwarded=record["forwarded"], start=record["start_block"])
        t0 = time.perf_counter()
        tally, forwarded, start = self._run(bits, scheme, sp, "acc", floor=floor)
        self.counters["evaluations"] += 1
        record = {"n": tally.n, "correct": tally.correct, "correct5": tally.correct5, "seen": tally.seen,
                  "complete": tally.seen == tally.n, "floor": floor, "seconds": time.perf_counter() - t0,
                  "hits": _pack_hits(tally), "session": self.session}
        self.memo.put(key, "accuracy", record)
        return self._accuracy_result(sp, record, floor, forwarded=forwarded, start=start)

    @staticmethod
    def _accuracy_result(sp: Split, r: dict, floor, from_memo=False, forwarded=0, start=0) -> AccuracyResult:
        if r["complete"]:
            passed = passes(r["correct"], r["n"], floor) if floor is not None else None
        else:
            passed = False  # rejected early under a floor <= the one asked now
        return AccuracyResult(sp.name, r["n"], r["correct"], r["correct5"], r["seen"], r["complete"], floor, passed,
                              forwarded, 0.0 if from_memo else r["seconds"], from_memo, start, r.get("hits"))

    # -- drift ------------------------------------------------------------------------------
    def _ensure_reference(self) -> DriftReference:
        if self._reference is not None:
            return self._reference
        sp = self.split(self.drift_split)
        family = self.structure.family
        fp32 = {layer.name: FP32 for layer in self.structure.layers}
        t0 = time.perf_counter()
        ref = DriftReference(time_major=family != "sdtv3", positions_per_layer=self._drift_positions())
        tally, _, _ = self._run_reference(ref, fp32, sp)
        self._reference = ref
        silent = silent_layers(ref)
        if silent:
            log.warning("%d spiking layer(s) never charge in FP32 on the %s split and are left out of drift: %s",
                        len(silent), sp.name, ", ".join(silent[:5]) + (" ..." if len(silent) > 5 else ""))
        zero = {name: 0.0 for name in ref.layers if name not in silent}
        self._fp32_drift_result = DriftResult(0.0, 0.0, 0.0, zero, tally.correct, tally.correct5, tally.n,
                                              self.drift_aggregate, time.perf_counter() - t0)
        return ref

    def _drift_positions(self) -> int | None:
        if not hasattr(self, "_positions"):
            if self.executor.remote:
                self._positions = self.executor.run(self, [Request("positions", split=self.drift_split)])[0]["positions"]
            else:
                self._positions = self._reference_positions(self.split(self.drift_split))
        return self._positions

    def _drift_kind(self) -> str:
        return f"drift-{self.drift_aggregate}-p{self._drift_positions()}"

    def _reference_positions(self, sp: Split) -> int | None:
        """None (every position) if the FP32 membranes fit the budget, else positions per layer that do.

        Sized from one image before the full pass: 4 bytes per membrane value + 1 per output.
        """
        sizes: dict[str, int] = {}

        def size(name, membrane, out):
            sizes[name] = membrane.numel() // (membrane.shape[1] if self.structure.family != "sdtv3" else membrane.shape[0])

        x, _ = next(sp.batches(1))
        with torch.inference_mode(), observe_neurons(self.model, size):
            self.model(x.to(self.device))
        projected = 5 * len(sp) * sum(sizes.values())
        if projected <= self.drift_reference_bytes:
            return None
        return max(256, self.drift_reference_bytes // (5 * len(sp) * max(1, len(sizes))))

    def _run_reference(self, ref: DriftReference, fp32, sp: Split):
        def extra(j):  # FP32 prefix: zero differences
            return {k: [0.0, 0] for k, layer in ref.layers.items() if layer.block < j}

        return self._run(fp32, self.scheme, sp, "drift", observer=ref, prefix_extra=extra, use_cache=False)

    def drift(self, config: QuantConfig | dict[str, int]) -> DriftResult:
        """Membrane-potential drift of ``config`` against FP32 on the minibatch, and its minibatch accuracy."""
        sp = self.split(self.drift_split)
        bits, scheme = self.resolve(config)
        key = self._key(self._drift_kind(), bits, scheme, sp)
        self.counters["drift_calls"] += 1
        cached = self.memo.get(key)
        if cached is not None:
            self.counters["memo_hits"] += 1
            self._replayed(key, cached)
            fields = {k: v for k, v in cached.items() if k != "session"}
            return DriftResult(**{**fields, "seconds": 0.0, "from_memo": True})
        if self.executor.remote:
            record = self._remote({key: Request.drift(bits, self.drift_split, self._own(scheme))})[key]
            return DriftResult(**{k: v for k, v in record.items() if k != "forwarded"})
        ref = self._ensure_reference()
        if all(b == FP32 for b in bits.values()):
            assert self._fp32_drift_result is not None  # set by _ensure_reference
            result = self._fp32_drift_result
        else:
            t0 = time.perf_counter()
            acc = DriftAccumulator(ref)
            tally, _, start = self._run(bits, scheme, sp, "drift", observer=acc)
            self.counters["drift_probes"] += 1
            agg, worst, disagree, per_layer = summarize(ref, acc.sums, self.drift_aggregate)
            result = DriftResult(agg, worst, disagree, per_layer, tally.correct, tally.correct5, tally.n,
                                 self.drift_aggregate, time.perf_counter() - t0, False, start)
        self.memo.put(key, "drift", {**result.to_dict(), "session": self.session})
        return result

    # -- executors (executor.py) ------------------------------------------------------------
    def prefetch(self, requests) -> int:
        """Have the executor's workers answer ``requests`` now, in parallel, into the memo; the search then
        asks them one by one as before and finds them there. Serial executor: nothing (computed on demand).
        Returns the number of requests sent (those already answered by the memo are not)."""
        if not self.executor.remote:
            return 0
        todo: dict[str, Request] = {}
        for req in requests:
            key = self._request_key(req)
            cached = self.memo.get(key)
            if key not in todo and not (_answers(cached, req.floor) if req.kind == "accuracy" else cached is not None):
                todo[key] = req
        self._remote(todo)
        self.counters["prefetched"] += len(todo)
        return len(todo)

    def _own(self, scheme: QuantScheme) -> QuantScheme | None:
        return None if scheme == self.scheme else scheme

    def _request_key(self, req: Request) -> str:
        bits, scheme = self.resolve(req.config)
        scheme = req.scheme or scheme
        kind = "accuracy" if req.kind == "accuracy" else self._drift_kind()
        return self._key(kind, bits, scheme, self.split(req.split))

    def _remote(self, todo: dict[str, Request]) -> dict[str, dict]:
        """Answers of the executor's workers, written to this (the only) memo as this session's work."""
        answers = self.executor.run(self, list(todo.values())) if todo else []
        out = {}
        for (key, req), answer in zip(todo.items(), answers, strict=True):
            record = {k: v for k, v in answer.items() if k not in ("forwarded", "start_block")}
            self.memo.put(key, req.kind, {**record, "session": self.session})
            self.counters["images_forwarded"] += answer["forwarded"]
            self.counters["evaluations" if req.kind == "accuracy" else "drift_probes"] += 1
            out[key] = answer
        return out

    def answer(self, req: Request) -> dict:
        """Compute one request in this process (what a remote worker runs): a memo record plus the images forwarded."""
        before = self.counters["images_forwarded"]
        out: dict[str, Any]
        config = req.config if req.scheme in (None, self.scheme) else QuantConfig.from_layer_bits(req.config, self.structure, req.scheme)
        if req.kind == "accuracy":
            r = self.accuracy(config, req.split, req.floor)
            out = {"n": r.n, "correct": r.correct, "correct5": r.correct5, "seen": r.seen, "complete": r.complete, "floor": r.floor,
                   "seconds": r.seconds, "hits": r.hits, "start_block": r.start_block}
        elif req.kind == "drift":
            out = self.drift(config).to_dict()
        elif req.kind == "order":
            order, record, forwarded = self._compute_order(self.split(req.split))
            self.counters["images_forwarded"] += forwarded
            out = {"order": order.tolist(), "record": record}
        elif req.kind == "positions":
            out = {"positions": self._drift_positions()}
        else:
            raise ValueError(f"unknown request kind {req.kind!r}")
        return {**out, "forwarded": self.counters["images_forwarded"] - before}

    # -- bookkeeping ------------------------------------------------------------------------
    def stats(self) -> dict:
        return {**dict(self.counters), "cache": self.cache.stats(), "memo": self.memo.stats(), "executor": self.executor.stats()}

    def close(self) -> None:
        self.quantizer.restore()
        self.memo.close()
        self.executor.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def device_numerics(device: torch.device) -> tuple[str, str]:
    """The device's type and kernel family: on CPU, ATen and oneDNN pick AVX2 or AVX-512 kernels whose float
    sums differ (one Fashion-MNIST test image flipped between two machines), so memo keys carry it."""
    if device.type == "cpu":
        return "cpu", torch.backends.cpu.get_cpu_capability()
    if device.type == "cuda":
        return "cuda", torch.cuda.get_device_name(device)
    return device.type, ""


def _answers(cached: dict | None, floor: float | None) -> bool:
    """Does a memo record answer an accuracy question with this floor? A complete one always; one rejected
    early under floor f' answers any floor >= f' (it is out of reach there too)."""
    return cached is not None and (cached["complete"] or (floor is not None and cached["floor"] is not None and floor >= cached["floor"]))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
