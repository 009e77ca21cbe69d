"""A device's noise for the fast path: :func:`emulate_device` builds a :class:`DeviceEmulation`.

The emulation reproduces layer-by-layer execution (:mod:`qiskit_natural_qnn.execution.layerwise`) on
a device with an Aer noise model, exactly: the same packed layer circuits (``copies`` side by side),
transpiled by the same pass manager (:attr:`DeviceEmulation.pass_manager`), so every neuron of every
copy sits on the same physical qubit, with the identity pairs of the hardware follow-up if asked.
From each transpiled circuit and the noise model it computes the exact outcome law of every neuron
(or pair of neurons joined by ``CZ`` pairs) as a function of its angle (:mod:`.laws`), and the fast
path then draws every pass from it (:mod:`.sampling`) instead of running a simulator.

Placement follows :func:`~qiskit_natural_qnn.execution.packing.pack_rows`: hidden layer 1 runs image
``i`` of a call on copy ``i % copies`` (all its shots), every later layer runs pass ``(i, s)`` on
copy ``(i * shots + s) % copies``.

Example:
    >>> import numpy as np
    >>> from qiskit_aer.noise import NoiseModel, ReadoutError
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> from qiskit_natural_qnn.inference import predict
    >>> net = NaturalQNN(layer_sizes=[4, 2, 3], a=0.0, seed=0)  # classical: ideal passes never differ
    >>> model = NoiseModel()
    >>> model.add_readout_error(ReadoutError([[0.8, 0.2], [0.2, 0.8]]), [0])
    >>> emu = emulate_device(net, noise_model=model, layout=[0, 1])
    >>> emu.describe()
    'noise model (emulated, 1 copy)'
    >>> pred = predict(net, np.full((1, 4), 0.5), shots=200, seed=0, noise=emu, return_hidden=True)
    >>> [sorted(set(pred.hidden[0][0, :, i].tolist())) for i in (0, 1)]  # qubit 0's readout flips neuron 0
    [[-1, 1], [-1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from qiskit_natural_qnn.circuits.layers import layer_circuit
from qiskit_natural_qnn.emulation.channels import NoiseChannels, noise_model_of
from qiskit_natural_qnn.emulation.sampling import LayerLaw
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.execution.packing import packed_layer_circuit
from qiskit_natural_qnn.experiments.noise import (
    IdentityPairs,
    IdentityPairTranspiler,
    coupled_copies,
    insert_identity_pairs,
)
from qiskit_natural_qnn.fastpath import LayerSampler
from qiskit_natural_qnn.neurons import Neuron
from qiskit_natural_qnn.randomness import check_seed
from qiskit_natural_qnn.schedule import LayerSchedule
from qiskit_natural_qnn.transpile.devices import device_name, get_backend, target_of
from qiskit_natural_qnn.transpile.targets import check_optimization_level, transpile_for_target
from qiskit_natural_qnn.view import NetworkLike, network_view

__all__ = ["DeviceEmulation", "LayoutTranspiler", "emulate_device"]


class LayoutTranspiler:
    """A pass manager that inserts identity pairs, puts the circuit's qubits on given physical qubits and translates.

    Qubit ``i`` of a (packed) layer circuit goes to physical qubit ``layout[i]``: neuron ``n`` of copy
    ``c`` to ``layout[c * width + n]``, a Method 2 ancilla to ``layout[copies * width + ...]`` (the
    circuit's order: the ``neuron`` register, then the ``ancilla`` register).

    Args:
        layout: physical qubits, one per circuit qubit (at least as many as the widest circuit has).
        backend: a device (``BackendV2`` or Target): transpile for it with this initial layout.
        basis_gates: without a device, translate into these gates (e.g. ``noise_model.basis_gates``); no
            routing, so two-qubit gates stay on the qubits the layout gives them.
        pairs: identity pairs per qubit (``sx``) or neighbouring pair (``cz``).
        gate: ``"sx"`` or ``"cz"``.
        optimization_level: 0-3.
        seed_transpiler: seeds the transpiler's stochastic passes.

    Raises:
        ConfigurationError: a layout that is not distinct ints ``>= 0``, neither ``backend`` nor
            ``basis_gates``, bad pairs or optimization level; a circuit wider than the layout (when run).
    """

    def __init__(
        self,
        layout: Sequence[int],
        *,
        backend: Any = None,
        basis_gates: Sequence[str] | None = None,
        pairs: int = 0,
        gate: str = "sx",
        optimization_level: int = 1,
        seed_transpiler: int | None = 0,
    ) -> None:
        qubits = list(layout)
        if not qubits or any(isinstance(q, bool) or not isinstance(q, int) or q < 0 for q in qubits):
            raise ConfigurationError(f"layout must list physical qubits (ints >= 0), got {layout!r}; pass e.g. [0, 1]")
        if len(set(qubits)) != len(qubits):
            raise ConfigurationError(f"layout must list distinct physical qubits, got {qubits}")
        if backend is None and basis_gates is None:
            raise ConfigurationError(
                "LayoutTranspiler needs backend= (a device) or basis_gates= (e.g. the noise model's)"
            )
        self.layout = qubits
        self.backend = backend
        self.basis_gates = None if basis_gates is None else list(basis_gates)
        self.spec = IdentityPairs(pairs=pairs, gate=gate)
        self.optimization_level = check_optimization_level(optimization_level)
        self.seed_transpiler = check_seed(seed_transpiler, name="seed_transpiler", none=True)
        self._translate: Any = None  # without a device: one pass manager into the basis gates, built once
        if backend is None:
            from qiskit.transpiler import generate_preset_pass_manager

            self._translate = generate_preset_pass_manager(
                optimization_level=self.optimization_level,
                basis_gates=self.basis_gates,
                seed_transpiler=self.seed_transpiler,
            )

    def _one(self, circuit: Any) -> Any:
        from qiskit import QuantumCircuit

        if circuit.num_qubits > len(self.layout):
            raise ConfigurationError(
                f"circuit {circuit.name!r} has {circuit.num_qubits} qubits, the layout places {len(self.layout)}; "
                "pass a longer layout or fewer copies"
            )
        noisy = insert_identity_pairs(circuit, pairs=self.spec.pairs, gate=self.spec.gate)
        where = self.layout[: circuit.num_qubits]
        if self.backend is not None:
            out = transpile_for_target(
                noisy,
                self.backend,
                optimization_level=self.optimization_level,
                seed_transpiler=self.seed_transpiler,
                initial_layout=where,
            )
        else:
            placed = QuantumCircuit(max(where) + 1, name=noisy.name)
            for creg in noisy.cregs:
                placed.add_register(creg)
            placed.compose(noisy, qubits=where, clbits=noisy.clbits, inplace=True)
            out = self._translate.run(placed)
        out.metadata = {**(noisy.metadata or {})}
        return out

    def run(self, circuits: Any) -> Any:
        """Place and transpile one circuit or a list of circuits (a list in, a list out)."""
        if isinstance(circuits, list):
            return [self._one(c) for c in circuits]
        return self._one(circuits)


@dataclass(frozen=True, kw_only=True)
class DeviceEmulation:
    """The exact noise of a device for a network's layer circuits, as the fast path samples it.

    Pass it as ``noise=`` to :func:`~qiskit_natural_qnn.inference.predict`,
    :func:`~qiskit_natural_qnn.inference.evaluate` or :func:`~qiskit_natural_qnn.training.fit`. It
    fits every network with the hidden widths and measurements it was built for (the stretch ``a``,
    the weights and the stretch function may differ: they change the angles, not the circuits).

    Attributes:
        name: what it emulates (``"fake_torino"``).
        hidden_sizes: the hidden widths it was built for.
        measurements: ``g`` of each hidden layer's measurement (``pi/2``: projective).
        copies: copies of each layer circuit side by side.
        pairs: the identity pairs inserted into every layer circuit.
        layers: one :class:`~.sampling.LayerLaw` per hidden layer.
        circuits: the transpiled packed layer circuits the laws were computed from.
        pass_manager: what transpiled them: run a network layer by layer on a simulator of the device with
            ``run_layerwise(..., pass_manager=emu.pass_manager, copies=emu.copies)`` to get the same placement.
        noise_model: the Aer noise model emulated.
    """

    name: str
    hidden_sizes: tuple[int, ...]
    measurements: tuple[float, ...]
    copies: int
    pairs: IdentityPairs
    layers: tuple[LayerLaw, ...]
    circuits: tuple[Any, ...]
    pass_manager: Any
    noise_model: Any

    def describe(self) -> str:
        """``"fake_torino (emulated, 8 copies, 20 sx pairs)"``."""
        copies = f"{self.copies} cop{'y' if self.copies == 1 else 'ies'}"
        pairs = f", {self.pairs.pairs} {self.pairs.gate} pairs" if self.pairs.pairs else ""
        return f"{self.name} (emulated, {copies}{pairs})"

    def placed_noise_model(self) -> Any:
        """:attr:`noise_model` cut down to the physical qubits the circuits use (see :meth:`.NoiseChannels.on_qubits`).

        Simulate the device with it (``AerSimulator.from_backend(backend, noise_model=emu.placed_noise_model())``):
        for these circuits Aer draws the same bits for the same seed as with the whole model, in about
        half the time on a large device.
        """
        used = {circuit.find_bit(q).index for circuit in self.circuits for inst in circuit.data for q in inst.qubits}
        return NoiseChannels(self.noise_model).on_qubits(sorted(used))

    def replace(self, **changes: Any) -> DeviceEmulation:
        """A copy with some fields changed (e.g. ``layers=`` for a study of one layer's noise)."""
        return replace(self, **changes)

    def check_network(self, hidden_sizes: Sequence[int], neuron: Neuron) -> None:
        """Refuse a network whose layer circuits differ from those emulated.

        Raises:
            ConfigurationError: other hidden widths or other measurements (``g``, Method 1 or 2).
        """
        sizes = tuple(int(s) for s in hidden_sizes)
        schedule = LayerSchedule(hidden_sizes=sizes, neuron=neuron)
        got = tuple(schedule.measurement(k).g for k in range(1, schedule.n_hidden + 1))
        if sizes != self.hidden_sizes or got != self.measurements:
            raise ConfigurationError(
                f"the emulation of {self.name} was built for hidden widths {list(self.hidden_sizes)} measured with g = "
                f"{[round(g, 6) for g in self.measurements]}, the network has {list(sizes)} and "
                f"{[round(g, 6) for g in got]}; build one for this network with emulate_device(model, ...)"
            )

    def bind(
        self, *, hidden_sizes: tuple[int, ...], neuron: Neuron, positions: torch.Tensor, shots: int | None
    ) -> LayerSampler:
        """The fast path's :data:`~qiskit_natural_qnn.fastpath.LayerSampler` for one batch.

        Args:
            hidden_sizes: the network's hidden widths.
            neuron: its neurons (the measurement decides which layers are weak).
            positions: each row's image position in the run, ``(rows,)`` int64: it picks the copy.
            shots: passes per image (tensors ``(shots, rows, width)``), or None (``(rows, width)``).

        Raises:
            ConfigurationError: a network of other hidden widths or measurements.
        """
        self.check_network(hidden_sizes, neuron)
        positions = torch.as_tensor(positions, dtype=torch.long)
        cache: dict[int, torch.Tensor] = {}

        def copy_of(layer: int, device: torch.device) -> torch.Tensor:
            if layer not in cache:
                pos = positions.to(device)
                if shots is None:
                    cache[layer] = pos % self.copies
                elif layer == 1:  # one parameter set per image, all its shots on one copy
                    cache[layer] = (pos % self.copies).expand(int(shots), -1)
                else:  # one parameter set per pass (image, shot), image-major
                    s = torch.arange(int(shots), device=device)
                    cache[layer] = (pos[None, :] * int(shots) + s[:, None]) % self.copies
            return cache[layer]

        def law(layer: int, angle: torch.Tensor, p_plus: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
            copy = copy_of(layer, angle.device)
            if tuple(copy.shape) != tuple(angle.shape[:-1]):
                raise InputError(
                    f"hidden layer {layer} draws passes shaped {tuple(angle.shape[:-1])}, the emulation was bound for "
                    f"{tuple(copy.shape)} (shots={shots}, {positions.numel()} rows); bind it for this batch"
                )
            width = angle.shape[-1]
            d = self.layers[layer - 1].sample(
                angle.reshape(-1, width), p_plus.reshape(-1, width), u.reshape(-1, width), copy.reshape(-1)
            )
            return d.reshape(angle.shape)

        return law


def _resolve_copies(
    copies: int | str, model: NetworkLike, backend: Any, layout: Sequence[int] | None, per_copy: int
) -> int:
    if copies != "auto":
        if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
            raise ConfigurationError(f"copies must be an int >= 1 or 'auto', got {copies!r}; pass e.g. copies='auto'")
        return int(copies)
    if layout is not None:
        return max(1, len(layout) // per_copy)
    if backend is None:
        return 1
    return coupled_copies(model, backend)


def emulate_device(
    model: NetworkLike,
    backend: Any = None,
    *,
    noise_model: Any = None,
    layout: Sequence[int] | None = None,
    copies: int | str = "auto",
    pairs: int = 0,
    gate: str = "sx",
    optimization_level: int = 1,
    seed_transpiler: int | None = 0,
) -> DeviceEmulation:
    """The exact emulation of a device's noise for ``model``'s layer circuits (see the module docstring).

    Args:
        model: the network (or its view): its hidden widths and measurements fix the circuits.
        backend: the device: a ``BackendV2`` (IBM fake or real backend) or a name such as
            ``"fake_torino"``; its noise model is ``NoiseModel.from_backend`` (what
            ``AerSimulator.from_backend`` simulates) unless ``noise_model`` is given.
        noise_model: an Aer ``NoiseModel``; without ``backend`` the circuits are translated into its
            basis gates and placed by ``layout`` (default: qubits ``0, 1, ...``).
        layout: physical qubits, one per qubit of the packed layer circuits (see
            :class:`LayoutTranspiler`); default with a backend: the coupled layout of the noise sweeps
            (:func:`~qiskit_natural_qnn.experiments.noise.coupled_layout`: neighbouring neurons on coupled
            qubits of low error, a Method 2 ancilla next to its neuron).
        copies: copies of each layer circuit side by side (an int, or ``"auto"``: as many as the device or
            the layout holds, every neighbouring pair on coupled qubits; 1 for a bare noise model).
        pairs: identity pairs (hardware follow-up) per neuron qubit (``sx``) or neighbouring pair (``cz``).
        gate: ``"sx"`` or ``"cz"``.
        optimization_level: of the transpiler, 0-3 (the pairs survive every level).
        seed_transpiler: seeds layout and routing, so that the placement is reproducible.

    Returns:
        The :class:`DeviceEmulation`.

    Raises:
        ConfigurationError: neither ``backend`` nor ``noise_model``; a bad option; a noise model the
            emulation cannot reproduce exactly (correlated readout, non-local errors, custom passes).
        TargetCapabilityError: a transpiled circuit outside the emulation: dynamic circuits, idle time,
            routing that joins more than two neurons or neurons of two copies.
        MissingExtraError: ``fake_NAME`` without qiskit-ibm-runtime.
    """
    view = network_view(model)
    named = backend if isinstance(backend, str) else None
    if isinstance(backend, str):
        backend = get_backend(backend)
    if backend is None and noise_model is None:
        raise ConfigurationError(
            "emulate_device needs the device: pass backend= (e.g. 'fake_torino' or an IBM backend) or noise_model= "
            "(an Aer NoiseModel, with layout=)"
        )
    if backend is not None and target_of(backend) is None:
        raise ConfigurationError(
            f"backend {device_name(backend)!r} has no Target to transpile for; pass an IBM backend or a fake one "
            "('fake_torino'), or noise_model= with layout="
        )
    model_noise = noise_model if noise_model is not None else noise_model_of(named or backend)
    channels = NoiseChannels(model_noise)
    spec = IdentityPairs(pairs=pairs, gate=gate)
    schedule = view.schedule
    bare = [layer_circuit(view, layer=k) for k in range(1, view.n_hidden + 1)]
    widest = max(lc.circuit.num_qubits for lc in bare)
    n_copies = _resolve_copies(copies, view, backend, layout, widest)
    if layout is None and backend is None:
        layout = list(range(n_copies * widest))
    if layout is not None:
        pm: Any = LayoutTranspiler(
            layout,
            backend=backend,
            basis_gates=None if backend is not None else model_noise.basis_gates,
            pairs=spec.pairs,
            gate=spec.gate,
            optimization_level=optimization_level,
            seed_transpiler=seed_transpiler,
        )
    else:
        pm = IdentityPairTranspiler(
            backend,
            pairs=spec.pairs,
            gate=spec.gate,
            optimization_level=optimization_level,
            seed_transpiler=seed_transpiler,
        )
    layers, circuits = [], []
    for k, one in enumerate(bare, start=1):
        lc = packed_layer_circuit(one, n_copies)
        isa = pm.run(lc.circuit)
        layers.append(
            LayerLaw.from_circuit(
                isa, layer=k, angles=lc.angles, register=lc.register, copies=n_copies, channels=channels
            )
        )
        circuits.append(isa)
    return DeviceEmulation(
        name=device_name(backend) if backend is not None else "noise model",
        hidden_sizes=tuple(view.hidden_sizes),
        measurements=tuple(schedule.measurement(k).g for k in range(1, schedule.n_hidden + 1)),
        copies=n_copies,
        pairs=spec,
        layers=tuple(layers),
        circuits=tuple(circuits),
        pass_manager=pm,
        noise_model=model_noise,
    )
