r"""IBM dynamic circuits: the rules a transpiler does not check, counted and applied offline.

* **Per-job budget of conditional operations.** IBM documents (guide "Classical feedforward and
  control flow", 2025) that the control electronics limit the ``if`` statements of a *job* through
  the number of *broadcasts* (transfers of measured bits to the control logic; repeated ``if``
  tests on an unchanged register share one) and of *broadcast bits*: about 300 broadcasts of 60 bits
  or 2400 broadcasts of 1 bit. :func:`conditional_cost` counts both per circuit and
  :func:`max_sets_per_job` fits the linear model through those two points
  (cost = 7.4 per broadcast + 1 per bit, budget 20,200 per job; parameter sets multiply the cost),
  so a sweep of many images is split across jobs before IBM rejects it.
* **Sampler options.** Dynamic circuits cannot be combined with dynamical decoupling or fractional
  gates: :func:`prepare_ibm_sampler` turns dynamical decoupling off on an IBM Runtime sampler for
  them and refuses a backend loaded with fractional gates. It reads and sets attributes only, so the
  core applies it to any Runtime sampler (``sampler_kind`` ``"ibm"``/``"ibm-legacy"``) without
  importing qiskit-ibm-runtime.

Nothing here imports qiskit-ibm-runtime or needs an account.

Example:
    >>> from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    >>> q, c = QuantumRegister(2), ClassicalRegister(2, "h1")
    >>> qc = QuantumCircuit(q, c)
    >>> _ = qc.measure(q, c)
    >>> with qc.if_test((c[0], 1)):
    ...     _ = qc.x(1)
    >>> with qc.if_test((c[1], 1)):
    ...     _ = qc.x(0)
    >>> conditional_cost(qc)  # two broadcasts of one bit each
    (2, 2)
    >>> max_sets_per_job(qc)  # floor(20200 / (2 * 7.4 + 2))
    1202
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from qiskit.circuit import ClassicalRegister, ControlFlowOp, QuantumCircuit
from qiskit.circuit.classical import expr

from qiskit_natural_qnn.exceptions import TargetCapabilityError

__all__ = ["IBM_BROADCAST_COST", "IBM_JOB_BUDGET", "conditional_cost", "max_sets_per_job", "prepare_ibm_sampler"]

#: Cost of one broadcast in broadcast-bit units (fit through IBM's "300 x 60 bits or 2400 x 1 bit").
IBM_BROADCAST_COST = 7.4

#: Budget of one job in broadcast-bit units (same fit: 300 * (7.4 + 60) ~ 2400 * (7.4 + 1) ~ 20,200).
IBM_JOB_BUDGET = 20_200.0


def _bits_of(target: Any) -> list[Any]:
    return list(target) if isinstance(target, ClassicalRegister) else [target]


def _condition_clbits(condition: Any, circuit: QuantumCircuit) -> tuple[Any, ...]:
    if isinstance(condition, tuple):
        return tuple(_bits_of(condition[0]))
    if isinstance(condition, expr.Expr):
        bits: list[Any] = []

        def walk(node: Any) -> None:
            if isinstance(node, expr.Var) and not node.standalone:
                bits.extend(_bits_of(node.var))
            for child in ("left", "right", "operand", "target", "index"):
                if hasattr(node, child):
                    walk(getattr(node, child))

        walk(condition)
        return tuple(dict.fromkeys(bits))
    return ()


def conditional_cost(circuit: QuantumCircuit) -> tuple[int, int]:
    """Broadcasts and broadcast bits of one execution of ``circuit`` (IBM's conditional budget).

    A broadcast is one transfer of measured bits to the control logic: an ``if`` test on bits
    (a bit or a whole register) that were measured since they were last broadcast. Repeated tests of
    unchanged bits share it.

    Returns:
        ``(broadcasts, bits)``.
    """
    version: dict[Any, int] = {}
    sent: set[tuple[Any, ...]] = set()
    broadcasts = bits = 0
    for inst in circuit.data:
        op = inst.operation
        if isinstance(op, ControlFlowOp):
            clbits = _condition_clbits(getattr(op, "condition", None) or getattr(op, "target", None), circuit)
            if clbits:
                key = tuple((b, version.get(b, 0)) for b in clbits)
                if key not in sent:
                    sent.add(key)
                    broadcasts += 1
                    bits += len(clbits)
        for b in inst.clbits:
            if op.name == "measure":
                version[b] = version.get(b, 0) + 1
    return broadcasts, bits


def max_sets_per_job(
    circuit: QuantumCircuit, *, budget: float | None = None, broadcast_cost: float | None = None
) -> int:
    """How many parameter sets of ``circuit`` fit in one IBM job's budget of conditional operations.

    Args:
        circuit: the (transpiled) circuit.
        budget: broadcast-bit units per job (default :data:`IBM_JOB_BUDGET`).
        broadcast_cost: units per broadcast (default :data:`IBM_BROADCAST_COST`).

    Returns:
        At least 1; a circuit without conditionals is not limited (returns a very large number).

    Raises:
        TargetCapabilityError: a single execution of the circuit is over the budget.
    """
    budget = IBM_JOB_BUDGET if budget is None else float(budget)
    broadcast_cost = IBM_BROADCAST_COST if broadcast_cost is None else float(broadcast_cost)
    broadcasts, bits = conditional_cost(circuit)
    cost = broadcasts * broadcast_cost + bits
    if cost == 0:
        return 2**62
    if cost > budget:
        raise TargetCapabilityError(
            f"circuit {circuit.name!r} needs {broadcasts} broadcasts of {bits} measured bits per execution "
            f"(cost {cost:.0f}), over IBM's per-job budget of conditional operations ({budget:.0f}); run the "
            "network layer by layer (mode='layerwise'), which needs no conditionals"
        )
    return max(1, math.floor(budget / cost))


def _runtime_backend(sampler: Any) -> Any:
    backend = getattr(sampler, "backend", None)
    return backend() if callable(backend) else backend


def prepare_ibm_sampler(sampler: Any, *, dynamic: bool) -> None:
    """Set a Runtime sampler's options for the circuits it will run.

    For dynamic circuits: dynamical decoupling off (incompatible with control flow; a warning says
    so if it was on) and no fractional gates on the backend.

    Raises:
        TargetCapabilityError: dynamic circuits on a backend that exposes fractional gates.
    """
    if not dynamic:
        return
    dd = sampler.options.dynamical_decoupling
    if getattr(dd, "enable", None) is True:
        warnings.warn(
            "dynamical decoupling was enabled on the sampler; it is incompatible with dynamic circuits, "
            "so it is turned off for this run",
            stacklevel=3,
        )
    dd.enable = False
    backend = _runtime_backend(sampler)
    uses_fractional = getattr(getattr(backend, "options", None), "use_fractional_gates", False)
    if uses_fractional:
        raise TargetCapabilityError(
            f"backend {getattr(backend, 'name', backend)!r} was loaded with fractional gates, which cannot be "
            "combined with dynamic circuits; get it with service.backend(name, use_fractional_gates=False) "
            "(ibm_backend does) or run mode='layerwise'"
        )
