"""QSViT (Putra et al., IJCNN 2025): the manual, guided methodology as a reproducible search.

- **Algorithm 1, sensitivity sweep**: quantize one layer group at a time (the model's
  (block, layer kind) units: downsample conv, separable conv PW / DW, channel conv, SDSA Q / K / V
  with their RepConv chains, projection, MLP, head), every precision of the list, the rest FP32;
  measure accuracy on ``search``. Plus the uniform sweeps: the whole network at each precision,
  and each layer kind across the whole network.
- **Algorithm 2, base settings**: a group is *tolerant* at a precision when its drop is below the
  tolerance (5 points). bSettingL = the lowest precision at which the group is tolerant at it and
  at every higher precision (a monotone envelope, so noise cannot make 4 bits "tolerant" while 8
  is not); bSettingH = the next precision above bSettingL (32 when bSettingL is already the
  highest). Both are evaluated on the whole network.
- **Algorithm 3, guided exploration**: start from bSettingH; visit the groups least sensitive
  first (smallest drop at their bSettingL, larger memory first on ties) and move each to its
  bSettingL; each resulting ExpSetting is evaluated and kept only if it meets the target
  (FP32 - delta on ``search``, with exact early rejection). If bSettingH itself misses the
  target (the paper does not cover this), the most sensitive groups are raised back to FP32 one at
  a time until it meets it.
- **Algorithm 4, final network** (:meth:`QSViT.algorithm4`): the kept setting on the whole network,
  its accuracy checked against the target; then, as for every method, its packed export, the
  verify split's check, accuracy on ``test``, memory and energy, in the paper's tuple notation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from ..decisions import drop_below
from ..evaluate.executor import Request
from ..quant.quantizers import FP32
from ..schema import Boolean, Interval, Options, setting, validate
from .common import SearchContext, decision_of, fp32_bits
from .registry import MethodOutput, register_method
from .sensitivity import measure, sensitivity_sweep

HIGH_RULES = ("next_above",)


@dataclass
class QSViTSettings:
    tolerance: float = setting(5.0, Interval(float, 0, None, "neither"), "drop (points) below which a layer group is tolerant")
    uniform_sweeps: bool = setting(True, Boolean(), "Algorithm 1 also sweeps the whole network and each layer kind")
    high_rule: str = setting("next_above", Options(HIGH_RULES), "bSettingH: the precision next above bSettingL")

    def __post_init__(self):
        validate(self)


class QSViT:
    def __init__(self, ctx: SearchContext, settings: QSViTSettings):
        self.ctx, self.settings = ctx, settings
        self.space = ctx.space
        self.groups = self.space.units("kind")
        self.precisions = [b for b in self.space.bits if b != FP32]
        self.base_results: dict = {}
        self.explored: list[dict] = []

    def _measure(self, bits: dict[str, int], **fields) -> float | None:
        return measure(self.ctx, bits, **fields).accuracy

    # -- Algorithm 1 ------------------------------------------------------------------------------
    def algorithm1(self) -> pd.DataFrame:
        return sensitivity_sweep(self.ctx, self.settings.uniform_sweeps)

    # -- Algorithm 2 ------------------------------------------------------------------------------
    def base_settings(self, table: pd.DataFrame) -> tuple[dict[str, int], dict[str, int], dict[str, float]]:
        """Per group: bSettingL, bSettingH and the drop at bSettingL (its sensitivity)."""
        low, high, sensitivity = {}, {}, {}
        groups = table[table.sweep == "group"]
        ladder = [FP32] + self.precisions  # high to low
        fp32_correct = round(self.ctx.constraint.fp32_accuracy * int(groups.n.iloc[0]))  # same split, same n
        for group in self.groups:
            rows = groups[(groups.block + ":" + groups.layer_kind) == group.name].set_index("bits")
            lowest = FP32
            for p in self.precisions:  # walk down while tolerant: drop < tolerance, decided on counts
                if drop_below(fp32_correct, int(rows.loc[p, "correct"]), int(rows.loc[p, "n"]), self.settings.tolerance):
                    lowest = p
                else:
                    break
            low[group.name] = lowest
            high[group.name] = ladder[max(0, ladder.index(lowest) - 1)]
            sensitivity[group.name] = 0.0 if lowest == FP32 else float(rows.loc[lowest, "drop"])
        return low, high, sensitivity

    def _apply(self, per_group: dict[str, int]) -> dict[str, int]:
        bits = fp32_bits(self.space)
        for group in self.groups:
            bits = self.space.set_unit(bits, group, per_group[group.name])
        return bits

    def algorithm2(self, table: pd.DataFrame):
        low, high, sensitivity = self.base_settings(table)
        with self.ctx.in_phase("alg2_base_settings"):
            self.ctx.evaluator.prefetch([Request.accuracy(self._apply(s), "search") for s in (low, high)])  # parallel executors
            for name, setting in (("bSettingL", low), ("bSettingH", high)):
                bits = self._apply(setting)
                acc = self._measure(bits, sweep=name, unit="network")
                self.base_results[name] = {"search_accuracy": acc, "memory_bytes": self.space.memory_bytes(bits),
                                           "meets_target": acc is not None and self._meets(bits)}
        return low, high, sensitivity

    def _meets(self, bits: dict[str, int]) -> bool:
        """The constraint's one definition (its complete evaluation is in the memo: no forward pass)."""
        return self.ctx.constraint.accepts(self.ctx.evaluator.accuracy(bits, "search"))

    # -- Algorithm 3 ------------------------------------------------------------------------------
    def algorithm3(self, low: dict[str, int], high: dict[str, int], sensitivity: dict[str, float]) -> dict[str, int]:
        ctx, space = self.ctx, self.space
        state = dict(high)
        with ctx.in_phase("alg3_guided"):
            if not self.base_results["bSettingH"]["meets_target"]:
                state = self._repair(state, sensitivity)
            by_memory = {g.name: space.unit_fp32_bytes(g) for g in self.groups}
            order = sorted(self.groups, key=lambda g: (sensitivity[g.name], -by_memory[g.name]))
            for group in order:
                if low[group.name] >= state[group.name]:
                    continue
                candidate = {**state, group.name: low[group.name]}
                bits = self._apply(candidate)
                t0 = time.perf_counter()
                ctx.counters["generated"] += 1
                r = ctx.full_accuracy(bits, floor=ctx.constraint.floor)
                kept, se = ctx.constraint.accepts(r), ctx.constraint.standard_error(r)
                decision = decision_of(ctx, r, kept, ok="kept")
                ctx.record(bits, decision, time.perf_counter() - t0, search_accuracy=r.accuracy, unit=group.name,
                           images_seen=r.seen, exp_setting=len(self.explored) + 1, search_standard_error=se)
                self.explored.append({"exp_setting": len(self.explored) + 1, "group": group.name, "bits": low[group.name],
                                      "search_accuracy": r.accuracy, "search_standard_error": se,
                                      "memory_bytes": space.memory_bytes(bits), "kept": kept, "decision": decision})
                if kept:
                    state = candidate
                    ctx.evaluator.pin(self._apply(state))
        return self._apply(state)

    def _repair(self, state: dict[str, int], sensitivity: dict[str, float]) -> dict[str, int]:
        ctx = self.ctx
        for name in sorted(state, key=lambda g: -sensitivity[g]):
            if state[name] == FP32:
                continue
            state = {**state, name: FP32}
            t0 = time.perf_counter()
            ctx.counters["generated"] += 1
            r = ctx.full_accuracy(self._apply(state), floor=ctx.constraint.floor)
            ctx.record(self._apply(state), "repair", time.perf_counter() - t0, search_accuracy=r.accuracy, unit=name)
            if ctx.constraint.accepts(r):
                break
        return state

    # -- Algorithm 4 ------------------------------------------------------------------------------
    def algorithm4(self, final: dict[str, int]) -> dict:
        """The final network: the kept setting built on the whole model and its accuracy checked against
        the target (already measured by Algorithm 3, so the memo answers). The packed export, the test
        accuracy and the verify split's check follow in ``run_search`` for every method alike."""
        with self.ctx.in_phase("alg4_final_network"):
            r = self.ctx.evaluator.accuracy(final, "search")
        return {"search_accuracy": r.accuracy, "memory_bytes": self.space.memory_bytes(final),
                "meets_target": self.ctx.constraint.accepts(r)}

    def run(self) -> tuple[dict[str, int], pd.DataFrame]:
        self.ctx.evaluator.pin(fp32_bits(self.space))
        table = self.algorithm1()
        low, high, sensitivity = self.algorithm2(table)
        self.low, self.high, self.sensitivity = low, high, sensitivity
        final = self.algorithm3(low, high, sensitivity)
        self.final_network = self.algorithm4(final)
        return final, table


@register_method("qsvit", QSViTSettings, table_file="sensitivity.csv",
                 summary="QSViT's guided methodology: sensitivity sweep, base settings, guided exploration",
                 display_name="QSViT", color="#e76f51", marker="*", peer=True, order=10, family="as specified")
def run_qsvit(ctx: SearchContext, settings: QSViTSettings) -> MethodOutput:
    searcher = QSViT(ctx, settings)
    final, table = searcher.run()
    return MethodOutput(final, table, {"tolerance": settings.tolerance, "base_settings": searcher.base_results,
                                       "explored_settings": searcher.explored, "bSettingL": searcher.low,
                                       "bSettingH": searcher.high, "final_network": searcher.final_network})
