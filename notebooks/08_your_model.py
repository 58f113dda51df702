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
# Copy this notebook and replace the two cells marked **yours**. The example is a network this package did not write:
# spikingjelly's own **Spikformer** (`spikingjelly.activation_based.model.spikformer`), a small configuration we trained on
# Fashion-MNIST with `aq4svit train` (model card: `data/checkpoints/README.md`). The steps are a user's: load the model
# and the data → look at the structure the library inferred → QSViT's sensitivity sweep → AQ4SViT Greedy and Beam → the
# bit map → export and memory report. The same from a shell:
#
# ```bash
# aq4svit search --method greedy --model aq4svit_lib.models.jelly:spikformer_fmnist \
#     --checkpoint data/checkpoints/spikformer_fmnist.safetensors --out results/spikformer_greedy
# ```

# %% tags=["parameters"]
# Parameters (papermill injects replacements below this cell)
profile = "default"  # ci | default: split sizes and search settings, as in every notebook
figures_base = None  # None: figures/ for the default profile, results/<profile>/figures otherwise
checkpoint = None  # the network's weights; None: the shipped Spikformer checkpoint
methods = ["qsvit", "greedy", "beam"]  # any registered method (`aq4svit methods`)

# %%
import pandas as pd

from aq4svit_lib import plots
from aq4svit_lib.report import save_table
from aq4svit_lib.reproduce import notebook_setup, results_dir

prof, FIG, SETTING = notebook_setup(profile, figures_base=figures_base)  # SETTING: the caption under every figure
OUT = results_dir(prof) / "spikformer_fmnist"  # one folder per method; a re-run resumes from their memos

# %% [markdown]
# **Your model (yours).** Any `nn.Module` whose neurons are spikingjelly nodes in multi-step mode, input `[N, C, H, W]`
# (or `[T, N, C, H, W]`), output logits `[N, classes]` (or `[T, N, classes]`, averaged over time). `wrap` infers the
# quantizable layers (every Conv / Linear weight), the blocks (top-level children, and the elements of a `ModuleList`), the
# stages (one per top-level container) and the layer kinds (a layer's path inside its block). `segments` is optional:
# your forward cut into pieces whose chain *is* the forward (checked on a sample batch); with it the engine caches the
# unchanged prefix of every candidate and stops hopeless evaluations early, without it each evaluation is a plain forward.

# %%
from spikingjelly.activation_based.model.spikformer import Spikformer

from aq4svit_lib.models.adapter import spikformer_segments, wrap
from aq4svit_lib.models.checkpoint import read_state_dict
from aq4svit_lib.models.jelly import SPIKFORMER_FMNIST
from aq4svit_lib.models.registry import CHECKPOINT_DIR

net = Spikformer(**SPIKFORMER_FMNIST)  # T=4, 1 x 28 x 28 input, patch 4, 2 blocks of 64 channels
state, _ = read_state_dict(checkpoint or CHECKPOINT_DIR / "spikformer_fmnist.safetensors")
model = wrap(net, name="spikformer_fmnist", segments=spikformer_segments(net))
model.load_state_dict(state)  # `aq4svit train` saved the wrapped network (keys net.*): load into the wrapper
print(f"{sum(p.numel() for p in net.parameters()):,} parameters; prefix caching: {model.sequential}")

# %% [markdown]
# **Your data (yours).** Any map-style `Dataset` of `(image tensor, integer label)`; here Fashion-MNIST as tensors.
# `dataset_splits(test, train)` cuts it by the rules of every other notebook: `search` and `verify` drawn with a fixed
# seed from the training pool, `minibatch` (the drift gate's) the first images of `search`, `test` never searched on.

# %%
from torch.utils.data import TensorDataset

from aq4svit_lib.data import dataset_splits, load_fashion_mnist
from aq4svit_lib.data.fashion_mnist import normalize

fm = load_fashion_mnist()
train = TensorDataset(normalize(fm.train_images), fm.train_labels)
test = TensorDataset(normalize(fm.test_images), fm.test_labels)
splits = dataset_splits(test, train, prof.spec)
pd.Series({name: len(s) for name, s in splits.items()}, name="images")

# %% [markdown]
# **What the library inferred.** If a grouping is wrong for your network, pass a mapping of regular expressions over layer
# names, `wrap(net, mapping={"blocks": {...}, "stages": {...}, "kinds": {...}, "skip": [...]})` (on the command line
# `--mapping file.json`); README, "Search your own model".

# %%
structure = model.quant_structure()
layers = pd.DataFrame([{"layer": layer.name.removeprefix("net."), "stage": layer.stage, "block": layer.block, "kind": layer.kind}
                       for layer in structure.layers])
save_table(layers, "08_structure", FIG)
layers.groupby(["stage", "block"], sort=False).agg(layers=("layer", "count"), kinds=("kind", lambda k: ", ".join(dict.fromkeys(k))))

# %% [markdown]
# **Sweep, then search**: QSViT's methodology (its Algorithm 1 is the per-group sensitivity sweep below), AQ4SViT Greedy
# and Beam, on the same engine, splits and constraint rule (Δ on `search`, checked on `verify`) as the zoo's models, with
# this profile's settings. Every answer is exported (`final.safetensors` in its folder).

# %%
from aq4svit_lib.report import comparison_table
from aq4svit_lib.search import run_search
from aq4svit_lib.search.settings import template_for

options = {"qsvit": {"uniform_sweeps": False}}  # its per-group sweep only (notebook 02 adds whole-network sweeps)
runs = {}
for method in methods:
    folder = OUT / method
    runs[method] = run_search(method, net=model, splits=splits, out=folder, resume=(folder / "memo.sqlite").exists(),
                              spec=prof.spec, delta=prof.delta, **template_for(dict(prof.search), method), **options.get(method, {}))
table = comparison_table(runs)
save_table(table, "08_searches", FIG)
assert all(o.result["final"]["meets_constraint_verify"] for o in runs.values()), "every answer meets Δ on the verify split"
table[["method", "memory_bytes", "saving_vs_fp32", "search_drop_pts", "verify_drop_pts", "test_drop_pts", "full"]]

# %% [markdown]
# **QSViT's sensitivity sweep** on this network: each layer group alone at each width, the rest FP32 (accuracy drop on
# `search`, points).

# %%
from IPython.display import display

sweep = runs["qsvit"].table if "qsvit" in runs else pd.DataFrame()
if len(sweep):
    groups = sweep[sweep.sweep == "group"].assign(group=lambda d: d.block + " : " + d.layer_kind)
    save_table(groups[["group", "stage", "bits", "accuracy", "drop", "correct", "n"]], "08_sweep", FIG)
    display(groups.pivot_table(index="group", columns="bits", values="drop", sort=False).round(2))

# %% [markdown]
# **The bit map**: the exact width of every layer group in each answer.

# %%
from aq4svit_lib.plot_style import method_name
from aq4svit_lib.report import group_bits

maps = {method_name(m): group_bits(o.bits, structure=structure) for m, o in runs.items()}
fig = plots.bit_map(maps, runs[methods[0]].result["bits"], title="spikformer_fmnist (spikingjelly's Spikformer)",
                    setting=SETTING,
                    savings={method_name(m): o.result["saving_vs_fp32"] for m, o in runs.items()})
plots.save(fig, "08_bitmap_spikformer_fmnist", FIG);

# %% [markdown]
# **Export and memory report**: the smallest answer rebuilt from its packed file (codes, scales and bit map) into a fresh
# copy of your network, and where its bytes are.

# %%
from aq4svit_lib.quant import memory_report
from aq4svit_lib.quant.export import load_packed

best = min(runs, key=lambda m: runs[m].result["memory_bytes"])
packed = OUT / best / "final.safetensors"
restored = load_packed(packed, model=wrap(Spikformer(**SPIKFORMER_FMNIST), name="spikformer_fmnist"))
report = memory_report(restored, restored.quant_config)
assert report.total_bytes == runs[best].result["memory_bytes"], "the packed file holds the searched configuration"
print(f"{method_name(best)}: {packed.stat().st_size:,} bytes on disk; {report.total_bytes:,} of {report.fp32_bytes:,} bytes "
      f"FP32 in the memory model ({report.saving:.1%} saved)")
report.by("stage")
