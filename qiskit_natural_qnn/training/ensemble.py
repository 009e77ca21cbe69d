r"""Many networks of one shape trained at once: :func:`fit_ensemble`.

A sweep trains dozens of networks of the same layer sizes that differ in the stretch ``a``, the angle
``g``, the stretch function, the recipe's learning rate or the seed. Trained one at a time, a small
network's epoch is almost all per-batch overhead, and a large one leaves most of a GPU idle.
:func:`fit_ensemble` trains ``K`` such networks in one vectorized pass: each layer's weights are
stacked along a leading network axis and multiplied in one batched product (``torch.bmm``), and the
sampling runs the model's math once for all networks, each network's constants broadcast along that
axis (:class:`~qiskit_natural_qnn.neurons.StretchStack`,
:class:`~qiskit_natural_qnn.neurons.MeasurementStack`, :func:`~qiskit_natural_qnn.fastpath.sample_layer`).

Each network keeps everything its own :func:`~qiskit_natural_qnn.training.fit` gives it: the set-up
(generators seeded from its config's ``seed``), its shuffling and its sampling stream, SGD with its
learning rate, momentum, weight decay and schedule, its validation, weight average, history and
output files. Those pieces are ``fit``'s own (:mod:`qiskit_natural_qnn.training.loop`); only the
training steps are shared. So each network ends where its serial ``fit`` ends:

* **bit for bit on CPU with one thread** (``torch.set_num_threads(1)``, both runs): the weights and
  every history field but ``seconds``. The batched product computes each network's slice with the
  kernel of its own product, and element-wise work is stacked where every network's slice fills
  whole vector blocks of the kernels (:func:`~qiskit_natural_qnn.neurons.uniform_kernels`) and done
  network by network elsewhere, so it is exact either way. With several threads the batched product
  still computes each slice single-threaded, but ``fit``'s own product splits its sums between
  threads, and long element-wise kernels split their work at places that may put a few elements on
  the scalar path: the last bit of a number can then differ and, rarely, a sampled outcome flip (as
  between two serial runs with different thread counts).
* **to floating-point tolerance on CUDA**, whose batched and single matrix products are different
  kernels (a flipped outcome then makes the trajectories part, as two GPU runs can).

The networks must share the layer sizes, biases, dtype (float32 or float64) and device, and their
recipes the ``epochs``, ``batch_size``, ``train_shots`` and ``shuffle``; everything else may differ.
``seconds`` of an epoch record is the network's share of the ensemble's training time (the epoch's
training time divided by ``K``) plus its own validation. A network whose training diverges stops the
ensemble with the error ``fit`` raises, naming the network.

Example:
    >>> import numpy as np
    >>> from qiskit_natural_qnn.data import Dataset
    >>> from qiskit_natural_qnn.network import NaturalQNN
    >>> rng = np.random.default_rng(0)
    >>> data = Dataset(rng.random((32, 4), dtype=np.float32), rng.integers(0, 2, 32), "toy")
    >>> nets = [NaturalQNN(layer_sizes=[4, 8, 2], a=a, seed=0) for a in (0.25, 0.5, 1.0)]
    >>> histories = fit_ensemble(nets, data, data, configs=TrainConfig(epochs=2, seed=0))
    >>> [len(h.records) for h in histories], histories[0].records[-1].val_vote_error is not None
    ([2, 2, 2], True)
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from tqdm import tqdm

from qiskit_natural_qnn.exceptions import ConfigurationError, NaturalQNNError
from qiskit_natural_qnn.fastpath import CarriedState, DeferredChecks, sample_layer
from qiskit_natural_qnn.limits import check_bytes
from qiskit_natural_qnn.network import NaturalQNN, sampling_bytes
from qiskit_natural_qnn.neurons import (
    Measurement,
    MeasurementStack,
    Neuron,
    StretchStack,
    deferred_angle_checks,
    uniform_kernels,
)
from qiskit_natural_qnn.schedule import LayerSchedule
from qiskit_natural_qnn.training.config import History, TrainConfig
from qiskit_natural_qnn.training.loop import (
    EpochState,
    TrainingRun,
    begin_epoch,
    check_dataset,
    close_epoch,
    finish_run,
    set_up_run,
)

__all__ = ["ENSEMBLE_DTYPES", "SHARED_FIELDS", "fit_ensemble"]

#: The parameter dtypes an ensemble trains (narrower ones keep constants in float32 inside kernels,
#: which per-network columns of their own dtype would not reproduce: train those one at a time).
ENSEMBLE_DTYPES: tuple[torch.dtype, ...] = (torch.float32, torch.float64)

#: The :class:`TrainConfig` fields every network of an ensemble must share (they set the steps).
SHARED_FIELDS: tuple[str, ...] = ("epochs", "batch_size", "train_shots", "shuffle")

#: Below this many multiply-adds per slice (contraction x rows x columns) PyTorch's CPU ``bmm`` uses
#: its own loop, not the matrix kernel of the 2-D product: such products go slice by slice.
_NAIVE_BMM = 400

_PAPER_RECIPE = TrainConfig()


def _sliced(a: torch.Tensor, b: torch.Tensor) -> bool:
    """True when ``a @ b`` of stacked ``(K, m, k) @ (K, k, n)`` must go slice by slice (see :data:`_NAIVE_BMM`)."""
    return a.device.type == "cpu" and a.shape[1] * a.shape[2] * b.shape[2] < _NAIVE_BMM


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` for each network's slice, each with the kernel of its own 2-D product."""
    if _sliced(a, b):
        return torch.stack([x.mm(y) for x, y in zip(a.unbind(0), b.unbind(0))])
    return torch.bmm(a, b)


class _StackedLinear(torch.autograd.Function):
    """``z = h W^T (+ b)`` for stacked networks, forward and backward with the products of ``F.linear``.

    Network ``k``'s slice is computed as its own layer computes it: ``h W^T`` (``addmm`` with a bias),
    and backward ``grad W`` for the input and ``grad^T h`` for the weight (PyTorch's ``mm`` backward
    for a transposed weight), the bias gradient summed over the rows.
    """

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        ctx.save_for_backward(h, weight)
        ctx.has_bias = bias is not None
        wt = weight.transpose(1, 2)
        if bias is None:
            return _matmul(h, wt)
        if _sliced(h, wt):
            return torch.stack(
                [torch.addmm(c, x, w.t()) for c, x, w in zip(bias.unbind(0), h.unbind(0), weight.unbind(0))]
            )
        return torch.baddbmm(bias.unsqueeze(1), h, wt)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        h, weight = ctx.saved_tensors
        grad_h = _matmul(grad, weight) if ctx.needs_input_grad[0] else None
        grad_w = _matmul(grad.transpose(1, 2), h) if ctx.needs_input_grad[1] else None
        grad_b = grad.sum(dim=1) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return grad_h, grad_w, grad_b


def _sampling_kind(neuron: Neuron) -> tuple[Any, ...]:
    """Networks with equal kinds sample with the same operations (their constants may differ)."""
    meas = neuron.measurement
    return (
        neuron.is_classical,
        neuron.stretch.effective_kind,
        meas.is_projective,
        None if meas.is_projective else meas.update,
    )


@dataclass
class _Group:
    """The networks at positions ``[start, stop)`` of the stack, which sample with the same operations.

    Attributes:
        start: the first position.
        stop: one past the last.
        neurons: each network's neuron.
        measurements: per network, each hidden layer's measurement (the layer schedule's).
        deterministic: the classical sign neuron (no randomness).
        carries_state: Method 2 (the neurons keep their qubits from layer to layer).
        carries_after: per hidden layer, whether it passes its state on.
        stretch: the stack of the networks' stretches, or None when they sample network by network.
        layer_measurements: per hidden layer, the stack of the networks' measurements (or None).
    """

    start: int
    stop: int
    neurons: tuple[Neuron, ...]
    measurements: tuple[tuple[Measurement, ...], ...]
    deterministic: bool
    carries_state: bool
    carries_after: tuple[bool, ...]
    stretch: StretchStack | None
    layer_measurements: tuple[MeasurementStack, ...] | None

    @classmethod
    def build(cls, start: int, neurons: Sequence[Neuron], hidden: tuple[int, ...]) -> _Group:
        """The group of ``neurons`` (one kind) at positions from ``start``."""
        schedules = [LayerSchedule(hidden_sizes=hidden, neuron=n) for n in neurons]
        layers = range(1, len(hidden) + 1)
        measurements = tuple(tuple(s.measurement(k) for k in layers) for s in schedules)
        try:
            stretch: StretchStack | None = StretchStack(stretches=tuple(n.stretch for n in neurons))
            stacks: tuple[MeasurementStack, ...] | None = tuple(
                MeasurementStack(measurements=tuple(m[k] for m in measurements)) for k in range(len(hidden))
            )
        except ConfigurationError:  # e.g. the authors' update rule: sampled network by network
            stretch, stacks = None, None
        return cls(
            start=start,
            stop=start + len(neurons),
            neurons=tuple(neurons),
            measurements=measurements,
            deterministic=neurons[0].is_classical,
            carries_state=schedules[0].carries_state,
            carries_after=tuple(schedules[0].carries_after(k) for k in layers),
            stretch=stretch,
            layer_measurements=stacks,
        )


def _angle_sink(checks: DeferredChecks, index: int | slice) -> contextlib.AbstractContextManager[None]:
    """Refused rotations of the linear stretch go to ``checks`` (for the networks at ``index``)."""
    return deferred_angle_checks(functools.partial(checks.rotations, index=index))


class _Ensemble:
    """The networks' trainable state stacked along a leading network axis, and one training step for all.

    Positions in the stack follow ``runs`` (networks grouped by sampling kind).
    """

    def __init__(self, runs: Sequence[TrainingRun], x: torch.Tensor, y: torch.Tensor) -> None:
        self.runs = list(runs)
        self.x, self.y = x, y
        models = [run.model for run in self.runs]
        first = models[0]
        self.hidden = first.hidden_sizes
        self.config = self.runs[0].config
        with torch.no_grad():
            self.weights = [torch.stack(ws).requires_grad_() for ws in zip(*(m.weights() for m in models))]
            biases = [list(bs) for bs in zip(*(m.biases() for m in models))]
            self.biases: list[torch.Tensor | None] = [
                torch.stack([b for b in bs if b is not None]).requires_grad_() if bs[0] is not None else None
                for bs in biases
            ]
        self.params = [*self.weights, *(b for b in self.biases if b is not None)]
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)
        self.steps = 0
        self.generators = [run.loop.sampling_gen for run in self.runs]
        self.groups: list[_Group] = []
        neurons = [m.neuron for m in models]
        start = 0
        while start < len(neurons):
            stop = start + 1
            while stop < len(neurons) and _sampling_kind(neurons[stop]) == _sampling_kind(neurons[start]):
                stop += 1
            self.groups.append(_Group.build(start, neurons[start:stop], self.hidden))
            start = stop
        self.stretches = [n.stretch for n in neurons]
        self.surrogates = [m.spec.surrogate for m in models]
        self.one_surrogate = all(s == self.surrogates[0] for s in self.surrogates)

    # ----------------------------------------------------------------- weights
    def store(self) -> None:
        """Copy the stacked weights into the networks (each its own slice)."""
        with torch.no_grad():
            for k, run in enumerate(self.runs):
                for layer, w, b in zip(run.model.linear_layers(), self.weights, self.biases):
                    layer.weight.copy_(w[k])
                    if b is not None and layer.bias is not None:
                        layer.bias.copy_(b[k])

    # ----------------------------------------------------------------- one step
    def step(self, idx: torch.Tensor, checks: DeferredChecks, loss_sums: torch.Tensor, wrong: torch.Tensor) -> None:
        """One SGD step of every network on its mini-batch ``idx[k]`` (``train_shots`` passes per image)."""
        shots = self.config.train_shots
        flat = idx.reshape(-1)
        xb = self.x.index_select(0, flat).view(*idx.shape, self.x.shape[1])  # twice as fast as x[idx]
        yb = self.y.index_select(0, flat).view(idx.shape)
        if shots > 1:  # as fit: the batch repeated, K independent passes per image
            xb, yb = xb.repeat(1, shots, 1), yb.repeat(1, shots)
        rows = xb.shape[1]
        uniforms = self._draw(rows)
        aligned = all(uniform_kernels(rows * w, self.x.dtype) for w in self.hidden)
        states = [CarriedState() for _ in self.groups]
        member_states = [CarriedState() for _ in self.runs]
        h = xb
        for layer in range(len(self.hidden)):
            z = _StackedLinear.apply(h, self.weights[layer], self.biases[layer])
            zd = z.detach()
            checks.preactivations(zd)
            parts = [
                self._sample(g, layer, zd, buf, state, member_states, checks, aligned=aligned)
                for g, buf, state in zip(self.groups, uniforms, states)
            ]
            d = parts[0] if len(parts) == 1 else torch.cat(parts)
            h = self._surrogate(z, d)
        logits = _StackedLinear.apply(h, self.weights[-1], self.biases[-1])
        # fit's mean cross-entropy of each network: log-softmax row by row, then each network's mean. The
        # gradient of the row losses' means is fit's (-1/R at the targets, through the same log-softmax);
        # the values come from nll_loss on each network's rows, whose summation fit's loss shares.
        log_p = torch.log_softmax(logits.reshape(-1, logits.shape[-1]), dim=-1)
        row_losses = torch.nn.functional.nll_loss(log_p, yb.reshape(-1), reduction="none").view(yb.shape)
        for p in self.params:
            p.grad = None
        row_losses.mean(dim=1).sum().backward()
        self._sgd()
        with torch.no_grad():
            log_p = log_p.detach().view(*logits.shape)
            losses = torch.stack([torch.nn.functional.nll_loss(lp, t) for lp, t in zip(log_p.unbind(0), yb.unbind(0))])
            loss_sums += losses * idx.shape[1]
            wrong += (logits.argmax(dim=-1) != yb).sum(dim=1)

    def _draw(self, rows: int) -> list[torch.Tensor | None]:
        """Each stochastic network's uniforms for every hidden layer of the step, from its own stream.

        One draw of ``rows * sum(widths)`` numbers per network: the same numbers, in the same order, as
        the layer-by-layer draws of its serial forward pass.
        """
        total = rows * sum(self.hidden)
        x = self.x
        out: list[torch.Tensor | None] = []
        for g in self.groups:
            if g.deterministic:
                out.append(None)
                continue
            buf = torch.empty((g.stop - g.start, total), dtype=x.dtype, device=x.device)
            for i, k in enumerate(range(g.start, g.stop)):
                buf[i].uniform_(0.0, 1.0, generator=self.generators[k])  # torch.rand's kernel, into place
            out.append(buf)
        return out

    def _layer_uniforms(self, buf: torch.Tensor, layer: int, rows: int) -> torch.Tensor:
        """The group's uniforms of hidden layer ``layer``: a ``(G, rows, width)`` view of its step's draw."""
        offset = rows * sum(self.hidden[:layer])
        width = self.hidden[layer]
        return buf[:, offset : offset + rows * width].view(buf.shape[0], rows, width)

    def _sample(
        self,
        g: _Group,
        layer: int,
        zd: torch.Tensor,
        buf: torch.Tensor | None,
        state: CarriedState,
        member_states: list[CarriedState],
        checks: DeferredChecks,
        *,
        aligned: bool,
    ) -> torch.Tensor:
        """The activations of group ``g`` in hidden layer ``layer``: stacked, or network by network.

        ``buf`` holds the group's uniforms of the step (None for deterministic networks); ``aligned``
        says that every layer's slices fill whole vector blocks (:func:`uniform_kernels`).
        """
        rows = zd.shape[1]
        u = self._layer_uniforms(buf, layer, rows) if buf is not None else None
        zg = zd[g.start : g.stop]
        stacked = aligned and g.stretch is not None and g.layer_measurements is not None
        linear = g.neurons[0].stretch.effective_kind == "linear"
        if stacked:
            assert g.stretch is not None and g.layer_measurements is not None
            with _angle_sink(checks, slice(g.start, g.stop)) if linear else contextlib.nullcontext():
                return sample_layer(
                    zg,
                    _drawn(u),
                    stretch=g.stretch,
                    measurement=g.layer_measurements[layer],
                    deterministic=g.deterministic,
                    carries_state=g.carries_state,
                    carries_after=g.carries_after[layer],
                    state=state,
                )
        parts = []
        for i, neuron in enumerate(g.neurons):
            k = g.start + i
            with _angle_sink(checks, k) if linear else contextlib.nullcontext():
                parts.append(
                    sample_layer(
                        zg[i],
                        _drawn(u[i] if u is not None else None),
                        stretch=neuron.stretch,
                        measurement=g.measurements[i][layer],
                        deterministic=g.deterministic,
                        carries_state=g.carries_state,
                        carries_after=g.carries_after[layer],
                        state=member_states[k],
                    )
                )
        return torch.stack(parts)

    def _surrogate(self, z: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        """The activations with each network's pseudo-gradient attached (``fit``'s surrogate call)."""
        if self.one_surrogate:
            return self.surrogates[0].stacked(z, d, self.stretches)
        return torch.stack(
            [s(zk, dk, st) for s, zk, dk, st in zip(self.surrogates, z.unbind(0), d.unbind(0), self.stretches)]
        )

    # ----------------------------------------------------------------- the optimizer
    def _sgd(self) -> None:
        """Each network's SGD step (``torch.optim.SGD``'s single-tensor update), with its own hyper-parameters."""
        groups = [run.loop.optimizer.param_groups[0] for run in self.runs]
        hypers = [(float(g["lr"]), float(g["momentum"]), float(g["weight_decay"])) for g in groups]
        shared = all(h == hypers[0] for h in hypers)
        first = self.steps == 0
        with torch.no_grad():
            for j, p in enumerate(self.params):
                grad = p.grad
                assert grad is not None
                if shared and uniform_kernels(p[0].numel(), p.dtype):
                    self.buffers[j] = _sgd(p, grad, self.buffers[j], *hypers[0], first=first)
                    continue
                if self.buffers[j] is None and any(m != 0 for _, m, _ in hypers):
                    self.buffers[j] = torch.zeros_like(p)
                buf = self.buffers[j]
                for k, (lr, momentum, decay) in enumerate(hypers):
                    _sgd(
                        p[k], grad[k], buf[k] if buf is not None else None, lr, momentum, decay, first=first, into=True
                    )
        self.steps += 1


def _drawn(u: torch.Tensor | None) -> Callable[[], torch.Tensor]:
    """The draw of :func:`~qiskit_natural_qnn.fastpath.sample_layer`: uniforms drawn beforehand."""

    def draw() -> torch.Tensor:
        assert u is not None, "a deterministic layer draws no uniforms"
        return u

    return draw


def _sgd(
    p: torch.Tensor,
    grad: torch.Tensor,
    buf: torch.Tensor | None,
    lr: float,
    momentum: float,
    decay: float,
    *,
    first: bool,
    into: bool = False,
) -> torch.Tensor | None:
    """``torch.optim.SGD``'s update of ``p`` (no dampening, no Nesterov), operation for operation.

    Returns the momentum buffer: ``grad`` cloned at the first step (written into ``buf`` when ``into``),
    then ``momentum * buf + grad``.
    """
    if decay != 0:
        grad = grad.add(p, alpha=decay)
    if momentum != 0:
        if first and not into:
            buf = grad.detach().clone()
        elif first:
            assert buf is not None
            buf.copy_(grad)
        else:
            assert buf is not None
            buf.mul_(momentum).add_(grad, alpha=1)
        grad = buf
    p.add_(grad, alpha=-lr)
    return buf


# ------------------------------------------------------------------------------------------ checks
def _check_models(models: Any) -> list[NaturalQNN]:
    """The networks, refused unless they can train side by side (same shape, biases, dtype and device)."""
    if isinstance(models, NaturalQNN) or not isinstance(models, Sequence) or not models:
        raise ConfigurationError(
            f"models must be a non-empty sequence of NaturalQNN, got {type(models).__name__}; pass e.g. "
            "[NaturalQNN(layer_sizes=[784, 16, 10], a=a, seed=0) for a in (0.25, 0.5)]"
        )
    models = list(models)
    for k, m in enumerate(models):
        if not isinstance(m, NaturalQNN):
            raise ConfigurationError(f"models[{k}] must be a NaturalQNN, got {type(m).__name__}")
    if len({id(m) for m in models}) != len(models):
        raise ConfigurationError("models holds the same network more than once; pass distinct networks")
    first = models[0]
    ref = first.weights()[0]
    if ref.dtype not in ENSEMBLE_DTYPES:
        raise ConfigurationError(
            f"fit_ensemble trains float32 or float64 networks, got {ref.dtype}; train {ref.dtype} networks one at "
            "a time with fit"
        )
    for k, m in enumerate(models[1:], start=1):
        w = m.weights()[0]
        got = (list(m.layer_sizes), m.bias, w.dtype, str(w.device))
        want = (list(first.layer_sizes), first.bias, ref.dtype, str(ref.device))
        if got != want:
            raise ConfigurationError(
                f"the networks of an ensemble must share layer sizes, biases, dtype and device: network 0 has "
                f"{want}, network {k} has {got}; train networks of another shape in another ensemble"
            )
    return models


def _check_configs(configs: Any, n: int) -> list[TrainConfig]:
    """One recipe per network (one recipe for all is repeated); the fields of :data:`SHARED_FIELDS` must agree."""
    if isinstance(configs, TrainConfig):
        return [configs] * n
    if not isinstance(configs, Sequence) or len(configs) != n:
        raise ConfigurationError(
            f"configs must be a TrainConfig or a sequence of {n} (one per network), got "
            f"{len(configs) if isinstance(configs, Sequence) else type(configs).__name__}; pass e.g. "
            "configs=[TrainConfig(seed=s) for s in range(len(models))]"
        )
    configs = list(configs)
    for k, c in enumerate(configs):
        if not isinstance(c, TrainConfig):
            raise ConfigurationError(f"configs[{k}] must be a TrainConfig, got {type(c).__name__}")
    for name in SHARED_FIELDS:
        values = [getattr(c, name) for c in configs]
        if any(v != values[0] for v in values):
            raise ConfigurationError(
                f"the networks of an ensemble take their steps together, so their configs must share {name}, got "
                f"{values}; give them one {name} or train them in separate ensembles"
            )
    return configs


def _check_out_dirs(out_dirs: Any, n: int) -> list[str | os.PathLike[str] | None]:
    if out_dirs is None:
        return [None] * n
    if isinstance(out_dirs, (str, os.PathLike)) or not isinstance(out_dirs, Sequence) or len(out_dirs) != n:
        raise ConfigurationError(
            f"out_dirs must be None or one directory (or None) per network ({n}), got {out_dirs!r}; pass e.g. "
            "out_dirs=[f'runs/{k}' for k in range(len(models))]"
        )
    return list(out_dirs)


def _stack_order(models: Sequence[NaturalQNN]) -> list[int]:
    """The networks' positions in the stack: grouped by sampling kind (first come first), else as given."""
    kinds: dict[tuple[Any, ...], int] = {}
    for m in models:
        kinds.setdefault(_sampling_kind(m.neuron), len(kinds))
    return sorted(range(len(models)), key=lambda k: kinds[_sampling_kind(models[k].neuron)])


def _for_network(exc: NaturalQNNError, k: int, model: NaturalQNN, seed: int | None) -> NaturalQNNError:
    """``exc`` (the error ``fit`` raises) naming the network of the ensemble: its a, g and seed."""
    return type(exc)(f"network {k} of the ensemble (a={model.a}, g={model.g:.6g}, seed={seed}): {exc}")


@contextlib.contextmanager
def _train_modes(models: Sequence[NaturalQNN]) -> Iterator[None]:
    """Put every network back in the mode it was in (as ``fit`` does), whatever happens."""
    modes = [m.training for m in models]
    try:
        yield
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)


# ------------------------------------------------------------------------------------------ the trainer
def fit_ensemble(
    models: Sequence[NaturalQNN],
    train: Any,
    validation: Any | None = None,
    *,
    configs: TrainConfig | Sequence[TrainConfig] = _PAPER_RECIPE,
    progress: bool = False,
    out_dirs: Sequence[str | os.PathLike[str] | None] | None = None,
) -> list[History]:
    """Train ``K`` networks of one shape at once, each as its own :func:`~qiskit_natural_qnn.training.fit` would.

    Every network is trained in place with its own recipe: its own shuffles, sampling stream, SGD
    hyper-parameters, schedule, validation and weight average (see the module docstring for how
    exactly each matches its serial training).

    Args:
        models: the networks: same layer sizes, biases, dtype (:data:`ENSEMBLE_DTYPES`) and device.
        train: the training :class:`~qiskit_natural_qnn.data.Dataset` (checked and moved to the device
            once, shared by all).
        validation: an optional validation dataset.
        configs: one :class:`~qiskit_natural_qnn.training.TrainConfig` for all, or one per network; the
            fields of :data:`SHARED_FIELDS` must agree.
        progress: show a tqdm progress bar over epochs.
        out_dirs: None, or one directory (or None) per network where ``fit`` would write its
            ``history.json`` and ``model.safetensors``.

    Returns:
        One :class:`~qiskit_natural_qnn.training.History` per network, in the order of ``models``.

    Raises:
        ConfigurationError: networks that cannot train together (shape, biases, dtype, device), configs
            that disagree on a shared field, or anything ``fit`` refuses in a network's recipe.
        InputError: bad data, or a network whose training diverged (the message names it).
    """
    models = _check_models(models)
    k_all = len(models)
    configs = _check_configs(configs, k_all)
    dirs = _check_out_dirs(out_dirs, k_all)
    order = _stack_order(models)
    shared = check_dataset(models[0], train, "train")  # checked once: every network's set-up takes it as it is
    x = shared.images
    val = None if validation is None else check_dataset(models[0], validation, "validation")
    config = configs[0]
    rows = config.batch_size * config.train_shots
    check_bytes(
        k_all * (3 * sampling_bytes(models[0], rows=rows) + rows * x.shape[1] * x.element_size()),
        what=f"a training step of {k_all} networks with batch_size={config.batch_size} x train_shots="
        f"{config.train_shots}",
        fix="train fewer networks at once, or lower batch_size or train_shots",
    )
    with _train_modes(models):
        runs = [set_up_run(models[k], shared, val, configs[k], out_dir=dirs[k]) for k in order]
        _train(_Ensemble(runs, runs[0].x, runs[0].y), order, progress=progress)
        histories = [finish_run(run) for run in runs]
    by_model = dict(zip(order, histories))
    return [by_model[k] for k in range(k_all)]


def _train(ensemble: _Ensemble, order: Sequence[int], *, progress: bool) -> None:
    """Every epoch: each network's permutation, the steps of all, then each network's end of epoch."""
    runs = ensemble.runs
    config = ensemble.config
    n, bs = int(ensemble.x.shape[0]), config.batch_size
    device = ensemble.x.device
    for number in tqdm(range(1, config.epochs + 1), desc="ensemble", unit="epoch", disable=not progress):
        epochs: list[EpochState] = [begin_epoch(run, number) for run in runs]
        orders = torch.stack([e.order for e in epochs])
        checks = DeferredChecks(device=device, networks=len(runs))
        loss_sums = torch.zeros(len(runs), device=device)
        wrong = torch.zeros(len(runs), dtype=torch.int64, device=device)
        start = time.perf_counter()
        for lo in range(0, n, bs):
            ensemble.step(orders[:, lo : lo + bs], checks, loss_sums, wrong)
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the steps' time, not their launch
        share = (time.perf_counter() - start) / len(runs)
        ensemble.store()
        if number == 1:  # the networks' own optimizers hold no gradient: a no-op step tells their schedules
            for run in runs:  # that the optimizer stepped before them (the stack did)
                run.loop.optimizer.zero_grad(set_to_none=True)
                run.loop.optimizer.step()
        for i, (run, epoch) in enumerate(zip(runs, epochs)):
            epoch.loss_sum, epoch.wrong, epoch.checks = loss_sums[i], wrong[i], checks.member(i)
            epoch.start = time.perf_counter() - share
            try:
                close_epoch(run, epoch)
            except NaturalQNNError as exc:
                raise _for_network(exc, order[i], run.model, run.config.seed) from exc
