"""What a computed number depends on besides its inputs: the package code and the library versions.

Caches key on these instead of a hand-bumped version number, so a change to the code that computes
results (or an upgrade of torch) makes every stale memo entry and result folder miss.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import platform
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
#: Sub-packages / modules whose code can change an accuracy, a drift or a search decision.
ENGINE_SOURCES = ("data", "models", "quant", "evaluate", "decisions")
#: Entry modules of a whole search (run_search) and of QSViT's Algorithm-1 sweep alone.
SEARCH_ENTRY = ("aq4svit_lib.search.run",)
SWEEP_ENTRY = ("aq4svit_lib.search.sensitivity",)


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
def _module_file(name: str) -> Path | None:
    """The source file of an aq4svit_lib module or package (None outside the package)."""
    parts = name.split(".")
    if parts[0] != PACKAGE.name:
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _imports(name: str, file: Path) -> set[str]:
    """aq4svit_lib modules that ``file`` (module ``name``) imports anywhere, including inside functions."""
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # ``from . import x``: x may be a module
    return {m for m in found if _module_file(m) is not None}


@functools.lru_cache(maxsize=32)
def import_closure(*modules: str) -> tuple[str, ...]:
    """``modules`` and every aq4svit_lib module they import, transitively (static: read, not executed).

    A result keys on the code of this closure: what computed it, not the whole package, so editing an
    unrelated module (a plot, another search method) does not discard an hour of sweeps.
    """
    todo, seen = list(modules), set()
    while todo:
        name = todo.pop()
        if name in seen or (file := _module_file(name)) is None:
            continue
        seen.add(name)
        todo.extend(_imports(name, file))
    return tuple(sorted(seen))


@functools.lru_cache(maxsize=32)
def closure_digest(*modules: str) -> str:
    """Hash of the source files of :func:`import_closure` of ``modules``."""
    h = hashlib.sha256()
    for name in import_closure(*modules):
        f = _module_file(name)
        assert f is not None, name  # import_closure keeps only modules with a source file
        h.update(str(f.relative_to(PACKAGE)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def code_identity(*entry: str) -> dict:
    """The code a result depends on: the engine's sub-packages (models are reached through objects, not
    imports, so they are hashed whole) and the import closure of the computation's entry modules."""
    return {"engine": code_digest(ENGINE_SOURCES), "method": closure_digest(*entry)}


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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine(device=None) -> dict:
    """Where a number was computed (JSON-able): CPU model, torch's CPU kernel family (AVX2 / AVX512 / ...), torch
    threads, logical cores, library versions, the device (``cpu`` or the CUDA device's name) and the OS.

    ``device``: the evaluation device (a string or torch.device); None: CUDA's current device when available.
    Results record it to explain timings; they never depend on it (search/results.py HOW_IT_RAN).
    """
    import os

    import torch

    try:
        kernels = str(torch.backends.cpu.get_cpu_capability())
    except Exception:  # older torch or an unusual build
        kernels = "unknown"
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = "cpu"
    if dev.type == "cuda" and torch.cuda.is_available():
        name = torch.cuda.get_device_name(dev.index if dev.index is not None else torch.cuda.current_device())
    elif dev.type != "cpu":
        name = str(dev)
    return {"cpu": _cpu_model(), "cpu_kernels": kernels, "torch_threads": torch.get_num_threads(), "logical_cores": os.cpu_count(),
            **library_versions(), "device": name, "os": platform.platform()}


def machine_line(m: dict | None = None) -> str:
    """``machine()`` as one line: "AMD EPYC 7B13 (AVX512), 2 threads, torch 2.14.1, cpu"."""
    m = m if m is not None else machine()
    return f"{m['cpu']} ({m['cpu_kernels']}), {m['torch_threads']} threads, torch {m['torch']}, {m['device']}"
