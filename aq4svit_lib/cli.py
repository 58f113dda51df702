"""The ``aq4svit`` command: the library's functions from the shell.

Every user error is an :class:`~aq4svit_lib.errors.Aq4svitError`; it is printed as one message
and the command exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .errors import Aq4svitError


def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data-root", help="folder with the Fashion-MNIST IDX files (default: look-up order in README)")
    g.add_argument("--download", action="store_true", help="let torchvision download Fashion-MNIST if it is missing")
    g.add_argument("--search-size", type=int, default=5000, help="images in the search split (default 5000)")
    g.add_argument("--minibatch-size", type=int, default=256, help="images in the drift-gate minibatch (default 256)")
    g.add_argument("--split-seed", type=int, default=0, help="seed that draws the search split (default 0)")
    g.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")


def _spec(args):
    from .data import SplitSpec

    return SplitSpec(args.search_size, args.minibatch_size, args.split_seed)


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
    print(f"Fashion-MNIST found in {root}")
    for split in load_splits("fashion_mnist", _spec(args), root=args.data_root).values():
        d = split.describe()
        print(f"  {d['split']:<10} {d['size']:>6} images   hash {d['hash']}")
    return 0


# -- models ------------------------------------------------------------------------------------
def _model(args):
    from .models import create_model, get_entry

    checkpoint = args.checkpoint
    if checkpoint is None and get_entry(args.model).default_checkpoint:
        checkpoint = "default"
    overrides = {}
    if getattr(args, "kd", None) is not None:
        overrides["kd"] = args.kd
    if getattr(args, "time_steps", None):
        overrides["T"] = args.time_steps
    return create_model(args.model, checkpoint=checkpoint, **overrides)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="sdtv2_tiny", help="registered model name (see `aq4svit info`)")
    p.add_argument("--checkpoint", help="checkpoint file (official .pth or ours); default: the shipped one for *_tiny")
    p.add_argument("--kd", action=argparse.BooleanOptionalAction, default=None, help="SDT v2: build with / without head_kd")
    p.add_argument("--time-steps", type=int, help="override T (SDT v1 / v2)")


def _splits(args, model=None):
    from .data import load_splits

    dataset = getattr(args, "dataset", "fashion_mnist")
    family = model.default_cfg.get("family") if model is not None else None
    return load_splits(dataset, _spec(args), root=getattr(args, "imagenet_root", None) if dataset == "imagenet" else args.data_root,
                       download=args.download, family=family)


def cmd_eval(args) -> int:
    from .evaluate import Evaluator
    from .quant import QuantConfig

    model = _model(args)
    config = QuantConfig.load(args.config) if args.config else QuantConfig()
    with Evaluator(model, _splits(args, model), batch_size=args.batch_size, device=args.device, quiet=args.quiet) as ev:
        r = ev.accuracy(config, args.split)
    print(f"{args.model} on {args.split} ({r.n} images): top-1 {r.accuracy:.4f}, top-5 {r.top5:.4f}, {r.seconds:.1f} s")
    return 0


def cmd_quantize(args) -> int:
    from .quant import QuantConfig, export_packed, memory_report
    from .quant.export import read_packed_header

    model = _model(args)
    config = QuantConfig.load(args.config)
    path = export_packed(model, config, args.out)
    header, _ = read_packed_header(path)
    rep = memory_report(model, config)
    size = path.stat().st_size
    print(f"wrote {path}: {size} bytes ({header} bytes of header); memory report {rep.total_bytes} bytes; "
          f"saving vs FP32 {rep.saving:.2%}")
    return 0


def cmd_memory(args) -> int:
    import json

    from .quant import QuantConfig, memory_report, paper_notation

    model = _model(args)
    config = QuantConfig.load(args.config) if args.config else QuantConfig()
    rep = memory_report(model, config)
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2))
        return 0
    print(rep.by("stage").to_string(index=False))
    print(f"\ntotal {rep.total_bytes} bytes, FP32 {rep.fp32_bytes} bytes, saving {rep.saving:.2%}")
    for stage, tup in paper_notation(config.resolve(model.quant_structure()), model.quant_structure()).items():
        print(f"  {stage}: {tup}")
    return 0


# -- train ---------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from .training import TrainConfig, train

    cfg = TrainConfig(
        model=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, seed=args.seed, threads=args.threads,
    )
    _, result = train(cfg, args.out, _spec(args), args.data_root, progress=not args.quiet, log=lambda m: print(m, flush=True))
    print(f"{args.model}: test accuracy {result['test_accuracy']:.4f}, search accuracy {result['search_accuracy']:.4f}, "
          f"{result['train_seconds']:.0f} s" + (f"; saved {args.out}" if args.out else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aq4svit", description="Automated post-training quantization search for spiking vision transformers (QSViT and AQ4SViT).")
    parser.add_argument("--version", action="version", version=f"aq4svit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="print the model zoo and the default dataset's splits")
    _add_data_args(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("data", help="check (or --download) the default dataset and print its splits")
    _add_data_args(p)
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("eval", help="accuracy of a model (optionally under a quant config) on a split")
    _add_model_args(p)
    p.add_argument("--split", default="test", help="train, search, minibatch or test (default test)")
    p.add_argument("--config", help="quant config JSON (default: FP32)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--device", help="cpu / cuda (default: cuda when available)")
    p.add_argument("--quiet", action="store_true")
    _add_data_args(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("quantize", help="export a model quantized with a config as bit-packed safetensors")
    _add_model_args(p)
    p.add_argument("--config", required=True, help="quant config JSON")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("memory", help="memory of a model under a config, per stage, and saving vs FP32")
    _add_model_args(p)
    p.add_argument("--config", help="quant config JSON (default: FP32)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.set_defaults(func=cmd_memory)

    p = sub.add_parser("train", help="train a default model on the Fashion-MNIST train split")
    p.add_argument("--model", default="sdtv2_tiny")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=4e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="checkpoint path (.safetensors); a .json training log is written beside it")
    p.add_argument("--quiet", action="store_true", help="no progress bar (one line per epoch only)")
    _add_data_args(p)
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    _threads(args)
    try:
        return int(args.func(args) or 0)
    except Aq4svitError as exc:
        print(f"aq4svit: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("aq4svit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
