"""QSViT and AQ4SViT on a trained default model with a few hundred images (fast settings)."""

import json
import math
import time
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from aq4svit_lib.data import SplitSpec
from aq4svit_lib.errors import UsageError
from aq4svit_lib.models import create_model
from aq4svit_lib.search import SearchInterrupted, SearchSettings, read_trace, run_search, validate_result

SPEC = SplitSpec(search_size=300, minibatch_size=64, verify_size=300)
BITS = (32, 8, 4)  # QSViT: keeps Algorithm 1 short
DEEP = (32, 6, 4, 3, 2)  # AQ4SViT: deep enough that the gate and every level have work to do
MODEL = "sdtv3_tiny"


def search(method, out, **kw):
    kw.setdefault("bits", BITS if method == "qsvit" else DEEP)
    kw.setdefault("spec", SPEC)
    kw.setdefault("delta", 1.5)
    return run_search(method, MODEL, out=out, quiet=True, batch_size=200, **kw)


@pytest.fixture(scope="module")
def qsvit_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("qsvit") / "run"
    t0 = time.perf_counter()
    outcome = search("qsvit", out)
    return outcome, time.perf_counter() - t0, out


@pytest.fixture(scope="module")
def greedy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("greedy") / "run"
    return search("greedy", out), out


# -- QSViT --------------------------------------------------------------------------------------
def test_qsvit_sweep_has_one_row_per_group_and_bits(qsvit_run):
    outcome, _, _ = qsvit_run
    table = outcome.table
    groups = table[table.sweep == "group"]
    structure = create_model(MODEL).quant_structure()
    n_groups = sum(len(structure.kinds_of(b.name)) for b in structure.blocks)
    assert len(groups) == n_groups * 2
    assert not groups.duplicated(["block", "layer_kind", "bits"]).any()
    assert set(groups.bits) == {8, 4}
    assert len(table[table.sweep == "network"]) == 2
    assert len(table[table.sweep == "kind"]) == 2 * len({layer.kind for layer in structure.layers})
    fp32 = outcome.result["fp32"]["search_accuracy"]
    assert (groups["drop"] - (fp32 - groups.accuracy) * 100).abs().max() < 1e-9


def test_qsvit_base_settings_are_ordered(qsvit_run):
    r = qsvit_run[0].result
    assert set(r["bSettingL"]) == set(r["bSettingH"])
    assert all(r["bSettingL"][g] <= r["bSettingH"][g] for g in r["bSettingL"])
    assert any(r["bSettingL"][g] < 32 for g in r["bSettingL"])
    assert {"bSettingL", "bSettingH"} == set(r["base_settings"])


def test_qsvit_base_settings_follow_from_the_sweep(qsvit_run):
    outcome, _, out = qsvit_run
    table = pd.read_csv(out / "sensitivity.csv")
    groups = table[table.sweep == "group"]
    r = outcome.result
    for name, low in r["bSettingL"].items():
        block, kind = name.split(":")
        drops = groups[(groups.block == block) & (groups.layer_kind == kind)].set_index("bits")["drop"]
        expected = 32
        for bits in (8, 4):  # walk down while the group stays tolerant (drop < 5 points)
            if drops[bits] < 5.0:
                expected = bits
            else:
                break
        assert low == expected, name
        assert r["bSettingH"][name] == {32: 32, 8: 32, 4: 8}[expected]


def test_qsvit_final_config_meets_the_target_when_re_evaluated(qsvit_run):
    from aq4svit_lib.evaluate import Evaluator
    from aq4svit_lib.quant import QuantConfig

    outcome, _, out = qsvit_run
    r = outcome.result
    assert r["floor"] == pytest.approx(r["fp32"]["search_accuracy"] - r["delta"] / 100)
    from aq4svit_lib.data import load_splits

    ev = Evaluator(create_model(MODEL, checkpoint="default"), load_splits(spec=SPEC), quiet=True, hardest_first=())
    acc = ev.accuracy(QuantConfig.load(out / "config.json"), "search").accuracy
    assert acc == pytest.approx(r["final"]["search_accuracy"]) and acc >= r["floor"] - 1e-12


def test_qsvit_exploration_keeps_only_settings_meeting_the_target(qsvit_run):
    outcome, _, _ = qsvit_run
    floor = outcome.result["floor"]
    explored = pd.DataFrame(outcome.result["explored_settings"])
    assert len(explored) > 0
    z = NormalDist().inv_cdf(outcome.result["settings"]["search_confidence"])
    bar = floor + z * explored.search_standard_error.fillna(0.0) - 1e-12  # the constraint's one rule, margin included
    kept = explored.kept
    assert (explored.search_accuracy[kept] >= bar[kept]).all()
    assert explored[~kept].decision.isin(["rejected", "rejected_early", "rejected_margin"]).all()
    assert all(pd.isna(acc) or acc < b for acc, b in zip(explored.search_accuracy[~kept], bar[~kept], strict=True))


def test_qsvit_final_meets_target_and_saves_memory(qsvit_run):
    r = qsvit_run[0].result
    assert r["final"]["meets_constraint"] and r["final"]["search_accuracy"] >= r["floor"] - 1e-12
    assert 0 < r["saving_vs_fp32"] < 1 and r["memory_bytes"] < r["fp32_bytes"]
    assert r["evaluations"]["gated"] == 0 and r["evaluations"]["full"] == r["evaluations"]["generated"]
    assert set(r["final"]["paper_notation"]) == {"Stage-1", "Stage-2", "Stage-3", "Stage-4", "Head"}
    assert 0 < r["energy"]["saving_bit_aware"] < 1


def test_result_folder_follows_the_schema(qsvit_run):
    _, _, out = qsvit_run
    result = json.loads((out / "result.json").read_text())
    validate_result(result)
    for name in ("config.json", "trace.jsonl", "sensitivity.csv", "final.safetensors", "memo.sqlite"):
        assert (out / name).is_file()
    trace = read_trace(out / "trace.jsonl")
    assert len(trace) == result["evaluations"]["generated"]
    assert {"index", "phase", "config", "memory_bytes", "search_accuracy", "decision", "seconds"} <= set(trace.columns)
    with pytest.raises(ValueError):
        validate_result({k: v for k, v in result.items() if k != "evaluations"})


def test_qsvit_rerun_with_memo_replays_and_reports_the_original_time(qsvit_run):
    outcome, _, out = qsvit_run
    again = search("qsvit", out, resume=True)
    assert again.bits == outcome.bits
    assert again.result["final"] == outcome.result["final"] and again.result["evaluations"] == outcome.result["evaluations"]
    assert again.result["memo"]["hits"] > 0 and again.result["memo"]["writes"] == 0  # nothing re-evaluated
    # the replay takes almost no time; the reported search time and images add back what the evaluations first cost
    first, replay = outcome.result, again.result
    assert first["replayed_seconds"] == 0 and replay["replayed_seconds"] > 0
    assert first["replayed_images"] == 0 and replay["replayed_images"] == replay["images_forwarded"] == first["images_forwarded"]
    assert 0.5 * first["search_seconds"] <= replay["search_seconds"] <= 1.5 * first["search_seconds"]


# -- AQ4SViT ------------------------------------------------------------------------------------
def test_greedy_meets_the_constraint_and_beats_fp32(greedy_run):
    outcome, out = greedy_run
    r = outcome.result
    assert r["final"]["meets_constraint"] and r["saving_vs_fp32"] > 0.5
    assert {"greedy:network", "greedy:stage", "greedy:block"} <= set(r["phases"])  # every level of the hierarchy ran
    ev = r["evaluations"]
    assert ev["generated"] >= ev["gated"] + ev["minibatch"] and ev["minibatch"] >= ev["full"]
    pareto = pd.read_csv(out / "pareto.csv")
    assert pareto.on_front.any() and (pareto.search_accuracy >= r["floor"] - 1e-12).all()
    accepted = outcome.trace[outcome.trace.decision == "accepted"]
    assert accepted.memory_bytes.is_monotonic_decreasing


def test_gate_never_prunes_with_infinite_threshold(tmp_path):
    outcome = search("greedy", tmp_path / "inf", drift_threshold=math.inf)
    assert outcome.result["evaluations"]["gated"] == 0
    assert "pruned_drift" not in set(outcome.trace.decision)


def test_pruned_candidates_are_counted(tmp_path):
    outcome = search("greedy", tmp_path / "tiny_tau", drift_threshold=1e-12)
    r, trace = outcome.result, outcome.trace
    assert r["evaluations"]["gated"] == (trace.gate_score > 1e-12).sum() > 0
    assert (trace.decision == "pruned_drift").sum() == r["evaluations"]["gated"]
    assert (trace.gate_score - (trace.drift - trace.parent_drift)).abs().max() < 1e-12  # score = drift added by the move
    # only moves that add no drift (the head, the last layer, moves no membrane can see) get through a zero threshold
    passed = trace[trace.decision != "pruned_drift"]
    assert (passed.gate_score <= 1e-12).all() and "head" in set(passed.unit)


def test_audit_gate_fully_evaluates_pruned_candidates_outside_the_search_time(tmp_path):
    plain = search("greedy", tmp_path / "plain", drift_threshold=1e-12)
    audited = search("greedy", tmp_path / "audited", drift_threshold=1e-12, audit_gate=True)
    assert audited.bits == plain.bits and audited.result["evaluations"] == plain.result["evaluations"]
    assert audited.result["images_forwarded"] == plain.result["images_forwarded"]  # the audit is not search cost
    pruned = audited.trace[audited.trace.decision.str.startswith("pruned")]
    assert len(pruned) > 0 and pruned.audit_passed.notna().all()
    floor, n, z = audited.result["floor"], SPEC.search_size, NormalDist().inv_cdf(audited.result["settings"]["search_confidence"])
    for row in pruned.itertuples():  # the audit's verdict is the search's own rule: count rule and paired margin
        if row.audit_accuracy == row.audit_accuracy:  # complete (not rejected early)
            count_rule = round(row.audit_accuracy * n) >= math.ceil(floor * n - 1e-9)
            assert row.audit_passed == (count_rule and row.audit_accuracy >= floor + z * row.audit_standard_error - 1e-12)
    assert "audit" in audited.result["phases"] and "audit" not in plain.result["phases"]


def test_beam_is_never_larger_than_greedy_and_answers_its_smallest_feasible(tmp_path, greedy_run):
    outcome = search("beam", tmp_path / "beam", beam_width=2, gate="rank")
    r, trace = outcome.result, outcome.trace
    assert r["memory_bytes"] <= greedy_run[0].result["memory_bytes"]
    choice = r["verify"]["search_choice_bytes"]
    assert choice == trace[trace.decision == "accepted"].memory_bytes.min()  # Beam answers its smallest feasible config
    assert r["evaluations"]["gated"] == (trace.decision == "pruned_rank").sum() > 0


def test_verify_split_checks_the_answer_and_backs_off_to_a_larger_feasible_config(tmp_path, greedy_run):
    outcome, _ = greedy_run
    r = outcome.result
    v = r["verify"]
    assert v["split"] == "verify" and r["splits"]["verify"]["size"] == SPEC.verify_size
    assert r["final"]["meets_constraint_verify"] and r["final"]["meets_constraint"]
    tries = v["tries"]
    assert [t["passed"] for t in tries] == [False] * (len(tries) - 1) + [True]  # stop at the first that passes
    assert [t["memory_bytes"] for t in tries] == sorted(t["memory_bytes"] for t in tries)  # smallest first
    assert tries[0]["memory_bytes"] == v["search_choice_bytes"] and tries[-1]["memory_bytes"] == r["memory_bytes"]
    # a delta so small that only FP32 survives verification: the back-off ends there
    tight = search("greedy", tmp_path / "tight", delta=0.01)
    assert tight.result["verify"]["tries"][-1]["passed"]
    assert tight.result["memory_bytes"] >= tight.result["verify"]["search_choice_bytes"]


def test_verify_margin_is_the_paired_standard_error_and_only_raises_the_bar(tmp_path, greedy_run):
    from aq4svit_lib.search.verify import paired_drop, z_of

    outcome = search("greedy", tmp_path / "strict", verify_confidence=0.95)  # a margin on verify as well
    v = outcome.result["verify"]
    assert v["confidence"] == 0.95 and v["z"] == pytest.approx(1.6449, abs=1e-4)
    last = v["tries"][-1]
    if last["standard_error"] is not None:  # a quantized answer passed with the margin
        assert last["verify_accuracy"] >= v["floor"] + v["z"] * last["standard_error"]
    plain = greedy_run[0]  # the default: z = 0 on verify, the count rule alone
    pv = plain.result["verify"]
    assert pv["z"] == 0 and all(t["passed"] == (t["verify_accuracy"] is not None and t["verify_accuracy"] >= pv["floor"] - 1e-12)
                                for t in pv["tries"])  # the count rule alone
    assert plain.result["memory_bytes"] <= outcome.result["memory_bytes"]  # the margin never admits a smaller answer
    # paired statistics on hand-made hits: 10 images, reference right on 9, candidate on 7, discordant on 4
    ref = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0], dtype=bool)
    cand = np.array([1, 1, 1, 1, 1, 0, 0, 0, 1, 1], dtype=bool)
    drop, se = paired_drop(ref, cand)
    assert drop == pytest.approx(0.2) and se == pytest.approx(math.sqrt((0.4 - 0.04) / 10))
    with pytest.raises(UsageError, match="confidence"):
        z_of(1.0)


def test_search_margin_is_one_rule_for_every_decision(greedy_run):
    from aq4svit_lib.evaluate.engine import AccuracyResult
    from aq4svit_lib.search.common import Constraint

    outcome = greedy_run[0]  # the default: a 95 % margin on search
    r, trace = outcome.result, outcome.trace
    z, floor = NormalDist().inv_cdf(r["settings"]["search_confidence"]), r["floor"]
    full = trace[trace.decision.isin(["accepted", "rejected", "rejected_margin"])]
    assert len(full) > 0 and full.search_standard_error.notna().all()
    for row in full.itertuples():  # accepted exactly when accuracy >= floor + z * SE (and the count rule holds)
        assert (row.decision == "accepted") == (row.search_accuracy >= floor + z * row.search_standard_error - 1e-12)
    assert r["final"]["meets_constraint"] and r["settings"]["search_confidence"] == SearchSettings().search_confidence > 0.5
    # the rule on hand-made hits: FP32 right on 9 of 10 images, a candidate on 8 (one discordant pair less)
    ref = np.array([1] * 9 + [0], dtype=bool)

    def result(hits):
        h = np.array(hits, dtype=bool)
        return AccuracyResult("search", 10, int(h.sum()), int(h.sum()), 10, True, None, None, hits=np.packbits(h).tobytes().hex())

    cand = result([1] * 8 + [0, 0])  # drop 0.1, discordant 0.1: SE = sqrt((0.1 - 0.01) / 10) = 0.0949
    assert Constraint(0.9, delta=10.0, confidence=0.5, reference=ref).accepts(cand)  # count rule: 0.8 >= 0.8
    assert not Constraint(0.9, delta=10.0, confidence=0.95, reference=ref).accepts(cand)  # 0.8 < 0.8 + 1.645 * 0.0949
    assert Constraint(0.9, delta=30.0, confidence=0.95, reference=ref).accepts(cand)  # 0.8 >= 0.6 + 0.156
    assert Constraint(0.9, delta=10.0, confidence=0.95, reference=ref).standard_error(cand) == pytest.approx(math.sqrt(0.009))
    with pytest.raises(ValueError, match="reference"):
        Constraint(0.9, 1.5, confidence=0.9)


def test_resume_after_a_kill_gives_the_identical_result(tmp_path, greedy_run):
    reference = greedy_run[0]
    out = tmp_path / "killed"
    with pytest.raises(SearchInterrupted):
        search("greedy", out, max_evaluations=5)
    assert not (out / "result.json").exists() and len(read_trace(out / "trace.jsonl")) > 0
    with pytest.raises(UsageError, match="--resume"):
        search("greedy", out)
    with pytest.raises(UsageError, match=r"other settings \(delta: 1.5 -> 1.0"):  # a resume must not become another run
        search("greedy", out, resume=True, delta=1.0)
    resumed = search("greedy", out, resume=True)
    assert resumed.bits == reference.bits
    for key in ("final", "evaluations", "memory_bytes", "fp32"):
        assert resumed.result[key] == reference.result[key]


def test_same_seed_gives_the_same_result_json(tmp_path, greedy_run):
    again = search("greedy", tmp_path / "again")
    strip = lambda r: {k: v for k, v in r.items() if k not in ("search_seconds", "wall_seconds", "phases", "memo", "splits")}
    assert strip(again.result) == strip(greedy_run[0].result)


@pytest.mark.parametrize("kwargs,needle", [
    ({"beam_width": 0}, "--beam-width"),
    ({"drift_threshold": -1.0}, "--drift-threshold"),
    ({"levels": ("network", "layer")}, "unknown level"),
    ({"delta": 0}, "delta"),
    ({"bits": ()}, "empty"),
    ({"bits": (32, 17)}, "not allowed"),
    ({"spec": SplitSpec(search_size=100_000)}, "cannot draw"),
    ({"spec": SplitSpec(search_size=57_000, verify_size=3000)}, "nothing would be left"),
    ({"gate": "sometimes"}, "--gate .* must be one of auto, threshold, rank, off"),
    ({"trade_partners": -1}, "--trade-partners"),
])
def test_bad_arguments_are_clear_errors_and_write_nothing(tmp_path, kwargs, needle):
    from aq4svit_lib.errors import Aq4svitError

    out = tmp_path / "bad"
    with pytest.raises(Aq4svitError, match=needle):
        search("beam", out, **kwargs)
    assert not out.exists()


def test_unknown_method_is_refused(tmp_path):
    with pytest.raises(UsageError, match="valid methods: .*(greedy|beam|qsvit).*(greedy|beam|qsvit).*(greedy|beam|qsvit)"):
        search("greddy", tmp_path / "x")
