"""The evaluation engine on sdtv2_tiny, search split: what the prefix cache and early rejection buy.

(a) block-level sweep: each block in turn at 4 bits, the rest FP32 -- naive (no cache) vs prefix cache;
(b) early rejection: candidates that fail a 1.5-point floor -- full evaluation vs early rejection;
(c) images / s of plain FP32 evaluation.
Targets (issue "Fast evaluation engine"): >= 3x on (a), >= 2x on (b), identical accuracies / decisions.
Usage: python benchmarks/bench_evaluator.py [--model sdtv2_tiny] [--search-size 5000]
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd
import torch
from _record import record

from aq4svit_lib.data import EVAL_BATCH_SIZE, SplitSpec, load_splits
from aq4svit_lib.evaluate import Evaluator
from aq4svit_lib.models import create_model
from aq4svit_lib.quant import QuantConfig
from aq4svit_lib.report import to_markdown


def evaluator(model, splits, cache: bool, hardest_first: bool = True) -> Evaluator:
    return Evaluator(model, splits, batch_size=EVAL_BATCH_SIZE, cache_bytes=(2 << 30) if cache else 0, quiet=True,
                     hardest_first=("search",) if hardest_first else ())


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sdtv2_tiny")
    ap.add_argument("--search-size", type=int, default=5000)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("AQ4SVIT_THREADS", 2)))
    splits = load_splits(spec=SplitSpec(args.search_size, 256))
    model = create_model(args.model, checkpoint="default")
    blocks = [b.name for b in model.quant_structure().blocks]
    sweep = [QuantConfig(blocks={b: 4}) for b in blocks]
    n = len(splits["search"])
    rows = []

    # (a) block sweep: naive vs prefix cache (the cached run pays for its FP32 pass)
    naive = evaluator(model, splits, cache=False)
    naive_res, t_naive = timed(lambda: [naive.accuracy(c) for c in sweep])
    cached = evaluator(model, splits, cache=True)
    cached_res, t_cached = timed(lambda: (cached.accuracy(QuantConfig()), [cached.accuracy(c) for c in sweep])[1])
    same = [(a.correct, a.correct5) for a in naive_res] == [(b.correct, b.correct5) for b in cached_res]
    rows.append({"measurement": f"(a) block sweep, {len(sweep)} configs x {n} images", "baseline_s": t_naive, "engine_s": t_cached,
                 "speedup": t_naive / t_cached, "identical": same, "target": ">= 3x"})
    print(rows[-1], flush=True)

    # (b) early rejection on candidates that fail the 1.5-point floor (no cache, to isolate the effect)
    fp32 = naive.accuracy(QuantConfig()).accuracy
    floor = fp32 - 0.015
    probe = [QuantConfig(blocks={b: 2}) for b in blocks] + [QuantConfig(default=b) for b in (3, 2)]
    full = {i: naive.accuracy(c) for i, c in enumerate(probe)}  # memo-free evaluator: recomputed below
    failing = [probe[i] for i, r in full.items() if r.accuracy < floor]
    plain = evaluator(model, splits, cache=False)
    plain.accuracy(QuantConfig())  # orders the split (hardest first) outside the timed loop, as a search does
    full_res, t_full = timed(lambda: [plain.accuracy(c) for c in failing])
    for hardest_first in (False, True):
        early = evaluator(model, splits, cache=False, hardest_first=hardest_first)
        early.accuracy(QuantConfig())
        early_res, t_early = timed(lambda early=early: [early.accuracy(c, floor=floor) for c in failing])
        same = all((f.accuracy >= floor) == bool(e.passed) for f, e in zip(full_res, early_res, strict=True))
        images = sum(e.forwarded for e in early_res)
        order = "hardest-first order" if hardest_first else "natural order"
        rows.append({"measurement": f"(b) early rejection ({order}), {len(failing)} configs failing FP32-1.5 pts", "baseline_s": t_full,
                     "engine_s": t_early, "speedup": t_full / t_early, "identical": same,
                     "target": f">= 2x ({images} of {len(failing) * n} images forwarded)"})
        print(rows[-1], flush=True)

    # (c) plain FP32 throughput
    fresh = evaluator(model, splits, cache=False)
    _, t_plain = timed(lambda: fresh.accuracy(QuantConfig()))
    rows.append({"measurement": f"(c) FP32 evaluation, {n} images", "baseline_s": t_plain, "engine_s": t_plain, "speedup": 1.0,
                 "identical": True, "target": f"{n / t_plain:.0f} images/s"})
    print(rows[-1], flush=True)

    df = pd.DataFrame(rows)
    df[["baseline_s", "engine_s", "speedup"]] = df[["baseline_s", "engine_s", "speedup"]].round(2)
    print(df.to_string(index=False))
    record("bench_evaluator", f"Evaluation engine on {args.model} ({n}-image search split)", to_markdown(df))


if __name__ == "__main__":
    main()
