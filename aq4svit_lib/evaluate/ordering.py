"""Hardest-first order of a split: what makes early rejection reject after few images.

Apart from the rest of the engine because it is the one thing that changes a split after construction:
the order is computed once (here or by a worker), memoised, and every later key and pin uses it.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..data.splits import Split
from ..errors import UsageError
from ..quant.quantizers import FP32
from .early_rejection import Tally
from .executor import Request
from .forward import _count, _pack_hits
from .keys import ENGINE_VERSION
from .memo import result_key
from .state import EvaluatorState


class HardestFirst(EvaluatorState):
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
        self.memo.put(self._key("accuracy", fp32, self.scheme, self.splits[name]), "accuracy", {**record, "session": self.session})

    def _compute_order(self, split: Split) -> tuple[np.ndarray, dict, int]:
        """(order, FP32's accuracy record in that order, images forwarded): one FP32 pass over ``split``."""
        margins, tally, t0 = [], Tally(len(split)), time.perf_counter()
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
                  "floor": None, "seconds": time.perf_counter() - t0, "hits": _pack_hits(tally, order), "forwarded": len(split)}
        return order, record, len(split)

    def _apply_order(self, name: str, order: np.ndarray) -> None:
        self.splits = {**self.splits, name: self.base_splits[name].reordered(order)}
        self.orders[name] = order
        self._refresh_pins()
