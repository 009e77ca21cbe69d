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
* metadata ``sha256``: a digest of all of the above, so a truncated, corrupted or edited file is
  refused instead of silently continuing from wrong numbers.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as _safetensors_load
from safetensors.torch import save as _safetensors_save

from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError
from qiskit_natural_qnn.io.files import write_atomic
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.training.config import (
    EpochRecord,
    History,
    TrainConfig,
    complete_config_dict,
    is_int,
    is_real,
)
from qiskit_natural_qnn.version import __version__

__all__ = [
    "CHECKPOINT_FILE",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "Checkpoint",
    "LoopPosition",
    "TrainingObjects",
    "digest_tensors",
    "load_optimizer_state",
    "optimizer_state",
    "read_checkpoint",
    "remove_stale_temporaries",
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
_TMP_PREFIX = f".{CHECKPOINT_FILE}."
_TMP_SUFFIX = ".tmp"


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
    # write_atomic names its temporary file with _TMP_PREFIX / _TMP_SUFFIX for this file name
    return write_atomic(_file(directory), payload, durable=True)


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> int:
    """Delete temporary files left by a write that was killed; return how many were removed."""
    folder = _file(directory).parent
    if not folder.is_dir():
        return 0
    removed = 0
    for tmp in folder.glob(f"{_TMP_PREFIX}*{_TMP_SUFFIX}"):
        try:
            tmp.unlink()
            removed += 1
        except OSError:  # pragma: no cover - raced with another process
            pass
    return removed


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
        state = json.loads(state_json)
    except ValueError:  # pragma: no cover - the digest covers the text, so only a forged file gets here
        raise DamagedFileError(f"checkpoint {where!r}: metadata 'state' is not valid JSON") from None
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
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise DamagedFileError(f"checkpoint {where!r} is corrupt: its header is not valid UTF-8 JSON") from None
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


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], json_state: Any, where: str
) -> None:
    """Check a state written by :func:`optimizer_state` against ``optimizer`` and load it.

    Raises:
        DamagedFileError: groups, keys, types or tensor shapes that do not fit ``optimizer``.
    """
    current = optimizer.state_dict()
    params = [p for group in optimizer.param_groups for p in group["params"]]

    def bad(what: str) -> DamagedFileError:
        return DamagedFileError(f"checkpoint {where!r}: optimizer state does not fit this optimizer: {what}")

    if not isinstance(json_state, dict) or set(json_state) != {"param_groups", "state"}:
        raise bad("expected 'param_groups' and 'state'")
    groups = json_state["param_groups"]
    _check_param_groups(groups, current["param_groups"], bad)
    state = _per_parameter_state(json_state["state"], len(params), bad)
    _add_state_tensors(state, tensors, params, bad)
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:  # pragma: no cover - checked above
        raise bad(str(exc)) from None


#: Builds the error for one inconsistency of a checkpoint, from what is wrong.
_Bad = Callable[[str], DamagedFileError]


def _same_json_type(saved: Any, now: Any) -> bool:
    """True when a value read from JSON has the type of the live one (an int may stand for a float)."""
    return type(saved) is type(now) or (isinstance(now, float) and type(saved) is int)


def _check_param_groups(groups: Any, current: list[dict[str, Any]], bad: _Bad) -> None:
    """The saved parameter groups have the live groups' keys, types and parameter indices."""
    if not isinstance(groups, list) or len(groups) != len(current):
        raise bad(f"expected {len(current)} parameter group(s)")
    for saved, now in zip(groups, current):
        if not isinstance(saved, dict) or set(saved) != set(now):
            raise bad(f"parameter group keys differ from {sorted(now)}")
        for key, value in now.items():
            if not _same_json_type(saved[key], value):
                raise bad(f"parameter group entry {key!r} is {saved[key]!r}, expected a {type(value).__name__}")
        if saved["params"] != now["params"]:
            raise bad(f"parameter indices {saved['params']!r}, expected {now['params']!r}")


def _per_parameter_state(plain: Any, n_params: int, bad: _Bad) -> dict[int, dict[str, Any]]:
    """The non-tensor state entries by parameter index (``"0"``, ``"1"``... in JSON)."""
    if not isinstance(plain, dict):
        raise bad("'state' must be an object")
    state: dict[int, dict[str, Any]] = {}
    for key, entries in plain.items():
        if not (key.isascii() and key.isdigit() and int(key) < n_params) or not isinstance(entries, dict):
            raise bad(f"unknown parameter index {key!r}")
        state[int(key)] = dict(entries)
    return state


def _add_state_tensors(
    state: dict[int, dict[str, Any]], tensors: Mapping[str, torch.Tensor], params: list[torch.Tensor], bad: _Bad
) -> None:
    """Put each ``optimizer.<index>.<key>`` tensor into ``state``, checked against its parameter."""
    for name, tensor in tensors.items():
        parts = name.split(".")
        if len(parts) != 3 or parts[0] != "optimizer" or not (parts[1].isascii() and parts[1].isdigit()):
            raise bad(f"unexpected tensor {name!r}")
        index = int(parts[1])
        if index not in state:
            raise bad(f"tensor {name!r} for a parameter without state")
        param = params[index]
        if tensor.shape != param.shape and tensor.ndim != 0:
            raise bad(f"tensor {name!r} has shape {tuple(tensor.shape)}, expected {tuple(param.shape)}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise bad(f"tensor {name!r} holds NaN or infinity")
        state[index][parts[2]] = tensor


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

    Everything is checked (digest, run description, every field and tensor) before anything in
    ``loop`` is changed.

    Args:
        directory: the checkpoint directory.
        loop: the freshly set-up objects of the resumed ``fit`` call; restored in place.
        n_batches: mini-batches per epoch.

    Returns:
        The :class:`LoopPosition` to continue from.

    Raises:
        DamagedFileError: no checkpoint, or a corrupt one.
        ConfigurationError: a checkpoint of another run (config, network, data or device differ).
    """
    reader = _CheckpointReader(read_checkpoint(directory))
    _check_same_run(reader, loop.run)
    restored = _read_training_state(reader, loop, n_batches)
    _apply_training_state(restored, loop, reader.where)
    return restored.position


class _CheckpointReader:
    """A checkpoint being checked: its JSON state, the tensors not taken yet, and its error messages."""

    def __init__(self, ckpt: Checkpoint) -> None:
        self.where = str(ckpt.path)
        self.state = ckpt.state
        self.tensors = dict(ckpt.tensors)

    def bad(self, what: str) -> DamagedFileError:
        """The error for one inconsistency, ``what``."""
        return DamagedFileError(f"checkpoint {self.where!r} is inconsistent: {what}; delete it to restart the run")

    def integer(self, key: str, low: int, high: int) -> int:
        """The state's ``key``, an int in ``[low, high]``."""
        value = self.state.get(key)
        if not is_int(value) or not low <= value <= high:
            raise self.bad(f"{key} must be an int in [{low}, {high}], got {value!r}")
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
            raise self.bad(f"unexpected tensor(s) {', '.join(sorted(self.tensors))}")


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
    optimizer_tensors: dict[str, torch.Tensor]
    optimizer_json: Any


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
    """Check every field and tensor of the checkpoint against ``loop``, changing nothing."""
    config = loop.history.config
    position, eval_seed = _read_position(reader, config, n_batches)
    records = _checkpoint_records(reader.state.get("history"), position.epochs_done, reader.bad)
    params = loop.model.state_dict()
    new_params = reader.take_like(params, "model.", "parameter ")
    generator_states = _read_generator_states(reader, loop)
    _read_interrupted_epoch(reader, position, n_images=loop.run["train_data"]["n_images"], config=config)
    scheduler_state = _read_scheduler_state(reader, loop.scheduler)
    n_averaged = _read_n_averaged(reader, config, position.epochs_done)
    average = reader.take_like(params, "average.", "average.") if n_averaged else None
    optimizer_tensors = reader.take_prefixed("optimizer.")
    reader.check_all_taken()
    return _TrainingState(
        position=position,
        eval_seed=eval_seed,
        records=records,
        params=new_params,
        generator_states=generator_states,
        scheduler_state=scheduler_state,
        average=average,
        n_averaged=n_averaged,
        optimizer_tensors=optimizer_tensors,
        optimizer_json=reader.state.get("optimizer"),
    )


def _read_position(reader: _CheckpointReader, config: TrainConfig, n_batches: int) -> tuple[LoopPosition, int]:
    """The loop position (without the interrupted epoch's tensors) and the validation seed."""
    epochs_done = reader.integer("epochs_done", 0, config.epochs)
    epoch_step = reader.integer("epoch_step", 0, n_batches - 1 if epochs_done < config.epochs else 0)
    eval_seed = reader.integer("eval_seed", 0, 2**63 - 1)
    seconds = reader.state.get("epoch_seconds")
    if not is_real(seconds) or not math.isfinite(seconds) or seconds < 0:
        raise reader.bad(f"epoch_seconds must be a finite number >= 0, got {seconds!r}")
    stopped = reader.state.get("stopped")
    if not isinstance(stopped, bool):
        raise reader.bad(f"stopped must be true or false, got {stopped!r}")
    position = LoopPosition(
        epochs_done=epochs_done, epoch_step=epoch_step, epoch_seconds=float(seconds), stopped=stopped
    )
    return position, eval_seed


def _read_generator_states(reader: _CheckpointReader, loop: TrainingObjects) -> dict[str, torch.Tensor]:
    """The shuffle and sampling generators' states, each of the live generator's size."""
    states: dict[str, torch.Tensor] = {}
    for key, gen in (("rng.shuffle", loop.shuffle_gen), ("rng.sampling", loop.sampling_gen)):
        t = reader.tensors.pop(key, None)
        if t is None or t.dtype != torch.uint8 or t.shape != gen.get_state().shape:
            raise reader.bad(f"generator state {key} is missing or has the wrong size")
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
    if (
        order is None
        or order.dtype != torch.int64
        or order.shape != (n_images,)
        or not torch.equal(torch.sort(order).values, torch.arange(n_images))
    ):
        raise reader.bad(f"epoch.order must be a permutation of the {n_images} training images")
    if loss_sum is None or loss_sum.shape != () or loss_sum.dtype != torch.zeros(()).dtype:
        raise reader.bad("epoch.loss_sum must be a float scalar")
    if not bool(torch.isfinite(loss_sum)):
        raise reader.bad("epoch.loss_sum holds NaN or infinity")
    passes = n_images * config.train_shots
    if wrong is None or wrong.shape != () or wrong.dtype != torch.int64 or not 0 <= int(wrong) <= passes:
        raise reader.bad(f"epoch.wrong must be an int64 scalar in [0, {passes}]")
    position.order, position.loss_sum, position.wrong = order, loss_sum, wrong


def _read_scheduler_state(reader: _CheckpointReader, scheduler: Any) -> dict[str, Any] | None:
    """The scheduler's state, with the live scheduler's entries and types (None without a schedule)."""
    sched = reader.state.get("scheduler")
    if scheduler is None:
        if sched is not None:
            raise reader.bad("it holds a scheduler state but the run has no schedule")
        return None
    now = scheduler.state_dict()
    if (
        not isinstance(sched, dict)
        or set(sched) != set(now)
        or any(not _same_json_type(sched[k], v) for k, v in now.items())
    ):
        raise reader.bad(f"scheduler state must have the entries {sorted(now)} with their types")
    return sched


def _read_n_averaged(reader: _CheckpointReader, config: TrainConfig, epochs_done: int) -> int:
    """How many epochs' weights the running average holds (``TrainConfig.average_from``)."""
    start = config.average_from
    n_averaged = reader.state.get("n_averaged", 0)
    expected_n = 0 if start is None else max(0, epochs_done - start + 1)
    if n_averaged != expected_n:
        raise reader.bad(f"n_averaged must be {expected_n} after {epochs_done} epoch(s), got {n_averaged!r}")
    return expected_n


def _apply_training_state(restored: _TrainingState, loop: TrainingObjects, where: str) -> None:
    """Put a checked training state into ``loop``: optimizer, weights, scheduler, generators, history, average."""
    load_optimizer_state(loop.optimizer, restored.optimizer_tensors, restored.optimizer_json, where)
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


def _checkpoint_records(history: Any, epochs_done: int, bad: _Bad) -> list[EpochRecord]:
    """The history's epoch records, one per epoch done, each with finite numbers."""
    raw = history.get("records") if isinstance(history, dict) else None
    if not isinstance(raw, list) or len(raw) != epochs_done:
        raise bad(f"its history must hold {epochs_done} epoch record(s)")

    fields = {f.name for f in dataclasses.fields(EpochRecord)}
    records = []
    for i, r in enumerate(raw, start=1):
        if not isinstance(r, dict) or set(r) != fields or r["epoch"] != i:
            raise bad(f"epoch record {i} is malformed")
        for key in fields - {"epoch"}:
            v = r[key]
            if v is None and key.startswith("val_"):
                continue
            if not is_real(v) or not math.isfinite(v):
                raise bad(f"epoch record {i}: {key} must be a finite number, got {v!r}")
        records.append(EpochRecord(**r))
    return records
