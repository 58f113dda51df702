"""Figures, drawn from the tidy tables of :mod:`aq4svit_lib.report` and the result folders.

Every function takes DataFrames / dicts and returns a matplotlib Figure; :func:`save` writes PNG and PDF
byte-deterministically. Names, colours and units come from :mod:`aq4svit_lib.plot_style`; ``setting`` (see
:func:`plot_style.setting`) is printed under every figure so a figure names what it shows.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import BoundaryNorm, ListedColormap, SymLogNorm
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from .plot_style import DECISION_COLORS, METHOD_COLORS, METHOD_MARKERS, STAGE_PALETTE, bit_color, method_name, stage_color

__all__ = ["DECISION_COLORS", "METHOD_COLORS", "METHOD_MARKERS"]  # re-exported for older notebooks


def style() -> None:
    sns.set_theme(style="whitegrid", palette="colorblind", context="notebook")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight", "legend.frameon": True})


def caption(fig, setting: str) -> None:
    """The setting under the figure (kept inside the saved area by bbox_inches="tight")."""
    if setting:
        fig.text(0.5, -0.01, setting, ha="center", va="top", fontsize=7, color="#444444")


def save(fig, name: str, directory: str | Path) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{name}.png", directory / f"{name}.pdf"]
    for p in paths:  # no creation date: re-rendering unchanged results must leave the files (and git) unchanged
        fig.savefig(p, metadata={"CreationDate": None} if p.suffix == ".pdf" else {})
    return paths


def _legend_outside(ax, **kw):
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=kw.pop("fontsize", 8), **kw)


# -- 01 models ------------------------------------------------------------------------------------
def memory_share(breakdowns: dict[str, pd.DataFrame], setting: str = ""):
    """Share of FP32 memory per stage (one bar per model), then per block, one panel per model with its own block names."""
    style()
    n = len(breakdowns)
    fig, axes = plt.subplots(n + 1, 1, figsize=(11, 2.4 * (n + 1)), squeeze=False)
    order = list(dict.fromkeys(s for df in breakdowns.values() for s in df.stage))
    stages = pd.DataFrame({m: df.groupby("stage", sort=False).share.sum() for m, df in breakdowns.items()}).T.fillna(0)[order]
    stages.mul(100).plot.barh(stacked=True, ax=axes[0, 0], color=[stage_color(s, order) for s in order])
    axes[0, 0].set(xlabel="share of FP32 memory (%)", ylabel="", title="Memory per stage", xlim=(0, 100))
    _legend_outside(axes[0, 0], title="stage")
    for ax, (model, df) in zip(axes[1:, 0], breakdowns.items(), strict=True):
        ax.bar(range(len(df)), df.share * 100, color=[stage_color(s, order) for s in df.stage])
        ax.set_xticks(range(len(df)), df.block, rotation=60, ha="right", fontsize=7)
        ax.set(ylabel="% of FP32", title=f"{model}: memory per block (forward order, coloured by stage)")
    fig.tight_layout()
    caption(fig, setting)
    return fig


def firing_rates(rates: dict[str, pd.DataFrame], setting: str = ""):
    """Mean output per step of every spiking neuron layer; one colour per stage in every panel, legend in each."""
    style()
    order = list(dict.fromkeys(s for df in rates.values() for s in df.stage))
    fig, axes = plt.subplots(len(rates), 1, figsize=(12, 2.6 * len(rates)), squeeze=False)
    for ax, (model, df) in zip(axes[:, 0], rates.items(), strict=True):
        for stage in dict.fromkeys(df.stage):
            sub = df[df.stage == stage]
            ax.bar(sub.order, sub.rate, color=stage_color(stage, order), label=str(stage), width=0.9)
        ax.set(xlabel="spiking neuron layer (forward order)", ylabel="mean output per step", title=model)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _legend_outside(ax, title="stage", fontsize=7)
    fig.tight_layout()
    caption(fig, setting)
    return fig


# -- 02 sensitivity -------------------------------------------------------------------------------
def _drop_norm() -> SymLogNorm:
    """One colour scale for every sensitivity map: 0-100 points, logarithmic above 1 point (so 0.9 and 80 both show)."""
    return SymLogNorm(linthresh=1.0, linscale=0.5, vmin=0.0, vmax=100.0, base=10)


def _drop_ticks(bar) -> None:
    """Plain-number ticks on a drop colour bar (the symmetric-log scale would print 10^k)."""
    bar.set_ticks([0, 0.5, 1, 2, 5, 10, 20, 50, 100])
    bar.set_ticklabels(["0", "0.5", "1", "2", "5", "10", "20", "50", "100"])
    bar.ax.tick_params(labelsize=7)
    bar.ax.yaxis.set_minor_formatter(NullFormatter())


def sensitivity_panels(table: pd.DataFrame, value: str = "accuracy", title: str = "", setting: str = ""):
    """One heat-map panel per stage: rows = layer group (block : kind), columns = FP32 then bits high to low.

    Numbers: search accuracy (%); colour: drop vs FP32 in points on one symmetric-log scale shared by every
    map (comparable across quantizers), with a colour bar.
    """
    style()
    groups = table[table.sweep == "group"].copy()
    groups["group"] = groups.block + " : " + groups.layer_kind
    fp32 = float((groups.accuracy + groups["drop"] / 100).median())  # accuracy + drop is FP32's accuracy in every row
    stages = list(dict.fromkeys(groups.stage))
    heights = [groups[groups.stage == s].group.nunique() for s in stages]
    fig, axes = plt.subplots(len(stages), 1, figsize=(7.5, 0.22 * sum(heights) + 0.6 * len(stages) + 1.4), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    scale = 100 if value == "accuracy" else 1
    norm, cmap = _drop_norm(), "RdYlGn_r"
    for ax, stage in zip(axes[:, 0], stages, strict=True):
        sub = groups[groups.stage == stage]
        order = sorted(sub.bits.unique(), reverse=True)
        drop = sub.pivot_table(index="group", columns="bits", values="drop", sort=False)[order].clip(lower=0)
        shown = sub.pivot_table(index="group", columns="bits", values=value, sort=False)[order] * scale
        drop.insert(0, "FP32", 0.0)
        shown.insert(0, "FP32", fp32 * scale)
        sns.heatmap(drop, ax=ax, annot=shown, fmt=".1f", cmap=cmap, norm=norm, cbar=False, annot_kws={"fontsize": 7})
        ax.set_ylabel(f"stage {stage}", fontsize=9)
        ax.set_xlabel("weight bits of this group only (others FP32)" if ax is axes[-1, 0] else "")
        ax.tick_params(axis="y", labelsize=7, rotation=0)
        if ax is not axes[-1, 0]:
            ax.set_xticklabels([])
    axes[0, 0].set_title(title + "\nnumbers: search accuracy (%); colour: drop vs FP32 (pp)", fontsize=9)
    fig.tight_layout()
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes[:, 0].tolist(), fraction=0.04, pad=0.02)
    bar.set_label("accuracy drop vs FP32 (pp, log above 1)", fontsize=8)
    _drop_ticks(bar)
    caption(fig, setting)
    return fig


def uniform_sweeps(tables: dict[str, pd.DataFrame], setting: str = ""):
    """Left: the whole network at one width, one line per scheme. Right: one layer kind network-wide at a time,
    a map of drops (rows: scheme and width; columns: layer kind) on the sensitivity maps' colour scale."""
    style()
    kinds = pd.concat([t[t.sweep == "kind"].assign(scheme=s) for s, t in tables.items()])
    kinds["variant"] = kinds.scheme + ", " + kinds.bits.astype(str) + " bits"
    grid = kinds.pivot_table(index="variant", columns="layer_kind", values="drop", sort=False)
    fig, axes = plt.subplots(1, 2, figsize=(14, max(4.2, 0.3 * len(grid) + 1.8)), gridspec_kw={"width_ratios": [1, 1.3]})
    ticks: set[int] = set()
    for scheme, t in tables.items():
        net = t[t.sweep == "network"].sort_values("bits")
        ticks.update(int(b) for b in net.bits)
        axes[0].plot(net.bits, net.accuracy * 100, marker="o", label=scheme)
    axes[0].set(xlabel="weight bits (whole network)", ylabel="search accuracy (%)", title="Uniform precision, whole network")
    axes[0].set_xscale("log", base=2)
    axes[0].set_xticks(sorted(ticks), [str(b) for b in sorted(ticks)])
    axes[0].minorticks_off()
    axes[0].legend(fontsize=8)
    norm = _drop_norm()
    sns.heatmap(grid.clip(lower=0), ax=axes[1], annot=grid, fmt=".1f", cmap="RdYlGn_r", norm=norm, annot_kws={"fontsize": 7},
                cbar_kws={"label": "accuracy drop vs FP32 (pp)"}, linewidths=0.3, linecolor="white")
    _drop_ticks(axes[1].collections[0].colorbar)
    axes[1].set(xlabel="layer kind (all blocks at once, others FP32)", ylabel="", title="One layer kind at a time (drop, pp)")
    axes[1].tick_params(axis="y", labelsize=7, rotation=0)
    axes[1].tick_params(axis="x", labelsize=8, rotation=30)
    fig.tight_layout()
    caption(fig, setting)
    return fig


# -- 03 / 04 searches --------------------------------------------------------------------------------
def search_trace(trace: pd.DataFrame, fp32_bytes: int, title: str = "", setting: str = ""):
    """Memory of every candidate in evaluation order, coloured by the gate / search decision."""
    style()
    fig, ax = plt.subplots(figsize=(10, 4))
    for decision, df in trace.groupby("decision"):
        ax.scatter(df["index"], df.memory_bytes / fp32_bytes * 100, s=18, label=f"{decision} ({len(df)})",
                   color=DECISION_COLORS.get(str(decision)))
    best = trace[trace.decision.isin(["accepted", "kept"])]
    if len(best):
        ax.step(best["index"], best.memory_bytes.cummin() / fp32_bytes * 100, where="post", color="k", lw=1, label="best feasible so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="candidate (evaluation order)", ylabel="memory (% of FP32)", title=title)
    _legend_outside(ax)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def bit_map(maps: dict[str, pd.DataFrame], bits: tuple[int, ...] | list[int], title: str = "", setting: str = ""):
    """Exact width of every layer group (columns, forward order) in each method's answer (rows), discrete colours.

    ``maps``: label -> :func:`report.group_bits` table (``group``, ``bits``). A group whose layers got different
    widths shows its narrowest width with a ``*``.
    """
    style()
    widths = sorted({int(b) for b in bits} | {int(b) for m in maps.values() for b in m.bits}, reverse=True)
    cols = list(dict.fromkeys(g for m in maps.values() for g in m.group))
    grid = pd.DataFrame({label: m.set_index("group").bits for label, m in maps.items()}).T.reindex(columns=cols)
    mixed = pd.DataFrame({label: m.set_index("group").mixed for label, m in maps.items()}).T.reindex(columns=cols).fillna(False)
    index = {w: i for i, w in enumerate(widths)}
    cmap = ListedColormap([bit_color(w) for w in widths])
    norm = BoundaryNorm(np.arange(len(widths) + 1) - 0.5, len(widths))
    codes = grid.apply(lambda col: col.map(index))
    annot = grid.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else str(int(v)))) + mixed.map(lambda m: "*" if m else "")
    fig, ax = plt.subplots(figsize=(max(9, 0.2 * len(cols) + 3), 0.45 * len(grid) + 2.6))
    sns.heatmap(codes, annot=annot, fmt="", cmap=cmap, norm=norm, cbar=False, ax=ax, annot_kws={"fontsize": 6}, linewidths=0.3,
                linecolor="white")
    handles = [plt.Rectangle((0, 0), 1, 1, color=bit_color(w)) for w in widths]
    ax.legend(handles, [f"{w} bits" if w != 32 else "FP32" for w in widths], title="weight width", loc="upper left",
              bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax.set(xlabel="layer group (block : kind), forward order", ylabel="", title=title)
    ax.tick_params(axis="x", rotation=90, labelsize=6)
    ax.tick_params(axis="y", rotation=0, labelsize=8)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def phase_times(df: pd.DataFrame, title: str = "", setting: str = ""):
    style()
    fig, ax = plt.subplots(figsize=(7, 3))
    sns.barplot(data=df, y="phase", x="seconds", ax=ax, color="#2a9d8f")
    ax.set(xlabel="wall-clock time (s)", ylabel="", title=title)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def expsettings(explored: pd.DataFrame, floor: float, fp32_bytes: int, setting: str = ""):
    """QSViT Algorithm 3: each ExpSetting's search accuracy (top) and the memory it would give (bottom).

    A setting rejected before its full evaluation (early rejection) has no accuracy: drawn hatched, labelled.
    """
    style()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    x = np.arange(len(explored))
    acc = explored.search_accuracy * 100
    measured = acc.notna()
    colors = explored.kept.map({True: DECISION_COLORS["kept"], False: DECISION_COLORS["rejected"]})
    lo = max(0.0, float(acc[measured].min()) - 3) if measured.any() else 0.0
    top.bar(x[measured], acc[measured] - lo, bottom=lo, color=colors[measured])
    if (~measured).any():
        top.bar(x[~measured], (floor * 100 - lo), bottom=lo, color="none", edgecolor=DECISION_COLORS["rejected_early"], hatch="//",
                label="rejected early (no full accuracy)")
    top.axhline(floor * 100, color="k", ls="--", lw=1, label="target: FP32 − Δ")
    top.set(ylabel="search accuracy (%)", ylim=(lo, min(100.0, float(acc.max(skipna=True) if measured.any() else 100) + 2)),
            title=f"QSViT Algorithm 3: ExpSettings (y axis from {lo:.0f} %)\ngreen: kept; red: rejected by the constraint "
                  "(below the target, or above it by less than the search margin)")
    top.legend(fontsize=8)
    bottom.bar(x, explored.memory_bytes / fp32_bytes * 100, color=colors)
    bottom.set(ylabel="memory (% of FP32)", xlabel="ExpSetting")
    bottom.set_xticks(x, explored.exp_setting.astype(str), rotation=60, ha="right", fontsize=7)
    fig.tight_layout()
    caption(fig, setting)
    return fig


# -- 05 comparison ----------------------------------------------------------------------------------
def _final_marker(ax, row, x: float, y: float):
    ax.scatter(x, y, s=140, marker=METHOD_MARKERS.get(row.method, "o"), facecolor="none", linewidth=2,
               edgecolor=METHOD_COLORS.get(row.method), label=f"{method_name(row.method)} answer", zorder=5)


def pareto_scatter(points: dict[str, pd.DataFrame], finals: pd.DataFrame, floor: dict[str, float], setting: str = ""):
    """Every feasible config (accuracy vs memory) with the front, and each method's final config."""
    style()
    models = list(points)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        df = points[model]
        ax.scatter(df.saving_vs_fp32 * 100, df.search_accuracy * 100, s=10, color="#adb5bd", label="feasible configs")
        front = df[df.on_front].sort_values("saving_vs_fp32")
        ax.plot(front.saving_vs_fp32 * 100, front.search_accuracy * 100, color="k", lw=1, label="Pareto front")
        for row in finals[finals.model == model].itertuples():
            _final_marker(ax, row, row.saving_vs_fp32 * 100, row.search_accuracy * 100)
        if model in floor:
            ax.axhline(floor[model] * 100, color="k", ls="--", lw=0.8, label="FP32 − Δ")
        ax.set(xlabel="memory saving vs FP32 (%)", ylabel="search accuracy (%)", title=model)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    caption(fig, setting)
    return fig


def search_time_bars(table: pd.DataFrame, setting: str = ""):
    style()
    df = table.assign(Method=table.method.map(method_name))
    palette = {method_name(m): c for m, c in METHOD_COLORS.items()}
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.8))
    sns.barplot(data=df, x="model", y="search_seconds", hue="Method", palette=palette, ax=axes[0], legend=False)
    axes[0].set(ylabel="search wall-clock time (s)", xlabel="", title="Search time")
    sns.barplot(data=df, x="model", y="images_forwarded", hue="Method", palette=palette, ax=axes[1])
    axes[1].set(ylabel="images forwarded", xlabel="", title="Images forwarded", yscale="log")
    _legend_outside(axes[1])
    fig.tight_layout()
    caption(fig, setting)
    return fig


def accuracy_fronts(points: dict[str, dict[str, pd.DataFrame]], finals: pd.DataFrame, fp32: dict[str, float], n_search: int,
                    delta: float, setting: str = ""):
    """Each method's own accuracy-memory front (its feasible configs), FP32, the target, and the search split's noise.

    The band is FP32 ± 1.96 binomial standard errors of one accuracy on ``n_search`` images: differences
    inside it are within the split's noise.
    """
    style()
    models = list(points)
    fig, axes = plt.subplots(1, len(models), figsize=(5.4 * len(models), 4.4), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        p = fp32[model]
        half = 196 * math.sqrt(p * (1 - p) / n_search)
        ax.axhspan(p * 100 - half, p * 100 + half, color="#dee2e6", alpha=0.7, label=f"FP32 ± 1.96 SE (n = {n_search})")
        ax.axhline(p * 100, color="k", lw=1, label="FP32")
        ax.axhline(p * 100 - delta, color="k", ls="--", lw=0.8, label="FP32 − Δ")
        for method, df in points[model].items():
            if not len(df):
                continue
            front = df.sort_values("saving_vs_fp32", ascending=False)
            front = front[front.search_accuracy >= front.search_accuracy.cummax()].sort_values("saving_vs_fp32")
            ax.step(front.saving_vs_fp32 * 100, front.search_accuracy * 100, where="post", color=METHOD_COLORS.get(method), lw=1.2,
                    label=f"{method_name(method)} front")
        for row in finals[finals.model == model].itertuples():
            _final_marker(ax, row, row.saving_vs_fp32 * 100, row.search_accuracy * 100)
        ax.set(xlabel="memory saving vs FP32 (%)", ylabel="search accuracy (%)", title=model)
    axes[0, -1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    caption(fig, setting)
    return fig


def split_accuracies(table: pd.DataFrame, sizes: dict[str, int], delta: float, setting: str = ""):
    """Each answer's accuracy drop on search, verify and test with 95 % error bars (binomial SE of the split).

    The search split chose the answer, verify checked it, test reports it; Δ is the dashed line.
    """
    style()
    models = list(dict.fromkeys(table.model))
    splits = ["search", "verify", "test"]
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False, sharey=True)
    methods = list(dict.fromkeys(table.method))
    width = 0.8 / max(1, len(methods))
    for ax, model in zip(axes[0], models, strict=True):
        sub = table[table.model == model].set_index("method")
        for j, method in enumerate(methods):
            if method not in sub.index:
                continue
            row = sub.loc[method]
            drops = [row[f"{s}_drop_pts"] for s in splits]
            accs = [row[f"{s}_accuracy"] for s in splits]
            err = [196 * math.sqrt(a * (1 - a) / sizes[s]) for a, s in zip(accs, splits, strict=True)]
            x = np.arange(len(splits)) + (j - (len(methods) - 1) / 2) * width
            ax.errorbar(x, drops, yerr=err, fmt=METHOD_MARKERS.get(method, "o"), color=METHOD_COLORS.get(method), capsize=3,
                        label=method_name(method))
        ax.axhline(delta, color="k", ls="--", lw=0.8, label="Δ")
        ax.axhline(0, color="#868e96", lw=0.6)
        ax.set_xticks(range(len(splits)), [f"{s}\n(n = {sizes[s]})" for s in splits])
        ax.set(ylabel="accuracy drop vs FP32 on the split (pp)", title=model)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    caption(fig, setting)
    return fig


# -- 07 peer baselines ------------------------------------------------------------------------------
def anytime_curves(curves: dict[str, dict[str, pd.DataFrame]], best_known: dict[str, float], setting: str = ""):
    """Best feasible memory saving after n full evaluations, one panel per model, one line per method."""
    style()
    models = list(curves)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for method, df in curves[model].items():
            ax.step(df.full_evaluations, df.saving_vs_fp32 * 100, where="post", color=METHOD_COLORS.get(method), label=method_name(method))
        if model in best_known:
            ax.axhline(best_known[model] * 100, color="k", ls=":", lw=0.8, label="best known feasible")
        ax.set(xlabel="full evaluations on search (log)", ylabel="best feasible saving vs FP32 (%)", title=model, xscale="log")
        _log_axis(ax.xaxis)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    caption(fig, setting)
    return fig


def peer_fronts(points: dict[str, dict[str, pd.DataFrame]], finals: pd.DataFrame, floor: dict[str, float], setting: str = ""):
    """Each method's feasible configurations (accuracy vs memory saving) and its answer, one panel per model."""
    style()
    models = list(points)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for method, df in points[model].items():
            ax.scatter(df.saving_vs_fp32 * 100, df.search_accuracy * 100, s=12, alpha=0.5, color=METHOD_COLORS.get(method),
                       marker=METHOD_MARKERS.get(method, "o"), label=f"{method_name(method)} (feasible)")
        for row in finals[finals.model == model].itertuples():
            ax.scatter(row.saving_vs_fp32 * 100, row.search_accuracy * 100, s=120, facecolor="none", linewidth=2,
                       edgecolor=METHOD_COLORS.get(row.method), marker=METHOD_MARKERS.get(row.method, "o"), zorder=5)
        if model in floor:
            ax.axhline(floor[model] * 100, color="k", ls="--", lw=0.8, label="FP32 − Δ")
        ax.set(xlabel="memory saving vs FP32 (%)", ylabel="search accuracy (%)", title=f"{model} (circled: each answer)")
    axes[0, -1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    caption(fig, setting)
    return fig


# -- 06 drift -----------------------------------------------------------------------------------------
def spearman_ci(rho: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Approximate 95 % interval of Spearman's ρ (Fisher z with Bonett-Wright's variance 1.06 / (n - 3))."""
    if n <= 3 or not np.isfinite(rho):
        return float("nan"), float("nan")
    c, half = np.arctanh(np.clip(rho, -0.999999, 0.999999)), z * math.sqrt(1.06 / (n - 3))
    return float(np.tanh(c - half)), float(np.tanh(c + half))


def drift_vs_drop(df: pd.DataFrame, tau: float | None, delta: float, rho: float, title: str = "", x: str = "drift_increase",
                  setting: str = ""):
    """Gate score (default: drift added by the move) vs accuracy drop, marked by what the gate decided."""
    style()
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    pruned = df.decision.isin(["pruned_drift", "pruned_rank"])
    feasible = df.feasible.astype(bool) if "feasible" in df else df.drop_pts <= delta + 1e-9
    for mask, label, color, marker in (
        (~pruned & feasible, "evaluated, feasible", DECISION_COLORS["accepted"], "o"),
        (~pruned & ~feasible, "evaluated, infeasible", DECISION_COLORS["rejected"], "o"),
        (pruned & feasible, "pruned by the gate, feasible (false prune)", DECISION_COLORS["pruned_rank"], "x"),
        (pruned & ~feasible, "pruned by the gate, infeasible", DECISION_COLORS["pruned_drift"], "+"),
    ):
        if mask.any():
            ax.scatter(df[x][mask], df.drop_pts[mask], s=22, color=color, marker=marker, label=f"{label} ({int(mask.sum())})")
    ax.axhline(delta, color="k", ls="--", lw=0.8, label=f"Δ = {delta:g} pp")
    if tau is not None and np.isfinite(tau):
        ax.axvline(tau, color=DECISION_COLORS["pruned_drift"], lw=1.2, label=f"τ = {tau:.3g}")
    xlabel = {"drift_increase": "drift added by the move (candidate − parent, mean relative L2 over layers)",
              "drift": "membrane-potential drift vs FP32 (mean relative L2 over layers)"}.get(x, x)
    lo, hi = spearman_ci(rho, len(df))
    ax.set(xlabel=xlabel, ylabel="accuracy drop on search (pp, symlog)",
           title=f"{title}\nn = {len(df)} candidates, Spearman ρ = {rho:.2f} (95 % CI {lo:.2f} to {hi:.2f})")
    _symlog_points(ax)
    ax.xaxis.set_major_locator(MaxNLocator(6))
    _legend_outside(ax, fontsize=7)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def _log_axis(axis) -> None:
    """Log axis with numbered ticks even inside one decade (1-2-5 steps when it spans at most two decades, powers of
    ten beyond), and no crowded minor labels."""
    lo, hi = sorted(v for v in axis.get_view_interval() if v > 0) if min(axis.get_view_interval()) > 0 else (1.0, 10.0)
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if hi / lo <= 100 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _symlog_points(ax, linthresh: float = 1.0) -> None:
    """A y axis in points that is linear near 0 and logarithmic beyond, ticked with plain numbers."""
    ax.set_yscale("symlog", linthresh=linthresh)
    steps = [0, 0.5, 1, 2, 5, 10, 20, 50, 100]
    ax.yaxis.set_major_locator(FixedLocator(sorted({-v for v in steps} | set(steps))))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def tau_sweep(sweep: pd.DataFrame, used: dict[str, float] | None = None, title: str = "", setting: str = ""):
    """Precision and recall of a threshold gate's prunes as τ varies (:func:`report.tau_sweep`), and how many it prunes.

    ``used``: label -> τ a search calibrated (levels with the same τ share one line).
    """
    style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 3.8))
    ax.plot(sweep.tau, sweep.precision, marker=".", label="precision (pruned that were infeasible)")
    ax.plot(sweep.tau, sweep.recall, marker=".", label="recall (infeasible that were pruned)")
    ax2.plot(sweep.tau, sweep.pruned, marker=".", color="#6d597a")
    lines: dict[float, list[str]] = {}
    for label, tau in (used or {}).items():
        if tau is not None and np.isfinite(tau):
            lines.setdefault(round(float(tau), 12), []).append(label)
    for i, (tau, labels) in enumerate(sorted(lines.items())):
        color = STAGE_PALETTE[(i + 3) % len(STAGE_PALETTE)]
        ax.axvline(tau, color=color, ls=":", lw=1.2, label=f"τ = {tau:.3g}: " + ", ".join(labels))
        ax2.axvline(tau, color=color, ls=":", lw=1.2)
    ax.set(xscale="log", xlabel="τ on the drift added by the move (log)", ylabel="fraction", ylim=(0, 1.05), title=title)
    ax2.set(xscale="log", xlabel="τ (log)", ylabel="candidates pruned", title="How many the gate would prune")
    for a in (ax, ax2):
        _log_axis(a.xaxis)
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(0.0, -0.25), ncol=2)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def gate_ablation(table: pd.DataFrame, setting: str = ""):
    """The same search with different gates: full evaluations, images forwarded (the cost, deterministic) and the
    answer's memory saving. Wall-clock times are in the timings table, not in figure bytes."""
    style()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), sharey=True)
    y = np.arange(len(table))
    for ax, col, label in zip(axes, ("full", "images_forwarded", "saving_vs_fp32"),
                              ("full evaluations on search", "images forwarded", "answer's memory saving vs FP32 (%)"), strict=True):
        values = table[col] * (100 if col == "saving_vs_fp32" else 1)
        ax.barh(y, values, color=[METHOD_COLORS.get(m, "#8d99ae") for m in table.method])
        for yi, v in zip(y, values, strict=True):
            ax.text(v, yi, f" {v:.1f}" if col == "saving_vs_fp32" else f" {v:,.0f}", va="center", fontsize=7)
        ax.set(xlabel=label)
        if col == "saving_vs_fp32":
            ax.set_xlim(max(0.0, float(values.min()) - 5), 100)
    axes[0].set_yticks(y, table.run)
    axes[0].invert_yaxis()
    fig.suptitle("Gate ablation: same model, settings and engine; only the gate differs", fontsize=10)
    fig.tight_layout()
    caption(fig, setting)
    return fig
