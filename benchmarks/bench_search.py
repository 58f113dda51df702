"""QSViT vs AQ4SViT-Greedy vs AQ4SViT-Beam on one model, each from a cold memo, same delta and bit list.

Targets (issue "AQ4SViT"): Greedy >= 6.6x faster than QSViT (aim >= 10x); Greedy memory <= QSViT memory;
Beam memory <= Greedy memory; all within delta on the search split.
Usage: python benchmarks/bench_search.py [--model sdtv2_tiny] [--search-size 5000] [--bits 32,16,12,8,4]
       python benchmarks/bench_search.py --from-results results/default   (tabulate the searches `make reproduce`
       already ran -- each from a cold memo of its own, timed while nothing else ran -- instead of running them again)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd
import torch
from _record import record

from aq4svit_lib.data import SplitSpec
from aq4svit_lib.report import comparison_table, to_markdown
from aq4svit_lib.search import run_search


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sdtv2_tiny")
    ap.add_argument("--search-size", type=int, default=5000)
    ap.add_argument("--bits", default="32,16,12,8,4")
    ap.add_argument("--delta", type=float, default=1.5)
    ap.add_argument("--from-results", help="a profile's results folder, e.g. results/default")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("AQ4SVIT_THREADS", 2)))
    outcomes = from_results(Path(args.from_results), args) if args.from_results else run_all(args)
    table(outcomes, args)


def from_results(folder: Path, args) -> dict:
    from aq4svit_lib.reproduce import load_outcome

    outcomes = {(args.model, m): load_outcome(folder / args.model / m, args.model, m) for m in ("qsvit", "greedy", "beam")}
    first = outcomes[(args.model, "qsvit")].result
    args.search_size, args.bits, args.delta = first["splits"]["search"]["size"], ",".join(map(str, first["bits"])), first["delta"]
    args.source = f"the searches of `make reproduce` in {folder}"
    return outcomes


def run_all(args) -> dict:
    spec = SplitSpec(args.search_size, 256)
    outcomes = {}
    args.source = "this script, each search from a cold memo"
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("qsvit", "greedy", "beam"):
            out = Path(tmp) / method  # its own, cold memo
            outcomes[(args.model, method)] = run_search(method, args.model, out=out, spec=spec, bits=args.bits, delta=args.delta,
                                                        quiet=True, export=False)
            r = outcomes[(args.model, method)].result
            print(f"{method}: {r['search_seconds']:.1f} s, saving {r['saving_vs_fp32']:.3f}, search acc {r['final']['search_accuracy']:.4f}",
                  flush=True)
    return outcomes


def table(outcomes: dict, args) -> None:
    t = comparison_table(outcomes.values())
    cols = ["method", "search_accuracy", "test_accuracy", "search_drop_pts", "meets_delta", "saving_vs_fp32", "saving_vs_qsvit",
            "search_seconds", "speedup_vs_qsvit", "generated", "gated", "minibatch", "full", "images_forwarded"]
    t = t[cols]
    print(t.to_string(index=False))
    by = t.set_index("method")
    checks = pd.DataFrame([
        {"target": "Greedy >= 6.6x faster than QSViT (aim >= 10x)", "measured": f"{by.loc['greedy', 'speedup_vs_qsvit']:.1f}x",
         "met": by.loc["greedy", "speedup_vs_qsvit"] >= 6.6},
        {"target": "Greedy memory <= QSViT memory", "measured": f"{by.loc['greedy', 'saving_vs_qsvit']:+.1%} vs QSViT",
         "met": by.loc["greedy", "saving_vs_qsvit"] >= 0},
        {"target": "Beam memory <= Greedy memory", "measured": f"{by.loc['beam', 'saving_vs_fp32']:.3f} vs {by.loc['greedy', 'saving_vs_fp32']:.3f} saving",
         "met": by.loc["beam", "saving_vs_fp32"] >= by.loc["greedy", "saving_vs_fp32"] - 1e-12},
        {"target": "all within delta on search", "measured": ", ".join(f"{m}: {d:.2f} pts" for m, d in by.search_drop_pts.items()),
         "met": bool(by.meets_delta.all())},
    ])
    print(checks.to_string(index=False))
    body = (f"Model {args.model}, search split {args.search_size} images, bits {args.bits}, delta {args.delta} points; "
            f"searches run by {args.source}.\n\n"
            + to_markdown(t.round(4)) + "\n" + to_markdown(checks))
    record(f"bench_search_{args.model}", f"Search comparison on {args.model}", body)


if __name__ == "__main__":
    main()
