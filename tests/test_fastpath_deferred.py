"""Checks the training loop defers to the epoch's end instead of synchronising with the host every layer:
overflowing pre-activations and the linear stretch's refused rotations (qiskit_natural_qnn.fastpath)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.exceptions import InputError
from qiskit_natural_qnn.fastpath import DeferredChecks, deferring, finite_witness, sample_network
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.neurons import Neuron, Stretch
from qiskit_natural_qnn.training import TrainConfig, fit

REFUSED = (
    r"^a pre-activation \|z\| = .* gives the linear stretch's neuron the rotation .* beyond MAX_ANGLE = 2\*\*24 \* pi"
)


@pytest.mark.parametrize("dtype", (torch.float16, torch.float32, torch.float64))
def test_the_witness_is_finite_exactly_when_every_value_is(dtype) -> None:
    big = torch.full((64, 512), torch.finfo(dtype).max, dtype=dtype)  # its sum overflows the dtype, not the witness
    assert bool(finite_witness(big).isfinite()) and bool(finite_witness(-big).isfinite())
    for bad in (float("inf"), -float("inf"), float("nan")):
        z = big.clone()
        z[17, 3] = bad
        assert not bool(finite_witness(z).isfinite())
        assert finite_witness(torch.stack([big, z]), leading=1).isfinite().tolist() == [True, False]


def test_deferred_checks_report_the_first_problem_once() -> None:
    checks = DeferredChecks(device="cpu")
    checks.preactivations(torch.ones(3, 4))
    assert checks.error(epoch=1, dtype=torch.float32) is None
    checks.preactivations(torch.tensor([[1.0, float("inf")]]))
    error = checks.error(epoch=4, dtype=torch.float32)
    assert isinstance(error, InputError)
    assert str(error).startswith("training diverged in epoch 4: the pre-activations of a hidden layer are not finite")
    checks.rotations(torch.tensor(2.0**30, dtype=torch.float64), 0.5)  # a refused rotation comes first
    assert str(checks.error(epoch=4, dtype=torch.float32)).startswith("a pre-activation |z| = 5.36871e+08 gives")


def test_a_stack_keeps_one_record_per_network() -> None:
    checks = DeferredChecks(device="cpu", networks=3)
    z = torch.ones(3, 2, 4)
    z[2, 1, 1] = float("nan")
    checks.preactivations(z)
    checks.rotations(torch.tensor(2.0**26, dtype=torch.float64), 1.0, index=1)
    assert checks.member(0).error(dtype=torch.float32) is None
    assert str(checks.member(1).error(dtype=torch.float32)).startswith("a pre-activation |z| = 6.71089e+07")
    assert "are not finite" in str(checks.member(2).error(dtype=torch.float32))


def test_sampling_inside_deferring_records_a_refused_rotation_instead_of_raising() -> None:
    weights = [torch.full((4, 2), 1e9), torch.ones(2, 4)]
    x = torch.ones(3, 2)
    neuron = Neuron(stretch=Stretch(a=1.0, kind="linear"))
    with pytest.raises(InputError, match=REFUSED):  # at once, outside a training step
        sample_network(x, weights, [None, None], neuron, generator=torch.Generator().manual_seed(0))
    checks = DeferredChecks(device="cpu")
    with deferring(checks):
        sample_network(x, weights, [None, None], neuron, generator=torch.Generator().manual_seed(0))
    error = checks.error(epoch=1, dtype=torch.float32)
    assert isinstance(error, InputError) and str(error).startswith("a pre-activation |z| = 2e+09 gives")
    with pytest.raises(InputError, match=REFUSED):  # and at once again after the block
        sample_network(x, weights, [None, None], neuron, generator=torch.Generator().manual_seed(0))


def test_fit_raises_a_refused_rotation_at_the_end_of_the_epoch() -> None:
    rng = np.random.default_rng(0)
    data = Dataset(rng.random((40, 6), dtype=np.float32), rng.integers(0, 2, 40), "toy")
    net = NaturalQNN(layer_sizes=[6, 8, 2], a=1.0, stretch="linear", seed=0)
    with torch.no_grad():
        net.layers[0].weight.fill_(1e8)
    with pytest.raises(InputError, match=REFUSED):
        fit(net, data, None, config=TrainConfig(epochs=2, batch_size=8), progress=False)
