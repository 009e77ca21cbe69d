r"""Packing forward passes into few jobs: parameter-array PUBs and copies side by side.

A layer-by-layer run needs one RY angle per neuron for every *row* of work: for hidden layer 1 a row
is an image (its angles depend on the pixels only, so one parameter set carries all ``S`` shots of
that image); for every later layer a row is one ``(image, shot)`` pair (its angles depend on that
pass's previous bits, so each parameter set runs one shot). Rows are packed two ways at once:

* **Parameter arrays**: one PUB ``(circuit, values)`` whose ``values`` has one parameter set per row
  (or per group of rows, below), so a whole layer is one job instead of one job per pass.
* **Copies side by side**: a packed circuit holds ``copies`` independent copies of the layer circuit
  on disjoint qubits (one classical register ``h{k}`` of ``copies * width`` bits: copy ``c`` holds
  neuron ``i`` in bit ``c * width + i``), so one parameter set carries ``copies`` rows. The last
  parameter set is padded with angle 0 (the qubit stays in ``|0>``) and the padding is dropped when
  unpacking.

Row ``r`` goes to parameter set ``r // copies``, copy ``r % copies``: :func:`pack_rows` and
:func:`unpack_bits` are inverse bijections between rows and (set, copy) slots. Passes are ordered
image-major: pass ``(image i, shot s)`` is row ``i * shots + s`` (:func:`pass_rows`).

Example:
    >>> import numpy as np
    >>> packed = pack_rows(np.arange(10.0).reshape(5, 2), copies=2)
    >>> packed.values.tolist()  # three parameter sets, the last one padded with zeros
    [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0, 0.0, 0.0]]
    >>> bits = (packed.values[:, None, :] > 4).astype(np.uint8)  # one shot per set
    >>> unpack_bits(packed, bits)[:, 0, :].tolist()  # row r's bits come back in row r
    [[0, 0], [0, 0], [0, 1], [1, 1], [1, 1]]
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from qiskit.circuit import (
    ClassicalRegister,
    ParameterVector,
    QuantumCircuit,
    QuantumRegister,
)

from qiskit_natural_qnn.circuits.layers import LayerCircuit
from qiskit_natural_qnn.exceptions import ConfigurationError, ExecutionError, InputError

__all__ = [
    "PackedRows",
    "check_max_sets_per_job",
    "copies_that_fit",
    "pack_rows",
    "packed_layer_circuit",
    "pass_rows",
    "qubits_per_copy",
    "split_sets",
    "unpack_bits",
]


class PackedRows(NamedTuple):
    """Rows of angles packed into parameter sets of a circuit with ``copies`` copies.

    Attributes:
        values: float64 ``(n_sets, copies * width)``: parameter set ``j`` holds rows
            ``j * copies ... j * copies + copies - 1`` side by side (padding rows are angle 0).
        copies: copies of the layer circuit per parameter set.
        width: angles per row (neurons of the layer).
        n_rows: rows packed (the padding excluded).
    """

    values: np.ndarray
    copies: int
    width: int
    n_rows: int

    @property
    def n_sets(self) -> int:
        """Parameter sets (``ceil(n_rows / copies)``)."""
        return int(self.values.shape[0])

    def slot(self, row: Any) -> tuple[Any, Any]:
        """``(parameter set, copy)`` of row(s) ``row``."""
        row = np.asarray(row)
        return row // self.copies, row % self.copies


def _check_copies(copies: Any) -> int:
    if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 1:
        raise ConfigurationError(f"copies must be an int >= 1, got {copies!r}; pass e.g. copies=1")
    return int(copies)


def pack_rows(angles: Any, *, copies: int) -> PackedRows:
    """Pack rows of angles ``(n_rows, width)`` into parameter sets of ``copies`` rows each.

    Args:
        angles: float array ``(n_rows, width)``.
        copies: rows per parameter set (copies of the layer circuit side by side).

    Returns:
        The :class:`PackedRows`.

    Raises:
        ConfigurationError: ``copies`` is not an int ``>= 1``.
        InputError: ``angles`` is not a non-empty 2-D array of finite numbers.
    """
    copies = _check_copies(copies)
    arr = np.asarray(angles, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"angles must be a non-empty 2-D array (rows, width), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError("angles contain NaN or infinity; check the network weights and inputs")
    n_rows, width = arr.shape
    n_sets = math.ceil(n_rows / copies)
    padded = np.zeros((n_sets * copies, width), dtype=np.float64)
    padded[:n_rows] = arr
    return PackedRows(values=padded.reshape(n_sets, copies * width), copies=copies, width=width, n_rows=n_rows)


def unpack_bits(packed: PackedRows, bits: Any) -> np.ndarray:
    """The inverse of :func:`pack_rows` for measured bits.

    Args:
        packed: how the rows were packed.
        bits: array ``(n_sets, shots, copies * width)``: each parameter set's register ``h{k}``,
            bit ``c * width + i`` = copy ``c``, neuron ``i`` (as :func:`packed_layer_circuit` measures).

    Returns:
        ``uint8`` array ``(n_rows, shots, width)``: row ``r``'s bits for every shot.

    Raises:
        ExecutionError: ``bits`` does not have the packed shape.
    """
    bits = np.asarray(bits)
    expected = (packed.n_sets, packed.copies * packed.width)
    if bits.ndim != 3 or (bits.shape[0], bits.shape[2]) != expected:
        raise ExecutionError(
            f"expected bits of shape ({packed.n_sets}, shots, {packed.copies * packed.width}) for "
            f"{packed.n_rows} rows packed {packed.copies} per parameter set, got {bits.shape}"
        )
    shots = bits.shape[1]
    per_copy = bits.reshape(packed.n_sets, shots, packed.copies, packed.width).transpose(0, 2, 1, 3)
    rows = per_copy.reshape(packed.n_sets * packed.copies, shots, packed.width)
    return np.ascontiguousarray(rows[: packed.n_rows]).astype(np.uint8, copy=False)


def pass_rows(n_images: int, shots: int) -> tuple[np.ndarray, np.ndarray]:
    """``(image, shot)`` of every row of a layer after the first: image-major, row ``i * shots + s``.

    Example:
        >>> [a.tolist() for a in pass_rows(2, 3)]
        [[0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2]]
    """
    rows = np.arange(int(n_images) * int(shots))
    return rows // int(shots), rows % int(shots)


def qubits_per_copy(layer_circuit: LayerCircuit) -> int:
    """Qubits one copy of a layer circuit uses (``width``, or ``2 * width`` with ancillas)."""
    return int(layer_circuit.circuit.num_qubits)


def copies_that_fit(num_qubits: int | None, per_copy: int, *, limit: int | None = None) -> int:
    """How many copies of ``per_copy`` qubits fit on ``num_qubits`` (at least 1, at most ``limit``).

    Example:
        >>> copies_that_fit(127, 16), copies_that_fit(None, 16, limit=8), copies_that_fit(10, 16)
        (7, 8, 1)
    """
    if num_qubits is None:
        fit = limit if limit is not None else 1
    else:
        fit = max(1, int(num_qubits) // max(1, int(per_copy)))
        if limit is not None:
            fit = min(fit, int(limit))
    return max(1, int(fit))


def packed_layer_circuit(layer_circuit: LayerCircuit, copies: int) -> LayerCircuit:
    """``copies`` copies of a layer circuit side by side, one register ``h{k}`` of ``copies * width`` bits.

    Copy ``c`` acts on neuron qubits ``c * width ...`` (and, for a weak layer, its own ancillas),
    takes angles ``theta{k}[c * width + i]`` and measures neuron ``i`` into bit ``c * width + i``.
    With ``copies = 1`` the layer circuit comes back unchanged.

    Args:
        layer_circuit: from :func:`~qiskit_natural_qnn.circuits.layer_circuit`.
        copies: copies side by side (``>= 1``).

    Returns:
        A :class:`~qiskit_natural_qnn.circuits.LayerCircuit` whose ``angles`` has ``copies * width``
        parameters and whose ``register`` is ``h{k}`` with ``copies * width`` bits.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> from qiskit_natural_qnn.circuits import layer_circuit
        >>> net = NaturalQNN(layer_sizes=[3, 2, 2], a=0.5, seed=0)
        >>> packed = packed_layer_circuit(layer_circuit(net, layer=1), copies=3)
        >>> packed.circuit.num_qubits, packed.register.name, packed.register.size, len(packed.angles)
        (6, 'h1', 6, 6)
    """
    copies = _check_copies(copies)
    if copies == 1:
        return layer_circuit
    base = layer_circuit.circuit
    width = len(layer_circuit.angles)
    per_copy = base.num_qubits
    k = layer_circuit.layer
    angles = ParameterVector(layer_circuit.angles.name, copies * width)
    qregs = [QuantumRegister(copies * r.size, r.name) for r in base.qregs]
    creg = ClassicalRegister(copies * width, layer_circuit.register.name)
    qc = QuantumCircuit(*qregs, creg, name=base.name)
    for c in range(copies):
        bound = base.assign_parameters(
            {layer_circuit.angles[i]: angles[c * width + i] for i in range(width)}, inplace=False
        )
        qubits = [q for r in qregs for q in r[c * (r.size // copies) : (c + 1) * (r.size // copies)]]
        if len(qubits) != per_copy:  # pragma: no cover - register sizes are multiples by construction
            raise ExecutionError(f"internal packing error: {len(qubits)} qubits for a copy of {per_copy}")
        qc.compose(bound, qubits=qubits, clbits=list(creg[c * width : (c + 1) * width]), inplace=True)
    qc.metadata = {**(base.metadata or {}), "copies": copies}
    return LayerCircuit(circuit=qc, angles=angles, register=creg, layer=k, weak=layer_circuit.weak)


def check_max_sets_per_job(value: Any) -> int | None:
    """Return ``value`` if it is None or an int ``>= 1`` (parameter sets per job).

    Raises:
        ConfigurationError: anything else.

    Example:
        >>> check_max_sets_per_job("x")
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: max_sets_per_job must be None or an int >= 1, got 'x'; ...
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigurationError(
            f"max_sets_per_job must be None or an int >= 1, got {value!r}; pass e.g. max_sets_per_job=100 "
            "(None: one job per sweep)"
        )
    return int(value)


def split_sets(n_sets: int, max_per_job: int | None) -> list[slice]:
    """Split ``n_sets`` parameter sets into consecutive jobs of at most ``max_per_job`` sets.

    Example:
        >>> split_sets(5, 2), split_sets(3, None)
        ([slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)], [slice(0, 3, None)])
    """
    max_per_job = check_max_sets_per_job(max_per_job)
    if max_per_job is None or max_per_job >= n_sets:
        return [slice(0, int(n_sets))]
    return [
        slice(start, min(start + int(max_per_job), int(n_sets))) for start in range(0, int(n_sets), int(max_per_job))
    ]
