"""Training a naturally quantized network: the fit loop, its configuration and its history.

The default :class:`TrainConfig` is the paper's recipe (PAPER.md section 4): SGD with learning rate
0.01, momentum 0.9, batch 64, no weight decay, no schedule, cross-entropy on the logits. Every forward
pass draws one fresh stochastic sample per neuron (``NaturalQNN.forward``) and the backward pass is
the straight-through estimator of :mod:`qiskit_natural_qnn.fastpath`.

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
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.fastpath import make_generator, nonfinite_preactivation_message
from qiskit_natural_qnn.inference import Evaluation, check_labels, check_real_dtype, evaluate
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.training.checkpoint import (
    LoopPosition,
    TrainingObjects,
    remove_stale_temporaries,
    restore_training_checkpoint,
    run_description,
    save_training_checkpoint,
)
from qiskit_natural_qnn.training.config import SCHEDULES, EpochRecord, History, TrainConfig, is_int
from qiskit_natural_qnn.version import __version__

__all__ = ["SCHEDULES", "EpochRecord", "History", "TrainConfig", "add_recipe_options", "fit", "recipe_options"]

#: A callback gets the epoch's record and the model after every epoch; returning True stops training.
Callback = Callable[["EpochRecord", NaturalQNN], "bool | None"]


def _check_dataset(model: NaturalQNN, data: Any, role: str) -> tuple[torch.Tensor, torch.Tensor, str | None]:
    """Validate ``data`` once and return ``(images, labels)`` as tensors on the model's device."""
    if not (hasattr(data, "images") and hasattr(data, "labels")):
        raise InputError(f"{role} must be a Dataset (images, labels, name), got {type(data).__name__}")
    images = data.images
    check_real_dtype(images, f"{role} images")
    if isinstance(images, np.ndarray) and np.issubdtype(images.dtype, np.floating):
        images = torch.tensor(images)  # skip check_input's float64 detour; one copy
    x = model.check_input(images)  # shape, emptiness, finiteness; now on the device
    if x.ndim != 2:
        raise InputError(f"{role} images must have shape (n, {model.n_inputs}), got {tuple(x.shape)}")
    labels = check_labels(data.labels, x.shape[0], model.n_outputs)
    y = torch.as_tensor(labels, dtype=torch.int64, device=x.device)
    return x, y, getattr(data, "name", None)


def add_recipe_options(parser: Any) -> None:
    """Add the training-recipe options shared by ``qnqnn train`` and ``qnqnn sweep`` to a parser or group.

    ``--lr``, ``--momentum``, ``--batch-size``, ``--weight-decay`` and ``--schedule`` default to the
    paper's recipe; ``--train-shots`` and ``--average-from`` are options beyond it (off by default).
    :func:`recipe_options` turns the parsed values into :class:`TrainConfig` keyword arguments, which
    validates them.

    Example:
        >>> import argparse
        >>> p = argparse.ArgumentParser()
        >>> add_recipe_options(p)
        >>> recipe_options(p.parse_args(["--train-shots", "4", "--average-from", "51"]))
        {'lr': 0.01, 'momentum': 0.9, 'batch_size': 64, 'weight_decay': 0.0, 'schedule': None, 'train_shots': 4, 'average_from': 51}
    """
    defaults = TrainConfig()
    parser.add_argument("--lr", type=float, default=defaults.lr, help=f"SGD learning rate (default {defaults.lr})")
    parser.add_argument(
        "--momentum", type=float, default=defaults.momentum, help=f"SGD momentum (default {defaults.momentum})"
    )
    parser.add_argument(
        "--batch-size", type=int, default=defaults.batch_size, help=f"mini-batch size (default {defaults.batch_size})"
    )
    parser.add_argument(
        "--weight-decay", type=float, default=defaults.weight_decay, help="L2 weight decay (default 0, the paper)"
    )
    parser.add_argument(
        "--schedule",
        choices=["none", *SCHEDULES],
        default="none",
        help="learning-rate schedule (default none, the paper; cosine is an option)",
    )
    parser.add_argument(
        "--train-shots",
        type=int,
        default=1,
        metavar="K",
        help="stochastic passes per training image and step, loss averaged (default 1, the paper)",
    )
    parser.add_argument(
        "--average-from",
        type=int,
        default=None,
        metavar="EPOCH",
        help="average the weights of every epoch from EPOCH on (stochastic weight averaging) and keep "
        "the average as the model; validations from then on use it (default: off, the paper)",
    )


def recipe_options(args: Any) -> dict[str, Any]:
    """The :class:`TrainConfig` keyword arguments of the options :func:`add_recipe_options` added."""
    return {
        "lr": args.lr,
        "momentum": args.momentum,
        "batch_size": args.batch_size,
        "weight_decay": args.weight_decay,
        "schedule": None if args.schedule == "none" else args.schedule,
        "train_shots": args.train_shots,
        "average_from": args.average_from,
    }


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


def _check_finite(nonfinite: torch.Tensor, epoch: int, dtype: torch.dtype) -> None:
    if bool(nonfinite):
        raise InputError(f"training diverged in epoch {epoch}: {nonfinite_preactivation_message(None, dtype)}")


def fit(
    model: NaturalQNN,
    train: Any,
    validation: Any | None = None,
    *,
    config: TrainConfig = TrainConfig(),
    progress: bool = True,
    out_dir: str | Path | None = None,
    callbacks: Iterable[Callback] | None = None,
    step_hooks: Iterable[Callable[[NaturalQNN], None]] | None = None,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
) -> History:
    """Train ``model`` in place with mini-batch SGD on cross-entropy, one stochastic pass per batch.

    Each epoch shuffles the training set (``config.shuffle``), and for every mini-batch draws one fresh
    stochastic forward pass per image, back-propagates the straight-through gradient and takes an SGD
    step. Validation (single-shot and majority-vote error over ``config.eval_shots`` passes) runs every
    ``config.eval_every`` epochs and after the last one.

    Checkpoints and resuming: with a checkpoint directory (``checkpoint_dir``, or ``out_dir/checkpoint``
    when only ``out_dir`` is given), the run writes ``checkpoint.safetensors`` there atomically at the
    end of every epoch and, with ``checkpoint_every=N``, after every ``N``-th optimizer step (counted
    over the whole run). It holds the weights, the optimizer and scheduler states, the shuffle and
    sampling generators' states, the epoch's permutation and running sums, the running weight average
    (``config.average_from``), the history and a
    description of the run (see :mod:`qiskit_natural_qnn.training.checkpoint`). Calling ``fit`` again with the
    same arguments and ``resume=True`` (on a network of the same shape, e.g. freshly constructed)
    continues from it and ends with bit-for-bit the weights and history (apart from ``seconds``) of an
    uninterrupted run on the same device. The step hooks' initial call is skipped on resume (the
    checkpoint's weights already went through them); the callbacks see only the epochs run after it.

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

    Returns:
        The :class:`History`.

    Raises:
        ConfigurationError: ``config`` is not a TrainConfig, bad ``checkpoint_every`` or ``resume``,
            ``resume=True`` without a checkpoint directory, or a checkpoint written by another run
            (another config, network, dtype, device, or training or validation data); the message
            lists the differences.
        ModelFileError: ``resume=True`` and the checkpoint is missing, truncated, corrupt or from a
            newer version of the library.
        InputError: bad data (shape, dtype, empty, non-finite, labels out of range), weights that are
            or become NaN or infinite, pre-activations that overflow to inf or NaN, or a mean epoch loss that
            is not finite (training diverged).
    """
    if not isinstance(config, TrainConfig):
        raise ConfigurationError(f"config must be a TrainConfig, got {type(config).__name__}; pass TrainConfig(...)")
    if checkpoint_every is not None and (not is_int(checkpoint_every) or checkpoint_every < 1):
        raise ConfigurationError(
            f"checkpoint_every must be None or an int >= 1 (optimizer steps), got {checkpoint_every!r}; "
            "pass e.g. checkpoint_every=100"
        )
    if not isinstance(resume, (bool, np.bool_)):
        raise ConfigurationError(f"resume must be True or False, got {resume!r}")
    callbacks = list(callbacks or [])
    step_hooks = list(step_hooks or [])
    out = Path(out_dir) if out_dir is not None else None
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else (out / "checkpoint" if out is not None else None)
    if resume and ckpt_dir is None:
        raise ConfigurationError(
            "resume=True needs the checkpoint directory of the interrupted run; pass checkpoint_dir= or out_dir="
        )
    if not resume:
        model.check_weights()
    x, y, train_name = _check_dataset(model, train, "train")
    val = _check_dataset(model, validation, "validation") if validation is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(config.seed)
    shuffle_gen = make_generator(rng, "cpu")
    eval_seed = int(rng.integers(0, 2**63 - 1))
    if config.seed is not None:
        model.reseed(rng)

    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
        if config.schedule == "cosine"
        else None
    )
    loss_fn = torch.nn.CrossEntropyLoss(reduction="mean")
    history = History(
        config=config,
        spec=model.spec.to_dict(),
        layer_sizes=list(model.layer_sizes),
        seed=config.seed,
        version=__version__,
        train_data=train_name,
        validation_data=val[2] if val is not None else None,
    )
    n = x.shape[0]
    bs = config.batch_size
    shots = config.train_shots
    n_batches = -(-n // bs)
    loop = TrainingObjects(
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        shuffle_gen=shuffle_gen,
        sampling_gen=model.generator(x.device),
        run=run_description(model, config, x, y, val) if ckpt_dir is not None else {},
        eval_seed=eval_seed,
        history=history,
    )
    pos = LoopPosition()
    if ckpt_dir is not None:
        remove_stale_temporaries(ckpt_dir)
    if resume:
        assert ckpt_dir is not None
        pos = restore_training_checkpoint(ckpt_dir, loop, n_batches)
    else:
        with torch.no_grad():
            for hook in step_hooks:
                hook(model)
    done = pos.stopped or pos.epochs_done >= config.epochs
    first_epoch = pos.epochs_done + 1
    was_training = model.training
    bar = tqdm(
        range(first_epoch, config.epochs + 1) if not done else range(0),
        desc="training",
        unit="epoch",
        initial=first_epoch - 1,
        total=config.epochs,
        disable=not progress,
    )
    try:
        for epoch in bar:
            resumed = pos.epoch_step > 0 and epoch == first_epoch
            start = time.perf_counter() - (pos.epoch_seconds if resumed else 0.0)
            model.train()
            if resumed:
                assert pos.order is not None and pos.loss_sum is not None and pos.wrong is not None
                order, first_step = pos.order.to(x.device), pos.epoch_step
                loss_sum, wrong = pos.loss_sum.to(x.device), pos.wrong.to(x.device)
            else:
                order = torch.randperm(n, generator=shuffle_gen) if config.shuffle else torch.arange(n)
                order, first_step = order.to(x.device), 0
                loss_sum = torch.zeros((), device=x.device)
                wrong = torch.zeros((), dtype=torch.int64, device=x.device)
            nonfinite = torch.zeros((), dtype=torch.bool, device=x.device)  # W x overflowed (inf or NaN)
            for step in range(first_step, n_batches):
                idx = order[step * bs : (step + 1) * bs]
                xb, yb = x[idx], y[idx]
                if shots > 1:  # K independent passes per image; the mean loss averages their gradients
                    xb, yb = xb.repeat(shots, 1), yb.repeat(shots)
                fp = model.forward_pass(xb, validate=False)
                logits = fp.logits
                loss = loss_fn(logits, yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                with torch.no_grad():
                    for hook in step_hooks:
                        hook(model)
                    loss_sum += loss.detach() * idx.shape[0]
                    wrong += (logits.argmax(dim=-1) != yb).sum()
                    for z in fp.preactivations:
                        nonfinite |= ~torch.isfinite(z).all()
                if (
                    ckpt_dir is not None
                    and checkpoint_every is not None
                    and step + 1 < n_batches
                    and ((epoch - 1) * n_batches + step + 1) % checkpoint_every == 0
                ):
                    _check_finite(nonfinite, epoch, x.dtype)
                    save_training_checkpoint(
                        ckpt_dir,
                        loop,
                        LoopPosition(
                            epochs_done=epoch - 1,
                            epoch_step=step + 1,
                            order=order,
                            loss_sum=loss_sum,
                            wrong=wrong,
                            epoch_seconds=time.perf_counter() - start,
                        ),
                    )
            if scheduler is not None:
                scheduler.step()
            model.check_weights()
            _check_finite(nonfinite, epoch, x.dtype)
            if config.average_from is not None and epoch >= config.average_from:
                _update_average(loop, model)
            mean_loss = float(loss_sum) / n  # the epoch's one synchronisation with the device
            if not math.isfinite(mean_loss):
                raise InputError(
                    f"training diverged: the mean loss of epoch {epoch} is {mean_loss}; lower the learning "
                    f"rate (lr={config.lr}) or check the data"
                )
            ev: Evaluation | None = None
            if val is not None and (epoch % config.eval_every == 0 or epoch == config.epochs):
                model.eval()
                with _weights(model, loop.average):
                    ev = evaluate(
                        model,
                        (val[0], val[1]),
                        shots=config.eval_shots,
                        seed=np.random.default_rng([loop.eval_seed, epoch]),
                    )
            record = EpochRecord(
                epoch=epoch,
                loss=mean_loss,
                train_error=int(wrong) / (n * shots),
                val_single_shot_error=ev.single_shot_error if ev is not None else None,
                val_vote_error=ev.vote_error if ev is not None else None,
                seconds=time.perf_counter() - start,
            )
            history.records.append(record)
            postfix = {"loss": f"{record.loss:.4f}", "train_err": f"{record.train_error:.4f}"}
            if ev is not None:
                postfix["val_err"] = f"{ev.single_shot_error:.4f}"
                postfix["val_vote"] = f"{ev.vote_error:.4f}"
            bar.set_postfix(postfix)
            if out is not None:
                history.to_json(out / "history.json")
            stop = any([bool(cb(record, model)) for cb in callbacks])
            if ckpt_dir is not None:
                save_training_checkpoint(ckpt_dir, loop, LoopPosition(epochs_done=epoch, stopped=stop))
            if stop:
                break
    finally:
        bar.close()
        model.train(was_training)
    if loop.average is not None:  # the trained model is the average of the weights
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(loop.average[name])
            for hook in step_hooks:
                hook(model)
    if out is not None:
        from qiskit_natural_qnn.io import save_model

        history.to_json(out / "history.json")
        last = history.last_validated
        save_model(
            model,
            out / "model.safetensors",
            metadata={
                "train_data": train_name,
                "validation_data": history.validation_data,
                "epochs": len(history.records),
                "config": config.to_dict(),
                "val_single_shot_error": last.val_single_shot_error if last is not None else None,
                "val_vote_error": last.val_vote_error if last is not None else None,
            },
        )
    return history
