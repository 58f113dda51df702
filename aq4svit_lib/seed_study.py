"""Seed study: do the headline differences between QSViT, AQ4SViT-Greedy and AQ4SViT-Beam survive another search split?

Each search is repeated on several *resamples* of the held-out images (:attr:`SplitSpec.resample`): the same
search + verify images the shipped models never trained on, cut into search and verify differently. Seed 0 is
the profile's own split (its own result folders, so it costs nothing extra); seed ``s`` > 0 writes
``results/<profile>/<model>/<method>_resample<s>/``. ``train`` and ``test`` are the same for every seed.

Reproduce layer (it runs searches through :func:`aq4svit_lib.reproduce.ensure_search`); nothing in the library
imports it. :func:`seed_comparisons` and :func:`seed_summary` are pure pandas.
"""

from __future__ import annotations

import math

import pandas as pd

from . import reproduce
from .report import outcome_row

DEFAULT_SEEDS = (0, 1, 2)
CI_SEEDS = (0, 1)
METHODS = ("qsvit", "greedy", "beam")

#: comparison -> (smaller method, larger method): holds if 1 - bytes(smaller) / bytes(larger) > 0
MEMORY_COMPARISONS = {
    "beam_smaller_than_greedy": ("beam", "greedy"),
    "greedy_smaller_than_qsvit": ("greedy", "qsvit"),
    "beam_smaller_than_qsvit": ("beam", "qsvit"),
}
#: comparison -> (faster method, reference): holds if seconds(reference) / seconds(faster) > 1 (wall-clock)
SPEED_COMPARISONS = {"greedy_faster_than_qsvit": ("greedy", "qsvit")}
TEST_DROP = "test_drop_within_delta"
#: the order of the comparisons in tables and figures
COMPARISONS = (*MEMORY_COMPARISONS, *SPEED_COMPARISONS, TEST_DROP)

#: seed_runs' columns (outcome_row's names, ``full`` as ``full_evaluations``) after model, method, seed
RUN_COLUMNS = ("saving_vs_fp32", "memory_bytes", "search_drop_pts", "verify_drop_pts", "test_drop_pts", "full_evaluations",
               "images_forwarded", "search_seconds", "meets_delta_verify", "test_drop_within_delta", "search_split", "verify_split",
               "test_split")


def default_seeds(profile, seeds=None) -> tuple[int, ...]:
    """``seeds`` if given, else the profile's: (0, 1) for the ci profile (CI time), (0, 1, 2) otherwise."""
    if seeds is not None:
        return tuple(int(s) for s in seeds)
    return CI_SEEDS if profile.name.split("+")[0] == "ci" else DEFAULT_SEEDS


def folder_name(method: str, seed: int) -> str:
    """A run's result folder: the method's own for seed 0 (shared with notebooks 04/05), ``<method>_resample<s>`` else."""
    return method if seed == 0 else f"{method}_resample{seed}"


def run_seed_study(profile, seeds=DEFAULT_SEEDS, methods=METHODS, models=None, *, base=None) -> dict:
    """Every (model, method, seed) search, cached like every search: ``{(model, method, seed): SearchOutcome}``.

    Seed 0 is ``profile`` itself (the default folders, no override); seed ``s`` runs
    ``profile.with_(resample=s)`` into ``<method>_resample<s>``. ``base``: the results root
    (default: $AQ4SVIT_RESULTS, else results/).
    """
    seeds = tuple(int(s) for s in seeds)
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct non-negative integers, got {seeds}")
    if profile.spec.resample:
        raise ValueError("run_seed_study takes the unresampled profile (resample=0); the seeds set the resample")
    out = {}
    for model in models or profile.models:
        for method in methods:
            for s in seeds:
                prof = profile if s == 0 else profile.with_(resample=s)
                out[(model, method, s)] = reproduce.ensure_search(prof, model, method, name=folder_name(method, s), base=base)
    return out


def seed_runs(outcomes: dict) -> pd.DataFrame:
    """One row per run: model, method, seed, then :data:`RUN_COLUMNS` (the ``*_split`` columns are split hashes)."""
    rows = []
    for (model, method, seed), o in outcomes.items():
        r = outcome_row(o)
        splits = o.result.get("splits") or {}
        rows.append({"model": model, "method": method, "seed": int(seed),
                     **{c: r[c] for c in RUN_COLUMNS if c in r},
                     "full_evaluations": r["full"],
                     **{f"{s}_split": (splits.get(s) or {}).get("hash") for s in ("search", "verify", "test")}})
    cols = ["model", "method", "seed", *RUN_COLUMNS]
    return pd.DataFrame(rows, columns=cols).sort_values(["model", "method", "seed"], kind="stable").reset_index(drop=True)


def seed_comparisons(runs: pd.DataFrame, delta: float) -> pd.DataFrame:
    """One row per (model, comparison, method, seed): the compared quantity and whether the claim holds.

    Columns: model, comparison, method (the method a test-drop row is about; ``beam/greedy`` for a pairwise one),
    seed, quantity, threshold, value, speedup, holds. Memory comparisons: value = 1 - bytes(a) / bytes(b), holds if
    > 0. ``greedy_faster_than_qsvit`` is wall-clock: its number is in ``speedup`` (= qsvit seconds / greedy
    seconds, holds if > 1; ``value`` is empty) so :func:`report.save_table` keeps it with the timings. ``test_drop_within_delta``:
    value = the test drop (pp) of each method, holds if <= ``delta``. A comparison whose methods did not run is left out.
    """
    idx = runs.set_index(["model", "method", "seed"])
    rows = []
    for model in dict.fromkeys(runs.model):
        sub = idx.loc[model]
        seeds = sorted(set(runs[runs.model == model].seed))
        for name, (a, b) in {**MEMORY_COMPARISONS, **SPEED_COMPARISONS}.items():
            for s in seeds:
                if (a, s) not in sub.index or (b, s) not in sub.index:
                    continue
                ra, rb = sub.loc[(a, s)], sub.loc[(b, s)]
                row = {"model": model, "comparison": name, "method": f"{a}/{b}", "seed": s}
                if name in MEMORY_COMPARISONS:
                    value = 1 - ra.memory_bytes / rb.memory_bytes
                    rows.append({**row, "quantity": f"memory saving of {a} vs {b}", "threshold": 0.0, "value": value,
                                 "speedup": math.nan, "holds": bool(value > 0)})
                else:
                    speed = rb.search_seconds / ra.search_seconds if ra.search_seconds else math.nan
                    rows.append({**row, "quantity": f"wall-clock speed-up ({b} seconds / {a} seconds)", "threshold": 1.0,
                                 "value": math.nan, "speedup": speed, "holds": bool(speed > 1)})
        for method in (m for m in METHODS if m in set(sub.index.get_level_values(0))):
            for s in seeds:
                if (method, s) not in sub.index:
                    continue
                drop = sub.loc[(method, s)].test_drop_pts
                rows.append({"model": model, "comparison": TEST_DROP, "method": method, "seed": s,
                             "quantity": "test drop vs FP32 (pp)", "threshold": float(delta), "value": drop, "speedup": math.nan,
                             "holds": bool(drop <= delta + 1e-9)})
    cols = ["model", "comparison", "method", "seed", "quantity", "threshold", "value", "speedup", "holds"]
    df = pd.DataFrame(rows, columns=cols)
    order = {c: i for i, c in enumerate(COMPARISONS)}
    df = df.assign(_o=df.comparison.map(order)).sort_values(["model", "_o", "method", "seed"], kind="stable")
    return df.drop(columns="_o").reset_index(drop=True)


def seed_summary(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd, min, max over seeds and the verdict ``holds_on`` ("k of n") per (model, comparison, method).

    Rows with model ``all`` pool every model's seeds. A wall-clock comparison's statistics are ``speedup_mean``,
    ``speedup_sd``, ``speedup_min``, ``speedup_max`` (timings), the others' ``mean``, ``sd``, ``min``, ``max``;
    sd is the sample standard deviation (empty for one seed).
    """
    rows = []
    pooled = comparisons.assign(model="all")
    for frame in (comparisons, pooled):
        for (model, comparison, method), g in frame.groupby(["model", "comparison", "method"], sort=False):
            wall = comparison in SPEED_COMPARISONS
            v = (g.speedup if wall else g.value).astype(float)
            stats = {"mean": v.mean(), "sd": v.std(ddof=1) if len(v) > 1 else math.nan, "min": v.min(), "max": v.max()}
            rows.append({"model": model, "comparison": comparison, "method": method, "quantity": g.quantity.iloc[0],
                         "threshold": g.threshold.iloc[0], "n": len(g), "holds": int(g.holds.sum()),
                         "holds_on": f"{int(g.holds.sum())} of {len(g)}",
                         **{k: (math.nan if wall else x) for k, x in stats.items()},
                         **{f"speedup_{k}": (x if wall else math.nan) for k, x in stats.items()}})
    cols = ["model", "comparison", "method", "quantity", "threshold", "n", "holds", "holds_on", "mean", "sd", "min", "max",
            "speedup_mean", "speedup_sd", "speedup_min", "speedup_max"]
    return pd.DataFrame(rows, columns=cols)


def seed_figure(comparisons: pd.DataFrame, setting: str = ""):
    """One panel per comparison: one point per seed and model (test drop: per method too), the mean marked,
    the threshold the claim must pass dashed. Memory savings in percent, speed-up as a factor (wall-clock)."""
    import matplotlib.pyplot as plt
    import numpy as np

    from .plot_style import METHOD_COLORS, METHOD_MARKERS, STAGE_PALETTE, method_name
    from .plots import caption, style

    style()
    names = [c for c in COMPARISONS if c in set(comparisons.comparison)]
    models = list(dict.fromkeys(comparisons.model))
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(3.6 * max(1, len(names)) + 1, 3.8), squeeze=False)
    rng = np.random.default_rng(0)  # fixed jitter: re-rendering gives the same figure
    for ax, name in zip(axes[0], names, strict=False):
        g = comparisons[comparisons.comparison == name]
        wall, memory = name in SPEED_COMPARISONS, name in MEMORY_COMPARISONS
        y = (g.speedup if wall else g.value).astype(float) * (100 if memory else 1)
        methods = list(dict.fromkeys(g.method)) if name == TEST_DROP else [None]
        width = 0.8 / len(methods)
        for i, model in enumerate(models):
            for j, meth in enumerate(methods):
                sel = (g.model == model) & ((g.method == meth) if meth is not None else True)
                ys = y[sel]
                if ys.empty:
                    continue
                x = i + (j - (len(methods) - 1) / 2) * width
                color = METHOD_COLORS.get(str(meth)) if meth else STAGE_PALETTE[i % len(STAGE_PALETTE)]
                ax.scatter(x + rng.uniform(-0.15, 0.15, len(ys)) * width, ys, color=color, marker=METHOD_MARKERS.get(str(meth), "o"),
                           s=28, alpha=0.8, zorder=3, label=method_name(meth) if meth and i == 0 else None)
                ax.hlines(ys.mean(), x - 0.35 * width, x + 0.35 * width, color="k", lw=1.6, zorder=4)
        if name == TEST_DROP:
            ax.legend(fontsize=7, loc="best")
        threshold = g.threshold.iloc[0] * (100 if memory else 1)
        ax.axhline(threshold, color="#c92a2a", ls="--", lw=0.9)
        ax.set_xticks(range(len(models)), models, fontsize=8)
        ylabel = "speed-up (×, wall-clock)" if wall else "memory saving (%)" if memory else "test drop vs FP32 (pp)"
        ax.set(title=name.replace("_", " "), ylabel=ylabel, xlim=(-0.6, len(models) - 0.4))
        if wall:
            ax.set_yscale("log")
    fig.suptitle("Seed study: each point one search split (resample seed); bar = mean; dashed = where the claim holds",
                 fontsize=9)
    fig.tight_layout()
    caption(fig, setting)
    return fig
