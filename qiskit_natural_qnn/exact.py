"""Exact outcome distributions of small networks, by enumeration.

This is the oracle that every execution (fast path, layer circuits, the single dynamic circuit,
deferred circuits, hardware samplers) is tested against. It walks every joint outcome of the hidden
layers, multiplying the exact per-neuron probabilities of :mod:`qiskit_natural_qnn.neurons` and, for
Method 2, carrying each neuron's post-measurement angle along the branch. The cost is
one branch per joint outcome of non-zero probability: neurons whose outcome is certain (the sign
neuron, saturated inputs) do not branch, so deterministic networks of any width are cheap, while a
fully stochastic network is limited to about 20 hidden neurons (:data:`MAX_EXACT_BRANCHES`).

Example:
    >>> import numpy as np
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[2, 1, 1, 2], a=0.0, seed=0)
    >>> dist = exact_distribution(net, np.array([0.3, 0.7]))
    >>> len(dist), sum(dist.values())  # the classical network is deterministic
    (1, 1.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.neurons import Measurement

__all__ = ["MAX_EXACT_BRANCHES", "exact_distribution", "exact_class_distribution", "Outcome"]

#: Largest number of outcome branches that :func:`exact_distribution` walks (2**22).
MAX_EXACT_BRANCHES = 2**22

#: A joint outcome: one tuple of bits per hidden layer, neuron 0 first (bit 0 = activation +1).
Outcome = tuple[tuple[int, ...], ...]

_STRONG = Measurement()


def _patterns(width: int) -> np.ndarray:
    """All bit patterns of ``width`` bits, shape ``(2**width, width)``, neuron 0 first."""
    idx = np.arange(2**width)[:, None]
    return ((idx >> np.arange(width)[None, :]) & 1).astype(np.int64)


def _numpy_params(model: Any) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    with torch.no_grad():
        weights = [w.detach().cpu().double().numpy() for w in model.weights()]
        biases = [None if b is None else b.detach().cpu().double().numpy() for b in model.biases()]
    return weights, biases


def exact_distribution(model: Any, x: Any, *, min_prob: float = 0.0) -> dict[Outcome, float]:
    """The exact joint distribution of every hidden layer's outcome bits for one input.

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN`.
        x: one input of shape ``(n_inputs,)``.
        min_prob: drop branches whose probability is at most this (``0`` keeps every branch with
            non-zero probability, so the values sum to 1 up to round-off).

    Returns:
        ``{outcome: probability}``; an outcome is a tuple with one tuple of bits per hidden layer.

    Raises:
        ConfigurationError: the enumeration would walk more than :data:`MAX_EXACT_BRANCHES` branches.
        InputError: ``x`` is not one finite input of the right width.
    """
    xt = model.check_input(x)
    if xt.ndim != 1:
        raise InputError(f"exact_distribution takes one input of shape ({model.n_inputs},), got {tuple(xt.shape)}")
    x64 = xt.detach().cpu().double().numpy()
    weights, biases = _numpy_params(model)
    stretch, meas = model.neuron.stretch, model.neuron.measurement
    n_hidden = len(weights) - 1
    carry = not meas.is_projective and n_hidden > 1
    out: dict[Outcome, float] = {}
    walked = [0]

    def recurse(k: int, h: np.ndarray, phi: np.ndarray, m_prev: np.ndarray, prob: float, bits: Outcome) -> None:
        if k == n_hidden:
            out[bits] = out.get(bits, 0.0) + prob
            return
        z = weights[k] @ h + (0.0 if biases[k] is None else biases[k])
        if carry:
            phi_now = phi + (math.pi / 2) * (m_prev - stretch(z))
            layer_meas = meas if k < n_hidden - 1 else _STRONG
            p_plus = layer_meas.prob_plus(phi_now)
        else:
            phi_now = phi
            layer_meas = _STRONG
            p_plus = stretch.prob_plus(z)
        p_plus = np.clip(p_plus, 0.0, 1.0)
        free = np.flatnonzero((p_plus > 0.0) & (p_plus < 1.0))
        walked[0] += 2 ** len(free)
        if walked[0] > MAX_EXACT_BRANCHES:
            raise ConfigurationError(
                f"exact enumeration is limited to {MAX_EXACT_BRANCHES} outcome branches and this network "
                f"needs more (a layer with {len(free)} uncertain neurons); compare against fast-path "
                "samples for wider networks"
            )
        base = (p_plus == 0.0).astype(np.int64)  # certain neurons: bit 1 where P(+1) = 0
        for free_bits in _patterns(len(free)):
            pattern = base.copy()
            pattern[free] = free_bits
            d = 1.0 - 2.0 * pattern
            p = prob * float(np.prod(np.where(pattern == 0, p_plus, 1.0 - p_plus)))
            if p <= min_prob:
                continue
            next_phi = layer_meas.post_angle(phi_now, d) if carry else phi
            recurse(k + 1, d, next_phi, d, p, (*bits, tuple(int(b) for b in pattern)))

    width = model.hidden_sizes[0]
    recurse(0, x64, np.zeros(width), np.ones(width), 1.0, ())
    return out


def exact_class_distribution(model: Any, x: Any) -> np.ndarray:
    """The exact probability of each predicted class (argmax of the logits; ties -> smallest index).

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN`.
        x: one input of shape ``(n_inputs,)``.

    Returns:
        An array of shape ``(n_outputs,)`` summing to 1.
    """
    weights, biases = _numpy_params(model)
    probs = np.zeros(model.n_outputs)
    for outcome, p in exact_distribution(model, x).items():
        d = 1.0 - 2.0 * np.asarray(outcome[-1], dtype=float)
        logits = weights[-1] @ d + (0.0 if biases[-1] is None else biases[-1])
        probs[int(np.argmax(logits))] += p
    return probs
