# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · AQ4SViT: hierarchical search with the drift gate
#
# AQ4SViT walks network → stage → block, lowering one unit by one step of the bit list at a time. Each candidate passes a gate, cheapest first: (1) membrane-potential **drift** on the 256-image minibatch, scored as the drift the move adds over its parent; Greedy prunes above τ (calibrated per level: 1.5 × the largest accepted score, once the level has one accepted and one rejected full evaluation), Beam evaluates only the best 2K children of each round (rank gate); (2) minibatch accuracy within Δ + 3 points of FP32's; (3) accuracy on the `search` split with exact early rejection, feasible only with a 99 % one-sided paired margin (accuracy ≥ floor + 2.326 · SE of the paired drop; the trace calls a candidate that met Δ but not the margin `rejected_margin`). `method` selects Greedy or Beam (K = 3; seeded with Greedy's path, with trade moves when single lowerings are exhausted). The answer is then checked on the held-out `verify` split (back-off to a larger feasible configuration if it misses).

# %% tags=["parameters"]
# Parameters (papermill injects replacements below this cell)
profile = "default"  # ci | default | full | imagenet
figures_base = None  # None: figures/ for the default profile, results/<profile>/figures otherwise
imagenet_root = None  # imagenet profile only
checkpoint_dir = None  # imagenet profile only
delta = None  # Δ, the accuracy drop allowed (points); None: the profile's (1.5)
bits = None  # weight widths to search, e.g. [32, 16, 8, 6, 4, 3, 2]; None: the profile's
scheme = None  # quantizer "kind/granularity/rounding", e.g. "uniform/per_tensor/nearest"; None: uniform/per_channel/nearest
beam_width = None  # AQ4SViT-Beam's K; None: the profile's (3)
# any of the four set: results and figures go to results/<profile>+<changes>/, never to the committed gallery
executor = None  # where evaluations run: serial or ray (same results; see README "Running on a cluster"); None: serial
workers = None  # ray: worker actors (default 2)
ray_address = None  # ray: join a running cluster (ray start --head); None: a local one
gpus_per_worker = None  # ray: GPUs per worker, fractions allowed (default 0)
method = "greedy"  # greedy | beam

# %%
import pandas as pd

from aq4svit_lib import plots
from aq4svit_lib.plot_style import method_name, setting
from aq4svit_lib.reproduce import ensure_search, notebook_setup, profile_model, profile_splits
from aq4svit_lib.report import save_table

prof, FIG, SETTING = notebook_setup(profile, imagenet_root, checkpoint_dir, figures_base, delta=delta, bits=bits, scheme=scheme,
                                    beam_width=beam_width, executor=executor, workers=workers,
                                    ray_address=ray_address, gpus_per_worker=gpus_per_worker)  # SETTING: the caption printed under every figure

# %%
runs = {name: ensure_search(prof, name, method) for name in prof.models}
for name, run in runs.items():
    r = run.result
    print(f"{name}: {r['final']['search_accuracy']:.4f} (FP32 {r['fp32']['search_accuracy']:.4f}), saving {r['saving_vs_fp32']:.1%}, "
          f"{r['search_seconds']:.1f} s, evaluations {r['evaluations']}")
    assert r["final"]["meets_constraint"], "the final config must meet the constraint on the search split"
    assert r["final"]["meets_constraint_verify"], "and on the verify split (after any back-off)"
    assert 0 <= r["saving_vs_fp32"] <= 1

# %% [markdown]
# **The search trace**: memory of every candidate in evaluation order, coloured by what the gate decided.

# %%
for name, run in runs.items():
    fig = plots.search_trace(run.trace, run.result["fp32_bytes"], title=f"{method_name(method)} on {name}", setting=SETTING)
    plots.save(fig, f"04_{method}_trace_{name}", FIG);
    save_table(run.trace.drop(columns=["config"]).round(5), f"04_{method}_trace_{name}", FIG)

# %% [markdown]
# **Result.** Each search walks memory down level by level; the colours show where the gate (drift or rank), the minibatch check, early rejection and the margin stopped candidates. Claims A3 and A6 in [REPRODUCTION.md](../REPRODUCTION.md#claims).

# %% [markdown]
# **Final widths** per stage (the exact width of every layer group, for every method side by side, is notebook 05's bit map).

# %%
from aq4svit_lib.report import phase_times, stage_widths

pd.DataFrame({name: stage_widths(run) for name, run in runs.items()})

# %% [markdown]
# **Time per phase** (the baseline phase computes the FP32 reference once: accuracy and membranes).

# %%
times = pd.concat([phase_times(run).assign(model=name) for name, run in runs.items()])
save_table(times.round(3), f"04_{method}_phase_times", FIG, timings=True)
fig = plots.phase_times(times.groupby("phase", sort=False).seconds.sum().reset_index(), title=f"{method_name(method)}: time per phase, all models", setting=SETTING)
plots.save(fig, f"04_{method}_phase_times", FIG / "timings")  # wall-clock: kept apart
times
