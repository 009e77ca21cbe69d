"""Resumable training: a run interrupted anywhere and resumed ends exactly like an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from qiskit_natural_qnn import ConfigurationError, DamagedFileError, NaturalQNN, TrainConfig, fit
from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.training.checkpoint import CHECKPOINT_FILE, read_checkpoint, write_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: faster on a loaded machine, and the same arithmetic in every run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(n: int = 50, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(rng.random((n, 6), dtype=np.float32), rng.integers(0, 3, n), "toy")


def _net(**kw) -> NaturalQNN:
    return NaturalQNN(layer_sizes=[6, 5, 5, 3], a=0.5, g=1.0, seed=0, **kw)


_CONFIG = TrainConfig(epochs=3, batch_size=8, eval_shots=3, eval_every=2, seed=1, schedule="cosine")


def _records(history) -> list[dict]:
    return [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in history.records]


class _Crash(Exception):
    pass


def _crash_after(steps: int):
    """A step hook that raises once ``steps`` optimizer steps are done (its first call is before step 1)."""
    calls = [0]

    def hook(model):
        calls[0] += 1
        if calls[0] == steps + 1:
            raise _Crash

    return hook


@pytest.fixture(scope="module")
def reference(_one_thread) -> tuple[list[torch.Tensor], list[dict]]:
    net = _net()
    history = fit(net, _data(), _data(seed=1), config=_CONFIG, progress=False)
    return [p.detach().clone() for p in net.parameters()], _records(history)


@pytest.mark.parametrize("every", [None, 2])
def test_crash_at_every_step_then_resume_is_exact(tmp_path, reference, every, monkeypatch) -> None:
    """Crash after each of the 21 optimizer steps (7 per epoch), resume, compare bit for bit."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # hundreds of checkpoints; durability is not tested here
    weights, records = reference
    n_steps = 3 * 7
    for crash in range(1, n_steps + 1):
        folder = tmp_path / f"{every}-{crash}"
        with pytest.raises(_Crash):
            fit(
                _net(),
                _data(),
                _data(seed=1),
                config=_CONFIG,
                progress=False,
                checkpoint_dir=folder,
                checkpoint_every=every,
                step_hooks=[_crash_after(crash)],
            )
        resumed = _net(dtype=torch.float32)
        with torch.no_grad():  # the resumed network's own weights do not matter
            for p in resumed.parameters():
                p.fill_(123.0)
        has_checkpoint = (folder / CHECKPOINT_FILE).is_file()
        # written: after every `every`-th step (except epoch ends) and after each full epoch (7 steps)
        assert has_checkpoint == (crash > 7 or any(s % (every or n_steps + 1) == 0 for s in range(1, crash)))
        if not has_checkpoint:
            with pytest.raises(DamagedFileError, match=r"no checkpoint at .*start a new run without resume"):
                fit(resumed, _data(), _data(seed=1), config=_CONFIG, progress=False, checkpoint_dir=folder, resume=True)
            continue
        history = fit(
            resumed,
            _data(),
            _data(seed=1),
            config=_CONFIG,
            progress=False,
            checkpoint_dir=folder,
            checkpoint_every=every,
            resume=True,
        )
        assert all(torch.equal(p, q) for p, q in zip(weights, resumed.parameters())), crash
        assert _records(history) == records, crash


def test_resume_of_a_finished_run_changes_nothing_and_rewrites_outputs(tmp_path, reference) -> None:
    fit(_net(), _data(), _data(seed=1), config=_CONFIG, progress=False, out_dir=tmp_path)
    assert (tmp_path / "checkpoint" / CHECKPOINT_FILE).is_file()
    (tmp_path / "model.safetensors").unlink()
    net = _net()
    history = fit(net, _data(), _data(seed=1), config=_CONFIG, progress=False, out_dir=tmp_path, resume=True)
    assert _records(history) == reference[1]
    assert all(torch.equal(p, q) for p, q in zip(reference[0], net.parameters()))
    assert (tmp_path / "model.safetensors").is_file()


def test_callback_stop_is_remembered(tmp_path) -> None:
    def stop_at_2(record, model):
        return record.epoch == 2

    first = fit(_net(), _data(), config=_CONFIG, progress=False, checkpoint_dir=tmp_path, callbacks=[stop_at_2])
    again = fit(_net(), _data(), config=_CONFIG, progress=False, checkpoint_dir=tmp_path, resume=True)
    assert [r.epoch for r in first.records] == [r.epoch for r in again.records] == [1, 2]


def test_resume_with_other_settings_is_refused(tmp_path) -> None:
    fit(_net(), _data(), _data(seed=1), config=_CONFIG.replace(epochs=1), progress=False, checkpoint_dir=tmp_path)
    kwargs = {"progress": False, "checkpoint_dir": tmp_path, "resume": True}
    with pytest.raises(ConfigurationError, match=r"another run \(config\.epochs: 1 in the checkpoint, 3 now\)"):
        fit(_net(), _data(), _data(seed=1), config=_CONFIG, **kwargs)
    with pytest.raises(ConfigurationError, match=r"config\.lr: 0\.01 in the checkpoint, 0\.02 now"):
        fit(_net(), _data(), _data(seed=1), config=_CONFIG.replace(epochs=1, lr=0.02), **kwargs)
    with pytest.raises(ConfigurationError, match=r"train_data\.sha256: '[0-9a-f]{64}' in the checkpoint"):
        fit(_net(), _data(seed=5), _data(seed=1), config=_CONFIG.replace(epochs=1), **kwargs)
    with pytest.raises(ConfigurationError, match=r"validation_data: \{.*\} in the checkpoint, None now"):
        fit(_net(), _data(), None, config=_CONFIG.replace(epochs=1), **kwargs)
    with pytest.raises(ConfigurationError, match=r"model\.spec\.a: 0\.5 in the checkpoint, 0\.7 now"):
        net = NaturalQNN(layer_sizes=[6, 5, 5, 3], a=0.7, g=1.0, seed=0)
        fit(net, _data(), _data(seed=1), config=_CONFIG.replace(epochs=1), **kwargs)
    with pytest.raises(ConfigurationError, match=r"model\.dtype: 'float32' in the checkpoint, 'float64' now"):
        fit(_net(dtype=torch.float64), _data(), _data(seed=1), config=_CONFIG.replace(epochs=1), **kwargs)


def test_resume_needs_a_checkpoint_directory_and_valid_arguments(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match=r"resume=True needs the checkpoint directory"):
        fit(_net(), _data(), config=_CONFIG, progress=False, resume=True)
    with pytest.raises(ConfigurationError, match=r"checkpoint_every must be None or an int >= 1 .*got 0"):
        fit(_net(), _data(), config=_CONFIG, progress=False, checkpoint_dir=tmp_path, checkpoint_every=0)
    with pytest.raises(ConfigurationError, match=r"resume must be True or False, got 'yes'"):
        fit(_net(), _data(), config=_CONFIG, progress=False, checkpoint_dir=tmp_path, resume="yes")


def test_corrupt_edited_and_newer_checkpoints_are_refused(tmp_path) -> None:
    fit(_net(), _data(), config=_CONFIG.replace(epochs=1), progress=False, checkpoint_dir=tmp_path)
    path = tmp_path / CHECKPOINT_FILE
    good = path.read_bytes()
    kwargs = {"config": _CONFIG.replace(epochs=1), "progress": False, "checkpoint_dir": tmp_path, "resume": True}
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DamagedFileError, match=r"is corrupt: safetensors cannot read it"):
        fit(_net(), _data(), **kwargs)
    flipped = bytearray(good)
    flipped[-3] ^= 0x40  # a byte of tensor data
    path.write_bytes(bytes(flipped))
    with pytest.raises(DamagedFileError, match=r"SHA-256 digest does not match its contents"):
        fit(_net(), _data(), **kwargs)
    path.write_bytes(good)
    ckpt = read_checkpoint(tmp_path)
    write_checkpoint(tmp_path, ckpt.tensors, {**ckpt.state, "epochs_done": 7})  # a forged, well-digested file
    with pytest.raises(DamagedFileError, match=r"inconsistent: epochs_done must be an int in \[0, 1\], got 7"):
        fit(_net(), _data(), **kwargs)
    newer = good.replace(b'"format_version":"1"', b'"format_version":"2"')
    assert newer != good
    path.write_bytes(newer)
    with pytest.raises(DamagedFileError, match=r"newer qiskit-natural-qnn \(checkpoint format 2\).*upgrade"):
        fit(_net(), _data(), **kwargs)
    (tmp_path / f".{CHECKPOINT_FILE}.k2j4x_9q.tmp").write_bytes(b"half-written")
    path.write_bytes(good)
    fit(_net(), _data(), **kwargs)
    assert not list(tmp_path.glob("*.tmp"))  # a killed write's temporary file is cleaned up


# ----------------------------------------------------------------------------- a real process, SIGKILL
_SCRIPT = textwrap.dedent(
    """
    import sys, time, numpy as np, torch
    from qiskit_natural_qnn import NaturalQNN, TrainConfig, fit
    from qiskit_natural_qnn.data import Dataset

    def run(out, resume, pause):
        torch.set_num_threads(1)
        rng = np.random.default_rng(0)
        data = Dataset(rng.random((60, 8), dtype=np.float32), rng.integers(0, 3, 60), "toy")
        net = NaturalQNN(layer_sizes=[8, 6, 6, 3], a=0.6, g=1.1, seed=3)
        config = TrainConfig(epochs=3, batch_size=8, eval_shots=5, seed=11, schedule="cosine")
        fit(net, data, data, config=config, progress=False, out_dir=out, checkpoint_every=3, resume=resume,
            step_hooks=[lambda model: time.sleep(pause)])

    if __name__ == "__main__":
        run(sys.argv[1], sys.argv[2] == "resume", float(sys.argv[3]))
    """
)


def _run_here(out: Path, resume: bool) -> None:
    namespace: dict = {"__name__": "in_process"}
    exec(_SCRIPT, namespace)  # noqa: S102 - our own constant: the very code the killed process ran
    namespace["run"](str(out), resume, 0.0)


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(tmp_path) -> None:
    """Kill a training process (SIGKILL) after epoch 1, just after a mid-epoch checkpoint; resume; compare."""
    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    victim = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(killed_dir), "fresh", "0.05"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _run_here(clean_dir, resume=False)  # the uninterrupted run, meanwhile
    deadline = time.monotonic() + 150
    state = None
    while time.monotonic() < deadline and victim.poll() is None:
        try:
            state = read_checkpoint(killed_dir / "checkpoint").state
        except DamagedFileError:
            state = None
        if state is not None and state["epochs_done"] >= 1 and state["epoch_step"] > 0:
            break
        time.sleep(0.01)
    assert victim.poll() is None, victim.communicate()
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    victim.stdout.close()
    victim.stderr.close()
    assert victim.returncode == -signal.SIGKILL
    assert not (killed_dir / "model.safetensors").exists()  # it really died mid-run
    assert state is not None and state["epoch_step"] > 0  # 8 batches per epoch, checkpoints every 3 steps

    _run_here(killed_dir, resume=True)

    from qiskit_natural_qnn.io import load_model

    a, b = load_model(killed_dir / "model.safetensors"), load_model(clean_dir / "model.safetensors")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    ha, hb = (json.loads((d / "history.json").read_text()) for d in (killed_dir, clean_dir))
    for h in (ha, hb):
        for r in h["records"]:
            r.pop("seconds")
    assert ha == hb and len(ha["records"]) == 3
