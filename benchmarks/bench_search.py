"""QSViT vs AQ4SViT-Greedy vs AQ4SViT-Beam (and gate variants) on one model, each from a cold memo.

Runs: QSViT, Greedy (threshold gate), Beam (rank gate, the default), Beam (threshold gate), Greedy without
gate -- same delta, bit list and splits. Targets (issue "Make the default experiment decide something"):
Greedy at least as small as QSViT and >= 6.6x faster; Beam at least as small as Greedy; the gate saves
full evaluations at unchanged final memory; no test drop above delta.
Usage: python benchmarks/bench_search.py [--model sdtv2_tiny] [--search-size 2000] [--bits 32,8,6,4,3,2] [--baselines]
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
from aq4svit_lib.papers import AQ4SVIT
from aq4svit_lib.report import to_markdown
from aq4svit_lib.search import run_search


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sdtv2_tiny")
    ap.add_argument("--search-size", type=int, default=2000)
    ap.add_argument("--verify-size", type=int, default=3000)
    ap.add_argument("--bits", default="32,8,6,4,3,2")
    ap.add_argument("--delta", type=float, default=1.5)
    ap.add_argument("--from-results", help="a profile's results folder, e.g. results/default")
    ap.add_argument("--baselines", action="store_true", help="also the peer baselines (sensitivity-ilp, optuna, random)")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("AQ4SVIT_THREADS", 2)))
    outcomes = from_results(Path(args.from_results), args) if args.from_results else run_all(args)
    table(outcomes, args)


#: label -> (method, result folder name in a profile's results, run_search overrides)
RUNS = {
    "qsvit": ("qsvit", "qsvit", {}),
    "greedy": ("greedy", "greedy", {}),
    "beam (rank gate)": ("beam", "beam", {"gate": "rank"}),
    "beam (threshold gate)": ("beam", "beam_gate-threshold", {"gate": "threshold"}),
    "greedy (no gate)": ("greedy", "greedy_gate-off", {"gate": "off"}),
}
#: the peer baselines (issue "Peer baselines"), same engine and budget of full evaluations; --baselines adds them
BASELINES = {
    "sensitivity-ilp": ("sensitivity-ilp", "sensitivity-ilp", {}),
    "optuna": ("optuna", "optuna", {"budget": 60}),
    "random": ("random", "random", {"budget": 60}),
}


def from_results(folder: Path, args) -> dict:
    from aq4svit_lib.reproduce import load_outcome

    runs = {**RUNS, **BASELINES}  # the baselines when notebook 07 ran
    outcomes = {label: load_outcome(folder / args.model / name, args.model, method) for label, (method, name, _) in runs.items()
                if label in RUNS or (folder / args.model / name / "result.json").is_file()}
    first = outcomes["qsvit"].result
    args.search_size, args.bits, args.delta = first["splits"]["search"]["size"], ",".join(map(str, first["bits"])), first["delta"]
    args.source = f"the searches of `make reproduce` in {folder}"
    return outcomes


def run_all(args) -> dict:
    spec = SplitSpec(args.search_size, 256, 0, args.verify_size)
    outcomes = {}
    args.source = "this script, each search from a cold memo"
    with tempfile.TemporaryDirectory() as tmp:
        for label, (method, name, overrides) in {**RUNS, **(BASELINES if args.baselines else {})}.items():
            out = Path(tmp) / name  # its own, cold memo
            outcomes[label] = run_search(method, args.model, out=out, spec=spec, bits=args.bits, delta=args.delta, quiet=True,
                                         export=False, **overrides)
            r = outcomes[label].result
            print(f"{label}: {r['search_seconds']:.1f} s, saving {r['saving_vs_fp32']:.3f}, search acc {r['final']['search_accuracy']:.4f}",
                  flush=True)
    return outcomes


def table(outcomes: dict, args) -> None:
    from aq4svit_lib.report import outcome_row

    t = pd.DataFrame([outcome_row(o, label) for label, o in outcomes.items()])
    q = t.set_index("method").loc["qsvit"]
    t["saving_vs_qsvit"] = 1 - t.memory_bytes / q.memory_bytes
    t["speedup_vs_qsvit"] = q.search_seconds / t.search_seconds
    cols = ["method", "saving_vs_fp32", "saving_vs_qsvit", "widths_used", "search_drop_pts", "verify_drop_pts", "test_drop_pts",
            "backoff_steps", "search_seconds", "speedup_vs_qsvit", "generated", "gated", "minibatch", "full", "verify_evaluations",
            "images_forwarded"]
    t = t[cols]
    print(t.to_string(index=False))
    by = t.set_index("method")
    g, b = by.loc["greedy"], by.loc["beam (rank gate)"]
    checks = pd.DataFrame([
        {"target": "Greedy >= 6.6x faster than QSViT", "measured": f"{g.speedup_vs_qsvit:.1f}x", "met": g.speedup_vs_qsvit >= AQ4SVIT["speedup_vs_qsvit"]},
        {"target": "Greedy memory <= QSViT memory", "measured": f"{g.saving_vs_qsvit:+.1%} vs QSViT", "met": g.saving_vs_qsvit >= 0},
        {"target": "Beam memory <= Greedy memory (both gates)",
         "measured": ", ".join(f"{m}: {by.loc[m, 'saving_vs_fp32']:.4f}" for m in ("greedy", "beam (rank gate)", "beam (threshold gate)")),
         "met": min(b.saving_vs_fp32, by.loc["beam (threshold gate)", "saving_vs_fp32"]) >= g.saving_vs_fp32 - 1e-12},
        {"target": "gate saves full evaluations at unchanged final memory (Greedy)",
         "measured": f"{g.full} vs {by.loc['greedy (no gate)', 'full']} full evaluations; saving {g.saving_vs_fp32:.4f} vs "
                     f"{by.loc['greedy (no gate)', 'saving_vs_fp32']:.4f}",
         "met": g.full < by.loc["greedy (no gate)", "full"] and abs(g.saving_vs_fp32 - by.loc["greedy (no gate)", "saving_vs_fp32"]) < 1e-12},
        {"target": f"no test drop above delta = {args.delta}", "measured": ", ".join(f"{m}: {d:.2f}" for m, d in by.test_drop_pts.items()),
         "met": bool((by.test_drop_pts <= args.delta + 1e-9).all())},
    ])
    print(checks.to_string(index=False))
    body = (f"Model {args.model}, search split {args.search_size} images, bits {args.bits}, delta {args.delta} points; "
            f"searches run by {args.source}. Drops in points on search / verify / test; `full` = full evaluations on search, "
            f"`verify_evaluations` = evaluations on the verify split (the answer, then any back-off).\n\n"
            + to_markdown(t.round(4)) + "\n" + to_markdown(checks))
    record(f"bench_search_{args.model}", f"Search comparison on {args.model}", body)


if __name__ == "__main__":
    main()
