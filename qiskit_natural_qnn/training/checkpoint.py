"""Training checkpoints: everything a run needs to continue bit-exactly after a crash.

:func:`~qiskit_natural_qnn.training.fit` writes one file, ``checkpoint.safetensors``, into its
checkpoint directory at the end of every epoch (and every ``checkpoint_every`` optimizer steps if
asked). The file is a safetensors file, so loading it reads JSON and raw numbers and never runs code:

* tensors: the model's parameters (``model.<name>``), the optimizer's per-parameter state such as
  SGD momentum buffers (``optimizer.<index>.<key>``), the states of the shuffle generator and of the
  model's sampling generator (``rng.shuffle``, ``rng.sampling``, ``uint8``), and, in the middle of an
  epoch, that epoch's permutation and running sums (``epoch.order``, ``epoch.loss_sum``,
  ``epoch.wrong``);
* metadata ``state`` (JSON): the loop position (epochs done, batches done in the next epoch), the
  history so far, the optimizer's hyper-parameters, the scheduler's state, the validation seed, and
  the *run description* (training config, network, device type and SHA-256 digests of the training
  and validation data) that a resumed run must match;
* metadata ``sha256``: a digest of all of the above, so a truncated, corrupted or mixed-up file is
  refused instead of silently continuing from wrong numbers. The digest detects accidents, not
  forgery: anyone can recompute it (:func:`write_checkpoint` does). What keeps a forged or mismatched
  checkpoint out is :func:`restore_training_checkpoint`, which checks everything it restores against
  the resumed run's own :class:`~qiskit_natural_qnn.training.TrainConfig` and network.

The file is written to a temporary file in the same directory, flushed to disk and moved into place
with :func:`os.replace`: a crash at any moment leaves either the previous checkpoint or the new one.

Example:
    >>> import tempfile, torch
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_checkpoint(tmp, {"x": torch.arange(3)}, {"note": "hello"})
    ...     ckpt = read_checkpoint(tmp)
    >>> ckpt.state["note"], ckpt.tensors["x"].tolist(), path.name
    ('hello', [0, 1, 2], 'checkpoint.safetensors')
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as _safetensors_load
from safetensors.torch import save as _safetensors_save
from torch.optim.lr_scheduler import LRScheduler

from qiskit_natural_qnn.checks import is_int, is_real
from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError
from qiskit_natural_qnn.io.files import decode_json, write_atomic
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.training.config import (
    EpochRecord,
    History,
    TrainConfig,
    complete_config_dict,
)
from qiskit_natural_qnn.version import __version__

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "LoopPosition",
    "TrainingObjects",
    "check_optimizer_state",
    "digest_tensors",
    "expected_optimizer_settings",
    "is_validation_epoch",
    "make_optimizer",
    "make_scheduler",
    "optimizer_state",
    "read_checkpoint",
    "restore_training_checkpoint",
    "run_description",
    "run_differences",
    "save_training_checkpoint",
    "write_checkpoint",
]

#: The file name of a checkpoint inside its directory.
CHECKPOINT_FILE = "checkpoint.safetensors"

#: The value of the ``format`` metadata key of every checkpoint.
CHECKPOINT_FORMAT = "qiskit-natural-qnn-checkpoint"

#: The checkpoint format version this library writes and the newest it reads.
CHECKPOINT_VERSION = 1

_MAX_HEADER_BYTES = 100_000_000


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file read back and checked against its digest (not yet applied to anything).

    Attributes:
        path: the file.
        format_version: its format version.
        state: the JSON state (loop position, history, hyper-parameters, run description...).
        tensors: the tensors by name, on the CPU.
    """

    path: Path
    format_version: int
    state: dict[str, Any]
    tensors: dict[str, torch.Tensor]


def _file(directory: str | os.PathLike[str]) -> Path:
    path = Path(directory)
    return path if path.suffix == ".safetensors" else path / CHECKPOINT_FILE


def _digest(state_json: str, tensors: Mapping[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    h.update(b"state\0" + state_json.encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{list(t.shape)}\0".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def digest_tensors(*tensors: torch.Tensor) -> str:
    """SHA-256 of the dtypes, shapes and bytes of ``tensors`` (used to fingerprint training data).

    Example:
        >>> digest_tensors(torch.zeros(2)) == digest_tensors(torch.zeros(2)) != digest_tensors(torch.zeros(3))
        True
    """
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().to("cpu").contiguous()
        h.update(f"{t.dtype}\0{list(t.shape)}\0".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def write_checkpoint(
    directory: str | os.PathLike[str], tensors: Mapping[str, torch.Tensor], state: Mapping[str, Any]
) -> Path:
    """Atomically write ``tensors`` and the JSON-ready ``state`` to ``directory/checkpoint.safetensors``.

    Args:
        directory: the checkpoint directory (created if missing), or a path ending in ``.safetensors``.
        tensors: tensors by name (any device; stored on the CPU).
        state: JSON-ready state (strict JSON: no NaN or infinity).

    Returns:
        The file written.

    Raises:
        ConfigurationError: ``state`` is not strict-JSON serialisable.
        OSError: the directory cannot be created or written.
    """
    try:
        state_json = json.dumps(dict(state), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"checkpoint state must be strict JSON: {exc}") from None
    cpu = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    meta = {
        "format": CHECKPOINT_FORMAT,
        "format_version": str(CHECKPOINT_VERSION),
        "state": state_json,
        "sha256": _digest(state_json, cpu),
    }
    payload = _safetensors_save(cpu, metadata=meta)
    return write_atomic(_file(directory), payload, durable=True)


def read_checkpoint(directory: str | os.PathLike[str]) -> Checkpoint:
    """Read ``directory/checkpoint.safetensors`` (or a ``.safetensors`` path) and verify its digest.

    Nothing is unpickled and no code runs: the file is a JSON header and raw numbers.

    Args:
        directory: the checkpoint directory, or the file itself.

    Returns:
        The :class:`Checkpoint`.

    Raises:
        DamagedFileError: no checkpoint there, a file that is not a checkpoint, truncated or corrupted
            (digest mismatch), or written by a newer format version.
    """
    path = _file(directory)
    where = str(path)
    if not path.is_file():
        raise DamagedFileError(
            f"no checkpoint at {where!r}; train with a checkpoint directory first, or start a new run without resume"
        )
    data = path.read_bytes()
    meta = _checkpoint_metadata(where, data)
    version = _format_version(where, meta)
    state_json, digest = meta.get("state"), meta.get("sha256")
    if not isinstance(state_json, str) or not isinstance(digest, str):
        raise DamagedFileError(f"checkpoint {where!r} is corrupt: metadata 'state' or 'sha256' is missing")
    try:
        tensors = _safetensors_load(data)
    except (SafetensorError, ValueError, RuntimeError, TypeError, OverflowError, MemoryError) as exc:
        raise DamagedFileError(f"checkpoint {where!r} is corrupt: safetensors cannot read it: {exc}") from None
    if _digest(state_json, tensors) != digest:
        raise DamagedFileError(
            f"checkpoint {where!r} is corrupt or was edited: its SHA-256 digest does not match its contents; "
            "delete it to restart the run, or restore an intact copy"
        )
    try:
        state = decode_json(state_json)
    except DamagedFileError as exc:  # the digest covers the text, so only a forged file gets here
        raise DamagedFileError(f"checkpoint {where!r}: metadata 'state' is {exc}") from None
    if not isinstance(state, dict):
        raise DamagedFileError(f"checkpoint {where!r}: metadata 'state' must be a JSON object")
    return Checkpoint(path=path, format_version=version, state=state, tensors=tensors)


def _checkpoint_metadata(where: str, data: bytes) -> dict[str, Any]:
    """The safetensors metadata of the checkpoint bytes ``data``, checked to be a checkpoint's."""
    if len(data) < 8:
        raise DamagedFileError(
            f"checkpoint {where!r} is truncated: {len(data)} bytes, shorter than its 8-byte header length"
        )
    (n,) = struct.unpack("<Q", data[:8])
    if n < 2 or n > _MAX_HEADER_BYTES or 8 + n > len(data):
        raise DamagedFileError(
            f"checkpoint {where!r} is truncated or corrupt: its header length {n} does not fit a file of "
            f"{len(data)} bytes"
        )
    try:
        header = decode_json(data[8 : 8 + n])
    except DamagedFileError as exc:
        raise DamagedFileError(f"checkpoint {where!r} is corrupt: its header is not valid UTF-8 JSON ({exc})") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise DamagedFileError(
            f"{where!r} is not a qiskit-natural-qnn checkpoint (metadata 'format' is not "
            f"{CHECKPOINT_FORMAT!r}); pass the directory fit wrote its checkpoint to"
        )
    return meta


def _format_version(where: str, meta: Mapping[str, Any]) -> int:
    """The checkpoint's format version, refused when malformed or newer than this library reads."""
    raw_version = meta.get("format_version")
    if not (isinstance(raw_version, str) and raw_version.isascii() and raw_version.isdigit() and int(raw_version) >= 1):
        raise DamagedFileError(f"checkpoint {where!r}: format_version must be a positive integer, got {raw_version!r}")
    version = int(raw_version)
    if version > CHECKPOINT_VERSION:
        raise DamagedFileError(
            f"checkpoint {where!r} was written by a newer qiskit-natural-qnn (checkpoint format {version}); "
            f"this version reads format {CHECKPOINT_VERSION}; upgrade the library to resume it"
        )
    return version


def run_differences(saved: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Human-readable differences between two run descriptions (nested dicts), e.g. ``"config.lr: 0.01 -> 0.02"``.

    Example:
        >>> run_differences({"config": {"lr": 0.01, "epochs": 3}}, {"config": {"lr": 0.02, "epochs": 3}})
        ['config.lr: 0.01 in the checkpoint, 0.02 now']
    """
    out: list[str] = []
    for key in sorted(set(saved) | set(current)):
        name = f"{prefix}{key}"
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(run_differences(a, b, prefix=f"{name}."))
        elif a != b or type(a) is not type(b):
            out.append(f"{name}: {a!r} in the checkpoint, {b!r} now")
    return out


# ------------------------------------------------------------------------------------------ optimizer
def make_optimizer(params: Iterable[torch.Tensor], config: TrainConfig) -> torch.optim.SGD:
    """The optimizer of ``config``'s recipe (``docs/model.md``, "Training").

    SGD with the config's ``lr``, ``momentum`` and ``weight_decay`` and PyTorch's defaults for every other
    hyper-parameter. :func:`~qiskit_natural_qnn.training.fit` trains with it, and a resume checks a
    checkpoint's optimizer state against it.
    """
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> LRScheduler | None:
    """The learning-rate schedule of ``config``: None, or cosine annealing to 0 over ``config.epochs`` epochs."""
    if config.schedule is None:
        return None
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    raise ConfigurationError(  # pragma: no cover - TrainConfig refuses other names
        f"unknown schedule {config.schedule!r}; expected None or 'cosine'"
    )


def expected_optimizer_settings(config: TrainConfig, epochs_done: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What ``config`` implies for the optimizer after ``epochs_done`` epochs, as a checkpoint must hold it.

    The schedule is replayed on a scratch optimizer, step by step as ``fit`` steps it, so the learning
    rate is the very float the run had, not a closed form that may differ in the last bit.

    Args:
        config: the run's recipe.
        epochs_done: the epochs completed (the scheduler steps once at the end of each).

    Returns:
        ``(group, scheduler)``: the hyper-parameters of the optimizer's one parameter group (without
        ``params``), and the scheduler's ``state_dict()`` (None without a schedule).

    Example:
        >>> group, scheduler = expected_optimizer_settings(TrainConfig(epochs=4, schedule="cosine"), 2)
        >>> round(group["lr"], 12), group["initial_lr"], group["momentum"], group["nesterov"], scheduler["last_epoch"]
        (0.005, 0.01, 0.9, False, 2)
    """
    optimizer = make_optimizer([torch.zeros(1, requires_grad=True)], config)
    scheduler = make_scheduler(optimizer, config)
    if scheduler is not None:
        for _ in range(epochs_done):
            optimizer.step()  # no gradient, so no change; keeps the order of calls the scheduler expects
            scheduler.step()
    group = {key: value for key, value in optimizer.param_groups[0].items() if key != "params"}
    return group, scheduler.state_dict() if scheduler is not None else None


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors (``optimizer.<i>.<key>``) and JSON.

    Returns:
        ``(tensors, json_state)`` where ``json_state`` holds ``param_groups`` and, per parameter index,
        the non-tensor entries of its state.
    """
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    other: dict[str, dict[str, Any]] = {}
    for index, entries in sd["state"].items():
        plain: dict[str, Any] = {}
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                plain[key] = value
        other[str(index)] = plain
    return tensors, {"param_groups": sd["param_groups"], "state": other}


def check_optimizer_state(
    tensors: Mapping[str, torch.Tensor],
    json_state: Any,
    *,
    params: Sequence[torch.Tensor],
    expected: Mapping[str, Any],
    where: str,
) -> dict[str, Any]:
    """Check an SGD state written by :func:`optimizer_state` against what it must hold; return it, ready to load.

    It must have one parameter group whose every hyper-parameter equals ``expected``'s, in type and
    value (see :func:`expected_optimizer_settings`), over the parameters ``0 .. len(params) - 1``; and,
    when ``expected["momentum"]`` is not 0, exactly one momentum buffer per trained parameter
    (``requires_grad``) with that parameter's shape and dtype and finite values; otherwise no state.

    Args:
        tensors: the checkpoint's ``optimizer.<i>.<key>`` tensors.
        json_state: the JSON half written by :func:`optimizer_state`.
        params: the optimizer's parameters, in order.
        expected: the parameter group's hyper-parameters, without ``params``.
        where: the checkpoint file, for the messages.

    Returns:
        The state dict to pass to ``optimizer.load_state_dict``.

    Raises:
        DamagedFileError: anything that differs, naming the field.
    """

    def bad(what: str) -> DamagedFileError:
        return _inconsistent(where, what)

    if not isinstance(json_state, dict) or set(json_state) != {"param_groups", "state"}:
        raise bad(f"optimizer must hold 'param_groups' and 'state', got {_brief(json_state)}")
    groups = json_state["param_groups"]
    _check_param_group(groups, expected, len(params), bad)
    trained = [i for i, p in enumerate(params) if p.requires_grad] if expected.get("momentum", 0) != 0 else []
    state = _momentum_buffers(json_state["state"], tensors, params, trained, bad)
    return {"state": state, "param_groups": groups}


#: Builds the error for one inconsistency of a checkpoint, from what is wrong.
_Bad = Callable[[str], DamagedFileError]


def _inconsistent(where: str, what: str) -> DamagedFileError:
    """The error for a well-formed checkpoint whose contents do not fit the run, ``what`` naming the field."""
    return DamagedFileError(f"checkpoint {where!r} is inconsistent: {what}; delete it to restart the run")


def _brief(value: Any) -> str:
    """``repr(value)``, cut short (a forged field may be huge)."""
    return _cut(repr(value))


def _cut(text: str, limit: int = 80) -> str:
    """``text``, cut to ``limit`` characters."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _same_json(saved: Any, expected: Any) -> bool:
    """True when a value read from JSON equals ``expected`` exactly: same types (a bool is no int), same values."""
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(saved, list)
            and len(saved) == len(expected)
            and all(_same_json(a, b) for a, b in zip(saved, expected))
        )
    if isinstance(expected, dict):
        return (
            isinstance(saved, dict)
            and set(saved) == set(expected)
            and all(_same_json(saved[k], v) for k, v in expected.items())
        )
    return type(saved) is type(expected) and saved == expected


def _check_param_group(groups: Any, expected: Mapping[str, Any], n_params: int, bad: _Bad) -> None:
    """One parameter group, holding exactly the ``expected`` hyper-parameters and the parameter indices."""
    if not isinstance(groups, list) or len(groups) != 1 or not isinstance(groups[0], dict):
        got = f"{len(groups)} group(s)" if isinstance(groups, list) else _brief(groups)
        raise bad(f"optimizer param_groups must be one parameter group (this run's optimizer has one), got {got}")
    group = groups[0]
    keys = sorted({*expected, "params"})
    if set(group) != set(keys):
        raise bad(f"optimizer param_groups[0] has the entries {_brief(sorted(group))}, expected {keys}")
    for key, value in expected.items():
        if not _same_json(group[key], value):
            raise bad(
                f"optimizer param_groups[0].{key} is {_brief(group[key])}, but this run's TrainConfig implies "
                f"{value!r} at this point of the run"
            )
    if not _same_json(group["params"], list(range(n_params))):
        raise bad(f"optimizer param_groups[0].params is {_brief(group['params'])}, expected {list(range(n_params))}")


def _momentum_buffers(
    plain: Any, tensors: Mapping[str, torch.Tensor], params: Sequence[torch.Tensor], trained: list[int], bad: _Bad
) -> dict[int, dict[str, Any]]:
    """The per-parameter state: one ``momentum_buffer`` for each index in ``trained``, and nothing else."""
    if plain != {str(i): {} for i in trained}:
        expected = f"an empty entry for each of the parameters {trained}" if trained else "no entries (no momentum)"
        raise bad(f"optimizer state must hold {expected}, got {_brief(plain)}")
    names = {f"optimizer.{i}.momentum_buffer": i for i in trained}
    unexpected = sorted(set(tensors) - set(names))
    if unexpected:
        what = "one momentum_buffer per parameter" if trained else "no tensors (no momentum)"
        raise bad(f"unexpected optimizer tensor(s) {_cut(', '.join(unexpected))}; this run's SGD keeps {what}")
    state: dict[int, dict[str, Any]] = {}
    for name, index in names.items():
        t, param = tensors.get(name), params[index]
        if t is None or t.shape != param.shape or t.dtype != param.dtype:
            got = "missing" if t is None else f"{t.dtype} {tuple(t.shape)}"
            raise bad(f"{name} is {got}, expected {param.dtype} {tuple(param.shape)} like its parameter")
        if not bool(torch.isfinite(t).all()):
            raise bad(f"{name} holds NaN or infinity")
        state[index] = {"momentum_buffer": t}
    return state


# ------------------------------------------------------------------------------ the training loop
def run_description(
    model: NaturalQNN,
    config: TrainConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    val: tuple[torch.Tensor, torch.Tensor, str | None] | None,
) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote the checkpoint (compared key by key).

    Args:
        model: the :class:`~qiskit_natural_qnn.network.NaturalQNN` being trained.
        config: its :class:`~qiskit_natural_qnn.training.TrainConfig`.
        x: the training images, as ``fit`` holds them (on the device, in the model's dtype).
        y: the training labels.
        val: ``(images, labels, name)`` of the validation set, or None.

    Returns:
        A JSON-ready dict: the config, the network (layer sizes, spec, bias, dtype, and the name of
        the spec's surrogate), the device type, and the number and SHA-256 digest of the training and
        validation images.
    """
    return {
        "config": config.to_dict(),
        "model": {
            "layer_sizes": list(model.layer_sizes),
            "spec": model.spec.to_dict(),
            "bias": model.bias,
            "dtype": str(model.weights()[0].dtype).removeprefix("torch."),
            "surrogate": model.spec.surrogate.name,
        },
        "device": x.device.type,
        "train_data": {"n_images": int(x.shape[0]), "sha256": digest_tensors(x, y)},
        "validation_data": (
            {"n_images": int(val[0].shape[0]), "sha256": digest_tensors(val[0], val[1])} if val is not None else None
        ),
    }


@dataclass
class LoopPosition:
    """Where the training loop is: ``epochs_done`` full epochs, then ``epoch_step`` batches of the next one.

    Attributes:
        epochs_done: completed epochs.
        epoch_step: batches done in epoch ``epochs_done + 1`` (0 at an epoch boundary).
        order: that epoch's permutation of the training images (mid-epoch only).
        loss_sum: its running sum of batch-size-weighted losses (mid-epoch only).
        wrong: its running count of wrong training passes (mid-epoch only).
        epoch_seconds: wall time spent in that epoch so far.
        stopped: a callback stopped the run after epoch ``epochs_done``.
    """

    epochs_done: int = 0
    epoch_step: int = 0
    order: torch.Tensor | None = None
    loss_sum: torch.Tensor | None = None
    wrong: torch.Tensor | None = None
    epoch_seconds: float = 0.0
    stopped: bool = False


@dataclass
class TrainingObjects:
    """The objects of a ``fit`` call whose state a checkpoint holds.

    Attributes:
        model: the network (its ``state_dict`` is saved).
        optimizer: the optimizer (hyper-parameters and per-parameter state such as momentum).
        scheduler: the learning-rate scheduler, or None.
        shuffle_gen: the CPU generator that draws each epoch's permutation.
        sampling_gen: the model's sampling generator on the training device.
        run: the :func:`run_description` a resume must match.
        eval_seed: the seed of the validation shots.
        history: the :class:`~qiskit_natural_qnn.training.History` so far.
        average: the running average of the weights by parameter name (``TrainConfig.average_from``),
            or None before the first averaged epoch.
        n_averaged: how many epochs' weights ``average`` holds.
    """

    model: NaturalQNN
    optimizer: torch.optim.Optimizer
    scheduler: Any
    shuffle_gen: torch.Generator
    sampling_gen: torch.Generator
    run: dict[str, Any]
    eval_seed: int
    history: History
    average: dict[str, torch.Tensor] | None = None
    n_averaged: int = 0


def save_training_checkpoint(directory: str | os.PathLike[str], loop: TrainingObjects, pos: LoopPosition) -> Path:
    """Atomically write the state of ``loop`` at position ``pos`` to ``directory/checkpoint.safetensors``.

    Returns:
        The file written.
    """
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v for k, v in loop.model.state_dict().items()}
    opt_tensors, opt_json = optimizer_state(loop.optimizer)
    tensors.update(opt_tensors)
    tensors["rng.shuffle"] = loop.shuffle_gen.get_state()
    tensors["rng.sampling"] = loop.sampling_gen.get_state()
    if pos.epoch_step:
        assert pos.order is not None and pos.loss_sum is not None and pos.wrong is not None
        tensors.update({"epoch.order": pos.order, "epoch.loss_sum": pos.loss_sum, "epoch.wrong": pos.wrong})
    if loop.average is not None:
        tensors.update({f"average.{k}": v for k, v in loop.average.items()})
    state = {
        "n_averaged": loop.n_averaged,
        "run": loop.run,
        "epochs_done": pos.epochs_done,
        "epoch_step": pos.epoch_step,
        "epoch_seconds": pos.epoch_seconds,
        "stopped": pos.stopped,
        "eval_seed": loop.eval_seed,
        "optimizer": opt_json,
        "scheduler": loop.scheduler.state_dict() if loop.scheduler is not None else None,
        "history": loop.history.to_dict(),
        "library_version": __version__,
    }
    return write_checkpoint(directory, tensors, state)


def restore_training_checkpoint(
    directory: str | os.PathLike[str], loop: TrainingObjects, n_batches: int
) -> LoopPosition:
    """Read, check and apply the checkpoint in ``directory``; return the loop position to continue from.

    The digest only shows that the file is intact; anyone can recompute it. So everything the
    checkpoint restores is checked against what the run's own :class:`~qiskit_natural_qnn.training.TrainConfig`
    and network imply, before anything in ``loop`` is changed: the run description; the loop position
    (within the run's epochs and batches) and the history (one record per epoch done, validation
    results exactly at the epochs the run validates, numbers in range); the weights, momentum buffers
    and running average (the parameters' shapes and dtypes, finite); the optimizer's hyper-parameters
    (each equal to :func:`make_optimizer`'s, the learning rate to the schedule's value at that epoch);
    the scheduler's state (the schedule replayed to that epoch); the generators' states (valid states
    of the run's generators); the validation seed (the one ``config.seed`` implies); the interrupted
    epoch's permutation and running sums; the number of averaged epochs.

    Args:
        directory: the checkpoint directory.
        loop: the freshly set-up objects of the resumed ``fit`` call; restored in place.
        n_batches: mini-batches per epoch.

    Returns:
        The :class:`LoopPosition` to continue from.

    Raises:
        DamagedFileError: no checkpoint, a corrupt one, or one whose contents do not fit the run
            (the message names the field).
        ConfigurationError: a checkpoint of another run (config, network, data or device differ).
    """
    reader = _CheckpointReader(read_checkpoint(directory))
    _check_same_run(reader, loop.run)
    restored = _read_training_state(reader, loop, n_batches)
    _apply_training_state(restored, loop)
    return restored.position


def is_validation_epoch(config: TrainConfig, epoch: int) -> bool:
    """True when a run with validation data validates after ``epoch``: every ``eval_every`` epochs and the last.

    Example:
        >>> [e for e in range(1, 6) if is_validation_epoch(TrainConfig(epochs=5, eval_every=2), e)]
        [2, 4, 5]
    """
    return epoch % config.eval_every == 0 or epoch == config.epochs


class _CheckpointReader:
    """A checkpoint being checked: its JSON state, the tensors not taken yet, and its error messages."""

    def __init__(self, ckpt: Checkpoint) -> None:
        self.where = str(ckpt.path)
        self.state = ckpt.state
        self.tensors = dict(ckpt.tensors)

    def bad(self, what: str) -> DamagedFileError:
        """The error for one inconsistency, ``what``."""
        return _inconsistent(self.where, what)

    def integer(self, key: str, low: int, high: int) -> int:
        """The state's ``key``, an int in ``[low, high]``."""
        value = self.state.get(key)
        if not is_int(value) or not low <= value <= high:
            raise self.bad(f"{key} must be an int in [{low}, {high}], got {_brief(value)}")
        return int(value)

    def take_like(self, params: Mapping[str, torch.Tensor], prefix: str, label: str) -> dict[str, torch.Tensor]:
        """Take ``prefix + name`` for every parameter, checked for shape, dtype and finiteness."""
        taken = {}
        for name, current in params.items():
            t = self.tensors.pop(f"{prefix}{name}", None)
            if t is None or t.shape != current.shape or t.dtype != current.dtype:
                got = "missing" if t is None else f"{t.dtype} {tuple(t.shape)}"
                raise self.bad(f"{label}{name} is {got}, expected {current.dtype} {tuple(current.shape)}")
            if not bool(torch.isfinite(t).all()):
                raise self.bad(f"{label}{name} holds NaN or infinity")
            taken[name] = t
        return taken

    def take_prefixed(self, prefix: str) -> dict[str, torch.Tensor]:
        """Take every tensor whose name starts with ``prefix`` (checked by whoever uses them)."""
        return {k: self.tensors.pop(k) for k in list(self.tensors) if k.startswith(prefix)}

    def check_all_taken(self) -> None:
        """Refuse tensors that nothing took."""
        if self.tensors:
            raise self.bad(f"unexpected tensor(s) {_cut(', '.join(sorted(self.tensors)))}")


@dataclass
class _TrainingState:
    """A checkpoint's training state, checked against the resumed run and not applied yet."""

    position: LoopPosition
    eval_seed: int
    records: list[EpochRecord]
    params: dict[str, torch.Tensor]
    generator_states: dict[str, torch.Tensor]
    scheduler_state: dict[str, Any] | None
    average: dict[str, torch.Tensor] | None
    n_averaged: int
    optimizer_state: dict[str, Any]


def _check_same_run(reader: _CheckpointReader, run: Mapping[str, Any]) -> None:
    """Refuse a checkpoint whose run description differs from ``run`` (listing the differences)."""
    saved_run = reader.state.get("run")
    if not isinstance(saved_run, dict):
        raise reader.bad("it has no run description")
    if isinstance(saved_run.get("config"), dict):  # perhaps written before some TrainConfig fields existed
        saved_run = {**saved_run, "config": complete_config_dict(saved_run["config"])}
    diffs = run_differences(saved_run, run)
    if diffs:
        raise ConfigurationError(
            f"cannot resume from {reader.where!r}: it was written by another run ({'; '.join(diffs)}); resume with "
            "the same network, data, device and TrainConfig, or start a new run without resume (or with "
            "another checkpoint directory)"
        )


def _read_training_state(reader: _CheckpointReader, loop: TrainingObjects, n_batches: int) -> _TrainingState:
    """Check every field and tensor of the checkpoint against ``loop`` and its config, changing nothing."""
    config = loop.history.config
    position = _read_position(reader, config, n_batches)
    has_validation = loop.run.get("validation_data") is not None
    records = _checkpoint_records(reader.state.get("history"), position.epochs_done, config, has_validation, reader.bad)
    params = loop.model.state_dict()
    new_params = reader.take_like(params, "model.", "parameter ")
    generator_states = _read_generator_states(reader, loop)
    _read_interrupted_epoch(reader, position, n_images=loop.run["train_data"]["n_images"], config=config)
    group, scheduler = expected_optimizer_settings(config, position.epochs_done)
    scheduler_state = _read_scheduler_state(reader, scheduler, config, position.epochs_done)
    n_averaged = _read_n_averaged(reader, config, position.epochs_done)
    average = reader.take_like(params, "average.", "average.") if n_averaged else None
    optimizer_params = [p for g in loop.optimizer.param_groups for p in g["params"]]
    optimizer = check_optimizer_state(
        reader.take_prefixed("optimizer."),
        reader.state.get("optimizer"),
        params=optimizer_params,
        expected=group,
        where=reader.where,
    )
    reader.check_all_taken()
    return _TrainingState(
        position=position,
        eval_seed=_read_eval_seed(reader, config, loop.eval_seed),
        records=records,
        params=new_params,
        generator_states=generator_states,
        scheduler_state=scheduler_state,
        average=average,
        n_averaged=n_averaged,
        optimizer_state=optimizer,
    )


def _read_position(reader: _CheckpointReader, config: TrainConfig, n_batches: int) -> LoopPosition:
    """The loop position (without the interrupted epoch's tensors), within the run's epochs and batches."""
    epochs_done = reader.integer("epochs_done", 0, config.epochs)
    epoch_step = reader.integer("epoch_step", 0, n_batches - 1 if epochs_done < config.epochs else 0)
    if epochs_done == epoch_step == 0:
        raise reader.bad("epochs_done and epoch_step are both 0, but fit checkpoints only after an optimizer step")
    seconds = reader.state.get("epoch_seconds")
    if not is_real(seconds) or not math.isfinite(seconds) or seconds < 0:
        raise reader.bad(f"epoch_seconds must be a finite number >= 0, got {_brief(seconds)}")
    stopped = reader.state.get("stopped")
    if not isinstance(stopped, bool):
        raise reader.bad(f"stopped must be true or false, got {_brief(stopped)}")
    if stopped and epoch_step:
        raise reader.bad("stopped is true in the middle of an epoch; a callback stops a run only at an epoch's end")
    return LoopPosition(epochs_done=epochs_done, epoch_step=epoch_step, epoch_seconds=float(seconds), stopped=stopped)


def _read_eval_seed(reader: _CheckpointReader, config: TrainConfig, seeded: int) -> int:
    """The validation seed; with ``config.seed`` set, the one it implies (``seeded``, the fresh run's)."""
    eval_seed = reader.integer("eval_seed", 0, 2**63 - 1)
    if config.seed is not None and eval_seed != seeded:
        raise reader.bad(f"eval_seed is {eval_seed}, but this run's TrainConfig(seed={config.seed}) implies {seeded}")
    return eval_seed


def _read_generator_states(reader: _CheckpointReader, loop: TrainingObjects) -> dict[str, torch.Tensor]:
    """The shuffle and sampling generators' states: each of the live generator's size, and a valid state of it."""
    states: dict[str, torch.Tensor] = {}
    for key, gen in (("rng.shuffle", loop.shuffle_gen), ("rng.sampling", loop.sampling_gen)):
        t, now = reader.tensors.pop(key, None), gen.get_state()
        if t is None or t.dtype != torch.uint8 or t.shape != now.shape:
            got = "missing" if t is None else f"{t.dtype} {tuple(t.shape)}"
            raise reader.bad(f"generator state {key} is {got}, expected torch.uint8 {tuple(now.shape)}")
        try:
            torch.Generator(device=gen.device).set_state(t)
        except RuntimeError as exc:
            raise reader.bad(f"generator state {key} is not a valid {gen.device.type} generator's ({exc})") from None
        states[key] = t
    return states


def _read_interrupted_epoch(
    reader: _CheckpointReader, position: LoopPosition, *, n_images: int, config: TrainConfig
) -> None:
    """Into ``position``: the permutation and running sums of the epoch interrupted mid-way (if any)."""
    if not position.epoch_step:
        if position.stopped and position.epochs_done == 0:
            raise reader.bad("stopped before the first epoch ended")
        return
    order, loss_sum, wrong = (reader.tensors.pop(k, None) for k in ("epoch.order", "epoch.loss_sum", "epoch.wrong"))
    _check_order(reader, order, n_images, shuffle=config.shuffle)
    if loss_sum is None or loss_sum.shape != () or loss_sum.dtype != torch.zeros(()).dtype:
        raise reader.bad("epoch.loss_sum must be a float scalar")
    if not bool(torch.isfinite(loss_sum)) or float(loss_sum) < 0:
        raise reader.bad(f"epoch.loss_sum must be a finite sum of cross-entropies (>= 0), got {float(loss_sum)}")
    passes = min(position.epoch_step * config.batch_size, n_images) * config.train_shots
    if wrong is None or wrong.shape != () or wrong.dtype != torch.int64 or not 0 <= int(wrong) <= passes:
        raise reader.bad(
            f"epoch.wrong must be an int64 scalar in [0, {passes}] (the training passes of {position.epoch_step} "
            "batch(es))"
        )
    position.order, position.loss_sum, position.wrong = order, loss_sum, wrong


def _check_order(reader: _CheckpointReader, order: torch.Tensor | None, n_images: int, *, shuffle: bool) -> None:
    """``epoch.order`` is a permutation of the training images (the identity when the run does not shuffle)."""
    identity = torch.arange(n_images)
    if (
        order is None
        or order.dtype != torch.int64
        or order.shape != (n_images,)
        or not torch.equal(torch.sort(order).values, identity)
    ):
        raise reader.bad(f"epoch.order must be a permutation of the {n_images} training images")
    if not shuffle and not torch.equal(order, identity):
        raise reader.bad("epoch.order must be 0, 1, 2, ... in order: this run's TrainConfig has shuffle=False")


def _read_scheduler_state(
    reader: _CheckpointReader, expected: dict[str, Any] | None, config: TrainConfig, epochs_done: int
) -> dict[str, Any] | None:
    """The scheduler's state, equal to ``expected`` (the schedule of ``config`` replayed; None without one)."""
    sched = reader.state.get("scheduler")
    if expected is None:
        if sched is not None:
            raise reader.bad("it holds a scheduler state but this run's TrainConfig has schedule=None")
        return None
    if not isinstance(sched, dict) or set(sched) != set(expected):
        raise reader.bad(f"scheduler state must have the entries {sorted(expected)}, got {_brief(sched)}")
    for key, value in expected.items():
        if not _same_json(sched[key], value):
            raise reader.bad(
                f"scheduler state {key} is {_brief(sched[key])}, but this run's TrainConfig (schedule="
                f"{config.schedule!r}, epochs={config.epochs}) implies {value!r} after {epochs_done} epoch(s)"
            )
    return sched


def _read_n_averaged(reader: _CheckpointReader, config: TrainConfig, epochs_done: int) -> int:
    """How many epochs' weights the running average holds (``TrainConfig.average_from``)."""
    start = config.average_from
    n_averaged = reader.state.get("n_averaged", 0)
    expected_n = 0 if start is None else max(0, epochs_done - start + 1)
    if not is_int(n_averaged) or n_averaged != expected_n:
        raise reader.bad(
            f"n_averaged must be {expected_n} after {epochs_done} epoch(s) with TrainConfig(average_from={start}), "
            f"got {_brief(n_averaged)}"
        )
    return expected_n


def _apply_training_state(restored: _TrainingState, loop: TrainingObjects) -> None:
    """Put a checked training state into ``loop``: optimizer, weights, scheduler, generators, history, average."""
    loop.optimizer.load_state_dict(restored.optimizer_state)
    params = loop.model.state_dict()
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(restored.params[name])
    if loop.scheduler is not None:
        loop.scheduler.load_state_dict(restored.scheduler_state)
    loop.shuffle_gen.set_state(restored.generator_states["rng.shuffle"])
    loop.sampling_gen.set_state(restored.generator_states["rng.sampling"])
    loop.eval_seed = restored.eval_seed
    loop.history.records[:] = restored.records
    device = next(iter(params.values())).device if params else torch.device("cpu")
    loop.average = {k: v.to(device) for k, v in restored.average.items()} if restored.average is not None else None
    loop.n_averaged = restored.n_averaged


#: Each number of an epoch record: its range and how a message says it.
_RECORD_RANGES: dict[str, tuple[float, float, str]] = {
    "loss": (0.0, math.inf, "a finite number >= 0"),
    "train_error": (0.0, 1.0, "a number in [0, 1]"),
    "val_single_shot_error": (0.0, 1.0, "a number in [0, 1]"),
    "val_vote_error": (0.0, 1.0, "a number in [0, 1]"),
    "seconds": (0.0, math.inf, "a finite number >= 0"),
}


def _checkpoint_records(
    history: Any, epochs_done: int, config: TrainConfig, has_validation: bool, bad: _Bad
) -> list[EpochRecord]:
    """The history's epoch records: one per epoch done, validated exactly where the run validates, in range."""
    raw = history.get("records") if isinstance(history, dict) else None
    if not isinstance(raw, list) or len(raw) != epochs_done:
        got = f"{len(raw)}" if isinstance(raw, list) else "no list of"
        raise bad(f"history.records must hold {epochs_done} epoch record(s) (epochs_done), got {got} record(s)")
    return [
        _checkpoint_record(r, i, validated=has_validation and is_validation_epoch(config, i), bad=bad)
        for i, r in enumerate(raw, start=1)
    ]


def _checkpoint_record(r: Any, epoch: int, *, validated: bool, bad: _Bad) -> EpochRecord:
    """Epoch record number ``epoch``: its fields, its number, and finite numbers in range."""
    fields = {f.name for f in dataclasses.fields(EpochRecord)}
    if not isinstance(r, dict) or set(r) != fields:
        raise bad(f"history record {epoch} must have the entries {sorted(fields)}")
    if not is_int(r["epoch"]) or r["epoch"] != epoch:
        raise bad(f"history record {epoch}: epoch is {_brief(r['epoch'])}, expected {epoch}")
    for key, (low, high, text) in _RECORD_RANGES.items():
        v = r[key]
        if key.startswith("val_") and not validated:
            if v is not None:
                raise bad(f"history record {epoch}: {key} is {_brief(v)}, expected None (this run did not validate it)")
            continue
        if not is_real(v) or not math.isfinite(v) or not low <= v <= high:
            raise bad(f"history record {epoch}: {key} must be {text}, got {_brief(v)}")
    return EpochRecord(**r)
