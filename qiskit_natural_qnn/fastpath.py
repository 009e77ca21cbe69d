r"""Batched, exact sampling of a naturally quantized network in PyTorch.

This is the reference semantics of the library and its training engine. One call draws one
independent stochastic forward pass per row of the input (per image and per shot), with the exact
outcome statistics of :mod:`qiskit_natural_qnn.neurons`, on whatever device the tensors live.

Per hidden layer ``k`` with pre-activation :math:`z = W_k h_{k-1}` (plus bias, if any):

* Method 1 (projective, ``g = pi/2``): :math:`d = +1` with probability
  :math:`(1 + \sin(\frac{\pi}{2} f_a(z)))/2`, independently per neuron.
* Method 2 (weak, ``g < pi/2``): neuron ``i`` is the same qubit in every hidden layer. It carries a
  Bloch angle :math:`\phi_i` (start 0) and its last outcome :math:`m_i` (start +1); the layer rotates
  it by :math:`\frac{\pi}{2}(m_i - f_a(z_i))`, measures it with angle ``g`` (``pi/2`` for the last
  hidden layer) and leaves it at the post-measurement angle.

The backward pass is the straight-through estimator with the hard-tanh derivative at unit scale,
:math:`\partial d / \partial z := \mathbb{1}[-1 < z < 1]`, whatever ``a`` and ``g`` are
(PAPER.md section 4). No gradient flows through the qubit state.

``surrogate="expected"`` replaces it by the derivative of the neuron's own expected activation
(:func:`expected_slope`), :math:`\partial d / \partial z := \frac{d}{dz} E[d] =
\frac{\pi}{2}\cos(\frac{\pi}{2} f_a(z))\, f_a'(z)`; for the hardware-native ``linear`` stretch
that is :math:`\frac{\pi}{2a}\cos\frac{\pi z}{2a}` (see ``docs/native.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.neurons import Measurement, Neuron, Stretch

__all__ = [
    "SURROGATES",
    "ForwardPass",
    "StraightThrough",
    "straight_through",
    "SurrogateThrough",
    "expected_slope",
    "check_surrogate",
    "sample_network",
    "make_generator",
    "UniformSource",
]

#: ``uniform(layer_index, shape, like)`` returns i.i.d. U[0, 1) numbers shaped ``shape`` with the
#: dtype and device of ``like``. The default draws from a :class:`torch.Generator`.
UniformSource = Callable[[int, torch.Size, torch.Tensor], torch.Tensor]

_STRONG = Measurement()

#: Pseudo-gradients of a sampled activation: ``"hardtanh"`` (the paper's unit-scale straight-through
#: estimator, the default) and ``"expected"`` (the derivative of the neuron's expected activation).
SURROGATES: tuple[str, ...] = ("hardtanh", "expected")


class ForwardPass(NamedTuple):
    """One batch of stochastic forward passes.

    Attributes:
        logits: output logits, shape ``(*batch, n_outputs)``.
        preactivations: per hidden layer, the pre-activations ``z``, shape ``(*batch, width)``.
        activations: per hidden layer, the sampled activations in ``{+1, -1}`` (same dtype as ``z``).
    """

    logits: torch.Tensor
    preactivations: list[torch.Tensor]
    activations: list[torch.Tensor]

    def check_finite(self) -> None:
        """Refuse pre-activations that are not finite: ``W x`` overflowed the network's dtype.

        Finite inputs and weights can still overflow: a single huge product gives ``inf``, and a sum
        of overflowing terms gives ``inf - inf``, which is NaN on one CPU kernel and ``inf`` on another
        (a fused multiply-add keeps the first infinity). A NaN would be sampled as ``-1`` every time and
        an infinity is an overflow too, so both are refused: the same input is accepted or refused on
        every CPU.

        Raises:
            InputError: some pre-activation is ``inf``, ``-inf`` or NaN.
        """
        for k, z in enumerate(self.preactivations, start=1):
            if not bool(torch.isfinite(z).all()):
                raise InputError(nonfinite_preactivation_message(k, z.dtype))


def nonfinite_preactivation_message(layer: int | None, dtype: torch.dtype) -> str:
    """The one explanation of an overflowing ``W x`` (hidden layer ``layer``, or any layer if None)."""
    where = f"hidden layer {layer}" if layer is not None else "a hidden layer"
    return (
        f"the pre-activations of {where} are not finite: W x overflowed {dtype} (to inf or NaN, "
        "depending on the CPU's kernels); scale the inputs (e.g. pixels to [0, 1]), lower the learning "
        "rate if this happened in training, or use a float64 network"
    )


class StraightThrough(torch.autograd.Function):
    r"""Return the sample ``d`` forward; pass :math:`\mathbb{1}[-1<z<1]\,\partial L/\partial d` to ``z``.

    Forward: :math:`d` (a stochastic sample in :math:`\{+1,-1\}`). Pseudo-gradient:
    :math:`\frac{\partial d}{\partial z} = 1` if :math:`-1 < z < 1` else :math:`0` (the hard-tanh
    derivative at unit scale, Barney et al. 2025, section "Training").
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, d: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(z)
        return d.view_as(d)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (z,) = ctx.saved_tensors
        # One fused kernel: grad_out where -1 < z < 1 (strictly), else 0.
        return torch.ops.aten.hardtanh_backward(grad_out, z, -1.0, 1.0), None


def straight_through(z: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """Attach the unit-scale hard-tanh pseudo-gradient of ``z`` to the sample ``d``.

    Example:
        >>> z = torch.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
        >>> straight_through(z, torch.sign(z)).sum().backward()
        >>> z.grad
        tensor([0., 1., 1., 0.])
    """
    if not (z.requires_grad and torch.is_grad_enabled()):
        return d
    return StraightThrough.apply(z, d)


class SurrogateThrough(torch.autograd.Function):
    r"""Return the sample ``d`` forward; pass ``slope * dL/dd`` to ``z`` (a surrogate given as a tensor).

    ``slope`` is :math:`\partial d/\partial z` evaluated at ``z`` (e.g. :func:`expected_slope`),
    computed without gradients in the forward pass.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, d: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(slope)
        return d.view_as(d)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):  # type: ignore[override]
        (slope,) = ctx.saved_tensors
        return grad_out * slope, None, None


def expected_slope(stretch: Stretch, z: torch.Tensor) -> torch.Tensor:
    r"""Derivative of a fresh neuron's expected activation, :math:`\frac{d}{dz}E[d]`.

    With :math:`E[d] = 2P(d=+1) - 1 = \sin(\frac{\pi}{2} f_a(z))`:

    .. math::
        \frac{d}{dz}E[d] = \frac{\pi}{2}\cos\!\left(\frac{\pi}{2} f_a(z)\right) f_a'(z), \qquad
        \text{linear: } \frac{\pi}{2a}\cos\frac{\pi z}{2a}, \quad
        \text{hardtanh: } \frac{\pi}{2a}\cos\frac{\pi z}{2a}\,\mathbb{1}[|z| < a], \quad
        \tanh: \frac{\pi}{2a}\cos\!\left(\frac{\pi}{2}\tanh\frac{z}{a}\right)\mathrm{sech}^2\frac{z}{a}.

    For the ``linear`` stretch the slope is negative where :math:`E[d]` decreases
    (:math:`|z| > a` within a period), unlike the straight-through estimator. Method 2 uses the same
    fresh-qubit slope (no gradient through the qubit state, as for the straight-through estimator).

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
        raise ConfigurationError(
            "surrogate 'expected' needs a stochastic neuron (a > 0, stretch tanh/hardtanh/linear), got "
            f"a = {stretch.a} with stretch {stretch.kind!r}; use surrogate='hardtanh' for the sign neuron"
        )
    k = math.pi / (2.0 * stretch.a)
    if kind == "tanh":
        t = torch.tanh(z / stretch.a)
        return torch.cos(t * (math.pi / 2)).mul_(1.0 - t * t).mul_(k)
    slope = torch.cos(z * k).mul_(k)
    if kind == "hardtanh":
        slope = slope.masked_fill_(z.abs() >= stretch.a, 0.0)
    return slope


def check_surrogate(surrogate: str, neuron: Neuron) -> str:
    """Validate a surrogate name for ``neuron``; return it.

    Raises:
        ConfigurationError: unknown name, or ``"expected"`` for a deterministic neuron.

    Example:
        >>> check_surrogate("ste", Neuron())
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: unknown surrogate 'ste'; expected one of hardtanh, expected
    """
    if surrogate not in SURROGATES:
        raise ConfigurationError(f"unknown surrogate {surrogate!r}; expected one of {', '.join(SURROGATES)}")
    if surrogate == "expected" and neuron.stretch.is_deterministic:
        expected_slope(neuron.stretch, torch.zeros(()))  # raises with the message and fix
    return surrogate


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


def _sample_sign(p_plus: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """+1 where ``u < p_plus`` else -1 (exact Bernoulli(p_plus) for u ~ U[0, 1)).

    ``-copysign(1, u - p)``: ``u - p`` is ``+0.0`` exactly when ``u == p``, which gives -1 as required.
    """
    one = torch.ones((), dtype=p_plus.dtype, device=p_plus.device)
    return torch.copysign(one, u - p_plus).neg_()


def sample_network(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor | None],
    neuron: Neuron,
    *,
    generator: torch.Generator | None = None,
    uniform: UniformSource | None = None,
    shots: int | None = None,
    surrogate: str = "hardtanh",
) -> ForwardPass:
    """Draw one stochastic forward pass per row of ``x`` (per row and shot when ``shots`` is given).

    Args:
        x: inputs, shape ``(*batch, n_inputs)``; any leading dimensions (e.g. ``(shots, images)``).
        weights: ``[W_1, ..., W_L, W_out]``, each of shape ``(fan_out, fan_in)``.
        biases: one entry per weight, a tensor or None.
        neuron: the hidden neurons' stretch and measurement.
        generator: the random stream (ignored when ``uniform`` is given).
        uniform: an optional source of uniforms keyed by layer (for counter-based randomness).
        shots: if given, draw this many passes per row: the first layer's ``z`` (deterministic given
            ``x``) is computed once and every output gains a leading ``shots`` dimension.
        surrogate: the pseudo-gradient, ``"hardtanh"`` (the paper's unit-scale straight-through
            estimator) or ``"expected"`` (:func:`expected_slope`); see :data:`SURROGATES`.

    Returns:
        The logits and every hidden layer's pre-activations and sampled activations. Gradients flow
        to the weights through the straight-through estimator when autograd is enabled.
    """
    if surrogate != "hardtanh":
        check_surrogate(surrogate, neuron)
    stretch, meas = neuron.stretch, neuron.measurement
    n_hidden = len(weights) - 1
    carry_state = not meas.is_projective and n_hidden > 1
    deterministic = neuron.is_classical
    phi: torch.Tensor | None = None
    m_prev: torch.Tensor | None = None
    pre: list[torch.Tensor] = []
    acts: list[torch.Tensor] = []
    h = x
    for k in range(n_hidden):
        z = torch.nn.functional.linear(h, weights[k], biases[k])
        if k == 0 and shots is not None:
            z = z.unsqueeze(0).expand(int(shots), *z.shape)
        zd = z.detach()
        if deterministic:
            d = stretch(zd)
        else:
            update = None
            if carry_state:
                f = stretch(zd)
                if phi is None:
                    phi = f.neg_().add_(1.0).mul_(math.pi / 2)  # fresh qubits: angle 0, last outcome +1
                else:
                    phi = (m_prev - f).mul_(math.pi / 2).add_(phi)
                if k < n_hidden - 1:
                    p, update = meas.readout(phi)
                else:
                    p = _STRONG.prob_plus(phi)
            else:
                p = stretch.prob_plus(zd)
            u = (
                uniform(k, zd.shape, zd)
                if uniform is not None
                else torch.rand(zd.shape, generator=generator, device=zd.device, dtype=zd.dtype)
            )
            d = _sample_sign(p, u)
            if update is not None:
                phi = update(d)
                m_prev = d
        pre.append(z)
        acts.append(d)
        if surrogate == "hardtanh" or not (z.requires_grad and torch.is_grad_enabled()):
            h = straight_through(z, d)
        else:
            h = SurrogateThrough.apply(z, d, expected_slope(stretch, zd))
    logits = torch.nn.functional.linear(h, weights[-1], biases[-1])
    return ForwardPass(logits=logits, preactivations=pre, activations=acts)
