"""OpenQASM 3 export and import of the network's circuits.

:func:`to_qasm3` writes a program that an independent parser reads back into an equivalent circuit
(``qiskit.qasm3.loads`` with ``qiskit-qasm3-import``): registers ``neuron``/``ancilla``/``h1``...,
``if`` blocks on bits or register values, mid-circuit measurement and reset, and the first layer's
angles as ``input float[64]`` parameters. :class:`~.gates.RZYGate` is written as a ``gate rzy``
definition in standard gates (``stdgates.inc``); Qiskit's exporter writes one definition per distinct
angle, with the angle inside the body, which is exact. An RZY whose angle is a parameter
*expression* (not a plain float or Parameter) would be exported wrongly by Qiskit's exporter, so it
is decomposed into its standard-gate definition first.

Example:
    >>> from qiskit import QuantumCircuit
    >>> from qiskit_natural_qnn.circuits.gates import RZYGate
    >>> qc = QuantumCircuit(2)
    >>> _ = qc.append(RZYGate(0.5), [0, 1])
    >>> "gate rzy" in to_qasm3(qc)
    True
    >>> from_qasm3(to_qasm3(qc)).count_ops()["rzy"]
    1
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from qiskit import qasm3
from qiskit.circuit import ControlFlowOp, Operation, Parameter, ParameterExpression, QuantumCircuit

from qiskit_natural_qnn.circuits.gates import RZYGate
from qiskit_natural_qnn.exceptions import ConfigurationError

__all__ = ["from_qasm3", "to_qasm3"]


def _needs_decomposition(op: Operation) -> bool:
    if not isinstance(op, RZYGate):
        return False
    theta = op.params[0]
    return isinstance(theta, ParameterExpression) and not isinstance(theta, Parameter) and bool(theta.parameters)


def _exportable(circuit: QuantumCircuit) -> QuantumCircuit:
    """A copy of ``circuit`` where each RZY with an expression angle is replaced by its definition."""
    if not any(_needs_decomposition(i.operation) or isinstance(i.operation, ControlFlowOp) for i in circuit.data):
        return circuit
    out = circuit.copy_empty_like()
    for inst in circuit.data:
        op = inst.operation
        if isinstance(op, ControlFlowOp):
            out.append(op.replace_blocks([_exportable(b) for b in op.blocks]), inst.qubits, inst.clbits)
        elif _needs_decomposition(op):
            out.compose(op.definition, qubits=inst.qubits, inplace=True)
        else:
            out.append(op, inst.qubits, inst.clbits)
    return out


def to_qasm3(circuit: QuantumCircuit) -> str:
    """The circuit as an OpenQASM 3 program (``qiskit.qasm3.dumps``), custom RZY gates defined in it.

    Args:
        circuit: any circuit of this package (bound or with its input Parameters).

    Returns:
        The program text.
    """
    return qasm3.dumps(_exportable(circuit))


def _key(name: str) -> str:
    return re.sub(r"\W", "_", name).strip("_")


def from_qasm3(text: str, *, parameters: Iterable[Parameter] | None = None) -> QuantumCircuit:
    """Parse an OpenQASM 3 program (``qiskit.qasm3.loads``, which needs ``qiskit-qasm3-import``).

    Args:
        text: the program.
        parameters: optional Parameters (e.g. a :class:`~.dynamic.NetworkCircuit`'s ``input_angles``)
            to re-attach: each ``input float`` whose name is one of theirs, escaped for OpenQASM
            (``theta1[0]`` -> ``_theta1_0_``), is replaced by it, so that the circuit binds as before.

    Returns:
        The circuit.

    Raises:
        ConfigurationError: ``qiskit-qasm3-import`` is not installed.
    """
    try:
        import qiskit_qasm3_import  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs it
        raise ConfigurationError(
            "reading OpenQASM 3 needs the qiskit-qasm3-import package; pip install qiskit-qasm3-import"
        ) from None
    circuit = qasm3.loads(text)
    if parameters is not None:
        wanted = {_key(p.name): p for p in parameters}
        mapping = {p: wanted[_key(p.name)] for p in circuit.parameters if _key(p.name) in wanted}
        if mapping:
            circuit.assign_parameters(mapping, inplace=True)
    return circuit
