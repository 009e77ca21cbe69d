r"""Stochastic forward passes drawn by any Qiskit ``BaseSamplerV2``, one hidden layer at a time.

This is the hardware protocol of the follow-up paper (arXiv:2507.21222), run by the library's one
layer-by-layer implementation, :class:`qiskit_natural_qnn.execution.LayerwiseExecutor`: each hidden
layer runs as its own circuit (:func:`qiskit_natural_qnn.circuits.layer_circuit`: ``RY`` per
neuron, then a projective measurement, or for Method 2 an ``RZY(g)`` readout through an ancilla,
into classical register ``h{k}``), and the host computes the next layer's angles from the measured
bits (:mod:`qiskit_natural_qnn.circuits.angles`, which asks :mod:`qiskit_natural_qnn.neurons`). After
a weak measurement the neuron is left in a pure state that the host knows exactly, so the next
layer's circuit re-prepares it on a fresh qubit; this is exact and follows the network's
``weak_update`` rule.

A batch of ``n`` rows costs one sampler job per hidden layer: layer 1 runs one parameter set per row
(with ``shots`` shots when given), every later layer one parameter set per pass.

Randomness: every job gets its own simulator seed (see :mod:`qiskit_natural_qnn.execution.samplers`).
The seeds of call ``i`` derive from a stream started from the sampler's own fixed seed (e.g.
``qiskit_aer.primitives.SamplerV2(seed=1)``), or from fresh entropy for an unseeded sampler, so a
seeded sampler is reproducible call after call while no two jobs share random numbers. Unknown
sampler classes cannot be seeded from outside and must draw fresh randomness per job themselves.

A layer of ``N`` neurons is an ``N``-qubit circuit (``2N`` with ancillas), but its qubits are never
entangled with one another, so Aer samplers whose method is unset run layer circuits with
``matrix_product_state``, which simulates any width.

Example:
    >>> import numpy as np, torch
    >>> from qiskit.primitives import StatevectorSampler
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[3, 2, 2, 2], a=0.5, g=0.7, seed=0)
    >>> draw = LayerwiseSamplerForward(net, StatevectorSampler(seed=np.random.default_rng(0)))
    >>> fp = draw.forward_pass(torch.rand(5, 3))
    >>> fp.logits.shape, [tuple(d.shape) for d in fp.activations]
    (torch.Size([5, 2]), [(5, 2), (5, 2)])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from qiskit.primitives import BaseSamplerV2

from qiskit_natural_qnn.circuits.layers import LayerCircuit
from qiskit_natural_qnn.decode import activation_tensor
from qiskit_natural_qnn.execution.layerwise import LayerwiseExecutor
from qiskit_natural_qnn.execution.samplers import check_sampler, resolve_run_seed, sampler_kind
from qiskit_natural_qnn.fastpath import ForwardPass
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.view import network_view

__all__ = ["LayerwiseSamplerForward"]


class LayerwiseSamplerForward:
    """Draws forward passes of a network through a sampler, layer by layer, with host feedforward.

    Args:
        model: the :class:`~qiskit_natural_qnn.network.NaturalQNN` (architecture, spec, and the
            default weights).
        sampler: any ``BaseSamplerV2`` (Aer, ``StatevectorSampler``, IBM Runtime, ...).
        pass_manager: optional pass manager that maps each layer circuit to the sampler's target
            (e.g. ``generate_preset_pass_manager(backend=backend, optimization_level=1)``); each
            circuit is transpiled once and then reused. None: IBM Runtime and Backend samplers get a
            preset pass manager for their backend; simulators run the circuits as built, with the
            ``rzy`` gate spelled in standard gates.

    Raises:
        ConfigurationError: ``sampler`` is not a ``BaseSamplerV2``.
    """

    def __init__(self, model: NaturalQNN, sampler: BaseSamplerV2, *, pass_manager: Any | None = None) -> None:
        check_sampler(sampler)
        self.model = model
        self.sampler = sampler
        self.executor = LayerwiseExecutor(model, sampler, pass_manager=pass_manager, copies=1)
        self.pass_manager = self.executor.pass_manager
        own = getattr(sampler, "seed", None) if sampler_kind(sampler) in ("aer", "statevector") else None
        self._seeds = np.random.default_rng(resolve_run_seed(None, sampler) if own is not None else None)

    def circuit(self, layer: int) -> LayerCircuit:
        """The (transpiled) circuit of hidden layer ``layer`` (1-based), built once per spec."""
        return self.executor.circuit(layer, 1)

    def forward_pass(
        self,
        x: torch.Tensor,
        weights: Sequence[torch.Tensor] | None = None,
        biases: Sequence[torch.Tensor | None] | None = None,
        *,
        shots: int | None = None,
    ) -> ForwardPass:
        """One stochastic pass per row of ``x`` (per row and shot when ``shots`` is given).

        The same contract as :func:`~qiskit_natural_qnn.fastpath.sample_network`, without
        gradients: the host computes every pre-activation ``z`` and angle, the sampler draws the bits.

        Args:
            x: inputs, shape ``(*batch, n_inputs)``, a tensor in the weights' dtype and device.
            weights: ``[W_1, ..., W_L, W_out]``; None for the model's own.
            biases: one bias (or None) per weight; None for the model's own.
            shots: if given, every output gains a leading ``shots`` dimension.

        Returns:
            The logits and every hidden layer's pre-activations and sampled activations.

        Raises:
            ExecutionError: a sampler job fails or its result cannot be decoded.
        """
        weights = self.model.weights() if weights is None else list(weights)
        biases = self.model.biases() if biases is None else list(biases)
        view = network_view(self.model, weights=weights, biases=biases)  # what the host feedforward reads
        batch = tuple(x.shape[:-1])
        n_shots = 1 if shots is None else int(shots)
        with torch.no_grad():
            rows = x.reshape(-1, x.shape[-1])
            run = self.executor.run(rows, shots=n_shots, seed=int(self._seeds.integers(0, 2**63 - 1)), model=view)
            lead = batch if shots is None else (n_shots, *batch)
            h = x if shots is None else x.unsqueeze(0).expand(n_shots, *x.shape)
            pre: list[torch.Tensor] = []
            acts: list[torch.Tensor] = []
            for k, bits in enumerate(run.bits):
                z = torch.nn.functional.linear(h, weights[k], biases[k])
                d = activation_tensor(bits.transpose(1, 0, 2) if shots is not None else bits[:, 0, :], like=z)
                d = d.reshape(*lead, -1)
                pre.append(z)
                acts.append(d)
                h = d
            logits = torch.nn.functional.linear(h, weights[-1], biases[-1])
        return ForwardPass(logits=logits, preactivations=pre, activations=acts)
