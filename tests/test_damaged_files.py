"""One error type for every damaged file the library reads: :class:`DamagedFileError`, naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from qiskit_natural_qnn import DamagedFileError, load_model
from qiskit_natural_qnn.data.idx import read_idx
from qiskit_natural_qnn.execution.records import RunRecord
from qiskit_natural_qnn.experiments.sweep import PointRecord
from qiskit_natural_qnn.io import read_metadata
from qiskit_natural_qnn.training import History
from qiskit_natural_qnn.training.checkpoint import CHECKPOINT_FILE, read_checkpoint

READERS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "model file": ("model.safetensors", load_model),
    "model metadata": ("model.safetensors", read_metadata),
    "checkpoint": (CHECKPOINT_FILE, lambda p: read_checkpoint(p.parent)),
    "history": ("history.json", History.from_json),
    "run record": ("run.json", RunRecord),
    "sweep record": ("point.json", PointRecord.from_json),
    "IDX file": ("images.idx3-ubyte", read_idx),
}

CONTENTS = {
    "binary garbage": bytes(range(256)) * 4,
    "empty": b"",
    "truncated JSON": b'{"format": ',
    "deep nesting": b"[" * 5000 + b"]" * 5000,
    "wrong JSON type": b"[1, 2, 3]",
}


@pytest.mark.parametrize("content", sorted(CONTENTS))
@pytest.mark.parametrize("reader", sorted(READERS))
def test_every_reader_refuses_a_damaged_file_with_one_error_type(tmp_path, reader: str, content: str) -> None:
    name, read = READERS[reader]
    path = tmp_path / name
    path.write_bytes(CONTENTS[content])
    with pytest.raises(DamagedFileError) as info:
        read(path)
    assert name in str(info.value) or str(tmp_path) in str(info.value), str(info.value)
