"""Decoding results, in one place: register bits -> activations -> output logits -> classes.

Every execution ends here: the circuits' classical registers ``h1 ... hL`` (one bit per neuron,
neuron ``i`` in clbit ``i``, read by register name so that transpilation, QASM round trips and
samplers that reorder bits do not matter), the exact enumeration's joint outcomes, and the fast
path's logits.

* :func:`layer_bits`, :func:`decode_register`: the bits of one register from a sampler result.
* :func:`outcome_counts`: joint outcomes of several registers, keyed like
  :func:`qiskit_natural_qnn.exact.exact_distribution` (:data:`Outcome`).
* :func:`activations`, :func:`activation_tensor`: bits to activations (bit 0 -> ``+1``, bit 1 ->
  ``-1``, :func:`~qiskit_natural_qnn.neurons.outcome_to_activation`).
* :func:`output_logits`, :func:`classes_from_bits`, :func:`classes_from_logits`: the class of a
  pass, the argmax of :math:`W_{out} d + b_{out}` (ties -> smallest class index).

Qiskit is imported only by the functions that read its result containers, so importing this module
(and :mod:`qiskit_natural_qnn.exact`) stays light.

Example:
    >>> import numpy as np
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[3, 2, 2], seed=0)
    >>> activations(np.array([[0, 1]])).tolist()
    [[1, -1]]
    >>> classes_from_bits(net, np.zeros((4, 5, 2), dtype=np.uint8)).shape  # (images, shots)
    (4, 5)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch

from qiskit_natural_qnn.exceptions import ExecutionError
from qiskit_natural_qnn.neurons import outcome_to_activation
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, network_view

if TYPE_CHECKING:
    from qiskit.circuit import ClassicalRegister

__all__ = [
    "Outcome",
    "activation_tensor",
    "activations",
    "classes_from_bits",
    "classes_from_logits",
    "decode_register",
    "layer_bits",
    "outcome_counts",
    "output_logits",
]

#: A joint outcome: one tuple of bits per hidden layer, neuron 0 first (bit 0 = activation +1).
Outcome = tuple[tuple[int, ...], ...]

_L = TypeVar("_L", np.ndarray, torch.Tensor)


def _register_name(register: ClassicalRegister | str) -> str:
    from qiskit.circuit import ClassicalRegister

    return register.name if isinstance(register, ClassicalRegister) else str(register)


def _missing_register(name: str) -> ExecutionError:
    return ExecutionError(
        f"the result has no classical register {name!r}; decode circuits built by qiskit_natural_qnn.circuits "
        "(registers h1, h2, ...)"
    )


def layer_bits(data: Any, register: ClassicalRegister | str) -> np.ndarray:
    """The bits of one layer register from a SamplerV2 result, shape ``(shots, width)``, neuron 0 first.

    Args:
        data: a ``SamplerPubResult.data`` (``DataBin``) or a mapping from register name to ``BitArray``.
        register: the register or its name (e.g. ``"h2"``).

    Raises:
        ExecutionError: the result has no such register, or holds a parameter sweep in it.

    Example:
        >>> from qiskit.primitives import BitArray
        >>> layer_bits({"h1": BitArray(np.array([[0b01], [0b10]], dtype=np.uint8), 2)}, "h1").tolist()
        [[1, 0], [0, 1]]
    """
    from qiskit.primitives.containers import BitArray

    name = _register_name(register)
    bit_array = data.get(name) if isinstance(data, Mapping) else getattr(data, name, None)
    if not isinstance(bit_array, BitArray):  # also a DataBin attribute such as 'keys' or 'shape'
        raise _missing_register(name)
    shape = getattr(bit_array, "shape", ())
    if shape not in ((), (1,)):
        raise ExecutionError(
            f"register {name!r} holds a parameter sweep of shape {shape}; decode one parameter set at a time "
            "(index the BitArray first)"
        )
    bits = bit_array.to_bool_array(order="little").astype(np.int64)
    return bits.reshape(-1, bit_array.num_bits)


def decode_register(pub_result: Any, name: str, *, n_sets: int, shots: int, width: int, what: str) -> np.ndarray:
    """Bits of register ``name`` from one PUB result of ``n_sets`` parameter sets: ``uint8`` ``(n_sets, shots, width)``.

    Args:
        pub_result: a ``SamplerPubResult`` (or its ``data``).
        name: the register, e.g. ``"h2"``.
        n_sets: parameter sets the PUB carried.
        shots: shots per parameter set.
        width: the register's width.
        what: how errors name the sweep (``"hidden layer 2"``).

    Raises:
        ExecutionError: the register is missing or has another shape, shot count or width.
    """
    from qiskit.primitives.containers import BitArray

    data = getattr(pub_result, "data", pub_result)
    bit_array = getattr(data, name, None)
    if bit_array is None and isinstance(data, Mapping):
        bit_array = data.get(name)
    if not isinstance(bit_array, BitArray):
        raise _missing_register(name)
    if bit_array.shape != (n_sets,) or bit_array.num_shots != shots or bit_array.num_bits != width:
        raise ExecutionError(
            f"{what}: expected register {name!r} with {n_sets} parameter sets x {shots} shots x {width} bits, "
            f"got {bit_array.shape} x {bit_array.num_shots} shots x {bit_array.num_bits} bits; the sampler "
            "must honour the PUB's parameter sets and shots"
        )
    flat = BitArray(bit_array.array.reshape(n_sets * shots, -1), bit_array.num_bits)
    return layer_bits({name: flat}, name).reshape(n_sets, shots, width).astype(np.uint8)


def outcome_counts(data: Any, registers: Sequence[ClassicalRegister | str]) -> Counter[Outcome]:
    """Count joint outcomes of the hidden-layer registers: ``{((bits of h1), (bits of h2), ...): count}``.

    The keys have the form of :func:`qiskit_natural_qnn.exact.exact_distribution`'s outcomes.

    Args:
        data: a ``SamplerPubResult.data`` or a mapping from register name to ``BitArray``.
        registers: the registers to read, in layer order.

    Raises:
        ExecutionError: a register is missing, or the registers hold different numbers of shots.
    """
    columns = [layer_bits(data, reg) for reg in registers]
    shots = {c.shape[0] for c in columns}
    if len(shots) != 1:
        raise ExecutionError(f"registers hold different numbers of shots: {sorted(shots)}")
    joint = np.concatenate(columns, axis=1)
    widths = [c.shape[1] for c in columns]
    bounds = np.cumsum([0, *widths])
    counts: Counter[Outcome] = Counter()
    rows, freq = np.unique(joint, axis=0, return_counts=True)
    for row, n in zip(rows, freq):
        key = tuple(tuple(int(b) for b in row[bounds[i] : bounds[i + 1]]) for i in range(len(widths)))
        counts[key] += int(n)
    return counts


def activations(bits: ArrayLike) -> np.ndarray:
    """Activations ``int8`` ``+1``/``-1`` from bits 0/1 (any shape).

    Example:
        >>> activations(np.array([0, 1, 1], dtype=np.uint8)).tolist()
        [1, -1, -1]
    """
    return np.asarray(outcome_to_activation(np.asarray(bits).astype(np.int8)), dtype=np.int8)


def activation_tensor(bits: ArrayLike, *, like: torch.Tensor) -> torch.Tensor:
    """Activations ``+1``/``-1`` from bits 0/1 as a tensor with the dtype and device of ``like``.

    Example:
        >>> activation_tensor(np.array([0, 1], dtype=np.uint8), like=torch.zeros(1, dtype=torch.float64))
        tensor([ 1., -1.], dtype=torch.float64)
    """
    b = torch.as_tensor(np.asarray(bits), device=like.device)
    return outcome_to_activation(b.to(like.dtype))


def output_logits(model: NetworkLike, last_bits: ArrayLike) -> np.ndarray:
    """Float64 output logits :math:`W_{out} d + b_{out}` from the last hidden layer's bits ``(..., width)``."""
    view = network_view(model)
    d = outcome_to_activation(np.asarray(last_bits, dtype=np.int64)).astype(np.float64)
    return np.asarray(d @ view.weights[-1].T + view.biases[-1])


def classes_from_logits(logits: _L) -> _L:
    """The class of each pass: the argmax of the last axis, ties -> smallest class index (``int64``).

    Example:
        >>> classes_from_logits(np.array([[0.5, 2.0, 2.0], [1.0, 0.0, 1.0]])).tolist()
        [1, 0]
    """
    if isinstance(logits, torch.Tensor):
        return logits.argmax(dim=-1)  # the first maximum, as NumPy
    return np.asarray(logits).argmax(axis=-1).astype(np.int64)


def classes_from_bits(model: NetworkLike, last_bits: ArrayLike) -> np.ndarray:
    """The class of each pass from the last hidden layer's bits ``(..., width)``: the argmax of ``W_out d + b``.

    Ties go to the smallest class index, as in the fast path.

    Args:
        model: the network (its output weights and bias).
        last_bits: bits of the last hidden layer (bit 0 = activation +1), e.g. ``(n_images, shots, width)``.

    Returns:
        ``int64`` classes of shape ``(...)``.
    """
    return classes_from_logits(output_logits(model, last_bits))
