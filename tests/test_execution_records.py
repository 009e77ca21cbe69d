"""Run records: a second call reuses finished jobs, fetches uncollected ones, and pays for nothing twice.

A fake cloud (a sampler plus a job service) counts submissions and fetches. Its sampler is a custom
``BaseSamplerV2`` that opts in to per-job seeds through ``with_seed`` and runs exact statevector
sampling, so a resumed run can be compared bit for bit with an uninterrupted run of the same seed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from qiskit.primitives import BaseSamplerV2, StatevectorSampler

from qiskit_natural_qnn import ConfigurationError, DamagedFileError, ExecutionError, NaturalQNN
from qiskit_natural_qnn.execution import RunRecord, predict_on_sampler
from qiskit_natural_qnn.execution.records import RECORD_FORMAT


class FakeCloud:
    """Holds every job's result by id, counts submissions and fetches; can lose one connection."""

    def __init__(self, *, lose_connection_on: int | None = None) -> None:
        self.submissions = 0
        self.fetches = 0
        self.results: dict[str, object] = {}
        self.lose_connection_on = lose_connection_on

    def fetch(self, job_id: str):
        self.fetches += 1
        return self.results[job_id]


class _Job:
    def __init__(self, job_id: str, result, lost: bool) -> None:
        self._id, self._result, self._lost = job_id, result, lost

    def job_id(self) -> str:
        return self._id

    def result(self):
        if self._lost:
            raise ConnectionError("connection lost while waiting")
        return self._result


class CloudSampler(BaseSamplerV2):
    def __init__(self, cloud: FakeCloud, seed: int | None = None) -> None:
        self.cloud, self.seed = cloud, seed

    def with_seed(self, seed: int) -> CloudSampler:
        return CloudSampler(self.cloud, seed)

    def run(self, pubs, *, shots=None):
        cloud = self.cloud
        cloud.submissions += 1
        job_id = f"job-{cloud.submissions:03d}"
        cloud.results[job_id] = StatevectorSampler(seed=self.seed).run(pubs, shots=shots).result()
        return _Job(job_id, cloud.results[job_id], lost=cloud.submissions == cloud.lose_connection_on)


def _net() -> NaturalQNN:
    net = NaturalQNN(layer_sizes=[5, 3, 3, 3, 4], a=0.6, seed=2, dtype=torch.float64)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(1.5)
    return net


IMAGES = np.random.default_rng(0).uniform(size=(4, 5))


def _predict(sampler, **kw):
    return predict_on_sampler(_net(), IMAGES, sampler=sampler, shots=6, mode="layerwise", copies=1, **kw)


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.shot_classes, b.shot_classes)
    for x, y in zip(a.hidden, b.hidden):
        np.testing.assert_array_equal(x, y)


def test_second_call_reuses_every_finished_job(tmp_path):
    path = tmp_path / "run.json"
    cloud = FakeCloud()
    first = _predict(CloudSampler(cloud), seed=9, record=path)
    assert cloud.submissions == 3 and not any(job.reused for job in first.jobs)
    second = _predict(CloudSampler(cloud), record=path)  # seed None: the recorded seed is used
    assert cloud.submissions == 3, "a finished job was paid for twice"
    assert all(job.reused for job in second.jobs) and second.seed == 9
    assert [j.job_id for j in second.jobs] == ["job-001", "job-002", "job-003"]
    _same(first, second)
    # the record is plain JSON: job ids, backend, shots and seeds; nothing secret
    doc = json.loads(path.read_text())
    assert doc["format"] == RECORD_FORMAT and doc["version"] == 1
    assert {"model", "images", "shots", "mode", "seed", "backend", "sampler"} <= set(doc["header"])
    assert doc["header"]["shots"] == 6 and doc["header"]["mode"] == "layerwise" and doc["header"]["seed"] == 9
    assert sorted(doc["jobs"]) == ["h1/0", "h2/0", "h3/0"]
    for entry in doc["jobs"].values():
        assert {"job_id", "seed", "shots", "n_sets", "status", "digest", "backend"} <= set(entry)
        assert entry["status"] == "done"
    assert "token" not in path.read_text().lower()
    assert sorted(p.name for p in (tmp_path / "run.json.results").iterdir()) == ["h1_0.npz", "h2_0.npz", "h3_0.npz"]


def test_crash_while_waiting_then_resume_fetches_instead_of_resubmitting(tmp_path):
    path = tmp_path / "run.json"
    clean = _predict(CloudSampler(FakeCloud()), seed=4)
    cloud = FakeCloud(lose_connection_on=2)  # layer 2's job runs, but the client dies waiting for it
    with pytest.raises(
        ExecutionError,
        match=r"^the sampler job for hidden layer 2 \(job job-002\) failed \(ConnectionError: "
        r"connection lost while waiting\)",
    ):
        _predict(CloudSampler(cloud), seed=4, record=RunRecord(path, fetch_job=cloud.fetch))
    assert cloud.submissions == 2
    entries = json.loads(path.read_text())["jobs"]
    assert entries["h1/0"]["status"] == "done" and entries["h2/0"]["status"] == "submitted"
    assert entries["h2/0"]["job_id"] == "job-002"
    cloud.lose_connection_on = None
    resumed = _predict(CloudSampler(cloud), record=RunRecord(path, fetch_job=cloud.fetch))
    assert cloud.submissions == 3 and cloud.fetches == 1  # only layer 3 was submitted; layer 2 was fetched
    assert [job.reused for job in resumed.jobs] == [True, True, False]
    _same(clean, resumed)  # the same seeds, the same bits as a run that never crashed


def test_uncollected_job_without_a_fetcher_is_resubmitted_with_a_warning(tmp_path):
    path = tmp_path / "run.json"
    cloud = FakeCloud(lose_connection_on=1)
    with pytest.raises(ExecutionError):
        _predict(CloudSampler(cloud), seed=4, record=path)
    cloud.lose_connection_on = None
    with pytest.warns(
        UserWarning,
        match=r"job 'job-001' \(h1/0\) was submitted but never collected and this record "
        r"has no fetch_job; submitting it again",
    ):
        _predict(CloudSampler(cloud), record=path)
    assert cloud.submissions == 4


def test_changed_inputs_give_new_jobs_and_another_run_is_refused(tmp_path):
    path = tmp_path / "run.json"
    cloud = FakeCloud()
    _predict(CloudSampler(cloud), seed=1, record=path)
    with pytest.raises(ConfigurationError, match=r"belongs to another run: its images is '[0-9a-f]+', this run's is"):
        predict_on_sampler(_net(), IMAGES[:2], sampler=CloudSampler(cloud), shots=6, mode="layerwise", record=path)
    with pytest.raises(
        ConfigurationError,
        match=r"belongs to another run: its shots is 6, this run's is 7; pass a "
        r"new record path to start a new run$",
    ):
        predict_on_sampler(_net(), IMAGES, sampler=CloudSampler(cloud), shots=7, mode="layerwise", record=path)
    with pytest.raises(ConfigurationError, match=r"was made with seed 1, got seed=2; resume with the recorded seed"):
        _predict(CloudSampler(cloud), seed=2, record=path)
    assert cloud.submissions == 3
    # a record in memory reuses within the process too
    memory = RunRecord()
    a = _predict(CloudSampler(cloud), seed=3, record=memory)
    b = _predict(CloudSampler(cloud), record=memory)
    assert cloud.submissions == 6 and all(j.reused for j in b.jobs)
    _same(a, b)


def test_not_a_record_is_refused(tmp_path):
    bad = tmp_path / "other.json"
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(DamagedFileError, match=r"is not a run record \(expected format 'qiskit-natural-qnn-run'\)"):
        RunRecord(bad)


# ------------------------------------------------------------------ transient and permanent failures
class _Flaky(CloudSampler):
    """Fails its first ``failures`` submissions with ``error``, then behaves."""

    def __init__(self, cloud: FakeCloud, error: Exception, failures: int, seed: int | None = None) -> None:
        super().__init__(cloud, seed)
        self.error, self.failures = error, failures

    def with_seed(self, seed: int) -> _Flaky:
        twin = _Flaky(self.cloud, self.error, 0, seed)
        twin.parent = self
        return twin

    def run(self, pubs, *, shots=None):
        owner = getattr(self, "parent", self)
        if owner.failures > 0:
            owner.failures -= 1
            raise owner.error
        return super().run(pubs, shots=shots)


class _HTTPError(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


def _quiet_sleeps(monkeypatch) -> list[float]:
    waits: list[float] = []
    import qiskit_natural_qnn.execution.jobs as jobs

    monkeypatch.setattr(jobs.time, "sleep", waits.append)
    return waits


@pytest.mark.parametrize("error", [ConnectionError("reset by peer"), TimeoutError("slow"), _HTTPError(503)])
def test_transient_submission_errors_are_retried_with_backoff(monkeypatch, error):
    waits = _quiet_sleeps(monkeypatch)
    flaky = _Flaky(FakeCloud(), error, failures=2)
    baseline = _predict(CloudSampler(FakeCloud()), seed=5)
    got = _predict(flaky, seed=5)
    _same(got, baseline)
    assert waits == [2.0, 4.0]  # exponential backoff, then success on the third attempt


def test_retries_give_up_after_the_policy_and_say_so(monkeypatch):
    waits = _quiet_sleeps(monkeypatch)
    flaky = _Flaky(FakeCloud(), ConnectionError("network down"), failures=100)
    with pytest.raises(
        ExecutionError, match=r"hidden layer 1 after 4 attempts failed \(ConnectionError: network down\)"
    ):
        _predict(flaky, seed=5)
    assert waits == [2.0, 4.0, 8.0]


def test_permanent_submission_errors_are_not_retried(monkeypatch):
    waits = _quiet_sleeps(monkeypatch)
    flaky = _Flaky(FakeCloud(), _HTTPError(401), failures=1)
    with pytest.raises(ExecutionError, match=r"the sampler job for hidden layer 1 failed \(_HTTPError: HTTP 401\)"):
        _predict(flaky, seed=5)
    assert waits == []


def test_a_failed_job_is_reported_with_its_job_id():
    cloud = FakeCloud(lose_connection_on=1)
    with pytest.raises(ExecutionError, match=r"hidden layer 1 \(job job-001\) failed \(ConnectionError"):
        _predict(CloudSampler(cloud), seed=5)


# ------------------------------------------------------------------ validated on read
def _record_file(tmp_path, jobs):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"format": RECORD_FORMAT, "version": 1, "header": {"seed": 1}, "jobs": jobs}))
    return path


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"status": "done"}, r"has no 'digest'"),
        ({"digest": "d", "status": "finished"}, r"has status 'finished', expected one of submitted, done"),
        ({"digest": "d", "status": "done", "shots": "15"}, r"has shots '15', expected int"),
        ({"digest": "d", "status": "done", "seed": -1}, r"has seed -1, outside \[0, 2\*\*64\)"),
        ({"digest": "d", "status": "done", "job_id": 7}, r"has job_id 7, expected str or null"),
    ],
)
def test_a_run_record_with_a_malformed_job_is_refused(tmp_path, entry, problem):
    with pytest.raises(DamagedFileError, match=rf"run record '.*run\.json' is corrupt: job 'h1/0' {problem}"):
        RunRecord(_record_file(tmp_path, {"h1/0": entry}))


def test_a_results_archive_with_wrong_shapes_runs_the_job_again(tmp_path):
    """An archive whose bits disagree with their bit count is refused (DamagedFileError), so the job runs again."""
    path = _record_file(tmp_path, {"h1/0": {"digest": "d", "status": "done", "results_file": "h1_0.npz"}})
    (tmp_path / "run.json.results").mkdir()
    np.savez(
        tmp_path / "run.json.results" / "h1_0.npz",
        digest=np.asarray("d"),
        p0__shape=np.asarray([2]),
        p0__h__bits=np.zeros((2, 5, 3), dtype=np.uint8),  # 3 bytes per shot for 4 bits
        p0__h__num_bits=np.asarray(4),
    )
    with pytest.warns(UserWarning, match=r"results archive '.*h1_0\.npz' is damaged: publication 0, register 'h'"):
        assert RunRecord(path).reuse("h1/0", "d") is None


class _CancellableJob(_Job):
    def __init__(self, job_id: str, result, lost: bool) -> None:
        super().__init__(job_id, result, lost)
        self.cancelled = False

    def done(self) -> bool:
        return not self._lost

    def cancel(self) -> None:
        self.cancelled = True


class CancellableCloudSampler(CloudSampler):
    """Like CloudSampler, but its jobs can be cancelled (and the lost one reports itself unfinished)."""

    jobs: list = []

    def with_seed(self, seed: int) -> CancellableCloudSampler:
        return CancellableCloudSampler(self.cloud, seed)

    def run(self, pubs, *, shots=None):
        job = super().run(pubs, shots=shots)
        job = _CancellableJob(job._id, job._result, job._lost)
        CancellableCloudSampler.jobs.append(job)
        return job


def test_a_job_cancelled_after_a_failure_is_submitted_again_on_resume(tmp_path):
    """A failure cancels the unfinished jobs; the record marks them, so a resume pays for them again
    instead of failing to fetch a cancelled job."""
    path = tmp_path / "run.json"
    CancellableCloudSampler.jobs = []
    clean = _predict(CloudSampler(FakeCloud()), seed=4)
    cloud = FakeCloud(lose_connection_on=2)
    with pytest.raises(ExecutionError, match=r"hidden layer 2 \(job job-002\) failed"):
        _predict(CancellableCloudSampler(cloud), seed=4, record=RunRecord(path, fetch_job=cloud.fetch))
    assert [job.cancelled for job in CancellableCloudSampler.jobs] == [False, True]
    entries = json.loads(path.read_text())["jobs"]
    assert entries["h1/0"]["status"] == "done" and entries["h2/0"]["status"] == "cancelled"
    cloud.lose_connection_on = None
    resumed = _predict(CancellableCloudSampler(cloud), record=RunRecord(path, fetch_job=cloud.fetch))
    assert cloud.fetches == 0 and cloud.submissions == 4  # layer 1 reused, layers 2 and 3 submitted
    _same(clean, resumed)
