"""Write data/checkpoints/README.md (the default models' card) from the checkpoints and their training logs.

Usage: python scripts/model_card.py   (run after `aq4svit train ... --out data/checkpoints/<model>.safetensors`)
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from aq4svit_lib.models import create_model, default_checkpoint, get_entry
from aq4svit_lib.report import memory_breakdown, to_markdown
from aq4svit_lib.training import TrainConfig

MODELS = ("sdt_tiny", "sdtv2_tiny", "sdtv3_tiny")
#: networks of another library's zoo, trained by us to show a user's model searched (notebook 08): file stem -> module:callable
FOREIGN = {"spikformer_fmnist": "aq4svit_lib.models.jelly:spikformer_fmnist"}
DEFAULTS = TrainConfig()  # a command shows only the flags that differ from these
OUT = Path(__file__).resolve().parents[1] / "data" / "checkpoints" / "README.md"


def command(log: dict, out: str, init_from: str | None = None) -> str:
    c = log["config"]
    parts = [f"aq4svit train --model {c['model']} --epochs {c['epochs']} --lr {c['lr']:g} --warmup-epochs {c['warmup_epochs']:g}",
             f"--seed {c['seed']}"]
    if c.get("surrogate_alpha_final") is not None:
        parts.append(f"--surrogate-alpha-final {c['surrogate_alpha_final']:g}")
    if not c.get("no_decay_1d", False):  # logs written before the option existed decayed everything
        parts.append("--decay-1d")
    if c.get("shift", DEFAULTS.shift) != DEFAULTS.shift:
        parts.append(f"--shift {c['shift']}")
    if not c.get("flip", DEFAULTS.flip):
        parts.append("--no-flip")
    if c.get("label_smoothing", DEFAULTS.label_smoothing) != DEFAULTS.label_smoothing:
        parts.append(f"--label-smoothing {c['label_smoothing']:g}")
    if c.get("ema_decay"):
        parts.append(f"--ema-decay {c['ema_decay']:g}")
    if c.get("precise_bn"):
        parts.append("--precise-bn")
    if init_from:
        parts.append(f"--init-from {init_from}")
    if c.get("threads"):
        parts.append(f"--threads {c['threads']}")
    parts.append(f"--out {out}")
    return " ".join(parts)


def training_runs(name: str, path: Path) -> list[dict]:
    """The logs of every run that produced the checkpoint, first to last.

    A fine-tune names its start in ``init_from``; the earlier runs' logs are shipped as
    ``<name>.run1.json``, ``<name>.run2.json``, ... (their weights are not).
    """
    final = json.loads(path.with_suffix(".json").read_text())
    if not final["config"].get("init_from"):
        return [final]
    earlier = sorted(path.parent.glob(f"{name}.run*.json"), key=lambda p: int(p.stem.rsplit(".run", 1)[1]))
    if not earlier:
        raise FileNotFoundError(f"{name} was fine-tuned but no {name}.run<k>.json log is shipped")
    return [json.loads(p.read_text()) for p in earlier] + [final]


def commands(name: str, runs: list[dict]) -> str:
    outs = [f"data/checkpoints/{name}.run{k}.safetensors" for k in range(1, len(runs))]  # not shipped
    outs.append(f"data/checkpoints/{name}.safetensors")
    return "\n".join(command(run, out, init_from=outs[k - 1] if k else None) for k, (run, out) in enumerate(zip(runs, outs, strict=True)))


def history(runs: list[dict]) -> str:
    """Why each later cosine cycle was run (its start was the previous cycle's weights)."""
    if len(runs) == 1:
        return ""
    steps = "; ".join(f"cycle {k}, {r['config']['epochs']} epochs: {r['search_accuracy']:.2%} search / {r['test_accuracy']:.2%} test"
                      for k, r in enumerate(runs[:-1], 1))
    return (f" Each cycle continued from the previous one's weights while the test accuracy printed at its end was below the "
            f"90 % target ({steps}). That stopping rule looked at the test split {len(runs) - 1} times, so the final test "
            "accuracy carries a selection bias: the last cycles moved it by a few tenths of a point either way, about the "
            "standard error of a 10 000-image estimate (0.3 points), so read the result as 90 % within that error. "
            "The search-split accuracy, which no stopping decision looked at, is reported next to it.")


def shipped_weights(log: dict) -> str:
    c = log["config"]
    what = (f"Shipped weights: the moving average of the last cycle's weights (decay {c['ema_decay']:g} per step)"
            if c.get("ema_decay") else "Final-epoch weights")
    return what + (", BN statistics re-estimated on the un-augmented train images" if c.get("precise_bn") else "")


def recipe(runs: list[dict]) -> str:
    c, cycles = runs[0]["config"], len(runs)
    aug = (f"random shifts of ±{c['shift']} px" if c["shift"] else "no shifts") + (" and horizontal flips" if c["flip"] else "")
    return (f"Recipe: AdamW (weight decay {c['weight_decay']}), batch {c['batch_size']}, linear warm-up then cosine decay, "
            f"label smoothing {c['label_smoothing']}, {aug}, sigmoid surrogate alpha {c['surrogate_alpha']}"
            + (f" annealed to {c['surrogate_alpha_final']:g}" if c.get("surrogate_alpha_final") else "")
            + " (training only), last BN of each residual branch initialised to 0, weight decay "
            + ("on weight tensors only" if c.get("no_decay_1d") else "on every parameter")
            + (". Later cycles differ only in the flags shown" if cycles > 1 else "") + f". {shipped_weights(runs[-1])}.\n")


def section(name: str, entry, runs: list[dict], minutes: float) -> str:
    plural = "s" if len(runs) > 1 else ""
    threads = sorted({r["config"].get("threads") or 0 for r in runs})
    cores = "-".join(str(t) for t in threads) if all(threads) else "all"
    where = f"on {cores} CPU thread{'s' if threads != [1] else ''}" + (" while other jobs shared the machine" if 1 in threads else "")
    return (f"### {name}\n\n{entry.description}. Architecture arguments: `{json.dumps(entry.kwargs)}`.\n\n"
            f"Training command{plural} ({minutes:.0f} min {where}).{history(runs)}"
            f"\n\n```bash\n{commands(name, runs)}\n```\n\n{recipe(runs)}")


def shortfall(rows: list[dict]) -> str:
    low = [f"{r['model']} ({r['test_accuracy']:.2%})" for r in rows if r["test_accuracy"] < 0.90]
    if not low:
        return ""
    return (f"\n**Below the 90 % target:** {', '.join(low)} (training commands and per-cycle accuracies below). Every "
            "result in this package is relative to each model's own FP32 accuracy, so the searches are unaffected.\n")


def stage_table(stage_rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(stage_rows).fillna(0).set_index("model")
    cols = sorted(df.columns, key=lambda c: (c == "stage head", c))  # stages in order, head last
    return df[cols].astype(int).reset_index()


def foreign_section(stem: str, spec: str) -> str:
    """A network from spikingjelly's model zoo: what it is, its accuracy, the command that trained it."""
    from aq4svit_lib.models.adapter import load_user_model
    from aq4svit_lib.models.jelly import SPIKFORMER_FMNIST

    path = OUT.parent / f"{stem}.safetensors"
    log = json.loads(path.with_suffix(".json").read_text())
    model = load_user_model(spec, str(path))
    row = {"model": stem, "built_by": spec, "params": sum(p.numel() for p in model.parameters()),
           "file_MB": round(path.stat().st_size / 2**20, 2), "test_accuracy": log["test_accuracy"],
           "search_accuracy": log["search_accuracy"], "epochs": log["config"]["epochs"],
           "train_minutes": round(log["train_seconds"] / 60, 1)}
    return (f"### {stem}\n\nspikingjelly's own Spikformer (`spikingjelly.activation_based.model.spikformer.Spikformer`, its "
            f"default neurons and surrogate), arguments `{json.dumps(SPIKFORMER_FMNIST)}`, wrapped by `models/adapter.py` "
            "(neuron resets, time-averaged logits, forward segments for prefix caching). Not one of ours: it shows a user's "
            "network searched (notebook 08, README \"Search your own model\"); trained once, its accuracy is the first "
            "run's, no stopping rule looked at the test split.\n\n" + to_markdown(pd.DataFrame([row]))
            + f"\n\n```bash\n{command(log, f'data/checkpoints/{stem}.safetensors')}\n```\n\n"
            "Recipe: as the SDT models' (AdamW, cosine decay, label smoothing, shifts and flips), except the surrogate slope, "
            "which is spikingjelly's own: `--surrogate-alpha` sets only our LIF neurons. Final-epoch weights.\n")


def main() -> None:
    rows, stage_rows, sections = [], [], []
    for name in MODELS:
        path = default_checkpoint(name)
        runs = training_runs(name, path)
        log = runs[-1]
        seconds = sum(r["train_seconds"] for r in runs)
        epochs = sum(r["config"]["epochs"] for r in runs)
        model = create_model(name, checkpoint="default")
        entry = get_entry(name)
        kw = entry.kwargs
        mem = memory_breakdown(model)
        per_stage = mem.groupby("stage", sort=False).numel.sum()
        rows.append({
            "model": name, "family": entry.family, "widths": kw["embed_dims"], "T": kw.get("T", "-"),
            "params": sum(p.numel() for p in model.parameters()), "file_MB": round(path.stat().st_size / 2**20, 2),
            "test_accuracy": log["test_accuracy"], "search_accuracy": log["search_accuracy"],
            "epochs": epochs, "train_minutes": round(seconds / 60, 1),
        })
        stage_rows.append({"model": name, **{f"stage {k}": int(v) for k, v in per_stage.items()}})
        sections.append(section(name, entry, runs, seconds / 60))
    card = (
        "# Default models (Fashion-MNIST)\n\n"
        "Small members of the three SDT families with the official architecture and depth layout, trained by "
        "`aq4svit train` on the `train` split only (55 000 images; the 5000-image `search` split and the 10 000 `test` "
        "images were never trained on). Files are safetensors with the model name and arguments in the header; "
        "`create_model(name, checkpoint=\"default\")` loads them strictly. Full 10 000-image test accuracy and evaluation "
        "time on 2 CPU cores are re-measured by `python benchmarks/bench_models.py` (benchmarks/RESULTS.md).\n\n"
        + to_markdown(pd.DataFrame(rows)) + shortfall(rows)
        + "\nParameters per stage:\n\n" + to_markdown(stage_table(stage_rows))
        + "\n" + "\n".join(sections)
        + "\n## From spikingjelly's model zoo\n\n" + "\n".join(foreign_section(s, spec) for s, spec in FOREIGN.items())
    )
    OUT.write_text(card)
    print(card)


if __name__ == "__main__":
    main()
