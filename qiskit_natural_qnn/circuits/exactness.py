r"""Is a network's single circuit exact, and why (docs/model.md, "Circuits").

Dynamic-circuit stacks condition gates on measured bits; they cannot compute a gate angle from a
weighted sum of bits at run time. The first hidden layer is never a problem: its angles are
computed on the host from real pixels. For every later layer there are two exact constructions:

* ``linear``: a fixed base RY per neuron, then one ``if_test((bit_j, 1))`` block per previous-layer
  bit rotating the next layer by fixed angles. The angles add up to
  :math:`\frac{\pi}{2}(1 - z/a)`, so it is exact for the ``linear`` stretch, for ``hardtanh``
  when no neuron can saturate (every row: :math:`\sum_j |W_{ij}| + |b_i| \le a`), never for
  ``tanh`` or ``sgn``. ``deferred`` is the same circuit with each classically controlled RY turned
  into a CRY controlled by the unmeasured source qubit; it is exact exactly when ``linear`` is.
* ``lookup``: one ``if_test((register, value))`` block per bit pattern of the previous layer,
  holding that pattern's exact angles; exact for every stretch function, feasible only for narrow
  layers (at most :data:`LOOKUP_WIDTH_LIMIT` bits, i.e. 256 blocks per layer).

Layer-by-layer execution (``layers``, host-side feedforward) is exact for every network.

Example:
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, stretch="tanh", seed=0)
    >>> report = check_exact(net, "linear")
    >>> report.exact, report.reasons[0][:38]
    (False, "stretch 'tanh' is not affine in z: no ")
    >>> check_exact(net, "auto").construction
    'lookup'
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qiskit_natural_qnn.exceptions import CircuitNotExactError, ConfigurationError
from qiskit_natural_qnn.view import NetworkLike, NetworkView, network_view

__all__ = [
    "CONSTRUCTIONS",
    "LOOKUP_WIDTH_LIMIT",
    "ExactnessReport",
    "check_exact",
    "require_exact",
]

#: Single-circuit constructions; ``"auto"`` picks ``linear`` when exact, else ``lookup``.
CONSTRUCTIONS: tuple[str, ...] = ("linear", "lookup", "deferred")

#: Widest previous layer the ``lookup`` construction accepts: 8 bits = 256 conditional blocks per
#: layer. Wider registers give circuits that no device compiles in reasonable time or depth.
LOOKUP_WIDTH_LIMIT = 8

_REL_TOL = 1e-12
_FIX = "run the network layer by layer (layer_circuits, host-side feedforward), which is exact for every network"


class ExactnessReport(NamedTuple):
    """Whether one construction reproduces a network's outcome distribution exactly, and why.

    Attributes:
        exact: True when the construction's outcome distribution equals the model's.
        construction: ``"linear"``, ``"lookup"``, ``"deferred"`` or ``"layers"``; for
            ``check_exact(model, "auto")`` the construction it chose (``"auto"`` when none is exact).
        reasons: plain-language reasons, one per fact that decides the answer.
    """

    exact: bool
    construction: str
    reasons: list[str]

    def explain(self) -> str:
        """A readable multi-line explanation.

        Example:
            >>> print(ExactnessReport(True, "linear", ["stretch 'linear' is affine"]).explain())
            construction 'linear': exact
              - stretch 'linear' is affine
        """
        head = f"construction {self.construction!r}: {'exact' if self.exact else 'NOT exact'}"
        return "\n".join([head, *(f"  - {r}" for r in self.reasons)])


def _weak_update_reason(view: NetworkView) -> str | None:
    if view.schedule.carries_state and view.neuron.measurement.update != "circuit":
        return (
            f"weak_update={view.neuron.measurement.update!r}: a circuit leaves each neuron in the state "
            "of the 'circuit' (atan2) update, which differs from the authors' arcsin form once an angle "
            "leaves [-pi, pi]; layer circuits re-prepare the host-computed angle instead"
        )
    return None


def _single_layer_reason(view: NetworkView) -> str | None:
    if view.n_hidden == 1:
        return (
            "one hidden layer: its angles are computed on the host from the input (exact for every "
            "stretch function), so no feedforward is needed"
        )
    return None


def _linear(view: NetworkView) -> tuple[bool, list[str]]:
    stretch = view.neuron.stretch
    kind, a = stretch.effective_kind, stretch.a
    reasons: list[str] = []
    if kind == "linear":
        reasons.append(
            "stretch 'linear': theta = (pi/2)(1 - z/a) is affine in the previous layer's bits, so one "
            "classically controlled RY per bit adds up to the exact angle"
        )
        exact = True
    elif kind == "hardtanh":
        weights, biases = view.weights, view.biases
        exact = True
        for k in range(2, view.n_hidden + 1):
            reach = np.abs(weights[k - 1]).sum(axis=1) + np.abs(biases[k - 1])  # max |z_i| over bit patterns
            worst = int(np.argmax(reach))
            if reach[worst] <= a * (1 + _REL_TOL):
                reasons.append(
                    f"hidden layer {k}: max_i (sum_j |W_ij| + |b_i|) = {reach[worst]:.4g} <= a = {a:.4g}, "
                    "so hardtanh never saturates and equals z/a on every bit pattern"
                )
            else:
                exact = False
                n_sat = int((reach > a * (1 + _REL_TOL)).sum())
                reasons.append(
                    f"hidden layer {k}: {n_sat} neuron(s) can saturate (neuron {worst} has "
                    f"sum_j |W_ij| + |b_i| = {reach[worst]:.4g} > a = {a:.4g}), where hardtanh is clipped "
                    "and the linear angle would overshoot"
                )
    elif kind == "tanh":
        exact = False
        reasons.append("stretch 'tanh' is not affine in z: no sum of fixed per-bit rotations reproduces tanh(z/a)")
    else:
        exact = False
        reasons.append(
            "the sign neuron (a = 0 or stretch 'sgn') is not affine in z: no sum of fixed per-bit "
            "rotations reproduces sgn(z)"
        )
    if exact and view.schedule.carries_state:
        reasons.append(
            "Method 2: the own-outcome term (pi/2) m_i is affine in the neuron's own last bit (a conditional RY(-pi))"
        )
    if not exact:
        reasons.append(f"use construction='lookup' (previous layers of at most {LOOKUP_WIDTH_LIMIT} neurons) or {_FIX}")
    return exact, reasons


def _lookup(view: NetworkView, width_limit: int) -> tuple[bool, list[str]]:
    reasons: list[str] = []
    exact = True
    for k, width in enumerate(view.hidden_sizes[:-1], start=2):
        if width > width_limit:
            exact = False
            reasons.append(
                f"hidden layer {k - 1} has {width} neurons: a lookup over its register needs 2**{width}"
                f"{f' = {2**width}' if width <= 24 else ''} conditional blocks, above the limit of {width_limit} "
                f"bits ({2**width_limit} blocks)"
            )
    if exact:
        widest = max(view.hidden_sizes[:-1])
        reasons.append(
            "lookup: one if-block per bit pattern of the previous layer applies that pattern's exact "
            f"angles, exact for every stretch function (at most 2**{widest} = {2**widest} blocks per layer)"
        )
    else:
        reasons.append(f"use construction='linear' where it is exact, or {_FIX}")
    return exact, reasons


def _check_width_limit(width_limit: int) -> int:
    if isinstance(width_limit, bool) or not isinstance(width_limit, (int, np.integer)) or not 1 <= width_limit <= 16:
        raise ConfigurationError(
            f"lookup_width_limit must be an int in [1, 16], got {width_limit!r}; the default is {LOOKUP_WIDTH_LIMIT}"
        )
    return int(width_limit)


def check_exact(
    model: NetworkLike, construction: str = "auto", *, lookup_width_limit: int = LOOKUP_WIDTH_LIMIT
) -> ExactnessReport:
    """Say whether ``construction`` reproduces ``model``'s outcome distribution exactly, and why.

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or its view.
        construction: ``"linear"``, ``"lookup"``, ``"deferred"``, ``"layers"`` (layer-by-layer, always
            exact) or ``"auto"`` (``linear`` if exact, else ``lookup`` if exact).
        lookup_width_limit: the widest previous layer ``lookup`` accepts (default
            :data:`LOOKUP_WIDTH_LIMIT`).

    Returns:
        An :class:`ExactnessReport`; it never raises for a network that is merely not exact.

    Raises:
        ConfigurationError: unknown ``construction`` or a bad ``lookup_width_limit``.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> net = NaturalQNN(layer_sizes=[4, 3, 2], a=0.5, stretch="tanh", seed=0)
        >>> check_exact(net, "linear").exact  # one hidden layer: nothing to feed forward
        True
    """
    width_limit = _check_width_limit(lookup_width_limit)
    if construction not in (*CONSTRUCTIONS, "layers", "auto"):
        raise ConfigurationError(
            f"unknown construction {construction!r}; expected one of {', '.join((*CONSTRUCTIONS, 'layers', 'auto'))}"
        )
    if construction == "layers":
        return ExactnessReport(
            True,
            "layers",
            [
                (
                    "layer-by-layer execution: the host computes every angle from the measured bits through "
                    "neurons.py (Method 2: the post-measurement angle is re-prepared on a fresh qubit)"
                )
            ],
        )
    view = network_view(model)
    if construction == "auto":
        linear = check_exact(view, "linear", lookup_width_limit=width_limit)
        if linear.exact:
            return linear
        lookup = check_exact(view, "lookup", lookup_width_limit=width_limit)
        if lookup.exact:
            return lookup._replace(reasons=[*lookup.reasons, f"linear not chosen: {linear.reasons[0]}"])
        return ExactnessReport(False, "auto", [*linear.reasons[:-1], *lookup.reasons[:-1], _FIX])
    blocker = _weak_update_reason(view)
    if blocker is not None:
        return ExactnessReport(False, construction, [blocker, _FIX])
    single = _single_layer_reason(view)
    if single is not None:
        return ExactnessReport(True, construction, [single])
    if construction == "lookup":
        exact, reasons = _lookup(view, width_limit)
    else:
        exact, reasons = _linear(view)
        if construction == "deferred" and exact:
            reasons.insert(
                0,
                "deferred measurement: each classically controlled RY of the linear construction is a CRY "
                "controlled by the unmeasured source qubit, all measurements at the end (same distribution)",
            )
        elif construction == "deferred":
            reasons[-1] = (
                "the deferred circuit uses the linear construction's angles; use a dynamic circuit with "
                f"construction='lookup' (previous layers of at most {LOOKUP_WIDTH_LIMIT} neurons) or {_FIX}"
            )
    return ExactnessReport(exact, construction, reasons)


def require_exact(
    model: NetworkLike, construction: str, *, lookup_width_limit: int = LOOKUP_WIDTH_LIMIT
) -> ExactnessReport:
    """Like :func:`check_exact`, but raise when the construction is not exact.

    Raises:
        CircuitNotExactError: the construction cannot express the network exactly; the message gives
            every reason and points to layer-by-layer execution.
        ConfigurationError: as :func:`check_exact`.
    """
    report = check_exact(model, construction, lookup_width_limit=lookup_width_limit)
    if not report.exact:
        raise CircuitNotExactError(
            f"the {construction!r} single circuit cannot express this network exactly: " + "; ".join(report.reasons)
        )
    return report
