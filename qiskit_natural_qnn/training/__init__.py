"""Training with the straight-through estimator: the recipe, the loop and resumable checkpoints.

:class:`TrainConfig` is the recipe, :func:`fit` the loop, :func:`fit_ensemble` many networks of one
shape trained at once (each as its own ``fit`` would), :mod:`~qiskit_natural_qnn.training.checkpoint`
the checkpoints. The command line's recipe options (``--lr``, ``--batch-size``...) live in
:mod:`qiskit_natural_qnn.cli.options`.
"""

from __future__ import annotations

from qiskit_natural_qnn.training.ensemble import fit_ensemble
from qiskit_natural_qnn.training.loop import SCHEDULES, EpochRecord, History, TrainConfig, fit

__all__ = ["SCHEDULES", "EpochRecord", "History", "TrainConfig", "fit", "fit_ensemble"]
