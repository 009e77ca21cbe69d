"""The ISA check: every circuit a device sampler receives must be in its target's instruction set, on its qubits.

IBM Runtime's ``executor_sampler.Sampler`` (qiskit-ibm-runtime 0.51) accepts a circuit that its
target cannot run in local testing mode and fails only when the result is asked for (Aer's
``unknown instruction``), and ``qiskit_aer.primitives.SamplerV2.from_backend`` likewise; the older
``SamplerV2`` refused such circuits on the client. :func:`~.jobs.run_sweep`, which every execution
(layerwise, dynamic, deferred, the ``ml`` sampler forward, the noise sweeps) goes through, therefore
calls :func:`check_isa` before it submits anything: every instruction of the circuit, inside
control-flow blocks too, must be in the sampler's target on the physical qubits it acts on, and
the control-flow operations must be ones the target runs.

Only device targets are checked (:func:`isa_target`): the backend of an IBM Runtime sampler (a
fake backend, a real one, or an ``AerSimulator`` made with ``from_backend``), the simulator of an
Aer sampler made from a device, and the backend of a ``BackendSamplerV2``, whenever that target
has a coupling map. Simulators without one (``AerSimulator()``, ``StatevectorSampler``) run their
gates on any qubits and are not checked; nor are samplers of unknown kinds.

Example:
    >>> from qiskit import QuantumCircuit
    >>> from qiskit.providers.fake_provider import GenericBackendV2
    >>> backend = GenericBackendV2(num_qubits=3, basis_gates=["cx", "rz", "sx", "x"], seed=1)
    >>> qc = QuantumCircuit(2, 2)
    >>> _ = qc.h(0); _ = qc.measure([0, 1], [0, 1])
    >>> check_isa(qc, backend.target, name="generic")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qiskit_natural_qnn.exceptions.TargetCapabilityError: circuit 'circuit-...' is not in the instruction set ...
"""

from __future__ import annotations

import logging
from typing import Any

from qiskit.circuit import ControlFlowOp, QuantumCircuit
from qiskit.transpiler import Target

from qiskit_natural_qnn.exceptions import TargetCapabilityError
from qiskit_natural_qnn.execution.samplers import runtime_backend, sampler_kind

__all__ = ["ISA_FIX", "check_isa", "find_isa_violation", "isa_target"]

_LOG = logging.getLogger(__name__)

#: How every ISA error says to fix it.
ISA_FIX = (
    "transpile the circuit for the backend before submitting: pass pass_manager="
    "generate_preset_pass_manager(backend=backend, optimization_level=1) (run functions and "
    "predict_on_sampler take pass_manager=; make_sampler('fake_NAME') builds one), or run "
    "pass_manager.run(circuit) yourself"
)

#: Shown at most this many qubit tuples of an instruction the target restricts.
_SHOWN_QARGS = 8


def _backend_of(sampler: Any) -> Any:
    kind = sampler_kind(sampler)
    if kind in ("ibm", "ibm-legacy"):
        return runtime_backend(sampler)
    if kind == "backend":
        return sampler.backend
    if kind == "aer":
        return getattr(sampler, "_backend", None)
    return None


def isa_target(sampler: Any) -> tuple[Target, str] | None:
    """The device target whose instruction set ``sampler`` requires, with the device's name; None when none.

    A target counts when it has a coupling map (a device or a simulator made from one); an ideal
    simulator (``AerSimulator()``, ``StatevectorSampler``) or an unknown sampler gives None.

    Example:
        >>> from qiskit_aer.primitives import SamplerV2
        >>> isa_target(SamplerV2()) is None
        True
    """
    backend = _backend_of(sampler)
    target = backend if isinstance(backend, Target) else getattr(backend, "target", None)
    if not isinstance(target, Target) or target.build_coupling_map() is None:
        return None
    name = getattr(backend, "name", None)
    name = name() if callable(name) else name
    return target, str(name or target.description or "target")


def _qargs_text(target: Target, name: str) -> str:
    qargs = target.qargs_for_operation_name(name)
    if qargs is None:
        return f"{name!r} on any qubits"
    shown = sorted(qargs)[:_SHOWN_QARGS]
    more = f" and {len(qargs) - len(shown)} more" if len(qargs) > len(shown) else ""
    return f"{name!r} on qubits {', '.join(str(tuple(q)) for q in shown)}{more}"


def find_isa_violation(circuit: QuantumCircuit, target: Target) -> str | None:
    """The first instruction of ``circuit`` that ``target`` cannot run, described; None when every one is in it.

    The circuit's qubit ``i`` is the device's qubit ``i`` (a transpiled circuit); barriers are
    directives and never checked; control-flow blocks are checked on the qubits they act on.
    """
    if circuit.num_qubits > target.num_qubits:
        return f"the circuit has {circuit.num_qubits} qubits, the target {target.num_qubits}"
    return _walk(circuit, target, [circuit.find_bit(q).index for q in circuit.qubits])


def _walk(circuit: QuantumCircuit, target: Target, physical: list[int]) -> str | None:
    index = {q: physical[i] for i, q in enumerate(circuit.qubits)}
    for inst in circuit.data:
        op = inst.operation
        name = op.name
        if getattr(op, "_directive", False) or name == "barrier":
            continue
        qargs = tuple(index[q] for q in inst.qubits)
        if isinstance(op, ControlFlowOp):
            if not target.instruction_supported(operation_name=name):
                return f"the control-flow operation {name!r} (on qubits {qargs}) is not in the target"
            for block in op.blocks:
                found = _walk(block, target, list(qargs))
                if found is not None:
                    return f"{found} (inside {name})"
            continue
        if name not in target.operation_names:
            return f"the instruction {name!r} on qubits {qargs} is not in the target"
        if not target.instruction_supported(operation_name=name, qargs=qargs):
            return (
                f"the instruction {name!r} on qubits {qargs} is not supported there; the target has "
                f"{_qargs_text(target, name)}"
            )
    return None


def check_isa(circuit: QuantumCircuit, target: Target, *, name: str = "the target") -> None:
    """Refuse ``circuit`` unless every instruction is in ``target``'s instruction set, on its qubits.

    Args:
        circuit: the circuit about to be submitted (after the pass manager).
        target: the device's :class:`~qiskit.transpiler.Target` (see :func:`isa_target`).
        name: the device's name, for the message.

    Raises:
        TargetCapabilityError: the first offending instruction and its qubits, what the target has,
            and the fix (transpile with the device's pass manager, ``pass_manager=``).
    """
    problem = find_isa_violation(circuit, target)
    if problem is None:
        _LOG.debug("circuit %r is in the instruction set of %s", circuit.name, name)
        return
    gates = ", ".join(sorted(n for n in target.operation_names if n != "barrier"))
    raise TargetCapabilityError(
        f"circuit {circuit.name!r} is not in the instruction set (ISA) of {name}: {problem} ({name} has "
        f"{target.num_qubits} qubits and the instructions {gates}); {ISA_FIX}"
    )
