"""Training a naturally quantized network: the fit loop.

The default :class:`TrainConfig` is the paper's recipe (``docs/model.md``, "Training"): SGD with
learning rate 0.01, momentum 0.9, batch 64, no weight decay, no schedule, cross-entropy on the logits.
Every forward pass draws one fresh stochastic sample per neuron (``NaturalQNN.forward``) and the
backward pass goes through the surrogate of the network's spec (by default the paper's
straight-through estimator; :mod:`qiskit_natural_qnn.surrogates`).

:func:`fit` reads as its steps: check the arguments, set up the run (data on the device, generators,
optimizer, schedule, history), restore a checkpoint or start, then per epoch: train every mini-batch
(with step checkpoints), end the epoch (schedule, checks, weight average, mean loss), validate,
record, checkpoint; finally keep the weight average and write the history and the model.

Checkpoints and resuming: with a checkpoint directory (``checkpoint_dir``, or ``out_dir/checkpoint``
when only ``out_dir`` is given), a run writes ``checkpoint.safetensors`` there atomically at the end
of every epoch and, with ``checkpoint_every=N``, after every ``N``-th optimizer step (counted over the
whole run). It holds the weights, the optimizer and scheduler states, the shuffle and sampling
generators' states, the epoch's permutation and running sums, the running weight average
(``config.average_from``), the history and a description of the run
(:mod:`qiskit_natural_qnn.training.checkpoint`). Calling ``fit`` again with the same arguments and
``resume=True`` (on a network of the same shape, e.g. freshly constructed) continues from it and ends
with bit-for-bit the weights and history (apart from ``seconds``) of an uninterrupted run on the same
device. The step hooks' initial call is skipped on resume (the checkpoint's weights already went
through them); the callbacks see only the epochs run after it.

Example:
    >>> import numpy as np
    >>> from qiskit_natural_qnn.data import Dataset
    >>> rng = np.random.default_rng(0)
    >>> data = Dataset(rng.random((32, 4), dtype=np.float32), rng.integers(0, 2, 32), "toy")
    >>> net = NaturalQNN(layer_sizes=[4, 8, 2], a=0.5, seed=0)
    >>> history = fit(net, data, data, config=TrainConfig(epochs=2, seed=0), progress=False)
    >>> [r.epoch for r in history.records], history.records[-1].val_vote_error is not None
    ([1, 2], True)
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from tqdm import tqdm

from qiskit_natural_qnn.checks import is_int
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.fastpath import DeferredChecks, LayerSampler, NoiseLaw, deferring
from qiskit_natural_qnn.inference import (
    Evaluation,
    check_labels,
    check_noise,
    check_real_dtype,
    evaluate,
    predict_bytes,
)
from qiskit_natural_qnn.io.files import remove_stale_temporaries
from qiskit_natural_qnn.io.model_files import save_model
from qiskit_natural_qnn.limits import check_bytes
from qiskit_natural_qnn.network import NaturalQNN, sampling_bytes
from qiskit_natural_qnn.randomness import make_generator
from qiskit_natural_qnn.training.checkpoint import (
    CHECKPOINT_FILE,
    LoopPosition,
    TrainingObjects,
    is_validation_epoch,
    make_optimizer,
    make_scheduler,
    restore_training_checkpoint,
    run_description,
    save_training_checkpoint,
)
from qiskit_natural_qnn.training.config import SCHEDULES, EpochRecord, History, TrainConfig
from qiskit_natural_qnn.version import __version__

__all__ = ["SCHEDULES", "EpochRecord", "History", "TrainConfig", "fit"]

#: A callback gets the epoch's record and the model after every epoch; returning True stops training.
Callback = Callable[["EpochRecord", NaturalQNN], "bool | None"]

#: A step hook gets the model, without gradients, after every optimizer step and once before the first.
StepHook = Callable[[NaturalQNN], None]

#: A checked dataset on the model's device: ``(images, labels, name)``.
_Data = tuple[torch.Tensor, torch.Tensor, "str | None"]

#: The paper's recipe, ``fit``'s default.
_PAPER_RECIPE = TrainConfig()


class CheckedDataset(NamedTuple):
    """A dataset :func:`check_dataset` has checked for a network: tensors on its device, in its dtype.

    Passed again to ``fit``'s set-up for a network of the same input width, number of classes, dtype
    and device, it is taken as it is (:func:`~qiskit_natural_qnn.training.fit_ensemble` checks its
    data once for all networks); for any other network it is checked again. Make it with
    :func:`check_dataset` only.
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str | None
    n_outputs: int


def _check_dataset(model: NaturalQNN, data: Any, role: str) -> _Data:
    """Validate ``data`` once and return ``(images, labels)`` as tensors on the model's device."""
    if isinstance(data, CheckedDataset):
        ref, x = model.weights()[0], data.images
        same = x.dtype == ref.dtype and x.device == ref.device and x.ndim == 2 and x.shape[1] == model.n_inputs
        if same and data.n_outputs == model.n_outputs:
            return data.images, data.labels, data.name
    if not (hasattr(data, "images") and hasattr(data, "labels")):
        raise InputError(f"{role} must be a Dataset (images, labels, name), got {type(data).__name__}")
    images = data.images
    check_real_dtype(images, f"{role} images")
    x = model.check_input(images)  # the one input converter (any real dtype, byte order); shape, finiteness
    if x.ndim != 2:
        raise InputError(f"{role} images must have shape (n, {model.n_inputs}), got {tuple(x.shape)}")
    labels = check_labels(data.labels, x.shape[0], model.n_outputs)
    y = torch.as_tensor(labels, dtype=torch.int64, device=x.device)
    return x, y, getattr(data, "name", None)


def _update_average(loop: TrainingObjects, model: NaturalQNN) -> None:
    """Fold the current weights into the equal-weight running average of ``loop``."""
    with torch.no_grad():
        if loop.average is None or loop.n_averaged == 0:
            loop.average = {name: p.detach().clone() for name, p in model.named_parameters()}
            loop.n_averaged = 1
            return
        loop.n_averaged += 1
        for name, p in model.named_parameters():
            avg = loop.average[name]
            avg.add_(p.detach() - avg, alpha=1.0 / loop.n_averaged)


@contextlib.contextmanager
def _weights(model: NaturalQNN, weights: dict[str, torch.Tensor] | None) -> Iterator[None]:
    """Run the block with ``weights`` (by parameter name) in ``model``, then put its own back."""
    if weights is None:
        yield
        return
    params = dict(model.named_parameters())
    with torch.no_grad():
        saved = {name: p.detach().clone() for name, p in params.items()}
        for name, p in params.items():
            p.copy_(weights[name])
    try:
        yield
    finally:
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(saved[name])


def _check_finite(checks: DeferredChecks, epoch: int, dtype: torch.dtype) -> None:
    """Raise what the epoch's forward passes met so far: a refused rotation, or pre-activations that overflowed."""
    error = checks.error(epoch=epoch, dtype=dtype)
    if error is not None:
        raise error


@dataclass
class _Run:
    """One ``fit`` call, set up: its arguments, the checked data on the device, the objects it trains with.

    Attributes:
        model: the network, trained in place.
        config: the recipe.
        x: the training images, ``(n, n_inputs)`` in the model's dtype on its device.
        y: the training labels, ``(n,)`` int64.
        val: the validation set, or None.
        loop: the objects whose state a checkpoint holds (optimizer, generators, history...).
        loss_fn: the mean cross-entropy on the logits.
        out: where to write ``history.json`` and ``model.safetensors``, or None.
        checkpoint_dir: where to write checkpoints, or None.
        checkpoint_every: optimizer steps between step checkpoints, or None.
        callbacks: called after every epoch.
        step_hooks: called after every optimizer step.
        noise: the device's noise law every forward pass and validation samples, or None.
        bound: ``noise`` bound for a mini-batch of each size met (a full batch, the last one), made once.
    """

    model: NaturalQNN
    config: TrainConfig
    x: torch.Tensor
    y: torch.Tensor
    val: _Data | None
    loop: TrainingObjects
    loss_fn: torch.nn.CrossEntropyLoss
    out: Path | None
    checkpoint_dir: Path | None
    checkpoint_every: int | None = None
    callbacks: list[Callback] = field(default_factory=list)
    step_hooks: list[StepHook] = field(default_factory=list)
    noise: NoiseLaw | None = None
    bound: dict[int, LayerSampler] = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        """Training images."""
        return int(self.x.shape[0])

    @property
    def n_batches(self) -> int:
        """Mini-batches per epoch (the last one may be smaller)."""
        return -(-self.n_images // self.config.batch_size)


@dataclass
class _Epoch:
    """The running state of one epoch.

    Attributes:
        number: the epoch, from 1.
        order: its permutation of the training images (on the device).
        first_step: the first mini-batch to run (after a mid-epoch resume, > 0).
        loss_sum: running sum of batch-size-weighted losses.
        wrong: running count of wrong training passes.
        checks: what the forward passes met, read at the epoch's end and before step checkpoints:
            overflowing ``W x`` (inf or NaN), rotations the linear stretch refuses.
        start: ``time.perf_counter()`` at the epoch's start (earlier by the time already spent in it
            when resumed mid-epoch).
    """

    number: int
    order: torch.Tensor
    first_step: int
    loss_sum: torch.Tensor
    wrong: torch.Tensor
    checks: DeferredChecks
    start: float


def fit(
    model: NaturalQNN,
    train: Any,
    validation: Any | None = None,
    *,
    config: TrainConfig = _PAPER_RECIPE,
    progress: bool = True,
    out_dir: str | os.PathLike[str] | None = None,
    callbacks: Iterable[Callback] | None = None,
    step_hooks: Iterable[StepHook] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    noise: NoiseLaw | None = None,
) -> History:
    """Train ``model`` in place with mini-batch SGD on cross-entropy, one stochastic pass per batch.

    Each epoch shuffles the training set (``config.shuffle``), and for every mini-batch draws one fresh
    stochastic forward pass per image, back-propagates the surrogate gradient of the model's spec and
    takes an SGD step. Validation (single-shot and majority-vote error over ``config.eval_shots`` passes)
    runs every ``config.eval_every`` epochs and after the last one. With a checkpoint directory the run
    can be resumed bit-exactly (see the module docstring).

    Args:
        model: the network, trained in place on the device it lives on.
        train: the training :class:`~qiskit_natural_qnn.data.Dataset`.
        validation: an optional validation dataset.
        config: the recipe.
        progress: show a tqdm progress bar over epochs.
        out_dir: if given, write ``history.json`` there after every epoch and the final model to
            ``model.safetensors`` at the end (its user metadata holds the data names, the epochs run,
            the config and the last validation errors); checkpoints go to ``out_dir/checkpoint``
            unless ``checkpoint_dir`` says otherwise.
        callbacks: functions called as ``callback(record, model)`` after each epoch; one that returns
            True stops training after that epoch.
        step_hooks: functions called as ``hook(model)`` without gradients after every optimizer step,
            and once before the first step (e.g. a projection that keeps a weight constraint).
        checkpoint_dir: where to write checkpoints (default: ``out_dir/checkpoint``, or none).
        checkpoint_every: also checkpoint after every this many optimizer steps (``>= 1``); None
            (default) checkpoints at epoch ends only.
        resume: continue from the checkpoint in the checkpoint directory instead of starting afresh.
            A run whose checkpoint says it finished only writes its outputs again.
        noise: None (the ideal network), or a device's noise law
            (:class:`~qiskit_natural_qnn.fastpath.NoiseLaw`, e.g.
            ``qiskit_natural_qnn.emulation.emulate_device(model, "fake_torino")``): noise-aware training.
            Every training forward pass samples the noisy device (each mini-batch placed as a
            layer-by-layer run of its images with one shot each), the straight-through backward pass is
            unchanged, and validation runs on the same noisy device. Its :meth:`~.NoiseLaw.describe` is
            recorded in the history, the model file and the checkpoint (a resume must pass the same).

    Returns:
        The :class:`History`.

    Raises:
        ConfigurationError: ``config`` is not a TrainConfig, bad ``checkpoint_every`` or ``resume``,
            ``resume=True`` without a checkpoint directory, or a checkpoint written by another run
            (another config, network, dtype, device, noise, or training or validation data); the message
            lists the differences; a ``noise`` that is not a noise law or was built for another network.
        DamagedFileError: ``resume=True`` and the checkpoint is missing, truncated, corrupt or from a
            newer version of the library.
        InputError: bad data (shape, dtype, empty, non-finite, labels out of range), weights that are
            or become NaN or infinite, pre-activations that overflow to inf or NaN, or a mean epoch loss
            that is not finite (training diverged).
    """
    out, ckpt_dir = _checked_directories(config, out_dir, checkpoint_dir, checkpoint_every, resume)
    noise = check_noise(noise)
    if noise is not None:  # refuse a law built for another network before anything runs
        first = torch.zeros(1, dtype=torch.long)
        noise.bind(hidden_sizes=model.hidden_sizes, neuron=model.neuron, positions=first, shots=None)
    run = _set_up(model, train, validation, config, out=out, checkpoint_dir=ckpt_dir, resume=resume, noise=noise)
    run.checkpoint_every = checkpoint_every
    run.callbacks, run.step_hooks = list(callbacks or []), list(step_hooks or [])
    _train_epochs(run, _restore_or_start(run, resume), progress=progress)
    _finish(run)
    return run.loop.history


# ------------------------------------------------------------------------------------------ set-up
def _checked_directories(
    config: Any,
    out_dir: str | os.PathLike[str] | None,
    checkpoint_dir: str | os.PathLike[str] | None,
    checkpoint_every: Any,
    resume: Any,
) -> tuple[Path | None, Path | None]:
    """Refuse bad ``fit`` arguments; return the output and checkpoint directories (each or None)."""
    if not isinstance(config, TrainConfig):
        raise ConfigurationError(f"config must be a TrainConfig, got {type(config).__name__}; pass TrainConfig(...)")
    if checkpoint_every is not None and (not is_int(checkpoint_every) or checkpoint_every < 1):
        raise ConfigurationError(
            f"checkpoint_every must be None or an int >= 1 (optimizer steps), got {checkpoint_every!r}; "
            "pass e.g. checkpoint_every=100"
        )
    if not isinstance(resume, (bool, np.bool_)):
        raise ConfigurationError(f"resume must be True or False, got {resume!r}")
    out = Path(out_dir) if out_dir is not None else None
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else (out / "checkpoint" if out is not None else None)
    if resume and ckpt_dir is None:
        raise ConfigurationError(
            "resume=True needs the checkpoint directory of the interrupted run; pass checkpoint_dir= or out_dir="
        )
    return out, ckpt_dir


def _set_up(
    model: NaturalQNN,
    train: Any,
    validation: Any | None,
    config: TrainConfig,
    *,
    out: Path | None,
    checkpoint_dir: Path | None,
    resume: bool,
    noise: NoiseLaw | None = None,
) -> _Run:
    """Check the weights (unless resuming) and the data, create ``out``, and build a fresh run's objects."""
    if not resume:
        model.check_weights()
    x, y, train_name = _check_dataset(model, train, "train")
    val = _check_dataset(model, validation, "validation") if validation is not None else None
    _check_work(model, config, n_validation=0 if val is None else int(val[0].shape[0]))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out, names=("model.safetensors", "history.json"))  # left by a killed write
    return _Run(
        model=model,
        config=config,
        x=x,
        y=y,
        val=val,
        loop=_training_objects(
            model, config, (x, y, train_name), val, describe=checkpoint_dir is not None, noise=noise
        ),
        loss_fn=torch.nn.CrossEntropyLoss(reduction="mean"),
        out=out,
        checkpoint_dir=checkpoint_dir,
        noise=noise,
    )


def _check_work(model: NaturalQNN, config: TrainConfig, *, n_validation: int) -> None:
    """Refuse, before the first step, a training step or a validation that would not fit in memory.

    A step holds ``batch_size * train_shots`` passes, about three times over (forward, saved for the
    backward, gradients); a validation holds what :func:`~qiskit_natural_qnn.inference.predict` holds
    for ``eval_shots`` shots.
    """
    rows = config.batch_size * config.train_shots
    check_bytes(
        3 * sampling_bytes(model, rows=rows),
        what=f"a training step of batch_size={config.batch_size} x train_shots={config.train_shots}",
        fix="lower batch_size or train_shots",
    )
    if n_validation:
        check_bytes(
            predict_bytes(model, n_images=n_validation, shots=config.eval_shots),
            what=f"a validation of {n_validation} images with eval_shots={config.eval_shots}",
            fix="lower eval_shots",
        )


def _training_objects(
    model: NaturalQNN,
    config: TrainConfig,
    train: _Data,
    val: _Data | None,
    *,
    describe: bool,
    noise: NoiseLaw | None = None,
) -> TrainingObjects:
    """A fresh run's generators (seeded from ``config.seed``), optimizer, schedule and empty history.

    ``describe``: also compute the run description a checkpoint must match (digests of the data, and the
    device noise when there is one).
    """
    rng = np.random.default_rng(config.seed)
    shuffle_gen = make_generator(rng, "cpu")
    eval_seed = int(rng.integers(0, 2**63 - 1))
    if config.seed is not None:
        model.reseed(rng)
    optimizer = make_optimizer(model.parameters(), config)
    scheduler = make_scheduler(optimizer, config)
    x, y, train_name = train
    history = History(
        config=config,
        spec=model.spec.to_dict(),
        layer_sizes=list(model.layer_sizes),
        seed=config.seed,
        version=__version__,
        train_data=train_name,
        validation_data=val[2] if val is not None else None,
        noise=noise.describe() if noise is not None else None,
    )
    run = run_description(model, config, x, y, val) if describe else {}
    if describe and noise is not None:
        run["noise"] = noise.describe()
    return TrainingObjects(
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        shuffle_gen=shuffle_gen,
        sampling_gen=model.generator(x.device),
        run=run,
        eval_seed=eval_seed,
        history=history,
    )


def _restore_or_start(run: _Run, resume: bool) -> LoopPosition:
    """The checkpoint's position on resume; else the start, after the step hooks' first call."""
    if run.checkpoint_dir is not None:
        remove_stale_temporaries(run.checkpoint_dir, names=(CHECKPOINT_FILE,))
        if resume:
            return restore_training_checkpoint(run.checkpoint_dir, run.loop, run.n_batches)
    _apply_step_hooks(run)
    return LoopPosition()


def _apply_step_hooks(run: _Run) -> None:
    with torch.no_grad():
        for hook in run.step_hooks:
            hook(run.model)


# ------------------------------------------------------------------------------------------ epochs
def _train_epochs(run: _Run, pos: LoopPosition, *, progress: bool) -> None:
    """Run the epochs after ``pos`` under a progress bar, to the last one or until a callback stops."""
    config = run.config
    first = pos.epochs_done + 1
    done = pos.stopped or pos.epochs_done >= config.epochs
    was_training = run.model.training
    bar = tqdm(
        range(first, config.epochs + 1) if not done else range(0),
        desc="training",
        unit="epoch",
        initial=first - 1,
        total=config.epochs,
        disable=not progress,
    )
    try:
        for number in bar:
            resumed = pos if pos.epoch_step > 0 and number == first else None
            epoch = _begin_epoch(run, number, resumed)
            record = _run_epoch(run, epoch)
            bar.set_postfix(_postfix(record))
            if _end_of_epoch_outputs(run, record):
                break
    finally:
        bar.close()
        run.model.train(was_training)


def _begin_epoch(run: _Run, number: int, resumed: LoopPosition | None) -> _Epoch:
    """Epoch ``number`` with a fresh permutation and zero sums, or the interrupted epoch ``resumed``."""
    start = time.perf_counter() - (resumed.epoch_seconds if resumed is not None else 0.0)
    run.model.train()
    device = run.x.device
    if resumed is not None:
        assert resumed.order is not None and resumed.loss_sum is not None and resumed.wrong is not None
        order, first_step = resumed.order.to(device), resumed.epoch_step
        loss_sum, wrong = resumed.loss_sum.to(device), resumed.wrong.to(device)
    else:
        n = run.n_images
        order = torch.randperm(n, generator=run.loop.shuffle_gen) if run.config.shuffle else torch.arange(n)
        order, first_step = order.to(device), 0
        loss_sum = torch.zeros((), device=device)
        wrong = torch.zeros((), dtype=torch.int64, device=device)
    return _Epoch(
        number=number,
        order=order,
        first_step=first_step,
        loss_sum=loss_sum,
        wrong=wrong,
        checks=DeferredChecks(device=device),
        start=start,
    )


def _run_epoch(run: _Run, epoch: _Epoch) -> EpochRecord:
    """Train the epoch's remaining mini-batches, end it, validate it; return its record (kept in the history)."""
    for step in range(epoch.first_step, run.n_batches):
        _train_step(run, epoch, step)
        _checkpoint_step(run, epoch, step)
    return _close_epoch(run, epoch)


def _close_epoch(run: _Run, epoch: _Epoch) -> EpochRecord:
    """End the trained epoch, validate it; return its record (kept in the history)."""
    mean_loss = _end_epoch(run, epoch)
    ev = _validate(run, epoch.number)
    record = EpochRecord(
        epoch=epoch.number,
        loss=mean_loss,
        train_error=int(epoch.wrong) / (run.n_images * run.config.train_shots),
        val_single_shot_error=ev.single_shot_error if ev is not None else None,
        val_vote_error=ev.vote_error if ev is not None else None,
        seconds=time.perf_counter() - epoch.start,
    )
    run.loop.history.records.append(record)
    return record


def _train_step(run: _Run, epoch: _Epoch, step: int) -> None:
    """One SGD step on mini-batch ``step`` of the epoch's order (``train_shots`` passes per image)."""
    bs, shots = run.config.batch_size, run.config.train_shots
    idx = epoch.order[step * bs : (step + 1) * bs]
    xb, yb = run.x[idx], run.y[idx]
    if shots > 1:  # K independent passes per image; the mean loss averages their gradients
        xb, yb = xb.repeat(shots, 1), yb.repeat(shots)
    law = None
    if run.noise is not None:  # the mini-batch as a layer-by-layer run of its images, one shot each
        rows = int(xb.shape[0])
        law = run.bound.get(rows)
        if law is None:  # the same positions 0..rows-1 at every step: bound once per batch size
            positions = torch.arange(rows, device=xb.device)
            model = run.model
            law = run.noise.bind(hidden_sizes=model.hidden_sizes, neuron=model.neuron, positions=positions, shots=None)
            run.bound[rows] = law
    with deferring(epoch.checks):  # no host synchronisation per layer; read at the epoch's end
        fp = run.model.forward_pass(xb, validate=False, law=law)
    logits = fp.logits
    loss = run.loss_fn(logits, yb)
    optimizer = run.loop.optimizer
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        for hook in run.step_hooks:
            hook(run.model)
        epoch.loss_sum += loss.detach() * idx.shape[0]
        epoch.wrong += (logits.argmax(dim=-1) != yb).sum()


def _checkpoint_step(run: _Run, epoch: _Epoch, step: int) -> None:
    """After mini-batch ``step``, checkpoint mid-epoch if ``checkpoint_every`` steps of the run have passed.

    The epoch's last step is left to the end-of-epoch checkpoint.
    """
    directory, every = run.checkpoint_dir, run.checkpoint_every
    if directory is None or every is None or step + 1 >= run.n_batches:
        return
    if ((epoch.number - 1) * run.n_batches + step + 1) % every != 0:
        return
    _check_finite(epoch.checks, epoch.number, run.x.dtype)
    position = LoopPosition(
        epochs_done=epoch.number - 1,
        epoch_step=step + 1,
        order=epoch.order,
        loss_sum=epoch.loss_sum,
        wrong=epoch.wrong,
        epoch_seconds=time.perf_counter() - epoch.start,
    )
    save_training_checkpoint(directory, run.loop, position)


def _end_epoch(run: _Run, epoch: _Epoch) -> float:
    """Step the schedule, check weights and pre-activations, update the weight average; return the mean loss.

    Raises:
        InputError: NaN or infinite weights, overflowing pre-activations, or a non-finite mean loss.
    """
    if run.loop.scheduler is not None:
        run.loop.scheduler.step()
    run.model.check_weights()  # one synchronisation when every weight is finite
    _check_finite(epoch.checks, epoch.number, run.x.dtype)
    average_from = run.config.average_from
    if average_from is not None and epoch.number >= average_from:
        _update_average(run.loop, run.model)
    mean_loss = float(epoch.loss_sum) / run.n_images  # the epoch's one synchronisation with the device
    if not math.isfinite(mean_loss):
        raise InputError(
            f"training diverged: the mean loss of epoch {epoch.number} is {mean_loss}; lower the learning "
            f"rate (lr={run.config.lr}) or check the data"
        )
    return mean_loss


def _validate(run: _Run, number: int) -> Evaluation | None:
    """Validate after epoch ``number`` if it is due (with the weight average, if any); else None."""
    config = run.config
    if run.val is None or not is_validation_epoch(config, number):
        return None
    run.model.eval()
    with _weights(run.model, run.loop.average):
        return evaluate(
            run.model,
            (run.val[0], run.val[1]),
            shots=config.eval_shots,
            seed=np.random.default_rng([run.loop.eval_seed, number]),
            noise=run.noise,
        )


def _postfix(record: EpochRecord) -> dict[str, str]:
    """The progress bar's numbers for an epoch."""
    postfix = {"loss": f"{record.loss:.4f}", "train_err": f"{record.train_error:.4f}"}
    if record.val_single_shot_error is not None and record.val_vote_error is not None:
        postfix["val_err"] = f"{record.val_single_shot_error:.4f}"
        postfix["val_vote"] = f"{record.val_vote_error:.4f}"
    return postfix


def _end_of_epoch_outputs(run: _Run, record: EpochRecord) -> bool:
    """Write the history, call the callbacks, checkpoint the epoch; return True when a callback stops."""
    if run.out is not None:
        run.loop.history.to_json(run.out / "history.json")
    stop = any([bool(cb(record, run.model)) for cb in run.callbacks])
    if run.checkpoint_dir is not None:
        save_training_checkpoint(run.checkpoint_dir, run.loop, LoopPosition(epochs_done=record.epoch, stopped=stop))
    return stop


# ------------------------------------------------------------------------------------------ the end
def _finish(run: _Run) -> None:
    """Keep the weight average as the model (if any), then write the history and the model (if asked)."""
    if run.loop.average is not None:  # the trained model is the average of the weights
        with torch.no_grad():
            for name, p in run.model.named_parameters():
                p.copy_(run.loop.average[name])
        _apply_step_hooks(run)
    if run.out is None:
        return
    history = run.loop.history
    history.to_json(run.out / "history.json")
    last = history.last_validated
    save_model(
        run.model,
        run.out / "model.safetensors",
        metadata={
            "train_data": history.train_data,
            "validation_data": history.validation_data,
            "epochs": len(history.records),
            "config": run.config.to_dict(),
            "val_single_shot_error": last.val_single_shot_error if last is not None else None,
            "val_vote_error": last.val_vote_error if last is not None else None,
            **({"noise": history.noise} if history.noise is not None else {}),
        },
    )


# ------------------------------------------------------------------------------------------ shared
# The pieces of fit that fit_ensemble (qiskit_natural_qnn.training.ensemble) runs for each network it
# trains, so that both check, set up, validate, record and write alike; only the steps differ.

#: One network's run as ``fit`` sets it up: its arguments, checked data and training objects.
TrainingRun = _Run

#: The running state of one epoch of a :data:`TrainingRun` (permutation, sums, deferred checks).
EpochState = _Epoch


def check_dataset(model: NaturalQNN, data: Any, role: str) -> CheckedDataset:
    """``fit``'s check of a dataset: ``(images, labels, name)`` as tensors on the model's device.

    Raises:
        InputError: as :func:`fit` for bad data.
    """
    return CheckedDataset(*_check_dataset(model, data, role), n_outputs=model.n_outputs)


def set_up_run(
    model: NaturalQNN,
    train: Any,
    validation: Any | None,
    config: TrainConfig,
    *,
    out_dir: str | os.PathLike[str] | None = None,
) -> TrainingRun:
    """``fit``'s set-up of a fresh run without checkpoints: checks, generators seeded from ``config.seed``.

    Raises:
        ConfigurationError, InputError: as :func:`fit`.
    """
    out, _ = _checked_directories(config, out_dir, None, None, False)
    run = _set_up(model, train, validation, config, out=out, checkpoint_dir=None, resume=False)
    _apply_step_hooks(run)
    return run


def begin_epoch(run: TrainingRun, number: int) -> EpochState:
    """Start epoch ``number`` of ``run`` as ``fit`` does: the model in training mode, a fresh permutation."""
    return _begin_epoch(run, number, None)


def close_epoch(run: TrainingRun, epoch: EpochState) -> tuple[EpochRecord, bool]:
    """End a trained epoch as ``fit`` does: schedule, checks, weight average, validation, record, outputs.

    Returns:
        The epoch's record and whether a callback asked to stop.

    Raises:
        InputError: as :func:`fit` when training diverged.
    """
    record = _close_epoch(run, epoch)
    return record, _end_of_epoch_outputs(run, record)


def finish_run(run: TrainingRun) -> History:
    """End ``run`` as ``fit`` does (the weight average, the outputs) and return its history."""
    _finish(run)
    return run.loop.history
