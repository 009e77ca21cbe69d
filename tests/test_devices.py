"""One grammar for naming a device (transpile/devices.py), read the same by every entry point."""

from __future__ import annotations

import importlib.util

import pytest

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.experiments.cost import estimate_cost
from qiskit_natural_qnn.providers import make_sampler
from qiskit_natural_qnn.transpile import target_profile, transpile_for_target
from qiskit_natural_qnn.transpile.devices import (
    DEVICE_FORMS,
    SAMPLER_FORMS,
    DeviceName,
    device_name,
    fake_backend_names,
    get_backend,
    parse_device,
    target_of,
)

needs_ibm = pytest.mark.skipif(
    importlib.util.find_spec("qiskit_ibm_runtime") is None,
    reason="the [ibm] extra (qiskit-ibm-runtime, fake devices) is not installed",
)

UNKNOWN = (
    r"^unknown backend 'braket:sv1'; expected one of aer, aer-mps, statevector, fake_NAME, ibm:NAME, ionq:NAME, "
    r"ionq, ionq_aria, ionq_forte \(e\.g\. 'aer-mps', 'fake_torino', 'ibm:ibm_torino', 'ionq:simulator', "
    r"'ionq_forte'\)$"
)


@pytest.mark.parametrize(
    "text,kind,name,spec",
    [
        ("aer", "aer", "", "aer"),
        (" AER_simulator ", "aer", "", "aer"),
        ("aer_mps", "aer-mps", "", "aer-mps"),
        ("statevector", "statevector", "", "statevector"),
        ("fake_manila", "fake", "fake_manila", "fake_manila"),
        ("FakeManilaV2", "fake", "fake_manila", "fake_manila"),
        ("FakeTorino", "fake", "fake_torino", "fake_torino"),
        ("fake_fractional_backend", "fake", "fake_fractional_backend", "fake_fractional_backend"),
        ("ibm:ibm_torino", "ibm", "ibm_torino", "ibm:ibm_torino"),
        ("IBM: ibm_fez", "ibm", "ibm_fez", "ibm:ibm_fez"),
        ("ionq:qpu.forte-1", "ionq", "qpu.forte-1", "ionq:qpu.forte-1"),
        ("ionq:", "ionq", "simulator", "ionq:simulator"),
        ("IonQ_Forte", "ionq-native", "ionq_forte", "ionq_forte"),
    ],
)
def test_every_form_parses_to_one_canonical_name(text, kind, name, spec):
    device = parse_device(text)
    assert device == DeviceName(kind, name) and device.spec == spec
    assert parse_device(device.spec) == device and device.form.form in DEVICE_FORMS


def test_the_forms_and_their_errors():
    assert DEVICE_FORMS[:6] == SAMPLER_FORMS == ("aer", "aer-mps", "statevector", "fake_NAME", "ibm:NAME", "ionq:NAME")
    for bad in ("braket:sv1", "fake", "fake_", "nonesuch", ""):
        with pytest.raises(ConfigurationError, match=r"^unknown backend .*; expected one of aer, aer-mps, "):
            parse_device(bad)
    with pytest.raises(ConfigurationError, match=r"^backend 'ibm:' names no IBM device; pass e\.g\. 'ibm:ibm_torino'$"):
        parse_device("ibm:")
    with pytest.raises(ConfigurationError, match=r"^a backend name must be a str, got int; pass one of aer, "):
        parse_device(3)  # type: ignore[arg-type]


def test_one_grammar_for_every_entry_point():
    """get_backend, target_profile, transpile_for_target, make_sampler and estimate_cost read names alike."""
    net = NaturalQNN(layer_sizes=[4, 2, 2], seed=0)
    for call in (
        lambda: get_backend("braket:sv1"),
        lambda: target_profile("braket:sv1"),
        lambda: make_sampler("braket:sv1"),
        lambda: estimate_cost(net, backend="braket:sv1", n_images=1, shots=1),
    ):
        with pytest.raises(ConfigurationError, match=UNKNOWN):
            call()
    assert target_profile("statevector").name == "static" and target_profile("aer-mps").name.startswith("aer")
    assert target_profile("ionq_aria").name == "ionq:ionq_native_ms" and target_of("ionq_forte").num_qubits == 36
    assert get_backend("aer-mps").options.method == "matrix_product_state"
    assert estimate_cost(net, backend="IONQ_FORTE", n_images=1, shots=1).backend == "ionq_native_zz"


def test_names_without_an_offline_device():
    with pytest.raises(
        ConfigurationError,
        match=r"^'ibm:ibm_torino' is a cloud device, made with credentials by "
        r"qiskit_natural_qnn\.providers\.make_sampler\('ibm:ibm_torino'\)",
    ):
        target_profile("ibm:ibm_torino")
    with pytest.raises(ConfigurationError, match=r"^'ionq:simulator' is a cloud device"):
        get_backend("ionq:")
    with pytest.raises(ConfigurationError, match=r"^'statevector' is a sampler without a device"):
        get_backend("statevector")
    with pytest.raises(
        ConfigurationError, match=r"^'ionq' is an offline target for transpiling and checks, not a sampler"
    ):
        make_sampler("ionq")


@needs_ibm
def test_every_fake_device_of_qiskit_ibm_runtime_is_a_name():
    from qiskit_ibm_runtime import fake_provider

    names = fake_backend_names()
    classes = [n for n in dir(fake_provider) if n.startswith("Fake") and n != "FakeProviderForBackendV2"]
    assert len(names) == len(classes) and len(names) > 50
    for cls in classes:  # each class name is also a spelling of its device name
        assert parse_device(cls).name in names, cls
    # V2-only devices (no FakeManila, only FakeManilaV2) resolve: `estimate`, `circuit`, `noise-sweep` once refused them
    for name in ("fake_manila", "FakeManilaV2", "fake_perth", "fake_torino"):
        backend = get_backend(name)
        assert backend.name == parse_device(name).name == device_name(backend) == device_name(name)
    profile = target_profile("fake_manila")
    assert profile.name == "ibm:fake_manila" and profile.num_qubits == 5
    with pytest.raises(
        ConfigurationError,
        match=r"^unknown fake backend 'fake_nowhere'; the installed qiskit-ibm-runtime ships fake_aachen, ",
    ):
        get_backend("fake_nowhere")


@needs_ibm
def test_transpile_for_a_v2_only_fake_device():
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    out = transpile_for_target(qc, "FakeManilaV2", seed_transpiler=0)
    assert set(out.count_ops()) <= {"rz", "sx", "x", "cx", "measure"}
