"""Reading and writing files: model files (:mod:`.model_files`), the atomic writer and path checks (:mod:`.files`)."""

from __future__ import annotations

from qiskit_natural_qnn.io.files import check_output_path, remove_stale_temporaries, safe_output_path, write_atomic
from qiskit_natural_qnn.io.model_files import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ModelMetadata,
    load_model,
    read_metadata,
    save_model,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelMetadata",
    "check_output_path",
    "load_model",
    "read_metadata",
    "remove_stale_temporaries",
    "safe_output_path",
    "save_model",
    "write_atomic",
]
