"""MNIST as train/validation splits of flattened images in [0, 1].

Two sources:

* :func:`load_default` -- a subset embedded in the package, built from the 10,000-image MNIST test
  set: train = test images 0-4999, validation = test images 5000-9999. Needs no download.
* :func:`load_mnist` -- the full MNIST from a folder holding the four original IDX files, split as
  in the paper: train = the first ``train_size`` training images (5000 by default), validation =
  the 10,000 test images.

:func:`load_data` picks one of the two from an optional folder. MNIST is by Yann LeCun, Corinna
Cortes and Christopher J.C. Burges, under CC BY-SA 3.0; see ``MNIST_NOTICE.md`` next to this module.

Example:
    >>> split = load_default()
    >>> split.train.images.shape, split.train.images.dtype
    ((5000, 784), dtype('float32'))
    >>> split.validation.name, split.validation.labels[:5]
    ('default-validation', array([3, 9, 9, 8, 4]))
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from qiskit_natural_qnn.data.idx import read_idx
from qiskit_natural_qnn.exceptions import DamagedFileError, DataNotFoundError, InputError

__all__ = [
    "IMAGE_SHAPE",
    "N_PIXELS",
    "Dataset",
    "MNISTSplit",
    "load_default",
    "load_mnist",
    "load_data",
    "take",
]

IMAGE_SHAPE = (28, 28)
"""Height and width of an MNIST image."""

N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
"""Number of pixels of a flattened MNIST image (784)."""

DEFAULT_TRAIN_SIZE = 5000
"""Training images the paper uses (the first 5000 of the 60,000)."""

_DEFAULT_RESOURCE = "mnist_default.npz"
_DEFAULT_SOURCE = (
    "embedded MNIST subset (qiskit_natural_qnn/data/mnist_default.npz): "
    "train = MNIST test images 0-4999, validation = MNIST test images 5000-9999 "
    "(MNIST by Y. LeCun, C. Cortes and C.J.C. Burges, CC BY-SA 3.0)"
)

# (role, candidate base names); each base name is also tried with a ".gz" suffix.
_MNIST_FILES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


class Dataset(NamedTuple):
    """Labelled MNIST images, flattened.

    Example:
        >>> ds = take(load_default().train, 3)
        >>> ds.images.shape, ds.labels.tolist(), ds.name
        ((3, 784), [7, 2, 1], 'default-train[:3]')
    """

    images: np.ndarray
    """``float32`` array of shape ``(n, 784)``: row-major 28x28 pixels scaled to [0, 1]
    (the ``uint8`` value divided by 255)."""

    labels: np.ndarray
    """``int64`` array of shape ``(n,)``: the digit shown in each image, 0 to 9."""

    name: str
    """Short name of the data, e.g. ``"default-train"`` or ``"mnist-validation"``."""


class MNISTSplit(NamedTuple):
    """A training set and a validation set, with where they come from."""

    train: Dataset
    """The images to train on."""

    validation: Dataset
    """The held-out images to measure accuracy on."""

    source: str
    """Human-readable description of the files and of the split."""


def _to_dataset(images: np.ndarray, labels: np.ndarray, name: str, where: str) -> Dataset:
    """Check ``uint8`` IDX arrays and turn them into a :class:`Dataset`."""
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DamagedFileError(f"{where}: expected images of shape (n, 28, 28), got {images.shape}")
    if labels.shape != images.shape[:1]:
        raise DamagedFileError(
            f"{where}: {images.shape[0]} images but {labels.shape[0]} labels; "
            "the image and label files must come from the same MNIST set"
        )
    if labels.size and int(labels.max()) > 9:
        raise DamagedFileError(f"{where}: labels must be digits 0-9, found {int(labels.max())}")
    flat = images.reshape(images.shape[0], N_PIXELS).astype(np.float32) / np.float32(255)
    return Dataset(images=flat, labels=labels.astype(np.int64), name=name)


@functools.lru_cache(maxsize=1)
def _default_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The embedded ``uint8`` arrays, read once and made read-only."""
    resource = importlib.resources.files(__package__).joinpath(_DEFAULT_RESOURCE)
    if not resource.is_file():
        raise DataNotFoundError(
            f"the embedded MNIST subset {_DEFAULT_RESOURCE!r} is missing from the package "
            f"folder {str(resource)!r}; reinstall qiskit-natural-qnn, or rebuild it with "
            "scripts/build_default_subset.py"
        )
    keys = ("train_images", "train_labels", "validation_images", "validation_labels")
    try:
        with resource.open("rb") as file, np.load(file, allow_pickle=False) as npz:
            arrays = tuple(npz[key] for key in keys)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise DamagedFileError(
            f"the embedded MNIST subset {str(resource)!r} is corrupt ({exc}); reinstall "
            "qiskit-natural-qnn, or rebuild it with scripts/build_default_subset.py"
        ) from exc
    for array in arrays:
        array.setflags(write=False)
    return arrays


def load_default() -> MNISTSplit:
    """Load the MNIST subset embedded in the package.

    Train = MNIST test images 0-4999, validation = MNIST test images 5000-9999, pixel for pixel as
    in the original ``t10k-*`` IDX files. Each call returns new arrays that the caller owns.

    Returns:
        The split, with datasets named ``"default-train"`` and ``"default-validation"``.

    Raises:
        DataNotFoundError: the package was installed without ``mnist_default.npz``.
        DamagedFileError: ``mnist_default.npz`` is corrupt.

    Example:
        >>> split = load_default()
        >>> split.train.images.shape
        (5000, 784)
        >>> len(split.validation.labels), sorted(set(split.validation.labels.tolist()))
        (5000, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    train_images, train_labels, val_images, val_labels = _default_arrays()
    where = f"embedded {_DEFAULT_RESOURCE}"
    return MNISTSplit(
        train=_to_dataset(train_images, train_labels, "default-train", where),
        validation=_to_dataset(val_images, val_labels, "default-validation", where),
        source=_DEFAULT_SOURCE,
    )


def _find_file(directory: Path, base_names: tuple[str, ...]) -> Path | None:
    for base in base_names:
        for name in (base, base + ".gz"):
            if (directory / name).is_file():
                return directory / name
    return None


def _check_train_size(train_size: int | None) -> None:
    if train_size is None:
        return
    if isinstance(train_size, bool) or not isinstance(train_size, (int, np.integer)):
        raise InputError(
            f"train_size must be a positive integer or None, got {type(train_size).__name__} {train_size!r}"
        )
    if train_size < 1:
        raise InputError(f"train_size must be at least 1 (or None for all), got {train_size}")


def load_mnist(directory: str | os.PathLike[str], *, train_size: int | None = 5000) -> MNISTSplit:
    """Load the full MNIST from a folder and split it as in the paper.

    The folder must hold the four original IDX files, gzip-compressed or raw:
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``, each optionally ending in ``.gz``; the variant spelling
    ``train-images.idx3-ubyte`` (a dot before ``idx``) is accepted too.

    Args:
        directory: the folder holding the files.
        train_size: how many of the 60,000 training images to train on, taken from the start;
            ``None`` for all of them.

    Returns:
        The split: train = the first ``train_size`` training images (named ``"mnist-train"``),
        validation = all test images (named ``"mnist-validation"``).

    Raises:
        InputError: ``train_size`` is not a positive integer or ``None``, or exceeds the number of
            training images.
        DataNotFoundError: ``directory`` does not exist, or lacks some of the four files.
        DamagedFileError: a file is corrupt or truncated, or image and label counts differ.
    """
    _check_train_size(train_size)
    directory = Path(directory)
    looked_for = ", ".join(f"{names[0]}[.gz]" for names in _MNIST_FILES.values())
    remedy = (
        "download the four MNIST IDX files (http://yann.lecun.com/exdb/mnist/) into it, "
        "or use load_default() for the embedded 5000/5000 subset of the MNIST test set"
    )
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise DataNotFoundError(
            f"MNIST directory {str(directory)!r} {what}; expected it to hold {looked_for}: create it and {remedy}"
        )
    found_paths = {role: _find_file(directory, names) for role, names in _MNIST_FILES.items()}
    missing = [f"{_MNIST_FILES[role][0]}[.gz]" for role, path in found_paths.items() if path is None]
    if missing:
        test_images, test_labels = found_paths["test_images"], found_paths["test_labels"]
        if test_images is not None and test_labels is not None and len(missing) == 2:
            raise DataNotFoundError(
                f"MNIST directory {str(directory)!r} holds only the test set "
                f"({test_images.name}, {test_labels.name}) and lacks the "
                f"training files {' and '.join(missing)}; the paper's split trains on the "
                "training set, so add those two files, or use load_default(), which embeds a "
                "5000/5000 train/validation split of exactly these test files"
            )
        found = sorted(entry.name for entry in directory.iterdir())
        found_text = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if found[10:] else "")
        raise DataNotFoundError(
            f"MNIST directory {str(directory)!r} lacks {', '.join(missing)}; looked for "
            f"{looked_for} (or the 'train-images.idx3-ubyte' spelling); found "
            f"{found_text or 'nothing'}: {remedy}"
        )
    paths = {role: path for role, path in found_paths.items() if path is not None}
    train_images = read_idx(paths["train_images"], ndim=3)
    train_labels = read_idx(paths["train_labels"], ndim=1)
    n_train = train_images.shape[0]
    if train_size is not None and train_size > n_train:
        raise InputError(
            f"train_size must be at most {n_train} (the training images in "
            f"{str(paths['train_images'])!r}), got {train_size}"
        )
    n = n_train if train_size is None else int(train_size)
    train = _to_dataset(train_images, train_labels, "mnist-train", str(directory))
    if n < n_train:
        train = Dataset(train.images[:n].copy(), train.labels[:n].copy(), train.name)
    validation = _to_dataset(
        read_idx(paths["test_images"], ndim=3),
        read_idx(paths["test_labels"], ndim=1),
        "mnist-validation",
        str(directory),
    )
    source = (
        f"MNIST IDX files in {str(directory)!r}: train = training images 0-{n - 1} "
        f"({n} of {n_train}), validation = all {len(validation.labels)} test images "
        "(MNIST by Y. LeCun, C. Cortes and C.J.C. Burges, CC BY-SA 3.0)"
    )
    return MNISTSplit(train=train, validation=validation, source=source)


def load_data(data_dir: str | os.PathLike[str] | None = None) -> MNISTSplit:
    """Load MNIST from ``data_dir``, or the embedded subset when it is ``None``.

    Args:
        data_dir: a folder for :func:`load_mnist` (with its default ``train_size`` of 5000), or
            ``None`` for :func:`load_default`.

    Returns:
        The train/validation split.

    Raises:
        DataNotFoundError: see :func:`load_default` and :func:`load_mnist`.
        DamagedFileError: see :func:`load_default` and :func:`load_mnist`.

    Example:
        >>> load_data().train.name
        'default-train'
    """
    if data_dir is None:
        return load_default()
    return load_mnist(data_dir)


def take(dataset: Dataset, n: int) -> Dataset:
    """The first ``n`` examples of a dataset, as new arrays.

    Args:
        dataset: the dataset to cut.
        n: how many examples to keep, from 1 to the size of ``dataset``.

    Returns:
        A dataset named ``"<name>[:n]"``.

    Raises:
        InputError: ``n`` is not an integer, is below 1, or exceeds the size of ``dataset``.

    Example:
        >>> take(load_default().validation, 2).labels
        array([3, 9])
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InputError(f"n must be an integer, got {type(n).__name__} {n!r}")
    size = len(dataset.labels)
    if n < 1:
        raise InputError(f"n must be at least 1, got {n}")
    if n > size:
        raise InputError(f"n must be at most {size}, the size of {dataset.name!r}, got {n}")
    return Dataset(
        images=dataset.images[:n].copy(),
        labels=dataset.labels[:n].copy(),
        name=f"{dataset.name}[:{int(n)}]",
    )
