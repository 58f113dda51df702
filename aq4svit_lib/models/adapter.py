"""Bring your own spiking model: any multi-step spikingjelly network, searched like the SDT models of the zoo.

:func:`wrap` turns an ``nn.Module`` whose neurons are spikingjelly nodes (or ours) into a :class:`SpikingModel`, the
interface the evaluation engine works on (models/base.py): the quantization structure (blocks, stages, layer kinds)
and forward segments.

What the inference assumes (each overridable by a :class:`LayerMapping`):

- **layers**: every ``Conv1d`` / ``Conv2d`` / ``Linear`` weight (spikingjelly's ``layer.*`` wrappers are subclasses)
  is quantizable;
- **blocks**: the network's top-level children in registration order; a ``ModuleList`` / ``Sequential`` child whose
  own children hold weights is one block per element (``blocks.0``, ``blocks.1``, ...), the others one block each;
  children without weights (pooling, neurons) are glue, not blocks;
- **stages**: the blocks of one container form one stage (named after it); any other block is a stage of its own;
- **kinds**: a layer's path inside its block with list indices removed (``attn.q_conv``), so the same kind in every
  block is one group.

Neuron state is reset before every forward (spikingjelly's ``functional.reset_net``), and a network that returns
``[T, N, classes]`` has its output averaged over time. Prefix caching needs forward segments whose chain *is* the
forward: pass ``segments`` (checked against the plain forward on a sample) or accept one segment, i.e. plain
forward passes (``SpikingModel.sequential`` says which, and every result records it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import UsageError
from .base import SpikingBackbone

WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Linear)


@dataclass(frozen=True)
class LayerMapping:
    """Corrections to the inferred structure, as regular expressions (first match wins).

    ``blocks``: (pattern on a layer's path, block name); ``stages``: (pattern on a block name, stage);
    ``kinds``: (pattern on a layer's path, kind); ``skip``: patterns of layers never quantized.
    """

    blocks: tuple[tuple[str, str], ...] = ()
    stages: tuple[tuple[str, str], ...] = ()
    kinds: tuple[tuple[str, str], ...] = ()
    skip: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: dict | None) -> LayerMapping:
        """From JSON-like data: ``{"kinds": {"pattern": "kind"}, "skip": ["pattern"], ...}`` (dicts keep their order)."""
        d = dict(d or {})
        unknown = set(d) - {"blocks", "stages", "kinds", "skip"}
        if unknown:
            raise UsageError(f"layer mapping: unknown keys {sorted(unknown)}; valid: blocks, stages, kinds, skip")
        pairs = {k: tuple((str(p), str(v)) for p, v in (d.get(k) or {}).items()) for k in ("blocks", "stages", "kinds")}
        out = cls(**pairs, skip=tuple(map(str, d.get("skip") or ())))
        for pattern in [p for k in ("blocks", "stages", "kinds") for p, _ in getattr(out, k)] + list(out.skip):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise UsageError(f"layer mapping: {pattern!r} is not a regular expression ({exc})") from None
        return out

    @staticmethod
    def first(rules: tuple[tuple[str, str], ...], text: str) -> str | None:
        return next((value for pattern, value in rules if re.search(pattern, text)), None)


@dataclass(frozen=True)
class Segment:
    """One piece of the forward: ``fn(net, x)`` maps the activation entering it to the one leaving it.

    ``fn`` receives the network rather than closing over it: the engine works on a private copy of the model, and a
    closure would keep running the original's weights."""

    name: str
    fn: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    modules: tuple[str, ...] = ()  # module paths whose layers it runs (empty: all of them, the one-segment plan)


def _whole(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return net(x)


def _has_weights(module: nn.Module) -> bool:
    return any(isinstance(m, WEIGHT_LAYERS) for m in module.modules())


def infer_blocks(net: nn.Module) -> list[tuple[str, str, tuple[str, ...]]]:
    """[(block name, stage, module paths)] from the module tree (see the module docstring)."""
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for name, child in net.named_children():
        if not _has_weights(child):
            continue
        parts = list(child.named_children()) if isinstance(child, (nn.ModuleList, nn.Sequential)) else []
        if len(parts) >= 2 and all(_has_weights(p) for _, p in parts):
            out += [(f"{name}.{i}", name, (f"{name}.{i}",)) for i, _ in parts]
        else:
            out.append((name, name, (name,)))
    return out


def _kind(path: str, block: str) -> str:
    inner = path[len(block) + 1 :] if path.startswith(block + ".") else path
    return re.sub(r"(^|\.)\d+(?=\.|$)", "", inner).strip(".") or inner


class SpikingModel(SpikingBackbone):
    """A wrapped network: the engine's interface over ``net`` (``state_dict`` keys gain the prefix ``net.``)."""

    family = "custom"

    def __init__(self, net: nn.Module, *, name: str = "custom", num_classes: int | None = None, in_channels: int | None = None,
                 img_size: int | None = None, mapping: LayerMapping | dict | None = None, segments: Sequence[Segment] | None = None,
                 time_major: bool = True):
        super().__init__()
        if not isinstance(net, nn.Module):
            raise UsageError(f"a model to search must be a torch nn.Module, got {type(net).__name__}")
        self.net = net
        self.mapping = mapping if isinstance(mapping, LayerMapping) else LayerMapping.from_dict(mapping)
        self._segments = tuple(segments) if segments else (Segment("forward", _whole),)
        kwargs = {k: v for k, v in (("num_classes", num_classes), ("in_channels", in_channels), ("img_size", img_size)) if v is not None}
        # time_major: neurons see [T, N, ...] (spikingjelly's multi-step convention), which the drift gate's layout needs
        self.default_cfg = {"name": name, "family": self.family, "kwargs": kwargs, "sequential": self.sequential, "time_major": time_major,
                            "network": type(net).__module__ + "." + type(net).__qualname__}
        self._inferred = self._structure_table()
        if not self._inferred:
            raise UsageError(f"{name}: no Conv / Linear weight found to quantize (or the mapping skipped them all)")

    @property
    def neuron_root(self) -> nn.Module:
        """Where observe_neurons looks: neuron names are the user's (no ``net.`` prefix)."""
        return self.net

    @property
    def sequential(self) -> bool:
        """True when the forward runs as several segments, so unchanged prefixes can be cached."""
        return len(self._segments) > 1

    # -- structure ------------------------------------------------------------------------------
    def _structure_table(self) -> list[tuple[str, str, str, tuple[str, ...]]]:
        """[(block, stage, kind of block, module paths)] after the mapping's corrections."""
        m = self.mapping
        blocks: dict[str, tuple[str, list[str]]] = {}
        inferred = infer_blocks(self.net)
        owner = {path: (b, s) for b, s, paths in inferred for path in paths}
        for path, module in self.net.named_modules():
            if not isinstance(module, WEIGHT_LAYERS) or any(re.search(p, path) for p in m.skip):
                continue
            block = m.first(m.blocks, path) or next((b for p, (b, _) in owner.items() if path == p or path.startswith(p + ".")), None)
            if block is None:
                continue
            stage = m.first(m.stages, block) or next((s for b, s, _ in inferred if b == block), block)
            blocks.setdefault(block, (stage, []))[1].append(path)
        if len(self._segments) > 1:  # forward order: the segment that runs a block's first layer (stable within one)
            where = {p: i for i, seg in enumerate(self._segments) for p in seg.modules}

            def position(block: str) -> int:
                first = blocks[block][1][0]
                return min((i for p, i in where.items() if first == p or first.startswith(p + ".")), default=len(self._segments))

            blocks = dict(sorted(blocks.items(), key=lambda kv: position(kv[0])))
        names = list(blocks)
        return [(b, stage, "stem" if i == 0 else "head" if i == len(names) - 1 else "block", tuple(paths))
                for i, (b, (stage, paths)) in enumerate(blocks.items())]

    def _block_table(self):
        # module paths are layer paths here: quant_structure walks each one (a layer's own named_modules is itself)
        return [(b, stage, kind, tuple(f"net.{p}" for p in paths), None) for b, stage, kind, paths in self._inferred]

    def layer_kind(self, path: str) -> str | None:
        inner = path.removeprefix("net.")
        block = next((b for b, _, _, paths in self._inferred if inner in paths), None)
        if block is None:
            return None
        return self.mapping.first(self.mapping.kinds, inner) or _kind(inner, block)

    # -- forward ------------------------------------------------------------------------------------
    @property
    def num_blocks(self) -> int:  # forward segments, which the engine's prefix cache walks
        return len(self._segments)

    def segment_layers(self, structure) -> list[list[str]]:
        """The quantizable layers each forward segment runs (one segment: all of them)."""
        if len(self._segments) == 1:
            return [[layer.name for layer in structure.layers]]
        out = []
        for seg in self._segments:
            roots = tuple(f"net.{p}" for p in seg.modules)
            out.append([layer.name for layer in structure.layers if any(layer.name == r or layer.name.startswith(r + ".") for r in roots)])
        placed = sum(map(len, out))
        if placed != len(structure.layers):
            raise UsageError(f"{self.default_cfg['name']}: the segments' modules cover {placed} of {len(structure.layers)} quantizable "
                             "layers; every layer must lie in exactly one segment")
        return out

    def forward_blocks(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        stop = self.num_blocks if stop is None else stop
        _reset(self.net)  # spikingjelly neurons keep their membrane between calls: every batch starts from rest
        for seg in self._segments[start:stop]:
            x = seg.fn(self.net, x)
        return _over_time(x) if stop == self.num_blocks else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_blocks(x, 0, self.num_blocks)

    def check_segments(self, x: torch.Tensor) -> None:
        """Refuse segments whose chain is not the network's own forward (compared on ``x``, exactly)."""
        if not self.sequential:
            return
        with torch.inference_mode():
            _reset(self.net)
            want = _over_time(self.net(x))
            got = self.forward(x)
        if want.shape != got.shape or not torch.equal(want, got):
            raise UsageError(f"{self.default_cfg['name']}: its segments do not reproduce the network's forward on a sample batch; "
                             "fix them or pass none (plain forward passes, no prefix caching)")


def _over_time(y: torch.Tensor) -> torch.Tensor:
    """[T, N, classes] -> [N, classes] (the mean over time steps, as the SDT heads do); [N, classes] unchanged."""
    return y.mean(0) if y.ndim == 3 else y


try:  # looked up once: _reset runs before every segment of every batch
    from spikingjelly.activation_based.functional import reset_net as _jelly_reset
except ImportError:  # no spikingjelly: only our stateless neurons, nothing to reset
    _jelly_reset = None


def _reset(net: nn.Module) -> None:
    if _jelly_reset is not None:
        _jelly_reset(net)


def spikformer_segments(net: nn.Module) -> list[Segment]:
    """Forward segments of spikingjelly's ``Spikformer`` (model zoo): stem, each block, pooling + head; its own forward
    chained (``SpikingModel.check_segments`` verifies it)."""
    blocks = [Segment(f"blocks.{i}", _block(i), (f"blocks.{i}",)) for i in range(len(net.blocks))]
    return [Segment("patch_embed", _stem, ("patch_embed",)), *blocks, Segment("head", _pool_head, ("head",))]


def _stem(net, x):
    return net.patch_embed(net._to_sequence(x))


def _block(i: int):
    def run(net, x):
        return net.blocks[i](x)

    return run


def _pool_head(net, x):
    return net.head(x.flatten(3).mean(dim=-1))


def wrap(net: nn.Module, **kwargs) -> SpikingBackbone:
    """A network searched like the zoo's models; ``kwargs``: name, num_classes, in_channels, img_size, mapping, segments.
    A model of the zoo (or one already wrapped) is returned as it is."""
    return net if isinstance(net, SpikingBackbone) else SpikingModel(net, **kwargs)  # the zoo's models need no wrapper


def is_user_model(name: str) -> bool:
    """``module:callable`` names a user's network; anything else is a registered model."""
    from ..plugins import names_callable

    return names_callable(name)


def load_user_model(spec: str, checkpoint: str | None = None, mapping: str | dict | None = None) -> SpikingModel:
    """``module:callable`` (the callable returns an ``nn.Module``, or a ready :class:`SpikingModel` with its segments),
    its weights from ``checkpoint`` (.pth / .pt / .safetensors; ``net.``-prefixed keys, as ``aq4svit train`` writes for a
    wrapped network, are accepted too) and a mapping (a JSON file or dict, see :class:`LayerMapping`)."""
    import json
    from pathlib import Path

    from ..plugins import load_callable
    from .checkpoint import read_state_dict

    factory = load_callable(spec, "--model")
    net = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    if isinstance(mapping, (str, Path)):
        try:
            mapping = json.loads(Path(mapping).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"--mapping {mapping}: not a readable JSON file ({exc})") from None
    model = net if isinstance(net, SpikingModel) else SpikingModel(net, name=spec, mapping=mapping)
    if checkpoint:
        state, _ = read_state_dict(checkpoint)
        target = model.net
        if state and all(k.startswith("net.") for k in state):
            state = {k[4:]: v for k, v in state.items()}
        missing, unexpected = target.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise UsageError(f"checkpoint {checkpoint} does not fit {spec}: {len(missing)} missing keys (e.g. {missing[:3]}), "
                             f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
    return model
