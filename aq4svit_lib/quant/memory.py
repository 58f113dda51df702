"""Model memory under a quantization config: bytes per layer / block / stage / total.

What is counted is what a deployment stores, which is also what ``aq4svit export`` writes:
- a quantized weight: ceil(numel * bits / 8) bytes of packed codes, plus its FP32 scales
  (one per output channel, or one per tensor);
- every other state_dict tensor in FP32: weights left at 32 bits, biases, BatchNorm affine
  parameters and running statistics (BN is needed at inference; the integer counters
  ``num_batches_tracked`` are not).
``saving = 1 - bytes / fp32_bytes``, where fp32_bytes counts the same tensors all in FP32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from ..models.base import SpikingBackbone
from .config import QuantConfig
from .quantizers import FP32, QuantScheme

FP32_BYTES = 4


def _owner(key: str, blocks) -> tuple[str, str]:
    for block in blocks:
        for path in block.modules:
            if key == path or key.startswith(path + "."):
                return block.name, block.stage
    return "other", "other"


class MemoryModel:
    """Precomputed tensor table of a model, so a candidate's bytes cost a dictionary walk."""

    def __init__(self, model: SpikingBackbone):
        self.structure = model.quant_structure()
        layer_of_weight = {layer.name + ".weight": layer for layer in self.structure.layers}
        rows = []
        for key, tensor in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                continue
            layer = layer_of_weight.get(key)
            block, stage = (layer.block, layer.stage) if layer else _owner(key, self.structure.blocks)
            rows.append(
                dict(
                    tensor=key,
                    layer=layer.name if layer else None,
                    block=block,
                    stage=stage,
                    kind=layer.kind if layer else ("bn" if ".running_" in key or "bn" in key else "other"),
                    numel=tensor.numel(),
                    channels=layer.out_channels if layer else 0,
                )
            )
        self.table = pd.DataFrame(rows)
        fixed = self.table[self.table.layer.isna()]
        self.fixed_bytes = int(fixed.numel.sum()) * FP32_BYTES
        self.fp32_bytes = int(self.table.numel.sum()) * FP32_BYTES
        self._layers = {layer.name: (layer.params, layer.out_channels) for layer in self.structure.layers}

    @staticmethod
    def layer_bytes(numel: int, channels: int, bits: int, scheme: QuantScheme) -> int:
        if bits == FP32:
            return numel * FP32_BYTES
        scales = channels if scheme.granularity == "per_channel" else 1
        return math.ceil(numel * bits / 8) + scales * FP32_BYTES

    def bytes_of(self, layers, bits: int, scheme: QuantScheme) -> int:
        """Bytes of the named layers' weights stored at ``bits``."""
        return sum(self.layer_bytes(*self._layers[name], bits, scheme) for name in layers)

    def total_bytes(self, bits: dict[str, int], scheme: QuantScheme) -> int:
        return self.fixed_bytes + sum(self.layer_bytes(n, c, bits[name], scheme) for name, (n, c) in self._layers.items())

    def report(self, bits: dict[str, int], scheme: QuantScheme) -> MemoryReport:
        t = self.table.copy()
        t["bits"] = [bits[layer] if isinstance(layer, str) else FP32 for layer in t.layer]
        t["bytes"] = [
            self.layer_bytes(n, c, b, scheme) if isinstance(layer, str) else n * FP32_BYTES
            for layer, n, c, b in zip(t.layer, t.numel, t.channels, t.bits, strict=True)
        ]
        t["fp32_bytes"] = t.numel * FP32_BYTES
        return MemoryReport(t)


@dataclass
class MemoryReport:
    """Tidy per-tensor table plus aggregates; ``by("stage")`` / ``by("block")`` / ``by("layer")``."""

    table: pd.DataFrame

    @cached_property
    def total_bytes(self) -> int:
        return int(self.table["bytes"].sum())

    @cached_property
    def fp32_bytes(self) -> int:
        return int(self.table["fp32_bytes"].sum())

    @property
    def saving(self) -> float:
        return 1.0 - self.total_bytes / self.fp32_bytes

    def by(self, level: str) -> pd.DataFrame:
        df = self.table.groupby(level, sort=False)[["numel", "bytes", "fp32_bytes"]].sum().reset_index()
        df["saving"] = 1 - df["bytes"] / df["fp32_bytes"]
        df["share_of_fp32"] = df["fp32_bytes"] / self.fp32_bytes
        return df

    def to_dict(self) -> dict:
        return {
            "total_bytes": self.total_bytes,
            "fp32_bytes": self.fp32_bytes,
            "saving": self.saving,
            "stages": self.by("stage").to_dict(orient="records"),
            "blocks": self.by("block").to_dict(orient="records"),
        }


def memory_report(model: SpikingBackbone, config: QuantConfig) -> MemoryReport:
    """Bytes of ``model`` stored under ``config`` (see the module docstring for what counts)."""
    mm = MemoryModel(model)
    return mm.report(config.resolve(mm.structure), config.scheme)
