r"""Pseudo-gradients of a sampled activation, as small objects (in the manner of larq's quantizers).

A hidden neuron's activation :math:`d \in \{+1, -1\}` is a measurement outcome: it has no derivative
with respect to its pre-activation :math:`z`. A *surrogate* keeps the sample in the forward pass and
puts a pseudo-derivative :math:`\partial d/\partial z` in the backward pass (``docs/model.md``,
"Training"). Two are defined, each with a ``name`` that model files, records and the CLI use:

* :class:`HardTanhSurrogate` (``"hardtanh"``, the default): the paper's straight-through estimator
  with the hard-tanh derivative at unit scale, :math:`\partial d/\partial z := \mathbb{1}[-1 < z < 1]`,
  whatever the stretch ``a`` and the angle ``g`` (arXiv:2503.15482, section "Training").
* :class:`ExpectedSurrogate` (``"expected"``): the derivative of the neuron's expected activation,
  :math:`\partial d/\partial z := \frac{d}{dz} E[d]` (:func:`expected_slope`); it needs a stochastic
  neuron.

Three tiers, as in larq: the pure slope functions (:func:`expected_slope`), the surrogate objects
(``surrogate(z, d, stretch)`` attaches the pseudo-gradient to a sample), and their registry by name,
:data:`SURROGATES`, read by :func:`get_surrogate`. No gradient flows through a qubit's state: Method 2
uses the fresh-qubit slope of each layer.

Example:
    >>> import torch
    >>> from qiskit_natural_qnn.neurons import Stretch
    >>> z = torch.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
    >>> surrogate = get_surrogate("hardtanh")
    >>> surrogate, str(surrogate)
    (HardTanhSurrogate(), 'hardtanh')
    >>> surrogate(z, torch.sign(z.detach()), Stretch(a=0.5)).sum().backward()
    >>> z.grad
    tensor([0., 1., 1., 0.])
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import torch

from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.neurons import Neuron, Stretch

__all__ = [
    "SURROGATES",
    "ExpectedSurrogate",
    "HardTanhSurrogate",
    "Surrogate",
    "expected_slope",
    "get_surrogate",
]


class _HardTanhThrough(torch.autograd.Function):
    """``d`` forward; ``grad * 1[-1 < z < 1]`` to ``z`` backward, in one fused kernel."""

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z)
        return d.view_as(d)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:
        (z,) = ctx.saved_tensors
        return torch.ops.aten.hardtanh_backward(grad_out, z, -1.0, 1.0), None


class _SlopeThrough(torch.autograd.Function):
    """``d`` forward; ``grad * slope`` to ``z`` backward (``slope`` computed without gradients)."""

    @staticmethod
    def forward(ctx: Any, z: torch.Tensor, d: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(slope)
        return d.view_as(d)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (slope,) = ctx.saved_tensors
        return grad_out * slope, None, None


def _needs_gradient(z: torch.Tensor) -> bool:
    return z.requires_grad and torch.is_grad_enabled()


@dataclass(frozen=True, kw_only=True)
class Surrogate(ABC):
    r"""A pseudo-gradient of a sampled activation: the sample forward, :meth:`slope` backward.

    Subclasses set the class attribute ``name`` (the string alias of :data:`SURROGATES`) and define
    :meth:`slope`; :meth:`check` refuses the neurons they do not fit. Instances are frozen, compare
    equal by type, hash, and print as their ``name`` with :func:`str`.
    """

    #: The string alias, as model files, records and the CLI write it.
    name: ClassVar[str]

    @abstractmethod
    def slope(self, z: torch.Tensor, stretch: Stretch) -> torch.Tensor:
        r"""The pseudo-derivative :math:`\partial d/\partial z` at ``z``, shaped like ``z``, in its dtype.

        Args:
            z: pre-activations (any shape), without gradients.
            stretch: the neuron's stretch.
        """

    def check(self, neuron: Neuron) -> None:
        """Raise :class:`~qiskit_natural_qnn.exceptions.ConfigurationError` if this surrogate does not fit ``neuron``.

        Every neuron fits unless a subclass says otherwise.
        """
        return None

    def __call__(self, z: torch.Tensor, d: torch.Tensor, stretch: Stretch) -> torch.Tensor:
        """Return the sample ``d``, with ``slope(z) * dL/dd`` flowing to ``z`` in the backward pass.

        Args:
            z: the pre-activations ``d`` was sampled from.
            d: the sampled activations, shaped like ``z``.
            stretch: the neuron's stretch.

        Returns:
            ``d`` itself when ``z`` needs no gradient (or gradients are off), else ``d`` tied to ``z``.
        """
        if not _needs_gradient(z):
            return d
        return _SlopeThrough.apply(z, d, self.slope(z.detach(), stretch))

    def stacked(self, z: torch.Tensor, d: torch.Tensor, stretches: Sequence[Stretch]) -> torch.Tensor:
        """:meth:`__call__` for networks stacked on the first dimension (an ensemble trained side by side).

        Network ``k``'s slice of ``z`` and ``d`` gets the pseudo-gradient it gets alone, with its
        stretch ``stretches[k]``, bit for bit: its slope is computed on its own slice.

        Args:
            z: the pre-activations, shape ``(K, ...)``.
            d: the sampled activations, shaped like ``z``.
            stretches: one stretch per network.
        """
        if not _needs_gradient(z):
            return d
        zd = z.detach()
        slope = torch.stack([self.slope(zd[k], stretch) for k, stretch in enumerate(stretches)])
        return _SlopeThrough.apply(z, d, slope)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, kw_only=True)
class HardTanhSurrogate(Surrogate):
    r"""The paper's straight-through estimator: the hard-tanh derivative at unit scale.

    Forward: the sample :math:`d`. Pseudo-gradient:

    .. math::
        \frac{\partial d}{\partial z} := \mathbb{1}[-1 < z < 1],

    whatever the stretch ``a``, the stretch function and ``g`` (arXiv:2503.15482, section "Training";
    ``docs/model.md``, "Training"). Fits every neuron, the sign neuron included.

    Example:
        >>> z = torch.tensor([-1.0, -0.5, 0.999, 1.0])
        >>> HardTanhSurrogate().slope(z, Stretch(a=0.5))
        tensor([0., 1., 1., 0.])
    """

    name: ClassVar[str] = "hardtanh"

    def slope(self, z: torch.Tensor, stretch: Stretch) -> torch.Tensor:
        """``1`` where ``-1 < z < 1`` (strictly), else ``0``; the stretch does not matter."""
        return ((z > -1) & (z < 1)).to(z.dtype)

    def __call__(self, z: torch.Tensor, d: torch.Tensor, stretch: Stretch) -> torch.Tensor:
        """Return ``d``; pass ``1[-1 < z < 1] * dL/dd`` to ``z`` (one fused kernel)."""
        if not _needs_gradient(z):
            return d
        return _HardTanhThrough.apply(z, d)

    def stacked(self, z: torch.Tensor, d: torch.Tensor, stretches: Sequence[Stretch]) -> torch.Tensor:
        """Like :meth:`__call__` (the stretch does not matter): one fused kernel for the whole stack."""
        return self(z, d, stretches[0])


def _deterministic_error(stretch: Stretch) -> ConfigurationError:
    return ConfigurationError(
        "surrogate 'expected' needs a stochastic neuron (a > 0, stretch tanh/hardtanh/linear), got "
        f"a = {stretch.a} with stretch {stretch.kind!r}; use surrogate='hardtanh' for the sign neuron"
    )


def expected_slope(stretch: Stretch, z: torch.Tensor) -> torch.Tensor:
    r"""Derivative of a fresh neuron's expected activation, :math:`\frac{d}{dz}E[d]`.

    With :math:`E[d] = 2P(d=+1) - 1 = \sin(\frac{\pi}{2} f_a(z))`:

    .. math::
        \frac{d}{dz}E[d] = \frac{\pi}{2}\cos\!\left(\frac{\pi}{2} f_a(z)\right) f_a'(z), \qquad
        \text{linear: } \frac{\pi}{2a}\cos\frac{\pi z}{2a}, \quad
        \text{hardtanh: } \frac{\pi}{2a}\cos\frac{\pi z}{2a}\,\mathbb{1}[|z| < a], \quad
        \tanh: \frac{\pi}{2a}\cos\!\left(\frac{\pi}{2}\tanh\frac{z}{a}\right)\mathrm{sech}^2\frac{z}{a}.

    For the ``linear`` stretch the slope is negative where :math:`E[d]` decreases
    (:math:`|z| > a` within a period), unlike the straight-through estimator.

    Args:
        stretch: a stochastic stretch (``a > 0``, not ``sgn``).
        z: pre-activations (any shape).

    Returns:
        The slope, shaped like ``z``.

    Raises:
        ConfigurationError: a deterministic stretch (``a = 0`` or ``sgn``), whose expected activation
            is a step with no useful derivative.

    Example:
        >>> z = torch.tensor([0.0, 0.5, 2.0, 3.0])
        >>> expected_slope(Stretch(a=1.0, kind="linear"), z).round(decimals=4)  # (pi/2) cos(pi z / 2)
        tensor([ 1.5708,  1.1107, -1.5708,  0.0000])
    """
    kind = stretch.effective_kind
    if kind == "sgn":
        raise _deterministic_error(stretch)
    k = math.pi / (2.0 * stretch.a)
    if kind == "tanh":
        t = torch.tanh(z / stretch.a)
        return torch.cos(t * (math.pi / 2)).mul_(1.0 - t * t).mul_(k)
    slope = torch.cos(z * k).mul_(k)
    if kind == "hardtanh":
        slope = slope.masked_fill_(z.abs() >= stretch.a, 0.0)
    return slope


@dataclass(frozen=True, kw_only=True)
class ExpectedSurrogate(Surrogate):
    r"""The derivative of the neuron's expected activation (an option beyond the paper).

    Forward: the sample :math:`d`. Pseudo-gradient (:func:`expected_slope`):

    .. math::
        \frac{\partial d}{\partial z} := \frac{d}{dz} E[d]
        = \frac{\pi}{2}\cos\!\left(\frac{\pi}{2} f_a(z)\right) f_a'(z);

    for the hardware-native ``linear`` stretch that is :math:`\frac{\pi}{2a}\cos\frac{\pi z}{2a}`
    (``docs/native.md``). Needs a stochastic neuron: the sign neuron's expected activation is a step.

    Example:
        >>> ExpectedSurrogate().slope(torch.tensor([0.0, 2.0]), Stretch(a=1.0, kind="linear"))
        tensor([ 1.5708, -1.5708])
    """

    name: ClassVar[str] = "expected"

    def slope(self, z: torch.Tensor, stretch: Stretch) -> torch.Tensor:
        """:func:`expected_slope` of ``stretch`` at ``z``."""
        return expected_slope(stretch, z)

    def check(self, neuron: Neuron) -> None:
        """Refuse a deterministic neuron (``a = 0`` or stretch ``sgn``).

        Raises:
            ConfigurationError: ``neuron`` is deterministic.
        """
        if neuron.stretch.is_deterministic:
            raise _deterministic_error(neuron.stretch)


#: The surrogates by name (read-only): ``"hardtanh"`` (the default) and ``"expected"``.
SURROGATES: Mapping[str, Surrogate] = MappingProxyType({s.name: s for s in (HardTanhSurrogate(), ExpectedSurrogate())})


def get_surrogate(surrogate: str | Surrogate, *, neuron: Neuron | None = None) -> Surrogate:
    """The surrogate object for a name of :data:`SURROGATES` or an object, checked against ``neuron``.

    Args:
        surrogate: ``"hardtanh"``, ``"expected"``, or a :class:`Surrogate` (returned as it is).
        neuron: if given, the neuron it will train (``"expected"`` needs a stochastic one).

    Returns:
        The :class:`Surrogate`.

    Raises:
        ConfigurationError: an unknown name, something that is neither a name nor a surrogate, or a
            surrogate that does not fit ``neuron``.

    Example:
        >>> get_surrogate("expected")
        ExpectedSurrogate()
        >>> try:
        ...     get_surrogate("ste")
        ... except ConfigurationError as exc:
        ...     print(exc)
        unknown surrogate 'ste'; expected one of hardtanh, expected; pass one of these names or a Surrogate object
    """
    if isinstance(surrogate, Surrogate):
        found = surrogate
    elif isinstance(surrogate, str) and surrogate in SURROGATES:
        found = SURROGATES[surrogate]
    elif isinstance(surrogate, str):
        raise ConfigurationError(
            f"unknown surrogate {surrogate!r}; expected one of {', '.join(SURROGATES)}; pass one of these "
            "names or a Surrogate object"
        )
    else:
        raise ConfigurationError(
            f"surrogate must be a name ({', '.join(SURROGATES)}) or a Surrogate object, got "
            f"{type(surrogate).__name__}; pass e.g. surrogate='hardtanh'"
        )
    if neuron is not None:
        found.check(neuron)
    return found
