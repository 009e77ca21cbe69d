"""Neuron math (docs/model.md, "Neurons" and "Measurement") against closed forms and an explicit two-qubit state vector."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qiskit_natural_qnn import ConfigurationError, Measurement, Neuron, Stretch
from qiskit_natural_qnn.neurons import activation_to_bit, outcome_to_activation
from qiskit_natural_qnn.schedule import PROJECTIVE, LayerSchedule, carried_angle, own_outcome_shift

Z_GRID = np.linspace(-3, 3, 61)


@pytest.mark.parametrize("kind", ["tanh", "hardtanh", "linear"])
@pytest.mark.parametrize("a", [0.1, 0.316, 1.0, 2.5])
def test_prob_plus_is_cos_squared_of_half_theta(kind, a):
    s = Stretch(a=a, kind=kind)
    theta = s.theta(Z_GRID)
    np.testing.assert_allclose(s.prob_plus(Z_GRID), np.cos(theta / 2) ** 2, atol=1e-12)
    f = {"tanh": np.tanh(Z_GRID / a), "hardtanh": np.clip(Z_GRID / a, -1, 1), "linear": Z_GRID / a}[kind]
    np.testing.assert_allclose(s(Z_GRID), f, atol=1e-15)
    np.testing.assert_allclose(theta, (np.pi / 2) * (1 - f), atol=1e-15)


def test_a_zero_is_the_sign_neuron_with_sgn0_minus_one():
    for kind in ("tanh", "hardtanh", "sgn"):
        s = Stretch(a=0.0, kind=kind)
        assert s.is_deterministic
        np.testing.assert_array_equal(s(np.array([-2.0, -1e-9, 0.0, 1e-9, 3.0])), [-1, -1, -1, 1, 1])
        np.testing.assert_array_equal(s.prob_plus(np.array([-1.0, 0.0, 1.0])), [0.0, 0.0, 1.0])
    # sgn ignores a
    np.testing.assert_array_equal(Stretch(a=5.0, kind="sgn")(np.array([-1.0, 1.0])), [-1, 1])


def test_linear_stretch_probability_is_periodic_in_z():
    s = Stretch(a=0.5, kind="linear")
    z = np.linspace(-1, 1, 11)
    np.testing.assert_allclose(s.prob_plus(z), (1 + np.sin(np.pi * z / (2 * 0.5))) / 2, atol=1e-12)
    np.testing.assert_allclose(s.prob_plus(z), s.prob_plus(z + 4 * 0.5), atol=1e-12)


def test_saturation_masks():
    z = np.array([-0.6, -0.5, 0.2, 0.51])
    np.testing.assert_array_equal(Stretch(a=0.5, kind="hardtanh").saturates(z), [True, False, False, True])
    assert not Stretch(a=0.5, kind="linear").saturates(z).any()
    assert Stretch(a=0.5, kind="tanh").saturates(z).all()


def test_torch_and_numpy_agree():
    s, m = Stretch(a=0.3, kind="tanh"), Measurement(g=0.7)
    zt = torch.tensor(Z_GRID, dtype=torch.float64)
    np.testing.assert_allclose(s.prob_plus(zt).numpy(), s.prob_plus(Z_GRID), atol=1e-14)
    for mm in (1.0, -1.0):
        np.testing.assert_allclose(m.post_angle(zt, mm).numpy(), m.post_angle(Z_GRID, mm), atol=1e-14)


# --------------------------------------------------------------------------- weak measurement
def _ry(phi: float) -> np.ndarray:
    return np.array([[np.cos(phi / 2), -np.sin(phi / 2)], [np.sin(phi / 2), np.cos(phi / 2)]])


def _weak_measurement_statevector(phi: float, g: float):
    """RY(phi) on the neuron, exp(-i g/2 Z_neuron Y_ancilla), H on the ancilla, measure the ancilla.

    Explicit 4-dimensional state vector, basis index = 2 * neuron_bit + ancilla_bit.
    Returns (P(ancilla 0), neuron state given 0, neuron state given 1).
    """
    Z = np.diag([1.0, -1.0])
    Y = np.array([[0, -1j], [1j, 0]])
    H = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    zy = np.kron(Z, Y)
    rzy = np.cos(g / 2) * np.eye(4) - 1j * np.sin(g / 2) * zy  # exp(-i g/2 ZY), since (ZY)^2 = I
    psi = np.kron(_ry(phi) @ np.array([1.0, 0.0]), np.array([1.0, 0.0]))
    psi = np.kron(np.eye(2), H) @ (rzy @ psi)
    amps = psi.reshape(2, 2)  # [neuron_bit, ancilla_bit]
    p0 = float(np.sum(np.abs(amps[:, 0]) ** 2))
    post0 = amps[:, 0] / np.linalg.norm(amps[:, 0]) if p0 > 1e-14 else None
    post1 = amps[:, 1] / np.linalg.norm(amps[:, 1]) if p0 < 1 - 1e-14 else None
    return p0, post0, post1


@pytest.mark.parametrize("g", [0.0, np.pi / 8, np.pi / 4, 5 * np.pi / 19, 1.2, np.pi / 2])
@pytest.mark.parametrize("phi", [-5.5, -3.0, -np.pi, -1.0, 0.0, 0.4, np.pi / 2, 2.5, np.pi, 4.0, 6.0])
def test_weak_measurement_matches_two_qubit_statevector(phi, g):
    meas = Measurement(g=g)
    p0, post0, post1 = _weak_measurement_statevector(phi, g)
    assert meas.prob_plus(phi) == pytest.approx(p0, abs=1e-12)
    for m, post in ((1.0, post0), (-1.0, post1)):
        if post is None:
            continue
        phi_new = meas.post_angle(phi, m)
        expected = np.array([np.cos(phi_new / 2), np.sin(phi_new / 2)])
        # Exactly the same vector, not merely up to a global phase: the Kraus operators are real.
        np.testing.assert_allclose(post, expected, atol=1e-10)
        assert -2 * np.pi <= phi_new <= 2 * np.pi


def test_kraus_operators_of_the_paper():
    g, phi = 0.9, 1.3
    s = np.sin(g)
    state = np.array([np.cos(phi / 2), np.sin(phi / 2)])
    for m in (1, -1):
        kraus = np.diag([np.sqrt((1 + m * s) / 2), np.sqrt((1 - m * s) / 2)])
        out = kraus @ state
        assert Measurement(g=g).prob_plus(phi) == pytest.approx(
            np.sum((np.diag([np.sqrt((1 + s) / 2), np.sqrt((1 - s) / 2)]) @ state) ** 2)
        )
        phi_new = Measurement(g=g).post_angle(phi, m)
        np.testing.assert_allclose(out / np.linalg.norm(out), [np.cos(phi_new / 2), np.sin(phi_new / 2)], atol=1e-12)


def test_authors_arcsin_agrees_inside_minus_pi_pi_and_differs_outside():
    circ, auth = Measurement(g=0.6), Measurement(g=0.6, update="authors_arcsin")
    inside = np.linspace(-np.pi + 0.01, np.pi - 0.01, 50)
    for m in (1.0, -1.0):
        np.testing.assert_allclose(auth.post_angle(inside, m), circ.post_angle(inside, m), atol=1e-9)
    # phi = 4 (cos(phi/2) < 0): the arcsin form drops the sign of cos(phi/2). The two angles give the
    # same outcome probability now (cos is even) but are different states: after the next rotation
    # (RY angles add) their outcome probabilities differ.
    phi, next_rotation = 4.0, 1.0
    a_new, c_new = auth.post_angle(phi, 1.0), circ.post_angle(phi, 1.0)
    assert np.cos(a_new) == pytest.approx(np.cos(c_new))
    assert abs(np.cos(a_new + next_rotation) - np.cos(c_new + next_rotation)) > 0.1


def test_projective_limit_collapses_to_basis_states():
    m = Measurement()
    assert m.is_projective and m.sin_g == 1.0
    for phi in (0.3, 2.0, -2.5):
        assert np.cos(m.post_angle(phi, 1.0)) == pytest.approx(1.0)
        assert np.cos(m.post_angle(phi, -1.0)) == pytest.approx(-1.0)
    assert Measurement(g=0.0).prob_plus(1.234) == pytest.approx(0.5)


def test_bits_and_activations():
    np.testing.assert_array_equal(outcome_to_activation(np.array([0, 1, 1])), [1, -1, -1])
    np.testing.assert_array_equal(activation_to_bit(np.array([1, -1])), [0, 1])
    np.testing.assert_array_equal(outcome_to_activation(torch.tensor([0, 1])), torch.tensor([1, -1]))


def test_neuron_classical_flag():
    assert Neuron(stretch=Stretch(a=0.0), measurement=Measurement()).is_classical
    assert not Neuron(stretch=Stretch(a=0.0), measurement=Measurement(g=1.0)).is_classical
    assert not Neuron(stretch=Stretch(a=0.1), measurement=Measurement()).is_classical


# --------------------------------------------------------------------------- bad input
def test_bad_stretch_inputs():
    with pytest.raises(ConfigurationError, match=r"a must be finite and >= 0, got -1\.0; pass a stretch a >= 0"):
        Stretch(a=-1.0)
    with pytest.raises(ConfigurationError, match=r"a must be finite and >= 0, got nan"):
        Stretch(a=float("nan"))
    with pytest.raises(ConfigurationError, match=r"a must be finite and >= 0, got inf"):
        Stretch(a=math.inf)
    with pytest.raises(ValueError, match=r"a must be a real number, got 'big' of type str"):
        Stretch(a="big")
    with pytest.raises(
        ConfigurationError, match=r"unknown stretch function 'relu'; expected one of sgn, tanh, hardtanh, linear"
    ):
        Stretch(a=1.0, kind="relu")
    with pytest.raises(ConfigurationError, match=r"the linear stretch z/a needs a > 0, got a = 0\.0"):
        Stretch(a=0.0, kind="linear")


def test_bad_measurement_inputs():
    with pytest.raises(ConfigurationError, match=r"g must lie in \[0, pi/2\], got 2\.0"):
        Measurement(g=2.0)
    with pytest.raises(ConfigurationError, match=r"g must lie in \[0, pi/2\], got -0\.1"):
        Measurement(g=-0.1)
    with pytest.raises(ConfigurationError, match=r"g must lie in \[0, pi/2\], got nan"):
        Measurement(g=float("nan"))
    with pytest.raises(ConfigurationError, match=r"unknown post-measurement update 'exact'"):
        Measurement(g=1.0, update="exact")
    assert Measurement(g=np.pi / 2 + 1e-13).is_projective  # round-off tolerated


@pytest.mark.parametrize("g", [0.0, 0.3, np.pi / 4, 1.5, np.pi / 2])
@pytest.mark.parametrize("update", ["circuit", "authors_arcsin"])
def test_readout_equals_prob_plus_and_post_angle(g, update):
    meas = Measurement(g=g, update=update)
    phi = torch.linspace(-2 * np.pi, 2 * np.pi, 101, dtype=torch.float64)
    m = torch.where(torch.arange(101) % 3 == 0, -1.0, 1.0).to(torch.float64)
    p, update_fn = meas.readout(phi)
    np.testing.assert_allclose(p.numpy(), meas.prob_plus(phi.numpy()), atol=1e-13)
    for i, (ph, mm) in enumerate(zip(phi.numpy(), m.numpy())):
        if (mm > 0 and p[i] == 0) or (mm < 0 and p[i] == 1):
            continue  # an outcome of probability zero has no post-measurement state
        expected = meas.post_angle(ph, mm)
        got = float(update_fn(m)[i])
        assert np.cos(got / 2) == pytest.approx(np.cos(expected / 2), abs=1e-9)
        assert np.sin(got / 2) == pytest.approx(np.sin(expected / 2), abs=1e-9)


_EDGE_PHIS = np.concatenate(
    [
        np.linspace(-2 * np.pi, 2 * np.pi, 101),
        [np.pi, -np.pi, np.nextafter(np.pi, 0.0), np.nextafter(np.pi, 4.0), 2 * np.pi, 1e-8, np.pi - 1e-6, 3 * np.pi],
    ]
)


@pytest.mark.parametrize("g", [0.0, 0.3, np.pi / 4, 1.5, np.pi / 2 - 1e-4, np.pi / 2 - 1e-7, np.pi / 2])
@pytest.mark.parametrize("update", ["circuit", "authors_arcsin"])
def test_post_measurement_state_is_accurate_to_a_few_ulp_at_the_edges(g, update):
    """The state after outcome ``m`` against a 50-digit reference, on NumPy and on torch.

    Reference, for the float ``phi`` and the float ``s = sin g`` the library uses: with
    ``x = sqrt(1 - m s) sin(phi/2)`` and ``y = sqrt(1 + m s) cos(phi/2)`` the state is ``(y, x) / |(y, x)|``
    (circuit), or ``(|y|, x) / |(y, x)|`` (the authors' update, which drops the sign of ``cos(phi/2)``).
    Tolerance, from the math: every float step (``sin``, ``cos``, ``sqrt``, one product, ``atan2``,
    ``cos``/``sin`` of the half angle) has relative error ``<= eps`` and ``atan2`` maps relative errors
    of its arguments to an absolute angle error of at most their sum, so a component is off by at most
    about ``8 eps`` whatever ``phi``, ``g`` or the outcome's probability; ``32 eps`` leaves room for libm.
    The old forms fail it: ``arcsin`` near 1 (``sqrt(eps)`` ~ 1.5e-8 at ``g = pi/2``) and
    ``m k_a + k_b`` near ``g = pi/2`` (3e-3 at ``g = pi/2 - 1e-7``).
    """
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    meas = Measurement(g=g, update=update)
    s = mpmath.mpf(meas.sin_g)
    tol = 32 * np.finfo(np.float64).eps
    for m in (1.0, -1.0):
        t = torch.tensor(_EDGE_PHIS, dtype=torch.float64)
        via_readout = meas.readout(t)[1](torch.full_like(t, m)).numpy()
        via_torch = meas.post_angle(t, m).numpy()
        via_numpy = meas.post_angle(_EDGE_PHIS, m)
        for i, phi in enumerate(_EDGE_PHIS):
            half = mpmath.mpf(float(phi)) / 2
            x = mpmath.sqrt(1 - m * s) * mpmath.sin(half)
            y = mpmath.sqrt(1 + m * s) * mpmath.cos(half)
            if update != "circuit":
                y = abs(y)
            norm = mpmath.sqrt(x * x + y * y)
            if norm == 0:
                continue  # an outcome of probability zero is never sampled
            want = (float(y / norm), float(x / norm))
            for got in (via_readout[i], via_torch[i], via_numpy[i]):
                assert abs(math.cos(got / 2) - want[0]) <= tol and abs(math.sin(got / 2) - want[1]) <= tol, (
                    f"phi={phi!r} m={m} got angle {got!r}, want state {want}"
                )


# --------------------------------------------------------------------------- layer schedule
def _weak(g: float = 0.4) -> Neuron:
    return Neuron(stretch=Stretch(a=0.5), measurement=Measurement(g=g))


def test_schedule_measures_every_hidden_layer_but_the_last_weakly_in_method_2():
    schedule = LayerSchedule(hidden_sizes=(3, 3, 3), neuron=_weak(0.4))
    assert schedule.carries_state and schedule.n_hidden == 3
    assert [schedule.measurement(k).g for k in (1, 2, 3)] == [0.4, 0.4, math.pi / 2]
    assert [schedule.carries_after(k) for k in (1, 2, 3)] == [True, True, False]
    assert [schedule.is_weak(k) for k in (1, 2, 3)] == [True, True, False]
    assert schedule.measurement(3) == PROJECTIVE and schedule.measurement(1) is schedule.neuron.measurement


@pytest.mark.parametrize(
    "sizes, neuron",
    [
        ((3, 4, 2), Neuron(stretch=Stretch(a=0.5), measurement=Measurement())),  # Method 1
        ((3,), _weak(0.4)),  # Method 2 with one hidden layer: nothing to carry
        ((2, 2), Neuron(measurement=Measurement(update="authors_arcsin"))),  # projective, whatever the update
    ],
)
def test_schedule_without_carried_state_measures_projectively(sizes, neuron):
    schedule = LayerSchedule(hidden_sizes=sizes, neuron=neuron)
    assert not schedule.carries_state
    for k in range(1, len(sizes) + 1):
        assert schedule.measurement(k) == PROJECTIVE and not schedule.carries_after(k) and not schedule.is_weak(k)


def test_schedule_refuses_unequal_widths_with_carried_state_and_bad_layers():
    with pytest.raises(
        ConfigurationError,
        match=r"Method 2 \(g < pi/2\) carries each neuron's qubit across hidden layers, so all hidden widths must "
        r"be equal, got \[3, 2\]; use equal widths or g=math.pi/2",
    ):
        LayerSchedule(hidden_sizes=(3, 2), neuron=_weak())
    with pytest.raises(ConfigurationError, match=r"hidden_sizes must hold at least one positive int, got \[\]"):
        LayerSchedule(hidden_sizes=(), neuron=_weak())
    schedule = LayerSchedule(hidden_sizes=(2, 2), neuron=_weak())
    for bad in (0, 3, True, 1.0):
        with pytest.raises(ConfigurationError, match=r"layer must be a hidden-layer number in \[1, 2\] \(1-based\)"):
            schedule.measurement(bad)
    with pytest.raises(ConfigurationError, match=r"in \[2, 2\] \(1-based\), got 1; the network has 2 hidden"):
        schedule.check_layer(1, first=2)


def test_carried_angle_is_the_fresh_angle_then_phi_plus_theta_plus_own_shift():
    rng = np.random.default_rng(0)
    z = rng.normal(size=50)
    stretch = Stretch(a=0.7, kind="linear")
    f = stretch(z)
    # A fresh qubit (angle 0, last outcome +1) sits at the fresh-qubit angle theta(z), to the bit.
    np.testing.assert_array_equal(carried_angle(f), stretch.theta(z))
    phi, m = rng.uniform(-2 * np.pi, 2 * np.pi, size=50), np.where(rng.random(50) < 0.5, 1.0, -1.0)
    step = carried_angle(f, phi=phi, m=m)
    np.testing.assert_allclose(step, phi + (np.pi / 2) * (m - f), rtol=0, atol=1e-15)
    np.testing.assert_allclose(step, phi + stretch.theta(z) + own_outcome_shift(m), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(own_outcome_shift(np.array([1.0, -1.0])), [0.0, -np.pi])
    # The torch form (the fast path) and the NumPy form (the exact enumeration) agree to the bit.
    t = torch.as_tensor
    np.testing.assert_array_equal(carried_angle(t(f)).numpy(), carried_angle(f))
    np.testing.assert_array_equal(carried_angle(t(f), phi=t(phi), m=t(m)).numpy(), step)
    ft = t(f)
    carried_angle(ft, phi=t(phi), m=t(m))
    np.testing.assert_array_equal(ft.numpy(), f)  # inputs are not changed in place
    with pytest.raises(ConfigurationError, match=r"carried_angle got the previous angles phi but not the previous"):
        carried_angle(f, phi=phi)
