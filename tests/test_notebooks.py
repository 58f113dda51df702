"""Notebooks: stored clean, in sync with their jupytext pairs, and all of them run headless (ci profile)."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_notebook_is_stored_without_outputs_and_has_parameters():
    assert len(NOTEBOOKS) == 10
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert not any(c.get("outputs") for c in code), f"{path.name} has outputs"
        assert not any(c.get("execution_count") for c in code), f"{path.name} has execution counts"
        assert any("parameters" in c["metadata"].get("tags", []) for c in code), f"{path.name} has no parameters cell"


def _text(source) -> str:
    # nbformat stores a cell's source as a list of lines or one string; both mean the same text.
    return source if isinstance(source, str) else "".join(source)


def test_every_notebook_agrees_with_its_text_pair():
    """The .ipynb and its jupytext percent-format .py carry the same cells (edit either, then `make notebooks`)."""
    import jupytext

    for path in NOTEBOOKS:
        pair = path.with_suffix(".py")
        assert pair.exists(), f"{path.name} has no text pair; run: jupytext --set-formats ipynb,py:percent {path}"
        stored = json.loads(path.read_text())
        text = jupytext.read(pair)
        assert stored["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"
        assert [(c["cell_type"], _text(c["source"])) for c in stored["cells"]] == \
            [(c.cell_type, _text(c.source)) for c in text.cells], f"{path.name} and {pair.name} differ: run make notebooks"


def test_notebooks_use_only_the_library():
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            src = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
            assert "def " not in src and "class " not in src, f"{path.name}: logic belongs in aq4svit_lib"


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    from aq4svit_lib.reproduce import run_notebooks

    base = tmp_path_factory.mktemp("results")
    sources = {p: p.read_bytes() for p in ROOT.glob("notebooks/*") if p.is_file()}
    old = os.environ.get("AQ4SVIT_RESULTS")
    os.environ["AQ4SVIT_RESULTS"] = str(base)
    try:
        timings = run_notebooks("ci", log=lambda m: None)
    finally:
        if old is None:
            os.environ.pop("AQ4SVIT_RESULTS")
        else:
            os.environ["AQ4SVIT_RESULTS"] = old
    assert {p: p.read_bytes() for p in ROOT.glob("notebooks/*") if p.is_file()} == sources, "running the notebooks must never rewrite their sources"
    return base / "ci", timings


def test_all_notebooks_run_headless_with_the_ci_profile(ci_run):
    out, timings = ci_run
    assert [t["notebook"] for t in timings] == ["01_models_and_baselines", "02_qsvit_sensitivity", "03_qsvit_guided",
                                                "04_aq4svit_search_greedy", "04_aq4svit_search_beam", "05_comparison", "06_drift_proxy",
                                                "07_peer_baselines", "08_your_model"]
    for t in timings:
        assert (out / "executed" / f"{t['notebook']}.ipynb").is_file()


def test_figures_and_tables_are_produced(ci_run):
    out, _ = ci_run
    figs = out / "figures"
    for name in ("01_memory_share", "01_firing_rates", "02_sensitivity_uniform", "02_sensitivity_uniform_per_tensor",
                 "02_sensitivity_fixed_point", "02_sensitivity_uniform_default_bits", "02_uniform_sweeps",
                 "03_expsettings", "04_greedy_trace_sdtv2_tiny", "04_beam_trace_sdtv3_tiny", "05_pareto", "timings/05_search_time",
                 "timings/04_beam_phase_times", "05_bitmap_sdtv2_tiny", "05_fronts", "05_split_accuracies", "06_drift_vs_drop_sdtv2_tiny",
                 "06_gate_ablation", "06_tau_sweep", "07_anytime", "07_fronts", "03_collapse", "02_sensitivity_sdtv3_tiny",
                 "07_ilp_predicted_vs_measured", "timings/07_saving_vs_time", "timings/06_gate_ablation"):
        assert (figs / f"{name}.png").stat().st_size > 5000 and (figs / f"{name}.pdf").is_file(), name
    for name in ("01_models", "02_attention_findings", "03_base_settings", "03_final_settings", "05_comparison", "05_decides",
                 "06_gate_ablation", "06_gate_quality", "07_peer_comparison", "07_reference_runs", "05_run_statistics", "07_ilp_front"):
        assert (figs / "tables" / f"{name}.csv").is_file() and (figs / "tables" / f"{name}.md").is_file(), name
    comparison = pd.read_csv(figs / "tables" / "05_comparison.csv")  # wall-clock columns live in their own table
    assert "search_seconds" not in comparison and "search_seconds" in pd.read_csv(figs / "tables" / "timings" / "05_comparison.csv")
    assert "AQ4SViT-Greedy" in (figs / "tables" / "05_comparison.md").read_text()
    assert not list((figs / "tables").glob("04_*_phase_times.*")), "phase times are wall-clock: tables/timings/ only"
    assert {"search_drop_se_pts", "verify_drop_se_pts", "test_drop_se_pts"} <= set(comparison.columns)
    times = pd.read_csv(figs / "tables" / "timings" / "00_notebooks.csv")  # what the claims' times and the README render from
    assert set(times.notebook) == {t["notebook"] for t in out_timings(ci_run)} and times.machine.str.contains("threads").all()


def test_notebook_08_searches_spikingjellys_spikformer_like_a_zoo_model(ci_run):
    """Issue 27: a network from spikingjelly's own zoo, wrapped and searched by QSViT, Greedy and Beam from the notebook a
    user copies; every answer meets Δ on verify, saves memory, and its packed export loads back into the network."""
    out = ci_run[0]
    tables = out / "figures" / "tables"
    searches = pd.read_csv(tables / "08_searches.csv")
    assert list(searches.method) == ["qsvit", "greedy", "beam"] and set(searches.model) == {"spikformer_fmnist"}
    # the ci profile's 200-image splits leave a margin wider than Δ: little is accepted there (the gallery's default profile
    # is where the savings show); every answer still meets Δ on verify and saves something
    assert searches.meets_delta_verify.all() and (searches.saving_vs_fp32 > 0).all()
    assert (searches.fp32_test > 0.8).all()  # the shipped checkpoint is trained, not random
    structure = pd.read_csv(tables / "08_structure.csv")
    assert {"block", "stage", "kind"} <= set(structure.columns) and structure.block.nunique() >= 3  # stem, 2 blocks, head
    sweep = pd.read_csv(tables / "08_sweep.csv")
    assert set(sweep.bits) == {8, 4, 2} and set(sweep.group) == set(structure.block + " : " + structure.kind)
    assert (out / "figures" / "08_bitmap_spikformer_fmnist.png").stat().st_size > 5000
    for method in searches.method:
        assert (out / "spikformer_fmnist" / method / "final.safetensors").is_file()


def out_timings(ci_run):
    return ci_run[1]


def test_numbers_in_the_tables_are_sane(ci_run):
    tables = ci_run[0] / "figures" / "tables"
    models = pd.read_csv(tables / "01_models.csv")
    from aq4svit_lib.models import default_checkpoint

    for row in models.itertuples():  # notebook 01 re-measures what each model card records (on the first 1000 test images)
        card = json.loads(default_checkpoint(row.model).with_suffix(".json").read_text())
        assert abs(row.test_accuracy - card["test_accuracy"]) < 0.03, row.model  # ~3 standard errors of 1000 images
    comp = pd.read_csv(tables / "05_comparison.csv")
    assert comp.search_accuracy.between(0, 1).all() and comp.test_accuracy.between(0, 1).all()
    assert comp.saving_vs_fp32.between(0, 1).all()
    assert comp.meets_delta.all() and comp.meets_delta_verify.all()
    n = {"search": 200, "verify": 200}  # the ci profile's split sizes; the count rule, from the numbers
    for split in ("search", "verify"):
        recomputed = (comp[f"{split}_accuracy"] * n[split]).round() >= np.ceil((comp[f"fp32_{split}"] - 0.015) * n[split] - 1e-9)
        assert (recomputed == comp["meets_delta" if split == "search" else "meets_delta_verify"]).all(), split
    assert set(comp.method) == {"qsvit", "greedy", "beam", "greedy-kind", "beam-kind", "beam-ilp"}  # as specified, then ours
    for m, g in comp.groupby("model"):  # Beam is never larger than Greedy
        assert g[g.method == "beam"].memory_bytes.iloc[0] <= g[g.method == "greedy"].memory_bytes.iloc[0], m
    peers = pd.read_csv(tables / "07_peer_comparison.csv")
    assert set(peers.method) == {"qsvit", "greedy", "beam", "greedy-kind", "beam-kind", "beam-ilp", "sensitivity-ilp", "fisher-ilp",
                                 "hessian-ilp", "drift-ilp", "optuna", "random"}
    assert peers.groupby("family").method.nunique().to_dict() == {"as specified": 3, "field": 6, "ours": 3}
    proxies = peers[peers.method.isin(["fisher-ilp", "hessian-ilp"])]
    assert (proxies.images_backpropagated > 0).all()  # gradient scores are paid for in backward passes, and reported
    assert (peers.gap_to_best_known >= -1e-12).all() and peers.hypervolume.between(0, 1).all()  # answers are accepted configs
    assert (peers[peers.method.isin(["optuna", "random"])].full <= 8).all()  # the ci profile's budget
    ref = pd.read_csv(tables / "07_reference_runs.csv").set_index("method")  # long NSGA-II (2 x the budget) and wide Beam+kind
    assert set(ref.index) == {"optuna_long", "beam-kind_wide"} and set(ref.model) == {"sdtv2_tiny"}
    assert 8 < ref.loc["optuna_long", "full"] <= 16
    assert (peers[peers.model == "sdtv2_tiny"].best_known_bytes <= ref.memory_bytes.min()).all()  # the reference is in "best known"
    gate = pd.read_csv(tables / "06_gate_quality.csv")
    assert gate.candidates.gt(0).all() and gate.spearman_rho.between(-1, 1).all()
    ablation = pd.read_csv(tables / "06_gate_ablation.csv")
    on, off = (ablation[ablation.gate == g].set_index("method") for g in ("threshold", "off"))
    assert (off.gated == 0).all() and on.loc["greedy", "full"] <= off.loc["greedy", "full"]


def test_executed_notebooks_render_to_html_a_reviewer_can_read(ci_run, tmp_path):
    from aq4svit_lib.reproduce import render_html

    pages = render_html(ci_run[0] / "executed", tmp_path / "html")
    assert [p.stem for p in pages] == sorted(t["notebook"] for t in ci_run[1])
    page = (tmp_path / "html" / "05_comparison.html").read_text()
    assert "QSViT vs AQ4SViT" in page and page.count("data:image/png;base64") >= 3  # the figures are inside the page
