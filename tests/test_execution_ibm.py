"""IBM specifics, offline: Runtime samplers in local testing mode, per-job seeds, options for dynamic
circuits, and the per-job budget of conditional operations. The cloud test runs only with IBM
credentials (a saved account or ``QISKIT_IBM_TOKEN``).
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.transpiler import generate_preset_pass_manager

pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (qiskit-ibm-runtime) is not installed")

from qiskit_natural_qnn import NaturalQNN  # noqa: E402
from qiskit_natural_qnn.circuits import dynamic_circuit  # noqa: E402
from qiskit_natural_qnn.exceptions import TargetCapabilityError  # noqa: E402
from qiskit_natural_qnn.execution import JobSubmitter, predict_on_sampler, run_single, sampler_kind  # noqa: E402
from qiskit_natural_qnn.inference import predict  # noqa: E402
from qiskit_natural_qnn.providers import local_backend, make_sampler  # noqa: E402
from qiskit_natural_qnn.providers.ibm import has_ibm_credentials, runtime_sampler  # noqa: E402
from qiskit_natural_qnn.transpile import ibm_dynamic  # noqa: E402
from qiskit_natural_qnn.transpile.ibm_dynamic import (  # noqa: E402
    conditional_cost,
    max_sets_per_job,
    prepare_ibm_sampler,
)


def _net(sizes, **kw) -> NaturalQNN:
    net = NaturalQNN(layer_sizes=sizes, seed=5, dtype=torch.float64, **kw)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(1.5)
    return net


@pytest.fixture(scope="module")
def manila():
    device = local_backend("fake_manila")
    ideal = local_backend("fake_manila", noise=False)
    pm = generate_preset_pass_manager(optimization_level=1, backend=device, seed_transpiler=1)
    return device, ideal, pm


def _circuit() -> QuantumCircuit:
    qc = QuantumCircuit(1, 1)
    qc.h(0)
    qc.measure(0, 0)
    return qc


def test_runtime_samplers_get_their_own_seed_per_job_without_being_changed(manila):
    _, ideal, pm = manila
    isa = pm.run(_circuit())
    for sampler in (runtime_sampler(ideal), _legacy(ideal)):
        before = sampler.options.simulator.seed_simulator
        submitter = JobSubmitter(sampler)
        assert submitter.seeded

        def draw(seed, submitter=submitter):
            return submitter.submit([isa], shots=200, seed=seed).result()[0].data.c.get_bitstrings()

        assert draw(3) == draw(3) and draw(3) != draw(4)
        assert sampler.options.simulator.seed_simulator is before  # the user's sampler is left as it was
    assert sampler_kind(runtime_sampler(ideal)) == "ibm" and sampler_kind(_legacy(ideal)) == "ibm-legacy"


def _legacy(mode):
    from qiskit_ibm_runtime import SamplerV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return SamplerV2(mode=mode)


def test_conditional_cost_counts_broadcasts_and_bits():
    linear = _net([4, 3, 3, 2], a=3.0, stretch="linear")
    assert conditional_cost(dynamic_circuit(linear).circuit) == (3, 3)  # one 1-bit test per bit of h1
    lookup = _net([4, 2, 2, 2], a=0.5)
    nc = dynamic_circuit(lookup)
    assert nc.construction == "lookup" and nc.circuit.count_ops()["if_else"] == 4
    assert conditional_cost(nc.circuit) == (1, 2)  # four tests of the unchanged register h1: one broadcast
    assert max_sets_per_job(dynamic_circuit(linear).circuit) == math.floor(20_200 / (3 * 7.4 + 3))
    assert max_sets_per_job(_circuit()) >= 2**60  # no conditionals: no limit


def test_sweeps_are_split_to_respect_the_conditional_budget(manila, monkeypatch):
    device, ideal, pm = manila
    net = _net([3, 2, 2, 2], a=3.0, stretch="linear")
    images = np.random.default_rng(0).uniform(size=(5, 3))
    monkeypatch.setattr(ibm_dynamic, "IBM_JOB_BUDGET", 2 * (2 * 7.4 + 2) + 1)  # two images per job
    run = run_single(
        net, images, sampler=runtime_sampler(ideal), shots=8, mode="dynamic", pass_manager=pm, target=device, seed=1
    )
    assert [job.n_sets for job in run.jobs] == [2, 2, 1]
    assert len({job.seed for job in run.jobs}) == 3 and [b.shape for b in run.bits] == [(5, 8, 2), (5, 8, 2)]
    monkeypatch.setattr(ibm_dynamic, "IBM_JOB_BUDGET", 10.0)
    with pytest.raises(
        TargetCapabilityError,
        match=r"needs 2 broadcasts of 2 measured bits per execution \(cost 17\), "
        r"over IBM's per-job budget of conditional operations \(10\); run "
        r"the network layer by layer \(mode='layerwise'\)",
    ):
        run_single(
            net, images, sampler=runtime_sampler(ideal), shots=8, mode="dynamic", pass_manager=pm, target=device, seed=1
        )


def test_dynamic_circuits_turn_dynamical_decoupling_off(manila):
    device, ideal, pm = manila
    sampler = runtime_sampler(ideal)
    sampler.options.dynamical_decoupling.enable = True
    net = _net([3, 2, 2, 2], a=3.0, stretch="linear")
    with pytest.warns(
        UserWarning,
        match=r"^dynamical decoupling was enabled on the sampler; it is incompatible with "
        r"dynamic circuits, so it is turned off for this run$",
    ):
        run = run_single(
            net, np.full((2, 3), 0.5), sampler=sampler, shots=4, mode="dynamic", pass_manager=pm, target=device, seed=2
        )
    assert sampler.options.dynamical_decoupling.enable is False and run.bits[0].shape == (2, 4, 2)
    fractional = SimpleNamespace(
        options=SimpleNamespace(dynamical_decoupling=SimpleNamespace(enable=False)),
        backend=lambda: SimpleNamespace(name="ibm_test", options=SimpleNamespace(use_fractional_gates=True)),
    )
    with pytest.raises(
        TargetCapabilityError,
        match=r"^backend 'ibm_test' was loaded with fractional gates, which "
        r"cannot be combined with dynamic circuits; get it with "
        r"service.backend\(name, use_fractional_gates=False\)",
    ):
        prepare_ibm_sampler(fractional, dynamic=True)
    prepare_ibm_sampler(fractional, dynamic=False)  # layer circuits have no conditionals: nothing to change


def test_make_sampler_for_fake_backends_and_noise(manila):
    setup = make_sampler("fake_manila", shots=100)
    assert sampler_kind(setup.sampler) == "ibm" and setup.pass_manager is not None
    assert setup.target.name == "fake_manila" and setup.fetch_job is None and setup.execution is None
    ideal = make_sampler("fake_manila", noise=False)
    assert ideal.sampler.backend().options.noise_model is None
    # the noisy device flips some bits of the (deterministic) classical network; the ideal one none
    net = _net([3, 2, 2, 3], a=0.0)
    images = np.random.default_rng(1).uniform(size=(20, 3))
    fast = predict(net, images, shots=10, seed=0, return_hidden=True).hidden
    for sampler_setup, noisy in ((setup, True), (ideal, False)):
        pred = predict_on_sampler(net, images, sampler=sampler_setup, shots=10, mode="layerwise", seed=3)
        flips = sum(float((ours != theirs).mean()) for ours, theirs in zip(pred.hidden, fast))
        assert (0 < flips < 0.5) if noisy else flips == 0


@pytest.mark.skipif(
    not has_ibm_credentials(),
    reason="no IBM Quantum account saved and QISKIT_IBM_TOKEN is not set: the IBM cloud test needs credentials",
)
def test_ibm_cloud_layerwise_run():  # pragma: no cover - needs the network, credentials and device time
    import os

    from qiskit_natural_qnn.providers.ibm import ibm_service

    name = os.environ.get("QNQNN_IBM_BACKEND") or ibm_service().least_busy(operational=True, simulator=False).name
    setup = make_sampler(f"ibm:{name}", shots=10)
    try:
        pred = predict_on_sampler(
            _net([3, 2, 2, 2], a=0.5), np.full((2, 3), 0.5), sampler=setup, shots=10, mode="layerwise", seed=1
        )
    finally:
        setup.close()
    assert pred.shot_classes.shape == (2, 10) and len(pred.job_ids) == 2
