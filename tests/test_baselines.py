"""The peer baselines: sensitivity + ILP (exact), Optuna NSGA-II and random search, under one engine."""

import itertools

import numpy as np
import pytest

from aq4svit_lib.data import SplitSpec
from aq4svit_lib.errors import UsageError
from aq4svit_lib.search import SearchInterrupted, run_search
from aq4svit_lib.search.sensitivity_ilp import solve_allocation

SPEC = SplitSpec(search_size=200, minibatch_size=64, verify_size=200)  # small: CI time
BITS = (32, 4, 3, 2)
MODEL = "sdtv3_tiny"


def search(method, out, **kw):
    kw.setdefault("bits", BITS)
    kw.setdefault("spec", SPEC)
    return run_search(method, MODEL, out=out, quiet=True, batch_size=200, **kw)


def brute_force(memory, score, budget, allowed=None):
    best = None
    for choice in itertools.product(range(memory.shape[1]), repeat=memory.shape[0]):
        rows = np.arange(memory.shape[0])
        if allowed is not None and not allowed[rows, choice].all():
            continue
        if score[rows, choice].sum() <= budget + 1e-9:
            m = memory[rows, choice].sum()
            best = m if best is None else min(best, m)
    return best


@pytest.mark.parametrize("seed", range(5))
def test_ilp_returns_the_exact_optimum_of_small_instances(seed):
    rng = np.random.default_rng(seed)
    memory = np.sort(rng.integers(1, 100, size=(5, 4)), axis=1)[:, ::-1].astype(float)  # wider = more bytes
    score = np.sort(rng.random((5, 4)) * 3, axis=1)  # narrower = larger predicted drop
    score[:, 0] = 0.0
    for budget in (0.0, 0.5, 1.5, 4.0, 100.0):
        choice = solve_allocation(memory, score, budget)
        rows = np.arange(5)
        assert score[rows, choice].sum() <= budget + 1e-6
        assert memory[rows, choice].sum() == brute_force(memory, score, budget)
    assert solve_allocation(memory, score + 1.0, 0.5) is None  # no choice fits: infeasible, not a wrong answer


@pytest.mark.parametrize("seed", range(4))
def test_ilp_honours_excluded_choices_and_solves_the_memory_budgeted_program(seed):
    """The proxy ILPs' program (HAWQ-V3's): least predicted cost within a byte budget, some choices excluded (a unit the
    drift cannot see held at widths the minibatch vouches for); checked against enumeration."""
    rng = np.random.default_rng(seed)
    memory = np.sort(rng.integers(1, 100, size=(4, 4)), axis=1)[:, ::-1].astype(float)
    score = np.sort(rng.random((4, 4)) * 3, axis=1)
    score[:, 0] = 0.0
    allowed = np.ones_like(memory, dtype=bool)
    allowed[rng.integers(0, 4), 2:] = False  # one unit may not go below its second width
    for cap in (memory.min(axis=1).sum(), memory.mean(axis=1).sum(), memory.max(axis=1).sum()):
        choice = solve_allocation(score, memory, float(cap), allowed)  # roles swapped: minimise score under bytes
        exact = brute_force(score, memory, float(cap), allowed)
        if exact is None:
            assert choice is None
            continue
        rows = np.arange(4)
        assert allowed[rows, choice].all() and memory[rows, choice].sum() <= cap + 1e-6
        assert score[rows, choice].sum() == pytest.approx(exact)


@pytest.fixture(scope="module")
def random_run(tmp_path_factory):
    return search("random", tmp_path_factory.mktemp("random") / "run", budget=8)


def test_random_search_respects_its_budget_and_answers_its_smallest_feasible_trial(random_run):
    r, table = random_run.result, random_run.table
    assert r["evaluations"]["full"] == len(table) == 8
    feasible = table[table.feasible]
    if len(feasible):
        assert r["verify"]["search_choice_bytes"] == feasible.memory_bytes.min()
    else:
        assert r["verify"]["search_choice_bytes"] == r["fp32_bytes"]
    assert (table.best_feasible_bytes.dropna().diff().dropna() <= 0).all()  # the anytime curve never rises
    assert r["final"]["meets_constraint"] or r["memory_bytes"] == r["fp32_bytes"]


def test_random_search_is_deterministic_for_a_seed(tmp_path, random_run):
    again = search("random", tmp_path / "again", budget=8)
    assert list(again.table.key) == list(random_run.table.key) and again.bits == random_run.bits
    other = search("random", tmp_path / "other", budget=8, seed=1)
    assert list(other.table.key) != list(random_run.table.key)


def test_optuna_is_deterministic_and_resumes_after_a_kill_to_the_same_result(tmp_path):
    first = search("optuna", tmp_path / "a", budget=6, population=2)  # three generations
    assert first.result["evaluations"]["full"] == 6 and (tmp_path / "a" / "optuna.journal").is_file()
    assert first.table.on_front.any()
    second = search("optuna", tmp_path / "b", budget=6, population=2)
    assert list(second.table.key) == list(first.table.key) and second.bits == first.bits
    with pytest.raises(SearchInterrupted):
        search("optuna", tmp_path / "killed", budget=6, population=2, max_evaluations=3)
    resumed = search("optuna", tmp_path / "killed", budget=6, population=2, resume=True)
    assert resumed.bits == first.bits and resumed.result["final"] == first.result["final"]
    assert resumed.result["evaluations"] == first.result["evaluations"]


def test_sensitivity_ilp_evaluates_its_front_and_answers_a_feasible_solution(tmp_path):
    out = search("sensitivity-ilp", tmp_path / "ilp", scores="drift", level="block", budgets=8)
    r, table = out.result, out.table
    assert {"budget", "predicted_cost", "memory_bytes", "search_accuracy", "feasible"} <= set(table.columns)
    assert table.memory_bytes.is_monotonic_increasing and len(table) >= 2
    evaluated = table[table.search_accuracy.notna()]
    assert r["evaluations"]["full"] == len(evaluated) <= int(np.ceil(np.log2(len(table) + 1))) + 1  # bisection
    if evaluated.feasible.any():
        assert r["verify"]["search_choice_bytes"] == evaluated[evaluated.feasible].memory_bytes.min()
    from aq4svit_lib.models import create_model

    structure = create_model(MODEL).quant_structure()
    assert r["scores"] == "drift" and len(r["score_table"]) == sum(1 for b in structure.blocks if structure.layers_of(b.name))
    assert all(s["32"] == 0.0 and min(s.values()) >= 0.0 for s in r["score_table"].values())


@pytest.mark.parametrize("method,kwargs,needle", [
    ("random", {"budget": 0}, "budget"),
    ("optuna", {"population": 1}, "population"),
    ("sensitivity-ilp", {"scores": "curvature"}, "--scores .* must be one of measured, drift, fisher, hessian"),
    ("sensitivity-ilp", {"budgets": 1}, "budgets"),
])
def test_baseline_settings_are_validated(tmp_path, method, kwargs, needle):
    with pytest.raises(UsageError, match=needle):
        search(method, tmp_path / "x", **kwargs)


def test_hypervolume_and_anytime_curve_on_hand_made_points():
    import pandas as pd

    from aq4svit_lib.report import anytime_curve, hypervolume

    # reference (100 bytes, 0.5); points (20, 0.9) and (60, 0.95): 40*0.4 + 40*0.45 = 34; outside points add nothing
    assert hypervolume([20, 60, 120, 10], [0.9, 0.95, 0.99, 0.4], 100, 0.5) == pytest.approx(34.0)
    assert hypervolume([], [], 100, 0.5) == 0.0
    trace = pd.DataFrame({"decision": ["accepted", "pruned_drift", "rejected", "accepted", "scored", "rejected_margin", "accepted"],
                          "memory_bytes": [80, 10, 30, 50, 5, 20, 60]})
    curve = anytime_curve(trace, fp32_bytes=100)
    assert list(curve.full_evaluations) == [1, 2, 3, 4, 5]  # the pruned and the scored candidate cost no full evaluation
    assert list(curve.best_feasible_bytes) == [80, 80, 50, 50, 50]


def test_compare_cli_puts_every_method_in_one_table_against_the_best_known_config(tmp_path, monkeypatch, capsys):
    import json

    from aq4svit_lib.cli import main

    monkeypatch.setenv("AQ4SVIT_RESULTS", str(tmp_path))
    assert main(["compare", "--profile", "ci", "--model", "sdtv3_tiny", "--methods", "greedy,random", "--json",
                 "--out", str(tmp_path / "peer.csv")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["method"] for r in rows] == ["greedy", "random"] and (tmp_path / "peer.csv").is_file()
    assert rows[1]["full"] == 8  # the ci profile's baseline budget
    best = rows[0]["best_known_bytes"]
    assert best <= min(r["memory_bytes"] for r in rows if r["backoff_steps"] == 0 and r["meets_delta"])
    assert all(r["gap_to_best_known"] == pytest.approx(r["memory_bytes"] / best - 1) for r in rows)
    assert all(0 <= r["hypervolume"] <= 1 for r in rows)


def test_sensitivity_ilp_measured_scores_are_the_single_unit_drops_on_search(tmp_path):
    out = search("sensitivity-ilp", tmp_path / "ilp", scores="measured", level="stage", bits=(32, 4, 2), budgets=6)
    r, trace = out.result, out.trace
    scored = trace[trace.sweep == "score"]
    assert len(scored) == 5 * 2  # four stages and the head x two widths below FP32, each one full evaluation
    fp32 = r["fp32"]["search_accuracy"]
    for row in scored.itertuples():
        width = str(min(int(b) for b in row.key.split(",")))  # the one unit below FP32
        assert r["score_table"][row.unit][width] == pytest.approx(max(0.0, 100 * (fp32 - row.search_accuracy)))
    assert r["score_table"][scored.unit.iloc[0]]["32"] == 0.0
    assert r["final"]["meets_constraint"]
