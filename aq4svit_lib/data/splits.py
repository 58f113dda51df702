"""Named, deterministic splits: ``train``, ``search``, ``minibatch``, ``verify``, ``test``.

- ``search``: images the searches choose on, drawn with a fixed seed from the training pool
  (Fashion-MNIST: 2000 of the 60000; ImageNet: from ``train/`` if present, else held out of
  ``val/``), in the drawn (random) order.
- ``minibatch``: the first N (default 256) of ``search``; the drift gate's probe set.
- ``verify``: the next ``verify_size`` (default 3000) images of the same draw, disjoint from
  ``search``: a search's final configuration is checked here, on data it did not choose on
  (a search that picks the best of many candidates on one split over-fits that split's noise).
- ``train``: the training pool minus ``search`` and ``verify``. With the defaults that is the pool
  minus the first 5000 drawn images, exactly what the shipped default models were trained on.
- ``test``: the official test set (Fashion-MNIST t10k, ImageNet val minus any held-out search
  images); never used by a search.

``SplitSpec.seed`` chooses WHICH images are held out (search + verify); the shipped default models
were trained without the seed-0 draw, so with them another seed puts training images into
``search``. ``SplitSpec.resample`` instead re-partitions the same held-out images (a seeded
permutation of the draw before it is cut into search and verify): another search split with no
leak. ``resample=0`` keeps the draw's order (every split as before); ``train`` and ``test`` never
depend on it.

A split is identified by :attr:`Split.hash`, a stable hash of (dataset content, pool, indices),
which the evaluator's caches key on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, UsageError, choices
from ..schema import Interval, setting, validate
from . import fashion_mnist as fm

SPLIT_NAMES = ("train", "search", "minibatch", "verify", "test")
# Evaluation batch size. On CPU, 200 images keep a block's activations cache-resident: vs 500,
# sdt_tiny runs 1.5x and sdtv2_tiny 1.1x faster, sdtv3_tiny 0.84x (benchmarks/RESULTS.md,
# bench_models_batch); larger batches suit a GPU.
EVAL_BATCH_SIZE = 200
DATASETS = ("fashion_mnist", "imagenet", "custom")  # custom: a user's Dataset, cut by data/custom.py


@dataclass(frozen=True)
class SplitSpec:
    """Sizes and seed that define the splits (every later cache keys on the result)."""

    search_size: int = setting(2000, Interval(int, 1), "images in the search split")
    minibatch_size: int = setting(256, Interval(int, 1), "images in the drift-gate minibatch (the first of search)")
    seed: int = setting(0, Interval(int, 0), "seed that draws the held-out search + verify images; the shipped models were "
                        "trained without seed 0's draw, so with them another seed puts their training images into search "
                        "(use --resample)", flag="--split-seed")
    verify_size: int = setting(3000, Interval(int, 0), "images in the verify split, disjoint from search, that checks a "
                               "search's answer (0: none)")
    test_size: int | None = setting(None, Interval(int, 1), "the test set's first N images (quick profiles only)",
                                    none="the whole test set", cli=False)
    resample: int = setting(0, Interval(int, 0), "re-partition the same held-out images into search and verify with this "
                            "seed (0: the draw's order); another search split without leaking training images")

    def __post_init__(self):
        validate(self)
        if self.minibatch_size > self.search_size:
            raise UsageError(f"minibatch_size {self.minibatch_size} exceeds search_size {self.search_size}")


@dataclass(eq=False)
class Split:
    """A fixed, ordered list of examples of one pool, iterated in the same batches every time."""

    dataset: str
    name: str
    pool: str
    indices: np.ndarray
    fingerprint: str
    _fetch: Callable[[np.ndarray, int], Iterator[tuple[torch.Tensor, torch.Tensor]]] = field(repr=False)
    _labels: Callable[[np.ndarray], torch.Tensor] = field(repr=False)

    def __len__(self) -> int:
        return len(self.indices)

    @cached_property
    def hash(self) -> str:
        h = hashlib.sha256(f"{self.dataset}|{self.fingerprint}|{self.pool}|".encode())
        h.update(np.ascontiguousarray(self.indices, dtype=np.int64).tobytes())
        return h.hexdigest()[:16]

    @cached_property
    def labels(self) -> torch.Tensor:
        return self._labels(self.indices)

    def batches(self, batch_size: int = 256) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(images, labels) batches in split order; batch k always holds the same examples."""
        return self._fetch(self.indices, batch_size)

    def head(self, n: int, name: str) -> Split:
        """The first ``n`` examples as a split of their own (how ``minibatch`` is made)."""
        if n > len(self):
            raise DataError(f"split {self.name!r} has {len(self)} examples, fewer than the {n} requested")
        return Split(self.dataset, name, self.pool, self.indices[:n], self.fingerprint, self._fetch, self._labels)

    def reordered(self, order) -> Split:
        """The same examples in another order (same name; a different hash, as batches differ)."""
        order = np.asarray(order, dtype=np.int64)
        if sorted(order.tolist()) != list(range(len(self))):
            raise ValueError("order must be a permutation of the split's positions")
        return Split(self.dataset, self.name, self.pool, self.indices[order], self.fingerprint, self._fetch, self._labels)

    def describe(self) -> dict:
        return {"dataset": self.dataset, "split": self.name, "pool": self.pool, "size": len(self), "hash": self.hash}


def _draw(pool_size: int, k: int, seed: int) -> np.ndarray:
    if k >= pool_size:
        raise DataError(f"cannot draw {k} search + verify images from a pool of {pool_size}: nothing would be left to train on")
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(pool_size, generator=g)[:k].numpy()


def _held_out(pool_size: int, spec: SplitSpec) -> tuple[np.ndarray, np.ndarray]:
    """(search, verify) indices: one seeded draw, search first, so search(k) is a prefix of search(k' > k).

    ``spec.resample`` > 0 permutes the drawn images (torch generator seeded with it) before the cut: the same
    held-out set, partitioned differently (the prefix property then holds per resample only).
    """
    drawn = _draw(pool_size, spec.search_size + spec.verify_size, spec.seed)
    if spec.resample:
        g = torch.Generator().manual_seed(spec.resample)
        drawn = drawn[torch.randperm(len(drawn), generator=g).numpy()]
    return drawn[: spec.search_size], drawn[spec.search_size :]


def _rest(pool_size: int, drawn: np.ndarray) -> np.ndarray:
    mask = np.ones(pool_size, dtype=bool)
    mask[drawn] = False
    return np.flatnonzero(mask)


# -- Fashion-MNIST ----------------------------------------------------------------------------
class _TensorPool:
    """One Fashion-MNIST pool held as a single uint8 tensor; batches are slices, not PIL items."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.targets = images, labels

    def fetch(self, indices: np.ndarray, batch_size: int):
        idx = torch.from_numpy(np.asarray(indices, dtype=np.int64))
        for start in range(0, len(idx), batch_size):
            sel = idx[start : start + batch_size]
            yield fm.normalize(self.images[sel]), self.targets[sel]

    def labels(self, indices: np.ndarray) -> torch.Tensor:
        return self.targets[torch.from_numpy(np.asarray(indices, dtype=np.int64))]


def fashion_mnist_splits(spec: SplitSpec = SplitSpec(), root=None, download: bool = False) -> dict[str, Split]:
    data = fm.load_fashion_mnist(root, download)
    train_pool = _TensorPool(data.train_images, data.train_labels)
    test_pool = _TensorPool(data.test_images, data.test_labels)
    n_train = len(data.train_labels)
    search_idx, verify_idx = _held_out(n_train, spec)

    def make(name, pool_name, pool, indices):
        return Split("fashion_mnist", name, pool_name, indices, data.fingerprint, pool.fetch, pool.labels)

    search = make("search", "train", train_pool, search_idx)
    splits = {
        "train": make("train", "train", train_pool, _rest(n_train, np.concatenate([search_idx, verify_idx]))),
        "search": search,
        "minibatch": search.head(spec.minibatch_size, "minibatch"),
        "verify": make("verify", "train", train_pool, verify_idx),
        "test": make("test", "test", test_pool, np.arange(len(data.test_labels))[: spec.test_size]),
    }
    return _drop_empty_verify(splits)


def _drop_empty_verify(splits: dict[str, Split]) -> dict[str, Split]:
    if "verify" in splits and len(splits["verify"]) == 0:
        splits.pop("verify")
    return splits


# -- ImageNet ---------------------------------------------------------------------------------
class _FolderPool:
    def __init__(self, folder, num_workers: int):
        self.folder, self.num_workers = folder, num_workers

    def fetch(self, indices: np.ndarray, batch_size: int):
        from torch.utils.data import DataLoader, Subset

        loader = DataLoader(
            Subset(self.folder, [int(i) for i in indices]),
            batch_size=batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
        )
        yield from loader

    def labels(self, indices: np.ndarray) -> torch.Tensor:
        targets = np.asarray(self.folder.targets)
        return torch.from_numpy(targets[np.asarray(indices, dtype=np.int64)].astype(np.int64))


def _folder_fingerprint(folder) -> str:
    """Hash of the file list and labels (reading 50k JPEGs to hash them would take minutes)."""
    h = hashlib.sha256()
    for path, target in folder.samples:
        h.update(f"{Path(path).name}:{target};".encode())
    return h.hexdigest()[:16]


def imagenet_splits(root, family: str, spec: SplitSpec = SplitSpec(), num_workers: int | None = None) -> dict[str, Split]:
    from .imagenet import image_folder

    if num_workers is None:
        num_workers = min(8, os.cpu_count() or 1)
    val = image_folder(root, "val", family)
    val_pool = _FolderPool(val, num_workers)
    fp = _folder_fingerprint(val)
    if (Path(root).expanduser() / "train").is_dir():
        train = image_folder(root, "train", family)
        train_pool = _FolderPool(train, num_workers)
        train_fp = _folder_fingerprint(train)
        search_idx, verify_idx = _held_out(len(train), spec)
        search = Split("imagenet", "search", "train", search_idx, train_fp, train_pool.fetch, train_pool.labels)
        verify = Split("imagenet", "verify", "train", verify_idx, train_fp, train_pool.fetch, train_pool.labels)
        test_idx = np.arange(len(val))
        rest = _rest(len(train), np.concatenate([search_idx, verify_idx]))
        train_split = Split("imagenet", "train", "train", rest, train_fp, train_pool.fetch, train_pool.labels)
    else:  # hold the search and verify images out of val, report on the rest
        search_idx, verify_idx = _held_out(len(val), spec)
        search = Split("imagenet", "search", "val", search_idx, fp, val_pool.fetch, val_pool.labels)
        verify = Split("imagenet", "verify", "val", verify_idx, fp, val_pool.fetch, val_pool.labels)
        test_idx = _rest(len(val), np.concatenate([search_idx, verify_idx]))
        train_split = None
    splits = {
        "search": search,
        "minibatch": search.head(spec.minibatch_size, "minibatch"),
        "verify": verify,
        "test": Split("imagenet", "test", "val", test_idx[: spec.test_size], fp, val_pool.fetch, val_pool.labels),
    }
    if train_split is not None:
        splits["train"] = train_split
    return _drop_empty_verify(splits)


def load_splits(dataset: str = "fashion_mnist", spec: SplitSpec = SplitSpec(), *, root=None, download: bool = False, family: str | None = None, num_workers: int | None = None) -> dict[str, Split]:
    if dataset == "fashion_mnist":
        return fashion_mnist_splits(spec, root, download)
    if dataset == "imagenet":
        if root is None:
            raise UsageError("the imagenet dataset needs a root folder (--imagenet-root)")
        return imagenet_splits(root, family or "sdtv2", spec, num_workers)
    if dataset == "custom":
        from .custom import user_splits

        return user_splits(root, spec, num_workers or 0)
    raise UsageError(f"unknown dataset {dataset!r}; valid datasets: {choices(DATASETS)}")


def get_split(name: str, dataset: str = "fashion_mnist", spec: SplitSpec = SplitSpec(), **kwargs) -> Split:
    """One named split; an unknown name raises an error listing the valid ones."""
    if name not in SPLIT_NAMES:
        raise UsageError(f"unknown split {name!r}; valid splits: {', '.join(SPLIT_NAMES)}")
    splits = load_splits(dataset, spec, **kwargs)
    if name not in splits:
        raise DataError(f"split {name!r} is not available for {dataset} here (no train/ folder)")
    return splits[name]
