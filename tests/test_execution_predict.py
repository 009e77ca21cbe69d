"""predict_on_sampler / evaluate_on_sampler: mode choice and reasons, votes, errors, seeds, messages.

Statistics: predicted-class frequencies of 3,000 passes of one image (150 copies x 20 shots) against
:func:`qiskit_natural_qnn.exact.exact_class_distribution`, Pearson chi-square, pass at
``p >= 1e-4`` (fixed seeds). The classical network (a = 0) is deterministic, so there every execution
must equal the fast path exactly.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from qiskit.primitives import StatevectorSampler
from qiskit_aer.primitives import SamplerV2 as AerSampler

from qiskit_natural_qnn import ConfigurationError, InputError, NaturalQNN
from qiskit_natural_qnn.exact import exact_class_distribution
from qiskit_natural_qnn.exceptions import CircuitNotExactError, TargetCapabilityError
from qiskit_natural_qnn.execution import SamplerPrediction, choose_mode, evaluate_on_sampler, predict_on_sampler
from qiskit_natural_qnn.inference import Evaluation, Prediction, majority_vote, predict
from qiskit_natural_qnn.providers import make_sampler

from .stats import chi2_pvalue

ALPHA = 1e-4


def _net(sizes, **kw) -> NaturalQNN:
    net = NaturalQNN(layer_sizes=sizes, seed=kw.pop("seed", 5), dtype=torch.float64, **kw)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(1.5)
    return net


# ------------------------------------------------------------------------------------------ choice
def test_auto_picks_dynamic_deferred_or_layerwise_and_says_why():
    wide_tanh = _net([6, 16, 16, 3], a=0.5)
    narrow_tanh = _net([6, 2, 2, 3], a=0.5)
    linear = _net([6, 3, 3, 3], a=3.0, stretch="linear")
    choice = choose_mode(linear, "aer")
    assert (choice.mode, choice.construction) == ("dynamic", "linear")
    assert choice.reason.startswith("the linear dynamic circuit is exact (stretch 'linear'")
    assert choice.reason.endswith("and aer runs dynamic circuits")
    assert choose_mode(narrow_tanh, "ibm")[:1] + (choose_mode(narrow_tanh, "ibm").construction,) == (
        "dynamic",
        "lookup",
    )
    choice = choose_mode(linear, "ionq")
    assert choice.mode == "deferred"
    assert choice.reason == "ionq runs no control flow; the deferred circuit is exact and small (6 qubits <= 20)"
    choice = choose_mode(wide_tanh, "aer")
    assert choice.mode == "layerwise" and choice.construction is None
    assert choice.reason == (
        "no single dynamic circuit is exact: stretch 'tanh' is not affine in z: no sum of fixed per-bit rotations "
        "reproduces tanh(z/a); layer-by-layer execution is exact for every network"
    )
    assert choose_mode(narrow_tanh, "static").reason.startswith(
        "static runs no control flow; the deferred circuit is not exact (stretch 'tanh' is not affine in z"
    )
    big_linear = _net([6, 8, 8, 8, 3], a=40.0, stretch="linear")
    choice = choose_mode(big_linear, "ionq")
    assert choice.mode == "layerwise"
    assert "the deferred circuit is exact but needs 24 qubits (auto limit 20)" in choice.reason


def test_explicit_modes_are_checked_with_exact_messages():
    wide_tanh = _net([6, 16, 16, 3], a=0.5)
    linear = _net([6, 3, 3, 3], a=3.0, stretch="linear")
    with pytest.raises(
        CircuitNotExactError,
        match=r"^the 'auto' single circuit cannot express this network exactly: "
        r"stretch 'tanh' is not affine in z",
    ):
        choose_mode(wide_tanh, "aer", mode="dynamic")
    with pytest.raises(
        TargetCapabilityError,
        match=r"^mode 'dynamic' needs classically conditioned operations, but "
        r"ionq runs no control flow; use mode='layerwise' \(or "
        r"mode='deferred' for a small exact network\)$",
    ):
        choose_mode(linear, "ionq", mode="dynamic")
    with pytest.raises(CircuitNotExactError, match=r"^the 'deferred' single circuit cannot express"):
        choose_mode(wide_tanh, "static", mode="deferred")
    with pytest.raises(
        ConfigurationError, match=r"^mode must be one of auto, layerwise, dynamic, deferred, got 'fast'$"
    ):
        choose_mode(linear, "aer", mode="fast")
    # a dynamic circuit is refused by a sampler whose target has no control flow, before submission
    with pytest.raises(
        TargetCapabilityError,
        match=r"^mode 'dynamic' needs classically conditioned operations, but "
        r"static runs no control flow",
    ):
        predict_on_sampler(linear, np.zeros((1, 6)), sampler=StatevectorSampler(), shots=2, mode="dynamic")


# ------------------------------------------------------------------------------------ predictions
def test_prediction_fields_votes_and_hidden_activations():
    net = _net([6, 4, 3, 3], a=0.7)
    images = np.random.default_rng(0).uniform(size=(5, 6))
    pred = predict_on_sampler(net, images, sampler=AerSampler(), shots=9, seed=3)
    assert isinstance(pred, SamplerPrediction) and pred.mode == "dynamic" and pred.construction == "lookup"
    assert pred.shot_classes.shape == (5, 9) and pred.shot_classes.dtype == np.int64
    assert [h.shape for h in pred.hidden] == [(5, 9, 4), (5, 9, 3)]
    assert all(h.dtype == np.int8 and set(np.unique(h)) <= {-1, 1} for h in pred.hidden)
    majority, counts = majority_vote(pred.shot_classes, 3)  # the one vote rule, ties -> smallest class
    np.testing.assert_array_equal(pred.majority, majority)
    np.testing.assert_array_equal(pred.vote_counts, counts)
    assert (pred.vote_counts.sum(axis=1) == 9).all()
    # the classes are the argmax of W_out d over the last hidden layer's activations
    w_out = net.layers[-1].weight.detach().numpy()
    np.testing.assert_array_equal(pred.shot_classes, (pred.hidden[-1] @ w_out.T).argmax(axis=-1))
    assert isinstance(pred.to_prediction(), Prediction)
    assert pred.seed == 3 and pred.backend.startswith("aer_simulator") and len(pred.job_ids) == 1


@pytest.mark.parametrize("mode,sampler", [("layerwise", "aer"), ("dynamic", "aer"), ("layerwise", "statevector")])
def test_classical_network_equals_the_fast_path_exactly(mode, sampler):
    net = _net([6, 3, 3, 3], a=0.0)
    images = np.random.default_rng(1).uniform(size=(7, 6))
    sampler_obj = AerSampler() if sampler == "aer" else StatevectorSampler()
    pred = predict_on_sampler(net, images, sampler=sampler_obj, shots=4, mode=mode, seed=2)
    fast = predict(net, images, shots=4, seed=0, return_hidden=True)
    assert pred.mode == mode
    np.testing.assert_array_equal(pred.shot_classes, fast.shot_classes)
    for ours, theirs in zip(pred.hidden, fast.hidden):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("mode", ["layerwise", "dynamic"])
def test_predicted_classes_match_the_exact_class_distribution(mode):
    net = _net([4, 2, 2, 3], a=0.6)
    x = np.random.default_rng(2).uniform(size=4)
    exact = exact_class_distribution(net, x)
    assert sorted(exact)[-2] > 0.05  # at least two classes occur: the test has power
    pred = predict_on_sampler(net, np.repeat(x[None], 150, axis=0), sampler=AerSampler(), shots=20, mode=mode, seed=4)
    counts = Counter(pred.shot_classes.reshape(-1).tolist())
    p = chi2_pvalue(counts, {c: float(q) for c, q in enumerate(exact)})
    assert p >= ALPHA, f"{mode}: chi-square p = {p:.3g}"


def test_seeds_make_runs_reproducible_and_each_job_gets_its_own():
    net = _net([6, 4, 4, 4, 3], a=0.7)
    images = np.random.default_rng(3).uniform(size=(6, 6))

    def run(seed, **kw):
        return predict_on_sampler(net, images, sampler=AerSampler(), shots=8, mode="layerwise", seed=seed, **kw)

    a, b, c = run(10), run(10), run(11)
    np.testing.assert_array_equal(a.shot_classes, b.shot_classes)
    for x, y in zip(a.hidden, b.hidden):
        np.testing.assert_array_equal(x, y)
    assert [j.seed for j in a.jobs] == [j.seed for j in b.jobs]
    assert len({j.seed for j in a.jobs}) == 3 and not any(x == y for x, y in zip(a.jobs, c.jobs))
    assert any((x != y).any() for x, y in zip(a.hidden, c.hidden))
    split = run(10, max_sets_per_job=2, copies=1)  # 6 images -> 3 jobs for layer 1; 48 passes -> 24 jobs later
    assert [j.key for j in split.jobs][:4] == ["h1/0", "h1/1", "h1/2", "h2/0"] and len(split.jobs) == 3 + 24 + 24
    assert len({j.seed for j in split.jobs}) == len(split.jobs)
    # a generator seed works too, and None on a seeded sampler uses the sampler's own seed
    assert isinstance(run(np.random.default_rng(5)).seed, int)
    own = predict_on_sampler(net, images, sampler=AerSampler(seed=77), shots=8, mode="layerwise")
    assert own.seed == 77


def test_evaluate_on_sampler_errors_agree_with_its_prediction():
    net = _net([6, 4, 3, 3], a=0.7)
    rng = np.random.default_rng(4)
    images, labels = rng.uniform(size=(12, 6)), rng.integers(0, 3, size=12)
    ev = evaluate_on_sampler(net, (images, labels), sampler=make_sampler("aer-mps"), shots=7, mode="layerwise", seed=5)
    pred = ev.prediction
    assert ev.single_shot_error == pytest.approx(float((pred.shot_classes != labels[:, None]).mean()))
    assert ev.vote_error == pytest.approx(float((pred.majority != labels).mean()))
    assert (ev.shots, ev.n_images) == (7, 12) and isinstance(ev.to_evaluation(), Evaluation)
    with pytest.raises(InputError, match=r"^labels must have shape \(12,\) to match the images, got \(3,\)$"):
        evaluate_on_sampler(net, (images, labels[:3]), sampler=AerSampler(), shots=2)


def test_input_and_setting_errors_are_exact():
    net = _net([6, 2, 2, 3], a=0.5)
    with pytest.raises(ConfigurationError, match=r"^shots must be an int >= 1, got 0; pass e.g. shots=15$"):
        predict_on_sampler(net, np.zeros((2, 6)), sampler=AerSampler(), shots=0)
    with pytest.raises(
        InputError, match=r"^inputs must have shape \(batch, 6\), got \(2, 5\); flatten each image to 6 values$"
    ):
        predict_on_sampler(net, np.zeros((2, 5)), sampler=AerSampler(), shots=2)
    with pytest.raises(ConfigurationError, match=r"^sampler must be a qiskit BaseSamplerV2, got str; pass e.g. "):
        predict_on_sampler(net, np.zeros((2, 6)), sampler="aer", shots=2)
    with pytest.raises(
        ConfigurationError,
        match=r"^seed must be an int in \[0, 2\*\*64\) \(seeds are 64-bit\), got -1; pass e.g. seed=0$",
    ):
        predict_on_sampler(net, np.zeros((2, 6)), sampler=AerSampler(), shots=2, seed=-1)
    with pytest.raises(
        ConfigurationError,
        match=r"^unknown backend 'braket:x'; expected one of aer, aer-mps, "
        r"statevector, fake_NAME, ibm:NAME, ionq:NAME",
    ):
        make_sampler("braket:x")
    x = np.zeros((2, 6))
    with pytest.raises(
        ConfigurationError, match=r"^record must be None, a RunRecord or a path to a JSON file, got int"
    ):
        predict_on_sampler(net, x, sampler=AerSampler(), shots=2, record=123)
    with pytest.raises(ConfigurationError, match=r"^max_sets_per_job must be None or an int >= 1, got 'x'; pass e"):
        predict_on_sampler(net, x, sampler=AerSampler(), shots=2, max_sets_per_job="x")
    for mode in ("auto", "layerwise", "dynamic"):
        with pytest.raises(ConfigurationError, match=r"^pass_manager must be None or have a run\(circuits\) method"):
            predict_on_sampler(net, x, sampler=AerSampler(), shots=2, mode=mode, pass_manager="x")
    for level in (9, -1, 1.0, True, "1"):
        with pytest.raises(ConfigurationError, match=r"^optimization_level must be 0, 1, 2 or 3, got "):
            make_sampler("fake_perth", optimization_level=level)
    with pytest.raises(ConfigurationError, match=r"^shots must be an int >= 1, got 0"):
        make_sampler("aer", shots=0)


def test_auto_chooses_only_a_dynamic_circuit_that_fits_the_device():
    """fake_manila has 5 qubits; the 3-3 linear network's dynamic circuit needs 6: auto runs layer by layer."""
    import dataclasses

    from qiskit_natural_qnn.execution.auto import dynamic_qubits
    from qiskit_natural_qnn.transpile.targets import PROFILES

    net = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=1.0, stretch="linear", seed=0)
    assert dynamic_qubits(net) == 6
    five, six = (dataclasses.replace(PROFILES["ibm"], name="five", num_qubits=n) for n in (5, 6))
    choice = choose_mode(net, five)
    assert choice.mode == "layerwise"
    assert choice.reason.startswith("the dynamic circuit needs 6 qubits, five has 5; ")
    assert choose_mode(net, six).mode == "dynamic"
    with pytest.raises(TargetCapabilityError, match=r"^mode 'dynamic': the dynamic circuit needs 6 qubits, five has 5"):
        choose_mode(net, five, mode="dynamic")
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    pred = predict_on_sampler(net, np.full((1, 4), 0.5), sampler=make_sampler("fake_manila"), shots=4, seed=0)
    assert pred.mode == "layerwise" and pred.shot_classes.shape == (1, 4)


def test_huge_preactivations_are_refused_by_every_execution_and_moderate_ones_agree():
    """The issue's case: inputs near 1e307 gave P(+1) = 0.975 on the fast path and 0.155 on Aer. Now every
    execution refuses them; an angle of about 2e4 rad gives one law everywhere: 4,000 passes on the fast path
    and on Aer (layer by layer) within 4.5 sigma of the exact P(+1) = (1 + sin(0.7 pi)) / 2 = 0.905."""
    from qiskit_natural_qnn.circuits.angles import input_angles
    from qiskit_natural_qnn.exact import exact_distribution

    net = NaturalQNN(layer_sizes=[2, 1, 2], a=1.0, stretch="linear", seed=0, dtype=torch.float64)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    huge = np.array([[1e307, 1e307]])
    refused = r"beyond MAX_ANGLE = 2\*\*24 \* pi"
    runs = [
        lambda: predict(net, huge, shots=5, seed=0),
        lambda: net.sample(huge, shots=5, seed=0),
        lambda: exact_distribution(net, huge[0]),
        lambda: input_angles(net, huge),
        lambda: predict_on_sampler(net, huge, sampler=AerSampler(), shots=5, mode="layerwise", seed=0),
        lambda: predict_on_sampler(net, huge, sampler=AerSampler(), shots=5, mode="dynamic", seed=0),
    ]
    for run in runs:
        with pytest.raises(InputError, match=refused):
            run()
    x = np.array([[12345.4, 0.0]])  # angle pi/2 * 12345.4 = 6172.7 pi
    p = (1 + math.sin(0.7 * math.pi)) / 2
    assert exact_distribution(net, x[0])[((0,),)] == pytest.approx(p, abs=1e-9)
    fast = float((predict(net, np.repeat(x, 400, axis=0), shots=10, seed=1, return_hidden=True).hidden[0] == 1).mean())
    aer = predict_on_sampler(net, x, sampler=AerSampler(), shots=4000, mode="layerwise", seed=2)
    on_aer = float((aer.hidden[0] == 1).mean())
    for freq in (fast, on_aer):
        assert abs(freq - p) < 4.5 * math.sqrt(p * (1 - p) / 4000)


def test_aer_samplers_run_wide_layers_with_matrix_product_state():
    """A 16-neuron Method 2 layer packed 8 times is a 256-qubit circuit: never a statevector."""
    net = _net([8, 16, 16, 4], a=0.5, g=math.pi / 4)
    images = np.random.default_rng(5).uniform(size=(3, 8))
    pred = predict_on_sampler(net, images, sampler=AerSampler(), shots=10, mode="layerwise", seed=6)
    assert pred.hidden[0].shape == (3, 10, 16)
    from qiskit_natural_qnn.execution import LayerwiseExecutor

    executor = LayerwiseExecutor(net, AerSampler(), copies="auto")
    assert executor.copies_for(1) == 8 and executor.circuit(1, 8).circuit.num_qubits == 256
