"""Sweeps over the stretch ``a`` and the entanglement angle ``g``: resumable, one JSON record per point.

A sweep trains one network per *point* -- a stretch ``a``, an angle ``g`` and a seed -- with a shared
recipe (:class:`SweepSettings`: hidden widths, stretch function, :class:`~qiskit_natural_qnn.training.TrainConfig`),
and writes one JSON :class:`PointRecord` per finished point into ``results_dir/points/``. Running the
same sweep again skips the points whose record is already there, so an interrupted sweep resumes
where it stopped and a grid can be extended by adding values.

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

import dataclasses
import datetime as _dt
import json
import logging
import math
import os
import platform
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from qiskit_natural_qnn.checks import is_int, is_real
from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError, InputError
from qiskit_natural_qnn.io.files import read_json, remove_stale_temporaries, safe_output_path, write_atomic
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.randomness import check_seed
from qiskit_natural_qnn.surrogates import HardTanhSurrogate, Surrogate, get_surrogate
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
    "grid_points",
    "run_point",
    "run_sweep",
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


def _fmt(value: float) -> str:
    """A short, file-name-safe rendering of a number (``0.316``, ``1.5708``)."""
    text = f"{value:.6g}"
    return text.replace("-", "m")


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
        'a0.316_g1.5708_s2'
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
        object.__setattr__(self, "a", float(self.a))
        object.__setattr__(self, "g", min(float(self.g), _HALF_PI))
        object.__setattr__(self, "seed", seed)

    @property
    def key(self) -> str:
        """The point's file stem in ``results_dir/points/``."""
        return f"a{_fmt(self.a)}_g{_fmt(self.g)}_s{self.seed}"


def grid_points(
    *, a: Iterable[float] = (0.0,), g: Iterable[float] = (_HALF_PI,), seeds: Iterable[int] = (0, 1, 2)
) -> list[SweepPoint]:
    """Every combination of ``a``, ``g`` and seed, ordered by seed, then ``g``, then ``a``.

    Seed-major order means that a sweep stopped half-way has whole curves for the first seeds.

    Raises:
        ConfigurationError: an empty list, or a value out of range.

    Example:
        >>> [p.key for p in grid_points(a=[0, 0.5], seeds=[0, 1])]
        ['a0_g1.5708_s0', 'a0.5_g1.5708_s0', 'a0_g1.5708_s1', 'a0.5_g1.5708_s1']
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
        host: ``platform.node()``, CPU count and ``OMP_NUM_THREADS`` at run time.
        imported_from: the run directory this record was imported from (:func:`import_run`), or None.
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
    if problems:
        raise DamagedFileError(
            f"invalid sweep point record: {'; '.join(problems)}; delete the file and run the point again"
        )


def _host() -> dict[str, Any]:
    return {"node": platform.node(), "cpus": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}


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
) -> PointRecord:
    """Train and evaluate one point; nothing is written unless ``model_dir`` is given.

    Args:
        point: the point (``a``, ``g``, seed).
        settings: the shared recipe.
        data: an :class:`~qiskit_natural_qnn.data.MNISTSplit` (or any object with ``train``,
            ``validation`` datasets and a ``source``).
        device: torch device of the run.
        progress: show the fit's progress bar over epochs.
        model_dir: if given, ``fit`` writes ``history.json`` and ``model.safetensors`` there.

    Returns:
        The :class:`PointRecord`.

    Raises:
        ConfigurationError: the point does not fit the settings (e.g. ``g < pi/2`` with unequal widths).
    """
    from qiskit_natural_qnn.training import fit

    start = time.perf_counter()
    n_inputs = int(data.train.images.shape[1])
    n_classes = 10
    model = NaturalQNN(
        layer_sizes=[n_inputs, *settings.hidden, n_classes],
        a=point.a,
        stretch=settings.stretch,
        g=point.g,
        weak_update=settings.weak_update,
        bias=settings.bias,
        seed=point.seed,
        surrogate=settings.surrogate,
    ).to(device)
    config = settings.config.replace(seed=point.seed)
    history = fit(model, data.train, data.validation, config=config, progress=progress, out_dir=model_dir)
    return _record_from(point, settings, data, model, history, device=device, start=start)


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
    if record.point.key != path.stem:
        raise DamagedFileError(
            f"{str(path)!r} holds point {record.point.key}, not the point its name says; the file was edited or "
            "renamed: delete it and run the point again"
        )
    return record


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
    records: list[PointRecord] = []
    damaged: list[DamagedRecord] = []
    for path in files:
        try:
            records.append(_read_point_file(path))
        except DamagedFileError as exc:
            damaged.append(_skip(path, exc, "left out"))
    return RecordScan(records=sorted(records, key=lambda r: (r.g, r.a, r.seed)), damaged=damaged)


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


def run_sweep(
    points: Sequence[SweepPoint],
    *,
    settings: SweepSettings,
    results_dir: str | os.PathLike[str],
    data: Any | None = None,
    device: str | None = None,
    progress: bool = True,
    save_models: bool = False,
) -> list[PointRecord]:
    """Run every point that has no record yet in ``results_dir``; return the records of all points.

    Finished points are written to ``results_dir/points/<key>.json`` as soon as they finish, so the
    sweep can be stopped at any time and resumed by running it again. A record left by other settings
    or other data stops the sweep with an error rather than being mixed in.

    Args:
        points: the points, e.g. from :func:`grid_points`.
        settings: the recipe shared by every point.
        results_dir: the folder of the sweep (created if needed).
        data: the split (default: :func:`~qiskit_natural_qnn.data.load_default`).
        device: torch device; default ``cuda`` when available, else ``cpu``.
        progress: tqdm bars over points and over each point's epochs.
        save_models: also keep each point's ``model.safetensors`` and ``history.json`` under
            ``results_dir/models/<key>/``.

    Returns:
        One :class:`PointRecord` per point, in the order of ``points``.

    A damaged record (unreadable, invalid, or of another point than its name) is never counted as
    a finished point: it is logged as a warning and the point runs again, its new record replacing
    the damaged file.

    Raises:
        ConfigurationError: no points, repeated points, a bad point, records in ``results_dir``
            that were made with other settings or data, or a record path that is a link or a folder
            (checked before any training).
    """
    from tqdm import tqdm

    points = list(points)
    if not points:
        raise ConfigurationError("no points to run; pass e.g. grid_points(a=[0, 0.316], seeds=[0, 1, 2])")
    if not all(isinstance(p, SweepPoint) for p in points):
        raise ConfigurationError("points must be SweepPoint objects; build them with grid_points(...)")
    keys = [p.key for p in points]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise ConfigurationError(f"point {dup} is listed twice; pass each point once")
    if data is None:
        from qiskit_natural_qnn.data import load_default

        data = load_default()
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    info = _data_info(data)
    pdir = _points_dir(results_dir)
    pdir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(pdir, min_age_s=60.0)  # another sweep process may be writing a record now
    records: dict[str, PointRecord] = {}
    todo = []
    for p in points:
        path = safe_output_path(pdir, f"{p.key}.json")  # a link or a folder there: refused before any training
        if path.exists():
            try:
                rec = _read_point_file(path)
            except DamagedFileError as exc:
                _skip(path, exc, "the point runs again and its new record replaces the file")
                todo.append(p)
                continue
            _check_compatible(rec, settings, info, path)
            records[p.key] = rec
        else:
            todo.append(p)
    bar = tqdm(
        todo, desc=f"sweep ({len(points) - len(todo)} of {len(points)} done)", unit="point", disable=not progress
    )
    try:
        for p in bar:
            bar.set_postfix({"a": f"{p.a:.4g}", "g": f"{p.g:.4g}", "seed": p.seed})
            model_dir = Path(results_dir) / "models" / p.key if save_models else None
            rec = run_point(p, settings=settings, data=data, device=device, progress=progress, model_dir=model_dir)
            rec.to_json(pdir / f"{p.key}.json")
            records[p.key] = rec
    finally:
        bar.close()
    return [records[k] for k in keys]


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
    path = _points_dir(results_dir) / f"{point.key}.json"
    if path.exists():
        rec = PointRecord.from_json(path)
        _check_compatible(rec, settings, _data_info(data), path)
        return rec
    if seconds is None:
        seconds = float(sum(r.seconds for r in history.records))
    rec = _record_from(
        point, settings, data, model, history, device=device, start=None, seconds=seconds, imported_from=str(run)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    rec.to_json(path)
    return rec
