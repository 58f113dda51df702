"""What a computed number depends on besides its inputs: the package code and the library versions.

Caches key on these instead of a hand-bumped version number, so a change to the code that computes
results (or an upgrade of torch) makes every stale memo entry and result folder miss.
"""

from __future__ import annotations

import functools
import hashlib
import platform
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
#: Sub-packages / modules whose code can change an accuracy, a drift or a search decision.
ENGINE_SOURCES = ("data", "models", "quant", "evaluate")
SEARCH_SOURCES = ENGINE_SOURCES + ("search",)


@functools.lru_cache(maxsize=8)
def code_digest(parts: tuple[str, ...] = ENGINE_SOURCES) -> str:
    """Hash of the source files of ``parts`` (sub-packages or modules of aq4svit_lib)."""
    h = hashlib.sha256()
    for part in parts:
        root = PACKAGE / part
        files = sorted(root.rglob("*.py")) if root.is_dir() else [PACKAGE / f"{part}.py"]
        for f in files:
            h.update(str(f.relative_to(PACKAGE)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def library_versions() -> dict:
    import numpy
    import torch

    return {"torch": torch.__version__, "numpy": numpy.__version__, "python": platform.python_version()}


def engine_version() -> str:
    """The evaluation engine's identity in memo keys: its code and the numeric libraries."""
    v = library_versions()
    return f"{code_digest(ENGINE_SOURCES)}|torch {v['torch']}|numpy {v['numpy']}"


def file_digest(path: str | Path) -> str:
    """Hash of a checkpoint's content: for safetensors, its tensors (names, dtypes, shapes, values) in name
    order, so re-saving the same weights keeps the key; for other files, their bytes."""
    h = hashlib.sha256()
    if str(path).endswith(".safetensors"):
        import torch
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            for key in sorted(f.keys()):
                t = f.get_tensor(key).contiguous()
                h.update(f"{key}|{t.dtype}|{tuple(t.shape)};".encode())
                h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        return h.hexdigest()[:16]
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]
