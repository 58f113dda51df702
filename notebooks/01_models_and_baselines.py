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
# # 01 · Models and FP32 baselines
#
# The three backbones of the Spike-Driven Transformer family as small Fashion-MNIST models with the official architecture and depth (or, with the `imagenet` profile, the official checkpoints). For each: parameters, FP32 memory per stage, FP32 accuracy on the `search` split (what the searches see) and the `test` split (what we report), and evaluation time; then where the memory sits and how active the neurons are.

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
from aq4svit_lib.analyses import firing_rates, model_baseline
from aq4svit_lib.report import memory_breakdown

rows = []
for name in prof.models:
    rows.append(model_baseline(name, profile_splits(prof, name), checkpoint=prof.checkpoint(name) or "default",
                               batch_size=prof.batch_size))
baselines = pd.DataFrame(rows)
save_table(baselines.round(4), "01_models", FIG)
assert baselines.test_accuracy.between(0, 1).all() and baselines.search_accuracy.between(0, 1).all()
baselines

# %% [markdown]
# **Memory per stage and block.** As in SDT v2's ImageNet models, stages 3 and 4 (the transformer blocks) hold most of the weights; this is where a bit saved is worth most.

# %%
breakdowns = {name: memory_breakdown(profile_model(prof, name)) for name in prof.models}
fig = plots.memory_share(breakdowns, setting=SETTING)
plots.save(fig, "01_memory_share", FIG);
save_table(pd.concat([df.assign(model=m) for m, df in breakdowns.items()]), "01_memory_per_block", FIG);

# %% [markdown]
# **Result.** The stages with transformer blocks hold most of the weights, so the bits saved there dominate every memory saving below; a search that lowers only the convolutional stages cannot save much. Context for every memory claim in [REPRODUCTION.md](../REPRODUCTION.md#claims).

# %% [markdown]
# **Firing rates per neuron layer** on the `minibatch` split (binary LIF spikes for SDT v1 / v2; for SDT v3, the mean normalised multi-spike output).

# %%
rates = {name: firing_rates(profile_model(prof, name), profile_splits(prof, name)["minibatch"]) for name in prof.models}
fig = plots.firing_rates(rates, setting=SETTING)
plots.save(fig, "01_firing_rates", FIG);
summary = pd.DataFrame([{"model": m, "layers": len(df), "mean_rate": df.rate.mean(), "silent_layers": int((df.rate == 0).sum())}
                        for m, df in rates.items()])
save_table(summary, "01_firing_summary", FIG)
summary

# %% [markdown]
# **Result.** Firing rates per neuron layer: silent or saturated layers would make the membrane-potential drift a poor proxy for them (drift is measured on these neurons' inputs). Context for claim A6 in [REPRODUCTION.md](../REPRODUCTION.md#claims).
