"""Sweeps on Dask clusters (qiskit_natural_qnn.experiments.distributed, ``qnqnn sweep --workers/--scheduler``):
the same record wherever a point runs, a real scheduler and two worker processes started by the test, and a
worker killed in the middle of a point. Every Dask component listens on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed", reason="the [dask] extra (dask.distributed) is not installed")

from qiskit_natural_qnn.cli.experiments import main  # noqa: E402
from qiskit_natural_qnn.data import MNISTSplit, load_default, take  # noqa: E402
from qiskit_natural_qnn.exceptions import ConfigurationError  # noqa: E402
from qiskit_natural_qnn.experiments import sweep  # noqa: E402
from qiskit_natural_qnn.experiments.distributed import connect, local_cluster  # noqa: E402
from qiskit_natural_qnn.experiments.sweep import SweepPoint, SweepSettings, run_point, run_sweep  # noqa: E402
from qiskit_natural_qnn.io import load_model  # noqa: E402
from qiskit_natural_qnn.training import TrainConfig  # noqa: E402
from qiskit_natural_qnn.training.checkpoint import read_checkpoint  # noqa: E402
from tests.records import comparable  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class _Cluster:
    """A `dask scheduler` and two `dask worker` processes, started by the test; workers are awaited on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen] = []
        self._ready = False

    def start(self) -> None:
        address_file = self.folder / "scheduler.json"
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        env.pop("DASK_SCHEDULER_ADDRESS", None)
        common = {"cwd": self.folder, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        dask = [sys.executable, "-m", "dask"]
        scheduler = [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
        self.procs.append(subprocess.Popen([*scheduler, "--scheduler-file", str(address_file)], **common))
        deadline = time.monotonic() + 60
        while True:  # the scheduler writes its address (on a free port) once it listens
            with contextlib.suppress(OSError, ValueError, KeyError):
                self.address = json.loads(address_file.read_text())["address"]
                break
            assert time.monotonic() < deadline and self.procs[0].poll() is None, "the dask scheduler did not start"
            time.sleep(0.05)
        assert self.address.startswith("tcp://127.0.0.1:")
        # no nanny: a killed worker stays dead, and the test knows every process it started. The workers import
        # the package while the first test runs its serial and local-cluster sweeps.
        worker = [
            *dask,
            "worker",
            self.address,
            "--host",
            "127.0.0.1",
            "--nthreads",
            "1",
            "--no-dashboard",
            "--no-nanny",
            "--preload",
            "qiskit_natural_qnn.experiments.sweep",
        ]
        self.procs += [subprocess.Popen([*worker, "--name", f"w{i}"], **common) for i in range(2)]

    def ready(self) -> str:
        """The scheduler's address, once both workers have joined."""
        if not self._ready:
            with distributed.Client(self.address, timeout=30) as client:
                client.wait_for_workers(2, timeout=120)
            self._ready = True
        return self.address

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A real multi-process Dask cluster on 127.0.0.1, stopped (every process killed) after the module's tests."""
    running = _Cluster(tmp_path_factory.mktemp("dask"))
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.mark.slow
def test_a_point_gives_the_same_record_serially_on_local_workers_and_on_remote_workers(tmp_path, cluster) -> None:
    argv = [
        "sweep",
        "--param",
        "a",
        "--values",
        "0.3,0.5,0.7,0.9",
        "--seeds",
        "1",
        "--first-seed",
        "4",
        "--hidden",
        "8",
        "--epochs",
        "2",
        "--eval-every",
        "1",
        "--shots",
        "3",
        "--limit",
        "64",
        "--no-plots",
        "--no-progress",
    ]
    runs = {
        "serial": lambda: ["--save-models"],
        "local": lambda: ["--workers", "2"],
        "remote": lambda: ["--scheduler", cluster.ready(), "--save-models"],
        "ensemble": lambda: ["--scheduler", cluster.ready(), "--ensemble", "2"],  # two tasks of two points
    }
    records = {}
    for name, extra in runs.items():
        assert main([*argv, "--results-dir", str(tmp_path / name), *extra()]) == 0
        records[name] = sweep.load_records(tmp_path / name)
    assert len(records["serial"]) == 4 and all(len(r) == 4 for r in records.values())
    for serial, local, remote, ensemble in zip(*(records[name] for name in runs)):
        assert serial.weights_sha256 == local.weights_sha256 == remote.weights_sha256 == ensemble.weights_sha256
        assert comparable(serial) == comparable(local) == comparable(remote) == comparable(ensemble)
    # they did run elsewhere: in this process, in two local worker processes, in the two remote workers
    remote_pids = {p.pid for p in cluster.procs[1:]}
    assert {r.host["pid"] for r in records["serial"]} == {os.getpid()}
    assert os.getpid() not in {r.host["pid"] for r in records["local"]}
    assert {r.host["pid"] for r in records["remote"]} <= remote_pids
    ensemble_pids = [r.host["pid"] for r in records["ensemble"]]
    assert set(ensemble_pids) <= remote_pids
    assert all(ensemble_pids.count(pid) % 2 == 0 for pid in ensemble_pids)  # points ran two by two, in one task each
    # the models came back from the workers too; the checkpoints and claims of finished points are gone
    for name in ("serial", "remote"):
        for rec in records[name]:
            model = load_model(tmp_path / name / "models" / rec.point.key / "model.safetensors")
            assert sweep.weights_digest(model) == rec.weights_sha256
            assert (tmp_path / name / "models" / rec.point.key / "history.json").is_file()
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == ["models", "points"]


_KILL_SETTINGS = SweepSettings(hidden=(64,), config=TrainConfig(epochs=40, eval_shots=3, eval_every=40))


def _kill_split() -> MNISTSplit:
    full = load_default()
    return MNISTSplit(take(full.train, 512), take(full.validation, 64), "kill test split")


def _sweep_and_kill_a_worker(client, points, results_dir: Path, data: MNISTSplit) -> tuple:
    """Run a sweep on ``client`` in a thread; kill the worker of a point that has checkpointed but has no record.

    Returns:
        ``(records, killed point, the first epoch's history record in its checkpoint at the kill)``.
    """
    outcome: dict = {}

    def sweep_in_background() -> None:
        try:
            outcome["records"] = run_sweep(
                points, settings=_KILL_SETTINGS, results_dir=results_dir, data=data, client=client, progress=False
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcome["error"] = exc

    thread = threading.Thread(target=sweep_in_background)
    thread.start()
    killed = first_epoch = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        for worker, tasks in client.processing().items():
            for p in points:
                checkpoint = results_dir / "checkpoints" / p.key / "checkpoint.safetensors"
                running = any(str(t).startswith(f"qnqnn-point-{p.key}-") for t in tasks)
                if running and checkpoint.is_file() and not (results_dir / "points" / f"{p.key}.json").exists():
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)  # mid-point: some epochs checkpointed, no record yet
                    killed = p
                    first_epoch = read_checkpoint(checkpoint.parent).state["history"]["records"][0]
                    break
            if killed is not None:
                break
        time.sleep(0.02)
    thread.join(timeout=180)
    assert killed is not None, "no point was caught running with a checkpoint"
    assert "error" not in outcome, outcome.get("error")
    return outcome["records"], killed, first_epoch


def _check_resumed(records, killed: SweepPoint, first_epoch: dict, data: MNISTSplit) -> None:
    """The killed point's record is bit for bit an uninterrupted run's, and it resumed from its checkpoint."""
    reference = run_point(killed, settings=_KILL_SETTINGS, data=data)
    redone = next(r for r in records if r.point == killed)
    assert redone.weights_sha256 == reference.weights_sha256
    assert redone.history["records"][0] == first_epoch  # epoch 1, its seconds too, came from the checkpoint
    assert comparable(redone) == comparable(reference)


@pytest.mark.slow
def test_a_worker_killed_in_the_middle_of_a_point_loses_only_that_point(tmp_path, cluster, monkeypatch) -> None:
    data = _kill_split()
    points = [SweepPoint(a=0.3, seed=0), SweepPoint(a=0.5, seed=0)]
    with connect(cluster.ready()) as client:
        records, killed, first_epoch = _sweep_and_kill_a_worker(client, points, tmp_path, data)
        assert len(client.nthreads()) == 1  # the killed worker is gone: the other one finished both points
    assert [r.point for r in records] == points
    _check_resumed(records, killed, first_epoch, data)
    # a rerun trains nothing: every point has its record
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "points").iterdir()}

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished point ran again")

    monkeypatch.setattr(sweep, "run_point", must_not_run)
    again = run_sweep(points, settings=_KILL_SETTINGS, results_dir=tmp_path, data=data, progress=False)
    assert again == records
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "points").iterdir()} == stamps
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.slow
def test_a_point_whose_data_died_with_the_only_worker_is_sent_again(tmp_path, caplog) -> None:
    """--workers 1 cluster: the killed worker held the only copy of the data; its nanny restarts it."""
    data = _kill_split()
    with caplog.at_level("WARNING", logger="qiskit_natural_qnn"), local_cluster(workers=1) as client:
        records, killed, first_epoch = _sweep_and_kill_a_worker(client, [SweepPoint(a=0.7, seed=3)], tmp_path, data)
    assert any("scattering the data again and resubmitting it" in r.getMessage() for r in caplog.records)
    _check_resumed(records, killed, first_epoch, data)


def test_an_error_on_a_worker_reaches_the_driver_and_releases_the_claim(tmp_path, cluster) -> None:
    data = MNISTSplit(take(load_default().train, 64), take(load_default().validation, 64), "tiny")
    settings = SweepSettings(hidden=(16, 8), config=TrainConfig(epochs=1))  # Method 2 needs equal widths
    with connect(cluster.ready()) as client:
        with pytest.raises(ConfigurationError, match=r"all hidden widths must be equal, got \[16, 8\]"):
            run_sweep(
                [SweepPoint(a=0.0, g=0.5)],
                settings=settings,
                results_dir=tmp_path,
                data=data,
                client=client,
                progress=False,
            )
    assert not (tmp_path / "claims").exists() and list((tmp_path / "points").iterdir()) == []


def test_the_local_cluster_and_the_scheduler_address_are_checked() -> None:
    with pytest.raises(ConfigurationError, match=r"workers must be an int >= 1, got 0; pass e\.g\. workers=2"):
        with local_cluster(workers=0):
            pass
    with pytest.raises(ConfigurationError, match=r"no Dask scheduler answers at 'tcp://127\.0\.0\.1:9' \("):
        with connect("tcp://127.0.0.1:9", timeout_s=0.5):
            pass
