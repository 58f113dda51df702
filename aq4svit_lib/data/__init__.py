"""Datasets and named splits (Fashion-MNIST default, ImageNet ImageFolder at full scale, a user's own Dataset)."""

from .custom import dataset_splits
from .fashion_mnist import CLASSES as FASHION_MNIST_CLASSES
from .fashion_mnist import load_fashion_mnist, locate
from .imagenet import eval_transform
from .splits import EVAL_BATCH_SIZE, SPLIT_NAMES, Split, SplitSpec, get_split, load_splits

__all__ = [
    "FASHION_MNIST_CLASSES", "load_fashion_mnist", "locate", "eval_transform",
    "EVAL_BATCH_SIZE", "SPLIT_NAMES", "Split", "SplitSpec", "get_split", "load_splits", "dataset_splits",
]
