"""Checks at the edge: every value a user hands us is validated by its KIND before any work starts.

A user's mistake must end as one :class:`~aq4svit_lib.errors.UsageError` paragraph that names the value
and says what would be right (exit status 2), never as an "internal error" (exit 70, our bugs only).
The kinds:

* paths: :func:`input_file`, :func:`input_dir`, :func:`output_file`, :func:`output_dir` (a directory
  where a file is expected and back, binary or non-UTF-8 text, a path through a regular file, an
  unwritable location, a missing file);
* :func:`model_fits_data`: a model whose input shape / classes do not fit the dataset's;
* :func:`device`: a device name torch does not know or this machine does not have;
* :func:`nonfinite_tensors`: weights that cannot be right (NaN / inf);
* :class:`FolderLock`: two processes writing one result folder at once.

This module imports torch only inside the functions that need it (``aq4svit --help`` stays fast).
"""

from __future__ import annotations

import fcntl
import inspect
import os
import sys
import tempfile
import weakref
from pathlib import Path

from .errors import UsageError, choices


# -- paths ---------------------------------------------------------------------------------------------
def _label(what: str, path) -> str:
    return f"{what} {path}" if what else str(path)


def _blocking_file(path: Path) -> Path | None:
    """The first existing ancestor of ``path`` that is not a folder (a path "through a regular file")."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path(path.anchor or ".")


def input_file(path: str | Path, what: str = "", *, text: bool = False) -> Path:
    """An existing regular file we can read; with ``text`` it must also be UTF-8 text (no NUL bytes)."""
    p = Path(path).expanduser()
    label = _label(what, path)
    through = _blocking_file(p)
    if through is not None:
        raise UsageError(f"{label}: {through} is a file, not a folder, so nothing can lie under it; pass the path of an existing file")
    if not p.exists():
        raise UsageError(f"{label} does not exist; pass the path of an existing file")
    if p.is_dir():
        raise UsageError(f"{label} is a folder, not a file; pass the path of a file{' (JSON / text)' if text else ''}")
    if not p.is_file():
        raise UsageError(f"{label} is not a regular file (a device, socket or pipe); pass the path of a file")
    if not os.access(p, os.R_OK):
        raise UsageError(f"{label} is not readable by this user; fix its permissions or pass another file")
    if text:
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise UsageError(f"{label} cannot be read ({exc.strerror or exc}); pass a readable text file") from None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{label} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}): it looks like a binary "
                             "file; pass a text (JSON) file") from None
        if b"\x00" in data:
            raise UsageError(f"{label} holds NUL bytes: it is a binary file, not text; pass a text (JSON) file")
    return p


def input_dir(path: str | Path, what: str = "") -> Path:
    """An existing folder we can read."""
    p = Path(path).expanduser()
    label = _label(what, path)
    through = _blocking_file(p)
    if through is not None:
        raise UsageError(f"{label}: {through} is a file, not a folder, so nothing can lie under it; pass an existing folder")
    if not p.exists():
        raise UsageError(f"{label}: no such folder; pass an existing folder")
    if not p.is_dir():
        raise UsageError(f"{label} is a file, not a folder; pass a folder")
    if not os.access(p, os.R_OK | os.X_OK):
        raise UsageError(f"{label} is not readable by this user; fix its permissions or pass another folder")
    return p


def _writable_place(p: Path, label: str, kind: str) -> None:
    through = _blocking_file(p)
    if through is not None:
        raise UsageError(f"{label}: {through} is a file, not a folder, so no {kind} can be created under it; "
                         f"pass a {kind} path in a folder")
    target = p if p.exists() else _existing_ancestor(p)
    writable = os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0))
    if writable and target.is_dir():  # os.access cannot see everything (root, special file systems): try it
        try:
            with tempfile.TemporaryFile(dir=target):
                pass
        except OSError:
            writable = False
    if not writable:
        raise UsageError(f"{label}: {target} is not writable by this user (read-only file system or permissions); "
                         f"pass a {kind} path in a writable folder")


def output_file(path: str | Path, what: str = "") -> Path:
    """A file we may (over)write: not a folder, not under a regular file, in a writable place."""
    p = Path(path).expanduser()
    label = _label(what, path)
    if str(path).endswith(("/", os.sep)) or p.is_dir():
        raise UsageError(f"{label} is a folder, not a file; pass a file path (e.g. {p / 'out'}...)")
    if p.exists() and not p.is_file():
        raise UsageError(f"{label} is not a regular file (a device, socket or pipe); pass a file path")
    _writable_place(p, label, "file")
    return p


def output_dir(path: str | Path, what: str = "") -> Path:
    """A folder we may create or write into: not an existing regular file, not under one, writable."""
    p = Path(path).expanduser()
    label = _label(what, path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{label} is an existing file, not a folder; pass a folder path (new or existing)")
    _writable_place(p, label, "folder")
    return p


# -- devices -------------------------------------------------------------------------------------------
def available_devices() -> list[str]:
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        out += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def device(name, what: str = "--device"):
    """``name`` when this machine can evaluate on it (None: the default choice), else a UsageError listing the devices."""
    if name is None or name == "":
        return None
    import torch

    avail = available_devices()
    hint = f"devices available here: {', '.join(avail)}"
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise UsageError(f"{what} {name!r} is not a device name; {hint}") from None
    if dev.type == "cpu":
        return name
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"{what} {name!r}: CUDA is not available on this machine (no GPU or driver, or torch built "
                             f"without CUDA); {hint}")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"{what} {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s); {hint}")
        return name
    if dev.type == "mps" and "mps" in avail:
        return name
    raise UsageError(f"{what} {name!r} is not available for evaluation here; {hint}")


# -- model and data ------------------------------------------------------------------------------------
#: what each dataset feeds a model: channels, image side, classes
DATASET_INPUTS = {
    "fashion_mnist": {"in_channels": 1, "img_size": 28, "num_classes": 10},
    "imagenet": {"in_channels": 3, "img_size": 224, "num_classes": 1000},
}


def model_inputs(model, **overrides) -> dict:
    """in_channels, img_size and num_classes a model (registered name, with ``overrides``, or built model) declares."""
    from .models.registry import FAMILIES, get_entry, model_kwargs

    if isinstance(model, str):
        entry = get_entry(model)
        family, kwargs = entry.family, model_kwargs(model, **overrides)
    else:
        cfg = getattr(model, "default_cfg", None) or {}
        if "family" not in cfg:
            return {}
        family, kwargs = cfg["family"], cfg.get("kwargs", {})
    if family not in FAMILIES:  # a user's network (models/adapter.py): what its wrapper was told, nothing more
        return {k: kwargs[k] for k in DATASET_INPUTS["imagenet"] if k in kwargs}
    params = inspect.signature(FAMILIES[family]).parameters
    out = {}
    for key in DATASET_INPUTS["imagenet"]:
        if key in kwargs:
            out[key] = kwargs[key]
        elif key in params and params[key].default is not inspect.Parameter.empty:
            out[key] = params[key].default
    if isinstance(out.get("img_size"), (tuple, list)):
        out["img_size"] = out["img_size"][0]
    return out


def _shape(d: dict) -> str:
    side = d.get("img_size", "?")
    return f"{side}x{side}x{d.get('in_channels', '?')} input, {d.get('num_classes', '?')} classes"


def model_accepts(net, split, n: int = 2) -> None:
    """Forward the first ``n`` images of ``split``: a model whose input does not fit the data, or whose output has
    fewer classes than the labels, is the user's mismatch, reported as such (exit 2), not a shape error mid-search."""
    import torch

    x, y = next(split.batches(n))
    was_training = net.training
    net.eval()  # a trial forward must not move batch-norm statistics
    try:
        with torch.inference_mode():
            out = net(x)
        if hasattr(net, "check_segments"):
            net.check_segments(x)  # a wrapped network's segments must chain to its own forward
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        name = (getattr(net, "default_cfg", {}) or {}).get("name", type(net).__name__)
        raise UsageError(f"model {name} does not accept this data's input (images {tuple(x.shape)}): {str(exc).splitlines()[0]}; "
                         "the model and the dataset must agree on channels, size and time steps") from None
    finally:
        net.train(was_training)
    classes = out.shape[-1] if out.ndim >= 2 else 0
    labels = int(split.labels.max()) + 1
    if out.ndim != 2 or out.shape[0] != len(x) or classes < labels:
        raise UsageError(f"the model's output {tuple(out.shape)} is not [images, classes] with at least the {labels} classes of the "
                         "data's labels (a network returning [T, N, classes] is averaged over T when wrapped: aq4svit_lib.models.adapter.wrap)")


def model_fits_data(model, dataset: str, **overrides) -> None:
    """Refuse, before anything is loaded or evaluated, a model whose input shape or classes are not the dataset's.

    ``model`` is a registered name (``overrides`` its architecture overrides) or a built model. A user's data or
    network (``custom``, ``module:callable``) declares no shape: a forward of its first images checks it instead
    (:func:`model_accepts`)."""
    from .plugins import names_callable

    if dataset == "custom" or (isinstance(model, str) and names_callable(model)):
        return
    if dataset not in DATASET_INPUTS:
        raise UsageError(f"unknown dataset {dataset!r}; valid datasets: {choices(DATASET_INPUTS)}")
    have = model_inputs(model, **overrides)
    want = DATASET_INPUTS[dataset]
    wrong = [k for k in want if k in have and have[k] != want[k]]
    if not wrong:
        return
    name = model if isinstance(model, str) else (getattr(model, "default_cfg", {}) or {}).get("name", type(model).__name__)
    from .models.registry import REGISTRY

    fitting = [n for n in REGISTRY if all(model_inputs(n).get(k) == v for k, v in want.items())]
    raise UsageError(f"model {name} ({_shape(have)}) does not fit dataset {dataset} ({_shape(want)}); pick a model made for "
                     f"{dataset} ({', '.join(fitting)}) or the dataset the model was made for")


# -- weights -------------------------------------------------------------------------------------------
def nonfinite_tensors(state: dict) -> list[str]:
    """Names (with counts) of the floating tensors holding NaN or inf."""
    import torch

    bad = []
    for key, t in state.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel():
            n = int((~torch.isfinite(t)).sum())
            if n:
                bad.append(f"{key} ({n} of {t.numel()} values)")
    return bad


# -- one writer per result folder ---------------------------------------------------------------------
LOCK_NAME = ".lock"
#: realpath -> this process's lock on it (weak: a lock nobody holds any more is released with its owner)
_HELD: weakref.WeakValueDictionary[str, FolderLock] = weakref.WeakValueDictionary()


def _holder(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    pid = lines[0].strip() if lines else "?"
    command = lines[1].strip() if len(lines) > 1 else "unknown command"
    return f"pid {pid}: {command}"


class FolderLock:
    """``fcntl.flock`` on ``<folder>/.lock``, which holds the owner's pid and command line.

    The lock goes when the owner releases it or exits (also when killed); a second process that asks
    for it gets a UsageError naming the owner. Within one process a new lock on the same folder
    replaces the old one (a resumed search after an interrupted one).
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None

    @staticmethod
    def check(folder: str | Path, what: str = "result folder") -> None:
        """Raise if another process holds ``folder``'s lock (without creating anything)."""
        path = Path(folder) / LOCK_NAME
        if not path.is_file() or os.path.realpath(folder) in _HELD:
            return
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(_busy(folder, path, what)) from None
        finally:
            os.close(fd)

    def acquire(self, what: str = "result folder") -> FolderLock:
        key = os.path.realpath(self.folder)
        old = _HELD.pop(key, None)
        if old is not None:
            old.release()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UsageError(_busy(self.folder, self.path, what)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n{' '.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else '?'}\n".encode())
        self._fd = fd
        _HELD[key] = self
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        key = os.path.realpath(self.folder)
        if _HELD.get(key) is self:
            _HELD.pop(key, None)
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:
            pass


def _busy(folder, path: Path, what: str) -> str:
    return (f"{what} {folder} is in use by another process ({_holder(path)}); wait for it to finish, or pass another "
            "--out (two runs writing one folder would mix their results)")
