"""Output paths: checked before any work, never written through a link, confined to their folder.

Every ``qnqnn`` output option (``--out``, ``--results-dir``, ``--record``, ``--output``, ``--plot``)
that names a file where a folder is expected (or the reverse), lies under a file, in an unwritable
folder or on a full disk is a typed error with exit status 2 before the command does any work: the
work functions are replaced by one that fails the test if called. Every writer of the library goes
through :func:`qiskit_natural_qnn.io.files.write_atomic`, which refuses a destination that is a
symbolic link; each writer is tried on a planted link whose target must stay untouched.
"""

from __future__ import annotations

import errno
import math
import os
import tempfile
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch
from qiskit.primitives import BitArray, DataBin, PrimitiveResult, SamplerPubResult

from qiskit_natural_qnn import ConfigurationError, DamagedFileError, NaturalQNN, TrainConfig, fit
from qiskit_natural_qnn.cli.app import main
from qiskit_natural_qnn.data import Dataset, MNISTSplit
from qiskit_natural_qnn.execution.records import RunRecord
from qiskit_natural_qnn.experiments.sweep import SweepSettings, grid_points, run_sweep
from qiskit_natural_qnn.io import files
from qiskit_natural_qnn.io.files import check_output_path, remove_stale_temporaries, safe_output_path, write_atomic
from qiskit_natural_qnn.io.model_files import save_model
from qiskit_natural_qnn.training import History
from qiskit_natural_qnn.training.checkpoint import write_checkpoint
from tests.records import fake_record

PRECIOUS = b"precious: must never be overwritten"


def _work_started(*args, **kwargs):
    raise AssertionError("the command started its work before checking its output path")


# ------------------------------------------------------------------------------- check_output_path
def test_a_new_nested_path_is_accepted_and_nothing_is_created(tmp_path) -> None:
    path = tmp_path / "a" / "b" / "model.safetensors"
    assert check_output_path(path) == path
    assert check_output_path(tmp_path / "c" / "d", kind="dir") == tmp_path / "c" / "d"
    assert sorted(tmp_path.iterdir()) == []  # neither the folders nor the probe file remain


@pytest.mark.parametrize(
    ("setup", "kind", "match"),
    [
        ("file", "dir", r"--opt '.*x' is an existing file, expected a folder; pass a folder path"),
        ("folder", "file", r"--opt '.*x' is a folder, expected a file; pass a file path"),
        ("link", "file", r"is a symbolic link; the library never writes through a link"),
        ("broken link", "dir", r"is a broken symbolic link"),
        ("under a file", "file", r"cannot be created: '.*blocker' is a file, not a folder"),
        ("under a file", "dir", r"cannot be created: '.*blocker' is a file, not a folder"),
    ],
)
def test_wrong_kinds_of_path_are_refused(tmp_path, setup, kind, match) -> None:
    path = tmp_path / "x"
    if setup == "file":
        path.write_bytes(b"")
    elif setup == "folder":
        path.mkdir()
    elif setup == "link":
        (tmp_path / "target").write_bytes(PRECIOUS)
        path.symlink_to(tmp_path / "target")
    elif setup == "broken link":
        path.symlink_to(tmp_path / "nowhere")
    else:
        (tmp_path / "blocker").write_bytes(b"")
        path = tmp_path / "blocker" / "sub" / "x"
    with pytest.raises(ConfigurationError, match=match):
        check_output_path(path, kind=kind, option="--opt")


def _fail_probe(monkeypatch, err: int) -> None:
    """Make the probe file of check_output_path fail with ``err`` (as an unwritable folder or a full disk does)."""
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if str(kwargs.get("prefix", "")).startswith(".qnqnn-probe"):
            raise OSError(err, os.strerror(err))
        return real(*args, **kwargs)

    monkeypatch.setattr(files.tempfile, "mkstemp", mkstemp)


def _full_disk(monkeypatch) -> None:
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: usage(10**9, 10**9, 0))


@pytest.mark.parametrize(
    ("failure", "match"),
    [
        (errno.EACCES, r"--opt '.*': the folder '.*' is not writable \(Permission denied\); pass a writable path"),
        (errno.EROFS, r"is not writable \(Read-only file system\)"),
        (errno.ENOSPC, r"the disk of '.*' is full \(No space left on device\); free some space"),
        ("statvfs", r"the disk of '.*' is full \(0\.0 MiB free, at least 16 MiB needed\)"),
    ],
)
def test_unwritable_folders_and_full_disks_are_refused(tmp_path, monkeypatch, failure, match) -> None:
    if failure == "statvfs":
        _full_disk(monkeypatch)
    else:
        _fail_probe(monkeypatch, failure)
    for kind in ("file", "dir"):
        with pytest.raises(ConfigurationError, match=match):
            check_output_path(tmp_path / "new" / "x", kind=kind, option="--opt")


def test_a_failing_probe_write_is_a_full_disk(tmp_path, monkeypatch) -> None:
    """The probe writes 4 KiB: a disk that accepts the file but not its bytes is reported as full."""
    real_fdopen = os.fdopen

    class FullFile:
        def __init__(self, fd, mode):
            self.f = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def flush(self):
            pass

    monkeypatch.setattr(files.os, "fdopen", FullFile)
    with pytest.raises(ConfigurationError, match=r"is full \(No space left on device\)"):
        check_output_path(tmp_path / "x")
    monkeypatch.undo()
    assert sorted(tmp_path.iterdir()) == []  # the probe file was removed


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ConfigurationError, match=r"is not writable"):
            check_output_path(folder / "x")
    finally:
        folder.chmod(0o700)


# ------------------------------------------------------------------------------------ the commands
COMMANDS = {
    # name: (argv with PATH for the output, the function that starts the work, kind of the output)
    "train --out": (["train", "--hidden", "4", "--device", "cpu", "--out", "PATH"], "cli.train.fit", "dir"),
    "sweep --results-dir": (
        ["sweep", "--param", "a", "--values", "0", "--results-dir", "PATH"],
        "cli.experiments.run_sweep",
        "dir",
    ),
    "sweep --report": (
        ["sweep", "--param", "a", "--report", "--results-dir", "PATH"],
        "cli.experiments.scan_records",
        "dir",
    ),
    "noise-sweep --out": (
        ["noise-sweep", "m.safetensors", "--backend", "fake_perth", "--images", "0", "--out", "PATH"],
        "cli.hardware.load_model",
        "dir",
    ),
    "borderline --plot": (["borderline", "m.safetensors", "--plot", "PATH"], "cli.hardware.load_model", "file"),
    "evaluate --record": (
        ["evaluate", "m.safetensors", "--backend", "aer", "--record", "PATH"],
        "cli.evaluate.load_model",
        "file",
    ),
    "circuit --output": (
        ["circuit", "m.safetensors", "--image", "0", "--output", "PATH"],
        "cli.circuits.load_model",
        "file",
    ),
}
CASES = ["wrong kind", "under a file", "unwritable", "full disk", "full disk (probe)"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_output_option_is_checked_before_any_work(tmp_path, monkeypatch, capsys, command, case) -> None:
    argv, work, kind = COMMANDS[command]
    module, name = work.rsplit(".", 1)
    monkeypatch.setattr(f"qiskit_natural_qnn.{module}.{name}", _work_started)
    path = tmp_path / "x"
    if case == "wrong kind":
        path.write_bytes(PRECIOUS) if kind == "dir" else path.mkdir()
        expected = "is an existing file, expected a folder" if kind == "dir" else "is a folder, expected a file"
    elif case == "under a file":
        (tmp_path / "blocker").write_bytes(b"")
        path = tmp_path / "blocker" / "x"
        expected = "is a file, not a folder"
    elif case == "unwritable":
        _fail_probe(monkeypatch, errno.EACCES)
        expected = "is not writable"
    elif case == "full disk":
        _full_disk(monkeypatch)
        expected = "is full"
    else:
        _fail_probe(monkeypatch, errno.ENOSPC)
        expected = "is full"
    option = next(a for a in argv if a.startswith("--") and argv[argv.index(a) + 1] == "PATH")
    assert main([str(path) if a == "PATH" else a for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {option} ") and expected in err and "Traceback" not in err, err
    if case == "wrong kind" and kind == "dir":
        assert path.read_bytes() == PRECIOUS


@pytest.mark.parametrize("bad", ["file", "link"])
def test_a_record_whose_results_folder_is_a_file_or_a_link_is_refused_before_any_work(
    tmp_path, monkeypatch, capsys, bad
) -> None:
    monkeypatch.setattr("qiskit_natural_qnn.cli.evaluate.load_model", _work_started)
    results = tmp_path / "r.json.results"
    if bad == "file":
        results.write_bytes(PRECIOUS)
    else:
        (tmp_path / "elsewhere").mkdir()
        results.symlink_to(tmp_path / "elsewhere")
    assert main(["evaluate", "m.safetensors", "--backend", "aer", "--record", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "--record results folder" in err and ("existing file" if bad == "file" else "symbolic link") in err


def test_the_default_sweep_folder_is_checked_too(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("qiskit_natural_qnn.cli.experiments.run_sweep", _work_started)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweeps").write_bytes(b"")  # where the default results folder would go
    assert main(["sweep", "--param", "a", "--values", "0", "--hidden", "8"]) == 2
    assert "error: --results-dir 'sweeps/a-8x1-e100' cannot be created: 'sweeps' is a file" in capsys.readouterr().err


# ------------------------------------------------------------------- nothing written through a link
def _result() -> PrimitiveResult:
    bits = BitArray(np.zeros((2, 5, 1), dtype=np.uint8), 3)
    return PrimitiveResult([SamplerPubResult(DataBin(h=bits, shape=(2,)))])


def _figure():
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([0, 1])
    return fig


def _write_figure(path: Path) -> None:
    pytest.importorskip("matplotlib")
    from qiskit_natural_qnn.experiments.plots import save_figure

    save_figure(_figure(), path)


def _write_record_results(path: Path) -> None:
    """A planted link in ``r.json.results/``: the rerun of a run record must not write through it."""
    record = path.parent / "r.json"
    RunRecord(record).finished("h1/0", "d", _result())  # the first run writes h1_0.npz
    rerun = RunRecord(record)
    real = path.parent / "r.json.results" / "h1_0.npz"
    real.unlink()
    real.symlink_to(path.resolve())  # planted while the rerun goes on
    rerun.finished("h1/0", "d", _result())


def _history() -> History:
    return History(config=TrainConfig(epochs=1), spec={}, layer_sizes=[2, 2], seed=0, version="x")


WRITERS = {
    "model file": lambda p: save_model(NaturalQNN(layer_sizes=[3, 2, 2], seed=0), p),
    "checkpoint": lambda p: write_checkpoint(p, {"x": torch.zeros(2)}, {"note": 1}),
    "history.json": lambda p: _history().to_json(p),
    "sweep record": lambda p: fake_record().to_json(p),
    "run record": lambda p: RunRecord(p).start({"seed": 1}),
    "results archive": _write_record_results,
    "figure": _write_figure,
    "write_atomic": lambda p: write_atomic(p, b"new"),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_no_writer_writes_through_a_link(tmp_path, writer) -> None:
    victim = tmp_path / "victim.bin"
    victim.write_bytes(PRECIOUS)
    link = tmp_path / ("out.safetensors" if writer in ("model file", "checkpoint") else "out.json")
    if writer == "figure":
        link = tmp_path / "out.png"
    if writer != "results archive":
        link.symlink_to(victim)
    with pytest.raises(ConfigurationError, match=r"symbolic link"):
        WRITERS[writer](victim if writer == "results archive" else link)
    assert victim.read_bytes() == PRECIOUS
    if writer != "results archive":
        assert link.is_symlink()


def test_a_results_folder_that_is_a_link_or_a_file_is_refused(tmp_path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "r.json.results").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigurationError, match=r"r\.json\.results' is a symbolic link"):
        RunRecord(tmp_path / "r.json")
    (tmp_path / "r.json.results").unlink()
    (tmp_path / "r.json.results").write_bytes(PRECIOUS)
    with pytest.raises(DamagedFileError, match=r"the results folder '.*r\.json\.results' of run record .* is a file"):
        RunRecord(tmp_path / "r.json")
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == []


def test_writes_are_confined_to_their_folder(tmp_path) -> None:
    (tmp_path / "inside").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "inside" / "sub").symlink_to(tmp_path / "outside")
    with pytest.raises(ConfigurationError, match=r"outside '.*inside': a link on the way leads elsewhere"):
        write_atomic(tmp_path / "inside" / "sub" / "x.npz", b"data", confine_to=tmp_path / "inside")
    assert list((tmp_path / "outside").iterdir()) == []
    assert write_atomic(tmp_path / "inside" / "y.npz", b"ok", confine_to=tmp_path / "inside").read_bytes() == b"ok"


@pytest.mark.parametrize("name", ["../x.npz", "/etc/x", "a/b", "", ".", "..", "x\0y"])
def test_safe_output_path_takes_plain_names_only(tmp_path, name) -> None:
    with pytest.raises(ConfigurationError, match=r"is not a plain file name"):
        safe_output_path(tmp_path, name)


def test_a_planted_link_in_a_sweep_is_refused_before_any_training(tmp_path, monkeypatch) -> None:
    import qiskit_natural_qnn.experiments.sweep as sweep

    monkeypatch.setattr(sweep, "run_point", _work_started)
    victim = tmp_path / "victim.json"
    victim.write_bytes(PRECIOUS)
    (tmp_path / "points").mkdir()
    points = grid_points(a=[0.0, 0.5], seeds=[0])
    (tmp_path / "points" / f"{points[1].key}.json").symlink_to(victim)
    with pytest.raises(ConfigurationError, match=r"is a symbolic link"):
        split = MNISTSplit(_toy(), _toy(), "toy")
        run_sweep(points, settings=SweepSettings(hidden=(4,)), results_dir=tmp_path, data=split, progress=False)
    assert victim.read_bytes() == PRECIOUS


# -------------------------------------------------------------------------- stale temporary files
def test_remove_stale_temporaries_removes_only_what_write_atomic_leaves(tmp_path) -> None:
    stale = [".model.safetensors.ab3_x9zq.tmp", ".history.json.00000000.tmp", ".qnqnn-probe.k2j4x_9q.tmp"]
    keep = ["model.safetensors", "notes.tmp", ".model.safetensors.tmp", ".x.toolongname.tmp", "a.json.tmp"]
    for name in stale + keep:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / ".link.abcdefgh.tmp").symlink_to(tmp_path / "model.safetensors")
    assert remove_stale_temporaries(tmp_path, names={"history.json"}) == 1
    assert remove_stale_temporaries(tmp_path, min_age_s=3600) == 0  # too young: maybe another writer's
    old = time.time() - 7200
    os.utime(tmp_path / stale[0], (old, old))
    assert remove_stale_temporaries(tmp_path, min_age_s=3600) == 1
    assert remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, ".link.abcdefgh.tmp"])
    assert remove_stale_temporaries(tmp_path / "missing") == 0


def _toy() -> Dataset:
    rng = np.random.default_rng(0)
    return Dataset(rng.random((8, 3), dtype=np.float32), rng.integers(0, 2, 8), "toy")


def test_a_killed_model_write_is_cleaned_at_the_next_run(tmp_path) -> None:
    """A kill during the model write leaves ``.model.safetensors.*.tmp``: the next fit into the folder removes it."""
    for name in (".model.safetensors.k2j4x_9q.tmp", ".history.json.abcdefgh.tmp"):
        (tmp_path / name).write_bytes(b"half a file")
    fit(NaturalQNN(layer_sizes=[3, 2, 2], seed=0), _toy(), config=TrainConfig(epochs=1, seed=0), progress=False,
        out_dir=tmp_path)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["history.json", "model.safetensors"]


def test_a_killed_record_write_is_cleaned_at_the_next_run(tmp_path) -> None:
    (tmp_path / ".r.json.k2j4x_9q.tmp").write_bytes(b"{")
    (tmp_path / "r.json.results").mkdir()
    (tmp_path / "r.json.results" / ".h1_0.npz.abcdefgh.tmp").write_bytes(b"PK")
    RunRecord(tmp_path / "r.json")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["r.json.results"]


def test_sweep_records_are_written_with_write_atomic(tmp_path, monkeypatch) -> None:
    """PointRecord.to_json used to write ``<key>.json.tmp`` by hand; a failed write now leaves nothing."""
    record = fake_record(a=0.5)
    path = tmp_path / f"{record.point.key}.json"

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        record.to_json(path)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    record.to_json(path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert math.isclose(type(record).from_json(path).a, 0.5)
