"""Batch-invariant randomness of predict and evaluate: an image's passes depend on (seed, id, shot) only."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qiskit_natural_qnn import ConfigurationError, InputError, NaturalQNN, evaluate, predict
from qiskit_natural_qnn.randomness import counter_uniform


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _net(method: int, dtype: torch.dtype) -> NaturalQNN:
    if method == 1:
        return NaturalQNN(layer_sizes=[7, 6, 5, 4], a=0.8, seed=2, dtype=dtype)
    return NaturalQNN(layer_sizes=[7, 5, 5, 5, 4], a=0.4, g=0.9, seed=2, dtype=dtype)


_IMAGES = np.random.default_rng(0).random((40, 7))


@settings(max_examples=40, deadline=None)
@given(
    method=st.sampled_from([1, 2]),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    n=st.integers(1, 40),
    shots=st.integers(1, 6),
    batch_size=st.integers(1, 45),
    perm_seed=st.integers(0, 2**32 - 1),
    seed=st.integers(0, 2**64 - 1),
)
def test_predict_is_invariant_to_batch_size_order_and_company(method, dtype, n, shots, batch_size, perm_seed, seed):
    """Property: with a seed, each image's passes are the same for any batch size, order and subset."""
    net = _net(method, dtype)
    whole = predict(net, _IMAGES, shots=shots, seed=seed, batch_size=40, return_hidden=True)
    rng = np.random.default_rng(perm_seed)
    ids = rng.permutation(40)[:n]  # a random subset, in a random order
    part = predict(net, _IMAGES[ids], shots=shots, seed=seed, batch_size=batch_size, image_ids=ids, return_hidden=True)
    np.testing.assert_array_equal(part.shot_classes, whole.shot_classes[ids])
    np.testing.assert_array_equal(part.vote_counts, whole.vote_counts[ids])
    np.testing.assert_array_equal(part.majority, whole.majority[ids])
    for h_part, h_whole in zip(part.hidden, whole.hidden):
        np.testing.assert_array_equal(h_part, h_whole[ids])
    # default ids are positions: the same images, batched differently, give the same passes
    again = predict(net, _IMAGES, shots=shots, seed=seed, batch_size=batch_size)
    np.testing.assert_array_equal(again.shot_classes, whole.shot_classes)


def test_evaluate_does_not_depend_on_batch_size_and_a_numpy_seed_is_consumed_once() -> None:
    net = _net(2, torch.float32)
    labels = np.arange(40) % 4
    ref = evaluate(net, (_IMAGES, labels), shots=9, seed=5)
    for bs in (1, 3, 17, 1024):
        assert evaluate(net, (_IMAGES, labels), shots=9, seed=5, batch_size=bs) == ref
    rng = np.random.default_rng(1)
    first = predict(net, _IMAGES, shots=9, seed=rng, batch_size=7)
    np.testing.assert_array_equal(
        first.shot_classes, predict(net, _IMAGES, shots=9, seed=np.random.default_rng(1), batch_size=40).shot_classes
    )


def test_shot_offset_continues_a_run_with_new_shots() -> None:
    net = _net(1, torch.float64)
    ten = predict(net, _IMAGES, shots=10, seed=3)
    first, rest = predict(net, _IMAGES, shots=4, seed=3), predict(net, _IMAGES, shots=6, seed=3, shot_offset=4)
    np.testing.assert_array_equal(np.concatenate([first.shot_classes, rest.shot_classes], axis=1), ten.shot_classes)


def test_counter_passes_have_the_model_statistics() -> None:
    """One neuron at z = 0.3, a = 1: P(+1) = (1 + sin(pi/2 tanh 0.3)) / 2, over 20,000 passes."""
    net = NaturalQNN(layer_sizes=[1, 1, 2], a=1.0, seed=0, dtype=torch.float64)
    with torch.no_grad():
        net.layers[0].weight.fill_(0.3)
        net.layers[1].weight.copy_(torch.tensor([[1.0], [-1.0]]))
    pred = predict(net, np.ones((2000, 1)), shots=10, seed=8, return_hidden=True)
    p = (1 + math.sin(math.pi / 2 * math.tanh(0.3))) / 2
    freq = (pred.hidden[0] == 1).mean()
    assert abs(freq - p) < 4 * math.sqrt(p * (1 - p) / 20000)


def test_sequential_streams_keep_their_semantics() -> None:
    """A torch generator or None still consumes one stream (the draws then depend on the batching)."""
    net = _net(1, torch.float32)
    a = predict(net, _IMAGES, shots=5, seed=torch.Generator().manual_seed(0), batch_size=40)
    b = predict(net, _IMAGES, shots=5, seed=torch.Generator().manual_seed(0), batch_size=40)
    np.testing.assert_array_equal(a.shot_classes, b.shot_classes)


_NEEDS_INT_SEED = (
    r"image_ids and shot_offset select counter-based draws, which need seed to be an int or a "
    r"numpy\.random\.Generator, got None; pass e\.g\. seed=0"
)
_BAD_SEED = (
    r"^seed must be an int, a numpy\.random\.Generator, a torch\.Generator or None, got 1\.5; pass e\.g\. seed=0$"
)
_BAD_IDS = (
    r"image_ids must be a 1-D integer array with one id per image, shape \(40,\), got dtype int64 and "
    r"shape \(39,\); pass e\.g\. image_ids=np\.arange\(40\)"
)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"seed": None, "image_ids": np.arange(40)}, ConfigurationError, _NEEDS_INT_SEED),
        ({"seed": torch.Generator(), "shot_offset": 3}, ConfigurationError, r"got Generator; pass e\.g\. seed=0"),
        ({"seed": 1.5}, ConfigurationError, _BAD_SEED),
        ({"seed": 0, "shot_offset": -1}, ConfigurationError, r"shot_offset must be an int >= 0, got -1"),
        ({"seed": 0, "image_ids": np.arange(39)}, InputError, _BAD_IDS),
        ({"seed": 0, "image_ids": np.arange(40.0)}, InputError, r"got dtype float64 and shape \(40,\)"),
        ({"seed": 0, "image_ids": -np.arange(40)}, InputError, r"image_ids must lie in \[0, 2\*\*64\), found -1"),
        (
            {"seed": 0, "image_ids": [2**64] * 40},
            InputError,
            r"image_ids must lie in \[0, 2\*\*64\), found 18446744073709551616;",
        ),
        ({"seed": -1}, ConfigurationError, r"^seed must be an int in \[0, 2\*\*64\) \(seeds are 64-bit\), got -1"),
        (
            {"seed": 2**64},
            ConfigurationError,
            r"^seed must be an int in \[0, 2\*\*64\) \(seeds are 64-bit\), got 18446744073709551616;",
        ),
        ({"seed": True}, ConfigurationError, r"^seed must be an int, a numpy\.random\.Generator, .* got True"),
        (
            {"seed": 0, "shot_offset": 2**64 - 1},
            ConfigurationError,
            r"^shot_offset must be an int in \[0, 18446744073709551614\] \(counters are 64-bit\), got 18446744073709551615",
        ),
        ({"seed": 0, "shot_offset": 1.0}, ConfigurationError, r"^shot_offset must be an int >= 0, got 1\.0"),
    ],
)
def test_bad_seed_image_ids_and_shot_offset(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        predict(_net(1, torch.float32), _IMAGES, shots=2, **kwargs)


def test_seeds_image_ids_and_shot_indexes_are_64_bit() -> None:
    """The full range works, and every bit of it counts: 2**32 is not 0, 2**64 - 1 is not 2**63 - 1."""
    net = _net(1, torch.float64)
    x = _IMAGES[:8]

    def hidden(**kwargs):
        return predict(net, x, shots=6, return_hidden=True, **kwargs).hidden[0]

    base = hidden(seed=3)
    assert not np.array_equal(hidden(seed=3, shot_offset=2**32), base)  # the counter wrapped at 32 bits
    assert not np.array_equal(hidden(seed=3, shot_offset=2**63), base)
    assert not np.array_equal(hidden(seed=3 + 2**32), base)
    assert not np.array_equal(hidden(seed=3, image_ids=np.arange(8) + 2**32), base)
    assert not np.array_equal(hidden(seed=3, image_ids=np.arange(8, dtype=np.uint64) + np.uint64(2**63)), base)
    top = hidden(seed=2**64 - 1, shot_offset=2**64 - 6, image_ids=[2**64 - 1 - i for i in range(8)])
    assert top.shape == base.shape
    # shots continue across 2**32 exactly as below it: a run split at any shot is the run
    whole = predict(net, x, shots=10, seed=3, shot_offset=2**32 - 5).shot_classes
    first = predict(net, x, shots=5, seed=3, shot_offset=2**32 - 5).shot_classes
    rest = predict(net, x, shots=5, seed=3, shot_offset=2**32).shot_classes
    np.testing.assert_array_equal(np.concatenate([first, rest], axis=1), whole)
    # shots at and beyond 2**32 draw fresh numbers: 40 shots past the boundary repeat none of the 40 before
    src = counter_uniform(seed=3, image_ids=[5], shot_offset=2**32 - 40)
    u = src(0, torch.Size([80, 1, 16]), torch.zeros(1, dtype=torch.float64))[:, 0]
    assert len({tuple(row.tolist()) for row in u}) == 80


def test_draws_below_2_32_are_those_of_the_32_bit_counter() -> None:
    """Golden numbers from the 32-bit counter (before shot indexes had a high word): unchanged, bit for bit."""
    f64 = counter_uniform(seed=2**64 - 3, image_ids=torch.tensor([3, 2**40 + 7]), shot_offset=2**32 - 2)
    u = f64(1, torch.Size([2, 2, 3]), torch.zeros(1, dtype=torch.float64))
    assert (u * 2**32).long().tolist() == [
        [[2309813946, 2627589614, 1308363751], [4109631208, 3669134224, 3425642150]],
        [[426951596, 4206391019, 91774279], [3286187552, 3976835203, 3902250527]],
    ]
    f32 = counter_uniform(seed=7, image_ids=torch.tensor([0, 2**63 - 1]))
    u32 = f32(0, torch.Size([2, 2]), torch.zeros(1, dtype=torch.float32))
    assert (u32 * 2**24).long().tolist() == [[1881553, 1525163], [10454935, 14408811]]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_cuda_give_the_same_passes() -> None:  # pragma: no cover - run where CUDA exists
    for dtype in (torch.float32, torch.float64):
        net = _net(2, dtype)
        cpu = predict(net, _IMAGES, shots=7, seed=4, return_hidden=True)
        gpu = predict(net.to("cuda"), _IMAGES, shots=7, seed=4, batch_size=13, return_hidden=True)
        np.testing.assert_array_equal(cpu.shot_classes, gpu.shot_classes)
        for h_cpu, h_gpu in zip(cpu.hidden, gpu.hidden):
            np.testing.assert_array_equal(h_cpu, h_gpu)
