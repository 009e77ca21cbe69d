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

The backward pass goes through a surrogate of :mod:`qiskit_natural_qnn.surrogates`: by default the
paper's straight-through estimator with the hard-tanh derivative at unit scale,
:math:`\partial d / \partial z := \mathbb{1}[-1 < z < 1]`, whatever ``a`` and ``g`` are
(``docs/model.md``, "Training"), or the derivative of the neuron's expected activation
(:class:`~qiskit_natural_qnn.surrogates.ExpectedSurrogate`). No gradient flows through the qubit state.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import torch

from qiskit_natural_qnn.exceptions import InputError
from qiskit_natural_qnn.neurons import Measurement, Neuron
from qiskit_natural_qnn.randomness import UniformSource
from qiskit_natural_qnn.schedule import LayerSchedule, carried_angle
from qiskit_natural_qnn.surrogates import HardTanhSurrogate, Surrogate, get_surrogate

__all__ = ["ForwardPass", "any_nonfinite", "nonfinite_preactivation_message", "sample_network"]

#: The paper's unit-scale straight-through estimator, the default pseudo-gradient.
_DEFAULT_SURROGATE = HardTanhSurrogate()


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
            if bool(any_nonfinite(z)):
                raise InputError(nonfinite_preactivation_message(k, z.dtype))


def any_nonfinite(z: torch.Tensor) -> torch.Tensor:
    """Whether ``z`` holds ``inf``, ``-inf`` or NaN, as a 0-d bool tensor (no host synchronisation).

    ``z * 0`` is NaN exactly where ``z`` is not finite (``0 * inf`` is NaN), and one multiply plus
    ``isnan`` is about half the cost of ``torch.isfinite`` on CPUs, which matters once per layer and
    training step.
    """
    return torch.isnan(z * 0.0).any()


def nonfinite_preactivation_message(layer: int | None, dtype: torch.dtype) -> str:
    """The one explanation of an overflowing ``W x`` (hidden layer ``layer``, or any layer if None)."""
    where = f"hidden layer {layer}" if layer is not None else "a hidden layer"
    return (
        f"the pre-activations of {where} are not finite: W x overflowed {dtype} (to inf or NaN, "
        "depending on the CPU's kernels); scale the inputs (e.g. pixels to [0, 1]), lower the learning "
        "rate if this happened in training, or use a float64 network"
    )


def _sample_sign(p_plus: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """+1 where ``u < p_plus`` else -1 (exact Bernoulli(p_plus) for u ~ U[0, 1)).

    ``-copysign(1, u - p)``: ``u - p`` is ``+0.0`` exactly when ``u == p``, which gives -1 as required.
    """
    one = torch.ones((), dtype=p_plus.dtype, device=p_plus.device)
    return torch.copysign(one, u - p_plus).neg_()


@functools.lru_cache(maxsize=128)
def _layer_plan(hidden_sizes: tuple[int, ...], neuron: Neuron) -> tuple[bool, tuple[tuple[Measurement, bool], ...]]:
    """The :class:`~qiskit_natural_qnn.schedule.LayerSchedule` of a network, unrolled once per shape and neuron.

    Returns ``(carries_state, ((measurement, carries_after) per hidden layer))``: the training loop
    calls :func:`sample_network` once per step, and this keeps the schedule's checks out of it.
    """
    schedule = LayerSchedule(hidden_sizes=hidden_sizes, neuron=neuron)
    layers = range(1, schedule.n_hidden + 1)
    return schedule.carries_state, tuple((schedule.measurement(k), schedule.carries_after(k)) for k in layers)


def sample_network(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor | None],
    neuron: Neuron,
    *,
    generator: torch.Generator | None = None,
    uniform: UniformSource | None = None,
    shots: int | None = None,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
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
        surrogate: the pseudo-gradient, a :class:`~qiskit_natural_qnn.surrogates.Surrogate` (default:
            the paper's unit-scale straight-through estimator); it must fit ``neuron``.

    Returns:
        The logits and every hidden layer's pre-activations and sampled activations. Gradients flow
        to the weights through ``surrogate`` when autograd is enabled.

    Raises:
        ConfigurationError: ``surrogate`` is not a surrogate, or does not fit ``neuron``.
    """
    surrogate = get_surrogate(surrogate, neuron=neuron)
    stretch = neuron.stretch
    carries_state, plan = _layer_plan(tuple(int(w.shape[0]) for w in weights[:-1]), neuron)
    deterministic = neuron.is_classical
    phi: torch.Tensor | None = None
    m_prev: torch.Tensor | None = None
    pre: list[torch.Tensor] = []
    acts: list[torch.Tensor] = []
    h = x
    for k, (meas, carries_after) in enumerate(plan):
        z = torch.nn.functional.linear(h, weights[k], biases[k])
        if k == 0 and shots is not None:
            z = z.unsqueeze(0).expand(int(shots), *z.shape)
        zd = z.detach()
        if deterministic:
            d = stretch(zd)
        else:
            update = None
            if carries_state:
                phi = carried_angle(stretch(zd), phi=phi, m=m_prev)
                if carries_after:
                    p, update = meas.readout(phi)
                else:
                    p = meas.prob_plus(phi)
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
        h = surrogate(z, d, stretch)
    logits = torch.nn.functional.linear(h, weights[-1], biases[-1])
    return ForwardPass(logits=logits, preactivations=pre, activations=acts)
