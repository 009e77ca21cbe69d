r"""The deferred-measurement circuit: the ``linear`` construction without control flow.

Every classically controlled ``RY(per_bit[i, j])`` of the linear construction becomes a
``CRY(per_bit[i, j])`` controlled by the *unmeasured* source qubit: in Method 1 the previous
layer's neuron qubit ``j``; in Method 2 the previous layer's ancilla ``j`` after its ``H``. All
measurements move to the end. By the deferred-measurement principle the joint distribution of the
registers ``h1 ... hL`` is the same as the dynamic circuit's, so the deferred circuit is exact
exactly when the linear construction is (``check_exact(model, "deferred")``).

It needs no control flow and no mid-circuit measurement, so it runs on targets without dynamic
circuits (IonQ, the ``static`` profile); it costs ``n_{k-1} * n_k`` two-qubit CRY gates per layer
and one qubit per neuron (no reuse), so it suits tiny networks.

Every CRY angle is a plain float bound into the circuit: Aer has been seen to ignore parameters of
controlled gates bound through a primitive call (Qiskit Aer issue 2323). Only the first layer's
uncontrolled RY angles are Parameters.

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[4, 2, 2, 2], a=1.0, stretch="linear", seed=0)
    >>> nc = deferred_circuit(net)
    >>> sorted(nc.circuit.count_ops().items())
    [('barrier', 1), ('cry', 4), ('measure', 4), ('ry', 4)]
"""

from __future__ import annotations

from qiskit.circuit import ParameterVector, QuantumCircuit

from qiskit_natural_qnn.circuits.angles import linear_feedforward
from qiskit_natural_qnn.circuits.dynamic import NetworkCircuit
from qiskit_natural_qnn.circuits.exactness import require_exact
from qiskit_natural_qnn.circuits.layout import (
    assemble,
    build_layout,
    circuit_metadata,
    emit_first_layer,
    emit_readout,
    new_segment,
)
from qiskit_natural_qnn.view import NetworkLike, network_view

__all__ = ["deferred_circuit"]


def deferred_circuit(model: NetworkLike, *, barriers: bool = True) -> NetworkCircuit:
    """The whole network as one static circuit (no control flow, measurements at the end).

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or its view.
        barriers: a barrier between the gates and the final measurements.

    Returns:
        A :class:`~.dynamic.NetworkCircuit` with ``construction="deferred"``.

    Raises:
        CircuitNotExactError: the linear construction is not exact for this network (tanh, sgn, or
            a hardtanh neuron that can saturate).
    """
    view = network_view(model)
    report = require_exact(view, "deferred")
    layout = build_layout(view, reuse=False)
    angles = ParameterVector("theta1", view.hidden_sizes[0])
    gate_segments: list[QuantumCircuit] = []
    measure_segments: list[QuantumCircuit] = []
    for k in range(1, view.n_hidden + 1):
        seg = new_segment(layout, k)
        if k == 1:
            emit_first_layer(seg, layout, angles)
        else:
            ff = linear_feedforward(view, layer=k)
            targets = layout.neurons[k - 1]
            controls = layout.readouts[k - 2]  # Method 1: previous neurons; Method 2: previous ancillas
            for i, q in enumerate(targets):
                if ff.base[i] != 0.0:
                    seg.ry(float(ff.base[i]), q)
            for j, control in enumerate(controls):
                for i, q in enumerate(targets):
                    if ff.per_bit[i, j] != 0.0:
                        seg.cry(float(ff.per_bit[i, j]), control, q)
        if view.schedule.is_weak(k):
            emit_readout(seg, view, layout, k, recycler=None)
        gate_segments.append(seg)
        final = new_segment(layout, k)
        final.measure(layout.readouts[k - 1], layout.cregs[k - 1])
        measure_segments.append(final)
    gates = assemble(layout, gate_segments, name="natural_qnn_deferred")
    if barriers:
        gates.barrier()
    circuit = gates.compose(assemble(layout, measure_segments, name="measure"))
    circuit.name = "natural_qnn_deferred"
    circuit.metadata = circuit_metadata(view, "deferred", "deferred", False)
    segments = [g.compose(m) for g, m in zip(gate_segments, measure_segments)]
    return NetworkCircuit(circuit, angles, list(layout.cregs), "deferred", report, segments)
