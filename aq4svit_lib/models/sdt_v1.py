"""SDT v1, "Spike-driven Transformer" (Yao et al., NeurIPS 2023), re-implemented with the official keys.

Follows ``model/spikeformer.py`` and ``module/{sps,ms_conv}.py`` of BICLab/Spike-Driven-Transformer:
spiking patch splitting (SPS) with a membrane shortcut around ``rpe_conv``, then blocks of
spike-driven self-attention SDSA(Q, K, V) = Q * SN_0.5(sum_N K * V) and a conv MLP, then a LIF
head with logits averaged over T. Modules that the official forward never calls (``talking_heads``,
``attn_lif``, ``rpe_lif``) are still declared so that checkpoints load strictly; only the
``talking_heads`` weight has a state_dict entry, and it is never quantized (it is never used).
"""

from __future__ import annotations

import torch
from torch import nn

from .base import SpikingBackbone, time_distributed
from .neurons import LIF


class MS_SPS(nn.Module):
    """conv3x3 -> BN -> LIF -> maxpool (x3), conv -> BN -> maxpool, then LIF -> rpe conv -> BN + shortcut."""

    def __init__(self, in_channels: int, embed_dims: int, pooling_stat: str = "1111"):
        super().__init__()
        d = embed_dims
        self.pooling_stat = pooling_stat
        widths = [in_channels, d // 8, d // 4, d // 2, d]
        for i, suffix in enumerate(["", "1", "2", "3"]):
            setattr(self, f"proj_conv{suffix}", nn.Conv2d(widths[i], widths[i + 1], 3, padding=1, bias=False))
            setattr(self, f"proj_bn{suffix}", nn.BatchNorm2d(widths[i + 1]))
            setattr(self, f"proj_lif{suffix}", LIF())
            setattr(self, f"maxpool{suffix}", nn.MaxPool2d(3, 2, 1))
        self.rpe_conv = nn.Conv2d(d, d, 3, padding=1, bias=False)
        self.rpe_bn = nn.BatchNorm2d(d)
        self.rpe_lif = LIF()  # declared by the official code, never called

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, suffix in enumerate(["", "1", "2"]):
            conv, bn = getattr(self, f"proj_conv{suffix}"), getattr(self, f"proj_bn{suffix}")
            x = getattr(self, f"proj_lif{suffix}")(time_distributed(lambda y, bn=bn, conv=conv: bn(conv(y)), x))
            if self.pooling_stat[i] == "1":
                x = time_distributed(getattr(self, f"maxpool{suffix}"), x)
        pool3 = self.maxpool3 if self.pooling_stat[3] == "1" else nn.Identity()
        x_feat = time_distributed(lambda y: pool3(self.proj_bn3(self.proj_conv3(y))), x)
        x = time_distributed(lambda y: self.rpe_bn(self.rpe_conv(y)), self.proj_lif3(x_feat))
        return x + x_feat


class MS_SSA_Conv(nn.Module):
    """SDSA: q, k, v = LIF(BN(conv1x1(LIF(x)))); out = proj(q * LIF_0.5(sum_N k * v)) + x."""

    def __init__(self, dim: int, num_heads: int = 8):
        super().__init__()
        self.num_heads = num_heads
        self.scale = 0.125  # declared, unused by the official forward
        for n in "qkv":
            setattr(self, f"{n}_conv", nn.Conv2d(dim, dim, 1, bias=False))
            setattr(self, f"{n}_bn", nn.BatchNorm2d(dim))
            setattr(self, f"{n}_lif", LIF())
        self.attn_lif = LIF(v_threshold=0.5)  # declared, unused
        self.talking_heads = nn.Conv1d(num_heads, num_heads, 1, bias=False)  # declared, unused
        self.talking_heads_lif = LIF(v_threshold=0.5)
        self.proj_conv = nn.Conv2d(dim, dim, 1)
        self.proj_bn = nn.BatchNorm2d(dim)
        self.shortcut_lif = LIF()

    def _branch(self, n: str, s: torch.Tensor) -> torch.Tensor:
        conv, bn, lif = (getattr(self, f"{n}_{p}") for p in ("conv", "bn", "lif"))
        y = lif(time_distributed(lambda z: bn(conv(z)), s))
        t, b, c, h, w = y.shape
        return y.flatten(3).transpose(-1, -2).reshape(t, b, h * w, self.num_heads, c // self.num_heads).permute(0, 1, 3, 2, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, b, c, h, w = x.shape
        s = self.shortcut_lif(x)
        q, k, v = (self._branch(n, s) for n in "qkv")
        kv = self.talking_heads_lif((k * v).sum(dim=-2, keepdim=True))
        y = (q * kv).transpose(3, 4).reshape(t, b, c, h, w)
        return time_distributed(lambda z: self.proj_bn(self.proj_conv(z)), y) + x


class MS_MLP_Conv(nn.Module):
    """LIF -> 1x1 conv (+bias) -> BN -> LIF -> 1x1 conv (+bias) -> BN, plus the residual."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1_conv = nn.Conv2d(dim, hidden, 1)
        self.fc1_bn = nn.BatchNorm2d(hidden)
        self.fc1_lif = LIF()
        self.fc2_conv = nn.Conv2d(hidden, dim, 1)
        self.fc2_bn = nn.BatchNorm2d(dim)
        self.fc2_lif = LIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = time_distributed(lambda z: self.fc1_bn(self.fc1_conv(z)), self.fc1_lif(x))
        y = time_distributed(lambda z: self.fc2_bn(self.fc2_conv(z)), self.fc2_lif(y))
        return y + x


class MS_Block_Conv(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.attn = MS_SSA_Conv(dim, num_heads)
        self.mlp = MS_MLP_Conv(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.attn(x))


class SpikeDrivenTransformer(SpikingBackbone):
    """SDT v1 backbone: SPS stem, ``depths`` SDSA blocks, LIF head; T time steps."""

    family = "sdt"
    _layer_kinds = (
        (r"^patch_embed\.proj_conv\d?$", "sps"),
        (r"^patch_embed\.rpe_conv$", "rpe"),
        (r"\.attn\.q_conv$", "q"),
        (r"\.attn\.k_conv$", "k"),
        (r"\.attn\.v_conv$", "v"),
        (r"\.attn\.proj_conv$", "proj"),
        (r"\.mlp\.fc[12]_conv$", "mlp"),
        (r"^head$", "head"),
    )

    def __init__(
        self,
        embed_dims: int = 512,
        depths: int = 8,
        num_heads: int = 8,
        mlp_ratios: int = 4,
        in_channels: int = 3,
        num_classes: int = 1000,
        T: int = 4,
        img_size: int = 224,
        pooling_stat: str = "1111",
    ):
        super().__init__()
        if len(pooling_stat) != 4 or set(pooling_stat) - {"0", "1"}:
            raise ValueError(f"pooling_stat must be 4 characters of 0/1, got {pooling_stat!r}")
        self.T, self.img_size = T, img_size
        self.patch_embed = MS_SPS(in_channels, embed_dims, pooling_stat)
        self.block = nn.ModuleList([MS_Block_Conv(embed_dims, num_heads, mlp_ratios) for _ in range(depths)])
        self.head_lif = LIF()
        self.head = nn.Linear(embed_dims, num_classes)
        for m in self.modules():  # official init: trunc normal convs, BN weight 1 / bias 0
            if isinstance(m, nn.Conv2d):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch_embed(x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1))

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.head_lif(x.flatten(3).mean(3))).mean(0)

    def _block_table(self):
        table = [("patch_embed", "1", "stem", ("patch_embed",), self._stem)]
        for i, blk in enumerate(self.block):
            table.append((f"block.{i}", "2", "transformer_block", (f"block.{i}",), blk))
        table.append(("head", "head", "head", ("head",), self._head))
        return table
