# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 00 · (optional) Retrain the shipped default models
#
# Re-creates `data/checkpoints/*_tiny.safetensors` with the library's training loop on the `train` split only. It takes about 1–2 hours per model on 2 CPU cores, so `aq4svit reproduce` skips it unless asked (`--only 00`). Set `write = True` in the parameters cell to overwrite the shipped checkpoints.

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
write = False  # True: overwrite the shipped checkpoints in data/checkpoints/ with the retrained ones

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
from aq4svit_lib.training import TrainConfig, train

EPOCHS = {"ci": 1, "default": 20, "full": 20}.get(prof.name, 20)
recipes = {"sdt_tiny": {}, "sdtv2_tiny": {"lr": 2e-3, "warmup_epochs": 0.2}, "sdtv3_tiny": {}}
results = []
for name in prof.models:
    out = f"../data/checkpoints/{name}.safetensors" if write else None
    cfg = TrainConfig(model=name, epochs=EPOCHS, **recipes.get(name, {}))
    _, r = train(cfg, out, prof.spec, progress=False, log=print)
    results.append({"model": name, "test_accuracy": r["test_accuracy"], "train_seconds": r["train_seconds"]})
pd.DataFrame(results)
