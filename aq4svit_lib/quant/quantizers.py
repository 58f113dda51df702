"""Weight quantizers: scaled symmetric uniform, and Qm.n fixed point.

Both are post-training and weight-only; biases and BatchNorm stay FP32. ``bits == 32`` means
"left in FP32" and is the exact identity.

``uniform`` (the modern default): per output channel (dim 0) or per tensor,
    s = max|w| / (2^(b-1) - 1),   q = clamp(R(w / s), -(2^(b-1) - 1), 2^(b-1) - 1),   w_hat = q * s,
so at most 2^b - 1 levels, symmetric around 0; an all-zero channel keeps s = 0 and stays zero.

``fixed_point`` (the kind used in the QSViT authors' earlier SNN work): two's complement Qm.n with
1 sign bit, m integer bits and n = b - 1 - m fractional bits, i.e. step 2^-n and codes
clamp(R(w * 2^n), -2^(b-1), 2^(b-1) - 1). Unless ``int_bits`` fixes m, it is chosen from the range
of the weights (per channel or per tensor): the smallest m >= 0 whose largest positive value
2^m - 2^-n still holds max|w| (nothing saturates, and re-quantizing is the identity); weights below
1 - 2^-(b-1) in magnitude get Q0.(b-1). With a fixed m, values outside the range saturate. Because m
cannot go below 0, small weights lose resolution at low b: that is the behaviour the paper's
quantizer most likely had.

Rounding R: ``nearest`` (round half to even), ``truncate`` (floor: dropping low bits of a two's
complement number), ``stochastic`` (floor(x + u), u ~ U[0, 1) from a seeded generator; unbiased).
The dequantized value is always computed as ``codes.float() * scale`` so that a model rebuilt
from exported codes reproduces it bit for bit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch

from ..errors import UsageError, choices
from ..schema import Interval, Options, setting, validate

SCHEMES = ("uniform", "fixed_point")
GRANULARITIES = ("per_channel", "per_tensor")
ROUNDINGS = ("nearest", "truncate", "stochastic")
ALLOWED_BITS = frozenset(range(2, 17)) | {32}
FP32 = 32


@dataclass(frozen=True)
class QuantScheme:
    """How weights are quantized (a config object in the style of torchao)."""

    scheme: str = setting("uniform", Options(SCHEMES), "how a width's levels are placed")
    granularity: str = setting("per_channel", Options(GRANULARITIES), "one scale per output channel or per tensor")
    rounding: str = setting("nearest", Options(ROUNDINGS), "how a weight is rounded to a level")
    int_bits: int | None = setting(None, Interval(int, 0), "fixed_point only: fix m instead of deriving it from the range",
                                   none="derived from the range", cli=False)
    seed: int = setting(0, Interval(int), "stochastic rounding only", cli=False)

    def __post_init__(self):
        validate(self)
        if self.int_bits is not None and self.scheme != "fixed_point":
            raise UsageError(f"int_bits only applies to the fixed_point scheme, got {self.int_bits!r} with {self.scheme}")

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict) -> QuantScheme:
        if isinstance(d, str):  # "scheme": "uniform" is a natural shorthand for {"scheme": "uniform"}
            d = {"scheme": d}
        if not isinstance(d, dict):
            raise UsageError(f"a scheme is an object such as {{\"scheme\": \"uniform\", \"granularity\": \"per_channel\"}}, got {d!r}")
        unknown = set(d) - {"scheme", "granularity", "rounding", "int_bits", "seed"}
        if unknown:
            raise UsageError(f"unknown scheme field(s) {choices(unknown)}; valid: scheme, granularity, rounding, int_bits, seed")
        return cls(**d)

    def key(self) -> str:
        parts = [self.scheme, self.granularity, self.rounding]
        if self.int_bits is not None:
            parts.append(f"m{self.int_bits}")
        if self.rounding == "stochastic":
            parts.append(f"seed{self.seed}")
        return "/".join(parts)


class FakeQuant(NamedTuple):
    values: torch.Tensor  # dequantized float weights, same shape as w
    codes: torch.Tensor | None  # int32 integer codes (None for 32 bits)
    scale: torch.Tensor | None  # float32 step per output channel ([C]) or per tensor ([1])


def check_bits(bits) -> int:
    if not isinstance(bits, int) or isinstance(bits, bool) or bits not in ALLOWED_BITS:
        raise UsageError(f"bits must be an integer from 2 to 16, or 32 (FP32); got {bits!r}")
    return bits


def _round(x: torch.Tensor, rounding: str, seed: int) -> torch.Tensor:
    if rounding == "nearest":
        return torch.round(x)
    if rounding == "truncate":
        return torch.floor(x)
    g = torch.Generator(device=x.device).manual_seed(seed)
    return torch.floor(x + torch.rand(x.shape, generator=g, device=x.device, dtype=x.dtype))


def _absmax(w: torch.Tensor, granularity: str) -> torch.Tensor:
    if granularity == "per_tensor":
        return w.abs().max().reshape(1)
    return w.abs().reshape(w.shape[0], -1).amax(dim=1)


def _broadcast(scale: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return scale.reshape(-1, *([1] * (w.dim() - 1))) if scale.numel() > 1 else scale.reshape([1] * w.dim())


def fake_quantize(
    w: torch.Tensor,
    bits: int,
    scheme: str = "uniform",
    granularity: str = "per_channel",
    rounding: str = "nearest",
    *,
    int_bits: int | None = None,
    seed: int = 0,
) -> FakeQuant:
    """Quantize ``w`` to ``bits``; return dequantized values plus the integer codes and scales."""
    check_bits(bits)
    cfg = QuantScheme(scheme, granularity, rounding, int_bits, seed)
    if bits == FP32:
        return FakeQuant(w, None, None)
    w32 = w.detach().float()
    absmax = _absmax(w32, cfg.granularity)
    if cfg.scheme == "uniform":
        qmax = 2 ** (bits - 1) - 1
        qmin = -qmax
        scale = absmax / qmax
    else:
        qmax, qmin = 2 ** (bits - 1) - 1, -(2 ** (bits - 1))
        if cfg.int_bits is not None:
            m = torch.full_like(absmax, float(cfg.int_bits))
        else:  # smallest m >= 0 whose largest code (2^(b-1) - 1) * 2^(m-b+1) still holds max|w|
            m = torch.ceil(torch.log2(absmax.clamp_min(torch.finfo(torch.float32).tiny))).clamp_min(0)
            m = torch.where(absmax > torch.exp2(m) - torch.exp2(m - (bits - 1)), m + 1, m)
        scale = torch.exp2(m - (bits - 1))  # step 2^-n with n = b - 1 - m, exact in float32
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    codes = _round(w32 / _broadcast(safe, w32), cfg.rounding, cfg.seed).clamp_(qmin, qmax)
    codes = codes.to(torch.int32)
    values = dequantize(codes, scale).to(w.dtype)
    return FakeQuant(values, codes, scale.float())


def dequantize(codes: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """codes * scale, broadcast per output channel (the one formula export and fake quant share)."""
    return codes.float() * _broadcast(scale.float(), codes)


def fake_quantize_with(w: torch.Tensor, bits: int, scheme: QuantScheme, seed_offset: int = 0) -> FakeQuant:
    """:func:`fake_quantize` driven by a :class:`QuantScheme` object."""
    return fake_quantize(
        w, bits, scheme.scheme, scheme.granularity, scheme.rounding, int_bits=scheme.int_bits, seed=scheme.seed + seed_offset
    )
