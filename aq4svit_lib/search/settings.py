"""One settings object per search, composed of small parts (torchao's ``quantize_(model, config)`` style).

``SearchSettings`` says *what* is computed: the model, the constraint, the search space, the data,
the evaluation engine and the method's own options (the dataclass its registration names). Where
results go and whether to resume are arguments of :func:`~aq4svit_lib.search.run.run_search`, not
settings. :meth:`SearchSettings.build` takes flat names (``delta=``, ``beam_width=``, ``batch_size=``)
and routes each to the part that owns it, so callers need not know the composition. Every field is
declared once (:mod:`aq4svit_lib.schema`): its default, its constraint and its help, from which the
validation and the ``aq4svit search`` flags come.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..data import EVAL_BATCH_SIZE, SplitSpec
from ..data.splits import DATASETS
from ..errors import UsageError
from ..models import get_entry
from ..plugins import names_callable
from ..quant.quantizers import QuantScheme
from ..schema import Boolean, Checked, Interval, Options, Text, default, setting, validate
from .registry import get_method, method_names
from .space import DEFAULT_BITS, parse_bits


def _bits(value) -> tuple[int, ...]:
    bits = parse_bits(value)
    if len(bits) < 2:
        raise UsageError("the bit list needs at least one width below 32")
    return bits


@dataclass(frozen=True)
class ModelSettings:
    name: str = setting("sdtv2_tiny", Text(), "registered model name (see `aq4svit info`), or your network as module:callable",
                        flag="--model")
    checkpoint: str | None = setting(None, Text(), "checkpoint file (official .pth or ours)", none="the shipped checkpoint of a *_tiny model")
    overrides: dict = setting(factory=dict, help="constructor overrides (SDT v2: kd, T)", cli=False)
    fuse_repconv: bool = setting(False, Boolean(), "SDT v2: fuse each RepConv branch into one 3x3 conv before quantizing")
    mapping: str | None = setting(None, Text(), "your network (module:callable): a JSON file correcting the inferred blocks, "
                                  "stages and layer kinds", none="inferred from the module tree")

    def __post_init__(self):
        validate(self)


@dataclass(frozen=True)
class DataSettings:
    dataset: str = setting("fashion_mnist", Options(DATASETS), "the dataset")
    spec: SplitSpec = setting(factory=SplitSpec, help="split sizes and seeds", cli=False)
    root: str | None = setting(None, Text(), "the dataset's folder (ImageNet: the ImageFolder root)", flag="--data-root",
                               none="the look-up order in the README")
    download: bool = setting(False, Boolean(), "let torchvision download Fashion-MNIST if it is missing")

    def __post_init__(self):
        validate(self)


@dataclass(frozen=True)
class EngineSettings:
    batch_size: int = setting(EVAL_BATCH_SIZE, Interval(int, 1), "evaluation batch (part of every memo key: it moves float sums)")
    cache_bytes: int = setting(1 << 30, Interval(int, 0), "prefix-cache budget in bytes", cli=False)
    device: str | None = setting(None, Text(), "cpu / cuda / cuda:N", none="cuda when available")
    quiet: bool | None = setting(None, Boolean(), "no progress bars", none="quiet under CI / AQ4SVIT_QUIET")

    def __post_init__(self):
        validate(self)


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
    method: str = setting("greedy", Text(), "a registered search method (`aq4svit search --help` lists them)", cli=False)
    model: ModelSettings = setting(factory=ModelSettings, help="the model", cli=False)
    delta: float = setting(1.5, Interval(float, 0, 100, "neither"), "allowed accuracy drop in points (percent of FP32's "
                           "accuracy with --relative); QSViT's paper used 2.1")
    relative: bool = setting(False, Boolean(), "delta is relative (percent of FP32 accuracy)")
    bits: tuple[int, ...] = setting(DEFAULT_BITS, Checked(_bits, "a comma-separated subset of 2..16 and 32 with a width below 32"),
                                    "bit widths to search over (QSViT's paper: 32,16,12,8,4)")
    scheme: QuantScheme | None = setting(None, help="how weights are quantized", none="uniform per-channel, seeded with seed", cli=False)
    seed: int = setting(0, Interval(int, 0), "seed of stochastic rounding and of the methods that draw")
    search_confidence: float = setting(0.99, Interval(float, 0.5, 1, "left"), "paired margin on search while searching "
                                       "(Constraint.accepts); 0.5: the count rule")
    verify_confidence: float = setting(0.5, Interval(float, 0.5, 1, "left"), "confidence of the held-out check of the answer "
                                       "(search/verify.py); 0.5: the count rule")
    max_evaluations: int | None = setting(None, Interval(int, 1), "stop (resumably) after this many full evaluations", none="no cap")
    export: bool = setting(True, Boolean(), "write final.safetensors", cli=False)
    require_trained: bool = setting(True, Boolean(), "refuse a model whose FP32 accuracy is near chance (--no-require-trained: a smoke run on untrained weights)")
    data: DataSettings = setting(factory=DataSettings, help="the data", cli=False)
    engine: EngineSettings = setting(factory=EngineSettings, help="the evaluation engine", cli=False)
    options: Any = setting(None, help="the method's settings dataclass", none="its defaults", cli=False)

    def __post_init__(self):
        method = get_method(self.method)
        if not names_callable(self.model.name):  # module:callable is a user's network, imported when it is built
            get_entry(self.model.name)
        validate(self)
        options = self.options if self.options is not None else method.make_settings()
        if not isinstance(options, method.settings):
            raise UsageError(f"{self.method} takes {method.settings.__name__}, got {type(options).__name__}")
        object.__setattr__(self, "scheme", self.scheme or QuantScheme(seed=self.seed))
        object.__setattr__(self, "options", options)

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


# -- profile templates: flat names whose defaults are declared above or by a method's settings ------------
def _own_names() -> set[str]:
    return {f.name for f in dataclasses.fields(SearchSettings)} - {"method", "model", "data", "engine", "options"} | set(_ROUTES)


def _option_fields(method: str | None = None) -> dict[str, tuple[type, dataclasses.Field]]:
    names = [method] if method else method_names()
    return {f.name: (get_method(m).settings, f) for m in reversed(names) for f in get_method(m).options()}


def declared_default(name: str, method: str | None = None) -> Any:
    """The declared default of a flat setting name (SearchSettings, its parts or a method's options)."""
    if name in _ROUTES:
        part, key = _ROUTES[name]
        return default(_PARTS[part], key)
    if name in _own_names():
        return default(SearchSettings, name)
    options = _option_fields(method)
    if name in options:
        return default(options[name][0], name)
    raise UsageError(f"{name}: not a search setting{f' of {method}' if method else ''}")


def check_template(values: dict) -> None:
    """A profile's template names only settings that exist (a typo would otherwise be silently dropped)."""
    unknown = set(values) - _own_names() - set(_option_fields())
    if unknown:
        raise UsageError(f"{', '.join(sorted(unknown))}: not a search setting; valid: {', '.join(sorted(_own_names() | set(_option_fields())))}")


def template_for(values: dict, method: str) -> dict:
    """The template's values that apply to a ``method`` search (the other methods' options left out)."""
    options = {f.name for f in get_method(method).options()}
    return {k: v for k, v in values.items() if k in _own_names() or k in options}
