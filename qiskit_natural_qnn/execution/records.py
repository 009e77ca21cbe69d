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
import io
import json
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from qiskit.primitives import BitArray, DataBin, PrimitiveResult, SamplerPubResult

from qiskit_natural_qnn.exceptions import ConfigurationError, DamagedFileError, ExecutionError
from qiskit_natural_qnn.io.files import read_json, remove_stale_temporaries, safe_output_path, write_atomic
from qiskit_natural_qnn.view import ArrayLike, NetworkLike, network_view

__all__ = [
    "RECORD_FORMAT",
    "RECORD_VERSION",
    "RunRecord",
    "array_fingerprint",
    "model_fingerprint",
    "read_results_archive",
]

#: The ``format`` field of every run record.
RECORD_FORMAT = "qiskit-natural-qnn-run"

#: The run-record format version written and read.
RECORD_VERSION = 1

#: Header fields that must match for a record to be resumed.
_MUST_MATCH = ("model", "images", "shots", "mode", "construction", "backend")

#: The largest results archive read back (uncompressed), far above any real run's bits.
_MAX_RESULTS_BYTES = 2**30

_ARRAY_NAME = re.compile(r"^p(?P<pub>\d{1,6})__(?:(?P<shape>shape)|(?P<reg>.+)__(?P<what>bits|num_bits))$")

#: The fields of a job entry: their types (None: may be null) and whether a record must hold them.
_JOB_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "digest": ((str,), True),
    "status": ((str,), True),
    "job_id": ((str, type(None)), False),
    "seed": ((int, type(None)), False),
    "shots": ((int,), False),
    "n_sets": ((int,), False),
    "backend": ((str, type(None)), False),
    "results_file": ((str,), False),
    "provider_job_ids": ((list,), False),
}
_STATUSES = ("submitted", "done", "cancelled")


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


def _job_problem(entry: Mapping[str, Any]) -> str | None:
    """What is wrong with a job entry of a record (None: nothing)."""
    for name, (types, required) in _JOB_FIELDS.items():
        if name not in entry:
            if required:
                return f"has no {name!r}"
            continue
        value = entry[name]
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "..."
            return f"has {name} {shown}, expected {expected}"
    if entry["status"] not in _STATUSES:
        return f"has status {entry['status']!r}, expected one of {', '.join(_STATUSES)}"
    for name in ("shots", "n_sets", "seed"):
        value = entry.get(name)
        if isinstance(value, int) and not 0 <= value < 2**64:
            return f"has {name} {value}, outside [0, 2**64)"
    if not all(isinstance(v, str) for v in entry.get("provider_job_ids", [])):
        return "has provider_job_ids that are not strings"
    return None


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


def _int_array(value: np.ndarray, name: str, *, ndim: int) -> np.ndarray:
    if value.dtype.kind not in "iu" or value.ndim != ndim or (value.size and int(value.min()) < 0):
        raise DamagedFileError(
            f"array {name!r} must be a {ndim}-dimensional array of non-negative integers, got dtype {value.dtype} "
            f"and shape {value.shape}"
        )
    return value


def _result_from_arrays(arrays: Mapping[str, np.ndarray]) -> PrimitiveResult:
    """The sampler result stored as ``arrays`` (:func:`_result_arrays`), every name, dtype and shape checked.

    Raises:
        DamagedFileError: an unknown array name, a wrong dtype or shape, bits without their count,
            or publications that are not numbered 0, 1, 2...
    """
    shapes: dict[int, tuple[int, ...]] = {}
    bits: dict[int, dict[str, np.ndarray]] = {}
    counts: dict[int, dict[str, int]] = {}
    for name, value in arrays.items():
        match = _ARRAY_NAME.match(name)
        if match is None:
            raise DamagedFileError(f"unknown array {name!r}; expected p<i>__shape, p<i>__<register>__bits/num_bits")
        i = int(match.group("pub"))
        if match.group("shape"):
            shapes[i] = tuple(int(v) for v in _int_array(value, name, ndim=1))
            if len(shapes[i]) > 8:
                raise DamagedFileError(f"array {name!r} gives a shape of {len(shapes[i])} dimensions, at most 8")
        elif match.group("what") == "bits":
            if value.dtype != np.uint8:
                raise DamagedFileError(f"array {name!r} must hold uint8 bits, got dtype {value.dtype}")
            bits.setdefault(i, {})[match.group("reg")] = value
        else:
            counts.setdefault(i, {})[match.group("reg")] = int(_int_array(value, name, ndim=0))
    if sorted(shapes) != list(range(len(shapes))) or not set(bits) | set(counts) <= set(shapes):
        raise DamagedFileError(f"publications {sorted(shapes)} are not numbered 0, 1, 2...")
    pubs: list[SamplerPubResult] = []
    for i in sorted(shapes):
        regs_bits, regs_counts = bits.get(i, {}), counts.get(i, {})
        if set(regs_bits) != set(regs_counts):
            raise DamagedFileError(
                f"publication {i}: registers with bits {sorted(regs_bits)} and with a bit count "
                f"{sorted(regs_counts)} differ"
            )
        data: dict[str, BitArray] = {}
        for reg, array in regs_bits.items():
            num_bits = regs_counts[reg]
            expected_shape = (*shapes[i], "shots", (num_bits + 7) // 8)
            if (
                num_bits < 1
                or array.ndim != len(shapes[i]) + 2
                or array.shape[: len(shapes[i])] != shapes[i]
                or array.shape[-1] != (num_bits + 7) // 8
            ):
                raise DamagedFileError(
                    f"publication {i}, register {reg!r}: bits of shape {array.shape} for {num_bits} bits, "
                    f"expected {expected_shape}"
                )
            data[reg] = BitArray(array, num_bits)
        pubs.append(SamplerPubResult(DataBin(**data, shape=shapes[i])))
    return PrimitiveResult(pubs, metadata={"reused_from_record": True})


def read_results_archive(file: str | os.PathLike[str], digest: str) -> PrimitiveResult | None:
    """Read a finished job's results archive (``.npz``, no pickle); None when it holds another job's bits.

    Args:
        file: the archive, inside a record's ``.results`` folder.
        digest: the digest of the job it should hold.

    Returns:
        The job's result, or None when the archive's digest is another.

    Raises:
        DamagedFileError: a link, not a zip archive, an archive that would need more than 1 GiB,
            pickled (object) arrays, unknown names, wrong dtypes or shapes; the message names the file.
    """
    where = repr(str(file))
    file = Path(file)
    if file.is_symlink() or not file.is_file():
        raise DamagedFileError(f"results archive {where} is a link or not a regular file; delete it")
    try:
        with zipfile.ZipFile(file) as archive:
            size = sum(info.file_size for info in archive.infolist())
        if size > _MAX_RESULTS_BYTES:
            raise DamagedFileError(f"it would hold {size} bytes uncompressed, more than {_MAX_RESULTS_BYTES}")
        with np.load(file, allow_pickle=False) as npz:
            arrays = {name: np.asarray(npz[name]) for name in npz.files}
        stored = arrays.pop("digest", None)
        if stored is None or stored.dtype.kind != "U" or stored.ndim != 0:
            raise DamagedFileError("its 'digest' array is missing or not a string")
        if str(stored) != digest:
            return None
        return _result_from_arrays(arrays)
    except DamagedFileError as exc:
        raise DamagedFileError(f"results archive {where} is damaged: {exc}; it is run again") from None
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile, RuntimeError) as exc:
        raise DamagedFileError(
            f"results archive {where} is damaged ({type(exc).__name__}: {exc}); it is run again"
        ) from None


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
        ConfigurationError: ``path`` or its results folder is a symbolic link, or ``path`` cannot be read.
        DamagedFileError: ``path`` exists but is not a valid run record of this format, or its results
            folder is not a folder.
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
        if self.path is not None:
            self._check_paths()
            remove_stale_temporaries(self.path.parent, names={self.path.name})
            assert self.results_dir is not None
            remove_stale_temporaries(self.results_dir)
            if self.path.exists():
                self._load()

    # ------------------------------------------------------------------ file
    def _check_paths(self) -> None:
        """Refuse a record, a results folder or a file in it that is a link, and a results folder that is a file."""
        assert self.path is not None and self.results_dir is not None
        for where in (self.path, self.results_dir):
            if where.is_symlink():
                raise ConfigurationError(
                    f"{str(where)!r} is a symbolic link; a run record and its results are never written through "
                    "a link: remove the link or pass another record path"
                )
        if self.results_dir.exists() and not self.results_dir.is_dir():
            raise DamagedFileError(
                f"the results folder {str(self.results_dir)!r} of run record {str(self.path)!r} is a file, not a "
                "folder; move it away or pass another record path"
            )
        if self.results_dir.is_dir():
            links = sorted(entry.name for entry in os.scandir(self.results_dir) if entry.is_symlink())
            if links:
                raise ConfigurationError(
                    f"the results folder {str(self.results_dir)!r} holds symbolic links ({', '.join(links[:3])}); "
                    "a run's results are never written through a link: remove them"
                )

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
            or (seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64))
        ):
            raise DamagedFileError(
                f"run record {str(self.path)!r} is corrupt: 'header' must be an object with an integer 'seed' "
                "in [0, 2**64) and 'jobs' an object of objects; restore it or pass a new record path"
            )
        for key, entry in jobs.items():
            problem = _job_problem(entry)
            if problem is not None:
                raise DamagedFileError(
                    f"run record {str(self.path)!r} is corrupt: job {key!r} {problem}; restore it or pass a new "
                    "record path"
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
        write_atomic(self.path, json.dumps(doc, indent=1, sort_keys=True).encode("utf-8"))

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
                assert self.path is not None
                self._check_paths()
                file = safe_output_path(self.results_dir, f"{_safe_name(key)}.npz")
                arrays: dict[str, Any] = {"digest": np.asarray(digest), **_result_arrays(result)}
                buffer = io.BytesIO()
                np.savez_compressed(buffer, **arrays)
                write_atomic(file, buffer.getvalue(), confine_to=self.path.parent)
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
        if not file.exists() and not file.is_symlink():
            return None
        try:
            return read_results_archive(file, digest)
        except DamagedFileError as exc:  # run (or fetch) the job again
            warnings.warn(
                f"the saved results of job {key} cannot be read: {exc}; fetching or running the job again",
                stacklevel=3,
            )
            return None

    def cancelled(self, job_ids: Iterable[str]) -> None:
        """Mark the submitted jobs ``job_ids`` as cancelled (after a failure), so a resume submits them again."""
        ids = set(job_ids)
        changed = False
        for entry in self.jobs.values():
            if entry.get("status") == "submitted" and entry.get("job_id") in ids:
                entry["status"] = "cancelled"
                changed = True
        if changed:
            self.save()

    def reuse(self, key: str, digest: str) -> tuple[str | None, Any] | None:
        """``(job_id, result)`` of a finished job with this key and digest, or None to submit it.

        A job that was submitted but not collected is fetched through ``fetch_job`` (when given)
        and then kept like any finished job.

        Raises:
            ExecutionError: ``fetch_job`` fails for a recorded job id.
        """
        entry = self.jobs.get(key)
        if entry is None or entry.get("digest") != digest or entry.get("status") == "cancelled":
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
