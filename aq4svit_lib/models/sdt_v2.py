"""SDT v2, "Meta-SpikeFormer" (Yao et al., ICLR 2024), re-implemented with the official keys.

Module names, nesting and shapes follow ``classification/models.py`` of
BICLab/Spike-Driven-Transformer-V2, so official checkpoints load with ``strict=True``; the
eval-mode forward computes the same function (LIF tau 2, hard reset, v_th 1.0 and 0.5 for
``attn_lif``; channel attention ``q @ (k^T @ v) * 0.125``; logits averaged over T and, with
``kd``, over the two heads). Activations are [T, B, C, H, W].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import SpikingBackbone, time_distributed
from .metaformer import block_table, build_stages
from .neurons import LIF


class BNAndPadLayer(nn.Module):
    """BatchNorm, then pad with the BN output of a zero input (keeps RepConv fusable)."""

    def __init__(self, pad_pixels: int, num_features: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(num_features)
        self.pad_pixels = pad_pixels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn(x)
        p = self.pad_pixels
        if p > 0:
            bn = self.bn
            pad = bn.bias.detach() - bn.running_mean * bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
            out = F.pad(out, [p] * 4)
            pad = pad.view(1, -1, 1, 1)
            out[:, :, :p, :] = pad
            out[:, :, -p:, :] = pad
            out[:, :, :, :p] = pad
            out[:, :, :, -p:] = pad
        return out


class RepConv(nn.Module):
    """1x1 conv -> BN+pad -> depthwise 3x3 -> 1x1 -> BN (a re-parameterisable 3x3 conv)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 1, bias=False),
            BNAndPadLayer(1, in_channels),
            nn.Sequential(
                nn.Conv2d(in_channels, in_channels, 3, groups=in_channels, bias=False),
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels),
            ),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SepConv(nn.Module):
    """Inverted separable conv (MobileNetV2 style): LIF, pw 1x1, BN, LIF, dw 7x7, pw 1x1, BN."""

    def __init__(self, dim: int, expansion: int = 2, kernel_size: int = 7):
        super().__init__()
        med = int(expansion * dim)
        self.lif1 = LIF()
        self.pwconv1 = nn.Conv2d(dim, med, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(med)
        self.lif2 = LIF()
        self.dwconv = nn.Conv2d(med, med, kernel_size, padding=kernel_size // 2, groups=med, bias=False)
        self.pwconv2 = nn.Conv2d(med, dim, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = time_distributed(lambda y: self.bn1(self.pwconv1(y)), self.lif1(x))
        return time_distributed(lambda y: self.bn2(self.pwconv2(self.dwconv(y))), self.lif2(x))


class MS_ConvBlock(nn.Module):
    """SepConv + channel conv (3x3 d->4d->d), both residual."""

    def __init__(self, dim: int, mlp_ratio: int = 4):
        super().__init__()
        self.Conv = SepConv(dim)
        self.lif1 = LIF()
        self.conv1 = nn.Conv2d(dim, dim * mlp_ratio, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim * mlp_ratio)
        self.lif2 = LIF()
        self.conv2 = nn.Conv2d(dim * mlp_ratio, dim, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv(x) + x
        y = time_distributed(lambda z: self.bn1(self.conv1(z)), self.lif1(x))
        y = time_distributed(lambda z: self.bn2(self.conv2(z)), self.lif2(y))
        return x + y


class MS_MLP(nn.Module):
    """Channel MLP on tokens: LIF, Conv1d d->4d (+bias), BN1d, LIF, Conv1d 4d->d, BN1d."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1_conv = nn.Conv1d(dim, hidden, 1)
        self.fc1_bn = nn.BatchNorm1d(hidden)
        self.fc1_lif = LIF()
        self.fc2_conv = nn.Conv1d(hidden, dim, 1)
        self.fc2_bn = nn.BatchNorm1d(dim)
        self.fc2_lif = LIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.flatten(3)
        x = time_distributed(lambda y: self.fc1_bn(self.fc1_conv(y)), self.fc1_lif(x))
        x = time_distributed(lambda y: self.fc2_bn(self.fc2_conv(y)), self.fc2_lif(x))
        return x.reshape(shape)


def _heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """[T, B, C, N] -> [T, B, h, N, C/h] with channel index = head * C/h + j."""
    t, b, c, n = x.shape
    return x.transpose(-1, -2).reshape(t, b, n, num_heads, c // num_heads).permute(0, 1, 3, 2, 4)


class MS_Attention_RepConv_qkv_id(nn.Module):
    """Spike-driven self-attention v2: q @ (k^T @ v) * 0.125, no softmax, linear in N."""

    def __init__(self, dim: int, num_heads: int = 8, scale: float = 0.125):
        super().__init__()
        self.num_heads = num_heads
        self.scale = scale  # 0.125 in the official code, for every width and token count
        self.head_lif = LIF()
        self.q_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.k_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.v_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))
        self.q_lif = LIF()
        self.k_lif = LIF()
        self.v_lif = LIF()
        self.attn_lif = LIF(v_threshold=0.5)
        self.proj_conv = nn.Sequential(RepConv(dim, dim), nn.BatchNorm2d(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b, c, h, w = x.shape
        x = self.head_lif(x)
        q = _heads(self.q_lif(time_distributed(self.q_conv, x)).flatten(3), self.num_heads)
        k = _heads(self.k_lif(time_distributed(self.k_conv, x)).flatten(3), self.num_heads)
        v = _heads(self.v_lif(time_distributed(self.v_conv, x)).flatten(3), self.num_heads)
        x = (q @ (k.transpose(-2, -1) @ v)) * self.scale
        x = x.transpose(3, 4).reshape(t, b, c, h * w)
        x = self.attn_lif(x).reshape(t, b, c, h, w)
        return time_distributed(self.proj_conv, x)


class MS_Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4, attn_scale: float = 0.125):
        super().__init__()
        self.attn = MS_Attention_RepConv_qkv_id(dim, num_heads, attn_scale)
        self.mlp = MS_MLP(dim, dim * mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class MS_DownSampling(nn.Module):
    """(LIF unless first layer) -> conv with bias -> BN."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, padding: int, first_layer: bool):
        super().__init__()
        self.encode_conv = nn.Conv2d(cin, cout, kernel_size, stride, padding)
        self.encode_bn = nn.BatchNorm2d(cout)
        if not first_layer:
            self.encode_lif = LIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "encode_lif"):
            x = self.encode_lif(x)
        return time_distributed(lambda y: self.encode_bn(self.encode_conv(y)), x)


class MetaSpikeFormer(SpikingBackbone):
    """SDT v2 backbone: 4 stages (2 conv, 2 transformer: 6 + 2 blocks), LIF head."""

    family = "sdtv2"
    _layer_kinds = (
        (r"\.encode_conv$", "downsample"),
        (r"\.Conv\.pwconv[12]$", "pwconv"),
        (r"\.Conv\.dwconv$", "dwconv"),
        (r"\.conv[12]$", "channel_conv"),
        (r"\.attn\.q_conv\.", "q"),
        (r"\.attn\.k_conv\.", "k"),
        (r"\.attn\.v_conv\.", "v"),
        (r"\.attn\.proj_conv\.", "proj"),
        (r"\.mlp\.fc[12]_conv$", "mlp"),
        (r"^head(_kd)?$", "head"),
    )

    def __init__(
        self,
        embed_dims=(128, 256, 512, 640),
        num_heads: int = 8,
        mlp_ratios: int = 4,
        in_channels: int = 3,
        num_classes: int = 1000,
        T: int = 1,
        kd: bool = False,
        img_size: int = 224,
        head_input: str = "spikes",
        attn_scale: float = 0.125,
    ):
        super().__init__()
        c3 = embed_dims[3]
        self.T, self.kd, self.img_size = T, kd, img_size
        if head_input not in ("spikes", "features"):
            raise ValueError("head_input must be 'spikes' (official HEAD) or 'features' (pre-2024-03-25)")
        self.head_input = head_input
        r = mlp_ratios
        build_stages(self, embed_dims, in_channels, MS_DownSampling, lambda d: MS_ConvBlock(d, r), lambda d: MS_Block(d, num_heads, r, attn_scale))
        self.lif = LIF()
        self.head = nn.Linear(c3, num_classes)
        if kd:
            self.head_kd = nn.Linear(c3, num_classes)
        _init_weights(self)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)  # direct encoding
        return self.downsample1_1(x)

    def _head(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = x.flatten(3).mean(3)
        x_lif = self.lif(x)
        main = self.head(x_lif if self.head_input == "spikes" else x).mean(0)
        if not self.kd:
            return main
        kd = self.head_kd(x_lif).mean(0)
        return (main, kd) if self.training else (main + kd) / 2

    def _block_table(self):
        return block_table(self, self._stem, self._head, ("head", "head_kd") if self.kd else ("head",))


def _init_weights(model: nn.Module) -> None:
    """Official init for Linear layers (trunc normal 0.02, zero bias); convs keep torch defaults."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
