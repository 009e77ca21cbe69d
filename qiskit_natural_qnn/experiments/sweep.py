"""Sweeps over the stretch ``a`` and the entanglement angle ``g``: resumable, one JSON record per point.

A sweep trains one network per *point* -- a stretch ``a``, an angle ``g`` and a seed -- with a shared
recipe (:class:`SweepSettings`: hidden widths, stretch function, :class:`~qiskit_natural_qnn.training.TrainConfig`),
and writes one JSON :class:`PointRecord` per finished point into ``results_dir/points/``. Running the
same sweep again skips the points whose record is already there, so an interrupted sweep resumes
where it stopped and a grid can be extended by adding values.

Points run one after another in this process, or in parallel on a Dask cluster
(``run_sweep(..., client=...)``, ``qnqnn sweep --workers N`` or ``--scheduler``; see
``docs/scaling.md``). Several sweeps may share a results folder: each point is claimed before it
runs (:mod:`~qiskit_natural_qnn.experiments.claims`), so none is trained twice, and a point stopped
half-way resumes from its last epoch checkpoint (``results_dir/checkpoints/<key>/``). Point keys are
exact (``a0.316_g1.5707963267948966_s2``); records named by the older 6-digit keys are still read.

A point's seed seeds everything, exactly as ``qnqnn train --seed``: the Kaiming initialisation and
the sampling stream of the network (``NaturalQNN(seed=seed)``) and the shuffles and validation shots
of the fit (``TrainConfig(seed=seed)``). After training, the network is evaluated once more on the
*training* set with ``config.eval_shots`` shots (seeded by ``[seed, 1]``) for the train/validation gap.

Example:
    >>> from qiskit_natural_qnn.data import load_default, take, MNISTSplit
    >>> full = load_default()
    >>> data = MNISTSplit(take(full.train, 64), take(full.validation, 64), "tiny")
    >>> settings = SweepSettings(hidden=(8,), config=TrainConfig(epochs=1, eval_shots=3))
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     recs = run_sweep(grid_points(a=[0.0, 0.5], seeds=[0]), settings=settings, results_dir=tmp,
    ...                      data=data, progress=False)
    ...     again = run_sweep(grid_points(a=[0.0, 0.5], seeds=[0]), settings=settings, results_dir=tmp,
    ...                       data=data, progress=False)  # everything is skipped
    >>> [r.a for r in recs], [r.seconds == s.seconds for r, s in zip(recs, again)]
    ([0.0, 0.5], [True, True])
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from qiskit_natural_qnn.checks import is_int, is_real
from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError, InputError
from qiskit_natural_qnn.experiments.claims import DEFAULT_CLAIM_TIMEOUT_S, PointClaims
from qiskit_natural_qnn.experiments.driver import SerialRunner, run_claimed
from qiskit_natural_qnn.io.files import read_json, remove_stale_temporaries, safe_output_path, write_atomic
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.randomness import check_seed
from qiskit_natural_qnn.surrogates import HardTanhSurrogate, Surrogate, get_surrogate
from qiskit_natural_qnn.training.checkpoint import CHECKPOINT_FILE
from qiskit_natural_qnn.training.config import History, TrainConfig, complete_config_dict

__all__ = [
    "RECORD_FORMAT",
    "METRICS",
    "SweepPoint",
    "SweepSettings",
    "PointRecord",
    "DamagedRecord",
    "RecordScan",
    "Aggregate",
    "PointResult",
    "grid_points",
    "shard_points",
    "run_point",
    "run_points_together",
    "run_sweep",
    "weights_digest",
    "load_records",
    "scan_records",
    "aggregate",
    "import_run",
    "METHODS",
    "method_of",
    "best_by_method",
]

#: ``format`` field of a point record file.
RECORD_FORMAT = "qnqnn-sweep-point"
_FORMAT_VERSION = 1
_HALF_PI = math.pi / 2

_LOG = logging.getLogger(__name__)

#: Metrics of a :class:`PointRecord` that :func:`aggregate` and the plots know, with a label each.
METRICS: dict[str, str] = {
    "val_vote_error": "validation, majority vote",
    "val_single_shot_error": "validation, single shot",
    "train_vote_error": "training set, majority vote",
    "train_single_shot_error": "training set, single shot",
    "train_error": "training passes, last epoch",
}


def _exact(value: float) -> str:
    """The shortest text that reads back as exactly ``value``, file-name safe (``0.316``, ``1.5707963267948966``).

    Integers lose their ``.0`` and a minus sign (of an exponent, ``1em05``) becomes ``m``.
    """
    text = str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return text.replace("-", "m")


def _short(value: float) -> str:
    """The 6-significant-digit rendering of the keys written before exact keys (``1.5708``)."""
    return f"{value:.6g}".replace("-", "m")


@dataclass(frozen=True, order=True)
class SweepPoint:
    """One point of a sweep.

    Attributes:
        a: the stretch ``a >= 0``.
        g: the entanglement angle in ``[0, pi/2]`` (``pi/2``: Method 1).
        seed: the seed of the run (an int ``>= 0``: records must say which seed produced them).

    Raises:
        ConfigurationError: a value of the wrong type or out of range.

    Example:
        >>> SweepPoint(a=0.316, g=math.pi / 2, seed=2).key
        'a0.316_g1.5707963267948966_s2'
        >>> SweepPoint(a=0.5000001, seed=0).key != SweepPoint(a=0.5, seed=0).key
        True
        >>> SweepPoint(a=-1.0, g=0.5, seed=0)
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: a must be a finite number >= 0, got -1.0; pass e.g. a=0.316
    """

    a: float
    g: float = _HALF_PI
    seed: int = 0

    def __post_init__(self) -> None:
        if not is_real(self.a) or not math.isfinite(self.a) or self.a < 0:
            raise ConfigurationError(f"a must be a finite number >= 0, got {self.a!r}; pass e.g. a=0.316")
        if not is_real(self.g) or not 0 <= self.g <= _HALF_PI + 1e-12:
            raise ConfigurationError(f"g must be a number in [0, pi/2], got {self.g!r}; pass e.g. g=math.pi/4")
        seed = check_seed(self.seed)  # ints in [0, 2**64), the one rule for seeds
        object.__setattr__(self, "a", float(self.a) + 0.0)  # + 0.0: -0.0 is 0.0, one point, one key
        object.__setattr__(self, "g", min(float(self.g), _HALF_PI) + 0.0)
        object.__setattr__(self, "seed", seed)

    @property
    def key(self) -> str:
        """The point's file stem in ``results_dir/points/``: exact, two points never share it.

        ``a`` and ``g`` are written in full (the shortest decimal that reads back as the same float),
        so ``a = 0.5000001`` and ``a = 0.5`` have different records.
        """
        return f"a{_exact(self.a)}_g{_exact(self.g)}_s{self.seed}"

    @property
    def legacy_key(self) -> str:
        """The key records had before exact keys (6 significant digits, ``a0.5_g1.5708_s0``).

        Such a file still counts as this point's record when the ``a``, ``g`` and seed it holds are
        exactly this point's (several points could share this key; the record says which one it is).
        """
        return f"a{_short(self.a)}_g{_short(self.g)}_s{self.seed}"


def grid_points(
    *, a: Iterable[float] = (0.0,), g: Iterable[float] = (_HALF_PI,), seeds: Iterable[int] = (0, 1, 2)
) -> list[SweepPoint]:
    """Every combination of ``a``, ``g`` and seed, ordered by seed, then ``g``, then ``a``.

    Seed-major order means that a sweep stopped half-way has whole curves for the first seeds.

    Raises:
        ConfigurationError: an empty list, or a value out of range.

    Example:
        >>> [p.key for p in grid_points(a=[0, 0.5], g=[0.25], seeds=[0, 1])]
        ['a0_g0.25_s0', 'a0.5_g0.25_s0', 'a0_g0.25_s1', 'a0.5_g0.25_s1']
    """
    a_list, g_list, seed_list = list(a), list(g), list(seeds)
    for name, values, example in (
        ("a", a_list, "[0, 0.316]"),
        ("g", g_list, "[math.pi/2]"),
        ("seeds", seed_list, "[0, 1, 2]"),
    ):
        if not values:
            raise ConfigurationError(f"{name} must hold at least one value, got []; pass e.g. {name}={example}")
    points = [SweepPoint(a=av, g=gv, seed=s) for s in seed_list for gv in g_list for av in a_list]
    keys = [p.key for p in points]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise ConfigurationError(f"the grid holds point {dup} twice; pass each value of a, g and seeds once")
    return points


@dataclass(frozen=True)
class SweepSettings:
    """What every point of a sweep shares.

    Attributes:
        hidden: hidden widths, e.g. ``(512, 512, 512)``; the network is ``784-hidden-10`` on MNIST.
        stretch: the stretch function (``"tanh"``, the paper's training choice, or ``"hardtanh"``...).
        weak_update: post-measurement rule for ``g < pi/2`` (``"circuit"`` or ``"authors_arcsin"``).
        bias: biases on every layer (off in the paper).
        surrogate: the training pseudo-gradient, a :class:`~qiskit_natural_qnn.surrogates.Surrogate`
            (a name is accepted and turned into one): ``"hardtanh"`` (the paper's straight-through
            estimator) or ``"expected"`` (the derivative of the neuron's expected activation).
            Records store its name.
        config: the training recipe; its ``seed`` is ignored (each point brings its own).

    Raises:
        ConfigurationError: empty or non-positive ``hidden``, ``config`` not a TrainConfig, or an
            unknown surrogate.
    """

    hidden: tuple[int, ...] = (512, 512, 512)
    stretch: str = "tanh"
    weak_update: str = "circuit"
    bias: bool = False
    config: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=100, eval_every=10))
    surrogate: Surrogate = HardTanhSurrogate()

    def __post_init__(self) -> None:
        hidden = tuple(self.hidden) if isinstance(self.hidden, (list, tuple)) else None
        if not hidden or any(not is_int(h) or h < 1 for h in hidden):
            raise ConfigurationError(
                f"hidden must be a non-empty sequence of positive ints, got {self.hidden!r}; "
                "pass e.g. hidden=(512, 512, 512)"
            )
        object.__setattr__(self, "hidden", tuple(int(h) for h in hidden))
        if not isinstance(self.config, TrainConfig):
            raise ConfigurationError(
                f"config must be a TrainConfig, got {type(self.config).__name__}; pass TrainConfig(...)"
            )
        object.__setattr__(self, "config", self.config.replace(seed=None))
        object.__setattr__(self, "surrogate", get_surrogate(self.surrogate))

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return {
            "hidden": list(self.hidden),
            "stretch": self.stretch,
            "weak_update": self.weak_update,
            "bias": self.bias,
            "config": self.config.to_dict(),
            "surrogate": self.surrogate.name,
        }


@dataclass(frozen=True)
class PointRecord:
    """The record of one finished sweep point (one JSON file).

    Attributes:
        a: the stretch.
        g: the entanglement angle.
        seed: the seed that produced this record (network initialisation, sampling, shuffles, shots).
        layer_sizes: the network, e.g. ``[784, 512, 512, 512, 10]``.
        settings: :meth:`SweepSettings.to_dict` of the sweep (hidden, stretch, weak update, bias,
            the training config without seed).
        data: where the data came from: ``source``, ``train`` and ``validation`` names and sizes.
        val_single_shot_error: average single-pass validation error after the last epoch.
        val_vote_error: majority-vote validation error over ``eval_shots`` passes after the last epoch.
        train_error: error of the stochastic training passes during the last epoch.
        train_single_shot_error: single-pass error on the training set after training, or None.
        train_vote_error: majority-vote error on the training set after training, or None.
        seconds: wall time of the point (training and both evaluations).
        version: the library version that produced it.
        device: ``cpu`` or ``cuda:0``...
        finished_at: UTC time the point finished (ISO 8601).
        history: :meth:`History.to_dict` of the fit (per-epoch loss, errors and seconds).
        host: ``platform.node()``, process id, CPU count and ``OMP_NUM_THREADS`` of the process that
            trained the point (a Dask worker's, on a cluster).
        imported_from: the run directory this record was imported from (:func:`import_run`), or None.
        weights_sha256: SHA-256 of the trained network's tensors (names, dtypes, shapes, bytes), or
            None in records written before it existed. Equal digests mean bit-for-bit equal weights:
            a point gives the same digest whether it ran serially, on a local worker or a remote one.
    """

    a: float
    g: float
    seed: int
    layer_sizes: list[int]
    settings: dict[str, Any]
    data: dict[str, Any]
    val_single_shot_error: float
    val_vote_error: float
    train_error: float
    train_single_shot_error: float | None
    train_vote_error: float | None
    seconds: float
    version: str
    device: str
    finished_at: str
    history: dict[str, Any]
    host: dict[str, Any] = field(default_factory=dict)
    imported_from: str | None = None
    weights_sha256: str | None = None

    @property
    def point(self) -> SweepPoint:
        """The :class:`SweepPoint` of this record."""
        return SweepPoint(a=self.a, g=self.g, seed=self.seed)

    def metric(self, name: str) -> float | None:
        """The value of one of :data:`METRICS`."""
        if name not in METRICS:
            raise ConfigurationError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, with its ``format`` and ``format_version``."""
        return {"format": RECORD_FORMAT, "format_version": _FORMAT_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointRecord:
        """Rebuild a record from :meth:`to_dict` output, every field checked.

        Raises:
            DamagedFileError: not a point record, of an unknown format version, a missing field, or a
                field of the wrong type or out of its range (``a < 0``, ``g`` outside ``[0, pi/2]``,
                an error outside ``[0, 1]``, NaN or infinity, a negative duration...).
        """
        if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
            raise DamagedFileError(
                f"not a sweep point record: format is {data.get('format') if isinstance(data, dict) else None!r}, "
                f"expected {RECORD_FORMAT!r}; pass a file written by run_sweep"
            )
        if data.get("format_version") != _FORMAT_VERSION:
            raise DamagedFileError(
                f"sweep point record format_version {data.get('format_version')!r} is not supported, "
                f"expected {_FORMAT_VERSION}; upgrade qiskit-natural-qnn"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {k: v for k, v in data.items() if k in names}
        _check_record_fields(fields)
        settings = fields.get("settings")
        if isinstance(settings, dict):  # records written before some settings existed
            config = settings.get("config")
            fields["settings"] = {
                **_SETTINGS_ADDED,
                **settings,
                **({"config": complete_config_dict(config)} if isinstance(config, dict) else {}),
            }
        try:
            return cls(**fields)
        except TypeError as exc:
            raise DamagedFileError(f"malformed sweep point record: {exc}; pass a file written by run_sweep") from None

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the record to ``path`` atomically (:func:`~qiskit_natural_qnn.io.files.write_atomic`).

        Raises:
            ConfigurationError: ``path`` is a symbolic link or a folder.
        """
        write_atomic(path, (json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n").encode("utf-8"))

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> PointRecord:
        """Read a record written by :meth:`to_json`.

        Raises:
            DamagedFileError: not valid JSON, or not a point record.
        """
        return read_json(path, cls.from_dict, fix="delete it and run the sweep again")


#: Settings added after record format 1 appeared, with the values older records were made with (so
#: that old records still match a sweep with the default settings).
_SETTINGS_ADDED: dict[str, Any] = {"surrogate": "hardtanh"}

_ERRORS = ("val_single_shot_error", "val_vote_error", "train_error")
_OPTIONAL_ERRORS = ("train_single_shot_error", "train_vote_error")
_TEXTS = ("version", "device", "finished_at")
_OBJECTS = ("settings", "data", "history")
_REQUIRED = ("a", "g", "seed", "layer_sizes", *_OBJECTS, *_ERRORS, *_OPTIONAL_ERRORS, "seconds", *_TEXTS)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _check_record_fields(fields: dict[str, Any]) -> None:
    """Refuse a record whose fields are missing, of the wrong type or out of range (schema, types, finiteness)."""
    missing = [name for name in _REQUIRED if name not in fields]
    if missing:
        raise DamagedFileError(
            f"sweep point record lacks field(s) {', '.join(missing)}; pass a file written by run_sweep"
        )
    problems: list[str] = []
    a, g, seed = fields["a"], fields["g"], fields["seed"]
    if not is_real(a) or not math.isfinite(a) or a < 0:
        problems.append(f"a must be a finite number >= 0, got {_shown(a)}")
    if not is_real(g) or not math.isfinite(g) or not 0 <= g <= _HALF_PI + 1e-12:
        problems.append(f"g must be a number in [0, pi/2], got {_shown(g)}")
    if not is_int(seed) or not 0 <= seed < 2**64:
        problems.append(f"seed must be an int in [0, 2**64), got {_shown(seed)}")
    sizes = fields["layer_sizes"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(is_int(n) and 1 <= n < 2**31 for n in sizes):
        problems.append(f"layer_sizes must be a list of at least 2 positive ints, got {_shown(sizes)}")
    for name in (*_ERRORS, *_OPTIONAL_ERRORS):
        value = fields[name]
        if value is None and name in _OPTIONAL_ERRORS:
            continue
        if not is_real(value) or not math.isfinite(value) or not 0 <= value <= 1:
            problems.append(f"{name} must be a number in [0, 1], got {_shown(value)}")
    seconds = fields["seconds"]
    if not is_real(seconds) or not math.isfinite(seconds) or seconds < 0:
        problems.append(f"seconds must be a finite number >= 0, got {_shown(seconds)}")
    for name in _TEXTS:
        if not isinstance(fields[name], str):
            problems.append(f"{name} must be a string, got {_shown(fields[name])}")
    for name in (*_OBJECTS, "host"):
        if name in fields and not isinstance(fields[name], dict):
            problems.append(f"{name} must be an object, got {_shown(fields[name])}")
    settings = fields["settings"]
    if isinstance(settings, dict) and "config" in settings and not isinstance(settings["config"], dict):
        problems.append(f"settings.config must be an object, got {_shown(settings['config'])}")
    imported = fields.get("imported_from")
    if imported is not None and not isinstance(imported, str):
        problems.append(f"imported_from must be a string or null, got {_shown(imported)}")
    digest = fields.get("weights_sha256")
    if digest is not None and not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
        problems.append(f"weights_sha256 must be 64 lowercase hex digits or null, got {_shown(digest)}")
    if problems:
        raise DamagedFileError(
            f"invalid sweep point record: {'; '.join(problems)}; delete the file and run the point again"
        )


def _host() -> dict[str, Any]:
    return {
        "node": platform.node(),
        "pid": os.getpid(),
        "cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def _data_info(data: Any) -> dict[str, Any]:
    return {
        "source": getattr(data, "source", None),
        "train": data.train.name,
        "n_train": int(len(data.train.labels)),
        "validation": data.validation.name,
        "n_validation": int(len(data.validation.labels)),
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _train_set_errors(model: NaturalQNN, data: Any, *, shots: int, seed: int) -> tuple[float, float]:
    from qiskit_natural_qnn.inference import evaluate

    ev = evaluate(model, data.train, shots=shots, seed=np.random.default_rng([seed, 1]))
    return ev.single_shot_error, ev.vote_error


def run_point(
    point: SweepPoint,
    *,
    settings: SweepSettings,
    data: Any,
    device: str = "cpu",
    progress: bool = False,
    model_dir: str | os.PathLike[str] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
) -> PointRecord:
    """Train and evaluate one point; nothing is written unless ``model_dir`` or ``checkpoint_dir`` is given.

    Args:
        point: the point (``a``, ``g``, seed).
        settings: the shared recipe.
        data: an :class:`~qiskit_natural_qnn.data.MNISTSplit` (or any object with ``train``,
            ``validation`` datasets and a ``source``).
        device: torch device of the run.
        progress: show the fit's progress bar over epochs.
        model_dir: if given, ``fit`` writes ``history.json`` and ``model.safetensors`` there.
        checkpoint_dir: if given, ``fit`` checkpoints there after every epoch, and a checkpoint
            already there (left by an interrupted run of this point) is resumed: the record is then
            bit-for-bit that of an uninterrupted run, apart from ``seconds``. A checkpoint that cannot
            be resumed (damaged, or of other settings or data) is deleted with a warning and the point
            starts afresh.

    Returns:
        The :class:`PointRecord`.

    Raises:
        ConfigurationError: the point does not fit the settings (e.g. ``g < pi/2`` with unequal widths).
    """
    from qiskit_natural_qnn.training import fit

    start = time.perf_counter()
    config = settings.config.replace(seed=point.seed)
    checkpoint = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
    resume = checkpoint is not None and checkpoint.is_file()
    model = _new_model(point, settings, data, device)
    fit_args: dict[str, Any] = {"config": config, "progress": progress, "out_dir": model_dir}
    try:
        history = fit(model, data.train, data.validation, checkpoint_dir=checkpoint_dir, resume=resume, **fit_args)
    except (DamagedFileError, ConfigurationError) as exc:
        if not resume or checkpoint is None:
            raise
        _LOG.warning("cannot resume sweep point %s from %s (%s); starting it afresh", point.key, checkpoint, exc)
        checkpoint.unlink(missing_ok=True)
        model = _new_model(point, settings, data, device)
        history = fit(model, data.train, data.validation, checkpoint_dir=checkpoint_dir, resume=False, **fit_args)
    return _record_from(point, settings, data, model, history, device=device, start=start)


def run_points_together(
    points: Sequence[SweepPoint],
    *,
    settings: SweepSettings,
    data: Any,
    device: str = "cpu",
    progress: bool = False,
    model_dirs: Sequence[str | os.PathLike[str] | None] | None = None,
) -> list[PointRecord]:
    """Train and evaluate several points at once (:func:`~qiskit_natural_qnn.training.fit_ensemble`).

    Each point's record is the one :func:`run_point` gives it: bit for bit (weights digest, errors,
    history but ``seconds``) on CPU with one torch thread, to floating-point tolerance elsewhere (see
    :mod:`qiskit_natural_qnn.training.ensemble`). ``seconds`` is the point's share of the ensemble's
    time. Nothing is checkpointed: an ensemble stopped half-way starts again.

    Args:
        points: the points (``a``, ``g``, seed), all of the settings' shape.
        settings: the shared recipe.
        data: the split, as for :func:`run_point`.
        device: torch device of the run.
        progress: show a progress bar over epochs.
        model_dirs: None, or one folder (or None) per point for its ``history.json`` and
            ``model.safetensors``.

    Returns:
        One :class:`PointRecord` per point, in order.

    Raises:
        ConfigurationError: a point that does not fit the settings.
    """
    from qiskit_natural_qnn.training import fit_ensemble

    start = time.perf_counter()
    models = [_new_model(point, settings, data, device) for point in points]
    configs = [settings.config.replace(seed=point.seed) for point in points]
    histories = fit_ensemble(
        models, data.train, data.validation, configs=configs, progress=progress, out_dirs=model_dirs
    )
    share = (time.perf_counter() - start) / len(points)
    records = []
    for point, model, history in zip(points, models, histories):
        begun = time.perf_counter()
        record = _record_from(point, settings, data, model, history, device=device, start=None, seconds=0.0)
        records.append(dataclasses.replace(record, seconds=share + time.perf_counter() - begun))
    return records


def _new_model(point: SweepPoint, settings: SweepSettings, data: Any, device: str) -> NaturalQNN:
    """The untrained network of ``point``: ``784-hidden-10``, seeded by the point's seed."""
    return NaturalQNN(
        layer_sizes=[int(data.train.images.shape[1]), *settings.hidden, 10],
        a=point.a,
        stretch=settings.stretch,
        g=point.g,
        weak_update=settings.weak_update,
        bias=settings.bias,
        seed=point.seed,
        surrogate=settings.surrogate,
    ).to(device)


def weights_digest(model: NaturalQNN) -> str:
    """SHA-256 of a network's tensors: names, dtypes, shapes and bytes, in name order.

    Example:
        >>> net = NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, seed=0)
        >>> weights_digest(net) == weights_digest(NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, seed=0))
        True
        >>> weights_digest(net) == weights_digest(NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, seed=1))
        False
    """
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"\0{name}\0{t.dtype}\0{list(t.shape)}\0".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


class PointResult(NamedTuple):
    """What a sweep task sends back to the driver, which writes it.

    Attributes:
        record: the point's record.
        files: the point's model files by name (``history.json``, ``model.safetensors``) when the
            sweep keeps models, else empty.
    """

    record: PointRecord
    files: dict[str, bytes]


def _checkpoint_dir(root: str | None, marker: str | None, key: str) -> Path | None:
    """``root/key`` when this process sees the driver's marker file in ``root`` (the same folder), else None.

    A worker on another machine either lacks the path or has a folder of the same name on its own disk;
    only on a shared file system does it see the marker the driver wrote.
    """
    if root is None or marker is None or not (Path(root) / marker).is_file():
        return None
    return Path(root) / key


def _run_points_task(
    points: Sequence[SweepPoint],
    data: Any,
    *,
    settings: SweepSettings,
    device: str | None,
    threads: int | None,
    checkpoint_root: str | None,
    save_model: bool,
    checkpoint_marker: str | None = None,
    progress: bool = False,
    worker: bool = False,
) -> list[PointResult]:
    """One sweep task, in whichever process runs it (the driver or a Dask worker): one point, or several as an ensemble.

    It uses ``threads`` torch threads (None: leave the process's setting). One point checkpoints
    into ``checkpoint_root/<key>`` (an absolute path) and resumes a checkpoint found there when this
    process sees the file ``checkpoint_marker`` that the driver wrote in ``checkpoint_root``; several
    points train together (:func:`run_points_together`) without checkpoints. The model files come
    back as bytes rather than being written. In a Dask ``worker`` process, tqdm's monitor thread is
    not started (it kept closing workers alive for seconds, until their nanny killed them).
    """
    import torch

    if worker:
        import tqdm

        tqdm.tqdm.monitor_interval = 0

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        kwargs: dict[str, Any] = {"settings": settings, "data": data, "device": device, "progress": progress}
        with contextlib.ExitStack() as stack:
            tmps = [
                stack.enter_context(tempfile.TemporaryDirectory(prefix="qnqnn-point-")) if save_model else None
                for _ in points
            ]
            if len(points) == 1:
                checkpoint_dir = _checkpoint_dir(checkpoint_root, checkpoint_marker, points[0].key)
                records = [run_point(points[0], model_dir=tmps[0], checkpoint_dir=checkpoint_dir, **kwargs)]
            else:
                records = run_points_together(points, model_dirs=tmps, **kwargs)
            return [
                PointResult(
                    record,
                    {} if tmp is None else {f.name: f.read_bytes() for f in sorted(Path(tmp).iterdir()) if f.is_file()},
                )
                for record, tmp in zip(records, tmps)
            ]
    finally:
        if threads is not None:
            torch.set_num_threads(previous)


def _record_from(
    point: SweepPoint,
    settings: SweepSettings,
    data: Any,
    model: NaturalQNN,
    history: History,
    *,
    device: str,
    start: float | None,
    seconds: float | None = None,
    imported_from: str | None = None,
) -> PointRecord:
    last = history.last_validated
    if last is None or last.val_vote_error is None or last.val_single_shot_error is None:
        raise InputError("the run has no validation record; pass validation data to fit")
    train_single, train_vote = _train_set_errors(model, data, shots=settings.config.eval_shots, seed=point.seed)
    if seconds is None:
        seconds = time.perf_counter() - (start or time.perf_counter())
    return PointRecord(
        a=point.a,
        g=point.g,
        seed=point.seed,
        layer_sizes=list(model.layer_sizes),
        settings=settings.to_dict(),
        data=_data_info(data),
        val_single_shot_error=float(last.val_single_shot_error),
        val_vote_error=float(last.val_vote_error),
        train_error=float(history.records[-1].train_error),
        train_single_shot_error=float(train_single),
        train_vote_error=float(train_vote),
        seconds=float(seconds),
        version=history.version,
        device=str(device),
        finished_at=_now(),
        history=history.to_dict(),
        host=_host(),
        imported_from=imported_from,
        weights_sha256=weights_digest(model),
    )


def _points_dir(results_dir: str | os.PathLike[str]) -> Path:
    return Path(results_dir) / "points"


class DamagedRecord(NamedTuple):
    """A record file that was skipped: its path and what is wrong with it.

    Attributes:
        path: the file.
        problem: the :class:`~qiskit_natural_qnn.exceptions.DamagedFileError` message.
    """

    path: Path
    problem: str


class RecordScan(NamedTuple):
    """The records of a results folder: the valid ones and the damaged files that were skipped.

    Attributes:
        records: the valid records, sorted by ``g``, ``a``, seed.
        damaged: the skipped files, sorted by path.
    """

    records: list[PointRecord]
    damaged: list[DamagedRecord]


def _read_point_file(path: Path) -> PointRecord:
    """The record in ``path``, checked, and checked to be the point its file name says.

    Raises:
        DamagedFileError: a link, unreadable, invalid, or a record of another point than its name.
    """
    if path.is_symlink():
        raise DamagedFileError(f"{str(path)!r} is a symbolic link, not a record written by run_sweep; remove it")
    try:
        record = PointRecord.from_json(path)
    except OSError as exc:
        raise DamagedFileError(f"{str(path)!r} cannot be read ({exc}); remove it or fix its permissions") from None
    if path.stem not in (record.point.key, record.point.legacy_key):
        raise DamagedFileError(
            f"{str(path)!r} holds point {_named_like(path.stem, record.point)}, not the point its name says; the "
            "file was edited or renamed: delete it and run the point again"
        )
    return record


_KEY = re.compile(r"a([0-9.em+]+)_g([0-9.em+]+)_s[0-9]+")


def _named_like(stem: str, point: SweepPoint) -> str:
    """``point``'s key in the style of the file name ``stem``: the old 6-digit style for an old-style name."""
    match = _KEY.fullmatch(stem)
    if match is not None:
        try:
            values = [float(text.replace("m", "-")) for text in match.group(1, 2)]
        except ValueError:
            return point.key
        if all(_short(v) == text for v, text in zip(values, match.group(1, 2))):
            return point.legacy_key
    return point.key


def _skip(path: Path, exc: DamagedFileError, consequence: str) -> DamagedRecord:
    _LOG.warning("skipped damaged sweep record %s: %s (%s)", path, exc, consequence)
    return DamagedRecord(path=path, problem=str(exc))


def scan_records(results_dir: str | os.PathLike[str]) -> RecordScan:
    """Every valid point record in ``results_dir/points/``, and the damaged ones skipped.

    Each file is validated on read (:meth:`PointRecord.from_dict`: schema, types, ranges, finiteness)
    and must hold the point its name says. A damaged file is logged as a warning on the
    ``qiskit_natural_qnn`` logger, with its path and the problem, and listed in ``damaged``.

    Example:
        >>> scan_records("no/such/dir")
        RecordScan(records=[], damaged=[])
    """
    pdir = _points_dir(results_dir)
    files = sorted(pdir.glob("*.json")) if pdir.is_dir() else []
    records: dict[str, PointRecord] = {}
    damaged: list[DamagedRecord] = []
    for path in files:
        try:
            record = _read_point_file(path)
        except DamagedFileError as exc:
            damaged.append(_skip(path, exc, "left out"))
            continue
        key = record.point.key
        if key not in records or path.stem == key:  # a point with an old-style file and an exact one: the exact
            records[key] = record
    return RecordScan(records=sorted(records.values(), key=lambda r: (r.g, r.a, r.seed)), damaged=damaged)


def _check_compatible(record: PointRecord, settings: SweepSettings, data_info: dict[str, Any], path: Path) -> None:
    expected = settings.to_dict()
    for key in expected:
        if record.settings.get(key) != expected[key]:
            raise ConfigurationError(
                f"{str(path)!r} was recorded with {key}={record.settings.get(key)!r}, but this sweep has "
                f"{key}={expected[key]!r}; use another results directory for other settings, or delete the file"
            )
    for key in ("train", "n_train", "validation", "n_validation"):
        if record.data.get(key) != data_info[key]:
            raise ConfigurationError(
                f"{str(path)!r} was recorded on {key}={record.data.get(key)!r}, but this sweep uses "
                f"{key}={data_info[key]!r}; use another results directory for other data, or delete the file"
            )


def shard_points(points: Sequence[SweepPoint], *, index: int, count: int) -> list[SweepPoint]:
    """Shard ``index`` of ``count`` of a grid: every ``count``-th point, starting at ``index`` (0-based).

    Each shard takes points from the whole grid (seed-major order), so shards have similar loads; the
    shards of one grid are disjoint and together hold every point. Slurm array jobs pass
    ``--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`` (with ``--array=0-(n-1)``).

    Raises:
        ConfigurationError: ``count < 1`` or ``index`` outside ``[0, count)``.

    Example:
        >>> grid = grid_points(a=[0, 0.5, 1], seeds=[0, 1])
        >>> [(p.a, p.seed) for p in shard_points(grid, index=1, count=2)]
        [(0.5, 0), (0.0, 1), (1.0, 1)]
    """
    if not is_int(count) or count < 1 or not is_int(index) or not 0 <= index < count:
        raise ConfigurationError(
            f"a shard is i/n with n >= 1 and 0 <= i < n, got {index!r}/{count!r}; pass e.g. --shard 0/4"
        )
    return list(points)[int(index) :: int(count)]


def _checked_points(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    points = list(points)
    if not points:
        raise ConfigurationError("no points to run; pass e.g. grid_points(a=[0, 0.316], seeds=[0, 1, 2])")
    if not all(isinstance(p, SweepPoint) for p in points):
        raise ConfigurationError("points must be SweepPoint objects; build them with grid_points(...)")
    keys = [p.key for p in points]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise ConfigurationError(f"point {dup} is listed twice; pass each point once")
    return points


class _RecordFinder:
    """Finds the records of points in ``results_dir/points/``: exact keys first, then legacy keys.

    A damaged file is warned about once (and read again only when it changes); a legacy-named file
    counts only when it holds exactly the point asked for.
    """

    def __init__(self, pdir: Path, settings: SweepSettings, info: dict[str, Any]) -> None:
        self.pdir = pdir
        self.settings = settings
        self.info = info
        self._damaged: dict[Path, tuple[int, int]] = {}

    def find(self, point: SweepPoint, *, legacy: bool = True) -> PointRecord | None:
        """The compatible record of ``point``, or None (ConfigurationError: a record of other settings)."""
        path = safe_output_path(self.pdir, f"{point.key}.json")  # a link or a folder there: refused
        rec = self._read(path, "the point runs again and its new record replaces the file")
        if rec is None and legacy and point.legacy_key != point.key:
            path = self.pdir / f"{point.legacy_key}.json"
            rec = self._read(path, "left out")
            if rec is not None and rec.point != point:
                return None  # another point that shares the 6-digit key (a = 0.5000001 in a0.5's file)
        if rec is not None:
            _check_compatible(rec, self.settings, self.info, path)
        return rec

    def _read(self, path: Path, consequence: str) -> PointRecord | None:
        try:
            st = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        if self._damaged.get(path) == stamp:
            return None
        try:
            return _read_point_file(path)
        except DamagedFileError as exc:
            self._damaged[path] = stamp
            _skip(path, exc, consequence)
            return None


def run_sweep(
    points: Sequence[SweepPoint],
    *,
    settings: SweepSettings,
    results_dir: str | os.PathLike[str],
    data: Any | None = None,
    device: str | None = None,
    progress: bool = True,
    save_models: bool = False,
    client: Any | None = None,
    threads_per_worker: int | None = None,
    shard: tuple[int, int] | None = None,
    claim_timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S,
    ensemble: int = 1,
) -> list[PointRecord]:
    """Run every point that has no record yet in ``results_dir``; return the records of all points.

    Finished points are written to ``results_dir/points/<key>.json`` as soon as they finish, so the
    sweep can be stopped at any time and resumed by running it again; a point stopped half-way
    continues from its last epoch checkpoint (``results_dir/checkpoints/<key>/``). A record left
    by other settings or other data stops the sweep with an error rather than being mixed in.

    Points run in this process one after another, or in parallel on a Dask cluster when ``client``
    is given (:mod:`~qiskit_natural_qnn.experiments.distributed`; ``docs/scaling.md``): the data are
    sent to the workers once, the records come back here and are written here. Several sweeps may
    share ``results_dir`` (other terminals, Slurm array jobs, machines on a shared file system):
    each point is claimed before it runs (:mod:`~qiskit_natural_qnn.experiments.claims`), so no
    point is trained twice, and each sweep waits for the points others hold until their records
    appear (or takes them over when their driver stopped for ``claim_timeout_s`` seconds). A point's
    record is the same, bit for bit, wherever it ran (apart from ``seconds``, ``finished_at``,
    ``host``): same weights digest, same errors, same history.

    Args:
        points: the points, e.g. from :func:`grid_points`.
        settings: the recipe shared by every point.
        results_dir: the folder of the sweep (created if needed).
        data: the split (default: :func:`~qiskit_natural_qnn.data.load_default`).
        device: torch device; default ``cuda`` when available, else ``cpu`` (on a cluster: each
            worker's own choice).
        progress: one tqdm bar over the points (done / total, running here and elsewhere, ETA); in
            this process, also the bar over each point's epochs.
        save_models: also keep each point's ``model.safetensors`` and ``history.json`` under
            ``results_dir/models/<key>/``.
        client: a :class:`distributed.Client` (any Dask cluster) to run the points on, or None to
            run them here.
        threads_per_worker: torch threads of each point (on a cluster: default 1; here: default
            unchanged).
        shard: ``(i, n)``: run only shard ``i`` of ``n`` of ``points`` (:func:`shard_points`).
        claim_timeout_s: seconds without a heartbeat after which another sweep's claim on a point is
            taken over.
        ensemble: train up to this many points at once, as one ensemble per task
            (:func:`run_points_together`): in this process, or on each worker of ``client``. The
            records are those of a serial sweep: bit for bit on CPU with one torch thread per task.
            Ensembles are not checkpointed (an ensemble stopped half-way starts again).

    Returns:
        One :class:`PointRecord` per point (of the shard), in the order of ``points``.

    A damaged record (unreadable, invalid, or of another point than its name) is never counted as
    a finished point: it is logged as a warning and the point runs again, its new record replacing
    the damaged file.

    Raises:
        ConfigurationError: no points, repeated points, a bad point, shard or thread count, records
            in ``results_dir`` that were made with other settings or data, or a record path that is
            a link or a folder (checked before any training).
        MissingExtraError: a ``client`` without Dask distributed installed (the ``[dask]`` extra).
    """
    from tqdm import tqdm

    points = _checked_points(points)
    if shard is not None:
        points = shard_points(points, index=shard[0], count=shard[1])
    if threads_per_worker is not None and (not is_int(threads_per_worker) or threads_per_worker < 1):
        raise ConfigurationError(f"threads_per_worker must be an int >= 1, got {threads_per_worker!r}; pass e.g. 1")
    if not is_int(ensemble) or ensemble < 1:
        raise ConfigurationError(f"ensemble must be an int >= 1, got {ensemble!r}; pass e.g. ensemble=8")
    if data is None:
        from qiskit_natural_qnn.data import load_default

        data = load_default()
    if device is None and client is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    claims = PointClaims(Path(results_dir) / "claims", timeout_s=claim_timeout_s)  # checks the timeout
    pdir = _points_dir(results_dir)
    pdir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(pdir, min_age_s=60.0)  # another sweep process may be writing a record now
    finder = _RecordFinder(pdir, settings, _data_info(data))
    records: dict[str, PointRecord] = {}
    todo = []
    for p in points:
        rec = finder.find(p)
        if rec is None:
            todo.append(p)
        else:
            records[p.key] = rec
            _remove_checkpoint(Path(results_dir), p.key)  # left by a driver stopped right after the record
    if client is not None and threads_per_worker is None:
        threads_per_worker = 1  # one torch thread per task: a worker's Dask threads are its cores
    task = {
        "settings": settings,
        "device": device,
        "threads": threads_per_worker,
        "checkpoint_root": str(Path(results_dir).resolve() / _CHECKPOINTS),  # workers may have another cwd
        "checkpoint_marker": f".sweep-{claims.owner.token}",
        "save_model": save_models,
        "progress": progress and client is None,
        "worker": client is not None,
    }
    bar = tqdm(total=len(points), initial=len(points) - len(todo), desc="sweep", unit="point", disable=not progress)
    try:
        if todo:
            _run_todo(
                todo,
                records,
                finder,
                claims,
                results_dir=Path(results_dir),
                data=data,
                bar=bar,
                client=client,
                task=task,
                ensemble=int(ensemble),
            )
    finally:
        bar.close()
    return [records[p.key] for p in points]


_CHECKPOINTS = "checkpoints"


def _remove_checkpoint(results_dir: Path, key: str) -> None:
    """Delete the checkpoint folder of a finished point (never through a link)."""
    checkpoint = results_dir / _CHECKPOINTS / key
    if checkpoint.is_dir() and not checkpoint.is_symlink():
        shutil.rmtree(checkpoint, ignore_errors=True)


def _run_todo(
    todo: list[SweepPoint],
    records: dict[str, PointRecord],
    finder: _RecordFinder,
    claims: PointClaims,
    *,
    results_dir: Path,
    data: Any,
    bar: Any,
    client: Any | None,
    task: dict[str, Any],
    ensemble: int = 1,
) -> None:
    """Run the points without a record (here or on ``client``), claimed one by one; fill ``records``."""
    items = {p.key: p for p in todo}

    def finished(key: str) -> bool:
        rec = finder.find(items[key], legacy=False)  # a new record always has the exact key
        if rec is not None:
            records[key] = rec
        return rec is not None

    def save(key: str, result: PointResult) -> None:
        result.record.to_json(safe_output_path(finder.pdir, f"{key}.json"))
        for name, payload in result.files.items():
            write_atomic(safe_output_path(results_dir / "models" / key, name), payload)
        _remove_checkpoint(results_dir, key)
        records[key] = result.record

    marker = safe_output_path(results_dir / _CHECKPOINTS, task["checkpoint_marker"])
    write_atomic(marker, b"")  # workers that see it share this folder: they checkpoint into it
    try:
        if client is None:
            runner: Any = SerialRunner(_run_points_task, items=items, data=data, kwargs=task)
        else:
            from qiskit_natural_qnn.experiments.distributed import DaskRunner

            runner = DaskRunner(client, _run_points_task, items=items, data=data, kwargs=task)
        run_claimed(list(items), runner=runner, claims=claims, finished=finished, save=save, bar=bar, group=ensemble)
    finally:
        marker.unlink(missing_ok=True)
        for folder in (results_dir / _CHECKPOINTS, claims.folder):  # left empty by the last sweep to finish
            with contextlib.suppress(OSError):
                folder.rmdir()


def load_records(results_dir: str | os.PathLike[str]) -> list[PointRecord]:
    """Every valid point record in ``results_dir/points/`` (sorted by ``g``, ``a``, seed).

    Damaged records are skipped with a warning (see :func:`scan_records`, which also lists them).

    Raises:
        InputError: ``results_dir`` holds no records.
        DamagedFileError: every record in ``results_dir`` is damaged (the message gives the first).

    Example:
        >>> load_records("no/such/dir")
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.InputError: no sweep records in 'no/such/dir/points'; run qnqnn sweep ...
    """
    pdir = _points_dir(results_dir)
    scan = scan_records(results_dir)
    if not scan.records and not scan.damaged:
        raise InputError(f"no sweep records in {str(pdir)!r}; run qnqnn sweep with --results-dir {results_dir} first")
    if not scan.records:
        raise DamagedFileError(
            f"{scan.damaged[0].problem} (every record in {str(pdir)!r} is damaged, {len(scan.damaged)} in all; "
            "delete them and run the sweep again)"
        )
    return scan.records


@dataclass(frozen=True)
class Aggregate:
    """One metric at one ``(a, g)``, over seeds.

    Attributes:
        a: the stretch.
        g: the entanglement angle.
        metric: the metric's name (a key of :data:`METRICS`).
        seeds: the seeds, ascending.
        values: the metric per seed, in the order of ``seeds``.
        mean: the mean over seeds.
        std: the sample standard deviation over seeds (``ddof=1``; 0 with one seed).
        sem: the standard error of the mean, ``std / sqrt(n)``.
    """

    a: float
    g: float
    metric: str
    seeds: tuple[int, ...]
    values: tuple[float, ...]
    mean: float
    std: float
    sem: float

    @property
    def n(self) -> int:
        """Number of seeds."""
        return len(self.seeds)


def aggregate(records: Iterable[PointRecord], metric: str = "val_vote_error") -> list[Aggregate]:
    """Mean, standard deviation and standard error of ``metric`` over seeds at each ``(a, g)``.

    Records whose metric is None are left out. Points are sorted by ``g``, then ``a``.

    Raises:
        ConfigurationError: an unknown metric.

    Example:
        >>> # fake_record: a PointRecord with made-up numbers (tests/records.py)
        >>> recs = [fake_record(a=0.5, seed=s, val_vote_error=e) for s, e in [(0, 0.05), (1, 0.07)]]
        >>> agg = aggregate(recs)
        >>> agg[0].a, agg[0].seeds, round(agg[0].mean, 4), round(agg[0].std, 4)
        (0.5, (0, 1), 0.06, 0.0141)
    """
    if metric not in METRICS:
        raise ConfigurationError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
    groups: dict[tuple[float, float], list[tuple[int, float]]] = {}
    for r in records:
        value = r.metric(metric)
        if value is None:
            continue
        groups.setdefault((round(r.a, 12), round(r.g, 12)), []).append((r.seed, float(value)))
    out = []
    for (a, g), pairs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        pairs.sort()
        vals = np.array([v for _, v in pairs])
        std = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
        out.append(
            Aggregate(
                a=a,
                g=g,
                metric=metric,
                seeds=tuple(s for s, _ in pairs),
                values=tuple(float(v) for v in vals),
                mean=float(vals.mean()),
                std=std,
                sem=std / math.sqrt(len(vals)),
            )
        )
    return out


#: The families of points :func:`best_by_method` compares.
METHODS: tuple[str, ...] = ("classical", "method 1", "method 2", "combined")


def method_of(a: float, g: float) -> str:
    """Which of :data:`METHODS` a point ``(a, g)`` belongs to.

    ``classical``: ``a = 0`` and ``g = pi/2``; ``method 1``: ``a > 0``, ``g = pi/2``; ``method 2``:
    ``a = 0``, ``g < pi/2``; ``combined``: ``a > 0`` and ``g < pi/2`` (``docs/model.md``, "Layer schedule").

    Example:
        >>> [method_of(0, math.pi / 2), method_of(0.3, math.pi / 2), method_of(0, 0.8), method_of(0.3, 0.8)]
        ['classical', 'method 1', 'method 2', 'combined']
    """
    projective = math.isclose(g, _HALF_PI, rel_tol=0, abs_tol=1e-9)
    if a == 0:
        return "classical" if projective else "method 2"
    return "method 1" if projective else "combined"


def best_by_method(records: Iterable[PointRecord], metric: str = "val_vote_error") -> dict[str, Aggregate]:
    """The point with the lowest mean ``metric`` over seeds within each method present in ``records``.

    Ties keep the point that :func:`aggregate` lists first. Only points with the largest number of
    seeds of their method compete, so that a single lucky seed cannot beat a three-seed mean.

    Returns:
        ``{method: Aggregate}`` in the order of :data:`METHODS`, for the methods that occur.

    Example:
        >>> # fake_record: a PointRecord with made-up numbers (tests/records.py)
        >>> recs = [fake_record(a=a, g=g, seed=s, val_vote_error=e) for a, g, s, e in [
        ...     (0.3, math.pi / 2, 0, 0.05), (0.3, math.pi / 2, 1, 0.05), (0.3, 1.2, 0, 0.04), (0.3, 1.2, 1, 0.06),
        ...     (0.5, 1.2, 0, 0.03)]]
        >>> {m: (p.a, round(p.mean, 3), p.seeds) for m, p in best_by_method(recs).items()}
        {'method 1': (0.3, 0.05, (0, 1)), 'combined': (0.3, 0.05, (0, 1))}
    """
    groups: dict[str, list[Aggregate]] = {}
    for p in aggregate(records, metric):
        groups.setdefault(method_of(p.a, p.g), []).append(p)
    best = {}
    for method in METHODS:
        if method in groups:
            most = max(p.n for p in groups[method])
            best[method] = min((p for p in groups[method] if p.n == most), key=lambda p: p.mean)
    return best


def import_run(
    run_dir: str | os.PathLike[str],
    *,
    results_dir: str | os.PathLike[str],
    data: Any | None = None,
    seconds: float | None = None,
    device: str = "cpu",
) -> PointRecord:
    """Turn a finished ``qnqnn train`` run (``history.json`` + ``model.safetensors``) into a sweep record.

    Valid only for runs trained as a sweep trains them: ``qnqnn train --seed S`` seeds the network
    and the fit with the same int, as :func:`run_point` does. The training-set errors are computed
    from the saved model. The record goes to ``results_dir/points/<key>.json`` (an existing record
    is left alone and returned).

    Args:
        run_dir: the folder written by ``qnqnn train --out``.
        results_dir: the sweep folder.
        data: the split the run used (default: the embedded default split).
        seconds: the run's wall time, if known (default: the sum of its epochs' seconds).
        device: device for the training-set evaluation.

    Returns:
        The record.

    Raises:
        InputError: the run has no history or model, or no seed.
    """
    from qiskit_natural_qnn.io import load_model

    run = Path(run_dir)
    if not (run / "history.json").is_file() or not (run / "model.safetensors").is_file():
        raise InputError(
            f"{str(run)!r} lacks history.json or model.safetensors; pass a finished qnqnn train output folder"
        )
    history = History.from_json(run / "history.json")
    if history.seed is None:
        raise InputError(f"{str(run)!r} was trained without a seed; only seeded runs can join a sweep")
    spec = history.spec
    point = SweepPoint(a=spec["a"], g=spec["g"], seed=history.seed)
    settings = SweepSettings(
        hidden=tuple(history.layer_sizes[1:-1]),
        stretch=spec["stretch"],
        weak_update=spec["weak_update"],
        bias=False,
        config=history.config,
    )
    if data is None:
        from qiskit_natural_qnn.data import load_default

        data = load_default()
    if history.train_data != data.train.name or history.validation_data != data.validation.name:
        raise InputError(
            f"{str(run)!r} was trained on {history.train_data!r}/{history.validation_data!r}, not on "
            f"{data.train.name!r}/{data.validation.name!r}; pass the data it was trained on"
        )
    model = load_model(run / "model.safetensors", device=device)
    settings = dataclasses.replace(settings, bias=model.bias, surrogate=model.surrogate)
    pdir = _points_dir(results_dir)
    existing = _RecordFinder(pdir, settings, _data_info(data)).find(point)
    if existing is not None:
        return existing
    path = safe_output_path(pdir, f"{point.key}.json")
    if seconds is None:
        seconds = float(sum(r.seconds for r in history.records))
    rec = _record_from(
        point, settings, data, model, history, device=device, start=None, seconds=seconds, imported_from=str(run)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    rec.to_json(path)
    return rec
