"""Real packed export: integer codes bit-packed at their width (2..16), scales, FP32 rest.

File layout (safetensors): for every quantized layer ``L``, ``L.codes`` (uint8, the codes offset
by 2^(b-1) to be non-negative and packed little-endian, b bits each) and ``L.scale`` (FP32, one
per output channel or one per tensor); every other tensor under its own state_dict name in FP32.
The header metadata names the model, its arguments, the config and each layer's bits and shape.
:func:`load_packed` rebuilds the model; its weights equal the fake-quantized ones bit for bit,
because both are ``codes.float() * scale``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from ..ioutil import atomic_path
from ..models.base import SpikingBackbone
from .apply import WeightQuantizer
from .config import QuantConfig
from .quantizers import FP32, dequantize

FORMAT = "aq4svit.packed"


def pack_bits(codes: np.ndarray, bits: int) -> np.ndarray:
    """Signed integer codes -> uint8 array holding ``bits`` bits per code (little-endian)."""
    u = (codes.astype(np.int64).ravel() + (1 << (bits - 1))).astype(np.uint32)
    if u.size and int(u.max()) >= (1 << bits):
        raise ValueError(f"codes do not fit in {bits} bits")
    planes = ((u[:, None] >> np.arange(bits, dtype=np.uint32)) & 1).astype(np.uint8)
    return np.packbits(planes.ravel(), bitorder="little")


def unpack_bits(packed: np.ndarray, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: int32 codes."""
    flat = np.unpackbits(packed, bitorder="little", count=count * bits).reshape(count, bits)
    u = (flat.astype(np.int64) << np.arange(bits, dtype=np.int64)).sum(axis=1)
    return (u - (1 << (bits - 1))).astype(np.int32)


def export_packed(model: SpikingBackbone, config: QuantConfig, path: str | Path) -> Path:
    """Write ``model`` quantized with ``config`` as a packed safetensors file; return the path."""
    from safetensors.torch import save_file

    wq = WeightQuantizer(model, config.scheme)
    bits = config.resolve(wq.structure)
    tensors, layers_meta = {}, {}
    quantized = {name + ".weight": name for name, b in bits.items() if b != FP32}
    for key, tensor in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            continue
        layer = quantized.get(key)
        if layer is None:
            tensors[key] = tensor.detach().float().contiguous().cpu()
            continue
        fq = wq.quantized(layer, bits[layer], config.scheme)
        assert fq.codes is not None and fq.scale is not None, "quantized layers (below 32 bits) have codes and scales"
        tensors[f"{layer}.codes"] = torch.from_numpy(pack_bits(fq.codes.cpu().numpy(), bits[layer]))
        tensors[f"{layer}.scale"] = fq.scale.cpu().contiguous()
        layers_meta[layer] = {"bits": bits[layer], "shape": list(tensor.shape)}
    cfg = getattr(model, "default_cfg", {})
    meta = {
        "format": FORMAT,
        "model": cfg.get("name", ""),
        "kwargs": json.dumps(cfg.get("kwargs", {})),
        "config": config.to_json(),
        "layers": json.dumps(layers_meta),
        "fuse_repconv": json.dumps(bool(cfg.get("fuse_repconv", False))),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def read_packed_header(path: str | Path) -> tuple[int, dict]:
    """(header bytes, metadata) of a packed file; payload = file size - 8 - header bytes."""
    path = Path(path)
    with path.open("rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    return n, header.get("__metadata__", {})


def load_packed(path: str | Path, model: SpikingBackbone | None = None) -> nn.Module:
    """Rebuild the quantized model stored by :func:`export_packed`.

    ``model``: the network to fill (a user's wrapped network, which the registry cannot rebuild by name); None: built
    from the name and arguments in the file's header.
    """
    from ..models import create_model, list_models
    from ..models.checkpoint import read_safetensors

    path = Path(path)
    tensors, meta = read_safetensors(path, "packed export")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an aq4svit packed export (format {meta.get('format')!r})")
    fused = json.loads(meta.get("fuse_repconv", "false"))
    if model is None:
        if meta.get("model") not in list_models():
            raise CheckpointError(f"{path} holds {meta.get('model')!r}, a network the registry cannot build: "
                                  "pass it as load_packed(path, model=wrap(YourNetwork(...)))")
        model = create_model(meta["model"], **json.loads(meta["kwargs"]))
    elif fused:
        raise CheckpointError(f"{path} holds a fused (RepConv) network; load it without `model`")
    if fused:
        from ..models.fuse import fuse_repconv

        model = fuse_repconv(model)  # the structure; the weights come from the file
    state = model.state_dict()
    for layer, info in json.loads(meta["layers"]).items():
        count = math.prod(info["shape"])
        codes = unpack_bits(tensors.pop(f"{layer}.codes").numpy(), info["bits"], count)
        codes_t = torch.from_numpy(codes).reshape(info["shape"])
        tensors[layer + ".weight"] = dequantize(codes_t, tensors.pop(f"{layer}.scale"))
    for key in state:
        if key.endswith("num_batches_tracked"):
            tensors[key] = state[key]
    model.load_state_dict(tensors, strict=True)
    model.quant_config = QuantConfig.from_dict(json.loads(meta["config"]), str(path))
    return model.eval()
