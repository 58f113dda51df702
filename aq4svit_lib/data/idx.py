"""Reader for the IDX format of (Fashion-)MNIST, validating every header field.

IDX: 2 zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions, then one
big-endian uint32 per dimension, then the data. Images have magic 2051 (3 dims), labels 2049
(1 dim). Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from ..errors import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def read_idx(path: str | Path, expected_magic: int) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into a uint8 array; raise DataError on any defect."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"cannot read {path}: {exc} (the file is truncated or not gzip data)") from None
    if len(raw) < 4:
        raise DataError(f"{path} is too short to be an IDX file ({len(raw)} bytes)")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expected_magic:
        raise DataError(f"{path}: wrong IDX magic number {magic}, expected {expected_magic}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims)) + header
    if len(raw) != expected:
        raise DataError(f"{path}: size {len(raw)} bytes does not match its header {dims} ({expected} bytes); the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_image_label_pair(images: Path, labels: Path, num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    x = read_idx(images, IMAGES_MAGIC)
    y = read_idx(labels, LABELS_MAGIC)
    if x.ndim != 3:
        raise DataError(f"{images}: expected 3 dimensions (count, rows, cols), got {x.ndim}")
    if len(x) != len(y):
        raise DataError(f"{images} has {len(x)} images but {labels} has {len(y)} labels")
    if y.size and int(y.max()) >= num_classes:
        raise DataError(f"{labels}: label {int(y.max())} outside 0..{num_classes - 1}")
    return x, y
