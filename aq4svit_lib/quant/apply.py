"""Applying a config to a model, cheaply and reversibly.

:class:`WeightQuantizer` computes each quantized weight once per (layer, bits, scheme) and keeps
it; applying a config swaps the ``.data`` of only the layers whose bits change, and ``restore``
swaps the original FP32 tensors back (the very same tensor objects, so the state_dict is
bit-identical afterwards).
"""

from __future__ import annotations

import contextlib
import zlib

import torch

from ..models.base import SpikingBackbone
from .config import QuantConfig
from .quantizers import FP32, FakeQuant, QuantScheme, check_bits, fake_quantize_with


class WeightQuantizer:
    """Owns the quantized-weight cache of one model and tracks which bits are applied."""

    def __init__(self, model: SpikingBackbone, scheme: QuantScheme | None = None):
        self.model = model
        self.structure = model.quant_structure()
        self.scheme = scheme or QuantScheme()
        modules = dict(model.named_modules())
        self._modules = {layer.name: modules[layer.name] for layer in self.structure.layers}
        self._fp32 = {name: m.weight.data for name, m in self._modules.items()}
        self._cache: dict[tuple[str, int, str], FakeQuant] = {}
        self.current: dict[str, tuple[int, QuantScheme | None]] = {name: (FP32, None) for name in self._modules}

    # -- quantized weights ------------------------------------------------------------------
    def quantized(self, layer: str, bits: int, scheme: QuantScheme | None = None) -> FakeQuant:
        scheme = scheme or self.scheme
        key = (layer, bits, scheme.key())
        if key not in self._cache:
            seed_offset = zlib.crc32(layer.encode())  # distinct, reproducible noise per layer
            self._cache[key] = fake_quantize_with(self._fp32[layer], bits, scheme, seed_offset)
        return self._cache[key]

    def fp32(self, layer: str) -> torch.Tensor:
        """The layer's original weights (whatever is applied now)."""
        return self._fp32[layer]

    # -- applying ---------------------------------------------------------------------------
    def resolve(self, config: QuantConfig | dict[str, int], scheme: QuantScheme | None = None) -> tuple[dict[str, int], QuantScheme]:
        """Per-layer bits and scheme of a config (a dict may omit layers: they stay FP32)."""
        if isinstance(config, QuantConfig):
            return config.resolve(self.structure), config.scheme
        unknown = set(config) - set(self._modules)
        if unknown:
            raise ValueError(f"unknown layers: {sorted(unknown)[:5]}")
        bits = {name: config.get(name, FP32) for name in self._modules}
        for b in bits.values():
            check_bits(b)
        return bits, scheme or self.scheme

    @torch.no_grad()
    def apply(self, config: QuantConfig | dict[str, int], scheme: QuantScheme | None = None) -> list[str]:
        """Set every layer to its bits; return the names of the layers that changed."""
        bits, scheme = self.resolve(config, scheme)
        changed = []
        for name, b in bits.items():
            state = (b, None if b == FP32 else scheme)
            if self.current[name] == state:
                continue
            self._modules[name].weight.data = self._fp32[name] if b == FP32 else self.quantized(name, b, scheme).values
            self.current[name] = state
            changed.append(name)
        return changed

    @torch.no_grad()
    def restore(self) -> None:
        """Put the original FP32 tensors back (the same objects: the state_dict is bit-identical)."""
        for name, module in self._modules.items():
            module.weight.data = self._fp32[name]
            self.current[name] = (FP32, None)

    @contextlib.contextmanager
    def applied(self, config: QuantConfig | dict[str, int], scheme: QuantScheme | None = None):
        """Context manager: the model carries ``config`` inside; the previous weights outside."""
        previous = dict(self.current)
        self.apply(config, scheme)
        try:
            yield self.model
        finally:
            with torch.no_grad():
                for name, (b, sch) in previous.items():
                    if self.current[name] != (b, sch):
                        self._modules[name].weight.data = self._fp32[name] if b == FP32 else self.quantized(name, b, sch).values
                        self.current[name] = (b, sch)

    def clear_cache(self) -> None:
        self._cache.clear()


def quantize_model(model: SpikingBackbone, config: QuantConfig) -> SpikingBackbone:
    """Return a deep copy of ``model`` with ``config`` applied (the original is untouched)."""
    import copy

    clone = copy.deepcopy(model)
    WeightQuantizer(clone, config.scheme).apply(config)
    return clone
