"""Sweeps that share a results folder: claims, exact keys, waiting for other drivers, shards, held-out data,
checkpoints of interrupted points and the progress bar (qiskit_natural_qnn.experiments.claims, .driver, .sweep).
Nothing here needs Dask: see tests/test_sweep_distributed.py for the clusters."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qiskit_natural_qnn.cli.experiments import add_sweep_parser, main, shard_argument
from qiskit_natural_qnn.data import MNISTSplit, load_default, take
from qiskit_natural_qnn.exceptions import ConfigurationError
from qiskit_natural_qnn.experiments import sweep
from qiskit_natural_qnn.experiments.claims import ClaimOwner, PointClaims
from qiskit_natural_qnn.experiments.holdout import holdout_split
from qiskit_natural_qnn.experiments.sweep import PointRecord, SweepPoint, SweepSettings, grid_points, run_sweep
from qiskit_natural_qnn.network import NaturalQNN
from qiskit_natural_qnn.training import TrainConfig, fit
from qiskit_natural_qnn.training.checkpoint import read_checkpoint
from tests.records import fake_record

REPO = Path(__file__).resolve().parents[1]
HALF_PI = math.pi / 2


@pytest.fixture(scope="module")
def tiny_split() -> MNISTSplit:
    full = load_default()
    return MNISTSplit(take(full.train, 64), take(full.validation, 64), "tiny claims split")


TINY = SweepSettings(hidden=(8,), config=TrainConfig(epochs=3, eval_shots=3, eval_every=1))


def _backdate(path: Path, seconds: float) -> None:
    """Make a claim look as if its owner's last heartbeat was ``seconds`` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def _fake_run_point(ran: list[str]):
    """A run_point that records which points it trained and returns made-up records."""

    def run_point(point, *, settings, data, **kwargs):
        ran.append(point.key)
        return fake_record(
            a=point.a, g=point.g, seed=point.seed, settings=settings.to_dict(), data=sweep._data_info(data)
        )

    return run_point


# ------------------------------------------------------------------------------------------- claims
def test_a_claim_is_exclusive_until_released(tmp_path) -> None:
    mine, theirs = PointClaims(tmp_path), PointClaims(tmp_path)
    claim = mine.acquire("a0.5_g0.25_s0")
    assert claim is not None and claim.generation == 0 and claim.path.is_file()
    assert mine.acquire("a0.5_g0.25_s0") == claim  # held already: the same claim
    assert theirs.acquire("a0.5_g0.25_s0") is None
    info = json.loads(claim.path.read_text())
    assert info["format"] == "qnqnn-sweep-claim" and info["pid"] == os.getpid() and info["host"]
    assert info["token"] == mine.owner.token != theirs.owner.token
    assert theirs.holder("a0.5_g0.25_s0")["token"] == mine.owner.token
    mine.release(claim)
    assert not (tmp_path / "a0.5_g0.25_s0").exists()  # every file and the point's folder are gone
    assert theirs.acquire("a0.5_g0.25_s0") is not None


def test_a_dead_claim_is_taken_over_by_exactly_one_driver(tmp_path) -> None:
    dead = PointClaims(tmp_path, timeout_s=5, owner=ClaimOwner(host="gone", pid=1, token="dead"))
    old = dead.acquire("p")
    _backdate(old.path, 60)
    contenders = [PointClaims(tmp_path, timeout_s=5) for _ in range(4)]
    won = [c.acquire("p") for c in contenders]
    winners = [w for w in won if w is not None]
    assert len(winners) == 1 and winners[0].generation == 1
    # the dead owner's release (if it ever comes back) leaves the new claim alone
    dead.release(old)
    assert winners[0].path.is_file() and contenders[0].holder("p")["generation"] == 1
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["0.claim", "1.claim"]
    owner = next(c for c, w in zip(contenders, won) if w is not None)
    owner.release(winners[0])
    assert not (tmp_path / "p").exists()


def test_the_heartbeat_keeps_a_claim_alive_and_a_taken_claim_is_reported_lost(tmp_path) -> None:
    mine = PointClaims(tmp_path, timeout_s=1.0)  # a heartbeat every 0.1 s
    claim = mine.acquire("p")
    with mine.heartbeat():
        time.sleep(1.5)  # 1.5 timeouts: only the heartbeat keeps it alive
        assert PointClaims(tmp_path, timeout_s=1.0).acquire("p") is None
    _backdate(claim.path, 10)
    other = PointClaims(tmp_path, timeout_s=1.0)
    assert other.acquire("p").generation == 1
    assert mine.refresh() == ["p"] and mine.held == []


def test_a_claim_seen_unchanged_for_the_timeout_is_stale_whatever_the_clocks_say(tmp_path) -> None:
    """A claim written by a host whose clock runs ahead looks fresh by its age; watching it unchanged decides."""
    ahead = PointClaims(tmp_path, timeout_s=0.3, owner=ClaimOwner(host="fast-clock", pid=1, token="x"))
    claim = ahead.acquire("p")
    future = time.time() + 3600
    os.utime(claim.path, (future, future))
    watcher = PointClaims(tmp_path, timeout_s=0.3)
    assert watcher.acquire("p") is None  # first sight: not stale
    time.sleep(0.5)
    assert watcher.acquire("p").generation == 1


@pytest.mark.parametrize("timeout", [0, -1, math.inf, math.nan, "600"])
def test_bad_claim_timeouts_are_refused(tmp_path, timeout) -> None:
    with pytest.raises(ConfigurationError, match=r"the claim timeout must be a positive number of seconds, got"):
        PointClaims(tmp_path, timeout_s=timeout)
    with pytest.raises(ConfigurationError, match=r"'\.\./x' is not a plain point key"):
        PointClaims(tmp_path).acquire("../x")


# --------------------------------------------------------------------------------------- exact keys
def test_exact_keys_never_mix_two_points_and_old_records_are_still_read(tmp_path, monkeypatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(sweep, "run_point", _fake_run_point(ran))
    data = MNISTSplit(take(load_default().train, 2), take(load_default().validation, 2), "two")
    half, near = SweepPoint(a=0.5, seed=0), SweepPoint(a=0.5000001, seed=0)
    assert half.legacy_key == near.legacy_key == "a0.5_g1.5708_s0" and half.key != near.key
    # a record written before exact keys, under the old 6-digit name, for a = 0.5 exactly
    (tmp_path / "points").mkdir()
    old = fake_record(a=0.5, seed=0, settings=TINY.to_dict(), data=sweep._data_info(data))
    old.to_json(tmp_path / "points" / "a0.5_g1.5708_s0.json")
    recs = run_sweep([half, near], settings=TINY, results_dir=tmp_path, data=data, progress=False)
    assert ran == [near.key]  # a = 0.5 reused its old record; a = 0.5000001 did not take it
    assert recs[0] == old and recs[1].a == 0.5000001
    assert (tmp_path / "points" / f"{near.key}.json").is_file()
    assert [r.a for r in sweep.scan_records(tmp_path).records] == [0.5, 0.5000001]
    # an old-style file of a = 0.5000001 is not a record of a = 0.5
    other = tmp_path / "other"
    (other / "points").mkdir(parents=True)
    fake_record(a=0.5000001, seed=0, settings=TINY.to_dict(), data=sweep._data_info(data)).to_json(
        other / "points" / "a0.5_g1.5708_s0.json"
    )
    ran.clear()
    run_sweep([half], settings=TINY, results_dir=other, data=data, progress=False)
    assert ran == [half.key]
    assert SweepPoint(a=-0.0, g=-0.0, seed=0).key == "a0_g0_s0"  # -0.0 is 0.0: one point, one key


# ---------------------------------------------------------------------------- drivers sharing a folder
def test_a_point_held_by_a_live_driver_is_waited_for_not_trained(tmp_path, monkeypatch, tiny_split) -> None:
    ran: list[str] = []
    monkeypatch.setattr(sweep, "run_point", _fake_run_point(ran))
    points = grid_points(a=[0.0, 0.5], seeds=[0])
    other = PointClaims(tmp_path / "claims", owner=ClaimOwner(host="elsewhere", pid=1, token="live"))
    held = other.acquire(points[0].key)
    record = fake_record(a=0.0, seed=0, settings=TINY.to_dict(), data=sweep._data_info(tiny_split))

    def other_driver_finishes() -> None:
        time.sleep(1.5)
        record.to_json(tmp_path / "points" / f"{points[0].key}.json")
        other.release(held)

    thread = threading.Thread(target=other_driver_finishes)
    thread.start()
    recs = run_sweep(points, settings=TINY, results_dir=tmp_path, data=tiny_split, progress=False)
    thread.join()
    assert ran == [points[1].key] and recs[0] == record
    assert not (tmp_path / "claims").exists() and not (tmp_path / "checkpoints").exists()


def test_a_group_task_holds_only_the_points_this_driver_claimed(tmp_path) -> None:
    """group=K: a point held by another driver stays out of this driver's tasks, then is waited for."""
    from qiskit_natural_qnn.exceptions import ExecutionError
    from qiskit_natural_qnn.experiments.driver import SerialRunner, run_claimed

    done: dict[str, int] = {}
    tasks: list[list[str]] = []

    def task(items, data, *, scale):
        tasks.append(list(items))
        return [len(item) * scale for item in items]

    keys = ["p1", "p2", "p3", "p4", "p5"]
    claims = PointClaims(tmp_path / "claims")
    other = PointClaims(tmp_path / "claims", owner=ClaimOwner(host="elsewhere", pid=1, token="live"))
    held = other.acquire("p2")

    def other_driver_finishes() -> None:
        time.sleep(1.0)
        done["p2"] = -1
        other.release(held)

    thread = threading.Thread(target=other_driver_finishes)
    thread.start()
    runner = SerialRunner(task, items={k: k * 2 for k in keys}, data=None, kwargs={"scale": 10})
    run_claimed(
        keys, runner=runner, claims=claims, finished=lambda k: k in done, save=done.__setitem__, group=2, poll_s=0.2
    )
    thread.join()
    assert tasks == [["p1p1", "p3p3"], ["p4p4", "p5p5"]]
    assert done == {"p1": 40, "p2": -1, "p3": 40, "p4": 40, "p5": 40}
    assert not list((tmp_path / "claims").glob("*/*.claim"))
    with pytest.raises(ConfigurationError, match=r"group must be an int >= 1, got 0; pass e\.g\. group=8"):
        run_claimed(keys, runner=runner, claims=claims, finished=lambda k: True, save=done.__setitem__, group=0)
    # a task function that returns anything but one result per point is a bug: every point of the task says so
    for wrong, got in (([1], "a list of 1"), ((1, 2), "a tuple")):
        bad = SerialRunner(lambda items, data, wrong=wrong: wrong, items={"x": 1, "y": 2}, data=None, kwargs={})
        with pytest.raises(ExecutionError, match=rf"the task of points x, y returned {got}; a task function must"):
            run_claimed(["x", "y"], runner=bad, claims=claims, finished=lambda k: False, save=done.__setitem__, group=2)
        assert not list((tmp_path / "claims").glob("*/*.claim"))


class _TwoSlots:
    """A runner with two slots that runs each task when waited for, recording the tasks' sizes."""

    def __init__(self) -> None:
        self.queue: list[tuple[str, ...]] = []
        self.sizes: list[int] = []

    def slots(self) -> int:
        return 2

    def submit(self, keys) -> None:
        self.queue.append(tuple(keys))
        self.sizes.append(len(keys))

    def wait(self, timeout_s: float):
        from qiskit_natural_qnn.experiments.driver import Outcome

        done, self.queue = self.queue, []
        return [Outcome(key, 0, None) for keys in done for key in keys]

    def cancel(self) -> None:
        self.queue.clear()


def test_tasks_share_the_points_between_the_free_slots_and_a_failed_save_releases_its_claims(tmp_path) -> None:
    """10 points, 2 slots, group 8: two tasks of 5 (not 8 and 2); a save that fails leaves no claim behind."""
    from qiskit_natural_qnn.experiments.driver import run_claimed

    keys = [f"p{i}" for i in range(10)]
    runner, done = _TwoSlots(), {}
    run_claimed(
        keys,
        runner=runner,
        claims=PointClaims(tmp_path / "a"),
        finished=lambda k: k in done,
        save=done.__setitem__,
        group=8,
    )
    assert runner.sizes == [5, 5] and sorted(done) == sorted(keys)

    def broken(key, result) -> None:
        raise OSError(f"disk full while writing {key}")

    with pytest.raises(OSError, match="disk full while writing p0"):
        run_claimed(
            keys, runner=_TwoSlots(), claims=PointClaims(tmp_path / "b"), finished=lambda k: False, save=broken, group=8
        )
    assert not list((tmp_path / "b").glob("*/*.claim"))


def test_a_dead_drivers_point_is_taken_over(tmp_path, monkeypatch, tiny_split) -> None:
    ran: list[str] = []
    monkeypatch.setattr(sweep, "run_point", _fake_run_point(ran))
    point = SweepPoint(a=0.5, seed=1)
    dead = PointClaims(tmp_path / "claims", owner=ClaimOwner(host="gone", pid=1, token="dead")).acquire(point.key)
    _backdate(dead.path, 120)
    recs = run_sweep([point], settings=TINY, results_dir=tmp_path, data=tiny_split, progress=False, claim_timeout_s=60)
    assert ran == [point.key] and recs[0].a == 0.5
    assert not (tmp_path / "claims").exists()


_DRIVER = """
import json, os, sys, time
from qiskit_natural_qnn.data import MNISTSplit, load_default, take
from qiskit_natural_qnn.experiments import sweep
from qiskit_natural_qnn.training import TrainConfig

results, log, go = sys.argv[1:4]
real = sweep.run_point

def counted(point, **kwargs):
    with open(log, "a") as f:  # one short O_APPEND write per training: lines never interleave
        f.write(f"{point.key} {os.getpid()}\\n")
    time.sleep(0.4)  # a point that takes a while, so that both drivers are busy at once
    return real(point, **kwargs)

sweep.run_point = counted
full = load_default()
data = MNISTSplit(take(full.train, 64), take(full.validation, 64), "tiny")
settings = sweep.SweepSettings(hidden=(8,), config=TrainConfig(epochs=1, eval_shots=3))
points = sweep.grid_points(a=[0.0, 0.25, 0.5, 1.0], seeds=[0, 1])
print("ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.005)
records = sweep.run_sweep(points, settings=settings, results_dir=results, data=data, progress=False)
assert "distributed" not in sys.modules and "dask" not in sys.modules, "a serial sweep imported Dask"
print(json.dumps([[r.point.key, r.weights_sha256, r.val_vote_error] for r in records]), flush=True)
"""


def test_two_driver_processes_on_one_folder_train_each_point_once(tmp_path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(_DRIVER)
    log, go, results = tmp_path / "trainings.log", tmp_path / "go", tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    drivers = [
        subprocess.Popen(
            [sys.executable, str(script), str(results), str(log), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        for d in drivers:  # both imported and waiting: start them at the same moment
            assert d.stdout.readline().strip() == "ready", d.stderr.read()
        go.touch()
        outs = [d.communicate(timeout=120) for d in drivers]
    finally:
        for d in drivers:
            d.kill()
    for d, (_, err) in zip(drivers, outs):
        assert d.returncode == 0, err
    lines = [line.split() for line in log.read_text().splitlines()]
    keys = [key for key, _ in lines]
    expected = [p.key for p in grid_points(a=[0.0, 0.25, 0.5, 1.0], seeds=[0, 1])]
    assert sorted(keys) == sorted(expected), "a point was trained twice or never"
    assert len({pid for _, pid in lines}) == 2, "one driver trained every point: they did not run side by side"
    reported = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert reported[0] == reported[1] and [k for k, _, _ in reported[0]] == expected  # both return every record
    assert sorted(p.stem for p in (results / "points").iterdir()) == sorted(expected)
    assert not (results / "claims").exists()


# ------------------------------------------------------------------------------- interrupted points
class _Stop(Exception):
    pass


def test_an_interrupted_point_resumes_from_its_checkpoint(tmp_path, tiny_split) -> None:
    point = SweepPoint(a=0.3, seed=2)
    reference = sweep.run_point(point, settings=TINY, data=tiny_split)
    # the point's first run dies during epoch 2: the checkpoint of epoch 1 stays
    ckpt = tmp_path / "checkpoints" / point.key
    model = NaturalQNN(layer_sizes=[784, 8, 10], a=0.3, seed=2)

    def die_in_epoch_2(record, model):
        if record.epoch == 2:
            raise _Stop

    with pytest.raises(_Stop):
        fit(
            model,
            tiny_split.train,
            tiny_split.validation,
            config=TINY.config.replace(seed=2),
            progress=False,
            checkpoint_dir=ckpt,
            callbacks=[die_in_epoch_2],
        )
    first_epoch = read_checkpoint(ckpt).state["history"]["records"][0]
    (rec,) = run_sweep([point], settings=TINY, results_dir=tmp_path, data=tiny_split, progress=False)
    assert rec.history["records"][0] == first_epoch  # epoch 1 (its seconds too) came from the checkpoint
    assert rec.weights_sha256 == reference.weights_sha256
    for name in sweep.METRICS:
        assert rec.metric(name) == reference.metric(name)
    assert [r["loss"] for r in rec.history["records"]] == [r["loss"] for r in reference.history["records"]]
    assert not ckpt.exists()  # removed once the record is written


def test_a_damaged_checkpoint_means_starting_the_point_afresh(tmp_path, tiny_split, caplog) -> None:
    point = SweepPoint(a=0.3, seed=2)
    reference = sweep.run_point(point, settings=TINY, data=tiny_split)
    ckpt = tmp_path / "checkpoints" / point.key
    ckpt.mkdir(parents=True)
    (ckpt / "checkpoint.safetensors").write_bytes(b"not a checkpoint")
    with caplog.at_level("WARNING", logger="qiskit_natural_qnn"):
        (rec,) = run_sweep([point], settings=TINY, results_dir=tmp_path, data=tiny_split, progress=False)
    assert rec.weights_sha256 == reference.weights_sha256
    assert any(
        "cannot resume sweep point" in r.getMessage() and "starting it afresh" in r.getMessage() for r in caplog.records
    )


# ----------------------------------------------------------------------------------- progress, shards
def test_the_progress_bar_counts_every_point_and_ends_at_100_percent(tmp_path, monkeypatch, tiny_split, capsys) -> None:
    ran: list[str] = []
    monkeypatch.setattr(sweep, "run_point", _fake_run_point(ran))
    points = grid_points(a=[0.0, 0.5, 1.0], seeds=[0])
    run_sweep(points[:1], settings=TINY, results_dir=tmp_path, data=tiny_split, progress=False)
    capsys.readouterr()
    run_sweep(points, settings=TINY, results_dir=tmp_path, data=tiny_split, progress=True)
    err = capsys.readouterr().err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "1/3" in err.replace("\r", "\n").splitlines()[1]  # it starts with the finished point counted
    assert last.startswith("sweep: 100%") and "3/3" in last and "running=0" in last, last
    assert "of 3 done" not in err


def test_shards_split_a_grid_into_disjoint_parts(tmp_path, monkeypatch, tiny_split) -> None:
    grid = grid_points(a=[0.0, 0.25, 0.5], seeds=[0, 1, 2])
    shards = [sweep.shard_points(grid, index=i, count=4) for i in range(4)]
    assert sorted(p.key for s in shards for p in s) == sorted(p.key for p in grid)
    assert [len(s) for s in shards] == [3, 2, 2, 2]
    with pytest.raises(ConfigurationError, match=r"a shard is i/n with n >= 1 and 0 <= i < n, got 4/4"):
        sweep.shard_points(grid, index=4, count=4)
    ran: list[str] = []
    monkeypatch.setattr(sweep, "run_point", _fake_run_point(ran))
    recs = run_sweep(grid, settings=TINY, results_dir=tmp_path, data=tiny_split, progress=False, shard=(1, 4))
    assert [r.point for r in recs] == shards[1] and ran == [p.key for p in shards[1]]
    assert shard_argument("3/4") == (3, 4)
    for bad in ("4/4", "-1/4", "1", "a/b", "1/0"):
        with pytest.raises(Exception, match=r"a shard is I/N with 0 <= I < N"):
            shard_argument(bad)


def test_holdout_trains_on_the_first_images_and_validates_on_the_last(tmp_path, monkeypatch, capsys) -> None:
    full = load_default()
    split = holdout_split(MNISTSplit(take(full.train, 100), full.validation, "x"), 20)
    assert (len(split.train.labels), len(split.validation.labels)) == (80, 20)
    assert (split.validation.images == full.train.images[80:100]).all() and split.validation.name.endswith("[80:100]")
    with pytest.raises(ConfigurationError, match=r"the held-out images must be an int from 1 to 99 .* got 100"):
        holdout_split(MNISTSplit(take(full.train, 100), full.validation, "x"), 100)
    ran: list[str] = []
    monkeypatch.setattr(sweep, "run_point", _fake_run_point(ran))
    out = tmp_path / "study"
    argv = [
        "sweep",
        "--param",
        "a",
        "--values",
        "0.5",
        "--seeds",
        "1",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--limit",
        "50",
        "--holdout",
        "10",
        "--results-dir",
        str(out),
        "--no-plots",
        "--no-progress",
    ]
    assert main(argv) == 0
    (rec,) = sweep.load_records(out)
    assert (rec.data["n_train"], rec.data["n_validation"]) == (40, 10)
    assert rec.data["validation"] == "default-train[:50][40:50]" and "held out" in capsys.readouterr().out


def test_sweep_parallel_options_parse_and_conflicts_are_refused(tmp_path, monkeypatch, capsys) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="qnqnn")
    add_sweep_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sweep", "--param", "a", "--values", "0"])
    assert (args.workers, args.threads_per_worker, args.scheduler, args.shard, args.claim_timeout) == (
        1,
        None,
        None,
        None,
        600.0,
    )
    args = parser.parse_args(
        ["sweep", "--param", "a", "--values", "0", "--workers", "4", "--shard", "1/3", "--tag", "x"]
    )
    assert (args.workers, args.shard, args.tag) == (4, (1, 3), "x")
    base = [
        "sweep",
        "--param",
        "a",
        "--values",
        "0",
        "--seeds",
        "1",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--results-dir",
        str(tmp_path),
        "--no-plots",
        "--no-progress",
    ]
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    assert main([*base, "--workers", "2"]) == 2
    assert (
        "--workers 2 starts a local cluster, but $DASK_SCHEDULER_ADDRESS names the cluster at tcp://127.0.0.1:1"
        in capsys.readouterr().err
    )
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    assert main([*base, "--scheduler", "127.0.0.1:8786"]) == 2
    assert (
        "--scheduler must be a scheduler address such as tcp://HOST:PORT, got '127.0.0.1:8786'"
        in capsys.readouterr().err
    )
    assert main([*base, "--claim-timeout", "0"]) == 2
    assert "the claim timeout must be a positive number of seconds, got 0.0" in capsys.readouterr().err


def test_records_carry_a_weights_digest_that_is_checked_on_read(tmp_path, tiny_split) -> None:
    rec = sweep.run_point(SweepPoint(a=0.5, seed=0), settings=TINY, data=tiny_split)
    assert len(rec.weights_sha256) == 64
    path = tmp_path / f"{rec.point.key}.json"
    rec.to_json(path)
    assert PointRecord.from_json(path) == rec
    doc = rec.to_dict()
    doc.pop("weights_sha256")  # a record written before the digest existed
    assert PointRecord.from_dict(doc).weights_sha256 is None
    doc["weights_sha256"] = "XYZ"
    with pytest.raises(Exception, match=r"weights_sha256 must be 64 lowercase hex digits or null, got 'XYZ'"):
        PointRecord.from_dict(doc)


def test_workers_checkpoint_only_where_they_see_the_drivers_folder(tmp_path) -> None:
    root = tmp_path / "checkpoints"
    root.mkdir()
    assert sweep._checkpoint_dir(str(root), ".sweep-abc", "k") is None  # a folder of that name, not the driver's
    (root / ".sweep-abc").write_bytes(b"")
    assert sweep._checkpoint_dir(str(root), ".sweep-abc", "k") == root / "k"
    assert sweep._checkpoint_dir(str(tmp_path / "elsewhere"), ".sweep-abc", "k") is None
