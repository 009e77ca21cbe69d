"""MNIST data: an IDX reader, the embedded default split and the full-MNIST loader.

Example:
    >>> from qiskit_natural_qnn.data import load_data
    >>> split = load_data()  # the embedded subset; load_data("path/to/mnist") for the full set
    >>> split.train.images.shape, split.validation.images.shape
    ((5000, 784), (5000, 784))
"""

from __future__ import annotations

from qiskit_natural_qnn.data.idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, IDX_UBYTE, parse_idx, read_idx
from qiskit_natural_qnn.data.mnist import (
    IMAGE_SHAPE,
    N_PIXELS,
    Dataset,
    MNISTSplit,
    load_data,
    load_default,
    load_mnist,
    take,
)

__all__ = [
    "IDX_IMAGES_MAGIC",
    "IDX_LABELS_MAGIC",
    "IDX_UBYTE",
    "IMAGE_SHAPE",
    "N_PIXELS",
    "Dataset",
    "MNISTSplit",
    "load_data",
    "load_default",
    "load_mnist",
    "parse_idx",
    "read_idx",
    "take",
]
