"""Experiments: sweeps over the stretch ``a`` and the entanglement angle ``g``, ``g_c``, figures.

The functions that reproduce PAPER.md section 6 (the U-shaped error versus ``a``, the collapse of
Method 2 below ``g_c``, the train/validation gap):

* :func:`grid_points`, :func:`run_sweep`, :func:`load_records`, :func:`aggregate`, :func:`import_run`
  (:mod:`.sweep`): resumable sweeps with one JSON :class:`PointRecord` per point;
* :func:`locate_gc` and :func:`locate_gc_from_records` (:mod:`.gc`): the critical angle with its
  uncertainty;
* :func:`plot_error_vs_a`, :func:`plot_error_vs_g`, :func:`plot_heatmap`, :func:`save_figure`
  (:mod:`.plots`, imported on first use: it loads Matplotlib).

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
    "run_sweep",
    *_PLOTS,
]


def __getattr__(name: str) -> Any:
    if name in _PLOTS:
        from qiskit_natural_qnn.experiments import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
