"""The drift probe on the engine's side: FP32's reference membranes, computed once, and each config's drift.

Apart from the rest of the engine because the reference is state of its own, sized to a memory budget
(positions per layer), and its size is part of the drift memo keys.
"""

from __future__ import annotations

import logging
import time

import torch

from ..data.splits import Split
from ..models.neurons import observe_neurons
from ..quant.config import QuantConfig
from ..quant.quantizers import FP32
from .drift import DriftAccumulator, DriftReference, DriftResult, silent_layers, summarize
from .executor import Request
from .state import EvaluatorState

log = logging.getLogger("aq4svit_lib.evaluate.engine")  # the engine's logger, as before the split


class DriftProbe(EvaluatorState):
    def _ensure_reference(self) -> DriftReference:
        if self._reference is not None:
            return self._reference
        sp = self.split(self.drift_split)
        family = self.structure.family
        fp32 = {layer.name: FP32 for layer in self.structure.layers}
        t0 = time.perf_counter()
        ref = DriftReference(time_major=self.model.default_cfg.get("time_major", family != "sdtv3"), positions_per_layer=self._drift_positions())
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
            fields = {k: v for k, v in cached.items() if k not in ("session", "forwarded")}
            return DriftResult(**{**fields, "seconds": 0.0, "from_memo": True})
        if self.executor.remote:
            record = self._remote({key: Request.drift(bits, self.drift_split, self._own(scheme))})[key]
            return DriftResult(**{k: v for k, v in record.items() if k != "forwarded"})
        ref = self._ensure_reference()
        forwarded = 0
        if all(b == FP32 for b in bits.values()):
            assert self._fp32_drift_result is not None  # set by _ensure_reference
            result = self._fp32_drift_result
        else:
            t0 = time.perf_counter()
            acc = DriftAccumulator(ref)
            tally, forwarded, start = self._run(bits, scheme, sp, "drift", observer=acc)
            self.counters["drift_probes"] += 1
            agg, worst, disagree, per_layer = summarize(ref, acc.sums, self.drift_aggregate)
            result = DriftResult(agg, worst, disagree, per_layer, tally.correct, tally.correct5, tally.n,
                                 self.drift_aggregate, time.perf_counter() - t0, False, start)
        self.memo.put(key, "drift", {**result.to_dict(), "forwarded": forwarded, "session": self.session})
        return result
