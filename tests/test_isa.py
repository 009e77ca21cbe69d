"""The ISA check (execution/isa.py): a device sampler gets only circuits in its instruction set, refused before submission.

qiskit-ibm-runtime 0.51's ``executor_sampler.Sampler`` accepts a circuit outside its fake backend's
instruction set in local mode and fails only when the result is asked for; the library refuses it
before anything is submitted, with the offending instruction, its qubits and the fix.
"""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorSampler
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit.transpiler import PassManager, generate_preset_pass_manager
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSampler

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.exceptions import TargetCapabilityError
from qiskit_natural_qnn.execution import JobSubmitter, predict_on_sampler, run_sweep
from qiskit_natural_qnn.execution.isa import check_isa, find_isa_violation, isa_target

runtime = pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
from qiskit_ibm_runtime.executor_sampler import Sampler  # noqa: E402
from qiskit_ibm_runtime.fake_provider import FakeManilaV2  # noqa: E402


def _layer_circuit() -> tuple[QuantumCircuit, Parameter]:
    """A parametrized two-qubit circuit in standard gates (``ry``, ``h``, ``cx``): not in FakeManila's ISA."""
    t = Parameter("t")
    qc = QuantumCircuit(QuantumRegister(2, "q"), ClassicalRegister(2, "h1"), name="toy")
    qc.ry(t, 0)
    qc.h(1)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc, t


@pytest.fixture
def no_submission(monkeypatch):
    """Fail the test if any job is submitted."""
    submitted = []

    def submit(self, pubs, *, shots, seed):
        submitted.append(pubs)
        raise AssertionError("a job was submitted")

    monkeypatch.setattr(JobSubmitter, "submit", submit)
    return submitted


def test_a_non_isa_circuit_is_refused_before_submission_on_a_local_executor_sampler(no_submission):
    backend = FakeManilaV2()
    qc, t = _layer_circuit()
    with pytest.raises(TargetCapabilityError) as err:
        run_sweep(
            JobSubmitter(Sampler(mode=backend)),
            qc,
            (t,),
            np.array([[0.1], [0.2]]),
            shots=4,
            registers=["h1"],
            key=(1,),
            run_seed=0,
            what="hidden layer 1",
        )
    message = str(err.value)
    assert message.startswith(
        "circuit 'toy' is not in the instruction set (ISA) of fake_manila: the instruction 'ry' on qubits (0,) "
        "is not in the target (fake_manila has 5 qubits and the instructions cx, delay, for_loop, id, if_else, "
        "measure, reset, rz, switch_case, sx, x); transpile the circuit for the backend before submitting: pass "
        "pass_manager=generate_preset_pass_manager(backend=backend, optimization_level=1)"
    )
    assert no_submission == []


def test_the_transpiled_circuit_passes_and_runs_on_the_local_executor_sampler():
    backend = FakeManilaV2()
    qc, t = _layer_circuit()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0).run(qc)
    sweep = run_sweep(
        JobSubmitter(Sampler(mode=backend)),
        isa,
        (t,),
        np.array([[0.1], [0.2]]),
        shots=4,
        registers=["h1"],
        key=(1,),
        run_seed=0,
        what="hidden layer 1",
    )
    assert sweep.bits["h1"].shape == (2, 4, 2) and len(sweep.jobs) == 1


def test_qubits_outside_the_coupling_map_are_named_with_what_the_target_has():
    target = FakeManilaV2().target
    qc = QuantumCircuit(3)
    qc.cx(0, 2)
    problem = find_isa_violation(qc, target)
    assert problem == (
        "the instruction 'cx' on qubits (0, 2) is not supported there; the target has 'cx' on qubits (0, 1), "
        "(1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 3)"
    )
    wide = QuantumCircuit(6)
    assert find_isa_violation(wide, target) == "the circuit has 6 qubits, the target 5"


def test_control_flow_blocks_are_checked_on_their_qubits_and_control_flow_must_be_allowed():
    target = FakeManilaV2().target
    qc = QuantumCircuit(2, 1)
    qc.measure(0, 0)
    with qc.if_test((qc.clbits[0], 1)):
        qc.x(1)
    assert find_isa_violation(qc, target) is None
    with qc.if_test((qc.clbits[0], 1)):
        qc.h(1)
    assert find_isa_violation(qc, target) == "the instruction 'h' on qubits (1,) is not in the target (inside if_else)"
    static = GenericBackendV2(num_qubits=2, basis_gates=["cx", "rz", "sx", "x"], control_flow=False, seed=1).target
    flow = QuantumCircuit(2, 1)
    flow.measure(0, 0)
    with flow.if_test((flow.clbits[0], 1)):
        flow.x(1)
    with pytest.raises(TargetCapabilityError, match=r"the control-flow operation 'if_else' \(on qubits \(1,\)\)"):
        check_isa(flow, static, name="generic")


def test_predict_on_sampler_refuses_a_pass_manager_that_does_not_transpile(no_submission):
    net = NaturalQNN(layer_sizes=[3, 2, 2, 2], a=0.5, seed=0)
    images = np.full((2, 3), 0.5)
    for sampler in (Sampler(mode=FakeManilaV2()), AerSampler.from_backend(AerSimulator.from_backend(FakeManilaV2()))):
        with pytest.raises(TargetCapabilityError, match=r"is not in the instruction set \(ISA\) of .*pass_manager="):
            predict_on_sampler(net, images, sampler=sampler, shots=2, mode="layerwise", pass_manager=PassManager())
    assert no_submission == []


def test_only_device_targets_are_checked():
    assert isa_target(AerSampler()) is None
    assert isa_target(StatevectorSampler()) is None
    assert isa_target(Sampler(mode=AerSimulator())) is None
    target, name = isa_target(Sampler(mode=FakeManilaV2()))
    assert name == "fake_manila" and target.num_qubits == 5
    _, name = isa_target(AerSampler.from_backend(AerSimulator.from_backend(FakeManilaV2())))
    assert name == "aer_simulator_from(fake_manila)"
