"""Running one parameter sweep as one or more sampler jobs, and decoding it by register name.

Every execution (layer by layer, dynamic, deferred) ends in :func:`run_sweep`: one circuit, a 2-D
array of parameter sets, ``shots`` per set. The sets are split into jobs of at most
``max_sets_per_job`` (IBM's budget of conditional operations, for instance), every job gets its own
seed (:func:`~.samplers.derive_seed` of the run's seed and the job's key), all jobs are submitted
before any result is awaited (they run concurrently in a Session), and each result is decoded by
classical-register name through :func:`qiskit_natural_qnn.decode.decode_register` (bit order in one
place). A :class:`~.records.RunRecord` sees every submission and result, and a finished job it
already holds is reused instead of being paid for twice. Before anything is submitted the circuit is
checked against the instruction set of the sampler's device (:func:`~.isa.check_isa`), and a
:class:`~.progress.RunProgress` shows the jobs as they go; every submission, result and reuse is
logged at INFO under ``qiskit_natural_qnn.execution.jobs`` (job id, shots, parameter sets).

Example:
    >>> import numpy as np
    >>> from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    >>> from qiskit.circuit import Parameter
    >>> from qiskit.primitives import StatevectorSampler
    >>> t = Parameter("t")
    >>> qc = QuantumCircuit(QuantumRegister(1), ClassicalRegister(1, "h1"))
    >>> _ = qc.ry(t, 0); _ = qc.measure(0, 0)
    >>> sweep = run_sweep(JobSubmitter(StatevectorSampler()), qc, (t,), np.array([[0.0], [np.pi]]),
    ...                   shots=3, registers=["h1"], key=(1,), run_seed=0, what="hidden layer 1")
    >>> sweep.bits["h1"][:, :, 0].tolist(), len(sweep.jobs)
    ([[0, 0, 0], [1, 1, 1]], 1)
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from qiskit.circuit import QuantumCircuit

from qiskit_natural_qnn.decode import decode_register
from qiskit_natural_qnn.exceptions import ExecutionError
from qiskit_natural_qnn.execution.isa import check_isa, isa_target
from qiskit_natural_qnn.execution.packing import split_sets
from qiskit_natural_qnn.execution.progress import RunProgress
from qiskit_natural_qnn.execution.records import RunRecord
from qiskit_natural_qnn.execution.samplers import (
    JobSubmitter,
    derive_seed,
    job_id_of,
    sampler_backend_name,
    wrap_failure,
)

__all__ = [
    "JobInfo",
    "DEFAULT_RETRY",
    "RetryPolicy",
    "Sweep",
    "cancel_jobs",
    "is_transient",
    "run_sweep",
    "submit_with_retry",
    "sweep_digest",
]

_LOG = logging.getLogger(__name__)


class JobInfo(NamedTuple):
    """One sampler job of a run.

    Attributes:
        key: the job's place in the run, e.g. ``"h2/0"`` (hidden layer 2, first chunk) or ``"single/0"``.
        job_id: the sampler's job id (None when the sampler gives none).
        seed: the simulator seed derived for this job (None when the sampler cannot be seeded).
        n_sets: parameter sets in the job.
        shots: shots per parameter set.
        reused: True when the result came from a run record instead of a new submission.
    """

    key: str
    job_id: str | None
    seed: int | None
    n_sets: int
    shots: int
    reused: bool = False


class Sweep(NamedTuple):
    """The decoded result of a sweep.

    Attributes:
        bits: register name -> ``uint8`` array ``(n_sets, shots, register width)``, bit ``i`` = clbit ``i``.
        jobs: the jobs, in submission order.
    """

    bits: dict[str, np.ndarray]
    jobs: list[JobInfo]


def sweep_digest(key: str, circuit: QuantumCircuit, values: np.ndarray, shots: int, seed: int | None) -> str:
    """A digest of what one job computes (circuit shape, parameter values, shots, seed).

    A run record reuses a finished job only when its digest matches: same key but other inputs
    (other images, another model, bits fed forward from a different previous layer) means a new job.
    """
    h = hashlib.sha256()
    h.update(f"{key}|{circuit.name}|{circuit.num_qubits}|{circuit.num_clbits}|{shots}|{seed}".encode())
    h.update(str(sorted(circuit.count_ops().items())).encode())
    h.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return h.hexdigest()


class RetryPolicy(NamedTuple):
    """How submissions are retried when the service fails transiently.

    Attributes:
        attempts: submissions tried in all (1 = no retry).
        base_delay_s: the wait before the first retry; it doubles after each failure.
        max_delay_s: the longest wait between two attempts.
    """

    attempts: int = 4
    base_delay_s: float = 2.0
    max_delay_s: float = 60.0


#: The retry policy of :func:`submit_with_retry` and :func:`run_sweep` unless one is given.
DEFAULT_RETRY = RetryPolicy()


#: Connection-level failures, timeouts and HTTP 408/429/5xx answers are worth retrying; anything
#: else (a circuit the target rejects, bad credentials, a malformed request) is reported at once.
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


def is_transient(exc: BaseException) -> bool:
    """True for failures that a later submission may not meet (network, timeouts, HTTP 408/429/5xx).

    Example:
        >>> is_transient(ConnectionError("reset by peer")), is_transient(ValueError("bad circuit"))
        (True, False)
    """
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    for holder in (exc, getattr(exc, "response", None)):
        status = getattr(holder, "status_code", None)
        if isinstance(status, int) and status in _TRANSIENT_STATUS:
            return True
    return False


def submit_with_retry(
    submit: Callable[[], Any],
    *,
    what: str,
    retry: RetryPolicy = DEFAULT_RETRY,
    sleep: Callable[[float], None] | None = None,
) -> Any:
    """Call ``submit()``; on a transient failure wait and try again with exponential backoff.

    Raises:
        ExecutionError: a permanent failure at once, or the last transient one after
            ``retry.attempts`` tries (the message says how many).
    """
    delay = retry.base_delay_s
    for attempt in range(1, max(1, retry.attempts) + 1):
        try:
            return submit()
        except ExecutionError:
            raise
        except Exception as exc:
            if not is_transient(exc) or attempt >= retry.attempts:
                tries = f" after {attempt} attempts" if attempt > 1 else ""
                raise wrap_failure(exc, f"{what}{tries}") from exc
            wait = min(delay, retry.max_delay_s)
            _LOG.warning(
                "submitting %s failed (%s: %s), attempt %d of %d; retrying in %.1f s",
                what,
                type(exc).__name__,
                exc,
                attempt,
                retry.attempts,
                wait,
            )
            (sleep or time.sleep)(wait)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def cancel_jobs(jobs: Sequence[Any]) -> int:
    """Cancel every job of ``jobs`` that is not finished (best effort); return how many were asked to stop.

    A job that has no ``cancel``, that reports itself done, or whose ``cancel`` fails (it finished in
    the meantime, the service refuses) is left as it is: this runs while another error is on its way
    up, and must not replace it.
    """
    return len(_cancel(jobs))


def _cancel(jobs: Sequence[Any]) -> list[Any]:
    """:func:`cancel_jobs`, returning the jobs whose ``cancel`` was called and did not fail."""
    asked = []
    for job in jobs:
        cancel = getattr(job, "cancel", None)
        if not callable(cancel):
            continue
        try:
            finished = getattr(job, "in_final_state", None) or getattr(job, "done", None)
            if callable(finished) and finished():
                continue
            cancel()
            asked.append(job)
        except Exception:  # noqa: BLE001, S112 - the error being raised is the one to report
            continue
    return asked


def run_sweep(
    submitter: JobSubmitter,
    circuit: QuantumCircuit,
    parameters: Sequence[Any],
    values: np.ndarray,
    *,
    shots: int,
    registers: Sequence[str],
    key: tuple[int, ...],
    run_seed: int,
    what: str,
    max_sets_per_job: int | None = None,
    record: RunRecord | None = None,
    prefix: str | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    progress: RunProgress | None = None,
) -> Sweep:
    """Run ``circuit`` once per row of ``values`` with ``shots`` shots each, in as few jobs as allowed.

    Args:
        submitter: the sampler, with its per-job seeding.
        circuit: the (transpiled) circuit.
        parameters: the circuit's parameters, in the column order of ``values``.
        values: float array ``(n_sets, len(parameters))``.
        shots: shots per parameter set.
        registers: classical registers to decode.
        key: integers naming this sweep in the run (e.g. ``(layer,)``); job ``j`` is seeded with
            ``derive_seed(run_seed, *key, j)``.
        run_seed: the run's seed.
        what: how errors name this sweep (``"hidden layer 2"``).
        max_sets_per_job: split into jobs of at most this many parameter sets (None: one job).
        record: an optional :class:`~.records.RunRecord` (reuse finished jobs, log submissions).
        prefix: the job keys' prefix (default ``"h{key[0]}"``).
        retry: how transient submission failures are retried (exponential backoff).
        progress: the run's :class:`~.progress.RunProgress` (bars over jobs, job ids as submitted),
            or None for none.

    Returns:
        The decoded :class:`Sweep`.

    Raises:
        TargetCapabilityError: the sampler runs on a device and ``circuit`` is not in its instruction
            set (:func:`~.isa.check_isa`), raised before anything is submitted.
        ExecutionError: a submission fails permanently (or transiently more than ``retry.attempts``
            times), a job fails (the message names its job id), or a result cannot be decoded. On any
            error (an interruption too) after a job was submitted, every job this call submitted that
            is not finished is cancelled (:func:`cancel_jobs`) before the error propagates.
    """
    values = np.asarray(values, dtype=np.float64)
    n_sets = values.shape[0]
    prefix = prefix or f"h{key[0]}"
    device = isa_target(submitter.sampler)
    if device is not None:  # the new Runtime sampler skips this check in local mode: refuse before paying
        check_isa(circuit, device[0], name=device[1])
    widths = {name: _register_width(circuit, name) for name in registers}
    # The result arrays are allocated before anything is submitted: a run too large fails here, unpaid.
    out = {name: np.zeros((n_sets, shots, widths[name]), dtype=np.uint8) for name in registers}
    submitted: list[Any] = []
    try:
        return _submit_and_collect(
            submitter,
            circuit,
            parameters,
            values,
            out,
            submitted,
            shots=shots,
            registers=registers,
            widths=widths,
            key=key,
            run_seed=run_seed,
            what=what,
            max_sets_per_job=max_sets_per_job,
            record=record,
            prefix=prefix,
            retry=retry,
            progress=progress or RunProgress(),
        )
    except BaseException:
        cancelled = _cancel(submitted)
        if record is not None:  # a resumed run submits these again instead of fetching a cancelled job
            record.cancelled(job_id for job in cancelled if (job_id := job_id_of(job)) is not None)
        raise


def _submit_and_collect(
    submitter: JobSubmitter,
    circuit: QuantumCircuit,
    parameters: Sequence[Any],
    values: np.ndarray,
    out: dict[str, np.ndarray],
    submitted: list[Any],
    *,
    shots: int,
    registers: Sequence[str],
    widths: dict[str, int],
    key: tuple[int, ...],
    run_seed: int,
    what: str,
    max_sets_per_job: int | None,
    record: RunRecord | None,
    prefix: str,
    retry: RetryPolicy,
    progress: RunProgress,
) -> Sweep:
    """:func:`run_sweep` after its arrays exist: submit every job (each appended to ``submitted``), then decode."""
    n_sets = values.shape[0]
    pending: list[tuple[JobInfo, slice, Any, str]] = []
    backend_name = sampler_backend_name(submitter.sampler)
    parts = split_sets(n_sets, max_sets_per_job)
    progress.add_jobs(len(parts))
    if _LOG.isEnabledFor(logging.DEBUG):  # circuit.size() walks the circuit
        _LOG.debug(
            "%s: circuit %r (%d qubits, %d instructions), %d parameter set(s) in %d job(s) on %s",
            what,
            circuit.name,
            circuit.num_qubits,
            circuit.size(),
            n_sets,
            len(parts),
            backend_name,
        )
    for j, part in enumerate(parts):
        job_key = f"{prefix}/{j}"
        seed = derive_seed(run_seed, *key, j) if submitter.seeded else None
        chunk = values[part]
        digest = sweep_digest(job_key, circuit, chunk, shots, seed)
        n = chunk.shape[0]
        reused = record.reuse(job_key, digest) if record is not None else None
        if reused is not None:
            pending.append((JobInfo(job_key, reused[0], seed, n, shots, True), part, reused[1], digest))
            _LOG.info("%s: reused job %s (%s) from the run record", what, reused[0], job_key)
            progress.reused(job_key, reused[0])
            continue
        pub: tuple[Any, ...] = (circuit, {tuple(parameters): chunk}) if len(parameters) else (circuit,)

        def submit(pub: tuple[Any, ...] = pub, seed: int | None = seed) -> Any:
            return submitter.submit([pub], shots=shots, seed=seed)

        job = submit_with_retry(submit, what=what, retry=retry)
        submitted.append(job)
        info = JobInfo(job_key, job_id_of(job), seed, n, shots, False)
        _LOG.info(
            "%s: submitted job %s (%s): %d parameter set(s) x %d shot(s) of circuit %r on %s",
            what,
            info.job_id,
            job_key,
            n,
            shots,
            circuit.name,
            backend_name,
        )
        _LOG.debug("job %s (%s): seed %s, digest %s", info.job_id, job_key, seed, digest[:16])
        progress.submitted(job_key, info.job_id, n_sets=n, shots=shots)
        if record is not None:
            record.submitted(
                job_key, digest, job_id=info.job_id, seed=seed, shots=shots, n_sets=n, backend=backend_name
            )
        pending.append((info, part, job, digest))
    jobs: list[JobInfo] = []
    for info, part, job, digest in pending:
        if info.reused:
            result = job
        else:
            try:
                result = job.result()
            except Exception as exc:
                raise wrap_failure(exc, f"{what} (job {info.job_id})") from exc
            if record is not None:
                record.finished(info.key, digest, result)
            _LOG.info("%s: job %s (%s) finished", what, info.job_id, info.key)
            progress.finished(info.key)
        try:
            pub_result = result[0]
        except Exception as exc:
            raise ExecutionError(f"{what}: the sampler returned no PUB result ({type(exc).__name__}: {exc})") from exc
        for name in registers:
            out[name][part] = decode_register(
                pub_result, name, n_sets=info.n_sets, shots=shots, width=widths[name], what=what
            )
        jobs.append(info)
    return Sweep(bits=out, jobs=jobs)


def _register_width(circuit: QuantumCircuit, name: str) -> int:
    for reg in circuit.cregs:
        if reg.name == name:
            return reg.size
    raise ExecutionError(
        f"the circuit {circuit.name!r} has no classical register {name!r} (it has "
        f"{[r.name for r in circuit.cregs]}); build it with qiskit_natural_qnn.circuits"
    )
