"""Counter-based randomness: uniform, independent-looking, and invariant to the batch layout."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from qiskit_natural_qnn import InputError, NaturalQNN
from qiskit_natural_qnn.exact import exact_distribution
from qiskit_natural_qnn.fastpath import sample_network
from qiskit_natural_qnn.randomness import counter_uniform, hash_words

from .stats import chi2_pvalue, counts_of


def test_uniform_histogram_and_neighbour_correlations():
    """1,000 images x 50 shots x 64 neurons = 3.2e6 numbers; 64-bin chi-square p > 1e-4."""
    src = counter_uniform(seed=123, image_ids=torch.arange(1000))
    u = src(2, torch.Size([50, 1000, 64]), torch.zeros(1, dtype=torch.float64)).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0
    hist, _ = np.histogram(u, bins=64, range=(0, 1))
    assert stats.chisquare(hist).pvalue > 1e-4
    flat = u.reshape(50, 1000, 64)
    # Correlations between neighbouring neurons, shots and images stay within 5 / sqrt(n).
    for x, y in ((flat[..., :-1], flat[..., 1:]), (flat[:-1], flat[1:]), (flat[:, :-1], flat[:, 1:])):
        r = np.corrcoef(x.ravel(), y.ravel())[0, 1]
        assert abs(r) < 5 / math.sqrt(x.size)


def test_layers_and_seeds_give_different_numbers():
    ids = torch.arange(10)
    like = torch.zeros(1)
    a = counter_uniform(seed=1, image_ids=ids)(0, torch.Size([10, 8]), like)
    b = counter_uniform(seed=1, image_ids=ids)(1, torch.Size([10, 8]), like)
    c = counter_uniform(seed=2, image_ids=ids)(0, torch.Size([10, 8]), like)
    assert not torch.equal(a, b) and not torch.equal(a, c)
    assert int(hash_words(0)) != int(hash_words(1))


@settings(max_examples=40, deadline=None)
@given(
    n_images=st.integers(1, 12),
    shots=st.integers(1, 5),
    perm_seed=st.integers(0, 2**32 - 1),
    split=st.integers(1, 12),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_outcomes_do_not_depend_on_batch_layout(n_images, shots, perm_seed, split, dtype):
    """Property: each (image, shot) outcome is the same whatever the batch order and size."""
    net = NaturalQNN(layer_sizes=[6, 5, 5, 5, 3], a=0.7, g=1.0, seed=0, dtype=dtype)
    x = torch.rand(n_images, 6, generator=torch.Generator().manual_seed(5), dtype=dtype)
    ids = torch.arange(100, 100 + n_images)
    full = sample_network(
        x, net.weights(), net.biases(), net.neuron, shots=shots, uniform=counter_uniform(seed=9, image_ids=ids)
    )
    perm = torch.from_numpy(np.random.default_rng(perm_seed).permutation(n_images))
    for chunk in torch.split(perm, split):
        part = sample_network(
            x[chunk],
            net.weights(),
            net.biases(),
            net.neuron,
            shots=shots,
            uniform=counter_uniform(seed=9, image_ids=ids[chunk]),
        )
        for k in range(3):
            assert torch.equal(part.activations[k], full.activations[k][:, chunk])


def test_counter_sampling_has_the_exact_distribution():
    """40,000 shots of one input through counter-based numbers: chi-square p > 1e-4."""
    net = NaturalQNN(layer_sizes=[3, 3, 3, 2], a=0.4, g=0.6, seed=4, dtype=torch.float64)
    x = torch.tensor([0.3, 0.8, 0.1], dtype=torch.float64)
    fp = sample_network(
        x[None], net.weights(), net.biases(), net.neuron, shots=40_000, uniform=counter_uniform(seed=3, image_ids=[0])
    )
    bits = [((1 - d[:, 0]) / 2).long().numpy() for d in fp.activations]
    outcomes = [tuple(tuple(int(b) for b in layer[s]) for layer in bits) for s in range(40_000)]
    assert chi2_pvalue(counts_of(outcomes), exact_distribution(net, x)) > 1e-4


def test_bad_image_ids():
    with pytest.raises(
        InputError,
        match=r"image_ids must be a 1-D integer array with one id per image, got dtype int64 and shape \(2, 2\)",
    ):
        counter_uniform(seed=0, image_ids=np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(
        InputError, match=r"^image_ids must lie in \[0, 2\*\*64\), found -1; use each image's dataset index$"
    ):
        counter_uniform(seed=0, image_ids=[-1, 2])
    src = counter_uniform(seed=0, image_ids=[1, 2])
    with pytest.raises(InputError, match=r"batch of 3 inputs but 2 image_ids; pass one id per input"):
        src(0, torch.Size([3, 4]), torch.zeros(1))


def _by_definition(seed: int, ids: list[int], shots: int, layer: int, width: int, dtype: torch.dtype) -> torch.Tensor:
    """The documented key hash, word by word in int64: (seed lo, seed hi, id lo, id hi, shot, layer, neuron)."""
    img = torch.tensor(ids, dtype=torch.int64)
    h = hash_words(
        seed & 0xFFFFFFFF,
        seed >> 32,
        (img & 0xFFFFFFFF).view(1, -1, 1),
        (img >> 32).view(1, -1, 1),
        torch.arange(shots).view(-1, 1, 1),
        layer,
        torch.arange(width).view(1, 1, -1),
    )
    if dtype == torch.float64:
        return h.to(torch.float64) * 2.0**-32
    return (h >> 8).to(torch.float32) * 2.0**-24


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("int32_hash", [True, False])
def test_counter_numbers_are_the_key_hash_on_both_paths(monkeypatch, dtype, int32_hash):
    """The int32 hash (used where a device's int32 products wrap) and the int64 hash give the defined numbers.

    Widths 1, 16 and 67 cover the kernels' scalar tails and whole vector blocks; seed 2**64 - 3 and 40 images
    make the sums before the last word overflow 32 bits.
    """
    from qiskit_natural_qnn import randomness

    randomness._int32_wraps.cache_clear()
    if not int32_hash:
        monkeypatch.setattr(randomness, "_int32_wraps", lambda device: False)
    else:
        assert randomness._int32_wraps(torch.device("cpu")), "this CPU's int32 kernels should wrap"
    ids = [3 * i + 2**40 * (i % 3) for i in range(40)]
    for seed in (0, 2**64 - 3):
        src = counter_uniform(seed=seed, image_ids=ids)
        for layer, width in ((0, 1), (1, 16), (2, 67)):
            got = src(layer, torch.Size([4, len(ids), width]), torch.zeros(1, dtype=dtype))
            assert got.dtype == dtype
            assert torch.equal(got, _by_definition(seed, ids, 4, layer, width, dtype))
    # shot indexes up to 2**32 - 1 take the int32 path: still the key hash, word by word
    last = counter_uniform(seed=5, image_ids=ids, shot_offset=2**32 - 4)(1, torch.Size([4, 40, 16]), torch.zeros(1))
    h = hash_words(
        5,
        0,
        torch.tensor(ids).view(1, -1, 1) & 0xFFFFFFFF,
        torch.tensor(ids).view(1, -1, 1) >> 32,
        torch.arange(2**32 - 4, 2**32).view(-1, 1, 1),
        1,
        torch.arange(16).view(1, 1, -1),
    )
    assert torch.equal(last, (h >> 8).to(torch.float32) * 2.0**-24)
    # narrower dtypes compare against the float32 numbers
    half = counter_uniform(seed=0, image_ids=ids)(0, torch.Size([2, 40, 16]), torch.zeros(1, dtype=torch.float16))
    assert torch.equal(half, _by_definition(0, ids, 2, 0, 16, torch.float32))


def test_finite_witness_reads_one_copy_of_a_broadcast_dimension():
    """A first layer's shots broadcast its pre-activations: the witness is decided as on the full tensor."""
    from qiskit_natural_qnn.fastpath import finite_witness

    z = torch.tensor([[1.0, 3e38], [2.0, -3e38]])
    shots = z.unsqueeze(0).expand(15, 2, 2)
    assert bool(finite_witness(shots).isfinite()) and finite_witness(shots).shape == ()
    bad = z.clone()
    bad[1, 0] = float("inf")
    assert not bool(finite_witness(bad.unsqueeze(0).expand(15, 2, 2)).isfinite())
    per = finite_witness(bad.unsqueeze(1).expand(2, 5, 2), leading=1)  # one witness per network
    assert per.shape == (2,) and per.isfinite().tolist() == [True, False]
    assert finite_witness(torch.zeros(0, 3).unsqueeze(0).expand(4, 0, 3)).shape == ()
