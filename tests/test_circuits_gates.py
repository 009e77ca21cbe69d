"""RZYGate: matrix, inverse, definition, qubit order, parameters; the weak measurement it builds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import RZXGate
from qiskit.quantum_info import Operator, Statevector

from qiskit_natural_qnn import Measurement
from qiskit_natural_qnn.circuits import RZYGate, append_weak_readout

X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]])
Z = np.diag([1.0, -1.0]).astype(complex)
ANGLES = [-2.5, -0.3, 0.0, 0.4, math.pi / 4, math.pi / 2, 3.0]


def _expm_zy(theta: float) -> np.ndarray:
    # Qiskit is little-endian: qubit 0 is the right-most Kronecker factor. Z on qubit 0, Y on qubit 1.
    return scipy.linalg.expm(-1j * theta / 2 * np.kron(Y, Z))


@pytest.mark.parametrize("theta", ANGLES)
def test_matrix_equals_matrix_exponential(theta: float) -> None:
    gate = RZYGate(theta)
    np.testing.assert_allclose(np.asarray(gate), _expm_zy(theta), atol=1e-12)
    np.testing.assert_allclose(Operator(gate).data, _expm_zy(theta), atol=1e-12)
    # The definition (standard gates only) is the same unitary, global phase included.
    np.testing.assert_allclose(Operator(gate.definition).data, _expm_zy(theta), atol=1e-12)


@pytest.mark.parametrize("theta", ANGLES)
def test_inverse(theta: float) -> None:
    inv = RZYGate(theta).inverse()
    assert isinstance(inv, RZYGate)
    assert float(inv.params[0]) == -theta
    np.testing.assert_allclose(Operator(inv).data @ Operator(RZYGate(theta)).data, np.eye(4), atol=1e-12)
    qc = QuantumCircuit(2)
    qc.append(RZYGate(theta), [0, 1])
    np.testing.assert_allclose(Operator(qc.inverse()).data, np.conj(_expm_zy(theta)).T, atol=1e-12)


def test_qubit_order_matches_qiskit_rzx() -> None:
    # Qiskit's RZX(theta) on (q0, q1) has Z on q0 and X on q1; RZY follows the same convention.
    theta = 0.7
    np.testing.assert_allclose(
        Operator(RZXGate(theta)).data, scipy.linalg.expm(-1j * theta / 2 * np.kron(X, Z)), atol=1e-12
    )
    sdg_then_rzx = QuantumCircuit(2)
    sdg_then_rzx.sdg(1)
    sdg_then_rzx.append(RZXGate(theta), [0, 1])
    sdg_then_rzx.s(1)  # S X S^dagger = Y on qubit 1
    assert Operator(sdg_then_rzx).equiv(Operator(RZYGate(theta)))
    # Swapping the qubits gives Y on the first qubit, a different gate.
    swapped = QuantumCircuit(2)
    swapped.append(RZYGate(theta), [1, 0])
    assert not Operator(swapped).equiv(Operator(RZYGate(theta)))


def test_parameter_binds() -> None:
    g = Parameter("g")
    qc = QuantumCircuit(2)
    qc.append(RZYGate(g), [0, 1])
    assert qc.parameters == {g}
    bound = qc.assign_parameters({g: 0.9})
    np.testing.assert_allclose(Operator(bound).data, _expm_zy(0.9), atol=1e-12)
    assert RZYGate(g).inverse().params[0] == -g
    assert RZYGate(0.3) == RZYGate(0.3) and RZYGate(0.3) != RZYGate(0.4)


PHIS = [0.0, 0.4, 1.3, math.pi / 2, 2.2, math.pi, 4.0, -1.1]
GS = [0.05, math.pi / 8, 5 * math.pi / 19, math.pi / 3, math.pi / 2]


@pytest.mark.parametrize("g", GS)
@pytest.mark.parametrize("phi", PHIS)
def test_weak_measurement_probability_and_post_state(phi: float, g: float) -> None:
    """RY(phi) on the neuron, RZY(g), H on the ancilla: P(0) = (1 + sin g cos phi)/2, and the neuron
    is left exactly in the state at neurons.Measurement.post_angle (no sign lost)."""
    qc = QuantumCircuit(2)  # qubit 0 = neuron, qubit 1 = ancilla
    qc.ry(phi, 0)
    append_weak_readout(qc, 0, 1, g)
    state = Statevector(qc).data  # index = ancilla * 2 + neuron
    p0 = abs(state[0]) ** 2 + abs(state[1]) ** 2
    assert p0 == pytest.approx((1 + math.sin(g) * math.cos(phi)) / 2, abs=1e-12)
    meas = Measurement(g=g)
    assert p0 == pytest.approx(float(meas.prob_plus(phi)), abs=1e-12)
    for bit, m in ((0, 1.0), (1, -1.0)):
        branch = state[2 * bit : 2 * bit + 2]
        norm = np.linalg.norm(branch)
        if norm < 1e-9:
            continue
        post = float(meas.post_angle(phi, m))
        expected = np.array([math.cos(post / 2), math.sin(post / 2)])
        np.testing.assert_allclose(branch / norm, expected, atol=1e-10)


def test_a_hand_built_basis_translator_translates_rzy_like_qiskits_own_gates() -> None:
    """Importing the circuits package registers rzy in Qiskit's SessionEquivalenceLibrary."""
    from qiskit.circuit import Parameter
    from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
    from qiskit.quantum_info import Operator
    from qiskit.transpiler import PassManager
    from qiskit.transpiler.passes import BasisTranslator

    from qiskit_natural_qnn.circuits import RZYGate as Gate

    pm = PassManager([BasisTranslator(SessionEquivalenceLibrary, ["rz", "sx", "cx"])])
    qc = QuantumCircuit(2)
    qc.append(Gate(0.3), [0, 1])
    out = pm.run(qc)
    assert set(out.count_ops()) <= {"rz", "sx", "cx"} and "rzy" not in out.count_ops()
    assert Operator(out).equiv(Operator(qc))
    t = Parameter("t")
    pqc = QuantumCircuit(2)
    pqc.append(Gate(t), [0, 1])
    bound = pm.run(pqc).assign_parameters({t: 1.1})
    assert Operator(bound).equiv(Operator(Gate(1.1)))


@pytest.mark.parametrize("exponent", [2, 0.5, -1.0])
def test_rzy_power_multiplies_the_angle_and_works_on_parameters(exponent) -> None:
    from qiskit.circuit import Parameter
    from qiskit.quantum_info import Operator

    from qiskit_natural_qnn.circuits import RZYGate as Gate

    powered = Gate(0.3).power(exponent)
    assert isinstance(powered, Gate) and powered.params[0] == pytest.approx(0.3 * exponent)
    assert Operator(powered).equiv(Operator(np.linalg.matrix_power(np.asarray(Gate(0.3)), 2))) == (exponent == 2)
    assert Operator(powered).equiv(Operator(Gate(0.3 * exponent)))
    t = Parameter("t")
    symbolic = Gate(t).power(exponent)
    assert isinstance(symbolic, Gate)
    assert float(symbolic.params[0].bind({t: 0.3})) == pytest.approx(0.3 * exponent)
