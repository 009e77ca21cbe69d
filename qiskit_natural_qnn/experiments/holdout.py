"""A held-out split: choose options on images taken from the training set, never on the validation images.

Choosing a training option (stretch, surrogate, epochs, averaging, learning rate) by the validation
error and then reporting that same validation error flatters the choice. :func:`holdout_split` keeps
the last ``n`` training images apart as the validation set of a sweep (``qnqnn sweep --holdout N``)
and trains on the others; the chosen configuration is then trained on every training image and
scored once on the real validation set.

Example:
    >>> from qiskit_natural_qnn.data import load_default
    >>> split = holdout_split(load_default(), 1000)
    >>> len(split.train.labels), len(split.validation.labels), split.train.name, split.validation.name
    (4000, 1000, 'default-train[:4000]', 'default-train[4000:5000]')
"""

from __future__ import annotations

from typing import Any

from qiskit_natural_qnn.checks import is_int
from qiskit_natural_qnn.data import Dataset, MNISTSplit
from qiskit_natural_qnn.exceptions import ConfigurationError

__all__ = ["holdout_split"]


def holdout_split(split: Any, n: int) -> MNISTSplit:
    """Train on the first images of ``split.train`` and validate on its last ``n``; ``split.validation`` is unused.

    Args:
        split: an :class:`~qiskit_natural_qnn.data.MNISTSplit` (or any object with ``train`` and ``source``).
        n: the held-out images, ``1 <= n < len(split.train)``.

    Returns:
        The new split; its datasets are named ``<train>[:k]`` and ``<train>[k:k+n]`` (copies).

    Raises:
        ConfigurationError: ``n`` is not an int in ``[1, len(split.train))``.
    """
    train: Dataset = split.train
    size = len(train.labels)
    if not is_int(n) or not 1 <= n < size:
        raise ConfigurationError(
            f"the held-out images must be an int from 1 to {size - 1} (the training set has {size} images), "
            f"got {n!r}; pass e.g. --holdout {max(1, size // 5)}"
        )
    k = size - int(n)
    return MNISTSplit(
        train=Dataset(train.images[:k].copy(), train.labels[:k].copy(), f"{train.name}[:{k}]"),
        validation=Dataset(train.images[k:].copy(), train.labels[k:].copy(), f"{train.name}[{k}:{size}]"),
        source=f"{split.source}; validation = the last {n} training images (held out), training = the first {k}",
    )
