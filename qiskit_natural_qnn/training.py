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
import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import (
    LoopPosition,
    TrainingObjects,
    remove_stale_temporaries,
    restore_training_checkpoint,
    run_description,
    save_training_checkpoint,
)
from .exceptions import ConfigurationError, InputError
from .fastpath import make_generator, nonfinite_preactivation_message
from .inference import Evaluation, check_labels, check_real_dtype, evaluate
from .network import NaturalQNN

__all__ = ["SCHEDULES", "EpochRecord", "History", "TrainConfig", "add_recipe_options", "fit", "recipe_options"]

#: Learning-rate schedules: None (the paper: constant) or ``"cosine"`` (cosine annealing to 0 over
#: ``epochs``, stepped once per epoch).
SCHEDULES: tuple[str, ...] = ("cosine",)

#: A callback gets the epoch's record and the model after every epoch; returning True stops training.
Callback = Callable[["EpochRecord", NaturalQNN], "bool | None"]


def _library_version() -> str:
    from . import __version__

    return __version__


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _is_real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


@dataclass(frozen=True)
class TrainConfig:
    """How to train (the defaults are the paper's recipe, PAPER.md section 4).

    Attributes:
        epochs: passes over the training set (``>= 1``).
        lr: SGD learning rate (``> 0``).
        momentum: SGD momentum, in ``[0, 1)``.
        batch_size: images per mini-batch (``>= 1``); the last batch of an epoch may be smaller.
        weight_decay: L2 penalty of SGD (``>= 0``).
        eval_shots: passes per validation image for the majority vote (``>= 1``).
        eval_every: validate every this many epochs (``>= 1``); the last epoch is always validated.
        shuffle: reshuffle the training set every epoch.
        seed: an int makes the run reproducible: it seeds the shuffle, restarts the network's sampling
            stream and seeds the validation shots. None uses fresh entropy for the shuffle and the
            validation shots and leaves the network's sampling stream as it is.
        schedule: None (constant learning rate, the paper) or ``"cosine"``.
        train_shots: stochastic forward passes per training image and step (``>= 1``); the loss is
            their mean, so the gradient averages as many independent samples of the network's
            randomness. 1 is the paper's recipe; ``K`` costs about ``K`` times as much per step.
        average_from: None (the paper: the final model is the last weights) or an epoch ``E`` in
            ``[1, epochs]``: stochastic weight averaging (Izmailov et al., 2018) with equal weights.
            The weights at the end of every epoch from ``E`` on are averaged; validations from epoch
            ``E`` on evaluate the average, and the trained model ends with it (after the step hooks
            are applied to it once). The training passes always use the current weights.

    Raises:
        ConfigurationError: a value of the wrong type or out of range.

    Example:
        >>> TrainConfig(epochs=0)
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: epochs must be an int >= 1, got 0; pass e.g. epochs=10
    """

    epochs: int = 10
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 64
    weight_decay: float = 0.0
    eval_shots: int = 15
    eval_every: int = 1
    shuffle: bool = True
    seed: int | None = None
    schedule: str | None = None
    train_shots: int = 1
    average_from: int | None = None

    def __post_init__(self) -> None:
        for name, example in (
            ("epochs", 10),
            ("batch_size", 64),
            ("eval_shots", 15),
            ("eval_every", 1),
            ("train_shots", 1),
        ):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}; pass e.g. {name}={example}")
            object.__setattr__(self, name, int(value))
        if not _is_real(self.lr) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ConfigurationError(f"lr must be a finite number > 0, got {self.lr!r}; pass e.g. lr=0.01")
        if not _is_real(self.momentum) or not 0 <= self.momentum < 1:
            raise ConfigurationError(
                f"momentum must be a number in [0, 1), got {self.momentum!r}; pass e.g. momentum=0.9 (0 for plain SGD)"
            )
        if not _is_real(self.weight_decay) or not math.isfinite(self.weight_decay) or self.weight_decay < 0:
            raise ConfigurationError(
                f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}; pass e.g. weight_decay=0.0"
            )
        for name in ("lr", "momentum", "weight_decay"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise ConfigurationError(f"shuffle must be True or False, got {self.shuffle!r}")
        object.__setattr__(self, "shuffle", bool(self.shuffle))
        if self.seed is not None:
            if not _is_int(self.seed) or self.seed < 0:
                raise ConfigurationError(
                    f"seed must be None or an int >= 0, got {self.seed!r}; pass e.g. seed=0"
                )
            object.__setattr__(self, "seed", int(self.seed))
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise ConfigurationError(
                f"unknown schedule {self.schedule!r}; expected None (constant learning rate) or one of "
                f"{', '.join(repr(s) for s in SCHEDULES)}"
            )
        if self.average_from is not None:
            if not _is_int(self.average_from) or not 1 <= self.average_from <= self.epochs:
                raise ConfigurationError(
                    f"average_from must be None or an epoch in [1, epochs={self.epochs}], got "
                    f"{self.average_from!r}; pass e.g. average_from={max(1, self.epochs // 2)} to average the "
                    "weights of the second half of training, or None for the last weights"
                )
            object.__setattr__(self, "average_from", int(self.average_from))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict."""
        return dataclasses.asdict(self)


#: TrainConfig fields added after the first history, checkpoint and sweep-record files were written;
#: a file without them was made with their defaults (the paper's recipe).
_FIELDS_ADDED_LATER: tuple[str, ...] = ("train_shots", "average_from")


def complete_config_dict(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a :meth:`TrainConfig.to_dict` dict with the fields older files lack set to their defaults.

    Example:
        >>> complete_config_dict({"epochs": 3})["train_shots"], complete_config_dict({"epochs": 3})["epochs"]
        (1, 3)
    """
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.name in _FIELDS_ADDED_LATER}
    return {**defaults, **data}


@dataclass(frozen=True)
class EpochRecord:
    """What happened in one epoch.

    Attributes:
        epoch: the epoch number, from 1.
        loss: mean training cross-entropy over the epoch's mini-batches (weighted by batch size).
        train_error: error of the training forward passes themselves (one stochastic pass per image,
            with the weights of the moment), over the epoch.
        val_single_shot_error: average single-pass validation error, or None when not validated.
        val_vote_error: majority-vote validation error over ``eval_shots`` passes, or None.
        seconds: wall time of the epoch (training and validation).
    """

    epoch: int
    loss: float
    train_error: float
    val_single_shot_error: float | None
    val_vote_error: float | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass
class History:
    """The record of a training run.

    Attributes:
        records: one :class:`EpochRecord` per completed epoch.
        config: the :class:`TrainConfig`.
        spec: the network's quantization spec as a dict (``a``, ``stretch``, ``g``, ``weak_update``).
        layer_sizes: the network's layer sizes.
        seed: the run's seed (``config.seed``).
        version: the version of qiskit-natural-qnn that trained it.
        train_data: name of the training set.
        validation_data: name of the validation set, or None.
    """

    records: list[EpochRecord] = field(default_factory=list)
    config: TrainConfig = field(default_factory=TrainConfig)
    spec: dict[str, Any] = field(default_factory=dict)
    layer_sizes: list[int] = field(default_factory=list)
    seed: int | None = None
    version: str = ""
    train_data: str | None = None
    validation_data: str | None = None

    @property
    def last_validated(self) -> EpochRecord | None:
        """The last record with validation errors, or None."""
        for record in reversed(self.records):
            if record.val_vote_error is not None:
                return record
        return None

    def to_dict(self) -> dict[str, Any]:
        """The history as a JSON-ready dict."""
        return {
            "version": self.version,
            "seed": self.seed,
            "layer_sizes": list(self.layer_sizes),
            "spec": dict(self.spec),
            "config": self.config.to_dict(),
            "train_data": self.train_data,
            "validation_data": self.validation_data,
            "records": [r.to_dict() for r in self.records],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a history from :meth:`to_dict` output.

        Raises:
            InputError: missing or malformed fields.
        """
        try:
            return cls(
                records=[EpochRecord(**r) for r in data["records"]],
                config=TrainConfig(**data["config"]),
                spec=dict(data["spec"]),
                layer_sizes=[int(s) for s in data["layer_sizes"]],
                seed=data["seed"],
                version=str(data["version"]),
                train_data=data.get("train_data"),
                validation_data=data.get("validation_data"),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"not a training history: {exc!r}; pass the dict written by History.to_dict") from None

    def to_json(self, path: str | Path) -> None:
        """Write the history as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | Path) -> History:
        """Read a history written by :meth:`to_json`.

        Raises:
            InputError: the file is not valid JSON or not a history.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{str(path)!r} is not valid JSON ({exc}); pass a history.json written by fit") from None
        return cls.from_dict(data)


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
    parser.add_argument("--momentum", type=float, default=defaults.momentum,
                        help=f"SGD momentum (default {defaults.momentum})")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size,
                        help=f"mini-batch size (default {defaults.batch_size})")
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay,
                        help="L2 weight decay (default 0, the paper)")
    parser.add_argument("--schedule", choices=["none", *SCHEDULES], default="none",
                        help="learning-rate schedule (default none, the paper; cosine is an option)")
    parser.add_argument(
        "--train-shots", type=int, default=1, metavar="K",
        help="stochastic passes per training image and step, loss averaged (default 1, the paper)",
    )
    parser.add_argument(
        "--average-from", type=int, default=None, metavar="EPOCH",
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
    description of the run (see :mod:`qiskit_natural_qnn.checkpoint`). Calling ``fit`` again with the
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
    if checkpoint_every is not None and (not _is_int(checkpoint_every) or checkpoint_every < 1):
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
        version=_library_version(),
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
        from .io import save_model

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
