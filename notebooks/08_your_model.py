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
# # 08 · Your own model: QSViT's sweep and AQ4SViT's search on any spikingjelly network
#
# Copy this notebook and replace the two cells marked **yours**. The example is a network this package did not write: spikingjelly's own **Spikformer** (`spikingjelly.activation_based.model.spikformer`), a small configuration we trained on Fashion-MNIST (`aq4svit train`, model card in `data/checkpoints/`). The steps are the ones a user takes: load the model and the data → look at the structure the library inferred → QSViT's sensitivity sweep → AQ4SViT Greedy and Beam → the bit map → export.

# %% tags=["parameters"]
# Parameters (papermill injects replacements below this cell)
profile = "default"  # ci | default: the split sizes (ci: small, for a smoke run)
figures_base = None  # None: figures/ for the default profile, results/<profile>/figures otherwise
checkpoint = None  # the network's weights; None: the shipped Spikformer checkpoint
delta = 1.5  # Δ, the accuracy drop allowed (points)
bits = [32, 8, 6, 4, 3, 2]  # weight widths to search

# %%
from pathlib import Path

import pandas as pd
import torch

from aq4svit_lib import plots
from aq4svit_lib.reproduce import figures_dir, get_profile, results_dir
from aq4svit_lib.report import save_table

prof = get_profile(profile)
FIG = figures_dir(prof, figures_base)
OUT = results_dir(prof) / "spikformer_fmnist"  # result folders: a re-run resumes from their memos
SETTING = f"{prof.name} profile · Δ = {delta} pp · widths {bits}"

# %% [markdown]
# **Your model (yours).** Any `nn.Module` whose neurons are spikingjelly nodes in multi-step mode. `wrap` infers the quantizable layers (every Conv / Linear weight), the blocks (top-level children; the elements of a `ModuleList`), the stages (one per container) and the layer kinds (a layer's path inside its block). `segments` is optional: the network's forward cut into pieces whose chain *is* its forward (checked on a sample), which lets the engine cache unchanged prefixes; without it every evaluation is a plain forward pass.

# %%
from spikingjelly.activation_based.model.spikformer import Spikformer

from aq4svit_lib.models.adapter import spikformer_segments, wrap
from aq4svit_lib.models.jelly import SPIKFORMER_FMNIST
from aq4svit_lib.models.checkpoint import read_state_dict
from aq4svit_lib.models.registry import CHECKPOINT_DIR

net = Spikformer(**SPIKFORMER_FMNIST)  # T=4, 1 x 28 x 28 input, 2 blocks of 64 channels
state, _ = read_state_dict(checkpoint or CHECKPOINT_DIR / "spikformer_fmnist.safetensors")
net.load_state_dict({k.removeprefix("net."): v for k, v in state.items()})
model = wrap(net, name="spikformer_fmnist", num_classes=10, in_channels=1, img_size=28, segments=spikformer_segments(net))

# %% [markdown]
# **Your data (yours).** Any map-style `Dataset` of `(image, label)`; here Fashion-MNIST as plain tensors. The library cuts it by the rules of every other notebook: `search` and `verify` drawn with a fixed seed from the training pool, `minibatch` the first images of `search`, `test` never searched on.

# %%
from torch.utils.data import TensorDataset

from aq4svit_lib.data import dataset_splits, load_fashion_mnist
from aq4svit_lib.data.fashion_mnist import normalize

fm = load_fashion_mnist()
train = TensorDataset(normalize(fm.train_images), fm.train_labels)
test = TensorDataset(normalize(fm.test_images), fm.test_labels)
splits = dataset_splits(test, train, prof.spec)
{name: len(s) for name, s in splits.items()}

# %% [markdown]
# **What the library inferred**: blocks, stages and layer kinds. If a grouping is wrong for your network, pass `mapping={"kinds": {"regex": "kind"}, "blocks": {...}, "stages": {...}, "skip": [...]}` to `wrap` (or `--mapping file.json` on the command line).

# %%
structure = model.quant_structure()
layers = structure.as_frame()
layers["name"] = layers.name.str.removeprefix("net.")
save_table(layers[["name", "block", "stage", "kind", "params"]], "08_structure", FIG)
layers.groupby(["stage", "block"], sort=False).agg(layers=("name", "count"), kinds=("kind", lambda k: ", ".join(dict.fromkeys(k))),
                                                   params=("params", "sum"))

# %% [markdown]
# **Sweep, then search.** QSViT's methodology (its Algorithm 1 is the per-group sensitivity sweep), then AQ4SViT Greedy and Beam, all through `run_search` on the same engine, splits and constraint rule as the zoo's models.

# %%
from aq4svit_lib.search import run_search

runs = {}
for method in ("qsvit", "greedy", "beam"):
    runs[method] = run_search(method, net=model, splits=splits, out=OUT / method, resume=(OUT / method / "result.json").exists(),
                              delta=delta, bits=bits, export=True)
table = pd.DataFrame([{"method": m, "saving_vs_fp32": o.result["saving_vs_fp32"],
                       "search_drop_pts": 100 * (o.result["fp32"]["search_accuracy"] - o.result["final"]["search_accuracy"]),
                       "verify_drop_pts": 100 * (o.result["fp32"]["verify_accuracy"] - o.result["final"]["verify_accuracy"]),
                       "test_drop_pts": 100 * (o.result["fp32"]["test_accuracy"] - o.result["final"]["test_accuracy"]),
                       "full_evaluations": o.result["evaluations"]["full"], "prefix_caching": model.sequential} for m, o in runs.items()])
save_table(table.round(4), "08_searches", FIG)
assert all(o.result["final"]["meets_constraint_verify"] for o in runs.values()), "every answer meets Δ on the verify split"
print(f"FP32 test accuracy {runs['greedy'].result['fp32']['test_accuracy']:.4f}")
table

# %% [markdown]
# **QSViT's sensitivity sweep** on this network: the accuracy drop of each layer group alone at each width.

# %%
sweep = runs["qsvit"].table
groups = sweep[sweep.sweep == "group"] if "sweep" in sweep else sweep
save_table(groups.round(5), "08_sweep", FIG)
groups.pivot_table(index="unit", columns="bits", values="drop", sort=False).round(2) if {"unit", "bits", "drop"} <= set(groups.columns) else groups.head()

# %% [markdown]
# **The bit map**: the exact width of every layer group in each answer.

# %%
from aq4svit_lib.plot_style import method_name
from aq4svit_lib.report import group_bits

strip = {layer.name: layer for layer in structure.layers}
maps = {method_name(m): group_bits(o.bits, structure=structure) for m, o in runs.items()}
fig = plots.bit_map(maps, bits, title="spikformer_fmnist (spikingjelly's Spikformer)", setting=SETTING,
                    savings={method_name(m): o.result["saving_vs_fp32"] for m, o in runs.items()})
plots.save(fig, "08_bitmap_spikformer_fmnist", FIG);

# %% [markdown]
# **Export**: the packed weights of each answer (`final.safetensors` in its result folder: codes, scales, bit map) and the memory report.

# %%
from aq4svit_lib.quant.export import load_packed

best = min(runs, key=lambda m: runs[m].result["memory_bytes"])
packed = OUT / best / "final.safetensors"
restored = load_packed(wrap(Spikformer(**SPIKFORMER_FMNIST), name="spikformer_fmnist", segments=None), packed)
print(f"{method_name(best)}: {packed.stat().st_size:,} bytes on disk; memory {runs[best].result['memory_bytes']:,} of "
      f"{runs[best].result['fp32_bytes']:,} bytes FP32 ({runs[best].result['saving_vs_fp32']:.1%} saved)")
