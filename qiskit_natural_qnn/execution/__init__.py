"""Running a trained network on any Qiskit ``BaseSamplerV2``: layerwise, dynamic, deferred, auto.

The seam to hardware is a sampler plus an optional pass manager (Aer; IBM Runtime's
``executor_sampler.Sampler``, locally on fake backends or in the cloud; ``BackendSamplerV2`` around
a qiskit-ionq backend). The pipeline reads as the Qiskit pattern: map (circuits) -> optimize (pass
manager) -> execute (jobs, seeded one by one) -> post-process (decode by register name, vote).

* :mod:`.predict`: :func:`predict_on_sampler`, :func:`evaluate_on_sampler` (the entry points).
* :mod:`.auto`: :func:`choose_mode` (which execution runs, and why).
* :mod:`.layerwise`: one job per hidden layer, host-side feedforward (exact for every network).
* :mod:`.single`: the dynamic circuit or the deferred circuit, one job for all images.
* :mod:`.packing`: rows of work <-> parameter sets and copies side by side.
* :mod:`.jobs`: a sweep as jobs (budgets, seeds, record), decoded by register name.
* :mod:`.samplers`: sampler kinds, :class:`SamplerSetup` and per-job seeding.
* :mod:`.records`: :class:`RunRecord` (job ids, seeds, resume without paying twice).
* :mod:`.isa`: :func:`check_isa` (a device sampler gets only circuits in its instruction set,
  checked before anything is submitted).
* :mod:`.progress`: :class:`RunProgress` (bars over jobs and layers, job ids as they are submitted).

Every module logs through :mod:`logging` under its own name (``qiskit_natural_qnn.execution.jobs``:
submissions, results and reuses at INFO, with job ids, shots and parameter sets).

Samplers for named devices (:func:`~qiskit_natural_qnn.providers.make_sampler`) and provider
specifics (IBM, IonQ, noisy Aer) live in :mod:`qiskit_natural_qnn.providers`, at the edge.
"""

from __future__ import annotations

from qiskit_natural_qnn.execution.auto import DEFERRED_MAX_QUBITS, MODES, ModeChoice, choose_mode
from qiskit_natural_qnn.execution.isa import check_isa, isa_target
from qiskit_natural_qnn.execution.jobs import JobInfo, Sweep, run_sweep
from qiskit_natural_qnn.execution.layerwise import LayerwiseExecutor, LayerwiseRun, run_layerwise
from qiskit_natural_qnn.execution.packing import (
    PackedRows,
    copies_that_fit,
    pack_rows,
    packed_layer_circuit,
    pass_rows,
    unpack_bits,
)
from qiskit_natural_qnn.execution.predict import (
    SamplerEvaluation,
    SamplerPrediction,
    classes_from_bits,
    evaluate_on_sampler,
    predict_on_sampler,
)
from qiskit_natural_qnn.execution.progress import RunProgress
from qiskit_natural_qnn.execution.records import RunRecord
from qiskit_natural_qnn.execution.samplers import (
    SAMPLER_KINDS,
    JobSubmitter,
    SamplerSetup,
    derive_seed,
    resolve_run_seed,
    sampler_kind,
    sampler_profile,
)
from qiskit_natural_qnn.execution.single import SingleRun, build_single_circuit, run_single

__all__ = [
    "DEFERRED_MAX_QUBITS",
    "MODES",
    "SAMPLER_KINDS",
    "JobInfo",
    "JobSubmitter",
    "LayerwiseExecutor",
    "LayerwiseRun",
    "ModeChoice",
    "PackedRows",
    "RunProgress",
    "RunRecord",
    "SamplerEvaluation",
    "SamplerSetup",
    "SamplerPrediction",
    "SingleRun",
    "Sweep",
    "build_single_circuit",
    "check_isa",
    "choose_mode",
    "classes_from_bits",
    "copies_that_fit",
    "derive_seed",
    "evaluate_on_sampler",
    "isa_target",
    "pack_rows",
    "packed_layer_circuit",
    "pass_rows",
    "predict_on_sampler",
    "resolve_run_seed",
    "run_layerwise",
    "run_single",
    "run_sweep",
    "sampler_kind",
    "sampler_profile",
    "unpack_bits",
]
