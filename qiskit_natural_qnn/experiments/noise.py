r"""Noise injection: identity pairs of gates that amplify device noise (hardware follow-up, arXiv:2507.21222).

The follow-up benchmarked noise by inserting gate pairs that multiply to the identity into every
hidden layer's circuit and sweeping their number ``n``:

* ``gate="sx"``: after each neuron qubit's rotation, ``n`` pairs ``(SX, SX^dagger)`` on that qubit;
* ``gate="cz"``: after the rotations, ``n`` pairs ``(CZ, CZ^dagger)`` on neighbouring neurons
  ``(0, 1), (2, 3), ...`` of every copy of the layer packed into the circuit (an odd last neuron
  gets none); :func:`coupled_layout` places each such pair on two coupled physical qubits, so no
  SWAP is ever inserted.

In an ideal simulation the pairs change nothing. On a device every gate adds its error, so the
success rate falls as ``n`` grows. :func:`noise_sweep` measures that curve on any sampler: a device's
sampler, or one that simulates the device with its noise model
(``qiskit_natural_qnn.providers.noisy_setup``, ``make_sampler``).

**Protection.** A transpiler cancels ``SX SX^dagger`` and ``CZ CZ`` at optimization level 1 and
above (measured on IBM fake backends with Qiskit 2.6: at levels 1-3 every unprotected pair is gone).
Here every gate of a pair sits between two *labelled barriers* (label :data:`PAIR_LABEL_SX` or
:data:`PAIR_LABEL_CZ`): ``[B, G, B, G^dagger] * n + [B]``. No optimization pass reorders or merges
gates across a barrier, so each gate survives levels 0-3 (translated into the device's basis, e.g.
``SX^dagger`` into ``rz sx rz``, ``CZ`` into ``ecr`` and single-qubit gates on Eagle devices), and
the barriers keep their labels through layout and routing, which lets :func:`find_identity_pairs`
count the pairs of a transpiled circuit and check that each segment between two barriers is still
the right unitary.

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> from qiskit_natural_qnn.circuits import layer_circuit
    >>> net = NaturalQNN(layer_sizes=[4, 4, 2], a=0.5, seed=0)
    >>> qc = insert_identity_pairs(layer_circuit(net, layer=1).circuit, pairs=2, gate="cz")
    >>> qc.count_ops()["cz"], qc.metadata["identity_pairs"]
    (8, {'pairs': 2, 'gate': 'cz'})
    >>> sorted((f.qubits, f.pairs) for f in find_identity_pairs(qc))
    [((0, 1), 2), ((2, 3), 2)]
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit.circuit import Barrier, Instruction, QuantumCircuit, Qubit
from qiskit.circuit.library import CZGate, SXdgGate, SXGate
from qiskit.quantum_info import Operator

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError, TargetCapabilityError
from qiskit_natural_qnn.execution.samplers import SamplerSetup
from qiskit_natural_qnn.limits import check_instructions
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.randomness import check_seed
from qiskit_natural_qnn.transpile.devices import device_name, get_backend, target_of
from qiskit_natural_qnn.transpile.targets import TargetProfile, check_optimization_level
from qiskit_natural_qnn.view import NetworkLike

__all__ = [
    "PAIR_GATES",
    "PAIR_LABEL_CZ",
    "PAIR_LABEL_SX",
    "FoundPairs",
    "IdentityPairTranspiler",
    "IdentityPairs",
    "coupled_copies",
    "coupled_layout",
    "check_pairs_fit",
    "find_identity_pairs",
    "identity_pair_instructions",
    "insert_identity_pairs",
    "neighbour_pairs",
    "neuron_copies",
    "noise_sweep",
]

_LOG = logging.getLogger(__name__)

#: The gates of identity pairs: ``"sx"`` (single-qubit) and ``"cz"`` (two-qubit).
PAIR_GATES: tuple[str, ...] = ("sx", "cz")

#: Label of the barriers around single-qubit pair gates.
PAIR_LABEL_SX = "qnqnn-pair-sx"
#: Label of the barriers around two-qubit pair gates.
PAIR_LABEL_CZ = "qnqnn-pair-cz"

_LABELS = {"sx": PAIR_LABEL_SX, "cz": PAIR_LABEL_CZ}
_GATES = {"sx": (SXGate(), SXdgGate()), "cz": (CZGate(), CZGate())}


@dataclass(frozen=True)
class IdentityPairs:
    """How many identity pairs of which gate to insert into every layer circuit.

    Attributes:
        pairs: pairs per neuron qubit (``sx``) or per neighbouring neuron pair (``cz``), ``>= 0``.
        gate: ``"sx"`` (``SX, SX^dagger``) or ``"cz"`` (``CZ, CZ^dagger = CZ``).

    Raises:
        ConfigurationError: ``pairs`` not an int ``>= 0`` or an unknown gate.

    Example:
        >>> IdentityPairs(pairs=3, gate="cz")
        IdentityPairs(pairs=3, gate='cz')
        >>> IdentityPairs(pairs=-1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: pairs must be an int >= 0, got -1; pass e.g. pairs=20 ...
    """

    pairs: int = 0
    gate: str = "sx"

    def __post_init__(self) -> None:
        if isinstance(self.pairs, bool) or not isinstance(self.pairs, (int, np.integer)) or self.pairs < 0:
            raise ConfigurationError(
                f"pairs must be an int >= 0, got {self.pairs!r}; pass e.g. pairs=20 (0 inserts nothing)"
            )
        object.__setattr__(self, "pairs", int(self.pairs))
        if self.gate not in PAIR_GATES:
            raise ConfigurationError(f"unknown pair gate {self.gate!r}; expected one of {', '.join(PAIR_GATES)}")

    @property
    def label(self) -> str:
        """The label of this gate's barriers."""
        return _LABELS[self.gate]


def neuron_copies(circuit: QuantumCircuit) -> list[list[Qubit]]:
    """The neuron qubits of each copy of a layer circuit packed into ``circuit``.

    A layer circuit (:func:`~qiskit_natural_qnn.circuits.layer_circuit`) has one register
    ``neuron``; a packed one (:func:`~qiskit_natural_qnn.execution.packing.packed_layer_circuit`)
    holds ``copies`` copies side by side in one register ``neuron`` of ``copies * width`` qubits
    (``metadata["copies"]``), copy ``c`` on qubits ``c * width ...``.

    Raises:
        InputError: the circuit has no ``neuron`` register, or its size is not a multiple of its copies.

    Example:
        >>> from qiskit import QuantumRegister
        >>> qc = QuantumCircuit(QuantumRegister(6, "neuron"), metadata={"copies": 3})
        >>> [[qc.find_bit(q).index for q in copy] for copy in neuron_copies(qc)]
        [[0, 1], [2, 3], [4, 5]]
    """
    regs = [r for r in circuit.qregs if r.name == "neuron"]
    if not regs:
        raise InputError(
            f"circuit {circuit.name!r} has no quantum register named 'neuron' (registers: "
            f"{[r.name for r in circuit.qregs]}); insert identity pairs into layer circuits built by "
            "qiskit_natural_qnn.circuits.layer_circuit (packed or not)"
        )
    reg = regs[0]
    copies = int((circuit.metadata or {}).get("copies", 1))
    if copies < 1 or reg.size % copies:
        raise InputError(
            f"register 'neuron' has {reg.size} qubits, not a multiple of metadata['copies'] = {copies}; "
            "pack layer circuits with packed_layer_circuit"
        )
    width = reg.size // copies
    return [list(reg[c * width : (c + 1) * width]) for c in range(copies)]


def neighbour_pairs(copies: Sequence[Sequence[Qubit]]) -> list[tuple[Qubit, Qubit]]:
    """Neighbouring neurons ``(0, 1), (2, 3), ...`` of every copy (an odd last neuron has no partner)."""
    return [(copy[i], copy[i + 1]) for copy in copies for i in range(0, len(copy) - 1, 2)]


def _append_pairs(qc: QuantumCircuit, qubits: Sequence[Qubit], spec: IdentityPairs) -> None:
    gate, inverse = _GATES[spec.gate]
    barrier = Barrier(len(qubits), label=spec.label)
    for _ in range(spec.pairs):
        qc.append(barrier, qubits)
        qc.append(gate, qubits)
        qc.append(barrier, qubits)
        qc.append(inverse, qubits)
    qc.append(barrier, qubits)


def identity_pair_instructions(circuit: QuantumCircuit, *, pairs: int, gate: str = "sx") -> int:
    """The instructions :func:`insert_identity_pairs` would give ``circuit``, counted without building it.

    Each qubit (``sx``) or neighbouring pair (``cz``) gets ``4 * pairs + 1`` instructions: a barrier, a
    gate, a barrier and the inverse gate per pair, then a closing barrier.

    Raises:
        ConfigurationError: bad ``pairs`` or ``gate``.
        InputError: the circuit has no ``neuron`` register.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> from qiskit_natural_qnn.circuits import layer_circuit
        >>> qc = layer_circuit(NaturalQNN(layer_sizes=[4, 4, 2], seed=0), layer=1).circuit
        >>> identity_pair_instructions(qc, pairs=10**9) == len(qc.data) + 4 * (4 * 10**9 + 1)
        True
    """
    spec = IdentityPairs(pairs=pairs, gate=gate)
    if spec.pairs == 0:
        return len(circuit.data)
    copies = neuron_copies(circuit)
    groups = sum(len(c) for c in copies) if spec.gate == "sx" else len(neighbour_pairs(copies))
    return len(circuit.data) + groups * (4 * spec.pairs + 1)


def insert_identity_pairs(
    circuit: QuantumCircuit, *, pairs: int, gate: str = "sx", max_instructions: int | None = None
) -> QuantumCircuit:
    """A copy of a (packed) layer circuit with protected identity pairs after the neuron rotations.

    ``sx``: right after each neuron qubit's ``ry``, ``pairs`` times ``[B, SX, B, SX^dagger]`` then
    ``B`` on that qubit (``B``: a barrier labelled :data:`PAIR_LABEL_SX`). ``cz``: right after the
    later ``ry`` of each neighbouring pair (:func:`neighbour_pairs`, within each packed copy),
    ``pairs`` times ``[B, CZ, B, CZ]`` then ``B`` on the two qubits. Method 2 layers get the pairs
    between the rotation and the weak readout. ``metadata["identity_pairs"]`` records what was added.

    Args:
        circuit: a layer circuit, bound or parametrized, packed or not (see :func:`neuron_copies`).
        pairs: pairs per qubit (``sx``) or per neighbouring pair (``cz``); 0 returns an unchanged copy.
        gate: ``"sx"`` or ``"cz"``.
        max_instructions: the most instructions the new circuit may hold (default
            :data:`~qiskit_natural_qnn.limits.MAX_INSTRUCTIONS`), checked before anything is built.

    Returns:
        The new circuit (the input is not modified).

    Raises:
        ConfigurationError: bad ``pairs`` or ``gate``, or more instructions than ``max_instructions``.
        InputError: the circuit has no ``neuron`` register, or a neuron qubit has no ``ry``.
    """
    spec = IdentityPairs(pairs=pairs, gate=gate)
    check_instructions(
        identity_pair_instructions(circuit, pairs=spec.pairs, gate=spec.gate),
        what=f"circuit {circuit.name!r} with {spec.pairs} {spec.gate} identity pairs",
        max_instructions=max_instructions,
        fix="insert fewer pairs or pack fewer copies",
    )
    copies = neuron_copies(circuit)
    neurons = [q for copy in copies for q in copy]
    out = circuit.copy_empty_like()
    out.metadata = {**(circuit.metadata or {}), "identity_pairs": {"pairs": spec.pairs, "gate": spec.gate}}
    if spec.pairs == 0:
        out.data = circuit.data
        return out
    partner: dict[Qubit, tuple[Qubit, Qubit]] = {}
    for a, b in neighbour_pairs(copies):
        partner[a] = partner[b] = (a, b)
    rotated: set[Qubit] = set()
    for inst in circuit.data:
        out.append(inst)
        if inst.operation.name != "ry" or inst.qubits[0] not in set(neurons) or inst.qubits[0] in rotated:
            continue
        q = inst.qubits[0]
        rotated.add(q)
        if spec.gate == "sx":
            _append_pairs(out, [q], spec)
        elif q in partner and all(p in rotated for p in partner[q]):
            _append_pairs(out, list(partner[q]), spec)
    missing = [circuit.find_bit(q).index for q in neurons if q not in rotated]
    if missing:
        raise InputError(
            f"neuron qubits {missing} of circuit {circuit.name!r} have no ry rotation to follow; insert "
            "identity pairs before transpiling (into circuits from layer_circuit or packed_layer_circuit)"
        )
    return out


@dataclass(frozen=True)
class FoundPairs:
    """Identity pairs found on one qubit (``sx``) or one pair of qubits (``cz``) of a circuit.

    Attributes:
        qubits: circuit qubit indices (physical qubits for a transpiled circuit).
        gate: ``"sx"`` or ``"cz"``.
        pairs: complete pairs found: consecutive barrier-delimited segments equal (up to global
            phase) to the gate and then to its inverse.
        segments: barrier-delimited segments found (``2 * pairs`` when every segment is right).
        valid: every segment is the expected unitary and acts on these qubits only.
    """

    qubits: tuple[int, ...]
    gate: str
    pairs: int
    segments: int
    valid: bool


def _segment_ok(ops: list[Any], qubits: tuple[Any, ...], expected: Any) -> bool:
    if not ops:
        return False
    sub = QuantumCircuit(len(qubits))
    index = {q: i for i, q in enumerate(qubits)}
    for inst in ops:
        if any(q not in index for q in inst.qubits) or inst.clbits:
            return False
        sub.append(inst.operation, [index[q] for q in inst.qubits])
    try:
        return Operator(sub).equiv(Operator(expected))
    except Exception:  # noqa: BLE001 - an operation without a matrix is not an identity-pair gate
        return False


def find_identity_pairs(circuit: QuantumCircuit) -> list[FoundPairs]:
    """Find the protected identity pairs of a circuit, before or after transpilation.

    Walks the circuit in order; every barrier labelled :data:`PAIR_LABEL_SX` or :data:`PAIR_LABEL_CZ`
    closes the segment of gates on its qubits since the previous such barrier on the same qubits,
    and opens a new one. Each closed segment's unitary is compared with the expected gate
    (alternating ``G``, ``G^dagger``).

    Args:
        circuit: any circuit.

    Returns:
        One :class:`FoundPairs` per qubit or qubit pair carrying pair barriers, in order of appearance.
    """
    open_seg: dict[tuple[Any, ...], list[Any]] = {}
    closed: dict[tuple[Any, ...], list[list[Any]]] = {}
    gate_of: dict[tuple[Any, ...], str] = {}
    owner: dict[Any, tuple[Any, ...]] = {}
    labels = {v: k for k, v in _LABELS.items()}
    for inst in circuit.data:
        op = inst.operation
        if op.name == "barrier" and getattr(op, "label", None) in labels:
            key = tuple(inst.qubits)
            gate_of.setdefault(key, labels[op.label])
            closed.setdefault(key, [])
            if key in open_seg:
                closed[key].append(open_seg.pop(key))
            for q in key:
                other = owner.get(q)
                if other is not None and other != key:
                    open_seg.pop(other, None)  # an unclosed segment ends where another pair group starts
                owner[q] = key
            open_seg[key] = []
            continue
        if op.name == "barrier":
            continue
        keys = {owner[q] for q in inst.qubits if q in owner and owner[q] in open_seg}
        for key in keys:
            if op.name in ("measure", "reset") or any(q not in key for q in inst.qubits):
                open_seg.pop(key, None)  # left the pair group: whatever was open is not a pair segment
            else:
                open_seg[key].append(inst)
    found = []
    for key, segments in closed.items():
        gate = gate_of[key]
        g, g_inv = _GATES[gate]
        ok = [_segment_ok(seg, key, g if i % 2 == 0 else g_inv) for i, seg in enumerate(segments)]
        pairs = 0
        for i in range(0, len(ok) - 1, 2):
            if ok[i] and ok[i + 1]:
                pairs += 1
        found.append(
            FoundPairs(
                qubits=tuple(circuit.find_bit(q).index for q in key),
                gate=gate,
                pairs=pairs,
                segments=len(segments),
                valid=all(ok) and len(ok) % 2 == 0,
            )
        )
    return found


# ------------------------------------------------------------------------------------------ layout
def _pair_error(target: Any, a: int, b: int) -> float:
    best = math.inf
    for name in target.operation_names:
        op = target.operation_from_name(name)
        if not isinstance(op, Instruction) or op.num_qubits != 2 or target[name] is None:
            continue
        for qargs in ((a, b), (b, a)):
            props = target[name].get(qargs)
            if props is not None:
                best = min(best, props.error if props.error is not None else 0.0)
    return 0.0 if best == math.inf else best


def _readout_error(target: Any, q: int) -> float:
    if "measure" not in target.operation_names or target["measure"] is None:
        return 0.0
    props = target["measure"].get((q,))
    return 0.0 if props is None or props.error is None else float(props.error)


def coupled_layout(circuit: QuantumCircuit, backend: Any) -> list[int] | None:
    """An initial layout that puts every neighbouring neuron pair on two coupled physical qubits.

    Neighbouring neurons ``(0, 1), (2, 3), ...`` of every packed copy (:func:`neighbour_pairs`) go
    onto disjoint coupled qubit pairs chosen greedily by lowest two-qubit error plus readout errors
    (a matching of the coupling graph); an odd last neuron goes onto the free qubit with the lowest
    readout error; a Method 2 ancilla onto a free neighbour of its neuron when there is one. The
    layout depends on the circuit without identity pairs only, so a sweep over the number of
    pairs runs on the same physical qubits at every point.

    Args:
        circuit: a (packed) layer circuit, before identity pairs are inserted or after.
        backend: a ``BackendV2``, a :class:`~qiskit.transpiler.Target` or a backend name.

    Returns:
        One physical qubit per circuit qubit (in circuit order), or None when the target has no
        coupling map (all-to-all, e.g. IonQ, or a simulator).

    Raises:
        TargetCapabilityError: the device has too few disjoint coupled pairs or qubits; pack fewer copies.
    """
    target = target_of(backend)
    coupling = None if target is None else target.build_coupling_map()
    if target is None or coupling is None:
        return None
    copies = neuron_copies(circuit)
    pairs = neighbour_pairs(copies)
    edges = sorted(
        {tuple(sorted(e)) for e in coupling.get_edges()},
        key=lambda e: (_pair_error(target, *e) + _readout_error(target, e[0]) + _readout_error(target, e[1]), e),
    )
    used: set[int] = set()
    chosen: list[tuple[int, int]] = []
    for a, b in edges:
        if len(chosen) == len(pairs):
            break
        if a not in used and b not in used:
            chosen.append((a, b))
            used.update((a, b))
    if len(chosen) < len(pairs):
        raise TargetCapabilityError(
            f"the device has {len(chosen)} disjoint coupled qubit pairs for the {len(pairs)} neighbouring neuron "
            f"pairs of circuit {circuit.name!r} ({len(copies)} copies); pack fewer copies (copies=...)"
        )
    phys: dict[Qubit, int] = {}
    for (va, vb), (pa, pb) in zip(pairs, chosen):
        phys[va], phys[vb] = pa, pb
    free = sorted((q for q in range(target.num_qubits) if q not in used), key=lambda q: (_readout_error(target, q), q))

    def take(near: int | None) -> int:
        if not free:
            raise TargetCapabilityError(
                f"circuit {circuit.name!r} needs {circuit.num_qubits} qubits, the device has {target.num_qubits}; "
                "pack fewer copies (copies=...)"
            )
        if near is not None:
            for q in free:
                if q in set(coupling.neighbors(near)):
                    free.remove(q)
                    return q
        return free.pop(0)

    for copy in copies:
        for q in copy:
            if q not in phys:
                phys[q] = take(None)
    ancillas = [r for r in circuit.qregs if r.name == "ancilla"]
    neurons = [q for copy in copies for q in copy]
    if ancillas:
        for i, q in enumerate(ancillas[0]):
            phys[q] = take(phys[neurons[i]] if i < len(neurons) else None)
    for q in circuit.qubits:
        if q not in phys:
            phys[q] = take(None)
    return [phys[q] for q in circuit.qubits]


def coupled_copies(model: NetworkLike, backend: Any) -> int:
    """The most copies of every hidden layer that fit side by side with :func:`coupled_layout` (at least 1).

    Starts from as many copies as the device has qubits for and removes copies until every
    neighbouring neuron pair of every copy finds its own coupled qubit pair.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> coupled_copies(NaturalQNN(layer_sizes=[4, 4, 2], seed=0), "fake_perth")
        1
    """
    from qiskit_natural_qnn.circuits import layer_circuit
    from qiskit_natural_qnn.execution.packing import copies_that_fit, packed_layer_circuit

    target = target_of(backend)
    best = None
    for k in range(1, len(model.hidden_sizes) + 1):
        lc = layer_circuit(model, layer=k)
        n = copies_that_fit(getattr(target, "num_qubits", None), lc.circuit.num_qubits)
        while n > 1:
            try:
                coupled_layout(packed_layer_circuit(lc, n).circuit, backend)
                break
            except TargetCapabilityError:
                n -= 1
        best = n if best is None else min(best, n)
    return int(best or 1)


class IdentityPairTranspiler:
    """A pass manager for noise sweeps: insert protected identity pairs, place neighbours on coupled qubits, transpile.

    It has the ``run`` method of a Qiskit pass manager, so it goes wherever one does, e.g.
    ``run_layerwise(..., pass_manager=IdentityPairTranspiler(backend, pairs=20))``: every (packed)
    layer circuit gets :func:`insert_identity_pairs`, then is validated for the target and
    transpiled at ``optimization_level`` with the :func:`coupled_layout` of the circuit.

    Args:
        backend: a ``BackendV2`` (an IBM fake or real backend, ``AerSimulator``), a Target, or a name
            for :func:`~qiskit_natural_qnn.transpile.devices.get_backend` (``"fake_torino"``, ``"ionq"``, ``"aer"``).
        pairs: identity pairs per qubit (``sx``) or per neighbouring pair (``cz``).
        gate: ``"sx"`` or ``"cz"``.
        optimization_level: 0-3 (IonQ: 0 or 1). The pairs survive every level.
        seed_transpiler: seeds routing and the other stochastic passes.
        layout: ``"coupled"`` (:func:`coupled_layout`) or None (the transpiler's own layout).
        max_instructions: the most instructions a circuit with its pairs may hold (default
            :data:`~qiskit_natural_qnn.limits.MAX_INSTRUCTIONS`).

    Raises:
        ConfigurationError: bad ``pairs``, ``gate``, ``optimization_level`` or ``layout``; a circuit
            that would exceed ``max_instructions`` (when it is run).

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> from qiskit_natural_qnn.circuits import layer_circuit
        >>> net = NaturalQNN(layer_sizes=[4, 4, 2], a=0.5, seed=0)
        >>> pm = IdentityPairTranspiler("fake_torino", pairs=3, gate="cz", optimization_level=3)
        >>> isa = pm.run(layer_circuit(net, layer=1).circuit)
        >>> [f.pairs for f in find_identity_pairs(isa)], isa.count_ops()["cz"]
        ([3, 3], 12)
    """

    def __init__(
        self,
        backend: Any,
        *,
        pairs: int = 0,
        gate: str = "sx",
        optimization_level: int = 1,
        seed_transpiler: int | None = 0,
        layout: str | None = "coupled",
        max_instructions: int | None = None,
    ) -> None:
        if isinstance(backend, str):
            backend = get_backend(backend)
        self.backend = backend
        self.spec = IdentityPairs(pairs=pairs, gate=gate)
        optimization_level = check_optimization_level(optimization_level)
        if layout not in ("coupled", None):
            raise ConfigurationError(f"layout must be 'coupled' or None, got {layout!r}")
        self.optimization_level = int(optimization_level)
        self.seed_transpiler = seed_transpiler
        self.layout = layout
        self.max_instructions = max_instructions

    def _one(self, circuit: QuantumCircuit) -> QuantumCircuit:
        from qiskit_natural_qnn.transpile import transpile_for_target

        noisy = insert_identity_pairs(
            circuit, pairs=self.spec.pairs, gate=self.spec.gate, max_instructions=self.max_instructions
        )
        layout = coupled_layout(circuit, self.backend) if self.layout == "coupled" else None
        out = transpile_for_target(
            noisy,
            self.backend,
            optimization_level=self.optimization_level,
            seed_transpiler=self.seed_transpiler,
            initial_layout=layout,
        )
        if layout is not None:
            out.metadata = {**(noisy.metadata or {})}
        return out

    def run(self, circuits: QuantumCircuit | list[QuantumCircuit]) -> Any:
        """Insert the pairs and transpile one circuit or a list of circuits (a list in, a list out)."""
        if isinstance(circuits, QuantumCircuit):
            return self._one(circuits)
        return [self._one(c) for c in circuits]


def check_pairs_fit(
    model: NetworkLike, *, pairs: Sequence[int], gate: str, copies: int, max_instructions: int | None = None
) -> None:
    """Refuse, before anything is built or run, pairs that would make a layer circuit too large.

    Counts (:func:`identity_pair_instructions`) every hidden layer's circuit with ``copies`` copies
    and the largest of ``pairs``.

    Raises:
        ConfigurationError: bad ``pairs``/``gate``, or a circuit over ``max_instructions``
            (default :data:`~qiskit_natural_qnn.limits.MAX_INSTRUCTIONS`).
    """
    from qiskit_natural_qnn.circuits import layer_circuit
    from qiskit_natural_qnn.execution.packing import packed_layer_circuit

    specs = [IdentityPairs(pairs=n, gate=gate) for n in pairs]
    most = max((spec.pairs for spec in specs), default=0)
    if most == 0:
        return
    for k in range(1, len(model.hidden_sizes) + 1):
        packed = packed_layer_circuit(layer_circuit(model, layer=k), int(copies)).circuit
        check_instructions(
            identity_pair_instructions(packed, pairs=most, gate=gate),
            what=f"hidden layer {k}'s circuit ({copies} copies) with {most} {gate} identity pairs",
            max_instructions=max_instructions,
            fix="insert fewer pairs or pack fewer copies",
        )


# ------------------------------------------------------------------------------------------- sweep
def noise_sweep(
    model: NaturalQNN,
    images: Any,
    labels: Any,
    *,
    sampler: Any,
    backend: Any = None,
    pairs: Sequence[int] = (0, 20, 60),
    gate: str = "sx",
    a_values: Sequence[float] | None = None,
    shots: int = 200,
    seed: int = 0,
    copies: int | str = 1,
    optimization_level: int = 1,
    seed_transpiler: int | None = 0,
    image_ids: Any = None,
    confidence: float = 0.95,
    method: str = "wilson",
    label: str | None = None,
    max_instructions: int | None = None,
    max_bytes: int | None = None,
    progress: bool = False,
) -> list[Any]:
    """Success rate of each image versus the number of identity pairs (and ``a``), run layer by layer on a device.

    Every point runs :func:`~qiskit_natural_qnn.execution.run_layerwise` on ``sampler`` with an
    :class:`IdentityPairTranspiler` for ``backend`` (pairs inserted into every hidden layer's circuit,
    every packed copy, neighbours on coupled qubits) and counts the passes whose class is the label.

    Args:
        model: the network; its stretch is replaced by each of ``a_values`` (default: its own ``a``).
        images: ``(n, n_inputs)`` or one image.
        labels: ``(n,)`` or one int.
        sampler: a ``BaseSamplerV2`` that accepts circuits transpiled for ``backend``, or a
            :class:`~qiskit_natural_qnn.execution.samplers.SamplerSetup` (its ``target`` is then the
            default ``backend`` and its ``name`` the default ``label``): e.g.
            ``qiskit_natural_qnn.providers.noisy_setup("fake_perth")`` (the device's noise model,
            simulated locally) or ``make_sampler("ibm:ibm_torino")``.
        backend: the device to transpile for: a ``BackendV2`` (an IBM fake or real backend), a
            Target (IonQ's native gates), or a device name (``"fake_perth"``, ``"ionq"``).
        pairs: numbers of identity pairs to sweep.
        gate: ``"sx"`` or ``"cz"``.
        a_values: stretches to sweep (default ``[model.a]``).
        shots: passes per image and point.
        seed: the run seed (an int in ``[0, 2**64)``); point ``(a, pairs)`` runs with a seed derived
            from it and its index.
        copies: copies of each layer circuit side by side (an int, or ``"auto"``: as many as fit on
            ``backend`` with every neighbouring pair on coupled qubits, :func:`coupled_copies`).
        optimization_level: 0-3.
        seed_transpiler: seeds the transpiler.
        image_ids: ids reported in the points (default ``0..n-1``).
        confidence: coverage of the intervals.
        method: ``"wilson"`` or ``"clopper-pearson"``.
        label: the name the points report as their ``backend`` (default: the setup's name, else the
            device's).
        max_instructions: the most instructions a layer circuit with its pairs may hold (default
            :data:`~qiskit_natural_qnn.limits.MAX_INSTRUCTIONS`), checked for every point before the first runs.
        max_bytes: the most memory one point's run may hold (default
            :data:`~qiskit_natural_qnn.limits.MAX_BYTES`), checked before the first runs.
        progress: show a bar over the points ``(a, pairs)`` and, for each point's run, bars over its
            jobs and layers with every job id as it is submitted (on standard error).

    Returns:
        :class:`~qiskit_natural_qnn.experiments.borderline.SuccessPoint` per image, ``a`` and ``pairs``.

    Raises:
        ConfigurationError: no ``backend`` and a sampler that is not a ``SamplerSetup`` with a device
            target; pairs or shots whose circuits or arrays exceed ``max_instructions`` or ``max_bytes``
            (refused before anything runs).

    Example:
        >>> import numpy as np
        >>> from qiskit_aer import AerSimulator
        >>> from qiskit_aer.primitives import SamplerV2
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> from qiskit_natural_qnn.transpile import get_backend
        >>> net = NaturalQNN(layer_sizes=[4, 2, 2, 2], a=0.0, seed=0)
        >>> device = get_backend("fake_perth")
        >>> ideal = SamplerV2.from_backend(AerSimulator.from_backend(device, noise_model=None))
        >>> pts = noise_sweep(net, np.full(4, 0.5), 0, sampler=ideal, backend=device, pairs=[0, 5], shots=50)
        >>> [(p.pairs, p.rate.trials, p.backend) for p in pts]
        [(0, 50, 'fake_perth'), (5, 50, 'fake_perth')]
    """
    from qiskit_natural_qnn.execution.layerwise import run_layerwise, sampler_run_bytes
    from qiskit_natural_qnn.execution.samplers import derive_seed
    from qiskit_natural_qnn.experiments.borderline import pass_classes, success_points, with_stretch
    from qiskit_natural_qnn.limits import check_bytes

    if isinstance(sampler, SamplerSetup):
        backend = sampler.target if backend is None else backend
        label = sampler.name if label is None else label
        sampler = sampler.sampler
    if isinstance(backend, TargetProfile):  # an IonQ setup's target: the profile of its backend
        backend = backend.backend
    if isinstance(backend, str):
        backend = get_backend(backend)
    if backend is None or target_of(backend) is None:
        raise ConfigurationError(
            f"noise_sweep needs the device to transpile for, got backend={backend!r}; pass backend= (a BackendV2, "
            "a Target or a name such as 'fake_perth'), or a SamplerSetup whose target is the device"
        )
    specs = [IdentityPairs(pairs=n, gate=gate) for n in pairs]
    seed = check_seed(seed)
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ConfigurationError(f"shots must be an int >= 1, got {shots!r}; pass e.g. shots=200")
    from qiskit_natural_qnn.inference import check_images_labels

    x, y, ids = check_images_labels(model, images, labels, image_ids)
    if copies == "auto":
        copies = coupled_copies(model, backend)
    check_pairs_fit(
        model, pairs=[s.pairs for s in specs], gate=gate, copies=int(copies), max_instructions=max_instructions
    )
    check_bytes(
        sampler_run_bytes(model, n_images=x.shape[0], shots=shots),
        what=f"a noise-sweep point of {x.shape[0]} images with shots={shots}",
        max_bytes=max_bytes,
        fix="lower shots or the number of images",
    )
    from tqdm import tqdm

    name = device_name(backend) if label is None else label
    stretches = [model.a] if a_values is None else list(a_values)
    bar = tqdm(total=len(stretches) * len(specs), desc="noise-sweep points", unit="point", disable=not progress)
    out = []
    try:
        for i, a in enumerate(stretches):
            net = with_stretch(model, a)
            for j, spec in enumerate(specs):
                _LOG.info(
                    "noise sweep on %s: a = %g, %d %s identity pair(s), %d image(s) x %d pass(es)",
                    name,
                    a,
                    spec.pairs,
                    spec.gate,
                    x.shape[0],
                    shots,
                )
                pm = IdentityPairTranspiler(
                    backend,
                    pairs=spec.pairs,
                    gate=spec.gate,
                    optimization_level=optimization_level,
                    seed_transpiler=seed_transpiler,
                    max_instructions=max_instructions,
                )
                run = run_layerwise(
                    net,
                    x,
                    sampler=sampler,
                    shots=shots,
                    pass_manager=pm,
                    seed=derive_seed(seed, i, j),
                    copies=copies,
                    target=backend,
                    max_bytes=max_bytes,
                    progress=progress,
                )
                bar.update(1)
                classes = pass_classes(net, run.bits[-1])
                out.extend(
                    success_points(
                        classes,
                        y,
                        ids,
                        n_classes=model.n_outputs,
                        a=a,
                        pairs=spec.pairs,
                        gate=spec.gate if spec.pairs else "",
                        backend=name,
                        confidence=confidence,
                        method=method,
                    )
                )
    finally:
        bar.close()
    return out
