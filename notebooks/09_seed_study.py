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
# # 09 · Seed study: do the differences between the methods survive another search split?
#
# Notebook 05 compares QSViT, AQ4SViT-Greedy and AQ4SViT-Beam on one search split. Here every search is repeated on several *resamples* of that split: the same held-out images the shipped models never trained on (search + verify), permuted with a seed and cut again into search and verify (`SplitSpec.resample`, `--resample`). A different `--split-seed` would instead draw other images, with the shipped models some of their training images. Seed 0 is notebook 05's split (its result folders are reused); seed *s* writes `<method>_resample<s>/`. `train` and `test` are the same for every seed, so test numbers differ only through the configuration each search chose.

# %% tags=["parameters"]
# Parameters (papermill injects replacements below this cell)
profile = "default"  # ci | default | full | imagenet
figures_base = None  # None: figures/ for the default profile, results/<profile>/figures otherwise
imagenet_root = None  # imagenet profile only
checkpoint_dir = None  # imagenet profile only
seeds = None  # resample seeds, e.g. [0, 1, 2, 3]; None: the profile's (0, 1, 2; the ci profile 0, 1); 0 is notebook 05's split
executor = None  # where evaluations run: serial or ray (same results; see README "Running on a cluster"); None: serial
workers = None  # ray: worker actors (default 2)
ray_address = None  # ray: join a running cluster (ray start --head); None: a local one
gpus_per_worker = None  # ray: GPUs per worker, fractions allowed (default 0)

# %%
from aq4svit_lib import plots
from aq4svit_lib.reproduce import notebook_setup
from aq4svit_lib.report import save_table
from aq4svit_lib.claims import show
from aq4svit_lib.seed_study import default_seeds, run_seed_study, seed_comparisons, seed_figure, seed_runs, seed_summary

prof, FIG, SETTING = notebook_setup(profile, imagenet_root, checkpoint_dir, figures_base, executor=executor, workers=workers,
                                    ray_address=ray_address, gpus_per_worker=gpus_per_worker)  # SETTING: the caption printed under every figure
SEEDS = default_seeds(prof, seeds)
print(f"resample seeds {SEEDS}")

# %% [markdown]
# **Every run**: one row per model, method and seed (the `*_split` columns are the hashes of the splits the run used: search and verify differ between seeds, test does not).

# %%
outcomes = run_seed_study(prof, seeds=SEEDS)
runs = seed_runs(outcomes)
save_table(runs.round(4), "09_seed_runs", FIG)
assert runs.groupby("model").test_split.nunique().eq(1).all(), "every seed must report on the same test split"
assert runs.groupby(["model", "method"]).search_split.nunique().eq(len(SEEDS)).all(), "each seed must search on its own split"
runs

# %% [markdown]
# **Each comparison per seed**: memory savings as 1 − bytes(a) / bytes(b) (holds if > 0), Greedy's wall-clock speed-up over QSViT (holds if > 1; in the timing tables), and each method's test drop (holds if ≤ Δ).

# %%
comparisons = seed_comparisons(runs, prof.delta)
save_table(comparisons.round(4), "09_seed_comparisons", FIG)
summary = seed_summary(comparisons)
save_table(summary.round(4), "09_seed_summary", FIG)
summary[["model", "comparison", "method", "holds_on", "mean", "sd", "min", "max", "speedup_mean", "speedup_min", "speedup_max"]]

# %%
fig = seed_figure(comparisons, setting=SETTING)
plots.save(fig, "09_seed_comparisons", FIG);

# %% [markdown]
# **Result.** A difference that holds on every seed (and model) is not an artefact of one search split; one that holds on some seeds only is within the split's noise. The claims it decides, computed from this run's tables (`aq4svit check` re-verifies them):

# %%
show('S1', 'S2', 'S3', 'S4', run=FIG)
