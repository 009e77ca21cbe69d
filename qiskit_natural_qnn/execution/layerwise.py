r"""Layer-by-layer execution: one job per hidden layer, host-side feedforward (exact for every network).

This is the hardware protocol of the follow-up paper (arXiv:2507.21222; docs/model.md, "Circuits").
Hidden layer ``k`` runs as its layer circuit (:func:`qiskit_natural_qnn.circuits.layer_circuit`:
``RY`` per neuron, then a projective measurement, or for Method 2 an ``RZY(g)`` readout through an
ancilla, into register ``h{k}``), and the host computes the next layer's angles from the measured
bits through :mod:`qiskit_natural_qnn.circuits.angles` (which asks :mod:`qiskit_natural_qnn.neurons`
and the network's :class:`~qiskit_natural_qnn.schedule.LayerSchedule`).

Packing (:mod:`.packing`): layer 1 runs one parameter set per image with ``S`` shots (its angles
depend on the pixels only); every later layer runs one parameter set per ``(image, shot)`` pass with
one shot (its angles depend on that pass's previous bits). ``copies`` copies of the layer circuit sit
side by side in each parameter set, so ``n`` images and ``S`` shots cost one job per hidden layer
(more only where a job budget splits it).

Method 2 runs exactly here too: after a weak measurement the neuron is in a known single-qubit pure
state (:func:`~qiskit_natural_qnn.circuits.post_angles`), so the next layer's circuit re-prepares it
at its absolute Bloch angle on a fresh qubit.

Example:
    >>> import numpy as np
    >>> from qiskit.primitives import StatevectorSampler
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[3, 2, 2, 2], a=0.5, g=0.7, seed=0)
    >>> run = run_layerwise(net, np.ones((4, 3)) / 2, sampler=StatevectorSampler(), shots=5, seed=1)
    >>> [b.shape for b in run.bits], [job.key for job in run.jobs]
    ([(4, 5, 2), (4, 5, 2)], ['h1/0', 'h2/0'])
"""

from __future__ import annotations

import logging
import math
from typing import Any, NamedTuple

import numpy as np
from qiskit.primitives import BaseSamplerV2

from qiskit_natural_qnn.circuits.angles import input_angles, layer_angles, post_angles
from qiskit_natural_qnn.circuits.layers import LayerCircuit, layer_circuit
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.execution.jobs import JobInfo, run_sweep
from qiskit_natural_qnn.execution.packing import (
    check_max_sets_per_job,
    copies_that_fit,
    pack_rows,
    packed_layer_circuit,
    qubits_per_copy,
    split_sets,
    unpack_bits,
)
from qiskit_natural_qnn.execution.progress import RunProgress
from qiskit_natural_qnn.execution.records import RunRecord
from qiskit_natural_qnn.execution.samplers import (
    AER_STATEVECTOR_MAX_QUBITS,
    JobSubmitter,
    check_pass_manager,
    check_sampler,
    resolve_run_seed,
    runtime_is_local,
    sampler_kind,
    sampler_profile,
)
from qiskit_natural_qnn.limits import check_bytes
from qiskit_natural_qnn.network import QuantizationSpec
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, NetworkView, network_view

__all__ = [
    "AER_PACKED_QUBITS",
    "LayerwiseExecutor",
    "LayerwiseRun",
    "check_run_size",
    "default_pass_manager",
    "run_layerwise",
    "sampler_run_bytes",
]

_LOG = logging.getLogger(__name__)

#: Copies side by side on Aer fill about this many qubits per parameter set (measured fastest per
#: pass with ``matrix_product_state``: a 16-neuron layer runs 16 copies).
AER_PACKED_QUBITS = 256


class LayerwiseRun(NamedTuple):
    """What a layer-by-layer run measured.

    Attributes:
        bits: one ``uint8`` array ``(n_images, shots, width)`` per hidden layer: the measured bit of
            every neuron in every pass (bit 0 = activation +1, see
            :func:`~qiskit_natural_qnn.neurons.outcome_to_activation`).
        jobs: the sampler jobs, in order.
        copies: copies side by side per parameter set, per hidden layer.
        seed: the run's seed (every job's seed derives from it).
    """

    bits: list[np.ndarray]
    jobs: list[JobInfo]
    copies: list[int]
    seed: int


def sampler_run_bytes(model: NetworkLike, *, n_images: int, shots: int) -> int:
    """An estimate of the bytes a sampler run of ``n_images`` images and ``shots`` passes holds.

    Per pass and hidden neuron: the decoded bits, their unpacked copy, the activations returned and
    the sampler's own bit arrays (about 3 bytes); per pass and neuron of the widest layer: the float64
    angles fed forward, the carried angles (Method 2), the packed parameter values and the
    post-measurement angles (32 bytes); per pass the classes (16 bytes). Single-circuit runs hold less.

    Example:
        >>> from qiskit_natural_qnn import NaturalQNN
        >>> sampler_run_bytes(NaturalQNN(layer_sizes=[784, 16, 16, 10], seed=0), n_images=100, shots=15)
        936000
    """
    widths = tuple(int(w) for w in model.layer_sizes[1:-1])
    per_pass = 3 * sum(widths) + 32 * max(widths) + 16
    return int(n_images) * int(shots) * per_pass


def check_run_size(model: NetworkLike, *, n_images: int, shots: int, max_bytes: int | None) -> None:
    """Refuse (before any job is submitted) a sampler run whose arrays exceed ``max_bytes``.

    Raises:
        ConfigurationError: :func:`sampler_run_bytes` over the limit
            (default :data:`~qiskit_natural_qnn.limits.MAX_BYTES`).
    """
    check_bytes(
        sampler_run_bytes(model, n_images=n_images, shots=shots),
        what=f"a sampler run of {n_images} images with shots={shots}",
        max_bytes=max_bytes,
        fix="lower shots or the number of images per run",
    )


def default_pass_manager(sampler: BaseSamplerV2, *, optimization_level: int = 1) -> Any:
    """A preset pass manager for samplers that need ISA circuits (IBM Runtime, BackendSamplerV2), else None.

    Aer, Statevector and unknown samplers get None: their circuits only have the weak-measurement
    gate ``rzy`` spelled in standard gates.
    """
    kind = sampler_kind(sampler)
    if kind not in ("ibm", "ibm-legacy", "backend"):
        return None
    from qiskit.transpiler import generate_preset_pass_manager

    backend = sampler.backend() if kind != "backend" else sampler.backend
    own = getattr(backend, "natural_qnn_pass_manager", None)
    if callable(own):
        return own(optimization_level=optimization_level)
    return generate_preset_pass_manager(optimization_level=optimization_level, backend=backend)


class LayerwiseExecutor:
    """Runs a network's hidden layers on a sampler, one job per layer, with host-side feedforward.

    Args:
        model: a :class:`~qiskit_natural_qnn.network.NaturalQNN` or a
            :class:`~qiskit_natural_qnn.view.NetworkView`; a network's current weights are read at
            every :meth:`run`.
        sampler: any ``BaseSamplerV2``.
        pass_manager: maps each layer circuit to the sampler's target (transpiled once, then
            reused); None picks :func:`default_pass_manager` (IBM Runtime and Backend samplers) or
            spells ``rzy`` in standard gates (simulators).
        copies: copies of each layer circuit side by side per parameter set: an int, or ``"auto"``
            (as many as fit: on the backend's qubits for devices, about :data:`AER_PACKED_QUBITS`
            qubits on Aer, 1 otherwise).
        max_sets_per_job: split a layer into jobs of at most this many parameter sets (None: one job).
        target: the target rules (see :func:`~.samplers.sampler_profile`); used for ``copies="auto"``.

    Raises:
        ConfigurationError: ``sampler`` is not a ``BaseSamplerV2``, ``pass_manager`` has no ``run``,
            or ``copies`` or ``max_sets_per_job`` is invalid.
    """

    def __init__(
        self,
        model: NetworkLike,
        sampler: BaseSamplerV2,
        *,
        pass_manager: Any | None = None,
        copies: int | str = 1,
        max_sets_per_job: int | None = None,
        target: Any = None,
    ) -> None:
        self.model: NetworkLike = model
        self.sampler = check_sampler(sampler)
        check_pass_manager(pass_manager)
        self.pass_manager = pass_manager if pass_manager is not None else default_pass_manager(sampler)
        if copies != "auto" and (isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 1):
            raise ConfigurationError(f"copies must be an int >= 1 or 'auto', got {copies!r}; pass e.g. copies='auto'")
        self.copies = copies
        self.max_sets_per_job = check_max_sets_per_job(max_sets_per_job)
        self.target = target
        self.submitter = JobSubmitter(sampler, aer_method="matrix_product_state")
        self._circuits: dict[tuple[int, int, QuantizationSpec], LayerCircuit] = {}

    def _transpile(self, lc: LayerCircuit) -> LayerCircuit:
        qc = lc.circuit
        qc = qc.decompose(gates_to_decompose=["rzy"]) if self.pass_manager is None else self.pass_manager.run(qc)
        return lc._replace(circuit=qc)

    def circuit(self, layer: int, copies: int = 1) -> LayerCircuit:
        """The (transpiled) circuit of hidden layer ``layer`` (1-based) with ``copies`` copies, built once."""
        key = (int(layer), int(copies), self.model.spec)
        if key not in self._circuits:
            packed = packed_layer_circuit(layer_circuit(self.model, layer=layer), int(copies))
            self._circuits[key] = self._transpile(packed)
        return self._circuits[key]

    def copies_for(self, layer: int) -> int:
        """Copies side by side for hidden layer ``layer`` (resolves ``copies="auto"``)."""
        if self.copies != "auto":
            return int(self.copies)
        per_copy = qubits_per_copy(layer_circuit(self.model, layer=layer))
        kind = sampler_kind(self.sampler)
        if self.target is None and kind == "aer":
            return copies_that_fit(AER_PACKED_QUBITS, per_copy)
        profile = sampler_profile(self.sampler, self.target)
        if profile.num_qubits is None:
            return copies_that_fit(AER_PACKED_QUBITS, per_copy) if profile.name.startswith("aer") else 1
        qubits = profile.num_qubits
        if kind in ("ibm", "ibm-legacy") and runtime_is_local(self.sampler):
            # Local testing mode simulates what is submitted: a fake backend runs Aer's automatic method
            # (a statevector), so stay narrow unless the simulator is a matrix_product_state AerSimulator.
            method = getattr(getattr(self.sampler.backend(), "options", None), "method", None)
            if method != "matrix_product_state":
                qubits = min(qubits, AER_STATEVECTOR_MAX_QUBITS)
        return copies_that_fit(qubits, per_copy)

    def sample_layer(
        self,
        layer: int,
        angles: np.ndarray,
        *,
        shots: int,
        run_seed: int,
        record: RunRecord | None = None,
        jobs: list[JobInfo] | None = None,
        progress: RunProgress | None = None,
    ) -> np.ndarray:
        """Run hidden layer ``layer`` once per row of ``angles`` ``(rows, width)``, ``shots`` shots each.

        ``progress`` (a :class:`~.progress.RunProgress`) shows the layer's jobs as they are submitted.

        Returns:
            ``uint8`` bits ``(rows, shots, width)``.

        Raises:
            ExecutionError: a job fails or its result cannot be decoded.
        """
        copies = self.copies_for(layer)
        lc = self.circuit(layer, copies)
        packed = pack_rows(angles, copies=copies)
        _LOG.debug(
            "hidden layer %d: %d row(s) in %d parameter set(s) of %d copies, %d shot(s) each",
            layer,
            packed.n_rows,
            packed.values.shape[0],
            copies,
            shots,
        )
        sweep = run_sweep(
            self.submitter,
            lc.circuit,
            list(lc.angles),
            packed.values,
            shots=shots,
            registers=[lc.register.name],
            key=(int(layer),),
            run_seed=run_seed,
            what=f"hidden layer {layer}",
            max_sets_per_job=self.max_sets_per_job,
            record=record,
            progress=progress,
        )
        if jobs is not None:
            jobs.extend(sweep.jobs)
        return unpack_bits(packed, sweep.bits[lc.register.name])

    def planned_jobs(self, n_images: int, shots: int) -> int:
        """The jobs a :meth:`run` of ``n_images`` images and ``shots`` passes submits (or reuses).

        Example:
            >>> from qiskit.primitives import StatevectorSampler
            >>> from qiskit_natural_qnn import NaturalQNN
            >>> net = NaturalQNN(layer_sizes=[3, 2, 2, 2], seed=0)
            >>> LayerwiseExecutor(net, StatevectorSampler(), max_sets_per_job=4).planned_jobs(3, 5)
            5
        """
        total = 0
        for k in range(1, len(self.model.layer_sizes) - 1):
            rows = int(n_images) * (1 if k == 1 else int(shots))
            total += len(split_sets(math.ceil(rows / self.copies_for(k)), self.max_sets_per_job))
        return total

    def run(
        self,
        images: ArrayLike,
        *,
        shots: int,
        seed: int | np.random.Generator | None = None,
        record: RunRecord | None = None,
        model: NetworkLike | None = None,
        max_bytes: int | None = None,
        progress: bool = False,
    ) -> LayerwiseRun:
        """Draw ``shots`` forward passes per image, one hidden layer (one job) at a time.

        Args:
            images: inputs ``(n, n_inputs)``.
            shots: passes per image (``>= 1``).
            seed: the run's seed (see :func:`~.samplers.resolve_run_seed`): each job's simulator
                seed derives from it.
            record: an optional :class:`~.records.RunRecord`.
            model: the network (or view) whose weights feed forward (default: the executor's); it must
                have the executor's architecture and quantization spec (the circuits are shared).
            max_bytes: the most memory the run may hold (default
                :data:`~qiskit_natural_qnn.limits.MAX_BYTES`, estimated by :func:`sampler_run_bytes`),
                checked before the first job is submitted.
            progress: show bars over the jobs and the hidden layers, and each job id as it is
                submitted (:class:`~.progress.RunProgress`, on standard error).

        Returns:
            The :class:`LayerwiseRun`.

        Raises:
            ConfigurationError: ``shots`` is not an int ``>= 1``, or the run would exceed ``max_bytes``.
            InputError: images of the wrong shape or not finite.
            ExecutionError: a job fails or returns bits that cannot be decoded.
        """
        if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
            raise ConfigurationError(f"shots must be an int >= 1, got {shots!r}; pass e.g. shots=15")
        shots = int(shots)
        if (
            model is not None
            and model is not self.model
            and (tuple(model.layer_sizes) != tuple(self.model.layer_sizes) or model.spec != self.model.spec)
        ):
            raise ConfigurationError(
                f"model has layer sizes {list(model.layer_sizes)} and spec {model.spec}, the executor's circuits "
                f"were built for {list(self.model.layer_sizes)} and {self.model.spec}; make a new executor"
            )
        net = network_view(self.model if model is None else model)  # the weights, converted once per run
        x = net.inputs(images)
        if x.ndim != 2:
            raise InputError(f"images must have shape (n, {net.n_inputs}), got {x.shape}")
        n = x.shape[0]
        check_run_size(net, n_images=n, shots=shots, max_bytes=max_bytes)
        run_seed = resolve_run_seed(seed, self.sampler)
        _LOG.info(
            "layer-by-layer run: %d image(s) x %d shot(s), %d hidden layer(s), seed %d",
            n,
            shots,
            net.n_hidden,
            run_seed,
        )
        with RunProgress(
            enabled=progress,
            layers=net.n_hidden,
            jobs=self.planned_jobs(n, shots) if progress else None,
            desc="layer-by-layer jobs",
        ) as bars:
            return self._run_layers(net, x, shots=shots, run_seed=run_seed, record=record, progress=bars)

    def _run_layers(
        self,
        net: NetworkView,
        x: np.ndarray,
        *,
        shots: int,
        run_seed: int,
        record: RunRecord | None,
        progress: RunProgress,
    ) -> LayerwiseRun:
        """:meth:`run` after its checks: one sweep per hidden layer, each fed forward from the last."""
        n = x.shape[0]
        jobs: list[JobInfo] = []
        copies: list[int] = []
        theta = input_angles(net, x)  # (n, width_1): one parameter set per image, S shots
        bits = self.sample_layer(1, theta, shots=shots, run_seed=run_seed, record=record, jobs=jobs, progress=progress)
        progress.layer_done(1)
        copies.append(self.copies_for(1))
        all_bits = [bits]
        # Method 2: every pass carries its neurons' angles (one row per (image, shot) pass).
        angles = (
            np.repeat(theta[:, None, :], shots, axis=1).reshape(n * shots, -1) if net.schedule.carries_state else theta
        )
        for k in range(2, net.n_hidden + 1):
            prev = all_bits[-1].reshape(n * shots, -1)
            carried = (
                post_angles(net, layer=k - 1, angles=angles, bits=prev) if net.schedule.carries_after(k - 1) else None
            )
            angles = layer_angles(net, layer=k, bits=prev, carried=carried)
            layer_bits_ = self.sample_layer(
                k, angles, shots=1, run_seed=run_seed, record=record, jobs=jobs, progress=progress
            )
            progress.layer_done(k)
            all_bits.append(layer_bits_.reshape(n, shots, -1))
            copies.append(self.copies_for(k))
        return LayerwiseRun(bits=all_bits, jobs=jobs, copies=copies, seed=run_seed)


def run_layerwise(
    model: NetworkLike,
    images: ArrayLike,
    *,
    sampler: BaseSamplerV2,
    shots: int,
    pass_manager: Any | None = None,
    seed: int | np.random.Generator | None = None,
    copies: int | str = "auto",
    max_sets_per_job: int | None = None,
    target: Any = None,
    record: RunRecord | None = None,
    max_bytes: int | None = None,
    progress: bool = False,
) -> LayerwiseRun:
    """Draw ``shots`` passes per image layer by layer on ``sampler`` (see :class:`LayerwiseExecutor`).

    ``progress=True`` shows bars over the jobs and the hidden layers, and every job id as it is submitted.

    Returns:
        The :class:`LayerwiseRun`.
    """
    executor = LayerwiseExecutor(
        model, sampler, pass_manager=pass_manager, copies=copies, max_sets_per_job=max_sets_per_job, target=target
    )
    return executor.run(images, shots=shots, seed=seed, record=record, max_bytes=max_bytes, progress=progress)
