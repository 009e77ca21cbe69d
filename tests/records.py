"""Sweep records with made-up numbers, for tests and for the doctests of :mod:`qiskit_natural_qnn.experiments`
(``conftest.py`` puts :func:`fake_record` in every doctest's namespace)."""

from __future__ import annotations

import math
from typing import Any

from qiskit_natural_qnn.experiments.sweep import PointRecord, SweepSettings

_HALF_PI = math.pi / 2


def fake_record(
    *, a: float = 0.0, g: float = _HALF_PI, seed: int = 0, val_vote_error: float = 0.1, **kw: Any
) -> PointRecord:
    """A record with made-up numbers, for examples and tests."""
    fields: dict[str, Any] = {
        "layer_sizes": [784, 16, 10],
        "settings": SweepSettings(hidden=(16,)).to_dict(),
        "data": {"source": "fake", "train": "t", "n_train": 1, "validation": "v", "n_validation": 1},
        "val_single_shot_error": val_vote_error,
        "train_error": 0.0,
        "train_single_shot_error": 0.0,
        "train_vote_error": 0.0,
        "seconds": 1.0,
        "version": "test",
        "device": "cpu",
        "finished_at": "2026-01-01T00:00:00+00:00",
        "history": {},
    }
    fields.update(kw)
    return PointRecord(a=a, g=g, seed=seed, val_vote_error=val_vote_error, **fields)


def comparable(record: PointRecord) -> dict[str, Any]:
    """A record without what depends on when and where it ran (seconds, times, host), to compare two runs."""
    doc = record.to_dict()
    for name in ("seconds", "finished_at", "host"):
        doc.pop(name)
    doc["history"] = {k: v for k, v in doc["history"].items() if k not in ("created_at", "finished_at")}
    doc["history"]["records"] = [{k: v for k, v in r.items() if k != "seconds"} for r in doc["history"]["records"]]
    return doc
