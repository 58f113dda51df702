"""The field's gradient proxies (evaluate/curvature.py) and the proxy-scored integer programs (issue 26 §1)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from aq4svit_lib.data import SplitSpec
from aq4svit_lib.evaluate import curvature

SPEC = SplitSpec(search_size=120, minibatch_size=32, verify_size=120, test_size=200)  # small: CI time


def _toy(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    x, y = torch.randn(24, 5), torch.randint(0, 3, (24,))
    return model, {"0": model[0].weight, "2": model[2].weight}, [(x, y)]


def test_fisher_with_one_image_per_pass_is_the_mean_squared_per_image_gradient():
    model, weights, batches = _toy()
    got = curvature.fisher_diagonal(model, weights, batches, micro=1)
    assert all(w.requires_grad and w.grad is None for w in weights.values())  # as they were, no gradient left behind
    x, y = batches[0]
    want = {k: torch.zeros_like(w, dtype=torch.float64) for k, w in weights.items()}
    for i in range(len(x)):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        for k, w in weights.items():
            want[k] += w.grad.double() ** 2 / len(x)
    for k in weights:
        torch.testing.assert_close(got.fisher[k], want[k])
    assert (got.images_forwarded, got.images_backpropagated) == (24, 24)


def test_hutchinson_trace_converges_to_the_exact_hessian_trace():
    model, weights, batches = _toy(1)
    x, y = batches[0]
    exact = {}
    for k, w in weights.items():
        def loss_of(v, k=k, w=w):
            saved = w.data
            params = dict(model.named_parameters())
            name = f"{k}.weight"
            out = torch.func.functional_call(model, {**params, name: v}, (x,))
            w.data = saved
            return F.cross_entropy(out, y)
        h = torch.autograd.functional.hessian(loss_of, w.detach().clone())
        exact[k] = float(h.reshape(w.numel(), w.numel()).diagonal().sum())
    est = curvature.hessian_trace(model, weights, batches, probes=600, micro=8, seed=3)
    for k in weights:
        assert est.trace[k] == pytest.approx(exact[k], rel=0.15), (k, est.trace[k], exact[k])
    assert est.images_backpropagated == 2 * est.images_forwarded == 2 * 600 * 24


def test_cost_weights_the_squared_error_by_the_curvature():
    c = curvature.Curvature("fisher", fisher={"a": torch.tensor([[2.0, 0.0]], dtype=torch.float64)})
    assert c.cost("a", torch.tensor([[3.0, 5.0]])) == pytest.approx(0.5 * 2 * 9)
    h = curvature.Curvature("hessian", trace={"a": 4.0, "b": -4.0})
    assert h.cost("a", torch.tensor([[3.0, 4.0]])) == pytest.approx(4.0 / 2 * 25)
    # a negative trace estimate is a cost of its magnitude, never a predicted gain from lowering the layer
    assert h.cost("b", torch.tensor([[3.0, 4.0]])) == h.cost("a", torch.tensor([[3.0, 4.0]]))


def test_gradients_flow_through_the_spiking_surrogate_and_double_backward_works():
    from aq4svit_lib.data import load_splits
    from aq4svit_lib.models import create_model

    model = create_model("sdtv3_tiny", checkpoint="default").eval()
    split = load_splits(spec=SPEC)["minibatch"]
    layers = [layer.name for layer in model.quant_structure().layers][:6]
    modules = dict(model.named_modules())
    weights = {name: modules[name].weight for name in layers}
    fisher = curvature.fisher_diagonal(model, weights, split.batches(16), micro=16)
    assert all(torch.isfinite(f).all() and (f >= 0).all() for f in fisher.fisher.values())
    assert sum(float(f.sum()) for f in fisher.fisher.values()) > 0  # surrogate gradients reach the weights
    hess = curvature.hessian_trace(model, weights, split.batches(16), probes=2, micro=16)
    assert all(torch.isfinite(torch.tensor(t)) for t in hess.trace.values()) and any(t != 0 for t in hess.trace.values())


@pytest.mark.parametrize("method", ["fisher-ilp", "hessian-ilp"])
def test_a_proxy_ilp_spends_no_full_evaluation_on_scoring_and_meets_the_constraint(method):
    from aq4svit_lib.search import run_search

    out = run_search(method, "sdtv3_tiny", spec=SPEC, delta=5.0, bits=(32, 8, 4, 2), level="stage", budgets=8,
                     probes=2, export=False)
    r = out.result
    scoring = r["phases"][f"scores:{method.split('-')[0]}"]
    assert scoring["evaluations"] == 0 and scoring["images_forwarded"] > 0
    assert r["images_backpropagated"] >= SPEC.minibatch_size
    assert r["evaluations"]["full"] == sum(1 for d in out.trace.decision if d in ("accepted", "rejected", "rejected_margin",
                                                                                   "rejected_early"))
    assert r["final"]["meets_constraint"] and r["saving_vs_fp32"] > 0
    # HAWQ-V3's sweep over byte budgets: the predicted front reaches from the all-2-bit network to FP32 whatever the
    # scores' scale (a sweep over score budgets missed the middle of the Hessian front on sdtv2_tiny)
    front = out.table
    assert "bytes" in set(front.budget_on) and set(front.budget_on) <= {"bytes", "score"}
    assert front.memory_bytes.max() == r["fp32_bytes"] and front.saving_vs_fp32.max() > 0.8
    assert front.memory_bytes.is_monotonic_increasing and len(front) >= 4


def test_the_drift_ilp_holds_a_unit_the_drift_cannot_see_at_widths_the_minibatch_vouches_for():
    """Drift reads membranes after a layer: the head (no neuron downstream) drifts by exactly 0 at every width. The program
    may put it only where its single-unit minibatch forward gets no fewer images right than FP32's (integer counts)."""
    from aq4svit_lib.search import run_search

    out = run_search("drift-ilp", "sdtv3_tiny", spec=SPEC, delta=5.0, bits=(32, 8, 4, 2), level="stage", budgets=8, export=False)
    held = out.result["held_units"]
    assert list(held) == ["head"]  # every other stage has neurons after its layers
    scored = out.trace[(out.trace.decision == "scored") & (out.trace.unit == "head")]
    assert (scored.drift == 0).all() and len(scored) == 3
    width = {int(key.split(",")[-1]): acc for key, acc in zip(scored.key, scored.minibatch_accuracy, strict=True)}  # head: last layer
    allowed, refused = [width[b] for b in held["head"] if b != 32], [width[b] for b in width if b not in held["head"]]
    assert held["head"][0] == 32 and refused, "2 bits on the head costs minibatch images"
    assert not allowed or min(allowed) > max(refused)  # allowed: >= FP32's count; refused: < it
    assert all(b in held["head"] for name, b in out.bits.items() if name.startswith("head"))


def test_narrowing_the_budget_never_answers_larger_and_costs_at_most_its_steps():
    """After the bisection over the grid's solutions, a bisection over the budget between the answer and the infeasible
    solution below it: the answer can only get smaller, each step one evaluation at most."""
    from aq4svit_lib.search import run_search

    kw = dict(spec=SPEC, delta=3.0, bits=(32, 8, 4, 3, 2), level="block", budgets=4, repair_steps=0, export=False)
    coarse = run_search("fisher-ilp", "sdtv3_tiny", narrow_steps=0, **kw)
    narrowed = run_search("fisher-ilp", "sdtv3_tiny", narrow_steps=4, **kw)
    # four budgets per grid leave a wide bracket here (917 928 -> 546 784 bytes when this test was written)
    assert narrowed.result["memory_bytes"] < coarse.result["memory_bytes"]
    extra = narrowed.result["evaluations"]["full"] - coarse.result["evaluations"]["full"]
    assert 0 < extra <= 4 and extra == (narrowed.trace.phase == "ilp:narrow").sum()
    assert narrowed.result["final"]["meets_constraint"]
