"""Qiskit circuits for a naturally quantized network: layer circuits, one dynamic circuit, deferred.

* :mod:`.gates`: :class:`RZYGate`, the weak-measurement interaction.
* :mod:`.angles`: host-side angles (first layer from pixels, feedforward) from :mod:`..neurons`.
* :mod:`.layers`: one parametrized circuit per hidden layer (exact for every network).
* :mod:`.dynamic`: the whole network as one dynamic circuit (``linear`` or ``lookup``).
* :mod:`.deferred`: the static deferred-measurement circuit.
* :mod:`.exactness`: is a single circuit exact, and why.
* :mod:`.qasm`: OpenQASM 3 export and import.
* :mod:`.layout`: which qubits each hidden layer uses in the whole-network circuits.
* :mod:`.registers`: register names (``h1``, ``h2``...); results are decoded by name in
  :mod:`qiskit_natural_qnn.decode`.

Target rules, transpilation, named devices and resource reports are in
:mod:`qiskit_natural_qnn.transpile`.
"""

from __future__ import annotations

from qiskit_natural_qnn.circuits.angles import (
    LinearFeedforward,
    carries_state,
    input_angles,
    layer_angles,
    layer_measurement,
    linear_feedforward,
    lookup_angles,
    post_angles,
)
from qiskit_natural_qnn.circuits.deferred import deferred_circuit
from qiskit_natural_qnn.circuits.dynamic import (
    RESET_METHODS,
    NetworkCircuit,
    bind_inputs,
    dynamic_circuit,
    input_parameter_values,
)
from qiskit_natural_qnn.circuits.exactness import (
    CONSTRUCTIONS,
    LOOKUP_WIDTH_LIMIT,
    ExactnessReport,
    check_exact,
    require_exact,
)
from qiskit_natural_qnn.circuits.gates import RZYGate, append_weak_readout
from qiskit_natural_qnn.circuits.layers import LayerCircuit, bind_layer, layer_circuit, layer_circuits
from qiskit_natural_qnn.circuits.qasm import from_qasm3, to_qasm3
from qiskit_natural_qnn.circuits.registers import layer_bits, layer_register_name, outcome_counts

__all__ = [
    "CONSTRUCTIONS",
    "LOOKUP_WIDTH_LIMIT",
    "RESET_METHODS",
    "ExactnessReport",
    "LayerCircuit",
    "LinearFeedforward",
    "NetworkCircuit",
    "RZYGate",
    "append_weak_readout",
    "bind_inputs",
    "bind_layer",
    "carries_state",
    "check_exact",
    "deferred_circuit",
    "dynamic_circuit",
    "from_qasm3",
    "input_angles",
    "input_parameter_values",
    "layer_angles",
    "layer_bits",
    "layer_circuit",
    "layer_circuits",
    "layer_measurement",
    "layer_register_name",
    "linear_feedforward",
    "lookup_angles",
    "outcome_counts",
    "post_angles",
    "require_exact",
    "to_qasm3",
]
