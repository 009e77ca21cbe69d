r"""Samplers: which kind a sampler is, how every job gets its own seed, and which rules its target has.

The seam to hardware is any Qiskit ``BaseSamplerV2``. A layer-by-layer run submits one job per hidden
layer (or more), and **every job needs its own simulator seed**: a simulator seed fixed once and
reused on every job replays the same random numbers in every layer, which correlates the layers and
gives a wrong distribution (measured: ``qiskit_aer.primitives.SamplerV2(seed=k)`` repeats its
stream on every job). :class:`JobSubmitter` therefore derives one seed per job from the run's seed
(:func:`derive_seed`, keyed by the job's place in the run, so a resumed run gets the same seeds) and
applies it in the way each kind of sampler allows:

=================  ===============================================================  ================
kind               how the per-job seed is applied                                  seeded
=================  ===============================================================  ================
``aer``            a new ``qiskit_aer.primitives.SamplerV2`` per job with            yes
                   ``seed=job_seed``, on the same ``AerSimulator`` (noise model,
                   options) as the given one
``statevector``    a new ``StatevectorSampler(seed=job_seed)`` per job               yes
``backend``        a new ``BackendSamplerV2`` per job with                          yes (simulators)
                   ``options.seed_simulator=job_seed`` (IonQ: ``sampler_seed``,
                   except on its ideal simulator, see :mod:`.ionq`)
``ibm``            local mode: a copy of the Runtime ``executor_sampler.Sampler``   local mode only
                   per job with ``options.simulator.seed_simulator=job_seed``;
                   cloud: hardware randomness, the seed is only recorded
``ibm-legacy``     as ``ibm``, on the deprecated ``qiskit_ibm_runtime.SamplerV2``     local mode only
                   (its options are read synchronously at ``run``, so they are set
                   for the call and restored)
``custom``         run as given; it must draw fresh randomness per job itself --    no
                   unless it defines ``with_seed(seed) -> BaseSamplerV2``, which    (yes with
                   is then called once per job                                      ``with_seed``)
=================  ===============================================================  ================

Samplers are copied per job (not mutated), because Aer, Statevector and Backend samplers read their
options in a worker thread after ``run`` returns.

Aer: a sampler whose backend options leave ``method`` unset (Aer's automatic choice, statevector) runs
layer circuits with ``matrix_product_state`` (their qubits are never entangled across neurons, so MPS
is exact and, measured here, 20x faster than statevector per parameter set) and single circuits
wider than :data:`AER_STATEVECTOR_MAX_QUBITS` qubits likewise; ``max_parallel_experiments`` defaults
to 0 (parameter sets run in parallel, one thread each, instead of threads fighting inside each set).

Example:
    >>> from qiskit.primitives import StatevectorSampler
    >>> sampler_kind(StatevectorSampler())
    'statevector'
    >>> derive_seed(7, 1, 0) == derive_seed(7, 1, 0) != derive_seed(7, 2, 0)
    True
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from qiskit.primitives import BackendSamplerV2, BaseSamplerV2, StatevectorSampler

from qiskit_natural_qnn.exceptions import ConfigurationError, ExecutionError
from qiskit_natural_qnn.randomness import COUNTER_STOP, check_seed
from qiskit_natural_qnn.transpile.targets import PROFILES, TargetProfile, target_profile

__all__ = [
    "AER_DEFAULT_BACKEND_OPTIONS",
    "AER_STATEVECTOR_MAX_QUBITS",
    "SAMPLER_KINDS",
    "SamplerSetup",
    "JobSubmitter",
    "check_pass_manager",
    "check_sampler",
    "derive_seed",
    "resolve_run_seed",
    "runtime_backend",
    "runtime_is_local",
    "sampler_backend_name",
    "sampler_kind",
    "sampler_profile",
]

#: The kinds of sampler this package knows how to seed (see the module docstring).
SAMPLER_KINDS: tuple[str, ...] = ("aer", "statevector", "backend", "ibm", "ibm-legacy", "custom")

#: Widest single circuit that an Aer sampler with an unset ``method`` runs as a statevector; wider
#: ones run with ``matrix_product_state`` (never the automatic statevector choice for wide circuits).
AER_STATEVECTOR_MAX_QUBITS = 20

#: Backend options of Aer samplers made by this package (and defaults for those passed in).
AER_DEFAULT_BACKEND_OPTIONS: dict[str, Any] = {"method": "matrix_product_state", "max_parallel_experiments": 0}

_SEED_MASK = (1 << 31) - 1


class SamplerSetup(NamedTuple):
    """A sampler ready to use, with what runs need to know about it.

    Attributes:
        sampler: the ``BaseSamplerV2``.
        pass_manager: maps circuits to the device (None for simulators that need none).
        target: the target rules for mode selection and checks (a profile name, backend or profile).
        name: the backend string it was made from.
        fetch_job: ``job_id -> result`` for resuming cloud runs (:class:`~.records.RunRecord`), or None.
        execution: the ``Session`` or ``Batch`` to close when done, or None.
    """

    sampler: BaseSamplerV2
    pass_manager: Any
    target: Any
    name: str
    fetch_job: Callable[[str], Any] | None = None
    execution: Any = None

    def close(self) -> None:
        """Close the Session or Batch, if any."""
        if self.execution is not None and hasattr(self.execution, "close"):
            self.execution.close()


def sampler_kind(sampler: Any) -> str:
    """The kind of ``sampler``, one of :data:`SAMPLER_KINDS`.

    Runtime samplers are told apart by module: ``qiskit_ibm_runtime.executor_sampler.Sampler`` is
    ``"ibm"``, the deprecated ``qiskit_ibm_runtime.SamplerV2`` is ``"ibm-legacy"``.
    """
    module = type(sampler).__module__
    if module.startswith("qiskit_aer"):
        return "aer"
    if isinstance(sampler, StatevectorSampler):
        return "statevector"
    if isinstance(sampler, BackendSamplerV2):
        return "backend"
    if module.startswith("qiskit_ibm_runtime.executor_sampler"):
        return "ibm"
    if module.startswith("qiskit_ibm_runtime"):
        return "ibm-legacy"
    return "custom"


def check_sampler(sampler: Any) -> BaseSamplerV2:
    """Return ``sampler`` if it is a ``BaseSamplerV2``.

    Raises:
        ConfigurationError: anything else.
    """
    if not isinstance(sampler, BaseSamplerV2):
        raise ConfigurationError(
            f"sampler must be a qiskit BaseSamplerV2, got {type(sampler).__name__}; pass e.g. "
            "qiskit_aer.primitives.SamplerV2(), qiskit_ibm_runtime.executor_sampler.Sampler(mode=...) or "
            "make_sampler('aer')"
        )
    return sampler


def check_pass_manager(pass_manager: Any) -> Any:
    """Return ``pass_manager`` if it is None or has a callable ``run`` (a Qiskit pass manager or the like).

    Raises:
        ConfigurationError: anything else.

    Example:
        >>> check_pass_manager("x")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qiskit_natural_qnn.exceptions.ConfigurationError: pass_manager must be None or have a run(circuits) method ...
    """
    if pass_manager is not None and not callable(getattr(pass_manager, "run", None)):
        raise ConfigurationError(
            f"pass_manager must be None or have a run(circuits) method (a Qiskit PassManager), got "
            f"{type(pass_manager).__name__}; pass e.g. generate_preset_pass_manager(backend=backend, "
            "optimization_level=1), or None for the sampler's default"
        )
    return pass_manager


def runtime_backend(sampler: Any) -> Any:
    """The backend an IBM Runtime sampler runs on (its ``backend()``, or the ``backend`` attribute)."""
    backend = getattr(sampler, "backend", None)
    return backend() if callable(backend) else backend


def runtime_is_local(sampler: Any) -> bool:
    """True when an IBM Runtime sampler runs in local testing mode (a fake backend or AerSimulator).

    Example:
        >>> from qiskit_aer import AerSimulator
        >>> from qiskit_ibm_runtime.executor_sampler import Sampler
        >>> runtime_is_local(Sampler(mode=AerSimulator()))
        True
    """
    backend = runtime_backend(sampler)
    return not type(backend).__module__.startswith("qiskit_ibm_runtime.ibm_backend")


def derive_seed(run_seed: int, *key: int) -> int:
    """A 31-bit seed for one job, derived from the run's seed and the job's key (layer, chunk...).

    Jobs with different keys get statistically independent seeds (NumPy ``SeedSequence`` spawn keys);
    the same key always gets the same seed, so a resumed run submits exactly what it would have.
    """
    seq = np.random.SeedSequence(entropy=int(run_seed), spawn_key=tuple(int(k) for k in key))
    return int(seq.generate_state(1, dtype=np.uint32)[0]) & _SEED_MASK


def resolve_run_seed(seed: int | np.random.Generator | None, sampler: Any = None) -> int:
    """The run's seed: ``seed`` as an int; else the sampler's own fixed seed; else fresh entropy.

    Using the sampler's own seed when ``seed`` is None keeps a seeded sampler reproducible while every
    job still gets its own derived seed (never the same seed twice).

    Raises:
        ConfigurationError: ``seed`` is not an int in ``[0, 2**64)``, a NumPy generator or None
            (:func:`~qiskit_natural_qnn.randomness.check_seed`).
    """
    seed = check_seed(seed, none=True, numpy_generator=True)
    if seed is None:
        own = getattr(sampler, "seed", None) if sampler_kind(sampler) in ("aer", "statevector") else None
        if isinstance(own, (int, np.integer)) and not isinstance(own, bool) and 0 <= own < COUNTER_STOP:
            return int(own)
        if isinstance(own, np.random.Generator):
            return int(own.integers(0, 2**63 - 1))
        return int(np.random.default_rng().integers(0, 2**63 - 1))
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63 - 1))
    return int(seed)


class JobSubmitter:
    """Submits jobs to one sampler, each with its own seed, in the way the sampler's kind allows.

    Args:
        sampler: any ``BaseSamplerV2``.
        aer_method: for an Aer sampler whose ``method`` is unset: the method to run with (e.g.
            ``"matrix_product_state"``), or None to keep Aer's automatic choice.

    Example:
        >>> from qiskit import QuantumCircuit
        >>> from qiskit.primitives import StatevectorSampler
        >>> qc = QuantumCircuit(1, 1)
        >>> _ = qc.h(0); _ = qc.measure(0, 0)
        >>> submitter = JobSubmitter(StatevectorSampler(seed=1))
        >>> a = submitter.submit([qc], shots=64, seed=5).result()[0].data.c.get_counts()
        >>> b = submitter.submit([qc], shots=64, seed=5).result()[0].data.c.get_counts()
        >>> a == b, submitter.seeded
        (True, True)
    """

    def __init__(self, sampler: BaseSamplerV2, *, aer_method: str | None = None) -> None:
        self.sampler = check_sampler(sampler)
        self.kind = sampler_kind(sampler)
        self.aer_method = aer_method
        self._aer_backend: Any = None

    @property
    def seeded(self) -> bool:
        """True when per-job seeds take effect (simulators; not IBM cloud hardware, not custom samplers)."""
        if self.kind in ("aer", "statevector", "backend"):
            return True
        if self.kind in ("ibm", "ibm-legacy"):
            return runtime_is_local(self.sampler)
        return callable(getattr(self.sampler, "with_seed", None))

    # -------------------------------------------------------------------- per kind
    def _aer_job_sampler(self, seed: int | None) -> Any:
        from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

        sampler = self.sampler
        options = {
            "backend_options": dict(sampler.options.backend_options),
            "run_options": {k: v for k, v in sampler.options.run_options.items() if k != "seed_simulator"},
        }
        if self._aer_backend is None:
            backend = copy.deepcopy(getattr(sampler, "_backend", None))
            if backend is None:  # pragma: no cover - every Aer SamplerV2 has one
                from qiskit_aer import AerSimulator

                backend = AerSimulator(**options["backend_options"])
            updates = {}
            if getattr(backend.options, "method", "automatic") in (None, "automatic") and self.aer_method:
                updates["method"] = self.aer_method
            if "max_parallel_experiments" not in options["backend_options"]:
                updates["max_parallel_experiments"] = AER_DEFAULT_BACKEND_OPTIONS["max_parallel_experiments"]
            if updates:
                backend.set_options(**updates)
            self._aer_backend = backend
        job_sampler = AerSamplerV2(default_shots=sampler.default_shots, seed=seed, options=options)
        job_sampler._backend = self._aer_backend  # the user's simulator (noise model, target), adjusted once
        return job_sampler

    def _backend_job_sampler(self, seed: int | None) -> BackendSamplerV2:
        sampler = self.sampler
        options = dataclasses.asdict(sampler.options)
        options["seed_simulator"] = seed
        return BackendSamplerV2(backend=sampler.backend, options=options)

    def _ibm_job_sampler(self, seed: int | None) -> Any:
        sampler = self.sampler
        if not runtime_is_local(sampler):
            return sampler
        options = sampler.options.model_copy(deep=True)
        options.simulator.seed_simulator = seed
        return type(sampler)(mode=sampler.mode or runtime_backend(sampler), options=options)

    def submit(self, pubs: list[Any], *, shots: int, seed: int | None) -> Any:
        """Submit ``pubs`` as one job with simulator seed ``seed``; return the job.

        Raises:
            ExecutionError: is not raised here; submission errors propagate to the caller, which
                wraps them with the layer they belong to.
        """
        kind = self.kind
        if kind == "aer":
            return self._aer_job_sampler(seed).run(pubs, shots=shots)
        if kind == "statevector":
            return StatevectorSampler(default_shots=self.sampler.default_shots, seed=seed).run(pubs, shots=shots)
        if kind == "backend":
            return self._backend_job_sampler(seed).run(pubs, shots=shots)
        if kind == "ibm":
            return self._ibm_job_sampler(seed).run(pubs, shots=shots)
        if kind == "ibm-legacy" and runtime_is_local(self.sampler):
            simulator = self.sampler.options.simulator
            before = simulator.seed_simulator
            simulator.seed_simulator = seed
            try:
                return self.sampler.run(pubs, shots=shots)
            finally:
                simulator.seed_simulator = before
        if kind == "custom" and self.seeded:
            return self.sampler.with_seed(seed).run(pubs, shots=shots)
        return self.sampler.run(pubs, shots=shots)


def sampler_backend_name(sampler: Any) -> str:
    """A readable name of what the sampler runs on (``"aer_simulator"``, ``"fake_manila"``...)."""
    kind = sampler_kind(sampler)
    if kind == "aer":
        backend = getattr(sampler, "_backend", None)
        name = getattr(backend, "name", None) or "aer_simulator"
        method = getattr(getattr(backend, "options", None), "method", None)
        return f"{name}({method})" if method and method != "automatic" else str(name)
    if kind == "statevector":
        return "statevector_sampler"
    backend = runtime_backend(sampler) if kind in ("ibm", "ibm-legacy") else getattr(sampler, "backend", None)
    name = getattr(backend, "name", None)
    name = name() if callable(name) else name
    return str(name or type(sampler).__name__)


def sampler_profile(sampler: Any, target: Any = None) -> TargetProfile:
    """The target rules a sampler's circuits must obey.

    ``target`` (anything :func:`~qiskit_natural_qnn.circuits.target_profile` accepts) wins when
    given. Otherwise: Aer samplers follow ``"aer"``; Runtime and Backend samplers follow their
    backend; ``StatevectorSampler`` and unknown samplers are assumed ``"static"`` (no control flow,
    measurements at the end), so ``auto`` never sends them a dynamic circuit.
    """
    if target is not None:
        return target_profile(target)
    kind = sampler_kind(sampler)
    if kind == "aer":
        return target_profile("aer")
    if kind in ("ibm", "ibm-legacy", "backend"):
        backend = runtime_backend(sampler) if kind != "backend" else sampler.backend
        profile_of = getattr(backend, "natural_qnn_profile", None)
        if callable(profile_of):
            return profile_of()
        try:
            return target_profile(backend)
        except ConfigurationError:
            return PROFILES["static"]
    return PROFILES["static"]


def job_id_of(job: Any) -> str | None:
    """The job's id, or None when it has none."""
    try:
        value = job.job_id()
    except Exception:  # noqa: BLE001 - a job without an id is still a job
        return None
    return None if value in (None, "") else str(value)


def wrap_failure(exc: Exception, what: str) -> ExecutionError:
    """An :class:`ExecutionError` naming the job that failed and the cause."""
    return ExecutionError(
        f"the sampler job for {what} failed ({type(exc).__name__}: {exc}); if the sampler runs only "
        "circuits in its target's instruction set, pass pass_manager="
        "generate_preset_pass_manager(backend=backend, optimization_level=1)"
    )
