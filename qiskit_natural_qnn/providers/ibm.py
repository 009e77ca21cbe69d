r"""IBM Quantum: Runtime samplers, local testing mode, options for dynamic circuits, per-job budgets.

* **Sampler.** ``qiskit_ibm_runtime.executor_sampler.Sampler`` (current; the older
  ``qiskit_ibm_runtime.SamplerV2`` is deprecated since 0.50 but still accepted everywhere).
  ``mode`` decides where it runs: a fake backend or an ``AerSimulator`` runs locally (local testing
  mode: the same code path offline, with the fake backend's noise model unless
  :func:`local_backend` strips it); a :class:`~qiskit_ibm_runtime.Session` (layer-by-layer runs:
  the jobs of one run follow each other), a :class:`~qiskit_ibm_runtime.Batch` (sweeps: independent
  jobs) or a real backend runs in the cloud.
* **Dynamic circuits** cannot be combined with dynamical decoupling or fractional gates:
  :func:`prepare_ibm_sampler` turns dynamical decoupling off for them, and
  :func:`ibm_backend` gets devices with ``use_fractional_gates=False``.
* **Per-job budget of conditional operations.** IBM documents (guide "Classical feedforward and
  control flow", 2025) that the control electronics limit the ``if`` statements of a *job* through
  the number of *broadcasts* (transfers of measured bits to the control logic; repeated ``if``
  tests on an unchanged register share one) and of *broadcast bits*: about 300 broadcasts of 60 bits
  or 2400 broadcasts of 1 bit. :func:`conditional_cost` counts both per circuit and
  :func:`max_sets_per_job` fits the linear model through those two points
  (cost = 7.4 per broadcast + 1 per bit, budget 20,200 per job; parameter sets multiply the cost),
  so a sweep of many images is split across jobs before IBM rejects it.
* **Credentials** come only from the saved account (``QiskitRuntimeService.save_account``) or the
  environment (``QISKIT_IBM_TOKEN``, optional ``QISKIT_IBM_INSTANCE`` and ``QISKIT_IBM_CHANNEL``);
  they are never printed or written.

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
import os
import warnings
from collections.abc import Callable
from typing import Any

from qiskit.circuit import ClassicalRegister, ControlFlowOp, QuantumCircuit
from qiskit.circuit.classical import expr

from qiskit_natural_qnn.exceptions import ConfigurationError, TargetCapabilityError

__all__ = [
    "EXECUTION_MODES",
    "IBM_BROADCAST_COST",
    "IBM_JOB_BUDGET",
    "IBM_TOKEN_ENV",
    "conditional_cost",
    "has_ibm_credentials",
    "ibm_backend",
    "ibm_service",
    "job_fetcher",
    "local_backend",
    "max_sets_per_job",
    "open_execution_mode",
    "prepare_ibm_sampler",
    "runtime_sampler",
]

#: Cost of one broadcast in broadcast-bit units (fit through IBM's "300 x 60 bits or 2400 x 1 bit").
IBM_BROADCAST_COST = 7.4

#: Budget of one job in broadcast-bit units (same fit: 300 * (7.4 + 60) ~ 2400 * (7.4 + 1) ~ 20,200).
IBM_JOB_BUDGET = 20_200.0

#: Environment variable holding an IBM Quantum API key (used when no account is saved).
IBM_TOKEN_ENV = "QISKIT_IBM_TOKEN"

#: How cloud jobs are grouped: ``"session"`` (layer-by-layer runs), ``"batch"`` (sweeps), ``"job"``.
EXECUTION_MODES: tuple[str, ...] = ("session", "batch", "job")


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


def has_ibm_credentials() -> bool:
    """True when an IBM account is saved or ``QISKIT_IBM_TOKEN`` is set (nothing is read aloud)."""
    if os.environ.get(IBM_TOKEN_ENV):
        return True
    try:
        from qiskit_ibm_runtime import QiskitRuntimeService

        return bool(QiskitRuntimeService.saved_accounts())
    except Exception:  # noqa: BLE001 - no readable account file
        return False


def ibm_service() -> Any:
    """A ``QiskitRuntimeService`` from the environment (``QISKIT_IBM_TOKEN``...) or the saved account.

    Raises:
        ConfigurationError: no credentials (the message says how to provide them; it never shows any).
    """
    from qiskit_ibm_runtime import QiskitRuntimeService

    token = os.environ.get(IBM_TOKEN_ENV)
    try:
        if token:
            return QiskitRuntimeService(
                channel=os.environ.get("QISKIT_IBM_CHANNEL", "ibm_quantum_platform"),
                token=token,
                instance=os.environ.get("QISKIT_IBM_INSTANCE") or None,
            )
        return QiskitRuntimeService()
    except Exception as exc:  # noqa: BLE001 - the service's own errors may echo account details
        raise ConfigurationError(
            f"cannot connect to IBM Quantum ({type(exc).__name__}); save an account with "
            f"QiskitRuntimeService.save_account(...) or set {IBM_TOKEN_ENV}"
        ) from None


def ibm_backend(name: str, *, service: Any = None) -> Any:
    """The IBM device ``name`` without fractional gates (so dynamic circuits are allowed)."""
    service = service or ibm_service()
    return service.backend(name, use_fractional_gates=False)


def _fake_backend(name: str) -> Any:
    from qiskit_ibm_runtime import fake_provider

    from qiskit_natural_qnn.transpile import get_backend

    key = name if name.lower().startswith("fake") else f"fake_{name}"
    try:
        return get_backend(key)
    except ConfigurationError:
        stem = key[5:] if key.lower().startswith("fake_") else key[4:]
        cls = getattr(fake_provider, "Fake" + "".join(p[:1].upper() + p[1:] for p in stem.split("_")) + "V2", None)
        if cls is None:
            raise
        return cls()


def local_backend(name: str, *, noise: bool = True) -> Any:
    """A fake IBM backend for local testing mode, with its noise model or without (``noise=False``).

    Without noise the result is an ``AerSimulator`` with the fake device's target (gates, coupling
    map, qubit count) and no noise model, which Runtime samplers also accept as ``mode``.

    Example:
        >>> local_backend("fake_manila", noise=False).options.noise_model is None
        True
    """
    backend = _fake_backend(name)
    if noise:
        return backend
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(backend, noise_model=None)


def runtime_sampler(mode: Any, *, default_shots: int = 1024) -> Any:
    """The current Runtime sampler, ``qiskit_ibm_runtime.executor_sampler.Sampler(mode=mode)``."""
    from qiskit_ibm_runtime.executor_sampler import Sampler

    sampler = Sampler(mode=mode)
    sampler.options.default_shots = int(default_shots)
    return sampler


def open_execution_mode(backend: Any, execution: str = "session") -> Any:
    """A ``Session`` (``"session"``), ``Batch`` (``"batch"``) or the backend itself (``"job"``).

    Raises:
        ConfigurationError: an unknown execution mode.
    """
    if execution not in EXECUTION_MODES:
        raise ConfigurationError(f"execution must be one of {', '.join(EXECUTION_MODES)}, got {execution!r}")
    if execution == "job":
        return backend
    from qiskit_ibm_runtime import Batch, Session

    return (Session if execution == "session" else Batch)(backend=backend)


def job_fetcher(service: Any) -> Callable[[str], Any]:
    """``job_id -> result`` through ``service.job(job_id).result()`` (for :class:`~.records.RunRecord`)."""

    def fetch(job_id: str) -> Any:
        return service.job(job_id).result()

    return fetch
