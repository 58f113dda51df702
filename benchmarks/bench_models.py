"""Shipped default checkpoints: full Fashion-MNIST test accuracy and evaluation time.

Targets (issue "Model zoo"): >= 90 % test accuracy and <= 20 s for the 10 000 test images on
2 CPU cores, for each of sdt_tiny, sdtv2_tiny, sdtv3_tiny. Usage: python benchmarks/bench_models.py
"""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import torch
from _record import record

from aq4svit_lib.data import load_splits
from aq4svit_lib.models import create_model, default_checkpoint
from aq4svit_lib.report import to_markdown

MODELS = ("sdt_tiny", "sdtv2_tiny", "sdtv3_tiny")


def main() -> None:
    torch.set_num_threads(int(os.environ.get("AQ4SVIT_THREADS", 2)))
    test = load_splits()["test"]
    rows = []
    for name in MODELS:
        model = create_model(name, checkpoint="default")
        card = json.loads(default_checkpoint(name).with_suffix(".json").read_text())
        with torch.inference_mode():
            model(next(test.batches(100))[0])  # warm-up
            t0 = time.perf_counter()
            correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in test.batches(500))
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


if __name__ == "__main__":
    main()
