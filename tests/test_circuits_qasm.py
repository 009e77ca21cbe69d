"""OpenQASM 3 round trips: dumps -> independent parser (qiskit-qasm3-import) -> equivalent circuit.

Equivalence is checked three ways: registers and operation counts are equal; static circuits have
the same unitary; dynamic circuits give the exact distribution on Aer (chi-square p >= 1e-4,
8000 shots, fixed seeds).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator
from qiskit_aer.primitives import SamplerV2

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.circuits import (
    RZYGate,
    bind_inputs,
    deferred_circuit,
    dynamic_circuit,
    from_qasm3,
    layer_circuits,
    outcome_counts,
    to_qasm3,
)
from qiskit_natural_qnn.exact import exact_distribution
from qiskit_natural_qnn.transpile import transpile_for_target

from .stats import chi2_pvalue

pytest.importorskip("qiskit_qasm3_import", reason="qasm3.loads needs qiskit-qasm3-import")


def _net(sizes, **kw) -> NaturalQNN:
    return NaturalQNN(layer_sizes=sizes, seed=2, dtype=torch.float64, **kw)


def _op_counts(circuit: QuantumCircuit) -> Counter:
    """Operation counts at every depth; custom gates written as rzy, rzy_1... count as rzy."""
    counts: Counter = Counter()
    for inst in circuit.data:
        name = inst.operation.name
        counts["rzy" if name.startswith("rzy") else name] += 1
        for block in getattr(inst.operation, "blocks", ()):
            counts.update(_op_counts(block))
    return counts


def _structure(circuit: QuantumCircuit):
    return (
        [(r.name, r.size) for r in circuit.qregs],
        [(r.name, r.size) for r in circuit.cregs],
        _op_counts(circuit),
    )


CASES = [
    ("m2-linear-reuse", dict(sizes=[4, 2, 2, 2, 2], a=1.0, stretch="linear", g=0.6), "linear", True),
    ("m1-lookup", dict(sizes=[4, 3, 2, 2], a=0.5, stretch="tanh"), "lookup", False),
    ("m2-lookup", dict(sizes=[4, 2, 2, 2], a=0.5, stretch="tanh", g=0.4), "lookup", False),
]


@pytest.mark.parametrize("spec, construction, reuse", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_dynamic_round_trip(spec, construction, reuse) -> None:
    net = _net(**spec)
    nc = dynamic_circuit(net, construction=construction, reuse_qubits=reuse)
    text = to_qasm3(nc.circuit)
    assert text.startswith("OPENQASM 3.0;") and "input float[64]" in text and "if (" in text
    loaded = from_qasm3(text, parameters=nc.input_angles)
    assert _structure(loaded) == _structure(nc.circuit)
    assert set(loaded.parameters) == set(nc.input_angles)
    # same distribution on Aer: the loaded circuit binds exactly like the original
    x = np.random.default_rng(3).uniform(size=4)
    bound = bind_inputs(nc._replace(circuit=loaded), model=net, x=x)[0]
    result = SamplerV2(seed=4).run([transpile_for_target(bound, "aer")], shots=8000).result()[0]
    p = chi2_pvalue(outcome_counts(result.data, nc.layer_registers), exact_distribution(net, x))
    assert p >= 1e-4


def test_deferred_round_trip_same_unitary() -> None:
    net = _net([4, 2, 2, 2], a=1.0, stretch="linear", g=0.7)
    nc = deferred_circuit(net)
    x = np.random.default_rng(3).uniform(size=4)
    original = bind_inputs(nc, model=net, x=x)[0]
    loaded = from_qasm3(to_qasm3(original))
    assert _structure(loaded) == _structure(original)
    assert Operator(loaded.remove_final_measurements(inplace=False)).equiv(
        Operator(original.remove_final_measurements(inplace=False))
    )


def test_layer_circuits_round_trip() -> None:
    net = _net([4, 3, 3, 2], a=0.5, stretch="tanh", g=0.5)
    for lc in layer_circuits(net):
        loaded = from_qasm3(to_qasm3(lc.circuit), parameters=lc.angles)
        assert _structure(loaded) == _structure(lc.circuit)
        assert set(loaded.parameters) == set(lc.angles)


def test_rzy_definitions_survive_with_distinct_angles_and_parameters() -> None:
    g = Parameter("g")
    qc = QuantumCircuit(2)
    qc.append(RZYGate(0.5), [0, 1])
    qc.append(RZYGate(-1.2), [1, 0])
    qc.append(RZYGate(g), [0, 1])
    qc.append(RZYGate(2 * g), [0, 1])  # an expression: decomposed before export (Qiskit would mis-export it)
    text = to_qasm3(qc)
    assert "gate rzy(" in text
    loaded = from_qasm3(text, parameters=[g])
    for value in (0.3, -2.0):
        assert Operator(loaded.assign_parameters({g: value})).equiv(Operator(qc.assign_parameters({g: value})))


def test_many_inputs_keep_their_order() -> None:
    """QASM names sort as text (theta1_10 < theta1_2); re-attaching by name keeps binding correct."""
    net = _net([4, 12, 2], a=0.5, stretch="tanh")
    nc = dynamic_circuit(net)
    loaded = from_qasm3(to_qasm3(nc.circuit), parameters=nc.input_angles)
    x = np.random.default_rng(1).uniform(size=4)
    a = bind_inputs(nc, model=net, x=x)[0]
    b = bind_inputs(nc._replace(circuit=loaded), model=net, x=x)[0]
    angles_a = [float(i.operation.params[0]) for i in a.data if i.operation.name == "ry"]
    angles_b = [float(i.operation.params[0]) for i in b.data if i.operation.name == "ry"]
    assert angles_a == pytest.approx(angles_b) and len(angles_a) == 12 and math.isfinite(sum(angles_a))
