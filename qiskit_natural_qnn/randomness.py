"""Counter-based random numbers: the same draw for an image and shot whatever the batch layout.

A stochastic forward pass needs one uniform number per (image, shot, hidden layer, neuron). Drawing
them from a sequential stream (:class:`torch.Generator`) ties each number to its position in the
batch, so the outcome for image 17, shot 3 changes with the batch size, the order of the images, or
what else ran in the same call. Here each number is instead a hash of its key
``(seed, image id, shot, layer, neuron)``: evaluation is reproducible whatever the batching, the
order, or the device, because the hash is exact integer arithmetic (the same on CPU and CUDA).

The hash is Chris Wellons' ``lowbias32`` integer finaliser, chained over the key's 32-bit words; its
output is mapped to ``[0, 1)`` with 24 bits (float32) or 32 bits (float64) of resolution, so a
Bernoulli(p) draw ``u < p`` is exact to within ``2**-24`` in ``p``. The words before the neuron index
are hashed once per image and shot; the last step, over every neuron, runs on int32 tensors where the
device's int32 products wrap modulo ``2**32`` (checked once per device) and on int64 tensors holding
32-bit values elsewhere, and for shot indexes at or beyond ``2**32``: the same numbers either way, the
int32 form about twice as fast.

One rule for seeds and counters (:func:`check_seed`, :func:`check_counter`, :func:`check_image_ids`):
seeds, image ids and shot indexes are 64-bit unsigned integers, so every int in ``[0, 2**64)`` works
(a shot offset in ``[0, 2**64 - shots]``) and anything else -- a negative int, ``2**64``, a float,
a string, a bool -- is a :class:`~qiskit_natural_qnn.exceptions.ConfigurationError` (a
:class:`~qiskit_natural_qnn.exceptions.InputError` for image ids, which are data), never reduced
modulo ``2**64`` and never NumPy's own error. The hash takes both 32-bit words of each: a shot index
at or beyond ``2**32`` adds its high word to the key (shots below ``2**32`` hash exactly as they did
before that word existed), so distinct shots give distinct draws.

Example:
    >>> import torch
    >>> source = counter_uniform(seed=7, image_ids=torch.tensor([3, 9]))
    >>> u = source(0, torch.Size([2, 4]), torch.zeros(2, 4))
    >>> v = counter_uniform(seed=7, image_ids=torch.tensor([9]))(0, torch.Size([1, 4]), torch.zeros(1, 4))
    >>> bool(torch.equal(u[1], v[0]))  # image 9's numbers do not depend on image 3 being there
    True
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from qiskit_natural_qnn.checks import is_int
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError

__all__ = [
    "COUNTER_STOP",
    "UniformSource",
    "check_counter",
    "check_image_ids",
    "check_seed",
    "counter_uniform",
    "hash_words",
    "make_generator",
    "seed_words",
]

#: ``uniform(layer_index, shape, like)`` returns i.i.d. U[0, 1) numbers shaped ``shape`` with the
#: dtype and device of ``like``. The default draws from a :class:`torch.Generator`.
UniformSource = Callable[[int, torch.Size, torch.Tensor], torch.Tensor]

#: Seeds, image ids and shot indexes are 64-bit: every int in ``[0, COUNTER_STOP)`` is valid.
COUNTER_STOP = 2**64

_MASK32 = 0xFFFFFFFF


def _received(value: Any) -> str:
    """How a message shows a value it refuses: numbers as they are, strings with their type, else the type."""
    if value is None or isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        return repr(value)
    if isinstance(value, (str, bytes)):
        text = repr(value)
        return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
    return type(value).__name__


def check_seed(
    seed: Any,
    *,
    name: str = "seed",
    none: bool = False,
    numpy_generator: bool = False,
    torch_generator: bool = False,
) -> Any:
    """Return ``seed`` if it is a valid seed: an int in ``[0, 2**64)``, or another kind the caller allows.

    The one rule for seeds everywhere (networks, ``predict``/``evaluate``, training, sweeps, samplers):
    an int (Python or NumPy, not a bool) in ``[0, 2**64)``, returned as a Python int; a
    :class:`numpy.random.Generator`, a :class:`torch.Generator` or None where the caller accepts them,
    returned as they are.

    Args:
        seed: the value to check.
        name: the argument's name in the message.
        none: accept None (fresh entropy, or the caller's default stream).
        numpy_generator: accept a :class:`numpy.random.Generator`.
        torch_generator: accept a :class:`torch.Generator`.

    Returns:
        The int (as a Python int), or the accepted generator or None unchanged.

    Raises:
        ConfigurationError: any other value (the message says what was received and what is expected).

    Example:
        >>> check_seed(2**64 - 1), check_seed(None, none=True)
        (18446744073709551615, None)
        >>> check_seed(-1)
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: seed must be an int >= 0, got -1; pass e.g. seed=0
        >>> check_seed(2**64)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: seed must be an int in [0, 2**64) (seeds are 64-bit), ...
    """
    if is_int(seed):
        value = int(seed)
        if 0 <= value < COUNTER_STOP:
            return value
    elif (
        (seed is None and none)
        or (numpy_generator and isinstance(seed, np.random.Generator))
        or (torch_generator and isinstance(seed, torch.Generator))
    ):
        return seed
    generators = [
        kind
        for kind, allowed in (("a numpy.random.Generator", numpy_generator), ("a torch.Generator", torch_generator))
        if allowed
    ]
    if generators:
        kinds = ", ".join(["an int", *generators]) + (" or None" if none else "")
        if kinds.count(",") and not none:
            head, _, last = kinds.rpartition(", ")
            kinds = f"{head} or {last}"
    else:
        kinds = "None or an int >= 0" if none else "an int >= 0"
    if is_int(seed) and (generators or int(seed) >= COUNTER_STOP):
        expected = "an int in [0, 2**64) (seeds are 64-bit)"
    else:
        expected = kinds
    raise ConfigurationError(f"{name} must be {expected}, got {_received(seed)}; pass e.g. {name}=0")


def check_counter(value: Any, *, name: str, stop: int = COUNTER_STOP, example: str = "0") -> int:
    """Return ``value`` as a Python int if it is an int in ``[0, stop)`` (a shot offset, a counter).

    Args:
        value: the value to check.
        name: the argument's name in the message.
        stop: the first value not allowed (``2**64`` at most: counters are 64-bit).
        example: a valid value for the message's fix.

    Raises:
        ConfigurationError: not an int (bools are refused), or outside ``[0, stop)``.

    Example:
        >>> check_counter(2**64 - 15, name="shot_offset", stop=2**64 - 14)
        18446744073709551601
        >>> check_counter(2**64, name="shot_offset", stop=2**64 - 14)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: shot_offset must be an int in [0, 18446744073709551601] ...
    """
    if is_int(value) and 0 <= int(value) < stop:
        return int(value)
    if not is_int(value) or int(value) < 0:
        raise ConfigurationError(f"{name} must be an int >= 0, got {_received(value)}; pass e.g. {name}={example}")
    raise ConfigurationError(
        f"{name} must be an int in [0, {stop - 1}] (counters are 64-bit), got {int(value)}; pass e.g. {name}={example}"
    )


def check_image_ids(image_ids: Any, n: int | None = None) -> np.ndarray:
    """Image ids as a ``uint64`` array: one int in ``[0, 2**64)`` per image.

    Args:
        image_ids: a 1-D array, tensor or sequence of non-negative integers.
        n: the number of images they must match (None: any length).

    Returns:
        A 1-D ``uint64`` array (a copy).

    Raises:
        InputError: not 1-D, of another length, not integers, or an id outside ``[0, 2**64)``.

    Example:
        >>> check_image_ids([3, 2**64 - 1]).tolist()
        [3, 18446744073709551615]
        >>> check_image_ids(np.arange(3.0), 3)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.InputError: image_ids must be a 1-D integer array with one id per image, ...
    """
    if isinstance(image_ids, torch.Tensor):
        image_ids = image_ids.detach().cpu().numpy() if image_ids.layout == torch.strided else np.asarray([object()])
    try:
        # a sequence is read as Python objects: NumPy would turn [3, 2**64 - 1] into floats
        ids = np.asarray(image_ids) if isinstance(image_ids, np.ndarray) else np.asarray(image_ids, dtype=object)
    except (TypeError, ValueError):
        ids = np.asarray([object()])  # reported below as a non-integer array
    values: list[int] | None = None  # ids given as Python ints of any size (an object array)
    if ids.dtype == object and ids.ndim == 1:
        try:
            values = [operator.index(v) for v in ids if not isinstance(v, (bool, np.bool_))]
        except TypeError:
            values = None
        if values is not None and len(values) != ids.shape[0]:
            values = None
    integer = ids.size == 0 or values is not None or ids.dtype.kind in "iu"
    if ids.ndim != 1 or (n is not None and ids.shape[0] != n) or not integer:
        shape = f", shape ({n},)" if n is not None else ""
        example = f"np.arange({n})" if n is not None else "np.arange(len(images))"
        raise InputError(
            f"image_ids must be a 1-D integer array with one id per image{shape}, got dtype "
            f"{ids.dtype} and shape {ids.shape}; pass e.g. image_ids={example}"
        )
    if values is None:
        if ids.size and ids.dtype.kind == "i" and int(ids.min()) < 0:
            bad = int(ids[ids < 0][0])
            raise InputError(f"image_ids must lie in [0, 2**64), found {bad}; use each image's dataset index")
        return ids.astype(np.uint64)
    for v in values:
        if not 0 <= v < COUNTER_STOP:
            raise InputError(f"image_ids must lie in [0, 2**64), found {v}; use each image's dataset index")
    return np.array(values, dtype=np.uint64)


def make_generator(seed: int | np.random.Generator | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded from ``seed``.

    Args:
        seed: an int in ``[0, 2**64)``, a NumPy generator (one 63-bit integer is drawn from it), or
            None (fresh entropy).
        device: the device the generator draws on.

    Returns:
        The seeded generator.

    Raises:
        ConfigurationError: a seed of another kind or range (:func:`check_seed`).
    """
    seed = check_seed(seed, none=True, numpy_generator=True)
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(0, 2**63 - 1))
    elif seed is None:
        seed = int(np.random.default_rng().integers(0, 2**63 - 1))
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


def _lowbias32(x: torch.Tensor) -> torch.Tensor:
    """Wellons' lowbias32 on int64 tensors holding 32-bit values (low 32 bits of each product kept).

    Works in place on ``x``, which every caller makes for it: half the temporaries (and 2.5 times the
    speed on CPUs) of the out-of-place expression; integer arithmetic, so the same numbers.
    """
    x ^= x >> 16
    x.mul_(0x7FEB352D).bitwise_and_(_MASK32)
    x ^= x >> 15
    x.mul_(0x846CA68B).bitwise_and_(_MASK32)
    x ^= x >> 16
    return x


def _lowbias32_int32(x: torch.Tensor) -> torch.Tensor:
    """:func:`_lowbias32` on int32 tensors holding the same 32 bits (two's complement), in place.

    Half the bytes of the int64 form and no masks after the products, whose low 32 bits wrap in the
    int32 kernels: about twice as fast on CPUs, and the same numbers (:func:`_int32_wraps` checks the
    wrapping once per device). The arithmetic shift's sign bits are masked off, as a logical shift.
    """
    t = torch.empty_like(x)  # one temporary for the three shifts
    x ^= torch.bitwise_right_shift(x, 16, out=t).bitwise_and_(0xFFFF)
    x *= 0x7FEB352D
    x ^= torch.bitwise_right_shift(x, 15, out=t).bitwise_and_(0x1FFFF)
    x *= 0x846CA68B - 2**32
    x ^= torch.bitwise_right_shift(x, 16, out=t).bitwise_and_(0xFFFF)
    return x


def _as_int32(h: torch.Tensor) -> torch.Tensor:
    """int64 values in ``[0, 2**32)`` as int32 tensors with the same 32 bits."""
    return (h - ((h >> 31) << 32)).to(torch.int32)


@functools.lru_cache(maxsize=8)
def _int32_wraps(device: torch.device) -> bool:
    """Whether ``device``'s int32 kernels wrap products and sums modulo ``2**32`` (then the fast hash is exact).

    Checked once per device on 67 values (whole vector blocks and a scalar tail) whose products and
    sums overflow, against the int64 hash; a device that fails keeps the int64 hash.
    """
    try:
        words = torch.arange(67, dtype=torch.int64, device=device) * 0x3C6EF372 + 0x7FFFFFF0
        words = words & _MASK32
        expected = _lowbias32(words + 0x0FFFFFFF & _MASK32)
        got = _lowbias32_int32(_as_int32(words) + 0x0FFFFFFF).to(torch.int64) & _MASK32
        return bool(torch.equal(got, expected))
    except (RuntimeError, NotImplementedError):  # a device without some int32 kernel: the int64 hash
        return False


def _mix(h: torch.Tensor, w: torch.Tensor | int) -> torch.Tensor:
    """One step of the chain: the hash ``h`` so far with the next 32-bit word ``w``."""
    w = torch.as_tensor(w, dtype=torch.int64) & _MASK32
    return _lowbias32((h * 0x9E3779B1 + w).add_(0x632BE5AB).bitwise_and_(_MASK32))


def hash_words(*words: torch.Tensor | int) -> torch.Tensor:
    """Hash 32-bit words (broadcast tensors or ints) into one 32-bit value per element (int64 tensor).

    Example:
        >>> int(hash_words(1, 2, 3)) == int(hash_words(1, 2, 3)) != int(hash_words(1, 3, 2))
        True
    """
    if not words:
        raise InputError("hash_words needs at least one word")
    h = _lowbias32(torch.as_tensor(words[0], dtype=torch.int64) & _MASK32)
    for w in words[1:]:
        h = _mix(h, w)
    return h


def seed_words(seed: int | np.random.Generator | None) -> tuple[int, int]:
    """Two 32-bit words (low, high) from a seed: an int in ``[0, 2**64)``, a NumPy generator, or None.

    A NumPy generator gives one draw in ``[0, 2**63 - 1)``; None gives fresh entropy.

    Raises:
        ConfigurationError: a seed of another kind or range (:func:`check_seed`).
    """
    seed = check_seed(seed, none=True, numpy_generator=True)
    if isinstance(seed, np.random.Generator):
        value = int(seed.integers(0, 2**63 - 1))
    elif seed is None:
        value = int(np.random.default_rng().integers(0, 2**63 - 1))
    else:
        value = int(seed)
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
    ``image_ids``. Seeds, image ids and shot indexes are 64-bit (the module docstring's rule).

    Args:
        seed: the run's seed: an int in ``[0, 2**64)``, a NumPy generator (one draw) or None.
        image_ids: one integer id in ``[0, 2**64)`` per input row (e.g. its index in the dataset).
        shot_offset: the index of the first shot (to continue a run with more shots), in
            ``[0, 2**64 - shots]``.

    Returns:
        ``uniform(layer, shape, like) -> Tensor`` of U[0, 1) numbers on ``like``'s device (float64 if
        ``like`` is float64, else float32).

    Raises:
        ConfigurationError: a bad seed or ``shot_offset`` (:func:`check_seed`, :func:`check_counter`),
            or, when drawing, shots that run past shot index ``2**64 - 1``.
        InputError: ``image_ids`` not a 1-D array of integers in ``[0, 2**64)``
            (:func:`check_image_ids`), or a shape that does not match them.
    """
    lo, hi = seed_words(seed)
    offset = check_counter(shot_offset, name="shot_offset")
    ids = check_image_ids(image_ids)
    ids_lo = torch.from_numpy((ids & np.uint64(_MASK32)).astype(np.int64))
    ids_hi = torch.from_numpy((ids >> np.uint64(32)).astype(np.int64))
    off_lo, off_hi = offset & _MASK32, offset >> 32
    shot_prefixes: dict[tuple[int, torch.device], torch.Tensor] = {}

    def _shot_prefix(shots: int, dev: torch.device, shot: torch.Tensor) -> torch.Tensor:
        """The chain over (seed, image, shot), the same for every layer: hashed once per shot count and device."""
        key = (shots, dev)
        cached = shot_prefixes.get(key)
        if cached is None:
            batch = ids.shape[0]
            img_lo, img_hi = ids_lo.to(dev).view(1, batch, 1), ids_hi.to(dev).view(1, batch, 1)
            cached = hash_words(lo, hi, img_lo, img_hi, shot & _MASK32)
            shot_prefixes.clear()  # a pass asks for one shot count: keep one entry
            shot_prefixes[key] = cached
        return cached

    def uniform(layer: int, shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
        if len(shape) == 2:
            shots, (batch, width) = 1, shape
        elif len(shape) == 3:
            shots, batch, width = shape
        else:
            raise InputError(f"counter_uniform draws (batch, width) or (shots, batch, width), got {tuple(shape)}")
        if batch != ids.shape[0]:
            raise InputError(f"batch of {batch} inputs but {ids.shape[0]} image_ids; pass one id per input")
        if offset + shots > COUNTER_STOP:
            raise ConfigurationError(
                f"shots {offset} to {offset + shots - 1} run past the last shot index 2**64 - 1 (shot indexes are "
                f"64-bit); pass shot_offset <= {COUNTER_STOP - shots}"
            )
        dev = like.device
        shot = (torch.arange(shots, device=dev, dtype=torch.int64) + off_lo).view(shots, 1, 1)
        neuron = torch.arange(width, device=dev, dtype=torch.int64).view(1, 1, width)
        prefix = _mix(_shot_prefix(shots, dev, shot), layer)  # the chain up to the layer: (shots, batch, 1)
        if off_hi or off_lo + shots > 2**32:
            # Shot indexes at or beyond 2**32 add their high word to the key; those below hash as before.
            h = _mix(prefix, neuron)
            shot_hi = ((shot >> 32) + off_hi) & _MASK32
            h = torch.where(shot_hi == 0, h, _mix(h, shot_hi))
        elif _int32_wraps(dev):
            # The last word, the neuron, in int32: (prefix * C + K) + neuron is _mix's sum modulo 2**32.
            start = _as_int32((prefix * 0x9E3779B1 + 0x632BE5AB) & _MASK32)
            x = _lowbias32_int32(start + neuron.to(torch.int32))
            if like.dtype == torch.float64:
                return (x.to(torch.int64) & _MASK32).to(torch.float64).mul_(2.0**-32).reshape(shape)
            top = torch.bitwise_right_shift(x, 8, out=x).bitwise_and_(0xFFFFFF)  # the high 24 bits
            return top.to(torch.float32).mul_(2.0**-24).reshape(shape)
        else:
            h = _mix(prefix, neuron)
        if like.dtype == torch.float64:
            u = h.to(torch.float64) * 2.0**-32
        else:  # 24 bits are exact in float32; lower precisions compare against float32 numbers
            u = (h >> 8).to(torch.float32) * 2.0**-24
        return u.reshape(shape)

    return uniform
