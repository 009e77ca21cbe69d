"""Run records: job IDs, backend, shots and seeds in a JSON file, so a crashed run resumes for free.

A :class:`RunRecord` is written as the run goes: a header (what is run: model and image
fingerprints, mode, shots, the run's seed, backend, sampler kind) and one entry per job (its key such
as ``"h2/0"``, a digest of exactly what it computes, its job id, seed, shots and status). The
decoded bits of every finished job are saved next to the record (``<record>.results/``, NumPy
``.npz``, no pickle), so a second call with the same record

* reuses every finished job (no submission at all),
* fetches a job that was submitted but not collected (the process died while waiting) through
  ``fetch_job(job_id)`` -- for IBM Runtime ``service.job(job_id).result()`` -- instead of paying for
  it twice, and
* submits only what never ran, with the seeds the first call would have used.

A job is reused only when its digest matches, so a changed model, other images or different bits
fed forward from a previous layer give new jobs. Credentials are never written: the record holds
job ids, names, shots and seeds only.

Example:
    >>> rec = RunRecord()  # in memory; RunRecord("run.json") writes to disk
    >>> rec.start({"mode": "layerwise", "shots": 15, "seed": 3})
    3
    >>> rec.submitted("h1/0", "d1", job_id="abc", seed=11, shots=15, n_sets=2, backend="aer")
    >>> rec.jobs["h1/0"]["status"], rec.reuse("h1/0", "other digest")  # another job: not reusable
    ('submitted', None)
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from qiskit.primitives import BitArray, DataBin, PrimitiveResult, SamplerPubResult

from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError, ExecutionError
from qiskit_natural_qnn.io.files import read_json
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, network_view

__all__ = ["RECORD_FORMAT", "RECORD_VERSION", "RunRecord", "array_fingerprint", "model_fingerprint"]

#: The ``format`` field of every run record.
RECORD_FORMAT = "qiskit-natural-qnn-run"

#: The run-record format version written and read.
RECORD_VERSION = 1

#: Header fields that must match for a record to be resumed.
_MUST_MATCH = ("model", "images", "shots", "mode", "construction", "backend")


def array_fingerprint(array: ArrayLike) -> str:
    """SHA-256 of an array's float64 values and shape (identifies the images of a run)."""
    arr = np.ascontiguousarray(np.asarray(array, dtype=np.float64))
    h = hashlib.sha256(str(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()


def model_fingerprint(model: NetworkLike) -> str:
    """SHA-256 of a network's layer sizes, quantization spec and weights (float64)."""
    view = network_view(model)
    h = hashlib.sha256(json.dumps({"sizes": list(view.layer_sizes), "spec": view.spec.to_dict()}).encode())
    for w, b in zip(view.weights, view.biases):
        h.update(np.ascontiguousarray(w).tobytes())
        h.update(np.ascontiguousarray(b).tobytes())
    return h.hexdigest()


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)


def _result_arrays(result: Any) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for i, pub in enumerate(result):
        data = pub.data
        arrays[f"p{i}__shape"] = np.asarray(data.shape, dtype=np.int64)
        for name, value in data.items():
            if isinstance(value, BitArray):
                arrays[f"p{i}__{name}__bits"] = value.array
                arrays[f"p{i}__{name}__num_bits"] = np.asarray(value.num_bits, dtype=np.int64)
    return arrays


def _result_from_arrays(arrays: Any) -> PrimitiveResult:
    pubs: dict[int, dict[str, Any]] = {}
    shapes: dict[int, tuple[int, ...]] = {}
    for name in arrays:
        pub, _, rest = name.partition("__")
        i = int(pub[1:])
        if rest == "shape":
            shapes[i] = tuple(int(v) for v in np.asarray(arrays[name]))
        elif rest.endswith("__bits"):
            reg = rest[: -len("__bits")]
            num_bits = int(np.asarray(arrays[f"p{i}__{reg}__num_bits"]))
            pubs.setdefault(i, {})[reg] = BitArray(np.asarray(arrays[name]), num_bits)
    return PrimitiveResult(
        [SamplerPubResult(DataBin(**pubs.get(i, {}), shape=shapes[i])) for i in sorted(shapes)],
        metadata={"reused_from_record": True},
    )


class RunRecord:
    """A run's header and jobs, kept in memory and (with ``path``) in a JSON file as the run goes.

    Args:
        path: the JSON file (created on first write; read if it exists), or None to keep the record
            in memory only (then finished jobs are still reused within the process).
        fetch_job: ``job_id -> PrimitiveResult`` for jobs that were submitted but never collected,
            e.g. ``lambda job_id: service.job(job_id).result()`` for IBM Runtime. None: such jobs
            are submitted again (with a warning), since a local simulator job cannot outlive its
            process.
        save_results: keep the decoded bits of finished jobs (next to ``path``, or in memory).

    Raises:
        ConfigurationError: ``path`` exists but is not a run record of this format.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        fetch_job: Callable[[str], Any] | None = None,
        save_results: bool = True,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.fetch_job = fetch_job
        self.save_results = bool(save_results)
        self.header: dict[str, Any] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self._memory: dict[str, PrimitiveResult] = {}
        self.submissions = 0
        if self.path is not None and self.path.exists():
            self._load()

    # ------------------------------------------------------------------ file
    def _load(self) -> None:
        assert self.path is not None
        try:
            doc = read_json(self.path, lambda data: data, fix="pass another record path")
        except OSError as exc:
            raise ConfigurationError(f"cannot read run record {str(self.path)!r}: {exc}; pass another path") from None
        if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT:
            raise DamagedFileError(
                f"{str(self.path)!r} is not a run record (expected format {RECORD_FORMAT!r}); pass another path"
            )
        if doc.get("version") != RECORD_VERSION:
            raise DamagedFileError(
                f"run record {str(self.path)!r} has version {doc.get('version')!r}, this library reads "
                f"version {RECORD_VERSION}; start a new record"
            )
        header, jobs = doc.get("header") or {}, doc.get("jobs") or {}
        seed = header.get("seed") if isinstance(header, dict) else None
        if (
            not isinstance(header, dict)
            or not isinstance(jobs, dict)
            or not all(isinstance(v, dict) for v in jobs.values())
            or (seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)))
        ):
            raise DamagedFileError(
                f"run record {str(self.path)!r} is corrupt: 'header' must be an object with an integer 'seed' "
                "and 'jobs' an object of objects; restore it or pass a new record path"
            )
        self.header = dict(header)
        self.jobs = {str(k): dict(v) for k, v in jobs.items()}

    @property
    def results_dir(self) -> Path | None:
        """Where finished jobs' bits are kept (``<record>.results``), or None for an in-memory record."""
        return None if self.path is None else self.path.with_name(self.path.name + ".results")

    def save(self) -> None:
        """Write the record (atomically: a temporary file, then rename). No-op in memory."""
        if self.path is None:
            return
        doc = {"format": RECORD_FORMAT, "version": RECORD_VERSION, "header": self.header, "jobs": self.jobs}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(doc, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # ---------------------------------------------------------------- header
    @property
    def seed(self) -> int | None:
        """The run's seed, once started."""
        value = self.header.get("seed")
        return None if value is None else int(value)

    def start(self, header: dict[str, Any]) -> int | None:
        """Begin (or resume) a run described by ``header``; return the run's seed.

        A fresh record takes ``header`` as is. A record that already has a header is being resumed:
        the fields ``model``, ``images``, ``shots``, ``mode``, ``construction`` and ``backend`` must
        match (``mode="auto"`` accepts the recorded mode), and the recorded seed is kept.

        Raises:
            ConfigurationError: the record belongs to another run.
        """
        if not self.header:
            self.header = {**header, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
            self.save()
            return self.seed
        for key in _MUST_MATCH:
            if key not in header or key not in self.header:
                continue
            if key == "mode" and header[key] == "auto":
                continue
            if header[key] != self.header[key]:
                raise ConfigurationError(
                    f"run record {self._where()} belongs to another run: its {key} is {self.header[key]!r}, "
                    f"this run's is {header[key]!r}; pass a new record path to start a new run"
                )
        given = header.get("seed")
        if given is not None and self.seed is not None and int(given) != self.seed and header.get("seed_given"):
            raise ConfigurationError(
                f"run record {self._where()} was made with seed {self.seed}, got seed={given}; resume with the "
                "recorded seed (pass seed=None) or start a new record"
            )
        return self.seed

    def _where(self) -> str:
        return repr(str(self.path)) if self.path is not None else "(in memory)"

    # ------------------------------------------------------------------ jobs
    def submitted(
        self,
        key: str,
        digest: str,
        *,
        job_id: str | None,
        seed: int | None,
        shots: int,
        n_sets: int,
        backend: str,
        provider_job_ids: list[str] | None = None,
    ) -> None:
        """Log a submitted job (written to disk at once, before its result is awaited)."""
        self.submissions += 1
        self.jobs[key] = {
            "digest": digest,
            "job_id": job_id,
            "seed": seed,
            "shots": int(shots),
            "n_sets": int(n_sets),
            "backend": backend,
            "status": "submitted",
            **({"provider_job_ids": list(provider_job_ids)} if provider_job_ids else {}),
        }
        self.save()

    def finished(self, key: str, digest: str, result: Any) -> None:
        """Log a finished job and keep its bits (so a later call reuses it)."""
        entry = self.jobs.setdefault(key, {"digest": digest})
        entry["status"] = "done"
        if self.save_results:
            if self.results_dir is None:
                self._memory[key] = result
            else:
                self.results_dir.mkdir(parents=True, exist_ok=True)
                file = self.results_dir / f"{_safe_name(key)}.npz"
                arrays: dict[str, Any] = {"digest": np.asarray(digest), **_result_arrays(result)}
                np.savez_compressed(file, **arrays)
                entry["results_file"] = file.name
        self.save()

    def _stored(self, key: str, digest: str) -> Any:
        if key in self._memory:
            return self._memory[key]
        entry = self.jobs.get(key, {})
        name = entry.get("results_file")
        if not isinstance(name, str) or Path(name).name != name or self.results_dir is None:
            return None  # none recorded, or not a plain file name inside the results folder
        file = self.results_dir / name
        if not file.exists():
            return None
        try:
            with np.load(file, allow_pickle=False) as arrays:
                if str(arrays["digest"]) != digest:
                    return None
                return _result_from_arrays({k: arrays[k] for k in arrays.files if k != "digest"})
        except Exception as exc:  # noqa: BLE001 - a damaged file: run (or fetch) the job again
            warnings.warn(
                f"the saved results of job {key} in {str(file)!r} cannot be read ({type(exc).__name__}: {exc}); "
                "fetching or running the job again",
                stacklevel=3,
            )
            return None

    def reuse(self, key: str, digest: str) -> tuple[str | None, Any] | None:
        """``(job_id, result)`` of a finished job with this key and digest, or None to submit it.

        A job that was submitted but not collected is fetched through ``fetch_job`` (when given)
        and then kept like any finished job.

        Raises:
            ExecutionError: ``fetch_job`` fails for a recorded job id.
        """
        entry = self.jobs.get(key)
        if entry is None or entry.get("digest") != digest:
            return None
        job_id = entry.get("job_id")
        if entry.get("status") == "done":
            stored = self._stored(key, digest)
            if stored is not None:
                return job_id, stored
        if job_id and self.fetch_job is not None:
            try:
                result = self.fetch_job(job_id)
            except Exception as exc:
                raise ExecutionError(
                    f"could not fetch recorded job {job_id!r} ({key}) from the service ({type(exc).__name__}: "
                    f"{exc}); check the connection, or start a new record to run it again"
                ) from exc
            self.finished(key, digest, result)
            return job_id, result
        if entry.get("status") == "submitted" and job_id:
            warnings.warn(
                f"job {job_id!r} ({key}) was submitted but never collected and this record has no fetch_job; "
                "submitting it again",
                stacklevel=3,
            )
        return None

    @property
    def job_ids(self) -> list[str]:
        """Every recorded job id, in key order."""
        return [str(e["job_id"]) for _, e in sorted(self.jobs.items()) if e.get("job_id")]
