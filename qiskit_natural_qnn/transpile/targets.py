"""Target rules: what each backend accepts, checked before anything is submitted; transpilation.

Transpilers do not reject circuits that break a device's dynamic-circuit rules, and Aer aborts the
whole Python process on some classical constructs, so :func:`validate_for_target` checks a circuit
against a :class:`TargetProfile` first and raises :class:`~qiskit_natural_qnn.exceptions.TargetCapabilityError`
naming the reason and the fix.

Profiles (:data:`PROFILES`):

* ``"ibm"``: IBM dynamic circuits: ``if_else`` only, conditioned on a bit or on register equality
  (logic and comparisons allowed; no arithmetic); no nesting; no measurement or reset inside a
  conditional; no ``switch``, loops, ``box``, ``store`` or classical variables.
* ``"aer"``: Aer runs ``if_else``, ``switch``, ``for`` and ``while``, nested, with mid-circuit
  measurement and reset; it rejects classical arithmetic and ``Float``/``Bool`` variables and aborts
  the process on standalone ``Uint`` variables, so no classical variables at all; it ignores
  primitive-bound parameters of controlled gates (Qiskit Aer issue 2323), so those must be bound
  into the circuit; and its primitives do not transpile, so every gate must be an Aer gate.
* ``"ionq"``: no control flow; mid-circuit measurement and reset allowed.
* ``"static"``: no control flow and no mid-circuit measurement or reset (measurements at the end).

A backend (``BackendV2``) or a :class:`~qiskit.transpiler.Target` gets its family's profile (IBM,
Aer, IonQ, or a permissive generic one) restricted to what its Target supports
(``target.instruction_supported("if_else")`` and so on) and to its number of qubits.

Example:
    >>> from qiskit import QuantumCircuit
    >>> qc = QuantumCircuit(1, 1)
    >>> _ = qc.measure(0, 0)
    >>> with qc.if_test((qc.clbits[0], 1)):
    ...     _ = qc.x(0)
    >>> validate_for_target(qc, "ibm").name
    'ibm'
    >>> validate_for_target(qc, "ionq")
    Traceback (most recent call last):
    ...
    qiskit_natural_qnn.exceptions.TargetCapabilityError: circuit 'circuit-...' cannot run on target 'ionq': ...
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit.circuit import (
    CONTROL_FLOW_OP_NAMES,
    ControlFlowOp,
    ControlledGate,
    IfElseOp,
    ParameterExpression,
    QuantumCircuit,
    SwitchCaseOp,
    WhileLoopOp,
)
from qiskit.circuit.classical import expr, types
from qiskit.transpiler import Target

from qiskit_natural_qnn.exceptions import ConfigurationError, TargetCapabilityError
from qiskit_natural_qnn.transpile.devices import get_backend, ionq_native_target, parse_device  # noqa: F401

__all__ = [
    "OPTIMIZATION_LEVELS",
    "PROFILES",
    "TargetProfile",
    "check_optimization_level",
    "count_names",
    "find_violations",
    "mid_circuit_operations",
    "target_profile",
    "transpile_for_target",
    "validate_for_target",
]

#: The transpiler's optimization levels (IonQ targets: 0 and 1 only).
OPTIMIZATION_LEVELS: tuple[int, ...] = (0, 1, 2, 3)

_ARITHMETIC = frozenset({"ADD", "SUB", "MUL", "DIV"})
_NON_GATES = frozenset({"measure", "reset", "barrier", "delay"})
_LAYERS_FIX = "run the network layer by layer (layer_circuits), which needs no control flow"


@dataclass(frozen=True)
class TargetProfile:
    """What a target accepts.

    Attributes:
        name: the profile or backend name.
        control_flow: control-flow operations it runs (``"if_else"``, ``"switch_case"``, ...).
        nested_control_flow: a control-flow block may sit inside another.
        measure_in_control_flow: measurement or reset may sit inside a conditional block.
        mid_circuit_measurement: a qubit may be used, or its result read, after it is measured.
        mid_circuit_reset: a qubit may be reset after it has been used.
        classical_arithmetic: conditions may use ``add``, ``sub``, ``mul``, ``div``.
        classical_vars: the circuit may declare classical variables (``add_var``, ``add_input``).
        store: the circuit may assign to classical storage at run time (``store``).
        primitive_bound_controlled_params: controlled gates may keep parameters bound later by a
            primitive (False for Aer, issue 2323: they are silently ignored).
        native_gates: the gates it runs as they are (its primitives do not transpile), or None when
            circuits are transpiled for it first.
        num_qubits: its number of qubits, or None when unknown.
        backend: the backend or Target this profile describes, or None for a named profile.
    """

    name: str
    control_flow: frozenset[str]
    nested_control_flow: bool
    measure_in_control_flow: bool
    mid_circuit_measurement: bool
    mid_circuit_reset: bool
    classical_arithmetic: bool = False
    classical_vars: bool = False
    store: bool = False
    primitive_bound_controlled_params: bool = True
    native_gates: frozenset[str] | None = None
    num_qubits: int | None = None
    backend: Any = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def dynamic(self) -> bool:
        """True when the target runs classically conditioned operations (``if_else``)."""
        return "if_else" in self.control_flow


@functools.lru_cache(maxsize=1)
def _aer_gates() -> frozenset[str]:
    from qiskit_aer import AerSimulator

    return frozenset(AerSimulator().target.operation_names) - CONTROL_FLOW_OP_NAMES


@functools.lru_cache(maxsize=1)
def _aer_basis() -> list[str]:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    standard = set(get_standard_gate_name_mapping())
    return sorted((_aer_gates() & standard) | {"if_else", "switch_case", "for_loop", "while_loop"})


#: The named profiles (see the module docstring). ``"aer"``'s ``native_gates`` is filled on use.
PROFILES: dict[str, TargetProfile] = {
    "ibm": TargetProfile(
        name="ibm",
        control_flow=frozenset({"if_else"}),
        nested_control_flow=False,
        measure_in_control_flow=False,
        mid_circuit_measurement=True,
        mid_circuit_reset=True,
    ),
    "aer": TargetProfile(
        name="aer",
        control_flow=frozenset({"if_else", "switch_case", "for_loop", "while_loop"}),
        nested_control_flow=True,
        measure_in_control_flow=True,
        mid_circuit_measurement=True,
        mid_circuit_reset=True,
        primitive_bound_controlled_params=False,
    ),
    "ionq": TargetProfile(
        name="ionq",
        control_flow=frozenset(),
        nested_control_flow=False,
        measure_in_control_flow=False,
        mid_circuit_measurement=True,
        mid_circuit_reset=True,
    ),
    "static": TargetProfile(
        name="static",
        control_flow=frozenset(),
        nested_control_flow=False,
        measure_in_control_flow=False,
        mid_circuit_measurement=False,
        mid_circuit_reset=False,
    ),
}

_GENERIC = TargetProfile(
    name="backend",
    control_flow=frozenset(CONTROL_FLOW_OP_NAMES),
    nested_control_flow=True,
    measure_in_control_flow=True,
    mid_circuit_measurement=True,
    mid_circuit_reset=True,
)


def _family(obj: Any) -> str | None:
    module = type(obj).__module__
    if module.startswith("qiskit_aer"):
        return "aer"
    if module.startswith("qiskit_ionq"):
        return "ionq"
    if module.startswith("qiskit_ibm_runtime"):
        return "ibm"
    target = obj if isinstance(obj, Target) else getattr(obj, "target", None)
    if isinstance(target, Target) and "gpi2" in target.operation_names:
        return "ionq"
    return None


def target_profile(target: str | TargetProfile | Target | Any) -> TargetProfile:
    """The :class:`TargetProfile` of a profile name, a backend name, a backend or a Target.

    Args:
        target: ``"ibm"``, ``"aer"``, ``"ionq"``, ``"static"``, a name accepted by :func:`get_backend`,
            a ``BackendV2`` (IBM, Aer, IonQ or any other), a :class:`~qiskit.transpiler.Target`, or a
            profile (returned as is).

    Raises:
        ConfigurationError: an unknown name or an object that is neither a backend nor a Target.

    Example:
        >>> from qiskit.providers.fake_provider import GenericBackendV2
        >>> target_profile(GenericBackendV2(num_qubits=3, control_flow=False, seed=1)).control_flow
        frozenset()
    """
    if isinstance(target, TargetProfile):
        return target
    if isinstance(target, str):
        if target.lower() in PROFILES:
            profile = PROFILES[target.lower()]
            return dataclasses.replace(profile, native_gates=_aer_gates()) if profile.name == "aer" else profile
        device = parse_device(target)  # one grammar of device names (transpile/devices.py)
        return target_profile(device.form.rules or get_backend(device))
    tgt = target if isinstance(target, Target) else getattr(target, "target", None)
    if not isinstance(tgt, Target):
        raise ConfigurationError(
            f"target must be a profile name ({', '.join(PROFILES)}), a backend name, a BackendV2 or a Target, "
            f"got {type(target).__name__}"
        )
    family = _family(target)
    base = PROFILES[family] if family else _GENERIC
    supported = frozenset(n for n in CONTROL_FLOW_OP_NAMES if tgt.instruction_supported(n))
    name = str(getattr(target, "name", None) or tgt.description or "target")
    return dataclasses.replace(
        base,
        name=f"{family}:{name}" if family else name,
        control_flow=base.control_flow & supported,
        mid_circuit_reset=base.mid_circuit_reset and tgt.instruction_supported("reset"),
        native_gates=_aer_gates() if family == "aer" else None,
        # Aer's limit depends on the method (matrix_product_state runs far more qubits than statevector)
        num_qubits=None if family == "aer" else tgt.num_qubits,
        backend=target,
    )


def _walk_expr(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, expr.Binary):
        yield from _walk_expr(node.left)
        yield from _walk_expr(node.right)
    elif isinstance(node, (expr.Unary, expr.Cast)):
        yield from _walk_expr(node.operand)
    elif isinstance(node, expr.Index):
        yield from _walk_expr(node.target)
        yield from _walk_expr(node.index)


def _expr_problems(node: Any, profile: TargetProfile, where: str) -> list[str]:
    problems = []
    for sub in _walk_expr(node):
        if isinstance(sub, expr.Binary) and sub.op.name in _ARITHMETIC and not profile.classical_arithmetic:
            problems.append(
                f"{where} uses classical arithmetic ({sub.op.name.lower()}), which {profile.name} does not "
                "evaluate at run time; condition on a bit or on register equality instead"
            )
        if isinstance(sub, expr.Var) and sub.standalone and not profile.classical_vars:
            problems.append(
                f"{where} reads the classical variable {sub.name!r}; {profile.name} runs no classical "
                "variables (Aer aborts the process on standalone Uint variables); condition on clbits or registers"
            )
        if isinstance(getattr(sub, "type", None), (types.Float, types.Duration)) and not profile.classical_arithmetic:
            problems.append(f"{where} uses a {type(sub.type).__name__} expression, which {profile.name} does not run")
    return problems


def _is_parametric(value: Any) -> bool:
    return isinstance(value, ParameterExpression) and bool(value.parameters)


def _condition_of(op: Any) -> Any:
    if isinstance(op, (IfElseOp, WhileLoopOp)):
        return op.condition
    if isinstance(op, SwitchCaseOp):
        return op.target
    return None


def _walk_problems(circuit: QuantumCircuit, profile: TargetProfile, depth: int, gates: bool) -> list[str]:
    problems: list[str] = []
    for inst in circuit.data:
        op = inst.operation
        name = op.name
        if isinstance(op, ControlFlowOp):
            if name not in profile.control_flow:
                allowed = ", ".join(sorted(profile.control_flow)) or "no control flow"
                fix = (
                    "use deferred_circuit(model) (no control flow) or " + _LAYERS_FIX
                    if name == "if_else"
                    else f"use only {allowed}"
                )
                problems.append(f"{name} is not supported by {profile.name} (it allows {allowed}); {fix}")
            if depth > 0 and not profile.nested_control_flow:
                problems.append(
                    f"nested control flow ({name} inside a conditional block) is not allowed on {profile.name}; "
                    "flatten it into one if_else per condition"
                )
            condition = _condition_of(op)
            if isinstance(condition, expr.Expr):
                problems.extend(_expr_problems(condition, profile, f"the condition of {name}"))
            for block in op.blocks:
                problems.extend(_walk_problems(block, profile, depth + 1, gates))
            continue
        if name == "store":
            if not profile.store:
                problems.append(f"store (run-time classical assignment) is not supported by {profile.name}")
            problems.extend(_expr_problems(op.rvalue, profile, "store"))
            continue
        if name in ("measure", "reset") and depth > 0 and not profile.measure_in_control_flow:
            problems.append(
                f"{name} inside a conditional block is not allowed on {profile.name}; move it out of the block"
            )
        if (
            not profile.primitive_bound_controlled_params
            and isinstance(op, ControlledGate)
            and any(_is_parametric(p) for p in op.params)
        ):
            problems.append(
                f"{name} has unbound parameters {sorted(str(p) for p in op.params if _is_parametric(p))}; "
                f"{profile.name} ignores parameters of controlled gates bound through a primitive (Qiskit Aer "
                "issue 2323): bind them into the circuit with assign_parameters before running"
            )
        if gates and profile.native_gates is not None and name not in _NON_GATES and name not in profile.native_gates:
            problems.append(
                f"gate {name!r} is not a native gate of {profile.name} and its primitives do not transpile; "
                f"transpile first: transpile_for_target(circuit, {profile.name.split(':')[0]!r})"
            )
    return problems


def mid_circuit_operations(circuit: QuantumCircuit) -> tuple[list[Any], int]:
    """The mid-circuit measurements (their clbits) and the number of mid-circuit resets of ``circuit``.

    A top-level measurement is mid-circuit when its qubit is used again, or its clbit is read or
    written, by a later instruction (barriers aside); a reset is mid-circuit when its qubit was used
    before. Measurements and resets inside control-flow blocks always count as mid-circuit.

    Returns:
        ``(clbits, resets)``: one clbit per mid-circuit measurement, and the mid-circuit reset count.
    """
    data = [inst for inst in circuit.data if inst.operation.name != "barrier"]
    last_qubit: dict[Any, int] = {}
    last_clbit: dict[Any, int] = {}
    for t, inst in enumerate(data):
        for q in inst.qubits:
            last_qubit[q] = t
        for c in inst.clbits:
            last_clbit[c] = t
    clbits: list[Any] = []
    resets = 0
    touched: set[Any] = set()
    for t, inst in enumerate(data):
        op = inst.operation
        if isinstance(op, ControlFlowOp):
            for block in op.blocks:
                for inner in block.data:
                    if inner.operation.name == "measure":
                        clbits.append(inner.clbits[0])
                resets += count_names(block).get("reset", 0)
        elif op.name == "measure":
            if last_qubit[inst.qubits[0]] > t or last_clbit[inst.clbits[0]] > t:
                clbits.append(inst.clbits[0])
        elif op.name == "reset" and inst.qubits[0] in touched:
            resets += 1
        touched.update(inst.qubits)
    return clbits, resets


def count_names(circuit: QuantumCircuit) -> dict[str, int]:
    """How many times each operation name occurs in ``circuit``, counting inside control-flow blocks."""
    counts: dict[str, int] = {}
    for inst in circuit.data:
        counts[inst.operation.name] = counts.get(inst.operation.name, 0) + 1
        if isinstance(inst.operation, ControlFlowOp):
            for block in inst.operation.blocks:
                for k, v in count_names(block).items():
                    counts[k] = counts.get(k, 0) + v
    return counts


def find_violations(circuit: QuantumCircuit, target: Any, *, check_gates: bool = True) -> list[str]:
    """Every rule of ``target`` that ``circuit`` breaks, as messages with the reason and the fix.

    Args:
        circuit: the circuit to check (before or after transpilation).
        target: anything :func:`target_profile` accepts.
        check_gates: also check gate names against the profile's ``native_gates`` (Aer); pass False
            for a circuit that will be transpiled first.

    Returns:
        The problems, empty when the circuit may be submitted.
    """
    profile = target_profile(target)
    problems: list[str] = []
    n_vars = circuit.num_vars + circuit.num_input_vars + circuit.num_captured_vars
    if n_vars and not profile.classical_vars:
        problems.append(
            f"the circuit declares {n_vars} classical variable(s) (add_var/add_input), which {profile.name} "
            "does not run (Aer aborts the whole process on standalone Uint variables); use clbits and registers"
        )
    problems.extend(_walk_problems(circuit, profile, 0, check_gates))
    mid_clbits, resets = mid_circuit_operations(circuit)
    measures = len(mid_clbits)
    if measures and not profile.mid_circuit_measurement:
        problems.append(
            f"{measures} mid-circuit measurement(s) (a qubit used or its result read after measurement) are not "
            f"supported by {profile.name}; use deferred_circuit(model) (all measurements at the end) or " + _LAYERS_FIX
        )
    if resets and not profile.mid_circuit_reset:
        problems.append(
            f"{resets} mid-circuit reset(s) are not supported by {profile.name}; build without reuse_qubits"
        )
    if profile.num_qubits is not None and circuit.num_qubits > profile.num_qubits:
        problems.append(
            f"the circuit needs {circuit.num_qubits} qubits, {profile.name} has {profile.num_qubits}; use "
            "reuse_qubits=True, a narrower network, or " + _LAYERS_FIX
        )
    return list(dict.fromkeys(problems))


def validate_for_target(circuit: QuantumCircuit, target: Any, *, check_gates: bool = True) -> TargetProfile:
    """Check ``circuit`` against the rules of ``target`` before anything is submitted.

    Args:
        circuit: the circuit.
        target: a profile name (``"ibm"``, ``"aer"``, ``"ionq"``, ``"static"``), a backend name, a
            backend, a Target or a :class:`TargetProfile`.
        check_gates: see :func:`find_violations`.

    Returns:
        The :class:`TargetProfile` the circuit satisfies.

    Raises:
        TargetCapabilityError: the circuit breaks a rule; the message names every problem and its fix.
        ConfigurationError: ``target`` is not recognized.
    """
    profile = target_profile(target)
    problems = find_violations(circuit, profile, check_gates=check_gates)
    if problems:
        raise TargetCapabilityError(
            f"circuit {circuit.name!r} cannot run on target {profile.name!r}: " + "; ".join(problems)
        )
    return profile


def check_optimization_level(level: Any, *, maximum: int = 3) -> int:
    """Return ``level`` as an int if it is a transpiler optimization level in ``[0, maximum]``.

    Raises:
        ConfigurationError: not an int (bools are refused) or outside ``[0, maximum]``.

    Example:
        >>> check_optimization_level(9)
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: optimization_level must be 0, 1, 2 or 3, got 9
    """
    allowed = [lv for lv in OPTIMIZATION_LEVELS if lv <= maximum]
    if isinstance(level, (bool, np.bool_)) or not isinstance(level, (int, np.integer)) or level not in allowed:
        names = ", ".join(map(str, allowed[:-1])) + f" or {allowed[-1]}" if len(allowed) > 1 else str(allowed[0])
        raise ConfigurationError(f"optimization_level must be {names}, got {level!r}")
    return int(level)


def transpile_for_target(
    circuit: QuantumCircuit | list[QuantumCircuit],
    target: Any,
    *,
    optimization_level: int = 1,
    seed_transpiler: int | None = None,
    initial_layout: list[int] | None = None,
) -> Any:
    """Validate, then transpile through ``generate_preset_pass_manager`` for a backend or Target.

    Args:
        circuit: a circuit or a list of circuits.
        target: a backend, a Target, or a name: ``"aer"``, ``"ionq"``/``"ionq_aria"``/``"ionq_forte"``
            (offline native gates), an IBM fake backend name. Bare profiles (``"ibm"``, ``"static"``)
            name rules, not devices, and cannot be transpiled for.
        optimization_level: 0 to 3; IonQ targets accept 0 or 1 only (higher levels were reported to
            hang with Qiskit >= 2.5).
        seed_transpiler: seeds the stochastic passes (layout, routing).
        initial_layout: the physical qubit of each virtual qubit (a device's backend or Target only);
            default: the layout passes choose.

    Returns:
        The transpiled circuit (or list).

    Raises:
        TargetCapabilityError: a circuit breaks the target's rules (checked before transpiling).
        ConfigurationError: a profile name without a device, or a bad optimization level.
    """
    if isinstance(target, (str, TargetProfile)):
        key = target.name if isinstance(target, TargetProfile) else target
        if isinstance(target, TargetProfile) and target.backend is not None:
            target = target.backend
        elif str(key).lower() in ("ibm", "static"):
            raise ConfigurationError(
                f"{key!r} names rules, not a device: pass a backend (e.g. 'fake_sherbrooke', FakeTorino()) "
                "or a Target to transpile for"
            )
        else:
            target = get_backend(str(key))
    profile = target_profile(target)
    optimization_level = check_optimization_level(optimization_level)
    if profile.name.startswith("ionq") and optimization_level > 1:
        raise ConfigurationError(
            f"transpile for IonQ at optimization_level 0 or 1, got {optimization_level}; higher levels were "
            "reported to hang with Qiskit >= 2.5"
        )
    circuits = circuit if isinstance(circuit, list) else [circuit]
    for qc in circuits:
        validate_for_target(qc, profile, check_gates=False)
    from qiskit.transpiler import generate_preset_pass_manager

    if profile.name.startswith("aer"):
        # Aer's Target caps the qubit count at what a statevector fits in memory; matrix-product-state
        # runs go far beyond it, so translate to Aer's standard gates without a device size.
        pm = generate_preset_pass_manager(
            optimization_level=optimization_level, basis_gates=_aer_basis(), seed_transpiler=seed_transpiler
        )
    else:
        device = {"target": target} if isinstance(target, Target) else {"backend": target}
        pm = generate_preset_pass_manager(
            optimization_level=optimization_level,
            seed_transpiler=seed_transpiler,
            initial_layout=initial_layout,
            **device,
        )
    out = pm.run(circuits)
    return out if isinstance(circuit, list) else out[0]
