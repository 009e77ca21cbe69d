"""The emulated device noise of the fast path against Aer's noisy simulation of the same transpiled circuits.

For four networks (Method 1 with tanh and with hardtanh neurons, Method 2, Method 1 with injected
CZ pairs) on two fake devices (FakeTorino, FakeFez), the emulation (``emulate_device``, two copies of
each layer circuit side by side) is compared with ``AerSimulator.from_backend(device)`` running the
emulation's own transpiled layer circuits (``emu.circuits``, which layerwise execution with
``emu.pass_manager`` also runs: checked), so every neuron sits on the same physical qubit:

* hidden layer 1 end to end: two images (image ``i`` on copy ``i``), their angles from the network,
  20,000 passes each drawn by ``predict(..., noise=emu)``, and 20,000 Aer shots of the packed circuit;
* hidden layer 2 through the fast path's seam: fixed angles per copy (some close to 0 and pi, where
  readout errors show most), 20,000 rows per copy drawn by ``emu.bind(...)``, and 20,000 Aer shots.

Three chi-square tests per network, device and layer, at 20,000 passes and shots, each required to
give p >= 1e-4: Aer's counts against the emulation's exact law, the fast path's counts against it,
and Aer's counts against the fast path's (homogeneity). The outcomes are each cluster's joint bits
(a neuron, or a CZ-coupled pair of neurons); clusters are independent, so the statistics add up
(cells with expected count below 5 are pooled). Negative controls, rejected by the same
homogeneity test (p < 1e-4), and by the exact-law test: the fast path drawing from an emulation
without readout errors, and from one whose neurons sit on the wrong physical qubits (each moved to
the free qubit whose readout error differs most). Seeds: Aer ``SEED``, the fast path ``SEED + 1``
and ``SEED + 2``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.circuits.angles import input_angles
from qiskit_natural_qnn.emulation import DeviceEmulation, LayerLaw, NoiseChannels, emulate_device, noise_model_of
from qiskit_natural_qnn.execution.layerwise import LayerwiseExecutor
from qiskit_natural_qnn.inference import predict

pytestmark = pytest.mark.slow

SEED = 20_250
SHOTS = 20_000
COPIES = 2
ALPHA = 1e-4
DEVICES = ("fake_torino", "fake_fez")

#: (name, network keywords, identity pairs, pair gate)
NETWORKS = [
    ("tanh", {"layer_sizes": [4, 3, 3, 3], "a": 0.8, "stretch": "tanh"}, 0, "sx"),
    ("hardtanh", {"layer_sizes": [4, 3, 3, 3], "a": 0.8, "stretch": "hardtanh"}, 0, "sx"),
    ("method2", {"layer_sizes": [4, 3, 3, 3], "a": 0.5, "g": 0.7}, 0, "sx"),
    ("cz-pairs", {"layer_sizes": [4, 4, 4, 3], "a": 0.8, "stretch": "tanh"}, 3, "cz"),
]

#: Angles of hidden layer 2, per slot (copy-major): close to 0 and pi, where readout errors matter most.
LAYER2_ANGLES = np.array([0.05, math.pi - 0.08, 1.3, 2.2, 0.02, 3.1, 0.7, math.pi - 0.02])


@pytest.fixture(scope="module")
def devices():
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    from qiskit_natural_qnn.transpile import get_backend

    out = {}
    for name in DEVICES:
        backend = get_backend(name)
        noise_model = noise_model_of(backend)  # NoiseModel.from_backend, what AerSimulator.from_backend builds
        sampler = SamplerV2.from_backend(AerSimulator.from_backend(backend, noise_model=noise_model), seed=SEED)
        out[name] = (backend, noise_model, sampler)
    return out


class _NoReadout(NoiseChannels):
    """The noise model's channels with every readout error dropped (a negative control)."""

    def readout(self, qubit: int) -> None:
        return None


# --------------------------------------------------------------------------------------------- statistics
def _cluster_counts(bits: np.ndarray, slots: tuple[int, ...]) -> np.ndarray:
    """Counts of a cluster's outcomes ``sum_t bit(slots[t]) 2**t`` over rows of ``bits`` ``(rows, n_slots)``."""
    outcome = sum(bits[:, s].astype(np.int64) << t for t, s in enumerate(slots))
    return np.bincount(outcome, minlength=2 ** len(slots))


def _goodness_of_fit(counts: list[np.ndarray], probs: list[np.ndarray]) -> float:
    """p-value of the summed Pearson statistics of independent clusters against exact laws."""
    stat, dof = 0.0, 0
    for c, p in zip(counts, probs):
        expected = c.sum() * np.clip(p, 0.0, None)
        small = expected < 5
        obs = np.append(c[~small], c[small].sum()) if small.any() else c
        exp = np.append(expected[~small], expected[small].sum()) if small.any() else expected
        if (obs[exp == 0] > 0).any():
            return 0.0
        keep = exp > 0
        stat += float(((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum())
        dof += int(keep.sum()) - 1
    return float(stats.chi2.sf(stat, dof))


def _homogeneity(first: list[np.ndarray], second: list[np.ndarray]) -> float:
    """p-value of the summed chi-square statistics of the 2 x K tables of independent clusters."""
    stat, dof = 0.0, 0
    for a, b in zip(first, second):
        table = np.stack([a, b]).astype(float)
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            continue
        chi2, _, k, _ = stats.chi2_contingency(table, correction=False)
        stat, dof = stat + chi2, dof + k
    return float(stats.chi2.sf(stat, dof)) if dof else 1.0


# --------------------------------------------------------------------------------------------- drawing
def _aer_bits(sampler, circuit, values: np.ndarray, layer: int) -> np.ndarray:
    result = sampler.run([(circuit, values[None, :], SHOTS)]).result()[0]
    return getattr(result.data, f"h{layer}").to_bool_array(order="little")[0]  # (shots, copies * width)


def _layer1_fast(net: NaturalQNN, images: np.ndarray, noise: DeviceEmulation) -> np.ndarray:
    """Layer-1 bits ``(SHOTS, copies * width)``: image ``c`` on copy ``c``, its neurons at slots ``c * width ...``."""
    pred = predict(net, images, shots=SHOTS, seed=SEED + 1, noise=noise, return_hidden=True)
    d = pred.hidden[0]  # (copies, SHOTS, width)
    return np.concatenate([(d[c] < 0) for c in range(COPIES)], axis=1)


def _layer2_fast(net: NaturalQNN, angles: np.ndarray, noise: DeviceEmulation) -> np.ndarray:
    """Layer-2 bits ``(SHOTS, copies * width)`` drawn by the bound law, row ``r`` on copy ``r % copies``."""
    width = net.hidden_sizes[1]
    rows = COPIES * SHOTS
    law = noise.bind(hidden_sizes=net.hidden_sizes, neuron=net.neuron, positions=torch.arange(rows), shots=None)
    per_copy = torch.tensor(angles.reshape(COPIES, width))
    theta = per_copy[torch.arange(rows) % COPIES]
    p_plus = _ideal_plus(net, 2, theta)
    u = torch.rand((rows, width), generator=torch.Generator().manual_seed(SEED + 2), dtype=torch.float64)
    d = law(2, theta, p_plus, u)
    bits = (d < 0).numpy().reshape(SHOTS, COPIES, width)  # row r = s * copies + c
    return bits.reshape(SHOTS, COPIES * width)


def _ideal_plus(net: NaturalQNN, layer: int, theta: torch.Tensor) -> torch.Tensor:
    from qiskit_natural_qnn.schedule import LayerSchedule

    schedule = LayerSchedule(hidden_sizes=net.hidden_sizes, neuron=net.neuron)
    return schedule.measurement(layer).prob_plus(theta.clone())


def _wrong_qubits(emu: DeviceEmulation, noise_model) -> DeviceEmulation:
    """The emulation with every used physical qubit swapped for the free one whose readout error differs most."""
    from qiskit import QuantumCircuit

    channels = NoiseChannels(noise_model)

    def readout(q: int) -> float:
        m = channels.readout(q)
        return 0.0 if m is None else float(m[0, 1] + m[1, 0]) / 2

    layers = []
    for k, isa in enumerate(emu.circuits, start=1):
        used = sorted({isa.find_bit(q).index for inst in isa.data for q in inst.qubits})
        free = [q for q in range(isa.num_qubits) if q not in used]
        perm = list(range(isa.num_qubits))
        for q in used:
            v = max(free, key=lambda f: abs(readout(f) - readout(q)))
            free.remove(v)
            perm[q], perm[v] = v, q
        moved = QuantumCircuit(isa.num_qubits)
        for creg in isa.cregs:
            moved.add_register(creg)
        moved.compose(isa, qubits=perm, clbits=isa.clbits, inplace=True)
        layers.append(LayerLaw.from_circuit(moved, layer=k, copies=COPIES, channels=channels))
    return emu.replace(layers=tuple(layers))


def _ops(circuit) -> list[tuple]:
    """Every instruction as (name, physical qubits, parameters as text, bits): equal for equally placed circuits."""
    return [
        (
            inst.operation.name,
            tuple(circuit.find_bit(q).index for q in inst.qubits),
            tuple(str(p) for p in inst.operation.params),
            tuple(circuit.find_bit(c).index for c in inst.clbits),
        )
        for inst in circuit.data
    ]


# --------------------------------------------------------------------------------------------- the test
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("name", "kwargs", "pairs", "gate"), NETWORKS, ids=[n[0] for n in NETWORKS])
def test_fast_path_noise_matches_aer_on_the_same_circuits(devices, device, name, kwargs, pairs, gate) -> None:
    backend, noise_model, sampler = devices[device]
    net = NaturalQNN(seed=3, **kwargs)
    emu = emulate_device(net, backend, noise_model=noise_model, copies=COPIES, pairs=pairs, gate=gate)
    executor = LayerwiseExecutor(net, sampler, pass_manager=emu.pass_manager, copies=COPIES)
    for k in (1, 2):
        assert _ops(executor.circuit(k, COPIES).circuit) == _ops(emu.circuits[k - 1]), "not the same placement"
    images = np.random.default_rng(SEED).random((COPIES, 4)) * 3.0
    angles = {1: input_angles(net, images).reshape(-1), 2: LAYER2_ANGLES[: COPIES * net.hidden_sizes[1]]}
    no_readout = _NoReadout(noise_model)
    controls = {
        "readout errors dropped": emu.replace(
            layers=tuple(
                LayerLaw.from_circuit(c, layer=k, copies=COPIES, channels=no_readout)
                for k, c in enumerate(emu.circuits, start=1)
            )
        ),
        "wrong physical qubits": _wrong_qubits(emu, noise_model),
    }
    for layer in (1, 2):
        aer = _aer_bits(sampler, emu.circuits[layer - 1], angles[layer], layer)
        draw = (lambda e: _layer1_fast(net, images, e)) if layer == 1 else (lambda e: _layer2_fast(net, angles[2], e))
        fast = draw(emu)
        law = emu.layers[layer - 1].probabilities(angles[layer])
        slots = [s for s, _ in law]
        probs = [p for _, p in law]
        aer_counts = [_cluster_counts(aer, s) for s in slots]
        fast_counts = [_cluster_counts(fast, s) for s in slots]
        where = f"{name} on {device}, hidden layer {layer}"
        assert _goodness_of_fit(aer_counts, probs) >= ALPHA, f"Aer against the exact law: {where}"
        assert _goodness_of_fit(fast_counts, probs) >= ALPHA, f"fast path against the exact law: {where}"
        assert _homogeneity(aer_counts, fast_counts) >= ALPHA, f"fast path against Aer: {where}"
        for what, control in controls.items():
            wrong = [_cluster_counts(draw(control), s) for s in slots]
            wrong_law = [p for _, p in control.layers[layer - 1].probabilities(angles[layer])]
            assert _homogeneity(aer_counts, wrong) < ALPHA, f"{what} not rejected: {where}"
            assert _goodness_of_fit(aer_counts, wrong_law) < ALPHA, f"{what} not rejected (law): {where}"
