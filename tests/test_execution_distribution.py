"""Execution on samplers reproduces the model's outcome distribution (and a wrong model is rejected).

Statistics (fixed seeds, so every run is reproducible):

* Each check draws ``N_PASSES = 3000`` forward passes of one image (``IMAGES = 150`` copies of it,
  ``SHOTS = 20`` shots each) and compares the joint outcome counts of the hidden registers h1..hL
  with :func:`qiskit_natural_qnn.exact.exact_distribution` by Pearson's chi-square (cells with
  expected count < 5 pooled, ``tests/stats.py``). An execution passes when ``p >= ALPHA = 1e-4``.
* Power: the same statistic must reject (``p < REJECT = 1e-6``) the passes of a wrong model (the
  second hidden layer's weights negated; Method 2 without the carried neuron state), the same bits
  read in the wrong neuron order, and a sampler that reuses one simulator seed on every job (the
  correlated-layers trap that per-job seeds avoid).

Executions covered: layerwise on Aer (Method 1, Method 1 with biases and hardtanh, Method 2; one copy
and many copies side by side), dynamic on Aer (linear and lookup constructions, Method 2), deferred on
Aer, and IBM Runtime local testing mode on a fake backend with the noise stripped (the current
``executor_sampler.Sampler`` and the deprecated ``SamplerV2``), transpiled for the fake device.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import pytest
import torch
from qiskit.primitives import BaseSamplerV2
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_aer.primitives import SamplerV2 as AerSampler

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.exact import exact_distribution
from qiskit_natural_qnn.execution import run_layerwise, run_single
from qiskit_natural_qnn.providers import local_backend
from qiskit_natural_qnn.providers.ibm import runtime_sampler

from .stats import chi2_pvalue, total_variation

IMAGES, SHOTS = 150, 20
N_PASSES = IMAGES * SHOTS
ALPHA = 1e-4
REJECT = 1e-6


def _net(sizes, *, a, stretch="tanh", g=math.pi / 2, seed=5, bias=False, scale=1.5) -> NaturalQNN:
    net = NaturalQNN(layer_sizes=sizes, a=a, stretch=stretch, g=g, bias=bias, seed=seed, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(scale)
            if layer.bias is not None:
                layer.bias.copy_(0.4 * torch.randn(layer.bias.shape, generator=gen, dtype=torch.float64))
    return net


def _x(net: NaturalQNN, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=net.n_inputs)


def _counts(bits: list[np.ndarray]) -> Counter:
    flat = [b.reshape(-1, b.shape[-1]) for b in bits]
    return Counter(tuple(tuple(int(v) for v in layer[i]) for layer in flat) for i in range(flat[0].shape[0]))


def _check(bits, exact, label: str) -> None:
    counts = _counts(bits)
    assert sum(counts.values()) == N_PASSES
    p = chi2_pvalue(counts, exact)
    assert p >= ALPHA, f"{label}: chi-square p = {p:.3g} < {ALPHA} (TV {total_variation(counts, exact):.4f})"


def _images(x: np.ndarray) -> np.ndarray:
    return np.repeat(x[None, :], IMAGES, axis=0)


LAYERWISE = [
    ("method1-tanh", {"sizes": [3, 2, 2, 2], "a": 0.5}),
    ("method1-hardtanh-bias", {"sizes": [4, 3, 2, 2], "a": 0.8, "stretch": "hardtanh", "bias": True}),
    ("method2", {"sizes": [3, 2, 2, 2, 2], "a": 0.4, "g": math.pi / 4}),
]


@pytest.mark.parametrize("case", LAYERWISE, ids=[c[0] for c in LAYERWISE])
@pytest.mark.parametrize("copies", [1, "auto"])
def test_layerwise_on_aer_matches_exact(case, copies):
    net = _net(**case[1])
    x = _x(net)
    run = run_layerwise(net, _images(x), sampler=AerSampler(seed=3), shots=SHOTS, seed=11, copies=copies)
    assert len(run.jobs) == len(net.hidden_sizes)  # one job per hidden layer carries every pass
    if copies == "auto":
        assert min(run.copies) > 1
    _check(run.bits, exact_distribution(net, x), f"layerwise {case[0]} copies={copies}")


def test_layerwise_rejects_a_wrong_model_and_wrong_decoding():
    net = _net([3, 2, 2, 2], a=0.5)
    x = _x(net)
    exact = exact_distribution(net, x)
    wrong = _net([3, 2, 2, 2], a=0.5)
    with torch.no_grad():
        wrong.layers[1].weight.neg_()
    run = run_layerwise(wrong, _images(x), sampler=AerSampler(), shots=SHOTS, seed=12)
    assert chi2_pvalue(_counts(run.bits), exact) < REJECT
    good = run_layerwise(net, _images(x), sampler=AerSampler(), shots=SHOTS, seed=13)
    swapped = [b[..., ::-1] for b in good.bits]  # the same bits read in the wrong neuron order
    assert chi2_pvalue(_counts(swapped), exact) < REJECT


def test_method2_without_carried_state_is_rejected():
    net = _net([3, 2, 2, 2, 2], a=0.4, g=math.pi / 4)
    x = _x(net)
    no_carry = _net([3, 2, 2, 2, 2], a=0.4)  # same weights, every layer fresh and projective
    run = run_layerwise(no_carry, _images(x), sampler=AerSampler(), shots=SHOTS, seed=14)
    assert chi2_pvalue(_counts(run.bits), exact_distribution(net, x)) < REJECT


class _OneSeedForEveryJob(BaseSamplerV2):
    """The trap: Aer's sampler with one fixed seed, reused by every job (a sampler we cannot reseed)."""

    def run(self, pubs, *, shots=None):
        return AerSampler(seed=7).run(pubs, shots=shots)


def test_one_seed_reused_on_every_job_correlates_layers_and_per_job_seeds_do_not():
    # Layer 2 copies layer 1 (W2 = identity, sharp a): independent layers give d2 = d1 most of the
    # time; when layer 2's random numbers repeat layer 1's, the joint distribution comes out wrong.
    net = _net([3, 2, 2, 2], a=1.0, scale=1.0)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[0.3, -0.2, 0.1], [-0.1, 0.2, 0.2]], dtype=torch.float64))
        net.layers[1].weight.copy_(torch.tensor([[0.8, 0.0], [0.0, 0.8]], dtype=torch.float64))
    x = _x(net)
    exact = exact_distribution(net, x)
    one_pass_each = np.repeat(x[None, :], N_PASSES, axis=0)
    trap = run_layerwise(net, one_pass_each, sampler=_OneSeedForEveryJob(), shots=1, seed=0, copies=1)
    assert all(job.seed is None for job in trap.jobs)  # a custom sampler cannot be reseeded from outside
    fixed = run_layerwise(net, _images(x), sampler=AerSampler(seed=7), shots=SHOTS, copies=1)
    assert chi2_pvalue(_counts(trap.bits), exact) < REJECT
    assert len({job.seed for job in fixed.jobs}) == len(fixed.jobs)  # the fixed-seed sampler got per-job seeds
    _check(fixed.bits, exact, "Aer SamplerV2(seed=7) with per-job seeds")


DYNAMIC = [
    ("linear", {"sizes": [3, 2, 2, 2], "a": 2.0, "stretch": "linear"}, "linear"),
    ("lookup-tanh", {"sizes": [3, 2, 2, 2], "a": 0.5}, "lookup"),
    ("method2-linear", {"sizes": [3, 2, 2, 2], "a": 2.0, "stretch": "linear", "g": math.pi / 4}, "linear"),
]


@pytest.mark.parametrize("case", DYNAMIC, ids=[c[0] for c in DYNAMIC])
def test_dynamic_on_aer_matches_exact(case):
    net = _net(**case[1])
    x = _x(net)
    run = run_single(net, _images(x), sampler=AerSampler(), shots=SHOTS, mode="dynamic", seed=21)
    assert run.construction == case[2] and len(run.jobs) == 1
    assert run.circuit.has_control_flow_op()
    _check(run.bits, exact_distribution(net, x), f"dynamic {case[0]}")


def test_dynamic_on_aer_mps_and_deferred_match_exact():
    net = _net([3, 2, 2, 2], a=2.0, stretch="linear")
    x = _x(net)
    exact = exact_distribution(net, x)
    mps = AerSampler(options={"backend_options": {"method": "matrix_product_state"}})
    run = run_single(net, _images(x), sampler=mps, shots=SHOTS, mode="dynamic", reuse_qubits=True, seed=22)
    _check(run.bits, exact, "dynamic on matrix_product_state, qubits reused")
    deferred = run_single(net, _images(x), sampler=AerSampler(), shots=SHOTS, mode="deferred", seed=23)
    assert not deferred.circuit.has_control_flow_op() and deferred.construction == "deferred"
    _check(deferred.bits, exact, "deferred")


@pytest.fixture(scope="module")
def fake_manila():
    """Runtime local testing mode: FakeManilaV2's gates and coupling map, noise stripped."""
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    device = local_backend("fake_manila")
    ideal = local_backend("fake_manila", noise=False)
    pm = generate_preset_pass_manager(optimization_level=1, backend=device, seed_transpiler=1)
    return device, ideal, pm


def test_runtime_local_mode_layerwise_and_dynamic_match_exact(fake_manila):
    device, ideal, pm = fake_manila
    sampler = runtime_sampler(ideal)
    net = _net([3, 2, 2, 2], a=2.0, stretch="linear", g=math.pi / 4)
    x = _x(net)
    exact = exact_distribution(net, x)
    run = run_layerwise(
        net, _images(x), sampler=sampler, shots=SHOTS, pass_manager=pm, seed=31, target=device, copies="auto"
    )
    assert run.copies == [1, 2]  # Method 2 layer 1 uses 4 of manila's 5 qubits; layer 2 fits twice
    assert set(run.bits[0].reshape(-1).tolist()) <= {0, 1}
    _check(run.bits, exact, "Runtime local mode, layerwise")
    dyn = run_single(
        net, _images(x), sampler=sampler, shots=SHOTS, mode="dynamic", pass_manager=pm, seed=32, target=device
    )
    assert set(dyn.circuit.count_ops()) <= set(device.target.operation_names) | {"barrier"}
    _check(dyn.bits, exact, "Runtime local mode, dynamic")


def test_deprecated_runtime_samplerv2_is_accepted(fake_manila):
    from qiskit_ibm_runtime import SamplerV2

    device, ideal, pm = fake_manila
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sampler = SamplerV2(mode=ideal)
    net = _net([3, 2, 2, 2], a=0.5)
    x = _x(net)
    run = run_layerwise(
        net, _images(x), sampler=sampler, shots=SHOTS, pass_manager=pm, seed=33, copies="auto", target=device
    )
    assert all(job.seed is not None for job in run.jobs)
    _check(run.bits, exact_distribution(net, x), "deprecated Runtime SamplerV2, layerwise")
