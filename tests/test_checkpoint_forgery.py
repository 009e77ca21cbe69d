"""Forged checkpoints: edited, then digested again, they are refused on resume, naming the file and the field.

A checkpoint's SHA-256 digest detects accidental damage, not forgery: anyone with the source can
recompute it. Each case below edits one field of a real checkpoint and writes it again with
``write_checkpoint``, which digests it with the library's own function (as an attacker with the source
would), so the file passes ``read_checkpoint``. Resuming must still refuse it, because everything a
checkpoint restores is checked against what the resumed run's own ``TrainConfig`` and network imply.
The controls resume the untouched checkpoints bit-exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from qiskit_natural_qnn import ConfigurationError, DamagedFileError, NaturalQNN, TrainConfig, fit
from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.training.checkpoint import CHECKPOINT_FILE, Checkpoint, read_checkpoint, write_checkpoint

#: With momentum, a cosine schedule, weight averaging from epoch 1, validation every epoch and a seed.
_FULL = TrainConfig(epochs=3, batch_size=8, eval_shots=2, seed=1, schedule="cosine", average_from=1)
#: Plain SGD, no schedule, no shuffle, no averaging, no validation.
_PLAIN = TrainConfig(epochs=2, batch_size=8, eval_shots=2, seed=2, momentum=0.0, shuffle=False)

#: The crash comes in step 5 (3 steps per epoch), before its checkpoint: the last one is after step 1 of epoch 2.
_CRASH_AFTER = 5


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(rng.random((24, 4), dtype=np.float32), rng.integers(0, 2, 24), "toy")


def _net() -> NaturalQNN:
    return NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, g=1.0, seed=0)


def _validation(config: TrainConfig) -> Dataset | None:
    return _data(1) if config is _FULL else None


class _Crash(Exception):
    pass


def _crash_after(steps: int) -> Callable[[NaturalQNN], None]:
    """A step hook that raises once ``steps`` optimizer steps are done (its first call is before step 1)."""
    calls = [0]

    def hook(model: NaturalQNN) -> None:
        calls[0] += 1
        if calls[0] == steps + 1:
            raise _Crash

    return hook


def _checkpoint(folder: Path, config: TrainConfig) -> Checkpoint:
    """Train ``config`` with a checkpoint after every step, crash mid-epoch 2, return the last checkpoint."""
    with pytest.raises(_Crash):
        fit(
            _net(),
            _data(0),
            _validation(config),
            config=config,
            progress=False,
            checkpoint_dir=folder,
            checkpoint_every=1,
            step_hooks=[_crash_after(_CRASH_AFTER)],
        )
    ckpt = read_checkpoint(folder)
    assert (ckpt.state["epochs_done"], ckpt.state["epoch_step"]) == (1, 1)
    return ckpt


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Checkpoint:
    return _checkpoint(tmp_path_factory.mktemp("full"), _FULL)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Checkpoint:
    return _checkpoint(tmp_path_factory.mktemp("plain"), _PLAIN)


def _resume(folder: Path, config: TrainConfig) -> NaturalQNN:
    net = _net()
    fit(net, _data(0), _validation(config), config=config, progress=False, checkpoint_dir=folder, resume=True)
    return net


def _forge(folder: Path, ckpt: Checkpoint, edit: Callable[[dict[str, Any], dict[str, torch.Tensor]], None]) -> Path:
    """Write ``ckpt`` edited by ``edit`` (on copies) to ``folder``, with a digest that matches the edit."""
    state = json.loads(json.dumps(ckpt.state))
    tensors = {name: t.clone() for name, t in ckpt.tensors.items()}
    edit(state, tensors)
    path = write_checkpoint(folder, tensors, state)  # digests it with the library's own function
    read_checkpoint(folder)  # the forgery passes the digest check
    return path


# ------------------------------------------------------------------------------------------- edits
def _group(key: str, value: Any):
    def edit(state, tensors):
        state["optimizer"]["param_groups"][0][key] = value

    return edit


def _del_group_key(key: str):
    def edit(state, tensors):
        del state["optimizer"]["param_groups"][0][key]

    return edit


def _groups(change: Callable[[list], list]):
    def edit(state, tensors):
        state["optimizer"]["param_groups"] = change(state["optimizer"]["param_groups"])

    return edit


def _opt_plain(change: Callable[[dict], None]):
    def edit(state, tensors):
        change(state["optimizer"]["state"])

    return edit


def _tensor(name: str, change: Callable[[torch.Tensor], torch.Tensor | None]):
    def edit(state, tensors):
        new = change(tensors[name])
        if new is None:
            del tensors[name]
        else:
            tensors[name] = new

    return edit


def _add_tensor(name: str, value: torch.Tensor):
    def edit(state, tensors):
        tensors[name] = value

    return edit


def _set(*path_and_value: Any):
    """Set ``state[k1][k2]...[kn] = value``."""
    *path, value = path_and_value

    def edit(state, tensors):
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def _both(*edits):
    def edit(state, tensors):
        for e in edits:
            e(state, tensors)

    return edit


def _nan(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = math.nan
    return t


def _inf(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[-1] = math.inf
    return t


def _record(key: str, value: Any):
    return _set("history", "records", 0, key, value)


def _lr_one_ulp_lower(state, tensors):
    group = state["optimizer"]["param_groups"][0]
    group["lr"] = math.nextafter(group["lr"], 0.0)


def _duplicate_record(state, tensors):
    records = state["history"]["records"]
    records.append({**records[0], "epoch": 2})


_M0, _M1 = "optimizer.0.momentum_buffer", "optimizer.1.momentum_buffer"

#: (id, edit, expected error, regex naming the field), for the checkpoint of _FULL.
_FULL_CASES: list[tuple[str, Any, type[Exception], str]] = [
    # the optimizer's hyper-parameters, each against what TrainConfig implies
    ("lr-100", _group("lr", 100.0), DamagedFileError, r"param_groups\[0\]\.lr is 100\.0, but .* implies 0\.0075"),
    ("lr-unscheduled", _group("lr", 0.01), DamagedFileError, r"param_groups\[0\]\.lr is 0\.01, but"),
    ("lr-one-ulp", _lr_one_ulp_lower, DamagedFileError, r"param_groups\[0\]\.lr is 0\.007\d+, but .* 0\.0075"),
    ("lr-string", _group("lr", "0.0075"), DamagedFileError, r"param_groups\[0\]\.lr is '0\.0075'"),
    ("momentum-0", _group("momentum", 0.0), DamagedFileError, r"param_groups\[0\]\.momentum is 0\.0, .* implies 0\.9"),
    ("momentum-0.99", _group("momentum", 0.99), DamagedFileError, r"param_groups\[0\]\.momentum is 0\.99"),
    ("maximize", _group("maximize", True), DamagedFileError, r"param_groups\[0\]\.maximize is True, .* False"),
    ("nesterov", _group("nesterov", True), DamagedFileError, r"param_groups\[0\]\.nesterov is True"),
    ("dampening", _group("dampening", 0.5), DamagedFileError, r"param_groups\[0\]\.dampening is 0\.5, .* implies 0"),
    ("weight-decay", _group("weight_decay", 0.1), DamagedFileError, r"param_groups\[0\]\.weight_decay is 0\.1"),
    ("foreach", _group("foreach", True), DamagedFileError, r"param_groups\[0\]\.foreach is True, .* None"),
    ("differentiable", _group("differentiable", True), DamagedFileError, r"param_groups\[0\]\.differentiable is"),
    ("fused", _group("fused", True), DamagedFileError, r"param_groups\[0\]\.fused is True"),
    ("initial-lr", _group("initial_lr", 1.0), DamagedFileError, r"param_groups\[0\]\.initial_lr is 1\.0"),
    ("maximize-as-int", _group("maximize", 0), DamagedFileError, r"param_groups\[0\]\.maximize is 0, .* False"),
    ("extra-group-key", _group("betas", [0.9, 0.99]), DamagedFileError, r"param_groups\[0\] has the entries"),
    ("missing-group-key", _del_group_key("nesterov"), DamagedFileError, r"param_groups\[0\] has the entries"),
    ("extra-group", _groups(lambda g: g + g), DamagedFileError, r"param_groups must be one .* got 2 group"),
    ("no-group", _groups(lambda g: []), DamagedFileError, r"param_groups must be one .* got 0 group"),
    ("params-swapped", _group("params", [1, 0]), DamagedFileError, r"param_groups\[0\]\.params is \[1, 0\]"),
    # the momentum buffers, each against its parameter
    ("buffer-shape", _tensor(_M0, lambda t: t.reshape(-1)), DamagedFileError, rf"{_M0} is torch\.float32 \(12,\)"),
    ("buffer-scalar", _tensor(_M0, lambda t: t[0, 0]), DamagedFileError, rf"{_M0} is torch\.float32 \(\)"),
    ("buffer-dtype", _tensor(_M1, lambda t: t.double()), DamagedFileError, rf"{_M1} is torch\.float64 \(2, 3\)"),
    ("buffer-nan", _tensor(_M0, _nan), DamagedFileError, rf"{_M0} holds NaN or infinity"),
    ("buffer-inf", _tensor(_M1, _inf), DamagedFileError, rf"{_M1} holds NaN or infinity"),
    ("buffer-missing", _tensor(_M1, lambda t: None), DamagedFileError, rf"{_M1} is missing"),
    (
        "buffer-and-entry-missing",
        _both(_tensor(_M1, lambda t: None), _opt_plain(lambda s: s.pop("1"))),
        DamagedFileError,
        r"optimizer state must hold an empty entry for each of the parameters \[0, 1\]",
    ),
    (
        "extra-state-tensor",
        _add_tensor("optimizer.0.step", torch.tensor(3.0)),
        DamagedFileError,
        r"unexpected optimizer tensor\(s\) optimizer\.0\.step",
    ),
    (
        "extra-state-entry",
        _opt_plain(lambda s: s["0"].update(step=3)),
        DamagedFileError,
        r"optimizer state must hold an empty entry",
    ),
    ("state-of-unknown-parameter", _opt_plain(lambda s: s.update({"7": {}})), DamagedFileError, r"optimizer state"),
    # the scheduler, against the schedule replayed to the checkpoint's epoch
    ("sched-last-epoch", _set("scheduler", "last_epoch", 0), DamagedFileError, r"scheduler state last_epoch is 0"),
    ("sched-step-count", _set("scheduler", "_step_count", 9), DamagedFileError, r"scheduler state _step_count is 9"),
    ("sched-base-lrs", _set("scheduler", "base_lrs", [100.0]), DamagedFileError, r"scheduler state base_lrs is"),
    ("sched-last-lr", _set("scheduler", "_last_lr", [100.0]), DamagedFileError, r"scheduler state _last_lr is"),
    ("sched-t-max", _set("scheduler", "T_max", 1000), DamagedFileError, r"scheduler state T_max is 1000"),
    ("sched-eta-min", _set("scheduler", "eta_min", 0.005), DamagedFileError, r"scheduler state eta_min is 0\.005"),
    ("sched-none", _set("scheduler", None), DamagedFileError, r"scheduler state must have the entries"),
    ("sched-extra-entry", _set("scheduler", "verbose", True), DamagedFileError, r"scheduler state must have"),
    (
        "sched-and-lr-rewound",
        _both(
            _group("lr", 0.01),
            _set("scheduler", "last_epoch", 0),
            _set("scheduler", "_step_count", 1),
            _set("scheduler", "_last_lr", [0.01]),
        ),
        DamagedFileError,
        r"scheduler state last_epoch is 0, but .*implies 1 after 1 epoch",
    ),
    # the generators
    (
        "rng-short",
        _tensor("rng.shuffle", lambda t: t[:-1]),
        DamagedFileError,
        r"rng\.shuffle is torch\.uint8 \(5055,\)",
    ),
    (
        "rng-long",
        _tensor("rng.sampling", lambda t: torch.cat([t, t[:1]])),
        DamagedFileError,
        r"rng\.sampling is torch\.uint8 \(5057,\)",
    ),
    (
        "rng-dtype",
        _tensor("rng.shuffle", lambda t: t.to(torch.int16)),
        DamagedFileError,
        r"rng\.shuffle is torch\.int16",
    ),
    ("rng-missing", _tensor("rng.sampling", lambda t: None), DamagedFileError, r"rng\.sampling is missing"),
    (
        "rng-invalid",
        _tensor("rng.sampling", lambda t: torch.full_like(t, 255)),
        DamagedFileError,
        r"rng\.sampling is not a valid cpu generator",
    ),
    # the running average and its count
    (
        "average-nan",
        _tensor("average.layers.0.weight", _nan),
        DamagedFileError,
        r"average\.layers\.0\.weight holds NaN",
    ),
    ("average-inf", _tensor("average.layers.1.weight", _inf), DamagedFileError, r"average\.layers\.1\.weight holds"),
    (
        "average-shape",
        _tensor("average.layers.0.weight", lambda t: t[:1]),
        DamagedFileError,
        r"average\.layers\.0\.weight is torch\.float32 \(1, 4\)",
    ),
    ("average-missing", _tensor("average.layers.1.weight", lambda t: None), DamagedFileError, r"layers\.1\.weight is"),
    ("n-averaged-2", _set("n_averaged", 2), DamagedFileError, r"n_averaged must be 1 after 1 epoch.*got 2"),
    ("n-averaged-0", _set("n_averaged", 0), DamagedFileError, r"n_averaged must be 1 .*got 0"),
    ("n-averaged-bool", _set("n_averaged", True), DamagedFileError, r"n_averaged must be 1 .*got True"),
    # the loop position, within the run's epochs and batches
    ("epochs-done-9", _set("epochs_done", 9), DamagedFileError, r"epochs_done must be an int in \[0, 3\], got 9"),
    ("epochs-done-neg", _set("epochs_done", -1), DamagedFileError, r"epochs_done must be an int in \[0, 3\], got -1"),
    ("epochs-done-str", _set("epochs_done", "1"), DamagedFileError, r"epochs_done must be an int .*got '1'"),
    ("epoch-step-99", _set("epoch_step", 99), DamagedFileError, r"epoch_step must be an int in \[0, 2\], got 99"),
    (
        "finished-mid-epoch",
        _set("epochs_done", 3),
        DamagedFileError,
        r"epoch_step must be an int in \[0, 0\], got 1",
    ),
    (
        "nothing-done",
        _both(_set("epochs_done", 0), _set("epoch_step", 0), _set("history", "records", [])),
        DamagedFileError,
        r"epochs_done and epoch_step are both 0",
    ),
    ("stopped-mid-epoch", _set("stopped", True), DamagedFileError, r"stopped is true in the middle of an epoch"),
    ("seconds-negative", _set("epoch_seconds", -1.0), DamagedFileError, r"epoch_seconds must be a finite number"),
    ("eval-seed", _set("eval_seed", 12345), DamagedFileError, r"eval_seed is 12345, but .*TrainConfig\(seed=1\)"),
    # the interrupted epoch
    (
        "order-repeats",
        _tensor("epoch.order", lambda t: torch.cat([t[:1], t[:-1]])),
        DamagedFileError,
        r"epoch\.order must be a permutation of the 24 training images",
    ),
    (
        "wrong-too-many",
        _tensor("epoch.wrong", lambda t: torch.tensor(9)),
        DamagedFileError,
        r"epoch\.wrong must be an int64 scalar in \[0, 8\]",
    ),
    ("loss-sum-negative", _tensor("epoch.loss_sum", lambda t: -t), DamagedFileError, r"epoch\.loss_sum must be"),
    ("loss-sum-nan", _tensor("epoch.loss_sum", _nan), DamagedFileError, r"epoch\.loss_sum must be a finite sum"),
    # the history, against the position and the run's validation schedule
    (
        "history-ahead",
        _set("epochs_done", 2),
        DamagedFileError,
        r"history\.records must hold 2 epoch record\(s\) \(epochs_done\), got 1",
    ),
    ("history-extra", _duplicate_record, DamagedFileError, r"history\.records must hold 1 .*got 2"),
    ("history-empty", _set("history", "records", []), DamagedFileError, r"history\.records must hold 1 .*got 0"),
    ("record-number", _record("epoch", 2), DamagedFileError, r"history record 1: epoch is 2, expected 1"),
    ("record-unvalidated", _record("val_vote_error", None), DamagedFileError, r"record 1: val_vote_error must be"),
    ("record-train-error", _record("train_error", 2.0), DamagedFileError, r"record 1: train_error must be .*2\.0"),
    ("record-val-error", _record("val_single_shot_error", 1.5), DamagedFileError, r"val_single_shot_error must be"),
    ("record-loss", _record("loss", -1.0), DamagedFileError, r"record 1: loss must be a finite number >= 0"),
    ("record-seconds", _record("seconds", -5.0), DamagedFileError, r"record 1: seconds must be"),
    ("record-extra-field", _record("note", "x"), DamagedFileError, r"history record 1 must have the entries"),
    # the run description: the user's settings differ
    (
        "run-lr",
        _set("run", "config", "lr", 100.0),
        ConfigurationError,
        r"config\.lr: 100\.0 in the checkpoint, 0\.01 now",
    ),
    (
        "run-momentum",
        _set("run", "config", "momentum", 0.0),
        ConfigurationError,
        r"config\.momentum: 0\.0 in the checkpoint, 0\.9 now",
    ),
]

#: The same for the checkpoint of _PLAIN (no momentum, schedule, shuffle, averaging or validation).
_PLAIN_CASES: list[tuple[str, Any, type[Exception], str]] = [
    ("lr-100", _group("lr", 100.0), DamagedFileError, r"param_groups\[0\]\.lr is 100\.0, .* implies 0\.01"),
    ("momentum-0.9", _group("momentum", 0.9), DamagedFileError, r"param_groups\[0\]\.momentum is 0\.9, .* 0\.0"),
    ("initial-lr", _group("initial_lr", 0.01), DamagedFileError, r"param_groups\[0\] has the entries"),
    (
        "momentum-buffer",
        _both(_add_tensor(_M0, torch.zeros(3, 4)), _opt_plain(lambda s: s.update({"0": {}}))),
        DamagedFileError,
        r"optimizer state must hold no entries \(no momentum\)",
    ),
    (
        "momentum-buffer-tensor",
        _add_tensor(_M0, torch.zeros(3, 4)),
        DamagedFileError,
        r"unexpected optimizer tensor\(s\) optimizer\.0\.momentum_buffer",
    ),
    (
        "scheduler",
        _set("scheduler", {"T_max": 2, "last_epoch": 1}),
        DamagedFileError,
        r"holds a scheduler state but this run's TrainConfig has schedule=None",
    ),
    ("shuffled", _tensor("epoch.order", lambda t: t.flip(0)), DamagedFileError, r"epoch\.order must be 0, 1, 2"),
    (
        "validated",
        _both(_record("val_vote_error", 0.5), _record("val_single_shot_error", 0.5)),
        DamagedFileError,
        r"history record 1: val_single_shot_error is 0\.5, expected None",
    ),
    ("average", _add_tensor("average.layers.0.weight", torch.zeros(3, 4)), DamagedFileError, r"unexpected tensor"),
    ("n-averaged", _set("n_averaged", 1), DamagedFileError, r"n_averaged must be 0"),
    ("eval-seed", _set("eval_seed", 7), DamagedFileError, r"eval_seed is 7, but .*TrainConfig\(seed=2\)"),
]


def _check_refused(folder: Path, ckpt: Checkpoint, config: TrainConfig, edit, error, pattern) -> None:
    path = _forge(folder, ckpt, edit)
    with pytest.raises(error, match=pattern) as info:
        _resume(folder, config)
    assert type(info.value) is error
    assert str(path) in str(info.value)  # the message names the file


@pytest.mark.parametrize(("edit", "error", "pattern"), [c[1:] for c in _FULL_CASES], ids=[c[0] for c in _FULL_CASES])
def test_a_forged_checkpoint_is_refused(tmp_path, full, edit, error, pattern) -> None:
    _check_refused(tmp_path, full, _FULL, edit, error, pattern)


@pytest.mark.parametrize(("edit", "error", "pattern"), [c[1:] for c in _PLAIN_CASES], ids=[c[0] for c in _PLAIN_CASES])
def test_a_forged_checkpoint_of_a_plain_run_is_refused(tmp_path, plain, edit, error, pattern) -> None:
    _check_refused(tmp_path, plain, _PLAIN, edit, error, pattern)


@pytest.mark.parametrize("config", [_FULL, _PLAIN], ids=["full", "plain"])
def test_an_untouched_checkpoint_rewritten_the_same_way_resumes_exactly(tmp_path, full, plain, config) -> None:
    """The control: the same rewrite with no edit resumes, and ends like an uninterrupted run."""
    _forge(tmp_path, full if config is _FULL else plain, lambda state, tensors: None)
    resumed = _resume(tmp_path, config)
    reference = _net()
    fit(reference, _data(0), _validation(config), config=config, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(reference.parameters(), resumed.parameters()))
    assert (tmp_path / CHECKPOINT_FILE).is_file()
