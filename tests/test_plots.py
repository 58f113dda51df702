"""Figures: byte-deterministic files, and every figure function checked on small synthetic tables
(titles, axis labels, tick labels, the setting caption, the papers' method names, the defects a review found)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from aq4svit_lib import plots  # noqa: E402
from aq4svit_lib.plot_style import method_name, setting  # noqa: E402
from aq4svit_lib.plots import save  # noqa: E402
from aq4svit_lib.report import group_bits, tau_sweep  # noqa: E402
from aq4svit_lib.reproduce import get_profile  # noqa: E402

SETTING = setting(get_profile("default"))
METHODS = ("qsvit", "greedy", "beam")


def test_saved_figures_are_byte_identical_when_rendered_twice(tmp_path):
    def render(directory):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [3, 1, 2], label="a line")
        ax.set_title("same figure")
        ax.legend()
        paths = save(fig, "figure", directory)
        plt.close(fig)
        return [p.read_bytes() for p in paths]

    first, second = render(tmp_path / "a"), render(tmp_path / "b")
    assert [len(b) > 1000 for b in first] == [True, True]
    assert first == second  # PNG and PDF alike (no creation date in the PDF)


def test_the_setting_caption_names_what_a_figure_shows():
    assert SETTING == ("Fashion-MNIST · profile default · Δ = 1.5 pp · bits 32/8/6/4/3/2 · uniform/per_channel/nearest · "
                       "search/verify/test 2000/3000/all images")
    assert [method_name(m) for m in ("qsvit", "greedy", "beam", "sensitivity-ilp", "beam_gate-threshold")] == \
        ["QSViT", "AQ4SViT-Greedy", "AQ4SViT-Beam", "Sensitivity-ILP", "AQ4SViT-Beam (gate threshold)"]


# -- synthetic inputs -------------------------------------------------------------------------------
def _sensitivity(drops):
    rows = [{"sweep": "network", "block": "", "layer_kind": "", "stage": "", "bits": b, "accuracy": 0.9 - d / 100, "drop": d}
            for b, d in ((8, 0.1), (4, 1.0), (2, 60.0))]
    for i, (block, kind, stage) in enumerate((("ConvBlock1_1.0", "pwconv", "1"), ("block3.0", "q", "3"), ("block3.0", "mlp", "3"))):
        for b, scale in ((8, 0.01), (4, 0.2), (2, 1.0)):
            d = drops * scale * (i + 1)
            rows.append({"sweep": "group", "block": block, "layer_kind": kind, "stage": stage, "bits": b, "accuracy": 0.9 - d / 100, "drop": d})
    for kind, d in (("q", 0.3), ("mlp", 4.0)):
        rows.append({"sweep": "kind", "block": "", "layer_kind": kind, "stage": "", "bits": 4, "accuracy": 0.9 - d / 100, "drop": d})
    return pd.DataFrame(rows)


def _finals():
    rng = np.random.default_rng(0)
    rows = []
    for model in ("m1", "m2"):
        for j, meth in enumerate(METHODS):
            acc = {s: 0.89 - 0.002 * j + rng.normal(0, 0.002) for s in ("search", "verify", "test")}
            rows.append({"model": model, "method": meth, "saving_vs_fp32": 0.85 + 0.01 * j, "search_seconds": 100.0 / (j + 1),
                         "images_forwarded": 10_000 * (j + 1), **{f"{s}_accuracy": a for s, a in acc.items()},
                         **{f"{s}_drop_pts": 100 * (0.9 - a) for s, a in acc.items()}})
    return pd.DataFrame(rows)


def _points():
    df = pd.DataFrame({"saving_vs_fp32": [0.5, 0.7, 0.8, 0.86], "search_accuracy": [0.9, 0.895, 0.89, 0.887]})
    return {m: {meth: df.assign(search_accuracy=df.search_accuracy - 0.001 * j) for j, meth in enumerate(METHODS)} for m in ("m1", "m2")}


def _study(n=60, seed=1):
    rng = np.random.default_rng(seed)
    drift = rng.lognormal(-3, 1, n)
    drop = 100 * drift + rng.normal(0, 0.5, n)
    decision = np.where(drift > np.quantile(drift, 0.8), "pruned_rank", "accepted")
    return pd.DataFrame({"drift_increase": drift, "drift": drift, "drop_pts": drop, "decision": decision, "feasible": drop <= 1.5})


def _texts(fig):
    fig.canvas.draw()
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return out


def _check(fig, data_axes=None):
    """Every data axis has a y label, numbered ticks on both axes, a title or x label; the caption names the setting."""
    fig.canvas.draw()
    axes = data_axes or [ax for ax in fig.axes if ax.has_data() and ax.get_label() != "<colorbar>"]
    assert axes
    for ax in axes:
        assert ax.get_ylabel() or ax.get_yticklabels() or len(ax.get_shared_y_axes().get_siblings(ax)) > 1, "an axis without a y label"
        assert ax.get_title() or ax.get_xlabel() or fig._suptitle, "an axis without a title or x label"
        for axis, lim, shared in ((ax.xaxis, ax.get_xlim(), ax.get_shared_x_axes()), (ax.yaxis, ax.get_ylim(), ax.get_shared_y_axes())):
            lo, hi = sorted(lim)
            inside = [t for t in axis.get_majorticklocs() if lo - 1e-9 <= t <= hi + 1e-9]
            assert len(inside) >= 1, f"no ticks inside the view of {ax.get_title()!r}"  # e.g. a log axis within one decade
            shown = [t.get_text() for t in axis.get_ticklabels() if t.get_text()]
            assert shown or len(shared.get_siblings(ax)) > 1, f"no tick labels on {ax.get_title()!r}"  # shared axes label once
    assert SETTING in [t.get_text() for t in fig.texts], "the setting caption is missing"
    plt.close(fig)


# -- every figure function ---------------------------------------------------------------------------
def test_memory_share_names_each_models_own_blocks():
    v1 = pd.DataFrame({"stage": ["1", "2", "head"], "block": ["sps", "block0", "head"], "share": [0.2, 0.7, 0.1]})
    v2 = pd.DataFrame({"stage": ["1", "3", "4", "head"], "block": ["downsample1_1", "block3.0", "block4.0", "head"], "share": [0.1, 0.4, 0.4, 0.1]})
    fig = plots.memory_share({"sdt_tiny": v1, "sdtv2_tiny": v2}, setting=SETTING)
    fig.canvas.draw()
    v1_ticks = [t.get_text() for t in fig.axes[1].get_xticklabels()]
    assert v1_ticks == ["sps", "block0", "head"]  # not the other model's block names
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["1", "2", "3", "4", "head"]  # one entry per stage, numeric order, head last
    _check(fig)


def test_firing_rates_use_one_colour_per_stage_in_every_panel():
    a = pd.DataFrame({"order": range(4), "rate": [0.1, 0.2, 0.3, 0.1], "stage": ["1", "1", "head", "head"]})
    b = pd.DataFrame({"order": range(4), "rate": [0.1, 0.2, 0.3, 0.1], "stage": ["1", "3", "3", "head"]})
    fig = plots.firing_rates({"m1": a, "m2": b}, setting=SETTING)
    colours = [{t.get_text(): tuple(h.get_facecolor()) for t, h in zip(ax.get_legend().get_texts(), ax.get_legend().legend_handles, strict=True)}
               for ax in fig.axes]
    assert colours[0]["head"] == colours[1]["head"] and colours[0]["1"] == colours[1]["1"]  # same stage, same colour
    assert all(ax.get_legend() is not None for ax in fig.axes)
    _check(fig)


@pytest.mark.parametrize("drops", [0.9, 80.0])
def test_sensitivity_maps_share_one_scale_with_a_colour_bar_and_an_fp32_column(drops):
    fig = plots.sensitivity_panels(_sensitivity(drops), title="t", setting=SETTING)
    fig.canvas.draw()
    heat = [ax for ax in fig.axes if ax.get_ylabel().startswith("stage")]
    bars = [ax for ax in fig.axes if "drop" in ax.get_ylabel()]
    assert len(bars) == 1  # one colour bar
    assert [ax.collections[0].norm.vmax for ax in heat] == [100.0] * len(heat)  # the same range in every map, whatever the drops
    assert [t.get_text() for t in heat[-1].get_xticklabels()] == ["FP32", "8", "4", "2"]
    plt.close(fig)


def test_uniform_sweeps_label_every_width():
    fig = plots.uniform_sweeps({"uniform": _sensitivity(1.0), "fixed point": _sensitivity(5.0)}, setting=SETTING)
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["2", "4", "8"]
    _check(fig)


def test_uniform_sweeps_show_the_target_a_focused_range_and_distinct_curves():
    fig = plots.uniform_sweeps({"uniform": _sensitivity(1.0), "fixed point": _sensitivity(5.0)}, setting=SETTING,
                               floor_pct=88.5, fp32_pct=90.0)
    ax = fig.axes[0]
    texts = _texts(fig)
    assert "FP32 − Δ (88.50 %)" in texts and "FP32 (90.00 %)" in texts
    lo, hi = ax.get_ylim()
    assert 80 < lo < 88.5 and hi < 95  # the range that decides feasibility, not 10-90 %
    curves = [line for line in ax.get_lines() if line.get_label() in ("uniform", "fixed point")]
    assert len({line.get_marker() for line in curves}) == 2 and len({str(line.get_linestyle()) for line in curves}) == 2
    assert "30.0 %" in [t.get_text() for t in ax.texts]  # 2 bits (60 pp drop) is below the axis: printed at the edge
    heat_legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert heat_legend[0] == "drop > Δ = 1.5 pp"  # mlp at 4 bits (4 pp) is outlined
    plt.close(fig)


def test_search_trace_counts_candidates_on_an_integer_axis():
    trace = pd.DataFrame({"index": range(7), "memory_bytes": [100, 80, 60, 50, 45, 44, 40],
                          "decision": ["accepted", "accepted", "rejected", "pruned_drift", "accepted", "rejected_early", "kept"]})
    fig = plots.search_trace(trace, 400, title="AQ4SViT-Greedy on m1", setting=SETTING)
    fig.canvas.draw()
    ticks = fig.axes[0].get_xticks()
    assert np.allclose(ticks, np.round(ticks))
    assert "accepted (3)" in _texts(fig)
    _check(fig)


def test_bit_map_wraps_wide_networks_and_states_each_rows_saving():
    groups = [f"block{i // 4}.0 : k{i % 4}" for i in range(66)]
    table = pd.DataFrame({"group": groups, "stage": [str(1 + i // 30) for i in range(66)], "bits": [4] * 66, "mixed": [False] * 66})
    fig = plots.bit_map({"A": table, "B": table.assign(bits=3)}, (32, 4, 3), title="wide", setting=SETTING, savings={"B": 0.853})
    fig.canvas.draw()
    assert fig.get_size_inches()[0] <= 13.0  # 66 groups do not make a 2600-pixel-wide figure
    heat = [ax for ax in fig.axes if ax.get_yticklabels()]
    assert len(heat) >= 2 and all(len(ax.get_xticklabels()) <= 40 for ax in heat)
    assert [t.get_text() for t in heat[0].get_yticklabels()] == ["A", "B (saves 85.3 %)"]
    plt.close(fig)


def test_bit_map_prints_only_widths_of_the_list(tmp_path):
    from aq4svit_lib.models import create_model

    model = create_model("sdtv2_tiny")
    layers = [layer.name for layer in model.quant_structure().layers]
    mixed = {name: (3 if i % 2 else 4) for i, name in enumerate(layers)}  # every group's layers disagree somewhere
    maps = {method_name("greedy"): group_bits({n: 4 for n in layers}, "sdtv2_tiny"), method_name("beam"): group_bits(mixed, "sdtv2_tiny")}
    assert not maps["AQ4SViT-Greedy"].mixed.any() and maps["AQ4SViT-Beam"].mixed.any()
    fig = plots.bit_map(maps, (32, 8, 6, 4, 3, 2), title="sdtv2_tiny", setting=SETTING)
    fig.canvas.draw()
    shown = {t.get_text().rstrip("*") for t in fig.axes[0].texts}
    assert shown <= {"3", "4"}  # exact widths, never a rounded mean such as 3.5 -> "4" from a 3/4 block
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["FP32", "8 bits", "6 bits", "4 bits", "3 bits", "2 bits"]
    _check(fig)


def test_expsettings_show_memory_and_early_rejections():
    explored = pd.DataFrame({"exp_setting": ["a", "b", "c"], "search_accuracy": [0.89, np.nan, 0.86], "kept": [True, False, False],
                             "memory_bytes": [300, 200, 150]})
    fig = plots.expsettings(explored, 0.875, 1000, setting=SETTING)
    assert "rejected early (no full accuracy)" in _texts(fig)
    assert fig.axes[1].get_ylabel() == "memory (% of FP32)"
    _check(fig)


def test_comparison_figures_use_the_papers_names():
    finals = _finals()
    points = {m: pd.DataFrame({"saving_vs_fp32": [0.5, 0.8], "search_accuracy": [0.9, 0.89], "on_front": [True, True]}) for m in ("m1", "m2")}
    for fig in (plots.pareto_scatter(points, finals, {"m1": 0.885, "m2": 0.885}, setting=SETTING),
                plots.search_time_bars(finals, setting=SETTING),
                plots.accuracy_fronts(_points(), finals, {"m1": 0.9, "m2": 0.9}, 2000, 1.5, setting=SETTING),
                plots.split_accuracies(finals, {"search": 2000, "verify": 3000, "test": 10000}, 1.5, setting=SETTING),
                plots.anytime_curves({m: {meth: pd.DataFrame({"full_evaluations": [1, 2, 5], "saving_vs_fp32": [0, 0.5, 0.8]})
                                          for meth in METHODS} for m in ("m1", "m2")}, {"m1": 0.85}, setting=SETTING),
                plots.peer_fronts(_points(), finals, {"m1": 0.885}, setting=SETTING)):
        texts = " ".join(_texts(fig))
        assert "AQ4SViT-Greedy" in texts and "AQ4SViT-Beam" in texts and "QSViT" in texts
        assert "greedy" not in texts.replace("Greedy", "")
        _check(fig)


def _se_points():
    return {m: {meth: df.assign(search_standard_error=[0.004, 0.005, 0.006, 0.007]) for meth, df in d.items()} for m, d in _points().items()}


def test_accuracy_fronts_say_what_the_band_is_and_draw_the_applied_threshold():
    fig = plots.accuracy_fronts(_points(), _finals(), {"m1": 0.9, "m2": 0.9}, 2000, 1.5, setting=SETTING)
    band = [p for p in fig.axes[0].patches if "binomial" in p.get_label()][0]
    assert "unpaired" in band.get_label() and "n = 2000" in band.get_label()
    assert band.get_height() == pytest.approx(2 * 196 * np.sqrt(0.9 * 0.1 / 2000), rel=1e-6)  # ± 1.31 pp
    plt.close(fig)
    fig = plots.accuracy_fronts(_se_points(), _finals(), {"m1": 0.9, "m2": 0.9}, 2000, 1.5, setting=SETTING, paired_se={"m1": 0.004, "m2": 0.004})
    ax = fig.axes[0]
    band = [p for p in ax.patches if "paired SE" in p.get_label()][0]
    assert band.get_label().startswith("FP32 − Δ ± 1.96 paired SE of the drop") and "search split, n = 2000" in band.get_label()
    assert band.get_height() == pytest.approx(2 * 1.96 * 0.4, rel=1e-6)
    lines = {line.get_label(): line for line in ax.get_lines()}
    threshold = [line for label, line in lines.items() if label.startswith("threshold applied")][0]
    assert "median paired SE" in threshold.get_label() and "99 % one-sided" in threshold.get_label()
    assert threshold.get_ydata()[0] == pytest.approx(90 - 1.5 + 2.326 * 0.55, abs=1e-6)  # median SE 0.0055
    fp32 = lines["FP32 (search split)"]
    assert str(fp32.get_linestyle()) != "-" and fp32.get_color() not in [plots.METHOD_COLORS[m] for m in METHODS]
    fronts = [line for line in ax.get_lines() if line.get_label().endswith(" front")]
    assert [line.get_label() for line in fronts][0] == "AQ4SViT-Beam front"  # the wide Beam line is drawn first, underneath
    greedy = lines["AQ4SViT-Greedy front"]
    assert greedy.get_zorder() > lines["AQ4SViT-Beam front"].get_zorder() and greedy.get_linestyle() != lines["AQ4SViT-Beam front"].get_linestyle()
    assert all(line.get_drawstyle() == "steps-pre" for line in fronts)  # a staircase toward less memory, never above a config
    legend = fig.axes[-1].get_legend()
    assert legend.get_texts()[0].get_fontsize() >= 7
    plt.close(fig)


def test_pareto_front_is_a_staircase_and_points_are_coloured_by_method():
    pts = pd.DataFrame({"saving_vs_fp32": [0.5, 0.7, 0.8], "search_accuracy": [0.9, 0.895, 0.89], "on_front": [True, True, True],
                        "method": ["greedy", "beam", "qsvit"]})
    fig = plots.pareto_scatter({"m1": pts}, _finals(), {"m1": 0.885}, setting=SETTING)
    ax = fig.axes[0]
    front = [line for line in ax.get_lines() if line.get_label() == "Pareto front (staircase)"][0]
    assert front.get_drawstyle() == "steps-pre"
    texts = _texts(fig)
    assert "AQ4SViT-Greedy: feasible configs" in texts and "AQ4SViT-Beam: feasible configs" in texts
    plt.close(fig)


def test_split_accuracies_use_the_paired_se_of_the_drop():
    finals = _finals().assign(search_drop_se_pts=0.5, verify_drop_se_pts=0.4, test_drop_se_pts=0.2)
    fig = plots.split_accuracies(finals, {"search": 2000, "verify": 3000, "test": 10000}, 1.5, setting=SETTING)
    ax = fig.axes[0]
    caps = ax.containers[0].lines[2][0].get_segments()
    assert [seg[1][1] - seg[0][1] for seg in caps] == pytest.approx([2 * 1.96 * 0.5, 2 * 1.96 * 0.4, 2 * 1.96 * 0.2])
    texts = " ".join(_texts(fig))
    assert "95 % paired (McNemar) interval" in texts and "binomial" not in texts
    plt.close(fig)
    fig = plots.split_accuracies(_finals(), {"search": 2000, "verify": 3000, "test": 10000}, 1.5, setting=SETTING)
    assert "binomial interval of one accuracy\n(unpaired; the table has no paired SE)" in " ".join(_texts(fig))
    plt.close(fig)


def test_anytime_curves_show_reference_runs_and_the_final_answers():
    curve = pd.DataFrame({"full_evaluations": [1, 2, 5], "saving_vs_fp32": [0, 0.5, 0.8]})
    long = pd.DataFrame({"full_evaluations": np.arange(1, 601), "saving_vs_fp32": np.linspace(0, 0.84, 600)})
    fig = plots.anytime_curves({"m1": {"greedy": curve, "beam": curve, "optuna_long": long}}, {"m1": 0.85}, setting=SETTING,
                               finals={"m1": {"greedy": 0.79, "beam": 0.8}})
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert lines["AQ4SViT-Greedy"].get_linestyle() != lines["AQ4SViT-Beam"].get_linestyle()
    assert lines["AQ4SViT-Greedy"].get_zorder() > lines["AQ4SViT-Beam"].get_zorder()  # Greedy drawn on top of Beam
    assert "Optuna NSGA-II (long)" in lines and ax.get_xlim()[1] >= 600
    texts = _texts(fig)
    assert "final answer after the verify back-off" in texts
    plt.close(fig)


def test_peer_fronts_break_the_axis_around_an_empty_gap():
    points = _points()
    points["m1"]["sensitivity-ilp"] = pd.DataFrame({"saving_vs_fp32": [0.0, 0.01, 0.02], "search_accuracy": [0.9, 0.9, 0.9]})
    finals = _finals()
    fig = plots.peer_fronts(points, finals, {"m1": 0.885}, setting=SETTING)
    texts = " ".join(_texts(fig))
    assert "circled" not in texts and "large outlined markers: each method's answer" in texts
    main = [ax for ax in fig.axes if ax.get_title().startswith("m1")][0]
    assert main.get_xlim()[0] > 40  # the answers near 85 % are not squeezed by the cluster near 0 %
    plt.close(fig)


def test_drift_figures_give_n_the_interval_of_rho_and_tau():
    study = _study()
    fig = plots.drift_vs_drop(study, 0.05, 1.5, 0.8, title="m1", setting=SETTING)
    title = fig.axes[0].get_title()
    assert "n = 60 candidates" in title and "95 % CI" in title
    assert "τ = 0.05" in _texts(fig)
    _check(fig)
    lo, hi = plots.spearman_ci(0.8, 60)
    assert lo < 0.8 < hi and hi - lo == pytest.approx(0.2, abs=0.05)


def test_tau_sweep_precision_and_recall_are_what_a_threshold_would_do():
    study = _study()
    sweep = tau_sweep(study)
    assert sweep.pruned.is_monotonic_decreasing and sweep.recall.dropna().is_monotonic_decreasing
    row = sweep.iloc[len(sweep) // 2]
    pruned, infeasible = study.drift_increase > row.tau, ~study.feasible
    assert row.precision == (pruned & infeasible).sum() / pruned.sum()
    assert row.recall == (pruned & infeasible).sum() / infeasible.sum()
    fig = plots.tau_sweep(sweep, {"Greedy's τ": float(row.tau)}, title="m1", setting=SETTING)
    _check(fig)


def test_gate_ablation_figure():
    table = pd.DataFrame({"run": ["greedy, threshold gate", "greedy, gate off"], "method": ["greedy", "greedy"], "full": [30, 33],
                          "images_forwarded": [70_000, 80_000], "saving_vs_fp32": [0.85, 0.861]})
    fig = plots.gate_ablation(table, setting=SETTING)
    fig.canvas.draw()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["greedy, threshold gate", "greedy, gate off"]
    assert len(fig.axes) == 3 and all(ax.get_xlim()[0] == 0 for ax in fig.axes)  # bars from 0: 85.0 vs 86.1 looks small
    assert all(t.get_text().endswith("k") or t.get_text() == "0" for t in fig.axes[1].get_xticklabels() if t.get_text())
    _check(fig)
    fig = plots.gate_ablation(table.assign(search_seconds=[120.0, 146.0]), setting=SETTING)
    assert len(fig.axes) == 4 and fig.axes[3].get_xlabel() == "search wall-clock time (s)"
    plt.close(fig)


def test_drift_vs_drop_clips_outliers_keeps_headroom_and_draws_the_margin():
    study = _study()
    study.loc[0, "drift_increase"] = 50.0  # one outlier
    fig = plots.drift_vs_drop(study, None, 1.5, 0.8, title="m1", setting=SETTING, margin_drop_pts=0.5)
    ax = fig.axes[0]
    assert ax.get_xlim()[1] < 5  # the outlier does not squash the rest
    assert ax.get_ylim()[1] > study.drop_pts.max()
    texts = _texts(fig)
    assert "drop allowed with the margin: Δ − z·SE = 0.50 pp" in texts
    assert "beyond the axis, drawn at its edge (1)" in texts
    plt.close(fig)


def test_tau_lines_are_strong_and_distinct():
    study = _study()
    sweep = tau_sweep(study)
    fig = plots.tau_sweep(sweep, {"a": 0.01, "b": 0.05, "c": 0.1}, title="m1", setting=SETTING)
    taus = [line for line in fig.axes[0].get_lines() if line.get_label().startswith("τ =")]
    colours = [line.get_color() for line in taus]
    assert len(set(colours)) == 3 and all(line.get_linewidth() >= 2 for line in taus)
    assert not any(c.lower() in ("#f0e442", "#e9c46a", "#fee08b", "#ffff00") for c in colours)
    plt.close(fig)


def test_search_time_bars_are_linear_and_labelled_with_the_speedup():
    finals = _finals()
    finals["speedup_vs_qsvit"] = [1.0, 2.0, 3.0] * 2
    fig = plots.search_time_bars(finals, setting=SETTING)
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0 and fig.axes[1].get_yscale() == "linear"
    labels = [t.get_text() for t in ax.texts]
    assert "2.0× faster" in labels and "3.0× faster" in labels and "100 s" in labels
    plt.close(fig)


def test_new_claim_figures():
    base = pd.DataFrame({"model": ["m1", "m1"], "run": ["delta 1.5", "delta 1.5"], "setting": ["bSettingH", "bSettingL"],
                         "search_accuracy": [0.898, 0.638], "drop_pts": [-0.4, 25.6], "saving_vs_fp32": [0.86, 0.89]})
    fig = plots.collapse(base, setting=SETTING)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert "25.6 ✗" in labels and "-0.4 ✓" in labels
    assert "Δ of the run" in _texts(fig)
    _check(fig)
    front = pd.DataFrame({"model": ["m1"] * 4, "predicted_cost": [0.2, 0.5, 1.0, 1.4], "measured_drop_pts": [0.6, 1.4, np.nan, 3.0]})
    fig = plots.ilp_predicted_vs_measured(front, 1.5, setting=SETTING)
    texts = _texts(fig)
    assert "rejected early (> Δ), drawn at the top edge (1)" in texts and "y = x (additivity holds)" in texts
    _check(fig)
    table = pd.DataFrame({"model": ["m1"] * 3, "method": ["greedy", "optuna", "optuna_long"], "saving_vs_fp32": [0.85, 0.8, 0.84],
                          "search_seconds": [30.0, 300.0, 950.0]})
    fig = plots.saving_vs_time(table, setting=SETTING)
    assert fig.axes[0].get_xscale() == "log" and "Optuna NSGA-II (long)" in _texts(fig)
    _check(fig)


def test_tables_keep_wall_clock_apart_and_readers_see_the_papers_names(tmp_path):
    from aq4svit_lib.report import save_table

    df = pd.DataFrame({"model": ["m1", "m1"], "method": ["greedy", "beam"], "saving_vs_fp32": [0.85, 0.86], "full": [30, 60],
                       "search_seconds": [70.1, 140.2], "speedup_vs_qsvit": [6.6, 3.3]})
    csv = save_table(df, "t", tmp_path)
    assert list(pd.read_csv(csv).columns) == ["model", "method", "saving_vs_fp32", "full"]
    timings = pd.read_csv(tmp_path / "tables" / "timings" / "t.csv")
    assert list(timings.columns) == ["model", "method", "search_seconds", "speedup_vs_qsvit"] and timings.search_seconds.tolist() == [70.1, 140.2]
    md = (tmp_path / "tables" / "t.md").read_text()
    assert "AQ4SViT-Greedy" in md and "| greedy |" not in md and pd.read_csv(csv).method.tolist() == ["greedy", "beam"]
    save_table(df.drop(columns=["search_seconds", "speedup_vs_qsvit"]), "u", tmp_path)
    assert not (tmp_path / "tables" / "timings" / "u.csv").exists()
