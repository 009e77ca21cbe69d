"""Reading and writing files: model files (:mod:`.model_files`) and the atomic writer (:mod:`.files`)."""

from __future__ import annotations

from qiskit_natural_qnn.io.files import write_atomic
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
    "load_model",
    "read_metadata",
    "save_model",
    "write_atomic",
]
