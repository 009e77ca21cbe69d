"""Figures: error versus ``a``, error versus ``g`` with ``g_c``, the ``(a, g)`` heat map, learning curves.

Every function takes sweep records (:class:`~qiskit_natural_qnn.experiments.PointRecord`), draws
with Matplotlib's object API on a new :class:`~matplotlib.figure.Figure` (or on ``ax``) and returns
the figure; pyplot is never touched, so nothing is shown and no backend is switched.
:func:`save_figure` writes a PNG (rendered by Agg). Error bars are the sample standard
deviation over seeds. :func:`plot_learning_curve` draws one training run's history (``qnqnn
train`` writes it as ``learning_curve.png`` beside ``history.json``).

Example:
    >>> from qiskit_natural_qnn.experiments.sweep import PointRecord, SweepSettings
    >>> def record(a, seed, error):  # made-up numbers
    ...     return PointRecord(
    ...         a=a, g=math.pi / 2, seed=seed, layer_sizes=[784, 16, 10],
    ...         settings=SweepSettings(hidden=(16,)).to_dict(), data={"train": "t", "n_train": 1},
    ...         val_single_shot_error=error, val_vote_error=error, train_error=0.0,
    ...         train_single_shot_error=0.0, train_vote_error=0.0, seconds=1.0, version="example", device="cpu",
    ...         finished_at="2026-01-01T00:00:00+00:00", history={})
    >>> recs = [record(a, s, 0.08 - 0.1 * a + 0.1 * a * a) for a in (0.0, 0.3, 1.0) for s in (0, 1)]
    >>> fig = plot_error_vs_a(recs)
    >>> len(fig.axes[0].containers), fig.axes[0].get_xlabel()  # three curves with error bars
    (3, 'stretch a')
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.experiments.gc import CriticalAngle, locate_gc_from_records
from qiskit_natural_qnn.experiments.sweep import METRICS, Aggregate, PointRecord, aggregate
from qiskit_natural_qnn.io.files import write_atomic
from qiskit_natural_qnn.training.config import History

__all__ = [
    "LEARNING_SERIES",
    "plot_error_vs_a",
    "plot_error_vs_g",
    "plot_heatmap",
    "plot_learning_curve",
    "save_figure",
    "describe",
]

#: The error series of a learning curve: ``(history key, label, style)``; each one drawn where recorded.
LEARNING_SERIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("train_error", "training, single pass", {"color": "C3", "marker": "v", "ls": ":"}),
    ("train_single_shot_error", "training, single shot", {"color": "C3", "marker": "v", "ls": ":"}),
    ("train_vote_error", "training, majority vote", {"color": "C2", "marker": "^", "ls": "-"}),
    ("val_single_shot_error", "validation, single shot", {"color": "C1", "marker": "s", "ls": "--"}),
    ("val_vote_error", "validation, majority vote", {"color": "C0", "marker": "o", "ls": "-"}),
)

_STYLE: dict[str, dict[str, Any]] = {
    "val_vote_error": {"color": "C0", "marker": "o", "ls": "-"},
    "val_single_shot_error": {"color": "C1", "marker": "s", "ls": "--"},
    "train_vote_error": {"color": "C2", "marker": "^", "ls": "-"},
    "train_single_shot_error": {"color": "C3", "marker": "v", "ls": ":"},
    "train_error": {"color": "C3", "marker": "v", "ls": ":"},
}


def describe(records: Sequence[PointRecord]) -> str:
    """A one-line description of the records' network, data and recipe (used as a figure title).

    Example:
        >>> from qiskit_natural_qnn.experiments.sweep import PointRecord, SweepSettings
        >>> fields = dict(  # made-up numbers
        ...     a=0.0, g=math.pi / 2, layer_sizes=[784, 16, 10], settings=SweepSettings(hidden=(16,)).to_dict(),
        ...     data={"train": "t", "n_train": 1}, val_single_shot_error=0.1, val_vote_error=0.1, train_error=0.0,
        ...     train_single_shot_error=0.0, train_vote_error=0.0, seconds=1.0, version="example", device="cpu",
        ...     finished_at="2026-01-01T00:00:00+00:00", history={})
        >>> describe([PointRecord(seed=0, **fields), PointRecord(seed=1, **fields)])
        '784-16-10, 100 epochs, t (1 images), 2 seeds'
    """
    r = records[0]
    cfg = r.settings.get("config", {})
    extra = [] if cfg.get("schedule") in (None, "none") else [f"{cfg['schedule']} schedule"]
    per_point: dict[tuple[float, float], set[int]] = {}
    for x in records:
        per_point.setdefault((x.a, x.g), set()).add(x.seed)
    lo, hi = min(map(len, per_point.values())), max(map(len, per_point.values()))
    seeds = f"{hi} seed{'s' if hi != 1 else ''}" if lo == hi else f"{lo}-{hi} seeds per point"
    parts = [
        "-".join(str(s) for s in r.layer_sizes),
        f"{cfg.get('epochs')} epochs",
        *extra,
        f"{r.data.get('train')} ({r.data.get('n_train')} images)",
        seeds,
    ]
    return ", ".join(parts)


def _check_metrics(metrics: Iterable[str]) -> list[str]:
    out = list(metrics)
    for m in out:
        if m not in METRICS:
            raise ConfigurationError(f"unknown metric {m!r}; expected one of {', '.join(METRICS)}")
    return out


def _records(records: Iterable[PointRecord]) -> list[PointRecord]:
    recs = list(records)
    if not recs:
        raise InputError("no records to plot; run a sweep first (qnqnn sweep ...)")
    return recs


def _axes(ax: Axes | None, size: tuple[float, float] = (6.4, 4.2)) -> tuple[Figure | SubFigure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _curve(
    ax: Axes, recs: list[PointRecord], metric: str, x_of: Callable[[Aggregate], float], label: str | None = None
) -> None:
    agg = aggregate(recs, metric)
    if not agg:
        return
    x = np.array([x_of(p) for p in agg])
    order = np.argsort(x)
    mean = np.array([p.mean for p in agg])[order] * 100
    std = np.array([p.std for p in agg])[order] * 100
    ax.errorbar(x[order], mean, yerr=std, capsize=3, label=label or METRICS[metric], ms=4, **_STYLE[metric])


def plot_error_vs_a(
    records: Iterable[PointRecord],
    *,
    metrics: Sequence[str] = ("val_vote_error", "val_single_shot_error", "train_vote_error"),
    paper: tuple[float, float] | None = None,
    xscale: str = "symlog",
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """Error (percent) versus the stretch ``a``, mean over seeds with standard-deviation bars.

    The classical network (``a = 0``) is marked by a dotted horizontal line at its mean validation
    vote error, and the best mean validation vote error by a star.

    Args:
        records: the records of an ``a`` sweep (one ``g``).
        metrics: which curves (keys of :data:`~qiskit_natural_qnn.experiments.METRICS`).
        paper: ``(a, error)`` reported by the paper, drawn as a cross (e.g. ``(0.316, 0.0472)``).
        xscale: ``"symlog"`` (default: linear below 0.1, logarithmic above, so that ``a = 0`` and
            a grid such as 0, 0.1, 0.2, 0.316, 0.5, 1, 2 spread evenly) or ``"linear"``.
        title: the title (default: :func:`describe` of the records).
        ax: draw on these axes instead of a new figure.

    Raises:
        InputError: no records, or records at several ``g``.
        ConfigurationError: an unknown metric.
    """
    recs = _records(records)
    metrics = _check_metrics(metrics)
    angles = sorted({round(r.g, 12) for r in recs})
    if len(angles) > 1:
        raise InputError(f"the records hold several angles g {angles}; plot one g at a time or use plot_heatmap")
    fig, ax = _axes(ax)
    for m in metrics:
        _curve(ax, recs, m, lambda p: p.a)
    val = aggregate(recs, "val_vote_error")
    classical = [p for p in val if p.a == 0]
    if classical:
        ax.axhline(
            classical[0].mean * 100, color="0.4", ls=":", lw=1, label=f"classical (a = 0): {classical[0].mean:.2%}"
        )
    if val:
        best = min(val, key=lambda p: p.mean)
        ax.plot(
            [best.a],
            [best.mean * 100],
            marker="*",
            ms=14,
            color="C0",
            mec="k",
            ls="none",
            label=f"best: {best.mean:.2%} at a = {best.a:g}",
        )
    if paper is not None:
        ax.plot(
            [paper[0]],
            [paper[1] * 100],
            marker="x",
            ms=10,
            mew=2,
            color="k",
            ls="none",
            label=f"paper: {paper[1]:.2%} at a = {paper[0]:g}",
        )
    if xscale == "symlog":
        ax.set_xscale("symlog", linthresh=0.1, linscale=0.5)
        ticks = sorted({p.a for p in val})
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
    elif xscale != "linear":
        raise ConfigurationError(f"xscale must be 'symlog' or 'linear', got {xscale!r}")
    ax.set_xlabel("stretch a")
    ax.set_ylabel("error (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    g = angles[0]
    suffix = "" if math.isclose(g, math.pi / 2) else f", g = {g / math.pi:.3g} pi"
    ax.set_title(title if title is not None else describe(recs) + suffix, fontsize=9)
    return fig


def plot_error_vs_g(
    records: Iterable[PointRecord],
    *,
    metrics: Sequence[str] = ("val_vote_error", "val_single_shot_error", "train_vote_error"),
    gc: CriticalAngle | None | bool = True,
    paper_gc: float | None = math.pi / 8,
    zoom: bool = True,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """Error (percent) versus the entanglement angle ``g`` (in units of pi), with ``g_c`` shaded.

    With ``zoom``, an inset magnifies the angles where the mean validation vote error is within twice
    its minimum, so that the optimum inside ``(g_c, pi/2)`` stays visible next to the collapse.

    Args:
        records: the records of a ``g`` sweep (one ``a``).
        metrics: which curves.
        gc: a :class:`~qiskit_natural_qnn.experiments.CriticalAngle` to draw, True to locate it from
            the validation vote error (needs three angles or more), or False/None for none.
        paper_gc: the paper's ``g_c`` drawn as a dashed line (None for none).
        zoom: draw the inset (when at least two angles qualify).
        title: the title (default: :func:`describe` of the records).
        ax: draw on these axes instead of a new figure.

    Raises:
        InputError: no records, or records at several ``a``.
        ConfigurationError: an unknown metric.
    """
    recs = _records(records)
    metrics = _check_metrics(metrics)
    stretches = sorted({r.a for r in recs})
    if len(stretches) > 1:
        raise InputError(f"the records hold several stretches a {stretches}; plot one a at a time or use plot_heatmap")
    fig, ax = _axes(ax)
    for m in metrics:
        _curve(ax, recs, m, lambda p: p.g / math.pi)
    if gc is True:
        n_angles = len({r.g for r in recs})
        gc = locate_gc_from_records(recs) if n_angles >= 3 else None
    if isinstance(gc, CriticalAngle):
        lo, hi = (gc.g_c - gc.uncertainty) / math.pi, (gc.g_c + gc.uncertainty) / math.pi
        ax.axvspan(
            lo, hi, color="C4", alpha=0.2, label=f"g_c = ({gc.g_c / math.pi:.3f} ± {gc.uncertainty / math.pi:.3f}) pi"
        )
        ax.axvline(gc.g_c / math.pi, color="C4", lw=1)
    if paper_gc is not None:
        ax.axvline(paper_gc / math.pi, color="k", ls="--", lw=1, label=f"paper: g_c ≈ {paper_gc / math.pi:.3g} pi")
    val = aggregate(recs, "val_vote_error")
    best = min(val, key=lambda p: p.mean)
    ax.plot(
        [best.g / math.pi],
        [best.mean * 100],
        marker="*",
        ms=14,
        color="C0",
        mec="k",
        ls="none",
        label=f"best: {best.mean:.2%} at g = {best.g / math.pi:.3g} pi",
    )
    near = {round(p.g, 12) for p in val if p.mean <= 2 * best.mean}
    if zoom and len(near) >= 2:
        inset = ax.inset_axes((0.5, 0.2, 0.47, 0.38))
        sub = [r for r in recs if round(r.g, 12) in near]
        for m in metrics:
            _curve(inset, sub, m, lambda p: p.g / math.pi)
        inset.plot([best.g / math.pi], [best.mean * 100], marker="*", ms=12, color="C0", mec="k", ls="none")
        inset.set_ylim(bottom=0)
        inset.grid(alpha=0.3)
        inset.tick_params(labelsize=7)
        inset.set_title("zoom", fontsize=7)
    ax.set_xlabel("entanglement angle g / pi")
    ax.set_ylabel("error (%)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(0, 0.52)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    a = stretches[0]
    suffix = "" if a == 0 else f", a = {a:g}"
    ax.set_title(title if title is not None else describe(recs) + suffix, fontsize=9)
    return fig


def plot_heatmap(
    records: Iterable[PointRecord],
    *,
    metric: str = "val_vote_error",
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """Mean ``metric`` (percent) over seeds on the ``(a, g)`` grid, each cell annotated.

    Axes are the grid's values in order (not to scale); missing cells are blank.

    Raises:
        InputError: no records.
        ConfigurationError: an unknown metric.
    """
    recs = _records(records)
    (metric,) = _check_metrics([metric])
    agg = aggregate(recs, metric)
    a_vals = sorted({p.a for p in agg})
    g_vals = sorted({p.g for p in agg})
    grid = np.full((len(g_vals), len(a_vals)), np.nan)
    for p in agg:
        grid[g_vals.index(p.g), a_vals.index(p.a)] = p.mean * 100
    fig, ax = _axes(ax, size=(1.0 + 0.8 * len(a_vals) + 1.5, 1.0 + 0.5 * len(g_vals) + 1.0))
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis_r")
    fig.colorbar(im, ax=ax, label=f"{METRICS[metric]} error (%)")
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(len(g_vals)):
        for j in range(len(a_vals)):
            if np.isfinite(grid[i, j]):
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="w" if grid[i, j] > mid else "k",
                )
    ax.set_xticks(range(len(a_vals)), [f"{a:g}" for a in a_vals])
    ax.set_yticks(range(len(g_vals)), [f"{g / math.pi:.3g}π" for g in g_vals])
    ax.set_xlabel("stretch a")
    ax.set_ylabel("entanglement angle g")
    ax.set_title(title if title is not None else describe(recs), fontsize=9)
    return fig


def _history_records(history: History | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The per-epoch records of a :class:`History`, of its ``to_dict()`` (``history.json``) or a list of records."""
    if isinstance(history, History):
        return [r.to_dict() for r in history.records]
    if isinstance(history, Mapping):
        records = history.get("records")
        if not isinstance(records, Sequence) or isinstance(records, (str, bytes)):
            raise InputError(
                f"the history has no list of 'records', got keys {sorted(map(str, history))}; pass a History, "
                "the dict of History.to_dict() (history.json) or a list of epoch records"
            )
        history = records
    out = list(history)
    if not all(isinstance(r, Mapping) for r in out):
        raise InputError("every epoch record must be a mapping (as in history.json); pass a History or its to_dict()")
    return out


def _series(records: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs, values)`` where ``key`` is recorded as a finite number (epochs default to 1, 2, ...)."""
    xs, ys = [], []
    for i, r in enumerate(records, start=1):
        value = r.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            epoch = r.get("epoch", i)
            xs.append(epoch if isinstance(epoch, (int, float)) and not isinstance(epoch, bool) else i)
            ys.append(float(value))
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def plot_learning_curve(
    history: History | Mapping[str, Any] | Sequence[Mapping[str, Any]], *, title: str | None = None
) -> Figure:
    """A training run's learning curve: the loss, and the training and validation errors, per epoch.

    Two panels side by side: the mean training cross-entropy, and the errors in percent of every
    series of :data:`LEARNING_SERIES` that the history records (validation single shot and majority
    vote only on validated epochs). A series that is missing, or None on every epoch, is left out.

    Args:
        history: a :class:`~qiskit_natural_qnn.training.History`, the dict of its ``to_dict()`` (the
            contents of ``history.json``), or a list of epoch records.
        title: the figure's title (default: the layer sizes, ``a``, ``g`` and the vote's shots, where known).

    Returns:
        A new figure (pyplot untouched); write it with :func:`save_figure`.

    Raises:
        InputError: no epochs, or a history that is not one.

    Example:
        >>> from qiskit_natural_qnn.training import EpochRecord, History
        >>> h = History(records=[EpochRecord(1, 2.1, 0.7, None, None, 1.0), EpochRecord(2, 1.4, 0.4, 0.35, 0.3, 1.0)])
        >>> fig = plot_learning_curve(h)  # made-up numbers; epoch 1 was not validated
        >>> [len(line.get_xdata()) for line in fig.axes[1].get_lines()]
        [2, 1, 1]
    """
    records = _history_records(history)
    if not records:
        raise InputError("the history has no epochs to plot; train for at least one epoch")
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    loss_ax, error_ax = fig.subplots(1, 2)
    epochs, loss = _series(records, "loss")
    if loss.size:
        loss_ax.plot(epochs, loss, marker="o", ms=3, color="k", label="training loss")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("cross-entropy (mean over the epoch)")
    loss_ax.set_title("loss", fontsize=9)
    loss_ax.grid(alpha=0.3)
    drawn = 0
    for key, label, style in LEARNING_SERIES:
        xs, ys = _series(records, key)
        if ys.size:
            error_ax.plot(xs, ys * 100, ms=4, label=label, **style)
            drawn += 1
    error_ax.set_xlabel("epoch")
    error_ax.set_ylabel("error (%)")
    error_ax.set_ylim(bottom=0)
    error_ax.set_title("error", fontsize=9)
    error_ax.grid(alpha=0.3)
    if drawn:
        error_ax.legend(fontsize=8)
    for ax in (loss_ax, error_ax):
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title if title is not None else _run_title(history), fontsize=9)
    return fig


def _run_title(history: Any) -> str:
    if isinstance(history, History):
        history = history.to_dict()
    if not isinstance(history, Mapping):
        return "learning curve"
    parts = []
    sizes = history.get("layer_sizes")
    if isinstance(sizes, Sequence) and sizes:
        parts.append("-".join(str(s) for s in sizes))
    spec = history.get("spec")
    spec = spec if isinstance(spec, Mapping) else {}
    a, g = spec.get("a"), spec.get("g")
    if isinstance(a, (int, float)):
        parts.append(f"a = {a:g}")
    if isinstance(g, (int, float)):
        parts.append(f"g = {g / math.pi:.3g} pi")
    config = history.get("config")
    shots = config.get("eval_shots") if isinstance(config, Mapping) else None
    if isinstance(shots, int):
        parts.append(f"vote over {shots} shots")
    return "learning curve" + (": " + ", ".join(parts) if parts else "")


def save_figure(fig: Figure | SubFigure, path: str | os.PathLike[str], *, dpi: int = 120) -> Path:
    """Write ``fig`` as a PNG (Agg) to ``path``, creating folders; return the path.

    The file is written atomically and never through a link (:func:`~qiskit_natural_qnn.io.files.write_atomic`).
    """
    whole = fig if isinstance(fig, Figure) else fig.figure  # a subfigure saves its whole (root) figure
    assert isinstance(whole, Figure)
    image = io.BytesIO()
    fmt = Path(path).suffix[1:].lower() or "png"  # as savefig(path) would choose (png, pdf, svg...)
    whole.savefig(image, format=fmt, dpi=dpi)  # a bare Figure renders with Agg; pyplot's state is untouched
    return write_atomic(path, image.getvalue())
