"""The one evaluation engine that QSViT, AQ4SViT and the notebooks share.

``Evaluator(model, splits)`` answers two questions about a quantization config:

- :meth:`Evaluator.accuracy` -- top-1 / top-5 on a split, optionally against an accuracy floor
  with exact early rejection;
- :meth:`Evaluator.drift` -- the drift probe on the ``minibatch`` split (see ``drift.py``), plus the
  minibatch accuracy of the same forward.

Both start from the prefix activation cache when the config shares its first blocks with a config
already evaluated, and both are memoised on disk (see ``memo.py``), so asking twice costs nothing.
The model's FP32 weights are restored after every call.

The class is assembled from one part per concern, each a mixin in its own module: memo keys and
pins (keys.py), the forward loop (forward.py), the hardest-first order (ordering.py), the drift
reference (drift_reference.py) and the hand-off to the executor (handoff.py); state.py declares
what they share.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.splits import EVAL_BATCH_SIZE, Split
from ..errors import UsageError
from ..quant.apply import WeightQuantizer
from ..quant.config import QuantConfig
from ..quant.quantizers import QuantScheme
from .drift_reference import DriftProbe
from .early_rejection import Tally, passes
from .executor import Request, SerialExecutor
from .forward import ForwardPass, _pack_hits
from .forward import unpack_hits as unpack_hits
from .handoff import Handoff
from .keys import ENGINE_VERSION as ENGINE_VERSION
from .keys import MemoKeys, _answers
from .keys import device_numerics as device_numerics
from .memo import InMemoryMemo, Memo, model_fingerprint
from .ordering import HardestFirst
from .prefix_cache import PrefixCache
from .protocols import MemoProtocol


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


def as_asked(record: dict, floor: float | None, batch_size: int) -> dict:
    """A complete record read as the pass this question would have run: with a floor, that pass stops at the first
    batch after which the floor is out of reach. Replaying that stop (counts, images seen, its share of the time) from
    the record's per-image hits makes a search's trace and cost independent of whether another search sharing the
    memo had evaluated the configuration in full."""
    if floor is None or not record["complete"] or not record.get("hits"):
        return record
    n = record["n"]
    hits = unpack_hits(record["hits"], n)
    tally = Tally(n, floor)
    for start in range(0, n, batch_size):
        batch = hits[start : start + batch_size]
        tally.add(int(batch.sum()), 0, len(batch))
        if tally.rejected and tally.seen < n:  # out of reach only at the last batch: the fresh pass was complete
            share = tally.seen / n
            return {**record, "correct": tally.correct, "correct5": 0, "seen": tally.seen, "complete": False, "floor": floor,
                    "seconds": (record.get("seconds") or 0.0) * share, "forwarded": tally.seen, "hits": None}
    return record


class Evaluator(HardestFirst, DriftProbe, Handoff, ForwardPass, MemoKeys):
    """Accuracy and drift of quantization configs of one model on named splits (attributes: state.py)."""

    def __init__(
        self,
        model: torch.nn.Module,
        splits: dict[str, Split],
        *,
        scheme: QuantScheme | None = None,
        device: str | torch.device | None = None,
        batch_size: int = EVAL_BATCH_SIZE,
        cache_bytes: int = 1 << 30,
        memo: str | Path | MemoProtocol | None = None,
        quiet: bool | None = None,
        drift_split: str = "minibatch",
        drift_aggregate: str = "mean",
        drift_reference_bytes: int = 1 << 30,
        hardest_first: tuple[str, ...] = ("search", "verify"),
        executor=None,  # an ExecutorProtocol (not annotated: search/run.py passes a variable typed as the settings)
    ):
        if drift_aggregate not in ("mean", "max"):
            raise UsageError("drift_aggregate must be 'mean' or 'max'")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # a private copy: the memo and the prefix cache key on the weights seen here, so a caller who
        # later edits its model (or its batch size, a read-only property) cannot make them stale
        self.model = copy.deepcopy(model).to(self.device).eval()  # type: ignore[assignment]  # any backbone
        self.splits = splits
        self.base_splits = dict(splits)  # before any hardest-first reordering (what remote workers receive)
        self.orders = {}  # split -> hardest-first order applied to it
        #: where answers missing from the memo are computed (executor.py): here (serial) or on Ray workers
        self.executor = executor or SerialExecutor()
        self.scheme = scheme or QuantScheme()
        self._batch_size = batch_size
        self.quantizer = WeightQuantizer(self.model, self.scheme)
        self.structure = self.quantizer.structure
        # forward segments (for the zoo's backbones, its blocks): the prefix cache keys on the layers each one runs
        self._block_layers = self.model.segment_layers(self.structure)
        self.n_blocks = len(self._block_layers)
        self.cache = PrefixCache(cache_bytes)
        self.memo = memo if isinstance(memo, MemoProtocol) else (Memo(memo) if memo else InMemoryMemo())
        self.quiet = _quiet_default() if quiet is None else quiet
        self.drift_split = drift_split
        self.drift_aggregate = drift_aggregate
        self.drift_reference_bytes = drift_reference_bytes
        self.fingerprint = model_fingerprint(self.model)
        self.counters = Counter()
        self._reference = None
        self._fp32_drift_result = None
        self._reference_replay = None  # (seconds, images) of the FP32 reference pass replayed from the memo, if any
        self._pins = []
        self._hardest_first = set(hardest_first)
        self._ordered = set()
        #: memo records written by this evaluator carry it: a hit on another session's record is work a
        #: previous (killed) run did, whose original seconds a resumed search adds back to its time
        self.session = uuid.uuid4().hex[:12]
        self._replayed_keys = set()
        self.replayed_seconds = 0.0  # original seconds of other sessions' evaluations the memo answered
        self.replayed_images = 0  # and the images they forwarded
        if self.executor.remote:  # workers up before the first memo key (it carries their hardware)
            self.executor.start(self)

    @property
    def batch_size(self) -> int:
        """Fixed at construction: it is part of every memo key (it moves float sums)."""
        return self._batch_size

    def resolve(self, config: QuantConfig | dict[str, int]) -> tuple[dict[str, int], QuantScheme]:
        return self.quantizer.resolve(config, None if isinstance(config, QuantConfig) else self.scheme)

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
            cached = as_asked(cached, floor, self.batch_size)
            self._replayed(key if cached["complete"] else f"{key}@{cached['seen']}", cached)
            return self._accuracy_result(sp, cached, floor, from_memo=True)
        if self.executor.remote:
            record = self._remote({key: Request.accuracy(bits, split, floor, self._own(scheme))})[key]
            return self._accuracy_result(sp, record, floor, forwarded=record["forwarded"], start=record["start_block"])
        t0 = time.perf_counter()
        tally, forwarded, start = self._run(bits, scheme, sp, "acc", floor=floor)
        self.counters["evaluations"] += 1
        record = {"n": tally.n, "correct": tally.correct, "correct5": tally.correct5, "seen": tally.seen,
                  "complete": tally.seen == tally.n, "floor": floor, "seconds": time.perf_counter() - t0,
                  "hits": _pack_hits(tally), "forwarded": forwarded, "session": self.session}
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
