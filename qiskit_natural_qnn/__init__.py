"""qiskit-natural-qnn: naturally quantized neural networks as Qiskit circuits.

The top level holds what a user needs to build, train, evaluate, save and run a network; everything
else is imported from its subpackage (see CONTRIBUTING.md for the map):

* the model: :class:`NaturalQNN`, :class:`QuantizationSpec`, :class:`Stretch`, :class:`Measurement`,
  :class:`Neuron` (the specification is ``docs/model.md``);
* training and the fast path: :class:`TrainConfig`, :func:`fit`, :class:`History`, :func:`predict`,
  :func:`evaluate`, and the exact outcome law :func:`exact_distribution`;
* files: :func:`save_model`, :func:`load_model`;
* circuits on any Qiskit sampler: :func:`predict_on_sampler`, :func:`evaluate_on_sampler`
  (circuits themselves: :mod:`qiskit_natural_qnn.circuits`; named devices: :mod:`qiskit_natural_qnn.providers`);
* errors: every error derives from :class:`NaturalQNNError` and from the matching builtin.
"""

from __future__ import annotations

import logging

from qiskit_natural_qnn.exact import exact_distribution
from qiskit_natural_qnn.exceptions import (
    ConfigurationError,
    DamagedFileError,
    ExecutionError,
    InputError,
    NaturalQNNError,
)
from qiskit_natural_qnn.execution import evaluate_on_sampler, predict_on_sampler
from qiskit_natural_qnn.inference import evaluate, predict
from qiskit_natural_qnn.io import load_model, save_model
from qiskit_natural_qnn.network import NaturalQNN, QuantizationSpec
from qiskit_natural_qnn.neurons import Measurement, Neuron, Stretch
from qiskit_natural_qnn.training import History, TrainConfig, fit
from qiskit_natural_qnn.version import __version__

__all__ = [
    "ConfigurationError",
    "DamagedFileError",
    "ExecutionError",
    "History",
    "InputError",
    "Measurement",
    "NaturalQNN",
    "NaturalQNNError",
    "Neuron",
    "QuantizationSpec",
    "Stretch",
    "TrainConfig",
    "__version__",
    "evaluate",
    "evaluate_on_sampler",
    "exact_distribution",
    "fit",
    "load_model",
    "predict",
    "predict_on_sampler",
    "save_model",
]

# A library logs, an application decides where: quiet unless the application configures logging
# (``qnqnn -v`` does, through ``cli/options.py``).
logging.getLogger(__name__).addHandler(logging.NullHandler())
