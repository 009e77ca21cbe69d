r"""Single-circuit execution: the whole network as one dynamic circuit, or as the static deferred circuit.

* ``dynamic``: :func:`~qiskit_natural_qnn.circuits.dynamic_circuit` (mid-circuit measurement and
  classically controlled ``RY``), where it is exact; otherwise the circuits' own
  :class:`~qiskit_natural_qnn.exceptions.CircuitNotExactError` says why and points to layer-by-layer
  execution.
* ``deferred``: :func:`~qiskit_natural_qnn.circuits.deferred_circuit`, the same distribution without
  control flow (measurements at the end), for targets without dynamic circuits and small networks.

One PUB carries every image (one parameter set per image: the first layer's angles, computed on
the host from the pixels) with ``S`` shots each, so ``n`` images and ``S`` shots are one job (IBM:
split by the per-job budget of conditional operations,
:func:`~qiskit_natural_qnn.transpile.ibm_dynamic.max_sets_per_job`). Every hidden layer's register
``h{k}`` is decoded by name.

Before anything is submitted the circuit is checked against the target's rules
(:func:`~qiskit_natural_qnn.circuits.validate_for_target`): a dynamic circuit for a target without
control flow raises :class:`~qiskit_natural_qnn.exceptions.TargetCapabilityError`. On Aer, a circuit
wider than :data:`~.samplers.AER_STATEVECTOR_MAX_QUBITS` qubits runs with ``matrix_product_state``
unless the sampler sets a method itself.

Example:
    >>> import numpy as np
    >>> from qiskit_aer.primitives import SamplerV2
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[3, 2, 2, 2], a=2.0, stretch="linear", seed=0)
    >>> run = run_single(net, np.ones((3, 3)) / 2, sampler=SamplerV2(), shots=4, mode="dynamic", seed=1)
    >>> run.construction, [b.shape for b in run.bits], len(run.jobs)
    ('linear', [(3, 4, 2), (3, 4, 2)], 1)
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import numpy as np
from qiskit.circuit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2

from qiskit_natural_qnn.circuits.angles import input_angles
from qiskit_natural_qnn.circuits.deferred import deferred_circuit
from qiskit_natural_qnn.circuits.dynamic import NetworkCircuit, dynamic_circuit
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.execution.jobs import JobInfo, run_sweep
from qiskit_natural_qnn.execution.layerwise import check_run_size, default_pass_manager
from qiskit_natural_qnn.execution.packing import check_max_sets_per_job, split_sets
from qiskit_natural_qnn.execution.progress import RunProgress
from qiskit_natural_qnn.execution.records import RunRecord
from qiskit_natural_qnn.execution.samplers import (
    AER_STATEVECTOR_MAX_QUBITS,
    JobSubmitter,
    check_pass_manager,
    check_sampler,
    resolve_run_seed,
    sampler_kind,
    sampler_profile,
)
from qiskit_natural_qnn.transpile.targets import transpile_for_target, validate_for_target
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, network_view

__all__ = ["SINGLE_MODES", "SingleRun", "build_single_circuit", "run_single"]

_LOG = logging.getLogger(__name__)

#: Gates of Aer's ``matrix_product_state`` method (Qiskit Aer 0.18), used when none is importable.
_MPS_GATES: tuple[str, ...] = (
    "ccx",
    "cp",
    "cswap",
    "csx",
    "cx",
    "cy",
    "cz",
    "diagonal",
    "ecr",
    "h",
    "id",
    "p",
    "pauli",
    "r",
    "rx",
    "rxx",
    "ry",
    "ryy",
    "rz",
    "rzx",
    "rzz",
    "s",
    "sdg",
    "swap",
    "sx",
    "sxdg",
    "t",
    "tdg",
    "u",
    "u1",
    "u2",
    "u3",
    "unitary",
    "x",
    "y",
    "z",
)

#: The single-circuit modes.
SINGLE_MODES: tuple[str, ...] = ("dynamic", "deferred")


class SingleRun(NamedTuple):
    """What a single-circuit run measured.

    Attributes:
        bits: one ``uint8`` array ``(n_images, shots, width)`` per hidden layer (registers ``h1 ... hL``).
        jobs: the sampler jobs.
        seed: the run's seed.
        construction: ``"linear"``, ``"lookup"`` or ``"deferred"``.
        circuit: the circuit as submitted (after the pass manager).
    """

    bits: list[np.ndarray]
    jobs: list[JobInfo]
    seed: int
    construction: str
    circuit: QuantumCircuit


def build_single_circuit(
    model: NetworkLike, *, mode: str = "dynamic", construction: str = "auto", reuse_qubits: bool = False
) -> NetworkCircuit:
    """The network's single circuit for ``mode`` (``"dynamic"`` or ``"deferred"``), exact or not at all.

    Raises:
        CircuitNotExactError: the construction cannot express this network exactly.
        ConfigurationError: an unknown mode.
    """
    if mode == "dynamic":
        return dynamic_circuit(model, construction=construction, reuse_qubits=reuse_qubits)
    if mode == "deferred":
        return deferred_circuit(model)
    raise ConfigurationError(f"single-circuit mode must be one of {', '.join(SINGLE_MODES)}, got {mode!r}")


def _aer_method(sampler: BaseSamplerV2, num_qubits: int) -> tuple[str | None, str | None]:
    """``(method the sampler sets itself, method to use when it sets none)`` for an Aer sampler."""
    own = sampler.options.backend_options.get("method")
    backend = getattr(sampler, "_backend", None)
    own = own or getattr(getattr(backend, "options", None), "method", None)
    own = None if own in (None, "automatic") else own
    fallback = "matrix_product_state" if num_qubits > AER_STATEVECTOR_MAX_QUBITS else None
    return own, fallback


def _prepare(circuit: QuantumCircuit, sampler: BaseSamplerV2, pass_manager: Any, method: str | None) -> QuantumCircuit:
    if pass_manager is None:
        pass_manager = default_pass_manager(sampler)
    if pass_manager is not None:
        return pass_manager.run(circuit)
    if method == "matrix_product_state":
        # MPS runs a smaller gate set (no cry, no rzy): translate to it, keeping control flow.
        from qiskit.circuit.library import get_standard_gate_name_mapping
        from qiskit.transpiler import generate_preset_pass_manager

        standard = set(get_standard_gate_name_mapping())
        basis = sorted((set(_MPS_GATES) & standard) | {"if_else", "switch_case", "for_loop", "while_loop"})
        return generate_preset_pass_manager(optimization_level=0, basis_gates=basis).run(circuit)
    # Simulators: spell the weak-measurement gate in Aer's standard gates (no device, no routing).
    return transpile_for_target(circuit, "aer", optimization_level=0)


def run_single(
    model: NetworkLike,
    images: ArrayLike,
    *,
    sampler: BaseSamplerV2,
    shots: int,
    mode: str = "dynamic",
    construction: str = "auto",
    pass_manager: Any | None = None,
    seed: int | np.random.Generator | None = None,
    target: Any = None,
    reuse_qubits: bool = False,
    max_sets_per_job: int | None = None,
    record: RunRecord | None = None,
    network_circuit: NetworkCircuit | None = None,
    max_bytes: int | None = None,
    progress: bool = False,
) -> SingleRun:
    """Draw ``shots`` passes per image from the network's single circuit.

    Args:
        model: the network or its view.
        images: inputs ``(n, n_inputs)``.
        sampler: any ``BaseSamplerV2``.
        shots: passes per image.
        mode: ``"dynamic"`` or ``"deferred"``.
        construction: for ``dynamic``: ``"linear"``, ``"lookup"`` or ``"auto"``.
        pass_manager: maps the circuit to the sampler's target; None: the default for the sampler
            (IBM Runtime and Backend samplers: a preset pass manager at level 1; simulators: Aer gates).
        seed: the run's seed.
        target: the target rules (default: from the sampler, see :func:`~.samplers.sampler_profile`).
        reuse_qubits: ``dynamic`` only: reset and reuse qubits between layers.
        max_sets_per_job: split the images into jobs of at most this many (IBM runs also obey
            :func:`~qiskit_natural_qnn.transpile.ibm_dynamic.max_sets_per_job`).
        record: an optional :class:`~.records.RunRecord`.
        network_circuit: a circuit already built by :func:`build_single_circuit` (skips building).
        max_bytes: the most memory the run may hold (default :data:`~qiskit_natural_qnn.limits.MAX_BYTES`,
            estimated by :func:`~.layerwise.sampler_run_bytes`), checked before anything is built or submitted.
        progress: show a bar over the jobs and each job id as it is submitted (:class:`~.progress.RunProgress`).

    Returns:
        The :class:`SingleRun`.

    Raises:
        ConfigurationError: bad ``shots``, ``pass_manager`` or ``max_sets_per_job``, or a run over ``max_bytes``.
        CircuitNotExactError: the single circuit cannot express this network exactly.
        TargetCapabilityError: the circuit breaks the target's rules (e.g. control flow on IonQ), or
            is not in the instruction set of the sampler's device (a ``pass_manager`` that does not
            transpile for it).
        ExecutionError: a job fails or its result cannot be decoded.
    """
    check_sampler(sampler)
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ConfigurationError(f"shots must be an int >= 1, got {shots!r}; pass e.g. shots=15")
    check_pass_manager(pass_manager)
    max_sets_per_job = check_max_sets_per_job(max_sets_per_job)
    view = network_view(model)
    x = view.inputs(images)
    check_run_size(view, n_images=int(np.atleast_2d(x).shape[0]), shots=int(shots), max_bytes=max_bytes)
    nc = network_circuit or build_single_circuit(view, mode=mode, construction=construction, reuse_qubits=reuse_qubits)
    profile = sampler_profile(sampler, target)
    validate_for_target(nc.circuit, profile, check_gates=False)
    kind = sampler_kind(sampler)
    dynamic = nc.circuit.has_control_flow_op()
    limit = max_sets_per_job
    if kind in ("ibm", "ibm-legacy"):
        from qiskit_natural_qnn.transpile.ibm_dynamic import max_sets_per_job as ibm_max_sets
        from qiskit_natural_qnn.transpile.ibm_dynamic import prepare_ibm_sampler

        prepare_ibm_sampler(sampler, dynamic=dynamic)
    own, fallback = _aer_method(sampler, nc.circuit.num_qubits) if kind == "aer" else (None, None)
    circuit = _prepare(nc.circuit, sampler, pass_manager, own or fallback)
    validate_for_target(circuit, profile, check_gates=kind == "aer")
    if kind in ("ibm", "ibm-legacy") and dynamic:
        budget = ibm_max_sets(circuit)
        limit = budget if limit is None else min(limit, budget)
    values = np.atleast_2d(input_angles(view, x))
    run_seed = resolve_run_seed(seed, sampler)
    submitter = JobSubmitter(sampler, aer_method=fallback)
    names = [r.name for r in nc.layer_registers]
    _LOG.info(
        "single %s circuit: %d image(s) x %d shot(s), %d qubits, seed %d",
        nc.construction,
        values.shape[0],
        int(shots),
        circuit.num_qubits,
        run_seed,
    )
    if _LOG.isEnabledFor(logging.DEBUG):
        _LOG.debug("single circuit %r after the pass manager: %s", circuit.name, dict(circuit.count_ops()))
    bars = RunProgress(enabled=progress, jobs=len(split_sets(values.shape[0], limit)), desc="single-circuit jobs")
    with bars:
        sweep = run_sweep(
            submitter,
            circuit,
            list(nc.input_angles),
            values,
            shots=int(shots),
            registers=names,
            key=(0,),
            run_seed=run_seed,
            what=f"the {nc.construction} single circuit",
            max_sets_per_job=limit,
            record=record,
            prefix="single",
            progress=bars,
        )
    return SingleRun(
        bits=[sweep.bits[name] for name in names],
        jobs=sweep.jobs,
        seed=run_seed,
        construction=nc.construction,
        circuit=circuit,
    )
