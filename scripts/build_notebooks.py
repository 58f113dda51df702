"""Write the notebooks in notebooks/ from the cell sources below (stored without outputs).

The notebooks only set parameters, call the library, plot and tabulate; edit them here (or in
JupyterLab, then keep this file in sync) and run ``python scripts/build_notebooks.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat as nbf

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"

SETUP = """\
import warnings

import pandas as pd

from aq4svit_lib import plots
from aq4svit_lib.reproduce import ensure_search, figures_dir, get_profile, profile_model, profile_splits
from aq4svit_lib.report import save_table

warnings.filterwarnings("ignore", category=UserWarning)
prof = get_profile(profile, imagenet_root, checkpoint_dir)
FIG = figures_dir(prof, figures_base)
pd.set_option("display.width", 160, "display.max_columns", 30)
print(f"profile {prof.name}: models {prof.models}, search split {prof.search_size} images, bits {prof.bits}, delta {prof.delta}")
print(f"figures and tables -> {FIG}")"""

PARAMS = """\
# Parameters (papermill injects replacements below this cell)
profile = "default"  # ci | default | full | imagenet
figures_base = None  # None: figures/ for the default profile, results/<profile>/figures otherwise
imagenet_root = None  # imagenet profile only
checkpoint_dir = None  # imagenet profile only"""


def notebook(title: str, intro: str, cells: list[tuple[str, str]], extra_params: str = "") -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    params = nbf.v4.new_code_cell(PARAMS + ("\n" + extra_params if extra_params else ""))
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbf.v4.new_markdown_cell(f"# {title}\n\n{intro}"), params, nbf.v4.new_code_cell(SETUP)]
    for kind, src in cells:
        nb.cells.append(nbf.v4.new_markdown_cell(src) if kind == "md" else nbf.v4.new_code_cell(src))
    for i, cell in enumerate(nb.cells):  # stable ids: regenerating leaves unchanged notebooks byte-identical
        cell.id = hashlib.sha1(f"{title}/{i}".encode()).hexdigest()[:8]
    return nb


NOTEBOOKS = {}

NOTEBOOKS["01_models_and_baselines"] = notebook(
    "01 · Models and FP32 baselines",
    "The three backbones of the Spike-Driven Transformer family as small Fashion-MNIST models with the official "
    "architecture and depth (or, with the `imagenet` profile, the official checkpoints). For each: parameters, FP32 "
    "memory per stage, FP32 accuracy on the `search` split (what the searches see) and the `test` split (what we "
    "report), and evaluation time; then where the memory sits and how active the neurons are.",
    [
        ("code", """\
from aq4svit_lib.analyses import firing_rates, model_baseline
from aq4svit_lib.report import memory_breakdown

rows = []
for name in prof.models:
    rows.append(model_baseline(name, profile_splits(prof, name), checkpoint=prof.checkpoint(name) or "default",
                               batch_size=prof.batch_size))
baselines = pd.DataFrame(rows)
save_table(baselines.round(4), "01_models", FIG)
assert baselines.test_accuracy.between(0, 1).all() and baselines.search_accuracy.between(0, 1).all()
baselines"""),
        ("md", "**Memory per stage and block.** As in SDT v2's ImageNet models, stages 3 and 4 (the transformer blocks) "
               "hold most of the weights; this is where a bit saved is worth most."),
        ("code", """\
breakdowns = {name: memory_breakdown(profile_model(prof, name)) for name in prof.models}
fig = plots.memory_share(breakdowns)
plots.save(fig, "01_memory_share", FIG)
save_table(pd.concat([df.assign(model=m) for m, df in breakdowns.items()]), "01_memory_per_block", FIG);"""),
        ("md", "**Firing rates per neuron layer** on the `minibatch` split (binary LIF spikes for SDT v1 / v2; for "
               "SDT v3, the mean normalised multi-spike output)."),
        ("code", """\
rates = {name: firing_rates(profile_model(prof, name), profile_splits(prof, name)["minibatch"]) for name in prof.models}
fig = plots.firing_rates(rates)
plots.save(fig, "01_firing_rates", FIG)
summary = pd.DataFrame([{"model": m, "layers": len(df), "mean_rate": df.rate.mean(), "silent_layers": int((df.rate == 0).sum())}
                        for m, df in rates.items()])
save_table(summary, "01_firing_summary", FIG)
summary"""),
    ],
)

NOTEBOOKS["02_qsvit_sensitivity"] = notebook(
    "02 · QSViT Algorithm 1: layer-wise precision sensitivity",
    "QSViT quantizes **one layer group at a time** (the rest FP32) at each precision and measures accuracy; groups "
    "are the (block, layer kind) pairs of the model: downsample conv, separable conv PW / DW, channel conv, SDSA "
    "Q / K / V (with their RepConv chains) and projection, MLP, head. The paper reports that attention collapses "
    "already at 16 bits, which a max-abs scaled uniform quantizer cannot produce; the authors' earlier SNN work "
    "used fixed-point formats, and the paper does not say whether scales are per channel or per tensor. We therefore "
    "sweep, at **QSViT's own precision list** (`prof.qsvit_bits`, 32/16/12/8/4), three quantizers on the model the paper "
    "studied (SDT v2): `uniform` per channel (our default), `uniform_per_tensor` (one scale per weight tensor, likely "
    "the papers' granularity) and `fixed_point` (Qm.n, per tensor, truncation; m chosen from the weight range, see "
    "`aq4svit_lib.quant.quantizers`). Then the same sweep at **our default search space** (`prof.bits`), which goes "
    "below 4 bits: that is where the groups start to differ.",
    [
        ("code", """\
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
print(f"{model}: FP32 search accuracy {fp32:.4f}")"""),
        ("md", "**QSViT's list** (32/16/12/8/4): accuracy with one group quantized, per scheme."),
        ("code", """\
for scheme, table in tables.items():
    fig = plots.sensitivity_panels(table, "accuracy", title=f"{model}: accuracy with one group quantized ({scheme}, bits {prof.qsvit_bits})")
    plots.save(fig, f"02_sensitivity_{scheme}", FIG)
    save_table(table.round(5), f"02_sensitivity_{scheme}", FIG)
    assert table.accuracy.between(0, 1).all()"""),
        ("md", "**Our default list** (below 4 bits): the same sweep with the per-channel uniform quantizer. Every group still "
               "tolerates 4 bits; at 3 and 2 bits the groups separate, which is what gives the searches something to decide."),
        ("code", """\
t = tables_default["uniform"]
fig = plots.sensitivity_panels(t, "accuracy", title=f"{model}: accuracy with one group quantized (uniform, bits {prof.bits})")
plots.save(fig, "02_sensitivity_uniform_default_bits", FIG)
save_table(t.round(5), "02_sensitivity_uniform_default_bits", FIG)
g = t[t.sweep == "group"]
g.pivot_table(index="bits", values="drop", aggfunc=["max", "median"]).sort_index(ascending=False).round(2)"""),
        ("md", "**Uniform sweeps**: the whole network at one precision, and one layer kind across the whole network."),
        ("code", """\
fig = plots.uniform_sweeps({**tables, "uniform (default bits)": tables_default["uniform"]})
plots.save(fig, "02_uniform_sweeps", FIG)
net = pd.concat([t[t.sweep == "network"].assign(scheme=s) for s, t in {**tables, "uniform (default bits)": tables_default["uniform"]}.items()])
net.pivot_table(index="bits", columns="scheme", values="accuracy").sort_index(ascending=False)"""),
        ("md", "**Does 16-bit attention collapse?** The paper's finding, checked on the per-kind sweep (attention = Q, K, V and "
               "projection of every transformer block at once)."),
        ("code", """\
from aq4svit_lib.report import attention_findings

findings = attention_findings(tables, fp32)
save_table(findings.round(4), "02_attention_findings", FIG)
findings"""),
    ],
)

NOTEBOOKS["03_qsvit_guided"] = notebook(
    "03 · QSViT Algorithms 2–4: base settings, guided exploration, final network",
    "From the sensitivity table, **Algorithm 2** derives two base settings per layer group: bSettingL (the lowest "
    "precision at which the group is tolerant, i.e. drops less than 5 points, here also at every higher precision) and "
    "bSettingH (our rule, as the paper gives none: the next precision above bSettingL). **Algorithm 3** starts from "
    "bSettingH and moves groups to bSettingL, least sensitive first, keeping an ExpSetting only if it meets the target; "
    "**Algorithm 4** builds the final network. We run it with the paper's target (FP32 − 2.1 points) on the SDT v2 "
    "model at QSViT's own precision list, and on every model with the same Δ and search space as AQ4SViT for the comparison "
    "notebook. Like every method, an ExpSetting counts as meeting the target only with a 99 % one-sided paired margin on "
    "`search` (accuracy ≥ floor + 2.326 · SE of the paired drop); the result is then checked on the held-out `verify` "
    "split (back-off to a larger feasible setting if it misses).",
    [
        ("code", """\
runs = {name: ensure_search(prof, name, "qsvit") for name in prof.models}
# the paper's target on the paper's precision list (the sweep is shared with notebook 02 through its memo)
qb = "-".join(map(str, prof.qsvit_bits))
paper = ensure_search(prof, prof.sensitivity_model, "qsvit", name="qsvit_delta2.1", delta=prof.qsvit_paper_delta, bits=list(prof.qsvit_bits),
                      memo=str(runs[prof.sensitivity_model].folder.parent / f"sweep_uniform_bits{qb}" / "memo.sqlite"))"""),
        ("md", "**Base settings** (Algorithm 2) and their whole-network accuracy. The paper reports that bSettingL collapses "
               "(23.9 % on ImageNet): per-group tolerances do not add up."),
        ("code", """\
from aq4svit_lib.report import base_settings_table

base = base_settings_table({**{(n, f"delta {prof.delta}"): r for n, r in runs.items()}, (prof.sensitivity_model, "delta 2.1"): paper})
save_table(base.round(4), "03_base_settings", FIG)
base"""),
        ("md", "**Guided exploration** (Algorithm 3) on the paper's setting: every ExpSetting, its accuracy and memory, kept or not."),
        ("code", """\
explored = pd.DataFrame(paper.result["explored_settings"])
explored["memory_pct_fp32"] = 100 * explored.memory_bytes / paper.result["fp32_bytes"]
save_table(explored.round(4), "03_expsettings", FIG)
fig = plots.expsettings(explored, paper.result["floor"], paper.result["fp32_bytes"])
plots.save(fig, "03_expsettings", FIG)
explored.head(20)"""),
        ("md", "**The paper's own final setting** — Stage-1 (8,4,8,8), Stage-2 (8,8,8), Stage-3 (4,32), Stage-4 (4,32) — on the "
               "55M architecture (the paper reports a 22.75 % memory saving) and applied as is to our SDT v2 model."),
        ("code", """\
from aq4svit_lib.analyses import paper_setting_check

check = paper_setting_check(prof.sensitivity_model, profile_splits(prof, prof.sensitivity_model),
                            checkpoint=prof.checkpoint(prof.sensitivity_model) or "default")
save_table(check.round(4), "03_paper_setting", FIG)
check"""),
        ("md", "**Final networks** (Algorithm 4) in the paper's per-stage tuple notation (downsample, then blocks; a run of "
               "equal transformer blocks is written once), with memory and energy savings (energy: SDT-paper convention and "
               "our bit-width-aware estimate, both from measured firing rates)."),
        ("code", """\
from aq4svit_lib.report import final_settings_table

finals = final_settings_table({**{(n, f"delta {prof.delta}"): r for n, r in runs.items()}, (prof.sensitivity_model, "delta 2.1"): paper})
save_table(finals, "03_final_settings", FIG)
assert finals.saving_vs_fp32.between(0, 1).all() and finals.meets_delta_verify.all()
finals"""),
    ],
)

NOTEBOOKS["04_aq4svit_search"] = notebook(
    "04 · AQ4SViT: hierarchical search with the drift gate",
    "AQ4SViT walks network → stage → block, lowering one unit by one step of the bit list at a time. Each candidate "
    "passes a gate, cheapest first: (1) membrane-potential **drift** on the 256-image minibatch, scored as the drift the "
    "move adds over its parent; Greedy prunes above τ (calibrated per level: 1.5 × the largest accepted score, once the "
    "level has one accepted and one rejected full evaluation), Beam evaluates only the best 2K children of each round "
    "(rank gate); (2) minibatch accuracy within Δ + 3 points of FP32's; (3) accuracy on the `search` split with exact "
    "early rejection, feasible only with a 99 % one-sided paired margin (accuracy ≥ floor + 2.326 · SE of the paired "
    "drop; the trace calls a candidate that met Δ but not the margin `rejected_margin`). `method` selects Greedy or Beam "
    "(K = 3; seeded with Greedy's path, with trade moves when single lowerings are exhausted). The answer is then checked "
    "on the held-out `verify` split (back-off to a larger feasible configuration if it misses).",
    [
        ("code", """\
runs = {name: ensure_search(prof, name, method) for name in prof.models}
for name, run in runs.items():
    r = run.result
    print(f"{name}: {r['final']['search_accuracy']:.4f} (FP32 {r['fp32']['search_accuracy']:.4f}), saving {r['saving_vs_fp32']:.1%}, "
          f"{r['search_seconds']:.1f} s, evaluations {r['evaluations']}")
    assert r["final"]["meets_constraint"], "the final config must meet the constraint on the search split"
    assert r["final"]["meets_constraint_verify"], "and on the verify split (after any back-off)"
    assert 0 <= r["saving_vs_fp32"] <= 1"""),
        ("md", "**The search trace**: memory of every candidate in evaluation order, coloured by what the gate decided."),
        ("code", """\
for name, run in runs.items():
    fig = plots.search_trace(run.trace, run.result["fp32_bytes"], title=f"{method} on {name}")
    plots.save(fig, f"04_{method}_trace_{name}", FIG)
    save_table(run.trace.drop(columns=["config"]).round(5), f"04_{method}_trace_{name}", FIG)"""),
        ("md", "**Final bit map** per block (parameter-weighted mean bits of the block's layers)."),
        ("code", """\
from aq4svit_lib.report import block_bits, phase_times

maps = {name: block_bits(run) for name, run in runs.items()}
for name, m in maps.items():
    fig = plots.bit_map({f"{method} {name}": m})
    plots.save(fig, f"04_{method}_bitmap_{name}", FIG)
pd.DataFrame({name: m.set_index("block").mean_bits for name, m in maps.items()})"""),
        ("md", "**Time per phase** (the baseline phase computes the FP32 reference once: accuracy and membranes)."),
        ("code", """\
times = pd.concat([phase_times(run).assign(model=name) for name, run in runs.items()])
save_table(times.round(3), f"04_{method}_phase_times", FIG)
fig = plots.phase_times(times.groupby("phase", sort=False).seconds.sum().reset_index(), title=f"{method}: time per phase, all models")
plots.save(fig, f"04_{method}_phase_times", FIG)
times"""),
    ],
    extra_params='method = "greedy"  # greedy | beam',
)

NOTEBOOKS["05_comparison"] = notebook(
    "05 · QSViT vs AQ4SViT-Greedy vs AQ4SViT-Beam",
    "The analogue of the AQ4SViT paper's main table, on each model of the profile, all three searches with the same "
    "Δ, search space, splits and evaluation engine (prefix cache, early rejection and memo for all; the drift gate only for "
    "AQ4SViT: threshold policy for Greedy, rank policy for Beam). Each search starts from a cold memo of its own, so times "
    "compare like for like. Every method counts a candidate as feasible only with the same 99 % one-sided paired margin "
    "on `search` (accuracy ≥ floor + 2.326 · SE of the paired drop, `--search-confidence`); every answer is then checked "
    "on the `verify` split (3000 images the search never chose on), backing off to a larger feasible configuration if it "
    "misses, and reported on `test`.",
    [
        ("code", """\
from aq4svit_lib.report import comparison_table

METHODS = ("qsvit", "greedy", "beam")
bit_lists = [prof.bits, *prof.extra_bits]  # the full profile adds QSViT's list
outcomes = {}
for bits in bit_lists:
    suffix = "" if bits == prof.bits else "_bits" + "-".join(map(str, bits))
    for m in prof.models:
        for meth in METHODS:
            outcomes[(m, meth, bits)] = ensure_search(prof, m, meth, name=meth + suffix, bits=list(bits))
table = comparison_table(outcomes)
save_table(table.round(4), "05_comparison", FIG)
assert table.search_accuracy.between(0, 1).all() and table.test_accuracy.between(0, 1).all()
assert table.saving_vs_fp32.between(0, 1).all()
assert table.meets_delta_verify.all(), "every answer must meet delta on the verify split (after back-off)"
table[["model", "method", "saving_vs_fp32", "saving_vs_qsvit", "widths_used", "search_drop_pts", "verify_drop_pts", "test_drop_pts",
       "backoff_steps", "search_seconds", "speedup_vs_qsvit", "full", "gated"]]"""),
        ("md", "**Does the experiment decide anything?** The all-lowest-width network must be infeasible (so the searches must "
               "mix widths), and the methods' answers should differ. The network-level sweep of QSViT's Algorithm 1 gives the "
               "first; the bit maps below show the second."),
        ("code", """\
from aq4svit_lib.evaluate.early_rejection import passes

lowest = min(b for b in prof.bits if b != 32)
rows = []
for m in prof.models:
    q = outcomes[(m, "qsvit", prof.bits)]
    s, n = q.table, q.result["splits"]["search"]["size"]
    net = s[(s.sweep == "network") & (s.bits == lowest)].iloc[0]
    rows.append({"model": m, "lowest_bits": lowest, "drop_pts": net["drop"],
                 "infeasible": not passes(round(net["accuracy"] * n), n, q.result["floor"]),
                 **{f"{meth}_widths": int(table[(table.model == m) & (table.method == meth) & (table.bits == "/".join(map(str, prof.bits)))].widths_used.iloc[0])
                    for meth in METHODS}})
decides = pd.DataFrame(rows)
save_table(decides.round(3), "05_decides", FIG)
decides"""),
        ("code", """\
from aq4svit_lib.report import block_bits

for m in prof.models:
    maps = {meth: block_bits(outcomes[(m, meth, prof.bits)]) for meth in METHODS}
    fig = plots.bit_map(maps)
    fig.axes[0].set_title(f"{m}: bits per block (parameter-weighted mean)")
    plots.save(fig, f"05_bitmap_{m}", FIG)
pd.concat({meth: block_bits(outcomes[(prof.sensitivity_model, meth, prof.bits)]).set_index("block").mean_bits for meth in METHODS}, axis=1).T.round(1)"""),
        ("md", "**Accuracy vs memory**: every feasible configuration any of the three searches evaluated, the Pareto front, "
               "and the configuration each method returned."),
        ("code", """\
from aq4svit_lib.report import feasible_points

main = table[table.bits == "/".join(map(str, prof.bits))]
points = {m: feasible_points([outcomes[(m, meth, prof.bits)] for meth in METHODS]) for m in prof.models}
floors = {m: outcomes[(m, "greedy", prof.bits)].result["floor"] for m in prof.models}
fig = plots.pareto_scatter(points, main, floors)
plots.save(fig, "05_pareto", FIG)
fig = plots.search_time_bars(main)
plots.save(fig, "05_search_time", FIG)
table[["model", "bits", "method", "saving_vs_fp32", "saving_vs_qsvit", "search_seconds", "speedup_vs_qsvit"]]"""),
    ],
)

NOTEBOOKS["06_drift_proxy"] = notebook(
    "06 · The drift gate: does it predict the loss, and does it save work?",
    "AQ4SViT screens candidates by membrane-potential drift before evaluating accuracy. Our definition (the paper gives "
    "none): for every spiking layer, ‖H_q − H_fp32‖₂ / ‖H_fp32‖₂ of the pre-spike membrane potentials over the "
    "minibatch and all time steps, averaged over layers. The gate scores a candidate by the drift its move *adds* over "
    "the configuration it was derived from (drift against FP32 grows as the search goes deeper, so a threshold on it "
    "would prune every late candidate). Two policies: **threshold** (prune when the score exceeds τ, calibrated per "
    "level as 1.5 × the largest accepted score) and **rank** (Beam: evaluate only the best M = 2K children of a round by "
    "score per MiB saved). First, the **ablation**: the same searches with the gate on and off. Then how good the "
    "gate's decisions were: every candidate a gated search screened, pruned ones included, is evaluated in full.",
    [
        ("code", """\
from aq4svit_lib.report import gate_ablation

model = prof.sensitivity_model
ablation_runs = {
    "greedy, threshold gate": ensure_search(prof, model, "greedy"),
    "greedy, gate off": ensure_search(prof, model, "greedy", name="greedy_gate-off", gate="off"),
    "beam, rank gate": ensure_search(prof, model, "beam"),
    "beam, threshold gate": ensure_search(prof, model, "beam", name="beam_gate-threshold", gate="threshold"),
}  # Beam with the gate off evaluates every child in full: add it here for the complete ablation (costly)
ablation = gate_ablation(ablation_runs)
ablation.insert(0, "run", list(ablation_runs))
save_table(ablation.round(4), "06_gate_ablation", FIG)
ablation"""),
        ("code", """\
from aq4svit_lib.report import gate_quality
from aq4svit_lib.reproduce import drift_study_for

rows, studies = [], {}
for label in ("greedy, threshold gate", "beam, rank gate", "beam, threshold gate"):
    run = ablation_runs[label]
    df = drift_study_for(prof, model, [run])
    q = gate_quality(df, run.result["floor"], run.result["splits"]["search"]["size"])
    rows.append({"run": label, **q, "tau_per_level": run.result["gate"].get("tau_per_level")})
    studies[label] = df
quality = pd.DataFrame(rows)
save_table(quality.round(4), "06_gate_quality", FIG)
assert quality.candidates.gt(0).all()
quality"""),
        ("code", """\
df = studies["beam, rank gate"]
q = quality.set_index("run").loc["beam, rank gate"]
fig = plots.drift_vs_drop(df, None, prof.delta, q["spearman_rho_increase"], title=f"{model} (Beam, rank gate)")
plots.save(fig, f"06_drift_vs_drop_{model}", FIG)
save_table(df.round(5), f"06_drift_candidates_{model}", FIG)"""),
    ],
)

NOTEBOOKS["07_peer_baselines"] = notebook(
    "07 · AQ4SViT against the field: peer baselines under one engine",
    "The papers compare AQ4SViT only with QSViT. Here every method runs through the same evaluation engine, splits, Δ, "
    "search space and constraint rule (the 99 % paired margin on `search`, then the `verify` check): QSViT, "
    "AQ4SViT-Greedy and -Beam, a **sensitivity + integer program** baseline (HAWQ-V3 / ModelOpt AutoQuantize style: "
    "QSViT's single-group drops as scores, an exact HiGHS solve over a sweep of budgets, then a bisection over the "
    "predicted front with real evaluations), **Optuna NSGA-II** over per-block widths and **random** configurations, "
    "the last two under the same budget of full evaluations (`baseline_budget` of the profile). The **best known "
    "feasible configuration** is the smallest any method evaluated and accepted; each method's gap to it says how far "
    "it stopped from what exists.",
    [
        ("code", """\
from aq4svit_lib.report import FEASIBLE_DECISIONS, anytime_curve, peer_comparison
from aq4svit_lib.reproduce import PEER_METHODS, compare_methods

runs = {m: compare_methods(prof, m) for m in prof.models}
table = pd.concat([peer_comparison(runs[m]) for m in prof.models], ignore_index=True)
save_table(table.round(4), "07_peer_comparison", FIG)
assert table.meets_delta_verify.all(), "every answer must meet delta on the verify split (after back-off)"
table[["model", "method", "saving_vs_fp32", "gap_to_best_known", "hypervolume", "widths_used", "search_drop_pts",
       "verify_drop_pts", "test_drop_pts", "full", "images_forwarded", "search_seconds"]]"""),
        ("md", "**Equal budget**: the best feasible memory saving each method had reached after n full evaluations (pruned "
               "candidates cost none). A method whose curve lies above another's found smaller feasible models with "
               "fewer evaluations."),
        ("code", """\
curves = {m: {meth: anytime_curve(o.trace, o.result["fp32_bytes"]) for meth, o in runs[m].items()} for m in prof.models}
best = {m: 1 - table[table.model == m].best_known_bytes.iloc[0] / runs[m]["greedy"].result["fp32_bytes"] for m in prof.models}
fig = plots.anytime_curves(curves, best)
plots.save(fig, "07_anytime", FIG)
pd.DataFrame({m: {meth: c.full_evaluations.max() for meth, c in cs.items()} for m, cs in curves.items()})"""),
        ("code", """\
points = {}
for m in prof.models:
    points[m] = {}
    for meth, o in runs[m].items():
        t = o.trace[o.trace.decision.isin(FEASIBLE_DECISIONS)]
        points[m][meth] = t.assign(saving_vs_fp32=1 - t.memory_bytes / o.result["fp32_bytes"])
floors = {m: runs[m]["greedy"].result["floor"] for m in prof.models}
fig = plots.peer_fronts(points, table, floors)
plots.save(fig, "07_fronts", FIG)"""),
    ],
)

NOTEBOOKS["00_train_default_models"] = notebook(
    "00 · (optional) Retrain the shipped default models",
    "Re-creates `data/checkpoints/*_tiny.safetensors` with the library's training loop on the `train` split only. It takes "
    "about 1–2 hours per model on 2 CPU cores, so `aq4svit reproduce` skips it unless asked (`--only 00`). Set "
    "`write = True` to overwrite the shipped checkpoints.",
    [
        ("code", """\
from aq4svit_lib.training import TrainConfig, train

write = False
EPOCHS = {"ci": 1, "default": 20, "full": 20}.get(prof.name, 20)
recipes = {"sdt_tiny": {}, "sdtv2_tiny": {"lr": 2e-3, "warmup_epochs": 0.2}, "sdtv3_tiny": {}}
results = []
for name in prof.models:
    out = f"../data/checkpoints/{name}.safetensors" if write else None
    cfg = TrainConfig(model=name, epochs=EPOCHS, **recipes.get(name, {}))
    _, r = train(cfg, out, prof.spec, progress=False, log=print)
    results.append({"model": name, "test_accuracy": r["test_accuracy"], "train_seconds": r["train_seconds"]})
pd.DataFrame(results)"""),
    ],
)


def main() -> None:
    NB_DIR.mkdir(exist_ok=True)
    for name, nb in NOTEBOOKS.items():
        nbf.write(nb, NB_DIR / f"{name}.ipynb")
        print("wrote", NB_DIR / f"{name}.ipynb")


if __name__ == "__main__":
    main()
