r"""Layer circuits: each hidden layer as its own parametrized circuit (host-side feedforward).

This is how the hardware follow-up ran the network: one circuit per hidden layer, the host computing
the next layer's angles from the measured bits. It is exact for every network
(``check_exact(model, "layers")``) and needs no control flow, so it runs on every target.

* Method 1 (and the last hidden layer of Method 2): ``RY(theta_i)`` on neuron qubit ``i``, then a
  measurement into classical register ``h{k}``.
* Method 2, hidden layers before the last: ``RY(phi_i)`` on a fresh neuron qubit, where ``phi_i`` is
  the neuron's absolute Bloch angle (its post-measurement angle from the previous layer plus this
  layer's rotation: RY angles add), then ``RZY(g)`` with its ancilla, ``H`` and a measurement of
  the ancilla into ``h{k}``. The post-measurement state is a known pure state, so re-preparing it on
  a fresh qubit is exact.

The angles are bound on the host: :func:`~.angles.input_angles` for layer 1,
:func:`~.angles.layer_angles` (and :func:`~.angles.post_angles` for Method 2) for later layers.

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[4, 2, 2, 3], a=0.5, g=0.6, seed=0)
    >>> [lc.circuit.name for lc in layer_circuits(net)]
    ['h1', 'h2']
    >>> [[r.name for r in lc.circuit.qregs] for lc in layer_circuits(net)]
    [['neuron', 'ancilla'], ['neuron']]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from qiskit.circuit import (
    ClassicalRegister,
    ParameterVector,
    QuantumCircuit,
    QuantumRegister,
)

from qiskit_natural_qnn.circuits.gates import append_weak_readout
from qiskit_natural_qnn.circuits.registers import layer_register_name
from qiskit_natural_qnn.exceptions import InputError
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, network_view

__all__ = ["LayerCircuit", "bind_layer", "layer_circuit", "layer_circuits"]


class LayerCircuit(NamedTuple):
    """One hidden layer as a parametrized circuit.

    Attributes:
        circuit: the circuit: RY per neuron, (Method 2: RZY + H + ancilla measurement,) measurement
            into :attr:`register`.
        angles: one RY angle per neuron (Method 2: the neuron's absolute Bloch angle), bound per run.
        register: the classical register ``h{layer}``, one bit per neuron (bit 0 = activation +1).
        layer: the hidden layer number, 1-based.
        weak: True when the layer is read out weakly through ancillas (Method 2, not the last layer).
    """

    circuit: QuantumCircuit
    angles: ParameterVector
    register: ClassicalRegister
    layer: int
    weak: bool


def layer_circuit(model: NetworkLike, *, layer: int) -> LayerCircuit:
    """The parametrized circuit of hidden layer ``layer`` (1-based).

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or its view.
        layer: the hidden layer, from 1 to the number of hidden layers.

    Returns:
        A :class:`LayerCircuit`.

    Raises:
        ConfigurationError: ``layer`` out of range.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> lc = layer_circuit(NaturalQNN(layer_sizes=[3, 2, 2], a=0.5, seed=0), layer=1)
        >>> print(lc.circuit.draw("text", fold=-1))  # doctest: +NORMALIZE_WHITESPACE
                  ┌───────────────┐┌─┐
        neuron_0: ┤ Ry(theta1[0]) ├┤M├───
                  ├───────────────┤└╥┘┌─┐
        neuron_1: ┤ Ry(theta1[1]) ├─╫─┤M├
                  └───────────────┘ ║ └╥┘
            h1: 2/══════════════════╩══╩═
                                    0  1
    """
    view = network_view(model)
    k = view.schedule.check_layer(layer)
    width = view.hidden_sizes[k - 1]
    meas = view.schedule.measurement(k)
    weak = view.schedule.is_weak(k)
    angles = ParameterVector(f"theta{k}", width)
    neuron = QuantumRegister(width, "neuron")
    creg = ClassicalRegister(width, layer_register_name(k))
    if weak:
        ancilla = QuantumRegister(width, "ancilla")
        qc = QuantumCircuit(neuron, ancilla, creg, name=creg.name)
    else:
        qc = QuantumCircuit(neuron, creg, name=creg.name)
    for i in range(width):
        qc.ry(angles[i], neuron[i])
    if weak:
        for i in range(width):
            append_weak_readout(qc, neuron[i], ancilla[i], meas.g)
        qc.measure(ancilla, creg)
    else:
        qc.measure(neuron, creg)
    qc.metadata = {"layer": k, "weak": weak, "g": meas.g}
    return LayerCircuit(circuit=qc, angles=angles, register=creg, layer=k, weak=weak)


def layer_circuits(model: NetworkLike) -> list[LayerCircuit]:
    """One :class:`LayerCircuit` per hidden layer, in order."""
    view = network_view(model)
    return [layer_circuit(view, layer=k) for k in range(1, view.n_hidden + 1)]


def bind_layer(layer_circuit: LayerCircuit, angles: ArrayLike) -> list[QuantumCircuit]:
    """Bind RY angles into a layer circuit (plain floats in the circuit), one circuit per row.

    Args:
        layer_circuit: from :func:`layer_circuit`.
        angles: shape ``(width,)`` or ``(batch, width)``, e.g. from :func:`~.angles.input_angles`.

    Returns:
        One bound circuit per row of ``angles``.

    Raises:
        InputError: ``angles`` of the wrong width or not finite.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> lc = layer_circuit(NaturalQNN(layer_sizes=[3, 2, 2], a=0.5, seed=0), layer=1)
        >>> [c.num_parameters for c in bind_layer(lc, [[0.1, 0.2], [0.3, 0.4]])]
        [0, 0]
    """
    rows = _angle_rows(angles, len(layer_circuit.angles), f"angles of hidden layer {layer_circuit.layer}")
    return [layer_circuit.circuit.assign_parameters(dict(zip(layer_circuit.angles, row.tolist()))) for row in rows]


def _angle_rows(angles: ArrayLike, width: int, what: str) -> np.ndarray:
    arr = np.asarray(angles, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != width or arr.shape[0] == 0:
        raise InputError(f"{what} must have shape ({width},) or (batch, {width}), got {np.shape(angles)}")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} contain NaN or infinity; check the network weights and inputs")
    return arr
