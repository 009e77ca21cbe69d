"""Register naming and decoding: hidden layer ``k`` (1-based) writes classical register ``h{k}``.

Every circuit of this package names its classical registers after the hidden layers (``h1``,
``h2``, ...), one bit per neuron, neuron ``i`` in clbit ``i``, bit 0 meaning activation ``+1``.
Results are decoded by register name, so transpilation, QASM round trips and samplers that reorder
bits do not matter.

Example:
    >>> layer_register_name(2)
    'h2'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qiskit.circuit import ClassicalRegister
from qiskit.primitives.containers import BitArray

from qiskit_natural_qnn.exceptions import ExecutionError

__all__ = ["layer_bits", "layer_register_name", "outcome_counts"]


def layer_register_name(layer: int) -> str:
    """The classical register name of hidden layer ``layer`` (1-based): ``"h{layer}"``."""
    return f"h{int(layer)}"


def _name(register: ClassicalRegister | str) -> str:
    return register.name if isinstance(register, ClassicalRegister) else str(register)


def layer_bits(data: Any, register: ClassicalRegister | str) -> np.ndarray:
    """The bits of one layer register from a SamplerV2 result, shape ``(shots, width)``, neuron 0 first.

    Args:
        data: a ``SamplerPubResult.data`` (``DataBin``) or a mapping from register name to ``BitArray``.
        register: the register or its name (e.g. ``"h2"``).

    Raises:
        ExecutionError: the result has no such register.
    """
    name = _name(register)
    bit_array = data.get(name) if isinstance(data, Mapping) else getattr(data, name, None)
    if not isinstance(bit_array, BitArray):  # also a DataBin attribute such as 'keys' or 'shape'
        raise ExecutionError(
            f"the result has no classical register {name!r}; decode circuits built by qiskit_natural_qnn.circuits "
            "(registers h1, h2, ...)"
        )
    shape = getattr(bit_array, "shape", ())
    if shape not in ((), (1,)):
        raise ExecutionError(
            f"register {name!r} holds a parameter sweep of shape {shape}; decode one parameter set at a time "
            "(index the BitArray first)"
        )
    bits = bit_array.to_bool_array(order="little").astype(np.int64)
    return bits.reshape(-1, bit_array.num_bits)


def outcome_counts(data: Any, registers: Sequence[ClassicalRegister | str]) -> Counter:
    """Count joint outcomes of the hidden-layer registers: ``{((bits of h1), (bits of h2), ...): count}``.

    The keys have the form of :func:`qiskit_natural_qnn.exact.exact_distribution`'s outcomes.

    Args:
        data: a ``SamplerPubResult.data`` or a mapping from register name to ``BitArray``.
        registers: the registers to read, in layer order.
    """
    columns = [layer_bits(data, reg) for reg in registers]
    shots = {c.shape[0] for c in columns}
    if len(shots) != 1:
        raise ExecutionError(f"registers hold different numbers of shots: {sorted(shots)}")
    joint = np.concatenate(columns, axis=1)
    widths = [c.shape[1] for c in columns]
    bounds = np.cumsum([0, *widths])
    counts: Counter = Counter()
    rows, freq = np.unique(joint, axis=0, return_counts=True)
    for row, n in zip(rows, freq):
        key = tuple(tuple(int(b) for b in row[bounds[i] : bounds[i + 1]]) for i in range(len(widths)))
        counts[key] += int(n)
    return counts
