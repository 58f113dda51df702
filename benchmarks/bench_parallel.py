"""Serial vs Ray: one search's wall time, the ratio, identical results, and what Ray costs per request.

For each method (default: QSViT and Beam) on one model with the default profile's settings, each from a
cold memo: ``serial`` (this process, 2 torch threads) and ``ray`` (2 actors x 1 thread). Then Ray's own
overhead: actor start-up, and the round trip of a trivial request (one at a time, and 200 pipelined),
so users know when a worker pays (an evaluation must cost well above the round trip).
Cost model (an estimate): every executor call is a batch of b independent requests, which N workers
answer in ceil(b / N) rounds; with the measured mean seconds per request on one worker, a search costs
sum(ceil(b / N)) x that on N workers (sequential steps stay sequential). Printed for N = 1, 2, 8.
Usage: python benchmarks/bench_parallel.py [--model sdtv2_tiny] [--methods qsvit,beam] [--profile default]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from _record import record

from aq4svit_lib.evaluate import Evaluator
from aq4svit_lib.evaluate.executor import ExecutorSettings, Request, make_executor
from aq4svit_lib.report import to_markdown
from aq4svit_lib.reproduce import get_profile, profile_model, profile_splits, search_settings
from aq4svit_lib.search import run_search
from aq4svit_lib.search.results import result_differences


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sdtv2_tiny")
    ap.add_argument("--methods", default="qsvit,beam")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(2)
    prof = get_profile(args.profile)
    rows, costs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods.split(","):
            settings = search_settings(prof, args.model, method, quiet=True, export=False)
            runs = {}
            for ex in ("serial", "ray"):
                executor = ExecutorSettings(ex, workers=args.workers) if ex == "ray" else None
                t0 = time.perf_counter()
                runs[ex] = run_search(settings, out=Path(tmp) / f"{method}-{ex}", executor=executor)  # a cold memo each
                wall = time.perf_counter() - t0
                r = runs[ex].result
                rows.append({"method": method, "executor": ex if ex == "serial" else f"ray {args.workers}x1",
                             "search_seconds": r["search_seconds"], "wall_seconds": round(wall, 1),
                             "ray_start_seconds": r["executor"].get("start_seconds"), "requests": r["executor"].get("requests"),
                             "resubmitted": r["executor"].get("resubmitted"), "full": r["evaluations"]["full"],
                             "images_forwarded": r["images_forwarded"], "saving_vs_fp32": round(r["saving_vs_fp32"], 4)})
                print(rows[-1], flush=True)
            diff = result_differences(runs["serial"].result, runs["ray"].result, runs["serial"].trace, runs["ray"].trace)
            rows[-1]["identical_to_serial"] = rows[-2]["identical_to_serial"] = "yes" if not diff else f"no: {diff[:3]}"
            costs.append(cost_model(method, runs["ray"].result["executor"]))
    overhead = round_trip(prof, args.model, args.workers)
    t = pd.DataFrame(rows)
    for method in t.method.unique():
        m = t.method == method
        t.loc[m, "serial_over_ray"] = round(t[m & (t.executor == "serial")].search_seconds.iloc[0] / t[m].search_seconds, 2)
    print(t.to_string(index=False))
    print(pd.DataFrame(costs).to_string(index=False))
    print(overhead)
    body = (f"Model {args.model}, profile {args.profile} (search split {prof.spec.search_size} images, bits {','.join(map(str, prof.bits))}, "
            f"delta {prof.delta}); each search from a cold memo; serial = this process with 2 torch threads, ray = a local Ray cluster "
            f"with {args.workers} actors x 1 thread (started before the search's clock: `ray_start_seconds`, in `wall_seconds`). "
            "`identical_to_serial`: final config, accuracies, evaluation counts by kind and every trace row (timings aside).\n\n"
            + to_markdown(t) + "\n\n**Ray's overhead per request** (a trivial request answered by a warm worker): "
            + f"one at a time {overhead['sequential_ms']:.1f} ms, pipelined over {args.workers} workers {overhead['pipelined_ms']:.2f} ms; "
            + f"actor start-up (model and splits loaded) {overhead['start_seconds']:.1f} s.\n\n"
            + "**Cost model** (an estimate, not a measurement on GPUs): the search's executor calls as measured (a batch of b "
            + "independent requests takes ceil(b / N) rounds on N workers), times the mean seconds per request on one worker. "
            + "Sequential steps (QSViT's Algorithm 3, Greedy's accept/reject chain, verify back-offs) stay sequential.\n\n"
            + to_markdown(pd.DataFrame(costs)))
    record(f"bench_parallel_{args.model}", f"Serial vs Ray executor on {args.model}", body)


def cost_model(method: str, stats: dict) -> dict:
    sizes = {int(b): n for b, n in stats["batch_sizes"].items()}
    per_request = stats["worker_seconds"] / max(1, stats["requests"])
    rounds = {w: sum(n * math.ceil(b / w) for b, n in sizes.items()) for w in (1, 2, 8)}
    return {"method": method, "requests": stats["requests"], "largest_batch": max(sizes), "seconds_per_request": round(per_request, 3),
            **{f"rounds_{w}_workers": r for w, r in rounds.items()},
            **{f"estimate_{w}_workers_s": round(r * per_request, 1) for w, r in rounds.items()},
            "speedup_8_vs_1": round(rounds[1] / rounds[8], 2)}


def round_trip(prof, model: str, workers: int) -> dict:
    """Ray's cost per request, without evaluation work: a memoised drift position count."""
    ev = Evaluator(profile_model(prof, model), profile_splits(prof, model), quiet=True, executor=make_executor(ExecutorSettings("ray", workers=workers)))
    req = Request("positions", split="minibatch")
    ev.executor.run(ev, [req])  # start the actors
    t0 = time.perf_counter()
    for _ in range(20):
        ev.executor.run(ev, [req])
    sequential = (time.perf_counter() - t0) / 20
    t0 = time.perf_counter()
    ev.executor.run(ev, [req] * 200)
    pipelined = (time.perf_counter() - t0) / 200
    start = ev.executor.stats()["start_seconds"]
    ev.close()
    return {"sequential_ms": 1000 * sequential, "pipelined_ms": 1000 * pipelined, "start_seconds": start}


if __name__ == "__main__":
    main()
