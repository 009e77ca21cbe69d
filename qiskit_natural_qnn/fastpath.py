r"""Batched, exact sampling of a naturally quantized network in PyTorch.

This is the reference semantics of the library and its training engine. One call draws one
independent stochastic forward pass per row of the input (per image and per shot), with the exact
outcome statistics of :mod:`qiskit_natural_qnn.neurons`, on whatever device the tensors live.

Per hidden layer ``k`` with pre-activation :math:`z = W_k h_{k-1}` (plus bias, if any):

* Method 1 (projective, ``g = pi/2``): :math:`d = +1` with probability
  :math:`(1 + \sin(\frac{\pi}{2} f_a(z)))/2`, independently per neuron.
* Method 2 (weak, ``g < pi/2``): neuron ``i`` is the same qubit in every hidden layer. It carries a
  Bloch angle :math:`\phi_i` (start 0) and its last outcome :math:`m_i` (start +1); the layer rotates
  it by :math:`\frac{\pi}{2}(m_i - f_a(z_i))`, measures it with angle ``g`` (``pi/2`` for the last
  hidden layer) and leaves it at the post-measurement angle.

The backward pass goes through a surrogate of :mod:`qiskit_natural_qnn.surrogates`: by default the
paper's straight-through estimator with the hard-tanh derivative at unit scale,
:math:`\partial d / \partial z := \mathbb{1}[-1 < z < 1]`, whatever ``a`` and ``g`` are
(``docs/model.md``, "Training"), or the derivative of the neuron's expected activation
(:class:`~qiskit_natural_qnn.surrogates.ExpectedSurrogate`). No gradient flows through the qubit state.

Speed: the sampling is a chain of light element-wise kernels next to the matrix products, kept short
without changing a single drawn value (the outcome ``u < p`` and the weak update's ratio are selected
on sign bits with integer kernels, constants are cached tensors). :func:`sample_layer` is one layer's
draw, shared by :func:`sample_network` and the ensemble trainer
(:mod:`qiskit_natural_qnn.training.ensemble`), which draws stacks of networks with the same code. In a
training step, :func:`deferring` keeps the finiteness and rotation checks on the device
(:class:`DeferredChecks`, read once per epoch) instead of synchronising with the host every layer.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from types import EllipsisType
from typing import NamedTuple, Protocol, runtime_checkable

import torch

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.neurons import (
    Measurement,
    MeasurementStack,
    Neuron,
    Stretch,
    StretchStack,
    activation_from_sign_bit,
    angle_refusal,
    deferred_angle_checks,
    uniform_kernels,
)
from qiskit_natural_qnn.randomness import UniformSource
from qiskit_natural_qnn.schedule import LayerSchedule, carried_angle
from qiskit_natural_qnn.surrogates import HardTanhSurrogate, Surrogate, get_surrogate

__all__ = [
    "CarriedState",
    "DeferredChecks",
    "ForwardPass",
    "LayerSampler",
    "NoiseLaw",
    "any_nonfinite",
    "deferring",
    "finite_witness",
    "nonfinite_preactivation_message",
    "sample_layer",
    "sample_network",
    "sample_sign",
]

#: The paper's unit-scale straight-through estimator, the default pseudo-gradient.
_DEFAULT_SURROGATE = HardTanhSurrogate()

#: ``law(layer, angle, p_plus, u) -> d``: how hidden layer ``layer`` (1-based) draws its activations on a
#: device instead of the ideal ``u < p_plus``. ``angle`` is the RY angle of each neuron's layer circuit
#: (``theta = (pi/2)(1 - f_a(z))``; Method 2: the neuron's absolute Bloch angle), ``p_plus`` the ideal
#: ``P(d = +1)`` the fast path computed and ``u`` its uniforms, all shaped ``(*batch, width)``; the
#: law returns the activations in ``{+1, -1}`` with ``p_plus``'s dtype. A law whose device has no error
#: must return exactly ``sample_sign(p_plus, u)``. ``qiskit_natural_qnn.emulation`` builds them.
LayerSampler = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@runtime_checkable
class NoiseLaw(Protocol):
    """A device's noise as the fast path takes it: bound to a batch, it gives a :data:`LayerSampler`.

    ``qiskit_natural_qnn.emulation.DeviceEmulation`` is one (the exact emulation of a noise model);
    :func:`~qiskit_natural_qnn.inference.predict` and ``fit`` accept any object with these methods.
    """

    def bind(
        self, *, hidden_sizes: tuple[int, ...], neuron: Neuron, positions: torch.Tensor, shots: int | None
    ) -> LayerSampler:
        """The law for one batch: rows at ``positions`` (image positions in the run), ``shots`` passes each.

        ``shots=None``: the batch has no shot dimension (one pass per row, as in training); else the
        tensors are shaped ``(shots, len(positions), width)``. Raises ``ConfigurationError`` when the
        law was built for another network (hidden sizes, measurements). The sampler depends on these
        arguments only, so it may be used again for another batch bound alike: ``fit`` binds once per
        mini-batch size.
        """
        ...

    def describe(self) -> str:
        """A one-line description (recorded with training runs and printed by the CLI)."""
        ...


class ForwardPass(NamedTuple):
    """One batch of stochastic forward passes.

    Attributes:
        logits: output logits, shape ``(*batch, n_outputs)``.
        preactivations: per hidden layer, the pre-activations ``z``, shape ``(*batch, width)``.
        activations: per hidden layer, the sampled activations in ``{+1, -1}`` (same dtype as ``z``).
    """

    logits: torch.Tensor
    preactivations: list[torch.Tensor]
    activations: list[torch.Tensor]

    def check_finite(self) -> None:
        """Refuse pre-activations that are not finite: ``W x`` overflowed the network's dtype.

        Finite inputs and weights can still overflow: a single huge product gives ``inf``, and a sum
        of overflowing terms gives ``inf - inf``, which is NaN on one CPU kernel and ``inf`` on another
        (a fused multiply-add keeps the first infinity). A NaN would be sampled as ``-1`` every time and
        an infinity is an overflow too, so both are refused: the same input is accepted or refused on
        every CPU.

        Raises:
            InputError: some pre-activation is ``inf``, ``-inf`` or NaN.
        """
        if not self.preactivations:
            return
        witnesses = torch.stack([finite_witness(z) for z in self.preactivations])
        bad = torch.isfinite(witnesses).logical_not_().nonzero().flatten().tolist()  # the one synchronisation
        if bad:
            raise InputError(nonfinite_preactivation_message(bad[0] + 1, self.preactivations[bad[0]].dtype))


def finite_witness(z: torch.Tensor, *, leading: int = 0) -> torch.Tensor:
    """A number that is finite exactly when every element of ``z`` is, with no host synchronisation.

    The sum of ``z * 0``: every finite element contributes ``+-0`` and an infinite or NaN one NaN
    (``0 * inf`` is NaN), so the sum is ``+-0`` or NaN and never overflows. Witnesses add up: a sum of
    many is finite exactly when all of theirs are, so a training loop keeps one running sum and reads
    it once per epoch. Two light kernels, a fifth of the cost of ``isnan(z * 0).any()`` on CPUs (and
    a third of ``z.sum(dtype=float64)``, which first copies ``z`` to float64).

    Args:
        z: any floating tensor.
        leading: keep this many leading dimensions (``1``: one witness per network of a stack).

    Example:
        >>> finite_witness(torch.tensor([[1.0, 3e38], [3e38, 3e38]]), leading=1).isfinite().tolist()
        [True, True]
        >>> bool(finite_witness(torch.tensor([1.0, float("inf")])).isfinite())
        False
    """
    # a broadcast dimension (stride 0, e.g. the shots of a first layer) repeats its values: one copy decides
    if 0 in z.stride():
        index = tuple(0 if d >= leading and z.stride(d) == 0 and z.shape[d] > 1 else slice(None) for d in range(z.ndim))
        z = z[index]
    dims = tuple(range(leading, z.ndim))
    zeros = z.mul(0.0)
    return zeros.sum(dim=dims) if dims else zeros


def any_nonfinite(z: torch.Tensor) -> torch.Tensor:
    """Whether ``z`` holds ``inf``, ``-inf`` or NaN, as a 0-d bool tensor (no host synchronisation).

    See :func:`finite_witness`, which a loop over many tensors accumulates instead.
    """
    return torch.isfinite(finite_witness(z)).logical_not_()


class DeferredChecks:
    """The checks of many forward passes, kept on the device and read once (e.g. per training epoch).

    Inside :func:`deferring`, :func:`sample_network` adds every hidden layer's :func:`finite_witness`
    to :attr:`witness`, and the ``linear`` stretch reports the rotations it refuses (beyond
    :data:`~qiskit_natural_qnn.neurons.MAX_ANGLE`) to :meth:`rotations` instead of synchronising with
    the host to raise at once. :meth:`error` reads both in one synchronisation.

    Args:
        device: where the passes run.
        networks: None for one network; ``K`` to keep one record per network of a stack (an ensemble),
            whose reports then carry a leading network dimension or an ``index``.

    Attributes:
        witness: finite exactly when every pre-activation seen was finite (float64, one per network).
        excess: the largest refused stretched value ``|z/a|`` seen, or 0 (float64, one per network).
        a: the stretch ``a`` of that refusal (float64, one per network).
    """

    def __init__(self, *, device: torch.device | str, networks: int | None = None) -> None:
        shape = () if networks is None else (int(networks),)
        self.witness = torch.zeros(shape, dtype=torch.float64, device=device)
        self.excess = torch.zeros(shape, dtype=torch.float64, device=device)
        self.a = torch.zeros(shape, dtype=torch.float64, device=device)

    def member(self, network: int) -> DeferredChecks:
        """The record of network ``network`` of a stack, as checks of one network (views of this record)."""
        view = DeferredChecks(device=self.witness.device)
        view.witness, view.excess, view.a = self.witness[network], self.excess[network], self.a[network]
        return view

    def preactivations(self, z: torch.Tensor, *, index: slice | None = None) -> None:
        """Add ``z``'s witness (one per network when ``index`` selects networks of the first dimension)."""
        if index is None:
            self.witness += finite_witness(z, leading=self.witness.ndim)
        else:
            self.witness[index] += finite_witness(z, leading=1)

    def rotations(self, excess: torch.Tensor, a: float | torch.Tensor, *, index: int | slice | None = None) -> None:
        """Record refused rotations: ``excess`` from :func:`~qiskit_natural_qnn.neurons.stretched_excess`.

        ``index`` selects the networks of a stack the report is about (None: all of them).
        """
        target: int | slice | EllipsisType = ... if index is None else index
        worse = excess > self.excess[target]
        self.a[target] = torch.where(worse, a, self.a[target])  # a number stays a number: no copy to the device
        self.excess[target] = torch.maximum(self.excess[target], excess)

    def error(self, *, network: int | None = None, epoch: int | None = None, dtype: torch.dtype) -> InputError | None:
        """The first problem seen (a refused rotation, then an overflow), or None; one host synchronisation.

        Args:
            network: the network of a stack to report on (None: the only one).
            epoch: the training epoch, for the overflow's message (None: not training).
            dtype: the network's dtype, for the overflow's message.
        """
        at = () if network is None else (network,)
        excess, a, witness = torch.stack([self.excess[at], self.a[at], self.witness[at]]).tolist()
        if excess > 0:
            return angle_refusal(excess, a)
        if witness == witness and abs(witness) != float("inf"):
            return None
        message = nonfinite_preactivation_message(None, dtype)
        return InputError(f"training diverged in epoch {epoch}: {message}" if epoch is not None else message)


#: The checks that :func:`deferring` put in effect (None: every check raises at once).
_DEFERRED: ContextVar[DeferredChecks | None] = ContextVar("qiskit_natural_qnn_deferred_checks", default=None)


@contextlib.contextmanager
def deferring(checks: DeferredChecks) -> Iterator[DeferredChecks]:
    """Within the block, :func:`sample_network` reports to ``checks`` instead of synchronising with the host.

    For tight loops (a training step); whoever enters it must read :meth:`DeferredChecks.error` later.
    """
    token = _DEFERRED.set(checks)
    try:
        with deferred_angle_checks(checks.rotations):
            yield checks
    finally:
        _DEFERRED.reset(token)


def nonfinite_preactivation_message(layer: int | None, dtype: torch.dtype) -> str:
    """The one explanation of an overflowing ``W x`` (hidden layer ``layer``, or any layer if None)."""
    where = f"hidden layer {layer}" if layer is not None else "a hidden layer"
    return (
        f"the pre-activations of {where} are not finite: W x overflowed {dtype} (to inf or NaN, "
        "depending on the CPU's kernels); scale the inputs (e.g. pixels to [0, 1]), lower the learning "
        "rate if this happened in training, or use a float64 network"
    )


def sample_sign(p_plus: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """+1 where ``u < p_plus`` else -1 (exact Bernoulli(p_plus) for u ~ U[0, 1)).

    ``-copysign(1, u - p)``: ``u - p`` is ``+0.0`` exactly when ``u == p``, which gives -1 as required;
    evaluated on the sign bit (:func:`~qiskit_natural_qnn.neurons.activation_from_sign_bit`).
    """
    return activation_from_sign_bit(u - p_plus)


@dataclass
class CarriedState:
    """Method 2's state between hidden layers: each neuron's post-measurement angle and last outcome.

    Attributes:
        phi: the angles after the previous layer's measurement (None: fresh qubits, angle 0).
        m: the previous layer's outcomes (None: fresh qubits, ``+1``).
    """

    phi: torch.Tensor | None = None
    m: torch.Tensor | None = None


def sample_layer(
    zd: torch.Tensor,
    draw: Callable[[], torch.Tensor],
    *,
    stretch: Stretch | StretchStack,
    measurement: Measurement | MeasurementStack,
    deterministic: bool,
    carries_state: bool,
    carries_after: bool,
    state: CarriedState,
    law: LayerSampler | None = None,
    layer: int = 1,
    shape: torch.Size | None = None,
) -> torch.Tensor:
    """Draw one hidden layer's activations from its pre-activations (the body of :func:`sample_network`).

    The same code draws one network (a :class:`~qiskit_natural_qnn.neurons.Stretch` and
    :class:`~qiskit_natural_qnn.neurons.Measurement`) or a stack of networks side by side (their
    ``*Stack`` counterparts, tensors with a leading network axis).

    Args:
        zd: the layer's pre-activations, detached.
        draw: returns the layer's uniforms, shaped like ``zd`` (not called for a deterministic layer).
        stretch: the neurons' stretch (or a stack of them).
        measurement: this layer's measurement (of the layer schedule; or a stack).
        deterministic: the classical sign neuron (no randomness).
        carries_state: Method 2: the neurons keep their qubits from layer to layer (``state``).
        carries_after: this layer passes its post-measurement state on.
        state: Method 2's state, read and updated in place.
        law: draw on a noisy device instead (see :func:`sample_network`).
        layer: the layer's number (1-based), for ``law``.
        shape: None, or the shape of the draw when every row of its leading dimensions shares ``zd``
            (the shots of a pass's first layer, ``zd`` one pass's pre-activations): the neurons' math
            then runs once on ``zd`` and broadcasts, where ``zd`` fills whole vector blocks of the
            element-wise kernels (:func:`~qiskit_natural_qnn.neurons.uniform_kernels`), so that every
            value is computed by the same vector code as on ``zd.expand(shape)``: the same bits. Other
            sizes run on ``zd.expand(shape)`` (a CPU kernel finishes a tensor with scalar code, which
            may round differently).

    Returns:
        The activations in ``{+1, -1}``, shaped like ``zd`` (or ``shape``).
    """
    if shape is not None and not uniform_kernels(zd.numel(), zd.dtype):
        zd, shape = zd.expand(shape), None
    if deterministic and law is None:
        d = stretch(zd)
        return d if shape is None else d.expand(shape).contiguous()
    update = None
    if carries_state:
        phi = carried_angle(stretch(zd), phi=state.phi, m=state.m)
        if carries_after:
            p, update = measurement.readout(phi)
        else:
            p = measurement.prob_plus(phi)
        if shape is not None:  # a view where the update replaces it, else the caller's own tensor
            phi = phi.expand(shape) if carries_after else phi.expand(shape).contiguous()
        state.phi = phi
    else:
        p = stretch.prob_plus(zd)
    u = draw()
    if law is None:
        d = sample_sign(p, u)
    elif isinstance(stretch, StretchStack):
        raise ConfigurationError("a noise law draws one network at a time, got a stack; sample each network alone")
    else:  # the circuit's angle: Method 2's absolute Bloch angle, else the fresh qubit's rotation
        full = u.shape
        angle = state.phi if carries_state and state.phi is not None else stretch.theta(zd).expand(full)
        d = law(layer, angle, p.expand(full), u)
    if d.dtype != zd.dtype:  # narrower networks compare with float32 uniforms: +-1 in the network's dtype
        d = d.to(zd.dtype)
    if update is not None:
        state.phi = update(d)
        state.m = d
    return d


@functools.lru_cache(maxsize=128)
def _layer_plan(hidden_sizes: tuple[int, ...], neuron: Neuron) -> tuple[bool, tuple[tuple[Measurement, bool], ...]]:
    """The :class:`~qiskit_natural_qnn.schedule.LayerSchedule` of a network, unrolled once per shape and neuron.

    Returns ``(carries_state, ((measurement, carries_after) per hidden layer))``: the training loop
    calls :func:`sample_network` once per step, and this keeps the schedule's checks out of it.
    """
    schedule = LayerSchedule(hidden_sizes=hidden_sizes, neuron=neuron)
    layers = range(1, schedule.n_hidden + 1)
    return schedule.carries_state, tuple((schedule.measurement(k), schedule.carries_after(k)) for k in layers)


def sample_network(
    x: torch.Tensor,
    weights: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor | None],
    neuron: Neuron,
    *,
    generator: torch.Generator | None = None,
    uniform: UniformSource | None = None,
    shots: int | None = None,
    surrogate: Surrogate = _DEFAULT_SURROGATE,
    law: LayerSampler | None = None,
) -> ForwardPass:
    """Draw one stochastic forward pass per row of ``x`` (per row and shot when ``shots`` is given).

    Args:
        x: inputs, shape ``(*batch, n_inputs)``; any leading dimensions (e.g. ``(shots, images)``).
        weights: ``[W_1, ..., W_L, W_out]``, each of shape ``(fan_out, fan_in)``.
        biases: one entry per weight, a tensor or None.
        neuron: the hidden neurons' stretch and measurement.
        generator: the random stream (ignored when ``uniform`` is given).
        uniform: an optional source of uniforms keyed by layer (for counter-based randomness).
        shots: if given, draw this many passes per row: the first layer's ``z`` (deterministic given
            ``x``) is computed once and every output gains a leading ``shots`` dimension.
        surrogate: the pseudo-gradient, a :class:`~qiskit_natural_qnn.surrogates.Surrogate` (default:
            the paper's unit-scale straight-through estimator); it must fit ``neuron``.
        law: draw the activations on a (noisy) device: a :data:`LayerSampler` (e.g. from
            :meth:`NoiseLaw.bind`) that gets each layer's circuit angles, ideal probabilities and
            uniforms; None draws the ideal outcomes. The backward pass is the same either way.

    Returns:
        The logits and every hidden layer's pre-activations and sampled activations. Gradients flow
        to the weights through ``surrogate`` when autograd is enabled.

    Raises:
        ConfigurationError: ``surrogate`` is not a surrogate, or does not fit ``neuron``.
    """
    surrogate = get_surrogate(surrogate, neuron=neuron)
    stretch = neuron.stretch
    carries_state, plan = _layer_plan(tuple(int(w.shape[0]) for w in weights[:-1]), neuron)
    deterministic = neuron.is_classical
    checks = _DEFERRED.get()
    state = CarriedState()
    pre: list[torch.Tensor] = []
    acts: list[torch.Tensor] = []
    h = x
    for k, (meas, carries_after) in enumerate(plan):
        z = torch.nn.functional.linear(h, weights[k], biases[k])
        zd = z.detach()  # the first layer's z, one per row: the math runs once, the shots broadcast it
        shape = None
        if k == 0 and shots is not None:
            z = z.unsqueeze(0).expand(int(shots), *z.shape)
            shape = z.shape
        if checks is not None:
            checks.preactivations(zd)

        def draw(k: int = k, full: torch.Size = z.shape, like: torch.Tensor = zd) -> torch.Tensor:
            if uniform is not None:
                return uniform(k, full, like)
            return torch.rand(full, generator=generator, device=like.device, dtype=like.dtype)

        d = sample_layer(
            zd,
            draw,
            stretch=stretch,
            measurement=meas,
            deterministic=deterministic,
            carries_state=carries_state,
            carries_after=carries_after,
            state=state,
            law=law,
            layer=k + 1,
            shape=shape,
        )
        pre.append(z)
        acts.append(d)
        h = surrogate(z, d, stretch)
    logits = torch.nn.functional.linear(h, weights[-1], biases[-1])
    return ForwardPass(logits=logits, preactivations=pre, activations=acts)
