"""One entry point for every search: ``run_search("qsvit" | "greedy" | "beam", model=...)``.

Arguments are validated before anything is written; the result folder holds result.json,
config.json, trace.jsonl, memo.sqlite, final.safetensors and sensitivity.csv (QSViT) or
pareto.csv (AQ4SViT). ``resume=True`` replays the search against its memo, so a killed run ends
with exactly the result an uninterrupted one would have produced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..data import EVAL_BATCH_SIZE, SplitSpec, load_splits
from ..errors import UsageError, choices
from ..evaluate import Evaluator
from ..evaluate.engine import _quiet_default
from ..models import create_model, get_entry
from ..quant.config import QuantConfig
from ..quant.energy import energy_summary, energy_table, measure_activity
from ..quant.export import export_packed
from ..quant.memory import MemoryModel
from ..quant.quantizers import QuantScheme
from .aq4svit import AQ4SViT, AQ4SViTSettings
from .common import Constraint, SearchContext, fp32_bits
from .qsvit import QSViT, QSViTSettings
from .results import ResultFolder
from .space import DEFAULT_BITS, SearchSpace, parse_bits
from .verify import verify, z_of

METHODS = ("qsvit", "greedy", "beam")


@dataclass
class SearchOutcome:
    result: dict
    config: QuantConfig
    bits: dict[str, int]
    trace: pd.DataFrame
    folder: Path | None
    table: pd.DataFrame | None = None  # QSViT sensitivity / AQ4SViT pareto


def _validate(method, bits, delta, model):
    """The arguments every method shares; each method's settings object checks its own."""
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    get_entry(model)
    bits = parse_bits(bits)
    if len(bits) < 2:
        raise UsageError("the bit list needs at least one width below 32")
    if delta is None or not (delta > 0) or math.isinf(delta):
        raise UsageError(f"delta must be a positive number of points, got {delta}")
    return bits


def run_search(
    method: str,
    model: str = "sdtv2_tiny",
    *,
    checkpoint: str | Path | None = None,
    out: str | Path | None = None,
    delta: float = 1.5,
    relative: bool = False,
    bits=DEFAULT_BITS,
    scheme: QuantScheme | None = None,
    seed: int = 0,
    spec: SplitSpec = SplitSpec(),
    dataset: str = "fashion_mnist",
    data_root=None,
    download: bool = False,
    levels=("network", "stage", "block"),
    beam_width: int = 3,
    drift_threshold: float | None = None,
    drift_margin: float = 1.5,
    minibatch_slack: float = 3.0,
    gate: str = "auto",
    gate_score: str = "increase",
    rank_keep: int | None = None,
    trade_partners: int = 3,
    seed_greedy: bool = True,
    audit_gate: bool = False,
    verify_confidence: float = 0.95,
    tolerance: float = 5.0,
    resume: bool = False,
    force: bool = False,
    memo: str | Path | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
    cache_bytes: int = 1 << 30,
    device: str | None = None,
    quiet: bool | None = None,
    max_evaluations: int | None = None,
    export: bool = True,
    model_overrides: dict | None = None,
    fuse_repconv: bool = False,
    net=None,
) -> SearchOutcome:
    """Run QSViT or AQ4SViT (greedy / beam) on ``model`` and write the result folder ``out``."""
    bits = _validate(method, bits, delta, model)
    z_of(verify_confidence)
    qs = QSViTSettings(tolerance=tolerance) if method == "qsvit" else None
    aq = AQ4SViTSettings(method, tuple(levels), beam_width, drift_threshold, drift_margin, minibatch_slack=minibatch_slack, gate=gate,
                         gate_score=gate_score, rank_keep=rank_keep, trade_partners=trade_partners, seed_greedy=seed_greedy,
                         audit_gate=audit_gate) if method != "qsvit" else None
    scheme = scheme or QuantScheme(seed=seed)
    folder = ResultFolder(out, resume=resume, force=force) if out is not None else None
    torch.manual_seed(seed)
    if net is None:
        if checkpoint is None and get_entry(model).default_checkpoint:
            checkpoint = "default"
        net = create_model(model, checkpoint=checkpoint, **(model_overrides or {}))
    if fuse_repconv:  # quantize the re-parameterised 3x3 convs instead of the trained RepConv branches
        from ..models import fuse_repconv as fuse

        net = fuse(net)
    family = net.default_cfg.get("family")
    splits = load_splits(dataset, spec, root=data_root, download=download, family=family)
    splits.pop("train", None)  # searches never look at it
    if folder is not None:
        folder.prepare(force=force)
        memo = memo or Path(out) / "memo.sqlite"
    quiet = _quiet_default() if quiet is None else quiet
    evaluator = Evaluator(net, splits, scheme=scheme, device=device, batch_size=batch_size, cache_bytes=cache_bytes, memo=memo, quiet=quiet)
    space = SearchSpace(evaluator.structure, MemoryModel(net), bits, scheme)
    progress = tqdm(desc=f"{method} {model}", unit="cand", disable=quiet, leave=False)
    ctx = SearchContext(method, evaluator, space, folder, Constraint(1.0, delta, relative), max_evaluations, progress)
    with ctx.in_phase("baseline"):  # FP32 accuracy on search: part of every method's search time
        ctx.constraint = Constraint(evaluator.accuracy(fp32_bits(space), "search").accuracy, delta, relative)
    try:
        final, table, extra = _run_method(ctx, qs, aq)
        final, extra["verify"] = verify(ctx, final, verify_confidence)
    finally:
        progress.close()
    with ctx.in_phase("final"):
        fp32_test = evaluator.accuracy(fp32_bits(space), "test").accuracy
        extra["energy"] = _energy(evaluator, final)
    result, config = ctx.finish(final, fp32_test, {**extra, "seed": seed, "resumed": resume})
    if folder is not None:
        folder.write_csv("sensitivity.csv" if method == "qsvit" else "pareto.csv", table)
        if export:
            export_packed(net, config, folder.path / "final.safetensors")
    trace = pd.DataFrame(ctx.trace)
    evaluator.close()
    return SearchOutcome(result, config, final, trace, folder.path if folder else None, table)


def _run_method(ctx: SearchContext, qs: QSViTSettings | None, aq: AQ4SViTSettings | None):
    """(final bits, sensitivity or pareto table, method-specific result fields)."""
    if qs is not None:
        searcher = QSViT(ctx, qs)
        final, table = searcher.run()
        return final, table, {"tolerance": qs.tolerance, "base_settings": searcher.base_results, "explored_settings": searcher.explored,
                              "bSettingL": searcher.low, "bSettingH": searcher.high}
    searcher = AQ4SViT(ctx, aq)
    final = searcher.run()
    extra = {"levels": list(aq.levels), "beam_width": aq.beam_width, "gate": searcher.gate.state(), "minibatch_slack": aq.minibatch_slack,
             "drift_aggregate": ctx.evaluator.drift_aggregate, "rank_keep": aq.keep if aq.gate == "rank" else None,
             "trade_partners": aq.trade_partners, "seed_greedy": aq.seed_greedy, "audit_gate": aq.audit_gate}
    return final, searcher.pareto(), extra


def _energy(evaluator: Evaluator, bits: dict[str, int]) -> dict:
    """Both energy estimates of FP32 and of the final config, activity measured on the minibatch."""
    split = evaluator.split(evaluator.drift_split)
    out = {}
    for name, config in (("fp32", {}), ("final", bits)):  # {}: every layer FP32
        with torch.inference_mode(), evaluator.quantizer.applied(config, evaluator.scheme):
            activity = measure_activity(evaluator.model, split.batches(evaluator.batch_size))
        out[name] = energy_summary(energy_table(activity, config))
    for key in ("sdt_convention_uJ", "bit_aware_uJ"):
        out[f"saving_{key[:-3]}"] = 1 - out["final"][key] / out["fp32"][key]
    return out


def list_methods() -> str:
    return choices(METHODS)
