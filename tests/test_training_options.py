"""Training options beyond the paper's recipe: several passes per training step, weight averaging,
the surrogate in sweeps, and records and checkpoints written before these options existed."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch

from qiskit_natural_qnn import ConfigurationError, NaturalQNN, TrainConfig, fit
from qiskit_natural_qnn.cli.experiments import add_sweep_parser
from qiskit_natural_qnn.cli.experiments import main as sweep_main
from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.experiments import PointRecord, SweepSettings, load_records
from qiskit_natural_qnn.inference import evaluate
from qiskit_natural_qnn.training.checkpoint import read_checkpoint, write_checkpoint
from tests.records import fake_record


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(n: int = 48, seed: int = 0, d: int = 6, classes: int = 3) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(rng.random((n, d), dtype=np.float32), rng.integers(0, classes, n), "toy")


def _net(**kw) -> NaturalQNN:
    return NaturalQNN(layer_sizes=[6, 8, 8, 3], **{"a": 0.5, "seed": 0, **kw})


# ------------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"train_shots": 0}, r"train_shots must be an int >= 1, got 0; pass e\.g\. train_shots=1"),
        ({"train_shots": 2.0}, r"train_shots must be an int >= 1, got 2\.0"),
        (
            {"epochs": 10, "average_from": 0},
            r"average_from must be None or an epoch in \[1, epochs=10\], got 0; pass e\.g\. average_from=5",
        ),
        ({"epochs": 10, "average_from": 11}, r"average_from must be None or an epoch in \[1, epochs=10\], got 11"),
        ({"epochs": 10, "average_from": True}, r"average_from must be None or an epoch"),
    ],
)
def test_bad_options_are_refused_with_the_fix(kwargs, match) -> None:
    with pytest.raises(ConfigurationError, match=match):
        TrainConfig(**kwargs)


def test_defaults_are_the_paper_recipe() -> None:
    config = TrainConfig()
    assert (config.train_shots, config.average_from) == (1, None)


# --------------------------------------------------------------------------------------- train_shots
def _one_step_gradient(seed: int, shots: int, data: Dataset) -> np.ndarray:
    """Minus the weight change of one full-batch plain-SGD step with lr = 1: the step's gradient."""
    net = _net(a=0.5)
    before = [p.detach().clone() for p in net.parameters()]
    config = TrainConfig(
        epochs=1, batch_size=len(data.labels), lr=1.0, momentum=0.0, shuffle=False, seed=seed, train_shots=shots
    )
    fit(net, data, config=config, progress=False)
    return np.concatenate([(b - p.detach()).numpy().ravel() for b, p in zip(before, net.parameters())])


def test_train_shots_average_the_gradient_over_independent_passes() -> None:
    """K passes per image: the step's gradient keeps its mean and its variance drops by K.

    Seeds 0..299 for each K (300 one-step runs on a fixed 6-8-8-3 network, a = 0.5, 48 images).
    Unbiased: the mean gradients with K = 1 and K = 8 agree within 4.5 standard errors in every
    coordinate with enough signal. Variance: the summed per-coordinate variance ratio K=1 / K=8 lies
    in [5, 12.8] (expected 8; with 300 samples the ratio's relative error is about 8 %). A mean of
    the loss over passes that forgot to divide by K, or passes that were not independent (the same
    sample K times), fails one of the two.
    """
    data = _data()
    g1 = np.stack([_one_step_gradient(s, 1, data) for s in range(300)])
    g8 = np.stack([_one_step_gradient(s, 8, data) for s in range(300)])
    m1, m8 = g1.mean(0), g8.mean(0)
    se = np.sqrt(g1.var(0, ddof=1) / 300 + g8.var(0, ddof=1) / 300)
    live = se > 1e-6
    assert live.sum() > 50
    z = np.abs(m1 - m8)[live] / se[live]
    assert z.max() < 4.5, z.max()
    ratio = g1.var(0, ddof=1)[live].sum() / g8.var(0, ddof=1)[live].sum()
    assert 5.0 <= ratio <= 12.8, ratio


def test_train_shots_count_every_pass_in_the_training_error() -> None:
    data = _data()
    history = fit(_net(a=2.0), data, config=TrainConfig(epochs=2, batch_size=16, seed=0, train_shots=3), progress=False)
    for record in history.records:
        wrong = record.train_error * 48 * 3
        assert abs(wrong - round(wrong)) < 1e-9 and 0 <= record.train_error <= 1
    assert history.config.train_shots == 3


def test_one_train_shot_is_the_default_path_bit_for_bit() -> None:
    data, val = _data(), _data(seed=1)
    nets = [_net(g=1.0), _net(g=1.0)]
    h0 = fit(nets[0], data, val, config=TrainConfig(epochs=2, batch_size=8, seed=3), progress=False)
    h1 = fit(nets[1], data, val, config=TrainConfig(epochs=2, batch_size=8, seed=3, train_shots=1), progress=False)
    assert [(r.loss, r.train_error, r.val_vote_error) for r in h0.records] == [
        (r.loss, r.train_error, r.val_vote_error) for r in h1.records
    ]
    assert all(torch.equal(p, q) for p, q in zip(nets[0].parameters(), nets[1].parameters()))


# --------------------------------------------------------------------------------------- averaging
def _epoch_weights():
    seen: list[list[torch.Tensor]] = []

    def callback(record, model):
        seen.append([p.detach().clone() for p in model.parameters()])

    return seen, callback


def test_the_trained_model_is_the_mean_of_the_epoch_end_weights_from_average_from_on() -> None:
    seen, callback = _epoch_weights()
    net = _net()
    fit(
        net,
        _data(),
        config=TrainConfig(epochs=6, batch_size=8, seed=0, average_from=3),
        callbacks=[callback],
        progress=False,
    )
    assert len(seen) == 6
    for i, p in enumerate(net.parameters()):
        expected = torch.stack([w[i] for w in seen[2:]]).double().mean(0)
        torch.testing.assert_close(p.detach().double(), expected, rtol=0, atol=1e-6)
        assert not torch.allclose(p.detach(), seen[-1][i])  # not simply the last weights


def test_validations_from_average_from_on_evaluate_the_average() -> None:
    """A classical network (a = 0) votes deterministically, so the recorded validation error must be
    exactly the error of the averaged weights, and before ``average_from`` that of the current ones."""
    train, val = _data(n=96), _data(n=64, seed=1)
    seen, callback = _epoch_weights()
    net = _net(a=0.0)
    history = fit(
        net,
        train,
        val,
        config=TrainConfig(epochs=5, batch_size=8, seed=0, average_from=3),
        callbacks=[callback],
        progress=False,
    )

    def error_of(weights) -> float:
        probe = _net(a=0.0)
        with torch.no_grad():
            for p, w in zip(probe.parameters(), weights):
                p.copy_(w)
        return evaluate(probe, val, shots=1, seed=0).vote_error

    for epoch, record in enumerate(history.records, start=1):
        if epoch < 3:
            weights = seen[epoch - 1]
        else:
            weights = [torch.stack([w[i] for w in seen[2:epoch]]).mean(0) for i in range(len(seen[0]))]
        assert record.val_vote_error == pytest.approx(error_of(weights), abs=1e-12), epoch
    assert history.records[-1].val_vote_error == pytest.approx(evaluate(net, val, shots=1, seed=0).vote_error)


def test_average_from_the_last_epoch_changes_nothing() -> None:
    data, val = _data(), _data(seed=1)
    nets = [_net(g=1.0), _net(g=1.0)]
    h0 = fit(nets[0], data, val, config=TrainConfig(epochs=3, batch_size=8, seed=2), progress=False)
    h1 = fit(nets[1], data, val, config=TrainConfig(epochs=3, batch_size=8, seed=2, average_from=3), progress=False)
    assert [(r.loss, r.val_vote_error) for r in h0.records] == [(r.loss, r.val_vote_error) for r in h1.records]
    assert all(torch.equal(p, q) for p, q in zip(nets[0].parameters(), nets[1].parameters()))


def test_step_hooks_apply_to_the_average() -> None:
    calls: list[float] = []

    def hook(model):
        calls.append(float(model.layers[0].weight.detach().abs().sum()))

    fit(
        _net(),
        _data(),
        config=TrainConfig(epochs=2, batch_size=48, seed=0, average_from=1),
        step_hooks=[hook],
        progress=False,
    )
    assert len(calls) == 1 + 2 + 1  # before training, after each of 2 steps, once on the average


class _Crash(Exception):
    pass


@pytest.mark.parametrize("crash", [3, 7, 9, 14, 20])
def test_resume_with_averaging_and_train_shots_is_exact(tmp_path, crash) -> None:
    """Interrupted after ``crash`` of 24 steps (8 per epoch, averaging from epoch 2), resumed: bit-exact."""
    config = TrainConfig(epochs=3, batch_size=6, eval_shots=3, seed=1, average_from=2, train_shots=2)
    ref = _net(g=1.0)
    ref_history = fit(ref, _data(), _data(seed=1), config=config, progress=False)
    calls = [0]

    def crash_hook(model):
        calls[0] += 1
        if calls[0] == crash + 1:
            raise _Crash

    with pytest.raises(_Crash):
        fit(
            _net(g=1.0),
            _data(),
            _data(seed=1),
            config=config,
            progress=False,
            checkpoint_dir=tmp_path,
            checkpoint_every=2,
            step_hooks=[crash_hook],
        )
    resumed = _net(g=1.0, seed=5)
    history = fit(
        resumed,
        _data(),
        _data(seed=1),
        config=config,
        progress=False,
        checkpoint_dir=tmp_path,
        checkpoint_every=2,
        resume=True,
    )
    assert all(torch.equal(p, q) for p, q in zip(ref.parameters(), resumed.parameters()))
    strip = [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in ref_history.records]
    assert [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in history.records] == strip


def test_a_checkpoint_without_the_average_is_refused(tmp_path) -> None:
    config = TrainConfig(epochs=2, batch_size=16, seed=1, average_from=1)
    fit(_net(), _data(), config=config, progress=False, checkpoint_dir=tmp_path)
    ckpt = read_checkpoint(tmp_path)
    tensors = {k: v for k, v in ckpt.tensors.items() if not k.startswith("average.")}
    write_checkpoint(tmp_path, tensors, ckpt.state)
    with pytest.raises(Exception, match=r"average\.layers\.0\.weight is missing"):
        fit(_net(), _data(), config=config, progress=False, checkpoint_dir=tmp_path, resume=True)


def test_a_checkpoint_from_before_the_options_still_resumes(tmp_path) -> None:
    """Checkpoints written before ``train_shots``/``average_from`` existed mean the paper's values."""
    config = TrainConfig(epochs=2, batch_size=16, seed=1)
    ref = _net()
    fit(ref, _data(), config=config, progress=False)
    fit(
        _net(),
        _data(),
        config=config.replace(epochs=2),
        progress=False,
        checkpoint_dir=tmp_path,
        callbacks=[lambda record, model: record.epoch == 1],
    )  # stopped after epoch 1
    ckpt = read_checkpoint(tmp_path)
    state = json.loads(json.dumps(ckpt.state))
    for key in ("train_shots", "average_from"):
        del state["run"]["config"][key]
        del state["history"]["config"][key]
    state.pop("n_averaged")
    state["stopped"] = False
    write_checkpoint(tmp_path, ckpt.tensors, state)
    net = _net()
    fit(net, _data(), config=config, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert all(torch.equal(p, q) for p, q in zip(ref.parameters(), net.parameters()))


# ------------------------------------------------------------------------------------------- sweeps
def test_records_from_before_the_options_match_the_default_settings(tmp_path) -> None:
    """A record written before ``surrogate``/``train_shots``/``average_from`` existed reads as the
    paper's recipe, so resuming an old results directory skips its points instead of refusing them."""
    settings = SweepSettings(hidden=(16,), config=TrainConfig(epochs=1))
    old = fake_record(settings=settings.to_dict()).to_dict()
    del old["settings"]["surrogate"]
    for key in ("train_shots", "average_from"):
        del old["settings"]["config"][key]
    record = PointRecord.from_dict(old)
    assert record.settings == settings.to_dict()
    assert record.settings["surrogate"] == "hardtanh" and record.settings["config"]["train_shots"] == 1


def test_sweep_command_records_the_options(tmp_path) -> None:
    argv = [
        "sweep",
        "--param",
        "a",
        "--values",
        "1",
        "--seeds",
        "1",
        "--epochs",
        "2",
        "--hidden",
        "8",
        "--stretch",
        "linear",
        "--surrogate",
        "expected",
        "--train-shots",
        "2",
        "--average-from",
        "2",
        "--limit",
        "60",
        "--shots",
        "3",
        "--eval-every",
        "1",
        "--results-dir",
        str(tmp_path),
        "--no-progress",
        "--no-plots",
        "--device",
        "cpu",
    ]
    assert sweep_main(argv) == 0
    (record,) = load_records(tmp_path)
    assert record.settings["surrogate"] == "expected" and record.settings["stretch"] == "linear"
    assert (record.settings["config"]["train_shots"], record.settings["config"]["average_from"]) == (2, 2)
    assert math.isfinite(record.val_vote_error)
    # the same directory with another option is refused, naming the difference
    parser = argparse.ArgumentParser()
    add_sweep_parser(parser.add_subparsers(dest="command"))
    other = list(argv)
    other[other.index("--train-shots") + 1] = "3"
    args = parser.parse_args(other)
    with pytest.raises(ConfigurationError, match=r"was recorded with config=.*'train_shots': 2"):
        args.handler(args)
    other = list(argv)
    other[other.index("--surrogate") + 1] = "hardtanh"
    args = parser.parse_args(other)
    with pytest.raises(
        ConfigurationError,
        match=r"was recorded with surrogate='expected', but this sweep has "
        r"surrogate='hardtanh'",
    ):
        args.handler(args)
