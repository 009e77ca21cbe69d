"""Natural QNNs for PyTorch users and for qiskit-machine-learning's ``TorchConnector``.

* :class:`NaturalQNNNetwork` -- a qiskit-machine-learning ``NeuralNetwork``: stochastic forward
  passes (fast path or any ``BaseSamplerV2``) and the backward of those very passes under the model's
  surrogate (:mod:`qiskit_natural_qnn.surrogates`).
* :func:`torch_connector` -- that network inside a ``TorchConnector`` (:class:`NaturalQNNConnector`,
  which also keeps several leading batch dimensions) started from the model's weights.
* :data:`NaturalQNNModule` -- the plain ``torch.nn.Module`` (the same class as ``NaturalQNN``).
* :mod:`~qiskit_natural_qnn.ml.weights` -- the flat weight vector and back.
* :class:`LayerwiseSamplerForward` -- passes drawn layer by layer on a sampler, with host feedforward.

Train from the model's own initial weights (:func:`torch_connector`, or
``TorchConnector(network, initial_weights=network.initial_weights)``), not ``TorchConnector``'s
default uniform ``[-1, 1]`` draw, which leaves most pre-activations outside ``(-1, 1)`` where the
straight-through gradient is zero; and with a first-order optimiser on mini-batches (Adam,
``lr=3e-3``, or SGD with momentum 0.9, ``lr=0.01``), not ``LBFGS``: every forward pass draws new
outcomes, and L-BFGS's curvature estimates assume a deterministic loss (with ``TorchConnector``'s
default weights it diverged, loss 0.43 -> 1556). docs/ml.md has the measurements.
"""

from __future__ import annotations

from qiskit_natural_qnn.ml.jacobian import ste_jacobians
from qiskit_natural_qnn.ml.neural_network import NaturalQNNNetwork
from qiskit_natural_qnn.ml.sampler_forward import LayerwiseSamplerForward
from qiskit_natural_qnn.ml.torch_module import NaturalQNNConnector, NaturalQNNModule, torch_connector
from qiskit_natural_qnn.ml.weights import (
    flatten_weights,
    load_weights,
    num_weights,
    unflatten_weights,
    weight_layout,
    weight_vector,
)

__all__ = [
    "NaturalQNNNetwork",
    "NaturalQNNModule",
    "NaturalQNNConnector",
    "torch_connector",
    "LayerwiseSamplerForward",
    "ste_jacobians",
    "flatten_weights",
    "load_weights",
    "num_weights",
    "unflatten_weights",
    "weight_layout",
    "weight_vector",
]
