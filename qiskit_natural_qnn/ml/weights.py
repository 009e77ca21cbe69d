"""The flat weight vector of a :class:`~qiskit_natural_qnn.network.NaturalQNN`.

qiskit-machine-learning's :class:`~qiskit_machine_learning.neural_networks.NeuralNetwork` (and so
:class:`~qiskit_machine_learning.connectors.TorchConnector`) sees the weights as one flat vector. Its
order is fixed here, once: the model's parameters in :meth:`torch.nn.Module.parameters` order --
``W_1``, ``b_1`` (if the model has biases), ``W_2``, ``b_2``, ..., ``W_out``, ``b_out`` -- each
matrix of shape ``(fan_out, fan_in)`` flattened row-major. It is the order of
:func:`torch.nn.utils.parameters_to_vector`, so ``W_k[i, j]`` sits at
``offset_k + i * fan_in + j``.

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[3, 2, 2], seed=0)
    >>> vec = flatten_weights(net)
    >>> vec.shape, vec.dtype
    ((10,), dtype('float64'))
    >>> bool(vec[0] == net.layers[0].weight[0, 0])
    True
    >>> [name for name, _ in weight_layout(net)]
    ['layers.0.weight', 'layers.1.weight']
"""

from __future__ import annotations

import numpy as np
import torch

from qiskit_natural_qnn.exceptions import InputError
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.view import ArrayLike

__all__ = ["weight_layout", "num_weights", "weight_vector", "flatten_weights", "unflatten_weights", "load_weights"]


def weight_layout(model: NaturalQNN) -> list[tuple[str, tuple[int, ...]]]:
    """The ``(name, shape)`` of each parameter in flat-vector order.

    Args:
        model: the network.

    Returns:
        One ``(name, shape)`` pair per parameter, as in ``model.named_parameters()``.
    """
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


def num_weights(model: NaturalQNN) -> int:
    """The length of the flat weight vector (every weight and bias of ``model``)."""
    return sum(p.numel() for p in model.parameters())


def flatten_weights(model: NaturalQNN) -> np.ndarray:
    """The model's parameters as one flat float64 NumPy vector, in the documented order.

    Args:
        model: the network.

    Returns:
        A new array of shape ``(num_weights(model),)``.
    """
    with torch.no_grad():
        vec = torch.nn.utils.parameters_to_vector(model.parameters())
    return vec.detach().cpu().to(torch.float64).numpy().copy()


def weight_vector(model: NaturalQNN, weights: ArrayLike) -> np.ndarray:
    """Check a flat weight vector for ``model`` and return it as a float64 NumPy vector.

    Args:
        model: the network whose architecture fixes the length.
        weights: a NumPy array, list or tensor of ``num_weights(model)`` values (any shape).

    Returns:
        The values, flattened, as float64 (a view when ``weights`` already is one).

    Raises:
        InputError: wrong length, non-numeric or non-finite values.
    """
    expected = num_weights(model)
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().to(torch.float64).numpy()
    try:
        vec = np.asarray(weights, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(
            f"weights must be a numeric vector of {expected} values, got {type(weights).__name__}; "
            "pass e.g. flatten_weights(model) or TorchConnector.weight"
        ) from None
    if vec.size != expected:
        raise InputError(
            f"weights must hold {expected} values (every weight and bias of a "
            f"{list(model.layer_sizes)} network), got {vec.size}; pass a vector built by "
            "flatten_weights(model) for this architecture"
        )
    if not np.isfinite(vec).all():
        raise InputError(
            "weights contain NaN or infinity (training diverged?); lower the learning rate or restart "
            "from finite weights"
        )
    return vec


def _as_vector(model: NaturalQNN, weights: ArrayLike) -> torch.Tensor:
    ref = next(model.parameters())
    return torch.as_tensor(weight_vector(model, weights)).to(device=ref.device, dtype=ref.dtype)


def unflatten_weights(model: NaturalQNN, weights: ArrayLike) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
    """Split a flat vector into per-layer weight matrices and biases shaped like ``model``'s.

    The tensors are new (views of one converted vector), on the model's device and in its dtype;
    the model itself is not changed.

    Args:
        model: the network whose architecture gives the shapes.
        weights: a flat vector (NumPy array, list or tensor) of ``num_weights(model)`` values.

    Returns:
        ``(weights, biases)``: ``[W_1, ..., W_out]`` and one bias (or None) per layer, as taken by
        :func:`~qiskit_natural_qnn.fastpath.sample_network`.

    Raises:
        InputError: wrong length, non-numeric or non-finite values.
    """
    vec = _as_vector(model, weights)
    mats: list[torch.Tensor] = []
    biases: list[torch.Tensor | None] = []
    offset = 0
    for w, b in zip(model.weights(), model.biases()):
        mats.append(vec[offset : offset + w.numel()].view_as(w))
        offset += w.numel()
        if b is None:
            biases.append(None)
        else:
            biases.append(vec[offset : offset + b.numel()].view_as(b))
            offset += b.numel()
    return mats, biases


def load_weights(model: NaturalQNN, weights: ArrayLike) -> NaturalQNN:
    """Copy a flat weight vector into ``model``'s parameters, in place.

    Use it to get a trained network back from a
    :class:`~qiskit_machine_learning.connectors.TorchConnector`:
    ``load_weights(model, connector.weight)``.

    Args:
        model: the network to update.
        weights: a flat vector of ``num_weights(model)`` values (NumPy array, list or tensor).

    Returns:
        ``model`` itself.

    Raises:
        InputError: wrong length, non-numeric or non-finite values.
    """
    vec = _as_vector(model, weights)
    offset = 0
    with torch.no_grad():
        for p in model.parameters():  # copy_, so the model never shares memory with ``weights``
            p.copy_(vec[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
    return model
