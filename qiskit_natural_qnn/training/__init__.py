"""Training with the straight-through estimator: the recipe (:class:`TrainConfig`), the loop
(:func:`fit`) and resumable checkpoints (:mod:`~qiskit_natural_qnn.training.checkpoint`).
"""

from __future__ import annotations

from qiskit_natural_qnn.training.loop import (
    SCHEDULES,
    EpochRecord,
    History,
    TrainConfig,
    add_recipe_options,
    fit,
    recipe_options,
)

__all__ = ["SCHEDULES", "EpochRecord", "History", "TrainConfig", "add_recipe_options", "fit", "recipe_options"]
