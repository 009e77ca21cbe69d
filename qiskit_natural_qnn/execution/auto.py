"""Choosing the execution: layerwise, dynamic or deferred, and saying why.

``mode="auto"`` picks, in order:

1. **dynamic** when a single dynamic circuit is exact for the network
   (:func:`~qiskit_natural_qnn.circuits.check_exact` with ``"auto"``: ``linear`` or ``lookup``), the
   target runs classically conditioned operations with mid-circuit measurement, and the circuit's
   qubits (:func:`dynamic_qubits`) fit on the device;
2. **deferred** when the target has no control flow, the deferred circuit is exact, and the network
   is small (its deferred circuit needs at most :data:`DEFERRED_MAX_QUBITS` qubits and fits the device);
3. **layerwise** otherwise (exact for every network, needs no control flow, runs everywhere).

An explicit mode is checked the same way and refused with the reason: a ``dynamic`` request for a
network that no single circuit expresses raises :class:`~qiskit_natural_qnn.exceptions.CircuitNotExactError`
(the circuits' own message), for a target without control flow or with fewer qubits than the circuit
:class:`~qiskit_natural_qnn.exceptions.TargetCapabilityError`.

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, stretch="tanh", seed=0)
    >>> choose_mode(net, "aer").mode  # tanh: only the lookup construction (3-bit layers) is exact
    'dynamic'
    >>> choice = choose_mode(net, "ionq")
    >>> choice.mode, choice.reason.split(";")[0]
    ('layerwise', 'ionq runs no control flow')
"""

from __future__ import annotations

from typing import Any, NamedTuple

from qiskit_natural_qnn.circuits.exactness import ExactnessReport, check_exact, require_exact
from qiskit_natural_qnn.circuits.layout import build_layout
from qiskit_natural_qnn.exceptions import ConfigurationError, TargetCapabilityError
from qiskit_natural_qnn.transpile.targets import TargetProfile, target_profile
from qiskit_natural_qnn.view import NetworkLike, network_view

__all__ = ["DEFERRED_MAX_QUBITS", "MODES", "ModeChoice", "choose_mode", "deferred_qubits", "dynamic_qubits"]

#: Execution modes (``"auto"`` picks one of the other three).
MODES: tuple[str, ...] = ("auto", "layerwise", "dynamic", "deferred")

#: ``auto`` picks the deferred circuit only for networks whose deferred circuit has at most this many
#: qubits (it costs ``n_{k-1} * n_k`` two-qubit gates per layer and one qubit per neuron).
DEFERRED_MAX_QUBITS = 20


class ModeChoice(NamedTuple):
    """Which execution runs, and why.

    Attributes:
        mode: ``"layerwise"``, ``"dynamic"`` or ``"deferred"``.
        reason: a plain-language reason (what the network and the target allow).
        construction: the single circuit's construction (``"linear"``, ``"lookup"``, ``"deferred"``),
            or None for layerwise.
        exactness: the exactness report behind the choice, or None.
    """

    mode: str
    reason: str
    construction: str | None = None
    exactness: ExactnessReport | None = None


def deferred_qubits(model: NetworkLike) -> int:
    """Qubits of the network's deferred circuit: one per neuron, plus an ancilla per neuron of each weak layer."""
    schedule = network_view(model).schedule
    widths = schedule.hidden_sizes
    ancillas = sum(w for k, w in enumerate(widths, start=1) if schedule.is_weak(k))
    return sum(widths) + ancillas


def dynamic_qubits(model: NetworkLike, *, reuse_qubits: bool = False) -> int:
    """Qubits of the network's single dynamic circuit (:func:`~qiskit_natural_qnn.circuits.dynamic_circuit`).

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> dynamic_qubits(NaturalQNN(layer_sizes=[4, 3, 3, 2], a=1.0, stretch="linear", seed=0))
        6
    """
    return sum(reg.size for reg in build_layout(model, reuse=bool(reuse_qubits)).qregs)


def _too_small(profile: TargetProfile, n: int) -> str | None:
    if profile.num_qubits is not None and n > profile.num_qubits:
        return f"the dynamic circuit needs {n} qubits, {profile.name} has {profile.num_qubits}"
    return None


def _profile(target: Any) -> TargetProfile:
    return target if isinstance(target, TargetProfile) else target_profile(target)


def _no_dynamic_reason(profile: TargetProfile) -> str | None:
    if not profile.dynamic:
        return f"{profile.name} runs no control flow"
    if not profile.mid_circuit_measurement:
        return f"{profile.name} runs no mid-circuit measurement"
    return None


def choose_mode(
    model: NetworkLike, target: Any, *, mode: str = "auto", deferred_max_qubits: int = DEFERRED_MAX_QUBITS
) -> ModeChoice:
    """Choose (or check) the execution mode for ``model`` on ``target``.

    Args:
        model: the network or its view.
        target: a :class:`~qiskit_natural_qnn.circuits.TargetProfile` or anything
            :func:`~qiskit_natural_qnn.circuits.target_profile` accepts (``"aer"``, ``"ibm"``,
            ``"ionq"``, ``"static"``, a backend...).
        mode: ``"auto"`` or an explicit mode to check.
        deferred_max_qubits: the "small network" limit of ``auto`` for the deferred circuit.

    Returns:
        The :class:`ModeChoice`.

    Raises:
        ConfigurationError: an unknown mode.
        CircuitNotExactError: an explicit single-circuit mode that cannot express the network.
        TargetCapabilityError: an explicit mode the target cannot run.
    """
    if mode not in MODES:
        raise ConfigurationError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    profile = _profile(target)
    view = network_view(model)
    if mode == "layerwise":
        return ModeChoice(
            "layerwise",
            "requested: layer-by-layer execution is exact for every network",
            None,
            check_exact(view, "layers"),
        )
    if mode == "dynamic":
        report = require_exact(view, "auto")
        blocker = _no_dynamic_reason(profile)
        if blocker:
            raise TargetCapabilityError(
                f"mode 'dynamic' needs classically conditioned operations, but {blocker}; use mode='layerwise' "
                "(or mode='deferred' for a small exact network)"
            )
        too_small = _too_small(profile, dynamic_qubits(view))
        if too_small:
            raise TargetCapabilityError(f"mode 'dynamic': {too_small}; use mode='layerwise'")
        return ModeChoice(
            "dynamic",
            f"requested: the {report.construction} dynamic circuit is exact ({report.reasons[0]})",
            report.construction,
            report,
        )
    if mode == "deferred":
        report = require_exact(view, "deferred")
        n = deferred_qubits(view)
        if profile.num_qubits is not None and n > profile.num_qubits:
            raise TargetCapabilityError(
                f"the deferred circuit needs {n} qubits, {profile.name} has {profile.num_qubits}; use mode='layerwise'"
            )
        return ModeChoice(
            "deferred", "requested: the deferred circuit is exact (the linear construction is)", "deferred", report
        )
    # auto
    dynamic = check_exact(view, "auto")
    blocker = _no_dynamic_reason(profile)
    too_small = _too_small(profile, dynamic_qubits(view)) if dynamic.exact and blocker is None else None
    if dynamic.exact and blocker is None and too_small is None:
        return ModeChoice(
            "dynamic",
            f"the {dynamic.construction} dynamic circuit is exact ({dynamic.reasons[0]}) and {profile.name} runs "
            "dynamic circuits",
            dynamic.construction,
            dynamic,
        )
    why_not = blocker or too_small or f"no single dynamic circuit is exact: {dynamic.reasons[0]}"
    if not profile.control_flow:
        deferred = check_exact(view, "deferred")
        n = deferred_qubits(view)
        fits = n <= deferred_max_qubits and (profile.num_qubits is None or n <= profile.num_qubits)
        if deferred.exact and fits:
            return ModeChoice(
                "deferred",
                f"{why_not}; the deferred circuit is exact and small ({n} qubits <= {deferred_max_qubits})",
                "deferred",
                deferred,
            )
        if deferred.exact:
            why_not += f"; the deferred circuit is exact but needs {n} qubits (auto limit {deferred_max_qubits})"
        elif blocker:
            # reasons: [deferred-measurement note, why linear is not exact, the fix]
            why = deferred.reasons[-2] if len(deferred.reasons) > 1 else deferred.reasons[0]
            why_not += f"; the deferred circuit is not exact ({why})"
    return ModeChoice(
        "layerwise",
        f"{why_not}; layer-by-layer execution is exact for every network",
        None,
        check_exact(view, "layers"),
    )
