"""A user's own data: any map-style torch ``Dataset`` (an ``ImageFolder`` too) cut into the named splits by the rules
Fashion-MNIST's follow (data/splits.py): ``search`` and ``verify`` are one seeded draw from the training pool,
``minibatch`` the first images of ``search``, ``train`` the rest of the pool, ``test`` the test pool, never searched on.
Without a training pool, search and verify are held out of the test pool and ``test`` is what remains (as for
ImageNet without ``train/``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ..errors import DataError, UsageError
from ..plugins import load_callable, names_callable
from .splits import Split, SplitSpec, _drop_empty_verify, _held_out, _rest

DATASET = "custom"


class _DatasetPool:
    """Batches of a map-style Dataset in a fixed order (a DataLoader over a Subset: the user's transforms apply)."""

    def __init__(self, dataset, num_workers: int = 0):
        self.dataset, self.num_workers = dataset, num_workers
        self.targets = _targets(dataset)

    def fetch(self, indices: np.ndarray, batch_size: int):
        from torch.utils.data import DataLoader, Subset

        loader = DataLoader(Subset(self.dataset, [int(i) for i in indices]), batch_size=batch_size, shuffle=False,
                            num_workers=self.num_workers)
        for x, y in loader:
            yield x, torch.as_tensor(y, dtype=torch.long)

    def labels(self, indices: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.targets[np.asarray(indices, dtype=np.int64)])


def _targets(dataset) -> np.ndarray:
    """Every label, from ``dataset.targets`` when it has them (torchvision datasets), else by reading each item once."""
    try:
        n = len(dataset)
    except TypeError:
        raise UsageError(f"{type(dataset).__name__} has no length: pass a map-style torch Dataset (or an ImageFolder)") from None
    if n == 0:
        raise UsageError(f"{type(dataset).__name__} is empty")
    raw = getattr(dataset, "targets", None)
    labels = np.asarray(raw if raw is not None and len(raw) == n else [_label(dataset[i]) for i in range(n)])
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise UsageError(f"{type(dataset).__name__}: labels must be non-negative class indices (ints), got {labels.dtype} "
                         f"of shape {labels.shape}")
    return labels.astype(np.int64)


def _label(item) -> int:
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise UsageError("a dataset item must be (image, label); got " + type(item).__name__)
    y = item[1]
    y = y.item() if isinstance(y, torch.Tensor) else y
    if isinstance(y, bool) or not float(y).is_integer():
        raise UsageError(f"labels must be non-negative class indices (ints), got {y!r}")
    return int(y)


def fingerprint(dataset, targets: np.ndarray, probe: int = 8) -> str:
    """Hash of the labels and the first ``probe`` images (hashing every image of a large set would take minutes)."""
    h = hashlib.sha256(f"{type(dataset).__name__}|{len(targets)}|".encode())
    h.update(targets.tobytes())
    for i in range(min(probe, len(targets))):
        x = dataset[i][0]
        h.update(torch.as_tensor(np.asarray(x)).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def dataset_splits(test, train=None, spec: SplitSpec = SplitSpec(), num_workers: int = 0) -> dict[str, Split]:
    """The named splits of a user's data (module docstring); every cache keys on their content hash."""
    test_pool = _DatasetPool(test, num_workers)
    test_fp = fingerprint(test, test_pool.targets)
    if train is not None:
        pool = _DatasetPool(train, num_workers)
        fp, pool_name = fingerprint(train, pool.targets), "train"
    else:
        pool, fp, pool_name = test_pool, test_fp, "test"
    n = len(pool.targets)
    try:
        search_idx, verify_idx = _held_out(n, spec)
    except DataError as exc:
        raise UsageError(f"{exc} (the {pool_name} pool has {n} images; lower --search-size / --verify-size)") from None
    held = np.concatenate([search_idx, verify_idx])

    def make(name, indices, on_pool=pool, on_fp=fp, on_name=pool_name):
        return Split(DATASET, name, on_name, indices, on_fp, on_pool.fetch, on_pool.labels)

    search = make("search", search_idx)
    test_idx = np.arange(len(test_pool.targets)) if train is not None else _rest(n, held)
    splits = {"search": search, "minibatch": search.head(min(spec.minibatch_size, len(search)), "minibatch"),
              "verify": make("verify", verify_idx), "test": make("test", test_idx[: spec.test_size], test_pool, test_fp, "test")}
    if train is not None:
        splits["train"] = make("train", _rest(n, held))
    return _drop_empty_verify(splits)


def user_splits(source, spec: SplitSpec = SplitSpec(), num_workers: int = 0) -> dict[str, Split]:
    """A user's data named on the command line (``--dataset custom --data-root SOURCE``): a folder with ``test/`` (or
    ``val/``) and optionally ``train/`` in ImageFolder layout (images as tensors, no other transform), or
    ``module:callable`` returning a test Dataset or a (test, train) pair."""
    from pathlib import Path

    if source is None:
        raise UsageError("--dataset custom needs --data-root: an ImageFolder root (test/ and optionally train/) or module:callable")
    source = str(source)
    if names_callable(source):
        made = load_callable(source, "--data-root")
        made = made() if callable(made) else made
        test, train = made if isinstance(made, tuple) else (made, None)
        return dataset_splits(test, train, spec, num_workers)
    from torchvision import datasets, transforms

    root = Path(source).expanduser()
    test_dir = next((root / d for d in ("test", "val") if (root / d).is_dir()), None)
    if test_dir is None:
        raise UsageError(f"--data-root {root}: expected a test/ (or val/) folder of class subfolders (ImageFolder layout)")
    to_tensor = transforms.ToTensor()
    test = datasets.ImageFolder(str(test_dir), transform=to_tensor)
    train = datasets.ImageFolder(str(root / "train"), transform=to_tensor) if (root / "train").is_dir() else None
    return dataset_splits(test, train, spec, num_workers)
