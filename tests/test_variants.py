"""Variants of AQ4SViT beyond the paper, labelled as ours (issue 26 §2): a layer-kind level, Beam from a proxy ILP."""

from __future__ import annotations

from aq4svit_lib.data import SplitSpec
from aq4svit_lib.search import get_method, run_search

SPEC = SplitSpec(search_size=120, minibatch_size=32, verify_size=120, test_size=200)  # small: CI time


def test_variants_are_registered_as_ours_and_leave_the_paper_default_alone():
    assert get_method("greedy").make_settings().levels == ("network", "stage", "block")  # as specified
    assert get_method("greedy-kind").make_settings().levels == ("network", "stage", "block", "kind")
    assert "ours" in get_method("beam-kind").display_name and "ours" in get_method("beam-ilp").display_name
    families = {m: get_method(m).family for m in ("qsvit", "greedy", "beam", "greedy-kind", "beam-kind", "beam-ilp", "fisher-ilp", "optuna")}
    assert families == {"qsvit": "as specified", "greedy": "as specified", "beam": "as specified", "greedy-kind": "ours",
                        "beam-kind": "ours", "beam-ilp": "ours", "fisher-ilp": "field", "optuna": "field"}
    assert all(get_method(m).peer for m in families)  # all compared in notebook 07


def test_greedy_kind_lowers_layer_kinds_inside_blocks_through_the_gate():
    out = run_search("greedy-kind", "sdtv3_tiny", spec=SPEC, delta=5.0, bits=(32, 4, 2), export=False)
    kind = out.trace[out.trace.phase == "greedy:kind"]
    assert len(kind) > 0 and kind.unit.str.contains(":").all()  # units such as block3.0:q
    assert set(kind.decision) & {"accepted", "rejected", "pruned_drift", "pruned_minibatch", "rejected_early", "rejected_margin"}
    base = run_search("greedy", "sdtv3_tiny", spec=SPEC, delta=5.0, bits=(32, 4, 2), export=False)
    assert out.result["memory_bytes"] <= base.result["memory_bytes"]  # a fourth level only lowers further
    assert out.result["final"]["meets_constraint"]


def test_beam_from_ilp_starts_from_the_programs_answer():
    out = run_search("beam-ilp", "sdtv3_tiny", spec=SPEC, delta=5.0, bits=(32, 8, 4, 2), levels=("network", "stage"),
                     beam_width=2, export=False)
    r = out.result
    assert "beam:ilp" in r["phases"] and r["phases"]["beam:ilp"]["images_forwarded"] > 0
    ilp = out.trace[out.trace.sweep.isin(["front", "refine"])]  # the program's evaluations (their phases: ilp:*)
    feasible = ilp[ilp.decision == "accepted"]
    assert len(ilp) > 0 and not out.trace.phase.str.startswith("beam:greedy").any()  # seeded by the ILP, not by Greedy
    if len(feasible):
        assert r["memory_bytes"] <= feasible.memory_bytes.min()  # Beam only improves on the ILP's feasible answer
    assert r["final"]["meets_constraint"]
