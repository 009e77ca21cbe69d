r"""A natural QNN as a qiskit-machine-learning ``NeuralNetwork``, ready for ``TorchConnector``.

:class:`NaturalQNNNetwork` wraps a :class:`~qiskit_natural_qnn.network.NaturalQNN`:

* ``forward(input_data, weights)`` draws one stochastic forward pass per input row (fast path by
  default, or layer circuits on any ``BaseSamplerV2``) and returns its logits, shape
  ``(batch, n_classes)``; with ``shots > 1``, the mean logits over ``shots`` independent passes.
* ``backward(input_data, weights)`` returns the Jacobians, under the model's surrogate
  (``model.surrogate``, as in ``fit``), **of the very passes that ``forward`` drew for these inputs and
  weights**. ``TorchConnector`` calls ``backward`` in a separate call, after ``forward``, with the same
  tensors, so ``forward`` caches each call's sampled activations and surrogate slopes, keyed by the
  exact bytes of the inputs and weights; ``backward`` looks them up and never resamples. A
  ``backward`` whose inputs and weights match no cached ``forward`` raises
  :class:`~qiskit_natural_qnn.exceptions.InputError`, and so does one that matches two cached
  forwards (identical inputs and weights sampled twice: their gradients cannot be told apart).

Weights are the flat vector of :mod:`qiskit_natural_qnn.ml.weights` (``W_1, [b_1], ..., W_out,
[b_out]``, each row-major). ``TorchConnector`` owns its own copy of them (its ``weight``
parameter); start it from the model's weights with ``initial_weights=network.initial_weights`` (or
use :func:`~qiskit_natural_qnn.ml.torch_connector`), and after training get a
:class:`~qiskit_natural_qnn.network.NaturalQNN` back with ``network.to_model(connector.weight)``.
``TorchConnector``'s own default (uniform in ``[-1, 1]``) leaves most pre-activations where the
straight-through gradient is zero; and train with Adam or SGD with momentum on mini-batches, not
``LBFGS``, whose curvature estimates assume a deterministic loss (docs/ml.md).

Example:
    >>> import numpy as np
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> qnn = NaturalQNNNetwork(NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, seed=1), seed=7)
    >>> qnn.num_inputs, qnn.num_weights, qnn.output_shape, qnn.input_gradients
    (4, 27, (2,), True)
    >>> x = np.full((5, 4), 0.5)
    >>> qnn.forward(x, qnn.initial_weights).shape
    (5, 2)
    >>> jac_x, jac_w = qnn.backward(x, qnn.initial_weights)  # the same passes, differentiated
    >>> jac_x.shape, jac_w.shape
    ((5, 2, 4), (5, 2, 27))
"""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from typing import Any, NamedTuple

import numpy as np
import torch
from qiskit.primitives import BaseSamplerV2
from qiskit_machine_learning.neural_networks import NeuralNetwork

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.fastpath import ForwardPass, sample_network
from qiskit_natural_qnn.ml.jacobian import ste_jacobians
from qiskit_natural_qnn.ml.sampler_forward import LayerwiseSamplerForward
from qiskit_natural_qnn.ml.weights import flatten_weights, load_weights, num_weights, unflatten_weights, weight_vector
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.randomness import make_generator

__all__ = ["NaturalQNNNetwork"]


class _CachedPass(NamedTuple):
    """What the surrogate backward needs from one forward call (on the model's device)."""

    plus: list[torch.Tensor]  # per hidden layer: d == +1, bool, shape (*shots, batch, width)
    slopes: list[torch.Tensor]  # per hidden layer: the surrogate's d d / d z, model dtype, same shape


class _PassCache:
    """The last ``capacity`` forward calls, keyed by the bytes of (inputs, weights)."""

    _AMBIGUOUS = object()

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[bytes, Any] = OrderedDict()

    @staticmethod
    def key(input_data: np.ndarray, weights: np.ndarray) -> bytes:
        digest = hashlib.blake2b(digest_size=20)
        for arr in (input_data, weights):
            arr = np.ascontiguousarray(arr)
            digest.update(repr((arr.dtype.str, arr.shape)).encode())
            digest.update(arr.data)
        return digest.digest()

    def store(self, key: bytes, entry: _CachedPass) -> None:
        self._entries[key] = self._AMBIGUOUS if key in self._entries else entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def lookup(self, key: bytes, n_rows: int) -> _CachedPass:
        entry = self._entries.get(key)
        if entry is None:
            raise InputError(
                f"backward received inputs ({n_rows} rows) and weights that match none of the last "
                f"{self.capacity} forward calls; the surrogate gradient must differentiate the "
                "pass that forward sampled, so call forward(input_data, weights) first with exactly "
                "the same arrays (TorchConnector does this), or raise cache_size if many forward "
                "calls happen between a forward and its backward"
            )
        if entry is self._AMBIGUOUS:
            raise InputError(
                f"backward received inputs ({n_rows} rows) and weights that two forward calls sampled "
                "independently; their surrogate gradients differ and cannot be told apart. "
                "Draw repeated passes inside one call instead (shots=S averages S passes, or "
                "concatenate the copies into one batch), or use the NaturalQNN module directly"
            )
        self._entries.move_to_end(key)
        return entry


class NaturalQNNNetwork(NeuralNetwork):
    r"""A :class:`~qiskit_natural_qnn.network.NaturalQNN` as a qiskit-machine-learning ``NeuralNetwork``.

    Forward: logits of one stochastic pass per input row (``shots=1``), or the mean logits of
    ``shots`` independent passes per row. Backward: the model's surrogate (``model.surrogate``; by
    default the paper's straight-through estimator :math:`\partial d/\partial z :=
    \mathbb{1}[-1<z<1]`) applied to the cached passes of the matching ``forward`` call (see the
    module docstring).

    With the same seed and weights, forward and backward agree with the ``nn.Module`` path (the
    same samples, the same surrogate): ``NaturalQNNNetwork(model, seed=s)`` draws what
    ``model(x, generator=make_generator(s))`` draws (and, for ``shots=S``, what
    ``model(x.expand(S, *x.shape)).mean(0)`` draws), computed in the model's dtype on the model's
    device.

    Args:
        model: the network; its architecture and quantization spec are used, its parameters only
            as :attr:`initial_weights` (every call takes the weights it is given).
        sampler: None (default) draws passes with the exact PyTorch fast path; any
            ``BaseSamplerV2`` draws them with layer circuits, one job per hidden layer
            (:class:`~qiskit_natural_qnn.ml.sampler_forward.LayerwiseSamplerForward`).
        shots: stochastic passes averaged per input row (``>= 1``).
        seed: the fast path's random stream: an int or NumPy generator, or None to share the
            model's own seeded stream (:meth:`NaturalQNN.generator`). A sampler draws its own
            randomness and ignores it.
        input_gradients: return the Jacobian with respect to the inputs. True by default, because a
            natural QNN under ``TorchConnector`` usually sits after a trainable front end, and with
            False ``TorchConnector`` silently passes no gradient to it. Set False only when the
            inputs are data (the QNN is the first layer), to skip the
            ``(batch, n_classes, n_inputs)`` input Jacobian.
        pass_manager: maps the layer circuits to the sampler's target (sampler only); anything
            with a ``run(circuit)`` method, e.g. ``generate_preset_pass_manager(backend=...)``.
        cache_size: forward calls remembered for ``backward`` (``>= 1``).

    Note:
        ``backward`` returns full Jacobians, ``batch * n_classes * num_weights`` numbers (the
        ``NeuralNetwork`` contract): 1.7 GB in float32 for a batch of 64 through a
        784-512-512-10 network. For networks that large, train the ``NaturalQNN`` module directly.
        ``TorchConnector`` computes in float32 whatever the model's dtype, and (in
        qiskit-machine-learning 0.9) back-propagates correct input gradients only for inputs of
        shape ``(batch, n_inputs)``; :func:`~qiskit_natural_qnn.ml.torch_connector` returns a
        connector that also handles more leading batch dimensions.

    Raises:
        ConfigurationError: ``model`` is not a ``NaturalQNN``, ``shots`` or ``cache_size`` is not an
            int ``>= 1``, or ``sampler`` is not a ``BaseSamplerV2``.
    """

    def __init__(
        self,
        model: NaturalQNN,
        *,
        sampler: BaseSamplerV2 | None = None,
        shots: int = 1,
        seed: int | np.random.Generator | None = None,
        input_gradients: bool = True,
        pass_manager: Any | None = None,
        cache_size: int = 8,
    ) -> None:
        if not isinstance(model, NaturalQNN):
            raise ConfigurationError(
                f"model must be a NaturalQNN, got {type(model).__name__}; build one with "
                "NaturalQNN(layer_sizes=[...], a=..., seed=...)"
            )
        for name, value in (("shots", shots), ("cache_size", cache_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}; pass e.g. {name}=1")
        if pass_manager is not None and sampler is None:
            raise ConfigurationError(
                "pass_manager only applies to sampler-backed passes, but sampler is None; pass a "
                "BaseSamplerV2 too, or drop pass_manager"
            )
        super().__init__(
            num_inputs=model.n_inputs,
            num_weights=num_weights(model),
            sparse=False,
            output_shape=model.n_outputs,
            input_gradients=bool(input_gradients),
        )
        self._model = model
        self._shots = int(shots)
        self._executor = None if sampler is None else LayerwiseSamplerForward(model, sampler, pass_manager=pass_manager)
        self._cache = _PassCache(int(cache_size))
        self.reseed(seed)

    # ------------------------------------------------------------------ properties
    @property
    def model(self) -> NaturalQNN:
        """The wrapped network (architecture, spec; its parameters are the initial weights)."""
        return self._model

    @property
    def sampler(self) -> BaseSamplerV2 | None:
        """The sampler that draws the passes, or None for the fast path."""
        return None if self._executor is None else self._executor.sampler

    @property
    def sampler_forward(self) -> LayerwiseSamplerForward | None:
        """The layer-by-layer sampler executor (its transpiled circuits), or None for the fast path."""
        return self._executor

    @property
    def shots(self) -> int:
        """Passes averaged per input row."""
        return self._shots

    @property
    def initial_weights(self) -> np.ndarray:
        """The model's current parameters as a flat float64 vector (pass to ``TorchConnector``)."""
        return flatten_weights(self._model)

    # --------------------------------------------------------------------- weights
    def reseed(self, seed: int | np.random.Generator | None) -> None:
        """Restart the fast path's random stream (None: share the model's own stream)."""
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(0, 2**63 - 1))
        self._seed = None if seed is None else int(seed)
        self._generators: dict[str, torch.Generator] = {}

    def _generator(self, device: torch.device) -> torch.Generator:
        if self._seed is None:
            return self._model.generator(device)
        key = str(device)
        if key not in self._generators:
            self._generators[key] = make_generator(self._seed, device)
        return self._generators[key]

    def to_model(self, weights: Any) -> NaturalQNN:
        """A copy of the model holding ``weights`` (e.g. a trained ``TorchConnector.weight``).

        The copy has the model's architecture, spec, dtype, device and sampling-stream state; the
        wrapped model is not changed (use :meth:`load_weights` for that).

        Args:
            weights: a flat vector of :attr:`num_weights` values (array, list or tensor).

        Returns:
            A new :class:`~qiskit_natural_qnn.network.NaturalQNN`.

        Raises:
            InputError: wrong length, non-numeric or non-finite weights.
        """
        return load_weights(copy.deepcopy(self._model), weights)

    def load_weights(self, weights: Any) -> NaturalQNN:
        """Copy ``weights`` into the wrapped model, in place, and return it.

        Raises:
            InputError: wrong length, non-numeric or non-finite weights.
        """
        return load_weights(self._model, weights)

    # ------------------------------------------------------------------ validation
    def _validate_input(self, input_data: Any) -> tuple[np.ndarray | None, tuple[int, ...] | None]:
        if input_data is None:
            raise InputError(f"input_data is None; this network needs inputs of shape (batch, {self.num_inputs})")
        self._model.check_input(input_data)  # InputError: wrong width, empty, non-numeric, non-finite
        return super()._validate_input(input_data)

    def _validate_weights(self, weights: Any) -> np.ndarray:
        if weights is None:
            return self.initial_weights
        return weight_vector(self._model, weights)  # InputError: wrong length, non-finite

    # ------------------------------------------------------------- forward/backward
    def _input_tensor(self, input_data: np.ndarray) -> torch.Tensor:
        ref = self._model.weights()[0]
        return torch.as_tensor(input_data).to(device=ref.device, dtype=ref.dtype)

    @staticmethod
    def _checked(input_data: np.ndarray | None, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The arrays ``NeuralNetwork.forward/backward`` validated (never None by then)."""
        if input_data is None or weights is None:
            raise InputError(
                "input_data and weights must be arrays, got None; call forward/backward, which validate them"
            )
        return input_data, weights

    def _draw(self, x: torch.Tensor, weights: list[torch.Tensor], biases: list[torch.Tensor | None]) -> ForwardPass:
        shots = None if self._shots == 1 else self._shots
        if self._executor is not None:
            return self._executor.forward_pass(x, weights, biases, shots=shots)
        with torch.no_grad():
            gen = self._generator(x.device)
            return sample_network(
                x, weights, biases, self._model.neuron, generator=gen, shots=shots, surrogate=self._model.surrogate
            )

    def _forward(self, input_data: np.ndarray | None, weights: np.ndarray | None) -> np.ndarray:
        input_data, weights = self._checked(input_data, weights)
        x = self._input_tensor(input_data)
        mats, biases = unflatten_weights(self._model, weights)
        fp = self._draw(x, mats, biases)
        surrogate, stretch = self._model.surrogate, self._model.neuron.stretch
        entry = _CachedPass(
            plus=[d > 0 for d in fp.activations],
            slopes=[surrogate.slope(z.detach(), stretch) for z in fp.preactivations],
        )
        self._cache.store(_PassCache.key(input_data, weights), entry)
        logits = fp.logits if self._shots == 1 else fp.logits.mean(dim=0)
        return logits.detach().cpu().numpy()

    def _backward(
        self, input_data: np.ndarray | None, weights: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray]:
        input_data, weights = self._checked(input_data, weights)
        entry = self._cache.lookup(_PassCache.key(input_data, weights), len(input_data))
        x = self._input_tensor(input_data)
        mats, biases = unflatten_weights(self._model, weights)

        def jacobians(plus: list[torch.Tensor], slopes: list[torch.Tensor]) -> tuple[torch.Tensor | None, torch.Tensor]:
            acts = [torch.where(p, 1.0, -1.0).to(x.dtype) for p in plus]
            return ste_jacobians(x, mats, biases, acts, slopes, input_gradients=self.input_gradients)

        if self._shots == 1:
            jac_x, jac_w = jacobians(entry.plus, entry.slopes)
        else:  # the Jacobian of a mean of passes is the mean of their Jacobians
            jac_x, jac_w = jacobians([p[0] for p in entry.plus], [m[0] for m in entry.slopes])
            for s in range(1, self._shots):
                jx, jw = jacobians([p[s] for p in entry.plus], [m[s] for m in entry.slopes])
                jac_w.add_(jw)
                if jac_x is not None and jx is not None:
                    jac_x.add_(jx)
            jac_w.div_(self._shots)
            if jac_x is not None:
                jac_x.div_(self._shots)
        return (None if jac_x is None else jac_x.cpu().numpy()), jac_w.cpu().numpy()
