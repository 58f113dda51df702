"""One entry point for every registered search method: ``run_search(SearchSettings(...), out=...)``.

Settings are validated before anything is written; the result folder holds result.json,
config.json, trace.jsonl, memo.sqlite, final.safetensors and sensitivity.csv (QSViT) or
pareto.csv (AQ4SViT). ``resume=True`` replays the search against its memo, so a killed run ends
with exactly the result an uninterrupted one would have produced.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from .. import edges
from ..data import load_splits
from ..errors import UsageError
from ..evaluate import Evaluator
from ..evaluate.engine import _quiet_default
from ..evaluate.executor import ExecutorSettings, make_executor
from ..models import adapter, create_model, get_entry
from ..progress import progress_bar
from ..provenance import machine
from ..quant.config import QuantConfig
from ..quant.energy import energy_summary, energy_table, measure_activity
from ..quant.export import export_packed
from ..quant.memory import MemoryModel
from .common import Constraint, SearchContext, fp32_bits
from .registry import get_method
from .results import ResultFolder
from .settings import ModelSettings, SearchSettings
from .space import SearchSpace
from .verify import verify


@dataclass
class SearchOutcome:
    result: dict
    config: QuantConfig
    bits: dict[str, int]
    trace: pd.DataFrame
    folder: Path | None
    table: pd.DataFrame | None = None  # QSViT sensitivity / AQ4SViT pareto


def run_search(settings: SearchSettings | str = "greedy", model: str | None = None, *, out: str | Path | None = None,
               resume: bool = False, force: bool = False, memo: str | Path | None = None, net=None,
               executor: ExecutorSettings | str | None = None, splits: dict | None = None, **values) -> SearchOutcome:
    """Run a registered search method and write the result folder ``out``.

    ``settings`` is a :class:`SearchSettings`, or a method name with flat ``values``
    (``run_search("beam", "sdtv3_tiny", delta=1.0, beam_width=2)``, see :meth:`SearchSettings.build`).
    ``out``, ``resume``, ``force`` and ``memo`` say where results go, not what is computed; ``net``
    replaces building the model from ``settings.model`` (any spikingjelly network: it is wrapped by models/adapter.py);
    ``splits`` replaces loading ``settings.data`` (a user's data: ``data.dataset_splits``). ``executor`` says where evaluations run
    (``"serial"``, the default, or ``ExecutorSettings("ray", workers=4)``; see evaluate/executor.py):
    the result is the same either way, timings aside.
    """
    if isinstance(settings, SearchSettings):
        if model is not None or values:
            raise UsageError("pass either a SearchSettings or a method name with flat settings, not both")
        s = settings
    else:
        s = SearchSettings.build(settings, model or ModelSettings().name, **values)
    method = get_method(s.method)
    if splits is not None and s.data.dataset != "custom":
        s = dataclasses.replace(s, data=dataclasses.replace(s.data, dataset="custom"))  # the result says whose data it ran on
    _validate(s, net, memo)  # every value by its kind, before anything is loaded or written
    executor = make_executor(executor)  # first: a missing Ray is reported before anything is loaded
    folder = ResultFolder(out, resume=resume, force=force) if out is not None else None
    torch.manual_seed(s.seed)
    net = adapter.wrap(net) if net is not None else build_model(s.model)
    if splits is None:
        splits = load_splits(s.data.dataset, s.data.spec, root=s.data.root, download=s.data.download, family=net.default_cfg.get("family"))
    splits = {k: v for k, v in splits.items() if k != "train"}  # searches never look at it
    edges.model_accepts(net, splits["minibatch"])  # a clear error, not a shape error deep inside a search
    try:  # a start that fails leaves no half-written folder behind (abandon removes only what prepare created)
        if folder is not None:
            folder.prepare(force=force, settings=s.to_dict())
            memo = memo or folder.path / "memo.sqlite"
        quiet = _quiet_default() if s.engine.quiet is None else s.engine.quiet
        evaluator = Evaluator(net, splits, scheme=s.scheme, device=s.engine.device, batch_size=s.engine.batch_size,
                              cache_bytes=s.engine.cache_bytes, memo=memo, quiet=quiet, executor=executor)
    except BaseException:
        if folder is not None:
            folder.abandon()
        raise
    abandon = False
    try:  # the executor's workers stop with the search, also when it fails
        return _search(s, method, net, evaluator, folder, quiet, resume)
    except UsageError:
        # refused before any candidate was evaluated (an untrained model after the baseline): the corrected command
        # must not meet a half-written folder of this one
        abandon = folder is not None and not folder.has_trace()
        raise
    finally:
        evaluator.close()
        if folder is not None:
            folder.abandon() if abandon else folder.release()  # the lock goes with the search, not when the object is collected


def _validate(s: SearchSettings, net, memo) -> None:
    """Refuse what cannot work before any model, data or folder is touched (edges.py: one message, exit 2)."""
    from ..evaluate.memo import foreign_reason

    if s.data.dataset == "custom":
        pass  # the user's data: checked by a forward of its first images (edges.model_accepts)
    elif net is not None:
        edges.model_fits_data(net, s.data.dataset)
    elif adapter.is_user_model(s.model.name):
        pass  # imported when built; its input is checked by a forward (edges.model_accepts)
    else:
        edges.model_fits_data(s.model.name, s.data.dataset, **s.model.overrides)
    edges.device(s.engine.device, "device")
    if s.data.dataset == "imagenet" and s.data.root is not None:
        edges.input_dir(s.data.root, "ImageNet root")
    if s.model.checkpoint not in (None, "default"):
        edges.input_file(s.model.checkpoint, "checkpoint")
    if isinstance(memo, (str, Path)):
        edges.output_file(memo, "memo")
        reason = foreign_reason(memo)
        if reason:
            raise UsageError(f"memo {memo} {reason}; aq4svit only ever moves aside a memo it wrote, so it leaves this one alone: "
                             "pass a new memo path (or remove the file yourself)")


def _search(s: SearchSettings, method, net, evaluator: Evaluator, folder: ResultFolder | None, quiet: bool, resume: bool) -> SearchOutcome:
    space = SearchSpace(evaluator.structure, MemoryModel(net), s.bits, s.scheme)
    progress = progress_bar(desc=f"{s.method} {s.model.name}", unit="cand", quiet=quiet)  # headless: its one line
    ctx = SearchContext(s.method, evaluator, space, folder, Constraint(1.0, s.delta, s.relative), s.max_evaluations, progress, seed=s.seed)
    with ctx.in_phase("baseline"):  # FP32 accuracy on search: part of every method's search time
        baseline = evaluator.accuracy(fp32_bits(space), "search")
        ctx.constraint = Constraint(baseline.correct / baseline.n, s.delta, s.relative, s.search_confidence, baseline.hit_mask())
    if s.require_trained:
        _check_trained(ctx.constraint.fp32_accuracy, net)
    try:
        output = method.run(ctx, s.options)
        final, verified = verify(ctx, output.bits, s.verify_confidence)
    finally:
        progress.close()
    extra = {**output.extra, "verify": verified, "seed": s.seed, "resumed": resume, "settings": s.to_dict()}
    with ctx.in_phase("final"):
        test = evaluator.accuracy(fp32_bits(space), "test")
        fp32_test = test.correct / test.n
        extra["energy"] = _energy(evaluator, final)
    extra["executor"] = evaluator.executor.stats()  # how it ran (results do not depend on it)
    extra["machine"] = machine(evaluator.device)  # where it ran (HOW_IT_RAN: results do not depend on it)
    result, config = ctx.finish(final, fp32_test, extra)
    if folder is not None:
        if method.table_file and output.table is not None:
            folder.write_csv(method.table_file, output.table)
        if s.export:
            export_packed(net, config, folder.path / "final.safetensors")
    trace = pd.DataFrame(ctx.trace)
    return SearchOutcome(result, config, final, trace, folder.path if folder else None, output.table)


def _check_trained(accuracy: float, net) -> None:
    """Refuse to search a model at chance level: every candidate would "meet" the constraint."""
    classes = net.default_cfg.get("kwargs", {}).get("num_classes", 10)
    if accuracy < 2 / classes:
        raise UsageError(f"FP32 accuracy on the search split is {accuracy:.2%}, near chance (1/{classes}): the model looks "
                         "untrained or its checkpoint does not fit this data; a search on it would decide nothing "
                         "(require_trained=False to search it anyway)")


def build_model(m: ModelSettings):
    """The model a search runs on: registered name, checkpoint (the shipped one for *_tiny), overrides; or a user's
    network named ``module:callable`` (models/adapter.py)."""
    if adapter.is_user_model(m.name):
        return adapter.load_user_model(m.name, m.checkpoint, m.mapping)
    checkpoint = m.checkpoint
    if checkpoint is None and get_entry(m.name).default_checkpoint:
        checkpoint = "default"
    net = create_model(m.name, checkpoint=checkpoint, **m.overrides)
    if not m.fuse_repconv:
        return net
    from ..models import fuse_repconv  # quantize the re-parameterised 3x3 convs instead of RepConv's branches

    return fuse_repconv(net)


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
