r"""The exact outcome law of a transpiled layer circuit under a noise model, as trigonometric polynomials.

A layer circuit (``docs/model.md``, "Circuits") prepares each neuron with ``RY(theta)`` and measures it
(Method 2: through an ancilla); identity pairs add ``SX``/``SX^dagger`` on each neuron or ``CZ``/``CZ``
on neighbouring neurons. After transpilation every qubit carries a short sequence of device
instructions (``rz`` with the angle in its argument, ``sx``, ``cz``...). Qubits that no two-qubit
gate joins are never entangled, so the circuit splits into **clusters**: one qubit (Method 1), a
neuron and its ancilla (Method 2), two neurons joined by ``CZ`` pairs. With a noise model whose
errors act on their instruction's qubits (Aer's device models), each cluster evolves on its own,
and its outcome law is computed exactly by composing, instruction by instruction, the gate and the
Kraus operators of its error on the cluster's density matrix, then the readout matrices.

As a function of the cluster's angles :math:`\theta_1 \dots \theta_m` the law is a trigonometric
polynomial: an angle enters through rotations :math:`e^{-i c \theta P / 2}` with an integer
coefficient ``c`` (``rz(theta + pi)`` after transpilation), and the density matrix is quadratic in
them, so frequencies up to :math:`\sum |c|` appear. :func:`circuit_laws` evaluates the cluster on
the equispaced grid of each angle, takes the exact discrete Fourier coefficients (in the real basis
:math:`1, \cos\theta, \sin\theta, \cos 2\theta, \dots`), and checks them at further angles: a law that
is not such a polynomial is refused instead of approximated. The same computation without the noise
model gives the ideal law; with no error in the model both are the same numbers bit for bit.

Refused (:class:`~qiskit_natural_qnn.exceptions.TargetCapabilityError`): dynamic circuits (control
flow, a qubit used after its measurement, resets), idle time (delays), clusters that do not hold
exactly the angles of the neurons they measure, and clusters wider than :data:`MAX_CLUSTER_QUBITS`.

Example:
    >>> import numpy as np
    >>> from qiskit.circuit import ClassicalRegister, ParameterVector, QuantumCircuit
    >>> theta, h = ParameterVector("theta1", 1), ClassicalRegister(1, "h1")
    >>> qc = QuantumCircuit(1)
    >>> qc.add_register(h)
    >>> _ = qc.ry(theta[0], 0), qc.measure(0, h[0])
    >>> (law,) = circuit_laws(qc, angles=theta, register=h, channels=NoiseChannels())
    >>> law.slots, law.degrees, np.round(law.noisy[0], 12).tolist()  # P(bit 0) = (1 + cos theta) / 2
    ((0,), (1,), [0.5, 0.5, 0.0])
    >>> bool(np.allclose(law.probabilities(np.array([[0.3]])), [[np.cos(0.15) ** 2, np.sin(0.15) ** 2]]))
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from qiskit_natural_qnn.emulation.channels import NoiseChannels
from qiskit_natural_qnn.exceptions import TargetCapabilityError

__all__ = ["MAX_CLUSTER_QUBITS", "ClusterLaw", "circuit_laws", "trig_basis"]

#: The widest cluster (qubits that two-qubit gates join) whose density matrix the emulation composes.
MAX_CLUSTER_QUBITS = 6

#: Largest difference between the fitted polynomial and the composed law at the check angles.
_FIT_TOLERANCE = 1e-9

#: Angles (one per cluster angle, cycled) at which the fitted polynomial is checked.
_CHECK_ANGLES = (0.3183098861837907, -2.0943951023931953, 1.1, 2.718281828459045)

_CONTROL_FLOW = ("if_else", "while_loop", "for_loop", "switch_case", "box")


class ClusterLaw(NamedTuple):
    """The exact joint outcome law of one cluster of a layer circuit.

    Attributes:
        qubits: the cluster's qubits (physical qubits of a transpiled circuit), sorted.
        slots: the indices ``j`` of the angles ``theta[j]`` it holds, which are also the bits
            ``h[j]`` it measures, sorted; outcome ``o`` has bit ``h[slots[t]]`` in binary digit ``t``.
        degrees: the trigonometric degree of the law in each angle (``D``: ``2 D + 1`` coefficients).
        noisy: real coefficients ``(2**m, T_1, ..., T_m)`` of each outcome's probability under the noise
            model, in the basis of :func:`trig_basis` per angle (padded to the widest ``T`` by the callers).
        ideal: the same without any error (the ideal law of the same circuit).
    """

    qubits: tuple[int, ...]
    slots: tuple[int, ...]
    degrees: tuple[int, ...]
    noisy: np.ndarray
    ideal: np.ndarray

    def probabilities(self, angles: np.ndarray, *, ideal: bool = False) -> np.ndarray:
        """The outcome probabilities ``(..., 2**m)`` at angles ``(..., m)`` (float64, NumPy)."""
        angles = np.asarray(angles, dtype=np.float64)
        letters = "stuvwx"[: len(self.degrees)]
        bases = [trig_basis(angles[..., t], d) for t, d in enumerate(self.degrees)]
        spec = ",".join(f"...{c}" for c in letters) + f",o{letters}->...o"
        return np.einsum(spec, *bases, self.ideal if ideal else self.noisy)


def trig_basis(theta: Any, degree: int) -> Any:
    r"""The real Fourier basis :math:`(1, \cos\theta, \sin\theta, \dots, \cos D\theta, \sin D\theta)` on a new axis.

    Works on NumPy arrays and PyTorch tensors alike (the fast path evaluates the laws with it).

    Example:
        >>> trig_basis(np.array([0.0]), 1).tolist()
        [[1.0, 1.0, 0.0]]
    """
    import torch

    xp: Any = torch if isinstance(theta, torch.Tensor) else np
    parts = [xp.ones_like(theta)]
    for n in range(1, int(degree) + 1):
        parts += [xp.cos(theta * n), xp.sin(theta * n)]
    return xp.stack(parts, -1) if xp is torch else np.stack(parts, axis=-1)


def _fourier_inverse(degree: int) -> tuple[np.ndarray, np.ndarray]:
    """The equispaced grid of ``2 D + 1`` angles and the matrix that maps values on it to coefficients."""
    size = 2 * degree + 1
    grid = 2.0 * math.pi * np.arange(size) / size
    basis = trig_basis(grid, degree)  # (T, T): rows are grid points
    inverse = basis.T * (2.0 / size)
    inverse[0] = 1.0 / size
    return grid, inverse


# ------------------------------------------------------------------------------------------ circuit
class _Walk(NamedTuple):
    """A circuit read once: instructions per cluster, measured qubits, angle coefficients."""

    ops: list[tuple[Any, tuple[int, ...]]]
    roots: dict[int, int]
    measured: dict[int, int]
    coefficients: dict[int, int]


def _refuse(circuit: Any, why: str, fix: str) -> TargetCapabilityError:
    return TargetCapabilityError(f"circuit {circuit.name!r} {why}, which the noise emulation does not model; {fix}")


def _walk(circuit: Any, slot_of: dict[Any, int], bit_of: dict[Any, int]) -> _Walk:
    parent = list(range(circuit.num_qubits))

    def root(q: int) -> int:
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    ops: list[tuple[Any, tuple[int, ...]]] = []
    measured: dict[int, int] = {}
    coefficients: dict[int, int] = {}
    for inst in circuit.data:
        op = inst.operation
        qubits = tuple(circuit.find_bit(q).index for q in inst.qubits)
        if op.name == "barrier":
            continue
        if op.name in _CONTROL_FLOW or getattr(op, "blocks", None):
            raise _refuse(circuit, f"has control flow ({op.name})", "emulate layer circuits (layerwise execution)")
        if op.name == "delay":
            if float(op.duration or 0) > 0:
                raise _refuse(circuit, f"has idle time (a delay on qubits {list(qubits)})", "transpile without delays")
            continue
        if op.name == "reset":
            raise _refuse(circuit, f"resets qubit {qubits[0]}", "emulate layer circuits (layerwise execution)")
        used = [q for q in qubits if q in measured]
        if used:
            raise _refuse(
                circuit,
                f"uses qubit {used[0]} after measuring it (a mid-circuit measurement)",
                "emulate layer circuits, which measure every qubit once at the end",
            )
        if op.name == "measure":
            bit = inst.clbits[0]
            if bit not in bit_of or bit_of[bit] in measured.values():
                raise _refuse(
                    circuit,
                    f"measures qubit {qubits[0]} into a bit outside its layer register or twice into one bit",
                    "emulate packed layer circuits",
                )
            measured[qubits[0]] = bit_of[bit]
            ops.append((inst, qubits))
            continue
        for p in op.params:
            for par in getattr(p, "parameters", ()):
                if par not in slot_of:
                    raise _refuse(circuit, f"has a parameter {par} that is not a neuron angle", "bind it first")
                try:
                    c = float(p.gradient(par))
                except TypeError:  # a factor that depends on a parameter: not a rotation by a multiple
                    c = math.nan
                if not (math.isfinite(c) and abs(c - round(c)) < 1e-9):
                    raise _refuse(
                        circuit,
                        f"applies {op.name}({p}), where the angle enters with factor {c}, not an integer",
                        "transpile so that each angle enters rotations as an integer multiple",
                    )
                slot = slot_of[par]
                coefficients[slot] = coefficients.get(slot, 0) + abs(int(round(c)))
        for a, b in zip(qubits, qubits[1:]):
            parent[root(a)] = root(b)
        ops.append((inst, qubits))
    return _Walk(ops, {q: root(q) for q in range(circuit.num_qubits)}, measured, coefficients)


def circuit_laws(circuit: Any, *, angles: Sequence[Any], register: Any, channels: NoiseChannels) -> list[ClusterLaw]:
    """The exact joint outcome law of every cluster of a (transpiled) layer circuit.

    Args:
        circuit: a layer circuit (packed or not, transpiled or not) whose parameters are ``angles``.
        angles: the circuit's angle parameters ``theta[j]``, one per neuron slot (``ParameterVector``).
        register: the classical register ``h{k}``: slot ``j`` is measured into ``register[j]``.
        channels: the noise model's channels (:class:`~.channels.NoiseChannels`).

    Returns:
        One :class:`ClusterLaw` per cluster that measures a bit, ordered by their first slot.

    Raises:
        TargetCapabilityError: a circuit outside the emulation (see the module docstring), or a law that
            is not a trigonometric polynomial of the degree its rotations give.
    """
    slot_of = {p: j for j, p in enumerate(angles)}
    bit_of = {b: j for j, b in enumerate(register)}
    walk = _walk(circuit, slot_of, bit_of)
    clusters: dict[int, list[int]] = {}
    for q in sorted(walk.roots):
        clusters.setdefault(walk.roots[q], []).append(q)
    laws = []
    for qubits in clusters.values():
        members = set(qubits)
        cluster_ops = [(inst, qs) for inst, qs in walk.ops if qs[0] in members]
        held = sorted(
            {
                slot_of[par]
                for inst, _ in cluster_ops
                for p in inst.operation.params
                for par in getattr(p, "parameters", ())
            }
        )
        slots = sorted(walk.measured[q] for q in qubits if q in walk.measured)
        if not held and not slots:
            continue  # idle qubits, or gates on qubits the layer does not read
        if held != slots:
            raise _refuse(
                circuit,
                f"has qubits {qubits} holding the angles of slots {held} but measuring slots {slots}",
                "place each neuron's rotation and readout on the qubits of one cluster (no routing between "
                "neurons; use the coupled layout)",
            )
        if len(qubits) > MAX_CLUSTER_QUBITS:
            raise _refuse(
                circuit,
                f"joins {len(qubits)} qubits {qubits} by two-qubit gates (at most {MAX_CLUSTER_QUBITS} are composed)",
                "place neighbouring neurons on coupled qubits so that no routing joins more",
            )
        laws.append(_cluster_law(circuit, qubits, cluster_ops, slots, walk, slot_of, channels))
    return sorted(laws, key=lambda law: law.slots[0])


def _cluster_law(
    circuit: Any,
    qubits: list[int],
    ops: list[tuple[Any, tuple[int, ...]]],
    slots: list[int],
    walk: _Walk,
    slot_of: dict[Any, int],
    channels: NoiseChannels,
) -> ClusterLaw:
    degrees = tuple(max(1, walk.coefficients.get(s, 0)) for s in slots)
    grids = [_fourier_inverse(d) for d in degrees]
    mesh = np.meshgrid(*[g for g, _ in grids], indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=-1)  # (P, m), the first angle slowest
    checks = np.array([[_CHECK_ANGLES[(i + t) % len(_CHECK_ANGLES)] for t in range(len(slots))] for i in range(2)])
    values = np.concatenate([points, checks])
    measured = {q: walk.measured[q] for q in qubits if q in walk.measured}
    local = {q: i for i, q in enumerate(qubits)}
    order = [next(q for q, s in measured.items() if s == slot) for slot in slots]
    column = {slot: t for t, slot in enumerate(slots)}
    both = []
    for noisy in (True, False):
        probs = _simulate(ops, local, order, values, column, slot_of, channels if noisy else None)
        grid_probs = probs[: len(points)].reshape(*[2 * d + 1 for d in degrees], probs.shape[-1])
        coef = np.moveaxis(grid_probs, -1, 0)
        for t, (_, inverse) in enumerate(grids):
            coef = np.moveaxis(np.tensordot(inverse, np.moveaxis(coef, 1 + t, 0), axes=([1], [0])), 0, 1 + t)
        both.append(coef)
        law = ClusterLaw(tuple(qubits), tuple(slots), degrees, coef, coef)
        fitted = law.probabilities(checks)
        worst = float(np.abs(fitted - probs[len(points) :]).max())
        if not worst <= _FIT_TOLERANCE:
            raise _refuse(
                circuit,
                f"gives qubits {qubits} an outcome law that is not a trigonometric polynomial of degree {degrees} "
                f"in its angles (off by {worst:.3g})",
                "check the transpiled rotations of the neurons",
            )
    return ClusterLaw(tuple(qubits), tuple(slots), degrees, both[0], both[1])


def _gate_matrices(inst: Any, values: np.ndarray, column: dict[int, int], slot_of: dict[Any, int]) -> np.ndarray:
    """The instruction's matrix at every row of ``values`` ``(P, 2**k, 2**k)`` (or ``(1, ...)`` if constant)."""
    op = inst.operation
    symbolic = [p for p in op.params if getattr(p, "parameters", None)]
    if not symbolic:
        return np.asarray(op.to_matrix(), dtype=np.complex128)[None]
    out = []
    for row in values:
        gate = op.copy()
        bound = []
        for p in op.params:
            pars = getattr(p, "parameters", None)
            bound.append(float(p.bind({par: row[column[slot_of[par]]] for par in pars})) if pars else p)
        gate.params = bound
        out.append(np.asarray(gate.to_matrix(), dtype=np.complex128))
    return np.stack(out)


def _simulate(
    ops: list[tuple[Any, tuple[int, ...]]],
    local: dict[int, int],
    order: list[int],
    values: np.ndarray,
    column: dict[int, int],
    slot_of: dict[Any, int],
    channels: NoiseChannels | None,
) -> np.ndarray:
    """The outcome probabilities ``(P, 2**m)`` of the cluster at each row of angles ``values``."""
    n, count = len(local), values.shape[0]
    rho = np.zeros((count, 2**n, 2**n), dtype=np.complex128)
    rho[:, 0, 0] = 1.0
    for inst, qubits in ops:
        positions = [local[q] for q in qubits]
        name = inst.operation.name
        if name != "measure":
            rho = _apply(rho, _gate_matrices(inst, values, column, slot_of)[:, None], positions, n)
        kraus = channels.gate_kraus(name, qubits) if channels is not None else None
        if kraus is not None:  # Aer: a gate's error after it, a measurement's before it
            rho = _apply(rho, np.stack(kraus)[None], positions, n)
    diag = np.real(np.einsum("pii->pi", rho)).reshape(count, *([2] * n))
    keep = [n - 1 - local[q] for q in reversed(order)]  # binary digit t of the outcome <-> order[t]
    drop = tuple(a + 1 for a in range(n) if a not in keep)
    marginal = diag.sum(axis=drop) if drop else diag
    kept_sorted = sorted(keep)
    marginal = np.moveaxis(marginal, [1 + kept_sorted.index(a) for a in keep], list(range(1, 1 + len(keep))))
    if channels is not None:
        for t, q in enumerate(order):
            matrix = channels.readout(q)
            if matrix is not None:
                axis = 1 + len(order) - 1 - t
                marginal = np.moveaxis(np.tensordot(marginal, matrix, axes=([axis], [0])), -1, axis)
    return marginal.reshape(count, -1)


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"


def _apply(rho: np.ndarray, ops: np.ndarray, positions: list[int], n: int) -> np.ndarray:
    """``sum_K K rho K^dagger`` with ``K`` ``(P or 1, nK, 2**k, 2**k)`` acting on cluster qubits ``positions``."""
    count, k = rho.shape[0], len(positions)
    ops = np.broadcast_to(ops, (count, *ops.shape[1:]))
    letters = iter(_LETTERS)
    row = [next(letters) for _ in range(n)]  # row[q]: the row index bit of cluster qubit q
    col = [next(letters) for _ in range(n)]
    new_row = {q: next(letters) for q in positions}
    new_col = {q: next(letters) for q in positions}
    axes = list(range(n - 1, -1, -1))  # tensor axis a holds qubit n - 1 - a
    rho_sub = "Z" + "".join(row[q] for q in axes) + "".join(col[q] for q in axes)
    op_axes = [positions[j] for j in range(k - 1, -1, -1)]
    left = "ZY" + "".join(new_row[q] for q in op_axes) + "".join(row[q] for q in op_axes)
    right = "ZY" + "".join(new_col[q] for q in op_axes) + "".join(col[q] for q in op_axes)
    out = "Z" + "".join(new_row.get(q, row[q]) for q in axes) + "".join(new_col.get(q, col[q]) for q in axes)
    shape = (count, *([2] * (2 * n)))
    op_shape = (count, ops.shape[1], *([2] * (2 * k)))
    result = np.einsum(
        f"{left},{rho_sub},{right}->{out}", ops.reshape(op_shape), rho.reshape(shape), ops.conj().reshape(op_shape)
    )
    return result.reshape(count, 2**n, 2**n)
