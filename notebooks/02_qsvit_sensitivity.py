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
# # 02 · QSViT Algorithm 1: layer-wise precision sensitivity
#
# QSViT quantizes **one layer group at a time** (the rest FP32) at each precision and measures accuracy; groups are the (block, layer kind) pairs of the model: downsample conv, separable conv PW / DW, channel conv, SDSA Q / K / V (with their RepConv chains) and projection, MLP, head. The paper reports that attention collapses already at 16 bits, which a max-abs scaled uniform quantizer cannot produce; the authors' earlier SNN work used fixed-point formats, and the paper does not say whether scales are per channel or per tensor. We therefore sweep, at **QSViT's own precision list** (`prof.qsvit_bits`, 32/16/12/8/4), three quantizers on the model the paper studied (SDT v2): `uniform` per channel (our default), `uniform_per_tensor` (one scale per weight tensor, likely the papers' granularity) and `fixed_point` (Qm.n, per tensor, truncation; m chosen from the weight range, see `aq4svit_lib.quant.quantizers`). Then the same sweep at **our default search space** (`prof.bits`), which goes below 4 bits: that is where the groups start to differ.

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
from aq4svit_lib.claims import show

prof, FIG, SETTING = notebook_setup(profile, imagenet_root, checkpoint_dir, figures_base, delta=delta, bits=bits, scheme=scheme,
                                    beam_width=beam_width, executor=executor, workers=workers,
                                    ray_address=ray_address, gpus_per_worker=gpus_per_worker)  # SETTING: the caption printed under every figure

# %%
from aq4svit_lib.quant import QuantScheme
from aq4svit_lib.reproduce import ensure_sweep

model = prof.sensitivity_model
SCHEMES = {"uniform": QuantScheme(), "uniform_per_tensor": QuantScheme("uniform", "per_tensor", "nearest"),
           "fixed_point": QuantScheme("fixed_point", "per_tensor", "truncate")}
qb = "-".join(map(str, prof.qsvit_bits))
tables = {s: ensure_sweep(prof, model, f"sweep_{s}_bits{qb}", bits=prof.qsvit_bits, scheme=sc) for s, sc in SCHEMES.items()}
default_run = ensure_search(prof, model, "qsvit")  # the default search space (shared with notebooks 03 and 05)
tables_default = {"uniform": default_run.table}
fp32 = default_run.result["fp32"]["search_accuracy"]
print(f"{model}: FP32 search accuracy {fp32:.4f}")

# %% [markdown]
# **QSViT's list** (32/16/12/8/4): accuracy with one group quantized, per scheme.

# %%
for scheme, table in tables.items():
    fig = plots.sensitivity_panels(table, "accuracy", title=f"QSViT Algorithm 1 on {model}: one group quantized ({scheme}, QSViT's list)",
                                   setting=setting(prof, bits=prof.qsvit_bits, scheme=SCHEMES[scheme]))
    plots.save(fig, f"02_sensitivity_{scheme}", FIG);
    save_table(table.round(5), f"02_sensitivity_{scheme}", FIG)
    assert table.accuracy.between(0, 1).all()

# %% [markdown]
# **Result.** At QSViT's list each group alone stays near FP32 down to 4 bits with the uniform quantizers, while the fixed-point quantizer separates the groups (the same colour scale in all three maps). Claims Q4 and Q5 in [REPRODUCTION.md](../REPRODUCTION.md#claims).

# %% [markdown]
# **Our default list** (below 4 bits): the same sweep with the per-channel uniform quantizer. Every group still tolerates 4 bits; at 3 and 2 bits the groups separate, which is what gives the searches something to decide.

# %%
t = tables_default["uniform"]
fig = plots.sensitivity_panels(t, "accuracy", title=f"QSViT Algorithm 1 on {model}: one group quantized (uniform, the search space)",
                               setting=SETTING)
plots.save(fig, "02_sensitivity_uniform_default_bits", FIG);
save_table(t.round(5), "02_sensitivity_uniform_default_bits", FIG)
g = t[t.sweep == "group"]
g.pivot_table(index="bits", values="drop", aggfunc=["max", "median"]).sort_index(ascending=False).round(2)

# %% [markdown]
# **Result.** Below 4 bits the groups separate: this is the sensitivity information the searches trade on. The claims it supports, computed from this run's tables (`aq4svit check` re-verifies them):

# %%
show('Q5', run=FIG)

# %% [markdown]
# **The other two models** at the search space (QSViT's Algorithm 1 of the searches notebook 05 compares; QSViT's and the integer-program baseline's answers on these models come from these maps).

# %%
for m in [x for x in prof.models if x != model]:
    t_m = ensure_search(prof, m, "qsvit").table
    fig = plots.sensitivity_panels(t_m, "accuracy", title=f"QSViT Algorithm 1 on {m}: one group quantized (uniform, the search space)",
                                   setting=SETTING)
    plots.save(fig, f"02_sensitivity_{m}", FIG);
    save_table(t_m.round(5), f"02_sensitivity_{m}", FIG)

# %% [markdown]
# **Uniform sweeps**: the whole network at one precision, and one layer kind across the whole network.

# %%
fig = plots.uniform_sweeps({**tables, "uniform (default bits)": tables_default["uniform"]}, setting=f"{model} · " + setting(prof, bits=sorted(set(prof.bits) | set(prof.qsvit_bits))),
                           floor_pct=100 * default_run.result["floor"], fp32_pct=100 * fp32)
plots.save(fig, "02_uniform_sweeps", FIG);
net = pd.concat([t[t.sweep == "network"].assign(scheme=s) for s, t in {**tables, "uniform (default bits)": tables_default["uniform"]}.items()])
net.pivot_table(index="bits", columns="scheme", values="accuracy").sort_index(ascending=False)

# %% [markdown]
# **Result.** The whole network at one width and one layer kind at a time: whether all-lowest-width is infeasible (so a search must mix widths) and whether attention collapses at 16 bits. Claims A0 and Q4 in [REPRODUCTION.md](../REPRODUCTION.md#claims).

# %% [markdown]
# **Does 16-bit attention collapse?** The paper's finding, checked on the per-kind sweep (attention = Q, K, V and projection of every transformer block at once).

# %%
from aq4svit_lib.report import attention_findings

findings = attention_findings(tables, fp32)
save_table(findings.round(4), "02_attention_findings", FIG)
findings

# %% [markdown]
# **Result.** Whether any quantizer makes attention collapse at 16 bits, computed from this run's tables:

# %%
show('Q4', run=FIG)
