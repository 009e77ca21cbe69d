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
from .fastpath import ForwardPass, StraightThrough, make_generator, sample_network, straight_through
from .inference import Evaluation, Prediction, evaluate, majority_vote, predict
from .io import ModelMetadata, load_model, read_metadata, save_model
from .network import NaturalQNN, QuantizationSpec
from .training import EpochRecord, History, TrainConfig, fit
from .neurons import Measurement, Neuron, Stretch, activation_to_bit, outcome_to_activation

try:
    __version__ = _version("qiskit-natural-qnn")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
