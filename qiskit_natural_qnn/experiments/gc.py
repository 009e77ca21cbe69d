"""The critical entanglement angle ``g_c`` of Method 2: where learning collapses as ``g`` decreases.

In the paper (arXiv:2503.15482), below a critical ``g_c`` (about pi/8) Method 2 stops learning. Here
``g_c`` is defined as **the angle of steepest rise of the mean validation error as g decreases**:
sort the grid ``g_1 < ... < g_K``, average the error over seeds at each ``g``, take the finite
differences ``s_k = (E_{k+1} - E_k) / (g_{k+1} - g_k)``, and put ``g_c`` at the midpoint of the
interval with the most negative slope ``s_k``.

Its uncertainty combines two parts:

* the grid resolution: half the width of that interval (the step can lie anywhere inside it);
* the seed-to-seed scatter: the standard deviation of ``g_c`` over bootstrap resamples of the seeds
  (at each ``g``, draw as many seeds as there are, with replacement, and locate ``g_c`` again).

``uncertainty = sqrt(resolution**2 + bootstrap_std**2)``. A grid that is fine around the transition
is what makes the uncertainty small: spacing ``delta`` gives a resolution of ``delta / 2``.

Example:
    >>> g = np.linspace(0.1, 1.5, 15)
    >>> errors = np.where(g < 0.42, 0.9, 0.06)[:, None] + np.zeros((1, 3))  # a step at 0.42, 3 seeds
    >>> gc = locate_gc(g, errors, seed=0)
    >>> round(gc.g_c, 3), round(gc.resolution, 3), gc.bootstrap_std
    (0.45, 0.05, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError

if TYPE_CHECKING:
    from qiskit_natural_qnn.experiments.sweep import PointRecord

__all__ = ["CriticalAngle", "locate_gc", "locate_gc_from_records"]


@dataclass(frozen=True)
class CriticalAngle:
    """The located critical angle ``g_c`` (see the module docstring for the definition).

    Attributes:
        g_c: the midpoint of the grid interval where the mean error rises most steeply as ``g`` drops.
        uncertainty: ``sqrt(resolution**2 + bootstrap_std**2)``.
        resolution: half the width of that interval.
        bootstrap_std: standard deviation of ``g_c`` over bootstrap resamples of the seeds (0 with
            one seed or no scatter).
        interval: the grid interval ``(g_k, g_{k+1})`` holding ``g_c``.
        slope: the mean error's finite-difference slope there (negative: error falls as ``g`` grows).
        rise: ``E_k - E_{k+1}``, the error jump across that interval.
        g: the grid, ascending.
        mean_error: the mean error over seeds at each ``g``.
        n_bootstrap: the number of bootstrap resamples.
    """

    g_c: float
    uncertainty: float
    resolution: float
    bootstrap_std: float
    interval: tuple[float, float]
    slope: float
    rise: float
    g: tuple[float, ...]
    mean_error: tuple[float, ...]
    n_bootstrap: int

    def __str__(self) -> str:
        return (
            f"g_c = {self.g_c:.4f} +/- {self.uncertainty:.4f} rad = ({self.g_c / math.pi:.4f} "
            f"+/- {self.uncertainty / math.pi:.4f}) pi"
        )


def _steepest(g: np.ndarray, mean: np.ndarray) -> int:
    slopes = np.diff(mean) / np.diff(g)
    return int(np.argmin(slopes))


def locate_gc(
    g: Sequence[float],
    errors: npt.ArrayLike,
    *,
    n_bootstrap: int = 2000,
    seed: int | np.random.Generator | None = 0,
) -> CriticalAngle:
    """Locate ``g_c`` from errors measured on a grid of ``g`` with several seeds.

    Args:
        g: the grid of angles (any order; at least three distinct values).
        errors: array ``(len(g), n_seeds)``: the validation error of each seed at each ``g``
            (NaN marks a missing seed; every ``g`` needs at least one value). A 1-D array is one seed.
        n_bootstrap: bootstrap resamples of the seeds for the uncertainty (``>= 1``).
        seed: seed of the bootstrap.

    Returns:
        The :class:`CriticalAngle`.

    Raises:
        InputError: fewer than three angles, repeated angles, a shape mismatch, or an angle with no
            finite error.
        ConfigurationError: ``n_bootstrap`` not an int ``>= 1``.

    Example:
        >>> locate_gc([0.1, 0.2], [0.9, 0.1])
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.InputError: locate_gc needs at least 3 distinct angles, got 2; ...
    """
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 1:
        raise ConfigurationError(f"n_bootstrap must be an int >= 1, got {n_bootstrap!r}; pass e.g. n_bootstrap=2000")
    g_arr = np.asarray(g, dtype=float).ravel()
    err = np.asarray(errors, dtype=float)
    if err.ndim == 1:
        err = err[:, None]
    if err.ndim != 2 or err.shape[0] != g_arr.shape[0]:
        raise InputError(f"errors must have shape (len(g), n_seeds) = ({g_arr.shape[0]}, n_seeds), got {err.shape}")
    if len(np.unique(g_arr)) != len(g_arr):
        raise InputError(f"the angles must be distinct, got {g_arr.tolist()}; average repeated angles first")
    if len(g_arr) < 3:
        raise InputError(
            f"locate_gc needs at least 3 distinct angles, got {len(g_arr)}; add angles around the transition"
        )
    order = np.argsort(g_arr)
    g_arr, err = g_arr[order], err[order]
    counts = np.isfinite(err).sum(axis=1)
    if (counts == 0).any():
        bad = float(g_arr[np.argmax(counts == 0)])
        raise InputError(f"no finite error at g = {bad}; drop that angle or run its points")
    mean = np.nanmean(err, axis=1)
    k = _steepest(g_arr, mean)
    g_c = float((g_arr[k] + g_arr[k + 1]) / 2)
    resolution = float((g_arr[k + 1] - g_arr[k]) / 2)

    rng = np.random.default_rng(seed)
    rows = [row[np.isfinite(row)] for row in err]
    boot_means = np.stack(
        [row[rng.integers(0, row.size, size=(int(n_bootstrap), row.size))].mean(axis=1) for row in rows], axis=1
    )  # (n_bootstrap, K): the mean error at each g over resampled seeds
    kb = np.argmin(np.diff(boot_means, axis=1) / np.diff(g_arr), axis=1)
    boot = (g_arr[kb] + g_arr[kb + 1]) / 2
    bootstrap_std = float(boot.std(ddof=1)) if n_bootstrap > 1 and np.ptp(boot) > 0 else 0.0
    slope = float((mean[k + 1] - mean[k]) / (g_arr[k + 1] - g_arr[k]))
    return CriticalAngle(
        g_c=g_c,
        uncertainty=math.hypot(resolution, bootstrap_std),
        resolution=resolution,
        bootstrap_std=bootstrap_std,
        interval=(float(g_arr[k]), float(g_arr[k + 1])),
        slope=slope,
        rise=float(mean[k] - mean[k + 1]),
        g=tuple(float(v) for v in g_arr),
        mean_error=tuple(float(v) for v in mean),
        n_bootstrap=int(n_bootstrap),
    )


def locate_gc_from_records(
    records: Iterable[PointRecord],
    *,
    metric: str = "val_vote_error",
    a: float | None = None,
    n_bootstrap: int = 2000,
    seed: int | np.random.Generator | None = 0,
) -> CriticalAngle:
    """:func:`locate_gc` on sweep records (:class:`~qiskit_natural_qnn.experiments.PointRecord`).

    Args:
        records: the records of a ``g`` sweep.
        metric: which error (a key of :data:`~qiskit_natural_qnn.experiments.METRICS`).
        a: keep only the records at this stretch (required when the records hold several).
        n_bootstrap: bootstrap resamples.
        seed: seed of the bootstrap.

    Raises:
        InputError: records at several ``a`` and no ``a`` given, or too few angles.
    """
    recs = list(records)
    if a is not None:
        recs = [r for r in recs if math.isclose(r.a, a, rel_tol=0, abs_tol=1e-12)]
    stretches = sorted({r.a for r in recs})
    if len(stretches) > 1:
        raise InputError(f"the records hold several stretches {stretches}; pass a= one of them")
    seeds = sorted({r.seed for r in recs})
    angles = sorted({r.g for r in recs})
    table = np.full((len(angles), len(seeds)), np.nan)
    for r in recs:
        value = r.metric(metric)
        if value is not None:
            table[angles.index(r.g), seeds.index(r.seed)] = value
    return locate_gc(angles, table, n_bootstrap=n_bootstrap, seed=seed)
