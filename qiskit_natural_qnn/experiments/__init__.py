"""Experiments: sweeps over the stretch ``a`` and the entanglement angle ``g``, ``g_c``, figures, noise.

The functions that reproduce the paper's results (arXiv:2503.15482; ``docs/model.md``: the U-shaped
error versus ``a``, the collapse of Method 2 below ``g_c``, the train/validation gap):

* :func:`grid_points`, :func:`run_sweep`, :func:`load_records`, :func:`aggregate`, :func:`import_run`
  (:mod:`.sweep`): resumable sweeps with one JSON :class:`PointRecord` per point;
* :func:`locate_gc` and :func:`locate_gc_from_records` (:mod:`.gc`): the critical angle with its
  uncertainty;
* :func:`plot_error_vs_a`, :func:`plot_error_vs_g`, :func:`plot_heatmap`, :func:`save_figure`
  (:mod:`.plots`, imported on first use: it loads Matplotlib, the ``[plot]`` extra).

The hardware follow-up (arXiv:2507.21222), on any sampler:

* :mod:`.noise`: protected identity pairs that amplify device noise, :func:`~.noise.noise_sweep`;
* :mod:`.cost`: :func:`~.cost.estimate_cost`, what a layer-by-layer run costs on a device;
* :mod:`.borderline`: images the classical network gets wrong and the quantum one right.

The command line is ``qnqnn sweep`` (:mod:`.cli`).
"""

from __future__ import annotations

from typing import Any

from qiskit_natural_qnn.experiments.gc import CriticalAngle, locate_gc, locate_gc_from_records
from qiskit_natural_qnn.experiments.sweep import (
    METHODS,
    METRICS,
    Aggregate,
    PointRecord,
    SweepPoint,
    SweepSettings,
    aggregate,
    best_by_method,
    grid_points,
    import_run,
    load_records,
    method_of,
    run_point,
    run_points_together,
    run_sweep,
)

_PLOTS = ("plot_error_vs_a", "plot_error_vs_g", "plot_heatmap", "save_figure")

__all__ = [
    "METHODS",
    "METRICS",
    "Aggregate",
    "CriticalAngle",
    "PointRecord",
    "SweepPoint",
    "SweepSettings",
    "aggregate",
    "best_by_method",
    "grid_points",
    "import_run",
    "load_records",
    "locate_gc",
    "locate_gc_from_records",
    "method_of",
    "run_point",
    "run_points_together",
    "run_sweep",
    *_PLOTS,
]


def __getattr__(name: str) -> Any:
    if name in _PLOTS:
        from qiskit_natural_qnn.experiments import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
