"""The drift probe: how far a quantized model's membrane potentials move from the FP32 model's.

Definition (our reconstruction; AQ4SViT does not publish one). On the ``minibatch`` split, for
every spiking neuron layer l with pre-spike membrane potentials H_l (LIF: the charge H[t] before
firing and reset, all time steps; SDT v3: the input of the multi-spike quantizer):

    drift_l = || H_l(quantized) - H_l(FP32) ||_2 / || H_l(FP32) ||_2      (over images, steps, neurons)
    drift   = mean_l drift_l            (``max_l drift_l`` is reported too)

over the layers whose FP32 membrane is not zero everywhere on the minibatch (a layer silent there has
no scale; it is left out and the evaluator logs a warning naming it).
    spike disagreement = mean_l  fraction of outputs that differ from FP32's

FP32 membranes are computed once per evaluator. When they would not fit in memory (ImageNet
models) each layer is measured on a fixed random subset of its positions instead
(``positions_per_layer``), which estimates the same ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch


def _sum_squares(t: torch.Tensor) -> float:
    """Sum of squares in float64, the same on any number of threads: torch splits a long sum across its
    threads, which changes the rounding (drift then differs in the last bits between a 2-thread run and a
    1-thread Ray worker); numpy's pairwise sum runs on one thread."""
    return float(np.sum(t.double().pow(2).cpu().numpy()))


def _flat(t: torch.Tensor, time_major: bool) -> torch.Tensor:
    """[T, B, ...] or [B, ...] -> [B, -1] (batch first, everything else flattened)."""
    if time_major:
        t = t.movedim(1, 0)
    return t.reshape(t.shape[0], -1)


def _levels(out: torch.Tensor) -> torch.Tensor:
    """Neuron outputs as small integers (LIF 0/1, multi-spike counts) for exact comparison."""
    return torch.round(out * 4).to(torch.uint8)


@dataclass
class LayerRef:
    block: int
    index: torch.Tensor | None  # positions measured (None = all)
    membranes: list[torch.Tensor] = field(default_factory=list)  # per batch [B, P]
    spikes: list[torch.Tensor] = field(default_factory=list)
    ref2: float = 0.0  # sum of squared FP32 membranes
    count: int = 0  # outputs compared


class DriftReference:
    """FP32 membranes and outputs of every neuron layer on one split, batch by batch."""

    def __init__(self, time_major: bool, positions_per_layer: int | None = None, seed: int = 0):
        self.time_major = time_major
        self.positions = positions_per_layer
        self.seed = seed
        self.layers: dict[str, LayerRef] = {}
        self.block = 0
        self.batch = 0

    def _select(self, flat: torch.Tensor, name: str) -> torch.Tensor | None:
        if self.positions is None or flat.shape[1] <= self.positions:
            return None
        g = torch.Generator().manual_seed(self.seed + sum(map(ord, name)))
        return torch.randperm(flat.shape[1], generator=g)[: self.positions].sort().values.to(flat.device)

    def __call__(self, name: str, membrane: torch.Tensor, out: torch.Tensor) -> None:
        flat_h, flat_s = _flat(membrane, self.time_major), _flat(out, self.time_major)
        ref = self.layers.get(name)
        if ref is None:
            ref = self.layers[name] = LayerRef(self.block, self._select(flat_h, name))
        if ref.index is not None:
            flat_h, flat_s = flat_h[:, ref.index], flat_s[:, ref.index]
        ref.membranes.append(flat_h.clone())
        ref.spikes.append(_levels(flat_s))
        ref.ref2 += _sum_squares(flat_h)
        ref.count += flat_s.numel()

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for r in self.layers.values() for t in r.membranes + r.spikes)


class DriftAccumulator:
    """Observer for a candidate's forward: sums squared differences and disagreements per layer."""

    def __init__(self, reference: DriftReference, prefix: dict[str, list[float]] | None = None):
        self.ref = reference
        self.batch = 0
        # name -> [sum (H_q - H_fp)^2, disagreeing outputs]
        self.sums: dict[str, list[float]] = {k: list(v) for k, v in (prefix or {}).items()}

    def __call__(self, name: str, membrane: torch.Tensor, out: torch.Tensor) -> None:
        ref = self.ref.layers.get(name)
        if ref is None:
            return
        flat_h, flat_s = _flat(membrane, self.ref.time_major), _flat(out, self.ref.time_major)
        if ref.index is not None:
            flat_h, flat_s = flat_h[:, ref.index], flat_s[:, ref.index]
        diff2 = _sum_squares(flat_h - ref.membranes[self.batch])
        disagree = int((_levels(flat_s) != ref.spikes[self.batch]).sum())
        s = self.sums.setdefault(name, [0.0, 0])
        s[0] += diff2
        s[1] += disagree

    def prefix_for(self, block: int) -> dict[str, list[float]]:
        """Sums of the layers in blocks before ``block`` (what a cache entry at that boundary keeps)."""
        return {k: list(v) for k, v in self.sums.items() if self.ref.layers[k].block < block}


@dataclass
class DriftResult:
    drift: float  # aggregate (mean over layers by default)
    drift_max: float
    spike_disagreement: float
    per_layer: dict[str, float]
    correct: int  # minibatch top-1 of the same forward
    correct5: int
    n: int
    aggregate: str = "mean"
    seconds: float = 0.0
    from_memo: bool = False
    start_block: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.n

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("drift", "drift_max", "spike_disagreement", "per_layer", "correct", "correct5", "n", "aggregate", "seconds", "start_block")}


def silent_layers(reference: DriftReference) -> list[str]:
    """Layers whose FP32 membrane is zero everywhere on the minibatch: no scale to measure drift against."""
    return [name for name, ref in reference.layers.items() if not ref.ref2 > 0]


def summarize(reference: DriftReference, sums: dict[str, list[float]], aggregate: str = "mean") -> tuple[float, float, float, dict[str, float]]:
    """Aggregate drift over the layers with a nonzero FP32 membrane (a silent layer would make the ratio
    infinite for any change and the gate would prune everything; the evaluator warns about them)."""
    per_layer, disagree = {}, []
    for name, ref in reference.layers.items():
        diff2, dis = sums.get(name, (0.0, 0))
        if ref.ref2 > 0:
            per_layer[name] = math.sqrt(diff2 / ref.ref2)
        disagree.append(dis / ref.count if ref.count else 0.0)
    values = list(per_layer.values()) or [0.0]
    agg = max(values) if aggregate == "max" else sum(values) / len(values)
    return agg, max(values), sum(disagree) / max(1, len(disagree)), per_layer
