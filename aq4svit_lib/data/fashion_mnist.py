"""Fashion-MNIST (Xiao et al. 2017, Zalando), the embedded default dataset.

Look-up order: explicit ``root`` -> env var ``AQ4SVIT_DATA`` -> the Debian package path
(``apt-get install dataset-fashion-mnist``) -> torchvision's cache (downloaded there only when
``download=True``). An explicit root or AQ4SVIT_DATA that lacks the files is an error (no fall-back). A directory counts when it holds the four IDX files (``.gz`` or not), directly
or under ``FashionMNIST/raw`` (torchvision's layout) or ``fashion-mnist/``.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from .idx import read_image_label_pair

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
TORCHVISION_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "torchvision"
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
#: Per-pixel mean / std of the training images (after scaling to [0, 1]).
MEAN, STD = 0.2860, 0.3530
HOW_TO_GET = (
    "Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or let torchvision "
    "download it: `aq4svit data --download` / `load_fashion_mnist(download=True)`, or point "
    "AQ4SVIT_DATA (or --data-root) at a folder with the four IDX files."
)


@dataclass(frozen=True)
class FashionMNIST:
    """Both official pools as uint8 tensors (kept whole: no per-item PIL work)."""

    root: Path
    train_images: torch.Tensor  # [60000, 28, 28] uint8
    train_labels: torch.Tensor  # [60000] int64
    test_images: torch.Tensor  # [10000, 28, 28] uint8
    test_labels: torch.Tensor

    @functools.cached_property
    def fingerprint(self) -> str:
        """Content hash, so caches keyed on it notice a different copy of the data."""
        h = hashlib.sha256()
        for t in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            h.update(t.numpy().tobytes())
        return h.hexdigest()[:16]


def _find_files(directory: Path, pool: str) -> tuple[Path, Path] | None:
    for sub in ("", "FashionMNIST/raw", "fashion-mnist"):
        d = directory / sub
        images, labels = (next((d / (stem + ext) for ext in (".gz", "") if (d / (stem + ext)).is_file()), None)
                          for stem in FILES[pool])
        if images is not None and labels is not None:
            return images, labels
    return None


def candidate_dirs(root: str | Path | None = None) -> list[Path]:
    dirs = []
    if root is not None:
        dirs.append(Path(root).expanduser())
    if os.environ.get("AQ4SVIT_DATA"):
        dirs.append(Path(os.environ["AQ4SVIT_DATA"]).expanduser())
    dirs += [DEBIAN_DIR, TORCHVISION_CACHE]
    return dirs


def locate(root: str | Path | None = None, download: bool = False) -> Path:
    """Return the first directory holding Fashion-MNIST; download into torchvision's cache if allowed.

    An explicit ``root`` (or AQ4SVIT_DATA) is a demand, not a hint: if it lacks the files, that is an
    error, never a silent fall-back to another copy.
    """
    explicit = [(what, Path(d).expanduser()) for what, d in (("--data-root", root), ("AQ4SVIT_DATA", os.environ.get("AQ4SVIT_DATA")))
                if d]
    if explicit:
        what, d = explicit[0]
        if d.exists() and not d.is_dir():
            raise DataError(f"{what} {d} is a file, not a folder; pass the folder that holds Fashion-MNIST's IDX files")
        if not d.is_dir():
            raise DataError(f"{what} {d}: no such folder")
        if not (_find_files(d, "train") and _find_files(d, "test")):
            raise DataError(f"{what} {d} does not hold Fashion-MNIST's four IDX files (train/t10k images and labels, "
                            f"optionally .gz, directly or under FashionMNIST/raw or fashion-mnist/)")
        return d
    tried = candidate_dirs(root)
    for d in tried:
        if _find_files(d, "train") and _find_files(d, "test"):
            return d
    if download:
        _download(TORCHVISION_CACHE)
        if _find_files(TORCHVISION_CACHE, "train") and _find_files(TORCHVISION_CACHE, "test"):
            return TORCHVISION_CACHE
    listing = "\n".join(f"  - {d}" for d in tried)
    raise DataError(f"Fashion-MNIST not found. Paths tried, in order:\n{listing}\n{HOW_TO_GET}")


def _download(target: Path) -> None:
    from torchvision.datasets import FashionMNIST as TVFashionMNIST

    try:
        for train in (True, False):
            TVFashionMNIST(str(target), train=train, download=True)
    except Exception as exc:  # network errors come in many types
        raise DataError(f"downloading Fashion-MNIST into {target} failed: {exc}\n{HOW_TO_GET}") from None


@functools.lru_cache(maxsize=4)
def _load_cached(directory: Path) -> FashionMNIST:
    arrays = {}
    for pool in ("train", "test"):
        found = _find_files(directory, pool)
        if found is None:
            raise DataError(f"{directory} has no Fashion-MNIST {pool} files")
        images, labels = found
        x, y = read_image_label_pair(images, labels, num_classes=len(CLASSES))
        if x.shape[1:] != (28, 28):
            raise DataError(f"{images}: expected 28x28 images, got {x.shape[1:]}")
        arrays[pool] = (torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64)))
    return FashionMNIST(directory, *arrays["train"], *arrays["test"])


def load_fashion_mnist(root: str | Path | None = None, download: bool = False) -> FashionMNIST:
    return _load_cached(locate(root, download).resolve())


def normalize(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float [N, 1, 28, 28], standardised with the training mean / std."""
    return ((images_uint8.float() / 255.0 - MEAN) / STD).unsqueeze(1)
