"""Cost estimates equal what the transpiled circuits of a real run contain; ``qnqnn estimate``."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from qiskit import QuantumCircuit

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.execution import LayerwiseExecutor
from qiskit_natural_qnn.experiments.cost import (
    DEFAULT_REP_DELAY_S,
    circuit_duration,
    estimate_cost,
)
from qiskit_natural_qnn.experiments.noise import IdentityPairTranspiler
from qiskit_natural_qnn.transpile import get_backend

#: The IBM fake devices need the [ibm] extra; the IonQ target here does not.
needs_ibm = pytest.mark.skipif(
    importlib.util.find_spec("qiskit_ibm_runtime") is None,
    reason="the [ibm] extra (qiskit-ibm-runtime) is not installed",
)


def _two_qubit(qc: QuantumCircuit) -> int:
    return sum(1 for i in qc.data if i.operation.num_qubits == 2 and i.operation.name != "barrier")


@needs_ibm
@pytest.mark.parametrize("copies,pairs,gate", [(1, 3, "cz"), (2, 2, "sx"), (2, 0, "sx")])
def test_estimate_equals_the_run(copies, pairs, gate):
    from qiskit_natural_qnn.providers import noisy_sampler

    """Jobs, circuits, shots per circuit, qubits, gates and measurements of a run on fake Perth (ideal)."""
    backend = get_backend("fake_perth")
    net = NaturalQNN(layer_sizes=[4, 2, 2, 2], a=0.5, seed=0)
    n_images, shots = 3, 5
    est = estimate_cost(
        net, backend=backend, n_images=n_images, shots=shots, copies=copies, pairs=pairs, gate=gate, max_sets_per_job=4
    )
    pm = IdentityPairTranspiler(backend, pairs=pairs, gate=gate)
    executor = LayerwiseExecutor(
        net, noisy_sampler(backend, noise=False), pass_manager=pm, copies=copies, max_sets_per_job=4, target=backend
    )
    run = executor.run(np.random.default_rng(0).random((n_images, 4)), shots=shots, seed=0)
    assert est.jobs == len(run.jobs)
    for row in est.layers:
        jobs = [j for j in run.jobs if j.key.startswith(f"h{row.layer}/")]
        isa = executor.circuit(row.layer, copies).circuit
        assert row.jobs == len(jobs) and row.circuits == sum(j.n_sets for j in jobs)
        assert {j.shots for j in jobs} == {row.shots_per_circuit}
        assert row.copies == copies
        assert row.two_qubit_gates == _two_qubit(isa)
        assert row.measurements == isa.count_ops()["measure"]
        assert row.qubits == len({q for i in isa.data if i.operation.name != "barrier" for q in i.qubits})
        assert row.mid_circuit_measurements == 0
        assert row.duration_s == circuit_duration(isa, backend.target)
    assert est.total_shots == sum(j.n_sets * j.shots for j in run.jobs)
    assert est.two_qubit_gates_executed == sum(r.two_qubit_gates * r.shots for r in est.layers)
    assert est.device_time_s == pytest.approx(sum(r.shots * (r.duration_s + est.rep_delay_s) for r in est.layers))
    if pairs and gate == "cz":
        assert all(r.two_qubit_gates == 2 * pairs * copies for r in est.layers)  # one neighbouring pair per copy


@needs_ibm
def test_circuit_duration_schedules_as_soon_as_possible():
    target = get_backend("fake_perth").target
    qc = QuantumCircuit(2, 2)
    qc.sx(0)
    qc.sx(0)
    qc.x(1)
    qc.barrier()
    qc.measure([0, 1], [0, 1])
    sx, x, meas = (target[n][(q,)].duration for n, q in (("sx", 0), ("x", 1), ("measure", 0)))
    meas1 = target["measure"][(1,)].duration
    assert circuit_duration(qc, target) == pytest.approx(max(2 * sx, x) + max(meas, meas1))
    assert circuit_duration(qc, None) is None


def test_estimate_without_durations_and_errors():
    net = NaturalQNN(layer_sizes=[4, 2, 2], a=0.5, seed=0)
    est = estimate_cost(net, backend="ionq", n_images=2, shots=3)
    assert est.device_time_s is None and "unknown" in est.table()
    assert est.rep_delay_s == DEFAULT_REP_DELAY_S
    with pytest.raises(ConfigurationError, match=r"n_images must be an int >= 1, got 0; pass e\.g\. n_images=10"):
        estimate_cost(net, backend="ionq", n_images=0, shots=3)
    with pytest.raises(ConfigurationError, match=r"copies must be an int >= 1 or 'auto', got 0"):
        estimate_cost(net, backend="ionq", n_images=1, shots=3, copies=0)


@needs_ibm
def test_auto_copies_fit_the_device_with_coupled_neighbours():
    net = NaturalQNN(layer_sizes=[784, 16, 16, 16, 10], a=0.5, seed=0)
    est = estimate_cost(net, backend="fake_torino", n_images=10, shots=15, copies="auto", pairs=1, gate="cz")
    assert all(r.copies == est.layers[0].copies > 1 for r in est.layers)
    assert est.max_qubits == 16 * est.layers[0].copies <= 133
    assert est.layers[1].circuits == -(-10 * 15 // est.layers[0].copies)


@needs_ibm
def test_estimate_cli(tmp_path, capsys):
    from qiskit_natural_qnn.cli.hardware import main
    from qiskit_natural_qnn.io import save_model

    path = save_model(NaturalQNN(layer_sizes=[784, 4, 4, 10], a=0.5, seed=0), tmp_path / "m.safetensors")
    assert (
        main(
            [
                "estimate",
                str(path),
                "--backend",
                "fake_perth",
                "--images",
                "2",
                "--shots",
                "3",
                "--copies",
                "1",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["jobs"] == 2 and out["circuits"] == 2 + 6 and out["total_shots"] == 6 + 6 and out["device_time_s"] > 0
    assert main(["estimate", str(path), "--backend", "fake_nowhere"]) == 2
    assert "unknown fake backend 'fake_nowhere'; the installed qiskit-ibm-runtime ships fake_aachen" in (
        capsys.readouterr().err
    )
    # the device grammar is the same as evaluate's: V2-only devices spell as their name (FakeManilaV2)
    assert main(["estimate", str(path), "--backend", "fake_manila", "--images", "1", "--shots", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "fake_manila"
