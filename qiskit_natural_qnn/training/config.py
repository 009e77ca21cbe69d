"""The training recipe (:class:`TrainConfig`) and what a run records (:class:`EpochRecord`, :class:`History`)."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qiskit_natural_qnn.checks import is_int, is_real
from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError
from qiskit_natural_qnn.io.files import read_json, write_atomic
from qiskit_natural_qnn.randomness import check_seed

__all__ = ["SCHEDULES", "EpochRecord", "History", "TrainConfig", "complete_config_dict"]

#: Learning-rate schedules: None (the paper: constant) or ``"cosine"`` (cosine annealing to 0 over
#: ``epochs``, stepped once per epoch).
SCHEDULES: tuple[str, ...] = ("cosine",)


@dataclass(frozen=True)
class TrainConfig:
    """How to train (the defaults are the paper's recipe, ``docs/model.md``, "Training").

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
        self._check_counts()
        self._check_sgd()
        self._check_options()

    def _check_counts(self) -> None:
        """``epochs``, ``batch_size``, ``eval_shots``, ``eval_every``, ``train_shots``: ints >= 1."""
        for name, example in (
            ("epochs", 10),
            ("batch_size", 64),
            ("eval_shots", 15),
            ("eval_every", 1),
            ("train_shots", 1),
        ):
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}; pass e.g. {name}={example}")
            object.__setattr__(self, name, int(value))

    def _check_sgd(self) -> None:
        """``lr > 0``, ``momentum`` in ``[0, 1)``, ``weight_decay >= 0``: finite numbers, stored as floats."""
        if not is_real(self.lr) or not math.isfinite(self.lr) or self.lr <= 0:
            raise ConfigurationError(f"lr must be a finite number > 0, got {self.lr!r}; pass e.g. lr=0.01")
        if not is_real(self.momentum) or not 0 <= self.momentum < 1:
            raise ConfigurationError(
                f"momentum must be a number in [0, 1), got {self.momentum!r}; pass e.g. momentum=0.9 (0 for plain SGD)"
            )
        if not is_real(self.weight_decay) or not math.isfinite(self.weight_decay) or self.weight_decay < 0:
            raise ConfigurationError(
                f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}; pass e.g. weight_decay=0.0"
            )
        for name in ("lr", "momentum", "weight_decay"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def _check_options(self) -> None:
        """``shuffle``, ``seed``, ``schedule`` and ``average_from``."""
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise ConfigurationError(f"shuffle must be True or False, got {self.shuffle!r}")
        object.__setattr__(self, "shuffle", bool(self.shuffle))
        object.__setattr__(self, "seed", check_seed(self.seed, none=True))  # ints in [0, 2**64), the one rule
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise ConfigurationError(
                f"unknown schedule {self.schedule!r}; expected None (constant learning rate) or one of "
                f"{', '.join(repr(s) for s in SCHEDULES)}"
            )
        if self.average_from is not None:
            if not is_int(self.average_from) or not 1 <= self.average_from <= self.epochs:
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
        noise: the device noise the run trained and validated on (``DeviceEmulation.describe()``, e.g.
            ``"fake_torino (emulated, 8 copies)"``), or None for the ideal network.
    """

    records: list[EpochRecord] = field(default_factory=list)
    config: TrainConfig = field(default_factory=TrainConfig)
    spec: dict[str, Any] = field(default_factory=dict)
    layer_sizes: list[int] = field(default_factory=list)
    seed: int | None = None
    version: str = ""
    train_data: str | None = None
    validation_data: str | None = None
    noise: str | None = None

    @property
    def last_validated(self) -> EpochRecord | None:
        """The last record with validation errors, or None."""
        for record in reversed(self.records):
            if record.val_vote_error is not None:
                return record
        return None

    def to_dict(self) -> dict[str, Any]:
        """The history as a JSON-ready dict (with ``noise`` only when the run trained on a noisy device)."""
        out = {
            "version": self.version,
            "seed": self.seed,
            "layer_sizes": list(self.layer_sizes),
            "spec": dict(self.spec),
            "config": self.config.to_dict(),
            "train_data": self.train_data,
            "validation_data": self.validation_data,
            "records": [r.to_dict() for r in self.records],
        }
        if self.noise is not None:
            out["noise"] = self.noise
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a history from :meth:`to_dict` output.

        Raises:
            DamagedFileError: missing or malformed fields.
        """
        try:
            noise = data.get("noise")
            if noise is not None and not isinstance(noise, str):
                raise TypeError(f"noise must be a string or null, got {type(noise).__name__}")
            return cls(
                records=[EpochRecord(**r) for r in data["records"]],
                config=TrainConfig(**data["config"]),
                spec=dict(data["spec"]),
                layer_sizes=[int(s) for s in data["layer_sizes"]],
                seed=data["seed"],
                version=str(data["version"]),
                train_data=data.get("train_data"),
                validation_data=data.get("validation_data"),
                noise=noise,
            )
        except (KeyError, TypeError) as exc:
            raise DamagedFileError(
                f"not a training history: {exc!r}; pass the dict written by History.to_dict"
            ) from None

    def to_json(self, path: str | Path) -> None:
        """Write the history as JSON to ``path`` (atomically, never through a link: ``io.files.write_atomic``)."""
        write_atomic(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode("utf-8"))

    @classmethod
    def from_json(cls, path: str | Path) -> History:
        """Read a history written by :meth:`to_json`.

        Raises:
            DamagedFileError: the file is not valid JSON or not a history.
        """
        return read_json(path, cls.from_dict, fix="pass a history.json written by fit")
