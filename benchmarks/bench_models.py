"""Shipped default checkpoints: full Fashion-MNIST test accuracy and evaluation time.

Targets (issue "Model zoo"): >= 90 % test accuracy and <= 20 s for the 10 000 test images on
2 CPU cores, for each of sdt_tiny, sdtv2_tiny, sdtv3_tiny. A second table times FP32 evaluation of
2000 test images at several batch sizes (the evidence for ``data.EVAL_BATCH_SIZE``).
Usage: python benchmarks/bench_models.py
"""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import torch
from _record import record

from aq4svit_lib.data import EVAL_BATCH_SIZE, load_splits
from aq4svit_lib.models import create_model, default_checkpoint
from aq4svit_lib.report import to_markdown

MODELS = ("sdt_tiny", "sdtv2_tiny", "sdtv3_tiny")
BATCH_SIZES = (500, 200, 100, 50)


def batch_size_sweep(models: dict, test) -> pd.DataFrame:
    """Seconds for 2000 images per batch size (best of 2: the first pass warms the allocator)."""
    head = test.head(2000, "test2000")
    rows = []
    for name, model in models.items():
        row = {"model": name}
        for bs in BATCH_SIZES:
            times = []
            for _ in range(2):
                t0 = time.perf_counter()
                for x, _y in head.batches(bs):
                    model(x)
                times.append(time.perf_counter() - t0)
            row[f"bs{bs}_s"] = round(min(times), 2)
        rows.append(row)
        print(row, flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    torch.set_num_threads(int(os.environ.get("AQ4SVIT_THREADS", 2)))
    test = load_splits()["test"]
    rows, models = [], {}
    for name in MODELS:
        model = models[name] = create_model(name, checkpoint="default")
        card = json.loads(default_checkpoint(name).with_suffix(".json").read_text())
        with torch.inference_mode():
            model(next(test.batches(100))[0])  # warm-up
            t0 = time.perf_counter()
            correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in test.batches(EVAL_BATCH_SIZE))
            seconds = time.perf_counter() - t0
        acc = correct / len(test)
        rows.append({
            "model": name, "params": sum(p.numel() for p in model.parameters()), "test_accuracy": acc,
            "recorded_accuracy": card["test_accuracy"], "eval_seconds_10k": round(seconds, 2),
            "images_per_s": round(len(test) / seconds), "meets_90pct": acc >= 0.90, "meets_20s": seconds <= 20,
        })
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    record("bench_models", "Default models: test accuracy and evaluation time (10 000 images)", to_markdown(df))
    with torch.inference_mode():
        sweep = batch_size_sweep(models, test)
    print(sweep.to_string(index=False))
    record("bench_models_batch", f"FP32 evaluation time of 2000 test images by batch size (library default {EVAL_BATCH_SIZE})",
           to_markdown(sweep))


if __name__ == "__main__":
    main()
