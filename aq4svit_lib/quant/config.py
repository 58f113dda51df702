"""Hierarchical quantization configs: the bit width of every quantizable layer, written compactly.

Levels, from least to most specific (the most specific that names a layer wins):

    default  <  kinds (a layer kind, network-wide)  <  stages  <  blocks  <  block_kinds  <  layers

JSON form (format tag and version are checked on load)::

    {"format": "aq4svit.quant_config", "version": 1, "model": "sdtv2_tiny",
     "scheme": {"scheme": "uniform", "granularity": "per_channel", "rounding": "nearest"},
     "default": 8,
     "kinds": {"q": 32, "k": 32, "v": 32},
     "stages": {"3": 4},
     "blocks": {"block3.0": 8},
     "block_kinds": {"block3.0": {"mlp": 4}},
     "layers": {"head": 32}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, UsageError, choices
from ..models.base import QuantStructure
from .quantizers import ALLOWED_BITS, FP32, QuantScheme

FORMAT = "aq4svit.quant_config"
VERSION = 1
_FIELDS = ("format", "version", "model", "scheme", "default", "kinds", "stages", "blocks", "block_kinds", "layers")


@dataclass
class QuantConfig:
    default: int = FP32
    kinds: dict[str, int] = field(default_factory=dict)
    stages: dict[str, int] = field(default_factory=dict)
    blocks: dict[str, int] = field(default_factory=dict)
    block_kinds: dict[str, dict[str, int]] = field(default_factory=dict)
    layers: dict[str, int] = field(default_factory=dict)
    scheme: QuantScheme = field(default_factory=QuantScheme)
    model: str | None = None

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def uniform(cls, bits: int, scheme: QuantScheme | None = None, model: str | None = None) -> QuantConfig:
        return cls(default=bits, scheme=scheme or QuantScheme(), model=model)

    @classmethod
    def from_layer_bits(cls, bits: dict[str, int], structure: QuantStructure, scheme: QuantScheme | None = None, model: str | None = None) -> QuantConfig:
        """A compact config that resolves to ``bits``: each level records only where it differs from its parent."""
        from collections import Counter

        def mode(layers) -> int:
            return Counter(bits[layer.name] for layer in layers).most_common(1)[0][0]

        default = mode(structure.layers) if structure.layers else FP32
        cfg = cls(default=default, scheme=scheme or QuantScheme(), model=model)
        for stage in structure.stages:
            in_stage = [layer for layer in structure.layers if layer.stage == stage]
            if not in_stage:
                continue
            stage_bits = mode(in_stage)
            if stage_bits != default:
                cfg.stages[stage] = stage_bits
            for block in structure.blocks_of(stage):
                layers = structure.layers_of(block.name)
                if not layers:
                    continue
                block_bits = mode(layers)
                if block_bits != stage_bits:
                    cfg.blocks[block.name] = block_bits
                for kind in structure.kinds_of(block.name):
                    of_kind = [layer for layer in layers if layer.kind == kind]
                    kind_bits = mode(of_kind)
                    if kind_bits != block_bits:
                        cfg.block_kinds.setdefault(block.name, {})[kind] = kind_bits
                    cfg.layers.update({layer.name: bits[layer.name] for layer in of_kind if bits[layer.name] != kind_bits})
        return cfg

    # -- resolution -----------------------------------------------------------------------
    def resolve(self, structure: QuantStructure) -> dict[str, int]:
        """Bits of every quantizable layer (validates the config against the structure first)."""
        self.validate(structure)
        out = {}
        for layer in structure.layers:
            bits = self.default
            bits = self.kinds.get(layer.kind, bits)
            bits = self.stages.get(layer.stage, bits)
            bits = self.blocks.get(layer.block, bits)
            bits = self.block_kinds.get(layer.block, {}).get(layer.kind, bits)
            out[layer.name] = self.layers.get(layer.name, bits)
        return out

    def validate(self, structure: QuantStructure) -> None:
        def check_bits(where: str, value) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value not in ALLOWED_BITS:
                raise ConfigError(f"{where}: bits {value!r} not allowed; valid: 2..16 and 32 (FP32)")

        def check_names(level: str, names, valid) -> None:
            for name in names:
                if name not in valid:
                    raise ConfigError(f"{level}: unknown name {name!r}; valid {level}: {choices(valid)}")

        check_bits("default", self.default)
        kinds = {layer.kind for layer in structure.layers}
        check_names("kinds", self.kinds, kinds)
        check_names("stages", self.stages, structure.stages)
        blocks = [b.name for b in structure.blocks]
        check_names("blocks", self.blocks, blocks)
        check_names("block_kinds", self.block_kinds, blocks)
        for block, by_kind in self.block_kinds.items():
            check_names(f"block_kinds[{block}]", by_kind, structure.kinds_of(block))
            for kind, bits in by_kind.items():
                check_bits(f"block_kinds[{block}][{kind}]", bits)
        check_names("layers", self.layers, structure.layer_index)
        for level in ("kinds", "stages", "blocks", "layers"):
            for name, bits in getattr(self, level).items():
                check_bits(f"{level}[{name}]", bits)

    # -- JSON -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": self.model,
            "scheme": self.scheme.to_dict(),
            "default": self.default,
            "kinds": dict(self.kinds),
            "stages": dict(self.stages),
            "blocks": dict(self.blocks),
            "block_kinds": {b: dict(k) for b, k in self.block_kinds.items()},
            "layers": dict(self.layers),
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> QuantConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"{source}: a quant config is a JSON object")
        if d.get("format") != FORMAT:
            raise ConfigError(f"{source}: format {d.get('format')!r} is not {FORMAT!r}")
        if d.get("version") != VERSION:
            raise ConfigError(f"{source}: format version {d.get('version')!r} not supported; valid versions: {VERSION}")
        unknown = set(d) - set(_FIELDS)
        if unknown:
            raise ConfigError(f"{source}: unknown field(s) {choices(unknown)}; valid fields: {', '.join(_FIELDS)}")
        try:
            scheme = QuantScheme.from_dict(d.get("scheme", {}))
        except (UsageError, TypeError) as exc:
            raise ConfigError(f"{source}: scheme: {exc}") from None
        for level in ("kinds", "stages", "blocks", "block_kinds", "layers"):
            if not isinstance(d.get(level, {}), dict):
                raise ConfigError(f"{source}: {level} must be an object mapping names to bits")
        for block, by_kind in d.get("block_kinds", {}).items():
            if not isinstance(by_kind, dict):
                raise ConfigError(f"{source}: block_kinds[{block}] must be an object mapping layer kinds to bits")
        return cls(
            default=d.get("default", FP32),
            kinds=dict(d.get("kinds", {})),
            stages={str(k): v for k, v in d.get("stages", {}).items()},
            blocks=dict(d.get("blocks", {})),
            block_kinds={b: dict(k) for b, k in d.get("block_kinds", {}).items()},
            layers=dict(d.get("layers", {})),
            scheme=scheme,
            model=d.get("model"),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def save(self, path: str | Path) -> Path:
        from ..ioutil import write_text_atomic

        return write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> QuantConfig:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from None
        return cls.from_dict(d, str(path))


# -- paper notation ---------------------------------------------------------------------------
def _block_label(bits: list[int]) -> str:
    lo, hi = min(bits), max(bits)
    return str(lo) if lo == hi else f"{lo}|{hi}"


def paper_notation(bits: dict[str, int], structure: QuantStructure, compact: bool = True) -> dict[str, str]:
    """Render per-stage tuples as in QSViT, e.g. ``{"Stage-3": "(4,32)"}``.

    Each stage lists its units in order (downsample, then blocks). A block whose layers differ
    is written ``lo|hi``. With ``compact`` a run of consecutive transformer blocks with the same
    bits is written once, which is how the paper writes ``Stage-3: (4,32)`` for 6 blocks.
    """
    out = {}
    for stage in structure.stages:
        entries: list[tuple[str, str]] = []
        for block in structure.blocks_of(stage):
            layers = structure.layers_of(block.name)
            if not layers:
                continue
            label = _block_label([bits[layer.name] for layer in layers])
            if compact and entries and block.kind == "transformer_block" and entries[-1] == (block.kind, label):
                continue
            entries.append((block.kind, label))
        title = "Head" if stage == "head" else f"Stage-{stage}"
        out[title] = "(" + ",".join(label for _, label in entries) + ")"
    return out
