r"""The layer schedule of a naturally quantized network, written once (docs/model.md, "Layer schedule").

:mod:`qiskit_natural_qnn.neurons` says what one neuron does; this module says how the hidden layers of
a network are chained. Every execution asks it (the PyTorch fast path, the exact enumeration, the
circuit builders and the host-side feedforward of layer-by-layer runs):

* **Which measurement each hidden layer uses**: :meth:`LayerSchedule.measurement`. Method 2
  (``g < pi/2``) reads every hidden layer but the last weakly, with angle ``g``; the last hidden layer
  is always measured projectively, since the output layer reads its activations. Method 1 measures
  every layer projectively.
* **Which layers carry the post-measurement state**: :attr:`LayerSchedule.carries_state` and
  :meth:`LayerSchedule.carries_after`. A neuron keeps its qubit from one hidden layer to the next
  exactly when the measurement is weak and there are at least two hidden layers; then every hidden
  layer must have the same width (neuron ``i`` is the same qubit in every layer). A layer passes its
  state on exactly when it is measured weakly.
* **Method 2's angle step**: :func:`carried_angle`. Before hidden layer ``k`` is measured, neuron
  ``i`` sits at

  .. math::
      \phi_k = \phi'_{k-1} + \frac{\pi}{2}\left(m_{k-1} - f_a(z_k)\right),

  where :math:`\phi'_{k-1}` is its post-measurement angle after layer ``k - 1`` and :math:`m_{k-1}`
  its own outcome there; a fresh qubit has :math:`\phi = 0, m = +1`, so the first hidden layer sits
  at :math:`\frac{\pi}{2}(1 - f_a(z_1))`, the fresh-qubit angle :meth:`~.neurons.Stretch.theta`.
  The rotation splits as :math:`\frac{\pi}{2}(m - f_a(z)) = \theta(z) + \frac{\pi}{2}(m - 1)`: the
  fresh-qubit angle of ``z`` (which depends on the previous layer's bits) plus the own-outcome term
  :func:`own_outcome_shift` (which depends on the neuron's own last bit only). Circuits apply the two
  terms as separate rotations; the fast path and the exact enumeration evaluate the fused form.

Example:
    >>> from qiskit_natural_qnn.neurons import Measurement, Neuron, Stretch
    >>> weak = Neuron(stretch=Stretch(a=0.5), measurement=Measurement(g=0.4))
    >>> schedule = LayerSchedule(hidden_sizes=(3, 3, 3), neuron=weak)
    >>> schedule.carries_state, [schedule.measurement(k).g for k in (1, 2, 3)]
    (True, [0.4, 0.4, 1.5707963267948966])
    >>> [schedule.carries_after(k) for k in (1, 2, 3)]
    [True, True, False]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.neurons import Measurement, Neuron

__all__ = ["PROJECTIVE", "LayerSchedule", "carried_angle", "own_outcome_shift"]

_HALF_PI = math.pi / 2

#: The projective measurement (``g = pi/2``, the circuit's update) of Method 1 and of the last hidden layer.
PROJECTIVE = Measurement()

_A = TypeVar("_A", np.ndarray, torch.Tensor)


def carried_angle(f: _A, *, phi: _A | None = None, m: _A | None = None) -> _A:
    r"""Method 2's angle step: :math:`\phi + \frac{\pi}{2}(m - f_a(z))`, the neuron's angle before it is measured.

    Args:
        f: the stretched pre-activations :math:`f_a(z)` of this layer (an array or a tensor).
        phi: each neuron's post-measurement angle after the previous hidden layer; None for fresh qubits
            (angle ``0``, last outcome ``+1``), which gives :math:`\frac{\pi}{2}(1 - f_a(z))`.
        m: each neuron's own outcome (``+1``/``-1``) in the previous hidden layer, shaped like ``phi``;
            required when ``phi`` is given.

    Returns:
        The angles, shaped like ``f`` (a new array or tensor; ``f``, ``phi`` and ``m`` are not changed).

    Raises:
        ConfigurationError: ``phi`` given without ``m``.

    Example:
        >>> carried_angle(np.array([1.0, -1.0]))  # fresh qubits: (pi/2)(1 - f)
        array([0.        , 3.14159265])
        >>> carried_angle(np.array([0.0]), phi=np.array([0.5]), m=np.array([-1.0]))  # 0.5 + (pi/2)(-1 - 0)
        array([-1.07079633])
    """
    if phi is None:
        if isinstance(f, torch.Tensor):
            return (1.0 - f).mul_(_HALF_PI)
        return _HALF_PI * (1.0 - f)
    if m is None:
        raise ConfigurationError(
            "carried_angle got the previous angles phi but not the previous outcomes m; pass both, or neither "
            "for fresh qubits"
        )
    if isinstance(f, torch.Tensor):
        return (m - f).mul_(_HALF_PI).add_(phi)
    return phi + _HALF_PI * (m - f)


def own_outcome_shift(m: Any) -> Any:
    r"""The own-outcome term of Method 2's rotation, :math:`\frac{\pi}{2}(m - 1)`: ``0`` after ``+1``, else ``-pi``.

    With :math:`\theta(z) = \frac{\pi}{2}(1 - f_a(z))` the rotation of :func:`carried_angle` is
    :math:`\theta(z) + \frac{\pi}{2}(m - 1)`; a circuit adds this term as a rotation conditioned on
    the neuron's own last bit.

    Args:
        m: activations ``+1``/``-1`` (NumPy array, tensor or number).

    Example:
        >>> own_outcome_shift(np.array([1.0, -1.0]))
        array([ 0.        , -3.14159265])
    """
    return _HALF_PI * (m - 1.0)


@dataclass(frozen=True, kw_only=True)
class LayerSchedule:
    """How a network's hidden layers are measured and which pass their neurons' state on.

    Args:
        hidden_sizes: the widths of the hidden (qubit) layers, at least one.
        neuron: the hidden neurons' stretch and measurement.

    Raises:
        ConfigurationError: no hidden layer or a width that is not a positive int; or, when the
            neurons keep their qubits from layer to layer (Method 2), hidden widths that differ.

    Example:
        >>> from qiskit_natural_qnn.neurons import Measurement, Neuron
        >>> LayerSchedule(hidden_sizes=(4, 3), neuron=Neuron(measurement=Measurement(g=0.5)))
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: Method 2 (g < pi/2) carries each neuron's qubit ...
    """

    hidden_sizes: tuple[int, ...]
    neuron: Neuron

    def __post_init__(self) -> None:
        sizes = tuple(self.hidden_sizes)
        if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes):
            raise ConfigurationError(
                f"hidden_sizes must hold at least one positive int, got {list(sizes)}; pass e.g. (512, 512)"
            )
        sizes = tuple(int(s) for s in sizes)
        object.__setattr__(self, "hidden_sizes", sizes)
        if not self.neuron.measurement.is_projective and len(set(sizes)) > 1:
            raise ConfigurationError(
                f"Method 2 (g < pi/2) carries each neuron's qubit across hidden layers, so all hidden "
                f"widths must be equal, got {list(sizes)}; use equal widths or g=math.pi/2"
            )

    @property
    def n_hidden(self) -> int:
        """The number of hidden layers."""
        return len(self.hidden_sizes)

    @property
    def carries_state(self) -> bool:
        """True when neurons keep their qubit from layer to layer: weak measurements (Method 2), >= 2 hidden layers."""
        return not self.neuron.measurement.is_projective and self.n_hidden > 1

    def check_layer(self, layer: int, *, first: int = 1) -> int:
        """Return ``layer`` as an int, checked to be a hidden-layer number in ``[first, n_hidden]`` (1-based).

        Raises:
            ConfigurationError: ``layer`` is not an int in that range.

        Example:
            >>> LayerSchedule(hidden_sizes=(2, 2), neuron=Neuron()).check_layer(3)
            Traceback (most recent call last):
            ...
            qiskit_natural_qnn.exceptions.ConfigurationError: layer must be a hidden-layer number in [1, 2] ...
        """
        n = self.n_hidden
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not first <= layer <= n:
            raise ConfigurationError(
                f"layer must be a hidden-layer number in [{first}, {n}] (1-based), got {layer!r}; "
                f"the network has {n} hidden layer(s)"
            )
        return int(layer)

    def carries_after(self, layer: int) -> bool:
        """True when hidden layer ``layer`` (1-based) passes its neurons' post-measurement state to the next layer.

        Raises:
            ConfigurationError: ``layer`` out of range.
        """
        return self.carries_state and self.check_layer(layer) < self.n_hidden

    def measurement(self, layer: int) -> Measurement:
        """The measurement of hidden layer ``layer`` (1-based).

        The neuron's (weak) measurement where the layer carries its state on, else :data:`PROJECTIVE`
        (Method 1, and always the last hidden layer).

        Raises:
            ConfigurationError: ``layer`` out of range.
        """
        return self.neuron.measurement if self.carries_after(layer) else PROJECTIVE

    def is_weak(self, layer: int) -> bool:
        """True when hidden layer ``layer`` (1-based) is read out weakly (through ancillas, in a circuit)."""
        return not self.measurement(layer).is_projective
