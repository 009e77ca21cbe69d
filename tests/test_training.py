"""Tests of the fit loop, its configuration and its history (qiskit_natural_qnn.training)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from qiskit_natural_qnn.data import Dataset, load_default, take
from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError, InputError
from qiskit_natural_qnn.inference import evaluate
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.training import EpochRecord, History, TrainConfig, fit


def _toy(n: int = 96, n_inputs: int = 10, seed: int = 0) -> Dataset:
    """A linearly separable 2-class problem: label = [sum of the first half > sum of the second]."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, n_inputs), dtype=np.float32)
    y = (x[:, : n_inputs // 2].sum(1) > x[:, n_inputs // 2 :].sum(1)).astype(np.int64)
    return Dataset(x, y, "toy")


# --------------------------------------------------------------------------------------- TrainConfig
def test_train_config_defaults_are_the_paper_recipe() -> None:
    c = TrainConfig()
    assert (c.epochs, c.lr, c.momentum, c.batch_size, c.weight_decay) == (10, 0.01, 0.9, 64, 0.0)
    assert (c.eval_shots, c.eval_every, c.shuffle, c.seed, c.schedule) == (15, 1, True, None, None)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, r"^epochs must be an int >= 1, got 0; pass e\.g\. epochs=10$"),
        ({"epochs": 2.0}, r"^epochs must be an int >= 1, got 2\.0; pass e\.g\. epochs=10$"),
        ({"batch_size": -1}, r"^batch_size must be an int >= 1, got -1; pass e\.g\. batch_size=64$"),
        ({"eval_shots": 0}, r"^eval_shots must be an int >= 1, got 0; pass e\.g\. eval_shots=15$"),
        ({"eval_every": True}, r"^eval_every must be an int >= 1, got True; pass e\.g\. eval_every=1$"),
        ({"lr": 0.0}, r"^lr must be a finite number > 0, got 0\.0; pass e\.g\. lr=0\.01$"),
        ({"lr": float("nan")}, r"^lr must be a finite number > 0, got nan"),
        ({"lr": "0.1"}, r"^lr must be a finite number > 0, got '0\.1'"),
        ({"momentum": 1.0}, r"^momentum must be a number in \[0, 1\), got 1\.0; pass e\.g\. momentum=0\.9"),
        ({"momentum": -0.1}, r"^momentum must be a number in \[0, 1\), got -0\.1"),
        ({"weight_decay": -1e-4}, r"^weight_decay must be a finite number >= 0, got -0\.0001"),
        ({"shuffle": "yes"}, r"^shuffle must be True or False, got 'yes'$"),
        ({"seed": -1}, r"^seed must be None or an int >= 0, got -1; pass e\.g\. seed=0$"),
        ({"seed": 1.5}, r"^seed must be None or an int >= 0, got 1\.5"),
        (
            {"schedule": "step"},
            r"^unknown schedule 'step'; expected None \(constant learning rate\) or one of 'cosine'$",
        ),
    ],
)
def test_train_config_rejects_bad_values(kwargs, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        TrainConfig(**kwargs)


def test_train_config_normalises_numbers_and_replace_validates() -> None:
    c = TrainConfig(epochs=np.int64(3), lr=1, seed=np.int32(4))
    assert type(c.epochs) is int and type(c.lr) is float and type(c.seed) is int
    assert c.replace(epochs=5).epochs == 5
    with pytest.raises(ConfigurationError, match="epochs must be"):
        c.replace(epochs=0)


# ------------------------------------------------------------------------------------------- History
def test_history_json_round_trip(tmp_path) -> None:
    history = History(
        records=[
            EpochRecord(1, 0.9, 0.3, None, None, 1.25),
            EpochRecord(2, 0.5, 0.2, 0.21, 0.125, 1.5),
        ],
        config=TrainConfig(epochs=2, lr=0.05, seed=3, eval_every=2, schedule="cosine"),
        spec={"a": 0.5, "stretch": "tanh", "g": math.pi / 2, "weak_update": "circuit"},
        layer_sizes=[784, 16, 10],
        seed=3,
        version="1.2.3",
        train_data="default-train",
        validation_data="default-validation",
    )
    path = tmp_path / "history.json"
    history.to_json(path)
    assert json.loads(path.read_text())["records"][1]["val_vote_error"] == 0.125
    again = History.from_json(path)
    assert again == history
    assert again.last_validated == history.records[1]


def test_history_from_json_rejects_other_files(tmp_path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DamagedFileError, match=r"is not valid JSON"):
        History.from_json(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"records": []}')
    with pytest.raises(DamagedFileError, match=r"not a training history"):
        History.from_json(tmp_path / "other.json")


# ----------------------------------------------------------------------------------------------- fit
def test_fit_records_every_epoch_and_validates_as_configured(tmp_path) -> None:
    data = _toy()
    net = NaturalQNN(layer_sizes=[10, 12, 2], a=0.5, seed=0)
    config = TrainConfig(epochs=5, eval_every=2, batch_size=16, eval_shots=3, seed=1)
    history = fit(net, data, data, config=config, progress=False, out_dir=tmp_path)
    assert [r.epoch for r in history.records] == [1, 2, 3, 4, 5]
    validated = [r.epoch for r in history.records if r.val_vote_error is not None]
    assert validated == [2, 4, 5]  # every 2 epochs, and always the last
    assert all((r.val_single_shot_error is None) == (r.val_vote_error is None) for r in history.records)
    assert all(r.loss > 0 and 0 <= r.train_error <= 1 and r.seconds > 0 for r in history.records)
    assert history.layer_sizes == [10, 12, 2] and history.spec["a"] == 0.5 and history.seed == 1
    assert history.train_data == "toy" and history.version
    # the files: the history after every epoch, the model at the end
    assert History.from_json(tmp_path / "history.json") == history
    from qiskit_natural_qnn.io import load_model, read_metadata

    loaded = load_model(tmp_path / "model.safetensors")
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), loaded.parameters()))
    user = read_metadata(tmp_path / "model.safetensors").user
    assert user["epochs"] == 5 and user["config"]["eval_every"] == 2 and user["train_data"] == "toy"
    assert user["val_vote_error"] == history.records[-1].val_vote_error


def test_fit_is_reproducible_with_a_seed() -> None:
    data = _toy()

    def run(model_seed: int, train_seed: int) -> tuple[History, list[torch.Tensor]]:
        net = NaturalQNN(layer_sizes=[10, 12, 12, 2], a=0.7, seed=model_seed)
        config = TrainConfig(epochs=2, batch_size=16, eval_shots=3, seed=train_seed)
        history = fit(net, data, data, config=config, progress=False)
        return history, [p.detach().clone() for p in net.parameters()]

    h1, w1 = run(0, 5)
    h2, w2 = run(0, 5)
    h3, w3 = run(0, 6)
    assert all(torch.equal(a, b) for a, b in zip(w1, w2))
    assert [(r.loss, r.val_vote_error) for r in h1.records] == [(r.loss, r.val_vote_error) for r in h2.records]
    assert not all(torch.equal(a, b) for a, b in zip(w1, w3))


def test_fit_without_shuffle_visits_data_in_order() -> None:
    """With shuffle=False and a = 0 (deterministic), the run depends on nothing random."""
    data = _toy()
    weights = []
    for seed in (1, 2):
        net = NaturalQNN(layer_sizes=[10, 12, 2], a=0.0, seed=0)
        fit(net, data, config=TrainConfig(epochs=2, batch_size=16, shuffle=False, seed=seed), progress=False)
        weights.append([p.detach().clone() for p in net.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*weights))


def test_fit_train_error_is_the_training_passes_error() -> None:
    """With lr tiny the weights barely move: train_error equals the pass-by-pass error of a = 0."""
    data = _toy(n=64)
    net = NaturalQNN(layer_sizes=[10, 12, 2], a=0.0, seed=3, dtype=torch.float64)
    before = evaluate(net, data, shots=1, seed=0).single_shot_error
    history = fit(net, data, config=TrainConfig(epochs=1, lr=1e-12, momentum=0.0, batch_size=8, seed=0), progress=False)
    assert history.records[0].train_error == before


def test_fit_learns_mnist_slice() -> None:
    """784-64-64-10, a = 0.5 (tanh), model seed 0, training seed 0, 4 epochs on the first 1000
    images of the default training split; validated on the first 500 validation images with 15 shots.
    Chance is 0.9; the untrained net is near chance; after training the vote error is far below
    (0.15 with these seeds)."""
    split = load_default()
    train, validation = take(split.train, 1000), take(split.validation, 500)
    net = NaturalQNN(layer_sizes=[784, 64, 64, 10], a=0.5, seed=0)
    untrained = evaluate(net, validation, shots=15, seed=0)
    history = fit(net, train, validation, config=TrainConfig(epochs=4, seed=0), progress=False)
    final = history.records[-1]
    assert untrained.vote_error > 0.7
    assert final.val_vote_error < 0.3  # about 0.15-0.19 over model seeds 0-2
    assert final.val_single_shot_error < 0.4
    assert final.val_vote_error < untrained.vote_error - 0.3
    assert final.val_vote_error <= final.val_single_shot_error + 0.02  # voting does not hurt
    assert history.records[-1].loss < history.records[0].loss


def test_fit_cosine_schedule_runs_and_differs_from_constant() -> None:
    data = _toy()
    results = []
    for schedule in (None, "cosine"):
        net = NaturalQNN(layer_sizes=[10, 12, 2], a=0.5, seed=0)
        fit(net, data, config=TrainConfig(epochs=3, batch_size=16, seed=0, schedule=schedule), progress=False)
        results.append(net.layers[0].weight.detach().clone())
    assert not torch.equal(*results)


def test_fit_callbacks_see_records_and_can_stop() -> None:
    data = _toy()
    net = NaturalQNN(layer_sizes=[10, 8, 2], a=0.5, seed=0)
    seen: list[int] = []

    def stop_after_two(record: EpochRecord, model: NaturalQNN) -> bool:
        assert model is net
        seen.append(record.epoch)
        return record.epoch >= 2

    history = fit(net, data, config=TrainConfig(epochs=10, seed=0), progress=False, callbacks=[stop_after_two])
    assert seen == [1, 2] and len(history.records) == 2


def test_fit_progress_bar_shows_errors(capsys) -> None:
    data = _toy(n=32)
    net = NaturalQNN(layer_sizes=[10, 8, 2], a=0.5, seed=0)
    fit(net, data, data, config=TrainConfig(epochs=1, eval_shots=3, seed=0), progress=True)
    err = capsys.readouterr().err
    assert "loss=" in err and "val_vote=" in err


def test_fit_rejects_bad_data_and_config() -> None:
    net = NaturalQNN(layer_sizes=[10, 8, 2], seed=0)
    data = _toy(n=16)
    with pytest.raises(InputError, match=r"labels must lie in \[0, 2\) for a network with 2 outputs, found 2"):
        fit(net, Dataset(data.images, data.labels + 1, "bad"), progress=False)
    with pytest.raises(InputError, match=r"inputs must have shape \(batch, 10\)"):
        fit(net, Dataset(data.images[:, :9], data.labels, "bad"), progress=False)
    with pytest.raises(InputError, match=r"empty batch"):
        fit(net, Dataset(data.images[:0], data.labels[:0], "empty"), progress=False)
    with pytest.raises(InputError, match=r"train must be a Dataset"):
        fit(net, (data.images, data.labels), progress=False)
    with pytest.raises(ConfigurationError, match=r"config must be a TrainConfig, got dict"):
        fit(net, data, config={"epochs": 1}, progress=False)


def test_fit_refuses_non_finite_weights() -> None:
    data = _toy(n=16)
    net = NaturalQNN(layer_sizes=[10, 8, 2], a=0.5, seed=0)
    with torch.no_grad():
        net.layers[1].weight[0, 0] = float("inf")
    with pytest.raises(InputError, match=r"NaN or infinity"):
        fit(net, data, config=TrainConfig(epochs=3, seed=0), progress=False)


def test_fit_stops_when_training_diverges() -> None:
    data = _toy(n=16)
    net = NaturalQNN(layer_sizes=[10, 8, 2], a=0.5, seed=0)
    with pytest.raises(
        InputError, match=r"training diverged: the mean loss of epoch 2 is inf; lower the learning rate \(lr=1e\+38\)"
    ):
        fit(net, data, config=TrainConfig(epochs=3, lr=1e38, seed=0), progress=False)


def test_step_hooks_run_before_training_and_after_every_step():
    """A hook that clamps weights: it must run once up front and after each of the 2 x 4 steps."""
    calls = []

    def clamp(model):
        calls.append(1)
        for w in model.weights():
            w.clamp_(-0.01, 0.01)

    net = NaturalQNN(layer_sizes=[8, 6, 3], a=0.5, seed=0)
    x = torch.rand(32, 8, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (32,), generator=torch.Generator().manual_seed(1))
    data = Dataset(images=x.numpy(), labels=y.numpy(), name="random")
    fit(net, data, config=TrainConfig(epochs=2, batch_size=8, seed=0), progress=False, step_hooks=[clamp])
    assert len(calls) == 1 + 2 * 4
    assert all(float(w.detach().abs().max()) <= 0.01 for w in net.weights())


def test_fit_refuses_preactivations_that_overflow_to_nan_and_non_real_data() -> None:
    """Every non-finite pre-activation stops training, whichever way the CPU's kernel rounds it.

    ``3e38 * 3 * 2 - 3e38 * 3 * 2`` is ``inf - inf``: NaN with separate multiply and add, but ``inf``
    with a fused multiply-add kernel. A single huge product is ``inf`` on every kernel. Both are refused.
    """
    net = NaturalQNN(layer_sizes=[4, 6, 3], a=0.5, seed=0)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.tensor([[3.0, 3.0, -3.0, -3.0]] * 6))
    inf_minus_inf = np.full((8, 4), 3e38, dtype=np.float32)
    one_inf = np.zeros((8, 4), dtype=np.float32)
    one_inf[:, 0] = 3e38
    for images in (inf_minus_inf, one_inf):
        data = Dataset(images, np.zeros(8, dtype=np.int64), "huge")
        with pytest.raises(
            InputError,
            match=r"training diverged in epoch 1: the pre-activations of a hidden layer "
            r"are not finite: W x overflowed torch\.float32 \(to inf or NaN",
        ):
            fit(net, data, config=TrainConfig(epochs=1, lr=1e-30), progress=False)
    bad = Dataset(np.ones((8, 4), dtype=np.complex64), np.zeros(8, dtype=np.int64), "complex")
    with pytest.raises(InputError, match=r"train images must be real numbers, got dtype complex64"):
        fit(net, bad, config=TrainConfig(epochs=1), progress=False)
