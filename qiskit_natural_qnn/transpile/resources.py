"""Per-layer resource reports: what each hidden layer costs on a target, and whether it can run there.

:func:`resource_report` builds the network's circuits (layer circuits, the dynamic circuit or the
deferred circuit), transpiles each hidden layer's part for the target when the target is a device
(a backend or a Target), and counts qubits, depth, one- and two-qubit gates, mid-circuit
measurements, resets and conditional blocks. Each row also says which of these features the target
lacks. The ``total`` row is the whole circuit transpiled at once, so it can differ from the sum of
the layer rows (the transpiler optimizes and routes across layers).

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[4, 2, 2, 2], a=1.0, stretch="linear", seed=0)
    >>> report = resource_report(net, mode="dynamic", target="ionq")
    >>> [row.conditional_blocks for row in report.layers], report.total.supported
    ([0, 2], False)
    >>> report.total.unsupported
    ('if_else',)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qiskit.circuit import ControlFlowOp, QuantumCircuit

from qiskit_natural_qnn.circuits.deferred import deferred_circuit
from qiskit_natural_qnn.circuits.dynamic import dynamic_circuit
from qiskit_natural_qnn.circuits.layers import layer_circuits
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.transpile.devices import get_backend
from qiskit_natural_qnn.transpile.targets import (
    TargetProfile,
    count_names,
    find_violations,
    mid_circuit_operations,
    target_profile,
    transpile_for_target,
)
from qiskit_natural_qnn.view import NetworkLike, network_view

__all__ = ["MODES", "LayerResources", "ResourceReport", "circuit_resources", "resource_report"]

#: How a network is turned into circuits.
MODES: tuple[str, ...] = ("layers", "dynamic", "deferred")

_NON_GATES = frozenset({"measure", "reset", "barrier", "delay", "store"})


@dataclass(frozen=True)
class LayerResources:
    """What one hidden layer (or a whole circuit) costs.

    Attributes:
        layer: ``"h1"``, ``"h2"``... for a hidden layer, ``"total"`` for the whole circuit.
        qubits: qubits the part acts on (active qubits, not the device's size).
        depth: circuit depth (barriers aside; a conditional block counts as one layer of depth).
        one_qubit_gates: single-qubit gates, including those inside conditional blocks.
        two_qubit_gates: gates on two or more qubits, including those inside conditional blocks.
        mid_circuit_measurements: measurements whose qubit is used, or result read, later.
        resets: mid-circuit resets (a qubit reset after it was used).
        conditional_blocks: control-flow operations (``if_else`` blocks).
        unsupported: the features of this part that the target lacks (``"if_else"``,
            ``"mid-circuit measurement"``, ``"reset"``, ``"qubits"``, or another rule it breaks).
        transpiled: True when the counts are for the circuit transpiled for the target device.
    """

    layer: str
    qubits: int
    depth: int
    one_qubit_gates: int
    two_qubit_gates: int
    mid_circuit_measurements: int
    resets: int
    conditional_blocks: int
    unsupported: tuple[str, ...] = ()
    transpiled: bool = False

    @property
    def supported(self) -> bool:
        """True when the target supports everything this part uses."""
        return not self.unsupported


_COLUMNS = ("layer", "qubits", "depth", "1q gates", "2q gates", "mid-meas", "resets", "cond. blocks", "target supports")


@dataclass(frozen=True)
class ResourceReport:
    """A per-layer resource report for one target.

    Attributes:
        target: the target's name (``"logical"`` when no target was given).
        mode: ``"layers"``, ``"dynamic"`` or ``"deferred"``.
        construction: the feedforward construction (``"linear"``, ``"lookup"``, ``"deferred"``), or
            ``"layers"`` for layer-by-layer execution.
        layers: one row per hidden layer.
        total: the whole circuit (for ``layers`` mode: the layer circuits together, run one after
            the other: summed counts and depth, the largest qubit count).
    """

    target: str
    mode: str
    construction: str
    layers: tuple[LayerResources, ...]
    total: LayerResources

    def table(self) -> str:
        """The report as an aligned text table."""
        rows = [_COLUMNS]
        for r in (*self.layers, self.total):
            rows.append(
                (
                    r.layer,
                    str(r.qubits),
                    str(r.depth),
                    str(r.one_qubit_gates),
                    str(r.two_qubit_gates),
                    str(r.mid_circuit_measurements),
                    str(r.resets),
                    str(r.conditional_blocks),
                    "yes" if r.supported else "no: " + ", ".join(r.unsupported),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
        lines = [
            f"{self.mode} circuit ({self.construction}) on target {self.target!r}"
            + ("" if self.total.transpiled else " (logical counts, not transpiled)")
        ]
        for n, row in enumerate(rows):
            # the layer name left-aligned, numbers (and the support column) right-aligned
            cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _gate_counts(circuit: QuantumCircuit) -> tuple[int, int, int]:
    """``(one-qubit gates, multi-qubit gates, control-flow blocks)``, recursing into blocks."""
    one = two = blocks = 0
    for inst in circuit.data:
        op = inst.operation
        if isinstance(op, ControlFlowOp):
            blocks += 1
            for block in op.blocks:
                o, t, b = _gate_counts(block)
                one, two, blocks = one + o, two + t, blocks + b
        elif op.name not in _NON_GATES:
            if op.num_qubits == 1:
                one += 1
            elif op.num_qubits >= 2:
                two += 1
    return one, two, blocks


def _active_qubits(circuit: QuantumCircuit) -> int:
    return len({q for inst in circuit.data if inst.operation.name != "barrier" for q in inst.qubits})


def _unsupported(row: LayerResources, profile: TargetProfile | None, circuit: QuantumCircuit) -> tuple[str, ...]:
    if profile is None:
        return ()
    missing = []
    if row.conditional_blocks and not profile.dynamic:
        missing.append("if_else")
    if row.mid_circuit_measurements and not profile.mid_circuit_measurement:
        missing.append("mid-circuit measurement")
    if row.resets and not profile.mid_circuit_reset:
        missing.append("reset")
    if profile.num_qubits is not None and circuit.num_qubits > profile.num_qubits:
        missing.append("qubits")
    if not missing:
        missing.extend(find_violations(circuit, profile, check_gates=False)[:1])
    return tuple(missing)


def circuit_resources(
    circuit: QuantumCircuit,
    *,
    label: str = "total",
    target: Any = None,
    mid_circuit_measurements: int | None = None,
    resets: int | None = None,
    transpiled: bool = False,
) -> LayerResources:
    """Count the resources of one circuit.

    Args:
        circuit: the circuit (logical or transpiled).
        label: the row label.
        target: optional target (anything :func:`~.targets.target_profile` accepts) to fill ``unsupported``.
        mid_circuit_measurements: override the count (for a layer cut out of a larger circuit, where
            only the whole circuit knows which measurements are read later).
        resets: override the mid-circuit reset count (same reason).
        transpiled: whether ``circuit`` is transpiled for ``target``.

    Example:
        >>> from qiskit import QuantumCircuit
        >>> qc = QuantumCircuit(2, 1)
        >>> _ = qc.h(0); _ = qc.measure(0, 0)
        >>> with qc.if_test((qc.clbits[0], 1)):
        ...     _ = qc.x(1)
        >>> r = circuit_resources(qc, target="static")
        >>> r.mid_circuit_measurements, r.conditional_blocks, r.unsupported
        (1, 1, ('if_else', 'mid-circuit measurement'))
    """
    profile = None if target is None else target_profile(target)
    one, two, blocks = _gate_counts(circuit)
    mid_clbits, mid_resets = mid_circuit_operations(circuit)
    row = LayerResources(
        layer=label,
        qubits=_active_qubits(circuit),
        depth=circuit.depth(filter_function=lambda inst: inst.operation.name != "barrier"),
        one_qubit_gates=one,
        two_qubit_gates=two,
        mid_circuit_measurements=len(mid_clbits) if mid_circuit_measurements is None else mid_circuit_measurements,
        resets=mid_resets if resets is None else resets,
        conditional_blocks=blocks,
        transpiled=transpiled,
    )
    return LayerResources(**{**row.__dict__, "unsupported": _unsupported(row, profile, circuit)})


def _maybe_transpile(
    circuit: QuantumCircuit, profile: TargetProfile | None, level: int, seed: int | None
) -> tuple[QuantumCircuit, bool]:
    """Transpile for the profile's device when there is one and the circuit may run on it."""
    if profile is None or profile.backend is None or find_violations(circuit, profile, check_gates=False):
        return circuit, False
    return transpile_for_target(circuit, profile, optimization_level=level, seed_transpiler=seed), True


def resource_report(
    model: NetworkLike,
    *,
    mode: str = "dynamic",
    construction: str = "auto",
    target: Any = None,
    reuse_qubits: bool = False,
    optimization_level: int = 1,
    seed_transpiler: int | None = 0,
) -> ResourceReport:
    """A per-layer resource report of ``model``'s circuits on ``target``.

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or its view.
        mode: ``"layers"`` (one circuit per hidden layer), ``"dynamic"`` or ``"deferred"``.
        construction: for ``dynamic``: ``"linear"``, ``"lookup"`` or ``"auto"``.
        target: None (logical counts); ``"ibm"`` or ``"static"`` (logical counts checked against
            those rules); or a device: a backend, a Target, or a name for :func:`~.targets.get_backend`
            (``"aer"``, ``"ionq"``, ``"ionq_forte"``, ``"fake_sherbrooke"``...): counts after
            transpilation. Parts the device cannot run are counted untranspiled and flagged.
        reuse_qubits: for ``dynamic``: reset and reuse qubits between layers.
        optimization_level: transpiler optimization level (IonQ: 0 or 1).
        seed_transpiler: seeds layout and routing, so reports are reproducible.

    Returns:
        A :class:`ResourceReport`; ``print(report)`` shows a table.

    Raises:
        CircuitNotExactError: the chosen single-circuit construction is not exact for this network.
        ConfigurationError: unknown mode or target.
    """
    if mode not in MODES:
        raise ConfigurationError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(target, str) and target.lower() not in ("ibm", "static"):
        target = get_backend(target)  # "aer", "ionq", "fake_torino"...: a device to transpile for
    profile = None if target is None else target_profile(target)
    name = "logical" if profile is None else profile.name
    view = network_view(model)
    if mode == "layers":
        rows = []
        for lc in layer_circuits(view):
            qc, done = _maybe_transpile(lc.circuit, profile, optimization_level, seed_transpiler)
            rows.append(circuit_resources(qc, label=lc.register.name, target=profile, transpiled=done))
        total = LayerResources(
            layer="total",
            qubits=max(r.qubits for r in rows),
            depth=sum(r.depth for r in rows),
            one_qubit_gates=sum(r.one_qubit_gates for r in rows),
            two_qubit_gates=sum(r.two_qubit_gates for r in rows),
            mid_circuit_measurements=0,
            resets=0,
            conditional_blocks=0,
            unsupported=tuple(dict.fromkeys(u for r in rows for u in r.unsupported)),
            transpiled=all(r.transpiled for r in rows),
        )
        return ResourceReport(name, mode, "layers", tuple(rows), total)
    nc = (
        deferred_circuit(view)
        if mode == "deferred"
        else dynamic_circuit(view, construction=construction, reuse_qubits=reuse_qubits)
    )
    mid_clbits, _ = mid_circuit_operations(nc.circuit)
    rows = []
    for register, segment in zip(nc.layer_registers, nc.layer_segments):
        mids = sum(1 for c in mid_clbits if c in set(register))
        qc, done = _maybe_transpile(segment, profile, optimization_level, seed_transpiler)
        rows.append(
            circuit_resources(
                qc,
                label=register.name,
                target=profile,
                mid_circuit_measurements=mids,
                # a layer's resets re-use qubits of earlier layers: mid-circuit in the whole circuit
                resets=count_names(segment).get("reset", 0),
                transpiled=done,
            )
        )
    qc, done = _maybe_transpile(nc.circuit, profile, optimization_level, seed_transpiler)
    total = circuit_resources(qc, label="total", target=profile, transpiled=done)
    return ResourceReport(name, mode, nc.construction, tuple(rows), total)
