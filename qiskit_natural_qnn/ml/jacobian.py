r"""Per-sample Jacobians of a surrogate pseudo-gradient, for a fixed stochastic pass.

qiskit-machine-learning's ``NeuralNetwork.backward`` must return full Jacobians: of the logits with
respect to the inputs, shape ``(batch, n_outputs, n_inputs)``, and with respect to the flat weight
vector, shape ``(batch, n_outputs, num_weights)``. :class:`~qiskit_machine_learning.connectors.TorchConnector`
contracts them with the upstream gradient. This module computes them in closed form from the
pass's sampled activations ``d_k`` and its surrogate slopes :math:`s_k = \partial d_k/\partial z_k`
(:meth:`Surrogate.slope <qiskit_natural_qnn.surrogates.Surrogate.slope>`: the masks
:math:`\mathbb{1}[-1 < z_k < 1]` of the paper's straight-through estimator, or the derivative of the
expected activation); nothing is resampled.

With :math:`h_0 = x`, :math:`z_k = W_k h_{k-1} + b_k`, :math:`h_k = d_k` and logits
:math:`y = W_{out} h_L + b_{out}`, the surrogate rule :math:`\partial d_k/\partial z_k := s_k`
(``docs/model.md``, "Training"; the same rule as the module's own backward) gives, for output ``o``,

.. math::
    g_{L+1} = e_o, \quad
    \frac{\partial y_o}{\partial W_k} = g_k\, h_{k-1}^\top, \quad
    \frac{\partial y_o}{\partial b_k} = g_k, \quad
    g_{k-1} = (W_k^\top g_k) \odot s_{k-1}, \quad
    \frac{\partial y_o}{\partial x} = W_1^\top g_1.

Memory is ``batch * n_outputs * num_weights`` numbers: the price of the ``NeuralNetwork`` contract
(the :class:`~qiskit_natural_qnn.network.NaturalQNN` module path never builds it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["ste_jacobians"]


def ste_jacobians(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor | None],
    activations: Sequence[torch.Tensor],
    slopes: Sequence[torch.Tensor],
    *,
    input_gradients: bool = True,
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Jacobians of one batch of stochastic passes under a surrogate pseudo-gradient.

    Args:
        x: inputs, shape ``(batch, n_inputs)``.
        weights: ``[W_1, ..., W_L, W_out]``, each ``(fan_out, fan_in)``.
        biases: one bias (or None) per weight.
        activations: the sampled ``d_k`` in ``{+1, -1}``, each ``(batch, width_k)``.
        slopes: the surrogate's ``d d_k / d z_k`` per hidden layer, each ``(batch, width_k)`` (a 0/1 or
            bool mask ``-1 < z_k < 1`` for the paper's straight-through estimator).
        input_gradients: also return the input Jacobian.

    Returns:
        ``(input_jacobian, weight_jacobian)``: shapes ``(batch, n_outputs, n_inputs)`` (None when
        ``input_gradients`` is False) and ``(batch, n_outputs, num_weights)``, the weight axis in
        the flat order of :mod:`qiskit_natural_qnn.ml.weights`.

    Example:
        >>> import torch
        >>> w = [torch.tensor([[0.5, -2.0]]), torch.tensor([[3.0]])]
        >>> jx, jw = ste_jacobians(torch.tensor([[1.0, 0.0]]), w, [None, None],
        ...                        [torch.tensor([[1.0]])], [torch.tensor([[True]])])
        >>> jw.tolist()  # d y / d (W_1[0,0], W_1[0,1], W_out[0,0]) = (3 * x_0, 3 * x_1, d)
        [[[3.0, 0.0, 1.0]]]
        >>> jx.tolist()  # W_1^T * 3
        [[[1.5, -6.0]]]
    """
    n = x.shape[0]
    n_out = weights[-1].shape[0]
    inputs = [x, *activations]
    sizes = [w.numel() + (0 if b is None else b.numel()) for w, b in zip(weights, biases)]
    offsets = [sum(sizes[:k]) for k in range(len(sizes))]
    jac_w = x.new_empty((n, n_out, sum(sizes)))
    jac_x: torch.Tensor | None = None
    # g: d y_o / d z_k for every sample and output o, shape (n, n_out, fan_out_k).
    g = torch.eye(n_out, dtype=x.dtype, device=x.device).expand(n, n_out, n_out)
    for k in range(len(weights) - 1, -1, -1):
        w, b, h = weights[k], biases[k], inputs[k]
        fan_out, fan_in = w.shape
        start = offsets[k]
        block = jac_w[:, :, start : start + fan_out * fan_in].unflatten(-1, (fan_out, fan_in))
        torch.mul(g.unsqueeze(-1), h[:, None, None, :].to(x.dtype), out=block)
        if b is not None:
            jac_w[:, :, start + fan_out * fan_in : start + sizes[k]] = g
        if k > 0:
            g = (g @ w) * slopes[k - 1][:, None, :].to(x.dtype)
        elif input_gradients:
            jac_x = g @ w
    return jac_x, jac_w
