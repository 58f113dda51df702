"""What the peer baselines share: evaluating whole configurations one by one, and the smallest feasible one.

Unlike Greedy and Beam, which move from a state, the baselines (random, Optuna, the sensitivity ILP)
propose complete configurations. Each proposal is one full evaluation on ``search`` (counted, traced
and memoised like every method's), judged by the constraint's one rule, and the answer is the
smallest feasible configuration seen (FP32 when none is).
"""

from __future__ import annotations

import time

import pandas as pd

from ..evaluate.executor import Request
from .common import SearchContext, decision_of, fp32_bits


class Trials:
    def __init__(self, ctx: SearchContext, method: str):
        self.ctx, self.method = ctx, method
        self.rows: list[dict] = []
        self.seen: dict[str, dict] = {}

    def evaluate(self, bits: dict[str, int], early_rejection: bool = True, **fields) -> dict:
        """One full evaluation (memoised within the run: a repeated proposal costs nothing and is not counted)."""
        ctx, space = self.ctx, self.ctx.space
        key = space.key(bits)
        if key in self.seen:
            return self.seen[key]
        t0 = time.perf_counter()
        ctx.counters["generated"] += 1
        r = ctx.full_accuracy(bits, floor=ctx.constraint.floor if early_rejection else None)
        feasible, se = ctx.constraint.accepts(r), ctx.constraint.standard_error(r)
        ctx.record(bits, decision_of(ctx, r, feasible), time.perf_counter() - t0, search_accuracy=r.accuracy, images_seen=r.seen,
                   search_upper_bound=r.upper_bound, search_standard_error=se, **fields)
        row = {"trial": len(self.rows), "key": key, "memory_bytes": space.memory_bytes(bits), "search_accuracy": r.accuracy,
               "search_upper_bound": r.upper_bound, "search_standard_error": se, "feasible": feasible,
               "full_evaluations": int(ctx.counters["full"]), **fields}
        self.rows.append(row)
        self.seen[key] = row
        return row

    def prefetch(self, proposals: list[dict[str, int]], early_rejection: bool = True) -> None:
        """Parallel executors: evaluate a batch of proposals at once (serial: nothing; see evaluate/executor.py)."""
        floor = self.ctx.constraint.floor if early_rejection else None
        self.ctx.evaluator.prefetch([Request.accuracy(b, "search", floor) for b in proposals if self.ctx.space.key(b) not in self.seen])

    def best(self) -> dict[str, int]:
        """The smallest feasible configuration (higher search accuracy on ties); FP32 when none is feasible."""
        feasible = [r for r in self.rows if r["feasible"]]
        if not feasible:
            return fp32_bits(self.ctx.space)
        best = min(feasible, key=lambda r: (r["memory_bytes"], -(r["search_accuracy"] or 0.0), r["key"]))
        return self.ctx.space.bits_of(best["key"])

    def table(self) -> pd.DataFrame:
        """Every trial, with the best feasible memory after it (the anytime curve)."""
        df = pd.DataFrame(self.rows)
        if df.empty:
            return df
        feasible_memory = df.memory_bytes.where(df.feasible)
        df["best_feasible_bytes"] = feasible_memory.cummin().ffill()  # NaN until the first feasible trial
        df["saving_vs_fp32"] = 1 - df.memory_bytes / self.ctx.space.fp32_bytes
        return df
