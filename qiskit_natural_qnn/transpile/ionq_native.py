r"""IonQ's native gates and an offline Target made of them, with no IonQ package and no network.

IonQ's trapped-ion devices run ``gpi``, ``gpi2`` and one entangling gate: ``ms`` (Mølmer-Sørensen,
Aria) or ``zz`` (Forte); angles are in turns (1 = 2π). The gates here have the same names,
parameters and matrices as qiskit-ionq's (IonQ's documentation "Getting started with native gates"),
so a circuit transpiled for :func:`ionq_native_target` is what IonQ's native gateset accepts, and
qiskit-ionq (the ``[ionq]`` extra) turns it into a job as it is.

.. math::

    GPI(\phi) = \begin{pmatrix} 0 & e^{-2\pi i\phi} \\ e^{2\pi i\phi} & 0 \end{pmatrix},\quad
    GPI2(\phi) = \tfrac{1}{\sqrt 2}\begin{pmatrix} 1 & -ie^{-2\pi i\phi} \\ -ie^{2\pi i\phi} & 1 \end{pmatrix},\quad
    ZZ(\theta) = e^{-i\pi\theta\, Z\otimes Z},

and :math:`MS(\phi_0, \phi_1, \theta)` is :math:`R_{XX}(2\pi\theta)` conjugated by
:math:`R_Z(2\pi\phi_0)\otimes R_Z(2\pi\phi_1)`.

Example:
    >>> import numpy as np
    >>> from qiskit.quantum_info import Operator
    >>> Operator(GPI2Gate(0.25)).equiv(Operator(GPI2Gate(0.25).definition))
    True
    >>> sorted(ionq_native_target(num_qubits=3, two_qubit_gate="zz").operation_names)
    ['gpi', 'gpi2', 'measure', 'reset', 'zz']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from qiskit.circuit import Gate, Parameter, QuantumCircuit
from qiskit.circuit.equivalence_library import SessionEquivalenceLibrary
from qiskit.circuit.library import CXGate, Measure, Reset, RXGate, RZGate, RZZGate, UGate, XGate
from qiskit.transpiler import Target

from qiskit_natural_qnn.exceptions import ConfigurationError

__all__ = ["IONQ_TWO_QUBIT_GATES", "GPI2Gate", "GPIGate", "MSGate", "ZZGate", "ionq_native_target"]

#: The entangling gate of each IonQ generation: ``"ms"`` (Aria) and ``"zz"`` (Forte).
IONQ_TWO_QUBIT_GATES: tuple[str, ...] = ("ms", "zz")


def _matrix(values: Any, dtype: Any, copy: Any) -> np.ndarray:
    arr = np.array(values, dtype=complex)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    return arr.copy() if copy is True else arr


class GPIGate(Gate):
    """IonQ's single-qubit ``gpi(phi)`` (a π rotation about an axis at angle ``2π phi`` in the XY plane)."""

    def __init__(self, phi: Any, label: str | None = None) -> None:
        super().__init__("gpi", 1, [phi], label=label)

    def _define(self) -> None:
        qc = QuantumCircuit(1, name=self.name)
        phi = self.params[0]
        qc.u(math.pi, 2 * math.pi * phi, math.pi - 2 * math.pi * phi, 0)
        self.definition = qc

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        e = np.exp(2j * math.pi * float(self.params[0]))
        return _matrix([[0, np.conj(e)], [e, 0]], dtype, copy)


class GPI2Gate(Gate):
    """IonQ's single-qubit ``gpi2(phi)`` (a π/2 rotation about an axis at angle ``2π phi`` in the XY plane)."""

    def __init__(self, phi: Any, label: str | None = None) -> None:
        super().__init__("gpi2", 1, [phi], label=label)

    def _define(self) -> None:
        qc = QuantumCircuit(1, name=self.name)
        phi = self.params[0]
        qc.u(math.pi / 2, 2 * math.pi * phi - math.pi / 2, math.pi / 2 - 2 * math.pi * phi, 0)
        self.definition = qc

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        e = np.exp(2j * math.pi * float(self.params[0]))
        return _matrix(np.array([[1, -1j * np.conj(e)], [-1j * e, 1]]) / math.sqrt(2), dtype, copy)


class MSGate(Gate):
    """IonQ's two-qubit Mølmer-Sørensen gate ``ms(phi0, phi1, theta)`` (Aria; ``theta = 1/4``: maximal)."""

    def __init__(self, phi0: Any, phi1: Any, theta: Any = 0.25, label: str | None = None) -> None:
        super().__init__("ms", 2, [phi0, phi1, theta], label=label)

    def _define(self) -> None:
        qc = QuantumCircuit(2, name=self.name)
        phi0, phi1, theta = self.params
        qc.rz(-2 * math.pi * phi0, 0)
        qc.rz(-2 * math.pi * phi1, 1)
        qc.rxx(2 * math.pi * theta, 0, 1)
        qc.rz(2 * math.pi * phi0, 0)
        qc.rz(2 * math.pi * phi1, 1)
        self.definition = qc

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        phi0, phi1, theta = (float(p) for p in self.params)
        c, s = math.cos(math.pi * theta), math.sin(math.pi * theta)
        plus, minus = 2 * math.pi * (phi0 + phi1), 2 * math.pi * (phi0 - phi1)
        return _matrix(
            [
                [c, 0, 0, -1j * s * np.exp(-1j * plus)],
                [0, c, -1j * s * np.exp(1j * minus), 0],
                [0, -1j * s * np.exp(-1j * minus), c, 0],
                [-1j * s * np.exp(1j * plus), 0, 0, c],
            ],
            dtype,
            copy,
        )


class ZZGate(Gate):
    """IonQ's two-qubit ``zz(theta)`` = ``exp(-i π theta Z⊗Z)`` (Forte; ``theta = 1/4`` is maximally entangling)."""

    def __init__(self, theta: Any, label: str | None = None) -> None:
        super().__init__("zz", 2, [theta], label=label)

    def _define(self) -> None:
        qc = QuantumCircuit(2, name=self.name)
        qc.rzz(2 * math.pi * self.params[0], 0, 1)
        self.definition = qc

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        e = np.exp(1j * math.pi * float(self.params[0]))
        return _matrix(np.diag([np.conj(e), e, e, np.conj(e)]), dtype, copy)


_EQUIVALENCES_ADDED = False


def _add_equivalences() -> None:
    """Teach the transpiler (Qiskit's session equivalence library) to reach and leave IonQ's gates.

    The same rules as qiskit-ionq's: ``u`` -> ``gpi2 gpi gpi2``; ``cx`` -> one ``ms`` or one ``zz``
    with single-qubit gates; ``gpi``, ``gpi2`` and ``zz`` back to standard gates.
    """
    global _EQUIVALENCES_ADDED
    if _EQUIVALENCES_ADDED:
        return
    lib = SessionEquivalenceLibrary
    theta, phi, lam = Parameter("theta"), Parameter("phi"), Parameter("lam")
    u = QuantumCircuit(1)
    u.append(GPI2Gate(0.5 - lam / (2 * math.pi)), [0])
    u.append(GPIGate(theta / (4 * math.pi) + phi / (4 * math.pi) - lam / (4 * math.pi)), [0])
    u.append(GPI2Gate(0.5 + phi / (2 * math.pi)), [0])
    lib.add_equivalence(UGate(theta, phi, lam), u)

    p = Parameter("p")
    gpi = QuantumCircuit(1)
    gpi.append(XGate(), [0])
    gpi.append(RZGate(4 * math.pi * p), [0])
    lib.add_equivalence(GPIGate(p), gpi)
    gpi2 = QuantumCircuit(1)
    gpi2.append(RZGate(-2 * math.pi * p), [0])
    gpi2.append(RXGate(math.pi / 2), [0])
    gpi2.append(RZGate(2 * math.pi * p), [0])
    lib.add_equivalence(GPI2Gate(p), gpi2)
    zz = QuantumCircuit(2)
    zz.append(RZZGate(2 * math.pi * p), [0, 1])
    lib.add_equivalence(ZZGate(p), zz)

    via_ms = QuantumCircuit(2)
    via_ms.append(GPI2Gate(1 / 4), [0])
    via_ms.append(MSGate(0, 0, 1 / 4), [0, 1])
    via_ms.append(GPI2Gate(1 / 2), [0])
    via_ms.append(GPI2Gate(1 / 2), [1])
    via_ms.append(GPI2Gate(-1 / 4), [0])
    lib.add_equivalence(CXGate(), via_ms)
    via_zz = QuantumCircuit(2)
    via_zz.h(1)
    via_zz.append(ZZGate(1 / 4), [0, 1])
    via_zz.sdg(0)
    via_zz.sdg(1)
    via_zz.h(1)
    lib.add_equivalence(CXGate(), via_zz)
    _EQUIVALENCES_ADDED = True


def ionq_native_target(*, num_qubits: int = 25, two_qubit_gate: str = "ms") -> Target:
    """An offline :class:`~qiskit.transpiler.Target` with IonQ's native gates (no API key, no network, no extra).

    IonQ's own backends (qiskit-ionq) ask the IonQ cloud for their qubit count and fall back to 4
    qubits offline; this Target has the same gates (``gpi``, ``gpi2`` and ``ms`` (Aria) or ``zz``
    (Forte), plus ``measure`` and ``reset``, no control flow, all-to-all connectivity) and registers
    their equivalences, so ``generate_preset_pass_manager(target=...)`` maps any circuit onto it.
    Transpile at optimization level 0 or 1 (higher levels were reported to hang with Qiskit >= 2.5).

    Args:
        num_qubits: qubits of the device (Aria: 25, Forte: 36).
        two_qubit_gate: ``"ms"`` (Aria) or ``"zz"`` (Forte).

    Raises:
        ConfigurationError: an unknown two-qubit gate or a bad qubit count.

    Example:
        >>> sorted(ionq_native_target(num_qubits=4).operation_names)
        ['gpi', 'gpi2', 'measure', 'ms', 'reset']
    """
    if two_qubit_gate not in IONQ_TWO_QUBIT_GATES:
        raise ConfigurationError(f"two_qubit_gate must be 'ms' (Aria) or 'zz' (Forte), got {two_qubit_gate!r}")
    if isinstance(num_qubits, bool) or not isinstance(num_qubits, int) or num_qubits < 1:
        raise ConfigurationError(f"num_qubits must be a positive int, got {num_qubits!r}")
    _add_equivalences()
    target = Target(num_qubits=num_qubits, description=f"ionq_native_{two_qubit_gate}")
    phi = Parameter("phi")
    target.add_instruction(GPIGate(phi))
    target.add_instruction(GPI2Gate(phi))
    if two_qubit_gate == "zz":
        target.add_instruction(ZZGate(Parameter("theta")))
    else:
        target.add_instruction(MSGate(Parameter("phi0"), Parameter("phi1"), Parameter("theta")))
    target.add_instruction(Measure())
    target.add_instruction(Reset())
    return target
