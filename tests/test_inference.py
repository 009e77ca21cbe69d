"""Tests of shots, majority vote and error rates (qiskit_natural_qnn.inference)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.inference import Evaluation, Prediction, evaluate, majority_vote, predict
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.schedule import carried_angle

from .stats import binomial_tolerance


def _toy_data(n: int = 60, n_inputs: int = 12, n_classes: int = 4, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    images = rng.random((n, n_inputs), dtype=np.float32)
    labels = rng.integers(0, n_classes, n).astype(np.int64)
    return Dataset(images, labels, "toy")


# ------------------------------------------------------------------------------------ majority_vote
def test_majority_vote_hand_computed_example() -> None:
    shots = np.array(
        [
            [2, 2, 1, 0, 2],  # 2 wins with 3 votes
            [1, 3, 3, 1, 0],  # 1 and 3 tie at 2 -> 1
            [4, 4, 4, 4, 4],  # unanimous
            [0, 1, 2, 3, 4],  # five-way tie -> 0
            [3, 4, 4, 3, 1],  # 3 and 4 tie at 2 -> 3
        ]
    )
    majority, counts = majority_vote(shots, n_classes=5)
    assert majority.tolist() == [2, 1, 4, 0, 3]
    assert counts.tolist() == [
        [1, 1, 3, 0, 0],
        [1, 2, 0, 2, 0],
        [0, 0, 0, 0, 5],
        [1, 1, 1, 1, 1],
        [0, 1, 0, 2, 2],
    ]
    assert majority.dtype == np.int64 and counts.dtype == np.int64


def test_majority_vote_ties_go_to_smallest_class_index() -> None:
    # every pair of classes (i < j) tied 2-2 must vote i, whichever order the shots come in
    for i in range(4):
        for j in range(i + 1, 4):
            for row in ([i, j, i, j], [j, i, j, i], [j, j, i, i]):
                majority, _ = majority_vote(np.array([row]), n_classes=4)
                assert majority[0] == i


def test_majority_vote_counts_sum_to_shots() -> None:
    rng = np.random.default_rng(3)
    shots = rng.integers(0, 10, size=(200, 15))
    majority, counts = majority_vote(shots, n_classes=10)
    assert counts.shape == (200, 10)
    assert (counts.sum(axis=1) == 15).all()
    # the majority has the maximal count and no smaller index has as many votes
    top = counts.max(axis=1)
    assert (counts[np.arange(200), majority] == top).all()
    for row, m in zip(counts, majority):
        assert (row[:m] < row[m]).all()


@pytest.mark.parametrize(
    ("shots", "n_classes", "error", "match"),
    [
        (np.array([[0, 1, 5]]), 5, InputError, r"shot_classes must lie in \[0, 5\), found 5"),
        (np.array([[0, -1]]), 3, InputError, r"shot_classes must lie in \[0, 3\), found -1"),
        (np.array([0, 1]), 3, InputError, r"2-D integer array"),
        (np.array([[0.0, 1.0]]), 3, InputError, r"2-D integer array"),
        (np.zeros((2, 0), dtype=int), 3, InputError, r"no shots"),
        (np.array([[0]]), 0, ConfigurationError, r"n_classes must be an int >= 1, got 0"),
    ],
)
def test_majority_vote_rejects_bad_input(shots, n_classes, error, match) -> None:
    with pytest.raises(error, match=match):
        majority_vote(shots, n_classes=n_classes)


# -------------------------------------------------------------------------------------------- predict
def test_predict_shapes_and_hidden_activations() -> None:
    net = NaturalQNN(layer_sizes=[12, 7, 5, 4], a=0.5, seed=0)
    data = _toy_data(n=23)
    pred = predict(net, data.images, shots=6, seed=1, batch_size=10, return_hidden=True)
    assert isinstance(pred, Prediction)
    assert pred.shot_classes.shape == (23, 6) and pred.shot_classes.dtype == np.int64
    assert pred.vote_counts.shape == (23, 4)
    assert pred.majority.shape == (23,)
    assert pred.hidden is not None and [h.shape for h in pred.hidden] == [(23, 6, 7), (23, 6, 5)]
    for h in pred.hidden:
        assert h.dtype == np.int8 and set(np.unique(h).tolist()) <= {-1, 1}
    assert ((pred.shot_classes >= 0) & (pred.shot_classes < 4)).all()
    assert predict(net, data.images, shots=2, seed=1).hidden is None


def test_predict_hidden_matches_shot_classes() -> None:
    """The returned last hidden layer reproduces the shot classes through the output weights."""
    net = NaturalQNN(layer_sizes=[12, 9, 9, 3], a=0.7, seed=4, dtype=torch.float64)
    data = _toy_data(n=17)
    pred = predict(net, data.images, shots=5, seed=2, batch_size=4, return_hidden=True)
    w_out = net.layers[-1].weight.detach().numpy()
    logits = pred.hidden[-1].astype(np.float64) @ w_out.T
    np.testing.assert_array_equal(logits.argmax(axis=-1), pred.shot_classes)


def test_predict_same_seed_same_prediction_different_seed_different() -> None:
    net = NaturalQNN(layer_sizes=[12, 16, 16, 4], a=1.0, seed=0)
    images = _toy_data(n=40).images
    first = predict(net, images, shots=9, seed=123)
    again = predict(net, images, shots=9, seed=123)
    other = predict(net, images, shots=9, seed=124)
    np.testing.assert_array_equal(first.shot_classes, again.shot_classes)
    assert not np.array_equal(first.shot_classes, other.shot_classes)
    # a NumPy generator is a seed too, and is consumed (the next call differs)
    rng = np.random.default_rng(5)
    a = predict(net, images, shots=9, seed=rng)
    b = predict(net, images, shots=9, seed=rng)
    c = predict(net, images, shots=9, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(a.shot_classes, c.shot_classes)
    assert not np.array_equal(a.shot_classes, b.shot_classes)


def test_predict_without_seed_uses_the_networks_stream() -> None:
    images = _toy_data(n=30).images
    one = predict(NaturalQNN(layer_sizes=[12, 16, 4], a=1.0, seed=7), images, shots=5)
    net = NaturalQNN(layer_sizes=[12, 16, 4], a=1.0, seed=7)
    two = predict(net, images, shots=5)
    three = predict(net, images, shots=5)  # the stream has moved on
    np.testing.assert_array_equal(one.shot_classes, two.shot_classes)
    assert not np.array_equal(two.shot_classes, three.shot_classes)


def test_predict_one_stream_across_batches() -> None:
    """Batches continue one stream: no two batches of identical images repeat the same draws."""
    net = NaturalQNN(layer_sizes=[12, 32, 4], a=2.0, seed=0)
    images = np.repeat(_toy_data(n=8).images, 4, axis=0)  # 4 identical blocks of 8 images
    pred = predict(net, images, shots=7, seed=0, batch_size=8)
    blocks = pred.shot_classes.reshape(4, 8, 7)
    assert not any(np.array_equal(blocks[0], blocks[k]) for k in range(1, 4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shots": 0}, r"shots must be an int >= 1, got 0; pass e\.g\. shots=15"),
        ({"shots": 2.5}, r"shots must be an int >= 1, got 2\.5"),
        ({"shots": True}, r"shots must be an int >= 1, got True"),
        ({"batch_size": 0}, r"batch_size must be an int >= 1, got 0; pass e\.g\. batch_size=1024"),
    ],
)
def test_predict_rejects_bad_settings(kwargs, match) -> None:
    net = NaturalQNN(layer_sizes=[12, 4, 4], seed=0)
    with pytest.raises(ConfigurationError, match=match):
        predict(net, np.zeros((2, 12)), **kwargs)


def test_predict_rejects_bad_images() -> None:
    net = NaturalQNN(layer_sizes=[12, 4, 4], seed=0)
    with pytest.raises(InputError, match=r"images must have shape \(n, 12\), got \(2, 11\)"):
        predict(net, np.zeros((2, 11)))
    with pytest.raises(InputError, match=r"no images: got shape \(0, 12\)"):
        predict(net, np.zeros((0, 12)))
    with pytest.raises(InputError, match="NaN or infinity"):
        predict(net, np.full((2, 12), np.nan))


# ------------------------------------------------------------------------------------------- evaluate
def _deterministic_errors(net: NaturalQNN, images: np.ndarray, labels: np.ndarray) -> float:
    """Classical network in NumPy: d = sgn(W h) with sgn(0) = -1, logits = W_out d_L."""
    h = images.astype(np.float64)
    weights = [w.detach().numpy().astype(np.float64) for w in net.weights()]
    for w in weights[:-1]:
        h = np.where(h @ w.T > 0, 1.0, -1.0)
    return float(((h @ weights[-1].T).argmax(axis=1) != labels).mean())


def test_evaluate_classical_network_is_exact() -> None:
    net = NaturalQNN(layer_sizes=[12, 10, 10, 4], a=0.0, seed=2, dtype=torch.float64)
    data = _toy_data(n=200, seed=1)
    expected = _deterministic_errors(net, data.images, data.labels)
    ev = evaluate(net, data, shots=5, seed=0, batch_size=64)
    assert isinstance(ev, Evaluation)
    assert ev.single_shot_error == expected
    assert ev.vote_error == expected
    assert (ev.shots, ev.n_images) == (5, 200)
    assert 0.0 < expected < 1.0  # the check is not vacuous


def test_evaluate_accepts_pair_and_matches_predict() -> None:
    net = NaturalQNN(layer_sizes=[12, 16, 4], a=0.8, seed=3)
    data = _toy_data(n=50)
    ev = evaluate(net, (data.images, data.labels), shots=11, seed=9)
    pred = predict(net, data.images, shots=11, seed=9)
    assert ev.single_shot_error == pytest.approx((pred.shot_classes != data.labels[:, None]).mean())
    assert ev.vote_error == pytest.approx((pred.majority != data.labels).mean())
    assert ev == evaluate(net, data, shots=11, seed=9)
    # stochastic net: single passes disagree, so the single-shot error is not a multiple of 1/n
    assert ev.single_shot_error * 50 != round(ev.single_shot_error * 50)


def test_evaluate_rejects_bad_data() -> None:
    net = NaturalQNN(layer_sizes=[12, 4, 3], seed=0)
    images = np.zeros((4, 12), dtype=np.float32)
    with pytest.raises(InputError, match=r"no images"):
        evaluate(net, (np.zeros((0, 12)), np.zeros(0, dtype=np.int64)))
    with pytest.raises(InputError, match=r"labels must lie in \[0, 3\) for a network with 3 outputs, found 3"):
        evaluate(net, (images, np.array([0, 1, 2, 3])))
    with pytest.raises(InputError, match=r"labels must lie in \[0, 3\).*found -1"):
        evaluate(net, (images, np.array([0, -1, 2, 1])))
    with pytest.raises(InputError, match=r"labels must have shape \(4,\)"):
        evaluate(net, (images, np.array([0, 1])))
    with pytest.raises(InputError, match=r"labels must be integers"):
        evaluate(net, (images, np.array([0.0, 1.0, 2.0, 1.0])))
    with pytest.raises(InputError, match=r"Dataset or an \(images, labels\) pair"):
        evaluate(net, images)


def test_evaluate_stochastic_vote_beats_single_shot_on_a_learnable_task() -> None:
    """A hand-built net where each pass is right with probability > 1/2: voting helps."""
    # one input, 8 hidden neurons, 2 classes; z = +-0.3 per neuron, a = 1 so P(d = sign(z)) ~ 0.73
    net = NaturalQNN(layer_sizes=[1, 8, 2], a=1.0, seed=0, dtype=torch.float64)
    with torch.no_grad():
        net.layers[0].weight.fill_(0.3)
        net.layers[1].weight.copy_(torch.tensor([[1.0] * 8, [-1.0] * 8]))
    images = np.ones((400, 1))
    labels = np.zeros(400, dtype=np.int64)
    ev = evaluate(net, (images, labels), shots=15, seed=0)
    p = (1 + math.sin(math.pi / 2 * math.tanh(0.3))) / 2
    # class 0 wins when more than 4 of 8 neurons say +1 (a 4-4 tie gives equal logits -> class 0)
    from math import comb

    p_right = sum(comb(8, k) * p**k * (1 - p) ** (8 - k) for k in range(4, 9))
    assert ev.single_shot_error == pytest.approx(1 - p_right, abs=0.02)
    assert ev.vote_error < ev.single_shot_error / 3


def test_predict_refuses_preactivations_that_overflow_to_nan_or_inf() -> None:
    """Finite inputs whose W x overflows: ``inf - inf`` (NaN, or ``inf`` under a fused multiply-add) and a
    single huge product (``inf``) are both refused, so the answer does not depend on the CPU's kernel."""
    net = NaturalQNN(layer_sizes=[4, 6, 3], a=0.5, seed=0)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[3.0, 3.0, -3.0, -3.0]] * 6))
    inf_minus_inf = np.full((2, 4), 3e38, dtype=np.float32)
    one_inf = np.array([[3e38, 0.0, 0.0, 0.0]], dtype=np.float32)
    for images in (inf_minus_inf, one_inf):
        for seed in (0, None):
            with pytest.raises(
                InputError,
                match=r"pre-activations of hidden layer 1 are not finite: W x overflowed "
                r"torch\.float32 \(to inf or NaN, depending on the CPU's kernels\); "
                r"scale the inputs",
            ):
                predict(net, images, shots=2, seed=seed)
        with pytest.raises(InputError, match=r"are not finite"):
            net.sample(torch.as_tensor(images), shots=2, seed=0)
    # the same magnitude in a float64 network is finite and accepted
    net64 = NaturalQNN(layer_sizes=[4, 6, 3], a=0.5, seed=0, dtype=torch.float64)
    with torch.no_grad():
        net64.layers[0].weight.copy_(torch.tensor([[3.0, 3.0, -3.0, -3.0]] * 6, dtype=torch.float64))
    pred = predict(net64, one_inf.astype(np.float64), shots=5, seed=0, return_hidden=True)
    assert (pred.hidden[0] == 1).all()


def test_predict_refuses_bool_complex_and_string_images() -> None:
    net = NaturalQNN(layer_sizes=[3, 4, 2], seed=0)
    for images in (
        np.ones((2, 3), dtype=bool),
        np.ones((2, 3), dtype=np.complex64),
        np.array([["1", "2", "3"]]),
        torch.ones(2, 3, dtype=torch.bool),
    ):
        with pytest.raises(InputError, match=r"images must be real numbers, got dtype .*; pass a float array"):
            predict(net, images, shots=1, seed=0)


def test_a_float32_overflow_is_refused_by_the_circuits_as_by_the_fast_path() -> None:
    """The circuits compute W x in float64, but a float32 network's W x beyond its range is inf on the fast
    path: both executions refuse the same input (and a float64 network accepts it in both)."""
    from qiskit_natural_qnn.circuits import input_angles

    x = np.array([[2e38, 0.0, 0.0, 0.0]])
    for dtype, refused in ((torch.float32, True), (torch.float64, False)):
        net = NaturalQNN(layer_sizes=[4, 6, 3], a=0.5, seed=0, dtype=dtype)
        with torch.no_grad():
            net.layers[0].weight.copy_(torch.tensor([[3.0, 0.0, 0.0, 0.0]] * 6, dtype=dtype))
        runs = (lambda n=net: predict(n, x.astype(np.float32), shots=2, seed=0), lambda n=net: input_angles(n, x))
        for run in runs:
            if refused:
                with pytest.raises(InputError, match=r"not finite: W x overflowed torch\.float32"):
                    run()
            else:
                run()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kw", [dict(a=0.5), dict(a=0.0, g=math.pi / 4)])
def test_counter_based_passes_of_float16_and_bfloat16_networks(dtype, kw):
    # A narrow network compares its probabilities with float32 counter-based uniforms; the outcomes go
    # on in the network's dtype (they were float32, and the next layer's product refused them). The
    # passes are seeded and batch-invariant, and each first-layer neuron is +1 with its exact
    # probability: 5 images x 8 neurons x 4,000 shots, seed 1, 5 standard errors plus one count (a
    # comparison the wrong way round gives 1 - p and fails).
    shots = 4000
    net = NaturalQNN(layer_sizes=[6, 8, 8, 3], seed=0, dtype=dtype, **kw)
    x = torch.rand(5, 6, generator=torch.Generator().manual_seed(0))
    whole = predict(net, x, shots=shots, seed=1, return_hidden=True)
    batched = predict(net, x, shots=shots, seed=1, batch_size=2, return_hidden=True)
    assert np.array_equal(whole.shot_classes, batched.shot_classes)
    assert all(np.array_equal(a, b) for a, b in zip(whole.hidden, batched.hidden))
    z = torch.nn.functional.linear(x.to(dtype), net.weights()[0].detach())
    neuron = net.neuron
    if neuron.measurement.is_projective:
        p = neuron.stretch.prob_plus(z)
    else:
        p = neuron.measurement.prob_plus(carried_angle(neuron.stretch(z)))
    p = p.double().numpy()
    freq = (whole.hidden[0] == 1).mean(axis=1)
    assert np.all(np.abs(freq - p) <= binomial_tolerance(p, shots))
