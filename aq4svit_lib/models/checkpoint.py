"""Checkpoint loading (official ``.pth`` files and ours) and saving (safetensors + metadata).

Official files are full training dicts: SDT v1 (timm) keeps the weights under ``state_dict``,
v2 / v3 under ``model``; both pickle an ``argparse.Namespace`` under ``args``, which torch >= 2.6
refuses with ``weights_only=True`` unless it is allow-listed, as done here. A ``module.`` prefix
(DistributedDataParallel) is stripped. Loading is strict by default, and a mismatch is reported
as one readable list of missing keys, unexpected keys and shape mismatches.
"""

from __future__ import annotations

import argparse
import json
import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..ioutil import atomic_path

WRAPPER_KEYS = ("state_dict", "model", "state_dict_ema", "module")
MAX_LISTED = 25


def read_state_dict(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Return (state_dict, metadata) from an official .pth/.pt or our .safetensors file."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, not a file; pass a .pth / .pt / .safetensors file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        state, meta = _read_safetensors(path)
        check_finite(state, str(path))
        return state, meta
    _sniff(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # torch's hint to load it unsafely is no advice for a user
            raise CheckpointError(f"{path} holds Python objects other than tensors (and the argparse.Namespace official "
                                  "checkpoints carry); it is refused because loading them could run arbitrary code") from None
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint (truncated or corrupt): {_first_line(exc)}") from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, ValueError, OSError, IndexError, KeyError) as exc:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint (truncated or corrupt): {_first_line(exc)}") from None
    state = _unwrap(obj, path)
    check_finite(state, str(path))
    return state, {}


def check_finite(state: dict[str, torch.Tensor], source: str) -> None:
    """Weights that cannot be right: a CheckpointError naming every tensor holding NaN or inf."""
    from ..edges import nonfinite_tensors

    bad = nonfinite_tensors(state)
    if bad:
        listed = ", ".join(bad[:MAX_LISTED]) + (f" and {len(bad) - MAX_LISTED} more" if len(bad) > MAX_LISTED else "")
        raise CheckpointError(f"{source} holds non-finite weights (NaN or inf) in {len(bad)} tensor(s): {listed}; a model with "
                              "them cannot compute anything meaningful: pass a checkpoint of a run that did not diverge")


def _first_line(exc: BaseException) -> str:
    """The error's own reason: torch's weights-only errors open with advice to load unsafely, so skip to the detail."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _sniff(path: Path) -> None:
    """torch.save writes a zip archive (legacy: a pickle, protocol byte 0x80); anything else is not a checkpoint."""
    with path.open("rb") as f:
        head = f.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (.pth / .pt: a zip archive or a pickle) nor a .safetensors "
                              f"file; it starts with {head!r}")


def read_safetensors(path: str | Path, what: str = "safetensors checkpoint") -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, header metadata) of a safetensors file; a CheckpointError if it cannot be read."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable {what}: {exc}") from None
    return tensors, meta


def _read_safetensors(path: Path):
    tensors, meta = read_safetensors(path)
    if meta.get("format") == "aq4svit.packed":
        raise CheckpointError(f"{path} is a packed quantized export; load it with aq4svit_lib.quant.load_packed")
    return tensors, meta


def _unwrap(obj, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} holds no state_dict (looked for a tensor dict, or one under {', '.join(WRAPPER_KEYS)})")
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def check_compatible(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Raise one CheckpointError listing every missing / unexpected key and shape mismatch."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: checkpoint {list(state[k].shape)} vs model {list(expected[k].shape)}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    if not (missing or unexpected or shapes):
        return
    parts = [f"{source} does not match the model ({type(model).__name__}):"]
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)):
        if items:
            listed = "\n    ".join(items[:MAX_LISTED])
            more = f"\n    ... and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
            parts.append(f"  {len(items)} {title}:\n    {listed}{more}")
    hint = getattr(model, "default_cfg", {}).get("family")
    if hint == "sdtv2" and any(k.startswith("head_kd") for k in unexpected + missing):
        parts.append("  hint: the checkpoint and the model disagree on the kd head; pass kd=True/False (--kd)")
    raise CheckpointError("\n".join(parts))


def load_checkpoint(model: nn.Module, path: str | Path, strict: bool = True) -> dict:
    """Load weights into ``model``; return the file's metadata (empty for official files)."""
    state, meta = read_state_dict(path)
    if strict:
        check_compatible(model, state, str(path))
    else:
        expected = model.state_dict()
        state = {k: v for k, v in state.items() if k in expected and v.shape == expected[k].shape}
    model.load_state_dict(state, strict=strict)
    return meta


def save_checkpoint(model: nn.Module, path: str | Path, **metadata) -> Path:
    """Save the state_dict as safetensors; model name, arguments and ``metadata`` go in the header."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = getattr(model, "default_cfg", {})
    meta = {"format": "aq4svit.checkpoint", "model": cfg.get("name", ""), "kwargs": json.dumps(cfg.get("kwargs", {}))}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return path
