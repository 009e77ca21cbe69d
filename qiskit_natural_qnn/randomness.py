"""Counter-based random numbers: the same draw for an image and shot whatever the batch layout.

A stochastic forward pass needs one uniform number per (image, shot, hidden layer, neuron). Drawing
them from a sequential stream (:class:`torch.Generator`) ties each number to its position in the
batch, so the outcome for image 17, shot 3 changes with the batch size, the order of the images, or
what else ran in the same call. Here each number is instead a hash of its key
``(seed, image id, shot, layer, neuron)``: evaluation is reproducible whatever the batching, the
order, or the device, because the hash is exact integer arithmetic (the same on CPU and CUDA).

The hash is Chris Wellons' ``lowbias32`` integer finaliser, chained over the key's 32-bit words; its
output is mapped to ``[0, 1)`` with 24 bits (float32) or 32 bits (float64) of resolution, so a
Bernoulli(p) draw ``u < p`` is exact to within ``2**-24`` in ``p``.

Example:
    >>> import torch
    >>> source = counter_uniform(seed=7, image_ids=torch.tensor([3, 9]))
    >>> u = source(0, torch.Size([2, 4]), torch.zeros(2, 4))
    >>> v = counter_uniform(seed=7, image_ids=torch.tensor([9]))(0, torch.Size([1, 4]), torch.zeros(1, 4))
    >>> bool(torch.equal(u[1], v[0]))  # image 9's numbers do not depend on image 3 being there
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError

__all__ = ["UniformSource", "counter_uniform", "hash_words", "make_generator", "seed_words"]

#: ``uniform(layer_index, shape, like)`` returns i.i.d. U[0, 1) numbers shaped ``shape`` with the
#: dtype and device of ``like``. The default draws from a :class:`torch.Generator`.
UniformSource = Callable[[int, torch.Size, torch.Tensor], torch.Tensor]


def make_generator(seed: int | np.random.Generator | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded from ``seed``.

    Args:
        seed: an int, a NumPy generator (one 63-bit integer is drawn from it), or None (fresh entropy).
        device: the device the generator draws on.

    Returns:
        The seeded generator.
    """
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, 2**63 - 1))
    elif seed is None:
        seed = int(np.random.default_rng().integers(0, 2**63 - 1))
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


_MASK32 = 0xFFFFFFFF


def _lowbias32(x: torch.Tensor) -> torch.Tensor:
    """Wellons' lowbias32 on int64 tensors holding 32-bit values (low 32 bits of each product kept)."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK32
    return x ^ (x >> 16)


def hash_words(*words: torch.Tensor | int) -> torch.Tensor:
    """Hash 32-bit words (broadcast tensors or ints) into one 32-bit value per element (int64 tensor).

    Example:
        >>> int(hash_words(1, 2, 3)) == int(hash_words(1, 2, 3)) != int(hash_words(1, 3, 2))
        True
    """
    h: torch.Tensor | None = None
    for w in words:
        w = torch.as_tensor(w, dtype=torch.int64) & _MASK32
        h = _lowbias32(w if h is None else (h * 0x9E3779B1 + w + 0x632BE5AB) & _MASK32)
    if h is None:
        raise InputError("hash_words needs at least one word")
    return h


def seed_words(seed: int | np.random.Generator | None) -> tuple[int, int]:
    """Two 32-bit words from a seed (an int, a NumPy generator, or None for fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        value = int(seed.integers(0, 2**63 - 1))
    elif seed is None:
        value = int(np.random.default_rng().integers(0, 2**63 - 1))
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        value = int(seed)
    else:
        raise ConfigurationError(f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}")
    value &= (1 << 64) - 1
    return value & _MASK32, (value >> 32) & _MASK32


def counter_uniform(
    *,
    seed: int | np.random.Generator | None,
    image_ids: Any,
    shot_offset: int = 0,
) -> UniformSource:
    """A :data:`UniformSource` keyed by (seed, image id, shot, layer, neuron).

    The returned callable accepts shapes ``(batch, width)`` (shot ``shot_offset`` for every image) or
    ``(shots, batch, width)`` (shots ``shot_offset, shot_offset + 1, ...``), where ``batch`` matches
    ``image_ids``.

    Args:
        seed: the run's seed.
        image_ids: one non-negative integer id per input row (e.g. its index in the dataset).
        shot_offset: the index of the first shot (to continue a run with more shots).

    Returns:
        ``uniform(layer, shape, like) -> Tensor`` of U[0, 1) numbers on ``like``'s device (float64 if
        ``like`` is float64, else float32).

    Raises:
        InputError: ``image_ids`` not a 1-D array of non-negative integers, or a shape that does not
            match them.
    """
    lo, hi = seed_words(seed)
    ids = torch.as_tensor(np.asarray(image_ids) if not isinstance(image_ids, torch.Tensor) else image_ids)
    if ids.ndim != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool or bool((ids < 0).any()):
        raise InputError(
            f"image_ids must be a 1-D array of non-negative integers, got {tuple(ids.shape)} of {ids.dtype}"
        )
    ids = ids.to(torch.int64)

    def uniform(layer: int, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        if len(shape) == 2:
            shots, (batch, width) = 1, shape
        elif len(shape) == 3:
            shots, batch, width = shape
        else:
            raise InputError(f"counter_uniform draws (batch, width) or (shots, batch, width), got {tuple(shape)}")
        if batch != ids.numel():
            raise InputError(f"batch of {batch} inputs but {ids.numel()} image_ids; pass one id per input")
        dev = like.device
        img = ids.to(dev).view(1, batch, 1)
        shot = (torch.arange(shots, device=dev, dtype=torch.int64) + shot_offset).view(shots, 1, 1)
        neuron = torch.arange(width, device=dev, dtype=torch.int64).view(1, 1, width)
        h = hash_words(lo, hi, img & _MASK32, img >> 32, shot, layer, neuron)
        if like.dtype == torch.float64:
            u = h.to(torch.float64) * 2.0**-32
        else:  # 24 bits are exact in float32; lower precisions compare against float32 numbers
            u = (h >> 8).to(torch.float32) * 2.0**-24
        return u.reshape(shape)

    return uniform
