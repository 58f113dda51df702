"""Issue 26's aims on the default profile: every compared method, the field's proxy-scored integer programs and our
variants of AQ4SViT on one engine, the same splits and the same constraint rule, against the best known configuration.

Runs (or reuses) each search through ``reproduce.ensure_search`` in a results folder, so every search of a model
shares its memo and reports what it costs alone (its seconds and images include the records another search had
computed for it); our variants and the reference runs are computed when missing, as ``aq4svit reproduce --extended``
does. Pass the folder of a finished ``aq4svit reproduce [--extended]`` to reuse its searches:

    python benchmarks/bench_frontier.py [--results-base results] [--models sdt_tiny,...] [--gate-model sdtv2_tiny]

The aims (issue 26 §4), each a row with the measurement it rests on:
1. one AQ4SViT variant within 1 % of the best known memory on every model, with at most a fifth of QSViT's full evaluations;
2. Greedy at least 10x faster than QSViT (search seconds, each alone from a cold memo) on every model;
3. the gate earns its place where candidates multiply (Beam with the kind level): at least 30 % fewer full evaluations
   than the same search with the gate off, at an answer no larger (``--gate-model``);
4. the best proxy ILP's answer and cost next to Greedy's and Beam's (a finding either way).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record  # noqa: E402

#: the methods and the 1 % rule of claims F5 and F8, so the benchmark and `aq4svit check` decide the aims alike
from aq4svit_lib.claims.field import AQ4SVIT_VARIANTS as OURS  # noqa: E402
from aq4svit_lib.claims.field import PROXY_ILPS, within_percent  # noqa: E402

COLUMNS = ["model", "method", "saving_vs_fp32", "gap_to_best_known", "full", "images_forwarded", "images_backpropagated",
           "search_seconds", "test_drop_pts", "meets_delta_verify"]


def run_all(prof, models, base) -> dict:
    from aq4svit_lib.reproduce import compare_methods
    from aq4svit_lib.search.registry import peer_methods

    methods = list(dict.fromkeys([*peer_methods(), *OURS, *PROXY_ILPS]))
    return {m: compare_methods(prof, m, methods, base=base) for m in models}


def comparison(prof, runs: dict, base) -> pd.DataFrame:
    from aq4svit_lib.report import peer_comparison
    from aq4svit_lib.reproduce import reference_runs

    ref = reference_runs(prof, compute=prof.long_run, base=base)  # long NSGA-II and wide Beam+kind
    frames = [peer_comparison(runs[m], reference=list(ref.get(m, {}).values())) for m in runs]
    df = pd.concat(frames, ignore_index=True)
    df["full"] = df["full"].astype(int)
    if "images_backpropagated" not in df:
        df["images_backpropagated"] = 0
    df["images_backpropagated"] = df.images_backpropagated.fillna(0).astype(int)
    df["reference"] = ["the reference runs + every method" if m in ref else "every method" for m in df.model]
    return df


def aims(df: pd.DataFrame, gate: pd.DataFrame | None) -> pd.DataFrame:
    rows = []
    for model, t in df.groupby("model", sort=False):
        t = t.set_index("method")
        q_full, q_sec = t.loc["qsvit", "full"], t.loc["qsvit", "search_seconds"]
        ours = t.loc[[m for m in OURS if m in t.index]]
        cheap = ours[5 * ours.full <= q_full]  # integers: exact at a fifth
        best = cheap.gap_to_best_known.idxmin() if len(cheap) else None
        rows.append({"aim": "1 variant within 1 % of best known, <= 1/5 of QSViT's full evaluations", "model": model,
                     "measured": (f"{best}: gap {cheap.gap_to_best_known.min():+.2%}, {int(cheap.loc[best, 'full'])} vs QSViT "
                                  f"{int(q_full)} full" if best else f"no variant within {int(q_full) // 5} full evaluations"),
                     "met": bool(best is not None and within_percent(cheap.loc[best, "memory_bytes"], cheap.loc[best, "best_known_bytes"]))})
        ratio = q_sec / t.loc["greedy", "search_seconds"]
        rows.append({"aim": "2 Greedy >= 10x faster than QSViT (seconds alone)", "model": model,
                     "measured": f"{ratio:.1f}x ({t.loc['greedy', 'search_seconds']:.0f} s vs {q_sec:.0f} s)", "met": bool(ratio >= 10)})
        proxies = t.loc[[m for m in PROXY_ILPS if m in t.index]]
        if len(proxies):
            p = proxies.memory_bytes.idxmin()
            g, b = t.loc["greedy"], t.loc["beam"]
            rows.append({"aim": "4 best proxy ILP next to Greedy and Beam", "model": model,
                         "measured": (f"{p}: saving {t.loc[p, 'saving_vs_fp32']:.2%}, {int(t.loc[p, 'images_forwarded']):,} fwd + "
                                      f"{int(t.loc[p, 'images_backpropagated']):,} backprop; Greedy {g.saving_vs_fp32:.2%}, "
                                      f"{int(g.images_forwarded):,} fwd; Beam {b.saving_vs_fp32:.2%}, {int(b.images_forwarded):,} fwd"),
                         "met": None})
    if gate is not None and len(gate) == 2:
        on, off = gate.loc["beam-kind"], gate.loc["beam-kind_gate-off"]
        fewer = 1 - on.full / off.full
        rows.append({"aim": "3 gate: >= 30 % fewer full evaluations than gate off, answer no larger (Beam+kind)",
                     "model": gate.model.iloc[0],
                     "measured": f"{fewer:.0%} fewer ({int(on.full)} vs {int(off.full)}); memory {int(on.memory_bytes):,} vs {int(off.memory_bytes):,} B",
                     "met": bool(10 * int(on.full) <= 7 * int(off.full) and on.memory_bytes <= off.memory_bytes)})  # as F7
    return pd.DataFrame(rows)


def gate_ablation(prof, model: str, runs: dict, base) -> pd.DataFrame:
    from aq4svit_lib.report import outcome_row
    from aq4svit_lib.reproduce import ensure_search

    off = ensure_search(prof, model, "beam-kind", name="beam-kind_gate-off", gate="off", base=base)
    return pd.DataFrame([outcome_row(runs[model]["beam-kind"]), outcome_row(off, "beam-kind_gate-off")]).set_index("method", drop=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results-base", default=None, help="the folder holding <profile>/ (default: results/ or $AQ4SVIT_RESULTS)")
    p.add_argument("--profile", default="default")
    p.add_argument("--models", default=None, help="comma-separated (default: the profile's)")
    p.add_argument("--gate-model", default="sdtv2_tiny", help="model of aim 3's ablation ('' to skip it)")
    args = p.parse_args()
    from aq4svit_lib.report import to_markdown
    from aq4svit_lib.reproduce import get_profile

    prof = get_profile(args.profile, long_run=True)  # the aims need our variants and the reference runs: computed unless cached
    models = args.models.split(",") if args.models else list(prof.models)
    runs = run_all(prof, models, args.results_base)
    df = comparison(prof, runs, args.results_base)
    gate = gate_ablation(prof, args.gate_model, runs, args.results_base) if args.gate_model in models else None
    verdicts = aims(df, gate)
    print(to_markdown(verdicts))
    body = (f"Profile `{prof.name}`; every search of a model shares its memo, and its seconds and images are what it costs "
            f"alone (records another search made for it count). Best known: the smallest configuration any run below "
            f"judged feasible ({df.reference.iloc[0]}).\n\n{to_markdown(verdicts)}\n\nEvery method:\n\n"
            f"{to_markdown(df[COLUMNS].round(4))}\n")
    if gate is not None:
        body += f"\nAim 3's ablation on {args.gate_model}:\n\n{to_markdown(gate[['method', 'saving_vs_fp32', 'full', 'images_forwarded', 'search_seconds']].round(4))}\n"
    record(f"frontier_{prof.name}", f"Issue 26's aims: AQ4SViT, its variants and the field's anchors ({prof.name} profile)", body)


if __name__ == "__main__":
    main()
