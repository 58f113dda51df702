"""The search space shared by QSViT and AQ4SViT: bit lists, hierarchy levels, units, memory.

A *unit* is a set of layers that receives one bit width: the whole network, a stage, a block, or
(the optional fourth level) one layer kind inside a block, e.g. the Q projection of block3.0 with
its RepConv chain. Lowering a unit by one step moves it to the next smaller width of the bit list.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..errors import UsageError, choices
from ..models.base import QuantStructure
from ..quant.memory import MemoryModel
from ..quant.quantizers import ALLOWED_BITS, FP32, QuantScheme

LEVELS = ("network", "stage", "block", "kind")
#: The default search space. It goes below 4 bits because the AQ4SViT paper's 90 % saving implies
#: sub-4-bit weights, and because at 32/16/12/8/4 every default model meets delta = 1.5 with all
#: weights at 4 bits, so every method ends on the same all-4-bit point and nothing is decided.
#: At 2 bits all three default models fail the constraint (the search must mix widths). 16 and 12
#: are dropped: every unit of every default model tolerates 8 bits, so they never change a decision
#: and only cost evaluations (QSViT's sweep is linear in the number of widths); 6 keeps a step
#: between 8 and 4 for sensitive units.
DEFAULT_BITS = (32, 8, 6, 4, 3, 2)
#: QSViT's own precision list (its Algorithm-1 figure), kept as a named setting.
QSVIT_BITS = (32, 16, 12, 8, 4)


def parse_bits(bits) -> tuple[int, ...]:
    """Validate a bit list (any subset of 2..16 and 32); return it sorted high to low, 32 included."""
    if isinstance(bits, str):
        try:
            bits = [int(b) for b in bits.split(",") if b.strip()]
        except ValueError:
            raise UsageError(f"--bits must be comma-separated integers, got {bits!r}") from None
    bits = list(bits)
    if not bits:
        raise UsageError("the bit list is empty; give e.g. 32,16,12,8,4")
    bad = [b for b in bits if b not in ALLOWED_BITS]
    if bad:
        raise UsageError(f"bits {bad} not allowed; valid widths are 2..16 and 32 (FP32)")
    return tuple(sorted(set(bits) | {FP32}, reverse=True))


def check_levels(levels) -> tuple[str, ...]:
    levels = tuple(lv.strip() for lv in levels.split(",") if lv.strip()) if isinstance(levels, str) else tuple(levels)
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown or not levels:
        raise UsageError(f"unknown level(s) {unknown}; valid levels: {', '.join(LEVELS)}")
    return levels


@dataclass(frozen=True)
class Unit:
    level: str
    name: str  # "network", a stage ("3"), a block ("block3.0") or "block3.0:q"
    layers: tuple[str, ...]


class SearchSpace:
    def __init__(self, structure: QuantStructure, memory: MemoryModel, bits=DEFAULT_BITS, scheme: QuantScheme | None = None):
        self.structure = structure
        self.memory = memory
        self.bits = parse_bits(bits)
        self.scheme = scheme or QuantScheme()

    @cached_property
    def fp32(self) -> dict[str, int]:
        return {layer.name: FP32 for layer in self.structure.layers}

    def units(self, level: str) -> list[Unit]:
        s = self.structure
        if level == "network":
            return [Unit(level, "network", tuple(layer.name for layer in s.layers))]
        if level == "stage":
            return [Unit(level, st, tuple(layer.name for layer in s.layers if layer.stage == st)) for st in s.stages]
        if level == "block":
            return [Unit(level, b.name, tuple(layer.name for layer in s.layers_of(b.name))) for b in s.blocks if s.layers_of(b.name)]
        if level == "kind":
            return [
                Unit(level, f"{b.name}:{kind}", tuple(layer.name for layer in s.layers_of(b.name) if layer.kind == kind))
                for b in s.blocks
                for kind in s.kinds_of(b.name)
            ]
        raise UsageError(f"unknown level {level!r}; valid levels: {choices(LEVELS)}")

    def unit_bits(self, bits: dict[str, int], unit: Unit) -> int:
        return max(bits[name] for name in unit.layers)

    def next_lower(self, b: int) -> int | None:
        lower = [x for x in self.bits if x < b]
        return lower[0] if lower else None

    def lower(self, bits: dict[str, int], unit: Unit) -> dict[str, int] | None:
        """``bits`` with ``unit`` one step lower (None when it is already at the smallest width)."""
        target = self.next_lower(self.unit_bits(bits, unit))
        if target is None:
            return None
        out = dict(bits)
        for name in unit.layers:
            out[name] = min(out[name], target)
        return out

    def next_higher(self, b: int) -> int | None:
        higher = [x for x in self.bits if x > b]
        return higher[-1] if higher else None

    def raise_(self, bits: dict[str, int], unit: Unit) -> dict[str, int] | None:
        """``bits`` with ``unit`` one step higher (None when it is FP32 or not uniform inside)."""
        current = self.unit_bits(bits, unit)
        if any(bits[name] != current for name in unit.layers):
            return None
        target = self.next_higher(current)
        return None if target is None else self.set_unit(bits, unit, target)

    def lowest_bytes(self, bits: dict[str, int], units: list[Unit]) -> int:
        """Memory with every layer of ``units`` at the smallest width (a floor no lowering can pass)."""
        floor = dict(bits)
        for unit in units:
            floor = self.set_unit(floor, unit, self.bits[-1])
        return self.memory_bytes(floor)

    def set_unit(self, bits: dict[str, int], unit: Unit, value: int) -> dict[str, int]:
        out = dict(bits)
        for name in unit.layers:
            out[name] = value
        return out

    def memory_bytes(self, bits: dict[str, int]) -> int:
        return self.memory.total_bytes(bits, self.scheme)

    @cached_property
    def fp32_bytes(self) -> int:
        return self.memory.fp32_bytes

    def unit_fp32_bytes(self, unit: Unit) -> int:
        return self.memory.bytes_of(unit.layers, FP32, self.scheme)

    def key(self, bits: dict[str, int]) -> str:
        """Canonical string of a candidate (for de-duplication and the trace)."""
        return ",".join(str(bits[layer.name]) for layer in self.structure.layers)

    def bits_of(self, key: str) -> dict[str, int]:
        """The inverse of :meth:`key`."""
        values = [int(b) for b in key.split(",")]
        if len(values) != len(self.structure.layers):
            raise ValueError(f"key has {len(values)} widths, the model {len(self.structure.layers)} layers")
        return {layer.name: b for layer, b in zip(self.structure.layers, values, strict=True)}
