"""Predict and evaluate a trained network on any Qiskit sampler, with ``S`` shots per image.

:func:`predict_on_sampler` chooses (or checks) the execution (:func:`~.auto.choose_mode`: layerwise,
dynamic or deferred), runs it, and returns per-shot hidden activations and output classes, the
majority vote (ties -> smallest class index, :func:`qiskit_natural_qnn.inference.majority_vote`),
vote counts, which execution ran and why, and the job ids and seed. :func:`evaluate_on_sampler`
adds the single-shot and majority-vote errors on labelled images.

Example:
    >>> import numpy as np
    >>> from qiskit_aer.primitives import SamplerV2
    >>> from qiskit_natural_qnn import NaturalQNN
    >>> net = NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, seed=0)
    >>> pred = predict_on_sampler(net, np.full((2, 4), 0.5), sampler=SamplerV2(), shots=5, mode="layerwise", seed=1)
    >>> pred.mode, pred.shot_classes.shape, pred.vote_counts.sum(axis=1).tolist(), len(pred.job_ids)
    ('layerwise', (2, 5), [5, 5], 2)
"""

from __future__ import annotations

import logging
import os
from typing import Any, NamedTuple

import numpy as np
from qiskit.primitives import BaseSamplerV2

from qiskit_natural_qnn.decode import activations, classes_from_bits
from qiskit_natural_qnn.exceptions import ConfigurationError, InputError
from qiskit_natural_qnn.execution.auto import ModeChoice, choose_mode
from qiskit_natural_qnn.execution.jobs import JobInfo
from qiskit_natural_qnn.execution.layerwise import LayerwiseExecutor, check_run_size
from qiskit_natural_qnn.execution.packing import check_max_sets_per_job
from qiskit_natural_qnn.execution.records import RunRecord, array_fingerprint, model_fingerprint
from qiskit_natural_qnn.execution.samplers import (
    SamplerSetup,
    check_pass_manager,
    check_sampler,
    resolve_run_seed,
    sampler_backend_name,
    sampler_kind,
    sampler_profile,
)
from qiskit_natural_qnn.execution.single import run_single
from qiskit_natural_qnn.inference import Evaluation, Prediction, check_labels, majority_vote, split_data
from qiskit_natural_qnn.randomness import check_seed
from qiskit_natural_qnn.version import __version__
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, NetworkView, network_view

__all__ = ["SamplerEvaluation", "SamplerPrediction", "classes_from_bits", "evaluate_on_sampler", "predict_on_sampler"]

_LOG = logging.getLogger(__name__)


class SamplerPrediction(NamedTuple):
    """The outcome of ``shots`` forward passes per image on a sampler.

    The first four fields are those of :class:`qiskit_natural_qnn.inference.Prediction`
    (:meth:`to_prediction` returns one).

    Attributes:
        shot_classes: ``int64`` ``(n, S)``: the class (argmax of the logits) of each pass.
        vote_counts: ``int64`` ``(n, P)``: how many of the ``S`` passes chose each class.
        majority: ``int64`` ``(n,)``: the majority-vote class (ties -> smallest class index).
        hidden: one ``int8`` array ``(n, S, width)`` per hidden layer: the measured activations (+1/-1).
        mode: the execution that ran: ``"layerwise"``, ``"dynamic"`` or ``"deferred"``.
        reason: why that execution (see :func:`~.auto.choose_mode`).
        construction: the single circuit's construction, or None for layerwise.
        jobs: the sampler jobs (key, id, seed, parameter sets, shots, reused or not).
        seed: the run's seed; every job's seed derives from it.
        backend: what the sampler ran on.
    """

    shot_classes: np.ndarray
    vote_counts: np.ndarray
    majority: np.ndarray
    hidden: list[np.ndarray]
    mode: str
    reason: str
    construction: str | None
    jobs: list[JobInfo]
    seed: int
    backend: str

    @property
    def job_ids(self) -> list[str]:
        """The ids of the jobs (those the sampler gave one)."""
        return [j.job_id for j in self.jobs if j.job_id]

    def to_prediction(self) -> Prediction:
        """The same result as a plain :class:`~qiskit_natural_qnn.inference.Prediction`."""
        return Prediction(self.shot_classes, self.vote_counts, self.majority, self.hidden)


class SamplerEvaluation(NamedTuple):
    """Error rates on labelled images from a sampler run.

    The first four fields are those of :class:`qiskit_natural_qnn.inference.Evaluation`.

    Attributes:
        single_shot_error: the fraction of wrong passes over all ``n_images * shots`` passes.
        vote_error: the fraction of images whose majority vote is wrong (ties -> smallest class index).
        shots: passes per image ``S``.
        n_images: images evaluated.
        prediction: the full :class:`SamplerPrediction` (mode, reason, jobs...).
    """

    single_shot_error: float
    vote_error: float
    shots: int
    n_images: int
    prediction: SamplerPrediction

    def to_evaluation(self) -> Evaluation:
        """The same numbers as a plain :class:`~qiskit_natural_qnn.inference.Evaluation`."""
        return Evaluation(self.single_shot_error, self.vote_error, self.shots, self.n_images)


def _images(view: NetworkView, images: ArrayLike) -> np.ndarray:
    x = view.inputs(images)
    if x.ndim != 2:
        raise InputError(
            f"images must have shape (n, {view.n_inputs}), got {tuple(x.shape)}; flatten each image to "
            f"{view.n_inputs} values"
        )
    return x


def predict_on_sampler(
    model: NetworkLike,
    images: ArrayLike,
    *,
    sampler: BaseSamplerV2 | SamplerSetup,
    shots: int = 15,
    mode: str = "auto",
    pass_manager: Any | None = None,
    seed: int | np.random.Generator | None = None,
    target: Any = None,
    record: RunRecord | str | os.PathLike[str] | None = None,
    copies: int | str = "auto",
    construction: str = "auto",
    max_sets_per_job: int | None = None,
    max_bytes: int | None = None,
    progress: bool = False,
) -> SamplerPrediction:
    """Classify each image with ``shots`` stochastic passes on a sampler, then vote.

    Args:
        model: the trained :class:`~qiskit_natural_qnn.network.NaturalQNN` (or its
            :class:`~qiskit_natural_qnn.view.NetworkView`).
        images: ``(n, n_inputs)``.
        sampler: any ``BaseSamplerV2`` (Aer, IBM Runtime, ``BackendSamplerV2`` around IonQ...) or a
            :class:`~.backends.SamplerSetup` from :func:`~.backends.make_sampler` (its pass manager,
            target and job fetcher are used unless given here).
        shots: passes per image ``S``.
        mode: ``"auto"``, ``"layerwise"``, ``"dynamic"`` or ``"deferred"`` (:func:`~.auto.choose_mode`).
        pass_manager: maps circuits to the device; None: the default for the sampler.
        seed: the run's seed (int or NumPy generator); every job's simulator seed derives from it.
            None: the sampler's own fixed seed if it has one, else fresh entropy (recorded).
        target: the target rules (default: from the sampler).
        record: a :class:`~.records.RunRecord` or a JSON path: job ids, backend, shots and seeds are
            written as the run goes, and a second call with the same record reuses finished jobs.
        copies: layerwise: copies side by side per parameter set (``"auto"``: as many as fit).
        construction: dynamic: ``"linear"``, ``"lookup"`` or ``"auto"``.
        max_sets_per_job: split each sweep into jobs of at most this many parameter sets (None or an
            int ``>= 1``).
        max_bytes: the most memory the run may hold (default :data:`~qiskit_natural_qnn.limits.MAX_BYTES`,
            estimated by :func:`~.layerwise.sampler_run_bytes`), checked before any job is submitted.
        progress: show bars over the jobs (and the hidden layers of a layer-by-layer run) and every
            job id as it is submitted, on standard error (:class:`~.progress.RunProgress`). The run
            is logged under ``qiskit_natural_qnn.execution`` either way.

    Returns:
        The :class:`SamplerPrediction`.

    Raises:
        ConfigurationError: bad ``shots``, ``mode``, ``seed``, ``pass_manager`` (no ``run``),
            ``record`` (not a RunRecord or a path) or ``max_sets_per_job``; a record of another run;
            a run over ``max_bytes``.
        InputError: images of the wrong shape, empty, or not finite.
        CircuitNotExactError: an explicit single-circuit mode that cannot express the network.
        TargetCapabilityError: an explicit mode or a circuit the target cannot run, or a circuit
            outside the instruction set of the sampler's device (:func:`~.isa.check_isa`).
        ExecutionError: a job fails or returns results that cannot be decoded.
    """
    fetch_job = None
    if isinstance(sampler, SamplerSetup):
        pass_manager = pass_manager if pass_manager is not None else sampler.pass_manager
        target = target if target is not None else sampler.target
        fetch_job = sampler.fetch_job
        sampler = sampler.sampler
    check_sampler(sampler)
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ConfigurationError(f"shots must be an int >= 1, got {shots!r}; pass e.g. shots=15")
    shots = int(shots)
    check_pass_manager(pass_manager)
    max_sets_per_job = check_max_sets_per_job(max_sets_per_job)
    if record is not None and not isinstance(record, (RunRecord, str, os.PathLike)):
        raise ConfigurationError(
            f"record must be None, a RunRecord or a path to a JSON file, got {type(record).__name__}; pass e.g. "
            "record='run.json'"
        )
    check_seed(seed, none=True, numpy_generator=True)  # refused before anything is built or recorded
    view = network_view(model)
    x = _images(view, images)
    view.check_weights()
    check_run_size(view, n_images=int(x.shape[0]), shots=shots, max_bytes=max_bytes)
    profile = sampler_profile(sampler, target)
    choice: ModeChoice = choose_mode(view, profile, mode=mode)
    backend = sampler_backend_name(sampler)
    _LOG.info("running on %s: %s execution (%s)", backend, choice.mode, choice.reason)
    if record is not None and not isinstance(record, RunRecord):
        record = RunRecord(record, fetch_job=fetch_job)
    run_seed = resolve_run_seed(seed, sampler)
    if record is not None:
        header = {
            "model": model_fingerprint(view),
            "images": array_fingerprint(x),
            "n_images": int(x.shape[0]),
            "shots": shots,
            "mode": choice.mode,
            "construction": choice.construction,
            "reason": choice.reason,
            "backend": backend,
            "sampler": sampler_kind(sampler),
            "seed": run_seed,
            "seed_given": seed is not None and not isinstance(seed, np.random.Generator),
            "library_version": __version__,
        }
        recorded = record.start(header)
        run_seed = run_seed if recorded is None else recorded
    if choice.mode == "layerwise":
        executor = LayerwiseExecutor(
            view, sampler, pass_manager=pass_manager, copies=copies, max_sets_per_job=max_sets_per_job, target=target
        )
        run = executor.run(x, shots=shots, seed=run_seed, record=record, max_bytes=max_bytes, progress=progress)
        bits, jobs = run.bits, run.jobs
    else:
        single = run_single(
            view,
            x,
            sampler=sampler,
            shots=shots,
            mode=choice.mode,
            construction=construction if choice.mode == "dynamic" else "auto",
            pass_manager=pass_manager,
            seed=run_seed,
            target=profile,
            max_sets_per_job=max_sets_per_job,
            record=record,
            max_bytes=max_bytes,
            progress=progress,
        )
        bits, jobs = single.bits, single.jobs
    shot_classes = classes_from_bits(view, bits[-1])
    majority, counts = majority_vote(shot_classes, view.n_outputs)
    hidden = [activations(b) for b in bits]
    return SamplerPrediction(
        shot_classes=shot_classes,
        vote_counts=counts,
        majority=majority,
        hidden=hidden,
        mode=choice.mode,
        reason=choice.reason,
        construction=choice.construction,
        jobs=jobs,
        seed=run_seed,
        backend=backend,
    )


def evaluate_on_sampler(model: NetworkLike, data: Any, **kwargs: Any) -> SamplerEvaluation:
    """Single-shot and majority-vote error of ``model`` on labelled images, run on a sampler.

    Args:
        model: the network.
        data: a :class:`~qiskit_natural_qnn.data.Dataset` or an ``(images, labels)`` pair.
        **kwargs: keyword arguments of :func:`predict_on_sampler` (``sampler`` is required).

    Returns:
        The :class:`SamplerEvaluation`.

    Raises:
        InputError: mismatched labels or labels outside ``[0, n_outputs)``; and everything
            :func:`predict_on_sampler` raises.
    """
    images, labels = split_data(data)
    view = network_view(model)
    x = _images(view, images)
    labels = check_labels(labels, x.shape[0], view.n_outputs)
    pred = predict_on_sampler(view, x, **kwargs)
    single = float((pred.shot_classes != labels[:, None]).mean())
    vote = float((pred.majority != labels).mean())
    return SamplerEvaluation(single, vote, int(pred.shot_classes.shape[1]), int(labels.shape[0]), pred)
