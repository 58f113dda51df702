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
# # 06 · The drift gate: does it predict the loss, and does it save work?
#
# AQ4SViT screens candidates by membrane-potential drift before evaluating accuracy. Our definition (the paper gives none): for every spiking layer, ‖H_q − H_fp32‖₂ / ‖H_fp32‖₂ of the pre-spike membrane potentials over the minibatch and all time steps, averaged over layers. The gate scores a candidate by the drift its move *adds* over the configuration it was derived from (drift against FP32 grows as the search goes deeper, so a threshold on it would prune every late candidate). Two policies: **threshold** (prune when the score exceeds τ, calibrated per level as 1.5 × the largest accepted score) and **rank** (Beam: evaluate only the best M = 2K children of a round by score per MiB saved). First, the **ablation**: the same searches with the gate on and off. Then how good the gate's decisions were: every candidate a gated search screened, pruned ones included, is evaluated in full.

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
long_run = None  # True: compute the Beam+kind gate ablation (`aq4svit reproduce --extended`); False: read it when cached; None: the profile's

# %%
import pandas as pd

from aq4svit_lib import plots
from aq4svit_lib.plot_style import method_name, setting
from aq4svit_lib.reproduce import ensure_search, extended_search, notebook_setup, profile_model, profile_splits
from aq4svit_lib.report import save_table
from aq4svit_lib.claims import show

prof, FIG, SETTING = notebook_setup(profile, imagenet_root, checkpoint_dir, figures_base, delta=delta, bits=bits, scheme=scheme,
                                    beam_width=beam_width, executor=executor, workers=workers,
                                    ray_address=ray_address, gpus_per_worker=gpus_per_worker,
                                    long_run=long_run)  # SETTING: the caption printed under every figure

# %%
from aq4svit_lib.report import gate_ablation

model = prof.sensitivity_model
ablation_runs = {
    "AQ4SViT-Greedy, threshold gate": ensure_search(prof, model, "greedy"),
    "AQ4SViT-Greedy, gate off": ensure_search(prof, model, "greedy", name="greedy_gate-off", gate="off"),
    "AQ4SViT-Beam, rank gate": ensure_search(prof, model, "beam"),
    "AQ4SViT-Beam, threshold gate": ensure_search(prof, model, "beam", name="beam_gate-threshold", gate="threshold"),
    "AQ4SViT-Beam, gate off": ensure_search(prof, model, "beam", name="beam_gate-off", gate="off"),  # every child in full
}
# ours: where candidates multiply (a layer-kind level after the block level) the gate has the most to screen; the ungated
# run evaluates every child in full (about half an hour on sdtv2_tiny): with --extended, otherwise shown when present
kind_runs = {"Beam+kind (ours), rank gate": extended_search(prof, model, "beam-kind"),
             "Beam+kind (ours), gate off": extended_search(prof, model, "beam-kind", name="beam-kind_gate-off", gate="off")}
ablation_runs |= {label: o for label, o in kind_runs.items() if o is not None}
ablation = gate_ablation(ablation_runs)
ablation.insert(0, "run", list(ablation_runs))
save_table(ablation.round(4), "06_gate_ablation", FIG)
fig = plots.gate_ablation(ablation.drop(columns=["search_seconds"]), setting=f"{model} · " + SETTING)
plots.save(fig, "06_gate_ablation", FIG);
fig = plots.gate_ablation(ablation, setting=f"{model} · " + SETTING)  # with the time panel: wall-clock, kept apart
plots.save(fig, "06_gate_ablation", FIG / "timings");
ablation

# %% [markdown]
# **Result.** What the gate saves (full evaluations, images) and what it costs (the answer's memory), same search otherwise. The claims it supports, computed from this run's tables (`aq4svit check` re-verifies them):

# %%
show('A6', 'F7', run=FIG)

# %%
from aq4svit_lib.report import gate_quality
from aq4svit_lib.reproduce import drift_study_for

rows, studies = [], {}
for label in ("AQ4SViT-Greedy, threshold gate", "AQ4SViT-Beam, rank gate", "AQ4SViT-Beam, threshold gate"):
    run = ablation_runs[label]
    df = drift_study_for(prof, model, [run])
    q = gate_quality(df, run.result["floor"], run.result["splits"]["search"]["size"])
    rows.append({"run": label, **q, "tau_per_level": run.result["gate"].get("tau_per_level")})
    studies[label] = df
quality = pd.DataFrame(rows)
save_table(quality.round(4), "06_gate_quality", FIG)
assert quality.candidates.gt(0).all()
quality

# %% [markdown]
# **τ sweep**: what a threshold gate would have pruned, for every τ, among the candidates the threshold-gated Beam screened (each judged in full): precision = share of its prunes that were truly infeasible, recall = share of the infeasible it caught. The dotted lines are the τ each level of that search calibrated.

# %%
from aq4svit_lib.report import tau_sweep

label = "AQ4SViT-Beam, threshold gate"
sweep = tau_sweep(studies[label])
used = {f"τ ({lvl})": t for lvl, t in (ablation_runs[label].result["gate"].get("tau_per_level") or {}).items()}
fig = plots.tau_sweep(sweep, used, title=f"{model}: {label}, {len(studies[label])} candidates", setting=f"{model} · " + SETTING)
plots.save(fig, "06_tau_sweep", FIG);
save_table(sweep.round(5), "06_tau_sweep", FIG)
sweep.iloc[:: max(1, len(sweep) // 10)]

# %% [markdown]
# **Result.** How precision and recall of pruning trade against each other as τ moves, and where the calibrated τ sits. Claim A6 in [REPRODUCTION.md](../REPRODUCTION.md#claims).

# %%
df = studies["AQ4SViT-Beam, rank gate"]
q = quality.set_index("run").loc["AQ4SViT-Beam, rank gate"]
se_pts = 100 * ablation_runs["AQ4SViT-Beam, rank gate"].trace.search_standard_error.median()  # paired SE of a candidate's drop
fig = plots.drift_vs_drop(df, None, prof.delta, q["spearman_rho_increase"], title=f"{model}: AQ4SViT-Beam, rank gate",
                          setting=f"{model} · " + SETTING, margin_drop_pts=prof.delta - 2.326 * se_pts)
plots.save(fig, f"06_drift_vs_drop_{model}", FIG);
save_table(df.round(5), f"06_drift_candidates_{model}", FIG);

# %% [markdown]
# **Result.** How well the drift a move adds predicts its accuracy drop (Spearman ρ with its interval), and which prunes were wrong. Claim A6 in [REPRODUCTION.md](../REPRODUCTION.md#claims).
