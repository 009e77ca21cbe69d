"""The fast path samples the exact statistics; STE gradients; the classical limit; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qiskit_natural_qnn import ConfigurationError, InputError, NaturalQNN, fastpath
from qiskit_natural_qnn.exact import exact_class_distribution, exact_distribution
from qiskit_natural_qnn.fastpath import CarriedState, sample_layer, sample_network
from qiskit_natural_qnn.inference import predict
from qiskit_natural_qnn.neurons import Measurement, MeasurementStack, Stretch, StretchStack, uniform_kernels
from qiskit_natural_qnn.randomness import make_generator
from qiskit_natural_qnn.schedule import LayerSchedule, carried_angle

from .stats import binomial_tolerance, chi2_pvalue, counts_of, total_variation

# Every distribution test: N_SHOTS passes, a fixed seed, and reject at p < P_MIN (chi-square).
N_SHOTS = 40_000
P_MIN = 1e-4


def _net(sizes, *, seed, scale=1.0, **kw) -> NaturalQNN:
    net = NaturalQNN(layer_sizes=sizes, seed=seed, dtype=torch.float64, **kw)
    with torch.no_grad():
        for w in net.weights():
            w.mul_(scale)
    return net


def _outcomes(net: NaturalQNN, x: np.ndarray, shots: int, seed: int):
    fp = net.sample(torch.as_tensor(x)[None, :], shots=shots, seed=seed)
    bits = [((1 - d[:, 0, :]) / 2).to(torch.int64).numpy() for d in fp.activations]
    return [tuple(tuple(int(b) for b in layer[s]) for layer in bits) for s in range(shots)]


CASES = [
    # (layer sizes, spec kwargs, weight scale): Method 1 with every stretch, Method 2, combined.
    ([3, 2, 2, 2], dict(a=0.5, stretch="tanh"), 1.5),
    ([3, 3, 2, 2], dict(a=0.8, stretch="hardtanh"), 1.0),
    ([3, 2, 3, 2], dict(a=0.6, stretch="linear"), 1.0),
    ([3, 3, 3, 3, 2], dict(a=0.0, g=math.pi / 4), 1.2),
    ([3, 2, 2, 2, 2], dict(a=0.0, g=5 * math.pi / 19), 1.0),
    ([3, 3, 3, 2], dict(a=0.4, stretch="tanh", g=0.6), 1.3),
    ([3, 2, 2, 2, 2], dict(a=0.7, stretch="hardtanh", g=1.0, weak_update="authors_arcsin"), 2.0),
    ([4, 3, 2], dict(a=1.0, g=0.3), 1.0),  # one hidden layer: always measured strongly
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_fastpath_joint_outcomes_match_exact_distribution(case):
    sizes, kw, scale = CASES[case]
    net = _net(sizes, seed=100 + case, scale=scale, **kw)
    x = np.random.default_rng(case).uniform(0, 1, sizes[0])
    exact = exact_distribution(net, x)
    assert sum(exact.values()) == pytest.approx(1.0, abs=1e-12)
    counts = counts_of(_outcomes(net, x, N_SHOTS, seed=7 + case))
    assert chi2_pvalue(counts, exact) > P_MIN


def test_distribution_test_rejects_a_wrong_model():
    """The chi-square check above can fail: samples of a = 0.5 against the exact law of a = 0.65."""
    net = _net([3, 2, 2, 2], seed=100, scale=1.5, a=0.5)
    wrong = _net([3, 2, 2, 2], seed=100, scale=1.5, a=0.65)
    x = np.random.default_rng(0).uniform(0, 1, 3)
    counts = counts_of(_outcomes(net, x, N_SHOTS, seed=7))
    assert chi2_pvalue(counts, exact_distribution(wrong, x)) < P_MIN


def test_method2_at_projective_g_equals_method1():
    m1 = _net([3, 3, 3, 3, 2], seed=5, a=0.5)
    m2 = _net([3, 3, 3, 3, 2], seed=5, a=0.5, g=math.pi / 2 - 1e-9)
    assert m2.neuron.measurement.is_projective is False
    x = np.array([0.2, 0.9, 0.4])
    e1, e2 = exact_distribution(m1, x), exact_distribution(m2, x)
    assert total_variation({k: int(round(v * 1e9)) for k, v in e1.items()}, e2) < 1e-6


def test_authors_arcsin_changes_the_distribution_on_some_networks():
    """docs/model.md, "Measurement": the arcsin form loses the sign of cos(phi/2) and shifts the law.

    (At a = 0 every angle is a multiple of pi and both forms agree, so a > 0 here.)
    """
    worst = 0.0
    for seed in range(10):
        kw = dict(a=0.7, g=math.pi / 3)
        circ = _net([3, 3, 3, 3, 2], seed=seed, **kw)
        auth = _net([3, 3, 3, 3, 2], seed=seed, weak_update="authors_arcsin", **kw)
        x = np.random.default_rng(seed).uniform(0, 1, 3)
        e1, e2 = exact_distribution(circ, x), exact_distribution(auth, x)
        worst = max(worst, 0.5 * sum(abs(e1.get(k, 0) - e2.get(k, 0)) for k in set(e1) | set(e2)))
    assert 0.01 < worst < 0.5


@pytest.mark.parametrize("kind", ["tanh", "hardtanh", "linear"])
def test_single_neuron_frequencies_match_closed_form(kind):
    """One hidden layer of 41 neurons with z on a grid: each frequency within 5 binomial sigmas."""
    a, n = 0.7, 50_000
    z = torch.linspace(-1.5, 1.5, 41, dtype=torch.float64)
    w = [torch.diag(z), torch.ones(1, 41, dtype=torch.float64)]
    from qiskit_natural_qnn.neurons import Measurement, Neuron, Stretch

    neuron = Neuron(stretch=Stretch(a=a, kind=kind), measurement=Measurement())
    x = torch.ones(n, 41, dtype=torch.float64)
    fp = sample_network(x, w, [None, None], neuron, generator=make_generator(3))
    freq = (fp.activations[0] > 0).double().mean(0).numpy()
    p = neuron.stretch.prob_plus(z.numpy())
    assert np.all(np.abs(freq - p) <= binomial_tolerance(p, n))
    # and a wrong stretch would be caught on the same samples
    p_wrong = Stretch(a=a * 1.3, kind=kind).prob_plus(z.numpy())
    assert np.any(np.abs(freq - p_wrong) > binomial_tolerance(p_wrong, n))


@pytest.mark.parametrize("kind", ["tanh", "hardtanh", "sgn"])
def test_classical_limit_is_exactly_the_sign_network(kind):
    net = NaturalQNN(layer_sizes=[20, 16, 16, 16, 5], a=0.0, stretch=kind, seed=3)
    assert net.spec.is_classical
    x = torch.rand(50, 20, generator=torch.Generator().manual_seed(1))
    fp = net.sample(x, shots=4, seed=9)
    h = x.numpy().astype(np.float64)
    for k, w in enumerate(net.weights()[:-1]):
        z = h @ w.detach().double().numpy().T
        h = np.where(z > 0, 1.0, -1.0)
        for s in range(4):
            np.testing.assert_array_equal(fp.activations[k][s].numpy(), h)
    logits = h @ net.weights()[-1].detach().double().numpy().T
    np.testing.assert_allclose(fp.logits[0].numpy(), logits, rtol=1e-5, atol=1e-5)
    probs = exact_class_distribution(net, x[0])
    assert probs.max() == 1.0


@pytest.mark.parametrize(
    "kw", [dict(a=0.5), dict(a=0.0, g=math.pi / 4), dict(a=0.3, stretch="hardtanh", g=1.0, bias=True)]
)
def test_ste_gradient_equals_numpy_reference(kw):
    net = NaturalQNN(layer_sizes=[6, 5, 5, 5, 3], seed=2, dtype=torch.float64, **kw)
    with torch.no_grad():
        for w in net.weights():
            w.mul_(2.0)  # put some pre-activations outside (-1, 1)
    x = torch.rand(8, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    r = torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fp = net.forward_pass(x, generator=make_generator(4))
    (fp.logits * r).sum().backward()

    W = [w.detach().numpy() for w in net.weights()]
    acts = [d.numpy() for d in fp.activations]
    zs = [z.detach().numpy() for z in fp.preactivations]
    hs = [x.numpy(), *acts]
    assert any(((np.abs(z) >= 1).any() and (np.abs(z) < 1).any()) for z in zs)
    grads = [None] * len(W)
    bgrads = [None] * len(W)
    delta = r.numpy()  # dL/dlogits
    grads[-1] = delta.T @ hs[-1]
    bgrads[-1] = delta.sum(0)
    for k in range(len(W) - 2, -1, -1):
        dd = delta @ W[k + 1]
        delta = dd * ((zs[k] > -1) & (zs[k] < 1))
        grads[k] = delta.T @ hs[k]
        bgrads[k] = delta.sum(0)
    for k, layer in enumerate(net.layers):
        np.testing.assert_allclose(layer.weight.grad.numpy(), grads[k], atol=1e-12)
        if layer.bias is not None:
            np.testing.assert_allclose(layer.bias.grad.numpy(), bgrads[k], atol=1e-12)


def test_sampling_is_seeded_and_shots_are_independent():
    net = NaturalQNN(layer_sizes=[5, 8, 8, 3], a=1.0, seed=0)
    x = torch.rand(4, 5)
    a1 = net.sample(x, shots=30, seed=11).activations[1]
    a2 = net.sample(x, shots=30, seed=11).activations[1]
    a3 = net.sample(x, shots=30, seed=12).activations[1]
    assert torch.equal(a1, a2) and not torch.equal(a1, a3)
    assert not torch.equal(a1[0], a1[1])


def test_initialisation_is_kaiming_normal_fan_in():
    net = NaturalQNN(layer_sizes=[784, 512, 10], seed=0)
    w = net.weights()[0].detach().numpy()
    assert w.std() == pytest.approx(1 / math.sqrt(784), rel=0.02)
    assert abs(w.mean()) < 0.001
    assert all(layer.bias is None for layer in net.layers)
    same = NaturalQNN(layer_sizes=[784, 512, 10], seed=0)
    assert torch.equal(same.weights()[0], net.weights()[0])


def test_forward_preserves_leading_batch_dimensions():
    net = NaturalQNN(layer_sizes=[5, 4, 3], a=0.5, seed=0)
    assert net(torch.rand(2, 3, 5)).shape == (2, 3, 3)
    assert net(torch.rand(1, 5)).shape == (1, 3)


# ------------------------------------------------------ the first layer once per image, not per shot
SHARED_FIRST_LAYER = [
    dict(a=0.5, stretch="tanh"),
    dict(a=2.0, stretch="hardtanh"),
    dict(a=50.0, stretch="linear"),
    dict(a=0.0, g=math.pi / 4),
    dict(a=0.3, stretch="tanh", g=1.0),
    dict(a=0.0, g=math.pi / 5, weak_update="authors_arcsin"),
]


def _first_layer(neuron, zd, u, width, shape=None):
    """``sample_layer`` of the first hidden layer (of two) on ``zd`` with uniforms ``u``: outcomes and state."""
    schedule = LayerSchedule(hidden_sizes=(width, width), neuron=neuron)
    state = CarriedState()
    d = sample_layer(
        zd,
        lambda: u,
        stretch=neuron.stretch,
        measurement=schedule.measurement(1),
        deterministic=neuron.is_classical,
        carries_state=schedule.carries_state,
        carries_after=schedule.carries_after(1),
        state=state,
        shape=shape,
    )
    return d, state


def _per_shot_probability(neuron, z, width):
    """The first layer's P(+1) computed on every shot's copy (the reference the shared path must equal)."""
    schedule = LayerSchedule(hidden_sizes=(width, width), neuron=neuron)
    if not schedule.carries_state:
        return neuron.stretch.prob_plus(z)
    return schedule.measurement(1).readout(carried_angle(neuron.stretch(z)))[0]


@pytest.mark.parametrize("kw", SHARED_FIRST_LAYER)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("rows", "width"), [(8, 16), (3, 5)])
def test_first_layer_probabilities_once_per_image_equal_every_shots_bit_for_bit(kw, dtype, rows, width):
    # A pass's shots share the first layer's pre-activations (sample_layer's ``shape``). Where one copy
    # fills whole vector blocks (8 x 16 values), sample_layer computes the probabilities (and Method 2's
    # angles) once per image; they must equal, bit for bit, those computed on every shot's copy. The
    # uniforms sit exactly on each probability (outcome -1) and one float below it (outcome +1), so a
    # probability one bit off flips an outcome. 3 x 5 values take the per-shot path.
    neuron = NaturalQNN(layer_sizes=[6, width, width, 3], seed=0, dtype=dtype, **kw).neuron
    gen = torch.Generator().manual_seed(rows)
    z = (torch.randn(rows, width, generator=gen, dtype=torch.float64) * 1.5).to(dtype)
    z[0, :4] = torch.tensor([0.0, -0.0, 1e-30, -1e-30], dtype=dtype)
    shape = torch.Size([8, rows, width])
    full = z.expand(shape).contiguous()
    assert uniform_kernels(rows * width, dtype) == (rows == 8)  # which path each case takes
    p = _per_shot_probability(neuron, full, width)
    for u, expected in ((p, -1.0), (torch.nextafter(p, torch.zeros_like(p)), 1.0)):
        d_shared, s_shared = _first_layer(neuron, z, u, width, shape=shape)
        d_full, s_full = _first_layer(neuron, full, u, width)
        assert d_shared.shape == shape and torch.equal(d_shared, d_full)
        assert torch.equal(d_shared[p > 0], torch.full_like(d_shared[p > 0], expected))
        for a, b in ((s_shared.phi, s_full.phi), (s_shared.m, s_full.m)):
            assert (a is None) == (b is None)
            if a is not None:
                assert a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("kw", [SHARED_FIRST_LAYER[0], SHARED_FIRST_LAYER[3]])
def test_passes_are_the_same_with_and_without_the_shared_first_layer(kw, monkeypatch):
    # Both kinds of randomness: the network's stream (sample) and counter-based draws (predict).
    net = NaturalQNN(layer_sizes=[20, 16, 16, 16, 4], seed=1, **kw)
    x = torch.rand(24, 20, generator=torch.Generator().manual_seed(2))
    shared = net.sample(x, shots=7, seed=5)
    counted = predict(net, x, shots=7, seed=5, return_hidden=True)
    monkeypatch.setattr(fastpath, "uniform_kernels", lambda numel, dtype: False)  # every shot's copy
    per_shot = net.sample(x, shots=7, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(shared.activations, per_shot.activations))
    assert torch.equal(shared.logits, per_shot.logits)
    again = predict(net, x, shots=7, seed=5, return_hidden=True)
    assert np.array_equal(counted.shot_classes, again.shot_classes)
    assert all(np.array_equal(a, b) for a, b in zip(counted.hidden, again.hidden))


def test_a_stack_of_networks_on_shared_preactivations_keeps_each_networks_law():
    # A stack's leading axis holds its networks, each with its own constants: the same pre-activations
    # for two stretches (stride 0 on that axis) are not a pass's shots, and each network keeps its own law.
    stack = StretchStack(stretches=(Stretch(a=0.5), Stretch(a=4.0)))
    z = torch.randn(3, 32, generator=torch.Generator().manual_seed(0))
    zd = z.unsqueeze(0).expand(2, 3, 32)
    u = torch.rand(2, 3, 32, generator=torch.Generator().manual_seed(1))
    measurement = MeasurementStack(measurements=(Measurement(), Measurement()))
    d = sample_layer(
        zd,
        lambda: u,
        stretch=stack,
        measurement=measurement,
        deterministic=False,
        carries_state=False,
        carries_after=False,
        state=CarriedState(),
    )
    for k, stretch in enumerate(stack.stretches):
        assert torch.equal(d[k], torch.where(u[k] < stretch.prob_plus(z), 1.0, -1.0))


# --------------------------------------------------------------------------- bad input
def test_bad_network_configurations():
    with pytest.raises(
        ConfigurationError,
        match=r"layer_sizes needs an input size, at least one hidden width and an output size, got \[784, 10\]",
    ):
        NaturalQNN(layer_sizes=[784, 10])
    with pytest.raises(ConfigurationError, match=r"layer_sizes must hold positive ints, got \[784, 0, 10\]"):
        NaturalQNN(layer_sizes=[784, 0, 10])
    with pytest.raises(
        ConfigurationError, match=r"all hidden widths must be equal, got \[16, 8\]; use equal widths or g=math.pi/2"
    ):
        NaturalQNN(layer_sizes=[784, 16, 8, 10], g=0.5)
    with pytest.raises(ConfigurationError, match=r"g must lie in \[0, pi/2\], got 2\.0"):
        NaturalQNN(layer_sizes=[4, 3, 2], g=2.0)
    with pytest.raises(ConfigurationError, match=r"a must be finite and >= 0, got -0\.5"):
        NaturalQNN(layer_sizes=[4, 3, 2], a=-0.5)
    with pytest.raises(ConfigurationError, match=r"unknown stretch function 'relu'"):
        NaturalQNN(layer_sizes=[4, 3, 2], stretch="relu")


def test_bad_inputs_raise_input_error():
    net = NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, seed=0)
    with pytest.raises(
        InputError, match=r"inputs must have shape \(batch, 4\), got \(2, 5\); flatten each image to 4 values"
    ):
        net(torch.rand(2, 5))
    with pytest.raises(InputError, match=r"inputs contain NaN or infinity"):
        net(torch.tensor([[0.0, float("nan"), 0.0, 0.0]]))
    with pytest.raises(InputError, match=r"inputs contain NaN or infinity"):
        net.sample(np.array([[0.0, np.inf, 0.0, 0.0]]))
    with pytest.raises(InputError, match=r"empty batch: got inputs of shape \(0, 4\)"):
        net(torch.zeros(0, 4))
    with pytest.raises(ConfigurationError, match=r"shots must be an int >= 1, got 0; pass e\.g\. shots=15"):
        net.sample(torch.rand(1, 4), shots=0)
    with torch.no_grad():
        net.layers[0].weight[0, 0] = float("inf")
    with pytest.raises(InputError, match=r"parameter 0 of the network holds NaN or infinity"):
        net.sample(torch.rand(1, 4))
