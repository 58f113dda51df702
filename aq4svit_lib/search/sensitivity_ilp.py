"""Sensitivity + integer program (HAWQ-V3 / ModelOpt AutoQuantize style), solved exactly by HiGHS.

1. **Scores**: for every unit u (default: QSViT's layer groups) and width b, a predicted cost s(u, b)
   of putting u at b with the rest FP32 (s(u, 32) = 0). Two sources, a setting:

   - ``measured``: the drop on ``search`` (QSViT's Algorithm-1 sweep; with the same groups and bits the
     configurations are identical, so a shared memo answers them without a forward pass);
   - ``drift``: the membrane-potential drift of that single-unit configuration on the minibatch (the
     gate's proxy; gradient-free and ~8x cheaper per unit than a search-split evaluation here). Drift is blind to a
     unit with no neuron after it (the head): such a unit is held at widths its minibatch accuracy vouches for;
   - ``fisher`` / ``hessian``: the field's gradient proxies (evaluate/curvature.py): a diagonal-Fisher or a
     Hutchinson Hessian-trace estimate weighted by the squared quantization error of each (unit, width), from
     backward passes on the minibatch only (ModelOpt AutoQuantize's and HAWQ-V3's kind of score).

2. **Program**: binary x(u, b), one width per unit, minimise the memory sum_u,b m(u, b) x(u, b)
   subject to sum_u,b s(u, b) x(u, b) <= B: the additive model of HAWQ-V3 (scores of units add up).
   Solved with SciPy's ``milp`` (HiGHS branch and cut) for a sweep of budgets B, which gives a whole
   predicted front (``ilp_front.csv``-style rows in the table).

3. **Real evaluation and repair** (our rule): the front's distinct solutions are sorted by memory;
   a bisection over them, each probe a full evaluation judged by the constraint's own rule, finds the
   smallest solution that meets it, assuming a larger budget never gives a more accurate solution
   (the additive model's premise; where it fails, bisection still returns a *feasible* solution,
   perhaps not the smallest). With ``measured`` scores the budget sweep is a grid of fractions of
   delta. With a proxy (not in accuracy points, spanning orders of magnitude) the sweep is HAWQ-V3's own: a
   geometric grid of *memory* budgets from the all-narrowest network to FP32, each solved for the least
   predicted cost (then the least memory at that cost), so the front covers every size whatever the scores'
   scale (a grid over score budgets alone missed the middle of the Hessian front entirely), joined by that geometric
   grid of score budgets (denser where the scores change fastest). Then (``narrow_steps`` > 0)
   a bisection over the budget itself between the answer and the infeasible solution below it, where the grid was
   too coarse. Then (``repair_steps`` > 0) from the largest infeasible solution below the bisection's answer, the unit with the most predicted cost per byte is raised one width at a time while the
   answer stays smaller than the bisection's: real evaluations spent only where the prediction was wrong.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from ..evaluate import curvature
from ..evaluate.executor import Request
from ..quant.quantizers import FP32
from ..schema import Interval, Options, setting, validate
from .common import SearchContext, fp32_bits
from .registry import MethodOutput, register_method
from .space import LEVELS
from .trials import Trials

SCORES = ("measured", "drift", "fisher", "hessian")
PROXIES = ("drift", "fisher", "hessian")  # scores that spend no full evaluation


@dataclass
class SensitivityILPSettings:
    scores: str = setting("measured", Options(SCORES), "per-unit score source")
    level: str = setting("kind", Options(LEVELS), "units that get one width each (kind: QSViT's layer groups)")
    budgets: int = setting(24, Interval(int, 2), "budgets in the sweep (points of the predicted front)")
    repair_steps: int = setting(0, Interval(int, 0), "after the bisection, at most this many one-width raises of the unit "
                                "with the most predicted cost per byte (0: the bisection's answer)")
    narrow_steps: int = setting(0, Interval(int, 0), "after the bisection over the front, at most this many solves at budgets "
                                "between its smallest feasible and largest infeasible solutions (bisection over the budget)")
    probes: int = setting(8, Interval(int, 1), "hessian scores: Hutchinson probes (Rademacher vectors)")
    micro_batch: int = setting(16, Interval(int, 1), "fisher / hessian scores: images per backward pass")

    def __post_init__(self):
        validate(self)


@dataclass
class ProxyILPSettings(SensitivityILPSettings):
    """The field's anchors: a proxy score, no full evaluation spent on scoring, repaired by real evaluations."""

    scores: str = setting("fisher", Options(PROXIES), "per-unit proxy score")
    repair_steps: int = setting(8, Interval(int, 0), "after the bisection, at most this many one-width raises of the unit "
                                "with the most predicted cost per byte (0: the bisection's answer)")
    narrow_steps: int = setting(6, Interval(int, 0), "after the bisection over the front, at most this many solves at budgets "
                                "between its smallest feasible and largest infeasible solutions (bisection over the budget)")


@contextlib.contextmanager
def _native_stdout_silenced():
    """File descriptor 1 to /dev/null while HiGHS runs.

    HiGHS (inside SciPy's ``milp``) prints "HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();"
    with C printf whenever it repairs a presolved incumbent, whatever its output options (``disp`` is already off;
    ERGO-Code/HiGHS#2783): a stray debug line, not a solver log, that executed notebooks stored once per repair.
    Only the C level is redirected, only around the solve; nothing else prints meanwhile.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    except (OSError, AttributeError, ValueError):  # no C library or no real stdout: leave it as it is
        yield
        return
    sys.stdout.flush()
    libc.fflush(None)
    os.dup2(devnull, fd)
    try:
        yield
    finally:
        libc.fflush(None)  # C stdout is buffered on a pipe (a Jupyter kernel): drop the stray text before restoring
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def solve_allocation(memory: np.ndarray, score: np.ndarray, budget: float, allowed: np.ndarray | None = None) -> np.ndarray | None:
    """Exact minimum-memory choice of one column per row with total score <= budget (None if infeasible).

    ``memory`` and ``score`` are (units x choices); returns the chosen column of every row. The roles are symmetric:
    ``solve_allocation(score, memory, cap)`` is the least predicted cost within ``cap`` bytes. ``allowed`` (boolean,
    same shape) excludes choices.
    """
    units, choices = memory.shape
    n = units * choices
    one_per_unit = np.kron(np.eye(units), np.ones(choices))
    constraints = [LinearConstraint(one_per_unit, 1, 1), LinearConstraint(score.reshape(1, n), -np.inf, budget)]
    upper = np.ones(n) if allowed is None else allowed.reshape(n).astype(float)
    with _native_stdout_silenced():
        res = milp(memory.reshape(n), constraints=constraints, integrality=np.ones(n), bounds=Bounds(0, upper))
    if res.status != 0 or res.x is None:
        return None
    return np.round(res.x).reshape(units, choices).argmax(axis=1)


class SensitivityILP:
    def __init__(self, ctx: SearchContext, settings: SensitivityILPSettings):
        self.ctx, self.settings = ctx, settings
        self.space = ctx.space
        self.units = self.space.units(settings.level)
        self.widths = list(self.space.bits)  # FP32 first (the list is high to low)
        self.trials = Trials(ctx, "sensitivity-ilp")
        self.allowed: np.ndarray | None = None  # (units x widths) choices the program may make; None: all

    def scores(self) -> np.ndarray:
        """(units x widths) predicted cost; 0 at FP32."""
        if self.settings.scores in ("fisher", "hessian"):
            return self.gradient_scores()
        ctx, space = self.ctx, self.space
        out = np.zeros((len(self.units), len(self.widths)))
        with ctx.in_phase(f"scores:{self.settings.scores}"):
            fp32 = fp32_bits(space)
            singles = [space.set_unit(fp32, unit, b) for unit in self.units for b in self.widths if b != FP32]
            measured = self.settings.scores == "measured"  # parallel executors: every score at once
            ctx.evaluator.prefetch([Request.accuracy(b, "search") if measured else Request.drift(b) for b in singles])
            for i, unit in enumerate(self.units):
                for j, b in enumerate(self.widths):
                    if b == FP32:
                        continue
                    bits = space.set_unit(fp32, unit, b)
                    out[i, j] = self._score(bits, unit.name, b)
            if not measured:
                self.allowed = self._unseen_units_held(out)
        return np.maximum(out, 0.0)  # a drop below zero is noise, not a gain the program may spend elsewhere

    def _unseen_units_held(self, drift: np.ndarray) -> np.ndarray:
        """Drift reads membranes *after* a layer, so a unit with no spiking neuron downstream (the head) drifts by
        exactly 0 at every width and the program would put it at the narrowest. Such a unit may only take the widths
        at which the minibatch forward of that single-unit configuration gets no fewer images right than FP32's
        (counts of images: an integer decision)."""
        space, ev = self.space, self.ctx.evaluator
        fp32 = fp32_bits(space)
        reference = ev.drift(fp32).correct
        allowed = np.ones(drift.shape, dtype=bool)
        for i, unit in enumerate(self.units):
            if (drift[i] != 0).any():
                continue
            for j, b in enumerate(self.widths):
                allowed[i, j] = b == FP32 or ev.drift(space.set_unit(fp32, unit, b)).correct >= reference
        return allowed

    def gradient_scores(self) -> np.ndarray:
        """Curvature at FP32 on the minibatch, times each (layer, width)'s squared quantization error, summed per unit."""
        ctx, s = self.ctx, self.settings
        ev = ctx.evaluator
        out = np.zeros((len(self.units), len(self.widths)))
        with ctx.in_phase(f"scores:{s.scores}"), ev.quantizer.applied({}):  # gradients at the FP32 weights
            modules = dict(ev.model.named_modules())
            weights = {layer: modules[layer].weight for u in self.units for layer in u.layers}
            batches = ev.split(ev.drift_split).batches(ev.batch_size)
            t0 = time.perf_counter()
            curv = (curvature.fisher_diagonal(ev.model, weights, batches, micro=s.micro_batch) if s.scores == "fisher" else
                    curvature.hessian_trace(ev.model, weights, batches, probes=s.probes, micro=s.micro_batch, seed=ctx.seed))
            ev.counters["images_forwarded"] += curv.images_forwarded
            ev.counters["images_backpropagated"] += curv.images_backpropagated
            for i, unit in enumerate(self.units):
                for j, b in enumerate(self.widths):
                    if b != FP32:
                        out[i, j] = sum(curv.cost(layer, ev.quantizer.quantized(layer, b).values - ev.quantizer.fp32(layer))
                                        for layer in unit.layers)
            ctx.record(fp32_bits(self.space), "scored", time.perf_counter() - t0, unit=f"{s.scores} ({len(self.units)} units)")
        return out

    def _score(self, bits: dict[str, int], unit: str, b: int) -> float:
        ctx = self.ctx
        if self.settings.scores == "measured":
            row = self.trials.evaluate(bits, early_rejection=False, unit=unit, sweep="score")
            return 100 * (ctx.constraint.fp32_accuracy - row["search_accuracy"])
        t0 = time.perf_counter()
        ctx.counters["generated"] += 1
        ctx.tick()
        d = ctx.evaluator.drift(bits)
        ctx.record(bits, "scored", time.perf_counter() - t0, drift=d.drift, minibatch_accuracy=d.accuracy, unit=unit)
        return d.drift

    def memory(self) -> np.ndarray:
        return np.array([[self.space.memory.bytes_of(u.layers, b, self.space.scheme) for b in self.widths] for u in self.units],
                        dtype=float)

    def front(self, memory: np.ndarray, score: np.ndarray) -> pd.DataFrame:
        """The program's solution for each budget of the sweep (distinct solutions, smallest memory first)."""
        rows = [row for on, grid in self._budgets(memory, score).items() for budget in grid
                if (row := self._front_row(memory, score, float(budget), on)) is not None]
        df = pd.DataFrame(rows).drop_duplicates("key").sort_values(["memory_bytes", "budget"])
        return df.reset_index(drop=True)

    def _front_row(self, memory: np.ndarray, score: np.ndarray, budget: float, on: str) -> dict | None:
        choice = self._solve(memory, score, budget, on)
        if choice is None:
            return None
        bits = fp32_bits(self.space)
        for unit, j in zip(self.units, choice, strict=True):
            bits = self.space.set_unit(bits, unit, self.widths[j])
        return {"budget": budget, "budget_on": on, "predicted_cost": float(score[np.arange(len(choice)), choice].sum()),
                "memory_bytes": self.space.memory_bytes(bits), "key": self.space.key(bits)}

    def held_units(self) -> dict[str, list[int]]:
        """Units the program could not put at every width (a drift score's blind spots): unit -> widths it may take."""
        if self.allowed is None:
            return {}
        return {u.name: [b for b, ok in zip(self.widths, row, strict=True) if ok] for u, row in zip(self.units, self.allowed, strict=True)
                if not row.all()}

    def _budgets(self, memory: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
        """Budget grids by what they bound. Measured scores: accuracy points up to twice delta. A proxy: HAWQ-V3's byte
        budgets (the front spans every size whatever the scores' scale) *and* a geometric grid of score budgets (denser
        where the scores change fastest: on sdtv2_tiny the Fisher program's best solution lies only on that grid)."""
        top = float(score.max(axis=1).sum())
        if self.settings.scores == "measured":
            return {"accuracy points": np.linspace(0.0, min(top, 2 * self.ctx.constraint.delta), self.settings.budgets)}
        allowed = np.ones(memory.shape, dtype=bool) if self.allowed is None else self.allowed
        low = float(np.where(allowed, memory, np.inf).min(axis=1).sum())  # geometric: dense where the answers lie
        low_score = float(score[score > 0].min()) if (score > 0).any() else 1.0
        return {"bytes": np.geomspace(low, float(memory.max(axis=1).sum()), self.settings.budgets),
                "score": np.concatenate([[0.0], np.geomspace(low_score, max(top, low_score), self.settings.budgets - 1)])}

    def _solve(self, memory: np.ndarray, score: np.ndarray, budget: float, on: str) -> np.ndarray | None:
        if on != "bytes":  # the least memory within a score budget
            return solve_allocation(memory, score, budget, self.allowed)
        least = solve_allocation(score, memory, budget, self.allowed)  # least predicted cost within the byte budget ...
        if least is None:
            return None
        cost = float(score[np.arange(len(least)), least].sum())
        # ... then the fewest bytes at that cost (ties among zero scores); the slack only absorbs HiGHS's own tolerance
        return solve_allocation(memory, score, cost + 1e-9 * max(1.0, cost), self.allowed)

    def repair(self, front: pd.DataFrame) -> None:
        """Bisection over the front (smallest memory first) for the smallest solution that meets the constraint."""
        lo, hi = 0, len(front) - 1  # invariant: every solution below lo is infeasible; the last one (most accurate) is the fall-back
        with self.ctx.in_phase("ilp:evaluate"):
            while lo <= hi:
                mid = (lo + hi) // 2
                self._speculate(front, lo, hi)
                row = front.iloc[mid]
                trial = self.trials.evaluate(self.space.bits_of(row["key"]), budget=float(row["budget"]),
                                             predicted_cost=float(row["predicted_cost"]), sweep="front")
                if trial["feasible"]:
                    hi = mid - 1
                else:
                    lo = mid + 1

    def narrow(self, front: pd.DataFrame, memory: np.ndarray, score: np.ndarray) -> pd.DataFrame:
        """Bisection over the *budget* between the front's smallest feasible solution and the largest infeasible one below
        it: the grid's spacing, not the program, limited how close the first bisection could get. Each new solution is one
        evaluation; the front gains the rows (the per-byte repair then starts from the closer bracket)."""
        with self.ctx.in_phase("ilp:narrow"):
            for _ in range(self.settings.narrow_steps):
                feasible = {k for k, row in self.trials.seen.items() if row["feasible"]}
                keys = list(front["key"])
                best = next((i for i, k in enumerate(keys) if k in feasible), None)
                if not best:  # none feasible, or the smallest solution already is
                    break
                on = front.budget_on.iloc[best]
                if front.budget_on.iloc[best - 1] != on:  # a bracket across the two grids: no budget lies between
                    break
                lo, hi = float(front.budget.iloc[best - 1]), float(front.budget.iloc[best])
                mid = float(np.sqrt(lo * hi)) if on != "accuracy points" and lo > 0 and hi > 0 else (lo + hi) / 2
                row = self._front_row(memory, score, mid, on)
                if row is None or row["key"] in keys:  # the program gives a bracket's own solution: nothing between
                    break
                self.trials.evaluate(self.space.bits_of(row["key"]), budget=mid, predicted_cost=row["predicted_cost"], sweep="narrow")
                front = pd.concat([front, pd.DataFrame([row])])
                front = front.sort_values(["memory_bytes", "budget"]).reset_index(drop=True)
        return front

    def _speculate(self, front: pd.DataFrame, lo: int, hi: int) -> None:
        """Parallel executors: the bisection's next levels at once (with W workers, the log2(W + 1) levels below
        (lo, hi): the midpoint, both possible next midpoints, ...); the bisection then finds them in the memo."""
        ex = self.ctx.evaluator.executor
        if not ex.remote:
            return
        picks: list[int] = []
        level = [(lo, hi)]
        for _ in range(max(1, int(np.log2(ex.settings.workers + 1)))):
            below = []
            for a, b in level:
                if a <= b:
                    m = (a + b) // 2
                    picks.append(m)
                    below += [(a, m - 1), (m + 1, b)]
            level = below
        self.trials.prefetch([self.space.bits_of(front.iloc[i]["key"]) for i in picks], early_rejection=True)

    def refine(self, front: pd.DataFrame, memory: np.ndarray, score: np.ndarray) -> None:
        """From the largest infeasible front solution below the bisection's answer, raise the unit with the most predicted
        cost per byte one width at a time, while the result stays smaller than that answer (each step one evaluation)."""
        best = self.space.key(self.trials.best())
        keys = list(front["key"])
        if self.settings.repair_steps == 0 or best not in keys or keys.index(best) == 0:
            return
        bits = self.space.bits_of(keys[keys.index(best) - 1])
        limit = self.space.memory_bytes(self.space.bits_of(best))
        col = {b: j for j, b in enumerate(self.widths)}
        with self.ctx.in_phase("ilp:refine"):
            for _ in range(self.settings.repair_steps):
                now = [col[bits[u.layers[0]]] for u in self.units]
                gains = [(score[i, j] - score[i, j - 1]) / max(memory[i, j - 1] - memory[i, j], 1.0) if j > 0 else -np.inf
                         for i, j in enumerate(now)]
                i = int(np.argmax(gains))
                if gains[i] == -np.inf:
                    return
                bits = self.space.set_unit(bits, self.units[i], self.widths[now[i] - 1])
                if self.space.memory_bytes(bits) >= limit:
                    return
                if self.trials.evaluate(bits, sweep="refine", unit=self.units[i].name)["feasible"]:
                    return

    def run(self) -> MethodOutput:
        score, memory = self.scores(), self.memory()
        front = self.front(memory, score)
        self.repair(front)
        front = self.narrow(front, memory, score)
        self.refine(front, memory, score)
        evaluated = pd.DataFrame(self.trials.rows)
        table = front.merge(evaluated[["key", "search_accuracy", "feasible"]], on="key", how="left") if len(evaluated) else front
        table["saving_vs_fp32"] = 1 - table.memory_bytes / self.space.fp32_bytes
        extra = {"scores": self.settings.scores, "level": self.settings.level, "front_size": len(front),
                 "images_backpropagated": int(self.ctx.evaluator.counters["images_backpropagated"]),
                 "held_units": self.held_units(),
                 "score_table": {u.name: dict(zip(map(str, self.widths), map(float, s), strict=True)) for u, s in zip(self.units, score, strict=True)}}
        return MethodOutput(self.trials.best(), table, extra)


@register_method("sensitivity-ilp", SensitivityILPSettings, table_file="ilp_front.csv",
                 summary="per-unit sensitivity scores, then an exact integer program (HiGHS) over a sweep of budgets",
                 display_name="Sensitivity-ILP", color="#e9c46a", marker="s", peer=True, order=40)
def run_sensitivity_ilp(ctx: SearchContext, settings: SensitivityILPSettings) -> MethodOutput:
    return SensitivityILP(ctx, settings).run()


# The field's anchors (issue 26): each a proxy score from the minibatch, an exact program, then real evaluations only
# to repair.
for _name, _score, _label, _color, _marker in (("fisher-ilp", "fisher", "Fisher-ILP", "#f4a261", "v"),
                                                ("hessian-ilp", "hessian", "Hessian-ILP", "#bc6c25", "^"),
                                                ("drift-ilp", "drift", "Drift-ILP", "#8ab17d", "<")):
    register_method(_name, ProxyILPSettings, table_file="ilp_front.csv", defaults={"scores": _score},
                    summary=f"{_label}: {_score} proxy scores on the minibatch (no full evaluation), an exact integer program, "
                            "then bisection and a per-byte repair with real evaluations",
                    display_name=_label, color=_color, marker=_marker, peer=True, order=41)(run_sensitivity_ilp)
