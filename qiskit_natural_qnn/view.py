"""The typed model contract: one read-only view of a network that circuits, the exact enumeration and runs read.

A :class:`NetworkView` holds what every consumer of a trained network needs, computed once: the layer
sizes, the quantization spec and its :class:`~qiskit_natural_qnn.neurons.Neuron`, the
:class:`~qiskit_natural_qnn.schedule.LayerSchedule` (which measurement each hidden layer uses and
which layers carry their state on), the bias flag, and every weight and bias as a read-only float64
NumPy array. Public functions accept a :data:`NetworkLike` (a
:class:`~qiskit_natural_qnn.network.NaturalQNN` or a view), turn it into a view once with
:func:`network_view` at their entry, and pass the view down.

A view is a snapshot: weights changed later (by training) are not seen by a view made before.

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> view = network_view(NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, g=0.7, bias=True, seed=0))
    >>> view.hidden_sizes, view.bias, view.spec.g, view.schedule.carries_state
    ((3, 3), True, 0.7, True)
    >>> view.weights[1].dtype, view.weights[1].flags.writeable
    (dtype('float64'), False)
    >>> network_view(view) is view
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import torch

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.network import NaturalQNN, QuantizationSpec, validate_layer_sizes
from qiskit_natural_qnn.neurons import Neuron
from qiskit_natural_qnn.schedule import LayerSchedule

__all__ = ["ArrayLike", "NetworkLike", "NetworkView", "network_view"]

#: Numbers as callers pass them (inputs, bits, angles): a NumPy array, a nested sequence or a tensor.
ArrayLike: TypeAlias = npt.ArrayLike | torch.Tensor


def _float64(value: torch.Tensor | np.ndarray, what: str) -> np.ndarray:
    """``value`` as a read-only float64 array: a copy, so it never shares memory with a live parameter.

    An array that already is read-only float64 (converted by :func:`network_view`) is kept as is.
    """
    if isinstance(value, np.ndarray) and value.dtype == np.float64 and not value.flags.writeable:
        return value
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{what} must be a numeric array, got {type(value).__name__}") from None
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, kw_only=True, eq=False)
class NetworkView:
    """A network's architecture, quantization and parameters, read-only, with float64 weights computed once.

    Build one with :func:`network_view`.

    Attributes:
        layer_sizes: ``(n_inputs, hidden_1, ..., hidden_L, n_outputs)``.
        spec: the quantization spec (stretch ``a``, stretch function, ``g``, weak update rule).
        bias: whether the network has biases.
        weights: ``(W_1, ..., W_L, W_out)``, each a read-only float64 array ``(fan_out, fan_in)``.
        biases: one read-only float64 array ``(fan_out,)`` per weight (zeros where the network has none).
        input_check: the network's input check (:meth:`~qiskit_natural_qnn.network.NaturalQNN.check_input`):
            it validates inputs and rounds them to the network's dtype, as the fast path sees them.
        dtype: the network's own dtype (``float32`` or ``float64``): a pre-activation beyond its range
            overflowed on the fast path, so every execution refuses it.
        neuron: the hidden neurons (``spec.neuron``).
        schedule: the layer schedule of these hidden layers and this neuron.

    Raises:
        ConfigurationError: layer sizes, weights or biases that do not fit together.
    """

    layer_sizes: tuple[int, ...]
    spec: QuantizationSpec
    bias: bool
    weights: tuple[np.ndarray, ...] = field(repr=False)
    biases: tuple[np.ndarray, ...] = field(repr=False)
    input_check: Callable[[Any], torch.Tensor] = field(repr=False)
    dtype: torch.dtype = torch.float64
    neuron: Neuron = field(init=False, repr=False)
    schedule: LayerSchedule = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sizes = validate_layer_sizes(self.layer_sizes)
        object.__setattr__(self, "layer_sizes", sizes)
        if not isinstance(self.spec, QuantizationSpec):
            raise ConfigurationError(f"spec must be a QuantizationSpec, got {type(self.spec).__name__}")
        n_layers = len(sizes) - 1
        if len(self.weights) != n_layers or len(self.biases) != n_layers:
            raise ConfigurationError(
                f"a {list(sizes)} network has {n_layers} weight matrices and {n_layers} biases, got "
                f"{len(self.weights)} and {len(self.biases)}; pass one of each per layer"
            )
        weights = tuple(_float64(w, f"weight {k}") for k, w in enumerate(self.weights))
        biases = tuple(_float64(b, f"bias {k}") for k, b in enumerate(self.biases))
        for k, (w, b) in enumerate(zip(weights, biases)):
            shape = (sizes[k + 1], sizes[k])
            if w.shape != shape or b.shape != shape[:1]:
                raise ConfigurationError(
                    f"layer {k + 1} of a {list(sizes)} network needs a weight of shape {shape} and a bias of "
                    f"shape {shape[:1]}, got {w.shape} and {b.shape}; pass parameters of this architecture"
                )
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "biases", biases)
        object.__setattr__(self, "bias", bool(self.bias))
        neuron = self.spec.neuron
        object.__setattr__(self, "neuron", neuron)
        object.__setattr__(self, "schedule", LayerSchedule(hidden_sizes=sizes[1:-1], neuron=neuron))

    @property
    def n_inputs(self) -> int:
        """Input width."""
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        """Number of classes."""
        return self.layer_sizes[-1]

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """Widths of the hidden (qubit) layers."""
        return self.layer_sizes[1:-1]

    @property
    def n_hidden(self) -> int:
        """The number of hidden layers."""
        return len(self.layer_sizes) - 2

    @property
    def a(self) -> float:
        """The stretch ``a``."""
        return self.spec.a

    @property
    def g(self) -> float:
        """The entanglement angle ``g``."""
        return self.spec.g

    def inputs(self, x: ArrayLike) -> np.ndarray:
        """``x`` checked by :attr:`input_check` (rounded to the network's dtype), as a float64 array.

        Raises:
            InputError: wrong trailing width, empty batch, non-numeric or non-finite values.
        """
        return np.asarray(self.input_check(x).detach().cpu().double().numpy())

    def check_weights(self) -> None:
        """Raise :class:`~qiskit_natural_qnn.exceptions.InputError` if any weight or bias is NaN or infinite.

        Parameters are numbered as :meth:`torch.nn.Module.parameters` numbers the network's (``W_1``,
        ``b_1`` when the network has biases, ``W_2``...).
        """
        params = [p for w, b in zip(self.weights, self.biases) for p in ((w, b) if self.bias else (w,))]
        for i, p in enumerate(params):
            if not np.isfinite(p).all():
                raise InputError(
                    f"parameter {i} of the network holds NaN or infinity (training diverged or the model "
                    "file was altered); lower the learning rate or reload a good checkpoint"
                )


#: A network, as the public functions of circuits, exact enumeration and executions accept it.
NetworkLike: TypeAlias = NaturalQNN | NetworkView


def network_view(
    model: NetworkLike,
    *,
    weights: Sequence[torch.Tensor | np.ndarray] | None = None,
    biases: Sequence[torch.Tensor | np.ndarray | None] | None = None,
) -> NetworkView:
    """The :class:`NetworkView` of ``model``, optionally with other weights and biases.

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or a view (returned as is when no
            parameters are given).
        weights: ``[W_1, ..., W_out]`` to use instead of the model's (same shapes); None for the model's.
        biases: one bias (or None for none) per weight to use instead of the model's; None for the model's.

    Returns:
        The view: float64 read-only copies of the parameters, converted once.

    Raises:
        ConfigurationError: ``model`` is neither a network nor a view, or parameters of other shapes.
    """
    if isinstance(model, NetworkView):
        if weights is None and biases is None:
            return model
        own_w: Sequence[torch.Tensor | np.ndarray] = model.weights
        own_b: Sequence[torch.Tensor | np.ndarray | None] = model.biases
        check, dtype = model.input_check, model.dtype
    elif isinstance(model, NaturalQNN):
        own_w, own_b, check = model.weights(), model.biases(), model.check_input
        dtype = model.weights()[0].dtype
    else:
        raise ConfigurationError(
            f"model must be a NaturalQNN or a NetworkView, got {type(model).__name__}; pass the trained network"
        )
    ws = [_float64(w, f"weight {k}") for k, w in enumerate(own_w if weights is None else weights)]
    bs: list[np.ndarray] = []
    for k, b in enumerate(own_b if biases is None else biases):
        zeros = np.zeros(ws[k].shape[0] if k < len(ws) else 0)  # a network without biases adds zeros
        bs.append(_float64(zeros if b is None else b, f"bias {k}"))
    return NetworkView(
        layer_sizes=model.layer_sizes,
        spec=model.spec,
        bias=model.bias,
        weights=tuple(ws),
        biases=tuple(bs),
        input_check=check,
        dtype=dtype,
    )
