"""The qiskit-machine-learning NeuralNetwork, TorchConnector and nn.Module paths of a natural QNN.

Equality tests run in float64 on fixed seeds: the NeuralNetwork path must reproduce the nn.Module
path (and the core fast path) exactly in its outputs and to 1e-9 in its Jacobians, which are checked
entry by entry against autograd. TorchConnector casts everything to float32 internally, so its
comparisons use float32 tolerances (rtol 1e-5, atol 1e-6).
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import pytest
import torch
from qiskit.primitives import BaseSamplerV2, StatevectorSampler
from qiskit_aer.primitives import SamplerV2 as AerSampler

pytest.importorskip("qiskit_machine_learning", reason="the [ml] extra (qiskit-machine-learning) is not installed")

from qiskit_machine_learning.connectors import TorchConnector  # noqa: E402
from qiskit_machine_learning.exceptions import QiskitMachineLearningError  # noqa: E402
from torch import nn  # noqa: E402

from qiskit_natural_qnn import ConfigurationError, ExecutionError, InputError, NaturalQNN  # noqa: E402
from qiskit_natural_qnn.exact import exact_class_distribution, exact_distribution  # noqa: E402
from qiskit_natural_qnn.fastpath import sample_network  # noqa: E402
from qiskit_natural_qnn.ml import (  # noqa: E402
    LayerwiseSamplerForward,
    NaturalQNNModule,
    NaturalQNNNetwork,
    flatten_weights,
    load_weights,
    num_weights,
    torch_connector,
    unflatten_weights,
    weight_layout,
)
from qiskit_natural_qnn.randomness import make_generator  # noqa: E402

from .stats import chi2_pvalue, counts_of  # noqa: E402

SEED = 11
F32_TOL = dict(rtol=1e-5, atol=1e-6)

SPECS = [
    # (id, layer sizes, spec kwargs, network kwargs)
    ("method1-tanh", [6, 5, 5, 3], dict(a=0.5), {}),
    ("method1-hardtanh-bias", [6, 5, 4, 3], dict(a=0.7, stretch="hardtanh", bias=True), {}),
    ("method2-carry", [6, 4, 4, 4, 3], dict(a=0.4, g=0.6), {}),
    ("classical", [6, 5, 5, 3], dict(a=0.0), {}),
    ("shots3", [6, 5, 5, 3], dict(a=0.5, g=1.0), dict(shots=3)),
    # The expected-activation surrogate: backward must use the model's surrogate, not the hard-tanh mask.
    ("expected-linear", [6, 5, 5, 3], dict(a=0.7, stretch="linear", surrogate="expected"), {}),
    ("expected-method2-shots2", [6, 4, 4, 4, 3], dict(a=0.6, g=0.8, surrogate="expected"), dict(shots=2)),
]


def _model(sizes, *, seed=3, scale=1.5, dtype=torch.float64, **kw) -> NaturalQNN:
    """A network whose weights are float32-representable and large enough that some |z| > 1."""
    model = NaturalQNN(layer_sizes=sizes, seed=seed, dtype=dtype, **kw)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.mul_(scale)
            if layer.bias is not None:
                layer.bias.copy_(torch.rand(layer.bias.shape, generator=gen, dtype=dtype) - 0.5)
        for p in model.parameters():
            p.copy_(p.float().to(dtype))
    return model


def _inputs(shape, *, seed=0, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=gen).to(dtype)  # float32-representable


def _module_logits(model: NaturalQNN, x: torch.Tensor, shots: int, seed: int = SEED) -> torch.Tensor:
    """The nn.Module path: what NaturalQNNNetwork(model, seed=seed, shots=shots) must reproduce."""
    gen = make_generator(seed)
    if shots == 1:
        return model(x, generator=gen)
    return model(x.expand(shots, *x.shape), generator=gen).mean(dim=0)


def _param_grads(model: NaturalQNN) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


# ------------------------------------------------------------------------------------------------
# Equality of the NeuralNetwork path, the nn.Module path and the core fast path (float64)


@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_forward_equals_module_and_fastpath_exactly(spec):
    _, sizes, kw, net_kw = spec
    model = _model(sizes, **kw)
    x = _inputs((5, sizes[0]))
    shots = net_kw.get("shots", 1)
    net = NaturalQNNNetwork(model, seed=SEED, **net_kw)
    out_net = net.forward(x.numpy(), net.initial_weights)
    with torch.no_grad():
        out_module = _module_logits(model, x, shots)
        xs = x if shots == 1 else x.expand(shots, *x.shape)
        fp = sample_network(xs, model.weights(), model.biases(), model.neuron, generator=make_generator(SEED))
        out_fast = fp.logits if shots == 1 else fp.logits.mean(dim=0)
    assert out_net.dtype == np.float64 and out_net.shape == (5, sizes[-1])
    np.testing.assert_array_equal(out_net, out_module.numpy())
    np.testing.assert_array_equal(out_net, out_fast.numpy())


@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_backward_jacobians_equal_autograd_entry_by_entry(spec):
    """Every entry of both Jacobians against autograd through the core's HardTanhSurrogate."""
    _, sizes, kw, net_kw = spec
    model = _model(sizes, **kw)
    x = _inputs((4, sizes[0]))
    shots = net_kw.get("shots", 1)
    net = NaturalQNNNetwork(model, seed=SEED, **net_kw)
    net.forward(x.numpy(), net.initial_weights)
    jac_x, jac_w = net.backward(x.numpy(), net.initial_weights)
    n_out = sizes[-1]
    assert jac_x.shape == (4, n_out, sizes[0]) and jac_w.shape == (4, n_out, net.num_weights)
    for row in range(4):
        for o in range(n_out):
            # Replay the same stochastic passes (same seed) and differentiate one logit.
            model.zero_grad()
            xr = x.clone().requires_grad_(True)
            logits = _module_logits(model, xr, shots)
            logits[row, o].backward()
            np.testing.assert_allclose(jac_w[row, o], _param_grads(model).numpy(), rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(jac_x[row, o], xr.grad[row].numpy(), rtol=1e-9, atol=1e-12)
            assert float(xr.grad[[r for r in range(4) if r != row]].abs().max()) == 0.0
    # The masks 1[-1 < z < 1] must be exercised both ways for the check to mean anything.
    with torch.no_grad():
        fp = sample_network(x, model.weights(), model.biases(), model.neuron, generator=make_generator(SEED))
    masks = torch.cat([((z > -1) & (z < 1)).reshape(-1) for z in fp.preactivations])
    assert bool(masks.any()) and not bool(masks.all())


def test_ste_jacobian_matches_a_numpy_reference():
    """One hidden layer: dy_o/dW1[i,j] = W_out[o,i] 1[-1<z_i<1] x_j, dy_o/dW_out[o',i] = [o=o'] d_i."""
    model = _model([5, 6, 3], a=0.5, scale=2.0)
    x = _inputs((7, 5), seed=4)
    net = NaturalQNNNetwork(model, seed=SEED)
    net.forward(x.numpy(), None)  # None: the model's own weights
    jac_x, jac_w = net.backward(x.numpy(), None)
    w1, w_out = (w.detach().numpy() for w in model.weights())
    with torch.no_grad():
        fp = sample_network(x, model.weights(), model.biases(), model.neuron, generator=make_generator(SEED))
    z, d = fp.preactivations[0].numpy(), fp.activations[0].numpy()
    inside = ((z > -1) & (z < 1)).astype(float)
    assert 0 < inside.mean() < 1
    g = w_out[None, :, :] * inside[:, None, :]  # (n, out, hidden): dy_o / dz_i
    ref_w1 = g[:, :, :, None] * x.numpy()[:, None, None, :]
    ref_wout = np.einsum("op,ni->nopi", np.eye(3), d)
    ref = np.concatenate([ref_w1.reshape(7, 3, -1), ref_wout.reshape(7, 3, -1)], axis=-1)
    np.testing.assert_allclose(jac_w, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jac_x, np.einsum("noi,ij->noj", g, w1), rtol=1e-12, atol=1e-14)


def test_seed_none_shares_the_models_stream():
    model = _model([6, 5, 5, 3], a=0.5)
    x = _inputs((3, 6))
    model.reseed(5)
    expected = model(x).detach().numpy()
    model.reseed(5)
    np.testing.assert_array_equal(NaturalQNNNetwork(model).forward(x.numpy(), None), expected)


# ------------------------------------------------------------------------------------------------
# TorchConnector (float32 inside qiskit-machine-learning)


@pytest.mark.parametrize("spec", SPECS, ids=[s[0] for s in SPECS])
def test_torch_connector_outputs_and_gradients_equal_module(spec):
    _, sizes, kw, net_kw = spec
    model = _model(sizes, **kw)
    shots = net_kw.get("shots", 1)
    x = _inputs((2, 3, sizes[0]))  # two batch dimensions, preserved by both paths
    upstream = _inputs((2, 3, sizes[-1]), seed=9) - 0.5

    xm = x.clone().requires_grad_(True)
    out_m = _module_logits(model, xm, shots)
    (out_m * upstream).sum().backward()

    connector = torch_connector(model, seed=SEED, **net_kw)
    xc = x.float().requires_grad_(True)
    out_c = connector(xc)
    (out_c * upstream.float()).sum().backward()

    assert out_c.shape == out_m.shape == (2, 3, sizes[-1])
    torch.testing.assert_close(out_c.double(), out_m.detach(), **F32_TOL)
    torch.testing.assert_close(xc.grad.double(), xm.grad, **F32_TOL)
    torch.testing.assert_close(connector.weight.grad.double(), _param_grads(model), **F32_TOL)
    assert float(xm.grad.abs().max()) > 0 and float(connector.weight.grad.abs().max()) > 0


@pytest.mark.parametrize("stretch", ["linear", "tanh"])
def test_torch_connector_trains_with_the_models_surrogate(stretch):
    """Regression: the TorchConnector path ignored ``model.surrogate`` and always used the hard-tanh mask.

    On the same sampled outcomes (same seed), the connector's input and weight gradients must equal those
    of the model's own forward with ``surrogate="expected"``, and differ from the hard-tanh ones.
    """
    model = _model([6, 5, 5, 3], a=0.7, stretch=stretch, surrogate="expected")
    hard = copy.deepcopy(model)
    hard.surrogate = "hardtanh"
    x = _inputs((8, 6))
    upstream = _inputs((8, 3), seed=9) - 0.5

    def module_grads(net: NaturalQNN) -> tuple[torch.Tensor, torch.Tensor]:
        net.zero_grad()
        xm = x.clone().requires_grad_(True)
        (_module_logits(net, xm, 1) * upstream).sum().backward()
        return xm.grad, _param_grads(net)

    connector = torch_connector(model, seed=SEED)
    xc = x.float().requires_grad_(True)
    (connector(xc) * upstream.float()).sum().backward()
    got_x, got_w = xc.grad.double(), connector.weight.grad.double()

    expected_x, expected_w = module_grads(model)
    hard_x, hard_w = module_grads(hard)
    torch.testing.assert_close(got_x, expected_x, **F32_TOL)
    torch.testing.assert_close(got_w, expected_w, **F32_TOL)
    assert float((got_w - hard_w).abs().max()) > 1e-2 and float((got_x - hard_x).abs().max()) > 1e-2


def test_torch_connector_starts_from_the_models_weights_and_leaves_it_alone():
    model = _model([6, 5, 5, 3], a=0.5, bias=True, dtype=torch.float32)
    before = flatten_weights(model)
    connector = torch_connector(model, seed=SEED)
    np.testing.assert_array_equal(connector.weight.detach().numpy(), before.astype(np.float32))
    opt = torch.optim.SGD(connector.parameters(), lr=0.1)
    loss = connector(_inputs((8, 6), dtype=torch.float32)).pow(2).sum()
    loss.backward()
    opt.step()
    np.testing.assert_array_equal(flatten_weights(model), before)  # the connector owns its weights
    assert not np.array_equal(connector.weight.detach().numpy(), before.astype(np.float32))


def test_trained_connector_weights_come_back_as_a_natural_qnn():
    model = _model([6, 5, 5, 3], a=0.5, dtype=torch.float32)
    connector = torch_connector(model, seed=SEED)
    opt = torch.optim.SGD(connector.parameters(), lr=0.05, momentum=0.9)
    x = _inputs((16, 6), dtype=torch.float32)
    y = torch.arange(16) % 3
    for _ in range(5):
        opt.zero_grad()
        nn.functional.cross_entropy(connector(x), y).backward()
        opt.step()
    network = connector.neural_network
    trained = network.to_model(connector.weight)
    assert isinstance(trained, NaturalQNN) and trained is not model
    np.testing.assert_array_equal(flatten_weights(trained), connector.weight.detach().numpy())
    # Same weights and seed: the trained module and the connector draw identical passes.
    network.reseed(21)
    with torch.no_grad():
        np.testing.assert_array_equal(trained(x, generator=make_generator(21)).numpy(), connector(x).numpy())
    # to_model copies; load_weights updates the wrapped model in place, without sharing memory.
    assert not np.array_equal(flatten_weights(model), flatten_weights(trained))
    assert network.load_weights(connector.weight) is model
    np.testing.assert_array_equal(flatten_weights(model), flatten_weights(trained))
    with torch.no_grad():
        connector.weight.add_(1.0)
    np.testing.assert_array_equal(flatten_weights(model), flatten_weights(trained))


def test_input_gradients_default_on_and_off_when_asked():
    model = _model([6, 5, 5, 3], a=0.5)
    assert NaturalQNNNetwork(model).input_gradients is True
    off = NaturalQNNNetwork(model, seed=SEED, input_gradients=False)
    x = _inputs((4, 6)).numpy()
    off.forward(x, None)
    jac_x, jac_w = off.backward(x, None)
    assert jac_x is None and jac_w.shape == (4, 3, off.num_weights)
    fresh = NaturalQNNNetwork(model, seed=SEED, input_gradients=False)
    connector = TorchConnector(fresh, initial_weights=fresh.initial_weights)
    xc = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    connector(xc).sum().backward()
    assert xc.grad is None and connector.weight.grad is not None


# ------------------------------------------------------------------------------------------------
# The STE cache: backward differentiates the forward it belongs to, never a new sample


def test_backward_without_matching_forward_raises():
    model = _model([6, 5, 5, 3], a=0.5)
    net = NaturalQNNNetwork(model, seed=SEED)
    x = _inputs((4, 6)).numpy()
    none_of_8 = r"backward received inputs \(4 rows\) and weights that match none of the last 8 forward calls"
    with pytest.raises(InputError, match=none_of_8):
        net.backward(x, None)
    net.forward(x, None)
    other = net.initial_weights + 0.01
    with pytest.raises(InputError, match=none_of_8 + r"; .* call forward\(input_data, weights\) first"):
        net.backward(x, other)
    with pytest.raises(InputError, match=r"match none"):
        net.backward(x + 0.01, None)


def test_backward_uses_the_cached_pass_of_its_own_forward():
    model = _model([6, 5, 5, 3], a=0.5)
    net = NaturalQNNNetwork(model, seed=SEED)
    x1, x2 = _inputs((4, 6), seed=1).numpy(), _inputs((4, 6), seed=2).numpy()
    net.forward(x1, None)
    net.forward(x2, None)  # a second call in between (e.g. a validation batch)
    jac1 = net.backward(x1, None)
    jac1_again = net.backward(x1, None)  # retain_graph-style second backward: same passes
    np.testing.assert_array_equal(jac1[1], jac1_again[1])
    fresh = NaturalQNNNetwork(model, seed=SEED)
    fresh.forward(x1, None)
    np.testing.assert_array_equal(jac1[1], fresh.backward(x1, None)[1])


def test_two_passes_of_identical_inputs_and_weights_are_refused_at_backward():
    model = _model([6, 5, 5, 3], a=0.5, dtype=torch.float32)
    connector = torch_connector(model, seed=SEED)
    x = _inputs((4, 6), dtype=torch.float32)
    loss = connector(x).sum() + connector(x).sum()  # forward-only repeats are fine ...
    ambiguous = r"that two forward calls sampled independently; .*\(shots=S averages S passes"
    with pytest.raises(InputError, match=ambiguous):
        loss.backward()  # ... but their gradients cannot be told apart


def test_cache_size_bounds_what_backward_can_find():
    model = _model([6, 5, 5, 3], a=0.5)
    net = NaturalQNNNetwork(model, seed=SEED, cache_size=2)
    xs = [_inputs((2, 6), seed=s).numpy() for s in range(3)]
    for x in xs:
        net.forward(x, None)
    net.backward(xs[2], None)
    with pytest.raises(InputError, match=r"match none of the last 2 forward calls; .* raise cache_size"):
        net.backward(xs[0], None)


# ------------------------------------------------------------------------------------------------
# Shapes and typed errors


def test_batch_of_one_and_of_many():
    model = _model([6, 5, 5, 3], a=0.5, dtype=torch.float32)
    net = NaturalQNNNetwork(model, seed=SEED)
    one = _inputs((6,)).numpy()
    assert net.forward(one, None).shape == (1, 3)
    jac_x, jac_w = net.backward(one, None)
    assert jac_x.shape == (1, 3, 6) and jac_w.shape == (1, 3, net.num_weights)
    assert net.forward(one[None, :], None).shape == (1, 3)
    many = _inputs((257, 6)).numpy()
    assert net.forward(many, None).shape == (257, 3)
    assert net.backward(many, None)[1].shape == (257, 3, net.num_weights)
    connector = torch_connector(model, seed=SEED)
    x1 = torch.tensor(one, requires_grad=True)
    out = connector(x1)
    assert out.shape == (3,)
    out.sum().backward()
    assert x1.grad.shape == (6,)


def test_module_keeps_leading_batch_dimensions():
    model = NaturalQNNModule(layer_sizes=[784, 16, 16, 10], a=0.5, seed=0)
    assert NaturalQNNModule is NaturalQNN
    x = _inputs((2, 3, 784), dtype=torch.float32)
    out = model(x, generator=make_generator(1))
    assert out.shape == (2, 3, 10)
    flat = model(x.reshape(6, 784), generator=make_generator(1))
    torch.testing.assert_close(out.reshape(6, 10), flat, rtol=0, atol=0)


def test_module_is_a_plain_torch_module():
    model = NaturalQNNModule(layer_sizes=[6, 5, 5, 3], a=0.5, bias=True, seed=0)
    assert (
        [name for name, _ in model.named_parameters()]
        == [name for name, _ in weight_layout(model)]
        == [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "layers.1.bias",
            "layers.2.weight",
            "layers.2.bias",
        ]
    )
    clone = NaturalQNNModule(layer_sizes=[6, 5, 5, 3], a=0.5, bias=True, seed=1)
    clone.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(flatten_weights(clone), flatten_weights(model))
    model64 = model.to(torch.float64)
    assert model64.layers[0].weight.dtype == torch.float64
    assert model64(_inputs((2, 6))).dtype == torch.float64


@pytest.mark.parametrize("bad", [np.zeros((4, 5)), np.zeros((2, 3, 7)), np.zeros(5)])
def test_wrong_input_width_is_a_typed_error(bad):
    model = _model([6, 5, 5, 3], a=0.5)
    net = NaturalQNNNetwork(model, seed=SEED)
    shape = re_shape(bad.shape)
    msg = rf"inputs must have shape \(batch, 6\), got {shape}; flatten each image to 6 values"
    with pytest.raises(InputError, match=msg):
        net.forward(bad, None)
    with pytest.raises(InputError, match=msg):
        net.backward(bad, None)
    with pytest.raises(InputError, match=msg):
        model(torch.as_tensor(bad))
    # TorchConnector checks the width itself, before calling the network, with its own error.
    with pytest.raises(QiskitMachineLearningError, match=r"Invalid input dimension"):
        torch_connector(model)(torch.as_tensor(bad, dtype=torch.float32))


def re_shape(shape: tuple[int, ...]) -> str:
    return r"\(" + r", ".join(str(s) for s in shape) + (r",\)" if len(shape) == 1 else r"\)")


def test_bad_inputs_weights_and_settings_are_typed_errors():
    model = _model([6, 5, 5, 3], a=0.5)
    net = NaturalQNNNetwork(model, seed=SEED)
    x = _inputs((2, 6)).numpy()
    with pytest.raises(InputError, match=r"inputs contain NaN or infinity"):
        net.forward(np.full((2, 6), np.nan), None)
    with pytest.raises(InputError, match=r"empty batch: got inputs of shape \(0, 6\)"):
        net.forward(np.zeros((0, 6)), None)
    wrong_length = r"weights must hold 70 values \(every weight and bias of a \[6, 5, 5, 3\] network\), got 69"
    with pytest.raises(InputError, match=wrong_length):
        net.forward(x, np.zeros(69))
    with pytest.raises(InputError, match=r"weights contain NaN or infinity"):
        net.forward(x, np.full(70, np.inf))
    with pytest.raises(InputError, match=r"weights must hold 70 values"):
        net.to_model(np.zeros(3))
    with pytest.raises(ConfigurationError, match=r"model must be a NaturalQNN, got Linear"):
        NaturalQNNNetwork(nn.Linear(2, 2))
    with pytest.raises(ConfigurationError, match=r"shots must be an int >= 1, got 0; pass e.g. shots=1"):
        NaturalQNNNetwork(model, shots=0)
    with pytest.raises(ConfigurationError, match=r"sampler must be a qiskit BaseSamplerV2, got str"):
        NaturalQNNNetwork(model, sampler="aer")
    with pytest.raises(ConfigurationError, match=r"pass_manager only applies to sampler-backed passes"):
        NaturalQNNNetwork(model, pass_manager=object())


def test_weight_vector_order_and_round_trip():
    model = _model([6, 5, 4, 3], a=0.5, bias=True)
    vec = flatten_weights(model)
    assert vec.shape == (num_weights(model),) == (6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3,)
    np.testing.assert_array_equal(vec, torch.nn.utils.parameters_to_vector(model.parameters()).detach().numpy())
    assert vec[6 * 5 + 5 + 2 * 5 + 3] == model.layers[1].weight[2, 3]  # W_2[i, j] at offset + i*fan_in + j
    weights, biases = unflatten_weights(model, vec)
    for w, b, layer in zip(weights, biases, model.layers):
        assert torch.equal(w, layer.weight) and torch.equal(b, layer.bias)
    other = _model([6, 5, 4, 3], a=0.5, bias=True, seed=9)
    assert load_weights(other, vec) is other
    np.testing.assert_array_equal(flatten_weights(other), vec)


# ------------------------------------------------------------------------------------------------
# Sampler-backed passes: layer circuits on Aer agree in distribution with the fast path


class FreshSeedAerSampler(BaseSamplerV2):
    """Aer's SamplerV2 with a new seed per job: reproducible, yet layers are not correlated.

    (A fixed-seed Aer sampler replays the same random stream on every job, i.e. on every layer.)
    """

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def run(self, pubs, *, shots=None):
        return AerSampler(seed=int(self._rng.integers(2**31))).run(pubs, shots=shots)


# Every distribution test below: N_PASSES passes of one fixed input, fixed seeds, reject at p < P_MIN.
N_PASSES = 4000
P_MIN = 1e-4
SAMPLER_CASES = [
    ("method1", dict(a=0.5)),  # two projective layers
    ("method2", dict(a=0.4, g=math.pi / 4)),  # weak layer 1 (RZY + ancilla), strong layer 2, state carried
]


def _tiny(**kw) -> tuple[NaturalQNN, torch.Tensor]:
    return _model([3, 2, 2, 2], seed=5, **kw), torch.tensor([0.2, 0.7, 0.4], dtype=torch.float64)


def _joint(fp) -> list:
    bits = [((1 - d) / 2).to(torch.int64).reshape(-1, d.shape[-1]).tolist() for d in fp.activations]
    return [tuple(tuple(layer[s]) for layer in bits) for s in range(len(bits[0]))]


def _homogeneity_pvalue(a: dict, b: dict) -> float:
    from scipy.stats import chi2_contingency

    keys = sorted(set(a) | set(b))
    table = np.array([[a.get(k, 0) for k in keys], [b.get(k, 0) for k in keys]])
    table = table[:, table.sum(axis=0) >= 10]  # drop near-empty cells (chi-square validity)
    return float(chi2_contingency(table).pvalue)


@pytest.mark.parametrize("case", SAMPLER_CASES, ids=[c[0] for c in SAMPLER_CASES])
def test_aer_layer_circuits_match_fastpath_in_distribution(case):
    _, kw = case
    model, x = _tiny(**kw)
    exact = exact_distribution(model, x)
    xs = x.expand(N_PASSES, 3)
    aer = LayerwiseSamplerForward(model, FreshSeedAerSampler(1)).forward_pass(xs)
    with torch.no_grad():
        fast = sample_network(xs, model.weights(), model.biases(), model.neuron, generator=make_generator(2))
    aer_counts, fast_counts = counts_of(_joint(aer)), counts_of(_joint(fast))
    assert chi2_pvalue(aer_counts, exact) > P_MIN
    assert chi2_pvalue(fast_counts, exact) > P_MIN
    assert _homogeneity_pvalue(aer_counts, fast_counts) > P_MIN
    torch.testing.assert_close(aer.preactivations[0], fast.preactivations[0], rtol=0, atol=0)
    # The same check must reject wrong semantics: the same bits read in the wrong neuron order ...
    swapped = counts_of(tuple(layer[::-1] for layer in o) for o in _joint(aer))
    assert chi2_pvalue(swapped, exact) < P_MIN
    # ... or read as the wrong activation (bit 1 -> +1).
    flipped = counts_of(tuple(tuple(1 - b for b in layer) for layer in o) for o in _joint(aer))
    assert chi2_pvalue(flipped, exact) < P_MIN


def test_method2_without_state_carry_is_rejected():
    """Power check: Method 2 circuits that forgot the carried neuron state would be caught."""
    model, x = _tiny(a=0.4, g=math.pi / 4)
    exact = exact_distribution(model, x)
    no_carry = _model([3, 2, 2, 2], seed=5, a=0.4)  # same weights, every layer fresh and projective
    xs = x.expand(N_PASSES, 3)
    wrong = LayerwiseSamplerForward(no_carry, FreshSeedAerSampler(3)).forward_pass(xs)
    assert chi2_pvalue(counts_of(_joint(wrong)), exact) < P_MIN


@pytest.mark.parametrize("case", SAMPLER_CASES, ids=[c[0] for c in SAMPLER_CASES])
def test_network_on_aer_predicts_classes_like_the_fastpath(case):
    """Through NaturalQNNNetwork: predicted-class frequencies, Aer vs fast path vs exact."""
    _, kw = case
    model, x = _tiny(**kw)
    exact = exact_class_distribution(model, x)
    rows = np.tile(x.numpy(), (N_PASSES, 1))
    aer_net = NaturalQNNNetwork(model, sampler=FreshSeedAerSampler(4))
    fast_net = NaturalQNNNetwork(model, seed=5)
    aer_pred = aer_net.forward(rows, None).argmax(axis=1)
    fast_pred = fast_net.forward(rows, None).argmax(axis=1)
    probs = {c: float(p) for c, p in enumerate(exact)}
    assert 0.05 < exact[0] < 0.95  # both classes occur: the test has power
    assert chi2_pvalue(counts_of(aer_pred.tolist()), probs) > P_MIN
    assert chi2_pvalue(counts_of(fast_pred.tolist()), probs) > P_MIN
    assert _homogeneity_pvalue(counts_of(aer_pred.tolist()), counts_of(fast_pred.tolist())) > P_MIN
    # backward differentiates the sampler's own passes
    jac_x, jac_w = aer_net.backward(rows, None)
    assert jac_x.shape == (N_PASSES, 2, 3) and jac_w.shape == (N_PASSES, 2, aer_net.num_weights)


def test_sampler_and_fastpath_agree_exactly_on_the_classical_network():
    """a = 0, g = pi/2: every outcome is certain, so outputs and gradients must be identical."""
    model = _model([6, 5, 5, 3], a=0.0)
    x = _inputs((6, 6)).numpy()
    on_sampler = NaturalQNNNetwork(model, sampler=StatevectorSampler(seed=np.random.default_rng(0)))
    on_fastpath = NaturalQNNNetwork(model, seed=SEED)
    np.testing.assert_array_equal(on_sampler.forward(x, None), on_fastpath.forward(x, None))
    for a, b in zip(on_sampler.backward(x, None), on_fastpath.backward(x, None)):
        np.testing.assert_array_equal(a, b)


def test_sampler_mean_of_shots_and_pass_manager():
    """shots > 1 on a sampler, with the layer circuits transpiled to a fake device's gate set."""
    from qiskit.providers.fake_provider import GenericBackendV2
    from qiskit.transpiler import generate_preset_pass_manager

    backend = GenericBackendV2(num_qubits=4, basis_gates=["rz", "sx", "x", "cx"], seed=1)
    pm = generate_preset_pass_manager(optimization_level=1, backend=backend)
    model, x = _tiny(a=0.4, g=math.pi / 4)
    net = NaturalQNNNetwork(model, sampler=FreshSeedAerSampler(6), shots=500, pass_manager=pm)
    out = net.forward(x.numpy(), None)
    # The mean logits over 500 passes approach the exact expected logits.
    expected = sum(
        p * (model.weights()[-1].detach().numpy() @ (1.0 - 2.0 * np.asarray(o[-1])))
        for o, p in exact_distribution(model, x).items()
    )
    spread = np.abs(model.weights()[-1].detach().numpy()).sum(axis=1)  # logits lie in [-spread, spread]
    np.testing.assert_allclose(out[0], expected, atol=float(5 * spread.max() / math.sqrt(500)))
    for layer in (1, 2):
        circuit = net.sampler_forward.circuit(layer).circuit
        assert set(circuit.count_ops()) <= {"rz", "sx", "x", "cx", "measure", "barrier"}
    assert "cx" in net.sampler_forward.circuit(1).circuit.count_ops()  # layer 1 is weak: RZY was transpiled


def test_sampler_failure_is_an_execution_error():
    class Broken(BaseSamplerV2):
        def run(self, pubs, *, shots=None):
            raise RuntimeError("device offline")

    net = NaturalQNNNetwork(_model([3, 2, 2, 2], a=0.5), sampler=Broken())
    failed = r"the sampler job for hidden layer 1 failed \(RuntimeError: device offline\)"
    with pytest.raises(ExecutionError, match=failed):
        net.forward(np.zeros((1, 3)), None)


# ------------------------------------------------------------------------------------------------
# A hybrid model trains through TorchConnector


@pytest.mark.slow
def test_hybrid_conv_front_end_trains_through_torch_connector():
    from qiskit_natural_qnn.data import load_default

    split = load_default()
    n_train, n_val = 1000, 1000
    x_train = torch.as_tensor(split.train.images[:n_train]).reshape(-1, 1, 28, 28)
    y_train = torch.as_tensor(split.train.labels[:n_train])
    x_val = torch.as_tensor(split.validation.images[:n_val]).reshape(-1, 1, 28, 28)
    y_val = torch.as_tensor(split.validation.labels[:n_val])
    start = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the front end's initialisation
        front_end = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=5, stride=2), nn.ReLU(),
            nn.Conv2d(8, 16, kernel_size=5, stride=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(16 * 4 * 4, 64), nn.Tanh(),
        )  # fmt: skip
    qnn = NaturalQNN(layer_sizes=[64, 32, 32, 10], a=0.5, seed=1)
    model = nn.Sequential(front_end, torch_connector(qnn, seed=2))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(3)

    def val_error() -> float:
        with torch.no_grad():
            return float((model(x_val).argmax(dim=1) != y_val).float().mean())

    initial = val_error()
    for _ in range(3):
        for idx in torch.randperm(n_train, generator=order).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
            opt.step()
    final = val_error()
    elapsed = time.perf_counter() - start
    assert initial > 0.7  # chance level is 0.9
    assert final < 0.3, f"single-shot validation error {final:.3f} after 3 epochs (chance 0.9)"
    assert elapsed < 60, f"took {elapsed:.1f} s"
    # The front end learned too: gradients reached it through TorchConnector's input gradients.
    assert front_end[0].weight.grad is not None and float(front_end[0].weight.grad.abs().max()) > 0
    trained = model[1].neural_network.to_model(model[1].weight)
    assert not np.array_equal(flatten_weights(trained), flatten_weights(qnn))
