"""Re-parameterise SDT v2's RepConv branches into single 3x3 convolutions (``fuse_repconv``).

In eval mode ``Sequential(RepConv(c, c'), BatchNorm2d(c'))`` -- 1x1 conv, BN whose border padding is its
own output for a zero input, depthwise 3x3, 1x1 conv, BN, outer BN -- is exactly one dense 3x3 conv with
bias and zero padding 1 (sdt_architecture.md section 3.2; equal up to float rounding):

    K[o, i] = s[o] * sum_c W2[o, c] * a1[c] * Wd[c] * W1[c, i],       s = a3 * a2
    bias[o] = s[o] * sum_c W2[o, c] * b1[c] * sum(Wd[c]) + a3[o] * b2[o] + b3[o]

where a, b are each BN's scale gamma / sqrt(var + eps) and shift beta - mean * a. Quantizing the fused
weight is a different deployment choice from quantizing the trained branches (the default): it stores
more parameters (9 c c' + c' instead of c^2 + 9c + c c' + BN) but runs one conv.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import UsageError
from .base import SpikingBackbone
from .sdt_v2 import RepConv


def _affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class FusedRepConv(nn.Module):
    """The fused 3x3 convolution that replaces ``Sequential(RepConv, BatchNorm2d)``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@torch.no_grad()
def fused_weights(seq: nn.Sequential) -> tuple[torch.Tensor, torch.Tensor]:
    rep, bn3 = seq[0], seq[1]
    conv1, pad_bn, (dw, conv2, bn2) = rep.body[0], rep.body[1], rep.body[2]
    a1, b1 = _affine(pad_bn.bn)
    a2, b2 = _affine(bn2)
    a3, b3 = _affine(bn3)
    w1 = conv1.weight[:, :, 0, 0]  # [c, i]
    wd = dw.weight[:, 0]  # [c, 3, 3]
    w2 = conv2.weight[:, :, 0, 0]  # [o, c]
    s = a3 * a2
    kernel = torch.einsum("oc,c,cuv,ci->oiuv", w2, a1, wd, w1) * s[:, None, None, None]
    bias = s * (w2 @ (b1 * wd.sum(dim=(1, 2)))) + a3 * b2 + b3
    return kernel, bias


def fuse_repconv(model: SpikingBackbone) -> SpikingBackbone:
    """A copy of ``model`` (eval mode) with every ``Sequential(RepConv, BN)`` replaced by a fused 3x3 conv."""
    fused = copy.deepcopy(model).eval()
    targets = [(name, m) for name, m in fused.named_modules()
               if isinstance(m, nn.Sequential) and len(m) == 2 and isinstance(m[0], RepConv)]
    if not targets:
        raise UsageError(f"{type(model).__name__} has no RepConv branches to fuse (only SDT v2 has them)")
    for name, seq in targets:
        kernel, bias = fused_weights(seq)
        module = FusedRepConv(kernel.shape[1], kernel.shape[0])
        module.conv.weight.data.copy_(kernel)
        module.conv.bias.data.copy_(bias)
        parent_name, _, child = name.rpartition(".")
        setattr(fused.get_submodule(parent_name), child, module)
    fused.default_cfg = {**getattr(model, "default_cfg", {}), "fuse_repconv": True}
    fused.__dict__.pop("_blocks", None)  # the block table caches module references
    return fused
