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
  rounding noise.

Example:
    >>> import numpy as np
    >>> neuron = Neuron(stretch=Stretch(a=0.5, kind="hardtanh"), measurement=Measurement(g=np.pi / 2))
    >>> float(neuron.stretch.prob_plus(0.25))  # (1 + sin(pi/4)) / 2
    0.8535533905932737
    >>> float(Measurement(g=np.pi / 4).prob_plus(0.0))  # (1 + sin(pi/4)) / 2 for |0>
    0.8535533905932737
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
    "Neuron",
    "outcome_to_activation",
    "activation_to_bit",
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


def _check_angles(f: Any, a: float) -> None:
    """Refuse stretched values :math:`f = z/a` whose rotation exceeds :data:`MAX_ANGLE` (finite ones only).

    Non-finite values are an overflow of ``W x``, which the callers' finiteness checks report as such.
    """
    if isinstance(f, torch.Tensor):
        worst = float(f.detach().abs().amax()) if f.numel() else 0.0  # NaN if any is NaN: left to the callers
    else:
        f = np.asarray(f)
        worst = float(np.abs(f).max()) if f.size else 0.0
    if not _MAX_STRETCHED < worst < math.inf:
        return
    raise InputError(
        f"a pre-activation |z| = {worst * a:.6g} gives the linear stretch's neuron the rotation "
        f"pi/2 * |z|/a = {worst * _HALF_PI:.6g} rad, beyond MAX_ANGLE = 2**24 * pi ({MAX_ANGLE:.6g} rad), where "
        "float32 cannot tell one turn from the next; scale the inputs (e.g. pixels to [0, 1]), shrink the "
        "weights, or use a larger stretch a"
    )


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
                return (z > 0).to(z.dtype).mul_(2.0).sub_(1.0)
            return np.where(z > 0, 1.0, -1.0)
        if kind == "tanh":
            return _xp(z).tanh(z / self.a)
        if kind == "hardtanh":
            return _xp(z).clip(z / self.a, -1.0, 1.0)
        f = z / self.a
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
                return torch.sigmoid(z * (2.0 / self.a)).mul_(_HALF_PI).sin_().square_()
            f = self(z)
            if f is z:
                f = f.clone()
            return f.mul_(_HALF_PI).sin_().add_(1.0).mul_(0.5)
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


def _select_ratio(m: torch.Tensor, r_minus: torch.Tensor, r_plus: torch.Tensor) -> torch.Tensor:
    """``r_plus`` where ``m = +1`` and ``r_minus`` where ``m = -1``, exactly (``m`` holds only +-1).

    ``torch.lerp`` with weight ``t = (m + 1) / 2`` in ``{0, 1}`` returns its end points exactly (it
    evaluates from the nearer end), and is several times faster than ``torch.where`` on CPUs.
    """
    return torch.lerp(r_minus, r_plus, m.mul(0.5).add_(0.5))


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
            c = torch.cos(phi)
            return (c if self.is_projective else c.mul_(self.sin_g)).add_(1.0).mul_(0.5)
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
        half = phi * 0.5
        sh, ch = torch.sin(half), torch.cos(half)
        p_plus = sh.square().mul_(-s).add_(0.5 + 0.5 * s)
        r_plus, r_minus = self._ratios()

        lo, hi = sh.new_tensor(r_minus), sh.new_tensor(r_plus)

        def update(m: torch.Tensor) -> torch.Tensor:
            return torch.atan2(sh * _select_ratio(m, lo, hi), ch).mul_(2.0)

        return p_plus, update

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
                        ratio = _select_ratio(m, phi.new_tensor(r_minus), phi.new_tensor(r_plus))
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
