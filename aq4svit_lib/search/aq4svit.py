"""AQ4SViT: hierarchical automated quantization search with the drift gate (Greedy and Beam).

The search walks the hierarchy network -> stage -> block (-> layer kind, optional); the result
of one level seeds the next. Every candidate is one single-step lowering of one unit, screened
by :mod:`~aq4svit_lib.search.gate` (drift, minibatch, full evaluation with early rejection).

- **Greedy**: units of a level are visited largest FP32 memory first; each is lowered one step at
  a time while the constraint holds, and every accepted lowering becomes the new state.
- **Beam**: keeps the K best configurations (lowest memory, then highest search accuracy); each
  round expands every member by every single-step lowering of the level's units, de-duplicates,
  screens the children and keeps the best K of members and feasible children; a level ends when
  a round changes nothing. With K = 1 this is steepest descent (the lowering that saves most
  memory wins each round), so it can differ from Greedy, which commits the first feasible
  lowering in its fixed visiting order.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd

from ..errors import UsageError
from .common import SearchContext, fp32_bits, pareto_front
from .gate import DriftGate
from .space import check_levels

METHODS = ("greedy", "beam")


@dataclass
class AQ4SViTSettings:
    method: str = "greedy"
    levels: tuple[str, ...] = ("network", "stage", "block")
    beam_width: int = 3
    drift_threshold: float | None = None  # None: calibrated during the run
    drift_margin: float = 1.5
    min_accepted: int = 3
    min_rejected: int = 1
    minibatch_slack: float = 3.0  # points added to delta for the loose minibatch check

    def __post_init__(self):
        if self.method not in METHODS:
            raise UsageError(f"unknown AQ4SViT method {self.method!r}; valid: {', '.join(METHODS)}")
        self.levels = check_levels(self.levels)
        if int(self.beam_width) != self.beam_width or self.beam_width < 1:
            raise UsageError(f"beam width must be an integer >= 1, got {self.beam_width}")
        if self.drift_threshold is not None and (math.isnan(self.drift_threshold) or self.drift_threshold < 0):
            raise UsageError(f"drift threshold must be >= 0, got {self.drift_threshold}")
        if not self.minibatch_slack >= 0:
            raise UsageError(f"minibatch slack must be >= 0 points, got {self.minibatch_slack}")
        if not self.drift_margin > 0:
            raise UsageError(f"drift margin must be > 0, got {self.drift_margin}")


class AQ4SViT:
    def __init__(self, ctx: SearchContext, settings: AQ4SViTSettings):
        self.ctx, self.settings = ctx, settings
        self.gate = DriftGate(settings.drift_threshold, settings.drift_margin, settings.min_accepted, settings.min_rejected)
        self.seen: dict[str, tuple[bool, float | None]] = {}  # key -> (feasible, search accuracy)
        self.drifts: dict[str, float] = {}  # key -> drift (to report a candidate's parent drift)
        self.fp32_minibatch = None

    # -- the gate -------------------------------------------------------------------------------
    def screen(self, bits: dict[str, int], unit: str = "", parent: dict[str, int] | None = None) -> bool:
        """Run the three-step gate on one candidate; record it in the trace; True if feasible."""
        ctx, ev = self.ctx, self.ctx.evaluator
        key = ctx.space.key(bits)
        if key in self.seen:
            return self.seen[key][0]
        ctx.counters["generated"] += 1
        t0 = time.perf_counter()
        ctx.tick()
        d = ev.drift(bits)
        self.drifts[key] = d.drift
        parent_key = ctx.space.key(parent) if parent is not None else None
        parent_drift = self.drifts.get(parent_key, 0.0) if parent is not None else None
        fields = dict(unit=unit, drift=d.drift, parent_key=parent_key, parent_drift=parent_drift, drift_max=d.drift_max, spike_disagreement=d.spike_disagreement,
                      minibatch_accuracy=d.accuracy, tau=self.gate.tau if math.isfinite(self.gate.tau) else None)
        if self.gate.prunes(d.drift):
            ctx.counters["gated"] += 1
            self.seen[key] = (False, None)
            ctx.record(bits, "pruned_drift", time.perf_counter() - t0, **fields)
            return False
        ctx.counters["minibatch"] += 1
        allowed_drop = self.ctx.constraint.fp32_accuracy - self.ctx.constraint.floor
        if self.fp32_minibatch - d.accuracy > allowed_drop + self.settings.minibatch_slack / 100:
            self.seen[key] = (False, None)
            ctx.record(bits, "pruned_minibatch", time.perf_counter() - t0, **fields)
            return False
        r = ctx.full_accuracy(bits, floor=ctx.constraint.floor)
        self.gate.observe(d.drift, bool(r.passed))
        decision = "accepted" if r.passed else ("rejected" if r.complete else "rejected_early")
        self.seen[key] = (bool(r.passed), r.accuracy)
        ctx.record(bits, decision, time.perf_counter() - t0, search_accuracy=r.accuracy, images_seen=r.seen,
                   search_upper_bound=r.upper_bound, **fields)
        return bool(r.passed)

    # -- the two variants -----------------------------------------------------------------------
    def ordered_units(self, level: str):
        space = self.ctx.space
        units = space.units(level)
        return sorted(units, key=lambda u: -space.unit_fp32_bytes(u))  # stable: ties keep block order

    def greedy(self, start: dict[str, int]) -> dict[str, int]:
        ctx, state = self.ctx, dict(start)
        for level in self.settings.levels:
            with ctx.in_phase(f"greedy:{level}"):
                for unit in self.ordered_units(level):
                    while (candidate := ctx.space.lower(state, unit)) is not None:
                        if not self.screen(candidate, unit.name, parent=state):
                            break
                        state = candidate
                        ctx.evaluator.pin(state)
        return state

    def beam(self, start: dict[str, int]) -> dict[str, int]:
        ctx, k = self.ctx, self.settings.beam_width
        space = ctx.space
        beam = [dict(start)]

        def rank(bits):
            acc = self.seen.get(space.key(bits), (True, ctx.constraint.fp32_accuracy))[1]
            return (space.memory_bytes(bits), -(acc if acc is not None else 0.0), space.key(bits))

        for level in self.settings.levels:
            with ctx.in_phase(f"beam:{level}"):
                units = self.ordered_units(level)
                while True:
                    children, keys = [], set()
                    for parent in beam:
                        for unit in units:
                            child = space.lower(parent, unit)
                            if child is None or space.key(child) in keys:
                                continue
                            keys.add(space.key(child))
                            if space.key(child) not in self.seen:
                                children.append((child, unit.name, parent))
                    feasible = [c for c, name, parent in children if self.screen(c, name, parent)]
                    new = sorted(beam + feasible, key=rank)[:k]
                    if [space.key(b) for b in new] == [space.key(b) for b in beam]:
                        break
                    beam = new
                    ctx.evaluator.pin(*beam)
        return beam[0]

    def run(self) -> dict[str, int]:
        ctx = self.ctx
        start = fp32_bits(ctx.space)
        ctx.evaluator.pin(start)
        with ctx.in_phase("baseline"):
            self.fp32_minibatch = ctx.evaluator.drift(start).accuracy
        self.drifts[ctx.space.key(start)] = 0.0
        return self.greedy(start) if self.settings.method == "greedy" else self.beam(start)

    def pareto(self) -> pd.DataFrame:
        rows = [r for r in self.ctx.trace if r["decision"] == "accepted"]
        df = pd.DataFrame(
            [{"index": r["index"], "memory_bytes": r["memory_bytes"], "search_accuracy": r["search_accuracy"],
              "mean_bits": r["mean_bits"], "drift": r["drift"], "phase": r["phase"], "key": r["key"]} for r in rows]
            + [{"index": -1, "memory_bytes": self.ctx.space.fp32_bytes, "search_accuracy": self.ctx.constraint.fp32_accuracy,
                "mean_bits": 32.0, "drift": 0.0, "phase": "fp32", "key": self.ctx.space.key(fp32_bits(self.ctx.space))}]
        )
        df["saving_vs_fp32"] = 1 - df.memory_bytes / self.ctx.space.fp32_bytes
        df["on_front"] = pareto_front(df)
        return df.sort_values("memory_bytes").reset_index(drop=True)
