"""Figures, drawn from the tidy tables of :mod:`aq4svit_lib.report` and the result folders.

Every function takes DataFrames / dicts and returns a matplotlib Figure; :func:`save` writes PNG and PDF
byte-deterministically. Names, colours and units come from :mod:`aq4svit_lib.plot_style`; ``setting`` (see
:func:`plot_style.setting`) is printed under every figure so a figure names what it shows.

Conventions every function keeps: FP32 is a neutral grey dashed line (no method has that colour or style), the
target ``FP32 − Δ`` a thin black line; methods differ by colour *and* line style / marker, so a front or curve
drawn under another stays visible; bars start at 0; every band and error bar says in the legend what it is.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import BoundaryNorm, ListedColormap, SymLogNorm
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from .plot_style import DECISION_COLORS, METHOD_COLORS, METHOD_MARKERS, bit_color, method_name, stage_color

__all__ = ["DECISION_COLORS", "METHOD_COLORS", "METHOD_MARKERS"]  # re-exported for older notebooks

#: FP32's reference line: neutral grey, dashed (distinct from every method colour, all of which are saturated or dark)
FP32_LINE = {"color": "#a6a6a6", "ls": (0, (6, 3)), "lw": 1.6}
#: the target FP32 − Δ
FLOOR_LINE = {"color": "k", "ls": "-", "lw": 0.9}
#: one-sided 99 % normal quantile: the searches' confidence margin (floor + z · paired SE)
Z_99 = 2.326
#: line style per method, so curves that coincide stay distinguishable (with the draw order and widths below)
METHOD_LINESTYLES = {"qsvit": "-", "greedy": (0, (5, 2)), "beam": "-", "sensitivity-ilp": "-.", "optuna": (0, (1, 1.5)),
                     "random": (0, (4, 1, 1, 1)), "paper": "-"}
#: wide lines are drawn first (underneath): Beam starts from Greedy's path, so Beam is wide and below, Greedy thin and on top
METHOD_WIDTHS = {"beam": 3.2, "qsvit": 2.0}
#: τ lines and other categorical accents: a qualitative palette without yellows (readable on white)
ACCENT_PALETTE = ("#d55e00", "#0072b2", "#cc79a7", "#009e73", "#6a3d9a", "#8c564b", "#000000", "#e7298a")
SCHEME_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
SCHEME_LINESTYLES = ("-", (0, (5, 2)), "-.", (0, (1, 1.2)), (0, (3, 1, 1, 1, 1, 1)))


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


def _figure_legend(axes, anchor_ax, fontsize: float = 8, **kw):
    """One legend for all panels (every label once, in first-drawn order), right of ``anchor_ax``."""
    entries: dict[str, object] = {}
    for ax in np.ravel(axes):
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label and not label.startswith("_"):
                entries.setdefault(label, h)
    anchor_ax.legend(list(entries.values()), list(entries), loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                     fontsize=fontsize, **kw)


def _base(method) -> str:
    """``optuna_long`` -> ``optuna`` (a reference run is styled after its method)."""
    return str(method).partition("_")[0]


def _is_reference(method) -> bool:
    return str(method) not in METHOD_COLORS and _base(method) in METHOD_COLORS


def _color(method) -> str:
    return METHOD_COLORS.get(method, METHOD_COLORS.get(_base(method), "#555555"))


def _marker(method) -> str:
    return METHOD_MARKERS.get(method, METHOD_MARKERS.get(_base(method), "o"))


def _line_kw(method) -> dict:
    """Colour, line style, width and z-order of a method's line: wide ones below, reference runs thin and dotted."""
    if _is_reference(method):
        return {"color": _color(method), "ls": (0, (8, 2, 1, 2)), "lw": 1.3, "zorder": 4}
    lw = METHOD_WIDTHS.get(method, 1.5)
    return {"color": _color(method), "ls": METHOD_LINESTYLES.get(method, "-"), "lw": lw, "zorder": 4 if lw < 2 else 2,
            "alpha": 1.0 if lw < 3 else 0.6}


def _hollow(ax, x, y, method, s: float = 150, **kw):
    """A large outlined marker in the method's colour (unfilled markers such as Random's ``x`` are drawn in colour)."""
    marker, color = _marker(method), _color(method)
    if marker in ("x", "+", "|", "_", "1", "2", "3", "4"):
        return ax.scatter(x, y, s=s, marker=marker, color=color, linewidth=kw.pop("linewidth", 2), **kw)
    return ax.scatter(x, y, s=s, marker=marker, facecolor="none", edgecolor=color, linewidth=kw.pop("linewidth", 2), **kw)


def _draw_order(methods) -> list:
    """Wide lines first so narrower ones stay visible on top."""
    return sorted(methods, key=lambda m: -_line_kw(m)["lw"])


def _compact(v, _=None) -> str:
    """50000 -> 50k, 1200000 -> 1.2M (tick labels that do not run into each other)."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e3:
        return f"{v / 1e3:.3g}k"
    return f"{v:g}"


def _stage_order(stages) -> list:
    """Numeric stages in numeric order, then other names (first-seen order), then ``head`` last."""
    seen = list(dict.fromkeys(str(s) for s in stages))

    def number(s):
        try:
            return float(s)
        except ValueError:
            return None

    numeric = sorted((s for s in seen if number(s) is not None), key=number)
    return numeric + [s for s in seen if number(s) is None and s != "head"] + [s for s in seen if s == "head"]


# -- 01 models ------------------------------------------------------------------------------------
def memory_share(breakdowns: dict[str, pd.DataFrame], setting: str = ""):
    """Share of FP32 memory per stage (one bar per model; stages 1, 2, ... then head), then per block, one panel per
    model with its own block names."""
    style()
    n = len(breakdowns)
    fig, axes = plt.subplots(n + 1, 1, figsize=(11, 2.4 * (n + 1)), squeeze=False)
    breakdowns = {m: df.assign(stage=df.stage.astype(str)) for m, df in breakdowns.items()}
    order = _stage_order(s for df in breakdowns.values() for s in df.stage)
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
    """Mean output per step of every spiking neuron layer; one colour per stage in every panel (the same colours as
    :func:`memory_share`), legend in each."""
    style()
    rates = {m: df.assign(stage=df.stage.astype(str)) for m, df in rates.items()}
    order = _stage_order(s for df in rates.values() for s in df.stage)
    fig, axes = plt.subplots(len(rates), 1, figsize=(12, 2.6 * len(rates)), squeeze=False)
    for ax, (model, df) in zip(axes[:, 0], rates.items(), strict=True):
        for stage in _stage_order(df.stage):
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


def _diverging_drop_norm(values) -> SymLogNorm:
    """Diverging scale for drops: 0 is white, gains (negative drops) blue, losses red; linear within ±1 point."""
    top = float(np.nanmax(np.abs(np.asarray(values, dtype=float)))) if np.size(values) else 1.0
    top = min(100.0, max(2.0, top))
    return SymLogNorm(linthresh=1.0, linscale=1.0, vmin=-top, vmax=top, base=10)


def uniform_sweeps(tables: dict[str, pd.DataFrame], setting: str = "", *, floor_pct: float | None = None,
                   fp32_pct: float | None = None):
    """Left: the whole network at one width, one line per scheme, against FP32 and FP32 − Δ. Right: one layer kind
    network-wide at a time, a map of drops (rows: scheme and width; columns: layer kind) on a diverging scale.

    ``fp32_pct``: FP32's search accuracy (%), derived from the tables (accuracy + drop) when not given;
    ``floor_pct``: FP32 − Δ (%). The y axis spans the range that decides feasibility (FP32 − Δ and a few points
    below); a width whose accuracy falls below it is drawn at the bottom edge (▼) with its value printed, so a
    collapse (e.g. every group at the lowest width) is shown as "misses Δ", not as a line off the page. Markers are
    offset slightly in x (a few % of a bit) so coinciding schemes stay visible.
    """
    style()
    kinds = pd.concat([t[t.sweep == "kind"].assign(scheme=s) for s, t in tables.items()])
    kinds = kinds.sort_values("bits", ascending=False, kind="stable")
    kinds["order"] = kinds.scheme.map({s: i for i, s in enumerate(tables)})
    kinds = kinds.sort_values(["order", "bits"], ascending=[True, False], kind="stable")
    kinds["variant"] = kinds.scheme + " · " + kinds.bits.astype(int).astype(str) + " bits"
    grid = kinds.pivot_table(index="variant", columns="layer_kind", values="drop", sort=False)
    fig, axes = plt.subplots(1, 2, figsize=(15, max(4.8, 0.34 * len(grid) + 2.2)), gridspec_kw={"width_ratios": [1, 1.35]})
    ax = axes[0]
    nets = {s: t[t.sweep == "network"].sort_values("bits") for s, t in tables.items()}
    if fp32_pct is None:
        rows = pd.concat([t[["accuracy", "drop"]] for t in tables.values()])
        fp32_pct = float((rows.accuracy * 100 + rows["drop"]).median()) if len(rows) else None
    accs = pd.concat([n.accuracy * 100 for n in nets.values()]) if nets else pd.Series(dtype=float)
    top = max(float(accs.max()) if len(accs) else 0.0, fp32_pct or 0.0) + 1.0
    ref = floor_pct if floor_pct is not None else (fp32_pct - 2.0 if fp32_pct is not None else float(accs.median()) - 2.0)
    lo = ref - 5.0
    ticks: set[int] = set()
    n = len(nets)
    for i, (scheme, net) in enumerate(nets.items()):
        ticks.update(int(b) for b in net.bits)
        shift = 2.0 ** ((i - (n - 1) / 2) * 0.035)
        x, y = net.bits * shift, net.accuracy * 100
        kw = {"color": sns.color_palette("colorblind")[i % 10], "marker": SCHEME_MARKERS[i % len(SCHEME_MARKERS)],
              "ls": SCHEME_LINESTYLES[i % len(SCHEME_LINESTYLES)]}
        ax.plot(x, y, lw=1.6, ms=7, mfc="white", mew=1.6, label=scheme, zorder=3 + i, **kw)
        below = y < lo
        for xb, yb in zip(x[below], y[below], strict=True):
            ax.plot(xb, lo + 0.04 * (top - lo), marker="v", ms=8, color=kw["color"], ls="none", zorder=6, clip_on=False)
            ax.annotate(f"{yb:.1f} %", (xb, lo + 0.04 * (top - lo)), xytext=(0, 7 + 9 * (i % 2)), textcoords="offset points",
                        ha="center", fontsize=7, color=kw["color"], fontweight="bold")
    if fp32_pct is not None:
        ax.axhline(fp32_pct, **FP32_LINE, label=f"FP32 ({fp32_pct:.2f} %)")
    if floor_pct is not None:
        ax.axhline(floor_pct, **FLOOR_LINE, label=f"FP32 − Δ ({floor_pct:.2f} %)")
        ax.axhspan(lo, floor_pct, color="#f8d7da", alpha=0.5, zorder=0, label="below FP32 − Δ: misses Δ")
    ax.plot([], [], marker="v", ls="none", color="#555555", label="below the axis (value printed)")
    ax.set(xlabel="weight bits (whole network; markers offset slightly)", ylabel="search accuracy (%)",
           title=f"Uniform precision, whole network (y from {lo:.0f} %)", ylim=(lo, top))
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(ticks), [str(b) for b in sorted(ticks)])
    ax.minorticks_off()
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, borderaxespad=0)
    # right: drops per layer kind, diverging, every cell annotated; cells above Δ outlined
    heat = axes[1]
    norm = _diverging_drop_norm(grid.values)
    sns.heatmap(grid, ax=heat, annot=grid, fmt=".2g", cmap="RdBu_r", norm=norm, annot_kws={"fontsize": 7},
                cbar_kws={"label": "accuracy drop vs FP32 (pp; blue: gain, red: loss; log beyond ±1)"}, linewidths=0.4,
                linecolor="white")
    bar = heat.collections[0].colorbar
    lo, hi = float(norm.vmin if norm.vmin is not None else -100), float(norm.vmax if norm.vmax is not None else 100)
    steps = [v for v in (-100, -50, -20, -10, -5, -2, -1, -0.5, 0, 0.5, 1, 2, 5, 10, 20, 50, 100) if lo <= v <= hi]
    bar.set_ticks(steps)
    bar.set_ticklabels([f"{v:g}" for v in steps])
    bar.ax.tick_params(labelsize=7)
    bar.ax.yaxis.set_minor_formatter(NullFormatter())
    delta = (fp32_pct - floor_pct) if fp32_pct is not None and floor_pct is not None else None
    handles = []
    if delta is not None:
        for r, c in zip(*np.where(grid.values > delta + 1e-9), strict=True):
            heat.add_patch(Rectangle((c, r), 1, 1, fill=False, edgecolor="k", lw=1.8, zorder=5))
        handles.append(Patch(facecolor="none", edgecolor="k", lw=1.8, label=f"drop > Δ = {delta:.2g} pp"))
    attention = [c for c, k in enumerate(grid.columns) if str(k) in ("q", "k", "v", "proj")]
    rows16 = [r for r, v in enumerate(grid.index) if v.endswith(" 16 bits")]
    for r in rows16:
        for c in attention:
            heat.add_patch(Rectangle((c + 0.06, r + 0.08), 0.88, 0.84, fill=False, edgecolor="#6a3d9a", lw=1.6, ls="--", zorder=6))
    if rows16 and attention:
        worst = float(np.nanmax(grid.iloc[rows16, attention].values))
        handles.append(Patch(facecolor="none", edgecolor="#6a3d9a", lw=1.6, ls="--",
                             label=f"q/k/v/proj at 16 bits (worst drop {worst:.2g} pp: no collapse)"))
    schemes = kinds.drop_duplicates("variant").set_index("variant").scheme.reindex(grid.index)
    for r in range(1, len(grid)):
        if schemes.iloc[r] != schemes.iloc[r - 1]:
            heat.axhline(r, color="#333333", lw=1.6)
    if handles:
        heat.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7.5, ncol=2, borderaxespad=0)
    heat.set(xlabel="layer kind (all blocks at once, others FP32)", ylabel="")
    heat.set_title("One layer kind at a time: drop vs FP32 (pp), rows grouped by scheme")
    heat.tick_params(axis="y", labelsize=7.5, rotation=0)
    heat.tick_params(axis="x", labelsize=8, rotation=30)
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




def _chunks(cols: list, stages: dict, limit: int) -> list[list]:
    """Split the forward-order groups into rows of at most ``limit``, breaking at stage boundaries when possible."""
    runs: list[list] = []
    for g in cols:
        if runs and stages.get(g) == stages.get(runs[-1][-1]):
            runs[-1].append(g)
        else:
            runs.append([g])
    pieces = [run[i:i + limit] for run in runs for i in range(0, len(run), limit)]
    rows: list[list] = []
    for piece in pieces:
        if rows and len(rows[-1]) + len(piece) <= limit:
            rows[-1] += piece
        else:
            rows.append(list(piece))
    return rows


def bit_map(maps: dict[str, pd.DataFrame], bits: tuple[int, ...] | list[int], title: str = "", setting: str = "", *,
            savings: dict[str, float] | None = None, max_groups: int = 40):
    """Exact width of every layer group (columns, forward order) in each method's answer (rows), discrete colours.

    ``maps``: label -> :func:`report.group_bits` table (``group``, ``bits``, optional ``stage``). A group whose layers
    got different widths shows its narrowest width with a ``*``. Networks with more than ``max_groups`` groups wrap
    into several rows of panels (split at stage boundaries when the table has ``stage``), so the figure keeps a
    readable width. ``savings``: label -> memory saving vs FP32 (fraction), printed in each row's label.
    """
    style()
    widths = sorted({int(b) for b in bits} | {int(b) for m in maps.values() for b in m.bits}, reverse=True)
    cols = list(dict.fromkeys(g for m in maps.values() for g in m.group))
    stages = {g: s for m in maps.values() if "stage" in m for g, s in zip(m.group, m.stage.astype(str), strict=True)}
    grid = pd.DataFrame({label: m.set_index("group").bits for label, m in maps.items()}).T.reindex(columns=cols)
    mixed = pd.DataFrame({label: m.set_index("group").mixed if "mixed" in m else pd.Series(False, index=m.group)
                          for label, m in maps.items()}).T.reindex(columns=cols).fillna(False).astype(bool)
    savings = savings or {}
    grid.index = mixed.index = [f"{label} (saves {savings[label] * 100:.1f} %)" if label in savings else label for label in grid.index]
    index = {w: i for i, w in enumerate(widths)}
    cmap = ListedColormap([bit_color(w) for w in widths])
    norm = BoundaryNorm(np.arange(len(widths) + 1) - 0.5, len(widths))
    codes = grid.apply(lambda col: col.map(index))
    annot = grid.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else str(int(v)))) + mixed.map(lambda m: "*" if m else "")
    rows = _chunks(cols, stages, max(1, int(max_groups)))
    width = min(0.2 * max(len(r) for r in rows) + 4.5, 13.0)
    panel = 0.4 * len(grid) + 1.7
    fig, axes = plt.subplots(len(rows), 1, figsize=(width, panel * len(rows) + 0.6), squeeze=False)
    for i, (ax, part) in enumerate(zip(axes[:, 0], rows, strict=True)):
        sns.heatmap(codes[part], annot=annot[part], fmt="", cmap=cmap, norm=norm, cbar=False, ax=ax, annot_kws={"fontsize": 6},
                    linewidths=0.3, linecolor="white")
        ax.tick_params(axis="x", rotation=90, labelsize=6)
        ax.tick_params(axis="y", rotation=0, labelsize=8)
        names = list(dict.fromkeys(stages[g] for g in part if g in stages))
        where = f"stage {'/'.join(names)}" if names else f"groups {cols.index(part[0]) + 1}–{cols.index(part[-1]) + 1}"
        ax.set_title(f"{title} — {where}" if (title and i == 0) else where, fontsize=9)
        ax.set_xlabel("layer group (block : kind), forward order" if i == len(rows) - 1 else "", fontsize=9)
        ax.set_ylabel("")
    handles = [plt.Rectangle((0, 0), 1, 1, color=bit_color(w)) for w in widths]
    axes[0, 0].legend(handles, [f"{w} bits" if w != 32 else "FP32" for w in widths], title="weight width\n(* = mixed; narrowest)",
                      loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, title_fontsize=7)
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
    """QSViT Algorithm 3: each ExpSetting's search accuracy (top, dots: the axis need not start at 0) and the memory it
    would give (bottom, bars from 0).

    A setting rejected before its full evaluation (early rejection) has no accuracy: drawn as a hollow triangle
    below the target, labelled.
    """
    style()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    x = np.arange(len(explored))
    acc = explored.search_accuracy * 100
    measured = acc.notna()
    colors = explored.kept.map({True: DECISION_COLORS["kept"], False: DECISION_COLORS["rejected"]})
    lo = max(0.0, min(float(acc[measured].min()) if measured.any() else floor * 100, floor * 100) - 3)
    for kept, label in ((True, "kept"), (False, "rejected by the constraint")):
        mask = measured & (explored.kept == kept)
        if mask.any():
            top.scatter(x[mask], acc[mask], s=30, color=DECISION_COLORS["kept" if kept else "rejected"], label=label, zorder=3)
    if (~measured).any():
        top.scatter(x[~measured], np.full(int((~measured).sum()), floor * 100 - 1.0), marker="v", s=40, facecolor="none",
                    edgecolor=DECISION_COLORS["rejected_early"], linewidth=1.5, label="rejected early (no full accuracy)", zorder=3)
    top.axhline(floor * 100, **FLOOR_LINE, label="target: FP32 − Δ")
    top.set(ylabel="search accuracy (%)", ylim=(lo, min(100.0, float(acc.max(skipna=True) if measured.any() else floor * 100) + 2)),
            title="QSViT Algorithm 3: ExpSettings (dots; the accuracy axis does not start at 0)\nred: rejected by the constraint "
                  "(below the target, or above it by less than the search margin)")
    top.legend(fontsize=8)
    bottom.bar(x, explored.memory_bytes / fp32_bytes * 100, color=colors)
    bottom.set(ylabel="memory (% of FP32)", xlabel="ExpSetting", ylim=(0, None))
    bottom.set_xticks(x, explored.exp_setting.astype(str), rotation=60, ha="right", fontsize=7)
    fig.tight_layout()
    caption(fig, setting)
    return fig


# -- 05 comparison ----------------------------------------------------------------------------------
def _final_marker(ax, row, x: float, y: float, label: str | None = None):
    _hollow(ax, x, y, row.method, label=label or f"{method_name(row.method)} answer", zorder=6)


def _front(df: pd.DataFrame) -> pd.DataFrame:
    """The non-dominated configs (more saving, more accuracy), in increasing saving (so decreasing accuracy)."""
    front = df.sort_values(["saving_vs_fp32", "search_accuracy"], ascending=False)
    front = front[front.search_accuracy > front.search_accuracy.cummax().shift(fill_value=-np.inf)]
    return front.sort_values("saving_vs_fp32")


def _staircase(ax, front: pd.DataFrame, **kw):
    """A front as a staircase: at saving s the best accuracy reachable with at least s saving (the next point to the
    right), i.e. ``where="pre"`` on increasing saving. Never a diagonal between two configs."""
    return ax.step(front.saving_vs_fp32 * 100, front.search_accuracy * 100, where="pre", **kw)


def pareto_scatter(points: dict[str, pd.DataFrame], finals: pd.DataFrame, floor: dict[str, float], setting: str = ""):
    """Every feasible config (accuracy vs memory saving; coloured by the method that found it first) with the Pareto
    front as a staircase, and each method's final config."""
    style()
    models = list(points)
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        df = points[model]
        if "method" in df:
            for method, sub in df.groupby("method", sort=False):
                ax.scatter(sub.saving_vs_fp32 * 100, sub.search_accuracy * 100, s=14, alpha=0.6, color=_color(method),
                           marker=_marker(method), label=f"{method_name(method)}: feasible configs", zorder=2)
        else:
            ax.scatter(df.saving_vs_fp32 * 100, df.search_accuracy * 100, s=10, color="#adb5bd", label="feasible configs")
        front = df[df.on_front] if "on_front" in df else _front(df)
        _staircase(ax, _front(front), color="k", lw=1.1, zorder=3, label="Pareto front (staircase)")
        for row in finals[finals.model == model].itertuples():
            _final_marker(ax, row, row.saving_vs_fp32 * 100, row.search_accuracy * 100)
        if model in floor:
            ax.axhline(floor[model] * 100, **FLOOR_LINE, label="FP32 − Δ")
        ax.set(xlabel="memory saving vs FP32 (%)", ylabel="search accuracy (%)", title=model)
    _figure_legend(axes[0], axes[0, -1], fontsize=7.5)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def _grouped_bars(ax, df: pd.DataFrame, value: str, models: list, methods: list, fmt) -> dict:
    """Bars from 0, one group per model, one bar per method; each bar labelled with its value. Returns (model,
    method) -> (x, height)."""
    width = 0.8 / max(1, len(methods))
    where = {}
    for j, method in enumerate(methods):
        sub = df[df.method == method].set_index("model").reindex(models)
        x = np.arange(len(models)) + (j - (len(methods) - 1) / 2) * width
        ax.bar(x, sub[value], width=width * 0.92, color=_color(method), label=method_name(method),
               hatch="//" if _is_reference(method) else None, edgecolor="white" if not _is_reference(method) else "k")
        for xi, v, model in zip(x, sub[value], models, strict=True):
            if pd.notna(v):
                ax.annotate(fmt(v), (xi, v), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom", fontsize=6.5)
                where[(model, method)] = (xi, float(v))
    ax.set_xticks(range(len(models)), models)
    ax.set_ylim(0, max([h for _, h in where.values()] or [1.0]) * 1.3)
    return where


def search_time_bars(table: pd.DataFrame, setting: str = ""):
    """Search wall-clock time and images forwarded per model and method, linear axes from 0, every bar labelled; each
    AQ4SViT bar also says how many times faster than QSViT it was (``speedup_vs_qsvit``, or from the QSViT row)."""
    style()
    models = list(dict.fromkeys(table.model))
    methods = list(dict.fromkeys(table.method))
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.2))
    where = _grouped_bars(axes[0], table, "search_seconds", models, methods, lambda v: f"{v:,.0f} s")
    qsvit = table[table.method == "qsvit"].set_index("model").search_seconds
    for row in table.itertuples():
        if _base(row.method) not in ("greedy", "beam") or (row.model, row.method) not in where:
            continue
        speed = getattr(row, "speedup_vs_qsvit", float("nan"))
        if (speed is None or not np.isfinite(speed)) and row.model in qsvit.index and row.search_seconds:
            speed = float(qsvit[row.model]) / float(row.search_seconds)
        if speed is not None and np.isfinite(speed):
            x, h = where[(row.model, row.method)]
            axes[0].annotate(f"{speed:.1f}× faster", (x, h), xytext=(0, 11), textcoords="offset points", ha="center",
                             va="bottom", fontsize=7.5, rotation=90, color=_color(row.method), fontweight="bold")
    axes[0].set_ylim(0, axes[0].get_ylim()[1] * 1.25)
    axes[0].set(ylabel="search wall-clock time (s)", xlabel="", title="Search time (speed-up vs QSViT above each AQ4SViT bar)")
    _grouped_bars(axes[1], table, "images_forwarded", models, methods, _compact)
    axes[1].yaxis.set_major_formatter(FuncFormatter(_compact))
    axes[1].set(ylabel="images forwarded", xlabel="", title="Images forwarded (deterministic cost)")
    _legend_outside(axes[1])
    fig.tight_layout()
    caption(fig, setting)
    return fig


def accuracy_fronts(points: dict[str, dict[str, pd.DataFrame]], finals: pd.DataFrame, fp32: dict[str, float], n_search: int,
                    delta: float, setting: str = "", *, paired_se: dict[str, float] | None = None, z: float = Z_99):
    """Each method's own accuracy-memory front (a staircase over its feasible configs), FP32, the target, the threshold
    the searches apply, and the search split's noise.

    Threshold: ``FP32 − Δ + z · SE`` with the paired standard error of each candidate's drop (column
    ``search_standard_error``, a fraction); one line at the median SE of the drawn candidates, labelled as such.
    Band: with ``paired_se`` (model -> paired SE of a drop, fraction), FP32 − Δ ± 1.96 paired SE; without it, the
    unpaired FP32 ± 1.96 binomial SE of one accuracy on ``n_search`` images, labelled as unpaired.
    """
    style()
    models = list(points)
    fig, axes = plt.subplots(1, len(models), figsize=(5.4 * len(models), 4.4), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        p = fp32[model]
        floor = p * 100 - delta
        if paired_se and model in paired_se and paired_se[model] is not None and np.isfinite(paired_se[model]):
            half = 196 * float(paired_se[model])
            ax.axhspan(floor - half, floor + half, color="#dee2e6", alpha=0.8, zorder=0,
                       label=f"FP32 − Δ ± 1.96 paired SE of the drop\n(search split, n = {n_search})")
        else:
            half = 196 * math.sqrt(p * (1 - p) / n_search)
            ax.axhspan(p * 100 - half, p * 100 + half, color="#dee2e6", alpha=0.8, zorder=0,
                       label=f"FP32 ± 1.96 binomial SE of one accuracy\n(unpaired, search split, n = {n_search})")
        ax.axhline(p * 100, **FP32_LINE, label="FP32 (search split)")
        ax.axhline(floor, **FLOOR_LINE, label="FP32 − Δ")
        ses = pd.concat([df.search_standard_error for df in points[model].values() if "search_standard_error" in df and len(df)]
                        or [pd.Series(dtype=float)]).dropna()
        if len(ses):
            se = float(ses.median())
            ax.axhline(floor + z * se * 100, color="k", ls="-.", lw=1.1,
                       label=f"threshold applied: FP32 − Δ + {z:g} × median paired SE\nof the candidates' drops (99 % one-sided)")
            ax.annotate(f"median paired SE {se * 100:.2f} pp", (0.01, floor + z * se * 100), xycoords=("axes fraction", "data"),
                        xytext=(0, 2), textcoords="offset points", fontsize=7, va="bottom")
        for method in _draw_order([m for m, df in points[model].items() if len(df)]):
            front = _front(points[model][method])
            _staircase(ax, front, marker=_marker(method), ms=5, mfc="white", label=f"{method_name(method)} front", **_line_kw(method))
        for row in finals[finals.model == model].itertuples():
            _final_marker(ax, row, row.saving_vs_fp32 * 100, row.search_accuracy * 100)
        ax.set(xlabel="memory saving vs FP32 (%)", ylabel="search accuracy (%)", title=model)
    _figure_legend(axes[0], axes[0, -1], fontsize=7.5)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def split_accuracies(table: pd.DataFrame, sizes: dict[str, int], delta: float, setting: str = ""):
    """Each answer's accuracy drop on search, verify and test with 95 % paired (McNemar) intervals of the drop.

    Error bars: 1.96 × ``{split}_drop_se_pts`` (paired SE of the drop, points). Where the table lacks it (old tables),
    1.96 × the binomial SE of one accuracy on the split instead, and the legend says so. The search split chose the
    answer, verify checked it, test reports it; Δ is the dashed line.
    """
    style()
    models = list(dict.fromkeys(table.model))
    splits = ["search", "verify", "test"]
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4), squeeze=False, sharey=True)
    methods = list(dict.fromkeys(table.method))
    width = 0.8 / max(1, len(methods))
    fallback = paired = False
    for ax, model in zip(axes[0], models, strict=True):
        sub = table[table.model == model].set_index("method")
        for j, method in enumerate(methods):
            if method not in sub.index:
                continue
            row = sub.loc[method]
            drops = [row[f"{s}_drop_pts"] for s in splits]
            err = []
            for s in splits:
                se = row.get(f"{s}_drop_se_pts", float("nan"))
                if se is None or not np.isfinite(se):
                    fallback = True
                    a = row[f"{s}_accuracy"]
                    se = 100 * math.sqrt(a * (1 - a) / sizes[s])
                else:
                    paired = True
                err.append(1.96 * se)
            x = np.arange(len(splits)) + (j - (len(methods) - 1) / 2) * width
            ax.errorbar(x, drops, yerr=err, fmt=_marker(method), color=_color(method), capsize=3, label=method_name(method))
        ax.axhline(delta, color="k", ls="--", lw=0.8, label="Δ")
        ax.axhline(0, color="#868e96", lw=0.6)
        ax.set_xticks(range(len(splits)), [f"{s}\n(n = {sizes[s]})" for s in splits])
        ax.set(title=model)
    axes[0, 0].set_ylabel("accuracy drop vs FP32 on the split (pp)\n" + ("bars: 95 % paired (McNemar) interval" if not fallback
                                                                         else "bars: 95 % interval (see legend)"))
    what = ("error bars: 95 % paired (McNemar) interval of the drop" if not fallback else
            "error bars: 95 % binomial interval of one accuracy\n(unpaired; the table has no paired SE)" if not paired else
            "error bars: 95 % paired (McNemar) interval of the drop;\nwhere the table has no paired SE: 95 % binomial\n"
            "interval of one accuracy (unpaired, fallback)")
    axes[0, -1].plot([], [], color="#555555", marker="_", ms=9, mew=1.5, lw=1.2, label=what)
    _figure_legend(axes[0], axes[0, -1], fontsize=7.5)
    fig.tight_layout()
    caption(fig, setting)
    return fig


# -- 07 peer baselines ------------------------------------------------------------------------------
def anytime_curves(curves: dict[str, dict[str, pd.DataFrame]], best_known: dict[str, float], setting: str = "", *,
                   finals: dict[str, dict[str, float]] | None = None):
    """Best feasible memory saving after n full evaluations, one panel per model, one line per method.

    ``curves`` may hold reference runs next to the methods (e.g. ``optuna_long``, a 600-evaluation NSGA-II run):
    they are drawn thin and dotted in their method's colour. Beam is wide and underneath, Greedy dashed on top (Beam
    starts from Greedy's path, so the two coincide at first). ``finals``: model -> method -> the saving of the
    method's final answer *after* the verify back-off (fraction), drawn as a large outlined marker at the end of
    its curve, so a pre-back-off choice is not read as the result.
    """
    style()
    models = list(curves)
    fig, axes = plt.subplots(1, len(models), figsize=(5.4 * len(models), 4.0), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for method in _draw_order(curves[model]):
            df = curves[model][method]
            if not len(df):
                continue
            ax.step(df.full_evaluations, df.saving_vs_fp32 * 100, where="post", label=method_name(method), **_line_kw(method))
            ax.plot(df.full_evaluations.iloc[-1], df.saving_vs_fp32.iloc[-1] * 100, marker=_marker(method), ms=5,
                    color=_color(method), ls="none", zorder=5)
            final = (finals or {}).get(model, {}).get(method)
            if final is not None and np.isfinite(final):
                _hollow(ax, df.full_evaluations.iloc[-1], final * 100, method, zorder=6, label="final answer after the verify back-off")
        if model in best_known:
            ax.axhline(best_known[model] * 100, color="k", ls=":", lw=0.8, label="best known feasible")
        ax.set(xlabel="full evaluations on search (log)", ylabel="best feasible saving vs FP32 (%)", title=model, xscale="log")
        _log_axis(ax.xaxis)
    handles, labels = [], []
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(h)
                labels.append(label)
    if "final answer after the verify back-off" in labels:  # one neutral symbol: the colour says which method
        i = labels.index("final answer after the verify back-off")
        handles[i] = Line2D([], [], marker="o", ms=10, mfc="none", mec="#333333", mew=2, ls="none")
    axes[0, -1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, fontsize=7.5)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def _axis_break(values, min_share: float = 0.5):
    """(left_hi, right_lo) of the widest empty gap in ``values`` when it covers more than ``min_share`` of their span,
    else None: where a broken axis can drop empty range."""
    v = np.sort(np.asarray([x for x in values if np.isfinite(x)], dtype=float))
    if len(v) < 3 or v[-1] <= v[0]:
        return None
    gaps = np.diff(v)
    i = int(np.argmax(gaps))
    return (float(v[i]), float(v[i + 1])) if gaps[i] > min_share * (v[-1] - v[0]) else None


def peer_fronts(points: dict[str, dict[str, pd.DataFrame]], finals: pd.DataFrame, floor: dict[str, float], setting: str = ""):
    """Each method's feasible configurations (accuracy vs memory saving) and its answer (large outlined markers), one
    panel per model.

    When the savings leave a wide empty gap (e.g. the sensitivity ILP's configs near 0 % saving and every other method
    near 85 %), the x axis is broken there: a narrow left part for the cluster, a wide right part for the rest, so
    the answers stay readable and no point is dropped.
    """
    style()
    models = list(points)
    fig = plt.figure(figsize=(5.6 * len(models), 4.4))
    outer = fig.add_gridspec(1, len(models), wspace=0.28)
    main_axes = []
    for i, model in enumerate(models):
        answers = finals[finals.model == model]
        frames = [df for df in points[model].values() if len(df)]
        savings = [*(pd.concat(frames).saving_vs_fp32 * 100 if frames else []), *(answers.saving_vs_fp32 * 100)]
        gap = _axis_break(savings)
        if gap is not None:
            inner = outer[i].subgridspec(1, 2, width_ratios=[1, 4], wspace=0.05)
            left = fig.add_subplot(inner[0])
            ax = fig.add_subplot(inner[1], sharey=left)
            panels = [left, ax]
        else:
            ax = fig.add_subplot(outer[i])
            left, panels = None, [ax]
        main_axes.append(ax)
        for a in panels:
            for method in _draw_order(points[model]):
                df = points[model][method]
                a.scatter(df.saving_vs_fp32 * 100, df.search_accuracy * 100, s=14, alpha=0.55, color=_color(method),
                          marker=_marker(method), label=f"{method_name(method)} (feasible)", zorder=2)
            for row in answers.itertuples():
                _hollow(a, row.saving_vs_fp32 * 100, row.search_accuracy * 100, row.method, zorder=5)
            if model in floor:
                a.axhline(floor[model] * 100, label="FP32 − Δ", **FLOOR_LINE)  # type: ignore[arg-type]
        if len(answers):
            ax.scatter([], [], s=150, facecolor="none", edgecolor="#333333", linewidth=2, marker="o",
                       label="large outlined marker: each method's answer")
        ax.set(xlabel="memory saving vs FP32 (%)" + (" (axis broken)" if gap is not None else ""),
               title=f"{model}\n(large outlined markers: each method's answer)")
        if left is not None:
            lo_all, hi_all = min(savings), max(savings)
            pad_l = max(1.0, 0.2 * (gap[0] - lo_all))
            pad_r = max(0.5, 0.05 * (hi_all - gap[1]))
            left.set_xlim(lo_all - pad_l, gap[0] + pad_l)
            ax.set_xlim(gap[1] - 3 * pad_r, hi_all + 2 * pad_r)
            left.spines["right"].set_visible(False)
            ax.spines["left"].set_visible(False)
            ax.tick_params(axis="y", left=False, labelleft=False)
            left.xaxis.set_major_locator(MaxNLocator(2))
            for a, x0 in ((left, 1.0), (ax, 0.0)):  # the break marks
                a.plot([x0, x0], [0, 1], transform=a.transAxes, color="#666666", lw=2.5, ls=(0, (2, 2)), clip_on=False, zorder=7)
            left.set_ylabel("search accuracy (%)")
            left.set_xlabel("left of the break", fontsize=7)
        else:
            ax.set_ylabel("search accuracy (%)")
    _figure_legend(fig.axes, main_axes[-1], fontsize=7.5)
    fig.subplots_adjust(left=0.06, right=0.86, bottom=0.2, top=0.84)
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
                  setting: str = "", *, margin_drop_pts: float | None = None):
    """Gate score (default: drift added by the move) vs accuracy drop, marked by what the gate decided.

    A few outlying scores would squash the rest into a sliver: the x axis stops a little beyond the 97th percentile
    and the points past it are drawn at the right edge (►) with a count and the largest value. ``margin_drop_pts``:
    the drop the searches allow with the confidence margin (Δ − z·SE), a second horizontal line.
    """
    style()
    fig, ax = plt.subplots(figsize=(8.5, 4.8))
    pruned = df.decision.isin(["pruned_drift", "pruned_rank"])
    feasible = df.feasible.astype(bool) if "feasible" in df else df.drop_pts <= delta + 1e-9
    score = df[x].astype(float)
    finite = score[np.isfinite(score)]
    cut = None
    if len(finite) >= 10:
        q = float(np.quantile(finite, 0.97))
        span = q - float(finite.min())
        if span > 0 and float(finite.max()) > q + 1.5 * span:
            cut = q + 0.25 * span
    beyond = score > cut if cut is not None else pd.Series(False, index=df.index)
    for mask, label, color, marker in (
        (~pruned & feasible, "evaluated, feasible", DECISION_COLORS["accepted"], "o"),
        (~pruned & ~feasible, "evaluated, infeasible", DECISION_COLORS["rejected"], "o"),
        (pruned & feasible, "pruned by the gate, feasible (false prune)", DECISION_COLORS["pruned_rank"], "x"),
        (pruned & ~feasible, "pruned by the gate, infeasible", DECISION_COLORS["pruned_drift"], "+"),
    ):
        if mask.any():
            inside = mask & ~beyond
            ax.scatter(score[inside], df.drop_pts[inside], s=22, color=color, marker=marker, label=f"{label} ({int(mask.sum())})")
            if (mask & beyond).any():
                ax.scatter(np.full(int((mask & beyond).sum()), cut), df.drop_pts[mask & beyond], s=60, color=color, marker=">",
                           clip_on=False, zorder=5)
    ax.axhline(delta, color="k", ls="--", lw=0.8, label=f"Δ = {delta:g} pp")
    if margin_drop_pts is not None and np.isfinite(margin_drop_pts):
        ax.axhline(margin_drop_pts, color="k", ls="-.", lw=1.0,
                   label=f"drop allowed with the margin: Δ − z·SE = {margin_drop_pts:.2f} pp")
    if tau is not None and np.isfinite(tau):
        ax.axvline(tau, color=DECISION_COLORS["pruned_drift"], lw=1.2, label=f"τ = {tau:.3g}")
    if cut is not None:
        ax.scatter([], [], s=60, color="#555555", marker=">", label=f"beyond the axis, drawn at its edge ({int(beyond.sum())})")
        ax.annotate(f"{int(beyond.sum())} beyond →\n(max {float(finite.max()):.3g})", xy=(1.0, 1.0), xycoords="axes fraction",
                    xytext=(-4, -4), textcoords="offset points", ha="right", va="top", fontsize=7,
                    bbox={"boxstyle": "round", "fc": "white", "ec": "#999999", "alpha": 0.9})
    xlabel = {"drift_increase": "drift added by the move (candidate − parent, mean relative L2 over layers)",
              "drift": "membrane-potential drift vs FP32 (mean relative L2 over layers)"}.get(x, x)
    lo, hi = spearman_ci(rho, len(df))
    ax.set(xlabel=xlabel + (" (axis clipped)" if cut is not None else ""), ylabel="accuracy drop on search (pp, symlog)",
           title=f"{title}\nn = {len(df)} candidates, Spearman ρ = {rho:.2f} (95 % CI {lo:.2f} to {hi:.2f})")
    _symlog_points(ax)
    drops = df.drop_pts.astype(float)
    top = max(float(drops.max()), delta) if len(drops) else delta
    bottom = min(float(drops.min()), 0.0) if len(drops) else 0.0
    ax.set_ylim(bottom - 0.3 if bottom < 0 else -0.1, top * 1.8 + 0.5)  # headroom: the top point is not cut by the frame
    if cut is not None:
        left = float(finite.min())
        ax.set_xlim(left - 0.03 * (cut - left), cut + 0.03 * (cut - left))
    ax.xaxis.set_major_locator(MaxNLocator(6))
    _legend_outside(ax, fontsize=7.5)
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

    ``used``: label -> τ a search calibrated (levels with the same τ share one line), drawn as thick dotted lines in
    strong, distinct colours.
    """
    style()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 3.8))
    ax.plot(sweep.tau, sweep.precision, marker=".", color="#333333", lw=1.6, label="precision (pruned that were infeasible)")
    ax.plot(sweep.tau, sweep.recall, marker=".", color="#7f7f7f", ls="--", lw=1.6, label="recall (infeasible that were pruned)")
    ax2.plot(sweep.tau, sweep.pruned, marker=".", color="#333333")
    lines: dict[float, list[str]] = {}
    for label, tau in (used or {}).items():
        if tau is not None and np.isfinite(tau):
            lines.setdefault(round(float(tau), 12), []).append(label)
    for i, (tau, labels) in enumerate(sorted(lines.items())):
        color = ACCENT_PALETTE[i % len(ACCENT_PALETTE)]
        ax.axvline(tau, color=color, ls=":", lw=2.6, label=f"τ = {tau:.3g}: " + ", ".join(labels))
        ax2.axvline(tau, color=color, ls=":", lw=2.6)
    ax.set(xscale="log", xlabel="τ on the drift added by the move (log)", ylabel="fraction", ylim=(0, 1.05), title=title)
    ax2.set(xscale="log", xlabel="τ (log)", ylabel="candidates pruned", title="How many the gate would prune", ylim=(0, None))
    for a in (ax, ax2):
        _log_axis(a.xaxis)
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(0.0, -0.25), ncol=2)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def gate_ablation(table: pd.DataFrame, setting: str = ""):
    """The same search with different gates: full evaluations, images forwarded (the cost, deterministic), the answer's
    memory saving (bars from 0), and, when the table has ``search_seconds``, the wall-clock time (save that figure
    under ``timings/``: its bytes change on every run). Rows come from ``run``; a gate-off row is hatched."""
    style()
    panels = [("full", "full evaluations on search"), ("images_forwarded", "images forwarded"),
              ("saving_vs_fp32", "answer's memory saving vs FP32 (%)")]
    if "search_seconds" in table and table.search_seconds.notna().any():
        panels.append(("search_seconds", "search wall-clock time (s)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels) + 2.5, 0.45 * len(table) + 2.2), sharey=True, squeeze=False)
    axes = axes[0]
    y = np.arange(len(table))
    off = table.gate.astype(str).eq("off") if "gate" in table else pd.Series(False, index=table.index)
    for ax, (col, label) in zip(axes, panels, strict=True):
        values = table[col].astype(float) * (100 if col == "saving_vs_fp32" else 1)
        ax.barh(y, values, color=[_color(m) for m in table.method], hatch=None, edgecolor="white")
        for yi, v, is_off in zip(y, values, off, strict=True):
            if is_off:
                ax.barh(yi, v, color="none", edgecolor="white", hatch="//", lw=0)
            if pd.notna(v):
                text = f" {v:.1f}" if col in ("saving_vs_fp32", "search_seconds") else f" {_compact(v)}"
                ax.text(v, yi, text, va="center", fontsize=7.5)
        ax.set(xlabel=label)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(_compact))
        if col == "saving_vs_fp32":
            ax.set_xlim(0, 100)
        else:
            ax.set_xlim(0, float(np.nanmax(values)) * 1.3 if np.isfinite(np.nanmax(values)) else 1)
    axes[0].set_yticks(y, table.run)
    axes[0].invert_yaxis()
    fig.suptitle("Gate ablation: same model, settings and engine; only the gate differs (all bars from 0)", fontsize=10)
    fig.tight_layout()
    caption(fig, setting)
    return fig


# -- claims: collapse, additivity, cost ---------------------------------------------------------------
def _run_delta(run, default: float | None) -> float | None:
    m = re.search(r"delta\s*=?\s*([0-9]*\.?[0-9]+)", str(run))
    return float(m.group(1)) if m else default


def collapse(base: pd.DataFrame, setting: str = "", *, delta: float | None = None):
    """QSViT's Q6 claim: each group alone tolerates its bSettingL, but all groups at bSettingL together collapse.

    ``base``: :file:`03_base_settings` (``model``, ``run``, ``setting`` in {bSettingL, bSettingH}, ``drop_pts``, ...).
    One pair of bars per model and run: the whole network's drop vs FP32 at bSettingL and at bSettingH, against that
    run's Δ (a ``delta`` column, the number in ``run`` such as "delta 1.5", or ``delta``). Drops span −1 to 80 points:
    symmetric-log y axis; every bar is labelled with its drop and whether it meets Δ.
    """
    style()
    df = base.copy()
    df["case"] = df.model.astype(str) + "\n" + df.run.astype(str)
    cases = list(dict.fromkeys(df.case))
    fig, ax = plt.subplots(figsize=(max(6.5, 1.7 * len(cases) + 2.5), 4.6))
    colors = {"bSettingL": "#b2182b", "bSettingH": "#2166ac"}
    names = {"bSettingL": "bSettingL (each group's lowest tolerated width), all groups at once",
             "bSettingH": "bSettingH (one width up), all groups at once"}
    width = 0.38
    for j, which in enumerate(("bSettingL", "bSettingH")):
        sub = df[df.setting == which].set_index("case").reindex(cases)
        x = np.arange(len(cases)) + (j - 0.5) * width
        ax.bar(x, sub.drop_pts, width=width * 0.95, color=colors[which], label=names[which])
        for xi, v, run in zip(x, sub.drop_pts, sub.run, strict=True):
            if pd.isna(v):
                continue
            d = float(sub.delta.iloc[0]) if "delta" in sub and pd.notna(sub.delta.iloc[0]) else _run_delta(run, delta)
            verdict = "" if d is None else (" ✓" if v <= d + 1e-9 else " ✗")
            ax.annotate(f"{v:.1f}{verdict}", (xi, v), xytext=(0, 3 if v >= 0 else -3), textcoords="offset points",
                        ha="center", va="bottom" if v >= 0 else "top", fontsize=7.5, fontweight="bold")
    for i, case in enumerate(cases):
        row = df[df.case == case].iloc[0]
        d = float(row.delta) if "delta" in df and pd.notna(row.get("delta")) else _run_delta(row.run, delta)
        if d is not None:
            ax.hlines(d, i - 0.45, i + 0.45, color="k", lw=1.6, ls="--", label="Δ of the run" if i == 0 else "_nolegend_", zorder=4)
    ax.axhline(0, color="#868e96", lw=0.6)
    _symlog_points(ax)
    top = float(np.nanmax(df.drop_pts)) if len(df) else 1.0
    ax.set_ylim(min(-1.0, float(np.nanmin(df.drop_pts)) - 0.5) if len(df) else -1.0, top * 2.0 + 1)
    ax.set_xticks(range(len(cases)), cases, fontsize=8)
    ax.set(ylabel="whole-network drop vs FP32 on search (pp, symlog)", xlabel="",
           title="QSViT Q6: every group alone tolerates its bSettingL, all together collapse\n(✓ meets Δ, ✗ misses Δ)")
    _legend_outside(ax, fontsize=7.5)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def ilp_predicted_vs_measured(front: pd.DataFrame, delta: float, setting: str = ""):
    """The sensitivity ILP's predicted drop (``predicted_cost``: single-group drops added up, points) against the
    measured drop (``measured_drop_pts``; NaN where the search rejected the config early, drawn at the top edge as
    "rejected early (> Δ)"), one panel per ``model``, with y = x: points above it are drops the additive model
    underestimates."""
    style()
    models = list(dict.fromkeys(front.model)) if "model" in front else [""]
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models) + 2.2, 4.4), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        df = front[front.model == model] if "model" in front else front
        pred, meas = df.predicted_cost.astype(float), df.measured_drop_pts.astype(float)
        early = meas.isna()
        hi = max([delta * 1.5] + [float(v) for v in (pred.max(), meas.max()) if np.isfinite(v)])
        lo = min([0.0] + [float(v) for v in (pred.min(), meas.min()) if np.isfinite(v)])
        top = hi + 0.15 * (hi - lo)
        ax.plot([lo, top], [lo, top], color="#555555", lw=1, ls="-", label="y = x (additivity holds)", zorder=1)
        ax.axhline(delta, color="k", ls="--", lw=0.8, label=f"Δ = {delta:g} pp (measured)")
        ax.axvline(delta, color="k", ls=":", lw=0.8, label=f"Δ = {delta:g} pp (predicted)")
        color = _color("sensitivity-ilp")
        ax.scatter(pred[~early], meas[~early], s=30, color=color, edgecolor="k", lw=0.5, marker=_marker("sensitivity-ilp"),
                   label=f"measured on search ({int((~early).sum())})", zorder=3)
        if early.any():
            ax.scatter(pred[early], np.full(int(early.sum()), top), s=45, marker="^", facecolor="none", edgecolor="#d55e00",
                       linewidth=1.5, clip_on=False, label=f"rejected early (> Δ), drawn at the top edge ({int(early.sum())})", zorder=4)
        ax.set(xlim=(lo - 0.05 * (top - lo), top), ylim=(lo - 0.05 * (top - lo), top), title=model or "Sensitivity-ILP",
               xlabel="predicted drop: sum of single-group drops (pp)", ylabel="measured drop vs FP32 on search (pp)")
    _figure_legend(axes[0], axes[0, -1], fontsize=7.5)
    fig.suptitle("Sensitivity-ILP: predicted (additive) vs measured drop", fontsize=10)
    fig.tight_layout()
    caption(fig, setting)
    return fig


def saving_vs_time(table: pd.DataFrame, setting: str = ""):
    """Memory saving vs FP32 (y, %) against search wall-clock seconds (x, log) for every method of each model
    (``model``, ``method``, ``saving_vs_fp32``, ``search_seconds``), reference runs such as ``optuna_long`` included
    (hollow markers). Up and left is better. Wall-clock: save under ``timings/``."""
    style()
    models = list(dict.fromkeys(table.model))
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models) + 2.4, 4.0), squeeze=False, sharey=True)
    for ax, model in zip(axes[0], models, strict=True):
        df = table[table.model == model]
        for row in df.itertuples():
            ref = _is_reference(row.method)
            if ref:
                _hollow(ax, row.search_seconds, row.saving_vs_fp32 * 100, row.method, s=90, zorder=3, label=method_name(row.method))
            else:
                ax.scatter(row.search_seconds, row.saving_vs_fp32 * 100, s=80, marker=_marker(row.method), zorder=3,
                           color=_color(row.method), linewidth=1.8, label=method_name(row.method))
        ax.set(xscale="log", xlabel="search wall-clock time (s, log)", title=model)
        secs = df.search_seconds.astype(float)
        if len(secs) and secs.min() > 0:
            ax.set_xlim(secs.min() / 1.6, secs.max() * 2.5)
        _log_axis(ax.xaxis)
    axes[0, 0].set_ylabel("memory saving vs FP32 (%)")
    _figure_legend(axes[0], axes[0, -1], fontsize=7.5)
    fig.suptitle("Memory saving against search time (up and left is better)", fontsize=10)
    fig.tight_layout()
    caption(fig, setting)
    return fig
