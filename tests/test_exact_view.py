"""The typed model contract (NetworkView), the one decoder, and the exact enumeration read through them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from qiskit.primitives import BitArray

from qiskit_natural_qnn import ConfigurationError, InputError, NaturalQNN
from qiskit_natural_qnn.circuits import (
    check_exact,
    dynamic_circuit,
    input_angles,
    layer_angles,
    lookup_angles,
    registers,
    to_qasm3,
)
from qiskit_natural_qnn.decode import (
    activation_tensor,
    activations,
    classes_from_bits,
    classes_from_logits,
    layer_bits,
    outcome_counts,
    output_logits,
)
from qiskit_natural_qnn.exact import exact_class_distribution, exact_distribution
from qiskit_natural_qnn.execution import choose_mode
from qiskit_natural_qnn.execution.records import model_fingerprint
from qiskit_natural_qnn.fastpath import sample_network
from qiskit_natural_qnn.neurons import Measurement, Neuron, Stretch
from qiskit_natural_qnn.randomness import make_generator
from qiskit_natural_qnn.view import NetworkView, network_view


def _net(sizes=(4, 3, 3, 2), *, dtype=torch.float32, **kw) -> NaturalQNN:
    return NaturalQNN(layer_sizes=list(sizes), seed=0, dtype=dtype, **kw)


# --------------------------------------------------------------------------- the view
def test_view_holds_read_only_float64_copies_and_the_schedule():
    net = _net(a=0.5, g=0.7, bias=True, dtype=torch.float64)
    view = network_view(net)
    assert view.layer_sizes == (4, 3, 3, 2) and view.hidden_sizes == (3, 3) and view.n_hidden == 2
    assert view.spec == net.spec and view.neuron == net.neuron and view.bias
    assert view.schedule.carries_state and view.schedule.hidden_sizes == (3, 3)
    for w, p in zip(view.weights, net.weights()):
        assert w.dtype == np.float64 and not w.flags.writeable
        np.testing.assert_array_equal(w, p.detach().numpy())
    with pytest.raises(ValueError, match="read-only"):
        view.weights[0][0, 0] = 1.0
    # A snapshot: training the network afterwards (even a float64 one, whose .numpy() shares memory) leaves it.
    before = view.weights[0].copy()
    with torch.no_grad():
        net.layers[0].weight.add_(1.0)
    np.testing.assert_array_equal(view.weights[0], before)
    assert network_view(view) is view


def test_view_of_a_network_without_biases_adds_zeros_and_takes_other_weights():
    net = _net()
    view = network_view(net)
    assert not view.bias and all(b.shape == (w.shape[0],) and not b.any() for w, b in zip(view.weights, view.biases))
    other = [2.0 * w.detach() for w in net.weights()]
    swapped = network_view(net, weights=other, biases=[None, None, torch.ones(2)])
    np.testing.assert_array_equal(swapped.weights[1], 2.0 * view.weights[1])
    np.testing.assert_array_equal(swapped.biases[-1], [1.0, 1.0])
    assert swapped.spec == view.spec and swapped.input_check == net.check_input


def test_view_refuses_what_is_not_a_network_or_does_not_fit():
    with pytest.raises(ConfigurationError, match=r"model must be a NaturalQNN or a NetworkView, got dict"):
        network_view({"weights": []})  # type: ignore[arg-type]
    net = _net()
    with pytest.raises(
        ConfigurationError, match=r"layer 2 of a \[4, 3, 3, 2\] network needs a weight of shape \(3, 3\)"
    ):
        network_view(net, weights=[torch.zeros(3, 4), torch.zeros(2, 3), torch.zeros(2, 3)])
    with pytest.raises(ConfigurationError, match=r"has 3 weight matrices and 3 biases, got 2 and 3"):
        network_view(net, weights=[torch.zeros(3, 4), torch.zeros(3, 3)])


def test_view_inputs_are_the_networks_checked_inputs():
    net = _net()  # float32: inputs are rounded to it, as the fast path sees them
    x = np.random.default_rng(0).random((5, 4))
    view = network_view(net)
    np.testing.assert_array_equal(view.inputs(x), net.check_input(x).double().numpy())
    assert not np.array_equal(view.inputs(x), x)
    with pytest.raises(InputError, match=r"inputs must have shape \(batch, 4\)"):
        view.inputs(np.zeros((2, 3)))


@pytest.mark.parametrize("bias", [False, True])
def test_view_check_weights_names_the_parameter_as_the_network_does(bias):
    net = _net(bias=bias)
    with torch.no_grad():
        net.layers[1].weight[0, 0] = float("nan")
    with pytest.raises(InputError) as from_net:
        net.check_weights()
    with pytest.raises(InputError) as from_view:
        network_view(net).check_weights()
    assert str(from_view.value) == str(from_net.value)
    assert f"parameter {2 if bias else 1} of the network" in str(from_view.value)


# --------------------------------------------------------------------------- one contract everywhere
def test_every_entry_point_gives_the_same_answer_for_a_network_and_its_view():
    net = _net((4, 3, 3, 2), a=0.6, g=0.5, bias=True, dtype=torch.float64)
    view = network_view(net)
    x = np.random.default_rng(1).random(4)
    assert exact_distribution(view, x) == exact_distribution(net, x)
    np.testing.assert_array_equal(exact_class_distribution(view, x), exact_class_distribution(net, x))
    np.testing.assert_array_equal(input_angles(view, x), input_angles(net, x))
    np.testing.assert_array_equal(lookup_angles(view, layer=2), lookup_angles(net, layer=2))
    bits = np.array([[0, 1, 1]])
    carried = np.array([[0.1, -0.2, 2.0]])
    np.testing.assert_array_equal(
        layer_angles(view, layer=2, bits=bits, carried=carried), layer_angles(net, layer=2, bits=bits, carried=carried)
    )
    assert check_exact(view, "auto") == check_exact(net, "auto")
    assert choose_mode(view, "aer") == choose_mode(net, "aer")
    assert model_fingerprint(view) == model_fingerprint(net)
    assert to_qasm3(dynamic_circuit(view).circuit) == to_qasm3(dynamic_circuit(net).circuit)


def test_the_fast_path_refuses_method_2_with_unequal_widths():
    neuron = Neuron(stretch=Stretch(a=0.5), measurement=Measurement(g=0.5))
    weights = [torch.randn(3, 4), torch.randn(1, 3), torch.randn(2, 1)]
    with pytest.raises(ConfigurationError, match=r"all hidden widths must be equal, got \[3, 1\]"):
        sample_network(torch.rand(5, 4), weights, [None] * 3, neuron, generator=make_generator(0))


# --------------------------------------------------------------------------- the decoder
def test_classes_from_bits_is_the_argmax_of_the_output_logits_ties_to_the_smallest_class():
    net = _net((4, 3, 3), bias=True, dtype=torch.float64)
    with torch.no_grad():
        net.layers[-1].weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
        net.layers[-1].bias.zero_()
    bits = np.array([[[0, 1, 1], [1, 0, 0]]], dtype=np.uint8)  # d = (1, -1, -1) and (-1, 1, 1)
    np.testing.assert_array_equal(output_logits(net, bits), [[[1.0, 1.0, -2.0], [-1.0, -1.0, 2.0]]])
    np.testing.assert_array_equal(classes_from_bits(net, bits), [[0, 2]])  # a 1-1 tie goes to class 0
    assert classes_from_bits(net, bits).dtype == np.int64
    logits = np.array([[0.5, 2.0, 2.0], [3.0, 0.0, 3.0]])
    np.testing.assert_array_equal(classes_from_logits(logits), [1, 0])
    np.testing.assert_array_equal(classes_from_logits(torch.as_tensor(logits)).numpy(), [1, 0])


def test_activations_from_bits():
    bits = np.array([[0, 1], [1, 1]], dtype=np.uint8)
    np.testing.assert_array_equal(activations(bits), [[1, -1], [-1, -1]])
    assert activations(bits).dtype == np.int8
    like = torch.zeros(1, dtype=torch.float64)
    t = activation_tensor(bits, like=like)
    assert t.dtype == torch.float64 and t.tolist() == [[1.0, -1.0], [-1.0, -1.0]]


def test_registers_are_decoded_by_name_in_one_place():
    assert registers.layer_bits is layer_bits and registers.outcome_counts is outcome_counts
    data = {
        "h1": BitArray(np.array([[0b01], [0b10], [0b01]], dtype=np.uint8), 2),
        "h2": BitArray(np.array([[0b1], [0b0], [0b1]], dtype=np.uint8), 1),
    }
    assert layer_bits(data, "h1").tolist() == [[1, 0], [0, 1], [1, 0]]
    assert outcome_counts(data, ["h1", "h2"]) == {((1, 0), (1,)): 2, ((0, 1), (0,)): 1}


def test_exact_class_distribution_uses_the_decoder():
    net = _net((3, 2, 2), a=0.8, dtype=torch.float64)
    x = np.array([0.2, 0.5, 0.9])
    dist = exact_distribution(net, x)
    expected = np.zeros(2)
    for outcome, p in dist.items():
        expected[classes_from_bits(net, np.array(outcome[-1]))] += p
    np.testing.assert_array_equal(exact_class_distribution(net, x), expected)
    assert math.isclose(expected.sum(), 1.0)


def test_network_view_is_a_frozen_dataclass():
    view = network_view(_net())
    assert isinstance(view, NetworkView)
    with pytest.raises(AttributeError):
        view.bias = True  # type: ignore[misc]
