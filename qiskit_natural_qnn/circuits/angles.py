r"""Host-side angle arithmetic for the circuits: every number comes from :mod:`..neurons`.

The circuit builders never write a formula of the model themselves; they ask this module, which in
turn asks :class:`~qiskit_natural_qnn.neurons.Stretch`, :class:`~qiskit_natural_qnn.neurons.Measurement`
and the network's :class:`~qiskit_natural_qnn.schedule.LayerSchedule` (which measurement each layer
uses, which layers carry their state on, and Method 2's angle step). Every function takes a
:data:`~qiskit_natural_qnn.view.NetworkLike` and reads its :class:`~qiskit_natural_qnn.view.NetworkView`.

* :func:`input_angles`: the first hidden layer's RY angles, computed on the host from real pixels
  (exact for every stretch function).
* :func:`layer_angles` and :func:`post_angles`: host-side feedforward for layer-by-layer execution.
  For Method 2 the RY angle of a layer circuit is the neuron's *absolute* Bloch angle
  :math:`\phi_k = \phi'_{k-1} + \theta(z_k) + \frac{\pi}{2}(m_{k-1} - 1)` (the schedule's angle step,
  :func:`~qiskit_natural_qnn.schedule.carried_angle`, as its two rotations), prepared on a fresh qubit.
* :func:`linear_feedforward`: a fixed base angle per neuron plus one fixed angle per previous-layer
  bit (the ``linear`` construction); exact only where :math:`f_a(z) = z/a` on every bit pattern.
* :func:`lookup_angles`: the exact angles for every bit pattern of the previous layer (the
  ``lookup`` construction); exact for every stretch function.

Huge pre-activations are refused here as on the fast path: a ``W x`` that overflows float64 (inf or
NaN) with the fast path's message, and a ``linear`` stretch's rotation beyond
:data:`~qiskit_natural_qnn.neurons.MAX_ANGLE` by the stretch itself; the ``linear`` and ``lookup``
constructions refuse a layer where any bit pattern of the previous layer would give one.

Bit conventions (from :mod:`..neurons`): bit 0 -> activation :math:`+1`, bit 1 -> :math:`-1`. A
classical register value ``v`` holds neuron ``j``'s bit in binary digit ``j`` (Qiskit's order).

Example:
    >>> import numpy as np, torch
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[2, 2, 2, 2], a=1.0, stretch="linear", seed=0, dtype=torch.float64)
    >>> ff = linear_feedforward(net, layer=2)
    >>> bits = np.array([1, 0])
    >>> bool(np.allclose(ff.base + ff.per_bit @ bits, layer_angles(net, layer=2, bits=bits)))
    True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.fastpath import nonfinite_preactivation_message
from qiskit_natural_qnn.neurons import Measurement, Stretch, outcome_to_activation
from qiskit_natural_qnn.schedule import own_outcome_shift
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, NetworkView, network_view

__all__ = [
    "LinearFeedforward",
    "carries_state",
    "input_angles",
    "layer_angles",
    "layer_measurement",
    "linear_feedforward",
    "lookup_angles",
    "network_arrays",
    "post_angles",
    "register_patterns",
]


def carries_state(model: NetworkLike) -> bool:
    """True when neurons keep their qubit from layer to layer (Method 2, ``g < pi/2``, >= 2 hidden layers).

    The network's :attr:`~qiskit_natural_qnn.schedule.LayerSchedule.carries_state`.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> carries_state(NaturalQNN(layer_sizes=[2, 2, 2, 2], a=0.5, g=0.5, seed=0))
        True
        >>> carries_state(NaturalQNN(layer_sizes=[2, 2, 2], a=0.5, g=0.5, seed=0))  # one hidden layer
        False
    """
    return network_view(model).schedule.carries_state


def network_arrays(model: NetworkLike) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The weights and biases as float64 NumPy arrays (a zero bias where the network has none).

    The :class:`~qiskit_natural_qnn.view.NetworkView`'s arrays (read-only), as lists.

    Returns:
        ``(weights, biases)``: ``weights[k]`` has shape ``(fan_out, fan_in)``, ``biases[k]`` ``(fan_out,)``.
    """
    view = network_view(model)
    return list(view.weights), list(view.biases)


def input_angles(model: NetworkLike, x: ArrayLike) -> np.ndarray:
    r"""The first hidden layer's RY angles :math:`\theta = \frac{\pi}{2}(1 - f_a(W_1 x + b_1))`.

    Computed on the host from real pixels, so they are exact for every stretch function.

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or its view.
        x: one input ``(n_inputs,)`` or a batch ``(batch, n_inputs)``.

    Returns:
        float64 angles of shape ``(hidden_1,)`` or ``(batch, hidden_1)``.

    Raises:
        InputError: ``x`` has the wrong width, is empty, or is not finite; ``W x`` overflows; a
            ``linear`` stretch's angle beyond :data:`~qiskit_natural_qnn.neurons.MAX_ANGLE`.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> net = NaturalQNN(layer_sizes=[3, 2, 2], a=0.0, seed=0)
        >>> input_angles(net, [[0.0, 0.0, 0.0]])  # sgn(0) = -1 -> theta = pi
        array([[3.14159265, 3.14159265]])
    """
    view = network_view(model)
    x64 = view.inputs(x)
    if x64.ndim > 2:
        raise InputError(
            f"inputs must have shape ({view.n_inputs},) or (batch, {view.n_inputs}), got {tuple(x64.shape)}; "
            "flatten the batch dimensions"
        )
    z = _preactivations(x64, view.weights[0], view.biases[0], 1, view.dtype)
    return np.asarray(view.neuron.stretch.theta(z), dtype=float)


def _preactivations(
    h: np.ndarray, w: np.ndarray, b: np.ndarray, layer: int, dtype: torch.dtype = torch.float64
) -> np.ndarray:
    """``h W^T + b`` of hidden layer ``layer`` in float64, refused when it overflows ``dtype``.

    ``dtype`` is the network's own: a float32 network's ``W x`` beyond 3.4e38 is inf or NaN on the fast
    path, so the circuits refuse it too, with the fast path's message.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, as an error
        z = h @ w.T + b
    if not np.isfinite(z).all() or (z.size and float(np.abs(z).max()) > torch.finfo(dtype).max):
        raise InputError(nonfinite_preactivation_message(layer, dtype))
    return z


def _bits_array(bits: ArrayLike, width: int, what: str) -> np.ndarray:
    arr = np.asarray(bits)
    if arr.ndim == 0 or arr.shape[-1] != width:
        raise InputError(f"{what} must have {width} bits in its last axis, got shape {arr.shape}")
    if not np.isin(arr, (0, 1)).all():
        raise InputError(f"{what} must hold bits 0 or 1, got values {np.unique(arr).tolist()}")
    return arr.astype(np.int64)


def _own_shift(bits: np.ndarray) -> np.ndarray:
    r"""Method 2's own-outcome term :math:`\frac{\pi}{2}(m - 1)` of each bit: 0 after ``+1``, ``-pi`` after ``-1``."""
    return np.asarray(own_outcome_shift(outcome_to_activation(bits)), dtype=float)


def _theta_of_bits(view: NetworkView, k: int, bits: np.ndarray) -> np.ndarray:
    """Fresh-qubit angles of hidden layer ``k`` (1-based, ``>= 2``) given the previous layer's bits."""
    z = _preactivations(
        outcome_to_activation(bits).astype(float), view.weights[k - 1], view.biases[k - 1], k, view.dtype
    )
    return np.asarray(view.neuron.stretch.theta(z), dtype=float)


def layer_angles(model: NetworkLike, *, layer: int, bits: ArrayLike, carried: ArrayLike | None = None) -> np.ndarray:
    r"""RY angles of hidden layer ``layer >= 2`` given the previous layer's measured bits.

    Method 1: :math:`\theta = \frac{\pi}{2}(1 - f_a(z))` with :math:`z = W_k d + b_k`, for a fresh
    qubit. Method 2 (:func:`carries_state`): the neuron's absolute Bloch angle
    :math:`\phi'_{k-1} + \theta + \frac{\pi}{2}(m - 1)`, where ``m`` is the neuron's own last outcome
    (the previous layer's bit of the same neuron) and ``carried`` is :math:`\phi'_{k-1}`
    (from :func:`post_angles`); a layer circuit prepares it on a fresh qubit.

    Args:
        model: the network or its view.
        layer: hidden layer number, 1-based, ``>= 2`` (layer 1 takes :func:`input_angles`).
        bits: the previous layer's bits, shape ``(..., hidden_{k-1})``.
        carried: Method 2 only: each neuron's post-measurement angle after the previous layer,
            shape like ``bits``.

    Returns:
        float64 angles of shape ``(..., hidden_k)``.

    Raises:
        ConfigurationError: ``layer`` out of range; ``carried`` missing for Method 2 or given for
            Method 1.
        InputError: ``bits`` of the wrong width or not 0/1.
    """
    view = network_view(model)
    k = view.schedule.check_layer(layer, first=2)
    prev = _bits_array(bits, view.weights[k - 1].shape[1], f"bits of hidden layer {k - 1}")
    theta = _theta_of_bits(view, k, prev)
    if not view.schedule.carries_state:
        if carried is not None:
            raise ConfigurationError(
                "carried angles apply to Method 2 only (g < pi/2); this network measures projectively, "
                "so pass carried=None"
            )
        return theta
    if carried is None:
        raise ConfigurationError(
            f"Method 2 (g = {view.g:.6g}) carries each neuron's state: pass carried=post_angles(...) "
            f"of hidden layer {k - 1}"
        )
    carried = np.asarray(carried, dtype=float)
    return np.asarray(carried + theta + _own_shift(prev))


def layer_measurement(model: NetworkLike, layer: int) -> Measurement:
    """The measurement of hidden layer ``layer`` (1-based): ``g`` except for the last layer (strong).

    The network's :meth:`~qiskit_natural_qnn.schedule.LayerSchedule.measurement`.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> net = NaturalQNN(layer_sizes=[2, 2, 2, 2], a=0.5, g=0.5, seed=0)
        >>> layer_measurement(net, 1).g, layer_measurement(net, 2).is_projective
        (0.5, True)
    """
    return network_view(model).schedule.measurement(layer)


def post_angles(model: NetworkLike, *, layer: int, angles: ArrayLike, bits: ArrayLike) -> np.ndarray:
    """Method 2: each neuron's Bloch angle after hidden layer ``layer`` measured ``bits``.

    Delegates to :meth:`~qiskit_natural_qnn.neurons.Measurement.post_angle` with the layer's
    measurement (:func:`layer_measurement`), so the model's ``weak_update`` rule is honoured.

    Args:
        model: the network or its view.
        layer: the hidden layer just measured (1-based).
        angles: the Bloch angles before the measurement (what the layer circuit prepared).
        bits: the measured bits, same shape.

    Returns:
        float64 angles, same shape.
    """
    meas = layer_measurement(model, layer)
    angles = np.asarray(angles, dtype=float)
    prev = _bits_array(bits, angles.shape[-1], f"bits of hidden layer {layer}")
    return np.asarray(meas.post_angle(angles, outcome_to_activation(prev).astype(float)), dtype=float)


def register_patterns(width: int) -> np.ndarray:
    """Every value of a ``width``-bit register as bits, shape ``(2**width, width)``, neuron 0 = binary digit 0.

    Example:
        >>> register_patterns(2).tolist()
        [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    values = np.arange(2**width)[:, None]
    return ((values >> np.arange(width)[None, :]) & 1).astype(np.int64)


class LinearFeedforward(NamedTuple):
    """Angles of the ``linear`` construction for one hidden layer ``k >= 2``.

    The angle of neuron ``i`` is ``base[i] + sum_j per_bit[i, j] * bit_j`` for previous-layer bits
    ``bit_j``; it equals the model's angle exactly when :math:`f_a(z) = z/a` on every bit pattern.

    Attributes:
        base: shape ``(hidden_k,)``: the angle when every previous bit is 0 (all activations +1).
        per_bit: shape ``(hidden_k, hidden_{k-1})``: the angle added when bit ``j`` is 1. For
            Method 2 the diagonal also holds the own-outcome term ``-pi``.
    """

    base: np.ndarray
    per_bit: np.ndarray


def linear_feedforward(model: NetworkLike, *, layer: int) -> LinearFeedforward:
    r"""The affine (``linear`` stretch) angles of hidden layer ``layer >= 2``.

    With the stretch taken as :math:`f_a(z) = z/a` (the ``linear`` kind of
    :class:`~qiskit_natural_qnn.neurons.Stretch`), :math:`\theta(z)` is affine in ``z`` and ``z``
    is affine in the bits, so the angle is a fixed base plus one fixed term per bit. Method 2 adds
    the own-outcome term :math:`\frac{\pi}{2}(m_i - 1)` on the diagonal.

    Raises:
        ConfigurationError: ``a = 0`` (there is no affine form of the sign neuron) or bad ``layer``.
        InputError: some bit pattern of the previous layer gives a ``W d + b`` that is not finite or
            an angle beyond :data:`~qiskit_natural_qnn.neurons.MAX_ANGLE` (the widest reach is
            :math:`|b_i| + \sum_j |W_{ij}|`).
    """
    view = network_view(model)
    k = view.schedule.check_layer(layer, first=2)
    if view.a == 0:
        raise ConfigurationError(
            "the linear construction needs a stretch a > 0 (a = 0 is the sign neuron, which is not "
            "affine in z); use construction='lookup' or layer-by-layer execution"
        )
    lin = Stretch(a=view.a, kind="linear")
    w, b = view.weights[k - 1], view.biases[k - 1]
    lin(
        _preactivations(np.ones(w.shape[1]), np.abs(w), np.abs(b), k, view.dtype)
    )  # the largest |z| over every bit pattern
    d0 = outcome_to_activation(np.zeros(w.shape[1], dtype=np.int64)).astype(float)  # every bit 0
    step = float(outcome_to_activation(1) - outcome_to_activation(0))  # d changes by -2 when bit -> 1
    slope = float(lin.theta(1.0) - lin.theta(0.0))  # d theta / d z of the linear stretch
    base = np.asarray(lin.theta(w @ d0 + b), dtype=float)
    per_bit = slope * step * w
    if view.schedule.carries_state:
        # The own-outcome term (pi/2)(m_i - 1) is affine in neuron i's own previous bit.
        own_step = float(_own_shift(np.ones(1, dtype=np.int64))[0] - _own_shift(np.zeros(1, dtype=np.int64))[0])
        base = base + _own_shift(np.zeros(w.shape[0], dtype=np.int64))
        per_bit = per_bit + own_step * np.eye(w.shape[0])
    return LinearFeedforward(base=base, per_bit=per_bit)


def lookup_angles(model: NetworkLike, *, layer: int) -> np.ndarray:
    """Exact angles of hidden layer ``layer >= 2`` for every value of the previous layer's register.

    Row ``v`` holds the angles (Method 1: for a fresh qubit; Method 2: the rotation added to the
    neuron's current angle, including its own-outcome term) when the previous register reads ``v``.

    Returns:
        float64 array of shape ``(2**hidden_{k-1}, hidden_k)``.
    """
    view = network_view(model)
    k = view.schedule.check_layer(layer, first=2)
    patterns = register_patterns(view.weights[k - 1].shape[1])
    theta = _theta_of_bits(view, k, patterns)
    if view.schedule.carries_state:
        theta = theta + _own_shift(patterns)
    return theta
