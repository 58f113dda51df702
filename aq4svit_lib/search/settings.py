"""One settings object per search, composed of small parts (torchao's ``quantize_(model, config)`` style).

``SearchSettings`` says *what* is computed: the model, the constraint, the search space, the data,
the evaluation engine and the method's own options (the dataclass its registration names). Where
results go and whether to resume are arguments of :func:`~aq4svit_lib.search.run.run_search`, not
settings. :meth:`SearchSettings.build` takes flat names (``delta=``, ``beam_width=``, ``batch_size=``)
and routes each to the part that owns it, so callers need not know the composition.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from ..data import EVAL_BATCH_SIZE, SplitSpec
from ..errors import UsageError
from ..models import get_entry
from ..quant.quantizers import QuantScheme
from .common import z_of
from .registry import get_method
from .space import DEFAULT_BITS, parse_bits


@dataclass(frozen=True)
class ModelSettings:
    name: str = "sdtv2_tiny"
    checkpoint: str | None = None  # None: the shipped checkpoint of a *_tiny model
    overrides: dict = field(default_factory=dict)  # constructor overrides (SDT v2: kd, T)
    fuse_repconv: bool = False  # quantize the re-parameterised 3x3 convs instead of RepConv's branches


@dataclass(frozen=True)
class DataSettings:
    dataset: str = "fashion_mnist"
    spec: SplitSpec = field(default_factory=SplitSpec)
    root: str | None = None  # the dataset's folder (ImageNet: the ImageFolder root)
    download: bool = False


@dataclass(frozen=True)
class EngineSettings:
    batch_size: int = EVAL_BATCH_SIZE
    cache_bytes: int = 1 << 30
    device: str | None = None
    quiet: bool | None = None  # None: quiet under CI / AQ4SVIT_QUIET


#: flat name -> (part, field) for the names that live in a part
_ROUTES = {
    "checkpoint": ("model", "checkpoint"), "model_overrides": ("model", "overrides"), "fuse_repconv": ("model", "fuse_repconv"),
    "dataset": ("data", "dataset"), "spec": ("data", "spec"), "data_root": ("data", "root"), "download": ("data", "download"),
    "batch_size": ("engine", "batch_size"), "cache_bytes": ("engine", "cache_bytes"), "device": ("engine", "device"),
    "quiet": ("engine", "quiet"),
}
_PARTS = {"model": ModelSettings, "data": DataSettings, "engine": EngineSettings}


@dataclass(frozen=True)
class SearchSettings:
    method: str = "greedy"
    model: ModelSettings = field(default_factory=ModelSettings)
    delta: float = 1.5  # points of accuracy drop allowed (percent of FP32's accuracy with ``relative``)
    relative: bool = False
    bits: tuple[int, ...] = DEFAULT_BITS
    scheme: QuantScheme | None = None  # None: uniform per-channel, seeded with ``seed``
    seed: int = 0
    search_confidence: float = 0.99  # paired margin on search while searching (Constraint.accepts); 0.5: the count rule
    verify_confidence: float = 0.5  # the held-out check of the answer (search/verify.py); 0.5: the count rule
    max_evaluations: int | None = None  # stop (resumably) after this many full evaluations
    export: bool = True  # write final.safetensors
    require_trained: bool = True  # refuse a model whose FP32 accuracy is near chance
    data: DataSettings = field(default_factory=DataSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    options: Any = None  # the method's settings dataclass; None: its defaults

    def __post_init__(self):
        method = get_method(self.method)
        get_entry(self.model.name)
        bits = parse_bits(self.bits)
        if len(bits) < 2:
            raise UsageError("the bit list needs at least one width below 32")
        if isinstance(self.delta, bool) or not isinstance(self.delta, (int, float)) or not (self.delta > 0) or math.isinf(self.delta):
            raise UsageError(f"delta must be a positive number of points, got {self.delta}")
        if self.delta >= 100:
            raise UsageError(f"delta {self.delta} allows any accuracy (it must be below 100): the constraint would be vacuous")
        z_of(self.search_confidence)
        z_of(self.verify_confidence)
        if self.max_evaluations is not None and (isinstance(self.max_evaluations, bool) or int(self.max_evaluations) != self.max_evaluations
                                                 or self.max_evaluations < 1):
            raise UsageError(f"max evaluations must be an integer >= 1, got {self.max_evaluations}")
        options = self.options if self.options is not None else method.make_settings()
        if not isinstance(options, method.settings):
            raise UsageError(f"{self.method} takes {method.settings.__name__}, got {type(options).__name__}")
        for name, value in (("bits", tuple(bits)), ("scheme", self.scheme or QuantScheme(seed=self.seed)), ("options", options)):
            object.__setattr__(self, name, value)

    @classmethod
    def build(cls, method: str = "greedy", model: str = "sdtv2_tiny", **values) -> SearchSettings:
        """Settings from flat names: each goes to the part (or the method's options) that owns it."""
        entry = get_method(method)
        parts: dict[str, dict] = {"model": {"name": model}, "data": {}, "engine": {}}
        top, options = {}, {}
        own = {f.name for f in dataclasses.fields(cls)} - {"method", "model", "data", "engine", "options"}
        method_fields = {f.name for f in entry.options()}
        for name, value in values.items():
            if name in _ROUTES:
                part, key = _ROUTES[name]
                parts[part][key] = value
            elif name in own:
                top[name] = value
            elif name in method_fields:
                options[name] = value
            else:
                valid = sorted(set(_ROUTES) | own | method_fields)
                raise UsageError(f"{name}: not a setting of a {method} search; valid: {', '.join(valid)}")
        built = {k: _PARTS[k](**v) for k, v in parts.items()}
        return cls(method=method, **built, **top, options=entry.make_settings(**options))

    def identity(self) -> dict:
        """What determines the result: :meth:`to_dict` without the settings that only say how it runs (the one
        definition, ``results.RESUMABLE_CHANGES``, which both a resume and the reproduce cache use)."""
        from .results import RESUMABLE_CHANGES

        d = self.to_dict()
        for dotted in RESUMABLE_CHANGES:
            *path, last = dotted.split(".")
            part = d
            for k in path:
                part = part[k]
            part.pop(last, None)
        return d

    def to_dict(self) -> dict:
        """JSON-able, complete: what result.json records and what caches key on."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        assert self.scheme is not None  # set in __post_init__
        d.update(model=dataclasses.asdict(self.model), data={**dataclasses.asdict(self.data), "spec": dataclasses.asdict(self.data.spec)},
                 engine=dataclasses.asdict(self.engine), scheme=self.scheme.to_dict(), bits=list(self.bits),
                 options=dataclasses.asdict(self.options))
        d["options"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["options"].items()}
        return d
