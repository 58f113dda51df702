"""ImageNet-1k in ImageFolder layout (``<root>/val/<wnid>/*.JPEG``, optional ``<root>/train``).

The evaluation transform is the official one of each backbone family (sdt_architecture.md
section 5): bicubic resize of the short side to 235 (SDT v1, crop_pct 0.95), 256 (v2) or 232 (v3),
center crop 224, ImageNet mean / std.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError, UsageError, choices

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
RESIZE = {"sdt": 235, "sdtv2": 256, "sdtv3": 232}


def eval_transform(family: str, crop: int = 224):
    from torchvision import transforms as T

    if family not in RESIZE:
        raise UsageError(f"unknown model family {family!r}; valid: {choices(RESIZE)}")
    return T.Compose(
        [
            T.Resize(RESIZE[family], interpolation=T.InterpolationMode.BICUBIC),
            T.CenterCrop(crop),
            T.ToTensor(),
            T.Normalize(MEAN, STD),
        ]
    )


def image_folder(root: str | Path, pool: str, family: str):
    """torchvision ImageFolder of ``<root>/<pool>`` with the family's eval transform."""
    from torchvision.datasets import ImageFolder

    if Path(root).expanduser().exists() and not Path(root).expanduser().is_dir():
        raise DataError(f"ImageNet root {root} is a file, not a folder (expected <root>/{pool}/<wnid>/*.JPEG)")
    directory = Path(root).expanduser() / pool
    if not directory.is_dir():
        raise DataError(f"ImageNet folder {directory} does not exist (expected <root>/{pool}/<wnid>/*.JPEG)")
    classes = [p for p in directory.iterdir() if p.is_dir()]
    if not classes:
        raise DataError(f"ImageNet folder {directory} has no class folders (expected <root>/{pool}/<wnid>/*.JPEG)")
    try:
        return ImageFolder(str(directory), transform=eval_transform(family))
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataError(f"ImageNet folder {directory}: {exc}") from None
