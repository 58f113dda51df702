"""Every accept / reject decision compares counts (issue: decisions that do not depend on rounding), tested at the
exact threshold of each rule."""

from collections import Counter
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from aq4svit_lib.decisions import drop_below, drop_within, floor_required, rational, required_correct
from aq4svit_lib.evaluate.early_rejection import passes
from aq4svit_lib.evaluate.executor import SerialExecutor
from aq4svit_lib.models import create_model
from aq4svit_lib.quant import MemoryModel
from aq4svit_lib.search import AQ4SViT, AQ4SViTSettings, Constraint, QSViT, QSViTSettings, SearchContext, SearchSpace
from aq4svit_lib.search.aq4svit import rank_key


@pytest.fixture(scope="module")
def space():
    with torch.device("meta"):
        model = create_model("sdtv3_tiny")
    return SearchSpace(model.quant_structure(), MemoryModel(model), (32, 8, 4, 2))


def test_an_exact_five_point_drop_is_not_below_five_for_any_fp32_count():
    n = 2000
    float_says_below = 0
    for fp32 in range(100, n + 1):
        correct = fp32 - 100  # exactly 5.00 points
        assert not drop_below(fp32, correct, n, 5.0) and drop_within(fp32, correct, n, 5.0)
        assert drop_below(fp32, correct + 1, n, 5.0) and not drop_within(fp32, correct - 1, n, 5.0)
        float_says_below += (fp32 / n - correct / n) * 100 < 5.0  # the old rule
    assert float_says_below > 0, "the float rule errs at the boundary for some counts (why the helper exists)"


def test_required_counts_are_exact_at_decimal_deltas():
    assert required_correct(1803, 2000, 1.5) == 1773  # 1803 - 30
    assert required_correct(4425 + 75, 5000, 1.5) == 4425
    assert required_correct(1000, 2000, 10, relative=True) == 900
    assert floor_required(0.885, 5000) == 4425  # 0.885 * 5000 = 4425.000000000001 in floats
    assert rational(1803 / 2000 - 0.015) == Fraction(1773, 2000)


@pytest.mark.parametrize("relative", [False, True])
def test_constraint_count_rule_at_the_exact_floor(relative):
    c = Constraint(1800 / 2000, 1.5 if not relative else 5.0, relative)
    need = 1770 if not relative else 1710
    assert c.met(need, 2000) and not c.met(need - 1, 2000)
    assert passes(need, 2000, c.floor) and not passes(need - 1, 2000, c.floor)  # early rejection agrees


def test_the_margin_is_decided_in_squares_at_its_boundary():
    n = 400
    ref = np.ones(n, dtype=bool)
    ref[:40] = False  # FP32: 360 of 400
    cand = ref.copy()
    cand[40:52] = False  # 12 discordant images, drop 3 % = 12 / 400
    # floor 2 % below FP32 -> excess of the candidate 1 %-... choose z so that z * SE equals the excess exactly
    c = Constraint(360 / 400, 4.0, confidence=0.5)
    r = SimpleNamespace(complete=True, correct=int(cand.sum()), n=n, hit_mask=lambda: cand)
    var = (Fraction(12, n) - Fraction(12, n) ** 2) / n
    excess = Fraction(348, n) - (Fraction(360, n) - Fraction(4, 100))
    z = float(excess / var ** 0.5 * Fraction(1))  # the margin's z at which the decision flips
    below = Constraint(360 / 400, 4.0, confidence=0.5, reference=ref)
    below.z = z * 0.999
    above = Constraint(360 / 400, 4.0, confidence=0.5, reference=ref)
    above.z = z * 1.001
    assert c.accepts(r) and below.accepts(r) and not above.accepts(r)


def _searcher(space, n_mb=200, fp32_mb=190, slack=3.0):
    ctx = SearchContext("greedy", SimpleNamespace(counters=Counter(), executor=SerialExecutor()), space, None, Constraint(0.9, 1.5))
    s = AQ4SViT(ctx, AQ4SViTSettings("greedy", minibatch_slack=slack))
    s.fp32_minibatch = (fp32_mb, n_mb)
    return s


def test_minibatch_check_at_exactly_delta_plus_slack(space):
    s = _searcher(space)  # 1.5 + 3 = 4.5 points of 200 images = 9 images exactly
    assert not s._fails_minibatch(190 - 9, 200) and s._fails_minibatch(190 - 10, 200)


def test_rank_gate_orders_drift_lowering_moves_first_and_larger_savings_first():
    mib = 1 << 20
    cands = [{"fields": {"gate_score": -0.01}, "saved_bytes": 1 * mib, "key": "a"},
             {"fields": {"gate_score": -0.01}, "saved_bytes": 10 * mib, "key": "b"},
             {"fields": {"gate_score": 0.02}, "saved_bytes": 10 * mib, "key": "c"},
             {"fields": {"gate_score": 0.02}, "saved_bytes": 1 * mib, "key": "d"}]
    assert [c["key"] for c in sorted(cands, key=rank_key)] == ["b", "a", "c", "d"]


def test_a_pruned_candidate_is_not_remembered_as_measured(space):
    s = _searcher(space)
    s.ctx.trace, s.ctx.record = [], lambda bits, decision, seconds, **f: s.ctx.trace.append(decision)
    bits = space.lower(space.fp32, space.units("network")[0])
    cand = {"bits": bits, "key": space.key(bits), "t0": 0.0, "minibatch": (190, 200), "minibatch_accuracy": 0.95,
            "fields": {"gate_score": 0.0}}
    assert s.decide(cand, pruned_by="rank") is False
    assert space.key(bits) not in s.measured, "a rank prune is a decision in context, not a fact about the configuration"


def test_qsvit_base_settings_decide_on_counts(space):
    """A group whose drop is exactly the tolerance (5.00 points) is not tolerant, whatever its float drop says."""
    n, fp32 = 2000, 1806
    ctx = SearchContext("qsvit", None, space, None, Constraint(fp32 / n, 1.5))
    q = QSViT(ctx, QSViTSettings(tolerance=5.0))
    rows = []
    for g in q.groups:
        block, kind = g.name.split(":")
        for b, correct in ((8, fp32), (4, fp32 - 100), (2, fp32 - 400)):
            acc = correct / n
            rows.append({"sweep": "group", "block": block, "layer_kind": kind, "bits": b, "accuracy": acc,
                         "drop": 4.999999999999993, "correct": correct, "n": n})
    low, high, _ = q.base_settings(pd.DataFrame(rows))
    assert set(low.values()) == {8} and set(high.values()) == {32}


def test_accuracies_do_not_depend_on_the_thread_count(small_splits):
    """Memo keys do not carry the torch thread count: a 1-thread worker and a 2-thread process give the same hits."""
    from aq4svit_lib.evaluate import Evaluator

    model = create_model("sdtv2_tiny", checkpoint="default")
    before = torch.get_num_threads()
    out = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with Evaluator(model, {"search": small_splits["search"]}, quiet=True) as ev:
                configs = [{}, {layer.name: 3 for layer in ev.structure.layers}, {layer.name: 2 for layer in ev.structure.layers}]
                out[threads] = [(r.correct, r.hits) for r in (ev.accuracy(c, "search") for c in configs)]
    finally:
        torch.set_num_threads(before)
    assert out[1] == out[2]
