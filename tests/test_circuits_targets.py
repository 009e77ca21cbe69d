"""Target rules (IBM, Aer, IonQ, static, backends), transpilation helpers, resource reports.

No circuit with classical variables is ever *run* here: Aer aborts the whole process on standalone
Uint variables, so those circuits are only validated.
"""

from __future__ import annotations

import math

import pytest
import torch
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit.classical import expr, types
from qiskit.providers.fake_provider import GenericBackendV2

from qiskit_natural_qnn import ConfigurationError, NaturalQNN
from qiskit_natural_qnn.circuits import deferred_circuit, dynamic_circuit, layer_circuits
from qiskit_natural_qnn.exceptions import CircuitNotExactError, TargetCapabilityError
from qiskit_natural_qnn.transpile import (
    PROFILES,
    find_violations,
    get_backend,
    ionq_native_target,
    resource_report,
    target_profile,
    transpile_for_target,
    validate_for_target,
)
from qiskit_natural_qnn.transpile.resources import LayerResources, circuit_resources


def _net(sizes, *, a=1.0, stretch="linear", g=math.pi / 2, seed=0) -> NaturalQNN:
    return NaturalQNN(layer_sizes=sizes, a=a, stretch=stretch, g=g, seed=seed, dtype=torch.float64)


def _base() -> QuantumCircuit:
    qc = QuantumCircuit(QuantumRegister(2, "neuron"), ClassicalRegister(2, "h1"), name="probe")
    qc.h(0)
    qc.measure(0, 0)
    return qc


def _nested_if() -> QuantumCircuit:
    qc = _base()
    with qc.if_test((qc.clbits[0], 1)):  # noqa: SIM117 - the nesting is the point
        with qc.if_test((qc.clbits[1], 0)):
            qc.x(1)
    return qc


def _measure_inside_if() -> QuantumCircuit:
    qc = _base()
    with qc.if_test((qc.clbits[0], 1)):
        qc.measure(1, 1)
    return qc


def _reset_inside_if() -> QuantumCircuit:
    qc = _base()
    with qc.if_test((qc.cregs[0], 1)):
        qc.reset(1)
    return qc


def _switch() -> QuantumCircuit:
    qc = _base()
    with qc.switch(qc.cregs[0]) as case:
        with case(0):
            qc.x(1)
        with case(case.DEFAULT):
            qc.y(1)
    return qc


def _for_loop() -> QuantumCircuit:
    qc = _base()
    with qc.for_loop(range(2)):
        qc.x(1)
    return qc


def _while_loop() -> QuantumCircuit:
    qc = _base()
    with qc.while_loop((qc.clbits[0], 1)):
        qc.h(0)
        qc.measure(0, 0)
    return qc


def _arithmetic() -> QuantumCircuit:
    qc = _base()
    with qc.if_test(expr.equal(expr.add(qc.cregs[0], 1), 2)):
        qc.x(1)
    return qc


def _plain_if() -> QuantumCircuit:
    qc = _base()
    with qc.if_test((qc.cregs[0], 1)) as else_:
        qc.x(1)
    with else_:
        qc.z(1)
    with qc.if_test(expr.logic_and(expr.equal(qc.cregs[0], 1), qc.clbits[1])):
        qc.x(1)
    return qc


# ----------------------------------------------------------------------------- IBM rules
def test_ibm_accepts_if_else_on_bits_registers_and_logic() -> None:
    assert validate_for_target(_plain_if(), "ibm").name == "ibm"


@pytest.mark.parametrize(
    "build, message",
    [
        (_nested_if, r"nested control flow \(if_else inside a conditional block\) is not allowed on ibm"),
        (_measure_inside_if, r"measure inside a conditional block is not allowed on ibm; move it out of the block"),
        (_reset_inside_if, r"reset inside a conditional block is not allowed on ibm"),
        (_switch, r"switch_case is not supported by ibm \(it allows if_else\); use only if_else"),
        (_for_loop, r"for_loop is not supported by ibm \(it allows if_else\)"),
        (_while_loop, r"while_loop is not supported by ibm"),
        (
            _arithmetic,
            r"the condition of if_else uses classical arithmetic \(add\), which ibm does not evaluate at run time",
        ),
    ],
    ids=["nested-if", "measure-in-if", "reset-in-if", "switch", "for", "while", "arithmetic"],
)
def test_ibm_rule_violations(build, message) -> None:
    with pytest.raises(TargetCapabilityError, match=r"circuit 'probe' cannot run on target 'ibm': .*" + message):
        validate_for_target(build(), "ibm")


def test_ibm_rules_apply_to_fake_backends_whose_target_lists_more() -> None:
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    backend = get_backend("fake_sherbrooke")
    assert backend.target.instruction_supported("switch_case")  # the Target allows it...
    profile = target_profile(backend)
    assert profile.name == "ibm:fake_sherbrooke" and profile.control_flow == frozenset({"if_else"})
    with pytest.raises(TargetCapabilityError, match=r"switch_case is not supported by ibm:fake_sherbrooke"):
        validate_for_target(_switch(), backend)  # ...the IBM rules do not
    validate_for_target(_plain_if(), backend)


def test_classical_variables_are_rejected_everywhere() -> None:
    qc = _base()
    flag = qc.add_var("flag", expr.lift(True))
    with qc.if_test(flag):
        qc.x(1)
    for target in ("ibm", "aer"):
        with pytest.raises(
            TargetCapabilityError,
            match=r"declares 1 classical variable\(s\) \(add_var/add_input\).*Aer aborts the whole process",
        ):
            validate_for_target(qc, target)
    uint = _base()
    uint.add_input("n", types.Uint(8))
    with pytest.raises(TargetCapabilityError, match=r"classical variable"):
        validate_for_target(uint, "aer")


# ----------------------------------------------------------------------------- Aer, IonQ, static
def test_aer_runs_more_control_flow_but_no_arithmetic() -> None:
    for build in (_nested_if, _measure_inside_if, _switch, _for_loop, _while_loop, _plain_if):
        validate_for_target(build(), "aer")
    with pytest.raises(TargetCapabilityError, match=r"uses classical arithmetic \(add\), which aer does not evaluate"):
        validate_for_target(_arithmetic(), "aer")


def test_aer_needs_transpiled_custom_gates() -> None:
    nc = dynamic_circuit(_net([3, 2, 2, 2], g=0.5))
    with pytest.raises(
        TargetCapabilityError,
        match=r"gate 'rzy' is not a native gate of aer and its primitives do not transpile; transpile first: transpile_for_target\(circuit, 'aer'\)",
    ):
        validate_for_target(nc.circuit, "aer")
    validate_for_target(transpile_for_target(nc.circuit, "aer"), "aer")


def test_ionq_and_static_reject_control_flow() -> None:
    nc = dynamic_circuit(_net([3, 2, 2, 2]))
    with pytest.raises(
        TargetCapabilityError,
        match=r"if_else is not supported by ionq \(it allows no control flow\); use deferred_circuit\(model\) \(no control flow\) or run the network layer by layer",
    ):
        validate_for_target(nc.circuit, "ionq")
    with pytest.raises(
        TargetCapabilityError,
        match=r"mid-circuit measurement\(s\).*not supported by static; use deferred_circuit\(model\)",
    ):
        validate_for_target(nc.circuit, "static")


def test_static_rules_on_measurement_and_reset() -> None:
    qc = _base()
    qc.x(0)  # the measured qubit is used again
    with pytest.raises(TargetCapabilityError, match=r"1 mid-circuit measurement\(s\)"):
        validate_for_target(qc, "static")
    validate_for_target(qc, "ionq")  # IonQ takes mid-circuit measurement
    reset = QuantumCircuit(1, 1)
    reset.reset(0)  # an initial reset is fine
    reset.h(0)
    reset.measure(0, 0)
    validate_for_target(reset, "static")
    reset.reset(0)
    with pytest.raises(TargetCapabilityError, match=r"1 mid-circuit reset\(s\) are not supported by static"):
        validate_for_target(reset, "static")


def test_builders_satisfy_their_targets() -> None:
    weak = _net([3, 2, 2, 2], g=0.5)
    for nc in (
        dynamic_circuit(weak),
        dynamic_circuit(weak, reuse_qubits=True),
        dynamic_circuit(_net([3, 2, 2, 2], stretch="tanh", a=0.5)),
    ):
        assert nc.circuit.num_vars == 0
        validate_for_target(nc.circuit, "ibm")
        assert find_violations(nc.circuit, "aer", check_gates=False) == []
    deferred = deferred_circuit(weak).circuit
    for target in ("static", "ionq", "ibm"):
        validate_for_target(deferred, target)
    for lc in layer_circuits(weak):
        validate_for_target(lc.circuit, "static")


# ----------------------------------------------------------------------------- backends
def test_backend_without_control_flow_is_detected_from_its_target() -> None:
    backend = GenericBackendV2(num_qubits=5, control_flow=False, seed=1)
    assert not backend.target.instruction_supported("if_else")
    profile = target_profile(backend)
    assert profile.control_flow == frozenset() and profile.num_qubits == 5
    nc = dynamic_circuit(_net([3, 2, 2, 2]))
    with pytest.raises(
        TargetCapabilityError,
        match=r"cannot run on target 'generic_backend_5q': if_else is not supported by generic_backend_5q \(it allows no control flow\)",
    ):
        validate_for_target(nc.circuit, backend)
    with pytest.raises(TargetCapabilityError, match=r"if_else is not supported"):
        transpile_for_target(nc.circuit, backend)
    # layer circuits need no control flow: they transpile for it
    for lc in layer_circuits(_net([3, 2, 2, 2])):
        out = transpile_for_target(lc.circuit, backend, seed_transpiler=0)
        assert "if_else" not in out.count_ops()


def test_backend_too_small() -> None:
    backend = GenericBackendV2(num_qubits=3, control_flow=True, seed=1)
    nc = dynamic_circuit(_net([3, 2, 2, 2]))
    with pytest.raises(
        TargetCapabilityError, match=r"the circuit needs 4 qubits, generic_backend_3q has 3; use reuse_qubits=True"
    ):
        validate_for_target(nc.circuit, backend)
    validate_for_target(dynamic_circuit(_net([3, 2, 2, 2]), reuse_qubits=True).circuit, backend)


def test_target_names_and_errors() -> None:
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    assert set(PROFILES) == {"ibm", "aer", "ionq", "static"}
    assert target_profile("aer").native_gates and "ry" in target_profile("aer").native_gates
    assert target_profile("FakeTorino").name == "ibm:fake_torino"
    assert target_profile("ionq_forte").name == "ionq:ionq_native_zz"
    assert target_profile(ionq_native_target(num_qubits=4)).num_qubits == 4
    with pytest.raises(ConfigurationError, match=r"unknown backend 'nonesuch'; expected one of aer, aer-mps, "):
        target_profile("nonesuch")
    with pytest.raises(
        ConfigurationError,
        match=r"target must be a profile name \(ibm, aer, ionq, static\), a backend name, a BackendV2 or a Target, got int",
    ):
        target_profile(3)
    qc = dynamic_circuit(_net([3, 2, 2, 2])).circuit
    with pytest.raises(ConfigurationError, match=r"'ibm' names rules, not a device: pass a backend"):
        transpile_for_target(qc, "ibm")
    with pytest.raises(ConfigurationError, match=r"transpile for IonQ at optimization_level 0 or 1, got 2"):
        transpile_for_target(deferred_circuit(_net([3, 2, 2, 2])).circuit, "ionq", optimization_level=2)
    with pytest.raises(ConfigurationError, match=r"two_qubit_gate must be 'ms' \(Aria\) or 'zz' \(Forte\), got 'cx'"):
        ionq_native_target(two_qubit_gate="cx")


@pytest.mark.parametrize("name", ["fake_fez", "fake_kingston"])
def test_more_ibm_backends_transpile_dynamic_circuits(name) -> None:
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    nc = dynamic_circuit(_net([3, 2, 2, 2], stretch="tanh", a=0.5, g=0.5), reuse_qubits=True)
    out = transpile_for_target(nc.circuit, name, seed_transpiler=0)
    assert out.count_ops()["if_else"] == 4 and out.num_parameters == 2
    validate_for_target(out, "ibm")


# ----------------------------------------------------------------------------- resource reports
def test_resource_report_dynamic_logical() -> None:
    net = _net([3, 3, 2, 2, 2], a=2.0)
    report = resource_report(net, mode="dynamic", reuse_qubits=True)
    assert report.target == "logical" and report.construction == "linear"
    assert [r.layer for r in report.layers] == ["h1", "h2", "h3"]
    assert [r.conditional_blocks for r in report.layers] == [0, 3, 2]  # one block per previous bit
    assert [r.mid_circuit_measurements for r in report.layers] == [3, 2, 0]
    assert [r.resets for r in report.layers] == [0, 2, 2]
    assert [r.one_qubit_gates for r in report.layers] == [3, 2 + 3 * 2, 2 + 2 * 2]
    total = report.total
    assert (total.qubits, total.mid_circuit_measurements, total.resets, total.conditional_blocks) == (3, 5, 4, 5)
    assert all(r.supported for r in (*report.layers, total))
    table = report.table()
    assert table.splitlines()[0] == "dynamic circuit (linear) on target 'logical' (logical counts, not transpiled)"
    assert "layer  qubits  depth  1q gates  2q gates  mid-meas  resets  cond. blocks  target supports" in table
    assert str(report) == table


def test_resource_report_flags_unsupported_features() -> None:
    net = _net([3, 2, 2, 2], g=0.5)
    ionq = resource_report(net, mode="dynamic", target="ionq")
    assert ionq.target == "ionq:ionq_native_ms"
    assert ionq.layers[0].supported and ionq.layers[0].transpiled  # layer 1 has no conditionals
    assert ionq.layers[1].unsupported == ("if_else",) and not ionq.layers[1].transpiled
    assert "no: if_else" in ionq.table()
    static = resource_report(net, mode="dynamic", target="static")
    assert static.layers[0].unsupported == ("mid-circuit measurement",)
    deferred = resource_report(net, mode="deferred", target="ionq")
    assert deferred.total.supported and deferred.total.transpiled
    assert deferred.total.two_qubit_gates > 0 and deferred.total.mid_circuit_measurements == 0
    layers = resource_report(net, mode="layers", target="static")
    assert layers.construction == "layers" and layers.total.supported


def test_resource_report_transpiled_for_ibm() -> None:
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    report = resource_report(_net([3, 2, 2, 2], stretch="tanh", a=0.5, g=0.5), mode="dynamic", target="fake_torino")
    assert report.target == "ibm:fake_torino" and report.construction == "lookup"
    assert all(r.transpiled and r.supported for r in (*report.layers, report.total))
    assert report.layers[0].two_qubit_gates == 4  # two RZY = two CZ each
    assert report.layers[1].conditional_blocks == 4


def test_resource_report_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"mode must be one of layers, dynamic, deferred, got 'both'"):
        resource_report(_net([3, 2, 2]), mode="both")
    with pytest.raises(CircuitNotExactError, match=r"stretch 'tanh' is not affine"):
        resource_report(_net([3, 2, 2, 2], stretch="tanh", a=0.5), mode="deferred")


def test_circuit_resources_fields_are_frozen() -> None:
    row = circuit_resources(_base(), label="x")
    assert isinstance(row, LayerResources) and row.layer == "x" and row.qubits == 1
    with pytest.raises(AttributeError):
        row.qubits = 3  # type: ignore[misc]
