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

from typing import Any

from qiskit.circuit import ParameterVector

from qiskit_natural_qnn.circuits.angles import carries_state, layer_measurement, linear_feedforward
from qiskit_natural_qnn.circuits.dynamic import (
    NetworkCircuit,
    _assemble,
    _emit_first_layer,
    _emit_readout,
    _layout,
    _metadata,
    _new_segment,
)
from qiskit_natural_qnn.circuits.exactness import require_exact

__all__ = ["deferred_circuit"]


def deferred_circuit(model: Any, *, barriers: bool = True) -> NetworkCircuit:
    """The whole network as one static circuit (no control flow, measurements at the end).

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN`.
        barriers: a barrier between the gates and the final measurements.

    Returns:
        A :class:`~.dynamic.NetworkCircuit` with ``construction="deferred"``.

    Raises:
        CircuitNotExactError: the linear construction is not exact for this network (tanh, sgn, or
            a hardtanh neuron that can saturate).
    """
    report = require_exact(model, "deferred")
    layout = _layout(model, reuse=False)
    angles = ParameterVector("theta1", model.hidden_sizes[0])
    n_hidden = len(model.hidden_sizes)
    weak = carries_state(model)
    gate_segments, measure_segments = [], []
    for k in range(1, n_hidden + 1):
        seg = _new_segment(layout, k)
        if k == 1:
            _emit_first_layer(seg, layout, angles)
        else:
            ff = linear_feedforward(model, layer=k)
            targets = layout.neurons[k - 1]
            controls = layout.readouts[k - 2]  # Method 1: previous neurons; Method 2: previous ancillas
            for i, q in enumerate(targets):
                if ff.base[i] != 0.0:
                    seg.ry(float(ff.base[i]), q)
            for j, control in enumerate(controls):
                for i, q in enumerate(targets):
                    if ff.per_bit[i, j] != 0.0:
                        seg.cry(float(ff.per_bit[i, j]), control, q)
        if weak and not layer_measurement(model, k).is_projective:
            _emit_readout(seg, model, layout, k, recycler=None)
        gate_segments.append(seg)
        final = _new_segment(layout, k)
        final.measure(layout.readouts[k - 1], layout.cregs[k - 1])
        measure_segments.append(final)
    gates = _assemble(layout, gate_segments, name="natural_qnn_deferred")
    if barriers:
        gates.barrier()
    circuit = gates.compose(_assemble(layout, measure_segments, name="measure"))
    circuit.name = "natural_qnn_deferred"
    circuit.metadata = _metadata(model, "deferred", "deferred", False)
    segments = [g.compose(m) for g, m in zip(gate_segments, measure_segments)]
    return NetworkCircuit(circuit, angles, list(layout.cregs), "deferred", report, segments)
