r"""IonQ: capability checks, the sampler (``BackendSamplerV2`` around a qiskit-ionq backend), payloads.

qiskit-ionq is the ``[ionq]`` extra (``pip install "qiskit-natural-qnn[ionq]"``); the checks need
nothing, the rest raises :class:`~qiskit_natural_qnn.optional.MissingExtraError` without it.

IonQ runs no server-side control flow, and runs a circuit with mid-circuit measurement only as a
single-circuit job, so a network goes there **layer by layer** (its layer circuits measure at the
end and batch freely) or, for tiny exact networks, as the deferred circuit. :func:`check_ionq_job`
enforces both rules before anything is submitted.

``qiskit.primitives.BackendSamplerV2`` needs per-shot memory in hexadecimal, and qiskit-ionq 1.1
returns it as binary strings, or none at all from the ideal simulator, where ``BackendSamplerV2``
then silently reads every shot as all zeros (both checked in the tests). :class:`IonQShotsBackend`
sits between the two: it submits through the qiskit-ionq backend and hands ``BackendSamplerV2``
hexadecimal per-shot memory:

* QPU and noisy simulator: the shots IonQ returns (``memory=True``), in order; failing that on a
  QPU, the job's counts (exact on a QPU), expanded and shuffled;
* ideal simulator: IonQ returns the exact distribution and qiskit-ionq draws the counts on the
  client with ``RandomState(sampler_seed)`` restarted for every circuit, so a fixed seed would give
  every circuit of a job the same random numbers. The job's seed is therefore *not* passed there
  (``sampler_seed=None``: fresh entropy per circuit, independent circuits, not reproducible), and
  the counts are expanded and shuffled.

Transpile for IonQ at optimization level 0 or 1 (:func:`ionq_pass_manager`): higher levels have
been reported to hang with Qiskit >= 2.5. The API key comes from the environment
(``IONQ_API_KEY``) and is never printed or written.

Example:
    >>> from qiskit import QuantumCircuit
    >>> qc = QuantumCircuit(1, 1)
    >>> _ = qc.measure(0, 0)
    >>> with qc.if_test((qc.clbits[0], 1)):
    ...     _ = qc.x(0)
    >>> check_ionq_job([qc])
    Traceback (most recent call last):
    ...
    qiskit_natural_qnn.exceptions.TargetCapabilityError: IonQ runs no server-side control flow: ...
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BackendSamplerV2
from qiskit.providers import BackendV2, JobV1, Options

from qiskit_natural_qnn.exceptions import ConfigurationError, ExecutionError, TargetCapabilityError
from qiskit_natural_qnn.optional import require
from qiskit_natural_qnn.transpile.targets import (
    PROFILES,
    TargetProfile,
    mid_circuit_operations,
    transpile_for_target,
)

__all__ = [
    "IONQ_KEY_ENV",
    "IonQCapabilities",
    "IonQShotsBackend",
    "check_ionq_job",
    "has_ionq_key",
    "ionq_backend",
    "ionq_capabilities",
    "ionq_noise_payload",
    "ionq_pass_manager",
    "ionq_payload",
    "ionq_sampler",
]

#: The environment variable holding the IonQ API key.
IONQ_KEY_ENV = "IONQ_API_KEY"


class IonQCapabilities(NamedTuple):
    """What an IonQ backend can run, checked before submitting.

    Attributes:
        name: the backend's name (``"ionq_simulator"``, ``"ionq_qpu.forte-1"``...).
        num_qubits: its qubits (qiskit-ionq asks the cloud; offline it falls back to 4).
        simulator: True for the cloud simulator.
        ideal: True for the ideal simulator (exact distributions, no per-shot data).
        control_flow: False: IonQ runs no ``if_else``, ``switch``, loops.
        mid_circuit_measurement: True, but only in single-circuit jobs.
        multi_circuit_mid_circuit_measurement: False: one circuit per job when a circuit measures mid-way.
        gateset: ``"qis"`` or ``"native"``.
    """

    name: str
    num_qubits: int
    simulator: bool
    ideal: bool
    control_flow: bool = False
    mid_circuit_measurement: bool = True
    multi_circuit_mid_circuit_measurement: bool = False
    gateset: str = "qis"


def _unwrap(backend: Any) -> Any:
    return backend.ionq_backend if isinstance(backend, IonQShotsBackend) else backend


def ionq_capabilities(backend: Any) -> IonQCapabilities:
    """The :class:`IonQCapabilities` of a qiskit-ionq backend (or of an :class:`IonQShotsBackend`)."""
    backend = _unwrap(backend)
    name = str(backend.name)
    simulator = bool(getattr(backend, "_simulator", name.startswith("ionq_simulator")))
    noise = getattr(getattr(backend, "options", None), "noise_model", "ideal")
    gateset = backend.gateset() if callable(getattr(backend, "gateset", None)) else "qis"
    return IonQCapabilities(
        name=name,
        num_qubits=int(backend.num_qubits),
        simulator=simulator,
        ideal=simulator and noise in (None, "ideal"),
        gateset=str(gateset),
    )


def check_ionq_job(circuits: Sequence[QuantumCircuit], capabilities: IonQCapabilities | None = None) -> None:
    """Check one IonQ job's circuits: no control flow; mid-circuit measurement only alone; qubits fit.

    Raises:
        TargetCapabilityError: a rule is broken (the message names the circuit and the fix).
    """
    circuits = list(circuits)
    for qc in circuits:
        if qc.has_control_flow_op():
            raise TargetCapabilityError(
                f"IonQ runs no server-side control flow: circuit {qc.name!r} has conditional operations; run "
                "the network layer by layer (mode='layerwise') or, for a tiny exact network, mode='deferred'"
            )
        if capabilities is not None and qc.num_qubits > capabilities.num_qubits:
            raise TargetCapabilityError(
                f"circuit {qc.name!r} needs {qc.num_qubits} qubits, {capabilities.name} has "
                f"{capabilities.num_qubits}; use fewer copies side by side or a larger device"
            )
    if len(circuits) > 1:
        for qc in circuits:
            clbits, resets = mid_circuit_operations(qc)
            if clbits or resets:
                raise TargetCapabilityError(
                    f"IonQ runs a circuit with mid-circuit measurement or reset only as a single-circuit job, "
                    f"and circuit {qc.name!r} has some; submit one circuit per job"
                )


def _qiskit_ionq() -> Any:
    """The ``qiskit_ionq`` package (the ``[ionq]`` extra)."""
    return require("qiskit_ionq", extra="ionq")


def has_ionq_key() -> bool:
    """True when ``IONQ_API_KEY`` is set (its value is never shown)."""
    return bool(os.environ.get(IONQ_KEY_ENV))


def ionq_backend(name: str = "simulator", *, gateset: str = "qis", noise_model: str | None = None) -> Any:
    """A qiskit-ionq backend (``"simulator"``, ``"qpu.aria-1"``, ``"qpu.forte-1"``...), key from ``IONQ_API_KEY``.

    Raises:
        ConfigurationError: ``IONQ_API_KEY`` is not set.
        MissingExtraError: qiskit-ionq is not installed (the ``[ionq]`` extra).
    """
    token = os.environ.get(IONQ_KEY_ENV)
    if not token:
        raise ConfigurationError(
            f"IonQ needs an API key: set the environment variable {IONQ_KEY_ENV} (it is read from the "
            "environment only, never from files or arguments)"
        )
    backend = _qiskit_ionq().IonQProvider(token=token).get_backend(name, gateset=gateset)
    if noise_model is not None:
        backend.set_options(noise_model=noise_model)
    return backend


def ionq_pass_manager(backend: Any, *, optimization_level: int = 1) -> Any:
    """A preset pass manager for an IonQ backend at optimization level 0 or 1.

    Raises:
        ConfigurationError: a level above 1 (reported to hang with Qiskit >= 2.5).
    """
    if isinstance(optimization_level, bool) or optimization_level not in (0, 1):
        raise ConfigurationError(
            f"transpile for IonQ at optimization_level 0 or 1, got {optimization_level!r}; higher levels were "
            "reported to hang with Qiskit >= 2.5"
        )
    from qiskit.transpiler import generate_preset_pass_manager

    return generate_preset_pass_manager(optimization_level=optimization_level, target=_unwrap(backend).target)


def ionq_payload(
    circuits: QuantumCircuit | Sequence[QuantumCircuit], backend: Any, *, shots: int = 1024, seed: int | None = None
) -> dict[str, Any]:
    """The JSON body qiskit-ionq would POST for ``circuits`` (built offline, nothing is sent).

    Raises:
        TargetCapabilityError: the job breaks IonQ's rules (:func:`check_ionq_job`).
        MissingExtraError: qiskit-ionq is not installed (the ``[ionq]`` extra).
    """
    qiskit_to_ionq = require("qiskit_ionq.helpers", extra="ionq").qiskit_to_ionq
    many = not isinstance(circuits, QuantumCircuit)
    circuit_list = list(circuits) if many else [circuits]
    check_ionq_job(circuit_list)
    args = {"shots": int(shots), "sampler_seed": seed}
    return json.loads(qiskit_to_ionq(circuit_list if many else circuit_list[0], _unwrap(backend), args))


def ionq_noise_payload(
    circuit: QuantumCircuit,
    *,
    noise_model: str = "aria-1",
    shots: int = 1024,
    backend: Any = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """The JSON job that IonQ's cloud simulator would receive for ``circuit`` with a device noise model.

    IonQ simulates device noise server-side (``noise_model="aria-1"``, ``"forte-1"``...), so offline
    one can only build and inspect the request. The circuit is transpiled to IonQ's native gates
    (``gpi``, ``gpi2``, ``ms``) at optimization level 0 first, with identity pairs
    (:mod:`qiskit_natural_qnn.experiments.noise`) kept apart by their barriers: IonQ runs native-gate
    circuits as given, while its compiler would merge ``v`` and ``vi`` of a QIS circuit.

    Args:
        circuit: a circuit (e.g. a layer circuit with identity pairs, angles bound).
        noise_model: IonQ's noise model name.
        shots: shots of the job.
        backend: an ``IonQSimulatorBackend`` with ``gateset="native"``; None builds one from an
            ``IonQProvider`` (which asks IonQ's API for its qubit count and falls back to a default
            after a 5 s timeout when offline).
        seed: the simulator's ``sampler_seed``.

    Returns:
        The request as a dict (``noise``: ``{"model": noise_model, "seed": seed}``, ``input``: gates).

    Raises:
        MissingExtraError: qiskit-ionq is not installed (the ``[ionq]`` extra).
    """
    if backend is None:
        backend = _qiskit_ionq().IonQProvider(token="offline").get_backend("simulator", gateset="native")
    backend.set_options(noise_model=noise_model, sampler_seed=seed)
    native = transpile_for_target(circuit, "ionq", optimization_level=0)
    return ionq_payload(native, backend, shots=int(shots), seed=seed)


def _hex(bits: str) -> str:
    return hex(int(bits, 2)) if bits else "0x0"


class _ShotsJob(JobV1):
    """An IonQ job whose result carries hexadecimal per-shot memory (see :class:`IonQShotsBackend`)."""

    def __init__(
        self, backend: IonQShotsBackend, job: Any, *, seed: int | None, shots: int, ideal: bool, simulator: bool
    ) -> None:
        super().__init__(backend=backend, job_id=str(job.job_id()))
        self.ionq_job = job
        self._seed = seed
        self._shots = int(shots)
        self._ideal = ideal
        self._simulator = simulator

    def submit(self) -> None:  # pragma: no cover - submitted on construction
        return None

    def status(self) -> Any:
        return self.ionq_job.status()

    def result(self) -> Any:
        result = self.ionq_job.result()
        for i, exp in enumerate(result.results):
            data = exp.data
            memory = getattr(data, "memory", None)
            if memory and not self._ideal:
                data.memory = [_hex(s) for s in memory]
                continue
            if self._simulator and not self._ideal:
                raise ExecutionError(
                    f"IonQ job {self.job_id()} returned no per-shot data for circuit {i} from the noisy simulator, and "
                    "its counts are rounded probabilities, not samples; retry, or use the ideal simulator or a QPU"
                )
            counts = getattr(data, "counts", None) or {}
            shots = [_hex(k) for k, n in counts.items() for _ in range(int(n))]
            if len(shots) != self._shots:
                raise ExecutionError(
                    f"IonQ job {self.job_id()} returned {len(shots)} shots for circuit {i}, expected {self._shots}"
                )
            np.random.default_rng(None if self._seed is None else [int(self._seed), i]).shuffle(shots)
            data.memory = shots
        return result


class IonQShotsBackend(BackendV2):
    """A qiskit-ionq backend that hands ``BackendSamplerV2`` correct per-shot memory (see the module).

    Args:
        backend: a qiskit-ionq backend (``IonQProvider(...).get_backend(...)``).

    Attributes:
        ionq_backend: the wrapped backend.
        provider_job_ids: the IonQ job ids submitted through this object, in order.
    """

    def __init__(self, backend: Any) -> None:
        super().__init__(
            provider=None,
            name=str(backend.name),
            description=f"{backend.name} with per-shot memory for BackendSamplerV2 (qiskit-natural-qnn)",
            backend_version=str(getattr(backend, "backend_version", "0")),
        )
        self.ionq_backend = backend
        self.provider_job_ids: list[str] = []

    @classmethod
    def _default_options(cls) -> Options:
        return Options(shots=1024, memory=True, seed_simulator=None)

    @property
    def target(self) -> Any:
        """The wrapped backend's Target."""
        return self.ionq_backend.target

    @property
    def max_circuits(self) -> int | None:
        """The wrapped backend's limit of circuits per job."""
        return self.ionq_backend.max_circuits

    @property
    def capabilities(self) -> IonQCapabilities:
        """The wrapped backend's :class:`IonQCapabilities`."""
        return ionq_capabilities(self.ionq_backend)

    def natural_qnn_profile(self) -> TargetProfile:
        """The ``"ionq"`` target profile with this device's qubit count."""
        return dataclasses.replace(
            PROFILES["ionq"], name=f"ionq:{self.name}", num_qubits=self.capabilities.num_qubits, backend=self
        )

    def natural_qnn_pass_manager(self, *, optimization_level: int = 1) -> Any:
        """:func:`ionq_pass_manager` for the wrapped backend."""
        return ionq_pass_manager(self.ionq_backend, optimization_level=min(int(optimization_level), 1))

    def run(self, run_input: Any, **options: Any) -> _ShotsJob:
        """Submit through the IonQ backend; the job's result has hexadecimal per-shot memory."""
        circuits = list(run_input) if isinstance(run_input, (list, tuple)) else [run_input]
        caps = self.capabilities
        check_ionq_job(circuits, caps)
        seed = options.pop("seed_simulator", None)
        shots = int(options.pop("shots", self.options.shots))
        options.pop("memory", None)
        job = self.ionq_backend.run(
            circuits if len(circuits) > 1 else circuits[0],
            shots=shots,
            memory=True,
            sampler_seed=None if caps.ideal else seed,  # see the module docstring
            **options,
        )
        self.provider_job_ids.append(str(job.job_id()))
        return _ShotsJob(self, job, seed=seed, shots=shots, ideal=caps.ideal, simulator=caps.simulator)


def ionq_sampler(backend: Any, *, default_shots: int = 1024) -> BackendSamplerV2:
    """``BackendSamplerV2`` around an IonQ backend (wrapped in :class:`IonQShotsBackend`)."""
    wrapped = backend if isinstance(backend, IonQShotsBackend) else IonQShotsBackend(backend)
    return BackendSamplerV2(backend=wrapped, options={"default_shots": int(default_shots)})
