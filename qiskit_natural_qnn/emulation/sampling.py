r"""One hidden layer's exact noisy laws as tensors, and the fast path's draw from them.

A :class:`LayerLaw` holds, for every packed copy of a layer circuit, the laws of its clusters
(:mod:`.laws`): a neuron alone (Method 1; Method 2 with its ancilla) or two neurons joined by ``CZ``
identity pairs. Every copy must split its neurons the same way. The fast path gives it, per row of
work, the circuit angle of each neuron, the ideal ``P(d = +1)`` it computed, its uniform ``u`` and
the copy the row runs on, and gets the activations back:

* a lone neuron: ``d = +1`` when ``u < p + (P_noisy(theta) - P_ideal(theta))``;
* a pair ``(a, b)``: ``a`` from its noisy marginal as above, then ``b`` from its noisy law given
  ``a``'s outcome, :math:`P(b \mid a) = P(a, b) / P(a)`, each written as the fast path's ideal
  probability plus (noisy minus ideal), with ``a``'s and ``b``'s own uniforms.

The corrections are evaluated in float64 from the coefficients of :mod:`.laws`. Without any error
in the noise model the noisy and ideal coefficients are the same numbers, every correction is
exactly ``0.0``, and the draws are those of the ideal fast path, bit for bit.

Example:
    >>> import torch
    >>> from qiskit.circuit import ClassicalRegister, ParameterVector, QuantumCircuit
    >>> from qiskit_natural_qnn.emulation.channels import NoiseChannels
    >>> theta, h = ParameterVector("theta1", 2), ClassicalRegister(2, "h1")
    >>> qc = QuantumCircuit(2)
    >>> qc.add_register(h)
    >>> _ = qc.ry(theta[0], 0), qc.ry(theta[1], 1), qc.measure([0, 1], h)
    >>> law = LayerLaw.from_circuit(qc, layer=1, angles=theta, register=h, copies=1, channels=NoiseChannels())
    >>> p, u = torch.tensor([[0.3, 0.9]]), torch.tensor([[0.5, 0.5]])
    >>> law.sample(torch.zeros(1, 2), p, u, torch.zeros(1, dtype=torch.long)).tolist()  # no noise: u < p
    [[-1.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from qiskit_natural_qnn.emulation.channels import NoiseChannels
from qiskit_natural_qnn.emulation.laws import ClusterLaw, circuit_laws, trig_basis
from qiskit_natural_qnn.exceptions import TargetCapabilityError
from qiskit_natural_qnn.fastpath import sample_sign

__all__ = ["LayerLaw"]

#: Below this probability of the first neuron's outcome, a pair's conditional law is taken as the
#: second neuron's marginal (an outcome that rare is drawn about once in 10**12 passes).
_TINY = 1e-12


def _pad(coef: np.ndarray, size: int) -> np.ndarray:
    """Coefficients ``(O, T, ..., T')`` padded with zeros to ``size`` on every angle axis (higher frequencies)."""
    widths = [(0, 0)] + [(0, size - t) for t in coef.shape[1:]]
    return np.pad(coef, widths)


class LayerLaw:
    """The exact noisy law of one hidden layer's (packed) circuit, ready for the fast path.

    Args:
        layer: the hidden layer, 1-based.
        width: neurons per copy.
        copies: copies of the layer circuit side by side (copy ``c`` holds slots ``c * width ...``).
        laws: the :class:`~.laws.ClusterLaw` of every cluster of the circuit.

    Raises:
        TargetCapabilityError: a cluster that holds neurons of two copies or more than two neurons,
            a neuron in no cluster, or copies whose neurons are grouped differently.
    """

    def __init__(self, *, layer: int, width: int, copies: int, laws: Sequence[ClusterLaw]) -> None:
        self.layer, self.width, self.copies = int(layer), int(width), int(copies)
        self.laws = tuple(laws)
        groups: list[dict[tuple[int, ...], ClusterLaw]] = [{} for _ in range(self.copies)]
        for law in self.laws:
            owners = {s // self.width for s in law.slots}
            neurons = tuple(s % self.width for s in law.slots)
            if len(owners) != 1 or len(neurons) > 2:
                raise TargetCapabilityError(
                    f"hidden layer {self.layer}: qubits {list(law.qubits)} join slots {list(law.slots)} (copies "
                    f"{sorted(owners)}); the emulation draws neurons of one copy alone or in pairs; place "
                    "neighbouring neurons on coupled qubits (the coupled layout) so that no routing joins more"
                )
            groups[owners.pop()][neurons] = law
        shape = sorted(groups[0])
        for c, group in enumerate(groups):
            if sorted(group) != shape or sorted(i for g in group for i in g) != list(range(self.width)):
                raise TargetCapabilityError(
                    f"hidden layer {self.layer}: copy {c} groups its neurons as {sorted(group)}, copy 0 as {shape} "
                    f"(every copy must hold each of its {self.width} neurons once, grouped alike); transpile "
                    "with the coupled layout"
                )
        singles = [g for g in shape if len(g) == 1]
        pairs = [g for g in shape if len(g) == 2]
        self.singles = torch.tensor([g[0] for g in singles], dtype=torch.long)
        self.pairs = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)
        t1 = max([1] + [2 * groups[c][g].degrees[0] + 1 for c in range(self.copies) for g in singles])
        t2 = max([1] + [2 * d + 1 for c in range(self.copies) for g in pairs for d in groups[c][g].degrees])
        delta = [
            [_pad(groups[c][g].noisy, t1)[0] - _pad(groups[c][g].ideal, t1)[0] for g in singles]
            for c in range(self.copies)
        ]
        self._delta = torch.tensor(np.asarray(delta, dtype=np.float64).reshape(self.copies, len(singles), t1))
        joint = [
            [[_pad(groups[c][g].noisy, t2), _pad(groups[c][g].ideal, t2)] for g in pairs] for c in range(self.copies)
        ]
        self._joint = torch.tensor(np.asarray(joint, dtype=np.float64).reshape(self.copies, len(pairs), 2, 4, t2, t2))
        self._degrees = ((t1 - 1) // 2, (t2 - 1) // 2)
        self._on: dict[str, tuple[torch.Tensor, ...]] = {}

    @classmethod
    def from_circuit(
        cls,
        circuit: Any,
        *,
        layer: int,
        copies: int,
        channels: NoiseChannels,
        angles: Any = None,
        register: Any = None,
    ) -> LayerLaw:
        """The law of a (transpiled, packed) layer circuit under ``channels`` (:func:`~.laws.circuit_laws`).

        Args:
            circuit: the layer circuit (hidden layer ``layer``), packed ``copies`` times, transpiled or not.
            layer: its hidden layer, 1-based.
            copies: copies side by side.
            channels: the noise model's channels.
            angles: its angle parameters in slot order (default: the circuit's parameters by index).
            register: its register ``h{layer}`` (default: the circuit's register of that name).

        Raises:
            TargetCapabilityError: a circuit outside the emulation (see :mod:`.laws`) or clusters this
                class refuses.
        """
        if angles is None:
            angles = sorted(circuit.parameters, key=lambda p: getattr(p, "index", 0))
        if register is None:
            named = [r for r in circuit.cregs if r.name == f"h{int(layer)}"]
            if not named:
                raise TargetCapabilityError(
                    f"circuit {circuit.name!r} has no register h{int(layer)} (registers: "
                    f"{[r.name for r in circuit.cregs]}); pass the layer's register as register="
                )
            register = named[0]
        laws = circuit_laws(circuit, angles=angles, register=register, channels=channels)
        return cls(layer=layer, width=len(angles) // int(copies), copies=copies, laws=laws)

    @property
    def is_exactly_ideal(self) -> bool:
        """True when every noisy coefficient equals its ideal one (a noise model without errors)."""
        return bool((self._delta == 0).all()) and bool((self._joint[:, :, 0] == self._joint[:, :, 1]).all())

    def probabilities(self, angles: np.ndarray, *, ideal: bool = False) -> list[tuple[tuple[int, ...], np.ndarray]]:
        """Each cluster's exact outcome probabilities at one parameter set ``angles`` ``(copies * width,)``.

        Returns:
            ``(slots, probabilities)`` per cluster: outcome ``o`` has bit ``h[slots[t]]`` in binary digit ``t``.
        """
        angles = np.asarray(angles, dtype=np.float64)
        return [(law.slots, law.probabilities(angles[list(law.slots)], ideal=ideal)) for law in self.laws]

    def _tensors(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        key = str(device)
        if key not in self._on:
            self._on[key] = tuple(t.to(device) for t in (self.singles, self.pairs, self._delta, self._joint))
        return self._on[key]

    def sample(self, angle: torch.Tensor, p_plus: torch.Tensor, u: torch.Tensor, copy: torch.Tensor) -> torch.Tensor:
        """The activations ``(rows, width)`` drawn on the device (see the module docstring).

        Args:
            angle: the circuit angles ``(rows, width)``.
            p_plus: the ideal ``P(d = +1)`` ``(rows, width)``.
            u: the uniforms ``(rows, width)``.
            copy: the copy each row runs on, ``(rows,)`` int64 in ``[0, copies)``.
        """
        singles, pairs, delta, joint = self._tensors(angle.device)
        d = torch.empty_like(p_plus)
        theta = angle.to(torch.float64)
        if singles.numel():
            basis = trig_basis(theta[:, singles], self._degrees[0])  # (rows, n1, T)
            correction = (delta[copy] * basis).sum(-1)
            d[:, singles] = sample_sign(p_plus[:, singles] + correction.to(p_plus.dtype), u[:, singles])
        if pairs.numel():
            a, b = pairs[:, 0], pairs[:, 1]
            ba = trig_basis(theta[:, a], self._degrees[1])
            bb = trig_basis(theta[:, b], self._degrees[1])
            law = torch.einsum("rgkost,rgs,rgt->rgko", joint[copy], ba, bb)  # (rows, n2, noisy|ideal, 4)
            p_a = law[..., 0] + law[..., 2]  # P(a's bit 0): outcome o = bit_a + 2 bit_b
            d_a = sample_sign(p_plus[:, a] + (p_a[..., 0] - p_a[..., 1]).to(p_plus.dtype), u[:, a])
            one = (d_a < 0).unsqueeze(-1)  # a's bit, per noisy|ideal
            both_zero = torch.where(one, law[..., 1], law[..., 0])
            given = torch.where(one, law[..., 1] + law[..., 3], p_a)
            marginal_b = law[..., 0] + law[..., 1]
            cond = torch.where(given > _TINY, both_zero / given.clamp_min(_TINY), marginal_b)
            d[:, a] = d_a
            d[:, b] = sample_sign(p_plus[:, b] + (cond[..., 0] - cond[..., 1]).to(p_plus.dtype), u[:, b])
        return d
