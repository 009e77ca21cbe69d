"""qiskit-natural-qnn: naturally quantized neural networks as Qiskit circuits.

The public API is re-exported here, flat.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _version

from .exceptions import (
    CircuitNotExactError,
    ConfigurationError,
    DataError,
    DataNotFoundError,
    ExecutionError,
    InputError,
    ModelFileError,
    NaturalQNNError,
    TargetCapabilityError,
)
from .exact import exact_class_distribution, exact_distribution
from .fastpath import (
    SURROGATES,
    ForwardPass,
    StraightThrough,
    expected_slope,
    make_generator,
    sample_network,
    straight_through,
)
from .inference import Evaluation, Prediction, evaluate, majority_vote, predict
from .io import ModelMetadata, load_model, read_metadata, save_model
from .native import NATIVE_KINDS, L1RowConstraint, native_config, project_rows_l1_
from .network import NaturalQNN, QuantizationSpec
from .neurons import Measurement, Neuron, Stretch, activation_to_bit, outcome_to_activation
from .training import EpochRecord, History, TrainConfig, fit

__all__ = [
    "CircuitNotExactError",
    "ConfigurationError",
    "DataError",
    "DataNotFoundError",
    "EpochRecord",
    "Evaluation",
    "ExecutionError",
    "ForwardPass",
    "History",
    "InputError",
    "L1RowConstraint",
    "Measurement",
    "NATIVE_KINDS",
    "ModelFileError",
    "ModelMetadata",
    "NaturalQNN",
    "NaturalQNNError",
    "Neuron",
    "Prediction",
    "QuantizationSpec",
    "SURROGATES",
    "StraightThrough",
    "Stretch",
    "TargetCapabilityError",
    "TrainConfig",
    "__version__",
    "activation_to_bit",
    "evaluate",
    "exact_class_distribution",
    "exact_distribution",
    "expected_slope",
    "fit",
    "load_model",
    "majority_vote",
    "make_generator",
    "native_config",
    "outcome_to_activation",
    "predict",
    "project_rows_l1_",
    "read_metadata",
    "sample_network",
    "save_model",
    "straight_through",
]

try:
    __version__ = _version("qiskit-natural-qnn")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
