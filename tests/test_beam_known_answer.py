"""Greedy vs Beam on a search problem whose optimum is known by brute force.

The model structure and memory accounting are real (sdtv3_tiny, built on the meta device); the
accuracy of a configuration is an additive function of its per-stage widths, so every
configuration's feasibility is known exactly and the smallest feasible one is found by
enumerating all of them. The costs are chosen so that Greedy's fixed visiting order (largest
stage first) spends the whole budget on the largest stage: the optimum needs a *trade* (raise one
stage, lower another), which is what makes Beam the wider search.
"""

import itertools
from collections import Counter
from collections.abc import Iterable

import numpy as np
import pytest
import torch

from aq4svit_lib.data.splits import Split
from aq4svit_lib.evaluate import AccuracyResult, EvaluatorProtocol
from aq4svit_lib.evaluate.drift import DriftResult
from aq4svit_lib.evaluate.executor import Request, SerialExecutor
from aq4svit_lib.evaluate.memo import InMemoryMemo
from aq4svit_lib.models import create_model
from aq4svit_lib.quant import MemoryModel
from aq4svit_lib.quant.apply import WeightQuantizer
from aq4svit_lib.quant.config import QuantConfig
from aq4svit_lib.quant.quantizers import QuantScheme
from aq4svit_lib.search import AQ4SViT, AQ4SViTSettings, Constraint, SearchContext, SearchSpace

BITS = (32, 8, 4, 2)
N = 10_000  # images of the synthetic search split: accuracies are exact multiples of 1/N
with torch.device("meta"):
    MODEL = create_model("sdtv3_tiny")  # structure and memory only: no weights are ever read
#: a search split of N images that are never read (accuracy is computed, not measured)
SEARCH = Split("synthetic", "search", "none", np.arange(N), "additive", lambda indices, batch_size: iter(()),
               lambda indices: torch.zeros(len(indices), dtype=torch.long))


class AdditiveEvaluator:
    """accuracy(config) = 0.9 - sum of per-stage losses; drift = the same sum (a perfect proxy).

    Stands in for the engine's Evaluator: it implements EvaluatorProtocol (see ``run``, and
    tests/test_protocols.py, which compares its methods' parameters with the protocol's).
    """

    def __init__(self, space: SearchSpace, loss: dict[tuple[str, int], float]):
        self.space, self.loss = space, loss
        self.units = space.units("stage")
        self.counters: Counter = Counter()
        self.splits = {"search": SEARCH}
        self.calls = 0
        self.replayed_seconds = 0.0  # the engine's attributes: nothing replayed from a memo here
        self.replayed_images = 0
        self.executor = SerialExecutor()  # the engine's attribute: everything computed here, on demand
        self.memo = InMemoryMemo()  # never written: nothing is measured
        self.model = MODEL
        self.structure = space.structure
        self.drift_aggregate, self.drift_split, self.batch_size = "mean", "minibatch", 256
        self.quantizer = WeightQuantizer(MODEL, space.scheme)

    def _loss(self, bits: dict[str, int]) -> float:
        return sum(self.loss.get((u.name, self.space.unit_bits(bits, u)), 0.0) for u in self.units)

    def drift(self, config: QuantConfig | dict[str, int]) -> DriftResult:
        loss = self._loss(self.resolve(config)[0])
        return DriftResult(loss, loss, 0.0, {}, round((0.9 - loss) * N), 0, N)

    def accuracy(self, config: QuantConfig | dict[str, int], split: str = "search", floor: float | None = None) -> AccuracyResult:
        self.calls += 1
        correct = round((0.9 - self._loss(self.resolve(config)[0])) * N)
        passed = None if floor is None else correct >= floor * N - 1e-9
        return AccuracyResult(split, N, correct, 0, N, True, floor, passed)

    def pin(self, *configs: QuantConfig | dict[str, int]) -> None:
        pass

    def prefetch(self, requests: Iterable[Request]) -> int:
        return 0  # serial: nothing ahead of time (as the engine)

    def split(self, name: str) -> Split:
        return self.splits[name]

    def resolve(self, config: QuantConfig | dict[str, int]) -> tuple[dict[str, int], QuantScheme]:
        assert isinstance(config, dict), "the searches pass per-layer bits"
        return config, self.space.scheme

    def stats(self) -> dict:
        return dict(self.counters)


@pytest.fixture(scope="module")
def space():
    return SearchSpace(MODEL.quant_structure(), MemoryModel(MODEL), BITS)


def losses(space):
    """The largest stage is cheap to take to 4 bits and dear to 2; the others the reverse. Budget: 1 point."""
    units = sorted(space.units("stage"), key=lambda u: -space.unit_fp32_bytes(u))
    big, rest = units[0].name, [u.name for u in units[1:]]
    loss = {(big, 4): 0.004, (big, 2): 0.009}  # 2 bits for the big stage uses 0.9 of the 1.0 budget
    for name in rest:
        loss[(name, 4)] = 0.002
        loss[(name, 2)] = 0.02
    return loss, big


def run(space, loss, method, **kw):
    ev: EvaluatorProtocol = AdditiveEvaluator(space, loss)  # mypy checks the fake against the protocol
    ctx = SearchContext(method, ev, space, None, Constraint(0.9, delta=1.0))
    searcher = AQ4SViT(ctx, AQ4SViTSettings(method, ("network", "stage"), **kw))
    searcher.fp32_minibatch = (round(0.9 * N), N)  # FP32 (correct, n) on the minibatch
    bits = searcher.greedy(space.fp32)[-1] if method == "greedy" else searcher.beam(space.fp32)
    return bits, ctx


def optimum(space, loss):
    units = space.units("stage")
    best = None
    for combo in itertools.product(BITS, repeat=len(units)):
        bits = dict(space.fp32)
        for u, b in zip(units, combo, strict=True):
            bits = space.set_unit(bits, u, b)
        if round((0.9 - sum(loss.get((u.name, b), 0.0) for u, b in zip(units, combo, strict=True))) * N) >= round(0.89 * N):
            m = space.memory_bytes(bits)
            best = m if best is None else min(best, m)
    return best


def test_greedy_is_trapped_and_beam_finds_the_optimum(space):
    loss, _ = losses(space)
    best = optimum(space, loss)
    greedy, _ = run(space, loss, "greedy", gate="off")
    assert space.memory_bytes(greedy) > best  # the trap: Greedy spent the budget on the big stage
    for k in (2, 3):
        beam, _ = run(space, loss, "beam", beam_width=k, gate="off")
        assert space.memory_bytes(beam) == best, k  # Beam reaches the exact optimum of the instance


def test_trade_moves_are_what_frees_a_width_one_beam(space):
    loss, _ = losses(space)
    best = optimum(space, loss)
    greedy, _ = run(space, loss, "greedy", gate="off")
    stuck, _ = run(space, loss, "beam", beam_width=1, gate="off", trade_partners=0)
    assert space.memory_bytes(stuck) == space.memory_bytes(greedy) > best  # no width, no trades: Greedy's answer
    freed, ctx = run(space, loss, "beam", beam_width=1, gate="off")
    assert space.memory_bytes(freed) == best
    assert any("/" in r["unit"] for r in ctx.trace if r["decision"] == "accepted")  # through an accepted trade


def test_greedy_with_the_threshold_gate_keeps_its_answer_here(space):
    loss, _ = losses(space)
    plain, _ = run(space, loss, "greedy", gate="off")
    gated, ctx = run(space, loss, "greedy")
    assert gated == plain  # drift is a perfect proxy here: whatever the gate prunes would have failed


def test_beam_is_never_larger_than_greedy(space):
    loss, _ = losses(space)
    greedy, _ = run(space, loss, "greedy")
    for kw in ({"trade_partners": 0}, {"gate": "rank", "rank_keep": 2}, {"gate": "threshold"}, {"gate": "off"}):
        beam, _ = run(space, loss, "beam", beam_width=2, **kw)
        assert space.memory_bytes(beam) <= space.memory_bytes(greedy), kw


def test_rank_gate_fully_evaluates_at_most_m_children_per_round(space):
    loss, _ = losses(space)
    _, ctx = run(space, loss, "beam", beam_width=2, gate="rank", rank_keep=1, seed_greedy=False)
    rounds: Counter = Counter()
    for r in ctx.trace:
        if r["decision"] in ("accepted", "rejected", "rejected_early"):
            rounds[(r["phase"], r["round"])] += 1
    assert rounds and max(rounds.values()) == 1
    ranked_out = sum(1 for r in ctx.trace if r["decision"] == "pruned_rank")
    assert ranked_out > 0 and ctx.counters["gated"] == ranked_out
