r"""Hardware-native training: networks whose single dynamic circuit is exact at any width.

A dynamic circuit can add fixed angles under per-bit conditions, nothing more (``docs/model.md``, "Circuits").
The ``linear`` construction (:func:`~qiskit_natural_qnn.circuits.dynamic_circuit`) rotates each
neuron of hidden layer ``k >= 2`` by a fixed base angle plus one fixed angle per measured bit of
layer ``k - 1``; the angles add up to :math:`\theta = \frac{\pi}{2}(1 - z/a)`. Two kinds of network
make that exact at any width (the first hidden layer is computed on the host from pixels and the
output layer on the host from bits, so neither is constrained):

* ``"linear"``: the stretch :math:`f_a(z) = z/a`, unclipped. The outcome probability
  :math:`(1 + \sin\frac{\pi z}{2a})/2` is periodic in ``z``. Train it with
  ``surrogate="expected"`` (the derivative :math:`\frac{\pi}{2a}\cos\frac{\pi z}{2a}` of the
  expected activation) or the paper's unit-scale hard-tanh straight-through estimator.
* ``"hardtanh-l1"``: the hardware follow-up's hardtanh neuron, with every row of hidden layers
  ``2..L`` kept in the L1 ball :math:`\sum_j |W_{ij}| + |b_i| \le a` by Euclidean projection after
  every optimizer step (:class:`L1RowConstraint`, a ``fit(step_hooks=...)`` hook). Then
  :math:`|z_i| \le a` for every bit pattern, hardtanh never saturates and equals ``z/a``:
  the criterion :func:`~qiskit_natural_qnn.circuits.check_exact` applies.

Example:
    >>> import torch
    >>> from qiskit_natural_qnn.circuits import check_exact
    >>> setup = native_config(kind="hardtanh-l1", layer_sizes=[6, 16, 16, 3], a=0.5, seed=0)
    >>> setup.model.spec.stretch, len(setup.step_hooks)
    ('hardtanh', 1)
    >>> check_exact(setup.model, "linear").exact
    True
    >>> with torch.no_grad():
    ...     _ = setup.model.layers[1].weight.mul_(10.0)  # leave the L1 ball
    >>> check_exact(setup.model, "linear").exact
    False
    >>> setup.step_hooks[0](setup.model)  # project back
    >>> check_exact(setup.model, "linear").exact
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.surrogates import Surrogate

__all__ = [
    "NATIVE_KINDS",
    "L1RowConstraint",
    "NativeSetup",
    "native_config",
    "project_rows_l1_",
    "rows_l1",
]

#: Hardware-native network kinds: the unsaturated ``linear`` stretch, and the ``hardtanh`` stretch
#: with the row-L1 constraint on hidden layers 2..L.
NATIVE_KINDS: tuple[str, ...] = ("linear", "hardtanh-l1")

_STRETCH_OF = {"linear": "linear", "hardtanh-l1": "hardtanh"}

#: Relative shrink, in units of the dtype's machine epsilon, of a row whose stored values still sum
#: above the radius after rounding (float32: about 1e-6, far below any effect on training).
_SHRINK_EPS = 8.0

#: Relative excess over the radius that the stored rows may keep (float64 round-off of the projection);
#: far below the 1e-12 that :func:`~qiskit_natural_qnn.circuits.check_exact` tolerates.
_ROUND_TOL = 1e-13


def _check_radius(radius: Any) -> float:
    try:
        r = float(radius)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f"radius must be a real number > 0, got {radius!r}; pass the stretch a (e.g. radius=0.5)"
        ) from None
    if not math.isfinite(r) or r <= 0:
        raise ConfigurationError(f"radius must be finite and > 0, got {radius!r}; pass the stretch a (e.g. radius=0.5)")
    return r


def rows_l1(weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    r"""Each row's L1 norm :math:`\sum_j |W_{ij}| + |b_i|`, in float64 (the bound on :math:`|z_i|` over bit patterns).

    Args:
        weight: shape ``(fan_out, fan_in)``.
        bias: shape ``(fan_out,)`` or None.

    Returns:
        float64 tensor of shape ``(fan_out,)``.

    Example:
        >>> rows_l1(torch.tensor([[1.0, -2.0], [0.5, 0.0]]), torch.tensor([0.0, -1.0]))
        tensor([3.0000, 1.5000], dtype=torch.float64)
    """
    norms = weight.detach().double().abs().sum(dim=1)
    if bias is not None:
        norms = norms + bias.detach().double().abs()
    return norms


def _project_l1_ball(v: torch.Tensor, radius: float) -> torch.Tensor:
    """Euclidean projection of every row of ``v`` (float64) onto the L1 ball of ``radius`` (Duchi et al. 2008)."""
    u = v.abs()
    s, _ = torch.sort(u, dim=1, descending=True)
    css = s.cumsum(dim=1)
    j = torch.arange(1, v.shape[1] + 1, dtype=v.dtype, device=v.device)
    support = (s * j > css - radius).sum(dim=1, keepdim=True).clamp_min(1)  # rho: a prefix of the sorted row
    theta = ((css.gather(1, support - 1) - radius) / support.to(v.dtype)).clamp_min(0.0)
    return torch.sign(v) * (u - theta).clamp_min(0.0)


@torch.no_grad()
def project_rows_l1_(weight: torch.Tensor, bias: torch.Tensor | None = None, *, radius: float) -> torch.Tensor:
    r"""Project each row ``(W_i, b_i)`` in place onto the L1 ball :math:`\sum_j |W_{ij}| + |b_i| \le` ``radius``.

    The exact Euclidean projection (Duchi, Shalev-Shwartz, Singer, Chandra 2008): rows inside the ball
    are left unchanged; a row outside becomes :math:`\mathrm{sign}(v)\max(|v| - \tau, 0)` with the
    threshold :math:`\tau > 0` that puts it on the sphere (so small entries become exactly 0). It is
    computed in float64; a row whose stored (e.g. float32) values still sum above ``radius`` after
    rounding is shrunk by 8 machine epsilons (float32: about :math:`10^{-6}`), so :func:`rows_l1` of
    the stored tensors is at most ``radius * (1 + 1e-13)``, which
    :func:`~qiskit_natural_qnn.circuits.check_exact` accepts.

    Args:
        weight: shape ``(fan_out, fan_in)``, modified in place.
        bias: shape ``(fan_out,)`` (modified in place, projected together with its row) or None.
        radius: the ball's radius, finite and ``> 0``.

    Returns:
        ``weight``.

    Raises:
        ConfigurationError: ``radius`` not finite or ``<= 0``, or ``bias`` of the wrong shape.

    Example:
        >>> w = torch.tensor([[3.0, -1.0, 0.5], [0.1, 0.2, -0.3]])
        >>> project_rows_l1_(w, radius=1.0)
        tensor([[ 1.0000, -0.0000,  0.0000],
                [ 0.1000,  0.2000, -0.3000]])
    """
    r = _check_radius(radius)
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ConfigurationError(
            f"bias must have shape ({weight.shape[0]},) to match weight {tuple(weight.shape)}, got {tuple(bias.shape)}"
        )
    v = weight.detach().double()
    if bias is not None:
        v = torch.cat([v, bias.detach().double()[:, None]], dim=1)
    outside = v.abs().sum(dim=1) > r
    if not bool(outside.any()):
        return weight
    p = v.clone()
    p[outside] = _project_l1_ball(v[outside], r)
    shrink = _SHRINK_EPS * torch.finfo(weight.dtype).eps
    for _ in range(4):  # float32 round-off: shrink the few rows that rounding pushed over the radius
        stored = p.to(weight.dtype).double()
        over = stored.abs().sum(dim=1) > r * (1.0 + _ROUND_TOL)
        if not bool(over.any()):
            break
        p[over] = p[over] * (r / stored[over].abs().sum(dim=1, keepdim=True)) * (1.0 - shrink)
    weight.copy_(p[:, : weight.shape[1]].to(weight.dtype))
    if bias is not None:
        bias.copy_(p[:, -1].to(bias.dtype))
    return weight


@dataclass(frozen=True)
class L1RowConstraint:
    r"""Keep every row of hidden layers ``2..L`` in the L1 ball of radius ``a (1 - margin)``.

    A callable ``hook(model)`` for :func:`~qiskit_natural_qnn.training.fit`'s ``step_hooks``: it runs
    after every optimizer step (and once before training), so every forward pass of training sees a
    network whose hardtanh neurons in layers ``2..L`` never saturate, and whose ``linear`` single
    dynamic circuit is exact (``check_exact(model, "linear")``).

    Attributes:
        a: the radius before the margin; None (default) takes the model's stretch ``a`` at each call.
        margin: keep rows at ``a (1 - margin)``, in ``[0, 1)`` (default 0).

    Raises:
        ConfigurationError: ``a`` not finite or ``<= 0``, or ``margin`` outside ``[0, 1)``; at call
            time, a model with ``a = 0`` when ``a`` is None.

    Example:
        >>> net = NaturalQNN(layer_sizes=[4, 8, 8, 2], a=0.5, stretch="hardtanh", seed=0)
        >>> hook = L1RowConstraint()
        >>> hook(net)
        >>> bool(rows_l1(net.layers[1].weight).max() <= 0.5), hook.radius(net)
        (True, 0.5)
    """

    a: float | None = None
    margin: float = 0.0

    def __post_init__(self) -> None:
        if self.a is not None:
            object.__setattr__(self, "a", _check_radius(self.a))
        m = self.margin
        if isinstance(m, bool) or not isinstance(m, (int, float, np.floating)) or not 0.0 <= float(m) < 1.0:
            raise ConfigurationError(f"margin must be a number in [0, 1), got {m!r}; pass e.g. margin=0.0")
        object.__setattr__(self, "margin", float(m))

    def radius(self, model: NaturalQNN) -> float:
        """The L1 radius for ``model``: ``a (1 - margin)``."""
        if self.a is not None:
            a = self.a
        elif model.a > 0:
            a = model.a
        else:
            raise ConfigurationError(
                f"L1RowConstraint(a=None) takes the model's stretch a, got a = {model.a}; train with a > 0 "
                "or pass L1RowConstraint(a=...)"
            )
        return a * (1.0 - self.margin)

    def __call__(self, model: NaturalQNN) -> None:
        """Project hidden layers ``2..L`` of ``model`` in place (no gradients)."""
        r = self.radius(model)
        with torch.no_grad():
            for weight, bias in zip(model.weights()[1:-1], model.biases()[1:-1]):
                project_rows_l1_(weight, bias, radius=r)

    def holds(self, model: NaturalQNN, *, rel_tol: float = 0.0) -> bool:
        """True when every row of hidden layers ``2..L`` has L1 norm (bias included) ``<= radius (1 + rel_tol)``."""
        r = self.radius(model) * (1.0 + rel_tol)
        hidden = zip(model.weights()[1:-1], model.biases()[1:-1])
        return all(bool((rows_l1(weight, bias) <= r).all()) for weight, bias in hidden)


class NativeSetup(NamedTuple):
    """A network built for hardware-native training, and what ``fit`` needs to keep it native.

    Attributes:
        model: the network (stretch ``linear`` or ``hardtanh``; its spec's ``surrogate`` set).
        step_hooks: pass as ``fit(..., step_hooks=setup.step_hooks)`` (empty for ``linear``).
        kind: ``"linear"`` or ``"hardtanh-l1"``.
    """

    model: NaturalQNN
    step_hooks: list[Callable[[NaturalQNN], None]]
    kind: str


def native_config(
    *,
    kind: str,
    layer_sizes: Sequence[int],
    a: float,
    surrogate: str | Surrogate = "hardtanh",
    margin: float = 0.0,
    g: float = math.pi / 2,
    weak_update: str = "circuit",
    bias: bool = False,
    seed: int | np.random.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> NativeSetup:
    """Build a network whose ``linear`` single dynamic circuit is exact, and the hooks that keep it so.

    Args:
        kind: ``"linear"`` (stretch ``z/a``, no hooks) or ``"hardtanh-l1"`` (stretch ``hardtanh``
            with :class:`L1RowConstraint`; the initial weights are projected at once).
        layer_sizes: ``[n_inputs, hidden_1, ..., hidden_L, n_outputs]``.
        a: the stretch, ``> 0``.
        surrogate: the pseudo-gradient, a name or a :class:`~qiskit_natural_qnn.surrogates.Surrogate`:
            ``"hardtanh"`` (the paper's) or ``"expected"``.
        margin: ``hardtanh-l1`` only: keep rows at L1 norm ``a (1 - margin)``.
        g: the entanglement angle (``pi/2``: Method 1).
        weak_update: see :class:`~qiskit_natural_qnn.network.NaturalQNN`.
        bias: add biases (each bias counts in its row's L1 norm).
        seed: seeds the initialisation and the sampling stream.
        dtype: parameter dtype.

    Returns:
        A :class:`NativeSetup`.

    Raises:
        ConfigurationError: unknown ``kind``, ``a <= 0``, ``margin`` with ``kind="linear"``, or any
            error of :class:`~qiskit_natural_qnn.network.NaturalQNN`.

    Example:
        >>> setup = native_config(kind="linear", layer_sizes=[4, 16, 16, 2], a=1.0, surrogate="expected", seed=0)
        >>> setup.model.spec.stretch, setup.model.surrogate, setup.step_hooks
        ('linear', ExpectedSurrogate(), [])
    """
    if kind not in NATIVE_KINDS:
        raise ConfigurationError(f"unknown native kind {kind!r}; expected one of {', '.join(NATIVE_KINDS)}")
    try:
        a_value = float(a)
    except (TypeError, ValueError):
        a_value = float("nan")
    if not math.isfinite(a_value) or a_value <= 0:
        raise ConfigurationError(
            f"a hardware-native network needs a stretch a > 0, got a = {a!r}; pass e.g. a=1.0 "
            "(a = 0 is the sign neuron, which no single circuit with linear feedforward expresses)"
        )
    if kind == "linear" and margin != 0.0:
        raise ConfigurationError(
            f"margin applies to kind 'hardtanh-l1' (the L1 radius a (1 - margin)), got margin={margin!r} "
            "with kind 'linear'; drop it"
        )
    model = NaturalQNN(
        layer_sizes=layer_sizes,
        a=a_value,
        stretch=_STRETCH_OF[kind],
        g=g,
        weak_update=weak_update,
        bias=bias,
        surrogate=surrogate,
        seed=seed,
        dtype=dtype,
    )
    hooks: list[Callable[[NaturalQNN], None]] = []
    if kind == "hardtanh-l1":
        hook = L1RowConstraint(a=a_value, margin=margin)
        hook(model)
        hooks.append(hook)
    return NativeSetup(model=model, step_hooks=hooks, kind=kind)
