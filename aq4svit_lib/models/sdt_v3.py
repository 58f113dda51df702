"""SDT v3 base, "E-SpikeFormer" (Yao et al., TPAMI 2025), re-implemented with the official keys.

Follows ``SDT_V3/Classification/Model_Base/models.py`` (``Spiking_vit_MetaFormer_Spike_SepConv``):
the macro layout of v2 with integer "multi-spike" neurons round(clamp(x, 0, 4)) / 4, no time
axis (activations are [B, C, H, W]), spiking separable convs in every block, N x N softmax-free
attention ``(q @ k^T) @ v * 2 / sqrt(d_head)`` with a 4x wider value, and an integer head spike.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import SpikingBackbone
from .metaformer import block_table, build_stages
from .neurons import MultiSpike
from .sdt_v2 import _init_weights


def _conv_bn(cin: int, cout: int, k: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout))


class SepConv_Spike(nn.Module):
    """spike -> pw 1x1 + BN -> spike -> dw kxk + BN -> spike -> pw 1x1 + BN."""

    def __init__(self, dim: int, kernel_size: int = 7, expansion: int = 2):
        super().__init__()
        med = int(expansion * dim)
        self.spike1 = MultiSpike()
        self.pwconv1 = _conv_bn(dim, med)
        self.spike2 = MultiSpike()
        self.dwconv = _conv_bn(med, med, kernel_size, groups=med)
        self.spike3 = MultiSpike()
        self.pwconv2 = _conv_bn(med, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pwconv1(self.spike1(x))
        x = self.dwconv(self.spike2(x))
        return self.pwconv2(self.spike3(x))


class MS_ConvBlock_spike_SepConv(nn.Module):
    def __init__(self, dim: int, mlp_ratio: int = 4):
        super().__init__()
        self.Conv = SepConv_Spike(dim)
        self.spike1 = MultiSpike()
        self.conv1 = nn.Conv2d(dim, dim * mlp_ratio, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim * mlp_ratio)
        self.spike2 = MultiSpike()
        self.conv2 = nn.Conv2d(dim * mlp_ratio, dim, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv(x) + x
        y = self.bn1(self.conv1(self.spike1(x)))
        y = self.bn2(self.conv2(self.spike2(y)))
        return x + y


class MS_MLP(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1_conv = nn.Conv1d(dim, hidden, 1)
        self.fc1_bn = nn.BatchNorm1d(hidden)
        self.fc1_spike = MultiSpike()
        self.fc2_conv = nn.Conv1d(hidden, dim, 1)
        self.fc2_bn = nn.BatchNorm1d(dim)
        self.fc2_spike = MultiSpike()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = self.fc1_bn(self.fc1_conv(self.fc1_spike(x.flatten(2))))
        x = self.fc2_bn(self.fc2_conv(self.fc2_spike(x)))
        return x.reshape(shape)


def _heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """[B, C, N] -> [B, h, N, C/h]."""
    b, c, n = x.shape
    return x.transpose(-1, -2).reshape(b, n, num_heads, c // num_heads).permute(0, 2, 1, 3)


class MS_Attention_linear(nn.Module):
    """Softmax-free attention (q k^T) v * 2 d_h^-1/2 with integer spikes and a 4x wide value."""

    def __init__(self, dim: int, num_heads: int = 8, lamda_ratio: int = 4):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.lamda_ratio = lamda_ratio
        self.head_spike = MultiSpike()
        self.q_conv = _conv_bn(dim, dim)
        self.q_spike = MultiSpike()
        self.k_conv = _conv_bn(dim, dim)
        self.k_spike = MultiSpike()
        self.v_conv = _conv_bn(dim, dim * lamda_ratio)
        self.v_spike = MultiSpike()
        self.attn_spike = MultiSpike()
        self.proj_conv = _conv_bn(dim * lamda_ratio, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        cv = c * self.lamda_ratio
        x = self.head_spike(x)
        q = _heads(self.q_spike(self.q_conv(x)).flatten(2), self.num_heads)
        k = _heads(self.k_spike(self.k_conv(x)).flatten(2), self.num_heads)
        v = _heads(self.v_spike(self.v_conv(x)).flatten(2), self.num_heads)
        x = q @ k.transpose(-2, -1)
        x = (x @ v) * (self.scale * 2)
        x = x.transpose(2, 3).reshape(b, cv, h * w)
        x = self.attn_spike(x).reshape(b, cv, h, w)
        return self.proj_conv(x)


class MS_Block_Spike_SepConv(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.conv = SepConv_Spike(dim, kernel_size=3)
        self.attn = MS_Attention_linear(dim, num_heads, lamda_ratio=4)
        self.mlp = MS_MLP(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.conv(x)
        x = x + self.attn(x)
        return x + self.mlp(x)


class MS_DownSampling(nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, padding: int, first_layer: bool):
        super().__init__()
        self.encode_conv = nn.Conv2d(cin, cout, kernel_size, stride, padding)
        self.encode_bn = nn.BatchNorm2d(cout)
        if not first_layer:
            self.encode_spike = MultiSpike()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "encode_spike"):
            x = self.encode_spike(x)
        return self.encode_bn(self.encode_conv(x))


class ESpikeFormer(SpikingBackbone):
    """SDT v3 base backbone (no time axis; multi-spike neurons)."""

    family = "sdtv3"
    _layer_kinds = (
        (r"\.encode_conv$", "downsample"),
        (r"\.(Conv|conv)\.pwconv[12]\.0$", "pwconv"),
        (r"\.(Conv|conv)\.dwconv\.0$", "dwconv"),
        (r"\.conv[12]$", "channel_conv"),
        (r"\.attn\.q_conv\.0$", "q"),
        (r"\.attn\.k_conv\.0$", "k"),
        (r"\.attn\.v_conv\.0$", "v"),
        (r"\.attn\.proj_conv\.0$", "proj"),
        (r"\.mlp\.fc[12]_conv$", "mlp"),
        (r"^head$", "head"),
    )

    def __init__(
        self,
        embed_dims=(64, 128, 256, 360),
        num_heads: int = 8,
        mlp_ratios: int = 4,
        in_channels: int = 3,
        num_classes: int = 1000,
        img_size: int = 224,
    ):
        super().__init__()
        c3 = embed_dims[3]
        self.T = None  # no time axis in v3 base
        self.img_size = img_size
        r = mlp_ratios
        build_stages(self, embed_dims, in_channels, MS_DownSampling, lambda d: MS_ConvBlock_spike_SepConv(d, r),
                     lambda d: MS_Block_Spike_SepConv(d, num_heads, r))
        self.head = nn.Linear(c3, num_classes)
        self.spike = MultiSpike(norm=1)
        _init_weights(self)

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.spike(x.flatten(2).mean(2)))

    def _block_table(self):
        return block_table(self, self.downsample1_1, self._head, ("head",))
