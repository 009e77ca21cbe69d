"""The emulation's exactness without a simulator, its seam into the fast path, its refusals, CLI and training.

* A device whose every error is zero emulates the noiseless fast path exactly: same seed, same
  passes, draw for draw (counter-based and generator seeds; Method 1, Method 2 with two weak layers,
  CZ pairs, the classical network; prediction and training).
* The law of one qubit (RY, a depolarizing error, a readout matrix) equals its closed form; a
  measurement's error acts before the measurement, as in Aer.
* The fast path hands the law each layer's circuit angle: the fresh qubit's rotation (Method 1) and the
  neuron's absolute Bloch angle (Method 2), as the host computes them for layer circuits.
* What the emulation does not model is refused with a typed error.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from qiskit.circuit import ClassicalRegister, ParameterVector, QuantumCircuit
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error, pauli_error

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.circuits.angles import input_angles, layer_angles, post_angles
from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.emulation import (
    LayerLaw,
    NoiseChannels,
    circuit_laws,
    emulate_device,
    emulated_noise_sweep,
    success_rates,
)
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError, TargetCapabilityError
from qiskit_natural_qnn.inference import predict
from qiskit_natural_qnn.training import TrainConfig, fit

BASIS = ["rz", "sx", "x", "cz"]

#: (name, network keywords, identity pairs, pair gate)
NETWORKS = [
    ("tanh", {"layer_sizes": [5, 4, 4, 3], "a": 0.8, "stretch": "tanh"}, 0, "sx"),
    ("hardtanh", {"layer_sizes": [5, 4, 4, 3], "a": 0.8, "stretch": "hardtanh"}, 2, "sx"),
    ("method2", {"layer_sizes": [5, 3, 3, 3, 3], "a": 0.5, "g": 0.7}, 0, "sx"),
    ("cz-pairs", {"layer_sizes": [5, 4, 4, 3], "a": 0.8, "stretch": "tanh"}, 2, "cz"),
    ("classical", {"layer_sizes": [5, 4, 4, 3], "a": 0.0}, 0, "sx"),
]


def _zero_noise(net: NaturalQNN, pairs: int, gate: str):
    """Every error zero: Aer keeps no error of probability zero, so the model is empty."""
    model = NoiseModel(basis_gates=BASIS)
    model.add_all_qubit_quantum_error(depolarizing_error(0.0, 1), ["sx", "x"])
    model.add_all_qubit_readout_error(ReadoutError([[1.0, 0.0], [0.0, 1.0]]))
    return emulate_device(net, noise_model=model, copies=2, pairs=pairs, gate=gate)


# ------------------------------------------------------------------------------------ zero noise = ideal
@pytest.mark.parametrize(("name", "kwargs", "pairs", "gate"), NETWORKS, ids=[n[0] for n in NETWORKS])
@pytest.mark.parametrize("seed_kind", ["counter", "generator"])
def test_an_error_free_device_draws_the_noiseless_passes_exactly(name, kwargs, pairs, gate, seed_kind) -> None:
    net = NaturalQNN(seed=1, **kwargs)
    emu = _zero_noise(net, pairs, gate)
    assert all(layer.is_exactly_ideal for layer in emu.layers)
    images = np.random.default_rng(0).random((7, 5)) * 2.0

    def seed():
        return 11 if seed_kind == "counter" else torch.Generator().manual_seed(11)

    ideal = predict(net, images, shots=40, seed=seed(), batch_size=3, return_hidden=True)
    noisy = predict(net, images, shots=40, seed=seed(), batch_size=3, return_hidden=True, noise=emu)
    assert np.array_equal(ideal.shot_classes, noisy.shot_classes)
    assert all(np.array_equal(a, b) for a, b in zip(ideal.hidden, noisy.hidden))


def test_an_error_free_device_trains_the_noiseless_network_exactly() -> None:
    rng = np.random.default_rng(0)
    data = Dataset(rng.random((48, 5), dtype=np.float32), rng.integers(0, 3, 48), "toy")
    config = TrainConfig(epochs=2, batch_size=16, seed=4)
    kwargs = {"layer_sizes": [5, 4, 4, 3], "a": 0.8, "seed": 2}
    plain, noisy = NaturalQNN(**kwargs), NaturalQNN(**kwargs)
    h_plain = fit(plain, data, data, config=config, progress=False)
    h_noisy = fit(noisy, data, data, config=config, progress=False, noise=_zero_noise(noisy, 2, "cz"))
    assert all(torch.equal(a, b) for a, b in zip(plain.weights(), noisy.weights()))
    assert [(r.loss, r.val_vote_error) for r in h_plain.records] == [
        (r.loss, r.val_vote_error) for r in h_noisy.records
    ]
    assert h_noisy.noise == "noise model (emulated, 2 copies, 2 cz pairs)" and h_plain.noise is None


def test_a_run_trained_on_a_device_resumes_only_on_that_device(tmp_path) -> None:
    rng = np.random.default_rng(0)
    data = Dataset(rng.random((32, 5), dtype=np.float32), rng.integers(0, 3, 32), "toy")
    kwargs = {"layer_sizes": [5, 4, 4, 3], "a": 0.8, "seed": 2}
    net = NaturalQNN(**kwargs)
    fit(
        net,
        data,
        config=TrainConfig(epochs=1, seed=4),
        progress=False,
        out_dir=tmp_path,
        noise=_zero_noise(net, 0, "sx"),
    )
    assert json.loads((tmp_path / "history.json").read_text())["noise"] == "noise model (emulated, 2 copies)"
    config = TrainConfig(epochs=2, seed=4)
    with pytest.raises(ConfigurationError, match=r"noise: 'noise model \(emulated, 2 copies\)' in the checkpoint"):
        fit(NaturalQNN(**kwargs), data, config=config, progress=False, out_dir=tmp_path, resume=True)


# ------------------------------------------------------------------------------------ exact laws
def _one_qubit_circuit() -> tuple[QuantumCircuit, ParameterVector, ClassicalRegister]:
    theta, h = ParameterVector("theta1", 1), ClassicalRegister(1, "h1")
    qc = QuantumCircuit(1)
    qc.add_register(h)
    qc.ry(theta[0], 0)
    qc.measure(0, h[0])
    return qc, theta, h


def test_the_law_of_one_qubit_is_its_closed_form() -> None:
    qc, theta, h = _one_qubit_circuit()
    lam, r = 0.12, np.array([[0.93, 0.07], [0.11, 0.89]])
    model = NoiseModel()
    model.add_quantum_error(depolarizing_error(lam, 1), "ry", [0])
    model.add_readout_error(ReadoutError(r), [0])
    (law,) = circuit_laws(qc, angles=theta, register=h, channels=NoiseChannels(model))
    t = np.linspace(-7.0, 7.0, 29)
    p0 = (1 + (1 - lam) * np.cos(t)) / 2  # Bloch z shrunk by the depolarizing error
    expected = np.stack([p0 * r[0, 0] + (1 - p0) * r[1, 0], p0 * r[0, 1] + (1 - p0) * r[1, 1]], axis=-1)
    assert np.allclose(law.probabilities(t[:, None]), expected, rtol=0, atol=1e-12)
    assert np.allclose(law.probabilities(t[:, None], ideal=True)[:, 0], np.cos(t / 2) ** 2, rtol=0, atol=1e-12)


def test_a_measurement_error_acts_before_the_measurement_as_in_aer() -> None:
    qc, theta, h = _one_qubit_circuit()
    model = NoiseModel()
    model.add_all_qubit_quantum_error(pauli_error([("X", 0.3), ("I", 0.7)]), ["measure"])
    (law,) = circuit_laws(qc, angles=theta, register=h, channels=NoiseChannels(model))
    assert np.allclose(law.probabilities(np.array([[0.0]])), [[0.7, 0.3]], rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------ the seam
@pytest.mark.parametrize(
    "kwargs", [{"a": 0.8, "stretch": "hardtanh"}, {"a": 0.6, "g": 0.7}], ids=["method1", "method2"]
)
def test_the_fast_path_hands_each_law_the_angle_its_layer_circuit_prepares(kwargs) -> None:
    net = NaturalQNN(layer_sizes=[5, 3, 3, 3, 3], seed=5, dtype=torch.float64, **kwargs)
    emu = _zero_noise(net, 0, "sx")
    seen: dict[int, torch.Tensor] = {}

    class Recording:
        def bind(self, **kw):
            law = emu.bind(**kw)

            def record(layer, angle, p_plus, u):
                seen[layer] = angle.clone()
                return law(layer, angle, p_plus, u)

            return record

        def describe(self) -> str:
            return emu.describe()

    images = np.random.default_rng(1).random((4, 5))
    pred = predict(net, images, shots=6, seed=3, return_hidden=True, noise=Recording())
    bits = [((1 - d) // 2).reshape(4 * 6, -1) for d in pred.hidden]  # (image, shot) passes, image-major
    first = np.repeat(input_angles(net, images)[:, None, :], 6, axis=1).reshape(24, -1)
    expected = {1: first}
    carried = first
    for k in (2, 3):
        weak = not math.isclose(net.g, math.pi / 2)
        post = post_angles(net, layer=k - 1, angles=carried, bits=bits[k - 2]) if weak else None
        expected[k] = layer_angles(net, layer=k, bits=bits[k - 2], carried=post)
        carried = expected[k]
    for k, angle in seen.items():
        got = angle.transpose(0, 1).reshape(24, -1).numpy()  # (shots, images) -> image-major passes
        assert np.allclose(got, expected[k], rtol=0, atol=1e-9), k


def test_the_placement_follows_packing_copy_of_image_and_of_pass() -> None:
    net = NaturalQNN(layer_sizes=[5, 2, 2, 3], a=0.5, seed=0)
    model = NoiseModel(basis_gates=BASIS)
    model.add_readout_error(ReadoutError([[0.5, 0.5], [0.5, 0.5]]), [2])  # copy 1's neuron 0 is a coin
    emu = emulate_device(net, noise_model=model, copies=2)
    law = emu.bind(hidden_sizes=net.hidden_sizes, neuron=net.neuron, positions=torch.arange(3), shots=4)
    ones = torch.ones(4, 3, 2, dtype=torch.float64)
    d1 = law(1, torch.zeros(4, 3, 2, dtype=torch.float64), ones, torch.full((4, 3, 2), 0.75, dtype=torch.float64))
    assert d1[:, :, 0].tolist() == [[1.0, -1.0, 1.0]] * 4  # layer 1: image i on copy i % 2, every shot
    d2 = law(2, torch.zeros(4, 3, 2, dtype=torch.float64), ones, torch.full((4, 3, 2), 0.75, dtype=torch.float64))
    assert d2[:, :, 0].T.reshape(-1).tolist() == [1.0, -1.0] * 6  # later layers: pass i * shots + s on copy % 2


# ------------------------------------------------------------------------------------ refusals
def _layer_circuit(width: int = 2) -> tuple[QuantumCircuit, ParameterVector, ClassicalRegister]:
    theta, h = ParameterVector("theta1", width), ClassicalRegister(width, "h1")
    qc = QuantumCircuit(width, name="h1")
    qc.add_register(h)
    for i in range(width):
        qc.ry(theta[i], i)
    return qc, theta, h


def _refused(qc, theta, h, match: str) -> None:
    with pytest.raises(TargetCapabilityError, match=match):
        circuit_laws(qc, angles=theta, register=h, channels=NoiseChannels())


def test_dynamic_circuits_and_idle_time_are_refused() -> None:
    qc, theta, h = _layer_circuit()
    qc.measure(0, h[0])
    qc.x(0)
    qc.measure(1, h[1])
    _refused(qc, theta, h, r"uses qubit 0 after measuring it \(a mid-circuit measurement\)")
    qc, theta, h = _layer_circuit()
    with qc.if_test((h[0], 1)):
        qc.x(1)
    _refused(qc, theta, h, r"has control flow \(if_else\)")
    qc, theta, h = _layer_circuit()
    qc.delay(100, 0, unit="ns")
    _refused(qc, theta, h, r"has idle time \(a delay on qubits \[0\]\)")
    qc, theta, h = _layer_circuit()
    qc.reset(1)
    _refused(qc, theta, h, "resets qubit 1")


def test_angles_that_are_not_integer_multiples_and_misplaced_readouts_are_refused() -> None:
    theta, h = ParameterVector("theta1", 1), ClassicalRegister(1, "h1")
    qc = QuantumCircuit(1, name="h1")
    qc.add_register(h)
    qc.rz(theta[0] / 2, 0)
    qc.measure(0, h[0])
    _refused(qc, theta, h, "enters with factor 0.5, not an integer")
    qc, theta, h = _layer_circuit()
    qc.measure(0, h[1])
    qc.measure(1, h[0])
    _refused(qc, theta, h, r"holding the angles of slots \[0\] but measuring slots \[1\]")


def test_pairs_across_copies_and_clusters_of_three_neurons_are_refused() -> None:
    qc, theta, h = _layer_circuit(4)  # two copies of two neurons
    qc.cz(1, 2)  # copy 0's neuron 1 with copy 1's neuron 0
    qc.measure(range(4), h)
    with pytest.raises(TargetCapabilityError, match=r"join slots \[1, 2\] \(copies \[0, 1\]\)"):
        LayerLaw.from_circuit(qc, layer=1, copies=2, channels=NoiseChannels())
    qc, theta, h = _layer_circuit(3)
    qc.cz(0, 1)
    qc.cz(1, 2)
    qc.measure(range(3), h)
    with pytest.raises(TargetCapabilityError, match="alone or in pairs"):
        LayerLaw.from_circuit(qc, layer=1, copies=1, channels=NoiseChannels())


def test_noise_models_outside_the_emulation_are_refused() -> None:
    correlated = NoiseModel()
    correlated.add_readout_error(
        ReadoutError([[0.9, 0.05, 0.05, 0.0], [0.05, 0.9, 0.0, 0.05], [0.05, 0.0, 0.9, 0.05], [0.0, 0.05, 0.05, 0.9]]),
        [0, 1],
    )
    with pytest.raises(ConfigurationError, match=r"correlated readout errors \(on qubits \[\(0, 1\)\]\)"):
        NoiseChannels(correlated)
    from qiskit_aer.noise.passes import LocalNoisePass

    custom = NoiseModel()
    custom._custom_noise_passes.append(LocalNoisePass(lambda op, qubits: None))
    with pytest.raises(ConfigurationError, match="custom noise pass LocalNoisePass"):
        NoiseChannels(custom)
    with pytest.raises(ConfigurationError, match="noise_model must be a qiskit_aer.noise.NoiseModel, got dict"):
        NoiseChannels({})


def test_an_emulation_refuses_a_network_it_was_not_built_for() -> None:
    net = NaturalQNN(layer_sizes=[5, 3, 3, 3], a=0.5, g=0.7, seed=0)
    emu = _zero_noise(net, 0, "sx")
    images = np.ones((2, 5))
    built = (
        r"built for hidden widths \[3, 3\] measured with g = \[0.7, 1.570796\], the network has \[3, 3\] and \[1.5707"
    )
    with pytest.raises(ConfigurationError, match=built):
        predict(NaturalQNN(layer_sizes=[5, 3, 3, 3], a=0.5, seed=0), images, noise=emu)
    with pytest.raises(ConfigurationError, match=r"the network has \[3, 3, 3\]"):
        fit(NaturalQNN(layer_sizes=[5, 3, 3, 3, 3], seed=0), Dataset(images, np.zeros(2, int), "x"), noise=emu)
    with pytest.raises(ConfigurationError, match="noise must be None or a device's noise law .*got str"):
        predict(net, images, noise="fake_torino")
    with pytest.raises(ConfigurationError, match="emulate_device needs the device"):
        emulate_device(net)
    law = emu.bind(hidden_sizes=net.hidden_sizes, neuron=net.neuron, positions=torch.arange(2), shots=None)
    with pytest.raises(InputError, match=r"draws passes shaped \(3,\), the emulation was bound for \(2,\)"):
        law(1, torch.zeros(3, 3), torch.ones(3, 3), torch.zeros(3, 3))


# ------------------------------------------------------------------------------------ a device, the CLI
@pytest.fixture(scope="module")
def fake_device():
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    return "fake_torino"


def test_a_device_with_every_error_set_to_zero_draws_the_noiseless_passes(fake_device) -> None:
    from qiskit_natural_qnn.emulation import noise_model_of

    net = NaturalQNN(layer_sizes=[5, 4, 4, 3], a=0.7, seed=2)
    zero = noise_model_of(fake_device, readout_error=False, gate_error=False)
    emu = emulate_device(net, fake_device, noise_model=zero, copies=3, pairs=2, gate="cz")
    images = np.random.default_rng(0).random((5, 5))
    ideal = predict(net, images, shots=30, seed=8, return_hidden=True)
    noisy = predict(net, images, shots=30, seed=8, return_hidden=True, noise=emu)
    assert all(np.array_equal(a, b) for a, b in zip(ideal.hidden, noisy.hidden))
    assert emu.describe() == "fake_torino (emulated, 3 copies, 2 cz pairs)"


def test_the_placed_noise_model_draws_on_aer_what_the_whole_device_model_draws(fake_device) -> None:
    """Aer with the model cut down to the used qubits gives the same bits for the same seed, from fewer errors."""
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    from qiskit_natural_qnn.execution.layerwise import run_layerwise
    from qiskit_natural_qnn.transpile import get_backend

    net = NaturalQNN(layer_sizes=[5, 3, 3, 2], a=0.6, seed=4)
    emu = emulate_device(net, fake_device, copies=2, pairs=1, gate="cz")
    placed = emu.placed_noise_model()
    used = {c.find_bit(q).index for c in emu.circuits for inst in c.data for q in inst.qubits}
    assert {q for (q,) in placed._local_readout_errors} == used  # one readout error per used qubit, no other
    assert len(emu.noise_model._local_readout_errors) == 133
    images = np.random.default_rng(1).random((6, 5))
    backend = get_backend(fake_device)
    runs = [
        run_layerwise(
            net,
            images,
            sampler=SamplerV2.from_backend(AerSimulator.from_backend(backend, noise_model=model)),
            shots=4,
            seed=11,
            pass_manager=emu.pass_manager,
            copies=emu.copies,
        )
        for model in (emu.noise_model, placed)
    ]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0].bits, runs[1].bits))
    assert any(b.std() > 0 for b in runs[0].bits)  # noisy draws, not constant ones


def test_success_rates_and_the_emulated_noise_sweep(fake_device) -> None:
    net = NaturalQNN(layer_sizes=[5, 2, 2, 3], a=0.5, seed=0)
    images, labels = np.random.default_rng(3).random((3, 5)), np.array([0, 1, 2])
    points = emulated_noise_sweep(
        net, images, labels, backend=fake_device, pairs=[0, 4], a_values=[0.3, 0.6], shots=20, copies=1
    )
    assert [(p.a, p.pairs, p.image) for p in points[::3]] == [(0.3, 0, 0), (0.3, 4, 0), (0.6, 0, 0), (0.6, 4, 0)]
    assert {p.backend for p in points} == {
        "fake_torino (emulated, 1 copy)",
        "fake_torino (emulated, 1 copy, 4 sx pairs)",
    }
    ideal = success_rates(net, images, labels, shots=20, seed=1)
    assert [p.backend for p in ideal] == ["fast path"] * 3 and all(p.rate.trials == 20 for p in ideal)


def test_evaluate_emulates_a_device_and_train_trains_for_it(fake_device, tmp_path, capsys) -> None:
    from qiskit_natural_qnn.cli.app import main

    out = tmp_path / "run"
    argv = ["train", "--hidden", "4", "4", "--a", "0.5", "--epochs", "1", "--limit", "20", "--shots", "2"]
    assert (
        main([*argv, "--no-progress", "--device", "cpu", "--out", str(out), "--noise", fake_device, "--copies", "2"])
        == 0
    )
    assert json.loads((out / "history.json").read_text())["noise"] == "fake_torino (emulated, 2 copies)"
    capsys.readouterr()
    model = str(out / "model.safetensors")
    assert main(["evaluate", model, "--limit", "10", "--device", "cpu", "--emulate", fake_device, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["noise"].startswith("fake_torino (emulated, ")
    assert main(["evaluate", model, "--limit", "10", "--backend", "aer", "--emulate", fake_device]) == 2
    assert "pass one of them" in capsys.readouterr().err
