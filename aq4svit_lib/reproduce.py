"""Profiles and the notebook runner behind ``aq4svit reproduce`` / ``make reproduce``.

Profiles fix every knob a notebook needs, so a notebook only takes ``profile`` (and, for the
search notebook, ``method``) as parameters:

- ``ci``: tiny splits and a short bit list; all notebooks in a few minutes (used by CI / tests);
- ``default``: the embedded default, the three tiny models on Fashion-MNIST;
- ``full``: the 5000-image search split and a second, finer bit list;
- ``imagenet``: the official ImageNet checkpoints (``--imagenet-root``, ``--checkpoint-dir``), on a GPU.

Searches write to ``results/<profile>/<model>/<name>/``; a folder whose ``reproduce.json`` matches
the requested settings is reused (re-running a notebook is fast), otherwise it is recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .claims.check import (  # outside the time aim (`--extended`); declared where the timing section reads it
    EXTENDED_NOTEBOOKS,
    run_kind,
    timing_rows,
)
from .data import SplitSpec
from .errors import CheckpointError, UsageError, choices
from .ioutil import write_json_atomic
from .search.space import QSVIT_BITS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = (
    "01_models_and_baselines",
    "02_qsvit_sensitivity",
    "03_qsvit_guided",
    "04_aq4svit_search",
    "05_comparison",
    "06_drift_proxy",
    "07_peer_baselines",
    "08_your_model",
)
OPTIONAL_NOTEBOOKS = ("00_train_default_models",)


def template(**values) -> tuple[tuple[str, Any], ...]:
    """A profile's search settings: the flat names of SearchSettings.build (a method's own options included) that the
    profile changes; everything else is the declared default. A tuple of pairs: profiles are hashable (caches key on them)."""
    return tuple(sorted(values.items()))


@dataclass(frozen=True)
class Profile:
    name: str
    models: tuple[str, ...] = ("sdt_tiny", "sdtv2_tiny", "sdtv3_tiny")
    dataset: str = "fashion_mnist"
    spec: SplitSpec = SplitSpec()  # the splits (the verify split checks each search's answer)
    search: tuple[tuple[str, Any], ...] = ()  # the settings template of every search (see template())
    qsvit_bits: tuple[int, ...] = QSVIT_BITS  # QSViT's own list, for its Algorithm-1 figure
    extra_bits: tuple[tuple[int, ...], ...] = ()  # further bit lists (full profile)
    qsvit_paper_delta: float = 2.1
    # the reference behind "best known feasible" (issue 26 §3): a long NSGA-II run (this many times the budget) and a
    # wide Beam down to the layer-kind level, per model, run once; not methods of the comparison
    long_run_factor: int = 10
    reference_beam_width: int = 6
    long_run_models: tuple[str, ...] | None = None  # None: every model of the profile
    long_run: bool = False  # compute what lies outside the time aim (notebook 07's reference runs, our variants, the Beam+kind
    #                         gate ablation): only with --extended; otherwise read when present
    sensitivity_model: str = "sdtv2_tiny"  # the paper studied SDTv2
    checkpoints: tuple = ()  # (model, checkpoint path) pairs; the shipped checkpoint when absent
    imagenet_root: str | None = None
    # where evaluations run (evaluate/executor.py): how, not what -- never part of a result's cache key
    executor: str = "serial"  # serial or ray
    workers: int = 2  # ray: actors
    ray_address: str | None = None  # ray: join this cluster (None: start a local one)
    gpus_per_worker: float = 0.0  # ray: fractions allowed

    def setting(self, name: str, method: str | None = None) -> Any:
        """A search setting of this profile: its template's value, else the value the settings declare."""
        from .search.settings import declared_default

        values = dict(self.search)
        return values[name] if name in values else declared_default(name, method)

    # the settings every notebook reads
    delta = property(lambda self: self.setting("delta"))
    bits = property(lambda self: self.setting("bits"))
    scheme = property(lambda self: self.setting("scheme"))
    batch_size = property(lambda self: self.setting("batch_size"))
    device = property(lambda self: self.setting("device"))

    def with_(self, **changes) -> Profile:
        """This profile with ``changes``: a profile field, a split size (SplitSpec) or a search setting (the template)."""
        own = {f.name for f in fields(self)} - {"spec", "search"}
        split = {f.name for f in fields(SplitSpec)}
        unknown = set(changes) - own - split
        search = {**dict(self.search), **{k: changes[k] for k in unknown}}
        if unknown:
            from .search.settings import check_template

            check_template(search)
        return replace(self, spec=replace(self.spec, **{k: v for k, v in changes.items() if k in split}),
                       search=template(**search), **{k: v for k, v in changes.items() if k in own})

    def executor_settings(self):
        from .evaluate.executor import ExecutorSettings

        return ExecutorSettings(self.executor, workers=self.workers, address=self.ray_address, gpus_per_worker=self.gpus_per_worker)

    def checkpoint(self, model: str):
        return dict(self.checkpoints).get(model)


PROFILES = {
    "ci": Profile("ci", models=("sdtv2_tiny", "sdtv3_tiny"), spec=SplitSpec(200, 64, verify_size=200, test_size=1000),
                  search=template(bits=(32, 8, 4, 2), beam_width=2, trade_partners=2, levels=("network", "stage"), budget=8),
                  qsvit_bits=(32, 4), long_run_factor=2, reference_beam_width=3, long_run=True, long_run_models=("sdtv2_tiny",)),
    "default": Profile("default"),
    # the 5000 images the default models never trained on, split 3000 / 2000; adds QSViT's list as a second search space
    "full": Profile("full", spec=SplitSpec(3000, verify_size=2000), extra_bits=(QSVIT_BITS,)),
    "imagenet": Profile("imagenet", models=("sdtv2_55m", "sdt_8_768", "sdtv3_19m"), dataset="imagenet",
                        spec=SplitSpec(5000, 256, verify_size=5000), search=template(batch_size=64), sensitivity_model="sdtv2_55m"),
}


def get_profile(name: str, imagenet_root: str | None = None, checkpoint_dir: str | None = None, **changes) -> Profile:
    """A named profile; ``changes`` replace fields (e.g. ``models=("sdtv2_tiny",)``)."""
    if name not in PROFILES:
        raise UsageError(f"unknown profile {name!r}; valid profiles: {choices(PROFILES)}")
    prof = PROFILES[name].with_(**changes)
    imagenet_root = imagenet_root or os.environ.get("AQ4SVIT_IMAGENET_ROOT")
    checkpoint_dir = checkpoint_dir or os.environ.get("AQ4SVIT_CHECKPOINT_DIR")
    if prof.dataset == "imagenet":
        if not imagenet_root or not checkpoint_dir:
            raise UsageError("the imagenet profile needs --imagenet-root and --checkpoint-dir "
                             "(or AQ4SVIT_IMAGENET_ROOT / AQ4SVIT_CHECKPOINT_DIR)")
        missing = [m for m in prof.models if m not in IMAGENET_CHECKPOINTS]
        if missing:
            raise UsageError(f"no official checkpoint file name known for {missing}; known: {choices(IMAGENET_CHECKPOINTS)}")
        ckpts = tuple((m, str(Path(checkpoint_dir) / IMAGENET_CHECKPOINTS[m])) for m in prof.models)
        prof = prof.with_(imagenet_root=imagenet_root, checkpoints=ckpts, device=prof.device or "cuda")
    return prof


def notebook_profile(name: str, imagenet_root: str | None = None, checkpoint_dir: str | None = None, *, delta=None, bits=None,
                     scheme=None, beam_width=None) -> Profile:
    """The profile a notebook runs: ``name`` with its parameters cell's overrides (None keeps the profile's value).

    Any override renames the profile (e.g. ``default+delta=2.0``), so its results and figures go to their own
    folder under results/ instead of replacing the profile's, and never the committed gallery.
    """
    from .quant.quantizers import QuantScheme
    from .search.space import parse_bits

    prof = get_profile(name, imagenet_root, checkpoint_dir)
    changes: dict[str, Any] = {k: v for k, v in dict(delta=delta, bits=bits, scheme=scheme, beam_width=beam_width).items() if v is not None}
    if not changes:
        return prof
    labels = {k: str(v) for k, v in changes.items()}
    if "bits" in changes:
        changes["bits"] = parse_bits(bits)
        labels["bits"] = "-".join(map(str, changes["bits"]))
    if "scheme" in changes:  # "kind/granularity/rounding", e.g. "uniform/per_tensor/nearest"
        if not isinstance(scheme, QuantScheme):
            kind, granularity, rounding = (str(scheme).split("/") + ["per_channel", "nearest"])[:3]
            scheme = QuantScheme(scheme=kind, granularity=granularity, rounding=rounding)
        changes["scheme"] = scheme
        labels["scheme"] = changes["scheme"].key().replace("/", "-")
    return prof.with_(name=prof.name + "+" + ",".join(f"{k}={v}" for k, v in labels.items()), **changes)


#: the Profile fields that say where evaluations run (notebook parameters of the same names)
EXECUTOR_FIELDS = ("executor", "workers", "ray_address", "gpus_per_worker")
#: Profile fields a notebook parameter sets without renaming the results folder: where evaluations run, and
#: whether what lies outside the time aim is computed (``long_run``: same results, only more of them)
SAME_RESULTS_FIELDS = (*EXECUTOR_FIELDS, "long_run")


def notebook_setup(profile: str, imagenet_root=None, checkpoint_dir=None, figures_base=None, **overrides):
    """Everything a notebook's setup cell needs: ``(profile, figures folder, setting caption)``.

    ``overrides`` are the parameters cell's delta / bits / scheme / beam_width (see :func:`notebook_profile`),
    executor / workers / ray_address / gpus_per_worker (where evaluations run) and long_run (compute what lies
    outside the time aim, as ``aq4svit reproduce --extended`` asks): these keep the profile's name. Also
    sets pandas' display width, silences two warnings that only clutter executed notebooks (UserWarnings of
    the libraries; tqdm's note that ipywidgets are missing: text progress bars are fine) and prints the machine
    (provenance.machine_line) so every page says where its timings come from.
    """
    import warnings

    import pandas as pd

    from .plot_style import setting

    refuse_unknown_parameters()
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", message="IProgress not found")
    pd.set_option("display.width", 160, "display.max_columns", 30)
    how = {k: v for k in SAME_RESULTS_FIELDS if (v := overrides.pop(k, None)) is not None}
    prof = replace(notebook_profile(profile, imagenet_root, checkpoint_dir, **overrides), **how)  # same results: same name
    prof.executor_settings()  # validates them
    fig_dir, caption = figures_dir(prof, figures_base), setting(prof)
    from .provenance import machine, machine_line

    shown = fig_dir.relative_to(ROOT) if fig_dir.is_relative_to(ROOT) else fig_dir  # no absolute checkout path on a page
    print(f"models {prof.models}; {caption}\nfigures and tables -> {shown}\nmachine: {machine_line(machine(prof.device))}")
    return prof, fig_dir, caption


#: how our parameters cells begin, and how papermill's injected cell does
PARAMETERS_HEADER, INJECTED_HEADER = "# Parameters (papermill injects", "# Parameters\n"


def assigned_names(source: str) -> set[str]:
    """Names a cell's source assigns at its top level."""
    import ast

    names: set[str] = set()
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def declared_parameters(notebook: str) -> set[str]:
    """The names a notebook's parameters cell declares (read from its jupytext ``.py``)."""
    source = (ROOT / "notebooks" / f"{notebook}.py").read_text()
    cell = source.split(PARAMETERS_HEADER, 1)[1].split("\n", 1)[1].split("\n# %%", 1)[0]  # below the header line
    return assigned_names(cell)


def unknown_parameters(history: list[str]) -> set[str]:
    """Parameters papermill injected (its last "# Parameters" cell) that the notebook's parameters cell does not declare."""
    declared = next((c for c in reversed(history) if c.startswith(PARAMETERS_HEADER)), None)
    injected = next((c for c in reversed(history) if c.startswith(INJECTED_HEADER)), None)
    if declared is None or injected is None:
        return set()
    return assigned_names(injected) - assigned_names(declared)


def refuse_unknown_parameters() -> None:
    """papermill only warns about a parameter the notebook does not declare (a typo such as ``detla=2.0`` would run the
    whole notebook with the default); the notebook refuses it instead, reading the kernel's input history."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    history = list(ip.user_ns.get("In", [])) if ip is not None else []
    unknown = unknown_parameters(history)
    if unknown:
        declared = next(c for c in reversed(history) if c.startswith(PARAMETERS_HEADER))
        raise UsageError(f"unknown notebook parameter(s) {', '.join(sorted(unknown))}: this notebook's parameters are "
                         f"{', '.join(sorted(assigned_names(declared)))} (see its parameters cell)")


#: File names expected in --checkpoint-dir for the imagenet profile (official releases).
IMAGENET_CHECKPOINTS = {"sdtv2_55m": "55M_kd.pth", "sdt_8_768": "8_768.pth", "sdtv3_19m": "19M.pth"}


def results_dir(profile: Profile, base: str | Path | None = None) -> Path:
    """``<base>/<profile>``; base defaults to $AQ4SVIT_RESULTS, else results/ in the repository."""
    return Path(base or os.environ.get("AQ4SVIT_RESULTS") or ROOT / "results") / profile.name


def model_memo(profile: Profile, model: str, base: str | Path | None = None) -> Path:
    """The one memo every search, sweep and study of ``model`` shares in this profile.

    Its keys hold everything a number depends on (weights, bits, scheme, split, device numerics, batch size,
    code), never the method, so a configuration two searches visit (FP32 on each split, QSViT's sweep and the
    sensitivity ILP's scores, Greedy's path inside Beam's) is forwarded once. A search that meets another's
    record adds back its seconds and images (search/common.py), so each reports what it would cost alone.
    """
    return results_dir(profile, base) / model / "memo.sqlite"


def figures_dir(profile: Profile, base: str | Path | None = None) -> Path:
    """The default profile writes the committed gallery (figures/); others write under results/."""
    if base is not None:
        return Path(base)
    if profile.name == "default" and not os.environ.get("AQ4SVIT_RESULTS"):
        return ROOT / "figures"
    return results_dir(profile) / "figures"


@functools.lru_cache(maxsize=8)
def _splits(prof: Profile, family: str):
    from .data import load_splits

    splits = load_splits(prof.dataset, prof.spec, root=prof.imagenet_root, family=family)
    splits.pop("train", None)
    return splits


def profile_splits(prof: Profile, model: str) -> dict:
    """The profile's splits for ``model`` (ImageNet transforms depend on the model family)."""
    from .models import get_entry

    return _splits(prof, get_entry(model).family)


def profile_model(prof: Profile, model: str):
    """``model`` with the profile's checkpoint (the shipped one for the *_tiny models)."""
    from .models import create_model

    return create_model(model, checkpoint=prof.checkpoint(model) or "default")


# -- cached searches ------------------------------------------------------------------------------
def provenance(profile: Profile, model: str, entry: tuple[str, ...] | None = None) -> dict:
    """What a cached result depends on beyond its settings: the weights' content, the code that computes it
    (``entry`` modules and their imports; default: a whole search), the libraries."""
    from .models import default_checkpoint
    from .provenance import SEARCH_ENTRY, code_identity, file_digest, library_versions

    ckpt = profile.checkpoint(model)
    try:
        path = Path(ckpt) if ckpt else default_checkpoint(model)
    except (UsageError, CheckpointError):  # no weights at all: a random-init model, nothing to fingerprint
        path = Path("")
    return {"weights": file_digest(path) if path.is_file() else None, "code": code_identity(*(entry or SEARCH_ENTRY)),
            **library_versions()}



def search_settings(profile: Profile, model: str, method: str, **overrides):
    """The profile's settings for one search; ``overrides`` are flat names (SearchSettings.build)."""
    from .search import SearchSettings
    from .search.settings import template_for

    values: dict[str, Any] = dict(spec=profile.spec, dataset=profile.dataset, checkpoint=profile.checkpoint(model),
                                  data_root=profile.imagenet_root if profile.dataset == "imagenet" else None)
    values.update(template_for(dict(profile.search), method))
    values.update(overrides)
    return SearchSettings.build(method, model, **values)


def ensure_search(profile: Profile, model: str, method: str, *, name: str | None = None, base=None, memo=None, **overrides):
    """Run a search once per settings and reuse its folder afterwards; returns a SearchOutcome.

    The folder is reused only when its stamp matches the complete settings and the provenance (weights'
    content, the code the search imports, library versions); otherwise it is recomputed. ``memo``: the
    memo file, by default the model's shared one (:func:`model_memo`).
    """
    from .search import run_search

    settings, origin, digest, out, same = _search_stamp(profile, model, method, name, base, overrides)
    stamp = out / "reproduce.json"
    if same and (out / "result.json").exists():
        return load_outcome(out, model, method)
    out.mkdir(parents=True, exist_ok=True)
    record = {"digest": digest, "settings": settings.to_dict(), "provenance": origin}
    write_json_atomic(stamp, {**record, "complete": False})
    t0 = time.perf_counter()
    # an interrupted run with the same settings resumes from its memo; anything else starts cold
    outcome = run_search(settings, out=out, resume=same, force=not same, memo=memo or model_memo(profile, model, base),
                         executor=profile.executor_settings())
    write_json_atomic(stamp, {**record, "complete": True, "seconds": time.perf_counter() - t0})
    return outcome


def _search_stamp(profile: Profile, model: str, method: str, name, base, overrides: dict):
    """(settings, provenance, digest, folder, whether the folder's stamp matches) of one cached search."""
    from .provenance import SEARCH_ENTRY
    from .search import get_method

    settings = search_settings(profile, model, method, **overrides)
    # the code it depends on: the search's entry and the registering module of the method (found, not imported, by run)
    origin = provenance(profile, model, (*SEARCH_ENTRY, get_method(method).module))  # hashes the checkpoint's tensors: once
    # keyed on what determines the result (SearchSettings.identity): quiet, export or an evaluation cap do not
    digest = hashlib.sha256(json.dumps({**settings.identity(), **origin}, sort_keys=True, default=str).encode()).hexdigest()[:12]
    out = results_dir(profile, base) / model / (name or method)
    stamp = out / "reproduce.json"
    same = stamp.exists() and json.loads(stamp.read_text()).get("digest") == digest
    return settings, origin, digest, out, same


def cached_search(profile: Profile, model: str, method: str, *, name: str | None = None, base=None, **overrides):
    """A search's outcome when its folder holds a finished run with these settings and code, else None (never computes)."""
    *_, out, same = _search_stamp(profile, model, method, name, base, overrides)
    complete = same and json.loads((out / "reproduce.json").read_text()).get("complete")
    return load_outcome(out, model, method) if complete and (out / "result.json").exists() else None


def compare_methods(profile: Profile, model: str, methods=None, *, base=None) -> dict:
    """Every method on one model with the profile's settings (folders reused as by ensure_search): label -> outcome.

    They share the model's memo (:func:`model_memo`): the sensitivity ILP's measured scores are QSViT's
    Algorithm-1 configurations, forwarded once and counted in both methods' costs.
    """
    from .search import get_method
    from .search.registry import peer_methods

    out = {}
    for method in methods or peer_methods():
        get = extended_search if get_method(method).family == "ours" else ensure_search
        if (outcome := get(profile, model, method, base=base)) is not None:
            out[method] = outcome
    return out


def extended_search(profile: Profile, model: str, method: str, **kw):
    """A search outside the default profile's time aim (our variants, the Beam+kind gate ablation): computed with
    ``--extended`` (``profile.long_run``), otherwise read when a finished run with today's settings and code is present
    (None if not), like the reference runs and the seed study."""
    return (ensure_search if profile.long_run else cached_search)(profile, model, method, **kw)


def reference_specs(profile: Profile) -> dict[str, tuple[str, dict]]:
    """The reference runs behind "best known feasible": folder -> (method, settings changed from the profile's)."""
    return {"optuna_long": ("optuna", {"budget": profile.setting("budget", "optuna") * profile.long_run_factor}),
            "beam-kind_wide": ("beam-kind", {"beam_width": profile.reference_beam_width})}


def reference_runs(profile: Profile, *, base=None, compute: bool = False) -> dict[str, dict]:
    """The reference runs on each of ``long_run_models``: model -> {folder -> outcome} (reference_specs).

    Not methods of the comparison: they only widen the set the best known feasible config is taken from, so a
    method's gap is measured against more than what the compared methods happened to evaluate. They cost tens of
    searches, so they lie outside the default profile's time: ``compute=False`` (notebook 07 in ``make reproduce``)
    only reads finished runs with today's settings and code; ``compute=True`` (the extended run, ``aq4svit
    reproduce --extended``) runs them once, cached like every search, sharing each model's memo.
    """
    models = profile.long_run_models if profile.long_run_models is not None else profile.models
    get = ensure_search if compute else cached_search
    out: dict[str, dict] = {}
    for m in (m for m in models if m in profile.models):
        runs = {name: get(profile, m, method, name=name, base=base, **changes) for name, (method, changes) in reference_specs(profile).items()}
        if any(o is not None for o in runs.values()):
            out[m] = {name: o for name, o in runs.items() if o is not None}
    return out


def ensure_sweep(profile: Profile, model: str, name: str, *, bits, scheme=None, base=None):
    """QSViT's Algorithm 1 alone (the sensitivity table for a figure), computed once per settings.

    Cheaper than a whole QSViT search when only the sweep is shown: no Algorithms 2-4, no test pass.
    """
    import pandas as pd

    from .evaluate import Evaluator
    from .evaluate.executor import make_executor
    from .quant.memory import MemoryModel
    from .quant.quantizers import QuantScheme
    from .search.common import Constraint, SearchContext, fp32_bits
    from .search.sensitivity import sensitivity_sweep
    from .search.space import SearchSpace

    scheme = scheme or QuantScheme()
    settings = dict(model=model, bits=list(bits), scheme=scheme.to_dict(), spec=asdict(profile.spec), dataset=profile.dataset,
                    checkpoint=profile.checkpoint(model), batch_size=profile.batch_size)
    from .provenance import SWEEP_ENTRY

    origin = provenance(profile, model, SWEEP_ENTRY)
    digest = hashlib.sha256(json.dumps({**settings, **origin}, sort_keys=True, default=str).encode()).hexdigest()[:12]
    out = results_dir(profile, base) / model / name
    table_file, stamp = out / "sensitivity.csv", out / "reproduce.json"
    if table_file.exists() and stamp.exists() and json.loads(stamp.read_text()).get("digest") == digest:
        return pd.read_csv(table_file)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    net = profile_model(profile, model)
    splits = {k: v for k, v in profile_splits(profile, model).items() if k in ("search",)}
    with Evaluator(net, splits, scheme=scheme, batch_size=profile.batch_size, memo=model_memo(profile, model, base),
                   device=profile.device, quiet=True, executor=make_executor(profile.executor_settings())) as ev:
        space = SearchSpace(ev.structure, MemoryModel(net), bits, scheme)
        ctx = SearchContext("qsvit-sweep", ev, space, None, Constraint(1.0, profile.delta))
        ctx.constraint = Constraint(ev.accuracy(fp32_bits(space), "search").accuracy, profile.delta)
        table = sensitivity_sweep(ctx)
        replayed = ev.replayed_seconds  # what the model's memo already held (QSViT's own sweep, when it ran first)
    from .ioutil import write_text_atomic

    write_text_atomic(table_file, table.to_csv(index=False))
    write_json_atomic(stamp, {"digest": digest, "settings": settings, "provenance": origin, "complete": True,
                              "seconds": time.perf_counter() - t0, "replayed_seconds": replayed})
    return table


def drift_study_for(prof: Profile, model: str, outcomes, batch_size: int | None = None):
    """Drift and *full* search accuracy of every candidate the searches screened (pruned ones included).

    Candidates are judged through the model's memo: the ones a search evaluated in full are replayed
    (with their per-image hits, which the margin needs), only pruned ones cost a pass.
    """
    import pandas as pd

    from .report import drift_study

    seen: set[str] = set()
    net, splits, rows = profile_model(prof, model), profile_splits(prof, model), []
    for o in outcomes:
        t = o.trace
        todo = [rec for rec in t[t.drift.notna()].to_dict("records") if rec["key"] not in seen]
        seen.update(rec["key"] for rec in todo)
        memo = o.folder.parent / "memo.sqlite" if o.folder is not None else model_memo(prof, model)  # the folder's model memo
        rows += _judge_in_full(prof, net, splits, o.result, todo, memo, batch_size or prof.batch_size)
    return drift_study(pd.DataFrame(rows), outcomes[0].result["fp32"]["search_accuracy"])


def _judge_in_full(prof: Profile, net, splits, result: dict, rows: list[dict], memo: Path, batch_size: int) -> list[dict]:
    """Full search accuracy and the search's own feasibility rule for each candidate record."""
    from .evaluate import Evaluator
    from .quant import QuantConfig
    from .search.common import Constraint

    s = result.get("settings") or {}
    with Evaluator(net, splits, memo=memo, batch_size=batch_size, device=prof.device) as ev:
        ref = ev.accuracy({}, "search")  # FP32, with its per-image hits
        rule = Constraint(ref.correct / ref.n, s.get("delta", prof.delta), s.get("relative", False), s.get("search_confidence", 0.5),
                          ref.hit_mask())
        for rec in rows:
            r = ev.accuracy(QuantConfig.from_dict(rec["config"]), "search")
            rec["search_accuracy"], rec["feasible"] = r.accuracy, rule.accepts(r)
    return rows


def load_outcome(out: Path, model: str, method: str):
    """A finished result folder as a SearchOutcome (no recomputation)."""
    import pandas as pd
    import torch

    from .models import create_model
    from .quant import QuantConfig
    from .search import get_method
    from .search.results import load_result, read_trace
    from .search.run import SearchOutcome

    name = get_method(method).table_file  # each method names its table when it registers
    table_file = out / name if name else None
    table = pd.read_csv(table_file) if table_file is not None and table_file.exists() else None
    config = QuantConfig.load(out / "config.json")
    with torch.device("meta"):
        structure = create_model(model).quant_structure()
    return SearchOutcome(load_result(out), config, config.resolve(structure), read_trace(out / "trace.jsonl"), out, table)


# -- running notebooks ----------------------------------------------------------------------------
def render_html(executed: str | Path, out: str | Path) -> list[Path]:
    """Every executed notebook in ``executed`` as a self-contained HTML page in ``out`` (readable without Jupyter)."""
    import re

    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    # consecutive stream outputs become one (a cell's lines in one block) and "\r"-overwritten text keeps its last state
    exporter = HTMLExporter(template_name="lab", config=Config({"CoalesceStreamsPreprocessor": {"enabled": True}}))
    # tqdm's notes on a missing ipywidgets (the warning line and the source line Python prints under it)
    tqdm_note = re.compile(r"^[^\n]*Tqdm(Experimental)?Warning:[^\n]*\n(  [^\n]*\n)?", re.M)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pages = []
    for nb_path in sorted(Path(executed).glob("*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        for cell in nb.cells:
            for o in cell.get("outputs", []):
                if o.output_type == "stream" and o.name == "stderr":
                    o.text = tqdm_note.sub("", o.text)
            if cell.get("outputs"):
                cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and not o.text.strip())]
        body, _ = exporter.from_notebook_node(nb)
        page = out / f"{nb_path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    return pages



def run_notebooks(profile: str = "default", only: list[str] | None = None, *, imagenet_root=None, checkpoint_dir=None,
                  output_dir: str | Path | None = None, include_optional: bool = False, log=print, executor=None,
                  extended: bool = False) -> list[dict]:
    """Execute the notebooks with papermill into ``results/<profile>/executed/``; return timings.

    ``executor`` (an ExecutorSettings) is handed to every notebook as its executor parameters. ``extended`` adds what
    lies outside the default profile's time: the seed study (notebook 09) and notebook 07's long reference run.
    Each notebook's time and the machine go to the figures folder's ``tables/timings/00_notebooks.csv`` and
    ``00_machine.json`` (the claims' times and the README's timing section are rendered from them).
    """
    import papermill as pm

    prof = get_profile(profile, imagenet_root, checkpoint_dir)
    every = list(NOTEBOOKS) + list(EXTENDED_NOTEBOOKS) + list(OPTIONAL_NOTEBOOKS)
    names = list(NOTEBOOKS) + (list(EXTENDED_NOTEBOOKS) if extended else []) + (list(OPTIONAL_NOTEBOOKS) if include_optional else [])
    if only:
        unknown = [n for n in only if not any(nb.startswith(n) or nb == n for nb in every)]
        if unknown:
            raise UsageError(f"unknown notebook(s) {unknown}; valid: {choices(every)}")
        names = [nb for nb in every if any(nb.startswith(n) for n in only)]
    executed = Path(output_dir or results_dir(prof)) / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    from .provenance import machine

    env_backup = {k: os.environ.get(k) for k in ("MPLBACKEND", "AQ4SVIT_HEADLESS")}
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures inline: the HTML pages show them
    os.environ["AQ4SVIT_HEADLESS"] = "1"  # the kernels inherit it: one line per progress bar (progress.py), no refreshes
    where = machine(prof.device)
    timings = []
    try:
        for nb in names:
            params = handed_parameters(nb, prof, executor, checkpoint_dir, extended, log)
            from .search.registry import notebook_variants

            variants = [dict(params, method=m) for m in notebook_variants()] if nb.startswith("04") else [params]
            for p in variants:
                suffix = f"_{p['method']}" if "method" in p else ""
                t0 = time.perf_counter()
                log(f"running {nb}{suffix} (profile {prof.name}) ...")
                pm.execute_notebook(str(ROOT / "notebooks" / f"{nb}.ipynb"), str(executed / f"{nb}{suffix}.ipynb"),
                                    parameters=p, cwd=str(ROOT / "notebooks"), progress_bar=False, kernel_name="python3")
                timings.append({"notebook": nb + suffix, "seconds": round(time.perf_counter() - t0, 1),
                                "run": run_kind(nb, bool(p.get("long_run"))), "finished": utc_now()})
                log(f"  done in {timings[-1]['seconds']} s")
                # recorded as each notebook ends: a later failure must not lose an hour of measured times
                write_json_atomic(executed / "timings.json", {"machine": where, "notebooks": timings})
                record_timings(figures_dir(prof), timings[-1:], where)
    finally:
        for k, v in env_backup.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return timings


def utc_now() -> str:
    """When a notebook ended, to the second: of two runs that executed it, the later wrote its figures."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def handed_parameters(nb: str, prof: Profile, executor, checkpoint_dir, extended: bool, log=print) -> dict[str, Any]:
    """What ``run_notebooks`` hands notebook ``nb``: of the run's settings, only the parameters its cell declares (a
    notebook refuses any other), saying so when a setting the user chose does not apply to it."""
    params: dict[str, Any] = {"profile": prof.name}
    if executor is not None:
        params.update(executor=executor.name, workers=executor.workers, ray_address=executor.address,
                      gpus_per_worker=executor.gpus_per_worker)
    if prof.dataset == "imagenet":
        params.update(imagenet_root=prof.imagenet_root, checkpoint_dir=checkpoint_dir or os.environ.get("AQ4SVIT_CHECKPOINT_DIR"))
    if extended:
        params["long_run"] = True  # 05-07: our variants, their gate ablation, the reference runs
    declared = declared_parameters(nb)
    if executor is not None and executor.name != "serial" and "executor" not in declared:
        log(f"  {nb} takes no executor parameters: its searches run serially")
    return {k: v for k, v in params.items() if k in declared}


def record_timings(fig_dir: Path, timings: list[dict], where: dict) -> None:
    """Merge this run's notebook times into ``tables/timings/00_notebooks.csv``: a partial run replaces only its rows,
    and the default run's time of a notebook is kept apart from the extended run's (``run``)."""
    import pandas as pd

    from .provenance import machine_line

    path = Path(fig_dir) / "tables" / "timings" / "00_notebooks.csv"
    new = timing_rows(pd.DataFrame(timings).assign(machine=machine_line(where)))
    old = timing_rows(pd.read_csv(path)) if path.is_file() else new.iloc[0:0]
    replaced = old.set_index(["notebook", "run"]).index.isin(new.set_index(["notebook", "run"]).index)
    table = pd.concat([old[~replaced], new]).sort_values(["notebook", "run"]).reset_index(drop=True)
    table = table[["notebook", "run", "seconds", "finished", "machine"]]
    from .ioutil import write_text_atomic

    write_text_atomic(path, table.to_csv(index=False))
    write_json_atomic(path.parent / "00_machine.json", {**where, "line": machine_line(where)})
