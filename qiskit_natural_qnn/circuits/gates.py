r"""The two-qubit gate of the weak measurement, :math:`R_{ZY}(g) = e^{-i\frac{g}{2} Z \otimes Y}`.

Method 2 (docs/model.md, "Measurement") entangles each neuron qubit with an ancilla through :class:`RZYGate`,
then measures the ancilla in the X basis (H, then measure).

Qubit order follows Qiskit's own :class:`~qiskit.circuit.library.RZXGate`: ``rzx(theta, q0, q1)``
is :math:`e^{-i\frac{\theta}{2} Z_{q_0} X_{q_1}}` (Z on the first qubit argument, X on the second).
Likewise ``RZYGate(g)`` applied to ``(neuron, ancilla)`` has **Z on the neuron and Y on the
ancilla**. In Qiskit's little-endian matrix convention its matrix is therefore
:math:`\cos\frac{g}{2}\,I - i\sin\frac{g}{2}\,(Y \otimes Z)` (the first qubit is the least
significant factor, written last).

Example:
    >>> import numpy as np
    >>> from qiskit.quantum_info import Operator
    >>> Operator(RZYGate(0.3)).equiv(Operator(RZYGate(0.3).definition))
    True
    >>> RZYGate(0.3).inverse()
    Instruction(name='rzy', num_qubits=2, num_clbits=0, params=[-0.3])

Importing this module registers ``rzy`` in Qiskit's ``SessionEquivalenceLibrary``, so a hand-built
``PassManager([BasisTranslator(SessionEquivalenceLibrary, ["rz", "sx", "cx"])])`` translates it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from qiskit.circuit import Gate, Parameter, ParameterExpression, QuantumCircuit, QuantumRegister, Qubit
from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary

__all__ = ["RZYGate", "append_weak_readout"]


class RZYGate(Gate):
    r"""The :math:`Z \otimes Y` interaction :math:`R_{ZY}(\theta) = e^{-i\frac{\theta}{2} Z \otimes Y}`.

    Applied to ``(q0, q1)`` it acts with Z on ``q0`` and Y on ``q1`` (the convention of Qiskit's
    ``RZXGate``); for the weak measurement, ``q0`` is the neuron and ``q1`` its ancilla. For a
    neuron at Bloch angle :math:`\phi` and an ancilla in :math:`|0\rangle`, ``RZYGate(g)`` then
    ``H`` on the ancilla gives :math:`P(\text{ancilla}=0) = (1 + \sin g\cos\phi)/2` and leaves the
    neuron in the state of :meth:`~qiskit_natural_qnn.neurons.Measurement.post_angle`.

    Definition (standard gates only, so OpenQASM 3 and every transpiler read it): with
    :math:`U = S H` (so that :math:`U Z U^\dagger = Y`),
    :math:`R_{ZY}(\theta) = (I \otimes U)\,R_{ZZ}(\theta)\,(I \otimes U^\dagger)`, i.e.
    ``sdg(q1); h(q1); cx(q0, q1); rz(theta, q1); cx(q0, q1); h(q1); s(q1)``.

    Args:
        theta: the angle, a float or a :class:`~qiskit.circuit.Parameter` (expression).
        label: an optional label for drawings.

    Example:
        >>> from qiskit import QuantumCircuit
        >>> qc = QuantumCircuit(2)
        >>> _ = qc.append(RZYGate(np.pi / 4), [0, 1])
        >>> qc.count_ops()["rzy"]
        1
    """

    def __init__(self, theta: float | ParameterExpression, label: str | None = None) -> None:
        super().__init__("rzy", 2, [theta], label=label)

    def _define(self) -> None:
        q = QuantumRegister(2, "q")
        qc = QuantumCircuit(q, name=self.name, global_phase=0)
        theta = self.params[0]
        qc.sdg(q[1])
        qc.h(q[1])
        qc.cx(q[0], q[1])
        qc.rz(theta, q[1])
        qc.cx(q[0], q[1])
        qc.h(q[1])
        qc.s(q[1])
        self.definition = qc

    def inverse(self, annotated: bool = False) -> RZYGate:
        """The inverse, ``RZYGate(-theta)``."""
        return RZYGate(-self.params[0], label=self.label)

    def power(self, exponent: float, annotated: bool = False) -> RZYGate:
        """``RZYGate(exponent * theta)``, as Qiskit's ``RZXGate.power`` does (works on a ``Parameter`` too).

        Example:
            >>> from qiskit.circuit import Parameter
            >>> str(RZYGate(Parameter("t")).power(2).params[0])
            '2*t'
        """
        return RZYGate(exponent * self.params[0], label=self.label)

    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        """The unitary matrix (Qiskit's little-endian order: Z on qubit 0, Y on qubit 1)."""
        if copy is False:
            raise ValueError("unable to avoid copy while creating an array as requested")
        half = float(self.params[0]) / 2
        c, s = math.cos(half), math.sin(half)
        # cos(t/2) I - i sin(t/2) kron(Y, Z); kron(Y, Z) = [[0,0,-i,0],[0,0,0,i],[i,0,0,0],[0,-i,0,0]].
        mat = np.array(
            [
                [c, 0, -s, 0],
                [0, c, 0, s],
                [s, 0, c, 0],
                [0, -s, 0, c],
            ],
            dtype=dtype or complex,
        )
        return mat

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RZYGate):
            return self._compare_parameters(other)
        return False

    __hash__ = Gate.__hash__


def _register_equivalence() -> None:
    """Add ``rzy`` to Qiskit's session equivalence library, once.

    A hand-built ``BasisTranslator`` then translates it like Qiskit's own gates; importing
    ``qiskit_natural_qnn.circuits`` does this.
    """
    theta = Parameter("theta")
    gate = RZYGate(theta)
    if SessionEquivalenceLibrary.has_entry(gate):
        return
    definition = gate.definition
    assert definition is not None
    SessionEquivalenceLibrary.add_equivalence(gate, definition)


_register_equivalence()


def append_weak_readout(circuit: QuantumCircuit, neuron: Qubit | int, ancilla: Qubit | int, g: float) -> None:
    r"""Append Method 2's readout basis change: ``RZYGate(g)`` on ``(neuron, ancilla)``, then ``H`` on the ancilla.

    Measuring the ancilla afterwards gives bit 0 (activation :math:`+1`) with probability
    :math:`(1 + \sin g \cos\phi)/2` and leaves the neuron at
    :meth:`~qiskit_natural_qnn.neurons.Measurement.post_angle`. The ancilla must start in
    :math:`|0\rangle`.

    Args:
        circuit: the circuit to append to.
        neuron: the neuron qubit (or index).
        ancilla: its ancilla qubit (or index), in :math:`|0\rangle`.
        g: the entanglement angle.
    """
    circuit.append(RZYGate(g), [neuron, ancilla])
    circuit.h(ancilla)
