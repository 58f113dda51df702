"""Seed study: the per-seed comparisons and their verdicts (pure pandas), and one small real run (ci profile)."""

import ast
import math

import numpy as np
import pandas as pd
import pytest

from aq4svit_lib import seed_study
from aq4svit_lib.seed_study import seed_comparisons, seed_summary

# one model, three seeds: bytes, search seconds and test drop (pp) per (method, seed)
BYTES = {("qsvit", 0): 1000, ("greedy", 0): 800, ("beam", 0): 700,
         ("qsvit", 1): 1000, ("greedy", 1): 800, ("beam", 1): 800,  # beam == greedy: not smaller
         ("qsvit", 2): 1000, ("greedy", 2): 500, ("beam", 2): 400}
SECONDS = {("qsvit", 0): 100.0, ("greedy", 0): 10.0, ("beam", 0): 50.0,
           ("qsvit", 1): 100.0, ("greedy", 1): 50.0, ("beam", 1): 50.0,
           ("qsvit", 2): 100.0, ("greedy", 2): 200.0, ("beam", 2): 50.0}  # greedy slower on seed 2
TEST_DROP = {("qsvit", 0): 1.0, ("qsvit", 1): 1.6, ("qsvit", 2): 1.5}  # 1.6 > delta = 1.5; 1.5 is within


def synthetic_runs(models=("m",)):
    rows = []
    for model in models:
        for (method, seed), b in BYTES.items():
            rows.append({"model": model, "method": method, "seed": seed, "memory_bytes": b, "saving_vs_fp32": 1 - b / 4000,
                         "search_seconds": SECONDS[(method, seed)], "test_drop_pts": TEST_DROP.get((method, seed), 0.5)})
    return pd.DataFrame(rows)


def test_seed_comparisons_exact_values():
    c = seed_comparisons(synthetic_runs(), delta=1.5)
    assert list(dict.fromkeys(c.comparison)) == list(seed_study.COMPARISONS)
    val = c.set_index(["comparison", "method", "seed"]).sort_index()
    np.testing.assert_allclose(val.loc["beam_smaller_than_greedy"].value.to_numpy(), [0.125, 0.0, 0.2])
    np.testing.assert_allclose(val.loc["greedy_smaller_than_qsvit"].value.to_numpy(), [0.2, 0.2, 0.5])
    np.testing.assert_allclose(val.loc["beam_smaller_than_qsvit"].value.to_numpy(), [0.3, 0.2, 0.6])
    speed = val.loc["greedy_faster_than_qsvit"]
    np.testing.assert_allclose(speed.speedup.to_numpy(), [10.0, 2.0, 0.5])
    assert speed.value.isna().all()  # wall-clock numbers only in the timing column
    assert list(speed.holds) == [True, True, False] and (speed.threshold == 1.0).all()
    assert list(val.loc["beam_smaller_than_greedy"].holds) == [True, False, True]  # 0 is not smaller
    assert list(val.loc[("test_drop_within_delta", "qsvit")].holds) == [True, False, True]  # 1.5 <= delta
    assert val.loc[("test_drop_within_delta", "beam")].holds.all()
    assert len(c) == 4 * 3 + 3 * 3


def test_seed_summary_holds_on_and_statistics():
    s = seed_summary(seed_comparisons(synthetic_runs(), delta=1.5)).set_index(["model", "comparison", "method"])
    b = s.loc[("m", "beam_smaller_than_greedy", "beam/greedy")]
    assert b.holds_on == "2 of 3" and b.n == 3 and b.holds == 2
    assert math.isclose(b["mean"], 0.325 / 3) and b["min"] == 0.0 and math.isclose(b["max"], 0.2)
    assert math.isclose(b.sd, float(np.std([0.125, 0.0, 0.2], ddof=1)))
    assert s.loc[("m", "greedy_smaller_than_qsvit", "greedy/qsvit")].holds_on == "3 of 3"
    g = s.loc[("m", "greedy_faster_than_qsvit", "greedy/qsvit")]
    assert g.holds_on == "2 of 3" and math.isnan(g["mean"]) and math.isclose(g.speedup_mean, 12.5 / 3) and g.speedup_max == 10.0
    assert s.loc[("m", "test_drop_within_delta", "qsvit")].holds_on == "2 of 3"
    assert s.loc[("m", "test_drop_within_delta", "greedy")].holds_on == "3 of 3"


def test_pooled_rows_count_every_model_and_seed():
    s = seed_summary(seed_comparisons(synthetic_runs(("a", "b")), delta=1.5)).set_index(["model", "comparison", "method"])
    assert s.loc[("all", "beam_smaller_than_greedy", "beam/greedy")].holds_on == "4 of 6"
    assert s.loc[("a", "beam_smaller_than_greedy", "beam/greedy")].holds_on == "2 of 3"


def test_missing_methods_leave_their_comparisons_out():
    runs = synthetic_runs()
    c = seed_comparisons(runs[runs.method == "greedy"], delta=1.5)
    assert set(c.comparison) == {"test_drop_within_delta"} and set(c.method) == {"greedy"}


def test_wall_clock_statistics_go_to_the_timing_tables(tmp_path):
    from aq4svit_lib.report import is_timing, save_table

    c = seed_comparisons(synthetic_runs(), delta=1.5)
    s = seed_summary(c)
    assert [col for col in c.columns if is_timing(col)] == ["speedup"]
    assert all(is_timing(col) for col in s.columns if col.startswith("speedup"))
    save_table(s, "summary", tmp_path)
    assert "speedup" not in (tmp_path / "tables" / "summary.csv").read_text()
    assert "speedup_mean" in (tmp_path / "tables" / "timings" / "summary.csv").read_text()


def test_seed_figure_has_one_panel_per_comparison():
    import matplotlib

    matplotlib.use("Agg")
    fig = seed_study.seed_figure(seed_comparisons(synthetic_runs(("a", "b")), delta=1.5), setting="synthetic")
    assert len([ax for ax in fig.axes if ax.get_title()]) == len(seed_study.COMPARISONS)


def test_folder_names_and_default_seeds():
    from aq4svit_lib.reproduce import get_profile

    assert seed_study.folder_name("beam", 0) == "beam" and seed_study.folder_name("beam", 2) == "beam_resample2"
    assert seed_study.default_seeds(get_profile("ci")) == (0, 1)
    assert seed_study.default_seeds(get_profile("default")) == (0, 1, 2)


def test_nothing_in_the_library_imports_the_seed_study():
    from pathlib import Path

    pkg = Path(seed_study.__file__).parent
    users = []
    for path in pkg.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import | ast.ImportFrom) else []
            module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
            if any(n.endswith("seed_study") for n in [module, *names]):
                users.append(path.name)
    assert not users, users


def test_a_real_study_resamples_search_and_keeps_test(tmp_path):
    from aq4svit_lib.reproduce import get_profile

    prof = get_profile("ci")
    with pytest.raises(ValueError, match="unresampled"):
        seed_study.run_seed_study(prof.with_(resample=1), seeds=(0,), base=tmp_path)
    out = seed_study.run_seed_study(prof, seeds=(0, 1), methods=("greedy",), models=("sdtv3_tiny",), base=tmp_path)
    assert set(out) == {("sdtv3_tiny", "greedy", 0), ("sdtv3_tiny", "greedy", 1)}
    r0, r1 = out[("sdtv3_tiny", "greedy", 0)], out[("sdtv3_tiny", "greedy", 1)]
    assert r0.folder == tmp_path / "ci" / "sdtv3_tiny" / "greedy"  # seed 0: the profile's own folder
    assert r1.folder == tmp_path / "ci" / "sdtv3_tiny" / "greedy_resample1"
    s0, s1 = r0.result["splits"], r1.result["splits"]
    assert s0["search"]["hash"] != s1["search"]["hash"] and s0["verify"]["hash"] != s1["verify"]["hash"]
    assert s0["test"]["hash"] == s1["test"]["hash"]
    assert s0["search"]["size"] == s1["search"]["size"] == prof.spec.search_size
    runs = seed_study.seed_runs(out)
    assert list(runs.columns) == ["model", "method", "seed", *seed_study.RUN_COLUMNS] and list(runs.seed) == [0, 1]
    assert runs.test_split.nunique() == 1 and runs.search_split.nunique() == 2
    c = seed_comparisons(runs, prof.delta)
    assert list(c.comparison) == ["test_drop_within_delta"] * 2
