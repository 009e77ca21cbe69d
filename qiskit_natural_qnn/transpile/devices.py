"""Devices to check and transpile for, offline: IBM fake backends, Aer, and IonQ's native gates.

Example:
    >>> get_backend("fake_torino").name
    'fake_torino'
    >>> sorted(get_backend("ionq_forte").operation_names)
    ['gpi', 'gpi2', 'measure', 'reset', 'zz']
"""

from __future__ import annotations

from typing import Any

from qiskit.transpiler import Target

from qiskit_natural_qnn.exceptions import ConfigurationError

__all__ = ["get_backend", "ionq_native_target"]


def ionq_native_target(*, num_qubits: int = 25, two_qubit_gate: str = "ms") -> Target:
    """An offline :class:`~qiskit.transpiler.Target` with IonQ's native gates (no API key, no network).

    ``qiskit-ionq``'s own backends ask the IonQ cloud for their qubit count and fall back to 4 qubits
    offline; this Target uses the same gates (``gpi``, ``gpi2`` and ``ms`` (Aria) or ``zz`` (Forte),
    plus ``measure`` and ``reset``, no control flow, all-to-all connectivity) and registers
    ``qiskit-ionq``'s gate equivalences, so ``generate_preset_pass_manager(target=...)`` maps any
    circuit onto it. Transpile at optimization level 0 or 1 (higher levels were reported to hang
    with Qiskit >= 2.5).

    Args:
        num_qubits: qubits of the device (Aria: 25, Forte: 36).
        two_qubit_gate: ``"ms"`` (Aria) or ``"zz"`` (Forte).

    Raises:
        ConfigurationError: an unknown two-qubit gate or a bad qubit count.

    Example:
        >>> sorted(ionq_native_target(num_qubits=4).operation_names)
        ['gpi', 'gpi2', 'measure', 'ms', 'reset']
    """
    from qiskit.circuit import Measure, Parameter, Reset
    from qiskit_ionq import GPI2Gate, GPIGate, MSGate, ZZGate, add_equivalences

    if two_qubit_gate not in ("ms", "zz"):
        raise ConfigurationError(f"two_qubit_gate must be 'ms' (Aria) or 'zz' (Forte), got {two_qubit_gate!r}")
    if isinstance(num_qubits, bool) or not isinstance(num_qubits, int) or num_qubits < 1:
        raise ConfigurationError(f"num_qubits must be a positive int, got {num_qubits!r}")
    add_equivalences()
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


_IONQ_DEVICES = {"ionq": (25, "ms"), "ionq_aria": (25, "ms"), "ionq_forte": (36, "zz")}


def get_backend(name: str) -> Any:
    """A backend or Target by name, offline: ``"aer"``, ``"ionq"``/``"ionq_aria"``/``"ionq_forte"``
    (:func:`ionq_native_target`), or an IBM fake backend (``"fake_sherbrooke"``, ``"FakeTorino"``...).

    Raises:
        ConfigurationError: an unknown name (the message lists the accepted forms).

    Example:
        >>> get_backend("fake_sherbrooke").name
        'fake_sherbrooke'
    """
    key = str(name).strip()
    lower = key.lower()
    if lower in ("aer", "aer_simulator"):
        from qiskit_aer import AerSimulator

        return AerSimulator()
    if lower in _IONQ_DEVICES:
        n, gate = _IONQ_DEVICES[lower]
        return ionq_native_target(num_qubits=n, two_qubit_gate=gate)
    from qiskit_ibm_runtime import fake_provider

    stem = key[5:] if lower.startswith("fake_") else key[4:] if lower.startswith("fake") else key
    class_name = "Fake" + "".join(part[:1].upper() + part[1:] for part in stem.split("_"))
    cls = getattr(fake_provider, class_name, None)
    if cls is None:
        raise ConfigurationError(
            f"unknown backend {name!r}; expected 'aer', 'ionq', 'ionq_aria', 'ionq_forte' or an IBM fake "
            "backend such as 'fake_sherbrooke', 'fake_torino', 'fake_fez', 'fake_kingston'"
        )
    return cls()
