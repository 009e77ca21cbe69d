"""Tests of fit_ensemble: K networks trained at once end as K serial fit calls (qiskit_natural_qnn.training.ensemble).

The comparisons are exact (tolerance 0): with the session's one torch thread (conftest.py) every weight
and every history field but ``seconds`` must be equal bit for bit, as the module docstring promises.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.training import History, TrainConfig, fit
from qiskit_natural_qnn.training.ensemble import SHARED_FIELDS, fit_ensemble

#: Three networks of different sampling kinds, stretches, angles and seeds: tanh with Method 1, the sign
#: neuron with Method 2 (weak readouts, carried state) and hardtanh with Method 2.
SPECS = (
    {"a": 0.5, "seed": 1},
    {"a": 0.0, "g": math.pi / 4, "seed": 2},
    {"a": 1.0, "stretch": "hardtanh", "g": 0.6, "seed": 3},
)

#: The rarer kinds, which sample network by network or attach slopes one network at a time: the
#: expected-activation surrogate, the authors' update rule, the linear stretch, the classical network.
RARE_SPECS = (
    {"a": 0.5, "surrogate": "expected", "seed": 4},
    {"a": 0.7, "g": 0.3, "weak_update": "authors_arcsin", "seed": 5},
    {"a": 2.0, "stretch": "linear", "seed": 6},
    {"a": 0.0, "seed": 7},
    {"a": 0.3, "g": 0.9, "seed": 8},
)


def _toy(n: int, n_inputs: int = 10, seed: int = 0) -> Dataset:
    """A linearly separable 3-class problem."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_inputs), dtype=np.float32)
    y = np.digitize(x[:, : n_inputs // 2].sum(1) - x[:, n_inputs // 2 :].sum(1), [-0.4, 0.4]).astype(np.int64)
    return Dataset(x, y, f"toy{seed}")


TRAIN, VALIDATION = _toy(96, seed=0), _toy(40, seed=1)


def _nets(specs, layer_sizes, **kwargs) -> list[NaturalQNN]:
    return [NaturalQNN(layer_sizes=layer_sizes, **spec, **kwargs) for spec in specs]


def _records(history: History) -> list[tuple]:
    """A history's numbers except the wall time."""
    return [(r.epoch, r.loss, r.train_error, r.val_single_shot_error, r.val_vote_error) for r in history.records]


def _assert_same_training(serial, ensemble, serial_histories, ensemble_histories) -> None:
    for k, (a, b, ha, hb) in enumerate(zip(serial, ensemble, serial_histories, ensemble_histories)):
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            assert torch.equal(p, q), f"network {k}: {name} differs by up to {float((p - q).abs().max())}"
        assert _records(ha) == _records(hb), f"network {k}"
        assert (ha.config, ha.spec, ha.seed, ha.layer_sizes) == (hb.config, hb.spec, hb.seed, hb.layer_sizes)


def _serial(nets, configs, train=TRAIN, validation=VALIDATION) -> list[History]:
    return [fit(net, train, validation, config=c, progress=False) for net, c in zip(nets, configs)]


# ------------------------------------------------------------------------------------------ exactness
@pytest.mark.parametrize(
    ("layer_sizes", "kwargs"),
    [
        ([10, 16, 16, 16, 3], {}),  # every slice fills whole vector blocks: stacked sampling
        ([10, 8, 8, 3], {"bias": True}),  # tiny: bmm's own loop and unaligned slices, so slice by slice
        ([10, 6, 6, 6, 3], {"dtype": torch.float64}),
    ],
)
def test_each_network_ends_exactly_as_its_serial_fit(layer_sizes, kwargs) -> None:
    assert torch.get_num_threads() == 1  # the promise holds against fit with one thread
    configs = [TrainConfig(epochs=3, batch_size=16, eval_shots=3, seed=s) for s in (10, 11, 12)]
    serial, ensemble = _nets(SPECS, layer_sizes, **kwargs), _nets(SPECS, layer_sizes, **kwargs)
    serial_histories = _serial(serial, configs)
    ensemble_histories = fit_ensemble(ensemble, TRAIN, VALIDATION, configs=configs)
    _assert_same_training(serial, ensemble, serial_histories, ensemble_histories)
    assert all(len(h.records) == 3 and h.records[-1].val_vote_error is not None for h in ensemble_histories)


def test_recipes_may_differ_in_everything_but_the_steps() -> None:
    """Learning rates, momentum, weight decay, schedules, weight averages and validation differ per network;
    two training passes per image; the rarer kinds of network (sampled one network at a time)."""
    configs = [
        TrainConfig(
            epochs=3,
            batch_size=16,
            train_shots=2,
            eval_shots=3,
            seed=k,
            lr=0.01 * (1 + k % 3),
            momentum=0.9 if k % 2 else 0.0,
            weight_decay=0.001 * (k % 2),
            schedule="cosine" if k % 3 == 0 else None,
            average_from=2 if k == 1 else None,
            eval_every=1 + k % 2,
        )
        for k in range(len(RARE_SPECS))
    ]
    serial, ensemble = _nets(RARE_SPECS, [10, 16, 16, 16, 3]), _nets(RARE_SPECS, [10, 16, 16, 16, 3])
    _assert_same_training(
        serial, ensemble, _serial(serial, configs), fit_ensemble(ensemble, TRAIN, VALIDATION, configs=configs)
    )


def test_the_data_are_checked_once_for_every_network(monkeypatch) -> None:
    """fit_ensemble reads its training data once (not once per network); a checked dataset of another dtype is re-read."""
    from qiskit_natural_qnn.training.loop import CheckedDataset, check_dataset

    calls: list[tuple[int, ...]] = []
    real = NaturalQNN.check_input

    def counted(self, x):
        calls.append(tuple(np.shape(x)))
        return real(self, x)

    monkeypatch.setattr(NaturalQNN, "check_input", counted)
    fit_ensemble(_nets(SPECS, [10, 6, 3]), TRAIN, None, configs=TrainConfig(epochs=1, seed=0))
    assert calls == [(96, 10)]
    checked = check_dataset(NaturalQNN(layer_sizes=[10, 6, 3], seed=0), TRAIN, "train")
    assert isinstance(checked, CheckedDataset) and checked.images.dtype == torch.float32
    calls.clear()
    wide = NaturalQNN(layer_sizes=[10, 6, 3], seed=0, dtype=torch.float64)
    x, _, _, _ = check_dataset(wide, checked, "train")  # float32 tensors for a float64 network: read again
    assert calls == [(96, 10)] and x.dtype == torch.float64
    with pytest.raises(InputError, match="labels"):  # checked for 3 classes, given to a 2-class network: read again
        check_dataset(NaturalQNN(layer_sizes=[10, 6, 2], seed=0), checked, "train")


def test_a_different_seed_changes_only_that_network() -> None:
    layer_sizes = [10, 16, 16, 16, 3]
    first = fit_ensemble(
        _nets(SPECS, layer_sizes), TRAIN, None, configs=[TrainConfig(epochs=2, seed=s) for s in (0, 1, 2)]
    )
    nets_a, nets_b = _nets(SPECS, layer_sizes), _nets(SPECS, layer_sizes)
    a = fit_ensemble(nets_a, TRAIN, None, configs=[TrainConfig(epochs=2, seed=s) for s in (0, 1, 2)])
    b = fit_ensemble(nets_b, TRAIN, None, configs=[TrainConfig(epochs=2, seed=s) for s in (0, 7, 2)])
    assert [_records(h) for h in first] == [_records(h) for h in a]  # reproducible
    for k in (0, 2):
        assert all(torch.equal(p, q) for p, q in zip(nets_a[k].parameters(), nets_b[k].parameters()))
        assert _records(a[k]) == _records(b[k])
    assert not all(torch.equal(p, q) for p, q in zip(nets_a[1].parameters(), nets_b[1].parameters()))
    assert _records(a[1]) != _records(b[1])


def test_outputs_are_the_files_fit_writes(tmp_path) -> None:
    configs = [TrainConfig(epochs=2, batch_size=32, eval_shots=3, seed=s) for s in (0, 1, 2)]
    serial, ensemble = _nets(SPECS, [10, 16, 16, 16, 3]), _nets(SPECS, [10, 16, 16, 16, 3])
    for k, (net, c) in enumerate(zip(serial, configs)):
        fit(net, TRAIN, VALIDATION, config=c, progress=False, out_dir=tmp_path / f"serial{k}")
    fit_ensemble(ensemble, TRAIN, VALIDATION, configs=configs, out_dirs=[tmp_path / f"ens{k}" for k in range(3)])
    for k in range(3):
        one, other = (json.loads((tmp_path / f"{d}{k}" / "history.json").read_text()) for d in ("serial", "ens"))
        for record in one["records"] + other["records"]:
            record.pop("seconds")
        assert one == other
        assert (tmp_path / f"ens{k}" / "model.safetensors").is_file()


def test_a_refused_rotation_stops_the_ensemble_naming_the_network() -> None:
    """The linear stretch's refusal is deferred to the epoch's end (no host synchronisation per layer) and
    raised as fit raises it, naming the network."""
    nets = _nets(({"a": 1.0, "stretch": "linear", "seed": 0}, {"a": 1.0, "stretch": "linear", "seed": 1}), [10, 8, 3])
    with torch.no_grad():
        nets[1].layers[0].weight.fill_(1e8)  # pi/2 * z/a far beyond MAX_ANGLE for pixels in [0, 1]
    with pytest.raises(
        InputError, match=r"^network 1 of the ensemble \(a=1\.0, g=1\.5708, seed=5\): a pre-activation .*MAX_ANGLE"
    ):
        fit_ensemble(nets, TRAIN, None, configs=[TrainConfig(epochs=1, seed=0), TrainConfig(epochs=1, seed=5)])


# ------------------------------------------------------------------------------------------ refusals
def _pair(**second) -> list[NaturalQNN]:
    return [NaturalQNN(layer_sizes=[10, 8, 3], seed=0), NaturalQNN(**{"layer_sizes": [10, 8, 3], "seed": 1, **second})]


@pytest.mark.parametrize(
    ("models", "match"),
    [
        (lambda: _pair(layer_sizes=[10, 9, 3]), r"must share layer sizes, biases, dtype and device: network 0 has "),
        (lambda: _pair(bias=True), r"network 1 has \(\[10, 8, 3\], True, torch\.float32, 'cpu'\)"),
        (lambda: _pair(dtype=torch.float64), r"network 1 has \(\[10, 8, 3\], False, torch\.float64, 'cpu'\)"),
        (lambda: [NaturalQNN(layer_sizes=[10, 8, 3], dtype=torch.float16)] * 1, r"float32 or float64 networks, got"),
        (lambda: [NaturalQNN(layer_sizes=[10, 8, 3])] * 2, r"the same network more than once"),
        (lambda: [], r"^models must be a non-empty sequence of NaturalQNN, got list"),
        (
            lambda: NaturalQNN(layer_sizes=[10, 8, 3]),
            r"^models must be a non-empty sequence of NaturalQNN, got NaturalQNN",
        ),
    ],
)
def test_networks_that_cannot_train_together_are_refused(models, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        fit_ensemble(models(), TRAIN)


@pytest.mark.parametrize("field", SHARED_FIELDS)
def test_recipes_must_share_the_fields_that_set_the_steps(field) -> None:
    other = {"epochs": 2, "batch_size": 32, "train_shots": 2, "shuffle": False}[field]
    configs = [TrainConfig(), TrainConfig().replace(**{field: other})]
    with pytest.raises(ConfigurationError, match=rf"their configs must share {field}, got \["):
        fit_ensemble(_pair(), TRAIN, configs=configs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"configs": [TrainConfig()]}, r"^configs must be a TrainConfig or a sequence of 2 \(one per network\), got 1"),
        ({"configs": [TrainConfig(), {"epochs": 1}]}, r"^configs\[1\] must be a TrainConfig, got dict$"),
        ({"out_dirs": "runs"}, r"^out_dirs must be None or one directory \(or None\) per network \(2\), got 'runs'"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        fit_ensemble(_pair(), TRAIN, **kwargs)
