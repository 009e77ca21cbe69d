r"""What a layer-by-layer run will cost on a device, counted before anything is paid for.

:func:`estimate_cost` builds exactly the circuits that :func:`~qiskit_natural_qnn.experiments.noise.noise_sweep`
and :func:`~qiskit_natural_qnn.execution.run_layerwise` submit -- each hidden layer's circuit with
``copies`` copies side by side (:func:`~qiskit_natural_qnn.execution.packed_layer_circuit`), identity
pairs if asked, transpiled for the device by
:class:`~qiskit_natural_qnn.experiments.noise.IdentityPairTranspiler` -- and counts, per hidden layer:

* **circuits**: parameter sets (bound circuits) executed. Layer 1 runs one set per ``copies`` images
  with ``shots`` shots each; every later layer runs one set per ``copies`` passes with one shot
  (its angles depend on that pass's bits), so it has ``shots`` times more sets;
* **jobs**: one per layer, or more when ``max_sets_per_job`` splits it;
* **qubits** per circuit (active physical qubits), **two-qubit gates** and **measurements** per
  circuit, **mid-circuit measurements** per circuit, and the totals executed over all shots;
* **device time**, when the target reports durations
  (``Target[name][qargs].duration``, as IBM backends do): the circuit's duration from an
  as-soon-as-possible schedule of its instructions (barriers align their qubits), plus the
  repetition delay between shots (``backend.default_rep_delay``, else 250 us), times the shots.
  Queueing, compilation and per-job overheads are not included.

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[4, 2, 2, 2], a=0.5, seed=0)
    >>> cost = estimate_cost(net, backend="fake_perth", n_images=3, shots=10, copies=2)
    >>> [(row.layer, row.circuits, row.shots_per_circuit) for row in cost.layers]
    [(1, 2, 10), (2, 15, 1)]
    >>> cost.jobs, cost.total_shots, cost.device_time_s is not None
    (2, 35, True)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from qiskit.circuit import QuantumCircuit

from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.view import NetworkLike

__all__ = ["DEFAULT_REP_DELAY_S", "CostEstimate", "LayerCost", "circuit_duration", "estimate_cost"]

#: Repetition delay between shots when the backend does not report one (IBM's default, seconds).
DEFAULT_REP_DELAY_S = 250e-6


class LayerCost(NamedTuple):
    """The cost of one hidden layer of a layer-by-layer run.

    Attributes:
        layer: the hidden layer, 1-based.
        copies: copies of the layer circuit side by side per circuit.
        jobs: sampler jobs.
        circuits: parameter sets (bound circuits) executed.
        shots_per_circuit: shots of each parameter set.
        qubits: active physical qubits of the transpiled circuit.
        two_qubit_gates: two-qubit gates per circuit (after transpilation).
        one_qubit_gates: single-qubit gates per circuit.
        measurements: measurements per circuit.
        mid_circuit_measurements: mid-circuit measurements per circuit.
        duration_s: one shot of the circuit (seconds), None when the target reports no durations.
    """

    layer: int
    copies: int
    jobs: int
    circuits: int
    shots_per_circuit: int
    qubits: int
    two_qubit_gates: int
    one_qubit_gates: int
    measurements: int
    mid_circuit_measurements: int
    duration_s: float | None

    @property
    def shots(self) -> int:
        """Shots executed by this layer (``circuits * shots_per_circuit``)."""
        return self.circuits * self.shots_per_circuit


class CostEstimate(NamedTuple):
    """The cost of a whole layer-by-layer run.

    Attributes:
        backend: the device's name.
        n_images: images.
        shots: passes per image.
        pairs: identity pairs per qubit / neighbouring pair, and their gate (``"sx"``/``"cz"``).
        layers: one :class:`LayerCost` per hidden layer.
        rep_delay_s: the delay between shots used for the device time.
        device_time_s: estimated device time (seconds), None when durations are unknown.
    """

    backend: str
    n_images: int
    shots: int
    pairs: tuple[int, str]
    layers: tuple[LayerCost, ...]
    rep_delay_s: float
    device_time_s: float | None

    @property
    def jobs(self) -> int:
        """Sampler jobs in all."""
        return sum(r.jobs for r in self.layers)

    @property
    def circuits(self) -> int:
        """Parameter sets executed in all."""
        return sum(r.circuits for r in self.layers)

    @property
    def total_shots(self) -> int:
        """Shots executed in all."""
        return sum(r.shots for r in self.layers)

    @property
    def max_qubits(self) -> int:
        """The most qubits any job uses."""
        return max(r.qubits for r in self.layers)

    @property
    def two_qubit_gates_executed(self) -> int:
        """Two-qubit gates executed over every shot of every circuit."""
        return sum(r.two_qubit_gates * r.shots for r in self.layers)

    @property
    def mid_circuit_measurements_executed(self) -> int:
        """Mid-circuit measurements executed over every shot."""
        return sum(r.mid_circuit_measurements * r.shots for r in self.layers)

    def table(self) -> str:
        """The estimate as an aligned text table."""
        head = (
            "layer",
            "copies",
            "jobs",
            "circuits",
            "shots/circ",
            "qubits",
            "2q/circ",
            "1q/circ",
            "meas/circ",
            "mid-meas",
            "us/shot",
        )
        rows = [head]
        for r in self.layers:
            rows.append(
                (
                    f"h{r.layer}",
                    str(r.copies),
                    str(r.jobs),
                    str(r.circuits),
                    str(r.shots_per_circuit),
                    str(r.qubits),
                    str(r.two_qubit_gates),
                    str(r.one_qubit_gates),
                    str(r.measurements),
                    str(r.mid_circuit_measurements),
                    "?" if r.duration_s is None else f"{r.duration_s * 1e6:.2f}",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
        lines = [
            f"layer-by-layer run on {self.backend}: {self.n_images} images x {self.shots} passes"
            + (f", {self.pairs[0]} {self.pairs[1]} identity pairs" if self.pairs[0] else "")
        ]
        for n, row in enumerate(rows):
            lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        time = (
            "unknown (the target reports no durations)"
            if self.device_time_s is None
            else f"{self.device_time_s:.3f} s (circuit time + {self.rep_delay_s * 1e6:.0f} us per shot; "
            "no queue, compilation or job overheads)"
        )
        lines.append(
            f"total: {self.jobs} jobs, {self.circuits} circuits, {self.total_shots} shots, at most "
            f"{self.max_qubits} qubits per job, {self.two_qubit_gates_executed} two-qubit gates and "
            f"{self.mid_circuit_measurements_executed} mid-circuit measurements executed"
        )
        lines.append(f"estimated device time: {time}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def circuit_duration(circuit: QuantumCircuit, target: Any) -> float | None:
    """One shot of a transpiled circuit (seconds) from an as-soon-as-possible schedule, or None.

    Each instruction starts when all its qubits are free and lasts ``target[name][qargs].duration``;
    a barrier aligns its qubits; ``rz`` and other instructions without a duration take no time.

    Returns:
        The duration, or None when the target reports no duration at all.

    Example:
        >>> from qiskit import QuantumCircuit
        >>> from qiskit_natural_qnn.transpile import get_backend
        >>> qc = QuantumCircuit(1, 1)
        >>> _ = qc.sx(0); _ = qc.measure(0, 0)
        >>> target = get_backend("fake_perth").target
        >>> circuit_duration(qc, target) == target["sx"][(0,)].duration + target["measure"][(0,)].duration
        True
    """
    if target is None:
        return None
    free: dict[int, float] = {}
    known = False
    for inst in circuit.data:
        qargs = tuple(circuit.find_bit(q).index for q in inst.qubits)
        start = max((free.get(q, 0.0) for q in qargs), default=0.0)
        duration = 0.0
        name = inst.operation.name
        if name != "barrier" and name in target.operation_names:
            props = target[name].get(qargs) if target[name] is not None else None
            if props is not None and props.duration is not None:
                duration = float(props.duration)
                known = True
        for q in qargs:
            free[q] = start + duration
    return max(free.values(), default=0.0) if known else None


def estimate_cost(
    model: NetworkLike,
    *,
    backend: Any,
    n_images: int,
    shots: int,
    copies: int | str = 1,
    pairs: int = 0,
    gate: str = "sx",
    optimization_level: int = 1,
    seed_transpiler: int | None = 0,
    max_sets_per_job: int | None = None,
    rep_delay_s: float | None = None,
    pass_manager: Any = None,
    max_instructions: int | None = None,
) -> CostEstimate:
    """Count the jobs, circuits, shots, qubits, gates and device time of a layer-by-layer run.

    Args:
        model: the network.
        backend: a ``BackendV2`` (IBM fake or real), a Target, or a device name
            (:func:`~qiskit_natural_qnn.transpile.devices.parse_device`: ``"fake_torino"``, ``"ionq_forte"``...).
        n_images: images to classify.
        shots: passes per image.
        copies: copies side by side per circuit, or ``"auto"`` (as many as fit on the device with
            neighbouring neurons on coupled qubits, as :func:`~.noise.noise_sweep` packs them).
        pairs: identity pairs (see :class:`~qiskit_natural_qnn.experiments.noise.IdentityPairs`).
        gate: their gate.
        optimization_level: of the transpiler.
        seed_transpiler: seeds the transpiler.
        max_sets_per_job: split layers into jobs of at most this many parameter sets.
        rep_delay_s: delay between shots (default: the backend's ``default_rep_delay``, else 250 us).
        pass_manager: count the circuits this pass manager makes instead (e.g. the one a sampler
            setup uses); default :class:`~qiskit_natural_qnn.experiments.noise.IdentityPairTranspiler`.
        max_instructions: the most instructions a layer circuit with its pairs may hold (default
            :data:`~qiskit_natural_qnn.limits.MAX_INSTRUCTIONS`), checked before any circuit is built.

    Returns:
        The :class:`CostEstimate`; ``print(estimate)`` shows a table.

    Raises:
        ConfigurationError: ``n_images`` or ``shots`` not an int ``>= 1``, bad ``copies``, a device
            name with no offline device (``ibm:NAME``: pass the backend), or pairs that would make a
            circuit exceed ``max_instructions``.
        MissingExtraError: ``fake_NAME`` without qiskit-ibm-runtime (the ``[ibm]`` extra).
    """
    from qiskit_natural_qnn.circuits import layer_circuit
    from qiskit_natural_qnn.execution.packing import packed_layer_circuit, split_sets
    from qiskit_natural_qnn.experiments.noise import (
        IdentityPairs,
        IdentityPairTranspiler,
        check_pairs_fit,
        coupled_copies,
    )
    from qiskit_natural_qnn.transpile import circuit_resources
    from qiskit_natural_qnn.transpile.devices import device_name, get_backend, target_of

    for name, value in (("n_images", n_images), ("shots", shots)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}; pass e.g. {name}=10")
    if copies != "auto" and (isinstance(copies, bool) or not isinstance(copies, int) or copies < 1):
        raise ConfigurationError(f"copies must be an int >= 1 or 'auto', got {copies!r}; pass e.g. copies='auto'")
    if isinstance(backend, str):
        backend = get_backend(backend)
    spec = IdentityPairs(pairs=pairs, gate=gate)
    target = target_of(backend)
    pm = pass_manager or IdentityPairTranspiler(
        backend,
        pairs=spec.pairs,
        gate=spec.gate,
        optimization_level=optimization_level,
        seed_transpiler=seed_transpiler,
        max_instructions=max_instructions,
    )
    if rep_delay_s is None:
        rep_delay_s = getattr(backend, "default_rep_delay", None) or DEFAULT_REP_DELAY_S
    n_copies = copies if isinstance(copies, int) else coupled_copies(model, backend)
    check_pairs_fit(model, pairs=[spec.pairs], gate=spec.gate, copies=n_copies, max_instructions=max_instructions)
    rows = []
    for k in range(1, len(model.hidden_sizes) + 1):
        lc = layer_circuit(model, layer=k)
        isa = pm.run(packed_layer_circuit(lc, n_copies).circuit)
        res = circuit_resources(isa)
        n_rows, per_set = (n_images, shots) if k == 1 else (n_images * shots, 1)
        n_sets = math.ceil(n_rows / n_copies)
        rows.append(
            LayerCost(
                layer=k,
                copies=n_copies,
                jobs=len(split_sets(n_sets, max_sets_per_job)),
                circuits=n_sets,
                shots_per_circuit=per_set,
                qubits=res.qubits,
                two_qubit_gates=res.two_qubit_gates,
                one_qubit_gates=res.one_qubit_gates,
                measurements=isa.count_ops().get("measure", 0),
                mid_circuit_measurements=res.mid_circuit_measurements,
                duration_s=circuit_duration(isa, target),
            )
        )
    durations = [r.duration_s for r in rows]
    device_time = None
    if all(d is not None for d in durations):
        device_time = sum(r.shots * (float(d or 0.0) + rep_delay_s) for r, d in zip(rows, durations))
    return CostEstimate(
        device_name(backend),
        int(n_images),
        int(shots),
        (spec.pairs, spec.gate),
        tuple(rows),
        float(rep_delay_s),
        device_time,
    )
