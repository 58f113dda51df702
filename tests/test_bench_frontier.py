"""Issue 26's aims in benchmarks/bench_frontier.py decide at their exact thresholds as claims F5 and F7 do."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

_spec = importlib.util.spec_from_file_location("bench_frontier", Path(__file__).parents[1] / "benchmarks" / "bench_frontier.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _row(method, memory, full, best=1000, seconds=10.0):
    return {"model": "m", "method": method, "memory_bytes": memory, "best_known_bytes": best, "full": full, "search_seconds": seconds,
            "gap_to_best_known": memory / best - 1, "saving_vs_fp32": 0.8, "images_forwarded": 100 * full, "images_backpropagated": 0}


@pytest.mark.parametrize(("memory", "full", "met"), [(1010, 20, True), (1011, 20, False), (1010, 21, False)])
def test_aim1_at_one_percent_and_a_fifth_of_qsvits_evaluations(memory, full, met):
    df = pd.DataFrame([_row("qsvit", 1000, 100, seconds=100.0), _row("greedy", 1200, 5), _row("beam-kind", memory, full)])
    aim1 = bench.aims(df, None).set_index("aim").filter(like="1 variant", axis=0)
    assert aim1.met.item() is met  # 1010 = 1.01 x 1000 exactly; 20 = 100 / 5 exactly


@pytest.mark.parametrize(("on_full", "met"), [(70, True), (71, False)])
def test_aim3_at_exactly_thirty_percent_fewer(on_full, met):
    df = pd.DataFrame([_row("qsvit", 1000, 100), _row("greedy", 1200, 5)])
    gate = pd.DataFrame([{"model": "m", "method": "beam-kind", "full": on_full, "memory_bytes": 900},
                         {"model": "m", "method": "beam-kind_gate-off", "full": 100, "memory_bytes": 900}]).set_index("method", drop=False)
    aim3 = bench.aims(df, gate).set_index("aim").filter(like="3 gate", axis=0)
    assert aim3.met.item() is met
