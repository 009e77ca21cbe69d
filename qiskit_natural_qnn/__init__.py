"""qiskit-natural-qnn: naturally quantized neural networks as Qiskit circuits.

The public API is re-exported here, flat.
"""

from __future__ import annotations

from qiskit_natural_qnn.exact import exact_class_distribution, exact_distribution
from qiskit_natural_qnn.exceptions import (
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
from qiskit_natural_qnn.fastpath import (
    SURROGATES,
    ForwardPass,
    StraightThrough,
    expected_slope,
    make_generator,
    sample_network,
    straight_through,
)
from qiskit_natural_qnn.inference import Evaluation, Prediction, evaluate, majority_vote, predict
from qiskit_natural_qnn.io import ModelMetadata, load_model, read_metadata, save_model
from qiskit_natural_qnn.native import NATIVE_KINDS, L1RowConstraint, native_config, project_rows_l1_
from qiskit_natural_qnn.network import NaturalQNN, QuantizationSpec
from qiskit_natural_qnn.neurons import Measurement, Neuron, Stretch, activation_to_bit, outcome_to_activation
from qiskit_natural_qnn.training import EpochRecord, History, TrainConfig, fit
from qiskit_natural_qnn.version import __version__

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
