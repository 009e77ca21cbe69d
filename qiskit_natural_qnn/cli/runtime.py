"""What every ``qnqnn`` subcommand handler shares when it runs: the torch device, the MNIST images, exit statuses.

* :func:`choose_device` checks ``--device`` (default: ``cuda`` when available, else ``cpu``).
* :func:`load_split` and :func:`load_image_set` read ``--data-dir`` (default: the embedded subset),
  ``--train-size``, ``--limit`` and ``--split``.
* :func:`run_handler` runs a parsed subcommand: a library error (any
  :class:`~qiskit_natural_qnn.exceptions.NaturalQNNError`) prints ``error: <message>`` on stderr and
  gives exit status 2, Ctrl-C gives 130.
"""

from __future__ import annotations

import argparse
import sys

import torch

from qiskit_natural_qnn.data import Dataset, MNISTSplit, load_default, load_mnist, take
from qiskit_natural_qnn.exceptions import ConfigurationError, NaturalQNNError

__all__ = ["choose_device", "load_image_set", "load_split", "run_handler"]

#: Training images of the paper's split, taken from the full MNIST when ``--train-size`` is not given.
DEFAULT_TRAIN_SIZE = 5000


def choose_device(requested: str | None) -> str:
    """The torch device to run on: ``requested`` (``--device``), checked, or ``cuda`` if available, else ``cpu``.

    Raises:
        ConfigurationError: a name torch does not know, or ``cuda`` where CUDA is not available.

    Example:
        >>> choose_device("cpu")
        'cpu'
        >>> choose_device("gpu0")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: invalid device 'gpu0' (...); pass cpu or cuda
    """
    name = requested or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigurationError(f"invalid device {name!r} ({exc}); pass cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigurationError(f"device {name!r} requested but CUDA is not available here; pass --device cpu")
    return str(device)


def load_split(data_dir: str | None, *, train_size: int | None = None, limit: int | None = None) -> MNISTSplit:
    """The train/validation split of ``--data-dir`` (default: the embedded subset), cut to ``train_size`` and ``limit``.

    Args:
        data_dir: folder with the full MNIST IDX files (the paper's split), or None for the embedded subset.
        train_size: keep the first this many training images (full MNIST default: 5000).
        limit: keep only the first this many images of each set (smoke tests, hardware budgets).

    Raises:
        DamagedFileError: a missing or malformed MNIST folder (see :func:`~qiskit_natural_qnn.data.load_mnist`).

    Example:
        >>> split = load_split(None, train_size=100, limit=20)
        >>> len(split.train.labels), len(split.validation.labels), split.train.name
        (20, 20, 'default-train[:100][:20]')
    """
    if data_dir is not None:
        split = load_mnist(data_dir, train_size=train_size if train_size is not None else DEFAULT_TRAIN_SIZE)
    else:
        split = load_default()
        if train_size is not None:
            source = split.source + f"; first {train_size} training images"
            split = MNISTSplit(take(split.train, train_size), split.validation, source)
    if limit is not None:
        train = take(split.train, min(limit, len(split.train.labels)))
        validation = take(split.validation, min(limit, len(split.validation.labels)))
        split = MNISTSplit(train, validation, split.source + f"; limited to the first {limit} images of each set")
    return split


def load_image_set(data_dir: str | None, which: str, *, limit: int | None = None) -> Dataset:
    """One set of :func:`load_split`: ``which`` is ``"train"`` or ``"validation"`` (``--split``).

    Example:
        >>> load_image_set(None, "validation", limit=5).name
        'default-validation[:5]'
    """
    split = load_split(data_dir, limit=limit)
    return split.train if which == "train" else split.validation


def run_handler(args: argparse.Namespace) -> int:
    """Run a parsed subcommand (``args.handler(args)``) and return its exit status.

    Returns:
        The handler's status (0 on success); 2 for a library error, printed as ``error: <message>``
        on stderr without a traceback; 130 when interrupted (Ctrl-C).

    Example:
        >>> def fail(args):
        ...     raise ConfigurationError("--epochs must be >= 1, got 0")
        >>> run_handler(argparse.Namespace(handler=fail))
        2
    """
    try:
        return int(args.handler(args))
    except NaturalQNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
