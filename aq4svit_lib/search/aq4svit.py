"""AQ4SViT: hierarchical automated quantization search with the drift gate (Greedy and Beam).

The search walks the hierarchy network -> stage -> block (-> layer kind, optional); the result
of one level seeds the next. Every candidate is screened by :mod:`~aq4svit_lib.search.gate`
(drift, minibatch, full evaluation with early rejection).

- **Greedy**: units of a level are visited largest FP32 memory first; each is lowered one step at
  a time while the constraint holds, and every accepted lowering becomes the new state.
- **Beam** (our design; the paper only says "slower, wider"). Run as plain steepest descent over
  single-step lowerings, a beam of K configurations ranked by memory ends where Greedy ends: all
  members sit at the edge of feasibility, where no single lowering passes. Beam here is wider in
  three ways, each a setting:

  1. *seeded with Greedy*: Greedy runs first (its candidates are shared, not re-evaluated), and
     each level's beam starts from the K smallest feasible configurations seen so far (Greedy's
     path included), so rounds start at the edge instead of re-walking Greedy's path. Beam's
     answer is the smallest feasible configuration it has seen, so it is never larger than Greedy's;
  2. *trade moves*: when a round of single-step lowerings adds nothing, the best member also tries
     lowering one unit while raising one of the ``trade_partners`` units whose raise costs fewest
     bytes (net memory must fall): accuracy is moved from small units to large ones. Only the
     best member trades, which keeps a round to units x partners candidates;
  3. *rank gate* (``gate='rank'``): all children of a round are scored by drift increase per MiB
     saved and only the best M = ``rank_keep`` (default 2K) are evaluated, which pays for (2).

  A level ends when a round adds no new member; the search stops early when no member can still
  get below the best configuration found (every unit of the level already at the lowest width
  would not beat it).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd

from ..decisions import drop_within, exact
from ..errors import UsageError
from ..evaluate.executor import Request
from ..schema import Boolean, Checked, Interval, Options, default, setting, validate
from .common import SearchContext, decision_of, fp32_bits, pareto_front
from .gate import POLICIES, SCORES, DriftGate
from .registry import MethodOutput, register_method
from .space import LEVELS, check_levels

METHODS = ("greedy", "beam")
MiB = 1 << 20


@dataclass
class AQ4SViTSettings:
    method: str = setting("greedy", Options(METHODS), "Greedy or Beam", cli=False)
    levels: tuple[str, ...] = setting(("network", "stage", "block"), Checked(check_levels, "a comma-separated list of " + ", ".join(LEVELS)),
                                      "hierarchy levels, in order (add kind for the 4th)")
    beam_width: int = setting(3, Interval(int, 1), "Beam: configurations kept per round (K)")
    drift_threshold: float | None = setting(None, Interval(float, 0, allow_inf=True), "fixed gate threshold tau (inf disables)",
                                            none="calibrated per level")
    # the gate's own defaults (gate.py's DriftGate), declared there once
    drift_margin: float = setting(default(DriftGate, "margin"), Interval(float, 0, None, "neither"),
                                  "calibrated gate: tau = margin x largest accepted score of the level")
    min_accepted: int = setting(default(DriftGate, "min_accepted"), Interval(int, 1), "gate calibration: passes a level needs before tau is set")
    min_rejected: int = setting(default(DriftGate, "min_rejected"), Interval(int, 1), "gate calibration: failures a level needs before tau is set")
    minibatch_slack: float = setting(3.0, Interval(float, 0), "points of extra drop allowed on the minibatch check")
    gate: str = setting("auto", Options(("auto", *POLICIES)), "drift gate policy: threshold, rank (Beam: evaluate only the best M "
                        "children), off; auto = threshold for Greedy, rank for Beam")
    gate_score: str = setting(default(DriftGate, "score_kind"), Options(SCORES), "what the gate scores: increase (drift added by the move) or absolute")
    rank_keep: int | None = setting(None, Interval(int, 1), "rank gate: children fully evaluated per Beam round", none="2 x beam width")
    trade_partners: int = setting(3, Interval(int, 0), "Beam: units tried as the raised half of a trade move (0: no trades)")
    seed_greedy: bool = setting(True, Boolean(), "Beam: run Greedy first and seed each level with its state")
    audit_gate: bool = setting(False, Boolean(), "also fully evaluate every pruned candidate (outside the timed search)")

    def __post_init__(self):
        validate(self)
        if self.gate == "auto":
            self.gate = "rank" if self.method == "beam" else "threshold"
        if self.gate == "rank" and self.method != "beam":
            raise UsageError("the rank gate orders the children of a Beam round; Greedy has one child at a time (use --gate threshold)")

    @property
    def keep(self) -> int:
        return self.rank_keep or 2 * self.beam_width


class AQ4SViT:
    def __init__(self, ctx: SearchContext, settings: AQ4SViTSettings):
        self.ctx, self.settings = ctx, settings
        self.gate = DriftGate(settings.gate, settings.drift_threshold, settings.drift_margin, settings.min_accepted,
                              settings.min_rejected, settings.gate_score)
        # what was measured (a full evaluation: a fact about the configuration) is kept apart from what was decided
        # (a prune depends on the parent, tau and the round): only measured configurations are never screened again
        self.measured: dict[str, tuple[bool, float | None]] = {}  # key -> (feasible, search accuracy)
        self.drifts: dict[str, float] = {}  # key -> drift (to report a candidate's parent drift)
        self.fp32_minibatch: tuple[int, int] | None = None  # FP32's (correct, n) on the minibatch
        self.best: dict[str, int] | None = None  # smallest feasible configuration seen
        self.round: int | None = None  # Beam's round within the level (in the trace)

    # -- the gate -------------------------------------------------------------------------------
    def probe(self, bits: dict[str, int], unit: str, parent: dict[str, int] | None) -> dict:
        """Step 1's measurement: drift of the candidate (and its score); counts one candidate."""
        ctx, space = self.ctx, self.ctx.space
        ctx.counters["generated"] += 1
        t0 = time.perf_counter()
        ctx.tick()
        d = ctx.evaluator.drift(bits)
        key = space.key(bits)
        self.drifts[key] = d.drift
        parent_key = space.key(parent) if parent is not None else None
        parent_drift = self.drifts.get(parent_key, 0.0) if parent_key is not None else None
        score = self.gate.score(d.drift, parent_drift)
        saved = (space.memory_bytes(parent) - space.memory_bytes(bits)) if parent is not None else 0
        return dict(bits=bits, t0=t0, key=key, minibatch_accuracy=d.accuracy, minibatch=(d.correct, d.n), saved_bytes=saved,
                    fields=dict(unit=unit, drift=d.drift, parent_key=parent_key, parent_drift=parent_drift, drift_max=d.drift_max,
                                spike_disagreement=d.spike_disagreement, minibatch_accuracy=d.accuracy, gate_score=score, round=self.round,
                                tau=self.gate.tau if math.isfinite(self.gate.tau) else None))

    def decide(self, cand: dict, pruned_by: str | None = None) -> bool:
        """Steps 1-3 for a probed candidate (``pruned_by='rank'`` when the rank gate left it out)."""
        ctx, bits, fields = self.ctx, cand["bits"], cand["fields"]
        if pruned_by is None and self.gate.prunes(fields["gate_score"]):
            pruned_by = "drift"
        if pruned_by is None:
            ctx.counters["minibatch"] += 1
            if self._fails_minibatch(*cand["minibatch"]):
                pruned_by = "minibatch"
        if pruned_by is not None:
            ctx.counters["gated" if pruned_by != "minibatch" else "pruned_minibatch"] += 1
            seconds = time.perf_counter() - cand["t0"]
            audit = self.audit(bits) if self.settings.audit_gate else {}
            ctx.record(bits, f"pruned_{pruned_by}", seconds, **fields, **audit)
            return False
        r = ctx.full_accuracy(bits, floor=ctx.constraint.floor)
        passed = ctx.constraint.accepts(r)
        self.gate.observe(fields["gate_score"], passed)
        self.measured[cand["key"]] = (passed, r.accuracy)
        if passed:
            self._keep_if_smallest(bits)
        ctx.record(bits, decision_of(ctx, r, passed), time.perf_counter() - cand["t0"], search_accuracy=r.accuracy, images_seen=r.seen,
                   search_upper_bound=r.upper_bound, search_standard_error=ctx.constraint.standard_error(r), **fields)
        return passed

    def _fails_minibatch(self, correct: int, n: int) -> bool:
        """Step 2: the loose constraint on the minibatch (the drop delta allows + slack), decided on counts."""
        assert self.fp32_minibatch is not None  # measured in run() before any candidate
        allowed = self.ctx.constraint.allowed_drop_points() + exact(self.settings.minibatch_slack)
        return not drop_within(self.fp32_minibatch[0], correct, n, allowed)

    # -- parallel executors: questions handed over ahead of the serial loop (see evaluate/executor.py) ----
    def _prefetch_full(self, children) -> None:
        """Full evaluations of the children that pass the gate as it stands and the minibatch check.

        The serial loop decides as always (tau may move meanwhile); it finds these answers in the memo.
        """
        ev, floor = self.ctx.evaluator, self.ctx.constraint.floor
        wanted = []
        for bits, _, parent in children:
            d = ev.drift(bits)  # prefetched: a memo hit
            parent_drift = self.drifts.get(self.ctx.space.key(parent), 0.0)
            if not self.gate.prunes(self.gate.score(d.drift, parent_drift)) and not self._fails_minibatch(d.correct, d.n):
                wanted.append(Request.accuracy(bits, "search", floor))
        ev.prefetch(wanted)

    def _speculate(self, state: dict[str, int], unit) -> None:
        """Greedy on a parallel executor: the next steps of this unit's ladder, drift and full evaluation each.

        The serial loop accepts exactly the prefix it would have accepted; steps past its first failure are
        wasted worker time (images forwarded, not evaluations). Depth: one step per two workers (a drift
        and a full evaluation each), since at the block level the first step fails more often than not.
        Only where one request cannot use every worker's resources (GPUs, several nodes): on one CPU node a
        lone request already gets all the workers' threads, and splitting them over guesses is slower.
        """
        ev, space = self.ctx.evaluator, self.ctx.space
        if not (ev.executor.remote and ev.executor.speculates):
            return
        depth, bits = max(1, -(-ev.executor.settings.workers // 2)), state
        ladder: list[dict[str, int]] = []
        while len(ladder) < depth and (step := space.lower(bits, unit)) is not None:
            ladder.append(step)
            bits = step
        ev.prefetch([r for b in ladder for r in (Request.drift(b), Request.accuracy(b, "search", self.ctx.constraint.floor))])

    def screen(self, bits: dict[str, int], unit: str = "", parent: dict[str, int] | None = None) -> bool:
        """Run the three-step gate on one candidate; record it in the trace; True if feasible."""
        key = self.ctx.space.key(bits)
        if key in self.measured:
            return self.measured[key][0]
        return self.decide(self.probe(bits, unit, parent))

    def audit(self, bits: dict[str, int]) -> dict:
        """Fully evaluate a pruned candidate outside the timed search (the gate's false-prune rate)."""
        ctx = self.ctx
        with ctx.in_phase("audit"):
            r = ctx.evaluator.accuracy(bits, "search", floor=ctx.constraint.floor)
        return {"audit_passed": ctx.constraint.accepts(r), "audit_accuracy": r.accuracy, "audit_standard_error": ctx.constraint.standard_error(r)}

    def _keep_if_smallest(self, bits: dict[str, int]) -> None:
        """A feasible configuration becomes the answer when it is the smallest seen (one rule for every source)."""
        if self.best is None or self._smaller(bits, self.best):
            self.best = bits

    def _smaller(self, a: dict[str, int], b: dict[str, int]) -> bool:
        space = self.ctx.space
        ma, mb = space.memory_bytes(a), space.memory_bytes(b)
        if ma != mb:
            return ma < mb
        return (self.measured.get(space.key(a), (0, 0.0))[1] or 0.0) > (self.measured.get(space.key(b), (0, 0.0))[1] or 0.0)

    # -- Greedy ---------------------------------------------------------------------------------
    def ordered_units(self, level: str):
        space = self.ctx.space
        units = space.units(level)
        return sorted(units, key=lambda u: -space.unit_fp32_bytes(u))  # stable: ties keep block order

    def greedy(self, start: dict[str, int], prefix: str = "greedy") -> list[dict[str, int]]:
        """Greedy's state at the end of every level (the last one is its answer)."""
        ctx, state, path = self.ctx, dict(start), []
        for level in self.settings.levels:
            with ctx.in_phase(f"{prefix}:{level}"):
                self.gate.start_level(f"{prefix}:{level}")
                for unit in self.ordered_units(level):
                    while (candidate := ctx.space.lower(state, unit)) is not None:
                        self._speculate(state, unit)
                        if not self.screen(candidate, unit.name, parent=state):
                            break
                        state = candidate
                        ctx.evaluator.pin(state)
            path.append(state)
        return path

    # -- Beam -----------------------------------------------------------------------------------
    def _rank(self, bits: dict[str, int]):
        space = self.ctx.space
        acc = self.measured.get(space.key(bits), (True, self.ctx.constraint.fp32_accuracy))[1]
        return (space.memory_bytes(bits), -(acc if acc is not None else 0.0), space.key(bits))

    def _children(self, beam, units, trades: bool):
        """Single-step lowerings of every member; in a trade round, the best member's trades."""
        space, out, keys = self.ctx.space, [], set()
        for j, parent in enumerate(beam):
            if trades and j > 0:
                break
            moves = self._trades(parent, units) if trades else [(space.lower(parent, u), u.name) for u in units]
            for child, name in moves:
                if child is None or space.key(child) in keys or space.key(child) in self.measured:
                    continue
                keys.add(space.key(child))
                out.append((child, name, parent))
        return out

    def _trades(self, parent: dict[str, int], units):
        """Lower one unit while raising one of the cheapest-to-raise others; net memory must fall."""
        space = self.ctx.space
        base = space.memory_bytes(parent)
        raises = [(space.memory_bytes(r) - base, u, r) for u in units if (r := space.raise_(parent, u)) is not None]
        raises = sorted(raises, key=lambda t: t[0])[: self.settings.trade_partners]
        moves = []
        for u in units:
            lowered = space.lower(parent, u)
            if lowered is None:
                continue
            for _, up, _ in raises:
                if up.name == u.name:
                    continue
                child = space.raise_(lowered, up)
                if child is not None and space.memory_bytes(child) < base:
                    moves.append((child, f"{u.name}-/{up.name}+"))
        return moves

    def _screen_round(self, children) -> list[dict[str, int]]:
        """Screen a round's children (rank gate: probe all, evaluate the best M); the feasible ones."""
        ev = self.ctx.evaluator
        ev.prefetch([Request.drift(c) for c, _, _ in children])  # parallel executors: the whole round's drift at once
        if self.settings.gate != "rank":
            if ev.executor.remote:
                self._prefetch_full(children)
            return [c for c, name, parent in children if self.screen(c, name, parent)]
        probed = [self.probe(c, name, parent) for c, name, parent in children]
        order = sorted(probed, key=rank_key)
        floor = self.ctx.constraint.floor
        ev.prefetch([Request.accuracy(p["bits"], "search", floor) for p in order[: self.settings.keep]
                     if not self._fails_minibatch(*p["minibatch"])])
        feasible = []
        for i, cand in enumerate(order):
            if self.decide(cand, pruned_by=None if i < self.settings.keep else "rank"):
                feasible.append(cand["bits"])
        return feasible

    def _can_improve(self, member: dict[str, int], units) -> bool:
        return self.best is None or self.ctx.space.lowest_bytes(member, units) < self.ctx.space.memory_bytes(self.best)

    def beam(self, start: dict[str, int]) -> dict[str, int]:
        ctx, k, s = self.ctx, self.settings.beam_width, self.settings
        space = ctx.space
        path = self.greedy(start, prefix="beam:greedy") if s.seed_greedy else []
        if seed_ilp := getattr(s, "seed_ilp", ""):  # AQ4SViTFromILPSettings
            path.append(self.from_ilp(seed_ilp))
        beam = [dict(start)]
        for level in s.levels:
            with ctx.in_phase(f"beam:{level}"):
                self.gate.start_level(f"beam:{level}")
                units = self.ordered_units(level)
                if path:  # start from the K smallest feasible configurations seen so far (Greedy's path included)
                    beam = beam + [space.bits_of(key) for key, (ok, _) in self.measured.items() if ok]
                beam = sorted({space.key(b): b for b in beam}.values(), key=self._rank)[:k]
                trades, self.round = False, 0
                while True:
                    self.round += 1
                    active = [b for b in beam if self._can_improve(b, units)]
                    if not active:
                        break
                    feasible = self._screen_round(self._children(active, units, trades))
                    new = sorted({space.key(b): b for b in beam + feasible}.values(), key=self._rank)[:k]
                    if [space.key(b) for b in new] == [space.key(b) for b in beam]:
                        if trades or not s.trade_partners:
                            break
                        trades = True  # single lowerings are exhausted: try trades before ending the level
                        continue
                    beam, trades = new, False
                    ctx.evaluator.pin(*beam)
        return self.best or beam[0]

    def from_ilp(self, scores: str) -> dict[str, int]:
        """A proxy-scored integer program's answer (and everything it evaluated) as Beam's starting material."""
        from .sensitivity_ilp import ProxyILPSettings, SensitivityILP

        with self.ctx.in_phase("beam:ilp"):
            ilp = SensitivityILP(self.ctx, ProxyILPSettings(scores=scores, level="kind"))
            ilp.run()
        for row in ilp.trials.rows:
            bits = self.ctx.space.bits_of(row["key"])
            self.measured[row["key"]] = (bool(row["feasible"]), row["search_accuracy"])
            if row["feasible"]:
                self._keep_if_smallest(bits)
        return ilp.trials.best()

    # -- entry point ------------------------------------------------------------------------------
    def run(self) -> dict[str, int]:
        ctx = self.ctx
        start = fp32_bits(ctx.space)
        ctx.evaluator.pin(start)
        with ctx.in_phase("baseline"):
            d = ctx.evaluator.drift(start)
            self.fp32_minibatch = (d.correct, d.n)
        self.drifts[ctx.space.key(start)] = 0.0
        self.measured[ctx.space.key(start)] = (True, ctx.constraint.fp32_accuracy)
        if self.settings.method == "greedy":
            return self.greedy(start)[-1]
        return self.beam(start)

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


def rank_key(p: dict) -> tuple:
    """The rank gate's order of a round's children: moves that add no drift first (largest saving first), then the
    drift they add per MiB saved, ascending. (A ratio alone would rank a drift-lowering move later the more it saves.)"""
    score, saved = p["fields"]["gate_score"], max(p["saved_bytes"], 1) / MiB
    return (0, -saved, p["key"]) if score <= 0 else (1, score / saved, p["key"])


def run_aq4svit(ctx: SearchContext, settings: AQ4SViTSettings) -> MethodOutput:
    searcher = AQ4SViT(ctx, settings)
    final = searcher.run()
    extra = {"levels": list(settings.levels), "beam_width": settings.beam_width, "gate": searcher.gate.state(),
             "minibatch_slack": settings.minibatch_slack, "drift_aggregate": ctx.evaluator.drift_aggregate,
             "rank_keep": settings.keep if settings.gate == "rank" else None, "trade_partners": settings.trade_partners,
             "seed_greedy": settings.seed_greedy, "audit_gate": settings.audit_gate, "seed_ilp": getattr(settings, "seed_ilp", None)}
    return MethodOutput(final, searcher.pareto(), extra)


@dataclass
class AQ4SViTKindSettings(AQ4SViTSettings):
    """Ours, beyond the paper's hierarchy: a fourth level after the block level lowers one layer kind inside one block at
    a time (Q, K, V, the MLP's convolutions, ...); the drift gate screens the candidates this multiplies."""

    levels: tuple[str, ...] = setting(("network", "stage", "block", "kind"), Checked(check_levels, "a comma-separated list of "
                                      + ", ".join(LEVELS)), "hierarchy levels, in order (the paper's three, then kind)")


register_method("greedy", AQ4SViTSettings, table_file="pareto.csv", defaults={"method": "greedy"},
                summary="AQ4SViT Greedy: hierarchical lowering, one unit at a time, drift-gated",
                 display_name="AQ4SViT-Greedy", color="#2a9d8f", marker="o", peer=True, notebook_variant=True, order=20,
                family="as specified")(run_aq4svit)
register_method("beam", AQ4SViTSettings, table_file="pareto.csv", defaults={"method": "beam"},
                summary="AQ4SViT Beam: K configurations per level, trade moves, rank-gated",
                 display_name="AQ4SViT-Beam", color="#264653", marker="D", peer=True, notebook_variant=True, order=30,
                family="as specified")(run_aq4svit)


@dataclass
class AQ4SViTFromILPSettings(AQ4SViTSettings):
    """Ours: Beam starts from a proxy-scored integer program's repaired answer instead of from Greedy's path."""

    seed_greedy: bool = setting(False, Boolean(), "Beam: run Greedy first and seed each level with its state")
    seed_ilp: str = setting("fisher", Options(("fisher", "hessian", "drift")), "Beam: seed it with this proxy ILP's answer")


# variants of ours, labelled as such (issue 26 §2): the paper's hierarchy above stays the default, "as specified"
register_method("greedy-kind", AQ4SViTKindSettings, table_file="pareto.csv", defaults={"method": "greedy"},
                summary="ours: AQ4SViT Greedy with a fourth, layer-kind level after the block level, drift-gated",
                display_name="Greedy+kind (ours)", color="#76c893", marker="o", peer=True, order=21, family="ours")(run_aq4svit)
register_method("beam-kind", AQ4SViTKindSettings, table_file="pareto.csv", defaults={"method": "beam"},
                summary="ours: AQ4SViT Beam with a fourth, layer-kind level after the block level, rank-gated",
                display_name="Beam+kind (ours)", color="#1e6091", marker="D", peer=True, order=31, family="ours")(run_aq4svit)
register_method("beam-ilp", AQ4SViTFromILPSettings, table_file="pareto.csv", defaults={"method": "beam"},
                summary="ours: AQ4SViT Beam started from the Fisher-scored integer program's repaired answer",
                display_name="Beam from ILP (ours)", color="#52796f", marker="P", peer=True, order=32, family="ours")(run_aq4svit)
