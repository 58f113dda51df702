"""Figures, drawn from the tidy tables of :mod:`aq4svit_lib.report` and the result folders.

Every function takes DataFrames / dicts and returns a matplotlib Figure; :func:`save` writes PNG
and PDF. Axis labels carry units; the styling is seaborn's ``whitegrid`` with the colorblind palette.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

DECISION_COLORS = {
    "accepted": "#2a9d8f", "kept": "#2a9d8f", "measured": "#8d99ae", "rejected": "#e76f51", "rejected_margin": "#e9c46a", "rejected_early": "#f4a261",
    "pruned_drift": "#6d597a", "pruned_rank": "#9d4edd", "pruned_minibatch": "#b56576", "repair": "#264653",
}
METHOD_COLORS = {"qsvit": "#e76f51", "greedy": "#2a9d8f", "beam": "#264653", "sensitivity-ilp": "#e9c46a", "optuna": "#9d4edd",
                 "random": "#8d99ae"}
METHOD_MARKERS = {"qsvit": "*", "greedy": "o", "beam": "D", "sensitivity-ilp": "s", "optuna": "^", "random": "x"}


def style() -> None:
    sns.set_theme(style="whitegrid", palette="colorblind", context="notebook")
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight"})


def save(fig, name: str, directory: str | Path) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"{name}.png", directory / f"{name}.pdf"]
    for p in paths:  # no creation date: re-rendering unchanged results must leave the files (and git) unchanged
        fig.savefig(p, metadata={"CreationDate": None} if p.suffix == ".pdf" else {})
    return paths


# -- 01 models ------------------------------------------------------------------------------------
def memory_share(breakdowns: dict[str, pd.DataFrame]):
    """Stacked bars: share of FP32 memory per stage, one bar per model; and per block."""
    style()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [1, 2]})
    stages = pd.DataFrame({m: df.groupby("stage", sort=False).share.sum() for m, df in breakdowns.items()}).T.fillna(0)
    stages.mul(100).plot.bar(stacked=True, ax=axes[0], rot=0)
    axes[0].set(ylabel="share of FP32 memory (%)", xlabel="", title="Memory per stage")
    axes[0].legend(title="stage", fontsize=8)
    for m, df in breakdowns.items():
        axes[1].plot(range(len(df)), df.share * 100, marker="o", label=m)
    longest = max(breakdowns.values(), key=len)
    axes[1].set_xticks(range(len(longest)), longest.block, rotation=75, fontsize=7)
    axes[1].set(ylabel="share of FP32 memory (%)", title="Memory per block (in forward order)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def firing_rates(rates: dict[str, pd.DataFrame]):
    style()
    fig, axes = plt.subplots(len(rates), 1, figsize=(12, 2.6 * len(rates)), squeeze=False)
    for ax, (model, df) in zip(axes[:, 0], rates.items(), strict=True):
        sns.barplot(data=df, x="order", y="rate", hue="stage", dodge=False, ax=ax, legend=ax is axes[0, 0])
        ax.set(xlabel="spiking neuron layer (forward order)", ylabel="mean output per step", title=model)
        ax.set_xticks([])
    fig.tight_layout()
    return fig


# -- 02 sensitivity -------------------------------------------------------------------------------
def sensitivity_panels(table: pd.DataFrame, value: str = "accuracy", title: str = ""):
    """One heat-map panel per stage (stacked, equal row height): rows = layer group (block : kind), columns = bits."""
    style()
    groups = table[table.sweep == "group"].copy()
    groups["group"] = groups.block + " : " + groups.layer_kind
    stages = list(dict.fromkeys(groups.stage))
    heights = [groups[groups.stage == s].group.nunique() for s in stages]
    fig, axes = plt.subplots(len(stages), 1, figsize=(7, 0.22 * sum(heights) + 0.6 * len(stages) + 1), squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    scale = 100 if value == "accuracy" else 1
    vmax = max(10.0, float(groups["drop"].max()))  # colour = drop in points; noise-level drops stay pale
    for ax, stage in zip(axes[:, 0], stages, strict=True):
        sub = groups[groups.stage == stage]
        order = sorted(sub.bits.unique(), reverse=True)
        drop = sub.pivot_table(index="group", columns="bits", values="drop", sort=False)[order]
        shown = sub.pivot_table(index="group", columns="bits", values=value, sort=False)[order] * scale
        sns.heatmap(drop, ax=ax, annot=shown, fmt=".1f", cmap="RdYlGn_r", vmin=0, vmax=vmax, cbar=False, annot_kws={"fontsize": 7})
        ax.set_ylabel(f"stage {stage}", fontsize=9)
        ax.set_xlabel("weight bits (only this group quantized)" if ax is axes[-1, 0] else "")
        ax.tick_params(axis="y", labelsize=7)
        if ax is not axes[-1, 0]:
            ax.set_xticklabels([])
    axes[0, 0].set_title(title + ("\nnumbers: accuracy on search (%); colour: drop vs FP32, 0 (green) to " + f"{vmax:.0f}+ points (red)"), fontsize=9)
    fig.tight_layout()
    return fig


def uniform_sweeps(tables: dict[str, pd.DataFrame]):
    """Whole-network and per-kind uniform precision sweeps, one line per scheme."""
    style()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for scheme, t in tables.items():
        net = t[t.sweep == "network"].sort_values("bits")
        axes[0].plot(net.bits, net.accuracy * 100, marker="o", label=scheme)
    axes[0].set(xlabel="weight bits (whole network)", ylabel="search accuracy (%)", title="Uniform precision, whole network")
    axes[0].set_xscale("log", base=2)
    axes[0].legend()
    rows = []
    for scheme, t in tables.items():
        k = t[t.sweep == "kind"].copy()
        k["scheme"] = scheme
        rows.append(k)
    kinds = pd.concat(rows)
    kinds["label"] = kinds.layer_kind + " @" + kinds.bits.astype(str)
    sns.barplot(data=kinds, x="layer_kind", y="drop", hue=kinds.scheme + " " + kinds.bits.astype(str) + "b", ax=axes[1])
    axes[1].set(xlabel="layer kind (all blocks at once)", ylabel="accuracy drop (points)", title="One layer kind at a time")
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


# -- 03 / 04 searches --------------------------------------------------------------------------------
def search_trace(trace: pd.DataFrame, fp32_bytes: int, title: str = ""):
    """Memory of every candidate in evaluation order, coloured by the gate / search decision."""
    style()
    fig, ax = plt.subplots(figsize=(10, 4))
    for decision, df in trace.groupby("decision"):
        ax.scatter(df["index"], df.memory_bytes / fp32_bytes * 100, s=18, label=decision, color=DECISION_COLORS.get(decision))
    best = trace[trace.decision.isin(["accepted", "kept"])]
    if len(best):
        ax.step(best["index"], best.memory_bytes.cummin() / fp32_bytes * 100, where="post", color="k", lw=1, label="best feasible so far")
    ax.set(xlabel="candidate (evaluation order)", ylabel="memory (% of FP32)", title=title)
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    return fig


def bit_map(maps: dict[str, pd.DataFrame]):
    """Mean bits per block (rows = method, columns = blocks)."""
    style()
    df = pd.DataFrame({label: m.set_index("block").mean_bits for label, m in maps.items()}).T
    fig, ax = plt.subplots(figsize=(max(8, 0.55 * df.shape[1]), 0.6 * df.shape[0] + 1.8))
    sns.heatmap(df, annot=True, fmt=".0f", cmap="viridis_r", cbar_kws={"label": "weight bits (parameter-weighted mean)"}, ax=ax,
                annot_kws={"fontsize": 8}, vmin=2, vmax=32)
    ax.set(xlabel="block", ylabel="")
    ax.tick_params(axis="x", rotation=75, labelsize=8)
    fig.tight_layout()
    return fig


def phase_times(df: pd.DataFrame, title: str = ""):
    style()
    fig, ax = plt.subplots(figsize=(7, 3))
    sns.barplot(data=df, y="phase", x="seconds", ax=ax, color="#2a9d8f")
    ax.set(xlabel="wall-clock time (s)", ylabel="", title=title)
    fig.tight_layout()
    return fig


def expsettings(explored: pd.DataFrame, floor: float, fp32_bytes: int):
    style()
    fig, ax = plt.subplots(figsize=(9, 3.5))
    colors = explored.kept.map({True: DECISION_COLORS["kept"], False: DECISION_COLORS["rejected"]})
    acc = explored.search_accuracy.fillna(0) * 100
    ax.bar(explored.exp_setting, acc, color=colors)
    ax.axhline(floor * 100, color="k", ls="--", lw=1, label="target (FP32 - delta)")
    ax.set(xlabel="ExpSetting", ylabel="search accuracy (%)", ylim=(max(0, acc[acc > 0].min() - 5) if (acc > 0).any() else 0, 100))
    ax.legend()
    fig.tight_layout()
    return fig


# -- 05 comparison ----------------------------------------------------------------------------------
def pareto_scatter(points: dict[str, pd.DataFrame], finals: pd.DataFrame, floor: dict[str, float]):
    """Every feasible config (accuracy vs memory) with the front, and each method's final config."""
    style()
    models = list(points)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        df = points[model]
        ax.scatter(df.saving_vs_fp32 * 100, df.search_accuracy * 100, s=10, color="#adb5bd", label="feasible configs")
        front = df[df.on_front].sort_values("saving_vs_fp32")
        ax.plot(front.saving_vs_fp32 * 100, front.search_accuracy * 100, color="k", lw=1, label="Pareto front")
        for row in finals[finals.model == model].itertuples():
            big = row.method == "qsvit"
            ax.scatter(row.saving_vs_fp32 * 100, row.search_accuracy * 100, s=160 if big else 70, marker=METHOD_MARKERS.get(row.method, "o"),
                       facecolor=METHOD_COLORS.get(row.method) if big else "none", edgecolor=METHOD_COLORS.get(row.method), linewidth=2,
                       label=f"{row.method} result", zorder=5)
        if model in floor:
            ax.axhline(floor[model] * 100, color="k", ls="--", lw=0.8, label="FP32 - delta")
        ax.set(xlabel="memory saving vs FP32 (%)", ylabel="search accuracy (%)", title=model)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def search_time_bars(table: pd.DataFrame):
    style()
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    sns.barplot(data=table, x="model", y="search_seconds", hue="method", palette=METHOD_COLORS, ax=axes[0])
    axes[0].set(ylabel="search wall-clock time (s)", xlabel="", title="Search time")
    sns.barplot(data=table, x="model", y="images_forwarded", hue="method", palette=METHOD_COLORS, ax=axes[1])
    axes[1].set(ylabel="images forwarded", xlabel="", title="Images forwarded", yscale="log")
    fig.tight_layout()
    return fig


# -- 07 peer baselines ------------------------------------------------------------------------------
def anytime_curves(curves: dict[str, dict[str, pd.DataFrame]], best_known: dict[str, float]):
    """Best feasible memory saving after n full evaluations, one panel per model, one line per method."""
    style()
    models = list(curves)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 3.8), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for method, df in curves[model].items():
            ax.step(df.full_evaluations, df.saving_vs_fp32 * 100, where="post", color=METHOD_COLORS.get(method), label=method)
        if model in best_known:
            ax.axhline(best_known[model] * 100, color="k", ls=":", lw=0.8, label="best known feasible")
        ax.set(xlabel="full evaluations on search", ylabel="best feasible saving vs FP32 (%)", title=model, xscale="log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def peer_fronts(points: dict[str, dict[str, pd.DataFrame]], finals: pd.DataFrame, floor: dict[str, float]):
    """Each method's feasible configurations (accuracy vs memory saving) and its answer, one panel per model."""
    style()
    models = list(points)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for method, df in points[model].items():
            ax.scatter(df.saving_vs_fp32 * 100, df.search_accuracy * 100, s=12, alpha=0.5, color=METHOD_COLORS.get(method),
                       marker=METHOD_MARKERS.get(method, "o"), label=f"{method} (feasible)")
        for row in finals[finals.model == model].itertuples():
            ax.scatter(row.saving_vs_fp32 * 100, row.search_accuracy * 100, s=120, facecolor="none", linewidth=2,
                       edgecolor=METHOD_COLORS.get(row.method), marker=METHOD_MARKERS.get(row.method, "o"), zorder=5)
        if model in floor:
            ax.axhline(floor[model] * 100, color="k", ls="--", lw=0.8, label="FP32 - delta")
        ax.set(xlabel="memory saving vs FP32 (%)", ylabel="search accuracy (%)", title=f"{model} (circled: each answer)")
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


# -- 06 drift -----------------------------------------------------------------------------------------
def drift_vs_drop(df: pd.DataFrame, tau: float | None, delta: float, rho: float, title: str = "", x: str = "drift_increase"):
    """Gate score (default: drift added by the move) vs accuracy drop, marked by what the gate decided."""
    style()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    pruned = df.decision.isin(["pruned_drift", "pruned_rank"])
    feasible = df.drop_pts <= delta + 1e-9
    for mask, label, color, marker in (
        (~pruned & feasible, "evaluated, meets Δ", DECISION_COLORS["accepted"], "o"),
        (~pruned & ~feasible, "evaluated, violates Δ", DECISION_COLORS["rejected"], "o"),
        (pruned & feasible, "pruned by the gate, meets Δ (false prune)", DECISION_COLORS["pruned_rank"], "x"),
        (pruned & ~feasible, "pruned by the gate, violates Δ", DECISION_COLORS["pruned_drift"], "+"),
    ):
        if mask.any():
            ax.scatter(df[x][mask], df.drop_pts[mask], s=22, color=color, marker=marker, label=f"{label} ({int(mask.sum())})")
    ax.axhline(delta, color="k", ls="--", lw=0.8, label=f"Δ = {delta} points")
    if tau is not None and np.isfinite(tau):
        ax.axvline(tau, color=DECISION_COLORS["pruned_drift"], lw=1.2, label=f"τ = {tau:.3g}")
    xlabel = {"drift_increase": "drift added by the move (candidate − parent, mean relative L2 over layers)",
              "drift": "membrane-potential drift vs FP32 (mean relative L2 over layers)"}.get(x, x)
    ax.set(xlabel=xlabel, ylabel="accuracy drop on search (points)", title=f"{title}  n = {len(df)}, Spearman ρ = {rho:.2f}")
    ax.set_yscale("symlog", linthresh=2.0)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig
