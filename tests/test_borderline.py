"""Borderline images, success rates with binomial intervals, their figures and ``qnqnn borderline``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy import stats

from qiskit_natural_qnn import NaturalQNN
from qiskit_natural_qnn.exact import exact_class_distribution
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.experiments.borderline import (
    binomial_interval,
    find_borderline,
    pass_classes,
    plot_success_vs_a,
    plot_success_vs_pairs,
    success_rate,
    success_vs_a,
    with_stretch,
)
from tests.stats import binomial_tolerance

X = np.array([1.0, 0.0, 0.0])


def _borderline_net(z: float = -0.05) -> NaturalQNN:
    """Classical class 1 (wrong for label 0), quantum success 1 - P(-1)^2 > 1/2 at moderate a.

    Hidden z = (z, z, 5): d3 = +1 always. Logit of class 0 = d1 + d2 + 1.5 d3, class 1 = 0: class 0
    wins unless d1 = d2 = -1, which the sign neuron (z < 0) always gives.
    """
    net = NaturalQNN(layer_sizes=[3, 3, 2], a=0.5, seed=0, dtype=torch.float64)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[z, 0, 0], [z, 0, 0], [5.0, 0, 0]]))
        net.layers[1].weight.copy_(torch.tensor([[1.0, 1.0, 1.5], [0, 0, 0]]))
    return net


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (31, 40), (40, 40), (500, 1000)])
def test_intervals_match_scipy(k, n):
    for method, scipy_method in (("wilson", "wilson"), ("clopper-pearson", "exact")):
        low, high = binomial_interval(k, n, method=method)
        ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method=scipy_method)
        assert float(low) == pytest.approx(ref.low, abs=1e-9) and float(high) == pytest.approx(ref.high, abs=1e-9)


def test_interval_errors():
    with pytest.raises(
        ConfigurationError, match=r"unknown interval method 'agresti'; expected one of wilson, clopper-pearson"
    ):
        binomial_interval(1, 2, method="agresti")
    with pytest.raises(ConfigurationError, match=r"confidence must lie in \(0, 1\), got 1\.5"):
        binomial_interval(1, 2, confidence=1.5)
    with pytest.raises(InputError, match=r"trials >= 1 and 0 <= successes <= trials, got successes=3, trials=2"):
        success_rate(successes=3, trials=2)


def test_success_vs_a_matches_the_exact_class_distribution():
    """Fast-path success rates versus a agree with exact enumeration (5 standard errors, 4000 passes, seed 0)."""
    net = _borderline_net()
    pts = success_vs_a(net, X, 0, a_values=[0.0, 0.2, 0.5, 2.0], shots=4000, seed=0)
    for p in pts:
        exact = exact_class_distribution(with_stretch(net, p.a), X)[0]
        assert abs(p.rate.rate - exact) <= binomial_tolerance(exact, 4000)
    assert pts[0].rate.rate == 0.0 and pts[2].rate.rate > 0.6


def test_find_borderline_same_weights_and_separate_classical():
    net = _borderline_net()
    images = np.stack([X, np.array([0.0, 1.0, 0.0])])  # image 1: z = 0 -> all hidden -1 except none: class 1
    labels = np.array([0, 1])
    found = find_borderline(net, images, labels, a_values=[0.1, 0.5, 1.0], shots=400, image_ids=[7, 8])
    assert [(b.image, b.label, b.classical_class) for b in found] == [(7, 0, 1)]
    assert found[0].best_rate > 0.6 and found[0].best_a in (0.5, 1.0)
    assert len(find_borderline(net, images, labels, criterion="vote", shots=401)) == 1
    # A separately trained classical network that gets image 0 right: nothing is borderline.
    assert find_borderline(net, images, labels, classical=_borderline_net(z=+0.05), shots=100) == []
    with pytest.raises(ConfigurationError, match=r"unknown criterion 'majority'; expected one of probability, vote"):
        find_borderline(net, images, labels, criterion="majority")
    with pytest.raises(ConfigurationError, match=r"the classical network has layer sizes \[3, 2, 2\]"):
        find_borderline(net, images, labels, classical=NaturalQNN(layer_sizes=[3, 2, 2], seed=0))


def test_strict_criterion_needs_the_interval_above_one_half():
    net = _borderline_net(z=-0.13)  # P(success) at a = 0.5: just above 1/2
    p = exact_class_distribution(with_stretch(net, 0.5), X)[0]
    assert 0.5 < p < 0.53
    assert find_borderline(net, X[None], [0], a_values=[0.5], shots=100, strict=True) == []


def test_pass_classes_agree_with_the_fast_path():
    net = NaturalQNN(layer_sizes=[5, 4, 4, 3], a=0.7, seed=2, dtype=torch.float64)
    fp = net.sample(torch.rand(6, 5, dtype=torch.float64), shots=3, seed=1)
    bits = (1 - fp.activations[-1].numpy()) / 2
    assert (pass_classes(net, bits) == fp.logits.argmax(-1).numpy()).all()


def test_plots():
    pytest.importorskip("matplotlib", reason="the [plot] extra (matplotlib) is not installed")
    net = _borderline_net()
    pts = success_vs_a(net, X, 0, a_values=[0.1, 0.5, 1.0], shots=50, seed=0)
    fig = plot_success_vs_a(pts)
    assert fig.axes[0].get_xlabel() == "stretch a" and len(fig.axes[0].containers) == 1
    noisy = [p._replace(pairs=n, gate="sx") for p, n in zip(pts, (0, 10, 30))]
    assert "identity pairs (sx)" in plot_success_vs_pairs(noisy).axes[0].get_xlabel()
    with pytest.raises(InputError, match=r"no success points to plot"):
        plot_success_vs_a([])


def test_borderline_cli(tmp_path, capsys):
    from qiskit_natural_qnn.cli.hardware import main
    from qiskit_natural_qnn.io import save_model

    path = save_model(NaturalQNN(layer_sizes=[784, 4, 4, 10], a=0.5, seed=0), tmp_path / "m.safetensors")
    assert main(["borderline", str(path), "--max-images", "40", "--shots", "20", "--a-values", "0.5,1", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert all(b["classical_class"] != b["label"] and b["best_rate"] > 0.5 for b in found)
