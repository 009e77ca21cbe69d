"""Packing many images and shots into parameter arrays and copies side by side is a bijection.

Property tests (hypothesis): for any number of rows, width, copies and shots, every row lands in
exactly one (parameter set, copy) slot, and bits a device returns for a slot come back to that row
(a fake device computes each slot's bits from the angles it was given). Structural tests check the
packed circuit (registers, qubits, parameters) and, with exact statevectors, that each copy of a
packed layer circuit measures its own row with the probabilities of :mod:`qiskit_natural_qnn.neurons`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.quantum_info import Statevector

from qiskit_natural_qnn import (
    ConfigurationError,
    ExecutionError,
    InputError,
    NaturalQNN,
)
from qiskit_natural_qnn.circuits import layer_circuit, layer_measurement
from qiskit_natural_qnn.execution import (
    copies_that_fit,
    pack_rows,
    packed_layer_circuit,
    pass_rows,
    unpack_bits,
)
from qiskit_natural_qnn.execution.packing import split_sets


def _device(values: np.ndarray, shots: int) -> np.ndarray:
    """A deterministic fake device: bit = parity of (angle code + shot), per slot and shot."""
    codes = np.rint(values * 1000).astype(np.int64)
    return ((codes[:, None, :] + np.arange(shots)[None, :, None]) % 2).astype(np.uint8)


@settings(max_examples=200, deadline=None)
@given(
    n_rows=st.integers(1, 300),
    width=st.integers(1, 9),
    copies=st.integers(1, 12),
    shots=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_pack_then_unpack_is_the_identity_on_rows(n_rows, width, copies, shots, seed):
    rng = np.random.default_rng(seed)
    codes = rng.permutation(10 * n_rows * width)[: n_rows * width].reshape(n_rows, width) + 1
    angles = codes / 1000.0  # distinct, non-zero: every row is recognisable in the packed values
    packed = pack_rows(angles, copies=copies)
    assert packed.n_sets == math.ceil(n_rows / copies) and packed.values.shape == (packed.n_sets, copies * width)
    # rows -> slots is injective and covers exactly the first n_rows slots
    sets, slot_copies = packed.slot(np.arange(n_rows))
    assert len(set(zip(sets.tolist(), slot_copies.tolist()))) == n_rows
    per_slot = packed.values.reshape(packed.n_sets * copies, width)
    np.testing.assert_array_equal(per_slot[:n_rows], angles)
    assert not per_slot[n_rows:].any()  # padding is angle 0 (the qubit stays in |0>)
    # bits measured for a slot come back to the row that was packed there
    back = unpack_bits(packed, _device(packed.values, shots))
    assert back.shape == (n_rows, shots, width)
    np.testing.assert_array_equal(back, _device(angles, shots))


@settings(max_examples=100, deadline=None)
@given(n_images=st.integers(1, 60), shots=st.integers(1, 20))
def test_passes_are_numbered_image_major_and_each_once(n_images, shots):
    image, shot = pass_rows(n_images, shots)
    pairs = list(zip(image.tolist(), shot.tolist()))
    assert pairs == [(i, s) for i in range(n_images) for s in range(shots)]
    # (image, shot) -> row -> (image, shot) round-trips through a reshape, as the executor uses it
    grid = np.arange(n_images * shots).reshape(n_images, shots)
    assert grid[image, shot].tolist() == list(range(n_images * shots))


def test_pack_and_unpack_errors_are_typed_and_exact():
    with pytest.raises(ConfigurationError, match=r"^copies must be an int >= 1, got 0; pass e.g. copies=1$"):
        pack_rows(np.zeros((2, 2)), copies=0)
    with pytest.raises(InputError, match=r"^angles must be a non-empty 2-D array \(rows, width\), got shape \(3,\)$"):
        pack_rows(np.zeros(3), copies=1)
    with pytest.raises(InputError, match=r"^angles contain NaN or infinity"):
        pack_rows(np.array([[np.nan]]), copies=1)
    packed = pack_rows(np.zeros((5, 2)), copies=2)
    with pytest.raises(
        ExecutionError,
        match=r"^expected bits of shape \(3, shots, 4\) for 5 rows packed 2 per parameter set, got \(3, 1, 2\)$",
    ):
        unpack_bits(packed, np.zeros((3, 1, 2)))


def test_copies_that_fit_and_split_sets():
    assert copies_that_fit(127, 16) == 7
    assert copies_that_fit(127, 32) == 3  # Method 2 layer of 16: neuron + ancilla per neuron
    assert copies_that_fit(4, 16) == 1
    assert copies_that_fit(None, 16) == 1
    assert copies_that_fit(256, 16, limit=4) == 4
    assert split_sets(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert split_sets(7, None) == [slice(0, 7)]


@pytest.mark.parametrize("g", [math.pi / 2, 0.6], ids=["projective", "weak"])
def test_packed_layer_circuit_structure(g):
    net = NaturalQNN(layer_sizes=[3, 4, 4, 2], a=0.5, g=g, seed=0)
    lc = layer_circuit(net, layer=1)
    packed = packed_layer_circuit(lc, 3)
    per_copy = lc.circuit.num_qubits
    assert packed.circuit.num_qubits == 3 * per_copy
    assert [r.name for r in packed.circuit.cregs] == ["h1"] and packed.register.size == 12
    assert packed.circuit.num_parameters == 12 and packed.angles.name == "theta1"
    assert packed.layer == 1 and packed.weak == lc.weak
    ops = packed.circuit.count_ops()
    assert ops["ry"] == 12 and ops["measure"] == 12
    assert ops.get("rzy", 0) == (12 if lc.weak else 0)
    assert packed_layer_circuit(lc, 1) is lc


@pytest.mark.parametrize("g", [math.pi / 2, 0.6], ids=["projective", "weak"])
def test_each_copy_measures_its_own_row_with_the_neurons_probabilities(g):
    """Exact statevector marginals of a bound packed circuit equal neurons.py's, copy by copy."""
    net = NaturalQNN(layer_sizes=[3, 2, 2, 2], a=0.5, g=g, seed=0)
    lc = layer_circuit(net, layer=1)
    packed = packed_layer_circuit(lc, 3)
    rows = np.array([[0.3, 2.0], [1.1, -0.4], [2.9, 0.0]])
    values = pack_rows(rows, copies=3).values[0]
    bound = packed.circuit.assign_parameters(dict(zip(packed.angles, values.tolist())))
    meas = layer_measurement(net, 1)
    measured = [inst.qubits[0] for inst in bound.data if inst.operation.name == "measure"]
    clbit = [bound.find_bit(inst.clbits[0]).index for inst in bound.data if inst.operation.name == "measure"]
    probs = Statevector(bound.remove_final_measurements(inplace=False)).probabilities_dict()
    for q, c in zip(measured, clbit):
        qi = bound.find_bit(q).index
        p_plus = sum(p for key, p in probs.items() if key[::-1][qi] == "0")
        copy, neuron = divmod(c, 2)
        assert p_plus == pytest.approx(float(meas.prob_plus(rows[copy, neuron])), abs=1e-9)
