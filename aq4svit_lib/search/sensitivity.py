"""QSViT's Algorithm 1, the layer-wise precision sensitivity sweep, on its own.

Quantize one layer group at a time (the model's (block, layer kind) units: downsample conv,
separable conv PW / DW, channel conv, SDSA Q / K / V with their RepConv chains, projection, MLP,
head) to every precision of the list, the rest FP32, and measure accuracy on ``search``; plus the
uniform sweeps (the whole network at each precision, and each layer kind across the network).

Its own module because notebook 02 shows the sweep alone, and a cached sweep keys on the code it
imports (an hour of evaluations should not be discarded when another search method changes).
"""

from __future__ import annotations

import time

import pandas as pd

from ..evaluate.executor import Request
from ..quant.quantizers import FP32
from .common import SearchContext, fp32_bits


def measure(ctx: SearchContext, bits: dict[str, int], **fields):
    """Full search-split evaluation of ``bits`` (an AccuracyResult), recorded in the trace as ``measured``."""
    t0 = time.perf_counter()
    ctx.counters["generated"] += 1
    r = ctx.full_accuracy(bits)
    ctx.record(bits, "measured", time.perf_counter() - t0, search_accuracy=r.accuracy, **fields)
    return r


def sensitivity_sweep(ctx: SearchContext, uniform_sweeps: bool = True) -> pd.DataFrame:
    """One row per (sweep, unit, precision): accuracy, drop (points), memory."""
    space = ctx.space
    fp32_acc = ctx.constraint.fp32_accuracy
    base = fp32_bits(space)
    precisions = [b for b in space.bits if b != FP32]
    todo = []  # (sweep, stage, block, kind, width, bits, unit FP32 bytes): independent candidates
    for group in space.units("kind"):
        block, kind = group.name.split(":")
        todo += [("group", space.structure.block_index[block].stage, block, kind, p, space.set_unit(base, group, p),
                  space.unit_fp32_bytes(group)) for p in precisions]
    if uniform_sweeps:
        todo += [("network", "*", "*", "*", p, {name: p for name in base}, space.fp32_bytes) for p in precisions]
        for kind in sorted({layer.kind for layer in space.structure.layers}):
            layers = [layer.name for layer in space.structure.layers if layer.kind == kind]
            todo += [("kind", "*", "*", kind, p, {**base, **{name: p for name in layers}}, space.memory.bytes_of(layers, FP32, space.scheme))
                     for p in precisions]
    rows = []
    with ctx.in_phase("alg1_sensitivity"):
        ctx.evaluator.prefetch([Request.accuracy(bits, "search") for *_, bits, _ in todo])  # parallel executors: all at once
        for sweep, stage, block, kind, p, bits, unit_bytes in todo:
            r = measure(ctx, bits, sweep=sweep, unit={"group": f"{block}:{kind}", "network": "network"}.get(sweep, f"*:{kind}"))
            # counts travel with the table: decisions on it compare counts, the float drop is for reading
            rows.append(dict(sweep=sweep, stage=stage, block=block, layer_kind=kind, bits=p, accuracy=r.accuracy, drop=(fp32_acc - r.accuracy) * 100,
                             correct=r.correct, n=r.n, memory_bytes=space.memory_bytes(bits), group_fp32_bytes=unit_bytes))
    return pd.DataFrame(rows)
