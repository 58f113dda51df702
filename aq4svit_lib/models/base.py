"""What every backbone of the zoo shares: the block sequence and the quantization structure.

A backbone is an ordered list of *blocks* (stem / downsample / conv_block / transformer_block /
head). ``forward_blocks(x, i, j)`` runs blocks ``i .. j-1`` on the activation entering block i,
so the evaluator can start a forward from a cached activation of an unchanged prefix. Block 0
takes the image; the last block (the head) returns the logits. ``model(x)`` is exactly
``forward_blocks(x, 0, len(blocks))``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from torch import nn

BLOCK_KINDS = ("stem", "downsample", "conv_block", "transformer_block", "head")


@dataclass(frozen=True)
class LayerInfo:
    """One weight-bearing layer (a Conv / Linear weight) that the quantizers may touch."""

    name: str  # module path, e.g. "block3.0.attn.q_conv.0.body.0"
    block: str
    stage: str
    kind: str  # downsample, pwconv, dwconv, channel_conv, q, k, v, proj, mlp, head, sps, rpe
    shape: tuple[int, ...]
    params: int  # weight elements
    out_channels: int


@dataclass(frozen=True)
class BlockInfo:
    index: int
    name: str  # state_dict prefix, e.g. "ConvBlock2_1.0"
    stage: str  # "1".."4" or "head"
    kind: str
    modules: tuple[str, ...]  # module paths that belong to the block


@dataclass(frozen=True)
class QuantStructure:
    """The model described for the quantization work: blocks and their quantizable layers."""

    family: str
    blocks: tuple[BlockInfo, ...]
    layers: tuple[LayerInfo, ...]
    stages: tuple[str, ...] = field(default=())

    @cached_property
    def layer_index(self) -> dict[str, LayerInfo]:
        return {layer.name: layer for layer in self.layers}

    @cached_property
    def block_index(self) -> dict[str, BlockInfo]:
        return {b.name: b for b in self.blocks}

    def layers_of(self, block: str) -> list[LayerInfo]:
        return [layer for layer in self.layers if layer.block == block]

    def kinds_of(self, block: str) -> list[str]:
        seen: dict[str, None] = {}
        for layer in self.layers_of(block):
            seen.setdefault(layer.kind, None)
        return list(seen)

    def blocks_of(self, stage: str) -> list[BlockInfo]:
        return [b for b in self.blocks if b.stage == stage]

    @cached_property
    def block_position(self) -> dict[str, int]:
        """Index of the block each layer belongs to (for prefix caching)."""
        return {layer.name: self.block_index[layer.block].index for layer in self.layers}

    def as_frame(self):
        import pandas as pd

        return pd.DataFrame([layer.__dict__ for layer in self.layers])


class SpikingBackbone(nn.Module):
    """Base class: subclasses fill ``_block_table`` and ``_layer_kinds`` and define heads."""

    family: str = ""
    #: (regex on the module path, layer kind); first match wins; no match = not quantized
    _layer_kinds: tuple[tuple[str, str], ...] = ()

    #: the QuantConfig a packed export was loaded with (quant.export.load_packed); models do not import quant
    quant_config: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.default_cfg: dict = {}

    # -- blocks -------------------------------------------------------------------------
    def _block_table(self) -> list[tuple[str, str, str, tuple[str, ...], Callable]]:
        """[(name, stage, kind, module paths, callable)] in forward order."""
        raise NotImplementedError

    @cached_property
    def _blocks(self):
        return self._block_table()

    @property
    def num_blocks(self) -> int:
        return len(self._blocks)

    def block_names(self) -> list[str]:
        return [b[0] for b in self._blocks]

    def forward_blocks(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Run blocks ``start .. stop-1``; ``x`` is the activation entering block ``start``."""
        stop = self.num_blocks if stop is None else stop
        for _, _, _, _, fn in self._blocks[start:stop]:
            x = fn(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_blocks(x, 0, self.num_blocks)

    def segment_layers(self, structure: QuantStructure) -> list[list[str]]:
        """The quantizable layers of each forward segment (``forward_blocks`` runs segments; here, the blocks)."""
        return [[layer.name for layer in structure.layers_of(b.name)] for b in structure.blocks]

    # -- quantization structure -----------------------------------------------------------
    def layer_kind(self, path: str) -> str | None:
        for pattern, kind in self._layer_kinds:
            if re.search(pattern, path):
                return kind
        return None

    def quant_structure(self) -> QuantStructure:
        modules = dict(self.named_modules())
        blocks, layers = [], []
        for index, (name, stage, kind, paths, _) in enumerate(self._blocks):
            blocks.append(BlockInfo(index, name, stage, kind, paths))
            for path in paths:
                root = modules[path]
                for sub, m in root.named_modules(prefix=path):
                    if not isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                        continue
                    layer_kind = self.layer_kind(sub)
                    if layer_kind is None:
                        continue
                    shape = tuple(m.weight.shape)
                    layers.append(LayerInfo(sub, name, stage, layer_kind, shape, m.weight.numel(), shape[0]))
        stages = tuple(dict.fromkeys(b.stage for b in blocks))
        return QuantStructure(self.family, tuple(blocks), tuple(layers), stages)


def time_distributed(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a per-frame module to [T, B, ...] by folding T into the batch (official pattern).

    Image frames go in channels-last: oneDNN's NHWC convolutions make the default models' forward
    1.1-1.6x faster than NCHW on CPU (few pixels, many channels); values agree to float rounding.
    """
    t, b = x.shape[:2]
    x = x.flatten(0, 1)
    if x.ndim == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    y = module(x)
    return y.reshape(t, b, *y.shape[1:])
