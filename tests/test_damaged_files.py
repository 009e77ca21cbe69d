"""One error type for every damaged file the library reads: :class:`DamagedFileError`, naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from qiskit_natural_qnn import DamagedFileError, load_model
from qiskit_natural_qnn.data.idx import read_idx
from qiskit_natural_qnn.execution.records import RunRecord, read_results_archive
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
    "results archive": ("h1_0.npz", lambda p: read_results_archive(p, "digest")),
}

CONTENTS = {
    "binary garbage": bytes(range(256)) * 4,
    "empty": b"",
    "truncated JSON": b'{"format": ',
    "deep nesting": b"[" * 5000 + b"]" * 5000,
    "wrong JSON type": b"[1, 2, 3]",
    "5000-digit number": b'{"format": ' + b"9" * 5000 + b"}",
    "NaN and infinity": b'{"format": NaN, "a": Infinity, "g": 1e999}',
    "nesting just past the limit": b'{"x": ' + b"[" * 65 + b"]" * 65 + b"}",
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


def test_a_results_folder_that_is_a_file_is_refused(tmp_path) -> None:
    (tmp_path / "run.json.results").write_bytes(b"not a folder")
    with pytest.raises(DamagedFileError, match=r"the results folder '.*run\.json\.results' of run record"):
        RunRecord(tmp_path / "run.json")
