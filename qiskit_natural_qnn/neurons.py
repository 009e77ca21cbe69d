r"""Neurons of a naturally quantized network: stretch functions and measurements.

This module is the single source of the model's math for one neuron (docs/model.md, "Neurons" and
"Measurement"; arXiv:2503.15482); :mod:`qiskit_natural_qnn.schedule` adds how the hidden layers are
chained (which measurement each layer uses, which layers carry their state on, Method 2's angle
step). Every other part of the library (the PyTorch fast path, the exact enumeration, the circuit
builders, the decoders) asks these two modules for probabilities, angles and post-measurement
states. Each function accepts NumPy arrays, Python floats or PyTorch tensors and returns the same kind.

A hidden neuron is a qubit at Bloch angle :math:`\phi` (state
:math:`\cos(\phi/2)|0\rangle + \sin(\phi/2)|1\rangle`). Outcome bit 0 means activation :math:`+1`,
bit 1 means :math:`-1`.

* **Stretch** :math:`f_a` maps the pre-activation :math:`z` to :math:`[-1, 1]`; the rotation angle is
  :math:`\theta = \frac{\pi}{2}(1 - f_a(z))`, so a fresh qubit gives
  :math:`P(d=+1) = \cos^2(\theta/2) = \frac{1 + \sin(\frac{\pi}{2} f_a(z))}{2}`.
* **Measurement** with entanglement angle :math:`g` (weak through an ancilla, projective at
  :math:`g = \pi/2`): :math:`P(m=+1) = \frac{1 + \sin g \cos\phi}{2}`, and the neuron is left at
  :math:`\phi' = 2\,\mathrm{atan2}(\sqrt{1 - m\sin g}\,\sin\frac{\phi}{2},
  \sqrt{1 + m\sin g}\,\cos\frac{\phi}{2})`.

Conventions fixed here, once:

* ``sgn(0) = -1`` (the deterministic classical network sends a zero pre-activation to ``-1``).
* Angles are real numbers, not reduced modulo :math:`2\pi`; ``phi`` and ``phi + 2*pi`` are the same
  state up to a global phase and give the same probabilities.
* Angles are bounded: the ``linear`` stretch, the only unbounded one, refuses a pre-activation whose
  rotation :math:`\frac{\pi}{2}|z/a|` exceeds :data:`MAX_ANGLE` (``2**24 * pi``, where float32 can no
  longer tell one turn from the next) with :class:`~qiskit_natural_qnn.exceptions.InputError`. Every
  execution asks :class:`Stretch` for its angles (the fast path, the circuits' angle functions, the
  exact enumeration), so all of them refuse the same inputs instead of each sampling its own
  rounding noise. Inside :func:`deferred_angle_checks` (the training loop) the refusal is reported to
  a sink as a device tensor instead, so that no layer waits for the host.

:class:`StretchStack` and :class:`MeasurementStack` evaluate the same math for several networks at once
(an ensemble trained side by side, :mod:`qiskit_natural_qnn.training.ensemble`): tensors carry the
networks on their leading axis and each network's constants (``a``, ``g``) broadcast along it. Both
run the very operations of :class:`Stretch` and :class:`Measurement` on tensors, so each network's
slice of the result equals what its own neuron gives, bit for bit, wherever the element-wise kernels
treat every element alike (for a slice whose size in bytes is a multiple of 128, see
:func:`uniform_kernels`, computed by one thread).

Example:
    >>> import numpy as np
    >>> neuron = Neuron(stretch=Stretch(a=0.5, kind="hardtanh"), measurement=Measurement(g=np.pi / 2))
    >>> float(neuron.stretch.prob_plus(0.25))  # (1 + sin(pi/4)) / 2
    0.8535533905932737
    >>> float(Measurement(g=np.pi / 4).prob_plus(0.0))  # (1 + sin(pi/4)) / 2 for |0>
    0.8535533905932737
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError

__all__ = [
    "MAX_ANGLE",
    "STRETCH_KINDS",
    "WEAK_UPDATES",
    "Stretch",
    "Measurement",
    "MeasurementStack",
    "Neuron",
    "StretchStack",
    "activation_from_sign_bit",
    "angle_refusal",
    "deferred_angle_checks",
    "outcome_to_activation",
    "activation_to_bit",
    "stretched_excess",
    "uniform_kernels",
]

StretchKind = Literal["sgn", "tanh", "hardtanh", "linear"]
WeakUpdate = Literal["circuit", "authors_arcsin"]

#: Stretch functions: ``sgn`` (classical), ``tanh`` (paper, training), ``hardtanh`` (hardware
#: follow-up), ``linear`` (:math:`f_a(z) = z/a` unclipped: the angle is affine in ``z``; the
#: hardware-native neuron that a single dynamic circuit realizes at any width).
STRETCH_KINDS: tuple[str, ...] = ("sgn", "tanh", "hardtanh", "linear")

#: Post-measurement updates: ``circuit`` (the reference, what the circuit does) and
#: ``authors_arcsin`` (compatibility with the authors' simulation code; see docs/model.md, "Measurement").
WEAK_UPDATES: tuple[str, ...] = ("circuit", "authors_arcsin")

_HALF_PI = math.pi / 2

#: The largest rotation angle (radians) a neuron is given: ``2**24 * pi``. At this size consecutive
#: float32 numbers are 4 rad apart, so ``sin`` of the angle is rounding noise and two executions (the
#: fast path in the network's dtype, a circuit's float64 angle) would sample unrelated laws. Only the
#: ``linear`` stretch reaches it (:math:`|z/a| > 2^{25}`); it refuses such pre-activations.
MAX_ANGLE = 2.0**24 * math.pi

#: The largest :math:`|f_a(z)|` whose rotation :math:`\frac{\pi}{2}|f_a(z)|` stays within :data:`MAX_ANGLE`.
_MAX_STRETCHED = 2.0**25

#: The smallest non-zero stretch: below it ``z / a`` and ``2 / a`` overflow float32, and ``0 * inf``
#: would make the outcome probability NaN (a silently wrong neuron).
MIN_STRETCH = 1e-30


def _xp(x: Any) -> Any:
    """The array namespace of ``x``: :mod:`torch` for tensors, :mod:`numpy` otherwise."""
    return torch if isinstance(x, torch.Tensor) else np


def _as_array(x: Any) -> Any:
    return x if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)


#: A sink for refused rotations: ``sink(excess, a)`` with ``excess`` from :func:`stretched_excess` (one
#: value, or one per network of a stack) and the stretch ``a`` (a number, or a tensor of them).
AngleSink = Callable[[torch.Tensor, "float | torch.Tensor"], None]

#: The sink of :func:`deferred_angle_checks` in effect (None: a refused rotation raises at once).
_ANGLE_SINK: ContextVar[AngleSink | None] = ContextVar("qiskit_natural_qnn_angle_sink", default=None)


def angle_refusal(worst: float, a: float) -> InputError:
    """The error for a linear stretch's rotation beyond :data:`MAX_ANGLE`: ``worst`` is the largest ``|z/a|``.

    Example:
        >>> print(angle_refusal(2.0**26, 0.5))  # doctest: +ELLIPSIS
        a pre-activation |z| = 3.35544e+07 gives the linear stretch's neuron the rotation pi/2 * |z|/a = ...
    """
    return InputError(
        f"a pre-activation |z| = {worst * a:.6g} gives the linear stretch's neuron the rotation "
        f"pi/2 * |z|/a = {worst * _HALF_PI:.6g} rad, beyond MAX_ANGLE = 2**24 * pi ({MAX_ANGLE:.6g} rad), where "
        "float32 cannot tell one turn from the next; scale the inputs (e.g. pixels to [0, 1]), shrink the "
        "weights, or use a larger stretch a"
    )


def stretched_excess(f: torch.Tensor, *, leading: int = 0) -> torch.Tensor:
    """The largest ``|f|`` where it is finite and beyond what :data:`MAX_ANGLE` allows, else 0; no host sync.

    Args:
        f: stretched values ``z/a`` of the ``linear`` stretch.
        leading: keep this many leading dimensions (``1``: one value per network of a stack).

    Returns:
        A float64 tensor of the ``leading`` dimensions' shape: the largest ``|f|`` (NaN if any ``f`` is
        NaN, which counts as no refusal: the finiteness checks report it) where that is finite and a
        refused rotation, else ``0``.

    Example:
        >>> stretched_excess(torch.tensor([[1.0, -2.0**26], [3.0, 4.0]]), leading=1).tolist()
        [67108864.0, 0.0]
    """
    shape = f.shape[:leading]
    if f.numel() == 0:
        return torch.zeros(shape, dtype=torch.float64, device=f.device)
    worst = f.detach().abs().amax(dim=tuple(range(leading, f.ndim))).to(torch.float64)
    return torch.where((worst > _MAX_STRETCHED) & (worst < math.inf), worst, 0.0)


@contextlib.contextmanager
def deferred_angle_checks(sink: AngleSink) -> Iterator[None]:
    """Within the block, the ``linear`` stretch reports refused rotations of tensors to ``sink`` instead of raising.

    The check then costs no host synchronisation (one per layer otherwise); the caller raises
    :func:`angle_refusal` later, e.g. once per training epoch. NumPy inputs still raise at once.

    Example:
        >>> seen = []
        >>> with deferred_angle_checks(lambda excess, a: seen.append(float(excess))):
        ...     f = Stretch(a=1.0, kind="linear")(torch.tensor([2.0**30]))
        >>> seen
        [1073741824.0]
    """
    token = _ANGLE_SINK.set(sink)
    try:
        yield
    finally:
        _ANGLE_SINK.reset(token)


def _check_angles(f: Any, a: float | torch.Tensor, *, leading: int = 0) -> None:
    """Refuse stretched values :math:`f = z/a` whose rotation exceeds :data:`MAX_ANGLE` (finite ones only).

    Non-finite values are an overflow of ``W x``, which the callers' finiteness checks report as such.
    Inside :func:`deferred_angle_checks` a tensor's excess goes to the sink instead. ``leading``: ``f``
    holds a stack of networks on its first dimension and ``a`` one value per network (a tensor).
    """
    if isinstance(f, torch.Tensor):
        sink = _ANGLE_SINK.get()
        if sink is not None:
            sink(stretched_excess(f, leading=leading), a)
            return
        if leading:
            excess = stretched_excess(f, leading=leading).flatten()
            bad = int(torch.argmax(excess))  # the first network with a refused rotation, if any
            a_values = torch.as_tensor(a).flatten()
            if float(excess[bad]) > 0:
                raise angle_refusal(float(excess[bad]), float(a_values[bad if a_values.numel() > 1 else 0]))
            return
        worst = float(f.detach().abs().amax()) if f.numel() else 0.0  # NaN if any is NaN: left to the callers
    else:
        f = np.asarray(f)
        worst = float(np.abs(f).max()) if f.size else 0.0
    if not _MAX_STRETCHED < worst < math.inf:
        return
    raise angle_refusal(worst, float(a))


def uniform_kernels(numel: int, dtype: torch.dtype) -> bool:
    """True when ``numel`` elements of ``dtype`` fill whole vector blocks of PyTorch's element-wise CPU kernels.

    Those kernels run blocks of two SIMD vectors and finish a tensor's remainder with scalar code, whose
    ``sigmoid`` and ``atan2`` may round differently in the last bit. A stack of networks whose slices
    hold a multiple of 128 bytes (two 512-bit vectors) is computed by the vector code throughout (by one
    thread; several threads split a long tensor where they may), so each slice gets exactly the values
    its own network's tensor gets. Other stacks are evaluated one slice at a time.

    Example:
        >>> uniform_kernels(64 * 16, torch.float32), uniform_kernels(4 * 3, torch.float32)
        (True, False)
    """
    return (int(numel) * dtype.itemsize) % 128 == 0


def _exact(values: tuple[float, ...]) -> tuple[str, ...]:
    """A cache key that tells every float apart, ``-0.0`` from ``0.0`` included.

    Equal floats share an entry of a cache, and ``0.0 == -0.0``: ``0 - z`` with a cached ``-0.0``
    gives ``-0.0`` for ``z = +0``, the wrong sign.
    """
    return tuple(float(v).hex() for v in values)


@functools.lru_cache(maxsize=512)
def _cached_tensor(
    key: tuple[str, ...], dtype: torch.dtype, device: torch.device, shape: tuple[int, ...]
) -> torch.Tensor:
    return torch.tensor([float.fromhex(v) for v in key], dtype=dtype, device=device).view(shape)


def _constant(value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A 0-d tensor holding ``value``, made once (read-only by convention: callers never write into it)."""
    return _cached_tensor(_exact((value,)), dtype, device, ())


def _k(value: float | torch.Tensor, like: torch.Tensor) -> float | torch.Tensor:
    """A constant operand for ``like``: a cached 0-d tensor of its dtype for float32 and float64.

    Rounded once to the dtype, as the kernel rounds a Python number, without wrapping and converting one
    on every call (a few microseconds per operation, which the fast path performs thousands of times per
    epoch). Narrower dtypes keep the number: their kernels hold it in float32. Tensors pass unchanged.
    """
    if isinstance(value, torch.Tensor) or like.dtype not in (torch.float32, torch.float64):
        return value
    return _constant(float(value), like.dtype, like.device)


@dataclass(frozen=True)
class _PerNetwork:
    """One constant per network of a stack, with its cache key made once (the stacks keep theirs).

    Attributes:
        values: the constants, one per network.
        key: their :func:`_exact` key.
        same: all equal (then a number is passed, as one neuron passes it).
    """

    values: tuple[float, ...]
    key: tuple[str, ...]
    same: bool

    @classmethod
    def of(cls, values: tuple[float, ...]) -> _PerNetwork:
        key = _exact(values)
        return cls(values=values, key=key, same=len(set(key)) == 1)

    def like(self, like: torch.Tensor) -> float | torch.Tensor:
        """The operand for ``like``: a number when all are equal, else a cached ``(K, 1, ..., 1)`` column.

        Either way an operation rounds the constant once to ``like``'s dtype, so the results agree bit for bit.
        """
        if self.same:
            return self.values[0]
        return _cached_tensor(self.key, like.dtype, like.device, (-1, *([1] * (like.ndim - 1))))


#: The integer dtype of each float dtype's bit pattern.
_INT_VIEWS: dict[torch.dtype, torch.dtype] = {
    torch.float64: torch.int64,
    torch.float32: torch.int32,
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
}


@functools.lru_cache(maxsize=64)
def _sign_bits(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The sign bit alone, and the bits of ``-1.0``, of ``dtype`` (0-d integer tensors)."""
    ints = _INT_VIEWS[dtype]
    sign = torch.tensor(-(2 ** (8 * torch.empty((), dtype=dtype).element_size() - 1)), dtype=ints, device=device)
    return sign, torch.tensor(-1.0, dtype=dtype, device=device).view(ints)


def activation_from_sign_bit(v: torch.Tensor) -> torch.Tensor:
    """``-copysign(1, v)``: ``+1`` where the sign bit of ``v`` is set, else ``-1``, bit for bit (NaN included).

    Two integer kernels on the bit patterns (``(bits & sign) ^ bits(-1.0)``) instead of ``copysign`` and
    a negation: about two thirds of the time on CPUs. The activation of an outcome drawn as
    ``v = u - p`` (``+1`` exactly when ``u < p``: ``u - p`` is ``+0.0`` when they are equal).

    Example:
        >>> activation_from_sign_bit(torch.tensor([-0.5, 0.0, -0.0, 2.0])).tolist()
        [1.0, -1.0, 1.0, -1.0]
    """
    sign, minus_one = _sign_bits(v.dtype, v.device)
    return v.view(sign.dtype).bitwise_and(sign).bitwise_xor_(minus_one).view(v.dtype)


def _sign_tensor(z: torch.Tensor) -> torch.Tensor:
    """``sgn(z)`` with ``sgn(0) = -1`` (and ``-1`` for NaN, as ``z > 0`` says): the sign bit of ``0 - z``.

    ``0 - z`` is ``+0.0`` for ``z = +-0`` and NaN becomes 0, so :func:`activation_from_sign_bit` gives
    exactly ``where(z > 0, 1, -1)``, in four light kernels instead of a comparison and a conversion
    (a third of the time on CPUs).
    """
    return activation_from_sign_bit(torch.rsub(z, _k(0.0, z)).nan_to_num_(0.0))


def _stretch_tensor(z: torch.Tensor, kind: str, a: float | torch.Tensor) -> torch.Tensor:
    """:math:`f_a(z)` of a stochastic ``kind`` on a tensor, without the angle check."""
    if kind == "tanh":
        return torch.tanh(z / a)
    if kind == "hardtanh":
        return torch.clip(z / a, -1.0, 1.0)
    return z / a


def _tanh_prob_plus(z: torch.Tensor, two_over_a: float | torch.Tensor) -> torch.Tensor:
    r""":math:`\sin^2(\frac{\pi}{2}\sigma(2z/a))` (the tanh stretch's :math:`P(d=+1)`), in one buffer."""
    return torch.mul(z, _k(two_over_a, z)).sigmoid_().mul_(_k(_HALF_PI, z)).sin_().square_()


def _sine_prob_plus(f: torch.Tensor) -> torch.Tensor:
    r""":math:`(1 + \sin(\frac{\pi}{2} f))/2`, in place in ``f``."""
    return f.mul_(_k(_HALF_PI, f)).sin_().add_(_k(1.0, f)).mul_(_k(0.5, f))


def _check_finite_nonneg(name: str, value: float, fix: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"{name} must be a real number, got {value!r} of type {type(value).__name__}; {fix}"
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{name} must be finite and >= 0, got {value!r}; {fix}")
    return value


@dataclass(frozen=True)
class Stretch:
    r"""The stretch (quantumness) function :math:`f_a` (docs/model.md, "Neurons").

    .. math::
        f_0(z) = \mathrm{sgn}(z), \qquad
        f_a^{\tanh}(z) = \tanh(z/a), \qquad
        f_a^{\mathrm{hardtanh}}(z) = \mathrm{clip}(z/a, -1, 1), \qquad
        f_a^{\mathrm{linear}}(z) = z/a.

    ``a = 0`` means ``sgn`` whatever ``kind`` says (the classical limit). ``kind="sgn"`` ignores ``a``.
    ``linear`` is never saturated: its angle :math:`\frac{\pi}{2}(1 - z/a)` is affine in ``z`` and its
    outcome probability :math:`(1 + \sin(\pi z / 2a))/2` is periodic in ``z``; it refuses
    pre-activations whose rotation :math:`\frac{\pi}{2}|z/a|` exceeds :data:`MAX_ANGLE`.

    Args:
        a: the stretch, finite and ``>= 0``.
        kind: one of :data:`STRETCH_KINDS`.

    Raises:
        ConfigurationError: ``a`` negative or not finite, ``kind`` unknown, or ``kind="linear"``
            with ``a = 0``.

    Example:
        >>> Stretch(a=0.5, kind="tanh")
        Stretch(a=0.5, kind='tanh')
        >>> Stretch(a=0.0).is_deterministic
        True
    """

    a: float = 0.0
    kind: StretchKind = "tanh"

    def __post_init__(self) -> None:
        a = _check_finite_nonneg("a", self.a, "pass a stretch a >= 0 (a = 0 is the classical network)")
        if 0 < a < MIN_STRETCH:
            raise ConfigurationError(
                f"a = {a!r} is too small to compute with (z / a overflows); pass a = 0 for the sign neuron "
                f"or a >= {MIN_STRETCH}"
            )
        object.__setattr__(self, "a", a)
        if self.kind not in STRETCH_KINDS:
            raise ConfigurationError(
                f"unknown stretch function {self.kind!r}; expected one of {', '.join(STRETCH_KINDS)}"
            )
        if self.kind == "linear" and a == 0:
            raise ConfigurationError("the linear stretch z/a needs a > 0, got a = 0.0; pass a > 0 or use kind='sgn'")

    @property
    def is_deterministic(self) -> bool:
        """True when every outcome is certain given ``z`` (the sign neuron)."""
        return self.kind == "sgn" or self.a == 0

    @property
    def effective_kind(self) -> str:
        """``"sgn"`` when deterministic, else ``kind``."""
        return "sgn" if self.is_deterministic else self.kind

    def __call__(self, z: Any) -> Any:
        r"""Evaluate :math:`f_a(z)` elementwise (``sgn(0) = -1``).

        Raises:
            InputError: ``linear`` only: a finite ``z`` whose rotation :math:`\frac{\pi}{2}|z/a|` exceeds
                :data:`MAX_ANGLE`.
        """
        z = _as_array(z)
        kind = self.effective_kind
        if kind == "sgn":
            if isinstance(z, torch.Tensor):
                return _sign_tensor(z)
            return np.where(z > 0, 1.0, -1.0)
        if isinstance(z, torch.Tensor):
            f = _stretch_tensor(z, kind, self.a)
        elif kind == "tanh":
            return np.tanh(z / self.a)
        elif kind == "hardtanh":
            return np.clip(z / self.a, -1.0, 1.0)
        else:
            f = z / self.a
        if kind == "linear":
            _check_angles(f, self.a)
        return f

    def theta(self, z: Any) -> Any:
        r"""The RY angle of a fresh neuron qubit, :math:`\theta = \frac{\pi}{2}(1 - f_a(z))`."""
        return _HALF_PI * (1.0 - self(z))

    def prob_plus(self, z: Any) -> Any:
        r"""Exact :math:`P(d = +1) = (1 + \sin(\frac{\pi}{2} f_a(z)))/2` for a fresh qubit.

        For ``tanh`` on tensors this evaluates the identical expression
        :math:`\sin^2(\frac{\pi}{2}\sigma(2z/a))` (with :math:`\tanh x = 2\sigma(2x) - 1`), which is
        cheaper on CPUs.
        """
        if isinstance(z, torch.Tensor):
            if self.effective_kind == "tanh":
                return _tanh_prob_plus(z, 2.0 / self.a)
            f = self(z)
            return _sine_prob_plus(f.clone() if f is z else f)
        f = self(z)
        return 0.5 * (1.0 + np.sin(_HALF_PI * f))

    def saturates(self, z: Any) -> Any:
        """Boolean mask: where ``f_a`` is clipped (``hardtanh`` with ``|z| > a``), or always for ``sgn``/``tanh``.

        A single dynamic circuit with linear feedforward is exact only where this is False.
        """
        z = _as_array(z)
        xp = _xp(z)
        kind = self.effective_kind
        if kind == "linear":
            return xp.zeros_like(z, dtype=bool) if xp is np else torch.zeros_like(z, dtype=torch.bool)
        if kind == "hardtanh":
            return xp.abs(z) > self.a
        return xp.ones_like(z, dtype=bool) if xp is np else torch.ones_like(z, dtype=torch.bool)


def _ratio_bits(
    r_plus: tuple[float, ...], r_minus: tuple[float, ...], dtype: torch.dtype, device: torch.device, ndim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The bit patterns of :math:`r_{+1}` and of :math:`r_{+1}` XOR :math:`r_{-1}` in ``dtype``, made once.

    One value each (0-d tensors) for one measurement (``ndim = 0``), or one per network as
    ``(K, 1, ..., 1)`` columns of ``ndim`` dimensions.
    """
    return _cached_ratio_bits(_exact(r_plus), _exact(r_minus), dtype, device, ndim)


@functools.lru_cache(maxsize=512)
def _cached_ratio_bits(
    r_plus: tuple[str, ...], r_minus: tuple[str, ...], dtype: torch.dtype, device: torch.device, ndim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    ints = _INT_VIEWS[dtype]
    shape = () if ndim == 0 else (-1, *([1] * (ndim - 1)))
    hi = torch.tensor([float.fromhex(v) for v in r_plus], dtype=dtype, device=device).view(ints)
    lo = torch.tensor([float.fromhex(v) for v in r_minus], dtype=dtype, device=device).view(ints)
    return hi.reshape(shape), (hi ^ lo).reshape(shape)


@functools.lru_cache(maxsize=64)
def _sign_shift(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The shift that spreads the sign bit of ``dtype``'s bit pattern over the word (a 0-d integer tensor)."""
    return torch.tensor(8 * torch.empty((), dtype=dtype).element_size() - 1, dtype=_INT_VIEWS[dtype], device=device)


def _select_ratio(m: torch.Tensor, hi_bits: torch.Tensor, flip_bits: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """:math:`r_{+1}` where ``m = +1`` and :math:`r_{-1}` where ``m = -1``, exactly (``m`` holds only +-1).

    An integer select on the bit patterns (:func:`_ratio_bits`): the sign bit of ``m``, spread over the
    word by an arithmetic shift, masks ``r_{+1} ^ r_{-1}``, and XOR with ``r_{+1}`` gives either end
    point. Three light kernels, about a third of the time of ``torch.lerp`` with weight ``(m + 1)/2``
    (which also returns its end points exactly) and far faster than ``torch.where`` on CPUs.
    """
    mask = m.view(_INT_VIEWS[m.dtype]) >> _sign_shift(m.dtype, m.device)
    if mask.dtype != hi_bits.dtype:
        mask = mask.to(hi_bits.dtype)
    return mask.bitwise_and_(flip_bits).bitwise_xor_(hi_bits).view(dtype)


def _cos_prob_plus(phi: torch.Tensor, sin_g: float | torch.Tensor | None) -> torch.Tensor:
    r""":math:`(1 + \sin g \cos\phi)/2` on a tensor (``sin_g=None``: projective, :math:`\sin g = 1`)."""
    c = torch.cos(phi)
    return (c if sin_g is None else c.mul_(_k(sin_g, c))).add_(_k(1.0, c)).mul_(_k(0.5, c))


def _weak_readout(
    phi: torch.Tensor,
    neg_s: float | torch.Tensor,
    offset: float | torch.Tensor,
    ratios: tuple[tuple[float, ...], tuple[float, ...]],
    ndim: int,
) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    r"""The circuit update's readout for ``g < pi/2`` (:meth:`Measurement.readout`), with few temporaries.

    ``neg_s`` is :math:`-\sin g` and ``offset`` :math:`(1 + \sin g)/2`, numbers or per-network columns
    (:class:`MeasurementStack`); ``ratios`` the values :math:`r_{+1}` and :math:`r_{-1}`, one per network,
    and ``ndim`` the dimensions of their columns (0: one network).
    """
    half = phi.mul(_k(0.5, phi))
    sh = torch.sin(half)
    ch = half.cos_()
    p_plus = sh.square().mul_(_k(neg_s, phi)).add_(_k(offset, phi))
    hi_bits, flip_bits = _ratio_bits(*ratios, phi.dtype, phi.device, ndim)
    two = _k(2.0, phi)

    def update(m: torch.Tensor) -> torch.Tensor:
        return torch.atan2(_select_ratio(m, hi_bits, flip_bits, phi.dtype).mul_(sh), ch).mul_(two)

    return p_plus, update


@dataclass(frozen=True)
class Measurement:
    r"""Measurement of a neuron qubit with entanglement angle ``g`` (docs/model.md, "Measurement").

    The neuron is entangled with an ancilla by :math:`R_{ZY}(g) = e^{-i\frac{g}{2} Z\otimes Y}` and the
    ancilla is measured in the X basis. With Kraus operators
    :math:`M_\pm = \mathrm{diag}(\sqrt{(1 \pm \sin g)/2}, \sqrt{(1 \mp \sin g)/2})`:

    .. math::
        P(m = +1 \mid \phi) = \frac{1 + \sin g\,\cos\phi}{2}, \qquad
        \phi' = 2\,\mathrm{atan2}\!\left(\sqrt{1 - m\sin g}\,\sin\tfrac{\phi}{2},\;
                 \sqrt{1 + m\sin g}\,\cos\tfrac{\phi}{2}\right).

    ``g = pi/2`` is the projective measurement (Method 1); ``g -> 0`` carries no information.

    Args:
        g: the entanglement angle, in ``[0, pi/2]``.
        update: ``"circuit"`` (reference: the state the circuit leaves) or ``"authors_arcsin"``
            (the authors' simulation code,
            :math:`\phi' = 2\arcsin(\sin\frac{\phi}{2}\sqrt{(1 - m\sin g)/(1 + m\sin g\cos\phi)})`,
            which loses the sign of :math:`\cos(\phi/2)`; for reproduction studies only).

    Raises:
        ConfigurationError: ``g`` outside ``[0, pi/2]`` or ``update`` unknown.

    Example:
        >>> Measurement(g=2.0)
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: g must lie in [0, pi/2], got 2.0; ...
    """

    g: float = _HALF_PI
    update: WeakUpdate = "circuit"

    def __post_init__(self) -> None:
        try:
            g = float(self.g)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"g must be a real number in [0, pi/2], got {self.g!r}; pass e.g. g=math.pi/4"
            ) from None
        # Tolerate float round-off at the upper end (users write math.pi / 2 in many ways).
        if math.isfinite(g) and _HALF_PI < g <= _HALF_PI + 1e-12:
            g = _HALF_PI
        if not math.isfinite(g) or not 0.0 <= g <= _HALF_PI:
            raise ConfigurationError(
                f"g must lie in [0, pi/2], got {g!r}; pass g=math.pi/2 for a projective measurement "
                "(Method 1) or a smaller angle for a weak one"
            )
        object.__setattr__(self, "g", g)
        if self.update not in WEAK_UPDATES:
            raise ConfigurationError(
                f"unknown post-measurement update {self.update!r}; expected one of {', '.join(WEAK_UPDATES)}"
            )

    @property
    def is_projective(self) -> bool:
        """True for ``g = pi/2``: the outcome is a projective measurement of the neuron."""
        return self.g == _HALF_PI

    @property
    def sin_g(self) -> float:
        r""":math:`\sin g`, the measurement strength."""
        return 1.0 if self.is_projective else math.sin(self.g)

    def _ratios(self) -> tuple[float, float]:
        r""":math:`r_{+1} = \sqrt{(1 - \sin g)/(1 + \sin g)}` and :math:`r_{-1} = 1/r_{+1}`, each rounded once.

        Selecting between the two (rather than forming :math:`m k_a + k_b` from their half sum and
        half difference) keeps the post-measurement angle accurate to a few ulp near ``g = pi/2``,
        where :math:`r_{+1} \to 0`: the combination lost :math:`\epsilon / r_{+1}^2` and was off by
        3e-3 at ``g = pi/2 - 1e-7``.
        """
        s = self.sin_g
        r = math.sqrt((1.0 - s) / (1.0 + s))
        return r, math.sqrt((1.0 + s) / (1.0 - s))

    def prob_plus(self, phi: Any) -> Any:
        r"""Exact :math:`P(m=+1 \mid \phi) = (1 + \sin g \cos\phi)/2`."""
        if isinstance(phi, torch.Tensor):
            return _cos_prob_plus(phi, None if self.is_projective else self.sin_g)
        return 0.5 * (1.0 + self.sin_g * np.cos(np.asarray(phi, dtype=float)))

    def readout(self, phi: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        r"""Outcome probability and post-measurement update for a tensor of angles, sharing work.

        Returns ``(p_plus, update)`` with ``p_plus`` equal to :meth:`prob_plus` and ``update(m)`` equal
        to :meth:`post_angle` ``(phi, m)``. For the circuit update with ``g < pi/2`` both come from
        :math:`\sin\frac{\phi}{2}, \cos\frac{\phi}{2}`:
        :math:`P(+1) = \frac{1 + \sin g}{2} - \sin g \sin^2\frac{\phi}{2}`.
        """
        s = self.sin_g
        if self.update != "circuit" or s >= 1.0:
            return self.prob_plus(phi), lambda m: self.post_angle(phi, m)
        r_plus, r_minus = self._ratios()
        return _weak_readout(phi, -s, 0.5 + 0.5 * s, ((r_plus,), (r_minus,)), 0)

    def post_angle(self, phi: Any, m: Any) -> Any:
        r"""The neuron's Bloch angle after outcome ``m`` (``+1`` or ``-1``) at angle ``phi``.

        With ``update="circuit"`` the result lies in ``[-2pi, 2pi]`` and the state vector
        :math:`(\cos\frac{\phi'}{2}, \sin\frac{\phi'}{2})` is exactly :math:`M_m` applied to the
        state, normalized (no global phase lost). For ``g < pi/2`` both atan2 arguments are divided
        by :math:`\sqrt{1 + m\sin g} > 0`, which leaves the angle unchanged:
        :math:`\phi' = 2\,\mathrm{atan2}(r_m \sin\frac{\phi}{2}, \cos\frac{\phi}{2})` with
        :math:`r_m = \sqrt{(1 - m\sin g)/(1 + m\sin g)}`.
        """
        phi = _as_array(phi)
        xp = _xp(phi)
        s = self.sin_g

        def nonneg(v: Any) -> Any:
            if xp is torch:
                return torch.as_tensor(v, dtype=phi.dtype, device=phi.device).clamp_min(0.0)
            return np.clip(np.asarray(v, dtype=float), 0.0, None)

        if self.update == "circuit":
            if s < 1.0:
                r_plus, r_minus = self._ratios()
                if xp is torch:
                    ratio: torch.Tensor | float
                    if isinstance(m, torch.Tensor):
                        bits = _ratio_bits((r_plus,), (r_minus,), phi.dtype, phi.device, 0)
                        ratio = _select_ratio(m, *bits, phi.dtype)
                    else:
                        ratio = r_plus if m > 0 else r_minus
                    return torch.atan2(torch.sin(phi * 0.5).mul_(ratio), torch.cos(phi * 0.5)).mul_(2.0)
                factor = np.where(np.asarray(m) > 0, r_plus, r_minus)
                return 2.0 * np.arctan2(factor * np.sin(phi / 2), np.cos(phi / 2))
            c = xp.sqrt(nonneg(1.0 + m * s)) * xp.cos(phi / 2)
            sn = xp.sqrt(nonneg(1.0 - m * s)) * xp.sin(phi / 2)
            return 2.0 * (np.arctan2(sn, c) if xp is np else torch.atan2(sn, c))
        # The authors' form 2 arcsin(sin(phi/2) sqrt((1 - m s) / (1 + m s cos phi))), evaluated stably.
        # With x = sqrt(1 - m s) sin(phi/2) and y = sqrt(1 + m s) cos(phi/2), 1 + m s cos phi = x^2 + y^2,
        # so the arcsin argument is x / hypot(x, y) and the angle is 2 atan2(x, |y|): the same number
        # without arcsin's infinite slope at +-1, where one rounding of the argument (2**-53) moved the
        # angle by sqrt(2 * 2**-53) ~ 1.5e-8 and made the result depend on the CPU's kernels. An outcome of
        # probability zero (x = y = 0) is never sampled; atan2(+-0, +0) = +-0 gives it a defined state.
        x = xp.sqrt(nonneg(1.0 - m * s)) * xp.sin(phi / 2)
        y = xp.abs(xp.sqrt(nonneg(1.0 + m * s)) * xp.cos(phi / 2))
        return 2.0 * (np.arctan2(x, y) if xp is np else torch.atan2(x, y))


@dataclass(frozen=True)
class StretchStack:
    """The stretches of several networks, evaluated at once on tensors stacked along a leading network axis.

    ``stack(z)`` and ``stack.prob_plus(z)`` run the operations of :class:`Stretch` with each network's
    ``a`` broadcast along the first dimension of ``z`` (shape ``(K, ...)``), so slice ``k`` of the
    result equals ``stretches[k](z[k])`` (or its ``prob_plus``) bit for bit wherever
    :func:`uniform_kernels` holds for a slice. The ``linear`` stretch refuses rotations beyond
    :data:`MAX_ANGLE` as :class:`Stretch` does (inside :func:`deferred_angle_checks` its sink gets one
    excess per network).

    Args:
        stretches: one :class:`Stretch` per network, all of one :attr:`Stretch.effective_kind`.

    Raises:
        ConfigurationError: no stretch, something that is not a :class:`Stretch`, or stretches of
            different kinds.

    Example:
        >>> stack = StretchStack(stretches=(Stretch(a=0.5), Stretch(a=2.0)))
        >>> z = torch.tensor([[0.25], [0.25]])
        >>> bool(torch.equal(stack.prob_plus(z)[1], Stretch(a=2.0).prob_plus(z[1])))
        True
    """

    stretches: tuple[Stretch, ...]

    def __post_init__(self) -> None:
        stretches = tuple(self.stretches)
        if not stretches or not all(isinstance(s, Stretch) for s in stretches):
            raise ConfigurationError(
                f"a StretchStack needs one or more Stretch objects, got {[type(s).__name__ for s in stretches]}; "
                "pass e.g. stretches=(Stretch(a=0.5), Stretch(a=1.0))"
            )
        kinds = sorted({s.effective_kind for s in stretches})
        if len(kinds) != 1:
            raise ConfigurationError(
                f"a StretchStack evaluates one stretch function, got the kinds {kinds}; stack the networks of "
                "each kind separately"
            )
        object.__setattr__(self, "stretches", stretches)

    @property
    def effective_kind(self) -> str:
        """The stretch function every network uses (``"sgn"`` for deterministic ones)."""
        return self.stretches[0].effective_kind

    @property
    def is_deterministic(self) -> bool:
        """True when every outcome is certain given ``z`` (the sign neuron)."""
        return self.effective_kind == "sgn"

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`f_a(z)` for each network's slice ``z[k]`` (see :meth:`Stretch.__call__`).

        Raises:
            InputError: ``linear`` only: a finite rotation beyond :data:`MAX_ANGLE` (the first network's).
        """
        kind = self.effective_kind
        if kind == "sgn":
            return _sign_tensor(z)
        f = _stretch_tensor(z, kind, self._a.like(z))
        if kind == "linear":
            _check_angles(f, _cached_tensor(self._a.key, torch.float64, z.device, (-1,)), leading=1)
        return f

    @functools.cached_property
    def _a(self) -> _PerNetwork:
        """The networks' ``a`` (made at first use: the fast path asks for it at every layer of every step)."""
        return _PerNetwork.of(tuple(s.a for s in self.stretches))

    @functools.cached_property
    def _two_over_a(self) -> _PerNetwork:
        return _PerNetwork.of(tuple(2.0 / s.a for s in self.stretches))

    def prob_plus(self, z: torch.Tensor) -> torch.Tensor:
        """Exact :math:`P(d = +1)` of fresh qubits for each network's slice (see :meth:`Stretch.prob_plus`)."""
        if self.effective_kind == "tanh":
            return _tanh_prob_plus(z, self._two_over_a.like(z))
        f = self(z)
        return _sine_prob_plus(f.clone() if f is z else f)


@dataclass(frozen=True)
class MeasurementStack:
    """The measurements of several networks, evaluated at once on angles stacked along a leading network axis.

    Like :class:`StretchStack`: :meth:`prob_plus` and :meth:`readout` run the operations of
    :class:`Measurement` with each network's ``g`` broadcast along the first dimension, so slice ``k``
    equals what ``measurements[k]`` gives for ``phi[k]`` wherever :func:`uniform_kernels` holds for a
    slice. Vectorized for the ``"circuit"`` update (and any projective measurement).

    Args:
        measurements: one :class:`Measurement` per network: all projective, or all weak with the
            ``"circuit"`` update.

    Raises:
        ConfigurationError: no measurement, something that is not a :class:`Measurement`, a mix of
            projective and weak ones, or weak ones with the ``"authors_arcsin"`` update.

    Example:
        >>> stack = MeasurementStack(measurements=(Measurement(g=0.3), Measurement(g=1.1)))
        >>> phi = torch.tensor([[0.5], [0.5]])
        >>> bool(torch.equal(stack.prob_plus(phi)[0], Measurement(g=0.3).prob_plus(phi[0])))
        True
    """

    measurements: tuple[Measurement, ...]

    def __post_init__(self) -> None:
        measurements = tuple(self.measurements)
        if not measurements or not all(isinstance(m, Measurement) for m in measurements):
            raise ConfigurationError(
                "a MeasurementStack needs one or more Measurement objects, got "
                f"{[type(m).__name__ for m in measurements]}; pass e.g. measurements=(Measurement(g=0.5),)"
            )
        projective = {m.is_projective for m in measurements}
        if len(projective) != 1:
            raise ConfigurationError(
                "a MeasurementStack holds projective or weak measurements, not both; stack each kind separately"
            )
        if not measurements[0].is_projective and any(m.update != "circuit" for m in measurements):
            raise ConfigurationError(
                "a MeasurementStack evaluates the 'circuit' update of weak measurements, got "
                f"{sorted({m.update for m in measurements})}; evaluate 'authors_arcsin' networks one at a time"
            )
        object.__setattr__(self, "measurements", measurements)

    @property
    def is_projective(self) -> bool:
        """True when every measurement is projective (``g = pi/2``)."""
        return self.measurements[0].is_projective

    def prob_plus(self, phi: torch.Tensor) -> torch.Tensor:
        r"""Exact :math:`P(m=+1 \mid \phi)` for each network's slice (see :meth:`Measurement.prob_plus`)."""
        if self.is_projective:
            return _cos_prob_plus(phi, None)
        return _cos_prob_plus(phi, self._constants[0].like(phi))

    @functools.cached_property
    def _constants(self) -> tuple[_PerNetwork, _PerNetwork, _PerNetwork, tuple[tuple[float, ...], tuple[float, ...]]]:
        """``sin g``, ``-sin g``, ``(1 + sin g)/2`` and the ratios ``(r_+, r_-)`` per network (made at first use)."""
        sines = tuple(m.sin_g for m in self.measurements)
        ratios = [m._ratios() for m in self.measurements] if not self.is_projective else []
        return (
            _PerNetwork.of(sines),
            _PerNetwork.of(tuple(-s for s in sines)),
            _PerNetwork.of(tuple(0.5 + 0.5 * s for s in sines)),
            (tuple(r for r, _ in ratios), tuple(r for _, r in ratios)),
        )

    def readout(self, phi: torch.Tensor) -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        """Outcome probabilities and the post-measurement update, per network (see :meth:`Measurement.readout`)."""
        if self.is_projective:
            return self.prob_plus(phi), lambda m: _stacked_post_angles(self.measurements, phi, m)
        _, neg_sines, offsets, ratios = self._constants
        return _weak_readout(phi, neg_sines.like(phi), offsets.like(phi), ratios, phi.ndim)


def _stacked_post_angles(measurements: Sequence[Measurement], phi: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Each network's :meth:`Measurement.post_angle`, slice by slice (projective measurements: never vectorized)."""
    return torch.stack([meas.post_angle(phi[k], m[k]) for k, meas in enumerate(measurements)])


@dataclass(frozen=True)
class Neuron:
    """A hidden neuron: a stretch function and a measurement.

    Args:
        stretch: how ``z`` becomes a rotation angle.
        measurement: how the neuron is read out (projective or weak).

    Example:
        >>> Neuron(stretch=Stretch(a=0.0), measurement=Measurement()).is_classical
        True
    """

    stretch: Stretch = Stretch()
    measurement: Measurement = Measurement()

    @property
    def is_classical(self) -> bool:
        """``a = 0`` (or ``sgn``) with a projective measurement: exactly the classical sign neuron."""
        return self.stretch.is_deterministic and self.measurement.is_projective


def outcome_to_activation(bits: Any) -> Any:
    """Map measured bits to activations: bit 0 -> ``+1``, bit 1 -> ``-1``.

    Example:
        >>> outcome_to_activation(np.array([0, 1]))
        array([ 1, -1])
    """
    bits = bits if isinstance(bits, torch.Tensor) else np.asarray(bits)
    return 1 - 2 * bits


def activation_to_bit(d: Any) -> Any:
    """Map activations to bits: ``+1`` -> 0, ``-1`` -> 1.

    Example:
        >>> activation_to_bit(np.array([1, -1]))
        array([0, 1])
    """
    d = d if isinstance(d, torch.Tensor) else np.asarray(d)
    return (1 - d) // 2
