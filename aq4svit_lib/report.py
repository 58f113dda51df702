"""Tidy tables for the CLI and the notebooks: pandas in, pandas out; nothing here evaluates a model.

Measurements that run models (baselines, firing rates, the published setting) are in
:mod:`aq4svit_lib.analyses`; the papers' published numbers in :mod:`aq4svit_lib.papers`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .models import REGISTRY, create_model

#: trace decisions of a configuration the method judged feasible by the constraint's one rule
FEASIBLE_DECISIONS = ("accepted", "kept")


def zoo_table() -> pd.DataFrame:
    """One row per registered model: family, dataset, parameters (built on the meta device)."""
    rows = []
    for name, entry in REGISTRY.items():
        if name in ("sdt", "sdtv2", "sdtv3"):
            continue
        with torch.device("meta"):
            model = create_model(name)
        params = sum(p.numel() for p in model.parameters())
        rows.append(
            {
                "model": name,
                "family": entry.family,
                "dataset": entry.dataset,
                "params_M": round(params / 1e6, 2),
                "blocks": model.num_blocks,
                "T": getattr(model, "T", None) or "-",
                "description": entry.description,
            }
        )
    return pd.DataFrame(rows)


def to_markdown(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """Markdown table without the optional ``tabulate`` dependency."""

    def fmt(v):
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v)

    cols = list(df.columns)
    lines = ["| " + " | ".join(str(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(fmt(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def is_timing(column: str) -> bool:
    """Wall-clock columns: they differ on every run, so they live in their own table (see :func:`save_table`)."""
    c = str(column)
    return c == "seconds" or c.endswith("_seconds") or c.startswith("speedup") or c.endswith("per_s")


def save_table(df: pd.DataFrame, name: str, directory: str | Path, *, timings: bool = False) -> Path:
    """Write ``<directory>/tables/<name>.csv`` (method ids, for code) and ``.md`` (the papers' method names, for readers);
    return the CSV path.

    Wall-clock columns go to ``tables/timings/<name>.*`` with the table's label columns instead, so re-running
    unchanged results leaves every other committed table byte-identical.
    """
    tables = Path(directory) / "tables"
    if timings:  # a table about how a run went (times, images a memo spared): all of it is kept apart
        return _write_table(df, tables / "timings" / name)
    timing = [c for c in df.columns if is_timing(c)]
    out = _write_table(df.drop(columns=timing), tables / name)
    if timing:
        labels = [c for c in df.columns if c not in timing and not pd.api.types.is_numeric_dtype(df[c])]
        _write_table(df[labels + timing], tables / "timings" / name)
    return out


def _write_table(frame: pd.DataFrame, stem: Path) -> Path:
    from .ioutil import write_text_atomic
    from .plot_style import method_name

    shown = frame.assign(method=frame.method.map(method_name)) if "method" in frame else frame
    write_text_atomic(stem.with_suffix(".md"), to_markdown(shown))
    return write_text_atomic(stem.with_suffix(".csv"), frame.to_csv(index=False))


# -- model baselines ---------------------------------------------------------------------------
def memory_breakdown(model) -> pd.DataFrame:
    """FP32 bytes and parameters per stage and block (tidy: one row per block)."""
    from .quant import MemoryModel

    mm = MemoryModel(model)
    t = mm.table.copy()
    t["fp32_bytes"] = t.numel * 4
    df = t.groupby(["stage", "block"], sort=False)[["numel", "fp32_bytes"]].sum().reset_index()
    df["share"] = df.fp32_bytes / df.fp32_bytes.sum()
    return df


def _pts(fraction):
    return None if fraction is None else 100 * fraction


def outcome_row(outcome, label: str | None = None) -> dict:
    r = outcome.result
    fp32, final = r["fp32"], r["final"]

    def drop(split):
        a, b = fp32.get(f"{split}_accuracy"), final.get(f"{split}_accuracy")
        return None if a is None or b is None else 100 * (a - b)

    ver = r.get("verify", {})
    return {
        "model": r["model"],
        "method": label or r["method"],
        "bits": "/".join(str(b) for b in r["bits"]),
        "fp32_search": fp32["search_accuracy"],
        "fp32_verify": fp32.get("verify_accuracy"),
        "fp32_test": fp32["test_accuracy"],
        "search_accuracy": final["search_accuracy"],
        "verify_accuracy": final.get("verify_accuracy"),
        "test_accuracy": final["test_accuracy"],
        "search_drop_pts": drop("search"),
        "verify_drop_pts": drop("verify"),
        "test_drop_pts": drop("test"),
        # paired (McNemar) standard errors of those drops, in points: FP32 and the answer on the same images
        "search_drop_se_pts": _pts(final.get("search_standard_error")),
        "verify_drop_se_pts": _pts(final.get("verify_standard_error")),
        "test_drop_se_pts": _pts(final.get("test_standard_error")),
        "meets_delta": bool(final["meets_constraint"]),
        "meets_delta_verify": final.get("meets_constraint_verify"),
        "test_drop_within_delta": drop("test") <= r["delta"] + 1e-9 if not r["relative_delta"] else None,
        "backoff_steps": ver.get("backoff_steps"),
        "search_choice_test_drop_pts": (100 * (fp32["test_accuracy"] - ver["search_choice_test_accuracy"])
                                        if ver.get("search_choice_test_accuracy") is not None else None),
        "memory_bytes": r["memory_bytes"],
        "saving_vs_fp32": r["saving_vs_fp32"],
        "mean_bits": final["mean_bits"],
        "widths_used": len(set(outcome.bits.values())),
        "search_seconds": r["search_seconds"],
        "generated": r["evaluations"]["generated"],
        "gated": r["evaluations"]["gated"],
        "minibatch": r["evaluations"]["minibatch"],
        "full": r["evaluations"]["full"],
        "verify_evaluations": r["evaluations"].get("verify"),
        "images_forwarded": r["images_forwarded"],
        "images_backpropagated": r.get("images_backpropagated", 0),  # gradient proxies (fisher / hessian scores)
        "gate": (r.get("gate") or {}).get("policy"),
        "energy_saving_bit_aware": r.get("energy", {}).get("saving_bit_aware"),
    }


def run_statistics(outcomes) -> pd.DataFrame:
    """What each search's numbers rest on: split sizes, the standard error of one accuracy on search (and the 99 %
    paired margin's scale), and the memo's statistics (hits = evaluations replayed, not recomputed)."""
    import math

    rows = []
    for o in (outcomes.values() if isinstance(outcomes, dict) else outcomes):
        r = o.result
        sizes = {k: v.get("size") for k, v in r["splits"].items()}
        p, n = r["fp32"]["search_accuracy"], sizes.get("search")
        memo = r.get("memo") or {}
        rows.append({"model": r["model"], "method": r["method"], **{f"n_{k}": v for k, v in sizes.items()},
                     "fp32_search": p, "search_se_pts": 100 * math.sqrt(p * (1 - p) / n) if n else None,
                     "search_confidence": (r.get("settings") or {}).get("search_confidence"), "memo_hits": memo.get("hits"), "memo_misses": memo.get("misses"),
                     "memo_writes": memo.get("writes"), "replayed_seconds": r.get("replayed_seconds")})
    return pd.DataFrame(rows)


def comparison_table(outcomes) -> pd.DataFrame:
    """QSViT vs AQ4SViT per model and bit list: accuracy, memory saving vs FP32 and vs QSViT, time, speed-up.

    ``outcomes`` is an iterable of SearchOutcome (or a dict whose values are); the reference for
    "vs QSViT" is the QSViT run on the same model with the same bit list.
    """
    values = outcomes.values() if isinstance(outcomes, dict) else outcomes
    df = pd.DataFrame([outcome_row(o) for o in values])
    q = df[df.method == "qsvit"].set_index(["model", "bits"])

    def ref(row, col):
        key = (row.model, row.bits)
        return q.loc[key, col] if key in q.index else None

    df["saving_vs_qsvit"] = [1 - row.memory_bytes / ref(row, "memory_bytes") if ref(row, "memory_bytes") else None for row in df.itertuples()]
    df["speedup_vs_qsvit"] = [ref(row, "search_seconds") / row.search_seconds if ref(row, "search_seconds") and row.search_seconds else None
                              for row in df.itertuples()]
    return df


def block_bits(outcome) -> pd.DataFrame:
    """Mean bits of every block of a search's final config (for the bit-map figure)."""
    from .search.common import mean_bits  # noqa: F401  (same weighting)

    with torch.device("meta"):
        structure = create_model(outcome.result["model"]).quant_structure()
    rows = []
    for b in structure.blocks:
        layers = structure.layers_of(b.name)
        if not layers:
            continue
        total = sum(layer.params for layer in layers)
        mean = sum(layer.params * outcome.bits[layer.name] for layer in layers) / total
        rows.append({"block": b.name, "stage": b.stage, "kind": b.kind, "mean_bits": mean,
                     "min_bits": min(outcome.bits[layer.name] for layer in layers)})
    return pd.DataFrame(rows)


def group_bits(outcome_or_bits, model: str | None = None, structure=None) -> pd.DataFrame:
    """Width of every layer group (block : kind, forward order) of a config, for the multi-method bit map.

    ``outcome_or_bits``: a SearchOutcome, or a layer -> bits dict with ``model``. A group whose layers got
    different widths reports its narrowest (``mixed`` True) instead of a rounded mean that may not be a width.
    ``structure``: the model's QuantStructure, for a network that is not in the registry (a user's, wrapped).
    """
    bits = outcome_or_bits if isinstance(outcome_or_bits, dict) else outcome_or_bits.bits
    if structure is None:
        model = model or outcome_or_bits.result["model"]
        with torch.device("meta"):
            structure = create_model(model).quant_structure()
    rows = [{"block": layer.block, "kind": layer.kind, "stage": layer.stage, "bits": int(bits[layer.name])} for layer in structure.layers]
    df = pd.DataFrame(rows)
    df["group"] = df.block + " : " + df.kind
    out = df.groupby("group", sort=False).agg(block=("block", "first"), stage=("stage", "first"), bits=("bits", "min"),
                                              widths=("bits", "nunique")).reset_index()
    out["mixed"] = out.pop("widths") > 1
    return out


def stage_widths(outcome) -> pd.Series:
    """The widths each stage of a search's answer uses, e.g. ``{"1": "8/4", "3": "4/3/2"}``."""
    g = group_bits(outcome)
    return g.groupby("stage", sort=False).bits.agg(lambda b: "/".join(map(str, sorted(set(b), reverse=True))))


def feasible_configs(outcome) -> pd.DataFrame:
    """The trace rows of every configuration a search judged feasible, with their memory saving vs FP32."""
    t = outcome.trace
    ok = t[t.decision.isin(FEASIBLE_DECISIONS)]
    return ok.assign(saving_vs_fp32=1 - ok.memory_bytes / outcome.result["fp32_bytes"])


def tau_sweep(df: pd.DataFrame, x: str = "drift_increase", points: int = 40) -> pd.DataFrame:
    """What a threshold gate ``prune if x > τ`` would have done to the candidates of a drift study, for a range of τ.

    ``df`` is :func:`drift_study` with a ``feasible`` column (each candidate's full search accuracy judged by
    the constraint's own rule); precision = share of the pruned that were infeasible, recall = share of the
    infeasible that were pruned. τ runs over quantiles of the positive scores.
    """
    score = df[x].astype(float)
    infeasible = ~df.feasible.astype(bool)
    positive = score[score > 0]
    if positive.empty:
        return pd.DataFrame(columns=["tau", "pruned", "precision", "recall"])
    taus = np.unique(np.quantile(positive, np.linspace(0.0, 1.0, points)))
    rows = []
    for tau in taus:
        pruned = score > tau
        hit = int((pruned & infeasible).sum())
        rows.append({"tau": float(tau), "pruned": int(pruned.sum()), "precision": hit / int(pruned.sum()) if pruned.any() else float("nan"),
                     "recall": hit / int(infeasible.sum()) if infeasible.any() else float("nan")})
    return pd.DataFrame(rows)


def phase_times(outcome) -> pd.DataFrame:
    rows = [{"phase": k, **v} for k, v in outcome.result["phases"].items() if k not in ("final", "audit")]
    return pd.DataFrame(rows)


# -- drift as a proxy --------------------------------------------------------------------------------
def drift_study(trace: pd.DataFrame, fp32_search: float) -> pd.DataFrame:
    """Candidates of a gate-free search with both drift and full search accuracy."""
    df = trace[trace.drift.notna() & trace.search_accuracy.notna()].copy()
    if "gate_score" not in df:
        df["gate_score"] = float("nan")
    df["drop_pts"] = 100 * (fp32_search - df.search_accuracy)
    df["drift_increase"] = df.drift - df.parent_drift.fillna(0.0)  # the step's own contribution
    return df[["index", "phase", "unit", "drift", "parent_drift", "drift_increase", "gate_score", "drift_max", "spike_disagreement",
               "minibatch_accuracy", "search_accuracy", "drop_pts", "memory_bytes", "decision"]
              + (["feasible"] if "feasible" in df else [])].reset_index(drop=True)


def gate_quality(df: pd.DataFrame, floor: float, n: int) -> dict:
    """How good were the gate's actual decisions? Precision / recall of its prunes at predicting infeasibility.

    ``df`` is :func:`drift_study` of one search (every screened candidate with its *full* search
    accuracy, pruned ones included); infeasible is its ``feasible`` column (the constraint's own rule,
    margin included) when present, else the count rule on ``n`` images.
    Drift prunes (threshold or rank) and minibatch prunes are scored separately.
    """
    from scipy.stats import spearmanr

    from .evaluate.early_rejection import passes

    if "feasible" in df:
        infeasible = ~df.feasible.astype(bool)
    else:
        infeasible = ~df.search_accuracy.map(lambda a: passes(round(a * n), n, floor))
    gate = df.decision.isin(["pruned_drift", "pruned_rank"])
    mb = df.decision == "pruned_minibatch"

    def rho(x):
        return float(spearmanr(x, df.drop_pts).statistic) if len(df) > 2 else float("nan")

    def prec(mask):
        return int((mask & infeasible).sum()) / int(mask.sum()) if mask.any() else float("nan")

    return {
        "candidates": len(df),
        "infeasible": int(infeasible.sum()),
        "gate_pruned": int(gate.sum()),
        "gate_precision": prec(gate),
        "gate_recall": int((gate & infeasible).sum()) / int(infeasible.sum()) if infeasible.any() else float("nan"),
        "gate_false_prunes": int((gate & ~infeasible).sum()),
        "minibatch_pruned": int(mb.sum()),
        "minibatch_precision": prec(mb),
        "spearman_rho": rho(df.drift),
        "spearman_rho_increase": rho(df.drift_increase),
        "spearman_rho_minibatch_acc": rho(-df.minibatch_accuracy),
    }


def gate_ablation(runs: dict) -> pd.DataFrame:
    """The same search with different gates: cost (time, evaluations, images) and result (memory, drops)."""
    rows = []
    for o in runs.values():
        row = outcome_row(o)
        t = o.trace
        audited = t[t.get("audit_passed").notna()] if "audit_passed" in t else t.iloc[0:0]
        row["audited"] = len(audited)
        row["false_prunes_audited"] = int(audited.audit_passed.astype(bool).sum()) if len(audited) else 0
        rows.append(row)
    cols = ["method", "gate", "memory_bytes", "saving_vs_fp32", "search_drop_pts", "verify_drop_pts", "test_drop_pts", "search_seconds", "generated",
            "gated", "minibatch", "full", "images_forwarded", "audited", "false_prunes_audited"]
    return pd.DataFrame(rows)[cols]


def attention_findings(tables: dict[str, pd.DataFrame], fp32: float, collapse_drop: float = 20.0) -> pd.DataFrame:
    """QSViT's claim 'attention collapses at 16 bits', checked on the per-kind sweeps of each scheme."""
    rows = []
    for scheme, t in tables.items():
        k = t[(t.sweep == "kind") & t.layer_kind.isin(["q", "k", "v", "proj"])]
        top = k.bits.max()
        for row in k[k.bits == top].itertuples():
            rows.append({"scheme": scheme, "layer_kind": row.layer_kind, "bits": row.bits, "accuracy": row.accuracy,
                         "drop_pts": row.drop, "collapses": row.drop > collapse_drop})
        net = t[(t.sweep == "network")]
        for row in net.itertuples():
            rows.append({"scheme": scheme, "layer_kind": "whole network", "bits": row.bits, "accuracy": row.accuracy,
                         "drop_pts": row.drop, "collapses": row.drop > collapse_drop})
    return pd.DataFrame(rows)


def _structure(model: str):
    with torch.device("meta"):
        return create_model(model).quant_structure()


def _group_bits(per_group: dict[str, int], structure) -> dict[str, int]:
    bits = {}
    for group, b in per_group.items():
        block, kind = group.split(":")
        for layer in structure.layers_of(block):
            if layer.kind == kind:
                bits[layer.name] = b
    return bits


def base_settings_table(runs: dict) -> pd.DataFrame:
    """QSViT bSettingL / bSettingH per run: whole-network accuracy, memory, per-stage notation."""
    from .quant import paper_notation

    rows = []
    for (model, label), run in runs.items():
        r = run.result
        s = _structure(model)
        for name in ("bSettingH", "bSettingL"):
            bits = _group_bits(r[name], s)
            info = r["base_settings"][name]
            rows.append({"model": model, "run": label, "setting": name, "search_accuracy": info["search_accuracy"],
                         "drop_pts": 100 * (r["fp32"]["search_accuracy"] - info["search_accuracy"]),
                         "saving_vs_fp32": 1 - info["memory_bytes"] / r["fp32_bytes"], "meets_target": info["meets_target"],
                         "notation": " ".join(f"{k}:{v}" for k, v in paper_notation(bits, s).items())})
    return pd.DataFrame(rows)


def final_settings_table(runs: dict) -> pd.DataFrame:
    rows = []
    for (model, label), run in runs.items():
        r = run.result
        rows.append({
            "model": model, "run": label, "delta": r["delta"], "search_accuracy": r["final"]["search_accuracy"],
            "test_accuracy": r["final"]["test_accuracy"], "fp32_test": r["fp32"]["test_accuracy"],
            "saving_vs_fp32": r["saving_vs_fp32"], "energy_saving_sdt": r["energy"]["saving_sdt_convention"],
            "energy_saving_bit_aware": r["energy"]["saving_bit_aware"], "meets_delta": r["final"]["meets_constraint"],
            "meets_delta_verify": r["final"].get("meets_constraint_verify"), "backoff_steps": r.get("verify", {}).get("backoff_steps"),
            "test_drop_pts": 100 * (r["fp32"]["test_accuracy"] - r["final"]["test_accuracy"]),
            "test_drop_se_pts": _pts(r["final"].get("test_standard_error")),
            "notation": " ".join(f"{k}:{v}" for k, v in r["final"]["paper_notation"].items()),
        })
    return pd.DataFrame(rows)


def feasible_points(outcomes) -> pd.DataFrame:
    """Every configuration the given searches accepted (the constraint's one rule, margin included), de-duplicated.

    QSViT's Algorithm-1 measurements (single-group configurations) are sensitivity data, not candidates: not here.
    """
    from .search.common import pareto_front

    frames = []
    for o in outcomes:
        t = o.trace
        ok = t[t.decision.isin(FEASIBLE_DECISIONS)]
        frames.append(ok[["key", "memory_bytes", "search_accuracy"]].assign(method=o.result["method"]))
    df = pd.concat(frames).drop_duplicates("key").reset_index(drop=True)
    fp32_bytes = outcomes[0].result["fp32_bytes"]
    df["saving_vs_fp32"] = 1 - df.memory_bytes / fp32_bytes
    df["on_front"] = pareto_front(df)
    return df


# -- peer baselines (issue "Peer baselines") ------------------------------------------------------------


def anytime_curve(trace: pd.DataFrame, fp32_bytes: int) -> pd.DataFrame:
    """Best feasible memory after n full evaluations (pruned and drift-scored candidates cost none)."""
    full = trace[~trace.decision.astype(str).str.startswith("pruned") & (trace.decision != "scored")].reset_index(drop=True)
    best = full.memory_bytes.where(full.decision.isin(FEASIBLE_DECISIONS)).cummin().ffill().fillna(fp32_bytes)
    return pd.DataFrame({"full_evaluations": range(1, len(full) + 1), "best_feasible_bytes": best.astype(int),
                         "saving_vs_fp32": 1 - best / fp32_bytes})


def hypervolume(memory, accuracy, ref_memory: float, ref_accuracy: float) -> float:
    """Area dominated by the points (less memory, more accuracy) inside the reference box, in (bytes x accuracy).

    The reference point is (FP32 memory, FP32 accuracy - delta): only feasible, smaller-than-FP32 points count.
    """
    pts = sorted((m, a) for m, a in zip(memory, accuracy, strict=True) if m < ref_memory and a > ref_accuracy)
    area, best = 0.0, ref_accuracy
    for i, (m, a) in enumerate(pts):
        best = max(best, a)
        nxt = pts[i + 1][0] if i + 1 < len(pts) else ref_memory
        area += (nxt - m) * (best - ref_accuracy)
    return area


def peer_comparison(outcomes, reference=()) -> pd.DataFrame:
    """Every method on one model: the final config, its cost, its gap to the best known feasible config, and the
    hypervolume of its feasible front, normalised by the box from the reference point (FP32 memory, FP32 - delta) to
    (0 bytes, 100 % accuracy), so it lies in [0, 1].

    The best known feasible config is the smallest any of ``outcomes`` or ``reference`` (e.g. a long Optuna run,
    not a method of the table) judged feasible.
    """
    values = list(outcomes.values() if isinstance(outcomes, dict) else outcomes)
    df = pd.DataFrame([outcome_row(o) for o in values])
    feasible = pd.concat([o.trace[o.trace.decision.isin(FEASIBLE_DECISIONS)][["key", "memory_bytes"]] for o in [*values, *reference]])
    best_known = int(feasible.memory_bytes.min()) if len(feasible) else None
    r0 = values[0].result
    ref_acc = r0["floor"]
    box = r0["fp32_bytes"] * (1.0 - ref_acc)
    hv = []
    for o in values:
        t = o.trace[o.trace.decision.isin(FEASIBLE_DECISIONS)]
        hv.append(hypervolume(t.memory_bytes, t.search_accuracy, r0["fp32_bytes"], ref_acc) / box if box > 0 else float("nan"))
    df["hypervolume"] = hv
    df.insert(2, "family", [_family(m) for m in df.method])
    df["best_known_bytes"] = best_known
    df["gap_to_best_known"] = df.memory_bytes / best_known - 1 if best_known else None
    return df


def _family(method: str) -> str:
    """Whose method it is (the registry's ``family``): "as specified", "field" or "ours"."""
    from .search.registry import all_methods

    entry = all_methods().get(method)
    return entry.family if entry is not None else "field"


def ilp_front(outcomes: dict) -> pd.DataFrame:
    """The sensitivity ILP's predicted front per model with the measured drop of every solution it evaluated
    (NaN where rejected early): predicted cost (sum of single-group drops) against what the network really lost."""
    frames = []
    for model, o in outcomes.items():
        if o.table is None or "predicted_cost" not in o.table:
            continue
        t = o.table.copy()
        t["model"] = model
        t["measured_drop_pts"] = 100 * (o.result["fp32"]["search_accuracy"] - t.search_accuracy) if "search_accuracy" in t else float("nan")
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
