"""The ``aq4svit`` command: the library's functions from the shell.

Every user error is an :class:`~aq4svit_lib.errors.Aq4svitError`; it is printed as one message
and the command exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from pathlib import Path

from . import __version__, schema
from .errors import Aq4svitError, UsageError
from .plugins import names_callable


# -- argument types: a bad number is a usage error (exit 2, one line), never a traceback later -----
def _number(kind, low=None, high=None, low_open=False, allow_inf=False):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if kind is float and (math.isnan(value) or (math.isinf(value) and not allow_inf)):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if low is not None and (value < low or (low_open and value == low)):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got {text}")
        if high is not None and value > high and not (allow_inf and math.isinf(value)):
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


POSITIVE = _number(int, 1)
NONNEGATIVE = _number(int, 0)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    """The data's and the splits' flags, from their declarations (DataSettings, SplitSpec)."""
    from .data import SplitSpec
    from .search.settings import DataSettings

    g = p.add_argument_group("data")
    schema.add_arguments(g, DataSettings, only=("root", "download"))
    schema.add_arguments(g, SplitSpec)
    g.add_argument("--threads", type=NONNEGATIVE, default=0, help="torch CPU threads (default: torch's choice)")


def _add_executor_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where evaluations run (the results are the same; README: Running on a cluster)")
    g.add_argument("--executor", default="serial", help="serial (default: this process) or ray (worker actors; pip install 'aq4svit[ray]')")
    g.add_argument("--workers", type=POSITIVE, default=2, help="ray: worker actors, each loads the model and splits once (default 2)")
    g.add_argument("--ray-address", help="ray: join this cluster (e.g. the address `ray start --head` prints); default: start a local one")
    g.add_argument("--gpus-per-worker", type=_number(float, 0), default=0.0, help="ray: GPUs per worker, fractions allowed (default 0)")


def _executor(args):
    from .evaluate.executor import ExecutorSettings

    return ExecutorSettings(args.executor, workers=args.workers, address=args.ray_address, gpus_per_worker=args.gpus_per_worker)


def _with_executor(prof, args):
    from dataclasses import replace

    ex = _executor(args)
    return replace(prof, executor=ex.name, workers=ex.workers, ray_address=ex.address, gpus_per_worker=ex.gpus_per_worker)


def _spec(args):
    from .data import SplitSpec

    return SplitSpec(**schema.from_args(SplitSpec, args))


def _threads(args) -> None:
    if getattr(args, "threads", 0):
        import torch

        torch.set_num_threads(args.threads)


# -- info ----------------------------------------------------------------------------------
def cmd_info(args) -> int:
    from .report import zoo_table

    print(f"aq4svit {__version__}\n")
    print("Model zoo:")
    print(zoo_table().to_string(index=False))
    from .data import load_splits

    print("\nDefault dataset (Fashion-MNIST) splits:")
    for split in load_splits("fashion_mnist", _spec(args), root=args.data_root, download=args.download).values():
        d = split.describe()
        print(f"  {d['split']:<10} {d['size']:>6} images from the {d['pool']} pool   hash {d['hash']}")
    return 0


# -- data ----------------------------------------------------------------------------------
def cmd_data(args) -> int:
    from .data import load_splits, locate

    root = locate(args.data_root, args.download)
    splits = [split.describe() for split in load_splits("fashion_mnist", _spec(args), root=args.data_root).values()]
    if args.json:
        print(json.dumps({"root": str(root), "splits": splits}, indent=2, default=str))
        return 0
    print(f"Fashion-MNIST found in {root}")
    for d in splits:
        print(f"  {d['split']:<10} {d['size']:>6} images   hash {d['hash']}")
    return 0


# -- models ------------------------------------------------------------------------------------
def _model(args, load_default: bool = True):
    from .models import create_model, get_entry
    from .models.adapter import is_user_model, load_user_model

    checkpoint = args.checkpoint
    if is_user_model(args.model):  # your network, module:callable (models/adapter.py)
        return load_user_model(args.model, checkpoint, getattr(args, "mapping", None))
    if checkpoint is None and load_default and get_entry(args.model).default_checkpoint:
        checkpoint = "default"
    overrides = {}
    if getattr(args, "kd", None) is not None:
        overrides["kd"] = args.kd
    if getattr(args, "time_steps", None):
        overrides["T"] = args.time_steps
    model = create_model(args.model, checkpoint=checkpoint, **overrides)
    if not getattr(args, "fuse_repconv", False):
        return model
    from .models import fuse_repconv

    return fuse_repconv(model)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    from .search.settings import ModelSettings

    schema.add_arguments(p, ModelSettings)
    p.add_argument("--kd", action=argparse.BooleanOptionalAction, default=None, help="SDT v2: build with / without head_kd")
    p.add_argument("--time-steps", type=POSITIVE, help="override T (SDT v1 / v2)")


def _add_engine_args(p: argparse.ArgumentParser) -> None:
    from .search.settings import EngineSettings

    schema.add_arguments(p.add_argument_group("the evaluation engine"), EngineSettings)


def _splits(args, model=None):
    from .data import load_splits

    dataset = getattr(args, "dataset", "fashion_mnist")
    family = model.default_cfg.get("family") if model is not None else None
    return load_splits(dataset, _spec(args), root=getattr(args, "imagenet_root", None) if dataset == "imagenet" else args.data_root,
                       download=args.download, family=family)


def cmd_eval(args) -> int:
    from .evaluate import Evaluator

    model = _model(args)
    config = _load_config(args.config, args.model)
    with Evaluator(model, _splits(args, model), device=args.device, quiet=args.quiet, batch_size=args.batch_size) as ev:
        r = ev.accuracy(config, args.split)
    source = _data_source(args)
    if args.json:
        print(json.dumps({"model": args.model, "config": args.config, "data": source, **r.to_dict()}, indent=2))
        return 0
    print(f"{args.model} on {args.split} ({r.n} images from {source}): top-1 {r.accuracy:.4f}, top-5 {r.top5:.4f}, {r.seconds:.1f} s")
    return 0


def _data_source(args) -> str:
    """Which copy of the data was read (so a user can tell the Debian copy from their own)."""
    if getattr(args, "dataset", "fashion_mnist") == "imagenet":
        return str(args.imagenet_root)
    from .data import locate

    return str(locate(args.data_root))


def _load_config(path: str | None, model: str):
    """A config file, refused when it was written for another model (its layer names would not fit)."""
    from .quant import QuantConfig

    if not path:
        return QuantConfig()
    config = QuantConfig.load(path)
    if config.model and config.model != model:
        raise UsageError(f"{path} was written for {config.model}, not {model}; pass --model {config.model} or write a config for {model}")
    return config


def cmd_quantize(args) -> int:
    from .quant import export_packed, memory_report
    from .quant.export import read_packed_header

    model = _model(args)
    config = _load_config(args.config, args.model)
    path = export_packed(model, config, args.out)
    header, _ = read_packed_header(path)
    rep = memory_report(model, config)
    size = path.stat().st_size
    print(f"wrote {path}: {size} bytes ({header} bytes of header); memory report {rep.total_bytes} bytes; "
          f"saving vs FP32 {rep.saving:.2%}")
    return 0


def cmd_memory(args) -> int:
    from .quant import memory_report, paper_notation

    model = _model(args, load_default=False)  # memory depends on the architecture only
    config = _load_config(args.config, args.model)
    rep = memory_report(model, config)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2))
        return 0
    print(rep.by("stage").to_string(index=False))
    print(f"\ntotal {rep.total_bytes} bytes, FP32 {rep.fp32_bytes} bytes, saving {rep.saving:.2%}")
    for stage, tup in paper_notation(config.resolve(model.quant_structure()), model.quant_structure()).items():
        print(f"  {stage}: {tup}")
    return 0


# -- search ------------------------------------------------------------------------------------
def _method_fields():
    """Every option field of every registered method, once (methods sharing a settings class share them)."""
    from .search import get_method, method_names

    seen: dict[str, dataclasses.Field] = {}
    for name in method_names():
        for f in get_method(name).options():
            seen.setdefault(f.name, f)
    return list(seen.values())


def _option_kwargs(f, hint) -> dict:
    """argparse keywords for a settings field from its type: bools are --x/--no-x, tuples comma lists."""
    import types
    import typing

    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    inner = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
    base = typing.get_origin(inner[0]) or inner[0]
    if base is bool:
        return {"action": argparse.BooleanOptionalAction}
    if base is tuple:
        return {"type": lambda text: tuple(x for x in text.split(",") if x), "metavar": "A,B,..."}
    if base in (int, float):
        return {"type": _number(base, allow_inf=base is float)}
    return {"type": str}


def _add_method_options(p: argparse.ArgumentParser) -> None:
    """One option per field of the registered methods' settings: a new method brings its options along."""
    import typing

    from .search import get_method, method_names

    groups: dict[type, list[str]] = {}
    for name in method_names():
        groups.setdefault(get_method(name).settings, []).append(name)
    defaults: dict[str, dict[str, str]] = {}  # option -> {methods: default}: a name several methods share
    for cls, names in groups.items():
        for f in get_method(names[0]).options():
            defaults.setdefault(f.name, {})[" / ".join(names)] = schema.shown_default(cls, f)
    done = set()
    for cls, names in groups.items():
        g = p.add_argument_group(f"{cls.__name__} (--method {' / '.join(names)})")
        hints = typing.get_type_hints(cls)
        for f in get_method(names[0]).options():
            if f.name in done:
                continue
            done.add(f.name)
            text, per_method = f.metadata.get("help", ""), defaults[f.name]
            if len(set(per_method.values())) > 1:
                text = f"{text} (default: " + "; ".join(f"{v} for {k}" for k, v in per_method.items()) + ")"
            elif "default" not in text:
                text = f"{text} (default: {schema.shown_default(cls, f)})"
            spec = schema.spec_of(f)  # a declared option is read by its constraint; an undeclared one by its type
            g.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=argparse.SUPPRESS, help=text,
                           **(schema.argument_kwargs(spec) if spec and spec.constraint else _option_kwargs(f, hints[f.name])))


def search_settings_from_args(args):
    """The SearchSettings a ``search`` command line asks for (method options routed by the registry)."""
    from .quant import QuantScheme
    from .search import SearchSettings, get_method

    method = get_method(args.method)
    given = {f.name: getattr(args, f.name) for f in _method_fields() if hasattr(args, f.name)}
    foreign = sorted(set(given) - {f.name for f in method.options()})
    if foreign:
        names = ", ".join("--" + n.replace("_", "-") for n in foreign)
        raise UsageError(f"{names}: not an option of --method {args.method} (see `aq4svit search --help`)")
    from .search.settings import EngineSettings

    scheme = QuantScheme(**schema.from_args(QuantScheme, args), seed=args.seed)
    overrides = {k: v for k, v in (("kd", args.kd), ("T", args.time_steps)) if v is not None}
    return SearchSettings.build(
        args.method, args.model, checkpoint=args.checkpoint, scheme=scheme, spec=_spec(args), dataset=args.dataset,
        data_root=args.imagenet_root if args.dataset == "imagenet" else args.data_root, download=args.download,
        model_overrides=overrides, fuse_repconv=args.fuse_repconv, **schema.from_args(SearchSettings, args),
        **schema.from_args(EngineSettings, args), **given,
    )


def cmd_search(args) -> int:
    from .search import run_search

    settings = search_settings_from_args(args)
    out = run_search(settings, out=args.out or f"results/{args.model}/{args.method}", resume=args.resume, force=args.force,
                     memo=args.memo, executor=_executor(args))
    r = out.result
    if args.json:
        print(json.dumps({**r, "folder": str(out.folder)}, indent=2, default=str))
        return 0
    verify = (f"verify {r['fp32']['verify_accuracy']:.4f} -> {r['final']['verify_accuracy']:.4f}, "
              if r["final"].get("verify_accuracy") is not None else "unverified (no verify split), ")
    print(f"{r['method']} on {r['model']}: search accuracy {r['fp32']['search_accuracy']:.4f} -> {r['final']['search_accuracy']:.4f}, "
          f"{verify}test {r['fp32']['test_accuracy']:.4f} -> {r['final']['test_accuracy']:.4f}; memory saving {r['saving_vs_fp32']:.2%}; "
          f"{r['search_seconds']:.1f} s, evaluations {r['evaluations']}")
    if r.get("verify", {}).get("backoff_steps"):
        print(f"  the search's choice missed delta on verify; backed off {r['verify']['backoff_steps']} step(s) to a larger configuration")
    for stage, tup in r["final"]["paper_notation"].items():
        print(f"  {stage}: {tup}")
    print(f"results in {out.folder}")
    return 0


def cmd_compare(args) -> int:
    from .report import peer_comparison, to_markdown
    from .reproduce import compare_methods, get_profile
    from .search.registry import peer_methods

    methods = [m for part in (args.methods or [",".join(peer_methods())]) for m in part.split(",") if m]
    df = peer_comparison(compare_methods(_with_executor(get_profile(args.profile), args), args.model, methods))
    columns = ["method", "saving_vs_fp32", "widths_used", "search_drop_pts", "verify_drop_pts", "test_drop_pts", "full",
               "images_forwarded", "images_backpropagated", "search_seconds", "gap_to_best_known", "hypervolume"]
    if args.out:
        from .ioutil import write_text_atomic

        write_text_atomic(args.out, df.to_csv(index=False))
    if args.json:
        print(df.to_json(orient="records", indent=2))
    else:
        print(to_markdown(df[columns]))
    return 0


# -- reproduce -------------------------------------------------------------------------------------
def cmd_reproduce(args) -> int:
    from .reproduce import run_notebooks

    only = [n for part in (args.only or []) for n in part.split(",") if n]
    timings = run_notebooks(args.profile, only or None, imagenet_root=args.imagenet_root, checkpoint_dir=args.checkpoint_dir,
                            include_optional=False, executor=_executor(args), extended=args.extended)
    total = sum(t["seconds"] for t in timings)
    print(f"executed {len(timings)} notebooks in {total:.0f} s; figures in figures/ (default profile) or results/<profile>/figures")
    return 0


# -- claims ----------------------------------------------------------------------------------------
#: a failed check exits with this status (a usage error exits 2, a bug 70)
CHECK_FAILED = 1


def _gallery(path) -> Path:
    """The run to read: --results, else the repository's committed gallery (figures/)."""
    from .reproduce import ROOT

    if path:
        return Path(path)
    gallery = ROOT / "figures"
    if not (gallery / "tables").is_dir():
        raise UsageError(f"no committed gallery at {gallery} (an installed package ships none): pass --results DIR, "
                         "a figures folder written by `aq4svit reproduce`")
    return gallery


def _committed(args) -> Path:
    from .reproduce import ROOT

    return Path(args.committed) if args.committed else ROOT / "figures" / "claims.json"


def cmd_check(args) -> int:
    from .claims.check import check_table, run_check

    ids = [i for part in (args.claim or []) for i in part.split(",") if i]
    verdicts = run_check(_gallery(args.results), _committed(args), ids or None)
    failed = [v for v in verdicts if not v.ok]
    if args.json:
        print(json.dumps([{"claim": v.id, "paper": v.paper_value, "committed": v.committed_verdict, "this_run": v.verdict,
                           "direction_unchanged": v.direction_unchanged, "within_tolerance": v.within_tolerance, "ok": v.ok,
                           "quantities": v.quantities} for v in verdicts], indent=2, default=str))
    else:
        from .report import to_markdown

        print(to_markdown(check_table(verdicts)))
    for v in failed:
        print(f"aq4svit: check failed: claim {v.id}: " + "; ".join(v.failures()), file=sys.stderr)
    for v in verdicts:
        if v.moved_within_wall_clock:
            print(f"aq4svit: claim {v.id}'s verdict moved ({v.committed_verdict} -> {v.verdict}) with every wall-clock ratio within its "
                  "tolerance: its threshold lies inside another machine's noise (not a failure)", file=sys.stderr)
    skipped = [v for v in verdicts if v.not_rerun]
    for v in skipped:
        print(f"aq4svit: claim {v.id} was not re-run: it {v.not_rerun}", file=sys.stderr)
    if not failed:
        moved = sum(v.moved_within_wall_clock for v in verdicts)
        verdicts_said = f"verdicts unchanged but {moved} moved within wall-clock noise" if moved else "verdicts unchanged"
        print(f"all {len(verdicts) - len(skipped)} claims reproduced ({verdicts_said}, every value within its tolerance)"
              + (f"; {len(skipped)} not re-run: they need the extended run" if skipped else ""), file=sys.stderr)
    return CHECK_FAILED if failed else 0


def cmd_claims(args) -> int:
    from .claims import Run, measure, render_documents, write_committed
    from .reproduce import ROOT

    run = Run(_gallery(args.results))
    if args.write:
        write_committed(run, _committed(args))
        print(f"wrote {_committed(args)}")
    if args.render:
        from .plot_style import setting
        from .reproduce import get_profile

        for path in render_documents(run, ROOT, {"setting": setting(get_profile("default"))}):
            print(f"rendered {path}")
    if not (args.write or args.render):
        records = measure(run)
        if args.json:
            print(json.dumps(records, indent=2, default=str))
        else:
            for r in records:
                print(f"{r['id']:<4} {r['verdict']:<34} {r['sentence']}")
    return 0


# -- config ----------------------------------------------------------------------------------------
def _pairs(items, what: str) -> dict:
    from .errors import UsageError

    out = {}
    for item in items or []:
        name, sep, bits = item.rpartition("=")
        if not sep or not bits.isdigit():
            raise UsageError(f"--{what} takes NAME=BITS, got {item!r}")
        out[name] = int(bits)
    return out


def cmd_config(args) -> int:
    from .models import create_model
    from .quant import QuantConfig, QuantScheme, paper_notation

    if args.show:
        config = QuantConfig.load(args.show)
    else:
        block_kinds: dict = {}
        for key, bits in _pairs(args.block_kind, "block-kind").items():
            block, _, kind = key.partition(":")
            block_kinds.setdefault(block, {})[kind] = bits
        config = QuantConfig(default=args.default, kinds=_pairs(args.kind, "kind"), stages=_pairs(args.stage, "stage"),
                             blocks=_pairs(args.block, "block"), block_kinds=block_kinds, layers=_pairs(args.layer, "layer"),
                             scheme=QuantScheme(args.scheme, args.granularity, args.rounding), model=args.model)
    import torch

    from .models.adapter import is_user_model, load_user_model

    if is_user_model(args.model):
        structure = load_user_model(args.model, None, getattr(args, "mapping", None)).quant_structure()
    else:
        with torch.device("meta"):
            structure = create_model(args.model).quant_structure()
    bits = config.resolve(structure)  # validates
    if args.out:
        config.save(args.out)
        print(f"wrote {args.out}")
    else:
        print(config.to_json())
    for stage, tup in paper_notation(bits, structure).items():
        print(f"  {stage}: {tup}")
    return 0


# -- train ---------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from .training import TrainConfig, train

    cfg = TrainConfig(
        model=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, seed=args.seed, threads=args.threads, warmup_epochs=args.warmup_epochs,
        init_from=args.init_from, surrogate_alpha_final=args.surrogate_alpha_final, no_decay_1d=not args.decay_1d,
        shift=args.shift, flip=args.flip, label_smoothing=args.label_smoothing,
        ema_decay=args.ema_decay, precise_bn=args.precise_bn,
    )
    _, result = train(cfg, args.out, _spec(args), args.data_root, progress=not args.quiet, log=lambda m: print(m, flush=True))
    print(f"{args.model}: test accuracy {result['test_accuracy']:.4f}, search accuracy {result['search_accuracy']:.4f}, "
          f"{result['train_seconds']:.0f} s" + (f"; saved {args.out}" if args.out else ""))
    return 0


def _args_info(p: argparse.ArgumentParser) -> None:
    _add_data_args(p)


def _args_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_data_args(p)


def _args_eval(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument("--split", default="test", help="train, search, minibatch, verify or test (default test)")
    p.add_argument("--config", help="quant config JSON (default: FP32)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_engine_args(p)
    _add_data_args(p)


def _args_quantize(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument("--config", required=True, help="quant config JSON")
    p.add_argument("--out", required=True, help="output .safetensors file")


def _args_memory(p: argparse.ArgumentParser) -> None:
    _add_model_args(p)
    p.add_argument("--config", help="quant config JSON (default: FP32)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")


def _args_search(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", required=True, help="a registered search method (`aq4svit search --help` lists them)")
    _add_model_args(p)
    from .quant import QuantScheme
    from .search.settings import DataSettings, SearchSettings

    p.add_argument("--out", help="result folder (default results/<model>/<method>)")
    g = p.add_argument_group("the constraint and the search space (SearchSettings)")
    schema.add_arguments(g, SearchSettings)
    schema.add_arguments(g, QuantScheme)
    _add_method_options(p)
    p.add_argument("--resume", action="store_true", help="continue a killed run from its trace and memo")
    p.add_argument("--force", action="store_true", help="overwrite another run's results in --out")
    p.add_argument("--memo", help="memo file (default <out>/memo.sqlite)")
    _add_engine_args(p)
    schema.add_arguments(p, DataSettings, only=("dataset",))
    p.add_argument("--imagenet-root", help="ImageNet folder with val/ (and optionally train/)")
    p.add_argument("--json", action="store_true", help="print result.json (and the folder) instead of the summary")
    _add_data_args(p)
    _add_executor_args(p)


def _args_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="default", help="ci, default, full or imagenet")
    p.add_argument("--model", default="sdtv2_tiny")
    p.add_argument("--methods", action="append", help="comma-separated (default: qsvit, greedy, beam, sensitivity-ilp, optuna, random)")
    p.add_argument("--out", help="also write the full table as CSV")
    p.add_argument("--json", action="store_true", help="print the full table as JSON records")
    p.add_argument("--threads", type=NONNEGATIVE, default=0)
    _add_executor_args(p)


def _args_reproduce(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="default", help="ci, default, full or imagenet")
    p.add_argument("--only", action="append", help="run only these notebooks (prefixes such as 02 or 04_aq4svit_search)")
    p.add_argument("--extended", action="store_true",
                   help="also what lies outside the default profile's time: the seed study (09) and notebook 07's long reference run")
    p.add_argument("--imagenet-root", help="imagenet profile: ImageNet folder with val/")
    p.add_argument("--checkpoint-dir", help="imagenet profile: folder with the official checkpoints")
    p.add_argument("--threads", type=NONNEGATIVE, default=0)
    _add_executor_args(p)


def _args_check(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", help="a figures folder written by `aq4svit reproduce` (default: the committed gallery, figures/)")
    p.add_argument("--committed", help="the committed claims file (default figures/claims.json)")
    p.add_argument("--claim", action="append", help="check only these claims (e.g. A1, or A1,A4)")
    p.add_argument("--json", action="store_true", help="print every claim's quantities as JSON")


def _args_claims(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", help="a figures folder written by `aq4svit reproduce` (default: the committed gallery, figures/)")
    p.add_argument("--committed", help="the claims file to write (default figures/claims.json)")
    p.add_argument("--write", action="store_true", help="write the committed claims file from this run")
    p.add_argument("--render", action="store_true", help="render REPRODUCTION.md and the README's generated sections from this run")
    p.add_argument("--json", action="store_true")


def _args_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="sdtv2_tiny", help="the model the config is validated against")
    p.add_argument("--show", help="validate and print an existing config file instead of writing one")
    p.add_argument("--default", type=int, default=32, help="network default bits")
    p.add_argument("--kind", action="append", help="KIND=BITS network-wide (repeatable), e.g. q=32")
    p.add_argument("--stage", action="append", help="STAGE=BITS, e.g. 3=4")
    p.add_argument("--block", action="append", help="BLOCK=BITS, e.g. block3.0=8")
    p.add_argument("--block-kind", action="append", help="BLOCK:KIND=BITS, e.g. block3.0:q=32")
    p.add_argument("--layer", action="append", help="LAYER=BITS (module path)")
    from .quant import QuantScheme

    schema.add_arguments(p, QuantScheme)
    p.add_argument("--out", help="output JSON file (default: print)")


def _args_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="sdtv2_tiny")
    p.add_argument("--epochs", type=POSITIVE, default=20)
    p.add_argument("--batch-size", type=POSITIVE, default=128)
    p.add_argument("--lr", type=_number(float, 0, low_open=True), default=4e-3)
    p.add_argument("--weight-decay", type=_number(float, 0), default=0.05)
    p.add_argument("--warmup-epochs", type=_number(float, 0), default=1.0, help="linear warm-up length before the cosine decay")
    p.add_argument("--init-from", help="start from this checkpoint (fine-tuning) instead of a fresh init")
    p.add_argument("--surrogate-alpha-final", type=float, help="anneal the LIF surrogate slope from 2 to this value")
    p.add_argument("--decay-1d", action="store_true", help="weight decay on biases and BN parameters too (as sdtv3_tiny was trained)")
    p.add_argument("--shift", type=NONNEGATIVE, default=2, help="augmentation: random translation of up to N pixels (0 = off; default 2)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True, help="augmentation: random horizontal flips (default on)")
    p.add_argument("--label-smoothing", type=_number(float, 0, 1), default=0.1)
    p.add_argument("--ema-decay", type=float, help="ship an exponential moving average of the weights (e.g. 0.999)")
    p.add_argument("--precise-bn", action="store_true", help="re-estimate BN statistics of the final weights on the un-augmented train split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="checkpoint path (.safetensors); a .json training log is written beside it")
    p.add_argument("--quiet", action="store_true", help="no progress bar (one line per epoch only)")
    _add_data_args(p)


#: (command, help, its options, what runs it), in `aq4svit --help` order
COMMANDS = (
    ("info", "print the model zoo and the default dataset's splits", _args_info, cmd_info),
    ("data", "check (or --download) the default dataset and print its splits", _args_data, cmd_data),
    ("eval", "accuracy of a model (optionally under a quant config) on a split", _args_eval, cmd_eval),
    ("quantize", "export a model quantized with a config as bit-packed safetensors", _args_quantize, cmd_quantize),
    ("memory", "memory of a model under a config, per stage, and saving vs FP32", _args_memory, cmd_memory),
    ("search", "run a registered search method (qsvit, greedy, beam, ...) and write a result folder", _args_search, cmd_search),
    ("compare", "every search method on one model with a profile's settings: the peer table", _args_compare, cmd_compare),
    ("reproduce", "execute the notebooks headless (papermill): figures, tables, results", _args_reproduce, cmd_reproduce),
    ("check", "recompute every claim from a run's tables and compare it with the committed values", _args_check, cmd_check),
    ("claims", "print the claims computed from a run; --write the committed values, --render the documents", _args_claims, cmd_claims),
    ("config", "write (or --show and validate) a quantization config", _args_config, cmd_config),
    ("train", "train a default model on the Fashion-MNIST train split", _args_train, cmd_train),
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; ``only``: give that command its options and the others none (options that come from
    the settings' declarations import the library, which `aq4svit check` or `--version` should not pay for)."""
    parser = argparse.ArgumentParser(prog="aq4svit", description="Automated post-training quantization search for spiking vision transformers (QSViT and AQ4SViT).")
    parser.add_argument("--version", action="version", version=f"aq4svit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text, add_options, func in COMMANDS:
        p = sub.add_parser(name, help=text)
        if only is None or only == name:
            add_options(p)
        p.set_defaults(func=func)
    return parser


# -- checks at the edge (edges.py): every value by its kind, before any command does work ----------------
#: option dest -> kind, for every command that has the option
PATH_ARGS = {
    "data_root": "input_dir", "imagenet_root": "input_dir", "checkpoint_dir": "input_dir", "results": "input_dir",
    "checkpoint": "input_file", "init_from": "input_file", "config": "text_file", "show": "text_file", "memo": "memo",
}
#: --out of each command: the kind of thing it writes
OUT_KINDS = {"quantize": "output_file", "compare": "output_file", "config": "output_file", "train": "output_file",
             "search": "output_dir"}


def _option(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_args(args) -> None:
    """Validate the paths, device and model / data pairing a command line names (UsageError: exit 2, one paragraph)."""
    from . import edges

    command = args.command
    for dest, kind in PATH_ARGS.items():
        value = getattr(args, dest, None)
        if value is None or (dest == "checkpoint" and value == "default" and not Path(value).exists()):
            continue
        if dest == "data_root" and getattr(args, "dataset", None) == "custom" and names_callable(value):
            continue  # a user's data as module:callable (data/custom.py), imported when the splits are built
        if kind == "memo":
            edges.output_file(value, "--memo")
            if Path(value).exists():
                edges.input_file(value, "--memo")
        elif kind == "text_file":
            edges.input_file(value, _option(dest), text=True)
        else:
            getattr(edges, kind)(value, _option(dest))
    committed = getattr(args, "committed", None)
    if committed is not None:
        if command == "check":
            edges.input_file(committed, "--committed", text=True)
        elif getattr(args, "write", False):
            edges.output_file(committed, "--committed")
    out = getattr(args, "out", None)
    if out is not None and command in OUT_KINDS:
        getattr(edges, OUT_KINDS[command])(out, "--out")
        if command == "train":
            edges.output_file(Path(out).with_suffix(".json"), "--out's training log")
    if getattr(args, "device", None) is not None:
        edges.device(args.device, "--device")
    model = getattr(args, "model", None)
    if model is not None and command in ("eval", "search", "train"):
        edges.model_fits_data(model, getattr(args, "dataset", "fashion_mnist"))
    elif model is not None and command == "compare":
        from .reproduce import get_profile

        edges.model_fits_data(model, get_profile(args.profile).dataset)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(only=next((a for a in argv if not a.startswith("-")), ""))  # the named command's options only
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):  # a usage error, not a request for help (that is --help)
        parser.print_usage(sys.stderr)
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
        print(f"aq4svit: error: a command is required, one of: {', '.join(commands)} (`aq4svit --help` says what each does)",
              file=sys.stderr)
        return 2
    try:
        check_args(args)
        _threads(args)
        return int(args.func(args) or 0)
    except Aq4svitError as exc:
        print(f"aq4svit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aq4svit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from .search import SearchInterrupted

        if isinstance(exc, SearchInterrupted):
            print(f"aq4svit: {exc}; to continue, run the same command with --resume and without --max-evaluations "
                  "(or with a larger one)", file=sys.stderr)
            return 3
        return _internal_error(exc)


#: a bug of ours (sysexits' EX_SOFTWARE), never a user's mistake (those exit 2)
INTERNAL_ERROR = 70


def _internal_error(exc: Exception) -> int:
    """A bug, not a user error: one line on stderr, the traceback in a log file for the report."""
    import tempfile
    import traceback

    log = Path(tempfile.gettempdir()) / f"aq4svit-error-{os.getpid()}.log"
    log.write_text("".join(traceback.format_exception(exc)))
    print(f"aq4svit: internal error ({type(exc).__name__}: {exc}); the full traceback is in {log} "
          "(please attach it to a bug report)", file=sys.stderr)
    return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
