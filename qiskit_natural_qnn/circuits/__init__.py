"""Qiskit circuits for a naturally quantized network: layer circuits, one dynamic circuit, deferred.

* :mod:`.gates`: :class:`RZYGate`, the weak-measurement interaction.
* :mod:`.angles`: host-side angles (first layer from pixels, feedforward) from :mod:`..neurons`.
* :mod:`.layers`: one parametrized circuit per hidden layer (exact for every network).
* :mod:`.dynamic`: the whole network as one dynamic circuit (``linear`` or ``lookup``).
* :mod:`.deferred`: the static deferred-measurement circuit.
* :mod:`.exactness`: is a single circuit exact, and why.
* :mod:`.targets`: target rules, validation before submission, transpilation (IBM, Aer, IonQ).
* :mod:`.backends`: named devices offline (IBM fake backends, Aer, IonQ's native-gate Target).
* :mod:`.resources`: per-layer resource reports.
* :mod:`.qasm`: OpenQASM 3 export and import.
* :mod:`.registers`: register names (``h1``, ``h2``...) and decoding of results by name.
"""

from __future__ import annotations

from .angles import (
    LinearFeedforward,
    carries_state,
    input_angles,
    layer_angles,
    layer_measurement,
    linear_feedforward,
    lookup_angles,
    post_angles,
)
from .backends import get_backend, ionq_native_target
from .deferred import deferred_circuit
from .dynamic import (
    RESET_METHODS,
    NetworkCircuit,
    bind_inputs,
    dynamic_circuit,
    input_parameter_values,
)
from .exactness import (
    CONSTRUCTIONS,
    LOOKUP_WIDTH_LIMIT,
    ExactnessReport,
    check_exact,
    require_exact,
)
from .gates import RZYGate, append_weak_readout
from .layers import LayerCircuit, bind_layer, layer_circuit, layer_circuits
from .qasm import from_qasm3, to_qasm3
from .registers import layer_bits, layer_register_name, outcome_counts
from .resources import (
    LayerResources,
    ResourceReport,
    circuit_resources,
    resource_report,
)
from .targets import (
    PROFILES,
    TargetProfile,
    find_violations,
    target_profile,
    transpile_for_target,
    validate_for_target,
)

__all__ = [
    "CONSTRUCTIONS",
    "LOOKUP_WIDTH_LIMIT",
    "PROFILES",
    "RESET_METHODS",
    "ExactnessReport",
    "LayerCircuit",
    "LayerResources",
    "LinearFeedforward",
    "NetworkCircuit",
    "RZYGate",
    "ResourceReport",
    "TargetProfile",
    "append_weak_readout",
    "bind_inputs",
    "bind_layer",
    "carries_state",
    "check_exact",
    "circuit_resources",
    "deferred_circuit",
    "dynamic_circuit",
    "find_violations",
    "from_qasm3",
    "get_backend",
    "input_angles",
    "input_parameter_values",
    "ionq_native_target",
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
    "resource_report",
    "target_profile",
    "to_qasm3",
    "transpile_for_target",
    "validate_for_target",
]
