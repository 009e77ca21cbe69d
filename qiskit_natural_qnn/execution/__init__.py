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
* :mod:`.samplers`: sampler kinds and per-job seeding; :mod:`.backends`: :func:`make_sampler`.
* :mod:`.records`: :class:`RunRecord` (job ids, seeds, resume without paying twice).
* :mod:`.ibm` and :mod:`.ionq`: provider specifics (options, budgets, capabilities, credentials).
* :mod:`.cli`: ``--backend`` options for ``qnqnn evaluate``.
"""

from __future__ import annotations

from .auto import DEFERRED_MAX_QUBITS, MODES, ModeChoice, choose_mode
from .backends import BACKEND_FORMS, SamplerSetup, make_sampler
from .ibm import conditional_cost, local_backend, max_sets_per_job, prepare_ibm_sampler
from .ionq import (
    IonQCapabilities,
    IonQShotsBackend,
    check_ionq_job,
    ionq_capabilities,
    ionq_payload,
    ionq_sampler,
)
from .jobs import JobInfo, Sweep, run_sweep
from .layerwise import LayerwiseExecutor, LayerwiseRun, run_layerwise
from .packing import (
    PackedRows,
    copies_that_fit,
    pack_rows,
    packed_layer_circuit,
    pass_rows,
    unpack_bits,
)
from .predict import (
    SamplerEvaluation,
    SamplerPrediction,
    classes_from_bits,
    evaluate_on_sampler,
    predict_on_sampler,
)
from .records import RunRecord
from .samplers import (
    SAMPLER_KINDS,
    JobSubmitter,
    derive_seed,
    resolve_run_seed,
    sampler_kind,
    sampler_profile,
)
from .single import SingleRun, build_single_circuit, run_single

__all__ = [
    "BACKEND_FORMS",
    "DEFERRED_MAX_QUBITS",
    "MODES",
    "SAMPLER_KINDS",
    "IonQCapabilities",
    "IonQShotsBackend",
    "JobInfo",
    "JobSubmitter",
    "LayerwiseExecutor",
    "LayerwiseRun",
    "ModeChoice",
    "PackedRows",
    "RunRecord",
    "SamplerEvaluation",
    "SamplerPrediction",
    "SamplerSetup",
    "SingleRun",
    "Sweep",
    "build_single_circuit",
    "check_ionq_job",
    "choose_mode",
    "classes_from_bits",
    "conditional_cost",
    "copies_that_fit",
    "derive_seed",
    "evaluate_on_sampler",
    "ionq_capabilities",
    "ionq_payload",
    "ionq_sampler",
    "local_backend",
    "make_sampler",
    "max_sets_per_job",
    "pack_rows",
    "packed_layer_circuit",
    "pass_rows",
    "predict_on_sampler",
    "prepare_ibm_sampler",
    "resolve_run_seed",
    "run_layerwise",
    "run_single",
    "run_sweep",
    "sampler_kind",
    "sampler_profile",
    "unpack_bits",
]
