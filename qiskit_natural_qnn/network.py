"""The naturally quantized network: layer sizes, weights, quantization spec and seeds.

:class:`NaturalQNN` is a plain :class:`torch.nn.Module` (named parameters, ``state_dict``,
``.to(device)``). Its ``forward`` draws one stochastic forward pass per input row with the exact
statistics of the model and back-propagates through its spec's surrogate (by default the paper's
straight-through estimator); its :meth:`NaturalQNN.sample` draws many shots per image without gradients.

Example:
    >>> import torch
    >>> net = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, seed=1)
    >>> net.spec
    QuantizationSpec(a=0.5, stretch='tanh', g=1.5707963267948966, weak_update='circuit', surrogate=HardTanhSurrogate())
    >>> net(torch.zeros(5, 4)).shape
    torch.Size([5, 2])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.fastpath import ForwardPass, LayerSampler, finite_witness, sample_network
from qiskit_natural_qnn.limits import check_bytes
from qiskit_natural_qnn.neurons import Measurement, Neuron, Stretch
from qiskit_natural_qnn.randomness import UniformSource, check_seed, make_generator
from qiskit_natural_qnn.schedule import LayerSchedule
from qiskit_natural_qnn.surrogates import HardTanhSurrogate, Surrogate, get_surrogate

__all__ = [
    "PARAMETER_DTYPES",
    "QuantizationSpec",
    "NaturalQNN",
    "input_tensor",
    "parameter_bytes",
    "sampling_bytes",
    "validate_layer_sizes",
]

#: The parameter dtypes a network accepts (the fast path samples in the parameters' dtype).
PARAMETER_DTYPES: tuple[torch.dtype, ...] = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

#: NumPy float dtypes that become tensors as they are; any other real dtype goes through float64.
_TORCH_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class QuantizationSpec:
    """How hidden neurons are quantized and trained (``docs/model.md``, "Neurons", "Measurement", "Training").

    Attributes:
        a: the stretch (``0`` = the classical sign neuron).
        stretch: the stretch function: ``"tanh"`` (paper), ``"hardtanh"`` (hardware follow-up),
            ``"sgn"``, or ``"linear"`` (hardware-native, unsaturated).
        g: the entanglement angle of the weak measurement; ``pi/2`` is projective (Method 1).
        weak_update: post-measurement state rule, ``"circuit"`` (reference) or ``"authors_arcsin"``.
        surrogate: the training pseudo-gradient, a :class:`~qiskit_natural_qnn.surrogates.Surrogate`
            (a name of :data:`~qiskit_natural_qnn.surrogates.SURROGATES` is accepted and turned into
            one): the paper's hard-tanh straight-through estimator (default) or the expected-activation
            surrogate. It changes gradients only, never what is sampled.

    Raises:
        ConfigurationError: an invalid field, or a surrogate that does not fit the neuron
            (``"expected"`` with ``a = 0``).

    Example:
        >>> spec = QuantizationSpec(a=1.0, stretch="linear", surrogate="expected")
        >>> spec.surrogate, spec == spec.replace(surrogate=spec.surrogate), spec.to_dict()["stretch"]
        (ExpectedSurrogate(), True, 'linear')
    """

    a: float = 0.0
    stretch: str = "tanh"
    g: float = math.pi / 2
    weak_update: str = "circuit"
    surrogate: Surrogate = HardTanhSurrogate()

    def __post_init__(self) -> None:
        neuron = self.neuron  # validates every other field
        object.__setattr__(self, "a", neuron.stretch.a)
        object.__setattr__(self, "g", neuron.measurement.g)
        object.__setattr__(self, "surrogate", get_surrogate(self.surrogate, neuron=neuron))

    @property
    def neuron(self) -> Neuron:
        """The :class:`~qiskit_natural_qnn.neurons.Neuron` this spec describes."""
        return Neuron(
            stretch=Stretch(a=self.a, kind=self.stretch),  # type: ignore[arg-type]
            measurement=Measurement(g=self.g, update=self.weak_update),  # type: ignore[arg-type]
        )

    @property
    def is_classical(self) -> bool:
        """True for ``a = 0`` (or ``sgn``) and ``g = pi/2``: exactly the deterministic sign network."""
        return self.neuron.is_classical

    def replace(self, **changes: Any) -> QuantizationSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """What is sampled, as a JSON-ready dict: ``a``, ``stretch``, ``g`` and ``weak_update``.

        This is what model files store under ``spec`` and what run records fingerprint. The surrogate,
        which changes gradients only, is written next to it by name (``spec.surrogate.name``, the
        ``surrogate`` key of model files and records).
        """
        return {"a": self.a, "stretch": self.stretch, "g": self.g, "weak_update": self.weak_update}


def validate_layer_sizes(layer_sizes: Sequence[int]) -> tuple[int, ...]:
    """Check ``[n_inputs, hidden..., n_outputs]`` and return it as a tuple of ints.

    Raises:
        ConfigurationError: fewer than three sizes, or a size that is not a positive integer.
    """
    try:
        sizes = tuple(layer_sizes)
    except TypeError:
        raise ConfigurationError(
            f"layer_sizes must be a sequence of positive ints, got {layer_sizes!r}; pass e.g. [784, 512, 512, 10]"
        ) from None
    if len(sizes) < 3:
        raise ConfigurationError(
            f"layer_sizes needs an input size, at least one hidden width and an output size, got "
            f"{list(sizes)}; pass e.g. [784, 512, 512, 10]"
        )
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ConfigurationError(
                f"layer_sizes must hold positive ints, got {list(sizes)}; pass e.g. [784, 512, 512, 10]"
            )
    return tuple(int(s) for s in sizes)


def input_tensor(x: Any, *, what: str = "inputs") -> torch.Tensor:
    """``x`` as a dense tensor of real numbers: the one input converter of the library.

    Every input reaches the network through here (:meth:`NaturalQNN.check_input`, hence ``fit``,
    ``predict``, ``sample``, the circuits and the sampler runs): arrays of any real dtype and byte
    order, nested sequences and tensors. A float16/32/64 NumPy array becomes a tensor of its own
    dtype (other real dtypes go through float64), in native byte order; shape, width and finiteness
    are checked by the caller.

    Args:
        x: an array, a nested sequence of numbers or a tensor.
        what: how messages name ``x`` (``"inputs"``, ``"images"``, ``"train images"``).

    Returns:
        A strided (dense) tensor with a real dtype, on ``x``'s device for a tensor, else on the CPU.

    Raises:
        InputError: not numbers; booleans, complex numbers, strings or dates; a sparse, quantized or
            nested tensor; or a tensor on the ``meta`` device (a shape without data).

    Example:
        >>> input_tensor(np.ones((1, 2), dtype=">f4")).dtype  # big-endian float32
        torch.float32
        >>> input_tensor(torch.ones(2, 2).to_sparse())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.InputError: inputs must be a dense tensor, got a torch.sparse_coo tensor; ...
    """
    if isinstance(x, torch.Tensor):
        if x.is_nested:
            raise InputError(
                f"{what} must be a dense tensor, got a nested tensor; pass one tensor of shape (batch, n_inputs)"
            )
        if x.layout != torch.strided:
            raise InputError(f"{what} must be a dense tensor, got a {x.layout} tensor; pass x.to_dense()")
        if x.is_quantized:
            raise InputError(f"{what} must be real numbers, got a quantized tensor ({x.dtype}); pass x.dequantize()")
        if x.is_meta:
            raise InputError(
                f"{what} must hold numbers, got a tensor on the meta device (a shape without data); pass a cpu or "
                "cuda tensor"
            )
        if x.dtype == torch.bool or x.is_complex():
            raise InputError(
                f"{what} must be real numbers, got dtype {x.dtype}; pass a float array (e.g. pixels in [0, 1])"
            )
        return x
    try:
        arr = np.asarray(x)
        if arr.dtype.kind not in "bcUSVmM" and arr.dtype.newbyteorder("=") not in _TORCH_FLOATS:
            arr = np.asarray(arr, dtype=np.float64)  # NumPy would turn the refused kinds into numbers silently
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numeric arrays, got {type(x).__name__}; pass a float array") from None
    if arr.dtype.kind in "bcUSVmM":
        raise InputError(
            f"{what} must be real numbers, got dtype {arr.dtype}; pass a float array (e.g. pixels in [0, 1])"
        )
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))  # torch reads native byte order only
    return torch.from_numpy(arr) if arr.flags.writeable else torch.tensor(arr)


def parameter_bytes(layer_sizes: Sequence[int], *, bias: bool = False, dtype: torch.dtype = torch.float32) -> int:
    """The bytes of a network's weights (and biases) in ``dtype``.

    Example:
        >>> parameter_bytes([784, 512, 10])  # (784 * 512 + 512 * 10) float32 numbers
        1626112
    """
    sizes = [int(s) for s in layer_sizes]
    count = sum(i * o + (o if bias else 0) for i, o in zip(sizes[:-1], sizes[1:]))
    return count * torch.empty((), dtype=dtype).element_size()


def sampling_bytes(model: NaturalQNN, *, rows: int, shots: int = 1) -> int:
    """An estimate of the bytes the fast path holds to draw ``shots`` passes of ``rows`` inputs at once.

    Per pass: every hidden layer's pre-activations and activations (kept in the
    :class:`~qiskit_natural_qnn.fastpath.ForwardPass`), the widest layer's uniforms, probabilities and
    the int64 words of the counter-based hash, and the logits.

    Example:
        >>> net = NaturalQNN(layer_sizes=[784, 16, 16, 10], seed=0)
        >>> sampling_bytes(net, rows=1000, shots=15)
        14040000
    """
    item = model.weights()[0].element_size()
    widths = model.hidden_sizes
    per_pass = 2 * item * sum(widths) + (2 * item + 4 * 8) * max(widths) + item * model.n_outputs
    return int(rows) * int(shots) * per_pass


class NaturalQNN(nn.Module):
    """A binarized MLP whose hidden neurons are qubits (Barney, Lakhdar-Hamina, Galitski 2025).

    Args:
        layer_sizes: ``[n_inputs, hidden_1, ..., hidden_L, n_outputs]``, e.g. ``[784, 512, 512, 10]``.
        a: the stretch (``0`` = classical).
        stretch: ``"tanh"`` (default, the paper's training choice), ``"hardtanh"``, ``"sgn"`` or
            ``"linear"``.
        g: entanglement angle in ``[0, pi/2]``; ``pi/2`` (default) is Method 1. With ``g < pi/2`` and
            more than one hidden layer, every hidden layer must have the same width (the neurons are
            the same qubits from layer to layer).
        weak_update: ``"circuit"`` (default) or ``"authors_arcsin"`` (see
            :class:`~qiskit_natural_qnn.neurons.Measurement`).
        bias: add biases to every layer (off in the paper).
        surrogate: the training pseudo-gradient, a name or a
            :class:`~qiskit_natural_qnn.surrogates.Surrogate`: ``"hardtanh"`` (default, the paper's
            unit-scale straight-through estimator) or ``"expected"`` (the derivative of the neuron's
            expected activation). Part of :attr:`spec`; it changes gradients only, sampling is the
            same either way.
        seed: seeds the Kaiming-normal initialisation and the sampling stream of ``forward``: an int
            in ``[0, 2**64)``, a NumPy generator, or None (fresh entropy).
        dtype: parameter dtype, one of :data:`PARAMETER_DTYPES` (a ``torch.dtype``, not a string).
        max_bytes: the most memory the parameters may take (default
            :data:`~qiskit_natural_qnn.limits.MAX_BYTES`): a larger network is refused before anything
            is allocated.

    Raises:
        ConfigurationError: invalid sizes, ``a``, ``g``, stretch, or unequal hidden widths with
            ``g < pi/2``; an unknown ``surrogate``, or ``"expected"`` with ``a = 0``; a ``seed``
            outside the rule of :func:`~qiskit_natural_qnn.randomness.check_seed`; a ``dtype`` that is
            not a floating ``torch.dtype``; parameters over ``max_bytes``.
    """

    def __init__(
        self,
        *,
        layer_sizes: Sequence[int],
        a: float = 0.0,
        stretch: str = "tanh",
        g: float = math.pi / 2,
        weak_update: str = "circuit",
        bias: bool = False,
        surrogate: str | Surrogate = "hardtanh",
        seed: int | np.random.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        max_bytes: int | None = None,
    ) -> None:
        super().__init__()
        sizes = validate_layer_sizes(layer_sizes)
        seed = check_seed(seed, none=True, numpy_generator=True)
        if not isinstance(dtype, torch.dtype) or dtype not in PARAMETER_DTYPES:
            raise ConfigurationError(
                f"dtype must be a floating torch.dtype ({', '.join(map(str, PARAMETER_DTYPES))}), got {dtype!r}; "
                "pass e.g. dtype=torch.float64"
            )
        self._spec = QuantizationSpec(
            a=a,
            stretch=stretch,
            g=g,
            weak_update=weak_update,
            surrogate=get_surrogate(surrogate),
        )
        self._check_widths(sizes, self._spec)
        check_bytes(
            parameter_bytes(sizes, bias=bool(bias), dtype=dtype),
            what=f"a network of layer sizes {list(sizes)} in {dtype}",
            max_bytes=max_bytes,
            fix="use narrower layers",
        )
        self.layer_sizes: tuple[int, ...] = sizes
        self.bias = bool(bias)
        rng = np.random.default_rng(seed)
        init_gen = make_generator(rng)
        self.layers = nn.ModuleList(
            nn.Linear(fan_in, fan_out, bias=self.bias, dtype=dtype) for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
        )
        with torch.no_grad():
            for layer in self.linear_layers():
                nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="linear", generator=init_gen)
                if layer.bias is not None:
                    layer.bias.zero_()
        self._sampling_seed = int(rng.integers(0, 2**63 - 1))
        self._generators: dict[str, torch.Generator] = {}

    # ----------------------------------------------------------------- spec
    @staticmethod
    def _check_widths(sizes: tuple[int, ...], spec: QuantizationSpec) -> None:
        """The layer schedule's rule (Method 2 needs equal hidden widths), asked of the schedule itself."""
        LayerSchedule(hidden_sizes=sizes[1:-1], neuron=spec.neuron)

    @property
    def spec(self) -> QuantizationSpec:
        """The quantization spec (stretch ``a``, stretch function, ``g``, weak update rule, surrogate)."""
        return self._spec

    @spec.setter
    def spec(self, spec: QuantizationSpec) -> None:
        if not isinstance(spec, QuantizationSpec):
            raise ConfigurationError(
                f"spec must be a QuantizationSpec, got {type(spec).__name__}; pass e.g. model.spec.replace(a=0.5)"
            )
        self._check_widths(self.layer_sizes, spec)
        self._spec = spec

    @property
    def surrogate(self) -> Surrogate:
        """The training pseudo-gradient of :attr:`spec` (set it with a name or a surrogate object)."""
        return self._spec.surrogate

    @surrogate.setter
    def surrogate(self, surrogate: str | Surrogate) -> None:
        self._spec = self._spec.replace(surrogate=get_surrogate(surrogate))

    @property
    def neuron(self) -> Neuron:
        """The hidden neurons' stretch and measurement."""
        return self._spec.neuron

    @property
    def a(self) -> float:
        """The stretch ``a``."""
        return self._spec.a

    @property
    def g(self) -> float:
        """The entanglement angle ``g``."""
        return self._spec.g

    @property
    def n_inputs(self) -> int:
        """Input width (784 for MNIST)."""
        return self.layer_sizes[0]

    @property
    def n_outputs(self) -> int:
        """Number of classes."""
        return self.layer_sizes[-1]

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """Widths of the hidden (qubit) layers."""
        return self.layer_sizes[1:-1]

    def linear_layers(self) -> list[nn.Linear]:
        """The layers, input to output, as the ``nn.Linear`` modules they are (typed view of :attr:`layers`)."""
        return [layer for layer in self.layers if isinstance(layer, nn.Linear)]

    def weights(self) -> list[torch.Tensor]:
        """``[W_1, ..., W_L, W_out]``, each ``(fan_out, fan_in)`` (the live parameters)."""
        return [layer.weight for layer in self.linear_layers()]

    def biases(self) -> list[torch.Tensor | None]:
        """One bias per layer, or None when the network has no biases."""
        return [layer.bias if isinstance(layer.bias, torch.Tensor) else None for layer in self.linear_layers()]

    def extra_repr(self) -> str:
        """The sizes and spec in ``repr(model)``; the surrogate only when it is not the default."""
        s = self._spec
        text = f"layer_sizes={list(self.layer_sizes)}, a={s.a}, stretch={s.stretch!r}, g={s.g:.6g}, bias={self.bias}"
        return text if isinstance(s.surrogate, HardTanhSurrogate) else f"{text}, surrogate={s.surrogate.name!r}"

    # ------------------------------------------------------------- sampling
    def generator(self, device: torch.device | str = "cpu") -> torch.Generator:
        """The network's own sampling stream on ``device`` (seeded from ``seed``)."""
        key = str(torch.device(device))
        if key not in self._generators:
            self._generators[key] = make_generator(self._sampling_seed, device)
        return self._generators[key]

    def reseed(self, seed: int | np.random.Generator | None) -> None:
        """Restart the network's sampling stream from ``seed`` (an int in ``[0, 2**64)``, a NumPy generator or None).

        Raises:
            ConfigurationError: a seed outside the rule of :func:`~qiskit_natural_qnn.randomness.check_seed`.
        """
        rng = np.random.default_rng(check_seed(seed, none=True, numpy_generator=True))
        self._sampling_seed = int(rng.integers(0, 2**63 - 1))
        self._generators.clear()

    def check_input(self, x: Any) -> torch.Tensor:
        """Return ``x`` as a floating tensor of shape ``(*batch, n_inputs)`` on the parameters' device.

        Converted by :func:`input_tensor` (any real dtype and byte order; dense tensors only), then
        rounded to the parameters' dtype.

        Raises:
            InputError: wrong trailing width, empty batch, non-numeric or non-finite values, or a
                tensor that :func:`input_tensor` refuses (sparse, quantized, nested, meta).
        """
        ref = self.weights()[0]
        x = input_tensor(x)
        if x.ndim == 0 or x.shape[-1] != self.n_inputs:
            raise InputError(
                f"inputs must have shape (batch, {self.n_inputs}), got {tuple(x.shape)}; "
                f"flatten each image to {self.n_inputs} values"
            )
        if x.numel() == 0:
            raise InputError(f"empty batch: got inputs of shape {tuple(x.shape)}; pass at least one input")
        x = x.to(device=ref.device, dtype=ref.dtype)
        if not bool(torch.isfinite(finite_witness(x))):  # two light kernels, a fifth of isfinite(x).all()
            raise InputError("inputs contain NaN or infinity; clean or drop those rows before calling the network")
        return x

    def check_weights(self) -> None:
        """Raise :class:`InputError` if any weight or bias is NaN or infinite.

        One synchronisation with the device when all are finite (the parameters' summed
        :func:`~qiskit_natural_qnn.fastpath.finite_witness`); only then parameter by parameter, to name it.
        """
        params = list(self.parameters())
        with torch.no_grad():
            if params and bool(torch.stack([finite_witness(p).float() for p in params]).sum().isfinite()):
                return
        for i, p in enumerate(params):
            if not bool(torch.isfinite(p).all()):
                raise InputError(
                    f"parameter {i} of the network holds NaN or infinity (training diverged or the model "
                    "file was altered); lower the learning rate or reload a good checkpoint"
                )

    def forward_pass(
        self,
        x: Any,
        *,
        generator: torch.Generator | None = None,
        uniform: UniformSource | None = None,
        validate: bool = True,
        law: LayerSampler | None = None,
    ) -> ForwardPass:
        """One stochastic forward pass per row of ``x``, with every hidden layer's ``z`` and ``d``.

        Args:
            x: inputs of shape ``(*batch, n_inputs)``.
            generator: the random stream; defaults to the network's own seeded stream.
            uniform: optional source of uniforms per layer (overrides ``generator``).
            validate: check shape and finiteness of ``x`` (skip only in tight loops on trusted data).
            law: draw the activations on a noisy device (a
                :data:`~qiskit_natural_qnn.fastpath.LayerSampler`, e.g. ``noise.bind(...)`` of a
                ``qiskit_natural_qnn.emulation.DeviceEmulation``); None: the ideal outcomes.
        """
        x = self.check_input(x) if validate else x
        if generator is None and uniform is None:
            generator = self.generator(x.device)
        return sample_network(
            x,
            self.weights(),
            self.biases(),
            self.neuron,
            generator=generator,
            uniform=uniform,
            surrogate=self._spec.surrogate,
            law=law,
        )

    def forward(self, x: Any, *, generator: torch.Generator | None = None) -> torch.Tensor:  # noqa: D401
        """Logits of one stochastic forward pass per row (gradients through the spec's surrogate)."""
        return self.forward_pass(x, generator=generator).logits

    @torch.no_grad()
    def sample(
        self,
        x: Any,
        *,
        shots: int = 1,
        seed: int | np.random.Generator | None | torch.Generator = None,
        max_bytes: int | None = None,
        law: LayerSampler | None = None,
    ) -> ForwardPass:
        """Draw ``shots`` independent forward passes per input, without gradients.

        Args:
            x: inputs of shape ``(batch, n_inputs)``.
            shots: passes per input (``>= 1``).
            seed: an int in ``[0, 2**64)`` / NumPy generator / torch generator, or None for the
                network's own stream.
            max_bytes: the most memory the passes may take (default
                :data:`~qiskit_natural_qnn.limits.MAX_BYTES`, estimated by :func:`sampling_bytes`).
            law: draw the activations on a noisy device (a
                :data:`~qiskit_natural_qnn.fastpath.LayerSampler` bound for ``(shots, batch)``); None:
                the ideal outcomes.

        Returns:
            A :class:`ForwardPass` whose tensors have shape ``(shots, batch, ...)``.

        Raises:
            ConfigurationError: ``shots < 1``, a bad seed, or more memory than ``max_bytes``.
            InputError: bad inputs, or pre-activations that overflow to inf or NaN.
        """
        if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
            raise ConfigurationError(f"shots must be an int >= 1, got {shots!r}; pass e.g. shots=15")
        seed = check_seed(seed, none=True, numpy_generator=True, torch_generator=True)
        x = self.check_input(x)
        rows = x[..., 0].numel()
        check_bytes(
            sampling_bytes(self, rows=rows, shots=int(shots)),
            what=f"sample of {rows} inputs with shots={int(shots)}",
            max_bytes=max_bytes,
            fix="lower shots or sample fewer inputs at a time",
        )
        self.check_weights()
        if isinstance(seed, torch.Generator):
            gen = seed
        elif seed is None:
            gen = self.generator(x.device)
        else:
            gen = make_generator(seed, x.device)
        fp = sample_network(x, self.weights(), self.biases(), self.neuron, generator=gen, shots=int(shots), law=law)
        fp.check_finite()
        return fp
