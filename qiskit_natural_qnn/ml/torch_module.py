"""The two PyTorch faces of a natural QNN: the plain ``nn.Module`` and a ready ``TorchConnector``.

* :data:`NaturalQNNModule` is :class:`~qiskit_natural_qnn.network.NaturalQNN` itself (one class, two
  names): an ``nn.Module`` with named parameters, ``state_dict`` and ``.to(device)``, whose
  ``forward`` keeps every leading batch dimension, ``(*batch, n_inputs) -> (*batch, n_classes)``.
  It needs no qiskit-machine-learning and never builds Jacobians, so it is the fast choice for large
  networks.
* :func:`torch_connector` wraps a model as a
  :class:`~qiskit_natural_qnn.ml.neural_network.NaturalQNNNetwork` inside a
  :class:`NaturalQNNConnector`, qiskit-machine-learning's ``TorchConnector`` started from the
  model's own weights.

``TorchConnector`` itself (qiskit-machine-learning 0.9) back-propagates correct input gradients only
for inputs of shape ``(batch, n_inputs)`` or ``(n_inputs,)``: with more leading dimensions its
``einsum`` reads the second batch axis as an output axis and sums the wrong terms (the weight
gradients stay right). :class:`NaturalQNNConnector` flattens the leading dimensions before the
network and restores them after, so ``(*batch, n_inputs) -> (*batch, n_classes)`` with correct
gradients. With a plain ``TorchConnector``, flatten the inputs yourself.

Both give the same outputs and gradients for the same seed and weights.

Example:
    >>> import torch
    >>> model = NaturalQNNModule(layer_sizes=[4, 3, 3, 2], a=0.5, seed=1)
    >>> model(torch.zeros(2, 5, 4)).shape  # leading batch dimensions are kept
    torch.Size([2, 5, 2])
    >>> layer = torch_connector(model, seed=7)
    >>> layer(torch.zeros(2, 5, 4)).shape
    torch.Size([2, 5, 2])
    >>> trained = layer.neural_network.to_model(layer.weight)  # a NaturalQNN with the connector's weights
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit.primitives import BaseSamplerV2
from qiskit_machine_learning.connectors import TorchConnector
from torch import Tensor

from qiskit_natural_qnn.ml.neural_network import NaturalQNNNetwork
from qiskit_natural_qnn.network import NaturalQNN

__all__ = ["NaturalQNNModule", "NaturalQNNConnector", "torch_connector"]

#: The ``torch.nn.Module`` form of a natural QNN: the same class as
#: :class:`~qiskit_natural_qnn.network.NaturalQNN`.
NaturalQNNModule = NaturalQNN


class NaturalQNNConnector(TorchConnector):
    """A ``TorchConnector`` that keeps any leading batch dimensions, with correct gradients.

    Same constructor as :class:`~qiskit_machine_learning.connectors.TorchConnector`. Inputs of
    shape ``(*batch, n_inputs)`` with more than one batch dimension are flattened to
    ``(prod(batch), n_inputs)`` for the network, and the output is reshaped to
    ``(*batch, *output_shape)``; other inputs go to ``TorchConnector`` unchanged.
    """

    def forward(self, input_data: Tensor | None = None) -> Tensor:
        """Run the network on ``input_data`` of shape ``(*batch, n_inputs)``.

        Args:
            input_data: the inputs (None: an empty input, as in ``TorchConnector``).

        Returns:
            The outputs, shape ``(*batch, *output_shape)``.
        """
        if input_data is None or input_data.ndim <= 2:
            return super().forward(input_data)
        lead = input_data.shape[:-1]
        out = super().forward(input_data.reshape(-1, input_data.shape[-1]))
        return out.reshape(*lead, *out.shape[1:])


def torch_connector(
    model: NaturalQNN,
    *,
    sampler: BaseSamplerV2 | None = None,
    shots: int = 1,
    seed: int | np.random.Generator | None = None,
    input_gradients: bool = True,
    pass_manager: Any | None = None,
) -> NaturalQNNConnector:
    """Wrap ``model`` for PyTorch through qiskit-machine-learning's ``TorchConnector``.

    Equivalent to ``NaturalQNNConnector(net, initial_weights=net.initial_weights)`` with
    ``net = NaturalQNNNetwork(model, ...)``. The connector owns its weights (``connector.weight``,
    float32, the flat order of :mod:`qiskit_natural_qnn.ml.weights`); training does not change
    ``model``. Get the trained network with ``connector.neural_network.to_model(connector.weight)``.

    Starting from the model's weights matters: ``TorchConnector``'s default initial weights (uniform
    in ``[-1, 1]``) put most pre-activations outside ``(-1, 1)``, where the straight-through
    gradient is zero. Train with a first-order optimiser on mini-batches, e.g.
    ``torch.optim.Adam(params, lr=3e-3)`` or ``torch.optim.SGD(params, lr=0.01, momentum=0.9)``
    (the paper's recipe), not ``torch.optim.LBFGS`` as in qiskit-machine-learning's tutorials: each
    forward pass draws new outcomes, which L-BFGS's curvature estimates do not expect (with the
    default weights it diverged, loss 0.43 -> 1556; docs/ml.md).

    Args:
        model: the network; its current parameters become the connector's initial weights.
        sampler: None for the fast path, or any ``BaseSamplerV2`` for layer circuits.
        shots: stochastic passes averaged per input row.
        seed: the fast path's random stream (None shares the model's stream).
        input_gradients: pass gradients to the inputs (keep True behind a trainable front end).
        pass_manager: maps the layer circuits to the sampler's target.

    Returns:
        The connector (a ``TorchConnector``, so an ``nn.Module``):
        ``(*batch, n_inputs) -> (*batch, n_classes)``.

    Raises:
        ConfigurationError: see :class:`~qiskit_natural_qnn.ml.neural_network.NaturalQNNNetwork`.
    """
    network = NaturalQNNNetwork(
        model,
        sampler=sampler,
        shots=shots,
        seed=seed,
        input_gradients=input_gradients,
        pass_manager=pass_manager,
    )
    return NaturalQNNConnector(network, initial_weights=network.initial_weights)
