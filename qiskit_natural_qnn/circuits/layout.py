"""Qubit layout and shared emitters of the whole-network circuits (dynamic and deferred).

A :class:`Layout` says which qubits each hidden layer uses: its neurons and the qubits measured into
its register ``h{k}`` (the neurons themselves, or Method 2's ancillas for the layers read out weakly,
as the network's :class:`~qiskit_natural_qnn.schedule.LayerSchedule` says). The emitters append one
layer's instructions to a per-layer segment; :func:`assemble` joins the segments.

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> layout = build_layout(NaturalQNN(layer_sizes=[4, 2, 2, 2], a=0.5, g=0.6, seed=0), reuse=False)
    >>> [r.name for r in layout.qregs], [r.name for r in layout.cregs]
    (['neuron', 'ancilla1'], ['h1', 'h2'])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from qiskit.circuit import ClassicalRegister, Clbit, ParameterVector, QuantumCircuit, QuantumRegister, Qubit

from qiskit_natural_qnn.circuits.gates import append_weak_readout
from qiskit_natural_qnn.circuits.registers import layer_register_name
from qiskit_natural_qnn.view import NetworkLike, network_view

__all__ = [
    "RESET_METHODS",
    "Layout",
    "Recycler",
    "assemble",
    "build_layout",
    "circuit_metadata",
    "emit_first_layer",
    "emit_readout",
    "new_segment",
]

#: How a measured qubit is returned to ``|0>`` before reuse: ``reset``, or ``conditional_x`` (an X
#: conditioned on the bit it was just measured into; exact, since a measured qubit is in the basis
#: state of its outcome).
RESET_METHODS: tuple[str, ...] = ("reset", "conditional_x")


class Layout(NamedTuple):
    """Which qubits each hidden layer uses.

    Attributes:
        qregs: every quantum register of the circuit.
        cregs: the classical registers ``h1 ... hL``.
        neurons: per hidden layer, the qubits holding its neurons.
        readouts: per hidden layer, the qubits measured into ``h{k}`` (ancillas or neurons).
    """

    qregs: list[QuantumRegister]
    cregs: list[ClassicalRegister]
    neurons: list[Sequence[Qubit]]
    readouts: list[Sequence[Qubit]]


def build_layout(model: NetworkLike, *, reuse: bool) -> Layout:
    """The registers of the network's single circuit.

    Method 2 (state carried on) keeps each neuron's qubit in register ``neuron`` and reads the weak
    layers through ancillas (``ancilla{k}``, or one reused ``ancilla`` register). Method 1 uses one
    register per layer (``neuron{k}``) or, with ``reuse``, one ``neuron`` register as wide as the
    widest layer.
    """
    view = network_view(model)
    schedule = view.schedule
    widths = list(view.hidden_sizes)
    cregs = [ClassicalRegister(w, layer_register_name(k)) for k, w in enumerate(widths, start=1)]
    neurons: list[Sequence[Qubit]]
    readouts: list[Sequence[Qubit]]
    if schedule.carries_state:
        neuron = QuantumRegister(widths[0], "neuron")
        weak = [k for k in range(1, len(widths) + 1) if schedule.is_weak(k)]
        if reuse:
            anc = QuantumRegister(widths[0], "ancilla")
            ancillas = [anc] * len(weak)
            qregs = [neuron, anc]
        else:
            ancillas = [QuantumRegister(widths[0], f"ancilla{k}") for k in weak]
            qregs = [neuron, *ancillas]
        neurons = [neuron] * len(widths)
        readouts = [*ancillas, neuron]
    elif reuse:
        neuron = QuantumRegister(max(widths), "neuron")
        qregs = [neuron]
        neurons = [neuron[:w] for w in widths]
        readouts = neurons
    else:
        qregs = [QuantumRegister(w, f"neuron{k}") for k, w in enumerate(widths, start=1)]
        neurons = list(qregs)
        readouts = neurons
    return Layout(qregs=qregs, cregs=cregs, neurons=neurons, readouts=readouts)


def new_segment(layout: Layout, layer: int) -> QuantumCircuit:
    """An empty circuit on every register of ``layout``, named after hidden layer ``layer``."""
    return QuantumCircuit(*layout.qregs, *layout.cregs, name=layer_register_name(layer))


def emit_first_layer(seg: QuantumCircuit, layout: Layout, angles: ParameterVector) -> None:
    """``RY(angles[i])`` on each neuron of the first hidden layer."""
    for i, q in enumerate(layout.neurons[0]):
        seg.ry(angles[i], q)


class Recycler:
    """Remembers which clbit each qubit was last measured into, and returns reused qubits to |0>.

    Args:
        method: one of :data:`RESET_METHODS`.
    """

    def __init__(self, method: str) -> None:
        self.method = method
        self.measured: dict[Qubit, Clbit] = {}

    def measure(self, seg: QuantumCircuit, qubits: Sequence[Qubit], clbits: Sequence[Clbit]) -> None:
        """Measure ``qubits`` into ``clbits`` and remember where each went."""
        seg.measure(qubits, clbits)
        self.measured.update(zip(qubits, clbits))

    def clear(self, seg: QuantumCircuit, qubits: Sequence[Qubit]) -> None:
        """Return each of ``qubits`` that was measured earlier to |0> (fresh qubits need nothing)."""
        for q in qubits:
            clbit = self.measured.pop(q, None)
            if clbit is None:
                continue
            if self.method == "reset":
                seg.reset(q)
            else:
                with seg.if_test((clbit, 1)):
                    seg.x(q)


def emit_readout(seg: QuantumCircuit, model: NetworkLike, layout: Layout, k: int, *, recycler: Recycler | None) -> None:
    """Append hidden layer ``k``'s readout to ``seg``.

    For a weak layer: RZY + H on its ancillas (returned to |0> first when reused). With a ``recycler``:
    the measurement of the readout qubits into ``h{k}`` (the deferred circuit measures at the end instead).
    """
    schedule = network_view(model).schedule
    meas = schedule.measurement(k)
    readout = layout.readouts[k - 1]
    if schedule.is_weak(k):
        if recycler is not None:
            recycler.clear(seg, readout)
        for neuron, anc in zip(layout.neurons[k - 1], readout):
            append_weak_readout(seg, neuron, anc, meas.g)
    if recycler is not None:
        recycler.measure(seg, list(readout), list(layout.cregs[k - 1]))


def assemble(layout: Layout, segments: Sequence[QuantumCircuit], name: str) -> QuantumCircuit:
    """One circuit on ``layout``'s registers holding every segment, in order."""
    full = QuantumCircuit(*layout.qregs, *layout.cregs, name=name)
    for seg in segments:
        full.compose(seg, inplace=True)
    return full


def circuit_metadata(
    model: NetworkLike, construction: str, mode: str, reuse: bool, reset_method: str | None = None
) -> dict[str, Any]:
    """The ``metadata`` of a whole-network circuit (layer sizes and spec, to check the model it is bound with)."""
    view = network_view(model)
    spec = view.spec
    return {
        "mode": mode,
        "construction": construction,
        "layer_sizes": list(view.layer_sizes),
        "a": spec.a,
        "stretch": spec.stretch,
        "g": spec.g,
        "reuse_qubits": reuse,
        "reset_method": reset_method if reuse else None,
    }
