"""Tidy tables for the CLI and the notebooks (pandas in, pandas out; no plotting here)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch

from .data import EVAL_BATCH_SIZE
from .models import REGISTRY, create_model


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


def save_table(df: pd.DataFrame, name: str, directory: str | Path) -> Path:
    """Write ``<directory>/tables/<name>.csv`` and ``.md``; return the CSV path."""
    from .ioutil import write_text_atomic

    tables = Path(directory) / "tables"
    write_text_atomic(tables / f"{name}.md", to_markdown(df))
    return write_text_atomic(tables / f"{name}.csv", df.to_csv(index=False))


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


def firing_rates(model, split, batch_size: int = 256) -> pd.DataFrame:
    """Mean output (spike rate, or normalised multi-spike count) of every neuron layer on ``split``."""
    from .models import record_membranes

    sums: dict[str, float] = {}
    n = 0
    with torch.inference_mode():
        for x, _ in split.batches(batch_size):
            with record_membranes(model) as rec:
                model(x)
            for k, v in rec.firing_rates().items():
                sums[k] = sums.get(k, 0.0) + v * len(x)
            n += len(x)
    blocks = model.quant_structure().blocks
    def owner(name):
        for b in blocks:
            if any(name == p or name.startswith(p + ".") for p in b.modules):
                return b.name, b.stage
        return "head", "head"
    rows = [{"neuron": k, "block": owner(k)[0], "stage": owner(k)[1], "rate": v / n, "order": i} for i, (k, v) in enumerate(sums.items())]
    return pd.DataFrame(rows)


def model_baseline(name: str, splits: dict, checkpoint="default", batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """FP32 accuracy on search and test, eval time of the test split, params and memory."""
    from .evaluate import Evaluator
    from .quant import QuantConfig

    model = create_model(name, checkpoint=checkpoint)
    with Evaluator(model, splits, batch_size=batch_size, quiet=True) as ev:
        search = ev.accuracy(QuantConfig(), "search")
        t0 = time.perf_counter()
        test = ev.accuracy(QuantConfig(), "test")
        seconds = time.perf_counter() - t0
    mem = memory_breakdown(model)
    row = {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        "fp32_MB": mem.fp32_bytes.sum() / 2**20,
        "search_accuracy": search.accuracy,
        "test_accuracy": test.accuracy,
        "test_eval_seconds": seconds,
        "test_images": test.n,
    }
    for stage, share in mem.groupby("stage", sort=False).share.sum().items():
        row[f"share_stage_{stage}"] = share
    return row


# -- searches ------------------------------------------------------------------------------------
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
        "gate": (r.get("gate") or {}).get("policy"),
        "energy_saving_bit_aware": r.get("energy", {}).get("saving_bit_aware"),
    }


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
               "minibatch_accuracy", "search_accuracy", "drop_pts", "memory_bytes", "decision"]].reset_index(drop=True)


def gate_quality(df: pd.DataFrame, floor: float, n: int) -> dict:
    """How good were the gate's actual decisions? Precision / recall of its prunes at predicting infeasibility.

    ``df`` is :func:`drift_study` of one search (every screened candidate with its *full* search
    accuracy, pruned ones included); infeasible uses the constraint's count rule on ``n`` images.
    Drift prunes (threshold or rank) and minibatch prunes are scored separately.
    """
    from scipy.stats import spearmanr

    from .evaluate.early_rejection import passes

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
    cols = ["method", "gate", "saving_vs_fp32", "search_drop_pts", "verify_drop_pts", "test_drop_pts", "search_seconds", "generated",
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
            "notation": " ".join(f"{k}:{v}" for k, v in r["final"]["paper_notation"].items()),
        })
    return pd.DataFrame(rows)


def feasible_points(outcomes) -> pd.DataFrame:
    """Every configuration the given searches evaluated in full and found feasible, de-duplicated."""
    from .evaluate.early_rejection import passes
    from .search.common import pareto_front

    frames = []
    for o in outcomes:
        t = o.trace
        if "search_accuracy" not in t:
            continue
        n = o.result["splits"]["search"]["size"]
        ok = t[t.search_accuracy.notna()]
        ok = ok[ok.search_accuracy.map(lambda a, n=n, f=o.result["floor"]: passes(round(a * n), n, f))]
        frames.append(ok[["key", "memory_bytes", "search_accuracy"]].assign(method=o.result["method"]))
    df = pd.concat(frames).drop_duplicates("key").reset_index(drop=True)
    fp32_bytes = outcomes[0].result["fp32_bytes"]
    df["saving_vs_fp32"] = 1 - df.memory_bytes / fp32_bytes
    df["on_front"] = pareto_front(df)
    return df


def drift_study_for(prof, model: str, outcomes, batch_size: int | None = None) -> pd.DataFrame:
    """Drift and *full* search accuracy of every candidate the searches screened (pruned ones included)."""
    from .evaluate import Evaluator
    from .quant import QuantConfig
    from .reproduce import profile_model, profile_splits, results_dir

    seen, rows = set(), []
    for o in outcomes:
        t = o.trace
        for rec in t[t.drift.notna()].to_dict("records"):
            if rec["key"] in seen:
                continue
            seen.add(rec["key"])
            rows.append(rec)
    memo = results_dir(prof) / model / "drift_study.sqlite"
    fp32 = outcomes[0].result["fp32"]["search_accuracy"]
    with Evaluator(profile_model(prof, model), profile_splits(prof, model), memo=memo, batch_size=batch_size or prof.batch_size,
                   device=prof.device) as ev:
        for rec in rows:
            if rec.get("search_accuracy") is None or pd.isna(rec.get("search_accuracy")):
                rec["search_accuracy"] = ev.accuracy(QuantConfig.from_dict(rec["config"]), "search").accuracy
    df = pd.DataFrame(rows)
    return drift_study(df, fp32)


#: QSViT's final setting for SDTv2 on ImageNet, per stage (downsample, then blocks; "32" for the
#: transformer blocks covers all of them): Stage-1 (8,4,8,8), Stage-2 (8,8,8), Stage-3 (4,32), Stage-4 (4,32).
QSVIT_PAPER_SETTING = {
    "downsample1_1": 8, "ConvBlock1_1.0": 4, "downsample1_2": 8, "ConvBlock1_2.0": 8,
    "downsample2": 8, "ConvBlock2_1.0": 8, "ConvBlock2_2.0": 8,
    "downsample3": 4, "downsample4": 4,
}


def qsvit_paper_setting(scheme=None):
    """The paper's final SDTv2 setting as a QuantConfig (blocks not named, incl. the head, stay FP32)."""
    from .quant import QuantConfig, QuantScheme

    return QuantConfig(default=32, blocks=dict(QSVIT_PAPER_SETTING), scheme=scheme or QuantScheme())


def paper_setting_check(model_name: str, splits: dict, checkpoint="default", schemes=None) -> pd.DataFrame:
    """Memory saving of QSViT's published setting on the 55M architecture (the paper reports 22.75 %), and
    its memory saving and accuracy on our SDT v2 model, for each quantizer scheme."""
    from .evaluate import Evaluator
    from .quant import QuantScheme, memory_report

    schemes = schemes or {"uniform": QuantScheme(), "fixed_point": QuantScheme("fixed_point", "per_tensor", "truncate")}
    with torch.device("meta"):
        big = create_model("sdtv2_55m")
    rows = [{"model": "sdtv2_55m (architecture only)", "scheme": "uniform",
             "saving_vs_fp32": memory_report(big, qsvit_paper_setting()).saving, "search_accuracy": None, "test_accuracy": None}]
    model = create_model(model_name, checkpoint=checkpoint)
    with Evaluator(model, splits, quiet=True) as ev:
        fp32 = ev.accuracy({}, "search").accuracy, ev.accuracy({}, "test").accuracy
        rows.append({"model": model_name, "scheme": "FP32", "saving_vs_fp32": 0.0, "search_accuracy": fp32[0], "test_accuracy": fp32[1]})
        for name, scheme in schemes.items():
            cfg = qsvit_paper_setting(scheme)
            rows.append({"model": model_name, "scheme": name, "saving_vs_fp32": memory_report(model, cfg).saving,
                         "search_accuracy": ev.accuracy(cfg, "search").accuracy, "test_accuracy": ev.accuracy(cfg, "test").accuracy})
    return pd.DataFrame(rows)
