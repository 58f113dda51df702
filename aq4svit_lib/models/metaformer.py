"""The macro layout shared by SDT v2 and SDT v3 base (the "meta" architecture of Meta-SpikeFormer).

Stage 1: ``downsample1_1`` (7x7, stride 2, no neuron in front), ``ConvBlock1_1``, ``downsample1_2``, ``ConvBlock1_2``;
stage 2: ``downsample2``, ``ConvBlock2_1``, ``ConvBlock2_2``; stage 3: ``downsample3``, ``block3`` x 6;
stage 4: ``downsample4`` (stride 1), ``block4`` x 2; then the head. Attribute names follow the official code,
so the state_dict keys do too; the families differ only in the block classes they plug in.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn


def build_stages(model: nn.Module, dims, in_channels: int, downsample: Callable, conv_block: Callable, transformer_block: Callable) -> None:
    """Create the stage modules on ``model``: ``downsample(cin, cout, k, stride, pad, first_layer)``, ``*_block(dim)``."""
    c0, c1, c2, c3 = dims
    model.downsample1_1 = downsample(in_channels, c0 // 2, 7, 2, 3, True)
    model.ConvBlock1_1 = nn.ModuleList([conv_block(c0 // 2)])
    model.downsample1_2 = downsample(c0 // 2, c0, 3, 2, 1, False)
    model.ConvBlock1_2 = nn.ModuleList([conv_block(c0)])
    model.downsample2 = downsample(c0, c1, 3, 2, 1, False)
    model.ConvBlock2_1 = nn.ModuleList([conv_block(c1)])
    model.ConvBlock2_2 = nn.ModuleList([conv_block(c1)])
    model.downsample3 = downsample(c1, c2, 3, 2, 1, False)
    model.block3 = nn.ModuleList([transformer_block(c2) for _ in range(6)])
    model.downsample4 = downsample(c2, c3, 3, 1, 1, False)
    model.block4 = nn.ModuleList([transformer_block(c3) for _ in range(2)])


def block_table(model: nn.Module, stem: Callable, head: Callable, head_modules: tuple[str, ...]):
    """[(name, stage, kind, module paths, callable)] in forward order; ``stem`` runs downsample1_1."""
    table = [("downsample1_1", "1", "downsample", ("downsample1_1",), stem)]

    def add(name, stage, kind, module):
        table.append((name, stage, kind, (name,), module))

    add("ConvBlock1_1.0", "1", "conv_block", model.ConvBlock1_1[0])
    add("downsample1_2", "1", "downsample", model.downsample1_2)
    add("ConvBlock1_2.0", "1", "conv_block", model.ConvBlock1_2[0])
    add("downsample2", "2", "downsample", model.downsample2)
    add("ConvBlock2_1.0", "2", "conv_block", model.ConvBlock2_1[0])
    add("ConvBlock2_2.0", "2", "conv_block", model.ConvBlock2_2[0])
    add("downsample3", "3", "downsample", model.downsample3)
    for i, blk in enumerate(model.block3):
        add(f"block3.{i}", "3", "transformer_block", blk)
    add("downsample4", "4", "downsample", model.downsample4)
    for i, blk in enumerate(model.block4):
        add(f"block4.{i}", "4", "transformer_block", blk)
    table.append(("head", "head", "head", head_modules, head))
    return table
