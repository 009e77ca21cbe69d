"""Exact outcome distributions of small networks, by enumeration.

This is the oracle that every execution (fast path, layer circuits, the single dynamic circuit,
deferred circuits, hardware samplers) is tested against. It walks every joint outcome of the hidden
layers, multiplying the exact per-neuron probabilities of :mod:`qiskit_natural_qnn.neurons` and, for
Method 2, carrying each neuron's post-measurement angle along the branch. Which measurement each layer
uses, which layers carry their state on and the angle step come from the network's
:class:`~qiskit_natural_qnn.schedule.LayerSchedule`, as in the fast path: the enumeration is an
independent algorithm, not an independent copy of the rules. The cost is
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

import numpy as np

from qiskit_natural_qnn.decode import Outcome, classes_from_bits
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.schedule import carried_angle
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, network_view

__all__ = ["MAX_EXACT_BRANCHES", "exact_distribution", "exact_class_distribution", "Outcome"]

#: Largest number of outcome branches that :func:`exact_distribution` walks (2**22).
MAX_EXACT_BRANCHES = 2**22


def _patterns(width: int) -> np.ndarray:
    """All bit patterns of ``width`` bits, shape ``(2**width, width)``, neuron 0 first."""
    idx = np.arange(2**width)[:, None]
    return ((idx >> np.arange(width)[None, :]) & 1).astype(np.int64)


def exact_distribution(model: NetworkLike, x: ArrayLike, *, min_prob: float = 0.0) -> dict[Outcome, float]:
    """The exact joint distribution of every hidden layer's outcome bits for one input.

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or its
            :class:`~qiskit_natural_qnn.view.NetworkView`.
        x: one input of shape ``(n_inputs,)``.
        min_prob: drop branches whose probability is at most this (``0`` keeps every branch with
            non-zero probability, so the values sum to 1 up to round-off).

    Returns:
        ``{outcome: probability}``; an outcome is a tuple with one tuple of bits per hidden layer.

    Raises:
        ConfigurationError: the enumeration would walk more than :data:`MAX_EXACT_BRANCHES` branches.
        InputError: ``x`` is not one finite input of the right width.
    """
    view = network_view(model)
    x64 = view.inputs(x)
    if x64.ndim != 1:
        raise InputError(f"exact_distribution takes one input of shape ({view.n_inputs},), got {tuple(x64.shape)}")
    weights, biases, schedule = view.weights, view.biases, view.schedule
    stretch = view.neuron.stretch
    n_hidden = schedule.n_hidden
    out: dict[Outcome, float] = {}
    walked = [0]

    def recurse(
        k: int, h: np.ndarray, phi: np.ndarray | None, m_prev: np.ndarray | None, prob: float, bits: Outcome
    ) -> None:
        if k == n_hidden:
            out[bits] = out.get(bits, 0.0) + prob
            return
        z = weights[k] @ h + biases[k]
        layer_meas = schedule.measurement(k + 1)
        phi_now: np.ndarray | None = None
        if schedule.carries_state:
            phi_now = carried_angle(stretch(z), phi=phi, m=m_prev)
            p_plus = layer_meas.prob_plus(phi_now)
        else:
            p_plus = stretch.prob_plus(z)  # a fresh qubit, measured projectively
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
            carried = schedule.carries_after(k + 1)
            next_phi = layer_meas.post_angle(phi_now, d) if carried else None
            recurse(k + 1, d, next_phi, d if carried else None, p, (*bits, tuple(int(b) for b in pattern)))

    recurse(0, x64, None, None, 1.0, ())
    return out


def exact_class_distribution(model: NetworkLike, x: ArrayLike) -> np.ndarray:
    """The exact probability of each predicted class (argmax of the logits; ties -> smallest index).

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or its
            :class:`~qiskit_natural_qnn.view.NetworkView`.
        x: one input of shape ``(n_inputs,)``.

    Returns:
        An array of shape ``(n_outputs,)`` summing to 1.
    """
    view = network_view(model)
    probs = np.zeros(view.n_outputs)
    dist = exact_distribution(view, x)
    classes = classes_from_bits(view, np.array([outcome[-1] for outcome in dist], dtype=np.int64))
    for c, p in zip(classes, dist.values()):
        probs[int(c)] += p
    return probs
