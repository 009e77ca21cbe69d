"""Fuzzing model and checkpoint files: every damaged file is refused with DamagedFileError or loads validly.

Model files (:mod:`qiskit_natural_qnn.io`) carry no checksum, so a flipped bit in a weight gives
another valid model; the property is that loading never raises anything but
:class:`~qiskit_natural_qnn.exceptions.DamagedFileError` and never returns an inconsistent network.
Checkpoints carry a SHA-256 digest, so the stronger property holds: a damaged checkpoint is refused
unless the damage left its meaning intact (e.g. a changed padding byte).
"""

from __future__ import annotations

import json
import pickle
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as st_save

from qiskit_natural_qnn import DamagedFileError, NaturalQNN, TrainConfig, fit
from qiskit_natural_qnn.data import Dataset
from qiskit_natural_qnn.io import load_model, read_metadata, save_model
from qiskit_natural_qnn.training.checkpoint import CHECKPOINT_FILE, read_checkpoint

CASES: Counter = Counter()


@pytest.fixture(autouse=True, scope="module")
def _report():
    yield
    print(f"\n[fuzz] {__name__}: {sum(CASES.values())} cases {dict(CASES)}")


def _load_or_refuse(path: Path) -> NaturalQNN | None:
    """Load ``path``; None when refused with DamagedFileError; the loaded model is checked for consistency."""
    try:
        meta = read_metadata(path)
    except DamagedFileError:
        meta = None
    try:
        model = load_model(path)
    except DamagedFileError:
        return None
    assert meta is not None  # a loadable file has readable metadata
    assert model.layer_sizes == meta.layer_sizes and model.spec == meta.spec and model.bias == meta.bias
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    return model


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("models")
    nets = [
        NaturalQNN(layer_sizes=[4, 3, 3, 2], a=0.5, seed=1),
        NaturalQNN(layer_sizes=[3, 2, 2, 2], a=0.2, g=0.7, bias=True, seed=2, dtype=torch.float64),
    ]
    return [
        save_model(net, folder / f"{i}.safetensors", metadata={"epochs": 3}).read_bytes() for i, net in enumerate(nets)
    ]


def test_every_single_byte_mutation_of_a_model_file(tmp_path, model_files) -> None:
    """Each byte of two model files replaced (3 kinds of change in turn): DamagedFileError or a consistent model."""
    path = tmp_path / "m.safetensors"
    outcomes: Counter = Counter()
    for good in model_files:
        for i in range(len(good)):
            data = bytearray(good)
            data[i] = (good[i] ^ 0x01, good[i] ^ 0x80, 0x20 if good[i] != 0x20 else 0x7B)[i % 3]
            path.write_bytes(bytes(data))
            outcomes["loaded" if _load_or_refuse(path) is not None else "refused"] += 1
    CASES["model byte mutations"] += sum(outcomes.values())
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0  # both kinds occur: the check is not vacuous


def test_truncations_of_a_model_file_are_refused(tmp_path, model_files) -> None:
    path = tmp_path / "m.safetensors"
    for good in model_files:
        for n in range(0, len(good), 3):
            path.write_bytes(good[:n])
            with pytest.raises(DamagedFileError):
                load_model(path)
            CASES["model truncations"] += 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_edits_of_a_model_file(tmp_path, model_files, data) -> None:
    """Random splices: overwrite, insert or delete runs of random bytes, several times."""
    CASES["model random edits"] += 1
    buf = bytearray(data.draw(st.sampled_from(model_files)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(buf)))
        chunk = data.draw(st.binary(min_size=0, max_size=12))
        op = data.draw(st.sampled_from(["overwrite", "insert", "delete"]))
        if op == "overwrite":
            buf[at : at + len(chunk)] = chunk
        elif op == "insert":
            buf[at:at] = chunk
        else:
            del buf[at : at + len(chunk)]
    path = tmp_path / "m.safetensors"
    path.write_bytes(bytes(buf))
    _load_or_refuse(path)


_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.one_of(st.lists(st.integers(-1, 5), max_size=5), _JSONISH),
    spec=st.one_of(
        st.fixed_dictionaries(
            {
                "a": st.floats(-1, 2),
                "stretch": st.sampled_from(["tanh", "sgn", "x"]),
                "g": st.floats(-1, 2),
                "weak_update": st.sampled_from(["circuit", "y"]),
            }
        ),
        _JSONISH,
    ),
    bias=st.sampled_from(["true", "false", "True", "1", ""]),
    version=st.sampled_from(["1", "2", "0", "01", "1.0", "-1", "١"]),
    user=st.one_of(_JSONISH, st.just({"epochs": 3})),
)
def test_mismatched_model_metadata(tmp_path, sizes, spec, bias, version, user) -> None:
    """Metadata that may disagree with the tensors (2-3-2 weights): refused, or exactly as described."""
    CASES["model metadata mismatches"] += 1
    tensors = {"layers.0.weight": torch.ones(3, 2), "layers.1.weight": torch.ones(2, 3)}
    meta = {
        "format": "qiskit-natural-qnn",
        "format_version": version,
        "layer_sizes": json.dumps(sizes),
        "spec": json.dumps(spec),
        "bias": bias,
        "library_version": "x",
        "user": json.dumps(user),
    }
    path = tmp_path / "m.safetensors"
    path.write_bytes(st_save(tensors, metadata=meta))
    model = _load_or_refuse(path)
    if model is not None:
        assert version == "1" and bias == "false" and model.layer_sizes == (2, 3, 2) and sizes == [2, 3, 2]
        assert isinstance(user, dict) and read_metadata(path).user == user


class _Marker:
    """Unpickling this creates a file: proof that a loader ran code from the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_pickles_are_never_unpickled(tmp_path) -> None:
    marker = tmp_path / "code-ran"
    for name, payload in (("pickle", pickle.dumps(_Marker(marker))), ("torch", None)):
        path = tmp_path / f"{name}.safetensors"
        if payload is None:
            torch.save({"layers.0.weight": torch.ones(2, 2), "x": _Marker(marker)}, path)
        else:
            path.write_bytes(payload)
        with pytest.raises(DamagedFileError):
            load_model(path)
        with pytest.raises(DamagedFileError):
            read_checkpoint(path)
        assert not marker.exists()


# ------------------------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("ckpt")
    rng = np.random.default_rng(0)
    data = Dataset(rng.random((12, 3), dtype=np.float32), rng.integers(0, 2, 12), "toy")
    net = NaturalQNN(layer_sizes=[3, 2, 2], a=0.5, seed=0)
    fit(
        net,
        data,
        config=TrainConfig(epochs=2, batch_size=4, seed=0),
        progress=False,
        checkpoint_dir=folder,
        checkpoint_every=4,
    )  # the last checkpoint is at the end of epoch 2
    return (folder / CHECKPOINT_FILE).read_bytes()


def test_checkpoint_byte_mutations_are_refused_or_harmless(tmp_path, checkpoint_file) -> None:
    """Every 3rd header byte and every 61st data byte flipped: refused, or a checkpoint with the same content."""
    good = read_checkpoint_bytes(tmp_path, checkpoint_file)
    (header_len,) = struct.unpack("<Q", checkpoint_file[:8])
    positions = [*range(0, 8 + header_len, 3), *range(8 + header_len, len(checkpoint_file), 61)]
    outcomes: Counter = Counter()
    for i in positions:
        data = bytearray(checkpoint_file)
        data[i] ^= 0x01 if i % 2 else 0x40
        try:
            ckpt = read_checkpoint_bytes(tmp_path, bytes(data))
        except DamagedFileError:
            outcomes["refused"] += 1
            continue
        outcomes["same content"] += 1
        assert ckpt.state == good.state and ckpt.tensors.keys() == good.tensors.keys()
        assert all(torch.equal(ckpt.tensors[k], good.tensors[k]) for k in good.tensors)
    CASES["checkpoint byte mutations"] += sum(outcomes.values())
    assert outcomes["refused"] >= len(positions) - 8  # only bytes that do not change the meaning pass


def test_truncations_of_a_checkpoint_are_refused(tmp_path, checkpoint_file) -> None:
    for n in range(0, len(checkpoint_file), 53):
        with pytest.raises(DamagedFileError):
            read_checkpoint_bytes(tmp_path, checkpoint_file[:n])
        CASES["checkpoint truncations"] += 1


def read_checkpoint_bytes(folder: Path, data: bytes):
    (folder / CHECKPOINT_FILE).write_bytes(data)
    return read_checkpoint(folder)
