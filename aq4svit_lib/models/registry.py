"""Model registry in the style of timm: ``create_model(name, checkpoint=None, **overrides)``.

Family names (``sdt``, ``sdtv2``, ``sdtv3``) take full architecture arguments; named variants fix
the official ImageNet widths; the ``*_tiny`` models are our Fashion-MNIST defaults, whose trained
checkpoints ship in ``data/checkpoints``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CheckpointError, UsageError, choices
from .base import SpikingBackbone
from .checkpoint import load_checkpoint, read_state_dict
from .sdt_v1 import SpikeDrivenTransformer
from .sdt_v2 import MetaSpikeFormer
from .sdt_v3 import ESpikeFormer

FAMILIES = {"sdt": SpikeDrivenTransformer, "sdtv2": MetaSpikeFormer, "sdtv3": ESpikeFormer}

#: Evaluation preprocessing of the official backbones (sdt_architecture.md section 5).
IMAGENET_RESIZE = {"sdt": 235, "sdtv2": 256, "sdtv3": 232}

#: Where the default models' weights are: a checkout keeps them in data/checkpoints/ (with the model card);
#: an installed wheel carries the same files as package data in aq4svit_lib/_checkpoints/ (pyproject.toml).
CHECKPOINT_DIRS = (Path(__file__).resolve().parents[1] / "_checkpoints", Path(__file__).resolve().parents[2] / "data" / "checkpoints")
CHECKPOINT_DIR = next((d for d in CHECKPOINT_DIRS if d.is_dir()), CHECKPOINT_DIRS[-1])


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    kwargs: dict = field(default_factory=dict)
    dataset: str = "imagenet"
    description: str = ""
    default_checkpoint: str | None = None  # file name inside data/checkpoints


_IMAGENET = dict(in_channels=3, num_classes=1000, img_size=224)
_FMNIST = dict(in_channels=1, num_classes=10, img_size=28)

REGISTRY: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> None:
    REGISTRY[entry.name] = entry


for _name, _cls in FAMILIES.items():
    register(ModelEntry(_name, _name, {}, "imagenet", f"{_cls.__name__}, every architecture argument explicit"))

for _layers, _dim, _acc in [(8, 384, 72.28), (6, 512, 74.11), (8, 512, 74.57), (10, 512, 74.66), (8, 768, 77.07)]:
    register(
        ModelEntry(
            f"sdt_{_layers}_{_dim}",
            "sdt",
            dict(embed_dims=_dim, depths=_layers, num_heads=8, T=4, **_IMAGENET),
            description=f"SDT v1 {_layers}-{_dim} (official README top-1 {_acc} %)",
        )
    )

for _name, _dims, _kw, _desc in [
    ("sdtv2_15m", [64, 128, 256, 360], dict(T=1, kd=False), "Meta-SpikeFormer 15.1M (widths inferred from the param count)"),
    ("sdtv2_31m", [96, 192, 384, 480], dict(T=1, kd=False), "Meta-SpikeFormer 31.3M (metaspikformer_8_384)"),
    ("sdtv2_55m", [128, 256, 512, 640], dict(T=4, kd=True), "Meta-SpikeFormer 55M (metaspikformer_8_512), T=4 + kd as the released 55M_kd.pth"),
]:
    register(ModelEntry(_name, "sdtv2", dict(embed_dims=_dims, num_heads=8, **_kw, **_IMAGENET), description=_desc))

for _name, _dims, _desc in [
    ("sdtv3_5m", [32, 64, 128, 192], "E-SpikeFormer 5.1M (Efficient_Spiking_Transformer_s)"),
    ("sdtv3_10m", [48, 96, 192, 240], "E-SpikeFormer 10M (Efficient_Spiking_Transformer_m, paper 78.5 %)"),
    ("sdtv3_19m", [64, 128, 256, 360], "E-SpikeFormer 19M (Efficient_Spiking_Transformer_l, paper 79.8 %)"),
]:
    register(ModelEntry(_name, "sdtv3", dict(embed_dims=_dims, num_heads=8, **_IMAGENET), description=_desc))

# Fashion-MNIST defaults: official depth layout, small widths (1/8 of the 55M / 19M widths ratio 1:2:4:5).
register(
    ModelEntry(
        "sdt_tiny",
        "sdt",
        dict(embed_dims=96, depths=6, num_heads=8, T=4, pooling_stat="1110", **_FMNIST),
        "fashion_mnist",
        "SDT v1, SPS + 6 blocks, D=96, T=4 (as the official models), 4x4 tokens",
        "sdt_tiny.safetensors",
    )
)
register(
    ModelEntry(
        "sdtv2_tiny",
        "sdtv2",
        # attn_scale: the official 0.125 is tuned for 14 x 14 = 196 tokens; k^T v sums over tokens, so with
        # 2 x 2 = 4 tokens the attention input is 49x smaller and attn_lif (v_th 0.5) never fires.
        # 0.125 x 196 / 4 keeps the per-token statistics (measured: 72 % vs 42 % train accuracy after 200 steps).
        dict(embed_dims=[16, 32, 64, 80], num_heads=8, T=4, kd=False, attn_scale=0.125 * 196 / 4, **_FMNIST),
        "fashion_mnist",
        "Meta-SpikeFormer, 2+2+6+2 blocks, widths 16/32/64/80, T=4 (as the released 55M model), attention scale for 4 tokens",
        "sdtv2_tiny.safetensors",
    )
)
register(
    ModelEntry(
        "sdtv3_tiny",
        "sdtv3",
        dict(embed_dims=[16, 32, 64, 80], num_heads=8, **_FMNIST),
        "fashion_mnist",
        "E-SpikeFormer, 2+2+6+2 blocks, widths 16/32/64/80, multi-spike D=4",
        "sdtv3_tiny.safetensors",
    )
)


def list_models(dataset: str | None = None) -> list[str]:
    return [n for n, e in REGISTRY.items() if dataset is None or e.dataset == dataset]


def get_entry(name: str) -> ModelEntry:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; valid models: {choices(REGISTRY)}") from None


def model_kwargs(name: str, **overrides) -> dict:
    entry = get_entry(name)
    kwargs = {**entry.kwargs, **overrides}
    if "embed_dims" in kwargs and entry.family != "sdt":
        kwargs["embed_dims"] = list(kwargs["embed_dims"])
    return kwargs


def create_model(name: str, checkpoint: str | Path | None = None, *, strict: bool = True, **overrides) -> SpikingBackbone:
    """Build a registered model, optionally loading a checkpoint (official or ours).

    ``checkpoint="default"`` loads the shipped checkpoint of a ``*_tiny`` model.
    """
    entry = get_entry(name)
    kwargs = model_kwargs(name, **overrides)
    try:
        model = FAMILIES[entry.family](**kwargs)
    except TypeError as exc:
        raise UsageError(f"bad arguments for {name}: {exc}") from None
    model.default_cfg = {"name": name, "family": entry.family, "kwargs": kwargs, "dataset": entry.dataset}
    if checkpoint is not None:
        if checkpoint == "default":
            checkpoint = default_checkpoint(name)
        load_checkpoint(model, checkpoint, strict=strict)
    return model.eval()


def default_checkpoint(name: str) -> Path:
    entry = get_entry(name)
    if entry.default_checkpoint is None:
        raise UsageError(f"{name} has no shipped checkpoint; pass --checkpoint PATH")
    path = CHECKPOINT_DIR / entry.default_checkpoint
    if not path.is_file():
        raise CheckpointError(f"the shipped checkpoint of {name} is missing (looked in {' and '.join(map(str, CHECKPOINT_DIRS))}); "
                              "reinstall the package, or pass --checkpoint PATH")
    return path


def load_model(path: str | Path, **overrides) -> SpikingBackbone:
    """Rebuild a model from one of our checkpoints (its header names the model and arguments)."""
    _, meta = read_state_dict(path)
    if meta.get("format") != "aq4svit.checkpoint":
        raise CheckpointError(f"{path} is not an aq4svit checkpoint; use create_model(name, checkpoint=path)")
    kwargs = {**json.loads(meta.get("kwargs", "{}")), **overrides}
    return create_model(meta["model"], checkpoint=path, **kwargs)
