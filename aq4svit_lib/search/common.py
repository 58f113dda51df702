"""What QSViT and AQ4SViT share: the accuracy constraint, the trace, timing per phase, the result.

Both methods evaluate every candidate through the same :class:`~aq4svit_lib.evaluate.Evaluator`,
so their times, evaluation counts and images forwarded compare like for like.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from ..decisions import at_least, exact, rational
from ..errors import UsageError
from ..evaluate import EvaluatorProtocol
from ..quant.config import QuantConfig, paper_notation
from ..quant.quantizers import FP32
from .results import ResultFolder, base_result
from .space import SearchSpace

#: Phases outside the search proper: the final report and the gate audit are not search cost.
UNTIMED_PHASES = ("final", "audit")


class SearchInterrupted(RuntimeError):
    """Raised after ``max_evaluations`` candidate evaluations (simulates a killed run)."""


def z_of(confidence: float) -> float:
    """One-sided normal quantile; validates ``confidence`` (0.5 <= confidence < 1)."""
    if not (0.5 <= confidence < 1):
        raise UsageError(f"confidence must be in [0.5, 1), got {confidence}")
    return NormalDist().inv_cdf(confidence)


def paired_variance(reference: np.ndarray, candidate: np.ndarray) -> Fraction:
    """Exact variance of the paired drop (fractions): (discordant / n - drop^2) / n, clipped at 0."""
    n = len(reference)
    drop = Fraction(int(reference.sum()) - int(candidate.sum()), n)
    discordant = Fraction(int((reference != candidate).sum()), n)
    return max(discordant - drop * drop, Fraction(0)) / n


def paired_drop(reference: np.ndarray, candidate: np.ndarray) -> tuple[float, float]:
    """(drop, standard error) of a paired accuracy difference from per-image hits (fractions).

    Both are measured on the same images, so the variance comes from the images on which exactly
    one of the two is right (McNemar): ``SE = sqrt((discordant/n - drop^2) / n)``.
    """
    n = len(reference)
    drop = float(reference.mean() - candidate.mean())
    discordant = float((reference != candidate).mean())
    return drop, math.sqrt(max(discordant - drop * drop, 0.0) / n)


@dataclass
class Constraint:
    """accuracy >= FP32 accuracy - delta (absolute points) or x (1 - delta/100) (relative), on one split.

    The one definition of "meets the constraint" is :meth:`accepts`: the count rule (:meth:`met`,
    which exact early rejection also uses) and, with ``confidence`` above 0.5, a paired margin:
    ``accuracy >= floor + z * SE`` with SE the paired standard error of the drop against FP32's
    per-image hits (``reference``). A search that keeps the smallest of many candidates passing on
    one split otherwise keeps the ones whose noise favoured them (see search/verify.py).
    """

    fp32_accuracy: float
    delta: float  # points (percent); the default is SearchSettings.delta's, declared there once
    relative: bool = False
    confidence: float = 0.5  # 0.5: the count rule alone
    reference: np.ndarray | None = field(default=None, repr=False, compare=False)  # FP32's per-image hits

    def __post_init__(self):
        if not self.delta > 0:
            raise UsageError(f"delta must be > 0 points, got {self.delta}")
        self.z = z_of(self.confidence)
        if self.z > 0 and self.reference is None:
            raise ValueError("a confidence margin needs FP32's per-image hits (reference)")

    @property
    def floor_exact(self) -> Fraction:
        """The floor as the exact rational it is: FP32's count over n, minus the decimal delta."""
        d, fp32 = exact(self.delta), rational(self.fp32_accuracy)
        return fp32 * (1 - d / 100) if self.relative else fp32 - d / 100

    @property
    def floor(self) -> float:
        return float(self.floor_exact)

    def met(self, correct: int, n: int) -> bool:
        """The count rule alone: necessary for :meth:`accepts`, so early rejection on it stays exact."""
        return at_least(correct, n, self.floor_exact)

    def allowed_drop_points(self) -> Fraction:
        """The drop the constraint allows, in points (exact)."""
        return 100 * (rational(self.fp32_accuracy) - self.floor_exact)

    def standard_error(self, r) -> float | None:
        """Paired standard error of ``r``'s drop (None without per-image hits)."""
        if self.reference is None:
            return None
        hits = r.hit_mask()
        if hits is None:
            return None
        return paired_drop(self.reference, hits)[1]

    def accepts(self, r) -> bool:
        """Does the evaluation ``r`` (an AccuracyResult on this constraint's split) meet the constraint?

        Counts and rationals throughout: accuracy - floor >= z * SE is tested as (accuracy - floor)^2 >= z^2 * var
        with the paired variance exact, so only the normal quantile z is a float."""
        if not r.complete or not self.met(r.correct, r.n):
            return False
        if self.z == 0:
            return True
        hits = r.hit_mask()
        assert hits is not None and self.reference is not None, "complete evaluations record per-image hits"
        return at_least(r.correct, r.n, self.floor_exact, Fraction(self.z * self.z) * paired_variance(self.reference, hits))


@dataclass
class SearchContext:
    method: str
    evaluator: EvaluatorProtocol  # engine.py's Evaluator, or a test's fake
    space: SearchSpace
    folder: ResultFolder | None
    constraint: Constraint
    max_evaluations: int | None = None
    progress: Any = None  # a tqdm bar (update(n)) or None
    seed: int = 0  # methods that draw at random seed from it
    counters: Counter = field(default_factory=Counter)
    phases: dict = field(default_factory=lambda: defaultdict(lambda: {"seconds": 0.0, "evaluations": 0, "images_forwarded": 0}))
    trace: list = field(default_factory=list)
    phase: str = ""
    started: float = field(default_factory=time.perf_counter)

    excluded: dict = field(default_factory=lambda: {"seconds": 0.0, "images_forwarded": 0, "replayed_seconds": 0.0,
                                                    "replayed_images": 0})  # untimed work

    @contextlib.contextmanager
    def in_phase(self, name: str):
        """Time a phase; an untimed phase nested in it (the gate audit) is not charged to it."""
        previous, self.phase = self.phase, name
        t0, img0 = time.perf_counter(), self.evaluator.counters["images_forwarded"]
        re0, ri0 = self.evaluator.replayed_seconds, self.evaluator.replayed_images
        ex0 = dict(self.excluded)
        try:
            yield
        finally:
            p = self.phases[name]
            seconds, images = time.perf_counter() - t0, self.evaluator.counters["images_forwarded"] - img0
            if name in UNTIMED_PHASES:
                self.excluded["seconds"] += seconds
                self.excluded["images_forwarded"] += images
            else:
                seconds -= self.excluded["seconds"] - ex0["seconds"]
                images -= self.excluded["images_forwarded"] - ex0["images_forwarded"]
            p["seconds"] += seconds
            p["images_forwarded"] += images
            if name in UNTIMED_PHASES:
                self.excluded["replayed_seconds"] += self.evaluator.replayed_seconds - re0
                self.excluded["replayed_images"] += self.evaluator.replayed_images - ri0
            self.phase = previous

    def tick(self) -> None:
        """Count one candidate evaluation; stop when the simulated-kill budget is spent."""
        self.counters["calls"] += 1
        self.phases[self.phase]["evaluations"] += 1
        if self.progress is not None:
            self.progress.update(1)
        if self.max_evaluations is not None and self.counters["calls"] > self.max_evaluations:
            raise SearchInterrupted(f"stopped after {self.max_evaluations} evaluations (max_evaluations)")

    def full_accuracy(self, bits: dict[str, int], floor: float | None = None):
        self.tick()
        self.counters["full"] += 1
        return self.evaluator.accuracy(bits, "search", floor=floor)

    def record(self, bits: dict[str, int], decision: str, seconds: float, **fields) -> dict:
        rec = {
            "index": len(self.trace),
            "phase": self.phase,
            "config": QuantConfig.from_layer_bits(bits, self.space.structure, self.space.scheme).to_dict(),
            "key": self.space.key(bits),
            "memory_bytes": self.space.memory_bytes(bits),
            "drift": None,
            "minibatch_accuracy": None,
            "search_accuracy": None,
            "decision": decision,
            "seconds": round(seconds, 4),
            **fields,
        }
        rec["mean_bits"] = mean_bits(bits, self.space)
        self.trace.append(rec)
        if self.folder is not None:
            self.folder.append_trace(rec)
        return rec

    # -- the final result ---------------------------------------------------------------------
    def finish(self, bits: dict[str, int], fp32_test: float, extra: dict | None = None) -> tuple[dict, QuantConfig]:
        ev, space = self.evaluator, self.space
        config = QuantConfig.from_layer_bits(bits, space.structure, space.scheme, model=ev.model.default_cfg.get("name"))
        with self.in_phase("final"):
            search = ev.accuracy(bits, "search")
            test = ev.accuracy(bits, "test")
            verify = ev.accuracy(bits, "verify") if "verify" in ev.splits else None
            fp32_v = ev.accuracy(fp32_bits(space), "verify") if verify is not None else None
            fp32_verify = fp32_v.accuracy if fp32_v is not None else None
            verified = (extra or {}).get("verify", {})
            # the drop's uncertainty is paired: both accuracies are measured on the same images (McNemar)
            test_se = _paired_se(ev.accuracy(fp32_bits(space), "test"), test)
            verify_se = _paired_se(fp32_v, verify) if verify is not None else None
            verify_rule = (Constraint(fp32_verify, self.constraint.delta, self.constraint.relative, verified.get("confidence", 0.5),
                                      fp32_v.hit_mask()) if fp32_v is not None and fp32_verify is not None else None)
            choice = verified.get("search_choice_key")
            if choice is not None and choice != space.key(bits):  # what the back-off avoided, measured on test
                verified["search_choice_test_accuracy"] = ev.accuracy(space.bits_of(choice), "test").accuracy
        memory = space.memory_bytes(bits)
        replayed = ev.replayed_seconds - self.excluded["replayed_seconds"]
        replayed_images = ev.replayed_images - self.excluded["replayed_images"]
        result = base_result(
            method=self.method,
            model=ev.model.default_cfg.get("name", ""),
            scheme=space.scheme.to_dict(),
            bits=list(space.bits),
            delta=float(self.constraint.delta),
            relative_delta=self.constraint.relative,
            seed=int(extra.pop("seed", 0)) if extra else 0,
            fp32={"search_accuracy": self.constraint.fp32_accuracy, "test_accuracy": fp32_test, "verify_accuracy": fp32_verify,
                  "bytes": space.fp32_bytes},
            final={
                "search_accuracy": search.accuracy,
                "test_accuracy": test.accuracy,
                "search_top5": search.top5,
                "test_top5": test.top5,
                "bytes": memory,
                "mean_bits": mean_bits(bits, space),
                "verify_accuracy": verify.accuracy if verify is not None else None,
                "meets_constraint": self.constraint.accepts(search),  # with the search margin, if any
                "search_standard_error": self.constraint.standard_error(search),
                "meets_constraint_verify": verify_rule.accepts(verify) if verify_rule is not None and verify is not None else None,
                "test_standard_error": test_se,
                "verify_standard_error": verify_se,
                "paper_notation": paper_notation(bits, space.structure),
            },
            floor=self.constraint.floor,
            memory_bytes=memory,
            fp32_bytes=space.fp32_bytes,
            saving_vs_fp32=1 - memory / space.fp32_bytes,
            # a resumed search replays a killed run's evaluations from its memo in no time: their original
            # seconds are added back, so the reported time is that of one whole search, not of the replay
            search_seconds=round(sum(p["seconds"] for k, p in self.phases.items() if k not in UNTIMED_PHASES) + replayed, 3),
            replayed_seconds=round(replayed, 3),
            wall_seconds=round(time.perf_counter() - self.started, 3),
            evaluations={k: int(self.counters[k]) for k in ("generated", "gated", "minibatch", "pruned_minibatch", "full", "verify")},
            # like its seconds: images another session forwarded for it (a killed run, a search sharing the memo) count
            images_forwarded=int(sum(p["images_forwarded"] for k, p in self.phases.items() if k not in UNTIMED_PHASES)) + replayed_images,
            replayed_images=int(replayed_images),
            phases={k: {kk: (round(vv, 3) if isinstance(vv, float) else vv) for kk, vv in v.items()} for k, v in self.phases.items()},
            splits={name: split.describe() for name, split in ev.splits.items() if name != "train"},
            memo=ev.memo.stats(),
            **(extra or {}),
        )
        if self.folder is not None:
            self.folder.write_result(result)
            self.folder.write_config(config)
        return result, config


def _paired_se(reference, candidate) -> float | None:
    """Paired (McNemar) standard error of the drop from ``reference`` to ``candidate`` on one split (fractions)."""
    a, b = (reference.hit_mask() if reference is not None else None), (candidate.hit_mask() if candidate is not None else None)
    return None if a is None or b is None else paired_drop(a, b)[1]


def decision_of(ctx: SearchContext, r, passed: bool, ok: str = "accepted") -> str:
    """The trace's word for a full evaluation: ``rejected_margin`` when only the confidence margin failed."""
    if passed:
        return ok
    if not r.complete:
        return "rejected_early"
    return "rejected_margin" if ctx.constraint.met(r.correct, r.n) else "rejected"


def mean_bits(bits: dict[str, int], space: SearchSpace) -> float:
    """Parameter-weighted mean bit width of the quantizable layers."""
    index = space.structure.layer_index
    total = sum(index[name].params for name in bits)
    return sum(index[name].params * b for name, b in bits.items()) / total


def pareto_front(df: pd.DataFrame, x: str = "memory_bytes", y: str = "search_accuracy") -> pd.Series:
    """Mask of rows not dominated by another (smaller or equal memory and higher or equal accuracy)."""
    order = df.sort_values([x, y], ascending=[True, False])
    best, mask = -1.0, {}
    for idx, row in order.iterrows():
        mask[idx] = row[y] > best
        best = max(best, row[y])
    return pd.Series(mask).reindex(df.index)


def fp32_bits(space: SearchSpace) -> dict[str, int]:
    return {layer.name: FP32 for layer in space.structure.layers}
