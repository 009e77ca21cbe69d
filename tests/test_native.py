"""Hardware-native training (qiskit_natural_qnn.native) and the surrogates (qiskit_natural_qnn.surrogates).

Statistics (fixed seeds, every run reproducible):

* Width 16, Aer ``matrix_product_state``: the single dynamic circuit (``linear`` construction) of a
  natively trained 784-16-16-16-10 network, ``SHOTS_MPS = 20,000`` shots for one validation image,
  against ``FAST = 200,000`` fast-path passes: every neuron's marginal of hidden layers 2 and 3
  within 5 standard errors of the difference (plus one count), and pair correlations
  ``E[d_i d_j]`` of the last hidden layer within ``5 sqrt(1/SHOTS_MPS + 1/FAST)``.
* Width 3: the joint outcome distribution of the dynamic circuit on Aer (8,000 shots) against the
  exact distribution, Pearson chi-square, pass at ``p >= 1e-4``.
* The L1 constraint: hypothesis draws weights, scales, learning rates and radii; after every
  optimizer step of ``fit`` every row's L1 norm (bias included) is at most the radius within 1e-6
  relative (in fact within 1e-13, the float64 sum of the stored values).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qiskit_natural_qnn import ConfigurationError, NaturalQNN
from qiskit_natural_qnn.circuits import bind_inputs, check_exact, dynamic_circuit, outcome_counts
from qiskit_natural_qnn.cli.options import add_native_arguments, native_setup_from_args
from qiskit_natural_qnn.data import Dataset, load_default, take
from qiskit_natural_qnn.exact import exact_distribution
from qiskit_natural_qnn.fastpath import sample_network
from qiskit_natural_qnn.io import load_model, save_model
from qiskit_natural_qnn.native import L1RowConstraint, native_config, project_rows_l1_, rows_l1
from qiskit_natural_qnn.network import QuantizationSpec
from qiskit_natural_qnn.neurons import Neuron, Stretch
from qiskit_natural_qnn.surrogates import (
    SURROGATES,
    ExpectedSurrogate,
    HardTanhSurrogate,
    Surrogate,
    expected_slope,
    get_surrogate,
)
from qiskit_natural_qnn.training import TrainConfig, fit
from qiskit_natural_qnn.transpile import resource_report, transpile_for_target, validate_for_target

from .stats import chi2_pvalue, total_variation

SHOTS_MPS = 20_000
FAST = 200_000
ALPHA = 1e-4


# ------------------------------------------------------------------------------------- projection
def _reference_projection(v: np.ndarray, radius: float) -> np.ndarray:
    """Projection onto the L1 ball by bisection on the threshold (independent of the sort-based code)."""
    out = v.copy()
    for i, row in enumerate(v):
        if np.abs(row).sum() <= radius:
            continue
        lo, hi = 0.0, np.abs(row).max()
        for _ in range(200):
            tau = 0.5 * (lo + hi)
            if np.clip(np.abs(row) - tau, 0, None).sum() > radius:
                lo = tau
            else:
                hi = tau
        out[i] = np.sign(row) * np.clip(np.abs(row) - 0.5 * (lo + hi), 0, None)
    return out


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 40),
    scale=st.floats(1e-3, 50.0),
    radius=st.floats(1e-2, 10.0),
    with_bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_projection_matches_bisection_reference(rows, cols, scale, radius, with_bias, seed) -> None:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols)) * scale
    w[rng.random((rows, cols)) < 0.2] = 0.0  # ties and zeros
    b = rng.standard_normal(rows) * scale if with_bias else None
    wt = torch.tensor(w)
    bt = torch.tensor(b) if b is not None else None
    project_rows_l1_(wt, bt, radius=radius)
    full = np.concatenate([w, b[:, None]], axis=1) if b is not None else w
    ref = _reference_projection(full, radius)
    got = np.concatenate([wt.numpy(), bt.numpy()[:, None]], axis=1) if bt is not None else wt.numpy()
    np.testing.assert_allclose(got, ref, atol=1e-9 * max(1.0, radius))
    assert (rows_l1(wt, bt).numpy() <= radius * (1 + 1e-12)).all()
    inside = np.abs(full).sum(axis=1) <= radius
    assert np.array_equal(got[inside], full[inside])  # rows already inside are untouched


@settings(max_examples=40, deadline=None)
@given(
    width=st.sampled_from([3, 16, 100, 512]),
    scale=st.floats(0.01, 100.0),
    radius=st.floats(1e-3, 5.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_float32_projection_is_within_radius_exactly(width, scale, radius, seed) -> None:
    """Float32 round-off never leaves a row above the radius (float64 sum of the stored values, 1e-13 relative)."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn((8, width), generator=gen) * scale
    b = torch.randn(8, generator=gen) * scale
    project_rows_l1_(w, b, radius=radius)
    assert w.dtype == torch.float32
    assert bool((rows_l1(w, b) <= radius * (1 + 1e-13)).all())


def test_projection_example_and_errors() -> None:
    w = torch.tensor([[3.0, -1.0, 0.5], [0.1, 0.2, -0.3]])
    project_rows_l1_(w, radius=1.0)
    assert w.tolist()[0] == [1.0, 0.0, 0.0] and torch.allclose(w[1], torch.tensor([0.1, 0.2, -0.3]))
    with pytest.raises(
        ConfigurationError,
        match=r"^radius must be finite and > 0, got 0\.0; pass the stretch a \(e\.g\. radius=0\.5\)$",
    ):
        project_rows_l1_(w, radius=0.0)
    with pytest.raises(ConfigurationError, match=r"^radius must be a real number > 0, got 'a'"):
        project_rows_l1_(w, radius="a")
    with pytest.raises(ConfigurationError, match=r"^bias must have shape \(2,\) to match weight \(2, 3\), got \(3,\)$"):
        project_rows_l1_(w, torch.zeros(3), radius=1.0)


# ---------------------------------------------------------------------------- the constraint in fit
def _toy(n: int = 48, n_inputs: int = 10, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_inputs), dtype=np.float32)
    y = (x[:, : n_inputs // 2].sum(1) > x[:, n_inputs // 2 :].sum(1)).astype(np.int64)
    return Dataset(x, y, "toy")


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    init_scale=st.floats(0.1, 20.0),
    lr=st.floats(1e-3, 2.0),
    a=st.floats(0.05, 3.0),
    margin=st.sampled_from([0.0, 0.1]),
    bias=st.booleans(),
    surrogate=st.sampled_from(["hardtanh", "expected"]),
)
def test_constraint_holds_after_every_optimizer_step(seed, init_scale, lr, a, margin, bias, surrogate) -> None:
    setup = native_config(
        kind="hardtanh-l1", layer_sizes=[10, 6, 5, 4, 2], a=a, margin=margin, bias=bias, surrogate=surrogate, seed=seed
    )
    model, (constraint,) = setup.model, setup.step_hooks
    with torch.no_grad():  # start far outside the ball: the hook before training must bring it back
        for p in model.parameters():
            p.mul_(init_scale).add_(0.1)
    calls = []

    def check(m: NaturalQNN) -> None:
        radius = a * (1 - margin)
        for layer in m.layers[1:-1]:
            assert bool((rows_l1(layer.weight, layer.bias) <= radius * (1 + 1e-6)).all())
        assert constraint.holds(m, rel_tol=1e-6)
        calls.append(1)

    data = _toy(seed=seed % 7)
    fit(
        model,
        data,
        config=TrainConfig(epochs=2, batch_size=8, lr=lr, seed=0),
        progress=False,
        step_hooks=[constraint, check],
    )
    assert len(calls) == 1 + 2 * math.ceil(48 / 8)  # once before training, then after every step
    assert check_exact(model, "linear").exact


def test_violating_network_is_reported_not_exact() -> None:
    setup = native_config(kind="hardtanh-l1", layer_sizes=[5, 4, 4, 4, 2], a=0.5, seed=3)
    net = setup.model
    assert check_exact(net, "linear").exact
    reasons = check_exact(net, "linear").reasons
    assert reasons[0].startswith("hidden layer 2: max_i (sum_j |W_ij| + |b_i|) = ")
    assert reasons[0].endswith("<= a = 0.5, so hardtanh never saturates and equals z/a on every bit pattern")
    with torch.no_grad():
        net.layers[2].weight[1].mul_(3.0)  # one row of hidden layer 3 leaves the ball
    report = check_exact(net, "linear")
    assert not report.exact
    assert report.reasons[1].startswith(
        "hidden layer 3: 1 neuron(s) can saturate (neuron 1 has sum_j |W_ij| + |b_i| = "
    )
    assert not setup.step_hooks[0].holds(net)
    setup.step_hooks[0](net)
    assert check_exact(net, "linear").exact and setup.step_hooks[0].holds(net)


def test_l1_constraint_radius_and_errors() -> None:
    net = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.8, stretch="hardtanh", seed=0)
    assert L1RowConstraint().radius(net) == 0.8
    assert L1RowConstraint(a=2.0, margin=0.25).radius(net) == 1.5
    with pytest.raises(
        ConfigurationError, match=r"^margin must be a number in \[0, 1\), got 1\.0; pass e\.g\. margin=0\.0$"
    ):
        L1RowConstraint(margin=1.0)
    with pytest.raises(ConfigurationError, match=r"^radius must be finite and > 0, got -1\.0"):
        L1RowConstraint(a=-1.0)
    classical = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.0, seed=0)
    with pytest.raises(
        ConfigurationError,
        match=r"^L1RowConstraint\(a=None\) takes the model's stretch a, got a = 0\.0; train with a > 0 or pass L1RowConstraint\(a=\.\.\.\)$",
    ):
        L1RowConstraint()(classical)


# ------------------------------------------------------------------------------------ native_config
def test_native_config_kinds() -> None:
    lin = native_config(kind="linear", layer_sizes=[6, 16, 16, 3], a=1.0, surrogate="expected", seed=0)
    assert (lin.model.spec.stretch, lin.model.surrogate, lin.step_hooks, lin.kind) == (
        "linear",
        ExpectedSurrogate(),
        [],
        "linear",
    )
    assert check_exact(lin.model, "linear").exact
    l1 = native_config(kind="hardtanh-l1", layer_sizes=[6, 16, 16, 3], a=0.3, bias=True, seed=0)
    assert l1.model.spec.stretch == "hardtanh" and isinstance(l1.step_hooks[0], L1RowConstraint)
    assert l1.step_hooks[0].holds(l1.model)  # projected at construction
    assert float(rows_l1(l1.model.layers[0].weight).max()) > 0.3  # the first layer is not constrained


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "relu", "a": 1.0}, r"^unknown native kind 'relu'; expected one of linear, hardtanh-l1$"),
        (
            {"kind": "linear", "a": 0.0},
            (
                r"^a hardware-native network needs a stretch a > 0, got a = 0\.0; pass e\.g\. a=1\.0 \(a = 0 is the sign "
                r"neuron, which no single circuit with linear feedforward expresses\)$"
            ),
        ),
        ({"kind": "linear", "a": "x"}, r"^a hardware-native network needs a stretch a > 0, got a = 'x'"),
        (
            {"kind": "linear", "a": 1.0, "margin": 0.1},
            r"^margin applies to kind 'hardtanh-l1' \(the L1 radius a \(1 - margin\)\), got margin=0\.1 with kind 'linear'; drop it$",
        ),
        (
            {"kind": "linear", "a": 1.0, "surrogate": "sigmoid"},
            r"^unknown surrogate 'sigmoid'; expected one of hardtanh, expected; pass one of these names or a Surrogate object$",
        ),
    ],
)
def test_native_config_errors(kwargs, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        native_config(layer_sizes=[4, 3, 3, 2], **kwargs)


def test_cli_arguments_build_the_setup() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--a", type=float, default=0.0)
    parser.add_argument("--stretch", default="tanh")
    add_native_arguments(parser)
    args = parser.parse_args(["--native", "hardtanh-l1", "--a", "0.5", "--l1-margin", "0.1"])
    setup = native_setup_from_args(args, layer_sizes=[784, 16, 16, 10])
    assert setup.kind == "hardtanh-l1" and setup.step_hooks[0].radius(setup.model) == pytest.approx(0.45)
    assert native_setup_from_args(parser.parse_args([]), layer_sizes=[784, 16, 16, 10]) is None
    with pytest.raises(
        ConfigurationError,
        match=r"^--native linear sets the stretch to 'linear', got --stretch hardtanh; drop --stretch$",
    ):
        native_setup_from_args(
            parser.parse_args(["--native", "linear", "--a", "1", "--stretch", "hardtanh"]), layer_sizes=[4, 3, 3, 2]
        )
    with pytest.raises(
        ConfigurationError,
        match=r"^--l1-margin applies to --native hardtanh-l1, got --l1-margin 0\.1 without --native$",
    ):
        native_setup_from_args(parser.parse_args(["--l1-margin", "0.1"]), layer_sizes=[4, 3, 3, 2])


# --------------------------------------------------------------------------------------- surrogate
def _slope_reference(kind: str, z: np.ndarray, a: float) -> np.ndarray:
    if kind == "hardtanh-ste":
        return ((z > -1) & (z < 1)).astype(float)
    k = math.pi / (2 * a)
    if kind == "linear":
        return k * np.cos(k * z)
    if kind == "hardtanh":
        return np.where(np.abs(z) < a, k * np.cos(k * z), 0.0)
    t = np.tanh(z / a)
    return k * np.cos(math.pi / 2 * t) * (1 - t**2)


@pytest.mark.parametrize(
    ("stretch", "surrogate", "reference"),
    [
        ("linear", "expected", "linear"),
        ("hardtanh", "expected", "hardtanh"),
        ("tanh", "expected", "tanh"),
        ("linear", "hardtanh", "hardtanh-ste"),
        ("tanh", "hardtanh", "hardtanh-ste"),
    ],
)
def test_backward_matches_numpy_reference(stretch, surrogate, reference) -> None:
    """dL/dW_1 for L = sum(logits) of a one-hidden-layer network, element by element against NumPy."""
    a = 0.7
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 5, generator=gen, dtype=torch.float64)
    w1 = (torch.randn(6, 5, generator=gen, dtype=torch.float64) * 1.5).requires_grad_()
    w2 = torch.randn(3, 6, generator=gen, dtype=torch.float64).requires_grad_()
    net = NaturalQNN(layer_sizes=[5, 6, 3], a=a, stretch=stretch, surrogate=surrogate, seed=0)
    fp = sample_network(
        x, [w1, w2], [None, None], net.neuron, generator=torch.Generator().manual_seed(1), surrogate=net.surrogate
    )
    fp.logits.sum().backward()
    z = (x @ w1.detach().T).numpy()
    upstream = w2.detach().numpy().sum(axis=0)  # dL/dd, one value per hidden neuron
    expected_grad = (_slope_reference(reference, z, a) * upstream).T @ x.numpy()
    np.testing.assert_allclose(w1.grad.numpy(), expected_grad, rtol=1e-10, atol=1e-12)
    d = fp.activations[0].numpy()
    np.testing.assert_allclose(w2.grad.numpy(), np.ones((32, 3)).T @ d, rtol=1e-12)


@pytest.mark.parametrize("kind", ["linear", "hardtanh", "tanh"])
def test_expected_slope_is_the_derivative_of_the_expected_activation(kind) -> None:
    stretch = Stretch(a=0.6, kind=kind)
    z = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
    z = z[(z.abs() - 0.6).abs() > 1e-3]  # away from hardtanh's kinks
    h = 1e-6
    numeric = ((2 * stretch.prob_plus(z + h) - 1) - (2 * stretch.prob_plus(z - h) - 1)) / (2 * h)
    torch.testing.assert_close(expected_slope(stretch, z), numeric, rtol=1e-6, atol=1e-7)


def test_surrogate_errors_and_default_is_unchanged() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^unknown surrogate 'ste'; expected one of hardtanh, expected; pass one of these names or a Surrogate object$",
    ):
        NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, surrogate="ste")
    with pytest.raises(
        ConfigurationError,
        match=r"^surrogate 'expected' needs a stochastic neuron \(a > 0, stretch tanh/hardtanh/linear\), got a = 0\.0 "
        r"with stretch 'tanh'; use surrogate='hardtanh' for the sign neuron$",
    ):
        NaturalQNN(layer_sizes=[4, 3, 2], a=0.0, surrogate="expected")
    net = NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, surrogate="expected")
    with pytest.raises(ConfigurationError, match=r"^surrogate 'expected' needs a stochastic neuron"):
        net.spec = net.spec.replace(a=0.0)
    with pytest.raises(ConfigurationError, match=r"^unknown surrogate 'x'"):
        net.surrogate = "x"
    assert "surrogate='expected'" in net.extra_repr()
    plain = NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, seed=0)
    assert plain.surrogate == HardTanhSurrogate() and "surrogate" not in plain.extra_repr()
    x = torch.rand(16, 4, generator=torch.Generator().manual_seed(0))
    grads = []
    for surrogate in ("hardtanh", "expected"):
        plain.surrogate = surrogate
        plain.zero_grad()
        plain.reseed(5)
        plain(x).sum().backward()
        grads.append(plain.layers[0].weight.grad.clone())
    assert not torch.allclose(grads[0], grads[1])  # the option does change training


def test_surrogates_are_small_frozen_objects_with_names() -> None:
    assert list(SURROGATES) == ["hardtanh", "expected"]
    for name, surrogate in SURROGATES.items():
        assert isinstance(surrogate, Surrogate) and surrogate.name == str(surrogate) == name
        assert get_surrogate(name) is surrogate and get_surrogate(surrogate) is surrogate
    assert repr(HardTanhSurrogate()) == "HardTanhSurrogate()" and repr(ExpectedSurrogate()) == "ExpectedSurrogate()"
    assert HardTanhSurrogate() == HardTanhSurrogate() != ExpectedSurrogate()
    assert len({HardTanhSurrogate(), HardTanhSurrogate(), ExpectedSurrogate()}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        HardTanhSurrogate().name = "other"
    with pytest.raises(TypeError):
        Surrogate()  # abstract: subclasses define the slope
    with pytest.raises(TypeError):
        HardTanhSurrogate(1)  # keyword-only
    with pytest.raises(
        ConfigurationError,
        match=r"^surrogate must be a name \(hardtanh, expected\) or a Surrogate object, got int; pass e\.g\. "
        r"surrogate='hardtanh'$",
    ):
        get_surrogate(3)
    with pytest.raises(ConfigurationError, match=r"^surrogate 'expected' needs a stochastic neuron"):
        get_surrogate("expected", neuron=Neuron(stretch=Stretch(a=0.0)))
    assert get_surrogate("hardtanh", neuron=Neuron(stretch=Stretch(a=0.0))) == HardTanhSurrogate()


@pytest.mark.parametrize("kind", ["linear", "hardtanh", "tanh"])
def test_surrogate_slopes_match_numpy_references(kind) -> None:
    a = 0.7
    z = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)
    stretch = Stretch(a=a, kind=kind)
    np.testing.assert_allclose(
        ExpectedSurrogate().slope(z, stretch).numpy(), _slope_reference(kind, z.numpy(), a), rtol=1e-12, atol=1e-14
    )
    hard = HardTanhSurrogate().slope(z, stretch)
    assert hard.dtype == z.dtype
    np.testing.assert_array_equal(hard.numpy(), _slope_reference("hardtanh-ste", z.numpy(), a))


def test_the_spec_carries_the_surrogate() -> None:
    net = NaturalQNN(layer_sizes=[4, 3, 2], a=1.0, stretch="linear", surrogate=ExpectedSurrogate(), seed=0)
    assert net.surrogate is net.spec.surrogate == ExpectedSurrogate()
    assert net.spec == QuantizationSpec(a=1.0, stretch="linear", surrogate="expected")
    assert net.spec != net.spec.replace(surrogate="hardtanh")
    assert len({net.spec, net.spec.replace(surrogate="hardtanh"), QuantizationSpec(a=1.0, stretch="linear")}) == 2
    assert repr(net.spec).endswith("weak_update='circuit', surrogate=ExpectedSurrogate())")
    assert net.spec.to_dict() == {"a": 1.0, "stretch": "linear", "g": math.pi / 2, "weak_update": "circuit"}
    net.spec = net.spec.replace(surrogate="hardtanh")  # setting the spec sets the surrogate
    assert net.surrogate == HardTanhSurrogate()
    with pytest.raises(ConfigurationError, match=r"^surrogate 'expected' needs a stochastic neuron"):
        QuantizationSpec(a=0.0, surrogate="expected")


# ------------------------------------------------------------------------- trained natively, on Aer
@pytest.fixture(scope="module")
def mnist_small():
    split = load_default()
    return take(split.train, 600), split.validation


def _train_native(kind: str, width: int, data, *, a: float, surrogate: str) -> NaturalQNN:
    setup = native_config(
        kind=kind, layer_sizes=[784, width, width, width, 10], a=a, surrogate=surrogate, seed=0, dtype=torch.float64
    )
    fit(setup.model, data, config=TrainConfig(epochs=2, seed=0), progress=False, step_hooks=setup.step_hooks)
    return setup.model


@pytest.fixture(scope="module")
def trained16(mnist_small):
    train, _ = mnist_small
    return {
        "linear": _train_native("linear", 16, train, a=1.0, surrogate="expected"),
        "hardtanh-l1": _train_native("hardtanh-l1", 16, train, a=0.5, surrogate="hardtanh"),
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["linear", "hardtanh-l1"])
def test_width16_trained_native_circuit_matches_fast_path_on_mps(trained16, mnist_small, kind) -> None:
    from qiskit_aer.primitives import SamplerV2

    net = trained16[kind]
    report = check_exact(net, "linear")
    assert report.exact, report.explain()
    assert not check_exact(net, "lookup").exact  # 2**16 patterns: the lookup construction is impossible
    x = mnist_small[1].images[0].astype(np.float64)
    nc = dynamic_circuit(net, construction="linear")
    assert nc.circuit.num_qubits == 48 and nc.construction == "linear"
    circuit = transpile_for_target(bind_inputs(nc, model=net, x=x)[0], "aer", optimization_level=0)
    validate_for_target(circuit, "aer")
    result = (
        SamplerV2(seed=5, options={"backend_options": {"method": "matrix_product_state"}})
        .run([circuit], shots=SHOTS_MPS)
        .result()[0]
    )
    counts = outcome_counts(result.data, nc.layer_registers)
    fast = net.sample(torch.tensor(x[None, :]), shots=FAST, seed=6).activations
    for layer in (1, 2):  # hidden layers 2 and 3: fed forward inside the circuit
        circ = np.array([[1 - 2 * b for b in o[layer]] for o, c in counts.items() for _ in range(c)], dtype=float)
        fl = fast[layer][:, 0, :].numpy()
        p_circ, p_fast = (circ == 1).mean(0), (fl == 1).mean(0)
        tol = 5 * np.sqrt(p_fast * (1 - p_fast) * (1 / SHOTS_MPS + 1 / FAST)) + 1 / SHOTS_MPS
        np.testing.assert_array_less(np.abs(p_circ - p_fast), tol)
    assert 0.05 < p_fast.mean() < 0.95 and ((p_fast > 0.05) & (p_fast < 0.95)).sum() >= 4  # a non-trivial layer
    for i, j in [(0, 1), (2, 7), (5, 15), (9, 12), (3, 14)]:
        c_circ, c_fast = (circ[:, i] * circ[:, j]).mean(), (fl[:, i] * fl[:, j]).mean()
        assert abs(c_circ - c_fast) < 5 * math.sqrt(1 / SHOTS_MPS + 1 / FAST), (i, j, c_circ, c_fast)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "a", "surrogate"), [("linear", 1.0, "expected"), ("hardtanh-l1", 0.5, "expected")])
def test_narrow_trained_native_circuit_matches_exact_distribution(mnist_small, kind, a, surrogate) -> None:
    from qiskit_aer.primitives import SamplerV2

    net = _train_native(kind, 3, mnist_small[0], a=a, surrogate=surrogate)
    x = mnist_small[1].images[1].astype(np.float64)
    nc = dynamic_circuit(net, construction="linear")
    circuit = transpile_for_target(bind_inputs(nc, model=net, x=x)[0], "aer", optimization_level=0)
    result = SamplerV2(seed=9).run([circuit], shots=8000).result()[0]
    counts = outcome_counts(result.data, nc.layer_registers)
    probs = exact_distribution(net, x)
    p = chi2_pvalue(counts, probs)
    assert p >= ALPHA, f"chi-square p = {p:.3g} (TV {total_variation(counts, probs):.4f})"


def test_saved_native_model_gives_an_exact_dynamic_circuit(trained16, tmp_path, capsys) -> None:
    """``qnqnn circuit --mode dynamic`` on a natively trained, saved network: exact by construction."""
    from qiskit_natural_qnn.cli.circuits import add_circuit_parser, run_circuit_command

    net = copy.deepcopy(trained16["hardtanh-l1"]).float()
    # Rows sit on the L1 sphere; rounding to float32 can push some just outside: project again.
    L1RowConstraint()(net)
    assert check_exact(net, "linear").exact
    path = save_model(net, tmp_path / "native.safetensors")
    assert check_exact(load_model(path), "linear").exact
    parser = argparse.ArgumentParser(prog="qnqnn")
    add_circuit_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["circuit", str(path), "--image", "0", "--mode", "dynamic", "--format", "qasm3"])
    assert run_circuit_command(args) == 0
    out, err = capsys.readouterr()
    assert "construction 'linear': exact" in err and "hardtanh never saturates" in err
    assert out.count("if (") == 32 and "if (h1[15]) {" in out and "if (h2[15]) {" in out  # single-bit conditions


@pytest.mark.slow
def test_native_resources_on_an_ibm_fake_backend(trained16) -> None:
    pytest.importorskip("qiskit_ibm_runtime", reason="the [ibm] extra (fake devices) is not installed")
    report = resource_report(trained16["linear"], mode="dynamic", construction="linear", target="fake_torino")
    assert report.construction == "linear" and report.total.supported and report.total.transpiled
    assert [r.conditional_blocks for r in report.layers] == [0, 16, 16]
    assert report.total.qubits == 48 and report.total.depth > 0
