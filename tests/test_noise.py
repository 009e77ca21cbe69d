"""Noise injection: protected identity pairs, noisy samplers, the IonQ noise payload, the noise sweep.

The devices are IBM fake backends, so the whole module needs the ``[ibm]`` extra.
"""

from __future__ import annotations

import json
import warnings
from unittest import mock

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (qiskit-ibm-runtime, fake devices) is not installed")

from qiskit_natural_qnn import NaturalQNN  # noqa: E402
from qiskit_natural_qnn.circuits import bind_layer, layer_circuit  # noqa: E402
from qiskit_natural_qnn.exact import exact_distribution  # noqa: E402
from qiskit_natural_qnn.exceptions import (  # noqa: E402
    ConfigurationError,
    InputError,
    TargetCapabilityError,
)
from qiskit_natural_qnn.execution import packed_layer_circuit, run_layerwise  # noqa: E402
from qiskit_natural_qnn.experiments.noise import (  # noqa: E402
    IdentityPairs,
    IdentityPairTranspiler,
    coupled_layout,
    find_identity_pairs,
    insert_identity_pairs,
    noise_sweep,
)
from qiskit_natural_qnn.providers import ionq_noise_payload, noisy_sampler, noisy_setup  # noqa: E402
from qiskit_natural_qnn.transpile import get_backend  # noqa: E402
from tests.stats import chi2_pvalue  # noqa: E402

COPIES, WIDTH, PAIRS = 3, 4, 3


@pytest.fixture(scope="module")
def backends():
    return {name: get_backend(name) for name in ("fake_torino", "fake_sherbrooke")}


def _packed(weak: bool = False):
    net = NaturalQNN(layer_sizes=[5, WIDTH, WIDTH, 3], a=0.5, g=0.6 if weak else np.pi / 2, seed=0)
    return packed_layer_circuit(layer_circuit(net, layer=1), COPIES).circuit


@pytest.mark.parametrize("backend_name", ["fake_torino", "fake_sherbrooke"])
@pytest.mark.parametrize("level", [0, 1, 2, 3])
@pytest.mark.parametrize("gate", ["sx", "cz"])
def test_pairs_survive_transpilation_on_every_copy(backends, backend_name, level, gate):
    backend = backends[backend_name]
    logical = _packed()
    isa = IdentityPairTranspiler(backend, pairs=PAIRS, gate=gate, optimization_level=level).run(logical)
    initial = isa.layout.initial_index_layout()
    phys = [[initial[c * WIDTH + i] for i in range(WIDTH)] for c in range(COPIES)]  # neuron i of copy c
    found = {f.qubits: f for f in find_identity_pairs(isa)}
    if gate == "sx":
        expected = {(q,) for copy in phys for q in copy}
    else:
        expected = {(copy[i], copy[i + 1]) for copy in phys for i in (0, 2)}
        edges = set(backend.coupling_map.get_edges())
        assert all(pair in edges or pair[::-1] in edges for pair in expected)  # neighbours on coupled qubits
        two_qubit = sum(1 for inst in isa.data if inst.operation.num_qubits == 2 and inst.operation.name != "barrier")
        assert two_qubit == 2 * PAIRS * len(expected)  # every pair gate survived, and no SWAP was added
    assert set(found) == expected
    assert all(f.pairs == PAIRS and f.segments == 2 * PAIRS and f.valid and f.gate == gate for f in found.values())


def test_weak_layers_get_pairs_between_rotation_and_readout(backends):
    isa = IdentityPairTranspiler(backends["fake_torino"], pairs=2, gate="sx", optimization_level=3).run(
        _packed(weak=True)
    )
    found = find_identity_pairs(isa)
    assert len(found) == COPIES * WIDTH and all(f.pairs == 2 and f.valid for f in found)


def test_unprotected_pairs_do_not_survive(backends):
    """Why the barriers: without them, level 1 cancels every pair (what the protection is for)."""
    qc = QuantumCircuit(2, 2)
    qc.ry(0.4, 0)
    qc.ry(0.7, 1)
    for _ in range(5):
        qc.sx(0)
        qc.sxdg(0)
        qc.cz(0, 1)
        qc.cz(0, 1)
    qc.measure([0, 1], [0, 1])
    isa = generate_preset_pass_manager(optimization_level=1, backend=backends["fake_torino"], seed_transpiler=0).run(qc)
    assert "cz" not in isa.count_ops() and isa.count_ops().get("sx", 0) <= 4


def test_insert_identity_pairs_structure_and_errors():
    net = NaturalQNN(layer_sizes=[3, 3, 2], a=0.5, seed=0)
    qc = layer_circuit(net, layer=1).circuit
    out = insert_identity_pairs(qc, pairs=2, gate="cz")
    assert out.count_ops()["cz"] == 4  # one neighbouring pair (0, 1); the odd neuron 2 has none
    assert out.metadata["identity_pairs"] == {"pairs": 2, "gate": "cz"}
    assert insert_identity_pairs(qc, pairs=0).data == qc.data
    with pytest.raises(ConfigurationError, match=r"pairs must be an int >= 0, got -1; pass e\.g\. pairs=20"):
        IdentityPairs(pairs=-1)
    with pytest.raises(ConfigurationError, match=r"unknown pair gate 'x'; expected one of sx, cz"):
        insert_identity_pairs(qc, pairs=1, gate="x")
    with pytest.raises(InputError, match=r"has no quantum register named 'neuron'.*layer_circuit"):
        insert_identity_pairs(QuantumCircuit(2), pairs=1)
    with pytest.raises(ConfigurationError, match=r"optimization_level must be 0, 1, 2 or 3, got 4"):
        IdentityPairTranspiler("fake_perth", optimization_level=4)


def test_coupled_layout_reports_when_copies_do_not_fit():
    net = NaturalQNN(layer_sizes=[3, 4, 2], seed=0)
    packed = packed_layer_circuit(layer_circuit(net, layer=1), 3).circuit  # 6 neighbouring pairs on 7 qubits
    with pytest.raises(TargetCapabilityError, match=r"disjoint coupled qubit pairs.*pack fewer copies"):
        coupled_layout(packed, "fake_perth")
    assert coupled_layout(packed, "ionq") is None  # all-to-all: any layout


def test_ideal_pipeline_with_pairs_equals_exact_distribution():
    """Noise off: with 5 CZ pairs per neighbouring pair, the outcomes follow the model exactly.

    Seeds: network 3, run 11, transpiler 0; 3000 passes of one image; chi-square p > 1e-3.
    """
    net = NaturalQNN(layer_sizes=[3, 2, 2, 2], a=0.8, stretch="hardtanh", seed=3)
    x = np.array([0.2, 0.9, 0.4])
    backend = get_backend("fake_perth")
    run = run_layerwise(
        net,
        x[None],
        sampler=noisy_sampler(backend, noise=False),
        shots=3000,
        seed=11,
        copies=1,
        pass_manager=IdentityPairTranspiler(backend, pairs=5, gate="cz"),
        target=backend,
    )
    bits = np.concatenate([run.bits[0][0], run.bits[1][0]], axis=1)
    counts: dict = {}
    for row in bits:
        key = (tuple(int(b) for b in row[:2]), tuple(int(b) for b in row[2:]))
        counts[key] = counts.get(key, 0) + 1
    assert chi2_pvalue(counts, exact_distribution(net, x)) > 1e-3


def test_success_falls_as_pairs_are_added():
    """Fake Perth's noise model: success at 0 > 20 > 60 CZ pairs, with disjoint 95% Wilson intervals.

    Network 6-4-4-8 (a = 0, seed 0), one image whose label is the classical prediction, 300 passes per
    point, run seed 1 (each point's job seeds derive from it), transpiler seed 0. Measured: 260/300,
    135/300, 95/300.
    """
    net = NaturalQNN(layer_sizes=[6, 4, 4, 8], a=0.0, seed=0)
    x = np.linspace(0.1, 0.9, 6)
    label = int(np.argmax(net(x[None].astype(np.float32)).detach().numpy()))
    pts = noise_sweep(net, x, label, sampler=noisy_setup("fake_perth"), pairs=[0, 20, 60], gate="cz", shots=300, seed=1)
    assert {p.backend for p in pts} == {"fake_perth (noisy)"}
    r0, r20, r60 = (p.rate for p in pts)
    assert r0.low > r20.high and r20.low > r60.high
    assert r0.rate > 0.8


def test_noisy_sampler_forms():
    noisy, ideal = noisy_sampler("fake_perth", seed=4), noisy_sampler("fake_perth", noise=False)
    assert noisy.__class__.__module__.startswith("qiskit_aer") and noisy.seed == 4
    assert noisy._backend.options.noise_model is not None and ideal._backend.options.noise_model is None
    assert noisy._backend.target.num_qubits == 7  # the device's Target, not a generic simulator's
    assert noisy_sampler("fake_perth", via="runtime").__class__.__module__.startswith("qiskit_ibm_runtime")
    with pytest.raises(ConfigurationError, match=r"via must be 'aer' or 'runtime', got 'cloud'"):
        noisy_sampler("fake_perth", via="cloud")
    setup = noisy_setup("FakePerth", noise=False)
    assert setup.name == "fake_perth (ideal)" and setup.target.name == "fake_perth" and setup.pass_manager is not None


def test_noise_sweep_needs_the_device_to_transpile_for():
    net = NaturalQNN(layer_sizes=[3, 2, 2], a=0.5, seed=0)
    with pytest.raises(ConfigurationError, match=r"^noise_sweep needs the device to transpile for, got backend=None"):
        noise_sweep(net, np.full(3, 0.5), 0, sampler=noisy_sampler("fake_perth"), pairs=[1], shots=2)


def test_runtime_local_mode_runs_the_noise_sweep():
    net = NaturalQNN(layer_sizes=[3, 2, 2], a=0.5, seed=0)
    pts = noise_sweep(
        net,
        np.full(3, 0.5),
        0,
        backend="fake_perth",
        pairs=[2],
        shots=20,
        sampler=noisy_sampler("fake_perth", via="runtime"),
    )
    assert pts[0].rate.trials == 20 and pts[0].pairs == 2 and pts[0].backend == "fake_perth"


def test_ionq_noise_payload_offline():
    pytest.importorskip("qiskit_ionq", reason="the [ionq] extra (qiskit-ionq) is not installed")
    from qiskit_ionq import IonQProvider, ionq_backend

    with warnings.catch_warnings(), mock.patch.object(ionq_backend, "get_n_qubits", lambda *a, **k: 25):
        warnings.simplefilter("ignore")
        backend = IonQProvider(token="offline").get_backend("simulator", gateset="native")
    net = NaturalQNN(layer_sizes=[3, 2, 2], a=0.5, seed=0)
    bound = bind_layer(layer_circuit(net, layer=1), [0.3, 1.0])[0]
    plain = ionq_noise_payload(bound, backend=backend, shots=100, seed=3)
    noisy = ionq_noise_payload(insert_identity_pairs(bound, pairs=2), backend=backend, noise_model="forte-1", shots=100)
    assert plain["noise"] == {"model": "aria-1", "seed": 3} and plain["backend"] == "simulator"
    assert noisy["noise"]["model"] == "forte-1" and noisy["input"]["gateset"] == "native"
    json.dumps(noisy)
    per_qubit = [sum(1 for g in p["input"]["circuit"] if g.get("target") == 0) for p in (plain, noisy)]
    assert per_qubit[1] >= per_qubit[0] + 4  # the 2 SX/SXdg pairs reach IonQ as native gates


def test_noise_sweep_cli(tmp_path, capsys):
    from qiskit_natural_qnn.cli.hardware import main
    from qiskit_natural_qnn.io import save_model

    path = save_model(NaturalQNN(layer_sizes=[784, 4, 4, 10], a=0.5, seed=0), tmp_path / "m.safetensors")
    code = main(
        [
            "noise-sweep",
            str(path),
            "--backend",
            "fake_perth",
            "--images",
            "0,3",
            "--pairs",
            "0,2",
            "--shots",
            "10",
            "--a-values",
            "0.5,1",
            "--no-noise",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert code == 0
    points = json.loads((tmp_path / "out" / "points.json").read_text())
    assert len(points) == 2 * 2 * 2 and {p["image"] for p in points} == {0, 3}
    assert (tmp_path / "out" / "success_vs_pairs.png").exists() and (tmp_path / "out" / "success_vs_a.png").exists()
    assert "fake_perth (ideal)" in capsys.readouterr().out
