"""What every ``qnqnn`` subcommand handler shares when it runs: the torch device, the MNIST images, exit statuses.

* :func:`choose_device` checks ``--device`` (default: ``cuda`` when available, else ``cpu``).
* :func:`load_split` and :func:`load_image_set` read ``--data-dir`` (default: the embedded subset),
  ``--train-size``, ``--limit`` and ``--split``.
* :func:`check_outputs` checks every output option of a command (``--out``, ``--results-dir``,
  ``--record``, ``--output``, ``--plot``) before any work, with
  :func:`~qiskit_natural_qnn.io.files.check_output_path`.
* :func:`run_handler` runs a parsed subcommand after :func:`check_outputs`: a library error (any
  :class:`~qiskit_natural_qnn.exceptions.NaturalQNNError`) prints ``error: <message>`` on stderr and
  gives exit status 2, Ctrl-C gives 130.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from qiskit_natural_qnn.data import Dataset, MNISTSplit, load_default, load_mnist, take
from qiskit_natural_qnn.exceptions import ConfigurationError, NaturalQNNError
from qiskit_natural_qnn.io.files import check_output_path

__all__ = ["OUTPUT_OPTIONS", "check_outputs", "choose_device", "load_image_set", "load_split", "run_handler"]

#: Every output option of the ``qnqnn`` commands: its ``args`` name, the option and whether it names a
#: file or a folder. :func:`run_handler` checks each one a command was given before the command runs.
OUTPUT_OPTIONS: dict[str, tuple[str, str]] = {
    "out": ("--out", "dir"),
    "results_dir": ("--results-dir", "dir"),
    "record": ("--record", "file"),
    "output": ("--output", "file"),
    "plot": ("--plot", "file"),
}

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


def check_outputs(args: argparse.Namespace) -> None:
    """Check every output option of :data:`OUTPUT_OPTIONS` that ``args`` holds, before any work.

    A folder option must not be an existing file, a file option not a folder or a link; the folder
    that will hold the output must be writable and its disk not full
    (:func:`~qiskit_natural_qnn.io.files.check_output_path`). A run record's results folder
    (``<record>.results``) must be a folder too.

    Raises:
        ConfigurationError: the first path that fails, named with its option and the fix.

    Example:
        >>> check_outputs(argparse.Namespace(out=None, plot=None, shots=3))  # nothing to check
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile() as f:
        ...     check_outputs(argparse.Namespace(out=f.name))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: --out '...' is an existing file, expected a folder; ...
    """
    for name, (option, kind) in OUTPUT_OPTIONS.items():
        value = getattr(args, name, None)
        if value is None:
            continue
        check_output_path(value, kind=kind, option=option)
        if name == "record":
            results = Path(value).with_name(Path(value).name + ".results")
            check_output_path(results, kind="dir", option=f"{option} results folder")
            if results.is_symlink():
                raise ConfigurationError(
                    f"{option} results folder {str(results)!r} is a symbolic link; the run's results are never "
                    "written through a link: remove it or pass another --record"
                )


def run_handler(args: argparse.Namespace) -> int:
    """Check the output options (:func:`check_outputs`), run the subcommand (``args.handler(args)``), return its status.

    Returns:
        The handler's status (0 on success); 2 for a library error (a bad output path included),
        printed as ``error: <message>`` on stderr without a traceback; 130 when interrupted (Ctrl-C).

    Example:
        >>> def fail(args):
        ...     raise ConfigurationError("--epochs must be >= 1, got 0")
        >>> run_handler(argparse.Namespace(handler=fail))
        2
    """
    try:
        check_outputs(args)
        return int(args.handler(args))
    except NaturalQNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
