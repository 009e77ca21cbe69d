r"""One dynamic circuit for the whole network: mid-circuit measurement and classically controlled RY.

The first hidden layer's angles are circuit :class:`~qiskit.circuit.Parameter` objects bound per
input (computed on the host from real pixels, exact for every stretch function). Every later layer
is fed forward inside the circuit by one of two exact constructions (see :mod:`.exactness`):

* ``linear``: ``RY(base_i)`` on each neuron, then one ``if_test((h{k-1}[j], 1))`` block per bit
  of the previous layer, rotating every neuron ``i`` by ``per_bit[i, j]`` (``n`` blocks per layer,
  not ``n**2``). Method 2 folds the own-outcome term ``RY(-pi)`` into neuron ``j``'s entry of block
  ``j``.
* ``lookup``: one ``if_test((h{k-1}, v))`` block per value ``v`` of the previous register, holding
  that bit pattern's exact angles.

Registers: hidden layer ``k`` measures into classical register ``h{k}``. Method 1 uses quantum
registers ``neuron{k}`` (one per layer) or, with ``reuse_qubits=True``, a single ``neuron`` register
whose measured qubits return to |0> between layers (``reset``, or an X conditioned on their bit).
Method 2 keeps each neuron's qubit (register ``neuron``) and uses ancilla registers ``ancilla{k}``
(or one reused ``ancilla`` register); its last hidden layer is measured strongly, on the neuron.

The builders never declare classical variables (no ``add_var``/``add_input``) and use no classical
arithmetic, so the circuits run on Aer and on IBM dynamic-circuit devices (``validate_for_target``
checks the rules).

Example:
    >>> import numpy as np, torch
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=2.0, stretch="hardtanh", seed=0)
    >>> with torch.no_grad():
    ...     _ = net.layers[1].weight.mul_(0.5)
    >>> nc = dynamic_circuit(net)
    >>> nc.construction, nc.exactness.exact, [r.name for r in nc.layer_registers]
    ('linear', True, ['h1', 'h2'])
    >>> nc.circuit.count_ops()["if_else"]  # one block per bit of layer 1
    3
    >>> len(bind_inputs(nc, model=net, x=np.zeros((5, 4))))
    5
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from qiskit.circuit import ClassicalRegister, ParameterVector, QuantumCircuit

from qiskit_natural_qnn.circuits.angles import input_angles, linear_feedforward, lookup_angles
from qiskit_natural_qnn.circuits.exactness import LOOKUP_WIDTH_LIMIT, ExactnessReport, require_exact
from qiskit_natural_qnn.circuits.layout import (
    RESET_METHODS,
    Layout,
    Recycler,
    assemble,
    build_layout,
    circuit_metadata,
    emit_first_layer,
    emit_readout,
    new_segment,
)
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, NetworkView, network_view

__all__ = ["RESET_METHODS", "NetworkCircuit", "bind_inputs", "dynamic_circuit", "input_parameter_values"]


class NetworkCircuit(NamedTuple):
    """The whole network as one circuit.

    Attributes:
        circuit: the circuit (dynamic, or static for the deferred construction).
        input_angles: the first hidden layer's RY angles, one Parameter per neuron, bound per input
            (:func:`bind_inputs`, or :func:`input_parameter_values` for a sampler PUB).
        layer_registers: the classical registers ``h1 ... hL``, one per hidden layer.
        construction: ``"linear"``, ``"lookup"`` or ``"deferred"``.
        exactness: why this circuit reproduces the model's distribution exactly.
        layer_segments: one circuit per hidden layer holding only that layer's instructions (same
            registers as :attr:`circuit`), for per-layer resource reports.
    """

    circuit: QuantumCircuit
    input_angles: ParameterVector
    layer_registers: list[ClassicalRegister]
    construction: str
    exactness: ExactnessReport
    layer_segments: list[QuantumCircuit]


def _emit_linear(seg: QuantumCircuit, view: NetworkView, layout: Layout, k: int) -> None:
    ff = linear_feedforward(view, layer=k)
    targets = layout.neurons[k - 1]
    for i, q in enumerate(targets):
        if ff.base[i] != 0.0:
            seg.ry(float(ff.base[i]), q)
    prev = layout.cregs[k - 2]
    for j in range(len(prev)):
        column = ff.per_bit[:, j]
        if not column.any():
            continue
        with seg.if_test((prev[j], 1)):
            for i, q in enumerate(targets):
                if column[i] != 0.0:
                    seg.ry(float(column[i]), q)


def _emit_lookup(seg: QuantumCircuit, view: NetworkView, layout: Layout, k: int) -> None:
    table = lookup_angles(view, layer=k)
    targets = layout.neurons[k - 1]
    prev = layout.cregs[k - 2]
    for value, row in enumerate(table):
        if not row.any():
            continue
        with seg.if_test((prev, value)):
            for i, q in enumerate(targets):
                if row[i] != 0.0:
                    seg.ry(float(row[i]), q)


def dynamic_circuit(
    model: NetworkLike,
    *,
    construction: str = "auto",
    reuse_qubits: bool = False,
    reset_method: str = "reset",
    barriers: bool = True,
    lookup_width_limit: int = LOOKUP_WIDTH_LIMIT,
) -> NetworkCircuit:
    """The whole network as one dynamic circuit, exact or not at all.

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or its view.
        construction: ``"linear"``, ``"lookup"`` or ``"auto"`` (linear when exact, else lookup).
        reuse_qubits: reset and reuse qubits between layers, so a deep network fits on as many qubits
            as its widest layer (Method 1) or ``2 * width`` (Method 2).
        reset_method: how a reused qubit returns to ``|0>``: ``"reset"`` (one reset instruction; what
            IBM and IonQ devices run natively) or ``"conditional_x"`` (an X conditioned on the bit
            the qubit was measured into: exact, adds one if-block per reused qubit, and runs far
            faster on Aer's matrix-product-state method, whose reset is slow).
        barriers: put a barrier between hidden layers (drawings read better; transpilers keep layers apart).
        lookup_width_limit: widest previous layer for ``lookup`` (default 8 bits = 256 blocks).

    Returns:
        A :class:`NetworkCircuit`.

    Raises:
        CircuitNotExactError: the construction cannot express this network exactly (the message says
            why and points to layer-by-layer execution).
        ConfigurationError: unknown construction (``"deferred"`` has its own builder,
            :func:`~.deferred.deferred_circuit`) or reset method.
    """
    if construction not in ("linear", "lookup", "auto"):
        raise ConfigurationError(
            f"dynamic_circuit takes construction 'linear', 'lookup' or 'auto', got {construction!r}; "
            "use deferred_circuit(model) for the static deferred-measurement circuit"
        )
    if reset_method not in RESET_METHODS:
        raise ConfigurationError(f"reset_method must be one of {', '.join(RESET_METHODS)}, got {reset_method!r}")
    view = network_view(model)
    report = require_exact(view, construction, lookup_width_limit=lookup_width_limit)
    chosen = report.construction
    reuse = bool(reuse_qubits)
    layout = build_layout(view, reuse=reuse)
    angles = ParameterVector("theta1", view.hidden_sizes[0])
    n_hidden = view.n_hidden
    recycler = Recycler(reset_method)
    segments = []
    for k in range(1, n_hidden + 1):
        seg = new_segment(layout, k)
        if k == 1:
            emit_first_layer(seg, layout, angles)
        else:
            recycler.clear(seg, layout.neurons[k - 1])  # Method 1 with reuse: measured neuron qubits
            (_emit_linear if chosen == "linear" else _emit_lookup)(seg, view, layout, k)
        emit_readout(seg, view, layout, k, recycler=recycler)
        if barriers and k < n_hidden:
            seg.barrier()
        segments.append(seg)
    circuit = assemble(layout, segments, name=f"natural_qnn_{chosen}")
    circuit.metadata = circuit_metadata(view, chosen, "dynamic", reuse, reset_method)
    return NetworkCircuit(circuit, angles, list(layout.cregs), chosen, report, segments)


def input_parameter_values(network_circuit: NetworkCircuit, *, model: NetworkLike, x: ArrayLike) -> np.ndarray:
    """Parameter values for a sampler PUB ``(circuit, values)``: one row per input, in ``circuit.parameters`` order.

    Binding through the primitive is safe for these circuits: the only parameters are the first
    layer's uncontrolled RY angles. (Aer ignores primitive-bound parameters of *controlled* gates,
    Qiskit Aer issue 2323; the builders bind every controlled angle into the circuit and
    ``validate_for_target(circuit, "aer")`` rejects a parametrized controlled gate.)

    Returns:
        float64 array of shape ``(batch, hidden_1)``.

    Raises:
        InputError: ``x`` of the wrong width, or a model whose layer sizes differ from the circuit's.
    """
    view = network_view(model)
    _check_model(network_circuit, view)
    rows = np.atleast_2d(input_angles(view, x))
    position = {p: i for i, p in enumerate(network_circuit.input_angles)}
    order = [position[p] for p in network_circuit.circuit.parameters]
    return rows[:, order]


def bind_inputs(network_circuit: NetworkCircuit, *, model: NetworkLike, x: ArrayLike) -> list[QuantumCircuit]:
    """Bind the first layer's angles for each input into the circuit (plain floats, no parameters left).

    Args:
        network_circuit: from :func:`dynamic_circuit` or :func:`~.deferred.deferred_circuit`.
        model: the network the circuit was built from (or its view).
        x: one input ``(n_inputs,)`` or a batch ``(batch, n_inputs)``.

    Returns:
        One bound circuit per input.

    Raises:
        InputError: ``x`` of the wrong width, or a model whose layer sizes differ from the circuit's.
    """
    view = network_view(model)
    _check_model(network_circuit, view)
    rows = np.atleast_2d(input_angles(view, x))
    params = list(network_circuit.input_angles)
    return [network_circuit.circuit.assign_parameters(dict(zip(params, row.tolist()))) for row in rows]


def _check_model(network_circuit: NetworkCircuit, view: NetworkView) -> None:
    sizes = (network_circuit.circuit.metadata or {}).get("layer_sizes")
    if sizes is not None and list(view.layer_sizes) != list(sizes):
        raise InputError(
            f"the circuit was built for layer sizes {list(sizes)}, got a model with {list(view.layer_sizes)}; "
            "rebuild the circuit from this model"
        )
